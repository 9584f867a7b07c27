/* Unit tests of the compliance archive: each message stored once under
 * its SHA-256 and read back byte for byte; verify finds nothing in an
 * intact archive and names each kind of tampering: a changed byte in a
 * file, a deleted file, an added file, an edited index row, an edited
 * retention date, an added row, a deleted or reordered chain link. */
#include "config.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mk_archive.h"
#include "mk_crypto.h"
#include "mk_test.h"

static const char *msg1 =
    "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\n"
    "Cc: carol@example.net\r\nSubject: =?utf-8?q?Quarterly_r=C3=A9sults?=\r\n"
    "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <q4@example.org>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: text/plain\r\n\r\nThe numbers are in.\r\n"
    "--b\r\nContent-Type: application/pdf\r\n"
    "Content-Disposition: attachment; filename=\"q4.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";
static const char *msg2 = "From: dave@example.com\r\nSubject: lunch\r\n\r\nNoon?\r\n";

typedef struct found {
    GString *text;
    int n;
} found;

static void collect(void *data, const char *what)
{
    found *f = data;
    g_string_append_printf(f->text, "%s\n", what);
    f->n += strncmp(what, "note: ", 6) != 0;
}

/* Runs verify; the problems' text in f. */
static long verify(mk_archive *a, found *f)
{
    char err[256];
    long long entries;
    g_string_truncate(f->text, 0);
    f->n = 0;
    long n = mk_archive_verify(a, collect, f, &entries, err, sizeof(err));
    assert_int_equal(n, f->n);
    return n;
}

static char *file_of(const char *dir, const char *data)
{
    char sha[MK_SHA256_HEX];
    mk_sha256_hex(data, strlen(data), sha);
    char sub[3] = {sha[0], sha[1], 0};
    char *name = g_strconcat(sha, ".zst", NULL);
    char *p = g_build_filename(dir, "store", sub, name, NULL);
    g_free(name);
    return p;
}

static void sql(const char *dir, const char *stmt)
{
    char *path = g_build_filename(dir, "index.db", NULL);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, stmt, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    g_free(path);
}

/* A new archive in a new directory (*dir, g_free'd by archive_free). */
static mk_archive *archive_new(char **dir)
{
    char err[512];
    *dir = g_dir_make_tmp("mk-archive-XXXXXX", NULL); /* mkdtemp's template */
    assert_non_null(*dir);
    mk_archive *a = mk_archive_open(*dir, 1, err, sizeof(err));
    assert_non_null(a);
    return a;
}

/* Closes it and removes its directory (its files are read-only). */
static void archive_free(mk_archive *a, char *dir)
{
    mk_archive_close(a);
    char *cmd = g_strdup_printf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    g_free(cmd);
    g_free(dir);
}

static void test_archive(void **state)
{
    char *dir;
    char err[512];
    mk_archive *a = archive_new(&dir);
    const char *rcpts[] = {"bob@example.net", "carol@example.net"};
    mk_archive_env env = {"alice@example.org", rcpts, 2, "out", 1000000000, 1220924800, NULL};
    long long id1, id2, id3;
    assert_int_equal(mk_archive_put(a, msg1, strlen(msg1), &env, &id1, err, sizeof(err)), 0);
    /* the same message again (another recipient's copy): one file, two entries */
    env.rcpts = rcpts + 1;
    env.n_rcpts = 1;
    env.direction = "in";
    assert_int_equal(mk_archive_put(a, msg1, strlen(msg1), &env, &id2, err, sizeof(err)), 0);
    env.arrival = 0;
    assert_int_equal(mk_archive_put(a, msg2, strlen(msg2), &env, &id3, err, sizeof(err)), 0);
    assert_true(id1 < id2 && id2 < id3);
    mk_archive_stats st;
    assert_int_equal(mk_archive_get_stats(a, &st), 0);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.files, 2);
    assert_int_equal(st.first, 1000000000);
    /* read back byte for byte; the file is read-only */
    char *data;
    size_t len;
    assert_int_equal(mk_archive_get(a, id2, &data, &len, err, sizeof(err)), 0);
    assert_int_equal(len, strlen(msg1));
    assert_memory_equal(data, msg1, len);
    g_free(data);
    char *f1 = file_of(dir, msg1), *f2 = file_of(dir, msg2);
    struct stat sb;
    assert_int_equal(stat(f1, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0440);
    /* the fields the index keeps, and the text in full text */
    char *path = g_build_filename(dir, "index.db", NULL);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT subject, hdr_from, hdr_cc, attachments, message_id "
                                        "FROM messages WHERE id = ?1",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(q, 1, id1);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "Quarterly r\xc3\xa9sults");
    assert_non_null(strstr((const char *)sqlite3_column_text(q, 1), "alice@example.org"));
    assert_string_equal((const char *)sqlite3_column_text(q, 2), "carol@example.net");
    assert_string_equal((const char *)sqlite3_column_text(q, 3), "q4.pdf");
    assert_string_equal((const char *)sqlite3_column_text(q, 4), "q4@example.org");
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM fulltext WHERE fulltext MATCH "
                                        "'numbers'",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 2);
    sqlite3_finalize(q);
    sqlite3_close(db);
    g_free(path);

    found f = {g_string_new(NULL), 0};
    assert_int_equal(verify(a, &f), 0);
    /* a changed byte in a file */
    chmod(f2, 0640);
    FILE *fp = fopen(f2, "r+b");
    assert_non_null(fp);
    fseek(fp, 8, SEEK_SET);
    fputc('!', fp);
    fclose(fp);
    assert_int_equal(verify(a, &f), 1);
    assert_non_null(strstr(f.text->str, "message 3: file"));
    /* ... and deleted: named as missing */
    g_unlink(f2);
    assert_int_equal(verify(a, &f), 1);
    assert_non_null(strstr(f.text->str, "missing"));
    /* an added file */
    char *extra = g_build_filename(dir, "store", "00", NULL);
    g_mkdir(extra, 0750);
    char *extra_file = g_build_filename(extra, "00ff.zst", NULL);
    g_file_set_contents(extra_file, "x", 1, NULL);
    assert_int_equal(verify(a, &f), 2);
    assert_non_null(strstr(f.text->str, "file 00ff: added"));
    /* an edited row, an edited retention date */
    sql(dir, "UPDATE messages SET subject = 'harmless' WHERE id = 1;"
             "UPDATE messages SET retain_until = 0 WHERE id = 2");
    assert_int_equal(verify(a, &f), 4);
    assert_non_null(strstr(f.text->str, "message 1: its index entry was edited"));
    assert_non_null(strstr(f.text->str, "message 2: its retention date was edited"));
    /* two links swapped (reordered) */
    sql(dir, "UPDATE chain SET seq = 99 WHERE seq = 2; UPDATE chain SET seq = 2 WHERE seq = 3;"
             "UPDATE chain SET seq = 3 WHERE seq = 99");
    assert_true(verify(a, &f) >= 5);
    assert_non_null(strstr(f.text->str, "does not follow"));
    /* a deleted link, an added row */
    sql(dir, "DELETE FROM chain WHERE seq = 2;"
             "INSERT INTO messages SELECT 7, sha256, size, arrival, direction, env_from, hdr_from,"
             " hdr_to, hdr_cc, subject, date, message_id, attachments, retain_until FROM messages"
             " WHERE id = 1");
    verify(a, &f);
    assert_non_null(strstr(f.text->str, "chain: link 2 missing"));
    assert_non_null(strstr(f.text->str, "message 7: added to the index outside the chain"));
    g_string_free(f.text, TRUE);
    archive_free(a, dir);
    g_free(extra_file);
    g_free(extra);
    g_free(f1);
    g_free(f2);
}

/* The newest entries deleted together with their links leave the chain
 * whole: the head file, written at each commit, names what is gone. */
static void test_archive_truncated(void **state)
{
    char *dir;
    char err[512];
    mk_archive *a = archive_new(&dir);
    const char *rcpts[] = {"bob@example.net"};
    mk_archive_env env = {"alice@example.org", rcpts, 1, "in", 1000000000, 1220924800, NULL};
    long long id;
    assert_int_equal(mk_archive_put(a, msg1, strlen(msg1), &env, &id, err, sizeof(err)), 0);
    assert_int_equal(mk_archive_put(a, msg2, strlen(msg2), &env, &id, err, sizeof(err)), 0);
    found f = {g_string_new(NULL), 0};
    assert_int_equal(verify(a, &f), 0);
    sql(dir, "DELETE FROM rcpts WHERE msg = 2; DELETE FROM fulltext WHERE rowid = 2;"
             "DELETE FROM messages WHERE id = 2; DELETE FROM chain WHERE seq = 2");
    assert_true(verify(a, &f) >= 1);
    assert_non_null(strstr(f.text->str, "chain: link 2, its newest committed one, is missing"));
    g_string_free(f.text, TRUE);
    archive_free(a, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_archive),
        cmocka_unit_test(test_archive_truncated),
    };
    return cmocka_run_group_tests_name("archive", tests, mk_test_libs_up, mk_test_libs_down);
}
