/*
 * mk_verdict: from the symbols to what the MTA hears, and the X-Spam-*
 * headers in SpamAssassin's format. A pure function of the results and the
 * policy, so it is tested without a network.
 */
#ifndef MK_VERDICT_H
#define MK_VERDICT_H

#include <stddef.h>

#include "mk_config.h"
#include "mk_pool.h"
#include "mk_result.h"

typedef struct mk_policy {
    double add_header; /* SpamAssassin's required_score */
    double tempfail;   /* NAN: off */
    double reject;
    const char *reject_message;
} mk_policy;

typedef struct mk_verdict {
    mk_action action;
    double score;
    const char *reply; /* for reject and tempfail: text the sender reads (pool) */
} mk_verdict;

typedef struct mk_header {
    const char *name;
    const char *value; /* may hold "\n\t" folds */
} mk_header;

#define MK_VERDICT_HEADERS 4
#define MK_VERSION_TAG     "mailkeeper " PACKAGE_VERSION

void mk_policy_from_config(mk_policy *policy, const mk_config *cfg);

/* Decides; strings of out live in pool. */
void mk_verdict_decide(const mk_results *res, const mk_policy *policy, mk_pool *pool,
                       mk_verdict *out);

/* Fills hdrs with X-Spam-Flag (spam only), X-Spam-Score, X-Spam-Level and
 * X-Spam-Status, in the order they should stand at the top of the message;
 * returns how many. Strings live in pool. */
size_t mk_verdict_headers(const mk_results *res, const mk_verdict *v, const mk_policy *policy,
                          mk_pool *pool, mk_header hdrs[MK_VERDICT_HEADERS]);

/* Header names mailkeeper owns (every X-Spam-*): copies arriving from
 * outside are removed, so nobody can forge a verdict. */
int mk_verdict_is_own_header(const char *name);

#endif
