/*
 * mk_web_mail: what the reader sends through the local MTA ([webvault]
 * sendmail): the one-time code to a recipient, and a recipient's reply to
 * the sender; and the forms it reads. Messages are built with GMime, so a
 * header value never carries a line break into the header.
 */
#include "config.h"

#include <gmime/gmime.h>
#include <stdio.h>
#include <string.h>

#include "mk_sendmail.h"
#include "mk_web.h"

/* The message as text. g_free. */
static char *mk_web_mail_text(GMimeMessage *m)
{
    GMimeFormatOptions *fo = g_mime_format_options_clone(NULL);
    g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_UNIX);
    char *s = g_mime_object_to_string(GMIME_OBJECT(m), fo);
    g_mime_format_options_free(fo);
    return s;
}

/* A text/plain part of text, quoted-printable when needed. */
static GMimePart *mk_web_text_part(const char *text)
{
    GMimeTextPart *t = g_mime_text_part_new_with_subtype("plain");
    g_mime_text_part_set_text(t, text);
    return GMIME_PART(t);
}

char *mk_web_code_mail(const mk_config *cfg, const char *addr, const char *code,
                       const char *subject, long ttl_min)
{
    GMimeMessage *m = g_mime_message_new(TRUE);
    if (cfg->webvault_code_from[0] != '\0')
        g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_FROM, "Secure message",
                                   cfg->webvault_code_from);
    g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_TO, NULL, addr);
    g_mime_message_set_subject(m, "Your code to read a secure message", "utf-8");
    GDateTime *now = g_date_time_new_now_utc();
    g_mime_message_set_date(m, now);
    g_date_time_unref(now);
    g_mime_object_set_header(GMIME_OBJECT(m), "Auto-Submitted", "auto-generated", NULL);
    char *body =
        g_strdup_printf("Your one-time code: %s\n\n"
                        "Enter it on the page where you asked for it, to read the secure message\n"
                        "\"%s\". It can be used once, within %ld minutes.\n\n"
                        "If you did not ask for a code, someone else may have your link: you can\n"
                        "ignore this mail; nobody can read the message without the code.\n",
                        code, subject != NULL ? subject : "", ttl_min);
    GMimePart *part = mk_web_text_part(body);
    g_mime_message_set_mime_part(m, GMIME_OBJECT(part));
    g_object_unref(part);
    char *s = mk_web_mail_text(m);
    g_object_unref(m);
    g_free(body);
    return s;
}

char *mk_web_reply_mail(const char *from, const char *to, const char *subject,
                        const char *in_reply_to, const char *text, GPtrArray *files, char *err,
                        size_t errlen)
{
    if (!mk_sendmail_header_safe(subject) || !mk_sendmail_header_safe(from) ||
        !mk_sendmail_header_safe(to)) {
        snprintf(err, errlen, "a line break or control character in a header field");
        return NULL;
    }
    InternetAddressList *check = internet_address_list_parse(NULL, to);
    int ok = check != NULL && internet_address_list_length(check) == 1;
    if (check != NULL)
        g_object_unref(check);
    if (!ok) {
        snprintf(err, errlen, "the sender's address cannot be read");
        return NULL;
    }
    GMimeMessage *m = g_mime_message_new(TRUE);
    g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_FROM, NULL, from);
    g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_TO, NULL, to);
    g_mime_message_set_subject(m, subject, "utf-8");
    GDateTime *now = g_date_time_new_now_utc();
    g_mime_message_set_date(m, now);
    g_date_time_unref(now);
    if (in_reply_to != NULL && *in_reply_to && mk_sendmail_header_safe(in_reply_to)) {
        char *ref = g_strdup_printf("<%s>", in_reply_to);
        g_mime_object_set_header(GMIME_OBJECT(m), "In-Reply-To", ref, NULL);
        g_mime_object_set_header(GMIME_OBJECT(m), "References", ref, NULL);
        g_free(ref);
    }
    g_mime_object_set_header(GMIME_OBJECT(m), "X-Mailkeeper-Vault", "reply", NULL);
    GMimePart *body = mk_web_text_part(text);
    if (files == NULL || files->len == 0) {
        g_mime_message_set_mime_part(m, GMIME_OBJECT(body));
    } else {
        GMimeMultipart *mp = g_mime_multipart_new_with_subtype("mixed");
        g_mime_multipart_add(mp, GMIME_OBJECT(body));
        for (guint i = 0; i < files->len; i++) {
            const mk_web_file *f = files->pdata[i];
            GMimeContentType *ct = g_mime_content_type_parse(NULL, f->type ? f->type : "");
            GMimePart *att = ct != NULL && ct->type != NULL && ct->subtype != NULL &&
                                     mk_sendmail_header_safe(f->type)
                                 ? g_mime_part_new_with_type(ct->type, ct->subtype)
                                 : g_mime_part_new_with_type("application", "octet-stream");
            if (ct != NULL)
                g_object_unref(ct);
            gsize n = 0;
            const void *d = g_bytes_get_data(f->data, &n);
            GMimeStream *s = g_mime_stream_mem_new_with_buffer(d, n);
            GMimeDataWrapper *w =
                g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);
            g_mime_part_set_content(att, w);
            g_object_unref(w);
            g_object_unref(s);
            g_mime_part_set_filename(att, f->name);
            g_mime_object_set_disposition(GMIME_OBJECT(att), "attachment");
            g_mime_part_set_content_encoding(att, GMIME_CONTENT_ENCODING_BASE64);
            g_mime_multipart_add(mp, GMIME_OBJECT(att));
            g_object_unref(att);
        }
        g_mime_message_set_mime_part(m, GMIME_OBJECT(mp));
        g_object_unref(mp);
    }
    g_object_unref(body);
    char *s = mk_web_mail_text(m);
    g_object_unref(m);
    return s;
}

void mk_web_file_free(gpointer p)
{
    mk_web_file *f = p;
    g_free(f->name);
    g_free(f->type);
    if (f->data != NULL)
        g_bytes_unref(f->data);
    g_free(f);
}

/* application/x-www-form-urlencoded: name=value&... */
static GHashTable *mk_web_form_urlencoded(const char *body, size_t len)
{
    GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    char *copy = g_strndup(body, len);
    char **pairs = g_strsplit(copy, "&", -1);
    for (char **p = pairs; *p != NULL; p++) {
        if (**p == '\0')
            continue;
        char *eq = strchr(*p, '=');
        if (eq != NULL)
            *eq = '\0';
        for (char *c = *p; *c; c++)
            if (*c == '+')
                *c = ' ';
        if (eq != NULL)
            for (char *c = eq + 1; *c; c++)
                if (*c == '+')
                    *c = ' ';
        char *k = g_uri_unescape_string(*p, NULL);
        char *v = g_uri_unescape_string(eq != NULL ? eq + 1 : "", NULL);
        if (k != NULL && v != NULL && g_utf8_validate(v, -1, NULL))
            g_hash_table_replace(t, k, v);
        else {
            g_free(k);
            g_free(v);
        }
    }
    g_strfreev(pairs);
    g_free(copy);
    return t;
}

GHashTable *mk_web_form(const char *content_type, const char *body, size_t len, GPtrArray *files)
{
    if (content_type == NULL)
        return NULL;
    if (g_ascii_strncasecmp(content_type, "application/x-www-form-urlencoded", 33) == 0)
        return mk_web_form_urlencoded(body, len);
    if (g_ascii_strncasecmp(content_type, "multipart/form-data", 19) != 0 ||
        !mk_sendmail_header_safe(content_type))
        return NULL;
    /* GMime reads it as the body of a message with that Content-Type */
    GByteArray *raw = g_byte_array_new();
    char *head = g_strdup_printf("Content-Type: %s\r\n\r\n", content_type);
    g_byte_array_append(raw, (const guint8 *)head, (guint)strlen(head));
    g_byte_array_append(raw, (const guint8 *)body, (guint)len);
    g_free(head);
    GMimeStream *s = g_mime_stream_mem_new_with_byte_array(raw);
    GMimeParser *parser = g_mime_parser_new_with_stream(s);
    GMimeObject *obj = g_mime_parser_construct_part(parser, NULL);
    g_object_unref(parser);
    g_object_unref(s);
    if (obj == NULL || !GMIME_IS_MULTIPART(obj)) {
        if (obj != NULL)
            g_object_unref(obj);
        return NULL;
    }
    GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    GMimeMultipart *mp = GMIME_MULTIPART(obj);
    for (int i = 0; i < g_mime_multipart_get_count(mp); i++) {
        GMimeObject *part = g_mime_multipart_get_part(mp, i);
        GMimeContentDisposition *d = g_mime_object_get_content_disposition(part);
        const char *name = d != NULL ? g_mime_content_disposition_get_parameter(d, "name") : NULL;
        if (name == NULL || !GMIME_IS_PART(part))
            continue;
        const char *filename = g_mime_content_disposition_get_parameter(d, "filename");
        GBytes *bytes = mk_web_part_content(GMIME_PART(part));
        gsize blen = 0;
        const char *bdata = g_bytes_get_data(bytes, &blen);
        if (filename != NULL) {
            if (blen > 0 && files != NULL) {
                mk_web_file *f = g_new0(mk_web_file, 1);
                f->name = g_path_get_basename(filename);
                f->type = g_mime_content_type_get_mime_type(g_mime_object_get_content_type(part));
                f->data = g_bytes_ref(bytes);
                g_ptr_array_add(files, f);
            }
        } else if (g_utf8_validate(bdata, (gssize)blen, NULL)) {
            g_hash_table_replace(t, g_strdup(name), g_strndup(bdata, blen));
        }
        g_bytes_unref(bytes);
    }
    g_object_unref(obj);
    return t;
}
