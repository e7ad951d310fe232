/*
 * db.c: SQLite storage: schema and migrations, prepared statements, and the
 * per-iteration transaction.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"
#include "entity.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

static int	db_assert_functions(struct db *, char **);
static char	*db_ref_key(const char *, int);

#define DB_STR_(x)	#x
#define DB_STR(x)	DB_STR_(x)

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
	/* 2: what must outlive the rows, e.g. the highest sequence number
	 * ever handed out, so that a reset (and a restart after it) never
	 * hands one out twice. */
	"CREATE TABLE state ("
	"  key TEXT PRIMARY KEY, value INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"INSERT INTO state (key, value) "
	"SELECT 'seq', coalesce(max(seq), 0) FROM deliveries;",
	/* 3: a body stored truncated keeps its original size here (NULL:
	 * stored whole). */
	"ALTER TABLE deliveries ADD COLUMN body_size INTEGER;",
	/* 4: faults and retries (fault.c; the attempts diag.c links). */
	"ALTER TABLE deliveries ADD COLUMN fault TEXT;"	/* JSON, or NULL */
	"ALTER TABLE deliveries ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE deliveries ADD COLUMN retry_of INTEGER;",
	/* 5: indexes for the assertion API's filters, so that a query on a
	 * large store reads only the rows a filter can match (db_scan).
	 * delivery_refs holds the keys entity filters look up: "kind:ns/name"
	 * (canonical) and "*:ns/name" (any kind), see db_ref_keys(). */
	"CREATE INDEX deliveries_topic ON deliveries(topic);"
	"CREATE INDEX deliveries_severity ON deliveries(severity);"
	"CREATE INDEX deliveries_origin ON deliveries(origin);"
	"CREATE INDEX deliveries_status ON deliveries(status);"
	"CREATE TABLE delivery_refs ("
	"  key TEXT NOT NULL,"
	"  seq INTEGER NOT NULL REFERENCES deliveries(seq) ON DELETE CASCADE,"
	"  PRIMARY KEY (key, seq)"
	") WITHOUT ROWID;"
	"CREATE INDEX delivery_refs_seq ON delivery_refs(seq);"
	"INSERT OR IGNORE INTO delivery_refs (key, seq) "
	"SELECT notimock_ref_key(ref, 0), seq FROM delivery_entities "
	"WHERE notimock_ref_key(ref, 0) IS NOT NULL;"
	"INSERT OR IGNORE INTO delivery_refs (key, seq) "
	"SELECT notimock_ref_key(ref, 1), seq FROM delivery_entities;",
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
	ST_STATE_SEQ,
	ST_DELIVERY_FAULT,
	ST_DELIVERY_REF,
	ST_DELIVERY_GET,
	ST_MAX
};

/* A delivery record's columns (db_row_record()), for db_sql and the
 * filtered queries built below. */
#define DB_REC_COLS "d.seq, d.received, d.remote, d.method, d.path, " \
	"d.headers, d.body, d.status, d.response, d.origin, d.token_fp, " \
	"d.payload, d.recipients, d.title, d.topic, d.severity, d.entities, " \
	"d.users, d.ids, d.diagnoses, d.duration_us, " DB_DESC_EXPR \
	", d.body_size, d.fault, d.attempt, d.retry_of"
#define DB_DESC_EXPR "CASE WHEN json_valid(d.payload) THEN " \
	"json_extract(d.payload, '$.description') END"

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
	    "ids, diagnoses, duration_us, body_size, fault, attempt, retry_of) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?)",
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
	[ST_DELIVERY_REF] = "INSERT OR IGNORE INTO delivery_refs (key, seq) "
	    "VALUES (?, ?)",
	[ST_STATE_SEQ] = "INSERT INTO state (key, value) VALUES ('seq', ?1) "
	    "ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
	[ST_DELIVERY_FAULT] = "UPDATE deliveries SET fault = ? WHERE seq = ?",
	/* Prepared once: a miss report reads one delivery per miss. */
	[ST_DELIVERY_GET] = "SELECT " DB_REC_COLS " FROM deliveries d "
	    "WHERE d.seq = ?1 AND d.seq <= ?2",
};

/*
 * The checkpointer: a thread with its own connection that copies the WAL
 * back into the database, so that the event loop never pays for those page
 * writes and fsyncs.  sqlite3_wal_hook replaces SQLite's own
 * auto-checkpoint on the loop's connection, so this thread is the only
 * thing that bounds the WAL: the loop wakes it from the hook once the log
 * holds DB_CKPT_PAGES; it also runs once a second while idle.
 *
 * The bound, with 4 KiB pages: the WAL restarts from its first frame when
 * a write transaction begins with all of it copied, and journal_size_limit
 * then cuts the file back to DB_WAL_LIMIT (16 MiB).  Under a steady stream
 * of commits the thread's PASSIVE checkpoints never quite catch up: the
 * loop commits again while each one runs, so that moment never comes.  So
 * once the WAL holds DB_CKPT_HARD_PAGES (16 MiB), the loop holds the
 * thread back (hold) and db_begin() itself runs a PASSIVE checkpoint on
 * the loop's connection first: it copies only what the thread has not (the
 * frames of its last pass or so), and the BEGIN that follows restarts the
 * log.  While the thread is still in a pass, that checkpoint is BUSY at
 * once and the next BEGIN tries again.  The file stays near 16 MiB under any
 * load, inside the 64 MiB the README promises (tests/e2e/test_store_wal.py
 * holds it to that); idle for a second, a TRUNCATE empties it.  (A RESTART
 * from the thread would do the same, but it holds the loop's BEGIN on the
 * busy handler, and under load it loses the race for the write lock.)
 *
 * The loop copies only what it wrote itself since the thread's last pass
 * of this log began, and only when that pass copied all it saw (give or
 * take DB_CKPT_LOOP_PAGES).  A reader that keeps an old snapshot (a sqlite3
 * shell, a backup) stops every checkpoint short of its frames, and the WAL
 * grows past the bound however it is checkpointed; once the reader goes,
 * that backlog (any size) is the thread's to copy, never the loop's.  The
 * pass's figures (log, done) count frames of one log: gen says which (the
 * hook sees the log restart when its size drops), and a pass of another
 * one says nothing.
 */
#define DB_CKPT_PAGES		1000
#define DB_CKPT_HARD_PAGES	4096
#define DB_CKPT_LOOP_PAGES	256	/* 1 MiB: a pass this short is whole */
#define DB_CKPT_BUSY_MS		20
#define DB_WAL_LIMIT		16777216	/* bytes: 4096 pages */

struct db_ckpt {
	pthread_t	 thread;
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	int		 wanted;
	int		 stop;
	char		*path;
	int		 running;
	int		 pages;		/* WAL size after the last commit */
	int		 hold;		/* the loop checkpoints: stay out */
	unsigned int	 gen;		/* the log's restarts the hook saw */
	unsigned int	 pass_gen;	/* gen when the last pass began */
	int		 pass_log;	/* its frames in the log, or -1 */
	int		 pass_done;	/* and those copied */
};

struct db {
	sqlite3		*h;
	struct db_ckpt	 ckpt;
	sqlite3_stmt	*st[ST_MAX];
	int		 in_txn;
	int		 failed;	/* a write in this transaction failed */
	/*
	 * Sequence numbers: seq is the last one handed out (perhaps in the
	 * open transaction), committed the last one on disk.  Readers of the
	 * assertion API see only committed rows (db_cursor); a rolled-back
	 * transaction leaves a gap, never a number handed out twice.
	 */
	int64_t		 seq;
	int64_t		 committed;
	/* Rows of deliveries: committed, and the open transaction's
	 * change to that (for retention's count cap). */
	int64_t		 rows;
	int64_t		 rows_txn;
	/* What the last bounded read looked at (db_scan_bound). */
	int		 scan_complete;
	int64_t		 scan_from;
	char		 err[256];
	char		*reserve;	/* "FILE-reserve" (db_make_room) */
	int		 secure_delete;	/* to restore after it, or -1 */
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

/* How many deliveries are stored (once, at start; a small index serves). */
static int64_t
db_count_rows(struct db *db)
{
	sqlite3_stmt	*st;
	int64_t		 n = 0;

	if (sqlite3_prepare_v2(db->h, "SELECT count(*) FROM deliveries", -1,
	    &st, NULL) != SQLITE_OK)
		return (0);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return (n);
}

/* The highest sequence number this database ever handed out: its rows',
 * or the one a delete recorded in state. */
static int64_t
db_max_seq(struct db *db)
{
	sqlite3_stmt	*st;
	int64_t		 seq = 0;

	if (sqlite3_prepare_v2(db->h, "SELECT max(coalesce((SELECT max(seq) "
	    "FROM deliveries), 0), coalesce((SELECT value FROM state WHERE "
	    "key = 'seq'), 0))", -1, &st, NULL) != SQLITE_OK)
		return (0);
	if (sqlite3_step(st) == SQLITE_ROW)
		seq = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return (seq);
}

/*
 * A connection learns that the database is in WAL mode, and opens the WAL,
 * only when it first reads; before that, sqlite3_wal_checkpoint_v2() does
 * nothing and still returns SQLITE_OK (with log and done = -1).  So the
 * checkpointer reads the schema once after opening, and again whenever a
 * pass reports -1.
 */
static void
db_ckpt_attach(sqlite3 *h)
{
	sqlite3_exec(h, "SELECT count(*) FROM sqlite_master", NULL, NULL,
	    NULL);
}

/* One checkpoint pass; idle: nothing was committed since the last one.
 * *logp and *donep get the PASSIVE pass's frames (-1: unknown). */
static void
db_ckpt_pass(sqlite3 *h, int idle, int *logp, int *donep)
{
	int	 log = -1, done = -1, rc;

	*logp = *donep = -1;
	rc = sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    &log, &done);
	if (rc == SQLITE_OK && log == -1) {
		db_ckpt_attach(h);
		rc = sqlite3_wal_checkpoint_v2(h, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	}
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		log_warnx("db: checkpoint: %s", sqlite3_errmsg(h));
		return;
	}
	if (rc == SQLITE_OK) {
		*logp = log;
		*donep = done;
	}
	if (idle && log > 0 && done == log)
		rc = sqlite3_wal_checkpoint_v2(h, NULL,
		    SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
	/* BUSY: a reader or the loop's transaction was in the way; the next
	 * pass tries again. */
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		log_warnx("db: checkpoint: %s", sqlite3_errmsg(h));
}

/*
 * The checkpointer's rest between passes under load; a stop waits for it
 * (50 ms at most).
 */
#define DB_CKPT_GAP_MS		50

static void
db_ckpt_rest(void)
{
	struct timespec	ts = { 0, DB_CKPT_GAP_MS * 1000000L };

	nanosleep(&ts, NULL);
}

static void *
db_ckpt_main(void *arg)
{
	struct db_ckpt	*c = arg;
	sqlite3		*h = NULL;
	struct timespec	 ts;
	int		 stop = 0, wanted, hold, log, done;
	unsigned int	 gen;

	if (sqlite3_open_v2(c->path, &h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_warnx("db: checkpointer cannot open %s: %s", c->path,
		    h ? sqlite3_errmsg(h) : "out of memory");
		sqlite3_close(h);
		return (NULL);
	}
	/* Short: while a TRUNCATE waits, new writers wait too. */
	sqlite3_busy_timeout(h, DB_CKPT_BUSY_MS);
	db_ckpt_attach(h);
	while (!stop) {
		pthread_mutex_lock(&c->lock);
		if (!c->wanted && !c->stop) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&c->cond, &c->lock, &ts);
		}
		wanted = c->wanted;
		c->wanted = 0;
		stop = c->stop;
		/* A second without a commit: the loop is not catching up
		 * any more (its last try found this thread busy). */
		if (c->hold && !wanted)
			c->hold = 0;
		hold = c->hold;
		gen = c->gen;
		pthread_mutex_unlock(&c->lock);
		if (stop || hold)
			continue;
		db_ckpt_pass(h, !wanted, &log, &done);
		pthread_mutex_lock(&c->lock);
		c->pass_gen = gen;
		c->pass_log = log;
		c->pass_done = done;
		pthread_mutex_unlock(&c->lock);
		/* Under load, a pass per commit copies the same hot pages (the
		 * tables' last leaves, the indexes' inner pages) and syncs
		 * twice, ~100 times a second: a rest lets the frames of many
		 * commits share one copy and one sync (issue 11's profile).
		 * Not near the hard bound: there the loop copies what the
		 * last pass left, so that pass stays a fresh one. */
		if (wanted && log >= 0 && log < DB_CKPT_HARD_PAGES -
		    2 * DB_CKPT_LOOP_PAGES)
			db_ckpt_rest();
	}
	sqlite3_close(h);
	return (NULL);
}

/* sqlite3_wal_hook: after each commit, with the WAL's size in pages. */
static int
db_wal_hook(void *arg, sqlite3 *h, const char *name, int pages)
{
	struct db_ckpt	*c = arg;

	(void)h;
	(void)name;
	pthread_mutex_lock(&c->lock);
	if (pages < c->pages)
		c->gen++;	/* the log restarted */
	c->pages = pages;	/* written by the loop only: db_begin reads it */
	if (pages >= DB_CKPT_PAGES) {
		c->wanted = 1;
		pthread_cond_signal(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	return (SQLITE_OK);
}

/*
 * On the loop: the WAL is past the hard bound.  Copy what came after the
 * thread's last pass, if that pass was whole (the comment above);
 * otherwise leave it all to the thread.
 */
static void
db_ckpt_catch_up(struct db_ckpt *c, sqlite3 *h)
{
	int	log = -1, done = -1, short_by;

	pthread_mutex_lock(&c->lock);
	/* No pass of this log yet: all of it is the loop's own recent
	 * writes (a reader's snapshot would have kept it from restarting). */
	short_by = 0;
	if (c->pass_gen == c->gen && c->pass_log >= 0 &&
	    c->pass_log <= c->pages)
		short_by = c->pass_log - c->pass_done;
	if (short_by > DB_CKPT_LOOP_PAGES) {
		c->hold = 0;
		c->wanted = 1;
		pthread_cond_signal(&c->cond);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->hold = 1;
	pthread_mutex_unlock(&c->lock);
	/* BUSY: the thread is in a pass, and stops after it (hold); the
	 * next BEGIN looks again at what that pass left. */
	if (sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
	    &done) != SQLITE_OK)
		return;
	/* Copied up to the end (the BEGIN after this restarts the log), or a
	 * reader stopped it short: either way the thread may go on. */
	pthread_mutex_lock(&c->lock);
	c->hold = 0;
	c->pass_gen = c->gen;
	c->pass_log = log;
	c->pass_done = done;
	pthread_mutex_unlock(&c->lock);
}

static int
db_ckpt_start(struct db *db, const char *path, char **cause)
{
	struct db_ckpt	*c = &db->ckpt;

	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->path = xstrdup(path);
	c->pass_log = c->pass_done = -1;
	if (pthread_create(&c->thread, NULL, db_ckpt_main, c) != 0) {
		xasprintf(cause, "%s: cannot start the checkpointer", path);
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->cond);
		free(c->path);
		c->path = NULL;
		return (-1);
	}
	c->running = 1;
	sqlite3_wal_hook(db->h, db_wal_hook, c);
	return (0);
}

static void
db_ckpt_stop(struct db *db)
{
	struct db_ckpt	*c = &db->ckpt;

	if (!c->running)
		return;
	sqlite3_wal_hook(db->h, NULL, NULL);
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c->path);
	c->running = 0;
}

/* --- room for a reset on a full disk ---------------------------------- */

/*
 * A delete writes too: its pages go to the WAL, which a full disk cannot
 * grow, and copying the WAL back into the database (so that the log can
 * start over in the space it has) needs room for the pages it added.  So
 * on a full disk even DELETE /mock/deliveries, the one call that frees
 * space, failed (issue 15).  Beside FILE, FILE-reserve holds
 * DB_RESERVE bytes, allocated and never read, from the start:
 * db_make_room() gives them back and empties the WAL into the database,
 * after which the delete has room; db_reserve() takes them again when
 * there is room (a failed try leaves no file).  Meanwhile secure_delete
 * (on in Debian's SQLite) is FAST: with it on, every page a delete frees
 * is written again, zeroed, through the WAL, so that deleting 20 MB needs
 * 20 MB of room; FAST zeroes what the b-tree pages being written anyway
 * held, and leaves freed pages as they were until they are reused.
 */
#define DB_RESERVE	DB_WAL_LIMIT

void
db_reserve(struct db *db)
{
	int	fd, rc;

	char	sql[64];

	if (db->secure_delete >= 0) {
		snprintf(sql, sizeof sql, "PRAGMA secure_delete = %d",
		    db->secure_delete);
		sqlite3_exec(db->h, sql, NULL, NULL, NULL);
		db->secure_delete = -1;
	}
	if (db->reserve == NULL || access(db->reserve, F_OK) == 0)
		return;
	if ((fd = open(db->reserve, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		return;
	if ((rc = posix_fallocate(fd, 0, DB_RESERVE)) != 0) {
		(void)unlink(db->reserve);
		if (rc != ENOSPC && rc != EFBIG)
			log_warnx("db: %s: %s", db->reserve, strerror(rc));
	}
	close(fd);
}

int
db_make_room(struct db *db)
{
	sqlite3_stmt	*st;
	int		 log = -1, done = -1;

	if (db->secure_delete < 0 && sqlite3_prepare_v2(db->h,
	    "PRAGMA secure_delete", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			db->secure_delete = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		sqlite3_exec(db->h, "PRAGMA secure_delete = FAST", NULL, NULL,
		    NULL);
	}
	if (db->reserve != NULL && unlink(db->reserve) == 0)
		log_warnx("db: gave back the reserve %s (%d bytes) to make "
		    "room", db->reserve, DB_RESERVE);
	if (db->in_txn)
		return (0);	/* a checkpoint must wait for the commit */
	if (sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_TRUNCATE,
	    &log, &done) != SQLITE_OK) {
		db_seterr(db, "checkpoint");
		return (-1);
	}
	return (0);
}

/* --- speed: pragmas that leave durability as it is ---------------------- */

/*
 * A larger page cache (16 MiB) keeps the indexes' pages, which every insert
 * walks (above all the random UUID keys of notifications), in memory as
 * the file grows: with the default 2 MiB, a long run reads index pages
 * back with pread at every insert.  Temporary b-trees (sorts) stay in
 * memory.  Neither changes when a commit reaches the disk: journal_mode
 * and synchronous decide that.
 */
static int
db_tune(struct db *db, char **err)
{
	if (db_exec(db, "PRAGMA cache_size = -16384", err) == -1 ||
	    db_exec(db, "PRAGMA temp_store = MEMORY", err) == -1)
		return (-1);
	return (0);
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
	    db_exec(db, "PRAGMA foreign_keys = ON", &err) == -1 ||
	    db_exec(db, "PRAGMA journal_size_limit = "
	    DB_STR(DB_WAL_LIMIT), &err) == -1 ||
	    db_tune(db, &err) == -1) {
		xasprintf(cause, "%s: %s", path, err);
		free(err);
		goto fail;
	}
	/* Before the migrations: migration 5 calls notimock_ref_key. */
	if (db_assert_functions(db, cause) == -1)
		goto fail;
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
	db->seq = db->committed = db_max_seq(db);
	db->rows = db_count_rows(db);
	if (strcmp(path, ":memory:") != 0 && db_ckpt_start(db, path, cause)
	    == -1)
		goto fail;
	db->secure_delete = -1;
	if (strcmp(path, ":memory:") != 0) {
		xasprintf(&db->reserve, "%s-reserve", path);
		db_reserve(db);
	}
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
	db_ckpt_stop(db);
	if (db->in_txn)
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	for (i = 0; i < ST_MAX; i++)
		sqlite3_finalize(db->st[i]);
	sqlite3_close(db->h);
	free(db->reserve);
	free(db);
}

/*
 * The key of the fingerprints (crypto.h), kept in the state table as four
 * 64-bit rows so that prints stay comparable across restarts of one
 * database; drawn by the caller's random source the first time.
 */
int
db_fingerprint_key(struct db *db, unsigned char key[32],
    void (*random)(void *, size_t), char **cause)
{
	sqlite3_stmt	*st;
	uint64_t	 v;
	int		 i, rc;

	random(key, 32);
	/* INSERT OR IGNORE keeps a key already there; read back what is. */
	if (sqlite3_prepare_v2(db->h, "INSERT OR IGNORE INTO state (key, "
	    "value) VALUES ('fingerprint-key-' || ?1, ?2)", -1, &st, NULL) !=
	    SQLITE_OK)
		goto fail;
	for (i = 0; i < 4; i++) {
		memcpy(&v, key + 8 * i, 8);
		sqlite3_bind_int(st, 1, i);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)v);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			sqlite3_finalize(st);
			goto fail;
		}
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db->h, "SELECT value FROM state WHERE key = "
	    "'fingerprint-key-' || ?1", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	for (i = 0; i < 4; i++) {
		sqlite3_bind_int(st, 1, i);
		if (sqlite3_step(st) != SQLITE_ROW) {
			sqlite3_finalize(st);
			goto fail;
		}
		v = (uint64_t)sqlite3_column_int64(st, 0);
		memcpy(key + 8 * i, &v, 8);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return (0);
fail:
	xasprintf(cause, "the fingerprint key: %s", sqlite3_errmsg(db->h));
	return (-1);
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
	/* "The checkpointer", above: let this BEGIN restart the WAL. */
	if (db->ckpt.running && db->ckpt.pages >= DB_CKPT_HARD_PAGES)
		db_ckpt_catch_up(&db->ckpt, db->h);
	if (db_step_done(db, db->st[ST_BEGIN], "begin") == -1)
		return (-1);
	db->in_txn = 1;
	db->failed = 0;
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
		if (db_step_done(db, db->st[ST_COMMIT], "commit") == 0) {
			db->committed = db->seq;
			db->rows += db->rows_txn;
			db->rows_txn = 0;
			return (0);
		}
	}
	/* Something failed: whatever this transaction wrote is gone.  Its
	 * sequence numbers stay used (a gap): waiters and streams may have
	 * been told of nothing after db->committed, but a number must never
	 * name two different deliveries. */
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	db->in_txn = 0;
	db->rows_txn = 0;
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
	char		*key;
	int		 any;

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
	if (d->body_size > d->body_len)
		sqlite3_bind_int64(st, 22, (int64_t)d->body_size);
	else
		sqlite3_bind_null(st, 22);
	db_bind_text(st, 23, d->fault);
	sqlite3_bind_int(st, 24, d->attempt > 0 ? d->attempt : 1);
	if (d->retry_of > 0)
		sqlite3_bind_int64(st, 25, d->retry_of);
	else
		sqlite3_bind_null(st, 25);
	if (db_step_done(db, st, "storing a delivery") == -1)
		return (-1);
	db->seq = d->seq;
	db->rows_txn++;
	st = db->st[ST_DELIVERY_ENTITY];
	for (i = 0; i < d->entity_n; i++) {
		sqlite3_bind_int64(st, 1, d->seq);
		db_bind_text(st, 2, d->entity_v[i]);
		if (db_step_done(db, st, "storing an entity ref") == -1)
			return (-1);
	}
	st = db->st[ST_DELIVERY_REF];
	for (i = 0; i < d->entity_n; i++) {
		for (any = 0; any < 2; any++) {
			if ((key = db_ref_key(d->entity_v[i], any)) == NULL)
				continue;
			sqlite3_bind_text(st, 1, key, -1, free);
			sqlite3_bind_int64(st, 2, d->seq);
			if (db_step_done(db, st, "storing an entity key") == -1)
				return (-1);
		}
	}
	return (0);
}

int
db_delivery_set_fault(struct db *db, int64_t seq, const char *fault)
{
	sqlite3_stmt	*st = db->st[ST_DELIVERY_FAULT];

	if (db_begin(db) == -1)
		return (-1);
	db_bind_text(st, 1, fault);
	sqlite3_bind_int64(st, 2, seq);
	return (db_step_done(db, st, "noting a fault"));
}

int64_t
db_cursor(const struct db *db)
{
	return (db->committed);
}

int64_t
db_seq_next(const struct db *db)
{
	return (db->seq + 1);
}

int
db_notification_insert(struct db *db, const struct db_notification_new *n)
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
    const struct db_notification_new *n, int reset_read)
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

/* --- deliveries: queries for the assertion API --- */

/*
 * Every query below selects deliveries through the SQL function
 * notimock_filter(), which calls db_filter_check(): the filter logic lives
 * once, in C.  "d.seq > since" is repeated in SQL only so that SQLite can
 * use the primary key; db_filter_check() tests it as well.
 */

static const struct db_filter db_no_filter;

/* Does [hay, hay + len) contain needle, ignoring ASCII case? */
static int
db_contains(const void *hay, size_t len, const char *needle)
{
	const unsigned char	*h = hay;
	size_t			 n = strlen(needle), i, j;

	if (n == 0)
		return (1);
	if (h == NULL || len < n)
		return (0);
	for (i = 0; i + n <= len; i++) {
		for (j = 0; j < n; j++)
			if (tolower(h[i + j]) != tolower((unsigned char)needle[j]))
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
static char *
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
 * notimock_filter(filter, seq, status, topic, severity, origin, title,
 * description, body, entities, ids, diagnoses, attempt): db_filter_check()
 * on a row.  The record's
 * strings are borrowed from SQLite for the call and never written.
 */
static void
db_sql_filter(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct db_filter	*f;
	struct db_record	 r;

	if (argc != 13 || (f = sqlite3_value_pointer(argv[0],
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
	sqlite3_result_int(ctx, (int)db_filter_check(f, &r));
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

static int
db_assert_functions(struct db *db, char **cause)
{
	if (sqlite3_create_function_v2(db->h, "notimock_filter", 13,
	    SQLITE_UTF8, NULL, db_sql_filter, NULL, NULL, NULL) != SQLITE_OK ||
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
#define DB_SCAN_MAX	2000

/* Does an index narrow f's candidates? */
static int
db_filter_indexed(const struct db_filter *f)
{
	return (f->topic != NULL || f->severity != NULL || f->origin != NULL ||
	    f->status > 0 || f->entity_n > 0);
}

/* Do the indexed equalities decide f alone (no notimock_filter needed)? */
static int
db_filter_exact(const struct db_filter *f)
{
	return (f->q == NULL && f->entity_n == 0 && f->reached == 0 &&
	    f->clean == 0 && f->retry == 0 && f->status >= 0);
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
static char *
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
	    "d.attempt) = 0",
	    pre,
	    f->q != NULL ? DB_DESC_EXPR : "NULL",
	    f->q != NULL ? "d.body" : "NULL",
	    f->entity_n > 0 ? "d.entities" : "NULL",
	    f->reached != 0 ? "d.ids" : "NULL",
	    f->clean != 0 ? "d.diagnoses" : "NULL");
	free(pre);
	return (s);
}

/* Prepare sql (taking it) with the filter and the range (lo, upto]
 * bound; NULL on error. */
static sqlite3_stmt *
db_filter_prepare(struct db *db, char *sql, const struct db_filter *f,
    int64_t lo, int64_t upto)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
		db_seterr(db, "preparing a delivery query");
		free(sql);
		return (NULL);
	}
	free(sql);
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_pointer(st, 2, (void *)f, "notimock_filter", NULL);
	sqlite3_bind_int64(st, 9, upto);
	db_prefilter_bind(st, f);
	return (st);
}

/*
 * The lower end of a read's range: f->since, or higher so that at most
 * DB_SCAN_MAX candidates lie in (lo, committed].  Without an index, the
 * newest DB_SCAN_MAX sequence numbers.  Sets db->scan_complete.
 */
static int64_t
db_scan_bound(struct db *db, const struct db_filter *f)
{
	sqlite3_stmt	*st;
	char		*sql, *pre;
	int64_t		 lo = f->since, upto = db->committed;

	db->scan_complete = 1;
	if (!db_filter_indexed(f)) {
		if (upto - DB_SCAN_MAX > lo) {
			lo = upto - DB_SCAN_MAX;
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
	sqlite3_bind_int64(st, 3, DB_SCAN_MAX - 1);
	if (sqlite3_step(st) == SQLITE_ROW) {
		lo = sqlite3_column_int64(st, 0) - 1;
		db->scan_complete = 0;
	}
	sqlite3_finalize(st);
	db->scan_from = lo;
	return (lo);
}

int
db_scan_complete(const struct db *db, int64_t *from)
{
	if (from != NULL)
		*from = db->scan_from;
	return (db->scan_complete);
}

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

static void
db_row_record(sqlite3_stmt *st, struct db_record *r)
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
}

int
db_deliveries_list(struct db *db, const struct db_filter *f, int ascending,
    int64_t limit, int64_t offset, struct db_record **out, size_t *n)
{
	int64_t		 lo;
	sqlite3_stmt	*st;
	char		*where, *sql;
	size_t		 cap = 0;
	int		 rc;

	*out = NULL;
	*n = 0;
	if (f == NULL)
		f = &db_no_filter;
	lo = db_scan_bound(db, f);
	where = db_filter_where(f, 1);
	xasprintf(&sql, "SELECT " DB_REC_COLS " FROM deliveries d WHERE %s "
	    "ORDER BY d.seq %s LIMIT ?3 OFFSET ?4", where,
	    ascending ? "ASC" : "DESC");
	free(where);
	if ((st = db_filter_prepare(db, sql, f, lo, db->committed)) == NULL)
		return (-1);
	sqlite3_bind_int64(st, 3, limit);
	sqlite3_bind_int64(st, 4, offset);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			*out = xreallocarray(*out, cap, sizeof **out);
		}
		db_row_record(st, &(*out)[(*n)++]);
	}
	if (rc != SQLITE_DONE) {
		db_seterr(db, "listing deliveries");
		sqlite3_finalize(st);
		db_records_free(*out, *n);
		*out = NULL;
		*n = 0;
		return (-1);
	}
	sqlite3_finalize(st);
	return (0);
}

int64_t
db_deliveries_count(struct db *db, const struct db_filter *f)
{
	int64_t		 lo;
	sqlite3_stmt	*st;
	char		*where, *sql;
	int64_t		 count = -1;

	if (f == NULL)
		f = &db_no_filter;
	lo = db_scan_bound(db, f);
	where = db_filter_where(f, 0);
	xasprintf(&sql, "SELECT count(*) FROM deliveries d WHERE %s", where);
	free(where);
	if ((st = db_filter_prepare(db, sql, f, lo, db->committed)) == NULL)
		return (-1);
	if (sqlite3_step(st) == SQLITE_ROW)
		count = sqlite3_column_int64(st, 0);
	else
		db_seterr(db, "counting deliveries");
	sqlite3_finalize(st);
	return (count);
}

int
db_delivery_get(struct db *db, int64_t seq, struct db_record *out)
{
	sqlite3_stmt	*st = db->st[ST_DELIVERY_GET];
	int		 rc, found = 0;

	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, db->committed);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		db_row_record(st, out);
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
	    "d.attempt) FROM deliveries d WHERE d.seq > ?1 AND d.seq <= ?9 "
	    "ORDER BY d.seq DESC",
	    f->q != NULL ? DB_DESC_EXPR : "NULL",
	    f->q != NULL ? "d.body" : "NULL",
	    f->entity_n > 0 ? "d.entities" : "NULL",
	    f->reached != 0 ? "d.ids" : "NULL",
	    f->clean != 0 ? "d.diagnoses" : "NULL");
	/* Near misses fail some filter, so no index finds them: look at the
	 * newest DB_SCAN_MAX numbers at most. */
	lo = f->since;
	if (db->committed - DB_SCAN_MAX > lo)
		lo = db->committed - DB_SCAN_MAX;
	if ((st = db_filter_prepare(db, sql, f, lo, db->committed)) == NULL)
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
		sqlite3_finalize(st);
		return (-1);
	}
	sqlite3_finalize(st);
	return (0);
}

/* Run the filtered write statement head WHERE tail; *changes gets the
 * rows it touched. */
static int
db_filter_write(struct db *db, const char *head, const char *tail,
    const struct db_filter *f, int64_t lo, int64_t hi, int64_t *changes,
    const char *what)
{
	sqlite3_stmt	*st;
	char		*where, *sql;

	where = db_filter_where(f, 1);
	xasprintf(&sql, "%s%s%s", head, where, tail);
	free(where);
	if ((st = db_filter_prepare(db, sql, f, lo, hi)) == NULL)
		return (-1);
	if (db_step_done(db, st, what) == -1) {
		sqlite3_finalize(st);
		return (-1);
	}
	if (changes != NULL)
		*changes = sqlite3_changes(db->h);
	sqlite3_finalize(st);
	return (0);
}

/* The ids of the notifications the matching deliveries created: the
 * WHERE clause goes between the two halves. */
#define DB_IDS_OF "(SELECT j.value FROM deliveries d, json_each(CASE WHEN " \
	"json_valid(d.ids) THEN d.ids ELSE '[]' END) j WHERE "

int
db_deliveries_delete(struct db *db, const struct db_filter *f,
    int keep_notifications, int64_t *deleted, int64_t *notifs)
{
	/* A write reaches every row, this transaction's own too. */
	return (db_deliveries_delete_range(db, f, keep_notifications,
	    f != NULL ? f->since : 0, db->seq, deleted, notifs));
}

int64_t
db_seq_last(const struct db *db)
{
	return (db->seq);
}

int64_t
db_first_seq(struct db *db)
{
	sqlite3_stmt	*st;
	int64_t		 seq = 0;

	if (sqlite3_prepare_v2(db->h, "SELECT min(seq) FROM deliveries", -1,
	    &st, NULL) != SQLITE_OK)
		return (0);
	if (sqlite3_step(st) == SQLITE_ROW)
		seq = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return (seq);
}

int
db_deliveries_delete_range(struct db *db, const struct db_filter *f,
    int keep_notifications, int64_t lo, int64_t hi, int64_t *deleted,
    int64_t *notifs)
{
	*deleted = *notifs = 0;
	if (f == NULL)
		f = &db_no_filter;
	if (lo < f->since)
		lo = f->since;
	if (db_begin(db) == -1)
		return (-1);
	/* The numbers of the rows about to go stay used for ever. */
	sqlite3_bind_int64(db->st[ST_STATE_SEQ], 1, db->seq);
	if (db_step_done(db, db->st[ST_STATE_SEQ], "recording the cursor")
	    == -1)
		return (-1);
	/* Notifications first: their ids are found through the deliveries. */
	if (!keep_notifications &&
	    (db_filter_write(db, "DELETE FROM broadcast_user_status WHERE "
	    "notification_id IN " DB_IDS_OF, ")", f, lo, hi, NULL,
	    "deleting broadcast state") == -1 ||
	    db_filter_write(db, "DELETE FROM notifications WHERE id IN "
	    DB_IDS_OF, ")", f, lo, hi, notifs, "deleting notifications") == -1))
		return (-1);
	/* delivery_entities rows go by ON DELETE CASCADE. */
	if (db_filter_write(db, "DELETE FROM deliveries AS d WHERE ", "",
	    f, lo, hi, deleted, "deleting deliveries") == -1)
		return (-1);
	db->rows_txn -= *deleted;
	return (0);
}

int64_t
db_rows(const struct db *db)
{
	return (db->rows);
}

/* Run sql (a write) with ?1 = x; *changes gets the rows it touched. */
static int
db_write_upto(struct db *db, const char *sql, int64_t x, int64_t *changes,
    const char *what)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
		db_seterr(db, what);
		return (-1);
	}
	sqlite3_bind_int64(st, 1, x);
	rc = db_step_done(db, st, what);
	if (rc == 0 && changes != NULL)
		*changes = sqlite3_changes(db->h);
	sqlite3_finalize(st);
	return (rc);
}

int
db_prune(struct db *db, int64_t keep, int64_t before_ms, int64_t max,
    int64_t *deleted, int64_t *notifs, int64_t *upto)
{
	sqlite3_stmt	*st;
	int64_t		 n = 0, x = 0, seq, received;

	*deleted = *notifs = *upto = 0;
	/* Only committed rows: the count the cap compares is theirs. */
	if (keep > 0 && db->rows + db->rows_txn > keep)
		n = db->rows + db->rows_txn - keep;
	if (n > max)
		n = max;
	/* The newest of the n oldest, and of the oldest before before_ms
	 * (received grows with seq, near enough: only the oldest are
	 * looked at, never the whole table). */
	if (sqlite3_prepare_v2(db->h, "SELECT seq, received FROM deliveries "
	    "WHERE seq <= ?1 ORDER BY seq LIMIT ?2", -1, &st, NULL) !=
	    SQLITE_OK) {
		db_seterr(db, "pruning");
		return (-1);
	}
	sqlite3_bind_int64(st, 1, db->committed);
	sqlite3_bind_int64(st, 2, max);
	while (sqlite3_step(st) == SQLITE_ROW) {
		seq = sqlite3_column_int64(st, 0);
		received = sqlite3_column_int64(st, 1);
		if (n > 0) {
			n--;
			x = seq;
		} else if (before_ms > 0 && received < before_ms)
			x = seq;
		else
			break;
	}
	sqlite3_finalize(st);
	if (x == 0)
		return (0);
	if (db_begin(db) == -1)
		return (-1);
	sqlite3_bind_int64(db->st[ST_STATE_SEQ], 1, db->seq);
	if (db_step_done(db, db->st[ST_STATE_SEQ], "recording the cursor")
	    == -1 ||
	    db_write_upto(db, "DELETE FROM broadcast_user_status WHERE "
	    "notification_id IN (SELECT j.value FROM deliveries d, "
	    "json_each(CASE WHEN json_valid(d.ids) THEN d.ids ELSE '[]' END) j "
	    "WHERE d.seq <= ?1)", x, NULL, "pruning broadcast state") == -1 ||
	    db_write_upto(db, "DELETE FROM notifications WHERE id IN (SELECT "
	    "j.value FROM deliveries d, json_each(CASE WHEN json_valid(d.ids) "
	    "THEN d.ids ELSE '[]' END) j WHERE d.seq <= ?1)", x, notifs,
	    "pruning notifications") == -1 ||
	    db_write_upto(db, "DELETE FROM deliveries WHERE seq <= ?1", x,
	    deleted, "pruning deliveries") == -1)
		return (-1);
	db->rows_txn -= *deleted;
	*upto = x;
	return (0);
}

int
db_entities_scan(struct db *db, const struct db_filter *f,
    void (*cb)(void *, const struct db_entity_group *), void *arg)
{
	int64_t		 lo;
	sqlite3_stmt		*st;
	struct db_entity_group	 g;
	char			*where, *sql;
	int			 rc;

	if (f == NULL)
		f = &db_no_filter;
	lo = db_scan_bound(db, f);
	where = db_filter_where(f, 1);
	xasprintf(&sql, "SELECT notimock_ref(e.ref), d.severity, d.topic, "
	    "d.status BETWEEN 200 AND 299, count(DISTINCT d.seq), max(d.seq), "
	    "max(d.received) FROM deliveries d JOIN delivery_entities e ON "
	    "e.seq = d.seq WHERE %s GROUP BY 1, 2, 3, 4 ORDER BY 6 DESC",
	    where);
	free(where);
	if ((st = db_filter_prepare(db, sql, f, lo, db->committed)) == NULL)
		return (-1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		g.ref = (const char *)sqlite3_column_text(st, 0);
		if (g.ref == NULL)
			continue;
		g.severity = (const char *)sqlite3_column_text(st, 1);
		g.topic = (const char *)sqlite3_column_text(st, 2);
		g.accepted = sqlite3_column_int(st, 3);
		g.count = sqlite3_column_int64(st, 4);
		g.last_seq = sqlite3_column_int64(st, 5);
		g.last_received = sqlite3_column_int64(st, 6);
		cb(arg, &g);
	}
	if (rc != SQLITE_DONE) {
		db_seterr(db, "listing entities");
		sqlite3_finalize(st);
		return (-1);
	}
	sqlite3_finalize(st);
	return (0);
}

/* --- notifications: the read side --- */

/*
 * A user's view of the notifications, as the subquery of Backstage's
 * getNotificationsBaseQuery builds it: their own rows, then every
 * broadcast left-joined with their broadcast_user_status row.  The columns
 * are those of DB_NOTIF_COLS, then type ('entity' or 'broadcast', which
 * orderField may name), bc and rid (for a stable order among equals: the
 * oracle's UNION ALL lists user rows, then broadcasts, each in insertion
 * order).  Only fixed text goes into the SQL; every value is bound.
 */
#define DB_VIEW \
	"WITH n AS (" \
	"SELECT id, user, created, saved, read, updated, origin, title, " \
	"description, link, topic, severity, scope, icon, metadata, " \
	"delivery_seq, 'entity' AS type, 0 AS bc, rowid AS rid " \
	"FROM notifications WHERE user = ?1 " \
	"UNION ALL " \
	"SELECT b.id, s.user, b.created, s.saved, s.read, b.updated, b.origin, " \
	"b.title, b.description, b.link, b.topic, b.severity, b.scope, b.icon, " \
	"b.metadata, b.delivery_seq, 'broadcast', 1, b.rowid " \
	"FROM notifications b LEFT JOIN broadcast_user_status s " \
	"ON s.notification_id = b.id AND s.user = ?1 WHERE b.user IS NULL) "

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

/* A statement's text under construction, with its bindings (the read
 * side binds at most 8 today; more marks the statement as too long). */
#define DB_SQL_BINDS	16

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

/* The WHERE clause of a query (after "FROM n"). */
static void
db_nquery_where(struct db_sql *q, const struct db_nquery *nq,
    char **pattern)
{
	int	i;

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
		/* Backstage's LIKE, '%' and '_' in the text included. */
		xasprintf(pattern, "%%%s%%", nq->search);
		db_sql_add(q, " AND (lower(title) LIKE lower(");
		db_sql_bind(q, *pattern, 0);
		db_sql_add(q, ") OR lower(description) LIKE lower(");
		db_sql_bind(q, *pattern, 0);
		db_sql_add(q, "))");
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
	if (nq->min_severity > 0 && nq->min_severity <= 4) {
		db_sql_add(q, " AND severity IN (");
		for (i = 0; i < nq->min_severity; i++) {
			if (i > 0)
				db_sql_add(q, ", ");
			db_sql_add(q, "'");
			db_sql_add(q, db_severities[i]);
			db_sql_add(q, "'");
		}
		db_sql_add(q, ")");
	}
}

/* The ORDER BY clause; -1 (with db->err) for a field that names no column. */
static int
db_nquery_order(struct db *db, struct db_sql *q, const struct db_nquery *nq)
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
	db_sql_add(q, "bc, rid");
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

int
db_notification_list(struct db *db, const struct db_nquery *nq,
    struct db_notification **out, size_t *np)
{
	struct db_sql		 q;
	sqlite3_stmt		*st = NULL;
	struct db_notification	*v = NULL;
	char			*pattern = NULL;
	size_t			 n = 0;
	int			 rc;

	*out = NULL;
	*np = 0;
	memset(&q, 0, sizeof q);
	db_sql_add(&q, DB_VIEW "SELECT " DB_NOTIF_COLS ", bc FROM n");
	db_nquery_where(&q, nq, &pattern);
	if (db_nquery_order(db, &q, nq) == -1)
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
		if (sqlite3_column_int(st, 16)) {	/* a broadcast */
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
	free(pattern);
	*out = v;
	*np = n;
	return (0);

fail:
	sqlite3_finalize(st);
	free(q.s);
	free(pattern);
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

int64_t
db_notification_count(struct db *db, const struct db_nquery *nq)
{
	struct db_sql	 q;
	char		*pattern = NULL;
	int64_t		 count = -1;

	memset(&q, 0, sizeof q);
	db_sql_add(&q, DB_VIEW "SELECT count(id) FROM n");
	db_nquery_where(&q, nq, &pattern);
	if (db_sql_ints(db, &q, nq->user, &count, 1) == -1)
		count = -1;
	free(q.s);
	free(pattern);
	return (count);
}

int
db_notification_status(struct db *db, const char *user, int64_t *unread,
    int64_t *read)
{
	struct db_sql	 q;
	int64_t		 v[2];
	int		 rc;

	memset(&q, 0, sizeof q);
	db_sql_add(&q, DB_VIEW "SELECT count(id) FILTER (WHERE read IS NULL), "
	    "count(id) FILTER (WHERE read IS NOT NULL) FROM n");
	rc = db_sql_ints(db, &q, user, v, 2);
	free(q.s);
	if (rc == 0) {
		*unread = v[0];
		*read = v[1];
	}
	return (rc);
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
	db_sql_add(&q, DB_VIEW "SELECT DISTINCT topic FROM n");
	db_nquery_where(&q, nq, &pattern);
	db_sql_add(&q, " AND topic IS NOT NULL ORDER BY topic ASC");
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
	if (db_begin(db) == -1)
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
