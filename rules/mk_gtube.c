/*
 * mk_gtube: the Generic Test for Unsolicited Bulk Email. The standard
 * string forces a reject (symbol GTUBE); rspamd's "YJS" variant forces at
 * least add_header (GTUBE_ADD_HEADER), so a postmaster can watch the whole
 * path with a message that is delivered. Forced actions only raise the
 * verdict, so neither string can be used to get spam through.
 */
#include "config.h"

#include <string.h>

#include "mk_check.h"

#define MK_GTUBE_TAIL "JS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

static int mk_gtube_enabled(const mk_config *cfg)
{
    return cfg->gtube;
}

static void *mk_gtube_start(mk_check_ctx *ctx)
{
    const mk_msg *msg = ctx->msg;
    int reject = 0, add_header = 0;
    for (size_t i = 0; i < msg->n_texts; i++) {
        const char *t = msg->texts[i].text;
        size_t len = msg->texts[i].len;
        const char *p = t;
        while ((p = memmem(p, len - (size_t)(p - t), MK_GTUBE_TAIL, sizeof(MK_GTUBE_TAIL) - 1))) {
            if (p > t && p[-1] == 'X')
                reject = 1;
            else if (p > t && p[-1] == 'Y')
                add_header = 1;
            p++;
        }
    }
    if (reject) {
        mk_check_add(ctx, "GTUBE", 1000.0, "GTUBE test string in body", "GTUBE test string found");
        mk_results_force(ctx->res, MK_ACTION_REJECT, "GTUBE test string found");
    } else if (add_header) {
        /* Scored at the add-header threshold, so the headers read as spam too. */
        mk_check_add(ctx, "GTUBE_ADD_HEADER", ctx->cfg->add_header_score,
                     "GTUBE add-header test string in body", NULL);
        mk_results_force(ctx->res, MK_ACTION_ADD_HEADER, NULL);
    }
    return NULL;
}

const mk_check mk_gtube_check = {
    .name = "gtube",
    .stage = MK_STAGE_EOM,
    .needs_dns = 0,
    .enabled = mk_gtube_enabled,
    .start = mk_gtube_start,
    .finish = NULL,
};
