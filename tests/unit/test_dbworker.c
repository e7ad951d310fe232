/*
 * test_dbworker.c: the read worker (db_worker.c): a job runs on a thread of
 * its own and sees committed rows only; done is called on the caller's
 * thread (db_worker_reap) once per job, also for one cancelled before it
 * ran (run skipped); after a stop, and without a worker
 * (a :memory: store) a job runs at once, on the caller's connection.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "unit.h"

#define ALICE	"user:default/alice"

struct job {
	struct db_job	 job;		/* first */
	pthread_t	 ran_on;
	int		 ran;
	int		 done;
	int		 block;		/* wait for release in run */
	int64_t		 total;
};

static atomic_int	started, release;

static int
put(struct db *db, const char *id)
{
	struct db_notification_new	n;

	memset(&n, 0, sizeof n);
	n.id = id;
	n.created = 1000;
	n.origin = "argocd-notifications";
	n.title = id;
	return (db_notification_insert(db, &n));
}

static void
run(struct db *db, struct db_job *job)
{
	struct job		*j = (struct job *)(void *)job;
	struct db_nquery	 q;
	struct timespec		 ts = { 0, 1000000 };
	int			 i;

	j->ran = 1;
	j->ran_on = pthread_self();
	atomic_store(&started, 1);
	for (i = 0; j->block && !atomic_load(&release) && i < 5000; i++)
		nanosleep(&ts, NULL);
	memset(&q, 0, sizeof q);
	q.user = ALICE;
	q.limit = q.offset = -1;
	q.search = "n";		/* counts the rows, not notification_counts */
	if ((j->total = db_notification_count(db, &q)) == -1) {
		job->failed = 1;
		snprintf(job->err, sizeof job->err, "%s", db_errmsg(db));
	}
}

static void
done(struct db_job *job)
{
	((struct job *)(void *)job)->done++;
}

static void
job_init(struct job *j)
{
	memset(j, 0, sizeof *j);
	j->job.run = run;
	j->job.done = done;
}

/* Reap until every job in v is done (5 s at most). */
static int
reap_all(struct db *db, struct job **v, int n)
{
	struct pollfd	pfd;
	int		i, left, tries;

	for (tries = 0; tries < 50; tries++) {
		for (left = i = 0; i < n; i++)
			left += v[i]->done == 0;
		if (left == 0)
			return (0);
		pfd.fd = db_worker_fd(db);
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) == 1)
			db_worker_reap(db);
	}
	return (-1);
}

static struct db *
open_file(char *dir, char *path, size_t len)
{
	struct db	*db;
	char		*cause = NULL;

	if (mkdtemp(dir) == NULL)
		return (NULL);
	snprintf(path, len, "%s/x.db", dir);
	if ((db = db_open(path, 0, &cause)) == NULL) {
		fprintf(stderr, "# %s\n", cause);
		free(cause);
	}
	return (db);
}

static void
cleanup(struct db *db, const char *dir, const char *path)
{
	db_close(db);
	unit_rm_store(dir, path);
}

static void
test_committed_rows_on_its_own_thread(void)
{
	char		 dir[] = "/tmp/test_dbworker.XXXXXX", path[64];
	struct db	*db;
	struct job	 a, b, *v[1];
	const char	*err;

	CHECK((db = open_file(dir, path, sizeof path)) != NULL);
	CHECK(db_worker_fd(db) != -1);
	CHECK_INT(put(db, "n1"), 0);
	CHECK_INT(db_commit(db, &err), 0);
	CHECK_INT(put(db, "n2"), 0);		/* the loop's open transaction */
	job_init(&a);
	db_job_submit(db, &a.job);
	v[0] = &a;
	CHECK_INT(reap_all(db, v, 1), 0);
	CHECK_INT(a.done, 1);
	CHECK(!a.job.failed);
	CHECK(!pthread_equal(a.ran_on, pthread_self()));
	CHECK_INT(a.total, 1);			/* n2 is not committed */
	CHECK_INT(db_commit(db, &err), 0);
	job_init(&b);
	db_job_submit(db, &b.job);
	v[0] = &b;
	CHECK_INT(reap_all(db, v, 1), 0);
	CHECK_INT(b.total, 2);
end:
	cleanup(db, dir, path);
}

static void
test_cancelled_before_it_ran(void)
{
	char		 dir[] = "/tmp/test_dbworker.XXXXXX", path[64];
	struct db	*db;
	struct job	 a, b, *v[2] = { &a, &b };
	struct timespec	 ts = { 0, 1000000 };
	int		 i;

	CHECK((db = open_file(dir, path, sizeof path)) != NULL);
	job_init(&a);
	job_init(&b);
	a.block = 1;
	db_job_submit(db, &a.job);
	for (i = 0; !atomic_load(&started) && i < 5000; i++)
		nanosleep(&ts, NULL);
	CHECK(atomic_load(&started));
	db_job_submit(db, &b.job);		/* waits behind a */
	db_job_cancel(db, &b.job);
	atomic_store(&release, 1);
	CHECK_INT(reap_all(db, v, 2), 0);
	CHECK_INT(a.done, 1);
	CHECK_INT(b.done, 1);
	CHECK(a.ran && !a.job.cancelled);
	CHECK(!b.ran && b.job.cancelled);
end:
	cleanup(db, dir, path);
}

static void
test_after_a_stop_at_once(void)
{
	char		 dir[] = "/tmp/test_dbworker.XXXXXX", path[64];
	struct db	*db;
	struct job	 a;
	const char	*err;

	CHECK((db = open_file(dir, path, sizeof path)) != NULL);
	CHECK_INT(put(db, "n1"), 0);
	CHECK_INT(db_commit(db, &err), 0);
	job_init(&a);
	db_worker_stop(db);
	CHECK_INT(db_worker_fd(db), -1);
	/* After a stop, a job runs at once on the loop's connection. */
	db_job_submit(db, &a.job);
	CHECK_INT(a.done, 1);
	CHECK(pthread_equal(a.ran_on, pthread_self()));
	CHECK_INT(a.total, 1);
end:
	cleanup(db, dir, path);
}

static void
test_memory_store_runs_at_once(void)
{
	struct db	*db;
	struct job	 a;
	char		*cause = NULL;

	if ((db = db_open(":memory:", 0, &cause)) == NULL) {
		fprintf(stderr, "# %s\n", cause);
		free(cause);
		CHECK(0);
	}
	CHECK_INT(db_worker_fd(db), -1);
	CHECK_INT(put(db, "n1"), 0);		/* uncommitted: seen here */
	job_init(&a);
	db_job_submit(db, &a.job);
	CHECK_INT(a.done, 1);
	CHECK(pthread_equal(a.ran_on, pthread_self()));
	CHECK_INT(a.total, 1);
end:
	db_close(db);
}

static const struct unit_test tests[] = {
	{ "a job reads committed rows, on a thread of its own",
	    test_committed_rows_on_its_own_thread },
	{ "a job cancelled before it ran is done, not run",
	    test_cancelled_before_it_ran },
	{ "after a stop, a job runs at once on the loop's connection",
	    test_after_a_stop_at_once },
	{ "without a worker (:memory:) a job runs at once",
	    test_memory_store_runs_at_once },
	{ NULL, NULL }
};
UNIT_MAIN(tests)
