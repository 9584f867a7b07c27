/*
 * mk_crypto: the hashes the parts share, on OpenSSL's EVP interface:
 * SHA-256 of a buffer or of a stream of pieces, in lower-case hex.
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

#endif
