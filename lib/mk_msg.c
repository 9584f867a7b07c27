/*
 * mk_msg: message buffer and the single GMime parse.
 */
#include "config.h"

#include "mk_io.h"
#include "mk_msg.h"

#include <errno.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MK_MSG_MAX_TEXT  (4u * 1024 * 1024) /* decoded text kept per message */
#define MK_MSG_MAX_DEPTH 32                 /* message/rfc822 nesting followed */

struct mk_msgbuf {
    GByteArray *mem;
    size_t mem_limit;
    char *tmp_dir;
    int fd; /* -1 until spilled */
    size_t size;
};

mk_msgbuf *mk_msgbuf_new(size_t mem_limit, const char *tmp_dir)
{
    mk_msgbuf *buf = calloc(1, sizeof(*buf));
    if (buf == NULL)
        return NULL;
    buf->mem = g_byte_array_new();
    buf->mem_limit = mem_limit;
    buf->tmp_dir = strdup(tmp_dir ? tmp_dir : "/tmp");
    buf->fd = -1;
    if (buf->tmp_dir == NULL) {
        mk_msgbuf_free(buf);
        return NULL;
    }
    return buf;
}

void mk_msgbuf_free(mk_msgbuf *buf)
{
    if (buf == NULL)
        return;
    if (buf->mem != NULL)
        g_byte_array_free(buf->mem, TRUE);
    if (buf->fd >= 0)
        close(buf->fd);
    free(buf->tmp_dir);
    free(buf);
}

static int mk_msgbuf_spill(mk_msgbuf *buf, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/mailkeeper.XXXXXX", buf->tmp_dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create temp file in %s: %s", buf->tmp_dir, strerror(errno));
        return -1;
    }
    unlink(path);
    if (mk_io_write_full(fd, buf->mem->data, buf->mem->len) != 0) {
        snprintf(err, errlen, "cannot write temp file in %s: %s", buf->tmp_dir, strerror(errno));
        close(fd);
        return -1;
    }
    buf->fd = fd;
    g_byte_array_set_size(buf->mem, 0);
    return 0;
}

int mk_msgbuf_append(mk_msgbuf *buf, const void *data, size_t len, char *err, size_t errlen)
{
    if (buf->fd < 0 && buf->size + len > buf->mem_limit && mk_msgbuf_spill(buf, err, errlen) != 0)
        return -1;
    if (buf->fd >= 0) {
        if (mk_io_write_full(buf->fd, data, len) != 0) {
            snprintf(err, errlen, "cannot write temp file in %s: %s", buf->tmp_dir,
                     strerror(errno));
            return -1;
        }
    } else {
        g_byte_array_append(buf->mem, data, (guint)len);
    }
    buf->size += len;
    return 0;
}

size_t mk_msgbuf_size(const mk_msgbuf *buf)
{
    return buf->size;
}

int mk_msgbuf_spilled(const mk_msgbuf *buf)
{
    return buf->fd >= 0;
}

GMimeStream *mk_msgbuf_stream(mk_msgbuf *buf)
{
    if (buf->fd >= 0) {
        int fd = dup(buf->fd);
        if (fd < 0)
            return NULL;
        GMimeStream *s = g_mime_stream_fs_new_with_bounds(fd, 0, (gint64)buf->size);
        return s;
    }
    GMimeStream *s = g_mime_stream_mem_new_with_byte_array(buf->mem);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(s), FALSE);
    return s;
}

void mk_msg_library_init(void)
{
    g_mime_init();
    xmlInitParser(); /* HTML parts (mk_uri): once, before threads */
}

void mk_msg_library_cleanup(void)
{
    xmlCleanupParser();
    g_mime_shutdown();
}

const char *mk_msg_warning_name(int code)
{
    static const char *const names[] = {
        "?",
        "duplicated-header",
        "duplicated-parameter",
        "unencoded-8bit-header",
        "invalid-content-type",
        "invalid-rfc2047-header",
        "malformed-multipart",
        "truncated-message",
        "malformed-message",
        "invalid-header-name",
        "conflicting-header",
        "conflicting-parameter",
        "multipart-without-boundary",
        "invalid-parameter",
        "invalid-address-list",
        "nesting-overflow",
        "part-without-content",
        "part-without-headers-or-content",
    };
    if (code < 0 || (size_t)code >= sizeof(names) / sizeof(names[0]))
        return "?";
    return names[code];
}

static void mk_msg_on_warning(gint64 offset, GMimeParserWarning code, const gchar *item,
                              gpointer user)
{
    mk_msg *msg = user;
    msg->n_warnings++;
    if ((unsigned)code < 32)
        msg->warnings |= 1u << code;
    switch (code) {
    case GMIME_CRIT_INVALID_HEADER_NAME:
    case GMIME_CRIT_CONFLICTING_HEADER:
    case GMIME_CRIT_CONFLICTING_PARAMETER:
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
    case GMIME_CRIT_NESTING_OVERFLOW:
    case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
        msg->critical = 1;
        break;
    default:
        break;
    }
}

/* State of the walk over the parts. */
typedef struct mk_msg_walk {
    mk_msg *msg;
    size_t cap;
    size_t total;
} mk_msg_walk;

static void mk_msg_add_text(mk_msg_walk *w, GMimePart *part)
{
    mk_msg *msg = w->msg;
    GMimeDataWrapper *content = g_mime_part_get_content(part);
    if (content == NULL)
        return;
    if (w->total >= MK_MSG_MAX_TEXT) {
        msg->truncated_text = 1;
        return;
    }
    GMimeStream *mem = g_mime_stream_mem_new();
    GMimeStream *filtered = g_mime_stream_filter_new(mem);
    const char *charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
    if (charset != NULL && g_ascii_strcasecmp(charset, "utf-8") != 0 &&
        g_ascii_strcasecmp(charset, "us-ascii") != 0) {
        GMimeFilter *conv = g_mime_filter_charset_new(charset, "UTF-8");
        if (conv != NULL) {
            g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), conv);
            g_object_unref(conv);
        }
    }
    g_mime_data_wrapper_write_to_stream(content, filtered);
    g_mime_stream_flush(filtered);
    g_object_unref(filtered);
    GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    size_t len = bytes->len;
    if (w->total + len > MK_MSG_MAX_TEXT) {
        len = MK_MSG_MAX_TEXT - w->total;
        msg->truncated_text = 1;
    }
    if (msg->n_texts == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 4;
        mk_msg_text *grown = realloc(msg->texts, ncap * sizeof(*grown));
        if (grown == NULL) {
            g_object_unref(mem);
            return;
        }
        msg->texts = grown;
        w->cap = ncap;
    }
    char *text = malloc(len + 1);
    if (text == NULL) {
        g_object_unref(mem);
        return;
    }
    if (len > 0) /* an empty part's array has no data at all */
        memcpy(text, bytes->data, len);
    text[len] = '\0';
    GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
    mk_msg_text *t = &msg->texts[msg->n_texts++];
    t->part = GMIME_OBJECT(part);
    t->content_type =
        ct && g_mime_content_type_get_media_subtype(ct) &&
                g_ascii_strcasecmp(g_mime_content_type_get_media_subtype(ct), "html") == 0
            ? "text/html"
            : "text/plain";
    t->text = text;
    t->len = len;
    w->total += len;
    g_object_unref(mem);
}

static void mk_msg_walk_object(mk_msg_walk *w, GMimeObject *obj, int depth)
{
    if (obj == NULL || depth > MK_MSG_MAX_DEPTH)
        return;
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; i++)
            mk_msg_walk_object(w, g_mime_multipart_get_part(mp, i), depth + 1);
    } else if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (inner != NULL)
            mk_msg_walk_object(w, g_mime_message_get_mime_part(inner), depth + 1);
    } else if (GMIME_IS_PART(obj)) {
        GMimeContentType *ct = g_mime_object_get_content_type(obj);
        const char *type = ct ? g_mime_content_type_get_media_type(ct) : "text";
        GMimeContentDisposition *disp = g_mime_object_get_content_disposition(obj);
        int attachment = disp && g_mime_content_disposition_is_attachment(disp);
        if ((type == NULL || g_ascii_strcasecmp(type, "text") == 0) && !attachment)
            mk_msg_add_text(w, GMIME_PART(obj));
    }
}

GByteArray *mk_msg_stream_bytes(GMimeStream *stream)
{
    GByteArray *out = g_byte_array_new();
    char chunk[16384];
    ssize_t n;
    g_mime_stream_reset(stream);
    while ((n = g_mime_stream_read(stream, chunk, sizeof(chunk))) > 0)
        g_byte_array_append(out, (const guint8 *)chunk, (guint)n);
    g_mime_stream_reset(stream);
    return out;
}

static gint mk_msg_by_offset(gconstpointer a, gconstpointer b)
{
    gint64 x = g_mime_header_get_offset(*(GMimeHeader *const *)a);
    gint64 y = g_mime_header_get_offset(*(GMimeHeader *const *)b);
    return x < y ? -1 : x > y;
}

/* The fields of the header at the top in the order they came: GMime
 * parts them between the message and its top MIME part (Content-*). */
static GPtrArray *mk_msg_top_headers(GMimeMessage *mime)
{
    GPtrArray *out = g_ptr_array_new();
    GMimeHeaderList *top = g_mime_object_get_header_list(GMIME_OBJECT(mime));
    int n = g_mime_header_list_get_count(top);
    for (int i = 0; i < n; i++)
        g_ptr_array_add(out, g_mime_header_list_get_header_at(top, i));
    GMimeObject *part = g_mime_message_get_mime_part(mime);
    GMimeHeaderList *ph = part != NULL ? g_mime_object_get_header_list(part) : NULL;
    if (ph == NULL || ph == top)
        return out;
    int m = g_mime_header_list_get_count(ph), moved = 0;
    for (int i = 0; i < m; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(ph, i);
        if (g_mime_header_get_offset(h) < 0)
            continue; /* not read from the message: GMime's own default */
        g_ptr_array_add(out, h);
        moved = 1;
    }
    if (moved) /* a stable sort: equal offsets (none read) keep their order */
        g_ptr_array_sort(out, mk_msg_by_offset);
    return out;
}

mk_msg *mk_msg_parse(mk_msgbuf *buf)
{
    mk_msg *msg = calloc(1, sizeof(*msg));
    if (msg == NULL)
        return NULL;
    msg->size = mk_msgbuf_size(buf);
    GMimeStream *stream = mk_msgbuf_stream(buf);
    if (stream == NULL) {
        free(msg);
        return NULL;
    }
    GMimeParserOptions *opts = g_mime_parser_options_new();
    g_mime_parser_options_set_warning_callback(opts, mk_msg_on_warning, msg);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    msg->mime = g_mime_parser_construct_message(parser, opts);
    g_object_unref(parser);
    g_object_unref(stream);
    g_mime_parser_options_free(opts);
    if (msg->mime == NULL) {
        /* Not even headers could be read (empty input): an empty message
         * stands in, so every check still sees a message. */
        msg->mime = g_mime_message_new(FALSE);
        msg->warnings |= 1u << GMIME_WARN_MALFORMED_MESSAGE;
        msg->n_warnings++;
    }
    mk_msg_walk w = {msg, 0, 0};
    mk_msg_walk_object(&w, g_mime_message_get_mime_part(msg->mime), 0);
    msg->headers = mk_msg_top_headers(msg->mime);
    return msg;
}

void mk_msg_free(mk_msg *msg)
{
    if (msg == NULL)
        return;
    for (size_t i = 0; i < msg->n_texts; i++)
        free(msg->texts[i].text);
    free(msg->texts);
    if (msg->headers != NULL)
        g_ptr_array_free(msg->headers, TRUE);
    if (msg->mime != NULL)
        g_object_unref(msg->mime);
    free(msg);
}
