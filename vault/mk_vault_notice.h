/*
 * mk_vault_notice: what goes out in the place of a vaulted message: the
 * subject without the keyword, and a notification (text and HTML, in a
 * multipart/alternative body) that says who sent it and carries the link.
 */
#ifndef MK_VAULT_NOTICE_H
#define MK_VAULT_NOTICE_H

#include <glib.h>

/* Whether subject holds one of keywords (comma-separated, each matched
 * without regard to case); with one, *stripped gets the subject without
 * it (every keyword taken out, white space tidied; g_free). */
int mk_vault_subject_match(const char *subject, const char *keywords, char **stripped);

typedef struct mk_vault_notice {
    char *content_type; /* the value of the new Content-Type header */
    char *body;         /* the new body, CRLF line ends */
} mk_vault_notice;

/* The notification of a message from sender_name (the From header's
 * display name, or its address) with subject (already stripped), readable
 * at url until expires (Unix time). Free with mk_vault_notice_free. */
mk_vault_notice *mk_vault_notice_new(const char *sender_name, const char *sender_addr,
                                     const char *subject, const char *url, gint64 expires);
void mk_vault_notice_free(mk_vault_notice *n);

/* The copy for the sender ([vault] notify_sender): a whole message (LF
 * line ends) From from (none when empty: the sendmail command's own) To
 * sender, saying to whom the message went and until when it can be read,
 * with the recipients' link and the sender's revoke link. NULL when an
 * address holds a line break or control character. g_free. */
char *mk_vault_sender_copy(const char *from, const char *sender, const char *subject,
                           char *const *rcpts, const char *url, const char *revoke_url,
                           gint64 expires);

#endif
