/* Unit tests of DMARC's decision (RFC 7489) and of domain names
 * (normalization, registered domains from the public suffix list). */
#include "config.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "mk_dmarc.h"
#include "mk_domain.h"
#include "mk_test.h"

static const psl_ctx_t *psl;

static int setup(void **state)
{
    psl = mk_domain_psl_load();
    return psl == NULL;
}

static int teardown(void **state)
{
    mk_domain_psl_free(psl);
    return 0;
}

static void test_normalize(void **state)
{
    char out[MK_DOMAIN_MAX];
    assert_int_equal(mk_domain_normalize("Mail.EXAMPLE.com.", 17, out, sizeof(out)), 0);
    assert_string_equal(out, "mail.example.com");
    const char *u = "b\xc3\xbc"
                    "cher.example"; /* bücher.example */
    assert_int_equal(mk_domain_normalize(u, strlen(u), out, sizeof(out)), 0);
    assert_string_equal(out, "xn--bcher-kva.example");
    const char *upper = "B\xc3\x9c"
                        "CHER.Example"; /* BÜCHER: mapped to lower case first */
    assert_int_equal(mk_domain_normalize(upper, strlen(upper), out, sizeof(out)), 0);
    assert_string_equal(out, "xn--bcher-kva.example");
    assert_int_equal(mk_domain_normalize("_dmarc.example.com", 18, out, sizeof(out)), 0);
    /* not host names */
    static const char *const bad[] = {
        "", ".", "a..b", "exa mple.com", "ex\"ample.com", "a.b\x01", "-\xff\xfe.com"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(mk_domain_normalize(bad[i], strlen(bad[i]), out, sizeof(out)), -1);
    char label[80];
    memset(label, 'a', 64);
    strcpy(label + 64, ".com");
    assert_int_equal(mk_domain_normalize(label, strlen(label), out, sizeof(out)), -1);
    label[63] = '.';
    label[64] = 'x';
    assert_int_equal(mk_domain_normalize(label, strlen(label), out, sizeof(out)), 0);
}

static void test_registered_domain(void **state)
{
    assert_string_equal(mk_domain_org(psl, "mail.example.com"), "example.com");
    assert_string_equal(mk_domain_org(psl, "example.com"), "example.com");
    assert_string_equal(mk_domain_org(psl, "a.b.example.co.uk"), "example.co.uk");
    /* a public suffix is its own registered domain */
    assert_string_equal(mk_domain_org(psl, "co.uk"), "co.uk");
    /* wildcard rule *.ck, with the exception !www.ck */
    assert_string_equal(mk_domain_org(psl, "x.a.foo.ck"), "a.foo.ck");
    assert_string_equal(mk_domain_org(psl, "mail.www.ck"), "www.ck");
    assert_false(mk_domain_same_org(psl, "a.foo.ck", "b.foo.ck"));
    assert_true(mk_domain_same_org(psl, "x.example.com", "y.z.example.com"));
    /* private-section suffixes count: two users of one hosting suffix differ */
    assert_false(mk_domain_same_org(psl, "alice.github.io", "bob.github.io"));
    assert_string_equal(mk_domain_org(NULL, "a.b.example.org"), "example.org");
    assert_string_equal(mk_domain_org(psl, "xn--bcher-kva.example"), "xn--bcher-kva.example");
}

static mk_dns_answer txt_answer(const char *const *txt, size_t n)
{
    mk_dns_answer a;
    memset(&a, 0, sizeof(a));
    a.status = MK_DNS_OK;
    for (size_t i = 0; i < n; i++)
        a.txt[a.n_txt++] = txt[i];
    return a;
}

static void test_pick(void **state)
{
    const char *rec = NULL;
    const char *one[] = {"v=spf1 -all", "v=DMARC1; p=reject"};
    mk_dns_answer a = txt_answer(one, 2);
    assert_int_equal(mk_dmarc_pick(&a, &rec), 1);
    assert_string_equal(rec, "v=DMARC1; p=reject");
    const char *spaced[] = {"v = DMARC1 ;p=none"};
    a = txt_answer(spaced, 1);
    assert_int_equal(mk_dmarc_pick(&a, &rec), 1);
    /* two records: DMARC does not apply (RFC 7489 6.6.3) */
    const char *two[] = {"v=DMARC1; p=reject", "v=DMARC1; p=none"};
    a = txt_answer(two, 2);
    assert_int_equal(mk_dmarc_pick(&a, &rec), 0);
    assert_null(rec);
    /* v= must come first and read DMARC1 exactly */
    const char *notfirst[] = {"p=reject; v=DMARC1", "v=DMARC10; p=reject", "v=dmarc1; p=reject"};
    a = txt_answer(notfirst, 3);
    assert_int_equal(mk_dmarc_pick(&a, &rec), 0);
    a.status = MK_DNS_NOTFOUND;
    a.n_txt = 0;
    assert_int_equal(mk_dmarc_pick(&a, &rec), 0);
    a.status = MK_DNS_TEMPERROR;
    assert_int_equal(mk_dmarc_pick(&a, &rec), -1);
}

static mk_dmarc_out eval(const char *from, const char *record, int at_org, const char *spf_dom,
                         const char *spf_res, const char *dkim_dom, const char *dkim_res,
                         unsigned sample)
{
    mk_dmarc_auth dkim = {dkim_dom, dkim_res};
    mk_dmarc_in in = {.from_domain = from,
                      .record = record,
                      .record_at_org = at_org,
                      .spf = {spf_dom, spf_res},
                      .dkim = dkim_dom ? &dkim : NULL,
                      .n_dkim = dkim_dom ? 1 : 0,
                      .sample = sample};
    mk_dmarc_out out;
    mk_dmarc_eval(psl, &in, &out);
    return out;
}

static void test_alignment(void **state)
{
    const char *rec = "v=DMARC1; p=reject";
    /* relaxed (the default): the same registered domain */
    mk_dmarc_out o = eval("example.com", rec, 0, "bounce.example.com", "pass", NULL, NULL, 0);
    assert_int_equal(o.result, MK_DMARC_PASS);
    assert_true(o.spf_aligned);
    o = eval("news.example.com", rec, 0, NULL, NULL, "example.com", "pass", 0);
    assert_int_equal(o.result, MK_DMARC_PASS);
    assert_true(o.dkim_aligned);
    /* strict: exactly the From domain */
    const char *strict = "v=DMARC1; p=reject; aspf=s; adkim=s";
    o = eval("example.com", strict, 0, "bounce.example.com", "pass", "mail.example.com", "pass", 0);
    assert_int_equal(o.result, MK_DMARC_FAIL);
    assert_int_equal(o.policy, 'r');
    assert_int_equal(o.disposition, 'r');
    o = eval("example.com", strict, 0, "EXAMPLE.COM", "pass", NULL, NULL, 0);
    assert_int_equal(o.result, MK_DMARC_PASS);
    /* a pass for another registered domain does not count */
    o = eval("example.com", rec, 0, "example.net", "pass", "example.org", "pass", 0);
    assert_int_equal(o.result, MK_DMARC_FAIL);
    /* nor does an aligned fail; a second, aligned signature does */
    mk_dmarc_auth two[] = {{"example.com", "fail"}, {"example.com", "pass"}};
    mk_dmarc_in in = {.from_domain = "example.com", .record = rec, .dkim = two, .n_dkim = 2};
    mk_dmarc_eval(psl, &in, &o);
    assert_int_equal(o.result, MK_DMARC_PASS);
    /* public suffix rules: two registrants under *.ck are not aligned */
    o = eval("a.foo.ck", rec, 0, "b.foo.ck", "pass", NULL, NULL, 0);
    assert_int_equal(o.result, MK_DMARC_FAIL);
    o = eval("alice.github.io", rec, 0, "mallory.github.io", "pass", NULL, NULL, 0);
    assert_int_equal(o.result, MK_DMARC_FAIL);
}

static void test_policy(void **state)
{
    /* sp= applies only to the registered domain's record for a subdomain */
    const char *rec = "v=DMARC1; p=reject; sp=quarantine";
    mk_dmarc_out o = eval("sub.example.com", rec, 1, "other.net", "pass", NULL, NULL, 0);
    assert_int_equal(o.result, MK_DMARC_FAIL);
    assert_int_equal(o.policy, 'q');
    o = eval("example.com", rec, 0, "other.net", "pass", NULL, NULL, 0);
    assert_int_equal(o.policy, 'r');
    o = eval("sub.example.com", "v=DMARC1; p=quarantine", 1, NULL, NULL, NULL, NULL, 0);
    assert_int_equal(o.policy, 'q');
    /* p=none: fails, nothing to do */
    o = eval("example.com", "v=DMARC1; p=none", 0, NULL, NULL, NULL, NULL, 0);
    assert_int_equal(o.result, MK_DMARC_FAIL);
    assert_int_equal(o.disposition, 'n');
    /* pct: the sample decides; not selected means one step down */
    o = eval("example.com", "v=DMARC1; p=reject; pct=20", 0, NULL, NULL, NULL, NULL, 19);
    assert_int_equal(o.disposition, 'r');
    o = eval("example.com", "v=DMARC1; p=reject; pct=20", 0, NULL, NULL, NULL, NULL, 20);
    assert_int_equal(o.disposition, 'q');
    assert_int_equal(o.policy, 'r');
    o = eval("example.com", "v=DMARC1; p=quarantine; pct=0", 0, NULL, NULL, NULL, NULL, 0);
    assert_int_equal(o.disposition, 'n');
    o = eval("example.com", "v=DMARC1; p=quarantine; pct=100", 0, NULL, NULL, NULL, NULL, 99);
    assert_int_equal(o.disposition, 'q');
    /* a long record (many report addresses) is read whole: pct at its end */
    GString *lng = g_string_new("v=DMARC1; p=reject; rua=");
    for (int i = 0; i < 60; i++)
        g_string_append_printf(lng, "%smailto:reports-%02d@example.com", i ? "," : "", i);
    g_string_append(lng, "; pct=0");
    o = eval("example.com", lng->str, 0, NULL, NULL, NULL, NULL, 0);
    assert_true(lng->len > 1500);
    assert_int_equal(o.result, MK_DMARC_FAIL);
    assert_int_equal(o.pct, 0);
    assert_int_equal(o.disposition, 'q');
    g_string_free(lng, TRUE);
    /* a pct out of range is read as 100 */
    o = eval("example.com", "v=DMARC1; p=reject; pct=150", 0, NULL, NULL, NULL, NULL, 99);
    assert_int_equal(o.pct, 100);
    assert_int_equal(o.disposition, 'r');
    o = eval("example.com", "v=DMARC1; p=reject; pct=abc", 0, NULL, NULL, NULL, NULL, 99);
    assert_int_equal(o.disposition, 'r');
    /* other bad optional tags take their defaults; the policy stands */
    o = eval("example.com", "v=DMARC1; p=reject; adkim=x; aspf=s", 0, "mail.example.com", "pass",
             NULL, NULL, 0);
    assert_int_equal(o.result, MK_DMARC_FAIL);
    assert_int_equal(o.disposition, 'r');
    o = eval("example.com", "v=DMARC1; p=reject; adkim=x", 0, NULL, NULL, "mail.example.com",
             "pass", 0);
    assert_int_equal(o.result, MK_DMARC_PASS);
}

static void test_errors(void **state)
{
    /* no record, DNS failure */
    mk_dmarc_out o = eval("example.com", NULL, 0, NULL, NULL, NULL, NULL, 0);
    assert_int_equal(o.result, MK_DMARC_NONE);
    assert_int_equal(o.disposition, 'n');
    mk_dmarc_in in = {.from_domain = "example.com", .dns_temperror = 1};
    mk_dmarc_eval(psl, &in, &o);
    assert_int_equal(o.result, MK_DMARC_TEMPERROR);
    /* broken records: permerror, no policy applied */
    static const char *const broken[] = {"v=DMARC1; p=bogus", "v=DMARC1; adkim=s",
                                         "v=DMARC1; p=reject; sp=bogus"};
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        o = eval("example.com", broken[i], 0, NULL, NULL, NULL, NULL, 0);
        assert_int_equal(o.result, MK_DMARC_PERMERROR);
        assert_int_equal(o.disposition, 'n');
        assert_true(o.why[0] != '\0');
    }
    /* without p= but with rua=, the record reads as p=none */
    o = eval("example.com", "v=DMARC1; rua=mailto:d@example.com", 0, NULL, NULL, NULL, NULL, 0);
    assert_int_equal(o.result, MK_DMARC_FAIL);
    assert_int_equal(o.policy, 'n');
    o = eval("example.com", "v=DMARC1; p=reject; sp=bad; rua=mailto:d@example.com", 0, NULL, NULL,
             NULL, NULL, 0);
    assert_int_equal(o.result, MK_DMARC_FAIL);
    assert_int_equal(o.disposition, 'n');
    /* an aligned identifier that failed temporarily: no policy applies */
    o = eval("example.com", "v=DMARC1; p=reject", 0, "example.com", "temperror", NULL, NULL, 0);
    assert_int_equal(o.result, MK_DMARC_TEMPERROR);
    assert_int_equal(o.disposition, 'n');
    o = eval("example.com", "v=DMARC1; p=reject", 0, "example.net", "temperror", NULL, NULL, 0);
    assert_int_equal(o.result, MK_DMARC_FAIL);
    assert_string_equal(mk_dmarc_result_name(MK_DMARC_PERMERROR), "permerror");
    assert_string_equal(mk_dmarc_policy_name('q'), "quarantine");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize), cmocka_unit_test(test_registered_domain),
        cmocka_unit_test(test_pick),      cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_policy),    cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("dmarc", tests, setup, teardown);
}
