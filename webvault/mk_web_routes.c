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
#include "mk_sendmail.h"
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
static void mk_web_keep_page(mk_web *w, const char *token, const char *id, gint64 now,
                             const GString *html)
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

/* One request being answered. */
typedef struct mk_web_req {
    mk_web *w;
    struct evhttp_request *req;
    const char *client;
    char link[MK_VAULT_LINK];
    char id[MK_VAULT_ID];
    gint64 now;
} mk_web_req;

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
static int mk_web_code_budget(mk_web *w, const char *client, gint64 now)
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
static void mk_web_no_such_link(struct evhttp_request *req, const char *client)
{
    mk_log(LOG_NOTICE, NULL, "a link that opens no message (client %s)", client);
    mk_web_notice(req, 404, "This link does not open a message",
                  "Check that you opened the whole link from the notification you received; "
                  "some mail programs cut long links in two.");
}

/* The page of a link that opens nothing. */
static void mk_web_link_status(mk_web_req *r, mk_vault_status st, const char *err)
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
static char *mk_web_cookie_name(const mk_web_req *r)
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
static GHashTable *mk_web_post_form(mk_web_req *r, GPtrArray *files)
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

/* The address form: the first page of a link. note: HTML or NULL. */
static void mk_web_address_page(mk_web_req *r, int status, const char *note)
{
    char *body = g_strdup_printf(
        "<div class=\"card\"><h1>You have received a secure message</h1>"
        "<p>To read it, confirm your email address. If it is one of the addresses the "
        "message was sent to, we will email you a one-time code.</p>%s"
        "<form method=\"post\" action=\"/m/%s/code\">"
        "<label for=\"addr\">Your email address</label>"
        "<input type=\"email\" id=\"addr\" name=\"addr\" required autocomplete=\"email\" "
        "maxlength=\"254\">"
        "<button type=\"submit\">Email me a code</button></form></div>",
        note != NULL ? note : "", r->link);
    mk_web_page(r->req, status, "Secure message", body);
    g_free(body);
}

/* The code form, for addr. note: HTML or NULL. */
static void mk_web_code_page(mk_web_req *r, int status, const char *addr, const char *note)
{
    char *a = mk_web_esc(addr);
    char *body = g_strdup_printf(
        "<div class=\"card\"><h1>Enter your code</h1>"
        "<p>If <strong>%s</strong> is one of the addresses this message was sent to, a "
        "one-time code is on its way there. It is valid for %ld minutes.</p>%s"
        "<form method=\"post\" action=\"/m/%s/verify\">"
        "<input type=\"hidden\" name=\"addr\" value=\"%s\">"
        "<label for=\"code\">The 8-digit code</label>"
        "<input type=\"text\" class=\"code\" id=\"code\" name=\"code\" required "
        "inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{8}\" "
        "maxlength=\"8\">"
        "<button type=\"submit\">Open the message</button></form>"
        "<form method=\"post\" action=\"/m/%s/code\">"
        "<input type=\"hidden\" name=\"addr\" value=\"%s\">"
        "<button type=\"submit\" class=\"quiet\">Send a new code</button></form></div>",
        a, r->w->cfg->webvault_code_ttl_ms / 60000, note != NULL ? note : "", r->link, a, r->link,
        a);
    mk_web_page(r->req, status, "Enter your code", body);
    g_free(body);
    g_free(a);
}

static void mk_web_locked_page(mk_web_req *r)
{
    char *text = g_strdup_printf(
        "Too many wrong codes were entered for this address. For your protection it cannot "
        "be used for this message for %ld minutes. Please try again later.",
        r->w->cfg->webvault_lockout_ms / 60000);
    mk_web_notice(r->req, 429, "Please wait before trying again", text);
    g_free(text);
}

/* An address as the reader typed it, trimmed; NULL when it is not one. */
static char *mk_web_addr(GHashTable *form)
{
    const char *a = g_hash_table_lookup(form, "addr");
    if (a == NULL)
        return NULL;
    char *s = g_strstrip(g_strdup(a));
    const char *at = strchr(s, '@');
    if (*s == '\0' || strlen(s) > 254 || at == NULL || at == s || at[1] == '\0' ||
        strpbrk(s, " \t\r\n<>,;\"") != NULL) {
        g_free(s);
        return NULL;
    }
    return s;
}

/* ---- the pages of a link ------------------------------------------------------ */

static void mk_web_post_code(mk_web_req *r)
{
    GHashTable *form = mk_web_post_form(r, NULL);
    if (form == NULL)
        return;
    char *addr = mk_web_addr(form);
    g_hash_table_destroy(form);
    if (addr == NULL) {
        mk_web_address_page(r, 400, "<p class=\"bad\">Please enter an email address.</p>");
        return;
    }
    if (mk_web_code_budget(r->w, r->client, r->now) != 0) {
        mk_web_notice(r->req, 429, "Too many codes asked",
                      "Too many codes were asked from your network. Please try again in an "
                      "hour.");
        g_free(addr);
        return;
    }
    char code[MK_VAULT_CODE], err[256];
    mk_vault_status st =
        mk_vault_code_new(r->w->vault, r->link, addr, r->now, &r->w->pol, code, err, sizeof(err));
    if (st == MK_VAULT_OK) {
        mk_vault_meta *meta = NULL;
        mk_vault_get(r->w->vault, r->link, r->now, &meta, NULL, NULL, err, sizeof(err));
        char *mail = mk_web_code_mail(r->w->cfg, addr, code, meta != NULL ? meta->subject : "",
                                      r->w->cfg->webvault_code_ttl_ms / 60000);
        if (mk_sendmail(r->w->cfg->webvault_sendmail, r->w->cfg->webvault_code_from, addr, mail,
                        strlen(mail), err, sizeof(err)) != 0)
            mk_log(LOG_ERR, NULL, "message %.12s: the code cannot be mailed: %s", r->id, err);
        else
            mk_log(LOG_INFO, NULL, "message %.12s: a code was mailed (client %s)", r->id,
                   r->client);
        g_free(mail);
        mk_vault_meta_free(meta);
        memset(code, 0, sizeof(code));
    }
    if (st == MK_VAULT_OK || st == MK_VAULT_NOT_FOUND)
        mk_web_code_page(r, 200, addr, NULL); /* the same either way */
    else if (st == MK_VAULT_LOCKED)
        mk_web_locked_page(r);
    else
        mk_web_link_status(r, st, err);
    g_free(addr);
}

static void mk_web_post_verify(mk_web_req *r)
{
    GHashTable *form = mk_web_post_form(r, NULL);
    if (form == NULL)
        return;
    char *addr = mk_web_addr(form);
    const char *code = g_hash_table_lookup(form, "code");
    char *c = g_strstrip(g_strdup(code != NULL ? code : ""));
    g_hash_table_destroy(form);
    if (addr == NULL) {
        g_free(c);
        mk_web_address_page(r, 400, "<p class=\"bad\">Please enter an email address.</p>");
        return;
    }
    char token[MK_VAULT_LINK], err[256];
    mk_vault_status st = mk_vault_code_check(r->w->vault, r->link, addr, c, r->now, &r->w->pol,
                                             token, err, sizeof(err));
    if (st == MK_VAULT_OK) {
        char *name = mk_web_cookie_name(r);
        char *cookie =
            g_strdup_printf("%s=%s; Path=/; Secure; HttpOnly; SameSite=Strict", name, token);
        char *where = g_strdup_printf("/m/%s", r->link);
        struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
        evhttp_add_header(h, "Set-Cookie", cookie);
        evhttp_add_header(h, "Location", where);
        mk_web_security_headers(r->req, 0);
        evhttp_send_reply(r->req, 303, "See Other", NULL);
        mk_log(LOG_INFO, NULL, "message %.12s: a recipient was verified (client %s)", r->id,
               r->client);
        g_free(where);
        g_free(cookie);
        g_free(name);
        memset(token, 0, sizeof(token));
    } else if (st == MK_VAULT_BAD_CODE) {
        int digits = strlen(c) == 8 && strspn(c, "0123456789") == 8;
        mk_web_code_page(r, 200, addr,
                         digits ? "<p class=\"bad\">That code is not right, or it has expired. "
                                  "Check it, or ask for a new one.</p>"
                                : "<p class=\"bad\">A code is 8 digits, nothing else.</p>");
        mk_log(LOG_NOTICE, NULL, "message %.12s: a wrong code (client %s)", r->id, r->client);
    } else if (st == MK_VAULT_LOCKED) {
        mk_log(LOG_NOTICE, NULL, "message %.12s: an address locked out (client %s)", r->id,
               r->client);
        mk_web_locked_page(r);
    } else {
        mk_web_link_status(r, st, err);
    }
    g_free(c);
    g_free(addr);
}

/* The message, with a session: NULL after answering. */
static mk_web_msg *mk_web_open(mk_web_req *r, mk_vault_meta **meta)
{
    char *data = NULL, err[256];
    size_t len = 0;
    mk_vault_status st =
        mk_vault_get(r->w->vault, r->link, r->now, meta, &data, &len, err, sizeof(err));
    if (st != MK_VAULT_OK) {
        mk_web_link_status(r, st, err);
        return NULL;
    }
    mk_web_msg *m = mk_web_msg_parse(data, len);
    g_free(data);
    if (m == NULL) {
        mk_vault_meta_free(*meta);
        *meta = NULL;
        mk_web_link_status(r, MK_VAULT_ERROR, "the message does not parse");
    }
    return m;
}

static void mk_web_dl(GString *b, const char *term, const char *value)
{
    if (value == NULL || *value == '\0')
        return;
    char *v = mk_web_esc(value);
    g_string_append_printf(b, "<dt>%s</dt><dd>%s</dd>", term, v);
    g_free(v);
}

static void mk_web_message_page(mk_web_req *r, const char *addr, const char *token)
{
    mk_vault_meta *meta = NULL;
    mk_web_msg *m = mk_web_open(r, &meta);
    if (m == NULL)
        return;
    char csrf[MK_VAULT_LINK];
    mk_vault_csrf(token, csrf);
    GString *b = g_string_new("<div class=\"card\">");
    /* the subject as the notification gave it: without the keyword */
    char *subj = mk_web_esc(meta->subject);
    g_string_append_printf(b, "<h1>%s</h1><dl class=\"meta\">", *subj ? subj : "(no subject)");
    mk_web_dl(b, "From", m->from != NULL ? m->from : meta->from);
    mk_web_dl(b, "To", m->to);
    mk_web_dl(b, "Cc", m->cc);
    mk_web_dl(b, "Date", m->date);
    g_string_append(b, "</dl></div>");
    if (m->text != NULL) {
        char *t = mk_web_esc(m->text);
        g_string_append_printf(b, "<div class=\"card\"><pre class=\"text\">%s</pre></div>", t);
        g_free(t);
    }
    if (m->html != NULL)
        g_string_append_printf(
            b,
            "<div class=\"card\"><p class=\"muted\">%s</p><iframe "
            "class=\"html\" sandbox src=\"/m/%s/html\" title=\"The message "
            "as its sender formatted it\"></iframe></div>",
            m->text != NULL ? "As its sender formatted it:" : "The message:", r->link);
    int files = 0;
    for (guint i = 0; i < m->parts->len; i++) {
        const mk_web_part *p = m->parts->pdata[i];
        if (p->filename == NULL)
            continue;
        if (files++ == 0)
            g_string_append(b, "<div class=\"card\"><h1>Attachments</h1><ul class=\"files\">");
        char *n = mk_web_esc(p->filename);
        g_string_append_printf(b,
                               "<li><a href=\"/m/%s/att/%u\" download>%s</a> "
                               "<span class=\"muted\">(%zu bytes)</span></li>",
                               r->link, i, n, g_bytes_get_size(p->data));
        g_free(n);
    }
    if (files > 0)
        g_string_append(b, "</ul></div>");
    const char *orig_subject = meta->subject;
    char *re = g_strdup_printf(
        "%s%s", g_ascii_strncasecmp(orig_subject, "Re:", 3) == 0 ? "" : "Re: ", orig_subject);
    char *re_e = mk_web_esc(re), *to_e = mk_web_esc(meta->sender), *me = mk_web_esc(addr);
    g_string_append_printf(
        b,
        "<div class=\"card\"><h1>Reply securely</h1>"
        "<p class=\"muted\">Your reply goes to %s from %s.</p>"
        "<form method=\"post\" action=\"/m/%s/reply\" enctype=\"multipart/form-data\">"
        "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
        "<label for=\"subject\">Subject</label>"
        "<input type=\"text\" id=\"subject\" name=\"subject\" value=\"%s\" maxlength=\"200\">"
        "<label for=\"text\">Your reply</label>"
        "<textarea id=\"text\" name=\"text\" required></textarea>"
        "<label for=\"files\">Attach files</label>"
        "<input type=\"file\" id=\"files\" name=\"files\" multiple>"
        "<button type=\"submit\">Send reply</button></form></div>"
        "<form method=\"post\" action=\"/m/%s/logout\">"
        "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
        "<button type=\"submit\" class=\"quiet\">Sign out</button></form>",
        to_e, me, r->link, csrf, re_e, r->link, csrf);
    GString *page = mk_web_page_html(*meta->subject ? meta->subject : "Secure message", b->str);
    mk_web_keep_page(r->w, token, r->id, r->now, page);
    mk_web_send_html(r->req, 200, page->str, page->len);
    memset(page->str, 0, page->len);
    g_string_free(page, TRUE);
    g_string_free(b, TRUE);
    g_free(re_e);
    g_free(to_e);
    g_free(me);
    g_free(re);
    g_free(subj);
    mk_web_msg_free(m);
    mk_vault_meta_free(meta);
}

static void mk_web_html_part(mk_web_req *r)
{
    mk_vault_meta *meta = NULL;
    mk_web_msg *m = mk_web_open(r, &meta);
    if (m == NULL)
        return;
    /* images of the message itself come along as data: addresses */
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
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, html->str, html->len);
    mk_web_security_headers(r->req, 1);
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
                      "text/html; charset=utf-8");
    evhttp_send_reply(r->req, 200, NULL, out);
    evbuffer_free(out);
    g_string_free(html, TRUE);
    mk_web_msg_free(m);
    mk_vault_meta_free(meta);
}

static void mk_web_attachment(mk_web_req *r, const char *index)
{
    char *end = NULL;
    unsigned long i = strtoul(index, &end, 10);
    mk_vault_meta *meta = NULL;
    mk_web_msg *m = end != NULL && *end == '\0' && *index ? mk_web_open(r, &meta) : NULL;
    if (m == NULL) {
        if (meta == NULL && (end == NULL || *end != '\0' || !*index))
            mk_web_notice(r->req, 404, "No such attachment", "This message has no such file.");
        return;
    }
    const mk_web_part *p = i < m->parts->len ? m->parts->pdata[i] : NULL;
    if (p == NULL || p->filename == NULL) {
        mk_web_notice(r->req, 404, "No such attachment", "This message has no such file.");
    } else {
        /* a download, never rendered: octet-stream, nosniff, attachment */
        char *ascii = g_str_to_ascii(p->filename, NULL);
        for (char *c = ascii; *c; c++)
            if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20 || *c == 0x7f)
                *c = '_';
        char *pct = g_uri_escape_string(p->filename, NULL, FALSE);
        char *disp =
            g_strdup_printf("attachment; filename=\"%s\"; filename*=UTF-8''%s", ascii, pct);
        struct evbuffer *out = evbuffer_new();
        gsize n = 0;
        const void *d = g_bytes_get_data(p->data, &n);
        evbuffer_add(out, d, n);
        mk_web_security_headers(r->req, 0);
        struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
        evhttp_add_header(h, "Content-Type", "application/octet-stream");
        evhttp_add_header(h, "Content-Disposition", disp);
        evhttp_send_reply(r->req, 200, NULL, out);
        evbuffer_free(out);
        g_free(disp);
        g_free(pct);
        g_free(ascii);
    }
    mk_web_msg_free(m);
    mk_vault_meta_free(meta);
}

/* Whether the form's csrf field is the session's. */
static int mk_web_csrf_ok(GHashTable *form, const char *token)
{
    char want[MK_VAULT_LINK];
    mk_vault_csrf(token, want);
    const char *got = g_hash_table_lookup(form, "csrf");
    return got != NULL && strcmp(got, want) == 0;
}

static void mk_web_post_reply(mk_web_req *r, const char *addr, const char *token)
{
    GPtrArray *files = g_ptr_array_new_with_free_func(mk_web_file_free);
    GHashTable *form = mk_web_post_form(r, files);
    if (form == NULL) {
        g_ptr_array_free(files, TRUE);
        return;
    }
    mk_vault_meta *meta = NULL;
    char err[256];
    if (!mk_web_csrf_ok(form, token)) {
        mk_web_notice(r->req, 403, "The form has expired",
                      "Please open the message again and send your reply from there.");
    } else if (mk_vault_get(r->w->vault, r->link, r->now, &meta, NULL, NULL, err, sizeof(err)) !=
               MK_VAULT_OK) {
        mk_web_link_status(r, MK_VAULT_ERROR, err);
    } else {
        const char *subject = g_hash_table_lookup(form, "subject");
        const char *text = g_hash_table_lookup(form, "text");
        char *def = g_strdup_printf("Re: %s", meta->subject);
        char *mail =
            mk_web_reply_mail(addr, meta->sender, subject != NULL && *subject ? subject : def, NULL,
                              text != NULL ? text : "", files, err, sizeof(err));
        if (mail == NULL) {
            mk_web_notice(r->req, 400, "The reply cannot be sent", err);
        } else if (mk_sendmail(r->w->cfg->webvault_sendmail, addr, meta->sender, mail, strlen(mail),
                               err, sizeof(err)) != 0) {
            mk_log(LOG_ERR, NULL, "message %.12s: the reply cannot be mailed: %s", r->id, err);
            mk_web_notice(r->req, 500, "The reply cannot be sent now",
                          "Please try again in a few minutes.");
        } else {
            mk_log(LOG_INFO, NULL, "message %.12s: a reply was sent (%u file(s))", r->id,
                   files->len);
            char *to = g_strdup_printf("Your reply was sent to %s.", meta->sender);
            mk_web_notice(r->req, 200, "Reply sent", to);
            g_free(to);
        }
        g_free(mail);
        g_free(def);
    }
    mk_vault_meta_free(meta);
    g_hash_table_destroy(form);
    g_ptr_array_free(files, TRUE);
}

static void mk_web_post_logout(mk_web_req *r, const char *token)
{
    GHashTable *form = mk_web_post_form(r, NULL);
    if (form == NULL)
        return;
    if (mk_web_csrf_ok(form, token)) {
        mk_vault_session_end(r->w->vault, token);
        g_hash_table_remove(r->w->pages, token);
        char *name = mk_web_cookie_name(r);
        char *cookie =
            g_strdup_printf("%s=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0", name);
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "Set-Cookie", cookie);
        g_free(cookie);
        g_free(name);
        mk_web_notice(r->req, 200, "Signed out",
                      "To read the message again, open the link from the notification.");
    } else {
        mk_web_notice(r->req, 403, "The form has expired", "Please open the message again.");
    }
    g_hash_table_destroy(form);
}

/* /r/LINK/TOKEN: the sender withdraws the message. GET asks (a link
 * checker or a preview opening the link must not withdraw it), POST does. */
static void mk_web_revoke(mk_web_req *r, enum evhttp_cmd_type cmd, const char *token)
{
    mk_vault_meta *meta = NULL;
    char err[256];
    mk_vault_status st =
        mk_vault_get(r->w->vault, r->link, r->now, &meta, NULL, NULL, err, sizeof(err));
    if (st != MK_VAULT_OK) {
        mk_vault_meta_free(meta);
        mk_web_link_status(r, st, err);
        return;
    }
    if (cmd != EVHTTP_REQ_POST) {
        char *subj = mk_web_esc(meta->subject);
        char *body = g_strdup_printf(
            "<div class=\"card\"><h1>Withdraw your secure message?</h1>"
            "<p>\"%s\" can be read by its recipients until you withdraw it. Once withdrawn, "
            "it is deleted and its link shows that it was withdrawn.</p>"
            "<form method=\"post\" action=\"/r/%s/%s\">"
            "<button type=\"submit\">Withdraw the message</button></form></div>",
            subj, r->link, token);
        mk_web_page(r->req, 200, "Withdraw your secure message", body);
        g_free(body);
        g_free(subj);
    } else if (mk_vault_revoke(r->w->vault, NULL, r->link, token, r->now, err, sizeof(err)) ==
               MK_VAULT_OK) {
        mk_log(LOG_NOTICE, NULL, "message %.12s: revoked by its sender (client %s)", r->id,
               r->client);
        mk_web_notice(r->req, 200, "Your message was withdrawn",
                      "It is deleted; its recipients' link now says that it was withdrawn.");
    } else {
        mk_web_notice(r->req, 404, "This link does not withdraw a message",
                      "Check that you opened the whole link from the copy you received.");
    }
    mk_vault_meta_free(meta);
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
