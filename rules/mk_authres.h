/*
 * mk_authres: the Authentication-Results header (RFC 8601) mailkeeper
 * writes, and recognising the ones that arrive claiming to be ours.
 */
#ifndef MK_AUTHRES_H
#define MK_AUTHRES_H

#include "mk_pool.h"
#include "mk_result.h"

/* The header's value: "ID;\n\tspf=pass smtp.mailfrom=a@b.example" with one
 * folded line per method, or "ID; none" when nothing was checked. In pool. */
const char *mk_authres_value(const mk_results *res, const char *authserv_id, mk_pool *pool);

/* Whether a received Authentication-Results value names authserv_id as its
 * authserv-id (case-insensitive, comments and white space skipped): such a
 * header is forged or stale and must go (RFC 8601 section 5). */
int mk_authres_claims(const char *value, const char *authserv_id);

#endif
