/*
 * mk_spf_syntax: RFC 7208 section 12 (the record's ABNF) as a checker.
 * libspf2 evaluates records it should refuse (empty or numeric top labels,
 * bad macros, redirect= twice, ...); section 4.6 says the whole record is
 * parsed before evaluation and a syntax error is permerror, whatever the
 * terms before it say. The SPF policy layer runs every fetched record
 * through mk_spf_record_check().
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mk_spf.h"

static int mk_spf_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int mk_spf_alnum(int c)
{
    return mk_spf_alpha(c) || (c >= '0' && c <= '9');
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static int mk_spf_toplabel(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    int alpha = 0, hyphen = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-')
            hyphen = 1;
        else if (!mk_spf_alnum((unsigned char)s[i]))
            return 0;
        alpha |= mk_spf_alpha((unsigned char)s[i]);
    }
    if (!hyphen)
        return alpha;
    return mk_spf_alnum((unsigned char)s[0]) && mk_spf_alnum((unsigned char)s[n - 1]);
}

/* macro-string; with domain set, also domain-end, and without the c, r and
 * t macro letters, which only explanation text may use (section 7.3).
 * 0 or -1 with why. */
static int mk_spf_macro_string(const char *s, size_t n, int domain, char *why, size_t len)
{
    size_t lit_start = 0; /* start of the trailing literal run */
    int ends_in_macro = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '%') {
            if (c < 0x21 || c > 0x7e) {
                snprintf(why, len, "character 0x%02x is not allowed", c);
                return -1;
            }
            ends_in_macro = 0;
            continue;
        }
        if (i + 1 >= n) {
            snprintf(why, len, "'%%' at the end");
            return -1;
        }
        char m = s[i + 1];
        if (m == '%' || m == '_' || m == '-') {
            i++;
        } else if (m == '{') {
            size_t j = i + 2;
            const char *letters = domain ? "slodiphvSLODIPHV" : "slodiphcrtvSLODIPHCRTV";
            if (j >= n || strchr(letters, s[j]) == NULL || s[j] == '\0') {
                snprintf(why, len, "'%%{%c' is not a macro letter allowed here",
                         j < n ? s[j] : '?');
                return -1;
            }
            j++;
            while (j < n && isdigit((unsigned char)s[j]))
                j++;
            if (j < n && (s[j] == 'r' || s[j] == 'R'))
                j++;
            while (j < n && strchr(".-+,/_=", s[j]) != NULL && s[j] != '\0')
                j++;
            if (j >= n || s[j] != '}') {
                snprintf(why, len, "macro '%.*s' is not closed well",
                         (int)(j - i + 1 > 20 ? 20 : j - i + 1), s + i);
                return -1;
            }
            i = j;
        } else {
            snprintf(why, len, "'%%%c' is not a macro", m);
            return -1;
        }
        ends_in_macro = 1;
        lit_start = i + 1;
    }
    if (!domain)
        return 0;
    if (n == 0) {
        snprintf(why, len, "empty domain");
        return -1;
    }
    if (ends_in_macro)
        return 0;
    /* domain-end = "." toplabel [ "." ] after the last macro */
    size_t end = n;
    if (end > lit_start && s[end - 1] == '.')
        end--;
    size_t dot = end;
    while (dot > lit_start && s[dot - 1] != '.')
        dot--;
    if (dot == lit_start || !mk_spf_toplabel(s + dot, end - dot)) {
        snprintf(why, len, "'%.*s' does not end in a valid top-level label", (int)(n > 60 ? 60 : n),
                 s);
        return -1;
    }
    return 0;
}

/* "/" ("0" / %x31-39 0*(max-1)DIGIT), value <= limit; advances *p. */
static int mk_spf_cidr(const char **p, const char *end, int digits, int limit)
{
    const char *s = *p + 1;
    size_t n = 0;
    while (s + n < end && isdigit((unsigned char)s[n]))
        n++;
    if (n == 0 || (int)n > digits || (n > 1 && s[0] == '0'))
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    if (v > limit)
        return -1;
    *p = s + n;
    return 0;
}

/* [ ip4-cidr-length ] [ "/" ip6-cidr-length ] at the end of [s, end) (a
 * domain-spec may hold '/' itself, so the lengths are found from the end);
 * returns where the domain part ends, or NULL when a length is malformed. */
static const char *mk_spf_dual_cidr(const char *s, const char *end)
{
    const char *p = end, *q = end;
    while (q > s && isdigit((unsigned char)q[-1]))
        q--;
    if (q < p && q - s >= 2 && q[-1] == '/' && q[-2] == '/') { /* "//" ip6 length */
        const char *at = q - 1;
        if (mk_spf_cidr(&at, end, 3, 128) != 0)
            return NULL;
        p = q - 2;
        q = p;
        while (q > s && isdigit((unsigned char)q[-1]))
            q--;
    }
    if (q < p && q - s >= 1 && q[-1] == '/') { /* "/" ip4 length */
        const char *at = q - 1;
        if (mk_spf_cidr(&at, p, 2, 32) != 0)
            return NULL;
        p = q - 1;
    }
    return p;
}

static int mk_spf_term(const char *t, size_t n, int *redirects, int *exps, char *why, size_t len)
{
    /* modifier: name "=" ... where name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) */
    size_t k = 0;
    if (n > 0 && mk_spf_alpha((unsigned char)t[0])) {
        k = 1;
        while (k < n && (mk_spf_alnum((unsigned char)t[k]) || strchr("-_.", t[k]) != NULL))
            k++;
        if (k < n && t[k] == '=') {
            const char *v = t + k + 1;
            size_t vn = n - k - 1;
            if (k == 8 && strncasecmp(t, "redirect", 8) == 0) {
                if (++*redirects > 1) {
                    snprintf(why, len, "redirect= given twice");
                    return -1;
                }
                return mk_spf_macro_string(v, vn, 1, why, len);
            }
            if (k == 3 && strncasecmp(t, "exp", 3) == 0) {
                if (++*exps > 1) {
                    snprintf(why, len, "exp= given twice");
                    return -1;
                }
                return mk_spf_macro_string(v, vn, 1, why, len);
            }
            return mk_spf_macro_string(v, vn, 0, why, len);
        }
    }
    /* directive = [ qualifier ] mechanism */
    const char *p = t, *end = t + n;
    if (p < end && strchr("+-?~", *p) != NULL)
        p++;
    const char *name = p;
    while (p < end && mk_spf_alnum((unsigned char)*p))
        p++;
    size_t nl = (size_t)(p - name);
    const char *arg = p;
#define MK_IS(s) (nl == strlen(s) && strncasecmp(name, s, nl) == 0)
    if (MK_IS("all")) {
        if (arg != end)
            goto bad;
        return 0;
    }
    if (MK_IS("include") || MK_IS("exists")) {
        if (arg >= end || *arg != ':')
            goto bad;
        return mk_spf_macro_string(arg + 1, (size_t)(end - arg - 1), 1, why, len);
    }
    if (MK_IS("a") || MK_IS("mx")) {
        const char *dend = mk_spf_dual_cidr(arg, end);
        if (dend == NULL) {
            snprintf(why, len, "bad CIDR length in '%.*s'", (int)(n > 60 ? 60 : n), t);
            return -1;
        }
        if (arg == dend)
            return 0;
        if (*arg != ':')
            goto bad;
        return mk_spf_macro_string(arg + 1, (size_t)(dend - arg - 1), 1, why, len);
    }
    if (MK_IS("ptr")) {
        if (arg == end)
            return 0;
        if (*arg != ':')
            goto bad;
        return mk_spf_macro_string(arg + 1, (size_t)(end - arg - 1), 1, why, len);
    }
    if (MK_IS("ip4") || MK_IS("ip6")) {
        int v6 = name[2] == '6';
        if (arg >= end || *arg != ':')
            goto bad;
        const char *a = arg + 1, *slash = a;
        while (slash < end && *slash != '/')
            slash++;
        char addr[64];
        unsigned char bin[16];
        if ((size_t)(slash - a) >= sizeof(addr))
            goto bad;
        memcpy(addr, a, (size_t)(slash - a));
        addr[slash - a] = '\0';
        if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1) {
            snprintf(why, len, "'%s' is not an IPv%c network", addr, v6 ? '6' : '4');
            return -1;
        }
        if (slash < end &&
            (mk_spf_cidr(&slash, end, v6 ? 3 : 2, v6 ? 128 : 32) != 0 || slash != end)) {
            snprintf(why, len, "bad CIDR length in '%.*s'", (int)(n > 60 ? 60 : n), t);
            return -1;
        }
        return 0;
    }
#undef MK_IS
bad:
    snprintf(why, len, "'%.*s' is not a mechanism or modifier", (int)(n > 60 ? 60 : n), t);
    return -1;
}

/* The next space-separated term at *p (its length in *n), or NULL at the end. */
static const char *mk_spf_next_term(const char **p, size_t *n)
{
    const char *s = *p;
    while (*s == ' ')
        s++;
    if (*s == '\0')
        return NULL;
    const char *e = s;
    while (*e != '\0' && *e != ' ')
        e++;
    *n = (size_t)(e - s);
    *p = e;
    return s;
}

int mk_spf_is_record(const char *txt)
{
    return strncasecmp(txt, "v=spf1", 6) == 0 && (txt[6] == '\0' || txt[6] == ' ');
}

int mk_spf_record_check(const char *record, char *why, size_t len)
{
    if (!mk_spf_is_record(record)) {
        snprintf(why, len, "not an SPF record");
        return -1;
    }
    int redirects = 0, exps = 0;
    const char *p = record + 6, *t;
    size_t n;
    while ((t = mk_spf_next_term(&p, &n)) != NULL)
        if (mk_spf_term(t, n, &redirects, &exps, why, len) != 0)
            return -1;
    return 0;
}

/* The modifier name of term t ("redirect", "exp", ...; n_name set), or
 * NULL when t is a mechanism. */
static const char *mk_spf_modifier(const char *t, size_t n, size_t *n_name)
{
    size_t k = 0;
    if (n == 0 || !mk_spf_alpha((unsigned char)t[0]))
        return NULL;
    while (k < n && (mk_spf_alnum((unsigned char)t[k]) || strchr("-_.", t[k]) != NULL))
        k++;
    if (k == n || t[k] != '=')
        return NULL;
    *n_name = k;
    return t;
}

/* Whether term t is the "all" mechanism, with any qualifier. */
static int mk_spf_is_all(const char *t, size_t n)
{
    if (n > 0 && strchr("+-?~", t[0]) != NULL)
        t++, n--;
    return n == 3 && strncasecmp(t, "all", 3) == 0;
}

/* Two mechanisms matching every address of a family (libspf2 takes no /0). */
static void mk_spf_whole_family(GString *out, const char *q, int v6)
{
    if (v6)
        g_string_append_printf(out, "%sip6:::/1 %sip6:8000::/1", q, q);
    else
        g_string_append_printf(out, "%sip4:0.0.0.0/1 %sip4:128.0.0.0/1", q, q);
}

/* One rewritten term into out; returns 1 when it differs from the term. */
static int mk_spf_rewrite_term(const char *t, size_t n, const mk_spf_rewrite_ctx *rc, int has_all,
                               GString *out)
{
    size_t n_name;
    if (mk_spf_modifier(t, n, &n_name) != NULL) {
        int redirect = n_name == 8 && strncasecmp(t, "redirect", 8) == 0;
        int exp = n_name == 3 && strncasecmp(t, "exp", 3) == 0;
        /* RFC 7208 6.1: redirect is ignored when the record has "all";
         * 6: unknown modifiers are ignored (libspf2 refuses some names) */
        if ((redirect && !has_all) || exp) {
            g_string_append_len(out, t, (gssize)n);
            return 0;
        }
        return 1;
    }
    int client_v6 = rc->client_v6;
    const char *p = t, *end = t + n;
    char q[2] = {0, 0};
    if (p < end && strchr("+-?~", *p) != NULL)
        q[0] = *p++;
    const char *name = p;
    while (p < end && mk_spf_alnum((unsigned char)*p))
        p++;
    size_t nl = (size_t)(p - name);
    int is_a = nl == 1 && (name[0] == 'a' || name[0] == 'A');
    int is_mx = nl == 2 && strncasecmp(name, "mx", 2) == 0;
    int is_ip4 = nl == 3 && strncasecmp(name, "ip4", 3) == 0;
    int is_ip6 = nl == 3 && strncasecmp(name, "ip6", 3) == 0;
    if ((is_ip4 || is_ip6) && n > 2 && strncmp(end - 2, "/0", 2) == 0 &&
        (n < 3 || end[-3] != '/')) {
        /* the whole address family, in two halves libspf2 accepts */
        mk_spf_whole_family(out, q, is_ip6);
        return 1;
    }
    if (!is_a && !is_mx) {
        g_string_append_len(out, t, (gssize)n);
        return 0;
    }
    const char *dend = mk_spf_dual_cidr(p, end);
    if (dend == NULL) {
        g_string_append_len(out, t, (gssize)n);
        return 0;
    }
    /* the lengths: "/4" and/or "//6" after dend */
    const char *c = dend, *len4 = NULL, *len6 = NULL;
    if (c < end && c[0] == '/' && c[1] != '/') {
        len4 = c + 1;
        c++;
        while (c < end && isdigit((unsigned char)*c))
            c++;
    }
    if (c < end && c[0] == '/' && c[1] == '/')
        len6 = c + 2;
    int len = client_v6 ? (len6 ? atoi(len6) : 128) : (len4 ? atoi(len4) : 32);
    GString *domain = g_string_new_len(p, dend - p); /* ":D" or empty */
    const char *d = domain->len > 1 ? domain->str + 1 : NULL;
    int changed = 1;
    if (len == 0 && !client_v6 && is_a) {
        /* RFC 7208 5.3: matches when the domain has any A record */
        g_string_append_printf(out, "%sexists:%s", q, d ? d : "%{d}");
    } else if (len == 0) {
        /* matches when the domain (its MX hosts) has any address of the
         * client's family: asked now, as no mechanism libspf2 takes says it */
        const char *target = d ? d : rc->domain;
        int any = target != NULL && strchr(target, '%') == NULL && rc->has_addr != NULL
                      ? rc->has_addr(rc->arg, target, is_mx, client_v6)
                      : -2;
        if (any == 1)
            mk_spf_whole_family(out, q, client_v6);
        else if (any == -2) /* a macro: left to libspf2 */
            g_string_append_len(out, t, (gssize)n), changed = 0;
        else /* none (or a DNS error, met again when libspf2 asks) */
            g_string_append_printf(out, "%s%.*s%s%s", q, (int)nl, name, domain->str,
                                   client_v6 ? "//128" : "/32");
    } else if (!client_v6 && len6 != NULL) {
        /* the IPv6 length does not apply to an IPv4 client */
        g_string_append_printf(out, "%s%.*s%s", q, (int)nl, name, domain->str);
        if (len4 != NULL)
            g_string_append_printf(out, "/%d", len);
    } else if (client_v6 && len4 != NULL) {
        g_string_append_printf(out, "%s%.*s%s", q, (int)nl, name, domain->str);
        if (len6 != NULL)
            g_string_append_printf(out, "//%d", len);
    } else {
        g_string_append_len(out, t, (gssize)n);
        changed = 0;
    }
    g_string_free(domain, TRUE);
    return changed;
}

char *mk_spf_record_rewrite(const char *record, const mk_spf_rewrite_ctx *rc)
{
    int has_all = 0;
    const char *p = record + 6, *t;
    size_t n;
    while ((t = mk_spf_next_term(&p, &n)) != NULL)
        has_all |= mk_spf_is_all(t, n);
    GString *out = g_string_new("v=spf1");
    int changed = 0;
    p = record + 6;
    while ((t = mk_spf_next_term(&p, &n)) != NULL) {
        size_t before = out->len;
        g_string_append_c(out, ' ');
        if (mk_spf_rewrite_term(t, n, rc, has_all, out) && out->len == before + 1)
            g_string_truncate(out, before); /* the term was dropped */
        changed |= out->len != before + 1 + n || memcmp(out->str + before + 1, t, n) != 0;
    }
    if (!changed) {
        g_string_free(out, TRUE);
        return NULL;
    }
    return g_string_free(out, FALSE);
}
