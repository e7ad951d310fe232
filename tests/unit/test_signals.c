/*
 * test_signals.c: src/signals.c, Backstage's "notifications" signal channel
 * (spec section 12): signals wait for their transaction, are published with
 * ids 1, 2, ... when it commits and dropped when it rolls back, and the
 * last SIGNALS_KEEP_MAX are replayed oldest first.  Each case is a fresh
 * process, so each starts with no signal published.
 *
 * signals_start() hands signals.c's commit hook to the server core
 * (server_hook_add, server.h).  This file defines server_hook_add itself,
 * so the linker takes it rather than server.c's: the test gets the hook and
 * plays the commit event, committed or rolled back, without a store.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "signals.h"
#include "unit.h"

#define MAXSEEN	(SIGNALS_KEEP_MAX + 16)

static struct server	 srv;
static server_commit_fn	*hook;
static void		*hook_arg;
static int		 hook_phase = -1;

/* The server core's, as signals_start() calls it (see above). */
void
server_hook_add(struct server *s, int phase, server_commit_fn *fn, void *arg)
{
	if (s != &srv || hook != NULL)
		abort();	/* one hook, on our server */
	hook = fn;
	hook_arg = arg;
	hook_phase = phase;
}

/* The commit event: the transaction committed (1) or rolled back (0). */
static void
commit_event(int committed)
{
	if (hook == NULL)
		signals_start(&srv);
	hook(&srv, committed, 0, hook_arg);
}

/* What signals_replay() handed over, copied. */
struct seen {
	size_t		 n;
	uint64_t	 id[MAXSEEN];
	int64_t		 at[MAXSEEN];
	char		*user[MAXSEEN];		/* NULL: everyone */
	char		*message[MAXSEEN];
};

static void
seen_cb(const struct signals_entry *e, void *arg)
{
	struct seen	*s = arg;

	if (s->n == MAXSEEN)
		return;
	s->id[s->n] = e->id;
	s->at[s->n] = e->at;
	s->user[s->n] = e->user != NULL ? strdup(e->user) : NULL;
	s->message[s->n] = strdup(e->message);
	s->n++;
}

static void
seen_free(struct seen *s)
{
	size_t	i;

	for (i = 0; i < s->n; i++) {
		free(s->user[i]);
		free(s->message[i]);
	}
	s->n = 0;
}

static uint64_t
replay(uint64_t since, struct seen *s)
{
	seen_free(s);
	return (signals_replay(since, seen_cb, s));
}

static const char *
msg(int i)
{
	static char	buf[64];

	snprintf(buf, sizeof buf, "{\"action\":\"new_notification\","
	    "\"notification_id\":\"n%d\"}", i);
	return (buf);
}

static void
test_none_yet(void)
{
	static struct seen	s;

	CHECK_INT(signals_last(), 0);
	CHECK_INT(replay(0, &s), 0);
	CHECK_INT(s.n, 0);
	/* A commit with nothing queued publishes nothing. */
	commit_event(1);
	CHECK_INT(signals_last(), 0);
end:
	seen_free(&s);
}

/* Published before the replies that waited for the commit go out: a
 * client that got its 200 finds the signal there. */
static void
test_hook_before_replies(void)
{
	signals_start(&srv);
	CHECK(hook != NULL);
	CHECK_INT(hook_phase, SERVER_BEFORE_REPLIES);
end:
	;
}

static void
test_published_on_commit(void)
{
	static struct seen	s;
	char			json[] = "{\"action\":\"new_notification\","
				    "\"notification_id\":\"a\"}";
	char			user[] = "user:default/alice";

	signals_queue(&srv, user, json);
	signals_queue(&srv, NULL, msg(2));
	/* Copied: the caller's buffers may change at once. */
	memset(json, 'x', sizeof json - 1);
	memset(user, 'y', sizeof user - 1);
	/* Nothing is seen before the transaction ends. */
	CHECK_INT(signals_last(), 0);
	CHECK_INT(replay(0, &s), 0);
	CHECK_INT(s.n, 0);

	commit_event(1);
	CHECK_INT(signals_last(), 2);
	CHECK_INT(replay(0, &s), 2);
	CHECK_INT(s.n, 2);
	CHECK_INT(s.id[0], 1);
	CHECK_STR(s.user[0], "user:default/alice");
	CHECK_STR(s.message[0], "{\"action\":\"new_notification\","
	    "\"notification_id\":\"a\"}");
	CHECK_INT(s.id[1], 2);
	CHECK(s.user[1] == NULL);		/* a broadcast: everyone */
	CHECK_STR(s.message[1], msg(2));
	CHECK(s.at[0] > 1700000000000LL);	/* epoch ms */
	CHECK(s.at[1] >= s.at[0]);
end:
	seen_free(&s);
}

static void
test_dropped_on_rollback(void)
{
	static struct seen	s;

	signals_queue(&srv, "user:default/a", msg(1));
	commit_event(1);
	signals_queue(&srv, "user:default/b", msg(2));
	signals_queue(&srv, NULL, msg(3));
	commit_event(0);
	CHECK_INT(signals_last(), 1);
	CHECK_INT(replay(0, &s), 1);
	CHECK_INT(s.n, 1);
	CHECK_STR(s.user[0], "user:default/a");
	/* The next commit publishes only its own, with the next id: what
	 * rolled back left no gap and does not come back. */
	signals_queue(&srv, "user:default/c", msg(4));
	commit_event(1);
	CHECK_INT(replay(0, &s), 2);
	CHECK_INT(s.n, 2);
	CHECK_INT(s.id[1], 2);
	CHECK_STR(s.user[1], "user:default/c");
	CHECK_STR(s.message[1], msg(4));
end:
	seen_free(&s);
}

static void
test_replay_since(void)
{
	static struct seen	s;
	int			i;

	for (i = 1; i <= 5; i++) {
		signals_queue(&srv, NULL, msg(i));
		commit_event(1);
	}
	CHECK_INT(replay(3, &s), 5);
	CHECK_INT(s.n, 2);
	CHECK_INT(s.id[0], 4);
	CHECK_STR(s.message[0], msg(4));
	CHECK_INT(s.id[1], 5);
	CHECK_STR(s.message[1], msg(5));
	CHECK_INT(replay(5, &s), 5);
	CHECK_INT(s.n, 0);
	/* A cursor from the future (another process's) sees nothing. */
	CHECK_INT(replay(99, &s), 5);
	CHECK_INT(s.n, 0);
end:
	seen_free(&s);
}

static void
test_ring_keeps_the_last(void)
{
	static struct seen	s;
	int			i, total = SIGNALS_KEEP_MAX + 10;
	size_t			j;

	/* In several transactions, one of them large. */
	for (i = 1; i <= total; i++) {
		signals_queue(&srv, i % 2 ? "user:default/odd" : NULL, msg(i));
		if (i % 100 == 0 || i == total)
			commit_event(1);
	}
	CHECK_INT(signals_last(), total);
	CHECK_INT(replay(0, &s), total);
	CHECK_INT(s.n, SIGNALS_KEEP_MAX);
	for (j = 0; j < s.n; j++) {
		i = 11 + (int)j;
		CHECK_INT(s.id[j], i);
		CHECK_STR(s.message[j], msg(i));
		if (i % 2)
			CHECK_STR(s.user[j], "user:default/odd");
		else
			CHECK(s.user[j] == NULL);
	}
	/* A cursor inside the kept range still gets exactly what follows. */
	CHECK_INT(replay((uint64_t)total - 3, &s), total);
	CHECK_INT(s.n, 3);
	CHECK_INT(s.id[0], total - 2);
end:
	seen_free(&s);
}

/* At -v -v each published signal is logged, its user and text escaped. */
static void
test_debug_line_escaped(void)
{
	char	 path[] = "/tmp/test_signals.XXXXXX", buf[4096];
	ssize_t	 n;
	int	 fd = -1, saved = -1;

	CHECK((fd = mkstemp(path)) != -1);
	unlink(path);
	CHECK((saved = dup(2)) != -1);
	CHECK(dup2(fd, 2) == 2);
	log_init(1, 0);
	signals_queue(&srv, "user:default/a\nb", "{\"x\":\"\x1b[31m\"}");
	commit_event(1);
	signals_queue(&srv, NULL, msg(2));
	commit_event(0);
	fflush(stderr);
	dup2(saved, 2);
	CHECK((n = pread(fd, buf, sizeof buf - 1, 0)) > 0);
	buf[n] = '\0';
	CHECK(strstr(buf, "signal 1 on 'notifications' to "
	    "user:default/a\\x0ab: {\\x22x\\x22:\\x22\\x1b[31m\\x22}\n") != NULL);
	CHECK(strchr(buf, '\x1b') == NULL);
	/* Nothing for what rolled back. */
	CHECK(strstr(buf, "signal 2") == NULL);
	CHECK(strstr(buf, "n2") == NULL);
end:
	if (saved != -1) {
		dup2(saved, 2);
		close(saved);
	}
	if (fd != -1)
		close(fd);
}

static const struct unit_test tests[] = {
	{ "nothing published yet", test_none_yet },
	{ "a commit hook that runs before the replies",
	    test_hook_before_replies },
	{ "queued signals appear when their transaction commits",
	    test_published_on_commit },
	{ "a rollback drops them; ids go on without a gap",
	    test_dropped_on_rollback },
	{ "replay from a cursor, oldest first", test_replay_since },
	{ "the ring keeps the last SIGNALS_KEEP_MAX", test_ring_keeps_the_last },
	{ "the debug line escapes the user and the text",
	    test_debug_line_escaped },
	{ NULL, NULL }
};
UNIT_MAIN(tests)
