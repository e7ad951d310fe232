/*
 * diag_bytes.c: client bytes as diagnoses quote and locate them: escaped for
 * a terminal and a browser, cut into snippets, placed by line and column and
 * by the JSON key that holds them.  Shared by every check (diag_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "diag.h"
#include "diag_int.h"
#include "log.h"
#include "xmalloc.h"

/* --- byte helpers ------------------------------------------------------ */

const unsigned char *
diag_memmem(const unsigned char *p, size_t len, const char *s, size_t slen)
{
	const unsigned char	*q, *end;

	if (slen == 0 || len < slen)
		return (NULL);
	end = p + len - slen;
	for (q = p; q <= end; q++) {
		q = memchr(q, s[0], (size_t)(end - q) + 1);
		if (q == NULL)
			return (NULL);
		if (memcmp(q, s, slen) == 0)
			return (q);
	}
	return (NULL);
}

int
diag_ws(int c)
{
	return (c == ' ' || c == '\t' || c == '\n' || c == '\r');
}

/*
 * Client bytes made safe for a diagnosis: printable ASCII and valid UTF-8
 * as they are, \n \r \t spelled out, C1 controls and bidi formatting
 * characters as \u{NNNN} (they reorder or hide text on a terminal and in
 * a browser; log_term_unsafe), anything else as \xNN.
 */
char *
diag_escape(const unsigned char *p, size_t len)
{
	char		*out, *o;
	size_t		 i, u;
	uint32_t	 cp;

	out = o = xmalloc(len * 4 + 1);
	for (i = 0; i < len; i++) {
		if (p[i] == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else if (p[i] == '\r') {
			*o++ = '\\';
			*o++ = 'r';
		} else if (p[i] == '\t') {
			*o++ = '\\';
			*o++ = 't';
		} else if (p[i] >= 0x20 && p[i] < 0x7f)
			*o++ = (char)p[i];
		else if (p[i] >= 0x80 && (u = codec_utf8_decode(p + i, len - i,
		    &cp)) != 0) {
			/* At most 8 characters for 2 or 3 bytes. */
			if (log_term_unsafe(cp))
				o += sprintf(o, "\\u{%04x}", cp);
			else {
				memcpy(o, p + i, u);
				o += u;
			}
			i += u - 1;
		} else
			o += sprintf(o, "\\x%02x", p[i]);
	}
	*o = '\0';
	return (out);
}

/* Escaped text around pos: up to before bytes ahead, after bytes after,
 * with "..." where it was cut. */
char *
diag_snippet(const unsigned char *p, size_t len, size_t pos, size_t before,
    size_t after)
{
	size_t	 a, b;
	char	*mid, *s;

	if (pos > len)
		pos = len;
	a = pos > before ? pos - before : 0;
	b = len - pos > after ? pos + after : len;
	/* Do not cut a UTF-8 sequence in two. */
	while (a > 0 && a < len && (p[a] & 0xc0) == 0x80)
		a--;
	while (b < len && (p[b] & 0xc0) == 0x80)
		b++;
	mid = diag_escape(p + a, b - a);
	s = diag_fmt("%s%s%s", a > 0 ? "..." : "", mid, b < len ? "..." : "");
	free(mid);
	return (s);
}

/* The request path made safe for evidence (computed once). */
const char *
diag_epath(struct diag_ctx *x)
{
	const char	*p = x->in->path != NULL ? x->in->path : "";

	if (x->epath == NULL)
		x->epath = diag_escape((const unsigned char *)p,
		    strlen(p) < 200 ? strlen(p) : 200);
	return (x->epath);
}

/* 1-based line and column (in characters) of byte pos. */
void
diag_linecol(const unsigned char *p, size_t len, size_t pos, size_t *line,
    size_t *col)
{
	size_t	i;

	*line = 1;
	*col = 1;
	if (pos > len)
		pos = len;
	for (i = 0; i < pos; i++) {
		if (p[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if ((p[i] & 0xc0) != 0x80)
			(*col)++;
	}
}

/* A character named for a message: "a newline", "'/'", "byte \x01". */
char *
diag_char_name(int c)
{
	switch (c) {
	case '\n':
		return (xstrdup("a raw newline"));
	case '\r':
		return (xstrdup("a raw carriage return"));
	case '\t':
		return (xstrdup("a raw tab"));
	}
	if (c >= 0x20 && c < 0x7f)
		return (diag_fmt("'%c'", c));
	return (diag_fmt("the byte \\x%02x", c));
}

/*
 * The JSON key whose value holds byte pos: a forward scan of the body up
 * to pos that tracks strings and containers, so it also works on JSON that
 * breaks at pos (a stray quote, a bare <no value>).  For an array element
 * it is the array's key.  Writes "" when there is none.
 */
void
diag_raw_key(const unsigned char *p, size_t pos, char *key, size_t keylen)
{
	struct {
		int	 array;
		size_t	 kstart, klen;	/* the member being read */
	}		 st[32];
	size_t		 i, depth = 0, sstart = 0, slen = 0, k;
	int		 instr = 0;

	key[0] = '\0';
	for (i = 0; i < pos; i++) {
		if (instr) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"') {
				instr = 0;
				slen = i - sstart;
			}
			continue;
		}
		switch (p[i]) {
		case '"':
			instr = 1;
			sstart = i + 1;
			break;
		case '{':
		case '[':
			if (depth < sizeof st / sizeof st[0]) {
				st[depth].array = p[i] == '[';
				st[depth].klen = 0;
			}
			depth++;
			break;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			break;
		case ':':
			if (depth > 0 && depth <= sizeof st / sizeof st[0]) {
				st[depth - 1].kstart = sstart;
				st[depth - 1].klen = slen;
			}
			break;
		}
	}
	if (depth > sizeof st / sizeof st[0])
		return;
	/* The innermost object around pos names it. */
	for (k = depth; k > 0; k--)
		if (!st[k - 1].array)
			break;
	if (k == 0 || st[k - 1].klen == 0 || st[k - 1].klen >= keylen ||
	    st[k - 1].klen > 64)
		return;
	memcpy(key, p + st[k - 1].kstart, st[k - 1].klen);
	key[st[k - 1].klen] = '\0';
}

/* The last segment of a dotted path, without an [n] suffix. */
void
diag_leaf(const char *path, char *leaf, size_t len)
{
	const char	*dot = strrchr(path, '.');
	size_t		 n;

	path = dot != NULL ? dot + 1 : path;
	n = strcspn(path, "[");
	if (n >= len)
		n = len - 1;
	memcpy(leaf, path, n);
	leaf[n] = '\0';
}

int
diag_icontains(const char *hay, const char *needle)
{
	size_t	n = strlen(needle);

	for (; *hay != '\0'; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return (1);
	return (0);
}

/* FNV-1a, 64 bits: cheap, and good enough to tell requests apart. */
uint64_t
diag_hash(uint64_t h, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	size_t			 i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return (h);
}

/*
 * Are these bytes one of the configured tokens?  Compared by fingerprint
 * (the keyed one, as the configured tokens' in in->token_fps), left in fp
 * for the diagnosis.
 */
int
diag_fp_known(const struct diag_input *in, const void *p, size_t len,
    char fp[CRYPTO_FP_LEN])
{
	crypto_fingerprint(p, len, fp);
	return (in->token_fps != NULL && strstr(in->token_fps, fp) != NULL);
}
