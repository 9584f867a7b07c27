/*
 * mk_dmarc: DMARC (RFC 7489). The record is parsed by libopendmarc; the
 * registered domain, for the record's fallback lookup and for relaxed
 * alignment, comes from libpsl (mk_domain), the one public suffix list every
 * check of mailkeeper uses. SPF and DKIM results are read from the
 * Authentication-Results those checks reported, so DMARC decides from
 * exactly what the header tells the user. The policy decision itself
 * (mk_dmarc_eval) is a pure function, tested without DNS.
 */
#ifndef MK_DMARC_H
#define MK_DMARC_H

#include <libpsl.h>
#include <stddef.h>

#include "mk_dns.h"

typedef enum {
    MK_DMARC_NONE,      /* no record (or none usable): DMARC does not apply */
    MK_DMARC_PASS,      /* an aligned identifier passed SPF or DKIM */
    MK_DMARC_FAIL,      /* none did: the policy applies */
    MK_DMARC_TEMPERROR, /* the record, or an aligned SPF/DKIM check, failed on DNS */
    MK_DMARC_PERMERROR, /* the record is broken */
} mk_dmarc_result;

/* An identifier and what SPF or DKIM said of it ("pass", "fail", ...). */
typedef struct mk_dmarc_auth {
    const char *domain;
    const char *result;
} mk_dmarc_auth;

typedef struct mk_dmarc_in {
    const char *from_domain; /* the Author Domain, normalized (mk_domain) */
    const char *record;      /* the one DMARC record found, or NULL */
    int record_at_org;       /* found at the registered domain, not the From domain */
    int dns_temperror;       /* the record lookup failed: none is known */
    mk_dmarc_auth spf;       /* .domain NULL when SPF did not run */
    const mk_dmarc_auth *dkim;
    size_t n_dkim;
    unsigned sample; /* 0..99: this message's draw against pct */
} mk_dmarc_in;

typedef struct mk_dmarc_out {
    mk_dmarc_result result;
    char policy;      /* what the record asks for this domain: 'n', 'q', 'r'; 0 unknown */
    char disposition; /* what applies after pct: 'n', 'q', 'r'; 'n' unless FAIL */
    int pct;
    int spf_aligned, dkim_aligned;
    char why[256]; /* for logs and Authentication-Results comments */
} mk_dmarc_out;

/* "pass", "fail", ... as RFC 8601 names DMARC results. */
const char *mk_dmarc_result_name(mk_dmarc_result result);
/* "none", "quarantine", "reject" for 'n', 'q', 'r'. */
const char *mk_dmarc_policy_name(char policy);

/* Applies DMARC for one Author Domain. */
void mk_dmarc_eval(const psl_ctx_t *psl, const mk_dmarc_in *in, mk_dmarc_out *out);

/* From the TXT answer for _dmarc.DOMAIN: 1 with *record set (pointing into
 * the answer) when exactly one record starts with v=DMARC1; 0 when there is
 * none or more than one (RFC 7489 6.6.3: DMARC does not apply); -1 when the
 * lookup failed. */
int mk_dmarc_pick(const mk_dns_answer *answer, const char **record);

#endif
