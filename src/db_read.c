/*
 * db_read.c: Backstage's read side, the notifications as one user sees
 * them (list, count, status, topics, read/saved marks), and user settings.
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

/* --- notifications: the read side --- */

/*
 * A user's view of the notifications, as the subquery of Backstage's
 * getNotificationsBaseQuery builds it: their own rows (DB_ARM_USER), then
 * every broadcast left-joined with their broadcast_user_status row
 * (DB_ARM_BCAST).  The columns are those of DB_NOTIF_COLS, then type
 * ('entity' or 'broadcast', which orderField may name), bc and rid (for a
 * stable order among equals: the oracle's UNION ALL lists user rows, then
 * broadcasts, each in insertion order).  Only fixed text goes into the
 * SQL; every value is bound.
 *
 * Both arms walk the index notifications_user (user, created DESC, then
 * the rowid ascending: schema 7), so a page in the default order reads
 * its own rows and no more.  A list asks each arm for its first
 * offset + limit rows in the list's order and merges those
 * (db_notification_list); counts add up notification_counts
 * (db_counts_sql).  What neither serves (search, another orderField,
 * createdAfter) reads every row the user sees: README "Performance".
 */
#define DB_ARM_USER \
	"SELECT id, user, created, saved, read, updated, origin, title, " \
	"description, link, topic, severity, scope, icon, metadata, " \
	"delivery_seq, 'entity' AS type, 0 AS bc, rowid AS rid " \
	"FROM notifications WHERE user = ?1"
#define DB_ARM_BCAST \
	"SELECT b.id, s.user, b.created, s.saved, s.read, b.updated, " \
	"b.origin, b.title, b.description, b.link, b.topic, b.severity, " \
	"b.scope, b.icon, b.metadata, b.delivery_seq, 'broadcast' AS type, " \
	"1 AS bc, b.rowid AS rid " \
	"FROM notifications b LEFT JOIN broadcast_user_status s " \
	"ON s.notification_id = b.id AND s.user = ?1 WHERE b.user IS NULL"
#define DB_VIEW \
	"WITH n AS (" DB_ARM_USER " UNION ALL " DB_ARM_BCAST ") "
#define DB_ARMS \
	"WITH nu AS (" DB_ARM_USER "), nb AS (" DB_ARM_BCAST ") "

/* The view's columns orderField may name (SQLite matches them without
 * case, as the oracle does). */
static const char *const db_order_columns[] = {
	"id", "title", "description", "severity", "link", "origin", "scope",
	"topic", "icon", "created", "updated", "user", "read", "saved",
	"metadata", "type", NULL
};

static const char *const db_severities[] = {
	"critical", "high", "normal", "low"
};

/* A statement's text under construction, with its bindings (a list binds
 * at most 16 today, its filters once per arm; more marks the statement as
 * too long). */
#define DB_SQL_BINDS	24

struct db_sql {
	char		*s;
	size_t		 len;
	const char	*text[DB_SQL_BINDS];	/* bound as ?2, ?3, ... */
	int64_t		 num[DB_SQL_BINDS];
	int		 isnum[DB_SQL_BINDS];
	int		 n;
	int		 overflow;	/* db_sql_prepare refuses it */
};

static void
db_sql_add(struct db_sql *q, const char *text)
{
	size_t	n = strlen(text);

	q->s = xreallocarray(q->s, q->len + n + 1, 1);
	memcpy(q->s + q->len, text, n + 1);
	q->len += n;
}

/* Append a placeholder for a text (or, if text is NULL, a number). */
static void
db_sql_bind(struct db_sql *q, const char *text, int64_t num)
{
	char	ph[16];

	if (q->n >= DB_SQL_BINDS) {
		q->overflow = 1;
		return;
	}
	snprintf(ph, sizeof ph, "?%d", q->n + 2);
	db_sql_add(q, ph);
	q->text[q->n] = text;
	q->num[q->n] = num;
	q->isnum[q->n] = text == NULL;
	q->n++;
}

/* minimumSeverity: col is one of the severities at least as high. */
static void
db_sql_severity(struct db_sql *q, const struct db_nquery *nq, const char *col)
{
	int	i;

	if (nq->min_severity <= 0 || nq->min_severity > 4)
		return;
	db_sql_add(q, " AND ");
	db_sql_add(q, col);
	db_sql_add(q, " IN (");
	for (i = 0; i < nq->min_severity; i++) {
		if (i > 0)
			db_sql_add(q, ", ");
		db_sql_add(q, "'");
		db_sql_add(q, db_severities[i]);
		db_sql_add(q, "'");
	}
	db_sql_add(q, ")");
}

/* The WHERE clause of a query (after "FROM n"). */
static void
db_nquery_where(struct db_sql *q, const struct db_nquery *nq,
    char **pattern)
{
	db_sql_add(q, " WHERE 1");
	if (nq->id != NULL) {
		db_sql_add(q, " AND id = ");
		db_sql_bind(q, nq->id, 0);
	}
	if (nq->ids_json != NULL) {
		db_sql_add(q, " AND id IN (SELECT value FROM json_each(");
		db_sql_bind(q, nq->ids_json, 0);
		db_sql_add(q, "))");
	}
	if (nq->has_created_after) {
		db_sql_add(q, " AND created >= ");
		db_sql_bind(q, NULL, nq->created_after);
	}
	if (nq->search != NULL) {
		/*
		 * Backstage's lower(col) LIKE lower(?), '%' and '_' in the
		 * text included.  SQLite's LIKE folds ASCII case, and only
		 * that, as its lower() does (no ICU, here or in the oracle's
		 * better-sqlite3), so LIKE alone matches the same rows
		 * without two copies of every row's texts.
		 */
		xasprintf(pattern, "%%%s%%", nq->search);
		db_sql_add(q, " AND (title LIKE ");
		db_sql_bind(q, *pattern, 0);
		db_sql_add(q, " OR description LIKE ");
		db_sql_bind(q, *pattern, 0);
		db_sql_add(q, ")");
	}
	if (nq->read > 0)
		db_sql_add(q, " AND read IS NOT NULL");
	else if (nq->read < 0)
		db_sql_add(q, " AND read IS NULL");
	if (nq->topic != NULL) {
		db_sql_add(q, " AND topic = ");
		db_sql_bind(q, nq->topic, 0);
	}
	if (nq->saved > 0)
		db_sql_add(q, " AND saved IS NOT NULL");
	else if (nq->saved < 0)
		db_sql_add(q, " AND saved IS NULL");
	db_sql_severity(q, nq, "severity");
}

/* The ORDER BY clause, ending with tail (the arm's or the view's tie
 * breaker); -1 (with db->err) for a field that names no column. */
static int
db_nquery_order(struct db *db, struct db_sql *q, const struct db_nquery *nq,
    const char *tail)
{
	const char	*f;
	size_t		 i, k;

	if (nq->unordered)
		return (0);
	db_sql_add(q, " ORDER BY ");
	if (nq->order_field == NULL)
		db_sql_add(q, "created DESC, ");
	for (i = 0; nq->order_field != NULL && i < nq->norder; i++) {
		f = nq->order_field[i];
		/* knex quotes `notifications`.`col`: the subquery's alias. */
		if (strncasecmp(f, "notifications.", 14) == 0)
			f += 14;
		for (k = 0; db_order_columns[k] != NULL; k++)
			if (strcasecmp(f, db_order_columns[k]) == 0)
				break;
		if (db_order_columns[k] == NULL) {
			snprintf(db->err, sizeof db->err, "no such column: %s",
			    nq->order_field[i]);
			return (-1);
		}
		db_sql_add(q, "\"");
		db_sql_add(q, db_order_columns[k]);
		db_sql_add(q, nq->order_dir[i] == 2 ? "\" DESC, " : "\" ASC, ");
	}
	db_sql_add(q, tail);
	return (0);
}

static sqlite3_stmt *
db_sql_prepare(struct db *db, struct db_sql *q, const char *user)
{
	sqlite3_stmt	*st;
	int		 i;

	if (q->overflow) {
		snprintf(db->err, sizeof db->err, "reading notifications: more "
		    "than %d values to bind", DB_SQL_BINDS);
		log_warnx("db: %s", db->err);
		return (NULL);
	}
	if (sqlite3_prepare_v2(db->h, q->s, -1, &st, NULL) != SQLITE_OK) {
		db_seterr(db, "reading notifications");
		return (NULL);
	}
	if (user != NULL)
		db_bind_text(st, 1, user);
	for (i = 0; i < q->n; i++) {
		if (q->isnum[i])
			sqlite3_bind_int64(st, i + 2, q->num[i]);
		else
			db_bind_text(st, i + 2, q->text[i]);
	}
	return (st);
}

/*
 * One arm of a list: its first offset + limit rows (all of them without a
 * limit) in the list's order, which its index may give without a sort.
 * The merge's order then picks from at most twice that many.
 */
static int
db_list_arm(struct db *db, struct db_sql *q, const struct db_nquery *nq,
    const char *arm, char **pattern)
{
	int64_t	off;

	db_sql_add(q, "SELECT * FROM (SELECT * FROM ");
	db_sql_add(q, arm);
	db_nquery_where(q, nq, pattern);
	if (db_nquery_order(db, q, nq, "rid") == -1)
		return (-1);
	off = nq->offset > 0 ? nq->offset : 0;
	db_sql_add(q, " LIMIT ");
	db_sql_bind(q, NULL, nq->limit < 0 || nq->limit > INT64_MAX - off ?
	    -1 : nq->limit + off);
	db_sql_add(q, ")");
	return (0);
}

int
db_notification_list(struct db *db, const struct db_nquery *nq,
    struct db_notification **out, size_t *np)
{
	struct db_sql		 q;
	sqlite3_stmt		*st = NULL;
	struct db_notification	*v = NULL;
	char			*pattern[2] = { NULL, NULL };
	size_t			 n = 0;
	int			 rc;

	*out = NULL;
	*np = 0;
	memset(&q, 0, sizeof q);
	db_sql_add(&q, DB_ARMS);
	if (db_list_arm(db, &q, nq, "nu", &pattern[0]) == -1)
		goto fail;
	db_sql_add(&q, " UNION ALL ");
	if (db_list_arm(db, &q, nq, "nb", &pattern[1]) == -1 ||
	    db_nquery_order(db, &q, nq, "bc, rid") == -1)
		goto fail;
	if (nq->limit >= 0 || nq->offset >= 0) {
		db_sql_add(&q, " LIMIT ");
		db_sql_bind(&q, NULL, nq->limit >= 0 ? nq->limit : -1);
		db_sql_add(&q, " OFFSET ");
		db_sql_bind(&q, NULL, nq->offset >= 0 ? nq->offset : 0);
	}
	if ((st = db_sql_prepare(db, &q, nq->user)) == NULL)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xreallocarray(v, n + 1, sizeof *v);
		db_row_notification(st, &v[n]);
		if (sqlite3_column_int(st, 17)) {	/* bc: a broadcast */
			free(v[n].user);
			v[n].user = NULL;
		}
		n++;
	}
	if (rc != SQLITE_DONE) {
		db_seterr(db, "reading notifications");
		goto fail;
	}
	sqlite3_finalize(st);
	free(q.s);
	free(pattern[0]);
	free(pattern[1]);
	*out = v;
	*np = n;
	return (0);

fail:
	sqlite3_finalize(st);
	free(q.s);
	free(pattern[0]);
	free(pattern[1]);
	db_notifications_free(v, n);
	return (-1);
}

void
db_notifications_free(struct db_notification *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		db_notification_clear(&v[i]);
	free(v);
}

/* Run a query that yields one row of integers into out[]. */
static int
db_sql_ints(struct db *db, struct db_sql *q, const char *user, int64_t *out,
    int n)
{
	sqlite3_stmt	*st;
	int		 i, rc;

	if ((st = db_sql_prepare(db, q, user)) == NULL)
		return (-1);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		db_seterr(db, "counting notifications");
		sqlite3_finalize(st);
		return (-1);
	}
	for (i = 0; i < n; i++)
		out[i] = sqlite3_column_int64(st, i);
	sqlite3_finalize(st);
	return (0);
}

/*
 * Counting from notification_counts (schema 7) serves the filters it keeps
 * apart: topic, minimumSeverity, read and saved.  Anything else (search,
 * createdAfter, ids) counts the rows themselves, through DB_VIEW.
 */
static int
db_counts_serve(const struct db_nquery *nq)
{
	return (nq->id == NULL && nq->ids_json == NULL && nq->search == NULL &&
	    !nq->has_created_after);
}

/* topic and minimumSeverity on the columns prefix.topic/.severity. */
static void
db_counts_filter(struct db_sql *q, const struct db_nquery *nq,
    const char *prefix)
{
	char	col[32];

	if (nq->topic != NULL) {
		db_sql_add(q, " AND ");
		db_sql_add(q, prefix);
		db_sql_add(q, "topic = ");
		db_sql_bind(q, nq->topic, 0);
	}
	snprintf(col, sizeof col, "%sseverity", prefix);
	db_sql_severity(q, nq, col);
}

/*
 * The rows the user sees, by topic (x'' for none), as t (rows), r (read),
 * s (saved) and rs (read and saved) to add up: the user's own counters,
 * the broadcasts' counters (t only), and this user's marks on broadcasts
 * (a few rows: only those they marked).
 */
static void
db_counts_sql(struct db_sql *q, const struct db_nquery *nq)
{
	db_sql_add(q, "SELECT topic, t, r, s, rs FROM ("
	    "SELECT topic, total AS t, total - unread AS r, saved AS s, "
	    "saved - unread_saved AS rs FROM notification_counts "
	    "WHERE user = ?1");
	db_counts_filter(q, nq, "");
	db_sql_add(q, " UNION ALL SELECT topic, total, 0, 0, 0 "
	    "FROM notification_counts WHERE user = x''");
	db_counts_filter(q, nq, "");
	db_sql_add(q, " UNION ALL SELECT coalesce(b.topic, x''), 0, "
	    "s.read IS NOT NULL, s.saved IS NOT NULL, "
	    "s.read IS NOT NULL AND s.saved IS NOT NULL "
	    "FROM broadcast_user_status s JOIN notifications b "
	    "ON b.id = s.notification_id "
	    "WHERE s.user = ?1 AND b.user IS NULL");
	db_counts_filter(q, nq, "b.");
	db_sql_add(q, ")");
}

/* How many of the rows db_counts_sql adds up pass the read and saved
 * filters, in its sums. */
static void
db_counts_pick(struct db_sql *q, const struct db_nquery *nq)
{
	static const char *const pick[3][3] = {
		/* saved: unset, either, set; rows: read unset, either, set */
		{ "sum(t) - sum(r) - sum(s) + sum(rs)", "sum(t) - sum(r)",
		  "sum(s) - sum(rs)" },
		{ "sum(t) - sum(s)", "sum(t)", "sum(s)" },
		{ "sum(r) - sum(rs)", "sum(r)", "sum(rs)" },
	};

	db_sql_add(q, pick[(nq->read > 0) - (nq->read < 0) + 1]
	    [(nq->saved > 0) - (nq->saved < 0) + 1]);
}

int64_t
db_notification_count(struct db *db, const struct db_nquery *nq)
{
	struct db_sql	 q;
	char		*pattern[2] = { NULL, NULL };
	int64_t		 count = -1;

	memset(&q, 0, sizeof q);
	if (db_counts_serve(nq)) {
		if (db_counts_flush(db) == -1)
			return (-1);
		db_sql_add(&q, "SELECT coalesce(");
		db_counts_pick(&q, nq);
		db_sql_add(&q, ", 0) FROM (");
		db_counts_sql(&q, nq);
		db_sql_add(&q, ")");
	} else {
		/*
		 * Each arm counted on its own: a plain SELECT is flattened
		 * into its arm's table, so createdAfter alone counts index
		 * entries.
		 */
		db_sql_add(&q, DB_ARMS "SELECT (SELECT count(*) FROM nu");
		db_nquery_where(&q, nq, &pattern[0]);
		/* Without a read or saved filter no column of the join is
		 * looked at: the broadcasts alone. */
		db_sql_add(&q, nq->read == 0 && nq->saved == 0 ?
		    ") + (SELECT count(*) FROM (SELECT * FROM notifications "
		    "WHERE user IS NULL)" : ") + (SELECT count(*) FROM nb");
		db_nquery_where(&q, nq, &pattern[1]);
		db_sql_add(&q, ")");
	}
	if (db_sql_ints(db, &q, nq->user, &count, 1) == -1)
		count = -1;
	free(q.s);
	free(pattern[0]);
	free(pattern[1]);
	return (count);
}

/*
 * A list's page and its totalCount, counted first: a page that starts at
 * or past the total (a search without a match, a topic nobody has, a
 * limit of 0) reads no rows, so a query that must look at every row the
 * user sees does so once, not twice.  An orderField that names no column
 * fails as the list would, before anything is read.
 */
int
db_notification_page(struct db *db, const struct db_nquery *nq,
    struct db_notification **out, size_t *np, int64_t *total)
{
	struct db_nquery	 cq = *nq;
	struct db_sql		 q;
	int			 rc;

	*out = NULL;
	*np = 0;
	memset(&q, 0, sizeof q);
	rc = db_nquery_order(db, &q, nq, "rid");
	free(q.s);
	if (rc == -1)
		return (-1);
	cq.limit = cq.offset = -1;
	cq.unordered = 1;
	if ((*total = db_notification_count(db, &cq)) == -1)
		return (-1);
	if (nq->limit == 0 || *total <= (nq->offset > 0 ? nq->offset : 0))
		return (0);
	return (db_notification_list(db, nq, out, np));
}

int
db_notification_status(struct db *db, const char *user, int64_t *unread,
    int64_t *read)
{
	struct db_nquery nq;
	struct db_sql	 q;
	int64_t		 v[2];
	int		 rc;

	if (db_counts_flush(db) == -1)
		return (-1);
	memset(&nq, 0, sizeof nq);
	memset(&q, 0, sizeof q);
	db_sql_add(&q, "SELECT coalesce(sum(t) - sum(r), 0), "
	    "coalesce(sum(r), 0) FROM (");
	db_counts_sql(&q, &nq);
	db_sql_add(&q, ")");
	rc = db_sql_ints(db, &q, user, v, 2);
	free(q.s);
	if (rc == 0) {
		*unread = v[0];
		*read = v[1];
	}
	return (rc);
}

/*
 * The counts of the notification rows stored in the open transaction, one
 * entry per notification_counts key (user, topic, severity; NULL for a
 * broadcast or no topic), written at commit: a batch of sends to the same
 * users and topic costs one upsert per key, not one per row (schema 8).
 * A count read in the open transaction, which sees its rows, writes them
 * first (db_counts_flush into the transaction: a rollback undoes both).
 */
struct db_count {
	char	*user, *topic, *severity;
	int64_t	 n[4];		/* total, unread, saved, unread_saved */
};

static int
db_count_same(const char *a, const char *b)
{
	return (a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0);
}

void
db_counts_note(struct db *db, const struct db_notification_new *r)
{
	const char	*sev = r->severity != NULL ? r->severity : "normal";
	struct db_count	*c;
	size_t		 i;

	for (i = 0; i < db->ncounts; i++) {
		c = &db->counts[i];
		if (db_count_same(c->user, r->user) &&
		    db_count_same(c->topic, r->topic) &&
		    strcmp(c->severity, sev) == 0)
			break;
	}
	if (i == db->ncounts) {
		db->counts = xreallocarray(db->counts, db->ncounts + 1,
		    sizeof *db->counts);
		c = &db->counts[db->ncounts++];
		memset(c, 0, sizeof *c);
		c->user = r->user != NULL ? xstrdup(r->user) : NULL;
		c->topic = r->topic != NULL ? xstrdup(r->topic) : NULL;
		c->severity = xstrdup(sev);
	}
	c->n[0]++;
	c->n[1] += r->read == 0;
	c->n[2] += r->saved != 0;
	c->n[3] += r->read == 0 && r->saved != 0;
}

int
db_counts_flush(struct db *db)
{
	sqlite3_stmt	*st = db->st[ST_COUNTS_ADD];
	struct db_count	*c;
	size_t		 i;
	int		 k, rc = 0;

	/* A transaction SQLite rolled back by itself, or one failed and
	 * about to be: its counts are gone with its rows, and must not be
	 * written outside it (db_commit sets in_txn before this flush, so
	 * ask SQLite whether a transaction is open). */
	if (sqlite3_get_autocommit(db->h) || db->failed) {
		db_counts_forget(db);
		return (0);
	}
	for (i = 0; i < db->ncounts && rc == 0; i++) {
		c = &db->counts[i];
		db_bind_text(st, 1, c->user);
		db_bind_text(st, 2, c->topic);
		db_bind_text(st, 3, c->severity);
		for (k = 0; k < 4; k++)
			sqlite3_bind_int64(st, 4 + k, c->n[k]);
		rc = db_step_done(db, st, "counting notifications");
	}
	db_counts_forget(db);
	return (rc);
}

void
db_counts_forget(struct db *db)
{
	size_t	i;

	for (i = 0; i < db->ncounts; i++) {
		free(db->counts[i].user);
		free(db->counts[i].topic);
		free(db->counts[i].severity);
	}
	free(db->counts);
	db->counts = NULL;
	db->ncounts = 0;
}

/* Collect the text columns of every row of a prepared statement. */
static int
db_sql_strings(struct db *db, sqlite3_stmt *st, char ***a, char ***b,
    size_t *np)
{
	size_t	n = 0;
	int	rc;

	*a = NULL;
	if (b != NULL)
		*b = NULL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*a = xreallocarray(*a, n + 1, sizeof **a);
		(*a)[n] = db_col_text(st, 0);
		if (b != NULL) {
			*b = xreallocarray(*b, n + 1, sizeof **b);
			(*b)[n] = db_col_text(st, 1);
		}
		n++;
	}
	sqlite3_finalize(st);
	*np = n;
	if (rc != SQLITE_DONE) {
		db_seterr(db, "reading notifications");
		strv_free(*a, n);
		if (b != NULL)
			strv_free(*b, n);
		*a = NULL;
		*np = 0;
		return (-1);
	}
	return (0);
}

int
db_notification_topics(struct db *db, const struct db_nquery *nq,
    char ***topics, size_t *np)
{
	struct db_sql	 q;
	sqlite3_stmt	*st;
	char		*pattern = NULL;
	int		 rc = -1;

	*topics = NULL;
	*np = 0;
	memset(&q, 0, sizeof q);
	if (db_counts_serve(nq)) {
		if (db_counts_flush(db) == -1)
			return (-1);
		/* The topics some row still counts for: text, not x''. */
		db_sql_add(&q, "SELECT topic FROM (");
		db_counts_sql(&q, nq);
		db_sql_add(&q, ") WHERE typeof(topic) = 'text' GROUP BY topic "
		    "HAVING ");
		db_counts_pick(&q, nq);
		db_sql_add(&q, " > 0 ORDER BY topic ASC");
	} else {
		db_sql_add(&q, DB_VIEW "SELECT DISTINCT topic FROM n");
		db_nquery_where(&q, nq, &pattern);
		db_sql_add(&q, " AND topic IS NOT NULL ORDER BY topic ASC");
	}
	if ((st = db_sql_prepare(db, &q, nq->user)) != NULL)
		rc = db_sql_strings(db, st, topics, NULL, np);
	free(q.s);
	free(pattern);
	return (rc);
}

/* Run a write prepared from text; finalizes it. */
static int
db_sql_write(struct db *db, sqlite3_stmt *st, const char *what)
{
	int	rc;

	rc = db_step_done(db, st, what);
	sqlite3_finalize(st);
	return (rc);
}

static sqlite3_stmt *
db_prepare_text(struct db *db, const char *sql, const char *what)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
		db_seterr(db, what);
		return (NULL);
	}
	return (st);
}

int
db_notification_mark(struct db *db, const char *user, const char *ids_json,
    int read, int saved, int64_t now)
{
	/*
	 * The user's own notifications, then the broadcasts (this user's row
	 * of broadcast_user_status, made on first use).  Both take ?1 user,
	 * ?2 the ids, ?3/?4 whether read/saved change, ?5/?6 their values.
	 */
	static const struct {
		const char	*sql;
		const char	*what;
	} marks[] = {
		{ "UPDATE notifications SET "
		  "read = CASE WHEN ?3 THEN ?5 ELSE read END, "
		  "saved = CASE WHEN ?4 THEN ?6 ELSE saved END "
		  "WHERE user = ?1 AND id IN (SELECT value FROM json_each(?2))",
		  "marking notifications" },
		{ "INSERT INTO broadcast_user_status "
		  "(notification_id, user, read, saved) "
		  "SELECT id, ?1, ?5, ?6 FROM notifications "
		  "WHERE user IS NULL AND id IN (SELECT value FROM json_each(?2)) "
		  "ON CONFLICT (notification_id, user) DO UPDATE SET "
		  "read = CASE WHEN ?3 THEN excluded.read ELSE read END, "
		  "saved = CASE WHEN ?4 THEN excluded.saved ELSE saved END",
		  "marking broadcasts" },
	};
	sqlite3_stmt	*st;
	size_t		 i;

	if (read == 0 && saved == 0)
		return (0);
	if (db_begin_rewrite(db) == -1)
		return (-1);
	for (i = 0; i < sizeof marks / sizeof marks[0]; i++) {
		if ((st = db_prepare_text(db, marks[i].sql, marks[i].what)) ==
		    NULL)
			return (-1);
		db_bind_text(st, 1, user);
		db_bind_text(st, 2, ids_json);
		sqlite3_bind_int(st, 3, read != 0);
		sqlite3_bind_int(st, 4, saved != 0);
		db_bind_time(st, 5, read > 0 ? now : 0);
		db_bind_time(st, 6, saved > 0 ? now : 0);
		if (db_sql_write(db, st, marks[i].what) == -1)
			return (-1);
	}
	return (0);
}

int
db_user_origins(struct db *db, const char *user, char ***origins, size_t *np)
{
	sqlite3_stmt	*st;

	*origins = NULL;
	*np = 0;
	if ((st = db_prepare_text(db, "SELECT origin FROM notifications "
	    "WHERE user = ? GROUP BY origin ORDER BY min(rowid)",
	    "reading origins")) == NULL)
		return (-1);
	db_bind_text(st, 1, user);
	return (db_sql_strings(db, st, origins, NULL, np));
}

int
db_user_topics(struct db *db, const char *user, char ***origins,
    char ***topics, size_t *np)
{
	sqlite3_stmt	*st;

	*origins = *topics = NULL;
	*np = 0;
	if ((st = db_prepare_text(db, "SELECT origin, topic FROM notifications "
	    "WHERE user = ? AND topic IS NOT NULL GROUP BY topic, origin "
	    "ORDER BY min(rowid)", "reading topics")) == NULL)
		return (-1);
	db_bind_text(st, 1, user);
	return (db_sql_strings(db, st, origins, topics, np));
}

int
db_settings_get(struct db *db, const char *user, struct db_setting **out,
    size_t *np)
{
	sqlite3_stmt		*st;
	struct db_setting	*v = NULL;
	size_t			 n = 0;
	int			 rc;

	*out = NULL;
	*np = 0;
	if ((st = db_prepare_text(db, "SELECT channel, origin, topic, enabled "
	    "FROM user_settings WHERE user = ? ORDER BY rowid",
	    "reading settings")) == NULL)
		return (-1);
	db_bind_text(st, 1, user);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xreallocarray(v, n + 1, sizeof *v);
		v[n].channel = db_col_text(st, 0);
		v[n].origin = db_col_text(st, 1);
		v[n].topic = db_col_text(st, 2);
		v[n].enabled = sqlite3_column_int(st, 3);
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		db_seterr(db, "reading settings");
		db_settings_free(v, n);
		return (-1);
	}
	*out = v;
	*np = n;
	return (0);
}

int
db_settings_replace(struct db *db, const char *user,
    const struct db_setting *v, size_t n)
{
	sqlite3_stmt	*st;
	size_t		 i;

	if (db_begin(db) == -1)
		return (-1);
	if ((st = db_prepare_text(db, "DELETE FROM user_settings WHERE "
	    "user = ?", "saving settings")) == NULL)
		return (-1);
	db_bind_text(st, 1, user);
	if (db_sql_write(db, st, "saving settings") == -1)
		return (-1);
	for (i = 0; i < n; i++) {
		if ((st = db_prepare_text(db, "INSERT INTO user_settings "
		    "(user, channel, origin, topic, enabled) VALUES "
		    "(?, ?, ?, ?, ?)", "saving settings")) == NULL)
			return (-1);
		db_bind_text(st, 1, user);
		db_bind_text(st, 2, v[i].channel);
		db_bind_text(st, 3, v[i].origin);
		db_bind_text(st, 4, v[i].topic);
		sqlite3_bind_int(st, 5, v[i].enabled != 0);
		if (db_sql_write(db, st, "saving settings") == -1)
			return (-1);
	}
	return (0);
}

void
db_settings_free(struct db_setting *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(v[i].channel);
		free(v[i].origin);
		free(v[i].topic);
	}
	free(v);
}
