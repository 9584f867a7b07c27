/*
 * mk_check: the one interface every check implements. A check runs at the
 * stage where its inputs are known (connect: the client address; end of
 * message: the parsed message), may queue DNS queries on the connection's
 * resolver, and once they are answered (or the deadline passed) adds its
 * symbols. Checks see no MTA, only an mk_envelope and an mk_msg.
 */
#ifndef MK_CHECK_H
#define MK_CHECK_H

#include <libpsl.h>
#include <stddef.h>

#include "mk_config.h"
#include "mk_dns.h"
#include "mk_msg.h"
#include "mk_net.h"
#include "mk_pool.h"
#include "mk_result.h"
#include "mk_sa.h"

typedef enum { MK_STAGE_CONNECT, MK_STAGE_EOM } mk_stage;

/* What the MTA told about the message; strings belong to the caller. */
typedef struct mk_envelope {
    const char *qid;         /* queue ID, for logs; never NULL ("NOQUEUE") */
    const char *client_host; /* as the MTA names it, or NULL */
    const char *client_ip;   /* text, or NULL when unknown (local submission) */
    mk_addr client_addr;
    int have_addr;
    const char *helo;
    const char *auth;      /* the SMTP AUTH name, or NULL */
    const char *mail_from; /* without <>; "" for the null sender */
    const char *const *rcpts;
    size_t n_rcpts;
} mk_envelope;

typedef struct mk_check_ctx {
    const mk_config *cfg;
    mk_pool *pool; /* lives as long as res */
    mk_dns *dns;
    const mk_envelope *env;
    const mk_msg *msg; /* NULL at MK_STAGE_CONNECT */
    mk_results *res;
    /* End of message: the one DNS deadline of the message (CLOCK_MONOTONIC).
     * A check that must wait for its answers (SPF) waits no longer. NULL at
     * connect, where no check may wait. */
    const struct timespec *deadline;
    /* End of message: the message in wire form (CRLF), for checks that read
     * it byte for byte (DKIM); NULL at connect. */
    GMimeStream *msg_stream;
    /* The public suffix list (mk_domain), for registered domains. */
    const psl_ctx_t *psl;
    /* The content rules loaded at start, or NULL. */
    const mk_sa_rules *rules;
    /* End of message: the links of the message, collected once for every
     * check that reads them (mk_check_links); freed by mk_check_ctx_clear. */
    struct mk_uri_set *links;
    /* End of message: the body as the body rules see it, made once
     * (mk_check_body_text); freed by mk_check_ctx_clear. */
    char *body_text;
    /* End of message: the Received chain read once (mk_check_relays);
     * freed by mk_check_ctx_clear. */
    struct mk_relays *relays;
    /* End of message: the HTML parts read once for Bayes and the rules
     * (mk_check_html); freed by mk_check_ctx_clear. */
    GPtrArray *html;
    /* End of message: the HTML parts' trees, read once for the links and
     * the body text (mk_html_doms); freed once both are made, or by
     * mk_check_ctx_clear. */
    GPtrArray *doms;
    /* The Bayes store as the milter reads it, or NULL when [bayes] is off. */
    struct mk_bayes *bayes;
    int bayes_voted; /* the Bayes check added a BAYES_* symbol */
} mk_check_ctx;

typedef struct mk_check {
    const char *name;
    mk_stage stage;
    int needs_dns;
    /* Whether the configuration turns it on. */
    int (*enabled)(const mk_config *cfg);
    /* Local work, and DNS queries whose answers land in the returned state
     * (allocated from ctx->pool); may add symbols at once. */
    void *(*start)(mk_check_ctx *ctx);
    /* After every query of the stage is answered or timed out: add symbols. */
    void (*finish)(mk_check_ctx *ctx, void *state);
} mk_check;

/* Every check mailkeeper has, NULL-terminated. */
extern const mk_check *const mk_checks_all[];

/* Whether any enabled check asks DNS: without one, no resolver is made. */
int mk_checks_need_dns(const mk_config *cfg);

/* The links of the message (hosts up to MK_CHECK_MAX_LINKS, the links as
 * written too), scanned on first use; NULL without a message or memory. */
#define MK_CHECK_MAX_LINKS 1000
const struct mk_uri_set *mk_check_links(mk_check_ctx *ctx);
/* The body as the body rules see it (mk_sa_body_text), made on first
 * use; NULL without a message. */
const char *mk_check_body_text(mk_check_ctx *ctx);
/* The Received chain as the content rules and Bayes read it (mk_relays,
 * with [general] trusted_networks), made on first use. */
const struct mk_relays *mk_check_relays(mk_check_ctx *ctx);
/* The message's HTML parts as Bayes and the HTML rules read them
 * (mk_sa_html_parts), made on first use. */
const GPtrArray *mk_check_html(mk_check_ctx *ctx);
/* Frees what the checks of a stage built in ctx (the links, the text). */
void mk_check_ctx_clear(mk_check_ctx *ctx);

/* Adds a symbol whose score [scores] may override; def is the default. */
int mk_check_add(mk_check_ctx *ctx, const char *symbol, double def, const char *detail,
                 const char *reason);

#define MK_CHECKS_MAX 32

/* The checks of one stage under way: their states between start and finish. */
typedef struct mk_check_run {
    void *state[MK_CHECKS_MAX];
    unsigned char started[MK_CHECKS_MAX];
    int finished;
} mk_check_run;

/* Starts every enabled check of the stage; their DNS then runs on ctx->dns
 * while the caller goes on (the MTA sends the rest of the message). */
void mk_checks_start(mk_check_ctx *ctx, mk_stage stage, mk_check_run *run);
/* Finishes the checks begun by mk_checks_start(): call it once the DNS is
 * answered or the deadline passed (mk_dns_wait()). Once per run. */
void mk_checks_finish(mk_check_ctx *ctx, mk_check_run *run);

#endif
