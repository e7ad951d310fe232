/*
 * test_dbread.c: the read side's counters (db_read.c, schema 8): the
 * notification rows stored in a transaction are counted in C and written
 * once per key at commit; a count read inside the transaction sees them,
 * and a rollback forgets them with the rows, also one SQLite makes by
 * itself (a read in the same batch must not write them outside it).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "unit.h"

#define ALICE	"user:default/alice"

/* Store one notification: user NULL for a broadcast. */
static int
put(struct db *db, const char *id, const char *user, const char *topic)
{
	struct db_notification_new	n;

	memset(&n, 0, sizeof n);
	n.id = id;
	n.user = user;
	n.created = 1000;
	n.origin = "argocd-notifications";
	n.title = id;
	n.topic = topic;
	return (db_notification_insert(db, &n));
}

/* alice's totalCount, with topic (or NULL) as the only filter. */
static int64_t
total(struct db *db, const char *topic)
{
	struct db_nquery	q;

	memset(&q, 0, sizeof q);
	q.user = ALICE;
	q.topic = topic;
	q.limit = q.offset = -1;
	return (db_notification_count(db, &q));
}

static void
test_counted_at_commit(void)
{
	struct db	*db;
	char		*cause = NULL;
	const char	*err;
	int64_t		 unread, read;

	if ((db = db_open(":memory:", 0, &cause)) == NULL) {
		fprintf(stderr, "# %s\n", cause);
		free(cause);
		CHECK(0);
	}
	CHECK_INT(put(db, "a", NULL, "t"), 0);
	CHECK_INT(put(db, "b", NULL, "t"), 0);
	CHECK_INT(put(db, "c", ALICE, NULL), 0);
	CHECK_INT(put(db, "d", "user:default/bob", "t"), 0);
	CHECK_INT(db_commit(db, &err), 0);
	CHECK_INT(total(db, NULL), 3);
	CHECK_INT(total(db, "t"), 2);
	/* Inside a transaction a count sees its rows, as a list does. */
	CHECK_INT(put(db, "e", NULL, "t"), 0);
	CHECK_INT(total(db, NULL), 4);
	CHECK_INT(put(db, "f", ALICE, "t"), 0);
	CHECK_INT(db_notification_status(db, ALICE, &unread, &read), 0);
	CHECK_INT(unread, 5);
	CHECK_INT(read, 0);
	/* A failed write rolls the transaction back: its counts go too. */
	CHECK_INT(put(db, "g", NULL, "t"), 0);
	CHECK_INT(put(db, "a", NULL, "t"), -1);		/* id taken */
	CHECK_INT(db_commit(db, &err), -1);
	CHECK_INT(total(db, NULL), 3);
	CHECK_INT(total(db, "t"), 2);
	CHECK_INT(put(db, "h", ALICE, "t"), 0);
	CHECK_INT(put(db, "i", ALICE, "t"), 0);
	CHECK_INT(db_commit(db, &err), 0);
	CHECK_INT(total(db, NULL), 5);
	CHECK_INT(total(db, "t"), 4);
end:
	db_close(db);
}

/*
 * SQLite rolls the whole transaction back by itself (here a trigger's
 * RAISE(ROLLBACK); in life a full disk or an I/O error): the counts noted
 * before must go with their rows, even when a count is read before the
 * commit event answers the batch.
 */
static void
test_counts_of_a_rollback_by_sqlite(void)
{
	char		 dir[] = "/tmp/test_dbread.XXXXXX", path[64];
	struct db	*db = NULL;
	sqlite3		*h = NULL;
	char		*cause = NULL;
	const char	*err;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/x.db", dir);
	if ((db = db_open(path, 0, &cause)) == NULL) {
		fprintf(stderr, "# %s\n", cause);
		free(cause);
		CHECK(0);
	}
	CHECK_INT(sqlite3_open(path, &h), SQLITE_OK);
	CHECK_INT(sqlite3_exec(h, "CREATE TRIGGER boom BEFORE INSERT ON "
	    "notifications WHEN new.id = 'boom' BEGIN "
	    "SELECT RAISE(ROLLBACK, 'boom'); END", NULL, NULL, NULL),
	    SQLITE_OK);
	CHECK_INT(put(db, "a", ALICE, "t"), 0);
	CHECK_INT(db_commit(db, &err), 0);
	CHECK_INT(total(db, "t"), 1);
	CHECK_INT(put(db, "b", ALICE, "t"), 0);
	CHECK_INT(put(db, "boom", ALICE, "t"), -1);
	CHECK_INT(total(db, "t"), 1);	/* a read in the same batch */
	CHECK_INT(db_commit(db, &err), -1);
	CHECK_INT(total(db, "t"), 1);
	CHECK_INT(put(db, "c", ALICE, "t"), 0);
	CHECK_INT(db_commit(db, &err), 0);
	CHECK_INT(total(db, "t"), 2);
end:
	sqlite3_close(h);
	db_close(db);
	unit_rm_store(dir, path);
}

static const struct unit_test tests[] = {
	{ "notification counts are written at commit, and rolled back",
	    test_counted_at_commit },
	{ "counts of a transaction SQLite rolled back are never written",
	    test_counts_of_a_rollback_by_sqlite },
	{ NULL, NULL }
};
UNIT_MAIN(tests)
