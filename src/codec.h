/*
 * codec.h: hex, base64 and UTF-8, written once.  No library behind them and
 * no allocation except where a name ends in _dup; every function is safe on
 * client bytes (lengths are explicit, nothing reads past len).
 */
#ifndef NOTIMOCK_CODEC_H
#define NOTIMOCK_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* --- hex ------------------------------------------------------------------ */

/* Value of one hex digit (either case), or -1. */
int		 codec_hex_digit(int c);
/* len bytes as lower-case hex into out (2 * len + 1 bytes, NUL-terminated).
 * Returns out. */
char		*codec_hex_encode(const void *buf, size_t len, char *out);
/* len hex digits (even, either case) into out (outlen bytes at most).
 * Returns the byte count, or -1 on an odd length, a non-digit or no room. */
ssize_t		 codec_hex_decode(const char *s, size_t len, void *out,
		    size_t outlen);

/* --- base64 --------------------------------------------------------------- */

enum codec_b64 {
	CODEC_B64,	/* RFC 4648 section 4: '+' '/', '=' padding */
	CODEC_B64URL,	/* section 5 without padding (JWS, RFC 7515) */
	/* Decoding only: either alphabet, '=' padding optional (what people
	 * paste: a token they base64-encoded one way or the other). */
	CODEC_B64ANY
};

/* Room codec_b64_encode needs for len bytes, NUL included. */
#define CODEC_B64_SIZE(len)	(((len) + 2) / 3 * 4 + 1)

/* len bytes into out (CODEC_B64_SIZE(len) bytes), NUL-terminated, in
 * CODEC_B64 or CODEC_B64URL form.  Returns the length written. */
size_t		 codec_b64_encode(enum codec_b64, const void *buf, size_t len,
		    char *out);
/* The same into a new string the caller frees. */
char		*codec_b64_encode_dup(enum codec_b64, const void *buf,
		    size_t len);
/*
 * len characters into out (outlen bytes at most).  CODEC_B64URL is strict:
 * its alphabet only, no padding, and not a length that leaves a lone
 * character (len % 4 == 1).  CODEC_B64ANY takes either alphabet and
 * ignores trailing '='.  CODEC_B64: its alphabet, trailing '=' ignored.
 * Bits left over at the end are dropped.  Returns the byte count, or -1 on
 * junk or when out is too small ((len + 3) / 4 * 3 always suffices).
 */
ssize_t		 codec_b64_decode(enum codec_b64, const char *s, size_t len,
		    void *out, size_t outlen);
/* The same into a new buffer the caller frees (NUL-terminated for
 * convenience, not counted in *outlen), or NULL on junk. */
unsigned char	*codec_b64_decode_dup(enum codec_b64, const char *s,
		    size_t len, size_t *outlen);

/* --- UTF-8 ---------------------------------------------------------------- */

#define CODEC_REPLACEMENT	0xfffd	/* U+FFFD, for what is not UTF-8 */
#define CODEC_UTF8_MAX		4	/* bytes of the longest sequence */

/* Length of the well-formed UTF-8 sequence at p (at most len bytes: no
 * overlong forms, surrogates or code points above U+10FFFF) with its code
 * point in *cp, or 0 if there is none (also when len is 0). */
size_t		 codec_utf8_decode(const unsigned char *p, size_t len,
		    uint32_t *cp);
/*
 * Decode the code point at p[*ip] (*ip < len) and advance *ip, as WHATWG's
 * decoder does (V8's, hence Node's and browsers'): an ill-formed sequence
 * gives one U+FFFD for its longest valid prefix (at least one byte), and
 * the byte that broke it is read again.
 */
uint32_t	 codec_utf8_next(const unsigned char *p, size_t len,
		    size_t *ip);
/* cp (at most U+10FFFF; surrogates are written as they are) as UTF-8 into
 * out (CODEC_UTF8_MAX bytes, not NUL-terminated).  Returns its length. */
size_t		 codec_utf8_encode(uint32_t cp, char *out);
/* 1 if len bytes at p are all well-formed UTF-8, else 0. */
int		 codec_utf8_valid(const void *p, size_t len);

#endif
