/*
 * db.c: SQLite storage: the connection, schema and migrations, prepared
 * statements, the per-iteration transaction, the checkpointer, and the
 * writes (storing, deleting and pruning).  db_int.h says what the other
 * db_*.c files hold.
 */
#include <sys/eventfd.h>
#include <sys/statvfs.h>

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
#include "db_int.h"
#include "entity.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

static int	db_auto_vacuum(struct db *);
static int64_t	db_pragma_int(struct db *, const char *);
static void	db_convert(struct db *, const char *);

#define DB_STR_(x)	#x
#define DB_STR(x)	DB_STR_(x)

/* Schema 7's triggers: one notifications row r enters or leaves its
 * notification_counts row. */
#define DB_COUNTS_KEY(r) \
	"coalesce(" r ".user, x''), coalesce(" r ".topic, x''), " r ".severity"
#define DB_COUNTS_ADD(r) \
	"INSERT INTO notification_counts VALUES (" DB_COUNTS_KEY(r) ", 1, " \
	r ".read IS NULL, " r ".saved IS NOT NULL, " \
	r ".read IS NULL AND " r ".saved IS NOT NULL) " \
	"ON CONFLICT DO UPDATE SET total = total + 1, " \
	"unread = unread + excluded.unread, saved = saved + excluded.saved, " \
	"unread_saved = unread_saved + excluded.unread_saved;"
#define DB_COUNTS_SUB(r) \
	"UPDATE notification_counts SET total = total - 1, " \
	"unread = unread - (" r ".read IS NULL), " \
	"saved = saved - (" r ".saved IS NOT NULL), " \
	"unread_saved = unread_saved - (" r ".read IS NULL AND " \
	r ".saved IS NOT NULL) " \
	"WHERE user = coalesce(" r ".user, x'') AND " \
	"topic = coalesce(" r ".topic, x'') AND severity = " r ".severity;"

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
	/* 6: a delivery's large texts packed into one BLOB (db_pack.c);
	 * rows written before keep the plain columns, packed NULL. */
	"ALTER TABLE deliveries ADD COLUMN packed BLOB;"
	"ALTER TABLE deliveries ADD COLUMN dict INTEGER;"
	"CREATE TABLE pack_dicts ("
	"  id INTEGER PRIMARY KEY, dict BLOB NOT NULL"
	");"
	/* Only a scope re-send looks a scope up (scope = ?, never NULL):
	 * most notifications have none, and paid ~34 bytes each for it. */
	"DROP INDEX notifications_scope;"
	"CREATE INDEX notifications_scope ON notifications(scope, origin, user) "
	"WHERE scope IS NOT NULL;",
	/*
	 * 7: the read side answers from indexes (db_read.c).  A user's rows
	 * and the broadcasts (user IS NULL) are walked newest first, equal
	 * times in insertion order (the rowid the index appends, ascending),
	 * so a page reads only its own rows: same bytes per row as before.
	 * notification_counts keeps, per user (x'' for the broadcasts), topic
	 * (x'' for none) and severity, how many rows there are, unread,
	 * saved, and both, so that totalCount, /status and /topics add up a
	 * few counters instead of counting every row.  The triggers keep it
	 * right whoever writes notifications; a broadcast's read and saved
	 * marks are per user in broadcast_user_status, counted there
	 * (indexed by user: a row exists only once that user marked it).
	 */
	"DROP INDEX notifications_user;"
	"CREATE INDEX notifications_user ON notifications(user, created DESC);"
	"CREATE INDEX broadcast_user_status_user ON "
	"broadcast_user_status(user);"
	"CREATE TABLE notification_counts ("
	"  user NOT NULL, topic NOT NULL, severity NOT NULL,"
	"  total INTEGER NOT NULL, unread INTEGER NOT NULL,"
	"  saved INTEGER NOT NULL, unread_saved INTEGER NOT NULL,"
	"  PRIMARY KEY (user, topic, severity)"
	") WITHOUT ROWID;"
	"INSERT INTO notification_counts "
	"SELECT coalesce(user, x''), coalesce(topic, x''), severity, count(*), "
	"count(*) FILTER (WHERE read IS NULL), "
	"count(*) FILTER (WHERE saved IS NOT NULL), "
	"count(*) FILTER (WHERE read IS NULL AND saved IS NOT NULL) "
	"FROM notifications GROUP BY 1, 2, 3;"
	"CREATE TRIGGER notification_counts_add AFTER INSERT ON notifications "
	"BEGIN " DB_COUNTS_ADD("new") " END;"
	"CREATE TRIGGER notification_counts_del AFTER DELETE ON notifications "
	"BEGIN " DB_COUNTS_SUB("old") " END;"
	"CREATE TRIGGER notification_counts_upd AFTER UPDATE OF user, topic, "
	"severity, read, saved ON notifications "
	"BEGIN " DB_COUNTS_SUB("old") DB_COUNTS_ADD("new") " END;",
	/* 8: the insert trigger cost every notification row an upsert
	 * (~3-10 us); db_notification_insert counts in C instead and
	 * db_commit writes each key's count once (db_counts_flush).  A
	 * writer that inserts rows by hand recounts (tests/bench/gen-rows);
	 * deletes and updates, rare, keep their triggers. */
	"DROP TRIGGER notification_counts_add;",
};
#define DB_NMIGRATIONS (sizeof db_migrations / sizeof db_migrations[0])


static const char *db_sql[ST_MAX] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_DELIVERY_ADD] = "INSERT INTO deliveries (seq, received, remote, "
	    "method, path, headers, body, status, response, origin, token_fp, "
	    "payload, recipients, title, topic, severity, entities, users, "
	    "ids, diagnoses, duration_us, body_size, fault, attempt, retry_of, "
	    "packed, dict) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?)",
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
	[ST_FIRST_SEQ] = "SELECT min(seq) FROM deliveries",
	[ST_FREE_PAGES] = "PRAGMA freelist_count",
	[ST_VACUUM] = "PRAGMA incremental_vacuum(" DB_STR(DB_VACUUM_PAGES) ")",
	[ST_PACK_DICT_ADD] = "INSERT INTO pack_dicts (dict) VALUES (?)",
	[ST_PACK_DICT_GET] = "SELECT dict FROM pack_dicts WHERE id = ?",
	/* Retention's candidates: the oldest committed rows (db_prune). */
	[ST_PRUNE_OLDEST] = "SELECT seq, received FROM deliveries "
	    "WHERE seq <= ?1 ORDER BY seq LIMIT ?2",
	[ST_COUNTS_ADD] = "INSERT INTO notification_counts VALUES "
	    "(coalesce(?1, x''), coalesce(?2, x''), ?3, ?4, ?5, ?6, ?7) "
	    "ON CONFLICT DO UPDATE SET total = total + excluded.total, "
	    "unread = unread + excluded.unread, "
	    "saved = saved + excluded.saved, "
	    "unread_saved = unread_saved + excluded.unread_saved",
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
 * a write transaction begins with all of it copied (journal_size_limit
 * cuts it back only past DB_WAL_LIMIT, 64 MiB).  Under a steady stream
 * of commits the thread's PASSIVE checkpoints never quite catch up: the
 * loop commits again while each one runs, so that moment never comes.  So
 * once the WAL holds DB_CKPT_HARD_PAGES (32 MiB), the loop parks its
 * writes (db_park_begin): the server holds the requests that would write,
 * unanswered, and begins no transaction (server.c, server_park); the
 * thread, asked (park), passes without rest over a log that gets no new
 * frames, so one pass copies all of it, and syncs, off the loop; it then
 * writes park_fd, the loop's event sees the log all copied
 * (db_park_poll), the parked requests run in one transaction and its
 * BEGIN restarts the log.  Health, reads and everything else are answered
 * meanwhile.  The file stays under ~34 MiB under any load, inside the
 * 64 MiB the README promises (tests/e2e/test_store_wal.py holds it to
 * that); idle for a second, a TRUNCATE empties it.  (A RESTART from the
 * thread would do the same, but it holds the loop's BEGIN on the busy
 * handler, and under load it loses the race for the write lock.)
 *
 * Before parking, the loop itself ran a PASSIVE checkpoint at the bound
 * (db_ckpt_catch_up: the frames of the thread's last pass or so): a stall
 * of the whole server, small in pages, but it synced the database file,
 * p50 13 ms and up to ~150 ms on a loaded disk, once per 32 MiB of WAL
 * (issue 11).  That is still what happens where parking does not: without
 * a server that parks (db_park_fd never called), and for DB_PARK_RETRY_MS
 * after a park given up.  Writes that are not parked (a small reset, a
 * late fault note) just begin, at the cost of one more pass.
 *
 * A park is bounded: a reader that keeps an old snapshot (a sqlite3
 * shell, a backup, a long read on another connection) stops every
 * checkpoint short of its frames.  After DB_PARK_MAX_MS the parked writes
 * go on (the log says so), the WAL grows past the bound while the reader
 * holds it, as it would have, and a park is tried again DB_PARK_RETRY_MS
 * later; the server gives up early when the parked requests pass its
 * memory bound.  A reader that began before the log was all copied also
 * keeps the BEGIN from restarting it; the commit after a park notices
 * (the log's gen did not change) and counts that park as given up.
 *
 * The loop copies (db_ckpt_catch_up) only what it wrote itself since the
 * thread's last pass of this log began, and only when that pass copied
 * all it saw (give or take DB_CKPT_LOOP_PAGES); once a reader goes, its
 * backlog (any size) is the thread's to copy, never the loop's.  The
 * pass's figures (log, done) count frames of one log: gen says which (the
 * hook sees the log restart when its size drops), and a pass of another
 * one says nothing.
 */
#define DB_CKPT_PAGES		1000
#define DB_CKPT_HARD_PAGES	8192
#define DB_CKPT_LOOP_PAGES	256	/* 1 MiB: a pass this short is whole */
#define DB_CKPT_BUSY_MS		20
#define DB_CKPT_HOLD_MS		100	/* the loop's next try comes sooner */
#define DB_PARK_MAX_MS		1000	/* a reader's 0.5 s query fits */
#define DB_PARK_RETRY_MS	5000
#define DB_PARK_IDLE_US		2000	/* a parked pass that copied nothing */
/*
 * journal_size_limit: a log restart cuts the file back to this.  The
 * bound itself (64 MiB), not less: under load the log restarts at ~32 MiB
 * and is then overwritten from its start, in place; cutting it to 16 MiB
 * each time was an ftruncate on the loop (5-10 ms under load, issue 11)
 * that the next 16 MiB of frames then grew back.  Idle, the checkpointer
 * empties it anyway (TRUNCATE).
 */
#define DB_WAL_LIMIT		67108864	/* bytes: 16384 pages */


void
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
 * The checkpointer's rest between passes under load: DB_CKPT_GAP_MS, or
 * until the loop parks its writes (it waits for a pass now) or stops.
 */
#define DB_CKPT_GAP_MS		50

static void
db_ckpt_rest(struct db_ckpt *c)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += DB_CKPT_GAP_MS * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	while (!c->park && !c->stop &&
	    pthread_cond_timedwait(&c->cond, &c->lock, &ts) == 0)
		;
	pthread_mutex_unlock(&c->lock);
}

/* The thread, after a pass: a parked loop hears of a pass that copied
 * all it saw (db_park_poll decides whether that was all). */
static void
db_ckpt_tell(struct db_ckpt *c, int log, int done)
{
	uint64_t	one = 1;

	if (c->park_fd != -1 && log >= 0 && done == log &&
	    write(c->park_fd, &one, sizeof one) == -1 && errno != EAGAIN)
		log_warnx("db: checkpointer: eventfd: %s", strerror(errno));
}

static void *
db_ckpt_main(void *arg)
{
	struct db_ckpt	*c = arg;
	sqlite3		*h = NULL;
	struct timespec	 ts;
	int		 stop = 0, wanted, hold, park, log, done;
	int		 last_log = -1, last_done = -1;
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
		if (!c->wanted && !c->park && !c->stop) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&c->cond, &c->lock, &ts);
		}
		wanted = c->wanted;
		c->wanted = 0;
		stop = c->stop;
		park = c->park;
		/* A second without a commit, or DB_CKPT_HOLD_MS since the
		 * loop's last try: it is not catching up any more (that try
		 * found this thread busy and no BEGIN came after it).  Work
		 * that waits for this thread (db_wal_wait) keeps wanted set,
		 * so a hold kept until a quiet second never ended while a
		 * reset or retention waited: the WAL was never copied
		 * (test_store_wal's backlog test, once under load). */
		if (c->hold && (!wanted || util_mono_us() - c->hold_since >
		    DB_CKPT_HOLD_MS * 1000LL))
			c->hold = 0;
		hold = c->hold && !park;
		gen = c->gen;
		pthread_mutex_unlock(&c->lock);
		if (stop || hold)
			continue;
		db_ckpt_pass(h, !wanted && !park, &log, &done);
		pthread_mutex_lock(&c->lock);
		c->pass_gen = gen;
		c->pass_log = log;
		c->pass_done = done;
		pthread_mutex_unlock(&c->lock);
		if (park) {
			db_ckpt_tell(c, log, done);
			/* Nothing copied (a reader in the way, or the loop's
			 * last transaction not committed yet): a short rest
			 * rather than a spin. */
			if (log == last_log && done == last_done) {
				ts.tv_sec = 0;
				ts.tv_nsec = DB_PARK_IDLE_US * 1000L;
				nanosleep(&ts, NULL);
			}
		}
		last_log = log;
		last_done = done;
		/* Under load, a pass per commit copies the same hot pages (the
		 * tables' last leaves, the indexes' inner pages) and syncs
		 * twice, ~100 times a second: a rest lets the frames of many
		 * commits share one copy and one sync (issue 11's profile).
		 * Not near the hard bound: there the loop parks its writes and
		 * waits for a fresh pass. */
		if (!park && wanted && log >= 0 && log < DB_CKPT_HARD_PAGES -
		    2 * DB_CKPT_LOOP_PAGES)
			db_ckpt_rest(c);
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
	/* Once: a thread at rest wakes for a park or a stop alone. */
	if (pages >= DB_CKPT_PAGES && !c->wanted) {
		c->wanted = 1;
		pthread_cond_signal(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	return (SQLITE_OK);
}

/* On the loop: an info line a minute at most for what happened at the
 * bound (what), how often since the last one and the longest. */
#define DB_CKPT_TELL_MS		60000

static void
db_ckpt_tally(struct db_ckpt_tell *t, int64_t us, const char *what)
{
	int64_t	now = util_mono_us();

	t->n++;
	if (us > t->us_max)
		t->us_max = us;
	if (now - t->at < DB_CKPT_TELL_MS * 1000LL)
		return;
	log_info("db: under sustained writes the WAL reached its bound %lld "
	    "times since the last such line: %s (the longest %lld ms)",
	    (long long)t->n, what, (long long)(t->us_max / 1000));
	t->n = t->us_max = 0;
	t->at = now;
}

/* On the loop: it copied pages itself, for us; say so. */
static void
db_ckpt_told(struct db_ckpt *c, int64_t us)
{
	log_debug("db: the WAL reached its bound (%d pages): the loop copied "
	    "what the checkpointer had not, in %lld us", c->pages,
	    (long long)us);
	c->stats.loop_copies++;
	if (us > c->stats.loop_copy_us_max)
		c->stats.loop_copy_us_max = us;
	db_ckpt_tally(&c->told, us, "the loop copied the last pages back "
	    "itself");
}

/*
 * On the loop: the WAL is past the hard bound.  Copy what came after the
 * thread's last pass, if that pass was whole (the comment above);
 * otherwise leave it all to the thread.
 */
static void
db_ckpt_catch_up(struct db_ckpt *c, sqlite3 *h)
{
	int64_t	start;
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
	c->hold_since = util_mono_us();
	pthread_mutex_unlock(&c->lock);
	/* BUSY: the thread is in a pass, and stops after it (hold); the
	 * next BEGIN looks again at what that pass left. */
	start = util_mono_us();
	if (sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
	    &done) != SQLITE_OK)
		return;
	/* The time the loop spent: what requests alone cost at the bound
	 * (work that can wait never brings the WAL here, db_wal_wait).  Each
	 * time in the debug log (-v); a line a minute at most otherwise. */
	db_ckpt_told(c, util_mono_us() - start);
	/* Copied up to the end (the BEGIN after this restarts the log), or a
	 * reader stopped it short: either way the thread may go on. */
	pthread_mutex_lock(&c->lock);
	c->hold = 0;
	c->pass_gen = c->gen;
	c->pass_log = log;
	c->pass_done = done;
	pthread_mutex_unlock(&c->lock);
}

/*
 * Work that can wait (a reset's or retention's next slice, pages given
 * back) asks here first, and waits while the WAL holds more than
 * DB_CKPT_SOFT_PAGES that the thread has not copied back: a reset writes
 * a few hundred pages a slice, and left to itself it brought the WAL to
 * the hard bound every few slices, where the loop copies pages and syncs
 * itself (issue 11: 606 such catch-ups in a reset of 1 M rows, up to
 * 0.7 s each).  Waiting, it leaves the thread a log without new frames,
 * whose pass then copies all of it, and the next commit restarts the log.
 * So only requests, never work that can wait, bring the WAL to the hard
 * bound.  A reader that keeps an old snapshot stops every checkpoint
 * short (above); after DB_WAL_WAIT_MS of that the work goes on and says
 * so, and the WAL grows as it would have.
 */
#define DB_CKPT_SOFT_PAGES	2048	/* 8 MiB */
#define DB_WAL_WAIT_MS		5000

/* The WAL is all copied (the thread's last pass saw all of this log and
 * copied it) and no transaction is open: the next BEGIN restarts it.  A
 * transaction this iteration began before (a POST's) may not have.  With
 * the checkpointer's lock held; db_ckpt_all_copied takes it. */
static int
db_ckpt_copied_locked(struct db *db)
{
	struct db_ckpt	*c = &db->ckpt;

	return (c->pass_gen == c->gen && c->pass_log >= c->pages &&
	    c->pass_done == c->pass_log && !db->in_txn);
}

int
db_wal_wait(struct db *db)
{
	struct db_ckpt	*c = &db->ckpt;
	int64_t		 now;
	int		 wait;

	if (!c->running)
		return (0);
	pthread_mutex_lock(&c->lock);
	wait = c->pages >= DB_CKPT_SOFT_PAGES && !db_ckpt_copied_locked(db);
	if (wait) {
		c->wanted = 1;
		pthread_cond_signal(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	if (!wait) {
		db->wal_wait_since = 0;
		db->wal_wait_told = 0;
		return (0);
	}
	now = util_mono_us();
	if (db->wal_wait_since == 0)
		db->wal_wait_since = now;
	else if (now - db->wal_wait_since > DB_WAL_WAIT_MS * 1000LL) {
		if (!db->wal_wait_told)
			log_warnx("db: the WAL (%d pages) is not being copied "
			    "back (a reader holding an old snapshot?); a reset "
			    "or retention goes on without waiting", c->pages);
		db->wal_wait_told = 1;
		return (0);
	}
	return (1);
}

static int
db_ckpt_all_copied(struct db *db)
{
	int	all;

	pthread_mutex_lock(&db->ckpt.lock);
	all = db_ckpt_copied_locked(db);
	pthread_mutex_unlock(&db->ckpt.lock);
	return (all);
}

/* The loop copies the WAL at the bound itself (db_begin): where nothing
 * parks, or for a while after a park was given up. */
static int
db_ckpt_loop_copies(struct db *db)
{
	struct db_ckpt	*c = &db->ckpt;

	if (!c->running || c->pages < DB_CKPT_HARD_PAGES)
		return (0);
	if (c->park_on && (c->fallback_until == 0 ||
	    util_mono_us() >= c->fallback_until))
		return (0);
	return (!db_ckpt_all_copied(db));
}

int
db_park_fd(struct db *db)
{
	if (!db->ckpt.running || db->ckpt.park_fd == -1)
		return (-1);
	db->ckpt.park_on = 1;
	return (db->ckpt.park_fd);
}

int
db_park_begin(struct db *db)
{
	struct db_ckpt	*c = &db->ckpt;
	int64_t		 now;

	if (!c->park_on)
		return (0);
	if (c->park_since != 0)
		return (1);
	/* The writes a park released have not committed yet: whether
	 * their BEGIN restarted the log is not known before (db_commit). */
	if (c->park_released && db->in_txn)
		return (0);
	c->park_released = 0;
	if (c->pages < DB_CKPT_HARD_PAGES || db_ckpt_all_copied(db))
		return (0);
	now = util_mono_us();
	if (now < c->fallback_until)
		return (0);
	c->park_since = now;
	pthread_mutex_lock(&c->lock);
	c->park = 1;
	c->hold = 0;
	c->wanted = 1;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return (1);
}

/* A park gave up (why): today's path, the loop's own copy at the bound,
 * for DB_PARK_RETRY_MS; a warning a minute at most. */
static void
db_park_failed(struct db *db, const char *why)
{
	struct db_ckpt	*c = &db->ckpt;
	int64_t		 now = util_mono_us();

	c->fallback_until = now + DB_PARK_RETRY_MS * 1000LL;
	c->stats.park_fallbacks++;
	if (c->park_warned_at != 0 &&
	    now - c->park_warned_at < DB_CKPT_TELL_MS * 1000LL)
		return;
	c->park_warned_at = now;
	log_warnx("db: the WAL (%d pages) reached its bound and %s; writes "
	    "go on (%lld times so far), the WAL may pass its bound meanwhile",
	    c->pages, why, (long long)c->stats.park_fallbacks);
}

/* On the loop: a park ends (given up: why, else NULL). */

static void
db_park_end(struct db *db, const char *why)
{
	struct db_ckpt	*c = &db->ckpt;
	int64_t		 now = util_mono_us(), us = now - c->park_since;

	pthread_mutex_lock(&c->lock);
	c->park = 0;
	c->park_gen = c->gen;
	pthread_mutex_unlock(&c->lock);
	c->park_since = 0;
	c->park_released = why == NULL;
	c->stats.parks++;
	if (us > c->stats.park_us_max)
		c->stats.park_us_max = us;
	if (why != NULL)
		db_park_failed(db, why);
	log_debug("db: the WAL reached its bound (%d pages): writes waited "
	    "%lld us for the checkpointer%s%s", c->pages, (long long)us,
	    why != NULL ? ", then went on: " : "", why != NULL ? why : "");
	db_ckpt_tally(&c->park_told, us, "writes waited for the checkpointer "
	    "to copy it");
}

int
db_park_poll(struct db *db)
{
	struct db_ckpt	*c = &db->ckpt;
	uint64_t	 n;

	if (c->park_fd != -1)
		(void)read(c->park_fd, &n, sizeof n);	/* EAGAIN: none */
	if (c->park_since == 0)
		return (0);
	if (db_ckpt_all_copied(db)) {
		db_park_end(db, NULL);
		return (1);
	}
	if (util_mono_us() - c->park_since > DB_PARK_MAX_MS * 1000LL) {
		db_park_end(db, "the checkpointer could not copy it all "
		    "within 1 s (a reader holding an old snapshot?)");
		return (1);
	}
	return (0);
}

void
db_park_give_up(struct db *db, const char *why)
{
	if (db->ckpt.park_since != 0)
		db_park_end(db, why);
}

void
db_wal_stats(struct db *db, struct db_wal_stats *st)
{
	*st = db->ckpt.stats;
}

static int
db_ckpt_start(struct db *db, const char *path, char **cause)
{
	struct db_ckpt	*c = &db->ckpt;

	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->path = xstrdup(path);
	c->pass_log = c->pass_done = -1;
	/* No eventfd: no parking (the loop copies at the bound, as before). */
	if ((c->park_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		log_warnx("db: eventfd: %s; the loop will copy the WAL itself "
		    "at its bound", strerror(errno));
	if (pthread_create(&c->thread, NULL, db_ckpt_main, c) != 0) {
		xasprintf(cause, "%s: cannot start the checkpointer", path);
		if (c->park_fd != -1)
			close(c->park_fd);
		c->park_fd = -1;
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
	if (c->park_fd != -1)
		close(c->park_fd);
	c->park_fd = -1;
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
#define DB_RESERVE	16777216

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
db_room_low(struct db *db)
{
	struct statvfs	 sv;
	const char	*path;

	if (db->reserve == NULL ||
	    (path = sqlite3_db_filename(db->h, "main")) == NULL ||
	    *path == '\0' || statvfs(path, &sv) == -1)
		return (0);
	return ((unsigned long long)sv.f_bavail * sv.f_frsize < DB_RESERVE);
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
	db->ckpt.park_fd = -1;
	if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		xasprintf(cause, "%s: %s", path, db->h ?
		    sqlite3_errmsg(db->h) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db->h, 5000);
	/*
	 * First: on a new, empty file this makes freed pages something the
	 * file can give back (db_vacuum); once the file has a page, the mode
	 * stays what it was (a file made before keeps its pages for later
	 * rows), and this changes nothing.  secure_delete FAST (Debian's
	 * SQLite has it ON): with ON, every page a delete frees is written
	 * again, zeroed, through the WAL and copied back by a checkpoint,
	 * which doubled what a reset or retention wrote (issue 11); FAST
	 * zeroes deleted cells in the pages written anyway, and freed pages
	 * keep their bytes until reused or given back (db_vacuum).
	 */
	if (db_exec(db, "PRAGMA auto_vacuum = INCREMENTAL", &err) == -1 ||
	    db_exec(db, "PRAGMA journal_mode = WAL", &err) == -1 ||
	    db_exec(db, sync_full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", &err) == -1 ||
	    db_exec(db, "PRAGMA foreign_keys = ON", &err) == -1 ||
	    db_exec(db, "PRAGMA secure_delete = FAST", &err) == -1 ||
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
	if (strcmp(path, ":memory:") != 0)
		db_convert(db, path);
	for (i = 0; i < ST_MAX; i++) {
		if (sqlite3_prepare_v3(db->h, db_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &db->st[i], NULL) != SQLITE_OK) {
			xasprintf(cause, "%s: preparing statement %d: %s", path,
			    i, sqlite3_errmsg(db->h));
			goto fail;
		}
	}
	if (db_pack_open(db, cause) == -1)
		goto fail;
	db->seq_handed = db->seq_committed = db_max_seq(db);
	db->incremental = db_auto_vacuum(db) == 2;
	db->rows_committed = db_count_rows(db);
	if (strcmp(path, ":memory:") != 0 && db_ckpt_start(db, path, cause)
	    == -1)
		goto fail;
	/* Without it the lists are read on the loop, as before. */
	if (strcmp(path, ":memory:") != 0 && db_worker_start(db, path, &err)
	    == -1) {
		log_warnx("db: %s; lists are read on the event loop", err);
		free(err);
		err = NULL;
	}
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

/* A pragma's number (0 if it has none). */
static int64_t
db_pragma_int(struct db *db, const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 n = 0;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		return (0);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return (n);
}

/* PRAGMA auto_vacuum: 0 none, 1 full, 2 incremental. */
static int
db_auto_vacuum(struct db *db)
{
	return ((int)db_pragma_int(db, "PRAGMA auto_vacuum"));
}

/*
 * A file made before schema 6 has auto_vacuum off: its free pages are
 * reused by later rows but never given back (db_free_pages is 0), so a
 * reset of a million rows left a 2.9 GB file (issue 11).  Turning it on
 * takes a VACUUM, which rewrites every page in use: done at start-up,
 * before anything is answered, and only when those pages are few
 * (DB_CONVERT_PAGES, 32 MiB: well under a second), as after a reset and a
 * restart.  A larger file keeps its pages, and the log says when it will
 * be converted.  (A VACUUM INTO beside a running server would have to
 * catch up with what it writes meanwhile; a restart after a reset is what
 * a user does anyway.)
 */
#define DB_CONVERT_PAGES	8192

static void
db_convert(struct db *db, const char *path)
{
	int64_t	 pages, unused, start;
	char	*err = NULL;

	if (db_auto_vacuum(db) != 0)
		return;
	pages = db_pragma_int(db, "PRAGMA page_count");
	unused = db_pragma_int(db, "PRAGMA freelist_count");
	if (pages - unused > DB_CONVERT_PAGES) {
		log_info("db: %s was made by an older notimock (auto_vacuum "
		    "off): its %lld unused pages are reused by new rows but "
		    "not given back; a start with at most %d MiB in use (after "
		    "a reset, say) converts it", path, (long long)unused,
		    DB_CONVERT_PAGES / 256);
		return;
	}
	start = util_mono_us();
	if (db_exec(db, "PRAGMA auto_vacuum = INCREMENTAL", &err) == -1 ||
	    db_exec(db, "VACUUM", &err) == -1) {
		log_warnx("db: %s: converting to give space back: %s", path,
		    err);
		free(err);
		return;
	}
	log_info("db: %s converted to give space back (auto_vacuum "
	    "incremental): %lld pages, %lld of them unused, became %lld, in "
	    "%lld ms", path, (long long)pages, (long long)unused,
	    (long long)db_pragma_int(db, "PRAGMA page_count"),
	    (long long)((util_mono_us() - start) / 1000));
}

int64_t
db_free_pages(struct db *db)
{
	sqlite3_stmt	*st = db->st[ST_FREE_PAGES];
	int64_t		 n = 0;

	if (!db->incremental)
		return (0);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return (n);
}

int64_t
db_used_bytes(struct db *db)
{
	return ((db_pragma_int(db, "PRAGMA page_count") -
	    db_pragma_int(db, "PRAGMA freelist_count")) *
	    db_pragma_int(db, "PRAGMA page_size"));
}

int
db_vacuum(struct db *db)
{
	sqlite3_stmt	*st = db->st[ST_VACUUM];
	int		 rc;

	if (!db->incremental)
		return (0);
	if (db_begin(db) == -1)
		return (-1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_seterr(db, "giving pages back");
		db->failed = 1;
		return (-1);
	}
	return (0);
}

void
db_close(struct db *db)
{
	int	i;

	if (db == NULL)
		return;
	db_worker_free(db);
	db_ckpt_stop(db);
	if (db->in_txn)
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	for (i = 0; i < ST_MAX; i++)
		sqlite3_finalize(db->st[i]);
	db_filter_close(db);
	db_pack_close(db);
	db_counts_forget(db);
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
int
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
	/* "The checkpointer", above: where writes are not parked at the
	 * bound, let this BEGIN restart the WAL. */
	if (db_ckpt_loop_copies(db))
		db_ckpt_catch_up(&db->ckpt, db->h);
	if (db_step_done(db, db->st[ST_BEGIN], "begin") == -1)
		return (-1);
	db->in_txn = 1;
	db->failed = 0;
	db->changes_begin = sqlite3_total_changes64(db->h);
	return (0);
}

/*
 * Begin (or go on with) a transaction that updates or deletes notification
 * rows.  Their triggers (schema 7) change notification_counts at once, but
 * the rows stored earlier in this transaction are counted only in C until
 * commit (db_counts_note): write those counts first, or the trigger finds
 * no row to take a deleted row from and the commit adds it back (a phantom
 * totalCount), or counts an updated row twice.  Every writer that touches
 * stored notifications begins here.
 */
int
db_begin_rewrite(struct db *db)
{
	if (db_begin(db) == -1 || db_counts_flush(db) == -1)
		return (-1);
	return (0);
}

int
db_in_txn(const struct db *db)
{
	return (db->in_txn);
}

/*
 * Whether the last db_commit that succeeded wrote a row.  A commit with
 * nothing in it (a read kicked the commit event, a prune found nothing)
 * succeeds on a full disk too: it must not tell the server the store
 * writes again (issue 15, item 5).
 */
int
db_commit_wrote(const struct db *db)
{
	return (db->commit_wrote);
}

/* The first commit after a park: its BEGIN restarted the log, or a
 * reader that began before the log was all copied kept it from that
 * ("The checkpointer"): then the park was for nothing, and parking
 * waits a while. */
static void
db_park_committed(struct db *db)
{
	struct db_ckpt	*c = &db->ckpt;
	int		 same;

	if (!c->park_released)
		return;
	c->park_released = 0;
	pthread_mutex_lock(&c->lock);
	same = c->gen == c->park_gen && c->pages >= DB_CKPT_HARD_PAGES;
	pthread_mutex_unlock(&c->lock);
	if (same)
		db_park_failed(db, "a reader kept the log from restarting");
}

int
db_commit(struct db *db, const char **cause)
{
	int	failed = db->failed;

	*cause = NULL;
	db->commit_wrote = 0;
	if (!db->in_txn && !failed)
		return (0);
	db->failed = 0;
	if (db->in_txn && !failed) {
		int64_t	start = util_mono_us();

		db->in_txn = 0;
		if (db_counts_flush(db) == 0 &&
		    db_step_done(db, db->st[ST_COMMIT], "commit") == 0) {
			db->commit_us = util_mono_us() - start;
			db_park_committed(db);
			db->commit_wrote = sqlite3_total_changes64(db->h) !=
			    db->changes_begin;
			db->seq_committed = db->seq_handed;
			db->rows_committed += db->rows_pending;
			db->rows_pending = 0;
			return (0);
		}
	}
	/* Something failed: whatever this transaction wrote is gone.  Its
	 * sequence numbers stay used (a gap): waiters and streams may have
	 * been told of nothing after db->seq_committed, but a number must never
	 * name two different deliveries. */
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	db->in_txn = 0;
	db->rows_pending = 0;
	/* A dictionary this transaction stored is gone too (db_pack.c),
	 * and so are the counts of its notifications. */
	db_pack_forget(db);
	db_counts_forget(db);
	*cause = db->err;
	return (-1);
}

void
db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

void
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
	const void	*blob = NULL;
	size_t		 i, blob_len = 0;
	int64_t		 dict = 0;
	char		*key;
	int		 any, packed;

	if (db_begin(db) == -1)
		return (-1);
	d->seq = db->seq_handed + 1;
	/* The large texts go packed (db_pack.c), or, if that fails, plain. */
	packed = db_pack(db, d, &blob, &blob_len, &dict) == 0;
	if (db->failed)
		return (-1);
	sqlite3_bind_int64(st, 1, d->seq);
	sqlite3_bind_int64(st, 2, d->received);
	db_bind_text(st, 3, d->remote);
	db_bind_text(st, 4, d->method);
	db_bind_text(st, 5, d->path);
	db_bind_text(st, 6, packed ? "" : d->headers ? d->headers : "[]");
	sqlite3_bind_blob(st, 7, !packed && d->body_len ? d->body : "",
	    packed ? 0 : (int)d->body_len, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, d->status);
	sqlite3_bind_text(st, 9, !packed && d->response ? d->response : "",
	    packed ? 0 : (int)d->response_len, SQLITE_STATIC);
	db_bind_text(st, 10, d->origin);
	db_bind_text(st, 11, d->token_fp);
	db_bind_text(st, 12, packed ? NULL : d->payload);
	db_bind_text(st, 13, packed ? NULL : d->recipients);
	db_bind_text(st, 14, d->title);
	db_bind_text(st, 15, d->topic);
	db_bind_text(st, 16, d->severity);
	db_bind_text(st, 17, d->entities ? d->entities : "[]");
	db_bind_text(st, 18, packed ? "" : d->users ? d->users : "[]");
	db_bind_text(st, 19, d->ids ? d->ids : "[]");
	db_bind_text(st, 20, packed ? "" : d->diagnoses ? d->diagnoses : "[]");
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
	if (packed) {
		sqlite3_bind_blob(st, 26, blob, (int)blob_len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 27, dict);
	} else {
		sqlite3_bind_null(st, 26);
		sqlite3_bind_null(st, 27);
	}
	if (db_step_done(db, st, "storing a delivery") == -1)
		return (-1);
	db->seq_handed = d->seq;
	db->rows_pending++;
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
	return (db->seq_committed);
}

int64_t
db_seq_next(const struct db *db)
{
	return (db->seq_handed + 1);
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
	if (db_step_done(db, st, "storing a notification") == -1)
		return (-1);
	db_counts_note(db, n);
	return (0);
}

char *
db_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char	*s = sqlite3_column_text(st, i);

	return (s == NULL ? NULL : xstrdup((const char *)s));
}

void
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

	if (db_begin_rewrite(db) == -1)
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
	    f != NULL ? f->since : 0, db->seq_handed, deleted, notifs));
}

int64_t
db_seq_last(const struct db *db)
{
	return (db->seq_handed);
}

int64_t
db_first_seq(struct db *db)
{
	sqlite3_stmt	*st = db->st[ST_FIRST_SEQ];
	int64_t		 seq = 0;

	if (sqlite3_step(st) == SQLITE_ROW)
		seq = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
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
	if (db_begin_rewrite(db) == -1)
		return (-1);
	/* The numbers of the rows about to go stay used for ever. */
	sqlite3_bind_int64(db->st[ST_STATE_SEQ], 1, db->seq_handed);
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
	db->rows_pending -= *deleted;
	return (0);
}

int64_t
db_rows(const struct db *db)
{
	return (db->rows_committed);
}

int64_t
db_commit_us(const struct db *db)
{
	return (db->commit_us);
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
	if (keep > 0 && db->rows_committed + db->rows_pending > keep)
		n = db->rows_committed + db->rows_pending - keep;
	if (n > max)
		n = max;
	/* The newest of the n oldest, and of the oldest before before_ms
	 * (received grows with seq, near enough: only the oldest are
	 * looked at, never the whole table). */
	st = db->st[ST_PRUNE_OLDEST];
	sqlite3_bind_int64(st, 1, db->seq_committed);
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
	sqlite3_reset(st);
	if (x == 0)
		return (0);
	if (db_begin_rewrite(db) == -1)
		return (-1);
	sqlite3_bind_int64(db->st[ST_STATE_SEQ], 1, db->seq_handed);
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
	db->rows_pending -= *deleted;
	*upto = x;
	return (0);
}
