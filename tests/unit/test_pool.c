/* Unit tests of mk_pool. */
#include "config.h"

#include <string.h>

#include "mk_pool.h"
#include "mk_test.h"

static void test_alloc(void **state)
{
    mk_pool *p = mk_pool_new();
    assert_non_null(p);
    for (int i = 0; i < 1000; i++) {
        unsigned char *m = mk_pool_alloc(p, (size_t)(i % 300) + 1);
        assert_non_null(m);
        assert_int_equal((uintptr_t)m % 16, 0);
        assert_int_equal(m[0], 0);
        memset(m, 0xab, (size_t)(i % 300) + 1);
    }
    unsigned char *big = mk_pool_alloc(p, 1 << 20);
    assert_non_null(big);
    assert_int_equal(big[(1 << 20) - 1], 0);
    assert_true(mk_pool_used(p) >= (1 << 20));
    assert_null(mk_pool_alloc(p, SIZE_MAX));
    mk_pool_free(p);
    mk_pool_free(NULL);
}

static void test_strings(void **state)
{
    mk_pool *p = mk_pool_new();
    assert_string_equal(mk_pool_strdup(p, "hello"), "hello");
    assert_null(mk_pool_strdup(p, NULL));
    assert_string_equal(mk_pool_strndup(p, "hello", 3), "hel");
    assert_string_equal(mk_pool_printf(p, "%s-%d", "a", 42), "a-42");
    char longer[5000];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    assert_string_equal(mk_pool_printf(p, "%s", longer), longer);
    mk_pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_alloc),
                                       cmocka_unit_test(test_strings)};
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
