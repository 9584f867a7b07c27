/*
 * mk_spool: a directory of event files (see mk_spool.h). Names sort by
 * time: "SECONDS.NANOSECONDS-PID.ev" (20 and 9 digits); a claimed file
 * gets ".PID.claim" appended.
 */
#include "config.h"

#include "mk_io.h"
#include "mk_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int mk_spool_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int mk_spool_put(const char *dir, const char *meta, const char *body, size_t len, char *err,
                 size_t errlen)
{
    if (strchr(meta, '\n') != NULL) {
        snprintf(err, errlen, "spool: the event's description holds a newline");
        return -1;
    }
    if (mkdir(dir, 0770) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "spool %s: %s", dir, strerror(errno));
        return -1;
    }
    char *tmp = g_build_filename(dir, "tmp-XXXXXX", NULL); /* mkstemp's template */
    int fd = g_mkstemp_full(tmp, O_WRONLY, 0660);
    int rc = -1;
    if (fd < 0) {
        snprintf(err, errlen, "spool %s: %s", dir, strerror(errno));
        g_free(tmp);
        return -1;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char *name = g_strdup_printf("%s/%020lld.%09ld-%ld.ev", dir, (long long)now.tv_sec, now.tv_nsec,
                                 (long)getpid());
    if (mk_io_write_full(fd, meta, strlen(meta)) != 0 || mk_io_write_full(fd, "\n", 1) != 0 ||
        mk_io_write_full(fd, body, len) != 0 || fsync(fd) != 0)
        snprintf(err, errlen, "spool %s: %s", tmp, strerror(errno));
    else if (rename(tmp, name) != 0)
        snprintf(err, errlen, "spool %s: %s", name, strerror(errno));
    else
        rc = 0;
    close(fd);
    if (rc != 0)
        unlink(tmp);
    else if (mk_spool_sync_dir(dir) != 0)
        rc = (snprintf(err, errlen, "spool %s: %s", dir, strerror(errno)), -1);
    g_free(tmp);
    g_free(name);
    return rc;
}

static int mk_spool_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of dir's events, sorted; claims older than MK_SPOOL_STALE_S
 * are given back first. NULL when dir cannot be read (errno). */
static GPtrArray *mk_spool_list(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return NULL;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    struct dirent *e;
    time_t now = time(NULL);
    while ((e = readdir(d)) != NULL) {
        const char *claim = strstr(e->d_name, ".ev.");
        if (claim != NULL && g_str_has_suffix(e->d_name, ".claim")) {
            char *path = g_build_filename(dir, e->d_name, NULL);
            struct stat st;
            if (stat(path, &st) == 0 && now - st.st_mtime > MK_SPOOL_STALE_S) {
                char *orig = g_strndup(e->d_name, (size_t)(claim - e->d_name) + 3);
                char *back = g_build_filename(dir, orig, NULL);
                if (rename(path, back) == 0)
                    g_ptr_array_add(names, orig);
                else
                    g_free(orig);
                g_free(back);
            }
            g_free(path);
        } else if (g_str_has_suffix(e->d_name, ".ev")) {
            g_ptr_array_add(names, g_strdup(e->d_name));
        }
    }
    closedir(d);
    if (names->len > 1)
        qsort(names->pdata, names->len, sizeof(gpointer), mk_spool_cmp);
    return names;
}

int mk_spool_drain(const char *dir,
                   int (*fn)(void *data, const char *meta, const char *body, size_t len),
                   void *data, size_t *done, char *err, size_t errlen)
{
    *done = 0;
    GPtrArray *names = mk_spool_list(dir);
    if (names == NULL) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "spool %s: %s", dir, strerror(errno));
        return -1;
    }
    int left = 0;
    for (guint i = 0; i < names->len; i++) {
        char *path = g_build_filename(dir, names->pdata[i], NULL);
        char *claimed = g_strdup_printf("%s.%ld.claim", path, (long)getpid());
        char *content = NULL;
        gsize len = 0;
        /* another consumer took it first: not ours */
        if (rename(path, claimed) != 0) {
            g_free(path);
            g_free(claimed);
            continue;
        }
        if (!g_file_get_contents(claimed, &content, &len, NULL)) {
            rename(claimed, path);
            left = 1;
        } else {
            char *nl = memchr(content, '\n', len);
            size_t mlen = nl != NULL ? (size_t)(nl - content) : len;
            char *meta = g_strndup(content, mlen);
            const char *body = nl != NULL ? nl + 1 : content + len;
            if (fn(data, meta, body, len - (size_t)(body - content)) == 0) {
                unlink(claimed);
                (*done)++;
            } else {
                rename(claimed, path);
                left = 1;
            }
            g_free(meta);
        }
        g_free(content);
        g_free(path);
        g_free(claimed);
        if (left)
            break;
    }
    g_ptr_array_free(names, TRUE);
    return left;
}
