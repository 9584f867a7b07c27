/*
 * mk_bayes_db: the Bayes store in SQLite (WAL).
 *
 *   users(uid, name, nspam, nham)       uid 0, name "": the global store
 *   tokens(uid, h, spam, ham, atime)    h: the token's 64-bit hash
 *   learned(uid, msgid, spam, time)     what was learned from which message
 *   meta(key, value)                    'generation': bumped by every change
 *   lists(uid, entry, kind, source, time)  friend and block lists (mk_lists)
 *
 * Learning a message again as the same class changes nothing; as the other
 * class it moves its counts over; forgetting takes them out. Counts never
 * go below zero (a message tokenized differently since it was learned
 * takes out what it can), and tokens left with no count are deleted.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mk_bayes.h"
#include "mk_sqlite.h"

static const char *const mk_bayes_schema_steps[] = {
    "CREATE TABLE users(uid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  nspam INTEGER NOT NULL DEFAULT 0, nham INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO users(uid, name) VALUES (0, '');"
    "CREATE TABLE tokens(uid INTEGER NOT NULL, h INTEGER NOT NULL,"
    "  spam INTEGER NOT NULL, ham INTEGER NOT NULL, atime INTEGER NOT NULL,"
    "  PRIMARY KEY(uid, h)) WITHOUT ROWID;"
    "CREATE TABLE learned(uid INTEGER NOT NULL, msgid TEXT NOT NULL,"
    "  spam INTEGER NOT NULL, time INTEGER NOT NULL, PRIMARY KEY(uid, msgid)) WITHOUT ROWID;"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT INTO meta VALUES ('generation', 0);",
    /* 2: the friend and block lists share the file, so that learning a
     * message and listing its sender are one transaction */
    "CREATE TABLE lists(uid INTEGER NOT NULL, entry TEXT NOT NULL, kind INTEGER NOT NULL,"
    "  source TEXT NOT NULL, time INTEGER NOT NULL, PRIMARY KEY(uid, entry)) WITHOUT ROWID;",
};

static const mk_sqlite_schema mk_bayes_schema = {mk_bayes_schema_steps, 2};

enum {
    MK_BQ_UID,
    MK_BQ_NEW_USER,
    MK_BQ_LEARNED,
    MK_BQ_SET_LEARNED,
    MK_BQ_DEL_LEARNED,
    MK_BQ_ADD,
    MK_BQ_SUB,
    MK_BQ_PURGE,
    MK_BQ_TOTALS,
    MK_BQ_ADD_TOTALS,
    MK_BQ_COUNTS,
    MK_BQ_BUMP,
    MK_BQ_GENERATION,
    MK_BQ_READ,
    MK_BQ_READ_END,
    MK_BQ_LIST_KIND,
    MK_BQ_N
};

static const char *const mk_bayes_sql[MK_BQ_N] = {
    [MK_BQ_UID] = "SELECT uid FROM users WHERE name = ?1",
    [MK_BQ_NEW_USER] = "INSERT INTO users(name) VALUES (?1)",
    [MK_BQ_LEARNED] = "SELECT spam FROM learned WHERE uid = ?1 AND msgid = ?2",
    [MK_BQ_SET_LEARNED] = "INSERT OR REPLACE INTO learned VALUES (?1, ?2, ?3, ?4)",
    [MK_BQ_DEL_LEARNED] = "DELETE FROM learned WHERE uid = ?1 AND msgid = ?2",
    [MK_BQ_ADD] = "INSERT INTO tokens VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(uid, h) DO UPDATE "
                  "SET spam = spam + ?3, ham = ham + ?4, atime = max(atime, ?5)",
    [MK_BQ_SUB] = "UPDATE tokens SET spam = max(spam - ?3, 0), ham = max(ham - ?4, 0) "
                  "WHERE uid = ?1 AND h = ?2",
    [MK_BQ_PURGE] = "DELETE FROM tokens WHERE uid = ?1 AND h = ?2 AND spam = 0 AND ham = 0",
    [MK_BQ_TOTALS] = "SELECT nspam, nham FROM users WHERE name = ?1",
    [MK_BQ_ADD_TOTALS] = "UPDATE users SET nspam = max(nspam + ?2, 0), nham = max(nham + ?3, 0) "
                         "WHERE uid = ?1",
    [MK_BQ_COUNTS] = "SELECT spam, ham FROM tokens WHERE uid = ?1 AND h = ?2",
    [MK_BQ_BUMP] = "UPDATE meta SET value = value + 1 WHERE key = 'generation'",
    [MK_BQ_GENERATION] = "SELECT value FROM meta WHERE key = 'generation'",
    [MK_BQ_READ] = "BEGIN",
    [MK_BQ_READ_END] = "COMMIT",
    [MK_BQ_LIST_KIND] = "SELECT kind FROM lists WHERE uid = ?1 AND entry = ?2",
};

struct mk_bayes_db {
    sqlite3 *db;
    sqlite3_stmt *q[MK_BQ_N];
};

void mk_bayes_db_close(mk_bayes_db *db)
{
    if (db == NULL)
        return;
    for (int i = 0; i < MK_BQ_N; i++)
        sqlite3_finalize(db->q[i]);
    sqlite3_close_v2(db->db);
    g_free(db);
}

mk_bayes_db *mk_bayes_db_open(const char *path, int create, char *err, size_t errlen)
{
    sqlite3 *s = mk_sqlite_open(path, create ? MK_SQLITE_CREATE : MK_SQLITE_RW, &mk_bayes_schema,
                                err, errlen);
    if (s == NULL)
        return NULL;
    mk_bayes_db *db = g_new0(mk_bayes_db, 1);
    db->db = s;
    for (int i = 0; i < MK_BQ_N; i++)
        if (sqlite3_prepare_v3(s, mk_bayes_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &db->q[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(s));
            mk_bayes_db_close(db);
            return NULL;
        }
    return db;
}

/* The statement, reset and ready for new bindings. */
static sqlite3_stmt *mk_bayes_q(mk_bayes_db *db, int which)
{
    sqlite3_stmt *st = db->q[which];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

/* Runs a statement that returns no rows; 0 or -1. */
static int mk_bayes_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int mk_bayes_err(mk_bayes_db *db, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", sqlite3_errmsg(db->db));
    return -1;
}

int mk_bayes_db_begin(mk_bayes_db *db, char *err, size_t errlen)
{
    return mk_sqlite_exec(db->db, "BEGIN IMMEDIATE", err, errlen);
}

int mk_bayes_db_commit(mk_bayes_db *db, char *err, size_t errlen)
{
    return mk_sqlite_exec(db->db, "COMMIT", err, errlen);
}

void mk_bayes_db_rollback(mk_bayes_db *db)
{
    if (!sqlite3_get_autocommit(db->db)) {
        char ignore[8];
        mk_sqlite_exec(db->db, "ROLLBACK", ignore, sizeof(ignore));
    }
}

sqlite3 *mk_bayes_db_handle(mk_bayes_db *db)
{
    return db->db;
}

sqlite3_int64 mk_bayes_uid(mk_bayes_db *db, const char *user, int create)
{
    if (user == NULL || *user == '\0')
        return 0;
    sqlite3_stmt *st = mk_bayes_q(db, MK_BQ_UID);
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_int64 uid = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        uid = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (uid >= 0 || !create)
        return uid;
    st = mk_bayes_q(db, MK_BQ_NEW_USER);
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    return mk_bayes_done(st) == 0 ? sqlite3_last_insert_rowid(db->db) : -1;
}

int mk_bayes_db_read_begin(mk_bayes_db *db)
{
    return sqlite3_get_autocommit(db->db) && mk_bayes_done(mk_bayes_q(db, MK_BQ_READ)) == 0;
}

void mk_bayes_db_read_end(mk_bayes_db *db, int began)
{
    if (began)
        mk_bayes_done(mk_bayes_q(db, MK_BQ_READ_END));
}

int mk_bayes_db_list_find(mk_bayes_db *db, const char *const *scopes, size_t n_scopes,
                          const char *const *entries, size_t n_entries, size_t *scope,
                          size_t *entry)
{
    /* point reads in one read transaction: one statement with the scopes
     * and entries in IN lists built two temporary b-trees each run, 107K
     * cycles against 10K for these (the store's own lock taken once in
     * either) */
    int began = mk_bayes_db_read_begin(db);
    int kind = -1, rc = SQLITE_DONE;
    *scope = n_scopes;
    *entry = n_entries;
    for (size_t s = 0; s < n_scopes && kind < 0 && rc == SQLITE_DONE; s++) {
        if (scopes[s] == NULL)
            continue;
        sqlite3_int64 uid = 0; /* "": everyone */
        if (scopes[s][0] != '\0') {
            sqlite3_stmt *st = mk_bayes_q(db, MK_BQ_UID);
            sqlite3_bind_text(st, 1, scopes[s], -1, SQLITE_STATIC);
            rc = sqlite3_step(st);
            uid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
            rc = rc == SQLITE_ROW ? SQLITE_DONE : rc;
            sqlite3_reset(st);
        }
        for (size_t e = 0; uid >= 0 && e < n_entries && kind < 0 && rc == SQLITE_DONE; e++) {
            sqlite3_stmt *st = mk_bayes_q(db, MK_BQ_LIST_KIND);
            sqlite3_bind_int64(st, 1, uid);
            sqlite3_bind_text(st, 2, entries[e], -1, SQLITE_STATIC);
            if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                kind = sqlite3_column_int(st, 0);
                *scope = s, *entry = e;
                rc = SQLITE_DONE;
            }
            sqlite3_reset(st);
        }
    }
    mk_bayes_db_read_end(db, began);
    return rc == SQLITE_DONE ? kind : -2;
}

/* Adds (sign 1) or takes out (-1) one message's tokens as class cls. */
static int mk_bayes_apply(mk_bayes_db *db, sqlite3_int64 uid, const mk_bayes_toks *toks, int cls,
                          int sign, time_t now)
{
    sqlite3_stmt *st = mk_bayes_q(db, sign > 0 ? MK_BQ_ADD : MK_BQ_SUB);
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int(st, 3, cls == MK_BAYES_SPAM);
    sqlite3_bind_int(st, 4, cls != MK_BAYES_SPAM);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
    /* taken out: a token left with no counts goes (this message's tokens
     * only: never a scan of the store) */
    sqlite3_stmt *purge = sign < 0 ? mk_bayes_q(db, MK_BQ_PURGE) : NULL;
    if (purge != NULL)
        sqlite3_bind_int64(purge, 1, uid);
    for (size_t i = 0; i < toks->n; i++) {
        sqlite3_bind_int64(st, 2, (sqlite3_int64)toks->h[i]);
        if (mk_bayes_done(st) != 0)
            return -1;
        if (purge != NULL) {
            sqlite3_bind_int64(purge, 2, (sqlite3_int64)toks->h[i]);
            if (mk_bayes_done(purge) != 0)
                return -1;
        }
    }
    st = mk_bayes_q(db, MK_BQ_ADD_TOTALS);
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int(st, 2, cls == MK_BAYES_SPAM ? sign : 0);
    sqlite3_bind_int(st, 3, cls != MK_BAYES_SPAM ? sign : 0);
    return mk_bayes_done(st);
}

const char *mk_bayes_outcome_name(mk_bayes_outcome o)
{
    static const char *const names[] = {"learned", "already learned", "moved", "forgotten",
                                        "not learned before"};
    return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "?";
}

/* The learn itself, inside a transaction. */
static int mk_bayes_learn_in(mk_bayes_db *db, const char *user, const char *msgid, int cls,
                             const mk_bayes_toks *toks, time_t now, mk_bayes_outcome *outcome)
{
    sqlite3_int64 uid = mk_bayes_uid(db, user, cls != MK_BAYES_FORGET);
    if (uid < 0) {
        if (cls != MK_BAYES_FORGET)
            return -1;
        *outcome = MK_BAYES_UNKNOWN;
        return 0;
    }
    sqlite3_stmt *st = mk_bayes_q(db, MK_BQ_LEARNED);
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_text(st, 2, msgid, -1, SQLITE_STATIC);
    enum { NONE = -2 };
    int before = NONE; /* the class it was learned as */
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        before = sqlite3_column_int(st, 0) ? MK_BAYES_SPAM : MK_BAYES_HAM;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return -1;
    if (before == cls) {
        *outcome = MK_BAYES_ALREADY;
        return 0;
    }
    if (before == NONE && cls == MK_BAYES_FORGET) {
        *outcome = MK_BAYES_UNKNOWN;
        return 0;
    }
    if (before != NONE && mk_bayes_apply(db, uid, toks, before, -1, now) != 0)
        return -1;
    if (cls == MK_BAYES_FORGET) {
        st = mk_bayes_q(db, MK_BQ_DEL_LEARNED);
        sqlite3_bind_int64(st, 1, uid);
        sqlite3_bind_text(st, 2, msgid, -1, SQLITE_STATIC);
        *outcome = MK_BAYES_FORGOTTEN;
    } else {
        if (mk_bayes_apply(db, uid, toks, cls, 1, now) != 0)
            return -1;
        st = mk_bayes_q(db, MK_BQ_SET_LEARNED);
        sqlite3_bind_int64(st, 1, uid);
        sqlite3_bind_text(st, 2, msgid, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, cls == MK_BAYES_SPAM);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)now);
        *outcome = before != NONE ? MK_BAYES_MOVED : MK_BAYES_LEARNED;
    }
    if (mk_bayes_done(st) != 0)
        return -1;
    return mk_bayes_done(mk_bayes_q(db, MK_BQ_BUMP));
}

int mk_bayes_db_learn(mk_bayes_db *db, const char *user, const char *msgid, int cls,
                      const mk_bayes_toks *toks, time_t now, mk_bayes_outcome *outcome, char *err,
                      size_t errlen)
{
    int own = sqlite3_get_autocommit(db->db);
    if (own && mk_bayes_db_begin(db, err, errlen) != 0)
        return -1;
    if (mk_bayes_learn_in(db, user, msgid, cls, toks, now, outcome) != 0) {
        mk_bayes_err(db, err, errlen);
        if (own)
            mk_bayes_db_rollback(db);
        return -1;
    }
    if (own && mk_bayes_db_commit(db, err, errlen) != 0) {
        mk_bayes_db_rollback(db);
        return -1;
    }
    return 0;
}

int mk_bayes_db_totals(mk_bayes_db *db, const char *user, long *nspam, long *nham)
{
    sqlite3_stmt *st = mk_bayes_q(db, MK_BQ_TOTALS);
    sqlite3_bind_text(st, 1, user != NULL ? user : "", -1, SQLITE_STATIC);
    *nspam = *nham = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *nspam = (long)sqlite3_column_int64(st, 0);
        *nham = (long)sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int mk_bayes_db_counts(mk_bayes_db *db, const char *user, const mk_bayes_toks *toks, uint32_t *spam,
                       uint32_t *ham)
{
    memset(spam, 0, toks->n * sizeof(*spam));
    memset(ham, 0, toks->n * sizeof(*ham));
    sqlite3_int64 uid = mk_bayes_uid(db, user, 0);
    if (uid < 0)
        return 0;
    sqlite3_stmt *st = mk_bayes_q(db, MK_BQ_COUNTS);
    sqlite3_bind_int64(st, 1, uid);
    for (size_t i = 0; i < toks->n; i++) {
        sqlite3_bind_int64(st, 2, (sqlite3_int64)toks->h[i]);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            spam[i] = (uint32_t)sqlite3_column_int64(st, 0);
            ham[i] = (uint32_t)sqlite3_column_int64(st, 1);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return -1;
    }
    return 0;
}

/* One number from a query with ?1 = uid; -1 on error. */
static long long mk_bayes_scalar(mk_bayes_db *db, const char *sql, sqlite3_int64 uid)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, uid);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

long mk_bayes_db_ntokens(mk_bayes_db *db, const char *user)
{
    sqlite3_int64 uid = mk_bayes_uid(db, user, 0);
    if (uid < 0)
        return 0;
    return (long)mk_bayes_scalar(db, "SELECT count(*) FROM tokens WHERE uid = ?1", uid);
}

int mk_bayes_db_expire(mk_bayes_db *db, const char *user, size_t max_tokens, size_t *removed,
                       char *err, size_t errlen)
{
    *removed = 0;
    sqlite3_int64 uid = mk_bayes_uid(db, user, 0);
    if (uid < 0 || max_tokens == 0)
        return 0;
    long n = mk_bayes_db_ntokens(db, user);
    if (n < 0)
        return mk_bayes_err(db, err, errlen);
    if ((size_t)n <= max_tokens)
        return 0;
    size_t keep = max_tokens / 4 * 3;
    sqlite3_stmt *st = NULL;
    int own = sqlite3_get_autocommit(db->db);
    if (own && mk_bayes_db_begin(db, err, errlen) != 0)
        return -1;
    /* the oldest first; among tokens learned at the same time, the rarest */
    if (sqlite3_prepare_v2(db->db,
                           "DELETE FROM tokens WHERE uid = ?1 AND h IN (SELECT h FROM tokens "
                           "WHERE uid = ?1 ORDER BY atime, spam + ham LIMIT ?2)",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)((size_t)n - keep));
    if (sqlite3_step(st) != SQLITE_DONE)
        goto fail;
    *removed = (size_t)sqlite3_changes(db->db);
    sqlite3_finalize(st);
    st = NULL;
    if (mk_bayes_done(mk_bayes_q(db, MK_BQ_BUMP)) != 0)
        goto fail;
    if (own && mk_bayes_db_commit(db, err, errlen) != 0)
        goto fail_quiet;
    return 0;
fail:
    mk_bayes_err(db, err, errlen);
fail_quiet:
    sqlite3_finalize(st);
    if (own)
        mk_bayes_db_rollback(db);
    return -1;
}

long long mk_bayes_db_generation(mk_bayes_db *db)
{
    sqlite3_stmt *st = mk_bayes_q(db, MK_BQ_GENERATION);
    long long v = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return v;
}

int mk_bayes_db_each_global(mk_bayes_db *db, void (*fn)(void *, uint64_t, uint32_t, uint32_t),
                            void *data)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->db, "SELECT h, spam, ham FROM tokens WHERE uid = 0", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(data, (uint64_t)sqlite3_column_int64(st, 0), (uint32_t)sqlite3_column_int64(st, 1),
           (uint32_t)sqlite3_column_int64(st, 2));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}
