/*
 * http.c: the evhttp adapter: listeners, connections and their limits, a
 * struct req made of each evhttp request and handed to the app
 * (dispatch.c), and the one way out of every request.  It routes nothing:
 * the transaction is server.c's, the routes dispatch.c's.
 *
 * Ownership: struct req is allocated in http_dispatch and freed in
 * http_finish, after exactly one evhttp_send_reply.  A durable request
 * waits for the commit (server.c's deferred replies) between its handler
 * and http_release.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>	/* the request's HTTP version */
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "auth.h"
#include "codec.h"
#include "crypto.h"
#include "server.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "route.h"
#include "settings.h"
#include "tls.h"
#include "util.h"
#include "xmalloc.h"

static void	http_close_cancel(struct req *);
static char	*http_log_uri(const struct req *, char *, size_t);
static void	http_req_free(struct req *);
static int	http_client_left(const struct req *);

/* Answers slower than this check whether the client is still there. */
#define HTTP_SLOW_US	50000
#define HTTP_GONE	"client went away before the reply"
static void	http_log_done(struct req *, const char *);
static void	http_sent_cb(struct evhttp_request *, void *);
static struct http_conn *http_conn_begin(struct http_conn *);
static void	http_accept_hold(int);
static struct bufferevent *http_conn_new(struct server *,
		    struct bufferevent *, int, int);
static char	*http_redact_uri(const char *);
static int	http_secret_header(const char *);
static void	http_accept_watch(struct server *,
		    struct evhttp_bound_socket *, int);
static struct bufferevent *http_plain_bevcb(struct event_base *, void *);

/* One per accepted connection (see "connections" below). */
struct http_client {
	char			 addr[INET6_ADDRSTRLEN];
	unsigned int		 n;		/* its connections */
	LIST_ENTRY(http_client)	 entry;
};

#define HTTP_PEEK	128	/* input bytes mirrored (http_conn_mirror) */

/* Where evhttp is in a chunked request's framing (http_conn_mirror). */
enum http_chunk {
	HTTP_CHUNK_NONE,	/* not chunked, or not known yet */
	HTTP_CHUNK_HEAD,	/* chunked: the head's other lines */
	HTTP_CHUNK_SIZE,	/* a size line comes next */
	HTTP_CHUNK_DATA,	/* chunk_left bytes of data */
	HTTP_CHUNK_END,		/* the line end after the data */
	HTTP_CHUNK_DONE,	/* the last chunk: nothing more to see */
	HTTP_CHUNK_LOST		/* a size line longer than the copy: its
				   value unknown, the framing not followed */
};

struct http_conn {
	struct server			*srv;
	struct bufferevent		*bev;
	struct evhttp_connection	*evcon;
	struct event			*attach;
	struct event			*deadline;
	struct event			*oversize_ev;
	struct evbuffer_cb_entry	*incb;
	struct http_client		*client;
	struct req			*watch;		/* http_on_close */
	struct req			*inflight;	/* reply being written */
	int				 tls;
	int				 reserve;	/* health only */
	int				 busy;		/* a request is ours */
	int				 refuse;	/* close as it attaches */
	int				 oversize;	/* no body in time: our
							   413 for evhttp's */
	/* This request's first Transfer-Encoding line and, once it said
	 * chunked, the input's first bytes as they stand, the line evhttp
	 * last took from them and where it is in the framing
	 * (http_conn_mirror); evhttp's answer being replaced (by Node's 400
	 * or, oversize, our 413) with the bytes before it kept
	 * (http_refusal_cb). */
	char				 inhead[HTTP_PEEK + 1];
	size_t				 inheadlen;	/* 0: no copy */
	char				 drained[HTTP_PEEK];
	size_t				 drainedlen;	/* 0: it did not fit */
	int				 te_seen;
	enum http_chunk			 chunk;
	int				 inline_eol;	/* a line taken, its
							   end not yet */
	uint64_t			 chunk_left;
	int				 blankchunk;
	int				 replacing;	/* evhttp's answer */
	size_t				 replace_keep;
	LIST_ENTRY(http_conn)		 entry;
};

/* NOTIMOCK_TEST_DELAY_MS: FOR TESTS ONLY (README, "Tests").  Every /mock/
 * request first blocks the loop this long, as a slow query on a large
 * database does, so that tests can make answers slower than the timeouts. */
static long	http_test_delay_us;

/* Where a parsed request goes (http_start's app: dispatch.c). */
static void	(*http_app)(struct req *, int);

/* Set while notimock itself writes a reply (see http_refusal_cb). */
static int	http_writing;

#define nitems(a)	(sizeof (a) / sizeof (a)[0])

/* Helmet's headers, which Backstage puts on every plugin response. */
static const char *http_helmet[][2] = {
	{ "Content-Security-Policy", "default-src 'self';base-uri 'self';"
	  "font-src 'self' https: data:;frame-ancestors 'self';img-src 'self' "
	  "data:;object-src 'none';script-src 'self' 'unsafe-eval';"
	  "script-src-attr 'none';style-src 'self' https: 'unsafe-inline';"
	  "upgrade-insecure-requests" },
	{ "Referrer-Policy", "no-referrer" },
	{ "Strict-Transport-Security", "max-age=15552000; includeSubDomains" },
	{ "X-Content-Type-Options", "nosniff" },
	{ "X-DNS-Prefetch-Control", "off" },
	{ "X-Download-Options", "noopen" },
	{ "X-Frame-Options", "SAMEORIGIN" },
	{ "X-Permitted-Cross-Domain-Policies", "none" },
	{ "X-XSS-Protection", "0" },
};

static const char *
http_reason(int status)
{
	switch (status) {
	case 200: return ("OK");
	case 201: return ("Created");
	case 204: return ("No Content");
	case 304: return ("Not Modified");
	case 400: return ("Bad Request");
	case 401: return ("Unauthorized");
	case 403: return ("Forbidden");
	case 404: return ("Not Found");
	case 405: return ("Method Not Allowed");
	case 408: return ("Request Timeout");
	case 409: return ("Conflict");
	case 413: return ("Payload Too Large");
	case 500: return ("Internal Server Error");
	case 501: return ("Not Implemented");
	case 503: return ("Service Unavailable");
	default: return ("Unknown");
	}
}

/* evhttp's method as our HTTP_* bit (0: one evhttp knows and we do not). */
static unsigned int
http_verb(int cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET: return (HTTP_GET);
	case EVHTTP_REQ_POST: return (HTTP_POST);
	case EVHTTP_REQ_HEAD: return (HTTP_HEAD);
	case EVHTTP_REQ_PUT: return (HTTP_PUT);
	case EVHTTP_REQ_DELETE: return (HTTP_DELETE);
	case EVHTTP_REQ_OPTIONS: return (HTTP_OPTIONS);
	case EVHTTP_REQ_TRACE: return (HTTP_TRACE);
	case EVHTTP_REQ_CONNECT: return (HTTP_CONNECT);
	case EVHTTP_REQ_PATCH: return (HTTP_PATCH);
	default: return (0);
	}
}

/* Percent-decode a path ('+' stays: it only means space in a query). */
static char *
http_decode_path(const char *s, size_t len)
{
	char	*out = xmalloc(len + 1), *o = out;
	size_t	 i;
	int	 hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len) {
			hi = codec_hex_digit((unsigned char)s[i + 1]);
			lo = codec_hex_digit((unsigned char)s[i + 2]);
			/* %00 stays as written: paths are C strings here. */
			if (hi >= 0 && lo >= 0 && (hi | lo) != 0) {
				*o++ = (char)(hi << 4 | lo);
				i += 2;
				continue;
			}
		}
		*o++ = s[i];
	}
	*o = '\0';
	return (out);
}

/* Percent-decode one query component; NULL if it does not decode or
 * holds a NUL byte. */
static char *
http_query_decode(const char *s, size_t len)
{
	char	*copy, *out;
	size_t	 outlen;

	copy = xstrndup(s, len);
	out = evhttp_uridecode(copy, 1, &outlen);
	free(copy);
	if (out == NULL)
		return (NULL);
	if (strlen(out) != outlen) {
		free(out);
		return (NULL);
	}
	copy = xstrdup(out);		/* ours to free with free() */
	free(out);
	return (copy);
}

int
http_query_parse(const char *q, int strict, struct http_param **vp,
    size_t *np)
{
	struct http_param	*v = NULL;
	size_t			 n = 0, nlen, vlen;
	const char		*amp, *eq, *end;
	char			*name, *value;

	*vp = NULL;
	*np = 0;
	while (q != NULL && *q != '\0') {
		amp = strchr(q, '&');
		end = amp != NULL ? amp : q + strlen(q);
		if (end != q) {
			eq = memchr(q, '=', (size_t)(end - q));
			nlen = (size_t)((eq ? eq : end) - q);
			vlen = eq != NULL ? (size_t)(end - eq - 1) : 0;
			name = http_query_decode(q, nlen);
			value = http_query_decode(eq != NULL ? eq + 1 : "", vlen);
			if (strict && (name == NULL || value == NULL)) {
				free(name);
				free(value);
				http_params_free(v, n);
				return (-1);
			}
			if (name == NULL)
				name = xstrndup(q, nlen);
			if (value == NULL)
				value = xstrndup(eq + 1, vlen);
			v = xreallocarray(v, n + 1, sizeof *v);
			v[n].name = name;
			v[n].value = value;
			n++;
		}
		q = amp != NULL ? amp + 1 : end;
	}
	*vp = v;
	*np = n;
	return (0);
}

void
http_params_free(struct http_param *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
}

const char *
http_header(const struct req *r, const char *name)
{
	return (evhttp_find_header(evhttp_request_get_input_headers(r->evreq),
	    name));
}

const unsigned char *
http_body(const struct req *r, size_t *len)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(r->evreq);

	*len = evbuffer_get_length(in);
	if (*len == 0)
		return ((const unsigned char *)"");
	return (evbuffer_pullup(in, -1));
}

char *
http_headers_json(const struct req *r, const char *authfp)
{
	struct evkeyvalq	*h = evhttp_request_get_input_headers(r->evreq);
	struct evkeyval		*kv;
	struct json_buf		 b = JSON_BUF_INIT;
	const char		*v;
	char			 red[128], fp[CRYPTO_FP_LEN];

	/*
	 * Written straight into json.c's writer, not through a cJSON tree:
	 * the same bytes as json_print() of the array of pairs, without an
	 * allocation per node (this runs per request).
	 */
	json_buf_raw(&b, "[", 1);
	TAILQ_FOREACH(kv, h, next) {
		if (util_strcaseeq(kv->key, "authorization")) {
			/* The first one is the header auth_check() read. */
			auth_redact_fp(kv->value, authfp, red, sizeof red);
			authfp = NULL;
			v = red;
		} else if (http_secret_header(kv->key)) {
			snprintf(red, sizeof red, "<redacted %s>",
			    crypto_fingerprint(kv->value, strlen(kv->value),
			    fp));
			v = red;
		} else
			v = kv->value;
		json_buf_raw(&b, kv == TAILQ_FIRST(h) ? "[" : ",[", kv ==
		    TAILQ_FIRST(h) ? 1 : 2);
		json_buf_str(&b, kv->key, strlen(kv->key));
		json_buf_raw(&b, ",", 1);
		json_buf_str(&b, v, strlen(v));
		json_buf_raw(&b, "]", 1);
	}
	json_buf_raw(&b, "]", 1);
	return (json_buf_take(&b, NULL));
}

void
http_add_header(struct req *r, const char *name, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(r->evreq), name,
	    value);
}

/* --- secrets in URIs and headers ---------------------------------------- */

/*
 * Query parameters that carry credentials: the /mock/ admin token
 * (access_token, for clients that cannot send headers) and the names under
 * which a webhook URL may hold a token (an Argo CD service url ending in
 * ?token=...).  Names compare decoded (mock.c decodes before it looks) and
 * without case, so no spelling a handler accepts slips past.
 */
static const char *http_secret_params[] = {
	"access_token", "token", "api_key", "apikey"
};

/* Is the raw (percent-encoded) query name s[0..len) one of them? */
static int
http_secret_param(const char *s, size_t len)
{
	char	name[32];
	size_t	i, n = 0;
	int	hi, lo;

	for (i = 0; i < len; i++) {
		if (n == sizeof name)
			return (0);	/* longer than any of them */
		if (s[i] == '%' && i + 2 < len &&
		    (hi = codec_hex_digit((unsigned char)s[i + 1])) >= 0 &&
		    (lo = codec_hex_digit((unsigned char)s[i + 2])) >= 0) {
			name[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			name[n++] = s[i] == '+' ? ' ' : s[i];
	}
	for (i = 0; i < sizeof http_secret_params /
	    sizeof http_secret_params[0]; i++)
		if (strlen(http_secret_params[i]) == n &&
		    util_strncaseeq(name, http_secret_params[i], n))
			return (1);
	return (0);
}

/*
 * uri with the value of every secret parameter (each occurrence: handlers
 * may use the first or the last) replaced by REDACTED.  NULL if there is
 * nothing to hide.  Caller frees.
 */
static char *
http_redact_uri(const char *uri)
{
	const char	*q, *p, *end, *eq;
	char		*out, *o;
	size_t		 n = 1;
	int		 found = 0;

	if ((q = strchr(uri, '?')) == NULL)
		return (NULL);
	for (p = q + 1; *p != '\0'; p++)
		if (*p == '&')
			n++;
	/* Each parameter grows by at most "REDACTED". */
	out = o = xmalloc(strlen(uri) + n * 8 + 1);
	memcpy(o, uri, (size_t)(q + 1 - uri));
	o += q + 1 - uri;
	for (p = q + 1;; p = end + 1) {
		end = p + strcspn(p, "&");
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq != NULL && eq + 1 < end &&
		    http_secret_param(p, (size_t)(eq - p))) {
			memcpy(o, p, (size_t)(eq + 1 - p));
			o += eq + 1 - p;
			memcpy(o, "REDACTED", 8);
			o += 8;
			found = 1;
		} else {
			memcpy(o, p, (size_t)(end - p));
			o += end - p;
		}
		if (*end == '\0')
			break;
		*o++ = '&';
	}
	*o = '\0';
	if (!found) {
		free(out);
		return (NULL);
	}
	return (out);
}

const char *
http_target_redacted(const struct req *r)
{
	return (r->target_redacted != NULL ? r->target_redacted : r->target);
}

/*
 * Header names whose values are credentials, besides Authorization (which
 * auth_redact() reduces, keeping its scheme): matched anywhere in the name,
 * without case.  A false match only hides a value from the store.
 */
static int
http_secret_header(const char *name)
{
	static const char	*words[] = { "token", "secret", "password",
	    "key", "auth", "session", "cookie" };
	size_t			 i, j, len = strlen(name), wlen;

	for (i = 0; i < sizeof words / sizeof words[0]; i++) {
		wlen = strlen(words[i]);
		for (j = 0; j + wlen <= len; j++)
			/* The words are lower-case ASCII: only their first
			 * letter, in either case, can start a match. */
			if ((name[j] | 0x20) == words[i][0] &&
			    util_strncaseeq(name + j, words[i], wlen))
				return (1);
	}
	return (0);
}

/* --- what a fault rule does to the reply (fault.c decides) ------------- */

static void	http_finish(struct req *);

/* The client left while its reply was held: tell the handler that held
 * it (r->held_gone). */
static void
http_hold_gone(struct req *r, void *arg)
{
	if (r->hold != NULL) {
		event_free(r->hold);
		r->hold = NULL;
	}
	if (r->held_gone != NULL)
		r->held_gone(r);
}

static void
http_hold_cb(evutil_socket_t fd, short what, void *arg)
{
	struct req	*r = arg;

	event_free(r->hold);
	r->hold = NULL;
	http_finish(r);
}

/* Hold the reply for r->hold_ms on a timer: the loop serves everyone else
 * meanwhile, and a client that gives up is noticed (http_on_close). */
static void
http_hold(struct req *r)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(r->hold_ms / 1000);
	tv.tv_usec = (suseconds_t)(r->hold_ms % 1000 * 1000);
	r->hold_ms = 0;
	r->hold = evtimer_new(r->srv->base, http_hold_cb, r);
	evtimer_add(r->hold, &tv);
	http_on_close(r, http_hold_gone, NULL);
}

static void
http_cut_done(struct req *r, void *arg)
{
}

/*
 * No reply: close the connection, with a TCP RST for HTTP_CUT_RESET.  The
 * teardown is evhttp's own, as when a waiting client leaves (http_peek_cb):
 * the request is watched, an EOF is handed to evhttp, and the connection's
 * record (http_conn_closecb) frees the request through http_closecb.
 */
static void
http_cut(struct req *r)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	struct linger			 lg = { 1, 0 };
	struct sockaddr			 sa;
	evutil_socket_t			 fd;

	http_close_cancel(r);
	if ((evcon = evhttp_request_get_connection(r->evreq)) == NULL ||
	    r->conn == NULL) {
		/* Not attached: cannot happen for a plugin request. */
		r->cut = 0;
		r->status = 500;
		http_finish(r);
		return;
	}
	bev = evhttp_connection_get_bufferevent(evcon);
	/* evhttp shuts the socket down (a FIN) before it closes it; for a
	 * reset, abort the connection first: with SO_LINGER 0, a disconnect
	 * (connect to AF_UNSPEC) sends the RST at once. */
	if (r->cut == HTTP_CUT_RESET && (fd = bufferevent_getfd(bev)) != -1) {
		memset(&sa, 0, sizeof sa);
		sa.sa_family = AF_UNSPEC;
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		(void)connect(fd, &sa, sizeof sa);
	}
	r->status = 444;	/* nginx's "closed without a response" */
	/* http_closecb logs it, with this as what happened. */
	r->cut_how = r->cut == HTTP_CUT_RESET ? "fault: reset the connection" :
	    "fault: closed the connection without an answer";
	r->closecb = http_cut_done;
	r->conn->watch = r;
	bufferevent_trigger_event(bev, BEV_EVENT_READING | BEV_EVENT_EOF, 0);
}

/* Send the reply, log it, free the request.  The only place that does. */
static void
http_finish(struct req *r)
{
	struct evkeyvalq	*oh = evhttp_request_get_output_headers(r->evreq);
	struct http_conn	*c;
	size_t			 i, len;
	int			 gone;

	if (r->hold_ms > 0) {
		http_hold(r);
		return;
	}
	if (r->cut) {
		http_cut(r);
		return;
	}
	if (r->backstage)
		for (i = 0; i < sizeof http_helmet / sizeof http_helmet[0]; i++)
			evhttp_add_header(oh, http_helmet[i][0],
			    http_helmet[i][1]);
	if (r->ctype != NULL)
		evhttp_add_header(oh, "Content-Type", r->ctype);
	len = evbuffer_get_length(r->out);
	if (r->verb == HTTP_HEAD && len > 0) {
		/* evhttp sends no length for HEAD; Express sends the GET's. */
		char n[32];

		snprintf(n, sizeof n, "%zu", len);
		evhttp_add_header(oh, "Content-Length", n);
	}
	/*
	 * Node answers an HTTP/1.0 request with HTTP/1.1 and, unless it asked
	 * for keep-alive, Connection: close.  evhttp would echo 1.0; it closes
	 * when the reply says close.
	 */
	if (r->evreq->major == 1 && r->evreq->minor == 0) {
		const char *conn = http_header(r, "Connection");

		if (conn == NULL || !util_strcaseeq(conn, "keep-alive"))
			evhttp_add_header(oh, "Connection", "close");
		r->evreq->minor = 1;
	}
	if (r->conn != NULL && r->conn->reserve)
		evhttp_add_header(oh, "Connection", "close");
	http_close_cancel(r);
	r->len = len;
	/*
	 * libevent times the write from the loop's cached clock, read before
	 * this iteration's callbacks: after a slow handler the write timeout
	 * (--idle-timeout) would already have passed, and evhttp would drop
	 * the reply.  Time it from now.
	 */
	event_base_update_cache_time(r->srv->base);
	if ((c = r->conn) != NULL &&
	    evhttp_request_get_connection(r->evreq) != NULL) {
		/* Logged once written (http_sent_cb) or not (closecb). */
		c->busy = 0;
		c->inflight = r;
		evhttp_request_set_on_complete_cb(r->evreq, http_sent_cb, c);
	} else
		c = NULL;
	gone = evhttp_request_get_connection(r->evreq) == NULL ||
	    http_client_left(r);
	r->gone = gone;
	http_writing = 1;
	evhttp_send_reply(r->evreq, r->status, http_reason(r->status), r->out);
	http_writing = 0;
	if (c == NULL) {
		http_log_done(r, gone ? HTTP_GONE : NULL);
		http_req_free(r);
	}
}

/*
 * Did the client leave while we worked on a slow answer?  Its FIN (or a
 * reset, or a TLS alert) is waiting on the socket then; the reply still
 * goes out (a client that only shut down its sending side reads it), but
 * the log says what happened.  Quick answers skip the system call.
 */
static int
http_client_left(const struct req *r)
{
	struct evhttp_connection	*evcon;
	unsigned char			 b;
	ssize_t				 n;
	evutil_socket_t			 fd;

	if (util_mono_us() - r->start_us < HTTP_SLOW_US ||
	    (evcon = evhttp_request_get_connection(r->evreq)) == NULL ||
	    (fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon)))
	    == -1)
		return (0);
	n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR))
		return (1);
	return (n == 1 && r->tls && b == 0x15);
}

/* The access line: what the client got (how: NULL if all of it). */
/* What the access log says of a request, for --log-format json (log.h):
 * the text line's parts as fields, and more. */
struct http_logx {
	char			 path[256], origin[128], fault[32];
	struct log_field	 f[14];
	size_t			 n;
};

static void
http_log_fields(const struct req *r, int status, size_t bytes, double ms,
    const char *outcome, struct http_logx *x)
{
	struct json	*o;
	char		 err[JSON_ERRLEN];
	const char	*id;

	http_log_uri(r, x->path, sizeof x->path);
	if (r->origin != NULL)
		log_escape(x->origin, sizeof x->origin, r->origin,
		    strlen(r->origin));
	x->fault[0] = '\0';
	if (r->fault != NULL && (o = json_parse(r->fault, strlen(r->fault), 0,
	    err, sizeof err, NULL)) != NULL) {
		if ((id = json_string(json_get(o, "id"))) != NULL)
			snprintf(x->fault, sizeof x->fault, "%s", id);
		json_free(o);
	}
	x->n = 0;
#define F(k, t, sv, nv) x->f[x->n++] = (struct log_field){ k, t, sv, nv }
	F("remote", LOG_F_STR, r->remote, 0);
	F("method", LOG_F_STR, r->method, 0);
	F("path", LOG_F_STR, x->path, 0);
	F("route", LOG_F_STR, r->route, 0);
	F("status", LOG_F_NUM, NULL, status);
	F("bytes", LOG_F_NUM, NULL, (double)bytes);
	F("duration_ms", LOG_F_NUM, NULL, ms);
	F("origin", LOG_F_STR, r->origin != NULL ? x->origin : NULL, 0);
	F("diagnoses", LOG_F_LIST, r->note, 0);
	if (r->seq > 0)
		F("seq", LOG_F_NUM, NULL, (double)r->seq);
	else
		F("seq", LOG_F_STR, NULL, 0);
	F("fault", LOG_F_STR, x->fault[0] != '\0' ? x->fault : NULL, 0);
	F("tls", LOG_F_BOOL, NULL, r->tls);
	if (outcome != NULL)
		F("outcome", LOG_F_STR, outcome, 0);
#undef F
}

static void
http_log_done(struct req *r, const char *how)
{
	struct http_logx	x;
	double			ms;

	server_reply_done(r->srv, r->route, how != NULL ? 499 : r->status,
	    util_mono_us() - r->start_us);
	if (!log_enabled(LOG_LVL_INFO))
		return;
	ms = (double)(util_mono_us() - r->start_us) / 1000.0;
	if (how != NULL) {
		/* 499: nginx's "client closed request". */
		http_log_fields(r, 499, 0, ms, how, &x);
		log_info_fields(x.f, x.n, "%s %s %s 499 0 %.3fms origin=%s%s%s "
		    "%s (its %d reply of %zu bytes was not delivered)",
		    r->remote, r->method, x.path, ms, r->origin ? x.origin :
		    "-", r->note ? " diag=" : "", r->note ? r->note : "", how,
		    r->status, r->len);
		return;
	}
	http_log_fields(r, r->status, r->len, ms, NULL, &x);
	log_info_fields(x.f, x.n, "%s %s %s %d %zu %.3fms origin=%s%s%s",
	    r->remote, r->method, x.path, r->status, r->len, ms, r->origin ?
	    x.origin : "-", r->note ? " diag=" : "", r->note ? r->note : "");
}

/* evhttp wrote the whole reply. */
static void
http_sent_cb(struct evhttp_request *ev, void *arg)
{
	struct http_conn	*c = arg;
	struct req		*r = c->inflight;

	c->inflight = NULL;
	if (r == NULL)
		return;
	http_log_done(r, r->gone ? HTTP_GONE : NULL);
	http_req_free(r);
}

/* The commit event ended: send the reply, a 503 in Backstage's shape if
 * the transaction rolled back (cause). */
static void
http_release(struct server_reply *w, const char *cause)
{
	struct req	*r = (struct req *)(void *)((char *)w -
			    offsetof(struct req, wait));
	char		 msg[512], *body;
	size_t		 len;

	if (cause != NULL) {
		snprintf(msg, sizeof msg, "notimock could not store this "
		    "request: %s", cause);
		evbuffer_drain(r->out, evbuffer_get_length(r->out));
		body = http_error_body(r, 503, "ServiceUnavailableError", msg,
		    NULL, r->error_url, &len);
		evbuffer_add(r->out, body, len);
		free(body);
		r->status = 503;
		r->ctype = "application/json; charset=utf-8";
	}
	http_finish(r);
}

/* Hand the reply over: now, or after the commit if the request wrote. */
static void
http_complete(struct req *r)
{
	if (r->durable) {
		r->wait.release = http_release;
		server_defer(r->srv, &r->wait);
		return;
	}
	http_finish(r);
}

void
http_send(struct req *r, int status, const char *ctype, const void *body,
    size_t len)
{
	r->status = status;
	r->ctype = ctype;
	if (len > 0)
		evbuffer_add(r->out, body, len);
	http_complete(r);
}

void
http_send_json(struct req *r, int status, const struct json *v)
{
	char	*s;
	size_t	 len;

	s = json_print(v, &len);
	r->status = status;
	r->ctype = "application/json; charset=utf-8";
	evbuffer_add(r->out, s, len);
	free(s);
	http_complete(r);
}

char *
http_error_body(const struct req *r, int status, const char *name,
    const char *message, const struct json *cause, const char *url,
    size_t *lenp)
{
	struct json	*o, *e, *q, *s;
	char		*out;

	o = json_new_object();
	e = json_new_object();
	json_add_str(e, "name", name);
	json_add_str(e, "message", message);
	if (cause != NULL)
		json_add(e, "cause", json_dup(cause));
	json_add(o, "error", e);
	q = json_new_object();
	json_add_str(q, "method", r->method);
	if (url == NULL)
		url = r->error_url != NULL ? r->error_url : http_target_redacted(r);
	json_add_str(q, "url", url);
	json_add(o, "request", q);
	s = json_new_object();
	json_add_num(s, "statusCode", status);
	json_add(o, "response", s);
	out = json_print(o, lenp);
	json_free(o);
	return (out);
}

void
http_error(struct req *r, int status, const char *name, const char *message)
{
	char	*body;
	size_t	 len;

	body = http_error_body(r, status, name, message, NULL, NULL, &len);
	http_send(r, status, "application/json; charset=utf-8", body, len);
	free(body);
}

void
http_empty(struct req *r, int status)
{
	http_send(r, status, NULL, NULL, 0);
}

static struct http_conn *http_conn_find(struct evhttp_connection *);

/* A request on the TLS listener whose connection has no TLS record: its
 * filter or record could not be made (no memory, http_tls_bevcb) and
 * evhttp may then have made a plain bufferevent of its own.  Nothing may
 * go out in cleartext there: the socket is shut before evhttp's answer,
 * whose write then fails and frees the connection. */
static void
http_tls_cleartext(struct evhttp_request *ev, struct evhttp_connection *evcon)
{
	evutil_socket_t	 fd = -1;

	if (evcon != NULL)
		fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	if (fd != -1)
		(void)shutdown(fd, SHUT_RDWR);
	log_warnx("%s: a request on the TLS listener without its TLS "
	    "record (no memory for it); closed unanswered", __func__);
	evhttp_send_error(ev, 503, NULL);
}

static void
http_dispatch(struct evhttp_request *ev, struct server *srv, int tls)
{
	struct req		*r;
	struct evhttp_connection *evcon;
	struct http_conn	*c;
	char			*addr = NULL;
	const char		*q;
	ev_uint16_t		 port = 0;

	/* The connection's record, looked up once per request. */
	evcon = evhttp_request_get_connection(ev);
	c = http_conn_find(evcon);
	if (tls && (c == NULL || c->refuse)) {
		http_tls_cleartext(ev, evcon);
		return;
	}
	r = xcalloc(1, sizeof *r);
	r->srv = srv;
	r->evreq = ev;
	r->start_us = util_mono_us();
	r->received = util_now_ms();
	r->verb = http_verb(evhttp_request_get_command(ev));
	r->method = route_method_name(r->verb);
	r->target = evhttp_request_get_uri(ev);
	if ((r->out = evbuffer_new()) == NULL) {
		/* No memory even for the reply: evhttp's own, bodiless. */
		log_warnx("%s: evbuffer_new failed; answering 503", __func__);
		free(r);
		evhttp_send_error(ev, 503, NULL);
		return;
	}
	if ((q = strchr(r->target, '?')) != NULL) {
		r->path = http_decode_path(r->target, (size_t)(q - r->target));
		r->query = q + 1;
		r->target_redacted = http_redact_uri(r->target);
	} else
		r->path = http_decode_path(r->target, strlen(r->target));
	if (evcon != NULL) {
		evhttp_connection_get_peer(evcon, &addr, &port);
		snprintf(r->remote, sizeof r->remote, "%s:%u",
		    addr ? addr : "?", port);
	}
	r->tls = tls;
	r->conn = http_conn_begin(c);
	if (http_test_delay_us > 0 && strncmp(r->path, "/mock/", 6) == 0)
		usleep((useconds_t)http_test_delay_us);	/* a slow query */
	srv->nrequests++;
	http_app(r, r->conn != NULL && r->conn->reserve);
}

static void
http_gencb(struct evhttp_request *ev, void *arg)
{
	http_dispatch(ev, arg, 0);
}

static void
http_gencb_tls(struct evhttp_request *ev, void *arg)
{
	http_dispatch(ev, arg, 1);
}

/* --- running out of file descriptors ------------------------------------ */

/*
 * Every connection holds a descriptor.  With none left, accept() fails
 * (EMFILE) and the connection stays queued, so the listener is readable
 * again at once: evconnlistener would retry, and log, in a tight loop.
 * Instead a failing listener stops for HTTP_ACCEPT_PAUSE at a time, and an
 * episode is logged twice: when it starts, and once accepting has worked
 * for a whole pause.  The error callback receives the evhttp (evhttp owns
 * the listener's argument), not the server, hence this table.
 */
#define HTTP_ACCEPT_PAUSE	1	/* seconds */

static struct http_pause {
	struct evconnlistener	*lev;
	struct event		*resume;
	const char		*scheme;	/* "http", "https" */
	enum {
		HTTP_ACCEPTING,
		HTTP_PAUSED,
		HTTP_SETTLING,		/* accepting again, on probation */
	}			 state;
	int64_t			 since_us;	/* the episode's start */
	int64_t			 resumed_us;	/* when accepting last resumed */
	uint64_t		 pauses;	/* in this episode */
} http_pauses[2];

/* Descriptors open now (start-up only: they are all low-numbered). */
static unsigned int
http_fds_open(void)
{
	unsigned int	n = 0;
	int		fd;

	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return (n);
}

/* Raise the soft descriptor limit to the hard one, and say what it allows.
 * Returns the descriptors left for connections (0: unknown). */
static unsigned long long
http_raise_nofile(void)
{
	struct rlimit		rl;
	unsigned long long	old, lim, open;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit(RLIMIT_NOFILE)");
		return (0);
	}
	old = (unsigned long long)rl.rlim_cur;
	/* An infinite hard limit is not a value setrlimit takes here. */
	if (rl.rlim_cur < rl.rlim_max && rl.rlim_max != RLIM_INFINITY) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			log_warn("cannot raise the file-descriptor limit from "
			    "%llu to %llu", old,
			    (unsigned long long)rl.rlim_max);
			rl.rlim_cur = (rlim_t)old;
		}
	}
	lim = (unsigned long long)rl.rlim_cur;
	open = http_fds_open();
	log_info("connections: about %llu at once (file-descriptor limit "
	    "%llu%s, %llu in use)", lim > open ? lim - open : 0, lim,
	    lim != old ? ", raised to the hard limit" : "", open);
	return (lim > open ? lim - open : 1);
}

static void
http_accept_resume(evutil_socket_t unused, short what, void *arg)
{
	struct http_pause	*p = arg;
	struct timeval		 tv = { HTTP_ACCEPT_PAUSE, 0 };
	evutil_socket_t		 fd;

	if (p->state == HTTP_SETTLING) {
		log_warnx("%s: accepting connections again after %.1f s "
		    "(%llu pauses)", p->scheme, (double)(p->resumed_us -
		    p->since_us) / 1e6, (unsigned long long)p->pauses);
		p->state = HTTP_ACCEPTING;
		p->pauses = 0;
		return;
	}
	/* Still no descriptor free (dup() needs one as accept() does):
	 * accepting now would only fail again. */
	if ((fd = dup(evconnlistener_get_fd(p->lev))) == -1 &&
	    (errno == EMFILE || errno == ENFILE)) {
		p->pauses++;
		evtimer_add(p->resume, &tv);
		return;
	}
	if (fd != -1)
		close(fd);
	p->state = HTTP_SETTLING;
	p->resumed_us = util_mono_us();
	evconnlistener_enable(p->lev);
	evtimer_add(p->resume, &tv);
}

static void
http_accept_error(struct evconnlistener *lev, void *arg)
{
	struct http_pause	*p = NULL;
	struct timeval		 tv = { HTTP_ACCEPT_PAUSE, 0 };
	size_t			 i;
	int			 saved = errno;

	for (i = 0; i < sizeof http_pauses / sizeof http_pauses[0]; i++)
		if (http_pauses[i].lev == lev)
			p = &http_pauses[i];
	if (p == NULL)
		return;		/* not ours: cannot happen */
	evconnlistener_disable(lev);
	if (p->state == HTTP_ACCEPTING) {
		p->since_us = util_mono_us();
		log_warnx("%s: cannot accept connections: %s; trying again "
		    "once a second, quietly, until it works", p->scheme,
		    strerror(saved));
	}
	p->state = HTTP_PAUSED;
	p->pauses++;
	evtimer_add(p->resume, &tv);
}

static void
http_accept_watch(struct server *srv, struct evhttp_bound_socket *bound,
    int tls)
{
	struct http_pause	*p = &http_pauses[tls ? 1 : 0];

	memset(p, 0, sizeof *p);
	p->lev = evhttp_bound_socket_get_listener(bound);
	p->scheme = tls ? "https" : "http";
	p->resume = evtimer_new(srv->base, http_accept_resume, p);
	evconnlistener_set_error_cb(p->lev, http_accept_error);
}

static void
http_accept_unwatch(void)
{
	size_t	i;

	for (i = 0; i < sizeof http_pauses / sizeof http_pauses[0]; i++) {
		if (http_pauses[i].resume != NULL)
			event_free(http_pauses[i].resume);
		memset(&http_pauses[i], 0, sizeof http_pauses[i]);
	}
}

/* --- connections: one record each, their deadline and their bounds ------ */

/*
 * Every accepted connection gets a struct http_conn, the one place that
 * sees it open and close (evhttp's close callback, which it owns: the TLS
 * close_notify and the long-lived replies' departure watch go through it).
 * It holds:
 *  - the request deadline (--head-timeout): from accept, or from the first
 *    byte of a later request on the connection, until evhttp hands us the
 *    whole request.  Bytes do not extend it (the idle timer, which they do
 *    extend, let a client sending a byte a second hold a connection for
 *    hours).  It does not run while notimock works on an answer.
 *  - the bounds: --max-connections served at once, plus HTTP_RESERVE more
 *    that answer health only (anything else gets 503 and the connection
 *    closes), and --max-connections-per-client per client address.  A
 *    connection over these is closed as it is accepted.  Both are clamped
 *    to the descriptors the process may open, so that a flood cannot take
 *    the last one (accept() failing locks everyone out).
 *  - the reply handed to evhttp and not yet written (inflight), so that the
 *    access log says what the client got.
 *
 * evhttp gives no hook when it accepts: the bevcb runs before the socket is
 * set, so the record attaches from an event activated there, which runs
 * later in the same loop iteration and before any read on the connection.
 */
#define HTTP_RESERVE		16	/* connections for health at the bound */
#define HTTP_FD_MARGIN		16	/* descriptors kept for the database,
					   logs and the CLI's own needs */
#define HTTP_ACCEPT_BATCH	8	/* accepts past the bound before the
					   records attach and refuse them:
					   under HTTP_FD_MARGIN, so that a
					   flood cannot reach the descriptor
					   limit */
#define HTTP_CONN_BUCKETS	1024
#define HTTP_CLIENT_BUCKETS	256

LIST_HEAD(http_conn_list, http_conn);
LIST_HEAD(http_client_list, http_client);

static struct {
	struct http_conn_list	 conns[HTTP_CONN_BUCKETS];	/* by evcon */
	struct http_client_list	 clients[HTTP_CLIENT_BUCKETS];	/* by addr */
	unsigned int		 n;
	unsigned int		 pending;	/* accepted, not attached */
	int			 held;		/* listeners off meanwhile */
	unsigned int		 max;		/* served */
	unsigned int		 ceiling;	/* max + reserve */
	unsigned int		 per_client;
	long long		 max_body;
	struct timeval		 deadline;
	struct http_conn_stats	 stats;
	int64_t			 logged_us;	/* refusals: one line a second */
	uint64_t		 unlogged;
	char			 oversize_body[256];	/* http_conn_oversize_cb */
	char			 oversize_reply[512];
} http_conns;

static unsigned int
http_conn_hash(const void *p)
{
	uintptr_t	v = (uintptr_t)p;

	return ((unsigned int)((v >> 4) ^ (v >> 14)) % HTTP_CONN_BUCKETS);
}

static unsigned int
http_client_hash(const char *s)
{
	unsigned int	h = 5381;

	while (*s != '\0')
		h = h * 33 + (unsigned char)*s++;
	return (h % HTTP_CLIENT_BUCKETS);
}

static struct http_conn *
http_conn_find(struct evhttp_connection *evcon)
{
	struct http_conn	*c;

	if (evcon == NULL)
		return (NULL);
	LIST_FOREACH(c, &http_conns.conns[http_conn_hash(evcon)], entry)
		if (c->evcon == evcon)
			return (c);
	return (NULL);
}

void
http_conn_stats(struct http_conn_stats *st)
{
	*st = http_conns.stats;
	st->open = http_conns.n;
	st->max = http_conns.max;
	st->per_client = http_conns.per_client;
}

/* Work out the bounds from the settings and the descriptors left. */
static void
http_conn_limits(struct server *srv, unsigned long long fds)
{
	struct settings		*s = srv->settings;
	unsigned long long	 max = (unsigned long long)s->max_connections;
	unsigned long long	 per = (unsigned long long)
				    s->max_connections_per_client;
	long long		 secs;
	size_t			 i;

	for (i = 0; i < HTTP_CONN_BUCKETS; i++)
		LIST_INIT(&http_conns.conns[i]);
	for (i = 0; i < HTTP_CLIENT_BUCKETS; i++)
		LIST_INIT(&http_conns.clients[i]);
	if (fds > 0) {
		fds = fds > HTTP_FD_MARGIN + HTTP_RESERVE + 2 ?
		    fds - HTTP_FD_MARGIN - HTTP_RESERVE : 2;
		if (max > fds) {
			log_warnx("connections: --max-connections %llu is more "
			    "than the file-descriptor limit allows; serving "
			    "%llu", max, fds);
			max = fds;
		}
	}
	/* No one client may hold every connection. */
	if (per > max / 2)
		per = max / 2 > 0 ? max / 2 : 1;
	http_conns.max = (unsigned int)max;
	http_conns.ceiling = (unsigned int)max + HTTP_RESERVE;
	http_conns.per_client = (unsigned int)per;
	http_conns.max_body = s->max_body;
	snprintf(http_conns.oversize_body, sizeof http_conns.oversize_body,
	    "{\"error\":{\"name\":\"PayloadTooLargeError\",\"message\":"
	    "\"request entity too large: its Content-Length is over "
	    "--max-body (%lld bytes)\"},\"response\":{\"statusCode\":413}}",
	    http_conns.max_body);
	snprintf(http_conns.oversize_reply, sizeof http_conns.oversize_reply,
	    "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json; "
	    "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n"
	    "\r\n%s", strlen(http_conns.oversize_body),
	    http_conns.oversize_body);
	secs = s->head_timeout < s->idle_timeout ? s->head_timeout :
	    s->idle_timeout;
	http_conns.deadline.tv_sec = (time_t)secs;
	http_conns.deadline.tv_usec = 0;
	log_info("connections: %u served at once, %u per client address, %d "
	    "more for health; a request must arrive within %lld s",
	    http_conns.max, http_conns.per_client, HTTP_RESERVE, secs);
}

/* A refusal or a cut, logged at most once a second (a flood would fill
 * the log otherwise); the counters keep every one. */
static void
http_conn_log(const char *addr, const char *what)
{
	int64_t	now = util_mono_us();

	if (http_conns.logged_us != 0 &&
	    now - http_conns.logged_us < 1000000) {
		http_conns.unlogged++;
		return;
	}
	if (http_conns.unlogged > 0)
		log_warnx("connections: %s: %s (and %llu more refused or cut "
		    "in the last second)", addr, what,
		    (unsigned long long)http_conns.unlogged);
	else
		log_warnx("connections: %s: %s", addr, what);
	http_conns.logged_us = now;
	http_conns.unlogged = 0;
}

/* Hand evhttp an error on the connection: its own teardown closes it (and
 * calls http_conn_closecb if the record is attached). */
static void
http_conn_abort(struct bufferevent *bev)
{
	bufferevent_trigger_event(bev, BEV_EVENT_READING | BEV_EVENT_ERROR, 0);
}

static void
http_conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*c = arg;
	char			 msg[128];

	if (c->busy)
		return;		/* cannot happen: the timer stops first */
	http_conns.stats.cut++;
	snprintf(msg, sizeof msg, "no whole request within %lld s "
	    "(--head-timeout); closed", (long long)
	    http_conns.deadline.tv_sec);
	http_conn_log(c->client->addr, msg);
	http_conn_abort(c->bev);	/* frees c */
}

/*
 * A head with a Content-Length over --max-body (or one too large to be a
 * number at all, like 100000000000000000000): evhttp reads and discards
 * that many bytes before it answers 413 (its lingering close), so a client
 * that sends no body waited for the idle timeout and got nothing.  Such a
 * request gets HTTP_OVERSIZE_GRACE for its body to arrive (then evhttp
 * answers, as ever); after that, our 413 and the connection closes, on
 * both listeners.  The head is looked for in the bytes as they arrive (a
 * head split over reads is missed, and the deadline ends it instead).
 */
#define HTTP_OVERSIZE_GRACE	1	/* seconds */

static int
http_head_oversize(struct evbuffer *buf, long long max)
{
	struct evbuffer_ptr	 end, at;
	char			 head[4096], *p, *q;
	size_t			 n;
	unsigned long long	 v;

	end = evbuffer_search(buf, "\r\n\r\n", 4, NULL);
	if (end.pos == -1)
		return (0);
	n = (size_t)end.pos < sizeof head - 1 ? (size_t)end.pos :
	    sizeof head - 1;
	evbuffer_ptr_set(buf, &at, 0, EVBUFFER_PTR_SET);
	if (evbuffer_copyout_from(buf, &at, head, n) != (ev_ssize_t)n)
		return (0);
	head[n] = '\0';
	for (p = head; (p = strstr(p, "\r\n")) != NULL; p += 2) {
		if (!util_strncaseeq(p + 2, "content-length:", 15))
			continue;
		for (q = p + 17; *q == ' ' || *q == '\t'; q++)
			;
		for (v = 0; *q >= '0' && *q <= '9'; q++) {
			if (v > (unsigned long long)max)
				return (1);	/* and it goes on */
			v = v * 10 + (unsigned long long)(*q - '0');
		}
		return (v > (unsigned long long)max);
	}
	return (0);
}

static void
http_conn_oversize_cb(evutil_socket_t unused, short what, void *arg)
{
	struct http_conn	*c = arg;

	if (c->busy)
		return;		/* evhttp answered and a new request began */
	http_conns.stats.cut++;
	http_conn_log(c->client->addr, "Content-Length over --max-body and "
	    "no body within a second; answered 413 and closed");
	/* A bare READING event is evhttp's "buffer error": it fails the
	 * request on its own path (a 400, Connection: close, written through
	 * the filter on TLS), and http_refusal_cb puts this 413 in its
	 * place. */
	c->oversize = 1;
	bufferevent_trigger_event(c->bev, BEV_EVENT_READING, 0);
}

/*
 * evhttp answers a chunk size it cannot read (no hex number, a negative,
 * a 64-bit overflow, an extension) with 413, as if the body were too
 * large, and skips a blank one (it takes the line end after each chunk's
 * data for one) and waits; Node, under Backstage, answers both 400 Bad
 * Request.  libevent 2.1.12 says nothing of a request before its end, but
 * evhttp takes each line from the input with drains of its own (the line,
 * then its end), each chunk's data with one more, and an evbuffer
 * callback sees every drain as it happens.  So, for the one request that
 * needs it:
 *   - while no Transfer-Encoding line was taken, a look at the input's
 *     first bytes in place (evbuffer_peek, no copy) finds one at the front;
 *   - once it said chunked, the input's first HTTP_PEEK bytes are copied
 *     at each change, so each drain tells the line or data evhttp took,
 *     and http_conn_taken follows the framing as evhttp reads it.
 * When evhttp's 413 comes (http_refusal_cb), the last line taken says
 * whether the size was unreadable (Node's 400) or too large (evhttp's 413
 * stays).  A blank size line gets, in front of what follows, a line evhttp
 * cannot read ("x"), so evhttp fails the request on its own path (reply,
 * Connection: close) and that 413 becomes the 400 as well.  Plain and TLS
 * alike: both listeners' connections are watched here.  Lines longer than
 * HTTP_PEEK are not seen: after a size line that long the framing is no
 * longer followed (HTTP_CHUNK_LOST), nothing is inserted, and only a 413
 * for that line itself becomes the 400.
 */
#define HTTP_TE		"transfer-encoding:"
#define HTTP_TE_LEN	(sizeof HTTP_TE - 1)

/* Does the input begin with a Transfer-Encoding line?  (Its start is a
 * line's start whenever evhttp reads a head: it takes whole lines.) */
static int
http_conn_te_front(struct evbuffer *buf)
{
	struct evbuffer_iovec	 v;
	char			 head[HTTP_TE_LEN];
	const char		*p;

	if (evbuffer_peek(buf, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
		return (0);
	p = v.iov_base;
	if (*p != 't' && *p != 'T')
		return (0);
	if (v.iov_len < HTTP_TE_LEN) {
		if (evbuffer_copyout(buf, head, HTTP_TE_LEN) !=
		    (ev_ssize_t)HTTP_TE_LEN)
			return (0);
		p = head;
	}
	return (util_strncaseeq(p, HTTP_TE, HTTP_TE_LEN));
}

/* The length of the line at the front of c's copy, without its end; -1:
 * no line end in the copy. */
static ev_ssize_t
http_conn_line(const struct http_conn *c)
{
	const char	*nl;

	if ((nl = memchr(c->inhead, '\n', c->inheadlen)) == NULL)
		return (-1);
	return (nl > c->inhead && nl[-1] == '\r' ? nl - c->inhead - 1 :
	    nl - c->inhead);
}

/* The Transfer-Encoding line evhttp took, as evhttp reads it: the value
 * after the spaces (not tabs) that follow the colon, trailing white space
 * off; the first such header decides. */
static void
http_conn_te(struct http_conn *c)
{
	const char	*v = c->drained + HTTP_TE_LEN;
	const char	*end = c->drained + c->drainedlen;

	c->te_seen = 1;
	while (v < end && *v == ' ')
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end - v == 7 && util_strncaseeq(v, "chunked", 7)) {
		c->chunk = HTTP_CHUNK_HEAD;
		c->inline_eol = 1;
	}
}

/* A size line as evhttp reads it: hex, then the end or a space, not
 * negative (-1: it fails the request). */
static long long
http_chunk_size(const char *s, size_t len)
{
	char		 line[HTTP_PEEK + 1], *endp;
	long long	 v;

	if (len == 0)
		return (-1);
	memcpy(line, s, len);
	line[len] = '\0';
	errno = 0;
	v = strtoll(line, &endp, 16);
	if ((*endp != '\0' && *endp != ' ') || v < 0 || errno == ERANGE)
		return (-1);
	return (v);
}

/* evhttp took the first n bytes of c's copy: what were they? */
static void
http_conn_taken(struct http_conn *c, struct evbuffer *buf, size_t n)
{
	ev_ssize_t	line = http_conn_line(c);
	int		eol;
	long long	size;

	if (c->chunk == HTTP_CHUNK_DATA) {
		c->chunk_left -= n < c->chunk_left ? n : c->chunk_left;
		if (c->chunk_left == 0)
			c->chunk = HTTP_CHUNK_END;
		return;
	}
	/* A line end alone: the end of the line just taken, or a blank
	 * line. */
	eol = line == 0 && (size_t)(c->inhead[0] == '\r' ? 2 : 1) == n;
	if (!eol) {
		/* A line (or, ahead of a chunked head, a body's bytes). */
		if (c->chunk == HTTP_CHUNK_NONE && (ev_ssize_t)n != line)
			return;
		c->drainedlen = n <= c->inheadlen ? n : 0;
		memcpy(c->drained, c->inhead, c->drainedlen);
		if (c->chunk == HTTP_CHUNK_NONE) {
			if (c->drainedlen >= HTTP_TE_LEN)
				http_conn_te(c);
			return;
		}
		/* A folded line may change the Transfer-Encoding evhttp
		 * reads: do not guess. */
		if (c->chunk == HTTP_CHUNK_HEAD && c->drainedlen > 0 &&
		    (c->drained[0] == ' ' || c->drained[0] == '\t')) {
			c->chunk = HTTP_CHUNK_NONE;
			return;
		}
		c->inline_eol = 1;
		return;
	}
	if (c->inline_eol) {
		c->inline_eol = 0;
		if (c->chunk != HTTP_CHUNK_SIZE && c->chunk != HTTP_CHUNK_END)
			return;		/* a head line */
		/* A size line: where evhttp goes next (if it fails, the 413
		 * follows and the line stays in c->drained). */
		if (c->drainedlen == 0) {
			/* Longer than the copy: evhttp may have read a size
			 * (leading zeros) and go on to data this cannot
			 * tell from lines, so stop following; a 413 now is
			 * for this line (http_conn_bad_chunk). */
			c->chunk = HTTP_CHUNK_LOST;
			return;
		}
		size = http_chunk_size(c->drained, c->drainedlen);
		if (size == 0)
			c->chunk = HTTP_CHUNK_DONE;
		else if (size > 0) {
			c->chunk = HTTP_CHUNK_DATA;
			c->chunk_left = (uint64_t)size;
		}
		return;
	}
	switch (c->chunk) {
	case HTTP_CHUNK_HEAD:		/* the head's end */
	case HTTP_CHUNK_END:		/* the data's */
		c->chunk = HTTP_CHUNK_SIZE;
		break;
	case HTTP_CHUNK_SIZE:		/* a blank size line */
		c->blankchunk = 1;
		c->chunk = HTTP_CHUNK_DONE;
		(void)evbuffer_prepend(buf, "x\r\n", 3);
		break;
	default:
		break;
	}
}

static void
http_conn_mirror(struct http_conn *c, struct evbuffer *buf,
    const struct evbuffer_cb_info *info)
{
	ev_ssize_t	n;

	/* Lost, and evhttp took more: it read that size line, so a later
	 * 413 is none of ours. */
	if (c->chunk == HTTP_CHUNK_LOST && info->n_deleted > 0)
		c->chunk = HTTP_CHUNK_NONE;
	if (info->n_deleted > 0 && c->inheadlen > 0)
		http_conn_taken(c, buf, info->n_deleted);
	if (c->chunk == HTTP_CHUNK_DONE || c->chunk == HTTP_CHUNK_LOST ||
	    (c->chunk == HTTP_CHUNK_NONE &&
	    (c->te_seen || !http_conn_te_front(buf)))) {
		c->inheadlen = 0;
		return;
	}
	n = evbuffer_copyout(buf, c->inhead, HTTP_PEEK);
	c->inheadlen = n > 0 ? (size_t)n : 0;
	c->inhead[c->inheadlen] = '\0';
}

/* Was evhttp's 413 on c for a chunk size it could not read (by its own
 * rule) or a blank one, rather than one too large?  The size line is the
 * last line it took. */
static int
http_conn_bad_chunk(const struct http_conn *c)
{
	if (c->blankchunk)
		return (1);
	if (c->chunk == HTTP_CHUNK_NONE || c->chunk == HTTP_CHUNK_HEAD)
		return (0);
	if (c->drainedlen == 0)
		return (1);	/* longer than any size evhttp takes */
	return (http_chunk_size(c->drained, c->drainedlen) < 0);
}

/* Bytes arrived: the first of a request starts its deadline. */
static void
http_conn_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct http_conn	*c = arg;
	struct timeval		 tv = { HTTP_OVERSIZE_GRACE, 0 };

	http_conn_mirror(c, buf, info);
	if (info->n_added == 0 || c->busy)
		return;
	if (!evtimer_pending(c->deadline, NULL))
		evtimer_add(c->deadline, &http_conns.deadline);
	if (!evtimer_pending(c->oversize_ev, NULL) &&
	    http_head_oversize(buf, http_conns.max_body))
		evtimer_add(c->oversize_ev, &tv);
}

static void	http_closecb(struct req *);

static void
http_conn_closecb(struct evhttp_connection *evcon, void *arg)
{
	struct http_conn	*c = arg;
	struct req		*r;

	evhttp_connection_set_closecb(evcon, NULL, NULL);
	if (c->tls)
		tls_close_notify(evcon);
	if ((r = c->watch) != NULL) {
		c->watch = NULL;
		http_closecb(r);
	}
	if ((r = c->inflight) != NULL) {
		/* evhttp frees the request itself, after this. */
		c->inflight = NULL;
		http_log_done(r, HTTP_GONE);
		http_req_free(r);
	}
	evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->incb);
	event_free(c->deadline);
	event_free(c->oversize_ev);
	LIST_REMOVE(c, entry);
	if (--c->client->n == 0) {
		LIST_REMOVE(c->client, entry);
		free(c->client);
	}
	http_conns.n--;
	free(c);
}

static void
http_conn_attach(evutil_socket_t unused, short what, void *arg)
{
	struct http_conn		*c = arg;
	struct bufferevent		*bev = c->bev;
	struct http_client		*cl;
	struct http_client_list		*bucket;
	bufferevent_event_cb		 eventcb;
	void				*cbarg;
	char				*got = NULL;
	const char			*addr, *why = NULL;
	ev_uint16_t			 port = 0;

	event_free(c->attach);
	c->attach = NULL;
	if (--http_conns.pending == 0 && http_conns.held)
		http_accept_hold(0);
	bufferevent_getcb(bev, NULL, NULL, &eventcb, &cbarg);
	/* evhttp gave the connection up before it started (no memory). */
	if (bufferevent_getfd(bev) == -1 || eventcb == NULL || cbarg == NULL)
		goto drop;
	c->evcon = cbarg;
	evhttp_connection_get_peer(c->evcon, &got, &port);
	addr = got != NULL ? got : "?";
	bucket = &http_conns.clients[http_client_hash(addr)];
	LIST_FOREACH(cl, bucket, entry)
		if (strcmp(cl->addr, addr) == 0)
			break;
	/* Nothing here may exit (xcalloc would): out of memory, the
	 * connection is refused instead. */
	c->deadline = evtimer_new(c->srv->base, http_conn_deadline_cb, c);
	c->oversize_ev = evtimer_new(c->srv->base, http_conn_oversize_cb, c);
	if (cl == NULL && (cl = calloc(1, sizeof *cl)) != NULL) {
		snprintf(cl->addr, sizeof cl->addr, "%s", addr);
		LIST_INSERT_HEAD(bucket, cl, entry);
	}
	if (c->refuse) {
		http_conns.stats.refused++;
		why = "no memory for its TLS state; refused";
	} else if (cl == NULL || c->deadline == NULL ||
	    c->oversize_ev == NULL) {
		http_conns.stats.refused++;
		why = "no memory for its record; refused";
	} else if (http_conns.n >= http_conns.ceiling) {
		http_conns.stats.refused++;
		why = "over --max-connections and the reserve for health; "
		    "refused";
	} else if (cl != NULL && cl->n >= http_conns.per_client) {
		http_conns.stats.refused_client++;
		why = "over --max-connections-per-client; refused";
	}
	if (why != NULL) {
		http_conn_log(addr, why);
		http_conn_abort(bev);
		if (cl != NULL && cl->n == 0) {
			LIST_REMOVE(cl, entry);
			free(cl);
		}
		goto drop;
	}
	cl->n++;
	c->client = cl;
	http_conns.n++;
	http_conns.stats.accepted++;
	if (http_conns.n > http_conns.max) {
		c->reserve = 1;
		http_conns.stats.reserve++;
	}
	LIST_INSERT_HEAD(&http_conns.conns[http_conn_hash(c->evcon)], c,
	    entry);
	evhttp_connection_set_closecb(c->evcon, http_conn_closecb, c);
	evtimer_add(c->deadline, &http_conns.deadline);
	c->incb = evbuffer_add_cb(bufferevent_get_input(bev),
	    http_conn_input_cb, c);
	bufferevent_decref(bev);
	return;
drop:
	if (c->deadline != NULL)
		event_free(c->deadline);
	if (c->oversize_ev != NULL)
		event_free(c->oversize_ev);
	bufferevent_decref(bev);
	free(c);
}

/* From the bevcbs: watch the new connection's bufferevent (refuse: close
 * it as soon as it attaches). */
static struct bufferevent *
http_conn_new(struct server *srv, struct bufferevent *bev, int tls,
    int refuse)
{
	struct http_conn	*c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return (bev);	/* unwatched, as when event_new fails below */
	c->srv = srv;
	c->bev = bev;
	c->tls = tls;
	c->refuse = refuse;
	/* Keeps bev whole until the record attaches, whatever evhttp does. */
	bufferevent_incref(bev);
	if ((c->attach = event_new(srv->base, -1, 0, http_conn_attach, c)) ==
	    NULL) {
		bufferevent_decref(bev);
		free(c);
		return (bev);
	}
	event_active(c->attach, EV_TIMEOUT, 0);
	/* evconnlistener accepts until the backlog is empty, all before any
	 * record attaches and refuses: near the bound, pause it after a few
	 * (the bound is clamped to leave HTTP_FD_MARGIN descriptors). */
	if (++http_conns.pending +
	    http_conns.n >= http_conns.ceiling + HTTP_ACCEPT_BATCH &&
	    !http_conns.held)
		http_accept_hold(1);
	return (bev);
}

/* A request is ours: stop its connection's deadline (c may be NULL). */
static struct http_conn *
http_conn_begin(struct http_conn *c)
{
	if (c == NULL)
		return (NULL);
	c->busy = 1;
	/* The next request's own. */
	c->te_seen = c->inline_eol = c->blankchunk = 0;
	c->chunk = HTTP_CHUNK_NONE;
	c->inheadlen = c->drainedlen = 0;
	evtimer_del(c->deadline);
	evtimer_del(c->oversize_ev);
	return (c);
}

/* Stop accepting until the accepted connections' records attach. */
static void
http_accept_hold(int on)
{
	size_t	i;

	http_conns.held = on;
	for (i = 0; i < nitems(http_pauses); i++) {
		if (http_pauses[i].lev == NULL ||
		    http_pauses[i].state != HTTP_ACCEPTING)
			continue;
		if (on)
			evconnlistener_disable(http_pauses[i].lev);
		else
			evconnlistener_enable(http_pauses[i].lev);
	}
}

/* --- requests evhttp refuses on its own --------------------------------- */

/*
 * evhttp answers some requests without calling us: a body over
 * --max-body (413), a request line and headers over --max-headers or a
 * malformed request (400), a method it does not know (501).  libevent
 * 2.1.12 has no hook for these, but a reply is bytes added to the
 * connection's output evbuffer, the status line in an add of its own, and
 * an evbuffer callback sees each add as it happens.  Every reply of ours
 * is written with http_writing set, so a status line added while it is
 * clear is evhttp's own.  Both listeners: on TLS the watch is on the
 * filter's output, the plaintext evhttp writes (tls.c encrypts it only
 * once evhttp enables writing, after the whole reply is added).  The
 * cost is a test per add: none measurable on tests/bench/run.
 */
/* The record of a connection's bufferevent (NULL before it attaches). */
static struct http_conn *
http_conn_of(struct bufferevent *bev)
{
	bufferevent_event_cb	 eventcb;
	void			*cbarg = NULL;

	bufferevent_getcb(bev, NULL, NULL, &eventcb, &cbarg);
	return (http_conn_find(cbarg));
}

/*
 * Our answer in place of evhttp's and everything evhttp adds after it
 * (its headers and HTML page, all added before anything is written; the
 * connection closes after it, as evhttp's said Connection: close): Node's
 * bare 400 for a chunk size it cannot read, or http_conn_oversize_cb's
 * 413.
 */
static void
http_refusal_replace(struct http_conn *c, struct evbuffer *buf)
{
	static const char	 node400[] = "HTTP/1.1 400 Bad Request\r\n"
	    "Connection: close\r\n\r\n";
	const char		*reply = c->oversize ? http_conns.oversize_reply :
				    node400;
	struct evbuffer		*kept;

	if ((kept = evbuffer_new()) == NULL)
		return;		/* evhttp's own answer goes out */
	http_writing = 1;
	(void)evbuffer_remove_buffer(buf, kept, c->replace_keep);
	(void)evbuffer_drain(buf, evbuffer_get_length(buf));
	(void)evbuffer_add_buffer(buf, kept);
	(void)evbuffer_add(buf, reply, strlen(reply));
	http_writing = 0;
	evbuffer_free(kept);
}

static void
http_refusal(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct bufferevent	*bev = arg;
	struct evbuffer_ptr	 pos;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof ss;
	char			 line[64], reason[48], host[INET6_ADDRSTRLEN];
	const char		*hint;
	ev_ssize_t		 n;
	size_t			 len;
	int			 status, port = 0;
	evutil_socket_t		 fd;
	struct http_conn	*c;

	if ((c = http_conn_of(bev)) != NULL && c->replacing) {
		http_refusal_replace(c, buf);
		return;
	}
	/* The new bytes are the last n_added (drains come off the front). */
	if (info->n_added < 13 ||
	    evbuffer_ptr_set(buf, &pos, evbuffer_get_length(buf) -
	    info->n_added, EVBUFFER_PTR_SET) == -1 ||
	    (n = evbuffer_copyout_from(buf, &pos, line, sizeof line - 1)) < 13)
		return;
	line[n] = '\0';
	if (strncmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ' ||
	    (status = (int)strtol(line + 9, NULL, 10)) < 400)
		return;		/* 100 Continue */
	len = strcspn(line + 13, "\r\n");
	log_escape(reason, sizeof reason, line + 13, len);
	if (status == 400 && c != NULL && c->oversize) {
		/* http_conn_oversize_cb's: logged there. */
		c->replacing = 1;
		c->replace_keep = evbuffer_get_length(buf) - info->n_added;
		http_refusal_replace(c, buf);
		return;
	}
	if (status == 413 && c != NULL && http_conn_bad_chunk(c)) {
		/* Its status line is the last add: what came before stays. */
		c->replacing = 1;
		c->replace_keep = evbuffer_get_length(buf) - info->n_added;
		http_refusal_replace(c, buf);
		status = 400;
		snprintf(reason, sizeof reason, "Bad Request");
	}
	switch (status) {
	case 413:
		hint = "body over --max-body";
		break;
	case 501:
		hint = "a method evhttp does not know";
		break;
	default:
		hint = c == NULL || !c->replacing ? "malformed, or request "
		    "line and headers over --max-headers" : c->blankchunk ?
		    "a blank chunk size; answered 400, as Node does" :
		    "a chunk size that is no hex number; evhttp's 413 made a "
		    "400, as Node answers";
	}
	snprintf(host, sizeof host, "?");
	if ((fd = bufferevent_getfd(bev)) != -1 &&
	    getpeername(fd, (struct sockaddr *)&ss, &sslen) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
			port = ntohs(sin6->sin6_port);
		} else if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
			port = ntohs(sin->sin_port);
		}
	}
	log_info("%s:%d - - %d %s, refused by evhttp before notimock saw the "
	    "request (%s)", host, port, status, reason, hint);
}

/*
 * A bufferevent keeps its output's start frozen between its writes, and
 * evhttp answers the next request of a connection from inside that
 * (its write callback): the output cannot be read then (evbuffer_copyout
 * fails), and a refusal on a reused connection went unseen.  Read and
 * rewrite it thawed, then freeze it again.
 */
static void
http_refusal_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	char	one;
	int	frozen;

	if (http_writing || info->n_added == 0)
		return;
	frozen = evbuffer_copyout(buf, &one, 1) == -1;
	if (frozen)
		evbuffer_unfreeze(buf, 1);
	http_refusal(buf, info, arg);
	if (frozen)
		evbuffer_freeze(buf, 1);
}

/* The plain listener's connections: what evhttp would make, watched. */
static struct bufferevent *
http_plain_bevcb(struct event_base *base, void *arg)
{
	struct bufferevent	*bev;

	if ((bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) ==
	    NULL)
		return (NULL);	/* evhttp makes its own */
	if (evbuffer_add_cb(bufferevent_get_output(bev), http_refusal_cb,
	    bev) == NULL) {
		bufferevent_free(bev);
		return (NULL);
	}
	return (http_conn_new(arg, bev, 0, 0));
}

/* The TLS listener's: tls.c's filter, watched. */
static struct bufferevent *
http_tls_bevcb(struct event_base *base, void *arg)
{
	struct server		*srv = arg;
	struct bufferevent	*bev;

	if ((bev = tls_server_bevcb(base, srv->tls)) != NULL) {
		if (evbuffer_add_cb(bufferevent_get_output(bev),
		    http_refusal_cb, bev) != NULL)
			return (http_conn_new(srv, bev, 1, 0));
		bufferevent_free(bev);
	}
	/* No memory for TLS: evhttp must not speak cleartext here, so a
	 * plain bufferevent whose record closes it as it attaches (and if
	 * even that fails, http_tls_cleartext shuts any request out). */
	if ((bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) ==
	    NULL)
		return (NULL);
	return (http_conn_new(srv, bev, 1, 1));
}

/* Parse "ADDR:PORT" or "[V6]:PORT". */
static int
http_parse_listen(const char *s, char *addr, size_t addrlen, int *port,
    char **cause)
{
	const char	*colon, *errstr;
	size_t		 alen;

	if (*s == '[') {
		if ((colon = strstr(s, "]:")) == NULL)
			goto bad;
		alen = (size_t)(colon - s - 1);
		if (alen >= addrlen)
			goto bad;
		memcpy(addr, s + 1, alen);
		colon++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			goto bad;
		alen = (size_t)(colon - s);
		if (alen >= addrlen)
			goto bad;
		memcpy(addr, s, alen);
	}
	addr[alen] = '\0';
	*port = (int)util_strtonum(colon + 1, 0, 65535, &errstr);
	if (errstr != NULL || alen == 0)
		goto bad;
	return (0);
bad:
	xasprintf(cause, "listen address must be ADDR:PORT or 'off', not "
	    "'%s'", s);
	return (-1);
}

int
http_listen_check(const char *spec, char **cause)
{
	char	addr[256];
	int	port;

	if (strcmp(spec, "off") == 0)
		return (0);
	return (http_parse_listen(spec, addr, sizeof addr, &port, cause));
}

static struct evhttp *
http_listen(struct server *srv, const char *spec, int tls, char **cause)
{
	struct settings			*s = srv->settings;
	struct evhttp			*h;
	struct evhttp_bound_socket	*bound;
	struct sockaddr_storage		 ss;
	socklen_t			 sslen = sizeof ss;
	char				 addr[256], host[INET6_ADDRSTRLEN];
	int				 port, one = 1;
	evutil_socket_t			 fd;

	if (http_parse_listen(spec, addr, sizeof addr, &port, cause) == -1)
		return (NULL);
	if ((h = evhttp_new(srv->base)) == NULL) {
		xasprintf(cause, "evhttp_new failed");
		return (NULL);
	}
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_max_body_size(h, (ev_ssize_t)s->max_body);
	evhttp_set_max_headers_size(h, (ev_ssize_t)s->max_headers);
	evhttp_set_timeout(h, (int)s->idle_timeout);
	evhttp_set_default_content_type(h, NULL);
	evhttp_set_flags(h, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_gencb(h, tls ? http_gencb_tls : http_gencb, srv);
	if (tls)
		evhttp_set_bevcb(h, http_tls_bevcb, srv);
	else
		evhttp_set_bevcb(h, http_plain_bevcb, srv);
	if ((bound = evhttp_bind_socket_with_handle(h, addr, (ev_uint16_t)port))
	    == NULL) {
		xasprintf(cause, "cannot listen on %s: %s", spec,
		    strerror(errno));
		evhttp_free(h);
		return (NULL);
	}
	fd = evhttp_bound_socket_get_fd(bound);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	http_accept_watch(srv, bound, tls);
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
			port = ntohs(sin6->sin6_port);
			log_info("listening on %s://[%s]:%d", tls ? "https" :
			    "http", host, port);
		} else {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
			port = ntohs(sin->sin_port);
			log_info("listening on %s://%s:%d", tls ? "https" :
			    "http", host, port);
		}
	}
	return (h);
}

int
http_start(struct server *srv, void (*app)(struct req *, int reserve),
    char **cause)
{
	struct settings	*s = srv->settings;
	const char	*delay, *errstr;

	http_app = app;
	if ((delay = getenv("NOTIMOCK_TEST_DELAY_MS")) != NULL) {
		http_test_delay_us = (long)util_strtonum(delay, 0, 60000,
		    &errstr) * 1000;
		if (errstr == NULL && http_test_delay_us > 0)
			log_warnx("NOTIMOCK_TEST_DELAY_MS=%s: every /mock/ "
			    "request is slowed down (for tests only)", delay);
	}
	if (strcmp(s->listen, "off") != 0 &&
	    (srv->http = http_listen(srv, s->listen, 0, cause)) == NULL)
		return (-1);
	if (strcmp(s->tls_listen, "off") != 0 &&
	    (srv->https = http_listen(srv, s->tls_listen, 1, cause)) == NULL)
		return (-1);
	if (srv->http == NULL && srv->https == NULL) {
		xasprintf(cause, "both --listen and --tls-listen are off");
		return (-1);
	}
	http_conn_limits(srv, http_raise_nofile());
	return (0);
}

/* Close the listeners (after server_stop has released every reply). */
void
http_stop(struct server *srv)
{
	http_accept_unwatch();
	if (srv->http != NULL)
		evhttp_free(srv->http);
	if (srv->https != NULL)
		evhttp_free(srv->https);
}

/* --- long-lived replies: long-polls and event streams (mock.c) --- */


static void
http_req_free(struct req *r)
{
	evbuffer_free(r->out);
	free(r->target_redacted);
	free(r->path);
	free(r->origin);
	free(r->error_url);
	free(r->note);
	free(r->fault);
	if (r->hold != NULL)
		event_free(r->hold);
	free(r);
}

static void
http_log_long(struct req *r, const char *how)
{
	struct http_logx	x;
	double			ms;

	/* A stream's start is not the end of its request. */
	if (strcmp(how, "stream started") != 0)
		server_reply_done(r->srv, r->route, r->status,
		    util_mono_us() - r->start_us);
	if (!log_enabled(LOG_LVL_INFO))
		return;
	ms = (double)(util_mono_us() - r->start_us) / 1000.0;
	http_log_fields(r, r->status, 0, ms, how, &x);
	log_info_fields(x.f, x.n, "%s %s %s %d %.3fms %s", r->remote,
	    r->method, x.path, r->status, ms, how);
}

/* The request URI for the access log: escaped, secrets redacted. */
static char *
http_log_uri(const struct req *r, char *buf, size_t len)
{
	const char	*uri = http_target_redacted(r);

	return (log_escape(buf, len, uri, strlen(uri)));
}

/*
 * evhttp calls a connection's close callback before it frees the
 * connection.  When the client went away (or timed out) before the reply
 * was complete, evhttp has already detached the request from the
 * connection, and the request is ours to free; when the whole listener is
 * being freed, the connection still holds the request and frees it itself.
 */
static void
http_closecb(struct req *r)
{
	void		(*cb)(struct req *, void *) = r->closecb;

	r->closecb = NULL;
	if (r->closewatch != NULL) {
		event_free(r->closewatch);
		r->closewatch = NULL;
	}
	if (r->status == 0)
		r->status = 499;	/* nginx's "client closed request" */
	http_log_long(r, r->cut_how != NULL ? r->cut_how : "client went away");
	if (cb != NULL)
		cb(r, r->closearg);
	if (evhttp_request_get_connection(r->evreq) == NULL)
		evhttp_request_free(r->evreq);
	http_req_free(r);
}

/* Stop watching for the client's departure before the reply goes out. */
static void
http_close_cancel(struct req *r)
{
	if (r->closecb == NULL)
		return;
	r->closecb = NULL;
	r->closearg = NULL;
	if (r->closewatch != NULL) {
		event_free(r->closewatch);
		r->closewatch = NULL;
	}
	if (r->conn != NULL && r->conn->watch == r)
		r->conn->watch = NULL;
}

/*
 * While a request waits, evhttp does not read from its connection (data
 * arriving then would even be fatal: evhttp_read_cb() aborts in the
 * writing state), so it cannot see the client leave.  We peek at the
 * socket instead: on EOF or a reset we hand evhttp the EOF it would have
 * seen, and its usual teardown runs (and calls http_closecb).  Pipelined
 * bytes end the watch; evhttp reads them after the reply.  On TLS the
 * bytes are records: an alert (close_notify, or a fatal one) means the
 * client is leaving, anything else ends the watch.
 */
static void
http_peek_cb(evutil_socket_t fd, short what, void *arg)
{
	struct req			*r = arg;
	struct evhttp_connection	*evcon;
	unsigned char			 b;
	ssize_t				 n;

	n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if ((n == 1 && !(r->tls && b == 0x15)) ||
	    (n == 0 && r->close_fin_stays)) {
		event_del(r->closewatch);
		return;
	}
	if ((evcon = evhttp_request_get_connection(r->evreq)) != NULL)
		bufferevent_trigger_event(evhttp_connection_get_bufferevent(
		    evcon), BEV_EVENT_READING | BEV_EVENT_EOF, 0);
}

void
http_on_close_cancel(struct req *r)
{
	http_close_cancel(r);
}

void
http_on_close(struct req *r, void (*cb)(struct req *, void *), void *arg)
{
	struct evhttp_connection	*evcon;
	evutil_socket_t			 fd;

	/* The record watches the close (http_conn_closecb). */
	if ((evcon = evhttp_request_get_connection(r->evreq)) == NULL ||
	    r->conn == NULL)
		return;
	r->closecb = cb;
	r->closearg = arg;
	r->close_fin_stays = 0;
	r->conn->watch = r;
	fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	if (fd != -1) {
		r->closewatch = event_new(r->srv->base, fd, EV_READ |
		    EV_PERSIST, http_peek_cb, r);
		event_add(r->closewatch, NULL);
	}
}

void
http_on_abort(struct req *r, void (*cb)(struct req *, void *), void *arg)
{
	http_on_close(r, cb, arg);
	r->close_fin_stays = 1;
}

/*
 * evhttp keeps reading (for close detection) while it writes, with the
 * read timeout (--idle-timeout) restarted by every write: a stream whose
 * heartbeat is longer than the idle timeout was cut between two beats.
 * While streaming, only the write timeout applies (a client that stops
 * reading), and http_on_close's watch sees a client leave.
 */
static void
http_stream_timeouts(struct req *r, int streaming)
{
	struct evhttp_connection	*evcon;
	struct timeval			 tv;

	if ((evcon = evhttp_request_get_connection(r->evreq)) == NULL)
		return;
	tv.tv_sec = (time_t)r->srv->settings->idle_timeout;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(evcon),
	    streaming ? NULL : &tv, &tv);
}

/*
 * libevent writes at most 16 KiB per write(2) on a bufferevent by default,
 * and one write per loop iteration: a stream's flush (mock_watch.c, tens
 * of KiB for a busy server) took several writes, each a full trip through
 * loopback TCP and a wake-up of the reader, and streams fell behind (issue
 * 15: with 1,000 readers the writes were 104 per POST, now ~16).  A stream
 * writes what it holds in one go, up to what the socket takes.  On TLS the
 * filter's socket below gets the same.
 */
#define HTTP_STREAM_WRITE_MAX	(1024 * 1024)

static void
http_stream_write_max(struct req *r)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev, *under;

	if ((evcon = evhttp_request_get_connection(r->evreq)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL)
		return;
	bufferevent_set_max_single_write(bev, HTTP_STREAM_WRITE_MAX);
	if ((under = bufferevent_get_underlying(bev)) != NULL)
		bufferevent_set_max_single_write(under, HTTP_STREAM_WRITE_MAX);
}

void
http_stream_start(struct req *r, const char *ctype)
{
	struct evkeyvalq	*oh = evhttp_request_get_output_headers(r->evreq);

	r->status = 200;
	r->ctype = ctype;
	r->streaming = 1;
	evhttp_add_header(oh, "Content-Type", ctype);
	evhttp_add_header(oh, "Cache-Control", "no-cache");
	/* Proxies (nginx) would otherwise hold events back. */
	evhttp_add_header(oh, "X-Accel-Buffering", "no");
	http_writing = 1;
	evhttp_send_reply_start(r->evreq, 200, http_reason(200));
	http_writing = 0;
	http_stream_timeouts(r, 1);
	http_stream_write_max(r);
	http_log_long(r, "stream started");
}

/* Has the client left more than --stream-buffer unread?  A client that
 * does not read must not make us buffer forever. */
static int
http_stream_full(struct req *r)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;

	return ((evcon = evhttp_request_get_connection(r->evreq)) != NULL &&
	    (bev = evhttp_connection_get_bufferevent(evcon)) != NULL &&
	    evbuffer_get_length(bufferevent_get_output(bev)) >
	    (size_t)r->srv->settings->stream_buffer);
}

/* Send what r->out holds as one chunk. */
static void
http_stream_flush(struct req *r)
{
	http_writing = 1;
	evhttp_send_reply_chunk(r->evreq, r->out);
	http_writing = 0;
	/* evhttp moves what it can; keep nothing around either way. */
	evbuffer_drain(r->out, evbuffer_get_length(r->out));
}

int
http_stream_write(struct req *r, const void *buf, size_t len)
{
	if (http_stream_full(r))
		return (-1);
	evbuffer_add(r->out, buf, len);
	http_stream_flush(r);
	return (0);
}

int
http_stream_write_ref(struct req *r, const void *buf, size_t len,
    void (*unref)(const void *, size_t, void *), void *arg)
{
	if (http_stream_full(r))
		return (-1);
	if (evbuffer_add_reference(r->out, buf, len, unref, arg) == -1) {
		unref(buf, len, arg);
		return (0);	/* as if sent: the stream goes on */
	}
	http_stream_flush(r);
	return (0);
}

/* The last words of a stream, past the backlog limit (a few hundred bytes
 * more than a reader that does not read already has). */
void
http_stream_write_last(struct req *r, const void *buf, size_t len)
{
	evbuffer_add(r->out, buf, len);
	http_stream_flush(r);
}

void
http_stream_end(struct req *r)
{
	http_stream_timeouts(r, 0);
	http_close_cancel(r);
	if (r->conn != NULL)
		r->conn->busy = 0;
	http_writing = 1;
	evhttp_send_reply_end(r->evreq);
	http_writing = 0;
	http_log_long(r, "stream ended");
	http_req_free(r);
}
