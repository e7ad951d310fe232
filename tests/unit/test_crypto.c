/*
 * test_crypto.c: HMAC, ES256 signatures and the signing key file (base64url
 * is in test_codec.c).
 */
#include <sys/stat.h>

#include "unit.h"

#include "crypto.h"

static void
test_es256_sign_verify(void)
{
	struct crypto_key	*k = NULL, *other = NULL;
	unsigned char		 sig[CRYPTO_ES256_SIGLEN];
	char			*cause = NULL;
	const char		*msg = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0";

	k = crypto_key_open(NULL, &cause);
	CHECK(k != NULL);
	other = crypto_key_open(NULL, &cause);
	CHECK(other != NULL);
	CHECK_INT(crypto_es256_sign(k, msg, strlen(msg), sig), 0);
	CHECK_INT(crypto_es256_verify(k, msg, strlen(msg), sig), 1);
	/* Another message, another key, a flipped bit: all refused. */
	CHECK_INT(crypto_es256_verify(k, msg, strlen(msg) - 1, sig), 0);
	CHECK_INT(crypto_es256_verify(other, msg, strlen(msg), sig), 0);
	sig[10] ^= 1;
	CHECK_INT(crypto_es256_verify(k, msg, strlen(msg), sig), 0);
end:
	crypto_key_free(k);
	crypto_key_free(other);
	free(cause);
}

/* The key file is made once (mode 0600) and read back the next time. */
static void
test_key_file(void)
{
	char			 dir[] = "/tmp/test_crypto.XXXXXX", path[64];
	struct crypto_key	*a = NULL, *b = NULL;
	unsigned char		 ax[32], ay[32], bx[32], by[32];
	unsigned char		 sig[CRYPTO_ES256_SIGLEN];
	struct stat		 sb;
	char			*cause = NULL;
	FILE			*f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/key.pem", dir);
	a = crypto_key_open(path, &cause);
	CHECK(a != NULL);
	CHECK(stat(path, &sb) == 0);
	CHECK_INT(sb.st_mode & 0777, 0600);
	b = crypto_key_open(path, &cause);
	CHECK(b != NULL);
	crypto_key_public(a, ax, ay);
	crypto_key_public(b, bx, by);
	CHECK(memcmp(ax, bx, 32) == 0 && memcmp(ay, by, 32) == 0);
	CHECK_INT(crypto_es256_sign(a, "x", 1, sig), 0);
	CHECK_INT(crypto_es256_verify(b, "x", 1, sig), 1);
	crypto_key_free(b);
	b = NULL;

	/* Junk in the file is an error, not a silent new key. */
	CHECK((f = fopen(path, "w")) != NULL);
	fputs("not a key\n", f);
	fclose(f);
	b = crypto_key_open(path, &cause);
	CHECK(b == NULL);
	CHECK(cause != NULL && strstr(cause, path) != NULL);
end:
	crypto_key_free(a);
	crypto_key_free(b);
	free(cause);
	unlink(path);
	rmdir(dir);
}

/* RFC 4231 test case 2 (the token check of `notimock lint --url`). */
static void
test_hmac_sha256(void)
{
	static const unsigned char	 want[] = {
		0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04,
		0x24, 0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08,
		0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec,
		0x38, 0x43
	};
	unsigned char			 out[CRYPTO_SHA256_LEN];

	crypto_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28,
	    out);
	CHECK(memcmp(out, want, sizeof out) == 0);
end:
	;
}

static const struct unit_test tests[] = {
	{ "HMAC-SHA256: RFC 4231 case 2", test_hmac_sha256 },
	{ "ES256: sign, verify, refuse tampering", test_es256_sign_verify },
	{ "key file: made 0600 once, then read back", test_key_file },
	{ NULL, NULL }
};

UNIT_MAIN(tests)
