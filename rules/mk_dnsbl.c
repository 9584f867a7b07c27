/*
 * mk_dnsbl: DNS list answers into symbols.
 */
#include "config.h"

#include "mk_dnsbl.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "mk_log.h"

static void mk_dnsbl_on_a(void *arg, const mk_dns_answer *ans)
{
    mk_dnsbl_query *q = arg;
    q->status = ans->status;
    q->error = mk_pool_strdup(q->pool, ans->error);
    q->n_addrs = ans->n_addrs;
    memcpy(q->addrs, ans->addrs, ans->n_addrs * sizeof(ans->addrs[0]));
}

static void mk_dnsbl_on_txt(void *arg, const mk_dns_answer *ans)
{
    mk_dnsbl_query *q = arg;
    if (ans->status == MK_DNS_OK && ans->n_txt > 0)
        q->txt = mk_pool_strdup(q->pool, ans->txt[0]);
}

void mk_dnsbl_ask(mk_dns *dns, mk_dnsbl_query *q, const mk_conf_rbl *conf, mk_pool *pool,
                  const char *key, const char *item)
{
    memset(q, 0, sizeof(*q));
    q->conf = conf;
    q->pool = pool;
    q->item = item;
    q->asked = 1;
    q->status = MK_DNS_TEMPERROR;
    char name[400];
    snprintf(name, sizeof(name), "%s.%s", key, conf->zone);
    mk_dns_query(dns, name, MK_DNS_A, mk_dnsbl_on_a, q);
    if (strstr(conf->reason, "%t") != NULL)
        mk_dns_query(dns, name, MK_DNS_TXT, mk_dnsbl_on_txt, q);
}

/* The reason template with %i, %z, %t and %% expanded, into the pool. */
static const char *mk_dnsbl_reason(mk_pool *pool, const mk_dnsbl_query *q)
{
    char out[512];
    size_t o = 0;
    for (const char *p = q->conf->reason; *p != '\0' && o < sizeof(out) - 1; p++) {
        const char *add = NULL;
        char one[2] = {*p, '\0'};
        if (*p == '%' && p[1] != '\0') {
            p++;
            switch (*p) {
            case 'i':
                add = q->item;
                break;
            case 'z':
                add = q->conf->zone;
                break;
            case 't':
                add = q->txt ? q->txt : "";
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

static void mk_dnsbl_temperror(mk_check_ctx *ctx, const mk_dnsbl_query *q, const char *what,
                               const char *why)
{
    char sym[96];
    snprintf(sym, sizeof(sym), "%s_TEMPERROR", q->conf->symbol);
    char detail[256];
    snprintf(detail, sizeof(detail), "%s: %s", q->conf->zone, why);
    if (mk_results_find(ctx->res, sym) == NULL) /* once per list */
        mk_log(LOG_NOTICE, ctx->env->qid, "%s: %s", what, detail);
    mk_check_add(ctx, sym, q->conf->temperror_score, detail, NULL);
}

static void mk_dnsbl_listed(mk_check_ctx *ctx, const mk_dnsbl_query *q, const char *sym,
                            double score, const char *astr)
{
    char detail[256];
    snprintf(detail, sizeof(detail), "%s listed in %s (%s)", q->item, q->conf->zone, astr);
    mk_check_add(ctx, sym, score, detail, mk_dnsbl_reason(ctx->pool, q));
}

void mk_dnsbl_report(mk_check_ctx *ctx, const mk_dnsbl_query *q, const char *what)
{
    if (!q->asked || q->status == MK_DNS_NOTFOUND)
        return;
    if (q->status == MK_DNS_TEMPERROR) {
        mk_dnsbl_temperror(ctx, q, what, q->error ? q->error : "temporary DNS error");
        return;
    }
    const mk_conf_rbl *conf = q->conf;
    for (size_t a = 0; a < q->n_addrs; a++) {
        const mk_addr *ans = &q->addrs[a];
        char astr[64];
        mk_net_addr_str(ans, astr, sizeof(astr));
        if (ans->family != AF_INET || ans->bytes[0] != 127) {
            mk_log(LOG_WARNING, ctx->env->qid,
                   "%s: %s answered %s for %s, outside 127.0.0.0/8: ignored", what, conf->zone,
                   astr, q->item);
            continue;
        }
        if (ans->bytes[1] == 255 && ans->bytes[2] == 255) {
            char why[160];
            snprintf(why, sizeof(why),
                     "list answered %s: it refuses our queries (public resolver or quota?)", astr);
            mk_dnsbl_temperror(ctx, q, what, why);
            continue;
        }
        if (conf->bitmask) {
            /* SURBL multi: each bit its own list; bits nobody named count
             * for the list's own symbol */
            unsigned bits = ans->bytes[3], named = 0;
            for (size_t r = 0; r < conf->n_returns; r++) {
                unsigned bit = conf->returns[r].addr.bytes[3];
                named |= bit;
                if (bits & bit)
                    mk_dnsbl_listed(ctx, q, conf->returns[r].symbol, conf->returns[r].score, astr);
            }
            if ((bits & ~named) != 0)
                mk_dnsbl_listed(ctx, q, conf->symbol, conf->score, astr);
            continue;
        }
        const char *sym = conf->symbol;
        double score = conf->score;
        for (size_t r = 0; r < conf->n_returns; r++)
            if (memcmp(conf->returns[r].addr.bytes, ans->bytes, 4) == 0) {
                sym = conf->returns[r].symbol;
                score = conf->returns[r].score;
                break;
            }
        mk_dnsbl_listed(ctx, q, sym, score, astr);
    }
}
