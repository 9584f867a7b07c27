/*
 * mk_vault_int: what the vault's own files share (mk_vault.c, mk_vault_auth.c).
 */
#ifndef MK_VAULT_INT_H
#define MK_VAULT_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "mk_vault.h"

#define MK_VAULT_SALT "mailkeeper-vault-1"

struct mk_vault {
    char *dir;
    sqlite3 *db;
    pthread_mutex_t lock; /* around db */
};

/* The secret of a link; 0, or -1 when it is not one. */
int mk_vault_link_secret(const char *link, unsigned char secret[MK_VAULT_SECRET]);

#endif
