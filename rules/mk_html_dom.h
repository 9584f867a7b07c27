/*
 * mk_html_dom: the HTML parts of a message read by libxml2's HTML parser
 * (broken markup and entities read as a browser reads them), once for
 * everything that walks their trees: the body text the body rules see
 * (mk_sa_body_text) and the links (mk_uri_scan_msg).
 */
#ifndef MK_HTML_DOM_H
#define MK_HTML_DOM_H

#include <glib.h>
#include <libxml/HTMLparser.h>
#include <stddef.h>

#include "mk_msg.h"

typedef struct mk_html_dom {
    htmlDocPtr doc; /* NULL: libxml2 read nothing */
    int stopped;    /* libxml2 stopped at its nesting limit: what lies beyond is not in doc */
} mk_html_dom;

/* html (len bytes, UTF-8) read; free with mk_html_dom_free(). */
mk_html_dom *mk_html_dom_parse(const char *html, size_t len);
void mk_html_dom_free(mk_html_dom *dom);

/* Whether text t of a message is an HTML part (text/html, decoded). */
int mk_html_dom_is_html(const mk_msg_text *t);

/* One entry per text of msg (msg->texts): the tree of each HTML part,
 * NULL for the others. g_ptr_array_unref() it. */
GPtrArray *mk_html_doms(const mk_msg *msg);

#endif
