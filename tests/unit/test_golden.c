/* Golden pairs, as Postfix keeps them: every tests/golden/NAME.eml goes
 * through the test mode (with NAME.conf when there is one) and the output
 * must equal NAME.ref. MK_GOLDEN_UPDATE=1 rewrites the .ref files. */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mk_dns.h"
#include "mk_msg.h"
#include "mk_pipe.h"
#include "mk_test.h"
#include "mk_testmode.h"

static char *slurp(const char *path)
{
    gchar *data = NULL;
    return g_file_get_contents(path, &data, NULL, NULL) ? data : NULL;
}

/* The version appears in X-Spam-Status: the .ref files say VERSION.
 * Returns a new string for g_free(). */
static char *unversion(const char *s)
{
    const char *tag = "mailkeeper " PACKAGE_VERSION;
    GString *out = g_string_new(NULL);
    const char *p;
    while ((p = strstr(s, tag)) != NULL) {
        g_string_append_len(out, s, p - s);
        g_string_append(out, "mailkeeper VERSION");
        s = p + strlen(tag);
    }
    g_string_append(out, s);
    return g_string_free(out, FALSE);
}

static void test_golden(void **state)
{
    assert_int_equal(chdir(GOLDEN_DIR), 0);
    DIR *d = opendir(".");
    assert_non_null(d);
    int update = getenv("MK_GOLDEN_UPDATE") != NULL, cases = 0, failed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".eml") != 0)
            continue;
        char base[256], conf[300], ref[300];
        snprintf(base, sizeof(base), "%.*s", (int)(n - 4), e->d_name);
        snprintf(conf, sizeof(conf), "%s.conf", base);
        snprintf(ref, sizeof(ref), "%s.ref", base);
        /* A fixed authserv-id: the default is the host's name. */
        char err[1024];
        char *text = slurp(conf);
        char *full =
            g_strdup_printf("[milter]\nauthserv_id = mx.golden.test\n%s", text ? text : "");
        mk_config *cfg = mk_config_load_string(full, conf, err, sizeof(err));
        g_free(full);
        g_free(text);
        if (cfg == NULL) {
            print_error("%s: %s\n", base, err);
            fail();
        }
        mk_app app;
        mk_app_init(&app, cfg);
        const char *rcpts[] = {"postmaster@example.net"};
        mk_test_opts opts = {.client_host = "unknown",
                             .helo = "client.example",
                             .from = "sender@example.org",
                             .rcpts = rcpts,
                             .n_rcpts = 1};
        char *out = NULL;
        size_t outlen = 0;
        FILE *fp = open_memstream(&out, &outlen);
        mk_testmode_file(&app, &opts, e->d_name, fp);
        fclose(fp);
        char *got = unversion(out);
        free(out);
        if (update) {
            FILE *w = fopen(ref, "w");
            assert_non_null(w);
            fputs(got, w);
            fclose(w);
        } else {
            char *want = slurp(ref);
            if (want == NULL || strcmp(want, got) != 0) {
                print_error("%s: output differs from %s:\n--- got\n%s--- want\n%s", e->d_name, ref,
                            got, want ? want : "(no .ref)\n");
                failed++;
            }
            g_free(want);
        }
        g_free(got);
        mk_config_free(cfg);
        cases++;
    }
    closedir(d);
    assert_true(cases >= 5);
    assert_int_equal(failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_golden)};
    return cmocka_run_group_tests_name("golden", tests, mk_test_libs_up, mk_test_libs_down);
}
