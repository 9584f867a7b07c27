/*
 * mk_uri: the hosts a message links to, as URI block lists look them up.
 * Links come from the text parts (bare http://, https:// and www. links)
 * and the HTML parts (href, src, action and background attributes, parsed
 * by libxml2's HTML parser, so entities and broken markup read as a
 * browser reads them, plus bare links in the text). Each host is
 * percent-decoded, lower-cased and turned to A-labels (mk_domain), and
 * reduced to its registered domain with the public suffix list; an IP
 * address in any form a browser accepts (192.0.2.1, 3221225985, 0xC0.0.2.1,
 * [2001:db8::1]) is kept as an address. Hosts are kept once each, in the
 * order they first appear, up to a bound; the rest are only counted.
 */
#ifndef MK_URI_H
#define MK_URI_H

#include <glib.h>
#include <libpsl.h>
#include <stddef.h>

#include "mk_domain.h"
#include "mk_html_dom.h"
#include "mk_msg.h"
#include "mk_net.h"

typedef struct mk_uri_host {
    char name[MK_DOMAIN_MAX]; /* the registered domain, or the address in text */
    int is_addr;              /* addr holds the address */
    mk_addr addr;
    unsigned count; /* links to it */
} mk_uri_host;

typedef struct mk_uri_set mk_uri_set;
struct mk_uri_set {
    const psl_ctx_t *psl;
    mk_uri_host *hosts; /* g_malloc'd, freed by mk_uri_set_clear */
    size_t n, cap, max;
    size_t links;     /* links found, with repeats */
    size_t dropped;   /* distinct hosts past max, not kept */
    GHashTable *seen; /* name -> index + 1; names past max are kept here too */
    GPtrArray *kept;  /* the links as written (g_free'd strings), when kept */
    size_t max_links;
};

/* An empty set keeping at most max hosts; psl may be NULL (last two labels). */
void mk_uri_set_init(mk_uri_set *set, const psl_ctx_t *psl, size_t max);
void mk_uri_set_clear(mk_uri_set *set);
/* Also keeps up to max links as written (scheme added to "www." ones), for
 * rules that match whole URIs. */
void mk_uri_set_keep_links(mk_uri_set *set, size_t max);

/* Adds the host of one link (an absolute URL, "//host/..." or "www.host");
 * 1 when it names a host, 0 when not (relative, mailto:, garbage). */
int mk_uri_add_link(mk_uri_set *set, const char *link, size_t len);
/* Adds every bare link in plain text (UTF-8). */
void mk_uri_scan_text(mk_uri_set *set, const char *text, size_t len);
/* Adds the links of an HTML document (UTF-8): attributes and text. */
void mk_uri_scan_html(mk_uri_set *set, const char *html, size_t len);
/* mk_uri_scan_html with html (len bytes) already read as dom. */
void mk_uri_scan_dom(mk_uri_set *set, const mk_html_dom *dom, const char *html, size_t len);
/* Adds the links of every text and HTML part of a parsed message; doms:
 * mk_html_doms(msg), or NULL to read each HTML part here. */
void mk_uri_scan_msg(mk_uri_set *set, const mk_msg *msg, const GPtrArray *doms);

#endif
