/*
 * mk_learn_serve: mailkeeper-learn --serve, the resident learner.
 *
 * A single learn run as its own process spends most of its time starting
 * (loading some thirty shared libraries) and opening the store; this one
 * keeps the store open and learns each event a client sends it
 * (mailkeeper-learnc, which Dovecot's sieve pipe runs), so an IMAP MOVE
 * waits a few milliseconds. It listens on [bayes] learn_socket (a Unix
 * socket, mode 0660, owned by [general] user and its group; the mail
 * processes reach it through that group), drops root, and opens the store
 * as that user.
 *
 * One learner thread takes the events in the order they came, each in a
 * transaction of its own (mk_learn_event: the spool first, then the event;
 * a store busy past MK_LEARN_BUSY_MS spools it), as a single
 * mailkeeper-learn run would. Each connection has a reader thread that reads
 * the request with a time limit, so a slow client holds up nobody but
 * itself. When idle for a minute, the learner drains the spool. SIGTERM or
 * SIGINT: no new connections, the events queued are learned and answered,
 * the socket goes.
 *
 * The protocol: the client sends "LEARN CLASS GLOBAL USER LENGTH\n" (CLASS
 * spam, ham or forget; GLOBAL 1 adds the global store as --global does;
 * USER percent-escaped) and LENGTH bytes of message. The server answers
 * "STATUS OUTLEN NOTELEN\n", then the summary (OUTLEN bytes, for the
 * client's stdout) and what went wrong (NOTELEN bytes, for its stderr);
 * STATUS is the exit status mailkeeper-learn would have had. A request the
 * server cannot take (too many clients, stopping) is closed unanswered:
 * the client then runs mailkeeper-learn itself.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "mk_daemon.h"
#include "mk_io.h"
#include "mk_learn.h"
#include "mk_lists.h"
#include "mk_log.h"

#define MK_LEARN_MAX_CLIENTS  64
#define MK_LEARN_MAX_MESSAGE  (64u << 20) /* bytes of one event */
#define MK_LEARN_IO_TIMEOUT_S 10          /* a client's request, and the answer */
#define MK_LEARN_IDLE_DRAIN_S 60          /* the spool is drained when idle this long */
/* The WAL is copied back into the store (a checkpoint: as many page writes
 * again as the commits, and a sync) when no event has come for this long,
 * not after the commit an IMAP command waits on; or at once when it has
 * grown past MK_LEARN_WAL_MAX pages (4 KiB each). */
#define MK_LEARN_CHECKPOINT_IDLE_MS 200
#define MK_LEARN_WAL_MAX            8000

/* One event, from the reader that read it to the learner and back. */
typedef struct mk_learn_job {
    int cls, global;
    char *user;   /* as sent (not normalized) */
    GString *msg; /* the message */
    int status;   /* the answer: exit status, summary, notes */
    GString *out, *notes;
    int done;
    struct mk_learn_job *next;
} mk_learn_job;

typedef struct mk_learn_server {
    const mk_config *cfg;
    const psl_ctx_t *psl;
    mk_bayes_db *db;
    pthread_mutex_t lock;
    pthread_cond_t wake;     /* the learner: a job, or stop */
    pthread_cond_t answered; /* the readers: a job is done */
    mk_learn_job *head, *tail;
    int stopping;
    int clients;   /* connections being served */
    int wal_pages; /* the WAL's length in pages since the last checkpoint */
} mk_learn_server;

typedef struct mk_learn_conn {
    mk_learn_server *srv;
    int fd;
} mk_learn_conn;

static void mk_learn_job_free(mk_learn_job *job)
{
    g_free(job->user);
    if (job->msg != NULL)
        g_string_free(job->msg, TRUE);
    if (job->out != NULL)
        g_string_free(job->out, TRUE);
    if (job->notes != NULL)
        g_string_free(job->notes, TRUE);
    g_free(job);
}

/* Learns one job with the server's store (in the learner thread). */
static void mk_learn_serve_job(mk_learn_server *srv, mk_learn_job *job)
{
    mk_learn l = {
        .cfg = srv->cfg, .db = srv->db, .psl = srv->psl, .cls = job->cls, .notes = job->notes};
    char err[512];
    char *norm = mk_lists_scope(job->user, err, sizeof(err));
    if (norm != NULL && *norm == '\0') {
        g_free(norm);
        norm = NULL;
        snprintf(err, sizeof(err), "the user name is empty");
    }
    if (norm == NULL) {
        mk_learn_say(&l, "--user: %s", err);
        mk_log(LOG_NOTICE, NULL, "--user: %s; nothing learned", err);
        job->status = EX_USAGE;
        return;
    }
    job->status = mk_learn_event(&l, norm, mk_learn_store_choice(srv->cfg, job->global),
                                 job->msg->str, job->msg->len, job->out);
    g_free(norm);
}

/* SQLite's hook after each commit (in the learner thread, which alone
 * writes through this connection): notes the WAL's length. */
static int mk_learn_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    (void)db;
    (void)name;
    ((mk_learn_server *)arg)->wal_pages = pages;
    return SQLITE_OK;
}

/* Copies what the WAL holds into the store, as far as readers allow. */
static void mk_learn_checkpoint(mk_learn_server *srv)
{
    int logged = 0, done = 0;
    if (sqlite3_wal_checkpoint_v2(mk_bayes_db_handle(srv->db), NULL, SQLITE_CHECKPOINT_PASSIVE,
                                  &logged, &done) != SQLITE_OK)
        mk_log(LOG_NOTICE, NULL, "checkpoint: %s", sqlite3_errmsg(mk_bayes_db_handle(srv->db)));
    srv->wal_pages = 0;
}

/* The time wait_ms from now, for pthread_cond_timedwait. */
static struct timespec mk_learn_after(long wait_ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += wait_ms / 1000;
    t.tv_nsec += (wait_ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* The learner thread: the jobs in order; checkpoints and the spool when
 * idle. */
static void *mk_learn_serve_learner(void *arg)
{
    mk_learn_server *srv = arg;
    pthread_mutex_lock(&srv->lock);
    for (;;) {
        if (srv->head == NULL && srv->stopping)
            break;
        if (srv->head == NULL && srv->wal_pages > 0) {
            struct timespec until = mk_learn_after(MK_LEARN_CHECKPOINT_IDLE_MS);
            if (pthread_cond_timedwait(&srv->wake, &srv->lock, &until) == ETIMEDOUT &&
                srv->head == NULL) {
                pthread_mutex_unlock(&srv->lock);
                mk_learn_checkpoint(srv);
                pthread_mutex_lock(&srv->lock);
            }
            continue;
        }
        if (srv->head == NULL) {
            struct timespec until = mk_learn_after(MK_LEARN_IDLE_DRAIN_S * 1000L);
            if (pthread_cond_timedwait(&srv->wake, &srv->lock, &until) == ETIMEDOUT) {
                pthread_mutex_unlock(&srv->lock);
                mk_learn l = {.cfg = srv->cfg, .db = srv->db, .psl = srv->psl};
                l.notes = g_string_new(NULL); /* logged by the drain already */
                mk_learn_drain(&l);
                g_string_free(l.notes, TRUE);
                pthread_mutex_lock(&srv->lock);
            }
            continue;
        }
        mk_learn_job *job = srv->head;
        srv->head = job->next;
        if (srv->head == NULL)
            srv->tail = NULL;
        pthread_mutex_unlock(&srv->lock);
        mk_learn_serve_job(srv, job);
        pthread_mutex_lock(&srv->lock);
        job->done = 1;
        pthread_cond_broadcast(&srv->answered);
        if (srv->wal_pages > MK_LEARN_WAL_MAX) { /* a long run of events */
            pthread_mutex_unlock(&srv->lock);
            mk_learn_checkpoint(srv);
            pthread_mutex_lock(&srv->lock);
        }
    }
    pthread_mutex_unlock(&srv->lock);
    if (srv->wal_pages > 0)
        mk_learn_checkpoint(srv);
    return NULL;
}

/* Reads a request into a new job; NULL (logged) when it is not one. */
static mk_learn_job *mk_learn_read_request(int fd)
{
    char head[1100];
    size_t n = 0;
    /* the request line, a byte at a time: the message follows it */
    while (n < sizeof(head) - 1) {
        ssize_t r = read(fd, head + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return NULL; /* gone, or too slow */
        if (head[n] == '\n')
            break;
        n++;
    }
    head[n] = '\0';
    char cls[16], user[1025];
    int global;
    unsigned long len;
    if (sscanf(head, "LEARN %15s %d %1024s %lu", cls, &global, user, &len) != 4 ||
        len > MK_LEARN_MAX_MESSAGE) {
        mk_log(LOG_WARNING, NULL, "learn socket: a request not understood: %.80s", head);
        return NULL;
    }
    mk_learn_job *job = g_new0(mk_learn_job, 1);
    job->cls = strcmp(cls, "spam") == 0     ? MK_BAYES_SPAM
               : strcmp(cls, "ham") == 0    ? MK_BAYES_HAM
               : strcmp(cls, "forget") == 0 ? MK_BAYES_FORGET
                                            : 99;
    job->global = global != 0;
    job->user = g_uri_unescape_string(user, NULL);
    job->msg = g_string_sized_new(len + 1);
    g_string_set_size(job->msg, len);
    if (job->cls == 99 || job->user == NULL || mk_io_read_full(fd, job->msg->str, len) != 0) {
        mk_log(LOG_WARNING, NULL, "learn socket: %s",
               job->cls == 99      ? "an unknown class"
               : job->user == NULL ? "a user name not understood"
                                   : "the message was cut short");
        mk_learn_job_free(job);
        return NULL;
    }
    job->out = g_string_new(NULL);
    job->notes = g_string_new(NULL);
    return job;
}

/* A reader thread: one connection's request, queued, answered. */
static void *mk_learn_serve_client(void *arg)
{
    mk_learn_conn *conn = arg;
    mk_learn_server *srv = conn->srv;
    mk_learn_job *job = mk_learn_read_request(conn->fd);
    if (job != NULL) {
        pthread_mutex_lock(&srv->lock);
        if (!srv->stopping) {
            if (srv->tail != NULL)
                srv->tail->next = job;
            else
                srv->head = job;
            srv->tail = job;
            pthread_cond_signal(&srv->wake);
            while (!job->done)
                pthread_cond_wait(&srv->answered, &srv->lock);
        }
        pthread_mutex_unlock(&srv->lock);
        if (job->done) {
            char head[64];
            int hn = snprintf(head, sizeof(head), "%d %zu %zu\n", job->status, job->out->len,
                              job->notes->len);
            if (mk_io_write_full(conn->fd, head, (size_t)hn) != 0 ||
                mk_io_write_full(conn->fd, job->out->str, job->out->len) != 0 ||
                mk_io_write_full(conn->fd, job->notes->str, job->notes->len) != 0)
                mk_log(LOG_NOTICE, NULL, "learn socket: the client left before the answer");
        }
        mk_learn_job_free(job);
    }
    close(conn->fd);
    pthread_mutex_lock(&srv->lock);
    srv->clients--;
    pthread_mutex_unlock(&srv->lock);
    g_free(conn);
    return NULL;
}

/* Binds the socket at path (a stale one from a crash is replaced, a live
 * one is not); the fd, or -1 with why in err. */
static int mk_learn_listen(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "%s: the socket path is too long", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            snprintf(err, errlen, "%s: another learner listens there", path);
            close(fd);
            return -1;
        }
        unlink(path);
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 128) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int mk_learn_serve(const mk_config *cfg, const psl_ctx_t *psl)
{
    char err[512];
    uid_t uid;
    gid_t gid;
    int root;
    if (mk_daemon_prepare(cfg->user, cfg->path, &root, &uid, &gid) != 0)
        return EX_CONFIG;
    umask(0007); /* the socket and the store: owner and group */
    char *path = mk_bayes_learn_socket_path(cfg);
    int lfd = mk_learn_listen(path, err, sizeof(err));
    if (lfd < 0) {
        mk_log(LOG_ERR, NULL, "[bayes] learn_socket: %s", err);
        g_free(path);
        return EX_UNAVAILABLE;
    }
    if (root && chown(path, uid, gid) != 0)
        mk_log(LOG_WARNING, NULL, "chown %s: %s", path, strerror(errno));
    if (root && mk_daemon_drop_root(cfg->user, uid, gid, err, sizeof(err)) != 0) {
        mk_log(LOG_ERR, NULL, "%s", err);
        close(lfd);
        unlink(path);
        g_free(path);
        return EX_NOPERM;
    }
    char *db_path = mk_bayes_db_path(cfg);
    mk_learn_server srv = {.cfg = cfg, .psl = psl};
    srv.db = mk_bayes_db_open(db_path, 1, err, sizeof(err));
    if (srv.db == NULL) {
        mk_log(LOG_ERR, NULL, "%s: [bayes] database: %s", cfg->path, err);
        close(lfd);
        unlink(path);
        g_free(path);
        g_free(db_path);
        return EX_CANTCREAT;
    }
    sqlite3_busy_timeout(mk_bayes_db_handle(srv.db), MK_LEARN_BUSY_MS);
    /* checkpoints when idle (this replaces SQLite's after-commit ones) */
    sqlite3_wal_hook(mk_bayes_db_handle(srv.db), mk_learn_wal_hook, &srv);
    /* the signals come to the loop below through a signalfd */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
    pthread_mutex_init(&srv.lock, NULL);
    pthread_cond_init(&srv.wake, NULL);
    pthread_cond_init(&srv.answered, NULL);
    pthread_t learner;
    pthread_create(&learner, NULL, mk_learn_serve_learner, &srv);
    mk_log(LOG_INFO, NULL, "learning on %s, store %s", path, db_path);
    pthread_attr_t detached;
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    struct timeval io_limit = {.tv_sec = MK_LEARN_IO_TIMEOUT_S};
    for (;;) {
        struct pollfd pf[2] = {{.fd = lfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        if (poll(pf, 2, -1) < 0 && errno != EINTR)
            break;
        if (pf[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) && si.ssi_signo != SIGHUP)
                break; /* SIGHUP: nothing to reload, the store is read per event */
        }
        if (!(pf[0].revents & POLLIN))
            continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&srv.lock);
        int full = srv.clients >= MK_LEARN_MAX_CLIENTS;
        if (!full)
            srv.clients++;
        pthread_mutex_unlock(&srv.lock);
        if (full) {
            close(fd); /* the client learns by itself */
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &io_limit, sizeof(io_limit));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &io_limit, sizeof(io_limit));
        mk_learn_conn *conn = g_new(mk_learn_conn, 1);
        conn->srv = &srv;
        conn->fd = fd;
        pthread_t t;
        if (pthread_create(&t, &detached, mk_learn_serve_client, conn) != 0) {
            close(fd);
            g_free(conn);
            pthread_mutex_lock(&srv.lock);
            srv.clients--;
            pthread_mutex_unlock(&srv.lock);
        }
    }
    /* stop: no new connections; what is queued is learned and answered */
    close(lfd);
    unlink(path);
    pthread_mutex_lock(&srv.lock);
    srv.stopping = 1;
    pthread_cond_signal(&srv.wake);
    pthread_mutex_unlock(&srv.lock);
    pthread_join(learner, NULL);
    /* readers still answering get a moment before the store closes */
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&srv.lock);
        int left = srv.clients;
        pthread_mutex_unlock(&srv.lock);
        if (left == 0)
            break;
        usleep(10000);
    }
    mk_log(LOG_INFO, NULL, "stopped");
    pthread_attr_destroy(&detached);
    close(sfd);
    mk_bayes_db_close(srv.db);
    g_free(db_path);
    g_free(path);
    return EX_OK;
}
