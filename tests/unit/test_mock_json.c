/* test_mock_json.c: a delivery's JSON (mock_json.c): written without a
 * tree, byte for byte what the tree gave, for every kind of hostile field;
 * and stored JSON read back as values. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "json.h"
#include "mock_int.h"
#include "unit.h"
#include "xmalloc.h"

/* Hostile deliveries: every field a client controls, in the forms the
 * printer must get right (bytes that are not UTF-8, NUL, quotes and
 * controls, stored JSON with whitespace, escapes, repeated and index keys,
 * numbers of every shape, deep nesting), NULL fields, and numbers beyond
 * 2^53. */
static char mj_deep[200], mj_wide[1200];

static void
mj_record(int i, struct db_record *d)
{
	static unsigned char	body0[] = "a\0b\xff{\"x\":1}\x01\"\\";
	static unsigned char	body1[] = "\xed\xa0\x80\xc0\x80ok";
	static unsigned char	body2[] = "{\"title\":\"caf\xc3\xa9\",\"n\":1}";
	size_t			k, o;

	memset(d, 0, sizeof *d);
	for (k = 0; k < 40; k++)
		mj_deep[k] = '[';
	for (k = 40; k < 80; k++)
		mj_deep[k] = ']';
	mj_deep[80] = '\0';
	o = 0;
	mj_wide[o++] = '{';
	for (k = 0; k < 70; k++)
		o += (size_t)snprintf(mj_wide + o, sizeof mj_wide - o,
		    "%s\"k%zu\":%zu", k ? "," : "", k, k);
	mj_wide[o++] = '}';
	mj_wide[o] = '\0';
	switch (i) {
	case 0:
		d->seq = 1;
		d->received = 1796684797045LL;
		d->remote = "127.0.0.1:\xff\xfe";
		d->method = "P\"O\\ST";
		d->path = "/api/x?\x01\xed\xa0\x80\xc0\x80\xe2\x82(\xf4\x90\x80"
		    "\x80)\x7f\xf0\x9f\x98\x80";
		d->headers = "[[\"host\",\"h\\u0001\\\"\"],[\"x\",\"\\u00e9\"]]";
		d->body = body0;
		d->body_len = sizeof body0 - 1;
		d->status = 200;
		d->response = "{\"error\":{\"message\":\"m\\u0000\"}}\xff";
		d->origin = "argocd\xc0\x80x";
		d->payload = "{\"title\":\"t\",\"1\":2,\"0\":1,\"b\":[1.5,1e2,-0,"
		    "12345678901234567890,0.1,1e400,true,false,null,-0.0,"
		    "1E+2,123456789012345,-123456789012345,1234567890123456]}";
		d->recipients = "{\"type\" : \"entity\"}";
		d->title = "T\xed\xa0\xbd\xed\xb8\x80 lone\xed\xa0\x80 \xc0\x80";
		d->severity = "critical";
		d->entities = "[\"component:default/a\"]";
		d->users = "[]";
		d->diagnoses = "[{\"code\":\"x\",\"level\":\"info\",\"t\":\"x.y\","
		    "\"a\":[],\"evidence\":\"e\\\"\\u001f\"}]";
		d->duration_us = 42;
		d->fault = "{\"rule\":1,\"rule\":2}";
		break;
	case 1:
		d->seq = 9007199254740993LL;
		d->received = 253402300799999LL;
		d->remote = "";
		d->method = "GET";
		d->path = NULL;
		d->body = body1;
		d->body_len = sizeof body1 - 1;
		d->body_size = 5000;
		d->status = 0;
		d->recipients = "{not json";
		d->title = "";
		d->topic = "t\"\\\x01\x7f";
		d->entities = "{}";
		d->users = "[\"user:default/\\\\x\"]";
		d->ids = "[\"0190c0de-0000-4000-8000-000000000000\"]";
		d->duration_us = 9007199254740993LL;
		d->attempt = 2;
		d->retry_of = 7;
		break;
	case 2:
		d->seq = 1048576;
		d->received = 1796684797045LL;
		d->remote = "[::1]:80";
		d->method = "POST";
		d->path = "/api/notifications/notifications";
		d->headers = "[[\"content-type\",\"application/json\"],"
		    "[\"x-e\",\"\\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f/\x7f\"]]";
		d->body = body2;
		d->body_len = sizeof body2 - 1;
		d->status = 401;
		d->response = "{\"error\":{\"name\":\"AuthenticationError\"}}";
		d->origin = "argocd-notifications";
		d->token_fp = "hmac:9b587ae4cfbd";
		d->payload = "{\"a\":{\"b\":[\"\\\"\\\\\\b\\f\\n\\r\\t\\u0000\","
		    "\"caf\xc3\xa9\"]},\"n\":-12,\"x\":1.5,\"e\":1e+21,\"s\":1e-7,"
		    "\"z\":0,\"m\":-0.5,\"\":\"\",\"01\":1,\"a1\":[]}";
		d->recipients = "{\"type\":\"broadcast\"}";
		d->title = "Deployed app";
		d->topic = "topic-1";
		d->severity = "normal";
		d->entities = "[]";
		d->users = "[]";
		d->ids = "[]";
		d->diagnoses = "[]";
		d->fault = "{\"status\":503,\"rule\":\"r\\u0001\"}";
		d->attempt = 1;
		break;
	default:
		d->seq = 3;
		d->received = 0;
		d->method = "POST";
		d->headers = mj_deep;
		d->payload = mj_wide;
		d->recipients = "[\"\\ud800\",\"\\ud83d\\ude00\",\"\\/\","
		    "\"\\u00e9\",\"\\u001F\",\"\\u000a\",\"\xed\xa0\x80\","
		    "\"\xc0\x80\",\"\xff\"]";
		d->users = "[ ]";
		d->ids = "[1,]";
		d->diagnoses = "not json";
		d->fault = "[]";
		d->response = "";
		break;
	}
}
#define MJ_RECORDS	4

/*
 * What the build before the writer (mock_delivery_json's tree, then
 * json_print) gave for each record above: the summary, and what the full
 * delivery adds to it.  The contract the writer keeps.
 */
static const char *mj_summary[MJ_RECORDS] = {
	/* 0 */
	    "{\"seq\":1,\"received\":\"2026-12-07T23:06:37.045Z\",\"receive"
	    "dMs\":1796684797045,\"remote\":\"127.0.0.1:\xef\xbf\xbd\xef"
	    "\xbf\xbd\",\"method\":\"P\\\"O\\\\ST\",\"path\":\"/api/x?\\u00"
	    "01\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd)\x7f\xf0\x9f\x98\x80\",\"status\":200,\"accepted"
	    "\":true,\"origin\":\"argocd\\u0000x\",\"tokenFingerprint\":nul"
	    "l,\"title\":\"T\xf0\x9f\x98\x80 lone\\ud800 \\u0000\",\"topic"
	    "\":null,\"severity\":\"critical\",\"entities\":[\"component:de"
	    "fault/a\"],\"users\":[],\"notificationIds\":[],\"diagnoses\":["
	    "{\"code\":\"x\",\"level\":\"info\",\"message\":null,\"evidence"
	    "\":\"e\\\"\\u001f\",\"fix\":null}],\"durationUs\":42,\"attempt"
	    "\":1,\"retryOf\":null,\"fault\":{\"rule\":2}}",
	/* 1 */
	    "{\"seq\":9007199254740992,\"received\":\"9999-12-31T23:59:59.9"
	    "99Z\",\"receivedMs\":253402300799999,\"remote\":\"\",\"method"
	    "\":\"GET\",\"path\":null,\"status\":0,\"accepted\":false,\"ori"
	    "gin\":null,\"tokenFingerprint\":null,\"title\":\"\",\"topic\":"
	    "\"t\\\"\\\\\\u0001\x7f\",\"severity\":null,\"entities\":{},\"u"
	    "sers\":[\"user:default/\\\\x\"],\"notificationIds\":[\"0190c0d"
	    "e-0000-4000-8000-000000000000\"],\"diagnoses\":[],\"durationUs"
	    "\":9007199254740992,\"attempt\":2,\"retryOf\":7,\"fault\":null"
	    "}",
	/* 2 */
	    "{\"seq\":1048576,\"received\":\"2026-12-07T23:06:37.045Z\",\"r"
	    "eceivedMs\":1796684797045,\"remote\":\"[::1]:80\",\"method\":"
	    "\"POST\",\"path\":\"/api/notifications/notifications\",\"statu"
	    "s\":401,\"accepted\":false,\"origin\":\"argocd-notifications\""
	    ",\"tokenFingerprint\":\"hmac:9b587ae4cfbd\",\"title\":\"Deploy"
	    "ed app\",\"topic\":\"topic-1\",\"severity\":\"normal\",\"entit"
	    "ies\":[],\"users\":[],\"notificationIds\":[],\"diagnoses\":[],"
	    "\"durationUs\":0,\"attempt\":1,\"retryOf\":null,\"fault\":{\"s"
	    "tatus\":503,\"rule\":\"r\\u0001\"}}",
	/* 3 */
	    "{\"seq\":3,\"received\":\"1970-01-01T00:00:00.000Z\",\"receive"
	    "dMs\":0,\"remote\":null,\"method\":\"POST\",\"path\":null,\"st"
	    "atus\":0,\"accepted\":false,\"origin\":null,\"tokenFingerprint"
	    "\":null,\"title\":null,\"topic\":null,\"severity\":null,\"enti"
	    "ties\":[],\"users\":[],\"notificationIds\":[],\"diagnoses\":[]"
	    ",\"durationUs\":0,\"attempt\":1,\"retryOf\":null,\"fault\":[]}",
};

/* What full adds before the closing brace. */
static const char *mj_full_extra[MJ_RECORDS] = {
	/* 0 */
	    ",\"headers\":[[\"host\",\"h\\u0001\\\"\"],[\"x\",\"\xc3\xa9\"]"
	    "],\"body\":\"a\\u0000b\xef\xbf\xbd{\\\"x\\\":1}\\u0001\\\"\\\\"
	    "\",\"bodyBytes\":14,\"bodyBase64\":\"YQBi/3sieCI6MX0BIlw=\",\""
	    "payload\":{\"0\":1,\"1\":2,\"title\":\"t\",\"b\":[1.5,100,0,12"
	    "345678901234567000,0.1,null,true,false,null,0,100,123456789012"
	    "345,-123456789012345,1234567890123456]},\"recipients\":{\"type"
	    "\":\"entity\"},\"response\":\"{\\\"error\\\":{\\\"message\\\":"
	    "\\\"m\\\\u0000\\\"}}\xef\xbf\xbd\"",
	/* 1 */
	    ",\"headers\":[],\"body\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf"
	    "\xbd\xef\xbf\xbd\xef\xbf\xbdok\",\"bodyBytes\":7,\"bodyTruncat"
	    "ed\":true,\"bodySize\":5000,\"bodyBase64\":\"7aCAwIBvaw==\",\""
	    "payload\":null,\"recipients\":null,\"response\":null",
	/* 2 */
	    ",\"headers\":[[\"content-type\",\"application/json\"],[\"x-e\""
	    ",\"\\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f/\x7f\"]],\"body\":\"{"
	    "\\\"title\\\":\\\"caf\xc3\xa9\\\",\\\"n\\\":1}\",\"bodyBytes\""
	    ":23,\"payload\":{\"a\":{\"b\":[\"\\\"\\\\\\b\\f\\n\\r\\t\\u000"
	    "0\",\"caf\xc3\xa9\"]},\"n\":-12,\"x\":1.5,\"e\":1e+21,\"s\":1e"
	    "-7,\"z\":0,\"m\":-0.5,\"\":\"\",\"01\":1,\"a1\":[]},\"recipien"
	    "ts\":{\"type\":\"broadcast\"},\"response\":\"{\\\"error\\\":{"
	    "\\\"name\\\":\\\"AuthenticationError\\\"}}\"",
	/* 3 */
	    ",\"headers\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]"
	    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],\"body\":\"\",\"bodyBytes\":0,"
	    "\"payload\":{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5"
	    "\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10,\"k11\":11"
	    ",\"k12\":12,\"k13\":13,\"k14\":14,\"k15\":15,\"k16\":16,\"k17"
	    "\":17,\"k18\":18,\"k19\":19,\"k20\":20,\"k21\":21,\"k22\":22,"
	    "\"k23\":23,\"k24\":24,\"k25\":25,\"k26\":26,\"k27\":27,\"k28\""
	    ":28,\"k29\":29,\"k30\":30,\"k31\":31,\"k32\":32,\"k33\":33,\"k"
	    "34\":34,\"k35\":35,\"k36\":36,\"k37\":37,\"k38\":38,\"k39\":39"
	    ",\"k40\":40,\"k41\":41,\"k42\":42,\"k43\":43,\"k44\":44,\"k45"
	    "\":45,\"k46\":46,\"k47\":47,\"k48\":48,\"k49\":49,\"k50\":50,"
	    "\"k51\":51,\"k52\":52,\"k53\":53,\"k54\":54,\"k55\":55,\"k56\""
	    ":56,\"k57\":57,\"k58\":58,\"k59\":59,\"k60\":60,\"k61\":61,\"k"
	    "62\":62,\"k63\":63,\"k64\":64,\"k65\":65,\"k66\":66,\"k67\":67"
	    ",\"k68\":68,\"k69\":69},\"recipients\":[\"\\ud800\",\"\xf0\x9f"
	    "\x98\x80\",\"/\",\"\xc3\xa9\",\"\\u001f\",\"\\n\",\"\xef\xbf"
	    "\xbd\xef\xbf\xbd\xef\xbf\xbd\",\"\xef\xbf\xbd\xef\xbf\xbd\",\""
	    "\xef\xbf\xbd\"],\"response\":\"\"",
};

/* Record i's old output, summary or full. */
static char *
mj_want(int i, int full)
{
	struct json_buf	 b = JSON_BUF_INIT;
	size_t		 n = strlen(mj_summary[i]);

	if (!full) {
		json_buf_raw(&b, mj_summary[i], n);
		return (b.p);
	}
	json_buf_raw(&b, mj_summary[i], n - 1);
	json_buf_raw(&b, mj_full_extra[i], strlen(mj_full_extra[i]));
	json_buf_raw(&b, "}", 1);
	return (b.p);
}

/* Each record, summary and full: the writer's bytes, and the tree built
 * from them, are the old output. */
static void
test_hostile(void)
{
	struct db_record	 d;
	struct json_buf		 b = JSON_BUF_INIT;
	struct json		*o = NULL;
	char			*s = NULL, *want = NULL;
	int			 i, full;

	for (i = 0; i < MJ_RECORDS; i++)
		for (full = 0; full < 2; full++) {
			mj_record(i, &d);
			want = mj_want(i, full);
			mock_delivery_put(&b, &d, full, NULL);
			CHECK_STR(b.p, want);
			CHECK_INT(b.len, strlen(want));
			free(json_buf_take(&b, NULL));
			o = mock_delivery_json(&d, full);
			s = json_print(o, NULL);
			CHECK_STR(s, want);
			free(s);
			s = NULL;
			json_free(o);
			o = NULL;
			free(want);
			want = NULL;
		}
end:
	free(b.p);
	free(s);
	free(want);
	json_free(o);
}

/* An array of them: the same, comma-separated. */
static void
test_records(void)
{
	struct db_record	 v[MJ_RECORDS];
	struct json_buf		 b = JSON_BUF_INIT, want = JSON_BUF_INIT;
	char			*s;
	int			 i;

	json_buf_raw(&want, "[", 1);
	for (i = 0; i < MJ_RECORDS; i++) {
		mj_record(i, &v[i]);
		if (i > 0)
			json_buf_raw(&want, ",", 1);
		s = mj_want(i, 1);
		json_buf_raw(&want, s, strlen(s));
		free(s);
	}
	json_buf_raw(&want, "]", 1);
	mock_records_put(&b, v, MJ_RECORDS, 1, NULL);
	CHECK_STR(b.p, want.p);
	free(json_buf_take(&b, NULL));
	mock_records_put(&b, v, 0, 0, NULL);
	CHECK_STR(b.p, "[]");
end:
	free(b.p);
	free(want.p);
}

/* Pages whose deliveries repeat their diagnoses (each told once, then
 * kept) and, over the pages, more kinds than are kept (so the keep starts
 * again): the same bytes as each delivery written alone, untold. */
static void
test_records_told(void)
{
	struct db_record	 v[600];
	struct json_buf		 b = JSON_BUF_INIT, want = JSON_BUF_INIT;
	struct mock_told	*told = mock_told_new();
	char			*diag[700];
	size_t			 i;
	int			 k;

	for (i = 0; i < 700; i++)
		xasprintf(&diag[i], "[{\"code\":\"x\",\"level\":\"warning\","
		    "\"t\":\"x.y\",\"a\":[],\"evidence\":\"app-%zu\"}]", i);
	for (k = 0; k < 4; k++) {
		json_buf_raw(&want, "[", 1);
		for (i = 0; i < 600; i++) {
			mj_record(2, &v[i]);
			v[i].seq = (int64_t)i;
			v[i].diagnoses = i % 7 == 0 ? NULL : i % 5 == 0 ?
			    "[]" : diag[(i % 300 + 200 * (size_t)k) % 700];
			if (i > 0)
				json_buf_raw(&want, ",", 1);
			mock_delivery_put(&want, &v[i], 0, NULL);
		}
		json_buf_raw(&want, "]", 1);
		mock_records_put(&b, v, 600, 0, told);
		CHECK_STR(b.p, want.p);
		free(json_buf_take(&b, NULL));
		free(json_buf_take(&want, NULL));
	}
end:
	mock_told_free(told);
	free(b.p);
	free(want.p);
	for (i = 0; i < 700; i++)
		free(diag[i]);
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
	{ "hostile deliveries: the bytes of the tree", test_hostile },
	{ "an array of deliveries", test_records },
	{ "an array: diagnoses told once each", test_records_told },
	{ "stored JSON as values", test_stored },
	{ NULL, NULL }
};
UNIT_MAIN(tests)
