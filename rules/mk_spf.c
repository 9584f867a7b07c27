/*
 * mk_spf: the SPF check, its DNS layer for libspf2, and the evaluation.
 */
#include "config.h"

#include "mk_spf.h"

#include <glib.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mk_check.h"
#include "mk_log.h"

/* One lookup of the DNS layer. Heap-allocated: when the deadline cuts the
 * wait short, the query stays with the resolver and its callback frees it. */
typedef struct mk_spf_query {
    int done;
    int abandoned;
    SPF_dns_rr_t *rr; /* the answer, made in the callback */
    SPF_dns_server_t *layer;
    char *domain;
    ns_type type;
} mk_spf_query;

typedef struct mk_spf_hook {
    mk_dns *dns;
    const struct timespec *deadline;
} mk_spf_hook;

const char *mk_spf_result_name(mk_spf_result result)
{
    static const char *const names[] = {"none",     "neutral",   "pass",     "fail",
                                        "softfail", "temperror", "permerror"};
    return (unsigned)result < sizeof(names) / sizeof(names[0]) ? names[result] : "?";
}

/* Fills rr from a resolver answer; entries are allocated through libspf2. */
static void mk_spf_fill(SPF_dns_rr_t *rr, ns_type type, const mk_dns_answer *ans)
{
    int n = 0;
    if (type == ns_t_a || type == ns_t_aaaa) {
        for (size_t i = 0; i < ans->n_addrs; i++) {
            const mk_addr *a = &ans->addrs[i];
            size_t len = type == ns_t_a ? sizeof(struct in_addr) : sizeof(struct in6_addr);
            if ((type == ns_t_a) != (a->family == AF_INET))
                continue;
            if (SPF_dns_rr_buf_realloc(rr, n, len) != SPF_E_SUCCESS)
                break;
            memcpy(rr->rr[n], a->bytes, len);
            n++;
        }
    } else {
        size_t count = type == ns_t_txt ? ans->n_txt : ans->n_names;
        const char *const *items = type == ns_t_txt ? ans->txt : ans->names;
        for (size_t i = 0; i < count; i++) {
            size_t len = strlen(items[i]) + 1;
            if (SPF_dns_rr_buf_realloc(rr, n, len) != SPF_E_SUCCESS)
                break;
            memcpy(rr->rr[n], items[i], len);
            n++;
        }
    }
    rr->num_rr = n;
    if (n == 0)
        rr->herrno = NO_DATA;
}

static void mk_spf_on_answer(void *arg, const mk_dns_answer *ans)
{
    mk_spf_query *q = arg;
    if (q->abandoned) {
        free(q->domain);
        free(q);
        return;
    }
    int herrno = NETDB_SUCCESS;
    if (ans->status == MK_DNS_TEMPERROR)
        herrno = TRY_AGAIN;
    else if (ans->status == MK_DNS_NOTFOUND)
        herrno = ans->nxdomain ? HOST_NOT_FOUND : NO_DATA;
    q->rr = SPF_dns_rr_new_init(q->layer, q->domain, q->type, 0, herrno);
    if (q->rr != NULL && herrno == NETDB_SUCCESS)
        mk_spf_fill(q->rr, q->type, ans);
    q->done = 1;
}

static SPF_dns_rr_t *mk_spf_lookup(SPF_dns_server_t *layer, const char *domain, ns_type type,
                                   int should_cache)
{
    mk_spf_hook *hook = layer->hook;
    int mtype;
    switch (type) {
    case ns_t_a:
        mtype = MK_DNS_A;
        break;
    case ns_t_aaaa:
        mtype = MK_DNS_AAAA;
        break;
    case ns_t_mx:
        mtype = MK_DNS_MX;
        break;
    case ns_t_ptr:
        mtype = MK_DNS_PTR;
        break;
    case ns_t_txt:
        mtype = MK_DNS_TXT;
        break;
    default: /* mk_spf_policy_lookup() asks nothing else */
        return SPF_dns_rr_new_init(layer, domain, type, 0, NO_DATA);
    }
    mk_spf_query *q = calloc(1, sizeof(*q));
    if (q == NULL || (q->domain = strdup(domain)) == NULL) {
        free(q);
        return SPF_dns_rr_new_init(layer, domain, type, 0, TRY_AGAIN);
    }
    q->layer = layer;
    q->type = type;
    mk_dns_query(hook->dns, domain, mtype, mk_spf_on_answer, q);
    if (mk_dns_wait_for(hook->dns, &q->done, hook->deadline) != 0) {
        q->abandoned = 1; /* the callback frees it */
        return SPF_dns_rr_new_init(layer, domain, type, 0, TRY_AGAIN);
    }
    SPF_dns_rr_t *rr = q->rr;
    free(q->domain);
    free(q);
    return rr != NULL ? rr : SPF_dns_rr_new_init(layer, domain, type, 0, TRY_AGAIN);
}

/* Frees a layer of mailkeeper's and its hook; SPF_dns_free() goes on with
 * the layer below. */
static void mk_spf_layer_destroy(SPF_dns_server_t *layer)
{
    if (layer == NULL)
        return;
    free(layer->hook);
    free(layer);
}

/* A DNS layer of mailkeeper's with a zeroed hook of hook_size bytes over
 * below (or none); NULL when out of memory. */
static SPF_dns_server_t *mk_spf_layer_new(SPF_dns_lookup_t lookup, const char *name,
                                          size_t hook_size, SPF_dns_server_t *below)
{
    SPF_dns_server_t *layer = calloc(1, sizeof(*layer));
    void *hook = calloc(1, hook_size);
    if (layer == NULL || hook == NULL) {
        free(layer);
        free(hook);
        return NULL;
    }
    layer->destroy = mk_spf_layer_destroy;
    layer->lookup = lookup;
    layer->layer_below = below;
    layer->name = name;
    layer->hook = hook;
    return layer;
}

SPF_dns_server_t *mk_spf_dns_new(mk_dns *dns, const struct timespec *deadline)
{
    SPF_dns_server_t *layer =
        mk_spf_layer_new(mk_spf_lookup, "mailkeeper", sizeof(mk_spf_hook), NULL);
    if (layer != NULL) {
        mk_spf_hook *hook = layer->hook;
        hook->dns = dns;
        hook->deadline = deadline;
    }
    return layer;
}

#define MK_SPF_TERM_LIMIT 10 /* RFC 7208 4.6.4: terms that ask DNS */
#define MK_SPF_VOID_LIMIT 2  /* ... and lookups that find nothing */
#define MK_SPF_PTR_LIMIT  10 /* names of a PTR answer checked */
#define MK_SPF_HOSTS      16

/* What the policy layer saw during one evaluation. */
typedef struct mk_spf_policy {
    int txt_tempfail; /* a TXT (SPF record) lookup failed temporarily */
    int syntax_error; /* a fetched SPF record breaks the grammar */
    int client_v6;    /* the client address is IPv6 (set by mk_spf_eval) */
    char why[256];
    /* RFC 7208 4.6.4: records fetched (the first, then include and
     * redirect), other DNS-asking terms (a, mx, ptr, exists), void lookups */
    unsigned records, terms, voids;
    int over_limit;
    char limit_why[160];
    /* the names of the last MX or PTR answer: their address lookups belong
     * to that term and count for nothing */
    char hosts[MK_SPF_HOSTS][256];
    size_t n_hosts;
    int hosts_from_ptr;
} mk_spf_policy;

static int mk_spf_policy_is_host(const mk_spf_policy *seen, const char *domain)
{
    for (size_t i = 0; i < seen->n_hosts; i++)
        if (strcasecmp(seen->hosts[i], domain) == 0)
            return 1;
    return 0;
}

/* Keeps the names an MX or PTR answer gave, for mk_spf_policy_is_host. */
static void mk_spf_policy_hosts(mk_spf_policy *seen, const SPF_dns_rr_t *rr, int ptr)
{
    seen->n_hosts = 0;
    seen->hosts_from_ptr = ptr;
    for (int i = 0; rr->herrno == NETDB_SUCCESS && i < rr->num_rr && i < MK_SPF_HOSTS; i++)
        g_strlcpy(seen->hosts[seen->n_hosts++], ptr ? rr->rr[i]->ptr : rr->rr[i]->mx,
                  sizeof(seen->hosts[0]));
}

static int mk_spf_void(const SPF_dns_rr_t *rr)
{
    return rr->herrno == HOST_NOT_FOUND || rr->herrno == NO_DATA ||
           (rr->herrno == NETDB_SUCCESS && rr->num_rr == 0);
}

/* Counts one lookup against the limits of RFC 7208 4.6.4. */
static void mk_spf_policy_count(mk_spf_policy *seen, const char *domain, int term,
                                const SPF_dns_rr_t *rr)
{
    seen->terms += term;
    if (term && mk_spf_void(rr))
        seen->voids++;
    if (seen->over_limit)
        return;
    unsigned asked = seen->terms + (seen->records > 0 ? seen->records - 1 : 0);
    if (asked > MK_SPF_TERM_LIMIT) {
        seen->over_limit = 1;
        snprintf(seen->limit_why, sizeof(seen->limit_why),
                 "more than %d DNS-querying terms, at %s (RFC 7208 section 4.6.4)",
                 MK_SPF_TERM_LIMIT, domain);
    } else if (seen->voids > MK_SPF_VOID_LIMIT) {
        seen->over_limit = 1;
        snprintf(seen->limit_why, sizeof(seen->limit_why),
                 "more than %d void lookups, at %s (RFC 7208 section 4.6.4)", MK_SPF_VOID_LIMIT,
                 domain);
    }
}

/* For the rewrite of "a/0" and "mx//0": whether domain (mx: one of its MX
 * hosts) has an address of the family; 1, 0, or -1 on a DNS error. */
static int mk_spf_policy_has_addr(void *arg, const char *domain, int mx, int v6)
{
    SPF_dns_server_t *below = arg;
    ns_type type = v6 ? ns_t_aaaa : ns_t_a;
    SPF_dns_rr_t *rr = below->lookup(below, domain, mx ? ns_t_mx : type, 0);
    if (rr == NULL || rr->herrno == TRY_AGAIN) {
        SPF_dns_rr_free(rr);
        return -1;
    }
    int any = rr->herrno == NETDB_SUCCESS && rr->num_rr > 0;
    if (mx && any) {
        any = 0;
        for (int i = 0; i < rr->num_rr && i < MK_SPF_TERM_LIMIT && !any; i++) {
            SPF_dns_rr_t *a = below->lookup(below, rr->rr[i]->mx, type, 0);
            any = a != NULL && a->herrno == NETDB_SUCCESS && a->num_rr > 0;
            SPF_dns_rr_free(a);
        }
    }
    SPF_dns_rr_free(rr);
    return any;
}

/* The policy layer: what mailkeeper asks of any DNS layer below it, the
 * resolver in the milter or a zone in the conformance test alike, and what
 * it notes for the corrections of mk_spf_eval(). RFC 7208 section 3.1: the
 * SPF RR type (99) is obsolete and never used. */
static SPF_dns_rr_t *mk_spf_policy_lookup(SPF_dns_server_t *layer, const char *domain, ns_type type,
                                          int should_cache)
{
    if (type != ns_t_a && type != ns_t_aaaa && type != ns_t_mx && type != ns_t_ptr &&
        type != ns_t_txt)
        return SPF_dns_rr_new_init(layer, domain, type, 0, NO_DATA);
    SPF_dns_server_t *below = layer->layer_below;
    SPF_dns_rr_t *rr = below->lookup(below, domain, type, should_cache);
    mk_spf_policy *seen = layer->hook;
    if (rr == NULL)
        return rr;
    switch (type) {
    case ns_t_ptr:
        /* RFC 7208 4.6.4: at most 10 names are checked, the rest ignored */
        if (rr->herrno == NETDB_SUCCESS && rr->num_rr > MK_SPF_PTR_LIMIT)
            rr->num_rr = MK_SPF_PTR_LIMIT;
        mk_spf_policy_hosts(seen, rr, 1);
        mk_spf_policy_count(seen, domain, 1, rr);
        return rr;
    case ns_t_mx:
        mk_spf_policy_hosts(seen, rr, 0);
        mk_spf_policy_count(seen, domain, 1, rr);
        return rr;
    case ns_t_a:
    case ns_t_aaaa:
        if (!mk_spf_policy_is_host(seen, domain)) {
            mk_spf_policy_count(seen, domain, 1, rr);
        } else if (seen->hosts_from_ptr && rr->herrno == TRY_AGAIN) {
            /* RFC 7208 5.5: a name whose address lookup fails is skipped */
            SPF_dns_rr_free(rr);
            return SPF_dns_rr_new_init(layer, domain, type, 0, HOST_NOT_FOUND);
        }
        return rr;
    default:
        break;
    }
    /* TXT: a record (the first, or one an include or redirect asks for), or
     * an explanation, which counts for nothing */
    if (rr->herrno == TRY_AGAIN)
        seen->txt_tempfail = 1;
    int record = rr->herrno != NETDB_SUCCESS || rr->num_rr == 0;
    for (int i = 0; rr->herrno == NETDB_SUCCESS && i < rr->num_rr; i++)
        record |= mk_spf_is_record(rr->rr[i]->txt);
    if (record) {
        seen->records++;
        mk_spf_policy_count(seen, domain, 0, rr);
    }
    for (int i = 0; rr->herrno == NETDB_SUCCESS && !seen->syntax_error && i < rr->num_rr; i++) {
        const char *txt = rr->rr[i]->txt;
        char why[200];
        if (!mk_spf_is_record(txt))
            continue;
        if (mk_spf_record_check(txt, why, sizeof(why)) != 0) {
            seen->syntax_error = 1;
            snprintf(seen->why, sizeof(seen->why), "%s: %s", domain, why);
            break;
        }
        mk_spf_rewrite_ctx rc = {seen->client_v6, domain, mk_spf_policy_has_addr, below};
        char *better = mk_spf_record_rewrite(txt, &rc);
        if (better != NULL && SPF_dns_rr_buf_realloc(rr, i, strlen(better) + 1) == SPF_E_SUCCESS)
            memcpy(rr->rr[i]->txt, better, strlen(better) + 1);
        g_free(better);
    }
    return rr;
}

SPF_server_t *mk_spf_server_new(SPF_dns_server_t *dnsl)
{
    if (dnsl == NULL)
        return NULL;
    SPF_dns_server_t *policy =
        mk_spf_layer_new(mk_spf_policy_lookup, "mailkeeper-policy", sizeof(mk_spf_policy), dnsl);
    if (policy == NULL) {
        SPF_dns_free(dnsl);
        return NULL;
    }
    SPF_server_t *server = SPF_server_new_dns(policy, 0);
    if (server == NULL) {
        SPF_dns_free(policy); /* and dnsl below it */
        return NULL;
    }
    /* SPF_server_new_dns() leaves the layers to the caller: hand them over,
     * so SPF_server_free() frees them (SPF_dns_free walks down the stack). */
    server->destroy_resolver = 1;
    return server;
}

static mk_spf_result mk_spf_map(SPF_result_t r)
{
    switch (r) {
    case SPF_RESULT_PASS:
        return MK_SPF_PASS;
    case SPF_RESULT_FAIL:
        return MK_SPF_FAIL;
    case SPF_RESULT_SOFTFAIL:
        return MK_SPF_SOFTFAIL;
    case SPF_RESULT_NEUTRAL:
        return MK_SPF_NEUTRAL;
    case SPF_RESULT_NONE:
        return MK_SPF_NONE;
    case SPF_RESULT_TEMPERROR:
        return MK_SPF_TEMPERROR;
    case SPF_RESULT_PERMERROR:
    case SPF_RESULT_INVALID:
    default:
        return MK_SPF_PERMERROR;
    }
}

int mk_spf_eval(SPF_server_t *server, const char *ip, const char *helo, const char *mail_from,
                mk_spf_outcome *out)
{
    memset(out, 0, sizeof(*out));
    out->result = MK_SPF_NONE;
    if (helo == NULL)
        helo = "";
    if (mail_from == NULL)
        mail_from = "";
    out->helo_scope = mail_from[0] == '\0';
    if (out->helo_scope)
        snprintf(out->identity, sizeof(out->identity), "postmaster@%s", helo);
    else
        snprintf(out->identity, sizeof(out->identity), "%s", mail_from);
    const char *at = strrchr(out->identity, '@');
    const char *dom = at ? at + 1 : out->identity;
    size_t dlen = strlen(dom) < sizeof(out->domain) - 1 ? strlen(dom) : sizeof(out->domain) - 1;
    memcpy(out->domain, dom, dlen);
    out->domain[dlen] = '\0';

    SPF_request_t *req = SPF_request_new(server);
    if (req == NULL) {
        snprintf(out->comment, sizeof(out->comment), "out of memory");
        return -1;
    }
    /* RFC 7208 section 5: an IPv4-mapped IPv6 client is an IPv4 client. */
    mk_addr addr;
    char ipbuf[64];
    if (ip != NULL && mk_net_parse_addr(ip, &addr) == 0)
        ip = mk_net_addr_str(&addr, ipbuf, sizeof(ipbuf));
    int v6 = 0;
    if (SPF_request_set_ipv4_str(req, ip) != SPF_E_SUCCESS &&
        (v6 = 1, SPF_request_set_ipv6_str(req, ip) != SPF_E_SUCCESS)) {
        snprintf(out->comment, sizeof(out->comment), "client address '%s' is not an IP address",
                 ip ? ip : "");
        SPF_request_free(req);
        return -1;
    }
    SPF_request_set_helo_dom(req, helo);
    if (!out->helo_scope)
        SPF_request_set_env_from(req, mail_from);
    mk_spf_policy *seen =
        server->resolver->lookup == mk_spf_policy_lookup ? server->resolver->hook : NULL;
    if (seen != NULL) {
        memset(seen, 0, sizeof(*seen));
        seen->client_v6 = v6;
    }
    SPF_response_t *resp = NULL;
    SPF_request_query_mailfrom(req, &resp);
    if (resp != NULL) {
        out->result = mk_spf_map(SPF_response_result(resp));
        const char *c = SPF_response_get_header_comment(resp);
        snprintf(out->comment, sizeof(out->comment), "%s", c ? c : "");
        SPF_response_free(resp);
    } else {
        out->result = MK_SPF_TEMPERROR;
    }
    /* RFC 7208 section 4.4: a record lookup that fails temporarily ends in
     * temperror; libspf2 says permerror. */
    if (out->result == MK_SPF_PERMERROR && seen != NULL && seen->txt_tempfail) {
        out->result = MK_SPF_TEMPERROR;
        snprintf(out->comment, sizeof(out->comment),
                 "temporary DNS error looking up an SPF record (RFC 7208 section 4.4)");
    }
    /* RFC 7208 section 4.6.4: past the lookup limits, permerror (libspf2
     * counts differently, and not void lookups at all). */
    if (seen != NULL && seen->over_limit && out->result != MK_SPF_TEMPERROR) {
        out->result = MK_SPF_PERMERROR;
        snprintf(out->comment, sizeof(out->comment), "%s", seen->limit_why);
    }
    /* RFC 7208 section 4.6: a record is parsed whole before it is evaluated;
     * one that breaks the grammar gives permerror, whatever came first. */
    if (seen != NULL && seen->syntax_error && out->result != MK_SPF_TEMPERROR) {
        out->result = MK_SPF_PERMERROR;
        snprintf(out->comment, sizeof(out->comment), "SPF record syntax error at %s", seen->why);
    }
    SPF_request_free(req);
    return 0;
}

/* ---- the check ---------------------------------------------------------- */

static int mk_spf_enabled(const mk_config *cfg)
{
    return cfg->spf_enabled;
}

/* Symbols and default scores as SpamAssassin names and scores them. */
static void mk_spf_symbol(mk_check_ctx *ctx, const mk_spf_outcome *o)
{
    static const struct {
        const char *name;
        double score;
    } mailfrom[] =
        {
            {"SPF_NONE", 0.001},     {"SPF_NEUTRAL", 0.652},  {"SPF_PASS", -0.001},
            {"SPF_FAIL", 0.919},     {"SPF_SOFTFAIL", 0.665}, {"SPF_TEMPERROR", 0.01},
            {"SPF_PERMERROR", 0.01},
        },
      helo[] = {
          {"SPF_HELO_NONE", 0.001},     {"SPF_HELO_NEUTRAL", 0.001},  {"SPF_HELO_PASS", -0.001},
          {"SPF_HELO_FAIL", 0.001},     {"SPF_HELO_SOFTFAIL", 0.896}, {"SPF_HELO_TEMPERROR", 0.01},
          {"SPF_HELO_PERMERROR", 0.01},
      };
    const char *name = o->helo_scope ? helo[o->result].name : mailfrom[o->result].name;
    double score = o->helo_scope ? helo[o->result].score : mailfrom[o->result].score;
    char detail[1024];
    snprintf(detail, sizeof(detail), "%s: %s (%s)", o->identity, mk_spf_result_name(o->result),
             o->comment);
    mk_check_add(ctx, name, score, detail, NULL);
    char props[400];
    snprintf(props, sizeof(props), o->helo_scope ? "smtp.helo=%s" : "smtp.mailfrom=%s",
             o->helo_scope ? ctx->env->helo : o->identity);
    mk_results_auth(ctx->res, "spf", mk_spf_result_name(o->result), o->comment, props);
}

static void *mk_spf_start(mk_check_ctx *ctx)
{
    const mk_envelope *env = ctx->env;
    if (!env->have_addr || ctx->deadline == NULL)
        return NULL; /* local submission: there is no client to check */
    if (mk_net_is_special(&env->client_addr) ||
        mk_net_list_contains(&ctx->cfg->trusted_networks, &env->client_addr))
        return NULL; /* our own relays: SPF says nothing about them */
    SPF_server_t *server = mk_spf_server_new(mk_spf_dns_new(ctx->dns, ctx->deadline));
    if (server == NULL) {
        mk_log(LOG_ERR, env->qid, "spf: out of memory");
        return NULL;
    }
    mk_spf_outcome *o = mk_pool_alloc(ctx->pool, sizeof(*o));
    if (o != NULL && mk_spf_eval(server, env->client_ip, env->helo, env->mail_from, o) == 0) {
        mk_spf_symbol(ctx, o);
        mk_log(LOG_DEBUG, env->qid, "spf: %s %s: %s", o->helo_scope ? "helo" : "mailfrom",
               mk_spf_result_name(o->result), o->comment);
    }
    SPF_server_free(server);
    return o;
}

const mk_check mk_spf_check = {
    .name = "spf",
    .stage = MK_STAGE_EOM,
    .needs_dns = 1,
    .enabled = mk_spf_enabled,
    .start = mk_spf_start,
    .finish = NULL,
};
