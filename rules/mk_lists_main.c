/*
 * NAME
 *   mailkeeper-lists - show and change friend and block lists
 *
 * SYNOPSIS
 *   mailkeeper-lists [-c CONF] show SCOPE
 *   mailkeeper-lists [-c CONF] add SCOPE friend|block ENTRY...
 *   mailkeeper-lists [-c CONF] remove SCOPE ENTRY...
 *   mailkeeper-lists [-c CONF] import SCOPE [FILE]
 *   mailkeeper-lists [-c CONF] export SCOPE
 *   mailkeeper-lists [-c CONF] check USER SENDER
 *
 * DESCRIPTION
 *   SCOPE is a user (as the MTA and Dovecot name them, e.g.
 *   alice@example.org), @DOMAIN for everyone at that domain, or "" for
 *   everyone. ENTRY is a sender's address or a whole domain (@example.com,
 *   *@example.com); both are normalized (lower case, domains in IDNA
 *   A-labels). An entry is on one list of a scope at a time: adding it as
 *   friend takes it off the block list.
 *
 *   show and export print "friend ENTRY" and "block ENTRY" lines (show adds
 *   where each came from and when); import reads such lines from FILE or
 *   standard input (# comments and blank lines allowed) and changes
 *   nothing at all if any line is bad, naming each bad line. check says
 *   what the milter would find for a message from SENDER to USER, and
 *   which entry decided.
 *
 *   The lists live in the learning store ([bayes] database), so that
 *   mailkeeper-learn changes them and the Bayes counts in one transaction.
 *
 * EXIT STATUS
 *   0 on success (check prints friend, block or none); 65 on a bad entry,
 *   scope or import line (nothing changed); 64, 66, 73, 75, 78 (sysexits)
 *   on usage, unreadable input, store and configuration errors.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "mk_bayes.h"
#include "mk_config.h"
#include "mk_lists.h"

#define MK_PROG "mailkeeper-lists"

static void usage(FILE *f)
{
    fprintf(f, "usage: " MK_PROG " [-c CONF] show SCOPE\n"
               "       " MK_PROG " [-c CONF] add SCOPE friend|block ENTRY...\n"
               "       " MK_PROG " [-c CONF] remove SCOPE ENTRY...\n"
               "       " MK_PROG " [-c CONF] import SCOPE [FILE]\n"
               "       " MK_PROG " [-c CONF] export SCOPE\n"
               "       " MK_PROG " [-c CONF] check USER SENDER\n"
               "SCOPE: a user, @DOMAIN (everyone at it) or \"\" (everyone);\n"
               "ENTRY: an address or @DOMAIN\n");
}

typedef struct {
    int verbose;
} mk_lists_print;

static void mk_lists_print_one(void *data, const char *entry, mk_list_kind kind, const char *source,
                               time_t t)
{
    const mk_lists_print *p = data;
    if (!p->verbose) {
        printf("%s %s\n", mk_list_kind_name(kind), entry);
        return;
    }
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M", localtime(&t));
    printf("%-6s %-40s %-8s %s\n", mk_list_kind_name(kind), entry, source, when);
}

/* One import line: "friend ENTRY" or "block ENTRY"; 1 with *kind and
 * *entry (g_free it), 0 for a blank or comment line, -1 with why. */
static int mk_lists_line(const char *line, mk_list_kind *kind, char **entry, char *err,
                         size_t errlen)
{
    char *t = g_strstrip(g_strdup(line));
    int rc = 0;
    if (*t != '\0' && *t != '#') {
        char *sp = t + strcspn(t, " \t");
        char save = *sp;
        *sp = '\0';
        *kind = mk_list_kind_parse(t);
        *sp = save;
        if (*kind == MK_LIST_NONE) {
            snprintf(err, errlen, "'%s': a line is \"friend ENTRY\" or \"block ENTRY\"", t);
            rc = -1;
        } else {
            *entry = mk_lists_entry(sp, err, errlen);
            rc = *entry != NULL ? 1 : -1;
        }
    }
    g_free(t);
    return rc;
}

/* Puts entries[i] on scope's list kinds[i] (MK_LIST_NONE: off every
 * list) in one transaction: all or nothing. print: say what became of
 * each. EX_OK, or EX_TEMPFAIL with why on stderr. */
static int mk_lists_apply(mk_bayes_db *db, const char *scope, GPtrArray *entries, GArray *kinds,
                          const char *source, int print)
{
    char err[512];
    if (mk_bayes_db_begin(db, err, sizeof(err)) != 0) {
        fprintf(stderr, MK_PROG ": %s: nothing changed\n", err);
        return EX_TEMPFAIL;
    }
    time_t now = time(NULL);
    size_t changed = 0;
    int rc = EX_OK;
    for (guint i = 0; i < entries->len && rc == EX_OK; i++) {
        mk_list_kind kind = g_array_index(kinds, mk_list_kind, i);
        int r = mk_lists_set(db, scope, entries->pdata[i], kind, source, now, err, sizeof(err));
        if (r < 0)
            rc = EX_TEMPFAIL;
        changed += r > 0;
        if (r >= 0 && print)
            printf("%s: %s\n", (const char *)entries->pdata[i],
                   kind != MK_LIST_NONE ? mk_list_kind_name(kind)
                   : r                  ? "removed"
                                        : "was on no list");
    }
    if (rc == EX_OK && mk_bayes_db_commit(db, err, sizeof(err)) != 0)
        rc = EX_TEMPFAIL;
    if (rc != EX_OK) {
        mk_bayes_db_rollback(db);
        fprintf(stderr, MK_PROG ": %s: nothing changed\n", err);
    } else if (!print) {
        printf("%u entr%s read, %zu changed\n", entries->len, entries->len == 1 ? "y" : "ies",
               changed);
    }
    return rc;
}

/* Reads FILE (or stdin) whole and puts every line on scope's lists in one
 * transaction; with a bad line, names it and changes nothing. */
static int mk_lists_import(mk_bayes_db *db, const char *scope, const char *file)
{
    gchar *text = NULL;
    GError *gerr = NULL;
    if (file == NULL || strcmp(file, "-") == 0) {
        GString *s = g_string_new(NULL);
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
            g_string_append_len(s, buf, (gssize)n);
        text = g_string_free(s, FALSE);
        file = "(standard input)";
    } else if (!g_file_get_contents(file, &text, NULL, &gerr)) {
        fprintf(stderr, MK_PROG ": %s\n", gerr->message);
        g_error_free(gerr);
        return EX_NOINPUT;
    }
    char **lines = g_strsplit(text, "\n", -1);
    g_free(text);
    GPtrArray *entries = g_ptr_array_new_with_free_func(g_free);
    GArray *kinds = g_array_new(FALSE, FALSE, sizeof(mk_list_kind));
    int bad = 0;
    for (int i = 0; lines[i] != NULL; i++) {
        char err[512];
        mk_list_kind kind;
        char *entry = NULL;
        int rc = mk_lists_line(lines[i], &kind, &entry, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, MK_PROG ": %s:%d: %s\n", file, i + 1, err);
            bad++;
        } else if (rc > 0) {
            g_ptr_array_add(entries, entry);
            g_array_append_val(kinds, kind);
        }
    }
    g_strfreev(lines);
    int rc;
    if (bad > 0) {
        fprintf(stderr, MK_PROG ": %d bad line(s): nothing imported\n", bad);
        rc = EX_DATAERR;
    } else {
        rc = mk_lists_apply(db, scope, entries, kinds, "import", 0);
    }
    g_ptr_array_free(entries, TRUE);
    g_array_free(kinds, TRUE);
    return rc;
}

/* add/remove: every ENTRY normalized first; any bad one changes nothing. */
static int mk_lists_change(mk_bayes_db *db, const char *scope, mk_list_kind kind, char **argv,
                           int argc)
{
    GPtrArray *entries = g_ptr_array_new_with_free_func(g_free);
    char err[512];
    int bad = 0;
    for (int i = 0; i < argc; i++) {
        char *e = mk_lists_entry(argv[i], err, sizeof(err));
        if (e == NULL) {
            fprintf(stderr, MK_PROG ": %s\n", err);
            bad++;
        } else {
            g_ptr_array_add(entries, e);
        }
    }
    int rc;
    if (bad > 0 || entries->len == 0) {
        fprintf(stderr, MK_PROG ": nothing changed\n");
        rc = bad > 0 ? EX_DATAERR : EX_USAGE;
    } else {
        GArray *kinds = g_array_new(FALSE, FALSE, sizeof(mk_list_kind));
        for (guint i = 0; i < entries->len; i++)
            g_array_append_val(kinds, kind);
        rc = mk_lists_apply(db, scope, entries, kinds, "manual", 1);
        g_array_free(kinds, TRUE);
    }
    g_ptr_array_free(entries, TRUE);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
        if (c == 'c') {
            config_path = optarg;
        } else if (c == 'h') {
            usage(stdout);
            return EX_OK;
        } else {
            usage(stderr);
            return EX_USAGE;
        }
    }
    int nargs = argc - optind;
    const char *cmd = nargs > 0 ? argv[optind] : "";
    int need =
        strcmp(cmd, "add") == 0                                                                ? 4
        : strcmp(cmd, "remove") == 0                                                           ? 3
        : strcmp(cmd, "check") == 0                                                            ? 3
        : strcmp(cmd, "show") == 0 || strcmp(cmd, "export") == 0 || strcmp(cmd, "import") == 0 ? 2
                                                                                               : -1;
    if (need < 0 || nargs < need) {
        usage(stderr);
        return EX_USAGE;
    }
    char err[4096];
    char *scope = NULL;
    if (strcmp(cmd, "check") != 0 &&
        (scope = mk_lists_scope(argv[optind + 1], err, sizeof(err))) == NULL) {
        fprintf(stderr, MK_PROG ": %s\n", err);
        return EX_DATAERR;
    }
    mk_list_kind kind = MK_LIST_NONE;
    if (strcmp(cmd, "add") == 0 && (kind = mk_list_kind_parse(argv[optind + 2])) == MK_LIST_NONE) {
        fprintf(stderr, MK_PROG ": '%s': the list is friend or block\n", argv[optind + 2]);
        g_free(scope);
        return EX_USAGE;
    }
    mk_config *cfg = mk_config_load_tool(MK_PROG, config_path);
    if (cfg == NULL) {
        g_free(scope);
        return EX_CONFIG;
    }
    int writes =
        strcmp(cmd, "add") == 0 || strcmp(cmd, "remove") == 0 || strcmp(cmd, "import") == 0;
    char *path = mk_bayes_db_path(cfg);
    int rc = EX_OK;
    mk_bayes_db *db = NULL;
    if (!writes && access(path, F_OK) != 0) {
        /* nothing learned or listed yet: empty lists */
    } else if ((db = mk_bayes_db_open(path, writes, err, sizeof(err))) == NULL) {
        fprintf(stderr, MK_PROG ": %s: [bayes] database: %s\n", cfg->path, err);
        rc = EX_CANTCREAT;
        goto out;
    }
    mk_lists_print pr = {strcmp(cmd, "show") == 0};
    if (strcmp(cmd, "show") == 0 || strcmp(cmd, "export") == 0) {
        if (db != NULL && mk_lists_each(db, scope, mk_lists_print_one, &pr) != 0)
            rc = EX_TEMPFAIL;
    } else if (strcmp(cmd, "add") == 0) {
        rc = mk_lists_change(db, scope, kind, argv + optind + 3, nargs - 3);
    } else if (strcmp(cmd, "remove") == 0) {
        rc = mk_lists_change(db, scope, MK_LIST_NONE, argv + optind + 2, nargs - 2);
    } else if (strcmp(cmd, "import") == 0) {
        rc = mk_lists_import(db, scope, nargs > 2 ? argv[optind + 2] : NULL);
    } else { /* check */
        char matched[512] = "";
        mk_list_kind k = db != NULL ? mk_lists_lookup(db, argv[optind + 1], argv[optind + 2],
                                                      matched, sizeof(matched))
                                    : MK_LIST_NONE;
        if (*matched)
            printf("%s (%s)\n", mk_list_kind_name(k), matched);
        else
            printf("%s\n", mk_list_kind_name(k));
    }
out:
    mk_bayes_db_close(db);
    g_free(path);
    g_free(scope);
    mk_config_free(cfg);
    return rc;
}
