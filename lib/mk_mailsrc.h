/*
 * mk_mailsrc: the messages of a path, as the command-line tools take them:
 * a file holding one message, an mbox file (its first line starts with
 * "From "; ">From " lines lose one ">"), a Maildir (cur/ and new/), or a
 * directory of such files, in name order; "-" is standard input.
 */
#ifndef MK_MAILSRC_H
#define MK_MAILSRC_H

#include <stddef.h>

/* Gets each message; what names it for messages ("FILE", "FILE, message
 * N"). Returns 0 to go on, nonzero to stop. */
typedef int (*mk_mailsrc_fn)(void *data, const char *msg, size_t len, const char *what);

/* Calls fn with each message of path. A file that cannot be read is said
 * on stderr (prog: ...) and counted in *unreadable. Returns nonzero when
 * fn asked to stop, else 0. */
int mk_mailsrc_each(const char *prog, const char *path, mk_mailsrc_fn fn, void *data,
                    size_t *unreadable);

/* The same for an input in memory (an mbox, or one message). */
int mk_mailsrc_bytes(const char *prog, const char *bytes, size_t len, const char *what,
                     mk_mailsrc_fn fn, void *data, size_t *unreadable);

#endif
