/* test_mock_json.c: a delivery's JSON (mock_json.c): raw bytes as text,
 * and stored JSON read back as values. */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mock_int.h"
#include "unit.h"

/* mock_utf8(buf, len) compared with want (its C string), and valid. */
static int
utf8_is(const char *buf, size_t len, const char *want, int want_valid)
{
	char	*got;
	int	 valid = -1, ok;

	got = mock_utf8(buf, len, &valid);
	ok = strcmp(got, want) == 0 && valid == want_valid;
	if (!ok)
		fprintf(stderr, "# mock_utf8 gave \"%s\" (valid %d)\n", got,
		    valid);
	free(got);
	return (ok);
}

/* A literal and its length (NULs included). */
#define RAW(s)	(s), sizeof(s) - 1

/* ASCII runs go whole; NUL, bytes that are not UTF-8 and characters
 * between them as before (one U+FFFD per bad byte, NUL as C0 80). */
static void
test_utf8(void)
{
	CHECK(utf8_is(RAW(""), "", 1));
	CHECK(utf8_is(RAW("plain {\"a\":1}"), "plain {\"a\":1}", 1));
	CHECK(utf8_is(RAW("a\0b"), "a\xc0\x80" "b", 1));
	CHECK(utf8_is(RAW("\0"), "\xc0\x80", 1));
	CHECK(utf8_is(RAW("caf\xc3\xa9 ok"), "caf\xc3\xa9 ok", 1));
	CHECK(utf8_is(RAW("x\xff" "y"), "x\xef\xbf\xbd" "y", 0));
	CHECK(utf8_is(RAW("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd", 0));
	CHECK(utf8_is(RAW("\xf0\x9f\x98\x80!"), "\xf0\x9f\x98\x80!", 1));
	CHECK(utf8_is(RAW("ab\x80"), "ab\xef\xbf\xbd", 0));
end:
	;
}

/* Stored arrays, empty or not, come back as the same values. */
static void
test_stored(void)
{
	struct json	*o = json_new_object();
	char		*s = NULL;

	mock_add_stored(o, "a", "[]", 1);
	mock_add_stored(o, "b", "[ ]", 1);
	mock_add_stored(o, "c", "[\"x\"]", 1);
	mock_add_stored(o, "d", NULL, 1);
	mock_add_stored(o, "e", NULL, 0);
	mock_add_stored(o, "f", "{not json", 1);
	s = json_print(o, NULL);
	CHECK_STR(s, "{\"a\":[],\"b\":[],\"c\":[\"x\"],\"d\":[],\"e\":null,"
	    "\"f\":[]}");
end:
	free(s);
	json_free(o);
}

static const struct unit_test tests[] = {
	{ "raw bytes as UTF-8 text", test_utf8 },
	{ "stored JSON as values", test_stored },
	{ NULL, NULL }
};
UNIT_MAIN(tests)
