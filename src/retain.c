/*
 * retain.c: retention, so that a notimock that runs for weeks (a demo
 * cluster on a small emptyDir) does not fill its disk.
 *
 * Every RETAIN_TICK_MS a timer asks db_prune() for one slice: at most
 * RETAIN_SLICE of the oldest deliveries beyond --retain-count or older
 * than --retain-age, with the notifications they created.  The slice is a
 * write in the loop iteration's transaction, committed by the server's
 * commit event like any other.  A full slice means more is due: the next
 * one runs 1 ms later, after its commit, so pruning keeps up with any POST
 * rate while requests are still served between slices.  The space freed is
 * reused by later deliveries: the file stops growing at the cap.
 *
 * A count does not bound the disk when bodies are large (up to
 * --max-stored-body each, 1 MiB): past --retain-bytes of the file in use
 * (db_used_bytes: its pages less the free ones) a slice prunes the oldest
 * too, RETAIN_STEP at a time, until it is under again; the pages freed are
 * reused or given back as below.
 *
 * The same timer gives space back (issue 11: a reset must return it):
 * when the store holds more than RETAIN_FREE_PAGES unused pages, after a
 * reset, a large delete or pruning, each tick hands them to
 * db_vacuum() in steps of 256 KiB for at most RETAIN_BUDGET_US, and the
 * file shrinks at the next checkpoint.  A store made before schema 6
 * cannot (db_free_pages is 0) and keeps reusing its pages, until a start
 * with little in use converts it (db.c, db_convert).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "db.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "retain.h"
#include "settings.h"
#include "util.h"
#include "xmalloc.h"

#define RETAIN_SLICE	500
/*
 * A slice is also bounded by time (issue 11: nothing holds the loop for
 * more than 50 ms).  A row pruned costs its pages, its notifications'
 * index entries (random UUID keys) and its refs, ~0.1-1 ms each under
 * load, so 500 in one go held the loop for 0.4-1.6 s.  The slice asks for
 * RETAIN_STEP rows at a time and stops after the step that ends
 * RETAIN_BUDGET_US or more after it began; the rows pruned, and their
 * order, are the same.
 */
#define RETAIN_STEP	50
#define RETAIN_BUDGET_US 8000
#define RETAIN_TICK_MS	250
/*
 * While db_wal_wait() says the checkpointer is behind, a tick that has
 * work prunes nothing and looks again this much later: what pruning and
 * giving pages back write never bring the WAL to the bound where the loop
 * copies it itself (db.c, "the checkpointer").
 */
#define RETAIN_WAIT_MS	5
#define RETAIN_LOG_MS	10000	/* at most one log line this often */
#define RETAIN_FREE_PAGES 1024	/* 4 MiB unused before any is given back */

struct retain {
	struct server	*srv;
	struct event	*timer;
	int64_t		 keep;		/* 0: no count cap */
	int64_t		 age_ms;	/* 0: no age limit */
	int64_t		 bytes;		/* 0: no size limit */
	int64_t		 pruned, notifs, upto;	/* since start */
	int64_t		 unlogged, unlogged_notifs;
	int64_t		 logged_at;	/* monotonic us */
};

static void	retain_tick(evutil_socket_t, short, void *);

/* The next tick: now (1 ms, after the commit), soon, or in a while. */
enum retain_when { RETAIN_NOW, RETAIN_SOON, RETAIN_LATER };

static void
retain_schedule(struct retain *rt, enum retain_when when)
{
	struct timeval	tv;

	tv.tv_sec = 0;
	/* "Now" is 1 ms: as for a reset's slices (mock.c), a timer due at
	 * once would keep the commit event (the lowest priority) from running
	 * between two slices. */
	tv.tv_usec = when == RETAIN_NOW ? 1000 : when == RETAIN_SOON ?
	    RETAIN_WAIT_MS * 1000 : RETAIN_TICK_MS * 1000;
	evtimer_add(rt->timer, &tv);
}

static void
retain_log(struct retain *rt, int force)
{
	int64_t	now = util_mono_us();

	if (rt->unlogged == 0 || (!force &&
	    now - rt->logged_at < RETAIN_LOG_MS * 1000))
		return;
	log_info("retention: pruned %lld deliveries and %lld notifications "
	    "(up to seq %lld; --retain-count %lld, --retain-age %llds, "
	    "--retain-bytes %lld)",
	    (long long)rt->unlogged, (long long)rt->unlogged_notifs,
	    (long long)rt->upto, (long long)rt->keep,
	    (long long)(rt->age_ms / 1000), (long long)rt->bytes);
	rt->unlogged = rt->unlogged_notifs = 0;
	rt->logged_at = now;
}

/* Give unused pages back, within the slice's time budget (started at
 * start): when the next tick should come. */
static enum retain_when
retain_vacuum(struct retain *rt, int64_t start)
{
	struct server	*srv = rt->srv;

	if (db_free_pages(srv->db) <= RETAIN_FREE_PAGES)
		return (RETAIN_LATER);
	do {
		if (db_wal_wait(srv->db))
			return (RETAIN_SOON);
		if (db_vacuum(srv->db) == -1) {
			log_warnx("retention: %s", db_errmsg(srv->db));
			return (RETAIN_LATER);
		}
		server_kick(srv);	/* committed with the iteration */
	} while (db_free_pages(srv->db) > RETAIN_FREE_PAGES &&
	    util_mono_us() - start < RETAIN_BUDGET_US);
	return (db_free_pages(srv->db) > RETAIN_FREE_PAGES ? RETAIN_NOW :
	    RETAIN_LATER);
}

static void
retain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct retain	*rt = arg;
	struct server	*srv = rt->srv;
	int64_t		 deleted, notifs, upto, before = 0, done = 0, start, keep;
	int		 more = 0;
	enum retain_when when;

	(void)fd;
	(void)what;
	if (rt->age_ms > 0)
		before = util_now_ms() - rt->age_ms;
	start = util_mono_us();
	do {
		if (rt->keep == 0 && rt->age_ms == 0 && rt->bytes == 0)
			break;	/* no cap: only give space back */
		if (db_wal_wait(srv->db)) {
			retain_schedule(rt, RETAIN_SOON);
			return;
		}
		/* Over the size: RETAIN_STEP more than the count asks. */
		keep = rt->keep;
		if (rt->bytes > 0 && db_used_bytes(srv->db) > rt->bytes &&
		    (keep == 0 || keep > db_rows(srv->db) - RETAIN_STEP))
			keep = db_rows(srv->db) > RETAIN_STEP ?
			    db_rows(srv->db) - RETAIN_STEP : 1;
		if (db_prune(srv->db, keep, before, RETAIN_STEP, &deleted,
		    &notifs, &upto) == -1) {
			log_warnx("retention: %s", db_errmsg(srv->db));
			more = 0;
			break;
		}
		if (upto == 0) {
			more = 0;
			break;
		}
		/* Committed by the commit event, with whatever else this
		 * iteration wrote. */
		server_kick(srv);
		rt->pruned += deleted;
		rt->notifs += notifs;
		rt->unlogged += deleted;
		rt->unlogged_notifs += notifs;
		rt->upto = upto;
		done += deleted;
		more = deleted == RETAIN_STEP;
	} while (more && done < RETAIN_SLICE &&
	    util_mono_us() - start < RETAIN_BUDGET_US);
	retain_log(rt, !more);
	when = more ? RETAIN_NOW : retain_vacuum(rt, start);
	if (done > 0)
		log_debug("retention: a slice pruned %lld deliveries in %lld us",
		    (long long)done, (long long)(util_mono_us() - start));
	retain_schedule(rt, when);
}

void
retain_start(struct server *srv)
{
	struct retain	*rt;

	rt = xcalloc(1, sizeof *rt);
	rt->srv = srv;
	rt->keep = srv->settings->retain_count;
	rt->age_ms = srv->settings->retain_age * 1000;
	rt->bytes = srv->settings->retain_bytes;
	rt->logged_at = util_mono_us();
	srv->retain = rt;
	rt->timer = evtimer_new(srv->base, retain_tick, rt);
	retain_schedule(rt, RETAIN_NOW);
}

void
retain_stop(struct server *srv)
{
	struct retain	*rt = srv->retain;

	if (rt == NULL)
		return;
	retain_log(rt, 1);
	if (rt->timer != NULL)
		event_free(rt->timer);
	free(rt);
	srv->retain = NULL;
}

void
retain_json(const struct server *srv, struct json *o)
{
	const struct retain	*rt = srv->retain;
	struct json		*x = json_new_object();

	json_add_num(x, "stored", (double)db_rows(srv->db));
	if (rt != NULL) {
		json_add_num(x, "maxDeliveries", (double)rt->keep);
		json_add_num(x, "maxAgeSeconds", (double)(rt->age_ms / 1000));
		json_add_num(x, "maxBytes", (double)rt->bytes);
		json_add_num(x, "bytes", (double)db_used_bytes(srv->db));
		json_add_num(x, "pruned", (double)rt->pruned);
		json_add_num(x, "notificationsPruned", (double)rt->notifs);
		json_add_num(x, "prunedUpTo", (double)rt->upto);
	}
	json_add(o, "retention", x);
}
