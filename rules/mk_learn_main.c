/*
 * NAME
 *   mailkeeper-learn - train mailkeeper's Bayes classifier
 *
 * SYNOPSIS
 *   mailkeeper-learn [-c CONF] --spam|--ham|--forget [--user USER [--global]] [PATH...]
 *   mailkeeper-learn [-c CONF] --stats [--user USER]
 *   mailkeeper-learn [-c CONF] --expire [--user USER]
 *   mailkeeper-learn [-c CONF] --tokens [FILE]
 *   mailkeeper-learn [-c CONF] --spool
 *   mailkeeper-learn [-c CONF] --serve|--socket-path
 *
 * DESCRIPTION
 *   Learns each message of each PATH as spam or ham, or forgets it: a file
 *   holding one message, an mbox file (it starts with "From "), a Maildir
 *   (a directory with cur/ and new/) or a directory of such files; no PATH
 *   or "-" reads one message from standard input, as Dovecot's sieve pipe
 *   hands it over (an empty message is refused: exit 1). Without --user the
 *   global store learns; with it, that user's store (and the global one too
 *   with --global), and the sender (From) goes on that user's block list
 *   (spam) or friend list (ham) in the same transaction ([lists] learn).
 *
 *   The store remembers each message it learned (by Message-ID, or a
 *   digest of the message without one): learned twice, it counts once;
 *   learned as the other class, it moves. Tokens past [bayes] max_tokens
 *   expire, those learned longest ago first (checked after runs of 100
 *   messages or more, and at every 100th message learned one at a time). The whole run is one
 * series of transactions of up to 500 messages each; a busy store is waited for.
 *
 *   One message on standard input that finds the store busy for 2 s (or
 *   cannot open it) is kept in state_dir/spool and learned by the next run
 *   before its own message, or by --spool (a timer's job); exit 0 once the
 *   event is kept. --stats prints what a store holds; --tokens prints a
 *   message's tokens.
 *
 *   --serve runs the resident learner (mk_learn_serve.c), which keeps the
 *   store open and learns the events mailkeeper-learnc sends it over
 *   [bayes] learn_socket; --socket-path prints where that is.
 *
 * EXIT STATUS
 *   0 when every message was read and learned; 1 when some could not be
 *   read (the others are learned); 64-78 (sysexits) on usage, configuration
 *   or store errors.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "mk_bayes.h"
#include "mk_config.h"
#include "mk_domain.h"
#include "mk_learn.h"
#include "mk_lists.h"
#include "mk_log.h"
#include "mk_mailsrc.h"
#include "mk_msg.h"

#define MK_PROG MK_LEARN_PROG

static void usage(FILE *out)
{
    fprintf(out, "usage: " MK_PROG " [-c CONF] --spam|--ham|--forget [--user USER [--global]] "
                 "[PATH...]\n"
                 "       " MK_PROG " [-c CONF] --stats|--expire [--user USER]\n"
                 "       " MK_PROG " [-c CONF] --tokens [FILE]\n"
                 "       " MK_PROG " [-c CONF] --spool\n"
                 "       " MK_PROG " [-c CONF] --serve|--socket-path\n"
                 "  PATH: a message, an mbox file, a Maildir or a directory of messages;\n"
                 "        none or - reads one message from standard input\n");
}

enum {
    OPT_SPAM = 256,
    OPT_HAM,
    OPT_FORGET,
    OPT_USER,
    OPT_GLOBAL,
    OPT_STATS,
    OPT_EXPIRE,
    OPT_TOKENS,
    OPT_SPOOL,
    OPT_SERVE,
    OPT_SOCKET_PATH
};

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"spam", no_argument, NULL, OPT_SPAM},
        {"ham", no_argument, NULL, OPT_HAM},
        {"forget", no_argument, NULL, OPT_FORGET},
        {"user", required_argument, NULL, OPT_USER},
        {"global", no_argument, NULL, OPT_GLOBAL},
        {"stats", no_argument, NULL, OPT_STATS},
        {"expire", no_argument, NULL, OPT_EXPIRE},
        {"tokens", no_argument, NULL, OPT_TOKENS},
        {"spool", no_argument, NULL, OPT_SPOOL},
        {"serve", no_argument, NULL, OPT_SERVE},
        {"socket-path", no_argument, NULL, OPT_SOCKET_PATH},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *user = NULL;
    GString *event = NULL; /* the message of standard input, read whole */
    int mode = 0, global = 0, c;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case OPT_USER:
            user = optarg;
            break;
        case OPT_GLOBAL:
            global = 1;
            break;
        case 'h':
            usage(stdout);
            return EX_OK;
        case OPT_SPAM:
        case OPT_HAM:
        case OPT_FORGET:
        case OPT_STATS:
        case OPT_EXPIRE:
        case OPT_TOKENS:
        case OPT_SPOOL:
        case OPT_SERVE:
        case OPT_SOCKET_PATH:
            if (mode != 0 && mode != c) {
                fprintf(stderr, MK_PROG ": give one of --spam, --ham, --forget, --stats, "
                                        "--expire, --tokens, --spool, --serve, --socket-path\n");
                return EX_USAGE;
            }
            mode = c;
            break;
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (mode == 0 || (global && user == NULL)) {
        usage(stderr);
        return EX_USAGE;
    }
    mk_config *cfg = mk_config_load_tool(MK_PROG, config_path);
    if (cfg == NULL)
        return EX_CONFIG;
    if (mode == OPT_SOCKET_PATH || mode == OPT_SERVE) {
        char *sock = mk_bayes_learn_socket_path(cfg);
        int rc = EX_OK;
        if (mode == OPT_SOCKET_PATH) {
            puts(sock);
        } else {
            mk_log_open(MK_PROG, 1, cfg->log_level); /* a foreground daemon: stderr too */
            mk_msg_library_init();
            const psl_ctx_t *psl = mk_domain_psl_load();
            rc = mk_learn_serve(cfg, psl);
            mk_domain_psl_free(psl);
            mk_msg_library_cleanup();
        }
        g_free(sock);
        mk_config_free(cfg);
        return rc;
    }
    char err[4096];
    mk_msg_library_init();
    mk_learn l = {.cfg = cfg, .psl = mk_domain_psl_load(), .tokens_only = mode == OPT_TOKENS};
    l.cls = mode == OPT_SPAM ? MK_BAYES_SPAM : mode == OPT_HAM ? MK_BAYES_HAM : MK_BAYES_FORGET;
    int rc = EX_OK;
    char *path = mk_bayes_db_path(cfg);
    /* the user as the stores name users (lower case, IDNA), the milter too */
    char *norm = user != NULL ? mk_lists_scope(user, err, sizeof(err)) : g_strdup("");
    if (norm != NULL && user != NULL && *norm == '\0') {
        g_free(norm);
        norm = NULL;
        snprintf(err, sizeof(err), "the user name is empty");
    }
    if (norm == NULL) {
        fprintf(stderr, MK_PROG ": --user: %s\n", err);
        mk_log(LOG_NOTICE, NULL, "--user: %s; nothing learned", err);
        rc = EX_USAGE;
        goto out;
    }
    /* which stores learn: --global adds the global one to the user's */
    int stores = global ? MK_LEARN_BOTH : MK_LEARN_USER;
    if (user != NULL && (mode == OPT_SPAM || mode == OPT_HAM || mode == OPT_FORGET))
        stores = mk_learn_store_choice(cfg, global);
    mk_learn_stores(&l, norm, stores);
    /* a user's learning also sets that user's lists */
    if (user != NULL && cfg->lists_learn && mode != OPT_STATS && mode != OPT_EXPIRE &&
        mode != OPT_TOKENS)
        l.list_scope = norm;
    /* one message on standard input (a Dovecot pipe): read first, so that a
     * busy store cannot lose it */
    int learning = mode == OPT_SPAM || mode == OPT_HAM || mode == OPT_FORGET;
    if (learning && (optind >= argc || (optind == argc - 1 && strcmp(argv[optind], "-") == 0))) {
        event = g_string_new(NULL);
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
            g_string_append_len(event, chunk, (gssize)n);
        if (ferror(stdin)) {
            fprintf(stderr, MK_PROG ": stdin: read error\n");
            rc = EX_IOERR;
            goto out;
        }
    }
    if (!l.tokens_only || access(path, F_OK) == 0) {
        l.db = mk_bayes_db_open(path, mode != OPT_STATS && !l.tokens_only, err, sizeof(err));
        if (l.db == NULL) {
            fprintf(stderr, MK_PROG ": %s: [bayes] database: %s\n", cfg->path, err);
            mk_log(LOG_ERR, NULL, "%s: [bayes] database: %s", cfg->path, err);
            g_strlcpy(l.error, err, sizeof(l.error));
            rc = event != NULL && event->len > 0 &&
                         mk_learn_spool(&l, norm, stores, event->str, event->len) == 0
                     ? EX_OK
                     : EX_CANTCREAT;
            goto out;
        }
        /* an IMAP command waits on a single learn: it waits briefly, then spools */
        if (event != NULL)
            sqlite3_busy_timeout(mk_bayes_db_handle(l.db), MK_LEARN_BUSY_MS);
    }
    if (mode == OPT_STATS) {
        mk_learn_print_stats(l.db, l.users[0]);
        goto out;
    }
    if (mode == OPT_SPOOL) {
        rc = mk_learn_drain(&l) == 0 ? EX_OK : EX_TEMPFAIL;
        goto out;
    }
    if (event != NULL) {
        GString *summary = g_string_new(NULL);
        rc = mk_learn_event(&l, norm, stores, event->str, event->len, summary);
        fputs(summary->str, stdout);
        g_string_free(summary, TRUE);
        goto out;
    }
    /* in bulk, what the spool holds goes first too */
    if (learning)
        mk_learn_drain(&l);
    if (mode != OPT_EXPIRE) {
        for (int i = optind; i < argc && !l.failed; i++)
            mk_mailsrc_each(MK_PROG, argv[i], mk_learn_each, &l, &l.unreadable);
        if (l.in_batch > 0 && !l.failed && mk_bayes_db_commit(l.db, err, sizeof(err)) != 0) {
            fprintf(stderr, MK_PROG ": %s\n", err);
            l.failed = 1;
        }
        if (l.failed) {
            mk_bayes_db_rollback(l.db);
            fprintf(stderr, MK_PROG ": the store is unchanged since the last %d messages' commit\n",
                    MK_LEARN_BATCH);
            rc = EX_TEMPFAIL;
            goto out;
        }
        if (l.tokens_only)
            goto out;
        printf("%zu message(s): %zu learned, %zu already learned, %zu moved, %zu forgotten, %zu "
               "not learned before%s\n",
               l.messages, l.counts[MK_BAYES_LEARNED], l.counts[MK_BAYES_ALREADY],
               l.counts[MK_BAYES_MOVED], l.counts[MK_BAYES_FORGOTTEN], l.counts[MK_BAYES_UNKNOWN],
               l.unreadable ? "; some could not be read" : "");
        if (l.list_scope != NULL)
            printf("%s's lists: %zu sender(s) %s%s\n", l.list_scope, l.listed,
                   l.cls == MK_BAYES_SPAM  ? "on the block list"
                   : l.cls == MK_BAYES_HAM ? "on the friend list"
                                           : "taken off the lists",
                   l.unlisted ? ", some messages had no sender address" : "");
    }
    for (size_t u = 0; u < l.n_users; u++) {
        /* counting a store's tokens reads all of them: a learn of one
         * message (an IMAP move) does it at every 100th message only */
        long nspam = 0, nham = 0;
        mk_bayes_db_totals(l.db, l.users[u], &nspam, &nham);
        if (mode != OPT_EXPIRE && l.messages < MK_LEARN_EXPIRE_EVERY &&
            (nspam + nham) % MK_LEARN_EXPIRE_EVERY != 0)
            continue; /* a few messages: now and then, as a single learn */
        size_t removed = 0;
        if (mk_bayes_db_expire(l.db, l.users[u], cfg->bayes_max_tokens, &removed, err,
                               sizeof(err)) != 0) {
            fprintf(stderr, MK_PROG ": expire: %s\n", err);
            rc = EX_TEMPFAIL;
        } else if (removed > 0 || mode == OPT_EXPIRE) {
            printf("%s: %zu token(s) expired\n", *l.users[u] ? l.users[u] : "global", removed);
        }
        mk_learn_print_stats(l.db, l.users[u]);
    }
    if (rc == EX_OK && l.unreadable > 0)
        rc = 1;
out:
    if (event != NULL)
        g_string_free(event, TRUE);
    g_free(norm);
    mk_bayes_db_close(l.db);
    g_free(path);
    mk_domain_psl_free(l.psl);
    mk_msg_library_cleanup();
    mk_config_free(cfg);
    return rc;
}
