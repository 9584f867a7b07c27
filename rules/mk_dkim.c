/*
 * mk_dkim: libopendkim behind mailkeeper's resolver, and the DKIM check.
 * libopendkim keeps its DNS hooks per library handle, and libmilter runs
 * connections in threads, so each message gets its own DKIM_LIB.
 */
#include "config.h"

#include "mk_dkim.h"

#include <opendkim/dkim.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mk_check.h"
#include "mk_log.h"

struct mk_dkim_verifier {
    DKIM_LIB *lib;
    mk_dns *dns;
    const struct timespec *deadline;
};

/* One key lookup. Heap-allocated: a lookup given up on is freed by its
 * callback. */
typedef struct mk_dkim_query {
    int done, abandoned, failed;
    unsigned char *buf;
    size_t buflen, bytes;
} mk_dkim_query;

static void mk_dkim_on_answer(void *arg, const mk_dns_answer *ans)
{
    mk_dkim_query *q = arg;
    if (q->abandoned) {
        free(q);
        return;
    }
    if (ans->raw != NULL && ans->raw_len > 0) {
        /* libopendkim reads the reply packet itself (NXDOMAIN included) */
        q->bytes = ans->raw_len < q->buflen ? ans->raw_len : q->buflen;
        memcpy(q->buf, ans->raw, q->bytes);
    } else {
        q->failed = 1;
    }
    q->done = 1;
}

static int mk_dkim_q_start(void *srv, int type, unsigned char *query, unsigned char *buf,
                           size_t buflen, void **qh)
{
    mk_dkim_verifier *v = srv;
    mk_dkim_query *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return DKIM_DNS_ERROR;
    q->buf = buf;
    q->buflen = buflen;
    mk_dns_query(v->dns, (const char *)query, type, mk_dkim_on_answer, q);
    *qh = q;
    return DKIM_DNS_SUCCESS;
}

static int mk_dkim_q_cancel(void *srv, void *qh)
{
    mk_dkim_query *q = qh;
    if (q->done)
        free(q);
    else
        q->abandoned = 1;
    return DKIM_DNS_SUCCESS;
}

static int mk_dkim_q_wait(void *srv, void *qh, struct timeval *timeout, size_t *bytes, int *error,
                          int *dnssec)
{
    mk_dkim_verifier *v = srv;
    mk_dkim_query *q = qh;
    if (dnssec != NULL)
        *dnssec = DKIM_DNSSEC_UNKNOWN;
    if (!q->done && mk_dns_wait_for(v->dns, &q->done, v->deadline) != 0)
        return DKIM_DNS_EXPIRED; /* the message's deadline: libopendkim cancels it */
    if (q->failed) {
        if (error != NULL)
            *error = 0;
        return DKIM_DNS_ERROR;
    }
    if (bytes != NULL)
        *bytes = q->bytes;
    return DKIM_DNS_SUCCESS;
}

/* The service handle is the verifier, which mailkeeper owns: libopendkim
 * must neither make nor free one of its own. */
static int mk_dkim_dns_init(void **srv)
{
    return 0;
}

static void mk_dkim_dns_close(void *srv) {}

static DKIM_LIB *mk_dkim_lib(unsigned min_key_bits)
{
    DKIM_LIB *lib = dkim_init(NULL, NULL);
    if (lib == NULL)
        return NULL;
    unsigned int bits = min_key_bits;
    dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &bits, sizeof(bits));
    return lib;
}

mk_dkim_verifier *mk_dkim_verifier_new(mk_dns *dns, const struct timespec *deadline,
                                       unsigned min_key_bits)
{
    mk_dkim_verifier *v = calloc(1, sizeof(*v));
    if (v == NULL || (v->lib = mk_dkim_lib(min_key_bits)) == NULL) {
        free(v);
        return NULL;
    }
    v->dns = dns;
    v->deadline = deadline;
    dkim_dns_set_init(v->lib, mk_dkim_dns_init);
    dkim_dns_set_close(v->lib, mk_dkim_dns_close);
    dkim_dns_set_query_service(v->lib, v);
    dkim_dns_set_query_start(v->lib, mk_dkim_q_start);
    dkim_dns_set_query_cancel(v->lib, mk_dkim_q_cancel);
    dkim_dns_set_query_waitreply(v->lib, mk_dkim_q_wait);
    return v;
}

mk_dkim_verifier *mk_dkim_verifier_new_file(const char *keyfile, unsigned min_key_bits)
{
    mk_dkim_verifier *v = calloc(1, sizeof(*v));
    if (v == NULL || (v->lib = mk_dkim_lib(min_key_bits)) == NULL) {
        free(v);
        return NULL;
    }
    dkim_query_t method = DKIM_QUERY_FILE;
    dkim_options(v->lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &method, sizeof(method));
    dkim_options(v->lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, (void *)keyfile, strlen(keyfile));
    return v;
}

void mk_dkim_verifier_free(mk_dkim_verifier *v)
{
    if (v == NULL)
        return;
    dkim_close(v->lib);
    free(v);
}

/* RFC 8601 names: key problems are permerror, a signature that cannot be
 * read is neutral, DNS trouble temperror. */
static const char *mk_dkim_result_of(DKIM_SIGINFO *sig)
{
    unsigned int flags = dkim_sig_getflags(sig);
    if ((flags & DKIM_SIGFLAG_PROCESSED) && (flags & DKIM_SIGFLAG_PASSED) &&
        dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH)
        return "pass";
    int err = dkim_sig_geterror(sig);
    switch (err) {
    case DKIM_SIGERROR_KEYFAIL:
        return "temperror";
    case DKIM_SIGERROR_NOKEY:
    case DKIM_SIGERROR_DNSSYNTAX:
    case DKIM_SIGERROR_MULTIREPLY:
    case DKIM_SIGERROR_KEYVERSION:
    case DKIM_SIGERROR_KEYUNKNOWNHASH:
    case DKIM_SIGERROR_KEYHASHMISMATCH:
    case DKIM_SIGERROR_NOTEMAILKEY:
    case DKIM_SIGERROR_KEYTYPEMISSING:
    case DKIM_SIGERROR_KEYTYPEUNKNOWN:
    case DKIM_SIGERROR_KEYREVOKED:
    case DKIM_SIGERROR_KEYDECODE:
    case DKIM_SIGERROR_KEYTOOSMALL:
        return "permerror";
    case DKIM_SIGERROR_OK:
    case DKIM_SIGERROR_BADSIG:
        return (flags & DKIM_SIGFLAG_PROCESSED) ? "fail" : "neutral";
    default:
        return (flags & DKIM_SIGFLAG_PROCESSED) && err == DKIM_SIGERROR_UNKNOWN ? "fail"
                                                                                : "neutral";
    }
}

/* Hands each header field of block [h, h+len) to libopendkim: folds kept,
 * the field's final line end dropped. */
static void mk_dkim_headers(DKIM *dkim, const unsigned char *h, size_t len)
{
    size_t start = 0, i = 0;
    while (i < len) {
        size_t eol = i;
        while (eol < len && h[eol] != '\n')
            eol++;
        size_t next = eol < len ? eol + 1 : len;
        if (next >= len || (h[next] != ' ' && h[next] != '\t')) { /* the field ends here */
            size_t end = eol;
            if (end > start && h[end - 1] == '\r')
                end--;
            if (end > start)
                dkim_header(dkim, (unsigned char *)h + start, end - start);
            start = next;
        }
        i = next;
    }
}

#define MK_DKIM_MAX_HEADER (1024 * 1024) /* header bytes looked at */

/* Feeds the message: header fields up to the empty line, then the body. */
static void mk_dkim_feed(DKIM *dkim, GMimeStream *stream)
{
    GByteArray *buf = g_byte_array_new();
    char chunk[65536];
    ssize_t n;
    size_t hdr_end = 0, body_start = 0;
    int found = 0;
    g_mime_stream_reset(stream);
    while (!found && buf->len < MK_DKIM_MAX_HEADER &&
           (n = g_mime_stream_read(stream, chunk, sizeof(chunk))) > 0) {
        size_t from = buf->len >= 3 ? buf->len - 3 : 0;
        g_byte_array_append(buf, (guint8 *)chunk, (guint)n);
        const guint8 *d = buf->data;
        if (from == 0 && (d[0] == '\n' || (buf->len > 1 && d[0] == '\r' && d[1] == '\n'))) {
            found = 1; /* no header at all */
            body_start = d[0] == '\n' ? 1 : 2;
            break;
        }
        for (size_t k = from; k + 1 < buf->len && !found; k++) {
            if (d[k] != '\n')
                continue;
            if (d[k + 1] == '\n') {
                found = 1;
                hdr_end = k + 1;
                body_start = k + 2;
            } else if (k + 2 < buf->len && d[k + 1] == '\r' && d[k + 2] == '\n') {
                found = 1;
                hdr_end = k + 1;
                body_start = k + 3;
            }
        }
    }
    if (!found)
        hdr_end = body_start = buf->len;
    mk_dkim_headers(dkim, buf->data, hdr_end);
    dkim_eoh(dkim);
    if (body_start < buf->len)
        dkim_body(dkim, buf->data + body_start, buf->len - body_start);
    while ((n = g_mime_stream_read(stream, chunk, sizeof(chunk))) > 0)
        dkim_body(dkim, (unsigned char *)chunk, (size_t)n);
    g_byte_array_free(buf, TRUE);
}

int mk_dkim_verify(mk_dkim_verifier *v, GMimeStream *stream, const char *id, mk_dkim_outcome *out)
{
    memset(out, 0, sizeof(*out));
    DKIM_STAT status = DKIM_STAT_OK;
    DKIM *dkim =
        dkim_verify(v->lib, (const unsigned char *)(id ? id : "mailkeeper"), NULL, &status);
    if (dkim == NULL)
        return -1;
    mk_dkim_feed(dkim, stream);
    dkim_eom(dkim, NULL);
    DKIM_SIGINFO **sigs = NULL;
    int nsigs = 0;
    if (dkim_getsiglist(dkim, &sigs, &nsigs) == DKIM_STAT_OK) {
        for (int i = 0; i < nsigs && out->n < MK_DKIM_MAX_SIGS; i++) {
            mk_dkim_sig *s = &out->sigs[out->n++];
            s->result = mk_dkim_result_of(sigs[i]);
            const unsigned char *d = dkim_sig_getdomain(sigs[i]);
            const unsigned char *sel = dkim_sig_getselector(sigs[i]);
            snprintf(s->domain, sizeof(s->domain), "%s", d ? (const char *)d : "");
            snprintf(s->selector, sizeof(s->selector), "%s", sel ? (const char *)sel : "");
            unsigned char b[sizeof(s->b)];
            size_t blen = sizeof(b) - 1;
            if (dkim_get_sigsubstring(dkim, sigs[i], (char *)b, &blen) == DKIM_STAT_OK) {
                b[blen < sizeof(b) ? blen : sizeof(b) - 1] = '\0';
                snprintf(s->b, sizeof(s->b), "%.8s", (const char *)b);
            }
            int err = dkim_sig_geterror(sigs[i]);
            if (strcmp(s->result, "pass") != 0) {
                /* the body hash first: libopendkim calls that case a bad signature */
                const char *why = NULL;
                if ((dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_PROCESSED) &&
                    dkim_sig_getbh(sigs[i]) == DKIM_SIGBH_MISMATCH)
                    why = "body hash did not verify";
                else if (err != DKIM_SIGERROR_OK)
                    why = dkim_sig_geterrorstr(err);
                snprintf(s->why, sizeof(s->why), "%s", why ? why : "signature did not verify");
            }
        }
    }
    dkim_free(dkim);
    return 0;
}

/* ---- the check ---------------------------------------------------------- */

static int mk_dkim_enabled(const mk_config *cfg)
{
    return cfg->dkim_enabled;
}

/* Symbols as rspamd names them; scores from rspamd's defaults. */
static void mk_dkim_report(mk_check_ctx *ctx, const mk_dkim_outcome *o)
{
    static const struct {
        const char *result, *symbol;
        double score;
    } map[] = {
        {"pass", "DKIM_ALLOW", -0.2},        {"fail", "DKIM_REJECT", 1.0},
        {"temperror", "DKIM_TEMPFAIL", 0.0}, {"permerror", "DKIM_PERMFAIL", 0.0},
        {"neutral", "DKIM_PERMFAIL", 0.0},
    };
    if (o->n == 0) {
        mk_check_add(ctx, "DKIM_NA", 0.0, "no signature", NULL);
        mk_results_auth(ctx->res, "dkim", "none", NULL, NULL);
        return;
    }
    for (size_t i = 0; i < o->n; i++) {
        const mk_dkim_sig *s = &o->sigs[i];
        for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++) {
            if (strcmp(map[k].result, s->result) != 0)
                continue;
            char detail[512];
            snprintf(detail, sizeof(detail), "d=%s s=%s: %s%s%s", s->domain, s->selector, s->result,
                     s->why[0] ? " (" : "", s->why[0] ? s->why : "");
            if (s->why[0])
                strncat(detail, ")", sizeof(detail) - strlen(detail) - 1);
            mk_check_add(ctx, map[k].symbol, map[k].score, detail, NULL);
            break;
        }
        char props[512];
        snprintf(props, sizeof(props), "header.d=%s\nheader.s=%s\nheader.b=%s", s->domain,
                 s->selector, s->b);
        mk_results_auth(ctx->res, "dkim", s->result, s->why[0] ? s->why : NULL, props);
    }
}

static void *mk_dkim_start(mk_check_ctx *ctx)
{
    if (ctx->deadline == NULL || ctx->msg == NULL || ctx->msg_stream == NULL)
        return NULL;
    mk_dkim_verifier *v =
        mk_dkim_verifier_new(ctx->dns, ctx->deadline, (unsigned)ctx->cfg->dkim_min_key_bits);
    if (v == NULL) {
        mk_log(LOG_ERR, ctx->env->qid, "dkim: libopendkim did not start");
        return NULL;
    }
    mk_dkim_outcome o;
    if (mk_dkim_verify(v, ctx->msg_stream, ctx->env->qid, &o) == 0)
        mk_dkim_report(ctx, &o);
    mk_dkim_verifier_free(v);
    return NULL;
}

const mk_check mk_dkim_check = {
    .name = "dkim",
    .stage = MK_STAGE_EOM,
    .needs_dns = 1,
    .enabled = mk_dkim_enabled,
    .start = mk_dkim_start,
    .finish = NULL,
};
