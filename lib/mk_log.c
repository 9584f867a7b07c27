/*
 * mk_log: thin layer over syslog(3). The level filter is syslog's own mask
 * (setlogmask), and LOG_PERROR mirrors lines to stderr, so this file keeps
 * no state of its own.
 */
#include "config.h"

#include "mk_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void mk_log_open(const char *ident, int to_stderr, int level)
{
    openlog(ident, LOG_PID | LOG_NDELAY | (to_stderr ? LOG_PERROR : 0), LOG_MAIL);
    setlogmask(LOG_UPTO(level));
}

void mk_log_close(void)
{
    closelog();
}

void mk_log(int prio, const char *qid, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* Control characters from mail must not forge log lines. */
    for (char *p = line; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    if (qid != NULL)
        syslog(prio, "%s: %s", qid, line);
    else
        syslog(prio, "%s", line);
}

int mk_log_level_parse(const char *name)
{
    static const struct {
        const char *name;
        int level;
    } levels[] = {{"err", LOG_ERR},       {"error", LOG_ERR}, {"warning", LOG_WARNING},
                  {"notice", LOG_NOTICE}, {"info", LOG_INFO}, {"debug", LOG_DEBUG}};
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (strcasecmp(name, levels[i].name) == 0)
            return levels[i].level;
    return -1;
}
