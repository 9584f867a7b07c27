/*
 * mk_vault: the vault store. Each message is sealed (AES-256-GCM) under a
 * key derived (HKDF-SHA256) from a random 256-bit secret that only the
 * link carries. The store keeps SHA-256 of the secret as the message's id,
 * the sealed metadata (sender, recipients, subject, date) in its index
 * (SQLite, DIR/vault.db) and the sealed message in a file of its own
 * (DIR/xx/ID). Without the link neither says anything; a revoked or
 * expired message loses both, and its row says only when and why.
 *
 * Every call is thread-safe (one lock per vault).
 */
#ifndef MK_VAULT_H
#define MK_VAULT_H

#include <glib.h>
#include <stddef.h>

#include "mk_config.h"

#define MK_VAULT_SECRET 32 /* bytes of a link's secret */
#define MK_VAULT_LINK   44 /* its base64url text and the NUL */
#define MK_VAULT_ID     65 /* a message id: SHA-256 of the secret, hex, NUL */

typedef struct mk_vault mk_vault;

/* What the reader needs to know of a message, sealed with it. */
typedef struct mk_vault_meta {
    char *sender;  /* the sender's address: replies go there */
    char *from;    /* the From header as written (display name and address) */
    char *subject; /* without the keyword */
    char **rcpts;  /* NULL-terminated: the envelope recipients */
    gint64 date;   /* when it was sent (Unix time) */
} mk_vault_meta;

void mk_vault_meta_free(mk_vault_meta *meta);

typedef enum {
    MK_VAULT_OK,
    MK_VAULT_NOT_FOUND, /* no such link (forged, cut short, or never made) */
    MK_VAULT_EXPIRED,
    MK_VAULT_REVOKED,
    MK_VAULT_ERROR,     /* the store failed: err says why */
    MK_VAULT_BAD_CODE,  /* a wrong or used-up one-time code (counted) */
    MK_VAULT_LOCKED,    /* too many wrong codes: locked out for a while */
    MK_VAULT_NO_SESSION /* no session, or one timed out or of another message */
} mk_vault_status;

/* A message's row, for the postmaster: nothing of its content. */
typedef struct mk_vault_row {
    const char *id;
    gint64 created, expires;
    gint64 revoked; /* when, or 0 */
    gint64 deleted; /* when its content went (revoked or expired and purged), or 0 */
    gint64 size;    /* bytes sealed */
} mk_vault_row;

/* Opens the vault in dir (made, mode 0770, with create); NULL with why. */
mk_vault *mk_vault_open(const char *dir, int create, char *err, size_t errlen);
void mk_vault_close(mk_vault *v);
/* The vault of cfg: [vault] directory under [general] state_dir unless
 * absolute. g_free() the path. */
char *mk_vault_config_dir(const mk_config *cfg);
mk_vault *mk_vault_open_config(const mk_config *cfg, int create, char *err, size_t errlen);

/* Seals and keeps msg (len bytes) with meta until expires. Writes the link
 * secret (base64url) into link, the sender's revoke token into revoke and
 * the id into id. The message file is synced before the row commits.
 * 0, or -1 with why. */
int mk_vault_put(mk_vault *v, const mk_vault_meta *meta, const void *msg, size_t len, gint64 now,
                 gint64 expires, char link[MK_VAULT_LINK], char revoke[MK_VAULT_LINK],
                 char id[MK_VAULT_ID], char *err, size_t errlen);

/* Opens the message of link: its metadata into *meta (free with
 * mk_vault_meta_free) and, when msg is not NULL, its bytes into *msg
 * (g_free) and *len. Anything but MK_VAULT_OK leaves them NULL. */
mk_vault_status mk_vault_get(mk_vault *v, const char *link, gint64 now, mk_vault_meta **meta,
                             char **msg, size_t *len, char *err, size_t errlen);

/* The id of link (SHA-256 of its secret, hex); -1 when link is no link. */
int mk_vault_link_id(const char *link, char id[MK_VAULT_ID]);

/* Revokes a message by id (the postmaster) or, when id is NULL, by link
 * and revoke token (the sender's revoke link): its content and metadata go
 * at once, the row stays to say "revoked". MK_VAULT_OK (also when it was
 * revoked before), NOT_FOUND (also for a wrong token) or ERROR. */
mk_vault_status mk_vault_revoke(mk_vault *v, const char *id, const char *link, const char *token,
                                gint64 now, char *err, size_t errlen);

/* Deletes the content and metadata of every message expired by now;
 * *n gets how many. 0, or -1 with why. */
int mk_vault_purge(mk_vault *v, gint64 now, size_t *n, char *err, size_t errlen);

/* Calls fn for every message, oldest first; stops when fn returns
 * nonzero. 0, or -1 with why. */
int mk_vault_list(mk_vault *v, int (*fn)(void *data, const mk_vault_row *row), void *data,
                  char *err, size_t errlen);

/* ---- the reader's one-time codes and sessions (mk_vault_auth.c) -------------
 * A recipient is named on disk by HMAC-SHA256 of the address under a key
 * derived from the link's secret, never in clear; a code is kept as HMAC
 * of the address and the code under the same key, so neither the
 * recipients nor the codes can be read or tried offline without the link.
 * Revoking or purging a message ends its codes and sessions. */

#define MK_VAULT_CODE 9 /* 8 digits and the NUL */

/* The rules of codes and sessions ([webvault]). */
typedef struct mk_vault_auth_policy {
    int code_ttl_s; /* a code's life (900) */
    int max_fails;  /* wrong codes before a lockout (5) */
    int lockout_s;  /* how long a lockout lasts */
    int idle_s;     /* a session ends after this long unused */
    int absolute_s; /* and this long after it began, used or not */
} mk_vault_auth_policy;

/* A new code for addr (compared without regard to case) on the message of
 * link, replacing any earlier one: OK with the 8 digits in code;
 * NOT_FOUND when addr is none of its recipients (no code); LOCKED;
 * EXPIRED, REVOKED; ERROR. LOCKED and the failures that lead to it are
 * the same for any address, a recipient or not: no answer tells who is. */
mk_vault_status mk_vault_code_new(mk_vault *v, const char *link, const char *addr, gint64 now,
                                  const mk_vault_auth_policy *pol, char code[MK_VAULT_CODE],
                                  char *err, size_t errlen);
/* Checks a code for addr: OK (the code is used up, a session begins: its
 * token, base64url, into token); BAD_CODE (wrong, expired or none: one
 * more failure); LOCKED (the max_fails-th failure locks addr out of this
 * message for lockout_s); NOT_FOUND, EXPIRED, REVOKED; ERROR. */
mk_vault_status mk_vault_code_check(mk_vault *v, const char *link, const char *addr,
                                    const char *code, gint64 now, const mk_vault_auth_policy *pol,
                                    char token[MK_VAULT_LINK], char *err, size_t errlen);
/* The session of token on the message of link: OK with the verified
 * recipient's address in *addr (g_free), its last use now; NO_SESSION when
 * there is none, it timed out, or it belongs to another message. */
mk_vault_status mk_vault_session(mk_vault *v, const char *link, const char *token, gint64 now,
                                 const mk_vault_auth_policy *pol, char **addr, char *err,
                                 size_t errlen);
/* Ends the session of token. */
void mk_vault_session_end(mk_vault *v, const char *token);
/* The anti-forgery token of a session's forms: HMAC of a fixed text under
 * the session token, base64url. */
void mk_vault_csrf(const char *token, char csrf[MK_VAULT_LINK]);

#endif
