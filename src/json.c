/*
 * json.c: JSON in and out, byte for byte as Backstage's Node stack does it.
 *
 * The tree is cJSON's; the parser and the printer are ours, because the
 * contract is V8's: body-parser decodes the body as UTF-8 (a leading BOM is
 * dropped, bad bytes become U+FFFD) and hands the text to JSON.parse, whose
 * error messages quote positions in UTF-16 code units and sometimes a
 * snippet of the text.  So the input is first decoded to UTF-16 exactly as
 * Node does, and the parser then walks code units the way V8's JsonParser
 * does, reporting the same message for the same first error.
 *
 * Strings are stored as UTF-8 with two extensions, so that every JavaScript
 * string survives the trip: U+0000 is stored as C0 80 (C strings stay free
 * of NUL) and an unpaired surrogate (from a "\ud800" escape, or from a
 * snippet cut through a pair in an error message) as its three-byte
 * generalized UTF-8 form ED A0..BF xx.  The printer turns both back into
 * the escapes JSON.stringify writes.
 *
 * Numbers go through strtod and snprintf, which assume the C locale for
 * the decimal point; nothing in notimock calls setlocale().
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec.h"
#include "json.h"
#include "xmalloc.h"

/* V8 quotes the whole text if it is shorter than this... */
#define JSON_CONTEXT_MIN	21
/* ...and otherwise this many code units either side of the bad one. */
#define JSON_CONTEXT		10

struct jmember {
	char		*key;
	cJSON		*value;
	size_t		 seq;		/* order of first appearance */
	int		 isindex;	/* key is an array index... */
	uint32_t	 index;		/* ...with this value */
};

/* One container still open.  Arrays are built in place; object members are
 * collected first, because JavaScript's key order is only known at '}'. */
struct jframe {
	int		 object;
	cJSON		*array;
	struct jmember	*mv;
	size_t		 mn;
	size_t		 mcap;
	char		*key;		/* member waiting for its value */
};

struct jparser {
	const uint16_t	*s;		/* decoded text, UTF-16 */
	size_t		 len;
	size_t		 pos;

	uint16_t	*ubuf;		/* a string's units, escapes decoded */
	char		*cbuf;		/* the same, converted for storage */
	size_t		 cbufcap;

	struct jframe	*frames;
	size_t		 nframes;
	size_t		 framecap;

	char		 msg[256];
	size_t		 errpos;	/* code unit of the failure */
	int		 eos;		/* failure names no position */
};

static const char *json_specials[] = {
	"[object Object]", "undefined", "Infinity", "NaN"
};

/* cJSON allocates through our x-family, so OOM dies like everywhere else
 * and cJSON_Delete may free strings we allocated. */
static void
json_hooks(void)
{
	static int	 done;
	cJSON_Hooks	 h;

	if (done)
		return;
	h.malloc_fn = xmalloc;
	h.free_fn = free;
	cJSON_InitHooks(&h);
	done = 1;
}

/* Decode len bytes into UTF-16; out needs room for len units. */
static size_t
utf8_to_utf16(const unsigned char *p, size_t len, uint16_t *out)
{
	size_t		 i = 0, n = 0;
	uint32_t	 cp;

	while (i < len) {
		cp = codec_utf8_next(p, len, &i);
		if (cp > 0xffff) {
			cp -= 0x10000;
			out[n++] = (uint16_t)(0xd800 | (cp >> 10));
			out[n++] = (uint16_t)(0xdc00 | (cp & 0x3ff));
		} else
			out[n++] = (uint16_t)cp;
	}
	return (n);
}

/* Byte offset of code unit upos, for the caller's diagnostics. */
static size_t
utf16_to_offset(const unsigned char *p, size_t len, size_t upos)
{
	size_t		 i = 0, u = 0;

	while (i < len && u < upos)
		u += codec_utf8_next(p, len, &i) > 0xffff ? 2 : 1;
	return (i);
}

/* cp as UTF-8, except U+0000 in its stored form (see the top of the file). */
static size_t
utf8_put(char *out, uint32_t cp)
{
	if (cp == 0) {
		out[0] = (char)0xc0;
		out[1] = (char)0x80;
		return (2);
	}
	return (codec_utf8_encode(cp, out));
}

/* Convert n UTF-16 units to the stored form; out needs 3 * n + 1 bytes. */
static size_t
utf16_to_stored(const uint16_t *u, size_t n, char *out)
{
	size_t		 i, o = 0;
	uint32_t	 cp;

	for (i = 0; i < n; i++) {
		cp = u[i];
		if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < n &&
		    u[i + 1] >= 0xdc00 && u[i + 1] <= 0xdfff) {
			cp = 0x10000 + ((cp - 0xd800) << 10) +
			    (u[i + 1] - 0xdc00);
			i++;
		}
		o += utf8_put(out + o, cp);
	}
	out[o] = '\0';
	return (o);
}

static int
jp_peek(const struct jparser *p)
{
	return (p->pos < p->len ? p->s[p->pos] : -1);
}

static int
jp_isdigit(int c)
{
	return (c >= '0' && c <= '9');
}

static void
jp_ws(struct jparser *p)
{
	uint16_t	 c;

	while (p->pos < p->len) {
		c = p->s[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

/* "<what> at position N", the shape of most V8 messages. */
static void
jp_fail(struct jparser *p, size_t pos, const char *what)
{
	snprintf(p->msg, sizeof p->msg, "%s at position %zu", what, pos);
	p->errpos = pos;
}

static void
jp_fail_eos(struct jparser *p)
{
	snprintf(p->msg, sizeof p->msg, "Unexpected end of JSON input");
	p->errpos = p->len;
	p->eos = 1;
}

/*
 * "Unexpected token 'x', ..." with V8's snippet: the whole text if it is
 * short, else up to ten code units either side of the token, with "..."
 * marking each end that was cut.  The units are sliced as V8 slices them,
 * so a snippet may end in half a surrogate pair.
 */
static void
jp_fail_context(struct jparser *p, size_t pos)
{
	char		 tok[4], ctx[3 * 2 * JSON_CONTEXT + 1];
	const char	*pre = "", *post = "";
	size_t		 a = 0, b = p->len;

	utf16_to_stored(p->s + pos, 1, tok);
	if (p->len >= JSON_CONTEXT_MIN) {
		if (pos < JSON_CONTEXT) {
			b = pos + JSON_CONTEXT;
			post = "...";
		} else if (pos < p->len - JSON_CONTEXT) {
			a = pos - JSON_CONTEXT;
			b = pos + JSON_CONTEXT;
			pre = post = "...";
		} else {
			a = pos - JSON_CONTEXT;
			pre = "...";
		}
		utf16_to_stored(p->s + a, b - a, ctx);
		snprintf(p->msg, sizeof p->msg,
		    "Unexpected token '%s', %s\"%s\"%s is not valid JSON", tok,
		    pre, ctx, post);
	} else {
		/* Short: ctx holds at most 20 units. */
		utf16_to_stored(p->s, p->len, ctx);
		snprintf(p->msg, sizeof p->msg,
		    "Unexpected token '%s', \"%s\" is not valid JSON", tok,
		    ctx);
	}
	p->errpos = pos;
}

/* The text is one of the strings V8 names whole instead of a token. */
static int
jp_special(const struct jparser *p)
{
	size_t		 i, j, n;

	for (i = 0; i < sizeof json_specials / sizeof json_specials[0]; i++) {
		n = strlen(json_specials[i]);
		if (n != p->len)
			continue;
		for (j = 0; j < n; j++) {
			if (p->s[j] != (unsigned char)json_specials[i][j])
				break;
		}
		if (j == n)
			return (1);
	}
	return (0);
}

/* V8's message for an unexpected character, chosen by what it is. */
static void
jp_fail_token(struct jparser *p, size_t pos)
{
	uint16_t	 c;
	char		 src[16];

	if (pos >= p->len) {
		jp_fail_eos(p);
		return;
	}
	c = p->s[pos];
	if (c == '"')
		jp_fail(p, pos, "Unexpected string in JSON");
	else if (c == '-' || jp_isdigit(c))
		jp_fail(p, pos, "Unexpected number in JSON");
	else if (jp_special(p)) {
		utf16_to_stored(p->s, p->len, src);
		snprintf(p->msg, sizeof p->msg, "\"%s\" is not valid JSON",
		    src);
		p->errpos = pos;
	} else
		jp_fail_context(p, pos);
}

static void
jp_reserve(struct jparser *p, size_t need)
{
	if (need <= p->cbufcap)
		return;
	p->cbuf = xreallocarray(p->cbuf, need, 1);
	p->cbufcap = need;
}

/*
 * Scan a string whose opening quote has been consumed; on success p->cbuf
 * holds it in stored form and p->pos is past the closing quote.
 */
static int
jp_string(struct jparser *p)
{
	size_t		 n = 0;
	uint16_t	 c, u;
	int		 i, h;

	for (;;) {
		if (p->pos >= p->len) {
			jp_fail(p, p->pos, "Unterminated string in JSON");
			return (-1);
		}
		c = p->s[p->pos];
		if (c == '"')
			break;
		if (c < 0x20) {
			jp_fail(p, p->pos,
			    "Bad control character in string literal in JSON");
			return (-1);
		}
		if (c != '\\') {
			p->ubuf[n++] = c;
			p->pos++;
			continue;
		}
		if (++p->pos >= p->len) {
			jp_fail_eos(p);
			return (-1);
		}
		c = p->s[p->pos];
		switch (c) {
		case '"':
		case '\\':
		case '/':
			u = c;
			break;
		case 'b':
			u = '\b';
			break;
		case 'f':
			u = '\f';
			break;
		case 'n':
			u = '\n';
			break;
		case 'r':
			u = '\r';
			break;
		case 't':
			u = '\t';
			break;
		case 'u':
			u = 0;
			for (i = 0; i < 4; i++) {
				p->pos++;
				if (p->pos >= p->len ||
				    (h = codec_hex_digit(p->s[p->pos])) == -1) {
					jp_fail(p, p->pos,
					    "Bad Unicode escape in JSON");
					return (-1);
				}
				u = (uint16_t)(u * 16 + h);
			}
			break;
		default:
			/* V8 takes a non-Latin-1 unit for a stray token. */
			if (c > 0xff)
				jp_fail_token(p, p->pos);
			else
				jp_fail(p, p->pos,
				    "Bad escaped character in JSON");
			return (-1);
		}
		p->ubuf[n++] = u;
		p->pos++;
	}
	p->pos++;
	jp_reserve(p, 3 * n + 1);
	utf16_to_stored(p->ubuf, n, p->cbuf);
	return (0);
}

static int
jp_number(struct jparser *p, double *d)
{
	size_t		 start = p->pos, i;
	char		*num;

	if (jp_peek(p) == '-')
		p->pos++;
	if (jp_peek(p) == '0') {
		/* A leading zero must stand alone. */
		p->pos++;
		if (jp_isdigit(jp_peek(p))) {
			jp_fail(p, p->pos, "Unexpected number in JSON");
			return (-1);
		}
	} else {
		if (!jp_isdigit(jp_peek(p))) {
			jp_fail(p, p->pos,
			    "No number after minus sign in JSON");
			return (-1);
		}
		while (jp_isdigit(jp_peek(p)))
			p->pos++;
	}
	if (jp_peek(p) == '.') {
		p->pos++;
		if (!jp_isdigit(jp_peek(p))) {
			jp_fail(p, p->pos,
			    "Unterminated fractional number in JSON");
			return (-1);
		}
		while (jp_isdigit(jp_peek(p)))
			p->pos++;
	}
	if (jp_peek(p) == 'e' || jp_peek(p) == 'E') {
		p->pos++;
		if (jp_peek(p) == '+' || jp_peek(p) == '-')
			p->pos++;
		if (!jp_isdigit(jp_peek(p))) {
			jp_fail(p, p->pos,
			    "Exponent part is missing a number in JSON");
			return (-1);
		}
		while (jp_isdigit(jp_peek(p)))
			p->pos++;
	}

	/* The units are all ASCII now; strtod rounds correctly, as V8 does,
	 * and overflows to infinity as V8 does. */
	jp_reserve(p, p->pos - start + 1);
	num = p->cbuf;
	for (i = start; i < p->pos; i++)
		num[i - start] = (char)p->s[i];
	num[p->pos - start] = '\0';
	*d = strtod(num, NULL);
	return (0);
}

/* true, false or null; V8 blames the first character that differs. */
static int
jp_literal(struct jparser *p, const char *lit)
{
	size_t		 n = strlen(lit), i;

	if (p->len - p->pos >= n) {
		for (i = 1; i < n; i++) {
			if (p->s[p->pos + i] != (unsigned char)lit[i])
				break;
		}
		if (i == n) {
			p->pos += n;
			return (0);
		}
	}
	for (p->pos++, i = 1; i < n && p->pos < p->len; i++, p->pos++) {
		if (p->s[p->pos] != (unsigned char)lit[i]) {
			jp_fail_token(p, p->pos);
			return (-1);
		}
	}
	jp_fail_eos(p);
	return (-1);
}

/* A canonical array index ("0", "7", "42", up to 2^32 - 2) is ordered
 * before the other keys of a JavaScript object, in numeric order. */
static int
json_index_key(const char *key, uint32_t *index)
{
	uint64_t	 v = 0;
	size_t		 i;

	if (key[0] == '\0' || (key[0] == '0' && key[1] != '\0'))
		return (0);
	for (i = 0; key[i] != '\0'; i++) {
		if (key[i] < '0' || key[i] > '9' || i >= 10)
			return (0);
		v = v * 10 + (key[i] - '0');
	}
	if (v > 4294967294ULL)
		return (0);
	if (index != NULL)
		*index = (uint32_t)v;
	return (1);
}

static int
jmember_bykey(const void *a, const void *b)
{
	const struct jmember	*x = a, *y = b;
	int			 r;

	if ((r = strcmp(x->key, y->key)) != 0)
		return (r);
	return (x->seq < y->seq ? -1 : x->seq > y->seq);
}

static int
jmember_byorder(const void *a, const void *b)
{
	const struct jmember	*x = a, *y = b;

	if (x->isindex && y->isindex)
		return (x->index < y->index ? -1 : x->index > y->index);
	if (x->isindex != y->isindex)
		return (x->isindex ? -1 : 1);
	return (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/*
 * Close an object the way JSON.parse builds one: a repeated key keeps the
 * place of its first appearance and the value of its last, and index keys
 * come first.  Sorting keeps this O(n log n) for hostile bodies.
 */
static cJSON *
jp_object(struct jframe *f)
{
	struct jmember	*m = f->mv;
	size_t		 n = f->mn, i, j, k, out;
	cJSON		*obj;

	qsort(m, n, sizeof *m, jmember_bykey);
	for (i = out = 0; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(m[j].key, m[i].key) == 0; j++)
			;
		if (j - i > 1) {
			for (k = i; k < j - 1; k++)
				cJSON_Delete(m[k].value);
			for (k = i + 1; k < j; k++)
				free(m[k].key);
			m[i].value = m[j - 1].value;
		}
		m[out] = m[i];
		m[out].isindex = json_index_key(m[out].key, &m[out].index);
		out++;
	}
	qsort(m, out, sizeof *m, jmember_byorder);

	obj = cJSON_CreateObject();
	for (i = 0; i < out; i++) {
		cJSON_AddItemToObject(obj, m[i].key, m[i].value);
		free(m[i].key);
	}
	f->mn = 0;
	return (obj);
}

static struct jframe *
jp_push(struct jparser *p, int object)
{
	struct jframe	*f;

	if (p->nframes == p->framecap) {
		p->frames = xreallocarray(p->frames, p->framecap + 16,
		    sizeof *p->frames);
		memset(p->frames + p->framecap, 0, 16 * sizeof *p->frames);
		p->framecap += 16;
	}
	f = &p->frames[p->nframes++];
	f->object = object;
	f->array = object ? NULL : cJSON_CreateArray();
	f->mn = 0;
	f->key = NULL;
	return (f);
}

static void
jp_member(struct jframe *f, cJSON *v)
{
	if (f->mn == f->mcap) {
		f->mcap = f->mcap ? f->mcap * 2 : 8;
		f->mv = xreallocarray(f->mv, f->mcap, sizeof *f->mv);
	}
	f->mv[f->mn].key = f->key;
	f->mv[f->mn].value = v;
	f->mv[f->mn].seq = f->mn;
	f->mn++;
	f->key = NULL;
}

/* Free what the open containers hold, after a failure. */
static void
jp_unwind(struct jparser *p)
{
	struct jframe	*f;
	size_t		 i;

	while (p->nframes > 0) {
		f = &p->frames[--p->nframes];
		cJSON_Delete(f->array);
		for (i = 0; i < f->mn; i++) {
			free(f->mv[i].key);
			cJSON_Delete(f->mv[i].value);
		}
		free(f->key);
		f->array = NULL;
		f->key = NULL;
		f->mn = 0;
	}
}

/*
 * A member's key into f, from its opening quote through the ':' after it.
 * V8 words a failure after an object's first key (first) otherwise than
 * after a later one.
 */
static int
jp_key(struct jparser *p, struct jframe *f, int first)
{
	if (jp_peek(p) != '"') {
		jp_fail(p, p->pos, first ? "Expected property name or '}' in "
		    "JSON" : "Expected double-quoted property name in JSON");
		return (-1);
	}
	p->pos++;
	if (jp_string(p) == -1)
		return (-1);
	f->key = xstrdup(p->cbuf);
	jp_ws(p);
	if (jp_peek(p) != ':') {
		if (first)
			jp_fail(p, p->pos,
			    "Expected ':' after property name in JSON");
		else
			jp_fail_token(p, p->pos);
		return (-1);
	}
	p->pos++;
	return (0);
}

/*
 * The parser proper: V8's loop, one value produced, then consumed by the
 * innermost open container.  The messages differ by place: for instance a
 * missing ':' after the first key of an object has its own message, after
 * a later key it gets the generic one (Node 20 does exactly this).
 * Long on purpose: produce and consume are the two halves of one loop
 * (V8's JsonParser::ParseJsonValue), joined by goto so that nesting costs
 * a frame on p's stack and never C recursion; split, each half would have
 * to hand the value and the frame back to a caller that only jumps.
 */
static cJSON *
jp_run(struct jparser *p)
{
	struct jframe	*f;
	cJSON		*v;
	double		 d;
	int		 c;

produce:
	jp_ws(p);
	c = jp_peek(p);
	switch (c) {
	case '"':
		p->pos++;
		if (jp_string(p) == -1)
			goto fail;
		v = cJSON_CreateString(p->cbuf);
		break;
	case '{':
	case '[':
		if (p->nframes >= JSON_MAX_DEPTH) {
			snprintf(p->msg, sizeof p->msg,
			    "Maximum JSON nesting depth exceeded "
			    "at position %zu", p->pos);
			p->errpos = p->pos;
			goto fail;
		}
		p->pos++;
		jp_ws(p);
		if (c == '[') {
			if (jp_peek(p) == ']') {
				p->pos++;
				v = cJSON_CreateArray();
				break;
			}
			jp_push(p, 0);
			goto produce;
		}
		if (jp_peek(p) == '}') {
			p->pos++;
			v = cJSON_CreateObject();
			break;
		}
		if (jp_key(p, jp_push(p, 1), 1) == -1)
			goto fail;
		goto produce;
	case 't':
		if (jp_literal(p, "true") == -1)
			goto fail;
		v = cJSON_CreateTrue();
		break;
	case 'f':
		if (jp_literal(p, "false") == -1)
			goto fail;
		v = cJSON_CreateFalse();
		break;
	case 'n':
		if (jp_literal(p, "null") == -1)
			goto fail;
		v = cJSON_CreateNull();
		break;
	default:
		if (c != '-' && !jp_isdigit(c)) {
			jp_fail_token(p, p->pos);
			goto fail;
		}
		if (jp_number(p, &d) == -1)
			goto fail;
		v = cJSON_CreateNumber(d);
		break;
	}

consume:
	if (p->nframes == 0) {
		jp_ws(p);
		if (p->pos < p->len) {
			cJSON_Delete(v);
			jp_fail(p, p->pos,
			    "Unexpected non-whitespace character after JSON");
			goto fail;
		}
		return (v);
	}
	f = &p->frames[p->nframes - 1];
	if (!f->object) {
		cJSON_AddItemToArray(f->array, v);
		jp_ws(p);
		if (jp_peek(p) == ',') {
			p->pos++;
			goto produce;
		}
		if (jp_peek(p) != ']') {
			jp_fail(p, p->pos,
			    "Expected ',' or ']' after array element in JSON");
			goto fail;
		}
		p->pos++;
		v = f->array;
		f->array = NULL;
		p->nframes--;
		goto consume;
	}

	jp_member(f, v);
	jp_ws(p);
	if (jp_peek(p) == ',') {
		p->pos++;
		jp_ws(p);
		if (jp_key(p, f, 0) == -1)
			goto fail;
		goto produce;
	}
	if (jp_peek(p) != '}') {
		jp_fail(p, p->pos,
		    "Expected ',' or '}' after property value in JSON");
		goto fail;
	}
	p->pos++;
	v = jp_object(f);
	p->nframes--;
	goto consume;

fail:
	jp_unwind(p);
	return (NULL);
}

/* Parse len bytes as body-parser (strict) or JSON.parse would. */
struct json *
json_parse(const char *buf, size_t len, int strict, char *err, size_t errlen,
    long *errpos)
{
	const unsigned char	*b = (const unsigned char *)buf;
	struct jparser		 p;
	uint16_t		*text;
	cJSON			*v = NULL;
	size_t			 bom = 0, i;

	json_hooks();
	memset(&p, 0, sizeof p);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (errpos != NULL)
		*errpos = -1;

	/* body-parser decodes through iconv-lite, which drops one BOM. */
	if (strict && len >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf)
		bom = 3;
	b += bom;
	len -= bom;

	/* Every byte makes at most one unit. */
	text = xreallocarray(NULL, len + 1, sizeof *text);
	p.len = utf8_to_utf16(b, len, text);
	p.s = text;
	/* A string is unescaped into a buffer of its own. */
	p.ubuf = xreallocarray(NULL, p.len + 1, sizeof *p.ubuf);

	if (strict) {
		/* An empty body is {}, "a common client-side mistake". */
		if (p.len == 0) {
			v = cJSON_CreateObject();
			goto out;
		}
		/*
		 * Anything but an object or array is refused before
		 * JSON.parse runs; body-parser fakes V8's message for the
		 * first character, which comes out as V8 would word it minus
		 * the special cases.  A body of only whitespace reaches
		 * JSON.parse as "".
		 */
		for (i = 0; i < p.len; i++) {
			if (p.s[i] != ' ' && p.s[i] != '\t' && p.s[i] != '\n' &&
			    p.s[i] != '\r')
				break;
		}
		if (i == p.len) {
			jp_fail_eos(&p);
			goto out;
		}
		if (p.s[i] != '{' && p.s[i] != '[') {
			jp_fail_context(&p, i);
			goto out;
		}
	}
	v = jp_run(&p);

out:
	if (v == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s", p.msg);
		if (errpos != NULL && !p.eos)
			*errpos = bom + utf16_to_offset(b, len, p.errpos);
	}
	for (i = 0; i < p.framecap; i++)
		free(p.frames[i].mv);
	free(p.frames);
	free(text);
	free(p.ubuf);
	free(p.cbuf);
	return ((struct json *)v);
}

void
json_free(struct json *v)
{
	cJSON_Delete((cJSON *)v);
}

enum json_type
json_type(const struct json *v)
{
	const cJSON	*c = (const cJSON *)v;

	if (c == NULL)
		return (JSON_INVALID);
	switch (c->type & 0xff) {
	case cJSON_NULL:
		return (JSON_NULL);
	case cJSON_False:
		return (JSON_FALSE);
	case cJSON_True:
		return (JSON_TRUE);
	case cJSON_Number:
		return (JSON_NUMBER);
	case cJSON_String:
		return (JSON_STRING);
	case cJSON_Array:
		return (JSON_ARRAY);
	case cJSON_Object:
		return (JSON_OBJECT);
	}
	return (JSON_INVALID);
}

struct json *
json_get(const struct json *obj, const char *key)
{
	if (!cJSON_IsObject((const cJSON *)obj) || key == NULL)
		return (NULL);
	return ((struct json *)cJSON_GetObjectItemCaseSensitive(
	    (const cJSON *)obj, key));
}

const char *
json_string(const struct json *v)
{
	if (!cJSON_IsString((const cJSON *)v))
		return (NULL);
	return (((const cJSON *)v)->valuestring);
}

/* The number, or 0 if v is not a number. */
double
json_number(const struct json *v)
{
	if (!cJSON_IsNumber((const cJSON *)v))
		return (0);
	return (((const cJSON *)v)->valuedouble);
}

size_t
json_size(const struct json *v)
{
	const cJSON	*c;
	size_t		 n = 0;

	if (!cJSON_IsArray((const cJSON *)v) &&
	    !cJSON_IsObject((const cJSON *)v))
		return (0);
	for (c = ((const cJSON *)v)->child; c != NULL; c = c->next)
		n++;
	return (n);
}

struct json *
json_first(const struct json *v)
{
	if (!cJSON_IsArray((const cJSON *)v) &&
	    !cJSON_IsObject((const cJSON *)v))
		return (NULL);
	return ((struct json *)((const cJSON *)v)->child);
}

struct json *
json_next(const struct json *child)
{
	if (child == NULL)
		return (NULL);
	return ((struct json *)((const cJSON *)child)->next);
}

const char *
json_key(const struct json *member)
{
	if (member == NULL)
		return (NULL);
	return (((const cJSON *)member)->string);
}

struct json *
json_new_object(void)
{
	json_hooks();
	return ((struct json *)cJSON_CreateObject());
}

struct json *
json_new_array(void)
{
	json_hooks();
	return ((struct json *)cJSON_CreateArray());
}

struct json *
json_new_string(const char *s)
{
	json_hooks();
	if (s == NULL)
		return ((struct json *)cJSON_CreateNull());
	return ((struct json *)cJSON_CreateString(s));
}

struct json *
json_new_number(double n)
{
	json_hooks();
	return ((struct json *)cJSON_CreateNumber(n));
}

struct json *
json_new_bool(int b)
{
	json_hooks();
	return ((struct json *)cJSON_CreateBool(b != 0));
}

struct json *
json_new_null(void)
{
	json_hooks();
	return ((struct json *)cJSON_CreateNull());
}

struct json *
json_dup(const struct json *v)
{
	json_hooks();
	if (v == NULL)
		return (NULL);
	return ((struct json *)cJSON_Duplicate((const cJSON *)v, 1));
}

/*
 * obj[key] = v, as JavaScript does it: an existing key keeps its place and
 * takes the new value; a new array-index key goes among the index keys in
 * numeric order; any other new key goes last.
 */
void
json_add(struct json *obj, const char *key, struct json *v)
{
	cJSON		*o = (cJSON *)obj, *item = (cJSON *)v, *c;
	uint32_t	 index, other;
	int		 at;

	json_hooks();
	if (item == NULL)
		return;
	if (!cJSON_IsObject(o) || key == NULL) {
		cJSON_Delete(item);
		return;
	}
	if (cJSON_GetObjectItemCaseSensitive(o, key) != NULL) {
		cJSON_ReplaceItemInObjectCaseSensitive(o, key, item);
		return;
	}
	if (!json_index_key(key, &index)) {
		cJSON_AddItemToObject(o, key, item);
		return;
	}
	for (c = o->child, at = 0; c != NULL; c = c->next, at++) {
		if (!json_index_key(c->string, &other) || other > index)
			break;
	}
	/* cJSON has no call to insert a keyed item; its key is freed with
	 * the hooks' free, which is what xstrdup pairs with. */
	if (!(item->type & cJSON_StringIsConst))
		free(item->string);
	item->type &= ~cJSON_StringIsConst;
	item->string = xstrdup(key);
	if (c == NULL)
		cJSON_AddItemToArray(o, item);
	else
		cJSON_InsertItemInArray(o, at, item);
}

void
json_append(struct json *arr, struct json *v)
{
	json_hooks();
	if (v == NULL)
		return;
	if (!cJSON_IsArray((cJSON *)arr)) {
		cJSON_Delete((cJSON *)v);
		return;
	}
	cJSON_AddItemToArray((cJSON *)arr, (cJSON *)v);
}

void
json_add_str(struct json *obj, const char *key, const char *s)
{
	json_add(obj, key, json_new_string(s));
}

void
json_add_num(struct json *obj, const char *key, double n)
{
	json_add(obj, key, json_new_number(n));
}

void
json_add_bool(struct json *obj, const char *key, int b)
{
	json_add(obj, key, json_new_bool(b));
}

void
json_del(struct json *obj, const char *key)
{
	if (!cJSON_IsObject((cJSON *)obj) || key == NULL)
		return;
	cJSON_DeleteItemFromObjectCaseSensitive((cJSON *)obj, key);
}

void
json_buf_raw(struct json_buf *sb, const void *p, size_t n)
{
	size_t		 need = sb->len + n + 1;

	if (need > sb->cap) {
		sb->cap = sb->cap ? sb->cap : 64;
		while (sb->cap < need)
			sb->cap *= 2;
		sb->p = xreallocarray(sb->p, sb->cap, 1);
	}
	memcpy(sb->p + sb->len, p, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
}

static void
json_buf_addc(struct json_buf *sb, char c)
{
	json_buf_raw(sb, &c, 1);
}

/* Three bytes ED A0..BF 80..BF at p: a stored lone surrogate. */
static uint32_t
json_surrogate(const unsigned char *p, size_t left)
{
	if (left < 3 || p[0] != 0xed || p[1] < 0xa0 || p[1] > 0xbf ||
	    p[2] < 0x80 || p[2] > 0xbf)
		return (0);
	return (0xd000 | ((p[1] & 0x3f) << 6) | (p[2] & 0x3f));
}

/* JSON.stringify's two-character escapes; other controls get \u00XX. */
static const char json_short_escape[0x80] = {
	['"'] = '"', ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n',
	['\r'] = 'r', ['\t'] = 't'
};

/* '"', '\\' or a control character, escaped as JSON.stringify does. */
static void
print_ctl(struct json_buf *sb, unsigned char c)
{
	char	tmp[8];

	if (json_short_escape[c] != 0) {
		tmp[0] = '\\';
		tmp[1] = json_short_escape[c];
		json_buf_raw(sb, tmp, 2);
	} else {
		snprintf(tmp, sizeof tmp, "\\u%04x", c);
		json_buf_raw(sb, tmp, 6);
	}
}

/*
 * The end of the run from s[i] of bytes a string holds as they are: ASCII
 * but '"', '\\' and controls.  Eight at a time while none of them is one
 * of those (SWAR: a byte below 0x20, equal to '"' or '\\', or with its
 * high bit sets a high bit; a borrow may set more, but only beyond one
 * that is set), then one at a time.  Bodies and stored JSON are long runs
 * of plain ASCII: a byte at a time was a tenth of a list's CPU.
 */
static size_t
json_plain_run(const unsigned char *s, size_t i, size_t len)
{
	const uint64_t	 ones = 0x0101010101010101ULL;
	const uint64_t	 high = 0x8080808080808080ULL;
	uint64_t	 x, q, b;

	while (len - i >= 8) {
		memcpy(&x, s + i, 8);
		q = x ^ (ones * '"');
		b = x ^ (ones * '\\');
		if ((((x - ones * 0x20) & ~x) | ((q - ones) & ~q) |
		    ((b - ones) & ~b) | x) & high)
			break;
		i += 8;
	}
	while (i < len && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' &&
	    s[i] != '\\')
		i++;
	return (i);
}

/* The ASCII at s[i] in a string: a run copied as it is (no '"', '\\' or
 * control), or one such character escaped.  Returns where it ends (i if
 * s[i] is not ASCII). */
static size_t
print_ascii(struct json_buf *sb, const unsigned char *s, size_t i,
    size_t len)
{
	size_t	run = json_plain_run(s, i, len);

	if (run > i) {
		json_buf_raw(sb, s + i, run - i);
		return (run);
	}
	if (s[i] < 0x80) {
		print_ctl(sb, s[i]);
		return (i + 1);
	}
	return (i);
}

/*
 * A quoted string as JSON.stringify writes it: only '"', '\\' and control
 * characters are escaped (short forms where JSON has them, else \u00xx),
 * lone surrogates become \udxxx, everything else is copied.  Bytes that
 * are not UTF-8 (they can only come from a builder) become U+FFFD so the
 * output is always valid UTF-8.
 */
static void
print_str(struct json_buf *sb, const unsigned char *s, size_t len)
{
	size_t		 i = 0, run;
	uint32_t	 cp, hi, lo;
	char		 tmp[16];

	json_buf_addc(sb, '"');
	while (i < len) {
		if ((run = print_ascii(sb, s, i, len)) > i) {
			i = run;
			continue;
		}
		if (s[i] == 0xc0 && i + 1 < len && s[i + 1] == 0x80) {
			json_buf_raw(sb, "\\u0000", 6);
			i += 2;
			continue;
		}
		if ((hi = json_surrogate(s + i, len - i)) != 0) {
			lo = json_surrogate(s + i + 3, len - i - 3);
			if (hi <= 0xdbff && lo >= 0xdc00) {
				/* Two halves of one character after all. */
				cp = 0x10000 + ((hi - 0xd800) << 10) +
				    (lo - 0xdc00);
				json_buf_raw(sb, tmp, utf8_put(tmp, cp));
				i += 6;
			} else {
				snprintf(tmp, sizeof tmp, "\\u%04x",
				    (unsigned int)hi);
				json_buf_raw(sb, tmp, 6);
				i += 3;
			}
			continue;
		}
		cp = codec_utf8_next(s, len, &i);
		json_buf_raw(sb, tmp, utf8_put(tmp, cp));
	}
	json_buf_addc(sb, '"');
}

/*
 * JavaScript's Number::toString: the shortest digits that read back as the
 * same double, laid out plainly for exponents -7 < n <= 21 and as d.ddde+n
 * outside.  JSON.stringify writes non-finite numbers as null.
 *
 * The digits are %e's at the lowest precision that round-trips, which is
 * also the closest decimal of that length.  If p digits round-trip so do
 * p + 1 (the p-digit decimal is one of the candidates), so the precision
 * can be found by bisection.  Integers below 2^53 need all their digits.
 */
static void
print_num(struct json_buf *sb, double v)
{
	char		 e[40], digits[20], out[48];
	char		*p;
	int		 lo, hi, prec, k = 0, n, exp10, i, o = 0;

	if (!isfinite(v)) {
		json_buf_raw(sb, "null", 4);
		return;
	}
	if (v == 0) {
		/* Also -0, which JavaScript prints as 0. */
		json_buf_addc(sb, '0');
		return;
	}
	if (v > -9007199254740992.0 && v < 9007199254740992.0 &&
	    v == (double)(int64_t)v) {
		o = snprintf(out, sizeof out, "%" PRId64, (int64_t)v);
		json_buf_raw(sb, out, o);
		return;
	}
	for (lo = 0, hi = 16; lo < hi; ) {
		prec = (lo + hi) / 2;
		snprintf(e, sizeof e, "%.*e", prec, v);
		if (strtod(e, NULL) == v)
			hi = prec;
		else
			lo = prec + 1;
	}
	snprintf(e, sizeof e, "%.*e", lo, v);
	p = e;
	if (*p == '-') {
		out[o++] = '-';
		p++;
	}
	for (; *p != 'e'; p++) {
		if (*p != '.')
			digits[k++] = *p;
	}
	exp10 = atoi(p + 1);
	while (k > 1 && digits[k - 1] == '0')
		k--;
	n = exp10 + 1;

	if (k <= n && n <= 21) {
		for (i = 0; i < k; i++)
			out[o++] = digits[i];
		for (i = 0; i < n - k; i++)
			out[o++] = '0';
	} else if (0 < n && n <= 21) {
		for (i = 0; i < n; i++)
			out[o++] = digits[i];
		out[o++] = '.';
		for (i = n; i < k; i++)
			out[o++] = digits[i];
	} else if (-6 < n && n <= 0) {
		out[o++] = '0';
		out[o++] = '.';
		for (i = 0; i < -n; i++)
			out[o++] = '0';
		for (i = 0; i < k; i++)
			out[o++] = digits[i];
	} else {
		out[o++] = digits[0];
		if (k > 1) {
			out[o++] = '.';
			for (i = 1; i < k; i++)
				out[o++] = digits[i];
		}
		o += snprintf(out + o, sizeof out - o, "e%c%d",
		    n - 1 < 0 ? '-' : '+', abs(n - 1));
	}
	json_buf_raw(sb, out, o);
}

static void
print_value(struct json_buf *sb, const cJSON *v)
{
	const cJSON	*c;

	switch (v->type & 0xff) {
	case cJSON_False:
		json_buf_raw(sb, "false", 5);
		break;
	case cJSON_True:
		json_buf_raw(sb, "true", 4);
		break;
	case cJSON_Number:
		json_buf_num(sb, v->valuedouble);	/* integers without printf */
		break;
	case cJSON_String:
		print_str(sb, (const unsigned char *)v->valuestring,
		    strlen(v->valuestring));
		break;
	case cJSON_Array:
		json_buf_addc(sb, '[');
		for (c = v->child; c != NULL; c = c->next) {
			if (c != v->child)
				json_buf_addc(sb, ',');
			print_value(sb, c);
		}
		json_buf_addc(sb, ']');
		break;
	case cJSON_Object:
		json_buf_addc(sb, '{');
		for (c = v->child; c != NULL; c = c->next) {
			if (c != v->child)
				json_buf_addc(sb, ',');
			print_str(sb, (const unsigned char *)c->string,
			    strlen(c->string));
			json_buf_addc(sb, ':');
			print_value(sb, c);
		}
		json_buf_addc(sb, '}');
		break;
	default:
		json_buf_raw(sb, "null", 4);
		break;
	}
}

char *
json_print(const struct json *v, size_t *lenp)
{
	struct json_buf	 sb = JSON_BUF_INIT;

	if (v == NULL)
		json_buf_raw(&sb, "null", 4);
	else
		print_value(&sb, (const cJSON *)v);
	if (lenp != NULL)
		*lenp = sb.len;
	return (sb.p);
}

void
json_buf_str(struct json_buf *sb, const char *s, size_t len)
{
	print_str(sb, (const unsigned char *)s, len);
}

void
json_buf_num(struct json_buf *sb, double n)
{
	char		 out[32], *p = out + sizeof out;
	int64_t		 v;
	uint64_t	 u;

	/* Integers (seqs, counts) as print_num() writes them, in decimal,
	 * without printf; -0 and 0 are both "0" there too. */
	if (n > -9007199254740992.0 && n < 9007199254740992.0 &&
	    n == (double)(int64_t)n) {
		v = (int64_t)n;
		u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
		do {
			*--p = (char)('0' + u % 10);
			u /= 10;
		} while (u != 0);
		if (v < 0)
			*--p = '-';
		json_buf_raw(sb, p, (size_t)(out + sizeof out - p));
		return;
	}
	print_num(sb, n);
}

/*
 * Raw bytes as a quoted string, as json_buf_str() writes the json.h string
 * mock_utf8() makes of them: strict UTF-8 stays, every other byte becomes
 * U+FFFD on its own (so C0 80 or a surrogate's bytes too), NUL is \u0000.
 * One pass, no copy (a list of full deliveries writes every body so).
 */
int
json_buf_bytes(struct json_buf *sb, const void *buf, size_t len)
{
	const unsigned char	*s = buf;
	size_t			 i = 0, run, n;
	uint32_t		 cp;
	int			 valid = 1;
	char			 tmp[8];

	json_buf_addc(sb, '"');
	while (i < len) {
		if ((run = print_ascii(sb, s, i, len)) > i)
			i = run;
		else if ((n = codec_utf8_decode(s + i, len - i, &cp)) > 0) {
			json_buf_raw(sb, s + i, n);
			i += n;
		} else {
			valid = 0;
			json_buf_raw(sb, tmp, codec_utf8_encode(
			    CODEC_REPLACEMENT, tmp));
			i++;
		}
	}
	json_buf_addc(sb, '"');
	return (valid);
}

/*
 * json_printed(): is a text exactly what json_print() writes for the value
 * it parses to?  Then it can go into printed output as it is, without the
 * tree (a stored array or object, read back for the assertion API: the
 * parse and print were half of a list's CPU).  It answers 1 only for the
 * one form the printer has for a value: no whitespace; strings with only
 * the escapes print_str() writes and strict UTF-8 otherwise; numbers as
 * print_num() writes them; objects without a repeated key or an array
 * index key (the parser would move or merge those).  It may answer 0 for
 * a text that is printed form after all (a fraction with more digits than
 * a double keeps, lone surrogates, deep or wide objects): the caller then
 * parses and prints, as before.
 */
#define JSON_PRINTED_DEPTH	32
#define JSON_PRINTED_KEYS	64

struct jcheck {
	const unsigned char	*s;
	size_t			 len, pos;
};

static int	jc_value(struct jcheck *, int depth);

static int
jc_hex(int c)
{
	return ((c >= '0' && c <= '9') ? c - '0' :
	    (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1);
}

/* A string at its opening quote, in print_str()'s form. */
static int
jc_string(struct jcheck *c)
{
	const unsigned char	*s = c->s;
	size_t			 i = c->pos + 1, n;
	uint32_t		 cp;
	int			 h;

	while ((i = json_plain_run(s, i, c->len)) < c->len) {
		if (s[i] == '"') {
			c->pos = i + 1;
			return (1);
		}
		if (s[i] < 0x20)
			return (0);
		if (s[i] == '\\') {
			if (i + 1 >= c->len)
				return (0);
			switch (s[i + 1]) {
			case '"': case '\\': case 'b': case 'f': case 'n':
			case 'r': case 't':
				i += 2;
				continue;
			case 'u':
				/* Only \u00xx for a control without a short
				 * form: lone surrogates go the long way. */
				if (i + 5 >= c->len || s[i + 2] != '0' ||
				    s[i + 3] != '0' || (s[i + 4] != '0' &&
				    s[i + 4] != '1') || (h = jc_hex(s[i + 5])) ==
				    -1 || json_short_escape[(s[i + 4] - '0') *
				    16 + h] != 0)
					return (0);
				i += 6;
				continue;
			default:
				return (0);
			}
		}
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = codec_utf8_decode(s + i, c->len - i, &cp)) == 0)
			return (0);
		i += n;
	}
	return (0);
}

/* A number in print_num()'s form: plain integers of up to 15 digits
 * (not -0) at once, anything else by printing what it reads as. */
static int
jc_number(struct jcheck *c)
{
	const unsigned char	*s = c->s;
	size_t			 start = c->pos, i = c->pos, digits = 0;
	struct json_buf		 sb = JSON_BUF_INIT;
	char			 num[64];
	int			 plain = 1, ok;

	if (i < c->len && s[i] == '-')
		i++;
	if (i < c->len && s[i] == '0') {
		i++;
		digits = 1;
	} else
		for (; i < c->len && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
	if (digits == 0)
		return (0);
	if (i < c->len && s[i] == '.') {
		plain = 0;
		for (i++; i < c->len && s[i] >= '0' && s[i] <= '9'; i++)
			;
	}
	if (i < c->len && (s[i] == 'e' || s[i] == 'E')) {
		plain = 0;
		if (++i < c->len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (; i < c->len && s[i] >= '0' && s[i] <= '9'; i++)
			;
	}
	c->pos = i;
	if (plain && digits <= 15 && !(s[start] == '-' && s[start + 1] == '0'))
		return (1);
	if (i - start >= sizeof num)
		return (0);
	memcpy(num, s + start, i - start);
	num[i - start] = '\0';
	json_buf_num(&sb, strtod(num, NULL));
	ok = sb.len == i - start && memcmp(sb.p, num, sb.len) == 0;
	free(sb.p);
	return (ok);
}

/* An object's members: keys unique (printed form is unique, so equal
 * keys are equal bytes) and none an array index (all digits, to be sure). */
static int
jc_object(struct jcheck *c, int depth)
{
	size_t	 kpos[JSON_PRINTED_KEYS], klen[JSON_PRINTED_KEYS];
	size_t	 n = 0, k, i;
	int	 digits;

	c->pos++;
	if (c->pos < c->len && c->s[c->pos] == '}') {
		c->pos++;
		return (1);
	}
	for (;;) {
		if (c->pos >= c->len || c->s[c->pos] != '"' ||
		    n == JSON_PRINTED_KEYS)
			return (0);
		k = c->pos;
		if (!jc_string(c))
			return (0);
		kpos[n] = k + 1;
		klen[n] = c->pos - k - 2;
		for (digits = klen[n] > 0, i = 0; i < klen[n]; i++)
			if (c->s[kpos[n] + i] < '0' || c->s[kpos[n] + i] > '9')
				digits = 0;
		if (digits)
			return (0);
		for (i = 0; i < n; i++)
			if (klen[i] == klen[n] && memcmp(c->s + kpos[i],
			    c->s + kpos[n], klen[n]) == 0)
				return (0);
		n++;
		if (c->pos >= c->len || c->s[c->pos++] != ':' ||
		    !jc_value(c, depth + 1) || c->pos >= c->len)
			return (0);
		if (c->s[c->pos] == '}') {
			c->pos++;
			return (1);
		}
		if (c->s[c->pos++] != ',')
			return (0);
	}
}

static int
jc_value(struct jcheck *c, int depth)
{
	size_t	left;

	if (c->pos >= c->len || depth > JSON_PRINTED_DEPTH)
		return (0);
	left = c->len - c->pos;
	switch (c->s[c->pos]) {
	case '"':
		return (jc_string(c));
	case '{':
		return (jc_object(c, depth));
	case '[':
		c->pos++;
		if (c->pos < c->len && c->s[c->pos] == ']') {
			c->pos++;
			return (1);
		}
		for (;;) {
			if (!jc_value(c, depth + 1) || c->pos >= c->len)
				return (0);
			if (c->s[c->pos] == ']') {
				c->pos++;
				return (1);
			}
			if (c->s[c->pos++] != ',')
				return (0);
		}
	case 't':
		c->pos += 4;
		return (left >= 4 && memcmp(c->s + c->pos - 4, "true", 4) == 0);
	case 'f':
		c->pos += 5;
		return (left >= 5 && memcmp(c->s + c->pos - 5, "false", 5) == 0);
	case 'n':
		c->pos += 4;
		return (left >= 4 && memcmp(c->s + c->pos - 4, "null", 4) == 0);
	default:
		return (jc_number(c));
	}
}

int
json_printed(const char *text, size_t len)
{
	struct jcheck	c = { (const unsigned char *)text, len, 0 };

	return (jc_value(&c, 0) && c.pos == len);
}

char *
json_buf_take(struct json_buf *sb, size_t *lenp)
{
	char	*s;

	if (sb->p == NULL)
		json_buf_raw(sb, "", 0);
	s = sb->p;
	if (lenp != NULL)
		*lenp = sb->len;
	sb->p = NULL;
	sb->len = sb->cap = 0;
	return (s);
}

const char *
json_version(void)
{
	return (cJSON_Version());
}
