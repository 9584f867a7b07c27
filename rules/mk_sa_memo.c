/*
 * mk_sa_memo: what was worked out from a pattern, kept from one start to
 * the next in a file of the cache directory, so a restart or reload with
 * the same rules reads it back instead of working it out again. Two
 * kinds are kept:
 *
 * - large-patterns: the forms that compiled of patterns too large for
 *   PCRE2 as written (a group written once and called, mk_sa_rx_shrink
 *   and mk_sa_rx_share). Finding a form takes a few dozen rewrites and
 *   failed compiles of patterns up to 224 KB (the stock obfuscation
 *   rules); read back, it is one compile.
 * - prefilter-plan: how the prefilter holds each pattern (its literals,
 *   its tail, its gate: mk_sa_prefilter.c), each found by parsing the
 *   pattern and scanning ordinary text with a database of its own.
 *
 * One file each, of records "KEY LENGTH\n" VALUE "\n": KEY the SHA-256
 * (hex) of the file's salt (its format's version and what else the
 * values depend on), the record's kind, the options and the pattern. A
 * damaged record ends the reading (the values after it are found again).
 * The file is written again, by rename, when a value was added or one
 * read was not used: it holds the values of the last rule set loaded, no
 * more.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mk_log.h"
#include "mk_sa_int.h"

typedef struct mk_sa_memo_val {
    char *value;
    int used;
} mk_sa_memo_val;

struct mk_sa_memo {
    char *path;     /* the file; NULL: keeps nothing */
    char *salt;     /* hashed into every key */
    GHashTable *by; /* key (hex) -> mk_sa_memo_val */
    int changed;    /* a value added */
};

static void mk_sa_memo_val_free(gpointer p)
{
    mk_sa_memo_val *f = p;
    g_free(f->value);
    g_free(f);
}

/* The key of pattern with opts, of kind, in m; g_free it. */
static char *mk_sa_memo_key(const mk_sa_memo *m, const char *kind, const char *pattern,
                            uint32_t opts)
{
    char num[32];
    snprintf(num, sizeof(num), "%u", (unsigned)opts);
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    const char *parts[] = {m->salt, kind, num, pattern};
    for (size_t i = 0; i < G_N_ELEMENTS(parts); i++)
        g_checksum_update(sum, (const guchar *)parts[i], (gssize)strlen(parts[i]) + 1);
    char *key = g_strdup(g_checksum_get_string(sum));
    g_checksum_free(sum);
    return key;
}

/* Reads the records of text (len bytes, NUL-terminated) into c, up to
 * the first damaged one. */
static void mk_sa_memo_read(mk_sa_memo *c, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while (end - p > 66) {
        if (strspn(p, "0123456789abcdef") != 64 || p[64] != ' ' || !g_ascii_isdigit(p[65]))
            break;
        char *after;
        guint64 n = g_ascii_strtoull(p + 65, &after, 10);
        if (*after != '\n' || n >= (guint64)(end - after - 1) || after[1 + n] != '\n' ||
            memchr(after + 1, '\0', n) != NULL)
            break;
        mk_sa_memo_val *f = g_new0(mk_sa_memo_val, 1);
        f->value = g_strndup(after + 1, n);
        g_hash_table_replace(c->by, g_strndup(p, 64), f);
        p = after + 1 + n + 1;
    }
}

mk_sa_memo *mk_sa_memo_open(const char *dir, const char *file, const char *salt)
{
    mk_sa_memo *c = g_new0(mk_sa_memo, 1);
    c->by = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, mk_sa_memo_val_free);
    c->salt = g_strdup(salt);
    if (dir == NULL)
        return c;
    c->path = g_build_filename(dir, file, NULL);
    gchar *text = NULL;
    gsize len = 0;
    if (g_file_get_contents(c->path, &text, &len, NULL))
        mk_sa_memo_read(c, text, len);
    g_free(text);
    return c;
}

const char *mk_sa_memo_get(mk_sa_memo *c, const char *kind, const char *pattern, uint32_t opts)
{
    if (c == NULL || c->path == NULL)
        return NULL;
    char *key = mk_sa_memo_key(c, kind, pattern, opts);
    mk_sa_memo_val *f = g_hash_table_lookup(c->by, key);
    g_free(key);
    if (f == NULL)
        return NULL;
    f->used = 1;
    return f->value;
}

void mk_sa_memo_put(mk_sa_memo *c, const char *kind, const char *pattern, uint32_t opts,
                    const char *value)
{
    if (c == NULL || c->path == NULL)
        return;
    mk_sa_memo_val *f = g_new0(mk_sa_memo_val, 1);
    f->value = g_strdup(value);
    f->used = 1;
    g_hash_table_replace(c->by, mk_sa_memo_key(c, kind, pattern, opts), f);
    c->changed = 1;
}

void mk_sa_memo_close(mk_sa_memo *c)
{
    if (c == NULL)
        return;
    GString *out = g_string_new(NULL);
    int dropped = 0;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, c->by);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const mk_sa_memo_val *f = v;
        if (!f->used) {
            dropped = 1;
            continue;
        }
        g_string_append_printf(out, "%s %zu\n%s\n", (const char *)k, strlen(f->value), f->value);
    }
    if (c->path != NULL && (c->changed || dropped)) {
        char *dir = g_path_get_dirname(c->path);
        if (out->len == 0)
            g_unlink(c->path);
        else if (g_mkdir_with_parents(dir, 0755) != 0 ||
                 !g_file_set_contents(c->path, out->str, (gssize)out->len, NULL))
            mk_log(LOG_DEBUG, NULL, "rules: cannot write %s", c->path);
        g_free(dir);
    }
    g_string_free(out, TRUE);
    g_hash_table_destroy(c->by);
    g_free(c->path);
    g_free(c->salt);
    g_free(c);
}
