/*
 * NAME
 *   mailkeeper-learnc - hand one learn event to the resident learner
 *
 * SYNOPSIS
 *   mailkeeper-learnc -S SOCKET LEARNER [-c CONF] --spam|--ham|--forget --user USER [--global]
 *
 * DESCRIPTION
 *   What Dovecot's sieve pipe runs when a user moves a message into or out
 *   of the Spam folder: reads the message on standard input and sends it to
 *   mailkeeper-learn --serve on SOCKET, which keeps the store open and
 *   learns it in a few milliseconds; prints the learner's summary on
 *   stdout and what went wrong on stderr, and exits with the status
 *   mailkeeper-learn would have had. This program links nothing but the C
 *   library, so that it starts at once.
 *
 *   LEARNER and the arguments after it are a whole mailkeeper-learn command
 *   line. When no learner listens on SOCKET (not started, stopped, busy with
 *   too many clients), or the arguments are not one event of one user,
 *   that command runs instead, as if this program were not there: it learns
 *   the message itself, or spools it. The event is never lost between the
 *   two.
 *
 * EXIT STATUS
 *   as mailkeeper-learn(1); 64 on usage errors.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "mk_io.h"

#define MK_PROG "mailkeeper-learnc"
/* the learner answers within its busy wait per queued event; give it room */
#define MK_LEARNC_TIMEOUT_S 60

/* A growing byte buffer; free(data). */
typedef struct mk_learnc_buf {
    char *data;
    size_t len, cap;
} mk_learnc_buf;

static int mk_learnc_append(mk_learnc_buf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (d == NULL)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* Reads fd to its end into b; 0 or -1. */
static int mk_learnc_slurp(int fd, mk_learnc_buf *b)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (mk_learnc_append(b, chunk, (size_t)n) != 0)
            return -1;
    }
}

/* The user name percent-escaped into out (one request word); 0, or -1
 * when it does not fit. */
static int mk_learnc_escape(const char *user, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)user; *p; p++) {
        if (o + 4 > outlen)
            return -1;
        if (*p <= ' ' || *p == '%' || *p >= 0x7f) {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o] = '\0';
    return 0;
}

/* Runs the learner command itself with msg on its standard input (the
 * server could not answer after the message was read); its status. */
static int mk_learnc_run_learner(char **argv, const mk_learnc_buf *msg)
{
    int p[2];
    if (pipe(p) != 0) {
        fprintf(stderr, MK_PROG ": pipe: %s\n", strerror(errno));
        return EX_OSERR;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, MK_PROG ": fork: %s\n", strerror(errno));
        return EX_OSERR;
    }
    if (pid == 0) {
        close(p[1]);
        dup2(p[0], 0);
        close(p[0]);
        execv(argv[0], argv);
        fprintf(stderr, MK_PROG ": %s: %s\n", argv[0], strerror(errno));
        _exit(EX_UNAVAILABLE);
    }
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    mk_io_write_full(p[1], msg->data ? msg->data : "", msg->len);
    close(p[1]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return EX_OSERR;
    return WIFEXITED(status) ? WEXITSTATUS(status) : EX_SOFTWARE;
}

/* Asks the server; its exit status, or -1 when it did not answer (the
 * caller runs the learner itself). */
static int mk_learnc_ask(int fd, const char *cls, int global, const char *user,
                         const mk_learnc_buf *msg)
{
    char esc[1025], head[1200];
    if (mk_learnc_escape(user, esc, sizeof(esc)) != 0) {
        fprintf(stderr, MK_PROG ": the user name is too long\n");
        return EX_USAGE;
    }
    int n = snprintf(head, sizeof(head), "LEARN %s %d %s %zu\n", cls, global, esc, msg->len);
    if (mk_io_write_full(fd, head, (size_t)n) != 0 ||
        mk_io_write_full(fd, msg->data ? msg->data : "", msg->len) != 0)
        return -1;
    shutdown(fd, SHUT_WR);
    mk_learnc_buf answer = {0};
    if (mk_learnc_slurp(fd, &answer) != 0 || answer.len == 0 ||
        mk_learnc_append(&answer, "", 0) != 0) {
        free(answer.data);
        return -1;
    }
    answer.data[answer.len] = '\0';
    int status;
    size_t outlen, notelen;
    char *body = memchr(answer.data, '\n', answer.len);
    if (body == NULL || sscanf(answer.data, "%d %zu %zu", &status, &outlen, &notelen) != 3 ||
        (size_t)(answer.data + answer.len - (body + 1)) != outlen + notelen) {
        free(answer.data);
        return -1;
    }
    body++;
    fwrite(body, 1, outlen, stdout);
    fwrite(body + outlen, 1, notelen, stderr);
    free(answer.data);
    return status;
}

int main(int argc, char **argv)
{
    const char *sock = NULL;
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "-S") == 0) {
        sock = argv[i + 1];
        i += 2;
    }
    if (i < argc && strcmp(argv[i], "--") == 0)
        i++;
    if (sock == NULL || i >= argc || argv[i][0] != '/') {
        fprintf(stderr, "usage: " MK_PROG " -S SOCKET /path/to/mailkeeper-learn [-c CONF] "
                        "--spam|--ham|--forget --user USER [--global]\n");
        return EX_USAGE;
    }
    char **learner = argv + i;
    /* one event of one user, or the learner's own business */
    const char *cls = NULL, *user = NULL;
    int global = 0, plain = 1;
    for (int a = i + 1; a < argc; a++) {
        const char *s = argv[a];
        if (strcmp(s, "--spam") == 0 || strcmp(s, "--ham") == 0 || strcmp(s, "--forget") == 0) {
            if (cls != NULL)
                plain = 0; /* the learner says what is wrong */
            cls = s + 2;
        } else if (strcmp(s, "--user") == 0 && a + 1 < argc)
            user = argv[++a];
        else if (strncmp(s, "--user=", 7) == 0)
            user = s + 7;
        else if (strcmp(s, "--global") == 0)
            global = 1;
        else if ((strcmp(s, "-c") == 0 || strcmp(s, "--config") == 0) && a + 1 < argc)
            a++; /* the server was started with its configuration */
        else if (strcmp(s, "-") != 0)
            plain = 0;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = -1;
    if (plain && cls != NULL && user != NULL && *user && strlen(sock) < sizeof(sa.sun_path)) {
        strcpy(sa.sun_path, sock);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0) { /* no server: the learner itself, stdin untouched */
        execv(learner[0], learner);
        fprintf(stderr, MK_PROG ": %s: %s\n", learner[0], strerror(errno));
        return EX_UNAVAILABLE;
    }
    struct timeval limit = {.tv_sec = MK_LEARNC_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
    signal(SIGPIPE, SIG_IGN);
    mk_learnc_buf msg = {0};
    if (mk_learnc_slurp(0, &msg) != 0) {
        fprintf(stderr, MK_PROG ": stdin: %s\n", strerror(errno));
        return EX_IOERR;
    }
    int status = mk_learnc_ask(fd, cls, global, user, &msg);
    close(fd);
    if (status < 0) /* no answer: the learner itself, with the message read */
        status = mk_learnc_run_learner(learner, &msg);
    free(msg.data);
    return status;
}
