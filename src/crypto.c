/*
 * crypto.c: SHA-256, ES256 signatures and base64url, from libmbedcrypto.
 *
 * Randomness comes from the kernel (util_random, i.e. getrandom), handed to
 * mbedTLS through crypto_rng: no DRBG state to seed or to share.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "codec.h"
#include "crypto.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define CRYPTO_PEM_MAX	1024	/* a PEM P-256 private key is ~230 bytes */

struct crypto_key {
	mbedtls_pk_context	pk;
};

void
crypto_sha256(const void *buf, size_t len, unsigned char out[CRYPTO_SHA256_LEN])
{
	mbedtls_sha256_ret(buf, len, out, 0);
}

/*
 * prefix then the digest's first six bytes in lower-case hex, as
 * "%s%02x%02x%02x%02x%02x%02x" would write them (truncated to
 * CRYPTO_FP_LEN); by hand, since a fingerprint is taken per request.
 */
static char *
crypto_fp_hex(char out[CRYPTO_FP_LEN], const char *prefix,
    const unsigned char *d)
{
	char	 buf[32];
	size_t	 o;

	o = strlen(prefix);
	memcpy(buf, prefix, o);
	codec_hex_encode(d, 6, buf + o);
	o += 12;
	if (o > CRYPTO_FP_LEN - 1)
		o = CRYPTO_FP_LEN - 1;
	memcpy(out, buf, o);
	out[o] = '\0';
	return (out);
}

/*
 * The one fingerprint of a secret (tokens, redacted headers), wherever it
 * appears: the start-up log, stored deliveries, /mock/, the event stream,
 * the inbox and diagnoses.  "hmac:" and the first 12 hex digits of
 * HMAC-SHA256(key, SHA-256(secret)): keyed, so that nobody reading /mock/
 * can test guesses offline as against a bare SHA-256 prefix of a short
 * token; over the digest, so that auth.c's one hash per request serves it.
 * The key is the database's (crypto_fingerprint_setkey), so prints stay
 * comparable across restarts; without one, a random key per process.
 *
 * The hash states after the key's inner and outer pads are kept, so each
 * call hashes two SHA-256 blocks and allocates nothing; every caller runs
 * on the one main thread.
 */
static mbedtls_sha256_context	crypto_fp_inner, crypto_fp_outer;
static int			crypto_fp_keyed;

void
crypto_fingerprint_setkey(const unsigned char key[CRYPTO_FP_KEY_LEN])
{
	unsigned char	pad[64];
	size_t		i;
	int		rc = 0;

	if (crypto_fp_keyed) {
		mbedtls_sha256_free(&crypto_fp_inner);
		mbedtls_sha256_free(&crypto_fp_outer);
	}
	mbedtls_sha256_init(&crypto_fp_inner);
	mbedtls_sha256_init(&crypto_fp_outer);
	memset(pad, 0x36, sizeof pad);
	for (i = 0; i < CRYPTO_FP_KEY_LEN; i++)
		pad[i] ^= key[i];
	rc |= mbedtls_sha256_starts_ret(&crypto_fp_inner, 0);
	rc |= mbedtls_sha256_update_ret(&crypto_fp_inner, pad, sizeof pad);
	memset(pad, 0x5c, sizeof pad);
	for (i = 0; i < CRYPTO_FP_KEY_LEN; i++)
		pad[i] ^= key[i];
	rc |= mbedtls_sha256_starts_ret(&crypto_fp_outer, 0);
	rc |= mbedtls_sha256_update_ret(&crypto_fp_outer, pad, sizeof pad);
	mbedtls_platform_zeroize(pad, sizeof pad);
	if (rc != 0)
		fatalx("SHA-256 failed");	/* in software: never */
	crypto_fp_keyed = 1;
}

char *
crypto_fingerprint_digest(const unsigned char d[CRYPTO_SHA256_LEN],
    char out[CRYPTO_FP_LEN])
{
	mbedtls_sha256_context	c;
	unsigned char		key[CRYPTO_FP_KEY_LEN], m[CRYPTO_SHA256_LEN];
	int			rc = 0;

	if (!crypto_fp_keyed) {
		util_random(key, sizeof key);
		crypto_fingerprint_setkey(key);
		mbedtls_platform_zeroize(key, sizeof key);
	}
	mbedtls_sha256_init(&c);
	mbedtls_sha256_clone(&c, &crypto_fp_inner);
	rc |= mbedtls_sha256_update_ret(&c, d, CRYPTO_SHA256_LEN);
	rc |= mbedtls_sha256_finish_ret(&c, m);
	mbedtls_sha256_clone(&c, &crypto_fp_outer);
	rc |= mbedtls_sha256_update_ret(&c, m, sizeof m);
	rc |= mbedtls_sha256_finish_ret(&c, m);
	mbedtls_sha256_free(&c);
	if (rc != 0) {
		snprintf(out, CRYPTO_FP_LEN, "hmac:?");
		return (out);
	}
	return (crypto_fp_hex(out, "hmac:", m));
}

char *
crypto_fingerprint(const char *secret, size_t len, char out[CRYPTO_FP_LEN])
{
	unsigned char	d[CRYPTO_SHA256_LEN];

	crypto_sha256(secret, len, d);
	return (crypto_fingerprint_digest(d, out));
}

void
crypto_hmac_sha256(const void *key, size_t keylen, const void *msg,
    size_t len, unsigned char out[CRYPTO_SHA256_LEN])
{
	if (mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
	    key, keylen, msg, len, out) != 0)
		memset(out, 0, CRYPTO_SHA256_LEN);
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

/* --- ES256 keys ---------------------------------------------------------- */

static int
crypto_rng(void *arg, unsigned char *buf, size_t len)
{
	(void)arg;
	util_random(buf, len);
	return (0);
}

static int
crypto_key_generate(struct crypto_key *k, char **cause)
{
	int	rc;

	if ((rc = mbedtls_pk_setup(&k->pk,
	    mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) != 0 ||
	    (rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1,
	    mbedtls_pk_ec(k->pk), crypto_rng, NULL)) != 0) {
		xasprintf(cause, "cannot generate a P-256 key (mbedTLS "
		    "error -0x%04x)", (unsigned int)-rc);
		return (-1);
	}
	return (0);
}

/* Write the key as PEM to a new file; an existing file is left alone
 * (returns -2 then). */
static int
crypto_key_save(struct crypto_key *k, const char *path, char **cause)
{
	unsigned char	pem[CRYPTO_PEM_MAX];
	size_t		len;
	int		fd, rc, saved;

	if ((rc = mbedtls_pk_write_key_pem(&k->pk, pem, sizeof pem)) != 0) {
		xasprintf(cause, "cannot encode the key (mbedTLS error "
		    "-0x%04x)", (unsigned int)-rc);
		return (-1);
	}
	len = strlen((char *)pem);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600))
	    == -1) {
		saved = errno;
		mbedtls_platform_zeroize(pem, sizeof pem);
		xasprintf(cause, "%s: %s", path, strerror(saved));
		return (saved == EEXIST ? -2 : -1);
	}
	if (write(fd, pem, len) != (ssize_t)len || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		unlink(path);
		mbedtls_platform_zeroize(pem, sizeof pem);
		xasprintf(cause, "%s: %s", path, strerror(saved));
		return (-1);
	}
	mbedtls_platform_zeroize(pem, sizeof pem);
	close(fd);
	return (0);
}

static int
crypto_key_read(struct crypto_key *k, const char *path, char **cause)
{
	int	rc;

	if ((rc = mbedtls_pk_parse_keyfile(&k->pk, path, NULL)) != 0) {
		xasprintf(cause, "%s: not a readable PEM private key (mbedTLS "
		    "error -0x%04x)", path, (unsigned int)-rc);
		return (-1);
	}
	if (mbedtls_pk_get_type(&k->pk) != MBEDTLS_PK_ECKEY ||
	    mbedtls_pk_ec(k->pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
		xasprintf(cause, "%s: not a P-256 (prime256v1) EC key", path);
		return (-1);
	}
	return (0);
}

struct crypto_key *
crypto_key_open(const char *path, char **cause)
{
	struct crypto_key	*k;
	struct stat		 sb;
	int			 rc;

	k = xcalloc(1, sizeof *k);
	mbedtls_pk_init(&k->pk);
	if (path != NULL && stat(path, &sb) == 0) {
		if (crypto_key_read(k, path, cause) == -1)
			goto fail;
		return (k);
	}
	if (path != NULL && errno != ENOENT) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (crypto_key_generate(k, cause) == -1)
		goto fail;
	if (path != NULL && (rc = crypto_key_save(k, path, cause)) != 0) {
		/* Another process may have written one meanwhile: use it. */
		if (rc != -2)
			goto fail;
		free(*cause);
		*cause = NULL;
		mbedtls_pk_free(&k->pk);
		mbedtls_pk_init(&k->pk);
		if (crypto_key_read(k, path, cause) == -1)
			goto fail;
	}
	return (k);

fail:
	crypto_key_free(k);
	return (NULL);
}

void
crypto_key_free(struct crypto_key *k)
{
	if (k == NULL)
		return;
	mbedtls_pk_free(&k->pk);
	free(k);
}

void
crypto_key_public(const struct crypto_key *k, unsigned char x[CRYPTO_P256_LEN],
    unsigned char y[CRYPTO_P256_LEN])
{
	const mbedtls_ecp_keypair	*ec = mbedtls_pk_ec(k->pk);

	mbedtls_mpi_write_binary(&ec->Q.X, x, CRYPTO_P256_LEN);
	mbedtls_mpi_write_binary(&ec->Q.Y, y, CRYPTO_P256_LEN);
}

/*
 * ES256 of msg with k, the JWS way (r and s, big-endian, one after the
 * other): sign into out, or, with in, verify in.  mbedTLS's result code.
 */
static int
crypto_es256(const struct crypto_key *k, const void *msg, size_t len,
    unsigned char out[CRYPTO_ES256_SIGLEN],
    const unsigned char in[CRYPTO_ES256_SIGLEN])
{
	mbedtls_ecp_keypair	*ec = mbedtls_pk_ec(k->pk);
	mbedtls_mpi		 r, s;
	unsigned char		 hash[CRYPTO_SHA256_LEN];
	int			 rc;

	crypto_sha256(msg, len, hash);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	if (in != NULL) {
		rc = mbedtls_mpi_read_binary(&r, in, CRYPTO_P256_LEN);
		if (rc == 0)
			rc = mbedtls_mpi_read_binary(&s, in + CRYPTO_P256_LEN,
			    CRYPTO_P256_LEN);
		if (rc == 0)
			rc = mbedtls_ecdsa_verify(&ec->grp, hash, sizeof hash,
			    &ec->Q, &r, &s);
	} else {
		rc = mbedtls_ecdsa_sign(&ec->grp, &r, &s, &ec->d, hash,
		    sizeof hash, crypto_rng, NULL);
		if (rc == 0)
			rc = mbedtls_mpi_write_binary(&r, out, CRYPTO_P256_LEN);
		if (rc == 0)
			rc = mbedtls_mpi_write_binary(&s, out + CRYPTO_P256_LEN,
			    CRYPTO_P256_LEN);
	}
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	return (rc);
}

int
crypto_es256_sign(const struct crypto_key *k, const void *msg, size_t len,
    unsigned char sig[CRYPTO_ES256_SIGLEN])
{
	return (crypto_es256(k, msg, len, sig, NULL) == 0 ? 0 : -1);
}

int
crypto_es256_verify(const struct crypto_key *k, const void *msg, size_t len,
    const unsigned char sig[CRYPTO_ES256_SIGLEN])
{
	return (crypto_es256(k, msg, len, NULL, sig) == 0);
}
