/*
 * auth.c: the token table, the barrier's checks, and the user JWTs of
 * Backstage's guest provider (issued by signin.c, verified here).
 */
#include <ctype.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "config.h"
#include "codec.h"
#include "crypto.h"
#include "entity.h"
#include "json.h"
#include "log.h"
#include "settings.h"
#include "util.h"
#include "xmalloc.h"

/* Backstage's token types (@backstage/plugin-auth-node tokenTypes). */
#define AUTH_TYP_USER		"vnd.backstage.user"
#define AUTH_TYP_LIMITED	"vnd.backstage.limited-user"
#define AUTH_AUD		"backstage"
#define AUTH_GUEST_DEFAULT	"user:development/guest"
#define AUTH_KEY_FILE		"notimock-user-token.key"
/* auth.backstageTokenExpiration: default and clamps, in seconds. */
#define AUTH_TTL_DEFAULT	3600
#define AUTH_TTL_MIN		600
#define AUTH_TTL_MAX		86400

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

	/* The guest provider and the user JWTs. */
	int			 guest;		/* enabled */
	char			*guest_user;	/* userEntityRef as written */
	char			**guest_ent;	/* ownershipEntityRefs */
	size_t			 guest_nent;
	int			 omit_ent;	/* omitIdentityTokenOwnershipClaim */
	int64_t			 ttl;		/* seconds */
	char			*key_path;	/* NULL: a key in memory only */
	struct crypto_key	*key;		/* made or read on first use */
	char			 kid[UTIL_UUID_LEN];
	/* Subjects of verified JWTs, so that principals can borrow them;
	 * only tokens we signed get here, which bounds the list. */
	char			**subs;
	size_t			 nsubs;
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
	crypto_fingerprint_digest(e->digest, e->fp);
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

/* A config boolean: 1, 0, or def when absent; -1 if it is not one. */
static int
auth_bool(const struct config *cfg, const char *path, int def)
{
	struct config_node	*n = config_get(cfg, path);
	const char		*v;

	if (n == NULL)
		return (def);
	if ((v = config_scalar(n)) == NULL)
		return (-1);
	if (strcmp(v, "true") == 0)
		return (1);
	if (strcmp(v, "false") == 0)
		return (0);
	return (-1);
}

/* auth.backstageTokenExpiration: "30m", "1h", a number of seconds, or
 * {hours: 1, minutes: 30, ...}; clamped to [600, 86400] s as Backstage
 * does. */
static int
auth_ttl(struct auth *a, const struct config *cfg, char **cause)
{
	static const struct {
		const char	*key;
		double		 ms;
	} units[] = {
		{ "years", 365.25 * 86400e3 }, { "months", 30.4375 * 86400e3 },
		{ "weeks", 7 * 86400e3 }, { "days", 86400e3 },
		{ "hours", 3600e3 }, { "minutes", 60e3 }, { "seconds", 1e3 },
		{ "milliseconds", 1 },
	};
	struct config_node	*n;
	const char		*key, *v, *errstr;
	int64_t			 ms = 0;
	double			 total = 0;
	size_t			 i, j;

	a->ttl = AUTH_TTL_DEFAULT;
	if ((n = config_get(cfg, "auth.backstageTokenExpiration")) == NULL)
		return (0);
	if (config_type(n) == CONFIG_SCALAR) {
		if (util_parse_duration(config_scalar(n), &ms) == -1)
			goto bad;
		total = (double)ms;
	} else if (config_type(n) == CONFIG_MAP) {
		for (i = 0; i < config_len(n); i++) {
			key = config_key_at(n, i);
			for (j = 0; j < sizeof units / sizeof units[0]; j++)
				if (strcmp(units[j].key, key) == 0)
					break;
			v = config_scalar(config_at(n, i));
			if (j == sizeof units / sizeof units[0] || v == NULL)
				goto bad;
			total += (double)util_strtonum(v, 0, 1000000000,
			    &errstr) * units[j].ms;
			if (errstr != NULL)
				goto bad;
		}
	} else
		goto bad;
	a->ttl = (int64_t)(total / 1000 + 0.5);
	if (a->ttl < AUTH_TTL_MIN)
		a->ttl = AUTH_TTL_MIN;
	if (a->ttl > AUTH_TTL_MAX)
		a->ttl = AUTH_TTL_MAX;
	return (0);
bad:
	xasprintf(cause, "%s: auth.backstageTokenExpiration is not a duration",
	    config_where(n));
	return (-1);
}

/*
 * Backstage's guest provider: on when auth.providers.guest is configured,
 * and by notimock's default when the config has no auth.providers at all.
 * notimock counts as a development environment, so
 * dangerouslyAllowOutsideDevelopment is not needed.
 */
static int
auth_guest_config(struct auth *a, const struct settings *s,
    const struct config *cfg, char **cause)
{
	struct config_node	*g, *ent;
	struct entity_ref	 er;
	const char		*user, *v;
	char			 ename[32], msg[512], *copy;
	size_t			 i;

	a->omit_ent = auth_bool(cfg, "auth.omitIdentityTokenOwnershipClaim", 1);
	if (a->omit_ent == -1) {
		xasprintf(cause, "auth.omitIdentityTokenOwnershipClaim must be "
		    "true or false");
		return (-1);
	}
	if (auth_ttl(a, cfg, cause) == -1)
		return (-1);
	if (strcmp(s->db, ":memory:") != 0) {
		copy = xstrdup(s->db);
		xasprintf(&a->key_path, "%s/%s", dirname(copy), AUTH_KEY_FILE);
		free(copy);
	}

	if (config_get(cfg, "auth.providers") == NULL) {
		a->guest = 1;
		a->guest_user = xstrdup(AUTH_GUEST_DEFAULT);
		return (0);
	}
	if ((g = config_get(cfg, "auth.providers.guest")) == NULL)
		return (0);
	if (config_type(g) != CONFIG_MAP) {
		xasprintf(cause, "%s: auth.providers.guest must be a map",
		    config_where(g));
		return (-1);
	}
	a->guest = 1;
	user = config_scalar(config_child(g, "userEntityRef"));
	if (user == NULL && config_child(g, "userEntityRef") != NULL) {
		xasprintf(cause, "%s: auth.providers.guest.userEntityRef must "
		    "be a string", config_where(g));
		return (-1);
	}
	if (user == NULL)
		user = AUTH_GUEST_DEFAULT;
	/* Backstage would start and then fail every sign-in. */
	if (entity_parse(user, &er, ename, sizeof ename, msg, sizeof msg) ==
	    -1) {
		xasprintf(cause, "auth.providers.guest.userEntityRef: %s", msg);
		return (-1);
	}
	entity_ref_clear(&er);
	a->guest_user = xstrdup(user);
	if ((ent = config_child(g, "ownershipEntityRefs")) != NULL) {
		if (config_type(ent) != CONFIG_SEQ) {
			xasprintf(cause, "%s: auth.providers.guest."
			    "ownershipEntityRefs must be a list of refs",
			    config_where(ent));
			return (-1);
		}
		for (i = 0; i < config_len(ent); i++) {
			if ((v = config_scalar(config_at(ent, i))) == NULL) {
				xasprintf(cause, "%s: auth.providers.guest."
				    "ownershipEntityRefs must be a list of "
				    "refs", config_where(ent));
				return (-1);
			}
			a->guest_ent = xreallocarray(a->guest_ent,
			    a->guest_nent + 1, sizeof *a->guest_ent);
			a->guest_ent[a->guest_nent++] = xstrdup(v);
		}
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
			xasprintf(cause, "--user-token #%zu: expected "
			    "TOKEN=USERREF (the value is not shown: it may be "
			    "a secret)", i + 1);
			free(copy);
			goto fail;
		}
		*sep = '\0';
		rc = auth_add(a, PRINCIPAL_USER, copy, sep + 1,
		    settings_source("user-token"), cause);
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
		    sep != NULL ? sep : "argocd-notifications",
		    settings_source("token"), cause);
		free(copy);
		if (rc == -1)
			goto fail;
	}
	if ((env = getenv("ARGOCD_NOTIFICATION_TOKEN")) != NULL &&
	    *env != '\0' && auth_add(a, PRINCIPAL_SERVICE, env,
	    "argocd-notifications", "ARGOCD_NOTIFICATION_TOKEN", cause) == -1)
		goto fail;
	if (auth_guest_config(a, s, cfg, cause) == -1)
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
	free(a->guest_user);
	for (i = 0; i < a->guest_nent; i++)
		free(a->guest_ent[i]);
	free(a->guest_ent);
	for (i = 0; i < a->nsubs; i++)
		free(a->subs[i]);
	free(a->subs);
	free(a->key_path);
	crypto_key_free(a->key);
	free(a);
}

int
auth_service_match_mac(const struct auth *a, const unsigned char *key,
    size_t keylen, const unsigned char mac[CRYPTO_SHA256_LEN],
    const char **subject)
{
	unsigned char	m[CRYPTO_SHA256_LEN];
	size_t		i;
	int		found = 0;

	*subject = NULL;
	/* Every entry, match or not: the time says nothing about which. */
	for (i = 0; i < a->n; i++) {
		if (a->v[i].type != PRINCIPAL_SERVICE)
			continue;
		crypto_hmac_sha256(key, keylen, a->v[i].digest,
		    sizeof a->v[i].digest, m);
		if (crypto_equal(m, mac, sizeof m) && !found) {
			found = 1;
			*subject = a->v[i].subject;
		}
	}
	return (found);
}

size_t
auth_service_count(const struct auth *a)
{
	size_t	i, n = 0;

	for (i = 0; i < a->n; i++)
		n += a->v[i].type == PRINCIPAL_SERVICE;
	return (n);
}

/* Fingerprint the tokens again, after crypto_fingerprint_setkey(). */
void
auth_refingerprint(struct auth *a)
{
	size_t	i;

	for (i = 0; i < a->n; i++)
		crypto_fingerprint_digest(a->v[i].digest, a->v[i].fp);
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
	if (a->guest)
		log_info("guest sign-in (POST /api/auth/guest/refresh) "
		    "signs in as %s", log_escape(sub, sizeof sub, a->guest_user,
		    strlen(a->guest_user)));
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

/* --- user JWTs ----------------------------------------------------------- */

/* The signing key, read or made on first use; its kid is derived from the
 * public key, so that it stays the same while the key file does. */
static struct crypto_key *
auth_key(struct auth *a, char **cause)
{
	unsigned char	x[CRYPTO_P256_LEN], y[CRYPTO_P256_LEN];
	unsigned char	pub[2 * CRYPTO_P256_LEN], h[CRYPTO_SHA256_LEN];

	if (a->key != NULL)
		return (a->key);
	if ((a->key = crypto_key_open(a->key_path, cause)) == NULL)
		return (NULL);
	crypto_key_public(a->key, x, y);
	memcpy(pub, x, sizeof x);
	memcpy(pub + sizeof x, y, sizeof y);
	crypto_sha256(pub, sizeof pub, h);
	h[6] = (h[6] & 0x0f) | 0x40;
	h[8] = (h[8] & 0x3f) | 0x80;
	snprintf(a->kid, sizeof a->kid, "%02x%02x%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3], h[4],
	    h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14],
	    h[15]);
	if (a->key_path != NULL)
		log_info("user tokens are signed with %s (key id %s)",
		    a->key_path, a->kid);
	return (a->key);
}

/* One base64url JSON segment of a JWT, as a JSON object; NULL otherwise. */
static struct json *
auth_jwt_part(const char *s, size_t len)
{
	unsigned char	*raw;
	size_t		 rlen;
	struct json	*v;
	char		 err[JSON_ERRLEN];

	if ((raw = codec_b64_decode_dup(CODEC_B64URL, s, len, &rlen)) == NULL)
		return (NULL);
	v = json_parse((char *)raw, rlen, 0, err, sizeof err, NULL);
	free(raw);
	if (v != NULL && json_type(v) != JSON_OBJECT) {
		json_free(v);
		v = NULL;
	}
	return (v);
}

/* The subject, kept for the table's lifetime. */
static const char *
auth_intern(struct auth *a, const char *sub)
{
	size_t	i;

	for (i = 0; i < a->nsubs; i++)
		if (strcmp(a->subs[i], sub) == 0)
			return (a->subs[i]);
	a->subs = xreallocarray(a->subs, a->nsubs + 1, sizeof *a->subs);
	a->subs[a->nsubs] = xstrdup(sub);
	return (a->subs[a->nsubs++]);
}

/* Is the claim absent, or a number?  (jose's checks of iat and nbf.) */
static int
auth_num_or_absent(const struct json *payload, const char *claim)
{
	const struct json	*v = json_get(payload, claim);

	return (v == NULL || json_type(v) == JSON_NUMBER);
}

/* Does aud name Backstage (a string, or an array holding it)? */
static int
auth_aud_ok(const struct json *payload)
{
	const struct json	*aud = json_get(payload, "aud"), *e;

	if (json_type(aud) == JSON_STRING)
		return (strcmp(json_string(aud), AUTH_AUD) == 0);
	for (e = json_first(aud); e != NULL; e = json_next(e))
		if (json_type(e) == JSON_STRING &&
		    strcmp(json_string(e), AUTH_AUD) == 0)
			return (1);
	return (0);
}

/*
 * Backstage's UserTokenHandler: a token whose protected header says typ
 * vnd.backstage.user (or limited-user), or whose payload says aud
 * "backstage", is a user token, and then it must verify (jose's jwtVerify:
 * our key and kid, ES256, the typ, iat/exp/sub present, not expired) or
 * the answer is 401.  Returns 0 for a token that is not a user token at
 * all (the static tokens get it then), else 1 with *rc.
 */
static int
auth_jwt_check(struct auth *a, const char *tok, size_t len,
    struct principal *p, char *msg, size_t msglen, enum auth_result *rc)
{
	struct json		*hdr = NULL, *payload = NULL;
	struct crypto_key	*key;
	const char		*dot1, *dot2, *typ, *alg, *kid, *sub;
	const struct json	*exp;
	unsigned char		*sig = NULL;
	size_t			 siglen;
	char			*cause = NULL;
	int			 limited = 0, audonly = 0, handled = 1;
	double			 now;

	*rc = AUTH_INVALID;
	snprintf(msg, msglen, "Failed user token verification");
	if ((dot1 = memchr(tok, '.', len)) == NULL ||
	    (hdr = auth_jwt_part(tok, (size_t)(dot1 - tok))) == NULL)
		return (0);
	dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - tok));
	if (dot2 != NULL)
		payload = auth_jwt_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	typ = json_string(json_get(hdr, "typ"));
	if (typ != NULL && strcmp(typ, AUTH_TYP_USER) == 0)
		;
	else if (typ != NULL && strcmp(typ, AUTH_TYP_LIMITED) == 0)
		limited = 1;
	else if (payload != NULL && memchr(dot2 + 1, '.',
	    len - (size_t)(dot2 + 1 - tok)) == NULL && auth_aud_ok(payload))
		audonly = 1;
	else {
		handled = 0;
		goto out;
	}

	/* From here on, any failure is "Failed user token verification". */
	if (payload == NULL || memchr(dot2 + 1, '.',
	    len - (size_t)(dot2 + 1 - tok)) != NULL)
		goto out;
	if ((key = auth_key(a, &cause)) == NULL) {
		log_warnx("auth: %s", cause);
		goto out;
	}
	alg = json_string(json_get(hdr, "alg"));
	kid = json_string(json_get(hdr, "kid"));
	if (alg == NULL || strcmp(alg, "ES256") != 0 ||
	    (json_get(hdr, "kid") != NULL && (kid == NULL ||
	    strcmp(kid, a->kid) != 0)))
		goto out;
	sig = codec_b64_decode_dup(CODEC_B64URL, dot2 + 1,
	    len - (size_t)(dot2 + 1 - tok), &siglen);
	if (sig == NULL || siglen != CRYPTO_ES256_SIGLEN ||
	    !crypto_es256_verify(key, tok, (size_t)(dot2 - tok), sig))
		goto out;
	now = (double)(util_now_ms() / 1000);
	exp = json_get(payload, "exp");
	if (!audonly && (json_get(payload, "iat") == NULL || exp == NULL ||
	    json_get(payload, "sub") == NULL))
		goto out;
	if (audonly && !auth_aud_ok(payload))
		goto out;
	if (!auth_num_or_absent(payload, "iat") ||
	    !auth_num_or_absent(payload, "nbf") ||
	    !auth_num_or_absent(payload, "exp"))
		goto out;
	if (exp != NULL && json_number(exp) <= now)
		goto out;	/* expired */
	if (json_get(payload, "nbf") != NULL &&
	    json_number(json_get(payload, "nbf")) > now)
		goto out;
	sub = json_string(json_get(payload, "sub"));
	if (sub == NULL || *sub == '\0') {
		snprintf(msg, msglen, "No user sub found in token");
		goto out;
	}
	if (limited) {
		snprintf(msg, msglen, "Illegal limited user token");
		goto out;
	}
	if (exp == NULL) {
		snprintf(msg, msglen, "User token is missing expiration");
		goto out;
	}
	p->type = PRINCIPAL_USER;
	p->subject = auth_intern(a, sub);
	*rc = AUTH_OK;
out:
	free(cause);
	free(sig);
	json_free(hdr);
	json_free(payload);
	return (handled);
}

/* Compact JWS: base64url(header).base64url(payload).base64url(signature). */
static char *
auth_jws(struct crypto_key *key, const struct json *hdr,
    const struct json *payload, char **sigpart, char **cause)
{
	unsigned char	 sig[CRYPTO_ES256_SIGLEN];
	char		*h, *pl, *eh, *ep, *input, *es, *out;

	h = json_print(hdr, NULL);
	pl = json_print(payload, NULL);
	eh = codec_b64_encode_dup(CODEC_B64URL, h, strlen(h));
	ep = codec_b64_encode_dup(CODEC_B64URL, pl, strlen(pl));
	xasprintf(&input, "%s.%s", eh, ep);
	out = NULL;
	if (crypto_es256_sign(key, input, strlen(input), sig) == -1)
		xasprintf(cause, "signing a user token failed");
	else {
		es = codec_b64_encode_dup(CODEC_B64URL, sig, sizeof sig);
		xasprintf(&out, "%s.%s", input, es);
		if (sigpart != NULL)
			*sigpart = es;
		else
			free(es);
	}
	free(h);
	free(pl);
	free(eh);
	free(ep);
	free(input);
	return (out);
}

int
auth_guest(const struct auth *a, const char **user_ref, char *const **ent,
    size_t *nent)
{
	if (!a->guest)
		return (0);
	*user_ref = a->guest_user;
	*ent = a->guest_ent;
	*nent = a->guest_nent;
	return (1);
}

char *
auth_user_token(struct auth *a, const char *sub, char *const *ent,
    size_t nent, const char *issuer, int64_t now_ms, int64_t *expp,
    char **cause)
{
	struct crypto_key	*key;
	struct json		*hdr, *payload, *arr;
	char			*uip = NULL, *limited, *token = NULL;
	int64_t			 iat, exp;
	size_t			 i;

	if ((key = auth_key(a, cause)) == NULL)
		return (NULL);
	iat = now_ms / 1000;
	exp = iat + a->ttl;

	/* uip: the signature of the limited token {sub, iat, exp}, which
	 * Backstage rebuilds from this token to act on the user's behalf. */
	hdr = json_new_object();
	json_add_str(hdr, "typ", AUTH_TYP_LIMITED);
	json_add_str(hdr, "alg", "ES256");
	json_add_str(hdr, "kid", a->kid);
	payload = json_new_object();
	json_add_str(payload, "sub", sub);
	json_add_num(payload, "iat", (double)iat);
	json_add_num(payload, "exp", (double)exp);
	limited = auth_jws(key, hdr, payload, &uip, cause);
	json_free(hdr);
	json_free(payload);
	if (limited == NULL)
		return (NULL);
	free(limited);

	hdr = json_new_object();
	json_add_str(hdr, "typ", AUTH_TYP_USER);
	json_add_str(hdr, "alg", "ES256");
	json_add_str(hdr, "kid", a->kid);
	payload = json_new_object();
	json_add_str(payload, "iss", issuer);
	json_add_str(payload, "sub", sub);
	if (!a->omit_ent) {
		arr = json_new_array();
		for (i = 0; i < nent; i++)
			json_append(arr, json_new_string(ent[i]));
		json_add(payload, "ent", arr);
	}
	json_add_str(payload, "aud", AUTH_AUD);
	json_add_num(payload, "iat", (double)iat);
	json_add_num(payload, "exp", (double)exp);
	json_add_str(payload, "uip", uip);
	token = auth_jws(key, hdr, payload, NULL, cause);
	json_free(hdr);
	json_free(payload);
	free(uip);
	if (token != NULL) {
		auth_intern(a, sub);
		*expp = exp;
	}
	return (token);
}

char *
auth_jwks(struct auth *a, char **cause)
{
	struct crypto_key	*key;
	struct json		*doc, *keys, *k;
	unsigned char		 x[CRYPTO_P256_LEN], y[CRYPTO_P256_LEN];
	char			*ex, *ey, *out;

	if ((key = auth_key(a, cause)) == NULL)
		return (NULL);
	crypto_key_public(key, x, y);
	ex = codec_b64_encode_dup(CODEC_B64URL, x, sizeof x);
	ey = codec_b64_encode_dup(CODEC_B64URL, y, sizeof y);
	k = json_new_object();
	json_add_str(k, "kty", "EC");
	json_add_str(k, "x", ex);
	json_add_str(k, "y", ey);
	json_add_str(k, "crv", "P-256");
	json_add_str(k, "kid", a->kid);
	json_add_str(k, "alg", "ES256");
	keys = json_new_array();
	json_append(keys, k);
	doc = json_new_object();
	json_add(doc, "keys", keys);
	out = json_print(doc, NULL);
	json_free(doc);
	free(ex);
	free(ey);
	return (out);
}

enum auth_result
auth_check(struct auth *a, const char *header, struct principal *p,
    char *msg, size_t msglen)
{
	unsigned char	 d[CRYPTO_SHA256_LEN];
	const char	*tok;
	size_t		 len, i, match = (size_t)-1;
	enum auth_result rc;

	memset(p, 0, sizeof *p);
	if ((tok = auth_bearer(header, &len)) == NULL)
		return (AUTH_MISSING);
	/* One hash serves the fingerprint and the comparison. */
	crypto_sha256(tok, len, d);
	crypto_fingerprint_digest(d, p->fp);
	/* User JWTs come before static tokens, as in Backstage. */
	if (auth_jwt_check(a, tok, len, p, msg, msglen, &rc))
		return (rc);
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
	auth_redact_fp(header, NULL, buf, len);
}

void
auth_redact_fp(const char *header, const char *known, char *buf, size_t len)
{
	const char	*tok, *sp, *p;
	char		 fp[CRYPTO_FP_LEN];
	size_t		 tlen;

	if ((tok = auth_bearer(header, &tlen)) != NULL) {
		snprintf(buf, len, "Bearer %s", known != NULL &&
		    *known != '\0' ? known : crypto_fingerprint(tok, tlen, fp));
		return;
	}
	/*
	 * Anything else keeps a scheme word ("Basic", "Bearer", "Token") only
	 * when one is clearly there: a short run of letters then a space.
	 * Everything after it, or the whole value, is a secret.
	 */
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
		snprintf(buf, len, "<redacted %s>", crypto_fingerprint(header,
		    strlen(header), fp));
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
