/*
 * mk_archive: the index of the archive and its hash chain (see
 * mk_archive.h). A link of the chain is (seq, kind, msg, record, prev,
 * hash) with hash = SHA-256(prev "\n" record); a "store" link's record is
 * the entry's fields written out one per line, so that verify can write
 * them out again from the index and compare.
 */
#include "config.h"

#include "mk_archive.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <gmime/gmime.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mk_archive_int.h"
#include "mk_crypto.h"
#include "mk_log.h"
#include "mk_msg.h"
#include "mk_sqlite.h"

static const char *const mk_archive_schema_steps[] = {
    "CREATE TABLE messages(id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER NOT NULL,"
    "  arrival INTEGER NOT NULL, direction TEXT NOT NULL, env_from TEXT NOT NULL,"
    "  hdr_from TEXT NOT NULL, hdr_to TEXT NOT NULL, hdr_cc TEXT NOT NULL,"
    "  subject TEXT NOT NULL, date TEXT NOT NULL, message_id TEXT NOT NULL,"
    "  attachments TEXT NOT NULL, retain_until INTEGER NOT NULL);"
    "CREATE INDEX messages_sha256 ON messages(sha256);"
    "CREATE INDEX messages_arrival ON messages(arrival);"
    "CREATE TABLE rcpts(msg INTEGER NOT NULL, rcpt TEXT NOT NULL);"
    "CREATE INDEX rcpts_msg ON rcpts(msg);"
    "CREATE INDEX rcpts_rcpt ON rcpts(rcpt);"
    "CREATE VIRTUAL TABLE fulltext USING fts5(subject, body, attachments);"
    "CREATE TABLE chain(seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, msg INTEGER,"
    "  record TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);",
    /* 2: legal holds, and the audit log: a chain of its own, the same shape */
    "CREATE TABLE holds(name TEXT PRIMARY KEY, query TEXT NOT NULL, reason TEXT NOT NULL,"
    "  created INTEGER NOT NULL, who TEXT NOT NULL);"
    "CREATE TABLE audit(seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, msg INTEGER,"
    "  record TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);",
};

static const mk_sqlite_schema mk_archive_schema = {mk_archive_schema_steps, 2};

#define MK_ARCHIVE_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

struct mk_archive {
    char *dir;
    unsigned char key[MK_GCM_KEY]; /* files encrypted at rest under it, when has_key */
    int has_key;
    /* the last link of each chain (0: "chain", 1: "audit") made in the
     * open transaction, written to DIR/TABLE.head once it is committed */
    long long head_seq[2];
    char head_hash[2][MK_SHA256_HEX];
    sqlite3 *db;
    pthread_mutex_t lock; /* one user of the index at a time (the milter's threads); recursive */
};

typedef struct mk_archive_rec {
    mk_archive *a;
    long settled, removed;
} mk_archive_rec;

/* One file of incoming/ at start: into place when an entry names it; gone
 * when none does and it is older than MK_ARCHIVE_ORPHAN_S (younger ones
 * may be a store under way in another process). */
#define MK_ARCHIVE_ORPHAN_S 600
static void mk_archive_recover_one(void *data, const char *sha)
{
    mk_archive_rec *r = data;
    sqlite3_stmt *st = NULL;
    int named = 0;
    if (sqlite3_prepare_v2(r->a->db, "SELECT 1 FROM messages WHERE sha256 = ?1 LIMIT 1", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, sha, -1, SQLITE_STATIC);
        named = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    char err[512];
    char *path = mk_archive_file_incoming(r->a->dir, sha);
    struct stat sb;
    if (named) {
        if (mk_archive_file_settle(r->a->dir, sha, err, sizeof(err)) == 0)
            r->settled++;
        else
            mk_log(LOG_WARNING, NULL, "archive: %s", err);
    } else if (stat(path, &sb) == 0 && time(NULL) - sb.st_mtime > MK_ARCHIVE_ORPHAN_S &&
               unlink(path) == 0) {
        r->removed++;
    }
    g_free(path);
}

/* Finishes what a crash left in incoming/. */
static void mk_archive_recover(mk_archive *a)
{
    mk_archive_rec r = {a, 0, 0};
    mk_archive_file_each(a->dir, 1, mk_archive_recover_one, &r);
    if (r.settled > 0 || r.removed > 0)
        mk_log(LOG_NOTICE, NULL,
               "archive: %ld committed file(s) put in place, %ld file(s) of interrupted stores "
               "removed",
               r.settled, r.removed);
}

mk_archive *mk_archive_open(const char *dir, int create, char *err, size_t errlen)
{
    if (create && mkdir(dir, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return NULL;
    }
    char *path = g_build_filename(dir, "index.db", NULL);
    sqlite3 *db = mk_sqlite_open(path, create ? MK_SQLITE_CREATE : MK_SQLITE_RW, &mk_archive_schema,
                                 err, errlen);
    g_free(path);
    /* a committed entry survives a power cut, not only a crash */
    if (db == NULL || mk_sqlite_exec(db, "PRAGMA synchronous = FULL", err, errlen) != 0) {
        sqlite3_close_v2(db);
        return NULL;
    }
    mk_archive *a = g_new0(mk_archive, 1);
    a->dir = g_strdup(dir);
    a->db = db;
    if (create)
        mk_archive_recover(a);
    /* recursive: a search's callback may read the entries it is given */
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&a->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    return a;
}

/* The key of encryption at rest, or NULL. */
static const unsigned char *mk_archive_key(const mk_archive *a)
{
    return a->has_key ? a->key : NULL;
}

mk_archive *mk_archive_open_config(const mk_config *cfg, int create, char *err, size_t errlen)
{
    char *dir = mk_archive_config_dir(cfg);
    mk_archive *a = mk_archive_open(dir, create, err, errlen);
    g_free(dir);
    if (a != NULL && cfg->archive_key_file[0] != '\0' &&
        mk_archive_use_key_file(a, cfg->archive_key_file, err, errlen) != 0) {
        mk_archive_close(a);
        return NULL;
    }
    return a;
}

int mk_archive_use_key_file(mk_archive *a, const char *path, char *err, size_t errlen)
{
    if (mk_crypto_key_file(path, a->key, err, errlen) != 0)
        return -1;
    a->has_key = 1;
    return 0;
}

sqlite3 *mk_archive_db(mk_archive *a)
{
    return a->db;
}

const char *mk_archive_dir(mk_archive *a)
{
    return a->dir;
}

void mk_archive_lock(mk_archive *a)
{
    pthread_mutex_lock(&a->lock);
}

void mk_archive_unlock(mk_archive *a)
{
    pthread_mutex_unlock(&a->lock);
}

void mk_archive_close(mk_archive *a)
{
    if (a == NULL)
        return;
    sqlite3_close_v2(a->db);
    pthread_mutex_destroy(&a->lock);
    g_free(a->dir);
    g_free(a);
}

char *mk_archive_config_dir(const mk_config *cfg)
{
    return g_path_is_absolute(cfg->archive_dir)
               ? g_strdup(cfg->archive_dir)
               : g_build_filename(cfg->state_dir, cfg->archive_dir, NULL);
}

/* ---- the fields of a message ---------------------------------------------- */

typedef struct mk_archive_fields {
    char *from, *to, *cc, *subject, *date, *message_id, *attachments, *body;
} mk_archive_fields;

static void mk_archive_fields_clear(mk_archive_fields *f)
{
    g_free(f->from);
    g_free(f->to);
    g_free(f->cc);
    g_free(f->subject);
    g_free(f->date);
    g_free(f->message_id);
    g_free(f->attachments);
    g_free(f->body);
}

/* One line: folds and control characters become spaces. */
static char *mk_archive_line(const char *s)
{
    char *out = g_strdup(s != NULL ? s : "");
    for (char *p = out; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return g_strstrip(out);
}

static char *mk_archive_addresses(GMimeMessage *m, GMimeAddressType type)
{
    InternetAddressList *l = g_mime_message_get_addresses(m, type);
    char *s = l != NULL ? internet_address_list_to_string(l, NULL, FALSE) : NULL;
    char *line = mk_archive_line(s);
    g_free(s);
    return line;
}

static void mk_archive_attachment(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    GString *names = data;
    if (!GMIME_IS_PART(part))
        return;
    const char *name = g_mime_part_get_filename(GMIME_PART(part));
    if (name == NULL || *name == '\0')
        return;
    char *line = mk_archive_line(name);
    g_string_append_printf(names, "%s%s", names->len ? ", " : "", line);
    g_free(line);
}

/* Reads the fields the index keeps from parsed, or (NULL) parses data
 * for them; the message may be anything. */
static void mk_archive_fields_of(const char *data, size_t len, const mk_msg *parsed,
                                 mk_archive_fields *f)
{
    memset(f, 0, sizeof(*f));
    mk_msgbuf *buf = NULL;
    mk_msg *own = NULL;
    if (parsed == NULL) { /* all in memory: the buffer never spills */
        char err[256];
        buf = mk_msgbuf_new(len + 1, "/tmp");
        if (buf != NULL && mk_msgbuf_append(buf, data, len, err, sizeof(err)) == 0)
            own = mk_msg_parse(buf);
    }
    const mk_msg *msg = parsed != NULL ? parsed : own;
    GString *body = g_string_new(NULL);
    GString *names = g_string_new(NULL);
    if (msg != NULL) {
        GMimeMessage *m = msg->mime;
        f->from = mk_archive_addresses(m, GMIME_ADDRESS_TYPE_FROM);
        f->to = mk_archive_addresses(m, GMIME_ADDRESS_TYPE_TO);
        f->cc = mk_archive_addresses(m, GMIME_ADDRESS_TYPE_CC);
        f->subject = mk_archive_line(g_mime_message_get_subject(m));
        f->date = mk_archive_line(g_mime_object_get_header(GMIME_OBJECT(m), "Date"));
        f->message_id = mk_archive_line(g_mime_message_get_message_id(m));
        g_mime_message_foreach(m, mk_archive_attachment, names);
        for (size_t i = 0; i < msg->n_texts; i++)
            g_string_append_printf(body, "%s%s", i ? "\n" : "", msg->texts[i].text);
    }
    for (char **p = &f->from; p <= &f->message_id; p++)
        if (*p == NULL)
            *p = g_strdup("");
    f->attachments = g_string_free(names, FALSE);
    f->body = g_string_free(body, FALSE);
    mk_msg_free(own);
    mk_msgbuf_free(buf);
}

/* ---- the chain ------------------------------------------------------------- */

/* The record of a "store" link: every field of the entry, one per line;
 * the retention date last (it may be lengthened by later links). */
static char *mk_archive_record(sqlite3_stmt *row, const char *rcpts, int with_retain)
{
    GString *r = g_string_new(NULL);
    static const char *const names[] = {
        "id", "sha256", "size",    "arrival", "direction",  "env_from",   "from",
        "to", "cc",     "subject", "date",    "message_id", "attachments"};
    for (int i = 0; i < 13; i++) {
        const unsigned char *v = sqlite3_column_text(row, i);
        g_string_append_printf(r, "%s=%s\n", names[i], v != NULL ? (const char *)v : "");
        if (i == 5)
            g_string_append_printf(r, "rcpts=%s\n", rcpts);
    }
    if (with_retain)
        g_string_append_printf(r, "retain_until=%lld\n", (long long)sqlite3_column_int64(row, 13));
    return g_string_free(r, FALSE);
}

#define MK_ARCHIVE_ROW_COLS                                                                        \
    "id, sha256, size, arrival, direction, env_from, hdr_from, hdr_to, hdr_cc, subject, date, "    \
    "message_id, attachments, retain_until"

/* The recipients of entry id, ", "-separated in the order stored. */
static char *mk_archive_rcpts(sqlite3 *db, long long id)
{
    sqlite3_stmt *st = NULL;
    GString *s = g_string_new(NULL);
    if (sqlite3_prepare_v2(db, "SELECT rcpt FROM rcpts WHERE msg = ?1 ORDER BY rowid", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        while (sqlite3_step(st) == SQLITE_ROW)
            g_string_append_printf(s, "%s%s", s->len ? ", " : "",
                                   (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return g_string_free(s, FALSE);
}

static char *mk_archive_head_path(const mk_archive *a, int t)
{
    return g_build_filename(a->dir, t ? "audit.head" : "chain.head", NULL);
}

void mk_archive_heads(mk_archive *a, int committed)
{
    for (int t = 0; t < 2; t++) {
        if (a->head_seq[t] == 0)
            continue;
        if (committed) {
            char *path = mk_archive_head_path(a, t);
            char *text = g_strdup_printf("%lld %s\n", a->head_seq[t], a->head_hash[t]);
            GError *gerr = NULL;
            if (!g_file_set_contents(path, text, -1, &gerr)) {
                mk_log(LOG_WARNING, NULL, "archive: %s", gerr->message);
                g_error_free(gerr);
            }
            g_free(text);
            g_free(path);
        }
        a->head_seq[t] = 0;
    }
}

int mk_archive_link(mk_archive *a, const char *table, const char *kind, long long msg,
                    const char *record, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    char prev[MK_SHA256_HEX] = MK_ARCHIVE_GENESIS;
    char *sql = g_strdup_printf("SELECT hash FROM %s ORDER BY seq DESC LIMIT 1", table);
    int prep = sqlite3_prepare_v2(a->db, sql, -1, &st, NULL);
    g_free(sql);
    if (prep != SQLITE_OK)
        goto fail;
    if (sqlite3_step(st) == SQLITE_ROW)
        g_strlcpy(prev, (const char *)sqlite3_column_text(st, 0), sizeof(prev));
    sqlite3_finalize(st);
    char hash[MK_SHA256_HEX];
    char *text = g_strconcat(prev, "\n", record, NULL);
    mk_sha256_hex(text, strlen(text), hash);
    g_free(text);
    sql = g_strdup_printf("INSERT INTO %s(kind, msg, record, prev, hash) VALUES (?1, ?2, ?3, ?4, "
                          "?5)",
                          table);
    prep = sqlite3_prepare_v2(a->db, sql, -1, &st, NULL);
    g_free(sql);
    if (prep != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, msg);
    sqlite3_bind_text(st, 3, record, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, prev, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, hash, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    int t = strcmp(table, "audit") == 0;
    a->head_seq[t] = sqlite3_last_insert_rowid(a->db);
    g_strlcpy(a->head_hash[t], hash, MK_SHA256_HEX);
    return 0;
fail:
    snprintf(err, errlen, "index: %s", sqlite3_errmsg(a->db));
    sqlite3_finalize(st);
    return -1;
}

/* ---- storing and reading ------------------------------------------------------ */

int mk_archive_put(mk_archive *a, const char *data, size_t len, const mk_archive_env *env,
                   long long *id, char *err, size_t errlen)
{
    char sha[MK_SHA256_HEX];
    mk_sha256_hex(data, len, sha);
    size_t stored;
    /* the file first: an index entry never names a file that is not there */
    if (mk_archive_file_write(a->dir, mk_archive_key(a), sha, data, len, &stored, err, errlen) != 0)
        return -1;
    mk_archive_fields f;
    mk_archive_fields_of(data, len, env->parsed, &f);
    time_t arrival = env->arrival ? env->arrival : time(NULL);
    sqlite3_stmt *st = NULL, *row = NULL;
    char *rcpts = NULL, *record = NULL;
    int rc = -1;
    pthread_mutex_lock(&a->lock);
    if (mk_sqlite_exec(a->db, "BEGIN IMMEDIATE", err, errlen) != 0)
        goto out;
    if (sqlite3_prepare_v2(a->db,
                           "INSERT INTO messages(sha256, size, arrival, direction, env_from, "
                           "hdr_from, hdr_to, hdr_cc, subject, date, message_id, attachments, "
                           "retain_until) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                           "?12, ?13)",
                           -1, &st, NULL) != SQLITE_OK)
        goto db_fail;
    const char *vals[] = {f.from, f.to, f.cc, f.subject, f.date, f.message_id, f.attachments};
    sqlite3_bind_text(st, 1, sha, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)len);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)arrival);
    sqlite3_bind_text(st, 4, env->direction ? env->direction : "in", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, env->env_from ? env->env_from : "", -1, SQLITE_STATIC);
    for (int i = 0; i < 7; i++)
        sqlite3_bind_text(st, 6 + i, vals[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 13, (sqlite3_int64)env->retain_until);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto db_fail;
    sqlite3_finalize(st);
    st = NULL;
    *id = sqlite3_last_insert_rowid(a->db);
    if (sqlite3_prepare_v2(a->db, "INSERT INTO rcpts(msg, rcpt) VALUES (?1, ?2)", -1, &st, NULL) !=
        SQLITE_OK)
        goto db_fail;
    for (size_t i = 0; i < env->n_rcpts; i++) {
        char *r = mk_archive_line(env->rcpts[i]);
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, *id);
        sqlite3_bind_text(st, 2, r, -1, SQLITE_TRANSIENT);
        g_free(r);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto db_fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(a->db,
                           "INSERT INTO fulltext(rowid, subject, body, attachments) VALUES (?1, "
                           "?2, ?3, ?4)",
                           -1, &st, NULL) != SQLITE_OK)
        goto db_fail;
    sqlite3_bind_int64(st, 1, *id);
    sqlite3_bind_text(st, 2, f.subject, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, f.body, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, f.attachments, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto db_fail;
    sqlite3_finalize(st);
    st = NULL;
    /* the link: the entry's fields as the index holds them now */
    if (sqlite3_prepare_v2(a->db, "SELECT " MK_ARCHIVE_ROW_COLS " FROM messages WHERE id = ?1", -1,
                           &row, NULL) != SQLITE_OK)
        goto db_fail;
    sqlite3_bind_int64(row, 1, *id);
    if (sqlite3_step(row) != SQLITE_ROW)
        goto db_fail;
    rcpts = mk_archive_rcpts(a->db, *id);
    record = mk_archive_record(row, rcpts, 1);
    if (mk_archive_link(a, "chain", "store", *id, record, err, errlen) != 0 ||
        mk_sqlite_exec(a->db, "COMMIT", err, errlen) != 0)
        goto rollback;
    rc = 0;
    mk_archive_heads(a, 1);
    /* committed: the file goes into place (if that fails, it is read from
     * incoming/ and put in place at the next start) */
    char why[512];
    if (mk_archive_file_settle(a->dir, sha, why, sizeof(why)) != 0)
        mk_log(LOG_WARNING, NULL, "archive: entry %lld: %s", *id, why);
    goto out;
db_fail:
    snprintf(err, errlen, "index: %s", sqlite3_errmsg(a->db));
rollback:
    mk_archive_heads(a, 0);
    sqlite3_finalize(st);
    st = NULL;
    {
        char ignore[64];
        mk_sqlite_exec(a->db, "ROLLBACK", ignore, sizeof(ignore));
    }
out:
    sqlite3_finalize(st);
    sqlite3_finalize(row);
    pthread_mutex_unlock(&a->lock);
    g_free(rcpts);
    g_free(record);
    mk_archive_fields_clear(&f);
    return rc;
}

int mk_archive_get(mk_archive *a, long long id, char **data, size_t *len, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    char sha[MK_SHA256_HEX] = "";
    pthread_mutex_lock(&a->lock);
    if (sqlite3_prepare_v2(a->db, "SELECT sha256 FROM messages WHERE id = ?1", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW)
            g_strlcpy(sha, (const char *)sqlite3_column_text(st, 0), sizeof(sha));
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&a->lock);
    if (sha[0] == '\0') {
        snprintf(err, errlen, "no message %lld in the archive", id);
        return -1;
    }
    if (mk_archive_file_read(a->dir, mk_archive_key(a), sha, data, len, err, errlen) != 0)
        return -1;
    char got[MK_SHA256_HEX];
    mk_sha256_hex(*data, *len, got);
    if (strcmp(got, sha) != 0) {
        snprintf(err, errlen, "message %lld: its file %s was changed (SHA-256 now %s)", id, sha,
                 got);
        g_free(*data);
        *data = NULL;
        return -1;
    }
    return 0;
}

/* ---- verify ---------------------------------------------------------------- */

typedef struct mk_archive_check {
    void (*problem)(void *data, const char *what);
    void *data;
    long n;
    GHashTable *known;    /* SHA -> 1: files the index names */
    long settle, orphans; /* files in incoming/ named by an entry, and not */
} mk_archive_check;

static void mk_archive_say(mk_archive_check *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void mk_archive_say(mk_archive_check *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    c->problem(c->data, s);
    g_free(s);
    c->n++;
}

static void mk_archive_check_file(void *data, const char *sha)
{
    mk_archive_check *c = data;
    if (!g_hash_table_contains(c->known, sha))
        mk_archive_say(c, "file %s: added (no entry of the index names it)", sha);
}

/* Files in incoming/: named by an entry (committed, not moved into place
 * yet) or not (a store interrupted before its commit: the MTA heard
 * tempfail, the file is not part of the archive). Noted, not problems. */
static void mk_archive_check_incoming(void *data, const char *sha)
{
    mk_archive_check *c = data;
    if (g_hash_table_contains(c->known, sha))
        c->settle++;
    else
        c->orphans++;
}

/* What the chain's links say (mk_archive_walk's on_link for "chain"). */
typedef struct mk_archive_walked {
    GHashTable *stored; /* id -> its store record, less the retention */
    GHashTable *retain; /* id -> the retention date its links last set */
    GHashTable *holds;  /* name -> the hold's query, for holds not released (strings of a pool) */
    GHashTable *purged; /* id -> 1 */
} mk_archive_walked;

static void mk_archive_walked_free(mk_archive_walked *w)
{
    g_hash_table_destroy(w->stored);
    g_hash_table_destroy(w->retain);
    g_hash_table_destroy(w->holds);
    g_hash_table_destroy(w->purged);
}

/* The value of "key=" on its own line of a record, or NULL (g_free). */
static char *mk_archive_field(const char *record, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = record; p != NULL && *p != '\0';
         p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
            const char *v = p + klen + 1;
            return g_strndup(v, strcspn(v, "\n"));
        }
    return NULL;
}

static void mk_archive_on_link(void *data, const char *kind, long long msg, const char *record)
{
    mk_archive_walked *w = data;
    long long *k = g_new(long long, 1);
    *k = msg;
    if (strcmp(kind, "store") == 0) {
        const char *r = strstr(record, "retain_until=");
        g_hash_table_replace(w->stored, k,
                             g_strndup(record, r ? (size_t)(r - record) : strlen(record)));
        long long *k2 = g_new(long long, 1), *v = g_new(long long, 1);
        *k2 = msg;
        *v = r ? g_ascii_strtoll(r + 13, NULL, 10) : 0;
        g_hash_table_replace(w->retain, k2, v);
        return;
    }
    if (strcmp(kind, "retain") == 0) {
        char *until = mk_archive_field(record, "retain_until");
        long long *v = g_new(long long, 1);
        *v = until ? g_ascii_strtoll(until, NULL, 10) : 0;
        g_free(until);
        g_hash_table_replace(w->retain, k, v);
        return;
    }
    if (strcmp(kind, "purge") == 0) {
        g_hash_table_remove(w->stored, k);
        g_hash_table_replace(w->purged, k, GINT_TO_POINTER(1));
        return;
    }
    g_free(k);
    char *name = mk_archive_field(record, "name");
    if (name == NULL)
        return;
    if (strcmp(kind, "hold") == 0)
        g_hash_table_replace(w->holds, (gpointer)g_intern_string(name),
                             mk_archive_field(record, "query"));
    else if (strcmp(kind, "release") == 0)
        g_hash_table_remove(w->holds, g_intern_string(name));
    g_free(name);
}

/* Against the head file of table t (the last link known committed): a
 * chain that ends before it lost its newest links; one whose link there
 * differs was rewritten. No head file: nothing to compare with. */
static void mk_archive_check_head(mk_archive *a, int t, const char *what, mk_archive_check *c)
{
    char *path = mk_archive_head_path(a, t), *text = NULL;
    long long seq = 0;
    char hash[MK_SHA256_HEX] = "";
    if (g_file_get_contents(path, &text, NULL, NULL) &&
        sscanf(text, "%lld %64s", &seq, hash) == 2 && seq > 0) {
        sqlite3_stmt *st = NULL;
        char *sql = g_strdup_printf("SELECT hash FROM %s WHERE seq = ?1", t ? "audit" : "chain");
        if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, seq);
            if (sqlite3_step(st) != SQLITE_ROW)
                mk_archive_say(c,
                               "%s: link %lld, its newest committed one, is missing (the "
                               "newest links were deleted)",
                               what, seq);
            else if (strcmp((const char *)sqlite3_column_text(st, 0), hash) != 0)
                mk_archive_say(c, "%s: link %lld is not the one committed (its hash was %s)", what,
                               seq, hash);
        }
        sqlite3_finalize(st);
        g_free(sql);
    }
    g_free(text);
    g_free(path);
}

/* Walks a chain table (the chain, the audit log): each link's hash, its
 * link to the one before, gaps; on_link (or NULL) sees each link. 0, or
 * -1 on a database error. */
static int mk_archive_walk(mk_archive *a, const char *table, mk_archive_check *c,
                           void (*on_link)(void *, const char *, long long, const char *),
                           void *data)
{
    sqlite3_stmt *st = NULL;
    long long expect = 1;
    char prev[MK_SHA256_HEX] = MK_ARCHIVE_GENESIS;
    const char *what = strcmp(table, "audit") == 0 ? "audit log" : "chain";
    char *sql =
        g_strdup_printf("SELECT seq, kind, msg, record, prev, hash FROM %s ORDER BY seq", table);
    int rc = sqlite3_prepare_v2(a->db, sql, -1, &st, NULL);
    g_free(sql);
    if (rc != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        long long seq = sqlite3_column_int64(st, 0);
        const char *kind = (const char *)sqlite3_column_text(st, 1);
        long long msg = sqlite3_column_int64(st, 2);
        const char *record = (const char *)sqlite3_column_text(st, 3);
        const char *lprev = (const char *)sqlite3_column_text(st, 4);
        const char *hash = (const char *)sqlite3_column_text(st, 5);
        if (seq == expect + 1)
            mk_archive_say(c, "%s: link %lld missing (deleted)", what, expect);
        else if (seq > expect + 1)
            mk_archive_say(c, "%s: links %lld to %lld missing (deleted)", what, expect, seq - 1);
        char *text = g_strconcat(lprev, "\n", record, NULL);
        char want[MK_SHA256_HEX];
        mk_sha256_hex(text, strlen(text), want);
        g_free(text);
        if (strcmp(want, hash) != 0)
            mk_archive_say(c,
                           "%s: link %lld (%s, entry %lld) edited: its hash does not match its "
                           "record",
                           what, seq, kind, msg);
        else if (strcmp(lprev, prev) != 0)
            mk_archive_say(c,
                           "%s: link %lld (%s, entry %lld) does not follow link %lld "
                           "(reordered, or a link before it was replaced)",
                           what, seq, kind, msg, seq - 1);
        g_strlcpy(prev, hash, sizeof(prev));
        expect = seq + 1;
        if (on_link != NULL)
            on_link(data, kind, msg, record);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return -1;
    mk_archive_check_head(a, strcmp(table, "audit") == 0, what, c);
    return 0;
}

long mk_archive_verify(mk_archive *a, void (*problem)(void *data, const char *what), void *data,
                       long long *entries, char *err, size_t errlen)
{
    mk_archive_check c = {
        problem, data, 0, g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL), 0, 0};
    /* what the chain says each entry holds: id -> its store record (less
     * the retention), and the retention date it last set */
    GHashTable *stored = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    GHashTable *retain = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    sqlite3_stmt *st = NULL;
    *entries = 0;
    mk_archive_walked w = {stored, retain,
                           g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free),
                           g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL)};
    if (mk_archive_walk(a, "chain", &c, mk_archive_on_link, &w) != 0 ||
        mk_archive_walk(a, "audit", &c, NULL, NULL) != 0)
        goto db_fail;
    int step;
    /* every entry of the index against its link, every file against its hash */
    if (sqlite3_prepare_v2(a->db, "SELECT " MK_ARCHIVE_ROW_COLS " FROM messages ORDER BY id", -1,
                           &st, NULL) != SQLITE_OK)
        goto db_fail;
    GHashTable *files_ok = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(st, 0);
        const char *sha = (const char *)sqlite3_column_text(st, 1);
        (*entries)++;
        char *rcpts = mk_archive_rcpts(a->db, id);
        char *record = mk_archive_record(st, rcpts, 0);
        const char *linked = g_hash_table_lookup(stored, &id);
        const long long *until = g_hash_table_lookup(retain, &id);
        if (linked == NULL && g_hash_table_contains(w.purged, &id))
            mk_archive_say(&c, "message %lld: purged in the chain, still in the index", id);
        else if (linked == NULL)
            mk_archive_say(&c, "message %lld: added to the index outside the chain", id);
        else if (strcmp(linked, record) != 0)
            mk_archive_say(&c,
                           "message %lld: its index entry was edited (it differs from its "
                           "link in the chain)",
                           id);
        else if (until != NULL && *until != sqlite3_column_int64(st, 13))
            mk_archive_say(&c, "message %lld: its retention date was edited", id);
        g_hash_table_remove(stored, &id);
        g_free(rcpts);
        g_free(record);
        g_hash_table_replace(c.known, g_strdup(sha), GINT_TO_POINTER(1));
        if (g_hash_table_contains(files_ok, sha))
            continue;
        char *content = NULL;
        size_t len = 0;
        char why[512];
        if (mk_archive_file_read(a->dir, mk_archive_key(a), sha, &content, &len, why,
                                 sizeof(why)) != 0) {
            mk_archive_say(&c, "message %lld: file %s %s", id, sha,
                           errno == ENOENT ? "missing" : "changed (it no longer reads as zstd)");
        } else {
            char got[MK_SHA256_HEX];
            mk_sha256_hex(content, len, got);
            if (strcmp(got, sha) != 0)
                mk_archive_say(&c, "message %lld: file %s changed (its content hashes to %s)", id,
                               sha, got);
        }
        g_free(content);
        g_hash_table_replace(files_ok, g_strdup(sha), GINT_TO_POINTER(1));
    }
    g_hash_table_destroy(files_ok);
    if (step != SQLITE_DONE)
        goto db_fail;
    sqlite3_finalize(st);
    st = NULL;
    /* links whose entry is gone */
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, stored);
    while (g_hash_table_iter_next(&it, &k, NULL))
        mk_archive_say(&c, "message %lld: deleted from the index (its link is in the chain)",
                       *(long long *)k);
    /* the holds in force: as the chain set them */
    if (sqlite3_prepare_v2(a->db, "SELECT name, query FROM holds", -1, &st, NULL) != SQLITE_OK)
        goto db_fail;
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = g_intern_string((const char *)sqlite3_column_text(st, 0));
        const char *query = (const char *)sqlite3_column_text(st, 1);
        const char *linked_query = g_hash_table_lookup(w.holds, name);
        g_hash_table_add(seen, (gpointer)name);
        if (!g_hash_table_contains(w.holds, name))
            mk_archive_say(&c, "hold %s: added outside the chain", name);
        else if (linked_query == NULL || strcmp(linked_query, query) != 0)
            mk_archive_say(&c, "hold %s: its query was edited", name);
    }
    sqlite3_finalize(st);
    st = NULL;
    g_hash_table_iter_init(&it, w.holds);
    while (g_hash_table_iter_next(&it, &k, NULL))
        if (!g_hash_table_contains(seen, k))
            mk_archive_say(&c, "hold %s: removed outside the chain (it was never released)",
                           (const char *)k);
    g_hash_table_destroy(seen);
    mk_archive_file_each(a->dir, 0, mk_archive_check_file, &c);
    mk_archive_file_each(a->dir, 1, mk_archive_check_incoming, &c);
    if (c.settle > 0 || c.orphans > 0) {
        char *note = g_strdup_printf("note: incoming/ holds %ld file(s) of committed entries (put "
                                     "in place at the next start) and %ld of stores interrupted "
                                     "before their commit (not part of the archive; the MTA was "
                                     "told to retry)",
                                     c.settle, c.orphans);
        problem(data, note);
        g_free(note);
    }
    mk_archive_walked_free(&w);
    g_hash_table_destroy(c.known);
    return c.n;
db_fail:
    snprintf(err, errlen, "index: %s", sqlite3_errmsg(a->db));
    sqlite3_finalize(st);
    mk_archive_walked_free(&w);
    g_hash_table_destroy(c.known);
    return -1;
}

int mk_archive_get_stats(mk_archive *a, mk_archive_stats *s)
{
    memset(s, 0, sizeof(*s));
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(a->db,
                           "SELECT count(*), count(DISTINCT sha256), coalesce(sum(size), 0), "
                           "coalesce(min(arrival), 0), coalesce(max(arrival), 0) FROM messages",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        s->entries = sqlite3_column_int64(st, 0);
        s->files = sqlite3_column_int64(st, 1);
        s->bytes = sqlite3_column_int64(st, 2);
        s->first = (time_t)sqlite3_column_int64(st, 3);
        s->last = (time_t)sqlite3_column_int64(st, 4);
        rc = 0;
    }
    sqlite3_finalize(st);
    if (rc == 0 && sqlite3_prepare_v2(a->db, "SELECT DISTINCT sha256 FROM messages", -1, &st,
                                      NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            char *path = mk_archive_file_path(a->dir, (const char *)sqlite3_column_text(st, 0));
            struct stat sb;
            if (stat(path, &sb) == 0)
                s->stored_bytes += sb.st_size;
            g_free(path);
        }
        sqlite3_finalize(st);
    }
    return rc;
}
