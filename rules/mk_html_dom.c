/*
 * mk_html_dom: an HTML part's tree, read once (see mk_html_dom.h).
 */
#include "config.h"

#include "mk_html_dom.h"

#include <limits.h>
#include <strings.h>

mk_html_dom *mk_html_dom_parse(const char *html, size_t len)
{
    mk_html_dom *dom = g_new0(mk_html_dom, 1);
    htmlParserCtxtPtr ctxt = htmlNewParserCtxt();
    if (ctxt == NULL)
        return dom;
    int n = len > INT_MAX ? INT_MAX : (int)len;
    dom->doc = htmlCtxtReadMemory(ctxt, html, n, NULL, "UTF-8",
                                  HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                      HTML_PARSE_NONET | HTML_PARSE_COMPACT | XML_PARSE_HUGE);
    /* libxml2 stops at its nesting limit ("Excessive depth") */
    dom->stopped = ctxt->errNo == XML_ERR_INTERNAL_ERROR;
    htmlFreeParserCtxt(ctxt);
    return dom;
}

void mk_html_dom_free(mk_html_dom *dom)
{
    if (dom == NULL)
        return;
    if (dom->doc != NULL)
        xmlFreeDoc(dom->doc);
    g_free(dom);
}

int mk_html_dom_is_html(const mk_msg_text *t)
{
    return t->text != NULL && t->content_type != NULL &&
           strcasecmp(t->content_type, "text/html") == 0;
}

static void mk_html_dom_free_one(gpointer dom)
{
    mk_html_dom_free(dom);
}

GPtrArray *mk_html_doms(const mk_msg *msg)
{
    GPtrArray *doms = g_ptr_array_new_full((guint)msg->n_texts, mk_html_dom_free_one);
    for (size_t i = 0; i < msg->n_texts; i++)
        g_ptr_array_add(doms, mk_html_dom_is_html(&msg->texts[i])
                                  ? mk_html_dom_parse(msg->texts[i].text, msg->texts[i].len)
                                  : NULL);
    return doms;
}
