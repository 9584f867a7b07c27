/*
 * NAME
 *   mailkeeper-milter - the mailkeeper mail filter (milter) daemon
 * SYNOPSIS
 *   mailkeeper-milter [-f] [-c FILE]
 *   mailkeeper-milter -n [-c FILE]
 *   mailkeeper-milter -t [--client-ip IP] [--helo NAME] [--from ADDR] [--rcpt ADDR]... FILE...
 * DESCRIPTION
 *   Scores each message an MTA (Postfix, Sendmail) hands over the milter
 *   protocol, adds SpamAssassin-style X-Spam-* headers, rejects spam above
 *   the reject threshold. -n checks the configuration and exits with its
 *   verdict; -t runs the same pipeline over message files with no MTA.
 *   See mailkeeper-milter(8) and mailkeeper.conf(5).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "mk_bayes.h"
#include "mk_config.h"
#include "mk_daemon.h"
#include "mk_dns.h"
#include "mk_domain.h"
#include "mk_log.h"
#include "mk_msg.h"
#include "mk_mta.h"
#include "mk_pipe.h"
#include "mk_sa.h"
#include "mk_testmode.h"

#define MK_PROG "mailkeeper-milter"

static void usage(FILE *out)
{
    fprintf(out, "usage: " MK_PROG " [-f] [-c FILE]        run the filter daemon\n"
                 "       " MK_PROG " -n [-c FILE]          check the configuration and exit\n"
                 "       " MK_PROG " -t [OPTIONS] FILE...  score message files without an MTA\n"
                 "options:\n"
                 "  -c, --config FILE     configuration (default " MK_CONFIG_DEFAULT_PATH ",\n"
                 "                        built-in defaults when that does not exist)\n"
                 "  -f, --foreground      stay in the foreground, log to stderr too\n"
                 "  -n, --check-config    check the configuration; exit 0 if good, 78 if not\n"
                 "  -t, --test            test mode: score FILE... ('-' is standard input)\n"
                 "      --client-ip IP    test mode: the client address (default: none)\n"
                 "      --client-host H   test mode: the client's name\n"
                 "      --helo NAME       test mode: HELO name\n"
                 "      --from ADDR       test mode: envelope sender\n"
                 "      --rcpt ADDR       test mode: envelope recipient (repeatable)\n"
                 "  -V, --version         print the version\n"
                 "  -h, --help            this text\n");
}

enum { OPT_CLIENT_IP = 256, OPT_CLIENT_HOST, OPT_HELO, OPT_FROM, OPT_RCPT };

/* The content rules of [rules] paths: NULL with why "" when none are
 * configured, NULL with why set when they cannot be read; summary says
 * what was loaded and skipped. */
static mk_sa_rules *load_rules(const mk_config *cfg, char *summary, size_t slen, char *why,
                               size_t wlen)
{
    why[0] = summary[0] = '\0';
    if (cfg->rules_paths[0] == '\0')
        return NULL;
    gchar **paths = g_strsplit_set(cfg->rules_paths, ", \t", -1);
    size_t n = 0;
    for (gchar **p = paths; *p != NULL; p++)
        if (**p != '\0')
            paths[n++] = *p;
        else
            g_free(*p);
    paths[n] = NULL;
    char err[400];
    mk_sa_rules *rules = mk_sa_load((const char *const *)paths, n, err, sizeof(err));
    g_strfreev(paths);
    if (rules == NULL) {
        snprintf(why, wlen, "%s: [rules] paths: %s", cfg->path, err);
        return NULL;
    }
    const mk_sa_stats *st = mk_sa_stats_of(rules);
    int o = snprintf(summary, slen, "rules: %zu loaded from %zu file(s); skipped:", st->loaded,
                     st->files);
    for (int i = 0; i < MK_SA_SKIP_N && o > 0 && (size_t)o < slen; i++)
        o += snprintf(summary + o, slen - (size_t)o, "%s %s %zu", i ? "," : "",
                      mk_sa_skip_name((mk_sa_skip)i), st->skipped[i]);
    return rules;
}

/* The Bayes store of [bayes], or NULL when it is off; *failed when it
 * exists and cannot be read (logged). Opened by the user the daemon runs
 * as, so the files SQLite makes beside it (-wal, -shm) are that user's. */
static struct mk_bayes *open_bayes(const mk_config *cfg, int *failed)
{
    *failed = 0;
    if (!cfg->bayes_enabled)
        return NULL;
    char err[512];
    mk_bayes *b = mk_bayes_new(cfg, err, sizeof(err));
    if (b == NULL) {
        mk_log(LOG_ERR, NULL, "%s: [bayes] database: %s", cfg->path, err);
        *failed = 1;
    }
    return b;
}

static int run_daemon(const mk_config *cfg, mk_app *app, int foreground)
{
    char err[512];
    uid_t uid = 0;
    gid_t gid = 0;
    int root = geteuid() == 0;
    if (root && mk_daemon_user(cfg->user, &uid, &gid, err, sizeof(err)) != 0) {
        mk_log(LOG_ERR, NULL, "%s: [general] user: %s", cfg->path, err);
        return EX_CONFIG;
    }
    int unix_sock = strncmp(cfg->socket, "unix:", 5) == 0 || strncmp(cfg->socket, "local:", 6) == 0;
    if (unix_sock)
        umask(0007); /* the MTA reaches the socket through the group */
    if (mk_mta_open(app, cfg->socket, err, sizeof(err)) != 0) {
        mk_log(LOG_ERR, NULL, "%s", err);
        return EX_UNAVAILABLE;
    }
    if (unix_sock && root) {
        const char *path = strchr(cfg->socket, ':') + 1;
        if (chown(path, uid, gid) != 0)
            mk_log(LOG_WARNING, NULL, "chown %s: %s", path, strerror(errno));
    }
    if (!foreground && mk_daemon_detach(err, sizeof(err)) != 0) {
        mk_log(LOG_ERR, NULL, "%s", err);
        return EX_OSERR;
    }
    if (cfg->pid_file[0] != '\0' && mk_daemon_pidfile(cfg->pid_file, err, sizeof(err)) != 0) {
        mk_log(LOG_ERR, NULL, "%s", err);
        return EX_CANTCREAT;
    }
    if (root && mk_daemon_drop_root(cfg->user, uid, gid, err, sizeof(err)) != 0) {
        mk_log(LOG_ERR, NULL, "%s", err);
        return EX_NOPERM;
    }
    int failed;
    app->bayes = open_bayes(cfg, &failed);
    if (failed)
        return EX_CONFIG;
    mk_log(LOG_NOTICE, NULL,
           "mailkeeper-milter %s listening on %s as %s, config %s, %zu block list(s)",
           PACKAGE_VERSION, cfg->socket, root ? cfg->user : "the invoking user", cfg->path,
           cfg->n_rbls);
    int rc = mk_mta_run();
    mk_log(LOG_NOTICE, NULL, "mailkeeper-milter stopped%s", rc == 0 ? "" : " with an error");
    if (cfg->pid_file[0] != '\0' && unlink(cfg->pid_file) != 0 && errno != ENOENT)
        mk_log(LOG_DEBUG, NULL, "cannot remove pid file %s: %s", cfg->pid_file, strerror(errno));
    return rc == 0 ? EX_OK : EX_SOFTWARE;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"foreground", no_argument, NULL, 'f'},
        {"check-config", no_argument, NULL, 'n'},
        {"test", no_argument, NULL, 't'},
        {"client-ip", required_argument, NULL, OPT_CLIENT_IP},
        {"client-host", required_argument, NULL, OPT_CLIENT_HOST},
        {"helo", required_argument, NULL, OPT_HELO},
        {"from", required_argument, NULL, OPT_FROM},
        {"rcpt", required_argument, NULL, OPT_RCPT},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    int foreground = 0, check_only = 0, test_mode = 0;
    mk_test_opts topts = {NULL, "unknown", "localhost", "", NULL, 0};
    const char **rcpts = calloc((size_t)argc + 1, sizeof(*rcpts));
    if (rcpts == NULL)
        return EX_OSERR;
    int c;
    while ((c = getopt_long(argc, argv, "c:fntVh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'f':
            foreground = 1;
            break;
        case 'n':
            check_only = 1;
            break;
        case 't':
            test_mode = 1;
            break;
        case OPT_CLIENT_IP:
            topts.client_ip = optarg;
            break;
        case OPT_CLIENT_HOST:
            topts.client_host = optarg;
            break;
        case OPT_HELO:
            topts.helo = optarg;
            break;
        case OPT_FROM:
            topts.from = optarg;
            break;
        case OPT_RCPT:
            rcpts[topts.n_rcpts++] = optarg;
            break;
        case 'V':
            printf(MK_PROG " %s\n", PACKAGE_VERSION);
            free(rcpts);
            return EX_OK;
        case 'h':
            usage(stdout);
            free(rcpts);
            return EX_OK;
        default:
            usage(stderr);
            free(rcpts);
            return EX_USAGE;
        }
    }
    if (test_mode && optind >= argc) {
        fprintf(stderr, MK_PROG ": -t needs at least one message file\n");
        free(rcpts);
        return EX_USAGE;
    }
    if (!test_mode && optind < argc) {
        fprintf(stderr, MK_PROG ": unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        free(rcpts);
        return EX_USAGE;
    }
    if (topts.n_rcpts == 0)
        rcpts[topts.n_rcpts++] = "postmaster";
    topts.rcpts = rcpts;

    if (config_path == NULL && access(MK_CONFIG_DEFAULT_PATH, F_OK) == 0)
        config_path = MK_CONFIG_DEFAULT_PATH;
    char err[4096];
    mk_config *cfg = mk_config_load(config_path, err, sizeof(err));
    if (cfg == NULL) {
        fprintf(stderr, "%s\n" MK_PROG ": configuration has errors, not starting\n", err);
        free(rcpts);
        return EX_CONFIG;
    }
    if (check_only) {
        char why[512], summary[600];
        mk_sa_rules *rules = load_rules(cfg, summary, sizeof(summary), why, sizeof(why));
        if (rules == NULL && why[0] != '\0') {
            fprintf(stderr, "%s\n" MK_PROG ": configuration has errors, not starting\n", why);
            mk_config_free(cfg);
            free(rcpts);
            return EX_CONFIG;
        }
        if (rules != NULL)
            printf("%s\n", summary);
        mk_sa_free(rules);
        printf("%s: configuration OK\n", cfg->path);
        mk_config_free(cfg);
        free(rcpts);
        return EX_OK;
    }

    mk_log_open(MK_PROG, foreground || test_mode, test_mode ? LOG_WARNING : cfg->log_level);
    mk_msg_library_init();
    if (mk_dns_library_init() != 0) {
        mk_log(LOG_ERR, NULL, "cannot initialise c-ares");
        return EX_OSERR;
    }
    mk_app app;
    mk_app_init(&app, cfg);
    app.psl = mk_domain_psl_load();
    char why[512], summary[600];
    mk_sa_rules *rules = load_rules(cfg, summary, sizeof(summary), why, sizeof(why));
    if (rules == NULL && why[0] != '\0') {
        mk_log(LOG_ERR, NULL, "%s", why);
        mk_domain_psl_free(app.psl);
        mk_config_free(cfg);
        free(rcpts);
        return EX_CONFIG;
    }
    if (rules != NULL)
        mk_log(LOG_INFO, NULL, "%s", summary);
    app.rules = rules;
    int rc = EX_OK;
    if (test_mode) {
        int failed;
        app.bayes = open_bayes(cfg, &failed);
        if (failed)
            rc = EX_CONFIG;
        for (int i = optind; i < argc && !failed; i++)
            if (mk_testmode_file(&app, &topts, argv[i], stdout) != 0)
                rc = EX_DATAERR;
    } else {
        rc = run_daemon(cfg, &app, foreground);
    }
    mk_bayes_free(app.bayes);
    mk_sa_free(rules);
    mk_domain_psl_free(app.psl);
    mk_dns_library_cleanup();
    mk_msg_library_cleanup();
    mk_log_close();
    mk_config_free(cfg);
    free(rcpts);
    return rc;
}
