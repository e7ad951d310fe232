/*
 * notimock.c: main().  The first word picks the command; serving is the
 * default.  Start-up may fatal(); nothing after it does.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
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
#include "dispatch.h"
#include "diag.h"
#include "http.h"
#include "json.h"
#include "lint.h"
#include "log.h"
#include "mock.h"
#include "retain.h"
#include "server.h"
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

/*
 * A start that fails after it has created files (a port already taken, say)
 * removes them again: the database and the generated certificates that
 * were not there before.  Disarmed once the server runs.
 */
#define NOTIMOCK_MADE_MAX	12
static char	*notimock_made[NOTIMOCK_MADE_MAX];
static size_t	 notimock_nmade;
static int	 notimock_started;

static void
notimock_unmake(void)
{
	size_t	i;

	for (i = 0; i < notimock_nmade; i++) {
		if (!notimock_started)
			(void)unlink(notimock_made[i]);
		free(notimock_made[i]);
	}
	notimock_nmade = 0;
}

/* Remember path for removal if it does not exist yet. */
static void
notimock_may_make(const char *dir, const char *name)
{
	char	*path;

	if (dir != NULL)
		xasprintf(&path, "%s/%s", dir, name);
	else
		path = xstrdup(name);
	if (access(path, F_OK) == 0 || notimock_nmade == NOTIMOCK_MADE_MAX) {
		free(path);
		return;
	}
	notimock_made[notimock_nmade++] = path;
}

static void
notimock_watch_files(const struct settings *s, const char *state)
{
	static const char	*suffixes[] = { "", "-wal", "-shm", "-journal",
	    "-reserve" };
	static const char	*generated[] = { "ca.pem", "ca-key.pem",
	    "cert.pem", "key.pem", "notimock-user-token.key" };
	char			 path[4096];
	size_t			 i;

	if (strcmp(s->db, ":memory:") != 0) {
		for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
			snprintf(path, sizeof path, "%s%s", s->db, suffixes[i]);
			notimock_may_make(NULL, path);
		}
		for (i = 0; i < sizeof generated / sizeof generated[0]; i++)
			notimock_may_make(state, generated[i]);
	}
	atexit(notimock_unmake);
}

/*
 * With --db :memory: nothing is kept, so nothing lands in the working
 * directory either: a CA made for this run only, handed to tls.c through
 * files in a private directory that are gone before the server answers.
 */
static struct tls_server *
notimock_tls_memory(struct server *srv, struct tls_server_options *to,
    char **cause)
{
	struct tls_server	*t = NULL;
	char			 dir[] = "/tmp/notimock-ca.XXXXXX", *crt = NULL;
	char			*key = NULL, *cpath = NULL, *kpath = NULL;
	FILE			*f;
	int			 fd;

	if (tls_ca_create(&crt, &key, cause) == -1)
		return (NULL);
	if (mkdtemp(dir) == NULL) {
		xasprintf(cause, "mkdtemp: %s", strerror(errno));
		goto out;
	}
	xasprintf(&cpath, "%s/ca.pem", dir);
	xasprintf(&kpath, "%s/ca-key.pem", dir);
	if ((f = fopen(cpath, "w")) == NULL || fputs(crt, f) == EOF ||
	    fclose(f) == EOF || (fd = open(kpath, O_WRONLY | O_CREAT | O_EXCL,
	    0600)) == -1 || write(fd, key, strlen(key)) !=
	    (ssize_t)strlen(key) || close(fd) == -1) {
		xasprintf(cause, "%s: %s", dir, strerror(errno));
		goto out;
	}
	to->ca_cert_file = cpath;
	to->ca_key_file = kpath;
	t = tls_server_new(srv->base, to, cause);
	to->ca_cert_file = to->ca_key_file = NULL;
out:
	if (kpath != NULL)
		(void)unlink(kpath);
	if (cpath != NULL)
		(void)unlink(cpath);
	(void)rmdir(dir);
	if (key != NULL)
		explicit_bzero(key, strlen(key));
	free(key);
	free(crt);
	free(kpath);
	free(cpath);
	return (t);
}

/* -n, and start before it creates anything: one problem a line. */
static void
notimock_problem(int check, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
notimock_problem(int check, int error, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatalx("vasprintf failed");
	va_end(ap);
	if (check)
		fprintf(stderr, "notimock: %s%s\n", error ? "" : "warning: ",
		    msg);
	else if (error)
		log_warnx("%s", msg);
	else
		log_warnx("%s", msg);
	free(msg);
}

/* Can the database be created or written at path? */
static int
notimock_db_writable(const char *path, char **cause)
{
	char	*copy, *dir;
	int	 rv = 0;

	if (strcmp(path, ":memory:") == 0)
		return (0);
	if (access(path, F_OK) == 0) {
		if (access(path, R_OK | W_OK) == -1) {
			xasprintf(cause, "cannot write the database %s: %s",
			    path, strerror(errno));
			rv = -1;
		}
		return (rv);
	}
	copy = xstrdup(path);
	dir = dirname(copy);
	if (access(dir, W_OK | X_OK) == -1) {
		xasprintf(cause, "cannot create the database %s: directory "
		    "%s: %s", path, dir, strerror(errno));
		rv = -1;
	}
	free(copy);
	return (rv);
}

/*
 * What start would refuse, found before anything is created (so -n says
 * it, and a failed start leaves no database or certificate behind), and
 * what it would only warn about.  Returns the number of errors.
 */
static int
notimock_check(struct server *srv, struct settings *s)
{
	struct tls_server_options	 to;
	char				*cause = NULL, *state, *env;
	int				 errors = 0, check = s->check;

	if (http_listen_check(s->listen, &cause) == -1 ||
	    http_listen_check(s->tls_listen, &cause) == -1) {
		notimock_problem(check, 1, "%s", cause);
		free(cause);
		cause = NULL;
		errors++;
	}
	if (strcmp(s->listen, "off") == 0 && strcmp(s->tls_listen, "off") == 0) {
		notimock_problem(check, 1, "both --listen and --tls-listen "
		    "are off");
		errors++;
	}
	if (strcmp(s->tls_listen, "off") != 0) {
		state = notimock_state_dir(s->db);
		notimock_tls_options(s, &to, state);
		if (tls_server_check(&to, &cause) == -1) {
			notimock_problem(check, 1, "tls: %s", cause);
			free(cause);
			cause = NULL;
			errors++;
		}
		free(to.sans);
		free(state);
	}
	if (notimock_db_writable(s->db, &cause) == -1) {
		notimock_problem(check, 1, "%s", cause);
		free(cause);
		cause = NULL;
		errors++;
	}
	if (auth_service_count(srv->auth) == 0)
		notimock_problem(check, 0, "NO TOKEN CONFIGURED: every POST "
		    "will get 401 Missing credentials or Illegal token.  Add "
		    "one with --token TOKEN, ARGOCD_NOTIFICATION_TOKEN=TOKEN, "
		    "or backend.auth.externalAccess in a --config file.");
	if (config_get(srv->config, "backend.auth.keys") != NULL)
		notimock_problem(check, 0, "backend.auth.keys is ignored: "
		    "Backstage's old static keys are not service tokens any "
		    "more; move them to backend.auth.externalAccess (type: "
		    "static, options.token, options.subject)");
	if ((env = settings_env_unknown()) != NULL) {
		for (char *line = strtok(env, "\n"); line != NULL;
		    line = strtok(NULL, "\n"))
			notimock_problem(check, 0, "%s", line);
		free(env);
	}
	return (errors);
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
	metrics_init(&srv);
	srv.faults = fault_new();
	for (size_t i = 0; i < s.faults.n; i++)
		if (fault_add_spec(srv.faults, s.faults.v[i], &cause) == -1)
			fatalx("%s", cause);
	if (notimock_check(&srv, &s) > 0) {
		if (!s.check)
			fatalx("not started: the configuration has errors "
			    "(notimock -n lists them)");
		notimock_teardown(&srv, &s);
		return (1);
	}
	if (s.check) {
		if (s.verbose > 0) {
			printf("effective configuration (secrets as "
			    "fingerprints, keyed for this check only):\n");
			settings_print(stdout, &s);
		}
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

	signal(SIGPIPE, SIG_IGN);
	/* A file-size limit (ulimit -f) then fails the write with EFBIG, which
	 * the store answers with 503, instead of killing the server. */
	signal(SIGXFSZ, SIG_IGN);
	/* libevent's own consistency checks, for test runs (slower). */
	if (getenv("EVENT_DEBUG_MODE") != NULL)
		event_enable_debug_mode();
	if ((srv.base = server_base_new()) == NULL)
		fatalx("event_base_new failed");
	state = notimock_state_dir(s.db);
	notimock_watch_files(&s, state);
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
	if (strcmp(s.tls_listen, "off") != 0) {
		notimock_tls_options(&s, &to, state);
		if (strcmp(s.db, ":memory:") == 0 && s.tls_cert == NULL &&
		    to.ca_cert_file == NULL && to.ca_key_file == NULL)
			srv.tls = notimock_tls_memory(&srv, &to, &cause);
		else
			srv.tls = tls_server_new(srv.base, &to, &cause);
		if (srv.tls == NULL)
			fatalx("tls: %s", cause);
		free(to.sans);
	}
	srv.diag = diag_new();		/* retry detection (diag.c) */
	if (dispatch_start(&srv, &cause) == -1)	/* dispatch.c */
		fatalx("%s", cause);
	notimock_started = 1;		/* keep what was made from now on */

	sigint = evsignal_new(srv.base, SIGINT, notimock_signal, &srv);
	sigterm = evsignal_new(srv.base, SIGTERM, notimock_signal, &srv);
	evsignal_add(sigint, NULL);
	evsignal_add(sigterm, NULL);

	event_base_dispatch(srv.base);

	retain_stop(&srv);
	m = mock_stop(&srv);
	server_stop(&srv);		/* the last commit and replies */
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
