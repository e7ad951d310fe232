/*
 * mock_watch.c: watchers, the requests that outlive their handler
 * (mock_int.h): long-polls (GET /mock/wait) and event streams (GET
 * /mock/events).  They sit in one list.  After every commit
 * mock_watch_commit() loads the deliveries no wait has seen yet, once,
 * and each wait counts its matches; the streams are flushed a little
 * later (mock_watch_flush, on a timer), which likewise loads what none of
 * them has seen once, builds each event once, and sends each stream its
 * share.  A wait also has a timer and a stream a heartbeat; a client that
 * goes away is noticed through http_on_close().
 *
 * Ownership: a watcher owns its filter and points at its struct req, which
 * http.c frees once the reply is out (or the client has gone).  Every path
 * that ends one removes it from the list and frees it at once; nothing
 * else keeps a pointer to it.
 */
#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "db.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "mock.h"
#include "mock_int.h"
#include "settings.h"
#include "signals.h"
#include "util.h"
#include "xmalloc.h"

#define MOCK_REPLAY_MAX		1000
#define MOCK_MISSES		10

/* --- every watcher ---------------------------------------------------- */

static struct mock_watch *
mock_watch_new(struct req *r, enum mock_watch_kind kind,
    struct mock_opts *opts)
{
	struct mock		*m = r->srv->mock;
	struct mock_watch	*w;

	w = xcalloc(1, sizeof *w);
	w->m = m;
	w->r = r;
	w->kind = kind;
	w->o = *opts;
	memset(opts, 0, sizeof *opts);
	TAILQ_INSERT_TAIL(&m->watches, w, entry);
	if (kind == MOCK_WATCH_WAIT)
		m->nwaits++;
	else
		m->nstreams++;
	return (w);
}

static void
mock_watch_free(struct mock_watch *w)
{
	TAILQ_REMOVE(&w->m->watches, w, entry);
	if (w->kind == MOCK_WATCH_WAIT)
		w->m->nwaits--;
	else
		w->m->nstreams--;
	mock_job_free(w, w->ev, &w->o);
}

/* The client went away (http_on_close). */
static void
mock_watch_gone(struct req *r, void *arg)
{
	(void)r;
	mock_watch_free(arg);
}

void
mock_counts(struct server *srv, size_t *nw, size_t *ns)
{
	*nw = srv->mock != NULL ? srv->mock->nwaits : 0;
	*ns = srv->mock != NULL ? srv->mock->nstreams : 0;
}

/* --- event streams ----------------------------------------------------- */

static void
mock_stream_end(struct mock_watch *s)
{
	struct req	*r = s->r;

	mock_watch_free(s);
	http_stream_end(r);
}

/*
 * An event's text, built once however many streams send it: `event:
 * delivery` with the delivery's JSON.  Caller frees.
 */
static char *
mock_delivery_event(struct mock *m, const struct db_record *d, size_t *lenp)
{
	struct json_buf	 b = JSON_BUF_INIT;
	char		 head[64];

	json_buf_raw(&b, head, (size_t)snprintf(head, sizeof head,
	    "event: delivery\nid: %lld\ndata: ", (long long)d->seq));
	mock_delivery_put(&b, d, 0, m->told);
	MOCK_LIT(&b, "\n\n");
	return (json_buf_take(&b, lenp));
}

/*
 * Backstage's signals channel "notifications" (new_notification,
 * notification_read, notification_unread), carried on the same stream as
 * `event: notifications` with data {"channel","recipient","message"}:
 * recipient is the user ref, or null for everyone.  Caller frees.
 */
static char *
mock_signal_event(const struct signals_entry *sig, size_t *lenp)
{
	struct json	*o, *msg;
	char		*data, *ev, err[64];
	int		 len;

	msg = json_parse(sig->message, strlen(sig->message), 0, err,
	    sizeof err, NULL);
	o = json_new_object();
	json_add_str(o, "channel", "notifications");
	json_add_str(o, "recipient", sig->user);
	json_add(o, "message", msg != NULL ? msg : json_new_null());
	data = json_print(o, NULL);
	json_free(o);
	len = xasprintf(&ev, "event: notifications\ndata: %s\n\n", data);
	free(data);
	*lenp = (size_t)len;
	return (ev);
}

/* Send one delivery; -1 if the client is too far behind (end it). */
static int
mock_stream_event(struct mock_watch *s, const struct db_record *d)
{
	char	*ev;
	size_t	 len;
	int	 rc;

	ev = mock_delivery_event(s->m, d, &len);
	rc = http_stream_write(s->r, ev, len);
	free(ev);
	return (rc);
}

/*
 * A reader that leaves more than the backlog unread (http.c) is ended, not
 * buffered for: first it is told, past the backlog, with
 *
 *	event: behind
 *	data: {"lost": N, "resumeFrom": SEQ, "message": ...}
 *
 * (N: matching deliveries of this batch not sent; SEQ: the last one sent,
 * the Last-Event-ID to reconnect with, as an EventSource does by itself),
 * and it is counted (/mock/cursor "streamsBehind", "eventsLost") and
 * logged.  The caller ends the stream.
 */
static void
mock_stream_behind(struct mock_watch *s, size_t lost)
{
	struct mock	*m = s->m;
	char		*ev;
	int		 len;

	m->streams_behind++;
	m->events_lost += lost;
	len = xasprintf(&ev, "event: behind\ndata: {\"lost\":%zu,"
	    "\"resumeFrom\":%lld,\"message\":\"this reader left more than "
	    "%lld bytes unread: the stream ends here; reconnect with "
	    "Last-Event-ID: %lld (or since=%lld) for the rest\"}\n\n", lost,
	    (long long)s->sent, m->srv->settings->stream_buffer,
	    (long long)s->sent, (long long)s->sent);
	http_stream_write_last(s->r, ev, (size_t)len);
	free(ev);
	log_warnx("mock: /mock/events reader %s fell behind (more than %lld "
	    "bytes unread): %zu event%s not sent, ended at seq %lld (%llu "
	    "stream%s so far)", s->r->remote, m->srv->settings->stream_buffer,
	    lost, lost == 1 ? "" : "s",
	    (long long)s->sent, (unsigned long long)m->streams_behind,
	    m->streams_behind == 1 ? "" : "s");
}

/*
 * One commit's events for every stream (issue 15: a thousand streams made
 * POSTs crawl when each formatted and copied every event for itself).
 * Each stream's filter is checked first; the events some stream wants are
 * formatted once, into one block, in the order a stream sends them
 * (signals, then deliveries), and every stream's output refers to its runs
 * of that block (http_stream_write_ref) instead of copying them: a stream
 * that takes everything costs one reference per commit.  The block is
 * freed when the last stream has sent it (or gone).
 */
struct mock_block {
	unsigned int	 refs;
	char		 text[];
};

struct mock_fanout {
	const struct signals_entry	*sig[SIGNALS_KEEP_MAX];
	size_t				 nsig;
	const struct db_record		*v;
	size_t				 n;
	/* Event i (signals first, then deliveries) is text[off[i]..] of
	 * len[i] bytes in the block; len 0: no stream wants it. */
	size_t				*off, *len;
	struct mock_block		*block;
	size_t				 size;		/* of its text */
	/* What the last stream looked at wants (mock_fanout_look): a
	 * thousand streams with one filter look at each event once. */
	char				*want;
	const struct db_filter		*want_f;	/* NULL: none yet */
	int64_t				 want_last;
	uint64_t			 want_sig_last;
};

/* A run of a stream's events, contiguous in the block. */
struct mock_run {
	size_t		 off, len;
	size_t		 first;		/* index of its first delivery, or n */
	int64_t		 seq;		/* its last delivery's seq, or 0 */
};

static void
mock_fanout_collect(const struct signals_entry *sig, void *arg)
{
	struct mock_fanout	*fo = arg;

	if (fo->nsig < SIGNALS_KEEP_MAX)
		fo->sig[fo->nsig++] = sig;
}

/* Does stream s want event i of fo? */
static int
mock_fanout_wants(const struct mock_fanout *fo, const struct mock_watch *s,
    size_t i)
{
	const struct signals_entry	*sig;
	const struct db_record		*d;

	if (i < fo->nsig) {
		sig = fo->sig[i];
		return (sig->id > s->sig_last &&
		    db_filter_signal(&s->o.f, sig->user));
	}
	d = &fo->v[i - fo->nsig];
	return (d->seq > s->last && db_filter_check(&s->o.f, d) == 0);
}

static int
mock_streq(const char *a, const char *b)
{
	return (a == b || (a != NULL && b != NULL && strcmp(a, b) == 0));
}

/* Do two filters pass the same deliveries and signals? */
static int
mock_filter_same(const struct db_filter *a, const struct db_filter *b)
{
	size_t	i;

	if (a->entity_n != b->entity_n || a->since != b->since ||
	    a->status != b->status || a->retry != b->retry ||
	    a->reached != b->reached || a->clean != b->clean ||
	    !mock_streq(a->topic, b->topic) ||
	    !mock_streq(a->severity, b->severity) ||
	    !mock_streq(a->origin, b->origin) || !mock_streq(a->q, b->q))
		return (0);
	for (i = 0; i < a->entity_n; i++)
		if (!mock_streq(a->entity_key[i], b->entity_key[i]) ||
		    a->entity_anykind[i] != b->entity_anykind[i])
			return (0);
	return (1);
}

/*
 * fo->want[i]: does s want event i?  Streams with the same filter that
 * have seen the same events want the same ones: when s is like the stream
 * looked at last, its answers stand (streams opened alike sit next to
 * each other in the list).  The caller forgets the last stream
 * (fo->want_f = NULL) before that stream can be freed.
 */
static const char *
mock_fanout_look(struct mock_fanout *fo, const struct mock_watch *s)
{
	size_t	i, nev = fo->nsig + fo->n;

	if (fo->want_f != NULL && s->last == fo->want_last &&
	    s->sig_last == fo->want_sig_last &&
	    mock_filter_same(fo->want_f, &s->o.f))
		return (fo->want);
	for (i = 0; i < nev; i++)
		fo->want[i] = (char)mock_fanout_wants(fo, s, i);
	fo->want_f = &s->o.f;
	fo->want_last = s->last;
	fo->want_sig_last = s->sig_last;
	return (fo->want);
}

/* Format, once, each event some stream wants, into fo->block. */
static void
mock_fanout_build(struct mock_fanout *fo, struct mock *m)
{
	struct mock_watch	*s;
	char			*txt;
	size_t			 i, nev = fo->nsig + fo->n, wanted = 0, size = 0;
	size_t			 cap = 0, len;
	int			*want;
	const char		*sw;

	want = xcalloc(nev + 1, sizeof *want);
	fo->want = xcalloc(nev + 1, 1);
	TAILQ_FOREACH(s, &m->watches, entry) {
		if (s->kind != MOCK_WATCH_STREAM)
			continue;
		sw = mock_fanout_look(fo, s);
		for (i = 0; i < nev && wanted < nev; i++)
			if (!want[i] && sw[i]) {
				want[i] = 1;
				wanted++;
			}
		if (wanted == nev)
			break;
	}
	fo->off = xcalloc(nev + 1, sizeof *fo->off);
	fo->len = xcalloc(nev + 1, sizeof *fo->len);
	fo->block = NULL;
	for (i = 0; i < nev; i++) {
		if (!want[i])
			continue;
		txt = i < fo->nsig ? mock_signal_event(fo->sig[i], &len) :
		    mock_delivery_event(m, &fo->v[i - fo->nsig], &len);
		if (size + len > cap) {
			cap = (size + len) * 2;
			fo->block = xreallocarray(fo->block, 1, sizeof *fo->block + cap);
		}
		memcpy(fo->block->text + size, txt, len);
		free(txt);
		fo->off[i] = size;
		fo->len[i] = len;
		size += len;
	}
	if (fo->block != NULL)
		fo->block->refs = 1;	/* fo's own */
	fo->size = size;
	free(want);
}

static void
mock_block_unref(const void *data, size_t len, void *arg)
{
	struct mock_block	*b = arg;

	(void)data;
	(void)len;
	if (--b->refs == 0)
		free(b);
}

/* Send a run; -1 if the client is too far behind (it is told, and the
 * caller ends the stream). */
static int
mock_fanout_flush(struct mock_fanout *fo, struct mock_watch *s,
    const struct mock_run *run)
{
	size_t	i, lost = 0;
	int	rc;

	if (run->len == 0)
		return (0);
	/*
	 * A reference keeps the whole block alive until this reader has read
	 * its run: a slow reader holding a small run of many large blocks
	 * would pin far more than its --stream-buffer.  Runs of less than
	 * half the block are copied instead: what a reader pins is then at
	 * most twice what it is charged for.
	 */
	if (run->len * 2 < fo->size)
		rc = http_stream_write(s->r, fo->block->text + run->off,
		    run->len);
	else {
		fo->block->refs++;
		if ((rc = http_stream_write_ref(s->r, fo->block->text +
		    run->off, run->len, mock_block_unref, fo->block)) == -1)
			fo->block->refs--;
	}
	if (rc == 0) {
		if (run->seq != 0)
			s->sent = run->seq;
		return (0);
	}
	for (i = run->first; i < fo->n; i++)
		lost += mock_fanout_wants(fo, s, fo->nsig + i);
	mock_stream_behind(s, lost);
	return (-1);
}

/*
 * Does s want every event of fo?  A stream with no filter that has seen
 * none of them does (the block then holds every event): it is sent the
 * whole block without an event-by-event look, which with a thousand such
 * streams was a thousand looks at every event of every flush.
 */
static int
mock_fanout_wants_all(const struct mock_fanout *fo, const struct mock_watch *s)
{
	const struct db_filter	*f = &s->o.f;

	if (f->entity_n != 0 || f->topic != NULL || f->severity != NULL ||
	    f->origin != NULL || f->q != NULL || f->status != 0 ||
	    f->retry != 0 || f->reached != 0 || f->clean != 0)
		return (0);
	if (fo->nsig > 0 && s->sig_last >= fo->sig[0]->id)
		return (0);
	return (fo->n == 0 || (s->last < fo->v[0].seq && f->since <
	    fo->v[0].seq));
}

/* Send a stream what it wants of fo, in as few runs as the block allows;
 * -1 if it is too far behind. */
static int
mock_fanout_send(struct mock_fanout *fo, struct mock_watch *s)
{
	struct mock_run	 run = { 0, 0, 0, 0 };
	size_t		 i, nev = fo->nsig + fo->n;
	uint64_t	 sig_last = s->sig_last;
	const char	*want;

	if (nev > 0 && mock_fanout_wants_all(fo, s)) {
		run.len = fo->size;
		run.first = 0;
		if (fo->n > 0)
			run.seq = fo->v[fo->n - 1].seq;
		if (fo->nsig > 0)
			s->sig_last = fo->sig[fo->nsig - 1]->id;
		return (mock_fanout_flush(fo, s, &run));
	}
	run.first = fo->n;
	want = mock_fanout_look(fo, s);
	for (i = 0; i < nev; i++) {
		if (i < fo->nsig && fo->sig[i]->id > sig_last)
			sig_last = fo->sig[i]->id;
		if (!want[i])
			continue;
		if (run.len > 0 && fo->off[i] != run.off + run.len) {
			if (mock_fanout_flush(fo, s, &run) == -1)
				return (-1);
			run.len = 0;
			run.first = fo->n;
			run.seq = 0;
		}
		if (run.len == 0)
			run.off = fo->off[i];
		run.len += fo->len[i];
		if (i >= fo->nsig) {
			if (run.first == fo->n)
				run.first = i - fo->nsig;
			run.seq = fo->v[i - fo->nsig].seq;
		}
	}
	s->sig_last = sig_last;
	return (mock_fanout_flush(fo, s, &run));
}

static void
mock_fanout_clear(struct mock_fanout *fo)
{
	if (fo->block != NULL)
		mock_block_unref(NULL, 0, fo->block);
	free(fo->off);
	free(fo->len);
	free(fo->want);
}

static void
mock_stream_beat(evutil_socket_t fd, short what, void *arg)
{
	static const char	 beat[] = ": heartbeat\n\n";
	struct mock_watch	*s = arg;

	(void)fd;
	(void)what;
	if (http_stream_write(s->r, beat, sizeof beat - 1) == -1)
		mock_stream_end(s);
}

void
mock_events(struct req *r, void *arg)
{
	struct mock_opts	*opts = arg;
	struct mock_watch	*s;
	struct db_record	*v = NULL;
	struct timeval		 tv;
	const char		*last, *errstr;
	long long		 since;
	int64_t			 opts_since;
	size_t			 n = 0, i;
	int			 ok = 1;
	static const char	 hello[] = "retry: 2000\n\n";

	/* Last-Event-ID (a reconnecting EventSource) wins over since. */
	if ((last = http_header(r, "Last-Event-ID")) != NULL) {
		since = util_strtonum(last, 0, INT64_MAX, &errstr);
		if (errstr == NULL) {
			opts->f.since = since;
			opts->have_since = 1;
		}
	}
	if (opts->have_since && db_deliveries_list(r->srv->db, &opts->f, 0,
	    MOCK_REPLAY_MAX, 0, &v, &n) == -1) {
		mock_db_error(r);
		return;
	}
	opts_since = opts->f.since;
	s = mock_watch_new(r, MOCK_WATCH_STREAM, opts);
	s->last = db_cursor(r->srv->db);
	s->sig_last = signals_last();
	http_on_close(r, mock_watch_gone, s);
	http_stream_start(r, "text/event-stream; charset=utf-8");
	http_stream_write(r, hello, sizeof hello - 1);
	/* The newest MOCK_REPLAY_MAX matches, sent oldest first. */
	s->sent = opts_since;
	for (i = n; i > 0 && ok; i--)
		if ((ok = mock_stream_event(s, &v[i - 1]) == 0))
			s->sent = v[i - 1].seq;
		else
			mock_stream_behind(s, i);
	db_records_free(v, n);
	if (!ok) {
		/* The client reconnects with Last-Event-ID for the rest. */
		mock_stream_end(s);
		return;
	}
	s->ev = event_new(r->srv->base, -1, EV_PERSIST, mock_stream_beat, s);
	tv.tv_sec = s->o.heartbeat_ms / 1000;
	tv.tv_usec = (s->o.heartbeat_ms % 1000) * 1000;
	event_add(s->ev, &tv);
}

/* --- waits ------------------------------------------------------------- */

static double
mock_waited_ms(const struct req *r)
{
	return ((double)((util_mono_us() - r->start_us) / 1000));
}

/* The 200: every match (up to limit), newest first. */
static void
mock_wait_satisfied(struct req *r, struct mock_opts *opts)
{
	struct db		*db = r->srv->db;
	struct db_record	*v;
	struct json_buf		 b = JSON_BUF_INIT;
	size_t			 n;
	int64_t			 total;

	if (mock_matches(r, opts, 0, &total, &v, &n) == -1)
		return;
	MOCK_LIT(&b, "{\"wanted\":");
	json_buf_num(&b, (double)opts->count);
	MOCK_KEY(&b, "matched");
	json_buf_num(&b, (double)total);
	MOCK_KEY(&b, "since");
	json_buf_num(&b, (double)opts->f.since);
	MOCK_KEY(&b, "cursor");
	json_buf_num(&b, (double)db_cursor(db));
	MOCK_KEY(&b, "waitedMs");
	json_buf_num(&b, mock_waited_ms(r));
	mock_scan_put(&b, db);
	MOCK_KEY(&b, "deliveries");
	mock_records_put(&b, v, n, 1, r->srv->mock != NULL ?
	    r->srv->mock->told : NULL);
	MOCK_LIT(&b, "}");
	db_records_free(v, n);
	mock_send_buf(r, 200, &b);
}

/* The near misses of a timed-out wait: each with why it missed. */
static struct json *
mock_wait_misses(struct db *db, const struct db_filter *f,
    const struct db_miss *miss, size_t nmiss)
{
	struct json		*arr, *x;
	struct db_record	 d;
	size_t			 i;

	arr = json_new_array();
	for (i = 0; i < nmiss; i++) {
		if (db_delivery_get(db, miss[i].seq, &d) != 1)
			continue;	/* deleted meanwhile */
		x = json_new_object();
		json_add(x, "delivery", mock_delivery_json(&d, 0));
		json_add(x, "failed", mock_failed_json(f, miss[i].failed, &d));
		mock_add_answer_error(x, &d);
		json_append(arr, x);
		db_record_clear(&d);
	}
	return (arr);
}

/* The 408: what matched, what arrived, and why the nearest missed. */
static void
mock_wait_timed_out(struct req *r, struct mock_opts *opts)
{
	struct db		*db = r->srv->db;
	struct db_filter	 after;
	struct db_record	*v;
	struct db_miss		 miss[MOCK_MISSES];
	struct json		*o;
	char			 msg[512], ahead[256], part[128];
	size_t			 n, nmiss = 0;
	int64_t			 total, arrived, from;
	int			 complete;

	memset(&after, 0, sizeof after);
	after.since = opts->f.since;
	if ((total = db_deliveries_count(db, &opts->f)) == -1)
		goto fail;
	complete = db_scan_complete(db, &from);
	if ((arrived = db_deliveries_count(db, &after)) == -1 ||
	    db_deliveries_misses(db, &opts->f, miss, MOCK_MISSES, &nmiss) ==
	    -1 ||
	    db_deliveries_list(db, &opts->f, 0, opts->limit, 0, &v, &n) == -1)
		goto fail;
	/* A since ahead of the cursor is a number no delivery has had yet on
	 * this database (they never repeat, reset or restart included):
	 * most likely it was taken from another one. */
	ahead[0] = '\0';
	if (opts->f.since > db_cursor(db))
		snprintf(ahead, sizeof ahead, "; since %lld is ahead of the "
		    "cursor %lld: only deliveries numbered after it match, and "
		    "sequence numbers on this database have not reached it "
		    "(was it taken from another database?)",
		    (long long)opts->f.since, (long long)db_cursor(db));
	/* On a large store only the newest candidates were searched. */
	part[0] = '\0';
	if (!complete)
		snprintf(part, sizeof part, " (searching only the newest "
		    "deliveries, after seq %lld)", (long long)from);
	snprintf(msg, sizeof msg, "wanted %lld matching deliver%s after seq "
	    "%lld, got %lld%s in %s%s", (long long)opts->count,
	    opts->count == 1 ? "y" : "ies", (long long)opts->f.since,
	    (long long)total, part, opts->timeout_text, ahead);
	o = mock_error_json(r, 408, "TimeoutError", msg);
	json_add_num(o, "wanted", (double)opts->count);
	json_add_num(o, "matched", (double)total);
	json_add_num(o, "arrived", (double)arrived);
	json_add_num(o, "since", (double)opts->f.since);
	json_add_num(o, "cursor", (double)db_cursor(db));
	json_add_num(o, "waitedMs", mock_waited_ms(r));
	json_add(o, "deliveries", mock_records_json(v, n, 1));
	db_records_free(v, n);
	json_add(o, "nearMisses", mock_wait_misses(db, &opts->f, miss, nmiss));
	if (complete)
		json_add_bool(o, "complete", 1);
	else {
		json_add_bool(o, "complete", 0);
		json_add_num(o, "searchedAfter", (double)from);
	}
	http_send_json(r, 408, o);
	json_free(o);
	return;

fail:
	mock_db_error(r);
}

/* Answer a wait: satisfied, or timed out. */
static void
mock_wait_answer(struct mock_watch *w, int satisfied)
{
	struct req		*r = w->r;
	struct mock_opts	 o = w->o;

	memset(&w->o, 0, sizeof w->o);
	mock_watch_free(w);
	if (satisfied)
		mock_wait_satisfied(r, &o);
	else
		mock_wait_timed_out(r, &o);
	mock_opts_clear(&o);
}

static void
mock_wait_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	mock_wait_answer(arg, 0);
}

void
mock_wait(struct req *r, void *arg)
{
	struct mock_opts	*opts = arg;
	struct mock_watch	*w;
	struct timeval		 tv;
	int64_t			 n;

	if ((n = db_deliveries_count(r->srv->db, &opts->f)) == -1) {
		mock_db_error(r);
		return;
	}
	if (n >= opts->count) {
		mock_wait_satisfied(r, opts);
		return;
	}
	if (opts->timeout_ms == 0) {
		mock_wait_timed_out(r, opts);
		return;
	}
	w = mock_watch_new(r, MOCK_WATCH_WAIT, opts);
	w->matched = n;
	/* The count above saw everything up to the cursor, this
	 * iteration's uncommitted writes included. */
	w->last = db_cursor(r->srv->db);
	w->ev = evtimer_new(r->srv->base, mock_wait_timer, w);
	/*
	 * libevent times a timer from the loop's clock as cached before this
	 * iteration's callbacks: after a slow one (a commit, a big read) the
	 * wait would end that much early, before the timeout the client asked
	 * for (test_wait_timeout_explains saw 499.98 ms for 500ms).  Time it
	 * from now.
	 */
	event_base_update_cache_time(r->srv->base);
	tv.tv_sec = w->o.timeout_ms / 1000;
	tv.tv_usec = (w->o.timeout_ms % 1000) * 1000;
	evtimer_add(w->ev, &tv);
	/* The reply comes from mock_watch_commit, already committed. */
	r->durable = 0;
	http_on_close(r, mock_watch_gone, w);
}

/* --- commits ----------------------------------------------------------- */

/* A reset has committed: tell the streams, recount the waits (they
 * counted deliveries that are gone now). */
static void
mock_reset_committed(struct mock *m, int64_t seq)
{
	struct mock_watch	*w, *wnext;
	char			*ev = m->reset_event;
	int64_t			 n;

	m->reset_event = NULL;
	/* Room again: take back the reserve a full disk made it give up. */
	db_reserve(m->srv->db);
	/* What committed before the reset goes out before it. */
	mock_watch_flush(m);
	TAILQ_FOREACH(w, &m->watches, entry) {
		if (w->kind != MOCK_WATCH_WAIT)
			continue;
		if ((n = db_deliveries_count(m->srv->db, &w->o.f)) != -1)
			w->matched = n;
		w->last = seq;
	}
	for (w = TAILQ_FIRST(&m->watches); w != NULL; w = wnext) {
		wnext = TAILQ_NEXT(w, entry);
		if (w->kind == MOCK_WATCH_STREAM &&
		    http_stream_write(w->r, ev, strlen(ev)) == -1)
			mock_stream_end(w);
	}
	free(ev);
}

/* A wait looks at what committed: answered once it has its count. */
static void
mock_wait_commit(struct mock_watch *w, const struct db_record *v, size_t n,
    int64_t seq)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (v[i].seq > w->last && db_filter_check(&w->o.f, &v[i]) == 0)
			w->matched++;
	if (w->last < seq)
		w->last = seq;
	if (w->matched >= w->o.count)
		mock_wait_answer(w, 1);
}

/*
 * Streams are not written at every commit but at most every
 * MOCK_FLUSH_PER_STREAM_US per open stream (MOCK_FLUSH_MAX_US at most): a
 * write to a socket costs far more than the bytes in it, so a thousand
 * streams written at each of a busy server's commits left POSTs little of
 * the loop (issue 15).  With a few streams an event leaves within a
 * millisecond of its commit; with a thousand, within 100 ms, several
 * commits' events in one write.  Only what is committed is sent: a flush
 * reads up to the cursor, whatever the open transaction holds.
 */
#define MOCK_FLUSH_PER_STREAM_US	100
#define MOCK_FLUSH_MAX_US		100000

/* Every stream sends what has committed since it last looked (and the
 * signals published since). */
void
mock_watch_flush(struct mock *m)
{
	struct mock_watch	*s, *snext;
	struct mock_fanout	*fo;
	struct db_filter	 after;
	struct db_record	*v = NULL;
	size_t			 n = 0;
	int64_t			 seq = db_cursor(m->srv->db), from = INT64_MAX;
	uint64_t		 sig_from = UINT64_MAX;

	m->flush_due = 0;
	m->flush_us = util_mono_us();
	if (m->nstreams == 0)
		return;
	fo = xcalloc(1, sizeof *fo);
	TAILQ_FOREACH(s, &m->watches, entry) {
		if (s->kind != MOCK_WATCH_STREAM)
			continue;
		if (s->sig_last < sig_from)
			sig_from = s->sig_last;
		if (s->last < from)
			from = s->last;
	}
	signals_replay(sig_from, mock_fanout_collect, fo);
	memset(&after, 0, sizeof after);
	after.since = from;
	if (from < seq && db_deliveries_list(m->srv->db, &after, 1, -1, 0, &v,
	    &n) == -1) {
		log_warnx("mock: cannot read new deliveries: %s",
		    db_errmsg(m->srv->db));
		seq = from;	/* nobody moves on: the next flush tries again */
	}
	fo->v = v;
	/* Oldest first: what the open transaction holds comes last. */
	while (fo->n < n && v[fo->n].seq <= seq)
		fo->n++;
	mock_fanout_build(fo, m);
	for (s = TAILQ_FIRST(&m->watches); s != NULL; s = snext) {
		snext = TAILQ_NEXT(s, entry);
		if (s->kind != MOCK_WATCH_STREAM)
			continue;
		if (mock_fanout_send(fo, s) == -1) {
			fo->want_f = NULL;	/* s is freed */
			mock_stream_end(s);	/* too far behind */
			continue;
		}
		if (s->last < seq)
			s->last = seq;
	}
	mock_fanout_clear(fo);
	free(fo);
	db_records_free(v, n);
}

static void
mock_flush_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	mock_watch_flush(arg);
}

/* Something committed: flush the streams once their interval is over. */
static void
mock_flush_due(struct mock *m)
{
	struct timeval	tv;
	int64_t		gap, since;

	if (m->flush_due || m->nstreams == 0)
		return;
	gap = (int64_t)m->nstreams * MOCK_FLUSH_PER_STREAM_US;
	if (gap > MOCK_FLUSH_MAX_US)
		gap = MOCK_FLUSH_MAX_US;
	since = util_mono_us() - m->flush_us;
	gap = since >= gap ? 0 : gap - since;
	if (m->flush_ev == NULL)
		m->flush_ev = evtimer_new(m->srv->base, mock_flush_timer, m);
	tv.tv_sec = (time_t)(gap / 1000000);
	tv.tv_usec = (suseconds_t)(gap % 1000000);
	evtimer_add(m->flush_ev, &tv);
	m->flush_due = 1;
}

/*
 * After each commit event.  Rolled back: nothing happened, so nothing is
 * told (the cursor has not moved).  Committed: the waits load what arrived
 * since the oldest point any of them has looked at (one query) and each
 * counts its share; the streams are flushed soon (mock_watch_flush).
 */
void
mock_watch_commit(struct server *srv, int committed, int64_t seq, void *arg)
{
	struct mock		*m = srv->mock;
	struct mock_watch	*w, *wnext;
	struct db_filter	 after;
	struct db_record	*v;
	size_t			 n;
	int64_t			 from = INT64_MAX;

	if (m == NULL)
		return;
	if (!committed) {
		free(m->reset_event);
		m->reset_event = NULL;
		return;
	}
	if (m->reset_event != NULL)
		mock_reset_committed(m, seq);
	mock_flush_due(m);
	if (m->nwaits == 0)
		return;
	TAILQ_FOREACH(w, &m->watches, entry)
		if (w->kind == MOCK_WATCH_WAIT && w->last < from)
			from = w->last;
	if (from >= seq)
		return;
	memset(&after, 0, sizeof after);
	after.since = from;
	if (db_deliveries_list(srv->db, &after, 1, -1, 0, &v, &n) == -1) {
		log_warnx("mock: cannot read new deliveries: %s",
		    db_errmsg(srv->db));
		return;
	}
	/* A wait answered is out of the list. */
	for (w = TAILQ_FIRST(&m->watches); w != NULL; w = wnext) {
		wnext = TAILQ_NEXT(w, entry);
		if (w->kind == MOCK_WATCH_WAIT)
			mock_wait_commit(w, v, n, seq);
	}
	db_records_free(v, n);
}

int
mock_watch_stop(struct mock *m)
{
	struct mock_watch	*w, *wnext;
	struct req		*r;
	int			 answered = 0;

	/* Streams get what has committed; then waits, then streams end, as
	 * they always did. */
	mock_watch_flush(m);
	if (m->flush_ev != NULL)
		event_del(m->flush_ev);
	for (w = TAILQ_FIRST(&m->watches); w != NULL; w = wnext) {
		wnext = TAILQ_NEXT(w, entry);
		if (w->kind != MOCK_WATCH_WAIT)
			continue;
		r = w->r;
		mock_watch_free(w);
		mock_stopping(r, "notimock is shutting down");
		answered = 1;
	}
	while ((w = TAILQ_FIRST(&m->watches)) != NULL) {
		mock_stream_end(w);
		answered = 1;
	}
	return (answered);
}
