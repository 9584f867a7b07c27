/*
 * mk_crypto: the hashes, ciphers and encodings the parts share, on
 * OpenSSL's EVP interface: SHA-256 of a buffer or of a stream of pieces,
 * AES-256-GCM, HKDF, random bytes, base64url.
 */
#ifndef MK_CRYPTO_H
#define MK_CRYPTO_H

#include <stddef.h>

#define MK_SHA256_HEX 65 /* 64 hex digits and the NUL */

/* SHA-256 of data, in hex. */
void mk_sha256_hex(const void *data, size_t len, char out[MK_SHA256_HEX]);

/* A SHA-256 over pieces: new, add..., end (which frees it). */
typedef struct mk_sha256 mk_sha256;
mk_sha256 *mk_sha256_new(void);
void mk_sha256_add(mk_sha256 *h, const void *data, size_t len);
void mk_sha256_end(mk_sha256 *h, char out[MK_SHA256_HEX]);

/* AES-256-GCM. seal: out (len + MK_GCM_OVERHEAD bytes) = a random 12-byte
 * nonce, the ciphertext, the 16-byte tag; aad (may be NULL) is bound to
 * it, not stored. open: the reverse; -1 when the key, the aad or a byte
 * is wrong. Both return the output length or -1. */
#define MK_GCM_KEY      32
#define MK_GCM_OVERHEAD (12 + 16)
long mk_gcm_seal(const unsigned char key[MK_GCM_KEY], const void *aad, size_t aadlen,
                 const void *in, size_t len, unsigned char *out);
long mk_gcm_open(const unsigned char key[MK_GCM_KEY], const void *aad, size_t aadlen,
                 const unsigned char *in, size_t len, unsigned char *out);

/* len random bytes (OpenSSL's generator); 0, or -1. */
int mk_random_bytes(void *out, size_t len);
/* HKDF (RFC 5869) with SHA-256 of ikm, with salt and info (strings), into
 * out (outlen bytes); 0, or -1. */
int mk_hkdf_sha256(const void *ikm, size_t ikmlen, const char *salt, const char *info,
                   unsigned char *out, size_t outlen);
/* HMAC-SHA256 of data under key, the 32 bytes. */
void mk_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                    unsigned char out[32]);
/* SHA-256 of data, the 32 bytes. */
void mk_sha256_raw(const void *data, size_t len, unsigned char out[32]);
/* base64url without padding (RFC 4648 section 5): encode writes
 * 4 * len / 3 + 3 bytes at most, NUL included, and returns the length;
 * decode returns the bytes written, or -1 on any character outside the
 * alphabet, a bad length, or more than outlen bytes. */
size_t mk_b64url_encode(const unsigned char *in, size_t len, char *out);
long mk_b64url_decode(const char *in, unsigned char *out, size_t outlen);

/* Reads a key file: 32 bytes, or 64 hex digits (and a line break). 0, or
 * -1 with why. */
int mk_crypto_key_file(const char *path, unsigned char key[MK_GCM_KEY], char *err, size_t errlen);

#endif
