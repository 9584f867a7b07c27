/*
 * mk_sa_pf_ascii: a pattern as it can match text of ASCII bytes only.
 * The stock look-alike rules write each letter as a group of spellings,
 * most of them UTF-8 sequences and single bytes of 0x80 or more
 * (<A> is some 60 of them); vectorscan's tables for those groups fill
 * most of the 27 MB the prefilter scanned for every message, and two of
 * the rules (__PAY_ME, __MY_MALWARE) were so large that vectorscan's
 * approximation of them matched any text, so PCRE2 ran them on every
 * line. On a line of ASCII bytes none of those spellings can match: the
 * pattern without them matches there exactly where the pattern does, and
 * is a fraction of its size. So the prefilter scans every line with the
 * ASCII copies, and only the lines holding a byte of 0x80 or more with
 * the patterns as written (mk_sa_prefilter.c).
 *
 * What cannot match ASCII text: a byte of 0x80 or more, written as it is
 * or as \xHH, \x{H...}, \0oo, \o{...}; \Q...\E holding one; a character
 * class (not negated) holding only such bytes; a sequence holding one of
 * these (unless it may repeat zero times: then it is dropped); a group
 * whose every alternative cannot; a positive lookaround that cannot. An
 * alternative that cannot is dropped; a negative lookaround that cannot
 * always holds, and is dropped. Everything else is kept as written: the
 * copy matches at least what the pattern matches on ASCII text, never
 * less. A construct this does not follow (back references, conditionals,
 * verbs, recursion, /x, option settings other than at the start, which
 * reach into later alternatives) leaves the pattern as written.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "mk_sa_int.h"

/* How deep groups may nest before the pattern is left as written */
#define MK_SA_ASC_DEPTH 200

typedef struct mk_sa_asc {
    const char *start, *p; /* the pattern, and the next byte to read */
    int unsupported;       /* a construct not followed: leave the pattern as written */
    int changed;           /* something was dropped */
} mk_sa_asc;

static int mk_sa_asc_alt(mk_sa_asc *a, GString *out, unsigned depth);

/* The length of the quantifier at p (0: none), its least count in *lo. */
static size_t mk_sa_asc_quant(const char *p, unsigned *lo)
{
    size_t n = 0;
    unsigned hi;
    int open_ended;
    *lo = 1;
    if (*p == '?' || *p == '*' || *p == '+') {
        *lo = *p == '+' ? 1 : 0;
        n = 1;
    } else if (p[0] == '{' && p[1] == ',' && g_ascii_isdigit(p[2])) {
        /* {,m}: {0,m} to a later PCRE2, else as written; either way an
         * atom before it that cannot match is dropped soundly */
        n = 2 + strspn(p + 2, "0123456789");
        if (p[n] != '}')
            return 0;
        n++;
        *lo = 0;
    } else {
        n = mk_sa_rx_count(p, lo, &hi, &open_ended);
    }
    if (n > 0 && (p[n] == '?' || p[n] == '+'))
        n++; /* lazy or possessive */
    return n;
}

/* Character c, written at m (len bytes: itself or an escape), appended
 * to out so that it reads the same wherever it lands once a neighbour is
 * dropped: \x and \0 escapes with all their digits (\x4 before a dropped
 * atom and a 1 would read \x41), and ] ^ - [ \ { escaped. */
static void mk_sa_asc_char(GString *out, const char *m, size_t len, int c)
{
    if (m[0] == '\\' && (m[1] == 'x' || m[1] == '0' || m[1] == 'o'))
        g_string_append_printf(out, "\\x%02x", (unsigned)c);
    else if (len == 1 && strchr("]^-[\\{", *m) != NULL)
        g_string_append_printf(out, "\\%c", *m);
    else
        g_string_append_len(out, m, (gssize)len);
}

/* The class at a->p ('[') appended to out as it matches ASCII text;
 * whether it can. */
static int mk_sa_asc_class(mk_sa_asc *a, GString *out)
{
    const char *p = a->p + 1, *open = a->p;
    int negated = *p == '^', changed = a->changed;
    if (negated)
        p++;
    GString *kept = g_string_new(NULL);
    int first = 1;
    while (*p != '\0' && (*p != ']' || first)) {
        const char *m = p;
        int v;
        size_t len = 1;
        if (p[0] == '[' && p[1] == ':') { /* [:alpha:]: kept */
            const char *e = strstr(p + 2, ":]");
            if (e == NULL)
                break;
            g_string_append_len(kept, p, e + 2 - p);
            p = e + 2;
            first = 0;
            continue;
        }
        if (*p == '\\') {
            v = mk_sa_rx_escape(p, &len);
            if (v == -2) {
                a->unsupported = 1;
                break;
            }
            if (p[1] == 'b')
                v = '\b';
        } else {
            v = (unsigned char)*p;
        }
        p += len;
        first = 0;
        if (v == -1) { /* \d, \w, \p{...}: kept */
            if (*p == '-' && p[1] != ']') {
                a->unsupported = 1; /* a range from a class: not followed */
                break;
            }
            g_string_append_len(kept, m, (gssize)len);
            continue;
        }
        int hi = v;
        const char *hi_at = NULL;
        size_t hi_len = 0;
        if (*p == '-' && p[1] != ']' && p[1] != '\0') {
            hi_at = p + 1;
            if (*hi_at == '\\') {
                hi = mk_sa_rx_escape(hi_at, &hi_len);
                if (hi < 0 || hi_at[1] == 'b') {
                    a->unsupported = 1;
                    break;
                }
            } else if (hi_at[0] == '[' && hi_at[1] == ':') {
                a->unsupported = 1;
                break;
            } else {
                hi = (unsigned char)*hi_at;
                hi_len = 1;
            }
            p = hi_at + hi_len;
        }
        if (v >= 0x80) { /* from a byte of 0x80 or more: dropped */
            a->changed = 1;
            continue;
        }
        mk_sa_asc_char(kept, m, len, v);
        if (hi_at != NULL) {
            if (hi >= 0x80) {
                g_string_append(kept, "-\\x7f");
                a->changed = 1;
            } else {
                g_string_append_c(kept, '-');
                mk_sa_asc_char(kept, hi_at, hi_len, hi);
            }
        }
    }
    if (*p != ']')
        a->unsupported = 1;
    int can = !a->unsupported && (negated || kept->len > 0);
    if (negated) { /* matches ASCII as written; kept so */
        g_string_append_len(out, open, p + 1 - open);
        a->changed = changed;
    } else if (can)
        g_string_append_printf(out, "[%s]", kept->str);
    g_string_free(kept, TRUE);
    a->p = *p == ']' ? p + 1 : p;
    return can;
}

/* The group at a->p ('(') appended to out as it matches ASCII text: 1
 * when it can match, 0 when it cannot, 2 when it stands for nothing (a
 * comment, an option setting at the start, a negative lookaround that
 * always holds). */
static int mk_sa_asc_group(mk_sa_asc *a, GString *out, unsigned depth)
{
    const char *p = a->p;
    size_t head = 1; /* "(" */
    int look = 0;    /* 1: positive lookaround, -1: negative */
    if (p[1] == '*') {
        a->unsupported = 1;
        return 0;
    }
    if (p[1] == '?') {
        const char *q = p + 2;
        if (*q == '#') { /* a comment */
            const char *e = strchr(q, ')');
            if (e == NULL)
                a->unsupported = 1;
            a->p = e != NULL ? e + 1 : q + strlen(q);
            return 2;
        }
        if (*q == ':' || *q == '>')
            head = 3;
        else if (*q == '=' || *q == '!')
            head = 3, look = *q == '=' ? 1 : -1;
        else if (q[0] == '<' && (q[1] == '=' || q[1] == '!'))
            head = 4, look = q[1] == '=' ? 1 : -1;
        else if (q[0] == '<' || (q[0] == 'P' && q[1] == '<') || q[0] == '\'') {
            const char *name_end = strpbrk(q + 1, ">'"); /* a named group */
            if (name_end == NULL) {
                a->unsupported = 1;
                return 0;
            }
            head = (size_t)(name_end + 1 - p);
        } else {
            size_t n = strspn(q, "imnsJU-");
            if (n > 0 && q[n] == ')' && p == a->start) { /* (?i) at the start */
                g_string_append_len(out, p, (gssize)(n + 3));
                a->p = q + n + 1;
                return 2;
            }
            if (n == 0 || q[n] != ':') {
                a->unsupported = 1;
                return 0;
            }
            head = n + 3; /* (?i: */
        }
    }
    a->p = p + head;
    GString *inner = g_string_new(NULL);
    int can = mk_sa_asc_alt(a, inner, depth + 1);
    if (*a->p != ')')
        a->unsupported = 1;
    else
        a->p++;
    int r = can;
    if (look < 0 && !can) {
        r = 2; /* never matches: the negative lookaround always holds */
        a->changed = 1;
    } else if (can) {
        g_string_append_len(out, p, (gssize)head);
        g_string_append_len(out, inner->str, (gssize)inner->len);
        g_string_append_c(out, ')');
    }
    g_string_free(inner, TRUE);
    return r;
}

/* The atom at a->p appended to out: as mk_sa_asc_group says. */
static int mk_sa_asc_atom(mk_sa_asc *a, GString *out, unsigned depth)
{
    const char *p = a->p;
    if (*p == '(')
        return mk_sa_asc_group(a, out, depth);
    if (*p == '[')
        return mk_sa_asc_class(a, out);
    if (p[0] == '\\' && p[1] == 'Q') {
        const char *e = strstr(p + 2, "\\E"), *end = e != NULL ? e : p + strlen(p);
        a->p = e != NULL ? e + 2 : end;
        for (const char *c = p + 2; c < end; c++)
            if ((unsigned char)*c >= 0x80)
                return 0;
        g_string_append_len(out, p, a->p - p);
        return 1;
    }
    if (*p == '\\') {
        size_t len;
        int v = mk_sa_rx_escape(p, &len);
        a->p = p + len;
        if (v == -2) {
            a->unsupported = 1;
            return 0;
        }
        if (v >= 0x80)
            return 0;
        if (v >= 0)
            mk_sa_asc_char(out, p, len, v);
        else
            g_string_append_len(out, p, (gssize)len);
        return 1;
    }
    a->p = p + 1;
    if ((unsigned char)*p >= 0x80)
        return 0;
    if (*p == '*' || *p == '+' || *p == '?') {
        a->unsupported = 1; /* a quantifier with nothing before it */
        return 0;
    }
    if (*p == '{') /* not a quantifier (that follows an atom) */
        g_string_append(out, "\\{");
    else
        g_string_append_c(out, *p);
    return 1;
}

/* The sequence at a->p, to the next '|' or ')' at its level, appended to
 * out; whether it can match ASCII text. */
static int mk_sa_asc_seq(mk_sa_asc *a, GString *out, unsigned depth)
{
    int can = 1;
    if (depth > MK_SA_ASC_DEPTH) {
        a->unsupported = 1;
        return 0;
    }
    while (*a->p != '\0' && *a->p != '|' && *a->p != ')' && !a->unsupported) {
        GString *atom = g_string_new(NULL);
        int m = mk_sa_asc_atom(a, atom, depth);
        unsigned lo;
        size_t q = m == 2 ? 0 : mk_sa_asc_quant(a->p, &lo);
        if (m == 1) {
            g_string_append_len(out, atom->str, (gssize)atom->len);
            g_string_append_len(out, a->p, (gssize)q);
        } else if (m == 0) {
            a->changed = 1;
            if (q == 0 || lo > 0)
                can = 0; /* a part every match needs */
        } else {
            g_string_append_len(out, atom->str, (gssize)atom->len);
        }
        a->p += q;
        g_string_free(atom, TRUE);
    }
    return can;
}

/* The alternatives at a->p, to the ')' that ends their group (or the
 * end), appended to out, those that cannot match ASCII text dropped;
 * whether any can. */
static int mk_sa_asc_alt(mk_sa_asc *a, GString *out, unsigned depth)
{
    int any = 0;
    for (;;) {
        GString *seq = g_string_new(NULL);
        if (mk_sa_asc_seq(a, seq, depth)) {
            if (any)
                g_string_append_c(out, '|');
            g_string_append_len(out, seq->str, (gssize)seq->len);
            any = 1;
        } else {
            a->changed = 1;
        }
        g_string_free(seq, TRUE);
        if (*a->p != '|' || a->unsupported)
            break;
        a->p++;
    }
    return any;
}

mk_sa_ascii mk_sa_pf_ascii(const char *pat, uint32_t opts, char **ascii)
{
    *ascii = NULL;
    if ((opts & PCRE2_EXTENDED) || mk_sa_rx_backrefs(pat))
        return MK_SA_ASCII_SAME;
    mk_sa_asc a = {pat, pat, 0, 0};
    GString *out = g_string_new(NULL);
    int can = mk_sa_asc_alt(&a, out, 0);
    if (*a.p != '\0')
        a.unsupported = 1; /* a ')' with no group */
    if (a.unsupported || !a.changed) {
        g_string_free(out, TRUE);
        return MK_SA_ASCII_SAME;
    }
    if (!can) {
        g_string_free(out, TRUE);
        return MK_SA_ASCII_NEVER;
    }
    *ascii = g_string_free(out, FALSE);
    return MK_SA_ASCII_COPY;
}
