/*
 * mk_domain: normalizing names (libidn2) and registered domains (libpsl).
 */
#include "config.h"

#include "mk_domain.h"

#include <ctype.h>
#include <idn2.h>
#include <stdlib.h>
#include <string.h>

const psl_ctx_t *mk_domain_psl_load(void)
{
    /* psl_latest() compares the package's file with the built-in list and
     * loads whichever is newer. */
    psl_ctx_t *psl = psl_latest(NULL);
    return psl != NULL ? psl : psl_builtin();
}

void mk_domain_psl_free(const psl_ctx_t *psl)
{
    if (psl != NULL && psl != psl_builtin())
        psl_free((psl_ctx_t *)psl);
}

/* Letters, digits, '-' and '_' (service labels such as _dmarc), in labels
 * of 1 to 63 characters; the whole at most 253. */
static int mk_domain_valid_ascii(const char *s)
{
    size_t label = 0, total = strlen(s);
    if (total == 0 || total > MK_DOMAIN_MAX - 1)
        return 0;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '.') {
            if (label == 0)
                return 0;
            label = 0;
            continue;
        }
        if (!isalnum(c) && c != '-' && c != '_')
            return 0;
        if (++label > 63)
            return 0;
    }
    return label > 0;
}

int mk_domain_normalize(const char *in, size_t len, char *out, size_t outlen)
{
    if (len > 0 && in[len - 1] == '.')
        len--;
    if (len == 0 || len >= MK_DOMAIN_MAX * 4 || outlen < MK_DOMAIN_MAX)
        return -1;
    char buf[MK_DOMAIN_MAX * 4];
    int ascii = 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '\0')
            return -1;
        if (c >= 0x80)
            ascii = 0;
        buf[i] = (char)tolower(c);
    }
    buf[len] = '\0';
    if (ascii) {
        if (!mk_domain_valid_ascii(buf))
            return -1;
        memcpy(out, buf, len + 1);
        return 0;
    }
    char *alabel = NULL;
    int rc = idn2_to_ascii_8z(buf, &alabel, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc != IDN2_OK) /* what IDNA 2008 refuses, UTS #46 may still map */
        rc = idn2_to_ascii_8z(buf, &alabel, IDN2_NFC_INPUT | IDN2_TRANSITIONAL);
    if (rc != IDN2_OK || alabel == NULL)
        return -1;
    for (char *p = alabel; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    rc = mk_domain_valid_ascii(alabel) && strlen(alabel) < outlen ? 0 : -1;
    if (rc == 0)
        strcpy(out, alabel);
    idn2_free(alabel);
    return rc;
}

const char *mk_domain_org(const psl_ctx_t *psl, const char *domain)
{
    if (psl != NULL) {
        const char *reg = psl_registrable_domain(psl, domain);
        return reg != NULL ? reg : domain;
    }
    const char *last = strrchr(domain, '.');
    if (last == NULL)
        return domain;
    for (const char *p = last; p > domain; p--)
        if (p[-1] == '.')
            return p;
    return domain;
}

int mk_domain_same_org(const psl_ctx_t *psl, const char *a, const char *b)
{
    return strcmp(mk_domain_org(psl, a), mk_domain_org(psl, b)) == 0;
}
