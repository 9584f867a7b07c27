/* Unit tests of the SPF record grammar check (RFC 7208 section 12). */
#include "config.h"

#include <stdio.h>
#include <glib.h>
#include <string.h>

#include "mk_spf.h"
#include "mk_test.h"

static void test_valid_records(void **state)
{
    static const char *const ok[] = {
        "v=spf1",
        "v=spf1 -all",
        "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ~all",
        "v=spf1 a mx/24 a:mail.example.com//64 mx:example.org/24//96 ?all",
        "v=spf1 include:_spf.example.com include:%{d}.spf.example.net -all",
        "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all",
        "v=spf1 ptr ptr:example.com redirect=_spf.example.com",
        "v=spf1 a:foo:bar/baz.example.com",
        "v=spf1 -all exp=explain._spf.%{d}",
        "v=spf1 foo-bar=%{c}%{r}%{t} moo.cow-far_out=man:dog/cat ~all",
        "V=SPF1 IP4:192.0.2.1 -ALL",
        "v=spf1 a:x-1.example.1-2 -all",
    };
    char why[256];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (mk_spf_record_check(ok[i], why, sizeof(why)) != 0) {
            print_error("refused '%s': %s\n", ok[i], why);
            fail();
        }
    }
}

static void test_invalid_records(void **state)
{
    static const struct {
        const char *rec;
        const char *why;
    } bad[] = {
        {"v=spf1 a:museum", "top-level label"},
        {"v=spf1 a:museum.", "top-level label"},
        {"v=spf1 a:example.123", "top-level label"},
        {"v=spf1 a:", "empty domain"},
        {"v=spf1 include:", "empty domain"},
        {"v=spf1 exists:mail.example.com/24", "top-level label"},
        {"v=spf1 ip4:192.0.2.300", "not an IPv4 network"},
        {"v=spf1 ip4:192.0.2.0/33", "bad CIDR"},
        {"v=spf1 ip4:1.2.3.4/032", "bad CIDR"},
        {"v=spf1 ip6:2001:db8::/129", "bad CIDR"},
        {"v=spf1 a/33", "bad CIDR"},
        {"v=spf1 redirect=a.example.com redirect=b.example.com", "redirect= given twice"},
        {"v=spf1 -all exp=a.example.com exp=b.example.com", "exp= given twice"},
        {"v=spf1 include:%{x}.example.com", "not a macro letter"},
        {"v=spf1 include:%{c}.example.com", "not a macro letter"},
        {"v=spf1 a:%example.com", "not a macro"},
        {"v=spf1 a:example.com%", "at the end"},
        {"v=spf1 all:foo", "not a mechanism"},
        {"v=spf1 bogus:foo", "not a mechanism"},
        {"v=spf1 ~ip5:1.2.3.4", "not a mechanism"},
        {"v=spf10 -all", "not an SPF record"},
    };
    char why[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (mk_spf_record_check(bad[i].rec, why, sizeof(why)) == 0 ||
            strstr(why, bad[i].why) == NULL) {
            print_error("'%s': expected '%s', got '%s'\n", bad[i].rec, bad[i].why, why);
            fail();
        }
    }
}

static void test_is_record(void **state)
{
    assert_true(mk_spf_is_record("v=spf1"));
    assert_true(mk_spf_is_record("v=spf1 -all"));
    assert_true(mk_spf_is_record("V=Spf1 -all"));
    assert_false(mk_spf_is_record("v=spf10"));
    assert_false(mk_spf_is_record("google-site-verification=abc"));
}

/* has_addr for the rewrite: "has.example" and the MX hosts of
 * "mx.example" have addresses of both families, "err.example" fails. */
static int fake_has_addr(void *arg, const char *domain, int mx, int v6)
{
    int *calls = arg;
    (*calls)++;
    if (strcmp(domain, "err.example") == 0)
        return -1;
    return strcmp(domain, mx ? "mx.example" : "has.example") == 0;
}

static void test_rewrite(void **state)
{
    static const struct {
        int v6;
        const char *in, *out; /* out NULL: unchanged */
    } cases[] = {
        {0, "v=spf1 ip4:192.0.2.0/24 -all", NULL},
        {0, "v=spf1 ip4:0.0.0.0/0", "v=spf1 ip4:0.0.0.0/1 ip4:128.0.0.0/1"},
        {1, "v=spf1 -ip6:::/0", "v=spf1 -ip6:::/1 -ip6:8000::/1"},
        /* a/0 for IPv4 needs no lookup now: exists says it */
        {0, "v=spf1 a/0 a:x.example/0", "v=spf1 exists:%{d} exists:x.example"},
        /* the rest are asked at once */
        {1, "v=spf1 a:has.example//0 -all", "v=spf1 ip6:::/1 ip6:8000::/1 -all"},
        {1, "v=spf1 a:none.example//0 -all", "v=spf1 a:none.example//128 -all"},
        {0, "v=spf1 ~mx:mx.example/0", "v=spf1 ~ip4:0.0.0.0/1 ~ip4:128.0.0.0/1"},
        {0, "v=spf1 mx/0 -all", "v=spf1 mx/32 -all"}, /* the record's own domain has no MX */
        {0, "v=spf1 mx:err.example/0", "v=spf1 mx:err.example/32"},
        {0, "v=spf1 mx:%{d}.example/0", NULL}, /* a macro: left to libspf2 */
        /* the other family's length */
        {0, "v=spf1 a//64 mx/24//64", "v=spf1 a mx/24"},
        {1, "v=spf1 a/24//64 mx/24", "v=spf1 a//64 mx"},
        /* modifiers: unknown ones dropped, redirect beside all dropped */
        {0, "v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all", "v=spf1 ip4:1.2.3.4 -all"},
        {0, "v=spf1 redirect=x.example ~all", "v=spf1 ~all"},
        {0, "v=spf1 ip4:1.2.3.4 redirect=x.example exp=e.%{d}", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int calls = 0;
        mk_spf_rewrite_ctx rc = {cases[i].v6, "self.example", fake_has_addr, &calls};
        char *got = mk_spf_record_rewrite(cases[i].in, &rc);
        if ((got == NULL) != (cases[i].out == NULL) ||
            (got != NULL && strcmp(got, cases[i].out) != 0)) {
            print_error("'%s': got '%s', want '%s'\n", cases[i].in, got ? got : "(unchanged)",
                        cases[i].out ? cases[i].out : "(unchanged)");
            fail();
        }
        g_free(got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_records),
        cmocka_unit_test(test_invalid_records),
        cmocka_unit_test(test_is_record),
        cmocka_unit_test(test_rewrite),
    };
    return cmocka_run_group_tests_name("spf", tests, NULL, NULL);
}
