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

/* A property value (RFC 8601 pvalue) from an address or name: kept when it
 * is made of safe characters, else only what follows the last '@'. */
static void mk_authres_pvalue(GString *out, const char *s)
{
    const char *p;
    for (p = s; *p != '\0'; p++)
        if (!isalnum((unsigned char)*p) && strchr("!#$%&'*+-/=?^_`{|}~.@", *p) == NULL)
            break;
    if (*p == '\0' && *s != '\0') {
        g_string_append(out, s);
        return;
    }
    const char *at = strrchr(s, '@');
    const char *dom = at ? at + 1 : s;
    for (p = dom; *p != '\0'; p++)
        if (isalnum((unsigned char)*p) || *p == '.' || *p == '-')
            g_string_append_c(out, *p);
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
        if (a->props != NULL && a->props[0] != '\0') {
            const char *eq = strchr(a->props, '=');
            g_string_append_c(v, ' ');
            if (eq != NULL) {
                g_string_append_len(v, a->props, eq - a->props + 1);
                mk_authres_pvalue(v, eq + 1);
            } else {
                g_string_append(v, a->props);
            }
        }
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
