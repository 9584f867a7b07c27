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
#include <malloc.h>
#ifdef HAVE_MIMALLOC
#include <mimalloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "mk_bayes.h"
#include "mk_archive.h"
#include "mk_vault.h"
#include "mk_lists.h"
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
                 "      --list-rules      with -n: also list the content rules that run\n"
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

enum {
    OPT_CLIENT_IP = 256,
    OPT_CLIENT_HOST,
    OPT_HELO,
    OPT_FROM,
    OPT_RCPT,
    OPT_LIST_RULES,
    OPT_AUTH
};

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
    /* compiled forms of the rules: large patterns, prefilter databases */
    char *cache = g_build_filename(cfg->state_dir, "prefilter", NULL);
    mk_sa_rules *rules = mk_sa_load((const char *const *)paths, n, cache, err, sizeof(err));
    g_strfreev(paths);
    if (rules == NULL) {
        snprintf(why, wlen, "%s: [rules] paths: %s", cfg->path, err);
        g_free(cache);
        return NULL;
    }
    mk_sa_use_prefilter(rules, cfg->rules_prefilter, cache);
    g_free(cache);
    mk_sa_summary(rules, summary, slen);
    return rules;
}

/* Frees an app made by app_load(), with what it owns. */
static void app_free(mk_app *app)
{
    if (app == NULL)
        return;
    mk_bayes_free(app->bayes);
    mk_lists_reader_free(app->lists);
    mk_archive_close(app->archive);
    mk_vault_close(app->vault);
    mk_sa_free((mk_sa_rules *)app->rules);
    mk_config_free((mk_config *)app->cfg);
    free(app);
}

/* Which stores app_open_stores opens: the learning store's readers
 * (Bayes, lists), and the archive too (not in test mode: test files are
 * no compliance records). */
enum { APP_STORES_NONE = 0, APP_STORES_READERS = 1, APP_STORES_ALL = 2 };

/* Opens the stores the configuration turns on, of which (APP_STORES_*).
 * 0, or -1 with why. */
static int app_open_stores(mk_app *app, int which, char *why, size_t wlen)
{
    const mk_config *cfg = app->cfg;
    if (cfg->bayes_enabled) {
        char err[512];
        app->bayes = mk_bayes_new(cfg, err, sizeof(err));
        if (app->bayes == NULL) {
            snprintf(why, wlen, "%s: [bayes] database: %s", cfg->path, err);
            return -1;
        }
    }
    if (cfg->lists_enabled)
        app->lists = mk_lists_reader_new(cfg);
    if (cfg->archive_enabled && which == APP_STORES_ALL) {
        char err[512];
        app->archive = mk_archive_open_config(cfg, 1, err, sizeof(err));
        if (app->archive == NULL) {
            snprintf(why, wlen, "%s: [archive]: %s", cfg->path, err);
            return -1;
        }
    }
    if (cfg->vault_enabled && which == APP_STORES_ALL) {
        char err[512];
        app->vault = mk_vault_open_config(cfg, 1, err, sizeof(err));
        if (app->vault == NULL) {
            snprintf(why, wlen, "%s: [vault]: %s", cfg->path, err);
            return -1;
        }
    }
    return 0;
}

/* A new app of cfg (which it takes over), the rules it names and the
 * stores of stores (APP_STORES_*). NULL with every problem in why (file,
 * line, key). summary: the rules line for the log, or "". */
static mk_app *app_load(mk_config *cfg, const psl_ctx_t *psl, int stores, char *why, size_t wlen,
                        char *summary, size_t slen)
{
    mk_app *app = calloc(1, sizeof(*app));
    if (app == NULL) {
        snprintf(why, wlen, "out of memory");
        mk_config_free(cfg);
        return NULL;
    }
    mk_app_init(app, cfg);
    app->psl = psl;
    app->rules = load_rules(cfg, summary, slen, why, wlen);
    if (app->rules == NULL && why[0] != '\0') {
        app_free(app);
        return NULL;
    }
    if (stores != APP_STORES_NONE && app_open_stores(app, stores, why, wlen) != 0) {
        app_free(app);
        return NULL;
    }
    return app;
}

/* What the worker's reload thread needs. */
typedef struct mk_reloader {
    const char *config_path;
    const psl_ctx_t *psl;
    GPtrArray *retired; /* apps replaced, freed once no connection uses them */
} mk_reloader;

/* Frees the retired apps no connection uses any more. */
static void reload_reap(mk_reloader *r)
{
    for (guint i = 0; i < r->retired->len;) {
        mk_app *old = r->retired->pdata[i];
        if (mk_app_users(old) == 0) {
            app_free(old);
            g_ptr_array_remove_index_fast(r->retired, i);
        } else {
            i++;
        }
    }
}

/* The worker's reload thread: on MK_RELOAD_SIGNAL (the supervisor's
 * translation of SIGHUP) the configuration and the rules are read again;
 * new connections get the new set, connections open keep theirs until
 * they close. A set that fails to load changes nothing. */
#define MK_RELOAD_SIGNAL SIGUSR1
static void *reload_thread(void *arg)
{
    mk_reloader *r = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, MK_RELOAD_SIGNAL);
    for (;;) {
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == MK_RELOAD_SIGNAL) {
            char why[4096], summary[MK_SA_SUMMARY_MAX];
            mk_config *cfg = mk_config_load(r->config_path, why, sizeof(why));
            mk_app *app = cfg == NULL ? NULL
                                      : app_load(cfg, r->psl, APP_STORES_ALL, why, sizeof(why),
                                                 summary, sizeof(summary));
            if (app == NULL) {
                for (char *line = strtok(why, "\n"); line != NULL; line = strtok(NULL, "\n"))
                    mk_log(LOG_ERR, NULL, "reload: %s", line);
                mk_log(LOG_ERR, NULL,
                       "reload failed: still running the configuration and "
                       "rules loaded before");
            } else {
                const mk_app *old = mk_mta_swap_app(app);
                g_ptr_array_add(r->retired, (gpointer)old);
                mk_log(LOG_NOTICE, NULL, "reloaded %s%s%s", app->cfg->path, summary[0] ? "; " : "",
                       summary);
            }
        }
        reload_reap(r);
    }
    return NULL;
}

/* Serves until stopped; app is its to free (a reload may replace it). */
static int run_daemon(const char *config_path, mk_app *app, int foreground)
{
    const mk_config *cfg = app->cfg; /* until a reload: not after mk_mta_run() */
    char pid_file[1024];
    snprintf(pid_file, sizeof(pid_file), "%s", cfg->pid_file);
    char err[512];
    uid_t uid;
    gid_t gid;
    int root;
    if (mk_daemon_prepare(cfg->user, cfg->path, &root, &uid, &gid) != 0)
        return EX_CONFIG;
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
    /* the pid file names the supervisor; the worker serves */
    int worker = mk_daemon_supervise(MK_RELOAD_SIGNAL, err, sizeof(err));
    if (worker < 0) {
        mk_log(LOG_ERR, NULL, "%s", err);
        return EX_OSERR;
    }
    if (worker == 1) {
        /* started again after a crash: with the configuration as it is now
         * (reloads since start included), else with the one of the start */
        char why[4096], summary[MK_SA_SUMMARY_MAX];
        mk_config *fresh = mk_config_load(config_path, why, sizeof(why));
        mk_app *now = fresh != NULL ? app_load(fresh, app->psl, APP_STORES_NONE, why, sizeof(why),
                                               summary, sizeof(summary))
                                    : NULL;
        if (now != NULL) {
            mk_mta_swap_app(now);
            app_free(app);
            app = now;
            cfg = app->cfg;
        } else {
            mk_log(LOG_ERR, NULL, "restart: %s; serving the configuration of the start", why);
        }
    }
    /* in the worker: the store is opened here, by the user it runs as, and
     * not shared with the supervisor across fork() */
    if (app_open_stores(app, APP_STORES_ALL, err, sizeof(err)) != 0) {
        mk_log(LOG_ERR, NULL, "%s", err);
        return EX_CONFIG;
    }
    /* blocked in every thread: libmilter's signal thread waits for the
     * three it knows, the reload thread for its own */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, MK_RELOAD_SIGNAL);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    mk_reloader reloader = {config_path, app->psl, g_ptr_array_new()};
    pthread_t tid;
    if (pthread_create(&tid, NULL, reload_thread, &reloader) != 0)
        mk_log(LOG_WARNING, NULL, "no reload thread: SIGHUP will not reload");
    else
        pthread_detach(tid);
    char allocator[32] = "glibc malloc";
#ifdef HAVE_MIMALLOC
    int miv = mi_version(); /* 209: 2.0.9 */
    snprintf(allocator, sizeof(allocator), "mimalloc %d.%d.%d", miv / 100, miv / 10 % 10, miv % 10);
#endif
    mk_log(LOG_NOTICE, NULL,
           "mailkeeper-milter %s listening on %s as %s, config %s, %zu block list(s), %s",
           PACKAGE_VERSION, cfg->socket, root ? cfg->user : "the invoking user", cfg->path,
           cfg->n_rbls, allocator);
    int rc = mk_mta_run();
    mk_log(LOG_NOTICE, NULL, "mailkeeper-milter stopped%s", rc == 0 ? "" : " with an error");
    if (pid_file[0] != '\0' && unlink(pid_file) != 0 && errno != ENOENT)
        mk_log(LOG_DEBUG, NULL, "cannot remove pid file %s: %s", pid_file, strerror(errno));
    /* the app served last is freed here; the retired ones are the reload
     * thread's and go with the process */
    mk_app *last = (mk_app *)mk_mta_swap_app(NULL);
    if (last != NULL && mk_app_users(last) == 0)
        app_free(last);
    return rc == 0 ? EX_OK : EX_SOFTWARE;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"foreground", no_argument, NULL, 'f'},
        {"check-config", no_argument, NULL, 'n'},
        {"list-rules", no_argument, NULL, OPT_LIST_RULES},
        {"test", no_argument, NULL, 't'},
        {"client-ip", required_argument, NULL, OPT_CLIENT_IP},
        {"client-host", required_argument, NULL, OPT_CLIENT_HOST},
        {"helo", required_argument, NULL, OPT_HELO},
        {"auth", required_argument, NULL, OPT_AUTH},
        {"from", required_argument, NULL, OPT_FROM},
        {"rcpt", required_argument, NULL, OPT_RCPT},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
#ifndef HAVE_MIMALLOC
    /* each message allocates and frees megabytes (its text, its views, the
     * rules' and the stores' buffers): kept in the heap for the next one
     * instead of handed back to the kernel and faulted in again (mimalloc,
     * when linked, keeps its pages by itself) */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_TOP_PAD, 4 << 20);
    mallopt(M_MMAP_THRESHOLD, 8 << 20);
#endif
    const char *config_path = NULL;
    int foreground = 0, check_only = 0, test_mode = 0, list_rules = 0;
    mk_test_opts topts = {.client_host = "unknown", .helo = "localhost", .from = ""};
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
        case OPT_LIST_RULES:
            check_only = list_rules = 1;
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
        case OPT_AUTH:
            topts.auth = optarg;
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
    char why[4096], summary[MK_SA_SUMMARY_MAX];
    mk_config *cfg = mk_config_load(config_path, why, sizeof(why));
    if (cfg == NULL) {
        fprintf(stderr, "%s\n" MK_PROG ": configuration has errors, not starting\n", why);
        free(rcpts);
        return EX_CONFIG;
    }
    mk_log_open(MK_PROG, foreground || test_mode || check_only,
                test_mode ? LOG_WARNING : cfg->log_level);
    if (check_only) {
        mk_app *app =
            app_load(cfg, NULL, APP_STORES_NONE, why, sizeof(why), summary, sizeof(summary));
        if (app == NULL) {
            fprintf(stderr, "%s\n" MK_PROG ": configuration has errors, not starting\n", why);
            free(rcpts);
            return EX_CONFIG;
        }
        if (summary[0] != '\0')
            printf("%s\n", summary);
        for (size_t i = 0; list_rules && app->rules != NULL; i++) {
            const char *name = mk_sa_rule_running(app->rules, i);
            if (name == NULL)
                break;
            printf("rule %s\n", name);
        }
        printf("%s: configuration OK\n", app->cfg->path);
        app_free(app);
        free(rcpts);
        return EX_OK;
    }
    mk_msg_library_init();
    if (mk_dns_library_init() != 0) {
        fprintf(stderr, MK_PROG ": cannot initialise c-ares\n");
        return EX_OSERR;
    }
    const psl_ctx_t *psl = mk_domain_psl_load();
    /* the daemon opens the Bayes store in its worker, after dropping root */
    mk_app *app = app_load(cfg, psl, test_mode ? APP_STORES_READERS : APP_STORES_NONE, why,
                           sizeof(why), summary, sizeof(summary));
    if (app == NULL) {
        mk_log(LOG_ERR, NULL, "%s", why);
        mk_log(LOG_ERR, NULL, "configuration has errors, not starting");
        mk_domain_psl_free(psl);
        free(rcpts);
        return EX_CONFIG;
    }
    if (summary[0] != '\0')
        mk_log(LOG_INFO, NULL, "%s", summary);
    int rc = EX_OK;
    if (test_mode) {
        for (int i = optind; i < argc; i++)
            if (mk_testmode_file(app, &topts, argv[i], stdout) != 0)
                rc = EX_DATAERR;
        app_free(app);
    } else {
        rc = run_daemon(config_path, app, foreground); /* frees app */
    }
    mk_domain_psl_free(psl);
    mk_dns_library_cleanup();
    mk_msg_library_cleanup();
    mk_log_close();
    free(rcpts);
    return rc;
}
