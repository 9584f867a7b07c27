/* Unit tests of mk_config: defaults, every value type, and errors that
 * name file, line and key. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mk_config.h"
#include "mk_test.h"

static mk_config *load(const char *text, char *err, size_t len)
{
    return mk_config_load_string(text, "test.conf", err, len);
}

static void test_empty_is_defaults(void **state)
{
    char err[1024];
    mk_config *cfg = load("", err, sizeof(err));
    assert_non_null(cfg);
    assert_string_equal(cfg->socket, "inet:8894@127.0.0.1");
    assert_string_equal(cfg->user, "mailkeeper");
    assert_true(cfg->add_header_score == 5.0);
    assert_true(cfg->reject_score == 15.0);
    assert_true(isnan(cfg->tempfail_score));
    assert_int_equal(cfg->on_error, MK_ON_ERROR_TEMPFAIL);
    assert_int_equal(cfg->memory_limit, 1024 * 1024);
    assert_int_equal(cfg->dns_timeout_ms, 5000);
    assert_string_equal(cfg->dns_servers, "");
    assert_int_equal(cfg->n_rbls, 0);
    assert_true(cfg->gtube);
    assert_true(cfg->dmarc_enabled);
    assert_true(cfg->dmarc_honour_pct);
    assert_int_equal(cfg->dmarc_on_reject, MK_DISPOSE_REJECT);
    assert_int_equal(cfg->dmarc_on_bad_from, MK_DISPOSE_REPORT);
    assert_int_equal(cfg->uri_max_lookups, 64);
    mk_config_free(cfg);
    cfg = mk_config_load(NULL, err, sizeof(err));
    assert_non_null(cfg);
    assert_string_equal(cfg->path, "(defaults)");
    mk_config_free(cfg);
}

static void test_full_config(void **state)
{
    char err[1024];
    const char *text = "; comment\n"
                       "[general]\n"
                       "dns_servers = 127.0.0.1:5353, [::1]:53\n"
                       "dns_timeout = 750ms\n"
                       "trusted_networks = 10.1.0.0/16,\n"
                       "    2001:db8::/32\n"
                       "log_level = debug\n"
                       "[milter]\n"
                       "socket = unix:/run/mailkeeper/milter.sock\n"
                       "on_error = accept\n"
                       "memory_limit = 64K\n"
                       "[scoring]\n"
                       "add_header_score = 4.5\n"
                       "tempfail_score = 10\n"
                       "reject_score = 20\n"
                       "[scores]\n"
                       "GTUBE = 500\n"
                       "[rbl:zen]\n"
                       "zone = zen.test\n"
                       "returns = 127.0.0.2 = ZEN_SBL:7, 127.0.0.3 = ZEN_CSS : 6.5,\n"
                       "    127.0.0.10=ZEN_PBL:1\n"
                       "reason = %i listed: %t\n"
                       "[rbl:other]\n"
                       "zone = bl.example\n"
                       "ipv6 = no\n"
                       "[dmarc]\n"
                       "on_reject = Hold\n"
                       "honour_pct = no\n"
                       "[uri]\n"
                       "max_lookups = 20\n"
                       "[uribl:multi]\n"
                       "zone = multi.surbl.test\n"
                       "bitmask = yes\n"
                       "returns = 127.0.0.8 = SURBL_PH:5, 127.0.0.64 = SURBL_ABUSE:4\n";
    mk_config *cfg = load(text, err, sizeof(err));
    assert_non_null(cfg);
    assert_string_equal(cfg->dns_servers, "127.0.0.1:5353,[::1]:53");
    assert_int_equal(cfg->dns_timeout_ms, 750);
    assert_int_equal(cfg->trusted_networks.n, 2);
    assert_string_equal(cfg->socket, "unix:/run/mailkeeper/milter.sock");
    assert_int_equal(cfg->on_error, MK_ON_ERROR_ACCEPT);
    assert_int_equal(cfg->memory_limit, 65536);
    assert_true(cfg->tempfail_score == 10.0);
    assert_true(mk_config_score(cfg, "GTUBE", 1000) == 500.0);
    assert_true(mk_config_score(cfg, "OTHER", 1.5) == 1.5);
    assert_int_equal(cfg->n_rbls, 2);
    assert_string_equal(cfg->rbls[0].zone, "zen.test");
    assert_string_equal(cfg->rbls[0].symbol, "RBL_ZEN");
    assert_int_equal(cfg->rbls[0].n_returns, 3);
    assert_string_equal(cfg->rbls[0].returns[1].symbol, "ZEN_CSS");
    assert_true(cfg->rbls[0].returns[1].score == 6.5);
    assert_int_equal(cfg->rbls[0].returns[2].addr.bytes[3], 10);
    assert_string_equal(cfg->rbls[1].symbol, "RBL_OTHER");
    assert_false(cfg->rbls[1].ipv6);
    assert_true(cfg->rbls[1].ipv4);
    assert_int_equal(cfg->dmarc_on_reject, MK_DISPOSE_HOLD);
    assert_int_equal(cfg->dmarc_on_quarantine, MK_DISPOSE_SPAM);
    assert_false(cfg->dmarc_honour_pct);
    assert_int_equal(cfg->uri_max_lookups, 20);
    assert_int_equal(cfg->n_uribls, 1);
    assert_string_equal(cfg->uribls[0].symbol, "URIBL_MULTI");
    assert_string_equal(cfg->uribls[0].reason, "The message links to %i, listed in %z");
    assert_true(cfg->uribls[0].bitmask);
    assert_true(cfg->uribls[0].ipv4);
    assert_false(cfg->uribls[0].ipv6);
    assert_int_equal(cfg->uribls[0].n_returns, 2);
    mk_config_free(cfg);
}

/* Each bad input must fail with a message naming file, line and key. */
static void test_errors_name_file_line_key(void **state)
{
    static const struct {
        const char *text;
        const char *expect;
    } cases[] = {
        {"[milter]\nsocket = inet:8894@127.0.0.1\nbogus = 1\n",
         "test.conf:3: [milter] bogus: unknown key"},
        {"[milter]\non_error = maybe\n",
         "test.conf:2: [milter] on_error: 'maybe' is not tempfail or accept"},
        {"\n[nosuch]\nkey = 1\n", "test.conf:3: [nosuch] key: unknown section"},
        {"[scoring]\nreject_score = lots\n",
         "test.conf:2: [scoring] reject_score: 'lots' is not a number"},
        {"[scoring]\nreject_score = 5\nreject_score = 6\n",
         "test.conf:3: [scoring] reject_score: set twice (first on line 2)"},
        {"[general]\ndns_servers = resolver.example\n",
         "test.conf:2: [general] dns_servers: 'resolver.example' is not an IP address"},
        {"[general]\ndns_servers = 127.0.0.1:99999\n",
         "test.conf:2: [general] dns_servers: '127.0.0.1:99999' has no valid port"},
        {"[general]\ntrusted_networks = 10.0.0.0/33\n",
         "test.conf:2: [general] trusted_networks: '10.0.0.0/33' is not an IP network"},
        {"[general]\ndns_timeout = soon\n",
         "test.conf:2: [general] dns_timeout: 'soon' is not a duration"},
        {"[milter]\nsocket = tcp:25\n", "test.conf:2: [milter] socket: expected inet:PORT@HOST"},
        {"[milter]\nsocket = unix:relative.sock\n",
         "test.conf:2: [milter] socket: a unix socket needs an absolute path"},
        {"[milter]\nmemory_limit = 3X\n", "test.conf:2: [milter] memory_limit: '3X' is not a size"},
        {"\n\n[rbl:zen]\nscore = 2\n", "test.conf:3: [rbl:zen] zone: missing"},
        {"[rbl:zen]\nzone = zen.test\nreturns = 10.0.0.2 = X:1\n",
         "test.conf:3: [rbl:zen] returns: '10.0.0.2' is not an answer address in 127.0.0.0/8"},
        {"[rbl:zen]\nzone = bad zone\n",
         "test.conf:2: [rbl:zen] zone: 'bad zone' is not a DNS name"},
        {"[uribl:multi]\nzone = multi.test\nbitmask = yes\nreturns = 127.0.0.6 = X:1\n",
         "test.conf:1: [uribl:multi] returns: with bitmask = yes each answer must be 127.0.0.N"},
        {"[uribl:dbl]\nzone = dbl.test\nipv6 = maybe\n",
         "test.conf:3: [uribl:dbl] ipv6: 'maybe' is not yes or no"},
        {"[rbl:zen]\nzone = zen.test\nbitmask = yes\n",
         "test.conf:3: [rbl:zen] bitmask: unknown key"},
        {"[dmarc]\non_quarantine = bounce\n",
         "test.conf:2: [dmarc] on_quarantine: 'bounce' is not one of reject, hold, spam, report"},
        {"[scoring]\ntempfail_score = 20\n",
         "test.conf:2: [scoring] tempfail_score: must be below reject_score"},
        {"[scores]\nBAD-NAME = 1\n", "test.conf:2: [scores] BAD-NAME: not a symbol name"},
        {"key = 1\n", "test.conf:1: [] key: key outside any [section]"},
        {"[milter]\nthis line has no equals sign\n", "test.conf:2:"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[1024];
        mk_config *cfg = load(cases[i].text, err, sizeof(err));
        if (cfg != NULL || strstr(err, cases[i].expect) == NULL) {
            print_error("case %zu: expected '%s', got '%s'\n", i, cases[i].expect,
                        cfg ? "(accepted)" : err);
            mk_config_free(cfg);
            fail();
        }
    }
}

static void test_all_errors_reported(void **state)
{
    char err[2048];
    mk_config *cfg = load("[milter]\non_error = x\n[scoring]\ngtube = perhaps\n", err, sizeof(err));
    assert_null(cfg);
    assert_non_null(strstr(err, "test.conf:2: [milter] on_error"));
    assert_non_null(strstr(err, "test.conf:4: [scoring] gtube: 'perhaps' is not yes or no"));
}

static void test_long_line(void **state)
{
    char *text = malloc(6000);
    assert_non_null(text);
    strcpy(text, "[scoring]\nreject_message = ");
    size_t n = strlen(text);
    memset(text + n, 'a', 5000);
    strcpy(text + n + 5000, "\n");
    char err[1024];
    mk_config *cfg = load(text, err, sizeof(err));
    assert_null(cfg);
    assert_non_null(strstr(err, "test.conf:2:"));
    assert_non_null(strstr(err, "line longer than"));
    free(text);
}

static void test_files(void **state)
{
    char path[] = "/tmp/mk-test-config.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "[milter]\non_error = accept\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char err[1024];
    mk_config *cfg = mk_config_load(path, err, sizeof(err));
    assert_non_null(cfg);
    assert_string_equal(cfg->path, path);
    mk_config_free(cfg);
    unlink(path);
    cfg = mk_config_load(path, err, sizeof(err));
    assert_null(cfg);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "cannot read"));
}

static void test_value_parsers(void **state)
{
    long ms;
    size_t sz;
    int b;
    double d;
    assert_int_equal(mk_config_parse_duration_ms("5", &ms), 0);
    assert_int_equal(ms, 5000);
    assert_int_equal(mk_config_parse_duration_ms("2m", &ms), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(mk_config_parse_duration_ms("1.5s", &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(mk_config_parse_duration_ms("-1s", &ms), -1);
    assert_int_equal(mk_config_parse_size("2G", &sz), 0);
    assert_int_equal(sz, 2ULL * 1024 * 1024 * 1024);
    assert_int_equal(mk_config_parse_size("10MB", &sz), 0);
    assert_int_equal(sz, 10 * 1024 * 1024);
    assert_int_equal(mk_config_parse_size("-1", &sz), -1);
    assert_int_equal(mk_config_parse_bool("On", &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(mk_config_parse_bool("nope", &b), -1);
    assert_int_equal(mk_config_parse_double("1e400", &d), -1);
    assert_int_equal(mk_config_parse_double("nan", &d), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_is_defaults),
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_errors_name_file_line_key),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_value_parsers),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
