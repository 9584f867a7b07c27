/* Unit tests of mk_verdict: thresholds, forced actions, reply text and the
 * SpamAssassin-format headers. No network: the verdict is a pure function. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mk_authres.h"
#include "mk_test.h"
#include "mk_verdict.h"

static const mk_policy policy = {5.0, NAN, 15.0, "Rejected as spam"};

static void decide(double *scores, size_t n, const mk_policy *pol, mk_verdict *v, mk_pool *pool,
                   mk_results *res)
{
    mk_results_init(res, pool);
    for (size_t i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "SYM_%zu", i);
        assert_int_equal(mk_results_add(res, name, scores[i], "d", NULL), 0);
    }
    mk_verdict_decide(res, pol, pool, v);
}

static void test_thresholds(void **state)
{
    mk_pool *pool = mk_pool_new();
    mk_results res;
    mk_verdict v;
    double s1[] = {1.0, 2.0};
    decide(s1, 2, &policy, &v, pool, &res);
    assert_int_equal(v.action, MK_ACTION_ACCEPT);
    assert_true(v.score == 3.0);
    assert_null(v.reply);
    double s2[] = {4.0, 1.0};
    decide(s2, 2, &policy, &v, pool, &res);
    assert_int_equal(v.action, MK_ACTION_ADD_HEADER); /* 5.0 is at the threshold */
    double s3[] = {15.0};
    decide(s3, 1, &policy, &v, pool, &res);
    assert_int_equal(v.action, MK_ACTION_REJECT);
    assert_non_null(v.reply);
    mk_policy tf = policy;
    tf.tempfail = 10.0;
    double s4[] = {12.0};
    decide(s4, 1, &tf, &v, pool, &res);
    assert_int_equal(v.action, MK_ACTION_TEMPFAIL);
    double s5[] = {8.0, -10.0};
    decide(s5, 2, &policy, &v, pool, &res);
    assert_int_equal(v.action, MK_ACTION_ACCEPT);
    mk_pool_free(pool);
}

static void test_forced_only_raises(void **state)
{
    mk_pool *pool = mk_pool_new();
    mk_results res;
    mk_verdict v;
    mk_results_init(&res, pool);
    mk_results_add(&res, "BIG", 20.0, NULL, "big reason");
    mk_results_force(&res, MK_ACTION_ADD_HEADER, NULL);
    mk_verdict_decide(&res, &policy, pool, &v);
    assert_int_equal(v.action, MK_ACTION_REJECT);
    mk_results_init(&res, pool);
    mk_results_force(&res, MK_ACTION_REJECT, "forced reason");
    mk_results_force(&res, MK_ACTION_ADD_HEADER, "lower");
    mk_verdict_decide(&res, &policy, pool, &v);
    assert_int_equal(v.action, MK_ACTION_REJECT);
    assert_non_null(strstr(v.reply, "forced reason"));
    assert_null(strstr(v.reply, "lower"));
    mk_pool_free(pool);
}

static void test_reply_text(void **state)
{
    mk_pool *pool = mk_pool_new();
    mk_results res;
    mk_verdict v;
    mk_results_init(&res, pool);
    mk_results_add(&res, "A", 3.0, NULL, "small reason");
    mk_results_add(&res, "B", 12.0, NULL, "big 100% reason\r\ninjected: yes");
    mk_results_add(&res, "C", 1.0, NULL, NULL);
    mk_results_add(&res, "D", -1.0, NULL, "negative is no reason");
    mk_verdict_decide(&res, &policy, pool, &v);
    assert_int_equal(v.action, MK_ACTION_REJECT);
    assert_string_equal(v.reply, "Rejected as spam (score 15.0): big 100  reason  injected: yes; "
                                 "small reason");
    mk_pool_free(pool);
}

static void test_headers(void **state)
{
    mk_pool *pool = mk_pool_new();
    mk_results res;
    mk_verdict v;
    mk_header h[MK_VERDICT_HEADERS];
    double s[] = {6.0, 1.34};
    decide(s, 2, &policy, &v, pool, &res);
    size_t n = mk_verdict_headers(&res, &v, &policy, pool, h);
    assert_int_equal(n, 4);
    assert_string_equal(h[0].name, "X-Spam-Flag");
    assert_string_equal(h[0].value, "YES");
    assert_string_equal(h[1].value, "7.3");
    assert_string_equal(h[2].value, "*******");
    assert_string_equal(h[3].name, "X-Spam-Status");
    assert_string_equal(h[3].value,
                        "Yes, score=7.3 required=5.0 tests=SYM_0,SYM_1\n\tversion=" MK_VERSION_TAG);

    double nearly[] = {6.0, -0.001};
    decide(nearly, 2, &policy, &v, pool, &res);
    mk_verdict_headers(&res, &v, &policy, pool, h);
    assert_string_equal(h[1].value, "6.0");
    assert_string_equal(h[2].value, "******");

    double ham[] = {-2.5};
    decide(ham, 1, &policy, &v, pool, &res);
    n = mk_verdict_headers(&res, &v, &policy, pool, h);
    assert_int_equal(n, 3);
    assert_string_equal(h[0].name, "X-Spam-Score");
    assert_string_equal(h[0].value, "-2.5");
    assert_string_equal(h[1].value, "");
    assert_true(strncmp(h[2].value, "No, score=-2.5 required=5.0 tests=SYM_0", 39) == 0);

    decide(NULL, 0, &policy, &v, pool, &res);
    n = mk_verdict_headers(&res, &v, &policy, pool, h);
    assert_true(strncmp(h[2].value, "No, score=0.0 required=5.0 tests=none", 37) == 0);
    mk_pool_free(pool);
}

static void test_headers_fold(void **state)
{
    mk_pool *pool = mk_pool_new();
    mk_results res;
    mk_verdict v;
    mk_header h[MK_VERDICT_HEADERS];
    mk_results_init(&res, pool);
    for (int i = 0; i < 30; i++) {
        char name[40];
        snprintf(name, sizeof(name), "A_RATHER_LONG_SYMBOL_NAME_%02d", i);
        mk_results_add(&res, name, 0.1, NULL, NULL);
    }
    mk_verdict_decide(&res, &policy, pool, &v);
    mk_verdict_headers(&res, &v, &policy, pool, h);
    /* Every physical line of the header stays under 78 columns. */
    const char *line = h[2].value;
    size_t col = strlen("X-Spam-Status: ");
    int folds = 0;
    for (const char *p = line; *p; p++) {
        if (*p == '\n') {
            assert_true(col <= 78);
            assert_int_equal(p[1], '\t');
            col = 0;
            folds++;
        } else {
            col += *p == '\t' ? 8 : 1;
        }
    }
    assert_true(col <= 78);
    assert_true(folds >= 10);
    /* Alphabetical, as SpamAssassin lists them. */
    assert_true(strstr(line, "_00") < strstr(line, "_01"));
    mk_pool_free(pool);
}

static void test_duplicate_and_merge(void **state)
{
    mk_pool *pool = mk_pool_new();
    mk_results a, b;
    mk_results_init(&a, pool);
    mk_results_init(&b, pool);
    mk_results_add(&a, "X", 1.0, "first", NULL);
    mk_results_add(&a, "X", 5.0, "second", NULL);
    assert_int_equal(a.n, 1);
    assert_true(mk_results_score(&a) == 1.0);
    mk_results_add(&b, "Y", 2.0, NULL, NULL);
    mk_results_force(&b, MK_ACTION_TEMPFAIL, "why");
    assert_int_equal(mk_results_merge(&a, &b), 0);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.forced, MK_ACTION_TEMPFAIL);
    assert_non_null(mk_results_find(&a, "Y"));
    assert_null(mk_results_find(&a, "Z"));
    assert_true(mk_verdict_is_own_header("x-spam-status"));
    assert_true(mk_verdict_is_own_header("X-Spam-Report"));
    assert_false(mk_verdict_is_own_header("X-Spammy"));
    mk_pool_free(pool);
}

static void test_authres(void **state)
{
    mk_pool *pool = mk_pool_new();
    mk_results res;
    mk_results_init(&res, pool);
    assert_string_equal(mk_authres_value(&res, "mx.example", pool), "mx.example; none");
    mk_results_auth(&res, "dkim", "pass", NULL,
                    "header.d=example.com\nheader.s=sel\nheader.b=/gCr+x");
    mk_results_auth(&res, "dkim", "fail", "bad (sig)\r\n",
                    "header.d=example.com\nheader.s=s2\nheader.b=Ab12");
    mk_results_auth(&res, "spf", "pass", NULL, "smtp.mailfrom=a.b+c@example.org");
    mk_results_auth(&res, "spf", "none", NULL, "smtp.mailfrom=\"we ird\"@example.org");
    assert_string_equal(
        mk_authres_value(&res, "mx.example", pool),
        "mx.example;\n\tdkim=pass header.d=example.com header.s=sel header.b=\"/gCr+x\";"
        "\n\tdkim=fail (bad  sig   ) header.d=example.com header.s=s2 header.b=Ab12;"
        "\n\tspf=pass smtp.mailfrom=a.b+c@example.org;"
        "\n\tspf=none smtp.mailfrom=example.org");
    assert_true(mk_authres_claims("mx.example; spf=pass", "MX.example"));
    assert_true(mk_authres_claims("  (c (nested)) mx.example;dkim=pass", "mx.example"));
    assert_true(mk_authres_claims("\"mx.example\"; none", "mx.example"));
    assert_false(mk_authres_claims("mx.example.net; none", "mx.example"));
    assert_false(mk_authres_claims("relay.example; spf=pass (mx.example)", "mx.example"));
    mk_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thresholds),   cmocka_unit_test(test_forced_only_raises),
        cmocka_unit_test(test_reply_text),   cmocka_unit_test(test_headers),
        cmocka_unit_test(test_headers_fold), cmocka_unit_test(test_duplicate_and_merge),
        cmocka_unit_test(test_authres),
    };
    return cmocka_run_group_tests_name("verdict", tests, NULL, NULL);
}
