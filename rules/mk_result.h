/*
 * mk_result: what the checks found: symbols with scores, plus actions a
 * check may force (GTUBE forces a reject). All strings live in the pool
 * the results were made with.
 */
#ifndef MK_RESULT_H
#define MK_RESULT_H

#include <stddef.h>

#include "mk_pool.h"

/* Ordered by severity: a forced action only ever raises the verdict. */
typedef enum {
    MK_ACTION_ACCEPT = 0,
    MK_ACTION_ADD_HEADER,
    MK_ACTION_TEMPFAIL,
    MK_ACTION_REJECT,
} mk_action;

typedef struct mk_symbol {
    const char *name;
    double score;
    const char *detail; /* for logs and test mode: "192.0.2.99 -> 127.0.0.2" */
    const char *reason; /* for the sender when this leads to a reject, or NULL */
} mk_symbol;

/* One authentication result for Authentication-Results (RFC 8601). */
typedef struct mk_auth {
    const char *method; /* "spf", "dkim", "dmarc" */
    const char *result; /* "pass", "fail", ... */
    const char *reason; /* a comment, or NULL */
    const char *props;  /* "key=value" properties, one per line, or NULL */
} mk_auth;

#define MK_RESULTS_MAX_AUTH 16

typedef struct mk_results {
    mk_pool *pool;
    mk_symbol *syms;
    size_t n, cap;
    mk_auth auth[MK_RESULTS_MAX_AUTH];
    size_t n_auth;
    mk_action forced;          /* MK_ACTION_ACCEPT: none */
    const char *forced_reason; /* owned by the pool */
    const char *hold_reason;   /* set: ask the MTA to hold the message (pool) */
    int not_spam;              /* no score makes it spam (a friend); forced actions still count */
} mk_results;

void mk_results_init(mk_results *res, mk_pool *pool);
/* Adds a symbol (strings are copied into the pool). A symbol added twice
 * keeps the first score and detail. 0, or -1 when out of memory. */
int mk_results_add(mk_results *res, const char *name, double score, const char *detail,
                   const char *reason);
/* Adds an authentication result (strings copied into the pool); results
 * past MK_RESULTS_MAX_AUTH are dropped. 0 or -1. */
int mk_results_auth(mk_results *res, const char *method, const char *result, const char *reason,
                    const char *props);
/* Copies every symbol, authentication result and forced action of src into res. */
int mk_results_merge(mk_results *res, const mk_results *src);
/* Raises the forced action to at least action. */
void mk_results_force(mk_results *res, mk_action action, const char *reason);
/* Asks the MTA to keep the message in its hold queue, if it accepts it;
 * the first reason stays. */
void mk_results_hold(mk_results *res, const char *reason);
const mk_symbol *mk_results_find(const mk_results *res, const char *name);
double mk_results_score(const mk_results *res);

const char *mk_action_name(mk_action action);

#endif
