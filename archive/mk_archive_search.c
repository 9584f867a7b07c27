/*
 * mk_archive_search: a compliance officer's query as SQL over the index
 * (see mk_archive_search in mk_archive.h). Every value is bound, never
 * pasted into the statement.
 */
#include "config.h"

#include <glib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "mk_archive.h"
#include "mk_archive_int.h"

/* A date YYYY-MM-DD as the Unix time of its midnight (UTC); -1 if not one. */
static long long mk_archive_day(const char *s)
{
    int y, m, d;
    char tail;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    GDateTime *t = g_date_time_new_utc(y, m, d, 0, 0, 0);
    if (t == NULL)
        return -1;
    long long u = g_date_time_to_unix(t);
    g_date_time_unref(t);
    return u;
}

/* "%text%" for LIKE, with LIKE's own characters escaped (ESCAPE '\'). */
static char *mk_archive_like(const char *text)
{
    GString *s = g_string_new("%");
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            g_string_append_c(s, '\\');
        g_string_append_c(s, *p);
    }
    g_string_append_c(s, '%');
    return g_string_free(s, FALSE);
}

/* FTS5 query of free words: each a quoted string, all required. */
static void mk_archive_fts_add(GString *fts, const char *word)
{
    g_string_append_printf(fts, "%s\"", fts->len ? " AND " : "");
    for (const char *p = word; *p != '\0'; p++) {
        if (*p == '"')
            g_string_append_c(fts, '"');
        g_string_append_c(fts, *p);
    }
    g_string_append_c(fts, '"');
}

long mk_archive_search(mk_archive *a, const char *query, long limit,
                       void (*fn)(void *data, const mk_archive_hit *hit), void *data, char *err,
                       size_t errlen)
{
    gchar **words = NULL;
    GError *gerr = NULL;
    char *trimmed = g_strstrip(g_strdup(query != NULL ? query : ""));
    int empty = *trimmed == '\0';
    g_free(trimmed);
    if (empty) {
        words = g_new0(gchar *, 1);
    } else if (!g_shell_parse_argv(query, NULL, &words, &gerr)) {
        snprintf(err, errlen, "the query: %s", gerr->message);
        g_error_free(gerr);
        return -1;
    }
    GString *where = g_string_new("1");
    GString *fts = g_string_new(NULL);
    GPtrArray *binds = g_ptr_array_new_with_free_func(g_free);
    long n = -1;
    for (gchar **w = words; *w != NULL; w++) {
        const char *colon = strchr(*w, ':');
        char *key = colon ? g_ascii_strdown(*w, colon - *w) : NULL;
        const char *val = colon ? colon + 1 : *w;
        int idx = (int)binds->len + 1;
        if (key == NULL || (strcmp(key, "from") && strcmp(key, "to") && strcmp(key, "subject") &&
                            strcmp(key, "after") && strcmp(key, "before") && strcmp(key, "has") &&
                            strcmp(key, "id"))) {
            mk_archive_fts_add(fts, *w);
        } else if (*val == '\0') {
            snprintf(err, errlen, "the query: '%s' needs a value after the colon", *w);
            g_free(key);
            goto out;
        } else if (strcmp(key, "from") == 0) {
            g_ptr_array_add(binds, mk_archive_like(val));
            g_string_append_printf(where,
                                   " AND (hdr_from LIKE ?%d ESCAPE '\\' OR env_from LIKE ?%d "
                                   "ESCAPE '\\')",
                                   idx, idx);
        } else if (strcmp(key, "to") == 0) {
            g_ptr_array_add(binds, mk_archive_like(val));
            g_string_append_printf(where,
                                   " AND (hdr_to LIKE ?%d ESCAPE '\\' OR hdr_cc LIKE ?%d ESCAPE "
                                   "'\\' OR EXISTS (SELECT 1 FROM rcpts WHERE msg = id AND rcpt "
                                   "LIKE ?%d ESCAPE '\\'))",
                                   idx, idx, idx);
        } else if (strcmp(key, "subject") == 0) {
            g_ptr_array_add(binds, mk_archive_like(val));
            g_string_append_printf(where, " AND subject LIKE ?%d ESCAPE '\\'", idx);
        } else if (strcmp(key, "after") == 0 || strcmp(key, "before") == 0) {
            long long day = mk_archive_day(val);
            if (day < 0) {
                snprintf(err, errlen, "the query: '%s' is not a date (YYYY-MM-DD)", *w);
                g_free(key);
                goto out;
            }
            /* as mail searches read them: after: from that day on (its
             * midnight, UTC); before: until that day's midnight */
            int after = strcmp(key, "after") == 0;
            g_ptr_array_add(binds, g_strdup_printf("%lld", day));
            g_string_append_printf(where, " AND arrival %s CAST(?%d AS INTEGER)",
                                   after ? ">=" : "<", idx);
        } else if (strcmp(key, "has") == 0) {
            if (g_ascii_strcasecmp(val, "attachment") != 0) {
                snprintf(err, errlen, "the query: '%s': has: takes 'attachment'", *w);
                g_free(key);
                goto out;
            }
            g_string_append(where, " AND attachments != ''");
        } else {
            char *end;
            long long id = g_ascii_strtoll(val, &end, 10);
            if (*end != '\0' || id <= 0) {
                snprintf(err, errlen, "the query: '%s' is not an entry number", *w);
                g_free(key);
                goto out;
            }
            g_ptr_array_add(binds, g_strdup_printf("%lld", id));
            g_string_append_printf(where, " AND id = CAST(?%d AS INTEGER)", idx);
        }
        g_free(key);
    }
    if (fts->len > 0) {
        g_ptr_array_add(binds, g_strdup(fts->str));
        g_string_append_printf(
            where, " AND id IN (SELECT rowid FROM fulltext WHERE fulltext MATCH ?%u)", binds->len);
    }
    char *sql = g_strdup_printf(
        "SELECT id, size, arrival, retain_until, sha256, direction, env_from, "
        "(SELECT group_concat(rcpt, ', ') FROM rcpts WHERE msg = id), hdr_from, hdr_to, hdr_cc, "
        "subject, date, message_id, attachments FROM messages WHERE %s ORDER BY arrival, id%s",
        where->str, limit > 0 ? " LIMIT ?999" : "");
    sqlite3_stmt *st = NULL;
    sqlite3 *db = mk_archive_db(a);
    mk_archive_lock(a);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "index: %s", sqlite3_errmsg(db));
    } else {
        for (guint i = 0; i < binds->len; i++)
            sqlite3_bind_text(st, (int)i + 1, binds->pdata[i], -1, SQLITE_STATIC);
        if (limit > 0)
            sqlite3_bind_int64(st, 999, limit);
        n = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
#define T(i)                                                                                       \
    ((const char *)sqlite3_column_text(st, i) ? (const char *)sqlite3_column_text(st, i) : "")
            mk_archive_hit h = {.id = sqlite3_column_int64(st, 0),
                                .size = sqlite3_column_int64(st, 1),
                                .arrival = (time_t)sqlite3_column_int64(st, 2),
                                .retain_until = (time_t)sqlite3_column_int64(st, 3),
                                .sha256 = T(4),
                                .direction = T(5),
                                .env_from = T(6),
                                .rcpts = T(7),
                                .from = T(8),
                                .to = T(9),
                                .cc = T(10),
                                .subject = T(11),
                                .date = T(12),
                                .message_id = T(13),
                                .attachments = T(14)};
#undef T
            fn(data, &h);
            n++;
        }
        if (rc != SQLITE_DONE) {
            snprintf(err, errlen, "index: %s", sqlite3_errmsg(db));
            n = -1;
        }
    }
    sqlite3_finalize(st);
    mk_archive_unlock(a);
    g_free(sql);
out:
    g_ptr_array_free(binds, TRUE);
    g_string_free(fts, TRUE);
    g_string_free(where, TRUE);
    g_strfreev(words);
    return n;
}
