/*
 * mk_archive_int: what the archive's files share inside archive/.
 */
#ifndef MK_ARCHIVE_INT_H
#define MK_ARCHIVE_INT_H

#include <stddef.h>

/* DIR/store/XX/SHA.zst; g_free it. */
char *mk_archive_file_path(const char *dir, const char *sha);

/* Writes data, zstd-compressed, as the file of sha, unless it is there
 * already (the same message stored before): a new file, synced, renamed
 * into place, its directory synced, made read-only. *stored: the file's
 * size. 0, or -1 with why. */
int mk_archive_file_write(const char *dir, const char *sha, const char *data, size_t len,
                          size_t *stored, char *err, size_t errlen);

/* The content of sha's file, decompressed (g_free *data); nothing checked.
 * 0, or -1 with why (missing: errno ENOENT). */
int mk_archive_file_read(const char *dir, const char *sha, char **data, size_t *len, char *err,
                         size_t errlen);

/* Calls fn with the name (SHA) of every file in the store. */
void mk_archive_file_each(const char *dir, void (*fn)(void *data, const char *sha), void *data);

#endif
