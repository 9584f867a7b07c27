/* Unit tests of mk_net: addresses, networks, reverse names, server lists. */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "mk_net.h"
#include "mk_test.h"

static void test_parse_addr(void **state)
{
    mk_addr a;
    char buf[64];
    assert_int_equal(mk_net_parse_addr("192.0.2.10", &a), 0);
    assert_int_equal(a.family, AF_INET);
    assert_int_equal(mk_net_parse_addr("::ffff:192.0.2.10", &a), 0);
    assert_int_equal(a.family, AF_INET);
    assert_string_equal(mk_net_addr_str(&a, buf, sizeof(buf)), "192.0.2.10");
    assert_int_equal(mk_net_parse_addr("IPv6:2001:db8::1", &a), 0);
    assert_int_equal(a.family, AF_INET6);
    assert_int_equal(mk_net_parse_addr("[2001:db8::1]", &a), 0);
    assert_int_equal(mk_net_parse_addr("2001:db8::zz", &a), -1);
    assert_int_equal(mk_net_parse_addr("", &a), -1);
    assert_int_equal(mk_net_parse_addr("localhost", &a), -1);
    assert_int_equal(mk_net_parse_addr(NULL, &a), -1);
}

static void test_cidr(void **state)
{
    mk_cidr c;
    mk_addr a;
    assert_int_equal(mk_net_parse_cidr("10.1.2.3/16", &c), 0);
    assert_int_equal(c.bits, 16);
    assert_int_equal(c.addr.bytes[2], 0);
    mk_net_parse_addr("10.1.200.1", &a);
    assert_true(mk_net_cidr_contains(&c, &a));
    mk_net_parse_addr("10.2.0.1", &a);
    assert_false(mk_net_cidr_contains(&c, &a));
    assert_int_equal(mk_net_parse_cidr("2001:db8::/32", &c), 0);
    mk_net_parse_addr("2001:db8:ffff::1", &a);
    assert_true(mk_net_cidr_contains(&c, &a));
    mk_net_parse_addr("10.1.0.1", &a);
    assert_false(mk_net_cidr_contains(&c, &a));
    assert_int_equal(mk_net_parse_cidr("::ffff:10.0.0.0/104", &c), 0);
    assert_int_equal(c.bits, 8);
    assert_int_equal(mk_net_parse_cidr("1.2.3.4/", &c), -1);
    assert_int_equal(mk_net_parse_cidr("1.2.3.4/x", &c), -1);
    assert_int_equal(mk_net_parse_cidr("::/129", &c), -1);
}

static void test_list(void **state)
{
    mk_netlist l = {NULL, 0};
    char err[128];
    mk_addr a;
    assert_int_equal(mk_net_list_parse("10.0.0.0/8, 192.0.2.1 2001:db8::/48", &l, err, sizeof(err)),
                     0);
    assert_int_equal(l.n, 3);
    mk_net_parse_addr("192.0.2.1", &a);
    assert_true(mk_net_list_contains(&l, &a));
    mk_net_parse_addr("192.0.2.2", &a);
    assert_false(mk_net_list_contains(&l, &a));
    assert_int_equal(mk_net_list_parse("10.0.0.0/8, nonsense", &l, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "nonsense"));
    assert_int_equal(l.n, 3); /* unchanged on error */
    mk_net_list_free(&l);
}

static void test_special(void **state)
{
    static const char *const special[] = {"127.0.0.1",   "10.9.8.7",   "172.20.0.1", "192.168.1.1",
                                          "169.254.0.5", "100.64.1.1", "::1",        "fe80::1",
                                          "fd00::1",     "0.0.0.0"};
    static const char *const public[] = {"192.0.2.99", "8.8.8.8", "2001:db8::1", "172.32.0.1"};
    mk_addr a;
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
        assert_int_equal(mk_net_parse_addr(special[i], &a), 0);
        assert_true(mk_net_is_special(&a));
    }
    for (size_t i = 0; i < sizeof(public) / sizeof(public[0]); i++) {
        assert_int_equal(mk_net_parse_addr(public[i], &a), 0);
        assert_false(mk_net_is_special(&a));
    }
}

static void test_reverse(void **state)
{
    mk_addr a;
    char buf[80];
    mk_net_parse_addr("192.0.2.99", &a);
    assert_string_equal(mk_net_reverse(&a, buf, sizeof(buf)), "99.2.0.192");
    /* RFC 5782 section 2.4 example */
    mk_net_parse_addr("2001:db8:1:2:3:4:567:89ab", &a);
    assert_string_equal(mk_net_reverse(&a, buf, sizeof(buf)),
                        "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2");
}

static void test_servers(void **state)
{
    char csv[256], err[128];
    assert_int_equal(mk_net_servers_parse("127.0.0.1", csv, sizeof(csv), err, sizeof(err)), 0);
    assert_string_equal(csv, "127.0.0.1:53");
    assert_int_equal(
        mk_net_servers_parse("127.0.0.1:5353 [::1]:53, ::1", csv, sizeof(csv), err, sizeof(err)),
        0);
    assert_string_equal(csv, "127.0.0.1:5353,[::1]:53,[::1]:53");
    assert_int_equal(mk_net_servers_parse("", csv, sizeof(csv), err, sizeof(err)), 0);
    assert_string_equal(csv, "");
    assert_int_equal(mk_net_servers_parse("[::1", csv, sizeof(csv), err, sizeof(err)), -1);
    assert_int_equal(mk_net_servers_parse("127.0.0.1:0", csv, sizeof(csv), err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_addr), cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_list),       cmocka_unit_test(test_special),
        cmocka_unit_test(test_reverse),    cmocka_unit_test(test_servers),
    };
    return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}
