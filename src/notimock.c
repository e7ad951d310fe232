/*
 * notimock.c: main().  The first word picks the command; serving is the
 * default.  Start-up may fatal(); nothing after it does.
 */
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth.h"
#include "catalog.h"
#include "client.h"
#include "cluster.h"
#include "fault.h"
#include "metrics.h"
#include "config.h"
#include "crypto.h"
#include "db.h"
#include "diag.h"
#include "http.h"
#include "json.h"
#include "lint.h"
#include "log.h"
#include "mock.h"
#include "retain.h"
#include "settings.h"
#include "tls.h"
#include "url.h"
#include "util.h"
#include "xmalloc.h"

static void
notimock_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;

	log_info("signal %d: shutting down", (int)sig);
	event_base_loopexit(srv->base, NULL);
}

/* The directory that holds the database: generated certificates live there. */
static char *
notimock_state_dir(const char *db)
{
	char	*copy, *dir;

	if (strcmp(db, ":memory:") == 0)
		return (xstrdup("."));
	copy = xstrdup(db);
	dir = xstrdup(dirname(copy));
	free(copy);
	return (dir);
}

static void
notimock_tls_options(const struct settings *s, struct tls_server_options *o,
    char *state_dir)
{
	memset(o, 0, sizeof *o);
	o->cert_file = s->tls_cert;
	o->key_file = s->tls_key;
	o->state_dir = state_dir;
	o->ca_cert_file = s->tls_ca_cert;
	o->ca_key_file = s->tls_ca_key;
	o->sans = (const char **)xcalloc(s->tls_sans.n + 1, sizeof *o->sans);
	if (s->tls_sans.n > 0)
		memcpy(o->sans, s->tls_sans.v, s->tls_sans.n * sizeof *o->sans);
	/* Part of the request's own deadline (http.c), never longer. */
	o->handshake_timeout = (int)(s->head_timeout < s->idle_timeout ?
	    s->head_timeout : s->idle_timeout);
}

/* Load everything the server needs; exits with a message on failure. */
static void
notimock_setup(struct server *srv, struct settings *s, int argc, char **argv)
{
	char	*cause = NULL;
	size_t	 len;

	if ((srv->config = settings_load(s, argc, argv, &cause)) == NULL) {
		fprintf(stderr, "notimock: %s\n", cause);
		exit(1);
	}
	srv->settings = s;
	log_init(s->verbose, strcmp(s->log_format, "json") == 0);
	if ((srv->auth = auth_new(s, srv->config, &cause)) == NULL)
		fatalx("%s", cause);
	if (url_check_absolute(s->base_url) != URL_OK)
		fatalx("base URL '%s' is not a valid http(s) URL", s->base_url);
	len = strlen(s->base_url);
	xasprintf(&srv->base_url, "%s%s", s->base_url,
	    len > 0 && s->base_url[len - 1] == '/' ? "" : "/");
}

/* Free what notimock_setup (and serve) loaded; NULL members are fine. */
static void
notimock_teardown(struct server *srv, struct settings *s)
{
	catalog_free(srv->catalog);
	fault_free(srv->faults);
	auth_free(srv->auth);
	config_free(srv->config);
	settings_free(s);
	free(srv->base_url);
}

static int
notimock_serve(int argc, char **argv)
{
	struct server			 srv;
	struct settings			 s;
	struct tls_server_options	 to;
	struct event			*sigint, *sigterm;
	struct mock			*m;
	char				*cause = NULL, *state;
	unsigned char			 fpkey[CRYPTO_FP_KEY_LEN];

	memset(&srv, 0, sizeof srv);
	notimock_setup(&srv, &s, argc, argv);
	if (optind < argc)
		settings_usage();
	/* The --catalog entities (catalog.c), checked by -n as well. */
	if ((srv.catalog = catalog_load(s.catalogs.v, s.catalogs.n, &cause))
	    == NULL)
		fatalx("catalog: %s", cause);
	/* The --fault rules (fault.c), checked by -n as well. */
	metrics_init();
	srv.faults = fault_new();
	for (size_t i = 0; i < s.faults.n; i++)
		if (fault_add_spec(srv.faults, s.faults.v[i], &cause) == -1)
			fatalx("%s", cause);
	if (s.check) {
		printf("configuration OK\n");
		notimock_teardown(&srv, &s);
		return (0);
	}

	log_info("notimock %s: libevent %s, SQLite %s, %s, cJSON %s, "
	    "libyaml %s", PACKAGE_VERSION, event_get_version(), db_version(),
	    tls_version(), json_version(), config_version());
	if (s.catalogs.n > 0)
		log_info("catalog: %zu entities from %zu file(s)",
		    catalog_count(srv.catalog), s.catalogs.n);
	if (auth_service_count(srv.auth) == 0)
		log_warnx("NO TOKEN CONFIGURED: every POST will get 401 Missing "
		    "credentials or Illegal token.  Add one with --token TOKEN, "
		    "ARGOCD_NOTIFICATION_TOKEN=TOKEN, or backend.auth."
		    "externalAccess in a --config file.");

	signal(SIGPIPE, SIG_IGN);
	/* A file-size limit (ulimit -f) then fails the write with EFBIG, which
	 * the store answers with 503, instead of killing the server. */
	signal(SIGXFSZ, SIG_IGN);
	/* libevent's own consistency checks, for test runs (slower). */
	if (getenv("EVENT_DEBUG_MODE") != NULL)
		event_enable_debug_mode();
	if ((srv.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if ((srv.db = db_open(s.db, strcmp(s.db_sync, "full") == 0, &cause))
	    == NULL)
		fatalx("database: %s", cause);
	/* One keyed fingerprint form everywhere, the key the database's, so
	 * prints of one database compare across restarts (crypto.h). */
	if (db_fingerprint_key(srv.db, fpkey, util_random, &cause) == -1)
		fatalx("database: %s", cause);
	crypto_fingerprint_setkey(fpkey);
	explicit_bzero(fpkey, sizeof fpkey);
	auth_refingerprint(srv.auth);
	auth_log(srv.auth);
	state = notimock_state_dir(s.db);
	if (strcmp(s.tls_listen, "off") != 0) {
		notimock_tls_options(&s, &to, state);
		if ((srv.tls = tls_server_new(srv.base, &to, &cause)) == NULL)
			fatalx("tls: %s", cause);
		free(to.sans);
	}
	srv.diag = diag_new();		/* retry detection (diag.c) */
	if (http_start(&srv, &cause) == -1)
		fatalx("%s", cause);
	mock_start(&srv);		/* the assertion API (mock.c) */
	retain_start(&srv);		/* retention (retain.c) */

	sigint = evsignal_new(srv.base, SIGINT, notimock_signal, &srv);
	sigterm = evsignal_new(srv.base, SIGTERM, notimock_signal, &srv);
	evsignal_add(sigint, NULL);
	evsignal_add(sigterm, NULL);

	event_base_dispatch(srv.base);

	retain_stop(&srv);
	m = mock_stop(&srv);
	http_stop(&srv);
	mock_free(m);
	event_free(sigint);
	event_free(sigterm);
	tls_server_free(srv.tls);
	db_close(srv.db);
	diag_free(srv.diag);
	event_base_free(srv.base);
	notimock_teardown(&srv, &s);
	free(state);
	log_info("stopped");
	return (0);
}

/*
 * `notimock ca` asks the running server for its CA and never touches the
 * server's files (a CA made beside the wrong database is a trap);
 * `notimock ca create` makes new CA material, only when asked.
 */
static int
notimock_ca(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "create") == 0)
		return (cluster_ca_create(argc - 1, argv + 1));
	return (client_ca(argc, argv));
}

/* Commands: the first operand, when it names one. */
static const struct {
	const char	*name;
	int		(*fn)(int, char **);
} notimock_commands[] = {
	{ "serve", notimock_serve },
	{ "ca", notimock_ca },
	{ "lint", lint_main },
	{ "ready", client_ready },
	{ "argocd-config", cluster_argocd_config },
	/* The assertion API's client side (client.c). */
	{ "wait", client_wait },
	{ "list", client_list },
	{ "reset", client_reset },
	{ "cursor", client_cursor },
	{ "fault", client_fault },
	{ "fingerprint", client_fingerprint },
};

int
main(int argc, char **argv)
{
	size_t	i;

	if (argc > 1 && argv[1][0] != '-') {
		for (i = 0; i < sizeof notimock_commands /
		    sizeof notimock_commands[0]; i++)
			if (strcmp(argv[1], notimock_commands[i].name) == 0)
				return (notimock_commands[i].fn(argc - 1,
				    argv + 1));
		fprintf(stderr, "notimock: unknown command '%s'\n", argv[1]);
		settings_usage();
	}
	return (notimock_serve(argc, argv));
}
