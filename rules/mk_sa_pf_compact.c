/*
 * mk_sa_pf_compact: the prefilter's copy of a pattern longer than
 * vectorscan reads (16,000 bytes), made shorter by widening. The stock
 * obfuscation rules spell words with letter tags, each letter a group of
 * its look-alikes: the letter itself and a few ASCII stand-ins, UTF-8
 * characters of 2 to 4 bytes, HTML entities (&#1072;). Written out
 * hundreds of times they make patterns of 37 to 224 KB. Each such group
 * (no quantifier, no assertion, no escape but \xHH, \d and escaped
 * punctuation; matches of at most 10 bytes) becomes one that matches all
 * it matched and more: its ASCII one-byte alternatives as one class, its
 * alternatives of 8-bit bytes only (a lone 8-bit byte too) as
 * [\x80-\xff]{m,n}, the others as their first byte and the bytes that
 * may follow, [F][R]{m,n}. A prefilter may say yes too often, never too
 * seldom, and the letters stay: "your" spelled in any look-alikes still
 * passes, most text does not. Not for patterns with back references or
 * /x (the caller's), where a group's text is not all it matches.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "mk_sa_int.h"

/* a group is widened when its matches are at most this long */
#define MK_SA_PF_LETTER_MAX 10
/* and written in at least this many bytes */
#define MK_SA_PF_GROUP_MIN 32

typedef struct mk_sa_pf_set {
    uint8_t b[32];
} mk_sa_pf_set;

static void mk_sa_pf_set_add(mk_sa_pf_set *s, unsigned from, unsigned to)
{
    for (unsigned c = from; c <= to && c < 256; c++)
        s->b[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static int mk_sa_pf_set_has(const mk_sa_pf_set *s, unsigned c)
{
    return (s->b[c >> 3] >> (c & 7)) & 1;
}

static void mk_sa_pf_set_or(mk_sa_pf_set *d, const mk_sa_pf_set *s)
{
    for (size_t i = 0; i < sizeof(d->b); i++)
        d->b[i] |= s->b[i];
}

/* Whether every member of s is in [from, to] */
static int mk_sa_pf_set_within(const mk_sa_pf_set *s, unsigned from, unsigned to)
{
    for (unsigned c = 0; c < 256; c++)
        if (mk_sa_pf_set_has(s, c) && (c < from || c > to))
            return 0;
    return 1;
}

/* What a piece of pattern matches: strings of lo to hi bytes, the first
 * from first, the others from rest. */
typedef struct mk_sa_pf_shape {
    mk_sa_pf_set first, rest;
    unsigned lo, hi;
} mk_sa_pf_shape;

static int mk_sa_pf_hex(char c)
{
    return g_ascii_isxdigit(c) ? g_ascii_xdigit_value(c) : -1;
}

/* One byte of a class or pattern at *p (a character, \xHH or an escaped
 * punctuation mark), moving *p past it; -1 for anything else. */
static int mk_sa_pf_byte(const char **p)
{
    const char *s = *p;
    if (s[0] == '\\') {
        if (s[1] == 'x' && mk_sa_pf_hex(s[2]) >= 0 && mk_sa_pf_hex(s[3]) >= 0) {
            *p = s + 4;
            return mk_sa_pf_hex(s[2]) * 16 + mk_sa_pf_hex(s[3]);
        }
        if (s[1] != '\0' && !g_ascii_isalnum(s[1]) && (unsigned char)s[1] < 0x80) {
            *p = s + 2;
            return (unsigned char)s[1];
        }
        return -1;
    }
    if (s[0] == '\0')
        return -1;
    *p = s + 1;
    return (unsigned char)s[0];
}

static const char *mk_sa_pf_alts(const char *p, mk_sa_pf_shape *out);

/* The atom at p (a class, a group, \d, a byte) into a; past it, or NULL
 * when it is none of those or a quantifier follows. */
static const char *mk_sa_pf_atom(const char *p, mk_sa_pf_shape *a)
{
    memset(a, 0, sizeof(*a));
    a->lo = a->hi = 1;
    if (*p == '[') {
        const char *end = mk_sa_rx_class_end(p);
        if (*end != ']' || p[1] == '^')
            return NULL;
        for (const char *q = p + 1; q < end;) {
            if (q[0] == '\\' && q[1] == 'd') {
                mk_sa_pf_set_add(&a->first, '0', '9');
                q += 2;
                continue;
            }
            if (q[0] == '[' && q[1] == ':')
                return NULL;
            int c = mk_sa_pf_byte(&q);
            if (c < 0)
                return NULL;
            int to = c;
            if (q[0] == '-' && q + 1 < end) {
                q++;
                to = mk_sa_pf_byte(&q);
                if (to < c)
                    return NULL;
            }
            mk_sa_pf_set_add(&a->first, (unsigned)c, (unsigned)to);
        }
        p = end + 1;
    } else if (*p == '(') {
        if (p[1] == '?' && p[2] != ':')
            return NULL; /* assertions, names, options */
        p = mk_sa_pf_alts(p + (p[1] == '?' ? 3 : 1), a);
        if (p == NULL || *p != ')')
            return NULL;
        p++;
    } else if (p[0] == '\\' && p[1] == 'd') {
        mk_sa_pf_set_add(&a->first, '0', '9');
        p += 2;
    } else if (strchr(".^$|)*+?{", *p) != NULL) {
        return NULL;
    } else {
        int c = mk_sa_pf_byte(&p);
        if (c < 0)
            return NULL;
        mk_sa_pf_set_add(&a->first, (unsigned)c, (unsigned)c);
    }
    return *p != '\0' && strchr("*+?{", *p) != NULL ? NULL : p;
}

/* One alternative at p, up to '|' or ')' (or the end), into out. */
static const char *mk_sa_pf_seq(const char *p, mk_sa_pf_shape *out)
{
    memset(out, 0, sizeof(*out));
    for (int n = 0; *p != '\0' && *p != '|' && *p != ')'; n++) {
        mk_sa_pf_shape a;
        p = mk_sa_pf_atom(p, &a);
        if (p == NULL || a.lo == 0)
            return NULL;
        if (n == 0) {
            out->first = a.first;
            out->rest = a.rest;
        } else {
            mk_sa_pf_set_or(&out->rest, &a.first);
            mk_sa_pf_set_or(&out->rest, &a.rest);
        }
        out->lo += a.lo, out->hi += a.hi;
    }
    return out->hi == 0 ? NULL : p; /* an empty alternative: not a letter */
}

/* Alternatives at p, up to the ')' that ends them (or the end), into
 * out; NULL when one is not understood. */
static const char *mk_sa_pf_alts(const char *p, mk_sa_pf_shape *out)
{
    memset(out, 0, sizeof(*out));
    out->lo = UINT32_MAX;
    for (;;) {
        mk_sa_pf_shape s;
        p = mk_sa_pf_seq(p, &s);
        if (p == NULL)
            return NULL;
        mk_sa_pf_set_or(&out->first, &s.first);
        mk_sa_pf_set_or(&out->rest, &s.rest);
        out->lo = MIN(out->lo, s.lo), out->hi = MAX(out->hi, s.hi);
        if (*p != '|')
            return p;
        p++;
    }
}

static void mk_sa_pf_class_byte(GString *out, unsigned c)
{
    if (g_ascii_isalnum((char)c))
        g_string_append_c(out, (char)c);
    else
        g_string_append_printf(out, "\\x%02x", c);
}

/* Appends s as a class: letters and digits as they are, the rest \xHH,
 * runs of three or more as ranges. */
static void mk_sa_pf_class(GString *out, const mk_sa_pf_set *s)
{
    g_string_append_c(out, '[');
    for (unsigned c = 0; c < 256; c++) {
        if (!mk_sa_pf_set_has(s, c))
            continue;
        unsigned to = c;
        while (to + 1 < 256 && mk_sa_pf_set_has(s, to + 1))
            to++;
        mk_sa_pf_class_byte(out, c);
        if (to > c + 1)
            g_string_append_c(out, '-');
        if (to > c)
            mk_sa_pf_class_byte(out, to);
        c = to;
    }
    g_string_append_c(out, ']');
}

static void mk_sa_pf_count(GString *out, unsigned lo, unsigned hi)
{
    if (lo != 1 || hi != 1)
        g_string_append_printf(out, lo == hi ? "{%u}" : "{%u,%u}", lo, hi);
}

/* The widened copy of group g (len bytes, "(?:" ... ")"), or NULL when it
 * is not a letter group. g_free it. */
static char *mk_sa_pf_widen(const char *g, size_t len)
{
    /* its alternatives, each read once */
    GArray *alts = g_array_new(FALSE, FALSE, sizeof(mk_sa_pf_shape));
    const char *p = g + 3;
    for (;; p++) {
        mk_sa_pf_shape s;
        p = mk_sa_pf_seq(p, &s);
        if (p != NULL && s.hi > MK_SA_PF_LETTER_MAX)
            p = NULL; /* not a letter */
        if (p == NULL)
            break;
        g_array_append_val(alts, s);
        if (*p != '|')
            break;
    }
    if (p != g + len - 1) { /* not understood, too long, or not the whole group */
        g_array_free(alts, TRUE);
        return NULL;
    }
    mk_sa_pf_set one = {{0}};
    unsigned high_lo = UINT32_MAX, high_hi = 0;
    GPtrArray *others = g_ptr_array_new_with_free_func(g_free);
    for (guint k = 0; k < alts->len; k++) {
        const mk_sa_pf_shape s = g_array_index(alts, mk_sa_pf_shape, k);
        mk_sa_pf_set both = s.first;
        mk_sa_pf_set_or(&both, &s.rest);
        if (s.hi == 1) { /* its 8-bit bytes go with the 8-bit characters */
            for (unsigned c = 0; c < 256; c++)
                if (mk_sa_pf_set_has(&s.first, c) && c < 0x80)
                    mk_sa_pf_set_add(&one, c, c);
            if (!mk_sa_pf_set_within(&s.first, 0, 0x7f))
                high_lo = MIN(high_lo, 1), high_hi = MAX(high_hi, 1);
        } else if (mk_sa_pf_set_within(&both, 0x80, 0xff)) {
            high_lo = MIN(high_lo, s.lo), high_hi = MAX(high_hi, s.hi);
        } else {
            GString *o = g_string_new(NULL);
            mk_sa_pf_class(o, &s.first);
            mk_sa_pf_class(o, &s.rest);
            mk_sa_pf_count(o, s.lo - 1, s.hi - 1);
            int seen = 0;
            for (guint i = 0; i < others->len && !seen; i++)
                seen = strcmp(others->pdata[i], o->str) == 0;
            if (!seen)
                g_ptr_array_add(others, g_strdup(o->str));
            g_string_free(o, TRUE);
        }
    }
    g_array_free(alts, TRUE);
    GString *out = g_string_new("(?:");
    mk_sa_pf_set none = {{0}};
    if (memcmp(&one, &none, sizeof(one)) != 0)
        mk_sa_pf_class(out, &one);
    if (high_hi > 0) {
        if (out->len > 3)
            g_string_append_c(out, '|');
        g_string_append(out, "[\\x80-\\xff]");
        mk_sa_pf_count(out, high_lo, high_hi);
    }
    for (guint i = 0; i < others->len; i++) {
        if (out->len > 3)
            g_string_append_c(out, '|');
        g_string_append(out, others->pdata[i]);
    }
    g_string_append_c(out, ')');
    g_ptr_array_free(others, TRUE);
    if (out->len >= len) {
        g_string_free(out, TRUE);
        return NULL;
    }
    return g_string_free(out, FALSE);
}

static gint mk_sa_pf_by_open(gconstpointer a, gconstpointer b)
{
    const mk_sa_rx_span *x = a, *y = b;
    return x->open < y->open ? -1 : x->open > y->open;
}

char *mk_sa_pf_compact(const char *pat)
{
    if (mk_sa_rx_backrefs(pat)) /* a widened group may hold one they count */
        return g_strdup(pat);
    GArray *all = mk_sa_rx_groups(pat, NULL);
    if (all == NULL)
        return g_strdup(pat);
    /* the letter groups, by their text */
    GArray *spans = g_array_new(FALSE, FALSE, sizeof(mk_sa_rx_span));
    GHashTable *widened = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; i < all->len; i++) {
        const mk_sa_rx_span *sp = &g_array_index(all, mk_sa_rx_span, i);
        size_t len = sp->close + 1 - sp->open;
        if (len < MK_SA_PF_GROUP_MIN || strncmp(pat + sp->open, "(?:", 3) != 0)
            continue;
        char *text = g_strndup(pat + sp->open, len);
        if (!g_hash_table_contains(widened, text))
            g_hash_table_insert(widened, g_strdup(text), mk_sa_pf_widen(text, len));
        if (g_hash_table_lookup(widened, text) != NULL)
            g_array_append_val(spans, *sp);
        g_free(text);
    }
    g_array_free(all, TRUE);
    /* the outermost of them, in order */
    g_array_sort(spans, mk_sa_pf_by_open);
    GString *out = g_string_new(NULL);
    size_t from = 0;
    for (guint i = 0; i < spans->len; i++) {
        const mk_sa_rx_span *sp = &g_array_index(spans, mk_sa_rx_span, i);
        if (sp->open < from)
            continue; /* inside one widened already */
        char *text = g_strndup(pat + sp->open, sp->close + 1 - sp->open);
        g_string_append_len(out, pat + from, (gssize)(sp->open - from));
        g_string_append(out, g_hash_table_lookup(widened, text));
        g_free(text);
        from = sp->close + 1;
    }
    g_string_append(out, pat + from);
    g_array_free(spans, TRUE);
    g_hash_table_destroy(widened);
    return g_string_free(out, FALSE);
}
