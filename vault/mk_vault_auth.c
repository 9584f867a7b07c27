/*
 * mk_vault_auth: the reader's one-time codes and sessions (see mk_vault.h).
 *
 * From the link's secret S come, by HKDF-SHA256, the auth key A (info
 * "auth") and the session key K (info "session"). A recipient is named by
 * HMAC(A, address) and a code kept as HMAC(A, address "\n" code): without
 * the link, the rows name nobody and the codes cannot be tried offline. A
 * session's row holds SHA-256 of the cookie's token and the recipient's
 * address sealed under K with the token's hash bound to it.
 */
#include "config.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mk_crypto.h"
#include "mk_vault_int.h"

/* A session's last use is written when it moved on this many seconds: the
 * idle limit is kept to within them, and reading a page writes nothing. */
#define MK_VAULT_SEEN_STEP 15

/* The auth and session keys of link and its message id; 0, or -1 when
 * link is no link. */
static int mk_vault_auth_keys(const char *link, char id[MK_VAULT_ID], unsigned char akey[32],
                              unsigned char skey[32])
{
    unsigned char secret[MK_VAULT_SECRET];
    if (mk_vault_link_secret(link, secret) != 0)
        return -1;
    mk_sha256_hex(secret, sizeof(secret), id);
    int rc = mk_hkdf_sha256(secret, sizeof(secret), MK_VAULT_SALT, "auth", akey, 32) == 0 &&
                     mk_hkdf_sha256(secret, sizeof(secret), MK_VAULT_SALT, "session", skey, 32) == 0
                 ? 0
                 : -1;
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}

/* HMAC(akey, addr lower-cased [+ "\n" + code]) in hex. */
static void mk_vault_auth_mac(const unsigned char akey[32], const char *addr, const char *code,
                              char out[MK_SHA256_HEX])
{
    char *lower = g_ascii_strdown(addr, -1);
    char *text = code != NULL ? g_strconcat(lower, "\n", code, NULL) : g_strdup(lower);
    unsigned char mac[32];
    mk_hmac_sha256(akey, 32, text, strlen(text), mac);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
    g_free(text);
    g_free(lower);
}

/* The message's state, and whether addr is one of its recipients. */
static mk_vault_status mk_vault_auth_recipient(mk_vault *v, const char *link, const char *addr,
                                               gint64 now, int *is_rcpt, char *err, size_t errlen)
{
    mk_vault_meta *meta = NULL;
    mk_vault_status st = mk_vault_get(v, link, now, &meta, NULL, NULL, err, errlen);
    *is_rcpt = 0;
    if (st == MK_VAULT_OK)
        for (char **r = meta->rcpts; r != NULL && *r != NULL && !*is_rcpt; r++)
            *is_rcpt = g_ascii_strcasecmp(*r, addr) == 0;
    mk_vault_meta_free(meta);
    return st;
}

/* What a code's making and checking share: the message's state, whether
 * addr is a recipient, the id and keys of link, and addr's name on disk
 * (who). Anything but MK_VAULT_OK: stop with it. */
static mk_vault_status mk_vault_auth_begin(mk_vault *v, const char *link, const char *addr,
                                           gint64 now, int *is_rcpt, char id[MK_VAULT_ID],
                                           unsigned char akey[32], unsigned char skey[32],
                                           char who[MK_SHA256_HEX], char *err, size_t errlen)
{
    mk_vault_status st = mk_vault_auth_recipient(v, link, addr, now, is_rcpt, err, errlen);
    if (st != MK_VAULT_OK)
        return st;
    if (mk_vault_auth_keys(link, id, akey, skey) != 0)
        return MK_VAULT_NOT_FOUND;
    mk_vault_auth_mac(akey, addr, NULL, who);
    return MK_VAULT_OK;
}

/* Runs sql with text/integer parameters ("t" or "i" per char of types);
 * 0 or -1. With the lock held. */
static int mk_vault_auth_exec(mk_vault *v, const char *sql, const char *types, ...)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(v->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    va_list ap;
    va_start(ap, types);
    for (int i = 0; types[i]; i++) {
        if (types[i] == 't')
            sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_int64(st, i + 1, va_arg(ap, gint64));
    }
    va_end(ap);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

mk_vault_status mk_vault_code_new(mk_vault *v, const char *link, const char *addr, gint64 now,
                                  const mk_vault_auth_policy *pol, char code[MK_VAULT_CODE],
                                  char *err, size_t errlen)
{
    int is_rcpt;
    char id[MK_VAULT_ID], who[MK_SHA256_HEX], hash[MK_SHA256_HEX];
    unsigned char akey[32], skey[32];
    mk_vault_status st =
        mk_vault_auth_begin(v, link, addr, now, &is_rcpt, id, akey, skey, who, err, errlen);
    if (st != MK_VAULT_OK)
        return st;
    /* 8 digits, uniform: 4,200,000,000 is 42 times 10^8 */
    guint32 r;
    do {
        if (mk_random_bytes(&r, sizeof(r)) != 0) {
            snprintf(err, errlen, "the random generator failed");
            return MK_VAULT_ERROR;
        }
    } while (r >= 4200000000u);
    snprintf(code, MK_VAULT_CODE, "%08u", r % 100000000u);
    mk_vault_auth_mac(akey, addr, code, hash);
    OPENSSL_cleanse(akey, sizeof(akey));
    OPENSSL_cleanse(skey, sizeof(skey));
    pthread_mutex_lock(&v->lock);
    gint64 locked = 0;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(v->db, "SELECT locked_until FROM codes WHERE msg = ?1 AND who = ?2", -1,
                           &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, who, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW)
            locked = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    if (locked > now) {
        st = MK_VAULT_LOCKED; /* told to anyone: strangers are locked out the same */
    } else if (!is_rcpt) {
        st = MK_VAULT_NOT_FOUND;
    } else if (mk_vault_auth_exec(v,
                                  "INSERT INTO codes(msg, who, code_hash, expires) "
                                  "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(msg, who) DO UPDATE "
                                  "SET code_hash = ?3, expires = ?4",
                                  "ttti", id, who, hash, now + pol->code_ttl_s) != 0) {
        snprintf(err, errlen, "vault.db: %s", sqlite3_errmsg(v->db));
        st = MK_VAULT_ERROR;
    }
    pthread_mutex_unlock(&v->lock);
    if (st != MK_VAULT_OK)
        memset(code, 0, MK_VAULT_CODE);
    return st;
}

/* A new session of addr on message id: its token into token. With the
 * lock held. 0 or -1. */
static int mk_vault_session_new(mk_vault *v, const char *id, const unsigned char skey[32],
                                const char *addr, gint64 now, char token[MK_VAULT_LINK])
{
    unsigned char raw[32];
    if (mk_random_bytes(raw, sizeof(raw)) != 0)
        return -1;
    char token_hash[MK_SHA256_HEX];
    mk_sha256_hex(raw, sizeof(raw), token_hash);
    mk_b64url_encode(raw, sizeof(raw), token);
    OPENSSL_cleanse(raw, sizeof(raw));
    size_t alen = strlen(addr);
    unsigned char *sealed = g_malloc(alen + MK_GCM_OVERHEAD);
    long slen = mk_gcm_seal(skey, token_hash, strlen(token_hash), addr, alen, sealed);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (slen > 0 && sqlite3_prepare_v2(v->db,
                                       "INSERT INTO sessions(token_hash, msg, who, created, seen) "
                                       "VALUES (?1, ?2, ?3, ?4, ?4)",
                                       -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, token_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, sealed, (int)slen, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    }
    sqlite3_finalize(st);
    g_free(sealed);
    return rc;
}

mk_vault_status mk_vault_code_check(mk_vault *v, const char *link, const char *addr,
                                    const char *code, gint64 now, const mk_vault_auth_policy *pol,
                                    char token[MK_VAULT_LINK], char *err, size_t errlen)
{
    token[0] = '\0';
    /* an address that is no recipient is counted and locked out the same,
     * so that no answer tells who is one */
    int is_rcpt;
    char id[MK_VAULT_ID], who[MK_SHA256_HEX], hash[MK_SHA256_HEX];
    unsigned char akey[32], skey[32];
    mk_vault_status st =
        mk_vault_auth_begin(v, link, addr, now, &is_rcpt, id, akey, skey, who, err, errlen);
    if (st != MK_VAULT_OK)
        return st;
    int well_formed = strlen(code) == 8 && strspn(code, "0123456789") == 8;
    mk_vault_auth_mac(akey, addr, well_formed ? code : "", hash);
    pthread_mutex_lock(&v->lock);
    sqlite3_stmt *q = NULL;
    gint64 expires = 0, locked = 0, fails = 0;
    char *stored = NULL;
    if (sqlite3_prepare_v2(v->db,
                           "SELECT code_hash, expires, fails, locked_until FROM codes "
                           "WHERE msg = ?1 AND who = ?2",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, who, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW) {
            if (sqlite3_column_type(q, 0) == SQLITE_TEXT)
                stored = g_strdup((const char *)sqlite3_column_text(q, 0));
            expires = sqlite3_column_int64(q, 1);
            fails = sqlite3_column_int64(q, 2);
            locked = sqlite3_column_int64(q, 3);
        }
    }
    sqlite3_finalize(q);
    int good = is_rcpt && well_formed && stored != NULL && expires > now &&
               strlen(stored) == strlen(hash) && CRYPTO_memcmp(stored, hash, strlen(hash)) == 0;
    if (locked > now) {
        st = MK_VAULT_LOCKED;
    } else if (good) {
        /* used up; the session begins */
        if (mk_vault_auth_exec(v,
                               "UPDATE codes SET code_hash = NULL, fails = 0 "
                               "WHERE msg = ?1 AND who = ?2",
                               "tt", id, who) != 0 ||
            mk_vault_session_new(v, id, skey, addr, now, token) != 0) {
            snprintf(err, errlen, "vault.db: %s", sqlite3_errmsg(v->db));
            st = MK_VAULT_ERROR;
        }
    } else if (fails + 1 >= pol->max_fails) {
        st = MK_VAULT_LOCKED;
        mk_vault_auth_exec(
            v,
            "INSERT INTO codes(msg, who, fails, locked_until) VALUES (?1, ?2, 0, ?3) "
            "ON CONFLICT(msg, who) DO UPDATE SET code_hash = NULL, fails = 0, "
            "locked_until = ?3",
            "tti", id, who, now + pol->lockout_s);
    } else {
        st = MK_VAULT_BAD_CODE;
        mk_vault_auth_exec(v,
                           "INSERT INTO codes(msg, who, fails) VALUES (?1, ?2, 1) "
                           "ON CONFLICT(msg, who) DO UPDATE SET fails = fails + 1",
                           "tt", id, who);
    }
    pthread_mutex_unlock(&v->lock);
    g_free(stored);
    OPENSSL_cleanse(akey, sizeof(akey));
    OPENSSL_cleanse(skey, sizeof(skey));
    return st;
}

mk_vault_status mk_vault_session(mk_vault *v, const char *link, const char *token, gint64 now,
                                 const mk_vault_auth_policy *pol, char **addr, char *err,
                                 size_t errlen)
{
    *addr = NULL;
    unsigned char raw[32], akey[32], skey[32];
    char id[MK_VAULT_ID], token_hash[MK_SHA256_HEX];
    if (token == NULL || strlen(token) != MK_VAULT_LINK - 1 ||
        mk_b64url_decode(token, raw, sizeof(raw)) != 32)
        return MK_VAULT_NO_SESSION;
    mk_sha256_hex(raw, sizeof(raw), token_hash);
    if (mk_vault_auth_keys(link, id, akey, skey) != 0)
        return MK_VAULT_NOT_FOUND;
    mk_vault_status st = MK_VAULT_NO_SESSION;
    int timed_out = 0;
    gint64 last_seen = 0;
    pthread_mutex_lock(&v->lock);
    sqlite3_stmt *q = NULL;
    /* the message's expiry comes along: revoking or purging it ended its
     * sessions already, an expired one not yet purged has them still */
    if (sqlite3_prepare_v2(v->db,
                           "SELECT s.msg, s.who, s.created, s.seen, m.expires FROM sessions s "
                           "JOIN messages m ON m.id = s.msg WHERE s.token_hash = ?1",
                           -1, &q, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "vault.db: %s", sqlite3_errmsg(v->db));
        st = MK_VAULT_ERROR;
    } else {
        sqlite3_bind_text(q, 1, token_hash, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW &&
            strcmp((const char *)sqlite3_column_text(q, 0), id) == 0) {
            gint64 created = sqlite3_column_int64(q, 2), seen = sqlite3_column_int64(q, 3);
            last_seen = seen;
            timed_out = now - seen > pol->idle_s || now - created > pol->absolute_s;
            if (sqlite3_column_int64(q, 4) <= now) {
                st = MK_VAULT_EXPIRED;
            } else if (!timed_out) {
                int blen = sqlite3_column_bytes(q, 1);
                char *plain = g_malloc((size_t)blen + 1);
                long n =
                    mk_gcm_open(skey, token_hash, strlen(token_hash), sqlite3_column_blob(q, 1),
                                (size_t)blen, (unsigned char *)plain);
                if (n >= 0) {
                    plain[n] = '\0';
                    *addr = plain;
                    st = MK_VAULT_OK;
                } else {
                    g_free(plain);
                }
            }
        }
    }
    sqlite3_finalize(q);
    /* the last use, to MK_VAULT_SEEN_STEP seconds: not a write per request */
    if (st == MK_VAULT_OK && now - last_seen >= MK_VAULT_SEEN_STEP)
        mk_vault_auth_exec(v, "UPDATE sessions SET seen = ?2 WHERE token_hash = ?1", "ti",
                           token_hash, now);
    else if (timed_out)
        mk_vault_auth_exec(v, "DELETE FROM sessions WHERE token_hash = ?1", "t", token_hash);
    pthread_mutex_unlock(&v->lock);
    OPENSSL_cleanse(akey, sizeof(akey));
    OPENSSL_cleanse(skey, sizeof(skey));
    return st;
}

void mk_vault_session_end(mk_vault *v, const char *token)
{
    unsigned char raw[32];
    if (token == NULL || strlen(token) != MK_VAULT_LINK - 1 ||
        mk_b64url_decode(token, raw, sizeof(raw)) != 32)
        return;
    char token_hash[MK_SHA256_HEX];
    mk_sha256_hex(raw, sizeof(raw), token_hash);
    pthread_mutex_lock(&v->lock);
    mk_vault_auth_exec(v, "DELETE FROM sessions WHERE token_hash = ?1", "t", token_hash);
    pthread_mutex_unlock(&v->lock);
}

void mk_vault_csrf(const char *token, char csrf[MK_VAULT_LINK])
{
    unsigned char mac[32];
    mk_hmac_sha256(token, strlen(token), "mailkeeper-vault csrf", 21, mac);
    mk_b64url_encode(mac, sizeof(mac), csrf);
}
