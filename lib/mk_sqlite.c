/*
 * mk_sqlite: opening a database the one way every part does (WAL, busy
 * timeout, schema version), and running simple statements.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mk_sqlite.h"

/* How long a statement waits for another process's write to end. */
#define MK_SQLITE_BUSY_MS 5000

int mk_sqlite_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    snprintf(err, errlen, "%s", msg != NULL ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

int mk_sqlite_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Brings the schema forward, one transaction per step. */
static int mk_sqlite_migrate(sqlite3 *db, const mk_sqlite_schema *schema, char *err, size_t errlen)
{
    /* up to date (versions only move forward): no write lock to wait for */
    if (mk_sqlite_version(db) == (int)schema->n_steps)
        return 0;
    for (;;) {
        if (mk_sqlite_exec(db, "BEGIN IMMEDIATE", err, errlen) != 0)
            return -1;
        int v = mk_sqlite_version(db); /* read inside the lock: another process may have moved it */
        if (v < 0 || (size_t)v >= schema->n_steps) {
            mk_sqlite_exec(db, "COMMIT", err, errlen);
            if (v > 0 && (size_t)v > schema->n_steps) {
                snprintf(err, errlen, "schema version %d is newer than this program's (%zu)", v,
                         schema->n_steps);
                return -1;
            }
            return v < 0 ? -1 : 0;
        }
        char set[64];
        snprintf(set, sizeof(set), "PRAGMA user_version = %d", v + 1);
        if (mk_sqlite_exec(db, schema->steps[v], err, errlen) != 0 ||
            mk_sqlite_exec(db, set, err, errlen) != 0 ||
            mk_sqlite_exec(db, "COMMIT", err, errlen) != 0) {
            char ignore[8];
            mk_sqlite_exec(db, "ROLLBACK", ignore, sizeof(ignore));
            return -1;
        }
    }
}

sqlite3 *mk_sqlite_open(const char *path, int flags, const mk_sqlite_schema *schema, char *err,
                        size_t errlen)
{
    sqlite3 *db = NULL;
    /* SQLite would make it 0644: made here 0660, so that the group (the
     * milter, the learner run by the mail server) may write; its -wal and
     * -shm files take the same mode */
    if (flags & MK_SQLITE_CREATE) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
        if (fd >= 0)
            close(fd);
    }
    int oflags = SQLITE_OPEN_NOMUTEX |
                 ((flags & MK_SQLITE_READONLY) ? SQLITE_OPEN_READONLY
                  : (flags & MK_SQLITE_CREATE) ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                                               : SQLITE_OPEN_READWRITE);
    if (sqlite3_open_v2(path, &db, oflags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, db != NULL ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, MK_SQLITE_BUSY_MS);
    char why[256];
    int v;
    if (!(flags & MK_SQLITE_READONLY)) {
        if (mk_sqlite_exec(db, "PRAGMA journal_mode = WAL", why, sizeof(why)) != 0 ||
            mk_sqlite_exec(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON", why,
                           sizeof(why)) != 0 ||
            /* pages read through a mapping, not a pread each: a learn of one
             * message touches hundreds of scattered pages */
            mk_sqlite_exec(db, "PRAGMA mmap_size = 268435456", why, sizeof(why)) != 0 ||
            mk_sqlite_migrate(db, schema, why, sizeof(why)) != 0)
            goto fail;
    } else if ((v = mk_sqlite_version(db)) < 0 || (size_t)v != schema->n_steps) {
        if (v < 0)
            snprintf(why, sizeof(why), "%s", sqlite3_errmsg(db));
        else
            snprintf(why, sizeof(why), "schema version %d, this program reads %zu", v,
                     schema->n_steps);
        goto fail;
    }
    return db;
fail:
    snprintf(err, errlen, "%s: %s", path, why);
    sqlite3_close_v2(db);
    return NULL;
}
