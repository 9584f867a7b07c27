/* Unit tests of mk_msg: buffering with spill to disk, the single parse,
 * decoded text parts, parser complaints, and the shared MIME torture set. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mk_msg.h"
#include "mk_test.h"

static mk_msgbuf *buf_of(const char *text, size_t limit)
{
    mk_msgbuf *b = mk_msgbuf_new(limit, "/tmp");
    char err[256];
    assert_non_null(b);
    assert_int_equal(mk_msgbuf_append(b, text, strlen(text), err, sizeof(err)), 0);
    return b;
}

static void test_spill(void **state)
{
    char err[256];
    mk_msgbuf *b = mk_msgbuf_new(100, "/tmp");
    assert_non_null(b);
    char line[64];
    for (int i = 0; i < 50; i++) {
        int n = snprintf(line, sizeof(line), "line %02d\r\n", i);
        assert_int_equal(mk_msgbuf_append(b, line, (size_t)n, err, sizeof(err)), 0);
        if (i == 5)
            assert_false(mk_msgbuf_spilled(b));
    }
    assert_true(mk_msgbuf_spilled(b));
    assert_int_equal(mk_msgbuf_size(b), 50 * 9);
    GMimeStream *s = mk_msgbuf_stream(b);
    char all[1024];
    ssize_t r = g_mime_stream_read(s, all, sizeof(all));
    assert_int_equal(r, 50 * 9);
    assert_memory_equal(all, "line 00\r\nline 01\r\n", 18);
    assert_memory_equal(all + 49 * 9, "line 49\r\n", 9);
    g_object_unref(s);
    mk_msgbuf_free(b);

    mk_msgbuf *bad = mk_msgbuf_new(4, "/nonexistent-dir");
    assert_int_equal(mk_msgbuf_append(bad, "0123456789", 10, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent-dir"));
    mk_msgbuf_free(bad);
}

static void test_texts_decoded(void **state)
{
    const char *text = "From: a@example.org\r\n"
                       "Subject: t\r\n"
                       "MIME-Version: 1.0\r\n"
                       "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
                       "\r\n"
                       "--b1\r\n"
                       "Content-Type: text/plain; charset=iso-8859-1\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n"
                       "\r\n"
                       "caf=E9 cr=E8me\r\n"
                       "--b1\r\n"
                       "Content-Type: text/html; charset=utf-8\r\n"
                       "Content-Transfer-Encoding: base64\r\n"
                       "\r\n"
                       "PGI+aGVsbG88L2I+\r\n"
                       "--b1\r\n"
                       "Content-Type: application/octet-stream\r\n"
                       "Content-Disposition: attachment; filename=x.bin\r\n"
                       "\r\n"
                       "binary\r\n"
                       "--b1--\r\n";
    mk_msgbuf *b = buf_of(text, 1 << 20);
    mk_msg *m = mk_msg_parse(b);
    assert_non_null(m);
    assert_int_equal(m->n_texts, 2);
    assert_string_equal(m->texts[0].content_type, "text/plain");
    assert_non_null(strstr(m->texts[0].text, "caf\xc3\xa9 cr\xc3\xa8me"));
    assert_string_equal(m->texts[1].content_type, "text/html");
    assert_non_null(strstr(m->texts[1].text, "<b>hello</b>"));
    assert_int_equal(m->warnings & ~(1u << GMIME_WARN_UNENCODED_8BIT_HEADER), 0);
    assert_string_equal(g_mime_message_get_subject(m->mime), "t");
    mk_msg_free(m);
    mk_msgbuf_free(b);
}

static void test_spilled_parse(void **state)
{
    GString *s = g_string_new("From: a@example.org\r\nSubject: big\r\n\r\n");
    for (int i = 0; i < 20000; i++)
        g_string_append(s, "some body text of a large message\r\n");
    g_string_append(s, "the end marker\r\n");
    mk_msgbuf *b = buf_of(s->str, 4096);
    assert_true(mk_msgbuf_spilled(b));
    mk_msg *m = mk_msg_parse(b);
    assert_non_null(m);
    assert_int_equal(m->n_texts, 1);
    assert_non_null(strstr(m->texts[0].text, "the end marker"));
    assert_int_equal(m->size, s->len);
    mk_msg_free(m);
    mk_msgbuf_free(b);
    g_string_free(s, TRUE);
}

static void test_malformed(void **state)
{
    const char *text = "From: a@example.org\r\n"
                       "Content-Type: multipart/mixed\r\n"
                       "\r\n"
                       "no boundary at all\r\n";
    mk_msgbuf *b = buf_of(text, 1 << 20);
    mk_msg *m = mk_msg_parse(b);
    assert_non_null(m);
    assert_true(m->n_warnings > 0);
    assert_true(m->warnings & (1u << GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY));
    assert_true(m->critical);
    mk_msg_free(m);
    mk_msgbuf_free(b);

    b = buf_of("", 1 << 20); /* nothing at all still gives a message */
    m = mk_msg_parse(b);
    assert_non_null(m);
    assert_non_null(m->mime);
    mk_msg_free(m);
    mk_msgbuf_free(b);
}

static int setup(void **state)
{
    mk_msg_library_init();
    return 0;
}

static int teardown(void **state)
{
    mk_msg_library_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spill),
        cmocka_unit_test(test_texts_decoded),
        cmocka_unit_test(test_spilled_parse),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests_name("msg", tests, setup, teardown);
}
