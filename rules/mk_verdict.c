/*
 * mk_verdict: thresholds, the reply text and SpamAssassin-style headers.
 */
#include "config.h"

#include "mk_verdict.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void mk_policy_from_config(mk_policy *policy, const mk_config *cfg)
{
    policy->add_header = cfg->add_header_score;
    policy->tempfail = cfg->tempfail_score;
    policy->reject = cfg->reject_score;
    policy->reject_message = cfg->reject_message;
}

static int mk_verdict_by_score_desc(const void *a, const void *b)
{
    const mk_symbol *x = *(const mk_symbol *const *)a, *y = *(const mk_symbol *const *)b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* SMTP reply text: printable ASCII, no '%' (libmilter formats it). */
static void mk_verdict_append_clean(char *out, size_t len, size_t *o, const char *s)
{
    for (; *s != '\0' && *o < len - 1; s++) {
        unsigned char c = (unsigned char)*s;
        out[(*o)++] = (c < 0x20 || c > 0x7e || c == '%') ? ' ' : (char)c;
    }
    out[*o] = '\0';
}

static const char *mk_verdict_reply(const mk_results *res, const mk_policy *policy, double score,
                                    mk_pool *pool)
{
    char out[400];
    size_t o = 0;
    out[0] = '\0';
    /* A check refused it while the score alone would not: its reason is the whole story. */
    if (res->forced == MK_ACTION_REJECT && res->forced_reason != NULL && score < policy->reject) {
        mk_verdict_append_clean(out, sizeof(out), &o, res->forced_reason);
        return mk_pool_strdup(pool, out);
    }
    char head[160];
    snprintf(head, sizeof(head), "%s (score %.1f)",
             policy->reject_message ? policy->reject_message : "Message rejected as spam", score);
    out[0] = '\0';
    mk_verdict_append_clean(out, sizeof(out), &o, head);
    const mk_symbol **sorted = mk_pool_alloc(pool, (res->n + 1) * sizeof(*sorted));
    size_t n = 0, shown = 0;
    if (res->forced_reason != NULL) {
        mk_verdict_append_clean(out, sizeof(out), &o, ": ");
        mk_verdict_append_clean(out, sizeof(out), &o, res->forced_reason);
        shown++;
    }
    if (sorted != NULL) {
        for (size_t i = 0; i < res->n; i++)
            if (res->syms[i].reason != NULL && res->syms[i].score > 0)
                sorted[n++] = &res->syms[i];
        qsort(sorted, n, sizeof(*sorted), mk_verdict_by_score_desc);
        for (size_t i = 0; i < n && shown < 3; i++) {
            if (res->forced_reason && strcmp(sorted[i]->reason, res->forced_reason) == 0)
                continue;
            mk_verdict_append_clean(out, sizeof(out), &o, shown ? "; " : ": ");
            mk_verdict_append_clean(out, sizeof(out), &o, sorted[i]->reason);
            shown++;
        }
    }
    return mk_pool_strdup(pool, out);
}

void mk_verdict_decide(const mk_results *res, const mk_policy *policy, mk_pool *pool,
                       mk_verdict *out)
{
    double score = mk_results_score(res);
    mk_action a = MK_ACTION_ACCEPT;
    if (res->not_spam)
        ;
    else if (score >= policy->reject)
        a = MK_ACTION_REJECT;
    else if (!isnan(policy->tempfail) && score >= policy->tempfail)
        a = MK_ACTION_TEMPFAIL;
    else if (score >= policy->add_header)
        a = MK_ACTION_ADD_HEADER;
    if (res->forced > a)
        a = res->forced;
    out->action = a;
    out->score = score;
    out->reply = NULL;
    if (a == MK_ACTION_REJECT || a == MK_ACTION_TEMPFAIL)
        out->reply = mk_verdict_reply(res, policy, score, pool);
}

static int mk_verdict_by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "tests=A,B,..." folded before 78 columns as SpamAssassin does. */
static char *mk_verdict_status(const mk_results *res, const mk_verdict *v, const mk_policy *policy,
                               mk_pool *pool)
{
    const char **names = mk_pool_alloc(pool, (res->n + 1) * sizeof(*names));
    if (names == NULL)
        return NULL;
    for (size_t i = 0; i < res->n; i++)
        names[i] = res->syms[i].name;
    qsort(names, res->n, sizeof(*names), mk_verdict_by_name);
    size_t cap = 256;
    for (size_t i = 0; i < res->n; i++)
        cap += strlen(names[i]) + 3;
    char *s = mk_pool_alloc(pool, cap);
    if (s == NULL)
        return NULL;
    int n = snprintf(s, cap, "%s, score=%.1f required=%.1f tests=",
                     v->action != MK_ACTION_ACCEPT ? "Yes" : "No", v->score, policy->add_header);
    size_t o = (size_t)n;
    size_t col = strlen("X-Spam-Status: ") + o;
    if (res->n == 0) {
        memcpy(s + o, "none", 5);
        o += 4;
        col += 4;
    }
    for (size_t i = 0; i < res->n; i++) {
        size_t len = strlen(names[i]);
        if (i > 0) {
            s[o++] = ',';
            col++;
        }
        if (col + len > 77 && i > 0) {
            s[o++] = '\n';
            s[o++] = '\t';
            col = 8;
        }
        memcpy(s + o, names[i], len);
        o += len;
        col += len;
    }
    const char *ver = " version=" MK_VERSION_TAG;
    if (col + strlen(ver) > 77) {
        s[o++] = '\n';
        s[o++] = '\t';
        ver++;
    }
    memcpy(s + o, ver, strlen(ver) + 1);
    return s;
}

size_t mk_verdict_headers(const mk_results *res, const mk_verdict *v, const mk_policy *policy,
                          mk_pool *pool, mk_header hdrs[MK_VERDICT_HEADERS])
{
    size_t n = 0;
    int spam = v->action != MK_ACTION_ACCEPT;
    if (spam)
        hdrs[n++] = (mk_header){"X-Spam-Flag", "YES"};
    hdrs[n++] = (mk_header){"X-Spam-Score", mk_pool_printf(pool, "%.1f", v->score)};
    /* one star per whole point of the score as shown (5.999 shows 6.0: 6 stars) */
    double shown = round(v->score * 10) / 10;
    int stars = shown > 0 ? (int)floor(shown) : 0;
    if (stars > 50)
        stars = 50;
    char *level = mk_pool_alloc(pool, (size_t)stars + 1);
    if (level != NULL)
        memset(level, '*', (size_t)stars);
    hdrs[n++] = (mk_header){"X-Spam-Level", level ? level : ""};
    hdrs[n++] = (mk_header){"X-Spam-Status", mk_verdict_status(res, v, policy, pool)};
    return n;
}

int mk_verdict_is_own_header(const char *name)
{
    return strncasecmp(name, "X-Spam-", 7) == 0;
}
