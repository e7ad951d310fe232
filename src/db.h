/*
 * db.h: the store.  db.c and its db_*.c files (db_int.h) are the only files
 * that include sqlite3.h.
 *
 * Writes happen inside one transaction per event-loop iteration: the first
 * write opens it (db_begin), the server's commit event closes it
 * (db_commit), and replies to the requests that wrote wait for that commit.
 * Reads inside the same iteration see the uncommitted writes; those of the
 * read worker (db_job_submit) see committed rows only.
 *
 * Strings passed in are borrowed for the duration of the call.  Structures
 * filled by db_* (struct db_notification) own their strings: release them
 * with db_notification_clear().
 */
#ifndef NOTIMOCK_DB_H
#define NOTIMOCK_DB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct db;

struct db_delivery {
	int64_t		 seq;		/* set by db_delivery_add */
	int64_t		 received;	/* epoch ms */
	const char	*remote;	/* "127.0.0.1:53211" */
	const char	*method;
	const char	*path;		/* as requested, with the query */
	const char	*headers;	/* JSON array of [name, value], redacted */
	const void	*body;
	size_t		 body_len;
	size_t		 body_size;	/* if more than body_len: body holds
					   only the start of this many */
	int		 status;
	const char	*response;	/* the body answered */
	size_t		 response_len;
	const char	*origin;	/* subject, or NULL if unauthenticated */
	const char	*token_fp;	/* fingerprint of the presented token */
	const char	*payload;	/* JSON, when the body parsed */
	const char	*recipients;	/* JSON, when the body parsed */
	const char	*title, *topic, *severity;	/* for filters */
	const char	*entities;	/* JSON array of entity refs addressed */
	const char	*users;		/* JSON array of users it reached */
	const char	*ids;		/* JSON array of notification ids */
	const char	*diagnoses;	/* JSON array, or NULL */
	int64_t		 duration_us;
	const char	*fault;		/* JSON of the fault rule that answered */
	int		 attempt;	/* 1, or which retry (diag.c) */
	int64_t		 retry_of;	/* seq of the first attempt, or 0 */
	/* Entity refs addressed, for the delivery_entities index. */
	const char	**entity_v;
	size_t		 entity_n;
};

struct db_notification {
	char		*id;
	char		*user;		/* NULL for a broadcast */
	int64_t		 created;	/* epoch ms; 0 = unset for the others */
	int64_t		 saved, read, updated;
	char		*origin;
	char		*title, *description, *link, *topic, *severity;
	char		*scope, *icon;
	char		*metadata;	/* JSON object text, or NULL */
	int64_t		 delivery_seq;
};

/* Open (creating and migrating as needed).  sync_full: fsync every commit.
 * Returns NULL and *cause on failure. */
struct db	*db_open(const char *path, int sync_full, char **cause);
void		 db_close(struct db *);
const char	*db_version(void);
/* The fingerprint key of this database (32 bytes), made with random the
 * first time.  Returns -1 with *cause on error. */
int		 db_fingerprint_key(struct db *, unsigned char key[32],
		    void (*random)(void *, size_t), char **cause);

/* Open the iteration's transaction if none is open.  Returns -1 on failure. */
int		 db_begin(struct db *);
int		 db_in_txn(const struct db *);
int		 db_commit_wrote(const struct db *);
/* Commit the open transaction (no-op if none).  Returns -1 if it, or any
 * write since db_begin, failed: then nothing since db_begin is stored, and
 * *cause (static text) says why. */
int		 db_commit(struct db *, const char **cause);
/* On a full disk: give back FILE-reserve and empty the WAL into the
 * database, so that the writes after it (a reset) have room.  Returns -1
 * (db_errmsg says why) if the WAL could not be emptied. */
int		 db_make_room(struct db *);
/* 1 if the store's filesystem has less room than FILE-reserve holds:
 * a reset must make room then even if the last commit went through (an
 * empty or small one does, on a full disk). */
int		 db_room_low(struct db *);
/* Take FILE-reserve again if it is missing and there is room. */
void		 db_reserve(struct db *);
/* The last error text of this connection (static; for 503 bodies). */
const char	*db_errmsg(const struct db *);

/* Store one delivery; sets d->seq.  Returns -1 on failure. */
int		 db_delivery_add(struct db *, struct db_delivery *d);
/* Replace the fault JSON of a stored delivery (the client left during a
 * fault's delay).  A write.  Returns -1 on failure. */
int		 db_delivery_set_fault(struct db *, int64_t seq,
		    const char *fault);
/*
 * The cursor: the sequence number of the last committed delivery.  Every
 * delivery query (list, count, get, misses, entities) sees only rows up to
 * it, so nothing a failed commit takes back is ever reported.  Numbers
 * never repeat for the life of a database file: a delete records the
 * highest one handed out, and a rolled-back transaction leaves a gap.
 */
int64_t		 db_cursor(const struct db *);
/* The sequence number the next delivery will get. */
int64_t		 db_seq_next(const struct db *);

/* A notification to store: every string borrowed (NULL: none). */
struct db_notification_new {
	const char	*id;
	const char	*user;		/* NULL for a broadcast */
	int64_t		 created;	/* epoch ms */
	int64_t		 saved, read, updated;	/* 0: unset */
	const char	*origin;
	const char	*title, *description, *link, *topic, *severity;
	const char	*scope, *icon;
	const char	*metadata;	/* JSON object text, or NULL */
	int64_t		 delivery_seq;
};

int		 db_notification_insert(struct db *,
		    const struct db_notification_new *);
/* Find the notification with this scope and origin, for user (NULL: a
 * broadcast).  Returns 1 and fills *out, 0 if none, -1 on error. */
int		 db_notification_find_scope(struct db *, const char *user,
		    const char *scope, const char *origin,
		    struct db_notification *out);
/* Backstage's scope re-send: replace title, severity and metadata (NULL
 * clears it), replace description/link/topic only when non-NULL, set
 * updated; reset_read also clears read. */
int		 db_notification_rescope(struct db *, const char *id,
		    const struct db_notification_new *n, int reset_read);
int		 db_notification_get(struct db *, const char *id,
		    struct db_notification *out);
void		 db_notification_clear(struct db_notification *);

/* --- deliveries: queries for the assertion API --- */

/*
 * A delivery filter (doc/mock-api.md, "Filters").  Its one evaluator,
 * db_filter_check(), runs in C against a record (for waiters and streams)
 * and inside SQLite as the function notimock_filter() (for listing,
 * counting and deleting), so the two can never disagree.
 */
#define DB_F_ENTITY		0x01
#define DB_F_TOPIC		0x02
#define DB_F_SEVERITY		0x04
#define DB_F_ORIGIN		0x08
#define DB_F_STATUS		0x10
#define DB_F_SINCE		0x20
#define DB_F_Q			0x40
#define DB_F_REACHED		0x80
#define DB_F_CLEAN		0x100
#define DB_F_RETRY		0x200

#define DB_STATUS_ANY		0
#define DB_STATUS_ACCEPTED	(-1)	/* 2xx */
#define DB_STATUS_REJECTED	(-2)	/* anything else */

/* Owns every string; zero it to start, release with db_filter_clear(). */
struct db_filter {
	char		**entity_v;	/* as given, for messages */
	char		**entity_key;	/* canonical "kind:ns/name" or "ns/name" */
	int		 *entity_anykind;
	size_t		  entity_n;
	char		 *topic, *severity, *origin, *q;
	int		  status;	/* DB_STATUS_* or an HTTP code */
	int		  retry;	/* 1: only retries, -1: none, 0: any */
	int64_t		  since;	/* only seq > since */
	int		  reached;	/* 1: stored a notification; -1: none */
	int		  clean;	/* 1: no warning or error diagnosis;
					 * -1: at least one */
};

/* A stored delivery as read back; owns its strings (db_record_clear). */
struct db_record {
	int64_t		 seq, received, duration_us;
	int		 status;
	char		*remote, *method, *path, *headers;
	unsigned char	*body;
	size_t		  body_len;
	int64_t		  body_size;	/* original size if truncated, or 0 */
	char		*response, *origin, *token_fp, *payload, *recipients;
	char		*title, *topic, *severity;
	char		*description;	/* payload.description, if any */
	char		*entities, *users, *ids, *diagnoses;	/* JSON arrays */
	char		*fault;		/* JSON object, or NULL */
	int		 attempt;
	int64_t		 retry_of;	/* 0: a first attempt */
};

/* One (ref, severity, topic, accepted) group of db_entities_scan(). */
struct db_entity_group {
	const char	*ref;		/* canonical when it parses */
	const char	*severity, *topic;	/* NULL when unset */
	int		 accepted;
	int64_t		 count, last_seq, last_received;
};

/* A delivery that missed a filter, with the filters it failed. */
struct db_miss {
	int64_t		 seq;
	unsigned int	 failed;	/* DB_F_* bits */
};

/* Add an entity filter value (repeatable).  A value without a kind
 * matches that namespace/name with any kind.  Returns -1 and writes a
 * message to err if it is not an entity ref. */
int		 db_filter_add_entity(struct db_filter *, const char *ref,
		    char *err, size_t errlen);
void		 db_filter_clear(struct db_filter *);
/* The DB_F_* bits of the filters r fails; 0 if it matches. */
unsigned int	 db_filter_check(const struct db_filter *,
		    const struct db_record *r);
/* Does a Backstage signal to user (NULL: everyone) pass the filter?  Only
 * entity filters can match one (the recipient, or any for a broadcast);
 * the others describe deliveries, which a signal is not. */
int		 db_filter_signal(const struct db_filter *, const char *user);

void		 db_record_clear(struct db_record *);
void		 db_records_free(struct db_record *, size_t n);

/* Deliveries matching f (NULL: all), newest first (oldest first if
 * ascending), skipping offset, at most limit (-1: no limit).  *out is an
 * array the caller frees with db_records_free.  Returns -1 on error. */
int		 db_deliveries_list(struct db *, const struct db_filter *f,
		    int ascending, int64_t limit, int64_t offset,
		    struct db_record **out, size_t *n);
/*
 * Reads of many deliveries (list, count, entities, misses) look at no more
 * than the newest 2,000 candidate rows after since: those the indexes
 * give for the equality filters (topic, severity, origin, an exact status,
 * entity), or the newest 2,000 sequence numbers when none applies; 500
 * for a filter that unpacks each row (q, clean).  This says whether the last such read saw every candidate (1), or only those
 * after *from (0).
 */
int		 db_scan_complete(const struct db *, int64_t *from);
/* How many deliveries match f (*total) and, of those, up to limit from
 * offset, newest first: db_deliveries_count() and db_deliveries_list() in
 * one pass over the candidates, for the assertion API's answers (so the
 * records' description may be left NULL).  Returns -1 on error. */
int		 db_deliveries_page(struct db *, const struct db_filter *f,
		    int64_t limit, int64_t offset, int64_t *total,
		    struct db_record **out, size_t *n);
/* Number of deliveries matching f, or -1 on error. */
int64_t		 db_deliveries_count(struct db *, const struct db_filter *f);
/* One delivery: 1 and *out filled, 0 if there is none, -1 on error. */
int		 db_delivery_get(struct db *, int64_t seq, struct db_record *out);
/* The (at most max) deliveries after f->since that fail f with the fewest
 * failed filters, newest first among equals.  Returns -1 on error. */
int		 db_deliveries_misses(struct db *, const struct db_filter *f,
		    struct db_miss *out, size_t max, size_t *n);
/* Delete the deliveries matching f and, unless keep_notifications, the
 * notifications they created (with broadcast read/saved state).  A write:
 * runs in the iteration's transaction.  Returns -1 on error. */
int		 db_deliveries_delete(struct db *, const struct db_filter *f,
		    int keep_notifications, int64_t *deleted, int64_t *notifs);
/* The same for the deliveries numbered in (lo, hi] only (a slice of a
 * large reset). */
int		 db_deliveries_delete_range(struct db *, const struct db_filter *,
		    int keep_notifications, int64_t lo, int64_t hi,
		    int64_t *deleted, int64_t *notifs);
/* The last sequence number handed out (perhaps not yet committed), and the
 * lowest one stored (0: none). */
int64_t		 db_seq_last(const struct db *);
int64_t		 db_first_seq(struct db *);
/* Deliveries stored (committed). */
int64_t		 db_rows(const struct db *);
/* How long the last commit took, in microseconds (for the logs of work
 * done in slices: their loop time is the slice's and its commit's). */
int64_t		 db_commit_us(const struct db *);
/*
 * Space: a store made by a notimock with schema 6 or later frees pages
 * incrementally.  db_free_pages is how many pages the file holds unused
 * (0 for an older file, which keeps them for later rows); db_vacuum gives
 * DB_VACUUM_PAGES of them back to the file system, a write in the
 * iteration's transaction (the file shrinks at the next checkpoint).
 */
int64_t		 db_free_pages(struct db *);
/* Bytes of the database file in use (its pages less the free ones). */
int64_t		 db_used_bytes(struct db *);
int		 db_vacuum(struct db *);
/*
 * 1: work that can wait (a reset's or retention's next slice, db_vacuum)
 * should wait (try again in a few ms) while the checkpointer copies the
 * WAL back, so that such work never brings the WAL to the bound where the
 * loop would copy it itself (db.c, "the checkpointer").
 */
int		 db_wal_wait(struct db *);
/*
 * Parking writes while the checkpointer copies the WAL at its bound, so
 * that the loop never copies it itself (db.c, "The checkpointer"); the
 * server holds the requests (server.c, server_park).  db_park_fd: the
 * descriptor that becomes readable when the thread has copied all it saw
 * (the loop then calls db_park_poll), or -1: no parking (no checkpointer);
 * calling it turns parking on.  db_park_begin: 1 = a write that would
 * begin a transaction now waits (a park starts, if none has); 0 = go on.
 * db_park_poll: 1 = the parked writes go now (the WAL is all copied, the
 * next BEGIN restarts it; or parking gave up after DB_PARK_MAX_MS, which
 * it logs); 0 = keep them.  db_park_give_up: end the park now (the
 * server's memory bound), today's path for a while.
 */
int		 db_park_fd(struct db *);
int		 db_park_begin(struct db *);
int		 db_park_poll(struct db *);
void		 db_park_give_up(struct db *, const char *why);
/* Since the start: the loop's own copies of the WAL at its bound and the
 * longest; parks, the longest, and those given up (/metrics). */
struct db_wal_stats {
	int64_t		 loop_copies;
	int64_t		 loop_copy_us_max;
	int64_t		 parks;
	int64_t		 park_us_max;
	int64_t		 park_fallbacks;
};
void		 db_wal_stats(struct db *, struct db_wal_stats *);
/*
 * Retention: delete at most max of the oldest deliveries, those beyond
 * the newest keep (0: no cap) and those received before before_ms (0: no
 * limit), with the notifications they created.  A write.  *upto gets the
 * last seq deleted (0: nothing to do).  Returns -1 on error.
 */
int		 db_prune(struct db *, int64_t keep, int64_t before_ms,
		    int64_t max, int64_t *deleted, int64_t *notifs,
		    int64_t *upto);
/* Call cb for each group of entity refs addressed by deliveries matching
 * f.  Returns -1 on error. */
int		 db_entities_scan(struct db *, const struct db_filter *f,
		    void (*cb)(void *, const struct db_entity_group *), void *arg);

/* --- notifications: the read side --- */

/*
 * Which of a user's notifications to read: their own plus every broadcast
 * (with the user's own read/saved state for broadcasts), filtered as
 * Backstage's getNotificationsBaseQuery filters them.  Zero it, then set
 * what applies; strings are borrowed.
 */
struct db_nquery {
	const char		*user;
	const char		*id;		/* only this id */
	const char		*ids_json;	/* only these (a JSON array) */
	const char		*topic;		/* equal */
	const char		*search;	/* in title or description */
	int			 read, saved;	/* 0 either, 1 set, -1 unset */
	int			 has_created_after;
	int64_t			 created_after;	/* epoch ms, inclusive */
	int			 min_severity;	/* 0 any, else 1 + index in
						   critical, high, normal, low */
	/* orderField: column names as the client sent them, each with 0
	 * (the database's default, ascending), 1 (asc) or 2 (desc).  No
	 * order_field means "created desc". */
	const char *const	*order_field;
	const int		*order_dir;
	size_t			 norder;
	int			 unordered;	/* no ORDER BY at all */
	int64_t			 limit, offset;	/* -1: none */
};

/* One user_settings row: topic NULL is the origin's own switch. */
struct db_setting {
	char		*channel, *origin, *topic;
	int		 enabled;
};

/* The notifications q selects, in order.  *out (free with
 * db_notifications_free) holds user NULL for broadcasts.  Returns -1 on
 * error, also for an orderField that names no column (db_errmsg says
 * which). */
int		 db_notification_list(struct db *, const struct db_nquery *q,
		    struct db_notification **out, size_t *n);
void		 db_notifications_free(struct db_notification *, size_t);
/* How many q selects, ignoring limit, offset and order; -1 on error. */
int64_t		 db_notification_count(struct db *, const struct db_nquery *q);
/* The list's page and *total = its count, as GET /notifications answers
 * them (the count first: a page past it reads no rows); -1 on error. */
int		 db_notification_page(struct db *, const struct db_nquery *q,
		    struct db_notification **out, size_t *n, int64_t *total);
/* The user's read and unread counts (broadcasts included). */
int		 db_notification_status(struct db *, const char *user,
		    int64_t *unread, int64_t *read);
/* The distinct topics q selects, ascending; free with strv_free (util.h). */
int		 db_notification_topics(struct db *, const struct db_nquery *q,
		    char ***topics, size_t *n);
/* Set (1, to now) or clear (-1) read and saved (0 leaves it) on the ids
 * (a JSON array) the user owns, and in broadcast_user_status for the
 * broadcasts among them.  A write.  Returns -1 on error. */
int		 db_notification_mark(struct db *, const char *user,
		    const char *ids_json, int read, int saved, int64_t now);
/* The origins of the user's own (non-broadcast) notifications, and their
 * distinct (origin, topic) pairs with a topic, in order of appearance. */
int		 db_user_origins(struct db *, const char *user, char ***origins,
		    size_t *n);
int		 db_user_topics(struct db *, const char *user, char ***origins,
		    char ***topics, size_t *n);
/* The user's settings rows, in the order they were saved. */
int		 db_settings_get(struct db *, const char *user,
		    struct db_setting **out, size_t *n);
/* Replace all of the user's settings rows.  A write. */
int		 db_settings_replace(struct db *, const char *user,
		    const struct db_setting *v, size_t n);
void		 db_settings_free(struct db_setting *, size_t);

/* --- the read worker (db_worker.c) --- */

/*
 * A read run off the loop, by a thread with its own read-only connection
 * (one read transaction per job: committed rows only).  The owner embeds
 * it and sets run and done.  run is called on the worker thread with the
 * worker's struct db, on which only db_read.c's reads (db_notification_*)
 * may be called; it records a failure in failed and err.  done is called
 * on the loop, once for every job submitted, after run or instead of it:
 * cancelled (db_job_cancel: run skipped or interrupted), stopped (the
 * server stopped before it ran).  Without a worker (a :memory: store)
 * submit calls run with the loop's own db, then done, before it returns.
 */
struct db_job {
	void			(*run)(struct db *, struct db_job *);
	void			(*done)(struct db_job *);
	int			 cancelled;
	int			 stopped;
	int			 failed;
	char			 err[256];
	TAILQ_ENTRY(db_job)	 entry;
};
void		 db_job_submit(struct db *, struct db_job *);
/* Its client left: skip run, or interrupt it if it is running; done is
 * still called. */
void		 db_job_cancel(struct db *, struct db_job *);
/* The descriptor that is readable when jobs are done (the loop watches it
 * and calls db_worker_reap), or -1: no worker. */
int		 db_worker_fd(struct db *);
void		 db_worker_reap(struct db *);
/* Interrupt the read running, stop the thread; the jobs left are done
 * (stopped) at the next db_worker_reap.  Bounded. */
void		 db_worker_stop(struct db *);

#endif
