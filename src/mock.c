/*
 * mock.c: the assertion API under /mock/ (doc/mock-api.md): its routes,
 * query parameters and admin token, the reads answered at once (list,
 * one, entities, cursor, token-check, fingerprint), the reset, and start
 * and stop.  Waits and event streams are mock_watch.c's; a delivery's
 * JSON is mock_json.c's (mock_int.h).
 *
 * Reads go through db.c's filter (struct db_filter), whose one evaluator
 * serves both the SQL queries and the checks made against single
 * deliveries as they commit.
 */
#include <sys/queue.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth.h"
#include "codec.h"
#include "crypto.h"
#include "db.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "admin.h"
#include "mock.h"
#include "mock_int.h"
#include "route.h"
#include "retain.h"
#include "settings.h"
#include "util.h"
#include "xmalloc.h"

#define MOCK_LIMIT_DEFAULT	100
#define MOCK_LIMIT_MAX		1000
#define MOCK_COUNT_MAX		1000
#define MOCK_TIMEOUT_DEFAULT	30000		/* ms */
#define MOCK_TIMEOUT_MAX	3600000		/* ms */
#define MOCK_HEARTBEAT_DEFAULT	15000		/* ms */
#define MOCK_HEARTBEAT_MIN	100		/* ms */

/* Which query parameters a route takes (its flags in mock_routes). */
#define P_FILTER	(ROUTE_USER << 0)	/* entity topic severity origin
						   status since q ... */
#define P_PAGE		(ROUTE_USER << 1)	/* limit offset */
#define P_VIEW		(ROUTE_USER << 2)	/* view */
#define P_WAIT		(ROUTE_USER << 3)	/* count timeout limit */
#define P_RESET		(ROUTE_USER << 4)	/* notifications */
#define P_EVENTS	(ROUTE_USER << 5)	/* heartbeat */
#define P_UNCHECKED	(ROUTE_USER << 6)	/* the query is not looked at */

/*
 * A reset runs in slices, one per loop iteration at most, each committed
 * by the iteration's commit event, so that a reset of a million rows never
 * holds the loop for long: health, POSTs and the other routes are answered
 * between slices.  It deletes what was stored when it began (up to upto);
 * the reply, the stream event and the waits' recount come with the last
 * slice.  A small store (MOCK_RESET_SLICE sequence numbers or fewer) takes
 * one slice, in the request's own iteration.
 *
 * A slice is bounded by time, not rows (issue 11: nothing holds the loop
 * for more than 50 ms): a row costs 20-120 us on a loaded machine (its
 * pages, four indexes, its entity refs, its notifications' UUID index
 * entries), and what a slice writes its commit writes to the WAL, ~1/3 of
 * the slice's time again.  So a slice deletes windows of MOCK_RESET_STEP
 * sequence numbers and stops after the window that ends
 * MOCK_RESET_BUDGET_US or more after the slice began; slice and commit
 * stay near 10 ms.  Before a slice, db_wal_wait() may say the checkpointer
 * is behind: the slice then waits MOCK_RESET_WAIT_MS, so that the reset
 * never brings the WAL to the bound where the loop would copy it itself.
 * Each slice's time on the loop is in the debug log (-v).
 */
#define MOCK_RESET_SLICE	500
#define MOCK_RESET_STEP		50
#define MOCK_RESET_BUDGET_US	8000
#define MOCK_RESET_WAIT_MS	5

struct mock_reset_job {
	TAILQ_ENTRY(mock_reset_job)	 entry;
	struct mock			*m;
	struct req			*r;
	struct mock_opts		 o;
	struct event			*next;
	int64_t				 cur, upto, deleted, notifs;
	int64_t				 slices, slice_rows, slice_us;
	int64_t				 waits;	/* for the checkpointer */
	int64_t				 worst_us;	/* slice + commit */
	int				 sliced;	/* answered by the last */
};

static const char *mock_severities[] = { "critical", "high", "normal", "low",
    NULL };

/* --- small helpers ---------------------------------------------------- */

void
mock_opts_clear(struct mock_opts *o)
{
	db_filter_clear(&o->f);
	free(o->timeout_text);
	free(o->seqtext);
	memset(o, 0, sizeof *o);
}

/* The end of a request's state that outlived its handler (a watcher, a
 * reset job): its event (may be NULL), its options, and job itself. */
void
mock_job_free(void *job, struct event *ev, struct mock_opts *o)
{
	if (ev != NULL)
		event_free(ev);
	mock_opts_clear(o);
	free(job);
}

/* How many deliveries match, and up to opts->limit of them from offset,
 * newest first; -1 with the 503 sent. */
int
mock_matches(struct req *r, const struct mock_opts *opts, int64_t offset,
    int64_t *total, struct db_record **v, size_t *n)
{
	struct db	*db = r->srv->db;

	if (db_deliveries_page(db, &opts->f, opts->limit, offset, total, v,
	    n) == -1) {
		mock_db_error(r);
		return (-1);
	}
	return (0);
}

/* Answer a request that waited, now, as the API stops: a 503. */
void
mock_stopping(struct req *r, const char *msg)
{
	r->durable = 0;
	http_error(r, 503, "ServiceUnavailableError", msg);
}

const char *
mock_show(const char *s, char *buf, size_t len)
{
	return (log_escape(buf, len, s, strlen(s)));
}

static void
mock_input_error(struct req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
mock_input_error(struct req *r, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	http_error(r, 400, "InputError", msg);
}

void
mock_db_error(struct req *r)
{
	char	msg[512];

	snprintf(msg, sizeof msg, "notimock could not read its store: %s",
	    db_errmsg(r->srv->db));
	http_error(r, 503, "ServiceUnavailableError", msg);
}

struct json *
mock_error_json(struct req *r, int status, const char *name, const char *msg)
{
	struct json	*o;
	char		*body, err[JSON_ERRLEN];
	size_t		 len;

	body = http_error_body(r, status, name, msg, NULL, NULL, &len);
	o = json_parse(body, len, 0, err, sizeof err, NULL);
	free(body);
	return (o != NULL ? o : json_new_object());
}


/* --- query parameters ------------------------------------------------ */

static int
mock_param_allowed(const char *name, int allowed)
{
	static const struct {
		const char	*name;
		int		 set;
	} tab[] = {
		{ "entity", P_FILTER }, { "topic", P_FILTER },
		{ "severity", P_FILTER }, { "origin", P_FILTER },
		{ "status", P_FILTER }, { "since", P_FILTER },
		{ "q", P_FILTER }, { "reached", P_FILTER },
		{ "clean", P_FILTER }, { "retry", P_FILTER },
		{ "limit", P_PAGE | P_WAIT },
		{ "offset", P_PAGE }, { "view", P_VIEW },
		{ "count", P_WAIT }, { "timeout", P_WAIT },
		{ "notifications", P_RESET }, { "heartbeat", P_EVENTS },
	};
	size_t	i;

	if (strcmp(name, "access_token") == 0)
		return (1);
	for (i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (strcmp(name, tab[i].name) == 0)
			return ((tab[i].set & allowed) != 0);
	return (0);
}

/* Set a once-only string option; -1 (and the 400 sent) if given twice or
 * empty. */
static int
mock_once(struct req *r, char **dst, const struct http_param *p)
{
	if (*dst != NULL) {
		mock_input_error(r, "parameter '%s' given more than once",
		    p->name);
		return (-1);
	}
	if (*p->value == '\0') {
		mock_input_error(r, "invalid '%s': must not be empty", p->name);
		return (-1);
	}
	*dst = xstrdup(p->value);
	return (0);
}

/* A number in [min, max]; -1 and the 400 sent otherwise. */
static int
mock_number(struct req *r, const struct http_param *p, long long min,
    long long max, const char *what, int64_t *out)
{
	const char	*errstr;
	char		 show[MOCK_SHOW_MAX + 8];
	long long	 v;

	v = util_strtonum(p->value, min, max, &errstr);
	if (errstr != NULL) {
		mock_input_error(r, "invalid '%s': '%s' is not %s", p->name,
		    mock_show(p->value, show, sizeof show), what);
		return (-1);
	}
	*out = v;
	return (0);
}

static int
mock_duration(struct req *r, const struct http_param *p, int64_t min,
    int64_t max, int64_t *out)
{
	char	 show[MOCK_SHOW_MAX + 8];
	int64_t	 ms;

	if (util_parse_duration(p->value, &ms) == -1 || ms < min || ms > max) {
		mock_input_error(r, "invalid '%s': '%s' is not a duration such "
		    "as 30s, 500ms or 2m (from %lldms to %llds)", p->name,
		    mock_show(p->value, show, sizeof show), (long long)min,
		    (long long)max / 1000);
		return (-1);
	}
	*out = ms;
	return (0);
}

/* One filter parameter into o->f: 0, -1 with the 400 sent, or 1 if p is
 * not a filter's. */
static int
mock_opt_filter(struct req *r, const struct http_param *p,
    struct mock_opts *o)
{
	char	show[MOCK_SHOW_MAX + 8], err[512];
	size_t	j;
	int64_t	num;

	if (strcmp(p->name, "entity") == 0) {
		if (db_filter_add_entity(&o->f, p->value, err,
		    sizeof err) == -1) {
			mock_input_error(r, "invalid 'entity': %s", err);
			return (-1);
		}
	} else if (strcmp(p->name, "topic") == 0) {
		if (mock_once(r, &o->f.topic, p) == -1)
			return (-1);
	} else if (strcmp(p->name, "origin") == 0) {
		if (mock_once(r, &o->f.origin, p) == -1)
			return (-1);
	} else if (strcmp(p->name, "q") == 0) {
		if (mock_once(r, &o->f.q, p) == -1)
			return (-1);
	} else if (strcmp(p->name, "severity") == 0) {
		for (j = 0; mock_severities[j] != NULL; j++)
			if (strcmp(p->value, mock_severities[j]) == 0)
				break;
		if (mock_severities[j] == NULL) {
			mock_input_error(r, "invalid 'severity': '%s' is "
			    "not one of critical, high, normal, low",
			    mock_show(p->value, show, sizeof show));
			return (-1);
		}
		o->f.severity = xstrdup(p->value);
	} else if (strcmp(p->name, "status") == 0) {
		if (strcmp(p->value, "accepted") == 0)
			o->f.status = DB_STATUS_ACCEPTED;
		else if (strcmp(p->value, "rejected") == 0)
			o->f.status = DB_STATUS_REJECTED;
		else if (mock_number(r, p, 100, 599, "accepted, rejected "
		    "or an HTTP status code (100-599)", &num) == -1)
			return (-1);
		else
			o->f.status = (int)num;
	} else if (strcmp(p->name, "reached") == 0 ||
	    strcmp(p->name, "clean") == 0) {
		if (strcmp(p->value, "true") == 0)
			num = 1;
		else if (strcmp(p->value, "false") == 0)
			num = -1;
		else {
			mock_input_error(r, "invalid '%s': '%s' is not "
			    "true or false", p->name, mock_show(p->value,
			    show, sizeof show));
			return (-1);
		}
		if (*p->name == 'r')
			o->f.reached = (int)num;
		else
			o->f.clean = (int)num;
	} else if (strcmp(p->name, "retry") == 0) {
		if (strcmp(p->value, "yes") == 0)
			o->f.retry = 1;
		else if (strcmp(p->value, "no") == 0)
			o->f.retry = -1;
		else {
			mock_input_error(r, "invalid 'retry': must be "
			    "yes or no, not '%s'", mock_show(p->value,
			    show, sizeof show));
			return (-1);
		}
	} else if (strcmp(p->name, "since") == 0) {
		if (mock_number(r, p, 0, INT64_MAX, "a sequence number "
		    "(0 or more)", &o->f.since) == -1)
			return (-1);
		o->have_since = 1;
	} else
		return (1);
	return (0);
}

/* One parameter of paging, waits, streams, views or resets: 0, -1 with
 * the 400 sent, or 1 if p is none of them.  *seen gets 1 for limit, 2 for
 * count. */
static int
mock_opt_other(struct req *r, const struct http_param *p,
    struct mock_opts *o, int *seen)
{
	char	show[MOCK_SHOW_MAX + 8];

	if (strcmp(p->name, "limit") == 0) {
		if (mock_number(r, p, 1, MOCK_LIMIT_MAX, "a number from "
		    "1 to 1000", &o->limit) == -1)
			return (-1);
		*seen |= 1;
	} else if (strcmp(p->name, "offset") == 0) {
		if (mock_number(r, p, 0, INT64_MAX, "a number (0 or "
		    "more)", &o->offset) == -1)
			return (-1);
	} else if (strcmp(p->name, "count") == 0) {
		if (mock_number(r, p, 1, MOCK_COUNT_MAX, "a number from "
		    "1 to 1000", &o->count) == -1)
			return (-1);
		*seen |= 2;
	} else if (strcmp(p->name, "timeout") == 0) {
		if (mock_duration(r, p, 0, MOCK_TIMEOUT_MAX,
		    &o->timeout_ms) == -1)
			return (-1);
		/* In o at once: the caller's mock_opts_clear() frees
		 * it even when a later parameter fails. */
		o->timeout_text = xstrdup(p->value);
	} else if (strcmp(p->name, "heartbeat") == 0) {
		if (mock_duration(r, p, MOCK_HEARTBEAT_MIN,
		    MOCK_TIMEOUT_MAX, &o->heartbeat_ms) == -1)
			return (-1);
	} else if (strcmp(p->name, "view") == 0) {
		if (strcmp(p->value, "summary") == 0)
			o->summary = 1;
		else if (strcmp(p->value, "full") != 0) {
			mock_input_error(r, "invalid 'view': '%s' is not "
			    "full or summary", mock_show(p->value, show,
			    sizeof show));
			return (-1);
		}
	} else if (strcmp(p->name, "notifications") == 0) {
		if (strcmp(p->value, "keep") == 0)
			o->keep_notifications = 1;
		else if (strcmp(p->value, "delete") != 0) {
			mock_input_error(r, "invalid 'notifications': "
			    "'%s' is not keep or delete", mock_show(
			    p->value, show, sizeof show));
			return (-1);
		}
	} else
		return (1);
	return (0);
}

/* Fill o from the parameters allowed; on error sends the 400 and returns
 * -1.  Either way o owns what it holds: free it with mock_opts_clear(). */
static int
mock_opts_parse(struct req *r, const struct http_param *v, size_t n,
    int allowed, struct mock_opts *o)
{
	const struct http_param	*p;
	char			 show[MOCK_SHOW_MAX + 8];
	size_t			 i, j;
	char			*seqtext = o->seqtext;
	int			 seen = 0, rc;

	memset(o, 0, sizeof *o);
	o->seqtext = seqtext;
	o->limit = MOCK_LIMIT_DEFAULT;
	o->count = 1;
	o->timeout_ms = MOCK_TIMEOUT_DEFAULT;
	o->heartbeat_ms = MOCK_HEARTBEAT_DEFAULT;
	for (i = 0; i < n; i++) {
		p = &v[i];
		if (!mock_param_allowed(p->name, allowed)) {
			mock_input_error(r, "unknown query parameter '%s'",
			    mock_show(p->name, show, sizeof show));
			return (-1);
		}
		for (j = 0; j < i; j++)
			if (strcmp(v[j].name, p->name) == 0 &&
			    strcmp(p->name, "entity") != 0) {
				mock_input_error(r, "parameter '%s' given more "
				    "than once", p->name);
				return (-1);
			}
		if (strcmp(p->name, "access_token") == 0)
			continue;
		if ((rc = mock_opt_filter(r, p, o)) == 1)
			rc = mock_opt_other(r, p, o, &seen);
		if (rc == -1)
			return (-1);
	}
	/* A wait lists every match it asked for, whatever the default. */
	if ((seen & 2) && !(seen & 1) && o->count > o->limit)
		o->limit = o->count;
	if (o->timeout_text == NULL)
		o->timeout_text = xstrdup("30s");
	return (0);
}

/* --- simple routes --------------------------------------------------- */

/*
 * On a large store a read looks at the newest candidates only (db.h,
 * db_scan_complete): say whether this one saw them all, and if not where
 * it started, so that nobody mistakes a bounded answer for the whole.
 */
void
mock_scan_put(struct json_buf *b, struct db *db)
{
	int64_t	from;

	if (db_scan_complete(db, &from)) {
		MOCK_LIT(b, ",\"complete\":true");
		return;
	}
	MOCK_LIT(b, ",\"complete\":false,\"searchedAfter\":");
	json_buf_num(b, (double)from);
}

/* Send a JSON writer's text, and free it. */
void
mock_send_buf(struct req *r, int status, struct json_buf *b)
{
	http_send(r, status, "application/json; charset=utf-8", b->p, b->len);
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void
mock_add_scan(struct json *o, struct db *db)
{
	int64_t	from;

	if (db_scan_complete(db, &from)) {
		json_add_bool(o, "complete", 1);
		return;
	}
	json_add_bool(o, "complete", 0);
	json_add_num(o, "searchedAfter", (double)from);
}

/* "hex" into out (outlen bytes at most); the byte count, or -1. */
static int
mock_unhex(const char *s, unsigned char *out, size_t outlen)
{
	ssize_t	n;

	if (s == NULL || (n = codec_hex_decode(s, strlen(s), out, outlen)) < 0)
		return (-1);
	return ((int)n);
}

/*
 * POST /mock/token-check {"key":hex,"mac":hex}: would a POST with the
 * token t such that mac = HMAC-SHA256(key, SHA-256(t)) pass the barrier?
 * For `notimock lint --url`: the token never travels, and key is the
 * client's, fresh each time.  Answers {"accepted","subject","tokens"}.
 */
static void
mock_token_check(struct req *r, void *arg)
{
	struct json	*o;
	unsigned char	 key[64], mac[CRYPTO_SHA256_LEN];
	char		 body[1024], err[JSON_ERRLEN];
	const char	*subject;
	const unsigned char *in;
	size_t		 len;
	int		 klen, ok;

	in = http_body(r, &len);
	if (len >= sizeof body) {
		mock_input_error(r, "the body is longer than %zu bytes",
		    sizeof body - 1);
		return;
	}
	if (len > 0)
		memcpy(body, in, len);
	body[len] = '\0';
	if ((o = json_parse(body, len, 1, err, sizeof err, NULL)) == NULL ||
	    (klen = mock_unhex(json_string(json_get(o, "key")), key,
	    sizeof key)) < 16 || mock_unhex(json_string(json_get(o, "mac")),
	    mac, sizeof mac) != (int)sizeof mac) {
		json_free(o);
		mock_input_error(r, "expected {\"key\": 32 to 128 hex digits, "
		    "\"mac\": 64 hex digits}");
		return;
	}
	json_free(o);
	ok = auth_service_match_mac(r->srv->auth, key, (size_t)klen, mac,
	    &subject);
	o = json_new_object();
	json_add_bool(o, "accepted", ok);
	json_add_str(o, "subject", subject);
	json_add_num(o, "tokens", (double)auth_service_count(r->srv->auth));
	http_send_json(r, 200, o);
	json_free(o);
}


static void
mock_cursor(struct req *r, void *arg)
{
	struct json		*o = json_new_object(), *store;
	char			 iso[UTIL_ISO_LEN];
	size_t			 nw, ns;

	(void)arg;
	mock_counts(r->srv, &nw, &ns);
	json_add_num(o, "cursor", (double)db_cursor(r->srv->db));
	json_add_num(o, "waits", (double)nw);
	json_add_num(o, "streams", (double)ns);
	/* Event streams ended because their reader fell behind, and the
	 * events they were not sent (mock_stream_behind). */
	json_add_num(o, "streamsBehind", r->srv->mock != NULL ?
	    (double)r->srv->mock->streams_behind : 0);
	json_add_num(o, "eventsLost", r->srv->mock != NULL ?
	    (double)r->srv->mock->events_lost : 0);
	/* Bodies stored truncated, and the bytes not kept (api.c). */
	json_add_num(o, "bodiesTruncated", (double)r->srv->bodies_truncated);
	json_add_num(o, "bodyBytesNotStored",
	    (double)r->srv->body_bytes_dropped);
	retain_json(r->srv, o);
	/* Whether writes work (server.c): {"writes": true} or false with
	 * since and error. */
	store = json_new_object();
	json_add_bool(store, "writes", r->srv->store_failing_since == 0);
	if (r->srv->store_failing_since != 0) {
		json_add_str(store, "failingSince",
		    util_iso_ms(r->srv->store_failing_since, iso));
		json_add_str(store, "error", r->srv->store_error);
	}
	json_add(o, "store", store);
	http_send_json(r, 200, o);
	json_free(o);
}

static void
mock_list(struct req *r, void *arg)
{
	struct mock_opts	*opts = arg;
	struct db		*db = r->srv->db;
	struct db_record	*v;
	struct json_buf		 b = JSON_BUF_INIT;
	size_t			 n;
	int64_t			 total;

	if (mock_matches(r, opts, opts->offset, &total, &v, &n) == -1)
		return;
	MOCK_LIT(&b, "{\"cursor\":");
	json_buf_num(&b, (double)db_cursor(db));
	MOCK_KEY(&b, "total");
	json_buf_num(&b, (double)total);
	mock_scan_put(&b, db);
	MOCK_KEY(&b, "offset");
	json_buf_num(&b, (double)opts->offset);
	MOCK_KEY(&b, "limit");
	json_buf_num(&b, (double)opts->limit);
	MOCK_KEY(&b, "deliveries");
	mock_records_put(&b, v, n, !opts->summary, r->srv->mock->told);
	MOCK_LIT(&b, "}");
	db_records_free(v, n);
	mock_send_buf(r, 200, &b);
}

static void
mock_one(struct req *r, void *arg)
{
	const char		*seqtext = ((struct mock_opts *)arg)->seqtext;
	struct db_record	 d;
	struct json_buf		 b = JSON_BUF_INIT;
	const char		*errstr;
	char			 show[MOCK_SHOW_MAX + 8], msg[256];
	long long		 seq;
	int			 rc;

	seq = util_strtonum(seqtext, 1, INT64_MAX, &errstr);
	if (errstr != NULL) {
		snprintf(msg, sizeof msg, "no delivery '%s' (a delivery is "
		    "named by its seq, a number from 1)",
		    mock_show(seqtext, show, sizeof show));
		http_error(r, 404, "NotFoundError", msg);
		return;
	}
	if ((rc = db_delivery_get(r->srv->db, seq, &d)) == -1) {
		mock_db_error(r);
		return;
	}
	if (rc == 0) {
		snprintf(msg, sizeof msg, "no delivery %lld", seq);
		http_error(r, 404, "NotFoundError", msg);
		return;
	}
	mock_delivery_put(&b, &d, 1, r->srv->mock->told);
	db_record_clear(&d);
	mock_send_buf(r, 200, &b);
}

/* /mock/entities: refs grouped by db.c, folded here per ref. */
struct mock_ent {
	char		*ref;
	int64_t		 total, accepted, last_seq, last_received;
	struct json	*sev, *topic;
};

struct mock_ents {
	struct mock_ent	*v;
	size_t		 n;
};

static void
mock_count_into(struct json *o, const char *key, int64_t n)
{
	struct json	*cur = json_get(o, key);

	json_add_num(o, key, (cur != NULL ? json_number(cur) : 0) + (double)n);
}

static void
mock_entity_group(void *arg, const struct db_entity_group *g)
{
	struct mock_ents	*es = arg;
	struct mock_ent		*e = NULL;
	size_t			 i;

	for (i = 0; i < es->n; i++)
		if (strcmp(es->v[i].ref, g->ref) == 0) {
			e = &es->v[i];
			break;
		}
	if (e == NULL) {
		es->v = xreallocarray(es->v, es->n + 1, sizeof *es->v);
		e = &es->v[es->n++];
		memset(e, 0, sizeof *e);
		e->ref = xstrdup(g->ref);
		e->sev = json_new_object();
		e->topic = json_new_object();
	}
	e->total += g->count;
	if (g->accepted)
		e->accepted += g->count;
	if (g->last_seq > e->last_seq) {
		e->last_seq = g->last_seq;
		e->last_received = g->last_received;
	}
	if (g->severity != NULL)
		mock_count_into(e->sev, g->severity, g->count);
	if (g->topic != NULL)
		mock_count_into(e->topic, g->topic, g->count);
}

static int
mock_ent_cmp(const void *a, const void *b)
{
	const struct mock_ent	*x = a, *y = b;

	return (x->last_seq < y->last_seq ? 1 : x->last_seq > y->last_seq ?
	    -1 : strcmp(x->ref, y->ref));
}

static void
mock_entities(struct req *r, void *arg)
{
	struct mock_opts	*opts = arg;
	struct mock_ents	 es = { NULL, 0 };
	struct json		*o, *arr, *e;
	char			 iso[UTIL_ISO_LEN];
	size_t			 i;
	int			 rc;

	rc = db_entities_scan(r->srv->db, &opts->f, mock_entity_group, &es);
	if (es.n > 1)
		qsort(es.v, es.n, sizeof *es.v, mock_ent_cmp);
	o = json_new_object();
	json_add_num(o, "cursor", (double)db_cursor(r->srv->db));
	mock_add_scan(o, r->srv->db);
	arr = json_new_array();
	for (i = 0; i < es.n; i++) {
		e = json_new_object();
		json_add_str(e, "ref", es.v[i].ref);
		json_add_num(e, "total", (double)es.v[i].total);
		json_add_num(e, "accepted", (double)es.v[i].accepted);
		json_add_num(e, "rejected",
		    (double)(es.v[i].total - es.v[i].accepted));
		json_add(e, "bySeverity", es.v[i].sev);
		json_add(e, "byTopic", es.v[i].topic);
		json_add_num(e, "lastSeq", (double)es.v[i].last_seq);
		json_add_str(e, "lastReceived",
		    util_iso_ms(es.v[i].last_received, iso));
		json_append(arr, e);
		free(es.v[i].ref);
	}
	free(es.v);
	json_add(o, "entities", arr);
	if (rc == -1)
		mock_db_error(r);
	else
		http_send_json(r, 200, o);
	json_free(o);
}


/* --- reset ----------------------------------------------------------- */

static void
mock_reset_free(struct mock_reset_job *j)
{
	TAILQ_REMOVE(&j->m->resets, j, entry);
	mock_job_free(j, j->next, &j->o);
}

static void
mock_reset_gone(struct req *r, void *arg)
{
	(void)r;
	mock_reset_free(arg);	/* what was deleted stays deleted */
}

static void	mock_reset_done(struct req *, struct mock *, int64_t,
		    int64_t);
static void	mock_reset_next(struct mock_reset_job *, int);

/* One slice; the next is due 1 ms later, after the commit. */
static void
mock_reset_slice(evutil_socket_t fd, short what, void *arg)
{
	struct mock_reset_job	*j = arg;
	struct server		*srv = j->m->srv;
	struct req		*r = j->r;
	struct mock		*m = j->m;
	int64_t			 end, hi, deleted, notifs, start;

	(void)fd;
	(void)what;
	if (j->slice_us > 0) {
		/* The last slice's time on the loop: it and its commit. */
		if (j->slice_us + db_commit_us(srv->db) > j->worst_us)
			j->worst_us = j->slice_us + db_commit_us(srv->db);
		log_debug("mock: reset slice %lld: %lld rows in %lld us, its "
		    "commit %lld us", (long long)j->slices,
		    (long long)j->slice_rows, (long long)j->slice_us,
		    (long long)db_commit_us(srv->db));
	}
	j->slice_us = 0;
	if (j->sliced && db_wal_wait(srv->db)) {
		j->waits++;
		mock_reset_next(j, MOCK_RESET_WAIT_MS);
		return;
	}
	start = util_mono_us();
	j->slices++;
	j->slice_rows = j->deleted;
	end = j->cur + MOCK_RESET_SLICE < j->upto ? j->cur + MOCK_RESET_SLICE :
	    j->upto;
	do {
		hi = j->cur + MOCK_RESET_STEP < end ? j->cur + MOCK_RESET_STEP :
		    end;
		if (db_deliveries_delete_range(srv->db, &j->o.f,
		    j->o.keep_notifications, j->cur, hi, &deleted, &notifs) ==
		    -1) {
			mock_reset_free(j);
			r->durable = 1;
			mock_db_error(r);
			return;
		}
		j->cur = hi;
		j->deleted += deleted;
		j->notifs += notifs;
	} while (j->cur < end && (!j->sliced ||
	    util_mono_us() - start < MOCK_RESET_BUDGET_US));
	j->slice_rows = j->deleted - j->slice_rows;
	j->slice_us = util_mono_us() - start;
	if (j->cur >= j->upto) {
		deleted = j->deleted;
		notifs = j->notifs;
		if (j->sliced)
			log_info("mock: reset deleted %lld deliveries in %lld "
			    "slices (the longest %lld us with its commit; "
			    "waited %lld times for the checkpointer)",
			    (long long)deleted, (long long)j->slices,
			    (long long)j->worst_us, (long long)j->waits);
		mock_reset_free(j);
		mock_reset_done(r, m, deleted, notifs);
		return;
	}
	server_kick(srv);
	/* Not 0: a timer due at once runs at the usual priority in the next
	 * iteration, and the commit event (the lowest: server.c) would wait
	 * for its 2 ms timer, so two slices would share one transaction.
	 * 1 ms leaves an iteration where the commit runs alone first. */
	mock_reset_next(j, 1);
}

/* The next slice: on the next iteration, or after ms. */
static void
mock_reset_next(struct mock_reset_job *j, int ms)
{
	struct timeval	tv = { 0, ms * 1000 };

	if (j->next == NULL)
		j->next = evtimer_new(j->m->srv->base, mock_reset_slice, j);
	evtimer_add(j->next, &tv);
}

static void
mock_reset(struct req *r, void *arg)
{
	struct mock_opts	*opts = arg;
	struct mock		*m = r->srv->mock;
	struct db		*db = r->srv->db;
	struct mock_reset_job	*j;
	int64_t			 first;

	/* Streams get what committed before it goes (mock_watch_flush). */
	mock_watch_flush(m);
	/* On a full disk a delete needs room to write too (db.c, "room for
	 * a reset"); the commit's 503 says so if there is still none.  Not
	 * only while commits fail: one that wrote nothing (a read's) goes
	 * through on a full disk and clears that state. */
	if ((r->srv->store_failing_since != 0 || db_room_low(db)) &&
	    db_make_room(db) == -1)
		log_warnx("mock: reset on a failing store: %s",
		    db_errmsg(db));
	j = xcalloc(1, sizeof *j);
	j->m = m;
	j->r = r;
	j->o = *opts;
	memset(opts, 0, sizeof *opts);
	/* Everything stored so far, this iteration's own rows included. */
	j->upto = db_seq_last(db);
	j->cur = j->o.f.since;
	if ((first = db_first_seq(db)) > 0 && first - 1 > j->cur)
		j->cur = first - 1;
	TAILQ_INSERT_TAIL(&m->resets, j, entry);
	if (j->upto - j->cur > MOCK_RESET_SLICE) {
		/* Answered by the last slice, already committed. */
		r->durable = 0;
		j->sliced = 1;
		http_on_close(r, mock_reset_gone, j);
	}
	mock_reset_slice(-1, 0, j);
}

static void
mock_reset_done(struct req *r, struct mock *m, int64_t deleted,
    int64_t notifs)
{
	struct db		*db = r->srv->db;
	struct json		*o;
	char			*data;

	o = json_new_object();
	json_add_num(o, "deleted", (double)deleted);
	json_add_num(o, "notificationsDeleted", (double)notifs);
	json_add_num(o, "cursor", (double)db_cursor(db));
	data = json_print(o, NULL);
	/* Streams hear of it, and waits recount, once it has committed
	 * (mock_watch_commit); a second reset in the batch says it again. */
	free(m->reset_event);
	xasprintf(&m->reset_event, "event: reset\ndata: %s\n\n", data);
	free(data);
	r->durable = 1;
	http_send_json(r, 200, o);
	json_free(o);
}


/* --- routing --------------------------------------------------------- */

/*
 * POST /mock/fingerprint {"sha256": "<64 hex digits>"}: the fingerprint of
 * the token with that SHA-256, in the keyed form this server logs, stores
 * and diagnoses with, whose key a user cannot have.  The token itself
 * never travels (`notimock fingerprint` hashes it), and the answer tells
 * nothing a POST to the API with the token would not.
 */
static void
mock_fingerprint(struct req *r, void *arg)
{
	struct json		*in, *o;
	const unsigned char	*body;
	const char		*hex;
	unsigned char		 d[CRYPTO_SHA256_LEN];
	char			 fp[CRYPTO_FP_LEN], err[JSON_ERRLEN];
	size_t			 len;

	body = http_body(r, &len);
	in = body != NULL ? json_parse((const char *)body, len, 0, err,
	    sizeof err, NULL) : NULL;
	hex = json_string(json_get(in, "sha256"));
	if (hex == NULL || strlen(hex) != 2 * CRYPTO_SHA256_LEN ||
	    codec_hex_decode(hex, strlen(hex), d, sizeof d) != sizeof d) {
		json_free(in);
		mock_input_error(r, "the body must be {\"sha256\": \"<64 hex "
		    "digits>\"}, the SHA-256 of the token (printf %%s \"$TOKEN\" "
		    "| notimock fingerprint)");
		return;
	}
	json_free(in);
	o = json_new_object();
	json_add_str(o, "fingerprint", crypto_fingerprint_digest(d, fp));
	http_send_json(r, 200, o);
	json_free(o);
}

/*
 * The routes below /mock (doc/mock-api.md), first match wins; paths
 * compare without case.  The flags say which query parameters a route
 * takes: any other is a 400.
 */
static const struct route mock_routes[] = {
	{ HTTP_GET, "/deliveries", mock_list, NULL,
	    P_FILTER | P_PAGE | P_VIEW },
	{ HTTP_DELETE, "/deliveries", mock_reset, NULL, P_FILTER | P_RESET },
	{ HTTP_GET, "/deliveries/:seq", mock_one, NULL, 0 },
	{ HTTP_GET, "/entities", mock_entities, NULL, P_FILTER },
	{ HTTP_GET, "/cursor", mock_cursor, NULL, 0 },
	{ HTTP_GET, "/wait", mock_wait, NULL, P_FILTER | P_WAIT },
	{ HTTP_GET, "/events", mock_events, NULL, P_FILTER | P_EVENTS },
	{ HTTP_POST, "/token-check", mock_token_check, NULL, P_UNCHECKED },
	{ HTTP_POST, "/fingerprint", mock_fingerprint, NULL, 0 },
};

/* The route for path, or NULL with the 404 or 405 sent. */
static const struct route *
mock_find(struct req *r, const char *path, struct mock_opts *opts)
{
	struct route_match	 m;
	char			 show[MOCK_SHOW_MAX + 8], msg[512], allow[64];

	route_find(mock_routes, sizeof mock_routes / sizeof mock_routes[0],
	    r->verb, path, &m);
	if (m.route == NULL && m.allow == 0) {
		snprintf(msg, sizeof msg, "no route %s under /mock/ (see "
		    "doc/mock-api.md)", mock_show(r->path, show, sizeof show));
		http_error(r, 404, "NotFoundError", msg);
	} else if (m.route == NULL) {
		snprintf(msg, sizeof msg, "%s is not allowed here (allowed: "
		    "%s)", r->method, route_allow(m.allow, ", ", allow,
		    sizeof allow));
		http_add_header(r, "Allow", allow);
		http_error(r, 405, "MethodNotAllowedError", msg);
	} else if (m.param != NULL)
		opts->seqtext = xstrndup(m.param, m.paramlen);
	return (m.route);
}

void
mock_route(struct req *r, void *arg)
{
	const struct route	*rt;
	struct http_param	*params = NULL;
	struct mock_opts	 opts;
	char			*path;
	size_t			 nparams = 0, len;

	(void)arg;
	memset(&opts, 0, sizeof opts);
	/*
	 * Replies wait for the iteration's commit (http.c): a read here also
	 * sees the rows this iteration has written, which a failed commit
	 * takes back (the reply then becomes its 503), and a reset is a
	 * write.  A wait, or a reset in slices, that answers later clears
	 * this: its answer is sent after a commit (mock_watch_commit, the
	 * last slice).  A stream starts at once: its replay can hold rows
	 * of the open transaction.
	 */
	r->durable = 1;
	if (r->srv->mock == NULL) {
		http_error(r, 503, "ServiceUnavailableError",
		    "the assertion API is not running");
		return;
	}

	/* "/mock/x/" is "/mock/x". */
	path = xstrdup(r->path + strlen("/mock"));
	len = strlen(path);
	if (len > 1 && path[len - 1] == '/')
		path[len - 1] = '\0';

	if (http_query_parse(r->query, 1, &params, &nparams) == -1) {
		/* Authorize first even so: use no token from the query. */
		if (admin_authorized(r, NULL, 0))
			mock_input_error(r, "the query string does not decode "
			    "(bad percent-encoding or a NUL byte)");
		goto out;
	}
	/* The token first: no route is told to whoever has none. */
	if (!admin_authorized(r, params, nparams) ||
	    (rt = mock_find(r, path, &opts)) == NULL)
		goto out;
	if (!(rt->flags & P_UNCHECKED) && mock_opts_parse(r, params, nparams,
	    (int)rt->flags, &opts) == -1)
		goto out;
	rt->fn(r, &opts);
out:
	mock_opts_clear(&opts);
	http_params_free(params, nparams);
	free(path);
}

void
mock_start(struct server *srv)
{
	struct mock	*m;

	m = xcalloc(1, sizeof *m);
	m->srv = srv;
	TAILQ_INIT(&m->watches);
	TAILQ_INIT(&m->resets);
	m->told = mock_told_new();
	srv->mock = m;
	server_hook_add(srv, SERVER_AFTER_REPLIES, mock_watch_commit, m);
}

/*
 * Shutting down happens in two steps around http_stop().  mock_stop()
 * detaches the API from the server first: its extra pass of the loop still
 * reads and dispatches requests (one pipelined behind a reply sent here,
 * say), and those must find the API closed (mock_route's 503) rather than
 * join a list that is about to go away.  The struct itself lives until
 * mock_free(), after http_stop() has freed every connection.
 */
struct mock *
mock_stop(struct server *srv)
{
	struct mock		*m = srv->mock;
	struct mock_reset_job	*j;
	struct req		*r;
	int			 answered = 0;

	if (m == NULL)
		return (NULL);
	srv->mock = NULL;
	server_hook_del(srv, mock_watch_commit, m);
	while ((j = TAILQ_FIRST(&m->resets)) != NULL) {
		r = j->r;
		mock_reset_free(j);
		mock_stopping(r, "notimock is shutting down (the reset stopped "
		    "part-way)");
		answered = 1;
	}
	if (mock_watch_stop(m))
		answered = 1;
	/* The loop has stopped: give those last words one turn to reach the
	 * sockets before the listeners (and their connections) are freed. */
	if (answered)
		event_base_loop(srv->base, EVLOOP_NONBLOCK);
	return (m);
}

void
mock_free(struct mock *m)
{
	if (m == NULL)
		return;
	/* Nothing can join after mock_stop(): srv->mock is NULL. */
	if (!TAILQ_EMPTY(&m->watches))
		fatalx("%s: waits or streams left after mock_stop", __func__);
	if (m->flush_ev != NULL)
		event_free(m->flush_ev);
	free(m->reset_event);
	mock_told_free(m->told);
	free(m);
}
