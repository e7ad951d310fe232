/*
 * db_worker.c: the read worker.  A thread with a read-only SQLite
 * connection of its own runs the reads that may look at every row a user
 * sees (api_read.c's lists: a search, another order, createdAfter, a
 * filter whose matches are rare), so the event loop never waits for one
 * (issue 11: a search over 1 M notifications held it 0.5-0.7 s).
 *
 * One thread, not a pool.  The machine it is measured on has 2 cores and
 * the loop needs one: a second reader would take that core from the loop
 * while both run, and would not make one read faster.  And one reader
 * leaves a moment between any two reads when it holds no snapshot of the
 * WAL; two could overlap for ever under a steady flow of searches, and
 * the checkpointer (db.c) could never restart the log.
 *
 * The loop submits jobs (db_job_submit).  The thread runs job->run on its
 * own struct db, inside one read transaction (a list's count and its page
 * see the same rows; committed ones only: the loop's open transaction and
 * its pending counts are not visible here, which is what a 200 promises
 * anyway), then puts the job on the done list and writes an eventfd.  The
 * loop's event on that descriptor (server.c) calls db_worker_reap, which
 * calls job->done on the loop, once for every job submitted.  Nothing here
 * touches libevent.
 *
 * What run may call on the worker's struct db: db_read.c's reads (they
 * use db->h, db->err and db_seterr only; db_counts_flush has nothing
 * pending there), log.c (stdio locks each line), the x-family, json.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"
#include "db_int.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

/*
 * The thread's nice value above the loop's.  On a machine busier than its
 * cores (a CI runner, a shared node) the scheduler then gives the loop its
 * turn first, and a search's CPU comes from what is left: a read takes
 * longer, readiness and POSTs do not wait behind it.
 */
#define DB_WORKER_NICE		10
/* A read waits this long for a lock (WAL recovery, a TRUNCATE's moment). */
#define DB_WORKER_BUSY_MS	2000
/* Its page cache: a search reads the whole table once, which a cache
 * does not help, and the loop's 16 MiB stays the one that serves the
 * writes (RSS target 64 MiB, issue 11). */
#define DB_WORKER_CACHE		"PRAGMA cache_size = -4096"

struct db_worker {
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct db		*rdb;		/* the thread's own */
	int			 fd;		/* eventfd: jobs done */
	TAILQ_HEAD(, db_job)	 queue;		/* waiting, in order */
	TAILQ_HEAD(, db_job)	 done;		/* for db_worker_reap */
	struct db_job		*running;
	int			 stop;
	int			 joined;
	uint64_t		 njobs;
	int64_t			 longest_us;
};

/* Run one job in one read transaction. */
static void
db_worker_run(struct db_worker *w, struct db_job *job)
{
	struct db	*rdb = w->rdb;
	int64_t		 t0 = util_mono_us(), us;

	if (sqlite3_exec(rdb->h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		db_seterr(rdb, "read worker: BEGIN");
		job->failed = 1;
		snprintf(job->err, sizeof job->err, "%s", rdb->err);
	} else {
		job->run(rdb, job);
		/* Reads only: a COMMIT ends the snapshot (a ROLLBACK if a
		 * statement failed and SQLite ended it already).  An
		 * interrupt (db_job_cancel) landing inside the COMMIT fails
		 * it and leaves the transaction open: every later BEGIN
		 * would fail and the snapshot would pin the WAL, so end it
		 * with a ROLLBACK (the flag is gone once no statement runs). */
		if (!sqlite3_get_autocommit(rdb->h) &&
		    sqlite3_exec(rdb->h, "COMMIT", NULL, NULL, NULL) !=
		    SQLITE_OK && !sqlite3_get_autocommit(rdb->h) &&
		    sqlite3_exec(rdb->h, "ROLLBACK", NULL, NULL, NULL) !=
		    SQLITE_OK)
			log_warnx("db: read worker: cannot end a read: %s",
			    sqlite3_errmsg(rdb->h));
	}
	us = util_mono_us() - t0;
	pthread_mutex_lock(&w->lock);
	w->njobs++;
	if (us > w->longest_us)
		w->longest_us = us;
	pthread_mutex_unlock(&w->lock);
}

static void *
db_worker_main(void *arg)
{
	struct db_worker	*w = arg;
	struct db_job		*job;
	uint64_t		 one = 1;
	int			 skip;

	/* Linux: a thread's nice value is its own (setpriority on its id). */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
	    getpriority(PRIO_PROCESS, 0) + DB_WORKER_NICE) == -1)
		log_warnx("db: read worker: setpriority: %s", strerror(errno));
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->stop && TAILQ_EMPTY(&w->queue))
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		job = TAILQ_FIRST(&w->queue);
		TAILQ_REMOVE(&w->queue, job, entry);
		w->running = job;
		skip = job->cancelled;
		pthread_mutex_unlock(&w->lock);
		if (!skip)
			db_worker_run(w, job);
		pthread_mutex_lock(&w->lock);
		/* From here no db_job_cancel interrupts this connection for
		 * this job (a stale interrupt dies with the next statement's
		 * start: SQLite clears it when none is running). */
		w->running = NULL;
		TAILQ_INSERT_TAIL(&w->done, job, entry);
		if (write(w->fd, &one, sizeof one) == -1 && errno != EAGAIN)
			log_warnx("db: read worker: eventfd: %s",
			    strerror(errno));
	}
	pthread_mutex_unlock(&w->lock);
	return (NULL);
}

int
db_worker_start(struct db *db, const char *path, char **cause)
{
	struct db_worker	*w;
	struct db		*rdb;
	char			*err = NULL;

	w = xcalloc(1, sizeof *w);
	rdb = xcalloc(1, sizeof *rdb);
	w->rdb = rdb;
	w->fd = -1;
	TAILQ_INIT(&w->queue);
	TAILQ_INIT(&w->done);
	if (sqlite3_open_v2(path, &rdb->h, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		xasprintf(cause, "%s: read worker: %s", path, rdb->h ?
		    sqlite3_errmsg(rdb->h) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(rdb->h, DB_WORKER_BUSY_MS);
	/* temp_store as the loop's (a sort of every row with no LIMIT
	 * builds its b-tree in memory, as it did on the loop). */
	if (sqlite3_exec(rdb->h, DB_WORKER_CACHE, NULL, NULL, &err) !=
	    SQLITE_OK || sqlite3_exec(rdb->h, "PRAGMA temp_store = MEMORY",
	    NULL, NULL, &err) != SQLITE_OK) {
		xasprintf(cause, "%s: read worker: %s", path, err != NULL ?
		    err : sqlite3_errmsg(rdb->h));
		sqlite3_free(err);
		goto fail;
	}
	if ((w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		xasprintf(cause, "read worker: eventfd: %s", strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (pthread_create(&w->thread, NULL, db_worker_main, w) != 0) {
		xasprintf(cause, "%s: cannot start the read worker", path);
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
		goto fail;
	}
	db->worker = w;
	return (0);

fail:
	if (w->fd != -1)
		close(w->fd);
	sqlite3_close(rdb->h);
	free(rdb);
	free(w);
	return (-1);
}

int
db_worker_fd(struct db *db)
{
	return (db->worker != NULL && !db->worker->joined ? db->worker->fd :
	    -1);
}

void
db_job_submit(struct db *db, struct db_job *job)
{
	struct db_worker	*w = db->worker;

	job->cancelled = job->stopped = job->failed = 0;
	job->err[0] = '\0';
	if (w == NULL || w->joined) {
		/* No worker (a :memory: store): on the loop's connection. */
		job->run(db, job);
		job->done(job);
		return;
	}
	pthread_mutex_lock(&w->lock);
	TAILQ_INSERT_TAIL(&w->queue, job, entry);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void
db_job_cancel(struct db *db, struct db_job *job)
{
	struct db_worker	*w = db->worker;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	job->cancelled = 1;
	if (w->running == job)
		sqlite3_interrupt(w->rdb->h);
	pthread_mutex_unlock(&w->lock);
}

void
db_worker_reap(struct db *db)
{
	struct db_worker	*w = db->worker;
	TAILQ_HEAD(, db_job)	 done;
	struct db_job		*job;
	uint64_t		 n;

	if (w == NULL)
		return;
	if (read(w->fd, &n, sizeof n) == -1 && errno != EAGAIN)
		log_warnx("db: read worker: eventfd: %s", strerror(errno));
	TAILQ_INIT(&done);
	pthread_mutex_lock(&w->lock);
	TAILQ_CONCAT(&done, &w->done, entry);
	pthread_mutex_unlock(&w->lock);
	while ((job = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, job, entry);
		job->done(job);
	}
}

/*
 * Stop the thread: the read running is interrupted (its job fails), those
 * waiting are never run (job->stopped); all go to the done list for the
 * next db_worker_reap.  Bounded: an interrupted statement returns at its
 * next step.  Jobs submitted after this run on the loop.
 */
void
db_worker_stop(struct db *db)
{
	struct db_worker	*w = db->worker;
	struct db_job		*job;

	if (w == NULL || w->joined)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	if (w->running != NULL)
		sqlite3_interrupt(w->rdb->h);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->joined = 1;
	while ((job = TAILQ_FIRST(&w->queue)) != NULL) {
		TAILQ_REMOVE(&w->queue, job, entry);
		job->stopped = 1;
		TAILQ_INSERT_TAIL(&w->done, job, entry);
	}
	log_info("db: read worker: %llu reads, the longest %.1f ms",
	    (unsigned long long)w->njobs, (double)w->longest_us / 1000.0);
}

/* Stop it if need be and close its connection; jobs not reaped by now
 * stay their owners'. */
void
db_worker_free(struct db *db)
{
	struct db_worker	*w = db->worker;

	if (w == NULL)
		return;
	db_worker_stop(db);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	close(w->fd);
	sqlite3_close(w->rdb->h);
	free(w->rdb);
	free(w);
	db->worker = NULL;
}
