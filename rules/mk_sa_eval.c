/*
 * mk_sa_eval: running the compiled rules over one message, on the views of
 * it SpamAssassin's rules expect.
 */
#include "config.h"

#include <ctype.h>
#include <libxml/HTMLparser.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "mk_html_dom.h"
#include "mk_relays.h"
#include "mk_sa_html.h"
#include "mk_sa_int.h"

/* ---- the body as rendered text --------------------------------------------- */

static int mk_sa_tag_is(const xmlChar *name, const char *const *list)
{
    for (; *list != NULL; list++)
        if (xmlStrcasecmp(name, (const xmlChar *)*list) == 0)
            return 1;
    return 0;
}

/* The text of an HTML part (read as dom) as a reader sees it: no
 * markup, scripts, styles or head; blocks and line breaks on lines of
 * their own. */
static void mk_sa_html_text(GString *out, const mk_html_dom *dom)
{
    static const char *const skip[] = {"script", "style", "head", "title", NULL};
    static const char *const para[] = {"p",  "h1", "h2",    "h3",         "h4",  "h5",
                                       "h6", "hr", "table", "blockquote", "pre", NULL};
    static const char *const line[] = {"br", "div", "tr", "li", "dt", "dd", "ul", "ol", NULL};
    htmlDocPtr doc = dom->doc;
    if (doc == NULL)
        return;
    for (xmlNodePtr node = xmlDocGetRootElement(doc); node != NULL;) {
        int descend = 1;
        if (node->type == XML_ELEMENT_NODE) {
            if (mk_sa_tag_is(node->name, skip))
                descend = 0;
            else if (mk_sa_tag_is(node->name, para))
                g_string_append(out, "\n\n");
            else if (mk_sa_tag_is(node->name, line))
                g_string_append_c(out, '\n');
            else if (xmlStrcasecmp(node->name, (const xmlChar *)"img") == 0) {
                xmlChar *alt = xmlGetProp(node, (const xmlChar *)"alt");
                if (alt != NULL) {
                    g_string_append_printf(out, " %s ", (const char *)alt);
                    xmlFree(alt);
                }
            }
        } else if ((node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) &&
                   node->content != NULL) {
            g_string_append(out, (const char *)node->content);
        }
        if (descend && node->type == XML_ELEMENT_NODE && node->children != NULL) {
            node = node->children;
            continue;
        }
        while (node != NULL && node->next == NULL) {
            node = node->parent != NULL && node->parent->type != XML_HTML_DOCUMENT_NODE
                       ? node->parent
                       : NULL;
            if (node != NULL && node->type == XML_ELEMENT_NODE && mk_sa_tag_is(node->name, para))
                g_string_append(out, "\n\n");
        }
        if (node != NULL)
            node = node->next;
    }
}

/* Whether c is white space as Perl's \s reads it in bytes: space, tab,
 * line feed, carriage return, vertical tab, form feed. */
static int mk_sa_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* SpamAssassin's white space rules: a blank line ends a paragraph, every
 * other run of white space becomes one space; one paragraph per line. */
static char *mk_sa_paragraphs(const char *s, size_t len)
{
    GString *out = g_string_sized_new(len + 1);
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && !mk_sa_space((unsigned char)s[j]))
            j++;
        g_string_append_len(out, s + i, (gssize)(j - i)); /* a run of other bytes, whole */
        if (j == len)
            break;
        size_t newlines = 0;
        while (j < len && mk_sa_space((unsigned char)s[j]))
            newlines += s[j++] == '\n';
        g_string_append_c(out, newlines >= 2 ? '\n' : ' ');
        i = j;
    }
    g_string_append_c(out, '\n');
    return g_string_free(out, FALSE);
}

/* Where SpamAssassin cuts a text: the offset of the first of cuts (tried
 * in turn) in the window bytes of t (len bytes) from at, or SIZE_MAX. */
static size_t mk_sa_cut(const char *t, size_t len, size_t at, size_t window, const char *cuts)
{
    for (; at < len && *cuts != '\0'; cuts++) {
        const char *c = memchr(t + at, *cuts, MIN(len - at, window));
        if (c != NULL)
            return (size_t)(c - t);
    }
    return SIZE_MAX;
}

/* What SpamAssassin scans of a text part of len bytes at t
 * (body_part_scan_size, rawbody_part_scan_size): the first max bytes,
 * and on to the first of cuts within 1 KB past them. */
static size_t mk_sa_scan_len(const char *t, size_t len, size_t max, const char *cuts)
{
    if (len <= max)
        return len;
    size_t c = mk_sa_cut(t, len, max, 1025, cuts);
    return c != SIZE_MAX ? c + 1 : max;
}

#define MK_SA_BODY_SCAN_SIZE    50000  /* body_part_scan_size */
#define MK_SA_RAWBODY_SCAN_SIZE 500000 /* rawbody_part_scan_size */
#define MK_SA_LINE_MAX          2048   /* MAX_BODY_LINE_LENGTH */

/* text with its lines cut as SpamAssassin cuts body lines
 * (split_into_array_of_short_lines): a line longer than 2048 bytes, its
 * line end counted, cut after its last space in the first 2049 bytes, or
 * at 2048 bytes when there is none; and again for the rest. g_free it. */
static char *mk_sa_short_lines(const char *text)
{
    GString *out = g_string_sized_new(strlen(text) + 16);
    for (const char *p = text; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        while (len + (nl != NULL) > MK_SA_LINE_MAX) {
            size_t cut = 0;
            for (size_t i = MIN(len - 1, (size_t)MK_SA_LINE_MAX) + 1; i-- > 0 && cut == 0;)
                if (p[i] == ' ')
                    cut = i + 1;
            if (cut == 0)
                cut = MK_SA_LINE_MAX;
            g_string_append_len(out, p, (gssize)cut);
            g_string_append_c(out, '\n');
            p += cut, len -= cut;
        }
        g_string_append_len(out, p, (gssize)len);
        if (nl != NULL)
            g_string_append_c(out, '\n');
        p += len + (nl != NULL);
    }
    return g_string_free(out, FALSE);
}

/* The body text; with invisible, the text as one sees it: HTML parts
 * as html_parts (mk_sa_html_parts) rendered them, less what no one sees,
 * which goes to invisible. */
static char *mk_sa_text_of(const mk_msg *msg, const GPtrArray *html_parts, GString *invisible,
                           const GPtrArray *doms)
{
    GString *t = g_string_new(NULL), *part = g_string_new(NULL);
    guint k = 0; /* the next of html_parts */
    const char *subject = g_mime_message_get_subject(msg->mime);
    g_string_append(t, subject != NULL ? subject : "");
    g_string_append(t, "\n\n");
    for (size_t i = 0; i < msg->n_texts; i++) {
        const mk_msg_text *p = &msg->texts[i];
        if (p->text == NULL)
            continue;
        g_string_truncate(part, 0);
        int html = mk_html_dom_is_html(p);
        if (html && invisible != NULL && k < html_parts->len) {
            const mk_sa_html *h = html_parts->pdata[k++];
            g_string_append_len(part, h->visible->str, (gssize)h->visible->len);
            if (h->invisible->len > 0) { /* cut as the rest */
                g_string_append_len(invisible, h->invisible->str,
                                    (gssize)mk_sa_scan_len(h->invisible->str, h->invisible->len,
                                                           MK_SA_BODY_SCAN_SIZE, "\n "));
                g_string_append(invisible, "\n\n");
            }
        } else if (html && doms != NULL && doms->pdata[i] != NULL) {
            mk_sa_html_text(part, doms->pdata[i]);
        } else if (html) {
            mk_html_dom *dom = mk_html_dom_parse(p->text, p->len);
            mk_sa_html_text(part, dom);
            mk_html_dom_free(dom);
        } else
            g_string_append_len(part, p->text, (gssize)p->len);
        g_string_append_len(
            t, part->str,
            (gssize)mk_sa_scan_len(part->str, part->len, MK_SA_BODY_SCAN_SIZE, "\n "));
        g_string_append(t, "\n\n");
    }
    char *text = mk_sa_paragraphs(t->str, t->len);
    char *lines = mk_sa_short_lines(text);
    g_free(text);
    g_string_free(t, TRUE);
    g_string_free(part, TRUE);
    return lines;
}

char *mk_sa_body_text(const mk_msg *msg, const GPtrArray *doms)
{
    return mk_sa_text_of(msg, NULL, NULL, doms);
}

static void mk_sa_html_part_free(gpointer p)
{
    mk_sa_html_free(p);
}

GPtrArray *mk_sa_html_parts(const mk_msg *msg)
{
    GPtrArray *parts = g_ptr_array_new_with_free_func(mk_sa_html_part_free);
    for (size_t i = 0; i < msg->n_texts; i++)
        if (mk_html_dom_is_html(&msg->texts[i]))
            g_ptr_array_add(parts, mk_sa_html_parse(msg->texts[i].text, msg->texts[i].len));
    return parts;
}

char *mk_sa_visible_text(const mk_msg *msg, const GPtrArray *html, char **invisible)
{
    GPtrArray *own = html == NULL ? mk_sa_html_parts(msg) : NULL;
    GString *inv = g_string_new(NULL);
    char *text = mk_sa_text_of(msg, html != NULL ? html : own, inv, NULL);
    if (own != NULL)
        g_ptr_array_unref(own);
    *invisible = NULL;
    if (inv->len > 0) {
        char *para = mk_sa_paragraphs(inv->str, inv->len);
        *invisible = mk_sa_short_lines(para);
        g_free(para);
    }
    g_string_free(inv, TRUE);
    return text;
}

/* ---- headers -------------------------------------------------------------- */

/* The lengths of lines (NULL-terminated); g_free it. */
static size_t *mk_sa_lengths(char *const *lines)
{
    size_t n = 0;
    while (lines[n] != NULL)
        n++;
    size_t *len = g_new(size_t, n + 1);
    for (size_t i = 0; i < n; i++)
        len[i] = strlen(lines[i]);
    return len;
}

char *const *mk_sa_view_body(mk_sa_view *v)
{
    if (v->body == NULL) {
        char *text = v->in->body_text != NULL ? NULL : mk_sa_body_text(v->in->msg, NULL);
        v->body = g_strsplit(text != NULL ? text : v->in->body_text, "\n", -1);
        v->body_len = mk_sa_lengths(v->body);
        g_free(text);
    }
    return v->body;
}

static void mk_sa_addrs(GString *out, InternetAddressList *list, int names)
{
    int n = list != NULL ? internet_address_list_length(list) : 0;
    for (int i = 0; i < n; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_GROUP(ia)) {
            mk_sa_addrs(out, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), names);
            continue;
        }
        const char *v = names ? internet_address_get_name(ia)
                              : internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
        g_string_append(out, v != NULL ? v : "");
        g_string_append_c(out, '\n');
    }
}

void mk_sa_append_raw(GString *out, const char *raw)
{
    if (raw == NULL)
        return;
    for (const char *cr; (cr = strstr(raw, "\r\n")) != NULL; raw = cr + 1)
        g_string_append_len(out, raw, cr - raw); /* up to the \r; the \n goes with the rest */
    g_string_append(out, raw);
}

/* (mk_sa_int.h) */
InternetAddressList *mk_sa_view_addrs(mk_sa_view *v, const char *value)
{
    if (v->addrs == NULL)
        v->addrs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
    InternetAddressList *list = g_hash_table_lookup(v->addrs, value);
    if (list == NULL) {
        list = internet_address_list_parse(NULL, value);
        if (list == NULL) /* (none: kept as an empty list) */
            list = internet_address_list_new();
        g_hash_table_insert(v->addrs, g_strdup(value), list);
    }
    return list;
}

/* Appends the value of header h in mode, after its name if with_names. */
static void mk_sa_header_value(mk_sa_view *v, GString *out, GMimeHeader *h, mk_sa_hdr_mode mode,
                               int with_names)
{
    const char *hn = g_mime_header_get_name(h);
    if (with_names) {
        g_string_append(out, hn);
        g_string_append(out, ": ");
    }
    const char *raw = g_mime_header_get_raw_value(h);
    if (mode == MK_SA_HDR_RAW) {
        while (raw != NULL && (*raw == ' ' || *raw == '\t'))
            raw++;
        mk_sa_append_raw(out, raw);
        if (out->len == 0 || out->str[out->len - 1] != '\n')
            g_string_append_c(out, '\n');
    } else if (mode & (MK_SA_HDR_ADDR | MK_SA_HDR_NAME)) {
        /* GMime decodes encoded words in names as it parses; :raw
         * names are the same (a rule on raw names is rare) */
        mk_sa_addrs(out, mk_sa_view_addrs(v, raw ? raw : ""), (mode & MK_SA_HDR_NAME) != 0);
    } else {
        const char *value = g_mime_header_get_value(h);
        g_string_append(out, value != NULL ? value : "");
        g_string_append_c(out, '\n');
    }
}

/* A header name's hash and equality in any case (g_str_hash's, of the
 * name lower-cased), for the index of mk_sa_view_named: its keys are the
 * names as the message has them, and a rule's name is looked up as it
 * is, without a lower-cased copy of either. */
static guint mk_sa_name_hash(gconstpointer p)
{
    guint h = 5381;
    for (const unsigned char *c = p; *c != '\0'; c++)
        h = (h << 5) + h + (unsigned char)mk_sa_ascii_lower((char)*c);
    return h;
}

static gboolean mk_sa_name_equal(gconstpointer a, gconstpointer b)
{
    return g_ascii_strcasecmp(a, b) == 0;
}

/* The message's headers named name (any case), in order; NULL when
 * none. The index is made on first use, once per message. */
static const GPtrArray *mk_sa_view_named(mk_sa_view *v, const char *name)
{
    if (v->by_name == NULL) {
        v->by_name = g_hash_table_new_full(mk_sa_name_hash, mk_sa_name_equal, NULL,
                                           (GDestroyNotify)g_ptr_array_unref);
        const GPtrArray *hl = v->in->msg->headers;
        for (guint i = 0; i < hl->len; i++) {
            const char *key = g_mime_header_get_name(hl->pdata[i]); /* (the message's) */
            if (key == NULL)
                continue;
            GPtrArray *same = g_hash_table_lookup(v->by_name, key);
            if (same == NULL)
                g_hash_table_insert(v->by_name, (gpointer)key, same = g_ptr_array_new());
            g_ptr_array_add(same, hl->pdata[i]);
        }
    }
    return g_hash_table_lookup(v->by_name, name);
}

/* Appends the values of the headers named name (every header: NULL) in
 * mode, with their names (with_names); whether there was one. */
static int mk_sa_header_values(GString *out, mk_sa_view *v, const char *name, mk_sa_hdr_mode mode,
                               int with_names)
{
    const GPtrArray *hl = name != NULL ? mk_sa_view_named(v, name) : v->in->msg->headers;
    for (guint i = 0; hl != NULL && i < hl->len; i++)
        mk_sa_header_value(v, out, hl->pdata[i], mode, with_names);
    return hl != NULL && hl->len > 0;
}

const mk_relays *mk_sa_view_relays(mk_sa_view *v)
{
    if (v->in->relays != NULL)
        return v->in->relays;
    if (v->relays == NULL)
        v->relays = mk_relays_parse(g_mime_object_get_header_list(GMIME_OBJECT(v->in->msg->mime)),
                                    v->in->trusted_networks);
    return v->relays;
}

/* ALL-TRUSTED, ALL-INTERNAL (trusted = 1) or ALL-UNTRUSTED, ALL-EXTERNAL:
 * the headers the relays on that side of the chain added, as ALL. */
static int mk_sa_header_side(mk_sa_view *v, GString *out, const GPtrArray *hl, mk_sa_hdr_mode mode,
                             int trusted)
{
    const mk_relays *rs = mk_sa_view_relays(v);
    int found = 0, rcvd = -1;
    for (guint i = 0; i < hl->len; i++) {
        GMimeHeader *h = hl->pdata[i];
        int is_rcvd = g_ascii_strcasecmp(g_mime_header_get_name(h), "Received") == 0;
        rcvd += is_rcvd;
        if (!mk_relays_in_all(rs, rcvd, is_rcvd, trusted))
            continue;
        mk_sa_header_value(v, out, h, mode, 1);
        found = 1;
    }
    return found;
}

/* (mk_sa_int.h) */
mk_sa_hdr_kind mk_sa_header_kind(const char *name)
{
    static const struct {
        const char *name;
        mk_sa_hdr_kind kind;
    } made_up[] = {
        {"ALL", MK_SA_HK_ALL},
        {"ToCc", MK_SA_HK_TOCC},
        {"EnvelopeFrom", MK_SA_HK_ENVFROM},
        {"ALL-TRUSTED", MK_SA_HK_TRUSTED},
        {"ALL-INTERNAL", MK_SA_HK_TRUSTED},
        {"ALL-UNTRUSTED", MK_SA_HK_UNTRUSTED},
        {"ALL-EXTERNAL", MK_SA_HK_UNTRUSTED},
        {"MESSAGEID", MK_SA_HK_MESSAGEID},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(made_up); i++)
        if (strcmp(name, made_up[i].name) == 0)
            return made_up[i].kind;
    return g_ascii_strncasecmp(name, "X-Spam-Relays-", 14) == 0 ? MK_SA_HK_RELAYS : MK_SA_HK_NAMED;
}

/* The text rules on header name (of kind: mk_sa_header_kind) in mode
 * match (a new GString), or NULL when the header is absent. */
static GString *mk_sa_header_text(mk_sa_view *v, const char *name, mk_sa_hdr_kind kind,
                                  mk_sa_hdr_mode mode)
{
    /* most of the headers rules read are absent (of the stock rules' 100
     * header slots, most in any message): nothing is made for those */
    if (kind == MK_SA_HK_NAMED && mk_sa_view_named(v, name) == NULL)
        return NULL;
    const GPtrArray *hl = v->in->msg->headers;
    GString *out = g_string_new(NULL);
    int found = 0;
    switch (kind) {
    case MK_SA_HK_ALL:
        found = mk_sa_header_values(out, v, NULL, mode, 1);
        break;
    case MK_SA_HK_TOCC:
        found = mk_sa_header_values(out, v, "To", mode, 0);
        found |= mk_sa_header_values(out, v, "Cc", mode, 0);
        break;
    case MK_SA_HK_ENVFROM: {
        const char *env = mk_sa_view_envelope_from(v);
        found = env != NULL && env[0] != '\0';
        if (found)
            g_string_append_printf(out, "%s\n", env);
        break;
    }
    case MK_SA_HK_TRUSTED:
        found = mk_sa_header_side(v, out, hl, mode, 1);
        break;
    case MK_SA_HK_UNTRUSTED:
        found = mk_sa_header_side(v, out, hl, mode, 0);
        break;
    case MK_SA_HK_RELAYS: {
        /* SpamAssassin's pseudo-headers are always there, empty or not */
        const char *relays = mk_relays_header(mk_sa_view_relays(v), name);
        found = relays != NULL;
        if (found)
            g_string_append_printf(out, "%s\n", relays);
        else /* (a name mk_relays does not make: a header of the message) */
            found = mk_sa_header_values(out, v, name, mode, 0);
        break;
    }
    case MK_SA_HK_MESSAGEID:
        found = mk_sa_header_values(out, v, "Message-Id", mode, 0);
        found |= mk_sa_header_values(out, v, "Resent-Message-Id", mode, 0);
        found |= mk_sa_header_values(out, v, "X-Message-Id", mode, 0);
        break;
    case MK_SA_HK_NAMED:
        found = mk_sa_header_values(out, v, name, mode, 0);
        break;
    }
    if (!found) {
        g_string_free(out, TRUE);
        out = NULL;
    } else if ((mode & (MK_SA_HDR_ADDR | MK_SA_HDR_NAME)) || kind == MK_SA_HK_ENVFROM) {
        /* addresses, names and the envelope sender are joined by newlines,
         * with none after the last (SpamAssassin's get() in Check) */
        if (out->len > 0 && out->str[out->len - 1] == '\n')
            g_string_truncate(out, out->len - 1);
    }
    return out;
}

/* The text header rules of slot s match, or NULL when the header is
 * absent; made once per message, and kept by slot number (a slot is one
 * header and mode: the rules' own, without the key and hash of
 * mk_sa_view_header). */
static const GString *mk_sa_slot(mk_sa_view *v, int s)
{
    if (!v->slot_done[s]) {
        const mk_sa_hslot *hs = &v->rs->slots[s];
        v->slot_val[s] = mk_sa_header_text(v, hs->header, hs->kind, hs->mode);
        v->slot_done[s] = 1;
    }
    return v->slot_val[s];
}

const GString *mk_sa_view_header(mk_sa_view *v, const char *name, mk_sa_hdr_mode mode)
{
    /* "mode:name", on the stack unless long (once per header and mode) */
    char buf[128], *key = buf;
    size_t len = strlen(name);
    if (len + 3 > sizeof(buf))
        key = g_malloc(len + 3);
    key[0] = (char)('0' + (int)mode), key[1] = ':';
    memcpy(key + 2, name, len + 1);
    gpointer cached;
    if (g_hash_table_lookup_extended(v->hdr, key, NULL, &cached)) {
        if (key != buf)
            g_free(key);
        return cached;
    }
    GString *out = mk_sa_header_text(v, name, mk_sa_header_kind(name), mode);
    g_hash_table_insert(v->hdr, key != buf ? key : g_strdup(key), out);
    return out;
}

static void mk_sa_gstring_free(gpointer p)
{
    if (p != NULL)
        g_string_free(p, TRUE);
}

/* ---- MIME part headers ------------------------------------------------------------ */

static unsigned mk_sa_count(pcre2_match_context *mctx, const pcre2_code *re, const char *s,
                            size_t len, pcre2_match_data *md, unsigned max, size_t *limit_hits);

/* Adds the headers of part to data (a GPtrArray of GMimeHeader *). */
static void mk_sa_mime_collect(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    (void)parent;
    GMimeHeaderList *hl = g_mime_object_get_header_list(part);
    int count = hl != NULL ? g_mime_header_list_get_count(hl) : 0;
    for (int i = 0; i < count; i++)
        g_ptr_array_add(data, g_mime_header_list_get_header_at(hl, i));
}

/* The headers of every MIME part, part after part as
 * g_mime_message_foreach walks them: made once a message, not once for
 * each MIMEHeader rule (the stock rules have 47). Owned by v. */
static const GPtrArray *mk_sa_view_mime_headers(mk_sa_view *v)
{
    if (v->mime_headers == NULL) {
        v->mime_headers = g_ptr_array_new();
        g_mime_message_foreach(v->in->msg->mime, mk_sa_mime_collect, v->mime_headers);
    }
    return v->mime_headers;
}

/* A MIMEHeader rule's count: its matches in the values of the MIME parts'
 * headers it names, up to its maxhits. */
static unsigned mk_sa_mime_count(mk_sa_view *v, pcre2_match_context *mctx, const mk_sa_rule *r,
                                 pcre2_match_data *md, size_t *limit_hits)
{
    unsigned max = r->multiple ? r->maxhits : 1, n = 0;
    const GPtrArray *hs = mk_sa_view_mime_headers(v);
    for (guint i = 0; i < hs->len && (max == 0 || n < max); i++) {
        GMimeHeader *h = hs->pdata[i];
        if (g_ascii_strcasecmp(g_mime_header_get_name(h), r->header) != 0)
            continue;
        const char *val;
        GString *raw = NULL;
        if (r->mode & MK_SA_HDR_RAW) {
            val = g_mime_header_get_raw_value(h);
            while (val != NULL && (*val == ' ' || *val == '\t'))
                val++;
            raw = g_string_new(NULL);
            mk_sa_append_raw(raw, val);
            val = raw->str;
        } else {
            val = g_mime_header_get_value(h);
        }
        if (val == NULL)
            continue;
        /* a raw value keeps its folds, not the line end that closes it */
        size_t len = strlen(val);
        while (len > 0 && (val[len - 1] == '\n' || val[len - 1] == '\r'))
            len--;
        unsigned hit = mk_sa_count(mctx, r->re, val, len, md, 1, limit_hits);
        if (raw != NULL)
            g_string_free(raw, TRUE);
        n += r->negate ? !hit : hit;
    }
    return n;
}

/* ---- matching ---------------------------------------------------------------- */

/* Matches of re in s, up to max (0: no limit). A pattern JIT compiled
 * goes straight to its machine code (pcre2_jit_match: the same match,
 * limits and all, without pcre2_match's checks of its arguments, a
 * sixth of the time of the 466 calls a message makes on average); one
 * that is not (pcre2_jit_match says so, as pcre2_match asks it first)
 * goes to pcre2_match's interpreter. */
static unsigned mk_sa_count(pcre2_match_context *mctx, const pcre2_code *re, const char *s,
                            size_t len, pcre2_match_data *md, unsigned max, size_t *limit_hits)
{
    unsigned n = 0;
    PCRE2_SIZE off = 0;
    while (off <= len) {
        int rc = pcre2_jit_match(re, (PCRE2_SPTR)s, len, off, 0, md, mctx);
        if (rc == PCRE2_ERROR_JIT_BADOPTION)
            rc = pcre2_match(re, (PCRE2_SPTR)s, len, off, 0, md, mctx);
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
            rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT) {
            (*limit_hits)++;
            break;
        }
        if (rc < 0)
            break;
        n++;
        if (max != 0 && n >= max)
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        off = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
    }
    return n;
}

/* Matches of r over lines (of lengths len), up to its maxhits; with only
 * (or NULL), over the lines i where only[i] is set. */
static unsigned mk_sa_lines(pcre2_match_context *mctx, const mk_sa_rule *r, char *const *lines,
                            const size_t *len, const uint8_t *only, pcre2_match_data *md,
                            size_t *limit_hits)
{
    unsigned max = r->multiple ? r->maxhits : 1, n = 0;
    for (size_t i = 0; lines[i] != NULL && (max == 0 || n < max); i++)
        if (only == NULL || only[i])
            n += mk_sa_count(mctx, r->re, lines[i], len[i], md, max ? max - n : 0, limit_hits);
    return n;
}

void mk_sa_prepare_headers(mk_sa_rules *rs)
{
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    size_t limited = 0;
    for (size_t k = 0; k < rs->n_order; k++) {
        mk_sa_rule *r = &rs->r[rs->order[k]];
        r->slot = -1;
        if (r->kind != MK_SA_HEADER || r->eval != NULL)
            continue;
        char *key = g_strdup_printf("%d:%s", (int)r->mode, r->header);
        gpointer at;
        if (g_hash_table_lookup_extended(seen, key, NULL, &at)) {
            g_free(key);
        } else {
            rs->slots = g_renew(mk_sa_hslot, rs->slots, rs->n_slots + 1);
            rs->slots[rs->n_slots] =
                (mk_sa_hslot){g_strdup(r->header), mk_sa_header_kind(r->header), r->mode, 0, NULL};
            at = GSIZE_TO_POINTER(rs->n_slots++);
            g_hash_table_insert(seen, key, at);
        }
        r->slot = (int)GPOINTER_TO_SIZE(at);
        rs->slots[r->slot].n_rules++;
        if (r->re != NULL && !r->exists) {
            const char *s = r->if_unset != NULL ? r->if_unset : "";
            r->unset_n = mk_sa_count(rs->mctx, r->re, s, strlen(s), md,
                                     r->multiple ? r->maxhits : 1, &limited);
        }
    }
    pcre2_match_data_free(md);
    g_hash_table_destroy(seen);
}

/* (mk_sa_int.h) */
double mk_sa_meta_value(const mk_sa_mtok *rpn, size_t n, const double *nums, const unsigned *counts)
{
    double stack[256];
    size_t sp = 0;
    for (size_t i = 0; i < n; i++) {
        const mk_sa_mtok *t = &rpn[i];
        if (t->type == MK_SA_T_RULE || t->type == MK_SA_T_NUM) {
            if (sp == 256)
                return 0;
            stack[sp++] = t->type == MK_SA_T_RULE ? counts[t->arg] : nums[t->arg];
            continue;
        }
        if (t->type == MK_SA_T_NOT || t->type == MK_SA_T_NEG) {
            if (sp < 1)
                return 0;
            stack[sp - 1] = t->type == MK_SA_T_NOT ? !stack[sp - 1] : -stack[sp - 1];
            continue;
        }
        if (sp < 2)
            return 0;
        double b = stack[--sp], a = stack[sp - 1], v = 0;
        switch (t->type) {
        case MK_SA_T_AND:
            v = a != 0 && b != 0;
            break;
        case MK_SA_T_OR:
            v = a != 0 || b != 0;
            break;
        case MK_SA_T_ADD:
            v = a + b;
            break;
        case MK_SA_T_SUB:
            v = a - b;
            break;
        case MK_SA_T_MUL:
            v = a * b;
            break;
        case MK_SA_T_DIV:
            v = b != 0 ? a / b : 0;
            break;
        case MK_SA_T_LT:
            v = a < b;
            break;
        case MK_SA_T_GT:
            v = a > b;
            break;
        case MK_SA_T_LE:
            v = a <= b;
            break;
        case MK_SA_T_GE:
            v = a >= b;
            break;
        case MK_SA_T_EQ:
            v = a == b;
            break;
        case MK_SA_T_NE:
            v = a != b;
            break;
        default:
            break;
        }
        stack[sp - 1] = v;
    }
    return sp == 1 ? stack[0] : 0;
}

/* The rawbody rules' text, as SpamAssassin cuts it: each text part
 * decoded, its first 500 KB (and to the next line end, '>' or space),
 * whole when it is at most 2 KB, else in pieces of 2 to 4 KB
 * ending at a line end (or a '>', or a space) past 2 KB; NULL-ended,
 * g_strfreev it. Patterns see line ends inside a piece. */
static char **mk_sa_raw_lines(const mk_msg *msg)
{
    GPtrArray *out = g_ptr_array_new();
    for (size_t i = 0; i < msg->n_texts; i++) {
        const char *t = msg->texts[i].text;
        size_t len = msg->texts[i].len, ofs = 0;
        if (t == NULL || (msg->texts[i].content_type != NULL &&
                          g_ascii_strcasecmp(msg->texts[i].content_type, "text/calendar") == 0))
            continue;
        len = mk_sa_scan_len(t, len, MK_SA_RAWBODY_SCAN_SIZE, "\n> ");
        while (len - ofs > 2 * MK_SA_LINE_MAX) {
            size_t j = mk_sa_cut(t + ofs, len - ofs, MK_SA_LINE_MAX, MK_SA_LINE_MAX, "\n> ");
            size_t n = (j != SIZE_MAX ? j : MK_SA_LINE_MAX) + 1;
            g_ptr_array_add(out, g_strndup(t + ofs, n));
            ofs += n;
        }
        if (ofs < len)
            g_ptr_array_add(out, g_strndup(t + ofs, len - ofs));
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

/* What the body, rawbody and uri prefilters said of a message: each
 * scanned on first need. */
typedef struct mk_sa_pf_seen {
    uint8_t *maybe;  /* per rule: it may match (header slots' too) */
    uint8_t **where; /* per rule: NULL, or the lines it may match in: a flag per line */
    int scanned[3];  /* body, rawbody, uri: 1 scanned, -1 failed */
} mk_sa_pf_seen;

/* Whether rule i may match in lines, as prefilter k (0 body, 1 rawbody,
 * 2 uri) says, scanning them on first need; *only: NULL (in any line) or
 * a flag per line where it may. */
static int mk_sa_pf_may(const mk_sa_rules *rs, size_t i, int k, const char *const *lines,
                        mk_sa_pf_seen *seen, const uint8_t **only)
{
    *only = NULL;
    if (!rs->r[i].prefiltered)
        return 1;
    if (!seen->scanned[k]) {
        if (seen->maybe == NULL)
            seen->maybe = g_new0(uint8_t, rs->n);
        if (seen->where == NULL)
            seen->where = g_new0(uint8_t *, rs->n);
        seen->scanned[k] =
            mk_sa_prefilter_scan(rs->pf[k], lines, seen->maybe, seen->where) == 0 ? 1 : -1;
    }
    if (seen->scanned[k] != 1)
        return 1;
    if (!seen->maybe[i])
        return 0; /* the prefilter saw no match: PCRE2 would see none */
    *only = seen->where[i];
    return 1;
}

/* How many steps ahead of the one running what the loop reads of a rule
 * is prefetched */
#define MK_SA_AHEAD 4

/* What the rules counted, as a message's evaluation goes. */
typedef struct mk_sa_tally {
    unsigned *counts; /* per rule */
    uint8_t *wake;    /* per rule: a meta to run (a rule it reads counted) */
    uint32_t *hit;    /* the rules that counted more than 0, in order */
    size_t n_hit;
} mk_sa_tally;

/* The rule of step st counted n: when more than 0, it is a hit and the
 * metas that read it are to run. */
static inline void mk_sa_tally_set(const mk_sa_rules *rs, const mk_sa_step *st, mk_sa_tally *t,
                                   unsigned n)
{
    t->counts[st->rule] = n;
    if (n == 0)
        return;
    t->hit[t->n_hit++] = st->rule;
    for (uint32_t u = 0; u < st->n_readers; u++)
        t->wake[rs->readers[st->readers + u]] = 1;
}

int mk_sa_eval(const mk_sa_rules *rs, const mk_sa_input *in, mk_sa_hit **hits, size_t *n_hits,
               size_t *limit_hits)
{
    *hits = NULL;
    *n_hits = 0;
    *limit_hits = 0;
    mk_sa_view v = {
        .rs = rs,
        .in = in,
        .hdr = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, mk_sa_gstring_free),
        .evals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
    };
    mk_sa_tally tally = {g_new0(unsigned, rs->n + 1), g_new0(uint8_t, rs->n + 1),
                         g_new(uint32_t, rs->n_order + 1), 0};
    const unsigned *counts = tally.counts;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    /* this message's own JIT stack, grown as deep patterns need, up to 1 MB,
     * taken from the set's pool (the rule set's context stays shared and
     * read-only) */
    pcre2_match_context *own = pcre2_match_context_copy(rs->mctx);
    pcre2_jit_stack *jit = NULL;
    if (own != NULL) {
        g_mutex_lock(&rs->jit->lock);
        if (rs->jit->free->len > 0)
            jit = g_ptr_array_steal_index_fast(rs->jit->free, rs->jit->free->len - 1);
        g_mutex_unlock(&rs->jit->lock);
        if (jit == NULL)
            jit = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
    }
    if (jit != NULL)
        pcre2_jit_stack_assign(own, NULL, jit);
    pcre2_match_context *mctx = own != NULL ? own : rs->mctx;
    mk_sa_pf_seen seen = {NULL, NULL, {0, 0, 0}};
    const char **links = NULL; /* in->uris, NULL-ended, for the uri prefilter */
    uint8_t *slot_scanned = g_new0(uint8_t, rs->n_slots + 1); /* 1: scanned, 2: failed */
    v.slot_val = g_new0(GString *, rs->n_slots + 1);
    v.slot_done = g_new0(uint8_t, rs->n_slots + 1);
    for (size_t k = 0; k < rs->n_order; k++) {
        const mk_sa_step *st = &rs->steps[k];
        size_t i = st->rule;
        /* the rules are read in this order, not in memory's: what the
         * loop reads of one a few steps on is asked for now */
        if (k + MK_SA_AHEAD < rs->n_order) {
            /* (its first 64 bytes, on one line or two) */
            const char *ahead = (const char *)&rs->r[rs->steps[k + MK_SA_AHEAD].rule];
            __builtin_prefetch(ahead);
            __builtin_prefetch(ahead + 63);
        }
        if (st->kind == MK_SA_META) {
            mk_sa_tally_set(rs, st, &tally,
                            tally.wake[i] ? mk_sa_meta_value(rs->rpn + st->rpn, st->n_rpn, rs->nums,
                                                             counts) != 0
                                          : st->zero);
            continue;
        }
        if (st->pf != 0 && seen.scanned[st->pf - 1] == 1 && !seen.maybe[i])
            continue; /* its prefilter saw no match: counts[i] stays 0 */
        const mk_sa_rule *r = &rs->r[i];
        unsigned n = 0;
        if (r->eval != NULL) {
            mk_sa_tally_set(rs, st, &tally, r->eval->run(&v, r));
            continue;
        }
        switch (r->kind) {
        case MK_SA_HEADER: {
            const GString *val = mk_sa_slot(&v, r->slot);
            if (r->exists) {
                n = val != NULL;
                break;
            }
            if (val == NULL) { /* absent: what the rule's pattern says of its if_unset */
                n = r->unset_n;
            } else {
                const mk_sa_hslot *hs = &rs->slots[r->slot];
                if (r->prefiltered && !slot_scanned[r->slot]) {
                    if (seen.maybe == NULL)
                        seen.maybe = g_new0(uint8_t, rs->n);
                    const char *one[] = {val->str, NULL};
                    slot_scanned[r->slot] =
                        mk_sa_prefilter_scan(hs->pf, one, seen.maybe, NULL) == 0 ? 1 : 2;
                }
                if (!r->prefiltered || slot_scanned[r->slot] != 1 || seen.maybe[i])
                    n = mk_sa_count(mctx, r->re, val->str, val->len, md,
                                    r->multiple ? r->maxhits : 1, limit_hits);
            }
            if (r->negate)
                n = n == 0;
            break;
        }
        case MK_SA_MIMEHEADER: {
            n = mk_sa_mime_count(&v, mctx, r, md, limit_hits);
            break;
        }
        case MK_SA_BODY:
        case MK_SA_RAWBODY: {
            int raw = r->kind == MK_SA_RAWBODY;
            if (raw && v.raw == NULL) {
                v.raw = mk_sa_raw_lines(in->msg);
                v.raw_len = mk_sa_lengths(v.raw);
            }
            char *const *lines = raw ? v.raw : mk_sa_view_body(&v);
            const uint8_t *only;
            if (mk_sa_pf_may(rs, i, raw, (const char *const *)lines, &seen, &only))
                n = mk_sa_lines(mctx, r, lines, raw ? v.raw_len : v.body_len, only, md, limit_hits);
            break;
        }
        case MK_SA_FULL:
            if (in->full != NULL)
                n = mk_sa_count(mctx, r->re, in->full, in->full_len, md,
                                r->multiple ? r->maxhits : 1, limit_hits);
            break;
        case MK_SA_URI: {
            if (in->n_uris == 0)
                break;
            if (links == NULL) { /* the links, a line each */
                links = g_new(const char *, in->n_uris + 1);
                memcpy(links, in->uris, in->n_uris * sizeof(*links));
                links[in->n_uris] = NULL;
            }
            const uint8_t *only;
            if (!mk_sa_pf_may(rs, i, 2, links, &seen, &only))
                break;
            for (size_t u = 0; u < in->n_uris && (r->multiple || n == 0); u++)
                if (only == NULL || only[u])
                    n += mk_sa_count(mctx, r->re, in->uris[u], strlen(in->uris[u]), md,
                                     r->multiple ? r->maxhits : 1, limit_hits);
            break;
        }
        case MK_SA_META: /* (above) */
            break;
        }
        mk_sa_tally_set(rs, st, &tally, n);
    }
    size_t cap = 0;
    for (size_t h = 0; h < tally.n_hit; h++) {
        const mk_sa_rule *r = &rs->r[tally.hit[h]];
        double score = r->score[(in->network ? 1 : 0) | (in->bayes_voted ? 2 : 0)];
        if (score == 0.0 || strncmp(r->name, "__", 2) == 0)
            continue;
        if (*n_hits == cap) {
            cap = cap ? cap * 2 : 16;
            *hits = g_renew(mk_sa_hit, *hits, cap);
        }
        (*hits)[(*n_hits)++] = (mk_sa_hit){r->name, score, r->describe, counts[tally.hit[h]]};
    }
    g_free(seen.maybe);
    for (size_t i = 0; seen.where != NULL && i < rs->n; i++)
        g_free(seen.where[i]);
    g_free(seen.where);
    g_free(links);
    g_free(slot_scanned);
    for (size_t sl = 0; sl < rs->n_slots; sl++)
        if (v.slot_val[sl] != NULL)
            g_string_free(v.slot_val[sl], TRUE);
    g_free(v.slot_val);
    g_free(v.slot_done);
    pcre2_match_data_free(md);
    pcre2_match_context_free(own);
    if (jit != NULL) {
        g_mutex_lock(&rs->jit->lock);
        g_ptr_array_add(rs->jit->free, jit);
        g_mutex_unlock(&rs->jit->lock);
    }
    g_free(tally.counts);
    g_free(tally.wake);
    g_free(tally.hit);
    g_strfreev(v.body);
    g_strfreev(v.raw);
    g_free(v.body_len);
    g_free(v.raw_len);
    g_hash_table_destroy(v.hdr);
    if (v.by_name != NULL)
        g_hash_table_destroy(v.by_name);
    g_hash_table_destroy(v.evals);
    if (v.addrs != NULL)
        g_hash_table_destroy(v.addrs);
    mk_relays_free(v.relays);
    if (v.html != NULL)
        g_ptr_array_unref(v.html);
    if (v.mime_headers != NULL)
        g_ptr_array_free(v.mime_headers, TRUE);
    return 0;
}
