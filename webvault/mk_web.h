/*
 * mk_web: mailkeeper-webvault, the HTTPS reader of the secure vault. One
 * event loop (libevent's evhttp over bufferevent_openssl); the common
 * layout (mk_web_pages.c), the routes, budgets, sessions and kept pages
 * (mk_web_routes.c), proving to be a recipient (mk_web_verify.c), the
 * pages of a verified recipient and the sender's revoke link
 * (mk_web_read.c), the message as the reader sees it (mk_web_msg.c), the
 * mail it sends: codes and replies (mk_web_mail.c).
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

/* One request being answered. */
typedef struct mk_web_req {
    mk_web *w;
    struct evhttp_request *req;
    const char *client;
    char link[MK_VAULT_LINK];
    char id[MK_VAULT_ID];
    gint64 now;
} mk_web_req;

/* Counts a code asked by the client; 0, or -1 over its budget. */
int mk_web_code_budget(mk_web *w, const char *client, gint64 now);
/* The page of a link cut short, changed, made up, or of no message, and
 * its log line (without the link). */
void mk_web_no_such_link(struct evhttp_request *req, const char *client);
/* The page of a link that opens nothing: expired, revoked, none, error. */
void mk_web_link_status(mk_web_req *r, mk_vault_status st, const char *err);
/* The name of the message's session cookie (g_free). */
char *mk_web_cookie_name(const mk_web_req *r);
/* The form of a POST (fields; files into files when not NULL), or NULL
 * after answering 400. */
GHashTable *mk_web_post_form(mk_web_req *r, GPtrArray *files);
/* Whether the form's csrf field is the session's. */
int mk_web_csrf_ok(GHashTable *form, const char *token);
/* Keeps the message page of id shown to the session of token. */
void mk_web_keep_page(mk_web *w, const char *token, const char *id, gint64 now,
                      const GString *html);

/* ---- proving to be a recipient (mk_web_verify.c) ---------------------------- */

/* The address page, the first of a link; note: HTML or NULL. */
void mk_web_address_page(mk_web_req *r, int status, const char *note);
/* POST /m/LINK/code and /m/LINK/verify. */
void mk_web_post_code(mk_web_req *r);
void mk_web_post_verify(mk_web_req *r);

/* ---- a verified recipient's pages (mk_web_read.c) --------------------------- */

void mk_web_message_page(mk_web_req *r, const char *addr, const char *token);
void mk_web_html_part(mk_web_req *r);
void mk_web_attachment(mk_web_req *r, const char *index);
void mk_web_post_reply(mk_web_req *r, const char *addr, const char *token);
void mk_web_post_logout(mk_web_req *r, const char *token);
/* /r/LINK/TOKEN: the sender's revoke link (GET asks, POST withdraws). */
void mk_web_revoke(mk_web_req *r, enum evhttp_cmd_type cmd, const char *token);
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
/* The HTML part for the sandboxed frame, the message's own images (its
 * "cid:" parts of an image type) inlined as data: addresses, which the
 * frame's policy allows while it refuses anything remote. g_free. */
char *mk_web_msg_html(const mk_web_msg *m);

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
