/*
 * mk_mailsrc: files, mbox files, Maildirs and directories of messages.
 */
#include "config.h"

#include "mk_mailsrc.h"

#include <dirent.h>
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Takes off the blank line that separates a message from the next one in
 * an mbox: it is not part of the message. */
static void mk_mailsrc_unseparate(GString *msg, size_t last_line)
{
    if (last_line > 0 && last_line < msg->len &&
        (strcmp(msg->str + last_line, "\n") == 0 || strcmp(msg->str + last_line, "\r\n") == 0))
        g_string_truncate(msg, last_line);
}

/* An mbox whose first line (read already) was a "From " line: messages
 * start at "From " lines after a blank line, which is not theirs. */
static int mk_mailsrc_mbox(FILE *f, const char *path, mk_mailsrc_fn fn, void *data, int *stop)
{
    GString *msg = g_string_new(NULL);
    char *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;
    int blank = 0;
    size_t last_line = 0; /* where the last line of msg starts */
    char what[600];
    while (!*stop && (len = getline(&line, &cap, f)) >= 0) {
        if (blank && strncmp(line, "From ", 5) == 0) {
            mk_mailsrc_unseparate(msg, last_line);
            snprintf(what, sizeof(what), "%s, message %zu", path, ++n);
            *stop = fn(data, msg->str, msg->len, what);
            g_string_truncate(msg, 0);
            blank = 0;
            continue;
        }
        const char *p = line;
        size_t q = 0;
        while (p[q] == '>')
            q++;
        if (q > 0 && strncmp(p + q, "From ", 5) == 0)
            p++, len--;
        last_line = msg->len;
        g_string_append_len(msg, p, len);
        blank = line[0] == '\n' || (line[0] == '\r' && line[1] == '\n');
    }
    if (!*stop && msg->len > 0) {
        if (blank)
            mk_mailsrc_unseparate(msg, last_line);
        snprintf(what, sizeof(what), "%s, message %zu", path, ++n);
        *stop = fn(data, msg->str, msg->len, what);
    }
    free(line);
    g_string_free(msg, TRUE);
    return ferror(f) ? -1 : 0;
}

/* One file (or stdin): an mbox, or one message. */
static void mk_mailsrc_file(const char *prog, const char *path, mk_mailsrc_fn fn, void *data,
                            size_t *unreadable, int *stop)
{
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        (*unreadable)++;
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, f);
    int bad = 0;
    if (len >= 5 && strncmp(line, "From ", 5) == 0) {
        bad = mk_mailsrc_mbox(f, path, fn, data, stop) != 0;
    } else {
        GString *all = g_string_new_len(line, len > 0 ? len : 0);
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
            g_string_append_len(all, chunk, (gssize)n);
        bad = ferror(f) != 0;
        if (!bad)
            *stop = fn(data, all->str, all->len, is_stdin ? "stdin" : path);
        g_string_free(all, TRUE);
    }
    free(line);
    if (bad) {
        fprintf(stderr, "%s: %s: read error\n", prog, path);
        (*unreadable)++;
    }
    if (!is_stdin)
        fclose(f);
}

static int mk_mailsrc_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of dir, in name order, dot files left out. */
static GPtrArray *mk_mailsrc_list(const char *dir)
{
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    DIR *d = opendir(dir);
    if (d == NULL)
        return files;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *p = g_build_filename(dir, e->d_name, NULL);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            g_ptr_array_add(files, p);
        else
            g_free(p);
    }
    closedir(d);
    g_ptr_array_sort(files, mk_mailsrc_cmp);
    return files;
}

int mk_mailsrc_each(const char *prog, const char *path, mk_mailsrc_fn fn, void *data,
                    size_t *unreadable)
{
    int stop = 0;
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        char *cur = g_build_filename(path, "cur", NULL), *new = g_build_filename(path, "new", NULL);
        struct stat sc, sn;
        int maildir = stat(cur, &sc) == 0 && S_ISDIR(sc.st_mode) && stat(new, &sn) == 0 &&
                      S_ISDIR(sn.st_mode);
        const char *dirs[2] = {maildir ? cur : path, maildir ? new : NULL};
        for (int i = 0; i < 2 && dirs[i] != NULL && !stop; i++) {
            GPtrArray *files = mk_mailsrc_list(dirs[i]);
            for (guint k = 0; k < files->len && !stop; k++)
                mk_mailsrc_file(prog, files->pdata[k], fn, data, unreadable, &stop);
            g_ptr_array_unref(files);
        }
        g_free(cur);
        g_free(new);
        return stop;
    }
    mk_mailsrc_file(prog, path, fn, data, unreadable, &stop);
    return stop;
}

int mk_mailsrc_bytes(const char *prog, const char *bytes, size_t len, const char *what,
                     mk_mailsrc_fn fn, void *data, size_t *unreadable)
{
    if (len < 5 || strncmp(bytes, "From ", 5) != 0)
        return fn(data, bytes, len, what);
    int stop = 0;
    FILE *f = fmemopen((void *)bytes, len, "rb");
    char *line = NULL;
    size_t cap = 0;
    if (f == NULL || getline(&line, &cap, f) < 0 ||
        mk_mailsrc_mbox(f, what, fn, data, &stop) != 0) {
        fprintf(stderr, "%s: %s: read error\n", prog, what);
        (*unreadable)++;
    }
    free(line);
    if (f != NULL)
        fclose(f);
    return stop;
}
