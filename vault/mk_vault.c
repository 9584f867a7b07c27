/*
 * mk_vault: the vault store (see mk_vault.h).
 *
 * Keys: the link's secret S (32 random bytes) gives, by HKDF-SHA256 with
 * the salt "mailkeeper-vault-1", the message key (info "message") and the
 * metadata key (info "meta"); each sealed blob binds the id as associated
 * data, so a blob moved to another row does not open. The id is SHA-256(S)
 * in hex; the sender's revoke token R (32 random bytes) is kept as
 * SHA-256(R). Metadata is a GVariant "(sssasx)", sealed.
 */
#include "config.h"

#include "mk_vault.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mk_crypto.h"
#include "mk_io.h"
#include "mk_sqlite.h"
#include "mk_vault_int.h"

#define MK_VAULT_SALT     "mailkeeper-vault-1"
#define MK_VAULT_META     "(sssasx)"  /* the type */
#define MK_VAULT_META_FMT "(sss^asx)" /* its format string, strv for the list */

static const char *const mk_vault_steps[] = {
    "CREATE TABLE messages ("
    " id TEXT PRIMARY KEY," /* SHA-256 of the link's secret, hex */
    " created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0,"
    " deleted INTEGER NOT NULL DEFAULT 0," /* content gone */
    " revoke_hash TEXT NOT NULL,"          /* SHA-256 of the sender's revoke token, hex */
    " size INTEGER NOT NULL,"
    " meta BLOB)" /* sealed; NULL once deleted */
    ";"
    "CREATE INDEX messages_expires ON messages(expires) WHERE deleted = 0",
    /* 2: the reader's one-time codes and sessions (mk_vault_auth.c) */
    "CREATE TABLE codes ("
    " msg TEXT NOT NULL,"
    " who TEXT NOT NULL," /* HMAC of the address under the link's key */
    " code_hash TEXT,"    /* HMAC of address and code; NULL once used */
    " expires INTEGER NOT NULL DEFAULT 0,"
    " fails INTEGER NOT NULL DEFAULT 0,"
    " locked_until INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (msg, who));"
    "CREATE TABLE sessions ("
    " token_hash TEXT PRIMARY KEY," /* SHA-256 of the cookie's token */
    " msg TEXT NOT NULL,"
    " who BLOB NOT NULL," /* the address, sealed under the link's key */
    " created INTEGER NOT NULL,"
    " seen INTEGER NOT NULL);"
    "CREATE INDEX sessions_msg ON sessions(msg)",
};
static const mk_sqlite_schema mk_vault_schema = {mk_vault_steps, G_N_ELEMENTS(mk_vault_steps)};

void mk_vault_meta_free(mk_vault_meta *meta)
{
    if (meta == NULL)
        return;
    g_free(meta->sender);
    g_free(meta->from);
    g_free(meta->subject);
    g_strfreev(meta->rcpts);
    g_free(meta);
}

mk_vault *mk_vault_open(const char *dir, int create, char *err, size_t errlen)
{
    if (create && g_mkdir_with_parents(dir, 0770) != 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return NULL;
    }
    char *path = g_build_filename(dir, "vault.db", NULL);
    sqlite3 *db = mk_sqlite_open(path, create ? MK_SQLITE_CREATE : MK_SQLITE_RW, &mk_vault_schema,
                                 err, errlen);
    g_free(path);
    if (db == NULL)
        return NULL;
    mk_vault *v = g_new0(mk_vault, 1);
    v->dir = g_strdup(dir);
    v->db = db;
    pthread_mutex_init(&v->lock, NULL);
    return v;
}

char *mk_vault_config_dir(const mk_config *cfg)
{
    if (cfg->vault_dir[0] == '/')
        return g_strdup(cfg->vault_dir);
    return g_build_filename(cfg->state_dir, cfg->vault_dir, NULL);
}

mk_vault *mk_vault_open_config(const mk_config *cfg, int create, char *err, size_t errlen)
{
    char *dir = mk_vault_config_dir(cfg);
    mk_vault *v = mk_vault_open(dir, create, err, errlen);
    g_free(dir);
    return v;
}

void mk_vault_close(mk_vault *v)
{
    if (v == NULL)
        return;
    sqlite3_close_v2(v->db);
    pthread_mutex_destroy(&v->lock);
    g_free(v->dir);
    g_free(v);
}

/* The two keys of a secret. */
static int mk_vault_keys(const unsigned char secret[MK_VAULT_SECRET], unsigned char msg_key[32],
                         unsigned char meta_key[32])
{
    return mk_hkdf_sha256(secret, MK_VAULT_SECRET, MK_VAULT_SALT, "message", msg_key, 32) == 0 &&
                   mk_hkdf_sha256(secret, MK_VAULT_SECRET, MK_VAULT_SALT, "meta", meta_key, 32) == 0
               ? 0
               : -1;
}

int mk_vault_link_secret(const char *link, unsigned char secret[MK_VAULT_SECRET])
{
    if (link == NULL || strlen(link) != MK_VAULT_LINK - 1)
        return -1;
    return mk_b64url_decode(link, secret, MK_VAULT_SECRET) == MK_VAULT_SECRET ? 0 : -1;
}

int mk_vault_link_id(const char *link, char id[MK_VAULT_ID])
{
    unsigned char secret[MK_VAULT_SECRET];
    if (mk_vault_link_secret(link, secret) != 0)
        return -1;
    mk_sha256_hex(secret, sizeof(secret), id);
    OPENSSL_cleanse(secret, sizeof(secret));
    return 0;
}

/* The message file of id. g_free() it. */
static char *mk_vault_file(const mk_vault *v, const char *id)
{
    char sub[3] = {id[0], id[1], '\0'};
    char *name = g_strconcat(id, ".mkv", NULL);
    char *path = g_build_filename(v->dir, sub, name, NULL);
    g_free(name);
    return path;
}

/* Writes data into path: a temporary file, synced, renamed, the directory
 * synced. 0, or -1 with why. */
static int mk_vault_write_file(const char *path, const void *data, size_t len, char *err,
                               size_t errlen)
{
    char *dir = g_path_get_dirname(path);
    char *tmp = g_strconcat(path, ".tmp", NULL);
    int rc = -1, fd = -1;
    if (g_mkdir_with_parents(dir, 0770) != 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0 || mk_io_write_full(fd, data, len) != 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "%s: %s", tmp, errno ? strerror(errno) : "nothing written");
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    g_free(tmp);
    g_free(dir);
    return rc;
}

int mk_vault_put(mk_vault *v, const mk_vault_meta *meta, const void *msg, size_t len, gint64 now,
                 gint64 expires, char link[MK_VAULT_LINK], char revoke[MK_VAULT_LINK],
                 char id[MK_VAULT_ID], char *err, size_t errlen)
{
    unsigned char secret[MK_VAULT_SECRET], token[MK_VAULT_SECRET], mkey[32], ikey[32];
    char token_hash[MK_SHA256_HEX];
    if (mk_random_bytes(secret, sizeof(secret)) != 0 ||
        mk_random_bytes(token, sizeof(token)) != 0 || mk_vault_keys(secret, mkey, ikey) != 0) {
        snprintf(err, errlen, "the random generator or HKDF failed");
        return -1;
    }
    mk_b64url_encode(secret, sizeof(secret), link);
    mk_b64url_encode(token, sizeof(token), revoke);
    mk_sha256_hex(secret, sizeof(secret), id);
    mk_sha256_hex(token, sizeof(token), token_hash);
    /* the metadata, sealed */
    const char *const empty[] = {NULL};
    GVariant *mv = g_variant_ref_sink(g_variant_new(
        MK_VAULT_META_FMT, meta->sender ? meta->sender : "", meta->from ? meta->from : "",
        meta->subject ? meta->subject : "",
        (const char *const *)(meta->rcpts ? (const char *const *)meta->rcpts : empty), meta->date));
    gsize mlen = g_variant_get_size(mv);
    unsigned char *sealed_meta = g_malloc(mlen + MK_GCM_OVERHEAD);
    long slen = mk_gcm_seal(ikey, id, strlen(id), g_variant_get_data(mv), mlen, sealed_meta);
    g_variant_unref(mv);
    unsigned char *sealed = g_malloc(len + MK_GCM_OVERHEAD);
    long blen = mk_gcm_seal(mkey, id, strlen(id), msg, len, sealed);
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(mkey, sizeof(mkey));
    OPENSSL_cleanse(ikey, sizeof(ikey));
    int rc = -1;
    if (slen < 0 || blen < 0) {
        snprintf(err, errlen, "AES-256-GCM failed");
        goto out;
    }
    char *path = mk_vault_file(v, id);
    rc = mk_vault_write_file(path, sealed, (size_t)blen, err, errlen);
    if (rc == 0) {
        pthread_mutex_lock(&v->lock);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(
                v->db,
                "INSERT INTO messages(id, created, expires, revoke_hash, size, meta) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                -1, &st, NULL) != SQLITE_OK) {
            rc = -1;
        } else {
            sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, now);
            sqlite3_bind_int64(st, 3, expires);
            sqlite3_bind_text(st, 4, token_hash, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 5, blen);
            sqlite3_bind_blob(st, 6, sealed_meta, (int)slen, SQLITE_STATIC);
            rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        }
        if (rc != 0)
            snprintf(err, errlen, "vault.db: %s", sqlite3_errmsg(v->db));
        sqlite3_finalize(st);
        pthread_mutex_unlock(&v->lock);
        if (rc != 0)
            unlink(path);
    }
    g_free(path);
out:
    g_free(sealed);
    g_free(sealed_meta);
    return rc;
}

/* Reads a whole file; NULL with why. */
static unsigned char *mk_vault_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    gchar *data = NULL;
    gsize n = 0;
    GError *e = NULL;
    if (!g_file_get_contents(path, &data, &n, &e)) {
        snprintf(err, errlen, "%s", e->message);
        g_error_free(e);
        return NULL;
    }
    *len = n;
    return (unsigned char *)data;
}

/* Opens the sealed metadata of id; NULL when it does not open. */
static mk_vault_meta *mk_vault_open_meta(const unsigned char key[32], const char *id,
                                         const void *blob, size_t len)
{
    if (len < MK_GCM_OVERHEAD)
        return NULL;
    unsigned char *plain = g_malloc(len);
    long n = mk_gcm_open(key, id, strlen(id), blob, len, plain);
    mk_vault_meta *meta = NULL;
    if (n >= 0) {
        GVariant *mv = g_variant_ref_sink(g_variant_new_from_data(
            G_VARIANT_TYPE(MK_VAULT_META), plain, (gsize)n, FALSE, NULL, NULL));
        if (g_variant_is_normal_form(mv)) {
            meta = g_new0(mk_vault_meta, 1);
            g_variant_get(mv, MK_VAULT_META_FMT, &meta->sender, &meta->from, &meta->subject,
                          &meta->rcpts, &meta->date);
        }
        g_variant_unref(mv);
    }
    OPENSSL_cleanse(plain, len);
    g_free(plain);
    return meta;
}

mk_vault_status mk_vault_get(mk_vault *v, const char *link, gint64 now, mk_vault_meta **meta,
                             char **msg, size_t *len, char *err, size_t errlen)
{
    *meta = NULL;
    if (msg != NULL) {
        *msg = NULL;
        *len = 0;
    }
    unsigned char secret[MK_VAULT_SECRET], mkey[32], ikey[32];
    if (mk_vault_link_secret(link, secret) != 0)
        return MK_VAULT_NOT_FOUND;
    char id[MK_VAULT_ID];
    mk_sha256_hex(secret, sizeof(secret), id);
    int keyed = mk_vault_keys(secret, mkey, ikey);
    OPENSSL_cleanse(secret, sizeof(secret));
    if (keyed != 0) {
        snprintf(err, errlen, "HKDF failed");
        return MK_VAULT_ERROR;
    }
    mk_vault_status status = MK_VAULT_ERROR;
    pthread_mutex_lock(&v->lock);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(v->db,
                           "SELECT expires, revoked, deleted, meta FROM messages WHERE id = ?1", -1,
                           &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "vault.db: %s", sqlite3_errmsg(v->db));
        goto unlock;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        status = MK_VAULT_NOT_FOUND;
    } else if (step != SQLITE_ROW) {
        snprintf(err, errlen, "vault.db: %s", sqlite3_errmsg(v->db));
    } else if (sqlite3_column_int64(st, 1) != 0) {
        status = MK_VAULT_REVOKED;
    } else if (sqlite3_column_int64(st, 0) <= now || sqlite3_column_int64(st, 2) != 0) {
        status = MK_VAULT_EXPIRED;
    } else {
        *meta = mk_vault_open_meta(ikey, id, sqlite3_column_blob(st, 3),
                                   (size_t)sqlite3_column_bytes(st, 3));
        if (*meta == NULL) {
            snprintf(err, errlen, "message %.16s: its metadata does not open", id);
        } else {
            status = MK_VAULT_OK;
        }
    }
unlock:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&v->lock);
    if (status == MK_VAULT_OK && msg != NULL) {
        char *path = mk_vault_file(v, id);
        size_t blen = 0;
        unsigned char *blob = mk_vault_read_file(path, &blen, err, errlen);
        g_free(path);
        char *plain = blob != NULL && blen >= MK_GCM_OVERHEAD ? g_malloc(blen + 1) : NULL;
        long n = plain != NULL
                     ? mk_gcm_open(mkey, id, strlen(id), blob, blen, (unsigned char *)plain)
                     : -1;
        g_free(blob);
        if (n < 0) {
            if (blob != NULL)
                snprintf(err, errlen, "message %.16s: its file does not open", id);
            g_free(plain);
            mk_vault_meta_free(*meta);
            *meta = NULL;
            status = MK_VAULT_ERROR;
        } else {
            plain[n] = '\0';
            *msg = plain;
            *len = (size_t)n;
        }
    }
    OPENSSL_cleanse(mkey, sizeof(mkey));
    OPENSSL_cleanse(ikey, sizeof(ikey));
    return status;
}

/* Deletes the content of id (its file, its metadata), with the lock held,
 * marking it revoked (revoked) or only deleted (expired) at now. 0 or -1. */
static int mk_vault_drop(mk_vault *v, const char *id, int revoked, gint64 now)
{
    sqlite3_stmt *st = NULL;
    const char *sql = revoked ? "UPDATE messages SET revoked = ?2, deleted = ?2, meta = NULL "
                                "WHERE id = ?1 AND revoked = 0"
                              : "UPDATE messages SET deleted = ?2, meta = NULL WHERE id = ?1";
    if (sqlite3_prepare_v2(v->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    for (int i = 0; i < 2 && rc == 0; i++) { /* its codes and sessions end too */
        st = NULL;
        if (sqlite3_prepare_v2(v->db,
                               i == 0 ? "DELETE FROM codes WHERE msg = ?1"
                                      : "DELETE FROM sessions WHERE msg = ?1",
                               -1, &st, NULL) != SQLITE_OK)
            rc = -1;
        else {
            sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
            rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        }
        sqlite3_finalize(st);
    }
    if (rc == 0) {
        char *path = mk_vault_file(v, id);
        if (unlink(path) != 0 && errno != ENOENT)
            rc = -1;
        g_free(path);
    }
    return rc;
}

mk_vault_status mk_vault_revoke(mk_vault *v, const char *id, const char *link, const char *token,
                                gint64 now, char *err, size_t errlen)
{
    char lid[MK_VAULT_ID], want[MK_SHA256_HEX] = "";
    if (id == NULL) {
        unsigned char t[MK_VAULT_SECRET];
        if (mk_vault_link_id(link, lid) != 0 || token == NULL ||
            strlen(token) != MK_VAULT_LINK - 1 ||
            mk_b64url_decode(token, t, sizeof(t)) != MK_VAULT_SECRET)
            return MK_VAULT_NOT_FOUND;
        mk_sha256_hex(t, sizeof(t), want);
        id = lid;
    }
    mk_vault_status status = MK_VAULT_ERROR;
    pthread_mutex_lock(&v->lock);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(v->db, "SELECT revoke_hash, revoked FROM messages WHERE id = ?1", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE || (step == SQLITE_ROW && *want &&
                                    strcmp((const char *)sqlite3_column_text(st, 0), want) != 0))
            status = MK_VAULT_NOT_FOUND;
        else if (step == SQLITE_ROW && sqlite3_column_int64(st, 1) != 0)
            status = MK_VAULT_OK;
        else if (step == SQLITE_ROW) {
            sqlite3_finalize(st);
            st = NULL;
            status = mk_vault_drop(v, id, 1, now) == 0 ? MK_VAULT_OK : MK_VAULT_ERROR;
        }
    }
    if (status == MK_VAULT_ERROR)
        snprintf(err, errlen, "vault.db: %s", sqlite3_errmsg(v->db));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&v->lock);
    return status;
}

int mk_vault_purge(mk_vault *v, gint64 now, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    pthread_mutex_lock(&v->lock);
    GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(v->db, "SELECT id FROM messages WHERE deleted = 0 AND expires <= ?1", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, now);
        while (sqlite3_step(st) == SQLITE_ROW)
            g_ptr_array_add(ids, g_strdup((const char *)sqlite3_column_text(st, 0)));
        rc = 0;
    }
    sqlite3_finalize(st);
    for (guint i = 0; i < ids->len && rc == 0; i++) {
        rc = mk_vault_drop(v, ids->pdata[i], 0, now);
        if (rc == 0)
            (*n)++;
    }
    if (rc != 0)
        snprintf(err, errlen, "vault: %s", sqlite3_errmsg(v->db));
    pthread_mutex_unlock(&v->lock);
    g_ptr_array_free(ids, TRUE);
    return rc;
}

int mk_vault_list(mk_vault *v, int (*fn)(void *data, const mk_vault_row *row), void *data,
                  char *err, size_t errlen)
{
    pthread_mutex_lock(&v->lock);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(v->db,
                           "SELECT id, created, expires, revoked, deleted, size FROM messages "
                           "ORDER BY created, id",
                           -1, &st, NULL) == SQLITE_OK) {
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            mk_vault_row row = {.id = (const char *)sqlite3_column_text(st, 0),
                                .created = sqlite3_column_int64(st, 1),
                                .expires = sqlite3_column_int64(st, 2),
                                .revoked = sqlite3_column_int64(st, 3),
                                .deleted = sqlite3_column_int64(st, 4),
                                .size = sqlite3_column_int64(st, 5)};
            if (fn(data, &row) != 0)
                break;
        }
        rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -1;
    }
    if (rc != 0)
        snprintf(err, errlen, "vault.db: %s", sqlite3_errmsg(v->db));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&v->lock);
    return rc;
}
