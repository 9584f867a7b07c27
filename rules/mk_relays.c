/*
 * mk_relays: reads the Received chain into hops and splits it where trust
 * ends (see mk_relays.h).
 *
 * A Received header names the host that handed the message over in its
 * "from" clause, in as many layouts as there are MTAs. This reader takes
 * the clause apart instead of matching each layout whole: the first word
 * W, the parenthesised comment after it (P1), and a second comment or
 * bracketed address (P2); then it reads them by what they hold:
 *
 *   W (RDNS [IP])            Postfix, Sendmail: W is the HELO, RDNS the name
 *   W ([IP] helo=H)          Exim: W is the name, H the HELO
 *   W ([IP])                 Sendmail with no name (or qmail with SMTP: W is
 *                            the name), Exchange's SMTPSVC (no lookup)
 *   W (HELO H) (ident@IP)    qmail, qpsmtpd: W is the name ("unknown": none)
 *   W (ident@IP)             qmail with HELO equal to the name
 *   [IP] (helo=H)            Exim without a name; [IP] alone: webmail
 *   IP (HELO H)              W is the address
 *   W [IP]                   Exim (W is name and HELO), others (HELO)
 *   name(IP)                 smap
 *
 * and falls back to the first [IP] in the header. The MTA's own words
 * (Exim, SMTPSVC, Microsoft SMTP Server, CommuniGate Pro, Lotus Domino)
 * settle which reading applies. Authenticated hand-overs are seen from the
 * protocol (ESMTPA, ESMTPSA, LMTPA, ASMTP, HTTP...) and the comments
 * Sendmail, Postfix and Courier write.
 */
#include "config.h"

#include "mk_relays.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

/* ---- small text helpers -------------------------------------------------------- */

static int mk_relays_hostch(int c)
{
    return isalnum(c) || strchr("-.^+_&:=?!@%*$\\/", c) != NULL;
}

/* The length of the IP address (IPv4, IPv6, optional "IPv6:" prefix) at
 * s, or 0. A trailing ".PORT" or ":PORT" is not part of it. */
static size_t mk_relays_ip_len(const char *s)
{
    size_t pre = g_ascii_strncasecmp(s, "IPv6:", 5) == 0 ? 5 : 0;
    size_t n = 0;
    while (isxdigit((unsigned char)s[pre + n]) || s[pre + n] == ':' || s[pre + n] == '.')
        n++;
    while (n > 0) {
        char buf[64];
        unsigned char bin[16];
        if (n < sizeof(buf)) {
            memcpy(buf, s + pre, n);
            buf[n] = '\0';
            if (strchr(buf, ':') != NULL ? inet_pton(AF_INET6, buf, bin) == 1
                                         : inet_pton(AF_INET, buf, bin) == 1)
                return pre + n;
        }
        /* drop a trailing [.:]digits (a port) and try again */
        size_t k = n;
        while (k > 0 && isdigit((unsigned char)s[pre + k - 1]))
            k--;
        if (k == n || k == 0 || (s[pre + k - 1] != '.' && s[pre + k - 1] != ':'))
            return 0;
        n = k - 1;
    }
    return 0;
}

/* s is exactly an address, perhaps with ":PORT", "[...]" around it. */
static char *mk_relays_whole_ip(const char *s, size_t len)
{
    if (len >= 2 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL)
            return NULL;
        size_t n = mk_relays_ip_len(s + 1);
        return n > 0 && s + 1 + n <= close ? g_strndup(s + 1, n) : NULL;
    }
    size_t n = mk_relays_ip_len(s);
    if (n == 0)
        return NULL;
    if (n < len && s[n] != ':' && s[n] != '.')
        return NULL;
    return g_strndup(s, n);
}

/* The first "[IP]" (or "[IP:port]", "[IP.port]") in s, or NULL. */
static char *mk_relays_bracket_ip(const char *s, const char **after)
{
    for (const char *p = strchr(s, '['); p != NULL; p = strchr(p + 1, '[')) {
        size_t n = mk_relays_ip_len(p + 1);
        if (n == 0)
            continue;
        const char *q = p + 1 + n;
        while (*q == '.' || *q == ':' || isdigit((unsigned char)*q))
            q++;
        if (*q != ']')
            continue;
        if (after != NULL)
            *after = q + 1;
        return g_strndup(p + 1, n);
    }
    return NULL;
}

/* The word (hostname characters) after key in s, where key starts a word;
 * or NULL. */
static char *mk_relays_word_after(const char *s, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = s; (p = strstr(p, key)) != NULL; p++) {
        if (p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
            continue;
        const char *v = p + kl, *e = v;
        while (*e != '\0' && mk_relays_hostch((unsigned char)*e))
            e++;
        if (e > v)
            return g_strndup(v, (gsize)(e - v));
    }
    return NULL;
}

/* The token (up to a space, or end) starting at s. */
static char *mk_relays_token(const char *s)
{
    return g_strndup(s, strcspn(s, " "));
}

/* The content of the parenthesised group at s (s[0] == '('), nested
 * groups kept; *after points past it. NULL when unbalanced. */
static char *mk_relays_group(const char *s, const char **after)
{
    int depth = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '(')
            depth++;
        else if (*p == ')' && --depth == 0) {
            *after = p[1] == ' ' ? p + 2 : p + 1;
            return g_strndup(s + 1, (gsize)(p - s - 1));
        }
    }
    return NULL;
}

static void mk_relays_set(char **field, char *value)
{
    g_free(*field);
    *field = value != NULL ? value : g_strdup("");
}

static const char *const mk_relays_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
                                               "Aug", "Sep", "Oct", "Nov", "Dec", NULL};

/* Whether s (what follows a Received header's last ';') is a date. */
static int mk_relays_is_date(const char *s)
{
    int month = 0, clock = 0;
    for (const char *const *m = mk_relays_months; *m != NULL && !month; m++)
        month = strstr(s, *m) != NULL;
    for (const char *p = s; *p != '\0' && !clock; p++)
        clock = isdigit((unsigned char)p[0]) && p[1] == ':' && isdigit((unsigned char)p[2]);
    return month && clock;
}

/* ---- authentication ------------------------------------------------------------ */

static char *mk_relays_auth(const char *l)
{
    static const char *const protos[] = {
        "ESMTPSA",   "ESMTPA", "LMTPSA", "LMTPA", "UTF8SMTPSA", "UTF8SMTPA", "UTF8LMTPSA",
        "UTF8LMTPA", "ASMTP",  "HTTPS",  "HTTPU", "HTTP",       NULL};
    if (strstr(l, " by ") != NULL)
        for (const char *p = l; (p = strstr(p, " with ")) != NULL; p += 6) {
            for (const char *const *k = protos; *k != NULL; k++) {
                size_t n = strlen(*k);
                char end = p[6 + n];
                if (g_ascii_strncasecmp(p + 6, *k, n) == 0 &&
                    (end == ' ' || end == ';' || end == '\0'))
                    return g_strndup(p + 6, n);
            }
        }
    const char *a = strstr(l, " (AUTH: ");
    if (a != NULL && strstr(a, ") by ") != NULL) {
        static const char *const mech[] = {"LOGIN", "PLAIN", "DIGEST-MD5", "CRAM-MD5", NULL};
        for (const char *const *m = mech; *m != NULL; m++)
            if (strncmp(a + 8, *m, strlen(*m)) == 0)
                return g_strdup(*m);
    }
    const char *by = strstr(l, " by ");
    const char *au = strstr(l, "(authenticated");
    if (by != NULL && au != NULL && au < by)
        return g_strdup("Sendmail");
    const char *pf = strstr(l, ") (Authenticated sender: ");
    if (pf != NULL && strstr(pf, ") with ") != NULL) {
        const char *paren = strstr(pf + 25, ") by ");
        const char *name = paren != NULL ? strchr(paren + 5, '(') : NULL;
        if (name != NULL) {
            size_t n = strcspn(name + 1, ")");
            if (n == 7 && strncmp(name + 1, "Postfix", 7) == 0)
                return g_strdup("Postfix");
            char *mta = g_strndup(name + 1, n);
            char *r = g_strdup_printf("Postfix (%s)", mta);
            g_free(mta);
            return r;
        }
    }
    if (strstr(l, " (account ") != NULL &&
        (strstr(l, "CommuniGate Pro HTTP") != NULL || strstr(l, "CommuniGate Pro SMTP") != NULL ||
         strstr(l, "CommuniGate Pro XIMSS") != NULL || strstr(l, "CommuniGate Pro IMAP") != NULL))
        return g_strdup("Communigate");
    if (by != NULL && (strstr(l, " (via HTTP)") != NULL || strstr(l, " (via HTTPS)") != NULL))
        return g_strdup(strstr(l, " (via HTTPS)") != NULL ? "HTTPS" : "HTTP");
    return NULL;
}

/* ---- one header ------------------------------------------------------------------ */

/* The hop's fields as SpamAssassin leaves them: no "IPv6:" prefix, zone or
 * IPv4-mapped form; no "unknown" name; characters that would break the
 * "[ ... ]" text turned to '!'. */
static void mk_relays_tidy(char *s)
{
    for (char *p = s; *p != '\0'; p++)
        if (isspace((unsigned char)*p) || strchr("#[]()<>|", *p) != NULL)
            *p = '!';
}

static int mk_relays_private(const char *ip)
{
    unsigned char b[16];
    if (inet_pton(AF_INET, ip, b) == 1)
        return b[0] == 10 || b[0] == 127 || (b[0] == 169 && b[1] == 254) ||
               (b[0] == 172 && b[1] >= 16 && b[1] <= 31) || (b[0] == 192 && b[1] == 168) ||
               (b[0] == 100 && b[1] >= 64 && b[1] <= 127);
    if (inet_pton(AF_INET6, ip, b) != 1)
        return 0;
    static const unsigned char loop[16] = {[15] = 1};
    if (memcmp(b, loop, 16) == 0)
        return 1;
    return b[0] == 0xfe && (b[1] & 0xc0) == 0x80; /* fe80::/10 */
}

static void mk_relays_finish(mk_relay *r, int looked_up)
{
    size_t n = strlen(r->rdns);
    while (n > 0 && r->rdns[n - 1] == '.')
        r->rdns[--n] = '\0';
    if (g_ascii_strcasecmp(r->rdns, "unknown") == 0 || r->rdns[0] == '[')
        r->rdns[0] = '\0';
    char *ip = r->ip;
    if (g_ascii_strncasecmp(ip, "IPv6:", 5) == 0)
        memmove(ip, ip + 5, strlen(ip + 5) + 1);
    char *pct = strchr(ip, '%');
    if (pct != NULL)
        *pct = '\0';
    unsigned char b[16];
    if (strchr(ip, ':') != NULL && inet_pton(AF_INET6, ip, b) == 1) {
        static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
        const char *dot = strrchr(ip, ':');
        if (memcmp(b, mapped, 12) == 0 && strchr(dot, '.') != NULL)
            memmove(ip, dot + 1, strlen(dot + 1) + 1);
    }
    n = strlen(r->by);
    while (n > 0 && r->by[n - 1] == ';')
        r->by[--n] = '\0';
    char *f = r->envfrom;
    while (*f == ' ' || *f == '<')
        f++;
    memmove(r->envfrom, f, strlen(f) + 1);
    n = strlen(r->envfrom);
    while (n > 0 && (r->envfrom[n - 1] == '>' || r->envfrom[n - 1] == ' '))
        r->envfrom[--n] = '\0';
    char *fields[] = {r->ip, r->rdns, r->helo, r->by, r->ident, r->envfrom};
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++)
        mk_relays_tidy(fields[i]);
    if (r->rdns[0] == '\0') {
        r->no_reverse_dns = looked_up;
        r->rdns_not_in_headers = !looked_up;
    }
    r->ip_private = mk_relays_private(r->ip);
    r->as_string =
        g_strdup_printf("[ ip=%s rdns=%s helo=%s by=%s ident=%s envfrom=%s intl=0 "
                        "id=%s auth=%s msa=0 ]",
                        r->ip, r->rdns, r->helo, r->by, r->ident, r->envfrom, r->id, r->auth);
}

/* helo=H and ident=I inside an Exim comment. */
static void mk_relays_exim_sub(mk_relay *r, const char *sub)
{
    const char *h = strstr(sub, "helo=");
    if (h != NULL)
        mk_relays_set(&r->helo, g_strndup(h + 5, strcspn(h + 5, " ")));
    const char *id = strstr(sub, "ident=");
    if (id != NULL)
        mk_relays_set(&r->ident, g_strndup(id + 6, strcspn(id + 6, " ")));
}

/* Hand-overs inside one host or to a gateway that records no address,
 * which SpamAssassin knows and passes over (clause c, comment p1). */
static int mk_relays_local(const char *c, const char *p1)
{
    static const char *const marks[] = {"(LSMTP for ", "(Content Technologies ", " with local",
                                        NULL};
    if (strncmp(c, "mail pickup service by ", 23) == 0)
        return 1;
    for (const char *const *m = marks; *m != NULL; m++)
        if (strstr(c, *m) != NULL)
            return 1;
    if (p1 == NULL)
        return 0;
    const char *at = strrchr(p1, '@');
    const char *host = at != NULL ? at + 1 : p1;
    return strcmp(host, "localhost") == 0 || strcmp(host, "localhost.localdomain") == 0 ||
           strncmp(host, "127.", 4) == 0;
}

/* qmail writes "with SMTP" or "with QMQP" (perhaps "RC4-SHA encrypted
 * SMTP") and no " id " after it; Sendmail writes "with ESMTP id ...". */
static int mk_relays_qmail_like(const char *l)
{
    const char *w = strstr(l, " with ");
    if (w == NULL || strstr(l, " by ") == NULL || strstr(l, " by ") > w)
        return 0;
    for (const char *p = w + 5; *p != '\0'; p++) {
        if (p[-1] != ' ')
            continue;
        if ((strncmp(p, "SMTP", 4) == 0 || strncmp(p, "QMQP", 4) == 0) &&
            strncmp(p + 4, " id ", 4) != 0)
            return 1;
    }
    return 0;
}

/* Whether the MTA looked the name of a "W (...) (IP)" hop up: qmail
 * (with SMTP or QMQP, no " id " after) writes "unknown" when it did not
 * or found none, and a name it was given; any other MTA writing this form
 * looked it up (SpamAssassin's reading). */
static int mk_relays_qmail_lookup(const char *l, const char *w)
{
    /* " with (?:.* )?(?:SMTP|QMQP)(?! id )": after the first " with ", an
     * SMTP or QMQP starting it or after a space, " id " not next */
    const char *with = strstr(l, " with ");
    int qmail = 0;
    for (const char *p = with != NULL ? with + 6 : NULL; p != NULL && *p != '\0' && !qmail; p++)
        qmail = (p == with + 6 || p[-1] == ' ') &&
                (strncmp(p, "SMTP", 4) == 0 || strncmp(p, "QMQP", 4) == 0) &&
                strncmp(p + 4, " id ", 4) != 0;
    return !qmail || g_ascii_strcasecmp(w, "unknown") != 0;
}

/* The reading of the "from" clause c (the header after "from "), l being
 * the whole header. 1: the hop is read; 0: not; -1: a fetcher; -2: no hop. */
static int mk_relays_clause(const char *l, const char *c, mk_relay *r, int *looked_up)
{
    const char *after = c;
    char *w = c[0] == '(' ? g_strdup("") : mk_relays_token(c);
    int ok = 0;
    char *p1 = NULL, *p2 = NULL, *ip = NULL;
    after = c + strlen(w);
    if (*after == ' ')
        after++;
    if (*after == '(')
        p1 = mk_relays_group(after, &after);
    if (p1 != NULL && *after == '(')
        p2 = mk_relays_group(after, &after);
    else if (p1 != NULL && *after == '[')
        p2 = g_strndup(after, strcspn(after, " "));

    int exim = strstr(l, "Exim") != NULL;
    char *wip = w[0] == '[' ? mk_relays_whole_ip(w, strlen(w)) : NULL;
    const char *byp = strstr(l, " by ");
    int by_paren = byp != NULL && strncmp(byp + 4 + strcspn(byp + 4, " "), " (", 2) == 0;
    /* SquirrelMail: the client's address shortly before "by HOST with HTTP" */
    if (strstr(c, " (SquirrelMail authenticated user ") != NULL ||
        strstr(c, " (NaSMail authenticated user ") != NULL) {
        for (const char *q = c; byp != NULL && q < byp; q++) {
            size_t n = isdigit((unsigned char)*q) && (q == c || !isalnum((unsigned char)q[-1]))
                           ? mk_relays_ip_len(q)
                           : 0;
            if (n == 0 || strchr(q, '.') == NULL || q[n] == '.' || q[n] == '-' ||
                byp + 1 - (q + n) < 10 || byp + 1 - (q + n) > 80 ||
                strncmp(byp + 4 + strcspn(byp + 4, " "), " with HTTP", 10) != 0)
                continue;
            ip = g_strndup(q, n);
            mk_relays_set(&r->helo, NULL);
            ok = 1;
            goto out;
        }
    }
    /* smap: name(IP) or name(IP, HELO h) */
    char *paren = strchr(w, '(');
    if (w[0] != '[' && paren != NULL && paren[1] != '[' &&
        (ip = mk_relays_whole_ip(paren + 1, strcspn(paren + 1, ",)"))) != NULL) {
        mk_relays_set(&r->rdns, g_strndup(w, (gsize)(paren - w)));
        const char *h = strstr(c, "HELO ");
        if (h != NULL)
            mk_relays_set(&r->helo, mk_relays_word_after(h, "HELO "));
        *looked_up = g_ascii_strcasecmp(r->rdns, "unknown") != 0;
        ok = 1;
        goto out;
    }
    /* Microsoft SMTP Server: W (IP) or W ([IP]); no name */
    if (p1 != NULL && w[0] != '\0' &&
        (strstr(l, " with Microsoft SMTP Server") != NULL || strstr(l, " with mapi id ") != NULL)) {
        char *z = g_strndup(p1, strcspn(p1, "%]"));
        ip = mk_relays_whole_ip(z[0] == '[' ? z + 1 : z, strlen(z[0] == '[' ? z + 1 : z));
        g_free(z);
        if (ip != NULL) {
            mk_relays_set(&r->helo, g_strdup(w));
            mk_relays_set(&r->id, NULL);
            ok = 1;
            goto out;
        }
    }
    /* Exchange's SMTPSVC, Lotus Domino: W ([IP] ...), no lookup */
    if (p1 != NULL && p1[0] == '[' &&
        (strstr(l, " SMTPSVC") != NULL || strstr(l, " (Lotus Domino ") != NULL) &&
        (ip = mk_relays_bracket_ip(p1, NULL)) != NULL) {
        mk_relays_set(&r->helo, g_strdup(w));
        *looked_up = 0;
        ok = 1;
        goto out;
    }
    if (exim) {
        if (wip != NULL) {
            ip = g_strdup(wip);
            if (p1 != NULL)
                mk_relays_exim_sub(r, p1);
            ok = 1;
            goto out;
        }
        if (p1 != NULL && p1[0] == '[' && (ip = mk_relays_bracket_ip(p1, NULL)) != NULL) {
            mk_relays_set(&r->rdns, g_strdup(w));
            mk_relays_set(&r->helo, g_strdup(w));
            mk_relays_exim_sub(r, strchr(p1, ']'));
            ok = 1;
            goto out;
        }
        if (p1 == NULL && *after == '[' && (ip = mk_relays_bracket_ip(after, NULL)) != NULL) {
            mk_relays_set(&r->rdns, g_strdup(w));
            mk_relays_set(&r->helo, g_strdup(w));
            ok = 1;
            goto out;
        }
    }
    /* W (RDNS [IP] ...), W (ident@[IP]), (HELO [IP]) */
    if (p1 != NULL && p1[0] != '[' && p1[0] != ' ') {
        size_t tl = strcspn(p1, " [");
        const char *br = p1 + tl + (p1[tl] == ' ' ? 1 : 0);
        const char *ipend = NULL;
        int helo_kw = tl == 4 && (strncmp(p1, "HELO", 4) == 0 || strncmp(p1, "EHLO", 4) == 0);
        if (!helo_kw && *br == '[' && (ip = mk_relays_bracket_ip(br, &ipend)) != NULL &&
            br == strchr(p1, '[') &&
            (*ipend == '\0' ||
             (p1[tl] == ' ' && (by_paren || strstr(p1, "authenticated") != NULL)))) {
            char *x = g_strndup(p1, tl);
            if (w[0] == '\0') {
                mk_relays_set(&r->helo, x);
            } else if (strcmp(x, "softdnserr") == 0 || x[0] == '<') {
                mk_relays_set(&r->helo, g_strdup(w));
                *looked_up = x[0] == '<';
                g_free(x);
            } else if (x[0] != '\0' && x[strlen(x) - 1] == '@') {
                /* ident@[IP]: no name (Sendmail), or W is the name too */
                mk_relays_set(&r->helo, g_strdup(w));
                if (!by_paren)
                    mk_relays_set(&r->rdns, g_strdup(w));
                x[strlen(x) - 1] = '\0';
                mk_relays_set(&r->ident, x);
                *looked_up = 1;
            } else {
                /* Postfix, Sendmail: the name it found, or "unknown" */
                *looked_up = 1;
                mk_relays_set(&r->helo, g_strdup(w));
                char *at = strrchr(x, '@');
                if (at != NULL) {
                    const char *id = g_ascii_strncasecmp(x, "IDENT:", 6) == 0 ? x + 6 : x;
                    mk_relays_set(&r->ident, g_strndup(id, (gsize)(at - id)));
                    mk_relays_set(&r->rdns, g_strdup(at + 1));
                    g_free(x);
                } else {
                    mk_relays_set(&r->rdns, x);
                }
            }
            ok = 1;
            goto out;
        }
        g_free(ip);
        ip = NULL;
    }
    /* qmail, qpsmtpd, gmx: W (HELO H) (ident@IP) or [IP] */
    if (p1 != NULL &&
        (strncmp(p1, "HELO ", 5) == 0 || strncmp(p1, "EHLO ", 5) == 0 ||
         strncmp(p1, "LHLO ", 5) == 0 || strcmp(p1, "HELO") == 0 || strcmp(p1, "EHLO") == 0)) {
        const char *grp = p2;
        if (grp != NULL && grp[0] == '[')
            ip = mk_relays_bracket_ip(grp, NULL);
        else if (grp != NULL) {
            const char *at = strrchr(grp, '@');
            const char *a = at != NULL ? at + 1 : grp;
            size_t al = strcspn(a, " ");
            ip = mk_relays_whole_ip(a, al);
            if (ip != NULL && at != NULL)
                mk_relays_set(&r->ident, g_strndup(grp, (gsize)(at - grp)));
        }
        const char *hv = strlen(p1) > 4 ? p1 + 5 : p1 + 4;
        char *h = g_strndup(hv, strcspn(hv, " ()"));
        if (ip == NULL && wip != NULL)
            ip = g_strdup(wip);
        if (ip == NULL)
            ip = mk_relays_whole_ip(w, strlen(w));
        if (ip != NULL) {
            mk_relays_set(&r->helo, h);
            if (wip == NULL && p2 != NULL)
                mk_relays_set(&r->rdns, g_strdup(w));
            *looked_up = mk_relays_qmail_lookup(l, w);
            ok = 1;
            goto out;
        }
        g_free(h);
    }
    /* [IP] (helo=H ident=I), [IP] (account x HELO h), [IP] by */
    if (wip != NULL && !(p1 != NULL && p1[0] == '[')) {
        ip = g_strdup(wip);
        if (p1 != NULL) {
            mk_relays_exim_sub(r, p1);
            char *h = mk_relays_word_after(p1, "HELO ");
            if (h != NULL)
                mk_relays_set(&r->helo, h);
        }
        ok = 1;
        goto out;
    }
    /* W ([IP] ...) */
    if (p1 != NULL && p1[0] == '[' && (ip = mk_relays_bracket_ip(p1, NULL)) != NULL) {
        const char *rest = strchr(p1, ']') + 1;
        if (strstr(rest, "helo=") != NULL) {
            mk_relays_set(&r->rdns, g_strdup(w));
            mk_relays_set(&r->helo, g_strdup(w));
            mk_relays_exim_sub(r, rest);
        } else if (strcmp(rest, " verified") == 0 && strstr(l, " (CommuniGate Pro") != NULL) {
            mk_relays_set(&r->rdns, g_strdup(w));
            mk_relays_set(&r->helo, g_strdup(w));
        } else if (w[0] != '\0' && *rest == '\0' && mk_relays_qmail_like(l)) {
            mk_relays_set(&r->rdns, g_strdup(w));
            mk_relays_set(&r->helo, g_strdup(w));
        } else if (w[0] != '\0' && (*rest == '\0' || *rest == ' ')) {
            mk_relays_set(&r->helo, g_strdup(w));
            *looked_up = 1; /* Sendmail: W ([IP]) by, no name found */
        } else if (r->helo[0] == '\0') {
            mk_relays_set(&r->helo, g_strdup(w));
        }
        ok = 1;
        goto out;
    }
    /* W (IP), W (ident@IP): qmail; (IP) alone */
    if (p1 != NULL) {
        const char *s = p1[0] == ' ' ? p1 + 1 : p1;
        const char *sp = strchr(s, ' ');
        const char *at = sp != NULL ? memrchr(s, '@', (size_t)(sp - s)) : strrchr(s, '@');
        const char *a = at != NULL && (sp == NULL || sp > at) ? at + 1 : s;
        size_t al = strcspn(a, " ");
        if ((ip = mk_relays_whole_ip(a, al)) != NULL) {
            if (a != s)
                mk_relays_set(&r->ident, g_strndup(s, (gsize)(a - s - 1)));
            if (w[0] != '\0') {
                mk_relays_set(&r->helo, g_strdup(w));
                mk_relays_set(&r->rdns, g_strdup(w));
            }
            *looked_up = mk_relays_qmail_lookup(l, w);
            ok = 1;
            goto out;
        }
    }
    /* IP (HELO h), IP by; "IP [IP] by" below */
    if (!(p1 == NULL && *after == '[') && !(p1 != NULL && by_paren) &&
        (ip = mk_relays_whole_ip(w, strlen(w))) != NULL) {
        if (p1 != NULL) {
            char *h = mk_relays_word_after(p1, "HELO ");
            if (h == NULL)
                h = mk_relays_word_after(p1, "EHLO ");
            if (h != NULL)
                mk_relays_set(&r->helo, h);
        }
        ok = 1;
        goto out;
    }
    if (strstr(l, "with POP3") != NULL || strstr(l, "with IMAP") != NULL) {
        ok = -1;
        goto out;
    }
    /* W by HOST ...: a local hand-over */
    if (w[0] != '\0' && strncmp(c + strlen(w), " by ", 4) == 0) {
        ok = -2;
        goto out;
    }
    /* W [IP] by ... */
    const char *ipend = NULL;
    if (p1 == NULL && *after == '[' && (ip = mk_relays_bracket_ip(after, &ipend)) != NULL &&
        strncmp(ipend + strspn(ipend, ":0123456789"), " by ", 4) != 0) {
        g_free(ip); /* "W [IP] (HELO h) by": read below */
        ip = NULL;
    }
    if (ip != NULL) {
        mk_relays_set(&r->helo, g_strdup(w));
        ok = 1;
        goto out;
    }
    /* anything else: the first [IP], the first word as HELO */
    if (r->helo[0] == '\0' && w[0] != '\0' && c[strlen(w)] == ' ')
        mk_relays_set(&r->helo, g_strdup(w));
    ip = mk_relays_bracket_ip(l, NULL);
    ok = ip != NULL && r->by[0] != '\0';
    if (ip == NULL && mk_relays_local(c, p1))
        ok = -2;
out:
    if (ok == 1)
        mk_relays_set(&r->ip, ip);
    else
        g_free(ip);
    g_free(wip);
    g_free(p1);
    g_free(p2);
    g_free(w);
    return ok;
}

void mk_relay_clear(mk_relay *r)
{
    char **f[] = {&r->ip,      &r->rdns, &r->helo, &r->by,       &r->ident,
                  &r->envfrom, &r->id,   &r->auth, &r->as_string};
    for (size_t i = 0; i < G_N_ELEMENTS(f); i++) {
        g_free(*f[i]);
        *f[i] = NULL;
    }
}

mk_relay_kind mk_relays_parse_line(const char *value, mk_relay *out)
{
    memset(out, 0, sizeof(*out));
    /* white space squeezed, no trailing ';' */
    char *l = g_malloc(strlen(value) + 1);
    size_t n_l = 0;
    for (const char *p = value; *p != '\0'; p++) {
        if (!isspace((unsigned char)*p))
            l[n_l++] = *p;
        else if (n_l > 0 && l[n_l - 1] != ' ')
            l[n_l++] = ' ';
    }
    while (n_l > 0 && (l[n_l - 1] == ' ' || l[n_l - 1] == ';'))
        n_l--;
    l[n_l] = '\0';
    mk_relay_kind kind = MK_RELAY_SKIP;
    const char *c = NULL;
    if (g_ascii_strncasecmp(l, "from ", 5) == 0)
        c = l + 5;
    else if (g_ascii_strncasecmp(l, "(from ", 6) == 0)
        c = l + 6;
    if (c == NULL || strstr(l, " with local for ") != NULL)
        goto done;
    if (strstr(l, " with local ") != NULL || strstr(l, " with local-") != NULL) {
        if (strstr(l, "Exim") != NULL)
            goto done;
    }
    /* "from NAME by HOST;": no address at all */
    {
        size_t wl = strcspn(c, " ");
        if (strncmp(c + wl, " by ", 4) == 0) {
            const char *h = c + wl + 4;
            h += strcspn(h, " ;");
            if ((*h == ';' || (h[0] == ' ' && h[1] == ';')) && c[0] != '[')
                goto done;
        }
    }
    static const char *const env[] = {"return-path: ",
                                      "return-path ",
                                      "envelope-sender ",
                                      "envelope-sender=",
                                      "envelope-from ",
                                      "envelope-from=",
                                      NULL};
    char *envfrom = NULL;
    char *low = g_ascii_strdown(c, -1); /* for the keys, in any case */
    for (const char *const *k = env; *k != NULL && envfrom == NULL; k++) {
        const char *e = strstr(low, *k);
        if (e == NULL)
            continue;
        envfrom = mk_relays_token(c + (e - low) + strlen(*k));
        size_t n = strlen(envfrom); /* up to the end of a word */
        while (n > 0 && !isalnum((unsigned char)envfrom[n - 1]) && envfrom[n - 1] != '_')
            envfrom[--n] = '\0';
    }
    g_free(low);
    /* the date after the last ';' */
    char *semi = strrchr(l, ';');
    if (semi != NULL && mk_relays_is_date(semi + 1)) {
        *semi = '\0';
        size_t n = strlen(l);
        while (n > 0 && (l[n - 1] == ' ' || l[n - 1] == ';'))
            l[--n] = '\0';
    }
    for (char *p = strstr(l, ")by "); p != NULL; p = strstr(p, ")by ")) {
        memmove(p + 2, p + 1, strlen(p + 1) + 1);
        p[1] = ' ';
    }
    mk_relay r = {0};
    char **all[] = {&r.ip, &r.rdns, &r.helo, &r.by, &r.ident, &r.envfrom, &r.id, &r.auth};
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++)
        *all[i] = g_strdup("");
    const char *id = strstr(l, " id ");
    if (id != NULL) {
        const char *v = id + 4 + (id[4] == '<');
        size_t n = strcspn(v, " \t<>;");
        if (n >= 3)
            mk_relays_set(&r.id, g_strndup(v, n));
    }
    char *helo = mk_relays_word_after(l, "helo=");
    if (helo == NULL)
        helo = mk_relays_word_after(l, "HELO ");
    if (helo == NULL)
        helo = mk_relays_word_after(l, "EHLO ");
    mk_relays_set(&r.helo, helo);
    const char *by = strstr(l, " by ");
    if (by != NULL)
        mk_relays_set(&r.by, mk_relays_token(by + 4));
    mk_relays_set(&r.auth, mk_relays_auth(l));
    mk_relays_set(&r.envfrom, envfrom);
    int looked_up = 0;
    int ok = mk_relays_clause(l, c, &r, &looked_up);
    if (ok == 1) {
        mk_relays_finish(&r, looked_up);
        *out = r;
        kind = MK_RELAY_PARSED;
    } else {
        mk_relay_clear(&r);
        kind = ok == -1 ? MK_RELAY_FETCHER : ok == -2 ? MK_RELAY_SKIP : MK_RELAY_UNPARSEABLE;
    }
done:
    g_free(l);
    return kind;
}

/* ---- the chain -------------------------------------------------------------------- */

/* The headers some webmail systems add with the client's address; read as
 * the oldest hops, as SpamAssassin's originating_ip_headers. */
static const char *const mk_relays_origin_headers[] = {"X-Yahoo-Post-IP", "X-Originating-IP",
                                                       "X-Apparently-From", "X-SenderIP", NULL};

static void mk_relay_free(gpointer p)
{
    mk_relay_clear(p);
    g_free(p);
}

/* Whether trust reaches the hop r. */
static int mk_relays_trusts(const mk_relay *r, const mk_netlist *trusted)
{
    if (r->auth[0] != '\0')
        return 1;
    if (trusted == NULL || trusted->n == 0)
        return r->ip_private;
    mk_addr a;
    if (mk_net_parse_addr(r->ip, &a) != 0)
        return 0;
    static const uint8_t loop6[16] = {[15] = 1};
    if ((a.family == AF_INET && a.bytes[0] == 127) ||
        (a.family == AF_INET6 && memcmp(a.bytes, loop6, 16) == 0))
        return 1;
    return mk_net_list_contains(trusted, &a);
}

mk_relays *mk_relays_parse(GMimeHeaderList *hl, const mk_netlist *trusted)
{
    mk_relays *rs = g_new0(mk_relays, 1);
    rs->all = g_ptr_array_new_with_free_func(mk_relay_free);
    for (int k = 0; k < MK_RELAYS_N; k++)
        rs->part[k] = g_ptr_array_new();
    rs->last_trusted_index = -1;
    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
    int count = hl != NULL ? g_mime_header_list_get_count(hl) : 0;
    for (int i = 0; i < count; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        if (g_ascii_strcasecmp(g_mime_header_get_name(h), "Received") == 0) {
            const char *v = g_mime_header_get_raw_value(h);
            g_ptr_array_add(lines, g_strdup(v != NULL ? v : ""));
        }
    }
    for (const char *const *o = mk_relays_origin_headers; *o != NULL; o++) {
        GMimeHeader *h = hl != NULL ? g_mime_header_list_get_header(hl, *o) : NULL;
        const char *v = h != NULL ? g_mime_header_get_value(h) : NULL;
        for (const char *p = v; p != NULL && *p != '\0'; p++) {
            size_t n = mk_relays_ip_len(p);
            if (n > 0 && strchr(p, '.') != NULL && (p == v || !isxdigit((unsigned char)p[-1]))) {
                char *ip = g_strndup(p, n);
                g_ptr_array_add(lines, g_strdup_printf("\x01%s", ip));
                g_free(ip);
                break;
            }
        }
    }
    int in_trusted = 1, fetch_markers = 1;
    for (guint i = 0; i < lines->len; i++) {
        const char *line = g_ptr_array_index(lines, i);
        mk_relay one, *r;
        mk_relay_kind kind;
        if (line[0] == '\x01') { /* X-Originating-IP: an address, no more */
            memset(&one, 0, sizeof(one));
            char **all[] = {&one.rdns,    &one.helo, &one.by,  &one.ident,
                            &one.envfrom, &one.id,   &one.auth};
            for (size_t k = 0; k < G_N_ELEMENTS(all); k++)
                *all[k] = g_strdup("");
            one.ip = g_strdup(line + 1);
            mk_relays_finish(&one, 0);
            kind = MK_RELAY_PARSED;
        } else {
            kind = mk_relays_parse_line(line, &one);
        }
        if (kind == MK_RELAY_FETCHER && fetch_markers)
            for (int k = 0; k < MK_RELAYS_N; k++)
                if (k != MK_RELAYS_UNTRUSTED)
                    g_ptr_array_set_size(rs->part[k], 0);
        if (kind == MK_RELAY_UNPARSEABLE)
            rs->n_unparseable++;
        if (kind != MK_RELAY_PARSED) {
            if (in_trusted)
                rs->last_trusted_index++;
            continue;
        }
        r = g_new(mk_relay, 1);
        *r = one;
        g_ptr_array_add(rs->all, r);
        if (in_trusted && !mk_relays_trusts(r, trusted))
            in_trusted = 0;
        r->internal = in_trusted;
        if (in_trusted) {
            char *intl = strstr(r->as_string, " intl=0 ");
            intl[6] = '1';
        }
        g_ptr_array_add(rs->part[in_trusted ? MK_RELAYS_TRUSTED : MK_RELAYS_UNTRUSTED], r);
        g_ptr_array_add(rs->part[in_trusted ? MK_RELAYS_INTERNAL : MK_RELAYS_EXTERNAL], r);
        fetch_markers = in_trusted;
        if (in_trusted)
            rs->last_trusted_index++;
    }
    g_ptr_array_free(lines, TRUE);
    for (int k = 0; k < MK_RELAYS_N; k++) {
        GString *s = g_string_new(NULL);
        for (guint i = 0; i < rs->part[k]->len; i++) {
            const mk_relay *r = g_ptr_array_index(rs->part[k], i);
            if (i > 0)
                g_string_append_c(s, ' ');
            g_string_append(s, r->as_string);
        }
        rs->str[k] = g_string_free(s, FALSE);
    }
    return rs;
}

void mk_relays_free(mk_relays *rs)
{
    if (rs == NULL)
        return;
    for (int k = 0; k < MK_RELAYS_N; k++) {
        g_ptr_array_free(rs->part[k], TRUE);
        g_free(rs->str[k]);
    }
    g_ptr_array_free(rs->all, TRUE);
    g_free(rs);
}

const char *mk_relays_header(const mk_relays *rs, const char *name)
{
    static const char *const names[MK_RELAYS_N] = {
        "X-Spam-Relays-Trusted", "X-Spam-Relays-Untrusted", "X-Spam-Relays-Internal",
        "X-Spam-Relays-External"};
    for (int k = 0; k < MK_RELAYS_N; k++)
        if (g_ascii_strcasecmp(name, names[k]) == 0)
            return rs->str[k];
    return NULL;
}

int mk_relays_in_all(const mk_relays *rs, int rcvd, int is_received, int trusted)
{
    int edge = rs->last_trusted_index + 1;
    if (trusted)
        return rcvd < edge || (rcvd == edge && is_received);
    return rcvd >= edge;
}
