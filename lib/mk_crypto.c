/*
 * mk_crypto: SHA-256 through OpenSSL's EVP digests.
 */
#include "config.h"

#include "mk_crypto.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
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

long mk_gcm_seal(const unsigned char key[MK_GCM_KEY], const void *aad, size_t aadlen,
                 const void *in, size_t len, unsigned char *out)
{
    unsigned char *nonce = out, *ct = out + 12, *tag = out + 12 + len;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, f = 0;
    long rc = -1;
    if (c != NULL && RAND_bytes(nonce, 12) == 1 &&
        EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
        (aad == NULL || EVP_EncryptUpdate(c, NULL, &n, aad, (int)aadlen) == 1) &&
        EVP_EncryptUpdate(c, ct, &n, in, (int)len) == 1 &&
        EVP_EncryptFinal_ex(c, ct + n, &f) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1)
        rc = (long)len + MK_GCM_OVERHEAD;
    EVP_CIPHER_CTX_free(c);
    return rc;
}

long mk_gcm_open(const unsigned char key[MK_GCM_KEY], const void *aad, size_t aadlen,
                 const unsigned char *in, size_t len, unsigned char *out)
{
    if (len < MK_GCM_OVERHEAD)
        return -1;
    size_t clen = len - MK_GCM_OVERHEAD;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, f = 0;
    long rc = -1;
    if (c != NULL && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, in) == 1 &&
        (aad == NULL || EVP_DecryptUpdate(c, NULL, &n, aad, (int)aadlen) == 1) &&
        EVP_DecryptUpdate(c, out, &n, in + 12, (int)clen) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(in + 12 + clen)) == 1 &&
        EVP_DecryptFinal_ex(c, out + n, &f) == 1)
        rc = (long)clen;
    EVP_CIPHER_CTX_free(c);
    return rc;
}

int mk_crypto_key_file(const char *path, unsigned char key[MK_GCM_KEY], char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    unsigned char buf[130];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n == MK_GCM_KEY) {
        memcpy(key, buf, MK_GCM_KEY);
        return 0;
    }
    if (n == 2 * MK_GCM_KEY) {
        for (int i = 0; i < MK_GCM_KEY; i++) {
            unsigned v;
            char hex[3] = {(char)buf[2 * i], (char)buf[2 * i + 1], 0};
            if (sscanf(hex, "%2x", &v) != 1 || !isxdigit(buf[2 * i]) || !isxdigit(buf[2 * i + 1])) {
                snprintf(err, errlen, "%s: not 64 hex digits", path);
                return -1;
            }
            key[i] = (unsigned char)v;
        }
        return 0;
    }
    snprintf(err, errlen, "%s: a key is 32 bytes or 64 hex digits (openssl rand -hex 32)", path);
    return -1;
}

int mk_random_bytes(void *out, size_t len)
{
    return len <= INT_MAX && RAND_bytes(out, (int)len) == 1 ? 0 : -1;
}

int mk_hkdf_sha256(const void *ikm, size_t ikmlen, const char *salt, const char *info,
                   unsigned char *out, size_t outlen)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, strlen(salt)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info)),
        OSSL_PARAM_construct_end(),
    };
    int rc = ctx != NULL && EVP_KDF_derive(ctx, out, outlen, params) == 1 ? 0 : -1;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return rc;
}

void mk_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                    unsigned char out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &n);
}

void mk_sha256_raw(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

static const char mk_b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t mk_b64url_encode(const unsigned char *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = mk_b64url_chars[(v >> 18) & 63];
        out[o++] = mk_b64url_chars[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = mk_b64url_chars[(v >> 6) & 63];
        if (i + 2 < len)
            out[o++] = mk_b64url_chars[v & 63];
    }
    out[o] = '\0';
    return o;
}

long mk_b64url_decode(const char *in, unsigned char *out, size_t outlen)
{
    size_t len = strlen(in), o = 0;
    if (len % 4 == 1)
        return -1;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *p = in[i] != '\0' ? strchr(mk_b64url_chars, in[i]) : NULL;
        if (p == NULL)
            return -1;
        v = (v << 6) | (unsigned)(p - mk_b64url_chars);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= outlen)
                return -1;
            out[o++] = (unsigned char)(v >> bits);
            v &= (1u << bits) - 1;
        }
    }
    if (v != 0) /* stray bits: not what mk_b64url_encode makes */
        return -1;
    return (long)o;
}
