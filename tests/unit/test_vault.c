/* Unit tests of the vault store: a message sealed and opened again by its
 * link, byte for byte, with its metadata; nothing of it (body, subject,
 * recipients, sender) readable anywhere in the vault's files; a forged,
 * cut or altered link opens nothing; a blob moved to another row does not
 * open; expiry, purge and revocation (by the postmaster, by the sender's
 * token, not by a wrong one). */
#include "config.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "mk_crypto.h"
#include "mk_test.h"
#include "mk_vault.h"
#include "mk_vault_notice.h"

static const char *msg = "From: Alice Example <alice@example.org>\r\nTo: bob@example.net\r\n"
                         "Subject: [Secure] Payroll-XYZZY\r\nMessage-ID: <s1@example.org>\r\n\r\n"
                         "The salary of PLAINTEXT-MARKER-4711 is attached.\r\n";

static mk_vault_meta meta_of(char **rcpts)
{
    return (mk_vault_meta){.sender = "alice@example.org",
                           .from = "Alice Example <alice@example.org>",
                           .subject = "Payroll-XYZZY",
                           .rcpts = rcpts,
                           .date = 1796112000};
}

static char *new_dir(void)
{
    return g_dir_make_tmp("mk-vault-XXXXXX", NULL); /* mkdtemp's template, not a placeholder */
}

static void rm_tree(const char *dir)
{
    char *cmd = g_strdup_printf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    g_free(cmd);
}

/* Whether needle appears in any file under dir. */
static int found_on_disk(const char *dir, const char *needle)
{
    char *cmd = g_strdup_printf("grep -rqaF '%s' '%s'", needle, dir);
    int rc = system(cmd);
    g_free(cmd);
    return rc == 0;
}

static void test_seal_open(void **state)
{
    (void)state;
    char *dir = new_dir(), err[256];
    mk_vault *v = mk_vault_open(dir, 1, err, sizeof(err));
    assert_non_null(v);
    char *rcpts[] = {"bob@example.net", "carol-RCPT@example.net", NULL};
    mk_vault_meta m = meta_of(rcpts);
    char link[MK_VAULT_LINK], revoke[MK_VAULT_LINK], id[MK_VAULT_ID];
    assert_int_equal(
        mk_vault_put(v, &m, msg, strlen(msg), 1000, 5000, link, revoke, id, err, sizeof(err)), 0);
    assert_int_equal(strlen(link), 43);
    char want[MK_VAULT_ID];
    assert_int_equal(mk_vault_link_id(link, want), 0);
    assert_string_equal(id, want);
    mk_vault_meta *got = NULL;
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(mk_vault_get(v, link, 2000, &got, &body, &len, err, sizeof(err)), MK_VAULT_OK);
    assert_int_equal(len, strlen(msg));
    assert_memory_equal(body, msg, len);
    assert_string_equal(got->subject, "Payroll-XYZZY");
    assert_string_equal(got->sender, "alice@example.org");
    assert_string_equal(got->rcpts[1], "carol-RCPT@example.net");
    assert_null(got->rcpts[2]);
    assert_int_equal(got->date, 1796112000);
    mk_vault_meta_free(got);
    g_free(body);
    /* a stolen directory and database say nothing of the message */
    mk_vault_close(v);
    assert_false(found_on_disk(dir, "PLAINTEXT-MARKER-4711"));
    assert_false(found_on_disk(dir, "Payroll-XYZZY"));
    assert_false(found_on_disk(dir, "carol-RCPT"));
    assert_false(found_on_disk(dir, "alice@example.org"));
    assert_false(found_on_disk(dir, link));
    assert_false(found_on_disk(dir, revoke));
    rm_tree(dir);
    g_free(dir);
}

static void test_bad_links(void **state)
{
    (void)state;
    char *dir = new_dir(), err[256];
    mk_vault *v = mk_vault_open(dir, 1, err, sizeof(err));
    mk_vault_meta m = meta_of(NULL);
    char link[MK_VAULT_LINK], link2[MK_VAULT_LINK], revoke[MK_VAULT_LINK], id[MK_VAULT_ID],
        id2[MK_VAULT_ID];
    assert_int_equal(
        mk_vault_put(v, &m, msg, strlen(msg), 1000, 5000, link, revoke, id, err, sizeof(err)), 0);
    assert_int_equal(
        mk_vault_put(v, &m, "other", 5, 1000, 5000, link2, revoke, id2, err, sizeof(err)), 0);
    mk_vault_meta *got = NULL;
    char *body = NULL;
    size_t len;
    /* cut short, one character changed, characters outside base64url, none */
    char cut[MK_VAULT_LINK];
    g_strlcpy(cut, link, 40);
    assert_int_equal(mk_vault_get(v, cut, 2000, &got, &body, &len, err, sizeof(err)),
                     MK_VAULT_NOT_FOUND);
    char changed[MK_VAULT_LINK];
    strcpy(changed, link);
    changed[5] = changed[5] == 'A' ? 'B' : 'A';
    assert_int_equal(mk_vault_get(v, changed, 2000, &got, &body, &len, err, sizeof(err)),
                     MK_VAULT_NOT_FOUND);
    char odd[MK_VAULT_LINK];
    strcpy(odd, link);
    odd[3] = '/';
    assert_int_equal(mk_vault_get(v, odd, 2000, &got, &body, &len, err, sizeof(err)),
                     MK_VAULT_NOT_FOUND);
    assert_int_equal(mk_vault_get(v, "", 2000, &got, &body, &len, err, sizeof(err)),
                     MK_VAULT_NOT_FOUND);
    assert_null(got);
    assert_null(body);
    /* one message's sealed file put in the place of another's opens nothing */
    char *p1 = g_strdup_printf("%s/%.2s/%s.mkv", dir, id, id);
    char *p2 = g_strdup_printf("%s/%.2s/%s.mkv", dir, id2, id2);
    gchar *data;
    gsize n;
    assert_true(g_file_get_contents(p2, &data, &n, NULL));
    assert_true(g_file_set_contents(p1, data, (gssize)n, NULL));
    g_free(data);
    assert_int_equal(mk_vault_get(v, link, 2000, &got, &body, &len, err, sizeof(err)),
                     MK_VAULT_ERROR);
    assert_null(body);
    g_free(p1);
    g_free(p2);
    mk_vault_close(v);
    rm_tree(dir);
    g_free(dir);
}

static int count_rows(void *data, const mk_vault_row *row)
{
    (void)row;
    (*(int *)data)++;
    return 0;
}

static void test_expire_revoke(void **state)
{
    (void)state;
    char *dir = new_dir(), err[256];
    mk_vault *v = mk_vault_open(dir, 1, err, sizeof(err));
    mk_vault_meta m = meta_of(NULL);
    char l1[MK_VAULT_LINK], l2[MK_VAULT_LINK], l3[MK_VAULT_LINK], r1[MK_VAULT_LINK],
        r2[MK_VAULT_LINK], r3[MK_VAULT_LINK], id1[MK_VAULT_ID], id2[MK_VAULT_ID], id3[MK_VAULT_ID];
    assert_int_equal(mk_vault_put(v, &m, msg, strlen(msg), 1000, 5000, l1, r1, id1, err, 256), 0);
    assert_int_equal(mk_vault_put(v, &m, msg, strlen(msg), 1000, 9000, l2, r2, id2, err, 256), 0);
    assert_int_equal(mk_vault_put(v, &m, msg, strlen(msg), 1000, 9000, l3, r3, id3, err, 256), 0);
    mk_vault_meta *got = NULL;
    /* expired: said so even before the purge; purged, the file is gone */
    assert_int_equal(mk_vault_get(v, l1, 5000, &got, NULL, NULL, err, 256), MK_VAULT_EXPIRED);
    size_t n = 0;
    assert_int_equal(mk_vault_purge(v, 6000, &n, err, 256), 0);
    assert_int_equal(n, 1);
    char *p1 = g_strdup_printf("%s/%.2s/%s.mkv", dir, id1, id1);
    assert_false(g_file_test(p1, G_FILE_TEST_EXISTS));
    g_free(p1);
    assert_int_equal(mk_vault_get(v, l1, 6000, &got, NULL, NULL, err, 256), MK_VAULT_EXPIRED);
    assert_int_equal(mk_vault_get(v, l2, 6000, &got, NULL, NULL, err, 256), MK_VAULT_OK);
    mk_vault_meta_free(got);
    /* the sender's token revokes; a wrong one (another message's) does not */
    assert_int_equal(mk_vault_revoke(v, NULL, l2, r3, 6000, err, 256), MK_VAULT_NOT_FOUND);
    assert_int_equal(mk_vault_revoke(v, NULL, l2, "garbage", 6000, err, 256), MK_VAULT_NOT_FOUND);
    assert_int_equal(mk_vault_get(v, l2, 6000, &got, NULL, NULL, err, 256), MK_VAULT_OK);
    mk_vault_meta_free(got);
    assert_int_equal(mk_vault_revoke(v, NULL, l2, r2, 6000, err, 256), MK_VAULT_OK);
    assert_int_equal(mk_vault_get(v, l2, 6000, &got, NULL, NULL, err, 256), MK_VAULT_REVOKED);
    assert_null(got);
    /* the postmaster revokes by id */
    assert_int_equal(mk_vault_revoke(v, id3, NULL, NULL, 6000, err, 256), MK_VAULT_OK);
    assert_int_equal(mk_vault_get(v, l3, 6000, &got, NULL, NULL, err, 256), MK_VAULT_REVOKED);
    assert_int_equal(mk_vault_revoke(v, "0123", NULL, NULL, 6000, err, 256), MK_VAULT_NOT_FOUND);
    int rows = 0;
    assert_int_equal(mk_vault_list(v, count_rows, &rows, err, 256), 0);
    assert_int_equal(rows, 3);
    mk_vault_close(v);
    /* nothing left of any content: only the three rows' dates */
    assert_false(found_on_disk(dir, "PLAINTEXT-MARKER-4711"));
    rm_tree(dir);
    g_free(dir);
}

static void test_b64url(void **state)
{
    (void)state;
    unsigned char in[32], back[32];
    for (int i = 0; i < 32; i++)
        in[i] = (unsigned char)(i * 37 + 250);
    char text[48];
    for (size_t len = 0; len <= 32; len++) {
        size_t n = mk_b64url_encode(in, len, text);
        assert_int_equal(n, (len * 4 + 2) / 3);
        assert_int_equal(mk_b64url_decode(text, back, sizeof(back)), (long)len);
        assert_memory_equal(in, back, len);
    }
    assert_int_equal(mk_b64url_decode("ab=c", back, sizeof(back)), -1);
    assert_int_equal(mk_b64url_decode("a", back, sizeof(back)), -1);
    assert_int_equal(mk_b64url_decode("AB", back, sizeof(back)), -1); /* stray bits */
    /* HKDF-SHA256 against RFC 5869's construction computed apart (Python's
     * hmac): PRK = HMAC(salt, ikm), OKM = HMAC(PRK, info || 0x01) */
    unsigned char key[32];
    assert_int_equal(mk_hkdf_sha256("secret", 6, "salt", "info", key, 32), 0);
    char hex[65];
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", key[i]);
    assert_string_equal(hex, "f6d2fcc47cb939deafe3853a1e641a27e6924aff7a63d09cb04ccfffbe4776ef");
}

static void test_subject_notice(void **state)
{
    (void)state;
    char *s = NULL;
    const char *kw = "[Secure], (encrypt)";
    assert_true(mk_vault_subject_match("[Secure] Payroll", kw, &s));
    assert_string_equal(s, "Payroll");
    g_free(s);
    assert_true(mk_vault_subject_match("Re:  [SECURE]  contract [secure]", kw, &s));
    assert_string_equal(s, "Re: contract");
    g_free(s);
    assert_true(mk_vault_subject_match("tax (Encrypt)", kw, &s));
    assert_string_equal(s, "tax");
    g_free(s);
    assert_false(mk_vault_subject_match("Secure payroll", kw, &s));
    assert_null(s);
    assert_false(mk_vault_subject_match(NULL, kw, &s));
    /* the notice escapes what it quotes in HTML and carries the link in both parts */
    mk_vault_notice *n = mk_vault_notice_new("Eve <script>", "eve@example.org", "a & b <img src=x>",
                                             "https://v.example/m/abc", 0);
    assert_non_null(strstr(n->content_type, "multipart/alternative; boundary="));
    const char *html = strstr(n->body, "Content-Type: text/html");
    assert_non_null(html);
    assert_null(strstr(html, "<script>"));
    assert_null(strstr(html, "<img src=x>"));
    assert_non_null(strstr(html, "Eve &lt;script&gt;"));
    assert_non_null(strstr(html, "a &amp; b &lt;img src=x&gt;"));
    assert_non_null(strstr(n->body, "\r\nhttps://v.example/m/abc\r\n"));
    assert_non_null(strstr(n->body, "href=\"https://v.example/m/abc\""));
    assert_non_null(strstr(n->body, "1 January 1970"));
    mk_vault_notice_free(n);
}

static void test_codes_sessions(void **state)
{
    (void)state;
    char *dir = new_dir(), err[256];
    mk_vault *v = mk_vault_open(dir, 1, err, sizeof(err));
    char *rcpts[] = {"bob@example.net", "carol@example.net", NULL};
    mk_vault_meta m = meta_of(rcpts);
    char l1[MK_VAULT_LINK], l2[MK_VAULT_LINK], r[MK_VAULT_LINK], id1[MK_VAULT_ID], id2[MK_VAULT_ID];
    assert_int_equal(mk_vault_put(v, &m, msg, strlen(msg), 1000, 90000, l1, r, id1, err, 256), 0);
    assert_int_equal(mk_vault_put(v, &m, msg, strlen(msg), 1000, 90000, l2, r, id2, err, 256), 0);
    mk_vault_auth_policy pol = {
        .code_ttl_s = 900, .max_fails = 5, .lockout_s = 600, .idle_s = 300, .absolute_s = 3600};
    char code[MK_VAULT_CODE], old[MK_VAULT_CODE], token[MK_VAULT_LINK];
    /* no code for a stranger; one for a recipient, in any case */
    assert_int_equal(mk_vault_code_new(v, l1, "eve@example.org", 2000, &pol, code, err, 256),
                     MK_VAULT_NOT_FOUND);
    assert_int_equal(mk_vault_code_new(v, l1, "Bob@Example.NET", 2000, &pol, old, err, 256),
                     MK_VAULT_OK);
    assert_int_equal(strlen(old), 8);
    assert_int_equal(strspn(old, "0123456789"), 8);
    /* a resend replaces the old code */
    do
        assert_int_equal(mk_vault_code_new(v, l1, "bob@example.net", 2010, &pol, code, err, 256),
                         MK_VAULT_OK);
    while (strcmp(code, old) == 0);
    assert_int_equal(
        mk_vault_code_check(v, l1, "bob@example.net", old, 2020, &pol, token, err, 256),
        MK_VAULT_BAD_CODE);
    /* letters, the code for another recipient, the code on another message */
    assert_int_equal(
        mk_vault_code_check(v, l1, "bob@example.net", "12ab5678", 2020, &pol, token, err, 256),
        MK_VAULT_BAD_CODE);
    assert_int_equal(
        mk_vault_code_check(v, l1, "carol@example.net", code, 2020, &pol, token, err, 256),
        MK_VAULT_BAD_CODE);
    assert_int_equal(
        mk_vault_code_check(v, l2, "bob@example.net", code, 2020, &pol, token, err, 256),
        MK_VAULT_BAD_CODE);
    /* the right one: a session, once */
    assert_int_equal(
        mk_vault_code_check(v, l1, "bob@example.net", code, 2030, &pol, token, err, 256),
        MK_VAULT_OK);
    assert_int_equal(strlen(token), 43);
    char tok2[MK_VAULT_LINK];
    assert_int_equal(
        mk_vault_code_check(v, l1, "bob@example.net", code, 2031, &pol, tok2, err, 256),
        MK_VAULT_BAD_CODE);
    char *who = NULL;
    assert_int_equal(mk_vault_session(v, l1, token, 2100, &pol, &who, err, 256), MK_VAULT_OK);
    assert_string_equal(who, "bob@example.net");
    g_free(who);
    /* the session is of this message only; idle and absolute limits */
    assert_int_equal(mk_vault_session(v, l2, token, 2100, &pol, &who, err, 256),
                     MK_VAULT_NO_SESSION);
    assert_null(who);
    assert_int_equal(mk_vault_session(v, l1, token, 2350, &pol, &who, err, 256), MK_VAULT_OK);
    g_free(who);
    assert_int_equal(mk_vault_session(v, l1, token, 2700, &pol, &who, err, 256),
                     MK_VAULT_NO_SESSION);
    /* an expired code does not open */
    assert_int_equal(mk_vault_code_new(v, l1, "carol@example.net", 3000, &pol, code, err, 256),
                     MK_VAULT_OK);
    assert_int_equal(
        mk_vault_code_check(v, l1, "carol@example.net", code, 3901, &pol, token, err, 256),
        MK_VAULT_BAD_CODE);
    /* five wrong codes lock carol out of this message, not bob, not the other message */
    assert_int_equal(mk_vault_code_new(v, l1, "carol@example.net", 4000, &pol, code, err, 256),
                     MK_VAULT_OK);
    mk_vault_status st = MK_VAULT_OK;
    int tries = 0;
    while ((st = mk_vault_code_check(v, l1, "carol@example.net", "00000000", 4000, &pol, token, err,
                                     256)) == MK_VAULT_BAD_CODE)
        tries++;
    assert_int_equal(st, MK_VAULT_LOCKED);
    assert_int_equal(tries, 2); /* two counted before: bob's code, the expired one */
    assert_int_equal(
        mk_vault_code_check(v, l1, "carol@example.net", code, 4001, &pol, token, err, 256),
        MK_VAULT_LOCKED);
    assert_int_equal(mk_vault_code_new(v, l1, "carol@example.net", 4002, &pol, code, err, 256),
                     MK_VAULT_LOCKED);
    assert_int_equal(mk_vault_code_new(v, l2, "carol@example.net", 4002, &pol, code, err, 256),
                     MK_VAULT_OK);
    assert_int_equal(mk_vault_code_new(v, l1, "carol@example.net", 4601, &pol, code, err, 256),
                     MK_VAULT_OK);
    assert_int_equal(
        mk_vault_code_check(v, l1, "carol@example.net", code, 4602, &pol, token, err, 256),
        MK_VAULT_OK);
    /* revoked: its sessions end */
    assert_int_equal(mk_vault_revoke(v, id1, NULL, NULL, 4700, err, 256), MK_VAULT_OK);
    assert_int_equal(mk_vault_session(v, l1, token, 4701, &pol, &who, err, 256),
                     MK_VAULT_NO_SESSION);
    mk_vault_close(v);
    assert_false(found_on_disk(dir, "carol@example.net"));
    assert_false(found_on_disk(dir, "bob@example.net"));
    rm_tree(dir);
    g_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_open),      cmocka_unit_test(test_bad_links),
        cmocka_unit_test(test_expire_revoke),  cmocka_unit_test(test_b64url),
        cmocka_unit_test(test_subject_notice), cmocka_unit_test(test_codes_sessions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
