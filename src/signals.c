/*
 * signals.c: Backstage's "notifications" signal channel (spec section 12):
 * the signals queued while a request's writes are in the open transaction,
 * and the ring of published ones that the event stream (mock.c) replays.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"
#include "signals.h"
#include "util.h"
#include "xmalloc.h"

/*
 * Signals wait in signals_pending until the transaction that stored what
 * they announce commits (signals_commit, a commit hook of the server
 * core, before the replies go out), then get an id
 * and go into a ring of the last SIGNALS_KEEP, from which the event
 * stream (mock.c) reads them with signals_replay().
 */
#define SIGNALS_KEEP	SIGNALS_KEEP_MAX

struct signals_queued {
	char	*user;
	char	*message;
};

static struct signals_queued	*signals_pending;
static size_t			 signals_npending;
/* A published signal: what readers see (pub, which borrows the strings;
 * mock.c's fan-out keeps the pointer until the commit hook returns) and
 * the strings it owns. */
static struct signals_kept {
	struct signals_entry	 pub;
	char			*user;
	char			*message;
}				 signals_ring[SIGNALS_KEEP];
static uint64_t			 signals_lastid;

/* Queue a signal until its transaction ends; json is copied. */
void
signals_queue(struct server *srv, const char *user, const char *json)
{
	(void)srv;
	signals_pending = xreallocarray(signals_pending, signals_npending + 1,
	    sizeof *signals_pending);
	signals_pending[signals_npending].user = user ? xstrdup(user) : NULL;
	signals_pending[signals_npending].message = xstrdup(json);
	signals_npending++;
}

/* Publish the queued signals into the ring, or drop them (a commit hook,
 * server.h). */
static void
signals_commit(struct server *srv, int committed, int64_t cursor, void *arg)
{
	struct signals_kept	*s;
	struct signals_queued	*p;
	char			 who[256], what[512];
	size_t			 i;

	for (i = 0; i < signals_npending; i++) {
		p = &signals_pending[i];
		if (!committed) {
			free(p->user);
			free(p->message);
			continue;
		}
		s = &signals_ring[++signals_lastid % SIGNALS_KEEP];
		free(s->user);
		free(s->message);
		s->pub.id = signals_lastid;
		s->pub.at = util_now_ms();
		s->pub.user = s->user = p->user;
		s->pub.message = s->message = p->message;
		if (log_enabled(LOG_LVL_DEBUG))
			log_debug("%s: signal %llu on 'notifications' to %s: %s",
			    __func__, (unsigned long long)s->pub.id, s->user ?
			    log_escape(who, sizeof who, s->user,
			    strlen(s->user)) : "everyone", log_escape(what,
			    sizeof what, s->message, strlen(s->message)));
	}
	free(signals_pending);
	signals_pending = NULL;
	signals_npending = 0;
}

/* Hand fn the kept signals with an id above since, oldest first. */
uint64_t
signals_replay(uint64_t since,
    void (*fn)(const struct signals_entry *, void *), void *arg)
{
	uint64_t	id;

	id = since + 1;
	if (signals_lastid >= SIGNALS_KEEP && id <= signals_lastid -
	    SIGNALS_KEEP)
		id = signals_lastid - SIGNALS_KEEP + 1;
	for (; id <= signals_lastid; id++)
		fn(&signals_ring[id % SIGNALS_KEEP].pub, arg);
	return (signals_lastid);
}

/* The id of the last signal published (0: none yet). */
uint64_t
signals_last(void)
{
	return (signals_lastid);
}

/* Publish on every commit from now on. */
void
signals_start(struct server *srv)
{
	server_hook_add(srv, SERVER_BEFORE_REPLIES, signals_commit, NULL);
}
