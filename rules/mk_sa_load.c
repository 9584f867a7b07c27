/*
 * mk_sa_load: reading SpamAssassin rule files into a compiled rule set.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "mk_log.h"
#include "mk_sa_int.h"

const char *mk_sa_skip_name(mk_sa_skip why)
{
    static const char *const names[MK_SA_SKIP_N] = {
        "eval test", "plugin not available", "regex", "syntax", "meta dependency", "score 0",
    };
    return (unsigned)why < MK_SA_SKIP_N ? names[why] : "?";
}

/* What a plugin's ifplugin block is to mailkeeper. */
typedef enum {
    MK_SA_PLUGIN_HAVE,   /* its blocks are read */
    MK_SA_PLUGIN_LACK,   /* SpamAssassin runs its tests here, mailkeeper does not */
    MK_SA_PLUGIN_ABSENT, /* SpamAssassin does not run its tests either */
} mk_sa_plugin_class;

/* Plugins whose blocks mailkeeper reads: ReplaceTags (a rewrite of
 * patterns) and MIMEHeader (header rules on MIME parts), which it does in
 * full; Check (the rule engine itself); FreeMail and VBounce; and the
 * plugins that only add eval: tests, whose plain rules run while each
 * eval: test it does not have is skipped and counted as such.
 * The blocks of every other plugin are skipped whole, and a meta reading
 * one of their rules reads it as SpamAssassin does where that plugin's
 * tests do not run: as not hit. Those are network tests (mailkeeper's own
 * DNS checks score under names of their own) and the plugins Debian's
 * SpamAssassin does not load (its *.pre files), whose rules SpamAssassin
 * leaves undefined. Not so the local tests SpamAssassin runs and
 * mailkeeper lacks (image details, SPF, DKIM and DMARC under their
 * SpamAssassin names, ...): a meta reading one of those is skipped. */
static mk_sa_plugin_class mk_sa_plugin_class_of(const char *name)
{
    static const char *const have[] = {
        "ReplaceTags", "MIMEHeader", "Check",   "BodyEval", "HTMLEval", "HeaderEval",
        "MIMEEval",    "RelayEval",  "URIEval", "WLBLEval", "FreeMail", "VBounce",
    };
    static const char *const lack[] = {
        "SPF",
        "DKIM",
        "DMARC",
        "ImageInfo",
        "HTTPSMismatch",
        "URIDetail",
        "Bayes",
        "WelcomeListSubject",
        "WhiteListSubject",
        "AutoLearnThreshold",
    };
    static const char prefix[] = "Mail::SpamAssassin::Plugin::";
    if (strncmp(name, prefix, sizeof(prefix) - 1) != 0)
        return MK_SA_PLUGIN_ABSENT; /* a site's own plugin: not loaded by Debian's */
    name += sizeof(prefix) - 1;
    for (size_t i = 0; i < sizeof(have) / sizeof(have[0]); i++)
        if (strcmp(name, have[i]) == 0)
            return MK_SA_PLUGIN_HAVE;
    for (size_t i = 0; i < sizeof(lack) / sizeof(lack[0]); i++)
        if (strcmp(name, lack[i]) == 0)
            return MK_SA_PLUGIN_LACK;
    return MK_SA_PLUGIN_ABSENT;
}

static int mk_sa_have_plugin(const char *name)
{
    return mk_sa_plugin_class_of(name) == MK_SA_PLUGIN_HAVE;
}

/* can(...): the features of SpamAssassin's rule syntax mailkeeper reads
 * the same way. Not among them: capture rules (%{NAME} in patterns). */
static int mk_sa_have_feature(const char *name)
{
    /* Plugin::NAME::has_TEST: an eval: test mailkeeper has */
    const char *has = strstr(name, "::has_");
    if (strncmp(name, "Mail::SpamAssassin::Plugin::", 28) == 0 && has != NULL) {
        char *plugin = g_strndup(name, (gsize)(has - name));
        int yes = mk_sa_have_plugin(plugin) && mk_sa_evaldef_find(has + 6) != NULL;
        g_free(plugin);
        return yes;
    }
    static const char *const have[] = {
        "Mail::SpamAssassin::Conf::feature_bug6558_free",
        "Mail::SpamAssassin::Conf::feature_welcomelist_blocklist",
        "Mail::SpamAssassin::Conf::feature_yesno_takes_args",
        "Mail::SpamAssassin::Conf::perl_min_version_5010000",
    };
    for (size_t i = 0; i < sizeof(have) / sizeof(have[0]); i++)
        if (strcmp(name, have[i]) == 0)
            return 1;
    return 0;
}

/* The state of one load: the conditional blocks open in each file. */
#define MK_SA_MAX_NEST 32
typedef struct mk_sa_loader {
    mk_sa_rules *rules;
    const char *file;
    int line;
    int depth;
    int active[MK_SA_MAX_NEST]; /* whether lines at this depth are read */
    int lacks[MK_SA_MAX_NEST];  /* not read: because mailkeeper lacks what SpamAssassin has */
    int include_depth;
} mk_sa_loader;

static mk_sa_rule *mk_sa_rule_get(mk_sa_rules *rs, const char *name)
{
    gpointer v = g_hash_table_lookup(rs->by_name, name);
    if (v != NULL)
        return &rs->r[GPOINTER_TO_SIZE(v) - 1];
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 256;
        rs->r = g_renew(mk_sa_rule, rs->r, rs->cap);
    }
    mk_sa_rule *r = &rs->r[rs->n++];
    memset(r, 0, sizeof(*r));
    r->name = g_strdup(name);
    g_hash_table_insert(rs->by_name, r->name, GSIZE_TO_POINTER(rs->n));
    return r;
}

static void mk_sa_rule_reset(mk_sa_rule *r)
{
    if (r->re != NULL)
        pcre2_code_free(r->re);
    r->re = NULL;
    g_free(r->pattern);
    r->pattern = NULL;
    g_free(r->source);
    r->source = NULL;
    r->prefiltered = 0;
    g_free(r->header);
    g_free(r->if_unset);
    g_free(r->expr);
    g_free(r->rpn);
    g_free(r->file);
    r->header = r->if_unset = r->expr = r->file = NULL;
    r->rpn = NULL;
    r->n_rpn = 0;
    r->negate = r->exists = 0;
    r->mode = MK_SA_HDR_DECODED;
    r->skip = 0;
    r->absent = 0;
    r->eval = NULL;
    if (r->arg_re != NULL)
        pcre2_code_free(r->arg_re);
    r->arg_re = NULL;
    r->arg_re_bad = 0;
    g_strfreev(r->args);
    r->args = NULL;
    r->n_args = 0;
}

static void mk_sa_warn(mk_sa_loader *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void mk_sa_warn(mk_sa_loader *ld, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mk_log(LOG_INFO, NULL, "rules: %s:%d: %s", ld->file, ld->line, msg);
}

/* Marks r as defined but not run, for why. */
static void mk_sa_rule_skip(mk_sa_loader *ld, mk_sa_rule *r, mk_sa_skip why)
{
    r->defined = 1;
    r->skip = 1;
    r->skip_why = why;
    r->absent = 0;
    g_free(r->file);
    r->file = g_strdup(ld->file);
    r->line = ld->line;
}

/* Splits "/re/flags rest" (or m{re}flags, m!re!flags) into the pattern
 * (g_free it) and PCRE2 options; *rest points after the flags. NULL with
 * why when it is not a pattern. */
static char *mk_sa_split_regex(const char *s, const char **rest, uint32_t *opts, char *why,
                               size_t whylen)
{
    char open = 0, close = 0;
    if (s[0] == '/') {
        open = close = '/';
        s++;
    } else if (s[0] == 'm' && s[1] != '\0' && !isalnum((unsigned char)s[1]) &&
               !isspace((unsigned char)s[1])) {
        open = s[1];
        close = open == '{'   ? '}'
                : open == '(' ? ')'
                : open == '[' ? ']'
                : open == '<' ? '>'
                              : open;
        s += 2;
    } else {
        snprintf(why, whylen, "no /pattern/");
        return NULL;
    }
    const char *p = s;
    int nest = 0;
    for (; *p != '\0'; p++) {
        if (*p == '\\' && p[1] != '\0') {
            p++;
            continue;
        }
        if (open != close && *p == open)
            nest++;
        else if (*p == close) {
            if (nest == 0)
                break;
            nest--;
        }
    }
    if (*p != close) {
        snprintf(why, whylen, "pattern not closed");
        return NULL;
    }
    size_t len = (size_t)(p - s);
    *opts = 0;
    for (p++; isalpha((unsigned char)*p); p++) {
        switch (*p) {
        case 'i':
            *opts |= PCRE2_CASELESS;
            break;
        case 'm':
            *opts |= PCRE2_MULTILINE;
            break;
        case 's':
            *opts |= PCRE2_DOTALL;
            break;
        case 'x':
            *opts |= PCRE2_EXTENDED;
            break;
        case 'g':
        case 'o':
            break;
        default:
            snprintf(why, whylen, "unknown pattern flag '%c'", *p);
            return NULL;
        }
    }
    *rest = p;
    return g_strndup(s, len);
}

/* Compiles a pattern (one too large for PCRE2 in the form cache found
 * for it, or found and kept there); NULL with why. */
static pcre2_code *mk_sa_compile(const char *pattern, uint32_t opts, mk_sa_memo *cache, char *why,
                                 size_t whylen)
{
    /* Perl code inside a pattern cannot run here: never approximate it */
    if (strstr(pattern, "(?{") != NULL || strstr(pattern, "(??{") != NULL) {
        snprintf(why, whylen, "Perl code in the pattern");
        return NULL;
    }
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &err, &off, NULL);
    const char *known = re == NULL && err == PCRE2_ERROR_PATTERN_TOO_LARGE
                            ? mk_sa_memo_get(cache, "", pattern, opts)
                            : NULL;
    if (known != NULL) { /* the form an earlier start found */
        int kerr;
        PCRE2_SIZE koff;
        re = pcre2_compile((PCRE2_SPTR)known, PCRE2_ZERO_TERMINATED, opts, &kerr, &koff, NULL);
    }
    /* too large: its repeated groups compiled once each, as subroutines,
     * then the groups it writes out more than once */
    char *small = NULL;
    for (int tries = 0; re == NULL && err == PCRE2_ERROR_PATTERN_TOO_LARGE && tries < 64; tries++) {
        const char *cur = small != NULL ? small : pattern;
        char *next = mk_sa_rx_shrink(cur);
        if (next == NULL && !(opts & PCRE2_EXTENDED)) /* not with /x: comments may hold '(' */
            next = mk_sa_rx_share(cur);
        if (next == NULL)
            break;
        g_free(small);
        small = next;
        re = pcre2_compile((PCRE2_SPTR)small, PCRE2_ZERO_TERMINATED, opts, &err, &off, NULL);
    }
    if (re != NULL && small != NULL)
        mk_sa_memo_put(cache, "", pattern, opts, small);
    g_free(small);
    if (re == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(err, msg, sizeof(msg));
        snprintf(why, whylen, "PCRE2: %s at offset %zu", (const char *)msg, (size_t)off);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if JIT fails */
    return re;
}

/* header NAME Header[:mode] =~ /re/ [if-unset: X] | exists:Header */
static void mk_sa_def_header(mk_sa_loader *ld, mk_sa_rule *r, const char *def)
{
    char why[256];
    if (strncmp(def, "exists:", 7) == 0) {
        r->exists = 1;
        r->header = g_strstrip(g_strdup(def + 7));
        return;
    }
    const char *op = strstr(def, "=~");
    const char *nop = strstr(def, "!~");
    if (op == NULL || (nop != NULL && nop < op))
        op = nop, r->negate = 1;
    if (op == NULL) {
        mk_sa_warn(ld, "%s: no =~ or !~", r->name);
        mk_sa_rule_skip(ld, r, MK_SA_SKIP_SYNTAX);
        return;
    }
    char *hdr = g_strstrip(g_strndup(def, (gsize)(op - def)));
    char *colon = strchr(hdr, ':');
    if (colon != NULL) {
        /* Header:addr, Header:name, Header:raw, and combinations */
        gchar **modes = g_strsplit(colon + 1, ":", -1);
        *colon = '\0';
        unsigned m = 0;
        for (gchar **p = modes; *p != NULL; p++) {
            if (strcmp(*p, "raw") == 0)
                m |= MK_SA_HDR_RAW;
            else if (strcmp(*p, "addr") == 0)
                m |= MK_SA_HDR_ADDR;
            else if (strcmp(*p, "name") == 0)
                m |= MK_SA_HDR_NAME;
            else {
                mk_sa_warn(ld, "%s: header mode :%s not supported", r->name, *p);
                g_strfreev(modes);
                g_free(hdr);
                mk_sa_rule_skip(ld, r, MK_SA_SKIP_SYNTAX);
                return;
            }
        }
        g_strfreev(modes);
        if ((m & MK_SA_HDR_ADDR) && (m & MK_SA_HDR_NAME)) {
            mk_sa_warn(ld, "%s: :addr and :name together", r->name);
            g_free(hdr);
            mk_sa_rule_skip(ld, r, MK_SA_SKIP_SYNTAX);
            return;
        }
        r->mode = (mk_sa_hdr_mode)m;
    }
    r->header = hdr;
    const char *p = op + 2, *rest = NULL;
    while (isspace((unsigned char)*p))
        p++;
    r->pattern = mk_sa_split_regex(p, &rest, &r->opts, why, sizeof(why));
    if (r->pattern == NULL) {
        mk_sa_warn(ld, "%s: %s", r->name, why);
        mk_sa_rule_skip(ld, r, MK_SA_SKIP_REGEX);
        return;
    }
    const char *unset = strstr(rest, "[if-unset:");
    if (unset != NULL) {
        const char *v = unset + 10, *e = strrchr(v, ']');
        while (*v == ' ')
            v++;
        r->if_unset = g_strndup(v, e != NULL ? (gsize)(e - v) : strlen(v));
        g_strstrip(r->if_unset);
    }
}

/* The arguments of an eval call, split at the commas outside quotes
 * (a pattern argument may hold "{0,6}"); g_strfreev it. */
static char **mk_sa_split_args(const char *s)
{
    GPtrArray *out = g_ptr_array_new();
    const char *start = s;
    char quote = 0;
    for (const char *p = s;; p++) {
        if (*p == '\0' || (quote == 0 && *p == ',')) {
            g_ptr_array_add(out, g_strndup(start, (gsize)(p - start)));
            if (*p == '\0')
                break;
            start = p + 1;
        } else if (quote == 0 && (*p == '\'' || *p == '"')) {
            quote = *p;
        } else if (*p == quote) {
            quote = 0;
        }
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

/* KIND NAME eval:function('arg', ...): an eval test mailkeeper has runs,
 * with its arguments unquoted; any other is skipped as such. */
static void mk_sa_def_eval(mk_sa_loader *ld, mk_sa_rule *r, mk_sa_kind kind, const char *call)
{
    const char *open = strchr(call, '('), *close = strrchr(call, ')');
    char *fname = g_strstrip(g_strndup(call, open != NULL ? (gsize)(open - call) : strlen(call)));
    const mk_sa_evaldef *def = mk_sa_evaldef_find(fname);
    if (def == NULL || open == NULL || close == NULL || close < open) {
        mk_log(LOG_DEBUG, NULL, "rules: %s:%d: %s: eval test %s not available", ld->file, ld->line,
               r->name, fname);
        g_free(fname);
        mk_sa_rule_skip(ld, r, MK_SA_SKIP_EVAL);
        return;
    }
    g_free(fname);
    char *inner = g_strndup(open + 1, (gsize)(close - open - 1));
    char **args = mk_sa_split_args(inner);
    g_free(inner);
    size_t n = 0;
    for (char **a = args; *a != NULL; a++) {
        char *s = g_strstrip(*a);
        size_t len = strlen(s);
        if (len >= 2 && (s[0] == '\'' || s[0] == '"') && s[len - 1] == s[0]) {
            memmove(s, s + 1, len - 2);
            s[len - 2] = '\0';
        }
        if (*s != '\0' || a[1] != NULL || n > 0)
            n++;
    }
    if (n < def->min_args || n > def->max_args) {
        mk_sa_warn(ld, "%s: %s takes %u to %u argument(s), not %zu", r->name, def->name,
                   def->min_args, def->max_args, n);
        g_strfreev(args);
        mk_sa_rule_skip(ld, r, MK_SA_SKIP_SYNTAX);
        return;
    }
    int known = def->first_args == NULL;
    for (const char *const *a = def->first_args; a != NULL && *a != NULL && !known; a++)
        known = strcmp(*a, args[0]) == 0;
    if (!known) { /* a variant of the test mailkeeper does not count */
        g_strfreev(args);
        mk_sa_rule_skip(ld, r, MK_SA_SKIP_EVAL);
        return;
    }
    r->kind = kind;
    r->defined = 1;
    r->file = g_strdup(ld->file);
    r->line = ld->line;
    r->eval = def;
    r->args = args;
    r->n_args = n;
    if (def->re_arg > 0 && n >= def->re_arg && args[def->re_arg - 1][0] != '\0') {
        /* compiled here, not per message (as SpamAssassin's plugins do) */
        int err;
        PCRE2_SIZE off;
        r->arg_re = pcre2_compile((PCRE2_SPTR)args[def->re_arg - 1], PCRE2_ZERO_TERMINATED, 0, &err,
                                  &off, NULL);
        if (r->arg_re != NULL) {
            pcre2_jit_compile(r->arg_re, PCRE2_JIT_COMPLETE);
        } else {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(err, msg, sizeof(msg));
            mk_sa_warn(ld, "%s: %s: argument %u: %s at offset %zu: the test is never hit", r->name,
                       def->name, def->re_arg, (const char *)msg, (size_t)off);
            r->arg_re_bad = 1;
        }
    }
}

/* body/rawbody/full/uri NAME /re/flags */
static void mk_sa_def_pattern(mk_sa_loader *ld, mk_sa_rule *r, const char *def)
{
    char why[256];
    const char *rest = NULL;
    r->pattern = mk_sa_split_regex(def, &rest, &r->opts, why, sizeof(why));
    if (r->pattern == NULL) {
        mk_sa_warn(ld, "%s: %s", r->name, why);
        mk_sa_rule_skip(ld, r, MK_SA_SKIP_REGEX);
    }
}

static int mk_sa_load_path(mk_sa_loader *ld, const char *path, char *err, size_t errlen);

/* The value of an if/ifplugin condition: version comparisons, plugin(X),
 * can(X) and perl_version, with ! && || and parentheses. */
typedef struct mk_sa_cond {
    const char *p;
    int lacks; /* a plugin or feature SpamAssassin has and mailkeeper lacks was asked for */
} mk_sa_cond;

static double mk_sa_cond_or(mk_sa_cond *c);

static void mk_sa_cond_ws(mk_sa_cond *c)
{
    while (isspace((unsigned char)*c->p))
        c->p++;
}

static double mk_sa_cond_primary(mk_sa_cond *c)
{
    mk_sa_cond_ws(c);
    if (*c->p == '!') {
        c->p++;
        return !mk_sa_cond_primary(c);
    }
    if (*c->p == '(') {
        c->p++;
        double v = mk_sa_cond_or(c);
        mk_sa_cond_ws(c);
        if (*c->p == ')')
            c->p++;
        return v;
    }
    if (isdigit((unsigned char)*c->p)) {
        char *end;
        double v = strtod(c->p, &end);
        c->p = end;
        return v;
    }
    const char *w = c->p;
    while (isalnum((unsigned char)*c->p) || *c->p == '_')
        c->p++;
    size_t n = (size_t)(c->p - w);
    if (n == 7 && strncmp(w, "version", 7) == 0)
        return 4.000001; /* what the rules ask SpamAssassin's version for: 4.0 */
    if (n == 12 && strncmp(w, "perl_version", 12) == 0)
        return 5.036;
    if ((n == 6 && strncmp(w, "plugin", 6) == 0) || (n == 3 && strncmp(w, "can", 3) == 0)) {
        mk_sa_cond_ws(c);
        const char *a = c->p + (*c->p == '(');
        const char *e = strchr(a, ')');
        char *arg = g_strstrip(g_strndup(a, e ? (gsize)(e - a) : strlen(a)));
        c->p = e ? e + 1 : a + strlen(a);
        int v = n == 6 ? mk_sa_have_plugin(arg) : mk_sa_have_feature(arg);
        if (!v && (n == 3 || mk_sa_plugin_class_of(arg) == MK_SA_PLUGIN_LACK))
            c->lacks = 1;
        g_free(arg);
        return v;
    }
    return 0;
}

static double mk_sa_cond_cmp(mk_sa_cond *c)
{
    double a = mk_sa_cond_primary(c);
    mk_sa_cond_ws(c);
    const char *ops[] = {">=", "<=", "==", "!=", ">", "<"};
    for (size_t i = 0; i < 6; i++) {
        size_t l = strlen(ops[i]);
        if (strncmp(c->p, ops[i], l) == 0) {
            c->p += l;
            double b = mk_sa_cond_primary(c);
            switch (i) {
            case 0:
                return a >= b;
            case 1:
                return a <= b;
            case 2:
                return a == b;
            case 3:
                return a != b;
            case 4:
                return a > b;
            default:
                return a < b;
            }
        }
    }
    return a;
}

static double mk_sa_cond_and(mk_sa_cond *c)
{
    double v = mk_sa_cond_cmp(c);
    for (;;) {
        mk_sa_cond_ws(c);
        if (strncmp(c->p, "&&", 2) != 0)
            return v;
        c->p += 2;
        double w = mk_sa_cond_cmp(c);
        v = v && w;
    }
}

static double mk_sa_cond_or(mk_sa_cond *c)
{
    double v = mk_sa_cond_and(c);
    for (;;) {
        mk_sa_cond_ws(c);
        if (strncmp(c->p, "||", 2) != 0)
            return v;
        c->p += 2;
        double w = mk_sa_cond_and(c);
        v = v || w;
    }
}

/* 1 when lines here are read; else 0, and *lacks says whether a block
 * around them is one SpamAssassin reads and mailkeeper does not. */
static int mk_sa_is_active(const mk_sa_loader *ld, int *lacks)
{
    int active = 1;
    *lacks = 0;
    for (int i = 0; i <= ld->depth; i++)
        if (!ld->active[i]) {
            active = 0;
            *lacks |= ld->lacks[i];
        }
    return active;
}

/* Ends the first word of s in place; returns what follows it, leading
 * white space skipped ("" when nothing does). */
static char *mk_sa_word(char *s)
{
    while (*s != '\0' && !isspace((unsigned char)*s))
        s++;
    if (*s != '\0')
        *s++ = '\0';
    while (isspace((unsigned char)*s))
        s++;
    return s;
}

/* One line of a rule file (comments already removed, trimmed). */
static void mk_sa_line(mk_sa_loader *ld, char *line)
{
    char *arg = mk_sa_word(line);
    const char *dir = line;
    /* conditionals first: they count even inside skipped blocks */
    if (strcmp(dir, "ifplugin") == 0 || strcmp(dir, "if") == 0) {
        if (ld->depth + 1 >= MK_SA_MAX_NEST) {
            mk_sa_warn(ld, "conditionals nested too deep");
            return;
        }
        int v, lacks;
        if (dir[2] == 'p') {
            mk_sa_plugin_class pc = mk_sa_plugin_class_of(arg);
            v = pc == MK_SA_PLUGIN_HAVE;
            lacks = pc == MK_SA_PLUGIN_LACK;
        } else {
            mk_sa_cond c = {arg, 0};
            v = mk_sa_cond_or(&c) != 0;
            lacks = c.lacks;
        }
        ++ld->depth;
        ld->active[ld->depth] = v;
        ld->lacks[ld->depth] = lacks;
        return;
    }
    if (strcmp(dir, "else") == 0) {
        if (ld->depth > 0)
            ld->active[ld->depth] = !ld->active[ld->depth];
        return;
    }
    if (strcmp(dir, "endif") == 0) {
        if (ld->depth > 0)
            ld->depth--;
        else
            mk_sa_warn(ld, "endif without if");
        return;
    }
    mk_sa_rules *rs = ld->rules;
    int lacks, active = mk_sa_is_active(ld, &lacks);
    static const struct {
        const char *dir;
        mk_sa_kind kind;
    } defs[] = {{"header", MK_SA_HEADER}, {"mimeheader", MK_SA_MIMEHEADER},
                {"body", MK_SA_BODY},     {"rawbody", MK_SA_RAWBODY},
                {"full", MK_SA_FULL},     {"uri", MK_SA_URI},
                {"meta", MK_SA_META}};
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        if (strcmp(dir, defs[i].dir) != 0)
            continue;
        char *name = arg, *def = mk_sa_word(arg);
        if (*name == '\0' || *def == '\0') {
            mk_sa_warn(ld, "%s without a name or a definition", dir);
            rs->stats.skipped[MK_SA_SKIP_SYNTAX]++;
            return;
        }
        mk_sa_rule *r = mk_sa_rule_get(rs, name);
        if (!active) {
            if (!r->defined) {
                mk_sa_rule_skip(ld, r, MK_SA_SKIP_PLUGIN);
                r->absent = !lacks;
            } else if (r->skip && r->skip_why == MK_SA_SKIP_PLUGIN) {
                r->absent &= !lacks;
            }
            return;
        }
        mk_sa_rule_reset(r); /* a later definition replaces an earlier one */
        if (defs[i].kind != MK_SA_META && strncmp(def, "eval:", 5) == 0) {
            mk_sa_def_eval(ld, r, defs[i].kind, def + 5);
            return;
        }
        r->kind = defs[i].kind;
        r->defined = 1;
        r->file = g_strdup(ld->file);
        r->line = ld->line;
        if (r->kind == MK_SA_META)
            r->expr = g_strdup(def);
        else if (r->kind != MK_SA_HEADER && r->kind != MK_SA_MIMEHEADER)
            mk_sa_def_pattern(ld, r, def);
        else {
            mk_sa_def_header(ld, r, def);
            if (r->kind == MK_SA_MIMEHEADER && !r->skip &&
                (r->exists || (r->mode & (MK_SA_HDR_ADDR | MK_SA_HDR_NAME)))) {
                mk_sa_warn(ld, "%s: mimeheader takes Header[:raw] =~ /pattern/", r->name);
                mk_sa_rule_skip(ld, r, MK_SA_SKIP_SYNTAX);
            }
        }
        return;
    }
    if (!active)
        return;
    if (strcmp(dir, "score") == 0 || strcmp(dir, "describe") == 0 || strcmp(dir, "tflags") == 0) {
        char *name = arg, *val = mk_sa_word(arg);
        if (*name == '\0')
            return;
        mk_sa_rule *r = mk_sa_rule_get(rs, name);
        if (dir[0] == 's') {
            double s[4];
            int n = 0;
            char *end = val;
            while (n < 4) {
                char *e;
                double v = strtod(end, &e);
                if (e == end)
                    break;
                s[n++] = v;
                end = e;
            }
            if (n == 0) {
                mk_sa_warn(ld, "score %s: no number", name);
                return;
            }
            for (int k = 0; k < MK_SA_SCORESETS; k++)
                r->score[k] = n == 4 ? s[k] : s[0];
            r->has_score = 1;
        } else if (dir[0] == 'd') {
            g_free(r->describe);
            r->describe = g_strdup(val);
        } else {
            r->multiple = r->nice = 0;
            r->maxhits = 0;
            gchar **fl = g_strsplit_set(val, " \t", -1);
            for (gchar **f = fl; *f != NULL; f++) {
                if (strcmp(*f, "multiple") == 0)
                    r->multiple = 1;
                else if (strcmp(*f, "nice") == 0)
                    r->nice = 1;
                else if (strncmp(*f, "maxhits=", 8) == 0)
                    r->maxhits = (unsigned)atoi(*f + 8), r->multiple = 1;
            }
            g_strfreev(fl);
        }
        return;
    }
    /* ReplaceTags */
    static const char *const tagdirs[] = {"replace_tag", "replace_pre", "replace_inter",
                                          "replace_post"};
    for (int t = 0; t < 4; t++) {
        if (strcmp(dir, tagdirs[t]) != 0)
            continue;
        char *name = arg, *val = mk_sa_word(arg);
        if (*name == '\0' || *val == '\0') {
            mk_sa_warn(ld, "%s without a name or a value", dir);
            return;
        }
        g_hash_table_replace(rs->tags[t], g_strdup(name), g_strdup(val));
        return;
    }
    if (strcmp(dir, "replace_rules") == 0) {
        gchar **names = g_strsplit_set(arg, " \t", -1);
        for (gchar **n = names; *n != NULL; n++)
            if (**n != '\0')
                mk_sa_rule_get(rs, *n)->replace = 1;
        g_strfreev(names);
        return;
    }
    if (strcmp(dir, "replace_start") == 0 || strcmp(dir, "replace_end") == 0) {
        char **slot = dir[8] == 's' ? &rs->tag_start : &rs->tag_end;
        g_free(*slot);
        *slot = g_strdup(arg);
        return;
    }
    if (mk_sa_settings_line(&rs->set, dir, arg))
        return;
    if (strcmp(dir, "include") == 0) {
        char *here = g_path_get_dirname(ld->file);
        char *path = g_path_is_absolute(arg) ? g_strdup(arg) : g_build_filename(here, arg, NULL);
        g_free(here);
        char err[256];
        if (ld->include_depth > 8 || mk_sa_load_path(ld, path, err, sizeof(err)) != 0)
            mk_sa_warn(ld, "include %s: %s", arg, ld->include_depth > 8 ? "nested too deep" : err);
        g_free(path);
        return;
    }
    rs->stats.other_directives++;
}

static int mk_sa_load_file(mk_sa_loader *ld, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    mk_sa_loader sub = *ld;
    sub.file = path;
    sub.line = 0;
    sub.depth = 0;
    sub.active[0] = 1;
    sub.lacks[0] = 0;
    sub.include_depth = ld->include_depth + 1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, fp)) >= 0) {
        sub.line++;
        /* a # starts a comment unless escaped (as in patterns: \#) */
        for (char *p = line; *p != '\0'; p++) {
            if (*p == '\\' && p[1] != '\0') {
                p++;
                continue;
            }
            if (*p == '#') {
                *p = '\0';
                break;
            }
        }
        g_strstrip(line);
        if (line[0] != '\0')
            mk_sa_line(&sub, line);
    }
    if (sub.depth != 0)
        mk_sa_warn(&sub, "%d if/ifplugin block(s) not closed at the end", sub.depth);
    free(line);
    fclose(fp);
    ld->rules->stats.files++;
    return 0;
}

static int mk_sa_by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int mk_sa_load_path(mk_sa_loader *ld, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return mk_sa_load_file(ld, path, err, errlen);
    DIR *d = opendir(path);
    if (d == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (g_str_has_suffix(e->d_name, ".cf"))
            g_ptr_array_add(names, g_build_filename(path, e->d_name, NULL));
    closedir(d);
    if (names->len > 1)
        qsort(names->pdata, names->len, sizeof(gpointer), mk_sa_by_name);
    int rc = 0;
    for (guint i = 0; i < names->len && rc == 0; i++)
        rc = mk_sa_load_file(ld, names->pdata[i], err, errlen);
    g_ptr_array_free(names, TRUE);
    return rc;
}

/* ---- patterns ------------------------------------------------------------------ */

/* One pass of ReplaceTags over a pattern (g_free the result): <pre
 * NAME>, <inter NAME> and <post NAME> choose what goes before each tag,
 * between two adjacent tags and after each; <NAME> is the tag. *again
 * is set when a tag's value holds tags of its own. */
static char *mk_sa_expand_pass(const mk_sa_rules *rs, const char *pat, int *again)
{
    const char *open = rs->tag_start ? rs->tag_start : "<";
    const char *close = rs->tag_end ? rs->tag_end : ">";
    size_t lo = strlen(open), lc = strlen(close);
    const char *pre = "", *inter = "", *post = "";
    GString *out = g_string_new(NULL);
    int last_was_tag = 0;
    for (const char *p = pat; *p != '\0';) {
        const char *end = lo > 0 && strncmp(p, open, lo) == 0 ? strstr(p + lo, close) : NULL;
        if (end != NULL) {
            char *name = g_strndup(p + lo, (gsize)(end - p - lo));
            static const char *const kinds[] = {"pre ", "inter ", "post "};
            int done = 0;
            for (int k = 0; k < 3 && !done; k++) {
                size_t kl = strlen(kinds[k]);
                if (strncmp(name, kinds[k], kl) != 0)
                    continue;
                const char *v = g_hash_table_lookup(rs->tags[MK_SA_TAG_PRE + k], name + kl);
                if (v != NULL) {
                    *(k == 0 ? &pre : k == 1 ? &inter : &post) = v;
                    done = 1;
                }
            }
            const char *tag = done ? NULL : g_hash_table_lookup(rs->tags[MK_SA_TAG], name);
            g_free(name);
            if (done || tag != NULL) {
                if (tag != NULL) {
                    *again |= strstr(tag, open) != NULL;
                    if (last_was_tag)
                        g_string_append(out, inter);
                    g_string_append(out, pre);
                    g_string_append(out, tag);
                    g_string_append(out, post);
                    last_was_tag = 1;
                }
                p = end + lc;
                continue;
            }
        }
        if (*p == '\\' && p[1] != '\0')
            g_string_append_c(out, *p++);
        g_string_append_c(out, *p++);
        last_was_tag = 0;
    }
    return g_string_free(out, FALSE);
}

/* A pattern of a replace_rules rule with its tags expanded (g_free it):
 * tags inside the values of tags too, pass after pass, six at most, as
 * SpamAssassin does. */
static char *mk_sa_expand(const mk_sa_rules *rs, const char *pat)
{
    char *cur = g_strdup(pat);
    for (int pass = 0, again = 1; again && pass < 6; pass++) {
        again = 0;
        char *next = mk_sa_expand_pass(rs, cur, &again);
        g_free(cur);
        cur = next;
    }
    return cur;
}

/* Compiles every pattern, once all files (and their replace_ settings)
 * are read. */
static void mk_sa_compile_patterns(mk_sa_rules *rs, const char *cache_dir)
{
    char salt[96] = "mk-rx-1 PCRE2 ";
    pcre2_config(PCRE2_CONFIG_VERSION, salt + strlen(salt));
    mk_sa_memo *cache = mk_sa_memo_open(cache_dir, "large-patterns", salt);
    for (size_t i = 0; i < rs->n; i++) {
        mk_sa_rule *r = &rs->r[i];
        if (!r->defined || r->skip || r->pattern == NULL)
            continue;
        char *src = r->replace ? mk_sa_expand(rs, r->pattern) : g_strdup(r->pattern);
        char why[256];
        r->re = mk_sa_compile(src, r->opts, cache, why, sizeof(why));
        if (r->re == NULL) {
            mk_log(LOG_INFO, NULL, "rules: %s:%d: %s: %s", r->file, r->line, r->name, why);
            r->skip = 1, r->skip_why = MK_SA_SKIP_REGEX;
        }
        if (r->re != NULL && (r->kind == MK_SA_BODY || r->kind == MK_SA_RAWBODY ||
                              r->kind == MK_SA_HEADER || r->kind == MK_SA_URI))
            r->source = src; /* for the prefilter */
        else
            g_free(src);
    }
    mk_sa_memo_close(cache);
}

/* ---- meta expressions ------------------------------------------------------ */

typedef struct mk_sa_mparse {
    mk_sa_rules *rs;
    const char *p;
    GArray *out; /* mk_sa_tok */
    char missing[128];
    int error;
} mk_sa_mparse;

static void mk_sa_m_or(mk_sa_mparse *m);

static void mk_sa_m_ws(mk_sa_mparse *m)
{
    while (isspace((unsigned char)*m->p))
        m->p++;
}

static void mk_sa_m_emit(mk_sa_mparse *m, mk_sa_tok_type t)
{
    mk_sa_tok tok = {t, 0, 0};
    g_array_append_val(m->out, tok);
}

static void mk_sa_m_unary(mk_sa_mparse *m)
{
    mk_sa_m_ws(m);
    if (*m->p == '!') {
        m->p++;
        mk_sa_m_unary(m);
        mk_sa_m_emit(m, MK_SA_T_NOT);
        return;
    }
    if (*m->p == '-') {
        m->p++;
        mk_sa_m_unary(m);
        mk_sa_m_emit(m, MK_SA_T_NEG);
        return;
    }
    if (*m->p == '(') {
        m->p++;
        mk_sa_m_or(m);
        mk_sa_m_ws(m);
        if (*m->p != ')')
            m->error = 1;
        else
            m->p++;
        return;
    }
    if (isdigit((unsigned char)*m->p) || *m->p == '.') {
        char *end;
        mk_sa_tok tok = {MK_SA_T_NUM, 0, strtod(m->p, &end)};
        m->p = end;
        g_array_append_val(m->out, tok);
        return;
    }
    const char *w = m->p;
    while (isalnum((unsigned char)*m->p) || *m->p == '_')
        m->p++;
    if (m->p == w) {
        m->error = 1;
        return;
    }
    char *name = g_strndup(w, (gsize)(m->p - w));
    /* a name nowhere defined reads 0, as in SpamAssassin (the rule array
     * may grow: callers hold indexes, not pointers) */
    mk_sa_rule *dep = mk_sa_rule_get(m->rs, name);
    if (!dep->defined) {
        dep->absent = 1;
        if (m->missing[0] == '\0')
            g_strlcpy(m->missing, name, sizeof(m->missing));
    }
    mk_sa_tok tok = {MK_SA_T_RULE, (size_t)(dep - m->rs->r), 0};
    g_array_append_val(m->out, tok);
    g_free(name);
}

/* Binary operators by precedence, loosest first, as Perl ranks them. */
typedef struct mk_sa_binop {
    const char *op;
    mk_sa_tok_type t;
} mk_sa_binop;

#define MK_SA_LEVELS 5
static const mk_sa_binop mk_sa_levels[MK_SA_LEVELS][7] = {
    {{"||", MK_SA_T_OR}, {NULL, 0}},
    {{"&&", MK_SA_T_AND}, {NULL, 0}},
    {{">=", MK_SA_T_GE},
     {"<=", MK_SA_T_LE},
     {"==", MK_SA_T_EQ},
     {"!=", MK_SA_T_NE},
     {">", MK_SA_T_GT},
     {"<", MK_SA_T_LT},
     {NULL, 0}},
    {{"+", MK_SA_T_ADD}, {"-", MK_SA_T_SUB}, {NULL, 0}},
    {{"*", MK_SA_T_MUL}, {"/", MK_SA_T_DIV}, {NULL, 0}},
};

/* One precedence level: operands of the next level joined by this one's
 * operators, left to right (comparisons do not chain). */
static void mk_sa_m_level(mk_sa_mparse *m, int level)
{
    if (level == MK_SA_LEVELS) {
        mk_sa_m_unary(m);
        return;
    }
    mk_sa_m_level(m, level + 1);
    for (;;) {
        mk_sa_m_ws(m);
        const mk_sa_binop *op = mk_sa_levels[level];
        while (op->op != NULL && strncmp(m->p, op->op, strlen(op->op)) != 0)
            op++;
        if (op->op == NULL)
            return;
        m->p += strlen(op->op);
        mk_sa_m_level(m, level + 1);
        mk_sa_m_emit(m, op->t);
        if (op->t >= MK_SA_T_LT && op->t <= MK_SA_T_NE)
            return;
    }
}

static void mk_sa_m_or(mk_sa_mparse *m)
{
    mk_sa_m_level(m, 0);
}

/* Compiles every meta expression into reverse Polish order. */
static void mk_sa_compile_metas(mk_sa_rules *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        mk_sa_rule *r = &rs->r[i];
        if (!r->defined || r->skip || r->kind != MK_SA_META)
            continue;
        mk_sa_mparse m = {rs, r->expr, g_array_new(FALSE, FALSE, sizeof(mk_sa_tok)), "", 0};
        mk_sa_m_or(&m);
        mk_sa_m_ws(&m);
        if (*m.p != '\0' && !m.error)
            m.error = 1;
        r = &rs->r[i]; /* the names it read may have grown the array */
        r->n_rpn = m.out->len;
        r->rpn = (mk_sa_tok *)g_array_free(m.out, FALSE);
        if (m.error == 1) {
            mk_log(LOG_INFO, NULL, "rules: %s:%d: meta %s: cannot read '%s'", r->file, r->line,
                   r->name, r->expr);
            r->skip = 1, r->skip_why = MK_SA_SKIP_SYNTAX;
        } else if (m.missing[0] != '\0') {
            mk_log(LOG_INFO, NULL,
                   "rules: %s:%d: meta %s names %s, which is not defined: read as not hit", r->file,
                   r->line, r->name, m.missing);
            rs->stats.meta_undefined++;
        }
    }
}

/* Orders what runs: patterns first, then each meta after the metas it
 * reads; a meta on a skipped rule, or in a loop, is skipped itself. */
static void mk_sa_order(mk_sa_rules *rs)
{
    /* metas reading skipped rules are skipped, until nothing changes */
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < rs->n; i++) {
            mk_sa_rule *r = &rs->r[i];
            if (!r->defined || r->skip || r->kind != MK_SA_META)
                continue;
            for (size_t t = 0; t < r->n_rpn; t++)
                if (r->rpn[t].type == MK_SA_T_RULE && rs->r[r->rpn[t].rule].skip &&
                    !rs->r[r->rpn[t].rule].absent) {
                    const mk_sa_rule *dep = &rs->r[r->rpn[t].rule];
                    mk_log(LOG_DEBUG, NULL, "rules: meta %s reads %s, which does not run", r->name,
                           dep->name);
                    r->skip = 1, r->skip_why = MK_SA_SKIP_META, changed = 1;
                    r->root_why = dep->skip_why == MK_SA_SKIP_META ? dep->root_why : dep->skip_why;
                    break;
                }
        }
    }
    rs->order = g_new(size_t, rs->n + 1);
    rs->n_order = 0;
    for (size_t i = 0; i < rs->n; i++)
        if (rs->r[i].defined && !rs->r[i].skip && rs->r[i].kind != MK_SA_META)
            rs->order[rs->n_order++] = i;
    /* depth-first over metas: 0 unseen, 1 on the path, 2 placed */
    unsigned char *mark = g_new0(unsigned char, rs->n);
    size_t *stack = g_new(size_t, rs->n + 1), *pos = g_new(size_t, rs->n + 1);
    for (size_t i = 0; i < rs->n; i++) {
        mk_sa_rule *r = &rs->r[i];
        if (!r->defined || r->skip || r->kind != MK_SA_META || mark[i])
            continue;
        size_t sp = 0;
        stack[sp] = i, pos[sp] = 0, mark[i] = 1;
        while (sp != (size_t)-1) {
            mk_sa_rule *cur = &rs->r[stack[sp]];
            int pushed = 0;
            while (pos[sp] < cur->n_rpn) {
                const mk_sa_tok *t = &cur->rpn[pos[sp]++];
                if (t->type != MK_SA_T_RULE || rs->r[t->rule].kind != MK_SA_META)
                    continue;
                if (mark[t->rule] == 1) {
                    mk_log(LOG_INFO, NULL, "rules: meta %s is in a loop through %s: not run",
                           cur->name, rs->r[t->rule].name);
                    cur->skip = 1, cur->skip_why = cur->root_why = MK_SA_SKIP_META;
                    rs->r[t->rule].skip = 1,
                    rs->r[t->rule].skip_why = rs->r[t->rule].root_why = MK_SA_SKIP_META;
                    continue;
                }
                if (mark[t->rule] == 0 && !rs->r[t->rule].skip) {
                    mark[t->rule] = 1;
                    sp++;
                    stack[sp] = t->rule, pos[sp] = 0;
                    pushed = 1;
                    break;
                }
            }
            if (pushed)
                continue;
            mark[stack[sp]] = 2;
            if (!cur->skip)
                rs->order[rs->n_order++] = stack[sp];
            sp--;
        }
    }
    /* a meta placed before a loop was found below it reads a skipped rule:
     * drop such metas from the order (they read 0 otherwise) */
    size_t o = 0;
    for (size_t k = 0; k < rs->n_order; k++) {
        mk_sa_rule *r = &rs->r[rs->order[k]];
        int bad = 0;
        for (size_t t = 0; r->kind == MK_SA_META && t < r->n_rpn; t++)
            bad |= r->rpn[t].type == MK_SA_T_RULE && rs->r[r->rpn[t].rule].skip &&
                   !rs->r[r->rpn[t].rule].absent;
        if (bad)
            r->skip = 1, r->skip_why = r->root_why = MK_SA_SKIP_META;
        else
            rs->order[o++] = rs->order[k];
    }
    rs->n_order = o;
    g_free(mark);
    g_free(stack);
    g_free(pos);
}

/* Scores: SpamAssassin's defaults (1.0, -1.0 for nice, 0 for __ rules);
 * a rule scoring 0 that no meta reads does not run. Nor does a rule that
 * scores nothing in any score set and that no rule that runs reads (a __
 * part of metas that score 0, or of none): its hit would change no score
 * and no symbol. It stays loaded (counted in stats.unread). */
static void mk_sa_scores(mk_sa_rules *rs)
{
    unsigned char *read = g_new0(unsigned char, rs->n);
    for (size_t k = 0; k < rs->n_order; k++) {
        const mk_sa_rule *r = &rs->r[rs->order[k]];
        for (size_t t = 0; r->kind == MK_SA_META && t < r->n_rpn; t++)
            if (r->rpn[t].type == MK_SA_T_RULE)
                read[r->rpn[t].rule] = 1;
    }
    size_t o = 0;
    for (size_t k = 0; k < rs->n_order; k++) {
        size_t i = rs->order[k];
        mk_sa_rule *r = &rs->r[i];
        int zero = 1;
        for (int set = 0; set < MK_SA_SCORESETS; set++) {
            if (!r->has_score)
                r->score[set] = strncmp(r->name, "__", 2) == 0 ? 0.0 : r->nice ? -1.0 : 1.0;
            zero &= r->score[set] == 0.0;
        }
        if (r->has_score && zero && !read[i] && strncmp(r->name, "__", 2) != 0) {
            r->skip = 1, r->skip_why = MK_SA_SKIP_DISABLED;
            continue;
        }
        rs->order[o++] = i;
    }
    rs->n_order = o;
    /* which of those a hit can tell: metas come after the rules they read,
     * so from the last back each reader is judged before what it reads */
    memset(read, 0, rs->n);
    for (size_t k = rs->n_order; k-- > 0;) {
        const mk_sa_rule *r = &rs->r[rs->order[k]];
        for (int set = 0; set < MK_SA_SCORESETS && strncmp(r->name, "__", 2) != 0; set++)
            read[rs->order[k]] |= r->score[set] != 0.0;
        for (size_t t = 0; read[rs->order[k]] && r->kind == MK_SA_META && t < r->n_rpn; t++)
            if (r->rpn[t].type == MK_SA_T_RULE)
                read[r->rpn[t].rule] = 1;
    }
    o = 0;
    for (size_t k = 0; k < rs->n_order; k++)
        if (read[rs->order[k]])
            rs->order[o++] = rs->order[k];
        else
            rs->stats.unread++;
    rs->n_order = o;
    g_free(read);
}

mk_sa_rules *mk_sa_load(const char *const *paths, size_t n_paths, const char *cache, char *err,
                        size_t errlen)
{
    mk_sa_rules *rs = g_new0(mk_sa_rules, 1);
    rs->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    mk_sa_settings_init(&rs->set);
    for (int t = 0; t < 4; t++)
        rs->tags[t] = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    mk_sa_loader ld = {rs, "", 0, 0, {1}, {0}, 0};
    for (size_t i = 0; i < n_paths; i++)
        if (mk_sa_load_path(&ld, paths[i], err, errlen) != 0) {
            mk_sa_free(rs);
            return NULL;
        }
    mk_sa_settings_finish(&rs->set);
    mk_sa_compile_patterns(rs, cache);
    mk_sa_compile_metas(rs);
    mk_sa_order(rs);
    mk_sa_scores(rs);
    rs->mctx = pcre2_match_context_create(NULL);
    rs->jit = g_new0(mk_sa_jit_pool, 1);
    g_mutex_init(&rs->jit->lock);
    rs->jit->free = g_ptr_array_new();
    pcre2_set_match_limit(rs->mctx, MK_SA_MATCH_LIMIT);
    pcre2_set_depth_limit(rs->mctx, MK_SA_DEPTH_LIMIT);
    mk_sa_prepare_headers(rs);
    mk_sa_steps_build(rs);
    rs->stats.loaded = rs->n_order + rs->stats.unread;
    for (size_t k = 0; k < rs->n_order; k++) {
        const mk_sa_rule *r = &rs->r[rs->order[k]];
        int absent = 0;
        for (size_t t = 0; r->kind == MK_SA_META && t < r->n_rpn; t++)
            absent |= r->rpn[t].type == MK_SA_T_RULE && rs->r[r->rpn[t].rule].absent;
        rs->stats.meta_absent += absent;
    }
    for (size_t i = 0; i < rs->n; i++) {
        if (rs->r[i].defined && rs->r[i].skip)
            rs->stats.skipped[rs->r[i].skip_why]++;
        if (rs->r[i].defined && rs->r[i].skip && rs->r[i].skip_why == MK_SA_SKIP_META)
            rs->stats.meta_on[rs->r[i].root_why]++;
    }
    return rs;
}

void mk_sa_free(mk_sa_rules *rs)
{
    if (rs == NULL)
        return;
    mk_sa_use_prefilter(rs, 0, NULL);
    for (size_t i = 0; i < rs->n; i++) {
        mk_sa_rule_reset(&rs->r[i]);
        g_free(rs->r[i].describe);
        g_free(rs->r[i].name);
    }
    g_free(rs->r);
    g_free(rs->order);
    g_free(rs->steps);
    g_free(rs->rpn);
    g_free(rs->nums);
    g_free(rs->readers);
    for (size_t s = 0; s < rs->n_slots; s++)
        g_free(rs->slots[s].header);
    g_free(rs->slots);
    if (rs->by_name != NULL)
        g_hash_table_destroy(rs->by_name);
    if (rs->mctx != NULL)
        pcre2_match_context_free(rs->mctx);
    if (rs->jit != NULL) {
        for (guint i = 0; i < rs->jit->free->len; i++)
            pcre2_jit_stack_free(rs->jit->free->pdata[i]);
        g_ptr_array_free(rs->jit->free, TRUE);
        g_mutex_clear(&rs->jit->lock);
        g_free(rs->jit);
    }
    for (int t = 0; t < 4; t++)
        if (rs->tags[t] != NULL)
            g_hash_table_destroy(rs->tags[t]);
    g_free(rs->tag_start);
    g_free(rs->tag_end);
    mk_sa_settings_clear(&rs->set);
    g_free(rs);
}

/* A header read by fewer rules than this has no prefilter: a scan of
 * its own would cost about what the rules do. */
#define MK_SA_PF_SLOT_MIN 8

/* The prefilter of the running rules of kind (and, for header rules,
 * reading slot). */
static mk_sa_prefilter *mk_sa_prefilter_of(mk_sa_rules *rs, mk_sa_kind kind, int slot,
                                           const char *cache, GHashTable *used, mk_sa_memo *memo)
{
    size_t *ids = g_new(size_t, rs->n_order + 1), n = 0;
    for (size_t k = 0; k < rs->n_order; k++) {
        const mk_sa_rule *r = &rs->r[rs->order[k]];
        if (r->kind == kind && (kind != MK_SA_HEADER || r->slot == slot))
            ids[n++] = rs->order[k];
    }
    mk_sa_prefilter *pf =
        mk_sa_prefilter_build(rs, ids, n, cache, used, memo, kind != MK_SA_HEADER);
    g_free(ids);
    return pf;
}

void mk_sa_prefilter_literals(mk_sa_rules *rs, int on)
{
    rs->pf_no_lits = !on;
}

void mk_sa_use_prefilter(mk_sa_rules *rs, int on, const char *cache)
{
    for (int k = 0; k < 3; k++) {
        mk_sa_prefilter_free(rs->pf[k]);
        rs->pf[k] = NULL;
    }
    for (size_t s = 0; s < rs->n_slots; s++) {
        mk_sa_prefilter_free(rs->slots[s].pf);
        rs->slots[s].pf = NULL;
    }
    for (size_t i = 0; i < rs->n; i++)
        rs->r[i].prefiltered = 0;
    rs->stats.prefiltered = rs->stats.prefiltered_header = rs->stats.prefilter_ordinary = 0;
    rs->stats.prefilter_gated = rs->stats.prefiltered_uri = rs->stats.prefilter_ascii = 0;
    rs->stats.prefilter_tail = rs->stats.prefilter_lit = 0;
    if (!on) {
        mk_sa_steps_build(rs);
        return;
    }
    if (cache != NULL && g_mkdir_with_parents(cache, 0755) != 0) {
        mk_log(LOG_INFO, NULL, "rules: prefilter: no cache in %s: %s", cache, g_strerror(errno));
        cache = NULL;
    }
    GHashTable *used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    mk_sa_memo *memo = mk_sa_prefilter_memo(cache);
    rs->pf[0] = mk_sa_prefilter_of(rs, MK_SA_BODY, -1, cache, used, memo);
    rs->pf[1] = mk_sa_prefilter_of(rs, MK_SA_RAWBODY, -1, cache, used, memo);
    rs->pf[2] = mk_sa_prefilter_of(rs, MK_SA_URI, -1, cache, used, memo);
    for (size_t s = 0; s < rs->n_slots; s++)
        if (rs->slots[s].n_rules >= MK_SA_PF_SLOT_MIN) {
            rs->slots[s].pf = mk_sa_prefilter_of(rs, MK_SA_HEADER, (int)s, cache, used, memo);
            rs->stats.prefiltered_header += mk_sa_prefilter_size(rs->slots[s].pf);
            rs->stats.prefilter_ascii += mk_sa_prefilter_ascii(rs->slots[s].pf);
        }
    mk_sa_memo_close(memo);
    mk_sa_prefilter_prune(cache, used);
    g_hash_table_destroy(used);
    rs->stats.prefiltered = mk_sa_prefilter_size(rs->pf[0]) + mk_sa_prefilter_size(rs->pf[1]);
    rs->stats.prefiltered_uri = mk_sa_prefilter_size(rs->pf[2]);
    for (int k = 0; k < 3; k++) {
        rs->stats.prefilter_ordinary += mk_sa_prefilter_ordinary(rs->pf[k]);
        rs->stats.prefilter_gated += mk_sa_prefilter_gated(rs->pf[k]);
        rs->stats.prefilter_ascii += mk_sa_prefilter_ascii(rs->pf[k]);
        rs->stats.prefilter_tail += mk_sa_prefilter_tails(rs->pf[k]);
        rs->stats.prefilter_lit += mk_sa_prefilter_lits(rs->pf[k]);
    }
    mk_sa_steps_build(rs);
}

/* rs->readers and each step's run of them, and each meta step's zero,
 * from the steps and their tokens. */
static void mk_sa_readers_build(mk_sa_rules *rs)
{
    g_free(rs->readers);
    uint32_t *at = g_new0(uint32_t, rs->n + 2); /* per rule: where its readers start */
    size_t n_read = 0;
    for (size_t k = 0; k < rs->n_order; k++) {
        const mk_sa_step *st = &rs->steps[k];
        for (size_t t = 0; st->kind == MK_SA_META && t < st->n_rpn; t++)
            if (rs->rpn[st->rpn + t].type == MK_SA_T_RULE) {
                at[rs->rpn[st->rpn + t].arg + 1]++;
                n_read++;
            }
    }
    for (size_t i = 0; i < rs->n; i++)
        at[i + 1] += at[i];
    for (size_t k = 0; k < rs->n_order; k++) {
        mk_sa_step *st = &rs->steps[k];
        st->readers = at[st->rule];
        st->n_readers = at[st->rule + 1] - at[st->rule];
    }
    rs->readers = g_new(uint32_t, n_read + 1);
    unsigned *zeros = g_new0(unsigned, rs->n + 1);
    for (size_t k = 0; k < rs->n_order; k++) {
        mk_sa_step *st = &rs->steps[k];
        if (st->kind != MK_SA_META)
            continue;
        for (size_t t = 0; t < st->n_rpn; t++)
            if (rs->rpn[st->rpn + t].type == MK_SA_T_RULE)
                rs->readers[at[rs->rpn[st->rpn + t].arg]++] = st->rule;
        st->zero = mk_sa_meta_value(rs->rpn + st->rpn, st->n_rpn, rs->nums, zeros) != 0;
    }
    g_free(at);
    g_free(zeros);
}

void mk_sa_steps_build(mk_sa_rules *rs)
{
    g_free(rs->steps);
    g_free(rs->rpn);
    g_free(rs->nums);
    size_t n_tok = 0, n_num = 0;
    for (size_t k = 0; k < rs->n_order; k++) {
        const mk_sa_rule *r = &rs->r[rs->order[k]];
        for (size_t t = 0; r->kind == MK_SA_META && t < r->n_rpn; t++) {
            n_tok++;
            n_num += r->rpn[t].type == MK_SA_T_NUM;
        }
    }
    rs->steps = g_new0(mk_sa_step, rs->n_order + 1);
    rs->rpn = g_new(mk_sa_mtok, n_tok + 1);
    rs->nums = g_new(double, n_num + 1);
    rs->reads_full = rs->reads_uris = 0;
    n_tok = n_num = 0;
    for (size_t k = 0; k < rs->n_order; k++) {
        const mk_sa_rule *r = &rs->r[rs->order[k]];
        mk_sa_step *st = &rs->steps[k];
        st->rule = (uint32_t)rs->order[k];
        st->kind = (uint8_t)r->kind;
        if (r->kind == MK_SA_META) {
            st->rpn = (uint32_t)n_tok;
            st->n_rpn = (uint32_t)r->n_rpn;
            for (size_t t = 0; t < r->n_rpn; t++) {
                const mk_sa_tok *from = &r->rpn[t];
                mk_sa_mtok *to = &rs->rpn[n_tok++];
                to->type = (uint32_t)from->type;
                to->arg = from->type == MK_SA_T_RULE  ? (uint32_t)from->rule
                          : from->type == MK_SA_T_NUM ? (uint32_t)n_num
                                                      : 0;
                if (from->type == MK_SA_T_NUM)
                    rs->nums[n_num++] = from->num;
            }
        }
        if (r->prefiltered && r->eval == NULL)
            st->pf = r->kind == MK_SA_BODY      ? 1
                     : r->kind == MK_SA_RAWBODY ? 2
                     : r->kind == MK_SA_URI     ? 3
                                                : 0;
        rs->reads_full |= r->kind == MK_SA_FULL || (r->eval != NULL && r->eval->needs_full);
        rs->reads_uris |= r->kind == MK_SA_URI;
    }
    mk_sa_readers_build(rs);
}

const mk_sa_stats *mk_sa_stats_of(const mk_sa_rules *rules)
{
    return &rules->stats;
}

int mk_sa_reads_full(const mk_sa_rules *rules)
{
    return rules->reads_full;
}

int mk_sa_reads_uris(const mk_sa_rules *rules)
{
    return rules->reads_uris;
}

const char *mk_sa_rule_running(const mk_sa_rules *rules, size_t i)
{
    return i < rules->n_order ? rules->r[rules->order[i]].name : NULL;
}

void mk_sa_summary(const mk_sa_rules *rules, char *out, size_t len)
{
    const mk_sa_stats *st = &rules->stats;
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "rules: %zu loaded from %zu file(s); skipped:", st->loaded,
                           st->files);
    for (int i = 0; i < MK_SA_SKIP_N; i++)
        g_string_append_printf(s, "%s %s %zu", i ? "," : "", mk_sa_skip_name((mk_sa_skip)i),
                               st->skipped[i]);
    g_string_append(s, "; metas skipped by the rule they read:");
    for (int i = 0, first = 1; i < MK_SA_SKIP_N; i++)
        if (st->meta_on[i] > 0) {
            g_string_append_printf(s, "%s %s %zu", first ? "" : ",",
                                   i == MK_SA_SKIP_META ? "undefined or loop"
                                                        : mk_sa_skip_name((mk_sa_skip)i),
                                   st->meta_on[i]);
            first = 0;
        }
    /* what SpamAssassin runs without network tests and plugins of its own:
     * everything but plugin blocks, score 0 and the metas that stand on
     * those */
    static const mk_sa_skip local[] = {MK_SA_SKIP_EVAL, MK_SA_SKIP_REGEX, MK_SA_SKIP_SYNTAX,
                                       MK_SA_SKIP_META};
    size_t all = st->loaded;
    for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
        all += (local[i] == MK_SA_SKIP_META ? 0 : st->skipped[local[i]]) + st->meta_on[local[i]];
    if (all > 0)
        g_string_append_printf(s,
                               "; %zu of %zu (%.1f %%) of the rules that are neither network "
                               "nor plugin tests",
                               st->loaded, all, 100.0 * (double)st->loaded / (double)all);
    if (st->unread > 0)
        g_string_append_printf(s,
                               "; %zu loaded do not run: they score nothing, and no rule that "
                               "runs reads them",
                               st->unread);
    if (st->meta_absent > 0)
        g_string_append_printf(s,
                               "; %zu metas read a test SpamAssassin does not run here either "
                               "as not hit (%zu of them an undefined name)",
                               st->meta_absent, st->meta_undefined);
    if (st->prefiltered > 0 || st->prefiltered_header > 0 || st->prefiltered_uri > 0)
        g_string_append_printf(s,
                               "; %zu body and rawbody patterns, %zu uri patterns and %zu header "
                               "patterns behind the prefilter",
                               st->prefiltered, st->prefiltered_uri, st->prefiltered_header);
    if (st->prefilter_ordinary > 0)
        g_string_append_printf(s, " (%zu more match ordinary text, and run without it)",
                               st->prefilter_ordinary);
    if (st->prefilter_gated > 0)
        g_string_append_printf(s,
                               "; %zu run only on the lines where a gate says they may match "
                               "(their pattern as written, or a part every match holds so many "
                               "times)",
                               st->prefilter_gated);
    if (st->prefilter_ascii > 0)
        g_string_append_printf(s,
                               "; %zu scanned for as written only on the lines that hold 8-bit "
                               "bytes, and on ASCII lines without their 8-bit spellings (where "
                               "any of them remains)",
                               st->prefilter_ascii);
    if (st->prefilter_tail > 0)
        g_string_append_printf(s,
                               "; %zu held by their tail, the costly lead before the literal "
                               "vectorscan starts from left out",
                               st->prefilter_tail);
    if (st->prefilter_lit > 0)
        g_string_append_printf(s,
                               "; %zu run only on the lines that hold one of their literals "
                               "(strings one of which each match holds)",
                               st->prefilter_lit);
    snprintf(out, len, "%s", s->str);
    g_string_free(s, TRUE);
}
