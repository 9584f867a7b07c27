/*
 * mk_dkim: DKIM verification (RFC 6376, RFC 8463) with libopendkim. Key
 * lookups go through the connection's resolver (libopendkim's dkim_dns_set_*
 * hooks), bounded by the message's DNS deadline, so they overlap the other
 * queries of the message. The corpus test runs the same verification with
 * libopendkim's key-file mode instead of DNS.
 */
#ifndef MK_DKIM_H
#define MK_DKIM_H

#include <gmime/gmime.h>
#include <stddef.h>
#include <time.h>

#include "mk_dns.h"

#define MK_DKIM_MAX_SIGS 8

/* One signature's verdict, named as RFC 8601 names DKIM results. */
typedef struct mk_dkim_sig {
    const char *result; /* "pass", "fail", "neutral", "permerror", "temperror" */
    char domain[256];   /* d= */
    char selector[128]; /* s= */
    char b[16];         /* the start of b=, for header.b */
    char why[128];      /* what went wrong, or "" */
} mk_dkim_sig;

typedef struct mk_dkim_outcome {
    size_t n; /* signatures seen (at most MK_DKIM_MAX_SIGS reported) */
    mk_dkim_sig sigs[MK_DKIM_MAX_SIGS];
} mk_dkim_outcome;

typedef struct mk_dkim_verifier mk_dkim_verifier;

/* A verifier asking dns for keys, each lookup bounded by *deadline (which
 * must outlive it). min_key_bits: smaller RSA keys are refused. NULL when
 * libopendkim cannot start. Free with mk_dkim_verifier_free(). */
mk_dkim_verifier *mk_dkim_verifier_new(mk_dns *dns, const struct timespec *deadline,
                                       unsigned min_key_bits);
/* A verifier reading keys from a libopendkim query file ("NAME TXT-value"). */
mk_dkim_verifier *mk_dkim_verifier_new_file(const char *keyfile, unsigned min_key_bits);
void mk_dkim_verifier_free(mk_dkim_verifier *v);

/* Verifies every signature of the message in stream (wire form, CRLF).
 * 0, or -1 when libopendkim failed as a whole (out->n is then 0). */
int mk_dkim_verify(mk_dkim_verifier *v, GMimeStream *stream, const char *id, mk_dkim_outcome *out);

#endif
