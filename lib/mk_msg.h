/*
 * mk_msg: the message as every check sees it. Bytes are collected in an
 * mk_msgbuf (memory up to a bound, then an unlinked temp file), parsed once
 * with GMime at end of message into an mk_msg: the MIME tree, the parser's
 * complaints, and every text part decoded (transfer encoding undone,
 * charset converted to UTF-8). The mk_msg reads parts through the buffer,
 * so the buffer must outlive the mk_msg parsed from it.
 */
#ifndef MK_MSG_H
#define MK_MSG_H

#include <gmime/gmime.h>
#include <stddef.h>

typedef struct mk_msgbuf mk_msgbuf;

/* A buffer that keeps up to mem_limit bytes in memory and spills the rest
 * into a temp file in tmp_dir. Free with mk_msgbuf_free(). */
mk_msgbuf *mk_msgbuf_new(size_t mem_limit, const char *tmp_dir);
void mk_msgbuf_free(mk_msgbuf *buf);
/* Appends bytes; 0, or -1 with the reason in err (the temp file failed). */
int mk_msgbuf_append(mk_msgbuf *buf, const void *data, size_t len, char *err, size_t errlen);
size_t mk_msgbuf_size(const mk_msgbuf *buf);
int mk_msgbuf_spilled(const mk_msgbuf *buf);
/* A new GMime stream over the whole content; the caller unrefs it. */
GMimeStream *mk_msgbuf_stream(mk_msgbuf *buf);

/* A decoded text part. */
typedef struct mk_msg_text {
    const char *content_type; /* "text/plain", "text/html", ... */
    char *text;               /* UTF-8 where the charset was known, NUL-ended */
    size_t len;
    GMimeObject *part; /* the part it was decoded from (owned by the message) */
} mk_msg_text;

typedef struct mk_msg {
    GMimeMessage *mime; /* never NULL after a successful parse */
    size_t size;        /* bytes of the message as received */
    unsigned warnings;  /* bit (1 << GMimeParserWarning) per kind seen */
    unsigned n_warnings;
    int critical; /* a GMIME_CRIT_* problem: parts may be read differently elsewhere */
    mk_msg_text *texts;
    size_t n_texts;
    int truncated_text; /* text beyond the bound was not decoded */
    /* the header fields at the top, in order (GMimeHeader *, owned by mime):
     * the message's own and the Content-* fields GMime keeps on its part */
    GPtrArray *headers;
} mk_msg;

/* Process-wide GMime set-up; once, from main. */
void mk_msg_library_init(void);
void mk_msg_library_cleanup(void);

/* Parses the buffer. Never fails on malformed mail (GMime repairs what it
 * can and the complaints are kept); NULL only when out of memory or the
 * buffer cannot be read. Free with mk_msg_free(). */
mk_msg *mk_msg_parse(mk_msgbuf *buf);
void mk_msg_free(mk_msg *msg);

/* The bytes of stream from its start, the stream rewound after;
 * g_byte_array_free() them. */
GByteArray *mk_msg_stream_bytes(GMimeStream *stream);

/* A short name of a parser complaint ("malformed-multipart", ...). */
const char *mk_msg_warning_name(int code);

#endif
