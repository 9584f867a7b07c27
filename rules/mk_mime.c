/*
 * mk_mime: what the MIME parser had to repair. MIME_MALFORMED for broken
 * structure (truncated, bad multipart, invalid Content-Type, ...);
 * MIME_AMBIGUOUS for the problems after which mail programs may read the
 * message differently (conflicting headers, a multipart without boundary,
 * nesting too deep): a way to slip content past filters.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mk_check.h"

static int mk_mime_enabled(const mk_config *cfg)
{
    return 1;
}

/* Kinds that count: raw 8-bit headers are legal with SMTPUTF8, so not them. */
#define MK_MIME_IGNORED (1u << GMIME_WARN_UNENCODED_8BIT_HEADER)

static void *mk_mime_start(mk_check_ctx *ctx)
{
    const mk_msg *msg = ctx->msg;
    unsigned w = msg->warnings & ~MK_MIME_IGNORED;
    if (w == 0)
        return NULL;
    char detail[512];
    size_t o = 0;
    detail[0] = '\0';
    for (int code = 1; code < 32 && o < sizeof(detail) - 1; code++) {
        if (!(w & (1u << code)))
            continue;
        int n = snprintf(detail + o, sizeof(detail) - o, "%s%s", o ? "," : "",
                         mk_msg_warning_name(code));
        if (n < 0)
            break;
        o += (size_t)n < sizeof(detail) - o ? (size_t)n : sizeof(detail) - o - 1;
    }
    if (msg->critical)
        mk_check_add(ctx, "MIME_AMBIGUOUS", 2.5, detail, NULL);
    else
        mk_check_add(ctx, "MIME_MALFORMED", 1.0, detail, NULL);
    return NULL;
}

const mk_check mk_mime_check = {
    .name = "mime",
    .stage = MK_STAGE_EOM,
    .needs_dns = 0,
    .enabled = mk_mime_enabled,
    .start = mk_mime_start,
    .finish = NULL,
};
