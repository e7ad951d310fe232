/*
 * test_tls.c: src/tls.c end to end, in one process: an evhttp server on
 * 127.0.0.1 with tls_server_bevcb, driven by evhttp clients over
 * tls_client_bev that verify against the generated ca.pem, and by raw
 * sockets that misbehave.  Log lines are captured to check that each
 * hostile client gets exactly one.
 *
 * EVENT_DEBUG_MODE=1 turns on libevent's debug mode (each case is a fresh
 * process).  NOTIMOCK_TLS_SOAK=N makes the "soak" case run N rounds
 * (default 4) of every kind of connection, 9 per round, for a leak check
 * under valgrind.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "log.h"
#include "tls.h"
#include "unit.h"

struct env {
	struct event_base	*base;
	struct evhttp		*http;
	struct tls_server	*tls;
	struct tls_client	*cli;
	int			 port;
	int			 saved_stderr;
	char			 dir[64];
	char			 ca[128];
	char			 log[128];
};

struct call {
	struct env		*env;
	int			*pending;
	int			 code;		/* -1: no response */
	struct evbuffer		*body;
};

/* When set, the listener's SO_SNDBUF (accepted sockets inherit it): a small
 * one keeps ciphertext queued in the socket bev, which is where replies
 * get lost without the lag (pitfall 2). */
static int	test_sndbuf;

/* Byte i of a /big/N reply. */
static unsigned char
pattern(size_t i)
{
	return ((unsigned char)(i * 7 + i / 4093));
}

static char *
slurp(const char *path)
{
	FILE	*f;
	char	*buf;
	long	 len;

	if ((f = fopen(path, "r")) == NULL)
		return (NULL);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)len + 1);
	if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return (buf);
}

static int
spew(const char *path, const char *data)
{
	FILE	*f;
	int	 rv;

	if ((f = fopen(path, "w")) == NULL)
		return (-1);
	rv = fputs(data, f) == EOF ? -1 : 0;
	return (fclose(f) == EOF ? -1 : rv);
}

/* Lines of the captured log that contain needle; *warns gets the number
 * of warning lines. */
static int
log_count(struct env *e, const char *needle, int *warns)
{
	char	*text, *line, *next;
	int	 n = 0;

	*warns = 0;
	if ((text = slurp(e->log)) == NULL)
		return (-1);
	for (line = text; *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (strstr(line, " warn ") != NULL)
			(*warns)++;
		if (strstr(line, needle) != NULL)
			n++;
	}
	free(text);
	return (n);
}

/* Start over with an empty log. */
static void
log_reset(struct env *e)
{
	if (ftruncate(2, 0) == -1 || lseek(2, 0, SEEK_SET) == -1)
		perror("log_reset");
}

/* What http.c's connection close callback does for TLS. */
static void
closecb(struct evhttp_connection *evcon, void *arg)
{
	tls_close_notify(evcon);
}

static void
handler(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*out;
	const char	*uri = evhttp_request_get_uri(req);
	unsigned char	*p;
	size_t		 n, i;

	evhttp_connection_set_closecb(evhttp_request_get_connection(req),
	    closecb, NULL);
	out = evbuffer_new();
	if (strstr(uri, "close=1") != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
	if (strcmp(uri, "/echo") == 0)
		evbuffer_add_buffer(out, evhttp_request_get_input_buffer(req));
	else if (strncmp(uri, "/big/", 5) == 0) {
		n = strtoul(uri + 5, NULL, 10);
		p = malloc(n + 1);
		for (i = 0; i < n; i++)
			p[i] = pattern(i);
		evbuffer_add(out, p, n);
		free(p);
	} else
		evbuffer_add(out, "ok", 2);
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

/* Start a TLS server with options o; with o NULL, on the generated
 * certificates in e->dir with these extra names and handshake timeout. */
static int
env_server(struct env *e, const struct tls_server_options *o,
    const char **sans, int hs_timeout, int http_timeout)
{
	struct tls_server_options	 def;
	struct evhttp_bound_socket	*bound;
	struct sockaddr_in		 sin;
	socklen_t			 len = sizeof sin;
	char				*cause = NULL;

	if (o == NULL) {
		memset(&def, 0, sizeof def);
		def.state_dir = e->dir;
		def.sans = sans;
		def.handshake_timeout = hs_timeout;
		o = &def;
	}
	if ((e->tls = tls_server_new(e->base, o, &cause)) == NULL) {
		fprintf(stderr, "# tls_server_new: %s\n", cause);
		free(cause);
		return (-1);
	}
	e->http = evhttp_new(e->base);
	evhttp_set_timeout(e->http, http_timeout);
	evhttp_set_bevcb(e->http, tls_server_bevcb, e->tls);
	evhttp_set_gencb(e->http, handler, e);
	if ((bound = evhttp_bind_socket_with_handle(e->http, "127.0.0.1",
	    0)) == NULL)
		return (-1);
	if (getsockname(evhttp_bound_socket_get_fd(bound),
	    (struct sockaddr *)&sin, &len) == -1)
		return (-1);
	e->port = ntohs(sin.sin_port);
	if (test_sndbuf != 0 && setsockopt(evhttp_bound_socket_get_fd(bound),
	    SOL_SOCKET, SO_SNDBUF, &test_sndbuf, sizeof test_sndbuf) == -1)
		return (-1);
	return (0);
}

/* A temporary directory, stderr captured to a file in it, an event base;
 * with serve, a server and a client trusting its CA. */
static int
env_setup(struct env *e, int serve, const char **sans, int hs_timeout,
    int http_timeout)
{
	char	*cause = NULL;
	int	 fd;

	memset(e, 0, sizeof *e);
	e->saved_stderr = -1;
	signal(SIGPIPE, SIG_IGN);
	log_init(0, 0);
	snprintf(e->dir, sizeof e->dir, "/tmp/test_tls.XXXXXX");
	if (mkdtemp(e->dir) == NULL)
		return (-1);
	snprintf(e->ca, sizeof e->ca, "%s/ca.pem", e->dir);
	snprintf(e->log, sizeof e->log, "%s/log", e->dir);
	if ((fd = open(e->log, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		return (-1);
	e->saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
	if (getenv("EVENT_DEBUG_MODE") != NULL)
		event_enable_debug_mode();
	if ((e->base = event_base_new()) == NULL)
		return (-1);
	if (!serve)
		return (0);
	if (env_server(e, NULL, sans, hs_timeout, http_timeout) == -1)
		return (-1);
	if ((e->cli = tls_client_new(e->ca, &cause)) == NULL) {
		fprintf(stderr, "# tls_client_new: %s\n", cause);
		free(cause);
		return (-1);
	}
	return (0);
}

static void
env_server_free(struct env *e)
{
	if (e->http != NULL)
		evhttp_free(e->http);
	e->http = NULL;
	tls_server_free(e->tls);
	e->tls = NULL;
}

/* Free everything; on failure, show the captured log. */
static void
env_teardown(struct env *e)
{
	char	*text, *line, *next, cmd[128];

	tls_client_free(e->cli);
	env_server_free(e);
	if (e->base != NULL)
		event_base_free(e->base);
	if (e->saved_stderr != -1) {
		dup2(e->saved_stderr, 2);
		close(e->saved_stderr);
		if (unit_failed && (text = slurp(e->log)) != NULL) {
			for (line = text; *line != '\0'; line = next) {
				if ((next = strchr(line, '\n')) != NULL)
					*next++ = '\0';
				else
					next = line + strlen(line);
				fprintf(stderr, "#   log: %s\n", line);
			}
			free(text);
		}
	}
	if (e->dir[0] != '\0') {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "# %s failed\n", cmd);
	}
}

static void
loop_timeout(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* Run the loop until *pending is 0 (or, with pending NULL, for ms). */
static int
run(struct env *e, int *pending, int ms)
{
	struct event	*t;
	struct timeval	 tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	t = evtimer_new(e->base, loop_timeout, e->base);
	evtimer_add(t, &tv);
	if (pending == NULL || *pending > 0)
		event_base_dispatch(e->base);
	event_free(t);
	return (pending == NULL || *pending == 0);
}

static void
call_done(struct evhttp_request *req, void *arg)
{
	struct call	*k = arg;

	k->code = -1;
	if (req != NULL && evhttp_request_get_response_code(req) != 0) {
		k->code = evhttp_request_get_response_code(req);
		evbuffer_add_buffer(k->body,
		    evhttp_request_get_input_buffer(req));
	}
	if (--*k->pending == 0)
		event_base_loopbreak(k->env->base);
}

static struct evhttp_connection *
tls_connect(struct env *e, struct tls_client *cli, const char *host)
{
	struct evhttp_connection	*evcon;

	evcon = evhttp_connection_base_bufferevent_new(e->base, NULL,
	    tls_client_bev(cli != NULL ? cli : e->cli, e->base, host),
	    "127.0.0.1", (ev_uint16_t)e->port);
	evhttp_connection_set_timeout(evcon, 5);
	return (evcon);
}

static void
call_start(struct env *e, struct evhttp_connection *evcon, struct call *k,
    int *pending, const char *uri, const void *body, size_t len)
{
	struct evhttp_request	*req;

	k->env = e;
	k->pending = pending;
	k->code = 0;
	if (k->body == NULL)
		k->body = evbuffer_new();
	req = evhttp_request_new(call_done, k);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
	    "localhost");
	if (body != NULL)
		evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	(*pending)++;
	evhttp_make_request(evcon, req, body != NULL ? EVHTTP_REQ_POST :
	    EVHTTP_REQ_GET, uri);
}

static void
call_free(struct call *k)
{
	if (k->body != NULL)
		evbuffer_free(k->body);
	k->body = NULL;
}

/* One GET on a new connection to host; the status, or -1. */
static int
get_once(struct env *e, struct tls_client *cli, const char *host)
{
	struct evhttp_connection	*evcon;
	struct call			 k;
	int				 pending = 0;

	memset(&k, 0, sizeof k);
	evcon = tls_connect(e, cli, host);
	call_start(e, evcon, &k, &pending, "/", NULL, 0);
	run(e, &pending, 5000);
	if (k.code == 200 && (evbuffer_get_length(k.body) != 2 ||
	    memcmp(evbuffer_pullup(k.body, -1), "ok", 2) != 0))
		k.code = 0;
	evhttp_connection_free(evcon);
	call_free(&k);
	return (k.code);
}

static int
body_is_pattern(struct evbuffer *b, size_t n)
{
	unsigned char	*p;
	size_t		 i;

	if (evbuffer_get_length(b) != n)
		return (0);
	p = evbuffer_pullup(b, -1);
	for (i = 0; i < n; i++)
		if (p[i] != pattern(i))
			return (0);
	return (1);
}

/* --- Raw, misbehaving clients ------------------------------------------- */

struct raw {
	struct env	*env;
	struct evbuffer	*got;
	int		 closed;
};

static void
raw_readcb(evutil_socket_t fd, short what, void *arg)
{
	struct raw	*r = arg;
	char		 buf[4096];
	ssize_t		 n;

	if ((n = read(fd, buf, sizeof buf)) > 0) {
		evbuffer_add(r->got, buf, (size_t)n);
		return;
	}
	if (n == -1 && errno == EAGAIN)
		return;
	r->closed = 1;
	event_base_loopbreak(r->env->base);
}

static int
raw_connect(struct env *e)
{
	struct sockaddr_in	sin;
	int			fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (-1);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)e->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/*
 * Connect, send len bytes, then either close at once (hangup) or collect
 * what the server sends until it closes or ms pass.  Returns 1 when the
 * server closed, 0 when not, -1 on a local error.
 */
/*
 * Run the loop until the server has closed n more connections than
 * before (tls_stats), however long the machine takes to get there:
 * a fixed pause raced the server's accept and read under make -j4.  The
 * bound only turns a hang into a failure.
 */
static void
run_until_closed(struct env *e, const struct tls_stats *before, uint64_t n)
{
	struct tls_stats	now;
	int			i;

	for (i = 0; i < 30000; i++) {		/* 10 ms slices, 5 min */
		tls_stats(&now);
		if (now.closed - before->closed >= n)
			return;
		run(e, NULL, 10);
	}
}

static int
raw_exchange(struct env *e, const void *data, size_t len, int hangup,
    struct evbuffer *got, int ms)
{
	struct raw		 r;
	struct event		*ev;
	struct tls_stats	 s0;
	int			 fd;

	tls_stats(&s0);
	if ((fd = raw_connect(e)) == -1)
		return (-1);
	if (len > 0 && write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return (-1);
	}
	if (hangup) {
		close(fd);
		run_until_closed(e, &s0, 1);
		return (1);
	}
	memset(&r, 0, sizeof r);
	r.env = e;
	r.got = got;
	evutil_make_socket_nonblocking(fd);
	ev = event_new(e->base, fd, EV_READ | EV_PERSIST, raw_readcb, &r);
	event_add(ev, NULL);
	/* raw_readcb breaks the loop when the server closes; ms is only the
	 * least we wait for that (a loaded machine may take longer). */
	run(e, NULL, ms > 60000 ? ms : 60000);
	event_free(ev);
	close(fd);
	run_until_closed(e, &s0, 1);
	return (r.closed);
}

/* The first bytes of a ClientHello: a record header promising 512 bytes. */
static const unsigned char half_hello[] = {
	0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
	0x5a, 0x17, 0x3c, 0x88, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
};

static const unsigned char garbage[] = {
	0x00, 0xff, 0x13, 0x37, 0x80, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe,
	0xef, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
	0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15
};

/* --- Tests ---------------------------------------------------------------- */

static void
test_state_files(void)
{
	struct env			 e;
	struct tls_server_options	 o;
	struct stat			 sb;
	const char			*sans[] = { "notimock.test", "10.1.2.3",
					    NULL };
	char				*ca = NULL, *file = NULL;
	char				*cert1 = NULL, *cert2 = NULL;
	char				*cert3 = NULL, *cause = NULL;
	char				 path[256];
	int				 saved = -1;

	if (env_setup(&e, 0, NULL, 0, 0) == -1)
		UNIT_FAIL("setup");
	memset(&o, 0, sizeof o);
	o.state_dir = e.dir;
	if ((e.tls = tls_server_new(e.base, &o, &cause)) == NULL)
		UNIT_FAIL("tls_server_new: %s", cause);
	ca = strdup(tls_server_ca_pem(e.tls));
	CHECK(strncmp(ca, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
	file = slurp(e.ca);
	CHECK_STR(file, ca);
	free(file);
	file = NULL;

	snprintf(path, sizeof path, "%s/ca-key.pem", e.dir);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	snprintf(path, sizeof path, "%s/key.pem", e.dir);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK(stat(e.ca, &sb) == 0 && (sb.st_mode & 0777) == 0644);
	snprintf(path, sizeof path, "%s/cert.pem", e.dir);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644);
	CHECK((cert1 = slurp(path)) != NULL);

	/* A restart reuses both. */
	tls_server_free(e.tls);
	if ((e.tls = tls_server_new(e.base, &o, &cause)) == NULL)
		UNIT_FAIL("tls_server_new again: %s", cause);
	CHECK_STR(tls_server_ca_pem(e.tls), ca);
	file = slurp(path);
	CHECK_STR(file, cert1);
	free(file);
	file = NULL;

	/* New names: a new leaf from the same CA. */
	tls_server_free(e.tls);
	o.sans = sans;
	if ((e.tls = tls_server_new(e.base, &o, &cause)) == NULL)
		UNIT_FAIL("tls_server_new with SANs: %s", cause);
	CHECK_STR(tls_server_ca_pem(e.tls), ca);
	CHECK((cert2 = slurp(path)) != NULL);
	CHECK(strcmp(cert1, cert2) != 0);

	/* Same names again, in another order: kept. */
	tls_server_free(e.tls);
	sans[0] = "10.1.2.3";
	sans[1] = "NotiMock.test";
	if ((e.tls = tls_server_new(e.base, &o, &cause)) == NULL)
		UNIT_FAIL("tls_server_new, same SANs: %s", cause);
	CHECK((cert3 = slurp(path)) != NULL);
	CHECK_STR(cert3, cert2);

	/* A bad name is refused with a reason. */
	tls_server_free(e.tls);
	e.tls = NULL;
	sans[0] = "bad name!";
	CHECK(tls_server_new(e.base, &o, &cause) == NULL);
	CHECK(cause != NULL && strstr(cause, "bad name!") != NULL);
end:
	if (saved != -1) {
		dup2(saved, 1);
		close(saved);
	}
	free(cause);
	free(file);
	free(ca);
	free(cert1);
	free(cert2);
	free(cert3);
	env_teardown(&e);
}

static void
test_get(void)
{
	struct env		e;
	struct tls_stats	s0, s1;
	int			warns;

	if (env_setup(&e, 1, NULL, 10, 10) == -1)
		UNIT_FAIL("setup");
	tls_stats(&s0);
	CHECK_INT(get_once(&e, NULL, "localhost"), 200);
	run(&e, NULL, 100);
	tls_stats(&s1);
	CHECK_INT(s1.opened - s0.opened, 1);
	CHECK_INT(s1.handshakes - s0.handshakes, 1);
	CHECK_INT(s1.closed - s0.closed, 1);
	CHECK_INT(s1.failed - s0.failed, 0);
	CHECK_INT(log_count(&e, "tls: serving CN=localhost (DNS:localhost, "
	    "IP:127.0.0.1, IP:::1), expires ", &warns), 1);
	CHECK_INT(warns, 0);
	CHECK(strstr(tls_version(), "mbed TLS 2.") == tls_version());
end:
	env_teardown(&e);
}

static void
test_keepalive(void)
{
	struct env			 e;
	struct evhttp_connection	*evcon = NULL;
	struct call			 k[50];
	struct tls_stats		 s0, s1;
	int				 pending = 0, i;

	memset(k, 0, sizeof k);
	if (env_setup(&e, 1, NULL, 10, 10) == -1)
		UNIT_FAIL("setup");
	tls_stats(&s0);
	evcon = tls_connect(&e, NULL, "localhost");
	for (i = 0; i < 50; i++)
		call_start(&e, evcon, &k[i], &pending, "/", NULL, 0);
	CHECK(run(&e, &pending, 8000));
	for (i = 0; i < 50; i++) {
		CHECK_INT(k[i].code, 200);
		CHECK_INT(evbuffer_get_length(k[i].body), 2);
	}
	tls_stats(&s1);
	CHECK_INT(s1.opened - s0.opened, 1);
	CHECK_INT(s1.handshakes - s0.handshakes, 1);
end:
	if (evcon != NULL)
		evhttp_connection_free(evcon);
	for (i = 0; i < 50; i++)
		call_free(&k[i]);
	env_teardown(&e);
}

static void
test_conn_per_request(void)
{
	struct env			 e;
	struct evhttp_connection	*evcon[20];
	struct call			 k[20];
	struct tls_stats		 s0, s1;
	int				 pending = 0, i, warns;

	memset(k, 0, sizeof k);
	memset(evcon, 0, sizeof evcon);
	if (env_setup(&e, 1, NULL, 10, 10) == -1)
		UNIT_FAIL("setup");
	tls_stats(&s0);
	for (i = 0; i < 20; i++) {
		evcon[i] = tls_connect(&e, NULL, "localhost");
		call_start(&e, evcon[i], &k[i], &pending, "/", NULL, 0);
	}
	CHECK(run(&e, &pending, 8000));
	for (i = 0; i < 20; i++)
		CHECK_INT(k[i].code, 200);
	for (i = 0; i < 20; i++) {
		evhttp_connection_free(evcon[i]);
		evcon[i] = NULL;
	}
	run(&e, NULL, 200);
	tls_stats(&s1);
	CHECK_INT(s1.opened - s0.opened, 20);
	CHECK_INT(s1.handshakes - s0.handshakes, 20);
	CHECK_INT(s1.closed - s0.closed, 20);
	CHECK_INT(s1.failed - s0.failed, 0);
	log_count(&e, "", &warns);
	CHECK_INT(warns, 0);
end:
	for (i = 0; i < 20; i++) {
		if (evcon[i] != NULL)
			evhttp_connection_free(evcon[i]);
		call_free(&k[i]);
	}
	env_teardown(&e);
}

static void
test_post_1mb(void)
{
	struct env			 e;
	struct evhttp_connection	*evcon = NULL;
	struct call			 k;
	unsigned char			*body = NULL;
	size_t				 n = 1024 * 1024, i;
	int				 pending = 0;

	memset(&k, 0, sizeof k);
	if (env_setup(&e, 1, NULL, 10, 10) == -1)
		UNIT_FAIL("setup");
	body = malloc(n);
	for (i = 0; i < n; i++)
		body[i] = pattern(i);
	evcon = tls_connect(&e, NULL, "localhost");
	call_start(&e, evcon, &k, &pending, "/echo", body, n);
	CHECK(run(&e, &pending, 8000));
	CHECK_INT(k.code, 200);
	CHECK(body_is_pattern(k.body, n));
end:
	if (evcon != NULL)
		evhttp_connection_free(evcon);
	call_free(&k);
	free(body);
	env_teardown(&e);
}

/* Pitfall 2: a Connection: close reply must not be cut off; then evhttp
 * reconnects on the same bufferevent for the next request. */
static void
test_close_reply(void)
{
	struct env			 e;
	struct evhttp_connection	*evcon = NULL;
	struct call			 k[4];
	struct tls_stats		 s0, s1;
	int				 pending = 0, i;

	memset(k, 0, sizeof k);
	test_sndbuf = 8192;
	if (env_setup(&e, 1, NULL, 10, 10) == -1)
		UNIT_FAIL("setup");
	tls_stats(&s0);
	evcon = tls_connect(&e, NULL, "localhost");
	call_start(&e, evcon, &k[0], &pending, "/big/2000000?close=1", NULL,
	    0);
	call_start(&e, evcon, &k[1], &pending, "/?close=1", NULL, 0);
	call_start(&e, evcon, &k[2], &pending, "/big/4000000", NULL, 0);
	call_start(&e, evcon, &k[3], &pending, "/big/4000000", NULL, 0);
	CHECK(run(&e, &pending, 8000));
	for (i = 0; i < 4; i++)
		CHECK_INT(k[i].code, 200);
	CHECK(body_is_pattern(k[0].body, 2000000));
	CHECK_INT(evbuffer_get_length(k[1].body), 2);
	CHECK(body_is_pattern(k[2].body, 4000000));
	CHECK(body_is_pattern(k[3].body, 4000000));
	tls_stats(&s1);
	CHECK_INT(s1.opened - s0.opened, 3);
	CHECK_INT(s1.handshakes - s0.handshakes, 3);
end:
	if (evcon != NULL)
		evhttp_connection_free(evcon);
	for (i = 0; i < 4; i++)
		call_free(&k[i]);
	env_teardown(&e);
}

static void
test_verify(void)
{
	struct env		 e;
	struct tls_client	*other = NULL;
	const char		*sans[] = { "notimock.test", "10.1.2.3", NULL };
	char			 dir2[64], path[128], *cause = NULL;
	char			*crt = NULL, *key = NULL;
	FILE			*f;
	const char		*why;
	int			 warns;

	dir2[0] = '\0';
	if (env_setup(&e, 1, sans, 10, 10) == -1)
		UNIT_FAIL("setup");
	CHECK_INT(get_once(&e, NULL, "localhost"), 200);
	CHECK_INT(get_once(&e, NULL, "notimock.test"), 200);
	CHECK_INT(get_once(&e, NULL, "127.0.0.1"), 200);
	CHECK_INT(get_once(&e, NULL, "10.1.2.3"), 200);
	CHECK_INT(get_once(&e, NULL, "::1"), 200);
	/* A client logs nothing: it tells the command why (the CLI). */
	log_reset(&e);
	CHECK_INT(get_once(&e, NULL, "wrong.test"), -1);
	CHECK_INT(tls_client_error(e.cli, &why), TLS_CLIENT_UNTRUSTED);
	CHECK(strstr(why, "handshake failed: ") != NULL);
	CHECK(strstr(why, "does not match with the expected CN "
	    "(certificate verification failed)") != NULL);
	CHECK_INT(get_once(&e, NULL, "10.9.9.9"), -1);
	CHECK_INT(tls_client_error(e.cli, &why), TLS_CLIENT_UNTRUSTED);
	CHECK(strstr(why, "does not match with the expected CN") != NULL);
	CHECK_INT(log_count(&e, "tls: wrong.test", &warns), 0);
	CHECK_INT(get_once(&e, NULL, "localhost"), 200);
	CHECK_INT(tls_client_error(e.cli, &why), TLS_CLIENT_OK);

	/* Another CA is not trusted. */
	snprintf(dir2, sizeof dir2, "/tmp/test_tls.XXXXXX");
	CHECK(mkdtemp(dir2) != NULL);
	CHECK(tls_ca_create(&crt, &key, &cause) == 0);
	CHECK(strncmp(crt, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
	CHECK(strstr(key, "PRIVATE KEY-----\n") != NULL);
	snprintf(path, sizeof path, "%s/ca.pem", dir2);
	CHECK((f = fopen(path, "w")) != NULL && fputs(crt, f) != EOF &&
	    fclose(f) == 0);
	if ((other = tls_client_new(path, &cause)) == NULL)
		UNIT_FAIL("tls_client_new: %s", cause);
	log_reset(&e);
	CHECK_INT(get_once(&e, other, "localhost"), -1);
	CHECK_INT(tls_client_error(other, &why), TLS_CLIENT_UNTRUSTED);
	CHECK(strstr(why, "not correctly signed by the trusted CA") != NULL);

	CHECK(tls_client_new("/nonexistent/ca.pem", &cause) == NULL);
	CHECK(strstr(cause, "/nonexistent/ca.pem") != NULL);
end:
	free(cause);
	free(crt);
	free(key);
	tls_client_free(other);
	if (dir2[0] != '\0') {
		snprintf(path, sizeof path, "rm -rf '%s'", dir2);
		if (system(path) != 0)
			fprintf(stderr, "# %s failed\n", path);
	}
	env_teardown(&e);
}

/* The server's idle timeout closes a keep-alive connection (close_notify,
 * then FIN); evhttp reconnects on the same bufferevent for the next one. */
static void
test_idle_reconnect(void)
{
	struct env			 e;
	struct evhttp_connection	*evcon = NULL;
	struct call			 k[2];
	struct tls_stats		 s0, s1;
	int				 pending = 0, warns;

	memset(k, 0, sizeof k);
	if (env_setup(&e, 1, NULL, 10, 1) == -1)
		UNIT_FAIL("setup");
	tls_stats(&s0);
	evcon = tls_connect(&e, NULL, "localhost");
	call_start(&e, evcon, &k[0], &pending, "/", NULL, 0);
	CHECK(run(&e, &pending, 3000));
	run(&e, NULL, 2500);
	tls_stats(&s1);
	CHECK_INT(s1.closed - s0.closed, 1);
	call_start(&e, evcon, &k[1], &pending, "/", NULL, 0);
	CHECK(run(&e, &pending, 3000));
	CHECK_INT(k[0].code, 200);
	CHECK_INT(k[1].code, 200);
	tls_stats(&s1);
	CHECK_INT(s1.opened - s0.opened, 2);
	CHECK_INT(s1.handshakes - s0.handshakes, 2);
	log_count(&e, "", &warns);
	CHECK_INT(warns, 0);
end:
	if (evcon != NULL)
		evhttp_connection_free(evcon);
	call_free(&k[0]);
	call_free(&k[1]);
	env_teardown(&e);
}

/* Nothing listens: the request fails, with the reason in the log. */
static void
test_refused(void)
{
	struct env		e;
	struct sockaddr_in	sin;
	socklen_t		len = sizeof sin;
	const char		*why;
	int			fd = -1, warns;

	if (env_setup(&e, 1, NULL, 10, 10) == -1)
		UNIT_FAIL("setup");
	CHECK((fd = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
	close(fd);
	fd = -1;
	e.port = ntohs(sin.sin_port);
	log_reset(&e);
	CHECK_INT(get_once(&e, NULL, "localhost"), -1);
	CHECK_INT(tls_client_error(e.cli, &why), TLS_CLIENT_FAILED);
	CHECK_STR(why, "connect: Connection refused");
	CHECK_INT(log_count(&e, "", &warns), 0);
end:
	if (fd != -1)
		close(fd);
	env_teardown(&e);
}

static void
test_hostile_hangup(void)
{
	struct env		e;
	struct tls_stats	s0, s1;
	int			warns;

	if (env_setup(&e, 1, NULL, 10, 10) == -1)
		UNIT_FAIL("setup");
	log_reset(&e);
	tls_stats(&s0);
	CHECK_INT(raw_exchange(&e, NULL, 0, 1, NULL, 0), 1);
	tls_stats(&s1);
	CHECK_INT(s1.opened - s0.opened, 1);
	CHECK_INT(s1.closed - s0.closed, 1);
	CHECK_INT(s1.failed - s0.failed, 0);
	log_count(&e, "", &warns);
	CHECK_INT(warns, 0);
	CHECK_INT(get_once(&e, NULL, "localhost"), 200);
end:
	env_teardown(&e);
}

static void
test_hostile_half_hello(void)
{
	struct env		e;
	struct tls_stats	s0, s1;
	int			warns;

	if (env_setup(&e, 1, NULL, 10, 10) == -1)
		UNIT_FAIL("setup");
	log_reset(&e);
	tls_stats(&s0);
	CHECK_INT(raw_exchange(&e, half_hello, sizeof half_hello, 1, NULL, 0),
	    1);
	tls_stats(&s1);
	CHECK_INT(s1.opened - s0.opened, 1);
	CHECK_INT(s1.closed - s0.closed, 1);
	CHECK_INT(s1.failed - s0.failed, 1);
	CHECK_INT(log_count(&e, "tls: 127.0.0.1:", &warns), 1);
	CHECK_INT(log_count(&e, "connection closed during the handshake",
	    &warns), 1);
	CHECK_INT(warns, 1);
	CHECK_INT(get_once(&e, NULL, "localhost"), 200);
end:
	env_teardown(&e);
}

static void
test_hostile_garbage(void)
{
	struct env		 e;
	struct evbuffer		*got = evbuffer_new();
	struct tls_stats	 s0, s1;
	int			 warns;

	if (env_setup(&e, 1, NULL, 10, 10) == -1)
		UNIT_FAIL("setup");
	log_reset(&e);
	tls_stats(&s0);
	/* The server closes on its own, at once. */
	CHECK_INT(raw_exchange(&e, garbage, sizeof garbage, 0, got, 2000), 1);
	tls_stats(&s1);
	CHECK_INT(s1.closed - s0.closed, 1);
	CHECK_INT(s1.failed - s0.failed, 1);
	CHECK_INT(log_count(&e, "handshake failed: ", &warns), 1);
	CHECK_INT(warns, 1);
	CHECK_INT(get_once(&e, NULL, "localhost"), 200);
end:
	evbuffer_free(got);
	env_teardown(&e);
}

static void
test_hostile_plain_http(void)
{
	static const char	 req1[] = "GET /notifications?limit=1 "
				    "HTTP/1.1\r\nHost: localhost\r\n\r\n";
	static const char	 req2[] = "POST /api/notifications/x\"y "
				    "HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
				    "hello";
	static const char	 req3[] = "hello\n";
	static const char	 head[] = "HTTP/1.1 400 Bad Request\r\n"
				    "Content-Type: application/json; "
				    "charset=utf-8\r\n";
	struct env		 e;
	struct evbuffer		*got = evbuffer_new();
	struct tls_stats	 s0, s1;
	char			*text = NULL, *body;
	int			 warns;

	if (env_setup(&e, 1, NULL, 10, 10) == -1)
		UNIT_FAIL("setup");
	log_reset(&e);
	tls_stats(&s0);
	CHECK_INT(raw_exchange(&e, req1, strlen(req1), 0, got, 2000), 1);
	evbuffer_add(got, "", 1);
	text = strdup((char *)evbuffer_pullup(got, -1));
	CHECK(strncmp(text, head, strlen(head)) == 0);
	CHECK(strstr(text, "\r\nConnection: close\r\n") != NULL);
	CHECK((body = strstr(text, "\r\n\r\n")) != NULL);
	CHECK_STR(body + 4, "{\"error\":{\"name\":\"InputError\",\"message\":"
	    "\"This port speaks TLS: use https://\"},\"request\":{\"method\":"
	    "\"GET\",\"url\":\"/notifications?limit=1\"},\"response\":"
	    "{\"statusCode\":400}}");
	CHECK(strstr(text, "Content-Length: 166\r\n") != NULL);
	CHECK_INT(strlen(body + 4), 166);

	evbuffer_drain(got, evbuffer_get_length(got));
	free(text);
	CHECK_INT(raw_exchange(&e, req2, strlen(req2), 0, got, 2000), 1);
	evbuffer_add(got, "", 1);
	text = strdup((char *)evbuffer_pullup(got, -1));
	CHECK(strstr(text, "\"request\":{\"method\":\"POST\",\"url\":"
	    "\"/api/notifications/x\\\"y\"}") != NULL);

	evbuffer_drain(got, evbuffer_get_length(got));
	free(text);
	CHECK_INT(raw_exchange(&e, req3, strlen(req3), 0, got, 2000), 1);
	evbuffer_add(got, "", 1);
	text = strdup((char *)evbuffer_pullup(got, -1));
	CHECK(strstr(text, "\"request\":{\"method\":\"GET\",\"url\":\"/\"}")
	    != NULL);

	tls_stats(&s1);
	CHECK_INT(s1.plain_http - s0.plain_http, 3);
	CHECK_INT(s1.closed - s0.closed, 3);
	CHECK_INT(s1.failed - s0.failed, 0);
	CHECK_INT(log_count(&e, "plain HTTP on the TLS port (GET "
	    "/notifications?limit=1): answered 400", &warns), 1);
	CHECK_INT(log_count(&e, "(POST /api/notifications/x\\x22y)",
	    &warns), 1);
	CHECK_INT(warns, 3);
	CHECK_INT(get_once(&e, NULL, "localhost"), 200);
end:
	free(text);
	evbuffer_free(got);
	env_teardown(&e);
}

/* Our handshake timeout, and evhttp's timeout when ours is off. */
static void
test_hostile_stall(void)
{
	struct env		 e;
	struct evbuffer		*got = evbuffer_new();
	struct tls_stats	 s0, s1;
	struct timeval		 t0, t1;
	double			 secs;
	int			 warns;

	if (env_setup(&e, 1, NULL, 1, 30) == -1)
		UNIT_FAIL("setup");
	log_reset(&e);
	tls_stats(&s0);
	gettimeofday(&t0, NULL);
	CHECK_INT(raw_exchange(&e, half_hello, 5, 0, got, 4000), 1);
	gettimeofday(&t1, NULL);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_usec - t0.tv_usec) / 1e6;
	CHECK(secs > 0.9 && secs < 3);
	CHECK_INT(log_count(&e, "handshake timed out after 1 s", &warns), 1);
	CHECK_INT(warns, 1);
	tls_stats(&s1);
	CHECK_INT(s1.failed - s0.failed, 1);
	CHECK_INT(s1.closed - s0.closed, 1);

	env_server_free(&e);
	if (env_server(&e, NULL, NULL, 0, 1) == -1)
		UNIT_FAIL("second server");
	log_reset(&e);
	CHECK_INT(raw_exchange(&e, half_hello, 5, 0, got, 4000), 1);
	CHECK_INT(log_count(&e, "closed before the handshake finished",
	    &warns), 1);
	CHECK_INT(warns, 1);
end:
	evbuffer_free(got);
	env_teardown(&e);
}

/* --cert and --key: an EC chain (leaf + CA) and an RSA pair from openssl. */
static void
test_given_files(void)
{
	struct env			 e;
	struct tls_server_options	 o;
	struct tls_client		*rsa = NULL;
	char				 chain[128], key[128], cmd[1024];
	char				*cert = NULL, *ca = NULL, *both = NULL;
	char				*cause = NULL;

	if (env_setup(&e, 1, NULL, 10, 10) == -1)
		UNIT_FAIL("setup");
	snprintf(chain, sizeof chain, "%s/cert.pem", e.dir);
	snprintf(key, sizeof key, "%s/key.pem", e.dir);
	CHECK((cert = slurp(chain)) != NULL && (ca = slurp(e.ca)) != NULL);
	CHECK(asprintf(&both, "%s%s", cert, ca) != -1);
	snprintf(chain, sizeof chain, "%s/chain.pem", e.dir);
	CHECK(spew(chain, both) == 0);

	/* The chain is served; clients are pointed at its last certificate. */
	env_server_free(&e);
	memset(&o, 0, sizeof o);
	o.cert_file = chain;
	o.key_file = key;
	o.handshake_timeout = 10;
	if (env_server(&e, &o, NULL, 0, 10) == -1)
		UNIT_FAIL("server on the chain");
	CHECK_STR(tls_server_ca_pem(e.tls), ca);
	CHECK_INT(get_once(&e, NULL, "localhost"), 200);

	/* Without a key, or with one that does not match: refused. */
	o.key_file = NULL;
	CHECK(tls_server_new(e.base, &o, &cause) == NULL);
	free(cause);
	cause = NULL;
	snprintf(key, sizeof key, "%s/ca-key.pem", e.dir);
	o.key_file = key;
	CHECK(tls_server_new(e.base, &o, &cause) == NULL);
	CHECK(cause != NULL && strstr(cause, "does not match") != NULL);
	free(cause);
	cause = NULL;

	/* An RSA certificate made by openssl. */
	if (system("command -v openssl >/dev/null") != 0)
		goto end;	/* no openssl: skip the RSA part */
	snprintf(cmd, sizeof cmd, "openssl req -x509 -newkey rsa:2048 -nodes "
	    "-keyout %s/rsa.key -out %s/rsa.pem -days 2 -subj /CN=localhost "
	    "-addext subjectAltName=DNS:localhost >/dev/null 2>&1", e.dir,
	    e.dir);
	CHECK(system(cmd) == 0);
	env_server_free(&e);
	snprintf(chain, sizeof chain, "%s/rsa.pem", e.dir);
	snprintf(key, sizeof key, "%s/rsa.key", e.dir);
	o.cert_file = chain;
	o.key_file = key;
	if (env_server(&e, &o, NULL, 0, 10) == -1)
		UNIT_FAIL("server on the RSA pair");
	if ((rsa = tls_client_new(chain, &cause)) == NULL)
		UNIT_FAIL("tls_client_new: %s", cause);
	CHECK_INT(get_once(&e, rsa, "localhost"), 200);
	CHECK_INT(get_once(&e, NULL, "localhost"), -1);
end:
	free(cause);
	free(cert);
	free(ca);
	free(both);
	tls_client_free(rsa);
	env_teardown(&e);
}

/* A leaf close to expiry is issued again, from the same CA. */
static void
test_renew(void)
{
	struct env			 e;
	struct tls_server_options	 o;
	char				 cmd[2048], *ca = NULL, *cause = NULL;
	int				 warns;

	if (env_setup(&e, 0, NULL, 0, 0) == -1)
		UNIT_FAIL("setup");
	memset(&o, 0, sizeof o);
	o.state_dir = e.dir;
	/* The generated CA, as a first start makes it. */
	if ((e.tls = tls_server_new(e.base, &o, &cause)) == NULL)
		UNIT_FAIL("tls_server_new: %s", cause);
	tls_server_free(e.tls);
	e.tls = NULL;
	CHECK((ca = slurp(e.ca)) != NULL);
	if (system("command -v openssl >/dev/null") != 0)
		goto end;	/* no openssl: skip */
	/* A leaf with our names, signed by our CA, valid for 10 days. */
	snprintf(cmd, sizeof cmd, "cd %s && "
	    "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\\n' "
	    ">ext && openssl req -new -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -keyout key.pem -subj "
	    "/CN=localhost -out csr 2>/dev/null && openssl x509 -req -in csr "
	    "-CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 10 "
	    "-extfile ext -out cert.pem 2>/dev/null && "
	    "openssl x509 -checkend 2592000 -noout -in cert.pem >/dev/null",
	    e.dir);
	CHECK(system(cmd) == 1 << 8);	/* made; -checkend says "expires" */
	/* Same names, still valid: only the expiry forces a new one. */
	log_reset(&e);
	if ((e.tls = tls_server_new(e.base, &o, &cause)) == NULL)
		UNIT_FAIL("tls_server_new: %s", cause);
	CHECK_INT(log_count(&e, "(it expires within 30 days)", &warns), 1);
	CHECK_STR(tls_server_ca_pem(e.tls), ca);
	snprintf(cmd, sizeof cmd, "openssl x509 -checkend 2592000 -noout -in "
	    "%s/cert.pem >/dev/null && openssl verify -CAfile %s/ca.pem "
	    "%s/cert.pem >/dev/null", e.dir, e.dir, e.dir);
	CHECK(system(cmd) == 0);
end:
	free(cause);
	free(ca);
	env_teardown(&e);
}

/* Every kind of connection, N rounds; nothing may be left behind. */
static void
test_soak(void)
{
	struct env			 e;
	struct evhttp_connection	*evcon = NULL;
	struct evbuffer			*got = evbuffer_new();
	struct call			 k[4];
	struct tls_stats		 s0, s1;
	const char			*env;
	unsigned char			*body = NULL;
	size_t				 n = 1024 * 1024, i;
	int				 rounds = 4, r, pending, j;

	memset(k, 0, sizeof k);
	if ((env = getenv("NOTIMOCK_TLS_SOAK")) != NULL) {
		rounds = atoi(env);
		alarm(1800);
	}
	test_sndbuf = 8192;
	if (env_setup(&e, 1, NULL, 5, 5) == -1)
		UNIT_FAIL("setup");
	body = malloc(n);
	for (i = 0; i < n; i++)
		body[i] = pattern(i);
	tls_stats(&s0);
	for (r = 0; r < rounds; r++) {
		for (j = 0; j < 3; j++)
			CHECK_INT(get_once(&e, NULL, "localhost"), 200);

		evcon = tls_connect(&e, NULL, "localhost");
		pending = 0;
		call_start(&e, evcon, &k[0], &pending, "/", NULL, 0);
		call_start(&e, evcon, &k[1], &pending, "/echo", body, n);
		call_start(&e, evcon, &k[2], &pending, "/big/300000?close=1",
		    NULL, 0);
		call_start(&e, evcon, &k[3], &pending, "/", NULL, 0);
		CHECK(run(&e, &pending, 60000));
		for (j = 0; j < 4; j++)
			CHECK_INT(k[j].code, 200);
		CHECK(body_is_pattern(k[1].body, n));
		CHECK(body_is_pattern(k[2].body, 300000));
		for (j = 0; j < 4; j++)
			call_free(&k[j]);
		evhttp_connection_free(evcon);
		evcon = NULL;

		CHECK_INT(raw_exchange(&e, NULL, 0, 1, NULL, 0), 1);
		CHECK_INT(raw_exchange(&e, half_hello, sizeof half_hello, 1,
		    NULL, 0), 1);
		CHECK_INT(raw_exchange(&e, garbage, sizeof garbage, 0, got,
		    5000), 1);
		CHECK_INT(raw_exchange(&e, "GET / HTTP/1.0\r\n\r\n", 18, 0,
		    got, 5000), 1);
		evbuffer_drain(got, evbuffer_get_length(got));
	}
	run(&e, NULL, 300);
	tls_stats(&s1);
	CHECK_INT(s1.opened - s0.opened, rounds * 9);
	CHECK_INT(s1.closed - s0.closed, rounds * 9);
	CHECK_INT(s1.handshakes - s0.handshakes, rounds * 5);
	CHECK_INT(s1.failed - s0.failed, rounds * 2);
	CHECK_INT(s1.plain_http - s0.plain_http, rounds);
end:
	if (evcon != NULL)
		evhttp_connection_free(evcon);
	for (j = 0; j < 4; j++)
		call_free(&k[j]);
	free(body);
	evbuffer_free(got);
	env_teardown(&e);
}

static const struct unit_test tests[] = {
	{ "generated CA and leaf: files, modes, reuse, new SANs",
	    test_state_files },
	{ "GET over TLS", test_get },
	{ "keep-alive: 50 requests on one connection", test_keepalive },
	{ "a new connection per request", test_conn_per_request },
	{ "1 MB POST echoed", test_post_1mb },
	{ "Connection: close reply not lost, then reconnect",
	    test_close_reply },
	{ "client verification: names, IPs, wrong CA", test_verify },
	{ "idle keep-alive closed by the server, client reconnects",
	    test_idle_reconnect },
	{ "connection refused is reported", test_refused },
	{ "hostile: connect and close", test_hostile_hangup },
	{ "hostile: half a ClientHello", test_hostile_half_hello },
	{ "hostile: garbage", test_hostile_garbage },
	{ "hostile: plain HTTP gets a JSON 400", test_hostile_plain_http },
	{ "hostile: stalled handshake times out", test_hostile_stall },
	{ "given certificate and key files (EC chain, RSA)", test_given_files },
	{ "leaf close to expiry is issued again", test_renew },
	{ "soak: every kind of connection, nothing left", test_soak },
	{ NULL, NULL }
};

UNIT_MAIN(tests)
