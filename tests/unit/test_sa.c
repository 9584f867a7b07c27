/* Unit tests of the content rules in SpamAssassin's syntax (mk_sa): the
 * loader (directives, conditionals, what is skipped and why) and the
 * evaluation over a parsed message. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "mk_html_dom.h"
#include "mk_msg.h"
#include "mk_sa.h"
#include "mk_uri.h"
#include "mk_sa_int.h"
#include "mk_test.h"

static char *dir;

static const char *const main_cf =
    "# a comment; patterns may hold an escaped \\# sign\n"
    "header   SUBJ_FREE     Subject =~ /\\bfree\\b/i\n"
    "describe SUBJ_FREE     Subject talks of free things\n"
    "score    SUBJ_FREE     2.5\n"
    "header   FROM_ADDR     From:addr =~ /\\@spam\\.example$/m\n"
    "score    FROM_ADDR     1.0 1.5 2.0 2.5\n"
    "header   FROM_NAME     From:name =~ /^Prize Dept$/m\n"
    "header   HAS_LIST      exists:List-Id\n"
    "header   NO_DATE       Date !~ /./ [if-unset: ]\n"
    "header   X_ABSENT_SET  X-Nothing =~ /^unset$/ [if-unset: unset]\n"
    "header   ALL_MAILER    ALL =~ /^X-Mailer: BulkSender/m\n"
    "header   TOCC_BOB      ToCc =~ /bob\\@/\n"
    "header   ENV_FROM      EnvelopeFrom =~ /^bounce\\@/\n"
    "header   SUBJ_Q_ENC    Subject:raw =~ /=\\?utf-8\\?/i\n"
    "header   SUBJ_DECODED  Subject =~ /Gr\\xc3\\xbc\\xc3\\x9fe/\n"
    "body     BODY_CLICK    /click here/i\n"
    "body     BODY_SPAN     /to win a prize today/\n"
    "body     BODY_HTML     /hidden offer inside/\n"
    "body     BODY_NO_TAGS  /<b>/\n"
    "rawbody  RAW_TAGS      /<b>hidden/\n"
    "full     FULL_RECEIVED /^Received: from relay\\.example/m\n"
    "uri      URI_SHORT     m{^https?://bit\\.ly/}i\n"
    "body     __WORD_MONEY  /money/i\n"
    "tflags   __WORD_MONEY  multiple maxhits=5\n"
    "meta     MONEY_TWICE   __WORD_MONEY >= 2\n"
    "meta     MONEY_MANY    __WORD_MONEY > 5\n"
    "meta     COMBO         (SUBJ_FREE && BODY_CLICK) || !HAS_LIST\n"
    "score    COMBO         0.5\n"
    "meta     COMBO_ARITH   SUBJ_FREE + BODY_CLICK + FROM_ADDR > 2\n"
    "meta     PREC_ORAND    SUBJ_FREE || HAS_LIST && 0\n"
    "meta     PREC_LEFT     3 - SUBJ_FREE - BODY_CLICK - 1 > 0\n"
    "body     NICE_RULE     /Regards/\n"
    "tflags   NICE_RULE     nice\n"
    "body     ZERO_RULE     /click/i\n"
    "score    ZERO_RULE     0\n"
    "include  more.rules\n"
    /* what is skipped, each for its reason */
    "header   EVAL_RULE     eval:check_for_faraway_charset()\n"
    "body     BAD_REGEX     /(unclosed/\n"
    "body     PERL_CODE     /a(?{ print 1 })b/\n"
    /* a name nowhere defined reads 0, as in SpamAssassin: this one runs */
    "meta     META_MISSING  SUBJ_FREE && NO_SUCH_RULE\n"
    "meta     META_UNDEF_NOT SUBJ_FREE && !NO_SUCH_RULE\n"
    "meta     META_EVAL     EVAL_RULE || SUBJ_FREE\n"
    "meta     LOOP_A        LOOP_B && SUBJ_FREE\n"
    "meta     LOOP_B        LOOP_A\n"
    "ifplugin Mail::SpamAssassin::Plugin::NoSuch\n"
    "body     IN_PLUGIN     /click/i\n"
    "endif\n"
    /* a plugin SpamAssassin does not load either: its rules read as not hit */
    "meta     META_ABSENT   SUBJ_FREE && !IN_PLUGIN\n"
    /* one SpamAssassin runs and mailkeeper lacks: the meta does not run */
    "ifplugin Mail::SpamAssassin::Plugin::ImageInfo\n"
    "body     IN_LACKED     /click/i\n"
    "endif\n"
    "meta     META_LACKED   SUBJ_FREE || IN_LACKED\n"
    /* the Content-* fields at the top are headers like the others */
    "header   CT_MULTI      Content-Type =~ /^multipart\\/alternative/\n"
    "header   ALL_ORDER     ALL =~ /^MIME-Version: 1\\.0\\nContent-Type: multipart/m\n"
    "header   FROM_ADDR_WS  From:addr =~ /\\s/\n"
    "if (version >= 3.004)\n"
    "body     IN_VERSION    /click/i\n"
    "else\n"
    "body     NOT_IN_VERSION /click/i\n"
    "endif\n"
    "if can(Mail::SpamAssassin::Conf::feature_bug6558_free)\n"
    "body     IN_FEATURE    /click/i\n"
    "endif\n"
    "if !plugin(Mail::SpamAssassin::Plugin::NoSuch)\n"
    "body     NOT_PLUGIN    /click/i\n"
    "endif\n"
    "if can(Mail::SpamAssassin::Conf::feature_capture_rules)\n"
    "body     CAPTURE_RULE  /click/i\n"
    "endif\n"
    "ifplugin Mail::SpamAssassin::Plugin::ReplaceTags\n"
    "replace_start <\n"
    "replace_end   >\n"
    "replace_tag   V  (?:[vu]|\\\\/)\n"
    "replace_tag   I  [il1|]\n"
    "replace_inter SP [\\s_-]*\n"
    "replace_post  P2 {1,2}\n"
    "body     FUZZY_VI      /<inter SP><post P2>\\b<V><I>agra\\b/i\n"
    "replace_rules FUZZY_VI\n"
    "endif\n"
    "ifplugin Mail::SpamAssassin::Plugin::MIMEHeader\n"
    "mimeheader MIME_HTML_PART Content-Type =~ /^text\\/html/\n"
    "mimeheader MIME_IMAGE     Content-Type =~ /^image\\//\n"
    "endif\n"
    "ifplugin Mail::SpamAssassin::Plugin::HeaderEval\n"
    "header   IN_HEADEREVAL Subject =~ /free/i\n"
    "header   HEADEREVAL_EVAL eval:check_for_forged_gw05_received_headers()\n"
    "endif\n"
    "required_score 5\n"
    "lang de describe SUBJ_FREE Betreff\n";

static const char *const more_rules = "body INCLUDED /click/i\nscore INCLUDED 0.1\n";

static const char *const message =
    "Received: from relay.example (relay.example [192.0.2.1])\r\n"
    "From: Prize Dept <winner@spam.example>\r\n"
    "To: alice@example.org\r\n"
    "CC: bob@example.org\r\n" /* (a rule's header name is read in any case) */
    "Subject: =?utf-8?q?Free_Gr=C3=BC=C3=9Fe?=\r\n"
    "X-Mailer: BulkSender 2.0\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=b\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "Click here\r\n"
    "to win a prize\r\n"
    "today. Money, money, money! Buy v-1agra.\r\n"
    "\r\n"
    "Regards\r\n"
    "--b\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p><b>hidden</b> offer inside <a href=\"https://bit.ly/x\">go</a></p>\r\n"
    "--b--\r\n";

static int setup(void **state)
{
    mk_msg_library_init();
    dir = g_dir_make_tmp("mk-sa-XXXXXX", NULL);
    char *p = g_build_filename(dir, "main.cf", NULL);
    g_file_set_contents(p, main_cf, -1, NULL);
    g_free(p);
    p = g_build_filename(dir, "more.rules", NULL);
    g_file_set_contents(p, more_rules, -1, NULL);
    g_free(p);
    return 0;
}

static int teardown(void **state)
{
    /* the rule files and the prefilter's cached databases */
    GDir *d = g_dir_open(dir, 0, NULL);
    for (const char *name; d != NULL && (name = g_dir_read_name(d)) != NULL;) {
        char *p = g_build_filename(dir, name, NULL);
        g_unlink(p);
        g_free(p);
    }
    if (d != NULL)
        g_dir_close(d);
    g_rmdir(dir);
    g_free(dir);
    mk_msg_library_cleanup();
    return 0;
}

static const mk_sa_hit *find(const mk_sa_hit *hits, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(hits[i].name, name) == 0)
            return &hits[i];
    return NULL;
}

static void test_load(void **state)
{
    char err[256];
    const char *paths[] = {dir};
    mk_sa_rules *rs = mk_sa_load(paths, 1, NULL, err, sizeof(err));
    assert_non_null(rs);
    const mk_sa_stats *st = mk_sa_stats_of(rs);
    assert_int_equal(st->files, 2); /* main.cf and the include; *.rules is not read by itself */
    assert_int_equal(st->skipped[MK_SA_SKIP_EVAL], 2);
    assert_int_equal(st->skipped[MK_SA_SKIP_REGEX], 2);
    assert_int_equal(st->skipped[MK_SA_SKIP_PLUGIN], 4); /* and CAPTURE_RULE, IN_LACKED */
    assert_int_equal(st->skipped[MK_SA_SKIP_META], 4);   /* on eval, the loop, on IN_LACKED */
    assert_int_equal(st->meta_undefined, 2);             /* META_MISSING, META_UNDEF_NOT */
    assert_int_equal(st->meta_absent, 3);                /* and META_ABSENT */
    assert_int_equal(st->skipped[MK_SA_SKIP_DISABLED], 1);
    assert_int_equal(st->other_directives, 2);
    /* the patterns and metas that read, less ZERO_RULE (score 0) */
    assert_int_equal(st->loaded, 40);
    assert_true(mk_sa_reads_full(rs));
    assert_true(mk_sa_reads_uris(rs));
    mk_sa_free(rs);
    const char *missing[] = {"/nonexistent/rules.cf"};
    assert_null(mk_sa_load(missing, 1, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/rules.cf"));
}

static void test_eval(void **state)
{
    char err[256];
    const char *paths[] = {dir};
    mk_sa_rules *rs = mk_sa_load(paths, 1, NULL, err, sizeof(err));
    assert_non_null(rs);
    mk_msgbuf *b = mk_msgbuf_new(1 << 20, "/tmp");
    assert_int_equal(mk_msgbuf_append(b, message, strlen(message), err, sizeof(err)), 0);
    mk_msg *msg = mk_msg_parse(b);
    assert_non_null(msg);
    const char *uris[] = {"https://bit.ly/x"};
    mk_sa_input in = {.msg = msg,
                      .envelope_from = "bounce@spam.example",
                      .full = message,
                      .full_len = strlen(message),
                      .uris = uris,
                      .n_uris = 1,
                      .network = 1};
    mk_sa_hit *hits = NULL;
    size_t n = 0, limited = 0;
    assert_int_equal(mk_sa_eval(rs, &in, &hits, &n, &limited), 0);
    static const char *const want[] = {
        "SUBJ_FREE",      "FROM_ADDR",   "FROM_NAME",     "NO_DATE",        "X_ABSENT_SET",
        "ALL_MAILER",     "TOCC_BOB",    "ENV_FROM",      "SUBJ_Q_ENC",     "SUBJ_DECODED",
        "BODY_CLICK",     "BODY_SPAN",   "BODY_HTML",     "RAW_TAGS",       "FULL_RECEIVED",
        "URI_SHORT",      "MONEY_TWICE", "COMBO",         "COMBO_ARITH",    "NICE_RULE",
        "INCLUDED",       "IN_VERSION",  "IN_FEATURE",    "NOT_PLUGIN",     "FUZZY_VI",
        "MIME_HTML_PART", "PREC_ORAND",  "IN_HEADEREVAL", "META_UNDEF_NOT", "META_ABSENT",
        "CT_MULTI",       "ALL_ORDER",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (find(hits, n, want[i]) == NULL) {
            print_error("%s did not hit\n", want[i]);
            fail();
        }
    static const char *const not_want[] = {
        "HAS_LIST",     "BODY_NO_TAGS", "MONEY_MANY",  "__WORD_MONEY", "ZERO_RULE",
        "IN_PLUGIN",    "EVAL_RULE",    "LOOP_A",      "MIME_IMAGE",   "PREC_LEFT",
        "META_MISSING", "META_LACKED",  "FROM_ADDR_WS"};
    for (size_t i = 0; i < sizeof(not_want) / sizeof(not_want[0]); i++)
        if (find(hits, n, not_want[i]) != NULL) {
            print_error("%s hit\n", not_want[i]);
            fail();
        }
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    assert_true(find(hits, n, "SUBJ_FREE")->score == 2.5);
    assert_string_equal(find(hits, n, "SUBJ_FREE")->describe, "Subject talks of free things");
    assert_true(find(hits, n, "FROM_ADDR")->score == 1.5); /* score set 1 of 4 */
    assert_true(find(hits, n, "BODY_CLICK")->score == 1.0);
    assert_true(find(hits, n, "NICE_RULE")->score == -1.0);
    assert_int_equal(limited, 0);
    g_free(hits);
    /* the other score sets: no network tests; Bayes voting, with and without */
    static const struct {
        int network, bayes;
        double score;
    } sets[] = {{0, 0, 1.0}, {0, 1, 2.0}, {1, 1, 2.5}};
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        in.network = sets[i].network;
        in.bayes_voted = sets[i].bayes;
        assert_int_equal(mk_sa_eval(rs, &in, &hits, &n, &limited), 0);
        assert_true(find(hits, n, "FROM_ADDR")->score == sets[i].score);
        assert_true(find(hits, n, "SUBJ_FREE")->score == 2.5);
        g_free(hits);
    }
    mk_msg_free(msg);
    mk_msgbuf_free(b);
    mk_sa_free(rs);
}

static void test_body_text(void **state)
{
    char err[256];
    mk_msgbuf *b = mk_msgbuf_new(1 << 20, "/tmp");
    assert_int_equal(mk_msgbuf_append(b, message, strlen(message), err, sizeof(err)), 0);
    mk_msg *msg = mk_msg_parse(b);
    char *text = mk_sa_body_text(msg, NULL);
    /* the decoded Subject first, paragraphs on lines of their own, lines
     * of a paragraph joined, HTML rendered */
    assert_non_null(strstr(text, "Free Gr\xc3\xbc\xc3\x9f"
                                 "e\n"));
    assert_non_null(
        strstr(text, "\nClick here to win a prize today. Money, money, money! Buy v-1agra.\n"));
    assert_non_null(strstr(text, "\nhidden offer inside go\n"));
    assert_null(strstr(text, "<b>"));
    /* the HTML parts read once (mk_html_doms) for the text and the links:
     * the same as each reading its own */
    GPtrArray *doms = mk_html_doms(msg);
    assert_int_equal(doms->len, msg->n_texts);
    assert_null(doms->pdata[0]); /* text/plain */
    assert_non_null(doms->pdata[1]);
    char *shared = mk_sa_body_text(msg, doms);
    assert_string_equal(shared, text);
    mk_uri_set own, through;
    mk_uri_set_init(&own, NULL, 10);
    mk_uri_set_init(&through, NULL, 10);
    mk_uri_scan_msg(&own, msg, NULL);
    mk_uri_scan_msg(&through, msg, doms);
    assert_int_equal(through.n, 1);
    assert_string_equal(through.hosts[0].name, "bit.ly");
    assert_int_equal(own.n, through.n);
    assert_int_equal(own.links, through.links);
    mk_uri_set_clear(&own);
    mk_uri_set_clear(&through);
    g_free(shared);
    g_ptr_array_unref(doms);
    g_free(text);
    mk_msg_free(msg);
    mk_msgbuf_free(b);
}

/* A pattern that backtracks without end stops at PCRE2's limits, counted,
 * and scores nothing (a line of 2000 bytes: SpamAssassin cuts body lines
 * at 2048, and (a+)+$ would match the end of a cut piece of a's). */
static void test_backtracking_bounded(void **state)
{
    char *p = g_build_filename(dir, "slow.rules", NULL);
    g_file_set_contents(p, "body SLOW /(a+)+$/\n", -1, NULL);
    char err[256];
    const char *paths[] = {p};
    mk_sa_rules *rs = mk_sa_load(paths, 1, NULL, err, sizeof(err));
    assert_non_null(rs);
    assert_false(mk_sa_reads_full(rs));
    assert_false(mk_sa_reads_uris(rs));
    GString *m = g_string_new("Subject: x\r\n\r\n");
    for (int i = 0; i < 2000; i++)
        g_string_append_c(m, 'a');
    g_string_append(m, "!\r\n");
    mk_msgbuf *b = mk_msgbuf_new(1 << 20, "/tmp");
    assert_int_equal(mk_msgbuf_append(b, m->str, m->len, err, sizeof(err)), 0);
    mk_msg *msg = mk_msg_parse(b);
    mk_sa_input in = {.msg = msg, .envelope_from = "", .full = m->str, .full_len = m->len};
    mk_sa_hit *hits = NULL;
    size_t n = 0, limited = 0;
    gint64 t0 = g_get_monotonic_time();
    assert_int_equal(mk_sa_eval(rs, &in, &hits, &n, &limited), 0);
    assert_true(g_get_monotonic_time() - t0 < 5 * G_USEC_PER_SEC);
    assert_int_equal(n, 0);
    assert_true(limited >= 1);
    g_free(hits);
    mk_msg_free(msg);
    mk_msgbuf_free(b);
    mk_sa_free(rs);
    g_string_free(m, TRUE);
    g_unlink(p);
    g_free(p);
}

/* The eval: tests mailkeeper has, each on a message that should hit it
 * and one that should not. */
static const char *const evals_cf =
    "body   SHORT_BODY   eval:check_body_length('64')\n"
    "body   UPPER_75     eval:check_for_uppercase('75', '100')\n"
    "body   HTML_ONLY    eval:check_for_mime_html_only()\n"
    "body   HAS_HTML     eval:check_for_mime_html()\n"
    "body   QP_PARTS     eval:check_for_mime('mime_qp_count')\n"
    "body   ATTACHED     eval:check_for_mime('mime_attachment')\n"
    "body   QP_LONG      eval:check_for_mime('mime_qp_long_line')\n"
    "body   BAD_ISO      eval:check_for_mime('mime_bad_iso_charset')\n"
    "body   FARAWAY      eval:check_for_mime('mime_faraway_charset')\n" /* a variant it lacks */
    "header TWO_SUBJECTS eval:check_header_count_range('Subject','2','999')\n"
    "header ENV_IS_FROM  eval:check_for_matching_env_and_hdr_from()\n"
    "header FROM_DIFF_DOM eval:check_equal_from_domains()\n"
    "header SUBJ_CAPS    eval:subject_is_all_caps()\n"
    "header DATE_FUTURE  eval:check_for_shifted_date('24', '48')\n"
    "header DATE_PAST    eval:check_for_shifted_date('undef', '-96')\n"
    "body   TAG_CENTER   eval:html_tag_exists('center')\n"
    "body   TAG_BODY     eval:html_tag_exists('body')\n"
    "body   TAG_SCRIPT   eval:html_tag_exists('script')\n"
    "body   BAD_ARGS     eval:check_body_length()\n"
    "header OE_MSGID     eval:check_outlook_message_id()\n";

static void eval_hits(const mk_sa_rules *rs, const char *text, const char *env_from,
                      const char *const *want, size_t n_want)
{
    char err[256];
    mk_msgbuf *b = mk_msgbuf_new(1 << 20, "/tmp");
    assert_int_equal(mk_msgbuf_append(b, text, strlen(text), err, sizeof(err)), 0);
    mk_msg *msg = mk_msg_parse(b);
    mk_sa_input in = {
        .msg = msg, .envelope_from = env_from, .full = text, .full_len = strlen(text)};
    mk_sa_hit *hits = NULL;
    size_t n = 0, limited = 0;
    assert_int_equal(mk_sa_eval(rs, &in, &hits, &n, &limited), 0);
    for (size_t i = 0; i < n; i++) {
        int wanted = 0;
        for (size_t k = 0; k < n_want; k++)
            wanted |= strcmp(hits[i].name, want[k]) == 0;
        if (!wanted) {
            print_error("%s hit\n", hits[i].name);
            fail();
        }
    }
    for (size_t k = 0; k < n_want; k++)
        if (find(hits, n, want[k]) == NULL) {
            print_error("%s did not hit\n", want[k]);
            fail();
        }
    g_free(hits);
    mk_msg_free(msg);
    mk_msgbuf_free(b);
}

/* Loads the rule text cf, written to dir/name; *path: g_free it. */
/* Loads cf, written to name in dir, with a cache directory (or NULL). */
static mk_sa_rules *load_cf_cached(const char *name, const char *cf, const char *cache, char **path)
{
    *path = g_build_filename(dir, name, NULL);
    g_file_set_contents(*path, cf, -1, NULL);
    char err[256];
    const char *paths[] = {*path};
    mk_sa_rules *rs = mk_sa_load(paths, 1, cache, err, sizeof(err));
    assert_non_null(rs);
    return rs;
}

static mk_sa_rules *load_cf(const char *name, const char *cf, char **path)
{
    return load_cf_cached(name, cf, NULL, path);
}

/* load_cf, with the prefilter on and its literal gates off: the
 * databases' own work (test_literal_gates tests the gates). */
static mk_sa_rules *load_cf_databases(const char *name, const char *cf, char **path)
{
    mk_sa_rules *rs = load_cf(name, cf, path);
    mk_sa_prefilter_literals(rs, 0);
    mk_sa_use_prefilter(rs, 1, NULL);
    return rs;
}

static void test_evals(void **state)
{
    (void)state;
    char *p;
    mk_sa_rules *rs = load_cf("evals.rules", evals_cf, &p);
    assert_int_equal(mk_sa_stats_of(rs)->skipped[MK_SA_SKIP_EVAL], 1);   /* FARAWAY */
    assert_int_equal(mk_sa_stats_of(rs)->skipped[MK_SA_SKIP_SYNTAX], 1); /* BAD_ARGS */
    assert_true(mk_sa_reads_full(rs));                                   /* check_body_length */
    /* hits: two days ahead of its Received time, HTML only, in capitals */
    static const char *const spam =
        "Received: from a.example by mx.example; Tue, 3 Sep 2024 10:00:00 +0000\n"
        "Received: from b.example by a.example; Tue, 3 Sep 2024 09:59:00 +0000\n"
        "Date: Thu, 4 Sep 2024 18:00:00 +0000\n"
        "From: Winner <win@prize.example>\n"
        "Message-ID: <000000000000$12345678$9abcdef0@prize.example>\n"
        "Subject: YOU HAVE WON A PRIZE\n"
        "Subject: second subject\n"
        "Content-Type: text/html\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "<center>CLAIM YOUR PRIZE NOW BY SENDING US YOUR BANK DETAILS AND WE WILL SEND THE MONEY "
        "RIGHT AWAY TO YOU, NO QUESTIONS ASKED, THIS OFFER IS ONLY VALID TODAY SO HURRY UP AND "
        "CALL US AT ONCE, WE ARE WAITING FOR YOU</center><!-- <script> -->\n";
    static const char *const spam_hits[] = {
        "UPPER_75",    "HTML_ONLY", "HAS_HTML",    "QP_PARTS",   "TWO_SUBJECTS", "QP_LONG",
        "ENV_IS_FROM", "SUBJ_CAPS", "DATE_FUTURE", "TAG_CENTER", "OE_MSGID"};
    eval_hits(rs, spam, "win@prize.example", spam_hits, sizeof(spam_hits) / sizeof(spam_hits[0]));
    /* hits nothing but the short body; dated long before its Received */
    static const char *const ham =
        "Received: from a.example by mx.example; Tue, 3 Sep 2024 10:00:00 +0000\n"
        "Date: Thu, 1 Aug 2024 10:00:00 +0000\n"
        "From: Bob <bob@example.net>\n"
        /* the time token of Tue, 3 Sep 2024 10:00:00, the Received time */
        "Message-ID: <000001dafde8$12345678$9abcdef0@example.net>\n"
        "Subject: Re: Re: the MINUTES\n"
        "Content-Type: multipart/alternative; boundary=b\n"
        "\n"
        "--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: text/html\n\n"
        "<html><body>hi <scripted></body></html>\n--b--\n";
    static const char *const ham_hits[] = {"HAS_HTML", "DATE_PAST", "TAG_BODY"};
    eval_hits(rs, ham, "other@example.net", ham_hits, sizeof(ham_hits) / sizeof(ham_hits[0]));
    /* From and envelope at other domains; subdomains of one are the same */
    static const char *const other = "From: a@mail.prize.example\nSubject: the minutes\n\n"
                                     "This is a longer text about nothing at all.\n";
    static const char *const other_hits[] = {"SHORT_BODY", "FROM_DIFF_DOM"};
    eval_hits(rs, other, "b@bounce.sender.example", other_hits, 2);
    eval_hits(rs, other, "b@bounce.prize.example", other_hits, 1);
    /* dates as SpamAssassin reads them: a four-digit year before 1970 is
     * 1970 (far in the past); "Sept 31" is October 1st; a zone name it
     * does not know counts as -0000 */
    static const char *const dates[][2] = {
        {"Sun, 22 Sep 0102 04:09:28 +1100", "DATE_PAST"},
        {"Tue, 31 Sep 2024 20:00:00 GMT", "DATE_FUTURE"}, /* Oct 1st: 34 h ahead */
        {"Tue, 1 Oct 2024 12:00 XYZ", "DATE_FUTURE"},     /* 26 h ahead; no seconds */
        {"Tue, 1 Oct 2024 12:00:00 NZDT", NULL},          /* 13 h ahead */
        {"Sun, 29 Sep 2024 10:00:00 +0000", NULL},        /* a day before */
        /* a zone name right after a letter is not one: U+00EA's last
         * byte, 0xaa, is a letter in Latin-1 (\b reads Unicode
         * properties, as GRegex made it read them), so 22:00 is UTC, 36 h
         * ahead (as NZDT it would be 23 h) */
        {"Tue, 1 Oct 2024 22:00:00 \xc3\xaaNZDT", "DATE_FUTURE"},
        {"Tue, 1 Oct 2024 22:00:00 NZDT", NULL},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(dates); i++) {
        char *m = g_strdup_printf("Received: from a.example by mx.example; Mon, 30 Sep 2024 "
                                  "10:00:00 +0000\nDate: %s\nSubject: the minutes\n\n"
                                  "A text long enough to be more than the short body rule "
                                  "asks for, as the minutes of a meeting would be.\n",
                                  dates[i][0]);
        const char *want[] = {dates[i][1]};
        eval_hits(rs, m, "", want, dates[i][1] != NULL);
        g_free(m);
    }
    /* an attachment in a charset of no known ISO standard */
    static const char *const att =
        "Subject: the minutes\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
        "Content-Type: text/plain\n\nThe minutes of the meeting are attached, as promised "
        "at the end of it.\n--b\nContent-Type: text/plain; charset=iso-2022-cn-ext\n"
        "Content-Disposition: attachment; filename=m.txt\n\nminutes\n--b--\n";
    static const char *const att_hits[] = {"ATTACHED", "BAD_ISO"};
    eval_hits(rs, att, "", att_hits, 2);
    static const char *const tiny = "Subject: x\n\nshort\n";
    static const char *const tiny_hits[] = {"SHORT_BODY"};
    eval_hits(rs, tiny, "", tiny_hits, 1);
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
}

/* A rule that scores nothing and that no rule that runs reads does not
 * run, however deep the chain of metas that leads to it */
static const char *const unread_cf = "body __WORD_A /alpha/\n"
                                     "body __WORD_D /delta/\n"
                                     "meta BOTH (__WORD_A && __WORD_D)\n"
                                     "body __WORD_B /beta/\n"
                                     "meta ZERO_META __WORD_B\n"
                                     "score ZERO_META 0\n"
                                     "body __WORD_C /gamma/\n"
                                     "meta __INNER __WORD_C\n"
                                     "meta OUTER __INNER\n"
                                     "body __LONE /omega/\n"
                                     "body __WORD_E /epsilon/\n"
                                     "meta __M2 __WORD_E\n"
                                     "meta __M1 __M2 || __LONE\n";

static void test_unread(void **state)
{
    (void)state;
    char *p;
    mk_sa_rules *rs = load_cf("unread.rules", unread_cf, &p);
    const mk_sa_stats *st = mk_sa_stats_of(rs);
    assert_int_equal(st->skipped[MK_SA_SKIP_DISABLED], 1); /* ZERO_META */
    /* __WORD_B (read by ZERO_META only), __LONE, __WORD_E, __M2, __M1 */
    assert_int_equal(st->unread, 5);
    assert_int_equal(st->loaded, 11);
    GHashTable *running = g_hash_table_new(g_str_hash, g_str_equal);
    for (size_t i = 0; mk_sa_rule_running(rs, i) != NULL; i++)
        g_hash_table_add(running, (gpointer)mk_sa_rule_running(rs, i));
    assert_int_equal(g_hash_table_size(running), 6);
    static const char *const runs[] = {"__WORD_A", "__WORD_D", "BOTH",
                                       "__WORD_C", "__INNER",  "OUTER"};
    for (size_t k = 0; k < sizeof(runs) / sizeof(runs[0]); k++)
        assert_true(g_hash_table_contains(running, runs[k]));
    g_hash_table_destroy(running);
    static const char *const hits[] = {"BOTH", "OUTER"};
    eval_hits(rs, "Subject: x\n\nalpha beta gamma delta epsilon omega\n", "", hits, 2);
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
}

/* A meta runs only when a rule it reads counted more than 0; else it
 * takes its value at all zeros. Right either way: metas true at zeros,
 * metas that read them, arithmetic, a chain of metas. */
static const char *const lazy_cf = "body __A /alpha/\n"
                                   "body __B /beta/\n"
                                   "body __C /gamma/\n"
                                   "meta NOT_A !__A\n"
                                   "meta NOT_NOT_A !NOT_A\n"
                                   "meta __NOT_B !__B\n"
                                   "meta DEEP_NOT_B __NOT_B && !__C\n"
                                   "meta FEW (__A + __B) < 1\n"
                                   "meta ONE_OF __A + __B == 1\n"
                                   "meta __D1 __B\n"
                                   "meta __D2 __D1 && __C\n"
                                   "meta D3 __D2 || 0\n";

static void test_meta_lazy(void **state)
{
    (void)state;
    char *p;
    mk_sa_rules *rs = load_cf("lazy.rules", lazy_cf, &p);
    static const char *const none[] = {"NOT_A", "DEEP_NOT_B", "FEW"};
    eval_hits(rs, "Subject: x\n\nnothing here\n", "", none, 3);
    static const char *const a[] = {"NOT_NOT_A", "DEEP_NOT_B", "ONE_OF"};
    eval_hits(rs, "Subject: x\n\nalpha\n", "", a, 3);
    static const char *const b[] = {"NOT_A", "ONE_OF"};
    eval_hits(rs, "Subject: x\n\nbeta\n", "", b, 2);
    static const char *const bc[] = {"NOT_A", "ONE_OF", "D3"};
    eval_hits(rs, "Subject: x\n\nbeta gamma\n", "", bc, 3);
    static const char *const c[] = {"NOT_A", "FEW"};
    eval_hits(rs, "Subject: x\n\ngamma\n", "", c, 2);
    static const char *const ab[] = {"NOT_NOT_A"};
    eval_hits(rs, "Subject: x\n\nalpha beta\n", "", ab, 1);
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
}

/* FreeMail's and VBounce's evals, with the settings of the rule files */
static const char *const freemail_cf =
    "util_rb_tld com net org example\n"
    "freemail_domains hotmail.com yahoo.* mail.example\n"
    "freemail_welcomelist boss@mail.example\n"
    "header FM_FROM       eval:check_freemail_from()\n"
    "header FM_FROM_DIGIT eval:check_freemail_from('\\d@')\n"
    "header FM_REPLYTO    eval:check_freemail_replyto('replyto')\n"
    "header FM_REPLY      eval:check_freemail_replyto('reply')\n"
    "header FM_HDR        eval:check_freemail_header('Reply-To')\n"
    /* a pattern argument compiles as the rule is read; one that does not
     * is never hit */
    "header FM_HDR_RE     eval:check_freemail_header('Reply-To', '^other@')\n"
    "header FM_HDR_NO     eval:check_freemail_header('Reply-To', '^john')\n"
    "header FM_BAD_RE     eval:check_freemail_from('(\\d@')\n"
    "body   FM_BODY       eval:check_freemail_body()\n"
    "body   VB_ANY        eval:have_any_bounce_relays()\n"
    "body   VB_OURS       eval:check_welcomelist_bounce_relays()\n"
    "welcomelist_bounce_relays relay?.ours.example\n";

static void test_freemail(void **state)
{
    (void)state;
    char *p;
    mk_sa_rules *rs = load_cf("freemail.rules", freemail_cf, &p);
    assert_int_equal(mk_sa_stats_of(rs)->loaded, 11);
    /* From and Reply-To are different free mail addresses; the body names
     * a third (and a welcomelisted one, and one in a link) */
    static const char *const fm = "From: John <john12@hotmail.com>\n"
                                  "Reply-To: other@yahoo.com\n"
                                  "Subject: hello\n\n"
                                  "write to jane@mail.example, boss@mail.example or see "
                                  "http://x.example/?to=j@hotmail.com\n";
    static const char *const fm_hits[] = {"FM_FROM", "FM_FROM_DIGIT", "FM_REPLYTO", "FM_REPLY",
                                          "FM_HDR",  "FM_HDR_RE",     "FM_BODY",    "VB_ANY"};
    eval_hits(rs, fm, "john12@hotmail.com", fm_hits, sizeof(fm_hits) / sizeof(fm_hits[0]));
    /* a list's bounce address: no reply checks; quoted and "wrote:"
     * addresses are not the body's */
    static const char *const list = "From: John <john@hotmail.com>\n"
                                    "Reply-To: other@yahoo.com\n"
                                    "Subject: hello\n\n"
                                    "<x@hotmail.com> said, and y@hotmail.com wrote: yes\n";
    static const char *const list_hits[] = {"FM_FROM", "FM_HDR", "FM_HDR_RE", "VB_ANY"};
    eval_hits(rs, list, "news-bounces@lists.example", list_hits, 4);
    /* not free mail; a bounce quoting a Received line of our relay */
    static const char *const bounce =
        "From: MAILER-DAEMON@mx.example\n"
        "Subject: Undelivered Mail\n\n"
        "> Received: from client.example by relay2.ours.example with ESMTP\n";
    static const char *const bounce_hits[] = {"VB_ANY", "VB_OURS"};
    eval_hits(rs, bounce, "", bounce_hits, 2);
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
}

/* The evals on the Received chain and the headers (RelayEval, WLBLEval,
 * HeaderEval, BodyEval's tvd_vertical_words). */
static const char *const relay_cf =
    "header ALL_TRUSTED   eval:check_all_trusted()\n"
    "header NO_RELAYS     eval:check_no_relays()\n"
    "header UNPARSEABLE   eval:check_relays_unparseable()\n"
    "header RP_MATCHES    eval:check_mailfrom_matches_rcvd()\n"
    "header NO_RCVD       eval:gated_through_received_hdr_remover()\n"
    "header MISSING_TO    eval:check_for_missing_to_header()\n"
    "header USER_IN_SUBJ  eval:check_for_to_in_subject('user')\n"
    "header SUBJ_ILLEGAL  eval:check_illegal_chars('Subject','0.00','2')\n"
    "header FAKE_AOL      eval:check_for_fake_aol_relay_in_rcvd()\n"
    "header RATWARE_ID    eval:check_ratware_name_id()\n"
    "body   SPACED_OUT    eval:tvd_vertical_words('90','101')\n"
    "body   NO_SPACES     eval:tvd_vertical_words('0','10')\n"
    "header RDNS_NONE     X-Spam-Relays-Untrusted =~ /^\\[ ip=\\S+ rdns= /\n"
    /* the first Received header past the trusted part is in both */
    "header UNTRUSTED_RCVD ALL-UNTRUSTED =~ /rly-xa01/\n"
    "header TRUSTED_RCVD  ALL-TRUSTED =~ /rly-xa01/\n"
    "header TRUSTED_HOP   ALL-TRUSTED =~ /^Received: from mail\\.sender/m\n"
    "header ENV_SENDER    EnvelopeFrom =~ /^bounce\\@sender\\.example$/\n";

static void test_relay_evals(void **state)
{
    (void)state;
    char *p;
    mk_sa_rules *rs = load_cf("relay.rules", relay_cf, &p);
    assert_int_equal(mk_sa_stats_of(rs)->skipped[MK_SA_SKIP_EVAL], 0);
    /* one trusted hop inside, then an untrusted one without a name, an
     * AOL-style relay name, illegal bytes in the Subject, the envelope
     * sender from Return-Path (no MTA said) */
    static const char *const spam =
        "Return-Path: <bounce@sender.example>\n"
        "Received: from mail.sender.example (unknown [192.0.2.7]) by mx.example.net (Postfix) "
        "with ESMTP id A1; Tue, 3 Sep 2024 10:00:00 +0000\n"
        "Received: from rly-xa01.example.org (x.example.org [192.0.2.8]) by mail.sender.example "
        "(8.12.6/8.12.6)"
        " with SMTP id h1; Tue, 3 Sep 2024 09:00:00 +0000\n"
        "From: \"Win\" <win@sender.example>\n"
        "To: alice@example.net\n"
        "Message-ID: <ABCDEFGHIJKLMNOPQRSTUVWXYZAB.win@sender.example>\n"
        "Subject: alice: \xff\xfe prize\n"
        "\n"
        "F R E E   M O N E Y   F O R   Y O U\n";
    static const char *const spam_hits[] = {"RDNS_NONE",   "UNTRUSTED_RCVD", "ENV_SENDER",
                                            "TRUSTED_HOP", "USER_IN_SUBJ",   "SUBJ_ILLEGAL",
                                            "FAKE_AOL",    "RATWARE_ID",     "SPACED_OUT"};
    eval_hits(rs, spam, NULL, spam_hits, sizeof(spam_hits) / sizeof(spam_hits[0]));
    /* handed over inside private networks only; the envelope sender's
     * domain is the last hop's */
    static const char *const ham =
        "Received: from mail.sender.example (mail.sender.example [10.0.0.7]) by mx.example.net "
        "(Postfix) with ESMTP id B2; Tue, 3 Sep 2024 10:00:00 +0000\n"
        "From: Bob <bob@sender.example>\n"
        "To: alice@example.net\n"
        "Subject: minutes\n"
        "\n"
        "the minutes of the meeting are attached\n";
    static const char *const ham_hits[] = {"ALL_TRUSTED", "RP_MATCHES", "TRUSTED_HOP"};
    eval_hits(rs, ham, "bob@sender.example", ham_hits, 3);
    /* no Received at all, no To; a Received of no known layout */
    static const char *const bare = "From: x@example.org\nSubject: hi\n\nhello there\n";
    static const char *const bare_hits[] = {"NO_RELAYS", "NO_RCVD", "MISSING_TO"};
    eval_hits(rs, bare, "", bare_hits, 3);
    static const char *const odd =
        "Received: from somewhere over the rainbow by mx.example.net with carrier pigeon\n"
        "To: a@example.org\nSubject: hi\n\nhelloworldwithoutanyspaces\n";
    static const char *const odd_hits[] = {"UNPARSEABLE", "NO_SPACES"};
    eval_hits(rs, odd, "", odd_hits, 2);
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
}

/* More of HeaderEval, RelayEval and MIMEEval: forged free mail hops,
 * HELO names, recipient lists, text that is not what it says */
static const char *const more_cf =
    "header HELO_IP      eval:helo_ip_mismatch()\n"
    "header DOTCOM_HELO  eval:check_for_no_rdns_dotcom_helo()\n"
    "header FORGED_YAHOO eval:check_for_forged_yahoo_received_headers()\n"
    "header SIMILAR      eval:similar_recipients('0.65','undef')\n"
    "header SORTED       eval:sorted_recipients()\n"
    "body   FAKE_ASCII   eval:check_for_ascii_text_illegal()\n"
    "body   UNICODE      eval:check_abundant_unicode_ratio('0.02')\n"
    "body   UNICODE_4    eval:check_abundant_unicode_ratio('0.0200')\n" /* not \d{0,3}\.\d{1,3} */
    "body   UNICODE_5    eval:check_abundant_unicode_ratio('5')\n"      /* no '.' */
    "body   ALT_DIFF     eval:multipart_alternative_difference('99', '100')\n"
    "body   ALT_COUNT    eval:multipart_alternative_difference_count('3', '1')\n"
    "body   ALT_HALF     eval:multipart_alternative_difference('49', '51')\n";

static void test_more_evals(void **state)
{
    (void)state;
    char *p;
    mk_sa_rules *rs = load_cf("more.rules", more_cf, &p);
    assert_int_equal(mk_sa_stats_of(rs)->loaded, 12);
    static const char *const spam =
        "Received: from hotmail.com (unknown [203.0.113.9]) by mx.example.net (Postfix) with SMTP "
        "id A1; Tue, 3 Sep 2024 10:00:00 +0000\n"
        "From: x@yahoo.com\n"
        "To: aa1@ex1.example, aa2@ex2.example, aa3@ex3.example, aa4@ex4.example\n"
        "Cc: aa5@ex5.example, aa6@ex6.example, aa7@ex7.example\n"
        "Subject: hi\n\n"
        "caf\xe9 &#x00E9;&#x00E9;&#x00E9; ok\n";
    static const char *const spam_hits[] = {"DOTCOM_HELO", "FORGED_YAHOO", "SIMILAR",
                                            "SORTED",      "FAKE_ASCII",   "UNICODE"};
    eval_hits(rs, spam, "", spam_hits, sizeof(spam_hits) / sizeof(spam_hits[0]));
    /* yahoo.com after a word boundary, in any case; not inside a word */
    char *other = g_strdup(spam);
    memcpy(strstr(other, "x@yahoo.com"), "x@yAHOO.COM", 11);
    eval_hits(rs, other, "", spam_hits, sizeof(spam_hits) / sizeof(spam_hits[0]));
    g_free(other);
    GString *inside = g_string_new(spam);
    g_string_replace(inside, "x@yahoo.com", "x@myyahoo.com", 1);
    static const char *const inside_hits[] = {"DOTCOM_HELO", "SIMILAR", "SORTED", "FAKE_ASCII",
                                              "UNICODE"};
    eval_hits(rs, inside->str, "", inside_hits, sizeof(inside_hits) / sizeof(inside_hits[0]));
    g_string_free(inside, TRUE);
    /* a HELO of another network's address; unsorted, unlike recipients;
     * 8-bit text in its own charset */
    static const char *const ham =
        "Received: from 203.0.113.50 (host.example.org [198.51.100.7]) by mx.example.net "
        "(Postfix) with ESMTP id B2; Tue, 3 Sep 2024 10:00:00 +0000\n"
        "From: bob@example.org\n"
        "To: zed@one.example, amy@two.example, kim@three.example, lou@four.example, "
        "bea@five.example, cy@six.example, al@seven.example\n"
        "Subject: hi\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        "caf\xc3\xa9\n";
    static const char *const ham_hits[] = {"HELO_IP"};
    eval_hits(rs, ham, "", ham_hits, 1);
    /* alternatives that say other things: every HTML word missing from the
     * text (hidden words not counted); the text's words three times as many */
    static const char *const alt =
        "Subject: hi\nContent-Type: multipart/alternative; boundary=b\n\n"
        "--b\nContent-Type: text/plain\n\nthe minutes of our meeting on tuesday are here\n"
        "--b\nContent-Type: text/html\n\n<p>cheap pills</p>"
        "<font color=\"#ffffff\">the minutes of our meeting</font>\n--b--\n";
    static const char *const alt_hits[] = {"ALT_DIFF", "ALT_COUNT"};
    eval_hits(rs, alt, "", alt_hits, 2);
    static const char *const same =
        "Subject: hi\nContent-Type: multipart/alternative; boundary=b\n\n"
        "--b\nContent-Type: text/plain\n\nthe minutes, as promised\n"
        "--b\nContent-Type: text/html\n\n<p>the minutes, as <b>promised</b></p>\n--b--\n";
    eval_hits(rs, same, "", NULL, 0);
    /* a word the HTML says more often than the text counts as missing: of
     * two, one (a word longer than any buffer on the stack is a word all
     * the same) */
    GString *longword = g_string_new(NULL);
    for (int i = 0; i < 300; i++)
        g_string_append_c(longword, (char)('a' + i % 26));
    char *twice = g_strdup_printf("Subject: hi\nContent-Type: multipart/alternative; boundary=b\n\n"
                                  "--b\nContent-Type: text/plain\n\nminutes %s\n"
                                  "--b\nContent-Type: text/html\n\n<p>minutes minutes %s</p>\n"
                                  "--b--\n",
                                  longword->str, longword->str);
    static const char *const twice_hits[] = {"ALT_HALF"};
    eval_hits(rs, twice, "", twice_hits, 1);
    g_free(twice);
    g_string_free(longword, TRUE);
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
}

/* The body text the body rules see of message m (len bytes); g_free it. */
static char *body_text_of(const char *m, size_t len)
{
    char err[256];
    mk_msgbuf *b = mk_msgbuf_new(1 << 20, "/tmp");
    assert_int_equal(mk_msgbuf_append(b, m, len, err, sizeof(err)), 0);
    mk_msg *msg = mk_msg_parse(b);
    char *text = mk_sa_body_text(msg, NULL);
    mk_msg_free(msg);
    mk_msgbuf_free(b);
    return text;
}

/* White space as SpamAssassin squeezes it in the body: a run with two
 * line ends or more ends a paragraph, any other run (tabs, form feeds,
 * vertical tabs, carriage returns) is one space. */
static void test_body_spaces(void **state)
{
    (void)state;
    static const char m[] = "Subject: s\n\n \ta\t\tb\f\vc \r\n \r\n\r\nd  e\n\nf\rg\n";
    char *text = body_text_of(m, strlen(m));
    assert_string_equal(text, "s\na b c\nd e\nf g\n\n");
    g_free(text);
}

/* A pattern JIT could not compile runs in PCRE2's interpreter: the
 * same hits, counted the same (multiple). */
static void test_no_jit(void **state)
{
    (void)state;
    char *p;
    mk_sa_rules *rs = load_cf("nojit.rules",
                              "body NJ_ONE /prize/\nbody NJ_MANY /money/i\n"
                              "tflags NJ_MANY multiple maxhits=3\n"
                              "meta NJ_TWO NJ_MANY == 2\n",
                              &p);
    for (size_t i = 0; i < rs->n; i++) {
        mk_sa_rule *r = &rs->r[i];
        if (r->re == NULL)
            continue;
        int err;
        PCRE2_SIZE off;
        pcre2_code *plain =
            pcre2_compile((PCRE2_SPTR)r->source, PCRE2_ZERO_TERMINATED, r->opts, &err, &off, NULL);
        assert_non_null(plain);
        size_t jit = 1;
        assert_int_equal(pcre2_pattern_info(plain, PCRE2_INFO_JITSIZE, &jit), 0);
        assert_int_equal(jit, 0);
        pcre2_code_free(r->re);
        r->re = plain;
    }
    static const char *const hits[] = {"NJ_ONE", "NJ_MANY", "NJ_TWO"};
    eval_hits(rs, "Subject: x\n\nwin a prize: money, MONEY\n", "", hits, 3);
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
}

/* A raw header value as the :raw rules see it: the wire's CRLF an LF,
 * any other CR kept. */
static void test_append_raw(void **state)
{
    (void)state;
    GString *out = g_string_new("x");
    mk_sa_append_raw(out, "a\r\n b\r\r\nc\rd\r");
    assert_string_equal(out->str, "xa\n b\r\nc\rd\r");
    mk_sa_append_raw(out, NULL);
    mk_sa_append_raw(out, "");
    assert_string_equal(out->str, "xa\n b\r\nc\rd\r");
    g_string_free(out, TRUE);
}

/* What SpamAssassin scans of a large part: the body rules its first
 * 50,000 bytes (on to the next line end), the rawbody rules its first
 * 500,000; body lines over 2048 bytes cut after a space (the filler's
 * lines are one paragraph), or at 2048. */
static void test_body_cut(void **state)
{
    (void)state;
    char *p;
    mk_sa_rules *rs = load_cf("cut.rules",
                              "body    B_EARLY /MARK-EARLY/\nbody B_LATE /MARK-LATE/\n"
                              "rawbody R_LATE  /MARK-LATE/\nrawbody R_LAST /MARK-LAST/\n"
                              "body    B_JOIN  /x{2049}/\nbody B_LONG /x{2048}/\n",
                              &p);
    GString *m = g_string_new("Subject: big\n\nMARK-EARLY\n");
    for (int i = 0; i < 5000; i++) /* no space: lines of 2048, 2048, 904 */
        g_string_append_c(m, 'x');
    g_string_append_c(m, '\n');
    while (m->len < 60000)
        g_string_append(m, "some words of filler text\n");
    g_string_append(m, "MARK-LATE\n");
    while (m->len < 600000)
        g_string_append(m, "some words of filler text\n");
    g_string_append(m, "MARK-LAST\n");
    static const char *const hits[] = {"B_EARLY", "R_LATE", "B_LONG"};
    eval_hits(rs, m->str, "", hits, 3);

    char *text = body_text_of(m->str, m->len);
    assert_in_range(strlen(text), 50000, 52000);
    char **lines = g_strsplit(text, "\n", -1);
    size_t longest = 0, n_x = 0;
    for (size_t i = 0; lines[i] != NULL; i++) {
        longest = MAX(longest, strlen(lines[i]));
        n_x += lines[i][0] == 'x';
    }
    assert_in_range(longest, 2040, 2049); /* a cut piece keeps its space */
    assert_int_equal(n_x, 3);
    g_strfreev(lines);
    g_free(text);
    g_string_free(m, TRUE);
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
}

/* Loads rules after a tag <WORD> of 3000 words (w0000 ... w2999), about
 * 18 KB of pattern each time it stands in one; *path: g_free it. */
static mk_sa_rules *load_with_words_cached(const char *name, const char *rules, const char *cache,
                                           char **path)
{
    GString *cf = g_string_new("replace_start <\nreplace_end >\nreplace_tag WORD (?:");
    for (int i = 0; i < 3000; i++)
        g_string_append_printf(cf, "%sw%04d", i ? "|" : "", i);
    g_string_append_printf(cf, ")\n%s", rules);
    mk_sa_rules *rs = load_cf_cached(name, cf->str, cache, path);
    g_string_free(cf, TRUE);
    return rs;
}

static mk_sa_rules *load_with_words(const char *name, const char *rules, char **path)
{
    return load_with_words_cached(name, rules, NULL, path);
}

/* Patterns past PCRE2's size with their tags expanded: tags inside tags
 * expand too, and a large group repeated {n} times compiles once, its
 * repeats called as a subroutine (the same matches). */
static void test_large_repeat(void **state)
{
    (void)state;
    char *p;
    mk_sa_rules *rs = load_with_words("large.rules",
                                      "replace_tag SEP [-, ]\nreplace_tag ITEM <WORD><SEP>?\n"
                                      "body BIG_FIVE  /(?:<ITEM>){5}/\n"
                                      "body BIG_RANGE /\\b(?:<ITEM>){2,4}end/\n"
                                      "body BIG_NOT   /(?:<ITEM>){6}/\n"
                                      "replace_rules BIG_FIVE BIG_RANGE BIG_NOT\n",
                                      &p);
    assert_int_equal(mk_sa_stats_of(rs)->skipped[MK_SA_SKIP_REGEX], 0);
    assert_int_equal(mk_sa_stats_of(rs)->loaded, 3);
    static const char *const msg = "Subject: x\n\nsee w0001,w2999 w0100-w0007 w1234 and "
                                   "w0005 w0006 end\n";
    static const char *const hits[] = {"BIG_FIVE", "BIG_RANGE"};
    eval_hits(rs, msg, "", hits, 2);
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
}

/* A pattern past PCRE2's size because one large group (a tag) stands in
 * it several times: the group is written once, in a DEFINE block, and
 * called where it stood (the same matches). One that sets options inline
 * stays skipped: moved out, the group would lose them. */
static void test_large_shared(void **state)
{
    (void)state;
    char *p;
    mk_sa_rules *rs = load_with_words("shared.rules",
                                      "body SHARED_FOUR /\\b<WORD>-<WORD>-(?:<WORD>|x)-<WORD>\\b/\n"
                                      "body SHARED_NOT  /<WORD>\\+<WORD>\\+<WORD>\\+<WORD>/\n"
                                      "body SHARED_OPT  /(?i)<WORD>-<WORD>-<WORD>-<WORD>/\n"
                                      "replace_rules SHARED_FOUR SHARED_NOT SHARED_OPT\n",
                                      &p);
    assert_int_equal(mk_sa_stats_of(rs)->skipped[MK_SA_SKIP_REGEX], 1);
    assert_int_equal(mk_sa_stats_of(rs)->loaded, 2);
    static const char *const hits[] = {"SHARED_FOUR"};
    eval_hits(rs, "Subject: x\n\nsee w0001-w2999-x-w0007 and w0001+w0002+w0003\n", "", hits, 1);
    eval_hits(rs, "Subject: x\n\nsee w0001-w2999-y-w0007, w12345-w0001-w0002-w0003\n", "", NULL, 0);
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
}

/* The form that compiled of a pattern too large as written is kept in
 * the cache directory and read back by the next load: a form planted in
 * the file is what the rule then runs. The file keeps the forms of the
 * last rules loaded only, and a damaged one is found again. */
static void test_large_cache(void **state)
{
    (void)state;
    char *cache = g_build_filename(dir, "rx-cache", NULL);
    char *file = g_build_filename(cache, "large-patterns", NULL);
    static const char *const rules =
        "body SHARED_FOUR /\\b<WORD>-<WORD>-(?:<WORD>|x)-<WORD>\\b/\nreplace_rules SHARED_FOUR\n";
    static const char *const words = "Subject: x\n\nsee w0001-w2999-x-w0007\n";
    static const char *const canary = "Subject: x\n\nsee canary-42\n";
    static const char *const hits[] = {"SHARED_FOUR"};
    char *p;
    mk_sa_rules *rs = load_with_words_cached("cached.rules", rules, cache, &p);
    eval_hits(rs, words, "", hits, 1);
    mk_sa_free(rs);
    g_free(p); /* loaded again below, at the same path */
    gchar *text = NULL;
    gsize len = 0;
    /* one record, "KEY LENGTH\nFORM\n", the form with its DEFINE block */
    assert_true(g_file_get_contents(file, &text, &len, NULL));
    assert_true(len > 66 && strspn(text, "0123456789abcdef") == 64 && text[64] == ' ');
    char *form = strchr(text, '\n') + 1;
    assert_int_equal(form + strtoul(text + 65, NULL, 10) + 1, text + len);
    assert_non_null(strstr(form, "(?(DEFINE)"));
    char *planted = g_strdup_printf("%.64s %zu\n%s\n", text, strlen("canary-\\d+"), "canary-\\d+");
    g_free(text);
    assert_true(g_file_set_contents(file, planted, -1, NULL));
    rs = load_with_words_cached("cached.rules", rules, cache, &p);
    eval_hits(rs, canary, "", hits, 1);
    eval_hits(rs, words, "", NULL, 0);
    mk_sa_free(rs);
    assert_true(g_file_get_contents(file, &text, NULL, NULL));
    assert_string_equal(text, planted); /* read, used, not written again */
    g_free(text);
    g_unlink(p);
    g_free(p);
    /* rules without a large pattern: the file goes */
    rs = load_cf_cached("small.rules", "body SMALL /abc/\n", cache, &p);
    mk_sa_free(rs);
    assert_false(g_file_test(file, G_FILE_TEST_EXISTS));
    g_unlink(p);
    g_free(p);
    /* a damaged file: the form is found again and the file written anew */
    assert_true(g_file_set_contents(file, "0123 garbage\n", -1, NULL));
    rs = load_with_words_cached("cached.rules", rules, cache, &p);
    eval_hits(rs, words, "", hits, 1);
    eval_hits(rs, canary, "", NULL, 0);
    mk_sa_free(rs);
    assert_true(g_file_get_contents(file, &text, NULL, NULL));
    assert_true(strspn(text, "0123456789abcdef") == 64);
    g_free(text);
    g_unlink(file);
    g_rmdir(cache);
    g_unlink(p);
    g_free(p);
    g_free(planted);
    g_free(file);
    g_free(cache);
}

/* HTMLEval on SpamAssassin's statistics of each HTML part. */
static const char *const html_cf =
    "body H_SHORT       eval:html_range('length', '0', '1024')\n"
    "body H_LONG        eval:html_eval('length', '> 1024')\n"
    "body H_BIG_FONT    eval:html_range('max_size', '5', 'inf')\n"
    "body H_EXTRA_CLOSE eval:html_range('closed_extra_ratio', '0.09', 'inf')\n"
    "body H_BAD_TAGS    eval:html_range('bad_tag_ratio', '0.1', '1.0')\n"
    "body H_OBFU        eval:html_range('obfuscation_ratio', '0.05', '1.0')\n"
    "body H_BODY_OPEN   eval:html_tag_balance('body', '!= 0')\n"
    "body H_HTML        eval:html_test('html')\n"
    "body H_MAILTO_FORM eval:html_test('form_action_mailto')\n"
    "body H_EMBEDS      eval:html_test('embeds')\n"
    "body H_COMMENT     eval:html_text_match('comment', '<!(?!-).{0,6}>')\n"
    "body H_TITLE_LONG  eval:html_title_subject_ratio('3.5')\n"
    "body H_LINK_IMG    eval:html_text_match('anchor', '<img>')\n"
    "body H_IMG_ONLY    eval:html_image_only('0', '400')\n"
    "body H_IMG_RATIO   eval:html_image_ratio('0.000', '0.002')\n"
    "body H_FONT_FACE   eval:html_test('font_face_bad')\n"
    "body H_LOW_CONTRAST eval:html_test('font_low_contrast')\n"
    "body H_BAD_COLOR   eval:html_test('font_invalid_color')\n";

static void test_html_evals(void **state)
{
    (void)state;
    char *p;
    mk_sa_rules *rs = load_cf("html.rules", html_cf, &p);
    assert_int_equal(mk_sa_stats_of(rs)->skipped[MK_SA_SKIP_EVAL], 0);
    assert_int_equal(mk_sa_stats_of(rs)->skipped[MK_SA_SKIP_SYNTAX], 0);
    /* an image link and no text: short, image only, all picture */
    static const char *const img =
        "Subject: look at this offer\nContent-Type: text/html\n\n"
        "<html><body><a href=\"http://x.example/\"><img src=\"cid:1\" width=\"600\" "
        "height=\"400\">Click</a></body></html>\n";
    static const char *const img_hits[] = {"H_SHORT", "H_HTML", "H_LINK_IMG", "H_IMG_ONLY",
                                           "H_IMG_RATIO"};
    eval_hits(rs, img, "", img_hits, G_N_ELEMENTS(img_hits));
    /* words split by tags, made-up tags, an extra close, a big font, a
     * mailto form, an embed, a short comment, a long title, an odd font
     * face, and a body never closed */
    static const char *const tricks =
        "Subject: hi\nContent-Type: text/html\n\n"
        "<html><head><title>A title far longer than the subject line is</title></head><body>"
        "<!x><font size=\"+4\" face=\"@#!\">V<b></b>ia<zz>g</zz>ra</font></i></u>"
        "<form action=\"mailto:a@example.org\"></form><embed src=\"x\"><p>buy now</p>"
        "</html>\n";
    static const char *const tricks_hits[] = {
        "H_SHORT", "H_BIG_FONT",    "H_EXTRA_CLOSE", "H_BAD_TAGS", "H_OBFU",       "H_BODY_OPEN",
        "H_HTML",  "H_MAILTO_FORM", "H_EMBEDS",      "H_COMMENT",  "H_TITLE_LONG", "H_FONT_FACE"};
    eval_hits(rs, tricks, "", tricks_hits, G_N_ELEMENTS(tricks_hits));
    /* a long, well-formed letter; and plain text: no HTML at all */
    GString *letter = g_string_new("Subject: minutes of the meeting\nContent-Type: text/html\n\n"
                                   "<html><body>");
    for (int i = 0; i < 40; i++)
        g_string_append(letter, "<p>The minutes of the meeting are attached for you.</p>\n");
    g_string_append(letter, "</body></html>\n");
    static const char *const letter_hits[] = {"H_LONG", "H_HTML"};
    eval_hits(rs, letter->str, "", letter_hits, 2);
    g_string_free(letter, TRUE);
    eval_hits(rs, "Subject: x\n\nplain text\n", "", NULL, 0);
    /* colours: near-white words on white; black on a cell's black CSS
     * background; a colour no browser reads; a pale font left empty */
    static const char *const colours[] = {
        "<p>see</p><font color=\"#fefefe\">hidden words</font>",
        "<table><tr><td style=\"background: url(x.png) #000\"><font color=black>t</font></td></tr>"
        "</table>",
        "<span style=\"color: zzz\">text</span>",
        "<font color=\"#fefefe\"></font><div style=\"color: rgb(0, 0, 255)\">plain blue</div>",
    };
    static const char *const colour_hits[][3] = {{"H_SHORT", "H_HTML", "H_LOW_CONTRAST"},
                                                 {"H_SHORT", "H_HTML", "H_LOW_CONTRAST"},
                                                 {"H_SHORT", "H_HTML", "H_BAD_COLOR"},
                                                 {"H_SHORT", "H_HTML", NULL}};
    for (size_t i = 0; i < G_N_ELEMENTS(colours); i++) {
        char *m = g_strdup_printf("Subject: hi\nContent-Type: text/html\n\n<html><body>%s"
                                  "</body></html>\n",
                                  colours[i]);
        eval_hits(rs, m, "", colour_hits[i], colour_hits[i][2] != NULL ? 3 : 2);
        g_free(m);
    }
    /* every element of HTML 4.01 and XHTML 1.0 and those in common use
     * counts as one (none a bad tag); the tricks rendered but not valid
     * (bgsound, embed, listing, plaintext, xmp) do not */
    static const char *const elements[] = {
        "a",      "abbr",     "acronym",  "address",  "applet",     "area",     "b",
        "base",   "basefont", "bdo",      "big",      "blockquote", "body",     "br",
        "button", "caption",  "center",   "cite",     "code",       "col",      "colgroup",
        "dd",     "del",      "dfn",      "dir",      "div",        "dl",       "dt",
        "em",     "fieldset", "font",     "form",     "frame",      "frameset", "h1",
        "h2",     "h3",       "h4",       "h5",       "h6",         "head",     "hr",
        "html",   "i",        "iframe",   "img",      "input",      "ins",      "isindex",
        "kbd",    "label",    "legend",   "li",       "link",       "map",      "menu",
        "meta",   "nobr",     "noframes", "noscript", "object",     "ol",       "optgroup",
        "option", "p",        "param",    "pre",      "q",          "s",        "samp",
        "script", "select",   "small",    "span",     "strike",     "strong",   "style",
        "sub",    "sup",      "table",    "tbody",    "td",         "textarea", "tfoot",
        "th",     "thead",    "title",    "tr",       "tt",         "u",        "ul",
        "var",    "x-sigsep", "x-tab"};
    char *p_bad;
    mk_sa_rules *bad = load_cf(
        "html_bad.rules", "body H_ANY_BAD eval:html_range('bad_tag_ratio', '0', '1')\n", &p_bad);
    for (int trick = 0; trick < 2; trick++) {
        GString *all = g_string_new("Subject: every element\nContent-Type: text/html\n\n");
        for (size_t i = 0; i < G_N_ELEMENTS(elements); i++)
            g_string_append_printf(all, "<%s></%s>", elements[i], elements[i]);
        if (trick)
            g_string_append(all, "<xmp></xmp>");
        g_string_append(all, "\n");
        static const char *const any_bad[] = {"H_ANY_BAD"};
        eval_hits(bad, all->str, "", any_bad, trick ? 1 : 0);
        g_string_free(all, TRUE);
    }
    mk_sa_free(bad);
    g_unlink(p_bad);
    g_free(p_bad);
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
}

/* The vectorscan prefilter changes no result: patterns with subject
 * anchors, lookarounds, back-references, /x, /s and repeats, on and off;
 * counted repeats the prefilter widens (of a group, lazy, possessive,
 * from 0, bounds of 100 or more) and ones it must not (in a class). */
static const char *const prefilter_cf =
    "body    PF_END        /^[a-z0-9]{6,24}[-_a-z0-9]{12,36}[a-z0-9]{6,24}\\s*\\z/is\n"
    "body    PF_START      /\\Aurgent/i\n"
    "body    PF_BEHIND     /(?<!no )prize/\n"
    "body    PF_BACKREF    /\\b(\\w+) \\1\\b/\n"
    "body    PF_EXTENDED   / c l i c k \\s here /xi\n"
    "body    PF_COSTLY     /(?:free\\s){3}/\n"
    "body    PF_MANY       /money/i\n"
    "tflags  PF_MANY       multiple maxhits=3\n"
    "rawbody PF_RAW        /<b>hidden<\\/b>/\n"
    "body    PF_NEVER      /zzzz never there zzzz/\n"
    "body    PF_CLASS      /x[{2}]y/\n"
    "body    PF_POSSESSIVE /(?:ab){1,2}+c/\n"
    "body    PF_LAZY       /(?:cd){2,3}?e/\n"
    "body    PF_ZERO       /z(?:xy){0,3}w/\n"
    "body    PF_HUNDRED    /Q{100,}/\n"
    "body    PF_NOT_THREE  /(?:ef){3}g/\n"
    "body    PF_ESCAPED    /a(b)\\){2}/\n"
    "body    PF_COPIES     /\\b(?:[a-z]{5,}\\s+){4}/\n";

/* The hits of the rules on message text (its links, for uri rules,
 * links[0, n_links)), appended to out. */
static void links_hits(const mk_sa_rules *rs, const char *text, const char *const *links,
                       size_t n_links, GString *out)
{
    char err[256];
    mk_msgbuf *b = mk_msgbuf_new(1 << 20, "/tmp");
    assert_int_equal(mk_msgbuf_append(b, text, strlen(text), err, sizeof(err)), 0);
    mk_msg *msg = mk_msg_parse(b);
    mk_sa_input in = {
        .msg = msg, .full = text, .full_len = strlen(text), .uris = links, .n_uris = n_links};
    mk_sa_hit *hits = NULL;
    size_t n = 0, limited = 0;
    assert_int_equal(mk_sa_eval(rs, &in, &hits, &n, &limited), 0);
    for (size_t i = 0; i < n; i++)
        g_string_append_printf(out, "%s:%u ", hits[i].name, hits[i].count);
    g_free(hits);
    mk_msg_free(msg);
    mk_msgbuf_free(b);
}

/* links_hits with the prefilter on or off. */
static void prefilter_links_hits(mk_sa_rules *rs, const char *text, const char *const *links,
                                 size_t n_links, int on, GString *out)
{
    mk_sa_use_prefilter(rs, on, on ? dir : NULL);
    links_hits(rs, text, links, n_links, out);
}

static void prefilter_hits(mk_sa_rules *rs, const char *text, int on, GString *out)
{
    prefilter_links_hits(rs, text, NULL, 0, on, out);
}

/* Each message's hits without the prefilter are want[i], and the same
 * with it. */
static void prefilter_same(mk_sa_rules *rs, const char *const *msgs, const char *const *want,
                           size_t n)
{
    for (size_t i = 0; i < n; i++) {
        GString *off = g_string_new(NULL), *on = g_string_new(NULL);
        prefilter_hits(rs, msgs[i], 0, off);
        prefilter_hits(rs, msgs[i], 1, on);
        assert_string_equal(off->str, want[i]);
        assert_string_equal(on->str, off->str);
        g_string_free(off, TRUE);
        g_string_free(on, TRUE);
    }
}

/* prefilter_same, then again with the databases from the cache, gated
 * rules behind gates there; frees rs and its rule file at path. */
static void prefilter_same_freed(mk_sa_rules *rs, char *path, const char *const *msgs,
                                 const char *const *want, size_t n, size_t gated)
{
    prefilter_same(rs, msgs, want, n);
    mk_sa_use_prefilter(rs, 1, dir);
    mk_sa_use_prefilter(rs, 1, dir);
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_gated, gated);
    prefilter_same(rs, msgs, want, n);
    mk_sa_free(rs);
    g_unlink(path);
    g_free(path);
}

static void test_prefilter(void **state)
{
    (void)state;
    char *p;
    mk_sa_rules *rs = load_cf_databases("prefilter.rules", prefilter_cf, &p);
    /* all are in the databases, the costly counted groups widened, but
     * two that match ordinary text as the prefilter reads them: PF_BACKREF
     * (as any two words) runs without it, PF_COPIES (four words in a row)
     * stands behind a gate, its pattern as written (four of five letters
     * or more) */
    assert_int_equal(mk_sa_stats_of(rs)->prefiltered, 15);
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_ordinary, 1);
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_gated, 1);
    /* the same from the cache: the databases and the list of the patterns
     * vectorscan reads (a start with a warm cache asks it nothing) */
    mk_sa_use_prefilter(rs, 1, dir);
    mk_sa_use_prefilter(rs, 1, dir);
    assert_int_equal(mk_sa_stats_of(rs)->prefiltered, 15);
    GDir *d = g_dir_open(dir, 0, NULL);
    int lists = 0;
    for (const char *name; (name = g_dir_read_name(d)) != NULL;)
        lists += g_str_has_suffix(name, ".ok");
    g_dir_close(d);
    assert_int_equal(lists, 2); /* body, rawbody */
    static const char *const msgs[] = {
        "Subject: urgent\n\nurgent: the the prize of money money money money\nclick here\n\n"
        "abcdef0123456789abcdef0123456789\n",
        "Subject: hello\nContent-Type: text/html\n\n<p>no prize, free free free free</p>"
        "<b>hidden</b>\n",
        "Subject: x\n\nnothing at all\n",
        "Subject: y\n\nx}y ab)) ababc cdcdcde zw efefg alpha bravo charlie echo "
        "QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
        "QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n",
    };
    const char *const want[] = {
        "PF_END:1 PF_START:1 PF_BEHIND:1 PF_BACKREF:1 PF_EXTENDED:1 "
        "PF_MANY:3 PF_POSSESSIVE:1 PF_COPIES:1 ",
        "PF_BACKREF:1 PF_COSTLY:1 PF_RAW:1 ", "",
        "PF_CLASS:1 PF_POSSESSIVE:1 PF_LAZY:1 PF_ZERO:1 PF_HUNDRED:1 PF_ESCAPED:1 PF_COPIES:1 "};
    prefilter_same(rs, msgs, want, G_N_ELEMENTS(msgs));
    /* and the same with the literal gates, which take the three with a
     * literal of MK_SA_PF_LIT_MIN (6) bytes or more: PF_START, PF_RAW and
     * PF_NEVER */
    mk_sa_prefilter_literals(rs, 1);
    mk_sa_use_prefilter(rs, 1, NULL);
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_lit, 3);
    prefilter_same(rs, msgs, want, G_N_ELEMENTS(msgs));
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
}

/* A pattern whose prefilter copy matches ordinary mail text would pass
 * nearly every message: it runs without the prefilter (counted), the
 * cache's list of patterns keeps it so, and it hits as before. */
static void test_prefilter_ordinary(void **state)
{
    (void)state;
    char *p;
    mk_sa_rules *rs = load_cf_databases("ordinary.rules",
                                        "body    PF_WORDS /\\b(?:[a-z]{4,}\\s+){3}/\n"
                                        "body    PF_RARE  /\\bzanzibar\\b/\n"
                                        "rawbody PF_THE   /\\bthe\\b/i\n",
                                        &p);
    assert_int_equal(mk_sa_stats_of(rs)->prefiltered, 1);
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_ordinary, 2);
    char summary[MK_SA_SUMMARY_MAX];
    mk_sa_summary(rs, summary, sizeof(summary));
    assert_non_null(strstr(summary, "1 body and rawbody patterns, 0 uri patterns and 0 header "
                                    "patterns behind "
                                    "the prefilter (2 more match ordinary text"));
    /* the same from the cache's list, which is what the next start reads:
     * one planted there is what it reads */
    mk_sa_use_prefilter(rs, 1, dir);
    mk_sa_use_prefilter(rs, 1, dir);
    assert_int_equal(mk_sa_stats_of(rs)->prefiltered, 1);
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_ordinary, 2);
    GDir *d = g_dir_open(dir, 0, NULL);
    int planted = 0;
    for (const char *name; (name = g_dir_read_name(d)) != NULL;) {
        char *path = g_build_filename(dir, name, NULL);
        gchar *list = NULL;
        gsize len = 0;
        if (g_str_has_suffix(name, ".ok") && g_file_get_contents(path, &list, &len, NULL) &&
            len == 2) { /* the body rules' */
            assert_true(memchr(list, '1', 2) != NULL && memchr(list, '2', 2) != NULL);
            assert_true(g_file_set_contents(path, "22", 2, NULL));
            planted++;
        }
        g_free(list);
        g_free(path);
    }
    g_dir_close(d);
    assert_int_equal(planted, 1);
    mk_sa_use_prefilter(rs, 1, dir);
    assert_int_equal(mk_sa_stats_of(rs)->prefiltered, 0);
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_ordinary, 3);
    static const char *const msgs[] = {
        "Subject: x\n\nthese words come along to zanzibar\n",
        "Subject: x\n\nno\n",
        "Subject: x\n\nThe end\n",
    };
    const char *const want[] = {"PF_WORDS:1 PF_RARE:1 ", "", "PF_THE:1 "};
    prefilter_same(rs, msgs, want, G_N_ELEMENTS(msgs));
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
}

/* uri rules go behind the prefilter too (the links scanned as one text,
 * a line each): the same hits with it and without, for anchors, a
 * multiple rule counting each link, and a rule that matches ordinary
 * text (it runs without). */
static void test_prefilter_uri(void **state)
{
    (void)state;
    char *p;
    mk_sa_rules *rs =
        load_cf_databases("uri.rules",
                          "uri PF_SHORT /^https?:\\/\\/(?:bit\\.ly|tinyurl\\.com)\\//i\n"
                          "uri PF_IP    /^https?:\\/\\/\\d+\\.\\d+\\.\\d+\\.\\d+\\//\n"
                          "uri PF_NET   /\\.example\\.net\\b/\n"
                          "tflags PF_NET multiple\n"
                          "uri PF_HTTP  /https?:/\n",
                          &p);
    assert_int_equal(mk_sa_stats_of(rs)->prefiltered_uri, 3);
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_ordinary, 1); /* PF_HTTP */
    static const char *const l1[] = {"http://bit.ly/abc", "https://www.example.com/"};
    static const char *const l2[] = {"http://www.example.com/", "http://192.0.2.1/x",
                                     "http://a.example.net/", "https://b.example.net/y"};
    static const char *const l3[] = {"ftp://x.example.org/http://bit.ly/"};
    static const struct {
        const char *const *links;
        size_t n;
        const char *want;
    } cases[] = {
        {l1, G_N_ELEMENTS(l1), "PF_SHORT:1 PF_HTTP:1 "},
        {l2, G_N_ELEMENTS(l2), "PF_IP:1 PF_NET:2 PF_HTTP:1 "},
        {l3, G_N_ELEMENTS(l3), "PF_HTTP:1 "},
        {NULL, 0, ""},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GString *off = g_string_new(NULL), *on = g_string_new(NULL);
        static const char text[] = "Subject: x\n\nsee the links\n";
        prefilter_links_hits(rs, text, cases[i].links, cases[i].n, 0, off);
        prefilter_links_hits(rs, text, cases[i].links, cases[i].n, 1, on);
        assert_string_equal(off->str, cases[i].want);
        assert_string_equal(on->str, off->str);
        g_string_free(off, TRUE);
        g_string_free(on, TRUE);
    }
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
}

/* The part of a pattern every match holds count times over, without
 * overlap: the highest count, then the innermost group, then the
 * longest; none where the text of a group may not mean the same alone. */
static void test_gate_part(void **state)
{
    (void)state;
    static const struct {
        const char *pattern, *part;
        unsigned count;
    } cases[] = {
        {"(?:(?:name|city|age)[:\\s]+){3}", "(?:name|city|age)", 3},
        {"(?:(?:ab){2}c){3}", "(?:ab)", 6},
        {"(?:x{2}y){3}", "(?:x{2}y)", 3},
        {"\\((?:ab){2}[(]x", "(?:ab)", 2},
        {"(?:a(?:bc){2}|d){5}", "(?:a(?:bc){2}|d)", 5},
        {"(?:ab)?(?:long|longer){2}", "(?:long|longer)", 2},
        {"(?:x)(?:ab){1,9}(?:cd)*", "(?:ab)", 1},
        {"a|(?:b){3}", NULL, 0},            /* under a '|' */
        {"(?i)(?:ab){3}", NULL, 0},         /* options set inline */
        {"(?=(?:ab){3})ab", NULL, 0},       /* a lookahead consumes nothing */
        {"(a)(?:b\\1){3}", NULL, 0},        /* back references */
        {"(?<w>ab){3}", NULL, 0},           /* named */
        {"a(*ACCEPT)(?:b){3}", NULL, 0},    /* a verb may end the match early */
        {"(?:ab){,3}(?:c){2}", "(?:c)", 2}, /* {,3}: a later PCRE2's {0,3} */
        {"abc", NULL, 0},                   /* no group */
        {"(?:ab)*", NULL, 0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        unsigned count = 99;
        char *part = mk_sa_pf_gate_part(cases[i].pattern, 0, 0, &count);
        if (cases[i].part == NULL) {
            assert_null(part);
        } else {
            assert_non_null(part);
            assert_string_equal(part, cases[i].part);
        }
        assert_int_equal(count, cases[i].count);
        g_free(part);
    }
    unsigned count;
    assert_null(mk_sa_pf_gate_part("(?:(?:ab) ){2}", PCRE2_EXTENDED, 0, &count));
    /* lines end at 10 and 20: ends 3, 5, 9 are three 2 apart in line 0;
     * 12 and 13 are not 2 apart; 19 is in line 1, 25 in none */
    const unsigned long long ends[] = {3, 4, 5, 9, 12, 13, 19, 25};
    const size_t line_end[] = {10, 20};
    uint8_t ok[2] = {0, 0};
    assert_int_equal(mk_sa_pf_gate_pass(ends, 8, line_end, 2, 3, 2, ok), 1);
    assert_true(ok[0] && !ok[1]);
    assert_int_equal(mk_sa_pf_gate_pass(ends, 8, line_end, 2, 2, 2, NULL), 1);
    memset(ok, 0, sizeof(ok));
    assert_int_equal(mk_sa_pf_gate_pass(ends, 8, line_end, 2, 2, 2, ok), 2);
    assert_true(ok[0] && ok[1]);
    assert_int_equal(mk_sa_pf_gate_pass(ends, 8, line_end, 2, 4, 2, NULL), 0);
    assert_int_equal(mk_sa_pf_gate_pass(ends, 8, line_end, 2, 3, 3, NULL), 0);
}

/* A rule the prefilter widens too far (its counted repeats) stands
 * behind its pattern as written, when that is short */
static void test_prefilter_as_written(void **state)
{
    (void)state;
    /* PF_NINE: nine words in a row of six letters or more (widened, any
     * nine words: ordinary text has them); PF_ALTS: the same from one of
     * 60 sets of letters, over 1 KB, not tried whole: its group, as
     * written, is its gate */
    GString *cf = g_string_new("body PF_NINE /\\b(?:[a-z]{6,}[\\s.]+){9}/\n"
                               "tflags PF_NINE multiple\n"
                               "body PF_ALTS /\\b(?:");
    for (int i = 0; i < 60; i++)
        g_string_append_printf(cf, "%s(?:[%c-z]{6,}\\s+){9}", i ? "|" : "", 'a' + i % 20);
    g_string_append(cf, ")/\n");
    char *p;
    mk_sa_rules *rs = load_cf("written.rules", cf->str, &p);
    g_string_free(cf, TRUE);
    mk_sa_use_prefilter(rs, 1, NULL);
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_gated, 2);
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_ordinary, 0);
    static const char *const msgs[] = {
        "Subject: x\n\nshort words only here, nine of them in a row: a b c\n",
        "Subject: x\n\nnothing\n\nwonderful beautiful colorful delightful marvelous "
        "fantastic wonderful beautiful colorful end\n\nmiddle\n\nzzzzzzz zzzzzzz zzzzzzz "
        "zzzzzzz zzzzzzz zzzzzzz zzzzzzz zzzzzzz zzzzzzz end\n",
    };
    /* on two lines of four: both counted with the prefilter as without */
    const char *const want[] = {"", "PF_NINE:2 PF_ALTS:1 "};
    prefilter_same_freed(rs, p, msgs, want, G_N_ELEMENTS(msgs), 2);
}

/* A rule whose prefilter copy matches ordinary text (four of a group of
 * 151 words in a row, the group too long to write out four times: one or
 * more of it, and "report" is one) runs behind a gate instead, four
 * matches of the words in a line (ordinary text has no such line), and
 * only over those lines: the same hits with the prefilter and without,
 * where the words stand four in a row, in a later paragraph, apart, or in
 * separate paragraphs. So does three words of 12 letters or more in a
 * row: widened for the prefilter, three words; its gate, the pattern
 * as written, keeps the 12 (ordinary text has no such word). */
/* The index of the rule called name in rs (it must be there). */
static size_t rule_index(const mk_sa_rules *rs, const char *name)
{
    size_t i = 0;
    while (i < rs->n && strcmp(rs->r[i].name, name) != 0)
        i++;
    assert_true(i < rs->n);
    return i;
}

/* Whether the body prefilter of rs says rule name may match in line. */
static int body_maybe(const mk_sa_rules *rs, const char *name, const char *line)
{
    size_t i = rule_index(rs, name);
    uint8_t *maybe = g_new0(uint8_t, rs->n);
    const char *lines[] = {line, NULL};
    assert_int_equal(mk_sa_prefilter_scan(rs->pf[0], lines, maybe, NULL), 0);
    int m = maybe[i];
    g_free(maybe);
    return m;
}

/* An alternation of 151 made-up form words, (?:report|fldaaword|...):
 * in prefilter mode vectorscan reads it as any word, so a rule made of it
 * goes behind a gate. g_free it. */
static char *form_words(void)
{
    GString *words = g_string_new("(?:report");
    for (int i = 0; i < 150; i++)
        g_string_append_printf(words, "|fld%c%cword", 'a' + i / 26, 'a' + i % 26);
    g_string_append_c(words, ')');
    return g_string_free(words, FALSE);
}

/* Rules file text cf (g_free'd here) loaded as file (its path in *path)
 * with the prefilter on, gated of its rules behind gates. */
static mk_sa_rules *load_gated(const char *file, char *cf, char **path, size_t gated)
{
    mk_sa_rules *rs = load_cf(file, cf, path);
    g_free(cf);
    mk_sa_use_prefilter(rs, 1, NULL);
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_gated, gated);
    return rs;
}

static void test_prefilter_gate(void **state)
{
    (void)state;
    char *words = form_words();
    char *cf = g_strdup_printf("body PF_FORM /(?:%s[\\s:,]{1,3}){4}/i\n"
                               "body PF_LONG /\\b(?:[a-z]{12,}\\s+){3}/\n",
                               words);
    g_free(words);
    char *p;
    mk_sa_rules *rs = load_gated("gate.rules", cf, &p, 2);
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_ordinary, 0);
    assert_int_equal(mk_sa_stats_of(rs)->prefiltered, 0);
    char summary[MK_SA_SUMMARY_MAX];
    mk_sa_summary(rs, summary, sizeof(summary));
    assert_non_null(strstr(summary, "; 2 run only on the lines where a gate says they may"));
    /* PF_FORM is one group repeated: its gate asks for four form words
     * end to end, not only four on a line (mk_sa_pf_chain.c) */
    static const char apart[] = "fldaaword: fldabword: fldacword: x fldadword: y";
    static const char in_a_row[] = "fldaaword: fldabword: fldacword: fldadword: y";
    assert_false(body_maybe(rs, "PF_FORM", apart));
    assert_true(body_maybe(rs, "PF_FORM", in_a_row));
    static const char *const msgs[] = {
        "Subject: x\n\nFldaaword: fldabword: fldacword: fldadword: end\n",
        "Subject: x\n\nhello\n\nfldaaword, fldabword, fldacword, fldadword, x\n",
        "Subject: x\n\nfldaaword: x fldabword: report, fldadword\n",
        "Subject: x\n\nfldaaword: fldabword:\n\nfldacword: fldadword:\n",
        "Subject: fldaaword: fldabword: fldacword: fldadword:\n\nbody\n",
        "Subject: x\n\nmisunderstanding internationalization characteristically end\n",
        "Subject: x\n\nmisunderstanding and internationalization characteristically\n",
        /* only the lines with four form words are read for where a word
         * starts: the first of two such lines has no chain, the second has */
        "Subject: x\n\nfldaaword: x fldabword: y fldacword: z fldadword: w\n\nhello there\n\n"
        "fldaaword: fldabword: fldacword: fldadword: end\n",
    };
    const char *const want[] = {"PF_FORM:1 ", "PF_FORM:1 ", "", "",
                                "PF_FORM:1 ", "PF_LONG:1 ", "", "PF_FORM:1 "};
    prefilter_same(rs, msgs, want, G_N_ELEMENTS(msgs));
    /* the same from the cache (the gate read back from the plan) */
    mk_sa_use_prefilter(rs, 1, dir);
    mk_sa_use_prefilter(rs, 1, dir);
    assert_false(body_maybe(rs, "PF_FORM", apart));
    assert_true(body_maybe(rs, "PF_FORM", in_a_row));
    prefilter_same_freed(rs, p, msgs, want, G_N_ELEMENTS(msgs), 2);
}

/* Two chain gates whose parts differ by one optional group (the stock
 * form-filling rules' three- and five-word chains): the narrower part is
 * not scanned for, its gate counts the wider part's matches, and both
 * rules hit where they do without the prefilter: four words in a row
 * each with the optional group (only the wider part chains), three in a
 * row without it (only the narrower rule's count is met). */
static void test_prefilter_gate_within(void **state)
{
    (void)state;
    char *words = form_words();
    char *cf =
        g_strdup_printf("body PF_THREE /(?:%s(?:[\\s:,]{1,3}|\\sand\\s)){3}/i\n"
                        "body PF_FOUR /(?:%s(?:[\\s:,]{1,3}(?:P[a-z\\s]{2,8})?|\\sand\\s)){4}/i\n",
                        words, words);
    g_free(words);
    char *p;
    mk_sa_rules *rs = load_gated("within.rules", cf, &p, 2);
    assert_int_equal(mk_sa_prefilter_shared(rs->pf[0]), 1);
    static const char *const msgs[] = {
        "Subject: x\n\nfldaaword: fldabword: fldacword: end\n",
        "Subject: x\n\nfldaaword: Pabc fldabword: Pxyz fldacword: Pqq fldadword: end\n",
        "Subject: x\n\nfldaaword: fldabword: fldacword: fldadword: end\n",
        "Subject: x\n\nfldaaword: x fldabword: y fldacword: z fldadword: w\n",
        "Subject: x\n\nfldaaword: Pab fldabword: fldacword: end\n",
    };
    const char *const want[] = {"PF_THREE:1 ", "PF_FOUR:1 ", "PF_THREE:1 PF_FOUR:1 ", "", ""};
    prefilter_same_freed(rs, p, msgs, want, G_N_ELEMENTS(msgs), 2);
}

/* Headers read by many rules have a prefilter of their own: the same
 * hits with it and without, for negated rules, rules with a value for
 * an absent header, anchors, several lines of one header, multiple. */
/* A pattern too long for vectorscan (16,000 bytes; this one 19 KB) spelled with letter
 * groups, as the stock obfuscation rules write it, goes behind the
 * prefilter with its letter groups widened: the same hits either way, by
 * the letter, its UTF-8 look-alikes or its HTML entity (a group with an
 * alternative longer than 10 bytes, D's last, is no letter and is kept). */
static void test_prefilter_letters(void **state)
{
    (void)state;
    static const char *const letters[] = {
        "A (?:[aA\\@]|[\\xc3][\\xa0-\\xa5]|&\\#(?:22[4-9]|x(?:e[0-5]));|"
        "[\\xe1](?:[\\xb8][\\x80\\x81]|[\\xba][\\xa0-\\xb7]))",
        "B (?:[bB8]|[\\xc3][\\x9f]|&\\#(?:223|xdf);|[\\xe1](?:[\\xb8][\\x82-\\x87]))",
        "C (?:[cCk]|[\\xc3][\\xa7]|&\\#(?:231|xe7);|[\\xe1](?:[\\xb8][\\x88\\x89]))",
        "D (?:[dD]|[\\xc4][\\x8f]|&\\#(?:271|x10f);|[\\xe1](?:[\\xb8][\\x8a-\\x93])|dddddddddddd)",
    };
    GString *cf = g_string_new("replace_start <\nreplace_end >\n");
    for (size_t i = 0; i < G_N_ELEMENTS(letters); i++)
        g_string_append_printf(cf, "replace_tag %s\n", letters[i]);
    g_string_append(cf, "body PF_LETTERS /(?:^|\\s)(?:");
    for (int w = 0; w < 64; w++) /* 64 words of four letters: abcd, abda, ... */
        g_string_append_printf(cf, "%s<%c><%c><%c><%c>", w ? "|" : "", 'A' + w / 16,
                               'A' + w / 4 % 4, 'A' + w % 4, 'A' + (w % 4 + 1) % 4);
    g_string_append(cf, ")(?:\\s|$)/i\nreplace_rules PF_LETTERS\n");
    char *p;
    mk_sa_rules *rs = load_cf("letters.rules", cf->str, &p);
    g_string_free(cf, TRUE);
    mk_sa_use_prefilter(rs, 1, NULL);
    assert_int_equal(mk_sa_stats_of(rs)->loaded, 1);
    assert_int_equal(mk_sa_stats_of(rs)->prefiltered, 1);
    static const char *const msgs[] = {
        "Subject: x\n\nsee abcd here\n",
        "Subject: x\n\nsee &#225;Bcd here\n",
        "Subject: x\n\nsee \xc3\xa1\xc3\x9f\xc3\xa7"
        "d here\n",
        "Subject: x\n\nsee \xe1\xb8\x80"
        "bda here\n",
        "Subject: x\n\nsee abcdddddddddddd here\n",
        "Subject: x\n\nsee axcd here, abcdd, xabcd, abcc, &#226;x\xc3\xa7"
        "d here\n",
        "Subject: x\n\nnothing\n",
    };
    const char *const want[] = {"PF_LETTERS:1 ",
                                "PF_LETTERS:1 ",
                                "PF_LETTERS:1 ",
                                "PF_LETTERS:1 ",
                                "PF_LETTERS:1 ",
                                "",
                                ""};
    prefilter_same(rs, msgs, want, G_N_ELEMENTS(msgs));
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
}

/* Whether pattern (PCRE2 options opts) matches subject. */
static int pcre2_matches(const char *pattern, uint32_t opts, const char *subject)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &err, &off, NULL);
    assert_non_null(re);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return rc >= 0;
}

/* Whether pattern (PCRE2, no options) matches somewhere in subject. */
static int ascii_matches(const char *pattern, const char *subject)
{
    return pcre2_matches(pattern, 0, subject);
}

/* Whether pattern matches the whole of subject (PCRE2, no options). */
static int whole_matches(const char *pattern, const char *subject)
{
    char *whole = g_strdup_printf("^(?:%s)$", pattern);
    int m = pcre2_matches(whole, 0, subject);
    g_free(whole);
    return m;
}

/* A chain gate's copies of a repeated part: kept whole (repeats of a
 * group, or past three, widened) and read backwards; every subject the
 * part matches whole, the copy matches, and the backward copy matches
 * it reversed. What the copies do not follow gives none. The part of a
 * pattern that is one group repeated, and the chain test of the lines. */
static void test_chain_gate(void **state)
{
    (void)state;
    static const struct {
        const char *part, *fwd, *rev;
    } cases[] = {
        {"ab", "ab", "ba"},
        {"(?:ab|cd)e", "(?:ab|cd)e", "e(?:ba|dc)"},
        {"a{1,5}b", "a+b", "ba+"},
        {"(?:xy){2}z", "(?:xy)+z", "z(?:yx)+"},
        {"(xy)?z", "(?:xy)?z", "z(?:yx)?"},
        {"[a-c]{2}\\s?", "[a-c]{2}\\s?", "\\s?[a-c]{2}"},
        {"[]x]{0,3}y", "[]x]{0,3}y", "y[]x]{0,3}"},
        {"\\bname\\b[:,]", "\\bname\\b[:,]", "[:,]\\beman\\b"},
        {"\\x41b\\.", "\\x41b\\.", "\\.b\\x41"},
        {"x{", "x\\{", "\\{x"},
        {"1\\x4\\t", "1\\x04\\t", "\\t\\x041"}, /* reversed, \x4 1 is not \x41 */
        {"a+?b*+", "a+b*", "b*a+"},
        {"(?>ab)c", "(?:ab)c", "c(?:ba)"},
        {"d(?:e|)f", "d(?:e|)f", "f(?:e|)d"},
        {"^ab", NULL, NULL},
        {"ab$", NULL, NULL},
        {"(?=a)b", NULL, NULL},
        {"(?<!a)b", NULL, NULL},
        {"(a)\\1", NULL, NULL},
        {"(?i)ab", NULL, NULL},
        {"\\Aab", NULL, NULL},
        {"a\\Kb", NULL, NULL},
        {"[ab", NULL, NULL},
        {"a)b", NULL, NULL},
        {"*a", NULL, NULL},
        {"a{2}{3}", NULL, NULL},
    };
    static const char *const subjects[] = {
        "ab",
        "abe",
        "cde",
        "aaaaab",
        "ab"
        "aaaaaab",
        "xyz",
        "xyxyz",
        "z",
        "ac ",
        "ac",
        "abc",
        "xy",
        "]]y",
        "y",
        "name:",
        "Ab.",
        "x{",
        "ab",
        "abbb",
        "abc",
        "df",
        "def",
        "a b",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *fwd = mk_sa_pf_chain_copy(cases[i].part, 0),
             *rev = mk_sa_pf_chain_copy(cases[i].part, 1);
        if (cases[i].fwd == NULL) {
            if (fwd != NULL || rev != NULL)
                print_error("%s: copied as %s\n", cases[i].part, fwd != NULL ? fwd : rev);
            assert_null(fwd);
            assert_null(rev);
            continue;
        }
        assert_non_null(fwd);
        assert_non_null(rev);
        assert_string_equal(fwd, cases[i].fwd);
        assert_string_equal(rev, cases[i].rev);
        for (size_t j = 0; j < G_N_ELEMENTS(subjects); j++) {
            if (!whole_matches(cases[i].part, subjects[j]))
                continue;
            char *back = g_strreverse(g_strdup(subjects[j]));
            assert_true(whole_matches(fwd, subjects[j]));
            assert_true(whole_matches(rev, back));
            g_free(back);
        }
        g_free(fwd);
        g_free(rev);
    }
    /* the part of a pattern that is one group repeated */
    static const struct {
        const char *pattern;
        uint32_t opts;
        const char *part;
        unsigned k;
    } parts[] = {
        {"(?:ab|cd){3}", 0, "ab|cd", 3},
        {"(ab){2,}", 0, "ab", 2},
        {"(?:ab){3,5}?", 0, "ab", 3},
        {"(?>a\\s){4}", 0, "a\\s", 4},
        {"(?:ab){3}c", 0, NULL, 0},
        {"(?:ab)+", 0, NULL, 0},
        {"(?:ab){1}", 0, NULL, 0},
        {"(?:a)|(?:b){3}", 0, NULL, 0},
        {"(?=ab){3}", 0, NULL, 0},
        {"x(?:ab){3}", 0, NULL, 0},
        {"(?:a b){3}", PCRE2_EXTENDED, NULL, 0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(parts); i++) {
        unsigned k = 99;
        char *part = mk_sa_pf_chain_part(parts[i].pattern, parts[i].opts, &k);
        if (parts[i].part == NULL) {
            assert_null(part);
            continue;
        }
        assert_non_null(part);
        assert_string_equal(part, parts[i].part);
        assert_int_equal(k, parts[i].k);
        g_free(part);
    }
    /* the lines: two of them, ending at 20 and 40; a chain of three */
    const size_t line_end[] = {20, 40};
    const unsigned long long ends_a[] = {3, 6, 9}, starts_a[] = {0, 3, 6};
    uint8_t ok[2] = {0, 0};
    assert_int_equal(mk_sa_pf_chain_pass(ends_a, 3, starts_a, 3, line_end, 2, 3, ok), 1);
    assert_true(ok[0] && !ok[1]);
    /* a gap: 6 ends a match, none starts there */
    const unsigned long long starts_b[] = {0, 3, 7};
    assert_int_equal(mk_sa_pf_chain_pass(ends_a, 3, starts_b, 3, line_end, 2, 3, NULL), 0);
    /* no end after the last joint */
    const unsigned long long ends_c[] = {3, 6}, starts_c[] = {0, 3, 6};
    assert_int_equal(mk_sa_pf_chain_pass(ends_c, 2, starts_c, 3, line_end, 2, 3, NULL), 0);
    /* joints on the first line, the end on the second */
    const unsigned long long ends_d[] = {3, 6, 25}, starts_d[] = {3, 6, 21};
    assert_int_equal(mk_sa_pf_chain_pass(ends_d, 3, starts_d, 3, line_end, 2, 3, NULL), 0);
    /* the same end twice counts once; two chains on the second line */
    const unsigned long long ends_e[] = {23, 23, 26, 29, 33}, starts_e[] = {21, 23, 26, 29};
    memset(ok, 0, sizeof(ok));
    assert_int_equal(mk_sa_pf_chain_pass(ends_e, 5, starts_e, 4, line_end, 2, 3, ok), 1);
    assert_true(!ok[0] && ok[1]);
    assert_int_equal(mk_sa_pf_chain_pass(ends_e, 5, starts_e, 4, line_end, 2, 5, NULL), 0);
    assert_int_equal(mk_sa_pf_chain_pass(ends_e, 5, starts_e, 4, line_end, 2, 4, NULL), 1);
    /* a part within another: the other with one optional group more */
    static const struct {
        const char *narrow, *wide;
        int within;
    } nested[] = {
        {"a(?:b|c)", "a(?:b(?:x+)?|c)", 1},
        {"ab", "a(?:x)?b", 0},               /* (what follows may run on from what precedes) */
        {"a(?:b|c)", "a(?:b(?:x+)??|c)", 0}, /* lazy */
        {"a(?:b|c)", "a(?:b(?:x+)?+|c)", 0}, /* possessive */
        {"a(?:b|c)", "a(?:b(?:x+)|c)", 0},   /* not optional */
        {"a(?:b|c)", "a(?:b(?:x+)*|c)", 0},  /* repeated: not read here */
        {"a(?:b|c)", "a(?:b(?:x+)?|d)", 0},
        {"a(?:b|c)", "a(?:b|c)", 0},        /* the same: not wider */
        {"a(?:b(?:x+)?|c)", "a(?:b|c)", 0}, /* the other way */
        {"\\x2(?:f)", "\\x2(?:y)?(?:f)", 1},
        {"(?:u)(?:v)", "(?:u)(?:w)?(?:v)", 1},
        {"(?:u)", "(?:u)(?:w)?", 1},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(nested); i++)
        assert_int_equal(mk_sa_pf_chain_within(nested[i].narrow, nested[i].wide), nested[i].within);
}

/* A pattern's ASCII copy drops what needs a byte of 0x80 or more (class
 * members, ranges past 0x7f, alternatives, optional atoms, lookarounds)
 * and keeps the rest as written; on ASCII text it matches where the
 * pattern does. A construct it does not follow leaves the pattern as
 * written; a pattern no ASCII text matches says so. */
static void test_ascii_copy(void **state)
{
    (void)state;
    static const struct {
        const char *pattern;
        mk_sa_ascii kind;
        const char *copy;
        int wider; /* matches more than the pattern on some ASCII text */
    } cases[] = {
        {"(?:[aA\\@\\xe0-\\xe6]|[\\xc3][\\xa0-\\xa5]|&\\#224;)b", MK_SA_ASCII_COPY,
         "(?:[aA\\@]|&\\#224;)b", 0},
        {"v[\\x20-\\xff]agra", MK_SA_ASCII_COPY, "v[\\x20-\\x7f]agra", 0},
        {"x\\xe9?y(?:\\xc3\\xa9)*z", MK_SA_ASCII_COPY, "xyz", 0},
        {"a(?!\\xe2\\x80)b(?<!\\xff)", MK_SA_ASCII_COPY, "ab", 0},
        {"a(?=\\xff)|b", MK_SA_ASCII_COPY, "b", 0},
        {"\\o{351}|\\x{e9}|\\Q\xc3\xa9\\E|z", MK_SA_ASCII_COPY, "z", 0},
        {"[^\\x80-\\xff]\\xff?", MK_SA_ASCII_COPY, "[^\\x80-\\xff]", 0},
        {"(?i)(?:\\xc4|b)c", MK_SA_ASCII_COPY, "(?i)(?:b)c", 0},
        {"(?<w>\\xe9|e)t", MK_SA_ASCII_COPY, "(?<w>e)t", 0},
        {"\\x4(?:\\xff)?1", MK_SA_ASCII_COPY, "\\x041", 0},
        {"a{(?:\\xff)?2}", MK_SA_ASCII_COPY, "a\\{2}", 0},
        {"[\\xff^]x|y", MK_SA_ASCII_COPY, "[\\^]x|y", 0},
        /* {,3}: as written to this PCRE2, {0,3} to a later one */
        {"q(?:\\xff){,3}r", MK_SA_ASCII_COPY, "qr", 1},
        {"\\xe2\\x80\\x9cquote", MK_SA_ASCII_NEVER, NULL, 0},
        {"caf\xc3\xa9|[\\x80-\\xff]{2}", MK_SA_ASCII_NEVER, NULL, 0},
        {"abc", MK_SA_ASCII_SAME, NULL, 0},
        {"[a-z]+\\s\\W.[^\\xe9]", MK_SA_ASCII_SAME, NULL, 0},
        {"(\\xe9)\\1|b", MK_SA_ASCII_SAME, NULL, 0},  /* back references */
        {"a(?i)\\xe9|b", MK_SA_ASCII_SAME, NULL, 0},  /* (?i) reaches the later alternatives */
        {"(?|\\xe9|b)", MK_SA_ASCII_SAME, NULL, 0},   /* numbering reset */
        {"(*UTF)\\xe9|b", MK_SA_ASCII_SAME, NULL, 0}, /* a verb */
        {"(\\xe9)?(?(1)\\xe9|b)", MK_SA_ASCII_SAME, NULL, 0}, /* a conditional */
    };
    /* ASCII subjects: the copy matches each where its pattern does (at
     * least) */
    static const char *const subjects[] = {
        "ab",
        "Ab",
        "@b",
        "&#224;b",
        "xb",
        "v agra",
        "v~agra",
        "vxagra",
        "xyz",
        "xy",
        "xz",
        "ab!",
        "b",
        "a",
        "z",
        "qr",
        "q{,3}r",
        "bc",
        "Bc",
        "et",
        "\x04"
        "1",
        "a{2}",
        "aa",
        "^x",
        "y",
        "quote",
        "abc",
        "ab c!x",
        "e",
        "cafe",
        "",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *copy = NULL;
        mk_sa_ascii kind = mk_sa_pf_ascii(cases[i].pattern, 0, &copy);
        assert_int_equal(kind, cases[i].kind);
        if (cases[i].copy == NULL) {
            assert_null(copy);
        } else {
            assert_non_null(copy);
            assert_string_equal(copy, cases[i].copy);
        }
        for (size_t j = 0; j < G_N_ELEMENTS(subjects); j++) {
            int m = ascii_matches(cases[i].pattern, subjects[j]);
            if (kind == MK_SA_ASCII_COPY && cases[i].wider)
                assert_true(ascii_matches(copy, subjects[j]) >= m);
            else if (kind == MK_SA_ASCII_COPY)
                assert_int_equal(ascii_matches(copy, subjects[j]), m);
            else if (kind == MK_SA_ASCII_NEVER)
                assert_false(m);
        }
        g_free(copy);
    }
    char *copy = NULL;
    assert_int_equal(mk_sa_pf_ascii("a \\xe9 | b", PCRE2_EXTENDED, &copy), MK_SA_ASCII_SAME);
    assert_null(copy);
    /* cut short (never compiled, but read safely to the end) */
    static const char *const cut[] = {"(?<w\\xe9", "(?P<w",  "(?'w", "[\\xe9",   "a\\",
                                      "(\\xe9|",   "\\x{e9", "(?#c", "(?<!\\xe9"};
    for (size_t i = 0; i < G_N_ELEMENTS(cut); i++) {
        assert_int_equal(mk_sa_pf_ascii(cut[i], 0, &copy), MK_SA_ASCII_SAME);
        assert_null(copy);
    }
}

/* Rules held by their ASCII copies hit as without the prefilter: on an
 * ASCII line, on a line of 8-bit text (scanned again with the patterns as
 * written), in a message with both. PF_QUOTE matches no ASCII text at
 * all; PF_K as written is one vectorscan cannot read (\K), so it runs
 * wherever a line holds an 8-bit byte. */
static void test_prefilter_8bit(void **state)
{
    (void)state;
    static const char cf[] =
        "body PF_LOOK "
        "/(?:^|\\s)(?:[vV]|\\xc3\\xbd|[\\x80-\\xff]{2})[i1!](?:[aA@]|\\xc3[\\xa0-\\xa5])gra\\b/\n"
        "body PF_QUOTE /\\xe2\\x80\\x9c\\w+\\xe2\\x80\\x9d/\n"
        "body PF_K /(?:\\xc3\\xa9t\\K|abc)d/\n"
        "body PF_PLAIN /\\bplain\\b/\n";
    char *p;
    mk_sa_rules *rs = load_cf_databases("8bit.rules", cf, &p);
    assert_int_equal(mk_sa_stats_of(rs)->prefiltered, 4);
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_ascii, 3);
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_ordinary, 0);
    char summary[MK_SA_SUMMARY_MAX];
    mk_sa_summary(rs, summary, sizeof(summary));
    assert_non_null(
        strstr(summary, "; 3 scanned for as written only on the lines that hold 8-bit"));
    static const char *const msgs[] = {
        "Subject: x\n\nbuy vi@gra now\n",
        "Subject: x\n\ncaf\xc3\xa9 is nice\n\nbuy vi@gra now\n",
        "Subject: x\n\nbuy \xc3\xbdi\xc3\xa1gra now\n",
        "Subject: x\n\nhe said \xe2\x80\x9chello\xe2\x80\x9d, plain\n",
        "Subject: x\n\nsaid \xc3\xa9td\n",
        "Subject: x\n\nabcd only\n",
        "Subject: x\n\ncaf\xc3\xa9 \xe2\x80\x9c no \xc3\xa9t d\n\nplainly, vigor\n",
    };
    const char *const want[] = {
        "PF_LOOK:1 ", "PF_LOOK:1 ", "PF_LOOK:1 ", "PF_QUOTE:1 PF_PLAIN:1 ",
        "PF_K:1 ",    "PF_K:1 ",    "",
    };
    prefilter_same_freed(rs, p, msgs, want, G_N_ELEMENTS(msgs), 0);
}

/* The body's prefilter says in which lines each rule may match: the
 * lines its matches end in, from the databases (every match reported)
 * and, for a rule held by its ASCII copy, from the 8-bit lines scanned
 * as written; PCRE2 then runs on those lines only, and counts what it
 * counted over all of them (tflags multiple, matches in several
 * paragraphs, two in one line, one where the prefilter's copy is wider). */
static void test_prefilter_lines(void **state)
{
    (void)state;
    static const char cf[] =
        "body PF_NUM /\\bzebra\\d+x\\b/\n"
        "body PF_LOOK /(?:^|\\s)(?:[vV]|\\xc3\\xbd)[i1!](?:[aA@]|\\xc3[\\xa0-\\xa5])gra\\b/\n"
        "body PF_MULTI /(?<!x)foo\\d/\n"
        "tflags PF_MULTI multiple\n";
    char *p;
    mk_sa_rules *rs = load_cf_databases("lines.rules", cf, &p);
    assert_int_equal(mk_sa_stats_of(rs)->prefiltered, 3);
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_ascii, 1);
    const char *lines[] = {"nothing here",
                           "a zebra12x b",
                           "zebra1y xfoo1",
                           "also zebra7x",
                           "buy vi\xc3\xa1gra, caf\xc3\xa9",
                           "viagra foo2 foo3",
                           NULL};
    uint8_t *maybe = g_new0(uint8_t, rs->n);
    uint8_t **where = g_new0(uint8_t *, rs->n);
    assert_int_equal(mk_sa_prefilter_scan(rs->pf[0], lines, maybe, where), 0);
    static const struct {
        const char *rule, *flags; /* a character per line: 1 flagged */
    } want[] = {
        {"PF_NUM", "010100"},
        {"PF_LOOK", "000011"},
        {"PF_MULTI", "001001"}, /* xfoo1: the copy leaves the lookbehind out */
    };
    for (size_t k = 0; k < G_N_ELEMENTS(want); k++) {
        size_t i = rule_index(rs, want[k].rule);
        assert_true(maybe[i]);
        assert_non_null(where[i]);
        char got[8] = {0};
        for (size_t l = 0; l < 6; l++)
            got[l] = where[i][l] ? '1' : '0';
        assert_string_equal(got, want[k].flags);
    }
    for (size_t i = 0; i < rs->n; i++)
        g_free(where[i]);
    g_free(where);
    g_free(maybe);
    static const char *const msgs[] = {
        "Subject: x\n\nfoo1 and foo2\n\nnothing\n\nxfoo3 foo4 zebra9x\n",
        "Subject: x\n\nbuy vi\xc3\xa1gra\n\nzebra1y\n",
        "Subject: x\n\nzebra1y xfoo1\n",
    };
    const char *const want_hits[] = {"PF_NUM:1 PF_MULTI:3 ", "PF_LOOK:1 ", ""};
    prefilter_same_freed(rs, p, msgs, want_hits, G_N_ELEMENTS(msgs), 0);
}

/* A pattern's tail after a costly lead: an open-ended repeat of letters
 * or digits before the literal vectorscan would start from, with no
 * literal of its own before it. The tail matches wherever the pattern
 * does (checked with PCRE2 on each subject); a pattern the cut could
 * change, or with no such lead, keeps no tail. */
static void test_lead_tail(void **state)
{
    (void)state;
    static const struct {
        const char *pattern, *tail;
    } cases[] = {
        {"\\b(?:\\d\\d|ten|[a-z]+teen)\\s?(?:%|percent) of", "\\s?(?:%|percent) of"},
        {"^[^>].*?<a href=", "<a href="},
        {"\\b(?:f[uo]nds|\\d+)\\s(?:\\w{1,10}\\s)*to\\syour\\b", "to\\syour\\b"},
        {"\\d+\\.\\d+ dollars", "\\.\\d+ dollars"},
        {"[a-z]+(?=bar)bar\\b", "(?=bar)bar\\b"},
        {"(?:[a-z]{2}\\d)+(?i:wow)x", "(?i:wow)x"},
        {"\\S+[\\s)]+money", "[\\s)]+money"},
        {"\\w+\\s+(?<n>abc|def)[[:alpha:]]+zz", "\\s+(?<n>abc|def)[[:alpha:]]+zz"},
        {"\\pL+ab", "ab"}, /* \pL+: a repeat of letters */
        /* a literal in the lead: vectorscan starts from it */
        {"\\bwill\\s(?:[a-z\\s]+)?to\\syou\\b", NULL},
        /* a lead of separators: anchors, classes and optional characters
         * that match no letter or digit */
        {"[\\s)]+money", "money"},
        {"(?:\\b|\\s)[_\\W]{0,3}v[_\\W]{0,3}[i1!]agra", "v[_\\W]{0,3}[i1!]agra"},
        {"\\b_{0,3}t[_\\W]?r[a4@]m", "t[_\\W]?r[a4@]m"},
        {"^\\s*Dear\\s", "Dear\\s"},
        {"\\bfoo", NULL},       /* anchors alone */
        {"(?i)\\s+foo", NULL},  /* options for the rest */
        {"\\s+\\w+foo", "foo"}, /* a repeat of letters after them: cut after it */
        /* no open-ended repeat of letters or digits before a literal */
        {"\\w{1,15}\\s(?:fee|charge)", NULL},
        {"[a-z]+", NULL},
        {"[a-z]+\\d*", NULL},
        /* left whole: options for the rest, back references, '|' at the
         * top, conditionals, verbs, \Q..\E, \K, recursion, comments */
        {"(?i)[a-z]+foo", NULL},
        {"([a-z]+)x\\1", NULL},
        {"a|[a-z]+bc", NULL},
        {"(a)?(?(1)[a-z]+b|c)d", NULL},
        {"(*UCP)[a-z]+b", NULL},
        {"[a-z]+\\Qb\\E", NULL},
        {"[a-z]+\\Kb", NULL},
        {"([a-z]+)(?1)b", NULL},
        {"[a-z]+(?R)?b", NULL},
        {"[a-z]+(?#c)b", NULL},
        {"(?:(?i)[a-z])+b", NULL},
        /* cut short */
        {"[a-z]+(b", NULL},
        {"[a-z]+[b", NULL},
        {"[a-z]+b\\", NULL},
        {"[a-z]+\\x{62", NULL},
    };
    static const char *const subjects[] = {
        "we pay 15 percent of it",
        "fifteen% of the rest",
        "x <a href=",
        "<a href= at the start",
        "funds are sent to your",
        "12 sent to your",
        "3.50 dollars",
        ".5 dollars",
        "foobar",
        "bar",
        "zz1zz1WOWx",
        "wowx",
        "ab)) money",
        " money",
        "word  abcxyzz",
        "abcxyzz",
        "will send to you",
        "buy v.i.agra now",
        "buy v1agra",
        "t_r4m",
        "tram",
        "  Dear friend",
        "Dear friend",
        "fee",
        "abc",
        "",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *tail = mk_sa_pf_lead(cases[i].pattern, 0);
        if (cases[i].tail == NULL) {
            assert_null(tail);
            continue;
        }
        assert_non_null(tail);
        assert_string_equal(tail, cases[i].tail);
        for (size_t j = 0; j < G_N_ELEMENTS(subjects); j++)
            if (ascii_matches(cases[i].pattern, subjects[j]))
                assert_true(ascii_matches(tail, subjects[j]));
        g_free(tail);
    }
    assert_null(mk_sa_pf_lead("[a-z]+ foo", PCRE2_EXTENDED));
    /* through the prefilter: the rules as before; the short tail (\@ of
     * [b-z]{7}\S*\@) and those in headers are not held */
    static const char cf[] = "body LT_PCT /\\b(?:\\d\\d|ten|[a-z]+teen)\\s?(?:%|percent) of/i\n"
                             "body LT_AT /[bcdfghjklmnpqrstvwxz]{7}\\S*\\@/\n"
                             "header LT_H1 Subject =~ /\\d+\\.\\d+ dollars/\n"
                             "header LT_H2 Subject =~ /^[^>].*?<a href=/\n"
                             "header LT_H3 Subject =~ /\\bfree\\b/\n"
                             "header LT_H4 Subject =~ /offer/\n"
                             "header LT_H5 Subject =~ /!!/\n"
                             "header LT_H6 Subject =~ /now/\n"
                             "header LT_H7 Subject =~ /win/\n"
                             "header LT_H8 Subject =~ /cash/\n";
    char *p;
    mk_sa_rules *rs = load_cf_databases("lead.rules", cf, &p);
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_tail, 1);
    char summary[MK_SA_SUMMARY_MAX];
    mk_sa_summary(rs, summary, sizeof(summary));
    assert_non_null(strstr(summary, "; 1 held by their tail, the costly lead"));
    static const char *const msgs[] = {
        "Subject: 3.50 dollars\n\nwe pay fifteen percent of it\n",
        "Subject: x\n\nonly 5% of it, to xyzzy\n",
        "Subject: free cash\n\nbcdfghjkl@example.com wrote\n",
        "Subject: x\n\npercent of it\n",
    };
    const char *const want[] = {"LT_PCT:1 LT_H1:1 ", "", "LT_AT:1 LT_H3:1 LT_H8:1 ", ""};
    prefilter_same_freed(rs, p, msgs, want, G_N_ELEMENTS(msgs), 0);
}

/* Each message's hits are want[i], with the rules as they stand. */
static void hits_are(const mk_sa_rules *rs, const char *const *msgs, const char *const *want,
                     size_t n)
{
    for (size_t i = 0; i < n; i++) {
        GString *out = g_string_new(NULL);
        links_hits(rs, msgs[i], NULL, 0, out);
        assert_string_equal(out->str, want[i]);
        g_string_free(out, TRUE);
    }
}

/* The records of a memo file ("KEY LENGTH\nVALUE\n"): their number; the
 * value of the one whose value starts with prefix (if any) replaced by
 * value (when not NULL) and the file written again. */
static size_t memo_records(const char *file, const char *prefix, const char *value)
{
    gchar *text = NULL;
    assert_true(g_file_get_contents(file, &text, NULL, NULL));
    GString *out = g_string_new(NULL);
    size_t n = 0;
    int planted = 0;
    for (const char *at = text; *at != '\0'; n++) {
        assert_true(strspn(at, "0123456789abcdef") == 64 && at[64] == ' ');
        char *end;
        size_t len = strtoul(at + 65, &end, 10);
        assert_true(*end == '\n' && end[1 + len] == '\n');
        const char *v = end + 1;
        if (value != NULL && !planted && strncmp(v, prefix, strlen(prefix)) == 0) {
            g_string_append_printf(out, "%.64s %zu\n%s\n", at, strlen(value), value);
            planted = 1;
        } else {
            g_string_append_len(out, at, v + len + 1 - at);
        }
        at = v + len + 1;
    }
    if (value != NULL) {
        assert_true(planted);
        assert_true(g_file_set_contents(file, out->str, (gssize)out->len, NULL));
    }
    g_string_free(out, TRUE);
    g_free(text);
    return n;
}

/* How the prefilter holds each pattern (its literals, its tail, its
 * gate) is kept in the cache's prefilter-plan and read back by the next
 * build: the same counts and hits from the file as found afresh. A value
 * planted in the file is what the rule then runs behind; a damaged file
 * is found again; the file keeps the patterns of the last rules built. */
static void test_prefilter_memo(void **state)
{
    (void)state;
    char *cache = g_build_filename(dir, "pf-memo", NULL);
    char *file = g_build_filename(cache, "prefilter-plan", NULL);
    static const char cf[] = "body PM_LIT /\\bdiscount pharmacy\\b/\n"
                             "body PM_TAIL /\\b(?:\\d\\d|ten|[a-z]+teen)\\s?(?:%|percent) of/i\n"
                             "body PM_GATE /\\b(?:[a-z]{12,}\\s+){3}/\n";
    static const char *const msgs[] = {
        "Subject: x\n\nour discount pharmacy is open\n",
        "Subject: x\n\nwe pay fifteen percent of it\n",
        "Subject: x\n\nmisunderstanding internationalization characteristically end\n",
        "Subject: x\n\ncanary: the discount pharmacy\n",
    };
    static const char *const want[] = {"PM_LIT:1 ", "PM_TAIL:1 ", "PM_GATE:1 ", "PM_LIT:1 "};
    char *p;
    mk_sa_rules *rs = load_cf("memo.rules", cf, &p);
    for (int round = 0; round < 3; round++) { /* found; read back; found again, damaged */
        if (round == 2)
            assert_true(g_file_set_contents(file, "0123 garbage\n", -1, NULL));
        mk_sa_use_prefilter(rs, 1, cache);
        const mk_sa_stats *st = mk_sa_stats_of(rs);
        assert_int_equal(st->prefilter_lit, 1);
        assert_int_equal(st->prefilter_tail, 1);
        assert_int_equal(st->prefilter_gated, 1);
        hits_are(rs, msgs, want, G_N_ELEMENTS(msgs));
        /* one record a question asked: the literals of each; the ASCII
         * copy and tail of the other two; the gate of the third */
        assert_int_equal(memo_records(file, NULL, NULL), 8);
    }
    /* a gate planted: the rule runs where a line holds its literal */
    memo_records(file, "1 17 0 (?:discount\\x20pharmacy)", "1 6 0 (?:canary)");
    gchar *planted = NULL;
    assert_true(g_file_get_contents(file, &planted, NULL, NULL));
    mk_sa_use_prefilter(rs, 1, cache);
    static const char *const want_planted[] = {"", "PM_TAIL:1 ", "PM_GATE:1 ", "PM_LIT:1 "};
    hits_are(rs, msgs, want_planted, G_N_ELEMENTS(msgs));
    gchar *text = NULL;
    assert_true(g_file_get_contents(file, &text, NULL, NULL));
    assert_string_equal(text, planted); /* read, used, not written again */
    g_free(text);
    g_free(planted);
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
    /* other rules: only theirs are kept */
    rs = load_cf("memo2.rules", "body PM_OTHER /\\bsomething special\\b/\n", &p);
    mk_sa_use_prefilter(rs, 1, cache);
    assert_int_equal(memo_records(file, NULL, NULL), 1);
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
    g_free(file);
    g_free(cache);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether subject holds one of lits (without regard to case: caseless). */
static int holds_literal(char *const *lits, int caseless, const char *subject)
{
    char *low = caseless ? g_ascii_strdown(subject, -1) : g_strdup(subject);
    int found = 0;
    for (size_t k = 0; lits[k] != NULL && !found; k++)
        found = strstr(low, lits[k]) != NULL;
    g_free(low);
    return found;
}

/* A pattern's literals: strings one of which every match holds (each
 * subject a pattern matches, by PCRE2, holds one), the best the reading
 * finds; none when the shortest would be under the caller's least, or the
 * pattern holds what the reading does not follow. Then through the
 * prefilter: rules with literals run only on the lines that hold one,
 * with the hits they have without it; one whose literal is in ordinary
 * text stays in the databases. */
static void test_literal_gates(void **state)
{
    (void)state;
    static const struct {
        const char *pattern;
        uint32_t opts;
        const char *lits; /* sorted, joined by '|'; NULL: none */
        int caseless;
    } cases[] = {
        {"(?:claim|concerning) (?:the|this) money", PCRE2_CASELESS,
         "claim the money|claim this money|concerning the money|concerning this money", 1},
        {"\\bdear (?:sir|madam)\\b", 0, "dear madam|dear sir", 0},
        {"foo\\d+barbaz", 0, "barbaz", 0},
        {"colou?r", 0, "color|colour", 0},
        {"(?:ab)+cde", 0, "cde", 0},
        {"x[Kk]ill", 0, "xKill|xkill", 0},
        {"(?i)WIN\\s+big", 0, "win", 1},
        {"(?:free|cheap) offer", 0, "cheap offer|free offer", 0},
        {"click\\s?here", 0, "click", 0},
        {"money(?! back)\\b order", 0, "money order", 0},
        {"(?:viagra|\\w+pill)", 0, "pill|viagra", 0},
        {"(abc)\\1xyz", 0, "abc", 0},
        {"a\\x{62}c\\.d\\x41", 0, "abc.dA", 0},
        {"[a-c]xyz", 0, "axyz|bxyz|cxyz", 0},
        {"[a-z]xyz", 0, "xyz", 0},
        {"[^a]bcd", 0, "bcd", 0},
        {"abc{0,5}def", 0, "def", 0},
        {"(?:abc){2,}", 0, "abc", 0},
        {"(?:abc)?def", 0, "def", 0},
        {"ab(?#note)cdef", 0, "abcdef", 0},
        {"(?<w>spam)mer", 0, "spammer", 0},
        {"ab{,3}cde", 0, "cde", 0},
        {"(?:a|b)c+d*e", 0, NULL, 0},
        {"a.b.c", 0, NULL, 0},
        {"(?:viagra|\\d+)", 0, NULL, 0},
        {"\\bfree\\b|\\bwin\\b", 0, "free|win", 0},
        /* not followed: no literals */
        {"foo bar", PCRE2_EXTENDED, NULL, 0},
        {"(?x)abc def", 0, NULL, 0},
        {"abc(*ACCEPT)def", 0, NULL, 0},
        {"\\Qabc\\E", 0, NULL, 0},
        {"(a)?(?(1)abc|def)", 0, NULL, 0},
        {"ab(?C1)cdef", 0, NULL, 0},
        {"abc(", 0, NULL, 0},
        {"abc[", 0, NULL, 0},
        {"abc\\", 0, NULL, 0},
    };
    static const char *const subjects[] = {
        "please claim THE money now",
        "Dear Sir,",
        "dear madam",
        "foo123barbaz",
        "color",
        "colour",
        "ababcde",
        "xKill",
        "xkill",
        "you WIN  big",
        "cheap offer",
        "click here",
        "clickhere",
        "money order",
        "a pill",
        "viagra",
        "abcabcxyz",
        "abc.dA",
        "bxyz",
        "qxyz",
        "zbcd",
        "abcabc",
        "abcdef",
        "def",
        "spammer",
        "acde",
        "abbcde",
        "ab{,3}cde",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        int caseless = -1;
        char **lits = mk_sa_pf_lits(cases[i].pattern, cases[i].opts, 3, &caseless);
        if (cases[i].lits == NULL) {
            assert_null(lits);
            continue;
        }
        assert_non_null(lits);
        char **sorted = g_strdupv(lits);
        qsort(sorted, g_strv_length(sorted), sizeof(char *), cmp_str);
        char *joined = g_strjoinv("|", sorted);
        assert_string_equal(joined, cases[i].lits);
        assert_int_equal(caseless, cases[i].caseless);
        for (size_t j = 0; j < G_N_ELEMENTS(subjects); j++)
            if (pcre2_matches(cases[i].pattern, cases[i].opts, subjects[j]))
                assert_true(holds_literal(lits, caseless, subjects[j]));
        g_free(joined);
        g_strfreev(sorted);
        g_strfreev(lits);
    }
    /* the shortest literal the caller takes */
    int caseless;
    char **six = mk_sa_pf_lits("\\bdear (?:sir|madam)\\b", 0, 8, &caseless);
    assert_non_null(six);
    g_strfreev(six);
    assert_null(mk_sa_pf_lits("\\bdear (?:sir|madam)\\b", 0, 9, &caseless));
    static const char cf[] = "body    LG_PHRASE /(?:claim|concerning) (?:the|this) money/i\n"
                             "body    LG_WIRE   /\\bwire (?:transfer|money)\\b/i\n"
                             "tflags  LG_WIRE   multiple\n"
                             "rawbody LG_RAW    /<font color=.?\\#?ff0000/i\n"
                             "uri     LG_URI    /\\.example\\.biz\\b/\n"
                             "body    LG_COMMON /\\bthe (?:report|figures)\\b/\n"
                             "body    LG_NONE   /[a-z]\\d[a-z]\\d[a-z]/\n";
    char *p;
    mk_sa_rules *rs = load_cf("literals.rules", cf, &p);
    mk_sa_use_prefilter(rs, 1, NULL);
    /* LG_COMMON's "the report" is in the ordinary text, and so is its
     * pattern: it runs without the prefilter; LG_NONE is in a database */
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_lit, 4);
    assert_int_equal(mk_sa_stats_of(rs)->prefiltered, 1);
    assert_int_equal(mk_sa_stats_of(rs)->prefilter_ordinary, 1);
    assert_int_equal(mk_sa_stats_of(rs)->prefiltered_uri, 0);
    char summary[MK_SA_SUMMARY_MAX];
    mk_sa_summary(rs, summary, sizeof(summary));
    assert_non_null(strstr(summary, "; 4 run only on the lines that hold one of their literals"));
    static const char *const msgs[] = {
        "Subject: x\n\nPlease CLAIM the money.\n\nWire transfer today, wire money "
        "tomorrow.\n\nwire\n\nmoney\n",
        "Subject: x\nContent-Type: text/html\n\n<p>a1b2c and <font color=#FF0000>red</font> "
        "<a href=\"http://www.example.biz/x\">here</a></p>\n",
        "Subject: x\n\nclaim\n\nthe money; the figures; the example.biz site\n",
    };
    const char *const want[] = {"LG_PHRASE:1 LG_WIRE:2 ", "LG_RAW:1 LG_NONE:1 ", "LG_COMMON:1 "};
    /* the links, a line each: the second holds the literal */
    static const char *const links[] = {"http://www.example.com/", "http://www.example.biz/x"};
    for (size_t n = 1; n <= 2; n++) {
        GString *off = g_string_new(NULL), *on = g_string_new(NULL);
        prefilter_links_hits(rs, msgs[2], links, n, 0, off);
        prefilter_links_hits(rs, msgs[2], links, n, 1, on);
        assert_string_equal(off->str, n == 1 ? "LG_COMMON:1 " : "LG_URI:1 LG_COMMON:1 ");
        assert_string_equal(on->str, off->str);
        g_string_free(off, TRUE);
        g_string_free(on, TRUE);
    }
    prefilter_same_freed(rs, p, msgs, want, G_N_ELEMENTS(msgs), 0);
}

static const char *const prefilter_hdr_cf = "header  PH_1    Subject =~ /\\bfree\\b/i\n"
                                            "header  PH_2    Subject =~ /^Re:/\n"
                                            "header  PH_3    Subject !~ /[a-z]/\n"
                                            "header  PH_4    Subject =~ /\\$\\d{2,}/\n"
                                            "header  PH_5    Subject =~ /(?:win ){2}/\n"
                                            "header  PH_6    Subject =~ /!$/\n"
                                            "header  PH_7    Subject =~ /^$/ [if-unset: ]\n"
                                            "header  PH_8    Subject =~ /none/ [if-unset: none]\n"
                                            "header  PH_9    Subject =~ /o/\n"
                                            "tflags  PH_9    multiple maxhits=5\n"
                                            "header  PH_10   Subject =~ /\\Asecond/m\n"
                                            "header  PH_11   Subject =~ /^second/m\n"
                                            "header  PH_12   Subject:raw =~ /=\\?utf-8\\?/i\n";

static void test_prefilter_headers(void **state)
{
    (void)state;
    char *p;
    mk_sa_rules *rs = load_cf("prefilter_hdr.rules", prefilter_hdr_cf, &p);
    mk_sa_use_prefilter(rs, 1, NULL);
    /* one header read by eleven rules (and one :raw rule, too few to pay) */
    assert_int_equal(mk_sa_stats_of(rs)->prefiltered_header, 11);
    static const char *const msgs[] = {
        "Subject: Re: win win FREE $100 now!\n\nbody\n",
        "Subject: 123\nSubject: second one, foo boo zoo\n\nbody\n",
        "From: a@b.example\n\nno subject at all\n",
        "Subject: =?utf-8?q?caf=C3=A9?=\n\nbody\n",
        "Subject: 12345\n\nbody\n",
    };
    const char *const want[] = {"PH_1:1 PH_2:1 PH_4:1 PH_5:1 PH_6:1 PH_9:1 ", "PH_9:5 PH_11:1 ",
                                "PH_3:1 PH_7:1 PH_8:1 ", "PH_12:1 ", "PH_3:1 "};
    prefilter_same(rs, msgs, want, G_N_ELEMENTS(msgs));
    mk_sa_free(rs);
    g_unlink(p);
    g_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_eval),
        cmocka_unit_test(test_body_text),
        cmocka_unit_test(test_backtracking_bounded),
        cmocka_unit_test(test_evals),
        cmocka_unit_test(test_relay_evals),
        cmocka_unit_test(test_prefilter),
        cmocka_unit_test(test_html_evals),
        cmocka_unit_test(test_freemail),
        cmocka_unit_test(test_more_evals),
        cmocka_unit_test(test_body_spaces),
        cmocka_unit_test(test_no_jit),
        cmocka_unit_test(test_append_raw),
        cmocka_unit_test(test_body_cut),
        cmocka_unit_test(test_large_repeat),
        cmocka_unit_test(test_large_shared),
        cmocka_unit_test(test_large_cache),
        cmocka_unit_test(test_prefilter_letters),
        cmocka_unit_test(test_prefilter_ordinary),
        cmocka_unit_test(test_prefilter_headers),
        cmocka_unit_test(test_gate_part),
        cmocka_unit_test(test_chain_gate),
        cmocka_unit_test(test_prefilter_uri),
        cmocka_unit_test(test_prefilter_gate),
        cmocka_unit_test(test_prefilter_gate_within),
        cmocka_unit_test(test_unread),
        cmocka_unit_test(test_meta_lazy),
        cmocka_unit_test(test_prefilter_as_written),
        cmocka_unit_test(test_ascii_copy),
        cmocka_unit_test(test_lead_tail),
        cmocka_unit_test(test_literal_gates),
        cmocka_unit_test(test_prefilter_memo),
        cmocka_unit_test(test_prefilter_8bit),
        cmocka_unit_test(test_prefilter_lines),
    };
    return cmocka_run_group_tests_name("sa", tests, setup, teardown);
}
