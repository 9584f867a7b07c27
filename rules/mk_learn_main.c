/*
 * NAME
 *   mailkeeper-learn - train mailkeeper's Bayes classifier
 *
 * SYNOPSIS
 *   mailkeeper-learn [-c CONF] --spam|--ham|--forget [--user USER [--global]] [PATH...]
 *   mailkeeper-learn [-c CONF] --stats [--user USER]
 *   mailkeeper-learn [-c CONF] --expire [--user USER]
 *   mailkeeper-learn [-c CONF] --tokens [FILE]
 *   mailkeeper-learn [-c CONF] --spool
 *
 * DESCRIPTION
 *   Learns each message of each PATH as spam or ham, or forgets it: a file
 *   holding one message, an mbox file (it starts with "From "), a Maildir
 *   (a directory with cur/ and new/) or a directory of such files; no PATH
 *   or "-" reads one message from standard input, as Dovecot's sieve pipe
 *   hands it over (an empty message is refused: exit 1). Without --user the
 *   global store learns; with it, that user's store (and the global one too
 *   with --global), and the sender (From) goes on that user's block list
 *   (spam) or friend list (ham) in the same transaction ([lists] learn).
 *
 *   The store remembers each message it learned (by Message-ID, or a
 *   digest of the message without one): learned twice, it counts once;
 *   learned as the other class, it moves. Tokens past [bayes] max_tokens
 *   expire, those learned longest ago first (checked after runs of 100
 *   messages or more, and at every 100th message learned one at a time). The whole run is one
 * series of transactions of up to 500 messages each; a busy store is waited for.
 *
 *   One message on standard input that finds the store busy for 2 s (or
 *   cannot open it) is kept in state_dir/spool and learned by the next run
 *   before its own message, or by --spool (a timer's job); exit 0 once the
 *   event is kept. --stats prints what a store holds; --tokens prints a
 *   message's tokens.
 *
 * EXIT STATUS
 *   0 when every message was read and learned; 1 when some could not be
 *   read (the others are learned); 64-78 (sysexits) on usage, configuration
 *   or store errors.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "mk_bayes.h"
#include "mk_check.h"
#include "mk_config.h"
#include "mk_domain.h"
#include "mk_log.h"
#include "mk_mailsrc.h"
#include "mk_lists.h"
#include "mk_msg.h"
#include "mk_relays.h"
#include "mk_sa.h"
#include "mk_spool.h"
#include "mk_uri.h"

#define MK_PROG        "mailkeeper-learn"
#define MK_LEARN_BATCH 500
/* single learns look at expiry once per this many messages */
#define MK_LEARN_EXPIRE_EVERY 100

typedef struct mk_learn {
    const mk_config *cfg;
    mk_bayes_db *db;
    const psl_ctx_t *psl;
    int cls;
    const char *users[2]; /* the stores that learn: a user's, "" global */
    size_t n_users;
    int tokens_only;
    size_t in_batch;
    size_t counts[5]; /* per mk_bayes_outcome */
    size_t unreadable, messages;
    int failed;             /* a store error: stop */
    int keep_errors;        /* store errors go to error (the caller may spool), not stderr */
    char error[512];        /* the last store error */
    const char *list_scope; /* --user: whose lists the senders go on; NULL: none */
    size_t listed, unlisted;
} mk_learn;

/* Puts the message's sender (the From address, and the envelope sender
 * from Return-Path with [lists] sender = from+return-path) on the user's
 * block list (spam) or friend list (ham), or takes it off (forget), inside
 * the open transaction. A message without a usable sender lists nothing,
 * said on stderr. 0, or -1 on a store error. */
static int mk_learn_sender(mk_learn *l, const mk_msg *msg, const char *what, char *err,
                           size_t errlen)
{
    mk_list_kind kind = l->cls == MK_BAYES_SPAM  ? MK_LIST_BLOCK
                        : l->cls == MK_BAYES_HAM ? MK_LIST_FRIEND
                                                 : MK_LIST_NONE;
    const char *headers[2] = {"From", "Return-Path"};
    int n_headers = l->cfg->lists_sender == MK_LIST_SENDER_FROM_RETURN_PATH ? 2 : 1;
    char *done = NULL; /* the From entry, not listed twice */
    int rc = 0;
    for (int h = 0; h < n_headers && rc == 0; h++) {
        char *addr = mk_lists_header_addr(msg, headers[h]);
        char why[256];
        char *entry = addr != NULL ? mk_lists_entry(addr, why, sizeof(why)) : NULL;
        if (entry == NULL || entry[0] == '@') {
            if (h == 0) { /* no Return-Path (or "<>") is no news */
                const char *value = g_mime_object_get_header(GMIME_OBJECT(msg->mime), "From");
                fprintf(stderr, MK_PROG ": %s: no sender address to list (From: %s%s%s)\n", what,
                        value != NULL ? value : "none", addr != NULL ? "; " : "",
                        addr != NULL ? why : "");
                mk_log(LOG_NOTICE, NULL, "%s: no sender address to list (From: %s)", what,
                       value != NULL ? value : "none");
                l->unlisted++;
            }
        } else if (done == NULL || strcmp(done, entry) != 0) {
            if (mk_lists_set(l->db, l->list_scope, entry, kind, "learn", time(NULL), err, errlen) <
                0)
                rc = -1;
            else
                l->listed++;
        }
        if (h == 0)
            done = g_strdup(entry);
        g_free(entry);
        g_free(addr);
    }
    g_free(done);
    return rc;
}

/* A store error: the run stops; said on stderr, or kept for the caller. */
static void mk_learn_fail(mk_learn *l, const char *what, const char *err)
{
    g_snprintf(l->error, sizeof(l->error), "%s%s%s", what ? what : "", what ? ": " : "", err);
    if (!l->keep_errors)
        fprintf(stderr, MK_PROG ": %s\n", l->error);
    l->failed = 1;
}

/* Parses one message from memory; NULL when it cannot be read. The
 * buffer is returned in *buf (free after the message). */
static mk_msg *mk_learn_parse(const mk_learn *l, const char *data, size_t len, mk_msgbuf **buf)
{
    char err[256];
    *buf = mk_msgbuf_new(l->cfg->memory_limit, l->cfg->tmp_dir);
    if (*buf == NULL || mk_msgbuf_append(*buf, data, len, err, sizeof(err)) != 0)
        return NULL;
    return mk_msg_parse(*buf);
}

/* Prints each distinct token with its counts and probability in the
 * store (when there is one), then the message's probability. */
static void mk_learn_explain(const mk_learn *l, GPtrArray *names, const mk_bayes_toks *toks)
{
    long nspam = 0, nham = 0;
    uint32_t *spam = g_new0(uint32_t, toks->n + 1), *ham = g_new0(uint32_t, toks->n + 1);
    if (l->db != NULL) {
        mk_bayes_db_totals(l->db, l->users[0], &nspam, &nham);
        mk_bayes_db_counts(l->db, l->users[0], toks, spam, ham);
    }
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    printf("%-40s %7s %7s %7s\n", "token", "spam", "ham", "prob");
    for (guint i = 0; i < names->len; i++) {
        const char *name = names->pdata[i];
        if (!g_hash_table_add(seen, (gpointer)name))
            continue;
        uint64_t h = mk_bayes_token_hash(name);
        size_t lo = 0, hi = toks->n; /* toks is sorted */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (toks->h[mid] < h)
                lo = mid + 1;
            else
                hi = mid;
        }
        uint32_t s = lo < toks->n && toks->h[lo] == h ? spam[lo] : 0;
        uint32_t m = lo < toks->n && toks->h[lo] == h ? ham[lo] : 0;
        if (s + m > 0)
            printf("%-40s %7u %7u %7.4f\n", name, s, m, mk_bayes_token_prob(s, m, nspam, nham));
        else
            printf("%-40s %7u %7u %7s\n", name, s, m, "-");
    }
    g_hash_table_destroy(seen);
    size_t used = 0;
    double p = mk_bayes_prob(spam, ham, toks->n, nspam, nham, &used);
    printf("%zu tokens, %zu used; store: %ld spam, %ld ham; probability %.4f\n", toks->n, used,
           nspam, nham, p);
    g_free(spam);
    g_free(ham);
}

/* Learns (or prints the tokens of) one message; what names it for errors. */
static void mk_learn_one(mk_learn *l, const char *data, size_t len, const char *what)
{
    if (l->failed)
        return;
    mk_msgbuf *buf = NULL;
    size_t blank = 0;
    while (blank < len && g_ascii_isspace(data[blank]))
        blank++;
    mk_msg *msg = blank < len ? mk_learn_parse(l, data, len, &buf) : NULL;
    if (msg == NULL) {
        fprintf(stderr, MK_PROG ": %s: cannot read the message%s\n", what,
                blank == len ? ": it is empty" : "");
        mk_log(LOG_NOTICE, NULL, "%s: cannot read the message%s; nothing learned", what,
               blank == len ? ": it is empty" : "");
        l->unreadable++;
        mk_msgbuf_free(buf);
        return;
    }
    l->messages++;
    char *text = mk_sa_body_text(msg);
    mk_uri_set links;
    mk_uri_set_init(&links, l->psl, MK_CHECK_MAX_LINKS); /* as the milter's mk_check_links */
    mk_uri_set_keep_links(&links, MK_CHECK_MAX_LINKS);
    mk_uri_scan_msg(&links, msg);
    GPtrArray *names = l->tokens_only ? g_ptr_array_new_with_free_func(g_free) : NULL;
    mk_bayes_toks toks;
    mk_relays *relays = mk_relays_parse(g_mime_object_get_header_list(GMIME_OBJECT(msg->mime)),
                                        &l->cfg->trusted_networks);
    mk_bayes_tokenize(msg, text, &links, relays, &toks, names);
    mk_relays_free(relays);
    if (names != NULL) {
        mk_learn_explain(l, names, &toks);
        g_ptr_array_free(names, TRUE);
    } else {
        char *msgid = mk_bayes_msgid(msg, text);
        char err[512];
        if (l->in_batch == 0 && mk_bayes_db_begin(l->db, err, sizeof(err)) != 0)
            mk_learn_fail(l, NULL, err);
        for (size_t u = 0; u < l->n_users && !l->failed; u++) {
            mk_bayes_outcome o;
            if (mk_bayes_db_learn(l->db, l->users[u], msgid, l->cls, &toks, time(NULL), &o, err,
                                  sizeof(err)) != 0) {
                mk_learn_fail(l, what, err);
            } else if (u == 0) {
                l->counts[o]++;
            }
        }
        if (!l->failed && l->list_scope != NULL &&
            mk_learn_sender(l, msg, what, err, sizeof(err)) != 0)
            mk_learn_fail(l, what, err);
        if (!l->failed && ++l->in_batch >= MK_LEARN_BATCH) {
            l->in_batch = 0;
            if (mk_bayes_db_commit(l->db, err, sizeof(err)) != 0)
                mk_learn_fail(l, NULL, err);
        }
        g_free(msgid);
    }
    mk_bayes_toks_clear(&toks);
    mk_uri_set_clear(&links);
    g_free(text);
    mk_msg_free(msg);
    mk_msgbuf_free(buf);
}

/* mk_mailsrc's callback: learns one message; stops after a store error. */
static int mk_learn_each(void *data, const char *msg, size_t len, const char *what)
{
    mk_learn *l = data;
    mk_learn_one(l, msg, len, what);
    return l->failed;
}

/* What one store holds. */
static void mk_learn_print_stats(mk_bayes_db *db, const char *user)
{
    long nspam = 0, nham = 0;
    mk_bayes_db_totals(db, user, &nspam, &nham);
    printf("%s: %ld spam, %ld ham learned, %ld tokens\n", *user ? user : "global", nspam, nham,
           mk_bayes_db_ntokens(db, user));
}

static void usage(FILE *out)
{
    fprintf(out, "usage: " MK_PROG " [-c CONF] --spam|--ham|--forget [--user USER [--global]] "
                 "[PATH...]\n"
                 "       " MK_PROG " [-c CONF] --stats|--expire [--user USER]\n"
                 "       " MK_PROG " [-c CONF] --tokens [FILE]\n"
                 "       " MK_PROG " [-c CONF] --spool\n"
                 "  PATH: a message, an mbox file, a Maildir or a directory of messages;\n"
                 "        none or - reads one message from standard input\n");
}

enum {
    OPT_SPAM = 256,
    OPT_HAM,
    OPT_FORGET,
    OPT_USER,
    OPT_GLOBAL,
    OPT_STATS,
    OPT_EXPIRE,
    OPT_TOKENS,
    OPT_SPOOL
};

/* ---- the spool: events the store could not take ----------------------------
 * A learn of one message from standard input (a Dovecot pipe) that finds
 * the store busy past MK_LEARN_BUSY_MS, or cannot open it, is kept in
 * state_dir/spool and learned by the next run (before its own message, so
 * events keep their order) or by --spool. Each event's line: "learn CLASS
 * GLOBAL USER", USER percent-escaped. */

#define MK_LEARN_BUSY_MS 2000

static const char *const mk_learn_cls_names[] = {"forget", "ham", "spam"}; /* by cls + 1 */

static char *mk_learn_spool_dir(const mk_config *cfg)
{
    return g_build_filename(cfg->state_dir, "spool", NULL);
}

/* Keeps the event of user (normalized; "" global) for later; 0 or -1.
 * l->error says why the store did not take it (busy, or worse). */
static int mk_learn_spool(const mk_learn *l, const char *user, int global, const GString *msg)
{
    char *esc = g_uri_escape_string(user, NULL, FALSE);
    const char *cls = mk_learn_cls_names[l->cls + 1];
    char *meta = g_strdup_printf("learn %s %d %s", cls, global, esc);
    char *dir = mk_learn_spool_dir(l->cfg);
    int busy = strstr(l->error, "locked") != NULL || strstr(l->error, "busy") != NULL;
    const char *why = busy ? "the store is busy" : l->error;
    char err[512];
    int rc = mk_spool_put(dir, meta, msg->str, msg->len, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, MK_PROG ": %s, and the event cannot be kept for later: %s\n", why, err);
        mk_log(LOG_ERR, NULL, "user=<%s> %s: %s, and the event cannot be kept: %s", user, cls, why,
               err);
    } else {
        fprintf(stderr, MK_PROG ": %s: the event is kept in %s and learned later\n", why, dir);
        mk_log(LOG_WARNING, NULL, "user=<%s> %s: %s: event spooled in %s", user, cls, why, dir);
    }
    g_free(dir);
    g_free(meta);
    g_free(esc);
    return rc;
}

/* Which stores a user's learning trains ([bayes] learn_to, --global). */
enum { MK_LEARN_USER = 1, MK_LEARN_GLOBAL = 2, MK_LEARN_BOTH = 3 };

/* Sets the stores that learn: user's (normalized; "" is the global store)
 * and/or the global one, per stores (MK_LEARN_*). */
static void mk_learn_stores(mk_learn *l, const char *user, int stores)
{
    l->n_users = 0;
    if (*user && (stores & MK_LEARN_USER))
        l->users[l->n_users++] = user;
    if (!*user || (stores & MK_LEARN_GLOBAL))
        l->users[l->n_users++] = "";
}

/* Learns one spooled event in its own transaction (mk_spool_drain's fn);
 * data is the run's mk_learn, whose store and settings it borrows. */
static int mk_learn_spooled(void *data, const char *meta, const char *body, size_t len)
{
    const mk_learn *run = data;
    char cls[16], esc[1024];
    int global;
    if (sscanf(meta, "learn %15s %d %1023s", cls, &global, esc) != 3) {
        mk_log(LOG_ERR, NULL, "spool: an event not understood is dropped: %.100s", meta);
        return 0;
    }
    mk_learn l = {.cfg = run->cfg, .db = run->db, .psl = run->psl, .keep_errors = 1};
    l.cls = strcmp(cls, "spam") == 0  ? MK_BAYES_SPAM
            : strcmp(cls, "ham") == 0 ? MK_BAYES_HAM
                                      : MK_BAYES_FORGET;
    char *user = g_uri_unescape_string(esc, NULL);
    if (user == NULL)
        user = g_strdup("");
    mk_learn_stores(&l, user, global ? global : MK_LEARN_USER);
    if (*user && l.cfg->lists_learn)
        l.list_scope = user;
    mk_mailsrc_bytes(MK_PROG, body, len, "spooled event", mk_learn_each, &l, &l.unreadable);
    char err[512];
    if (!l.failed && l.in_batch > 0 && mk_bayes_db_commit(l.db, err, sizeof(err)) != 0)
        mk_learn_fail(&l, NULL, err);
    if (l.failed) {
        mk_log(LOG_NOTICE, NULL, "spool: %s; the event stays spooled", l.error);
        mk_bayes_db_rollback(l.db);
    } else
        mk_log(LOG_INFO, NULL, "user=<%s> %s: spooled event learned", user, cls);
    g_free(user);
    return l.failed ? -1 : 0;
}

/* Learns what the spool holds; 0 when it is empty at the end, 1 when the
 * store is still busy, -1 when the spool cannot be read. */
static int mk_learn_drain(mk_learn *l)
{
    char *dir = mk_learn_spool_dir(l->cfg);
    char err[512];
    size_t done = 0;
    int rc = mk_spool_drain(dir, mk_learn_spooled, l, &done, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, MK_PROG ": %s\n", err);
    if (done > 0)
        mk_log(LOG_INFO, NULL, "spool: %zu event(s) learned%s", done,
               rc == 1 ? ", the store is busy again" : "");
    g_free(dir);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"spam", no_argument, NULL, OPT_SPAM},
        {"ham", no_argument, NULL, OPT_HAM},
        {"forget", no_argument, NULL, OPT_FORGET},
        {"user", required_argument, NULL, OPT_USER},
        {"global", no_argument, NULL, OPT_GLOBAL},
        {"stats", no_argument, NULL, OPT_STATS},
        {"expire", no_argument, NULL, OPT_EXPIRE},
        {"tokens", no_argument, NULL, OPT_TOKENS},
        {"spool", no_argument, NULL, OPT_SPOOL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *user = NULL;
    GString *event = NULL; /* the message of standard input, read whole */
    int mode = 0, global = 0, c;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case OPT_USER:
            user = optarg;
            break;
        case OPT_GLOBAL:
            global = 1;
            break;
        case 'h':
            usage(stdout);
            return EX_OK;
        case OPT_SPAM:
        case OPT_HAM:
        case OPT_FORGET:
        case OPT_STATS:
        case OPT_EXPIRE:
        case OPT_TOKENS:
        case OPT_SPOOL:
            if (mode != 0 && mode != c) {
                fprintf(stderr, MK_PROG ": give one of --spam, --ham, --forget, --stats, "
                                        "--expire, --tokens, --spool\n");
                return EX_USAGE;
            }
            mode = c;
            break;
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (mode == 0 || (global && user == NULL)) {
        usage(stderr);
        return EX_USAGE;
    }
    mk_config *cfg = mk_config_load_tool(MK_PROG, config_path);
    if (cfg == NULL)
        return EX_CONFIG;
    char err[4096];
    mk_msg_library_init();
    mk_learn l = {.cfg = cfg, .psl = mk_domain_psl_load(), .tokens_only = mode == OPT_TOKENS};
    l.cls = mode == OPT_SPAM ? MK_BAYES_SPAM : mode == OPT_HAM ? MK_BAYES_HAM : MK_BAYES_FORGET;
    int rc = EX_OK;
    char *path = mk_bayes_db_path(cfg);
    /* the user as the stores name users (lower case, IDNA), the milter too */
    char *norm = user != NULL ? mk_lists_scope(user, err, sizeof(err)) : g_strdup("");
    if (norm != NULL && user != NULL && *norm == '\0') {
        g_free(norm);
        norm = NULL;
        snprintf(err, sizeof(err), "the user name is empty");
    }
    if (norm == NULL) {
        fprintf(stderr, MK_PROG ": --user: %s\n", err);
        mk_log(LOG_NOTICE, NULL, "--user: %s; nothing learned", err);
        rc = EX_USAGE;
        goto out;
    }
    /* which stores learn: --global adds the global one to the user's */
    int stores = global ? MK_LEARN_BOTH : MK_LEARN_USER;
    if (user != NULL && !global && (mode == OPT_SPAM || mode == OPT_HAM || mode == OPT_FORGET))
        stores = cfg->bayes_learn_to == 0   ? MK_LEARN_USER
                 : cfg->bayes_learn_to == 1 ? MK_LEARN_GLOBAL
                                            : MK_LEARN_BOTH;
    mk_learn_stores(&l, norm, stores);
    global = stores; /* what a spooled event says */
    /* a user's learning also sets that user's lists */
    if (user != NULL && cfg->lists_learn && mode != OPT_STATS && mode != OPT_EXPIRE &&
        mode != OPT_TOKENS)
        l.list_scope = norm;
    /* one message on standard input (a Dovecot pipe): read first, so that a
     * busy store cannot lose it */
    int learning = mode == OPT_SPAM || mode == OPT_HAM || mode == OPT_FORGET;
    if (learning && (optind >= argc || (optind == argc - 1 && strcmp(argv[optind], "-") == 0))) {
        event = g_string_new(NULL);
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
            g_string_append_len(event, chunk, (gssize)n);
        if (ferror(stdin)) {
            fprintf(stderr, MK_PROG ": stdin: read error\n");
            rc = EX_IOERR;
            goto out;
        }
    }
    if (!l.tokens_only || access(path, F_OK) == 0) {
        l.db = mk_bayes_db_open(path, mode != OPT_STATS && !l.tokens_only, err, sizeof(err));
        if (l.db == NULL) {
            fprintf(stderr, MK_PROG ": %s: [bayes] database: %s\n", cfg->path, err);
            mk_log(LOG_ERR, NULL, "%s: [bayes] database: %s", cfg->path, err);
            g_strlcpy(l.error, err, sizeof(l.error));
            rc = event != NULL && event->len > 0 && mk_learn_spool(&l, norm, global, event) == 0
                     ? EX_OK
                     : EX_CANTCREAT;
            goto out;
        }
        /* an IMAP command waits on a single learn: it waits briefly, then spools */
        if (event != NULL) {
            sqlite3_busy_timeout(mk_bayes_db_handle(l.db), MK_LEARN_BUSY_MS);
            l.keep_errors = 1;
        }
    }
    if (mode == OPT_STATS) {
        mk_learn_print_stats(l.db, l.users[0]);
        goto out;
    }
    /* what the spool holds goes first: events keep their order */
    if ((learning || mode == OPT_SPOOL) && l.db != NULL) {
        int left = mk_learn_drain(&l);
        if (mode == OPT_SPOOL) {
            rc = left == 0 ? EX_OK : EX_TEMPFAIL;
            goto out;
        }
        if (left == 1 && event != NULL && event->len > 0) {
            snprintf(l.error, sizeof(l.error), "the store is busy (older events wait)");
            rc = mk_learn_spool(&l, norm, global, event) == 0 ? EX_OK : EX_TEMPFAIL;
            goto out;
        }
    }
    if (mode != OPT_EXPIRE) {
        if (event != NULL)
            mk_mailsrc_bytes(MK_PROG, event->str, event->len, "stdin", mk_learn_each, &l,
                             &l.unreadable);
        for (int i = optind; i < argc && !l.failed && event == NULL; i++)
            mk_mailsrc_each(MK_PROG, argv[i], mk_learn_each, &l, &l.unreadable);
        if (l.in_batch > 0 && !l.failed && mk_bayes_db_commit(l.db, err, sizeof(err)) != 0)
            mk_learn_fail(&l, NULL, err);
        if (l.failed && event != NULL) {
            mk_bayes_db_rollback(l.db);
            mk_log(LOG_NOTICE, NULL, "user=<%s>: %s", *norm ? norm : "(global)", l.error);
            rc = mk_learn_spool(&l, norm, global, event) == 0 ? EX_OK : EX_TEMPFAIL;
            goto out;
        }
        if (l.failed) {
            mk_bayes_db_rollback(l.db);
            fprintf(stderr, MK_PROG ": the store is unchanged since the last %d messages' commit\n",
                    MK_LEARN_BATCH);
            rc = EX_TEMPFAIL;
            goto out;
        }
        if (l.tokens_only)
            goto out;
        printf("%zu message(s): %zu learned, %zu already learned, %zu moved, %zu forgotten, %zu "
               "not learned before%s\n",
               l.messages, l.counts[MK_BAYES_LEARNED], l.counts[MK_BAYES_ALREADY],
               l.counts[MK_BAYES_MOVED], l.counts[MK_BAYES_FORGOTTEN], l.counts[MK_BAYES_UNKNOWN],
               l.unreadable ? "; some could not be read" : "");
        if (event != NULL)
            mk_log(LOG_INFO, NULL, "user=<%s> %s: %s%s", *norm ? norm : "(global)",
                   mk_learn_cls_names[l.cls + 1],
                   l.messages == 0                ? "not a message"
                   : l.counts[MK_BAYES_LEARNED]   ? "learned"
                   : l.counts[MK_BAYES_MOVED]     ? "moved to this class"
                   : l.counts[MK_BAYES_FORGOTTEN] ? "forgotten"
                   : l.counts[MK_BAYES_ALREADY]   ? "learned before"
                                                  : "never learned",
                   l.listed     ? ", sender listed"
                   : l.unlisted ? ", no sender to list"
                                : "");
        if (l.list_scope != NULL)
            printf("%s's lists: %zu sender(s) %s%s\n", l.list_scope, l.listed,
                   l.cls == MK_BAYES_SPAM  ? "on the block list"
                   : l.cls == MK_BAYES_HAM ? "on the friend list"
                                           : "taken off the lists",
                   l.unlisted ? ", some messages had no sender address" : "");
    }
    for (size_t u = 0; u < l.n_users; u++) {
        /* counting a store's tokens reads all of them: a learn of one
         * message (an IMAP move) does it at every 100th message only */
        long nspam = 0, nham = 0;
        mk_bayes_db_totals(l.db, l.users[u], &nspam, &nham);
        if (mode != OPT_EXPIRE && l.messages < MK_LEARN_EXPIRE_EVERY &&
            (nspam + nham) % MK_LEARN_EXPIRE_EVERY != 0)
            continue;
        size_t removed = 0;
        if (mk_bayes_db_expire(l.db, l.users[u], cfg->bayes_max_tokens, &removed, err,
                               sizeof(err)) != 0) {
            fprintf(stderr, MK_PROG ": expire: %s\n", err);
            rc = EX_TEMPFAIL;
        } else if (removed > 0 || mode == OPT_EXPIRE) {
            printf("%s: %zu token(s) expired\n", *l.users[u] ? l.users[u] : "global", removed);
        }
        mk_learn_print_stats(l.db, l.users[u]);
    }
    if (rc == EX_OK && l.unreadable > 0)
        rc = 1;
out:
    if (event != NULL)
        g_string_free(event, TRUE);
    g_free(norm);
    mk_bayes_db_close(l.db);
    g_free(path);
    mk_domain_psl_free(l.psl);
    mk_msg_library_cleanup();
    mk_config_free(cfg);
    return rc;
}
