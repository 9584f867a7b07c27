/*
 * mk_web_pages: the common layout of the reader's pages, the stylesheet,
 * and the headers every response carries. No script anywhere: the pages
 * are plain forms, so the strict policy (default-src 'none') holds.
 */
#include "config.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <string.h>

#include "mk_web.h"

/* One stylesheet, served from /static/vault.css (style-src 'self'): calm
 * colours, large type, one column that fits a phone. */
static const char mk_web_stylesheet[] =
    ":root{--ink:#1d2733;--muted:#5b6b7b;--line:#dde3ea;--bg:#f3f5f8;--brand:#1f5fbf;"
    "--bad:#b3261e}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:var(--bg);color:var(--ink);font:16px/1.5 -apple-system,"
    "'Segoe UI',Roboto,Helvetica,Arial,sans-serif}\n"
    "header{background:#fff;border-bottom:1px solid var(--line);padding:14px 20px}\n"
    "header .brand{font-weight:600;letter-spacing:.02em}\n"
    "header .lock{display:inline-block;width:10px;height:12px;border:2px solid var(--brand);"
    "border-radius:2px;margin-right:8px;vertical-align:-1px}\n"
    "main{max-width:760px;margin:24px auto;padding:0 16px}\n"
    ".card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:24px;"
    "margin-bottom:16px}\n"
    "h1{font-size:1.4rem;margin:0 0 12px}\n"
    "p{margin:0 0 12px}\n"
    ".muted{color:var(--muted);font-size:.92rem}\n"
    ".bad{color:var(--bad)}\n"
    "label{display:block;font-weight:600;margin:12px 0 6px}\n"
    "input[type=email],input[type=text],textarea{width:100%;padding:12px;font-size:1rem;"
    "border:1px solid #b9c4d0;border-radius:6px;font-family:inherit}\n"
    "textarea{min-height:160px}\n"
    "input.code{letter-spacing:.3em;font-size:1.3rem;max-width:260px}\n"
    "button{margin-top:16px;background:var(--brand);color:#fff;border:0;border-radius:6px;"
    "padding:12px 22px;font-size:1rem;cursor:pointer}\n"
    "button.quiet{background:#fff;color:var(--brand);border:1px solid var(--brand)}\n"
    "dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0}\n"
    "dl.meta dt{color:var(--muted)}dl.meta dd{margin:0;word-break:break-word}\n"
    "pre.text{white-space:pre-wrap;word-wrap:break-word;font:15px/1.55 ui-monospace,"
    "Menlo,Consolas,monospace;margin:0}\n"
    "iframe.html{width:100%;min-height:420px;border:1px solid var(--line);border-radius:6px;"
    "background:#fff}\n"
    "ul.files{list-style:none;padding:0;margin:0}ul.files li{padding:8px 0;"
    "border-top:1px solid var(--line)}ul.files li:first-child{border-top:0}\n"
    "a{color:var(--brand)}\n"
    "footer{max-width:760px;margin:0 auto 32px;padding:0 16px;color:var(--muted);"
    "font-size:.85rem}\n"
    "@media (max-width:480px){main{margin:12px auto}.card{padding:16px}h1{font-size:1.2rem}}\n";

char *mk_web_esc(const char *text)
{
    return g_markup_escape_text(text != NULL ? text : "", -1);
}

void mk_web_security_headers(struct evhttp_request *req, int frameable)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
    evhttp_add_header(h, "Cross-Origin-Resource-Policy", "same-origin");
    evhttp_add_header(h, "Permissions-Policy", "camera=(), microphone=(), geolocation=()");
    if (frameable) {
        /* the message's own HTML: a sandbox (no scripts, no forms, an
         * opaque origin), nothing from outside, framed by our page only */
        evhttp_add_header(h, "Content-Security-Policy",
                          "sandbox; default-src 'none'; img-src 'self' data:; "
                          "style-src 'unsafe-inline'; font-src data:; frame-ancestors 'self'");
        evhttp_add_header(h, "X-Frame-Options", "SAMEORIGIN");
    } else {
        evhttp_add_header(h, "Content-Security-Policy",
                          "default-src 'none'; style-src 'self'; img-src 'self'; "
                          "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                          "base-uri 'none'");
        evhttp_add_header(h, "X-Frame-Options", "DENY");
    }
}

GString *mk_web_page_html(const char *title, const char *body)
{
    GString *out = g_string_sized_new(strlen(body) + 1024);
    char *t = mk_web_esc(title);
    g_string_append_printf(out,
                           "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                           "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                           "<meta name=\"robots\" content=\"noindex\">"
                           "<title>%s</title><link rel=\"stylesheet\" href=\"/static/vault.css\">"
                           "</head>\n<body><header><span class=\"lock\"></span>"
                           "<span class=\"brand\">Secure message</span></header>\n<main>\n",
                           t);
    g_string_append(out, body);
    g_string_append(out, "\n</main>\n<footer>This page is served over an encrypted "
                         "connection. Messages are stored encrypted and can be read only "
                         "through the link their recipients received.</footer>\n"
                         "</body></html>\n");
    g_free(t);
    return out;
}

void mk_web_send_html(struct evhttp_request *req, int status, const char *html, size_t len)
{
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, html, len);
    mk_web_security_headers(req, 0);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/html; charset=utf-8");
    evhttp_send_reply(req, status, NULL, out);
    evbuffer_free(out);
}

void mk_web_page(struct evhttp_request *req, int status, const char *title, const char *body)
{
    GString *html = mk_web_page_html(title, body);
    mk_web_send_html(req, status, html->str, html->len);
    g_string_free(html, TRUE);
}

void mk_web_notice(struct evhttp_request *req, int status, const char *heading, const char *text)
{
    char *h = mk_web_esc(heading), *t = mk_web_esc(text);
    char *body = g_strdup_printf("<div class=\"card\"><h1>%s</h1><p>%s</p></div>", h, t);
    mk_web_page(req, status, heading, body);
    g_free(body);
    g_free(h);
    g_free(t);
}

void mk_web_css(struct evhttp_request *req)
{
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, mk_web_stylesheet, sizeof(mk_web_stylesheet) - 1);
    mk_web_security_headers(req, 0);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/css; charset=utf-8");
    evhttp_send_reply(req, 200, NULL, out);
    evbuffer_free(out);
}
