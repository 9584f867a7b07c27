/*
 * mk_web_routes: what each address of the reader does.
 *
 *   GET  /m/LINK            the message (with a session), else the page that
 *                           asks for the reader's address
 *   POST /m/LINK/code       addr: mails a code if addr is a recipient; the
 *                           same answer either way, and the code form
 *   POST /m/LINK/verify     addr, code: a right code starts a session
 *                           (cookie __Host-mkv-ID) and goes to the message
 *   GET  /m/LINK/html       the message's HTML part, for a sandboxed frame
 *   GET  /m/LINK/att/N      attachment N, as a download
 *   POST /m/LINK/reply      csrf, subject, text, files: the reply, mailed to
 *                           the sender From the verified recipient
 *   POST /m/LINK/logout     csrf: ends the session
 *   GET  /r/LINK/TOKEN      the sender's revoke link: asks to confirm
 *   POST /r/LINK/TOKEN      withdraws the message (TOKEN: its revoke token)
 *   GET  /static/vault.css  the stylesheet
 *
 * A message page just rendered is kept in memory for MK_WEB_PAGE_KEEP_S
 * seconds, for its session only: a reload or a second look costs no
 * decryption, parse or store lookup (a revocation shows within those
 * seconds). At most MK_WEB_PAGES are kept; a page's memory is wiped when
 * it goes.
 *
 * LINK never reaches the log: a request is logged with the first 12 digits
 * of the message's id. Every client address has a budget of requests a
 * minute and of codes an hour ([webvault] max_requests, max_codes).
 */
#include "config.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mk_log.h"
#include "mk_web.h"

/* A client address's budget. */
typedef struct mk_web_client {
    gint64 minute; /* the minute its request count is of */
    guint requests;
    gint64 hour; /* the hour its code count is of */
    guint codes;
} mk_web_client;

#define MK_WEB_PAGE_KEEP_S 5
#define MK_WEB_PAGES       512

/* A message page just shown, for one session. */
typedef struct mk_web_cached {
    char id[MK_VAULT_ID];
    gint64 until;
    GString *html;
} mk_web_cached;

static void mk_web_cached_free(gpointer p)
{
    mk_web_cached *c = p;
    memset(c->html->str, 0, c->html->len); /* the message's text */
    g_string_free(c->html, TRUE);
    g_free(c);
}

GHashTable *mk_web_pages_new(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, mk_web_cached_free);
}

void mk_web_pages_prune(GHashTable *pages, gint64 now)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, pages);
    while (g_hash_table_iter_next(&it, &k, &v))
        if (((mk_web_cached *)v)->until <= now)
            g_hash_table_iter_remove(&it);
}

/* Keeps the page of id shown to the session of token; pages past their
 * time go (their memory wiped). */
void mk_web_keep_page(mk_web *w, const char *token, const char *id, gint64 now, const GString *html)
{
    mk_web_pages_prune(w->pages, now);
    if (g_hash_table_size(w->pages) >= MK_WEB_PAGES)
        g_hash_table_remove_all(w->pages);
    mk_web_cached *c = g_new0(mk_web_cached, 1);
    g_strlcpy(c->id, id, sizeof(c->id));
    c->until = now + MK_WEB_PAGE_KEEP_S;
    c->html = g_string_new_len(html->str, (gssize)html->len);
    g_hash_table_replace(w->pages, g_strdup(token), c);
}

/* ---- budgets ----------------------------------------------------------------- */

static mk_web_client *mk_web_client_of(mk_web *w, const char *addr, gint64 now)
{
    if (now - w->clients_pruned > 3600) { /* forget those quiet for an hour */
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, w->clients);
        while (g_hash_table_iter_next(&it, &k, &v))
            if (((mk_web_client *)v)->minute < now - 3600 &&
                ((mk_web_client *)v)->hour < now - 3600)
                g_hash_table_iter_remove(&it);
        w->clients_pruned = now;
    }
    mk_web_client *c = g_hash_table_lookup(w->clients, addr);
    if (c == NULL) {
        c = g_new0(mk_web_client, 1);
        g_hash_table_insert(w->clients, g_strdup(addr), c);
    }
    return c;
}

/* Counts a request of the client; 0, or -1 over its budget. */
static int mk_web_budget(mk_web *w, const char *client, gint64 now)
{
    mk_web_client *c = mk_web_client_of(w, client, now);
    if (c->minute != now / 60) {
        c->minute = now / 60;
        c->requests = 0;
    }
    return ++c->requests > w->cfg->webvault_max_requests ? -1 : 0;
}

/* Counts a code asked by the client; 0, or -1 over its budget. */
int mk_web_code_budget(mk_web *w, const char *client, gint64 now)
{
    mk_web_client *c = mk_web_client_of(w, client, now);
    if (c->hour != now / 3600) {
        c->hour = now / 3600;
        c->codes = 0;
    }
    return ++c->codes > w->cfg->webvault_max_codes ? -1 : 0;
}

/* ---- helpers ----------------------------------------------------------------- */

/* The page of a link cut short, changed, made up, or of no message; the
 * log says so without the link. */
void mk_web_no_such_link(struct evhttp_request *req, const char *client)
{
    mk_log(LOG_NOTICE, NULL, "a link that opens no message (client %s)", client);
    mk_web_notice(req, 404, "This link does not open a message",
                  "Check that you opened the whole link from the notification you received; "
                  "some mail programs cut long links in two.");
}

/* The page of a link that opens nothing. */
void mk_web_link_status(mk_web_req *r, mk_vault_status st, const char *err)
{
    switch (st) {
    case MK_VAULT_EXPIRED:
        mk_web_notice(r->req, 410, "This secure message has expired",
                      "Secure messages can be read for a limited time only, and this one is "
                      "no longer kept. If you still need it, ask its sender to send it again.");
        break;
    case MK_VAULT_REVOKED:
        mk_web_notice(r->req, 410, "This secure message was withdrawn",
                      "Its sender or the mail administrator withdrew it, and it is no longer "
                      "kept. If you still need it, ask its sender.");
        break;
    case MK_VAULT_NOT_FOUND:
        mk_web_no_such_link(r->req, r->client);
        break;
    default:
        mk_log(LOG_ERR, NULL, "message %.12s: %s", r->id, err != NULL ? err : "vault error");
        mk_web_notice(r->req, 500, "Something went wrong",
                      "The message cannot be shown now. Please try again in a few minutes.");
    }
}

/* The value of cookie name, or NULL. g_free. */
static char *mk_web_cookie(struct evhttp_request *req, const char *name)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
    if (h == NULL)
        return NULL;
    char **parts = g_strsplit(h, ";", -1);
    char *value = NULL;
    size_t nlen = strlen(name);
    for (char **p = parts; *p != NULL && value == NULL; p++) {
        const char *c = *p;
        while (*c == ' ')
            c++;
        if (strncmp(c, name, nlen) == 0 && c[nlen] == '=')
            value = g_strdup(c + nlen + 1);
    }
    g_strfreev(parts);
    return value;
}

/* The name of a message's session cookie: a cookie per message. */
char *mk_web_cookie_name(const mk_web_req *r)
{
    return g_strdup_printf("__Host-mkv-%.16s", r->id);
}

/* The session of this request's message: OK with the verified address in
 * *addr (g_free) and the token in *token (g_free). */
static mk_vault_status mk_web_session(mk_web_req *r, char **addr, char **token)
{
    char *name = mk_web_cookie_name(r);
    *token = mk_web_cookie(r->req, name);
    g_free(name);
    *addr = NULL;
    if (*token == NULL)
        return MK_VAULT_NO_SESSION;
    char err[256];
    mk_vault_status st =
        mk_vault_session(r->w->vault, r->link, *token, r->now, &r->w->pol, addr, err, sizeof(err));
    if (st != MK_VAULT_OK) {
        g_free(*token);
        *token = NULL;
    }
    return st;
}

/* The form of a POST (fields; files into files when not NULL), or NULL
 * after answering 400. */
GHashTable *mk_web_post_form(mk_web_req *r, GPtrArray *files)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
    size_t len = evbuffer_get_length(in);
    const char *ctype =
        evhttp_find_header(evhttp_request_get_input_headers(r->req), "Content-Type");
    const char *body = (const char *)evbuffer_pullup(in, -1);
    GHashTable *form = mk_web_form(ctype, body != NULL ? body : "", len, files);
    if (form == NULL)
        mk_web_notice(r->req, 400, "The form could not be read",
                      "Please go back and send it again.");
    return form;
}

/* Whether the form's csrf field is the session's. */
int mk_web_csrf_ok(GHashTable *form, const char *token)
{
    char want[MK_VAULT_LINK];
    mk_vault_csrf(token, want);
    const char *got = g_hash_table_lookup(form, "csrf");
    return got != NULL && strcmp(got, want) == 0;
}

/* /m/LINK[/ACTION[/ARG]] */
static void mk_web_link(mk_web_req *r, enum evhttp_cmd_type cmd, const char *action,
                        const char *arg)
{
    int post = cmd == EVHTTP_REQ_POST;
    if (post && action != NULL && strcmp(action, "code") == 0 && arg == NULL) {
        mk_web_post_code(r);
        return;
    }
    if (post && action != NULL && strcmp(action, "verify") == 0 && arg == NULL) {
        mk_web_post_verify(r);
        return;
    }
    /* the message page just shown to this session */
    if (!post && action == NULL) {
        char *name = mk_web_cookie_name(r);
        char *t = mk_web_cookie(r->req, name);
        const mk_web_cached *c = t != NULL ? g_hash_table_lookup(r->w->pages, t) : NULL;
        int hit = c != NULL && strcmp(c->id, r->id) == 0 && r->now < c->until;
        if (hit)
            mk_web_send_html(r->req, 200, c->html->str, c->html->len);
        g_free(t);
        g_free(name);
        if (hit)
            return;
    }
    /* the rest needs a session */
    char *addr = NULL, *token = NULL;
    mk_vault_status st = mk_web_session(r, &addr, &token);
    if (st != MK_VAULT_OK && st != MK_VAULT_NO_SESSION) {
        mk_web_link_status(r, st, NULL);
    } else if (action == NULL && !post) {
        if (st == MK_VAULT_OK) {
            mk_web_message_page(r, addr, token);
        } else { /* no session yet: does the link open anything? */
            char err[256];
            mk_vault_meta *meta = NULL;
            mk_vault_status ls =
                mk_vault_get(r->w->vault, r->link, r->now, &meta, NULL, NULL, err, sizeof(err));
            mk_vault_meta_free(meta);
            if (ls == MK_VAULT_OK)
                mk_web_address_page(r, 200, NULL);
            else
                mk_web_link_status(r, ls, err);
        }
    } else if (st != MK_VAULT_OK) {
        mk_web_notice(r->req, 403, "Please confirm your address first",
                      "Open the link from the notification again to read the message.");
    } else if (!post && strcmp(action, "html") == 0 && arg == NULL) {
        mk_web_html_part(r);
    } else if (!post && strcmp(action, "att") == 0 && arg != NULL) {
        mk_web_attachment(r, arg);
    } else if (post && strcmp(action, "reply") == 0 && arg == NULL) {
        mk_web_post_reply(r, addr, token);
    } else if (post && strcmp(action, "logout") == 0 && arg == NULL) {
        mk_web_post_logout(r, token);
    } else {
        mk_web_notice(r->req, 404, "Page not found", "There is no such page.");
    }
    g_free(addr);
    g_free(token);
}

void mk_web_route(struct evhttp_request *req, void *arg)
{
    mk_web *w = arg;
    mk_web_req r = {.w = w, .req = req, .now = (gint64)time(NULL)};
    char *host = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &host, &port);
    r.client = host != NULL ? host : "unknown";
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    char **seg = g_strsplit(path != NULL ? path : "", "/", 5);
    guint n = g_strv_length(seg);
    const char *logged = "-";
    if (mk_web_budget(w, r.client, r.now) != 0) {
        mk_web_notice(req, 429, "Too many requests",
                      "Too many requests came from your network. Please wait a minute.");
    } else if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_POST && cmd != EVHTTP_REQ_HEAD) {
        mk_web_notice(req, 405, "Not allowed", "This page cannot be used that way.");
    } else if (path != NULL && strcmp(path, "/static/vault.css") == 0) {
        mk_web_css(req);
    } else if (n >= 3 && seg[0][0] == '\0' && strcmp(seg[1], "m") == 0 &&
               mk_vault_link_id(seg[2], r.id) == 0 && (n < 5 || strchr(seg[4], '/') == NULL)) {
        g_strlcpy(r.link, seg[2], sizeof(r.link));
        logged = r.id;
        mk_web_link(&r, cmd == EVHTTP_REQ_HEAD ? EVHTTP_REQ_GET : cmd,
                    n >= 4 && *seg[3] ? seg[3] : NULL, n >= 5 ? seg[4] : NULL);
    } else if (n == 4 && seg[0][0] == '\0' && strcmp(seg[1], "r") == 0 &&
               mk_vault_link_id(seg[2], r.id) == 0 && strlen(seg[3]) == MK_VAULT_LINK - 1 &&
               strspn(seg[3], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
                   MK_VAULT_LINK - 1) {
        g_strlcpy(r.link, seg[2], sizeof(r.link));
        logged = r.id;
        mk_web_revoke(&r, cmd, seg[3]);
    } else if (n >= 3 && seg[0][0] == '\0' &&
               (strcmp(seg[1], "m") == 0 || strcmp(seg[1], "r") == 0)) {
        mk_web_no_such_link(req, r.client); /* a link cut short, changed, or made up */
    } else if (path != NULL && strcmp(path, "/") == 0) {
        mk_web_notice(req, 200, "Secure messages",
                      "Open the link from the notification you received to read a secure "
                      "message.");
    } else {
        mk_web_notice(req, 404, "Page not found", "There is no such page.");
    }
    mk_log(LOG_DEBUG, NULL, "%s %s%.12s %d client=%s",
           cmd == EVHTTP_REQ_POST  ? "POST"
           : cmd == EVHTTP_REQ_GET ? "GET"
                                   : "other",
           logged[0] != '-' ? "/m/" : "", logged[0] != '-' ? logged : "",
           evhttp_request_get_response_code(req), r.client);
    g_strfreev(seg);
}
