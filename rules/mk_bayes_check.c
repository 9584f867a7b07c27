/*
 * mk_bayes_check: the Bayes classifier as a check. At end of message the
 * message is tokenized (body text and links shared with the content rules)
 * and classified against the store: the recipient's own store when
 * [bayes] per_user is on, the message has one recipient and that user has
 * learned enough, else the global store. The symbol is BAYES_00 ...
 * BAYES_99 (and BAYES_999), with SpamAssassin's scores unless [scores]
 * says otherwise. Until the store has learned [bayes] min_spam spam and
 * min_ham ham, Bayes does not vote.
 */
#include "config.h"

#include <stdio.h>

#include "mk_bayes.h"
#include "mk_lists.h"
#include "mk_check.h"
#include "mk_log.h"

static int mk_bayes_enabled(const mk_config *cfg)
{
    return cfg->bayes_enabled;
}

static void *mk_bayes_start(mk_check_ctx *ctx)
{
    ctx->bayes_voted = 0;
    if (ctx->bayes == NULL || ctx->msg == NULL)
        return NULL;
    mk_bayes_toks toks;
    mk_bayes_tokenize(ctx->msg, mk_check_body_text(ctx), mk_check_html(ctx), mk_check_links(ctx),
                      mk_check_relays(ctx), &toks, NULL);
    /* the recipient named as mailkeeper-learn --user names it */
    char *user =
        ctx->cfg->bayes_per_user && ctx->env->n_rcpts == 1
            ? mk_lists_user_of_rcpt(ctx->env->rcpts[0], ctx->cfg->lists_recipient_delimiter)
            : NULL;
    double prob = 0.5;
    char why[160];
    int rc = mk_bayes_classify(ctx->bayes, user, &toks, &prob, why, sizeof(why));
    g_free(user);
    mk_bayes_toks_clear(&toks);
    if (rc < 0) {
        mk_log(LOG_WARNING, ctx->env->qid, "Bayes: %s", why);
        return NULL;
    }
    if (rc == 0) {
        mk_log(LOG_DEBUG, ctx->env->qid, "Bayes: %s", why);
        return NULL;
    }
    char detail[200];
    snprintf(detail, sizeof(detail), "%.4f (%s)", prob, why);
    double def;
    const char *sym = mk_bayes_symbol(prob, mk_checks_need_dns(ctx->cfg), &def);
    mk_check_add(ctx, sym, def, detail, NULL);
    if (prob >= 0.999)
        mk_check_add(ctx, "BAYES_999", 0.2, detail, NULL);
    ctx->bayes_voted = 1;
    return NULL;
}

const mk_check mk_bayes_check = {
    .name = "bayes",
    .stage = MK_STAGE_EOM,
    .needs_dns = 0,
    .enabled = mk_bayes_enabled,
    .start = mk_bayes_start,
    .finish = NULL,
};
