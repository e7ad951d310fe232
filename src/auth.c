/*
 * auth.c: the token table and the barrier's checks.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "config.h"
#include "crypto.h"
#include "log.h"
#include "settings.h"
#include "xmalloc.h"

struct auth_entry {
	enum principal_type	 type;
	unsigned char		 digest[CRYPTO_SHA256_LEN];
	char			 fp[CRYPTO_FP_LEN];
	char			*subject;
	char			*restricted;	/* "'catalog', 'x'" or NULL */
	const char		*source;
};

struct auth {
	struct auth_entry	*v;
	size_t			 n;
};

static int
auth_nonspace(const char *s)
{
	if (*s == '\0')
		return (0);
	for (; *s != '\0'; s++)
		if (isspace((unsigned char)*s))
			return (0);
	return (1);
}

/* Backstage's StaticTokenHandler checks, in its order. */
static int
auth_add(struct auth *a, enum principal_type type, const char *token,
    const char *subject, const char *source, char **cause)
{
	struct auth_entry	*e;

	if (!auth_nonspace(token)) {
		xasprintf(cause, "%s: Illegal token, must be a set of "
		    "non-space characters", source);
		return (-1);
	}
	if (type == PRINCIPAL_SERVICE && strlen(token) < 8) {
		xasprintf(cause, "%s: Illegal token, must be at least 8 "
		    "characters length", source);
		return (-1);
	}
	if (!auth_nonspace(subject)) {
		xasprintf(cause, "%s: Illegal subject, must be a set of "
		    "non-space characters", source);
		return (-1);
	}
	a->v = xreallocarray(a->v, a->n + 1, sizeof *a->v);
	e = &a->v[a->n++];
	memset(e, 0, sizeof *e);
	e->type = type;
	crypto_sha256(token, strlen(token), e->digest);
	crypto_fingerprint(token, strlen(token), e->fp);
	e->subject = xstrdup(subject);
	e->source = source;
	return (0);
}

static int
auth_restrictions(struct auth_entry *e, const struct config_node *list,
    char **cause)
{
	const struct config_node	*item;
	const char			*key, *plugin;
	char				*s = NULL, *t;
	size_t				 i, j, k, len;

	for (i = 0; i < config_len(list); i++) {
		item = config_at(list, i);
		plugin = NULL;
		for (j = 0; j < config_len(item); j++) {
			key = config_key_at(item, j);
			if (key == NULL || (strcmp(key, "plugin") != 0 &&
			    strcmp(key, "permission") != 0 &&
			    strcmp(key, "permissionAttribute") != 0)) {
				xasprintf(cause, "Invalid key '%s' in "
				    "'accessRestrictions' config, expected one "
				    "of 'plugin', 'permission', "
				    "'permissionAttribute'", key ? key : "");
				free(s);
				return (-1);
			}
			if (strcmp(key, "plugin") == 0)
				plugin = config_scalar(config_at(item, j));
		}
		if (plugin == NULL)
			continue;
		/* A plugin listed twice is a start-up error. */
		for (k = 0; k < i; k++) {
			const struct config_node *prev = config_at(list, k);
			const char *pp = config_scalar(config_child(prev,
			    "plugin"));
			if (pp != NULL && strcmp(pp, plugin) == 0) {
				xasprintf(cause, "Attempted to declare "
				    "'accessRestrictions' twice for plugin "
				    "'%s', which is not permitted", plugin);
				free(s);
				return (-1);
			}
		}
		len = s ? strlen(s) : 0;
		xasprintf(&t, "%s%s'%s'", s ? s : "", len ? ", " : "", plugin);
		free(s);
		s = t;
	}
	if (s != NULL && strstr(s, "'notifications'") != NULL) {
		free(s);	/* notifications is allowed: no restriction here */
		s = NULL;
	} else if (s == NULL && config_len(list) > 0)
		s = xstrdup("");	/* permission-only lists restrict nothing we serve */
	if (s != NULL && *s == '\0') {
		free(s);
		s = NULL;
	}
	e->restricted = s;
	return (0);
}

static int
auth_external_access(struct auth *a, const struct config *cfg, char **cause)
{
	const struct config_node	*list, *entry, *opts, *r;
	const char			*type, *token, *subject;
	char				 path[128], *msg = NULL;
	size_t				 i;

	if ((list = config_get(cfg, "backend.auth.externalAccess")) == NULL)
		return (0);
	for (i = 0; i < config_len(list); i++) {
		entry = config_at(list, i);
		snprintf(path, sizeof path, "backend.auth.externalAccess[%zu]",
		    i);
		type = config_scalar(config_child(entry, "type"));
		if (type == NULL) {
			xasprintf(cause, "Missing required config value at "
			    "'%s.type'", path);
			return (-1);
		}
		if (strcmp(type, "legacy") == 0 || strcmp(type, "jwks") == 0) {
			log_warnx("%s: type '%s' is not supported by notimock; "
			    "entry ignored", path, type);
			continue;
		}
		if (strcmp(type, "static") != 0) {
			xasprintf(cause, "Unknown type '%s' in "
			    "backend.auth.externalAccess, expected one of "
			    "'static', 'legacy', 'jwks'", type);
			return (-1);
		}
		opts = config_child(entry, "options");
		if (opts == NULL && config_child(entry, "config") != NULL)
			log_warnx("%s: the settings belong under 'options:', "
			    "not 'config:' (Backstage reads only 'options')",
			    path);
		token = config_scalar(config_child(opts, "token"));
		subject = config_scalar(config_child(opts, "subject"));
		if (token == NULL || subject == NULL) {
			xasprintf(cause, "Missing required config value at "
			    "'%s.options.%s'", path, token == NULL ? "token" :
			    "subject");
			return (-1);
		}
		if (auth_add(a, PRINCIPAL_SERVICE, token, subject,
		    "backend.auth.externalAccess", &msg) == -1) {
			/* Backstage's messages stand alone. */
			*cause = xstrdup(strchr(msg, ':') + 2);
			free(msg);
			return (-1);
		}
		if ((r = config_child(entry, "accessRestrictions")) != NULL &&
		    auth_restrictions(&a->v[a->n - 1], r, cause) == -1)
			return (-1);
	}
	return (0);
}

struct auth *
auth_new(const struct settings *s, const struct config *cfg, char **cause)
{
	struct auth	*a;
	char		*copy, *sep;
	const char	*env;
	size_t		 i;
	int		 rc;

	a = xcalloc(1, sizeof *a);
	/* Fixed user tokens first: Backstage tries user JWTs before
	 * externalAccess entries. */
	for (i = 0; i < s->user_tokens.n; i++) {
		copy = xstrdup(s->user_tokens.v[i]);
		if ((sep = strchr(copy, '=')) == NULL || sep[1] == '\0') {
			xasprintf(cause, "--user-token: expected TOKEN=USERREF, "
			    "got '%.*s...'", 2, copy);
			free(copy);
			goto fail;
		}
		*sep = '\0';
		rc = auth_add(a, PRINCIPAL_USER, copy, sep + 1, "--user-token",
		    cause);
		free(copy);
		if (rc == -1)
			goto fail;
	}
	if (auth_external_access(a, cfg, cause) == -1)
		goto fail;
	for (i = 0; i < s->tokens.n; i++) {
		copy = xstrdup(s->tokens.v[i]);
		if ((sep = strchr(copy, ':')) != NULL)
			*sep++ = '\0';
		rc = auth_add(a, PRINCIPAL_SERVICE, copy,
		    sep != NULL ? sep : "argocd-notifications", "--token",
		    cause);
		free(copy);
		if (rc == -1)
			goto fail;
	}
	if ((env = getenv("ARGOCD_NOTIFICATION_TOKEN")) != NULL &&
	    *env != '\0' && auth_add(a, PRINCIPAL_SERVICE, env,
	    "argocd-notifications", "ARGOCD_NOTIFICATION_TOKEN", cause) == -1)
		goto fail;
	return (a);

fail:
	auth_free(a);
	return (NULL);
}

void
auth_free(struct auth *a)
{
	size_t	i;

	if (a == NULL)
		return;
	for (i = 0; i < a->n; i++) {
		free(a->v[i].subject);
		free(a->v[i].restricted);
	}
	free(a->v);
	free(a);
}

size_t
auth_service_count(const struct auth *a)
{
	size_t	i, n = 0;

	for (i = 0; i < a->n; i++)
		n += a->v[i].type == PRINCIPAL_SERVICE;
	return (n);
}

void
auth_log(const struct auth *a)
{
	char	 sub[256];
	size_t	 i;

	for (i = 0; i < a->n; i++)
		log_info("accepting %s token %s (from %s) as %s%s%s",
		    a->v[i].type == PRINCIPAL_SERVICE ? "service" : "user",
		    a->v[i].fp, a->v[i].source,
		    log_escape(sub, sizeof sub, a->v[i].subject,
		    strlen(a->v[i].subject)),
		    a->v[i].restricted ? ", restricted to " : "",
		    a->v[i].restricted ? a->v[i].restricted : "");
}

/*
 * The header must match ^Bearer[ ]+(\S+)$ with a case-insensitive scheme;
 * returns the token's start and length, or NULL.
 */
static const char *
auth_bearer(const char *h, size_t *lenp)
{
	const char	*p, *tok;

	if (h == NULL || strncasecmp(h, "bearer", 6) != 0 || h[6] != ' ')
		return (NULL);
	for (p = h + 6; *p == ' '; p++)
		;
	tok = p;
	while (*p != '\0' && !isspace((unsigned char)*p))
		p++;
	if (p == tok || *p != '\0')
		return (NULL);
	*lenp = (size_t)(p - tok);
	return (tok);
}

enum auth_result
auth_check(const struct auth *a, const char *header, struct principal *p,
    char *msg, size_t msglen)
{
	unsigned char	 d[CRYPTO_SHA256_LEN];
	const char	*tok;
	size_t		 len, i, match = (size_t)-1;

	memset(p, 0, sizeof *p);
	if ((tok = auth_bearer(header, &len)) == NULL)
		return (AUTH_MISSING);
	crypto_sha256(tok, len, d);
	crypto_fingerprint(tok, len, p->fp);
	/* Look at every entry, so the time taken does not say which matched. */
	for (i = 0; i < a->n; i++)
		if (crypto_equal(d, a->v[i].digest, sizeof d) &&
		    match == (size_t)-1)
			match = i;
	if (match == (size_t)-1)
		return (AUTH_ILLEGAL);
	p->type = a->v[match].type;
	p->subject = a->v[match].subject;
	if (a->v[match].restricted != NULL) {
		snprintf(msg, msglen, "This token's access is restricted to "
		    "plugin(s) %s", a->v[match].restricted);
		return (AUTH_RESTRICTED);
	}
	return (AUTH_OK);
}

void
auth_redact(const char *header, char *buf, size_t len)
{
	const char	*tok, *sp, *p;
	char		 fp[CRYPTO_FP_LEN];
	size_t		 tlen;

	if ((tok = auth_bearer(header, &tlen)) != NULL) {
		snprintf(buf, len, "Bearer %s", crypto_fingerprint(tok, tlen,
		    fp));
		return;
	}
	/*
	 * Anything else keeps a scheme word ("Basic", "Bearer", "Token") only
	 * when one is clearly there: a short run of letters then a space.
	 * Everything after it, or the whole value, is a secret.
	 */
	crypto_fingerprint(header, strlen(header), fp);
	sp = strchr(header, ' ');
	for (p = header; sp != NULL && p < sp; p++)
		if (!isalpha((unsigned char)*p))
			break;
	if (sp != NULL && p == sp && sp > header && sp - header <= 16) {
		crypto_fingerprint(sp + 1, strlen(sp + 1), fp);
		snprintf(buf, len, "%.*s <redacted %s>", (int)(sp - header),
		    header, fp);
	} else if (strcasecmp(header, "bearer") == 0 ||
	    strcasecmp(header, "basic") == 0 || *header == '\0')
		snprintf(buf, len, "%s", header);	/* a bare scheme */
	else
		snprintf(buf, len, "<redacted %s>", fp);
}

void
auth_service_fingerprints(const struct auth *a, char *buf, size_t len)
{
	size_t	i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < a->n && o < len; i++) {
		if (a->v[i].type != PRINCIPAL_SERVICE)
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "",
		    a->v[i].fp);
	}
}
