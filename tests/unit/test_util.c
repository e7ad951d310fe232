/* test_util.c: time formats, ids, numbers, durations, the string set and
 * the evbuffer copy. */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "util.h"
#include "unit.h"

static void
test_iso_and_dates(void)
{
	char	buf[UTIL_ISO_LEN];
	int64_t	ms;

	CHECK_STR(util_iso_ms(1795955912797LL, buf), "2026-11-29T12:38:32.797Z");
	CHECK_STR(util_iso_ms(0, buf), "1970-01-01T00:00:00.000Z");
	CHECK_INT(util_parse_date("2026-11-29T12:38:32.797Z", &ms), 0);
	CHECK_INT(ms, 1795955912797LL);
	CHECK_INT(util_parse_date("2026-11-29T13:38:32.797+01:00", &ms), 0);
	CHECK_INT(ms, 1795955912797LL);
	CHECK_INT(util_parse_date("2026-11-29", &ms), 0);
	CHECK_INT(ms, 1795910400000LL);
	CHECK_INT(util_parse_date("Sun, 29 Nov 2026 12:38:32 GMT", &ms), 0);
	CHECK_INT(ms, 1795955912000LL);
	CHECK_INT(util_parse_date("2026/11/29", &ms), 0);
	CHECK_INT(ms, 1795910400000LL);
	CHECK_INT(util_parse_date("11/29/2026", &ms), 0);
	CHECK_INT(ms, 1795910400000LL);
	CHECK_INT(util_parse_date("yesterday", &ms), -1);
	CHECK_INT(util_parse_date("2026-13-01", &ms), -1);
end:
	;
}

static void
test_uuid4(void)
{
	char	a[UTIL_UUID_LEN], b[UTIL_UUID_LEN];
	int	i;

	for (i = 0; i < 1000; i++) {
		util_uuid4(a);
		CHECK_INT(strlen(a), 36);
		CHECK(a[8] == '-' && a[13] == '-' && a[18] == '-' &&
		    a[23] == '-');
		CHECK(a[14] == '4');
		CHECK(strchr("89ab", a[19]) != NULL);
		util_uuid4(b);
		CHECK(strcmp(a, b) != 0);
	}
end:
	;
}

static void
test_numbers_and_durations(void)
{
	const char	*err;
	int64_t		 ms;

	CHECK_INT(util_strtonum("42", 0, 100, &err), 42);
	CHECK(err == NULL);
	util_strtonum("101", 0, 100, &err);
	CHECK_STR(err, "too large");
	util_strtonum("-1", 0, 100, &err);
	CHECK_STR(err, "too small");
	util_strtonum("4x", 0, 100, &err);
	CHECK_STR(err, "invalid");
	util_strtonum(" 4", 0, 100, &err);
	CHECK_STR(err, "invalid");
	CHECK_INT(util_parse_duration("30s", &ms), 0);
	CHECK_INT(ms, 30000);
	CHECK_INT(util_parse_duration("500ms", &ms), 0);
	CHECK_INT(ms, 500);
	CHECK_INT(util_parse_duration("2m", &ms), 0);
	CHECK_INT(ms, 120000);
	CHECK_INT(util_parse_duration("1.5", &ms), 0);
	CHECK_INT(ms, 1500);
	CHECK_INT(util_parse_duration("soon", &ms), -1);
	CHECK_INT(util_parse_duration("3d", &ms), 0);	/* days: --retain-age */
	CHECK_INT((int)(ms / 1000), 3 * 86400);
	CHECK_INT(util_parse_duration("3w", &ms), -1);
end:
	;
}

static void
test_strset(void)
{
	struct strset	*set = strset_new();
	static char	 names[5000][16];
	int		 i;

	for (i = 0; i < 5000; i++) {
		snprintf(names[i], sizeof names[i], "ref-%d", i);
		CHECK_INT(strset_add(set, names[i]), 1);
	}
	for (i = 0; i < 5000; i++) {
		CHECK(strset_has(set, names[i]));
		CHECK_INT(strset_add(set, names[i]), 0);	/* already there */
	}
	CHECK(!strset_has(set, "ref-5000"));
	CHECK(!strset_has(set, ""));
	CHECK_INT(strset_add(set, ""), 1);
	CHECK(strset_has(set, ""));
end:
	strset_free(set);
}

/* A copy with a NUL after it (also inside), and the buffer keeps it all. */
static void
test_evbuffer_str(void)
{
	struct evbuffer	*b = evbuffer_new();
	char		*s = NULL;
	size_t		 len = 99;

	s = util_evbuffer_str(b, &len);
	CHECK_STR(s, "");
	CHECK_INT(len, 0);
	free(s);
	evbuffer_add(b, "ab\0c", 4);
	evbuffer_add(b, "de", 2);
	s = util_evbuffer_str(b, &len);
	CHECK_INT(len, 6);
	CHECK(memcmp(s, "ab\0cde", 7) == 0);
	CHECK_INT(evbuffer_get_length(b), 6);
end:
	free(s);
	evbuffer_free(b);
}

static const struct unit_test tests[] = {
	{ "ISO times and date parsing", test_iso_and_dates },
	{ "UUID v4 format and uniqueness", test_uuid4 },
	{ "strtonum and durations", test_numbers_and_durations },
	{ "string set: add, has, growth, duplicates", test_strset },
	{ "evbuffer copied into a C string", test_evbuffer_str },
	{ NULL, NULL }
};
UNIT_MAIN(tests)
