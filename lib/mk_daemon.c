/*
 * mk_daemon: detaching, pid file and dropping privileges.
 */
#include "config.h"

#include "mk_daemon.h"
#include "mk_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mk_daemon_prepare(const char *user, const char *conf, int *root, uid_t *uid, gid_t *gid)
{
    char err[512];
    *uid = 0;
    *gid = 0;
    *root = geteuid() == 0;
    if (*root && mk_daemon_user(user, uid, gid, err, sizeof(err)) != 0) {
        mk_log(LOG_ERR, NULL, "%s: [general] user: %s", conf, err);
        return -1;
    }
    return 0;
}

int mk_daemon_user(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        snprintf(err, errlen,
                 "user '%s' does not exist: create it (useradd -r -s /usr/sbin/nologin %s) or set "
                 "[general] user",
                 user, user);
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

int mk_daemon_drop_root(const char *user, uid_t uid, gid_t gid, char *err, size_t errlen)
{
    if (geteuid() != 0)
        return 0;
    if (initgroups(user, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        snprintf(err, errlen, "cannot become user %s: %s", user, strerror(errno));
        return -1;
    }
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        snprintf(err, errlen, "root privileges could be regained after dropping them");
        return -1;
    }
    return 0;
}

int mk_daemon_detach(char *err, size_t errlen)
{
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid > 0)
        _exit(0);
    if (setsid() < 0) {
        snprintf(err, errlen, "setsid: %s", strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid > 0)
        _exit(0);
    if (chdir("/") != 0) {
        snprintf(err, errlen, "chdir /: %s", strerror(errno));
        return -1;
    }
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
    return 0;
}

int mk_daemon_pidfile(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "pid file %s: %s", path, strerror(errno));
        return -1;
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (write(fd, buf, (size_t)n) != n) {
        snprintf(err, errlen, "pid file %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* The supervisor's loop; exits the process. */
static void mk_daemon_supervisor(pid_t worker, int reload_sig, const sigset_t *set,
                                 const sigset_t *old)
{
    time_t restarts[5] = {0};
    size_t next = 0;
    int stopping = 0;
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            mk_log(LOG_NOTICE, NULL, "SIGHUP: reloading the configuration (worker %ld)",
                   (long)worker);
            kill(worker, reload_sig);
            continue;
        }
        if (sig == SIGTERM || sig == SIGINT) {
            stopping = 1;
            kill(worker, SIGTERM);
            continue;
        }
        /* SIGCHLD */
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid != worker)
                continue;
            time_t now = time(NULL);
            if (stopping || !WIFSIGNALED(status) || now - restarts[next] < 60) {
                if (WIFSIGNALED(status) && !stopping)
                    mk_log(LOG_ERR, NULL,
                           "worker killed by signal %d, restarted too often: stopping",
                           WTERMSIG(status));
                exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
            }
            mk_log(LOG_ERR, NULL, "worker %ld killed by signal %d: starting another", (long)pid,
                   WTERMSIG(status));
            restarts[next] = now;
            next = (next + 1) % 5;
            worker = fork();
            if (worker == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                pthread_sigmask(SIG_SETMASK, old, NULL);
                return; /* mk_daemon_supervise() returns 0 in the new worker */
            }
            if (worker < 0) {
                mk_log(LOG_ERR, NULL, "fork: %s: stopping", strerror(errno));
                exit(1);
            }
        }
    }
}

int mk_daemon_supervise(int reload_sig, char *err, size_t errlen)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    pid_t parent = getpid(), worker = fork();
    if (worker < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return -1;
    }
    if (worker == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) /* the supervisor died before the line above */
            _exit(1);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return 0;
    }
    mk_daemon_supervisor(worker, reload_sig, &set, &old);
    return 1; /* a restarted worker */
}
