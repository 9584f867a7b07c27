/*
 * mk_sa_pf_lead: a pattern's costly lead left out of its prefilter copy.
 * Vectorscan finds a pattern through its literals and checks the rest
 * with small automata. What comes before the literal it starts from must
 * be checked too; when that part holds an open-ended repeat of letters or
 * digits (\w{1,10}\s)*, [a-z]+teen, \d+), no bound says where a match may
 * start, so the automaton runs along the whole text: __PCT_FOR_YOU_1
 * (\b(?:\d\d|ten|[a-z]+teen|...)\s?(?:%|percent)...) cost 16,000 cycles a
 * message alone, its copy from \s?(?:%|percent) on 1,100.
 *
 * A pattern that is a sequence e1 e2 ... en at its top level matches only
 * where its tail e(k+1) ... en matches (that tail's match is a piece of
 * the whole's, on the same line), so the tail is a sound prefilter copy:
 * it may pass a line the whole does not, never the other way. The tail
 * kept starts after the last open-ended repeat of letters or digits that
 * comes before an element every match of which starts with a literal
 * character (the literal vectorscan can start from), with no such repeat
 * between the two, when nothing before that repeat is such an element (a
 * repeat between two literals costs little: vectorscan runs it from the
 * first). A lead of separators is left out too: anchors, and classes or
 * optional characters that match no letter or digit, before the first
 * element that may match one or must match a literal character (the
 * look-alike spellings of the stock rules start
 * (?:\b|\s)[_\W]{0,3}: an automaton woken at every space; alone over
 * 1,000 messages __DRUGS_SLEEP1 cost 6,200 cycles a message, its tail
 * 2,200). Patterns with back references, option settings at the
 * top level, conditionals, recursion, verbs, \Q...\E, \K or \G, and /x
 * patterns, are left whole; so is one with no such lead. Whether the tail
 * matches ordinary text (it may be too short to tell lines apart) is the
 * caller's to try (mk_sa_prefilter.c).
 */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "mk_sa_int.h"

/* What an element of a sequence is, for choosing where to cut. */
typedef struct mk_sa_lead_el {
    size_t at;     /* where it starts, in the pattern */
    unsigned min;  /* least repeats of its atom (0 for ?, * and {0,...}) */
    uint8_t lit;   /* every match of its atom starts with a literal character */
    uint8_t zero;  /* an anchor or lookaround: matches no character */
    uint8_t wide;  /* holds an open-ended repeat of what may match a letter or digit */
    uint8_t broad; /* its atom may match a letter or digit (a class, not a literal) */
    uint8_t opt;   /* an option setting such as (?i), which reaches to the end */
} mk_sa_lead_el;

static int mk_sa_lead_seq(const char *s, const char *e, GArray *els);

/* The end of the group that opens at p ('('), or NULL when it does not
 * close before e. */
static const char *mk_sa_lead_group_end(const char *p, const char *e)
{
    unsigned depth = 0;
    for (; p < e; p++) {
        if (*p == '\\') {
            p++;
        } else if (*p == '[') {
            p = mk_sa_rx_class_end(p);
            if (p >= e || *p == '\0')
                return NULL;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')' && --depth == 0) {
            return p;
        }
    }
    return NULL;
}

/* Whether a class (the text [s, e) of [...]) may match a letter or digit. */
static int mk_sa_lead_class_broad(const char *s, const char *e)
{
    s++; /* '[' */
    if (*s == '^')
        return 1;
    for (; s < e - 1; s++) {
        if (*s == '\\') {
            s++;
            if (strchr("wdSDpPN", *s) != NULL)
                return 1;
        } else if (g_ascii_isalnum(*s) || (unsigned char)*s >= 0x80) {
            return 1;
        } else if (s[0] == '[' && s[1] == ':') {
            return 1; /* [:alpha:] and the like: taken as broad */
        }
    }
    return 0;
}

/* The alternatives of the group body [s, e): each element's facts folded
 * into el (lit: every alternative starts with a literal; wide and broad:
 * any does); -1 when one cannot be read. */
static int mk_sa_lead_alts(const char *s, const char *e, mk_sa_lead_el *el)
{
    el->lit = 1;
    const char *a = s;
    for (const char *p = s;; p++) {
        if (p < e && *p == '\\') {
            p++;
            continue;
        }
        if (p < e && *p == '[') {
            p = mk_sa_rx_class_end(p);
            if (p >= e)
                return -1;
            continue;
        }
        if (p < e && *p == '(') {
            p = mk_sa_lead_group_end(p, e);
            if (p == NULL)
                return -1;
            continue;
        }
        if (p < e && *p != '|')
            continue;
        GArray *inner = g_array_new(FALSE, FALSE, sizeof(mk_sa_lead_el));
        int rc = mk_sa_lead_seq(a, p, inner);
        int lit = 0, decided = 0;
        for (guint k = 0; rc == 0 && k < inner->len; k++) {
            const mk_sa_lead_el *x = &g_array_index(inner, mk_sa_lead_el, k);
            el->wide |= x->wide;
            el->broad |= x->broad;
            if (x->opt)
                rc = -1; /* an option setting inside: not followed */
            if (!decided && !x->zero)
                lit = x->lit && x->min > 0, decided = 1;
        }
        g_array_free(inner, TRUE);
        if (rc != 0)
            return -1;
        el->lit &= lit;
        if (p >= e)
            return 0;
        a = p + 1;
    }
}

/* Reads the sequence [s, e) (no '|' at its level) into els; -1 when it
 * holds what is not followed. */
static int mk_sa_lead_seq(const char *s, const char *e, GArray *els)
{
    const char *p = s;
    while (p < e) {
        mk_sa_lead_el el = {(size_t)0, 1, 0, 0, 0, 0, 0};
        el.at = (size_t)(p - s);
        const char *q = p + 1;
        if (*p == '|') {
            return -1;
        } else if (*p == '\\') {
            char c = p[1];
            if (c == '\0' || strchr("QKGgkCER", c) != NULL || g_ascii_isdigit(c))
                return -1; /* \Q, \K, \G, references, \C, \R: not followed */
            q = p + 2;
            if ((c == 'x' || c == 'p' || c == 'P' || c == 'N' || c == 'o') && *q == '{') {
                const char *b = memchr(q, '}', (size_t)(e - q));
                if (b == NULL)
                    return -1;
                q = b + 1;
            } else if (c == 'x') {
                while (q < p + 4 && q < e && g_ascii_isxdigit(*q))
                    q++;
            } else if ((c == 'c' || c == 'p' || c == 'P') && q < e) {
                q++; /* \cX, \pL: one character more */
            }
            if (strchr("bBAzZ", c) != NULL)
                el.zero = 1;
            else if (strchr("wdSDpPNX", c) != NULL)
                el.broad = 1;
            else
                el.lit = strchr("sWhHvV", c) == NULL; /* an escaped character */
        } else if (*p == '[') {
            q = mk_sa_rx_class_end(p);
            if (q >= e)
                return -1;
            q++;
            el.broad = (uint8_t)mk_sa_lead_class_broad(p, q);
        } else if (*p == '(') {
            const char *close = mk_sa_lead_group_end(p, e);
            if (close == NULL)
                return -1;
            q = close + 1;
            const char *body = p + 1;
            if (*body == '*')
                return -1; /* a verb */
            if (*body == '?') {
                const char *t = body + 1;
                if (*t == ':' || *t == '>' || *t == '|') {
                    if (*t == '|')
                        return -1; /* branch reset: not followed */
                    body = t + 1;
                } else if (*t == '=' || *t == '!' || (*t == '<' && (t[1] == '=' || t[1] == '!'))) {
                    el.zero = 1; /* lookaround: the tail may start on it */
                    body = close;
                } else if (*t == '<' || (*t == 'P' && t[1] == '<') || *t == '\'') {
                    const char *n = strpbrk(t, ">'");
                    if (n == NULL || n > close)
                        return -1;
                    body = n + 1; /* a named group */
                } else {
                    /* options: (?i) sets them to the end, (?i:...) within */
                    const char *o = t;
                    while (o < close && *o != '\0' && strchr("imnsxJU-^", *o) != NULL)
                        o++; /* PCRE2's option letters: (?R) is no option */
                    if (o == t || (o != close && *o != ':'))
                        return -1; /* conditionals, recursion, callouts, comments */
                    if (o == close)
                        el.opt = 1, el.zero = 1, body = close;
                    else
                        body = o + 1;
                }
            }
            if (body < close && mk_sa_lead_alts(body, close, &el) != 0)
                return -1;
            if (body >= close && !el.zero)
                el.lit = 0; /* () */
        } else if (*p == '.') {
            el.broad = 1;
        } else if (*p == '^' || *p == '$') {
            el.zero = 1;
        } else if (*p == ')') {
            return -1;
        } else {
            el.lit = 1;
            while (q < e && ((unsigned char)*q & 0xc0) == 0x80)
                q++; /* the rest of a UTF-8 character */
        }
        /* the quantifier, then a lazy or possessive mark */
        unsigned lo = 1, hi = 1;
        int open = 0;
        size_t qn = q < e ? mk_sa_rx_count(q, &lo, &hi, &open) : 0;
        if (qn == 0 && q < e && (*q == '?' || *q == '*' || *q == '+'))
            lo = *q == '+', open = *q != '?', qn = 1;
        q += qn;
        if (qn > 0 && q < e && (*q == '?' || *q == '+'))
            q++;
        el.min = lo;
        el.wide |= open && el.broad;
        g_array_append_val(els, el);
        p = q;
    }
    return 0;
}

char *mk_sa_pf_lead(const char *pat, uint32_t opts)
{
    if ((opts & PCRE2_EXTENDED) || mk_sa_rx_backrefs(pat))
        return NULL;
    GArray *els = g_array_new(FALSE, FALSE, sizeof(mk_sa_lead_el));
    char *tail = NULL;
    if (mk_sa_lead_seq(pat, pat + strlen(pat), els) == 0) {
        const mk_sa_lead_el *el = (const mk_sa_lead_el *)(void *)els->data;
        guint n = els->len, next_wide = n;
        /* from the last open-ended repeat back: the first whose next
         * literal start comes before the next such repeat */
        for (guint w = n; w-- > 0 && tail == NULL;) {
            if (!el[w].wide)
                continue;
            for (guint j = w + 1; j < next_wide; j++)
                if (el[j].lit && el[j].min > 0 && !el[j].zero) {
                    /* a lead with a literal of its own vectorscan starts
                     * from (a repeat between two literals costs little),
                     * or one that sets options, stays */
                    int keep = 0;
                    for (guint k = 0; k <= w; k++)
                        keep |= el[k].opt || (el[k].lit && el[k].min > 0 && !el[k].zero);
                    if (!keep)
                        tail = g_strdup(pat + el[w + 1].at);
                    break;
                }
            next_wide = w;
        }
        /* else a lead of separators: anchors, and classes or optional
         * characters that match no letter or digit, one of them at least
         * matching a character; up to an element that may match a letter
         * or digit, or must match a literal character */
        guint k = 0;
        int consumes = 0;
        while (tail == NULL && k < n && !el[k].opt &&
               (el[k].zero || (!el[k].broad && !(el[k].lit && el[k].min > 0))))
            consumes |= !el[k].zero, k++;
        if (tail == NULL && consumes && k < n)
            tail = g_strdup(pat + el[k].at);
    }
    g_array_free(els, TRUE);
    return tail;
}
