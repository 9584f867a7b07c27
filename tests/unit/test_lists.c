/* Unit tests of the friend and block lists (mk_lists): entries and scopes
 * normalized, one list per entry and scope, which entry decides, and that
 * lists and Bayes counts share one transaction. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "mk_lists.h"
#include "mk_test.h"

static char *dir;

static void test_entries(void **state)
{
    (void)state;
    char err[256];
    static const struct {
        const char *in, *want;
    } good[] = {
        {"Bob@Example.COM", "bob@example.com"},
        {" <bob@example.com> ", "bob@example.com"},
        {"@Example.org", "@example.org"},
        {"*@example.org", "@example.org"},
        {"jürgen@bücher.example", "jürgen@xn--bcher-kva.example"},
        {"anna@XN--BCHER-KVA.example", "anna@xn--bcher-kva.example"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        char *e = mk_lists_entry(good[i].in, err, sizeof(err));
        if (e == NULL)
            fail_msg("%s: %s", good[i].in, err);
        assert_string_equal(e, good[i].want);
        g_free(e);
    }
    static const char *const bad[] = {"",
                                      "bob",
                                      "bob@",
                                      "@",
                                      "bob smith@example.com",
                                      "bob@exa mple.com",
                                      "bob@localhost",
                                      "bob@example..com",
                                      "a\x01@example.com"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        err[0] = '\0';
        char *e = mk_lists_entry(bad[i], err, sizeof(err));
        if (e != NULL)
            fail_msg("'%s' accepted as %s", bad[i], e);
        assert_true(err[0] != '\0');
    }
    char *s = mk_lists_scope("", err, sizeof(err));
    assert_string_equal(s, "");
    g_free(s);
    s = mk_lists_scope("Alice@Example.ORG", err, sizeof(err));
    assert_string_equal(s, "alice@example.org");
    g_free(s);
    s = mk_lists_scope("vmail-user", err, sizeof(err));
    assert_string_equal(s, "vmail-user");
    g_free(s);
    assert_null(mk_lists_scope("../etc/passwd", err, sizeof(err)));
    assert_null(mk_lists_scope("two words", err, sizeof(err)));
}

/* A recipient's user: the tag after a delimiter is left out, the rest
 * normalized as scopes are. */
static void test_user_of_rcpt(void **state)
{
    struct {
        const char *rcpt, *delims, *user;
    } cases[] = {
        {"Alice+News@Example.ORG", "+", "alice@example.org"},
        {"alice-news@example.org", "+-", "alice@example.org"},
        {"alice+news@example.org", "", "alice+news@example.org"},
        {"+only@example.org", "+", "+only@example.org"}, /* no user before the tag: kept */
        {"alice@b\xc3\xbc"
         "cher.example",
         "+", "alice@xn--bcher-kva.example"},
        {"a+b+c@example.org", "+", "a@example.org"},
        {"vmailuser", "+", "vmailuser"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *user = mk_lists_user_of_rcpt(cases[i].rcpt, cases[i].delims);
        assert_non_null(user);
        assert_string_equal(user, cases[i].user);
        g_free(user);
    }
    assert_null(mk_lists_user_of_rcpt("bad@", "+"));
}

static void test_lists(void **state)
{
    (void)state;
    char *path = g_build_filename(dir, "learn.db", NULL);
    char err[256];
    mk_bayes_db *db = mk_bayes_db_open(path, 1, err, sizeof(err));
    assert_non_null(db);
    const char *alice = "alice@example.org";
    assert_int_equal(mk_lists_lookup(db, alice, "spammer@junk.example", NULL, 0), MK_LIST_NONE);
    /* block, then friend: one list at a time; again: no change */
    assert_int_equal(mk_lists_set(db, alice, "spammer@junk.example", MK_LIST_BLOCK, "learn", 1, err,
                                  sizeof(err)),
                     1);
    assert_int_equal(mk_lists_lookup(db, alice, "Spammer@JUNK.example", NULL, 0), MK_LIST_BLOCK);
    assert_int_equal(mk_lists_set(db, alice, "spammer@junk.example", MK_LIST_BLOCK, "learn", 2, err,
                                  sizeof(err)),
                     0);
    assert_int_equal(mk_lists_set(db, alice, "spammer@junk.example", MK_LIST_FRIEND, "learn", 3,
                                  err, sizeof(err)),
                     1);
    assert_int_equal(mk_lists_lookup(db, alice, "spammer@junk.example", NULL, 0), MK_LIST_FRIEND);
    /* bob, with no entry, is not affected */
    assert_int_equal(mk_lists_lookup(db, "bob@example.org", "spammer@junk.example", NULL, 0),
                     MK_LIST_NONE);
    /* which entry decides: the address before its domain before parents;
     * the user before the user's domain before everyone */
    assert_int_equal(
        mk_lists_set(db, "", "@bulk.example", MK_LIST_BLOCK, "manual", 4, err, sizeof(err)), 1);
    assert_int_equal(mk_lists_set(db, "@example.org", "news@mail.bulk.example", MK_LIST_FRIEND,
                                  "manual", 5, err, sizeof(err)),
                     1);
    char why[256];
    assert_int_equal(mk_lists_lookup(db, alice, "offers@mail.bulk.example", why, sizeof(why)),
                     MK_LIST_BLOCK);
    assert_string_equal(why, "(everyone) @bulk.example");
    assert_int_equal(mk_lists_lookup(db, alice, "news@mail.bulk.example", why, sizeof(why)),
                     MK_LIST_FRIEND);
    assert_string_equal(why, "@example.org news@mail.bulk.example");
    assert_int_equal(mk_lists_lookup(db, "carol@other.example", "news@mail.bulk.example", NULL, 0),
                     MK_LIST_BLOCK);
    assert_int_equal(
        mk_lists_set(db, alice, "@mail.bulk.example", MK_LIST_BLOCK, "manual", 6, err, sizeof(err)),
        1);
    assert_int_equal(mk_lists_lookup(db, alice, "news@mail.bulk.example", why, sizeof(why)),
                     MK_LIST_BLOCK);
    assert_string_equal(why, "alice@example.org @mail.bulk.example");
    /* removed */
    assert_int_equal(
        mk_lists_set(db, alice, "@mail.bulk.example", MK_LIST_NONE, NULL, 7, err, sizeof(err)), 1);
    assert_int_equal(
        mk_lists_set(db, alice, "@mail.bulk.example", MK_LIST_NONE, NULL, 8, err, sizeof(err)), 0);
    assert_int_equal(mk_lists_lookup(db, alice, "news@mail.bulk.example", NULL, 0), MK_LIST_FRIEND);
    /* a rolled-back transaction leaves no entry behind */
    assert_int_equal(mk_bayes_db_begin(db, err, sizeof(err)), 0);
    assert_int_equal(
        mk_lists_set(db, alice, "ghost@example.net", MK_LIST_BLOCK, "learn", 9, err, sizeof(err)),
        1);
    mk_bayes_db_rollback(db);
    assert_int_equal(mk_lists_lookup(db, alice, "ghost@example.net", NULL, 0), MK_LIST_NONE);
    /* a deep domain, nine entries: the user's entry for the last wins
     * over everyone's for an earlier one */
    const char *deep = "x@a.b.c.d.e.f.g.h.example"; /* 9 entries: @h.example the last */
    assert_int_equal(
        mk_lists_set(db, "", "@h.example", MK_LIST_BLOCK, "manual", 10, err, sizeof(err)), 1);
    assert_int_equal(mk_lists_lookup(db, alice, deep, why, sizeof(why)), MK_LIST_BLOCK);
    assert_string_equal(why, "(everyone) @h.example");
    assert_int_equal(mk_lists_set(db, "", "@b.c.d.e.f.g.h.example", MK_LIST_BLOCK, "manual", 11,
                                  err, sizeof(err)),
                     1);
    assert_int_equal(mk_lists_lookup(db, alice, deep, why, sizeof(why)), MK_LIST_BLOCK);
    assert_string_equal(why, "(everyone) @b.c.d.e.f.g.h.example");
    assert_int_equal(
        mk_lists_set(db, alice, "@h.example", MK_LIST_FRIEND, "manual", 12, err, sizeof(err)), 1);
    assert_int_equal(mk_lists_lookup(db, alice, deep, why, sizeof(why)), MK_LIST_FRIEND);
    assert_string_equal(why, "alice@example.org @h.example");
    /* garbage senders decide nothing */
    assert_int_equal(mk_lists_lookup(db, alice, "", NULL, 0), MK_LIST_NONE);
    assert_int_equal(mk_lists_lookup(db, alice, "not an address", NULL, 0), MK_LIST_NONE);
    mk_bayes_db_close(db);
    for (const char *const *sfx = (const char *const[]){"", "-wal", "-shm", NULL}; *sfx; sfx++) {
        char *p = g_strconcat(path, *sfx, NULL);
        g_unlink(p);
        g_free(p);
    }
    g_free(path);
}

static int setup(void **state)
{
    dir = g_dir_make_tmp("mk-lists-XXXXXX", NULL);
    return dir == NULL || mk_test_libs_up(state);
}

static int teardown(void **state)
{
    g_rmdir(dir);
    g_free(dir);
    return mk_test_libs_down(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_user_of_rcpt),
    };
    return cmocka_run_group_tests_name("lists", tests, setup, teardown);
}
