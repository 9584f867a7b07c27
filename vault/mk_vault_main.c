/*
 * NAME
 *   mailkeeper-vault - the secure vault, for the postmaster
 *
 * SYNOPSIS
 *   mailkeeper-vault [-c CONF] list
 *   mailkeeper-vault [-c CONF] revoke ID...
 *   mailkeeper-vault [-c CONF] purge
 *   mailkeeper-vault [-c CONF] open LINK
 *   mailkeeper-vault [-c CONF] seal --to ADDR... FILE
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
 *   the link; LINK is the whole link or its last part. seal keeps a
 *   message file in the vault by hand, for the recipients given, as the
 *   milter would, and prints its link ([vault] url) and the sender's
 *   revoke token: for a message to send securely that did not pass the
 *   milter, and for benchmarks.
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

#include <gmime/gmime.h>

#include "mk_config.h"
#include "mk_log.h"
#include "mk_vault.h"
#include "mk_vault_notice.h"

#define MK_PROG "mailkeeper-vault"

static void usage(FILE *out)
{
    fprintf(out, "usage: " MK_PROG " [-c CONF] list\n"
                 "       " MK_PROG " [-c CONF] revoke ID...\n"
                 "       " MK_PROG " [-c CONF] purge\n"
                 "       " MK_PROG " [-c CONF] open LINK\n"
                 "       " MK_PROG " [-c CONF] seal --to ADDR... FILE\n");
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

/* seal --to ADDR... FILE: 0, or a sysexits status (said). */
static int mk_vault_main_seal(const mk_config *cfg, mk_vault *v, int argc, char **argv)
{
    GPtrArray *rcpts = g_ptr_array_new();
    const char *file = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
            g_ptr_array_add(rcpts, argv[++i]);
        else if (file == NULL)
            file = argv[i];
        else
            file = "";
    }
    g_ptr_array_add(rcpts, NULL);
    gchar *data = NULL;
    gsize len = 0;
    GError *e = NULL;
    int rc = EX_OK;
    if (rcpts->len < 2 || file == NULL || *file == '\0') {
        usage(stderr);
        rc = EX_USAGE;
    } else if (!g_file_get_contents(file, &data, &len, &e)) {
        fprintf(stderr, MK_PROG ": %s\n", e->message);
        g_error_free(e);
        rc = EX_NOINPUT;
    } else {
        g_mime_init();
        GMimeStream *s = g_mime_stream_mem_new_with_buffer(data, len);
        GMimeParser *parser = g_mime_parser_new_with_stream(s);
        GMimeMessage *m = g_mime_parser_construct_message(parser, NULL);
        g_object_unref(parser);
        g_object_unref(s);
        InternetAddressList *from = m != NULL ? g_mime_message_get_from(m) : NULL;
        InternetAddress *a = from != NULL && internet_address_list_length(from) > 0
                                 ? internet_address_list_get_address(from, 0)
                                 : NULL;
        const char *sender = a != NULL && INTERNET_ADDRESS_IS_MAILBOX(a)
                                 ? internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a))
                                 : NULL;
        if (sender == NULL) {
            fprintf(stderr, MK_PROG ": %s: no From address\n", file);
            rc = EX_DATAERR;
        } else {
            char *subject = NULL;
            const char *subj = g_mime_message_get_subject(m);
            if (!mk_vault_subject_match(subj, cfg->vault_keywords, &subject))
                subject = g_strdup(subj != NULL ? subj : "");
            gint64 now = (gint64)time(NULL);
            mk_vault_meta meta = {.sender = (char *)sender,
                                  .from = (char *)g_mime_object_get_header(GMIME_OBJECT(m), "From"),
                                  .subject = subject,
                                  .rcpts = (char **)rcpts->pdata,
                                  .date = now};
            char link[MK_VAULT_LINK], revoke[MK_VAULT_LINK], id[MK_VAULT_ID], err[512];
            if (mk_vault_put(v, &meta, data, len, now, now + (gint64)cfg->vault_expire_days * 86400,
                             link, revoke, id, err, sizeof(err)) != 0) {
                fprintf(stderr, MK_PROG ": %s\n", err);
                rc = EX_IOERR;
            } else {
                size_t ulen = strlen(cfg->vault_url);
                printf("%s%sm/%s\nrevoke token: %s\n", cfg->vault_url,
                       ulen > 0 && cfg->vault_url[ulen - 1] == '/' ? "" : "/", link, revoke);
                mk_log(LOG_INFO, NULL, "sealed %.12s by hand (%u recipient(s))", id,
                       rcpts->len - 1);
            }
            g_free(subject);
        }
        if (m != NULL)
            g_object_unref(m);
    }
    g_free(data);
    g_ptr_array_free(rcpts, TRUE);
    return rc;
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
          (strcmp(cmd, "revoke") == 0 && nargs > 0) || (strcmp(cmd, "open") == 0 && nargs == 1) ||
          (strcmp(cmd, "seal") == 0 && nargs >= 3))) {
        usage(stderr);
        return EX_USAGE;
    }
    mk_config *cfg = mk_config_load_tool(MK_PROG, config_path);
    if (cfg == NULL)
        return EX_CONFIG;
    char err[512];
    int rc = EX_OK;
    mk_vault *v = mk_vault_open_config(cfg, strcmp(cmd, "seal") == 0, err, sizeof(err));
    if (v == NULL) {
        fprintf(stderr, MK_PROG ": %s: [vault]: %s\n", cfg->path, err);
        mk_config_free(cfg);
        return EX_NOINPUT;
    }
    gint64 now = (gint64)time(NULL);
    if (strcmp(cmd, "seal") == 0) {
        rc = mk_vault_main_seal(cfg, v, argc - optind, argv + optind);
    } else if (strcmp(cmd, "list") == 0) {
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
