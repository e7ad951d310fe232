/* test_server.c: the server core (server.c): the commit event, the replies
 * that wait for it, the commit hooks and their order; signals.c as one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "db.h"
#include "server.h"
#include "signals.h"
#include "unit.h"

static char	order[256];

static void
note(const char *what)
{
	strncat(order, what, sizeof order - strlen(order) - 1);
}

static void
hook_before(struct server *srv, int committed, int64_t cursor, void *arg)
{
	note(committed ? "B" : "b");
	note(arg);
}

static void
hook_after(struct server *srv, int committed, int64_t cursor, void *arg)
{
	note(committed ? "A" : "a");
	note(arg);
}

struct reply {
	struct server_reply	 w;	/* first: release gets &w */
	const char		*name;
	int			 released;
};

static void
release(struct server_reply *w, const char *cause)
{
	struct reply	*r = (struct reply *)w;

	r->released++;
	note(cause == NULL ? "R" : "r");
	note(r->name);
}

/* A server with a fresh database in dir. */
static int
setup(struct server *srv, char *dir)
{
	char	 path[256];
	char	*cause = NULL;

	memset(srv, 0, sizeof *srv);
	order[0] = '\0';
	if (mkdtemp(dir) == NULL)
		return (-1);
	snprintf(path, sizeof path, "%s/t.db", dir);
	if ((srv->base = server_base_new()) == NULL ||
	    (srv->db = db_open(path, 0, &cause)) == NULL) {
		free(cause);
		return (-1);
	}
	return (server_start(srv));
}

static void
teardown(struct server *srv, const char *dir)
{
	char	cmd[300];

	if (srv->commit_ev != NULL)
		server_stop(srv);
	if (srv->db != NULL)
		db_close(srv->db);
	if (srv->base != NULL)
		event_base_free(srv->base);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	(void)system(cmd);
}

static void
test_order(void)
{
	struct server	srv;
	char		dir[] = "/tmp/test_server.XXXXXX";
	struct reply	r1 = { .name = "1" }, r2 = { .name = "2" };

	CHECK_INT(setup(&srv, dir), 0);
	server_hook_add(&srv, SERVER_AFTER_REPLIES, hook_after, "x");
	server_hook_add(&srv, SERVER_BEFORE_REPLIES, hook_before, "y");
	server_hook_add(&srv, SERVER_BEFORE_REPLIES, hook_before, "z");
	r1.w.release = release;
	r2.w.release = release;
	server_defer(&srv, &r1.w);
	server_defer(&srv, &r2.w);
	CHECK_STR(order, "");		/* nothing before the commit event */
	event_base_loop(srv.base, EVLOOP_NONBLOCK);
	/* Hooks before the replies in the order added, the replies in
	 * theirs, then the hooks after; all told "committed". */
	CHECK_STR(order, "ByBzR1R2Ax");
	CHECK_INT(r1.released, 1);
	CHECK_INT(r2.released, 1);
	CHECK_INT(srv.ncommits, 1);
	CHECK_INT(srv.ndeferred, 2);
	/* Nothing waits: no commit event, no hooks. */
	order[0] = '\0';
	event_base_loop(srv.base, EVLOOP_NONBLOCK);
	CHECK_STR(order, "");
	/* A kick runs one commit event however often it is asked for. */
	server_hook_del(&srv, hook_before, "y");
	server_hook_del(&srv, hook_before, "nothing");	/* no such hook */
	server_kick(&srv);
	server_kick(&srv);
	event_base_loop(srv.base, EVLOOP_NONBLOCK);
	CHECK_STR(order, "BzAx");
	CHECK_INT(srv.ncommits, 2);
end:
	teardown(&srv, dir);
}

static void
test_stop_releases(void)
{
	struct server	srv;
	char		dir[] = "/tmp/test_server.XXXXXX";
	struct reply	r1 = { .name = "1" };

	CHECK_INT(setup(&srv, dir), 0);
	r1.w.release = release;
	server_defer(&srv, &r1.w);
	server_stop(&srv);		/* before the loop ran */
	CHECK_INT(r1.released, 1);
	CHECK_STR(order, "R1");
	/* Stopped: a kick or a deferral does nothing. */
	server_kick(&srv);
end:
	teardown(&srv, dir);
}

static void
count_signal(const struct signals_entry *e, void *arg)
{
	(*(int *)arg)++;
}

static void
test_signals_on_commit(void)
{
	struct server	srv;
	char		dir[] = "/tmp/test_server.XXXXXX";
	uint64_t	last;
	int		n = 0;

	CHECK_INT(setup(&srv, dir), 0);
	signals_start(&srv);
	last = signals_last();
	signals_queue(&srv, "user:default/alice", "{\"action\":\"x\"}");
	signals_queue(&srv, NULL, "{\"action\":\"y\"}");
	CHECK_INT(signals_last(), last);	/* queued, not published */
	server_kick(&srv);
	event_base_loop(srv.base, EVLOOP_NONBLOCK);
	CHECK_INT(signals_last(), last + 2);
	signals_replay(last, count_signal, &n);
	CHECK_INT(n, 2);
end:
	teardown(&srv, dir);
}

/* An event at the usual priority that runs in each loop iteration (a
 * timer due at once, added again): a loop that keeps receiving requests,
 * left more times or, if left is -1, until *until is released. */
struct busy {
	struct event	*ev;
	int		 left;
	struct reply	*until;
};

static void
busy_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval	 now = { 0, 0 };
	struct busy			*b = arg;

	note(".");
	if (b->left < 0 ? b->until->released == 0 : --b->left > 0)
		evtimer_add(b->ev, &now);
}

static void
test_commit_waits_for_a_quiet_iteration(void)
{
	struct server	srv;
	char		dir[] = "/tmp/test_server.XXXXXX";
	struct reply	r1 = { .name = "1" };
	struct busy	b = { NULL, 4, &r1 };

	CHECK_INT(setup(&srv, dir), 0);
	b.ev = evtimer_new(srv.base, busy_cb, &b);
	r1.w.release = release;
	server_defer(&srv, &r1.w);
	busy_cb(-1, 0, &b);
	/* While other callbacks run, the commit waits; the first iteration
	 * without them commits everything deferred meanwhile. */
	event_base_loop(srv.base, EVLOOP_NONBLOCK);
	CHECK_STR(order, "....R1");
	CHECK_INT(srv.ncommits, 1);
	/* A loop that is never quiet still commits, SERVER_COMMIT_WAIT_US
	 * later (busy then stops, and the loop returns). */
	order[0] = '\0';
	r1.released = 0;
	b.left = -1;
	server_defer(&srv, &r1.w);
	busy_cb(-1, 0, &b);
	event_base_loop(srv.base, EVLOOP_NONBLOCK);
	CHECK_INT(r1.released, 1);
	CHECK_INT(srv.ncommits, 2);
	CHECK(strlen(order) > 3);	/* busy ran before the deadline */
end:
	if (b.ev != NULL)
		event_free(b.ev);
	teardown(&srv, dir);
}

static const struct unit_test tests[] = {
	{ "hooks, replies and their order around one commit", test_order },
	{ "server_stop releases what still waits", test_stop_releases },
	{ "signals publish on the commit, not before", test_signals_on_commit },
	{ "the commit waits for a quiet iteration, or its deadline",
	    test_commit_waits_for_a_quiet_iteration },
	{ NULL, NULL }
};
UNIT_MAIN(tests)
