/*
 * mk_archive: the compliance archive.
 *
 * Each message is stored once, under its SHA-256, in DIR/store/XX/SHA.zst
 * (zstd), written to a new file that is synced, renamed into place and
 * made read-only. Each arrival is an entry of DIR/index.db (SQLite, WAL,
 * synchronous FULL): envelope sender and recipients, From, To, Cc,
 * Subject, Date, Message-ID, size, arrival time, direction, attachment
 * names, SHA-256 and retention date, with the text in FTS5. Every change
 * of the index is a link of a hash chain: a link's hash covers its record
 * (the entry's fields) and the previous link's hash, so mk_archive_verify
 * names each changed, missing, added or reordered entry, and each
 * changed, missing or added file.
 */
#ifndef MK_ARCHIVE_H
#define MK_ARCHIVE_H

#include <stddef.h>
#include <time.h>

#include "mk_config.h"
#include "mk_msg.h"

typedef struct mk_archive mk_archive;

/* Encrypts the files stored from now on with AES-256-GCM under the key in
 * path (32 bytes, or 64 hex digits), and reads encrypted ones with it.
 * 0, or -1 with why. */
int mk_archive_use_key_file(mk_archive *a, const char *path, char *err, size_t errlen);

/* Where cfg's archive lives: [archive] directory, under [general]
 * state_dir unless absolute. g_free it. */
char *mk_archive_config_dir(const mk_config *cfg);
/* What [archive] rules say of a message (msg may be NULL: envelope only):
 * 0 when a rule says skip, else 1 with *retain_until set (the rule's
 * years, or retention_years when none matched). *rule: the number of the
 * rule that decided (1-based), or 0. */
int mk_archive_rules_decide(const mk_config *cfg, const char *env_from, const char *const *rcpts,
                            size_t n_rcpts, const mk_msg *msg, time_t arrival, time_t *retain_until,
                            int *rule);

/* Opens the archive in dir (create: makes it). NULL with why in err.
 * mk_archive_put and mk_archive_get may be called from several threads. */
mk_archive *mk_archive_open(const char *dir, int create, char *err, size_t errlen);
/* mk_archive_open of cfg's archive (mk_archive_config_dir), with its key
 * file when [archive] key_file is set. */
mk_archive *mk_archive_open_config(const mk_config *cfg, int create, char *err, size_t errlen);
void mk_archive_close(mk_archive *a);

/* What is known of a message beside its bytes; strings belong to the caller. */
typedef struct mk_archive_env {
    const char *env_from; /* the envelope sender; "" for the null sender */
    const char *const *rcpts;
    size_t n_rcpts;
    const char *direction; /* "in", "out", "internal" */
    time_t arrival;        /* 0: now */
    time_t retain_until;
    const mk_msg *parsed; /* the message parsed already (the milter's), or NULL */
} mk_archive_env;

/* Stores a message (wire form, as received) with env; *id is its entry.
 * The file and the index are on disk (synced) on return. 0, or -1 with
 * why in err (nothing is indexed then). */
int mk_archive_put(mk_archive *a, const char *data, size_t len, const mk_archive_env *env,
                   long long *id, char *err, size_t errlen);

/* The message of entry id, byte for byte as it arrived, its SHA-256
 * checked; g_free *data. 0, or -1 with why. */
int mk_archive_get(mk_archive *a, long long id, char **data, size_t *len, char *err, size_t errlen);

/* Re-hashes every file and walks the chain; problem() is called with each
 * problem found, in words that name the entry or the file. Returns how
 * many problems there were, or -1 (why in err) when it could not run;
 * *entries is set to the number of entries checked. */
long mk_archive_verify(mk_archive *a, void (*problem)(void *data, const char *what), void *data,
                       long long *entries, char *err, size_t errlen);

typedef struct mk_archive_stats {
    long long entries, files;
    long long bytes, stored_bytes; /* of the messages as received; of their files */
    time_t first, last;            /* arrival of the oldest and the newest entry */
} mk_archive_stats;

int mk_archive_get_stats(mk_archive *a, mk_archive_stats *st);

/* One entry, as search gives it; strings live until the callback returns. */
typedef struct mk_archive_hit {
    long long id, size;
    time_t arrival, retain_until;
    const char *sha256, *direction, *env_from, *rcpts; /* rcpts: ", "-separated */
    const char *from, *to, *cc, *subject, *date, *message_id, *attachments;
} mk_archive_hit;

/* The entries query finds, oldest first, at most limit (0: all). A query
 * is words, each a condition, all of which must hold: from:TEXT (From or
 * envelope sender), to:TEXT (To, Cc or a recipient), subject:TEXT,
 * after:YYYY-MM-DD (that day on), before:YYYY-MM-DD (up to that day),
 * has:attachment, id:N, and free text
 * (subject, body and attachment names, full-text); quotes group words.
 * Calls fn per entry. Returns how many, or -1 with why in err (a query
 * not understood names the word). */
long mk_archive_search(mk_archive *a, const char *query, long limit,
                       void (*fn)(void *data, const mk_archive_hit *hit), void *data, char *err,
                       size_t errlen);

/* ---- what changes the archive after a store (each a link of the chain) ----- */

/* who: the login name of the person at the command line. */

/* Puts a legal hold on what query finds (as mk_archive_search reads it):
 * purge leaves it, however old. name: letters, digits, - _ .; reason
 * required. 0, or -1 with why. */
int mk_archive_hold_add(mk_archive *a, const char *name, const char *query, const char *reason,
                        const char *who, char *err, size_t errlen);
int mk_archive_hold_release(mk_archive *a, const char *name, const char *who, char *err,
                            size_t errlen);
/* The holds in force; their number, or -1. */
long mk_archive_hold_each(mk_archive *a,
                          void (*fn)(void *data, const char *name, const char *query,
                                     const char *reason, time_t created, const char *who),
                          void *data);

/* Keeps entry id until until, later than its retention date now (a
 * retention date is lengthened, never shortened). 0, or -1 with why. */
int mk_archive_retain(mk_archive *a, long long id, time_t until, const char *who, char *err,
                      size_t errlen);

/* Removes the entries whose retention date is past at now and that no
 * hold covers, each removal a link; their files go when no entry names
 * them. fn hears each expired entry (purged, or kept and why). dry_run:
 * says, changes nothing. How many were (or would be) purged, or -1. */
long mk_archive_purge(mk_archive *a, time_t now, int dry_run, const char *who,
                      void (*fn)(void *data, long long id, const char *why), void *data, char *err,
                      size_t errlen);

/* ---- the audit log ----------------------------------------------------------- */

/* Records that who did action (search, show, export, hold, purge, ...)
 * about entry msg (or 0), with detail (the query, the destination...).
 * 0, or -1 with why. */
int mk_archive_audit(mk_archive *a, const char *who, const char *action, long long msg,
                     const char *detail, char *err, size_t errlen);
/* The newest limit records (0: all), oldest first: each link's number and
 * record ("time=", "who=", "action=", "entry=", "detail=" lines). */
long mk_archive_audit_each(mk_archive *a, long limit,
                           void (*fn)(void *data, long long seq, const char *record), void *data);

#endif
