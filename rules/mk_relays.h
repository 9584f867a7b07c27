/*
 * mk_relays: the chain of relays a message passed, read from its Received
 * headers (newest first) as SpamAssassin reads them, split where trust
 * ends. A relay is trusted while every hop so far is: with trusted_networks
 * configured, a hop from those networks (or 127/8, ::1) or one that
 * authenticated; without, a hop from a private address or one that
 * authenticated, as SpamAssassin infers it. Internal is the same as trusted
 * (mailkeeper has no separate internal_networks). A mail fetcher's hand-over
 * (POP3, IMAP) inside the trusted part restarts the chain.
 *
 * The result gives the content rules SpamAssassin's pseudo-headers
 * X-Spam-Relays-Trusted, -Untrusted, -Internal and -External, each a list of
 * "[ ip=... rdns=... helo=... by=... ident=... envfrom=... intl=0|1 id=...
 * auth=... msa=0 ]", and ALL-TRUSTED, ALL-UNTRUSTED, ALL-INTERNAL and
 * ALL-EXTERNAL (the headers added by those relays).
 *
 * Headers this reader does not know are skipped and counted as
 * unparseable; a skipped header never ends the trusted part on its own.
 */
#ifndef MK_RELAYS_H
#define MK_RELAYS_H

#include <glib.h>
#include <gmime/gmime.h>

#include "mk_net.h"

typedef struct mk_relay {
    /* never NULL; "" when the header does not say */
    char *ip, *rdns, *helo, *by, *ident, *envfrom, *id, *auth;
    int internal;            /* trusted (and so internal) */
    int ip_private;          /* a private, loopback or link-local address */
    int no_reverse_dns;      /* the MTA looked the name up and found none */
    int rdns_not_in_headers; /* the MTA does not record the name */
    char *as_string;         /* "[ ip=... ]" */
} mk_relay;

/* What one Received header gave. */
typedef enum {
    MK_RELAY_PARSED,      /* a hop: *out is filled */
    MK_RELAY_SKIP,        /* a local hand-over, no hop to speak of */
    MK_RELAY_FETCHER,     /* a mail fetcher's hand-over (POP3, IMAP) */
    MK_RELAY_UNPARSEABLE, /* a form this reader does not know */
} mk_relay_kind;

/* Reads one Received header's value (folded or not). On MK_RELAY_PARSED,
 * *out holds the hop; free its fields with mk_relay_clear(). */
mk_relay_kind mk_relays_parse_line(const char *value, mk_relay *out);
void mk_relay_clear(mk_relay *r);

typedef enum {
    MK_RELAYS_TRUSTED,
    MK_RELAYS_UNTRUSTED,
    MK_RELAYS_INTERNAL,
    MK_RELAYS_EXTERNAL,
    MK_RELAYS_N
} mk_relays_part;

typedef struct mk_relays {
    GPtrArray *part[MK_RELAYS_N]; /* of mk_relay *, oldest last; all[] owns them */
    GPtrArray *all;
    char *str[MK_RELAYS_N]; /* the X-Spam-Relays-* texts */
    int last_trusted_index; /* Received headers (from the top) inside the trusted part, -1: none */
    size_t n_unparseable;
} mk_relays;

/* Reads the Received headers of hl (and X-Originating-IP and its kind,
 * as the oldest hops). trusted: the configured trusted networks, or NULL
 * or empty to infer them. Free with mk_relays_free(). */
mk_relays *mk_relays_parse(GMimeHeaderList *hl, const mk_netlist *trusted);
void mk_relays_free(mk_relays *r);

/* The pseudo-header name (X-Spam-Relays-Trusted, ...), or NULL when name
 * is none of them. The text is owned by r. */
const char *mk_relays_header(const mk_relays *r, const char *name);

/* Whether a header goes into ALL-TRUSTED and ALL-INTERNAL (trusted = 1:
 * the headers above the first Received header outside the trusted part,
 * and that header) or into ALL-UNTRUSTED and ALL-EXTERNAL (trusted = 0:
 * that header and all below). rcvd: for a Received header, how many come
 * before it; for another, how many come before it less one (-1 above the
 * first); is_received: it is one. */
int mk_relays_in_all(const mk_relays *r, int rcvd, int is_received, int trusted);

#endif
