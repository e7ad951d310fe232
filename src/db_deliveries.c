/*
 * db_deliveries.c: reading stored deliveries back for the assertion API
 * (list, count, one, near misses, entities), each through db_filter.c's
 * WHERE clause and scan bound.
 */
#include <ctype.h>
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

void
db_record_clear(struct db_record *r)
{
	free(r->remote);
	free(r->method);
	free(r->path);
	free(r->headers);
	free(r->body);
	free(r->response);
	free(r->origin);
	free(r->token_fp);
	free(r->payload);
	free(r->recipients);
	free(r->title);
	free(r->topic);
	free(r->severity);
	free(r->description);
	free(r->entities);
	free(r->users);
	free(r->ids);
	free(r->diagnoses);
	free(r->fault);
	memset(r, 0, sizeof *r);
}

void
db_records_free(struct db_record *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		db_record_clear(&v[i]);
	free(v);
}

/* A text column that may hold NULs (the response): bytes plus NUL. */
static char *
db_col_bytes(sqlite3_stmt *st, int i, size_t *lenp)
{
	const void	*p = sqlite3_column_blob(st, i);
	size_t		 len = (size_t)sqlite3_column_bytes(st, i);
	char		*out;

	if (p == NULL && sqlite3_column_type(st, i) == SQLITE_NULL) {
		if (lenp != NULL)
			*lenp = 0;
		return (NULL);
	}
	out = xmalloc(len + 1);
	if (len > 0)
		memcpy(out, p, len);
	out[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return (out);
}

/* Replace the packed fields' empty columns with what they hold (and
 * payload.description, a JSON parse, if description). */
static void
db_row_unpack(struct db *db, sqlite3_stmt *st, struct db_record *r,
    int description)
{
	const void	*b = sqlite3_column_blob(st, 26);
	size_t		 len = (size_t)sqlite3_column_bytes(st, 26);

	free(r->headers);
	free(r->body);
	free(r->response);
	free(r->payload);
	free(r->recipients);
	free(r->users);
	free(r->diagnoses);
	r->headers = r->response = r->payload = r->recipients = NULL;
	r->users = r->diagnoses = NULL;
	r->body = NULL;
	r->body_len = 0;
	if (db_unpack(db, b, len, sqlite3_column_int64(st, 27), description,
	    r) == -1) {
		/* Never expected: say so where the row is read. */
		log_warnx("db: delivery %lld: its packed fields do not unpack",
		    (long long)r->seq);
		free(r->headers);
		free(r->body);
		free(r->response);
		free(r->users);
		free(r->diagnoses);
		r->headers = xstrdup("[]");
		r->body = (unsigned char *)xstrdup("");
		r->body_len = 0;
		r->response = xstrdup("");
		r->users = xstrdup("[]");
		r->diagnoses = xstrdup("[]");
	}
}

/* The row (DB_REC_COLS) as a record: the plain columns, or for a packed
 * row the fields db_unpack gives back; a packed row's description only
 * if description (what the assertion API shows has none: only a filter
 * checked in C, as a stream's, reads it). */
static void
db_row_read(struct db *db, sqlite3_stmt *st, struct db_record *r,
    int description)
{
	memset(r, 0, sizeof *r);
	r->seq = sqlite3_column_int64(st, 0);
	r->received = sqlite3_column_int64(st, 1);
	r->remote = db_col_text(st, 2);
	r->method = db_col_text(st, 3);
	r->path = db_col_text(st, 4);
	r->headers = db_col_text(st, 5);
	r->body = (unsigned char *)db_col_bytes(st, 6, &r->body_len);
	r->status = sqlite3_column_int(st, 7);
	r->response = db_col_bytes(st, 8, NULL);
	r->origin = db_col_text(st, 9);
	r->token_fp = db_col_text(st, 10);
	r->payload = db_col_text(st, 11);
	r->recipients = db_col_text(st, 12);
	r->title = db_col_text(st, 13);
	r->topic = db_col_text(st, 14);
	r->severity = db_col_text(st, 15);
	r->entities = db_col_text(st, 16);
	r->users = db_col_text(st, 17);
	r->ids = db_col_text(st, 18);
	r->diagnoses = db_col_text(st, 19);
	r->duration_us = sqlite3_column_int64(st, 20);
	if (sqlite3_column_type(st, 21) == SQLITE_TEXT)
		r->description = db_col_text(st, 21);
	r->body_size = sqlite3_column_int64(st, 22);
	r->fault = db_col_text(st, 23);
	r->attempt = sqlite3_column_int(st, 24);
	r->retry_of = sqlite3_column_int64(st, 25);
	if (sqlite3_column_type(st, 26) == SQLITE_BLOB)
		db_row_unpack(db, st, r, description);
}

void
db_row_record(struct db *db, sqlite3_stmt *st, struct db_record *r)
{
	db_row_read(db, st, r, 1);
}

/* Every row of a statement of DB_REC_COLS as records (*out, *n), and the
 * statement given back (db_filter_done); -1 with nothing on error. */
static int
db_read_rows(struct db *db, sqlite3_stmt *st, int description,
    struct db_record **out, size_t *n)
{
	size_t	cap = 0;
	int	rc;

	*out = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			*out = xreallocarray(*out, cap, sizeof **out);
		}
		db_row_read(db, st, &(*out)[(*n)++], description);
	}
	db_filter_done(db, st);
	if (rc != SQLITE_DONE) {
		db_seterr(db, "listing deliveries");
		db_records_free(*out, *n);
		*out = NULL;
		*n = 0;
		return (-1);
	}
	return (0);
}

/* The list of f in (lo, committed]; lo < 0: db_scan_bound's. */
static int
db_list(struct db *db, const struct db_filter *f, int ascending,
    int64_t limit, int64_t offset, struct db_record **out, size_t *n,
    int description, int64_t lo)
{
	sqlite3_stmt	*st;
	char		*where, *sql;

	*out = NULL;
	*n = 0;
	if (f == NULL)
		f = &db_no_filter;
	if (lo < 0)
		lo = db_scan_bound(db, f);
	/* Indexed equalities alone decide an exact filter (db_filter.c):
	 * then no row is handed to notimock_filter (an entity filter parsed
	 * each candidate's entities). */
	where = db_filter_where(f, 0);
	xasprintf(&sql, "SELECT " DB_REC_COLS " FROM deliveries d WHERE %s "
	    "ORDER BY d.seq %s LIMIT ?3 OFFSET ?4", where,
	    ascending ? "ASC" : "DESC");
	free(where);
	if ((st = db_filter_prepare(db, sql, f, lo, db->seq_committed)) == NULL)
		return (-1);
	sqlite3_bind_int64(st, 3, limit);
	sqlite3_bind_int64(st, 4, offset);
	return (db_read_rows(db, st, description, out, n));
}

int
db_deliveries_list(struct db *db, const struct db_filter *f, int ascending,
    int64_t limit, int64_t offset, struct db_record **out, size_t *n)
{
	return (db_list(db, f, ascending, limit, offset, out, n, 1, -1));
}

static int	db_delivery_read(struct db *, int64_t, struct db_record *,
		    int);
static int64_t	db_count(struct db *, const struct db_filter *, int64_t lo);

/*
 * The deliveries numbered seqs[] (newest first), read in one statement:
 * one read transaction, where a statement per row took and gave back the
 * WAL's read lock each time (two fcntl calls a row).
 */
static int
db_read_seqs(struct db *db, const int64_t *seqs, size_t nseq,
    struct db_record **out, size_t *n)
{
	struct json_buf	 b = JSON_BUF_INIT;
	sqlite3_stmt	*st;
	size_t		 i;

	*out = NULL;
	*n = 0;
	if (nseq == 0)
		return (0);
	json_buf_raw(&b, "[", 1);
	for (i = 0; i < nseq; i++) {
		if (i > 0)
			json_buf_raw(&b, ",", 1);
		json_buf_num(&b, (double)seqs[i]);
	}
	json_buf_raw(&b, "]", 1);
	if ((st = db_kept_prepare(db, "SELECT " DB_REC_COLS " FROM "
	    "deliveries d WHERE d.seq IN (SELECT value FROM json_each(?1)) "
	    "AND d.seq <= ?2 ORDER BY d.seq DESC")) == NULL) {
		free(b.p);
		return (-1);
	}
	sqlite3_bind_text(st, 1, b.p, (int)b.len, free);
	sqlite3_bind_int64(st, 2, db->seq_committed);
	return (db_read_rows(db, st, 0, out, n));
}

/*
 * The matches' total and one page of them, newest first.  An exact filter
 * (db_filter_exact: no filter, or indexed equalities only) counts from an
 * index and lists the page alone.  Any other runs notimock_filter() on
 * each candidate once: one pass counts them and keeps the page's seqs,
 * which are then read by key.  Counting and listing separately ran it
 * twice over up to DB_SCAN_MAX rows, each perhaps unpacked (issue 11).
 */
int
db_deliveries_page(struct db *db, const struct db_filter *f, int64_t limit,
    int64_t offset, int64_t *total, struct db_record **out, size_t *n)
{
	sqlite3_stmt	*st;
	char		*where, *sql;
	int64_t		 lo, count = 0, *seqs = NULL;
	size_t		 nseq = 0, cap = 0;
	int		 rc;

	*out = NULL;
	*n = 0;
	if (f == NULL)
		f = &db_no_filter;
	if (db_filter_exact(f)) {
		/* One bound for the count and the page; a bound that
		 * stopped at db_scan_max(f) index entries of an exact
		 * filter has counted the matches already. */
		lo = db_scan_bound(db, f);
		if (db_scan_counted(db, f))
			*total = db_scan_max(f);
		else if ((*total = db_count(db, f, lo)) == -1)
			return (-1);
		return (db_list(db, f, 0, limit, offset, out, n, 0, lo));
	}
	lo = db_scan_bound(db, f);
	where = db_filter_where(f, 1);
	xasprintf(&sql, "SELECT d.seq FROM deliveries d WHERE %s "
	    "ORDER BY d.seq DESC", where);
	free(where);
	if ((st = db_filter_prepare(db, sql, f, lo, db->seq_committed)) == NULL)
		return (-1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (count >= offset && (limit < 0 || count - offset < limit)) {
			if (nseq == cap) {
				cap = cap == 0 ? 16 : cap * 2;
				seqs = xreallocarray(seqs, cap, sizeof *seqs);
			}
			seqs[nseq++] = sqlite3_column_int64(st, 0);
		}
		count++;
	}
	db_filter_done(db, st);
	if (rc != SQLITE_DONE) {
		db_seterr(db, "listing deliveries");
		free(seqs);
		return (-1);
	}
	*total = count;
	rc = db_read_seqs(db, seqs, nseq, out, n);
	free(seqs);
	return (rc);
}

int64_t
db_deliveries_count(struct db *db, const struct db_filter *f)
{
	if (f == NULL)
		f = &db_no_filter;
	return (db_count(db, f, db_scan_bound(db, f)));
}

/* The matches of f in (lo, committed]. */
static int64_t
db_count(struct db *db, const struct db_filter *f, int64_t lo)
{
	sqlite3_stmt	*st;
	char		*sql;
	int64_t		 count = -1;

	sql = db_filter_count_sql(f);
	if ((st = db_filter_prepare(db, sql, f, lo, db->seq_committed)) == NULL)
		return (-1);
	if (sqlite3_step(st) == SQLITE_ROW)
		count = sqlite3_column_int64(st, 0);
	else
		db_seterr(db, "counting deliveries");
	db_filter_done(db, st);
	return (count);
}

int
db_delivery_get(struct db *db, int64_t seq, struct db_record *out)
{
	return (db_delivery_read(db, seq, out, 1));
}

static int
db_delivery_read(struct db *db, int64_t seq, struct db_record *out,
    int description)
{
	sqlite3_stmt	*st = db->st[ST_DELIVERY_GET];
	int		 rc, found = 0;

	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, db->seq_committed);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		db_row_read(db, st, out, description);
		found = 1;
	} else if (rc != SQLITE_DONE) {
		db_seterr(db, "reading a delivery");
		found = -1;
	}
	sqlite3_reset(st);
	return (found);
}

static int
db_popcount(unsigned int v)
{
	int	n = 0;

	for (; v != 0; v &= v - 1)
		n++;
	return (n);
}

int
db_deliveries_misses(struct db *db, const struct db_filter *f,
    struct db_miss *out, size_t max, size_t *n)
{
	int64_t		 lo;
	sqlite3_stmt	*st;
	char		*sql;
	struct db_miss	 m;
	size_t		 i;
	int		 rc;

	*n = 0;
	xasprintf(&sql, "SELECT d.seq, notimock_filter(?2, d.seq, d.status, "
	    "d.topic, d.severity, d.origin, d.title, %s, %s, %s, %s, %s, "
	    "d.attempt, %s) FROM deliveries d WHERE d.seq > ?1 AND "
	    "d.seq <= ?9 ORDER BY d.seq DESC",
	    f->q != NULL ? DB_DESC_EXPR : "NULL",
	    f->q != NULL ? "d.body" : "NULL",
	    f->entity_n > 0 ? "d.entities" : "NULL",
	    f->reached != 0 ? "d.ids" : "NULL",
	    f->clean != 0 ? "d.diagnoses" : "NULL",
	    DB_FILTER_PACKED(f));
	/* Near misses fail some filter, so no index finds them: look at the
	 * newest db_scan_max(f) numbers at most. */
	lo = f->since;
	if (db->seq_committed - db_scan_max(f) > lo)
		lo = db->seq_committed - db_scan_max(f);
	if ((st = db_filter_prepare(db, sql, f, lo, db->seq_committed)) == NULL)
		return (-1);
	/* Keep out[] sorted by failed-filter count; rows come newest first,
	 * so an equal count never displaces an earlier (newer) one. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		m.seq = sqlite3_column_int64(st, 0);
		m.failed = (unsigned int)sqlite3_column_int(st, 1);
		if (m.failed == 0 || max == 0)
			continue;
		if (*n == max && db_popcount(m.failed) >=
		    db_popcount(out[*n - 1].failed))
			continue;
		if (*n < max)
			(*n)++;
		for (i = *n - 1; i > 0 && db_popcount(out[i - 1].failed) >
		    db_popcount(m.failed); i--)
			out[i] = out[i - 1];
		out[i] = m;
	}
	if (rc != SQLITE_DONE) {
		db_seterr(db, "explaining a wait");
		db_filter_done(db, st);
		return (-1);
	}
	db_filter_done(db, st);
	return (0);
}

/*
 * /mock/entities' groups: (ref, severity, topic, accepted) with their
 * count of deliveries, last seq and latest time, newest group first.
 * SQLite once grouped them (GROUP BY, count(DISTINCT), ORDER BY: three
 * temporary B-trees, ~70 % of the route's CPU on a big store); now it
 * hands the rows over newest first and they are grouped here, with a
 * hash of the groups.  A delivery's rows are adjacent, so one naming a
 * ref twice (two spellings of one canonical ref) counts once.
 */
#define DB_EGROUP_BUCKETS	1024

struct db_egroup {
	struct db_entity_group	 g;
	char			*ref, *severity, *topic;
	int64_t			 counted;	/* the last seq counted */
	uint32_t		 hash;
	int			 next;		/* in its bucket, or -1 */
};

struct db_egroups {
	struct db_egroup	*v;
	size_t			 n, cap;
	int			 bucket[DB_EGROUP_BUCKETS];
};

static uint32_t
db_egroup_hash(uint32_t h, const char *s)
{
	if (s == NULL)
		return (h * 16777619U);
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619U;
	return ((h ^ 0xff) * 16777619U);
}

static int
db_egroup_same(const char *a, const char *b)
{
	return (a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0);
}

/* The group of one row, made if new. */
static struct db_egroup *
db_egroup_find(struct db_egroups *gs, const char *ref, const char *severity,
    const char *topic, int accepted)
{
	struct db_egroup	*e;
	uint32_t		 h;
	int			 i;

	h = db_egroup_hash(db_egroup_hash(db_egroup_hash(2166136261U ^
	    (uint32_t)accepted, ref), severity), topic);
	for (i = gs->bucket[h % DB_EGROUP_BUCKETS]; i != -1; i = e->next) {
		e = &gs->v[i];
		if (e->hash == h && e->g.accepted == accepted &&
		    strcmp(e->ref, ref) == 0 &&
		    db_egroup_same(e->severity, severity) &&
		    db_egroup_same(e->topic, topic))
			return (e);
	}
	if (gs->n == gs->cap) {
		gs->cap = gs->cap == 0 ? 64 : gs->cap * 2;
		gs->v = xreallocarray(gs->v, gs->cap, sizeof *gs->v);
	}
	e = &gs->v[gs->n];
	memset(e, 0, sizeof *e);
	e->ref = xstrdup(ref);
	e->severity = severity != NULL ? xstrdup(severity) : NULL;
	e->topic = topic != NULL ? xstrdup(topic) : NULL;
	e->g.accepted = accepted;
	e->hash = h;
	e->next = gs->bucket[h % DB_EGROUP_BUCKETS];
	gs->bucket[h % DB_EGROUP_BUCKETS] = (int)gs->n++;
	return (e);
}

static int
db_egroup_cmp(const void *a, const void *b)
{
	const struct db_egroup	*x = a, *y = b;

	return (x->g.last_seq < y->g.last_seq ? 1 :
	    x->g.last_seq > y->g.last_seq ? -1 : 0);
}

int
db_entities_scan(struct db *db, const struct db_filter *f,
    void (*cb)(void *, const struct db_entity_group *), void *arg)
{
	int64_t			 lo, seq, received;
	sqlite3_stmt		*st;
	struct db_egroups	 gs;
	struct db_egroup	*e;
	const char		*ref;
	char			*where, *sql;
	size_t			 i;
	int			 rc;

	if (f == NULL)
		f = &db_no_filter;
	memset(&gs, 0, sizeof gs);
	memset(gs.bucket, 0xff, sizeof gs.bucket);	/* all -1 */
	lo = db_scan_bound(db, f);
	where = db_filter_where(f, 0);	/* no function unless needed */
	xasprintf(&sql, "SELECT notimock_ref(e.ref), d.severity, d.topic, "
	    "d.status BETWEEN 200 AND 299, d.seq, d.received "
	    "FROM deliveries d JOIN delivery_entities e ON e.seq = d.seq "
	    "WHERE %s ORDER BY d.seq DESC", where);
	free(where);
	if ((st = db_filter_prepare(db, sql, f, lo, db->seq_committed)) == NULL)
		return (-1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((ref = (const char *)sqlite3_column_text(st, 0)) == NULL)
			continue;
		e = db_egroup_find(&gs, ref,
		    (const char *)sqlite3_column_text(st, 1),
		    (const char *)sqlite3_column_text(st, 2),
		    sqlite3_column_int(st, 3));
		seq = sqlite3_column_int64(st, 4);
		received = sqlite3_column_int64(st, 5);
		if (e->g.count == 0 || seq != e->counted)
			e->g.count++;
		e->counted = seq;
		if (e->g.count == 1 || seq > e->g.last_seq)
			e->g.last_seq = seq;
		if (e->g.count == 1 || received > e->g.last_received)
			e->g.last_received = received;
	}
	db_filter_done(db, st);
	if (rc == SQLITE_DONE) {
		if (gs.n > 1)
			qsort(gs.v, gs.n, sizeof *gs.v, db_egroup_cmp);
		for (i = 0; i < gs.n; i++) {
			gs.v[i].g.ref = gs.v[i].ref;
			gs.v[i].g.severity = gs.v[i].severity;
			gs.v[i].g.topic = gs.v[i].topic;
			cb(arg, &gs.v[i].g);
		}
	} else
		db_seterr(db, "listing entities");
	for (i = 0; i < gs.n; i++) {
		free(gs.v[i].ref);
		free(gs.v[i].severity);
		free(gs.v[i].topic);
	}
	free(gs.v);
	return (rc == SQLITE_DONE ? 0 : -1);
}
