/*
 * mk_spool: events that could not be done now, kept on disk to be done
 * later, oldest first. Each event is one file in the spool directory: a
 * line of the caller's (what the event is) and a body (the message). A
 * file is written under a temporary name, synced and renamed, so an event
 * is either whole in the spool or not there; a consumer claims a file by
 * renaming it, so two consumers never do one event twice, and a file
 * claimed by a consumer that died is given back after MK_SPOOL_STALE_S.
 */
#ifndef MK_SPOOL_H
#define MK_SPOOL_H

#include <stddef.h>

#define MK_SPOOL_STALE_S 600

/* Adds an event to dir (made if missing, mode 0770): meta (one line, no
 * newline) and body. 0, or -1 with why in err. */
int mk_spool_put(const char *dir, const char *meta, const char *body, size_t len, char *err,
                 size_t errlen);

/* Does the events of dir, oldest first: fn gets each event's meta and body
 * and returns 0 when it is done (the file is removed) or -1 when it cannot
 * be done now (the file is given back and draining stops). *done counts
 * the events done. 0 when the spool is empty at the end (or missing), 1
 * when events are left, -1 with why in err when dir cannot be read. */
int mk_spool_drain(const char *dir,
                   int (*fn)(void *data, const char *meta, const char *body, size_t len),
                   void *data, size_t *done, char *err, size_t errlen);

#endif
