/*
 * mk_vault_notice: the notification of a vaulted message (see
 * mk_vault_notice.h). The text part and the HTML part say the same: who
 * sent a secure message, its subject, the link and until when it can be
 * read; the HTML is a single table with inline styles, as mail clients
 * render it, and escapes everything it quotes.
 */
#include "config.h"

#include "mk_vault_notice.h"

#include "mk_sendmail.h"

#include <gmime/gmime.h>
#include <string.h>
#include <time.h>

int mk_vault_subject_match(const char *subject, const char *keywords, char **stripped)
{
    *stripped = NULL;
    if (subject == NULL || keywords == NULL)
        return 0;
    char **words = g_strsplit(keywords, ",", -1);
    GString *s = g_string_new(subject);
    int found = 0;
    for (char **w = words; *w != NULL; w++) {
        char *kw = g_strstrip(*w);
        size_t klen = strlen(kw);
        if (klen == 0)
            continue;
        /* every occurrence, without regard to case (ASCII keywords) */
        for (size_t i = 0; i + klen <= s->len;) {
            if (g_ascii_strncasecmp(s->str + i, kw, klen) == 0) {
                g_string_erase(s, (gssize)i, (gssize)klen);
                found = 1;
            } else {
                i++;
            }
        }
    }
    g_strfreev(words);
    if (!found) {
        g_string_free(s, TRUE);
        return 0;
    }
    /* runs of white space become one space; none at the ends */
    GString *tidy = g_string_new(NULL);
    for (size_t i = 0; i < s->len; i++) {
        int space = g_ascii_isspace(s->str[i]);
        if (space && (tidy->len == 0 || tidy->str[tidy->len - 1] == ' '))
            continue;
        g_string_append_c(tidy, space ? ' ' : s->str[i]);
    }
    if (tidy->len > 0 && tidy->str[tidy->len - 1] == ' ')
        g_string_truncate(tidy, tidy->len - 1);
    g_string_free(s, TRUE);
    *stripped = g_string_free(tidy, FALSE);
    return 1;
}

/* A date as "1 January 2027" (UTC). g_free. */
static char *mk_vault_day(gint64 when)
{
    static const char *const months[] = {"January",   "February", "March",    "April",
                                         "May",       "June",     "July",     "August",
                                         "September", "October",  "November", "December"};
    time_t t = (time_t)when;
    struct tm tm;
    gmtime_r(&t, &tm);
    return g_strdup_printf("%d %s %d", tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900);
}

mk_vault_notice *mk_vault_notice_new(const char *sender_name, const char *sender_addr,
                                     const char *subject, const char *url, gint64 expires)
{
    const char *name = sender_name != NULL && *sender_name ? sender_name : sender_addr;
    const char *subj = subject != NULL && *subject ? subject : "(no subject)";
    char *until = mk_vault_day(expires);
    char boundary[40];
    g_snprintf(boundary, sizeof(boundary), "=_mkvault_%08x%08x", g_random_int(), g_random_int());
    mk_vault_notice *n = g_new0(mk_vault_notice, 1);
    n->content_type = g_strdup_printf("multipart/alternative; boundary=\"%s\"", boundary);
    char *h_name = g_markup_escape_text(name, -1);
    char *h_addr = g_markup_escape_text(sender_addr != NULL ? sender_addr : "", -1);
    char *h_subj = g_markup_escape_text(subj, -1);
    char *h_url = g_markup_escape_text(url, -1);
    char *h_until = g_markup_escape_text(until, -1);
    GString *b = g_string_new(NULL);
    g_string_append_printf(b,
                           "This is a secure message in MIME format.\r\n\r\n"
                           "--%s\r\n"
                           "Content-Type: text/plain; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: 8bit\r\n\r\n"
                           "%s (%s) has sent you a secure message.\r\n\r\n"
                           "Subject: %s\r\n\r\n"
                           "To read it, open this link and confirm your email address;\r\n"
                           "a one-time code will be sent to you:\r\n\r\n"
                           "%s\r\n\r\n"
                           "The message can be read until %s.\r\n"
                           "You can reply to it securely from the same page.\r\n\r\n"
                           "If you did not expect this message, you can ignore it.\r\n\r\n",
                           boundary, name, sender_addr != NULL ? sender_addr : "", subj, url,
                           until);
    g_string_append_printf(
        b,
        "--%s\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width\"></head>\r\n"
        "<body style=\"margin:0;padding:24px;background:#f3f5f8;"
        "font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#1d2733\">\r\n"
        "<table role=\"presentation\" style=\"max-width:560px;margin:0 auto;background:#ffffff;"
        "border-radius:8px;padding:28px;border:1px solid #dde3ea\">\r\n"
        "<tr><td "
        "style=\"font-size:13px;color:#5b6b7b;letter-spacing:.04em;text-transform:uppercase\">"
        "Secure message</td></tr>\r\n"
        "<tr><td style=\"font-size:18px;padding:10px 0 4px\"><strong>%s</strong> "
        "(%s) has sent you a secure message.</td></tr>\r\n"
        "<tr><td style=\"font-size:15px;padding:4px 0 18px;color:#3a4856\">Subject: "
        "%s</td></tr>\r\n"
        "<tr><td style=\"padding:0 0 18px\"><a href=\"%s\" style=\"display:inline-block;"
        "background:#1f5fbf;color:#ffffff;text-decoration:none;padding:12px 22px;"
        "border-radius:6px;font-size:16px\">Read the message</a></td></tr>\r\n"
        "<tr><td style=\"font-size:13px;color:#5b6b7b;line-height:1.5\">You will confirm your "
        "email address and receive a one-time code. The message can be read until %s, and "
        "answered securely from the same page.<br>If the button does not work, copy this "
        "link:<br><span style=\"word-break:break-all\">%s</span></td></tr>\r\n"
        "</table>\r\n</body></html>\r\n\r\n"
        "--%s--\r\n",
        boundary, h_name, h_addr, h_subj, h_url, h_until, h_url, boundary);
    n->body = g_string_free(b, FALSE);
    g_free(h_name);
    g_free(h_addr);
    g_free(h_subj);
    g_free(h_url);
    g_free(h_until);
    g_free(until);
    return n;
}

char *mk_vault_sender_copy(const char *from, const char *sender, const char *subject,
                           char *const *rcpts, const char *url, const char *revoke_url,
                           gint64 expires)
{
    if (!mk_sendmail_header_safe(from) || !mk_sendmail_header_safe(sender))
        return NULL;
    const char *subj = subject != NULL && *subject ? subject : "(no subject)";
    char *line = g_strdup_printf("Sent securely: %s", subj);
    for (char *c = line; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    char *enc = g_mime_utils_header_encode_text(NULL, line, "utf-8");
    char *until = mk_vault_day(expires);
    GDateTime *now = g_date_time_new_now_utc();
    char *date = g_mime_utils_header_format_date(now);
    g_date_time_unref(now);
    GString *m = g_string_new(NULL);
    if (*from)
        g_string_append_printf(m, "From: Secure messages <%s>\n", from);
    g_string_append_printf(m,
                           "To: <%s>\nSubject: %s\nDate: %s\nAuto-Submitted: auto-generated\n"
                           "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                           "Content-Transfer-Encoding: 8bit\n\n"
                           "Your message \"%s\" was not sent in clear: it is kept encrypted, and\n"
                           "its recipients received a link to read it after confirming their\n"
                           "address:\n\n",
                           sender, enc, date, subj);
    for (char *const *r = rcpts; r != NULL && *r != NULL; r++)
        g_string_append_printf(m, "  %s\n", *r);
    g_string_append_printf(m,
                           "\nTheir link (it opens the message only for them):\n  %s\n\n"
                           "The message can be read until %s. To withdraw it now, so that\n"
                           "nobody can read it any more, open this link:\n  %s\n",
                           url, until, revoke_url);
    g_free(date);
    g_free(until);
    g_free(enc);
    g_free(line);
    return g_string_free(m, FALSE);
}

void mk_vault_notice_free(mk_vault_notice *n)
{
    if (n == NULL)
        return;
    g_free(n->content_type);
    g_free(n->body);
    g_free(n);
}
