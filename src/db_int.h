/*
 * db_int.h: what the files of the store share (db.c, db_filter.c,
 * db_deliveries.c, db_read.c, db_pack.c), and nothing else includes.
 * These are the only files that include sqlite3.h (and db_pack.c the only
 * one that includes zlib.h).
 *
 *	db.c		the connection, migrations, fixed statements, the
 *			per-iteration transaction, the checkpointer, and the
 *			writes (store, delete, prune)
 *	db_filter.c	the assertion API's filter language: its one
 *			evaluator in C, the SQL functions that call it, and
 *			the WHERE clauses and scan bound built from a filter
 *	db_deliveries.c	reading deliveries back (list, count, get, misses,
 *			entities)
 *	db_read.c	Backstage's read side (notifications as a user sees
 *			them) and user settings
 *	db_pack.c	a delivery's large texts packed into one column
 */
#ifndef NOTIMOCK_DB_INT_H
#define NOTIMOCK_DB_INT_H

#include <pthread.h>
#include <stdint.h>

#include <sqlite3.h>

#include "db.h"

/* The statements prepared once, at open (db_sql[] in db.c). */
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
	ST_FIRST_SEQ,
	ST_PRUNE_OLDEST,
	ST_FREE_PAGES,
	ST_VACUUM,
	ST_PACK_DICT_ADD,
	ST_PACK_DICT_GET,
	ST_COUNTS_ADD,
	ST_MAX
};

/* A delivery record's columns (db_row_record()), for db_sql and the
 * filtered queries built below. */
#define DB_REC_COLS "d.seq, d.received, d.remote, d.method, d.path, " \
	"d.headers, d.body, d.status, d.response, d.origin, d.token_fp, " \
	"d.payload, d.recipients, d.title, d.topic, d.severity, d.entities, " \
	"d.users, d.ids, d.diagnoses, d.duration_us, " DB_DESC_EXPR \
	", d.body_size, d.fault, d.attempt, d.retry_of, d.packed, d.dict"
#define DB_DESC_EXPR "CASE WHEN json_valid(d.payload) THEN " \
	"json_extract(d.payload, '$.description') END"

#define DB_NOTIF_COLS "id, user, created, saved, read, updated, origin, " \
	"title, description, link, topic, severity, scope, icon, metadata, " \
	"delivery_seq"

/* What happened at the WAL's bound, for a line a minute (db.c). */
struct db_ckpt_tell {
	int64_t		 n, us_max, at;
};

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
	int64_t		 hold_since;	/* monotonic us */
	unsigned int	 gen;		/* the log's restarts the hook saw */
	unsigned int	 pass_gen;	/* gen when the last pass began */
	int		 pass_log;	/* its frames in the log, or -1 */
	int		 pass_done;	/* and those copied */
	/* The loop's own copies at the bound (db_ckpt_told; loop only). */
	struct db_ckpt_tell told;
	/*
	 * Parking (db_park_begin): park is the loop's ask to the thread
	 * (pass without rest, write park_fd after a pass that copied all it
	 * saw); the rest is the loop's own.
	 */
	int		 park;
	int		 park_fd;	/* an eventfd, or -1 */
	int		 park_on;	/* a server parks writes (db_park_fd) */
	int64_t		 park_since;	/* monotonic us; 0: nothing parked */
	int64_t		 fallback_until; /* today's path till then (us) */
	int		 park_released;	/* its writes not committed yet */
	unsigned int	 park_gen;	/* gen when the last park ended */
	struct db_ckpt_tell park_told;
	int64_t		 park_warned_at;
	struct db_wal_stats stats;	/* db_wal_stats */
};

/* Statements of delivery reads kept for reuse (db_filter_prepare). */
#define DB_KEPT_MAX	16

struct db {
	sqlite3		*h;
	struct db_ckpt	 ckpt;
	sqlite3_stmt	*st[ST_MAX];
	struct db_pack	*pack;		/* db_pack.c */
	/* notification_counts' changes in the open transaction, written
	 * once per key at commit (db_read.c: db_counts_note). */
	struct db_count	*counts;
	size_t		 ncounts;
	int		 incremental;	/* auto_vacuum = INCREMENTAL */
	int		 in_txn;
	sqlite3_int64	 changes_begin;	/* sqlite3_total_changes64 at BEGIN */
	int		 commit_wrote;	/* the last db_commit wrote rows */
	int		 failed;	/* a write in this transaction failed */
	/*
	 * Sequence numbers: seq_handed is the last one handed out (perhaps
	 * in the open transaction), seq_committed the last one on disk.
	 * Readers of the assertion API see only committed rows (db_cursor);
	 * a rolled-back transaction leaves a gap, never a number handed out
	 * twice.
	 */
	int64_t		 seq_handed;
	int64_t		 seq_committed;
	/* Rows of deliveries: those committed, and the open transaction's
	 * change to that, added at commit (for retention's count cap). */
	int64_t		 rows_committed;
	int64_t		 rows_pending;
	/* What the last bounded read looked at (db_scan_bound). */
	int		 scan_complete;
	int64_t		 scan_from;
	char		 err[256];
	char		*reserve;	/* "FILE-reserve" (db_make_room) */
	int		 secure_delete;	/* to restore after it, or -1 */
	int64_t		 commit_us;	/* the last COMMIT took (db_commit_us) */
	int64_t		 wal_wait_since; /* db_wal_wait: monotonic us, or 0 */
	struct db_worker *worker;	/* the read worker (db_worker.c) */
	int		 wal_wait_told;
	/* Statements of delivery reads, kept (db_filter.c). */
	sqlite3_stmt	*kept[DB_KEPT_MAX];
	uint64_t	 kept_at[DB_KEPT_MAX];
	uint64_t	 kept_clock;
};

/* Pages one db_vacuum() gives back (256 KiB: each page moved rewrites
 * its parent, so a step stays within a few ms). */
#define DB_VACUUM_PAGES	64

/*
 * Reads of many deliveries look at no more than this many candidate rows
 * (db_scan_bound, db.h's db_scan_complete).
 */
#define DB_SCAN_MAX	2000
/* ... and this many when each must be unpacked (q, clean: db_scan_max). */
#define DB_SCAN_UNPACK_MAX	500

/* notimock_filter's last two arguments: a packed row's fields, when f
 * reads them (db_filter.c). */
#define DB_FILTER_PACKED(f) \
	((f)->q != NULL || (f)->clean != 0 ? "d.packed, d.dict" : "NULL, NULL")

/* An empty filter: every delivery (db_filter.c). */
extern const struct db_filter db_no_filter;

/* db.c */
void		 db_seterr(struct db *, const char *what);
int		 db_step_done(struct db *, sqlite3_stmt *, const char *what);
void		 db_bind_text(sqlite3_stmt *, int, const char *);
void		 db_bind_time(sqlite3_stmt *, int, int64_t);
char		*db_col_text(sqlite3_stmt *, int);
void		 db_row_notification(sqlite3_stmt *, struct db_notification *);

/* db_worker.c: start the read worker on the store at path (after the
 * migrations); db_worker_free stops it and closes its connection. */
int		 db_worker_start(struct db *, const char *path, char **cause);
void		 db_worker_free(struct db *);

/* db_pack.c: the packed fields of a delivery (headers, body, response,
 * payload, recipients, users, diagnoses).  db_pack's *out is borrowed
 * until the next call; -1: store the plain columns instead.  db_unpack
 * fills those fields of r (they must be NULL) and, if asked, its
 * description (payload.description). */
struct db_pack;
int		 db_pack_open(struct db *, char **cause);
void		 db_pack_close(struct db *);
void		 db_pack_forget(struct db *);
/* db_read.c: a notification row stored in the open transaction counts
 * (schema 8: no trigger on insert); db_counts_flush writes those counts
 * before COMMIT, db_counts_forget drops them (a rollback, the close). */
void		 db_counts_note(struct db *, const struct db_notification_new *);
int		 db_counts_flush(struct db *);
void		 db_counts_forget(struct db *);
/* db.c: db_begin for a writer that updates or deletes notification rows:
 * the counts noted so far go to the table first, for its triggers. */
int		 db_begin_rewrite(struct db *);
int		 db_pack(struct db *, const struct db_delivery *,
		    const void **out, size_t *outlen, int64_t *dict);
int		 db_unpack(struct db *, const void *packed, size_t len,
		    int64_t dict, int description, struct db_record *r);
/* payload.description, if a string (for a packed row read with
 * description 0); caller frees. */
char		*db_unpack_description(const char *payload);

/* db_deliveries.c */
void		 db_row_record(struct db *, sqlite3_stmt *, struct db_record *);

/* db_filter.c */
int		 db_assert_functions(struct db *, char **cause);
char		*db_ref_key(const char *ref, int any);
/* Do f's indexed equalities alone decide it (no notimock_filter)? */
int		 db_filter_exact(const struct db_filter *);
char		*db_filter_where(const struct db_filter *, int fn);
char		*db_filter_count_sql(const struct db_filter *);
int64_t		 db_scan_max(const struct db_filter *);
sqlite3_stmt	*db_filter_prepare(struct db *, char *sql,
		    const struct db_filter *, int64_t lo, int64_t upto);
/* Give back a statement of db_filter_prepare (kept for the next read of
 * the same SQL); NULL is ignored.  db_filter_close finalizes those kept. */
void		 db_filter_done(struct db *, sqlite3_stmt *);
/* A kept statement of this SQL, or a new one (kept by db_filter_done). */
sqlite3_stmt	*db_kept_prepare(struct db *, const char *sql);
void		 db_filter_close(struct db *);
/* After db_scan_bound(f): 1 if it stopped at its bound on rows that are
 * all matches (exactly db_scan_max(f) of them, no count needed). */
int		 db_scan_counted(const struct db *, const struct db_filter *);
int64_t		 db_scan_bound(struct db *, const struct db_filter *);

#endif
