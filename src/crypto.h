/*
 * crypto.h: hashing and signatures for the application (token fingerprints,
 * constant-time token checks, JWTs).  crypto.c is the only file that uses
 * libmbedcrypto directly; tls.c owns libmbedtls and libmbedx509.
 */
#ifndef NOTIMOCK_CRYPTO_H
#define NOTIMOCK_CRYPTO_H

#include <stddef.h>

#define CRYPTO_SHA256_LEN	32
#define CRYPTO_FP_LEN		20	/* "sha256:" + 12 hex + NUL */

void	crypto_sha256(const void *, size_t, unsigned char out[CRYPTO_SHA256_LEN]);
/* A short, non-reversible fingerprint of a secret for logs and the store:
 * "sha256:" and the first 12 hex digits of its SHA-256. */
char	*crypto_fingerprint(const char *secret, size_t len, char out[CRYPTO_FP_LEN]);
/* Compare two equal-length buffers in time independent of their contents. */
int	crypto_equal(const void *, const void *, size_t);

#endif
