/*
 * mk_sendmail: hands a message to the local MTA through a
 * sendmail-compatible command (see mk_sendmail.h).
 */
#include "config.h"

#include "mk_sendmail.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mk_io.h"

int mk_sendmail_header_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

int mk_sendmail(const char *command, const char *env_from, const char *rcpt, const char *msg,
                size_t len, char *err, size_t errlen)
{
    char **argv = NULL;
    GError *e = NULL;
    if (!g_shell_parse_argv(command, NULL, &argv, &e)) {
        snprintf(err, errlen, "[webvault] sendmail: %s", e->message);
        g_error_free(e);
        return -1;
    }
    GPtrArray *args = g_ptr_array_new();
    for (char **a = argv; *a != NULL; a++)
        g_ptr_array_add(args, *a);
    g_ptr_array_add(args, "-i");
    if (env_from != NULL && *env_from) {
        g_ptr_array_add(args, "-f");
        g_ptr_array_add(args, (char *)env_from);
    }
    g_ptr_array_add(args, "--");
    g_ptr_array_add(args, (char *)rcpt);
    g_ptr_array_add(args, NULL);
    int in[2], rc = -1;
    if (pipe(in) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto out;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(in[0]);
        close(in[1]);
        goto out;
    }
    if (pid == 0) {
        dup2(in[0], 0);
        close(in[0]);
        close(in[1]);
        execv((char *)args->pdata[0], (char **)args->pdata);
        _exit(127);
    }
    close(in[0]);
    int wrote = mk_io_write_full(in[1], msg, len);
    close(in[1]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (wrote != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        snprintf(err, errlen, "%s: exit %d", (char *)args->pdata[0],
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    else
        rc = 0;
out:
    g_ptr_array_free(args, TRUE);
    g_strfreev(argv);
    return rc;
}
