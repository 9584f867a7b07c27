/*
 * mk_pipe: per-connection and per-message state of the milter pipeline.
 * A connection pool holds what lasts the connection (client, connect-stage
 * results); a message pool what lasts one message, freed at its end.
 */
#include "config.h"

#include "mk_pipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mk_archive.h"
#include "mk_authres.h"
#include "mk_check.h"
#include "mk_dns.h"
#include "mk_log.h"
#include "mk_msg.h"
#include "mk_pool.h"
#include "mk_sendmail.h"
#include "mk_vault.h"
#include "mk_vault_notice.h"

#define MK_PIPE_MAX_FOREIGN 64 /* foreign X-Spam-* headers removed per message */

/* A header that arrived and is to be removed. */
typedef struct mk_foreign {
    const char *name;
    int index;  /* among the headers of that name, as the MTA counts them */
    int always; /* forged Authentication-Results: removed whatever is configured */
} mk_foreign;

/* One message. */
typedef struct mk_txn {
    mk_pool *pool;
    mk_msgbuf *buf;
    mk_msg *msg;
    const char **rcpts;
    mk_list_kind *kinds;  /* per recipient: what its lists say of the envelope sender */
    const char **matched; /* per recipient: the entry that said it ("SCOPE ENTRY"), or NULL */
    size_t n_rcpts, cap_rcpts;
    const char *from;
    const char *auth; /* SMTP AUTH name, or NULL */
    mk_foreign foreign[MK_PIPE_MAX_FOREIGN];
    size_t n_foreign;
    char *seen_names[MK_PIPE_MAX_FOREIGN]; /* names of headers we may remove, with counts */
    int seen_count[MK_PIPE_MAX_FOREIGN];
    size_t n_seen;
    int in_body;
    struct timespec started;
    mk_results res;
} mk_txn;

struct mk_pipe {
    const mk_app *app;
    mk_pool *pool;
    mk_dns *dns;
    mk_envelope env;
    char qid[64];
    mk_results conn_res;
    mk_check_run conn_run;
    int conn_started;
    size_t dns_counted; /* queries already counted in an earlier message's log line */
    mk_txn *txn;
};

void mk_app_init(mk_app *app, const mk_config *cfg)
{
    app->cfg = cfg;
    mk_policy_from_config(&app->policy, cfg);
    app->psl = psl_builtin();
    app->rules = NULL;
    app->bayes = NULL;
    app->lists = NULL;
    app->archive = NULL;
    app->vault = NULL;
    atomic_init(&app->users, 0);
}

int mk_app_users(const mk_app *app)
{
    return atomic_load(&((mk_app *)app)->users);
}

/* Ends the current message: frees its state, forgets its queue ID. */
static void mk_pipe_txn_end(mk_pipe *pipe)
{
    mk_txn *t = pipe->txn;
    if (t == NULL)
        return;
    mk_msg_free(t->msg); /* before the buffer it reads */
    mk_msgbuf_free(t->buf);
    mk_pool_free(t->pool);
    free(t);
    pipe->txn = NULL;
    snprintf(pipe->qid, sizeof(pipe->qid), "NOQUEUE");
}

static mk_txn *mk_pipe_txn(mk_pipe *pipe)
{
    if (pipe->txn != NULL)
        return pipe->txn;
    mk_txn *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->pool = mk_pool_new();
    t->buf = mk_msgbuf_new(pipe->app->cfg->memory_limit, pipe->app->cfg->tmp_dir);
    if (t->pool == NULL || t->buf == NULL) {
        mk_msgbuf_free(t->buf);
        mk_pool_free(t->pool);
        free(t);
        return NULL;
    }
    t->from = "";
    clock_gettime(CLOCK_MONOTONIC, &t->started);
    mk_results_init(&t->res, t->pool);
    pipe->txn = t;
    return t;
}

/* The context of the connect stage's checks (no message yet). */
static mk_check_ctx mk_pipe_conn_ctx(mk_pipe *pipe)
{
    return (mk_check_ctx){.cfg = pipe->app->cfg,
                          .pool = pipe->pool,
                          .dns = pipe->dns,
                          .env = &pipe->env,
                          .res = &pipe->conn_res,
                          .psl = pipe->app->psl,
                          .rules = pipe->app->rules};
}

mk_pipe *mk_pipe_connect(const mk_app *app, const char *host, const char *ip)
{
    mk_pipe *pipe = calloc(1, sizeof(*pipe));
    if (pipe == NULL)
        return NULL;
    pipe->app = app;
    pipe->pool = mk_pool_new();
    if (pipe->pool == NULL) {
        free(pipe);
        return NULL;
    }
    atomic_fetch_add(&((mk_app *)app)->users, 1); /* the one field a connection changes */
    snprintf(pipe->qid, sizeof(pipe->qid), "NOQUEUE");
    pipe->env.qid = pipe->qid;
    pipe->env.client_host = mk_pool_strdup(pipe->pool, host);
    pipe->env.mail_from = "";
    pipe->env.helo = "";
    if (ip != NULL && mk_net_parse_addr(ip, &pipe->env.client_addr) == 0) {
        char buf[64];
        pipe->env.have_addr = 1;
        pipe->env.client_ip =
            mk_pool_strdup(pipe->pool, mk_net_addr_str(&pipe->env.client_addr, buf, sizeof(buf)));
    }
    mk_results_init(&pipe->conn_res, pipe->pool);

    char err[256];
    const mk_config *cfg = app->cfg;
    long try_ms = cfg->dns_timeout_ms / 2 > 0 ? cfg->dns_timeout_ms / 2 : 1;
    int need_dns = mk_checks_need_dns(cfg);
    if (need_dns)
        pipe->dns = mk_dns_new(cfg->dns_servers, (int)try_ms, err, sizeof(err));
    if (pipe->dns == NULL && need_dns)
        mk_log(LOG_ERR, NULL, "resolver: %s (DNS checks are off for this connection)", err);

    mk_check_ctx ctx = mk_pipe_conn_ctx(pipe);
    mk_checks_start(&ctx, MK_STAGE_CONNECT, &pipe->conn_run);
    pipe->conn_started = 1;
    mk_log(LOG_DEBUG, NULL, "connect from %s [%s]", host ? host : "unknown",
           pipe->env.client_ip ? pipe->env.client_ip : "unknown");
    return pipe;
}

void mk_pipe_close(mk_pipe *pipe)
{
    if (pipe == NULL)
        return;
    mk_pipe_txn_end(pipe);
    mk_dns_free(pipe->dns); /* runs pending callbacks: before the pool they write to */
    mk_pool_free(pipe->pool);
    atomic_fetch_sub(&((mk_app *)pipe->app)->users, 1);
    free(pipe);
}

void mk_pipe_set_qid(mk_pipe *pipe, const char *qid)
{
    if (qid != NULL && qid[0] != '\0')
        snprintf(pipe->qid, sizeof(pipe->qid), "%s", qid);
}

const char *mk_pipe_qid(const mk_pipe *pipe)
{
    return pipe->qid;
}

int mk_pipe_helo(mk_pipe *pipe, const char *helo)
{
    pipe->env.helo = mk_pool_strdup(pipe->pool, helo ? helo : "");
    return pipe->env.helo != NULL ? 0 : -1;
}

/* "<a@b>" -> "a@b"; the null sender "<>" -> "". */
static const char *mk_pipe_unbracket(mk_pool *pool, const char *addr)
{
    if (addr == NULL)
        return "";
    size_t n = strlen(addr);
    if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>')
        return mk_pool_strndup(pool, addr + 1, n - 2);
    return mk_pool_strdup(pool, addr);
}

int mk_pipe_mail(mk_pipe *pipe, const char *from)
{
    mk_pipe_txn_end(pipe); /* a new MAIL FROM starts a new message */
    mk_txn *t = mk_pipe_txn(pipe);
    if (t == NULL) {
        mk_log(LOG_ERR, pipe->qid, "out of memory at MAIL FROM");
        return -1;
    }
    t->from = mk_pipe_unbracket(t->pool, from);
    return t->from != NULL ? 0 : -1;
}

/* What the lists of rcpt's user say of sender, or MK_LIST_NONE without
 * lists or sender; *matched (pool) the entry that decided. */
static mk_list_kind mk_pipe_list_kind(mk_pipe *pipe, const char *rcpt, const char *sender,
                                      const char **matched)
{
    *matched = NULL;
    if (pipe->app->lists == NULL || sender == NULL || sender[0] == '\0')
        return MK_LIST_NONE;
    char *user = mk_lists_user_of_rcpt(rcpt, pipe->app->cfg->lists_recipient_delimiter);
    if (user == NULL)
        return MK_LIST_NONE;
    char m[600];
    mk_list_kind kind = mk_lists_reader_lookup(pipe->app->lists, user, sender, m, sizeof(m));
    g_free(user);
    if (kind != MK_LIST_NONE)
        *matched = mk_pool_strdup(pipe->txn->pool, m);
    return kind;
}

/* Grows the recipient arrays to hold one more; 0 or -1. */
static int mk_pipe_rcpt_room(mk_txn *t)
{
    if (t->n_rcpts < t->cap_rcpts)
        return 0;
    size_t ncap = t->cap_rcpts ? t->cap_rcpts * 2 : 8;
    const char **rcpts = mk_pool_alloc(t->pool, ncap * sizeof(*rcpts));
    const char **matched = mk_pool_alloc(t->pool, ncap * sizeof(*matched));
    mk_list_kind *kinds = mk_pool_alloc(t->pool, ncap * sizeof(*kinds));
    if (rcpts == NULL || matched == NULL || kinds == NULL)
        return -1;
    if (t->n_rcpts > 0) {
        memcpy(rcpts, t->rcpts, t->n_rcpts * sizeof(*rcpts));
        memcpy(matched, t->matched, t->n_rcpts * sizeof(*matched));
        memcpy(kinds, t->kinds, t->n_rcpts * sizeof(*kinds));
    }
    t->rcpts = rcpts;
    t->matched = matched;
    t->kinds = kinds;
    t->cap_rcpts = ncap;
    return 0;
}

void mk_pipe_set_auth(mk_pipe *pipe, const char *name)
{
    mk_txn *t = mk_pipe_txn(pipe);
    if (t != NULL)
        t->auth = name != NULL && *name != '\0' ? mk_pool_strdup(t->pool, name) : NULL;
}

int mk_pipe_rcpt(mk_pipe *pipe, const char *rcpt, mk_outcome *out)
{
    memset(out, 0, sizeof(*out));
    out->action = MK_ACTION_ACCEPT;
    mk_txn *t = mk_pipe_txn(pipe);
    if (t == NULL || mk_pipe_rcpt_room(t) != 0)
        return -1;
    const char *addr = mk_pipe_unbracket(t->pool, rcpt);
    if (addr == NULL)
        return -1;
    const mk_config *cfg = pipe->app->cfg;
    const char *matched;
    mk_list_kind kind = mk_pipe_list_kind(pipe, addr, t->from, &matched);
    if (kind == MK_LIST_BLOCK && cfg->lists_block_action == MK_DISPOSE_REJECT) {
        out->action = MK_ACTION_REJECT;
        out->rcode = "550";
        out->xcode = "5.7.1";
        out->text = "The sender is on this recipient's block list";
        mk_log(LOG_INFO, pipe->qid, "from=<%s> to=<%s> rejected: on the block list (%s)", t->from,
               addr, matched);
        return 0;
    }
    if (cfg->lists_split_recipients && t->n_rcpts > 0 && kind != t->kinds[0]) {
        /* one message carries one verdict: this recipient comes in its own */
        out->action = MK_ACTION_TEMPFAIL;
        out->rcode = "452";
        out->xcode = "4.5.3";
        out->text = "This recipient's sender lists differ from the other recipients'; send it "
                    "in a separate message";
        mk_log(LOG_INFO, pipe->qid, "from=<%s> to=<%s> deferred: %s here, %s for <%s>", t->from,
               addr, mk_list_kind_name(kind), mk_list_kind_name(t->kinds[0]), t->rcpts[0]);
        return 0;
    }
    t->rcpts[t->n_rcpts] = addr;
    t->kinds[t->n_rcpts] = kind;
    t->matched[t->n_rcpts] = matched;
    t->n_rcpts++;
    return 0;
}

static int mk_pipe_append(mk_pipe *pipe, const void *data, size_t len)
{
    char err[256];
    if (mk_msgbuf_append(pipe->txn->buf, data, len, err, sizeof(err)) != 0) {
        mk_log(LOG_ERR, pipe->qid, "cannot buffer message: %s", err);
        return -1;
    }
    return 0;
}

/* Counts the headers of a name (case-insensitive), as the MTA numbers them
 * for deletion; remembers this one to delete when drop is set (always: even
 * with remove_foreign_headers off). */
static void mk_pipe_note_header(mk_pipe *pipe, const char *name, int drop, int always)
{
    mk_txn *t = pipe->txn;
    size_t i;
    for (i = 0; i < t->n_seen; i++)
        if (strcasecmp(t->seen_names[i], name) == 0)
            break;
    if (i == t->n_seen) {
        if (t->n_seen == MK_PIPE_MAX_FOREIGN)
            return;
        t->seen_names[t->n_seen] = mk_pool_strdup(t->pool, name);
        t->seen_count[t->n_seen++] = 0;
    }
    int idx = ++t->seen_count[i];
    if (drop && t->n_foreign < MK_PIPE_MAX_FOREIGN) {
        t->foreign[t->n_foreign].name = t->seen_names[i];
        t->foreign[t->n_foreign].index = idx;
        t->foreign[t->n_foreign].always = always;
        t->n_foreign++;
    }
}

int mk_pipe_header(mk_pipe *pipe, const char *name, const char *value)
{
    mk_txn *t = mk_pipe_txn(pipe);
    if (t == NULL)
        return -1;
    if (value == NULL)
        value = "";
    if (mk_verdict_is_own_header(name))
        mk_pipe_note_header(pipe, name, 1, 0);
    else if (strcasecmp(name, "Authentication-Results") == 0)
        mk_pipe_note_header(pipe, name, mk_authres_claims(value, pipe->app->cfg->authserv_id), 1);
    /* Rebuild the header in wire form: folds become CRLF + the fold's space. */
    if (mk_pipe_append(pipe, name, strlen(name)) != 0 || mk_pipe_append(pipe, ":", 1) != 0)
        return -1;
    const char *p = value;
    while (*p != '\0') {
        size_t run = strcspn(p, "\r\n");
        if (run > 0 && mk_pipe_append(pipe, p, run) != 0)
            return -1;
        p += run;
        if (*p == '\0')
            break;
        if (p[0] == '\r' && p[1] == '\n')
            p += 2;
        else
            p++;
        if (mk_pipe_append(pipe, "\r\n", 2) != 0)
            return -1;
    }
    return mk_pipe_append(pipe, "\r\n", 2);
}

int mk_pipe_eoh(mk_pipe *pipe)
{
    mk_txn *t = mk_pipe_txn(pipe);
    if (t == NULL)
        return -1;
    t->in_body = 1;
    return mk_pipe_append(pipe, "\r\n", 2);
}

int mk_pipe_body(mk_pipe *pipe, const void *data, size_t len)
{
    mk_txn *t = mk_pipe_txn(pipe);
    if (t == NULL)
        return -1;
    if (!t->in_body && mk_pipe_eoh(pipe) != 0)
        return -1;
    return mk_pipe_append(pipe, data, len);
}

void mk_pipe_error_outcome(const mk_app *app, mk_outcome *out)
{
    memset(out, 0, sizeof(*out));
    out->error = 1;
    /* with the vault on, a failure never lets a message through unread:
     * it could be a secure one, which must not go out in clear */
    if (app->cfg->on_error == MK_ON_ERROR_ACCEPT && app->vault == NULL) {
        out->action = MK_ACTION_ACCEPT;
    } else {
        out->action = MK_ACTION_TEMPFAIL;
        out->rcode = "451";
        out->xcode = "4.7.1";
        out->text = "Message filter temporarily unavailable, try again later";
    }
}

static long mk_pipe_ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* "SYM(score),SYM(score)" for the log line. */
static const char *mk_pipe_symbols_text(mk_pool *pool, const mk_results *res)
{
    size_t cap = 1;
    for (size_t i = 0; i < res->n; i++)
        cap += strlen(res->syms[i].name) + 24;
    char *s = mk_pool_alloc(pool, cap);
    if (s == NULL || res->n == 0)
        return "none";
    size_t o = 0;
    for (size_t i = 0; i < res->n; i++) {
        int n = snprintf(s + o, cap - o, "%s%s(%.2f)", i ? "," : "", res->syms[i].name,
                         res->syms[i].score);
        if (n > 0)
            o += (size_t)n;
    }
    return s;
}

/* How many arriving headers are removed. */
static size_t mk_pipe_removed(const mk_pipe *pipe)
{
    size_t n = 0;
    for (size_t i = 0; i < pipe->txn->n_foreign; i++)
        n += pipe->app->cfg->remove_foreign_headers || pipe->txn->foreign[i].always;
    return n;
}

static int mk_pipe_build_edits(mk_pipe *pipe, mk_outcome *out, const mk_header *hdrs, size_t nh)
{
    mk_txn *t = pipe->txn;
    int remove = pipe->app->cfg->remove_foreign_headers;
    mk_edit *edits = mk_pool_alloc(t->pool, (t->n_foreign + nh + 1) * sizeof(*edits));
    if (edits == NULL)
        return -1;
    size_t n = 0;
    /* Highest index first, so each deletion leaves the lower indexes valid. */
    for (size_t i = t->n_foreign; i-- > 0;)
        if (remove || t->foreign[i].always)
            edits[n++] = (mk_edit){MK_EDIT_DELETE, t->foreign[i].name, t->foreign[i].index, NULL};
    /* Each insert goes to the top: the last inserted stands first. */
    for (size_t i = nh; i-- > 0;)
        edits[n++] = (mk_edit){MK_EDIT_INSERT, hdrs[i].name, 0, hdrs[i].value};
    out->edits = edits;
    out->n_edits = n;
    return 0;
}

/* The authentication method that failed outright (SPF fail, DMARC fail),
 * or NULL. */
static const char *mk_pipe_auth_failed(const mk_results *res)
{
    for (size_t i = 0; i < res->n_auth; i++)
        if ((strcmp(res->auth[i].method, "spf") == 0 ||
             strcmp(res->auth[i].method, "dmarc") == 0) &&
            strcmp(res->auth[i].result, "fail") == 0)
            return res->auth[i].method;
    return NULL;
}

/* What the recipients' lists make of the message once every check is in.
 * Each recipient's class is its lists' word on the envelope sender (known
 * at RCPT) or on the From address, a block entry before a friend entry.
 * When the recipients disagree, which one message cannot carry, the
 * envelope sender's class decides where it is the same for all of them
 * (split_recipients makes it so), else none. 0, or -1 out of memory. */
static int mk_pipe_lists_apply(mk_pipe *pipe)
{
    mk_txn *t = pipe->txn;
    const mk_config *cfg = pipe->app->cfg;
    if (pipe->app->lists == NULL || t->n_rcpts == 0)
        return 0;
    char *author = mk_lists_header_addr(t->msg, "From");
    int author_differs = author != NULL && g_ascii_strcasecmp(author, t->from) != 0;
    mk_list_kind kind = MK_LIST_NONE;
    const char *matched = NULL;
    int agree = 1, env_agree = 1;
    for (size_t i = 0; i < t->n_rcpts; i++) {
        mk_list_kind k = t->kinds[i];
        const char *m = t->matched[i];
        if (author_differs) {
            const char *am;
            mk_list_kind ka = mk_pipe_list_kind(pipe, t->rcpts[i], author, &am);
            if (ka == MK_LIST_BLOCK || (ka == MK_LIST_FRIEND && k == MK_LIST_NONE)) {
                k = ka;
                m = am;
            }
        }
        if (i == 0) {
            kind = k;
            matched = m;
        }
        agree &= k == kind;
        env_agree &= t->kinds[i] == t->kinds[0];
    }
    if (!agree) {
        kind = env_agree ? t->kinds[0] : MK_LIST_NONE;
        matched = t->matched[0];
        mk_log(LOG_INFO, pipe->qid,
               "the %zu recipients' lists differ on <%s>: one message, one verdict: %s", t->n_rcpts,
               author ? author : t->from, mk_list_kind_name(kind));
    }
    g_free(author);
    int rc = 0;
    if (kind == MK_LIST_FRIEND) {
        const char *failed = mk_pipe_auth_failed(&t->res);
        if (failed != NULL && !cfg->lists_friend_on_auth_fail) {
            /* a forged friend address does not pass */
            char detail[700];
            snprintf(detail, sizeof(detail), "%s, but %s failed", matched, failed);
            rc = mk_results_add(&t->res, "USER_IN_WELCOMELIST_FORGED", 0, detail, NULL);
        } else {
            int skip = cfg->lists_friend_action == MK_FRIEND_SKIP;
            rc = mk_results_add(&t->res, "USER_IN_WELCOMELIST", skip ? 0 : cfg->lists_friend_score,
                                matched, NULL);
            t->res.not_spam = skip;
        }
    } else if (kind == MK_LIST_BLOCK) {
        const char *why = "The sender is on the recipient's block list";
        /* the score counts only where it is all the list does (report): marked
         * as spam or held, the message must not be refused by its score */
        int report = cfg->lists_block_action == MK_DISPOSE_REPORT;
        rc = mk_results_add(&t->res, "USER_IN_BLOCKLIST", report ? cfg->lists_block_score : 0,
                            matched, why);
        if (cfg->lists_block_action == MK_DISPOSE_REJECT)
            mk_results_force(&t->res, MK_ACTION_REJECT, why);
        else if (cfg->lists_block_action == MK_DISPOSE_SPAM)
            mk_results_force(&t->res, MK_ACTION_ADD_HEADER, why);
        else if (cfg->lists_block_action == MK_DISPOSE_HOLD)
            mk_results_hold(&t->res, why);
    }
    return rc;
}

/* Whether domain (of an address) is one of [general] local_domains. */
static int mk_pipe_local_domain(const mk_config *cfg, const char *addr)
{
    const char *at = strrchr(addr, '@');
    if (at == NULL || cfg->local_domains[0] == '\0')
        return 0;
    char **doms = g_strsplit_set(cfg->local_domains, ", \t", -1);
    int local = 0;
    for (char **d = doms; *d != NULL && !local; d++)
        local = **d != '\0' && g_ascii_strcasecmp(*d, at + 1) == 0;
    g_strfreev(doms);
    return local;
}

/* The message's direction: "out" or "internal" from an authenticated or
 * internal client (to some outside recipient, or to local ones only),
 * else "in". */
static const char *mk_pipe_direction(const mk_pipe *pipe)
{
    const mk_config *cfg = pipe->app->cfg;
    const mk_txn *t = pipe->txn;
    int ours =
        t->auth != NULL || (pipe->env.have_addr &&
                            mk_net_list_contains(&cfg->internal_networks, &pipe->env.client_addr));
    if (!ours)
        return "in";
    for (size_t i = 0; i < t->n_rcpts; i++)
        if (!mk_pipe_local_domain(cfg, t->rcpts[i]))
            return "out";
    return "internal";
}

/* The message as received, whole (g_byte_array_free it). */
static GByteArray *mk_pipe_bytes(const mk_txn *t)
{
    GByteArray *bytes = g_byte_array_sized_new((guint)mk_msgbuf_size(t->buf));
    GMimeStream *s = mk_msgbuf_stream(t->buf);
    char chunk[65536];
    ssize_t n;
    while (s != NULL && (n = g_mime_stream_read(s, chunk, sizeof(chunk))) > 0)
        g_byte_array_append(bytes, (const guint8 *)chunk, (guint)n);
    if (s != NULL)
        g_object_unref(s);
    return bytes;
}

/* The headers a vault notification keeps of the original: who wrote it to
 * whom, when, the thread, and the trace. */
static int mk_pipe_vault_keeps(const char *name)
{
    static const char *const keep[] = {"From",       "To",       "Cc",          "Date",
                                       "Message-ID", "Reply-To", "In-Reply-To", "References",
                                       "Sender",     "Received", "Return-Path"};
    for (size_t i = 0; i < G_N_ELEMENTS(keep); i++)
        if (g_ascii_strcasecmp(name, keep[i]) == 0)
            return 1;
    return 0;
}

/* The names of the header fields of a raw message, in order (GMime keeps
 * the Content-* ones apart, on the MIME part): each field's name, up to its
 * colon; continuation lines belong to the field before. g_ptr_array_free. */
static GPtrArray *mk_pipe_header_names(const guint8 *data, size_t len)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && data[end] != '\n')
            end++;
        size_t line = end > i && data[end - 1] == '\r' ? end - 1 - i : end - i;
        if (line == 0)
            break; /* the blank line: the body follows */
        if (data[i] != ' ' && data[i] != '\t') {
            const guint8 *colon = memchr(data + i, ':', line);
            if (colon != NULL)
                g_ptr_array_add(names,
                                g_strndup((const char *)data + i, (gsize)(colon - (data + i))));
        }
        i = end + 1;
    }
    return names;
}

/* Mails the sender a copy of the notification with a revoke link
 * ([vault] notify_sender), through [webvault] sendmail; a failure is
 * logged (the message is vaulted and its recipients notified all the same). */
static void mk_pipe_vault_sender_copy(mk_pipe *pipe, const char *sender, const char *subject,
                                      char *const *rcpts, const char *url, const char *link,
                                      const char *revoke, gint64 expires)
{
    const mk_config *cfg = pipe->app->cfg;
    size_t ulen = strlen(cfg->vault_url);
    char *revoke_url =
        g_strdup_printf("%s%sr/%s/%s", cfg->vault_url,
                        ulen > 0 && cfg->vault_url[ulen - 1] == '/' ? "" : "/", link, revoke);
    char *copy = mk_vault_sender_copy(cfg->webvault_code_from, sender, subject, rcpts, url,
                                      revoke_url, expires);
    char err[512];
    if (copy == NULL)
        mk_log(LOG_WARNING, pipe->qid, "vault: the sender's address cannot take a copy");
    else if (mk_sendmail(cfg->webvault_sendmail, cfg->webvault_code_from, sender, copy,
                         strlen(copy), err, sizeof(err)) != 0)
        mk_log(LOG_WARNING, pipe->qid, "vault: the sender's copy was not sent: %s", err);
    else
        mk_log(LOG_INFO, pipe->qid, "vault: the sender's copy, with a revoke link, was sent");
    if (copy != NULL)
        memset(copy, 0, strlen(copy)); /* it holds the revoke token */
    g_free(copy);
    memset(revoke_url, 0, strlen(revoke_url));
    g_free(revoke_url);
}

/* The vault divert ([vault] enabled): an outgoing message whose Subject
 * holds a keyword is kept sealed in the vault, and what goes out instead is
 * the notification: the headers it keeps (mk_pipe_vault_keeps), the subject
 * without the keyword, a new body. Runs after the archive took the
 * original. 0 (diverted, or nothing to divert), or -1 (logged: the
 * message must not go out in clear). */
static int mk_pipe_vault(mk_pipe *pipe, mk_outcome *out)
{
    const mk_app *app = pipe->app;
    const mk_config *cfg = app->cfg;
    mk_txn *t = pipe->txn;
    /* outgoing: from an authenticated or internal client, or with
     * [vault] local_senders from a sender of one of our domains */
    int ours = strcmp(mk_pipe_direction(pipe), "in") != 0 ||
               (cfg->vault_local_senders && mk_pipe_local_domain(cfg, t->from));
    if (app->vault == NULL || out->action == MK_ACTION_REJECT ||
        out->action == MK_ACTION_TEMPFAIL || !ours)
        return 0;
    GMimeMessage *mime = t->msg->mime;
    char *subject = NULL;
    GPtrArray *names = NULL; /* the original's header names */
    if (!mk_vault_subject_match(g_mime_message_get_subject(mime), cfg->vault_keywords, &subject))
        return 0;
    /* who wrote it: replies from the reader go there */
    const char *from_name = NULL;
    char *author = mk_lists_header_addr(t->msg, "From");
    InternetAddressList *froms = g_mime_message_get_from(mime);
    if (froms != NULL && internet_address_list_length(froms) > 0)
        from_name = internet_address_get_name(internet_address_list_get_address(froms, 0));
    const char *sender = author != NULL ? author : t->from;
    char **rcpts = mk_pool_alloc(t->pool, (t->n_rcpts + 1) * sizeof(*rcpts));
    if (rcpts == NULL)
        goto fail;
    for (size_t i = 0; i < t->n_rcpts; i++)
        rcpts[i] = (char *)t->rcpts[i];
    rcpts[t->n_rcpts] = NULL;
    const char *from_hdr = g_mime_object_get_header(GMIME_OBJECT(mime), "From");
    gint64 now = (gint64)time(NULL);
    gint64 expires = now + (gint64)cfg->vault_expire_days * 86400;
    mk_vault_meta meta = {.sender = (char *)sender,
                          .from = (char *)(from_hdr != NULL ? from_hdr : sender),
                          .subject = subject,
                          .rcpts = rcpts,
                          .date = now};
    GByteArray *bytes = mk_pipe_bytes(t);
    char link[MK_VAULT_LINK], revoke[MK_VAULT_LINK], id[MK_VAULT_ID], err[512];
    int rc = mk_vault_put(app->vault, &meta, bytes->data, bytes->len, now, expires, link, revoke,
                          id, err, sizeof(err));
    guint size = bytes->len;
    names = mk_pipe_header_names(bytes->data, bytes->len);
    g_byte_array_free(bytes, TRUE);
    if (rc != 0) {
        mk_log(LOG_ERR, pipe->qid, "vault: %s", err);
        goto fail;
    }
    size_t ulen = strlen(cfg->vault_url);
    char *url = mk_pool_printf(t->pool, "%s%sm/%s", cfg->vault_url,
                               ulen > 0 && cfg->vault_url[ulen - 1] == '/' ? "" : "/", link);
    mk_vault_notice *notice = mk_vault_notice_new(from_name, sender, subject, url, expires);
    if (cfg->vault_notify_sender)
        mk_pipe_vault_sender_copy(pipe, sender, subject, rcpts, url, link, revoke, expires);
    /* the new headers and body, from the pool: the outcome outlives this */
    size_t nh = names->len;
    mk_edit *edits = mk_pool_alloc(t->pool, (nh + 4) * sizeof(*edits));
    char *ctype = mk_pool_strdup(t->pool, notice->content_type);
    out->body_len = strlen(notice->body);
    out->body = mk_pool_strndup(t->pool, notice->body, out->body_len);
    mk_vault_notice_free(notice);
    char *enc = g_mime_utils_header_encode_text(NULL, subject, "utf-8");
    char *new_subject = mk_pool_strdup(t->pool, enc);
    g_free(enc);
    if (edits == NULL || ctype == NULL || out->body == NULL || new_subject == NULL || url == NULL)
        goto fail;
    size_t n = 0;
    /* every header the notification does not keep goes, for each name the
     * highest index first, so that each deletion leaves the lower ones */
    for (size_t i = nh; i-- > 0;) {
        const char *name = names->pdata[i];
        if (mk_pipe_vault_keeps(name))
            continue;
        int index = 0;
        for (size_t j = 0; j <= i; j++)
            index += g_ascii_strcasecmp(names->pdata[j], name) == 0;
        edits[n++] = (mk_edit){MK_EDIT_DELETE, mk_pool_strdup(t->pool, name), index, NULL};
    }
    edits[n++] = (mk_edit){MK_EDIT_INSERT, "X-Mailkeeper-Vault", 0, "notification"};
    edits[n++] = (mk_edit){MK_EDIT_INSERT, "Content-Type", 0, ctype};
    edits[n++] = (mk_edit){MK_EDIT_INSERT, "MIME-Version", 0, "1.0"};
    edits[n++] = (mk_edit){MK_EDIT_INSERT, "Subject", 0, new_subject};
    out->edits = edits;
    out->n_edits = n;
    out->vaulted = 1;
    mk_log(LOG_INFO, pipe->qid, "vaulted: %u bytes for %zu recipient(s) as %.12s, until %lld", size,
           t->n_rcpts, id, (long long)expires);
    g_ptr_array_free(names, TRUE);
    g_free(subject);
    g_free(author);
    return 0;
fail:
    if (names != NULL)
        g_ptr_array_free(names, TRUE);
    g_free(subject);
    g_free(author);
    return -1;
}

/* Keeps the message in the archive, synced, before the MTA hears the
 * answer: what it lets through, and what it refuses with [archive]
 * rejected. 0 (kept, or nothing to keep), or -1 (logged). */
static int mk_pipe_archive(mk_pipe *pipe, mk_outcome *out)
{
    const mk_app *app = pipe->app;
    mk_txn *t = pipe->txn;
    int refused = out->action == MK_ACTION_REJECT || out->action == MK_ACTION_TEMPFAIL;
    if (app->archive == NULL || (refused && !app->cfg->archive_rejected) ||
        out->action == MK_ACTION_TEMPFAIL)
        return 0;
    time_t now = time(NULL), until;
    int rule;
    if (!mk_archive_rules_decide(app->cfg, t->from, t->rcpts, t->n_rcpts, t->msg, now, &until,
                                 &rule)) {
        mk_log(LOG_INFO, pipe->qid, "not archived: [archive] rules, rule %d", rule);
        return 0;
    }
    GByteArray *bytes = mk_pipe_bytes(t);
    mk_archive_env env = {.env_from = t->from,
                          .rcpts = t->rcpts,
                          .n_rcpts = t->n_rcpts,
                          .direction = mk_pipe_direction(pipe),
                          .arrival = now,
                          .retain_until = until,
                          .parsed = t->msg};
    char err[512];
    int rc = mk_archive_put(app->archive, (const char *)bytes->data, bytes->len, &env,
                            &out->archived, err, sizeof(err));
    if (rc != 0)
        mk_log(LOG_ERR, pipe->qid, "archive: %s: answering tempfail", err);
    else
        mk_log(LOG_INFO, pipe->qid, "archived as entry %lld (%s, %u bytes)", out->archived,
               env.direction, bytes->len);
    g_byte_array_free(bytes, TRUE);
    return rc;
}

/* A store the message must be in before it is taken (the archive, the
 * vault) failed: 451 4.3.0 with text, whatever on_error says. -1. */
static int mk_pipe_store_failed(mk_outcome *out, const char *text)
{
    memset(out, 0, sizeof(*out));
    out->action = MK_ACTION_TEMPFAIL;
    out->rcode = "451";
    out->xcode = "4.3.0";
    out->text = text;
    out->error = 1;
    return -1;
}

int mk_pipe_eom(mk_pipe *pipe, mk_outcome *out)
{
    const mk_app *app = pipe->app;
    const mk_config *cfg = app->cfg;
    mk_txn *t = mk_pipe_txn(pipe);
    if (t == NULL) {
        mk_pipe_error_outcome(app, out);
        return -1;
    }
    struct timespec eom_start;
    clock_gettime(CLOCK_MONOTONIC, &eom_start);
    memset(out, 0, sizeof(*out));
    if (!t->in_body && mk_pipe_eoh(pipe) != 0)
        goto fail;
    t->msg = mk_msg_parse(t->buf);
    if (t->msg == NULL) {
        mk_log(LOG_ERR, pipe->qid, "cannot parse the buffered message (out of memory?)");
        goto fail;
    }
    pipe->env.mail_from = t->from;
    pipe->env.auth = t->auth;
    pipe->env.rcpts = t->rcpts;
    pipe->env.n_rcpts = t->n_rcpts;

    struct timespec deadline = mk_dns_deadline_in(cfg->dns_timeout_ms);
    GMimeStream *wire = mk_msgbuf_stream(t->buf);
    mk_check_ctx ctx = {.cfg = cfg,
                        .pool = t->pool,
                        .dns = pipe->dns,
                        .env = &pipe->env,
                        .msg = t->msg,
                        .res = &t->res,
                        .deadline = &deadline,
                        .msg_stream = wire,
                        .psl = app->psl,
                        .rules = app->rules,
                        .bayes = app->bayes};
    mk_check_run run;
    mk_checks_start(&ctx, MK_STAGE_EOM, &run);
    if (wire != NULL)
        g_object_unref(wire);
    ctx.msg_stream = NULL;
    if (pipe->dns != NULL && mk_dns_pending(pipe->dns) > 0)
        mk_dns_wait(pipe->dns, &deadline);
    mk_check_ctx cctx = mk_pipe_conn_ctx(pipe);
    mk_checks_finish(&cctx, &pipe->conn_run);
    mk_checks_finish(&ctx, &run);
    mk_check_ctx_clear(&ctx);
    if (mk_results_merge(&t->res, &pipe->conn_res) != 0)
        goto fail;

    if (mk_pipe_lists_apply(pipe) != 0)
        goto fail;
    mk_verdict_decide(&t->res, &app->policy, t->pool, &out->verdict);
    out->action = out->verdict.action;
    out->results = &t->res;
    if (out->action == MK_ACTION_REJECT) {
        out->rcode = "550";
        out->xcode = "5.7.1";
        out->text = out->verdict.reply;
    } else if (out->action == MK_ACTION_TEMPFAIL) {
        out->rcode = "451";
        out->xcode = "4.7.1";
        out->text = out->verdict.reply;
    } else {
        out->hold = t->res.hold_reason;
        mk_header hdrs[MK_VERDICT_HEADERS + 1];
        hdrs[0] = (mk_header){"Authentication-Results",
                              mk_authres_value(&t->res, cfg->authserv_id, t->pool)};
        size_t nh = 1 + mk_verdict_headers(&t->res, &out->verdict, &app->policy, t->pool, hdrs + 1);
        for (size_t i = 0; i < nh; i++)
            if (hdrs[i].value == NULL)
                goto fail;
        if (mk_pipe_build_edits(pipe, out, hdrs, nh) != 0)
            goto fail;
    }
    if (mk_pipe_archive(pipe, out) != 0) {
        /* not kept, so not taken: the sender retries, nothing is lost */
        return mk_pipe_store_failed(out,
                                    "The archive cannot keep the message now, try again later");
    }
    if (mk_pipe_vault(pipe, out) != 0) /* not sealed, so not sent: never in clear */
        return mk_pipe_store_failed(
            out, "The secure vault cannot keep the message now, try again later");
    /* The connection's queries (RBL) count with its first message. */
    size_t asked = pipe->dns != NULL ? mk_dns_asked(pipe->dns) : 0;
    size_t dns = asked - pipe->dns_counted;
    pipe->dns_counted = asked;
    mk_log(LOG_INFO, pipe->qid,
           "client=%s[%s] from=<%s> rcpts=%zu size=%zu score=%.2f/%.2f action=%s%s symbols=%s "
           "removed=%zu dns=%zu time=%ldms eom=%ldms",
           pipe->env.client_host && pipe->env.client_host[0] != '[' ? pipe->env.client_host
                                                                    : "unknown",
           pipe->env.client_ip ? pipe->env.client_ip : "unknown", t->from, t->n_rcpts, t->msg->size,
           out->verdict.score, app->policy.add_header, mk_action_name(out->action),
           out->hold != NULL ? " hold" : "", mk_pipe_symbols_text(t->pool, &t->res),
           mk_pipe_removed(pipe), dns, mk_pipe_ms_since(&t->started), mk_pipe_ms_since(&eom_start));
    return 0;
fail:
    mk_pipe_error_outcome(app, out);
    mk_log(LOG_ERR, pipe->qid, "internal error: answering %s (on_error)",
           mk_action_name(out->action));
    return -1;
}

void mk_pipe_abort(mk_pipe *pipe)
{
    mk_pipe_txn_end(pipe);
}
