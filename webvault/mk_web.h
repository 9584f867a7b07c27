/*
 * mk_web: mailkeeper-webvault, the HTTPS reader of the secure vault. One
 * event loop (libevent's evhttp over bufferevent_openssl); the pages
 * (mk_web_pages.c), the routes and their handlers (mk_web_routes.c), the
 * message as the reader sees it (mk_web_msg.c), the mail it sends: codes
 * and replies (mk_web_mail.c).
 */
#ifndef MK_WEB_H
#define MK_WEB_H

#include <event2/http.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "mk_config.h"
#include "mk_vault.h"

#define MK_WEB_PROG "mailkeeper-webvault"

/* The server: made in main, shared by every request (one thread). */
typedef struct mk_web {
    const mk_config *cfg;
    mk_vault *vault;
    mk_vault_auth_policy pol;
    GHashTable *clients; /* client address -> mk_web_client: rate limits */
    gint64 clients_pruned;
    GHashTable *pages; /* session token -> mk_web_cached: message pages just shown */
    gint64 purged;     /* when expired messages were last purged */
} mk_web;

/* ---- routes (mk_web_routes.c) ---------------------------------------------- */

/* evhttp's handler for every request (arg: the mk_web). */
void mk_web_route(struct evhttp_request *req, void *arg);
/* A new table of message pages just shown (mk_web.pages). */
GHashTable *mk_web_pages_new(void);
/* Drops (and wipes) the pages kept past their time. */
void mk_web_pages_prune(GHashTable *pages, gint64 now);

/* ---- pages (mk_web_pages.c) ------------------------------------------------- */

/* HTML-escaped text (g_free). */
char *mk_web_esc(const char *text);
/* Adds the headers every response carries (HSTS, CSP, Referrer-Policy,
 * nosniff, no caching); frameable: the sandboxed message part, which our
 * own page frames. */
void mk_web_security_headers(struct evhttp_request *req, int frameable);
/* A whole page: title and body HTML (trusted markup: the caller escaped
 * what it quotes) in the common layout (g_string_free). */
GString *mk_web_page_html(const char *title, const char *body);
/* Sends html with the headers of a page. */
void mk_web_send_html(struct evhttp_request *req, int status, const char *html, size_t len);
/* Sends a whole page (mk_web_page_html). */
void mk_web_page(struct evhttp_request *req, int status, const char *title, const char *body);
/* A short page that says one thing: heading and text (escaped here). */
void mk_web_notice(struct evhttp_request *req, int status, const char *heading, const char *text);
/* Sends the stylesheet. */
void mk_web_css(struct evhttp_request *req);

/* ---- the message as the reader sees it (mk_web_msg.c) ----------------------- */

typedef struct mk_web_part {
    char *type;     /* "text/plain", ... */
    char *filename; /* NULL when none */
    char *cid;      /* Content-ID without <>, or NULL */
    GBytes *data;   /* decoded */
} mk_web_part;

typedef struct mk_web_msg {
    char *from, *to, *cc, *date, *subject; /* decoded, for display */
    char *message_id;
    char *text;       /* the first text/plain part that is no attachment, UTF-8, or NULL */
    char *html;       /* the first text/html part that is no attachment, UTF-8, or NULL */
    GPtrArray *parts; /* mk_web_part: attachments and inline parts, numbered from 0 */
} mk_web_msg;

/* The decoded content of a MIME part (g_bytes_unref). */
GBytes *mk_web_part_content(GMimePart *part);
/* Parses a message; NULL when it is none. */
mk_web_msg *mk_web_msg_parse(const char *data, size_t len);
void mk_web_msg_free(mk_web_msg *m);
/* The HTML part for the sandboxed frame: "cid:" references point at the
 * message's own parts under base ("/m/LINK/cid/"). g_free. */
char *mk_web_msg_html(const mk_web_msg *m, const char *base);

/* ---- mail (mk_web_mail.c) --------------------------------------------------- */

/* The mail that carries a code to addr. g_free. */
char *mk_web_code_mail(const mk_config *cfg, const char *addr, const char *code,
                       const char *subject, long ttl_min);
/* The reply of the verified recipient from to the sender to: text, and
 * the files of a multipart/form-data body (GMime parses it). NULL with why
 * (a header value with a line break, say). g_free. */
char *mk_web_reply_mail(const char *from, const char *to, const char *subject,
                        const char *in_reply_to, const char *text, GPtrArray *files, char *err,
                        size_t errlen);

/* A file of a form: name and bytes. */
typedef struct mk_web_file {
    char *name;
    char *type;
    GBytes *data;
} mk_web_file;
void mk_web_file_free(gpointer f);
/* The fields (name -> value, UTF-8) and files of a form body: urlencoded
 * or multipart/form-data (content_type says which). NULL when it cannot be
 * read. */
GHashTable *mk_web_form(const char *content_type, const char *body, size_t len, GPtrArray *files);

#endif
