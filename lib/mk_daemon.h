/*
 * mk_daemon: what every mailkeeper daemon does once its sockets are open:
 * go to the background, write its pid file, drop root for good.
 */
#ifndef MK_DAEMON_H
#define MK_DAEMON_H

#include <stddef.h>
#include <sys/types.h>

/* Before a daemon binds: whether it runs as root (*root), and then the
 * uid and gid of user ([general] user of the file conf) that
 * mk_daemon_drop_root switches to. 0, or -1 (logged, naming conf) when the
 * user is unknown. */
int mk_daemon_prepare(const char *user, const char *conf, int *root, uid_t *uid, gid_t *gid);
/* Looks up user; 0, or -1 with the reason in err. */
int mk_daemon_user(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen);
/* Switches to uid/gid (with that user's groups) for good, and checks that
 * root cannot be had back. Not root: nothing to do, 0. */
int mk_daemon_drop_root(const char *user, uid_t uid, gid_t gid, char *err, size_t errlen);
/* Detaches from the terminal (fork, setsid, stdio to /dev/null). */
int mk_daemon_detach(char *err, size_t errlen);
/* Writes the pid into path (created 0644); 0 or -1. */
int mk_daemon_pidfile(const char *path, char *err, size_t errlen);

/* Splits the daemon in two, as Postfix's master does: returns 0 in the
 * first worker process, which serves, 1 in a worker started again after a
 * crash; the calling process stays as its
 * supervisor and never returns. The supervisor turns SIGHUP into
 * reload_sig for the worker (libmilter stops on SIGHUP, so the worker
 * reloads on another signal), passes SIGTERM and SIGINT on, and exits
 * with the worker's status once it ends. A worker killed by a signal
 * (a crash) is started again from the supervisor's state, listening
 * sockets included, at most 5 times a minute. The worker ends when the
 * supervisor dies. -1 with why in err when fork fails. */
int mk_daemon_supervise(int reload_sig, char *err, size_t errlen);

#endif
