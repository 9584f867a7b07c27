/*
 * mk_rbl: DNS block lists on the client address (RFC 5782). At connect,
 * one A query per configured list (and a TXT query where the reason uses
 * %t) goes out on the connection's resolver, all lists at once; at end of
 * message each answer becomes a symbol (mk_dnsbl). Loopback, private and
 * trusted addresses are not looked up.
 */
#include "config.h"

#include <sys/socket.h>

#include "mk_dnsbl.h"
#include "mk_log.h"

typedef struct mk_rbl_state {
    char ip[64];
    size_t n;
    mk_dnsbl_query *lists;
} mk_rbl_state;

static int mk_rbl_enabled(const mk_config *cfg)
{
    return cfg->n_rbls > 0;
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
    st->n = 0;
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
    char rev[80];
    mk_net_reverse(&env->client_addr, rev, sizeof(rev));
    for (size_t i = 0; i < cfg->n_rbls; i++) {
        const mk_conf_rbl *conf = &cfg->rbls[i];
        st->lists[i].asked = 0;
        if ((env->client_addr.family == AF_INET && !conf->ipv4) ||
            (env->client_addr.family == AF_INET6 && !conf->ipv6))
            continue;
        mk_dnsbl_ask(ctx->dns, &st->lists[i], conf, ctx->pool, rev, st->ip);
    }
    return st;
}

static void mk_rbl_finish(mk_check_ctx *ctx, void *state)
{
    mk_rbl_state *st = state;
    for (size_t i = 0; st != NULL && i < st->n; i++)
        mk_dnsbl_report(ctx, &st->lists[i], "rbl");
}

const mk_check mk_rbl_check = {
    .name = "rbl",
    .stage = MK_STAGE_CONNECT,
    .needs_dns = 1,
    .enabled = mk_rbl_enabled,
    .start = mk_rbl_start,
    .finish = mk_rbl_finish,
};
