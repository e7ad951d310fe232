/*
 * signin.c: /api/auth, as far as guest sign-in goes.
 *
 * Backstage's auth plugin parses JSON bodies on every path below its mount
 * (express.json(): a bad body is 400 SyntaxError, a big one 413), then
 * routes /<provider>/... to the provider's router, and anything else under
 * /<provider>/ to "Unknown auth provider '<provider>'" (404).  Only the
 * guest provider is installed here; when the config does not enable it,
 * its routes answer "No auth provider registered for 'guest'" (404), as
 * an installed but unconfigured provider does.  The guest's refresh
 * returns Backstage's identity response with a user JWT signed by auth.c.
 * There is no credential barrier on this plugin.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "catalog.h"
#include "config.h"
#include "entity.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "route.h"
#include "signin.h"
#include "util.h"
#include "xmalloc.h"

#define SIGNIN_MOUNT		"/api/auth"
#define SIGNIN_BODY_LIMIT	102400		/* express.json()'s 100kb */
#define SIGNIN_JSON		"application/json; charset=utf-8"

/* Answer with Backstage's error shape: error holds name, message and then
 * any extra members of extra (body-parser errors carry several). */
static void
signin_fail(struct req *r, const char *url, int status, const char *name,
    const char *message, struct json *extra)
{
	struct json	*o, *e, *q, *s, *m;

	o = json_new_object();
	e = json_new_object();
	json_add_str(e, "name", name);
	json_add_str(e, "message", message);
	if (extra != NULL) {
		for (m = json_first(extra); m != NULL; m = json_next(m))
			json_add(e, json_key(m), json_dup(m));
		json_free(extra);
	}
	json_add(o, "error", e);
	q = json_new_object();
	json_add_str(q, "method", r->method);
	json_add_str(q, "url", url);
	json_add(o, "request", q);
	s = json_new_object();
	json_add_num(s, "statusCode", status);
	json_add(o, "response", s);
	http_send_json(r, status, o);
	json_free(o);
}

/* express.json() on any request with a JSON content type.  Returns -1
 * after answering the error. */
static int
signin_body(struct req *r, const char *url)
{
	const char		*ctype = http_header(r, "Content-Type");
	const unsigned char	*body;
	struct json		*v, *extra;
	char			 media[64], err[JSON_ERRLEN], *text;
	size_t			 len, i = 0;

	if (ctype == NULL)
		return (0);
	while (*ctype == ' ')
		ctype++;
	for (; *ctype != '\0' && *ctype != ';' && *ctype != ' ' &&
	    i + 1 < sizeof media; ctype++)
		media[i++] = (char)tolower((unsigned char)*ctype);
	media[i] = '\0';
	if (strcmp(media, "application/json") != 0)
		return (0);
	body = http_body(r, &len);
	if (len > SIGNIN_BODY_LIMIT) {
		extra = json_new_object();
		json_add_num(extra, "expected", (double)len);
		json_add_num(extra, "length", (double)len);
		json_add_num(extra, "limit", SIGNIN_BODY_LIMIT);
		json_add_str(extra, "type", "entity.too.large");
		signin_fail(r, url, 413, "PayloadTooLargeError",
		    "request entity too large", extra);
		return (-1);
	}
	if (len == 0)
		return (0);
	if ((v = json_parse((const char *)body, len, 1, err, sizeof err,
	    NULL)) != NULL) {
		json_free(v);
		return (0);
	}
	extra = json_new_object();
	json_add_bool(extra, "expose", 1);
	json_add_num(extra, "statusCode", 400);
	json_add_num(extra, "status", 400);
	text = xstrndup((const char *)body, len);
	json_add_str(extra, "body", text);
	free(text);
	json_add_str(extra, "type", "entity.parse.failed");
	signin_fail(r, url, 400, "SyntaxError", err, extra);
	return (-1);
}

/* The auth plugin's external base URL: backend.baseUrl, else what the
 * client used to reach us. */
static char *
signin_issuer(struct req *r)
{
	const char	*base, *host;
	char		*out;
	size_t		 len;

	base = config_scalar(config_get(r->srv->config, "backend.baseUrl"));
	if (base != NULL) {
		len = strlen(base);
		while (len > 0 && base[len - 1] == '/')
			len--;
		xasprintf(&out, "%.*s%s", (int)len, base, SIGNIN_MOUNT);
		return (out);
	}
	if ((host = http_header(r, "Host")) == NULL || *host == '\0' ||
	    strpbrk(host, "/\\ \"") != NULL)
		host = "localhost";
	xasprintf(&out, "%s://%s%s", r->tls ? "https" : "http", host,
	    SIGNIN_MOUNT);
	return (out);
}

/* canonicalizeEntityRef: stringifyEntityRef(parseEntityRef(ref)), or the
 * ref itself when it does not parse. */
static char *
signin_canon(const char *ref)
{
	struct entity_ref	 er;
	char			 ename[32], msg[512], *out;

	if (entity_parse(ref, &er, ename, sizeof ename, msg, sizeof msg) == -1)
		return (xstrdup(ref));
	out = entity_canonical(&er);
	entity_ref_clear(&er);
	return (out);
}

/*
 * The guest provider's refresh: signInAsGuestUser() signs in as the
 * catalog's user entity when there is one (with its groups as ownership
 * refs), else issues a token for the configured ref directly.
 */
static void
signin_guest_refresh(struct req *r, void *arg)
{
	const char	*url = arg;
	struct server	*srv = r->srv;
	struct json	*o, *bi, *id, *arr;
	const char	*user;
	char *const	*cfg_ent;
	char		**ent = NULL, *sub = NULL, *issuer, *token;
	char		*cause = NULL, *c;
	size_t		 ncfg, nent = 0, i;
	int64_t		 now, exp;
	double		 left;

	auth_guest(srv->auth, &user, &cfg_ent, &ncfg);
	if (!catalog_user(srv->catalog, user, &sub, &ent, &nent)) {
		sub = signin_canon(user);
		for (i = 0; i < ncfg; i++) {
			c = signin_canon(cfg_ent[i]);
			strv_addu(&ent, &nent, c);
			free(c);
		}
		if (ncfg == 0)
			strv_addu(&ent, &nent, sub);
	}
	issuer = signin_issuer(r);
	now = util_now_ms();
	token = auth_user_token(srv->auth, sub, ent, nent, issuer, now, &exp,
	    &cause);
	if (token == NULL) {
		log_warnx("guest sign-in: %s", cause);
		signin_fail(r, url, 500, "Error", cause, NULL);
		goto out;
	}

	o = json_new_object();
	json_add(o, "profile", json_new_object());
	bi = json_new_object();
	json_add_str(bi, "token", token);
	id = json_new_object();
	json_add_str(id, "type", "user");
	json_add_str(id, "userEntityRef", sub);
	arr = json_new_array();
	for (i = 0; i < nent; i++)
		json_append(arr, json_new_string(ent[i]));
	json_add(id, "ownershipEntityRefs", arr);
	json_add(bi, "identity", id);
	/* Math.round(exp - Date.now() / 1000), taken after signing. */
	left = (double)exp - (double)util_now_ms() / 1000;
	json_add_num(bi, "expiresInSeconds", (double)(int64_t)(left + 0.5));
	json_add(o, "backstageIdentity", bi);
	http_send_json(r, 200, o);
	json_free(o);
out:
	free(token);
	free(issuer);
	free(cause);
	free(sub);
	strv_free(ent, nent);
}

static void
signin_jwks(struct req *r, void *arg)
{
	const char	*url = arg;
	char		*doc, *cause = NULL;

	if ((doc = auth_jwks(r->srv->auth, &cause)) == NULL) {
		log_warnx("jwks: %s", cause);
		signin_fail(r, url, 500, "Error", cause, NULL);
		free(cause);
		return;
	}
	http_send(r, 200, SIGNIN_JSON, doc, strlen(doc));
	free(doc);
}

/* The OIDC discovery document of Backstage's auth plugin. */
static void
signin_openid(struct req *r, void *arg)
{
	static const char *const algs[] = { "RS256", "RS384", "RS512",
	    "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA" };
	struct json	*o, *a;
	char		*iss, *u;
	size_t		 i;

	iss = signin_issuer(r);
	o = json_new_object();
	json_add_str(o, "issuer", iss);
	xasprintf(&u, "%s/v1/token", iss);
	json_add_str(o, "token_endpoint", u);
	free(u);
	xasprintf(&u, "%s/v1/userinfo", iss);
	json_add_str(o, "userinfo_endpoint", u);
	free(u);
	xasprintf(&u, "%s/.well-known/jwks.json", iss);
	json_add_str(o, "jwks_uri", u);
	free(u);
	a = json_new_array();
	json_append(a, json_new_string("code"));
	json_append(a, json_new_string("id_token"));
	json_add(o, "response_types_supported", a);
	a = json_new_array();
	json_append(a, json_new_string("public"));
	json_add(o, "subject_types_supported", a);
	a = json_new_array();
	for (i = 0; i < sizeof algs / sizeof algs[0]; i++)
		json_append(a, json_new_string(algs[i]));
	json_add(o, "id_token_signing_alg_values_supported", a);
	a = json_new_array();
	json_append(a, json_new_string("openid"));
	json_add(o, "scopes_supported", a);
	json_add(o, "token_endpoint_auth_methods_supported", json_new_array());
	a = json_new_array();
	json_append(a, json_new_string("sub"));
	json_append(a, json_new_string("ent"));
	json_add(o, "claims_supported", a);
	a = json_new_array();
	json_append(a, json_new_string("authorization_code"));
	json_add(o, "grant_types_supported", a);
	xasprintf(&u, "%s/v1/authorize", iss);
	json_add_str(o, "authorization_endpoint", u);
	free(u);
	a = json_new_array();
	json_append(a, json_new_string("S256"));
	json_add(o, "code_challenge_methods_supported", a);
	http_send_json(r, 200, o);
	json_free(o);
	free(iss);
}

/* The guest provider's sign-in flow, which notimock does not serve. */
static void
signin_not_implemented(struct req *r, void *arg)
{
	signin_fail(r, arg, 501, "NotImplementedError", "Not implemented",
	    NULL);
}

#define SIGNIN_PROVIDER	ROUTE_USER	/* under /:provider: check it first */
#define SIGNIN_GET	(HTTP_GET | HTTP_HEAD)

/* The auth plugin's routes below its mount (leading slashes and one
 * trailing slash already dropped); a handler's arg is request.url. */
static const struct route signin_routes[] = {
	{ SIGNIN_GET, "/.well-known/jwks.json", signin_jwks, NULL, 0 },
	{ SIGNIN_GET, "/.well-known/openid-configuration", signin_openid, NULL,
	    0 },
	{ SIGNIN_GET | HTTP_POST, "/:provider/refresh", signin_guest_refresh,
	    NULL, SIGNIN_PROVIDER },
	{ SIGNIN_GET, "/:provider/start", signin_not_implemented, NULL,
	    SIGNIN_PROVIDER },
	{ SIGNIN_GET | HTTP_POST, "/:provider/handler/frame",
	    signin_not_implemented, NULL, SIGNIN_PROVIDER },
};

void
signin_route(struct req *r, void *arg)
{
	struct route_match	 m;
	const char		*sub, *rest, *user;
	char			*url, *path, *provider, msg[512];
	char *const		*ent;
	size_t			 mlen = strlen(SIGNIN_MOUNT), len, nent;

	r->backstage = 1;
	/* request.url as the auth router sees it: below the mount. */
	rest = r->target + mlen;
	if (*rest == '/')
		url = xstrdup(rest);
	else
		xasprintf(&url, "/%s", rest);
	if (signin_body(r, url) == -1) {
		free(url);
		return;
	}

	sub = r->path + mlen;
	while (*sub == '/')
		sub++;
	len = strlen(sub);
	if (len > 0 && sub[len - 1] == '/')
		len--;
	xasprintf(&path, "/%.*s", (int)len, sub);
	route_find(signin_routes, sizeof signin_routes /
	    sizeof signin_routes[0], r->verb, path, &m);
	if (m.route != NULL && !(m.route->flags & SIGNIN_PROVIDER)) {
		m.route->fn(r, url);
		goto out;
	}
	if (len == 0) {
		http_empty(r, 404);	/* no route at the plugin's root */
		goto out;
	}

	/* /:provider/...: the provider first, then its routes; the plugin's
	 * catch-all names the provider as written. */
	provider = xstrndup(sub, strcspn(path + 1, "/"));
	if (util_strcaseeq(provider, "guest") &&
	    !auth_guest(r->srv->auth, &user, &ent, &nent))
		signin_fail(r, url, 404, "NotFoundError",
		    "No auth provider registered for 'guest'", NULL);
	else if (util_strcaseeq(provider, "guest") && m.route != NULL)
		m.route->fn(r, url);
	else {
		snprintf(msg, sizeof msg, "Unknown auth provider '%s'",
		    provider);
		signin_fail(r, url, 404, "NotFoundError", msg, NULL);
	}
	free(provider);
out:
	free(path);
	free(url);
}
