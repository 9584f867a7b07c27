/*
 * mk_bayes: the Bayes classifier, as SpamAssassin and bogofilter do it.
 *
 *   mk_bayes_tokenize  a message -> its tokens: words of the rendered body,
 *                      header words prefixed with the header's name, the
 *                      parts of linked domains and mail addresses (each a
 *                      64-bit hash; the texts on request, for debugging)
 *   mk_bayes_db_*      the store: SQLite (WAL) rows of token, spam count,
 *                      ham count, last time learned, per user ("" is the
 *                      global store), and what was learned from which
 *                      message, so learning is idempotent and reversible
 *   mk_bayes_prob      Robinson's per-token probability, Fisher's
 *                      chi-square combining of the 150 strongest tokens
 *   mk_bayes_*         the milter's view: the global store in memory,
 *                      reloaded when mailkeeper-learn has changed it
 */
#ifndef MK_BAYES_H
#define MK_BAYES_H

#include <glib.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mk_config.h"
#include "mk_msg.h"
#include "mk_net.h"

/* ---- tokens --------------------------------------------------------------- */

/* The distinct tokens of a message, sorted. */
typedef struct mk_bayes_toks {
    uint64_t *h; /* g_malloc'd; free with mk_bayes_toks_clear() */
    size_t n;
} mk_bayes_toks;

/* Most tokens taken from one message: a huge message learns no more. */
#define MK_BAYES_MAX_TOKENS 10000

struct mk_uri_set;

struct mk_relays;

/* Tokenizes msg. body_text is the body as the body rules see it
 * (mk_sa_body_text), whose words are the body's when msg has no HTML part
 * (with one, the text one sees is made apart: mk_sa_visible_text, from html,
 * its mk_sa_html_parts, or NULL to make them), links
 * the message's links (mk_uri) or NULL, relays
 * its Received chain (mk_relays) or NULL to read it with trust inferred.
 * names, when not NULL, receives every token's text (g_strdup'd; the
 * caller owns the array). */
void mk_bayes_tokenize(const mk_msg *msg, const char *body_text, const GPtrArray *html,
                       const struct mk_uri_set *links, const struct mk_relays *relays,
                       mk_bayes_toks *out, GPtrArray *names);
void mk_bayes_toks_clear(mk_bayes_toks *t);
/* The hash of a token's text, as the store keys it. */
uint64_t mk_bayes_token_hash(const char *text);

/* What identifies a message to the store: its Message-ID, or a digest of
 * From, Date, Subject and body text when it has none. g_free() it. */
char *mk_bayes_msgid(const mk_msg *msg, const char *body_text);

/* ---- the store ------------------------------------------------------------ */

typedef struct mk_bayes_db mk_bayes_db;

/* Opens (create: makes) the store at path; NULL with why in err. */
mk_bayes_db *mk_bayes_db_open(const char *path, int create, char *err, size_t errlen);
void mk_bayes_db_close(mk_bayes_db *db);

/* The SQLite handle of the store, for the parts that keep their tables in
 * it (mk_lists); owned by db. */
sqlite3 *mk_bayes_db_handle(mk_bayes_db *db);
/* The number of user in the store ("": 0, everyone), made when create;
 * -1 when unknown or on error. */
sqlite3_int64 mk_bayes_uid(mk_bayes_db *db, const char *user, int create);

/* A read transaction around several lookups (one lock, not one each):
 * begin returns whether it began one (none inside another), for end. */
int mk_bayes_db_read_begin(mk_bayes_db *db);
void mk_bayes_db_read_end(mk_bayes_db *db, int began);

/* The kind (mk_list_kind) of the first of entries[0, n_entries) listed
 * for the first of scopes[0, n_scopes) (a NULL one skipped; "": everyone)
 * that lists any of them, read in one read transaction: *scope and *entry
 * say which; -1 when none is listed, -2 on error (sqlite3_errmsg of the
 * handle says why). */
int mk_bayes_db_list_find(mk_bayes_db *db, const char *const *scopes, size_t n_scopes,
                          const char *const *entries, size_t n_entries, size_t *scope,
                          size_t *entry);

/* A transaction around several learns (one per message is slow in bulk). */
int mk_bayes_db_begin(mk_bayes_db *db, char *err, size_t errlen);
int mk_bayes_db_commit(mk_bayes_db *db, char *err, size_t errlen);
void mk_bayes_db_rollback(mk_bayes_db *db);

typedef enum {
    MK_BAYES_LEARNED,   /* new: counted */
    MK_BAYES_ALREADY,   /* learned before as this class: nothing changes */
    MK_BAYES_MOVED,     /* learned before as the other class: moved over */
    MK_BAYES_FORGOTTEN, /* forget: taken out */
    MK_BAYES_UNKNOWN,   /* forget: never learned */
} mk_bayes_outcome;

const char *mk_bayes_outcome_name(mk_bayes_outcome o);

enum { MK_BAYES_HAM = 0, MK_BAYES_SPAM = 1, MK_BAYES_FORGET = -1 };

/* Learns the tokens of message msgid as spam or ham for user ("" the
 * global store), or forgets them. Inside the caller's transaction if one
 * is open, else in its own. 0, or -1 with why in err. */
int mk_bayes_db_learn(mk_bayes_db *db, const char *user, const char *msgid, int cls,
                      const mk_bayes_toks *toks, time_t now, mk_bayes_outcome *outcome, char *err,
                      size_t errlen);

/* Messages learned by user as spam and as ham; 0 or -1. */
int mk_bayes_db_totals(mk_bayes_db *db, const char *user, long *nspam, long *nham);
/* Each token's spam and ham counts for user (0 when unknown); 0 or -1. */
int mk_bayes_db_counts(mk_bayes_db *db, const char *user, const mk_bayes_toks *toks, uint32_t *spam,
                       uint32_t *ham);
/* Tokens the store holds for user. */
long mk_bayes_db_ntokens(mk_bayes_db *db, const char *user);
/* Removes the tokens learned longest ago until user keeps at most
 * three quarters of max_tokens, when it holds more than max_tokens;
 * *removed set. 0, or -1 with why. */
int mk_bayes_db_expire(mk_bayes_db *db, const char *user, size_t max_tokens, size_t *removed,
                       char *err, size_t errlen);
/* A number that changes with every change of the store; -1 on error. */
long long mk_bayes_db_generation(mk_bayes_db *db);
/* Calls fn with every token of the global store and its counts; 0 or -1. */
int mk_bayes_db_each_global(mk_bayes_db *db, void (*fn)(void *, uint64_t, uint32_t, uint32_t),
                            void *data);

/* ---- the classifier ------------------------------------------------------- */

/* Probability that a chi-square variable with v (even) degrees of freedom
 * exceeds x2. */
double mk_bayes_chi2q(double x2, unsigned v);

/* Robinson's probability of one token seen in spam s and ham h times,
 * after nspam spam and nham ham messages were learned. */
double mk_bayes_token_prob(uint32_t s, uint32_t h, long nspam, long nham);

/* The message's spam probability from its tokens' counts: the strongest
 * MK_BAYES_SIGNIFICANT tokens (probability at least 0.346 from 0.5)
 * combined with Fisher's method; *used how many. 0.5 when none count. */
#define MK_BAYES_SIGNIFICANT 150
double mk_bayes_prob(const uint32_t *spam, const uint32_t *ham, size_t n, long nspam, long nham,
                     size_t *used);

/* The symbol of a probability: BAYES_00 ... BAYES_99, and the default
 * score (SpamAssassin's, of its score set with or without network tests).
 * BAYES_999 (0.2) is added beside BAYES_99 from 0.999 up, as SpamAssassin
 * does. */
const char *mk_bayes_symbol(double prob, int network, double *score);

/* ---- the milter's view ------------------------------------------------------ */

typedef struct mk_bayes mk_bayes;

/* The store of cfg's [bayes] database as the milter reads it; NULL with
 * why in err when it exists and cannot be read. A store not made yet is
 * no error: Bayes votes once mailkeeper-learn has made and filled it. */
mk_bayes *mk_bayes_new(const mk_config *cfg, char *err, size_t errlen);
void mk_bayes_free(mk_bayes *b);

/* Classifies the tokens for user (NULL or "": the global store; a user
 * with too little learned of their own falls back to it). Returns 1 with
 * *prob set, 0 when too little is learned (why says what), -1 on error
 * (why). Thread-safe. */
int mk_bayes_classify(mk_bayes *b, const char *user, const mk_bayes_toks *toks, double *prob,
                      char *why, size_t whylen);

/* The path of cfg's store: [bayes] database under [general] state_dir
 * unless absolute. g_free() it. */
char *mk_bayes_db_path(const mk_config *cfg);
/* The path of mailkeeper-learn --serve's socket: [bayes] learn_socket
 * under [general] state_dir unless absolute. g_free() it. */
char *mk_bayes_learn_socket_path(const mk_config *cfg);

#endif
