/*
 * mk_web_verify: how a reader proves to be a recipient: the address page,
 * a one-time code mailed (the same answer for anyone), the code page, the
 * lockout. A right code starts the session (see mk_web_routes.c).
 */
#include "config.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <string.h>

#include "mk_log.h"
#include "mk_sendmail.h"
#include "mk_web.h"

/* The address form: the first page of a link. note: HTML or NULL. */
void mk_web_address_page(mk_web_req *r, int status, const char *note)
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

void mk_web_post_code(mk_web_req *r)
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

void mk_web_post_verify(mk_web_req *r)
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
