/*
 * mk_spf: SPF (RFC 7208) with libspf2. libspf2 resolves through a DNS layer
 * of mailkeeper's (mk_spf_dns_new) that asks the connection's resolver, so
 * SPF lookups go to the configured server, run alongside the message's other
 * queries and stop at the message's DNS deadline. The conformance test feeds
 * the same evaluation (mk_spf_eval) libspf2's in-memory zone layer instead.
 */
#ifndef MK_SPF_H
#define MK_SPF_H

#include <netinet/in.h>
#include <arpa/nameser.h>
#include <time.h>

#include <spf2/spf.h>

#include "mk_dns.h"

typedef enum {
    MK_SPF_NONE,
    MK_SPF_NEUTRAL,
    MK_SPF_PASS,
    MK_SPF_FAIL,
    MK_SPF_SOFTFAIL,
    MK_SPF_TEMPERROR,
    MK_SPF_PERMERROR,
} mk_spf_result;

typedef struct mk_spf_outcome {
    mk_spf_result result;
    int helo_scope;     /* MAIL FROM was <>: the HELO identity was checked */
    char identity[320]; /* the identity checked: the sender, or postmaster@HELO */
    char domain[256];   /* its domain */
    char comment[512];  /* libspf2's explanation of the result */
} mk_spf_outcome;

/* "pass", "fail", ... as RFC 7208 and RFC 8601 name them. */
const char *mk_spf_result_name(mk_spf_result result);

/* A libspf2 DNS layer asking dns; every lookup waits at most until
 * *deadline (which must outlive the layer). Owned by the SPF server made
 * from it (mk_spf_server_new), which frees it. NULL when out of memory. */
SPF_dns_server_t *mk_spf_dns_new(mk_dns *dns, const struct timespec *deadline);

/* A libspf2 server over the DNS layer dnsl (taken over: freed with the
 * server by SPF_server_free(), or here on failure), with mailkeeper's
 * policy layer between them. NULL when out of memory. */
SPF_server_t *mk_spf_server_new(SPF_dns_server_t *dnsl);

/* Evaluates SPF for client ip (IPv4 or IPv6 text), HELO name and MAIL FROM
 * address ("" for <>: then the HELO identity). 0, or -1 when the request
 * cannot even be made (bad client address), with out->comment saying why. */
int mk_spf_eval(SPF_server_t *server, const char *ip, const char *helo, const char *mail_from,
                mk_spf_outcome *out);

/* Whether a TXT string is an SPF record ("v=spf1" then a space or the end). */
int mk_spf_is_record(const char *txt);
/* Checks record against the ABNF of RFC 7208 section 12 (plus: redirect=
 * and exp= at most once). 0, or -1 with why. */
int mk_spf_record_check(const char *record, char *why, size_t len);
/* What a rewrite needs to know: the client's family, the domain whose
 * record it is, and a way to ask whether a domain (mx: its MX hosts) has an
 * address of a family: 1 yes, 0 no, -1 DNS error. */
typedef struct mk_spf_rewrite_ctx {
    int client_v6;
    const char *domain;
    int (*has_addr)(void *arg, const char *domain, int mx, int v6);
    void *arg;
} mk_spf_rewrite_ctx;

/* A valid record made into one libspf2 evaluates as RFC 7208 says: CIDR
 * length 0 made into equivalents for the client's family (5.3, 5.4, 5.6;
 * a and mx ask has_addr), the other family's lengths dropped, unknown
 * modifiers dropped (6) and redirect= dropped beside "all" (6.1). NULL when
 * nothing needs it; else free with g_free(). */
char *mk_spf_record_rewrite(const char *record, const mk_spf_rewrite_ctx *rc);

#endif
