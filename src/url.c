/*
 * url.c: enough of the WHATWG URL parser to answer Backstage's link check.
 *
 * Backstage runs `new URL(link, base)` and then looks at url.protocol, so
 * all we need from a parse is whether it fails and which scheme the result
 * has.  The state machine below follows the "basic URL parser" of the URL
 * Standard state by state up to the point where nothing can fail any more
 * (path, query, fragment and opaque paths never fail), and keeps none of
 * the URL's parts except its scheme.
 *
 * Host parsing is complete for IPv4, IPv6 and opaque hosts.  Domain names
 * get the part of UTS #46 (domain to ASCII) that decides success on the
 * inputs people send: ASCII is lower-cased, full-width forms and ideographic
 * full stops are folded, ignored code points are dropped, code points that
 * are disallowed everywhere (controls, U+FFFD, private use, noncharacters,
 * bidi controls, joiners, spaces, unassigned planes) fail, a label may not
 * start with a combining mark, and "xn--" labels must hold valid Punycode.
 * Other non-ASCII code points are taken to be valid: without Unicode tables
 * we cannot enforce unassigned code points, symbols that UTS #46 disallows,
 * compatibility mappings (U+2115 is "n") or the Bidi rule, so a few exotic
 * hosts that Node rejects are accepted here.  Nothing Node accepts is
 * rejected, except ZWJ/ZWNJ after a virama.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "url.h"
#include "xmalloc.h"

#define URL_EOF		(-1)
#define URL_MAXCP	0x10ffff

struct url {
	char	*scheme;	/* lower case, without ':' */
	int	 special;	/* http, https, ws, wss, ftp or file */
	int	 opaque;	/* has an opaque path ("mailto:x") */
};

enum url_state {
	S_SCHEME_START,
	S_SCHEME,
	S_NO_SCHEME,
	S_SPECIAL_RELATIVE_OR_AUTHORITY,
	S_PATH_OR_AUTHORITY,
	S_RELATIVE,
	S_RELATIVE_SLASH,
	S_SPECIAL_AUTHORITY_SLASHES,
	S_SPECIAL_AUTHORITY_IGNORE_SLASHES,
	S_AUTHORITY,
	S_HOST,
	S_PORT,
	S_FILE,
	S_FILE_SLASH,
	S_FILE_HOST
};

static const char *const url_special[] = {
	"ftp", "file", "http", "https", "ws", "wss", NULL
};

static char	*url_preprocess(const char *, size_t *);
static int	 url_parse(const char *, const struct url *, struct url *);
static void	 url_clear(struct url *);
static int	 url_host(const char *, size_t, int);
static int	 url_opaque_host(const char *, size_t);
static int	 url_domain(const char *, size_t);
static int	 url_map(uint32_t, uint32_t *);
static int	 url_disallowed(uint32_t);
static int	 url_punycode(const uint32_t *, size_t, uint32_t **, size_t *);
static int	 url_punycode_invalid(uint32_t);
static int	 url_ends_in_number(const char *, size_t);
static int	 url_ipv4_number(const char *, size_t, uint64_t *);
static int	 url_ipv4(const char *, size_t);
static int	 url_ipv6(const char *, size_t);

static int
url_is_alpha(int c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

static int
url_is_digit(int c)
{
	return (c >= '0' && c <= '9');
}

/* A combining mark of the generic blocks: it may not start a label. */
static int
url_is_combining(uint32_t c)
{
	return ((c >= 0x300 && c <= 0x36f) || (c >= 0x1ab0 && c <= 0x1aff) ||
	    (c >= 0x1dc0 && c <= 0x1dff) || (c >= 0x20d0 && c <= 0x20ff) ||
	    (c >= 0xfe20 && c <= 0xfe2f));
}

/* A forbidden host code point (opaque hosts). */
static int
url_forbidden_host(int c)
{
	return (c == 0 || c == '\t' || c == '\n' || c == '\r' || c == ' ' ||
	    c == '#' || c == '/' || c == ':' || c == '<' || c == '>' ||
	    c == '?' || c == '@' || c == '[' || c == '\\' || c == ']' ||
	    c == '^' || c == '|');
}

/* A forbidden domain code point (hosts of special URLs). */
static int
url_forbidden_domain(uint32_t c)
{
	return (url_forbidden_host(c) || c <= 0x1f || c == '%' || c == 0x7f);
}

/*
 * Strip leading and trailing C0 controls and spaces, and remove every tab
 * and newline, as the parser does before it starts.  Returns a new string.
 */
static char *
url_preprocess(const char *in, size_t *lenp)
{
	const unsigned char	*s = (const unsigned char *)in, *e;
	char			*out, *o;

	while (*s != '\0' && *s <= 0x20)
		s++;
	e = s + strlen((const char *)s);
	while (e > s && e[-1] <= 0x20)
		e--;
	out = o = xmalloc(e - s + 1);
	for (; s < e; s++) {
		if (*s != '\t' && *s != '\n' && *s != '\r')
			*o++ = *s;
	}
	*o = '\0';
	*lenp = o - out;
	return (out);
}

static void
url_clear(struct url *u)
{
	free(u->scheme);
	memset(u, 0, sizeof *u);
}

static void
url_set_scheme(struct url *u, const char *s, size_t n)
{
	size_t	i;
	int	j;

	free(u->scheme);
	u->scheme = xstrndup(s, n);
	for (i = 0; i < n; i++) {
		if (u->scheme[i] >= 'A' && u->scheme[i] <= 'Z')
			u->scheme[i] += 32;
	}
	u->special = 0;
	for (j = 0; url_special[j] != NULL; j++) {
		if (strcmp(u->scheme, url_special[j]) == 0)
			u->special = 1;
	}
}

/* Is c one of the code points that end an authority, host or port? */
static int
url_ends_host(const struct url *u, int c)
{
	return (c == URL_EOF || c == '/' || c == '?' || c == '#' ||
	    (u->special && c == '\\'));
}

/*
 * The basic URL parser, without a URL or state override.  Returns 0 and
 * fills u (scheme, special, opaque) if in parses against base (which may be
 * NULL), -1 where the parser returns failure.
 *
 * Long on purpose: it is the WHATWG state machine, one case per state of
 * the standard and in its order, so that it reads against the standard
 * line by line; split, the states would pass the buffer, the position and
 * the URL back and forth.
 */
static int
url_parse(const char *in, const struct url *base, struct url *u)
{
	enum url_state	 state = S_SCHEME_START;
	char		*s;
	size_t		 len;
	long		 p, bs = -1, hs = -1;
	int		 c, rv = -1, at_seen = 0, brackets = 0, digits = 0;
	long		 port = 0;

	memset(u, 0, sizeof *u);
	s = url_preprocess(in, &len);
	for (p = 0;; p++) {
		c = p < (long)len ? (unsigned char)s[p] : URL_EOF;
		switch (state) {
		case S_SCHEME_START:
			if (url_is_alpha(c))
				state = S_SCHEME;
			else {
				state = S_NO_SCHEME;
				p--;
			}
			break;
		case S_SCHEME:
			if (c != URL_EOF && (url_is_alpha(c) ||
			    url_is_digit(c) || c == '+' || c == '-' ||
			    c == '.'))
				break;
			if (c != ':') {
				/* Not a scheme after all: start over. */
				state = S_NO_SCHEME;
				p = -1;
				break;
			}
			url_set_scheme(u, s, p);
			if (strcmp(u->scheme, "file") == 0)
				state = S_FILE;
			else if (u->special && base != NULL &&
			    strcmp(base->scheme, u->scheme) == 0)
				state = S_SPECIAL_RELATIVE_OR_AUTHORITY;
			else if (u->special)
				state = S_SPECIAL_AUTHORITY_SLASHES;
			else if (p + 1 < (long)len && s[p + 1] == '/') {
				state = S_PATH_OR_AUTHORITY;
				p++;
			} else {
				u->opaque = 1;
				goto ok;
			}
			break;
		case S_NO_SCHEME:
			/*
			 * The standard wants c == '#' here, then keeps the
			 * base's opaque path.  Node's parser (Ada) takes any
			 * input with a '#' somewhere and resolves it like
			 * against a hierarchical base ("a#" against "mailto:x"
			 * gives "mailto:x/a#", "//]#" fails on its host); we do
			 * as Node does.
			 */
			if (base == NULL || (base->opaque &&
			    memchr(s, '#', len) == NULL))
				goto out;
			state = strcmp(base->scheme, "file") == 0 ? S_FILE :
			    S_RELATIVE;
			p--;
			break;
		case S_SPECIAL_RELATIVE_OR_AUTHORITY:
			if (c == '/' && p + 1 < (long)len && s[p + 1] == '/') {
				state = S_SPECIAL_AUTHORITY_IGNORE_SLASHES;
				p++;
			} else {
				state = S_RELATIVE;
				p--;
			}
			break;
		case S_PATH_OR_AUTHORITY:
			if (c == '/')
				state = S_AUTHORITY;
			else
				goto ok;	/* path state */
			break;
		case S_RELATIVE:
			url_set_scheme(u, base->scheme, strlen(base->scheme));
			if (c == '/' || (u->special && c == '\\'))
				state = S_RELATIVE_SLASH;
			else
				goto ok;	/* base's host, then path */
			break;
		case S_RELATIVE_SLASH:
			if (u->special && (c == '/' || c == '\\'))
				state = S_SPECIAL_AUTHORITY_IGNORE_SLASHES;
			else if (c == '/')
				state = S_AUTHORITY;
			else
				goto ok;	/* base's host, then path */
			break;
		case S_SPECIAL_AUTHORITY_SLASHES:
			state = S_SPECIAL_AUTHORITY_IGNORE_SLASHES;
			if (c == '/' && p + 1 < (long)len && s[p + 1] == '/')
				p++;
			else
				p--;
			break;
		case S_SPECIAL_AUTHORITY_IGNORE_SLASHES:
			if (c != '/' && c != '\\') {
				state = S_AUTHORITY;
				p--;
			}
			break;
		case S_AUTHORITY:
			/* The buffer is s[bs..p): what follows the last '@'. */
			if (bs < 0)
				bs = p;
			if (c == '@') {
				at_seen = 1;
				bs = p + 1;
			} else if (url_ends_host(u, c)) {
				if (at_seen && p == bs)
					goto out;	/* "http://u@/" */
				p = bs - 1;
				state = S_HOST;
			}
			break;
		case S_HOST:
			if (hs < 0)
				hs = p;
			if (c == ':' && !brackets) {
				if (p == hs)
					goto out;	/* "http://:80/" */
				if (url_host(s + hs, p - hs, !u->special) == -1)
					goto out;
				state = S_PORT;
			} else if (url_ends_host(u, c)) {
				if (u->special && p == hs)
					goto out;	/* "http:///" */
				if (url_host(s + hs, p - hs, !u->special) == -1)
					goto out;
				goto ok;	/* path start */
			} else if (c == '[')
				brackets = 1;
			else if (c == ']')
				brackets = 0;
			break;
		case S_PORT:
			if (url_is_digit(c)) {
				/* Only "more than 65535" matters. */
				if (port <= 65535)
					port = port * 10 + (c - '0');
				digits++;
			} else if (url_ends_host(u, c)) {
				if (digits > 0 && port > 65535)
					goto out;
				goto ok;
			} else
				goto out;	/* "http://a:b/" */
			break;
		case S_FILE:
			url_set_scheme(u, "file", 4);
			if (c == '/' || c == '\\')
				state = S_FILE_SLASH;
			else
				goto ok;	/* path */
			break;
		case S_FILE_SLASH:
			if (c == '/' || c == '\\')
				state = S_FILE_HOST;
			else
				goto ok;
			break;
		case S_FILE_HOST:
			if (hs < 0)
				hs = p;
			if (c != URL_EOF && c != '/' && c != '\\' && c != '?' &&
			    c != '#')
				break;
			/* A drive letter ("file://C:/") is a path. */
			if (p - hs == 2 && url_is_alpha(s[hs]) &&
			    (s[hs + 1] == ':' || s[hs + 1] == '|'))
				goto ok;
			if (p == hs)
				goto ok;
			if (url_host(s + hs, p - hs, 0) == -1)
				goto out;
			goto ok;
		}
		if (p >= (long)len)
			break;
	}
ok:
	rv = 0;
out:
	free(s);
	if (rv == -1)
		url_clear(u);
	return (rv);
}

/* The host parser.  Returns 0 if s[0..n) is a valid host, else -1. */
static int
url_host(const char *s, size_t n, int opaque)
{
	if (n > 0 && s[0] == '[') {
		if (s[n - 1] != ']' || n < 2)
			return (-1);
		return (url_ipv6(s + 1, n - 2));
	}
	if (opaque)
		return (url_opaque_host(s, n));
	return (url_domain(s, n));
}

/* Non-special URLs keep their host as written, minus a few characters. */
static int
url_opaque_host(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (url_forbidden_host((unsigned char)s[i]))
			return (-1);
	}
	return (0);
}

/*
 * Decode one UTF-8 sequence from s (n > 0 bytes) into *cp and return its
 * length.  Anything ill-formed (overlong, surrogate, truncated, out of
 * range) gives U+FFFD for its first byte, which a domain never accepts.
 */
static size_t
url_utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t	len;

	if ((len = codec_utf8_decode(s, n, cp)) == 0) {
		*cp = CODEC_REPLACEMENT;
		len = 1;
	}
	return (len);
}

/*
 * Code points that UTS #46 disallows outright, whatever their position:
 * C1 controls, bidi and other format controls, line and paragraph
 * separators, private use, noncharacters, specials and U+FFFD.
 */
static int
url_disallowed(uint32_t c)
{
	if (c >= 0x80 && c <= 0x9f)
		return (1);
	if (c == 0x200e || c == 0x200f || (c >= 0x2028 && c <= 0x202e) ||
	    (c >= 0x2066 && c <= 0x2069))
		return (1);
	if ((c >= 0xd800 && c <= 0xdfff) || (c >= 0xe000 && c <= 0xf8ff) ||
	    c >= 0xf0000)
		return (1);
	/* Unassigned planes (after CJK Extension H) and the tag block. */
	if ((c >= 0x2fa20 && c <= 0x2ffff) || (c >= 0x323b0 &&
	    c <= 0xe00ff) || (c >= 0xe01f0 && c <= 0xeffff))
		return (1);
	if ((c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) == 0xfffe)
		return (1);
	if (c >= 0xfff9 && c <= 0xfffd)
		return (1);
	/* ZWNJ and ZWJ only pass after a virama, which we do not model. */
	if (c == 0x200c || c == 0x200d)
		return (1);
	return (0);
}

/*
 * Map one code point as UTS #46 does for the cases we know.  Returns 1
 * with the mapping in *out, 0 if the code point is ignored (dropped), -1
 * if it is disallowed.
 */
static int
url_map(uint32_t c, uint32_t *out)
{
	if (c >= 'A' && c <= 'Z')
		c += 32;
	else if (c >= 0xff01 && c <= 0xff5e) {
		/* Full-width ASCII. */
		c -= 0xfee0;
		if (c >= 'A' && c <= 'Z')
			c += 32;
	} else if (c == 0x3002 || c == 0xff61)
		c = '.';	/* ideographic full stops */
	else if (c == 0xa0 || (c >= 0x2000 && c <= 0x200a) || c == 0x202f ||
	    c == 0x205f || c == 0x3000)
		c = ' ';	/* compatibility spaces; fail later */
	else if (c == 0xad || c == 0x34f || (c >= 0x180b && c <= 0x180d) ||
	    c == 0x180f || c == 0x200b || c == 0x2060 || c == 0xfeff ||
	    (c >= 0xfe00 && c <= 0xfe0f) || (c >= 0xe0100 && c <= 0xe01ef))
		return (0);
	else if (url_disallowed(c))
		return (-1);
	*out = c;
	return (1);
}

static uint32_t
url_puny_adapt(uint32_t delta, uint32_t npoints, int first)
{
	uint32_t	k = 0;

	delta = first ? delta / 700 : delta / 2;
	delta += delta / npoints;
	while (delta > ((36 - 1) * 26) / 2) {
		delta /= 36 - 1;
		k += 36;
	}
	return (k + (36 * delta) / (delta + 38));
}

/*
 * Punycode (RFC 3492) decoding of the label after "xn--".  Returns 0 and
 * a new array of code points, or -1 if the label is not valid Punycode.
 */
static int
url_punycode(const uint32_t *in, size_t n, uint32_t **outp, size_t *outlenp)
{
	uint32_t	*out, cp = 128, i = 0, bias = 72, oldi, w, k, t;
	uint32_t	 digit;
	size_t		 outlen = 0, b = 0, j, pos;
	int		 have_delim = 0;

	for (j = 0; j < n; j++) {
		if (in[j] == '-') {
			b = j;
			have_delim = 1;
		}
	}
	out = xreallocarray(NULL, n + 1, sizeof *out);
	if (have_delim) {
		for (j = 0; j < b; j++)
			out[outlen++] = in[j];
		j = b + 1;
	} else
		j = 0;
	while (j < n) {
		oldi = i;
		w = 1;
		for (k = 36;; k += 36) {
			if (j >= n)
				goto bad;
			if (in[j] >= 'a' && in[j] <= 'z')
				digit = in[j] - 'a';
			else if (in[j] >= 'A' && in[j] <= 'Z')
				digit = in[j] - 'A';
			else if (in[j] >= '0' && in[j] <= '9')
				digit = in[j] - '0' + 26;
			else
				goto bad;
			j++;
			if (digit > (UINT32_MAX - i) / w)
				goto bad;
			i += digit * w;
			t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
			if (digit < t)
				break;
			if (w > UINT32_MAX / (36 - t))
				goto bad;
			w *= 36 - t;
		}
		bias = url_puny_adapt(i - oldi, outlen + 1, oldi == 0);
		if (i / (outlen + 1) > URL_MAXCP - cp)
			goto bad;
		cp += i / (outlen + 1);
		i %= outlen + 1;
		pos = i;
		memmove(out + pos + 1, out + pos,
		    (outlen - pos) * sizeof *out);
		out[pos] = cp;
		outlen++;
		i++;
	}
	*outp = out;
	*outlenp = outlen;
	return (0);
bad:
	free(out);
	return (-1);
}

/*
 * May cp appear in a decoded "xn--" label?  Not if UTS #46 would map it:
 * upper case (ASCII, Latin-1, basic Greek and Cyrillic), full-width forms,
 * ignored and disallowed code points, nor a forbidden domain code point.
 */
static int
url_punycode_invalid(uint32_t cp)
{
	uint32_t	m;

	if (cp < 0x80)
		return (url_forbidden_domain(cp) || (cp >= 'A' && cp <= 'Z'));
	if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7) ||
	    (cp >= 0x391 && cp <= 0x3ab && cp != 0x3a2) ||
	    (cp >= 0x400 && cp <= 0x42f))
		return (1);
	return (url_map(cp, &m) != 1 || m != cp);
}

/*
 * A domain of a special URL: percent-decode, UTF-8 decode, map (domain to
 * ASCII), check the code points, and hand a name that ends in a number to
 * the IPv4 parser.
 */
static int
url_domain(const char *s, size_t n)
{
	unsigned char	*dec;
	uint32_t	*cps = NULL, *puny, cp, m;
	char		*ascii = NULL;
	size_t		 dlen = 0, ncp = 0, i, j, start, plen;
	int		 rv = -1;

	dec = xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    codec_hex_digit((unsigned char)s[i + 1]) != -1 &&
		    codec_hex_digit((unsigned char)s[i + 2]) != -1) {
			dec[dlen++] = codec_hex_digit(s[i + 1]) << 4 |
			    codec_hex_digit(s[i + 2]);
			i += 2;
		} else
			dec[dlen++] = s[i];
	}

	cps = xreallocarray(NULL, dlen + 1, sizeof *cps);
	for (i = 0; i < dlen; i += j) {
		j = url_utf8(dec + i, dlen - i, &cp);
		switch (url_map(cp, &m)) {
		case -1:
			goto out;
		case 1:
			cps[ncp++] = m;
			break;
		}
	}
	if (ncp == 0)
		goto out;

	/*
	 * Check each label.  For the IPv4 test that follows, a label with
	 * non-ASCII code points (which would become "xn--...") stands in as
	 * the letter 'g', which no number contains.
	 */
	ascii = xmalloc(ncp + 1);
	for (start = 0; start <= ncp; start = i + 1) {
		for (i = start; i < ncp && cps[i] != '.'; i++)
			;
		if (i > start && url_is_combining(cps[start]))
			goto out;
		if (i - start >= 4 && cps[start] == 'x' &&
		    cps[start + 1] == 'n' && cps[start + 2] == '-' &&
		    cps[start + 3] == '-') {
			for (j = start; j < i; j++) {
				if (cps[j] >= 0x80)
					goto out;
			}
			if (url_punycode(cps + start + 4, i - start - 4, &puny,
			    &plen) == -1)
				goto out;
			/* What it decodes to must need no mapping. */
			for (j = 0; j < plen; j++) {
				if (url_punycode_invalid(puny[j]))
					break;
			}
			free(puny);
			if (plen == 0 || j < plen)
				goto out;
		}
		for (j = start; j < i; j++) {
			if (cps[j] < 0x80 && url_forbidden_domain(cps[j]))
				goto out;
			ascii[j] = cps[j] < 0x80 ? (char)cps[j] : 'g';
		}
		if (i < ncp)
			ascii[i] = '.';
	}
	ascii[ncp] = '\0';

	if (url_ends_in_number(ascii, ncp))
		rv = url_ipv4(ascii, ncp);
	else
		rv = 0;
out:
	free(ascii);
	free(cps);
	free(dec);
	return (rv);
}

/* The IPv4 number parser: decimal, "0x" hex or "0" octal. */
static int
url_ipv4_number(const char *s, size_t n, uint64_t *v)
{
	unsigned int	radix = 10;
	size_t		i;
	int		d;

	if (n == 0)
		return (-1);
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		n -= 2;
		radix = 16;
	} else if (n >= 2 && s[0] == '0') {
		s++;
		n--;
		radix = 8;
	}
	*v = 0;
	for (i = 0; i < n; i++) {
		if (radix == 16)
			d = codec_hex_digit((unsigned char)s[i]);
		else if (url_is_digit(s[i]) && s[i] - '0' < (int)radix)
			d = s[i] - '0';
		else
			d = -1;
		if (d == -1)
			return (-1);
		/* Saturate: anything above 2^32 fails later anyway. */
		if (*v <= UINT32_MAX)
			*v = *v * radix + d;
	}
	return (0);
}

/* Does the last label (ignoring one trailing dot) look like a number? */
static int
url_ends_in_number(const char *s, size_t n)
{
	size_t		 i;
	uint64_t	 v;
	const char	*last;

	if (n > 0 && s[n - 1] == '.') {
		if (n == 1)
			return (0);
		n--;
	}
	for (i = n; i > 0 && s[i - 1] != '.'; i--)
		;
	last = s + i;
	n -= i;
	for (i = 0; i < n && url_is_digit(last[i]); i++)
		;
	if (n > 0 && i == n)
		return (1);
	return (url_ipv4_number(last, n, &v) == 0);
}

/* The IPv4 parser: one to four numbers, only the last may exceed 255. */
static int
url_ipv4(const char *s, size_t n)
{
	uint64_t	nums[4];
	size_t		nparts = 0, i, start;

	/* One trailing dot is allowed. */
	if (n > 0 && s[n - 1] == '.')
		n--;
	for (start = 0; start <= n; start = i + 1) {
		for (i = start; i < n && s[i] != '.'; i++)
			;
		if (nparts == 4)
			return (-1);
		if (url_ipv4_number(s + start, i - start,
		    &nums[nparts]) == -1)
			return (-1);
		nparts++;
	}
	for (i = 0; i + 1 < nparts; i++) {
		if (nums[i] > 255)
			return (-1);
	}
	if (nums[nparts - 1] >= (uint64_t)1 << (8 * (5 - nparts)))
		return (-1);
	return (0);
}

/* The IPv6 parser, on the text between the brackets. */
static int
url_ipv6(const char *s, size_t n)
{
	size_t	p = 0, length;
	int	piece = 0, compress = -1, numbers, v4, h;
	long	value;

#define C(i)	((i) < n ? (unsigned char)s[i] : URL_EOF)
	if (C(p) == ':') {
		if (C(p + 1) != ':')
			return (-1);
		p += 2;
		compress = ++piece;
	}
	while (C(p) != URL_EOF) {
		if (piece == 8)
			return (-1);
		if (C(p) == ':') {
			if (compress != -1)
				return (-1);
			p++;
			compress = ++piece;
			continue;
		}
		value = 0;
		for (length = 0; length < 4 &&
		    (h = codec_hex_digit(C(p))) != -1; length++) {
			value = value * 16 + h;
			p++;
		}
		if (C(p) == '.') {
			/* An embedded IPv4 address fills two pieces. */
			if (length == 0)
				return (-1);
			p -= length;
			if (piece > 6)
				return (-1);
			numbers = 0;
			while (C(p) != URL_EOF) {
				v4 = -1;
				if (numbers > 0) {
					if (C(p) == '.' && numbers < 4)
						p++;
					else
						return (-1);
				}
				if (!url_is_digit(C(p)))
					return (-1);
				while (url_is_digit(C(p))) {
					if (v4 == -1)
						v4 = C(p) - '0';
					else if (v4 == 0)
						return (-1);
					else
						v4 = v4 * 10 + C(p) - '0';
					if (v4 > 255)
						return (-1);
					p++;
				}
				numbers++;
				if (numbers == 2 || numbers == 4)
					piece++;
			}
			if (numbers != 4)
				return (-1);
			break;
		} else if (C(p) == ':') {
			p++;
			if (C(p) == URL_EOF)
				return (-1);
		} else if (C(p) != URL_EOF)
			return (-1);
		piece++;
	}
#undef C
	if (compress == -1 && piece != 8)
		return (-1);
	return (0);
}

/* The protocol test both checks end in; clears u. */
static enum url_check
url_http(struct url *u)
{
	enum url_check	rv;

	if (strcmp(u->scheme, "http") == 0 || strcmp(u->scheme, "https") == 0)
		rv = URL_OK;
	else
		rv = URL_NOT_HTTP;
	url_clear(u);
	return (rv);
}

/* Backstage's link check: strip one leading '/', resolve against base. */
enum url_check
url_check_link(const char *link, const char *base)
{
	struct url	b, u;
	enum url_check	rv;

	if (link == NULL || base == NULL || url_parse(base, NULL, &b) == -1)
		return (URL_INVALID);
	if (*link == '/')
		link++;
	rv = url_parse(link, &b, &u) == -1 ? URL_INVALID : url_http(&u);
	url_clear(&b);
	return (rv);
}

/* `new URL(s)`, then the same protocol test. */
enum url_check
url_check_absolute(const char *s)
{
	struct url	u;

	if (s == NULL || url_parse(s, NULL, &u) == -1)
		return (URL_INVALID);
	return (url_http(&u));
}
