/*
 * mk_bayes: the classifier's arithmetic (Robinson, Fisher) and the
 * milter's view of the store: the global store held in memory, reloaded
 * when its generation changes (mailkeeper-learn wrote to it), checked at
 * most once per [bayes] refresh; a user's own store read from SQLite.
 */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mk_bayes.h"
#include "mk_log.h"

/* Robinson's constants as SpamAssassin sets them: the strength s of the
 * background belief x about a token seen rarely, and how far from 0.5 a
 * token's probability must be to count. */
#define MK_BAYES_S            0.030
#define MK_BAYES_X            0.538
#define MK_BAYES_MIN_STRENGTH 0.346

/* How many tokens ahead a lookup in the global store is prefetched. */
#define MK_BAYES_AHEAD 8

double mk_bayes_chi2q(double x2, unsigned v)
{
    /* v even: the series of the Poisson tail */
    double m = x2 / 2.0, term = exp(-m), sum = term;
    for (unsigned i = 1; i < v / 2; i++) {
        term *= m / i;
        sum += term;
    }
    return sum < 1.0 ? sum : 1.0;
}

double mk_bayes_token_prob(uint32_t s, uint32_t h, long nspam, long nham)
{
    double rs = nspam > 0 ? (double)s / (double)nspam : 0.0;
    double rh = nham > 0 ? (double)h / (double)nham : 0.0;
    if (rs + rh == 0.0)
        return 0.5;
    double p = rs / (rs + rh), n = (double)s + (double)h;
    return (MK_BAYES_S * MK_BAYES_X + n * p) / (MK_BAYES_S + n);
}

/* A token's probability with its place among the message's tokens: the
 * place breaks ties of strength, so the order does not hang on whether
 * the C library's qsort is stable (glibc's was a merge sort up to 2.36). */
typedef struct mk_bayes_strong {
    double p, strength; /* strength: |p - 0.5| */
    size_t at;
} mk_bayes_strong;

static int mk_bayes_by_strength(const void *a, const void *b)
{
    const mk_bayes_strong *x = a, *y = b;
    if (x->strength != y->strength)
        return x->strength > y->strength ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* The n-th greatest (from 0) of v[0, len), n < len; v is reordered. A
 * selection by three-way partitions (ties are common: every token seen
 * only in spam has the same probability). */
static double mk_bayes_nth_greatest(double *v, size_t len, size_t n)
{
    size_t lo = 0, hi = len; /* the n-th is in [lo, hi) */
    while (hi - lo > 1) {
        double a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi - 1];
        double pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        /* [lo, gt) above the pivot, [gt, i) at it, [lt, hi) below */
        size_t gt = lo, i = lo, lt = hi;
        while (i < lt) {
            double x = v[i];
            if (x > pivot)
                v[i++] = v[gt], v[gt++] = x;
            else if (x < pivot)
                v[i] = v[--lt], v[lt] = x;
            else
                i++;
        }
        if (n < gt)
            hi = gt;
        else if (n >= lt)
            lo = lt;
        else
            return pivot;
    }
    return v[lo];
}

/* Keeps the MK_BAYES_SIGNIFICANT strongest of t[0, *k), as a sort of all
 * of them by mk_bayes_by_strength would, in that order: the strongest
 * found by selection, only they sorted (a message has up to thousands). */
static void mk_bayes_strongest(mk_bayes_strong *t, size_t *k)
{
    size_t n = *k;
    if (n > MK_BAYES_SIGNIFICANT) {
        double *s = g_new(double, n);
        for (size_t i = 0; i < n; i++)
            s[i] = t[i].strength;
        double edge = mk_bayes_nth_greatest(s, n, MK_BAYES_SIGNIFICANT - 1);
        g_free(s);
        size_t above = 0;
        for (size_t i = 0; i < n; i++)
            above += t[i].strength > edge;
        /* all above the edge, and the first at it (in place order) */
        size_t m = 0, at_edge = MK_BAYES_SIGNIFICANT - above;
        for (size_t i = 0; i < n; i++)
            if (t[i].strength > edge || (t[i].strength == edge && at_edge > 0 && at_edge--))
                t[m++] = t[i];
        n = m;
    }
    qsort(t, n, sizeof(*t), mk_bayes_by_strength);
    *k = n;
}

double mk_bayes_prob(const uint32_t *spam, const uint32_t *ham, size_t n, long nspam, long nham,
                     size_t *used)
{
    mk_bayes_strong *t = g_new(mk_bayes_strong, n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (spam[i] == 0 && ham[i] == 0)
            continue;
        double pr = mk_bayes_token_prob(spam[i], ham[i], nspam, nham), st = fabs(pr - 0.5);
        if (st >= MK_BAYES_MIN_STRENGTH)
            t[k] = (mk_bayes_strong){pr, st, k}, k++;
    }
    mk_bayes_strongest(t, &k);
    *used = k;
    if (k == 0) {
        g_free(t);
        return 0.5;
    }
    double ln_p = 0.0, ln_q = 0.0;
    for (size_t i = 0; i < k; i++) {
        ln_p += log(t[i].p);
        ln_q += log1p(-t[i].p);
    }
    g_free(t);
    double ham_ev = mk_bayes_chi2q(-2.0 * ln_p, 2 * (unsigned)k);  /* small: spam tokens */
    double spam_ev = mk_bayes_chi2q(-2.0 * ln_q, 2 * (unsigned)k); /* small: ham tokens */
    return (1.0 + ham_ev - spam_ev) / 2.0;
}

const char *mk_bayes_symbol(double prob, int network, double *score)
{
    /* SpamAssassin's scores with Bayes, without and with network tests */
    static const struct {
        double from;
        const char *name;
        double score[2];
    } bands[] = {
        {0.99, "BAYES_99", {3.8, 3.5}},       {0.95, "BAYES_95", {3.2, 3.0}},
        {0.80, "BAYES_80", {2.7, 2.0}},       {0.60, "BAYES_60", {2.5, 1.5}},
        {0.40, "BAYES_50", {2.0, 0.8}},       {0.20, "BAYES_40", {-0.001, -0.001}},
        {0.05, "BAYES_20", {-0.001, -0.001}}, {0.01, "BAYES_05", {-0.3, -0.5}},
        {-1.0, "BAYES_00", {-1.5, -1.9}},
    };
    for (size_t i = 0;; i++)
        if (prob >= bands[i].from) {
            *score = bands[i].score[network ? 1 : 0];
            return bands[i].name;
        }
}

char *mk_bayes_db_path(const mk_config *cfg)
{
    if (cfg->bayes_database[0] == '/')
        return g_strdup(cfg->bayes_database);
    return g_build_filename(cfg->state_dir, cfg->bayes_database, NULL);
}

char *mk_bayes_learn_socket_path(const mk_config *cfg)
{
    if (cfg->bayes_learn_socket[0] == '/')
        return g_strdup(cfg->bayes_learn_socket);
    return g_build_filename(cfg->state_dir, cfg->bayes_learn_socket, NULL);
}

/* ---- the global store in memory --------------------------------------------- */

/* A token and its counts, side by side: a lookup reads one cache line. */
typedef struct mk_bayes_slot {
    uint64_t key;
    uint32_t spam, ham;
} mk_bayes_slot;

/* An open-addressing table of token -> counts; key 0 marks a free slot
 * (a token hashing to 0 is stored as 1). Read-only once built, shared by
 * every message classified while it is current. */
typedef struct mk_bayes_snap {
    mk_bayes_slot *slot;
    size_t mask;
    long nspam, nham;
    long long generation;
    int refs; /* under mk_bayes.lock */
} mk_bayes_snap;

static uint64_t mk_bayes_slot_key(uint64_t h)
{
    return h != 0 ? h : 1;
}

/* Where token h's search starts in sn. */
static size_t mk_bayes_snap_home(const mk_bayes_snap *sn, uint64_t h)
{
    return (size_t)(mk_bayes_slot_key(h) * 0x9e3779b97f4a7c15ULL >> 17) & sn->mask;
}

static void mk_bayes_snap_put(void *data, uint64_t h, uint32_t s, uint32_t hm)
{
    mk_bayes_snap *sn = data;
    uint64_t k = mk_bayes_slot_key(h);
    size_t i = mk_bayes_snap_home(sn, h);
    while (sn->slot[i].key != 0 && sn->slot[i].key != k)
        i = (i + 1) & sn->mask;
    sn->slot[i] = (mk_bayes_slot){k, s, hm};
}

static void mk_bayes_snap_get(const mk_bayes_snap *sn, uint64_t h, uint32_t *s, uint32_t *hm)
{
    uint64_t k = mk_bayes_slot_key(h);
    for (size_t i = mk_bayes_snap_home(sn, h); sn->slot[i].key != 0; i = (i + 1) & sn->mask)
        if (sn->slot[i].key == k) {
            *s = sn->slot[i].spam;
            *hm = sn->slot[i].ham;
            return;
        }
    *s = *hm = 0;
}

static void mk_bayes_snap_free(mk_bayes_snap *sn)
{
    if (sn == NULL)
        return;
    g_free(sn->slot);
    g_free(sn);
}

/* Reads the global store into a new snapshot; NULL on error. */
static mk_bayes_snap *mk_bayes_snap_load(mk_bayes_db *db)
{
    char err[16];
    if (mk_bayes_db_begin(db, err, sizeof(err)) != 0) /* one consistent view */
        return NULL;
    mk_bayes_snap *sn = g_new0(mk_bayes_snap, 1);
    long n = mk_bayes_db_ntokens(db, "");
    sn->generation = mk_bayes_db_generation(db);
    if (n < 0 || sn->generation < 0 || mk_bayes_db_totals(db, "", &sn->nspam, &sn->nham) != 0)
        goto fail;
    size_t cap = 1024;
    while (cap < (size_t)n * 2)
        cap *= 2;
    sn->mask = cap - 1;
    sn->slot = g_new0(mk_bayes_slot, cap);
    if (mk_bayes_db_each_global(db, mk_bayes_snap_put, sn) != 0)
        goto fail;
    mk_bayes_db_commit(db, err, sizeof(err));
    sn->refs = 1;
    return sn;
fail:
    mk_bayes_db_rollback(db);
    mk_bayes_snap_free(sn);
    return NULL;
}

struct mk_bayes {
    char *path;
    long min_spam, min_ham;
    long refresh_ms;
    pthread_mutex_t lock;
    mk_bayes_db *db;    /* NULL until the store exists */
    mk_bayes_snap *cur; /* NULL until loaded */
    struct timespec checked;
    int loading;
};

mk_bayes *mk_bayes_new(const mk_config *cfg, char *err, size_t errlen)
{
    mk_bayes *b = g_new0(mk_bayes, 1);
    b->path = mk_bayes_db_path(cfg);
    b->min_spam = (long)cfg->bayes_min_spam;
    b->min_ham = (long)cfg->bayes_min_ham;
    b->refresh_ms = cfg->bayes_refresh_ms;
    pthread_mutex_init(&b->lock, NULL);
    if (access(b->path, F_OK) == 0) {
        b->db = mk_bayes_db_open(b->path, 0, err, errlen);
        if (b->db == NULL) {
            mk_bayes_free(b);
            return NULL;
        }
        b->cur = mk_bayes_snap_load(b->db);
        if (b->cur == NULL) {
            snprintf(err, errlen, "%s: cannot read the Bayes store", b->path);
            mk_bayes_free(b);
            return NULL;
        }
        clock_gettime(CLOCK_MONOTONIC, &b->checked);
    }
    return b;
}

void mk_bayes_free(mk_bayes *b)
{
    if (b == NULL)
        return;
    mk_bayes_snap_free(b->cur);
    mk_bayes_db_close(b->db);
    pthread_mutex_destroy(&b->lock);
    g_free(b->path);
    g_free(b);
}

static long mk_bayes_ms_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* Under b->lock: once per refresh period, opens the store if it has
 * appeared and reloads it if it changed. The reload itself runs outside
 * the lock; messages meanwhile use the snapshot they had. */
static void mk_bayes_refresh(mk_bayes *b)
{
    if (b->loading || (b->checked.tv_sec != 0 && mk_bayes_ms_since(&b->checked) < b->refresh_ms))
        return;
    clock_gettime(CLOCK_MONOTONIC, &b->checked);
    char err[256];
    if (b->db == NULL) {
        if (access(b->path, F_OK) != 0)
            return;
        b->db = mk_bayes_db_open(b->path, 0, err, sizeof(err));
        if (b->db == NULL) {
            mk_log(LOG_WARNING, NULL, "Bayes: %s", err);
            return;
        }
    }
    long long gen = mk_bayes_db_generation(b->db);
    if (gen < 0 || (b->cur != NULL && gen == b->cur->generation))
        return;
    b->loading = 1;
    pthread_mutex_unlock(&b->lock);
    mk_bayes_snap *sn = mk_bayes_snap_load(b->db); /* only the loading thread uses b->db */
    pthread_mutex_lock(&b->lock);
    b->loading = 0;
    if (sn == NULL) {
        mk_log(LOG_WARNING, NULL, "Bayes: cannot reload %s; keeping what was loaded", b->path);
        return;
    }
    if (b->cur != NULL && --b->cur->refs == 0)
        mk_bayes_snap_free(b->cur);
    b->cur = sn;
    mk_log(LOG_INFO, NULL, "Bayes: loaded %s: %ld spam, %ld ham learned, generation %lld", b->path,
           sn->nspam, sn->nham, sn->generation);
}

int mk_bayes_classify(mk_bayes *b, const char *user, const mk_bayes_toks *toks, double *prob,
                      char *why, size_t whylen)
{
    uint32_t *spam = g_new(uint32_t, toks->n + 1), *ham = g_new(uint32_t, toks->n + 1);
    long nspam = 0, nham = 0;
    int rc = -1, own = 0;
    pthread_mutex_lock(&b->lock);
    mk_bayes_refresh(b);
    if (user != NULL && *user != '\0' && b->db != NULL && !b->loading) {
        /* the user's own store, when it has learned enough */
        if (mk_bayes_db_totals(b->db, user, &nspam, &nham) == 0 && nspam >= b->min_spam &&
            nham >= b->min_ham) {
            if (mk_bayes_db_counts(b->db, user, toks, spam, ham) != 0) {
                snprintf(why, whylen, "cannot read %s's Bayes store", user);
                goto out;
            }
            own = 1;
        }
    }
    mk_bayes_snap *sn = own ? NULL : b->cur;
    if (sn != NULL)
        sn->refs++;
    pthread_mutex_unlock(&b->lock);
    if (!own) {
        if (sn == NULL) {
            snprintf(why, whylen, "no Bayes store yet");
            rc = 0;
            goto out_unlocked;
        }
        nspam = sn->nspam;
        nham = sn->nham;
        /* the table is larger than the caches: each token's line is
         * asked for a few tokens ahead */
        for (size_t i = 0; i < toks->n; i++) {
            if (i + MK_BAYES_AHEAD < toks->n)
                __builtin_prefetch(&sn->slot[mk_bayes_snap_home(sn, toks->h[i + MK_BAYES_AHEAD])]);
            mk_bayes_snap_get(sn, toks->h[i], &spam[i], &ham[i]);
        }
        pthread_mutex_lock(&b->lock);
        if (--sn->refs == 0)
            mk_bayes_snap_free(sn);
        pthread_mutex_unlock(&b->lock);
    }
    if (nspam < b->min_spam || nham < b->min_ham) {
        snprintf(why, whylen, "Bayes has learned %ld spam and %ld ham, needs %ld and %ld", nspam,
                 nham, b->min_spam, b->min_ham);
        rc = 0;
        goto out_unlocked;
    }
    size_t used;
    *prob = mk_bayes_prob(spam, ham, toks->n, nspam, nham, &used);
    snprintf(why, whylen, "%zu of %zu tokens", used, toks->n);
    rc = 1;
    goto out_unlocked;
out:
    pthread_mutex_unlock(&b->lock);
out_unlocked:
    g_free(spam);
    g_free(ham);
    return rc;
}
