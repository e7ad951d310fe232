/*
 * settings.c: the settings table and the layers that feed it.
 */
#include <ctype.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "settings.h"
#include "util.h"
#include "xmalloc.h"


enum setting_type {
	SET_STR,	/* one string */
	SET_ENUM,	/* one of a '|'-separated list (in `min`'s place: choices) */
	SET_LIST,	/* repeatable; env and YAML take several */
	SET_LINES,	/* as SET_LIST, but env separates them by newlines */
	SET_NUM,	/* integer in [min, max] */
	SET_DURATION,	/* "30s", "2m", stored as seconds */
	SET_COUNT,	/* -v / -q */
	SET_FLAG	/* -n */
};

struct setting {
	const char		*name;		/* long flag, YAML key */
	int			 shortopt;	/* 0 if none */
	enum setting_type	 type;
	const char		*arg;		/* metavariable for --help */
	long long		 min, max;
	const char		*choices;	/* SET_ENUM */
	const char		*def;		/* default, as text; NULL = unset */
	size_t			 off;		/* into struct settings */
	const char		*help;
};

#define OFF(f)	offsetof(struct settings, f)

/* Long-only options get values above the char range. */
enum { OPT_BASE = 256 };

static const struct setting settings_table[] = {
	{ "listen", 0, SET_STR, "ADDR:PORT", 0, 0, NULL, "127.0.0.1:7007",
	  OFF(listen), "plain HTTP listener (port 0 picks one; 'off' disables)" },
	{ "tls-listen", 0, SET_STR, "ADDR:PORT", 0, 0, NULL, "127.0.0.1:7443",
	  OFF(tls_listen), "HTTPS listener ('off' disables)" },
	{ "db", 0, SET_STR, "PATH", 0, 0, NULL, "notimock.db", OFF(db),
	  "SQLite database (':memory:' keeps nothing)" },
	{ "db-sync", 0, SET_ENUM, "MODE", 0, 0, "normal|full", "normal",
	  OFF(db_sync), "normal: durable across crashes of notimock; full: "
	  "also across power loss (fsync per batch)" },
	{ "token", 0, SET_LIST, "TOKEN[:SUBJECT]", 0, 0, NULL, NULL,
	  OFF(tokens), "accept this static token (subject defaults to "
	  "argocd-notifications)" },
	{ "user-token", 0, SET_LIST, "TOKEN=USERREF", 0, 0, NULL, NULL,
	  OFF(user_tokens), "accept this token as a Backstage user (read side)" },
	{ "base-url", 0, SET_STR, "URL", 0, 0, NULL, "http://localhost:3000",
	  OFF(base_url), "app.baseUrl: what relative links resolve against" },
	{ "config", 'f', SET_LIST, "FILE", 0, 0, NULL, NULL, OFF(configs),
	  "Backstage app-config.yaml (repeatable; later files win)" },
	{ "catalog", 0, SET_LIST, "FILE", 0, 0, NULL, NULL, OFF(catalogs),
	  "catalog entities YAML for recipient resolution (repeatable)" },
	{ "tls-cert", 0, SET_STR, "FILE", 0, 0, NULL, NULL, OFF(tls_cert),
	  "certificate chain (PEM); default: generated, beside the db" },
	{ "tls-key", 0, SET_STR, "FILE", 0, 0, NULL, NULL, OFF(tls_key),
	  "private key (PEM) for --tls-cert" },
	{ "tls-ca-cert", 0, SET_STR, "FILE", 0, 0, NULL, NULL,
	  OFF(tls_ca_cert), "CA certificate (PEM) to issue the serving "
	  "certificate from at every start; nothing is written" },
	{ "tls-ca-key", 0, SET_STR, "FILE", 0, 0, NULL, NULL, OFF(tls_ca_key),
	  "private key (PEM) of --tls-ca-cert" },
	{ "tls-san", 0, SET_LIST, "NAME", 0, 0, NULL, NULL, OFF(tls_sans),
	  "extra name or IP for the generated or CA-issued certificate (repeatable)" },
	{ "admin-token", 0, SET_STR, "TOKEN", 0, 0, NULL, NULL,
	  OFF(admin_token), "require this bearer token on /mock/" },
	{ "web-dir", 0, SET_STR, "DIR", 0, 0, NULL, NULL, OFF(web_dir),
	  "serve the inbox from DIR instead of the built-in copy" },
	{ "max-body", 0, SET_NUM, "BYTES", 102400, 1LL << 30, NULL, "4194304",
	  OFF(max_body), "transport limit on a request body (Backstage's own "
	  "102400-byte limit applies below it)" },
	{ "max-stored-body", 0, SET_NUM, "BYTES", 0, 1LL << 30, NULL, "1048576",
	  OFF(max_stored_body), "store at most this much of a request body "
	  "(a body the barrier refuses: 4096 bytes); the delivery says when "
	  "it was cut" },
	{ "retain-count", 0, SET_NUM, "N", 0, 1000000000, NULL, "50000",
	  OFF(retain_count), "keep at most this many deliveries, pruning the "
	  "oldest (0: keep all)" },
	{ "retain-age", 0, SET_DURATION, "DURATION", 0, 86400 * 3650, NULL,
	  "7d", OFF(retain_age), "prune deliveries older than this, like 12h "
	  "or 7d (0: keep any age)" },
	{ "retain-bytes", 0, SET_NUM, "BYTES", 0, 1LL << 50, NULL, "134217728",
	  OFF(retain_bytes), "keep the stored rows within about this many "
	  "bytes of the database file, pruning the oldest (0: no limit)" },
	{ "max-headers", 0, SET_NUM, "BYTES", 1024, 1 << 20, NULL, "16384",
	  OFF(max_headers), "limit on the request line and headers" },
	{ "stream-buffer", 0, SET_NUM, "BYTES", 65536, 1LL << 30, NULL,
	  "4194304", OFF(stream_buffer), "end a /mock/events stream whose "
	  "client leaves more than this unread" },
	{ "idle-timeout", 0, SET_DURATION, "DURATION", 1, 3600, NULL, "30s",
	  OFF(idle_timeout), "close connections idle (or stalled) this long" },
	{ "head-timeout", 0, SET_DURATION, "DURATION", 1, 3600, NULL, "10s",
	  OFF(head_timeout), "a request (TLS handshake, request line, headers "
	  "and body) must arrive within this time of its first byte; bytes do "
	  "not extend it (at most --idle-timeout)" },
	{ "max-connections", 0, SET_NUM, "N", 1, 1000000, NULL, "1024",
	  OFF(max_connections), "connections served at once (fewer if the "
	  "file-descriptor limit allows fewer); a few more answer only health" },
	{ "max-connections-per-client", 0, SET_NUM, "N", 1, 1000000, NULL,
	  "256", OFF(max_connections_per_client), "connections one client "
	  "address may hold (at most half of --max-connections)" },
	{ "fault", 0, SET_LINES, "SPEC", 0, 0, NULL, NULL, OFF(faults),
	  "inject a fault, e.g. 'status=503,503;times=2' (repeatable; "
	  "README.md, \"Testing failures\")" },
	{ "log-format", 0, SET_ENUM, "FORMAT", 0, 0, "text|json", "text",
	  OFF(log_format), "log line format" },
	{ "verbose", 'v', SET_COUNT, NULL, 0, 0, NULL, NULL, OFF(verbose),
	  "log more (repeatable)" },
	{ "quiet", 'q', SET_COUNT, NULL, 0, 0, NULL, NULL, OFF(verbose),
	  "log less (repeatable)" },
	{ "check", 'n', SET_FLAG, NULL, 0, 0, NULL, NULL, OFF(check),
	  "check the configuration, print 'configuration OK' and exit" },
};
#define NSETTINGS (sizeof settings_table / sizeof settings_table[0])

/* Which layer last set each setting: a list set by a higher layer drops
 * what lower layers gave it. */
enum layer { L_DEFAULT, L_BACKSTAGE, L_YAML, L_ENV, L_FLAG };

static enum layer settings_layer[NSETTINGS];

static void
strlist_clear(struct strlist *l)
{
	strv_free(l->v, l->n);
	l->v = NULL;
	l->n = 0;
}

static void
strlist_add(struct strlist *l, const char *s)
{
	strv_add(&l->v, &l->n, s);
}

/* Several values in one environment variable: comma-separated. */
static void
strlist_add_env(struct strlist *l, const char *val)
{
	char	*copy, *p, *tok;

	copy = xstrdup(val);
	for (p = copy; (tok = strsep(&p, ",")) != NULL;)
		if (*tok != '\0')
			strlist_add(l, tok);
	free(copy);
}

/* One value per line (values that hold commas: --fault). */
static void
strlist_add_lines(struct strlist *l, const char *val)
{
	char	*copy, *p, *tok;

	copy = xstrdup(val);
	for (p = copy; (tok = strsep(&p, "\n")) != NULL;)
		if (*tok != '\0')
			strlist_add(l, tok);
	free(copy);
}

void
settings_usage(void)
{
	fprintf(stderr,
	    "usage: notimock [-hnqVv] [-f file] [--listen addr:port] "
	    "[--token token[:subject]] [--db path] [option ...]\n"
	    "       notimock ca [create] | ready | wait | list | reset | cursor |\n"
	    "           fault | lint | argocd-config [option ...]\n"
	    "Try 'notimock --help' for every option.\n");
	exit(1);
}

static void
settings_help(void)
{
	const struct setting	*e;
	char			 flag[64], env[64];
	size_t			 i, j;

	printf("usage: notimock [serve] [option ...]\n"
	    "       notimock ca       print the running server's CA certificate (see notimock ca -h)\n"
	    "       notimock ca create  make a new CA (files or a Kubernetes Secret)\n"
	    "       notimock ready    exit 0 when the server is ready (for health checks)\n"
	    "       notimock argocd-config  print Argo CD's side (see argocd-config -h)\n"
	    "       notimock wait     wait until deliveries match (see notimock wait -h)\n"
	    "       notimock list     list deliveries\n"
	    "       notimock reset    delete deliveries\n"
	    "       notimock cursor   print the current sequence number\n"
	    "       notimock fault    add, list or clear fault rules (notimock fault -h)\n"
	    "       notimock lint     diagnose a request body offline\n\n"
	    "A stand-in for the Backstage notifications backend.\n\n"
	    "Options (each has an environment twin NOTIMOCK_<NAME> and a key in\n"
	    "the 'notimock:' section of a --config file):\n");
	for (i = 0; i < NSETTINGS; i++) {
		e = &settings_table[i];
		if (e->shortopt != 0)
			snprintf(flag, sizeof flag, "-%c, --%s%s%s",
			    e->shortopt, e->name, e->arg ? " " : "",
			    e->arg ? e->arg : "");
		else
			snprintf(flag, sizeof flag, "    --%s%s%s", e->name,
			    e->arg ? " " : "", e->arg ? e->arg : "");
		printf("  %-34s %s", flag, e->help);
		if (e->choices != NULL)
			printf(" (%s)", e->choices);
		if (e->def != NULL)
			printf(" [%s]", e->def);
		if (e->type != SET_COUNT && e->type != SET_FLAG) {
			snprintf(env, sizeof env, "NOTIMOCK_%s", e->name);
			for (j = 0; env[j] != '\0'; j++)
				env[j] = env[j] == '-' ? '_' :
				    (char)toupper((unsigned char)env[j]);
			printf("\n  %-34s   env %s", "", env);
		}
		printf("\n");
	}
	printf("  %-34s %s\n", "-h, --help", "print this help and exit");
	printf("  %-34s %s\n", "-V, --version", "print the version and exit");
	printf("\nARGOCD_NOTIFICATION_TOKEN, when set, is accepted with subject "
	    "argocd-notifications.\n");
	exit(0);
}

/* Set one setting from text; returns -1 with *cause on a bad value. */
static int
settings_set(struct settings *s, size_t idx, const char *val, enum layer layer,
    const char *source, char **cause)
{
	const struct setting	*e = &settings_table[idx];
	void			*field = (char *)s + e->off;
	const char		*errstr;
	long long		 n;
	int64_t			 ms;
	char			*p;
	size_t			 len;

	switch (e->type) {
	case SET_ENUM:
		len = strlen(val);
		for (p = (char *)e->choices; p != NULL; p = strchr(p, '|')) {
			if (*p == '|')
				p++;
			if (strncmp(p, val, len) == 0 &&
			    (p[len] == '\0' || p[len] == '|'))
				break;
		}
		if (p == NULL) {
			xasprintf(cause, "%s: %s must be one of %s, not '%s'",
			    source, e->name, e->choices, val);
			return (-1);
		}
		/* FALLTHROUGH */
	case SET_STR:
		free(*(char **)field);
		*(char **)field = xstrdup(val);
		break;
	case SET_LIST:
	case SET_LINES:
		if (settings_layer[idx] != layer)
			strlist_clear(field);
		if (layer == L_ENV && e->type == SET_LINES)
			strlist_add_lines(field, val);
		else if (layer == L_ENV)
			strlist_add_env(field, val);
		else
			strlist_add(field, val);
		break;
	case SET_NUM:
		n = util_strtonum(val, e->min, e->max, &errstr);
		if (errstr != NULL) {
			xasprintf(cause, "%s: %s is %s: %s (%lld to %lld)",
			    source, e->name, errstr, val, e->min, e->max);
			return (-1);
		}
		*(long long *)field = n;
		break;
	case SET_DURATION:
		if (util_parse_duration(val, &ms) == -1 ||
		    ms / 1000 < e->min || ms / 1000 > e->max) {
			xasprintf(cause, "%s: %s must be a duration from %llds "
			    "to %llds, like 30s or 2m, not '%s'", source,
			    e->name, e->min, e->max, val);
			return (-1);
		}
		*(long long *)field = ms / 1000;
		break;
	case SET_COUNT:
	case SET_FLAG:
		break;
	}
	settings_layer[idx] = layer;
	return (0);
}

/* Backstage's backend.listen (":7007", {port, host}) as --listen, below
 * the notimock: section, the environment and the flag.  Without a host
 * notimock keeps its loopback default: Backstage's "all interfaces" is
 * not what a test tool should open by surprise. */
static int
settings_backend_listen(struct settings *s, const struct config *cfg,
    char **cause)
{
	struct config_node	*v;
	const char		*port = NULL, *host = NULL, *text;
	char			 spec[300];
	size_t			 k;

	if ((v = config_get(cfg, "backend.listen")) == NULL)
		return (0);
	if ((text = config_scalar(v)) != NULL) {
		/* "host:port" or ":port" */
		snprintf(spec, sizeof spec, "%s%s", *text == ':' ?
		    "127.0.0.1" : "", text);
	} else {
		port = config_scalar(config_child(v, "port"));
		host = config_scalar(config_child(v, "host"));
		if (port == NULL)
			return (0);
		snprintf(spec, sizeof spec, strchr(host != NULL ? host : "",
		    ':') != NULL ? "[%s]:%s" : "%s:%s", host != NULL &&
		    *host != '\0' ? host : "127.0.0.1", port);
	}
	for (k = 0; k < NSETTINGS; k++)
		if (strcmp(settings_table[k].name, "listen") == 0)
			return (settings_set(s, k, spec, L_BACKSTAGE,
			    config_where(v), cause));
	return (0);
}

/* Apply the `notimock:` section of the merged config. */
static int
settings_from_yaml(struct settings *s, const struct config *cfg, char **cause)
{
	struct config_node	*sec, *v;
	const char		*key, *text;
	char			 where[512];
	size_t			 i, j, k;

	if ((v = config_get(cfg, "app.baseUrl")) != NULL &&
	    (text = config_scalar(v)) != NULL) {
		for (k = 0; k < NSETTINGS; k++)
			if (strcmp(settings_table[k].name, "base-url") == 0 &&
			    settings_set(s, k, text, L_BACKSTAGE, "app.baseUrl",
			    cause) == -1)
				return (-1);
	}
	if (settings_backend_listen(s, cfg, cause) == -1)
		return (-1);
	if ((sec = config_get(cfg, "notimock")) == NULL)
		return (0);
	if (config_type(sec) != CONFIG_MAP) {
		xasprintf(cause, "%s: 'notimock' must be a map",
		    config_where(sec));
		return (-1);
	}
	for (i = 0; i < config_len(sec); i++) {
		key = config_key_at(sec, i);
		v = config_at(sec, i);
		for (k = 0; k < NSETTINGS; k++)
			if (strcmp(settings_table[k].name, key) == 0)
				break;
		if (k == NSETTINGS || settings_table[k].type == SET_COUNT ||
		    settings_table[k].type == SET_FLAG ||
		    strcmp(key, "config") == 0) {
			xasprintf(cause, "%s: unknown setting 'notimock.%s'",
			    config_where(v), key);
			return (-1);
		}
		snprintf(where, sizeof where, "%s", config_where(v));
		if (config_type(v) == CONFIG_SEQ &&
		    (settings_table[k].type == SET_LIST ||
		    settings_table[k].type == SET_LINES)) {
			for (j = 0; j < config_len(v); j++) {
				text = config_scalar(config_at(v, j));
				if (text != NULL && settings_set(s, k, text,
				    L_YAML, where, cause) == -1)
					return (-1);
			}
			continue;
		}
		if ((text = config_scalar(v)) == NULL)
			continue;	/* undefined: keep the lower layer */
		if (settings_set(s, k, text, L_YAML, where, cause) == -1)
			return (-1);
	}
	return (0);
}

static int
settings_from_env(struct settings *s, char **cause)
{
	const struct setting	*e;
	char			 env[64];
	const char		*val;
	size_t			 i, j;

	for (i = 0; i < NSETTINGS; i++) {
		e = &settings_table[i];
		if (e->type == SET_COUNT || e->type == SET_FLAG ||
		    strcmp(e->name, "config") == 0)
			continue;
		snprintf(env, sizeof env, "NOTIMOCK_%s", e->name);
		for (j = 0; env[j] != '\0'; j++)
			env[j] = env[j] == '-' ? '_' :
			    (char)toupper((unsigned char)env[j]);
		if ((val = getenv(env)) == NULL || *val == '\0')
			continue;
		if (settings_set(s, i, val, L_ENV, env, cause) == -1)
			return (-1);
	}
	return (0);
}

struct config *
settings_load(struct settings *s, int argc, char **argv, char **cause)
{
	struct option	 longopts[NSETTINGS + 3];
	char		 shortopts[64], src[96];
	struct {
		size_t	 idx;
		char	*val;
	}		*given;
	size_t		 ngiven = 0, i, n = 0;
	int		 ch, sp = 0, li;
	struct config	*cfg = NULL;
	const char	*val;

	memset(s, 0, sizeof *s);
	memset(settings_layer, 0, sizeof settings_layer);
	given = xcalloc((size_t)argc + 1, sizeof *given);

	shortopts[sp++] = '+';
	shortopts[sp++] = ':';
	for (i = 0; i < NSETTINGS; i++) {
		const struct setting *e = &settings_table[i];
		int has_arg = e->type != SET_COUNT && e->type != SET_FLAG;

		longopts[n].name = e->name;
		longopts[n].has_arg = has_arg ? required_argument : no_argument;
		longopts[n].flag = NULL;
		longopts[n].val = OPT_BASE + (int)i;
		n++;
		if (e->shortopt != 0) {
			shortopts[sp++] = (char)e->shortopt;
			if (has_arg)
				shortopts[sp++] = ':';
		}
	}
	longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n++] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };
	shortopts[sp++] = 'h';
	shortopts[sp++] = 'V';
	shortopts[sp] = '\0';

	optind = 1;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, &li)) != -1) {
		if (ch == 'h')
			settings_help();
		if (ch == 'V') {
			printf("notimock %s\n", PACKAGE_VERSION);
			exit(0);
		}
		if (ch == '?' || ch == ':') {
			if (optopt != 0)
				fprintf(stderr, "notimock: %s -%c\n", ch == ':' ?
				    "missing argument for" : "unknown option",
				    optopt);
			else
				fprintf(stderr, "notimock: %s %s\n", ch == ':' ?
				    "missing argument for" : "unknown option",
				    argv[optind - 1]);
			settings_usage();
		}
		if (ch < OPT_BASE) {
			for (i = 0; i < NSETTINGS; i++)
				if (settings_table[i].shortopt == ch)
					break;
		} else
			i = (size_t)(ch - OPT_BASE);
		if (settings_table[i].type == SET_COUNT) {
			s->verbose += settings_table[i].shortopt == 'v' ? 1 : -1;
			continue;
		}
		if (settings_table[i].type == SET_FLAG) {
			s->check = 1;
			continue;
		}
		given[ngiven].idx = i;
		given[ngiven].val = optarg;
		ngiven++;
	}

	/* Defaults. */
	for (i = 0; i < NSETTINGS; i++)
		if (settings_table[i].def != NULL &&
		    settings_set(s, i, settings_table[i].def, L_DEFAULT,
		    "default", cause) == -1)
			goto fail;

	/* The config files come from flags, or else the environment. */
	for (i = 0; i < ngiven; i++)
		if (strcmp(settings_table[given[i].idx].name, "config") == 0) {
			strlist_add(&s->configs, given[i].val);
			settings_layer[given[i].idx] = L_FLAG;	/* -n -v */
		}
	if (s->configs.n == 0 && (val = getenv("NOTIMOCK_CONFIG")) != NULL) {
		strlist_add_env(&s->configs, val);
		for (i = 0; i < NSETTINGS; i++)
			if (strcmp(settings_table[i].name, "config") == 0)
				settings_layer[i] = L_ENV;
	}
	if ((cfg = config_load(s->configs.v, s->configs.n, cause)) == NULL)
		goto fail;

	if (settings_from_yaml(s, cfg, cause) == -1)
		goto fail;
	if (settings_from_env(s, cause) == -1)
		goto fail;
	for (i = 0; i < ngiven; i++) {
		if (strcmp(settings_table[given[i].idx].name, "config") == 0)
			continue;
		snprintf(src, sizeof src, "--%s",
		    settings_table[given[i].idx].name);
		if (settings_set(s, given[i].idx, given[i].val, L_FLAG, src,
		    cause) == -1)
			goto fail;
	}
	free(given);
	return (cfg);

fail:
	free(given);
	config_free(cfg);
	return (NULL);
}

/* Which layer gave a setting its value, in the words a user would look
 * for: "--token", "NOTIMOCK_TOKEN", "notimock.token in the config", or
 * "the default".  The string lives as long as the program. */
const char *
settings_source(const char *name)
{
	static char	 env[NSETTINGS][48], yaml[NSETTINGS][64];
	size_t		 i, j;

	for (i = 0; i < NSETTINGS; i++)
		if (strcmp(settings_table[i].name, name) == 0)
			break;
	if (i == NSETTINGS)
		return ("?");
	switch (settings_layer[i]) {
	case L_FLAG:
		/* The flag is the setting's name with two dashes. */
		snprintf(yaml[i], sizeof yaml[i], "--%s", name);
		return (yaml[i]);
	case L_ENV:
		snprintf(env[i], sizeof env[i], "NOTIMOCK_%s", name);
		for (j = 0; env[i][j] != '\0'; j++)
			env[i][j] = env[i][j] == '-' ? '_' :
			    (char)toupper((unsigned char)env[i][j]);
		return (env[i]);
	case L_YAML:
		snprintf(yaml[i], sizeof yaml[i], "notimock.%s in the config",
		    name);
		return (yaml[i]);
	case L_BACKSTAGE:
		return ("the Backstage config");
	default:
		return ("the default");
	}
}

/* NOTIMOCK_* names read elsewhere (the commands, the tests, scripts). */
static const char *settings_env_other[] = {
	"NOTIMOCK_URL", "NOTIMOCK_CONFIG", "NOTIMOCK_TEST_DELAY_MS",
	"NOTIMOCK_BIN", "NOTIMOCK_SRCDIR", "NOTIMOCK_E2E_KEEP",
	"NOTIMOCK_ARTIFACTS", "NOTIMOCK_DOC_SCREENSHOTS", "NOTIMOCK_NO_BROWSER",
	NULL
};

static void
settings_env_name(size_t i, char *env, size_t len)
{
	size_t	j;

	snprintf(env, len, "NOTIMOCK_%s", settings_table[i].name);
	for (j = 0; env[j] != '\0'; j++)
		env[j] = env[j] == '-' ? '_' :
		    (char)toupper((unsigned char)env[j]);
}

/* Levenshtein distance, for "did you mean". */
static size_t
settings_distance(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b), i, j, *row, prev, tmp, best;

	row = xcalloc(lb + 1, sizeof *row);
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = tmp;
		}
	}
	best = row[lb];
	free(row);
	return (best);
}

extern char **environ;

char *
settings_env_unknown(void)
{
	char		 env[64], *out = NULL, *tmp, name[128];
	const char	*best;
	size_t		 i, k, d, bestd, len;
	char		**e;
	int		 known;

	for (e = environ; e != NULL && *e != NULL; e++) {
		if (strncmp(*e, "NOTIMOCK_", 9) != 0)
			continue;
		len = strcspn(*e, "=");
		if (len >= sizeof name)
			len = sizeof name - 1;
		memcpy(name, *e, len);
		name[len] = '\0';
		known = 0;
		best = NULL;
		bestd = (size_t)-1;
		for (i = 0; i < NSETTINGS && !known; i++) {
			if (settings_table[i].type == SET_COUNT ||
			    settings_table[i].type == SET_FLAG)
				continue;
			settings_env_name(i, env, sizeof env);
			if (strcmp(env, name) == 0)
				known = 1;
			else if ((d = settings_distance(env, name)) < bestd) {
				bestd = d;
				best = settings_table[i].name;
			}
		}
		for (k = 0; settings_env_other[k] != NULL && !known; k++)
			if (strcmp(settings_env_other[k], name) == 0)
				known = 1;
		if (known)
			continue;
		if (best != NULL) {
			for (i = 0; i < NSETTINGS; i++)
				if (strcmp(settings_table[i].name, best) == 0)
					break;
			settings_env_name(i, env, sizeof env);
		}
		xasprintf(&tmp, "%s%s%s is not a notimock setting and is "
		    "ignored%s%s%s", out != NULL ? out : "", out != NULL ?
		    "\n" : "", name, best != NULL ? " (did you mean " : "",
		    best != NULL ? env : "", best != NULL ? "?)" : "");
		free(out);
		out = tmp;
	}
	return (out);
}

/* Secrets are shown by fingerprint only (crypto.h). */
static int
settings_secret(const char *name)
{
	return (strcmp(name, "token") == 0 ||
	    strcmp(name, "user-token") == 0 ||
	    strcmp(name, "admin-token") == 0);
}

static void
settings_print_value(FILE *f, const char *name, const char *v)
{
	char		 fp[CRYPTO_FP_LEN];
	const char	*sep;

	if (!settings_secret(name)) {
		fprintf(f, "%s", v);
		return;
	}
	/* TOKEN[:SUBJECT] and TOKEN=USERREF keep what follows the token. */
	sep = strcmp(name, "token") == 0 ? strchr(v, ':') :
	    strcmp(name, "user-token") == 0 ? strchr(v, '=') : NULL;
	fprintf(f, "%s%s", crypto_fingerprint(v, sep != NULL ?
	    (size_t)(sep - v) : strlen(v), fp), sep != NULL ? sep : "");
}

void
settings_print(FILE *f, const struct settings *s)
{
	const struct setting	*e;
	const void		*field;
	const struct strlist	*l;
	size_t			 i, j;

	for (i = 0; i < NSETTINGS; i++) {
		e = &settings_table[i];
		field = (const char *)s + e->off;
		if (e->type == SET_COUNT || e->type == SET_FLAG)
			continue;
		fprintf(f, "  %-14s ", e->name);
		switch (e->type) {
		case SET_STR:
		case SET_ENUM:
			if (*(char *const *)field == NULL)
				fprintf(f, "-");
			else
				settings_print_value(f, e->name,
				    *(char *const *)field);
			break;
		case SET_LIST:
			l = field;
			if (l->n == 0)
				fprintf(f, "-");
			for (j = 0; j < l->n; j++) {
				fprintf(f, "%s", j ? ", " : "");
				settings_print_value(f, e->name, l->v[j]);
			}
			break;
		case SET_NUM:
		case SET_DURATION:
			fprintf(f, "%lld%s", *(const long long *)field,
			    e->type == SET_DURATION ? "s" : "");
			break;
		default:
			break;
		}
		fprintf(f, "   (%s)\n", settings_source(e->name));
	}
}

void
settings_free(struct settings *s)
{
	size_t	i;

	for (i = 0; i < NSETTINGS; i++) {
		void *field = (char *)s + settings_table[i].off;

		switch (settings_table[i].type) {
		case SET_STR:
		case SET_ENUM:
			free(*(char **)field);
			*(char **)field = NULL;
			break;
		case SET_LIST:
		case SET_LINES:
			strlist_clear(field);
			break;
		default:
			break;
		}
	}
}
