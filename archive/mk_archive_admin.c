/*
 * mk_archive_admin: what changes the archive after a message is stored,
 * each change a link of the chain: legal holds, longer retention, purge;
 * and the audit log of who searched, viewed and exported what (a chain of
 * its own, see mk_archive.h).
 */
#include "config.h"

#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mk_archive.h"
#include "mk_archive_int.h"
#include "mk_sqlite.h"

/* A record's value on one line: line breaks become spaces. */
static char *mk_archive_oneline(const char *s)
{
    return g_strdelimit(g_strdup(s != NULL ? s : ""), "\r\n", ' ');
}

/* Runs fn inside one transaction under the archive's lock; 0 or -1. */
static int mk_archive_txn(mk_archive *a, int (*fn)(mk_archive *, void *, char *, size_t),
                          void *data, char *err, size_t errlen)
{
    sqlite3 *db = mk_archive_db(a);
    mk_archive_lock(a);
    int rc = mk_sqlite_exec(db, "BEGIN IMMEDIATE", err, errlen);
    if (rc == 0 && (rc = fn(a, data, err, errlen)) == 0)
        rc = mk_sqlite_exec(db, "COMMIT", err, errlen);
    mk_archive_heads(a, rc == 0);
    if (rc != 0) {
        char ignore[64];
        mk_sqlite_exec(db, "ROLLBACK", ignore, sizeof(ignore));
    }
    mk_archive_unlock(a);
    return rc;
}

/* Runs one statement with text bindings (NULL ends them); 0, or -1 with why. */
static int mk_archive_exec(mk_archive *a, const char *sql, char *err, size_t errlen, ...)
{
    sqlite3 *db = mk_archive_db(a);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "index: %s", sqlite3_errmsg(db));
        return -1;
    }
    va_list ap;
    va_start(ap, errlen);
    const char *v;
    for (int i = 1; (v = va_arg(ap, const char *)) != NULL; i++)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    va_end(ap);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        snprintf(err, errlen, "index: %s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

/* ---- the audit log ------------------------------------------------------------- */

typedef struct mk_archive_audit_ev {
    const char *who, *action, *detail;
    long long msg;
} mk_archive_audit_ev;

static int mk_archive_audit_txn(mk_archive *a, void *data, char *err, size_t errlen)
{
    mk_archive_audit_ev *ev = data;
    char *who = mk_archive_oneline(ev->who), *detail = mk_archive_oneline(ev->detail);
    char *record = g_strdup_printf("time=%lld\nwho=%s\naction=%s\nentry=%lld\ndetail=%s\n",
                                   (long long)time(NULL), who, ev->action, ev->msg, detail);
    int rc = mk_archive_link(a, "audit", ev->action, ev->msg, record, err, errlen);
    g_free(record);
    g_free(who);
    g_free(detail);
    return rc;
}

int mk_archive_audit(mk_archive *a, const char *who, const char *action, long long msg,
                     const char *detail, char *err, size_t errlen)
{
    mk_archive_audit_ev ev = {who, action, detail, msg};
    return mk_archive_txn(a, mk_archive_audit_txn, &ev, err, errlen);
}

long mk_archive_audit_each(mk_archive *a, long limit,
                           void (*fn)(void *data, long long seq, const char *record), void *data)
{
    sqlite3 *db = mk_archive_db(a);
    sqlite3_stmt *st = NULL;
    long n = -1;
    mk_archive_lock(a);
    /* the newest limit links, oldest first */
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, record FROM (SELECT seq, record FROM audit ORDER BY seq "
                           "DESC LIMIT ?1) ORDER BY seq",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1);
        n = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            fn(data, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1));
            n++;
        }
    }
    sqlite3_finalize(st);
    mk_archive_unlock(a);
    return n;
}

/* ---- legal holds ------------------------------------------------------------ */

typedef struct mk_archive_hold_ev {
    const char *name, *query, *reason, *who;
} mk_archive_hold_ev;

static int mk_archive_hold_add_txn(mk_archive *a, void *data, char *err, size_t errlen)
{
    mk_archive_hold_ev *h = data;
    char *created = g_strdup_printf("%lld", (long long)time(NULL));
    int rc = mk_archive_exec(a,
                             "INSERT INTO holds(name, query, reason, created, who) VALUES (?1, "
                             "?2, ?3, CAST(?4 AS INTEGER), ?5)",
                             err, errlen, h->name, h->query, h->reason, created, h->who, NULL);
    if (rc != 0 && strstr(err, "UNIQUE") != NULL)
        snprintf(err, errlen, "a hold named '%s' is in force already", h->name);
    char *q = mk_archive_oneline(h->query), *r = mk_archive_oneline(h->reason),
         *w = mk_archive_oneline(h->who);
    char *record = g_strdup_printf("name=%s\nquery=%s\nreason=%s\nwho=%s\ntime=%s\n", h->name, q, r,
                                   w, created);
    if (rc == 0)
        rc = mk_archive_link(a, "chain", "hold", 0, record, err, errlen);
    g_free(record);
    g_free(q);
    g_free(r);
    g_free(w);
    g_free(created);
    return rc;
}

/* A hold's name: letters, digits, '-', '_', '.'. */
static int mk_archive_hold_name_ok(const char *name)
{
    if (*name == '\0' || strlen(name) > 100)
        return 0;
    for (const char *p = name; *p != '\0'; p++)
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
            return 0;
    return 1;
}

static void mk_archive_count_hit(void *data, const mk_archive_hit *h)
{
    (void)h;
    (*(long *)data)++;
}

int mk_archive_hold_add(mk_archive *a, const char *name, const char *query, const char *reason,
                        const char *who, char *err, size_t errlen)
{
    if (!mk_archive_hold_name_ok(name)) {
        snprintf(err, errlen, "'%s' is not a hold name (letters, digits, '-', '_', '.')", name);
        return -1;
    }
    if (reason == NULL || *reason == '\0') {
        snprintf(err, errlen, "a hold needs a reason");
        return -1;
    }
    long n = 0; /* the query must be one search understands */
    if (mk_archive_search(a, query, 1, mk_archive_count_hit, &n, err, errlen) < 0)
        return -1;
    if (query == NULL || *query == '\0') {
        snprintf(err, errlen, "a hold needs a query (a hold on everything: 'after:1970-01-01')");
        return -1;
    }
    mk_archive_hold_ev h = {name, query, reason, who};
    return mk_archive_txn(a, mk_archive_hold_add_txn, &h, err, errlen);
}

static int mk_archive_hold_release_txn(mk_archive *a, void *data, char *err, size_t errlen)
{
    mk_archive_hold_ev *h = data;
    sqlite3 *db = mk_archive_db(a);
    if (mk_archive_exec(a, "DELETE FROM holds WHERE name = ?1", err, errlen, h->name, NULL) != 0)
        return -1;
    if (sqlite3_changes(db) == 0) {
        snprintf(err, errlen, "no hold named '%s' is in force", h->name);
        return -1;
    }
    char *w = mk_archive_oneline(h->who);
    char *record =
        g_strdup_printf("name=%s\nwho=%s\ntime=%lld\n", h->name, w, (long long)time(NULL));
    int rc = mk_archive_link(a, "chain", "release", 0, record, err, errlen);
    g_free(record);
    g_free(w);
    return rc;
}

int mk_archive_hold_release(mk_archive *a, const char *name, const char *who, char *err,
                            size_t errlen)
{
    mk_archive_hold_ev h = {name, NULL, NULL, who};
    return mk_archive_txn(a, mk_archive_hold_release_txn, &h, err, errlen);
}

long mk_archive_hold_each(mk_archive *a,
                          void (*fn)(void *data, const char *name, const char *query,
                                     const char *reason, time_t created, const char *who),
                          void *data)
{
    sqlite3 *db = mk_archive_db(a);
    sqlite3_stmt *st = NULL;
    long n = -1;
    mk_archive_lock(a);
    if (sqlite3_prepare_v2(db, "SELECT name, query, reason, created, who FROM holds ORDER BY name",
                           -1, &st, NULL) == SQLITE_OK) {
        n = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            fn(data, (const char *)sqlite3_column_text(st, 0),
               (const char *)sqlite3_column_text(st, 1), (const char *)sqlite3_column_text(st, 2),
               (time_t)sqlite3_column_int64(st, 3), (const char *)sqlite3_column_text(st, 4));
            n++;
        }
    }
    sqlite3_finalize(st);
    mk_archive_unlock(a);
    return n;
}

/* ---- retention ------------------------------------------------------------------ */

typedef struct mk_archive_retain_ev {
    long long id;
    time_t until;
    const char *who;
} mk_archive_retain_ev;

static int mk_archive_retain_txn(mk_archive *a, void *data, char *err, size_t errlen)
{
    mk_archive_retain_ev *r = data;
    sqlite3 *db = mk_archive_db(a);
    sqlite3_stmt *st = NULL;
    long long now_until = -1;
    if (sqlite3_prepare_v2(db, "SELECT retain_until FROM messages WHERE id = ?1", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_int64(st, 1, r->id);
        if (sqlite3_step(st) == SQLITE_ROW)
            now_until = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (now_until < 0) {
        snprintf(err, errlen, "no message %lld in the archive", r->id);
        return -1;
    }
    if ((long long)r->until <= now_until) {
        char day[32];
        time_t t = (time_t)now_until;
        strftime(day, sizeof(day), "%Y-%m-%d", gmtime(&t));
        snprintf(err, errlen,
                 "message %lld is kept until %s already: a retention date can be lengthened, "
                 "never shortened",
                 r->id, day);
        return -1;
    }
    char *id = g_strdup_printf("%lld", r->id),
         *until = g_strdup_printf("%lld", (long long)r->until);
    int rc = mk_archive_exec(a,
                             "UPDATE messages SET retain_until = CAST(?1 AS INTEGER) WHERE id = "
                             "CAST(?2 AS INTEGER)",
                             err, errlen, until, id, NULL);
    char *w = mk_archive_oneline(r->who);
    char *record = g_strdup_printf("id=%s\nretain_until=%s\nwas=%lld\nwho=%s\ntime=%lld\n", id,
                                   until, now_until, w, (long long)time(NULL));
    if (rc == 0)
        rc = mk_archive_link(a, "chain", "retain", r->id, record, err, errlen);
    g_free(record);
    g_free(w);
    g_free(id);
    g_free(until);
    return rc;
}

int mk_archive_retain(mk_archive *a, long long id, time_t until, const char *who, char *err,
                      size_t errlen)
{
    mk_archive_retain_ev r = {id, until, who};
    return mk_archive_txn(a, mk_archive_retain_txn, &r, err, errlen);
}

/* ---- purge ------------------------------------------------------------------------ */

static void mk_archive_add_id(void *data, const mk_archive_hit *h)
{
    long long *k = g_new(long long, 1);
    *k = h->id;
    g_hash_table_add(data, k);
}

static void mk_archive_add_hold(void *data, const char *name, const char *query, const char *reason,
                                time_t created, const char *who)
{
    g_ptr_array_add(data, g_strdup(query));
}

typedef struct mk_archive_purge_ev {
    GArray *ids; /* long long: expired and not held */
    GPtrArray *shas;
    const char *who;
} mk_archive_purge_ev;

static int mk_archive_purge_txn(mk_archive *a, void *data, char *err, size_t errlen)
{
    mk_archive_purge_ev *p = data;
    sqlite3 *db = mk_archive_db(a);
    for (guint i = 0; i < p->ids->len; i++) {
        long long id = g_array_index(p->ids, long long, i);
        char *ids = g_strdup_printf("%lld", id);
        sqlite3_stmt *st = NULL;
        char *sha = NULL;
        long long until = 0;
        if (sqlite3_prepare_v2(db, "SELECT sha256, retain_until FROM messages WHERE id = ?1", -1,
                               &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, id);
            if (sqlite3_step(st) == SQLITE_ROW) {
                sha = g_strdup((const char *)sqlite3_column_text(st, 0));
                until = sqlite3_column_int64(st, 1);
            }
        }
        sqlite3_finalize(st);
        int rc = sha == NULL ? -1 : 0;
        if (rc != 0)
            snprintf(err, errlen, "message %lld vanished during the purge", id);
        const char *del[] = {"DELETE FROM rcpts WHERE msg = CAST(?1 AS INTEGER)",
                             "DELETE FROM fulltext WHERE rowid = CAST(?1 AS INTEGER)",
                             "DELETE FROM messages WHERE id = CAST(?1 AS INTEGER)"};
        for (int k = 0; k < 3 && rc == 0; k++)
            rc = mk_archive_exec(a, del[k], err, errlen, ids, NULL);
        char *w = mk_archive_oneline(p->who);
        char *record = g_strdup_printf("id=%lld\nsha256=%s\nretain_until=%lld\nwho=%s\ntime=%lld\n",
                                       id, sha ? sha : "", until, w, (long long)time(NULL));
        if (rc == 0)
            rc = mk_archive_link(a, "chain", "purge", id, record, err, errlen);
        g_free(record);
        g_free(w);
        g_free(ids);
        if (rc != 0) {
            g_free(sha);
            return -1;
        }
        g_ptr_array_add(p->shas, sha);
    }
    return 0;
}

long mk_archive_purge(mk_archive *a, time_t now, int dry_run, const char *who,
                      void (*fn)(void *data, long long id, const char *why), void *data, char *err,
                      size_t errlen)
{
    /* what the holds in force cover */
    GPtrArray *queries = g_ptr_array_new_with_free_func(g_free);
    GHashTable *held = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    mk_archive_purge_ev p = {g_array_new(FALSE, FALSE, sizeof(long long)),
                             g_ptr_array_new_with_free_func(g_free), who};
    long n = -1;
    if (mk_archive_hold_each(a, mk_archive_add_hold, queries) < 0) {
        snprintf(err, errlen, "index: cannot read the holds");
        goto out;
    }
    for (guint i = 0; i < queries->len; i++)
        if (mk_archive_search(a, queries->pdata[i], 0, mk_archive_add_id, held, err, errlen) < 0)
            goto out;
    /* the expired entries */
    sqlite3 *db = mk_archive_db(a);
    sqlite3_stmt *st = NULL;
    mk_archive_lock(a);
    if (sqlite3_prepare_v2(db, "SELECT id FROM messages WHERE retain_until <= ?1 ORDER BY id", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
        while (sqlite3_step(st) == SQLITE_ROW) {
            long long id = sqlite3_column_int64(st, 0);
            if (g_hash_table_contains(held, &id)) {
                fn(data, id, "expired, kept: under a legal hold");
                continue;
            }
            g_array_append_val(p.ids, id);
        }
    }
    sqlite3_finalize(st);
    mk_archive_unlock(a);
    if (!dry_run && p.ids->len > 0 && mk_archive_txn(a, mk_archive_purge_txn, &p, err, errlen) != 0)
        goto out;
    /* committed: the files no entry names any more go */
    for (guint i = 0; i < p.shas->len; i++) {
        sqlite3_stmt *q = NULL;
        int named = 1;
        mk_archive_lock(a);
        if (sqlite3_prepare_v2(db, "SELECT 1 FROM messages WHERE sha256 = ?1 LIMIT 1", -1, &q,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_text(q, 1, p.shas->pdata[i], -1, SQLITE_STATIC);
            named = sqlite3_step(q) == SQLITE_ROW;
        }
        sqlite3_finalize(q);
        mk_archive_unlock(a);
        if (!named)
            mk_archive_file_remove(mk_archive_dir(a), p.shas->pdata[i]);
    }
    for (guint i = 0; i < p.ids->len; i++)
        fn(data, g_array_index(p.ids, long long, i),
           dry_run ? "expired: would be purged" : "purged");
    n = (long)p.ids->len;
out:
    g_array_free(p.ids, TRUE);
    g_ptr_array_free(p.shas, TRUE);
    g_ptr_array_free(queries, TRUE);
    g_hash_table_destroy(held);
    return n;
}
