/*
 * mk_dmarc: DMARC (RFC 7489): the policy decision, and the check that asks
 * for the records, reads the From domains and applies what the policy and
 * the configuration say.
 */
#include "config.h"

#include "mk_dmarc.h"

#include <ctype.h>
#include <gmime/gmime.h>
#include <opendmarc/dmarc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "mk_check.h"
#include "mk_domain.h"
#include "mk_log.h"

const char *mk_dmarc_result_name(mk_dmarc_result result)
{
    switch (result) {
    case MK_DMARC_NONE:
        return "none";
    case MK_DMARC_PASS:
        return "pass";
    case MK_DMARC_FAIL:
        return "fail";
    case MK_DMARC_TEMPERROR:
        return "temperror";
    case MK_DMARC_PERMERROR:
        return "permerror";
    }
    return "?";
}

const char *mk_dmarc_policy_name(char policy)
{
    switch (policy) {
    case 'n':
        return "none";
    case 'q':
        return "quarantine";
    case 'r':
        return "reject";
    }
    return "unknown";
}

/* Whether record opens with the version tag, "v" *WSP "=" *WSP "DMARC1"
 * followed by ';', white space or its end (RFC 7489 6.4: v must come first). */
static int mk_dmarc_is_record(const char *record)
{
    const char *p = record;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p++ != 'v')
        return 0;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p++ != '=')
        return 0;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, "DMARC1", 6) != 0)
        return 0;
    p += 6;
    return *p == '\0' || *p == ';' || *p == ' ' || *p == '\t';
}

int mk_dmarc_pick(const mk_dns_answer *answer, const char **record)
{
    *record = NULL;
    if (answer->status == MK_DNS_TEMPERROR)
        return -1;
    if (answer->status != MK_DNS_OK)
        return 0;
    size_t found = 0;
    for (size_t i = 0; i < answer->n_txt; i++)
        if (mk_dmarc_is_record(answer->txt[i])) {
            found++;
            *record = answer->txt[i];
        }
    if (found != 1)
        *record = NULL;
    return found == 1;
}

/* Whether the identifier id is aligned with the From domain: equal in
 * strict mode, the same registered domain in relaxed mode. */
static int mk_dmarc_aligned(const psl_ctx_t *psl, const char *id, const char *from, int mode)
{
    if (id == NULL || id[0] == '\0')
        return 0;
    char norm[MK_DOMAIN_MAX];
    if (mk_domain_normalize(id, strlen(id), norm, sizeof(norm)) != 0)
        return 0;
    if (mode == DMARC_RECORD_A_STRICT)
        return strcmp(norm, from) == 0;
    return mk_domain_same_org(psl, norm, from);
}

/* The value of tag name in record into val, white space trimmed: 1, or 0
 * when the record has no such tag. */
static int mk_dmarc_tag(const char *record, const char *name, char *val, size_t len)
{
    size_t nlen = strlen(name);
    for (const char *p = record; *p != '\0';) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        if (end == NULL)
            end = p + strlen(p);
        const char *q = p + nlen;
        if (strncasecmp(p, name, nlen) == 0) {
            while (*q == ' ' || *q == '\t')
                q++;
            if (*q == '=') {
                q++;
                while (q < end && (*q == ' ' || *q == '\t'))
                    q++;
                size_t n = (size_t)(end - q);
                while (n > 0 && (q[n - 1] == ' ' || q[n - 1] == '\t'))
                    n--;
                if (n >= len)
                    n = len - 1;
                memcpy(val, q, n);
                val[n] = '\0';
                return 1;
            }
        }
        p = end;
    }
    return 0;
}

/* 'n', 'q', 'r' for a p= or sp= value; 0 when it is none of them. */
static int mk_dmarc_policy_of(const char *v)
{
    return strcasecmp(v, "none") == 0         ? 'n'
           : strcasecmp(v, "quarantine") == 0 ? 'q'
           : strcasecmp(v, "reject") == 0     ? 'r'
                                              : 0;
}

/* A pct= value: an integer from 0 to 100, else -1. */
static int mk_dmarc_pct_of(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 3 || strspn(v, "0123456789") != n)
        return -1;
    int pct = atoi(v);
    return pct <= 100 ? pct : -1;
}

/* The tags libopendmarc refused, read as RFC 7489 6.6.3 says: without a
 * valid p= (or with a bad sp=) the record counts as p=none if it asks for
 * reports, else as no record at all; a bad optional tag takes its default. */
static int mk_dmarc_parse_lenient(const char *record, int *p, int *sp, int *pct, int *adkim,
                                  int *aspf, char *why, size_t whylen)
{
    char v[256];
    *p = mk_dmarc_tag(record, "p", v, sizeof(v)) ? mk_dmarc_policy_of(v) : 0;
    int has_sp = mk_dmarc_tag(record, "sp", v, sizeof(v));
    *sp = has_sp ? mk_dmarc_policy_of(v) : 0;
    if (*p == 0 || (has_sp && *sp == 0)) {
        if (mk_dmarc_tag(record, "rua", v, sizeof(v)) && strncasecmp(v, "mailto:", 7) == 0) {
            *p = *sp = 'n';
            *pct = 100;
            *adkim = *aspf = DMARC_RECORD_A_RELAXED;
            return 0;
        }
        snprintf(why, whylen, "DMARC record has no valid %s tag", *p == 0 ? "p=" : "sp=");
        return -1;
    }
    *pct = mk_dmarc_tag(record, "pct", v, sizeof(v)) ? mk_dmarc_pct_of(v) : 100;
    if (*pct < 0)
        *pct = 100;
    *adkim = mk_dmarc_tag(record, "adkim", v, sizeof(v)) && strcasecmp(v, "s") == 0
                 ? DMARC_RECORD_A_STRICT
                 : DMARC_RECORD_A_RELAXED;
    *aspf = mk_dmarc_tag(record, "aspf", v, sizeof(v)) && strcasecmp(v, "s") == 0
                ? DMARC_RECORD_A_STRICT
                : DMARC_RECORD_A_RELAXED;
    return 0;
}

/* The record's tags, through libopendmarc; 0, or -1 with why. */
static int mk_dmarc_parse(const mk_dmarc_in *in, int *p, int *sp, int *pct, int *adkim, int *aspf,
                          char *why, size_t whylen)
{
    unsigned char ip[] = "0.0.0.0";
    DMARC_POLICY_T *pctx = opendmarc_policy_connect_init(ip, DMARC_POLICY_IP_TYPE_IPV4);
    if (pctx == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    /* Passing the registered domain makes libopendmarc use sp=: only when
     * the record is the registered domain's and the From domain is below. */
    char *record = g_strdup(in->record); /* libopendmarc wants it writable */
    OPENDMARC_STATUS_T st = opendmarc_policy_store_dmarc(
        pctx, (unsigned char *)record, (unsigned char *)in->from_domain,
        in->record_at_org ? (unsigned char *)in->from_domain : NULL);
    if (st == DMARC_PARSE_OKAY) {
        opendmarc_policy_fetch_p(pctx, p);
        opendmarc_policy_fetch_sp(pctx, sp);
        opendmarc_policy_fetch_pct(pctx, pct);
        opendmarc_policy_fetch_adkim(pctx, adkim);
        opendmarc_policy_fetch_aspf(pctx, aspf);
    }
    opendmarc_policy_connect_shutdown(pctx);
    g_free(record);
    if (st == DMARC_PARSE_ERROR_BAD_VALUE || st == DMARC_PARSE_ERROR_NO_REQUIRED_P)
        return mk_dmarc_parse_lenient(in->record, p, sp, pct, adkim, aspf, why, whylen);
    if (st != DMARC_PARSE_OKAY) {
        snprintf(why, whylen, "DMARC record does not parse (libopendmarc status %d)", (int)st);
        return -1;
    }
    if (*p != 'n' && *p != 'q' && *p != 'r') {
        snprintf(why, whylen, "DMARC record has no valid p= tag");
        return -1;
    }
    char v[64];
    /* libopendmarc reads "pct=abc" as 0: a bad pct is ignored instead */
    if (mk_dmarc_tag(in->record, "pct", v, sizeof(v)) && mk_dmarc_pct_of(v) < 0)
        *pct = 100;
    return 0;
}

void mk_dmarc_eval(const psl_ctx_t *psl, const mk_dmarc_in *in, mk_dmarc_out *out)
{
    memset(out, 0, sizeof(*out));
    out->disposition = 'n';
    out->pct = 100;
    if (in->dns_temperror) {
        out->result = MK_DMARC_TEMPERROR;
        snprintf(out->why, sizeof(out->why), "DNS error looking up the DMARC record");
        return;
    }
    if (in->record == NULL) {
        out->result = MK_DMARC_NONE;
        snprintf(out->why, sizeof(out->why), "no DMARC record");
        return;
    }
    int p = 0, sp = 0, pct = 100, adkim = 0, aspf = 0;
    if (mk_dmarc_parse(in, &p, &sp, &pct, &adkim, &aspf, out->why, sizeof(out->why)) != 0) {
        out->result = MK_DMARC_PERMERROR;
        return;
    }
    out->policy = (char)(in->record_at_org && sp != 0 ? sp : p);
    out->pct = pct;

    int temp = 0;
    if (in->spf.domain != NULL && mk_dmarc_aligned(psl, in->spf.domain, in->from_domain, aspf)) {
        if (strcmp(in->spf.result, "pass") == 0)
            out->spf_aligned = 1;
        else if (strcmp(in->spf.result, "temperror") == 0)
            temp = 1;
    }
    for (size_t i = 0; i < in->n_dkim; i++) {
        if (!mk_dmarc_aligned(psl, in->dkim[i].domain, in->from_domain, adkim))
            continue;
        if (strcmp(in->dkim[i].result, "pass") == 0)
            out->dkim_aligned = 1;
        else if (strcmp(in->dkim[i].result, "temperror") == 0)
            temp = 1;
    }
    if (out->spf_aligned || out->dkim_aligned) {
        out->result = MK_DMARC_PASS;
        snprintf(out->why, sizeof(out->why), "%s%s%s aligned with %s",
                 out->spf_aligned ? "SPF" : "",
                 out->spf_aligned && out->dkim_aligned ? " and " : "",
                 out->dkim_aligned ? "DKIM" : "", in->from_domain);
        return;
    }
    if (temp) {
        /* an aligned identifier might have passed: the policy cannot apply */
        out->result = MK_DMARC_TEMPERROR;
        snprintf(out->why, sizeof(out->why), "an aligned SPF or DKIM check failed temporarily");
        return;
    }
    out->result = MK_DMARC_FAIL;
    out->disposition = out->policy;
    /* RFC 7489 6.6.4: a message not selected by pct gets the next policy down. */
    if (in->sample >= (unsigned)pct)
        out->disposition = out->policy == 'r' ? 'q' : 'n';
    snprintf(out->why, sizeof(out->why), "no SPF or DKIM pass aligned with %s", in->from_domain);
}

/* ---- the check ---------------------------------------------------------- */

#define MK_DMARC_MAX_DOMAINS 4

/* One Author Domain and the lookups for its record. */
typedef struct mk_dmarc_domain {
    char domain[MK_DOMAIN_MAX];
    const char *org; /* inside domain */
    mk_pool *pool;
    /* [0] the From domain's record, [1] the registered domain's (if other) */
    int asked[2], done[2], rc[2];
    const char *record[2]; /* pool */
} mk_dmarc_domain;

typedef struct mk_dmarc_state {
    size_t n;
    mk_dmarc_domain doms[MK_DMARC_MAX_DOMAINS];
} mk_dmarc_state;

typedef struct mk_dmarc_slot {
    mk_dmarc_domain *d;
    int which;
} mk_dmarc_slot;

static int mk_dmarc_enabled(const mk_config *cfg)
{
    return cfg->dmarc_enabled;
}

static void mk_dmarc_on_txt(void *arg, const mk_dns_answer *ans)
{
    mk_dmarc_slot *s = arg;
    const char *rec = NULL;
    s->d->rc[s->which] = mk_dmarc_pick(ans, &rec);
    s->d->record[s->which] = rec != NULL ? mk_pool_strdup(s->d->pool, rec) : NULL;
    s->d->done[s->which] = 1;
}

/* Adds the domain of addr (an addr-spec) to st, once. */
static void mk_dmarc_add_domain(mk_check_ctx *ctx, mk_dmarc_state *st, const char *addr,
                                int *no_domain)
{
    const char *at = addr != NULL ? strrchr(addr, '@') : NULL;
    char norm[MK_DOMAIN_MAX];
    if (at == NULL || mk_domain_normalize(at + 1, strlen(at + 1), norm, sizeof(norm)) != 0 ||
        strchr(norm, '.') == NULL) {
        (*no_domain)++;
        return;
    }
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->doms[i].domain, norm) == 0)
            return;
    if (st->n == MK_DMARC_MAX_DOMAINS) {
        mk_log(LOG_NOTICE, ctx->env->qid, "dmarc: more than %d From domains; %s not checked",
               MK_DMARC_MAX_DOMAINS, norm);
        return;
    }
    mk_dmarc_domain *d = &st->doms[st->n++];
    memcpy(d->domain, norm, sizeof(norm));
    d->org = mk_domain_org(ctx->psl, d->domain);
    d->pool = ctx->pool;
}

static void mk_dmarc_add_list(mk_check_ctx *ctx, mk_dmarc_state *st, InternetAddressList *list,
                              int *no_domain, int *n_addrs)
{
    int n = list != NULL ? internet_address_list_length(list) : 0;
    for (int i = 0; i < n; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_GROUP(ia)) {
            mk_dmarc_add_list(ctx, st,
                              internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)),
                              no_domain, n_addrs);
        } else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
            (*n_addrs)++;
            mk_dmarc_add_domain(ctx, st,
                                internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)),
                                no_domain);
        }
    }
}

/* What the configuration says to do with a failing message. */
static void mk_dmarc_dispose(mk_check_ctx *ctx, int dispose, const char *why)
{
    switch (dispose) {
    case MK_DISPOSE_REJECT:
        mk_results_force(ctx->res, MK_ACTION_REJECT, why);
        break;
    case MK_DISPOSE_HOLD:
        mk_results_hold(ctx->res, why);
        break;
    case MK_DISPOSE_SPAM:
        mk_results_force(ctx->res, MK_ACTION_ADD_HEADER, why);
        break;
    default:
        break;
    }
}

static void *mk_dmarc_start(mk_check_ctx *ctx)
{
    const mk_envelope *env = ctx->env;
    if (ctx->msg == NULL || !env->have_addr || mk_net_is_special(&env->client_addr) ||
        mk_net_list_contains(&ctx->cfg->trusted_networks, &env->client_addr))
        return NULL; /* our own users' mail: DMARC is for what comes in */
    mk_dmarc_state *st = mk_pool_alloc(ctx->pool, sizeof(*st));
    if (st == NULL)
        return NULL;
    memset(st, 0, sizeof(*st));
    GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(ctx->msg->mime));
    int fields = 0, no_domain = 0, n_addrs = 0;
    int count = hl != NULL ? g_mime_header_list_get_count(hl) : 0;
    for (int i = 0; i < count; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        if (g_ascii_strcasecmp(g_mime_header_get_name(h), "From") != 0)
            continue;
        fields++;
        const char *raw = g_mime_header_get_raw_value(h);
        InternetAddressList *list = internet_address_list_parse(NULL, raw ? raw : "");
        mk_dmarc_add_list(ctx, st, list, &no_domain, &n_addrs);
        if (list != NULL)
            g_object_unref(list);
    }
    /* RFC 7489 6.6.1: a message without exactly one From field breaks
     * RFC 5322; one without an author domain cannot be checked. */
    int bad = ctx->cfg->dmarc_on_bad_from;
    if (fields == 0) {
        mk_check_add(ctx, "MISSING_FROM", 2.0, "no From field", "The message has no From field");
        mk_dmarc_dispose(ctx, bad, "The message has no From field (RFC 5322 requires one)");
    } else if (fields > 1) {
        mk_check_add(ctx, "MULTIPLE_FROM", 3.0, "several From fields",
                     "The message has several From fields");
        mk_dmarc_dispose(ctx, bad, "The message has several From fields (RFC 5322 allows one)");
    }
    if (fields > 0 && (no_domain > 0 || n_addrs == 0)) {
        mk_check_add(ctx, "FROM_NO_DOMAIN", 2.0, "a From address without a valid domain",
                     "The From field names no valid sender domain");
        mk_dmarc_dispose(ctx, bad, "The From field names no valid sender domain");
    }
    for (size_t i = 0; i < st->n; i++) {
        mk_dmarc_domain *d = &st->doms[i];
        char name[MK_DOMAIN_MAX + 8];
        for (int w = 0; w < 2; w++) {
            const char *q = w == 0 ? d->domain : d->org;
            if (w == 1 && strcmp(d->org, d->domain) == 0)
                break;
            mk_dmarc_slot *slot = mk_pool_alloc(ctx->pool, sizeof(*slot));
            if (slot == NULL)
                break;
            slot->d = d;
            slot->which = w;
            d->asked[w] = 1;
            snprintf(name, sizeof(name), "_dmarc.%s", q);
            mk_dns_query(ctx->dns, name, MK_DNS_TXT, mk_dmarc_on_txt, slot);
        }
    }
    return st;
}

/* The value of property key ("header.d") in an authentication result. */
static const char *mk_dmarc_prop(mk_pool *pool, const mk_auth *a, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = a->props; p != NULL && *p != '\0';) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=')
            return mk_pool_strndup(pool, p + klen + 1, len - klen - 1);
        p = end ? end + 1 : p + len;
    }
    return NULL;
}

/* The SPF and DKIM results the other checks reported, as DMARC reads them. */
static size_t mk_dmarc_inputs(mk_check_ctx *ctx, mk_dmarc_auth *spf, mk_dmarc_auth *dkim,
                              size_t max_dkim)
{
    size_t n = 0;
    spf->domain = spf->result = NULL;
    for (size_t i = 0; i < ctx->res->n_auth; i++) {
        const mk_auth *a = &ctx->res->auth[i];
        if (strcmp(a->method, "spf") == 0) {
            const char *id = mk_dmarc_prop(ctx->pool, a, "smtp.mailfrom");
            if (id == NULL)
                id = mk_dmarc_prop(ctx->pool, a, "smtp.helo");
            const char *at = id != NULL ? strrchr(id, '@') : NULL;
            spf->domain = at != NULL ? at + 1 : id;
            spf->result = a->result;
        } else if (strcmp(a->method, "dkim") == 0 && n < max_dkim) {
            const char *d = mk_dmarc_prop(ctx->pool, a, "header.d");
            if (d != NULL)
                dkim[n++] = (mk_dmarc_auth){d, a->result};
        }
    }
    return n;
}

static void mk_dmarc_report(mk_check_ctx *ctx, const mk_dmarc_domain *d, const mk_dmarc_out *o,
                            int from_org)
{
    const char *sym = "DMARC_NA";
    double score = 0.0;
    switch (o->result) {
    case MK_DMARC_PASS:
        sym = "DMARC_POLICY_ALLOW", score = -0.5;
        break;
    case MK_DMARC_FAIL:
        if (o->policy == 'r')
            sym = "DMARC_POLICY_REJECT", score = 2.0;
        else if (o->policy == 'q')
            sym = "DMARC_POLICY_QUARANTINE", score = 1.5;
        else
            sym = "DMARC_POLICY_SOFTFAIL", score = 0.1;
        break;
    case MK_DMARC_TEMPERROR:
        sym = "DMARC_DNSFAIL";
        break;
    case MK_DMARC_PERMERROR:
        sym = "DMARC_BAD_POLICY", score = 0.5;
        break;
    case MK_DMARC_NONE:
        break;
    }
    char detail[512];
    snprintf(detail, sizeof(detail), "%s: %s (%s)%s%s%s", d->domain,
             mk_dmarc_result_name(o->result), o->why, o->policy ? " p=" : "",
             o->policy ? mk_dmarc_policy_name(o->policy) : "",
             from_org ? " from the registered domain's record" : "");
    mk_check_add(ctx, sym, score, detail, NULL);
    char comment[128] = "";
    if (o->policy)
        snprintf(comment, sizeof(comment), "p=%s dis=%s", mk_dmarc_policy_name(o->policy),
                 mk_dmarc_policy_name(o->disposition));
    char props[MK_DOMAIN_MAX + 16];
    snprintf(props, sizeof(props), "header.from=%s", d->domain);
    mk_results_auth(ctx->res, "dmarc", mk_dmarc_result_name(o->result), comment[0] ? comment : NULL,
                    props);
    mk_log(LOG_DEBUG, ctx->env->qid, "dmarc: %s", detail);
}

static void mk_dmarc_finish(mk_check_ctx *ctx, void *state)
{
    mk_dmarc_state *st = state;
    if (st == NULL || st->n == 0)
        return;
    mk_dmarc_auth spf, dkim[16];
    size_t n_dkim = mk_dmarc_inputs(ctx, &spf, dkim, sizeof(dkim) / sizeof(dkim[0]));
    unsigned draw = 0;
    if (getrandom(&draw, sizeof(draw), 0) != (ssize_t)sizeof(draw))
        draw = (unsigned)rand();
    char worst = 0;
    const mk_dmarc_domain *worst_d = NULL;
    for (size_t i = 0; i < st->n; i++) {
        mk_dmarc_domain *d = &st->doms[i];
        mk_dmarc_in in = {.from_domain = d->domain,
                          .spf = spf,
                          .dkim = dkim,
                          .n_dkim = n_dkim,
                          .sample = ctx->cfg->dmarc_honour_pct ? draw % 100 : 0};
        /* RFC 7489 6.6.3: the From domain's record; failing that, the
         * registered domain's. A timeout is a temporary error. */
        int w = d->done[0] && d->rc[0] == 1 ? 0 : 1;
        if (!d->done[0] || d->rc[0] < 0)
            in.dns_temperror = 1;
        else if (w == 1 && d->asked[1] && (!d->done[1] || d->rc[1] < 0))
            in.dns_temperror = 1;
        in.record = d->record[w];
        in.record_at_org = w == 1;
        mk_dmarc_out o;
        mk_dmarc_eval(ctx->psl, &in, &o);
        mk_dmarc_report(ctx, d, &o, in.record_at_org);
        if (o.result == MK_DMARC_FAIL && o.disposition != 'n' &&
            (worst == 0 || o.disposition == 'r')) {
            worst = o.disposition;
            worst_d = d;
        }
    }
    if (worst_d == NULL)
        return;
    int dispose = worst == 'r' ? ctx->cfg->dmarc_on_reject : ctx->cfg->dmarc_on_quarantine;
    char why[400];
    if (dispose == MK_DISPOSE_REJECT)
        snprintf(why, sizeof(why),
                 "Rejected by the DMARC policy of %s: neither SPF nor DKIM vouches for that domain",
                 worst_d->domain);
    else
        snprintf(why, sizeof(why), "DMARC policy %s of %s failed", mk_dmarc_policy_name(worst),
                 worst_d->domain);
    mk_dmarc_dispose(ctx, dispose, why);
}

const mk_check mk_dmarc_check = {
    .name = "dmarc",
    .stage = MK_STAGE_EOM,
    .needs_dns = 1,
    .enabled = mk_dmarc_enabled,
    .start = mk_dmarc_start,
    .finish = mk_dmarc_finish,
};
