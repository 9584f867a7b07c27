/*
 * mk_content: the content rules (mk_sa) as a check. At end of message the
 * rules loaded at start run over the parsed message, its wire form (full
 * rules) and its links (uri rules); each rule that hits becomes a symbol
 * with the rule file's score, which [scores] may override.
 */
#include "config.h"

#include <string.h>

#include "mk_check.h"
#include "mk_log.h"
#include "mk_uri.h"

static int mk_content_enabled(const mk_config *cfg)
{
    return cfg->rules_paths != NULL && cfg->rules_paths[0] != '\0';
}

static void *mk_content_start(mk_check_ctx *ctx)
{
    if (ctx->rules == NULL || ctx->msg == NULL)
        return NULL;
    GByteArray *full = ctx->msg_stream != NULL && mk_sa_reads_full(ctx->rules)
                           ? mk_msg_stream_bytes(ctx->msg_stream)
                           : NULL;
    const mk_uri_set *links = mk_sa_reads_uris(ctx->rules) ? mk_check_links(ctx) : NULL;
    mk_sa_input in = {
        .msg = ctx->msg,
        .envelope_from = ctx->env->mail_from,
        .body_text = mk_check_body_text(ctx),
        .full = full != NULL ? (const char *)full->data : NULL,
        .full_len = full != NULL ? full->len : 0,
        .uris = links != NULL ? (const char *const *)links->kept->pdata : NULL,
        .n_uris = links != NULL ? links->kept->len : 0,
        .network = mk_checks_need_dns(ctx->cfg),
        .bayes_voted = ctx->bayes_voted,
        .trusted_networks = &ctx->cfg->trusted_networks,
        .relays = mk_check_relays(ctx),
        .psl = ctx->psl,
        .html = ctx->html, /* when Bayes read them already */
    };
    mk_sa_hit *hits = NULL;
    size_t n = 0, limited = 0;
    if (mk_sa_eval(ctx->rules, &in, &hits, &n, &limited) == 0) {
        for (size_t i = 0; i < n; i++)
            mk_check_add(ctx, hits[i].name, hits[i].score, hits[i].describe, NULL);
        if (limited > 0)
            mk_log(LOG_NOTICE, ctx->env->qid,
                   "rules: %zu match(es) stopped at the backtracking limit", limited);
    }
    g_free(hits);
    if (full != NULL)
        g_byte_array_free(full, TRUE);
    return NULL;
}

const mk_check mk_content_check = {
    .name = "content",
    .stage = MK_STAGE_EOM,
    .needs_dns = 0,
    .enabled = mk_content_enabled,
    .start = mk_content_start,
    .finish = NULL,
};
