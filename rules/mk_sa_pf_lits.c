/*
 * mk_sa_pf_lits: the literals one of which every match of a pattern
 * holds, for the prefilter's literal gates. Most SpamAssassin body rules
 * are phrases: (?:claim|concerning) (?:the|this) money matches only where
 * a line holds "claim the money", "claim this money", "concerning the
 * money" or "concerning this money". Vectorscan finds thousands of such
 * literals in one pass at a fraction of what its prefilter-mode automata
 * for the same patterns cost (for 418 stock body patterns, over the text
 * of 1,000 messages: 22 K cycles a message against 313 K), and it says
 * on which lines they are, so PCRE2 runs only there. Literals pass more
 * lines than the automata do, and PCRE2 running there takes back most of
 * the saving unless they are long (MK_SA_PF_LIT_MIN).
 *
 * The pattern is read as PCRE2 reads it without PCRE2_UTF (bytes; case
 * is folded only for ASCII letters). Each piece yields what is known of
 * the text it consumes: the finite set of strings it matches, when
 * small (exact), and a set of strings one of which each of its matches
 * holds (required). A sequence joins the exact sets of neighbours (a
 * zero-width assertion joins as the empty string; what it asserts is
 * not needed), an alternation unites its branches' sets, a repeat of at
 * least one keeps its body's required set, an optional piece yields
 * nothing required. Anything not followed here (a class of more than a
 * few bytes, \d, ., back references) is a piece of unknown text: it
 * requires nothing and ends a run of exact strings, which only loses
 * literals, never makes a wrong one. A construct that may change what
 * the rest of the pattern means or whether its parts are needed (/x,
 * \Q...\E, verbs such as (*ACCEPT), conditionals, callouts) gives no
 * literals at all.
 *
 * Case: when the pattern is caseless anywhere (/i, or (?i) inline), every
 * literal is lower-cased and found without regard to case, which finds a
 * case-sensitive part's literal wherever the part matches, and more.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "mk_sa_int.h"

/* The most strings a set holds: joining more gives up on exactness */
#define MK_SA_LIT_SET_MAX 64

/* The most bytes a class may hold and still be read as its bytes */
#define MK_SA_LIT_CLASS_MAX 4

/* How deep groups may nest before the pattern gives no literals */
#define MK_SA_LIT_DEPTH 200

typedef struct mk_sa_lit {
    const char *p; /* the next byte to read */
    int bad;       /* a construct not followed: no literals */
    int caseless;  /* caseless somewhere */
} mk_sa_lit;

/* What is known of the text a piece consumes: exact, the strings it
 * matches (NULL: unknown or too many); req, strings one of which each
 * match holds (NULL: none known). Both GPtrArray of g_free'd strings. */
typedef struct mk_sa_lit_res {
    GPtrArray *exact, *req;
} mk_sa_lit_res;

static GPtrArray *mk_sa_lit_set(void)
{
    return g_ptr_array_new_with_free_func(g_free);
}

static GPtrArray *mk_sa_lit_one(const char *s, size_t len)
{
    GPtrArray *a = mk_sa_lit_set();
    g_ptr_array_add(a, g_strndup(s, len));
    return a;
}

static void mk_sa_lit_free(GPtrArray *a)
{
    if (a != NULL)
        g_ptr_array_unref(a);
}

static void mk_sa_lit_res_free(mk_sa_lit_res *r)
{
    mk_sa_lit_free(r->exact);
    mk_sa_lit_free(r->req);
    r->exact = r->req = NULL;
}

/* The shortest string of a set */
static size_t mk_sa_lit_min(const GPtrArray *a)
{
    size_t m = SIZE_MAX;
    for (guint i = 0; i < a->len; i++)
        m = MIN(m, strlen(a->pdata[i]));
    return m;
}

/* Every string of a followed by every string of b; NULL when either is
 * unknown or there would be too many. Takes neither. */
static GPtrArray *mk_sa_lit_join(const GPtrArray *a, const GPtrArray *b)
{
    if (a == NULL || b == NULL || a->len * b->len > MK_SA_LIT_SET_MAX)
        return NULL;
    GPtrArray *out = mk_sa_lit_set();
    for (guint i = 0; i < a->len; i++)
        for (guint j = 0; j < b->len; j++)
            g_ptr_array_add(out, g_strconcat(a->pdata[i], b->pdata[j], NULL));
    return out;
}

/* An exact set as a required one (a copy), or NULL when it is unknown
 * or holds the empty string (which requires nothing). */
static GPtrArray *mk_sa_lit_as_req(const GPtrArray *e)
{
    if (e == NULL || e->len == 0 || mk_sa_lit_min(e) == 0)
        return NULL;
    GPtrArray *out = mk_sa_lit_set();
    for (guint i = 0; i < e->len; i++)
        g_ptr_array_add(out, g_strdup(e->pdata[i]));
    return out;
}

/* The better of two required sets (the longer shortest string, then the
 * fewer strings); takes both, frees the other. */
static GPtrArray *mk_sa_lit_best(GPtrArray *a, GPtrArray *b)
{
    if (a == NULL)
        return b;
    if (b == NULL)
        return a;
    size_t ma = mk_sa_lit_min(a), mb = mk_sa_lit_min(b);
    int a_better = ma != mb ? ma > mb : a->len <= b->len;
    mk_sa_lit_free(a_better ? b : a);
    return a_better ? a : b;
}

static mk_sa_lit_res mk_sa_lit_alt(mk_sa_lit *l, unsigned depth);

/* The byte an escape at l->p (after its '\') stands for, advancing past
 * it: 0..255; -1: a byte or class not followed (unknown text); -2: a
 * zero-width assertion; -3: a back reference or subroutine call
 * (unknown text); sets l->bad for what is not followed at all. */
static int mk_sa_lit_escape(mk_sa_lit *l, int in_class)
{
    char c = *l->p;
    if (c == '\0') {
        l->bad = 1;
        return -1;
    }
    l->p++;
    switch (c) {
    case 'a':
        return 0x07;
    case 'e':
        return 0x1b;
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'b':
        return in_class ? 0x08 : -2;
    case 'x': {
        unsigned long v = 0;
        if (*l->p == '{') {
            char *end;
            v = strtoul(l->p + 1, &end, 16);
            if (*end != '}' || end == l->p + 1) {
                l->bad = 1;
                return -1;
            }
            l->p = end + 1;
        } else {
            for (int k = 0; k < 2 && g_ascii_isxdigit(*l->p); k++, l->p++)
                v = v * 16 + (unsigned long)g_ascii_xdigit_value(*l->p);
        }
        if (v > 0xff)
            l->bad = 1;
        return v == 0 || v > 0xff ? -1 : (int)v;
    }
    case '0': {
        unsigned v = 0;
        for (int k = 0; k < 2 && *l->p >= '0' && *l->p <= '7'; k++, l->p++)
            v = v * 8 + (unsigned)(*l->p - '0');
        return v == 0 ? -1 : (int)v;
    }
    case 'c': /* a control character */
        if (*l->p == '\0')
            l->bad = 1;
        else
            l->p++;
        return -1;
    case 'o': /* \o{...} */
    case 'N': /* \N, or \N{U+...} */
    case 'p': /* \p{...} or \pL */
    case 'P':
        if (*l->p == '{') {
            const char *e = strchr(l->p, '}');
            if (e == NULL) {
                l->bad = 1;
                return -1;
            }
            l->p = e + 1;
        } else if (c == 'p' || c == 'P') {
            if (*l->p == '\0')
                l->bad = 1;
            else
                l->p++;
        } else if (c == 'o') {
            l->bad = 1;
        }
        return -1;
    case 'd':
    case 'D':
    case 's':
    case 'S':
    case 'w':
    case 'W':
    case 'h':
    case 'H':
    case 'v':
    case 'V':
    case 'R':
    case 'X':
    case 'C':
        return -1;
    case 'B':
    case 'A':
    case 'z':
    case 'Z':
    case 'G':
    case 'K':
    case 'E': /* a stray \E is ignored */
        if (in_class && c != 'E') {
            l->bad = 1;
            return -1;
        }
        return -2;
    case 'g':
    case 'k': { /* \g1, \g{-1}, \g<name>, \k<name>, \k'name', \k{name} */
        char close = *l->p == '{' ? '}' : *l->p == '<' ? '>' : *l->p == '\'' ? '\'' : 0;
        if (close != 0) {
            const char *e = strchr(l->p + 1, close);
            if (e == NULL) {
                l->bad = 1;
                return -3;
            }
            l->p = e + 1;
        } else {
            if (*l->p == '-' || *l->p == '+')
                l->p++;
            while (g_ascii_isdigit(*l->p))
                l->p++;
        }
        if (in_class)
            l->bad = 1;
        return -3;
    }
    default:
        break;
    }
    if (g_ascii_isdigit(c)) { /* a back reference, or an octal byte: unknown either way */
        while (g_ascii_isdigit(*l->p))
            l->p++;
        return -3;
    }
    if (g_ascii_isalpha(c)) { /* \Q and what is not followed */
        l->bad = 1;
        return -1;
    }
    return (unsigned char)c;
}

/* One member of a class at l->p: its byte (0..255) or -1 (several, or
 * unknown); advances past it. */
static int mk_sa_lit_member(mk_sa_lit *l)
{
    if (l->p[0] == '[' && (l->p[1] == ':' || l->p[1] == '=' || l->p[1] == '.')) {
        char close[3] = {l->p[1], ']', '\0'};
        const char *e = strstr(l->p + 2, close);
        if (e == NULL) {
            l->bad = 1;
            return -1;
        }
        l->p = e + 2;
        return -1;
    }
    if (*l->p == '\\') {
        l->p++;
        int b = mk_sa_lit_escape(l, 1);
        return b >= 0 ? b : -1;
    }
    return (unsigned char)*l->p++;
}

/* A character class, l->p just past its '[': the set of its bytes when
 * it holds a few, else unknown. */
static mk_sa_lit_res mk_sa_lit_class(mk_sa_lit *l)
{
    int negated = *l->p == '^';
    if (negated)
        l->p++;
    char in[MK_SA_LIT_CLASS_MAX + 1]; /* its bytes, while there are few */
    size_t n = 0;
    int unknown = negated, first = 1;
    while (!l->bad && *l->p != '\0' && (first || *l->p != ']')) {
        first = 0;
        int lo = mk_sa_lit_member(l), hi = lo;
        if (l->p[0] == '-' && l->p[1] != ']' && l->p[1] != '\0') {
            l->p++;
            hi = mk_sa_lit_member(l);
        }
        if (lo <= 0 || hi < lo || hi - lo >= MK_SA_LIT_CLASS_MAX)
            unknown = 1;
        for (int c = lo; !unknown && c <= hi; c++)
            if (memchr(in, c, n) == NULL) {
                if (n == MK_SA_LIT_CLASS_MAX)
                    unknown = 1;
                else
                    in[n++] = (char)c;
            }
    }
    if (*l->p != ']')
        l->bad = 1;
    else
        l->p++;
    mk_sa_lit_res r = {NULL, NULL};
    if (unknown || l->bad)
        return r;
    r.exact = mk_sa_lit_set();
    for (size_t k = 0; k < n; k++)
        g_ptr_array_add(r.exact, g_strndup(&in[k], 1));
    return r;
}

/* The group at l->p, just past its '(' */
static mk_sa_lit_res mk_sa_lit_group(mk_sa_lit *l, unsigned depth)
{
    mk_sa_lit_res none = {NULL, NULL};
    int zero_width = 0;
    if (*l->p == '*') { /* a verb, or (*pla:...) and the like */
        l->bad = 1;
        return none;
    }
    if (*l->p == '?') {
        const char *g = l->p + 1;
        if (*g == ':' || *g == '|' || *g == '>') {
            l->p = g + 1;
        } else if (*g == '=' || *g == '!') {
            l->p = g + 1, zero_width = 1;
        } else if (g[0] == '<' && (g[1] == '=' || g[1] == '!')) {
            l->p = g + 2, zero_width = 1;
        } else if (*g == '<' || *g == '\'' || (g[0] == 'P' && g[1] == '<')) { /* named */
            const char *e = strchr(g, *g == '\'' ? '\'' : '>');
            if (*g == '\'' && e != NULL)
                e = strchr(g + 1, '\'');
            if (e == NULL) {
                l->bad = 1;
                return none;
            }
            l->p = e + 1;
        } else if (*g == '#') { /* a comment */
            const char *e = strchr(g, ')');
            if (e == NULL)
                l->bad = 1;
            else
                l->p = e + 1;
            return (mk_sa_lit_res){mk_sa_lit_one("", 0), NULL};
        } else if ((g[0] == 'P' && (g[1] == '=' || g[1] == '>')) || *g == '&' || *g == 'R' ||
                   *g == '+' || g_ascii_isdigit(*g) || (*g == '-' && g_ascii_isdigit(g[1]))) {
            /* a back reference, recursion or subroutine call: unknown text */
            const char *e = strchr(g, ')');
            if (e == NULL)
                l->bad = 1;
            else
                l->p = e + 1;
            return none;
        } else { /* options: (?i) for the rest of the group, (?i:...) */
            int on = 1;
            for (; *g != '\0' && strchr("imnsxJU-^", *g) != NULL; g++) {
                if (*g == '-')
                    on = 0;
                else if (*g == 'i' && on)
                    l->caseless = 1;
                else if (*g == 'x' && on)
                    l->bad = 1; /* white space and comments: not followed */
            }
            if (l->bad || (*g != ')' && *g != ':')) {
                l->bad = 1; /* conditionals, callouts, what else is not followed */
                return none;
            }
            l->p = g + 1;
            if (*g == ')')
                return (mk_sa_lit_res){mk_sa_lit_one("", 0), NULL};
        }
    }
    mk_sa_lit_res r = mk_sa_lit_alt(l, depth + 1);
    if (*l->p != ')')
        l->bad = 1;
    else
        l->p++;
    if (zero_width) {
        mk_sa_lit_res_free(&r);
        r.exact = mk_sa_lit_one("", 0);
    }
    return r;
}

/* One piece at l->p, its quantifier read too */
static mk_sa_lit_res mk_sa_lit_piece(mk_sa_lit *l, unsigned depth)
{
    mk_sa_lit_res r = {NULL, NULL};
    char c = *l->p++;
    if (c == '(') {
        r = mk_sa_lit_group(l, depth);
    } else if (c == '[') {
        r = mk_sa_lit_class(l);
    } else if (c == '\\') {
        int b = mk_sa_lit_escape(l, 0);
        if (b >= 0) {
            char s = (char)b;
            r.exact = mk_sa_lit_one(&s, 1);
        } else if (b == -2) {
            r.exact = mk_sa_lit_one("", 0);
        }
    } else if (c == '^' || c == '$') {
        r.exact = mk_sa_lit_one("", 0);
    } else if (c != '.') {
        r.exact = mk_sa_lit_one(&c, 1);
    }
    if (l->bad)
        return r;
    /* the quantifier */
    unsigned lo = 1, hi = 1;
    int open_ended = 0;
    size_t n = mk_sa_rx_count(l->p, &lo, &hi, &open_ended);
    if (n > 0) {
        l->p += n;
    } else if (*l->p == '?' || *l->p == '*' || *l->p == '+') {
        lo = *l->p == '+', hi = *l->p == '?' ? 1 : 2;
        l->p++;
    } else if (l->p[0] == '{' && l->p[1] == ',' && g_ascii_isdigit(l->p[2])) {
        /* {,n}: a later PCRE2 reads it as {0,n}; this one as text,
         * which is required either way: reading it as {0,n} loses it */
        const char *e = l->p + 2;
        while (g_ascii_isdigit(*e))
            e++;
        if (*e == '}')
            lo = 0, hi = 2, l->p = e + 1;
    } else {
        return r;
    }
    if (*l->p == '?' || *l->p == '+') /* lazy or possessive: the same text or less */
        l->p++;
    if (lo == 1 && hi == 1)
        return r;
    if (lo == 0) { /* optional: requires nothing; x? is x or nothing */
        mk_sa_lit_free(r.req);
        r.req = NULL;
        if (hi == 1 && r.exact != NULL && r.exact->len < MK_SA_LIT_SET_MAX)
            g_ptr_array_add(r.exact, g_strdup(""));
        else
            g_clear_pointer(&r.exact, mk_sa_lit_free);
        return r;
    }
    r.req = mk_sa_lit_best(r.req, mk_sa_lit_as_req(r.exact)); /* at least once */
    g_clear_pointer(&r.exact, mk_sa_lit_free);
    return r;
}

/* A sequence of pieces at l->p, up to '|', ')' or the end */
static mk_sa_lit_res mk_sa_lit_seq(mk_sa_lit *l, unsigned depth)
{
    /* whole: the sequence's exact set so far; run: that of the pieces
     * since the last unknown one */
    GPtrArray *whole = mk_sa_lit_one("", 0), *run = mk_sa_lit_one("", 0), *req = NULL;
    while (!l->bad && *l->p != '\0' && *l->p != '|' && *l->p != ')') {
        mk_sa_lit_res r = mk_sa_lit_piece(l, depth);
        req = mk_sa_lit_best(req, g_steal_pointer(&r.req));
        GPtrArray *w = mk_sa_lit_join(whole, r.exact);
        mk_sa_lit_free(whole);
        whole = w;
        GPtrArray *j = mk_sa_lit_join(run, r.exact);
        if (j == NULL) { /* the run ends here */
            req = mk_sa_lit_best(req, mk_sa_lit_as_req(run));
            mk_sa_lit_free(run);
            run = r.exact != NULL ? g_steal_pointer(&r.exact) : mk_sa_lit_one("", 0);
        } else {
            mk_sa_lit_free(run);
            run = j;
        }
        mk_sa_lit_res_free(&r);
    }
    req = mk_sa_lit_best(req, mk_sa_lit_as_req(run));
    mk_sa_lit_free(run);
    return (mk_sa_lit_res){whole, req};
}

/* Alternatives at l->p, up to ')' or the end */
static mk_sa_lit_res mk_sa_lit_alt(mk_sa_lit *l, unsigned depth)
{
    mk_sa_lit_res out = {mk_sa_lit_set(), mk_sa_lit_set()};
    if (depth > MK_SA_LIT_DEPTH) {
        l->bad = 1;
        return out;
    }
    for (;;) {
        mk_sa_lit_res r = mk_sa_lit_seq(l, depth);
        GPtrArray *req = mk_sa_lit_best(g_steal_pointer(&r.req), mk_sa_lit_as_req(r.exact));
        if (out.exact != NULL && r.exact != NULL &&
            out.exact->len + r.exact->len <= MK_SA_LIT_SET_MAX) {
            for (guint i = 0; i < r.exact->len; i++)
                g_ptr_array_add(out.exact, g_strdup(r.exact->pdata[i]));
        } else {
            g_clear_pointer(&out.exact, mk_sa_lit_free);
        }
        if (out.req != NULL && req != NULL) {
            for (guint i = 0; i < req->len; i++)
                g_ptr_array_add(out.req, g_strdup(req->pdata[i]));
        } else {
            g_clear_pointer(&out.req, mk_sa_lit_free);
        }
        mk_sa_lit_free(req);
        mk_sa_lit_res_free(&r);
        if (l->bad || *l->p != '|')
            break;
        l->p++;
    }
    return out;
}

char **mk_sa_pf_lits(const char *pattern, uint32_t opts, size_t min, int *caseless)
{
    *caseless = 0;
    if (opts & PCRE2_EXTENDED)
        return NULL;
    mk_sa_lit l = {pattern, 0, (opts & PCRE2_CASELESS) != 0};
    mk_sa_lit_res r = mk_sa_lit_alt(&l, 0);
    GPtrArray *req = l.bad || *l.p != '\0'
                         ? NULL
                         : mk_sa_lit_best(g_steal_pointer(&r.req), mk_sa_lit_as_req(r.exact));
    mk_sa_lit_res_free(&r);
    if (req == NULL || mk_sa_lit_min(req) < min) {
        mk_sa_lit_free(req);
        return NULL;
    }
    if (l.caseless)
        for (guint i = 0; i < req->len; i++) {
            char *low = g_ascii_strdown(req->pdata[i], -1);
            g_free(req->pdata[i]);
            req->pdata[i] = low;
        }
    /* a string that holds another of the set adds nothing: drop it (and
     * the second of two equal ones) */
    GStrvBuilder *b = g_strv_builder_new();
    for (guint i = 0; i < req->len; i++) {
        int drop = 0;
        for (guint j = 0; j < req->len && !drop; j++)
            drop = j != i && strstr(req->pdata[i], req->pdata[j]) != NULL &&
                   (strlen(req->pdata[i]) > strlen(req->pdata[j]) || j < i);
        if (!drop)
            g_strv_builder_add(b, req->pdata[i]);
    }
    mk_sa_lit_free(req);
    *caseless = l.caseless;
    return g_strv_builder_end(b);
}
