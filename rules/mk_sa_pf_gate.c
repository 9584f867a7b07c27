/*
 * mk_sa_pf_gate: a cheaper test, for the prefilter, of a pattern it
 * cannot hold. Vectorscan's prefilter mode cuts a large pattern down to
 * its widths (SpamAssassin's form-filling rules, five of a 2,000-byte
 * group of form words in a row, become any 12 characters), so such a
 * pattern matched ordinary text and ran on every message. But every
 * match of (?:A B? C){5} holds five matches of C that do not overlap,
 * on one line (PCRE2 runs line by line); C alone is a pattern vectorscan
 * keeps whole. So the gate of such a rule is its part C with a count:
 * the rule may match where a line (a piece of text the rule's pattern
 * runs over) holds count matches of C, each ending at least C's least
 * width past the one before. Where none does, PCRE2 would find no
 * match: the part is found in every match, never a guess.
 *
 * A pattern whose alternatives are each narrow enough (the look-alike
 * spellings of __PAY_ME, which vectorscan approximates as any word when
 * they stand together) has them as its gates instead (mk_sa_pf_split):
 * every match of x(?:A|B)y is a match of x(?:A)y or of x(?:B)y, where
 * the group and those around it match once, and no group is referred to.
 */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "mk_sa_int.h"

/* The bound of a count: more is not needed to tell lines apart */
#define MK_SA_PF_GATE_COUNT_MAX 64

/* How many times the group that closes at close repeats at least (the
 * quantifier after its ')'): 0 for ?, * and {0,...} (and {,n}, which a
 * later PCRE2 reads so), else its least. */
static unsigned mk_sa_pf_gate_least(const char *pat, size_t close)
{
    const char *q = pat + close + 1;
    unsigned lo = 1, hi;
    int open_ended;
    if (*q == '?' || *q == '*' || (q[0] == '{' && q[1] == ','))
        return 0;
    if (mk_sa_rx_count(q, &lo, &hi, &open_ended) == 0)
        lo = 1;
    return lo;
}

/* Whether the group opening at pat[open] reads as a plain group: ( or
 * (?: or (?> (a lookaround is not consumed; options and the rest may
 * change what its text means elsewhere; a verb such as (*ACCEPT) may end
 * a match before the parts it requires). */
static int mk_sa_pf_gate_plain(const char *pat, size_t open)
{
    const char *g = pat + open + 1;
    if (*g == '*')
        return 0;
    return *g != '?' || g[1] == ':' || g[1] == '>';
}

/* Candidates for the part, best first: the higher count, then the longer. */
typedef struct mk_sa_pf_cand {
    unsigned count;
    size_t open, len;
} mk_sa_pf_cand;

static gint mk_sa_pf_cand_cmp(gconstpointer a, gconstpointer b)
{
    const mk_sa_pf_cand *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return x->open < y->open ? -1 : x->open > y->open;
}

char *mk_sa_pf_gate_part(const char *pat, uint32_t opts, unsigned nth, unsigned *count)
{
    *count = 0;
    if ((opts & PCRE2_EXTENDED) || mk_sa_rx_backrefs(pat))
        return NULL;
    int top_alt = 0;
    GArray *spans = mk_sa_rx_groups(pat, &top_alt);
    if (spans == NULL)
        return NULL;
    guint n = spans->len;
    const mk_sa_rx_span *sp = (const mk_sa_rx_span *)(void *)spans->data;
    /* every group plain, or the part's text may not mean the same alone */
    int readable = !top_alt;
    for (guint i = 0; i < n && readable; i++)
        readable = mk_sa_pf_gate_plain(pat, sp[i].open);
    /* each group's count: its own least repeat times its holders' (inner
     * groups close first, so a holder comes later); 0 under a '|'. A
     * group holding one of the same count (its child, as a count only
     * grows inward) is no candidate: the inner one says more. */
    unsigned *k = g_new0(unsigned, n + 1);
    uint8_t *holds_same = g_new0(uint8_t, n + 1);
    for (guint i = n; readable && i-- > 0;) {
        unsigned outer = 1;
        guint parent = n;
        for (guint j = i + 1; j < n && parent == n; j++)
            if (sp[j].depth + 1 == sp[i].depth && sp[j].open < sp[i].open)
                parent = j;
        if (parent < n)
            outer = sp[parent].alt ? 0 : k[parent];
        guint64 c = (guint64)outer * mk_sa_pf_gate_least(pat, sp[i].close);
        k[i] = (unsigned)MIN(c, MK_SA_PF_GATE_COUNT_MAX);
        if (parent < n && k[i] > 0 && k[i] == k[parent])
            holds_same[parent] = 1;
    }
    GArray *cand = g_array_new(FALSE, FALSE, sizeof(mk_sa_pf_cand));
    for (guint i = 0; readable && i < n; i++)
        if (k[i] > 0 && !holds_same[i]) {
            mk_sa_pf_cand c = {k[i], sp[i].open, sp[i].close - sp[i].open + 1};
            g_array_append_val(cand, c);
        }
    g_array_sort(cand, mk_sa_pf_cand_cmp);
    char *part = NULL;
    if (nth < cand->len) {
        const mk_sa_pf_cand *c = &g_array_index(cand, mk_sa_pf_cand, nth);
        part = g_strndup(pat + c->open, c->len);
        *count = c->count;
    }
    g_array_free(cand, TRUE);
    g_free(holds_same);
    g_free(k);
    g_array_free(spans, TRUE);
    return part;
}

size_t mk_sa_pf_gate_pass(const unsigned long long *ends, size_t n, const size_t *line_end,
                          size_t n_lines, unsigned count, unsigned width, uint8_t *ok)
{
    size_t line = 0, in_line = 0, passed = 0;
    unsigned long long last = 0;
    for (size_t i = 0; i < n; i++) {
        if (line < n_lines && ends[i] > line_end[line]) { /* on to the end's line */
            while (line < n_lines && ends[i] > line_end[line])
                line++;
            in_line = 0;
        }
        if (line == n_lines)
            break;
        if (in_line == 0 || ends[i] >= last + width) {
            last = ends[i];
            if (++in_line == count) {
                passed++;
                if (ok == NULL)
                    break;
                ok[line] = 1;
            }
        }
    }
    return passed;
}

/* Whether the group from open to close sets options for the rest of the
 * group it stands in, (?i) (not (?i:...), whose options are its own). */
static int mk_sa_pf_sets_opts(const char *pat, size_t open, size_t close)
{
    const char *g = pat + open + 1;
    if (*g != '?' || !(g_ascii_isalpha(g[1]) || g[1] == '^' || g[1] == '-'))
        return 0;
    for (g++; g < pat + close && (g_ascii_isalpha(*g) || *g == '^' || *g == '-'); g++)
        ;
    return g == pat + close;
}

/* Whether the group closing at close may match other than once. */
static int mk_sa_pf_repeated(const char *pat, size_t close)
{
    const char *q = pat + close + 1;
    unsigned lo, hi;
    int open_ended;
    return *q == '?' || *q == '*' || *q == '+' || mk_sa_rx_count(q, &lo, &hi, &open_ended) > 0;
}

/* Whether an option setting stands at the own level of the group opening
 * at open (SIZE_MAX: the top level): it would reach the alternatives
 * after it. */
static int mk_sa_pf_level_sets_opts(const char *pat, const mk_sa_rx_span *sp, guint n, size_t open)
{
    for (guint j = 0; j < n; j++) {
        int inside = open == SIZE_MAX ? sp[j].depth == 0 : 0;
        for (guint p = 0; open != SIZE_MAX && p < n && !inside; p++)
            inside = sp[p].open == open && sp[j].depth == sp[p].depth + 1 &&
                     sp[j].open > sp[p].open && sp[j].close < sp[p].close;
        if (inside && mk_sa_pf_sets_opts(pat, sp[j].open, sp[j].close))
            return 1;
    }
    return 0;
}

char **mk_sa_pf_split(const char *pat, uint32_t opts)
{
    /* groups renumbered, verbs, conditionals, branch resets: not split */
    if ((opts & PCRE2_EXTENDED) || mk_sa_rx_refers(pat) || strstr(pat, "(*") != NULL ||
        strstr(pat, "(?(") != NULL || strstr(pat, "(?|") != NULL)
        return NULL;
    int top_alt = 0;
    GArray *bars = NULL;
    GArray *spans = mk_sa_rx_groups_bars(pat, &top_alt, &bars);
    if (spans == NULL)
        return NULL;
    guint n = spans->len;
    const mk_sa_rx_span *sp = (const mk_sa_rx_span *)(void *)spans->data;
    /* the group split: the top level when it has a '|'; else the longest
     * plain group with one, matched once, inside plain groups matched
     * once that have none */
    size_t open = SIZE_MAX, inner = 0, close = strlen(pat);
    int found = top_alt;
    for (guint i = 0; i < n && !top_alt; i++) {
        int ok = sp[i].alt && mk_sa_pf_gate_plain(pat, sp[i].open) &&
                 !mk_sa_pf_repeated(pat, sp[i].close) &&
                 (!found || sp[i].close - sp[i].open > close - open);
        for (guint j = 0; j < n && ok; j++)
            if (sp[j].open < sp[i].open && sp[j].close > sp[i].close)
                ok = !sp[j].alt && mk_sa_pf_gate_plain(pat, sp[j].open) &&
                     !mk_sa_pf_repeated(pat, sp[j].close);
        if (ok) {
            found = 1;
            open = sp[i].open, close = sp[i].close;
            inner = open + (pat[open + 1] == '?' ? 3 : 1);
        }
    }
    char **parts = NULL;
    if (found && !mk_sa_pf_level_sets_opts(pat, sp, n, open)) {
        GPtrArray *out = g_ptr_array_new();
        size_t from = inner;
        for (guint b = 0; b <= bars->len; b++) {
            const mk_sa_rx_bar *bar = b < bars->len ? &g_array_index(bars, mk_sa_rx_bar, b) : NULL;
            if (bar != NULL && bar->group != open)
                continue;
            size_t to = bar != NULL ? bar->at : close;
            GString *part = g_string_new_len(pat, (gssize)inner);
            g_string_append_len(part, pat + from, (gssize)(to - from));
            g_string_append(part, pat + close);
            g_ptr_array_add(out, g_string_free(part, FALSE));
            from = to + 1;
        }
        g_ptr_array_add(out, NULL);
        parts = (char **)g_ptr_array_free(out, FALSE);
    }
    g_array_free(bars, TRUE);
    g_array_free(spans, TRUE);
    return parts;
}
