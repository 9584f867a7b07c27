/*
 * mk_crypto: SHA-256 through OpenSSL's EVP digests.
 */
#include "config.h"

#include "mk_crypto.h"

#include <openssl/evp.h>
#include <stdlib.h>

struct mk_sha256 {
    EVP_MD_CTX *ctx;
};

static void mk_crypto_hex(const unsigned char *md, unsigned n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[2 * n] = '\0';
}

mk_sha256 *mk_sha256_new(void)
{
    mk_sha256 *h = malloc(sizeof(*h));
    if (h == NULL)
        abort(); /* as GLib does when memory runs out */
    h->ctx = EVP_MD_CTX_new();
    if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
        abort();
    return h;
}

void mk_sha256_add(mk_sha256 *h, const void *data, size_t len)
{
    EVP_DigestUpdate(h->ctx, data, len);
}

void mk_sha256_end(mk_sha256 *h, char out[MK_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(h->ctx, md, &n);
    mk_crypto_hex(md, n, out);
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void mk_sha256_hex(const void *data, size_t len, char out[MK_SHA256_HEX])
{
    mk_sha256 *h = mk_sha256_new();
    mk_sha256_add(h, data, len);
    mk_sha256_end(h, out);
}
