/*
 * mk_uribl: URI block lists (SURBL, URIBL, Spamhaus DBL style). At end of
 * message the links of the text and HTML parts are collected (mk_uri), and
 * each linked registered domain, or address, is asked of every configured
 * [uribl:NAME] list at once on the connection's resolver, within the
 * message's DNS deadline and at most [uri] max_lookups queries; answers
 * become symbols as for the client lists (mk_dnsbl), bit by bit for lists
 * with bitmask return codes.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "mk_dnsbl.h"
#include "mk_log.h"
#include "mk_uri.h"

typedef struct mk_uribl_state {
    size_t n_q;
    mk_dnsbl_query *q;
    size_t links, hosts, skipped;
} mk_uribl_state;

static int mk_uribl_enabled(const mk_config *cfg)
{
    return cfg->n_uribls > 0;
}

/* Whether list takes host h. */
static int mk_uribl_takes(const mk_conf_rbl *list, const mk_uri_host *h)
{
    if (!h->is_addr)
        return 1;
    return h->addr.family == AF_INET ? list->ipv4 : list->ipv6;
}

static void *mk_uribl_start(mk_check_ctx *ctx)
{
    const mk_config *cfg = ctx->cfg;
    if (ctx->msg == NULL || cfg->uri_max_lookups == 0)
        return NULL;
    mk_uribl_state *st = mk_pool_alloc(ctx->pool, sizeof(*st));
    if (st == NULL)
        return NULL;
    memset(st, 0, sizeof(*st));
    const mk_uri_set *set = mk_check_links(ctx);
    if (set == NULL)
        return NULL;
    st->links = set->links;
    st->hosts = set->n + set->dropped;
    /* never more queries than max_lookups */
    st->q = mk_pool_alloc(ctx->pool, (cfg->uri_max_lookups + 1) * sizeof(*st->q));
    if (st->q == NULL)
        return NULL;
    size_t budget = cfg->uri_max_lookups;
    for (size_t i = 0; i < set->n; i++) {
        const mk_uri_host *h = &set->hosts[i];
        size_t need = 0;
        for (size_t l = 0; l < cfg->n_uribls; l++)
            need += mk_uribl_takes(&cfg->uribls[l], h);
        if (need > budget) {
            st->skipped = set->n - i;
            break;
        }
        budget -= need;
        char key[80];
        const char *k = h->is_addr ? mk_net_reverse(&h->addr, key, sizeof(key)) : h->name;
        const char *item = mk_pool_strdup(ctx->pool, h->name);
        for (size_t l = 0; l < cfg->n_uribls; l++)
            if (mk_uribl_takes(&cfg->uribls[l], h))
                mk_dnsbl_ask(ctx->dns, &st->q[st->n_q++], &cfg->uribls[l], ctx->pool, k, item);
    }
    st->skipped += set->dropped;
    mk_log(LOG_DEBUG, ctx->env->qid, "uribl: %zu links to %zu hosts, %zu queries", st->links,
           st->hosts, st->n_q);
    return st;
}

static void mk_uribl_finish(mk_check_ctx *ctx, void *state)
{
    mk_uribl_state *st = state;
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n_q; i++)
        mk_dnsbl_report(ctx, &st->q[i], "uribl");
    if (st->skipped > 0) {
        char detail[160];
        snprintf(detail, sizeof(detail),
                 "%zu of %zu linked hosts not looked up (max_lookups = %zu)", st->skipped,
                 st->hosts, ctx->cfg->uri_max_lookups);
        mk_log(LOG_NOTICE, ctx->env->qid, "uribl: %s", detail);
        mk_check_add(ctx, "URIBL_LIMIT", 0.0, detail, NULL);
    }
}

const mk_check mk_uribl_check = {
    .name = "uribl",
    .stage = MK_STAGE_EOM,
    .needs_dns = 1,
    .enabled = mk_uribl_enabled,
    .start = mk_uribl_start,
    .finish = mk_uribl_finish,
};
