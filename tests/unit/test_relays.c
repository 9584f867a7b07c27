/* Unit tests of the Received chain reader (mk_relays): one header of each
 * layout mailkeeper reads, and where trust ends in a whole chain.
 *
 * test_relays --dump FILE...: prints the four X-Spam-Relays-* texts of each
 * message file (for comparing with SpamAssassin's own reading). */
#include "config.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "mk_relays.h"
#include "mk_test.h"

/* One header and the "[ ... ]" text it must give (NULL: no hop). */
typedef struct {
    const char *header, *want;
} mk_relay_case;

static const mk_relay_case cases[] = {
    {"from mail.example.com (mail.example.com [192.0.2.7])\n\tby mx.example.net (Postfix) with "
     "ESMTP id 4A1B2C3D4E\n\tfor <bob@example.net>; Thu, 13 Mar 2003 15:23:15 -0500 (EST)",
     "[ ip=192.0.2.7 rdns=mail.example.com helo=mail.example.com by=mx.example.net ident= "
     "envfrom= intl=0 id=4A1B2C3D4E auth= msa=0 ]"},
    {"from helo.example (unknown [198.51.100.9]) by mx.example.net (Postfix) with SMTP id AB12",
     "[ ip=198.51.100.9 rdns= helo=helo.example by=mx.example.net ident= envfrom= intl=0 id=AB12 "
     "auth= msa=0 ]"},
    {"from laptop (dsl.example.org [203.0.113.5]) (authenticated bits=0) by smtp.example.com "
     "(8.12.6/8.12.6) with ESMTP id g9MFWcvb068860",
     "[ ip=203.0.113.5 rdns=dsl.example.org helo=laptop by=smtp.example.com ident= envfrom= "
     "intl=0 id=g9MFWcvb068860 auth=Sendmail msa=0 ]"},
    {"from ran-out.example.com (IDENT:qmailr@one.example.com [192.0.2.115]) by mx.example.org "
     "(8.11.6/8.11.6) with SMTP id h381Vvf19860",
     "[ ip=192.0.2.115 rdns=one.example.com helo=ran-out.example.com by=mx.example.org "
     "ident=qmailr envfrom= intl=0 id=h381Vvf19860 auth= msa=0 ]"},
    {"from dsl.example.net ([192.0.2.213] helo=blazing.example.org) by list.example.net with "
     "esmtp (Exim 3.31-VA-mm2 #1 (Debian)) id 18lyuU-0007TI-00",
     "[ ip=192.0.2.213 rdns=dsl.example.net helo=blazing.example.org by=list.example.net ident= "
     "envfrom= intl=0 id=18lyuU-0007TI-00 auth= msa=0 ]"},
    {"from [198.51.100.26] (helo=host) by list.example.net with smtp (Exim 3.31) id "
     "18t2z0-0001NX-00",
     "[ ip=198.51.100.26 rdns= helo=host by=list.example.net ident= envfrom= intl=0 "
     "id=18t2z0-0001NX-00 auth= msa=0 ]"},
    {"from unknown (HELO mail.example.com) (joe@192.0.2.40) by mx.example.org with SMTP; 12 "
     "Feb 2003 18:23:19 -0000",
     "[ ip=192.0.2.40 rdns= helo=mail.example.com by=mx.example.org ident=joe envfrom= intl=0 "
     "id= auth= msa=0 ]"},
    {"from host.example.com (192.0.2.169) by mx.example.org with SMTP; 14 Nov 2003 08:05:50 "
     "-0000",
     "[ ip=192.0.2.169 rdns=host.example.com helo=host.example.com by=mx.example.org ident= "
     "envfrom= intl=0 id= auth= msa=0 ]"},
    {"from 0 ([198.51.100.91]) by mail.example.com with Microsoft SMTPSVC(5.0.2195.6713); Tue, "
     "21 Sep 2004 08:59:06 +0300",
     "[ ip=198.51.100.91 rdns= helo=0 by=mail.example.com ident= envfrom= intl=0 id= auth= "
     "msa=0 ]"},
    {"from mail.example.com ([192.0.2.24]) by mx.example.org (8.11.6/8.11.6) with ESMTP id "
     "h2FH0Zx11330 for <a@example.org>; Sat, 15 Mar 2003 17:00:41 GMT",
     "[ ip=192.0.2.24 rdns= helo=mail.example.com by=mx.example.org ident= envfrom= intl=0 "
     "id=h2FH0Zx11330 auth= msa=0 ]"},
    {"from [192.0.2.134] by web40310.mail.example.com via HTTP; Wed, 12 Feb 2003 14:22:21 PST",
     "[ ip=192.0.2.134 rdns= helo= by=web40310.mail.example.com ident= envfrom= intl=0 id= "
     "auth= msa=0 ]"},
    {"from client.example (client.example [IPv6:2001:db8::25]) by mx.example.net (Postfix) with "
     "ESMTPSA id 9F8E7D",
     "[ ip=2001:db8::25 rdns=client.example helo=client.example by=mx.example.net ident= "
     "envfrom= intl=0 id=9F8E7D auth=ESMTPSA msa=0 ]"},
    {"from localhost (localhost [::ffff:127.0.0.1]) by mx.example.net (Postfix) with ESMTP id "
     "5C5C5C",
     "[ ip=127.0.0.1 rdns=localhost helo=localhost by=mx.example.net ident= envfrom= intl=0 "
     "id=5C5C5C auth= msa=0 ]"},
    {"from snake.example.com(192.0.2.229) by x.example.org via smap (V1.3) id xma093673",
     "[ ip=192.0.2.229 rdns=snake.example.com helo= by=x.example.org ident= envfrom= intl=0 "
     "id=xma093673 auth= msa=0 ]"},
    {"from FIREWALL [198.51.100.139] (HELO localhost) by fw.example.org (AltaVista Mail "
     "V2.0J/2.0J BL25J listener) id 0000_003f_3d87_7f5d_8bda",
     "[ ip=198.51.100.139 rdns= helo=localhost by=fw.example.org ident= envfrom= intl=0 "
     "id=0000_003f_3d87_7f5d_8bda auth= msa=0 ]"},
    {"from dragonball.example.edu ([192.0.2.42]) (SquirrelMail authenticated user simonian) by "
     "library.example.edu with HTTP; Wed, 28 Aug 2002 11:29:27 -0700 (PDT)",
     "[ ip=192.0.2.42 rdns= helo= by=library.example.edu ident= envfrom= intl=0 id= auth=HTTP "
     "msa=0 ]"},
    /* no hop: a local hand-over, a fetcher's, a header with no address */
    {"(qmail 27981 invoked by uid 225); 14 Mar 2003 07:24:34 -0000", NULL},
    {"by mx.example.net (Postfix, from userid 1002) id DABBD1BED3; Thu, 13 Feb 2003 14:02:21 "
     "+0100",
     NULL},
    {"from andrew by trinity.example.net with local (Exim 4.12) id 18xeL6-000Dn1-00", NULL},
    {"from virtual-access.example by bolero.example.com ; Thu, 20 Feb 2003 23:32:58 +0100", NULL},
    {"from cabbage.example.org [127.0.0.1] by localhost with IMAP (fetchmail-5.9.0) for "
     "jm@localhost (single-drop)",
     NULL},
};

static void test_layouts(void **state)
{
    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        mk_relay r;
        mk_relay_kind k = mk_relays_parse_line(cases[i].header, &r);
        if (cases[i].want == NULL) {
            if (k == MK_RELAY_PARSED)
                fail_msg("case %zu: read a hop from a header with none: %s", i, r.as_string);
            continue;
        }
        if (k != MK_RELAY_PARSED)
            fail_msg("case %zu: no hop read (%d) from: %s", i, (int)k, cases[i].header);
        if (strcmp(r.as_string, cases[i].want) != 0)
            fail_msg("case %zu:\n  got  %s\n  want %s", i, r.as_string, cases[i].want);
        mk_relay_clear(&r);
    }
}

/* Whether the MTA looked the hop's name up and found none, as
 * SpamAssassin reads each form: Postfix and Sendmail always look; qmail
 * (with SMTP or QMQP) writes "unknown" also when it did not. */
static void test_no_reverse_dns(void **state)
{
    (void)state;
    static const struct {
        const char *header;
        int none;
    } rdns_cases[] = {
        {"from helo.example (unknown [198.51.100.9]) by mx.example.net (Postfix) with SMTP id AB12",
         1},
        {"from helo.example (host.example.org [198.51.100.9]) by mx.example.net (Postfix) with "
         "SMTP id AB12",
         0},
        {"from unknown (HELO rly.example.com) (198.51.100.25) by n9.example.com with asmtp; Wed, "
         "28 Aug 2002 06:50:31 +1200",
         1},
        {"from unknown (HELO rly.example.com) (198.51.100.25) by mx.example.com with SMTP; Wed, "
         "28 Aug 2002 06:50:31 +1200",
         0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(rdns_cases); i++) {
        mk_relay r;
        assert_int_equal(mk_relays_parse_line(rdns_cases[i].header, &r), MK_RELAY_PARSED);
        if (r.no_reverse_dns != rdns_cases[i].none)
            fail_msg("case %zu: no_reverse_dns %d, want %d: %s", i, r.no_reverse_dns,
                     rdns_cases[i].none, r.as_string);
        mk_relay_clear(&r);
    }
}

/* The parsed message text (g_object_unref it). */
static GMimeMessage *message_of(const char *text)
{
    GMimeStream *s = g_mime_stream_mem_new_with_buffer(text, strlen(text));
    GMimeParser *p = g_mime_parser_new_with_stream(s);
    GMimeMessage *m = g_mime_parser_construct_message(p, NULL);
    g_object_unref(p);
    g_object_unref(s);
    assert_non_null(m);
    return m;
}

static const char chain[] =
    "Received: from localhost (localhost [127.0.0.1]) by home.example (Postfix) with ESMTP id "
    "A1\n\tfor <me@home.example>; Thu, 22 Aug 2002 09:10:20 +0100 (IST)\n"
    "Received: from mx.example [10.0.0.2] by localhost with POP3 (fetchmail-5.9.0) for "
    "me@localhost; Thu, 22 Aug 2002 09:10:20 +0100 (IST)\n"
    "Received: from mail.sender.example (mail.sender.example [192.0.2.7]) by mx.example\n"
    "\t(8.11.6/8.11.6) with ESMTP id g7M8Ahf12345; Thu, 22 Aug 2002 09:10:17 +0100\n"
    "Received: from pc (dyn.isp.example [198.51.100.3]) by mail.sender.example (Postfix)\n"
    "\twith ESMTP id B2; Thu, 22 Aug 2002 09:10:00 +0100\n"
    "From: someone@sender.example\n"
    "X-Originating-IP: [203.0.113.50]\n"
    "Subject: hello\n\nbody\n";

static void test_chain(void **state)
{
    (void)state;
    GMimeMessage *m = message_of(chain);
    GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
    /* inferred: the private hops are trusted, then the fetcher restarts
     * the chain, and the first public hop ends trust */
    mk_relays *rs = mk_relays_parse(hl, NULL);
    assert_int_equal(rs->part[MK_RELAYS_TRUSTED]->len, 0);
    assert_int_equal(rs->part[MK_RELAYS_UNTRUSTED]->len, 3);
    assert_int_equal(rs->last_trusted_index, 1);
    assert_non_null(strstr(mk_relays_header(rs, "X-Spam-Relays-Untrusted"),
                           "[ ip=192.0.2.7 rdns=mail.sender.example helo=mail.sender.example "
                           "by=mx.example"));
    assert_non_null(strstr(mk_relays_header(rs, "X-Spam-Relays-External"), "ip=203.0.113.50"));
    assert_string_equal(mk_relays_header(rs, "X-Spam-Relays-Trusted"), "");
    assert_null(mk_relays_header(rs, "X-Spam-Relays-Other"));
    /* ALL-TRUSTED: the headers down to the first untrusted Received */
    assert_true(mk_relays_in_all(rs, 1, 1, 1));
    assert_true(mk_relays_in_all(rs, 2, 1, 1));
    assert_false(mk_relays_in_all(rs, 2, 0, 1));
    assert_true(mk_relays_in_all(rs, 2, 1, 0));
    assert_false(mk_relays_in_all(rs, 1, 0, 0));
    mk_relays_free(rs);

    /* configured: mx.example's 192.0.2.0/24 is trusted too */
    mk_netlist nets = {0};
    char err[128];
    assert_int_equal(mk_net_list_parse("192.0.2.0/24", &nets, err, sizeof(err)), 0);
    rs = mk_relays_parse(hl, &nets);
    assert_int_equal(rs->part[MK_RELAYS_TRUSTED]->len, 1);
    assert_int_equal(rs->part[MK_RELAYS_UNTRUSTED]->len, 2);
    assert_non_null(strstr(rs->str[MK_RELAYS_TRUSTED], "intl=1"));
    assert_non_null(strstr(rs->str[MK_RELAYS_UNTRUSTED], "[ ip=198.51.100.3 rdns=dyn.isp.example "
                                                         "helo=pc by=mail.sender.example"));
    mk_relays_free(rs);
    mk_net_list_free(&nets);
    g_object_unref(m);
}

static int dump(int argc, char **argv)
{
    g_mime_init();
    for (int i = 0; i < argc; i++) {
        gchar *text = NULL;
        if (!g_file_get_contents(argv[i], &text, NULL, NULL)) {
            fprintf(stderr, "%s: cannot read\n", argv[i]);
            return 1;
        }
        GMimeMessage *m = message_of(text);
        mk_relays *rs = mk_relays_parse(g_mime_object_get_header_list(GMIME_OBJECT(m)), NULL);
        printf("== %s\nTrusted: %s\nUntrusted: %s\nInternal: %s\nExternal: %s\n", argv[i],
               rs->str[0], rs->str[1], rs->str[2], rs->str[3]);
        /* and the headers read as no known layout */
        GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
        for (int k = 0; k < g_mime_header_list_get_count(hl); k++) {
            GMimeHeader *h = g_mime_header_list_get_header_at(hl, k);
            mk_relay r;
            if (g_ascii_strcasecmp(g_mime_header_get_name(h), "Received") == 0 &&
                mk_relays_parse_line(g_mime_header_get_raw_value(h), &r) == MK_RELAY_UNPARSEABLE)
                printf("Unparseable: %s", g_mime_header_get_raw_value(h));
        }
        mk_relays_free(rs);
        g_object_unref(m);
        g_free(text);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--dump") == 0)
        return dump(argc - 2, argv + 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_no_reverse_dns),
    };
    return cmocka_run_group_tests(tests, mk_test_libs_up, mk_test_libs_down);
}
