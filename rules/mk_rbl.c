/*
 * mk_rbl: DNS block lists on the client address (RFC 5782). At connect,
 * one A query per configured list (and a TXT query where the reason uses
 * %t) goes out on the connection's resolver, all lists at once; at end of
 * message each answer becomes a symbol. Loopback, private and trusted
 * addresses are not looked up. Answers outside 127.0.0.0/8 are ignored;
 * 127.255.255.x (the list refuses to answer us) counts as a temporary error.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "mk_check.h"
#include "mk_log.h"

typedef struct mk_rbl_list {
    const mk_conf_rbl *conf;
    mk_pool *pool;
    const char *qid;
    int asked;
    mk_dns_status status;
    const char *error;
    size_t n_addrs;
    mk_addr addrs[MK_DNS_MAX_ADDRS];
    const char *txt;
} mk_rbl_list;

typedef struct mk_rbl_state {
    char ip[64];
    size_t n;
    mk_rbl_list *lists;
} mk_rbl_state;

static int mk_rbl_enabled(const mk_config *cfg)
{
    return cfg->n_rbls > 0;
}

static void mk_rbl_on_a(void *arg, const mk_dns_answer *ans)
{
    mk_rbl_list *l = arg;
    l->status = ans->status;
    l->error = mk_pool_strdup(l->pool, ans->error);
    l->n_addrs = ans->n_addrs;
    memcpy(l->addrs, ans->addrs, ans->n_addrs * sizeof(ans->addrs[0]));
}

static void mk_rbl_on_txt(void *arg, const mk_dns_answer *ans)
{
    mk_rbl_list *l = arg;
    if (ans->status == MK_DNS_OK && ans->n_txt > 0)
        l->txt = mk_pool_strdup(l->pool, ans->txt[0]);
}

static void *mk_rbl_start(mk_check_ctx *ctx)
{
    const mk_envelope *env = ctx->env;
    const mk_config *cfg = ctx->cfg;
    if (!env->have_addr)
        return NULL;
    mk_rbl_state *st = mk_pool_alloc(ctx->pool, sizeof(*st));
    if (st == NULL)
        return NULL;
    mk_net_addr_str(&env->client_addr, st->ip, sizeof(st->ip));
    if (mk_net_is_special(&env->client_addr) ||
        mk_net_list_contains(&cfg->trusted_networks, &env->client_addr)) {
        mk_log(LOG_DEBUG, env->qid, "rbl: %s is local, private or trusted: not looked up", st->ip);
        return st;
    }
    st->lists = mk_pool_alloc(ctx->pool, cfg->n_rbls * sizeof(*st->lists));
    if (st->lists == NULL)
        return NULL;
    st->n = cfg->n_rbls;
    char rev[80], name[400];
    mk_net_reverse(&env->client_addr, rev, sizeof(rev));
    for (size_t i = 0; i < cfg->n_rbls; i++) {
        mk_rbl_list *l = &st->lists[i];
        l->conf = &cfg->rbls[i];
        l->pool = ctx->pool;
        l->qid = env->qid;
        if ((env->client_addr.family == AF_INET && !l->conf->ipv4) ||
            (env->client_addr.family == AF_INET6 && !l->conf->ipv6))
            continue;
        l->asked = 1;
        snprintf(name, sizeof(name), "%s.%s", rev, l->conf->zone);
        mk_dns_query(ctx->dns, name, MK_DNS_A, mk_rbl_on_a, l);
        if (strstr(l->conf->reason, "%t") != NULL)
            mk_dns_query(ctx->dns, name, MK_DNS_TXT, mk_rbl_on_txt, l);
    }
    return st;
}

/* The reason template with %i, %z, %t and %% expanded, into the pool. */
static const char *mk_rbl_reason(mk_pool *pool, const mk_rbl_list *l, const char *ip)
{
    char out[512];
    size_t o = 0;
    for (const char *p = l->conf->reason; *p != '\0' && o < sizeof(out) - 1; p++) {
        const char *add = NULL;
        char one[2] = {*p, '\0'};
        if (*p == '%' && p[1] != '\0') {
            p++;
            switch (*p) {
            case 'i':
                add = ip;
                break;
            case 'z':
                add = l->conf->zone;
                break;
            case 't':
                add = l->txt ? l->txt : "";
                break;
            default:
                one[0] = *p;
                add = one;
                break;
            }
        } else {
            add = one;
        }
        size_t n = strlen(add);
        if (n > sizeof(out) - 1 - o)
            n = sizeof(out) - 1 - o;
        memcpy(out + o, add, n);
        o += n;
    }
    out[o] = '\0';
    return mk_pool_strdup(pool, out);
}

static void mk_rbl_temperror(mk_check_ctx *ctx, const mk_rbl_list *l, const char *why)
{
    char sym[96];
    snprintf(sym, sizeof(sym), "%s_TEMPERROR", l->conf->symbol);
    char detail[256];
    snprintf(detail, sizeof(detail), "%s: %s", l->conf->zone, why);
    mk_log(LOG_NOTICE, ctx->env->qid, "rbl: %s", detail);
    mk_check_add(ctx, sym, l->conf->temperror_score, detail, NULL);
}

static void mk_rbl_finish(mk_check_ctx *ctx, void *state)
{
    mk_rbl_state *st = state;
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n; i++) {
        const mk_rbl_list *l = &st->lists[i];
        if (!l->asked || l->status == MK_DNS_NOTFOUND)
            continue;
        if (l->status == MK_DNS_TEMPERROR) {
            mk_rbl_temperror(ctx, l, l->error ? l->error : "temporary DNS error");
            continue;
        }
        for (size_t a = 0; a < l->n_addrs; a++) {
            const mk_addr *ans = &l->addrs[a];
            char astr[64], detail[256];
            mk_net_addr_str(ans, astr, sizeof(astr));
            if (ans->family != AF_INET || ans->bytes[0] != 127) {
                mk_log(LOG_WARNING, ctx->env->qid,
                       "rbl: %s answered %s for %s, outside 127.0.0.0/8: ignored", l->conf->zone,
                       astr, st->ip);
                continue;
            }
            if (ans->bytes[1] == 255 && ans->bytes[2] == 255) {
                snprintf(detail, sizeof(detail),
                         "list answered %s: it refuses our queries (public resolver or quota?)",
                         astr);
                mk_rbl_temperror(ctx, l, detail);
                continue;
            }
            const char *sym = l->conf->symbol;
            double score = l->conf->score;
            for (size_t r = 0; r < l->conf->n_returns; r++)
                if (memcmp(l->conf->returns[r].addr.bytes, ans->bytes, 4) == 0) {
                    sym = l->conf->returns[r].symbol;
                    score = l->conf->returns[r].score;
                    break;
                }
            snprintf(detail, sizeof(detail), "%s listed in %s (%s)", st->ip, l->conf->zone, astr);
            mk_check_add(ctx, sym, score, detail, mk_rbl_reason(ctx->pool, l, st->ip));
        }
    }
}

const mk_check mk_rbl_check = {
    .name = "rbl",
    .stage = MK_STAGE_CONNECT,
    .needs_dns = 1,
    .enabled = mk_rbl_enabled,
    .start = mk_rbl_start,
    .finish = mk_rbl_finish,
};
