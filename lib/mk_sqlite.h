/*
 * mk_sqlite: how every mailkeeper database is opened. WAL journal, a busy
 * timeout so a short write by another process waits instead of failing,
 * foreign keys on, and a schema version (PRAGMA user_version) that moves
 * forward through the caller's migration steps, each in one transaction.
 */
#ifndef MK_SQLITE_H
#define MK_SQLITE_H

#include <sqlite3.h>
#include <stddef.h>

/* Step i (0-based) brings the schema from version i to i + 1. */
typedef struct mk_sqlite_schema {
    const char *const *steps;
    size_t n_steps;
} mk_sqlite_schema;

enum { MK_SQLITE_RW = 0, MK_SQLITE_CREATE = 1, MK_SQLITE_READONLY = 2 };

/* Opens path (MK_SQLITE_CREATE: makes it if missing, with mode 0660 under
 * the caller's umask) and brings it to the newest schema; a read-only
 * handle only checks that the schema is not newer than the program's.
 * Returns the handle (sqlite3_close_v2 it), or NULL with why in err. */
sqlite3 *mk_sqlite_open(const char *path, int flags, const mk_sqlite_schema *schema, char *err,
                        size_t errlen);

/* Runs sql (no results); 0, or -1 with sqlite's message in err. */
int mk_sqlite_exec(sqlite3 *db, const char *sql, char *err, size_t errlen);

/* The database's schema version, or -1. */
int mk_sqlite_version(sqlite3 *db);

#endif
