/* Unit tests of link extraction (mk_uri): what URI block lists are asked. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mk_domain.h"
#include "mk_test.h"
#include "mk_uri.h"

static const psl_ctx_t *psl;

static int setup(void **state)
{
    psl = mk_domain_psl_load();
    mk_msg_library_init();
    return psl == NULL;
}

static int teardown(void **state)
{
    mk_domain_psl_free(psl);
    mk_msg_library_cleanup();
    return 0;
}

/* The hosts of set, "a,b,c", into buf. */
static const char *hosts(const mk_uri_set *set, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < set->n; i++) {
        if (i > 0)
            strncat(buf, ",", len - strlen(buf) - 1);
        strncat(buf, set->hosts[i].name, len - strlen(buf) - 1);
    }
    return buf;
}

static const char *text_hosts(const char *text, int html, char *buf, size_t len)
{
    mk_uri_set set;
    mk_uri_set_init(&set, psl, 100);
    if (html)
        mk_uri_scan_html(&set, text, strlen(text));
    else
        mk_uri_scan_text(&set, text, strlen(text));
    hosts(&set, buf, len);
    mk_uri_set_clear(&set);
    return buf;
}

static const char *link_host(const char *link)
{
    static char buf[512];
    mk_uri_set set;
    mk_uri_set_init(&set, psl, 10);
    int rc = mk_uri_add_link(&set, link, strlen(link));
    hosts(&set, buf, sizeof(buf));
    mk_uri_set_clear(&set);
    return rc ? buf : "(none)";
}

static void test_links(void **state)
{
    static const struct {
        const char *link, *host;
    } cases[] = {
        /* case, registered domain, user info, port */
        {"http://WWW.Example.COM/path?q=1", "example.com"},
        {"https://a.b.example.co.uk:8443/", "example.co.uk"},
        {"http://user:pass@evil.example.net/", "example.net"},
        {"http://good.example.org@evil.example.net/x", "example.net"},
        {"HTTPS://shop.example.com.", "example.com"},
        /* percent-encoded host, IDN to A-labels */
        {"http://%65xample%2Ecom/", "example.com"},
        {"http://b\xc3\xbc"
         "cher.example/",
         "xn--bcher-kva.example"},
        {"http://xn--bcher-kva.example/", "xn--bcher-kva.example"},
        /* what browsers forgive: backslashes, no slashes, tabs and newlines */
        {"http:\\\\evil.example.com\\path", "example.com"},
        {"http:evil.example.com", "example.com"},
        {"ht\ntp://ex\tample.com/", "example.com"},
        {"  //cdn.example.net/x.js", "example.net"},
        {"www.example.com/page", "example.com"},
        /* IP literals, in every form a browser reads */
        {"http://192.0.2.1/", "192.0.2.1"},
        {"http://3221225985/", "192.0.2.1"},
        {"http://0xC0.0.2.1/", "192.0.2.1"},
        {"http://0300.0.2.1:80/", "192.0.2.1"},
        {"http://[2001:DB8::1]:8080/", "2001:db8::1"},
        /* private-section suffixes: the user's own name is the host */
        {"https://mallory.github.io/login", "mallory.github.io"},
        /* not links to a host */
        {"mailto:someone@example.com", "(none)"},
        {"javascript:alert(1)", "(none)"},
        {"/relative/path", "(none)"},
        {"cid:part1@example.com", "(none)"},
        {"http://localhost/", "(none)"},
        {"http://co.uk/", "(none)"},
        {"http://exa mple.com/", "(none)"},
        {"http://999.1.1.1/", "(none)"},
        {"http:///", "(none)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = link_host(cases[i].link);
        if (strcmp(got, cases[i].host) != 0) {
            print_error("link '%s': got '%s', want '%s'\n", cases[i].link, got, cases[i].host);
            fail();
        }
    }
}

static void test_text(void **state)
{
    char buf[1024];
    assert_string_equal(
        text_hosts("Visit www.Example.com. Or see (https://shop.example.net/deal), "
                   "\"http://a.example.org\" and http://www.example.com/again!\n"
                   "Not links: example.info, user@mail.example.biz, xwww.example.tv",
                   0, buf, sizeof(buf)),
        "example.com,example.net,example.org");
    /* Unicode quotes and no-break spaces end a link */
    assert_string_equal(text_hosts("\xe2\x80\x9chttp://q.example.com\xe2\x80\x9d and "
                                   "www.nbsp.example\xc2\xa0next",
                                   0, buf, sizeof(buf)),
                        "example.com,nbsp.example");
    /* a scheme glued to a word still counts: mail clients linkify it */
    assert_string_equal(text_hosts("clickhttp://glued.example.com/", 0, buf, sizeof(buf)),
                        "example.com");
}

static void test_html(void **state)
{
    char buf[1024];
    const char *html =
        "<html><head><meta http-equiv=refresh content=\"0; url=http://refresh.example.net/\">"
        "</head><body background='http://bg.example.org/x.png'>"
        "<a href=\"http://&#101;vil.example.com/\">safe.example.info</a>"
        "<a HREF=https://second.example.com/>again</a>"
        "<img src=\"//img.example.biz/p.gif\"><form action=\"http://phish.example.tv/\">"
        "<p>Text link www.text.example.edu and <b>bold http://bold.example.io</b>"
        "<a href=\"mailto:x@mailto.example\">mail</a><a href=\"/rel\">rel</a>"
        "<!-- http://comment.example.xyz/ -->";
    assert_string_equal(text_hosts(html, 1, buf, sizeof(buf)),
                        "example.net,example.org,example.com,example.biz,example.tv,"
                        "example.edu,example.io");
    /* broken markup still yields its links */
    assert_string_equal(
        text_hosts("<a href='http://one.example.com/'<b>x</b><a href=http://two.example.net>y"
                   "<div><<<>>>http://three.example.org <table><td></tr>",
                   1, buf, sizeof(buf)),
        "example.com,example.net,example.org");
    /* deep nesting is walked without recursion */
    GString *deep = g_string_new(NULL);
    for (int i = 0; i < 20000; i++)
        g_string_append(deep, "<div>");
    g_string_append(deep, "<a href=\"http://deep.example.com/\">x</a>");
    text_hosts(deep->str, 1, buf, sizeof(buf));
    assert_string_equal(buf, "example.com");
    g_string_free(deep, TRUE);
}

static void test_dedup_and_cap(void **state)
{
    mk_uri_set set;
    mk_uri_set_init(&set, psl, 3);
    GString *t = g_string_new(NULL);
    for (int i = 0; i < 5000; i++)
        g_string_append_printf(t, "http://h%d.example%d.com/ ", i, i % 10);
    mk_uri_scan_text(&set, t->str, t->len);
    assert_int_equal(set.links, 5000);
    assert_int_equal(set.n, 3);
    assert_int_equal(set.dropped, 7);
    assert_string_equal(set.hosts[0].name, "example0.com");
    assert_int_equal(set.hosts[0].count, 500);
    mk_uri_set_clear(&set);
    g_string_free(t, TRUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_links),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_dedup_and_cap),
    };
    return cmocka_run_group_tests_name("uri", tests, setup, teardown);
}
