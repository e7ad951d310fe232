/*
 * db_filter.c: the assertion API's delivery filters (doc/mock-api.md,
 * "Filters"): entity refs as filters compare them, the one evaluator
 * (db_filter_check), the SQL functions that run it inside SQLite, and the
 * WHERE clauses and scan bound the delivery queries are built from.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db.h"
#include "db_int.h"
#include "entity.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

/* --- deliveries: queries for the assertion API --- */

/*
 * Every query below selects deliveries through the SQL function
 * notimock_filter(), which calls db_filter_check(): the filter logic lives
 * once, in C.  "d.seq > since" is repeated in SQL only so that SQLite can
 * use the primary key; db_filter_check() tests it as well.
 */

const struct db_filter db_no_filter;

/* c lower-cased, ASCII only (as tolower() in the C locale: nothing in
 * notimock calls setlocale()), without a call per byte. */
#define DB_LOWER(c)	((c) >= 'A' && (c) <= 'Z' ? (c) + ('a' - 'A') : (c))

/*
 * Does [hay, hay + len) contain needle, ignoring ASCII case?  The q filter
 * runs this over every candidate's body (issue 11: 2,000 bodies per read),
 * so the places the first byte occurs, in either case, are found with
 * memchr(); each case's next place is looked for again only once passed.
 */
static int
db_contains(const void *hay, size_t len, const char *needle)
{
	const unsigned char	*h = hay, *nd = (const unsigned char *)needle;
	const unsigned char	*p;
	size_t			 n = strlen(needle), span, at, lo, up, k, j;
	int			 c0, c1;

	if (n == 0)
		return (1);
	if (h == NULL || len < n)
		return (0);
	c0 = DB_LOWER(nd[0]);
	c1 = c0 >= 'a' && c0 <= 'z' ? c0 - ('a' - 'A') : c0;
	span = len - n + 1;		/* where a match can start */
	lo = 0;
	up = c1 != c0 ? 0 : SIZE_MAX;	/* SIZE_MAX: no more of that case */
	for (at = 0; at < span; at = k + 1) {
		if (lo != SIZE_MAX && (at == 0 || lo < at)) {
			p = memchr(h + at, c0, span - at);
			lo = p != NULL ? (size_t)(p - h) : SIZE_MAX;
		}
		if (up != SIZE_MAX && (at == 0 || up < at)) {
			p = memchr(h + at, c1, span - at);
			up = p != NULL ? (size_t)(p - h) : SIZE_MAX;
		}
		if ((k = lo < up ? lo : up) == SIZE_MAX)
			return (0);
		for (j = 1; j < n; j++)
			if (DB_LOWER(h[k + j]) != DB_LOWER(nd[j]))
				break;
		if (j == n)
			return (1);
	}
	return (0);
}

/* Does the ref name a kind?  As parseEntityRef: a ':' before any '/'. */
static int
db_ref_has_kind(const char *ref)
{
	size_t	len = strcspn(ref, ":/");

	return (ref[len] == ':');
}

/*
 * A ref in the form refs compare in: "kind:ns/name" lower-cased with the
 * namespace defaulted, or "ns/name" for a ref without a kind, or the ref
 * lower-cased if it does not parse at all.  Caller frees.
 */
static char *
db_ref_canon(const char *ref, int *haskind)
{
	struct entity_ref	 er;
	char			 ename[32], msg[512], *tmp, *out, *p;
	int			 kind = db_ref_has_kind(ref);

	*haskind = kind;
	if (kind) {
		if (entity_parse(ref, &er, ename, sizeof ename, msg,
		    sizeof msg) == -1)
			goto raw;
		out = entity_canonical(&er);
		entity_ref_clear(&er);
		return (out);
	}
	/* Borrow a kind so that entity.c does the split, then drop it. */
	xasprintf(&tmp, "x:%s", ref);
	if (entity_parse(tmp, &er, ename, sizeof ename, msg, sizeof msg) ==
	    -1) {
		free(tmp);
		goto raw;
	}
	free(tmp);
	tmp = entity_canonical(&er);
	entity_ref_clear(&er);
	out = xstrdup(tmp + 2);
	free(tmp);
	return (out);

raw:
	*haskind = kind;
	out = xstrdup(ref);
	for (p = out; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return (out);
}

int
db_filter_add_entity(struct db_filter *f, const char *ref, char *err,
    size_t errlen)
{
	struct entity_ref	 er;
	char			 ename[32], *tmp;
	int			 kind;

	if (*ref == '\0') {
		snprintf(err, errlen, "must not be empty");
		return (-1);
	}
	kind = db_ref_has_kind(ref);
	if (kind)
		tmp = xstrdup(ref);
	else
		xasprintf(&tmp, "x:%s", ref);
	if (entity_parse(tmp, &er, ename, sizeof ename, err, errlen) == -1) {
		if (!kind)
			snprintf(err, errlen, "'%s' is not an entity ref "
			    "([<kind>:][<namespace>/]<name>)", ref);
		free(tmp);
		return (-1);
	}
	free(tmp);
	f->entity_v = xreallocarray(f->entity_v, f->entity_n + 1,
	    sizeof *f->entity_v);
	f->entity_key = xreallocarray(f->entity_key, f->entity_n + 1,
	    sizeof *f->entity_key);
	f->entity_anykind = xreallocarray(f->entity_anykind, f->entity_n + 1,
	    sizeof *f->entity_anykind);
	f->entity_v[f->entity_n] = xstrdup(ref);
	tmp = entity_canonical(&er);
	entity_ref_clear(&er);
	if (kind)
		f->entity_key[f->entity_n] = tmp;
	else {
		f->entity_key[f->entity_n] = xstrdup(tmp + 2);
		free(tmp);
	}
	f->entity_anykind[f->entity_n] = !kind;
	f->entity_n++;
	return (0);
}

void
db_filter_clear(struct db_filter *f)
{
	size_t	i;

	for (i = 0; i < f->entity_n; i++) {
		free(f->entity_v[i]);
		free(f->entity_key[i]);
	}
	free(f->entity_v);
	free(f->entity_key);
	free(f->entity_anykind);
	free(f->topic);
	free(f->severity);
	free(f->origin);
	free(f->q);
	memset(f, 0, sizeof *f);
}

/* Does one stored ref match filter value i? */
static int
db_filter_ref(const struct db_filter *f, size_t i, const char *canon,
    int haskind)
{
	const char	*p;

	if (!f->entity_anykind[i])
		return (haskind && strcmp(canon, f->entity_key[i]) == 0);
	if (haskind) {
		/* The kind never holds '/' or ':': the first ':' ends it. */
		if ((p = strchr(canon, ':')) == NULL)
			return (0);
		canon = p + 1;
	}
	return (strcmp(canon, f->entity_key[i]) == 0);
}

/*
 * The delivery_refs key under which a filter value finds a stored ref:
 * any = 0, "kind:ns/name" as an exact filter (one with a kind) compares it
 * (NULL for a ref without a kind, which no such filter matches); any = 1,
 * "*:ns/name" as a filter without a kind does.  db_filter_ref() decides;
 * a key only has to lead to every ref it would accept.  Caller frees.
 */
char *
db_ref_key(const char *ref, int any)
{
	char	*canon, *key, *p;
	int	 haskind;

	canon = db_ref_canon(ref, &haskind);
	if (!any) {
		if (haskind)
			return (canon);
		free(canon);
		return (NULL);
	}
	p = canon;
	if (haskind && (p = strchr(canon, ':')) != NULL)
		p++;
	else if (haskind)
		p = canon;
	xasprintf(&key, "*:%s", p);
	free(canon);
	return (key);
}

/* The key filter value i looks up (caller frees). */
static char *
db_filter_key(const struct db_filter *f, size_t i)
{
	char	*key;

	if (!f->entity_anykind[i])
		return (xstrdup(f->entity_key[i]));
	xasprintf(&key, "*:%s", f->entity_key[i]);
	return (key);
}

/* Did the delivery (its entities JSON array) address one of f's refs? */
static int
db_filter_entities(const struct db_filter *f, const char *entities)
{
	struct json	*arr, *e;
	char		 err[JSON_ERRLEN], *canon;
	size_t		 i;
	int		 haskind, found = 0;

	if (entities == NULL || (arr = json_parse(entities, strlen(entities), 0,
	    err, sizeof err, NULL)) == NULL)
		return (0);
	for (e = json_first(arr); e != NULL && !found; e = json_next(e)) {
		if (json_string(e) == NULL)
			continue;
		canon = db_ref_canon(json_string(e), &haskind);
		for (i = 0; i < f->entity_n && !found; i++)
			found = db_filter_ref(f, i, canon, haskind);
		free(canon);
	}
	json_free(arr);
	return (found);
}

static int
db_streq(const char *a, const char *b)
{
	return (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Did the delivery reach anyone: an accepted send that stored (or, with
 * scope, updated) at least one notification, a user's or a broadcast.
 * An entity send that resolved to nobody is answered 200 [] and is not. */
static int
db_reached(const struct db_record *r)
{
	const char	*p;

	if (r->status < 200 || r->status > 299 || r->ids == NULL)
		return (0);
	for (p = r->ids; *p == ' ' || *p == '['; p++)
		;
	return (*p != ']' && *p != '\0');
}

/* No diagnosis at level warning or error (info notes such as retry are
 * fine).  The array is ours, written compact by diag_json(): a level
 * member reads exactly "level":"warning", and text inside a message has
 * its quotes escaped, so it cannot look like one. */
static int
db_clean(const char *diagnoses)
{
	return (diagnoses == NULL ||
	    (strstr(diagnoses, "\"level\":\"warning\"") == NULL &&
	    strstr(diagnoses, "\"level\":\"error\"") == NULL));
}

int
db_filter_signal(const struct db_filter *f, const char *user)
{
	char	*canon;
	size_t	 i;
	int	 haskind, found = 0;

	/* A signal has no topic, severity, origin, text or outcome. */
	if (f->topic != NULL || f->severity != NULL || f->origin != NULL ||
	    f->q != NULL || f->status != 0 || f->reached != 0 || f->clean != 0)
		return (0);
	if (f->entity_n == 0 || user == NULL)
		return (1);	/* a broadcast reaches every user */
	canon = db_ref_canon(user, &haskind);
	for (i = 0; i < f->entity_n && !found; i++)
		found = db_filter_ref(f, i, canon, haskind);
	free(canon);
	return (found);
}

unsigned int
db_filter_check(const struct db_filter *f, const struct db_record *r)
{
	unsigned int	failed = 0;
	int		ok2xx = r->status >= 200 && r->status <= 299;

	if (r->seq <= f->since)
		failed |= DB_F_SINCE;
	if (f->topic != NULL && !db_streq(r->topic, f->topic))
		failed |= DB_F_TOPIC;
	if (f->severity != NULL && !db_streq(r->severity, f->severity))
		failed |= DB_F_SEVERITY;
	if (f->origin != NULL && !db_streq(r->origin, f->origin))
		failed |= DB_F_ORIGIN;
	if ((f->status == DB_STATUS_ACCEPTED && !ok2xx) ||
	    (f->status == DB_STATUS_REJECTED && ok2xx) ||
	    (f->status > 0 && r->status != f->status))
		failed |= DB_F_STATUS;
	if (f->q != NULL &&
	    !(r->title != NULL && db_contains(r->title, strlen(r->title), f->q)) &&
	    !(r->description != NULL && db_contains(r->description,
	    strlen(r->description), f->q)) &&
	    !db_contains(r->body, r->body_len, f->q))
		failed |= DB_F_Q;
	if (f->entity_n > 0 && !db_filter_entities(f, r->entities))
		failed |= DB_F_ENTITY;
	if (f->reached != 0 && db_reached(r) != (f->reached > 0))
		failed |= DB_F_REACHED;
	if (f->clean != 0 && db_clean(r->diagnoses) != (f->clean > 0))
		failed |= DB_F_CLEAN;
	if ((f->retry > 0 && r->attempt <= 1) ||
	    (f->retry < 0 && r->attempt > 1))
		failed |= DB_F_RETRY;
	return (failed);
}

/*
 * Might payload.description hold q where the body did not?  A payload
 * without a backslash holds its strings as their very bytes, so q must
 * then show in the payload's text, and a payload found whole in the body
 * was searched already.  Only otherwise is the payload parsed (a JSON
 * parse per candidate was most of a q read on a big store: issue 11).
 */
static int
db_desc_may_hold(const char *q, const char *payload, const void *body,
    size_t body_len)
{
	size_t	len = strlen(payload);

	if (strchr(payload, '\\') != NULL)
		return (1);
	if (!db_contains(payload, len, q))
		return (0);
	return (body == NULL || memmem(body, body_len, payload, len) == NULL);
}

/*
 * notimock_filter(filter, seq, status, topic, severity, origin, title,
 * description, body, entities, ids, diagnoses, attempt, packed, dict):
 * db_filter_check() on a row.  The record's strings are borrowed from
 * SQLite for the call and never written.  A packed row (db_pack.c) gives
 * its body, description and diagnoses once unpacked; callers pass packed
 * only when the filter reads those (q, clean).
 */
static void
db_sql_filter(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct db_filter	*f;
	struct db_record	 r, u;
	const void		*packed;
	unsigned int		 failed;

	if (argc != 15 || (f = sqlite3_value_pointer(argv[0],
	    "notimock_filter")) == NULL) {
		sqlite3_result_error(ctx, "notimock_filter: no filter", -1);
		return;
	}
	memset(&r, 0, sizeof r);
	r.seq = sqlite3_value_int64(argv[1]);
	r.status = sqlite3_value_int(argv[2]);
	r.topic = (char *)sqlite3_value_text(argv[3]);
	r.severity = (char *)sqlite3_value_text(argv[4]);
	r.origin = (char *)sqlite3_value_text(argv[5]);
	r.title = (char *)sqlite3_value_text(argv[6]);
	r.description = (char *)sqlite3_value_text(argv[7]);
	r.body = (unsigned char *)sqlite3_value_blob(argv[8]);
	r.body_len = (size_t)sqlite3_value_bytes(argv[8]);
	r.entities = (char *)sqlite3_value_text(argv[9]);
	r.ids = (char *)sqlite3_value_text(argv[10]);
	r.diagnoses = (char *)sqlite3_value_text(argv[11]);
	r.attempt = sqlite3_value_int(argv[12]);
	packed = sqlite3_value_blob(argv[13]);
	failed = db_filter_check(f, &r);
	/*
	 * A packed row: its body, description and diagnoses are in packed.
	 * Unpack only when they decide (q did not match the title, or
	 * clean), and read the description (a JSON parse) only when the
	 * body might not show it as it is: a payload without a backslash
	 * that is a piece of the body holds its description, decoded, as a
	 * piece of the body, already searched.
	 */
	if (packed != NULL && ((f->q != NULL && (failed & DB_F_Q)) ||
	    f->clean != 0)) {
		memset(&u, 0, sizeof u);
		if (db_unpack(sqlite3_user_data(ctx), packed,
		    (size_t)sqlite3_value_bytes(argv[13]),
		    sqlite3_value_int64(argv[14]), 0, &u) == -1) {
			db_record_clear(&u);
			sqlite3_result_error(ctx, "a delivery's packed fields "
			    "do not unpack", -1);
			return;
		}
		r.body = u.body;
		r.body_len = u.body_len;
		r.diagnoses = u.diagnoses;
		failed = db_filter_check(f, &r);
		if ((failed & DB_F_Q) && u.payload != NULL &&
		    db_desc_may_hold(f->q, u.payload, u.body, u.body_len)) {
			u.description = db_unpack_description(u.payload);
			r.description = u.description;
			failed = db_filter_check(f, &r);
		}
		db_record_clear(&u);
	}
	sqlite3_result_int(ctx, (int)failed);
}

/* notimock_ref(ref): the canonical form refs are grouped by. */
static void
db_sql_ref(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char	*ref;
	char		*canon;
	int		 haskind;

	if (argc != 1 || (ref = (const char *)sqlite3_value_text(argv[0])) ==
	    NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	canon = db_ref_canon(ref, &haskind);
	sqlite3_result_text(ctx, canon, -1, free);
}

/* notimock_ref_key(ref, any): db_ref_key() for migration 5. */
static void
db_sql_ref_key(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char	*ref;

	if (argc != 2 || (ref = (const char *)sqlite3_value_text(argv[0])) ==
	    NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_text(ctx, db_ref_key(ref, sqlite3_value_int(argv[1])),
	    -1, free);
}

int
db_assert_functions(struct db *db, char **cause)
{
	if (sqlite3_create_function_v2(db->h, "notimock_filter", 15,
	    SQLITE_UTF8, db, db_sql_filter, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function_v2(db->h, "notimock_ref_key", 2,
	    SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, db_sql_ref_key, NULL, NULL,
	    NULL) != SQLITE_OK ||
	    sqlite3_create_function_v2(db->h, "notimock_ref", 1,
	    SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, db_sql_ref, NULL, NULL,
	    NULL) != SQLITE_OK) {
		xasprintf(cause, "registering SQL functions: %s",
		    sqlite3_errmsg(db->h));
		return (-1);
	}
	return (0);
}

/*
 * Delivery queries on a large store (issue: nothing may hold the event
 * loop for long).  Each reads the rows in a range (?1, ?9]: ?9 is the
 * committed cursor (readers never see this iteration's uncommitted rows,
 * which a failed commit would take back), and ?1 is since, raised by
 * db_scan_bound() so that at most DB_SCAN_MAX candidate rows are looked
 * at.  Candidates are the rows the indexes give for the equality filters
 * (topic ?5, severity ?6, origin ?7, an exact status ?8, entity keys ?10
 * and up in delivery_refs), or every row in the range when there are none;
 * notimock_filter() (?2) then decides, so SQL and C never disagree.  A
 * query that met the bound says so (db_scan_complete), and the assertion
 * API passes that on ("complete": false).
 */

/*
 * How many candidates a read of f looks at: DB_SCAN_MAX, or fewer when
 * each must be unpacked (q, clean read a packed row's body, description
 * or diagnoses: ~4 us a row, so 2,000 of them took ~8 ms; issue 11 wants
 * 5 ms for a whole answer).
 */
int64_t
db_scan_max(const struct db_filter *f)
{
	return (f->q != NULL || f->clean != 0 ? DB_SCAN_UNPACK_MAX :
	    DB_SCAN_MAX);
}

/* Does an index narrow f's candidates? */
static int
db_filter_indexed(const struct db_filter *f)
{
	return (f->topic != NULL || f->severity != NULL || f->origin != NULL ||
	    f->status > 0 || f->entity_n > 0);
}

/*
 * Do the indexed equalities decide f alone (no notimock_filter needed)?
 * Entity filters do: a row's delivery_refs keys are made from its refs by
 * db_ref_key(), with the very canonical form db_filter_ref() compares, so
 * a key lookup finds exactly the rows db_filter_entities() accepts
 * (tests/unit/test_dbfilter.c holds the two to that).  A count then reads
 * no row, where it parsed each candidate's entities.
 */
int
db_filter_exact(const struct db_filter *f)
{
	return (f->q == NULL && f->reached == 0 && f->clean == 0 &&
	    f->retry == 0 && f->status >= 0);
}

/* The entity keys as "?10, ?11, ...". */
static char *
db_filter_keys_sql(const struct db_filter *f)
{
	char	*s = xstrdup(""), *t;
	size_t	 i;

	for (i = 0; i < f->entity_n; i++) {
		xasprintf(&t, "%s%s?%zu", s, i ? ", " : "", 10 + i);
		free(s);
		s = t;
	}
	return (s);
}

/* " AND ..." for the indexed equalities of f. */
static char *
db_prefilter_sql(const struct db_filter *f)
{
	char	*keys, *s;

	keys = db_filter_keys_sql(f);
	xasprintf(&s, "%s%s%s%s%s%s%s",
	    f->topic != NULL ? " AND d.topic = ?5" : "",
	    f->severity != NULL ? " AND d.severity = ?6" : "",
	    f->origin != NULL ? " AND d.origin = ?7" : "",
	    f->status > 0 ? " AND d.status = ?8" : "",
	    f->entity_n > 0 ? " AND d.seq IN (SELECT r.seq FROM delivery_refs r "
	    "WHERE r.key IN (" : "", keys,
	    f->entity_n > 0 ? ") AND r.seq > ?1 AND r.seq <= ?9)" : "");
	free(keys);
	return (s);
}

static void
db_prefilter_bind(sqlite3_stmt *st, const struct db_filter *f)
{
	size_t	i;

	if (f->topic != NULL)
		sqlite3_bind_text(st, 5, f->topic, -1, SQLITE_STATIC);
	if (f->severity != NULL)
		sqlite3_bind_text(st, 6, f->severity, -1, SQLITE_STATIC);
	if (f->origin != NULL)
		sqlite3_bind_text(st, 7, f->origin, -1, SQLITE_STATIC);
	if (f->status > 0)
		sqlite3_bind_int(st, 8, f->status);
	for (i = 0; i < f->entity_n; i++)
		sqlite3_bind_text(st, (int)(10 + i), db_filter_key(f, i), -1,
		    free);
}

/*
 * The WHERE clause for f.  Large columns are handed to the function only
 * when a filter reads them, so that listing without q does not pull every
 * body through the cache; with fn = 0 and an exact filter there is no
 * function at all (a count then reads only an index).
 */
char *
db_filter_where(const struct db_filter *f, int fn)
{
	char	*s, *pre;

	pre = db_prefilter_sql(f);
	if (!fn && db_filter_exact(f)) {
		xasprintf(&s, "d.seq > ?1 AND d.seq <= ?9%s", pre);
		free(pre);
		return (s);
	}
	xasprintf(&s, "d.seq > ?1 AND d.seq <= ?9%s AND "
	    "notimock_filter(?2, d.seq, d.status, "
	    "d.topic, d.severity, d.origin, d.title, %s, %s, %s, %s, %s, "
	    "d.attempt, %s) = 0",
	    pre,
	    f->q != NULL ? DB_DESC_EXPR : "NULL",
	    f->q != NULL ? "d.body" : "NULL",
	    f->entity_n > 0 ? "d.entities" : "NULL",
	    f->reached != 0 ? "d.ids" : "NULL",
	    f->clean != 0 ? "d.diagnoses" : "NULL",
	    DB_FILTER_PACKED(f));
	free(pre);
	return (s);
}

/*
 * The SQL that counts f's matches in the range.  An entity filter with
 * no other equality counts its delivery_refs keys alone: a key's rows
 * exist only while their delivery does (ON DELETE CASCADE, foreign_keys
 * on), and fetching each of up to DB_SCAN_MAX deliveries by key only to
 * count it cost ~1.5 ms on a big store.  Caller frees.
 */
char *
db_filter_count_sql(const struct db_filter *f)
{
	char	*s, *keys, *where;

	if (f->entity_n > 0 && db_filter_exact(f) && f->topic == NULL &&
	    f->severity == NULL && f->origin == NULL && f->status == 0) {
		keys = db_filter_keys_sql(f);
		/* Two values may name one delivery: count it once. */
		xasprintf(&s, "SELECT count(%sr.seq) FROM delivery_refs r "
		    "WHERE r.key IN (%s) AND r.seq > ?1 AND r.seq <= ?9",
		    f->entity_n > 1 ? "DISTINCT " : "", keys);
		free(keys);
		return (s);
	}
	where = db_filter_where(f, 0);
	xasprintf(&s, "SELECT count(*) FROM deliveries d WHERE %s", where);
	free(where);
	return (s);
}

/*
 * The statements of delivery reads are kept for the next read of the same
 * shape (issue 11: compiling a list's three statements was ~10 % of its
 * CPU).  db_filter_prepare takes a kept one out when its SQL is the same;
 * db_filter_done resets it, clears its bindings (the filter pointer, the
 * entity keys) and keeps it, the least recently kept making room.  A
 * statement finalized instead is only not kept.  A reset statement holds
 * no read transaction, so keeping it pins no snapshot of the WAL.
 */
static sqlite3_stmt *
db_filter_kept(struct db *db, const char *sql)
{
	sqlite3_stmt	*st;
	size_t		 i;

	for (i = 0; i < DB_KEPT_MAX; i++)
		if ((st = db->kept[i]) != NULL &&
		    strcmp(sqlite3_sql(st), sql) == 0) {
			db->kept[i] = NULL;
			return (st);
		}
	return (NULL);
}

void
db_filter_done(struct db *db, sqlite3_stmt *st)
{
	size_t	i, slot = 0;

	if (st == NULL)
		return;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	for (i = 0; i < DB_KEPT_MAX; i++) {
		if (db->kept[i] == NULL) {
			slot = i;
			break;
		}
		if (db->kept_at[i] < db->kept_at[slot])
			slot = i;
	}
	sqlite3_finalize(db->kept[slot]);
	db->kept[slot] = st;
	db->kept_at[slot] = ++db->kept_clock;
}

void
db_filter_close(struct db *db)
{
	size_t	i;

	for (i = 0; i < DB_KEPT_MAX; i++) {
		sqlite3_finalize(db->kept[i]);
		db->kept[i] = NULL;
	}
}

sqlite3_stmt *
db_kept_prepare(struct db *db, const char *sql)
{
	sqlite3_stmt	*st;

	if ((st = db_filter_kept(db, sql)) == NULL &&
	    sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	    NULL) != SQLITE_OK) {
		db_seterr(db, "preparing a delivery query");
		return (NULL);
	}
	return (st);
}

/* Prepare sql (taking it), or take the kept statement of the same SQL,
 * with the filter and the range (lo, upto] bound; NULL on error.  Give it
 * back with db_filter_done. */
sqlite3_stmt *
db_filter_prepare(struct db *db, char *sql, const struct db_filter *f,
    int64_t lo, int64_t upto)
{
	sqlite3_stmt	*st;

	st = db_kept_prepare(db, sql);
	free(sql);
	if (st == NULL)
		return (NULL);
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_pointer(st, 2, (void *)f, "notimock_filter", NULL);
	sqlite3_bind_int64(st, 9, upto);
	db_prefilter_bind(st, f);
	return (st);
}

/*
 * The lower end of a read's range: f->since, or higher so that at most
 * db_scan_max(f) candidates lie in (lo, committed].  Without an index,
 * the newest db_scan_max(f) sequence numbers.  Sets db->scan_complete.
 */
int64_t
db_scan_bound(struct db *db, const struct db_filter *f)
{
	sqlite3_stmt	*st;
	char		*sql, *pre;
	int64_t		 lo = f->since, upto = db->seq_committed;
	int64_t		 max = db_scan_max(f);

	db->scan_complete = 1;
	if (!db_filter_indexed(f)) {
		if (upto - max > lo) {
			lo = upto - max;
			db->scan_complete = 0;
		}
		db->scan_from = lo;
		return (lo);
	}
	if (f->entity_n > 0) {
		pre = db_filter_keys_sql(f);
		xasprintf(&sql, "SELECT r.seq FROM delivery_refs r WHERE r.key "
		    "IN (%s) AND r.seq > ?1 AND r.seq <= ?9 ORDER BY r.seq DESC "
		    "LIMIT 1 OFFSET ?3", pre);
	} else {
		pre = db_prefilter_sql(f);
		xasprintf(&sql, "SELECT d.seq FROM deliveries d WHERE d.seq > ?1 "
		    "AND d.seq <= ?9%s ORDER BY d.seq DESC LIMIT 1 OFFSET ?3",
		    pre);
	}
	free(pre);
	if ((st = db_filter_prepare(db, sql, f, lo, upto)) == NULL)
		return (lo);	/* the query itself will report the error */
	sqlite3_bind_int64(st, 3, max - 1);
	if (sqlite3_step(st) == SQLITE_ROW) {
		lo = sqlite3_column_int64(st, 0) - 1;
		db->scan_complete = 0;
	}
	db_filter_done(db, st);
	db->scan_from = lo;
	return (lo);
}

/*
 * Did the last db_scan_bound(f) stop at its bound on index entries that
 * are all matches?  Then (lo, committed] holds exactly db_scan_max(f)
 * matches and nothing needs counting: f is exact (db_filter_exact) and the
 * bound was found on the very rows f selects: the equalities' index with
 * no entity filter, or delivery_refs for one entity value and nothing
 * else (the bound query reads delivery_refs alone; two values may name
 * one delivery twice).  Without an index the bound is a seq range, which
 * may have gaps: that is counted.
 */
int
db_scan_counted(const struct db *db, const struct db_filter *f)
{
	if (db->scan_complete || !db_filter_exact(f) ||
	    !db_filter_indexed(f))
		return (0);
	if (f->entity_n == 0)
		return (1);
	return (f->entity_n == 1 && f->topic == NULL &&
	    f->severity == NULL && f->origin == NULL && f->status == 0);
}

int
db_scan_complete(const struct db *db, int64_t *from)
{
	if (from != NULL)
		*from = db->scan_from;
	return (db->scan_complete);
}
