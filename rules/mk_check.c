/*
 * mk_check: the registry of checks and the stage runner.
 */
#include "config.h"

#include "mk_check.h"

#include <string.h>

#include "mk_html_dom.h"
#include "mk_relays.h"
#include "mk_uri.h"

extern const mk_check mk_rbl_check;
extern const mk_check mk_gtube_check;
extern const mk_check mk_mime_check;
extern const mk_check mk_spf_check;
extern const mk_check mk_dkim_check;
extern const mk_check mk_dmarc_check;
extern const mk_check mk_uribl_check;
extern const mk_check mk_content_check;
extern const mk_check mk_bayes_check;

const mk_check *const mk_checks_all[] = {
    &mk_rbl_check,
    &mk_gtube_check,
    &mk_mime_check,
    &mk_uribl_check,
    &mk_dmarc_check,   /* asks for its records first; decides last, from SPF's and DKIM's results */
    &mk_bayes_check,   /* before the content rules: their scores depend on its vote */
    &mk_content_check, /* CPU work while the DNS above flies */
    &mk_dkim_check,
    &mk_spf_check, /* last: it waits for its lookups while the others' fly */
    NULL,
};

int mk_checks_need_dns(const mk_config *cfg)
{
    for (size_t i = 0; mk_checks_all[i] != NULL; i++)
        if (mk_checks_all[i]->needs_dns && mk_checks_all[i]->enabled(cfg))
            return 1;
    return 0;
}

/* The trees of the message's HTML parts (mk_html_doms), read on first
 * use for the links and the body text; NULL without a message. */
static const GPtrArray *mk_check_doms(mk_check_ctx *ctx)
{
    if (ctx->doms == NULL && ctx->msg != NULL)
        ctx->doms = mk_html_doms(ctx->msg);
    return ctx->doms;
}

/* Frees the trees once the links and the body text, all that read
 * them, are made: a large HTML part's tree is many times its size. */
static void mk_check_doms_done(mk_check_ctx *ctx)
{
    if (ctx->doms != NULL && ctx->links != NULL && ctx->body_text != NULL) {
        g_ptr_array_unref(ctx->doms);
        ctx->doms = NULL;
    }
}

const struct mk_uri_set *mk_check_links(mk_check_ctx *ctx)
{
    if (ctx->links == NULL && ctx->msg != NULL) {
        ctx->links = g_new0(mk_uri_set, 1);
        mk_uri_set_init(ctx->links, ctx->psl, MK_CHECK_MAX_LINKS);
        mk_uri_set_keep_links(ctx->links, MK_CHECK_MAX_LINKS);
        mk_uri_scan_msg(ctx->links, ctx->msg, mk_check_doms(ctx));
        mk_check_doms_done(ctx);
    }
    return ctx->links;
}

const char *mk_check_body_text(mk_check_ctx *ctx)
{
    if (ctx->body_text == NULL && ctx->msg != NULL) {
        ctx->body_text = mk_sa_body_text(ctx->msg, mk_check_doms(ctx));
        mk_check_doms_done(ctx);
    }
    return ctx->body_text;
}

const mk_relays *mk_check_relays(mk_check_ctx *ctx)
{
    if (ctx->relays == NULL && ctx->msg != NULL)
        ctx->relays = mk_relays_parse(g_mime_object_get_header_list(GMIME_OBJECT(ctx->msg->mime)),
                                      &ctx->cfg->trusted_networks);
    return ctx->relays;
}

const GPtrArray *mk_check_html(mk_check_ctx *ctx)
{
    if (ctx->html == NULL && ctx->msg != NULL)
        ctx->html = mk_sa_html_parts(ctx->msg);
    return ctx->html;
}

void mk_check_ctx_clear(mk_check_ctx *ctx)
{
    if (ctx->html != NULL)
        g_ptr_array_unref(ctx->html);
    ctx->html = NULL;
    if (ctx->doms != NULL)
        g_ptr_array_unref(ctx->doms);
    ctx->doms = NULL;
    g_free(ctx->body_text);
    ctx->body_text = NULL;
    mk_relays_free(ctx->relays);
    ctx->relays = NULL;
    if (ctx->links != NULL) {
        mk_uri_set_clear(ctx->links);
        g_free(ctx->links);
        ctx->links = NULL;
    }
}

int mk_check_add(mk_check_ctx *ctx, const char *symbol, double def, const char *detail,
                 const char *reason)
{
    return mk_results_add(ctx->res, symbol, mk_config_score(ctx->cfg, symbol, def), detail, reason);
}

void mk_checks_start(mk_check_ctx *ctx, mk_stage stage, mk_check_run *run)
{
    memset(run, 0, sizeof(*run));
    for (size_t i = 0; mk_checks_all[i] != NULL && i < MK_CHECKS_MAX; i++) {
        const mk_check *c = mk_checks_all[i];
        if (c->stage != stage || !c->enabled(ctx->cfg) || (c->needs_dns && ctx->dns == NULL))
            continue;
        run->started[i] = 1;
        run->state[i] = c->start(ctx);
    }
}

void mk_checks_finish(mk_check_ctx *ctx, mk_check_run *run)
{
    if (run->finished)
        return;
    run->finished = 1;
    for (size_t i = 0; mk_checks_all[i] != NULL && i < MK_CHECKS_MAX; i++)
        if (run->started[i] && mk_checks_all[i]->finish != NULL)
            mk_checks_all[i]->finish(ctx, run->state[i]);
}
