/* Unit tests of the pipeline core as an MTA drives it, with no MTA and no
 * network: header rebuilding, foreign X-Spam-* removal, several messages
 * per connection, abort, spill to disk, on_error. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "mk_archive.h"
#include "mk_bayes.h"
#include "mk_dns.h"
#include "mk_lists.h"
#include "mk_msg.h"
#include "mk_pipe.h"
#include "mk_test.h"
#include "mk_testmode.h"

#define GTUBE "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

/* SPF and DKIM are off: these tests ask no DNS server (RBL tests name an unused port). */
static mk_config *config(const char *text)
{
    char err[1024];
    char *full = g_strdup_printf(
        "[spf]\nenabled = no\n[dkim]\nenabled = no\n[dmarc]\nenabled = no\n%s", text);
    mk_config *cfg = mk_config_load_string(full, "test.conf", err, sizeof(err));
    g_free(full);
    if (cfg == NULL)
        print_error("%s\n", err);
    assert_non_null(cfg);
    return cfg;
}

/* A recipient the pipeline takes. */
static int rcpt(mk_pipe *p, const char *addr)
{
    mk_outcome o;
    int rc = mk_pipe_rcpt(p, addr, &o);
    assert_int_equal(o.action, MK_ACTION_ACCEPT);
    return rc;
}

static size_t count_edits(const mk_outcome *o, mk_edit_op op)
{
    size_t n = 0;
    for (size_t i = 0; i < o->n_edits; i++)
        n += o->edits[i].op == op;
    return n;
}

static const char *inserted(const mk_outcome *o, const char *name)
{
    for (size_t i = 0; i < o->n_edits; i++)
        if (o->edits[i].op == MK_EDIT_INSERT && strcmp(o->edits[i].name, name) == 0)
            return o->edits[i].value;
    return NULL;
}

static void test_clean_and_foreign(void **state)
{
    mk_config *cfg = config("[milter]\nauthserv_id = MX.Example\n");
    mk_app app;
    mk_app_init(&app, cfg);
    mk_pipe *p = mk_pipe_connect(&app, "client.example", "192.0.2.10");
    assert_non_null(p);
    assert_int_equal(mk_pipe_helo(p, "client.example"), 0);
    assert_int_equal(mk_pipe_mail(p, "<sender@example.org>"), 0);
    mk_pipe_set_qid(p, "ABC123");
    assert_string_equal(mk_pipe_qid(p), "ABC123");
    assert_int_equal(rcpt(p, "<alice@example.net>"), 0);
    assert_int_equal(mk_pipe_header(p, "From", " sender@example.org"), 0);
    assert_int_equal(mk_pipe_header(p, "X-Spam-Flag", " YES"), 0);
    assert_int_equal(mk_pipe_header(p, "Subject", " folded\r\n\tsubject"), 0);
    assert_int_equal(mk_pipe_header(p, "x-spam-flag", " YES"), 0);
    assert_int_equal(mk_pipe_header(p, "X-Spam-Status", " Yes, score=99"), 0);
    /* ours (forged), someone else's (kept), ours behind a comment (forged) */
    assert_int_equal(mk_pipe_header(p, "Authentication-Results", " mx.example; spf=pass"), 0);
    assert_int_equal(mk_pipe_header(p, "Authentication-Results", " relay.example; dkim=pass"), 0);
    assert_int_equal(
        mk_pipe_header(p, "authentication-results", " (forged) \"mx.example\"; dmarc=pass"), 0);
    assert_int_equal(mk_pipe_eoh(p), 0);
    assert_int_equal(mk_pipe_body(p, "hello\r\n", 7), 0);
    mk_outcome o;
    assert_int_equal(mk_pipe_eom(p, &o), 0);
    assert_int_equal(o.action, MK_ACTION_ACCEPT);
    assert_int_equal(o.error, 0);
    assert_null(o.rcode);
    /* Five foreign headers deleted, highest index of a name first; the
     * second Authentication-Results (relay.example) stays. */
    assert_int_equal(count_edits(&o, MK_EDIT_DELETE), 5);
    assert_int_equal(strcasecmp(o.edits[0].name, "Authentication-Results"), 0);
    assert_int_equal(o.edits[0].index, 3);
    assert_int_equal(o.edits[1].index, 1);
    assert_string_equal(o.edits[2].name, "X-Spam-Status");
    assert_int_equal(o.edits[2].index, 1);
    assert_int_equal(o.edits[3].index, 2);
    assert_int_equal(strcasecmp(o.edits[3].name, "X-Spam-Flag"), 0);
    assert_int_equal(o.edits[4].index, 1);
    assert_int_equal(count_edits(&o, MK_EDIT_INSERT), 4);
    assert_string_equal(inserted(&o, "Authentication-Results"), "MX.Example; none");
    assert_null(inserted(&o, "X-Spam-Flag"));
    assert_non_null(strstr(inserted(&o, "X-Spam-Status"), "No, score=0.0"));
    /* The last insert lands on top: Authentication-Results stands first. */
    assert_string_equal(o.edits[o.n_edits - 1].name, "Authentication-Results");
    mk_pipe_close(p);
    mk_config_free(cfg);
}

/* remove_foreign_headers = no keeps X-Spam-*, never a forged
 * Authentication-Results. */
static void test_keep_foreign_when_configured(void **state)
{
    mk_config *cfg = config(
        "[scoring]\nremove_foreign_headers = no\n[milter]\nauthserv_id = localhost.invalid\n");
    mk_app app;
    mk_app_init(&app, cfg);
    mk_pipe *p = mk_pipe_connect(&app, NULL, NULL);
    mk_pipe_mail(p, "<>");
    rcpt(p, "<a@b>");
    mk_pipe_header(p, "X-Spam-Flag", " YES");
    mk_pipe_header(p, "Authentication-Results", " localhost.invalid; spf=pass");
    mk_outcome o;
    assert_int_equal(mk_pipe_eom(p, &o), 0);
    assert_int_equal(count_edits(&o, MK_EDIT_DELETE), 1);
    assert_string_equal(o.edits[0].name, "Authentication-Results");
    mk_pipe_close(p);
    mk_config_free(cfg);
}

static void test_messages_per_connection(void **state)
{
    mk_config *cfg = config("");
    mk_app app;
    mk_app_init(&app, cfg);
    mk_pipe *p = mk_pipe_connect(&app, "h", "192.0.2.10");
    mk_outcome o;
    /* 1: GTUBE, rejected */
    mk_pipe_mail(p, "<s@example.org>");
    rcpt(p, "<r@example.net>");
    mk_pipe_header(p, "Subject", " one");
    mk_pipe_eoh(p);
    mk_pipe_body(p, GTUBE "\r\n", strlen(GTUBE) + 2);
    assert_int_equal(mk_pipe_eom(p, &o), 0);
    assert_int_equal(o.action, MK_ACTION_REJECT);
    assert_string_equal(o.rcode, "550");
    assert_string_equal(o.xcode, "5.7.1");
    assert_non_null(strstr(o.text, "GTUBE"));
    /* 2: aborted half-way (RSET) */
    mk_pipe_mail(p, "<s@example.org>");
    mk_pipe_header(p, "Subject", " two");
    mk_pipe_abort(p);
    assert_string_equal(mk_pipe_qid(p), "NOQUEUE");
    /* 3: clean; nothing of 1 or 2 carries over */
    mk_pipe_mail(p, "<s@example.org>");
    rcpt(p, "<r@example.net>");
    mk_pipe_header(p, "Subject", " three");
    mk_pipe_body(p, "clean\r\n", 7); /* no eoh: the body implies it */
    assert_int_equal(mk_pipe_eom(p, &o), 0);
    assert_int_equal(o.action, MK_ACTION_ACCEPT);
    assert_int_equal(o.results->n, 0);
    mk_pipe_close(p);
    mk_config_free(cfg);
}

static void test_spill_gtube_add_header(void **state)
{
    mk_config *cfg = config("[milter]\nmemory_limit = 1K\n");
    mk_app app;
    mk_app_init(&app, cfg);
    mk_pipe *p = mk_pipe_connect(&app, NULL, NULL);
    mk_pipe_mail(p, "<s@example.org>");
    rcpt(p, "<r@example.net>");
    mk_pipe_header(p, "Subject", " big");
    mk_pipe_eoh(p);
    for (int i = 0; i < 1000; i++)
        mk_pipe_body(p, "filler filler filler filler\r\n", 29);
    char line[128];
    snprintf(line, sizeof(line), "Y%s\r\n", GTUBE + 1);
    mk_pipe_body(p, line, strlen(line));
    mk_outcome o;
    assert_int_equal(mk_pipe_eom(p, &o), 0);
    assert_int_equal(o.action, MK_ACTION_ADD_HEADER);
    assert_string_equal(inserted(&o, "X-Spam-Flag"), "YES");
    assert_non_null(mk_results_find(o.results, "GTUBE_ADD_HEADER"));
    mk_pipe_close(p);
    mk_config_free(cfg);
}

static void test_on_error(void **state)
{
    mk_config *cfg = config("[milter]\nmemory_limit = 16\n[general]\ntmp_dir = /nonexistent\n");
    mk_app app;
    mk_app_init(&app, cfg);
    mk_pipe *p = mk_pipe_connect(&app, NULL, NULL);
    mk_pipe_mail(p, "<s@example.org>");
    /* The buffer cannot spill: the header call fails, the answer is on_error. */
    assert_int_equal(mk_pipe_header(p, "Subject", " a subject longer than sixteen bytes"), -1);
    mk_outcome o;
    mk_pipe_error_outcome(&app, &o);
    assert_int_equal(o.action, MK_ACTION_TEMPFAIL);
    assert_string_equal(o.rcode, "451");
    assert_true(o.error);
    mk_pipe_close(p);
    mk_config_free(cfg);

    cfg = config("[milter]\non_error = accept\n");
    mk_app_init(&app, cfg);
    mk_pipe_error_outcome(&app, &o);
    assert_int_equal(o.action, MK_ACTION_ACCEPT);
    assert_null(o.rcode);
    mk_config_free(cfg);
}

static void test_local_client_no_rbl_query(void **state)
{
    /* A block list is configured but the client is loopback and trusted
     * networks cover the other: no query, so no symbol, not even temperror
     * (the DNS server named does not exist). */
    mk_config *cfg = config("[general]\ndns_servers = 127.0.0.1:9\ndns_timeout = 200ms\n"
                            "trusted_networks = 198.51.100.0/24\n"
                            "[rbl:zen]\nzone = zen.test\n");
    mk_app app;
    mk_app_init(&app, cfg);
    const char *clients[] = {"127.0.0.1", "198.51.100.7", NULL};
    for (int i = 0; i < 3; i++) {
        mk_pipe *p = mk_pipe_connect(&app, "h", clients[i]);
        mk_pipe_mail(p, "<s@example.org>");
        rcpt(p, "<r@example.net>");
        mk_outcome o;
        assert_int_equal(mk_pipe_eom(p, &o), 0);
        assert_int_equal(o.results->n, 0);
        mk_pipe_close(p);
    }
    mk_config_free(cfg);
}

static void test_feed_like_mta(void **state)
{
    mk_config *cfg = config("");
    mk_app app;
    mk_app_init(&app, cfg);
    mk_pipe *p = mk_pipe_connect(&app, NULL, NULL);
    mk_pipe_mail(p, "<s@example.org>");
    const char *msg = "From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n"
                      "Subject: a\n"
                      " folded line\n"
                      "X-Spam-Flag: YES\n"
                      "not a header line\n"
                      "X-Spam-Flag: not a header, in the body\n";
    assert_int_equal(mk_testmode_feed(p, msg, strlen(msg)), 0);
    mk_outcome o;
    assert_int_equal(mk_pipe_eom(p, &o), 0);
    assert_int_equal(count_edits(&o, MK_EDIT_DELETE), 1);
    mk_pipe_close(p);
    mk_config_free(cfg);
}

/* ---- friend and block lists ---------------------------------------------- */

/* A learning store in a new directory, with lists: alice blocks
 * spammer@bad.example and everyone at junk.example, is a friend of
 * pal@friends.example; bob lists nobody; everyone at example.net blocks
 * @evil.example (a domain-wide list). Returns the directory (g_free). */
static char *lists_store(void)
{
    char *dir = g_dir_make_tmp("mk-test-lists-XXXXXX", NULL); /* mkdtemp's template */
    assert_non_null(dir);
    char *path = g_build_filename(dir, "bayes.db", NULL);
    char err[256];
    mk_bayes_db *db = mk_bayes_db_open(path, 1, err, sizeof(err));
    assert_non_null(db);
    struct {
        const char *scope, *entry;
        mk_list_kind kind;
    } rows[] = {
        {"alice@example.net", "spammer@bad.example", MK_LIST_BLOCK},
        {"alice@example.net", "@junk.example", MK_LIST_BLOCK},
        {"alice@example.net", "pal@friends.example", MK_LIST_FRIEND},
        {"@example.net", "@evil.example", MK_LIST_BLOCK},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(mk_lists_set(db, rows[i].scope, rows[i].entry, rows[i].kind, "test", 1,
                                      err, sizeof(err)),
                         1);
    mk_bayes_db_close(db);
    g_free(path);
    return dir;
}

/* An app whose configuration is extra plus the store in dir, reading its
 * lists; free with lists_app_free(). */
static void lists_app(mk_app *app, const char *dir, const char *extra)
{
    char *text =
        g_strdup_printf("[general]\nstate_dir = %s\n[bayes]\nenabled = no\n%s", dir, extra);
    mk_config *cfg = config(text);
    g_free(text);
    mk_app_init(app, cfg);
    app->lists = mk_lists_reader_new(cfg);
}

static void lists_app_free(mk_app *app)
{
    mk_lists_reader_free(app->lists);
    mk_config_free((mk_config *)app->cfg);
}

/* Sends one message: envelope from, recipients (each answer's action in
 * answers), From field, body; returns the outcome of end of message. */
static void lists_send(mk_pipe *p, const char *from, const char *const *rcpts, mk_action *answers,
                       const char *from_field, mk_outcome *o)
{
    assert_int_equal(mk_pipe_mail(p, from), 0);
    for (size_t i = 0; rcpts[i] != NULL; i++) {
        mk_outcome r;
        assert_int_equal(mk_pipe_rcpt(p, rcpts[i], &r), 0);
        answers[i] = r.action;
    }
    char *hdr = g_strconcat(" ", from_field, NULL);
    mk_pipe_header(p, "From", hdr);
    g_free(hdr);
    mk_pipe_header(p, "Subject", " hello");
    mk_pipe_body(p, "hello\r\n", 7);
    assert_int_equal(mk_pipe_eom(p, o), 0);
}

/* A sender on a recipient's block list is refused for that recipient at
 * RCPT (550 5.7.1); the other recipients take the message. */
static void test_lists_block_at_rcpt(void **state)
{
    char *dir = lists_store();
    mk_app app;
    lists_app(&app, dir, "");
    mk_pipe *p = mk_pipe_connect(&app, "h", "192.0.2.10");
    mk_outcome r;
    assert_int_equal(mk_pipe_mail(p, "<Spammer@BAD.example>"), 0);
    assert_int_equal(mk_pipe_rcpt(p, "<bob@example.org>", &r), 0);
    assert_int_equal(r.action, MK_ACTION_ACCEPT);
    assert_int_equal(mk_pipe_rcpt(p, "<Alice@Example.NET>", &r), 0);
    assert_int_equal(r.action, MK_ACTION_REJECT);
    /* alice's own lists decide for her tagged addresses (recipient_delimiter) */
    assert_int_equal(mk_pipe_rcpt(p, "<alice+lists@example.net>", &r), 0);
    assert_int_equal(r.action, MK_ACTION_REJECT);
    assert_string_equal(r.rcode, "550");
    assert_string_equal(r.xcode, "5.7.1");
    assert_non_null(strstr(r.text, "block list"));
    /* a domain on alice's list, and the list of everyone at example.net */
    assert_int_equal(mk_pipe_mail(p, "<x@sub.junk.example>"), 0);
    assert_int_equal(mk_pipe_rcpt(p, "<alice@example.net>", &r), 0);
    assert_int_equal(r.action, MK_ACTION_REJECT);
    assert_int_equal(mk_pipe_mail(p, "<x@evil.example>"), 0);
    assert_int_equal(mk_pipe_rcpt(p, "<carol@example.net>", &r), 0);
    assert_int_equal(r.action, MK_ACTION_REJECT);
    assert_int_equal(mk_pipe_rcpt(p, "<carol@example.org>", &r), 0);
    assert_int_equal(r.action, MK_ACTION_ACCEPT);
    mk_outcome o;
    assert_int_equal(mk_pipe_eom(p, &o), 0);
    assert_int_equal(o.action, MK_ACTION_ACCEPT);
    assert_null(mk_results_find(o.results, "USER_IN_BLOCKLIST"));
    mk_pipe_close(p);
    lists_app_free(&app);
    mk_test_store_dir_free(dir);
}

/* Recipients whose lists differ on the envelope sender come in separate
 * messages (452 4.5.3), unless split_recipients is off. */
static void test_lists_split(void **state)
{
    char *dir = lists_store();
    for (int split = 1; split >= 0; split--) {
        mk_app app;
        lists_app(&app, dir, split ? "" : "[lists]\nsplit_recipients = no\n");
        mk_pipe *p = mk_pipe_connect(&app, "h", "192.0.2.10");
        const char *rcpts[] = {"<alice@example.net>", "<bob@example.net>", "<ALICE@example.net>",
                               NULL};
        mk_action ans[3];
        mk_outcome o;
        lists_send(p, "<pal@friends.example>", rcpts, ans, "pal@friends.example", &o);
        assert_int_equal(ans[0], MK_ACTION_ACCEPT);
        assert_int_equal(ans[1], split ? MK_ACTION_TEMPFAIL : MK_ACTION_ACCEPT);
        assert_int_equal(ans[2], MK_ACTION_ACCEPT);
        /* split: all friends; not split: they disagree, so no list decides */
        assert_int_equal(mk_results_find(o.results, "USER_IN_WELCOMELIST") != NULL, split);
        mk_pipe_close(p);
        lists_app_free(&app);
    }
    mk_test_store_dir_free(dir);
}

/* A friend's message is not spam even when the score says so (skip), or
 * gets the friend score (score); the block list on the From field marks it
 * (block_action = spam) or refuses it (reject), when every recipient's
 * lists agree. */
static void test_lists_at_eom(void **state)
{
    char *dir = lists_store();
    /* every message scores spam: 0 >= -1 */
    const char *spammy = "[scoring]\nadd_header_score = -1\n";
    struct {
        const char *extra, *env_from, *from_field;
        const char *rcpts[3];
        mk_action action;
        const char *symbol;
        double score;
    } cases[] = {
        {"",
         "<pal@friends.example>",
         "Pal <pal@friends.example>",
         {"<alice@example.net>"},
         MK_ACTION_ACCEPT,
         "USER_IN_WELCOMELIST",
         0},
        {"[lists]\nfriend_action = score\nfriend_score = -50\n",
         "<bounce-1@esp.example>",
         "pal@friends.example",
         {"<alice@example.net>"},
         MK_ACTION_ACCEPT,
         "USER_IN_WELCOMELIST",
         -50},
        {"",
         "<someone@else.example>",
         "someone@else.example",
         {"<alice@example.net>"},
         MK_ACTION_ADD_HEADER,
         NULL,
         0},
        /* the envelope is clean, the From field is blocked: refused at end of message */
        {"",
         "<bounce-2@esp.example>",
         "spammer@bad.example",
         {"<alice@example.net>"},
         MK_ACTION_REJECT,
         "USER_IN_BLOCKLIST",
         0},
        /* block_action = spam: marked, never refused by the list's score */
        {"[scoring]\nadd_header_score = 5\n[lists]\nblock_action = spam\n",
         "<bounce-3@esp.example>",
         "spammer@bad.example",
         {"<alice@example.net>"},
         MK_ACTION_ADD_HEADER,
         "USER_IN_BLOCKLIST",
         0},
        /* block_action = report: the score alone decides */
        {"[scoring]\nadd_header_score = 5\n[lists]\nblock_action = report\nblock_score = 7\n",
         "<bounce-5@esp.example>",
         "spammer@bad.example",
         {"<alice@example.net>"},
         MK_ACTION_ADD_HEADER,
         "USER_IN_BLOCKLIST",
         7},
        /* alice blocks the From field, bob does not: one message, no list decides */
        {"[scoring]\nadd_header_score = 5\n",
         "<bounce-4@esp.example>",
         "spammer@bad.example",
         {"<alice@example.net>", "<bob@example.org>"},
         MK_ACTION_ACCEPT,
         NULL,
         0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *extra =
            g_strconcat(strstr(cases[i].extra, "[scoring]") ? "" : spammy, cases[i].extra, NULL);
        mk_app app;
        lists_app(&app, dir, extra);
        g_free(extra);
        mk_pipe *p = mk_pipe_connect(&app, "h", "192.0.2.10");
        mk_action ans[3];
        mk_outcome o;
        lists_send(p, cases[i].env_from, cases[i].rcpts, ans, cases[i].from_field, &o);
        if (o.action != cases[i].action)
            print_error("case %zu: action %s\n", i, mk_action_name(o.action));
        assert_int_equal(o.action, cases[i].action);
        const mk_symbol *sym = cases[i].symbol ? mk_results_find(o.results, cases[i].symbol) : NULL;
        assert_int_equal(sym != NULL, cases[i].symbol != NULL);
        assert_null(mk_results_find(o.results, cases[i].symbol ? "USER_IN_WELCOMELIST_FORGED"
                                                               : "USER_IN_WELCOMELIST"));
        if (sym != NULL)
            assert_true(sym->score == cases[i].score);
        if (o.action == MK_ACTION_REJECT) {
            assert_string_equal(o.rcode, "550");
            assert_non_null(strstr(o.text, "block list"));
        }
        mk_pipe_close(p);
        lists_app_free(&app);
    }
    mk_test_store_dir_free(dir);
}

/* ---- the archive copy ------------------------------------------------------ */

/* One message through the pipeline: client ip, SMTP AUTH name, envelope,
 * body; the outcome in o. */
static void archive_send(mk_app *app, const char *ip, const char *auth, const char *to,
                         const char *body, mk_outcome *o)
{
    mk_pipe *p = mk_pipe_connect(app, "h", ip);
    assert_int_equal(mk_pipe_mail(p, "<alice@example.org>"), 0);
    mk_pipe_set_auth(p, auth);
    assert_int_equal(rcpt(p, to), 0);
    mk_pipe_header(p, "From", " alice@example.org");
    mk_pipe_header(p, "Subject", " archived");
    mk_pipe_body(p, body, strlen(body));
    mk_pipe_eom(p, o);
    mk_pipe_close(p);
}

/* What the milter lets through is in the archive before the MTA hears the
 * answer, with its direction; what it refuses is not (unless [archive]
 * rejected); an archive that cannot keep it makes the answer tempfail. */
static void test_archive_copy(void **state)
{
    char *dir = g_dir_make_tmp("mk-test-archive-XXXXXX", NULL); /* mkdtemp's template */
    char *text = g_strdup_printf("[general]\nlocal_domains = example.org, example.net\n"
                                 "internal_networks = 10.0.0.0/8\n[archive]\nenabled = yes\n"
                                 "directory = %s\n",
                                 dir);
    mk_config *cfg = config(text);
    g_free(text);
    mk_app app;
    mk_app_init(&app, cfg);
    char err[256];
    app.archive = mk_archive_open(dir, 1, err, sizeof(err));
    assert_non_null(app.archive);
    struct {
        const char *ip, *auth, *rcpt, *direction;
    } cases[] = {
        {"192.0.2.10", NULL, "<bob@example.net>", "in"},
        {"192.0.2.10", "alice", "<eve@elsewhere.example>", "out"},
        {"10.1.2.3", NULL, "<bob@example.net>", "internal"},
        {"10.1.2.3", NULL, "<eve@elsewhere.example>", "out"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mk_outcome o;
        archive_send(&app, cases[i].ip, cases[i].auth, cases[i].rcpt, "hello\r\n", &o);
        assert_int_equal(o.action, MK_ACTION_ACCEPT);
        assert_int_equal(o.archived, (long long)i + 1);
        char *data;
        size_t len;
        assert_int_equal(mk_archive_get(app.archive, o.archived, &data, &len, err, sizeof(err)), 0);
        assert_non_null(strstr(data, "Subject: archived\r\n\r\nhello\r\n"));
        g_free(data);
        char *db = g_build_filename(dir, "index.db", NULL);
        sqlite3 *s;
        sqlite3_open(db, &s);
        sqlite3_stmt *q;
        sqlite3_prepare_v2(s,
                           "SELECT direction, rcpt FROM messages JOIN rcpts ON msg = id "
                           "WHERE id = ?1",
                           -1, &q, NULL);
        sqlite3_bind_int64(q, 1, o.archived);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(q, 0), cases[i].direction);
        assert_int_equal(strncmp((const char *)sqlite3_column_text(q, 1), cases[i].rcpt + 1,
                                 strlen(cases[i].rcpt) - 2),
                         0);
        sqlite3_finalize(q);
        sqlite3_close(s);
        g_free(db);
    }
    /* refused (GTUBE): not archived */
    mk_outcome o;
    archive_send(&app, "192.0.2.10", NULL, "<bob@example.net>", GTUBE "\r\n", &o);
    assert_int_equal(o.action, MK_ACTION_REJECT);
    assert_int_equal(o.archived, 0);
    /* the store cannot be written: tempfail, not a lost message */
    char *cmd = g_strdup_printf("chmod -R u+w '%s' && rm -rf '%s/store' && touch '%s/store'", dir,
                                dir, dir);
    assert_int_equal(system(cmd), 0);
    g_free(cmd);
    archive_send(&app, "192.0.2.10", NULL, "<bob@example.net>", "a new one\r\n", &o);
    assert_int_equal(o.action, MK_ACTION_TEMPFAIL);
    assert_string_equal(o.rcode, "451");
    mk_archive_close(app.archive);
    mk_config_free(cfg);
    cmd = g_strdup_printf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    g_free(cmd);
    g_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_and_foreign),
        cmocka_unit_test(test_keep_foreign_when_configured),
        cmocka_unit_test(test_messages_per_connection),
        cmocka_unit_test(test_spill_gtube_add_header),
        cmocka_unit_test(test_on_error),
        cmocka_unit_test(test_local_client_no_rbl_query),
        cmocka_unit_test(test_feed_like_mta),
        cmocka_unit_test(test_lists_block_at_rcpt),
        cmocka_unit_test(test_lists_split),
        cmocka_unit_test(test_lists_at_eom),
        cmocka_unit_test(test_archive_copy),
    };
    return cmocka_run_group_tests_name("pipe", tests, mk_test_libs_up, mk_test_libs_down);
}
