/*
 * mk_sa_rx: a stock pattern too large for PCRE2 made smaller, with the
 * same meaning. PCRE2 (as Debian builds it) holds at most 64 KB of
 * compiled code per pattern, and a large group repeated {n,m} times is
 * compiled n..m times over: SpamAssassin's form-filling rules grow past
 * that once their tags are expanded. Written once as a named group and
 * called as a subroutine for the other repeats ((?&name), which PCRE2
 * backtracks into like the group itself since 10.30), it is compiled
 * once. Patterns with back references are left alone (a subroutine
 * renumbers nothing, but keeps its captures to itself).
 *
 * The letter tags of the obfuscation rules (<A>, <E>, ...: each letter's
 * look-alikes in several scripts) make the other kind of large pattern:
 * the same group written out dozens of times. mk_sa_rx_share writes the
 * costliest such group once, in a (?(DEFINE)...) block, and calls it
 * where it stood.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "mk_sa_int.h"

const char *mk_sa_rx_class_end(const char *p)
{
    p++;
    if (*p == '^')
        p++;
    if (*p == ']')
        p++; /* a first ']' is literal */
    while (*p != '\0' && *p != ']') {
        if (p[0] == '\\' && p[1] == 'Q') { /* \Q...\E is literal, in a class too */
            const char *e = strstr(p + 2, "\\E");
            p = e != NULL ? e + 2 : p + strlen(p);
        } else if (*p == '\\' && p[1] != '\0')
            p += 2;
        else if (p[0] == '[' && p[1] == ':' && strstr(p + 2, ":]") != NULL)
            p = strstr(p + 2, ":]") + 2; /* [:alpha:] */
        else
            p++;
    }
    return p;
}

int mk_sa_rx_escape(const char *p, size_t *len)
{
    char c = p[1];
    *len = 2;
    if (c == '\0') {
        *len = 1;
        return -2;
    }
    if (c == 'x') {
        if (p[2] == '{') {
            const char *e = strchr(p + 3, '}');
            if (e == NULL)
                return -2;
            *len = (size_t)(e + 1 - p);
            return (int)MIN(strtoul(p + 3, NULL, 16), 0x100ul);
        }
        int v = 0;
        size_t k = 2;
        for (; k < 4 && g_ascii_isxdigit(p[k]); k++)
            v = v * 16 + g_ascii_xdigit_value(p[k]);
        *len = k;
        return v;
    }
    if (c == 'o' && p[2] == '{') {
        const char *e = strchr(p + 3, '}');
        if (e == NULL)
            return -2;
        *len = (size_t)(e + 1 - p);
        return (int)MIN(strtoul(p + 3, NULL, 8), 0x100ul);
    }
    if (c == '0') {
        int v = 0;
        size_t k = 2;
        for (; k < 4 && p[k] >= '0' && p[k] <= '7'; k++)
            v = v * 8 + (p[k] - '0');
        *len = k;
        return v;
    }
    if ((c >= '1' && c <= '9') || c == 'g' || c == 'k' || c == 'Q' || c == 'E' || c == 'N')
        return -2;
    if (c == 'c') {
        *len = p[2] != '\0' ? 3 : 2;
        return p[2] != '\0' ? (g_ascii_toupper(p[2]) ^ 0x40) : -2;
    }
    if (c == 'p' || c == 'P') {
        if (p[2] == '{') {
            const char *e = strchr(p + 3, '}');
            if (e == NULL)
                return -2;
            *len = (size_t)(e + 1 - p);
        } else if (p[2] != '\0') {
            *len = 3;
        }
        return -1;
    }
    if (strchr("dDwWsShHvVRXbBAzZGK", c) != NULL)
        return -1;
    static const char named[] = "ntrfea", value[] = "\n\t\r\f\033\007";
    const char *at = strchr(named, c);
    if (at != NULL)
        return (unsigned char)value[at - named];
    return (unsigned char)c; /* an escaped character stands for itself */
}

size_t mk_sa_rx_count(const char *p, unsigned *min, unsigned *max, int *open_ended)
{
    if (*p != '{' || !g_ascii_isdigit(p[1]))
        return 0;
    char *end;
    unsigned long lo = strtoul(p + 1, &end, 10), hi = lo;
    *open_ended = 0;
    if (*end == ',') {
        if (g_ascii_isdigit(end[1]))
            hi = strtoul(end + 1, &end, 10);
        else
            *open_ended = 1, end++;
    }
    if (*end != '}' || lo > 65535 || hi > 65535 || hi < lo)
        return 0;
    *min = (unsigned)lo, *max = (unsigned)hi;
    return (size_t)(end + 1 - p);
}

int mk_sa_rx_backrefs(const char *pat)
{
    for (const char *p = pat; *p != '\0'; p++)
        if (p[0] == '\\' && p[1] != '\0') {
            if ((p[1] >= '1' && p[1] <= '9') || p[1] == 'g' || p[1] == 'k')
                return 1;
            p++;
        } else if (strncmp(p, "(?P=", 4) == 0) {
            return 1;
        }
    return 0;
}

GArray *mk_sa_rx_groups(const char *pat, int *top_alt)
{
    GArray *spans = g_array_new(FALSE, FALSE, sizeof(mk_sa_rx_span));
    size_t stack[256], depth = 0;
    int alt[256 + 1] = {0}; /* a '|' at each open depth's own level (0: the top) */
    for (const char *p = pat; *p != '\0'; p++) {
        const char *stop = NULL;           /* where the pattern cannot be read on */
        if (p[0] == '\\' && p[1] == 'Q') { /* \Q...\E is literal */
            const char *e = strstr(p + 2, "\\E");
            if (e == NULL)
                stop = p;
            else
                p = e + 1;
        } else if (p[0] == '\\' && p[1] != '\0') {
            p++;
        } else if (*p == '[') {
            p = mk_sa_rx_class_end(p);
            if (*p == '\0')
                stop = p;
        } else if (*p == '(') {
            if (depth == G_N_ELEMENTS(stack))
                stop = p;
            else
                stack[depth++] = (size_t)(p - pat), alt[depth] = 0;
        } else if (*p == ')' && depth > 0) {
            mk_sa_rx_span sp = {stack[depth - 1], (size_t)(p - pat), (unsigned)depth - 1,
                                alt[depth]};
            depth--;
            g_array_append_val(spans, sp);
        } else if (*p == '|') {
            alt[depth] = 1;
        }
        if (stop != NULL) {
            g_array_free(spans, TRUE);
            return NULL;
        }
    }
    if (top_alt != NULL)
        *top_alt = alt[0];
    return spans;
}

char *mk_sa_rx_shrink(const char *pat)
{
    /* back references: leave the pattern as it is */
    if (mk_sa_rx_backrefs(pat))
        return NULL;
    GArray *spans = mk_sa_rx_groups(pat, NULL);
    if (spans == NULL)
        return NULL;
    /* the repeated group whose copies cost most */
    size_t best_open = 0, best_close = 0, best_qlen = 0, best_cost = 0;
    unsigned best_min = 0, best_max = 0;
    int best_open_ended = 0;
    for (guint i = 0; i < spans->len; i++) {
        size_t open = g_array_index(spans, mk_sa_rx_span, i).open;
        size_t close = g_array_index(spans, mk_sa_rx_span, i).close;
        unsigned min, max;
        int open_ended;
        size_t q = mk_sa_rx_count(pat + close + 1, &min, &max, &open_ended);
        const char *g = pat + open;
        int assertion = strncmp(g, "(?=", 3) == 0 || strncmp(g, "(?!", 3) == 0 ||
                        strncmp(g, "(?<=", 4) == 0 || strncmp(g, "(?<!", 4) == 0 ||
                        strncmp(g, "(?#", 3) == 0;
        size_t copies = q > 0 ? (open_ended ? min : max) : 0;
        if (q > 0 && !assertion && copies >= 2 && pat[close + 1 + q] != '+') {
            size_t cost = (close - open) * (copies - 1);
            if (cost > best_cost) {
                best_cost = cost, best_open = open, best_close = close, best_qlen = q;
                best_min = min, best_max = max, best_open_ended = open_ended;
            }
        }
    }
    g_array_free(spans, TRUE);
    if (best_cost == 0)
        return NULL;
    char name[32];
    for (int n = 1;; n++) {
        snprintf(name, sizeof(name), "mksub%d", n);
        if (strstr(pat, name) == NULL)
            break;
    }
    const char *g = pat + best_open;
    size_t glen = best_close + 1 - best_open;
    /* (?:X) and (X) lend their inside; any other group is kept whole */
    GString *body = g_string_new(NULL);
    if (strncmp(g, "(?:", 3) == 0)
        g_string_append_len(body, g + 3, (gssize)(glen - 4));
    else if (g[1] != '?' && g[1] != '*')
        g_string_append_len(body, g + 1, (gssize)(glen - 2));
    else
        g_string_append_len(body, g, (gssize)glen);
    GString *out = g_string_new_len(pat, (gssize)best_open);
    const char *after = pat + best_close + 1 + best_qlen;
    int lazy = *after == '?';
    GString *rest = g_string_new(NULL);
    if (best_open_ended)
        g_string_printf(rest, "{%u,}", best_min > 0 ? best_min - 1 : 0);
    else
        g_string_printf(rest, "{%u,%u}", best_min > 0 ? best_min - 1 : 0, best_max - 1);
    if (lazy)
        g_string_append_c(rest, '?');
    if (best_min == 0) /* none at all, or one and the rest */
        g_string_append_printf(out, "(?:(?<%s>%s)(?&%s)%s)?%s", name, body->str, name, rest->str,
                               lazy ? "?" : "");
    else
        g_string_append_printf(out, "(?<%s>%s)(?&%s)%s", name, body->str, name, rest->str);
    g_string_append(out, after + lazy);
    g_string_free(rest, TRUE);
    g_string_free(body, TRUE);
    return g_string_free(out, FALSE);
}

/* Whether pattern s (its groups spans) refers to groups by number or
 * recursion ((?1), (?-1), (?+1), (?R)), or sets options inline ((?i),
 * (?-x:...), (?|...)): a group moved to a DEFINE block would then mean
 * something else. */
static int mk_sa_rx_unmovable(const char *s, const GArray *spans)
{
    if (mk_sa_rx_backrefs(s) || strncmp(s, "(*", 2) == 0)
        return 1;
    for (guint i = 0; i < spans->len; i++) {
        const char *g = s + g_array_index(spans, mk_sa_rx_span, i).open;
        if (g[1] == '?' && strchr(":=!<>#&P'(", g[2]) == NULL)
            return 1; /* options, branch reset, numbered calls, recursion */
    }
    return 0;
}

/* the first group at or above this size written out more than once is
 * worth sharing */
#define MK_SA_RX_SHARE_MIN 16

static gint mk_sa_rx_cmp_size(gconstpointer a, gconstpointer b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

char *mk_sa_rx_share(const char *pat)
{
    GArray *spans = mk_sa_rx_groups(pat, NULL);
    if (spans == NULL)
        return NULL;
    if (mk_sa_rx_unmovable(pat, spans)) {
        g_array_free(spans, TRUE);
        return NULL;
    }
    /* every group (?:...) or (...) of at least MK_SA_RX_SHARE_MIN bytes, by
     * its text: how often it stands in the pattern */
    GHashTable *count = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < spans->len; i++) {
        const mk_sa_rx_span *sp = &g_array_index(spans, mk_sa_rx_span, i);
        const char *g = pat + sp->open;
        if (sp->close + 1 - sp->open < MK_SA_RX_SHARE_MIN ||
            (g[1] == '?' && g[2] != ':')) /* assertions, names, DEFINE */
            continue;
        char *text = g_strndup(g, sp->close + 1 - sp->open);
        gpointer n = g_hash_table_lookup(count, text);
        g_hash_table_insert(count, text, GSIZE_TO_POINTER(GPOINTER_TO_SIZE(n) + 1));
    }
    /* the text whose copies cost most */
    const char *best = NULL;
    size_t best_cost = 0;
    GHashTableIter it;
    gpointer key, val;
    g_hash_table_iter_init(&it, count);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        size_t n = GPOINTER_TO_SIZE(val), cost = (n - 1) * strlen(key);
        if (n >= 2 && cost > best_cost)
            best = key, best_cost = cost;
    }
    char *out = NULL;
    if (best != NULL) {
        char name[32];
        for (int n = 1;; n++) {
            snprintf(name, sizeof(name), "mkdef%d", n);
            if (strstr(pat, name) == NULL)
                break;
        }
        size_t blen = strlen(best), from = 0;
        GString *o = g_string_new(NULL);
        g_string_printf(o, "(?(DEFINE)(?<%s>%s))", name, best);
        /* spans come innermost first, and copies of one text never nest */
        GArray *at = g_array_new(FALSE, FALSE, sizeof(size_t));
        for (guint i = 0; i < spans->len; i++) {
            const mk_sa_rx_span *sp = &g_array_index(spans, mk_sa_rx_span, i);
            if (sp->close + 1 - sp->open == blen && memcmp(pat + sp->open, best, blen) == 0)
                g_array_append_val(at, sp->open);
        }
        g_array_sort(at, mk_sa_rx_cmp_size);
        for (guint i = 0; i < at->len; i++) {
            size_t a = g_array_index(at, size_t, i);
            g_string_append_len(o, pat + from, (gssize)(a - from));
            g_string_append_printf(o, "(?&%s)", name);
            from = a + blen;
        }
        g_string_append(o, pat + from);
        g_array_free(at, TRUE);
        out = g_string_free(o, FALSE);
    }
    g_hash_table_destroy(count);
    g_array_free(spans, TRUE);
    return out;
}
