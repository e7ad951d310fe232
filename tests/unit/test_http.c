/*
 * test_http.c: what src/http.c hides of a request's secrets, through its
 * public interface (http.h):
 *
 * - http_headers_json(), the headers as a delivery stores them:
 *   Authorization reduced to its scheme and the token's keyed fingerprint,
 *   any other credential header to "<redacted hmac:...>";
 * - the request URI with secret query parameters' values replaced by
 *   REDACTED, as the access log and Backstage's error bodies show it: an
 *   in-process server (http_start) on a kernel-chosen 127.0.0.1 port,
 *   asked over a plain socket.
 *
 * In neither may the secret's own bytes appear.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <fcntl.h>
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

#include "auth.h"
#include "config.h"
#include "crypto.h"
#include "dispatch.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "settings.h"
#include "unit.h"

#define SECRET	"s3cret-value-0123456789abcdef"

/* A fixed fingerprint key, so that expected prints can be computed. */
static void
fp_key(void)
{
	unsigned char	key[CRYPTO_FP_KEY_LEN];

	memset(key, 0x5a, sizeof key);
	crypto_fingerprint_setkey(key);
}

/* A request with the given headers (name, value, ..., NULL), as evhttp
 * would hand one to a handler; free with evhttp_request_free(r->evreq). */
static void
fake_req(struct req *r, ...)
{
	struct evkeyvalq	*h;
	const char		*name, *value;
	va_list			 ap;

	memset(r, 0, sizeof *r);
	r->evreq = evhttp_request_new(NULL, NULL);
	h = evhttp_request_get_input_headers(r->evreq);
	va_start(ap, r);
	while ((name = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		evhttp_add_header(h, name, value);
	}
	va_end(ap);
}

/* The keyed fingerprint of s (crypto.h), in one of four static buffers. */
static const char *
fp_of(const char *s)
{
	static char	buf[4][CRYPTO_FP_LEN];
	static int	n;

	return (crypto_fingerprint(s, strlen(s), buf[n++ % 4]));
}

static void
test_headers_json(void)
{
	struct req	 r;
	char		*got = NULL, want[2048], head[1024];

	fp_key();
	fake_req(&r,
	    "Host", "127.0.0.1:3000",
	    "Authorization", "Bearer " SECRET,
	    "Cookie", "sid=" SECRET,
	    "X-Api-Key", SECRET,
	    "X-Session-Id", SECRET "2",
	    "Proxy-Authorization", "Basic " SECRET,
	    "Authorization", "Bearer " SECRET "2",
	    "X-Trace", "a \"quoted\" \\ value\001",
	    "Content-Type", "application/json",
	    NULL);
	CHECK(strncmp(fp_of(SECRET), "hmac:", 5) == 0);
	CHECK_INT(strlen(fp_of(SECRET)), 17);

	/* The first Authorization is the one auth_check() fingerprinted
	 * (scheme kept); a second one is reduced the same way here.
	 * Proxy-Authorization is another credential header ("auth" in its
	 * name): its whole value is fingerprinted. */
	snprintf(head, sizeof head, "[[\"Host\",\"127.0.0.1:3000\"],"
	    "[\"Authorization\",\"Bearer %s\"],"
	    "[\"Cookie\",\"<redacted %s>\"],"
	    "[\"X-Api-Key\",\"<redacted %s>\"],",
	    fp_of(SECRET), fp_of("sid=" SECRET), fp_of(SECRET));
	snprintf(want, sizeof want, "%s"
	    "[\"X-Session-Id\",\"<redacted %s>\"],"
	    "[\"Proxy-Authorization\",\"<redacted %s>\"],"
	    "[\"Authorization\",\"Bearer %s\"],"
	    "[\"X-Trace\",\"a \\\"quoted\\\" \\\\ value\\u0001\"],"
	    "[\"Content-Type\",\"application/json\"]]", head,
	    fp_of(SECRET "2"), fp_of("Basic " SECRET), fp_of(SECRET "2"));
	got = http_headers_json(&r, NULL);
	CHECK_STR(got, want);
	CHECK(strstr(got, SECRET) == NULL);
	free(got);

	/* A fingerprint auth_check() already took is used as it is, for the
	 * first Authorization header only. */
	got = http_headers_json(&r, "hmac:000000000000");
	CHECK(strstr(got, "[\"Authorization\",\"Bearer hmac:000000000000\"]")
	    != NULL);
	snprintf(want, sizeof want, "[\"Authorization\",\"Bearer %s\"]",
	    fp_of(SECRET "2"));
	CHECK(strstr(got, want) != NULL);
	CHECK(strstr(got, SECRET) == NULL);
end:
	free(got);
	evhttp_request_free(r.evreq);
}

static void
test_headers_json_names(void)
{
	static const char	*secret[] = { "X-Auth-Token", "x-csrf-token",
	    "X-Secret", "X-DB-Password", "Api-Key", "X-Amz-Security-Token",
	    "Set-Cookie", "SESSION", "X-Authentication" };
	static const char	*plain[] = { "Accept", "User-Agent", "X-Request-Id",
	    "Content-Length", "Forwarded" };
	struct req		 r;
	char			*got = NULL, want[256];
	size_t			 i;

	fp_key();
	for (i = 0; i < sizeof secret / sizeof secret[0]; i++) {
		fake_req(&r, secret[i], SECRET, NULL);
		got = http_headers_json(&r, NULL);
		snprintf(want, sizeof want, "[[\"%s\",\"<redacted %s>\"]]",
		    secret[i], fp_of(SECRET));
		CHECK_STR(got, want);
		free(got);
		got = NULL;
		evhttp_request_free(r.evreq);
		r.evreq = NULL;
	}
	for (i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		fake_req(&r, plain[i], "v", NULL);
		got = http_headers_json(&r, NULL);
		snprintf(want, sizeof want, "[[\"%s\",\"v\"]]", plain[i]);
		CHECK_STR(got, want);
		free(got);
		got = NULL;
		evhttp_request_free(r.evreq);
		r.evreq = NULL;
	}
	/* No header at all. */
	fake_req(&r, NULL);
	got = http_headers_json(&r, NULL);
	CHECK_STR(got, "[]");
end:
	free(got);
	if (r.evreq != NULL)
		evhttp_request_free(r.evreq);
}

/* --- the URI, through a running server ------------------------------------ */

struct env {
	struct server	 srv;
	struct settings	 s;
	int		 port;
	int		 logfd;		/* stderr goes here */
	int		 saved_stderr;
};

static void
port_of(struct evhttp_bound_socket *b, void *arg)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof sin;

	if (getsockname(evhttp_bound_socket_get_fd(b),
	    (struct sockaddr *)&sin, &len) == 0)
		*(int *)arg = ntohs(sin.sin_port);
}

/*
 * The server as `notimock serve --listen 127.0.0.1:0 --tls-listen off`
 * has it for the routes used here (/mock/ca.pem and no route at all, which
 * need no store, token table or TLS), logging to a file at info.  Never
 * stopped: each case is its own process, and server_stop() would commit a
 * store this server does not have.
 */
static int
env_start(struct env *e)
{
	char	*argv[] = { "notimock", "--listen", "127.0.0.1:0",
	    "--tls-listen", "off", NULL };
	char	 path[] = "/tmp/test_http.XXXXXX", *cause = NULL;

	memset(e, 0, sizeof *e);
	if ((e->logfd = mkstemp(path)) == -1)
		return (-1);
	unlink(path);
	e->saved_stderr = dup(2);
	dup2(e->logfd, 2);
	log_init(0, 0);
	if ((e->srv.config = settings_load(&e->s, 5, argv, &cause)) == NULL)
		goto fail;
	e->srv.settings = &e->s;
	if ((e->srv.base = event_base_new()) == NULL)
		goto fail;
	server_start(&e->srv);
	if (http_start(&e->srv, dispatch, &cause) == -1)
		goto fail;
	evhttp_foreach_bound_socket(e->srv.http, port_of, &e->port);
	return (e->port > 0 ? 0 : -1);
fail:
	dup2(e->saved_stderr, 2);
	fprintf(stderr, "# env_start: %s\n", cause ? cause : "failed");
	free(cause);
	return (-1);
}

/* Everything written to the log so far. */
static char *
env_log(struct env *e)
{
	static char	buf[65536];
	ssize_t		n;

	fflush(stderr);
	n = pread(e->logfd, buf, sizeof buf - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return (buf);
}

struct fetch {
	struct event_base	*base;
	struct evbuffer		*got;
};

static void
fetch_read(struct bufferevent *bev, void *arg)
{
	struct fetch	*f = arg;

	evbuffer_add_buffer(f->got, bufferevent_get_input(bev));
}

static void
fetch_event(struct bufferevent *bev, short what, void *arg)
{
	struct fetch	*f = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		event_base_loopexit(f->base, NULL);
}

/*
 * Send "GET target HTTP/1.1" with Connection: close and return the whole
 * answer (status line, headers, body), or NULL.  Runs the server's loop
 * until the server closes.  Caller frees.
 */
static char *
fetch(struct env *e, const char *target)
{
	struct fetch		 f;
	struct bufferevent	*bev;
	struct sockaddr_in	 sin;
	struct timeval		 tv = { 5, 0 };
	char			*out = NULL;
	size_t			 len;

	f.base = e->srv.base;
	f.got = evbuffer_new();
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)e->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bev = bufferevent_socket_new(f.base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, fetch_read, NULL, fetch_event, &f);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(bev, (struct sockaddr *)&sin,
	    sizeof sin) == -1)
		goto done;
	evbuffer_add_printf(bufferevent_get_output(bev), "GET %s HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nConnection: close\r\n\r\n", target);
	event_base_dispatch(f.base);
	len = evbuffer_get_length(f.got);
	out = malloc(len + 1);
	evbuffer_remove(f.got, out, len);
	out[len] = '\0';
done:
	bufferevent_free(bev);
	evbuffer_free(f.got);
	return (out);
}

/* Request targets and the URI the log and error bodies may show. */
static const struct {
	const char	*sent, *shown;
} uris[] = {
	{ "?token=" SECRET, "?token=REDACTED" },
	{ "?a=1&access_token=" SECRET "&b=2",
	    "?a=1&access_token=REDACTED&b=2" },
	{ "?TOKEN=" SECRET "&Api_Key=" SECRET "&APIKEY=" SECRET,
	    "?TOKEN=REDACTED&Api_Key=REDACTED&APIKEY=REDACTED" },
	/* Names compare decoded: each spelling a handler would accept. */
	{ "?%74oken=" SECRET "&access%5Ftoken=" SECRET,
	    "?%74oken=REDACTED&access%5Ftoken=REDACTED" },
	/* Every occurrence: a handler may read the first or the last. */
	{ "?token=" SECRET "&token=" SECRET "2",
	    "?token=REDACTED&token=REDACTED" },
	/* Nothing to hide. */
	{ "?token=&token&x=1", "?token=&token&x=1" },
	{ "?tokens=abc&my_token=abc&token_x=abc",
	    "?tokens=abc&my_token=abc&token_x=abc" },
	{ "", "" },
};

/* GET path with uris[i]'s query: the whole answer if it is a 404, else
 * NULL.  Caller frees. */
static char *
fetch_404(struct env *e, const char *path, size_t i)
{
	char	target[256], *got;

	snprintf(target, sizeof target, "%s%s", path, uris[i].sent);
	if ((got = fetch(e, target)) != NULL &&
	    strncmp(got, "HTTP/1.1 404 ", 13) != 0) {
		fprintf(stderr, "# %s: %.40s\n", target, got);
		free(got);
		got = NULL;
	}
	return (got);
}

static void
test_uri_in_error_body(void)
{
	struct env	 e;
	char		*got = NULL, want[512];
	size_t		 i;

	CHECK(env_start(&e) == 0);
	for (i = 0; i < sizeof uris / sizeof uris[0]; i++) {
		CHECK((got = fetch_404(&e, "/mock/ca.pem", i)) != NULL);
		snprintf(want, sizeof want, "\"request\":{\"method\":\"GET\","
		    "\"url\":\"/mock/ca.pem%s\"},\"response\":"
		    "{\"statusCode\":404}}", uris[i].shown);
		if (strstr(got, want) == NULL)
			UNIT_FAIL("%s:\n#   got      %s\n#   expected ...%s",
			    uris[i].sent, strstr(got, "\r\n\r\n"), want);
		CHECK(strstr(got, SECRET) == NULL);
		free(got);
		got = NULL;
	}
end:
	free(got);
}

static void
test_uri_in_access_log(void)
{
	struct env	 e;
	char		*got = NULL, want[512], *log;
	size_t		 i;

	CHECK(env_start(&e) == 0);
	for (i = 0; i < sizeof uris / sizeof uris[0]; i++) {
		CHECK((got = fetch_404(&e, "/nope", i)) != NULL);
		free(got);
		got = NULL;
		snprintf(want, sizeof want, " GET /nope%s 404 0 ",
		    uris[i].shown);
		log = env_log(&e);
		if (strstr(log, want) == NULL)
			UNIT_FAIL("no \"%s\" in the log:\n%s", want, log);
	}
	CHECK(strstr(env_log(&e), SECRET) == NULL);
end:
	free(got);
}

static const struct unit_test tests[] = {
	{ "stored headers: credentials as fingerprints", test_headers_json },
	{ "stored headers: which names are credentials",
	    test_headers_json_names },
	{ "error bodies show the URI with secrets REDACTED",
	    test_uri_in_error_body },
	{ "the access log shows the URI with secrets REDACTED",
	    test_uri_in_access_log },
	{ NULL, NULL }
};
UNIT_MAIN(tests)
