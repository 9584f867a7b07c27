/*
 * mk_sendmail: hands a message to the local MTA through a
 * sendmail-compatible command ([webvault] sendmail: /usr/sbin/sendmail,
 * or msmtp to relay over SMTP): the vault reader's codes and replies, the
 * milter's copies of notifications for senders.
 */
#ifndef MK_SENDMAIL_H
#define MK_SENDMAIL_H

#include <stddef.h>

/* Runs command (words as a shell splits them, no shell run) with
 * "-i [-f env_from] -- rcpt" and msg (len bytes) on its standard input,
 * and waits for it. 0 when it exits 0, else -1 with why in err. Safe in a
 * threaded program (only exec-safe calls between fork and exec). */
int mk_sendmail(const char *command, const char *env_from, const char *rcpt, const char *msg,
                size_t len, char *err, size_t errlen);

/* Whether s may stand in a header field of a message we send: no line
 * break or other control character. */
int mk_sendmail_header_safe(const char *s);

#endif
