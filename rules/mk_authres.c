/*
 * mk_authres: composing and recognising Authentication-Results.
 */
#include "config.h"

#include "mk_authres.h"

#include <ctype.h>
#include <glib.h>
#include <string.h>
#include <strings.h>

/* Text fit for a header comment: no parentheses, backslashes or controls. */
static void mk_authres_comment(GString *out, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        g_string_append_c(
            out, (c < 0x20 || c == 0x7f || c == '(' || c == ')' || c == '\\') ? ' ' : (char)c);
    }
}

/* A property value (RFC 8601 pvalue): an address or a token as it is,
 * other printable text quoted, anything else reduced to its domain. */
static void mk_authres_pvalue(GString *out, const char *s, size_t n)
{
    int token = n > 0, address = memchr(s, '@', n) != NULL, printable = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\')
            printable = token = address = 0;
        else if (strchr("()<>@,;:/[]?=", c) != NULL)
            token = 0;
        if (!isalnum(c) && strchr("!#$%&'*+-/=?^_`{|}~.@", c) == NULL)
            address = 0;
    }
    if (token || address) {
        g_string_append_len(out, s, (gssize)n);
    } else if (printable) {
        g_string_append_c(out, '"');
        g_string_append_len(out, s, (gssize)n);
        g_string_append_c(out, '"');
    } else {
        const char *at = memchr(s, '@', n);
        for (const char *p = at ? at + 1 : s; p < s + n; p++)
            if (isalnum((unsigned char)*p) || *p == '.' || *p == '-')
                g_string_append_c(out, *p);
    }
}

/* "a.b=v1\nc.d=v2": each property, its value as a pvalue. */
static void mk_authres_props(GString *out, const char *props)
{
    const char *p = props;
    while (*p != '\0') {
        while (*p == '\n')
            p++;
        const char *end = p;
        while (*end != '\0' && *end != '\n')
            end++;
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq != NULL && eq > p) {
            g_string_append_c(out, ' ');
            g_string_append_len(out, p, eq - p + 1);
            mk_authres_pvalue(out, eq + 1, (size_t)(end - eq - 1));
        }
        p = end;
    }
}

const char *mk_authres_value(const mk_results *res, const char *authserv_id, mk_pool *pool)
{
    GString *v = g_string_new(authserv_id);
    g_string_append_c(v, ';');
    if (res->n_auth == 0)
        g_string_append(v, " none");
    for (size_t i = 0; i < res->n_auth; i++) {
        const mk_auth *a = &res->auth[i];
        g_string_append_printf(v, "%s\n\t%s=%s", i ? ";" : "", a->method, a->result);
        if (a->reason != NULL && a->reason[0] != '\0') {
            g_string_append(v, " (");
            mk_authres_comment(v, a->reason);
            g_string_append_c(v, ')');
        }
        if (a->props != NULL)
            mk_authres_props(v, a->props);
    }
    char *out = mk_pool_strdup(pool, v->str);
    g_string_free(v, TRUE);
    return out;
}

/* Skips white space and (nested) comments. */
static const char *mk_authres_cfws(const char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p != '(')
            return p;
        int depth = 0;
        for (; *p != '\0'; p++) {
            if (*p == '\\' && p[1] != '\0')
                p++;
            else if (*p == '(')
                depth++;
            else if (*p == ')' && --depth == 0) {
                p++;
                break;
            }
        }
    }
}

int mk_authres_claims(const char *value, const char *authserv_id)
{
    const char *p = mk_authres_cfws(value);
    size_t n;
    if (*p == '"') { /* a quoted-string authserv-id */
        p++;
        n = strcspn(p, "\"");
    } else {
        n = strcspn(p, " \t\r\n;(");
    }
    return n == strlen(authserv_id) && strncasecmp(p, authserv_id, n) == 0;
}
