/*
 * mk_archive_int: what the archive's files share inside archive/.
 */
#ifndef MK_ARCHIVE_INT_H
#define MK_ARCHIVE_INT_H

#include <sqlite3.h>
#include <stddef.h>

struct mk_archive;

/* Appends a link to a chain table ("chain", or "audit" for the audit
 * log): kind, the entry it is about (or 0) and its record; its hash covers
 * the record and the hash of the link before. Inside the caller's
 * transaction. 0, or -1 with why. */
int mk_archive_link(struct mk_archive *a, const char *table, const char *kind, long long msg,
                    const char *record, char *err, size_t errlen);

/* After a transaction that made links: committed, each chain's last link
 * is written to DIR/chain.head or DIR/audit.head (an anchor outside the
 * index, so that verify sees the newest links deleted); else forgotten. */
void mk_archive_heads(struct mk_archive *a, int committed);

/* The index's handle, the archive's directory, and the lock (recursive)
 * around the handle's use. */
sqlite3 *mk_archive_db(struct mk_archive *a);
const char *mk_archive_dir(struct mk_archive *a);
void mk_archive_lock(struct mk_archive *a);
void mk_archive_unlock(struct mk_archive *a);

/* DIR/store/XX/SHA.zst; g_free it. */
char *mk_archive_file_path(const char *dir, const char *sha);

/* DIR/store/incoming/SHA.zst: where a file waits until its entry is
 * committed; g_free it. */
char *mk_archive_file_incoming(const char *dir, const char *sha);

/* Writes data, zstd-compressed, as the file of sha in incoming/, unless it
 * is there or in place already (the same message stored before): a new
 * file, synced, linked into incoming/, its directory synced, read-only.
 * With key (32 bytes, or NULL) the file is encrypted with AES-256-GCM,
 * its name (sha) bound to it. *stored: the file's size. 0, or -1 with why. */
int mk_archive_file_write(const char *dir, const unsigned char *key, const char *sha,
                          const char *data, size_t len, size_t *stored, char *err, size_t errlen);

/* Moves sha's file from incoming/ into place (once its entry is
 * committed); nothing to do when it is there. 0, or -1 with why. */
int mk_archive_file_settle(const char *dir, const char *sha, char *err, size_t errlen);

/* The content of sha's file (in place, or in incoming/), decompressed
 * (g_free *data); nothing checked.
 * 0, or -1 with why (missing: errno ENOENT). */
int mk_archive_file_read(const char *dir, const unsigned char *key, const char *sha, char **data,
                         size_t *len, char *err, size_t errlen);

/* Removes sha's file (a purge), wherever it is. */
void mk_archive_file_remove(const char *dir, const char *sha);

/* Calls fn with the name (SHA) of every file in place in the store, or
 * (incoming) of every file waiting in incoming/. */
void mk_archive_file_each(const char *dir, int incoming, void (*fn)(void *data, const char *sha),
                          void *data);

#endif
