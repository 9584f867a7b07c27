/* Unit tests of the Bayes classifier (mk_bayes): the arithmetic against
 * values worked out by hand, the tokenizer, the store (idempotent,
 * reversible, expiring) and the milter's view of it (minimum counts,
 * reload after learning, per-user stores). */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mk_bayes.h"
#include "mk_config.h"
#include "mk_msg.h"
#include "mk_sa.h"
#include "mk_test.h"
#include "mk_uri.h"

static char *dir;

typedef struct parsed {
    mk_msgbuf *buf;
    mk_msg *msg;
    char *text;
} parsed;

static parsed parse(const char *message)
{
    char err[256];
    parsed p;
    p.buf = mk_msgbuf_new(1 << 20, "/tmp");
    assert_int_equal(mk_msgbuf_append(p.buf, message, strlen(message), err, sizeof(err)), 0);
    p.msg = mk_msg_parse(p.buf);
    assert_non_null(p.msg);
    p.text = mk_sa_body_text(p.msg, NULL);
    return p;
}

static void parsed_free(parsed *p)
{
    g_free(p->text);
    mk_msg_free(p->msg);
    mk_msgbuf_free(p->buf);
}

/* The tokens of a message, with their texts in names when asked. */
static void tokens_of(const char *message, mk_bayes_toks *t, GPtrArray *names)
{
    parsed p = parse(message);
    mk_uri_set links;
    mk_uri_set_init(&links, NULL, 100);
    mk_uri_scan_msg(&links, p.msg, NULL);
    mk_bayes_tokenize(p.msg, p.text, NULL, &links, NULL, t, names);
    mk_uri_set_clear(&links);
    parsed_free(&p);
}

static int has(GPtrArray *names, const char *tok)
{
    for (guint i = 0; i < names->len; i++)
        if (strcmp(names->pdata[i], tok) == 0)
            return 1;
    return 0;
}

/* Fisher's combining of the 150 strongest of tokens (spam[i], ham[i]) as
 * a plain full sort would take them: by strength, ties in token order. */
static double ref_prob(const uint32_t *spam, const uint32_t *ham, size_t n, long ns, long nh,
                       size_t *used)
{
    double *p = g_new(double, n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (spam[i] == 0 && ham[i] == 0)
            continue;
        double pr = mk_bayes_token_prob(spam[i], ham[i], ns, nh);
        if (fabs(pr - 0.5) >= 0.346)
            p[k++] = pr;
    }
    for (size_t i = 1; i < k; i++) /* insertion sort: stable */
        for (size_t j = i; j > 0 && fabs(p[j] - 0.5) > fabs(p[j - 1] - 0.5); j--) {
            double t = p[j];
            p[j] = p[j - 1], p[j - 1] = t;
        }
    k = MIN(k, (size_t)MK_BAYES_SIGNIFICANT);
    *used = k;
    double ln_p = 0.0, ln_q = 0.0;
    for (size_t i = 0; i < k; i++)
        ln_p += log(p[i]), ln_q += log1p(-p[i]);
    g_free(p);
    if (k == 0)
        return 0.5;
    return (1.0 + mk_bayes_chi2q(-2.0 * ln_p, 2 * (unsigned)k) -
            mk_bayes_chi2q(-2.0 * ln_q, 2 * (unsigned)k)) /
           2.0;
}

/* The 150 strongest tokens are found by selection, not a sort of all:
 * the same tokens, summed in the same order, as a full sort gives, ties
 * at the 150th place included (a token seen only in spam and one seen
 * only in ham as often are equally strong; which of them count moves the
 * result). */
static void test_strongest(void **state)
{
    (void)state;
    enum { N = 2000 };
    uint32_t *spam = g_new(uint32_t, N), *ham = g_new(uint32_t, N);
    size_t used, ref_used;
    /* 100 very strong, then 400 tied for the edge: spam-only and ham-only
     * by turns, so which 50 of them count decides the result */
    for (size_t i = 0; i < N; i++) {
        spam[i] = ham[i] = 0;
        if (i < 100)
            (i % 3 ? spam : ham)[i] = 40;
        else if (i < 500)
            (i % 2 ? spam : ham)[i] = 3;
        else
            spam[i] = 1 + i % 7, ham[i] = 1 + i % 5;
    }
    double got = mk_bayes_prob(spam, ham, N, 50, 50, &used),
           want = ref_prob(spam, ham, N, 50, 50, &ref_used);
    assert_int_equal(used, MK_BAYES_SIGNIFICANT);
    assert_int_equal(used, ref_used);
    assert_true(got == want);
    /* many random mixes, ties everywhere */
    GRand *rnd = g_rand_new_with_seed(5);
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t)g_rand_int_range(rnd, 0, N);
        for (size_t i = 0; i < n; i++)
            spam[i] = (uint32_t)g_rand_int_range(rnd, 0, 4),
            ham[i] = (uint32_t)g_rand_int_range(rnd, 0, 4);
        got = mk_bayes_prob(spam, ham, n, 30, 70, &used);
        want = ref_prob(spam, ham, n, 30, 70, &ref_used);
        assert_int_equal(used, ref_used);
        assert_true(got == want);
    }
    g_rand_free(rnd);
    g_free(spam);
    g_free(ham);
}

static void test_arithmetic(void **state)
{
    (void)state;
    /* chi2q(x, 2) = e^(-x/2); chi2q(x, 4) = e^(-x/2) (1 + x/2) */
    assert_true(fabs(mk_bayes_chi2q(0.0, 2) - 1.0) < 1e-12);
    assert_true(fabs(mk_bayes_chi2q(3.0, 2) - exp(-1.5)) < 1e-12);
    assert_true(fabs(mk_bayes_chi2q(4.0, 4) - 3.0 * exp(-2.0)) < 1e-12);
    assert_true(mk_bayes_chi2q(2000.0, 300) < 1e-100);
    /* Robinson: (s x + n p) / (s + n), s = 0.03, x = 0.538 */
    assert_true(fabs(mk_bayes_token_prob(1, 0, 10, 10) - (0.03 * 0.538 + 1.0) / 1.03) < 1e-12);
    assert_true(fabs(mk_bayes_token_prob(0, 1, 10, 10) - (0.03 * 0.538) / 1.03) < 1e-12);
    /* seen as often in both, relative to what was learned: 0.5 */
    assert_true(fabs(mk_bayes_token_prob(2, 20, 10, 100) - (0.03 * 0.538 + 22 * 0.5) / 22.03) <
                1e-12);
    uint32_t spam[200], ham[200];
    size_t used;
    for (int i = 0; i < 200; i++)
        spam[i] = 5, ham[i] = 0;
    assert_true(mk_bayes_prob(spam, ham, 200, 100, 100, &used) > 0.999);
    assert_int_equal(used, MK_BAYES_SIGNIFICANT);
    assert_true(mk_bayes_prob(ham, spam, 200, 100, 100, &used) < 0.001);
    /* tokens near 0.5 do not count; none left: 0.5 */
    for (int i = 0; i < 200; i++)
        spam[i] = 5, ham[i] = 5;
    assert_true(fabs(mk_bayes_prob(spam, ham, 200, 100, 100, &used) - 0.5) < 1e-12);
    assert_int_equal(used, 0);
    assert_true(fabs(mk_bayes_prob(spam, ham, 0, 100, 100, &used) - 0.5) < 1e-12);
    double score;
    assert_string_equal(mk_bayes_symbol(0.995, 1, &score), "BAYES_99");
    assert_true(score == 3.5);
    assert_string_equal(mk_bayes_symbol(0.0, 1, &score), "BAYES_00");
    assert_true(score == -1.9);
    assert_string_equal(mk_bayes_symbol(0.5, 1, &score), "BAYES_50");
    assert_string_equal(mk_bayes_symbol(0.97, 1, &score), "BAYES_95");
    assert_string_equal(mk_bayes_symbol(0.03, 1, &score), "BAYES_05");
    assert_string_equal(mk_bayes_symbol(0.995, 0, &score), "BAYES_99");
    assert_true(score == 3.8); /* without network tests */
}

static const char *const spammy =
    "Received: from relay.example (relay.example [192.0.2.7])\n"
    "\tby mx.example.net (Postfix) with ESMTP id 4Xb1Kq0y for <bob@example.net>;"
    " Tue, 3 Sep 2024 10:00:00 +0000\n"
    "From: \"Prize Dept\" <winner@prizes.example>\n"
    "To: bob@example.net\n"
    "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_CHEAP_Watches?=\n"
    "Message-ID: <abc123@mailer.prizes.example>\n"
    "X-Spam-Status: Yes, score=99\n"
    "Date: Tue, 3 Sep 2024 10:00:00 +0000\n"
    "\n"
    "Order now at www.shop.prizes.example... or write to sales@offers.example.com\n"
    "Supercalifragilisticexpialidocious deals! Money-back... great...offers\n"
    "the and for you\n"
    "Able YOUR Information it's wonderful yet through\n";

static void test_tokenizer(void **state)
{
    (void)state;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    mk_bayes_toks t;
    tokens_of(spammy, &t, names);
    /* body words, as written and lowercased; short and stop words dropped */
    assert_true(has(names, "Order"));
    assert_true(has(names, "order"));
    assert_true(has(names, "Money-back"));
    assert_true(has(names, "moneyback"));
    assert_false(has(names, "the"));
    assert_false(has(names, "you"));
    /* SpamAssassin's stop list, first and last entries, any case, whole
     * words: "yet" is not on it */
    assert_false(has(names, "Able"));
    assert_false(has(names, "YOUR"));
    assert_false(has(names, "Information"));
    assert_false(has(names, "it's"));
    assert_false(has(names, "through"));
    assert_true(has(names, "yet"));
    assert_true(has(names, "wonderful"));
    assert_true(has(names, "..."));
    /* the decoded Subject, in the body and as a header */
    assert_true(has(names, "Grüße"));
    assert_true(has(names, "Hsubject:CHEAP"));
    /* long words: "sk:" and 7 characters */
    assert_true(has(names, "sk:Superca"));
    /* domains and mail addresses */
    assert_true(has(names, "UD:www.shop.prizes.example"));
    assert_true(has(names, "UD:prizes.example"));
    assert_true(has(names, "U*sales"));
    assert_true(has(names, "D*offers.example.com"));
    assert_true(has(names, "D*example.com"));
    /* headers: names prefixed; Received by hosts and addresses, without
     * the ID, the recipient and the date; Message-ID by its domain */
    assert_true(has(names, "Hfrom:Prize"));
    assert_true(has(names, "HRcvd:relay.example"));
    assert_true(has(names, "ip*192.0.2.7"));
    assert_true(has(names, "ip*192.0.2"));
    assert_true(has(names, "ip*192.0"));
    assert_false(has(names, "HRcvd:4Xb1Kq0y"));
    assert_false(has(names, "HRcvd:<bob@example.net>"));
    assert_false(has(names, "HRcvd:2024"));
    assert_true(has(names, "Hmessage-id:mailer.prizes.example"));
    /* what filters add is not learned */
    for (guint i = 0; i < names->len; i++)
        assert_null(strstr(names->pdata[i], "score=99"));
    /* distinct and sorted */
    for (size_t i = 1; i < t.n; i++)
        assert_true(t.h[i - 1] < t.h[i]);
    assert_int_equal(mk_bayes_token_hash("Order") != mk_bayes_token_hash("order"), 1);
    mk_bayes_toks_clear(&t);
    g_ptr_array_free(names, TRUE);

    /* binary garbage and an empty body tokenize without harm */
    GString *junk = g_string_new("Subject: x\n\n");
    for (int i = 1; i < 4096; i++)
        g_string_append_c(junk, (char)(i * 37 % 255 + 1));
    tokens_of(junk->str, &t, NULL);
    mk_bayes_toks_clear(&t);
    g_string_free(junk, TRUE);
    tokens_of("Subject: \n\n", &t, NULL);
    mk_bayes_toks_clear(&t);
}

/* Text no one sees (SpamAssassin 4's invisible text): its words prefixed
 * "I*:" and out of the body words, which are those a reader sees. */
static void test_invisible(void **state)
{
    (void)state;
    static const char html[] =
        "Subject: offer\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n"
        "<html><body bgcolor=\"#ffffff\"><p>Buy Via<span style=\"display: none\">qzwx</span>gra "
        "today</p>\n"
        "<font color=\"#fefefe\">whiteonwhite</font> <font size=\"1\">tinyword</font>\n"
        "<div style=\"visibility:hidden\">ghostword <b>nested</b></div>\n"
        "<basefont size=\"2\"><font size=\"-1\">smallword</font><font size=\"+1\">readable</font>\n"
        "<font size=\"1\"><big>bigger</big></font>\n"
        "<div style=\"display:none\">shut <span style=\"display: block\">shownagain</span></div>\n"
        "</body></html>\n";
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    mk_bayes_toks t;
    tokens_of(html, &t, names);
    /* the word a reader sees, glued back; the filler apart */
    assert_true(has(names, "Viagra"));
    assert_true(has(names, "viagra"));
    assert_false(has(names, "Viaqzwxgra"));
    assert_true(has(names, "I*:qzwx"));
    assert_false(has(names, "qzwx"));
    assert_true(has(names, "today"));
    /* near-white on white, font size 1 (also -1 from a base font of 2),
     * visibility: hidden (and what it holds) */
    const char *hidden[] = {"whiteonwhite", "tinyword", "ghostword", "nested", "smallword", "shut"};
    for (size_t i = 0; i < G_N_ELEMENTS(hidden); i++) {
        char *inv = g_strconcat("I*:", hidden[i], NULL);
        assert_true(has(names, inv));
        assert_false(has(names, hidden[i]));
        g_free(inv);
    }
    /* seen: 2 + 1, 1 + 1, and a child's own display */
    assert_true(has(names, "readable"));
    assert_true(has(names, "bigger"));
    assert_true(has(names, "shownagain"));
    assert_false(has(names, "I*:readable"));
    mk_bayes_toks_clear(&t);
    g_ptr_array_free(names, TRUE);
}

static mk_config *config(const char *extra)
{
    char *text =
        g_strdup_printf("[general]\nstate_dir = %s\n[bayes]\nrefresh = 0s\n%s", dir, extra);
    char err[512];
    mk_config *cfg = mk_config_load_string(text, "test.conf", err, sizeof(err));
    g_free(text);
    assert_non_null(cfg);
    return cfg;
}

/* A message of n words from a vocabulary: "spamword<i>" or "hamword<i>". */
static char *message(const char *kind, int id)
{
    GString *m = g_string_new(NULL);
    g_string_append_printf(m, "Message-ID: <%s-%d@test>\nSubject: %s %d\n\n", kind, id, kind, id);
    for (int i = 0; i < 30; i++)
        g_string_append_printf(m, "%sword%d ", kind, (id + i) % 40);
    g_string_append(m, "\n");
    return g_string_free(m, FALSE);
}

static void learn(mk_bayes_db *db, const char *user, const char *msgtext, int cls, time_t now,
                  mk_bayes_outcome expect)
{
    parsed p = parse(msgtext);
    mk_bayes_toks t;
    mk_bayes_tokenize(p.msg, p.text, NULL, NULL, NULL, &t, NULL);
    char *id = mk_bayes_msgid(p.msg, p.text);
    mk_bayes_outcome o;
    char err[256];
    assert_int_equal(mk_bayes_db_learn(db, user, id, cls, &t, now, &o, err, sizeof(err)), 0);
    assert_int_equal(o, expect);
    g_free(id);
    mk_bayes_toks_clear(&t);
    parsed_free(&p);
}

static uint32_t count_of(mk_bayes_db *db, const char *user, const char *token, int spam)
{
    uint64_t h = mk_bayes_token_hash(token);
    mk_bayes_toks t = {&h, 1};
    uint32_t s, m;
    assert_int_equal(mk_bayes_db_counts(db, user, &t, &s, &m), 0);
    return spam ? s : m;
}

static void test_store(void **state)
{
    (void)state;
    mk_config *cfg = config("");
    char *path = mk_bayes_db_path(cfg);
    char *want = g_build_filename(dir, "bayes.db", NULL);
    assert_string_equal(path, want);
    g_free(want);
    char err[256];
    mk_bayes_db *db = mk_bayes_db_open(path, 1, err, sizeof(err));
    assert_non_null(db);
    long ns, nh;
    char *m = message("spam", 1);
    learn(db, "", m, MK_BAYES_SPAM, 100, MK_BAYES_LEARNED);
    assert_int_equal(count_of(db, "", "spamword1", 1), 1);
    /* twice: counted once */
    learn(db, "", m, MK_BAYES_SPAM, 101, MK_BAYES_ALREADY);
    assert_int_equal(count_of(db, "", "spamword1", 1), 1);
    assert_int_equal(mk_bayes_db_totals(db, "", &ns, &nh), 0);
    assert_int_equal(ns, 1);
    assert_int_equal(nh, 0);
    /* relearned as ham: moves over */
    learn(db, "", m, MK_BAYES_HAM, 102, MK_BAYES_MOVED);
    assert_int_equal(count_of(db, "", "spamword1", 1), 0);
    assert_int_equal(count_of(db, "", "spamword1", 0), 1);
    mk_bayes_db_totals(db, "", &ns, &nh);
    assert_int_equal(ns, 0);
    assert_int_equal(nh, 1);
    /* forgotten: gone, tokens and all */
    learn(db, "", m, MK_BAYES_FORGET, 103, MK_BAYES_FORGOTTEN);
    learn(db, "", m, MK_BAYES_FORGET, 103, MK_BAYES_UNKNOWN);
    assert_int_equal(mk_bayes_db_ntokens(db, ""), 0);
    mk_bayes_db_totals(db, "", &ns, &nh);
    assert_int_equal(ns + nh, 0);
    /* a user's store is apart from the global one */
    learn(db, "alice@example.net", m, MK_BAYES_SPAM, 104, MK_BAYES_LEARNED);
    assert_int_equal(count_of(db, "alice@example.net", "spamword1", 1), 1);
    assert_int_equal(count_of(db, "", "spamword1", 1), 0);
    assert_int_equal(count_of(db, "nobody", "spamword1", 1), 0);
    g_free(m);

    /* expiry: the tokens learned longest ago go first */
    long before = mk_bayes_db_ntokens(db, "alice@example.net");
    m = message("ham", 500); /* hamword0..39 minus overlap: new tokens, learned later */
    learn(db, "alice@example.net", m, MK_BAYES_HAM, 200, MK_BAYES_LEARNED);
    g_free(m);
    long total = mk_bayes_db_ntokens(db, "alice@example.net");
    assert_true(total > before);
    size_t removed;
    assert_int_equal(
        mk_bayes_db_expire(db, "alice@example.net", (size_t)total, &removed, err, sizeof(err)), 0);
    assert_int_equal(removed, 0);
    size_t max = (size_t)(total - before) + 2; /* keeps 3/4 of it: only new tokens stay */
    assert_int_equal(mk_bayes_db_expire(db, "alice@example.net", max, &removed, err, sizeof(err)),
                     0);
    assert_int_equal((long)removed, total - (long)(max / 4 * 3));
    assert_int_equal(count_of(db, "alice@example.net", "spamword1", 1), 0);
    assert_int_equal(count_of(db, "alice@example.net", "hamword25", 0), 1);
    mk_bayes_db_close(db);
    g_free(path);
    mk_config_free(cfg);
}

static int classify(mk_bayes *b, const char *user, const char *msgtext, double *prob)
{
    parsed p = parse(msgtext);
    mk_bayes_toks t;
    mk_bayes_tokenize(p.msg, p.text, NULL, NULL, NULL, &t, NULL);
    char why[200];
    int rc = mk_bayes_classify(b, user, &t, prob, why, sizeof(why));
    mk_bayes_toks_clear(&t);
    parsed_free(&p);
    return rc;
}

static void test_classify(void **state)
{
    (void)state;
    char *path = g_build_filename(dir, "bayes.db", NULL);
    g_unlink(path);
    mk_config *cfg = config("min_spam = 20\nmin_ham = 20\nper_user = yes\n");
    char err[256];
    /* no store yet: no vote, no error */
    mk_bayes *b = mk_bayes_new(cfg, err, sizeof(err));
    assert_non_null(b);
    double p;
    char *probe_spam = message("spam", 1000), *probe_ham = message("ham", 1000);
    assert_int_equal(classify(b, NULL, probe_spam, &p), 0);

    mk_bayes_db *db = mk_bayes_db_open(path, 1, err, sizeof(err));
    assert_non_null(db);
    for (int i = 0; i < 19; i++) {
        char *s = message("spam", i), *h = message("ham", i);
        learn(db, "", s, MK_BAYES_SPAM, 100, MK_BAYES_LEARNED);
        learn(db, "", h, MK_BAYES_HAM, 100, MK_BAYES_LEARNED);
        g_free(s);
        g_free(h);
    }
    /* the store appeared (refresh 0s): read, but too little learned */
    assert_int_equal(classify(b, NULL, probe_spam, &p), 0);
    char *s = message("spam", 19), *h = message("ham", 19);
    learn(db, "", s, MK_BAYES_SPAM, 100, MK_BAYES_LEARNED);
    learn(db, "", h, MK_BAYES_HAM, 100, MK_BAYES_LEARNED);
    g_free(s);
    g_free(h);
    /* reloaded after learning: votes */
    assert_int_equal(classify(b, NULL, probe_spam, &p), 1);
    assert_true(p > 0.99);
    assert_int_equal(classify(b, NULL, probe_ham, &p), 1);
    assert_true(p < 0.01);
    /* alice learned the other way round: her store decides for her once
     * it has enough, the global one before */
    for (int i = 0; i < 20; i++) {
        s = message("spam", i);
        h = message("ham", i);
        assert_int_equal(classify(b, "alice", probe_spam, &p), 1);
        assert_true(p > 0.99);
        learn(db, "alice", s, MK_BAYES_HAM, 100, MK_BAYES_LEARNED);
        learn(db, "alice", h, MK_BAYES_SPAM, 100, MK_BAYES_LEARNED);
        g_free(s);
        g_free(h);
    }
    assert_int_equal(classify(b, "alice", probe_spam, &p), 1);
    assert_true(p < 0.01);
    assert_int_equal(classify(b, "bob", probe_spam, &p), 1);
    assert_true(p > 0.99);
    mk_bayes_db_close(db);
    mk_bayes_free(b);
    g_free(probe_spam);
    g_free(probe_ham);
    mk_config_free(cfg);

    /* a file that is no store: a clear error */
    g_file_set_contents(path, "not a database, not at all, really not", -1, NULL);
    for (const char *const *sfx = (const char *const[]){"-wal", "-shm", NULL}; *sfx; sfx++) {
        char *side = g_strconcat(path, *sfx, NULL);
        g_unlink(side);
        g_free(side);
    }
    cfg = config("");
    assert_null(mk_bayes_new(cfg, err, sizeof(err)));
    assert_non_null(strstr(err, path));
    mk_config_free(cfg);
    g_free(path);
}

static int setup(void **state)
{
    dir = g_dir_make_tmp("mk-bayes-XXXXXX", NULL);
    return dir == NULL || mk_test_libs_up(state);
}

static int teardown(void **state)
{
    mk_test_store_dir_free(dir);
    dir = NULL;
    return mk_test_libs_down(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arithmetic), cmocka_unit_test(test_strongest),
        cmocka_unit_test(test_tokenizer),  cmocka_unit_test(test_invisible),
        cmocka_unit_test(test_store),      cmocka_unit_test(test_classify),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
