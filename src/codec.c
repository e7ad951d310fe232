/*
 * codec.c: hex, base64 and UTF-8 for every other file (see codec.h).
 * These used to be written again wherever they were needed; one copy
 * means one set of tests (tests/unit/test_codec.c).
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "xmalloc.h"

/* --- hex ------------------------------------------------------------------ */

static const char codec_hexdigits[] = "0123456789abcdef";

int
codec_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

char *
codec_hex_encode(const void *buf, size_t len, char *out)
{
	const unsigned char	*p = buf;
	size_t			 i;

	for (i = 0; i < len; i++) {
		out[2 * i] = codec_hexdigits[p[i] >> 4];
		out[2 * i + 1] = codec_hexdigits[p[i] & 15];
	}
	out[2 * len] = '\0';
	return (out);
}

ssize_t
codec_hex_decode(const char *s, size_t len, void *out, size_t outlen)
{
	unsigned char	*o = out;
	size_t		 i;
	int		 hi, lo;

	if (len % 2 != 0 || len / 2 > outlen)
		return (-1);
	for (i = 0; i < len; i += 2) {
		if ((hi = codec_hex_digit((unsigned char)s[i])) == -1 ||
		    (lo = codec_hex_digit((unsigned char)s[i + 1])) == -1)
			return (-1);
		o[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return ((ssize_t)(len / 2));
}

/* --- base64 --------------------------------------------------------------- */

static const char codec_b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char codec_b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
codec_b64_encode(enum codec_b64 how, const void *buf, size_t len, char *out)
{
	const unsigned char	*p = buf;
	const char		*a;
	size_t			 i, o = 0;
	unsigned int		 v;

	a = how == CODEC_B64URL ? codec_b64_url : codec_b64_std;
	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned int)p[i] << 16 | (unsigned int)p[i + 1] << 8 |
		    p[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (i < len) {
		v = (unsigned int)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned int)p[i + 1] << 8;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		if (i + 1 < len)
			out[o++] = a[(v >> 6) & 63];
		if (how != CODEC_B64URL) {
			if (i + 1 == len)
				out[o++] = '=';
			out[o++] = '=';
		}
	}
	out[o] = '\0';
	return (o);
}

char *
codec_b64_encode_dup(enum codec_b64 how, const void *buf, size_t len)
{
	char	*out = xmalloc(CODEC_B64_SIZE(len));

	codec_b64_encode(how, buf, len, out);
	return (out);
}

/* Value of one base64 character in the alphabet(s) of how, or -1. */
static int
codec_b64_value(enum codec_b64 how, int c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if ((c == '+' && how != CODEC_B64URL) || (c == '-' && how != CODEC_B64))
		return (62);
	if ((c == '/' && how != CODEC_B64URL) || (c == '_' && how != CODEC_B64))
		return (63);
	return (-1);
}

ssize_t
codec_b64_decode(enum codec_b64 how, const char *s, size_t len, void *out,
    size_t outlen)
{
	unsigned char	*o = out;
	size_t		 i, n = 0;
	unsigned int	 acc = 0;
	int		 bits = 0, v;

	if (how == CODEC_B64URL) {
		if (len % 4 == 1)
			return (-1);
	} else {
		while (len > 0 && s[len - 1] == '=')
			len--;
	}
	for (i = 0; i < len; i++) {
		if ((v = codec_b64_value(how, (unsigned char)s[i])) == -1)
			return (-1);
		acc = (acc << 6 | (unsigned int)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == outlen)
				return (-1);
			o[n++] = (unsigned char)(acc >> bits);
		}
	}
	return ((ssize_t)n);
}

unsigned char *
codec_b64_decode_dup(enum codec_b64 how, const char *s, size_t len,
    size_t *outlen)
{
	unsigned char	*out;
	size_t		 room = len / 4 * 3 + 3;
	ssize_t		 n;

	out = xmalloc(room);
	if ((n = codec_b64_decode(how, s, len, out, room - 1)) == -1) {
		free(out);
		return (NULL);
	}
	out[n] = '\0';
	*outlen = (size_t)n;
	return (out);
}

/* --- UTF-8 ---------------------------------------------------------------- */

/*
 * The one decoder.  Scan the sequence at p[0] (len > 0) by Unicode's table
 * of well-formed byte sequences (3-7): the lead byte fixes how many
 * continuation bytes follow and the range of the first one.  Returns the
 * bytes read: the whole sequence, with *cp, when *ok is 1; else the
 * longest valid prefix (at least 1), which WHATWG replaces as one U+FFFD.
 */
static size_t
codec_utf8_scan(const unsigned char *p, size_t len, uint32_t *cp, int *ok)
{
	size_t		 need, k;
	uint32_t	 c;
	unsigned char	 b = p[0], lo = 0x80, hi = 0xbf;

	*ok = 0;
	if (b < 0x80) {
		*cp = b;
		*ok = 1;
		return (1);
	}
	if (b >= 0xc2 && b <= 0xdf) {
		need = 1;
		c = b & 0x1f;
	} else if (b >= 0xe0 && b <= 0xef) {
		need = 2;
		c = b & 0x0f;
		if (b == 0xe0)
			lo = 0xa0;	/* no overlong forms */
		else if (b == 0xed)
			hi = 0x9f;	/* no surrogates */
	} else if (b >= 0xf0 && b <= 0xf4) {
		need = 3;
		c = b & 0x07;
		if (b == 0xf0)
			lo = 0x90;	/* no overlong forms */
		else if (b == 0xf4)
			hi = 0x8f;	/* nothing above U+10FFFF */
	} else
		return (1);
	for (k = 1; k <= need; k++) {
		if (k >= len || p[k] < lo || p[k] > hi)
			return (k);
		c = (c << 6) | (p[k] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp = c;
	*ok = 1;
	return (need + 1);
}

size_t
codec_utf8_decode(const unsigned char *p, size_t len, uint32_t *cp)
{
	size_t	n;
	int	ok;

	if (len == 0)
		return (0);
	n = codec_utf8_scan(p, len, cp, &ok);
	return (ok ? n : 0);
}

uint32_t
codec_utf8_next(const unsigned char *p, size_t len, size_t *ip)
{
	uint32_t	cp;
	int		ok;

	*ip += codec_utf8_scan(p + *ip, len - *ip, &cp, &ok);
	return (ok ? cp : CODEC_REPLACEMENT);
}

size_t
codec_utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return (1);
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return (2);
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return (3);
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return (4);
}

int
codec_utf8_valid(const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	size_t			 i = 0, n;
	uint32_t		 cp;

	while (i < len) {
		if ((n = codec_utf8_decode(p + i, len - i, &cp)) == 0)
			return (0);
		i += n;
	}
	return (1);
}
