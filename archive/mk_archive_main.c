/*
 * NAME
 *   mailkeeper-archive - the compliance archive, for compliance staff
 *
 * SYNOPSIS
 *   mailkeeper-archive [-c CONF] import [--direction in|out|internal] PATH...
 *   mailkeeper-archive [-c CONF] show ID
 *   mailkeeper-archive [-c CONF] verify
 *   mailkeeper-archive [-c CONF] stats
 *
 * DESCRIPTION
 *   The archive lives in [archive] directory (under [general] state_dir
 *   unless absolute). import takes existing mail (files, mbox files,
 *   Maildirs, directories) with its original dates (the Date field),
 *   retained [archive] retention_years from then. show prints a message
 *   byte for byte as it arrived. verify re-hashes every file and walks the
 *   hash chain of the index, and names every changed, missing, added or
 *   reordered entry or file. stats says what the archive holds.
 *
 * EXIT STATUS
 *   0 on success; 1 when verify found a problem or import could not read
 *   or store some messages; 64-78 (sysexits) on usage, configuration or
 *   archive errors.
 */
#include "config.h"

#include <getopt.h>
#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "mk_archive.h"
#include "mk_config.h"
#include "mk_log.h"
#include "mk_mailsrc.h"
#include "mk_msg.h"

#define MK_PROG "mailkeeper-archive"

static void usage(FILE *out)
{
    fprintf(out, "usage: " MK_PROG " [-c CONF] import [--direction in|out|internal] PATH...\n"
                 "       " MK_PROG " [-c CONF] show ID\n"
                 "       " MK_PROG " [-c CONF] verify\n"
                 "       " MK_PROG " [-c CONF] stats\n");
}

typedef struct mk_import {
    mk_archive *archive;
    const mk_config *cfg;
    const char *direction;
    size_t stored, failed;
} mk_import;

/* The addresses of a header list of the message, as strings (g_free each). */
static void mk_import_addrs(GMimeMessage *m, GMimeAddressType type, GPtrArray *out)
{
    InternetAddressList *l = g_mime_message_get_addresses(m, type);
    for (int i = 0; l != NULL && i < internet_address_list_length(l); i++) {
        InternetAddress *ia = internet_address_list_get_address(l, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia))
            g_ptr_array_add(
                out, g_strdup(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia))));
    }
}

/* mk_mailsrc's callback: stores one message with what its headers say of
 * its envelope (Return-Path, To and Cc) and its date. */
static int mk_import_one(void *data, const char *msg, size_t len, const char *what)
{
    mk_import *im = data;
    mk_msgbuf *buf = mk_msgbuf_new(len + 1, im->cfg->tmp_dir);
    char err[512];
    mk_msg *m = buf != NULL && mk_msgbuf_append(buf, msg, len, err, sizeof(err)) == 0
                    ? mk_msg_parse(buf)
                    : NULL;
    time_t arrival = time(NULL);
    GPtrArray *rcpts = g_ptr_array_new_with_free_func(g_free);
    char *env_from = g_strdup("");
    if (m != NULL) {
        GDateTime *d = g_mime_message_get_date(m->mime);
        if (d != NULL)
            arrival = (time_t)g_date_time_to_unix(d);
        mk_import_addrs(m->mime, GMIME_ADDRESS_TYPE_TO, rcpts);
        mk_import_addrs(m->mime, GMIME_ADDRESS_TYPE_CC, rcpts);
        const char *rp = g_mime_object_get_header(GMIME_OBJECT(m->mime), "Return-Path");
        if (rp != NULL) {
            g_free(env_from);
            env_from = g_strstrip(g_strdelimit(g_strdup(rp), "<>", ' '));
        }
    }
    mk_archive_env env = {.env_from = env_from,
                          .rcpts = (const char *const *)rcpts->pdata,
                          .n_rcpts = rcpts->len,
                          .direction = im->direction,
                          .arrival = arrival,
                          .retain_until = mk_archive_default_retention(im->cfg, arrival)};
    long long id;
    if (mk_archive_put(im->archive, msg, len, &env, &id, err, sizeof(err)) != 0) {
        fprintf(stderr, MK_PROG ": %s: %s\n", what, err);
        im->failed++;
    } else {
        im->stored++;
    }
    g_free(env_from);
    g_ptr_array_free(rcpts, TRUE);
    mk_msg_free(m);
    mk_msgbuf_free(buf);
    return 0;
}

static void mk_verify_say(void *data, const char *what)
{
    printf("%s\n", what);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"direction", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *direction = "in";
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
    /* options after the command (import --direction) */
    while ((c = getopt_long(argc, argv, "+d:", longopts, NULL)) != -1) {
        if (c != 'd') {
            usage(stderr);
            return EX_USAGE;
        }
        direction = optarg;
    }
    if (strcmp(direction, "in") != 0 && strcmp(direction, "out") != 0 &&
        strcmp(direction, "internal") != 0) {
        fprintf(stderr, MK_PROG ": --direction: '%s' is not in, out or internal\n", direction);
        return EX_USAGE;
    }
    mk_config *cfg = mk_config_load_tool(MK_PROG, config_path);
    if (cfg == NULL)
        return EX_CONFIG;
    char err[4096];
    mk_msg_library_init();
    int rc = EX_OK;
    char *dir = mk_archive_config_dir(cfg);
    int create = strcmp(cmd, "import") == 0;
    mk_archive *a = NULL;
    if (strcmp(cmd, "import") != 0 && strcmp(cmd, "show") != 0 && strcmp(cmd, "verify") != 0 &&
        strcmp(cmd, "stats") != 0) {
        usage(stderr);
        rc = EX_USAGE;
        goto out;
    }
    a = mk_archive_open(dir, create, err, sizeof(err));
    if (a == NULL) {
        fprintf(stderr, MK_PROG ": the archive %s: %s\n", dir, err);
        rc = EX_NOINPUT;
        goto out;
    }
    if (strcmp(cmd, "import") == 0) {
        if (optind >= argc) {
            usage(stderr);
            rc = EX_USAGE;
            goto out;
        }
        mk_import im = {.archive = a, .cfg = cfg, .direction = direction};
        size_t unreadable = 0;
        for (int i = optind; i < argc; i++)
            mk_mailsrc_each(MK_PROG, argv[i], mk_import_one, &im, &unreadable);
        printf("%zu message(s) archived%s%s\n", im.stored,
               im.failed ? ", some could not be stored" : "",
               unreadable ? ", some files could not be read" : "");
        mk_log(LOG_INFO, NULL, "import: %zu message(s) archived, %zu failed, %zu unreadable",
               im.stored, im.failed, unreadable);
        if (im.failed || unreadable)
            rc = 1;
    } else if (strcmp(cmd, "show") == 0) {
        char *end = NULL;
        long long id = optind < argc ? strtoll(argv[optind], &end, 10) : 0;
        if (optind != argc - 1 || end == NULL || *end != '\0' || id <= 0) {
            usage(stderr);
            rc = EX_USAGE;
            goto out;
        }
        char *data = NULL;
        size_t len = 0;
        if (mk_archive_get(a, id, &data, &len, err, sizeof(err)) != 0) {
            fprintf(stderr, MK_PROG ": %s\n", err);
            rc = 1;
            goto out;
        }
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
            rc = EX_IOERR;
        g_free(data);
    } else if (strcmp(cmd, "verify") == 0) {
        long long entries = 0;
        long n = mk_archive_verify(a, mk_verify_say, NULL, &entries, err, sizeof(err));
        if (n < 0) {
            fprintf(stderr, MK_PROG ": %s\n", err);
            rc = EX_SOFTWARE;
        } else {
            printf("%lld entries checked: %s\n", entries,
                   n == 0 ? "every file and the whole chain are intact" : "PROBLEMS FOUND");
            mk_log(n ? LOG_ERR : LOG_INFO, NULL, "verify: %lld entries, %ld problem(s)", entries,
                   n);
            rc = n == 0 ? EX_OK : 1;
        }
    } else {
        mk_archive_stats st;
        if (mk_archive_get_stats(a, &st) != 0) {
            rc = EX_SOFTWARE;
            goto out;
        }
        char first[32] = "-", last[32] = "-";
        if (st.entries > 0) {
            strftime(first, sizeof(first), "%Y-%m-%d", gmtime(&st.first));
            strftime(last, sizeof(last), "%Y-%m-%d", gmtime(&st.last));
        }
        printf("entries: %lld\nfiles: %lld\nbytes: %lld\nstored bytes: %lld\nfirst: %s\nlast: %s\n",
               st.entries, st.files, st.bytes, st.stored_bytes, first, last);
    }
out:
    mk_archive_close(a);
    g_free(dir);
    mk_msg_library_cleanup();
    mk_config_free(cfg);
    return rc;
}
