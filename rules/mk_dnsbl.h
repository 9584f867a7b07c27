/*
 * mk_dnsbl: one lookup in a DNS list (RFC 5782) and what its answer means,
 * shared by the lists of client addresses (mk_rbl) and of the domains a
 * message links to (mk_uribl). An answer outside 127.0.0.0/8 is ignored;
 * 127.255.255.x (the list refuses to answer us: a public resolver, or over
 * quota) is a temporary error. The answer address is matched against the
 * list's returns, exactly, or bit by bit for lists with bitmask = yes
 * (SURBL multi).
 */
#ifndef MK_DNSBL_H
#define MK_DNSBL_H

#include "mk_check.h"

typedef struct mk_dnsbl_query {
    const mk_conf_rbl *conf;
    mk_pool *pool;
    const char *item; /* what is looked up, as the user reads it: "192.0.2.99", "example.com" */
    int asked;
    mk_dns_status status;
    const char *error; /* pool */
    size_t n_addrs;
    mk_addr addrs[MK_DNS_MAX_ADDRS];
    const char *txt; /* pool; asked only when the reason uses %t */
} mk_dnsbl_query;

/* Asks KEY.ZONE (key: reversed address or domain) for q, which must stay
 * until the answer; item is kept by pointer. */
void mk_dnsbl_ask(mk_dns *dns, mk_dnsbl_query *q, const mk_conf_rbl *conf, mk_pool *pool,
                  const char *key, const char *item);

/* Adds the symbols the answer of q earns; what names the check in logs. */
void mk_dnsbl_report(mk_check_ctx *ctx, const mk_dnsbl_query *q, const char *what);

#endif
