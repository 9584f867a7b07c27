/*
 * NAME
 *   mailkeeper-archive - the compliance archive, for compliance staff
 *
 * SYNOPSIS
 *   mailkeeper-archive [-c CONF] import [--direction in|out|internal] PATH...
 *   mailkeeper-archive [-c CONF] search [--json] [--limit N] QUERY...
 *   mailkeeper-archive [-c CONF] export --mbox FILE | --dir DIR QUERY...
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
 *   reordered entry or file. stats says what the archive holds. search
 *   finds entries (from:, to:, subject:, after:, before:, has:attachment,
 *   id:, free text) and prints a table or JSON; export writes what a query
 *   finds as an mbox file (mboxrd) or a folder of .eml files, with a
 *   manifest of SHA-256 sums, which import takes back identically.
 *
 * EXIT STATUS
 *   0 on success; 1 when verify found a problem or import could not read
 *   or store some messages; 64-78 (sysexits) on usage, configuration or
 *   archive errors.
 */
#include "config.h"

#include <getopt.h>
#include <grp.h>
#include <pwd.h>
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
                 "       " MK_PROG " [-c CONF] search [--json] [--limit N] QUERY...\n"
                 "       " MK_PROG " [-c CONF] export --mbox FILE | --dir DIR QUERY...\n"
                 "       " MK_PROG " [-c CONF] show ID\n"
                 "       " MK_PROG " [-c CONF] verify\n"
                 "       " MK_PROG " [-c CONF] stats\n");
}

typedef struct mk_import {
    mk_archive *archive;
    const mk_config *cfg;
    const char *direction;
    size_t stored, failed, skipped;
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
    time_t until;
    int rule;
    mk_archive_env env = {.env_from = env_from,
                          .rcpts = (const char *const *)rcpts->pdata,
                          .n_rcpts = rcpts->len,
                          .direction = im->direction,
                          .arrival = arrival,
                          .parsed = m};
    long long id;
    if (!mk_archive_rules_decide(im->cfg, env_from, env.rcpts, env.n_rcpts, m, arrival, &until,
                                 &rule)) {
        im->skipped++;
    } else {
        env.retain_until = until;
        if (mk_archive_put(im->archive, msg, len, &env, &id, err, sizeof(err)) != 0) {
            fprintf(stderr, MK_PROG ": %s: %s\n", what, err);
            im->failed++;
        } else {
            im->stored++;
        }
    }
    g_free(env_from);
    g_ptr_array_free(rcpts, TRUE);
    mk_msg_free(m);
    mk_msgbuf_free(buf);
    return 0;
}

/* ---- search ------------------------------------------------------------------ */

/* s as a JSON string, quotes included. */
static void mk_json_str(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_printf(out, "\\%c", *p);
        else if (*p < 0x20)
            g_string_append_printf(out, "\\u%04x", *p);
        else
            g_string_append_c(out, (char)*p);
    }
    g_string_append_c(out, '"');
}

/* s cut or padded to width characters (not bytes: UTF-8 stays whole). */
static char *mk_column(const char *s, long width)
{
    if (!g_utf8_validate(s, -1, NULL))
        s = "(not UTF-8)";
    long n = g_utf8_strlen(s, -1);
    char *cut = g_utf8_substring(s, 0, MIN(n, width));
    char *out = g_strdup_printf("%s%*s", cut, (int)(width - MIN(n, width)), "");
    g_free(cut);
    return out;
}

static void mk_time_text(time_t t, char *buf, size_t len)
{
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", gmtime(&t));
}

typedef struct mk_search_out {
    int json;
    long n;
} mk_search_out;

static void mk_search_print(void *data, const mk_archive_hit *h)
{
    mk_search_out *o = data;
    char when[32], until[32];
    mk_time_text(h->arrival, when, sizeof(when));
    mk_time_text(h->retain_until, until, sizeof(until));
    if (!o->json) {
        if (o->n++ == 0)
            printf("%-7s %-19s %-8s %-28s %-28s %s\n", "ID", "ARRIVAL (UTC)", "DIR", "FROM", "TO",
                   "SUBJECT");
        char *from = mk_column(*h->from ? h->from : h->env_from, 28);
        char *to = mk_column(*h->rcpts ? h->rcpts : h->to, 28);
        printf("%-7lld %-19s %-8s %s %s %s%s\n", h->id, when, h->direction, from, to, h->subject,
               *h->attachments ? " [attachments]" : "");
        g_free(from);
        g_free(to);
        return;
    }
    GString *j = g_string_new(o->n++ ? ",\n  {" : "  {");
    g_string_append_printf(j, "\"id\": %lld, \"size\": %lld, \"arrival\": ", h->id, h->size);
    mk_json_str(j, when);
    const char *keys[] = {"retain_until", "sha256", "direction",  "envelope_from",
                          "recipients",   "from",   "to",         "cc",
                          "subject",      "date",   "message_id", "attachments"};
    const char *vals[] = {until,      h->sha256, h->direction,  h->env_from,
                          h->rcpts,   h->from,   h->to,         h->cc,
                          h->subject, h->date,   h->message_id, h->attachments};
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        g_string_append_printf(j, ", \"%s\": ", keys[i]);
        mk_json_str(j, vals[i]);
    }
    g_string_append_c(j, '}');
    fputs(j->str, stdout);
    g_string_free(j, TRUE);
}

/* The query of the words left on the command line, each word one
 * condition (quoted, so that "to:a b" stays one). g_free it. */
static char *mk_query_of(int argc, char **argv, int first)
{
    GString *q = g_string_new(NULL);
    for (int i = first; i < argc; i++) {
        char *w = g_shell_quote(argv[i]);
        g_string_append_printf(q, "%s%s", q->len ? " " : "", w);
        g_free(w);
    }
    return g_string_free(q, FALSE);
}

/* ---- export ------------------------------------------------------------------ */

typedef struct mk_export {
    mk_archive *archive;
    FILE *mbox;      /* --mbox, or NULL */
    const char *dir; /* --dir, or NULL */
    char *base;      /* --dir: its last part, as the manifest names files */
    FILE *manifest;
    long n, failed;
} mk_export;

/* Writes one message as mboxrd: a "From " line, the lines that start with
 * >*"From " get one more '>', a blank line after. */
static int mk_export_mbox(FILE *f, const mk_archive_hit *h, const char *data, size_t len)
{
    char when[64];
    time_t t = h->arrival;
    strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", gmtime(&t));
    fprintf(f, "From %s %s\n", *h->env_from ? h->env_from : "MAILER-DAEMON", when);
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        size_t q = 0;
        while (q < n && p[q] == '>')
            q++;
        if (n - q >= 5 && strncmp(p + q, "From ", 5) == 0)
            fputc('>', f);
        fwrite(p, 1, n, f);
        p += n;
    }
    if (len > 0 && data[len - 1] != '\n')
        fputc('\n', f);
    fputc('\n', f);
    return ferror(f) ? -1 : 0;
}

static void mk_export_one(void *data, const mk_archive_hit *h)
{
    mk_export *x = data;
    char *msg = NULL, err[512];
    size_t len = 0;
    if (mk_archive_get(x->archive, h->id, &msg, &len, err, sizeof(err)) != 0) {
        fprintf(stderr, MK_PROG ": export: %s\n", err);
        x->failed++;
        return;
    }
    int rc;
    char name[64];
    snprintf(name, sizeof(name), "%lld.eml", h->id);
    if (x->mbox != NULL) {
        rc = mk_export_mbox(x->mbox, h, msg, len);
        fprintf(x->manifest, "%s  %s (entry %lld)\n", h->sha256, name, h->id);
    } else {
        char *path = g_build_filename(x->dir, name, NULL);
        GError *gerr = NULL;
        rc = g_file_set_contents(path, msg, (gssize)len, &gerr) ? 0 : -1;
        if (rc != 0) {
            fprintf(stderr, MK_PROG ": export: %s\n", gerr->message);
            g_error_free(gerr);
        }
        g_free(path);
        fprintf(x->manifest, "%s  %s/%s\n", h->sha256, x->base, name);
    }
    if (rc != 0)
        x->failed++;
    else
        x->n++;
    g_free(msg);
}

static void mk_verify_say(void *data, const char *what)
{
    printf("%s\n", what);
}

/* ---- who may, and who did --------------------------------------------------- */

/* The person at the command line: the sudo caller when run through sudo. */
static const char *mk_who(void)
{
    const char *sudo = getenv("SUDO_USER");
    if (geteuid() == 0 && sudo != NULL && *sudo != '\0')
        return sudo;
    struct passwd *pw = getpwuid(getuid());
    return pw != NULL ? pw->pw_name : "unknown";
}

/* Whether the caller may use the archive: root, or a member of [archive]
 * group. Says why not on stderr. */
static int mk_may_use(const mk_config *cfg)
{
    if (geteuid() == 0)
        return 1;
    struct group *gr = getgrnam(cfg->archive_group);
    if (gr != NULL) {
        if (getegid() == gr->gr_gid)
            return 1;
        int n = getgroups(0, NULL);
        gid_t *gids = g_new(gid_t, n > 0 ? n : 1);
        n = getgroups(n, gids);
        for (int i = 0; i < n; i++)
            if (gids[i] == gr->gr_gid) {
                g_free(gids);
                return 1;
            }
        g_free(gids);
    }
    fprintf(stderr,
            MK_PROG ": %s may not use the compliance archive: only members of the group '%s'%s "
                    "may (ask the postmaster)\n",
            mk_who(), cfg->archive_group, gr == NULL ? " (which does not exist here)" : "");
    return 0;
}

/* Records an action in the audit log; a failure is said and fails the run. */
static int mk_audit(mk_archive *a, const char *action, long long msg, const char *detail)
{
    char err[512];
    if (mk_archive_audit(a, mk_who(), action, msg, detail, err, sizeof(err)) == 0)
        return 0;
    fprintf(stderr, MK_PROG ": the audit log cannot record this (%s): %s\n", action, err);
    return -1;
}

static void mk_hold_print(void *data, const char *name, const char *query, const char *reason,
                          time_t created, const char *who)
{
    char when[32];
    mk_time_text(created, when, sizeof(when));
    printf("%s\n  query: %s\n  reason: %s\n  since: %s UTC, by %s\n", name, query, reason, when,
           who);
}

static void mk_purge_print(void *data, long long id, const char *why)
{
    printf("%lld: %s\n", id, why);
}

static void mk_audit_print(void *data, long long seq, const char *record)
{
    char **lines = g_strsplit(record, "\n", -1);
    const char *time_s = "", *who = "", *action = "", *entry = "0", *detail = "";
    for (char **l = lines; *l != NULL; l++) {
        const char **dst = g_str_has_prefix(*l, "time=")     ? &time_s
                           : g_str_has_prefix(*l, "who=")    ? &who
                           : g_str_has_prefix(*l, "action=") ? &action
                           : g_str_has_prefix(*l, "entry=")  ? &entry
                           : g_str_has_prefix(*l, "detail=") ? &detail
                                                             : NULL;
        if (dst != NULL)
            *dst = strchr(*l, '=') + 1;
    }
    char when[32];
    mk_time_text((time_t)g_ascii_strtoll(time_s, NULL, 10), when, sizeof(when));
    int about = strcmp(entry, "0") != 0;
    printf("%-6lld %s  %-12s %-12s %s%s%s%s\n", seq, when, who, action, about ? "entry " : "",
           about ? entry : "", about && *detail ? ": " : "", detail);
    g_strfreev(lines);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"direction", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"limit", required_argument, NULL, 'l'},
        {"mbox", required_argument, NULL, 'm'},
        {"dir", required_argument, NULL, 'D'},
        {"reason", required_argument, NULL, 'r'},
        {"until", required_argument, NULL, 'u'},
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *direction = "in", *mbox = NULL, *outdir = NULL;
    const char *reason = NULL, *until = NULL;
    int json = 0, dry_run = 0;
    long limit = 0;
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
    /* options after the command, anywhere among its words (import
     * --direction, search --json, hold add NAME --reason ...): getopt
     * starts afresh on the words from the command on, and moves the
     * options before the other words */
    int base = optind - 1;
    optind = 0;
    while ((c = getopt_long(argc - base, argv + base, "d:jl:m:D:r:u:n", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'r':
            reason = optarg;
            break;
        case 'u':
            until = optarg;
            break;
        case 'n':
            dry_run = 1;
            break;
        case 'd':
            direction = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'l':
            limit = strtol(optarg, &end, 10);
            if (*end != '\0' || limit <= 0) {
                fprintf(stderr, MK_PROG ": --limit: '%s' is not a positive number\n", optarg);
                return EX_USAGE;
            }
            break;
        case 'm':
            mbox = optarg;
            break;
        case 'D':
            outdir = optarg;
            break;
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    optind += base;
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
    static const char *const cmds[] = {"import", "show", "verify", "stats", "search",
                                       "export", "hold", "retain", "purge", "audit"};
    int known = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++)
        known |= strcmp(cmd, cmds[i]) == 0;
    if (!known) {
        usage(stderr);
        rc = EX_USAGE;
        goto out;
    }
    if (!mk_may_use(cfg)) {
        rc = EX_NOPERM;
        goto out;
    }
    a = mk_archive_open_config(cfg, create, err, sizeof(err));
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
        if (im.skipped)
            printf("%zu message(s) left out by [archive] rules\n", im.skipped);
        printf("%zu message(s) archived%s%s\n", im.stored,
               im.failed ? ", some could not be stored" : "",
               unreadable ? ", some files could not be read" : "");
        mk_log(LOG_INFO, NULL, "import: %zu message(s) archived, %zu failed, %zu unreadable",
               im.stored, im.failed, unreadable);
        if (im.failed || unreadable)
            rc = 1;
        char *d = g_strdup_printf("%zu message(s) from %s%s", im.stored, argv[optind],
                                  argc - optind > 1 ? " ..." : "");
        if (mk_audit(a, "import", 0, d) != 0)
            rc = EX_SOFTWARE;
        g_free(d);
    } else if (strcmp(cmd, "search") == 0) {
        char *query = mk_query_of(argc, argv, optind);
        mk_search_out o = {json, 0};
        if (json)
            printf("[\n");
        long n = mk_archive_search(a, query, limit, mk_search_print, &o, err, sizeof(err));
        if (json)
            printf("%s]\n", o.n ? "\n" : "");
        else if (n >= 0)
            printf("%ld entr%s\n", n, n == 1 ? "y" : "ies");
        if (n < 0) {
            fprintf(stderr, MK_PROG ": %s\n", err);
            rc = EX_USAGE;
        } else {
            char *d = g_strdup_printf("%s (%ld found)", query, n);
            if (mk_audit(a, "search", 0, d) != 0)
                rc = EX_SOFTWARE;
            g_free(d);
        }
        g_free(query);
    } else if (strcmp(cmd, "export") == 0) {
        if ((mbox == NULL) == (outdir == NULL)) {
            fprintf(stderr, MK_PROG ": export: give --mbox FILE or --dir DIR\n");
            rc = EX_USAGE;
            goto out;
        }
        mk_export x = {.archive = a, .dir = outdir};
        char *trimmed = outdir ? g_strdup(outdir) : NULL;
        while (trimmed != NULL && strlen(trimmed) > 1 && g_str_has_suffix(trimmed, "/"))
            trimmed[strlen(trimmed) - 1] = '\0';
        x.base = trimmed ? g_path_get_basename(trimmed) : NULL;
        char *manifest = NULL;
        /* beside the export, not in it (an import of the folder takes
         * every file): checked with sha256sum -c from the folder's parent */
        manifest = g_strconcat(mbox ? mbox : trimmed, ".sha256", NULL);
        g_free(trimmed);
        if (outdir != NULL && g_mkdir_with_parents(outdir, 0750) != 0)
            fprintf(stderr, MK_PROG ": %s: cannot make it\n", outdir);
        x.mbox = mbox ? fopen(mbox, "wbx") : NULL;
        x.manifest = fopen(manifest, "wx");
        if ((mbox != NULL && x.mbox == NULL) || x.manifest == NULL) {
            fprintf(stderr, MK_PROG ": export: cannot make %s or %s (it must not exist yet)\n",
                    mbox ? mbox : outdir, manifest);
            rc = EX_CANTCREAT;
        } else {
            char *query = mk_query_of(argc, argv, optind);
            long n = mk_archive_search(a, query, limit, mk_export_one, &x, err, sizeof(err));
            g_free(query);
            if (n < 0) {
                fprintf(stderr, MK_PROG ": %s\n", err);
                rc = EX_USAGE;
            } else {
                printf("%ld message(s) exported to %s, manifest %s%s\n", x.n, mbox ? mbox : outdir,
                       manifest, x.failed ? "; some could not be read" : "");
                rc = x.failed ? 1 : EX_OK;
                char *q = mk_query_of(argc, argv, optind);
                char *d =
                    g_strdup_printf("%s -> %s (%ld message(s))", q, mbox ? mbox : outdir, x.n);
                if (mk_audit(a, "export", 0, d) != 0)
                    rc = EX_SOFTWARE;
                g_free(d);
                g_free(q);
            }
        }
        if (x.mbox != NULL && fclose(x.mbox) != 0)
            rc = EX_IOERR;
        if (x.manifest != NULL && fclose(x.manifest) != 0)
            rc = EX_IOERR;
        g_free(manifest);
        g_free(x.base);
    } else if (strcmp(cmd, "hold") == 0) {
        const char *sub = optind < argc ? argv[optind++] : "";
        if (strcmp(sub, "list") == 0 && optind == argc) {
            long n = mk_archive_hold_each(a, mk_hold_print, NULL);
            printf("%ld hold(s) in force\n", n);
            rc = n < 0 ? EX_SOFTWARE : mk_audit(a, "hold-list", 0, "") ? EX_SOFTWARE : EX_OK;
        } else if (strcmp(sub, "add") == 0 && optind < argc - 1) {
            const char *name = argv[optind++];
            char *query = mk_query_of(argc, argv, optind);
            if (mk_archive_hold_add(a, name, query, reason, mk_who(), err, sizeof(err)) != 0) {
                fprintf(stderr, MK_PROG ": hold add: %s\n", err);
                rc = 1;
            } else {
                printf("hold %s in force on: %s\n", name, query);
                char *d = g_strdup_printf("%s: %s (%s)", name, query, reason);
                rc = mk_audit(a, "hold-add", 0, d) ? EX_SOFTWARE : EX_OK;
                g_free(d);
            }
            g_free(query);
        } else if (strcmp(sub, "release") == 0 && optind == argc - 1) {
            if (mk_archive_hold_release(a, argv[optind], mk_who(), err, sizeof(err)) != 0) {
                fprintf(stderr, MK_PROG ": hold release: %s\n", err);
                rc = 1;
            } else {
                printf("hold %s released\n", argv[optind]);
                rc = mk_audit(a, "hold-release", 0, argv[optind]) ? EX_SOFTWARE : EX_OK;
            }
        } else {
            fprintf(stderr, "usage: " MK_PROG " hold add NAME --reason TEXT QUERY... | hold list | "
                            "hold release NAME\n");
            rc = EX_USAGE;
        }
    } else if (strcmp(cmd, "retain") == 0) {
        char *end = NULL;
        long long id = optind < argc ? strtoll(argv[optind], &end, 10) : 0;
        GDateTime *t = NULL;
        int y, m, d;
        char tail;
        if (until != NULL && sscanf(until, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3)
            t = g_date_time_new_utc(y, m, d, 0, 0, 0);
        if (optind != argc - 1 || end == NULL || *end != '\0' || id <= 0 || t == NULL) {
            fprintf(stderr, "usage: " MK_PROG " retain ID --until YYYY-MM-DD\n");
            rc = EX_USAGE;
        } else if (mk_archive_retain(a, id, (time_t)g_date_time_to_unix(t), mk_who(), err,
                                     sizeof(err)) != 0) {
            fprintf(stderr, MK_PROG ": retain: %s\n", err);
            rc = 1;
        } else {
            printf("message %lld kept until %s\n", id, until);
            rc = mk_audit(a, "retain", id, until) ? EX_SOFTWARE : EX_OK;
        }
        if (t != NULL)
            g_date_time_unref(t);
    } else if (strcmp(cmd, "purge") == 0) {
        long n = mk_archive_purge(a, time(NULL), dry_run, mk_who(), mk_purge_print, NULL, err,
                                  sizeof(err));
        if (n < 0) {
            fprintf(stderr, MK_PROG ": purge: %s\n", err);
            rc = EX_SOFTWARE;
        } else {
            printf("%ld message(s) %s\n", n, dry_run ? "would be purged" : "purged");
            char *d = g_strdup_printf("%ld message(s)%s", n, dry_run ? " (dry run)" : "");
            rc = mk_audit(a, "purge", 0, d) ? EX_SOFTWARE : EX_OK;
            g_free(d);
        }
    } else if (strcmp(cmd, "audit") == 0) {
        if (mk_archive_audit_each(a, limit, mk_audit_print, NULL) < 0)
            rc = EX_SOFTWARE;
        else
            rc = mk_audit(a, "audit", 0, "") ? EX_SOFTWARE : EX_OK;
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
        /* recorded before the message leaves: no view goes unlogged */
        if (mk_audit(a, "show", id, "") != 0) {
            g_free(data);
            rc = EX_SOFTWARE;
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
            char *d = g_strdup_printf("%lld entries, %ld problem(s)", entries, n);
            if (mk_audit(a, "verify", 0, d) != 0)
                rc = EX_SOFTWARE;
            g_free(d);
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
