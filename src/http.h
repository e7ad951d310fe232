/*
 * http.h: the HTTP server around evhttp: listeners, the route table, the
 * request object every handler receives, and the one way out of a request.
 *
 * A handler gets a struct req and must end it with exactly one call of
 * http_send(), http_error() or http_empty() (now or later).  Replies of
 * requests marked durable wait for the iteration's database commit, which
 * the server core owns (server.h): this file is the evhttp adapter.
 */
#ifndef NOTIMOCK_HTTP_H
#define NOTIMOCK_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "server.h"	/* struct server: handlers reach it as r->srv */

struct evbuffer;
struct event;
struct evhttp_request;
struct http_conn;
struct json;

/* The request methods, as bits of our own: route tables (route.h) OR
 * them together, and handlers need no <event2/http.h> to compare. */
#define HTTP_GET	0x001
#define HTTP_HEAD	0x002
#define HTTP_POST	0x004
#define HTTP_PUT	0x008
#define HTTP_DELETE	0x010
#define HTTP_OPTIONS	0x020
#define HTTP_PATCH	0x040
#define HTTP_TRACE	0x080
#define HTTP_CONNECT	0x100

#define HTTP_CUT_DROP	1	/* close the connection */
#define HTTP_CUT_RESET	2	/* close it with a TCP RST */

/*
 * One request, from http_dispatch to its way out.
 *
 * Its address, four ways, each for one use:
 *   target	the request-target as the client sent it (path and query,
 *		still percent-encoded): what Backstage echoes and what
 *		diagnoses inspect; may hold a secret
 *   path	target's path, percent-decoded, without the query: what the
 *		route tables match
 *   query	target's raw query (after '?', still encoded), or NULL: what
 *		http_query_parse() splits
 *   http_target_redacted(r)
 *		target with secret query values replaced: the only form
 *		that may be logged or stored
 * and, set by a handler, error_url: the request.url its error bodies give
 * (Backstage's is relative to the plugin's mount).
 */
struct req {
	struct server		*srv;
	struct evhttp_request	*evreq;		/* evhttp's request (http.c) */
	unsigned int		 verb;		/* the method: one HTTP_* bit */
	const char		*method;	/* its name, "POST" */
	const char		*target;	/* as sent: path and query */
	char			*target_redacted; /* http_target_redacted()'s
						   copy, or NULL if target
						   holds no secret */
	char			*path;		/* decoded path, no query */
	const char		*query;		/* raw query after '?', or NULL */
	char			 remote[64];	/* "addr:port" */
	int			 tls;
	int64_t			 start_us;	/* monotonic */
	int64_t			 received;	/* epoch ms */
	int			 durable;	/* reply after the commit */
	int			 backstage;	/* add Backstage's headers */
	/* Filled by the handler through http_send/http_error. */
	int			 status;
	const char		*ctype;
	struct evbuffer		*out;
	char			*origin;	/* for the access log */
	char			*error_url;	/* request.url of error bodies,
						   if not target (see above) */
	char			*note;		/* diagnosis codes for the log line */
	size_t			 len;		/* of the reply body, for the log */
	int			 gone;		/* the client left first */
	const char		*route;		/* the route table's path, or
						   "other" (metrics label) */
	int64_t			 seq;		/* the delivery stored, or 0 */
	/* Set by a fault rule (fault.c) that answered the request: */
	char			*fault;		/* its JSON, as stored */
	int64_t			 hold_ms;	/* hold the reply this long */
	int			 cut;		/* HTTP_CUT_*: no reply at all */
	const char		*cut_how;	/* for the log (static) */
	struct event		*hold;
	void			(*held_gone)(struct req *); /* the client
						   left during the hold */
	struct server_reply	 wait;		/* for the commit (server.c) */
	/* Long-lived replies (http_on_close, http_stream_*). */
	void			(*closecb)(struct req *, void *);
	void			*closearg;
	struct event		*closewatch;	/* peeks for the client's EOF */
	int			 close_fin_stays; /* http_on_abort's watch */
	int			 streaming;
	struct http_conn	*conn;		/* its connection (http.c) */
};

/* The connections' counters (for status pages and metrics). */
struct http_conn_stats {
	unsigned int		 open;		/* now */
	unsigned int		 max;		/* --max-connections, clamped */
	unsigned int		 per_client;	/* its per-client bound */
	unsigned long long	 accepted;
	unsigned long long	 reserve;	/* over max: health only */
	unsigned long long	 refused;	/* over max and the reserve */
	unsigned long long	 refused_client; /* over the per-client bound */
	unsigned long long	 cut;		/* request deadline passed */
};
void		 http_conn_stats(struct http_conn_stats *);

/* Set up the listeners from settings; every parsed request goes to app
 * (dispatch.c's dispatch()), reserve set when its connection is over
 * --max-connections.  Returns -1 and *cause. */
int		 http_start(struct server *, void (*app)(struct req *,
		    int reserve), char **cause);
void		 http_stop(struct server *);

/* A query parameter, percent-decoded ('+' is a space). */
struct http_param {
	char	*name;
	char	*value;
};

/* Split a raw query (after '?'; NULL is empty) into decoded pairs, in
 * order; "a" alone has the value "".  A component that does not decode,
 * or decodes to a NUL byte, is kept as written unless strict, where it
 * makes the call return -1.  The caller frees *vp with http_params_free. */
int		 http_query_parse(const char *q, int strict,
		    struct http_param **vp, size_t *np);
void		 http_params_free(struct http_param *, size_t);

/* Request accessors. */
const char	*http_header(const struct req *, const char *name);
/* The request body, contiguous (borrowed from evhttp). */
const unsigned char *http_body(const struct req *, size_t *len);
/* The request headers as a JSON array of [name, value]; Authorization is
 * reduced with auth_redact(), and any other credential header (Cookie,
 * Proxy-Authorization, X-Api-Key, a name with token, secret, password,
 * key, auth or session in it) becomes "<redacted sha256:...>".  Caller
 * frees.  fp, if not NULL, is the fingerprint auth_check() already took
 * of the first Authorization header's bearer token (one hash per request). */
char		*http_headers_json(const struct req *, const char *fp);
/* The request URI with the value of every secret query parameter
 * (access_token, token, api_key, apikey: names compared decoded and
 * without case) replaced by REDACTED: what the access log, error bodies
 * and the store may show.  Borrowed; lives as long as the request. */
const char	*http_target_redacted(const struct req *);

/* The ways out.  http_send takes body bytes (copied); http_send_buf takes
 * ownership of an evbuffer's contents.  ctype NULL sends none. */
void		 http_send(struct req *, int status, const char *ctype,
		    const void *body, size_t len);
void		 http_send_json(struct req *, int status, const struct json *);
/* Backstage's error body:
 * {"error":{"name":..,"message":..[,"cause":..]},"request":{"method":..,
 * "url":..},"response":{"statusCode":..}}; cause (a JSON object) may be
 * NULL.  url is relative to the plugin mount for Backstage routes; NULL
 * means r->error_url if set, else http_target_redacted(r). */
char		*http_error_body(const struct req *, int status, const char *name,
		    const char *message, const struct json *cause,
		    const char *url, size_t *lenp);
void		 http_error(struct req *, int status, const char *name,
		    const char *message);
/* Backstage's empty 404 (no body, no Content-Type). */
void		 http_empty(struct req *, int status);

/* Add a response header (before the way out). */
void		 http_add_header(struct req *, const char *name, const char *value);

/*
 * Long-lived replies (the assertion API's long-polls and event streams).
 * http_on_close: if the client goes away before the reply ends, call cb
 * once; r is freed when cb returns, and must not be answered.  A reply
 * (any way out, or http_stream_end) cancels cb.  A streamed reply starts
 * with http_stream_start (status 200, headers now), goes on with
 * http_stream_write, and ends with http_stream_end, which frees r.
 */
void		 http_on_close(struct req *, void (*cb)(struct req *, void *),
		    void *arg);
/* As http_on_close, for a request that must still be answered to a client
 * that only shut down its sending side (Node keeps half-open sockets): a
 * FIN alone ends the watch, as pipelined bytes do; a reset or a TLS alert
 * calls cb.  A client that did leave is then written to, as on the loop
 * (the record stored, the log saying it went away). */
void		 http_on_abort(struct req *, void (*cb)(struct req *, void *),
		    void *arg);
/* Stop watching (a parked request that now runs: dispatch.c). */
void		 http_on_close_cancel(struct req *);
void		 http_stream_start(struct req *, const char *ctype);
/* Returns -1 (nothing written) if the client has left more than a few
 * MB unread: the caller should end the stream. */
int		 http_stream_write(struct req *, const void *, size_t);
/* The same without a copy, for bytes many streams send: buf stays the
 * caller's until unref(buf, len, arg) is called, once, when the bytes have
 * left (or the connection is gone).  On -1 no reference is kept. */
int		 http_stream_write_ref(struct req *, const void *, size_t,
		    void (*unref)(const void *, size_t, void *), void *arg);
/* Write even past the backlog limit: a last event before the end. */
void		 http_stream_write_last(struct req *, const void *, size_t);
void		 http_stream_end(struct req *);
/* Is spec an address --listen takes ("ADDR:PORT", "[V6]:PORT", "off")?
 * For -n, which checks what start would.  -1 with *cause if not. */
int		 http_listen_check(const char *spec, char **cause);

#endif
