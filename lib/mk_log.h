/*
 * mk_log: logging to syslog (facility mail) and, in the foreground, to
 * stderr too. Every line about a message carries the MTA's queue ID first,
 * as Postfix's own lines do ("4Xb1Kq0y: ..."); process lines carry none.
 */
#ifndef MK_LOG_H
#define MK_LOG_H

#include <syslog.h>

/* Opens the log: ident is the program name; to_stderr mirrors every line to
 * stderr; level is a syslog priority (LOG_ERR ... LOG_DEBUG), lines above it
 * are dropped. */
void mk_log_open(const char *ident, int to_stderr, int level);
void mk_log_close(void);

/* One line at priority prio. qid is the queue ID of the message the line is
 * about, or NULL for lines about the process. */
void mk_log(int prio, const char *qid, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parses "err", "warning", "notice", "info", "debug"; -1 when unknown. */
int mk_log_level_parse(const char *name);

#endif
