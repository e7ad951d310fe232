/* crypto.c: SHA-256 and friends from libmbedcrypto. */
#include <stdio.h>

#include <mbedtls/sha256.h>

#include "crypto.h"

void
crypto_sha256(const void *buf, size_t len, unsigned char out[CRYPTO_SHA256_LEN])
{
	mbedtls_sha256_ret(buf, len, out, 0);
}

char *
crypto_fingerprint(const char *secret, size_t len, char out[CRYPTO_FP_LEN])
{
	unsigned char	d[CRYPTO_SHA256_LEN];

	crypto_sha256(secret, len, d);
	snprintf(out, CRYPTO_FP_LEN, "sha256:%02x%02x%02x%02x%02x%02x",
	    d[0], d[1], d[2], d[3], d[4], d[5]);
	return (out);
}

int
crypto_equal(const void *a, const void *b, size_t len)
{
	const volatile unsigned char	*x = a, *y = b;
	unsigned char			 diff = 0;
	size_t				 i;

	for (i = 0; i < len; i++)
		diff |= x[i] ^ y[i];
	return (diff == 0);
}
