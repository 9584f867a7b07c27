/*
 * mk_domain: domain names as the checks compare them. A name from a message
 * (a From address, a link) is normalized to lower-case A-labels (libidn2,
 * IDNA 2008 with UTS #46 mapping) and reduced to its registered
 * ("organizational") domain with the public suffix list (libpsl: the list of
 * Debian's publicsuffix package, or the one built into libpsl).
 */
#ifndef MK_DOMAIN_H
#define MK_DOMAIN_H

#include <libpsl.h>
#include <stddef.h>

#define MK_DOMAIN_MAX 254 /* 253 characters and the NUL */

/* The newest public suffix list on the machine: the publicsuffix package's,
 * else libpsl's built-in one. Free with mk_domain_psl_free(); never NULL
 * unless libpsl has no list at all. */
const psl_ctx_t *mk_domain_psl_load(void);
void mk_domain_psl_free(const psl_ctx_t *psl);

/* Normalizes the len bytes at in (UTF-8 or A-labels, any case, one trailing
 * dot allowed) into out: lower-case A-labels. 0, or -1 when it is no valid
 * host name (empty or overlong label, a character DNS names cannot hold). */
int mk_domain_normalize(const char *in, size_t len, char *out, size_t outlen);

/* The registered domain of a normalized name: a suffix of domain itself
 * (no copy). A public suffix, or a name the list does not know, is its own
 * registered domain. psl may be NULL: then the last two labels. */
const char *mk_domain_org(const psl_ctx_t *psl, const char *domain);

/* Whether a and b (normalized) have the same registered domain. */
int mk_domain_same_org(const psl_ctx_t *psl, const char *a, const char *b);

#endif
