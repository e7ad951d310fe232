/*
 * server.c: the server core (server.h): the per-iteration transaction,
 * the replies that wait for it, and the hooks told how it ended.
 *
 * Ownership: a deferred reply stays its owner's (http.c's struct req); it
 * is on srv->deferred from server_defer() until its release is called.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "crypto.h"
#include "db.h"
#include "log.h"
#include "server.h"
#include "settings.h"
#include "util.h"
#include "xmalloc.h"

/*
 * Parked writes (server_park): at most this many requests, holding at
 * most this many bytes of bodies.  Each parked request is a connection
 * waiting for its answer, so --max-connections bounds the count already;
 * the bytes bound keeps up to --max-body (4 MiB) per connection from
 * piling up for the second a park may last.  Past either, the loop
 * copies the WAL itself, as it did before parking: a stall of ~10-150 ms
 * rather than a 503, which would lose a notification the client sent.
 */
#define SERVER_PARK_MAX		4096
#define SERVER_PARK_BYTES	(16 * 1024 * 1024)
/* How often a park looks at its time bound (db_park_poll). */
static const struct timeval server_park_tick = { 0, 50000 };

/* The longest a busy loop holds the commit back (server_commit_cb). */
#define SERVER_COMMIT_WAIT_US	2000
static const struct timeval server_commit_wait = { 0, SERVER_COMMIT_WAIT_US };

struct server_hook {
	int			 phase;
	server_commit_fn	*fn;
	void			*arg;
};

/*
 * Whether the store writes: failing from a failed commit until one that
 * wrote a row succeeds (/mock/cursor shows it, and the log says when it starts and
 * ends).  Readiness stays 200 meanwhile, on purpose: a pod that is not
 * ready gets no traffic, so it would never see a write succeed again;
 * the writes themselves answer 503 in Backstage's shape (README).
 */
static void
server_store_state(struct server *srv, const char *cause)
{
	if (cause == NULL) {
		if (srv->store_failing_since != 0)
			log_warnx("db: writing again after %.1f s of failures",
			    (double)(util_now_ms() - srv->store_failing_since) /
			    1000.0);
		srv->store_failing_since = 0;
		return;
	}
	if (srv->store_failing_since == 0)
		srv->store_failing_since = util_now_ms();
	snprintf(srv->store_error, sizeof srv->store_error, "%s", cause);
}

static void
server_hooks_run(struct server *srv, int phase, int committed)
{
	size_t	i;

	for (i = 0; i < srv->nhooks; i++)
		if (srv->hooks[i].phase == phase)
			srv->hooks[i].fn(srv, committed, db_cursor(srv->db),
			    srv->hooks[i].arg);
}

/*
 * The commit event: it runs after the I/O callbacks of this loop iteration,
 * so one transaction holds every request that arrived together.  Replies go
 * out only once their writes are on disk.
 *
 * On a base made by server_base_new it has the lowest priority, and
 * libevent runs a lower priority only in an iteration where no higher one
 * ran: so the commit waits while requests keep arriving, and one
 * transaction holds all that came in the meantime (each commit writes the
 * same shared pages to the WAL however many rows it holds: issue 11).  An
 * idle loop's next iteration commits at once; a busy one, after
 * SERVER_COMMIT_WAIT_US at most (commit_tv, a timer at the usual priority).
 */
static void
server_commit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server		*srv = arg;
	struct server_reply	*w;
	const char		*cause;
	int			 rc;

	srv->commit_due = 0;
	if (srv->commit_ev != NULL)
		event_del(srv->commit_ev);	/* whichever ran, the other */
	if (srv->commit_tv != NULL)
		event_del(srv->commit_tv);
	rc = db_commit(srv->db, &cause);
	srv->ncommits++;
	if (rc == -1)
		log_warnx("db: commit failed, answering 503: %s", cause);
	/* Only a commit that wrote says the store writes again. */
	if (rc == -1 || db_commit_wrote(srv->db))
		server_store_state(srv, rc == 0 ? NULL : cause);
	server_hooks_run(srv, SERVER_BEFORE_REPLIES, rc == 0);
	while ((w = TAILQ_FIRST(&srv->deferred)) != NULL) {
		TAILQ_REMOVE(&srv->deferred, w, entry);
		srv->ndeferred++;
		w->release(w, rc == 0 ? NULL : cause);
	}
	server_hooks_run(srv, SERVER_AFTER_REPLIES, rc == 0);
}

/*
 * The event base.  With epoll, every request changes its connection's
 * interest twice (evhttp stops reading while it answers, writes, then
 * reads again): four epoll_ctl calls per keep-alive request.  libevent's
 * changelist hands the kernel only the net change of one loop iteration,
 * so those that cancel out within it are never made: two per request
 * (issue 11).  Its one caveat, a descriptor cloned with dup() sharing one
 * epoll registration, does not arise here (nothing dups a socket).
 */
struct event_base *
server_base_new(void)
{
	struct event_config	*cfg;
	struct event_base	*base;

	if ((cfg = event_config_new()) == NULL)
		return (NULL);
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	/* Every event gets the middle one; the commit event the last
	 * ("The commit event", below). */
	if (base != NULL && event_base_priority_init(base, 3) == -1) {
		event_base_free(base);
		return (NULL);
	}
	return (base);
}

/* Run every parked request, in arrival order (the first BEGIN restarts
 * the log when the park ended well). */
static void
server_unpark_all(struct server *srv)
{
	struct server_parked	*p;

	if (srv->park_tv != NULL)
		evtimer_del(srv->park_tv);
	while ((p = TAILQ_FIRST(&srv->parked)) != NULL) {
		TAILQ_REMOVE(&srv->parked, p, entry);
		srv->nparked--;
		srv->park_bytes -= p->bytes;
		p->resume(p);
	}
}

/* The checkpointer's eventfd, or the tick: is the park over? */
static void
server_park_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	if (db_park_poll(srv->db))
		server_unpark_all(srv);
}

int
server_parking(struct server *srv)
{
	return (srv->park_ev != NULL &&
	    (!TAILQ_EMPTY(&srv->parked) || db_park_begin(srv->db)));
}

int
server_park(struct server *srv, struct server_parked *p)
{
	if (srv->park_ev == NULL)
		return (0);
	if (TAILQ_EMPTY(&srv->parked)) {
		if (!db_park_begin(srv->db))
			return (0);
		evtimer_add(srv->park_tv, &server_park_tick);
	} else if (srv->nparked >= SERVER_PARK_MAX ||
	    srv->park_bytes + p->bytes > SERVER_PARK_BYTES) {
		db_park_give_up(srv->db, "the parked requests reached their "
		    "bound (README, Limits)");
		server_unpark_all(srv);
		return (0);
	}
	TAILQ_INSERT_TAIL(&srv->parked, p, entry);
	srv->nparked++;
	srv->park_bytes += p->bytes;
	srv->parked_total++;
	return (1);
}

void
server_unpark(struct server *srv, struct server_parked *p)
{
	TAILQ_REMOVE(&srv->parked, p, entry);
	srv->nparked--;
	srv->park_bytes -= p->bytes;
}

_Static_assert(sizeof ((struct server *)0)->admin_digest ==
    CRYPTO_SHA256_LEN, "struct server's admin_digest holds a SHA-256");

/* The read worker wrote its eventfd: answer the reads it has done. */
static void
server_reads_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	db_worker_reap(srv->db);
}

int
server_start(struct server *srv)
{
	const char	*admin = srv->settings != NULL ?
			    srv->settings->admin_token : NULL;
	int		 fd;

	TAILQ_INIT(&srv->deferred);
	TAILQ_INIT(&srv->parked);
	/* Once, not per /mock/ request (admin.c). */
	srv->admin_set = admin != NULL && *admin != '\0';
	if (srv->admin_set)
		crypto_sha256(admin, strlen(admin), srv->admin_digest);
	srv->commit_ev = event_new(srv->base, -1, 0, server_commit_cb, srv);
	srv->commit_tv = evtimer_new(srv->base, server_commit_cb, srv);
	if (srv->commit_ev == NULL || srv->commit_tv == NULL)
		return (-1);
	/* The lowest, if the base has more than one (server_base_new). */
	if (event_base_get_npriorities(srv->base) > 1)
		event_priority_set(srv->commit_ev,
		    event_base_get_npriorities(srv->base) - 1);
	/* The read worker's answers (db_worker.c), on the loop. */
	if (srv->db != NULL && (fd = db_worker_fd(srv->db)) != -1) {
		srv->reads_ev = event_new(srv->base, fd, EV_READ | EV_PERSIST,
		    server_reads_cb, srv);
		if (srv->reads_ev == NULL || event_add(srv->reads_ev, NULL) ==
		    -1)
			return (-1);
	}
	/* Parking at the WAL's bound, if the store has a checkpointer. */
	if (srv->db != NULL && (fd = db_park_fd(srv->db)) != -1) {
		srv->park_ev = event_new(srv->base, fd, EV_READ | EV_PERSIST,
		    server_park_cb, srv);
		srv->park_tv = event_new(srv->base, -1, EV_PERSIST,
		    server_park_cb, srv);
		if (srv->park_ev == NULL || srv->park_tv == NULL ||
		    event_add(srv->park_ev, NULL) == -1)
			return (-1);
	}
	return (0);
}

void
server_stop(struct server *srv)
{
	struct server_reply	*w;
	const char		*cause;

	/* Reads still with the worker: the one running is interrupted,
	 * and each is answered now (and its delivery committed below). */
	if (srv->reads_ev != NULL) {
		db_worker_stop(srv->db);
		db_worker_reap(srv->db);
		event_free(srv->reads_ev);
		srv->reads_ev = NULL;
	}
	/* Parked writes run now (and are committed below). */
	if (srv->park_ev != NULL) {
		db_park_give_up(srv->db, "the server stops");
		server_unpark_all(srv);
		event_free(srv->park_ev);
		event_free(srv->park_tv);
		srv->park_ev = srv->park_tv = NULL;
	}
	/* Answer whatever still waits for a commit. */
	if (!TAILQ_EMPTY(&srv->deferred))
		server_commit_cb(-1, 0, srv);
	while ((w = TAILQ_FIRST(&srv->deferred)) != NULL) {
		TAILQ_REMOVE(&srv->deferred, w, entry);
		w->release(w, NULL);
	}
	(void)db_commit(srv->db, &cause);
	log_info("served %llu requests; %llu replies waited for %llu commits",
	    (unsigned long long)srv->nrequests,
	    (unsigned long long)srv->ndeferred,
	    (unsigned long long)srv->ncommits);
	if (srv->commit_ev != NULL)
		event_free(srv->commit_ev);
	if (srv->commit_tv != NULL)
		event_free(srv->commit_tv);
	srv->commit_ev = NULL;	/* from now on nothing is released */
	srv->commit_tv = NULL;
	free(srv->hooks);
	srv->hooks = NULL;
	srv->nhooks = 0;
}

void
server_kick(struct server *srv)
{
	if (srv->commit_ev == NULL || srv->commit_due)
		return;
	srv->commit_due = 1;
	event_active(srv->commit_ev, EV_WRITE, 0);
	if (event_get_priority(srv->commit_ev) > 0)
		evtimer_add(srv->commit_tv, &server_commit_wait);
}

void
server_defer(struct server *srv, struct server_reply *w)
{
	server_kick(srv);
	TAILQ_INSERT_TAIL(&srv->deferred, w, entry);
}

void
server_hook_add(struct server *srv, int phase, server_commit_fn *fn,
    void *arg)
{
	srv->hooks = xreallocarray(srv->hooks, srv->nhooks + 1,
	    sizeof *srv->hooks);
	srv->hooks[srv->nhooks].phase = phase;
	srv->hooks[srv->nhooks].fn = fn;
	srv->hooks[srv->nhooks].arg = arg;
	srv->nhooks++;
}

void
server_hook_del(struct server *srv, server_commit_fn *fn, void *arg)
{
	size_t	i;

	for (i = 0; i < srv->nhooks; i++)
		if (srv->hooks[i].fn == fn && srv->hooks[i].arg == arg) {
			memmove(&srv->hooks[i], &srv->hooks[i + 1],
			    (srv->nhooks - i - 1) * sizeof *srv->hooks);
			srv->nhooks--;
			return;
		}
}

void
server_observe_replies(struct server *srv, server_reply_fn *fn, void *arg)
{
	srv->reply_fn = fn;
	srv->reply_arg = arg;
}

void
server_reply_done(struct server *srv, const char *route, int status,
    int64_t duration_us)
{
	if (srv->reply_fn != NULL)
		srv->reply_fn(route, status, duration_us, srv->reply_arg);
}
