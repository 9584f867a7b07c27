/*
 * mk_dns: the asynchronous stub resolver every DNS check uses (c-ares).
 * One mk_dns per SMTP connection: queries are started when their inputs are
 * known (the client address at connect, URIs at end of message), run in
 * parallel, and mk_dns_wait() collects them all under one deadline. A slow
 * or dead server costs at most that deadline and yields MK_DNS_TEMPERROR.
 * The server address and port are configuration (dns_servers).
 */
#ifndef MK_DNS_H
#define MK_DNS_H

#include <stddef.h>
#include <time.h>

#include "mk_net.h"

enum { MK_DNS_A = 1, MK_DNS_PTR = 12, MK_DNS_MX = 15, MK_DNS_TXT = 16, MK_DNS_AAAA = 28 };

typedef enum {
    MK_DNS_OK,        /* answered with data */
    MK_DNS_NOTFOUND,  /* NXDOMAIN, or the name has no record of that type */
    MK_DNS_TEMPERROR, /* timeout, SERVFAIL, refused, unreachable, deadline */
} mk_dns_status;

#define MK_DNS_MAX_ADDRS 16
#define MK_DNS_MAX_TXT   32
/* TXT data may hold NUL bytes; the strings of mk_dns_answer cannot, so a
 * NUL is given as this byte, which no record syntax allows: a record is
 * never cut short into a different, valid one. */
#define MK_DNS_TXT_NUL   '\x7f'
#define MK_DNS_MAX_NAMES 32

/* What a callback receives; valid only during the callback. */
typedef struct mk_dns_answer {
    mk_dns_status status;
    int nxdomain;      /* MK_DNS_NOTFOUND because the name does not exist */
    const char *error; /* why, when not MK_DNS_OK */
    size_t n_addrs;    /* A and AAAA answers */
    mk_addr addrs[MK_DNS_MAX_ADDRS];
    size_t n_txt; /* TXT answers, each record's strings joined */
    const char *txt[MK_DNS_MAX_TXT];
    size_t n_names; /* MX exchanges (by preference) and PTR names */
    const char *names[MK_DNS_MAX_NAMES];
    const unsigned char *raw; /* the reply packet as received, or NULL */
    size_t raw_len;
} mk_dns_answer;

typedef void (*mk_dns_cb)(void *arg, const mk_dns_answer *answer);

typedef struct mk_dns mk_dns;

/* Process-wide set-up and tear-down of c-ares; once, from main. */
int mk_dns_library_init(void);
void mk_dns_library_cleanup(void);

/* A resolver asking the servers in servers_csv ("1.2.3.4:53,[::1]:5353", as
 * mk_net_servers_parse() writes it), or those of /etc/resolv.conf when it is
 * NULL or empty. try_ms bounds one try at one server. NULL on failure, with
 * the reason in err. Free with mk_dns_free(). */
mk_dns *mk_dns_new(const char *servers_csv, int try_ms, char *err, size_t errlen);
/* Cancels what is pending (callbacks run with MK_DNS_TEMPERROR) and frees. */
void mk_dns_free(mk_dns *dns);

/* Starts a query for name and type (MK_DNS_A, _AAAA, _TXT). cb runs exactly
 * once, from mk_dns_wait() or mk_dns_free() (or at once on a local error). */
void mk_dns_query(mk_dns *dns, const char *name, int type, mk_dns_cb cb, void *arg);
/* Queries whose callback has not run yet. */
size_t mk_dns_pending(const mk_dns *dns);
/* Queries started since the resolver was made. */
size_t mk_dns_asked(const mk_dns *dns);
/* Runs the queries until none is pending or the CLOCK_MONOTONIC deadline
 * passes; then cancels the rest, whose callbacks get MK_DNS_TEMPERROR. */
void mk_dns_wait(mk_dns *dns, const struct timespec *deadline);
/* Runs the queries until *done is set (by a callback) or the deadline
 * passes; the others go on in the background. 0 when *done, -1 at the
 * deadline (nothing is cancelled: mk_dns_wait() does that). */
int mk_dns_wait_for(mk_dns *dns, const int *done, const struct timespec *deadline);

/* now + ms on CLOCK_MONOTONIC. */
struct timespec mk_dns_deadline_in(long ms);

#endif
