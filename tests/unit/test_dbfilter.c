/*
 * test_dbfilter.c: the assertion API's delivery filters (db_filter.c), in
 * C (db_filter_check, db_filter_signal) and through SQLite (the same
 * filters listing, counting and deleting rows of an in-memory store), so
 * that the two paths are seen to agree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "unit.h"

/* A record with only what the filters read. */
static struct db_record
rec(int64_t seq, int status, const char *topic, const char *entities)
{
	struct db_record	r;

	memset(&r, 0, sizeof r);
	r.seq = seq;
	r.status = status;
	r.topic = (char *)topic;
	r.entities = (char *)entities;
	r.attempt = 1;
	return (r);
}

static void
test_entity_parse(void)
{
	struct db_filter	f;
	char			err[256];

	memset(&f, 0, sizeof f);
	CHECK_INT(db_filter_add_entity(&f, "", err, sizeof err), -1);
	CHECK_STR(err, "must not be empty");
	CHECK_INT(db_filter_add_entity(&f, "/alice", err, sizeof err), -1);
	CHECK_STR(err, "'/alice' is not an entity ref "
	    "([<kind>:][<namespace>/]<name>)");
	/* With a kind, entity.c's own message. */
	CHECK_INT(db_filter_add_entity(&f, "user:", err, sizeof err), -1);
	CHECK(strstr(err, "was not on the form") != NULL);
	CHECK_INT(f.entity_n, 0);
	CHECK_INT(db_filter_add_entity(&f, "User:Default/Alice", err,
	    sizeof err), 0);
	CHECK_INT(db_filter_add_entity(&f, "team-a", err, sizeof err), 0);
	CHECK_INT(f.entity_n, 2);
	/* As given for messages; canonical (lower case, default namespace)
	 * for comparing; a ref without a kind matches any kind. */
	CHECK_STR(f.entity_v[0], "User:Default/Alice");
	CHECK_STR(f.entity_key[0], "user:default/alice");
	CHECK_INT(f.entity_anykind[0], 0);
	CHECK_STR(f.entity_key[1], "default/team-a");
	CHECK_INT(f.entity_anykind[1], 1);
end:
	db_filter_clear(&f);
}

static void
test_entity_match(void)
{
	struct db_filter	f;
	struct db_record	r;
	char			err[256];

	memset(&f, 0, sizeof f);
	CHECK_INT(db_filter_add_entity(&f, "user:alice", err, sizeof err), 0);
	r = rec(1, 200, NULL, "[\"user:default/alice\"]");
	CHECK_INT(db_filter_check(&f, &r), 0);
	r = rec(1, 200, NULL, "[\"User:Default/ALICE\"]");
	CHECK_INT(db_filter_check(&f, &r), 0);
	r = rec(1, 200, NULL, "[\"group:default/alice\"]");
	CHECK_INT(db_filter_check(&f, &r), DB_F_ENTITY);
	r = rec(1, 200, NULL, "[]");
	CHECK_INT(db_filter_check(&f, &r), DB_F_ENTITY);
	db_filter_clear(&f);
	/* Without a kind: user or group alike. */
	CHECK_INT(db_filter_add_entity(&f, "alice", err, sizeof err), 0);
	r = rec(1, 200, NULL, "[\"group:default/alice\"]");
	CHECK_INT(db_filter_check(&f, &r), 0);
	r = rec(1, 200, NULL, "[\"user:other/alice\"]");
	CHECK_INT(db_filter_check(&f, &r), DB_F_ENTITY);
end:
	db_filter_clear(&f);
}

static void
test_check_bits(void)
{
	struct db_filter	f;
	struct db_record	r;

	memset(&f, 0, sizeof f);
	r = rec(5, 400, "deploy", "[]");
	CHECK_INT(db_filter_check(&f, &r), 0);
	f.since = 5;
	f.topic = "other";
	f.status = DB_STATUS_ACCEPTED;
	f.reached = 1;
	f.retry = 1;
	/* Every filter that fails says so, not only the first. */
	CHECK_INT(db_filter_check(&f, &r), DB_F_SINCE | DB_F_TOPIC |
	    DB_F_STATUS | DB_F_REACHED | DB_F_RETRY);
	memset(&f, 0, sizeof f);
	f.status = DB_STATUS_REJECTED;
	CHECK_INT(db_filter_check(&f, &r), 0);
	f.status = 422;
	CHECK_INT(db_filter_check(&f, &r), DB_F_STATUS);
	f.status = 400;
	CHECK_INT(db_filter_check(&f, &r), 0);
	memset(&f, 0, sizeof f);
	r = rec(1, 200, NULL, "[]");
	r.ids = "[\"n1\"]";
	f.reached = 1;
	CHECK_INT(db_filter_check(&f, &r), 0);
	r.ids = " [ ]";
	CHECK_INT(db_filter_check(&f, &r), DB_F_REACHED);
	f.reached = -1;
	CHECK_INT(db_filter_check(&f, &r), 0);
end:
	;
}

static void
test_check_text_and_clean(void)
{
	struct db_filter	f;
	struct db_record	r;

	memset(&f, 0, sizeof f);
	r = rec(1, 200, NULL, "[]");
	r.title = "Deployed GUESTBOOK";
	r.body = (unsigned char *)"{\"x\":\"needle\0in a body\"}";
	r.body_len = 24;
	f.q = "guestbook";			/* any case */
	CHECK_INT(db_filter_check(&f, &r), 0);
	f.q = "in a body";			/* past a NUL in the body */
	CHECK_INT(db_filter_check(&f, &r), 0);
	f.q = "absent";
	CHECK_INT(db_filter_check(&f, &r), DB_F_Q);
	/* Where the first byte recurs, in both cases, and at the ends. */
	r.title = "xAaAab";
	r.body = (unsigned char *)"";
	r.body_len = 0;
	f.q = "AAB";
	CHECK_INT(db_filter_check(&f, &r), 0);
	f.q = "aaab";
	CHECK_INT(db_filter_check(&f, &r), 0);
	f.q = "XAAAAB";				/* the whole title */
	CHECK_INT(db_filter_check(&f, &r), 0);
	f.q = "b";				/* the last byte */
	CHECK_INT(db_filter_check(&f, &r), 0);
	f.q = "aabx";
	CHECK_INT(db_filter_check(&f, &r), DB_F_Q);
	f.q = "xaaaabz";			/* longer than the title */
	CHECK_INT(db_filter_check(&f, &r), DB_F_Q);
	r.title = "app-17 [x]";
	f.q = "-17 [";				/* not a letter first */
	CHECK_INT(db_filter_check(&f, &r), 0);
	f.q = "\xc3\xa9";				/* bytes >= 0x80 compare as they are */
	CHECK_INT(db_filter_check(&f, &r), DB_F_Q);
	r.title = "caf\xc3\xa9";
	CHECK_INT(db_filter_check(&f, &r), 0);
	memset(&f, 0, sizeof f);
	f.clean = 1;
	r.diagnoses = "[{\"code\":\"x\",\"level\":\"info\"}]";
	CHECK_INT(db_filter_check(&f, &r), 0);
	r.diagnoses = "[{\"code\":\"x\",\"level\":\"warning\"}]";
	CHECK_INT(db_filter_check(&f, &r), DB_F_CLEAN);
	f.clean = -1;
	CHECK_INT(db_filter_check(&f, &r), 0);
	/* A quoted level inside a message is escaped, never a level. */
	r.diagnoses = "[{\"message\":\"\\\"level\\\":\\\"error\\\"\","
	    "\"level\":\"info\"}]";
	CHECK_INT(db_filter_check(&f, &r), DB_F_CLEAN);
	r.attempt = 2;
	memset(&f, 0, sizeof f);
	f.retry = -1;
	CHECK_INT(db_filter_check(&f, &r), DB_F_RETRY);
end:
	;
}

static void
test_signal(void)
{
	struct db_filter	f;
	char			err[256];

	memset(&f, 0, sizeof f);
	CHECK_INT(db_filter_signal(&f, "user:default/alice"), 1);
	CHECK_INT(db_filter_signal(&f, NULL), 1);
	CHECK_INT(db_filter_add_entity(&f, "user:alice", err, sizeof err), 0);
	CHECK_INT(db_filter_signal(&f, "user:default/alice"), 1);
	CHECK_INT(db_filter_signal(&f, "user:default/bob"), 0);
	CHECK_INT(db_filter_signal(&f, NULL), 1);	/* a broadcast */
	/* A signal has no topic: a topic filter never matches one. */
	f.topic = strdup("deploy");
	CHECK_INT(db_filter_signal(&f, "user:default/alice"), 0);
end:
	db_filter_clear(&f);
}

/* Store n deliveries: topic "t<seq % 3>", status 200 or (every 4th) 400,
 * addressed to user:default/u<seq % 2>, body "body <seq>". */
static struct db *
store(int n)
{
	struct db		*db;
	struct db_delivery	 d;
	char			*cause = NULL, topic[8], ref[32], ents[64];
	char			 body[32], users[64];
	const char		*refv[1], *err;
	int			 i;

	if ((db = db_open(":memory:", 0, &cause)) == NULL) {
		fprintf(stderr, "# %s\n", cause);
		return (NULL);
	}
	for (i = 1; i <= n; i++) {
		memset(&d, 0, sizeof d);
		snprintf(topic, sizeof topic, "t%d", i % 3);
		snprintf(ref, sizeof ref, "user:default/u%d", i % 2);
		snprintf(ents, sizeof ents, "[\"%s\"]", ref);
		snprintf(users, sizeof users, "[\"%s\"]", ref);
		snprintf(body, sizeof body, "body %d", i);
		refv[0] = ref;
		d.received = 1000 + i;
		d.method = "POST";
		d.path = "/api/notifications/notifications";
		d.body = body;
		d.body_len = strlen(body);
		d.status = i % 4 == 0 ? 400 : 200;
		d.response = "{}";
		d.response_len = 2;
		d.topic = topic;
		d.entities = ents;
		d.users = users;
		d.ids = d.status == 200 ? "[\"id\"]" : "[]";
		d.entity_v = refv;
		d.entity_n = 1;
		if (db_delivery_add(db, &d) == -1 || d.seq != i)
			goto fail;
	}
	if (db_commit(db, &err) == -1)
		goto fail;
	return (db);
fail:
	db_close(db);
	return (NULL);
}

/* SQLite selects what db_filter_check selects, in order. */
static void
test_sql_agrees(void)
{
	struct db		*db;
	struct db_filter	 f;
	struct db_record	*v = NULL;
	size_t			 n = 0, i;
	char			 err[256];

	memset(&f, 0, sizeof f);
	CHECK((db = store(30)) != NULL);
	CHECK_INT(db_cursor(db), 30);
	f.topic = strdup("t1");
	f.status = DB_STATUS_ACCEPTED;
	CHECK_INT(db_filter_add_entity(&f, "u1", err, sizeof err), 0);
	CHECK_INT(db_deliveries_list(db, &f, 0, -1, 0, &v, &n), 0);
	/* seq % 3 == 1, odd, not a multiple of 4: 25, 19, 13, 7, 1. */
	CHECK_INT(n, 5);
	for (i = 0; i < n; i++) {
		CHECK_INT(v[i].seq, 25 - 6 * (int64_t)i);
		CHECK_INT(db_filter_check(&f, &v[i]), 0);
	}
	CHECK_INT(db_deliveries_count(db, &f), 5);
	CHECK_INT(db_scan_complete(db, NULL), 1);
	db_records_free(v, n);
	v = NULL;
	n = 0;
	/* Ascending, with since, limit and offset. */
	f.since = 7;
	CHECK_INT(db_deliveries_list(db, &f, 1, 2, 1, &v, &n), 0);
	CHECK_INT(n, 2);
	CHECK_INT(v[0].seq, 19);
	CHECK_INT(v[1].seq, 25);
	db_records_free(v, n);
	v = NULL;
	n = 0;
	db_filter_clear(&f);
	/* Text: the body is searched. */
	f.q = strdup("BODY 2");
	CHECK_INT(db_deliveries_count(db, &f), 11);	/* 2, 20..29 */
end:
	db_records_free(v, n);
	db_filter_clear(&f);
	db_close(db);
}

static void
test_sql_delete(void)
{
	struct db		*db;
	struct db_filter	 f;
	int64_t			 deleted = 0, notifs = 0;
	const char		*err;

	memset(&f, 0, sizeof f);
	CHECK((db = store(12)) != NULL);
	f.status = DB_STATUS_REJECTED;
	CHECK_INT(db_deliveries_delete(db, &f, 1, &deleted, &notifs), 0);
	CHECK_INT(db_commit(db, &err), 0);
	CHECK_INT(deleted, 3);			/* 4, 8, 12 */
	CHECK_INT(db_rows(db), 9);
	CHECK_INT(db_deliveries_count(db, &f), 0);
	CHECK_INT(db_deliveries_count(db, NULL), 9);
	/* The numbers stay used. */
	CHECK_INT(db_seq_next(db), 13);
end:
	db_filter_clear(&f);
	db_close(db);
}

/* Count f's matches after since: count of them, and the scan complete
 * or stopped above from. */
static int
bounded(struct db *db, struct db_filter *f, int64_t since, int64_t count,
    int complete, int64_t from)
{
	int64_t	got = -1;

	f->since = since;
	CHECK_INT(db_deliveries_count(db, f), count);
	CHECK_INT(db_scan_complete(db, &got), complete);
	CHECK_INT(got, from);
	return (0);
end:
	return (-1);
}

/* A read with no index to narrow it looks at the newest DB_SCAN_MAX
 * (2,000) rows, and says so; one that unpacks each row (q, clean) at the
 * newest DB_SCAN_UNPACK_MAX (500). */
static void
test_scan_bound(void)
{
	struct db		*db;
	struct db_filter	 f;

	memset(&f, 0, sizeof f);
	CHECK((db = store(2010)) != NULL);
	f.retry = -1;				/* every row, no index */
	CHECK(bounded(db, &f, 0, 2000, 0, 10) == 0);
	CHECK(bounded(db, &f, 100, 1910, 1, 100) == 0);
	f.retry = 0;
	f.q = strdup("body");
	CHECK(bounded(db, &f, 0, 500, 0, 1510) == 0);
	CHECK(bounded(db, &f, 1600, 410, 1, 1600) == 0);
	/* With an index too: its newest 500 candidates (every third row),
	 * from below the oldest of them. */
	f.topic = strdup("t0");
	CHECK(bounded(db, &f, 0, 500, 0, 2010 - 3 * 499 - 1) == 0);
	free(f.topic);
	f.topic = NULL;
	free(f.q);
	f.q = NULL;
	f.clean = 1;
	CHECK(bounded(db, &f, 0, 500, 0, 1510) == 0);
	f.clean = 0;
	/* An index narrows the candidates first: 2010 / 3 of them. */
	f.since = 0;
	f.topic = strdup("t0");
	CHECK_INT(db_deliveries_count(db, &f), 670);
	CHECK_INT(db_scan_complete(db, NULL), 1);
end:
	db_filter_clear(&f);
	db_close(db);
}

/* db_deliveries_page: the total and page db_deliveries_count and
 * db_deliveries_list give, for filters with and without a function. */
static void
test_page(void)
{
	struct db		*db;
	struct db_filter	 f;
	struct db_record	*v = NULL, *w = NULL;
	char			 err[256];
	size_t			 n = 0, m = 0, i, k;
	int64_t			 total, offs[] = { 0, 3, 499, 600 };
	int64_t			 lims[] = { 1, 7, 1000 }, from, from2;
	int			 c, j, complete;

	memset(&f, 0, sizeof f);
	CHECK((db = store(700)) != NULL);
	for (c = 0; c < 7; c++) {
		db_filter_clear(&f);
		switch (c) {
		case 1: f.q = strdup("BODY 1"); break;
		case 2: f.status = DB_STATUS_REJECTED; break;
		case 3: f.topic = strdup("t1"); f.q = strdup("9"); break;
		case 4: CHECK_INT(db_filter_add_entity(&f, "u1", err,
		    sizeof err), 0); break;
		case 5: f.clean = 1; f.since = 650; break;
		case 6: f.topic = strdup("t2"); f.since = 100; break;
		}
		for (j = 0; j < 4 * 3; j++) {
			CHECK(db_deliveries_page(db, &f, lims[j % 3],
			    offs[j / 3], &total, &v, &n) == 0);
			complete = db_scan_complete(db, &from);
			CHECK_INT(total, db_deliveries_count(db, &f));
			CHECK_INT(db_scan_complete(db, &from2), complete);
			CHECK_INT(from2, from);
			CHECK_INT(db_deliveries_list(db, &f, 0, lims[j % 3],
			    offs[j / 3], &w, &m), 0);
			CHECK_INT(n, m);
			for (i = 0; i < n && i < m; i++) {
				CHECK_INT(v[i].seq, w[i].seq);
				CHECK_INT(v[i].status, w[i].status);
				CHECK_STR(v[i].topic, w[i].topic);
				CHECK_INT(v[i].body_len, w[i].body_len);
				k = v[i].body_len;
				CHECK(memcmp(v[i].body, w[i].body, k) == 0);
				CHECK_STR(v[i].users, w[i].users);
			}
			db_records_free(v, n);
			db_records_free(w, m);
			v = w = NULL;
			n = m = 0;
		}
	}
end:
	db_records_free(v, n);
	db_records_free(w, m);
	db_filter_clear(&f);
	db_close(db);
}

/* Body i: 200 bytes that do not compress (so rows pack poorly and bring
 * new dictionaries), a NUL, and a shape that changes every 250 rows. */
static int
packed_body(char *body, size_t size, int i)
{
	unsigned int	x = (unsigned int)i * 2654435761U;
	int		n, k;

	n = snprintf(body, size, "{\"k%d\":\"", i / 250);
	for (k = 0; k < 200; k++) {
		x = x * 1103515245U + 12345U;
		body[n++] = "0123456789abcdef"[(x >> 16) & 15];
	}
	body[n++] = '\0';
	n += snprintf(body + n, size - (size_t)n, "\"}");
	return (n);
}

/* db_pack.c: what is stored comes back byte for byte, through new
 * dictionaries as the traffic changes shape, NULs and NULLs included. */
static void
test_packed_round_trip(void)
{
	struct db		*db;
	struct db_delivery	 d;
	struct db_record	 r;
	const char		*err;
	char			*cause = NULL;
	char			 body[300], resp[64], diag[300];
	int			 i, n;

	memset(&r, 0, sizeof r);
	CHECK((db = db_open(":memory:", 0, &cause)) != NULL);
	for (i = 1; i <= 700; i++) {
		memset(&d, 0, sizeof d);
		/* Three shapes in turn, each 200-odd rows long. */
		n = packed_body(body, sizeof body, i);
		memcpy(resp, "a\0b", 3);
		snprintf(diag, sizeof diag, "[{\"code\":\"c%d\",\"level\":"
		    "\"info\",\"message\":\"shape %d row %d\"}]", i / 250,
		    i / 250, i);
		d.received = i;
		d.method = "POST";
		d.path = "/p";
		d.headers = i % 2 ? "[[\"A\",\"b\"]]" : NULL;
		d.body = body;
		d.body_len = (size_t)n;
		d.status = 200;
		d.response = resp;
		d.response_len = 3;
		d.payload = i % 3 ? "{\"description\":\"x\\u0041y\"}" : NULL;
		d.recipients = i % 3 ? "{\"type\":\"broadcast\"}" : NULL;
		d.diagnoses = diag;
		CHECK_INT(db_delivery_add(db, &d), 0);
		if (i % 50 == 0)
			CHECK_INT(db_commit(db, &err), 0);
	}
	CHECK_INT(db_commit(db, &err), 0);
	for (i = 1; i <= 700; i += 1) {
		CHECK_INT(db_delivery_get(db, i, &r), 1);
		n = packed_body(body, sizeof body, i);
		snprintf(diag, sizeof diag, "[{\"code\":\"c%d\",\"level\":"
		    "\"info\",\"message\":\"shape %d row %d\"}]", i / 250,
		    i / 250, i);
		CHECK_INT(r.body_len, n);
		CHECK(memcmp(r.body, body, (size_t)n) == 0);
		CHECK(memcmp(r.response, "a\0b", 3) == 0);
		CHECK_STR(r.headers, i % 2 ? "[[\"A\",\"b\"]]" : "[]");
		CHECK_STR(r.diagnoses, diag);
		CHECK_STR(r.users, "[]");
		if (i % 3) {
			CHECK_STR(r.payload, "{\"description\":\"x\\u0041y\"}");
			CHECK_STR(r.recipients, "{\"type\":\"broadcast\"}");
			CHECK_STR(r.description, "xAy");
		} else {
			CHECK(r.payload == NULL);
			CHECK(r.recipients == NULL);
			CHECK(r.description == NULL);
		}
		db_record_clear(&r);
	}
end:
	db_record_clear(&r);
	db_close(db);
}

/* q on packed rows: the title without unpacking, the body, and the
 * description only as decoded ("caf\u00e9" in the body is "café"). */
static void
test_packed_text(void)
{
	static const char *bodies[] = {
		"{\"payload\":{\"title\":\"alpha\",\"description\":"
		    "\"caf\\u00e9 bar\"}}",
		"{\"payload\":{\"title\":\"beta\",\"description\":\"plain\"}}",
		/* Spaced, as Python writes it: the payload as stored (compact,
		 * no backslash) is not a piece of the body. */
		"{\"payload\": {\"title\": \"gamma\", \"description\": "
		    "\"na\\u00efve gamma\"}}",
	};
	static const char *payloads[] = {
		"{\"title\":\"alpha\",\"description\":\"caf\\u00e9 bar\"}",
		"{\"title\":\"beta\",\"description\":\"plain\"}",
		"{\"title\":\"gamma\",\"description\":\"na\xc3\xafve gamma\"}",
	};
	static const char *titles[] = { "alpha", "beta", "gamma" };
	struct db		*db;
	struct db_delivery	 d;
	struct db_filter	 f;
	const char		*err;
	char			*cause = NULL;
	int			 i;

	memset(&f, 0, sizeof f);
	CHECK((db = db_open(":memory:", 0, &cause)) != NULL);
	for (i = 0; i < 3; i++) {
		memset(&d, 0, sizeof d);
		d.method = "POST";
		d.path = "/p";
		d.body = bodies[i];
		d.body_len = strlen(bodies[i]);
		d.status = 200;
		d.payload = payloads[i];
		d.title = titles[i];
		CHECK_INT(db_delivery_add(db, &d), 0);
	}
	CHECK_INT(db_commit(db, &err), 0);
	f.q = strdup("ALPHA");			/* the title */
	CHECK_INT(db_deliveries_count(db, &f), 1);
	free(f.q);
	f.q = strdup("caf\xc3\xa9");		/* only the decoded description */
	CHECK_INT(db_deliveries_count(db, &f), 1);
	free(f.q);
	f.q = strdup("u00e9");			/* only the body */
	CHECK_INT(db_deliveries_count(db, &f), 1);
	free(f.q);
	f.q = strdup("plain");			/* body and description */
	CHECK_INT(db_deliveries_count(db, &f), 1);
	free(f.q);
	f.q = strdup("payload");
	CHECK_INT(db_deliveries_count(db, &f), 3);
	free(f.q);
	f.q = strdup("nowhere");
	CHECK_INT(db_deliveries_count(db, &f), 0);
	free(f.q);
	f.q = strdup("\xc3\xafVE GAMMA");	/* the description, not in the body */
	CHECK_INT(db_deliveries_count(db, &f), 1);
	free(f.q);
	f.q = strdup("\"title\":\"gamma\"");	/* the stored payload's text only */
	CHECK_INT(db_deliveries_count(db, &f), 0);
end:
	db_filter_clear(&f);
	db_close(db);
}

/* An entity count comes from delivery_refs alone (db_filter_exact): it
 * must select what db_filter_check accepts, for refs of every form. */
static void
test_entity_keys_agree(void)
{
	static const char *refs[] = {
		"user:default/alice", "User:Default/ALICE", "group:default/alice",
		"user:other/alice", "default/alice", "alice", "component:x/y",
		"not a ref", ":odd", "Kind:/weird", "user:alice",
	};
	static const char *filters[] = {
		"user:alice", "alice", "default/alice", "user:default/alice",
		"group:alice", "other/alice", "x/y", "component:x/y", "y",
		"user:other/alice",
	};
	struct db		*db;
	struct db_delivery	 d;
	struct db_filter	 f, none;
	struct db_record	*v = NULL;
	const char		*err, *refv[1];
	char			*cause = NULL, ents[96], ferr[256];
	size_t			 n = 0, i, k;
	int64_t			 want;

	memset(&f, 0, sizeof f);
	memset(&none, 0, sizeof none);
	CHECK((db = db_open(":memory:", 0, &cause)) != NULL);
	for (i = 0; i < sizeof refs / sizeof refs[0]; i++) {
		memset(&d, 0, sizeof d);
		snprintf(ents, sizeof ents, "[\"%s\"]", refs[i]);
		refv[0] = refs[i];
		d.method = "POST";
		d.path = "/p";
		d.status = 200;
		d.entities = ents;
		d.entity_v = refv;
		d.entity_n = 1;
		CHECK_INT(db_delivery_add(db, &d), 0);
	}
	CHECK_INT(db_commit(db, &err), 0);
	CHECK_INT(db_deliveries_list(db, &none, 1, -1, 0, &v, &n), 0);
	CHECK_INT(n, sizeof refs / sizeof refs[0]);
	for (k = 0; k < sizeof filters / sizeof filters[0]; k++) {
		CHECK_INT(db_filter_add_entity(&f, filters[k], ferr,
		    sizeof ferr), 0);
		want = 0;
		for (i = 0; i < n; i++)
			want += db_filter_check(&f, &v[i]) == 0;
		if (db_deliveries_count(db, &f) != want)
			UNIT_FAIL("filter %s: count %lld, C check %lld",
			    filters[k], (long long)db_deliveries_count(db, &f),
			    (long long)want);
		db_filter_clear(&f);
	}
end:
	db_records_free(v, n);
	db_filter_clear(&f);
	db_close(db);
}

/*
 * Kept statements (db_filter_prepare/db_filter_done): filters of one
 * shape with other values, more shapes than are kept, and a page, a count
 * and a list of each, in turns: each read answers for its own values, as
 * the C check over every row says.
 */
static void
test_kept_statements(void)
{
	static const char	*topics[] = { "t0", "t1", "t2", "none" };
	struct db		*db;
	struct db_filter	 f;
	struct db_record	*all = NULL, *v = NULL;
	char			 err[256], ref[32];
	size_t			 nall = 0, n = 0, i;
	int64_t			 want, total;
	int			 k;

	memset(&f, 0, sizeof f);
	CHECK((db = store(60)) != NULL);
	CHECK_INT(db_deliveries_list(db, NULL, 0, -1, 0, &all, &nall), 0);
	CHECK_INT(nall, 60);
	for (k = 0; k < 120; k++) {
		db_filter_clear(&f);
		if (k % 2 == 0)
			f.topic = strdup(topics[(k / 2) % 4]);
		if (k % 3 == 0)
			f.status = k % 9 == 0 ? DB_STATUS_REJECTED : 200;
		if (k % 5 < 2) {
			snprintf(ref, sizeof ref, "u%d", (k / 5) % 2);
			CHECK_INT(db_filter_add_entity(&f, ref, err,
			    sizeof err), 0);
		}
		if (k % 7 == 0)
			f.q = strdup(k % 14 == 0 ? "body 1" : "nomatch");
		f.since = (k % 11) * 3;
		for (want = 0, i = 0; i < nall; i++)
			if (all[i].seq > f.since &&
			    db_filter_check(&f, &all[i]) == 0)
				want++;
		CHECK_INT(db_deliveries_count(db, &f), want);
		CHECK(db_deliveries_page(db, &f, 5, 1, &total, &v, &n) == 0);
		CHECK_INT(total, want);
		CHECK_INT(n, want > 1 ? (want - 1 < 5 ? want - 1 : 5) : 0);
		for (i = 0; i < n; i++)
			CHECK_INT(db_filter_check(&f, &v[i]), 0);
		db_records_free(v, n);
		v = NULL;
		n = 0;
	}
end:
	db_records_free(all, nall);
	db_records_free(v, n);
	db_filter_clear(&f);
	db_close(db);
}

/* A page's total where the scan stopped at its bound: taken from the
 * bound for an exact filter on one index, counted otherwise; the same
 * as a count either way. */
static void
test_page_total_at_bound(void)
{
	struct db		*db;
	struct db_filter	 f;
	struct db_record	*v = NULL;
	char			 err[256];
	size_t			 n = 0;
	int64_t			 total, count;
	int			 c, bounded = 0;

	memset(&f, 0, sizeof f);
	CHECK((db = store(4600)) != NULL);
	for (c = 0; c < 9; c++) {
		db_filter_clear(&f);
		switch (c) {
		case 1: f.topic = strdup("t0"); break;
		case 2: f.status = 200; break;
		case 3: CHECK_INT(db_filter_add_entity(&f, "u0", err,
		    sizeof err), 0); break;
		case 4: CHECK_INT(db_filter_add_entity(&f, "u0", err,
		    sizeof err), 0); f.status = 200; break;
		case 5: CHECK_INT(db_filter_add_entity(&f, "u0", err,
		    sizeof err), 0); CHECK_INT(db_filter_add_entity(&f,
		    "u1", err, sizeof err), 0); break;
		case 6: f.status = 200; f.topic = strdup("t1"); break;
		case 7: f.status = 200; f.since = 900; break;
		case 8: f.status = 200; f.since = 2000; break;
		}
		CHECK(db_deliveries_page(db, &f, 10, 5, &total, &v, &n) == 0);
		bounded += !db_scan_complete(db, NULL);
		count = db_deliveries_count(db, &f);
		CHECK_INT(total, count);
		CHECK_INT(n, count > 5 ? (count - 5 < 10 ? count - 5 : 10) : 0);
		db_records_free(v, n);
		v = NULL;
		n = 0;
	}
	CHECK(bounded >= 5);	/* the bound was met, not only missed */
end:
	db_records_free(v, n);
	db_filter_clear(&f);
	db_close(db);
}

/* db_entities_scan's callback: the groups, copied. */
struct egroups {
	char		 ref[8][64], sev[8][16], topic[8][16];
	int		 accepted[8];
	int64_t		 count[8], last[8], received[8];
	int		 n;
};

static void
egroup_keep(void *arg, const struct db_entity_group *g)
{
	struct egroups	*gs = arg;

	if (gs->n == 8)
		return;
	snprintf(gs->ref[gs->n], 64, "%s", g->ref);
	snprintf(gs->sev[gs->n], 16, "%s", g->severity ? g->severity : "-");
	snprintf(gs->topic[gs->n], 16, "%s", g->topic ? g->topic : "-");
	gs->accepted[gs->n] = g->accepted;
	gs->count[gs->n] = g->count;
	gs->last[gs->n] = g->last_seq;
	gs->received[gs->n] = g->last_received;
	gs->n++;
}

/* /mock/entities' groups: by canonical ref, severity and topic (NULL its
 * own value) and accepted, newest first; a delivery naming one ref in two
 * spellings counts once; the latest time is the group's. */
static void
test_entity_groups(void)
{
	static const char	*r1[] = { "component:x" };
	static const char	*r2[] = { "component:default/x", "Component:X" };
	static const char	*r3[] = { "group:y" };
	struct {
		const char	**refs;
		size_t		 n;
		const char	*sev, *topic;
		int		 status;
		int64_t		 received;
	} in[] = {
		{ r1, 1, NULL, NULL, 200, 5000 },
		{ r2, 2, "high", "t", 201, 3000 },
		{ r3, 1, "high", "t", 400, 3500 },
		{ r1, 1, NULL, NULL, 204, 4000 },
	};
	struct db		*db = NULL;
	struct db_delivery	 d;
	struct egroups		 gs;
	const char		*err;
	char			*cause = NULL, ents[128];
	size_t			 i;

	memset(&gs, 0, sizeof gs);
	CHECK((db = db_open(":memory:", 0, &cause)) != NULL);
	for (i = 0; i < sizeof in / sizeof in[0]; i++) {
		memset(&d, 0, sizeof d);
		snprintf(ents, sizeof ents, "[\"%s\"]", in[i].refs[0]);
		d.received = in[i].received;
		d.method = "POST";
		d.path = "/api/notifications/notifications";
		d.body = "{}";
		d.body_len = 2;
		d.status = in[i].status;
		d.response = "{}";
		d.response_len = 2;
		d.severity = in[i].sev;
		d.topic = in[i].topic;
		d.entities = ents;
		d.users = "[]";
		d.ids = "[]";
		d.entity_v = in[i].refs;
		d.entity_n = in[i].n;
		CHECK_INT(db_delivery_add(db, &d), 0);
	}
	CHECK_INT(db_commit(db, &err), 0);
	CHECK_INT(db_entities_scan(db, NULL, egroup_keep, &gs), 0);
	CHECK_INT(gs.n, 3);
	CHECK_STR(gs.ref[0], "component:default/x");
	CHECK_STR(gs.sev[0], "-");
	CHECK_STR(gs.topic[0], "-");
	CHECK_INT(gs.accepted[0], 1);
	CHECK_INT(gs.count[0], 2);
	CHECK_INT(gs.last[0], 4);
	CHECK_INT(gs.received[0], 5000);	/* the latest, not the last's */
	CHECK_STR(gs.ref[1], "group:default/y");
	CHECK_INT(gs.accepted[1], 0);
	CHECK_INT(gs.count[1], 1);
	CHECK_INT(gs.last[1], 3);
	CHECK_STR(gs.ref[2], "component:default/x");
	CHECK_STR(gs.sev[2], "high");
	CHECK_STR(gs.topic[2], "t");
	CHECK_INT(gs.count[2], 1);		/* two spellings, one send */
	CHECK_INT(gs.last[2], 2);
end:
	free(cause);
	db_close(db);
}

static const struct unit_test tests[] = {
	{ "entity filter values parse", test_entity_parse },
	{ "entity filters match refs", test_entity_match },
	{ "every failed filter is reported", test_check_bits },
	{ "text and clean filters", test_check_text_and_clean },
	{ "signals pass entity filters only", test_signal },
	{ "SQLite lists what the C check accepts", test_sql_agrees },
	{ "a filtered delete", test_sql_delete },
	{ "a scan without an index is bounded", test_scan_bound },
	{ "a page and its total in one pass", test_page },
	{ "packed fields read back byte for byte", test_packed_round_trip },
	{ "text search in packed rows", test_packed_text },
	{ "entity keys select what the C check accepts",
	    test_entity_keys_agree },
	{ "entity groups for /mock/entities", test_entity_groups },
	{ "a page's total at the scan's bound", test_page_total_at_bound },
	{ "kept statements answer for their own values",
	    test_kept_statements },
	{ NULL, NULL }
};
UNIT_MAIN(tests)
