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
