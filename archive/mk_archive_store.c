/*
 * mk_archive_store: the archive's files, one per distinct message, named
 * by SHA-256 and compressed with zstd (see mk_archive.h).
 */
#include "config.h"

#include "mk_archive_int.h"
#include "mk_crypto.h"
#include "mk_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define MK_ARCHIVE_ZSTD_LEVEL 9
#define MK_ARCHIVE_SEALED     "MKA1" /* an encrypted file starts so */

char *mk_archive_file_incoming(const char *dir, const char *sha)
{
    char *name = g_strconcat(sha, ".zst", NULL);
    char *path = g_build_filename(dir, "store", "incoming", name, NULL);
    g_free(name);
    return path;
}

char *mk_archive_file_path(const char *dir, const char *sha)
{
    char sub[3] = {sha[0], sha[1], '\0'};
    char *name = g_strconcat(sha, ".zst", NULL);
    char *path = g_build_filename(dir, "store", sub, name, NULL);
    g_free(name);
    return path;
}

static int mk_archive_sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Makes dir (mode 0750) if missing; 0 or -1. */
static int mk_archive_mkdir(const char *path)
{
    return mkdir(path, 0750) == 0 || errno == EEXIST ? 0 : -1;
}

int mk_archive_file_write(const char *dir, const unsigned char *key, const char *sha,
                          const char *data, size_t len, size_t *stored, char *err, size_t errlen)
{
    char *final = mk_archive_file_path(dir, sha);
    char *path = mk_archive_file_incoming(dir, sha);
    char *sub = g_path_get_dirname(path);
    char *store = g_path_get_dirname(sub);
    struct stat st;
    int rc = -1, fd = -1;
    char *tmp = NULL;
    void *z = NULL;
    /* stored before (in place, or waiting in incoming/): once is enough */
    if (stat(final, &st) == 0 || stat(path, &st) == 0) {
        *stored = (size_t)st.st_size;
        rc = 0;
        goto out;
    }
    if (mk_archive_mkdir(store) != 0 || mk_archive_mkdir(sub) != 0) {
        snprintf(err, errlen, "%s: %s", sub, strerror(errno));
        goto out;
    }
    size_t cap = ZSTD_compressBound(len);
    z = g_malloc(cap);
    size_t zlen = ZSTD_compress(z, cap, data, len, MK_ARCHIVE_ZSTD_LEVEL);
    if (ZSTD_isError(zlen)) {
        snprintf(err, errlen, "zstd: %s", ZSTD_getErrorName(zlen));
        goto out;
    }
    if (key != NULL) { /* "MKA1", then AES-256-GCM of the zstd frame, bound to its name */
        unsigned char *sealed = g_malloc(4 + zlen + MK_GCM_OVERHEAD);
        memcpy(sealed, MK_ARCHIVE_SEALED, 4);
        long n = mk_gcm_seal(key, sha, strlen(sha), z, zlen, sealed + 4);
        g_free(z);
        z = sealed;
        if (n < 0) {
            snprintf(err, errlen, "AES-256-GCM: cannot encrypt");
            goto out;
        }
        zlen = (size_t)n + 4;
    }
    tmp = g_strconcat(sub, "/.tmp-XXXXXX", NULL); /* mkstemp's template */
    fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0440);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", sub, strerror(errno));
        goto out;
    }
    if (mk_io_write_full(fd, z, zlen) != 0) {
        snprintf(err, errlen, "%s: %s", tmp, errno ? strerror(errno) : "nothing written");
        goto out;
    }
    if (fchmod(fd, 0440) != 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    /* link(), not rename(): a file of that name that appeared meanwhile (the
     * same message, stored by another process) is kept as it is */
    if (link(tmp, path) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    unlink(tmp);
    if (mk_archive_sync_dir(sub) != 0) {
        snprintf(err, errlen, "%s: %s", sub, strerror(errno));
        goto out;
    }
    *stored = zlen;
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    } else if (rc != 0 && tmp != NULL) {
        unlink(tmp);
    }
    g_free(z);
    g_free(tmp);
    g_free(store);
    g_free(sub);
    g_free(path);
    g_free(final);
    return rc;
}

int mk_archive_file_settle(const char *dir, const char *sha, char *err, size_t errlen)
{
    char *from = mk_archive_file_incoming(dir, sha);
    char *to = mk_archive_file_path(dir, sha);
    char *sub = g_path_get_dirname(to), *in = g_path_get_dirname(from);
    int rc = 0;
    if (access(from, F_OK) == 0) {
        if (mk_archive_mkdir(sub) != 0 || rename(from, to) != 0 || mk_archive_sync_dir(sub) != 0 ||
            mk_archive_sync_dir(in) != 0) {
            snprintf(err, errlen, "%s: %s", to, strerror(errno));
            rc = -1;
        }
    }
    g_free(in);
    g_free(sub);
    g_free(to);
    g_free(from);
    return rc;
}

void mk_archive_file_remove(const char *dir, const char *sha)
{
    char *paths[2] = {mk_archive_file_path(dir, sha), mk_archive_file_incoming(dir, sha)};
    for (int i = 0; i < 2; i++) {
        if (unlink(paths[i]) == 0) {
            char *sub = g_path_get_dirname(paths[i]);
            mk_archive_sync_dir(sub);
            g_free(sub);
        }
        g_free(paths[i]);
    }
}

int mk_archive_file_read(const char *dir, const unsigned char *key, const char *sha, char **data,
                         size_t *len, char *err, size_t errlen)
{
    char *path = mk_archive_file_path(dir, sha);
    gchar *z = NULL;
    gsize zlen = 0;
    GError *gerr = NULL;
    int rc = -1;
    *data = NULL;
    if (access(path, F_OK) != 0) { /* indexed, not moved into place yet (a crash between) */
        char *in = mk_archive_file_incoming(dir, sha);
        if (access(in, F_OK) == 0) {
            g_free(path);
            path = in;
        } else {
            g_free(in);
        }
    }
    if (!g_file_get_contents(path, &z, &zlen, &gerr)) {
        snprintf(err, errlen, "%s", gerr->message);
        errno = gerr->code == G_FILE_ERROR_NOENT ? ENOENT : EIO;
        g_error_free(gerr);
        goto out;
    }
    if (zlen >= 4 && memcmp(z, MK_ARCHIVE_SEALED, 4) == 0) {
        if (key == NULL) {
            snprintf(err, errlen, "%s: encrypted, and no [archive] key_file is configured", path);
            errno = EACCES;
            goto out;
        }
        gchar *plain = g_malloc(zlen);
        long n = mk_gcm_open(key, sha, strlen(sha), (unsigned char *)z + 4, zlen - 4,
                             (unsigned char *)plain);
        if (n < 0) {
            snprintf(err, errlen,
                     "%s: does not decrypt with the configured key (changed, or "
                     "another key)",
                     path);
            g_free(plain);
            errno = EIO;
            goto out;
        }
        g_free(z);
        z = plain;
        zlen = (gsize)n;
    }
    unsigned long long size = ZSTD_getFrameContentSize(z, zlen);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (1ULL << 34)) {
        snprintf(err, errlen, "%s: not a zstd frame of known size", path);
        errno = EIO;
        goto out;
    }
    *data = g_malloc((gsize)size + 1);
    size_t n = ZSTD_decompress(*data, (size_t)size, z, zlen);
    if (ZSTD_isError(n) || n != size) {
        snprintf(err, errlen, "%s: zstd: %s", path,
                 ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short content");
        g_free(*data);
        *data = NULL;
        errno = EIO;
        goto out;
    }
    (*data)[n] = '\0';
    *len = n;
    rc = 0;
out:
    g_free(z);
    g_free(path);
    return rc;
}

/* Calls fn with the SHA of each file (NAME.zst) of one directory. */
static void mk_archive_file_each_in(const char *path, void (*fn)(void *data, const char *sha),
                                    void *data)
{
    DIR *d = opendir(path);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (g_str_has_suffix(e->d_name, ".zst")) {
            char *sha = g_strndup(e->d_name, strlen(e->d_name) - 4);
            fn(data, sha);
            g_free(sha);
        }
    }
    if (d != NULL)
        closedir(d);
}

void mk_archive_file_each(const char *dir, int incoming, void (*fn)(void *data, const char *sha),
                          void *data)
{
    char *store = g_build_filename(dir, "store", NULL);
    if (incoming) {
        char *in = g_build_filename(store, "incoming", NULL);
        mk_archive_file_each_in(in, fn, data);
        g_free(in);
        g_free(store);
        return;
    }
    DIR *d = opendir(store);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strlen(e->d_name) != 2)
            continue;
        char *sub = g_build_filename(store, e->d_name, NULL);
        mk_archive_file_each_in(sub, fn, data);
        g_free(sub);
    }
    if (d != NULL)
        closedir(d);
    g_free(store);
}
