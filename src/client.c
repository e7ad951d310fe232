/*
 * client.c: `notimock wait | list | reset | cursor`, the assertion API
 * (doc/mock-api.md) as commands for test scripts; `notimock ready`, the
 * health check a scratch image runs; `notimock ca`, the running server's CA.
 *
 * One request per run (two for --since now) on libevent's HTTP client; for
 * an https URL the connection runs over tls.c's client filter.  The server
 * validates the filters, so its 400 messages reach the user unchanged.
 * Text from the server is escaped before it reaches the terminal.
 */
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>

#include "client.h"
#include "codec.h"
#include "config.h"
#include "crypto.h"
#include "diag.h"
#include "json.h"
#include "log.h"
#include "settings.h"
#include "tls.h"
#include "util.h"
#include "xmalloc.h"

#define CLIENT_DEFAULT_URL	"http://127.0.0.1:7007"
#define CLIENT_TIMEOUT		30	/* s, for everything but wait */
#define CLIENT_WAIT_SLACK	10	/* s beyond the server's wait timeout */
#define CLIENT_CELL		200	/* bytes of one table cell at most */
#define CLIENT_READY_TIMEOUT	5000	/* ms: a health check answers fast */

#define EXIT_OK		0
#define EXIT_TIMEOUT	1
#define EXIT_ERROR	2

enum client_cmd { C_WAIT, C_LIST, C_RESET, C_CURSOR, C_READY, C_CA, C_FAULT,
    C_FINGERPRINT, C_NCMDS };

/* Options, and which commands take them. */
enum {
	O_URL = 256, O_CACERT, O_TOKEN, O_ENTITY, O_TOPIC, O_SEVERITY,
	O_ORIGIN, O_STATUS, O_Q, O_SINCE, O_COUNT, O_TIMEOUT, O_JSON, O_LIMIT,
	O_OFFSET, O_KEEP, O_REACHED, O_CLEAN, O_HELP, O_RETRY, O_F_TIMES, O_F_DELAY,
	O_F_DROP, O_F_RESET, O_F_RETRY_AFTER, O_F_PATH, O_F_METHOD, O_F_TITLE,
	O_F_FOR
};

/* Which commands an option is for: one bit per enum client_cmd. */
#define ON_WAIT		(1 << C_WAIT)
#define ON_LIST		(1 << C_LIST)
#define ON_RESET	(1 << C_RESET)
#define ON_CURSOR	(1 << C_CURSOR)
#define ON_READY	(1 << C_READY)
#define ON_CA		(1 << C_CA)
#define ON_FAULT	(1 << C_FAULT)
#define ON_FINGERPRINT	(1 << C_FINGERPRINT)
#define ON_EVERY	((1 << C_NCMDS) - 1)
#define FILTERS		(ON_WAIT | ON_LIST | ON_RESET)

static const struct client_opt {
	struct option	 lo;
	int		 cmds;
} client_opts[] = {
	{ { "url", required_argument, NULL, O_URL }, ON_EVERY },
	{ { "cacert", required_argument, NULL, O_CACERT }, ON_EVERY },
	{ { "admin-token", required_argument, NULL, O_TOKEN },
	    ON_EVERY & ~ON_READY },
	{ { "entity", required_argument, NULL, O_ENTITY }, FILTERS | ON_FAULT },
	{ { "topic", required_argument, NULL, O_TOPIC }, FILTERS | ON_FAULT },
	{ { "severity", required_argument, NULL, O_SEVERITY }, FILTERS },
	{ { "origin", required_argument, NULL, O_ORIGIN },
	    FILTERS | ON_FAULT },
	{ { "status", required_argument, NULL, O_STATUS },
	    FILTERS | ON_FAULT },
	{ { "retry", required_argument, NULL, O_RETRY }, FILTERS },
	{ { "q", required_argument, NULL, O_Q }, FILTERS },
	{ { "since", required_argument, NULL, O_SINCE }, FILTERS },
	{ { "reached", no_argument, NULL, O_REACHED }, FILTERS },
	{ { "clean", no_argument, NULL, O_CLEAN }, FILTERS },
	{ { "count", required_argument, NULL, O_COUNT }, ON_WAIT },
	{ { "timeout", required_argument, NULL, O_TIMEOUT },
	    ON_WAIT | ON_READY },
	{ { "json", no_argument, NULL, O_JSON },
	    ON_WAIT | ON_LIST | ON_RESET | ON_CURSOR | ON_FAULT },
	{ { "limit", required_argument, NULL, O_LIMIT }, ON_LIST },
	{ { "offset", required_argument, NULL, O_OFFSET }, ON_LIST },
	{ { "keep-notifications", no_argument, NULL, O_KEEP }, ON_RESET },
	{ { "help", no_argument, NULL, O_HELP }, ON_EVERY },
	/* fault add: the keys of a fault rule (fault.c), sent as JSON. */
	{ { "times", required_argument, NULL, O_F_TIMES }, ON_FAULT },
	{ { "delay", required_argument, NULL, O_F_DELAY }, ON_FAULT },
	{ { "drop", no_argument, NULL, O_F_DROP }, ON_FAULT },
	{ { "reset", no_argument, NULL, O_F_RESET }, ON_FAULT },
	{ { "retry-after", required_argument, NULL, O_F_RETRY_AFTER },
	    ON_FAULT },
	{ { "path", required_argument, NULL, O_F_PATH }, ON_FAULT },
	{ { "method", required_argument, NULL, O_F_METHOD }, ON_FAULT },
	{ { "title", required_argument, NULL, O_F_TITLE }, ON_FAULT },
	{ { "for", required_argument, NULL, O_F_FOR }, ON_FAULT },
};
#define CLIENT_NOPTS (sizeof client_opts / sizeof client_opts[0])

/*
 * Each command's name, its usage (also printed on a usage error) and what
 * -h adds to it, indexed by enum client_cmd so that a command without an
 * entry is a NULL here, never a read past the end of a shorter list.
 */
static const struct client_text {
	const char	*name;
	const char	*usage;
	const char	*help;		/* NULL: nothing more */
} client_texts[C_NCMDS] = {
	[C_WAIT] = { "wait",
	    "usage: notimock wait [--url URL] [--cacert FILE] [--admin-token TOKEN]\n"
	    "           [--entity REF]... [--topic T] [--severity S] [--origin O]\n"
	    "           [--status accepted|rejected|CODE] [--q TEXT] [--reached]\n"
	    "           [--clean] [--retry yes|no] [--since SEQ|now] [--count N]\n"
	    "           [--timeout DURATION] [--json]\n"
	    "  --reached: the send stored a notification for someone (an accepted\n"
	    "             entity send that resolved to nobody does not count)\n"
	    "  --clean:   no warning or error diagnosis (e.g. no-recipients)\n"
	    "  --retry:   yes: only retries of an earlier attempt; no: none\n",
	    "\n"
	    "Waits until --count deliveries (default 1) match every filter given.\n"
	    "Without --since, deliveries already stored match too: to see only\n"
	    "what an action sends, pass --since now (or the number `notimock\n"
	    "cursor` printed before the action).  Sequence numbers never repeat\n"
	    "on a database, reset and restart included, so a --since taken from\n"
	    "another database may be ahead of this one's cursor: the time-out\n"
	    "says so.  Exit status: 0 matched, 1 timed out, 2 error.\n" },
	[C_LIST] = { "list",
	    "usage: notimock list [--url URL] [--cacert FILE] [--admin-token TOKEN]\n"
	    "           [filters as for wait] [--limit N] [--offset N] [--json]\n",
	    NULL },
	[C_RESET] = { "reset",
	    "usage: notimock reset [--url URL] [--cacert FILE] [--admin-token TOKEN]\n"
	    "           [filters as for wait] [--keep-notifications] [--json]\n",
	    NULL },
	[C_CURSOR] = { "cursor",
	    "usage: notimock cursor [--url URL] [--cacert FILE] [--admin-token TOKEN]\n"
	    "           [--json]\n",
	    NULL },
	[C_READY] = { "ready",
	    "usage: notimock ready [--url URL] [--cacert FILE] [--timeout DURATION]\n"
	    "Exit 0 when /.backstage/health/v1/readiness answers 200 {\"status\":\"ok\"},\n"
	    "1 when it answers otherwise, 2 on a usage or connection error.  Without\n"
	    "--url or NOTIMOCK_URL, the URL comes from the server's own settings\n"
	    "(NOTIMOCK_LISTEN, or NOTIMOCK_TLS_LISTEN when that is off; 0.0.0.0 and\n"
	    ":: mean loopback).  Default timeout 5s.\n",
	    NULL },
	[C_CA] = { "ca",
	    "usage: notimock ca [--url URL] [--cacert FILE] [--admin-token TOKEN]\n"
	    "       notimock ca create [--out DIR] [--secret [--name NAME]\n"
	    "           [--namespace NS]]\n"
	    "Print the CA certificate of the running server (GET /mock/ca.pem at\n"
	    "--url, NOTIMOCK_URL or http://127.0.0.1:7007); it never reads or writes\n"
	    "the server's files.  'ca create' makes new CA material (see ca create -h).\n",
	    NULL },
	[C_FAULT] = { "fault",
	    "usage: notimock fault add [--status CODE[,CODE...]] [--times N]\n"
	    "           [--delay DURATION] [--drop] [--reset] [--retry-after SECONDS]\n"
	    "           [--entity REF] [--topic TOPIC] [--origin SUBJECT] [--path PREFIX]\n"
	    "           [--method M] [--title TEXT] [--for DURATION] [connection options]\n"
	    "       notimock fault list [connection options] [--json]\n"
	    "       notimock fault clear [ID] [connection options] [--json]\n"
	    "connection options: [--url URL] [--cacert FILE] [--admin-token TOKEN]\n",
	    NULL },
	[C_FINGERPRINT] = { "fingerprint",
	    "usage: notimock fingerprint [--url URL] [--cacert FILE] "
	    "[--admin-token TOKEN]\n"
	    "           < token\n"
	    "Print the fingerprint (hmac:...) of the token on stdin, in the keyed\n"
	    "form the server at --url logs, stores and diagnoses with.  One trailing\n"
	    "newline is not part of the token (echo's); the rest is, as sent.\n",
	    NULL },
};

struct client {
	enum client_cmd	 cmd;
	const char	*name;
	const char	*url;
	char		*url_owned;	/* a URL derived by ready */
	const char	*cacert;
	char		*cacert_owned;
	const char	*token;
	int		 json;
	int		 since_now;
	int64_t		 timeout_ms;	/* wait's, for our own timeout */
	int		 url_given;	/* --url or NOTIMOCK_URL */
	struct evbuffer	*query;		/* "&name=value..." */
	struct json	*rule;		/* fault add: the rule, as JSON */
	const char	*operand;	/* fault clear: the rule id */
	const char	*post;		/* a JSON body to send, or NULL */
	/* From the URL. */
	struct evhttp_uri *uri;
	const char	*host;
	int		 port;
	int		 https;
	char		*prefix;	/* the URL's path, no trailing '/' */
	/* For other commands (client_post_json, client_tls_verifies). */
	const char	*post_body;	/* JSON to POST */
	const char	*tls_host;	/* the name to verify, if not host */
	int		 tls_probe;	/* untrusted: -2 and tls_why, quietly */
	char		 tls_why[256];
};

struct client_reply {
	struct event_base	*base;
	int			 status;	/* 0: no answer */
	struct evbuffer		*body;
	int			 error;		/* EVREQ_HTTP_*, or -1 */
};

static void
client_warnx(const struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
client_warnx(const struct client *c, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "notimock %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
client_usage(const struct client *c)
{
	fputs(client_texts[c->cmd].usage, stderr);
	return (EXIT_ERROR);
}

/* --- terminal output ------------------------------------------------- */

/* Text from the server made safe for a terminal (log_escape_term, the one
 * escape for everything the command line prints); NULL prints as "". */
static char *
client_escape(const char *s, char *buf, size_t len)
{
	if (s == NULL)
		s = "";
	return (log_escape_term(buf, len, s, strlen(s)));
}

/* Columns a string takes, counting code points. */
static size_t
client_width(const char *s)
{
	size_t	w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return (w);
}

static const char *
client_str(const struct json *o, const char *key)
{
	const char	*s = json_string(json_get(o, key));

	return (s != NULL ? s : "-");
}

/* "a,b" from an array of strings. */
static char *
client_join(const struct json *arr)
{
	struct json	*e;
	char		*out = xstrdup(""), *tmp;

	for (e = json_first(arr); e != NULL; e = json_next(e)) {
		if (json_string(e) == NULL)
			continue;
		xasprintf(&tmp, "%s%s%s", out, *out ? "," : "", json_string(e));
		free(out);
		out = tmp;
	}
	return (out);
}

#define CLIENT_COLS 9

/* A table of deliveries (summaries or full) for people. */
static void
client_table(FILE *f, const struct json *arr)
{
	static const char	*head[CLIENT_COLS] = { "SEQ", "RECEIVED",
	    "STATUS", "ATTEMPT", "ORIGIN", "SEVERITY", "TOPIC", "ENTITIES",
	    "TITLE" };
	const struct json	*fault;
	const struct json	*d;
	char			*(*rows)[CLIENT_COLS], buf[CLIENT_CELL], *ents;
	size_t			 n = json_size(arr), i = 0, j, k, w[CLIENT_COLS];

	if (n == 0)
		return;
	rows = xcalloc(n, sizeof *rows);
	for (j = 0; j < CLIENT_COLS; j++)
		w[j] = strlen(head[j]);
	for (d = json_first(arr); d != NULL; d = json_next(d), i++) {
		xasprintf(&rows[i][0], "%.0f", json_number(json_get(d, "seq")));
		rows[i][1] = xstrdup(client_escape(client_str(d, "received"),
		    buf, sizeof buf));
		/* A faulted delivery names its rule: "503 (f1)", and one
		 * that got no answer at all "- (f2 drop)". */
		fault = json_get(d, "fault");
		if (json_type(fault) != JSON_OBJECT)
			xasprintf(&rows[i][2], "%.0f",
			    json_number(json_get(d, "status")));
		else if (json_number(json_get(d, "status")) == 0)
			xasprintf(&rows[i][2], "- (%s %s)", client_escape(
			    client_str(fault, "id"), buf, sizeof buf),
			    client_str(fault, "action"));
		else
			xasprintf(&rows[i][2], "%.0f (%s)",
			    json_number(json_get(d, "status")), client_escape(
			    client_str(fault, "id"), buf, sizeof buf));
		/* "3 of #12": the third attempt of delivery 12. */
		if (json_type(json_get(d, "retryOf")) == JSON_NUMBER)
			xasprintf(&rows[i][3], "%.0f of #%.0f",
			    json_number(json_get(d, "attempt")),
			    json_number(json_get(d, "retryOf")));
		else
			rows[i][3] = xstrdup("1");
		rows[i][4] = xstrdup(client_escape(client_str(d, "origin"), buf,
		    sizeof buf));
		rows[i][5] = xstrdup(client_escape(client_str(d, "severity"),
		    buf, sizeof buf));
		rows[i][6] = xstrdup(client_escape(client_str(d, "topic"), buf,
		    sizeof buf));
		ents = client_join(json_get(d, "entities"));
		rows[i][7] = xstrdup(client_escape(*ents ? ents : "-", buf,
		    sizeof buf));
		free(ents);
		rows[i][8] = xstrdup(client_escape(client_str(d, "title"), buf,
		    sizeof buf));
		for (j = 0; j < CLIENT_COLS; j++)
			if (client_width(rows[i][j]) > w[j])
				w[j] = client_width(rows[i][j]);
	}
	for (j = 0; j < CLIENT_COLS; j++)
		fprintf(f, "%s%-*s", j ? "  " : "", j + 1 < CLIENT_COLS ?
		    (int)w[j] : 0, head[j]);
	fputc('\n', f);
	for (i = 0; i < n; i++) {
		for (j = 0; j < CLIENT_COLS; j++) {
			fprintf(f, "%s%s", j ? "  " : "", rows[i][j]);
			if (j + 1 < CLIENT_COLS)
				for (k = client_width(rows[i][j]); k < w[j]; k++)
					fputc(' ', f);
			free(rows[i][j]);
		}
		fputc('\n', f);
	}
	free(rows);
}

/* --- HTTP ------------------------------------------------------------ */

static void
client_done(struct evhttp_request *req, void *arg)
{
	struct client_reply	*rep = arg;

	if (req != NULL && evhttp_request_get_response_code(req) != 0) {
		rep->status = evhttp_request_get_response_code(req);
		evbuffer_add_buffer(rep->body,
		    evhttp_request_get_input_buffer(req));
	}
	event_base_loopbreak(rep->base);
}

static void
client_failed(enum evhttp_request_error error, void *arg)
{
	struct client_reply	*rep = arg;

	rep->error = (int)error;
}

/* Parse the URL into c.  Returns -1 (message printed) if unusable. */
static int
client_parse_url(struct client *c)
{
	const char	*scheme, *path;
	size_t		 len;

	if ((c->uri = evhttp_uri_parse(c->url)) == NULL ||
	    (scheme = evhttp_uri_get_scheme(c->uri)) == NULL ||
	    (c->host = evhttp_uri_get_host(c->uri)) == NULL ||
	    *c->host == '\0') {
		client_warnx(c, "'%s' is not an http:// or https:// URL",
		    c->url);
		return (-1);
	}
	if (util_strcaseeq(scheme, "https"))
		c->https = 1;
	else if (!util_strcaseeq(scheme, "http")) {
		client_warnx(c, "'%s': only http and https URLs work", c->url);
		return (-1);
	}
	c->port = evhttp_uri_get_port(c->uri);
	if (c->port == -1)
		c->port = c->https ? 443 : 80;
	path = evhttp_uri_get_path(c->uri);
	c->prefix = xstrdup(path != NULL ? path : "");
	len = strlen(c->prefix);
	while (len > 0 && c->prefix[len - 1] == '/')
		c->prefix[--len] = '\0';
	return (0);
}

/*
 * Why no answer came, and what to do, in one line: which URL, and whether
 * the connection was refused, timed out, or the TLS failed.  evhttp
 * reports all of those alike, so a failed plain connect is tried once
 * more by hand to get the system's reason.
 */
static void
client_explain(struct client *c, struct tls_client *tc, int error,
    int64_t timeout_ms)
{
	struct evutil_addrinfo	 hints, *ai = NULL;
	const char		*why = "";
	char			 port[16];
	enum tls_client_failure	 tf = TLS_CLIENT_OK;
	int			 fd, err, rc;

	if (tc != NULL)
		tf = tls_client_error(tc, &why);
	if (tf == TLS_CLIENT_UNTRUSTED) {
		client_warnx(c, "cannot talk to %s: the server's certificate "
		    "is not trusted (%s).  Pass notimock's CA with --cacert "
		    "FILE (`notimock ca --url http://HOST:7007 > ca.pem`, or "
		    "http://HOST:7007/mock/ca.pem)", c->url, why);
		return;
	}
	if (tf == TLS_CLIENT_NOT_TLS) {
		client_warnx(c, "cannot talk to %s: the server does not speak "
		    "TLS on port %d (%s).  Is it a plain HTTP port?  Then use "
		    "http://", c->url, c->port, why);
		return;
	}
	if (error == EVREQ_HTTP_TIMEOUT) {
		client_warnx(c, "%s did not answer within %lld ms", c->url,
		    (long long)timeout_ms);
		return;
	}
	/* Connect by hand: was it the name, the port, or the peer? */
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%d", c->port);
	if ((rc = evutil_getaddrinfo(c->host, port, &hints, &ai)) != 0) {
		client_warnx(c, "cannot talk to %s: cannot resolve %s (%s)",
		    c->url, c->host, evutil_gai_strerror(rc));
		return;
	}
	err = 0;
	if ((fd = socket(ai->ai_family, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, ai->ai_addr, (socklen_t)ai->ai_addrlen) == -1)
		err = errno;
	if (fd != -1)
		close(fd);
	evutil_freeaddrinfo(ai);
	if (err == ECONNREFUSED)
		client_warnx(c, "cannot talk to %s: connection refused: nothing "
		    "listens on %s port %d.  Is notimock running, on that "
		    "port?  Point --url or NOTIMOCK_URL at it", c->url,
		    c->host, c->port);
	else if (err == ETIMEDOUT)
		client_warnx(c, "cannot talk to %s: connecting timed out (a "
		    "wrong address, or a firewall dropping the packets)",
		    c->url);
	else if (err != 0)
		client_warnx(c, "cannot talk to %s: connecting failed: %s",
		    c->url, strerror(err));
	else if (tf != TLS_CLIENT_OK)
		client_warnx(c, "cannot talk to %s: TLS failed: %s", c->url,
		    why);
	else
		client_warnx(c, "cannot talk to %s: the connection closed "
		    "without an answer%s", c->url, c->https ? "" : ".  If "
		    "this is notimock's TLS port, use https:// (and --cacert)");
}

/*
 * One request.  Returns the HTTP status with the body in *body (caller
 * frees, NUL-terminated), or -1 after printing why there is none.
 */
static int
client_request(struct client *c, enum evhttp_cmd_type method,
    const char *route, const char *query, int64_t timeout_ms, char **body,
    size_t *lenp)
{
	struct client_reply		 rep;
	struct tls_client		*tc = NULL;
	struct bufferevent		*bev;
	struct evhttp_connection	*evcon = NULL;
	struct evhttp_request		*req;
	struct evkeyvalq		*h;
	char				*target, *hostport, *auth, *cause = NULL;
	struct timeval			 tv;
	int				 rv = -1;

	*body = NULL;
	memset(&rep, 0, sizeof rep);
	rep.error = -1;
	if ((rep.base = event_base_new()) == NULL) {
		client_warnx(c, "event_base_new failed");
		return (-1);
	}
	rep.body = evbuffer_new();
	if (c->https) {
		if ((tc = tls_client_new(c->cacert, &cause)) == NULL) {
			client_warnx(c, "%s", cause);
			free(cause);
			goto out;
		}
		/* evhttp would make a plain one in place of NULL. */
		if ((bev = tls_client_bev(tc, rep.base, c->tls_host != NULL ?
		    c->tls_host : c->host)) == NULL)
			evcon = NULL;
		else
			evcon = evhttp_connection_base_bufferevent_new(
			    rep.base, NULL, bev, c->host,
			    (unsigned short)c->port);
	} else
		evcon = evhttp_connection_base_new(rep.base, NULL, c->host,
		    (unsigned short)c->port);
	if (evcon == NULL) {
		client_warnx(c, "cannot set up a connection to %s", c->url);
		goto out;
	}
	tv.tv_sec = (time_t)(timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(timeout_ms % 1000 * 1000);
	evhttp_connection_set_timeout_tv(evcon, &tv);
	evhttp_connection_set_retries(evcon, 0);

	req = evhttp_request_new(client_done, &rep);
	evhttp_request_set_error_cb(req, client_failed);
	h = evhttp_request_get_output_headers(req);
	if (strchr(c->host, ':') != NULL)
		xasprintf(&hostport, "[%s]:%d", c->host, c->port);
	else
		xasprintf(&hostport, "%s:%d", c->host, c->port);
	evhttp_add_header(h, "Host", hostport);
	free(hostport);
	evhttp_add_header(h, "Accept", "application/json");
	evhttp_add_header(h, "Connection", "close");
	evhttp_add_header(h, "User-Agent", "notimock-client/" PACKAGE_VERSION);
	if (c->post != NULL) {
		evhttp_add_header(h, "Content-Type", "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(req), c->post,
		    strlen(c->post));
	}
	if (c->token != NULL && *c->token != '\0') {
		xasprintf(&auth, "Bearer %s", c->token);
		evhttp_add_header(h, "Authorization", auth);
		free(auth);
	}
	if (c->post_body != NULL) {
		evhttp_add_header(h, "Content-Type", "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(req),
		    c->post_body, strlen(c->post_body));
	}
	xasprintf(&target, "%s%s%s%s", c->prefix, route,
	    query != NULL && *query != '\0' ? "?" : "",
	    query != NULL ? query : "");
	if (evhttp_make_request(evcon, req, method, target) == -1) {
		client_warnx(c, "cannot send the request to %s", c->url);
		free(target);
		goto out;
	}
	free(target);
	event_base_dispatch(rep.base);

	if (rep.status == 0) {
		const char *why = "";

		if (c->tls_probe && tc != NULL && tls_client_error(tc, &why) ==
		    TLS_CLIENT_UNTRUSTED) {
			snprintf(c->tls_why, sizeof c->tls_why, "%s", why);
			rv = -2;
			goto out;
		}
		client_explain(c, tc, rep.error, timeout_ms);
		goto out;
	}
	*body = util_evbuffer_str(rep.body, lenp);
	rv = rep.status;

out:
	if (evcon != NULL)
		evhttp_connection_free(evcon);
	tls_client_free(tc);
	evbuffer_free(rep.body);
	event_base_free(rep.base);
	return (rv);
}

/* The start of a body that is not what we expected, for a message. */
static char *
client_excerpt(const char *body, size_t len, char *buf, size_t buflen)
{
	return (log_escape_term(buf, buflen, body, len < 160 ? len : 160));
}

/* Report an answer that is neither what we wanted nor a wait's timeout:
 * the server's error message, if it sent one, else the start of the body.
 * Everything from the server is escaped. */
static void
client_server_error(struct client *c, int status, const char *body,
    size_t len)
{
	struct json	*o;
	char		 err[JSON_ERRLEN], buf[1024], nbuf[256];
	const char	*name = NULL, *msg = NULL;

	if ((o = json_parse(body, len, 0, err, sizeof err, NULL)) != NULL) {
		name = json_string(json_get(json_get(o, "error"), "name"));
		msg = json_string(json_get(json_get(o, "error"), "message"));
	}
	if (msg != NULL)
		client_warnx(c, "%d %s: %s", status, client_escape(name ? name :
		    "Error", nbuf, sizeof nbuf), client_escape(msg, buf,
		    sizeof buf));
	else if (len > 0)
		client_warnx(c, "unexpected answer %d from %s: %s", status,
		    c->url, client_excerpt(body, len, buf, sizeof buf));
	else
		client_warnx(c, "unexpected answer %d from %s", status, c->url);
	json_free(o);
}

/* An answer the command did not want: with --json the server's JSON (o
 * parsed, else NULL) still goes to stdout as it came; the error, escaped,
 * to stderr. */
static void
client_refused(struct client *c, int status, const struct json *o,
    const char *body, size_t len)
{
	if (c->json && o != NULL)
		printf("%s\n", body);
	client_server_error(c, status, body, len);
}

/* GET and parse a JSON answer with status want.  NULL if anything else
 * came (reported), with *status set (-1: no answer). */
static struct json *
client_get_json(struct client *c, const char *route, const char *query,
    int64_t timeout_ms, int *status, char **bodyp, size_t *lenp)
{
	struct json	*o;
	char		*body, err[JSON_ERRLEN], ebuf[1024];
	size_t		 len;

	*bodyp = NULL;
	if ((*status = client_request(c, EVHTTP_REQ_GET, route, query,
	    timeout_ms, &body, &len)) == -1)
		return (NULL);
	if ((o = json_parse(body, len, 0, err, sizeof err, NULL)) == NULL ||
	    json_type(o) != JSON_OBJECT) {
		client_warnx(c, "answer %d from %s is not a JSON object: %s",
		    *status, c->url, client_excerpt(body, len, ebuf,
		    sizeof ebuf));
		json_free(o);
		free(body);
		*status = -1;
		return (NULL);
	}
	*bodyp = body;
	if (lenp != NULL)
		*lenp = len;
	return (o);
}

/* --- options --------------------------------------------------------- */

static void
client_param(struct client *c, const char *name, const char *value)
{
	char	*enc;

	enc = evhttp_encode_uri(value);
	evbuffer_add_printf(c->query, "%s%s=%s",
	    evbuffer_get_length(c->query) ? "&" : "", name, enc);
	free(enc);
}

/* Parse argv into c; -1 on a usage error (message printed). */
static int
client_options(struct client *c, int argc, char **argv)
{
	struct option	 lo[CLIENT_NOPTS + 1];
	const char	*errstr, *env;
	size_t		 i;
	int		 ch, idx;

	memset(lo, 0, sizeof lo);
	for (i = 0; i < CLIENT_NOPTS; i++)
		lo[i] = client_opts[i].lo;
	c->url = CLIENT_DEFAULT_URL;
	if ((env = getenv("NOTIMOCK_URL")) != NULL && *env != '\0') {
		c->url = env;
		c->url_given = 1;
	}
	c->token = getenv("NOTIMOCK_ADMIN_TOKEN");
	c->query = evbuffer_new();
	/* wait: the server's default; ready: a health check answers fast. */
	c->rule = json_new_object();
	c->timeout_ms = c->cmd == C_READY ? CLIENT_READY_TIMEOUT : 30000;
	optind = 1;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, "h", lo, &idx)) != -1) {
		if (ch == 'h')
			ch = O_HELP;
		if (ch == '?')
			return (-1);
		for (i = 0; i < CLIENT_NOPTS; i++)
			if (client_opts[i].lo.val == ch)
				break;
		if (i == CLIENT_NOPTS || !(client_opts[i].cmds & (1 << c->cmd))) {
			client_warnx(c, "option --%s does not apply here",
			    i < CLIENT_NOPTS ? client_opts[i].lo.name : "?");
			return (-1);
		}
		switch (ch) {
		case O_HELP:
			fputs(client_texts[c->cmd].usage, stdout);
			if (client_texts[c->cmd].help != NULL)
				fputs(client_texts[c->cmd].help, stdout);
			exit(EXIT_OK);
		case O_URL:
			c->url = optarg;
			c->url_given = 1;
			break;
		case O_CACERT:
			c->cacert = optarg;
			break;
		case O_TOKEN:
			c->token = optarg;
			break;
		case O_JSON:
			c->json = 1;
			break;
		case O_KEEP:
			client_param(c, "notifications", "keep");
			break;
		case O_REACHED:
			client_param(c, "reached", "true");
			break;
		case O_CLEAN:
			client_param(c, "clean", "true");
			break;
		case O_F_DROP:
		case O_F_RESET:
			json_add_bool(c->rule, client_opts[i].lo.name, 1);
			break;
		case O_F_RETRY_AFTER:
			json_add_str(c->rule, "retryAfter", optarg);
			break;
		case O_SINCE:
			if (strcmp(optarg, "now") == 0) {
				c->since_now = 1;
				break;
			}
			(void)util_strtonum(optarg, 0, INT64_MAX, &errstr);
			if (errstr != NULL) {
				client_warnx(c, "--since takes a sequence number "
				    "or 'now', not '%s'", optarg);
				return (-1);
			}
			client_param(c, "since", optarg);
			break;
		case O_TIMEOUT:
			if (util_parse_duration(optarg, &c->timeout_ms) == -1) {
				client_warnx(c, "--timeout takes a duration "
				    "such as 30s, 500ms or 2m, not '%s'", optarg);
				return (-1);
			}
			if (c->cmd == C_WAIT)
				client_param(c, "timeout", optarg);
			break;
		default:
			/* The rest are the API's parameters, checked there. */
			if (c->cmd == C_FAULT)
				json_add_str(c->rule, client_opts[i].lo.name,
				    optarg);
			else
				client_param(c, client_opts[i].lo.name, optarg);
			break;
		}
	}
	if (c->cmd == C_FAULT && optind < argc && c->operand == NULL)
		c->operand = argv[optind++];
	if (optind < argc) {
		client_warnx(c, "unexpected argument '%s'", argv[optind]);
		return (-1);
	}
	return (0);
}

static void
client_free(struct client *c)
{
	if (c->query != NULL)
		evbuffer_free(c->query);
	if (c->uri != NULL)
		evhttp_uri_free(c->uri);
	json_free(c->rule);
	free(c->prefix);
	free(c->url_owned);
	free(c->cacert_owned);
}

/* The one way out of a command: flush what it printed, free the answer it
 * held (o, body: either may be NULL), its query and c; returns rv, the
 * command's exit status. */
static int
client_finish(struct client *c, int rv, struct json *o, char *body,
    char *query)
{
	fflush(stdout);
	json_free(o);
	free(body);
	free(query);
	client_free(c);
	return (rv);
}

/* The query so far, as a C string owned by the caller. */
static char *
client_query(struct client *c)
{
	return (util_evbuffer_str(c->query, NULL));
}

/*
 * ready's URL when none is given: the server's own listener, from the same
 * settings it starts with (NOTIMOCK_*, NOTIMOCK_CONFIG), so the image's
 * HEALTHCHECK ["/notimock", "ready"] needs no arguments and no shell.  A
 * wildcard address means this host's loopback.  With the plain listener
 * off, the TLS one, trusting the CA the server uses.
 */
static int
client_ready_url(struct client *c)
{
	struct settings	 s;
	struct config	*cfg;
	char		*argv[] = { (char *)"notimock", NULL }, *cause = NULL;
	char		 addr[256], *copy;
	const char	*spec, *colon, *host, *errstr;
	size_t		 alen;
	int		 https = 0, port, rv = -1;

	if ((cfg = settings_load(&s, 1, argv, &cause)) == NULL) {
		client_warnx(c, "cannot derive the URL from the server's "
		    "settings (%s); give --url", cause);
		free(cause);
		return (-1);
	}
	spec = s.listen;
	if (strcmp(spec, "off") == 0) {
		spec = s.tls_listen;
		https = 1;
	}
	if (strcmp(spec, "off") == 0) {
		client_warnx(c, "both listeners are off: nothing to ask");
		goto out;
	}
	if (*spec == '[') {
		if ((colon = strstr(spec, "]:")) == NULL)
			goto bad;
		alen = (size_t)(colon - spec - 1);
		if (alen >= sizeof addr)
			goto bad;
		memcpy(addr, spec + 1, alen);
		colon++;
	} else {
		if ((colon = strrchr(spec, ':')) == NULL ||
		    (alen = (size_t)(colon - spec)) >= sizeof addr)
			goto bad;
		memcpy(addr, spec, alen);
	}
	addr[alen] = '\0';
	port = (int)util_strtonum(colon + 1, 1, 65535, &errstr);
	if (errstr != NULL) {
		client_warnx(c, "the server listens on '%s': give --url", spec);
		goto out;
	}
	host = addr;
	if (*addr == '\0' || strcmp(addr, "0.0.0.0") == 0 ||
	    strcmp(addr, "*") == 0)
		host = "127.0.0.1";
	else if (strcmp(addr, "::") == 0)
		host = "::1";
	xasprintf(&c->url_owned, "%s://%s%s%s:%d", https ? "https" : "http",
	    strchr(host, ':') != NULL ? "[" : "", host,
	    strchr(host, ':') != NULL ? "]" : "", port);
	c->url = c->url_owned;
	if (https && c->cacert == NULL) {
		if (s.tls_ca_cert != NULL)
			c->cacert_owned = xstrdup(s.tls_ca_cert);
		else if (s.tls_cert != NULL)
			c->cacert_owned = xstrdup(s.tls_cert);
		else if (strcmp(s.db, ":memory:") == 0)
			c->cacert_owned = xstrdup("./ca.pem");
		else {
			copy = xstrdup(s.db);
			xasprintf(&c->cacert_owned, "%s/ca.pem",
			    dirname(copy));
			free(copy);
		}
		c->cacert = c->cacert_owned;
	}
	rv = 0;
	goto out;
bad:
	client_warnx(c, "the server's listen address '%s' is not ADDR:PORT; "
	    "give --url", spec);
out:
	config_free(cfg);
	settings_free(&s);
	return (rv);
}

/* Common set-up: options, URL, and --since now.  Returns -1 (the exit
 * status is EXIT_ERROR) on failure. */
static int
client_setup(struct client *c, enum client_cmd cmd, int argc, char **argv)
{
	struct json	*o;
	char		*body, num[32];
	int		 status;

	memset(c, 0, sizeof *c);
	c->cmd = cmd;
	c->name = client_texts[cmd].name;
	if (client_options(c, argc, argv) == -1) {
		client_usage(c);
		return (-1);
	}
	if (cmd == C_READY && !c->url_given && client_ready_url(c) == -1)
		return (-1);
	if (client_parse_url(c) == -1)
		return (-1);
	if (!c->since_now)
		return (0);
	if ((o = client_get_json(c, "/mock/cursor", NULL,
	    CLIENT_TIMEOUT * 1000, &status, &body, NULL)) == NULL)
		return (-1);
	if (status != 200 || json_type(json_get(o, "cursor")) != JSON_NUMBER) {
		client_server_error(c, status, body, strlen(body));
		json_free(o);
		free(body);
		return (-1);
	}
	snprintf(num, sizeof num, "%.0f", json_number(json_get(o, "cursor")));
	client_param(c, "since", num);
	json_free(o);
	free(body);
	return (0);
}

/* --- commands -------------------------------------------------------- */

/* The warnings (and errors) of deliveries that matched: an accepted send
 * that reached nobody passes a wait, and should not pass unremarked. */
static void
client_print_warnings(const struct json *deliveries)
{
	const struct json	*d, *e;
	struct json		*keep;
	const char		*level;
	char			*s;

	for (d = json_first(deliveries); d != NULL; d = json_next(d)) {
		keep = json_new_array();
		for (e = json_first(json_get(d, "diagnoses")); e != NULL;
		    e = json_next(e)) {
			level = json_string(json_get(e, "level"));
			if (level != NULL && (strcmp(level, "warning") == 0 ||
			    strcmp(level, "error") == 0))
				json_append(keep, json_dup(e));
		}
		if (json_size(keep) > 0) {
			s = json_print(keep, NULL);
			printf("diagnoses of #%.0f:\n",
			    json_number(json_get(d, "seq")));
			fflush(stdout);
			(void)diag_print_text(stdout, s, strlen(s), "  ");
			free(s);
		}
		json_free(keep);
	}
}

/* Why each near miss missed, and what the diagnosis engine said of it. */
static void
client_print_misses(const struct json *misses)
{
	const struct json	*m, *d, *f, *x;
	char			 buf[CLIENT_CELL], buf2[CLIENT_CELL], *s, *t;

	for (m = json_first(misses); m != NULL; m = json_next(m)) {
		d = json_get(m, "delivery");
		printf("  #%.0f  %s  status %.0f  origin %s\n",
		    json_number(json_get(d, "seq")),
		    client_escape(client_str(d, "received"), buf, sizeof buf),
		    json_number(json_get(d, "status")),
		    client_escape(client_str(d, "origin"), buf2, sizeof buf2));
		printf("      title: %s\n", client_escape(client_str(d, "title"),
		    buf, sizeof buf));
		for (f = json_first(json_get(m, "failed")); f != NULL;
		    f = json_next(f)) {
			x = json_get(f, "want");
			s = json_type(x) == JSON_STRING ?
			    xstrdup(json_string(x)) : json_print(x, NULL);
			x = json_get(f, "got");
			t = json_type(x) == JSON_STRING ?
			    xstrdup(json_string(x)) : json_print(x, NULL);
			printf("      %s: want %s, ",
			    client_escape(client_str(f, "filter"), buf2,
			    sizeof buf2), client_escape(s, buf, sizeof buf));
			printf("got %s\n", client_escape(t, buf, sizeof buf));
			free(s);
			free(t);
		}
		if (json_string(json_get(m, "error")) != NULL)
			printf("      answered %.0f: %s\n",
			    json_number(json_get(d, "status")),
			    client_escape(json_string(json_get(m, "error")),
			    buf, sizeof buf));
		x = json_get(d, "diagnoses");
		if (json_size(x) > 0) {
			s = json_print(x, NULL);
			printf("      diagnoses:\n");
			fflush(stdout);
			if (diag_print_text(stdout, s, strlen(s),
			    "        ") == -1)
				printf("        %s\n", client_escape(s, buf,
				    sizeof buf));
			free(s);
		}
	}
}

int
client_wait(int argc, char **argv)
{
	struct client	 c;
	struct json	*o = NULL;
	char		*query = NULL, *body = NULL, buf[1024];
	size_t		 len = 0;
	int64_t		 timeout_ms;
	int		 status, rv = EXIT_ERROR;

	if (client_setup(&c, C_WAIT, argc, argv) == -1)
		goto out;
	query = client_query(&c);
	timeout_ms = c.timeout_ms + CLIENT_WAIT_SLACK * 1000;
	if ((o = client_get_json(&c, "/mock/wait", query, timeout_ms, &status,
	    &body, &len)) == NULL)
		goto out;
	if (status != 200 && status != 408) {
		client_refused(&c, status, o, body, len);
		goto out;
	}
	rv = status == 200 ? EXIT_OK : EXIT_TIMEOUT;
	if (c.json) {
		printf("%s\n", body);
		goto out;
	}
	if (status == 200) {
		client_table(stdout, json_get(o, "deliveries"));
		client_print_warnings(json_get(o, "deliveries"));
		printf("%.0f matching (wanted %.0f) after %.0f ms; cursor %.0f\n",
		    json_number(json_get(o, "matched")),
		    json_number(json_get(o, "wanted")),
		    json_number(json_get(o, "waitedMs")),
		    json_number(json_get(o, "cursor")));
		goto out;
	}
	printf("timed out: %s\n", client_escape(json_string(json_get(
	    json_get(o, "error"), "message")), buf, sizeof buf));
	printf("%.0f deliver%s arrived after seq %.0f, %.0f matching\n",
	    json_number(json_get(o, "arrived")),
	    json_number(json_get(o, "arrived")) == 1 ? "y" : "ies",
	    json_number(json_get(o, "since")),
	    json_number(json_get(o, "matched")));
	if (json_size(json_get(o, "deliveries")) > 0) {
		printf("matching so far:\n");
		client_table(stdout, json_get(o, "deliveries"));
	}
	if (json_size(json_get(o, "nearMisses")) > 0) {
		printf("nearest misses:\n");
		client_print_misses(json_get(o, "nearMisses"));
	}

out:
	return (client_finish(&c, rv, o, body, query));
}

int
client_list(int argc, char **argv)
{
	struct client	 c;
	struct json	*o = NULL;
	char		*query = NULL, *body = NULL;
	size_t		 len = 0;
	int		 status, rv = EXIT_ERROR;

	if (client_setup(&c, C_LIST, argc, argv) == -1)
		goto out;
	if (!c.json)
		client_param(&c, "view", "summary");
	query = client_query(&c);
	if ((o = client_get_json(&c, "/mock/deliveries", query,
	    CLIENT_TIMEOUT * 1000, &status, &body, &len)) == NULL)
		goto out;
	if (status != 200) {
		client_refused(&c, status, o, body, len);
		goto out;
	}
	rv = EXIT_OK;
	if (c.json) {
		printf("%s\n", body);
		goto out;
	}
	client_table(stdout, json_get(o, "deliveries"));
	printf("%zu of %.0f deliveries; cursor %.0f\n",
	    json_size(json_get(o, "deliveries")),
	    json_number(json_get(o, "total")),
	    json_number(json_get(o, "cursor")));

out:
	return (client_finish(&c, rv, o, body, query));
}

int
client_reset(int argc, char **argv)
{
	struct client	 c;
	struct json	*o = NULL;
	char		*query = NULL, *body = NULL, err[JSON_ERRLEN];
	size_t		 len = 0;
	int		 status, rv = EXIT_ERROR;
	double		 deleted, notifs;

	if (client_setup(&c, C_RESET, argc, argv) == -1)
		goto out;
	query = client_query(&c);
	if ((status = client_request(&c, EVHTTP_REQ_DELETE, "/mock/deliveries",
	    query, CLIENT_TIMEOUT * 1000, &body, &len)) == -1)
		goto out;
	/* --json passes the server's JSON through; anything else is only
	 * reported, escaped, on stderr. */
	o = json_parse(body, len, 0, err, sizeof err, NULL);
	if (status != 200 || o == NULL) {
		client_refused(&c, status, o, body, len);
		goto out;
	}
	rv = EXIT_OK;
	if (c.json)
		printf("%s\n", body);
	else {
		deleted = json_number(json_get(o, "deleted"));
		notifs = json_number(json_get(o, "notificationsDeleted"));
		printf("deleted %.0f deliver%s and %.0f notification%s; "
		    "cursor %.0f\n", deleted, deleted == 1 ? "y" : "ies",
		    notifs, notifs == 1 ? "" : "s",
		    json_number(json_get(o, "cursor")));
	}

out:
	return (client_finish(&c, rv, o, body, query));
}

int
client_cursor(int argc, char **argv)
{
	struct client	 c;
	struct json	*o = NULL;
	char		*body = NULL;
	size_t		 len = 0;
	int		 status, rv = EXIT_ERROR;

	if (client_setup(&c, C_CURSOR, argc, argv) == -1)
		goto out;
	if ((o = client_get_json(&c, "/mock/cursor", NULL,
	    CLIENT_TIMEOUT * 1000, &status, &body, &len)) == NULL)
		goto out;
	if (status != 200 || json_type(json_get(o, "cursor")) != JSON_NUMBER) {
		client_server_error(&c, status, body, len);
		goto out;
	}
	rv = EXIT_OK;
	if (c.json)
		printf("%s\n", body);
	else
		printf("%.0f\n", json_number(json_get(o, "cursor")));

out:
	return (client_finish(&c, rv, o, body, NULL));
}

int
client_fingerprint(int argc, char **argv)
{
	struct client	 c;
	struct json	*o = NULL;
	char		*body = NULL, *tok = NULL, err[JSON_ERRLEN], buf[1024];
	const char	*fp;
	unsigned char	 d[CRYPTO_SHA256_LEN];
	char		 hex[2 * CRYPTO_SHA256_LEN + 1], req[128];
	size_t		 len = 0, n = 0, cap = 0;
	int		 status, ch, rv = EXIT_ERROR;

	if (client_setup(&c, C_FINGERPRINT, argc, argv) == -1)
		goto out;
	while ((ch = getchar()) != EOF) {
		if (n + 1 >= cap)
			tok = xreallocarray(tok, (cap = cap ? cap * 2 : 256), 1);
		tok[n++] = (char)ch;
		if (n > 65536) {
			client_warnx(&c, "stdin holds more than 64 KiB: not a "
			    "token");
			goto out;
		}
	}
	if (n > 0 && tok[n - 1] == '\n')
		n--;
	if (n > 0 && tok[n - 1] == '\r')
		n--;
	if (n == 0) {
		client_warnx(&c, "no token on stdin (try: printf %%s \"$TOKEN\" "
		    "| notimock fingerprint)");
		goto out;
	}
	/* The token does not travel: its SHA-256 is all the server needs. */
	crypto_sha256(tok, n, d);
	codec_hex_encode(d, sizeof d, hex);
	snprintf(req, sizeof req, "{\"sha256\":\"%s\"}", hex);
	c.post = req;
	if ((status = client_request(&c, EVHTTP_REQ_POST, "/mock/fingerprint",
	    NULL, CLIENT_TIMEOUT * 1000, &body, &len)) == -1)
		goto out;
	o = json_parse(body, len, 0, err, sizeof err, NULL);
	if (status != 200 || (fp = json_string(json_get(o,
	    "fingerprint"))) == NULL) {
		client_server_error(&c, status, body, len);
		goto out;
	}
	printf("%s\n", client_escape(fp, buf, sizeof buf));
	rv = EXIT_OK;
out:
	if (tok != NULL)
		explicit_bzero(tok, cap);
	free(tok);
	return (client_finish(&c, rv, o, body, NULL));
}

int
client_ready(int argc, char **argv)
{
	struct client	 c;
	struct json	*o = NULL;
	char		*body = NULL, err[JSON_ERRLEN], buf[1024];
	const char	*st;
	size_t		 len = 0;
	int		 status, rv = EXIT_ERROR;

	if (client_setup(&c, C_READY, argc, argv) == -1)
		goto out;
	if ((status = client_request(&c, EVHTTP_REQ_GET,
	    "/.backstage/health/v1/readiness", NULL, c.timeout_ms, &body,
	    &len)) == -1)
		goto out;
	o = json_parse(body, len, 0, err, sizeof err, NULL);
	st = json_string(json_get(o, "status"));
	if (status == 200 && st != NULL && strcmp(st, "ok") == 0) {
		rv = EXIT_OK;
		goto out;
	}
	rv = EXIT_TIMEOUT;
	client_warnx(&c, "not ready: %s answered %d %s", c.url, status,
	    client_excerpt(body, len, buf, sizeof buf));

out:
	return (client_finish(&c, rv, o, body, NULL));
}

/* GET /mock/ca.pem; the certificates (re-encoded, so that nothing else the
 * answer held reaches a terminal or a file), or NULL after saying why. */
static char *
client_fetch_ca(struct client *c)
{
	char	*body = NULL, *pem, *cause = NULL;
	size_t	 len = 0;
	int	 status;

	if ((status = client_request(c, EVHTTP_REQ_GET, "/mock/ca.pem", NULL,
	    CLIENT_TIMEOUT * 1000, &body, &len)) == -1)
		return (NULL);
	if (status != 200 || len != strlen(body) || strncmp(body,
	    "-----BEGIN CERTIFICATE-----", 27) != 0) {
		client_server_error(c, status, body, len);
		free(body);
		return (NULL);
	}
	if ((pem = tls_pem_certs(body, 0, &cause)) == NULL) {
		client_warnx(c, "%s served no usable CA: %s", c->url, cause);
		free(cause);
	}
	free(body);
	return (pem);
}

/* A client for the other commands' calls below (they speak as name, to
 * url): 0, or -1 when url does not parse (said).  client_free(c) after,
 * either way. */
static int
client_for(struct client *c, const char *name, const char *url,
    const char *cacert, const char *token)
{
	memset(c, 0, sizeof *c);
	c->cmd = C_CA;
	c->name = name;
	c->url = url;
	c->cacert = cacert;
	c->token = token;
	return (client_parse_url(c));
}

char *
client_get_ca(const char *name, const char *url, const char *cacert,
    const char *token)
{
	struct client	 c;
	char		*pem = NULL;

	if (client_for(&c, name, url, cacert, token) == 0)
		pem = client_fetch_ca(&c);
	client_free(&c);
	return (pem);
}

int
client_post_json(const char *name, const char *url, const char *cacert,
    const char *token, const char *route, const char *json, char **reply)
{
	struct client	 c;
	int		 status = -1;

	*reply = NULL;
	if (client_for(&c, name, url, cacert, token) == 0) {
		c.post_body = json;
		status = client_request(&c, EVHTTP_REQ_POST, route, NULL,
		    CLIENT_TIMEOUT * 1000, reply, NULL);
	}
	client_free(&c);
	return (status);
}

int
client_tls_verifies(const char *name, const char *url, const char *cafile,
    const char *host, char *why, size_t whylen)
{
	struct client	 c;
	char		*body = NULL;
	int		 status = -1;

	if (client_for(&c, name, url, cafile, NULL) == 0 && c.https) {
		c.tls_host = host;
		c.tls_probe = 1;
		status = client_request(&c, EVHTTP_REQ_GET,
		    "/.backstage/health/v1/liveness", NULL,
		    CLIENT_TIMEOUT * 1000, &body, NULL);
	}
	free(body);
	snprintf(why, whylen, "%s", c.tls_why);
	client_free(&c);
	return (status == -2 ? 0 : status == -1 ? -1 : 1);
}

int
client_ca(int argc, char **argv)
{
	struct client	 c;
	char		*pem = NULL;
	size_t		 len;
	int		 rv = EXIT_ERROR;

	if (client_setup(&c, C_CA, argc, argv) == -1)
		goto out;
	if ((pem = client_fetch_ca(&c)) == NULL)
		goto out;
	len = strlen(pem);
	if (fwrite(pem, 1, len, stdout) != len || fflush(stdout) == EOF) {
		client_warnx(&c, "stdout: write failed");
		goto out;
	}
	rv = EXIT_OK;

out:
	return (client_finish(&c, rv, NULL, pem, NULL));
}

/* --- fault add | list | clear ------------------------------------------ */

/* One line of `fault list`: the rule as its fault add flags. */
static void
client_fault_line(const struct json *f)
{
	static const char	*keys[] = { "status", "retryAfter", "delayMs",
	    "drop", "reset", "times", "forMs", "method", "path", "entity",
	    "topic", "origin", "title" };
	const struct json	*v;
	char			 buf[CLIENT_CELL], *s;
	size_t			 i;

	printf("%-6s %-6s %-6.0f", client_escape(client_str(f, "id"), buf,
	    sizeof buf), json_type(json_get(f, "active")) == JSON_TRUE ?
	    "yes" : "no", json_number(json_get(f, "fired")));
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if ((v = json_get(f, keys[i])) == NULL)
			continue;
		s = json_type(v) == JSON_STRING ? xstrdup(json_string(v)) :
		    json_print(v, NULL);
		printf(" %s=%s", keys[i], client_escape(s, buf, sizeof buf));
		free(s);
	}
	putchar('\n');
}

int
client_fault(int argc, char **argv)
{
	struct client	 c;
	struct json	*o = NULL;
	const struct json *f;
	char		*body = NULL, *route = NULL, err[JSON_ERRLEN], *post = NULL;
	size_t		 len = 0;
	int		 status, rv = EXIT_ERROR, want = 200;
	enum evhttp_cmd_type method;
	const char	*sub = argc > 1 ? argv[1] : "";

	memset(&c, 0, sizeof c);
	c.cmd = C_FAULT;
	c.name = "fault";
	if (strcmp(sub, "add") == 0)
		method = EVHTTP_REQ_POST, want = 201;
	else if (strcmp(sub, "list") == 0)
		method = EVHTTP_REQ_GET;
	else if (strcmp(sub, "clear") == 0)
		method = EVHTTP_REQ_DELETE;
	else if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(client_texts[C_FAULT].usage, stdout);
		return (EXIT_OK);
	} else {
		client_warnx(&c, "add, list or clear, not '%s'", sub);
		return (client_usage(&c));
	}
	if (client_options(&c, argc - 1, argv + 1) == -1) {
		client_usage(&c);
		goto out;
	}
	if ((c.operand != NULL && method != EVHTTP_REQ_DELETE) ||
	    (json_size(c.rule) > 0 && method != EVHTTP_REQ_POST)) {
		client_warnx(&c, "only 'fault add' takes rule options, and only "
		    "'fault clear' an id");
		client_usage(&c);
		goto out;
	}
	if (client_parse_url(&c) == -1)
		goto out;
	if (c.operand != NULL) {
		char *enc = evhttp_encode_uri(c.operand);

		xasprintf(&route, "/mock/faults/%s", enc);
		free(enc);
	} else
		route = xstrdup("/mock/faults");
	if (method == EVHTTP_REQ_POST)
		c.post = post = json_print(c.rule, NULL);
	if ((status = client_request(&c, method, route, NULL,
	    CLIENT_TIMEOUT * 1000, &body, &len)) == -1)
		goto out;
	o = json_parse(body, len, 0, err, sizeof err, NULL);
	if (status != want || json_type(o) != JSON_OBJECT) {
		client_refused(&c, status, o, body, len);
		goto out;
	}
	rv = EXIT_OK;
	if (c.json)
		printf("%s\n", body);
	else if (method == EVHTTP_REQ_POST)
		printf("%s\n", client_escape(client_str(o, "id"), err,
		    sizeof err));
	else if (method == EVHTTP_REQ_DELETE)
		printf("deleted %.0f fault rule%s\n",
		    json_number(json_get(o, "deleted")),
		    json_number(json_get(o, "deleted")) == 1 ? "" : "s");
	else {
		if (json_size(json_get(o, "faults")) > 0)
			printf("%-6s %-6s %-6s %s\n", "ID", "ACTIVE", "FIRED",
			    "RULE");
		for (f = json_first(json_get(o, "faults")); f != NULL;
		    f = json_next(f))
			client_fault_line(f);
		printf("%zu rule%s; %.0f fired in all\n",
		    json_size(json_get(o, "faults")),
		    json_size(json_get(o, "faults")) == 1 ? "" : "s",
		    json_number(json_get(o, "fired")));
	}
out:
	free(route);
	free(post);
	return (client_finish(&c, rv, o, body, NULL));
}
