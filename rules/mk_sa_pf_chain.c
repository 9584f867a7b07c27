/*
 * mk_sa_pf_chain: a chain gate, for the prefilter, of a pattern that is
 * one group repeated, (?:R){k}. SpamAssassin's form-filling rules are
 * such (three or five form words in a row, each with its separator). A
 * count gate (mk_sa_pf_gate.c) asks for k matches of R on a line; form
 * words are common (age, name, city, "tel" in hotel), so a third of all
 * messages held three, and the rule ran its 1,200-byte alternation from
 * every position of their lines.
 *
 * A chain gate asks for what a match is: k matches of R end to end. Each
 * place where one of them ends and the next starts is a joint: R ends
 * there (vectorscan reports every end of R) and R starts there (every
 * end of R reversed, over the text reversed). So a line may hold a
 * match only where it holds k - 1 joints and, after the last, an end of
 * R. Over 2,000 corpus messages __FILL_THIS_FORM_SHORT2 matches in 2;
 * behind its count gate it ran in 704 of them, behind its chain gate in
 * 8 (and __FILL_THIS_FORM_SHORT1 and _LONG2 in none, against 704 and
 * 319).
 *
 * Vectorscan keeps R whole (not in prefilter mode, which cuts large
 * patterns down to their widths) only when its bounded repeats are small:
 * the copies below widen a repeat of a group, and one of more than
 * three, to * or +, which can only let more through. Lazy and
 * possessive repeats and atomic groups read as plain ones, which again
 * can only widen. Anchors, lookarounds, back references, inline options
 * and escapes other than the plain ones give no chain gate.
 */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "mk_sa_int.h"

/* The most a repeat of a single item keeps as written in a copy */
#define MK_SA_PF_CHAIN_KEEP 3

/* A reading of a pattern: where it stands; bad once it holds what the
 * copies do not follow. */
typedef struct mk_sa_ch_rd {
    const char *p;
    int bad;
} mk_sa_ch_rd;

static void mk_sa_ch_alt(mk_sa_ch_rd *rd, GString *out, int rev);

/* Reads one item at rd->p (a group, a class, an escape, a character),
 * appending its copy (reversed within, for a group, if rev) to out;
 * whether it is a group. */
static int mk_sa_ch_item(mk_sa_ch_rd *rd, GString *out, int rev)
{
    const char *p = rd->p;
    unsigned lo, hi;
    int open_ended;
    if (*p == '(') {
        if (p[1] == '*' || (p[1] == '?' && p[2] != ':' && p[2] != '>')) {
            rd->bad = 1; /* verbs, lookarounds, options, named groups */
            return 1;
        }
        rd->p = p + (p[1] == '?' ? 3 : 1);
        g_string_append(out, "(?:");
        mk_sa_ch_alt(rd, out, rev);
        if (*rd->p != ')')
            rd->bad = 1;
        else
            rd->p++;
        g_string_append_c(out, ')');
        return 1;
    }
    if (*p == '[') {
        const char *end = mk_sa_rx_class_end(p);
        if (*end != ']') {
            rd->bad = 1;
            return 0;
        }
        g_string_append_len(out, p, end + 1 - p);
        rd->p = end + 1;
        return 0;
    }
    if (*p == '\\') {
        size_t len;
        int b = mk_sa_rx_escape(p, &len);
        if (b >= 0 && b <= 0xff && strchr("x0oc", p[1]) != NULL)
            /* a byte by number, written whole: reversed, \x4 before a 1
             * would read \x41 */
            g_string_append_printf(out, "\\x%02x", (unsigned)b);
        else if ((b >= 0 && b <= 0xff) || (b == -1 && strchr("dDsSwWbB", p[1]) != NULL))
            g_string_append_len(out, p, (gssize)len);
        else
            rd->bad = 1; /* back references, \A \z \G \Q \K \p and the rest */
        rd->p = p + len;
        return 0;
    }
    if (*p == '^' || *p == '$' || *p == '*' || *p == '+' || *p == '?' ||
        mk_sa_rx_count(p, &lo, &hi, &open_ended) > 0) {
        rd->bad = 1; /* an anchor, or a repeat of nothing */
        return 0;
    }
    if (*p == '{')
        g_string_append(out, "\\{"); /* a brace that counts nothing is itself */
    else
        g_string_append_c(out, *p);
    rd->p = p + 1;
    return 0;
}

/* Reads the repeat after an item, if any, and appends its widened form
 * to out: a group's beyond one, or an item's beyond
 * MK_SA_PF_CHAIN_KEEP, as * or +. */
static void mk_sa_ch_repeat(mk_sa_ch_rd *rd, GString *out, int group)
{
    const char *p = rd->p;
    unsigned lo = 1, hi = 1;
    int open_ended = 0;
    size_t len = 0;
    if (*p == '*')
        lo = 0, open_ended = 1, len = 1;
    else if (*p == '+')
        lo = 1, open_ended = 1, len = 1;
    else if (*p == '?')
        lo = 0, hi = 1, len = 1;
    else
        len = mk_sa_rx_count(p, &lo, &hi, &open_ended);
    if (len == 0)
        return;
    p += len;
    if (*p == '?' || *p == '+') /* lazy, possessive: the same texts, or more */
        p++;
    rd->p = p;
    if (open_ended || hi > (group ? 1u : (unsigned)MK_SA_PF_CHAIN_KEEP))
        g_string_append_c(out, lo == 0 ? '*' : '+');
    else if (lo == 0 && hi == 1)
        g_string_append_c(out, '?');
    else if (lo == hi && lo != 1)
        g_string_append_printf(out, "{%u}", lo);
    else if (lo != hi)
        g_string_append_printf(out, "{%u,%u}", lo, hi);
}

/* Reads a sequence of items up to '|', ')' or the end, appending its
 * copy to out, its items in the other order if rev. */
static void mk_sa_ch_seq(mk_sa_ch_rd *rd, GString *out, int rev)
{
    GPtrArray *items = g_ptr_array_new_with_free_func(g_free);
    while (!rd->bad && *rd->p != '\0' && *rd->p != '|' && *rd->p != ')') {
        GString *item = g_string_new(NULL);
        int group = mk_sa_ch_item(rd, item, rev);
        if (!rd->bad)
            mk_sa_ch_repeat(rd, item, group);
        g_ptr_array_add(items, g_string_free(item, FALSE));
    }
    for (guint i = 0; i < items->len; i++)
        g_string_append(out, items->pdata[rev ? items->len - 1 - i : i]);
    g_ptr_array_free(items, TRUE);
}

/* Reads an alternation up to ')' or the end, appending its copy to out. */
static void mk_sa_ch_alt(mk_sa_ch_rd *rd, GString *out, int rev)
{
    for (;;) {
        mk_sa_ch_seq(rd, out, rev);
        if (rd->bad || *rd->p != '|')
            return;
        g_string_append_c(out, '|');
        rd->p++;
    }
}

char *mk_sa_pf_chain_copy(const char *part, int reverse)
{
    mk_sa_ch_rd rd = {part, 0};
    GString *out = g_string_new(NULL);
    mk_sa_ch_alt(&rd, out, reverse);
    if (rd.bad || *rd.p != '\0' || out->len == 0) {
        g_string_free(out, TRUE);
        return NULL;
    }
    return g_string_free(out, FALSE);
}

char *mk_sa_pf_chain_part(const char *pat, uint32_t opts, unsigned *k)
{
    *k = 0;
    if ((opts & PCRE2_EXTENDED) || pat[0] != '(')
        return NULL;
    int top_alt = 0;
    GArray *spans = mk_sa_rx_groups(pat, &top_alt);
    if (spans == NULL)
        return NULL;
    size_t close = 0;
    for (guint i = 0; i < spans->len; i++)
        if (g_array_index(spans, mk_sa_rx_span, i).open == 0)
            close = g_array_index(spans, mk_sa_rx_span, i).close;
    g_array_free(spans, TRUE);
    unsigned lo = 0, hi = 0;
    int open_ended = 0;
    const char *q = close > 0 ? pat + close + 1 : "";
    size_t len = mk_sa_rx_count(q, &lo, &hi, &open_ended);
    if (len > 0 && (q[len] == '?' || q[len] == '+'))
        len++;
    if (top_alt || len == 0 || q[len] != '\0' || lo < 2)
        return NULL;
    size_t from = 1;
    if (pat[1] == '?') {
        if (pat[2] != ':' && pat[2] != '>')
            return NULL;
        from = 3;
    }
    *k = MIN(lo, 64);
    return g_strndup(pat + from, close - from);
}

int mk_sa_pf_chain_within(const char *narrow, const char *wide)
{
    size_t nl = strlen(narrow), wl = strlen(wide);
    if (nl >= wl)
        return 0;
    GArray *spans = mk_sa_rx_groups(wide, NULL);
    int within = 0;
    for (guint i = 0; spans != NULL && i < spans->len && !within; i++) {
        const mk_sa_rx_span *g = &g_array_index(spans, mk_sa_rx_span, i);
        /* (G)? whole, neither lazy nor possessive, wl - nl bytes long, and
         * what follows it a token of its own that cannot run on from what
         * comes before it (as "f" would from "\x2") */
        const char *q = wide + g->close + 1;
        if (q[0] != '?' || q[1] == '?' || q[1] == '+' || g->close + 2 - g->open != wl - nl ||
            (q[1] != '\0' && strchr("|)([\\", q[1]) == NULL))
            continue;
        within = strncmp(wide, narrow, g->open) == 0 && strcmp(q + 1, narrow + g->open) == 0;
    }
    if (spans != NULL)
        g_array_free(spans, TRUE);
    return within;
}

size_t mk_sa_pf_chain_pass(const unsigned long long *ends, size_t n_ends,
                           const unsigned long long *starts, size_t n_starts,
                           const size_t *line_end, size_t n_lines, unsigned k, uint8_t *ok)
{
    size_t line = 0, joints = 0, passed = 0, s = 0;
    int line_passed = 0;
    for (size_t i = 0; i < n_ends; i++) {
        unsigned long long e = ends[i];
        if (i > 0 && e == ends[i - 1])
            continue;
        if (line < n_lines && e > line_end[line]) { /* on to the end's line */
            while (line < n_lines && e > line_end[line])
                line++;
            joints = 0, line_passed = 0;
        }
        if (line == n_lines)
            break;
        if (line_passed)
            continue;
        if (joints + 1 >= k) { /* k - 1 joints before: a chain may end here */
            passed++;
            line_passed = 1;
            if (ok == NULL)
                break;
            ok[line] = 1;
            continue;
        }
        while (s < n_starts && starts[s] < e)
            s++;
        if (s < n_starts && starts[s] == e)
            joints++;
    }
    return passed;
}
