/*
 * mk_result: symbol list of one message or connection.
 */
#include "config.h"

#include "mk_result.h"

#include <stdlib.h>
#include <string.h>

void mk_results_init(mk_results *res, mk_pool *pool)
{
    memset(res, 0, sizeof(*res));
    res->pool = pool;
}

const mk_symbol *mk_results_find(const mk_results *res, const char *name)
{
    for (size_t i = 0; i < res->n; i++)
        if (strcmp(res->syms[i].name, name) == 0)
            return &res->syms[i];
    return NULL;
}

int mk_results_add(mk_results *res, const char *name, double score, const char *detail,
                   const char *reason)
{
    if (mk_results_find(res, name) != NULL)
        return 0;
    if (res->n == res->cap) {
        size_t ncap = res->cap ? res->cap * 2 : 16;
        mk_symbol *grown = mk_pool_alloc(res->pool, ncap * sizeof(*grown));
        if (grown == NULL)
            return -1;
        if (res->n > 0)
            memcpy(grown, res->syms, res->n * sizeof(*grown));
        res->syms = grown;
        res->cap = ncap;
    }
    mk_symbol *s = &res->syms[res->n];
    s->name = mk_pool_strdup(res->pool, name);
    s->score = score;
    s->detail = mk_pool_strdup(res->pool, detail);
    s->reason = mk_pool_strdup(res->pool, reason);
    if (s->name == NULL)
        return -1;
    res->n++;
    return 0;
}

void mk_results_force(mk_results *res, mk_action action, const char *reason)
{
    if (action > res->forced) {
        res->forced = action;
        res->forced_reason = mk_pool_strdup(res->pool, reason);
    }
}

void mk_results_hold(mk_results *res, const char *reason)
{
    if (res->hold_reason == NULL)
        res->hold_reason = mk_pool_strdup(res->pool, reason ? reason : "held");
}

int mk_results_auth(mk_results *res, const char *method, const char *result, const char *reason,
                    const char *props)
{
    if (res->n_auth == MK_RESULTS_MAX_AUTH)
        return 0;
    mk_auth *a = &res->auth[res->n_auth];
    a->method = mk_pool_strdup(res->pool, method);
    a->result = mk_pool_strdup(res->pool, result);
    a->reason = mk_pool_strdup(res->pool, reason);
    a->props = mk_pool_strdup(res->pool, props);
    if (a->method == NULL || a->result == NULL)
        return -1;
    res->n_auth++;
    return 0;
}

int mk_results_merge(mk_results *res, const mk_results *src)
{
    for (size_t i = 0; i < src->n; i++) {
        const mk_symbol *s = &src->syms[i];
        if (mk_results_add(res, s->name, s->score, s->detail, s->reason) != 0)
            return -1;
    }
    for (size_t i = 0; i < src->n_auth; i++) {
        const mk_auth *a = &src->auth[i];
        if (mk_results_auth(res, a->method, a->result, a->reason, a->props) != 0)
            return -1;
    }
    mk_results_force(res, src->forced, src->forced_reason);
    if (src->hold_reason != NULL)
        mk_results_hold(res, src->hold_reason);
    return 0;
}

double mk_results_score(const mk_results *res)
{
    double sum = 0;
    for (size_t i = 0; i < res->n; i++)
        sum += res->syms[i].score;
    return sum;
}

const char *mk_action_name(mk_action action)
{
    switch (action) {
    case MK_ACTION_ACCEPT:
        return "accept";
    case MK_ACTION_ADD_HEADER:
        return "add_header";
    case MK_ACTION_TEMPFAIL:
        return "tempfail";
    case MK_ACTION_REJECT:
        return "reject";
    }
    return "?";
}
