/*
 * settings.h: every setting of the server, from one table.
 *
 * The table in settings.c supplies the defaults, the command-line flags,
 * their NOTIMOCK_<FLAG> environment twins, the `notimock:` section of the
 * YAML config, validation, and --help.  Precedence, lowest first: default,
 * Backstage config (app.baseUrl as --base-url, backend.listen as
 * --listen), `notimock:` section, environment, flags.
 */
#ifndef NOTIMOCK_SETTINGS_H
#define NOTIMOCK_SETTINGS_H

#include <stddef.h>
#include <stdio.h>

struct config;

struct strlist {
	char	**v;
	size_t	  n;
};

struct settings {
	char		*listen;	/* "ADDR:PORT" or "off" */
	char		*tls_listen;
	char		*db;
	struct strlist	 tokens;	/* "TOKEN[:SUBJECT]" */
	struct strlist	 user_tokens;	/* "TOKEN=USERREF" */
	char		*base_url;
	struct strlist	 configs;
	struct strlist	 catalogs;
	char		*log_format;	/* text | json */
	int		 verbose;	/* -v minus -q */
	int		 check;		/* -n: validate and exit */
	char		*tls_cert;
	char		*tls_key;
	char		*tls_ca_cert;	/* issue the leaf from this CA */
	char		*tls_ca_key;
	struct strlist	 tls_sans;
	char		*admin_token;
	char		*web_dir;
	char		*db_sync;	/* normal | full */
	long long	 max_body;	/* transport cap on request bodies */
	long long	 max_headers;	/* cap on the request line + headers */
	long long	 max_stored_body; /* bytes of a body the store keeps */
	long long	 retain_count;	/* deliveries kept at most (0: all) */
	long long	 retain_age;	/* seconds (0: any age) */
	long long	 retain_bytes;	/* bytes of the file in use (0: any) */
	long long	 stream_buffer;	/* unread bytes before a stream ends */
	long long	 idle_timeout;	/* seconds */
	long long	 head_timeout;	/* seconds, for a whole request */
	long long	 max_connections;
	long long	 max_connections_per_client;
	struct strlist	 faults;	/* --fault SPEC (fault.c) */
};

/* Parse argv (after the command word, if any) and the environment, load
 * the --config files, and fill s.  On success returns the loaded config
 * (caller frees with config_free) and sets *argind to the first operand.
 * On a usage error prints usage and exits 1; -h prints help and exits 0;
 * -V prints the version and exits 0.  Other errors: NULL and *cause. */
struct config	*settings_load(struct settings *s, int argc, char **argv,
		    char **cause);
void		 settings_free(struct settings *);
/* NOTIMOCK_* variables that are no setting, one warning a line with the
 * closest name ("did you mean"); NULL if none.  Caller frees. */
char		*settings_env_unknown(void);
/* The effective settings, one a line with where each came from; secrets
 * as fingerprints (-n -v). */
void		 settings_print(FILE *, const struct settings *);
/* Where a setting's value came from ("--token", "NOTIMOCK_TOKEN", ...). */
const char	*settings_source(const char *name);
void		 settings_usage(void) __attribute__((noreturn));

#endif
