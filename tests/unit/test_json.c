/*
 * test_json.c: json.c against what Node 20 (V8 11.3, body-parser 1.20)
 * does.  Every expected string below was produced by node v20.20.2 with
 * JSON.parse, body-parser's strict-mode code path and JSON.stringify.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "unit.h"

#define SPEC_PREFIX	"{\"recipients\":{\"type\":\"broadcast\"}," \
			"\"payload\":{\"title\":\""

/* Parse buf and return V8's message, or NULL if it parsed. */
static const char *
perr_len(const char *buf, size_t len, int strict, long *posp)
{
	static char	 err[JSON_ERRLEN];
	struct json	*v;
	long		 pos;

	memset(err, 'Z', sizeof err);
	v = json_parse(buf, len, strict, err, sizeof err, &pos);
	if (posp != NULL)
		*posp = pos;
	if (v != NULL) {
		json_free(v);
		return (NULL);
	}
	return (err);
}

static const char *
serr(const char *s)
{
	return (perr_len(s, strlen(s), 1, NULL));
}

static const char *
nerr(const char *s)
{
	return (perr_len(s, strlen(s), 0, NULL));
}

/* Parse and print back; NULL if it did not parse.  Caller frees. */
static char *
reprint(const char *s, size_t len, int strict)
{
	struct json	*v;
	char		*out, err[JSON_ERRLEN];

	if ((v = json_parse(s, len, strict, err, sizeof err, NULL)) == NULL)
		return (NULL);
	out = json_print(v, NULL);
	json_free(v);
	return (out);
}

static char *
numstr(double d)
{
	struct json	*v = json_new_number(d);
	char		*s = json_print(v, NULL);

	json_free(v);
	return (s);
}

static void
test_spec_truncated(void)
{
	long	 pos = 0;

	CHECK_STR(perr_len("{\"recipients\":", 14, 1, &pos),
	    "Unexpected end of JSON input");
	CHECK_INT(pos, -1);
end:	;
}

static void
test_spec_bad_key(void)
{
	CHECK_STR(serr("{bad"),
	    "Expected property name or '}' in JSON at position 1");
end:	;
}

static void
test_spec_hello(void)
{
	CHECK_STR(serr("hello"),
	    "Unexpected token 'h', \"hello\" is not valid JSON");
end:	;
}

static void
test_spec_trailing_garbage(void)
{
	const char	*obj = SPEC_PREFIX "h\"}}";
	char		 body[128];
	long		 pos = 0;

	CHECK_INT(strlen(obj), 59);
	snprintf(body, sizeof body, "%s x", obj);
	CHECK_STR(perr_len(body, strlen(body), 1, &pos),
	    "Unexpected non-whitespace character after JSON at position 60");
	CHECK_INT(pos, 60);
	/* The object alone is fine, and trailing whitespace too. */
	CHECK(serr(obj) == NULL);
	snprintf(body, sizeof body, "%s \r\n\t ", obj);
	CHECK(serr(body) == NULL);
end:	;
}

static void
test_spec_strict_top_level(void)
{
	char	 body[64];

	CHECK_STR(serr("\"hello\""),
	    "Unexpected token '\"', \"\"hello\"\" is not valid JSON");
	CHECK_STR(serr("null"),
	    "Unexpected token 'n', \"null\" is not valid JSON");
	/* body-parser's imitation keeps the leading whitespace. */
	CHECK_STR(serr("  \"hello\""),
	    "Unexpected token '\"', \"  \"hello\"\" is not valid JSON");
	/* A number is a "token" here, not V8's "Unexpected number". */
	CHECK_STR(serr("123"),
	    "Unexpected token '1', \"123\" is not valid JSON");
	CHECK_STR(serr("-1"),
	    "Unexpected token '-', \"-1\" is not valid JSON");
	/* Long bodies get V8's snippet. */
	memset(body, 'x', 30);
	body[30] = '\0';
	CHECK_STR(serr(body),
	    "Unexpected token 'x', \"xxxxxxxxxx\"... is not valid JSON");
	/* "[object Object]" starts like an array and is V8's special case. */
	CHECK_STR(serr("[object Object]"),
	    "\"[object Object]\" is not valid JSON");
end:	;
}

static void
test_spec_control_char(void)
{
	char	 body[128];
	size_t	 n;

	n = strlen(SPEC_PREFIX);
	memcpy(body, SPEC_PREFIX, n);
	memset(body + n, 'x', 88 - n);
	body[88] = '\n';
	strcpy(body + 89, "\"}}");
	CHECK_STR(serr(body),
	    "Bad control character in string literal in JSON at position 88");
	body[88] = '\t';
	CHECK_STR(serr(body),
	    "Bad control character in string literal in JSON at position 88");
end:	;
}

static void
test_spec_stray_quote(void)
{
	const char	*pre = SPEC_PREFIX "Deploy\",\"description\":\"";
	char		 body[160];
	size_t		 n;

	n = strlen(pre);
	memcpy(body, pre, n);
	/* The stray quote lands at 103, the character after it at 104. */
	memset(body + n, 'y', 103 - n);
	strcpy(body + 103, "\"hi\" now\"}}");
	CHECK_STR(serr(body),
	    "Expected ',' or '}' after property value in JSON at position 104");
end:	;
}

static void
test_spec_missing_value(void)
{
	CHECK_STR(serr("{\"recipients\":{\"type\":\"broadcast\"},"
	    "\"payload\":{\"title\":}}"),
	    "Unexpected token '}', ...\":{\"title\":}}\" is not valid JSON");
end:	;
}

static void
test_v8_string_errors(void)
{
	CHECK_STR(serr("{\"a\":\"abc"),
	    "Unterminated string in JSON at position 9");
	CHECK_STR(serr("{\"a\":\"x\\q\"}"),
	    "Bad escaped character in JSON at position 8");
	CHECK_STR(serr("{\"a\":\"\\u12x4\"}"),
	    "Bad Unicode escape in JSON at position 10");
	CHECK_STR(serr("[\"\\u12"),
	    "Bad Unicode escape in JSON at position 6");
	CHECK_STR(serr("[\"\\"), "Unexpected end of JSON input");
	/* A backslash before a non-Latin-1 character is a stray token. */
	CHECK_STR(serr("[\"\\\xe2\x82\xac\"]"),
	    "Unexpected token '\xe2\x82\xac', \"[\"\\\xe2\x82\xac\"]\" "
	    "is not valid JSON");
	CHECK_STR(serr("[\"\x01\"]"),
	    "Bad control character in string literal in JSON at position 2");
end:	;
}

static void
test_v8_number_errors(void)
{
	CHECK_STR(serr("{\"a\":-}"),
	    "No number after minus sign in JSON at position 6");
	CHECK_STR(serr("[-"), "No number after minus sign in JSON at position 2");
	CHECK_STR(serr("{\"a\":1.}"),
	    "Unterminated fractional number in JSON at position 7");
	CHECK_STR(serr("{\"a\":1e}"),
	    "Exponent part is missing a number in JSON at position 7");
	CHECK_STR(serr("[1e+]"),
	    "Exponent part is missing a number in JSON at position 4");
	CHECK_STR(serr("[01]"), "Unexpected number in JSON at position 2");
	CHECK_STR(serr("[-01]"), "Unexpected number in JSON at position 3");
	CHECK_STR(nerr("01"), "Unexpected number in JSON at position 1");
	/* After a lone zero, '-' is the next token, not part of the number. */
	CHECK_STR(serr("[0-1]"),
	    "Expected ',' or ']' after array element in JSON at position 2");
	CHECK_STR(serr("[.5]"),
	    "Unexpected token '.', \"[.5]\" is not valid JSON");
end:	;
}

static void
test_v8_structure_errors(void)
{
	CHECK_STR(serr("{\"a\" 1}"),
	    "Expected ':' after property name in JSON at position 5");
	CHECK_STR(serr("{\"a\""),
	    "Expected ':' after property name in JSON at position 4");
	/* After a later key Node 20 gives the generic messages instead. */
	CHECK_STR(serr("{\"a\":1,\"b\" 2}"),
	    "Unexpected number in JSON at position 11");
	CHECK_STR(serr("{\"a\":1,\"b\" \"c\"}"),
	    "Unexpected string in JSON at position 11");
	CHECK_STR(serr("{\"a\":1,\"b\"}"),
	    "Unexpected token '}', \"{\"a\":1,\"b\"}\" is not valid JSON");
	CHECK_STR(serr("{\"a\":1,\"b\""), "Unexpected end of JSON input");
	CHECK_STR(serr("[1 2]"),
	    "Expected ',' or ']' after array element in JSON at position 3");
	CHECK_STR(serr("[1"),
	    "Expected ',' or ']' after array element in JSON at position 2");
	CHECK_STR(serr("{\"a\":1 \"b\":2}"),
	    "Expected ',' or '}' after property value in JSON at position 7");
	CHECK_STR(serr("{\"a\":1"),
	    "Expected ',' or '}' after property value in JSON at position 6");
	CHECK_STR(serr("{\"a\":1,}"),
	    "Expected double-quoted property name in JSON at position 7");
	CHECK_STR(serr("{\"a\":1,"),
	    "Expected double-quoted property name in JSON at position 7");
	CHECK_STR(serr("[1,]"),
	    "Unexpected token ']', \"[1,]\" is not valid JSON");
	CHECK_STR(serr("{"),
	    "Expected property name or '}' in JSON at position 1");
	CHECK_STR(serr("["), "Unexpected end of JSON input");
	CHECK_STR(serr("[tru"), "Unexpected end of JSON input");
	CHECK_STR(serr("[trux]"),
	    "Unexpected token 'x', \"[trux]\" is not valid JSON");
	CHECK_STR(serr("[nul\"]"), "Unexpected string in JSON at position 4");
	CHECK_STR(serr("[truex]"),
	    "Expected ',' or ']' after array element in JSON at position 5");
end:	;
}

static void
test_v8_snippets(void)
{
	/* Under 21 units: the whole text. */
	CHECK_STR(serr("[1,2,3,4,5,6,7,8,x]"),
	    "Unexpected token 'x', \"[1,2,3,4,5,6,7,8,x]\" is not valid JSON");
	/* From 21 units on: a snippet. */
	CHECK_STR(serr("[1,2,3,4,5,6,7,8,9,x]"),
	    "Unexpected token 'x', ...\"5,6,7,8,9,x]\" is not valid JSON");
	/* Near the start: text up to ten past the token, then "...". */
	CHECK_STR(serr("[x,1,2,3,4,5,6,7,8,9,10,11]"),
	    "Unexpected token 'x', \"[x,1,2,3,4,\"... is not valid JSON");
	/* In the middle: ten either side. */
	CHECK_STR(serr("[1,2,3,4,5,6,7,x,8,9,10,11,12,13]"),
	    "Unexpected token 'x', ...\"3,4,5,6,7,x,8,9,10,1\"... "
	    "is not valid JSON");
	/* Near the end: ten before, then the rest. */
	CHECK_STR(serr("[1,2,3,4,5,6,7,8,9,10,x]"),
	    "Unexpected token 'x', ...\",7,8,9,10,x]\" is not valid JSON");
end:	;
}

static void
test_not_strict(void)
{
	char	*s = NULL;

	CHECK_STR(nerr("NaN"), "\"NaN\" is not valid JSON");
	CHECK_STR(nerr("undefined"), "\"undefined\" is not valid JSON");
	CHECK_STR(nerr("Infinity"), "\"Infinity\" is not valid JSON");
	CHECK_STR(nerr(""), "Unexpected end of JSON input");
	CHECK_STR(nerr("1 2"),
	    "Unexpected non-whitespace character after JSON at position 2");
	s = reprint("\"hello\"", 7, 0);
	CHECK_STR(s, "\"hello\"");
	free(s);
	s = reprint(" 12 ", 4, 0);
	CHECK_STR(s, "12");
	free(s);
	/* JSON.parse knows no BOM; only body-parser drops it. */
	CHECK_STR(nerr("\xef\xbb\xbf{}"),
	    "Unexpected token '\xef\xbb\xbf', \"\xef\xbb\xbf{}\" "
	    "is not valid JSON");
	s = NULL;
end:
	free(s);
}

static void
test_empty_and_whitespace(void)
{
	struct json	*v = NULL;
	char		 err[JSON_ERRLEN];
	long		 pos = 0;

	v = json_parse("", 0, 1, err, sizeof err, NULL);
	CHECK(v != NULL);
	CHECK_INT(json_type(v), JSON_OBJECT);
	CHECK_INT(json_size(v), 0);
	json_free(v);
	/* A BOM alone decodes to the empty string. */
	v = json_parse("\xef\xbb\xbf", 3, 1, err, sizeof err, NULL);
	CHECK(v != NULL);
	CHECK_INT(json_type(v), JSON_OBJECT);
	json_free(v);
	v = NULL;
	/* Whitespace is not empty: JSON.parse("") runs and fails. */
	CHECK_STR(perr_len(" \r\n\t", 4, 1, &pos),
	    "Unexpected end of JSON input");
	CHECK_INT(pos, -1);
	/* The BOM is dropped before positions are counted. */
	CHECK_STR(perr_len("\xef\xbb\xbf{bad", 7, 1, &pos),
	    "Expected property name or '}' in JSON at position 1");
	CHECK_INT(pos, 4);
	CHECK(serr("\xef\xbb\xbf[]") == NULL);
end:
	json_free(v);
}

static void
test_utf16_positions(void)
{
	long	 pos = 0;

	/* U+1F600 is two UTF-16 units (four bytes). */
	CHECK_STR(perr_len("{\"a\":\"\xf0\x9f\x98\x80\" x}", 14, 1, &pos),
	    "Expected ',' or '}' after property value in JSON at position 10");
	CHECK_INT(pos, 12);
	/* An invalid byte is one unit, U+FFFD. */
	CHECK_STR(perr_len("{\"a\":\"\xff\" x}", 11, 1, &pos),
	    "Expected ',' or '}' after property value in JSON at position 9");
	CHECK_INT(pos, 9);
	/* A truncated sequence is one U+FFFD for the lot. */
	CHECK_STR(perr_len("{\"a\":\"\xe2\x82\" x}", 12, 1, &pos),
	    "Expected ',' or '}' after property value in JSON at position 9");
	CHECK_INT(pos, 10);
	/* U+00E9 and U+20AC are one unit each. */
	CHECK_STR(perr_len("{\"\xc3\xa9\xe2\x82\xac\":1,\"b\" 2}", 17, 1, &pos),
	    "Unexpected number in JSON at position 12");
	CHECK_INT(pos, 15);
end:	;
}

static void
test_replacement_char(void)
{
	struct json	*v = NULL;
	const char	*body = "{\"a\":\"\xff\xe2\x82z\xed\xa0\x80\"}";
	char		 err[JSON_ERRLEN];

	v = json_parse(body, strlen(body), 1, err, sizeof err, NULL);
	CHECK(v != NULL);
	/* One U+FFFD per maximal ill-formed subsequence, as Node decodes:
	 * FF; E2 82 (cut short by 'z'); ED A0 80 (a surrogate: three). */
	CHECK_STR(json_string(json_get(v, "a")),
	    "\xef\xbf\xbd\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	/* Outside a string it is an unexpected token. */
	CHECK_STR(serr("[\x80]"),
	    "Unexpected token '\xef\xbf\xbd', \"[\xef\xbf\xbd]\" "
	    "is not valid JSON");
end:
	json_free(v);
}

static void
test_surrogates_and_nul(void)
{
	const char	*in = "[\"\\u0000\\ud800\\udc00\\udc00\\ud800\"]";
	struct json	*v = NULL, *msg = NULL;
	char		*s = NULL, err[JSON_ERRLEN];

	v = json_parse(in, strlen(in), 1, err, sizeof err, NULL);
	CHECK(v != NULL);
	/* Stored: C0 80, a real U+10000, then two lone surrogates. */
	CHECK_STR(json_string(json_first(v)),
	    "\xc0\x80\xf0\x90\x80\x80\xed\xb0\x80\xed\xa0\x80");
	s = json_print(v, NULL);
	CHECK_STR(s, "[\"\\u0000\xf0\x90\x80\x80\\udc00\\ud800\"]");
	free(s);
	s = NULL;

	/* V8 names the unexpected unit, here half of U+1F389; express
	 * sends the message through JSON.stringify, which escapes it. */
	CHECK_STR(serr("{\"a\":\xf0\x9f\x8e\x89}"),
	    "Unexpected token '\xed\xa0\xbc', \"{\"a\":\xf0\x9f\x8e\x89}\" "
	    "is not valid JSON");
	msg = json_new_string(serr("{\"a\":\xf0\x9f\x8e\x89}"));
	s = json_print(msg, NULL);
	CHECK_STR(s, "\"Unexpected token '\\ud83c', "
	    "\\\"{\\\"a\\\":\xf0\x9f\x8e\x89}\\\" is not valid JSON\"");
	free(s);
	s = NULL;
	json_free(msg);
	msg = NULL;

	/* A raw NUL in the body: the message must not be cut short. */
	CHECK_STR(perr_len("{\"a\":\0}", 7, 1, NULL),
	    "Unexpected token '\xc0\x80', \"{\"a\":\xc0\x80}\" "
	    "is not valid JSON");
end:
	free(s);
	json_free(msg);
	json_free(v);
}

static void
test_duplicate_keys(void)
{
	char	*s = NULL;
	const char *in = "{\"b\":1,\"a\":2,\"b\":3,\"10\":4,\"2\":5,"
	    "\"01\":6,\"4294967295\":7,\"4294967294\":8}";

	/* Last value, first place; array indices first, in number order. */
	s = reprint(in, strlen(in), 1);
	CHECK_STR(s, "{\"2\":5,\"10\":4,\"4294967294\":8,\"b\":3,\"a\":2,"
	    "\"01\":6,\"4294967295\":7}");
	free(s);
	s = reprint("{\"a\":{\"x\":1},\"z\":0,\"a\":{\"y\":2}}", 31, 1);
	CHECK_STR(s, "{\"a\":{\"y\":2},\"z\":0}");
	free(s);
	/* "\u0031" is the key "1", an index. */
	s = reprint("{\"b\":0,\"\\u0031\":1}", 18, 1);
	CHECK_STR(s, "{\"1\":1,\"b\":0}");
end:
	free(s);
}

static void
test_depth_cap(void)
{
	char	*body = NULL, *s = NULL;
	size_t	 i;

	body = malloc(2 * (JSON_MAX_DEPTH + 1) + 1);
	for (i = 0; i < JSON_MAX_DEPTH; i++) {
		body[i] = '[';
		body[JSON_MAX_DEPTH + i] = ']';
	}
	s = reprint(body, 2 * JSON_MAX_DEPTH, 1);
	CHECK(s != NULL);
	CHECK_INT(strlen(s), 2 * JSON_MAX_DEPTH);
	free(s);
	s = NULL;

	for (i = 0; i <= JSON_MAX_DEPTH; i++) {
		body[i] = '{';
		body[JSON_MAX_DEPTH + 1 + i] = '}';
	}
	/* Mix the two kinds: objects need a key for every level. */
	CHECK_STR(perr_len(body, 2 * JSON_MAX_DEPTH + 2, 1, NULL),
	    "Expected property name or '}' in JSON at position 1");
	for (i = 0; i <= JSON_MAX_DEPTH; i++)
		body[i] = '[';
	CHECK_STR(perr_len(body, JSON_MAX_DEPTH + 1, 1, NULL),
	    "Maximum JSON nesting depth exceeded at position 1000");
end:
	free(s);
	free(body);
}

static void
test_number_printing(void)
{
	static const struct {
		double		 d;
		const char	*s;
	} t[] = {
		{ 0.1, "0.1" },
		{ 1e21, "1e+21" },
		{ 1e20, "100000000000000000000" },
		{ 1e-7, "1e-7" },
		{ 1e-6, "0.000001" },
		{ 123456789012345680000.0, "123456789012345680000" },
		{ -0.0, "0" },
		{ 5e-324, "5e-324" },
		{ 2.5, "2.5" },
		{ -1.5e-9, "-1.5e-9" },
		{ 1.7976931348623157e308, "1.7976931348623157e+308" },
		{ 9007199254740992.0, "9007199254740992" },
		{ 0.000001234, "0.000001234" },
		{ 123e-20, "1.23e-18" },
		{ 100, "100" },
		{ 4.35, "4.35" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ -42, "-42" },
	};
	char	*s = NULL;
	size_t	 i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		s = numstr(t[i].d);
		CHECK_STR(s, t[i].s);
		free(s);
		s = NULL;
	}
	/* Out of range reads as Infinity, which JSON.stringify nulls. */
	s = reprint("[1E2,1e400,-1e-400,0.1e1,-0,1.5e-7,-0.0]", 40, 1);
	CHECK_STR(s, "[100,null,0,1,0,1.5e-7,0]");
end:
	free(s);
}

static void
test_string_escaping(void)
{
	struct json	*v = NULL, *back = NULL;
	char		 in[64], *s = NULL;
	size_t		 i, n = 0;

	for (i = 1; i < 0x20; i++)
		in[n++] = (char)i;
	memcpy(in + n, "\"\\/\x7f\xc3\xa9\xe2\x80\xa8", 10);
	in[n + 10] = '\0';
	v = json_new_string(in);
	s = json_print(v, NULL);
	CHECK_STR(s, "\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007"
	    "\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013"
	    "\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c"
	    "\\u001d\\u001e\\u001f\\\"\\\\/\x7f\xc3\xa9\xe2\x80\xa8\"");
	/* And back. */
	back = json_parse(s, strlen(s), 0, NULL, 0, NULL);
	CHECK(back != NULL);
	CHECK_STR(json_string(back), in);
	free(s);
	s = NULL;
	json_free(v);
	/* Bytes that are not UTF-8 (only a builder can make them) go out
	 * as U+FFFD, so the output is always UTF-8. */
	v = json_new_string("a\xff" "b\xe2\x82");
	s = json_print(v, NULL);
	CHECK_STR(s, "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\"");
	free(s);
	s = NULL;
	json_free(v);
	/* Stored surrogate halves in a row are one character. */
	v = json_new_string("\xed\xa0\xbd\xed\xb8\x80");
	s = json_print(v, NULL);
	CHECK_STR(s, "\"\xf0\x9f\x98\x80\"");
end:
	free(s);
	json_free(back);
	json_free(v);
}

/* The writer gives what json_print gives, piece by piece. */
static void
test_writer(void)
{
	static const double	 nums[] = { 0, -0.0, -42, 1e21, 0.1 + 0.2,
	    9007199254740992.0, -9007199254740991.0, 5e-324, 1e300 };
	struct json_buf		 b = JSON_BUF_INIT;
	struct json		*v = NULL;
	char			*s = NULL, *want = NULL;
	size_t			 i, n;

	json_buf_raw(&b, "x=", 2);
	json_buf_str(&b, "a\"b\n\0c\xc3\xa9", 8);
	CHECK_STR(b.p, "x=\"a\\\"b\\n\\u0000c\xc3\xa9\"");
	s = json_buf_take(&b, &n);
	CHECK_INT(n, strlen(s));
	CHECK(b.p == NULL && b.len == 0);
	free(s);
	s = json_buf_take(&b, &n);	/* nothing written: "" */
	CHECK_STR(s, "");
	CHECK_INT(n, 0);
	free(s);
	s = NULL;
	for (i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		v = json_new_number(nums[i]);
		want = json_print(v, NULL);
		json_buf_num(&b, nums[i]);
		s = json_buf_take(&b, NULL);
		CHECK_STR(s, want);
		json_free(v);
		v = NULL;
		free(want);
		want = NULL;
		free(s);
		s = NULL;
	}
	/* Stored forms (NUL, a lone surrogate) and bytes that are not
	 * UTF-8, as json_print writes them. */
	v = json_new_string("\xc0\x80\xed\xa0\xbd!\xff");
	want = json_print(v, NULL);
	json_buf_str(&b, "\xc0\x80\xed\xa0\xbd!\xff", 7);
	s = json_buf_take(&b, NULL);
	CHECK_STR(s, want);
	CHECK_STR(s, "\"\\u0000\\ud83d!\xef\xbf\xbd\"");
end:
	json_free(v);
	free(want);
	free(s);
	free(b.p);
}

static void
test_builders(void)
{
	struct json	*o = NULL, *copy = NULL, *a, *m;
	char		*s = NULL;
	const char	*keys[] = { "z", "a", "m", "n" };
	size_t		 i;

	o = json_new_object();
	json_add_str(o, "z", "last");
	json_add_num(o, "a", 1.5);
	json_add_bool(o, "m", 1);
	json_add_str(o, "n", NULL);
	a = json_new_array();
	json_append(a, json_new_number(1));
	json_append(a, json_new_string("two"));
	json_append(a, json_new_null());
	json_append(a, json_new_bool(0));
	json_add(o, "list", a);
	s = json_print(o, NULL);
	CHECK_STR(s, "{\"z\":\"last\",\"a\":1.5,\"m\":true,\"n\":null,"
	    "\"list\":[1,\"two\",null,false]}");
	free(s);
	s = NULL;

	/* Key order is insertion order, seen through the iterators too. */
	for (m = json_first(o), i = 0; i < 4; m = json_next(m), i++)
		CHECK_STR(json_key(m), keys[i]);
	CHECK_INT(json_size(o), 5);
	CHECK_INT(json_size(a), 4);
	CHECK_INT(json_size(json_get(o, "z")), 0);
	CHECK_INT(json_type(json_get(o, "m")), JSON_TRUE);
	CHECK_INT(json_type(json_get(o, "n")), JSON_NULL);
	CHECK_INT(json_type(a), JSON_ARRAY);
	CHECK_INT(json_type(NULL), JSON_INVALID);
	CHECK(json_number(json_get(o, "a")) == 1.5);
	CHECK(json_number(json_get(o, "z")) == 0);
	CHECK(json_string(json_get(o, "a")) == NULL);
	CHECK(json_get(o, "Z") == NULL);
	CHECK(json_get(a, "z") == NULL);

	/* Like obj[key] = v: an existing key keeps its place... */
	json_add_num(o, "z", 7);
	/* ...and an index key goes before the named ones. */
	json_add_num(o, "10", 10);
	json_add_num(o, "9", 9);
	json_del(o, "list");
	json_del(o, "absent");
	s = json_print(o, NULL);
	CHECK_STR(s, "{\"9\":9,\"10\":10,\"z\":7,\"a\":1.5,\"m\":true,"
	    "\"n\":null}");
	free(s);
	s = NULL;

	/* A deep copy does not share. */
	copy = json_dup(o);
	json_add_str(copy, "a", "changed");
	CHECK(json_number(json_get(o, "a")) == 1.5);
	CHECK_STR(json_string(json_get(copy, "a")), "changed");

	/* Adding to the wrong kind of container frees the value. */
	json_append(o, json_new_string("leak?"));
	json_add(json_get(o, "a"), "k", json_new_string("leak?"));
	CHECK_INT(json_size(o), 6);

	CHECK(json_version() != NULL && json_version()[0] >= '1');
end:
	free(s);
	json_free(copy);
	json_free(o);
}

static void
test_err_buffer(void)
{
	char		 small[12];
	struct json	*v;

	v = json_parse("{bad", 4, 1, small, sizeof small, NULL);
	CHECK(v == NULL);
	CHECK_STR(small, "Expected pr");
	v = json_parse("{bad", 4, 1, NULL, 0, NULL);
	CHECK(v == NULL);
end:	;
}

/* json_buf_bytes(buf, len) compared with want (its C string), and what
 * it returned (1: no byte replaced). */
static int
bytes_is(const char *buf, size_t len, const char *want, int want_valid)
{
	struct json_buf	 b = JSON_BUF_INIT;
	int		 valid, ok;

	valid = json_buf_bytes(&b, buf, len);
	ok = b.p != NULL && strcmp(b.p, want) == 0 && valid == want_valid;
	if (!ok)
		fprintf(stderr, "# json_buf_bytes gave %s (valid %d)\n", b.p,
		    valid);
	free(b.p);
	return (ok);
}

/* A literal and its length (NULs included). */
#define RAW(s)	(s), sizeof(s) - 1

/* Raw bytes as a string: strict UTF-8 as it is, one U+FFFD per byte that
 * is not (so C0 80 and a surrogate's three bytes too: unlike json.h's
 * stored forms, which json_buf_str reads), NUL and controls escaped. */
static void
test_writer_bytes(void)
{
	CHECK(bytes_is(RAW(""), "\"\"", 1));
	CHECK(bytes_is(RAW("plain {\"a\":1}"), "\"plain {\\\"a\\\":1}\"", 1));
	CHECK(bytes_is(RAW("a\0b"), "\"a\\u0000b\"", 1));
	CHECK(bytes_is(RAW("\x01\t\\/\x7f"), "\"\\u0001\\t\\\\/\x7f\"", 1));
	CHECK(bytes_is(RAW("caf\xc3\xa9 ok"), "\"caf\xc3\xa9 ok\"", 1));
	CHECK(bytes_is(RAW("x\xff" "y"), "\"x\xef\xbf\xbd" "y\"", 0));
	CHECK(bytes_is(RAW("\xe2\x82"), "\"\xef\xbf\xbd\xef\xbf\xbd\"", 0));
	CHECK(bytes_is(RAW("\xf0\x9f\x98\x80!"), "\"\xf0\x9f\x98\x80!\"", 1));
	CHECK(bytes_is(RAW("ab\x80"), "\"ab\xef\xbf\xbd\"", 0));
	CHECK(bytes_is(RAW("\xc0\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\"", 0));
	CHECK(bytes_is(RAW("\xed\xa0\x80"),
	    "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"", 0));
end:
	;
}

/* s as json_buf_str writes it one unit at a time (a byte, or the
 * multi-byte sequence at u[k]): what the whole string must give, however
 * the writer finds its runs. */
static char *
str_by_units(const char *s, const size_t *u, size_t nu, size_t len)
{
	struct json_buf	 b = JSON_BUF_INIT, one = JSON_BUF_INIT;
	size_t		 k, end;

	json_buf_raw(&b, "\"", 1);
	for (k = 0; k < nu; k++) {
		end = k + 1 < nu ? u[k + 1] : len;
		json_buf_str(&one, s + u[k], end - u[k]);
		json_buf_raw(&b, one.p + 1, one.len - 2);
		free(json_buf_take(&one, NULL));
	}
	json_buf_raw(&b, "\"", 1);
	return (b.p);
}

/* Each character that ends a run, at each place in and across 8-byte
 * words, written whole and one unit at a time. */
static void
test_writer_runs(void)
{
	static const char	*special[] = {
		"\"", "\\", "\x01", "\x1f", "\x7f", " ", "~", "\xc3\xa9",
		"\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc0\x80", "\x0a",
	};
	struct json_buf	 b = JSON_BUF_INIT;
	char		 s[64], *want = NULL;
	size_t		 u[64], nu, len, k, p, t, q;

	for (t = 0; t < sizeof special / sizeof special[0]; t++)
		for (p = 0; p < 20; p++)
			for (q = 0; q < 12; q += 5) {
				len = nu = 0;
				for (k = 0; k < p; k++) {
					u[nu++] = len;
					s[len++] = (char)('a' + k % 26);
				}
				u[nu++] = len;
				memcpy(s + len, special[t], strlen(special[t]));
				len += strlen(special[t]);
				for (k = 0; k < q; k++) {
					u[nu++] = len;
					s[len++] = 'z';
				}
				json_buf_str(&b, s, len);
				want = str_by_units(s, u, nu, len);
				CHECK_STR(b.p, want);
				free(want);
				want = NULL;
				free(json_buf_take(&b, NULL));
			}
end:
	free(want);
	free(b.p);
}

/* Does json_printed say 1 exactly when print(parse(text)) is text? */
static int
printed_is(const char *text, int want)
{
	char	*again = reprint(text, strlen(text), 0);
	int	 got = json_printed(text, strlen(text)), fixed;

	fixed = again != NULL && strcmp(again, text) == 0;
	free(again);
	if (got && !fixed)
		fprintf(stderr, "# json_printed(%s) = 1, not printed form\n",
		    text);
	else if (got != want)
		fprintf(stderr, "# json_printed(%s) = %d\n", text, got);
	return (got == want && (!got || fixed));
}

/* Printed form is copied as it is (stored arrays of the assertion API);
 * anything the parser would change, or that would take a parse to tell,
 * is not. */
static void
test_printed(void)
{
	static const char	*yes[] = {
		"[]", "{}", "null", "true", "false", "0", "-12", "\"\"",
		"123456789012345", "-123456789012345", "1.5", "-0.5", "0.1",
		"1e+21", "1e-7", "5e-324", "12345678901234567000",
		"[\"component:default/a\",\"user:default/b\"]",
		"{\"a\":{\"b\":[1,true,null,\"x\"]},\"\":0,\"a1\":[]}",
		"[\"\\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u0001\\u001f/\x7f\"]",
		"\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
		"[[\"host\",\"x\"],[\"content-type\",\"application/json\"]]",
		"{\"k\":\"v\",\"K\":\"v\",\"k2\":{\"k\":1}}",
	};
	static const char	*no[] = {
		"", " []", "[] ", "[ ]", "[1,]", "[1 ,2]", "{\"a\" :1}", "{,}",
		"-0", "1.0", "1e2", "1E+21", "0.10", "01", "-", "1.", "1e",
		"12345678901234567890", "1e400", "tru", "nul", "falsey",
		"\"\\/\"", "\"\\u00e9\"", "\"\\u001F\"", "\"\\u000a\"",
		"\"\\u0022\"", "\"\\ud800\"", "\"\\ud83d\\ude00\"", "\"\\x\"",
		"\"\xff\"", "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"\x01\"",
		"\"abc", "\"\\", "{\"a\":1,\"a\":2}", "{\"b\":1,\"0\":2}",
		"{\"1\":1}", "{\"4294967295\":1}", "{\"a\"}", "{\"a\":}",
		"[1]]", "[\"a\"\"b\"]", "{\"a\":1}{}", "\xef\xbb\xbf[]",
		"{\"01\":1}",	/* not an index, but told by a parse */
	};
	char		 deep[84], wide[1200];
	size_t		 i, o;

	for (i = 0; i < sizeof yes / sizeof yes[0]; i++)
		CHECK(printed_is(yes[i], 1));
	for (i = 0; i < sizeof no / sizeof no[0]; i++)
		CHECK(printed_is(no[i], 0));
	/* Deep and wide: printed form, but told by a parse. */
	memset(deep, '[', 20);
	memset(deep + 20, ']', 20);
	deep[40] = '\0';
	CHECK(printed_is(deep, 1));
	memset(deep, '[', 40);
	memset(deep + 40, ']', 40);
	deep[80] = '\0';
	CHECK(printed_is(deep, 0));
	o = 0;
	wide[o++] = '{';
	for (i = 0; i < 70; i++)
		o += (size_t)snprintf(wide + o, sizeof wide - o, "%s\"k%zu\":1",
		    i ? "," : "", i);
	wide[o++] = '}';
	wide[o] = '\0';
	CHECK(printed_is(wide, 0));
end:
	;
}

/* A random JSON text of depth at most depth into t (room for 4 KiB),
 * from pieces of every form: printed or not, repeated and index keys. */
static unsigned int	 rnd_seed = 12345;

static unsigned int
rnd(unsigned int n)
{
	rnd_seed = rnd_seed * 1103515245 + 12345;
	return ((rnd_seed >> 8) % n);
}

static void
rnd_json(struct json_buf *t, int depth)
{
	static const char	*str[] = {
		"a", "\\n", "\\u0001", "\\u00e9", "\\/", "\xc3\xa9", "\xff",
		"\\ud800", "\\ud83d\\ude00", "\\u001F", "\\\"", "0", "\\u0000",
		"\x7f", "\xed\xa0\x80", "\xc0\x80", "\\t", "b", "\xf0\x9f\x98\x80",
	};
	static const char	*num[] = {
		"0", "-0", "1", "1.0", "1.5", "1e2", "1e+21", "-12", "0.1",
		"12345678901234567890", "5e-324", "1e400", "123456789012345",
		"1234567890123456", "-0.5", "1E+21", "0.30000000000000004",
	};
	static const char	*lit[] = { "true", "false", "null" };
	static const char	*key[] = {
		"\"a\"", "\"0\"", "\"1\"", "\"b\"", "\"01\"", "\"\\u0061\"",
		"\"\"", "\"c\"", "\"d\"", "\"e\"",
	};
	const char		*p;
	unsigned int		 i, n;

	if (rnd(20) == 0)
		json_buf_raw(t, " ", 1);
	switch (depth > 0 ? rnd(5) : rnd(3)) {
	case 0:
		json_buf_raw(t, "\"", 1);
		for (i = 0, n = rnd(4); i < n; i++) {
			p = str[rnd(sizeof str / sizeof str[0])];
			json_buf_raw(t, p, strlen(p));
		}
		json_buf_raw(t, "\"", 1);
		break;
	case 1:
		p = num[rnd(sizeof num / sizeof num[0])];
		json_buf_raw(t, p, strlen(p));
		break;
	case 2:
		p = lit[rnd(3)];
		json_buf_raw(t, p, strlen(p));
		break;
	case 3:
		json_buf_raw(t, "[", 1);
		for (i = 0, n = rnd(4); i < n; i++) {
			if (i > 0)
				json_buf_raw(t, ",", 1);
			rnd_json(t, depth - 1);
		}
		json_buf_raw(t, "]", 1);
		break;
	default:
		json_buf_raw(t, "{", 1);
		for (i = 0, n = rnd(4); i < n; i++) {
			p = key[rnd(sizeof key / sizeof key[0])];
			if (i > 0)
				json_buf_raw(t, ",", 1);
			json_buf_raw(t, p, strlen(p));
			json_buf_raw(t, ":", 1);
			rnd_json(t, depth - 1);
		}
		json_buf_raw(t, "}", 1);
		break;
	}
}

/* Random texts: json_printed never says 1 for one that print(parse())
 * would change, and says 1 for most printed texts. */
static void
test_printed_random(void)
{
	struct json_buf	 t = JSON_BUF_INIT;
	char		*again = NULL;
	unsigned int	 i, hits = 0, printed = 0, told = 0;

	for (i = 0; i < 100000; i++) {
		rnd_json(&t, 4);
		if (json_printed(t.p, t.len)) {
			hits++;
			CHECK(printed_is(t.p, 1));
		}
		if ((again = reprint(t.p, t.len, 0)) != NULL) {
			printed++;
			told += json_printed(again, strlen(again));
		}
		free(again);
		again = NULL;
		free(json_buf_take(&t, NULL));
	}
	fprintf(stderr, "# %u of 100000 said printed; %u of %u printed "
	    "texts\n", hits, told, printed);
	CHECK(hits > 10000);
	CHECK(told > printed / 2);
end:
	free(again);
	free(t.p);
}

static const struct unit_test tests[] = {
	{ "spec 4.3: truncated body", test_spec_truncated },
	{ "spec 4.3: {bad", test_spec_bad_key },
	{ "spec 4.3: hello", test_spec_hello },
	{ "spec 4.3: 59-byte object then x", test_spec_trailing_garbage },
	{ "spec 4.3: strict top level", test_spec_strict_top_level },
	{ "spec 4.3: raw newline and tab at 88", test_spec_control_char },
	{ "spec 4.3: stray quote, 104", test_spec_stray_quote },
	{ "spec 4.3: missing value snippet", test_spec_missing_value },
	{ "V8 string errors", test_v8_string_errors },
	{ "V8 number errors", test_v8_number_errors },
	{ "V8 structure errors", test_v8_structure_errors },
	{ "V8 snippet forms", test_v8_snippets },
	{ "not strict is plain JSON.parse", test_not_strict },
	{ "empty, whitespace and BOM", test_empty_and_whitespace },
	{ "positions in UTF-16 units", test_utf16_positions },
	{ "invalid UTF-8 becomes U+FFFD", test_replacement_char },
	{ "NUL and lone surrogates survive", test_surrogates_and_nul },
	{ "duplicate and index keys", test_duplicate_keys },
	{ "nesting depth cap", test_depth_cap },
	{ "numbers print as JavaScript", test_number_printing },
	{ "string escaping", test_string_escaping },
	{ "the writer: json_buf_*", test_writer },
	{ "the writer: raw bytes as a string", test_writer_bytes },
	{ "the writer: runs end at each special", test_writer_runs },
	{ "printed form told without a parse", test_printed },
	{ "printed form: random texts", test_printed_random },
	{ "builders", test_builders },
	{ "small error buffer", test_err_buffer },
	{ NULL, NULL }
};

UNIT_MAIN(tests)
