/*
 * fuzz_http: a whole HTTP request (or several, pipelined) through the
 * server's own request path: the input is written, as a client would, to
 * a real notimock listener in this process (evhttp, the connection bounds
 * and deadlines of http.c, the route table, the plugin, the read side with
 * a user token, /mock/, metrics, the inbox), with a temporary database and
 * a small catalog.  The client half-closes after its bytes and reads the
 * reply until the server closes, so a request that is never answered, or
 * a loop that stops turning, shows as a libFuzzer timeout.
 *
 * The socket is loopback TCP because evhttp takes connections only from a
 * listener; the client ends with a RST so no TIME_WAIT piles up.  State
 * (stored deliveries, fault rules) carries over between inputs, as it
 * does in a running server; retention keeps the database small.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#include "auth.h"
#include "catalog.h"
#include "crypto.h"
#include "db.h"
#include "diag.h"
#include "dispatch.h"
#include "fault.h"
#include "fuzz.h"
#include "http.h"
#include "metrics.h"
#include "mock.h"
#include "server.h"
#include "settings.h"
#include "util.h"
#include "xmalloc.h"

/* The credentials the seed corpus uses (fuzz/corpus/http/). */
#define FUZZ_HTTP_TOKEN		"fuzz-service-token-0123456789"
#define FUZZ_HTTP_USER		"fuzz-user-token-0123456789"

/* How long one input may keep its connection (a fault rule may hold a
 * reply; the client's half-close ends long-polls and streams). */
#define FUZZ_HTTP_CAP_US	(5 * 1000 * 1000)
static const struct timeval fuzz_http_cap = { 5, 0 };

static struct server	 fuzz_srv;
static struct settings	 fuzz_set;
static struct sockaddr_in fuzz_addr;

static const char fuzz_http_catalog[] =
    "apiVersion: backstage.io/v1alpha1\n"
    "kind: Group\n"
    "metadata: {name: team}\n"
    "spec: {type: team, children: [], members: [guest, alice]}\n"
    "---\n"
    "apiVersion: backstage.io/v1alpha1\n"
    "kind: User\n"
    "metadata: {name: alice}\n"
    "spec: {memberOf: [team]}\n"
    "---\n"
    "apiVersion: backstage.io/v1alpha1\n"
    "kind: Component\n"
    "metadata: {name: x}\n"
    "spec: {owner: group:team, type: service, lifecycle: prod}\n";

static void
fuzz_http_die(const char *what, const char *cause)
{
	fprintf(stderr, "fuzz_http: %s: %s\n", what, cause);
	abort();
}

static void
fuzz_http_port(struct evhttp_bound_socket *bound, void *arg)
{
	struct sockaddr_in	*sin = arg;
	socklen_t		 len = sizeof *sin;

	if (getsockname(evhttp_bound_socket_get_fd(bound),
	    (struct sockaddr *)sin, &len) == -1)
		fuzz_http_die("getsockname", strerror(errno));
}

/* The temporary directory goes when the process does. */
static char	 fuzz_http_dir[] = "/tmp/fuzz_http.XXXXXX";

static void
fuzz_http_cleanup(void)
{
	static const char	*names[] = { "notimock.db", "notimock.db-wal",
	    "notimock.db-shm", "notimock.db-journal", "catalog.yaml",
	    "notimock-user-token.key" };
	char			 path[64];
	size_t			 i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", fuzz_http_dir, names[i]);
		(void)unlink(path);
	}
	(void)rmdir(fuzz_http_dir);
}

/* notimock_serve's start-up (src/notimock.c: settings, catalog, store and
 * dispatch_start, the modules' one start), with a plain listener on a
 * port of its own. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char		*dir = fuzz_http_dir;
	static char	*db;		/* settings keep pointing at it */
	struct server	*srv = &fuzz_srv;
	char		*cat, *cause = NULL;
	char		*args[32];
	unsigned char	 key[CRYPTO_FP_KEY_LEN];
	int		 n = 0;
	FILE		*f;

	(void)argc;
	(void)argv;
	log_init(-2, 0);
	if (mkdtemp(dir) == NULL)
		fuzz_http_die("mkdtemp", strerror(errno));
	atexit(fuzz_http_cleanup);
	xasprintf(&db, "%s/notimock.db", dir);
	xasprintf(&cat, "%s/catalog.yaml", dir);
	if ((f = fopen(cat, "w")) == NULL ||
	    fputs(fuzz_http_catalog, f) == EOF || fclose(f) == EOF)
		fuzz_http_die(cat, strerror(errno));

	args[n++] = "fuzz_http";
	args[n++] = "--listen";
	args[n++] = "127.0.0.1:0";
	args[n++] = "--tls-listen";
	args[n++] = "off";
	args[n++] = "--db";
	args[n++] = db;
	args[n++] = "--token";
	args[n++] = FUZZ_HTTP_TOKEN ":argocd";
	args[n++] = "--user-token";
	args[n++] = FUZZ_HTTP_USER "=user:default/guest";
	args[n++] = "--catalog";
	args[n++] = cat;
	args[n++] = "--retain-count";
	args[n++] = "500";
	args[n++] = "--base-url";
	args[n++] = "http://localhost:3000";
	args[n] = NULL;
	optind = 1;
	memset(srv, 0, sizeof *srv);
	if ((srv->config = settings_load(&fuzz_set, n, args, &cause)) == NULL)
		fuzz_http_die("settings", cause);
	srv->settings = &fuzz_set;
	/* FUZZ_HTTP_LOG=1 shows the access log: what each seed reached. */
	log_init(getenv("FUZZ_HTTP_LOG") != NULL ? 0 : -2, 0);
	if ((srv->auth = auth_new(&fuzz_set, srv->config, &cause)) == NULL)
		fuzz_http_die("auth", cause);
	xasprintf(&srv->base_url, "%s/", fuzz_set.base_url);
	if ((srv->catalog = catalog_load(fuzz_set.catalogs.v,
	    fuzz_set.catalogs.n, &cause)) == NULL)
		fuzz_http_die("catalog", cause);
	metrics_init(srv);
	srv->faults = fault_new();
	signal(SIGPIPE, SIG_IGN);
	if ((srv->base = server_base_new()) == NULL)
		fuzz_http_die("server_base_new", "failed");
	if ((srv->db = db_open(fuzz_set.db, 0, &cause)) == NULL)
		fuzz_http_die("database", cause);
	if (db_fingerprint_key(srv->db, key, util_random, &cause) == -1)
		fuzz_http_die("database", cause);
	crypto_fingerprint_setkey(key);
	auth_refingerprint(srv->auth);
	srv->diag = diag_new();
	if (dispatch_start(srv, &cause) == -1)	/* as notimock serve does */
		fuzz_http_die("start", cause);
	evhttp_foreach_bound_socket(srv->http, fuzz_http_port, &fuzz_addr);
	free(cat);
	return (0);
}

/* One client connection, driven by the server's own event loop. */
struct fuzz_http_client {
	int			 fd;
	const uint8_t		*data;
	size_t			 len, off;
	size_t			 got;		/* reply bytes read */
	int			 done;		/* the server closed */
	struct event		*ev;
};

static void
fuzz_http_client_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fuzz_http_client	*c = arg;
	char			 buf[16384];
	ssize_t			 n;

	if ((what & EV_TIMEOUT) != 0) {
		c->done = 1;		/* held past the cap: give up */
		event_del(c->ev);
		return;
	}
	if ((what & EV_READ) != 0) {
		while ((n = read(fd, buf, sizeof buf)) > 0)
			c->got += (size_t)n;
		if (n == 0 || (n == -1 && errno != EAGAIN &&
		    errno != EWOULDBLOCK && errno != EINTR)) {
			c->done = 1;
			event_del(c->ev);	/* EOF stays readable */
			return;
		}
	}
	if ((what & EV_WRITE) != 0 && c->off < c->len) {
		n = write(fd, c->data + c->off, c->len - c->off);
		if (n > 0)
			c->off += (size_t)n;
		else if (n == -1 && errno != EAGAIN && errno != EINTR)
			c->off = c->len;	/* refused: stop writing */
		if (c->off == c->len) {
			event_del(c->ev);
			event_assign(c->ev, fuzz_srv.base, fd,
			    EV_READ | EV_PERSIST, fuzz_http_client_cb, c);
			event_add(c->ev, &fuzz_http_cap);
		}
	}
}

/* Everything that moves while the server works on the input. */
static uint64_t
fuzz_http_progress(const struct fuzz_http_client *c)
{
	return (c->off + c->got + fuzz_srv.nrequests + fuzz_srv.ncommits);
}

/*
 * Write the input, let the server answer all it can (pipelined requests
 * are answered one after the other: a half-close would end the
 * connection after the first), then half-close, which ends long-polls
 * and streams, and read until the server closes.  Loopback delivers in
 * the write() itself, so a few turns of the loop that move nothing mean
 * the server waits for the client (or a timer).
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct fuzz_http_client	 c;
	struct linger		 lg = { 1, 0 };
	uint64_t		 before;
	int64_t			 end;
	int			 idle = 0;

	memset(&c, 0, sizeof c);
	c.data = data;
	c.len = len;
	if ((c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		fuzz_http_die("socket", strerror(errno));
	if (connect(c.fd, (struct sockaddr *)&fuzz_addr, sizeof fuzz_addr)
	    == -1 && errno != EINPROGRESS)
		fuzz_http_die("connect", strerror(errno));
	c.ev = event_new(fuzz_srv.base, c.fd, EV_READ | EV_PERSIST |
	    (len > 0 ? EV_WRITE : 0), fuzz_http_client_cb, &c);
	event_add(c.ev, &fuzz_http_cap);
	end = util_mono_us() + FUZZ_HTTP_CAP_US;
	while (!c.done && (c.off < c.len || idle < 4) &&
	    util_mono_us() < end) {
		before = fuzz_http_progress(&c);
		/* (EVLOOP_NONBLOCK alone turns while anything is active.) */
		event_base_loop(fuzz_srv.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		idle = fuzz_http_progress(&c) == before ? idle + 1 : 0;
	}
	(void)shutdown(c.fd, SHUT_WR);
	while (!c.done && util_mono_us() < end)
		event_base_loop(fuzz_srv.base, EVLOOP_ONCE);
	event_free(c.ev);
	(void)setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(c.fd);
	/* Let the server see the reset and free what the connection held. */
	event_base_loop(fuzz_srv.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	return (0);
}
