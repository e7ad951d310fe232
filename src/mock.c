/*
 * mock.c: the assertion API under /mock/ (doc/mock-api.md).
 *
 * Reads go through db.c's filter (struct db_filter), whose one evaluator
 * serves both the SQL queries and the checks made here against single
 * deliveries.  Long-polls (/mock/wait) and event streams (/mock/events) sit
 * in two lists; after every commit mock_on_commit() loads the deliveries
 * none of them has seen yet, once, and hands them to each.  A wait also
 * has a timer; a client that goes away is noticed through http_on_close().
 *
 * Ownership: a waiter or stream owns its filter and points at its struct
 * req, which http.c frees once the reply is out (or the client has gone).
 * Every path that ends one removes it from its list and frees it at once;
 * nothing else keeps a pointer to it.
 */
#include <sys/queue.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "auth.h"
#include "crypto.h"
#include "db.h"
#include "diag.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "mock.h"
#include "retain.h"
#include "settings.h"
#include "signals.h"
#include "util.h"
#include "xmalloc.h"

#define JSON_CTYPE		"application/json; charset=utf-8"
#define MOCK_LIMIT_DEFAULT	100
#define MOCK_LIMIT_MAX		1000
#define MOCK_COUNT_MAX		1000
#define MOCK_TIMEOUT_DEFAULT	30000		/* ms */
#define MOCK_TIMEOUT_MAX	3600000		/* ms */
#define MOCK_HEARTBEAT_DEFAULT	15000		/* ms */
#define MOCK_HEARTBEAT_MIN	100		/* ms */
#define MOCK_REPLAY_MAX		1000
#define MOCK_MISSES		10
#define MOCK_SHOW_MAX		100		/* bytes of a bad value quoted */

/* Which query parameters a route takes. */
#define P_FILTER	0x01	/* entity topic severity origin status since q */
#define P_PAGE		0x02	/* limit offset */
#define P_VIEW		0x04	/* view */
#define P_WAIT		0x08	/* count timeout limit */
#define P_RESET		0x10	/* notifications */
#define P_EVENTS	0x20	/* heartbeat */

/* A request's parsed query. */
struct mock_opts {
	struct db_filter f;
	int		 have_since;
	int64_t		 limit, offset, count;
	int64_t		 timeout_ms, heartbeat_ms;
	char		*timeout_text;	/* as given, for messages */
	int		 summary;	/* view=summary */
	int		 keep_notifications;
};

struct mock_waiter {
	struct mock		*m;
	struct req		*r;
	struct mock_opts	 o;
	int64_t			 matched;	/* matches with seq <= checked */
	int64_t			 checked;
	struct event		*timer;
	TAILQ_ENTRY(mock_waiter) entry;
};

struct mock_stream {
	struct mock		*m;
	struct req		*r;
	struct mock_opts	 o;
	int64_t			 last;		/* last seq looked at */
	int64_t			 sent;		/* last seq sent */
	uint64_t		 sig_last;	/* last signal sent */
	struct event		*beat;
	TAILQ_ENTRY(mock_stream) entry;
};

struct mock {
	struct server			*srv;
	TAILQ_HEAD(, mock_waiter)	 waiters;
	TAILQ_HEAD(, mock_stream)	 streams;
	/* A reset in the open transaction: its stream event, told (and the
	 * waiters recounted) only once it has committed. */
	char				*reset_event;
	/* Resets of large stores, going on in slices. */
	TAILQ_HEAD(, mock_reset_job)	 resets;
	uint64_t			 streams_behind;	/* ended: fell behind */
	uint64_t			 events_lost;	/* not sent to them */
};

/*
 * A reset runs in slices of MOCK_RESET_SLICE sequence numbers, one per
 * loop iteration, each committed by the iteration's commit event, so that
 * a reset of a million rows never holds the loop for long: health, POSTs
 * and the other routes are answered between slices.  It deletes what was
 * stored when it began (up to upto); the reply, the stream event and the
 * waits' recount come with the last slice.  A small store takes one slice,
 * in the request's own iteration.
 */
#define MOCK_RESET_SLICE	2000
/*
 * A slice is also bounded by time (issue 11: nothing holds the loop for
 * more than 50 ms): it deletes windows of MOCK_RESET_STEP sequence
 * numbers and stops after the first that ends MOCK_RESET_BUDGET_US or more
 * after the slice began.  What is deleted is the same; only where the
 * slices split moves.  A reset answered in its request's own iteration
 * (one slice) is not cut short, so that its reply stays where it was.
 */
#define MOCK_RESET_STEP		200
#define MOCK_RESET_BUDGET_US	15000

struct mock_reset_job {
	TAILQ_ENTRY(mock_reset_job)	 entry;
	struct mock			*m;
	struct req			*r;
	struct mock_opts		 o;
	struct event			*next;
	int64_t				 cur, upto, deleted, notifs;
	int				 sliced;	/* answered by the last */
};

static const char *mock_severities[] = { "critical", "high", "normal", "low",
    NULL };

/* --- small helpers ---------------------------------------------------- */

static void
mock_opts_clear(struct mock_opts *o)
{
	db_filter_clear(&o->f);
	free(o->timeout_text);
	memset(o, 0, sizeof *o);
}

/* A bad value, cut short and made printable, for an error message. */
static const char *
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

static void
mock_db_error(struct req *r)
{
	char	msg[512];

	snprintf(msg, sizeof msg, "notimock could not read its store: %s",
	    db_errmsg(r->srv->db));
	http_error(r, 503, "ServiceUnavailableError", msg);
}

/* The error shape of http_error_body(), as a tree more fields can join. */
static struct json *
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

/*
 * Make raw bytes (a request body, a path) into a string the JSON module
 * takes: valid UTF-8 stays, anything else becomes U+FFFD, and NUL becomes
 * C0 80 (json.h's form of U+0000).  *valid says whether nothing changed.
 */
static char *
mock_utf8(const void *buf, size_t len, int *valid)
{
	const unsigned char	*p = buf;
	char			*out, *o;
	size_t			 i = 0, n, k;
	unsigned int		 cp, min;

	*valid = 1;
	out = o = xmalloc(len * 3 + 1);
	while (i < len) {
		if (p[i] == 0) {
			*o++ = (char)0xc0;
			*o++ = (char)0x80;
			i++;
			continue;
		}
		if (p[i] < 0x80) {
			*o++ = (char)p[i++];
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			n = 2;
			cp = p[i] & 0x1f;
			min = 0x80;
		} else if ((p[i] & 0xf0) == 0xe0) {
			n = 3;
			cp = p[i] & 0x0f;
			min = 0x800;
		} else if ((p[i] & 0xf8) == 0xf0) {
			n = 4;
			cp = p[i] & 0x07;
			min = 0x10000;
		} else
			goto bad;
		if (i + n > len)
			goto bad;
		for (k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				goto bad;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		memcpy(o, p + i, n);
		o += n;
		i += n;
		continue;
bad:
		*valid = 0;
		*o++ = (char)0xef;
		*o++ = (char)0xbf;
		*o++ = (char)0xbd;
		i++;
	}
	*o = '\0';
	return (out);
}

static char *
mock_base64(const unsigned char *p, size_t len)
{
	static const char	 tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char			*out, *o;
	size_t			 i;
	unsigned int		 v;

	out = o = xmalloc((len + 2) / 3 * 4 + 1);
	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned int)p[i] << 16 | (unsigned int)p[i + 1] << 8 |
		    p[i + 2];
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = tab[(v >> 6) & 63];
		*o++ = tab[v & 63];
	}
	if (i < len) {
		v = (unsigned int)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned int)p[i + 1] << 8;
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return (out);
}

/* Add raw bytes as a string (see mock_utf8); NULL adds null. */
static void
mock_add_raw(struct json *o, const char *key, const char *s)
{
	char	*u;
	int	 valid;

	if (s == NULL) {
		json_add(o, key, json_new_null());
		return;
	}
	u = mock_utf8(s, strlen(s), &valid);
	json_add_str(o, key, u);
	free(u);
}

/* Add stored JSON text as a value; fallback if absent or unparsable. */
static void
mock_add_stored(struct json *o, const char *key, const char *text,
    int empty_array)
{
	struct json	*v = NULL;
	char		 err[JSON_ERRLEN];

	if (text != NULL)
		v = json_parse(text, strlen(text), 0, err, sizeof err, NULL);
	if (v == NULL)
		v = empty_array ? json_new_array() : json_new_null();
	json_add(o, key, v);
}

/* The codes of the warning and error diagnoses in a stored array: what
 * a clean=true filter found wrong. */
static struct json *
mock_diag_codes(const char *diagnoses)
{
	struct json	*all, *arr = json_new_array(), *e;
	const char	*level, *code;
	char		 err[JSON_ERRLEN];

	if (diagnoses == NULL || (all = json_parse(diagnoses,
	    strlen(diagnoses), 0, err, sizeof err, NULL)) == NULL)
		return (arr);
	for (e = json_first(all); e != NULL; e = json_next(e)) {
		level = json_string(json_get(e, "level"));
		code = json_string(json_get(e, "code"));
		if (code != NULL && level != NULL &&
		    (strcmp(level, "warning") == 0 ||
		    strcmp(level, "error") == 0))
			json_append(arr, json_new_string(code));
	}
	json_free(all);
	return (arr);
}

/* A delivery as doc/mock-api.md shows it: the summary, or full. */
static struct json *
mock_delivery_json(const struct db_record *d, int full)
{
	struct json	*o;
	char		 iso[UTIL_ISO_LEN], *s;
	int		 valid;

	o = json_new_object();
	json_add_num(o, "seq", (double)d->seq);
	json_add_str(o, "received", util_iso_ms(d->received, iso));
	json_add_num(o, "receivedMs", (double)d->received);
	mock_add_raw(o, "remote", d->remote);
	mock_add_raw(o, "method", d->method);
	mock_add_raw(o, "path", d->path);
	json_add_num(o, "status", d->status);
	json_add_bool(o, "accepted", d->status >= 200 && d->status <= 299);
	/* These hold json.h strings already (they came out of a parse). */
	json_add_str(o, "origin", d->origin);
	json_add_str(o, "tokenFingerprint", d->token_fp);
	json_add_str(o, "title", d->title);
	json_add_str(o, "topic", d->topic);
	json_add_str(o, "severity", d->severity);
	mock_add_stored(o, "entities", d->entities, 1);
	mock_add_stored(o, "users", d->users, 1);
	mock_add_stored(o, "notificationIds", d->ids, 1);
	/* Stored as codes and arguments (diag_json_compact): told whole. */
	s = d->diagnoses != NULL ? diag_expand(d->diagnoses,
	    strlen(d->diagnoses), NULL) : NULL;
	mock_add_stored(o, "diagnoses", s, 1);
	free(s);
	json_add_num(o, "durationUs", (double)d->duration_us);
	/* Which attempt of which first delivery (diag.c's retry detector),
	 * and the fault rule that answered, if one did (fault.c). */
	json_add_num(o, "attempt", d->attempt > 0 ? d->attempt : 1);
	if (d->retry_of > 0)
		json_add_num(o, "retryOf", (double)d->retry_of);
	else
		json_add(o, "retryOf", json_new_null());
	mock_add_stored(o, "fault", d->fault, 0);
	if (!full)
		return (o);

	mock_add_stored(o, "headers", d->headers, 1);
	s = mock_utf8(d->body, d->body_len, &valid);
	json_add_str(o, "body", s);
	free(s);
	json_add_num(o, "bodyBytes", (double)d->body_len);
	if (d->body_size > 0) {
		/* Stored truncated (README, "Limits"): what arrived. */
		json_add_bool(o, "bodyTruncated", 1);
		json_add_num(o, "bodySize", (double)d->body_size);
	}
	if (!valid) {
		s = mock_base64(d->body, d->body_len);
		json_add_str(o, "bodyBase64", s);
		free(s);
	}
	mock_add_stored(o, "payload", d->payload, 0);
	mock_add_stored(o, "recipients", d->recipients, 0);
	mock_add_raw(o, "response", d->response);
	return (o);
}

static struct json *
mock_records_json(const struct db_record *v, size_t n, int full)
{
	struct json	*arr = json_new_array();
	size_t		 i;

	for (i = 0; i < n; i++)
		json_append(arr, mock_delivery_json(&v[i], full));
	return (arr);
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

/* Fill o from the parameters allowed; on error sends the 400 and returns
 * -1.  Either way o owns what it holds: free it with mock_opts_clear(). */
static int
mock_opts_parse(struct req *r, const struct http_param *v, size_t n,
    int allowed, struct mock_opts *o)
{
	const struct http_param	*p;
	char			 show[MOCK_SHOW_MAX + 8], err[512];
	size_t			 i, j;
	int64_t			 num;
	int			 seen_limit = 0, seen_count = 0;

	memset(o, 0, sizeof *o);
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
		} else if (strcmp(p->name, "limit") == 0) {
			if (mock_number(r, p, 1, MOCK_LIMIT_MAX, "a number from "
			    "1 to 1000", &o->limit) == -1)
				return (-1);
			seen_limit = 1;
		} else if (strcmp(p->name, "offset") == 0) {
			if (mock_number(r, p, 0, INT64_MAX, "a number (0 or "
			    "more)", &o->offset) == -1)
				return (-1);
		} else if (strcmp(p->name, "count") == 0) {
			if (mock_number(r, p, 1, MOCK_COUNT_MAX, "a number from "
			    "1 to 1000", &o->count) == -1)
				return (-1);
			seen_count = 1;
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
		}
	}
	/* A wait lists every match it asked for, whatever the default. */
	if (seen_count && !seen_limit && o->count > o->limit)
		o->limit = o->count;
	if (o->timeout_text == NULL)
		o->timeout_text = xstrdup("30s");
	return (0);
}

/* --- access ---------------------------------------------------------- */

/* Check the admin token, if one is set.  Sends the 401 and returns 0 if
 * the request may not pass. */
static int
mock_authorized(struct req *r, const struct http_param *v, size_t n)
{
	const char	*want = r->srv->settings->admin_token;
	const char	*hdr, *tok = NULL;
	unsigned char	 a[CRYPTO_SHA256_LEN], b[CRYPTO_SHA256_LEN];
	size_t		 i;

	if (want == NULL || *want == '\0')
		return (1);
	hdr = http_header(r, "Authorization");
	if (hdr != NULL && util_strncaseeq(hdr, "Bearer ", 7)) {
		tok = hdr + 7;
		while (*tok == ' ')
			tok++;
	} else {
		for (i = 0; i < n; i++)
			if (strcmp(v[i].name, "access_token") == 0)
				tok = v[i].value;
	}
	if (tok == NULL || *tok == '\0') {
		http_add_header(r, "WWW-Authenticate",
		    "Bearer realm=\"notimock\"");
		http_error(r, 401, "AuthenticationError", "Missing admin token");
		return (0);
	}
	/* Equal-length digests: the comparison time says nothing about the
	 * token's length or content. */
	crypto_sha256(tok, strlen(tok), a);
	crypto_sha256(want, strlen(want), b);
	if (!crypto_equal(a, b, sizeof a)) {
		http_add_header(r, "WWW-Authenticate",
		    "Bearer realm=\"notimock\", error=\"invalid_token\"");
		http_error(r, 401, "AuthenticationError", "Illegal admin token");
		return (0);
	}
	return (1);
}

int
mock_authorize(struct req *r)
{
	struct http_param	*v = NULL;
	size_t			 n = 0;
	int			 ok;

	(void)http_query_parse(r->query, 0, &v, &n);
	ok = mock_authorized(r, v, n);
	http_params_free(v, n);
	return (ok);
}

/* --- simple routes --------------------------------------------------- */

/*
 * On a large store a read looks at the newest candidates only (db.h,
 * db_scan_complete): say whether this one saw them all, and if not where
 * it started, so that nobody mistakes a bounded answer for the whole.
 */
static void
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
	size_t	n = 0;
	int	hi, lo;

	if (s == NULL || strlen(s) % 2 != 0 || strlen(s) / 2 > outlen)
		return (-1);
	for (; s[0] != '\0'; s += 2) {
		hi = isdigit((unsigned char)s[0]) ? s[0] - '0' :
		    isxdigit((unsigned char)s[0]) ? tolower((unsigned char)s[0]) -
		    'a' + 10 : -1;
		lo = isdigit((unsigned char)s[1]) ? s[1] - '0' :
		    isxdigit((unsigned char)s[1]) ? tolower((unsigned char)s[1]) -
		    'a' + 10 : -1;
		if (hi < 0 || lo < 0)
			return (-1);
		out[n++] = (unsigned char)(hi << 4 | lo);
	}
	return ((int)n);
}

/*
 * POST /mock/token-check {"key":hex,"mac":hex}: would a POST with the
 * token t such that mac = HMAC-SHA256(key, SHA-256(t)) pass the barrier?
 * For `notimock lint --url`: the token never travels, and key is the
 * client's, fresh each time.  Answers {"accepted","subject","tokens"}.
 */
static void
mock_token_check(struct req *r)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(r->evreq);
	struct json	*o;
	unsigned char	 key[64], mac[CRYPTO_SHA256_LEN];
	char		 body[1024], err[JSON_ERRLEN];
	const char	*subject;
	size_t		 len = evbuffer_get_length(in);
	int		 klen, ok;

	if (len >= sizeof body) {
		mock_input_error(r, "the body is longer than %zu bytes",
		    sizeof body - 1);
		return;
	}
	evbuffer_copyout(in, body, len);
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

void
mock_counts(struct server *srv, size_t *nw, size_t *ns)
{
	struct mock		*m = srv->mock;
	struct mock_waiter	*w;
	struct mock_stream	*s;

	*nw = *ns = 0;
	if (m == NULL)
		return;
	TAILQ_FOREACH(w, &m->waiters, entry)
		(*nw)++;
	TAILQ_FOREACH(s, &m->streams, entry)
		(*ns)++;
}

static void
mock_cursor(struct req *r)
{
	struct json		*o = json_new_object(), *store;
	char			 iso[UTIL_ISO_LEN];
	size_t			 nw, ns;

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
mock_list(struct req *r, struct mock_opts *opts)
{
	struct db		*db = r->srv->db;
	struct db_record	*v;
	struct json		*o;
	size_t			 n;
	int64_t			 total;

	if ((total = db_deliveries_count(db, &opts->f)) == -1 ||
	    db_deliveries_list(db, &opts->f, 0, opts->limit, opts->offset, &v,
	    &n) == -1) {
		mock_db_error(r);
		return;
	}
	o = json_new_object();
	json_add_num(o, "cursor", (double)db_cursor(db));
	json_add_num(o, "total", (double)total);
	mock_add_scan(o, db);
	json_add_num(o, "offset", (double)opts->offset);
	json_add_num(o, "limit", (double)opts->limit);
	json_add(o, "deliveries", mock_records_json(v, n, !opts->summary));
	db_records_free(v, n);
	http_send_json(r, 200, o);
	json_free(o);
}

static void
mock_one(struct req *r, const char *seqtext)
{
	struct db_record	 d;
	struct json		*o;
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
	o = mock_delivery_json(&d, 1);
	db_record_clear(&d);
	http_send_json(r, 200, o);
	json_free(o);
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
mock_entities(struct req *r, struct mock_opts *opts)
{
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

/* --- event streams --------------------------------------------------- */

static void
mock_stream_free(struct mock_stream *s)
{
	TAILQ_REMOVE(&s->m->streams, s, entry);
	if (s->beat != NULL)
		event_free(s->beat);
	mock_opts_clear(&s->o);
	free(s);
}

static void
mock_stream_gone(struct req *r, void *arg)
{
	mock_stream_free(arg);
}

static void	mock_stream_end(struct mock_stream *);

/*
 * An event's text, built once however many streams send it: `event:
 * delivery` with the delivery's JSON.  Caller frees.
 */
static char *
mock_delivery_event(const struct db_record *d, size_t *lenp)
{
	struct json	*o;
	char		*data, *ev;
	int		 len;

	o = mock_delivery_json(d, 0);
	data = json_print(o, NULL);
	json_free(o);
	len = xasprintf(&ev, "event: delivery\nid: %lld\ndata: %s\n\n",
	    (long long)d->seq, data);
	free(data);
	*lenp = (size_t)len;
	return (ev);
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
mock_stream_event(struct mock_stream *s, const struct db_record *d)
{
	char	*ev;
	size_t	 len;
	int	 rc;

	ev = mock_delivery_event(d, &len);
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
mock_stream_behind(struct mock_stream *s, size_t lost)
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
 * One commit's events for every stream.  Each stream's filter is checked
 * first, and an event's text is built the first time a stream wants it,
 * then shared: with a thousand streams, formatting once per stream was
 * what made POSTs slow (issue 15).  Slots are NULL until built.
 */
struct mock_fanout {
	const struct signals_entry	*sig[SIGNALS_KEEP_MAX];
	char				*sigtxt[SIGNALS_KEEP_MAX];
	size_t				 siglen[SIGNALS_KEEP_MAX];
	size_t				 nsig;
	const struct db_record		*v;
	char				**txt;
	size_t				*len;
	size_t				 n;
};

static void
mock_fanout_collect(const struct signals_entry *sig, void *arg)
{
	struct mock_fanout	*fo = arg;

	if (fo->nsig < SIGNALS_KEEP_MAX)
		fo->sig[fo->nsig++] = sig;
}

/* Send a stream the signals it has not seen and its filter passes. */
static void
mock_fanout_signals(struct mock_fanout *fo, struct mock_stream *s)
{
	const struct signals_entry	*sig;
	size_t				 i;

	for (i = 0; i < fo->nsig; i++) {
		sig = fo->sig[i];
		if (sig->id <= s->sig_last)
			continue;
		s->sig_last = sig->id;
		if (!db_filter_signal(&s->o.f, sig->user))
			continue;
		if (fo->sigtxt[i] == NULL)
			fo->sigtxt[i] = mock_signal_event(sig, &fo->siglen[i]);
		http_stream_write(s->r, fo->sigtxt[i], fo->siglen[i]);
	}
}

/* Send a stream the deliveries after s->last that pass its filter;
 * -1 if the client is too far behind. */
static int
mock_fanout_deliveries(struct mock_fanout *fo, struct mock_stream *s)
{
	size_t	i, lost;

	for (i = 0; i < fo->n; i++) {
		if (fo->v[i].seq <= s->last ||
		    db_filter_check(&s->o.f, &fo->v[i]) != 0)
			continue;
		if (fo->txt[i] == NULL)
			fo->txt[i] = mock_delivery_event(&fo->v[i],
			    &fo->len[i]);
		if (http_stream_write(s->r, fo->txt[i], fo->len[i]) == -1) {
			for (lost = 0; i < fo->n; i++)
				lost += fo->v[i].seq > s->last &&
				    db_filter_check(&s->o.f, &fo->v[i]) == 0;
			mock_stream_behind(s, lost);
			return (-1);
		}
		s->sent = fo->v[i].seq;
	}
	return (0);
}

static void
mock_fanout_clear(struct mock_fanout *fo)
{
	size_t	i;

	for (i = 0; i < fo->nsig; i++)
		free(fo->sigtxt[i]);
	for (i = 0; i < fo->n; i++)
		free(fo->txt[i]);
	free(fo->txt);
	free(fo->len);
}

static void
mock_stream_beat(evutil_socket_t fd, short what, void *arg)
{
	static const char	 beat[] = ": heartbeat\n\n";
	struct mock_stream	*s = arg;

	if (http_stream_write(s->r, beat, sizeof beat - 1) == -1)
		mock_stream_end(s);
}

static void
mock_events(struct req *r, struct mock_opts *opts)
{
	struct mock		*m = r->srv->mock;
	struct mock_stream	*s;
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
	s = xcalloc(1, sizeof *s);
	s->m = m;
	s->r = r;
	s->o = *opts;
	memset(opts, 0, sizeof *opts);
	s->last = db_cursor(r->srv->db);
	s->sig_last = signals_last();
	TAILQ_INSERT_TAIL(&m->streams, s, entry);
	http_on_close(r, mock_stream_gone, s);
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
	s->beat = event_new(r->srv->base, -1, EV_PERSIST, mock_stream_beat, s);
	tv.tv_sec = s->o.heartbeat_ms / 1000;
	tv.tv_usec = (s->o.heartbeat_ms % 1000) * 1000;
	event_add(s->beat, &tv);
}

static void
mock_stream_end(struct mock_stream *s)
{
	struct req	*r = s->r;

	mock_stream_free(s);
	http_stream_end(r);
}

/* --- waits ----------------------------------------------------------- */

static void
mock_waiter_free(struct mock_waiter *w)
{
	if (w->m != NULL)
		TAILQ_REMOVE(&w->m->waiters, w, entry);
	if (w->timer != NULL)
		event_free(w->timer);
	mock_opts_clear(&w->o);
	free(w);
}

static void
mock_waiter_gone(struct req *r, void *arg)
{
	mock_waiter_free(arg);
}

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
	struct json		*o;
	size_t			 n;
	int64_t			 total;

	if ((total = db_deliveries_count(db, &opts->f)) == -1 ||
	    db_deliveries_list(db, &opts->f, 0, opts->limit, 0, &v, &n) == -1) {
		mock_db_error(r);
		return;
	}
	o = json_new_object();
	json_add_num(o, "wanted", (double)opts->count);
	json_add_num(o, "matched", (double)total);
	json_add_num(o, "since", (double)opts->f.since);
	json_add_num(o, "cursor", (double)db_cursor(db));
	json_add_num(o, "waitedMs", mock_waited_ms(r));
	mock_add_scan(o, db);
	json_add(o, "deliveries", mock_records_json(v, n, 1));
	db_records_free(v, n);
	http_send_json(r, 200, o);
	json_free(o);
}

static const char *
mock_status_text(int status, char *buf, size_t len)
{
	if (status == DB_STATUS_ACCEPTED)
		return ("accepted");
	if (status == DB_STATUS_REJECTED)
		return ("rejected");
	snprintf(buf, len, "%d", status);
	return (buf);
}

/* {"filter", "want", "got"} for each filter d failed. */
static struct json *
mock_failed_json(const struct db_filter *f, unsigned int failed,
    const struct db_record *d)
{
	struct json	*arr = json_new_array(), *x, *want;
	char		 buf[16];
	size_t		 i;

	if (failed & DB_F_ENTITY) {
		x = json_new_object();
		json_add_str(x, "filter", "entity");
		want = json_new_array();
		for (i = 0; i < f->entity_n; i++)
			json_append(want, json_new_string(f->entity_v[i]));
		json_add(x, "want", want);
		mock_add_stored(x, "got", d->entities, 1);
		json_append(arr, x);
	}
#define MOCK_FAILED(bit, name, w, g) do {				\
	if (failed & (bit)) {						\
		x = json_new_object();					\
		json_add_str(x, "filter", (name));			\
		json_add_str(x, "want", (w));				\
		json_add_str(x, "got", (g));				\
		json_append(arr, x);					\
	}								\
} while (0)
	MOCK_FAILED(DB_F_TOPIC, "topic", f->topic, d->topic);
	MOCK_FAILED(DB_F_SEVERITY, "severity", f->severity, d->severity);
	MOCK_FAILED(DB_F_ORIGIN, "origin", f->origin, d->origin);
	MOCK_FAILED(DB_F_Q, "q", f->q, d->title);
	MOCK_FAILED(DB_F_RETRY, "retry", f->retry > 0 ? "yes" : "no",
	    d->attempt > 1 ? "yes" : "no");
#undef MOCK_FAILED
	if (failed & DB_F_REACHED) {
		x = json_new_object();
		json_add_str(x, "filter", "reached");
		json_add(x, "want", json_new_bool(f->reached > 0));
		mock_add_stored(x, "got", d->users, 1);
		json_append(arr, x);
	}
	if (failed & DB_F_CLEAN) {
		x = json_new_object();
		json_add_str(x, "filter", "clean");
		json_add(x, "want", json_new_bool(f->clean > 0));
		json_add(x, "got", mock_diag_codes(d->diagnoses));
		json_append(arr, x);
	}
	if (failed & DB_F_STATUS) {
		x = json_new_object();
		json_add_str(x, "filter", "status");
		if (f->status > 0)
			json_add_num(x, "want", f->status);
		else
			json_add_str(x, "want", mock_status_text(f->status, buf,
			    sizeof buf));
		json_add_num(x, "got", d->status);
		json_append(arr, x);
	}
	return (arr);
}

/* A refused near miss: the message Backstage's answer gave, as "error",
 * so that a timed-out wait says why it was refused, not only its code. */
static void
mock_add_answer_error(struct json *x, const struct db_record *d)
{
	struct json	*o;
	const char	*msg;
	char		 err[JSON_ERRLEN];

	if ((d->status >= 200 && d->status <= 299) || d->response == NULL ||
	    (o = json_parse(d->response, strlen(d->response), 0, err,
	    sizeof err, NULL)) == NULL)
		return;
	if ((msg = json_string(json_get(json_get(o, "error"), "message"))) !=
	    NULL)
		json_add_str(x, "error", msg);
	json_free(o);
}

/* The 408: what matched, what arrived, and why the nearest missed. */
static void
mock_wait_timed_out(struct req *r, struct mock_opts *opts)
{
	struct db		*db = r->srv->db;
	struct db_filter	 after;
	struct db_record	*v, d;
	struct db_miss		 miss[MOCK_MISSES];
	struct json		*o, *arr, *x;
	char			 msg[512], ahead[256], part[128];
	size_t			 n, nmiss = 0, i;
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
	arr = json_new_array();
	for (i = 0; i < nmiss; i++) {
		if (db_delivery_get(db, miss[i].seq, &d) != 1)
			continue;	/* deleted meanwhile */
		x = json_new_object();
		json_add(x, "delivery", mock_delivery_json(&d, 0));
		json_add(x, "failed", mock_failed_json(&opts->f,
		    miss[i].failed, &d));
		mock_add_answer_error(x, &d);
		json_append(arr, x);
		db_record_clear(&d);
	}
	json_add(o, "nearMisses", arr);
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

static void
mock_wait_timer(evutil_socket_t fd, short what, void *arg)
{
	struct mock_waiter	*w = arg;
	struct req		*r = w->r;
	struct mock_opts	 o = w->o;

	memset(&w->o, 0, sizeof w->o);
	mock_waiter_free(w);
	mock_wait_timed_out(r, &o);
	mock_opts_clear(&o);
}

/* Answer a waiter whose count is reached. */
static void
mock_waiter_done(struct mock_waiter *w)
{
	struct req		*r = w->r;
	struct mock_opts	 o = w->o;

	memset(&w->o, 0, sizeof w->o);
	mock_waiter_free(w);
	mock_wait_satisfied(r, &o);
	mock_opts_clear(&o);
}

static void
mock_wait(struct req *r, struct mock_opts *opts)
{
	struct mock		*m = r->srv->mock;
	struct mock_waiter	*w;
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
	w = xcalloc(1, sizeof *w);
	w->m = m;
	w->r = r;
	w->o = *opts;
	memset(opts, 0, sizeof *opts);
	w->matched = n;
	/* The count above saw everything up to the cursor, this
	 * iteration's uncommitted writes included. */
	w->checked = db_cursor(r->srv->db);
	w->timer = evtimer_new(r->srv->base, mock_wait_timer, w);
	tv.tv_sec = w->o.timeout_ms / 1000;
	tv.tv_usec = (w->o.timeout_ms % 1000) * 1000;
	evtimer_add(w->timer, &tv);
	TAILQ_INSERT_TAIL(&m->waiters, w, entry);
	/* The reply comes from mock_on_commit, already committed. */
	r->durable = 0;
	http_on_close(r, mock_waiter_gone, w);
}

/* --- reset ----------------------------------------------------------- */

static void
mock_reset_free(struct mock_reset_job *j)
{
	TAILQ_REMOVE(&j->m->resets, j, entry);
	if (j->next != NULL)
		event_free(j->next);
	mock_opts_clear(&j->o);
	free(j);
}

static void
mock_reset_gone(struct req *r, void *arg)
{
	(void)r;
	mock_reset_free(arg);	/* what was deleted stays deleted */
}

static void	mock_reset_done(struct req *, struct mock *, int64_t,
		    int64_t);

/* One slice; the next is due on the next iteration, after the commit. */
static void
mock_reset_slice(evutil_socket_t fd, short what, void *arg)
{
	struct mock_reset_job	*j = arg;
	struct server		*srv = j->m->srv;
	struct req		*r = j->r;
	struct mock		*m = j->m;
	struct timeval		 tv = { 0, 0 };
	int64_t			 end, hi, deleted, notifs, start;

	(void)fd;
	(void)what;
	start = util_mono_us();
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
	if (j->cur >= j->upto) {
		deleted = j->deleted;
		notifs = j->notifs;
		mock_reset_free(j);
		mock_reset_done(r, m, deleted, notifs);
		return;
	}
	server_kick(srv);
	if (j->next == NULL)
		j->next = evtimer_new(srv->base, mock_reset_slice, j);
	evtimer_add(j->next, &tv);
}

static void
mock_reset(struct req *r, struct mock_opts *opts)
{
	struct mock		*m = r->srv->mock;
	struct db		*db = r->srv->db;
	struct mock_reset_job	*j;
	int64_t			 first;

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
	 * (mock_on_commit); a second reset in the batch says it again. */
	free(m->reset_event);
	xasprintf(&m->reset_event, "event: reset\ndata: %s\n\n", data);
	free(data);
	r->durable = 1;
	http_send_json(r, 200, o);
	json_free(o);
}

/* --- commits --------------------------------------------------------- */

/* A reset has committed: tell the streams, recount the waits (they
 * counted deliveries that are gone now). */
static void
mock_reset_committed(struct mock *m, int64_t seq)
{
	struct mock_waiter	*w;
	struct mock_stream	*s, *snext;
	char			*ev = m->reset_event;
	int64_t			 n;

	m->reset_event = NULL;
	TAILQ_FOREACH(w, &m->waiters, entry) {
		if ((n = db_deliveries_count(m->srv->db, &w->o.f)) != -1)
			w->matched = n;
		w->checked = seq;
	}
	for (s = TAILQ_FIRST(&m->streams); s != NULL; s = snext) {
		snext = TAILQ_NEXT(s, entry);
		if (http_stream_write(s->r, ev, strlen(ev)) == -1)
			mock_stream_end(s);
	}
	free(ev);
}

/*
 * After each commit event.  Rolled back: nothing happened, so nothing is
 * told (the cursor has not moved).  Committed: load what arrived since the
 * oldest point any waiter or stream has looked at (one query), then let
 * each look at its share.
 */
static void
mock_on_commit(struct server *srv, int committed, int64_t seq, void *arg)
{
	struct mock		*m = srv->mock;
	struct mock_waiter	*w, *wnext;
	struct mock_stream	*s, *snext;
	struct db_filter	 after;
	struct db_record	*v;
	struct mock_fanout	*fo;
	size_t			 n, i;
	int64_t			 from = INT64_MAX;
	uint64_t		 sig_from = UINT64_MAX;

	if (m == NULL)
		return;
	if (!committed) {
		free(m->reset_event);
		m->reset_event = NULL;
		return;
	}
	if (m->reset_event != NULL)
		mock_reset_committed(m, seq);
	if (TAILQ_EMPTY(&m->streams) && TAILQ_EMPTY(&m->waiters))
		return;
	fo = xcalloc(1, sizeof *fo);
	if (!TAILQ_EMPTY(&m->streams)) {
		TAILQ_FOREACH(s, &m->streams, entry)
			if (s->sig_last < sig_from)
				sig_from = s->sig_last;
		signals_replay(sig_from, mock_fanout_collect, fo);
		TAILQ_FOREACH(s, &m->streams, entry)
			mock_fanout_signals(fo, s);
	}
	TAILQ_FOREACH(w, &m->waiters, entry)
		if (w->checked < from)
			from = w->checked;
	TAILQ_FOREACH(s, &m->streams, entry)
		if (s->last < from)
			from = s->last;
	if (from >= seq)
		goto out;
	memset(&after, 0, sizeof after);
	after.since = from;
	if (db_deliveries_list(srv->db, &after, 1, -1, 0, &v, &n) == -1) {
		log_warnx("mock: cannot read new deliveries: %s",
		    db_errmsg(srv->db));
		goto out;
	}
	for (w = TAILQ_FIRST(&m->waiters); w != NULL; w = wnext) {
		wnext = TAILQ_NEXT(w, entry);
		for (i = 0; i < n; i++)
			if (v[i].seq > w->checked &&
			    db_filter_check(&w->o.f, &v[i]) == 0)
				w->matched++;
		if (w->checked < seq)
			w->checked = seq;
		if (w->matched >= w->o.count)
			mock_waiter_done(w);
	}
	fo->v = v;
	fo->n = n;
	fo->txt = xcalloc(n + 1, sizeof *fo->txt);
	fo->len = xcalloc(n + 1, sizeof *fo->len);
	for (s = TAILQ_FIRST(&m->streams); s != NULL; s = snext) {
		snext = TAILQ_NEXT(s, entry);
		if (mock_fanout_deliveries(fo, s) == -1) {
			mock_stream_end(s);	/* too far behind */
			continue;
		}
		if (s->last < seq)
			s->last = seq;
	}
	db_records_free(v, n);
out:
	mock_fanout_clear(fo);
	free(fo);
}

/* --- routing --------------------------------------------------------- */

static void
mock_method_not_allowed(struct req *r, const char *allow)
{
	char	msg[128];

	snprintf(msg, sizeof msg, "%s is not allowed here (allowed: %s)",
	    r->method, allow);
	http_add_header(r, "Allow", allow);
	http_error(r, 405, "MethodNotAllowedError", msg);
}

/*
 * POST /mock/fingerprint {"sha256": "<64 hex digits>"}: the fingerprint of
 * the token with that SHA-256, in the keyed form this server logs, stores
 * and diagnoses with, whose key a user cannot have.  The token itself
 * never travels (`notimock fingerprint` hashes it), and the answer tells
 * nothing a POST to the API with the token would not.
 */
static void
mock_fingerprint(struct req *r)
{
	struct json		*in, *o;
	const unsigned char	*body;
	const char		*hex;
	unsigned char		 d[CRYPTO_SHA256_LEN];
	char			 fp[CRYPTO_FP_LEN], err[JSON_ERRLEN];
	size_t			 len, i;
	unsigned int		 byte;

	body = http_body(r, &len);
	in = body != NULL ? json_parse((const char *)body, len, 0, err,
	    sizeof err, NULL) : NULL;
	hex = json_string(json_get(in, "sha256"));
	if (hex == NULL || strlen(hex) != 2 * CRYPTO_SHA256_LEN ||
	    strspn(hex, "0123456789abcdefABCDEF") != 2 * CRYPTO_SHA256_LEN) {
		json_free(in);
		mock_input_error(r, "the body must be {\"sha256\": \"<64 hex "
		    "digits>\"}, the SHA-256 of the token (printf %%s \"$TOKEN\" "
		    "| notimock fingerprint)");
		return;
	}
	for (i = 0; i < CRYPTO_SHA256_LEN; i++) {
		(void)sscanf(hex + 2 * i, "%2x", &byte);
		d[i] = (unsigned char)byte;
	}
	json_free(in);
	o = json_new_object();
	json_add_str(o, "fingerprint", crypto_fingerprint_digest(d, fp));
	http_send_json(r, 200, o);
	json_free(o);
}

void
mock_route(struct req *r, void *arg)
{
	struct http_param	*params = NULL;
	struct mock_opts	 opts;
	const char		*sub;
	char			*path, show[MOCK_SHOW_MAX + 8], msg[512];
	size_t			 nparams = 0, len;
	int			 allowed = 0, get = r->verb == HTTP_GET;
	enum { M_NONE, M_LIST, M_RESET, M_ONE, M_ENTITIES, M_CURSOR, M_WAIT,
	    M_EVENTS, M_FINGERPRINT } what = M_NONE;

	memset(&opts, 0, sizeof opts);
	/* Replies wait for the iteration's commit: nothing uncommitted is
	 * ever reported (and a reset is a write). */
	r->durable = 1;
	if (r->srv->mock == NULL) {
		http_error(r, 503, "ServiceUnavailableError",
		    "the assertion API is not running");
		return;
	}

	/* "/mock/x/" is "/mock/x". */
	sub = r->path + strlen("/mock");
	path = xstrdup(sub);
	len = strlen(path);
	if (len > 1 && path[len - 1] == '/')
		path[len - 1] = '\0';

	if (http_query_parse(r->query, 1, &params, &nparams) == -1) {
		/* Authorize first even so: use no token from the query. */
		if (mock_authorized(r, NULL, 0))
			mock_input_error(r, "the query string does not decode "
			    "(bad percent-encoding or a NUL byte)");
		goto out;
	}
	if (!mock_authorized(r, params, nparams))
		goto out;

	if (util_strcaseeq(path, "/deliveries")) {
		if (get) {
			what = M_LIST;
			allowed = P_FILTER | P_PAGE | P_VIEW;
		} else if (r->verb == HTTP_DELETE) {
			what = M_RESET;
			allowed = P_FILTER | P_RESET;
		} else {
			mock_method_not_allowed(r, "GET, DELETE");
			goto out;
		}
	} else if (util_strncaseeq(path, "/deliveries/", 12) &&
	    strchr(path + 12, '/') == NULL) {
		what = M_ONE;
	} else if (util_strcaseeq(path, "/entities")) {
		what = M_ENTITIES;
		allowed = P_FILTER;
	} else if (util_strcaseeq(path, "/cursor")) {
		what = M_CURSOR;
	} else if (util_strcaseeq(path, "/wait")) {
		what = M_WAIT;
		allowed = P_FILTER | P_WAIT;
	} else if (util_strcaseeq(path, "/events")) {
		what = M_EVENTS;
		allowed = P_FILTER | P_EVENTS;
	} else if (util_strcaseeq(path, "/token-check")) {
		if (r->verb != HTTP_POST) {
			mock_method_not_allowed(r, "POST");
			goto out;
		}
		mock_token_check(r);
		goto out;
	} else if (util_strcaseeq(path, "/fingerprint")) {
		if (r->verb != HTTP_POST) {
			mock_method_not_allowed(r, "POST");
			goto out;
		}
		what = M_FINGERPRINT;
	} else {
		snprintf(msg, sizeof msg, "no route %s under /mock/ (see "
		    "doc/mock-api.md)", mock_show(r->path, show, sizeof show));
		http_error(r, 404, "NotFoundError", msg);
		goto out;
	}
	if (what != M_LIST && what != M_RESET && what != M_FINGERPRINT &&
	    !get) {
		mock_method_not_allowed(r, "GET");
		goto out;
	}
	if (mock_opts_parse(r, params, nparams, allowed, &opts) == -1)
		goto out;

	switch (what) {
	case M_LIST:
		mock_list(r, &opts);
		break;
	case M_RESET:
		mock_reset(r, &opts);
		break;
	case M_ONE:
		mock_one(r, path + 12);
		break;
	case M_ENTITIES:
		mock_entities(r, &opts);
		break;
	case M_CURSOR:
		mock_cursor(r);
		break;
	case M_WAIT:
		mock_wait(r, &opts);
		break;
	case M_EVENTS:
		mock_events(r, &opts);
		break;
	case M_FINGERPRINT:
		mock_fingerprint(r);
		break;
	case M_NONE:
		break;
	}
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
	TAILQ_INIT(&m->waiters);
	TAILQ_INIT(&m->streams);
	TAILQ_INIT(&m->resets);
	srv->mock = m;
	server_hook_add(srv, SERVER_AFTER_REPLIES, mock_on_commit, m);
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
	struct mock_waiter	*w;
	struct mock_stream	*s;
	struct mock_reset_job	*j;
	struct req		*r;
	int			 answered = 0;

	if (m == NULL)
		return (NULL);
	srv->mock = NULL;
	server_hook_del(srv, mock_on_commit, m);
	while ((j = TAILQ_FIRST(&m->resets)) != NULL) {
		r = j->r;
		mock_reset_free(j);
		r->durable = 0;
		http_error(r, 503, "ServiceUnavailableError",
		    "notimock is shutting down (the reset stopped part-way)");
		answered = 1;
	}
	while ((w = TAILQ_FIRST(&m->waiters)) != NULL) {
		r = w->r;
		mock_waiter_free(w);
		r->durable = 0;
		http_error(r, 503, "ServiceUnavailableError",
		    "notimock is shutting down");
		answered = 1;
	}
	while ((s = TAILQ_FIRST(&m->streams)) != NULL) {
		mock_stream_end(s);
		answered = 1;
	}
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
	if (!TAILQ_EMPTY(&m->waiters) || !TAILQ_EMPTY(&m->streams))
		fatalx("%s: waits or streams left after mock_stop", __func__);
	free(m->reset_event);
	free(m);
}
