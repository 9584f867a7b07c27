/*
 * mk_learn: learns messages into the Bayes stores and puts their senders on
 * a user's lists (see mk_learn.h); events a busy store cannot take wait in
 * state_dir/spool.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "mk_check.h"
#include "mk_learn.h"
#include "mk_lists.h"
#include "mk_log.h"
#include "mk_mailsrc.h"
#include "mk_msg.h"
#include "mk_relays.h"
#include "mk_sa.h"
#include "mk_spool.h"
#include "mk_uri.h"

void mk_learn_say(mk_learn *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (l->notes != NULL)
        g_string_append_printf(l->notes, MK_LEARN_PROG ": %s\n", line);
    else
        fprintf(stderr, MK_LEARN_PROG ": %s\n", line);
    g_free(line);
}

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
                mk_learn_say(l, "%s: no sender address to list (From: %s%s%s)", what,
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
        mk_learn_say(l, "%s", l->error);
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
        mk_learn_say(l, "%s: cannot read the message%s", what, blank == len ? ": it is empty" : "");
        mk_log(LOG_NOTICE, NULL, "%s: cannot read the message%s; nothing learned", what,
               blank == len ? ": it is empty" : "");
        l->unreadable++;
        mk_msgbuf_free(buf);
        return;
    }
    l->messages++;
    GPtrArray *doms = mk_html_doms(msg);
    char *text = mk_sa_body_text(msg, doms);
    mk_uri_set links;
    mk_uri_set_init(&links, l->psl, MK_CHECK_MAX_LINKS); /* as the milter's mk_check_links */
    mk_uri_set_keep_links(&links, MK_CHECK_MAX_LINKS);
    mk_uri_scan_msg(&links, msg, doms);
    g_ptr_array_unref(doms);
    GPtrArray *names = l->tokens_only ? g_ptr_array_new_with_free_func(g_free) : NULL;
    mk_bayes_toks toks;
    mk_relays *relays = mk_relays_parse(g_mime_object_get_header_list(GMIME_OBJECT(msg->mime)),
                                        &l->cfg->trusted_networks);
    mk_bayes_tokenize(msg, text, NULL, &links, relays, &toks, names);
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
int mk_learn_each(void *data, const char *msg, size_t len, const char *what)
{
    mk_learn *l = data;
    mk_learn_one(l, msg, len, what);
    return l->failed;
}

/* What one store holds. */
void mk_learn_print_stats(mk_bayes_db *db, const char *user)
{
    long nspam = 0, nham = 0;
    mk_bayes_db_totals(db, user, &nspam, &nham);
    printf("%s: %ld spam, %ld ham learned, %ld tokens\n", *user ? user : "global", nspam, nham,
           mk_bayes_db_ntokens(db, user));
}

const char *const mk_learn_cls_names[3] = {"forget", "ham", "spam"};

static char *mk_learn_spool_dir(const mk_config *cfg)
{
    return g_build_filename(cfg->state_dir, "spool", NULL);
}

int mk_learn_spool(mk_learn *l, const char *user, int stores, const char *msg, size_t len)
{
    char *esc = g_uri_escape_string(user, NULL, FALSE);
    const char *cls = mk_learn_cls_names[l->cls + 1];
    char *meta = g_strdup_printf("learn %s %d %s", cls, stores, esc);
    char *dir = mk_learn_spool_dir(l->cfg);
    int busy = strstr(l->error, "locked") != NULL || strstr(l->error, "busy") != NULL;
    const char *why = busy ? "the store is busy" : l->error;
    char err[512];
    int rc = mk_spool_put(dir, meta, msg, len, err, sizeof(err));
    if (rc != 0) {
        mk_learn_say(l, "%s, and the event cannot be kept for later: %s", why, err);
        mk_log(LOG_ERR, NULL, "user=<%s> %s: %s, and the event cannot be kept: %s", user, cls, why,
               err);
    } else {
        mk_learn_say(l, "%s: the event is kept in %s and learned later", why, dir);
        mk_log(LOG_WARNING, NULL, "user=<%s> %s: %s: event spooled in %s", user, cls, why, dir);
    }
    g_free(dir);
    g_free(meta);
    g_free(esc);
    return rc;
}

void mk_learn_stores(mk_learn *l, const char *user, int stores)
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
    mk_learn l = {
        .cfg = run->cfg, .db = run->db, .psl = run->psl, .keep_errors = 1, .notes = run->notes};
    l.cls = strcmp(cls, "spam") == 0  ? MK_BAYES_SPAM
            : strcmp(cls, "ham") == 0 ? MK_BAYES_HAM
                                      : MK_BAYES_FORGET;
    char *user = g_uri_unescape_string(esc, NULL);
    if (user == NULL)
        user = g_strdup("");
    mk_learn_stores(&l, user, global ? global : MK_LEARN_USER);
    if (*user && l.cfg->lists_learn)
        l.list_scope = user;
    mk_mailsrc_bytes(MK_LEARN_PROG, body, len, "spooled event", mk_learn_each, &l, &l.unreadable);
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

int mk_learn_drain(mk_learn *l)
{
    char *dir = mk_learn_spool_dir(l->cfg);
    char err[512];
    size_t done = 0;
    int rc = mk_spool_drain(dir, mk_learn_spooled, l, &done, err, sizeof(err));
    if (rc < 0)
        mk_learn_say(l, "%s", err);
    if (done > 0)
        mk_log(LOG_INFO, NULL, "spool: %zu event(s) learned%s", done,
               rc == 1 ? ", the store is busy again" : "");
    g_free(dir);
    return rc;
}

int mk_learn_store_choice(const mk_config *cfg, int global)
{
    if (global)
        return MK_LEARN_BOTH;
    return cfg->bayes_learn_to == 0   ? MK_LEARN_USER
           : cfg->bayes_learn_to == 1 ? MK_LEARN_GLOBAL
                                      : MK_LEARN_BOTH;
}

/* After a single learn: every MK_LEARN_EXPIRE_EVERY-th message a store
 * has learned, its oldest tokens past [bayes] max_tokens expire. */
static void mk_learn_expire_now_and_then(mk_learn *l, GString *out)
{
    for (size_t u = 0; u < l->n_users; u++) {
        long nspam = 0, nham = 0;
        mk_bayes_db_totals(l->db, l->users[u], &nspam, &nham);
        if ((nspam + nham) % MK_LEARN_EXPIRE_EVERY != 0)
            continue;
        size_t removed = 0;
        char err[512];
        if (mk_bayes_db_expire(l->db, l->users[u], l->cfg->bayes_max_tokens, &removed, err,
                               sizeof(err)) != 0)
            mk_learn_say(l, "expire: %s", err);
        else if (removed > 0)
            g_string_append_printf(out, "%s: %zu token(s) expired\n",
                                   *l->users[u] ? l->users[u] : "global", removed);
    }
}

int mk_learn_event(mk_learn *l, const char *user, int stores, const char *msg, size_t len,
                   GString *out)
{
    mk_learn_stores(l, user, stores);
    if (*user && l->cfg->lists_learn)
        l->list_scope = user;
    l->keep_errors = 1;
    /* what the spool holds goes first: events keep their order */
    if (mk_learn_drain(l) == 1) {
        snprintf(l->error, sizeof(l->error), "the store is busy (older events wait)");
        return mk_learn_spool(l, user, stores, msg, len) == 0 ? EX_OK : EX_TEMPFAIL;
    }
    mk_mailsrc_bytes(MK_LEARN_PROG, msg, len, "stdin", mk_learn_each, l, &l->unreadable);
    char err[512];
    if (l->in_batch > 0 && !l->failed && mk_bayes_db_commit(l->db, err, sizeof(err)) != 0)
        mk_learn_fail(l, NULL, err);
    if (l->failed) {
        mk_bayes_db_rollback(l->db);
        mk_log(LOG_NOTICE, NULL, "user=<%s>: %s", *user ? user : "(global)", l->error);
        return mk_learn_spool(l, user, stores, msg, len) == 0 ? EX_OK : EX_TEMPFAIL;
    }
    g_string_append_printf(out,
                           "%zu message(s): %zu learned, %zu already learned, %zu moved, %zu "
                           "forgotten, %zu not learned before%s\n",
                           l->messages, l->counts[MK_BAYES_LEARNED], l->counts[MK_BAYES_ALREADY],
                           l->counts[MK_BAYES_MOVED], l->counts[MK_BAYES_FORGOTTEN],
                           l->counts[MK_BAYES_UNKNOWN],
                           l->unreadable ? "; some could not be read" : "");
    mk_log(LOG_INFO, NULL, "user=<%s> %s: %s%s", *user ? user : "(global)",
           mk_learn_cls_names[l->cls + 1],
           l->messages == 0                ? "not a message"
           : l->counts[MK_BAYES_LEARNED]   ? "learned"
           : l->counts[MK_BAYES_MOVED]     ? "moved to this class"
           : l->counts[MK_BAYES_FORGOTTEN] ? "forgotten"
           : l->counts[MK_BAYES_ALREADY]   ? "learned before"
                                           : "never learned",
           l->listed     ? ", sender listed"
           : l->unlisted ? ", no sender to list"
                         : "");
    if (l->list_scope != NULL)
        g_string_append_printf(out, "%s's lists: %zu sender(s) %s%s\n", l->list_scope, l->listed,
                               l->cls == MK_BAYES_SPAM  ? "on the block list"
                               : l->cls == MK_BAYES_HAM ? "on the friend list"
                                                        : "taken off the lists",
                               l->unlisted ? ", some messages had no sender address" : "");
    mk_learn_expire_now_and_then(l, out);
    return l->unreadable > 0 ? 1 : EX_OK;
}
