/*
 * mk_daemon: what every mailkeeper daemon does once its sockets are open:
 * go to the background, write its pid file, drop root for good.
 */
#ifndef MK_DAEMON_H
#define MK_DAEMON_H

#include <stddef.h>
#include <sys/types.h>

/* Looks up user; 0, or -1 with the reason in err. */
int mk_daemon_user(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen);
/* Switches to uid/gid (with that user's groups) for good, and checks that
 * root cannot be had back. Not root: nothing to do, 0. */
int mk_daemon_drop_root(const char *user, uid_t uid, gid_t gid, char *err, size_t errlen);
/* Detaches from the terminal (fork, setsid, stdio to /dev/null). */
int mk_daemon_detach(char *err, size_t errlen);
/* Writes the pid into path (created 0644); 0 or -1. */
int mk_daemon_pidfile(const char *path, char *err, size_t errlen);

#endif
