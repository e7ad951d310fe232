/* test_codec.c: hex, base64 and UTF-8 (codec.c). */
#include <stdint.h>
#include <string.h>

#include "codec.h"
#include "unit.h"

static void
test_hex(void)
{
	unsigned char	 out[4];
	char		 hex[9];
	int		 c, n = 0;

	CHECK_STR(codec_hex_encode("\x00\x7f\xab\xff", 4, hex), "007fabff");
	CHECK_STR(codec_hex_encode("", 0, hex), "");
	CHECK_INT(codec_hex_decode("007FabfF", 8, out, sizeof out), 4);
	CHECK(memcmp(out, "\x00\x7f\xab\xff", 4) == 0);
	CHECK_INT(codec_hex_decode("", 0, out, sizeof out), 0);
	CHECK_INT(codec_hex_decode("abc", 3, out, sizeof out), -1);	/* odd */
	CHECK_INT(codec_hex_decode("0g", 2, out, sizeof out), -1);
	CHECK_INT(codec_hex_decode(" 1", 2, out, sizeof out), -1);
	CHECK_INT(codec_hex_decode("0011223344", 10, out, sizeof out), -1);
	for (c = -1; c < 0x10000; c++)
		n += codec_hex_digit(c) != -1;
	CHECK_INT(n, 22);
	CHECK_INT(codec_hex_digit('F'), 15);
	CHECK_INT(codec_hex_digit('a'), 10);
	CHECK_INT(codec_hex_digit('9'), 9);
	CHECK_INT(codec_hex_digit(0xff10), -1);	/* fullwidth digit zero */
end:
	;
}

/* RFC 4648 section 10 vectors, both alphabets, both ways. */
static void
test_b64_vectors(void)
{
	static const struct {
		const char	*in, *std, *url;
	} v[] = {
		{ "", "", "" }, { "f", "Zg==", "Zg" }, { "fo", "Zm8=", "Zm8" },
		{ "foo", "Zm9v", "Zm9v" }, { "foob", "Zm9vYg==", "Zm9vYg" },
		{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
		{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
		/* bytes that use '-' and '_' where base64 has '+' and '/' */
		{ "\xfb\xff\xbf", "+/+/", "-_-_" },
	};
	char		 enc[16], *dup = NULL;
	unsigned char	 dec[16], *ddup = NULL;
	size_t		 i, len, n;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		n = strlen(v[i].in);
		CHECK_INT(codec_b64_encode(CODEC_B64, v[i].in, n, enc),
		    strlen(v[i].std));
		CHECK_STR(enc, v[i].std);
		CHECK(strlen(enc) < CODEC_B64_SIZE(n));
		codec_b64_encode(CODEC_B64URL, v[i].in, n, enc);
		CHECK_STR(enc, v[i].url);
		CHECK_INT(codec_b64_decode(CODEC_B64, v[i].std,
		    strlen(v[i].std), dec, sizeof dec), n);
		CHECK(memcmp(dec, v[i].in, n) == 0);
		CHECK_INT(codec_b64_decode(CODEC_B64URL, v[i].url,
		    strlen(v[i].url), dec, sizeof dec), n);
		CHECK(memcmp(dec, v[i].in, n) == 0);
		CHECK_INT(codec_b64_decode(CODEC_B64ANY, v[i].std,
		    strlen(v[i].std), dec, sizeof dec), n);
		CHECK_INT(codec_b64_decode(CODEC_B64ANY, v[i].url,
		    strlen(v[i].url), dec, sizeof dec), n);
		CHECK(memcmp(dec, v[i].in, n) == 0);
		dup = codec_b64_encode_dup(CODEC_B64URL, v[i].in, n);
		CHECK_STR(dup, v[i].url);
		ddup = codec_b64_decode_dup(CODEC_B64URL, dup, strlen(dup),
		    &len);
		CHECK(ddup != NULL);
		CHECK_INT(len, n);
		CHECK(memcmp(ddup, v[i].in, n) == 0);
		CHECK_INT(ddup[len], 0);
		free(dup);
		free(ddup);
		dup = NULL;
		ddup = NULL;
	}
end:
	free(dup);
	free(ddup);
}

static void
test_b64_rejects(void)
{
	unsigned char	 out[8];
	size_t		 len;

	/* base64url (JWS) is strict: no padding, no other alphabet. */
	CHECK(codec_b64_decode_dup(CODEC_B64URL, "Zm9v=", 5, &len) == NULL);
	CHECK(codec_b64_decode_dup(CODEC_B64URL, "Zm+v", 4, &len) == NULL);
	CHECK(codec_b64_decode_dup(CODEC_B64URL, "Zm/v", 4, &len) == NULL);
	CHECK(codec_b64_decode_dup(CODEC_B64URL, "Z", 1, &len) == NULL);
	CHECK(codec_b64_decode_dup(CODEC_B64URL, "Zm9vY", 5, &len) == NULL);
	CHECK(codec_b64_decode_dup(CODEC_B64URL, "Zm 9", 4, &len) == NULL);
	/* Standard base64 takes no URL alphabet; either takes both. */
	CHECK_INT(codec_b64_decode(CODEC_B64, "-_-_", 4, out, sizeof out), -1);
	CHECK_INT(codec_b64_decode(CODEC_B64, "Zm 9", 4, out, sizeof out), -1);
	CHECK_INT(codec_b64_decode(CODEC_B64ANY, "+_-/", 4, out, sizeof out),
	    3);
	CHECK(memcmp(out, "\xfb\xff\xbf", 3) == 0);
	CHECK_INT(codec_b64_decode(CODEC_B64ANY, "Zm=9", 4, out, sizeof out),
	    -1);
	/* No room: -1, never a write past outlen. */
	out[2] = 'x';
	CHECK_INT(codec_b64_decode(CODEC_B64ANY, "Zm9v", 4, out, 2), -1);
	CHECK_INT(out[2], 'x');
end:
	;
}

/* The well-formed rule as Unicode states it, written independently. */
static size_t
ref_utf8(const unsigned char *p, size_t len, uint32_t *cp)
{
	size_t		n, k;
	uint32_t	c, min;

	if (len == 0)
		return (0);
	if (p[0] < 0x80) {
		*cp = p[0];
		return (1);
	}
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		c = p[0] & 0x1f;
		min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		c = p[0] & 0x0f;
		min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		c = p[0] & 0x07;
		min = 0x10000;
	} else
		return (0);
	if (n > len)
		return (0);
	for (k = 1; k < n; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return (0);
		c = c << 6 | (p[k] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return (0);
	*cp = c;
	return (n);
}

/* Every sequence of up to three bytes, and the four-byte leads with
 * each second byte, against the reference. */
static void
test_utf8_decode_exhaustive(void)
{
	unsigned char	 b[4];
	uint32_t	 cp = 0, rcp = 0, v;
	size_t		 n, rn, len;
	char		 enc[CODEC_UTF8_MAX];

	for (v = 0; v < 0x1000000; v++) {
		b[0] = (unsigned char)(v >> 16);
		b[1] = (unsigned char)(v >> 8);
		b[2] = (unsigned char)v;
		/* Shorter lengths once per prefix. */
		for (len = 3; len >= 1; len--) {
			if ((len == 2 && (v & 0xff) != 0) ||
			    (len == 1 && (v & 0xffff) != 0))
				break;
			n = codec_utf8_decode(b, len, &cp);
			rn = ref_utf8(b, len, &rcp);
			if (n != rn || (n > 0 && cp != rcp))
				UNIT_FAIL("%02x %02x %02x (len %zu): %zu/%zu",
				    b[0], b[1], b[2], len, n, rn);
		}
	}
	for (v = 0; v < 0x10000; v++) {
		b[0] = (unsigned char)(v >> 8);
		b[1] = (unsigned char)v;
		b[2] = 0x80;
		b[3] = 0xbf;
		n = codec_utf8_decode(b, 4, &cp);
		rn = ref_utf8(b, 4, &rcp);
		if (n != rn || (n > 0 && cp != rcp))
			UNIT_FAIL("%02x %02x 80 bf: %zu/%zu", b[0], b[1], n,
			    rn);
	}
	/* Encoding every scalar value reads back. */
	for (v = 0; v <= 0x10ffff; v++) {
		if (v >= 0xd800 && v <= 0xdfff)
			continue;
		n = codec_utf8_encode(v, enc);
		if (codec_utf8_decode((unsigned char *)enc, n, &cp) != n ||
		    cp != v)
			UNIT_FAIL("U+%04X does not read back", (unsigned)v);
	}
	CHECK_INT(codec_utf8_decode(b, 0, &cp), 0);
end:
	;
}

/* WHATWG's maximal subparts (Unicode's table 3-8 example and friends). */
static void
test_utf8_next_replacement(void)
{
	static const struct {
		const char	*in;
		uint32_t	 want[12];
	} v[] = {
		{ "a\xc3\xa9z", { 'a', 0xe9, 'z' } },
		{ "\xf0\x9f\x98\x80", { 0x1f600 } },
		/* Table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 */
		{ "a\xf1\x80\x80\xe1\x80\xc2" "b\x80" "c\x80\xbf" "d",
		  { 'a', 0xfffd, 0xfffd, 0xfffd, 'b', 0xfffd, 'c', 0xfffd,
		    0xfffd, 'd' } },
		{ "\xed\xa0\x80", { 0xfffd, 0xfffd, 0xfffd } },	/* surrogate */
		{ "\xc0\xaf", { 0xfffd, 0xfffd } },		/* overlong */
		{ "\xf4\x90\x80\x80", { 0xfffd, 0xfffd, 0xfffd, 0xfffd } },
		{ "\xe2\x82", { 0xfffd } },			/* truncated */
	};
	size_t		 i, k, pos, len;
	uint32_t	 cp;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		len = strlen(v[i].in);
		pos = 0;
		for (k = 0; pos < len; k++) {
			cp = codec_utf8_next((const unsigned char *)v[i].in,
			    len, &pos);
			if (k >= 12 || cp != v[i].want[k])
				UNIT_FAIL("case %zu, code point %zu: U+%04X",
				    i, k, (unsigned)cp);
		}
		if (k < 12 && v[i].want[k] != 0)
			UNIT_FAIL("case %zu: only %zu code points", i, k);
	}
	CHECK(codec_utf8_valid("", 0));
	CHECK(codec_utf8_valid("a\xc3\xa9\xf0\x9f\x98\x80", 7));
	CHECK(!codec_utf8_valid("a\xc3", 2));
	CHECK(!codec_utf8_valid("\xed\xa0\x80", 3));
	CHECK(codec_utf8_valid("a\0b", 3));
end:
	;
}

static const struct unit_test tests[] = {
	{ "hex: both ways, either case, odd and junk refused", test_hex },
	{ "base64: RFC 4648 vectors, both alphabets", test_b64_vectors },
	{ "base64: strict JWS form, junk and no room", test_b64_rejects },
	{ "UTF-8: every short sequence against Unicode's rule",
	    test_utf8_decode_exhaustive },
	{ "UTF-8: WHATWG replacement of maximal subparts",
	    test_utf8_next_replacement },
	{ NULL, NULL }
};

UNIT_MAIN(tests)
