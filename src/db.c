/*
 * db.c: SQLite storage: schema and migrations, prepared statements, and the
 * per-iteration transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db.h"
#include "log.h"
#include "xmalloc.h"

/*
 * Migrations, applied in order; PRAGMA user_version counts those done.
 * Never edit one that has shipped: append a new one.
 */
static const char *db_migrations[] = {
	/* 1: deliveries and notifications. */
	"CREATE TABLE deliveries ("
	"  seq INTEGER PRIMARY KEY,"
	"  received INTEGER NOT NULL,"		/* epoch ms */
	"  remote TEXT, method TEXT NOT NULL, path TEXT NOT NULL,"
	"  headers TEXT NOT NULL,"		/* JSON [[name, value], ...] */
	"  body BLOB NOT NULL,"
	"  status INTEGER NOT NULL, response TEXT NOT NULL,"
	"  origin TEXT, token_fp TEXT,"
	"  payload TEXT, recipients TEXT,"	/* JSON when parsed */
	"  title TEXT, topic TEXT, severity TEXT,"
	"  entities TEXT NOT NULL DEFAULT '[]',"
	"  users TEXT NOT NULL DEFAULT '[]',"
	"  ids TEXT NOT NULL DEFAULT '[]',"
	"  diagnoses TEXT NOT NULL DEFAULT '[]',"
	"  duration_us INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE delivery_entities ("
	"  seq INTEGER NOT NULL REFERENCES deliveries(seq) ON DELETE CASCADE,"
	"  ref TEXT NOT NULL,"
	"  PRIMARY KEY (ref, seq)"
	") WITHOUT ROWID;"
	"CREATE INDEX delivery_entities_seq ON delivery_entities(seq);"
	/* Backstage's notification table, with times in epoch ms. */
	"CREATE TABLE notifications ("
	"  id TEXT PRIMARY KEY,"
	"  user TEXT,"				/* NULL: broadcast */
	"  created INTEGER NOT NULL,"
	"  saved INTEGER, read INTEGER, updated INTEGER,"
	"  origin TEXT NOT NULL,"
	"  title TEXT NOT NULL, description TEXT, link TEXT, topic TEXT,"
	"  severity TEXT NOT NULL DEFAULT 'normal',"
	"  scope TEXT, icon TEXT, metadata TEXT,"
	"  delivery_seq INTEGER"
	");"
	"CREATE INDEX notifications_user ON notifications(user, created);"
	"CREATE INDEX notifications_scope ON notifications(scope, origin, user);"
	"CREATE TABLE broadcast_user_status ("
	"  notification_id TEXT NOT NULL, user TEXT NOT NULL,"
	"  read INTEGER, saved INTEGER,"
	"  PRIMARY KEY (notification_id, user)"
	") WITHOUT ROWID;"
	"CREATE TABLE user_settings ("
	"  user TEXT NOT NULL, channel TEXT NOT NULL, origin TEXT NOT NULL,"
	"  topic TEXT, enabled INTEGER NOT NULL"
	");",
};
#define DB_NMIGRATIONS (sizeof db_migrations / sizeof db_migrations[0])

enum db_stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_DELIVERY_ADD,
	ST_DELIVERY_ENTITY,
	ST_NOTIF_INSERT,
	ST_NOTIF_SCOPE_USER,
	ST_NOTIF_SCOPE_BCAST,
	ST_NOTIF_RESCOPE,
	ST_NOTIF_GET,
	ST_MAX
};

#define DB_NOTIF_COLS "id, user, created, saved, read, updated, origin, " \
	"title, description, link, topic, severity, scope, icon, metadata, " \
	"delivery_seq"

static const char *db_sql[ST_MAX] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_DELIVERY_ADD] = "INSERT INTO deliveries (seq, received, remote, "
	    "method, path, headers, body, status, response, origin, token_fp, "
	    "payload, recipients, title, topic, severity, entities, users, "
	    "ids, diagnoses, duration_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_DELIVERY_ENTITY] = "INSERT OR IGNORE INTO delivery_entities "
	    "(seq, ref) VALUES (?, ?)",
	[ST_NOTIF_INSERT] = "INSERT INTO notifications (" DB_NOTIF_COLS ") "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_NOTIF_SCOPE_USER] = "SELECT " DB_NOTIF_COLS " FROM notifications "
	    "WHERE user = ? AND scope = ? AND origin = ? LIMIT 1",
	[ST_NOTIF_SCOPE_BCAST] = "SELECT " DB_NOTIF_COLS " FROM notifications "
	    "WHERE user IS NULL AND scope = ? AND origin = ? LIMIT 1",
	[ST_NOTIF_RESCOPE] = "UPDATE notifications SET title = ?, "
	    "severity = ?, metadata = ?, description = coalesce(?, description), "
	    "link = coalesce(?, link), topic = coalesce(?, topic), updated = ?, "
	    "read = CASE WHEN ? THEN NULL ELSE read END, delivery_seq = ? "
	    "WHERE id = ?",
	[ST_NOTIF_GET] = "SELECT " DB_NOTIF_COLS " FROM notifications "
	    "WHERE id = ?",
};

struct db {
	sqlite3		*h;
	sqlite3_stmt	*st[ST_MAX];
	int		 in_txn;
	int		 failed;	/* a write in this transaction failed */
	int64_t		 seq;		/* last delivery seq handed out */
	int64_t		 seq_at_begin;
	char		 err[256];
};

static void
db_seterr(struct db *db, const char *what)
{
	snprintf(db->err, sizeof db->err, "%s: %s", what, sqlite3_errmsg(db->h));
	log_warnx("db: %s", db->err);
}

static int
db_exec(struct db *db, const char *sql, char **cause)
{
	char	*msg = NULL;

	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		xasprintf(cause, "%s", msg ? msg : sqlite3_errmsg(db->h));
		sqlite3_free(msg);
		return (-1);
	}
	return (0);
}

static int
db_migrate(struct db *db, const char *path, char **cause)
{
	sqlite3_stmt	*st;
	int		 version = 0;
	size_t		 i;
	char		 sql[64];

	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK) {
		xasprintf(cause, "%s: %s", path, sqlite3_errmsg(db->h));
		return (-1);
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > (int)DB_NMIGRATIONS) {
		xasprintf(cause, "%s: schema version %d is newer than this "
		    "notimock knows (%zu)", path, version, DB_NMIGRATIONS);
		return (-1);
	}
	for (i = (size_t)version; i < DB_NMIGRATIONS; i++) {
		if (db_exec(db, "BEGIN IMMEDIATE", cause) == -1)
			return (-1);
		snprintf(sql, sizeof sql, "PRAGMA user_version = %zu", i + 1);
		if (db_exec(db, db_migrations[i], cause) == -1 ||
		    db_exec(db, sql, cause) == -1 ||
		    db_exec(db, "COMMIT", cause) == -1) {
			sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
			return (-1);
		}
		log_info("db: %s migrated to schema %zu", path, i + 1);
	}
	return (0);
}

static int64_t
db_max_seq(struct db *db)
{
	sqlite3_stmt	*st;
	int64_t		 seq = 0;

	if (sqlite3_prepare_v2(db->h, "SELECT coalesce(max(seq), 0) FROM "
	    "deliveries", -1, &st, NULL) != SQLITE_OK)
		return (0);
	if (sqlite3_step(st) == SQLITE_ROW)
		seq = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return (seq);
}

struct db *
db_open(const char *path, int sync_full, char **cause)
{
	struct db	*db;
	int		 i;
	char		*err = NULL;

	db = xcalloc(1, sizeof *db);
	if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		xasprintf(cause, "%s: %s", path, db->h ?
		    sqlite3_errmsg(db->h) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db->h, 5000);
	if (db_exec(db, "PRAGMA journal_mode = WAL", &err) == -1 ||
	    db_exec(db, sync_full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", &err) == -1 ||
	    db_exec(db, "PRAGMA foreign_keys = ON", &err) == -1) {
		xasprintf(cause, "%s: %s", path, err);
		free(err);
		goto fail;
	}
	if (db_migrate(db, path, cause) == -1)
		goto fail;
	for (i = 0; i < ST_MAX; i++) {
		if (sqlite3_prepare_v3(db->h, db_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &db->st[i], NULL) != SQLITE_OK) {
			xasprintf(cause, "%s: preparing statement %d: %s", path,
			    i, sqlite3_errmsg(db->h));
			goto fail;
		}
	}
	db->seq = db_max_seq(db);
	return (db);

fail:
	db_close(db);
	return (NULL);
}

void
db_close(struct db *db)
{
	int	i;

	if (db == NULL)
		return;
	if (db->in_txn)
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	for (i = 0; i < ST_MAX; i++)
		sqlite3_finalize(db->st[i]);
	sqlite3_close(db->h);
	free(db);
}

const char *
db_version(void)
{
	return (sqlite3_libversion());
}

const char *
db_errmsg(const struct db *db)
{
	return (db->err[0] != '\0' ? db->err : "unknown database error");
}

/* Run a statement that returns no rows, then reset it. */
static int
db_step_done(struct db *db, sqlite3_stmt *st, const char *what)
{
	int	rc;

	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		db_seterr(db, what);
		/* Some errors roll the whole transaction back by themselves. */
		if (db->in_txn) {
			db->failed = 1;
			if (sqlite3_get_autocommit(db->h))
				db->in_txn = 0;
		}
		return (-1);
	}
	return (0);
}

int
db_begin(struct db *db)
{
	/* After a failure nothing more is written until the commit event
	 * has answered everyone in this batch. */
	if (db->failed)
		return (-1);
	if (db->in_txn)
		return (0);
	if (db_step_done(db, db->st[ST_BEGIN], "begin") == -1)
		return (-1);
	db->in_txn = 1;
	db->failed = 0;
	db->seq_at_begin = db->seq;
	return (0);
}

int
db_in_txn(const struct db *db)
{
	return (db->in_txn);
}

int
db_commit(struct db *db, const char **cause)
{
	int	failed = db->failed;

	*cause = NULL;
	if (!db->in_txn && !failed)
		return (0);
	db->failed = 0;
	if (db->in_txn && !failed) {
		db->in_txn = 0;
		if (db_step_done(db, db->st[ST_COMMIT], "commit") == 0)
			return (0);
	}
	/* Something failed: whatever this transaction wrote is gone. */
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	db->in_txn = 0;
	db->seq = db->seq_at_begin;
	*cause = db->err;
	return (-1);
}

static void
db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static void
db_bind_time(sqlite3_stmt *st, int i, int64_t ms)
{
	if (ms == 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, ms);
}

int
db_delivery_add(struct db *db, struct db_delivery *d)
{
	sqlite3_stmt	*st = db->st[ST_DELIVERY_ADD];
	size_t		 i;

	if (db_begin(db) == -1)
		return (-1);
	d->seq = db->seq + 1;
	sqlite3_bind_int64(st, 1, d->seq);
	sqlite3_bind_int64(st, 2, d->received);
	db_bind_text(st, 3, d->remote);
	db_bind_text(st, 4, d->method);
	db_bind_text(st, 5, d->path);
	db_bind_text(st, 6, d->headers ? d->headers : "[]");
	sqlite3_bind_blob(st, 7, d->body_len ? d->body : "", (int)d->body_len,
	    SQLITE_STATIC);
	sqlite3_bind_int(st, 8, d->status);
	sqlite3_bind_text(st, 9, d->response ? d->response : "",
	    (int)d->response_len, SQLITE_STATIC);
	db_bind_text(st, 10, d->origin);
	db_bind_text(st, 11, d->token_fp);
	db_bind_text(st, 12, d->payload);
	db_bind_text(st, 13, d->recipients);
	db_bind_text(st, 14, d->title);
	db_bind_text(st, 15, d->topic);
	db_bind_text(st, 16, d->severity);
	db_bind_text(st, 17, d->entities ? d->entities : "[]");
	db_bind_text(st, 18, d->users ? d->users : "[]");
	db_bind_text(st, 19, d->ids ? d->ids : "[]");
	db_bind_text(st, 20, d->diagnoses ? d->diagnoses : "[]");
	sqlite3_bind_int64(st, 21, d->duration_us);
	if (db_step_done(db, st, "storing a delivery") == -1)
		return (-1);
	db->seq = d->seq;
	st = db->st[ST_DELIVERY_ENTITY];
	for (i = 0; i < d->entity_n; i++) {
		sqlite3_bind_int64(st, 1, d->seq);
		db_bind_text(st, 2, d->entity_v[i]);
		if (db_step_done(db, st, "storing an entity ref") == -1)
			return (-1);
	}
	return (0);
}

int64_t
db_cursor(const struct db *db)
{
	return (db->seq);
}

int
db_notification_insert(struct db *db, const struct db_notification *n)
{
	sqlite3_stmt	*st = db->st[ST_NOTIF_INSERT];

	if (db_begin(db) == -1)
		return (-1);
	db_bind_text(st, 1, n->id);
	db_bind_text(st, 2, n->user);
	sqlite3_bind_int64(st, 3, n->created);
	db_bind_time(st, 4, n->saved);
	db_bind_time(st, 5, n->read);
	db_bind_time(st, 6, n->updated);
	db_bind_text(st, 7, n->origin);
	db_bind_text(st, 8, n->title);
	db_bind_text(st, 9, n->description);
	db_bind_text(st, 10, n->link);
	db_bind_text(st, 11, n->topic);
	db_bind_text(st, 12, n->severity ? n->severity : "normal");
	db_bind_text(st, 13, n->scope);
	db_bind_text(st, 14, n->icon);
	db_bind_text(st, 15, n->metadata);
	sqlite3_bind_int64(st, 16, n->delivery_seq);
	return (db_step_done(db, st, "storing a notification"));
}

static char *
db_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char	*s = sqlite3_column_text(st, i);

	return (s == NULL ? NULL : xstrdup((const char *)s));
}

static void
db_row_notification(sqlite3_stmt *st, struct db_notification *n)
{
	memset(n, 0, sizeof *n);
	n->id = db_col_text(st, 0);
	n->user = db_col_text(st, 1);
	n->created = sqlite3_column_int64(st, 2);
	n->saved = sqlite3_column_int64(st, 3);
	n->read = sqlite3_column_int64(st, 4);
	n->updated = sqlite3_column_int64(st, 5);
	n->origin = db_col_text(st, 6);
	n->title = db_col_text(st, 7);
	n->description = db_col_text(st, 8);
	n->link = db_col_text(st, 9);
	n->topic = db_col_text(st, 10);
	n->severity = db_col_text(st, 11);
	n->scope = db_col_text(st, 12);
	n->icon = db_col_text(st, 13);
	n->metadata = db_col_text(st, 14);
	n->delivery_seq = sqlite3_column_int64(st, 15);
}

/* Step a SELECT that yields at most one notification row. */
static int
db_one_notification(struct db *db, sqlite3_stmt *st,
    struct db_notification *out)
{
	int	rc, found = 0;

	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		db_row_notification(st, out);
		found = 1;
	} else if (rc != SQLITE_DONE) {
		db_seterr(db, "reading a notification");
		found = -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return (found);
}

int
db_notification_find_scope(struct db *db, const char *user, const char *scope,
    const char *origin, struct db_notification *out)
{
	sqlite3_stmt	*st;
	int		 i = 1;

	if (user != NULL) {
		st = db->st[ST_NOTIF_SCOPE_USER];
		db_bind_text(st, i++, user);
	} else
		st = db->st[ST_NOTIF_SCOPE_BCAST];
	db_bind_text(st, i++, scope);
	db_bind_text(st, i, origin);
	return (db_one_notification(db, st, out));
}

int
db_notification_rescope(struct db *db, const char *id,
    const struct db_notification *n, int reset_read)
{
	sqlite3_stmt	*st = db->st[ST_NOTIF_RESCOPE];

	if (db_begin(db) == -1)
		return (-1);
	db_bind_text(st, 1, n->title);
	db_bind_text(st, 2, n->severity ? n->severity : "normal");
	db_bind_text(st, 3, n->metadata);
	db_bind_text(st, 4, n->description);
	db_bind_text(st, 5, n->link);
	db_bind_text(st, 6, n->topic);
	sqlite3_bind_int64(st, 7, n->updated);
	sqlite3_bind_int(st, 8, reset_read);
	sqlite3_bind_int64(st, 9, n->delivery_seq);
	db_bind_text(st, 10, id);
	return (db_step_done(db, st, "updating a scoped notification"));
}

int
db_notification_get(struct db *db, const char *id, struct db_notification *out)
{
	sqlite3_stmt	*st = db->st[ST_NOTIF_GET];

	db_bind_text(st, 1, id);
	return (db_one_notification(db, st, out));
}

void
db_notification_clear(struct db_notification *n)
{
	free(n->id);
	free(n->user);
	free(n->origin);
	free(n->title);
	free(n->description);
	free(n->link);
	free(n->topic);
	free(n->severity);
	free(n->scope);
	free(n->icon);
	free(n->metadata);
	memset(n, 0, sizeof *n);
}
