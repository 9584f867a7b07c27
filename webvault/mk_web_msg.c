/*
 * mk_web_msg: the vaulted message as the reader sees it: its header fields
 * decoded, its text, its HTML, its other parts (attachments, inline
 * images) decoded, in the order they come. GMime parses it.
 */
#include "config.h"

#include <gmime/gmime.h>
#include <string.h>

#include "mk_web.h"

static void mk_web_part_free(gpointer p)
{
    mk_web_part *part = p;
    g_free(part->type);
    g_free(part->filename);
    g_free(part->cid);
    if (part->data != NULL)
        g_bytes_unref(part->data);
    g_free(part);
}

GBytes *mk_web_part_content(GMimePart *part)
{
    GMimeDataWrapper *w = g_mime_part_get_content(part);
    GByteArray *ba = g_byte_array_new();
    if (w != NULL) {
        GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(ba);
        g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
        g_mime_data_wrapper_write_to_stream(w, mem);
        g_object_unref(mem);
    }
    return g_byte_array_free_to_bytes(ba);
}

/* A header list's field decoded for display, or NULL. */
static char *mk_web_field(GMimeObject *obj, const char *name)
{
    const char *v = g_mime_object_get_header(obj, name);
    return v != NULL ? g_mime_utils_header_decode_text(NULL, v) : NULL;
}

/* An address field for display ("Name <addr>, ..."), or NULL. */
static char *mk_web_addresses(GMimeMessage *m, GMimeAddressType type)
{
    InternetAddressList *l = g_mime_message_get_addresses(m, type);
    if (l == NULL || internet_address_list_length(l) == 0)
        return NULL;
    return internet_address_list_to_string(l, NULL, FALSE);
}

static void mk_web_msg_walk(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    (void)parent;
    mk_web_msg *m = data;
    if (!GMIME_IS_PART(part))
        return;
    GMimeContentType *ct = g_mime_object_get_content_type(part);
    const char *filename = g_mime_part_get_filename(GMIME_PART(part));
    GMimeContentDisposition *disp = g_mime_object_get_content_disposition(part);
    int attachment =
        filename != NULL || (disp != NULL && g_mime_content_disposition_is_attachment(disp));
    if (!attachment && GMIME_IS_TEXT_PART(part) &&
        g_mime_content_type_is_type(ct, "text", "plain") && m->text == NULL) {
        m->text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
        return;
    }
    if (!attachment && GMIME_IS_TEXT_PART(part) &&
        g_mime_content_type_is_type(ct, "text", "html") && m->html == NULL) {
        m->html = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
        return;
    }
    mk_web_part *p = g_new0(mk_web_part, 1);
    p->type = g_mime_content_type_get_mime_type(ct);
    p->filename = g_strdup(filename);
    const char *cid = g_mime_object_get_content_id(part);
    p->cid = g_strdup(cid);
    p->data = mk_web_part_content(GMIME_PART(part));
    g_ptr_array_add(m->parts, p);
}

mk_web_msg *mk_web_msg_parse(const char *data, size_t len)
{
    GMimeStream *s = g_mime_stream_mem_new_with_buffer(data, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(s);
    GMimeMessage *mime = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    g_object_unref(s);
    if (mime == NULL)
        return NULL;
    mk_web_msg *m = g_new0(mk_web_msg, 1);
    m->parts = g_ptr_array_new_with_free_func(mk_web_part_free);
    m->from = mk_web_addresses(mime, GMIME_ADDRESS_TYPE_FROM);
    m->to = mk_web_addresses(mime, GMIME_ADDRESS_TYPE_TO);
    m->cc = mk_web_addresses(mime, GMIME_ADDRESS_TYPE_CC);
    m->date = mk_web_field(GMIME_OBJECT(mime), "Date");
    m->subject = g_strdup(g_mime_message_get_subject(mime));
    m->message_id = g_strdup(g_mime_message_get_message_id(mime));
    g_mime_message_foreach(mime, mk_web_msg_walk, m);
    g_object_unref(mime);
    return m;
}

void mk_web_msg_free(mk_web_msg *m)
{
    if (m == NULL)
        return;
    g_free(m->from);
    g_free(m->to);
    g_free(m->cc);
    g_free(m->date);
    g_free(m->subject);
    g_free(m->message_id);
    g_free(m->text);
    g_free(m->html);
    g_ptr_array_free(m->parts, TRUE);
    g_free(m);
}

char *mk_web_msg_html(const mk_web_msg *m)
{
    GString *html = g_string_new(m->html != NULL ? m->html : "");
    for (guint i = 0; i < m->parts->len; i++) {
        const mk_web_part *p = m->parts->pdata[i];
        if (p->cid == NULL || g_ascii_strncasecmp(p->type, "image/", 6) != 0 ||
            strpbrk(p->type, "\"'<> ") != NULL)
            continue;
        char *ref = g_strdup_printf("cid:%s", p->cid);
        gsize n = 0;
        const guchar *d = g_bytes_get_data(p->data, &n);
        char *b64 = g_base64_encode(d, n);
        char *uri = g_strdup_printf("data:%s;base64,%s", p->type, b64);
        g_string_replace(html, ref, uri, 0);
        g_free(uri);
        g_free(b64);
        g_free(ref);
    }
    return g_string_free(html, FALSE);
}
