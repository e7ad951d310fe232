/*
 * crypto.h: hashing and signatures for the application (token fingerprints,
 * constant-time token checks, JWTs), with libmbedcrypto.  The application
 * hashes and signs through here; tls.c and tls_ca.c, the only users of
 * libmbedtls and libmbedx509, also call the libmbedcrypto primitives TLS
 * needs (random generator, keys) themselves (see tls.h).
 */
#ifndef NOTIMOCK_CRYPTO_H
#define NOTIMOCK_CRYPTO_H

#include <stddef.h>

#define CRYPTO_SHA256_LEN	32
#define CRYPTO_FP_LEN		20	/* "hmac:" + 12 hex + NUL, with room */
#define CRYPTO_ES256_SIGLEN	64	/* JWS form: r and s, 32 bytes each */
#define CRYPTO_P256_LEN		32	/* one coordinate of a P-256 point */

void	crypto_sha256(const void *, size_t, unsigned char out[CRYPTO_SHA256_LEN]);
/*
 * The one fingerprint of a secret for logs, the store, /mock/ and
 * diagnoses: "hmac:" and the first 12 hex digits of HMAC-SHA256 under the
 * key set by crypto_fingerprint_setkey() (the database's, so prints
 * compare across restarts; `notimock fingerprint` asks the server for the
 * print of a token), of the secret's SHA-256.  Without a key set, one is
 * drawn at random for the process.
 */
#define CRYPTO_FP_KEY_LEN	32
void	crypto_fingerprint_setkey(const unsigned char key[CRYPTO_FP_KEY_LEN]);
char	*crypto_fingerprint(const char *secret, size_t len, char out[CRYPTO_FP_LEN]);
/* The same fingerprint from a SHA-256 the caller already has. */
char	*crypto_fingerprint_digest(const unsigned char d[CRYPTO_SHA256_LEN],
	    char out[CRYPTO_FP_LEN]);
/* HMAC-SHA256 (RFC 2104). */
void	crypto_hmac_sha256(const void *key, size_t keylen, const void *msg,
	    size_t len, unsigned char out[CRYPTO_SHA256_LEN]);
/* Compare two equal-length buffers in time independent of their contents. */
int	crypto_equal(const void *, const void *, size_t);

/*
 * A P-256 signing key (for ES256 JWTs).  crypto_key_open() reads the PEM
 * private key at path, or, if there is no such file, generates one and
 * writes it there (mode 0600, never overwriting a file that appeared
 * meanwhile).  path NULL: a key that lives in memory only.  Returns NULL
 * and *cause on failure (unreadable file, not a P-256 key, ...).
 */
struct crypto_key;

struct crypto_key	*crypto_key_open(const char *path, char **cause);
void			 crypto_key_free(struct crypto_key *);
/* The public point's coordinates, big-endian, for a JWK. */
void			 crypto_key_public(const struct crypto_key *,
			    unsigned char x[CRYPTO_P256_LEN],
			    unsigned char y[CRYPTO_P256_LEN]);
/* ES256: ECDSA P-256 over SHA-256 of msg, as JWS's r||s.  -1 on failure. */
int			 crypto_es256_sign(const struct crypto_key *,
			    const void *msg, size_t len,
			    unsigned char sig[CRYPTO_ES256_SIGLEN]);
/* 1 if sig is a valid ES256 signature of msg by this key, else 0. */
int			 crypto_es256_verify(const struct crypto_key *,
			    const void *msg, size_t len,
			    const unsigned char sig[CRYPTO_ES256_SIGLEN]);

#endif
