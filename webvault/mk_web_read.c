/*
 * mk_web_read: what a verified recipient does: the message page, the HTML
 * part for the sandboxed frame, attachments as downloads, the reply, sign
 * out; and the sender's revoke link.
 */
#include "config.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <string.h>

#include "mk_log.h"
#include "mk_sendmail.h"
#include "mk_web.h"

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

void mk_web_message_page(mk_web_req *r, const char *addr, const char *token)
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

void mk_web_html_part(mk_web_req *r)
{
    mk_vault_meta *meta = NULL;
    mk_web_msg *m = mk_web_open(r, &meta);
    if (m == NULL)
        return;
    char *html = mk_web_msg_html(m);
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, html, strlen(html));
    mk_web_security_headers(r->req, 1);
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
                      "text/html; charset=utf-8");
    evhttp_send_reply(r->req, 200, NULL, out);
    evbuffer_free(out);
    g_free(html);
    mk_web_msg_free(m);
    mk_vault_meta_free(meta);
}

void mk_web_attachment(mk_web_req *r, const char *index)
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

void mk_web_post_reply(mk_web_req *r, const char *addr, const char *token)
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

void mk_web_post_logout(mk_web_req *r, const char *token)
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
void mk_web_revoke(mk_web_req *r, enum evhttp_cmd_type cmd, const char *token)
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
