/*
 * NAME
 *   mailkeeper-vault - the secure vault, for the postmaster
 *
 * SYNOPSIS
 *   mailkeeper-vault [-c CONF] list
 *   mailkeeper-vault [-c CONF] revoke ID...
 *   mailkeeper-vault [-c CONF] purge
 *   mailkeeper-vault [-c CONF] open LINK
 *
 * DESCRIPTION
 *   The vault lives in [vault] directory (under [general] state_dir unless
 *   absolute). list prints every message's id (SHA-256 of its link's
 *   secret), when it was stored and expires, its size and its state: what
 *   the vault can tell without the links, nothing of the content. revoke
 *   deletes the content of the messages named by id (or an unambiguous
 *   first part of one, 8 characters at least); their links then show a
 *   "revoked" page. purge deletes the content of every expired message
 *   (a daily timer's job). open prints the message a link opens, byte for
 *   byte, as the milter took it: for a recipient who hands the postmaster
 *   the link; LINK is the whole link or its last part.
 *
 * EXIT STATUS
 *   0 on success; 1 when a message was not found (revoke, open) or is
 *   expired or revoked (open); 64-78 (sysexits) on usage, configuration or
 *   vault errors.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "mk_config.h"
#include "mk_log.h"
#include "mk_vault.h"

#define MK_PROG "mailkeeper-vault"

static void usage(FILE *out)
{
    fprintf(out, "usage: " MK_PROG " [-c CONF] list\n"
                 "       " MK_PROG " [-c CONF] revoke ID...\n"
                 "       " MK_PROG " [-c CONF] purge\n"
                 "       " MK_PROG " [-c CONF] open LINK\n");
}

static void mk_vault_main_day(gint64 when, char out[32])
{
    time_t t = (time_t)when;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M", &tm);
}

static int mk_vault_main_print(void *data, const mk_vault_row *row)
{
    gint64 now = *(const gint64 *)data;
    char created[32], expires[32];
    mk_vault_main_day(row->created, created);
    mk_vault_main_day(row->expires, expires);
    const char *state = row->revoked          ? "revoked"
                        : row->deleted        ? "purged"
                        : row->expires <= now ? "expired"
                                              : "readable";
    printf("%-64s  %s  %s  %9lld  %s\n", row->id, created, expires, (long long)row->size, state);
    return 0;
}

/* Collects the ids that start with a prefix. */
typedef struct mk_vault_match {
    const char *prefix;
    GPtrArray *ids;
} mk_vault_match;

static int mk_vault_main_match(void *data, const mk_vault_row *row)
{
    mk_vault_match *m = data;
    if (strncmp(row->id, m->prefix, strlen(m->prefix)) == 0)
        g_ptr_array_add(m->ids, g_strdup(row->id));
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return EX_OK;
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EX_USAGE;
    }
    const char *cmd = argv[optind++];
    int nargs = argc - optind;
    if (!((strcmp(cmd, "list") == 0 && nargs == 0) || (strcmp(cmd, "purge") == 0 && nargs == 0) ||
          (strcmp(cmd, "revoke") == 0 && nargs > 0) || (strcmp(cmd, "open") == 0 && nargs == 1))) {
        usage(stderr);
        return EX_USAGE;
    }
    mk_config *cfg = mk_config_load_tool(MK_PROG, config_path);
    if (cfg == NULL)
        return EX_CONFIG;
    char err[512];
    int rc = EX_OK;
    mk_vault *v = mk_vault_open_config(cfg, 0, err, sizeof(err));
    if (v == NULL) {
        fprintf(stderr, MK_PROG ": %s: [vault]: %s\n", cfg->path, err);
        mk_config_free(cfg);
        return EX_NOINPUT;
    }
    gint64 now = (gint64)time(NULL);
    if (strcmp(cmd, "list") == 0) {
        if (mk_vault_list(v, mk_vault_main_print, &now, err, sizeof(err)) != 0) {
            fprintf(stderr, MK_PROG ": %s\n", err);
            rc = EX_IOERR;
        }
    } else if (strcmp(cmd, "purge") == 0) {
        size_t n = 0;
        if (mk_vault_purge(v, now, &n, err, sizeof(err)) != 0) {
            fprintf(stderr, MK_PROG ": %s\n", err);
            rc = EX_IOERR;
        } else {
            printf("%zu expired message(s) deleted\n", n);
            mk_log(LOG_INFO, NULL, "purge: %zu expired message(s) deleted", n);
        }
    } else if (strcmp(cmd, "revoke") == 0) {
        for (int i = optind; i < argc; i++) {
            mk_vault_match m = {argv[i], g_ptr_array_new_with_free_func(g_free)};
            if (strlen(argv[i]) >= 8)
                mk_vault_list(v, mk_vault_main_match, &m, err, sizeof(err));
            if (m.ids->len != 1) {
                fprintf(stderr, MK_PROG ": %s: %s\n", argv[i],
                        m.ids->len == 0 ? "no such message (give 8 characters of its id or more)"
                                        : "more than one message starts so");
                rc = rc == EX_OK ? 1 : rc;
            } else if (mk_vault_revoke(v, m.ids->pdata[0], NULL, NULL, now, err, sizeof(err)) !=
                       MK_VAULT_OK) {
                fprintf(stderr, MK_PROG ": %s: %s\n", argv[i], err);
                rc = EX_IOERR;
            } else {
                printf("%s revoked\n", (const char *)m.ids->pdata[0]);
                mk_log(LOG_NOTICE, NULL, "revoked %s (by the postmaster)",
                       (const char *)m.ids->pdata[0]);
            }
            g_ptr_array_free(m.ids, TRUE);
        }
    } else {
        /* the link's last part: after the last '/' */
        const char *link = strrchr(argv[optind], '/');
        link = link != NULL ? link + 1 : argv[optind];
        mk_vault_meta *meta = NULL;
        char *msg = NULL;
        size_t len = 0;
        mk_vault_status st = mk_vault_get(v, link, now, &meta, &msg, &len, err, sizeof(err));
        if (st == MK_VAULT_OK) {
            fwrite(msg, 1, len, stdout);
        } else {
            fprintf(stderr, MK_PROG ": %s\n",
                    st == MK_VAULT_NOT_FOUND ? "no message has this link"
                    : st == MK_VAULT_EXPIRED ? "the message has expired"
                    : st == MK_VAULT_REVOKED ? "the message was revoked"
                                             : err);
            rc = st == MK_VAULT_ERROR ? EX_IOERR : 1;
        }
        mk_vault_meta_free(meta);
        g_free(msg);
    }
    mk_vault_close(v);
    mk_config_free(cfg);
    return rc;
}
