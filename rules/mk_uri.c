/*
 * mk_uri: link extraction and host normalization.
 */
#include "config.h"

#include "mk_uri.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define MK_URI_LINK_MAX 2048  /* bytes of a link looked at */
#define MK_URI_SEEN_MAX 65536 /* distinct names remembered, kept or not */

void mk_uri_set_init(mk_uri_set *set, const psl_ctx_t *psl, size_t max)
{
    memset(set, 0, sizeof(*set));
    set->psl = psl;
    set->max = max;
    set->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

void mk_uri_set_keep_links(mk_uri_set *set, size_t max)
{
    if (set->kept == NULL)
        set->kept = g_ptr_array_new_with_free_func(g_free);
    set->max_links = max;
}

void mk_uri_set_clear(mk_uri_set *set)
{
    if (set->kept != NULL)
        g_ptr_array_free(set->kept, TRUE);
    if (set->seen != NULL)
        g_hash_table_destroy(set->seen);
    g_free(set->hosts);
    memset(set, 0, sizeof(*set));
}

/* Records one host (a registered domain, or an address when addr is set). */
static void mk_uri_record(mk_uri_set *set, const char *name, const mk_addr *addr)
{
    set->links++;
    gpointer v = g_hash_table_lookup(set->seen, name);
    if (v != NULL) {
        size_t idx = GPOINTER_TO_SIZE(v);
        if (idx > 0 && idx <= set->n)
            set->hosts[idx - 1].count++;
        return;
    }
    if (set->n == set->max) {
        set->dropped++;
        if (g_hash_table_size(set->seen) < MK_URI_SEEN_MAX)
            g_hash_table_insert(set->seen, g_strdup(name), GSIZE_TO_POINTER((gsize)SIZE_MAX));
        return;
    }
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 16;
        set->hosts = g_renew(mk_uri_host, set->hosts, set->cap);
    }
    mk_uri_host *h = &set->hosts[set->n++];
    memset(h, 0, sizeof(*h));
    g_strlcpy(h->name, name, sizeof(h->name));
    h->count = 1;
    if (addr != NULL) {
        h->is_addr = 1;
        h->addr = *addr;
    }
    g_hash_table_insert(set->seen, g_strdup(name), GSIZE_TO_POINTER(set->n));
}

static int mk_uri_hexval(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* Whether the host's last label is a number (WHATWG URL "ends in a number"):
 * then it can only be an IPv4 address. */
static int mk_uri_ends_in_number(const char *host)
{
    size_t len = strlen(host);
    if (len > 0 && host[len - 1] == '.')
        len--;
    size_t start = len;
    while (start > 0 && host[start - 1] != '.')
        start--;
    const char *last = host + start;
    size_t n = len - start;
    if (n == 0)
        return 0;
    if (n >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X'))
        return strspn(last + 2, "0123456789abcdefABCDEF") >= n - 2;
    return strspn(last, "0123456789") >= n;
}

/* The host of an authority ("user@host:port"), percent-decoded, into out. */
static int mk_uri_authority_host(const char *auth, size_t len, char *out, size_t outlen)
{
    const char *at = NULL;
    for (size_t i = 0; i < len; i++)
        if (auth[i] == '@')
            at = auth + i;
    if (at != NULL) {
        len -= (size_t)(at + 1 - auth);
        auth = at + 1;
    }
    if (len > 0 && auth[0] == '[') {
        const char *close = memchr(auth, ']', len);
        if (close == NULL)
            return -1;
        len = (size_t)(close + 1 - auth);
    } else {
        for (size_t i = len; i-- > 0;)
            if (auth[i] == ':') {
                len = i;
                break;
            }
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)auth[i];
        if (c == '%' && i + 2 < len) {
            int hi = mk_uri_hexval((unsigned char)auth[i + 1]);
            int lo = mk_uri_hexval((unsigned char)auth[i + 2]);
            if (hi >= 0 && lo >= 0) {
                c = hi * 16 + lo;
                i += 2;
            }
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return o > 0 ? 0 : -1;
}

/* Classifies and records a decoded host; 1 if it named one. */
static int mk_uri_add_host(mk_uri_set *set, const char *host)
{
    mk_addr addr;
    char text[MK_DOMAIN_MAX * 4];
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n < 3 || host[n - 1] != ']' || n - 2 >= sizeof(text))
            return 0;
        memcpy(text, host + 1, n - 2);
        text[n - 2] = '\0';
        if (mk_net_parse_addr(text, &addr) != 0 || addr.family != AF_INET6)
            return 0;
        char canon[64];
        mk_uri_record(set, mk_net_addr_str(&addr, canon, sizeof(canon)), &addr);
        return 1;
    }
    if (mk_uri_ends_in_number(host)) {
        /* inet_aton() reads what browsers read: 1 to 4 parts, each
         * decimal, octal (leading 0) or hex (0x) */
        struct in_addr in;
        g_strlcpy(text, host, sizeof(text));
        size_t n = strlen(text);
        if (n > 0 && text[n - 1] == '.')
            text[n - 1] = '\0';
        if (inet_aton(text, &in) == 0)
            return 0;
        char dotted[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &in, dotted, sizeof(dotted));
        if (mk_net_parse_addr(dotted, &addr) != 0)
            return 0;
        mk_uri_record(set, dotted, &addr);
        return 1;
    }
    char norm[MK_DOMAIN_MAX];
    if (mk_domain_normalize(host, strlen(host), norm, sizeof(norm)) != 0 ||
        strchr(norm, '.') == NULL)
        return 0;
    if (set->psl != NULL && psl_is_public_suffix(set->psl, norm))
        return 0; /* "http://co.uk/": nobody's domain */
    mk_uri_record(set, mk_domain_org(set->psl, norm), NULL);
    return 1;
}

static int mk_uri_is_special_scheme(const char *s, size_t n)
{
    return (n == 4 && strncasecmp(s, "http", 4) == 0) ||
           (n == 5 && strncasecmp(s, "https", 5) == 0) || (n == 3 && strncasecmp(s, "ftp", 3) == 0);
}

int mk_uri_add_link(mk_uri_set *set, const char *link, size_t len)
{
    /* As browsers do: tabs and newlines anywhere are dropped, controls
     * and spaces around trimmed. */
    char buf[MK_URI_LINK_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i < len && n < MK_URI_LINK_MAX; i++)
        if (link[i] != '\t' && link[i] != '\n' && link[i] != '\r')
            buf[n++] = link[i];
    buf[n] = '\0';
    char *p = buf;
    while (*p != '\0' && (unsigned char)*p <= 0x20)
        p++;
    while (n > 0 && (unsigned char)buf[n - 1] <= 0x20 && buf + n > p)
        buf[--n] = '\0';

    const char *auth = NULL;
    size_t scheme = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    if (scheme > 0 && isalpha((unsigned char)p[0]) && p[scheme] == ':') {
        if (!mk_uri_is_special_scheme(p, scheme)) {
            /* mailto: is kept for the content rules (no host to look up);
             * javascript:, data:, cid: ... are not links to anywhere */
            if (scheme == 6 && strncasecmp(p, "mailto", 6) == 0 && set->kept != NULL &&
                set->kept->len < set->max_links)
                g_ptr_array_add(set->kept, g_strdup(p));
            return 0;
        }
        auth = p + scheme + 1;
        while (*auth == '/' || *auth == '\\')
            auth++;
    } else if ((p[0] == '/' || p[0] == '\\') && (p[1] == '/' || p[1] == '\\')) {
        auth = p + 2;
    } else if (strncasecmp(p, "www.", 4) == 0) {
        auth = p;
    } else {
        return 0; /* relative */
    }
    size_t alen = strcspn(auth, "/\\?#");
    char host[MK_DOMAIN_MAX * 4];
    if (mk_uri_authority_host(auth, alen, host, sizeof(host)) != 0)
        return 0;
    int named = mk_uri_add_host(set, host);
    if (named && set->kept != NULL && set->kept->len < set->max_links)
        g_ptr_array_add(set->kept, auth == p ? g_strconcat("http://", p, NULL) : g_strdup(p));
    return named;
}

/* Where a bare link in text ends: white space, markup and quotes, and the
 * Unicode spaces and quotation marks of U+00A0 and U+2000..U+206F. */
static size_t mk_uri_bare_end(const char *s, size_t len)
{
    size_t i = 0;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || strchr("<>\"'`{}|^", c) != NULL)
            break;
        if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] == 0xa0)
            break;
        if (c == 0xe2 && i + 1 < len && (unsigned char)s[i + 1] == 0x80)
            break;
    }
    /* punctuation closing a sentence is not part of the link */
    while (i > 0 && strchr(".,;:!?)]*", s[i - 1]) != NULL)
        i--;
    return i;
}

static int mk_uri_word_char(unsigned char c)
{
    return isalnum(c) || c == '.' || c == '-' || c == '_' || c == '/' || c == '@' || c >= 0x80;
}

/* Thunderbird's delimiters of an address in text (SpamAssassin's
 * tbirdenddelimemail): white space, markup, quotes, brackets, the comma,
 * '(', '|', ESC and any byte beyond ASCII. */
static int mk_uri_mail_delim(unsigned char c)
{
    return c <= 0x20 || c >= 0x80 || c == 0x1b || strchr("><\"`}]{[|,('", c) != NULL;
}

/* A bare address around the '@' at text[at], as a mail client links it
 * (SpamAssassin reads it as mailto:ADDRESS among the message's URIs):
 * kept when the set keeps links and the domain ends in a public suffix.
 * Returns where the scan goes on. */
static size_t mk_uri_bare_address(mk_uri_set *set, const char *text, size_t len, size_t at)
{
    size_t s = at, e = at + 1;
    while (s > 0 && at - s < 251 && !mk_uri_mail_delim((unsigned char)text[s - 1]) &&
           text[s - 1] != '@')
        s--;
    if (s == at)
        return at + 1;
    while (e < len && e - at - 1 < 251 && !mk_uri_mail_delim((unsigned char)text[e]))
        e++;
    size_t next = e; /* the scan goes on after what this address took */
    /* trailing punctuation is not part of it */
    while (e > at + 1 && strchr("-~!@#^&*()_+=:;'?,.", text[e - 1]) != NULL)
        e--;
    if (e == at + 1 || memchr(text + s, '/', at - s) != NULL)
        return at + 1;
    char *addr = g_strndup(text + s, e - s);
    char *a = addr;
    if (g_ascii_strncasecmp(a, "mailto:", 7) == 0)
        a += 7;
    else if (strchr(a, ':') != NULL && strchr(a, ':') < strchr(a, '@')) {
        /* "mail:", "e-mail:", "skype:" before it are a client's misreading */
        const char *colon = strchr(a, ':');
        size_t n = (size_t)(colon - a);
        if ((n == 5 && g_ascii_strncasecmp(a, "skype", 5) == 0) ||
            (n == 4 && g_ascii_strncasecmp(a, "mail", 4) == 0) ||
            (n == 5 && g_ascii_strncasecmp(a, "email", 5) == 0) ||
            (n == 6 && g_ascii_strncasecmp(a, "e-mail", 6) == 0) || n == 0) {
            a += n;
            while (*a == ':')
                a++;
        }
    }
    const char *dom = strchr(a, '@');
    size_t dlen = dom != NULL ? strcspn(dom + 1, "?&>") : 0;
    const char *dot = dom != NULL ? memchr(dom + 1, '.', dlen) : NULL;
    if (dot != NULL && *a != '@' && set->kept != NULL && set->kept->len < set->max_links) {
        char *host = g_ascii_strdown(dom + 1, (gssize)dlen);
        const char *tld = strrchr(host, '.') + 1;
        if (*tld != '\0' && (set->psl == NULL || psl_is_public_suffix(set->psl, tld)))
            g_ptr_array_add(set->kept, g_strconcat("mailto:", a, NULL));
        g_free(host);
    }
    g_free(addr);
    return next;
}

void mk_uri_scan_text(mk_uri_set *set, const char *text, size_t len)
{
    for (size_t i = 0; i + 4 <= len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '@' && set->kept != NULL) {
            i = mk_uri_bare_address(set, text, len, i) - 1;
        } else if (c == ':' && i + 3 <= len && text[i + 1] == '/' && text[i + 2] == '/') {
            size_t s;
            if (i >= 5 && strncasecmp(text + i - 5, "https", 5) == 0)
                s = i - 5;
            else if (i >= 4 && strncasecmp(text + i - 4, "http", 4) == 0)
                s = i - 4;
            else if (i >= 3 && strncasecmp(text + i - 3, "ftp", 3) == 0)
                s = i - 3;
            else
                continue;
            size_t end = i + 3 + mk_uri_bare_end(text + i + 3, len - i - 3);
            if (end > i + 3)
                mk_uri_add_link(set, text + s, end - s);
            i = end > i ? end - 1 : i;
        } else if ((c == 'w' || c == 'W') && strncasecmp(text + i, "www.", 4) == 0 &&
                   (i == 0 || !mk_uri_word_char((unsigned char)text[i - 1]))) {
            size_t end = i + mk_uri_bare_end(text + i, len - i);
            if (end > i + 4)
                mk_uri_add_link(set, text + i, end - i);
            i = end > i ? end - 1 : i;
        }
    }
}

static int mk_uri_link_attr(const xmlChar *name)
{
    static const char *const attrs[] = {"href", "src", "action", "background", "cite", "poster"};
    for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
        if (xmlStrcasecmp(name, (const xmlChar *)attrs[i]) == 0)
            return 1;
    return 0;
}

void mk_uri_scan_html(mk_uri_set *set, const char *html, size_t len)
{
    if (len == 0)
        return;
    mk_html_dom *dom = mk_html_dom_parse(html, len);
    mk_uri_scan_dom(set, dom, html, len);
    mk_html_dom_free(dom);
}

void mk_uri_scan_dom(mk_uri_set *set, const mk_html_dom *dom, const char *html, size_t len)
{
    if (len == 0)
        return;
    /* beyond libxml2's nesting limit the rest is read as plain text, so
     * nesting cannot hide a link */
    if (dom->doc == NULL || dom->stopped)
        mk_uri_scan_text(set, html, len);
    htmlDocPtr doc = dom->doc;
    if (doc == NULL)
        return;
    /* depth-first, without recursion: markup nests as deep as a spammer likes */
    for (xmlNodePtr node = xmlDocGetRootElement(doc); node != NULL;) {
        if (node->type == XML_ELEMENT_NODE) {
            for (xmlAttrPtr a = node->properties; a != NULL; a = a->next) {
                int link = mk_uri_link_attr(a->name);
                /* <meta http-equiv=refresh content="0; url=..."> */
                int content = xmlStrcasecmp(a->name, (const xmlChar *)"content") == 0;
                if (!link && !content)
                    continue;
                xmlChar *v = xmlNodeListGetString(doc, a->children, 1);
                if (v != NULL) {
                    size_t vlen = (size_t)xmlStrlen(v);
                    if (link)
                        mk_uri_add_link(set, (const char *)v, vlen);
                    else
                        mk_uri_scan_text(set, (const char *)v, vlen);
                    xmlFree(v);
                }
            }
        } else if ((node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) &&
                   node->content != NULL) {
            mk_uri_scan_text(set, (const char *)node->content, (size_t)xmlStrlen(node->content));
        }
        if (node->type == XML_ELEMENT_NODE && node->children != NULL) {
            node = node->children;
            continue;
        }
        while (node != NULL && node->next == NULL)
            node = node->parent != NULL && node->parent->type != XML_HTML_DOCUMENT_NODE
                       ? node->parent
                       : NULL;
        if (node != NULL)
            node = node->next;
    }
}

void mk_uri_scan_msg(mk_uri_set *set, const mk_msg *msg, const GPtrArray *doms)
{
    for (size_t i = 0; i < msg->n_texts; i++) {
        const mk_msg_text *t = &msg->texts[i];
        if (t->text == NULL)
            continue;
        if (!mk_html_dom_is_html(t))
            mk_uri_scan_text(set, t->text, t->len);
        else if (doms != NULL && doms->pdata[i] != NULL)
            mk_uri_scan_dom(set, doms->pdata[i], t->text, t->len);
        else
            mk_uri_scan_html(set, t->text, t->len);
    }
}
