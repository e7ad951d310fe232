/*
 * test_diag.c: the diagnosis engine (src/diag.c) on the bytes Argo CD's
 * webhook sends for each misconfiguration (../shared/spec/argocd-webhook.md
 * sections 2-4, 7 and 10).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "crypto.h"
#include "diag.h"
#include "json.h"
#include "log.h"
#include "xmalloc.h"
#include "unit.h"

#define NOTIFS		"/api/notifications/notifications"
#define TOKEN		"s3cr3t-token-0123456789"
#define GO_UA		"Go-http-client/1.1"

/* A request as api.c would hand it over: a POST from Argo CD with the
 * right headers, the body parsed the way the body parser does. */
struct fixture {
	struct diag_input	 in;
	struct principal	 who;
	struct json		*json;
	struct json		*users;
	struct json		*entities;
	char			 err[JSON_ERRLEN];
	char			 fps[128];
	struct diag_result	 res;
};

static void
fx_init(struct fixture *f, const char *method, const char *uri,
    const char *body, int parse)
{
	char	fp[CRYPTO_FP_LEN];

	memset(f, 0, sizeof *f);
	f->in.method = method;
	f->in.uri = uri;
	f->in.path = uri;
	f->in.content_type = "application/json";
	f->in.authorization = "Bearer " TOKEN;
	f->in.user_agent = GO_UA;
	f->in.auth_checked = 1;
	f->in.auth = AUTH_OK;
	f->who.type = PRINCIPAL_SERVICE;
	f->who.subject = "argocd-notifications";
	crypto_fingerprint(TOKEN, strlen(TOKEN), f->who.fp);
	f->in.who = &f->who;
	snprintf(f->fps, sizeof f->fps, "%s",
	    crypto_fingerprint(TOKEN, strlen(TOKEN), fp));
	f->in.token_fps = f->fps;
	f->in.body = (const unsigned char *)body;
	f->in.body_len = strlen(body);
	f->in.json_errpos = -1;
	if (parse && *body != '\0') {
		f->json = json_parse(body, strlen(body), 1, f->err,
		    sizeof f->err, &f->in.json_errpos);
		f->in.json = f->json;
		if (f->json == NULL)
			f->in.json_error = f->err;
	}
	f->users = json_new_array();
	f->entities = json_new_array();
	f->in.users = f->users;
	f->in.entities = f->entities;
	f->in.status = 200;
	f->in.response = "[]";
	f->in.response_len = 2;
	f->in.remote = "10.0.0.7:40312";
	f->in.base_url = "http://localhost:3000/";
	f->in.now_ms = 1795955912797LL;
	f->in.seq = 1;
}

/*
 * What storage keeps (codes, arguments, evidence) must tell the same bytes
 * as the diagnoses themselves: checked for every result of every case.
 */
static void
roundtrip(const struct diag_result *res)
{
	char	*full, *compact, *told;

	if ((full = diag_json(res, NULL)) == NULL)
		return;
	compact = diag_json_compact(res, NULL);
	told = diag_expand(compact, strlen(compact), NULL);
	if (strcmp(full, told) != 0) {
		fprintf(stderr, "# stored form told differently:\n#   %s\n"
		    "#   %s\n", full, told);
		unit_failed = 1;
	}
	if (strstr(compact, "\"message\"") != NULL ||
	    strstr(compact, "\"fix\"") != NULL) {
		fprintf(stderr, "# stored form keeps prose: %s\n", compact);
		unit_failed = 1;
	}
	free(full);
	free(compact);
	free(told);
}

static void
fx_free(struct fixture *f)
{
	roundtrip(&f->res);
	diag_clear(&f->res);
	json_free(f->json);
	json_free(f->users);
	json_free(f->entities);
}

/* The diagnosis with this code, or NULL. */
static const struct diagnosis *
find(const struct diag_result *res, const char *code)
{
	size_t	i;

	for (i = 0; i < res->n; i++)
		if (strcmp(res->v[i].code, code) == 0)
			return (&res->v[i]);
	return (NULL);
}

/* The bare SHA-256 prefix of a token (12 hex digits), which nothing may
 * show: it can be checked against guesses offline. */
static const char *
sha_prefix(const char *tok, char out[13])
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		d[CRYPTO_SHA256_LEN];
	int			i;

	crypto_sha256(tok, strlen(tok), d);
	for (i = 0; i < 6; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 0xf];
	}
	out[12] = '\0';
	return (out);
}

/* No diagnosis text may carry the token. */
static int
leaks(const struct diag_result *res, const char *secret)
{
	size_t	i;

	for (i = 0; i < res->n; i++)
		if (strstr(res->v[i].message, secret) != NULL ||
		    strstr(res->v[i].evidence, secret) != NULL ||
		    strstr(res->v[i].fix, secret) != NULL)
			return (1);
	return (0);
}

#define CLEAN_BODY "{\"recipients\":{\"type\":\"entity\",\"entityRef\":" \
	"\"user:default/alice\"},\"payload\":{\"title\":\"Synced guestbook\"," \
	"\"description\":\"successfully synced (all tasks run)\",\"link\":" \
	"\"https://argocd.example.com/applications/guestbook\",\"severity\":" \
	"\"normal\",\"topic\":\"argocd.sync.succeeded\",\"scope\":" \
	"\"argocd/guestbook\"}}"

static void
test_clean_post(void)
{
	struct fixture	f;
	char		*s;

	fx_init(&f, "POST", NOTIFS, CLEAN_BODY, 1);
	json_append(f.users, json_new_string("user:default/alice"));
	json_append(f.entities, json_new_string("user:default/alice"));
	CHECK(f.json != NULL);
	CHECK_INT(diag_run(NULL, &f.in, &f.res), 0);
	CHECK(diag_json(&f.res, NULL) == NULL);
	CHECK(diag_codes(&f.res) == NULL);
	/* A broadcast reaches nobody in c->users, and that is fine. */
	fx_free(&f);
	fx_init(&f, "POST", NOTIFS, "{\"recipients\":{\"type\":\"broadcast\"},"
	    "\"payload\":{\"title\":\"x\"}}", 1);
	CHECK_INT(diag_run(NULL, &f.in, &f.res), 0);
	s = diag_codes(&f.res);
	CHECK(s == NULL);
end:
	fx_free(&f);
}

static void
test_missing_content_type(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;

	/* Argo CD without a Content-Type header: nobody parsed the body. */
	fx_init(&f, "POST", NOTIFS, CLEAN_BODY, 0);
	f.in.content_type = NULL;
	f.in.status = 400;
	f.in.response = "{\"error\":{\"name\":\"InputError\",\"message\":"
	    "\"unsupported media type undefined\"}}";
	f.in.response_len = strlen(f.in.response);
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "missing-content-type")) != NULL);
	CHECK_INT(d->level, DIAG_ERROR);
	CHECK_STR(d->evidence, "no Content-Type header; User-Agent: "
	    "Go-http-client/1.1, Argo CD's Go client");
	CHECK(strstr(d->fix, "service.webhook.backstage") != NULL);
	CHECK(strstr(d->fix, "- name: Content-Type\n    value: "
	    "application/json") != NULL);
	CHECK(strstr(d->message, "unsupported media type undefined") != NULL);
	/* The body itself is fine: nothing else to say. */
	CHECK_INT(f.res.n, 1);
end:
	fx_free(&f);
}

static void
test_wrong_content_type(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;

	fx_init(&f, "POST", NOTIFS, CLEAN_BODY, 0);
	f.in.content_type = "text/plain; charset=utf-8";
	f.in.status = 400;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "wrong-content-type")) != NULL);
	CHECK_STR(d->evidence, "Content-Type: text/plain; charset=utf-8");
	CHECK(strstr(d->message, "\"unsupported media type text/plain; "
	    "charset=utf-8\"") != NULL);
end:
	fx_free(&f);
}

#define CATALOG_SUCCEEDED " Application guestbook has been successfully " \
	"synced at 2024-05-01T12:00:07Z.\nSync operation details are " \
	"available at: https://argocd.example.com/applications/guestbook?" \
	"operation=true .\n"

static void
test_get_with_body(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;

	fx_init(&f, "GET", NOTIFS, CATALOG_SUCCEEDED, 0);
	f.in.content_type = NULL;
	f.in.status = 403;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "get-with-body")) != NULL);
	CHECK_INT(d->level, DIAG_ERROR);
	CHECK(strstr(d->message, "app-sync-succeeded") != NULL);
	CHECK(strstr(d->message, "on-sync-succeeded") != NULL);
	CHECK(strncmp(d->evidence, "GET " NOTIFS " with a 185-byte text body: "
	    "\" Application guestbook has been successfully synced at "
	    "2024-05-01T12:00:07Z.\\nSync", 120) == 0);
	CHECK(strstr(d->fix, "subscribe.on-sync-succeeded-backstage.backstage")
	    != NULL);
	/* Not also a Content-Type or JSON complaint: one cause, one fix. */
	CHECK(find(&f.res, "missing-content-type") == NULL);
	CHECK(find(&f.res, "invalid-json") == NULL);
end:
	fx_free(&f);
}

static void
test_wrong_method(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;

	/* webhook section without method: GET with the JSON body. */
	fx_init(&f, "GET", NOTIFS, CLEAN_BODY, 1);
	f.in.status = 403;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "wrong-method")) != NULL);
	CHECK(strstr(d->fix, "method: POST") != NULL);
	CHECK(find(&f.res, "get-with-body") == NULL);
	fx_free(&f);

	/* ... and without body: a GET with nothing. */
	fx_init(&f, "GET", NOTIFS, "", 0);
	f.in.status = 403;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "wrong-method")) != NULL);
	CHECK_STR(d->evidence, "GET " NOTIFS ", no body, User-Agent: "
	    "Go-http-client");
	fx_free(&f);

	/* A user listing notifications is not a misconfiguration. */
	fx_init(&f, "GET", NOTIFS, "", 0);
	f.in.user_agent = "Mozilla/5.0";
	f.who.type = PRINCIPAL_USER;
	diag_run(NULL, &f.in, &f.res);
	CHECK_INT(f.res.n, 0);
end:
	fx_free(&f);
}

/* Argo CD's app-sync-failed-backstage with the message between quotes. */
#define RAW_MESSAGE_BODY(msg) "{\"recipients\":{\"type\":\"entity\"," \
	"\"entityRef\":\"component:default/guestbook\"},\n \"payload\":" \
	"{\"title\":\"Sync failed: guestbook\",\n  \"description\":\"" msg \
	"\",\n  \"severity\":\"high\"}}\n"

static void
test_invalid_json_newline(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;

	fx_init(&f, "POST", NOTIFS, RAW_MESSAGE_BODY("one or more "
	    "synchronization "
	    "tasks completed unsuccessfully\none or more SyncFail hooks "
	    "failed"),
	    1);
	f.in.status = 400;
	f.in.response = "{\"error\":{\"name\":\"InputError\"}}";
	f.in.response_len = strlen(f.in.response);
	CHECK(f.json == NULL);
	CHECK(strncmp(f.err, "Bad control character in string literal ",
	    40) == 0);
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "invalid-json")) != NULL);
	/* Line 3: two spaces, "description":" and 58 bytes of message. */
	CHECK(strncmp(d->evidence, "line 3, column 76, at a raw newline: "
	    "...", 40) == 0);
	CHECK(strstr(d->evidence, "completed unsuccessfully\\none or more") !=
	    NULL);
	CHECK(strstr(d->message, "(in the value of \"description\")") != NULL);
	CHECK(strstr(d->message, "operationState.message") != NULL);
	CHECK(strstr(d->message, f.err) != NULL);
	CHECK(strstr(d->fix, "toJson") != NULL);
	CHECK(strstr(d->fix, "toRawJson") != NULL);
end:
	fx_free(&f);
}

static void
test_invalid_json_quote(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;

	fx_init(&f, "POST", NOTIFS, RAW_MESSAGE_BODY("one or more objects "
	    "failed to apply, reason: error when patching \"/dev/shm/123\": "
	    "Deployment.apps \"guestbook-ui\" is invalid"), 1);
	f.in.status = 400;
	f.in.response = "{\"error\":{\"name\":\"InputError\"}}";
	f.in.response_len = strlen(f.in.response);
	CHECK(f.json == NULL);
	CHECK(strncmp(f.err, "Expected ',' or '}' after property value", 40) ==
	    0);
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "invalid-json")) != NULL);
	CHECK(strstr(d->message, "A double quote inside a string value") !=
	    NULL);
	CHECK(strstr(d->message, "Backstage answers 400 \"Expected ',' or "
	    "'}' after property value in JSON at position 204\"") != NULL);
	CHECK(strstr(d->message, "\"description\"") != NULL);
	CHECK(strstr(d->evidence, "at '/': ...") != NULL);
	CHECK(strstr(d->evidence, "error when patching \"/dev/shm/123") !=
	    NULL);
	/* Without a Content-Type the same body gets the same diagnosis,
	 * announced for later. */
	fx_free(&f);
	fx_init(&f, "POST", NOTIFS, RAW_MESSAGE_BODY("error when patching "
	    "\"/dev/shm/123\""), 0);
	f.in.content_type = NULL;
	f.in.status = 400;
	diag_run(NULL, &f.in, &f.res);
	CHECK(find(&f.res, "missing-content-type") != NULL);
	CHECK((d = find(&f.res, "invalid-json")) != NULL);
	CHECK(strstr(d->message, "Once the problems above are fixed") != NULL);
end:
	fx_free(&f);
}

static void
test_invalid_json_quote_missing(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;

	/* {"title":{{ quote .app.metadata.labels.team }}} with no label. */
	fx_init(&f, "POST", NOTIFS, "{\"recipients\":{\"type\":\"broadcast\"},"
	    "\"payload\":{\"title\":}}", 1);
	f.in.status = 400;
	CHECK(f.json == NULL);
	CHECK_STR(f.err, "Unexpected token '}', ...\":{\"title\":}}\" is not "
	    "valid JSON");
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "invalid-json")) != NULL);
	CHECK(strstr(d->message, "A value is missing (in the value of "
	    "\"title\")") != NULL);
	CHECK(strstr(d->message, "{\"title\":}") != NULL);
	/* 40 bytes of context before the offending byte. */
	CHECK_STR(d->evidence, "line 1, column 55, at '}': ...{\"type\":"
	    "\"broadcast\"},\"payload\":{\"title\":}}");
	CHECK(strstr(d->fix, "default") != NULL);
end:
	fx_free(&f);
}

static void
test_invalid_json_go_escape(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;

	/* quote of a message with a BEL byte: Go writes \a. */
	fx_init(&f, "POST", NOTIFS, "{\"recipients\":{\"type\":\"broadcast\"},"
	    "\"payload\":{\"title\":\"x\",\"description\":\"bell\\a\"}}", 1);
	f.in.status = 400;
	CHECK(f.json == NULL);
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "invalid-json")) != NULL);
	CHECK(strstr(d->message, "sprig's quote") != NULL);
	CHECK(strstr(d->fix, "toJson instead of quote") != NULL);
end:
	fx_free(&f);
}

static void
test_no_value_fields(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;
	size_t			 i, n = 0;

	fx_init(&f, "POST", NOTIFS, "{\"recipients\":{\"type\":\"entity\","
	    "\"entityRef\":\"<no value>\"},\"payload\":{\"title\":\"Synced "
	    "guestbook\",\"description\":\"revision <no value>\",\"link\":"
	    "\"<no value>/applications/guestbook\"}}", 1);
	f.in.status = 400;
	CHECK(f.json != NULL);
	diag_run(NULL, &f.in, &f.res);
	for (i = 0; i < f.res.n; i++)
		n += strcmp(f.res.v[i].code, "no-value") == 0;
	CHECK_INT(n, 3);
	d = &f.res.v[0];
	CHECK_STR(d->code, "no-value");
	CHECK_INT(d->level, DIAG_ERROR);
	CHECK(strstr(d->message, "recipients.entityRef") != NULL);
	CHECK(strstr(d->message, "backstage.io/entity-ref") != NULL);
	CHECK(strncmp(d->evidence, "recipients.entityRef = \"<no value>\" "
	    "(line 1, column 45): ", 56) == 0);
	d = &f.res.v[1];
	CHECK(strstr(d->message, "payload.description") != NULL);
	CHECK(strstr(d->message, "multi-source") != NULL);
	CHECK_INT(d->level, DIAG_WARNING);
	d = &f.res.v[2];
	CHECK(strstr(d->message, "payload.link") != NULL);
	CHECK(strstr(d->message, "context.argocdUrl") != NULL);
	CHECK(strstr(d->fix, "argocdUrl: https://argocd.example.com") != NULL);
	CHECK_INT(d->level, DIAG_WARNING);
end:
	fx_free(&f);
}

static void
test_no_value_broken_json(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;

	/* {{ .app.metadata.annotations.team }} without quotes. */
	fx_init(&f, "POST", NOTIFS, "{\"recipients\":{\"type\":\"entity\","
	    "\"entityRef\":<no value>},\"payload\":{\"title\":\"t\"}}", 1);
	f.in.status = 400;
	CHECK(f.json == NULL);
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "invalid-json")) != NULL);
	CHECK(strstr(d->message, "An unquoted <no value>") != NULL);
	CHECK((d = find(&f.res, "no-value")) != NULL);
	CHECK(strncmp(d->evidence, "entityRef (line 1, column 44)", 29) == 0);
	CHECK_INT(d->level, DIAG_ERROR);
end:
	fx_free(&f);
}

static void
test_auth_missing(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;

	/* No header at all. */
	fx_init(&f, "POST", NOTIFS, CLEAN_BODY, 1);
	f.in.authorization = NULL;
	f.in.auth = AUTH_MISSING;
	memset(&f.who, 0, sizeof f.who);
	f.in.status = 401;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "auth-missing")) != NULL);
	CHECK_STR(d->evidence, "no Authorization header");
	CHECK(strstr(d->fix, "value: Bearer $backstage-token") != NULL);
end:
	fx_free(&f);
}

static void
test_auth_basic(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;

	/* basicAuth on the service replaced the header. */
	fx_init(&f, "POST", NOTIFS, CLEAN_BODY, 1);
	f.in.authorization = "Basic YWRtaW46" "czNjcjN0LXRva2Vu";
	f.in.auth = AUTH_MISSING;
	memset(&f.who, 0, sizeof f.who);
	f.in.status = 401;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "auth-basic")) != NULL);
	CHECK_STR(d->evidence, "Authorization: Basic <credentials hidden>");
	CHECK(!leaks(&f.res, "YWRtaW46"));
end:
	fx_free(&f);
}

static void
test_auth_unresolved(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;

	/* $backstage-token missing from argocd-notifications-secret. */
	fx_init(&f, "POST", NOTIFS, CLEAN_BODY, 1);
	f.in.authorization = "Bearer $backstage-token";
	f.in.auth = AUTH_ILLEGAL;
	crypto_fingerprint("$backstage-token", 16, f.who.fp);
	f.in.status = 401;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "auth-unresolved-secret")) != NULL);
	CHECK_STR(d->evidence, "Authorization: Bearer $backstage-token");
	CHECK(strstr(d->fix, "\"backstage-token\":") != NULL);
	CHECK(find(&f.res, "auth-unknown-token") == NULL);
end:
	fx_free(&f);
}

static void
test_auth_unknown(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;
	char			 want[256], fp[CRYPTO_FP_LEN];

	/*
	 * A token that matches nothing: its shape and keyed fingerprint,
	 * and no fingerprint of a configured token (a bare SHA-256 prefix
	 * under /mock/ could be brute-forced offline).
	 */
	fx_init(&f, "POST", NOTIFS, CLEAN_BODY, 1);
	f.in.authorization = "Bearer wrong-token-0123456789";
	f.in.auth = AUTH_ILLEGAL;
	crypto_fingerprint("wrong-token-0123456789", 22, f.who.fp);
	f.in.status = 401;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "auth-unknown-token")) != NULL);
	snprintf(want, sizeof want, "sent <22 characters; %s>, which does "
	    "not match the one configured token",
	    crypto_fingerprint("wrong-token-0123456789", 22, fp));
	CHECK_STR(d->evidence, want);
	CHECK(strstr(d->fix, "notimock fingerprint") != NULL);
	CHECK(!leaks(&f.res, "wrong-token-0123456789"));
	CHECK(!leaks(&f.res, TOKEN));
	CHECK(!leaks(&f.res, crypto_fingerprint(TOKEN, strlen(TOKEN), fp)));
end:
	fx_free(&f);
}

static void
test_auth_unknown_count(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;
	char			 fp[CRYPTO_FP_LEN];

	/* Two configured tokens; and none, where a fingerprint says
	 * nothing. */
	fx_init(&f, "POST", NOTIFS, CLEAN_BODY, 1);
	snprintf(f.fps, sizeof f.fps, "%s, hmac:0123456789ab",
	    crypto_fingerprint(TOKEN, strlen(TOKEN), fp));
	f.in.authorization = "Bearer wrong-token-0123456789";
	f.in.auth = AUTH_ILLEGAL;
	f.in.status = 401;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "auth-unknown-token")) != NULL);
	CHECK(strstr(d->evidence, "which matches none of the 2 configured "
	    "tokens") != NULL);
	CHECK(!leaks(&f.res, "hmac:0123456789ab"));
	fx_free(&f);
	fx_init(&f, "POST", NOTIFS, CLEAN_BODY, 1);
	f.fps[0] = '\0';
	f.in.authorization = "Bearer wrong-token-0123456789";
	f.in.auth = AUTH_ILLEGAL;
	f.in.status = 401;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "auth-unknown-token")) != NULL);
	CHECK_STR(d->evidence, "sent <22 characters>; no service token is "
	    "configured");
	CHECK(strstr(d->fix, "start it with --token") != NULL);
end:
	fx_free(&f);
}

static void
test_auth_unknown_base64(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;
	char			 fp[CRYPTO_FP_LEN], sha[13];

	/* The token base64-encoded (echo ... | base64 on one side). */
	fx_init(&f, "POST", NOTIFS, CLEAN_BODY, 1);
	/* base64 of TOKEN "\n" */
	f.in.authorization = "Bearer czNjcjN0LXRva2VuLTAxMjM0NTY3ODkK";
	f.in.auth = AUTH_ILLEGAL;
	f.in.status = 401;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "auth-unknown-token")) != NULL);
	CHECK(strstr(d->message, "base64 encoding of the configured token") !=
	    NULL);
	CHECK(strstr(d->message, "plus a newline") != NULL);
	CHECK(strstr(d->message, crypto_fingerprint(TOKEN,
	    strlen(TOKEN), fp)) != NULL);
	CHECK(!leaks(&f.res, sha_prefix(TOKEN, sha)));
end:
	fx_free(&f);
}

static void
test_auth_template(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;

	/* Template syntax in the service config. */
	fx_init(&f, "POST", NOTIFS, CLEAN_BODY, 1);
	f.in.authorization = "Bearer {{ .secrets.token }}";
	f.in.auth = AUTH_MISSING;
	f.in.status = 401;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "auth-template")) != NULL);
	CHECK_STR(d->evidence, "Authorization contains {{ .secrets.token }}");
end:
	fx_free(&f);
}

static void
test_auth_malformed(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;
	char			 want[256], fp[CRYPTO_FP_LEN], sha[13];

	/* Text after the token. */
	fx_init(&f, "POST", NOTIFS, CLEAN_BODY, 1);
	f.in.authorization = "Bearer " TOKEN " extra";
	f.in.auth = AUTH_MISSING;
	f.in.status = 401;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "auth-malformed")) != NULL);
	snprintf(want, sizeof want, "Authorization: Bearer <23 characters; "
	    "%s> followed by 1 more word: the token must be the last and "
	    "only thing after 'Bearer '", crypto_fingerprint(TOKEN,
	    strlen(TOKEN), fp));
	CHECK_STR(d->evidence, want);
	CHECK(!leaks(&f.res, TOKEN));
	CHECK(!leaks(&f.res, sha_prefix(TOKEN, sha)));
end:
	fx_free(&f);
}

static void
test_auth_user(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;
	char			 want[256], fp[CRYPTO_FP_LEN];

	/* A user token POSTing. */
	fx_init(&f, "POST", NOTIFS, CLEAN_BODY, 1);
	f.who.type = PRINCIPAL_USER;
	f.who.subject = "user:default/alice";
	f.in.status = 403;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "auth-user-token")) != NULL);
	snprintf(want, sizeof want, "token %s is the user token of "
	    "user:default/alice", crypto_fingerprint(TOKEN,
	    strlen(TOKEN), fp));
	CHECK_STR(d->evidence, want);
	CHECK(strstr(d->fix, "backend.auth.externalAccess") != NULL);
end:
	fx_free(&f);
}

static int
starts(const char *s, const char *prefix)
{
	return (strncmp(s, prefix, strlen(prefix)) == 0);
}

/* One request with Authorization h (answer auth), diagnosed into f. */
static void
fx_auth(struct fixture *f, const char *h, enum auth_result auth)
{
	fx_init(f, "POST", NOTIFS, CLEAN_BODY, 1);
	f->in.authorization = h;
	f->in.auth = auth;
	memset(&f->who, 0, sizeof f->who);
	f->in.status = 401;
	diag_run(NULL, &f->in, &f->res);
}

/*
 * Presented text is quoted only when the whole token is a $key reference
 * or one {{ ... }} template: pieces of a real token never reach a
 * diagnosis (they are readable under /mock/, in the inbox and the CLI).
 */
static void
test_auth_no_token_pieces(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;
	char			 want[256], fp[CRYPTO_FP_LEN];

	/* A '$' inside a token is not a reference. */
	fx_auth(&f, "Bearer Pr0d$EcretT0kenValue99", AUTH_ILLEGAL);
	CHECK(find(&f.res, "auth-unresolved-secret") == NULL);
	CHECK((d = find(&f.res, "auth-unknown-token")) != NULL);
	snprintf(want, sizeof want, "sent <22 characters with $; %s>, which "
	    "does not match the one configured token",
	    crypto_fingerprint("Pr0d$EcretT0kenValue99", 22, fp));
	CHECK_STR(d->evidence, want);
	CHECK(!leaks(&f.res, "EcretT0ken"));
	CHECK(!leaks(&f.res, "Pr0d"));
	fx_free(&f);

	/* An unclosed {{ before a real token. */
	fx_auth(&f, "Bearer {{ Pr0dSecretValue99", AUTH_MISSING);
	CHECK((d = find(&f.res, "auth-template")) != NULL);
	CHECK(starts(d->evidence, "Authorization: Bearer <20 characters, 2 "
	    "words, with {{; hmac:"));
	CHECK(!leaks(&f.res, "Pr0dSecret"));
	fx_free(&f);

	/* Text around a template. */
	fx_auth(&f, "Bearer {{ .x }}Pr0dSecretValue99", AUTH_MISSING);
	CHECK((d = find(&f.res, "auth-template")) != NULL);
	CHECK(!leaks(&f.res, "Pr0dSecret"));
	fx_free(&f);
	fx_auth(&f, "Bearer {{ .x }} Pr0dSecretValue99 {{ .y }}", AUTH_MISSING);
	CHECK((d = find(&f.res, "auth-template")) != NULL);
	CHECK(!leaks(&f.res, "Pr0dSecret"));
	fx_free(&f);

	/* A whole template, with or without the scheme, is shown. */
	fx_auth(&f, "{{ .secrets.token }}", AUTH_MISSING);
	CHECK((d = find(&f.res, "auth-template")) != NULL);
	CHECK_STR(d->evidence, "Authorization contains {{ .secrets.token }}");
	fx_free(&f);

	/* A first word that is no scheme is the token, most likely. */
	fx_auth(&f, "RealProdToken1234567 x", AUTH_MISSING);
	CHECK((d = find(&f.res, "auth-malformed")) != NULL);
	snprintf(want, sizeof want, "Authorization: <20 characters; %s> "
	    "followed by 1 more word where 'Bearer <token>' belongs",
	    crypto_fingerprint("RealProdToken1234567", 20, fp));
	CHECK_STR(d->evidence, want);
	CHECK(!leaks(&f.res, "RealProd"));
	fx_free(&f);

	/* A known scheme is named, in our spelling. */
	fx_auth(&f, "tOKEN Pr0dSecretValue99", AUTH_MISSING);
	CHECK((d = find(&f.res, "auth-malformed")) != NULL);
	CHECK_STR(d->evidence, "Authorization: the scheme 'Token' instead of "
	    "Bearer");
	CHECK(!leaks(&f.res, "Pr0dSecret"));
	fx_free(&f);

	/* A bare token. */
	fx_auth(&f, "Pr0dSecretValue99", AUTH_MISSING);
	CHECK((d = find(&f.res, "auth-malformed")) != NULL);
	CHECK(starts(d->evidence, "Authorization: a bare token <17 "
	    "characters; hmac:"));
	CHECK(!leaks(&f.res, "Pr0dSecret"));
	fx_free(&f);

	/* Whole references are shown: with a dot, and without Bearer. */
	fx_auth(&f, "Bearer $backstage.token", AUTH_ILLEGAL);
	CHECK((d = find(&f.res, "auth-unresolved-secret")) != NULL);
	CHECK_STR(d->evidence, "Authorization: Bearer $backstage.token");
	CHECK(strstr(d->fix, "Add the key backstage to the Secret") != NULL);
	fx_free(&f);
	fx_auth(&f, "$backstage-token", AUTH_MISSING);
	CHECK((d = find(&f.res, "auth-unresolved-secret")) != NULL);
	CHECK_STR(d->evidence, "Authorization: $backstage-token");
	fx_free(&f);
	/* A reference with more after it is no whole reference. */
	fx_auth(&f, "Bearer $backstage-token Pr0dSecretValue99", AUTH_MISSING);
	CHECK(find(&f.res, "auth-unresolved-secret") == NULL);
	CHECK((d = find(&f.res, "auth-malformed")) != NULL);
	CHECK(!leaks(&f.res, "Pr0dSecret"));
end:
	fx_free(&f);
}

/* The one fingerprint: keyed, stable within a process, new in each one
 * unless the key is set (the database's), and not the bare SHA-256
 * prefix. */
static void
test_keyed_fingerprint(void)
{
	char		 a[CRYPTO_FP_LEN], b[CRYPTO_FP_LEN], c[CRYPTO_FP_LEN];
	unsigned char	 key[CRYPTO_FP_KEY_LEN], d[CRYPTO_SHA256_LEN];
	int		 fd[2] = { -1, -1 }, i, status;
	pid_t		 pid;
	static const char hex[] = "0123456789abcdef";

	/* Two processes draw two keys (this one has drawn none yet, so
	 * its children do not inherit one); with a key set, they agree. */
	memset(key, 7, sizeof key);
	CHECK(pipe(fd) == 0);
	for (i = 0; i < 4; i++) {
		if ((pid = fork()) == 0) {
			if (i >= 2)
				crypto_fingerprint_setkey(key);
			crypto_fingerprint(TOKEN, strlen(TOKEN), c);
			_exit(write(fd[1], c, sizeof c) == sizeof c ? 0 : 1);
		}
		CHECK(pid > 0);
		CHECK(waitpid(pid, &status, 0) == pid && status == 0);
	}
	CHECK(read(fd[0], b, sizeof b) == sizeof b);
	CHECK(read(fd[0], c, sizeof c) == sizeof c);
	CHECK(strncmp(b, "hmac:", 5) == 0 && strncmp(c, "hmac:", 5) == 0);
	CHECK(strcmp(b, c) != 0);
	CHECK(read(fd[0], b, sizeof b) == sizeof b);
	CHECK(read(fd[0], c, sizeof c) == sizeof c);
	CHECK_STR(b, c);

	crypto_fingerprint(TOKEN, strlen(TOKEN), a);
	crypto_fingerprint(TOKEN, strlen(TOKEN), b);
	CHECK_STR(a, b);
	CHECK_INT(strlen(a), 17);
	CHECK(strncmp(a, "hmac:", 5) == 0);
	CHECK(strspn(a + 5, "0123456789abcdef") == 12);
	crypto_sha256(TOKEN, strlen(TOKEN), d);
	for (i = 0; i < 6; i++) {
		c[2 * i] = hex[d[i] >> 4];
		c[2 * i + 1] = hex[d[i] & 0xf];
	}
	c[12] = '\0';
	CHECK(strcmp(a + 5, c) != 0);	/* not the bare SHA-256 prefix */
	crypto_fingerprint_digest(d, b);
	CHECK_STR(a, b);
	crypto_fingerprint("other", 5, b);
	CHECK(strcmp(a, b) != 0);
end:
	if (fd[0] != -1)
		close(fd[0]);
	if (fd[1] != -1)
		close(fd[1]);
}

static void
test_go_byte_list(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;
	char			 body[512], list[256], fp[CRYPTO_FP_LEN], sha[13];
	size_t			 i, o = 0;

	/* {{ .secrets.token }} in the body renders the bytes of TOKEN. */
	for (i = 0; i < strlen(TOKEN); i++)
		o += (size_t)snprintf(list + o, sizeof list - o, "%s%u",
		    i ? " " : "", (unsigned char)TOKEN[i]);
	snprintf(body, sizeof body, "{\"recipients\":{\"type\":\"broadcast\"},"
	    "\"payload\":{\"title\":\"x\",\"metadata\":{\"token\":\"[%s]\"}}}",
	    list);
	fx_init(&f, "POST", NOTIFS, body, 1);
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "go-byte-list")) != NULL);
	CHECK_STR(d->evidence, "token (line 1, column 80): [23 numbers, each "
	    "0-255]");
	crypto_fingerprint(TOKEN, strlen(TOKEN), fp);
	CHECK(strstr(d->message, fp) != NULL);
	CHECK(strstr(d->message, "configured token") != NULL);
	CHECK(!leaks(&f.res, sha_prefix(TOKEN, sha)));
	CHECK(!leaks(&f.res, list));
	CHECK(strstr(d->fix, "toString") != NULL);
	/* JSON arrays of numbers have commas: not a byte list. */
	fx_free(&f);
	fx_init(&f, "POST", NOTIFS, "{\"recipients\":{\"type\":\"broadcast\"},"
	    "\"payload\":{\"title\":\"x\",\"metadata\":{\"v\":[1, 2, 3, 4]}}}",
	    1);
	diag_run(NULL, &f.in, &f.res);
	CHECK_INT(f.res.n, 0);
end:
	fx_free(&f);
}

static void
test_no_recipients(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;

	fx_init(&f, "POST", NOTIFS, "{\"recipients\":{\"type\":\"entity\","
	    "\"entityRef\":\"component:default/guestbook\"},\"payload\":"
	    "{\"title\":\"x\"}}", 1);
	json_append(f.entities, json_new_string("component:default/guestbook"));
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "no-recipients")) != NULL);
	CHECK_INT(d->level, DIAG_WARNING);
	CHECK(strstr(d->message, "nobody will see this in real Backstage "
	    "unless the catalog has the entity and it has an owner") != NULL ||
	    strstr(d->message, "Nobody will see this in real Backstage unless "
	    "the catalog has the entity and it has an owner") != NULL);
	CHECK_STR(d->evidence, "entityRef [\"component:default/guestbook\"] "
	    "reached no user; the answer is []");
end:
	fx_free(&f);
}

static void
test_field_values(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;

	fx_init(&f, "POST", NOTIFS, "{\"recipients\":{\"type\":\"broadcast\"},"
	    "\"payload\":{\"title\":\"x\",\"severity\":\"High\"}}", 1);
	f.in.status = 400;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "severity-case")) != NULL);
	CHECK_STR(d->evidence, "payload.severity = \"High\"");
	CHECK_STR(d->fix, "Write \"severity\":\"high\" (or pipe the value "
	    "through lower).");
	fx_free(&f);

	fx_init(&f, "POST", NOTIFS, "{\"recipients\":{\"type\":\"broadcast\"},"
	    "\"payload\":{\"title\":\"x\",\"severity\":\"warning\"}}", 1);
	f.in.status = 400;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "severity-unknown")) != NULL);
	CHECK(strstr(d->fix, "(probably \"high\")") != NULL);
	fx_free(&f);

	fx_init(&f, "POST", NOTIFS, "{\"recipients\":{\"type\":\"broadcast\"},"
	    "\"payload\":{\"title\":\"x\",\"link\":\"ftp://argocd/app\"}}", 1);
	f.in.status = 400;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "link-not-http")) != NULL);
	CHECK_STR(d->evidence, "payload.link = \"ftp://argocd/app\"");
	fx_free(&f);

	fx_init(&f, "POST", NOTIFS, "{\"recipients\":{\"type\":\"bentity\","
	    "\"entityRef\":\"user:default/guest\"},\"payload\":{\"title\":"
	    "\"x\"}}", 1);
	f.in.status = 400;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "recipients-type")) != NULL);
	CHECK_STR(d->evidence, "recipients.type = \"bentity\"");
	fx_free(&f);

	fx_init(&f, "POST", NOTIFS, "{\"recipients\":{\"type\":\"entity\","
	    "\"entityRef\":\"guestbook\"},\"payload\":{\"title\":\"x\"}}", 1);
	f.in.status = 400;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "entity-ref-kind")) != NULL);
	CHECK(strstr(d->message, "Entity reference \"guestbook\" had missing "
	    "or "
	    "empty kind") != NULL);
	fx_free(&f);

	fx_init(&f, "POST", NOTIFS, "{\"title\":\"x\",\"message\":\"y\","
	    "\"targetUsers\":[\"alice\"]}", 1);
	f.in.status = 400;
	diag_run(NULL, &f.in, &f.res);
	CHECK(find(&f.res, "legacy-body") != NULL);
	CHECK(find(&f.res, "schema") == NULL);
	fx_free(&f);

	/* Accepted sends passed Backstage's own checks: not re-run. */
	fx_init(&f, "POST", NOTIFS, "{\"recipients\":{\"type\":\"broadcast\"},"
	    "\"payload\":{\"title\":\"x\",\"link\":\"/catalog/x\"}}", 1);
	diag_run(NULL, &f.in, &f.res);
	CHECK_INT(f.res.n, 0);
end:
	fx_free(&f);
}

static void
test_path_and_query(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;

	fx_init(&f, "POST", "/api/notifications/notifications/guestbook",
	    CLEAN_BODY, 1);
	f.in.status = 404;
	f.in.response = NULL;
	f.in.response_len = 0;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "wrong-path")) != NULL);
	fx_free(&f);

	fx_init(&f, "POST", "/api/notifications/notifications?token=abc/apps/x",
	    CLEAN_BODY, 1);
	f.in.path = "/api/notifications/notifications";
	f.in.status = 400;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "url-query")) != NULL);
	CHECK_STR(d->evidence, "query parameter 'token' (its value ends in the "
	    "path /apps/x)");
	CHECK(!leaks(&f.res, "abc"));
	fx_free(&f);

	/* <no value> in the path template. */
	fx_init(&f, "POST", "/api/notifications/%3Cno%20value%3E", CLEAN_BODY,
	    1);
	f.in.path = "/api/notifications/<no value>";
	f.in.status = 404;
	f.in.response_len = 0;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "no-value")) != NULL);
	CHECK_STR(d->evidence, "path /api/notifications/%3Cno%20value%3E");
	CHECK_INT(d->level, DIAG_ERROR);
end:
	fx_free(&f);
}

static void
test_retry(void)
{
	struct diag		*dg = diag_new();
	struct fixture		 f;
	const struct diagnosis	*d;
	char			*s = NULL, fp[CRYPTO_FP_LEN], sha[13];
	int			 i;

	/* Argo CD retrying a 503: 1 s, 2 s, 4 s; new port every time. */
	fx_init(&f, "POST", NOTIFS, CLEAN_BODY, 1);
	json_append(f.users, json_new_string("user:default/alice"));
	f.in.status = 503;
	CHECK_INT(diag_run(dg, &f.in, &f.res), 0);
	diag_clear(&f.res);
	f.in.seq = 2;
	f.in.remote = "10.0.0.7:40400";
	f.in.now_ms += 1000;
	diag_run(dg, &f.in, &f.res);
	CHECK((d = find(&f.res, "retry")) != NULL);
	CHECK_INT(d->level, DIAG_INFO);
	CHECK_INT(f.res.attempt, 2);
	CHECK_INT(f.res.nprevious, 1);
	CHECK_INT(f.res.previous[0], 1);
	CHECK(strstr(d->message, "Attempt 2") != NULL);
	CHECK(strstr(d->message, "answered 503") != NULL);
	diag_clear(&f.res);
	f.in.seq = 3;
	f.in.now_ms += 2000;
	f.in.status = 200;
	diag_run(dg, &f.in, &f.res);
	CHECK((d = find(&f.res, "retry")) != NULL);
	CHECK_INT(f.res.attempt, 3);
	CHECK_INT(f.res.nprevious, 2);
	CHECK_INT(f.res.previous[1], 2);
	s = diag_json(&f.res, NULL);
	CHECK(strstr(s, "\"code\":\"retry\",\"level\":\"info\"") != NULL);
	CHECK(strstr(s, "\"attempt\":3,\"previous\":[1,2]") != NULL);
	CHECK(strstr(d->evidence, "as delivery #1, #2, 2.0 s after the last") !=
	    NULL);
	free(s);
	s = NULL;
	diag_clear(&f.res);

	/* The 200 was final: the same again is a second send. */
	f.in.seq = 4;
	f.in.now_ms += 500;
	diag_run(dg, &f.in, &f.res);
	CHECK(find(&f.res, "retry") == NULL);
	CHECK((d = find(&f.res, "duplicate")) != NULL);
	CHECK(strstr(d->message, "answered 200") != NULL);
	/* The accepted token is a configured one: keyed fingerprint only. */
	CHECK(strstr(d->evidence, crypto_fingerprint(TOKEN,
	    strlen(TOKEN), fp)) != NULL);
	CHECK(!leaks(&f.res, sha_prefix(TOKEN, sha)));
	diag_clear(&f.res);

	/* Past the window: unrelated. */
	f.in.seq = 5;
	f.in.now_ms += 60000;
	diag_run(dg, &f.in, &f.res);
	if (f.res.n != 0)
		UNIT_FAIL("%s: %s", f.res.v[0].code, f.res.v[0].message);
	diag_clear(&f.res);

	/* Another client address is another origin. */
	f.in.seq = 6;
	f.in.remote = "10.0.0.8:40400";
	f.in.now_ms += 100;
	diag_run(dg, &f.in, &f.res);
	if (f.res.n != 0)
		UNIT_FAIL("%s: %s", f.res.v[0].code, f.res.v[0].message);
	diag_clear(&f.res);

	/* The ring forgets: 64 other requests push seq 6 out. */
	for (i = 0; i < 64; i++) {
		char uri[64];

		snprintf(uri, sizeof uri, NOTIFS "?n=%d", i);
		f.in.uri = uri;
		f.in.seq = 7 + i;
		CHECK_INT(diag_run(dg, &f.in, &f.res) > 0, 1);	/* url-query */
		CHECK(find(&f.res, "retry") == NULL);
		diag_clear(&f.res);
		f.in.uri = NOTIFS;
	}
	f.in.seq = 100;
	CHECK_INT(diag_run(dg, &f.in, &f.res), 0);
end:
	free(s);
	fx_free(&f);
	diag_free(dg);
}

static void
test_offline(void)
{
	struct diag_input	 in;
	struct diag_result	 res;
	const struct diagnosis	*d;
	const char		*body = "{\"recipients\":{\"type\":\"entity\","
	    "\"entityRef\":\"component:default/x\"},\"payload\":{}}";

	memset(&in, 0, sizeof in);
	memset(&res, 0, sizeof res);
	in.offline = 1;
	in.body = (const unsigned char *)body;
	in.body_len = strlen(body);
	in.json_errpos = -1;
	diag_run(NULL, &in, &res);
	CHECK((d = find(&res, "schema")) != NULL);
	CHECK_STR(d->evidence, "request/body/payload must have required "
	    "property 'title'");
	CHECK_INT(diag_errors(&res), 1);
	diag_clear(&res);

	/* Clean: nothing, and no transport guesses offline. */
	in.body = (const unsigned char *)CLEAN_BODY;
	in.body_len = strlen(CLEAN_BODY);
	CHECK_INT(diag_run(NULL, &in, &res), 0);
end:
	diag_clear(&res);
}

static void
test_print_text(void)
{
	struct fixture	 f;
	char		*s = NULL, *out = NULL, *codes = NULL;
	size_t		 len, olen;
	FILE		*mem = NULL;

	fx_init(&f, "POST", NOTIFS, CLEAN_BODY, 0);
	f.in.content_type = NULL;
	f.in.status = 400;
	diag_run(NULL, &f.in, &f.res);
	s = diag_json(&f.res, &len);
	CHECK(s != NULL);
	codes = diag_codes(&f.res);
	CHECK_STR(codes, "missing-content-type");
	mem = open_memstream(&out, &olen);
	CHECK_INT(diag_print_text(mem, s, len, "> "), 1);
	fclose(mem);
	mem = NULL;
	CHECK(strncmp(out, "> error   missing-content-type: No Content-Type "
	    "header", 53) == 0);
	CHECK(strstr(out, "\n>           fix: Add the header") != NULL);
	CHECK(strstr(out, "\n>           - name: Content-Type\n") != NULL);
	CHECK_INT(diag_print_text(stdout, "{}", 2, ""), -1);
	free(out);
	out = NULL;

	/*
	 * Stored text is escaped for the terminal: Backstage's own message
	 * for a bad entity ref carries it raw (ESC, BEL, C1, bidi), and so
	 * could anything in the store.  The layout's newlines stay.
	 */
	free(s);
	s = xstrdup("[{\"code\":\"x\\u001b[2J\",\"level"
	    "\":\"error\",\"message\":\"ref \\\"user:/\\u001b]0;owned\\u0007"
	    "\\u001b[2J\\u0085\\u202e\\u2066\\\" caf\\u00e9\",\"evidence\":"
	    "\"e\\u009b31m\",\"fix\":\"a\\nb\\r\"}]");
	mem = open_memstream(&out, &olen);
	CHECK_INT(diag_print_text(mem, s, strlen(s), "> "), 1);
	fclose(mem);
	mem = NULL;
	CHECK_STR(out, "> error   x\\x1b[2J: ref \"user:/\\x1b]0;owned\\x07"
	    "\\x1b[2J\\u{0085}\\u{202e}\\u{2066}\" caf\xc3\xa9\n"
	    ">           evidence: e\\u{009b}31m\n"
	    ">           fix: a\n"
	    ">         b\\x0d\n");
end:
	if (mem != NULL)
		fclose(mem);
	free(out);
	free(s);
	free(codes);
	fx_free(&f);
}

/* The one terminal escape of the command line (log.c). */
static void
test_escape_term(void)
{
	char	buf[64], big[LOG_TERM_SIZE(8)];
	const char *all = "\x1b\x7f\xc2\x85\xe2\x80\xae";

	/* C0, DEL, C1 and bidi controls; text and backslashes stay. */
	CHECK_STR(log_escape_term(buf, sizeof buf, "a\x1b[2J\x07\\n", 8),
	    "a\\x1b[2J\\x07\\n");
	CHECK_STR(log_escape_term(buf, sizeof buf, "\x7f\xc2\x9b\xc3\xa9", 5),
	    "\\x7f\\u{009b}\xc3\xa9");
	CHECK_STR(log_escape_term(buf, sizeof buf, "\xe2\x80\xae\xe2\x81\xa6"
	    "\xe2\x80\x8f\xd8\x9c\xe2\x80\x94", 14),
	    "\\u{202e}\\u{2066}\\u{200f}\\u{061c}\xe2\x80\x94");
	/* Not UTF-8: bare continuation, overlong U+202E, surrogate, NUL. */
	CHECK_STR(log_escape_term(buf, sizeof buf, "\x80\xf0\x82\x80\xae"
	    "\xed\xa0\x80\0", 9), "\\x80\\xf0\\x82\\x80\\xae\\xed\\xa0"
	    "\\x80\\x00");
	/* Cut with "...", never in the middle of an escape. */
	CHECK_STR(log_escape_term(buf, 12, "abc\x1b\x1b\x1b", 6),
	    "abc\\x1b...");
	CHECK_STR(log_escape_term(buf, 3, "abcdef", 6), "");
	/* LOG_TERM_SIZE always holds the whole of it. */
	CHECK_STR(log_escape_term(big, sizeof big, all, 7),
	    "\\x1b\\x7f\\u{0085}\\u{202e}");
	CHECK_STR(log_escape_term(big, sizeof big, "\x1b\x1b\x1b\x1b\x1b\x1b"
	    "\x1b\x1b", 8), "\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b\\x1b");
end:
	;
}

/* Client text quoted in a diagnosis keeps no C1 or bidi control. */
static void
test_escape_quoted(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;

	fx_init(&f, "POST", NOTIFS, "{\"recipients\":{\"type\":\"broadcast\"},"
	    "\"payload\":{\"title\":\"x\",\"link\":\"ftp://a/\\u0085\\u202e"
	    "\\u2069\xc3\xa9\"}}", 1);
	f.in.status = 400;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "link-not-http")) != NULL);
	CHECK_STR(d->evidence, "payload.link = \"ftp://a/\\u{0085}\\u{202e}"
	    "\\u{2069}\xc3\xa9\"");
	CHECK(!leaks(&f.res, "\xc2\x85"));
	CHECK(!leaks(&f.res, "\xe2\x80\xae"));
	fx_free(&f);

	/* The raw body: an overlong form of U+202E is not UTF-8. */
	fx_init(&f, "POST", NOTIFS, "{\"a\":\xf0\x82\x80\xae}", 1);
	f.in.status = 400;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "invalid-json")) != NULL);
	CHECK(!leaks(&f.res, "\xf0\x82\x80\xae"));
end:
	fx_free(&f);
}

static void
test_other_codes(void)
{
	struct fixture		 f;
	const struct diagnosis	*d;
	char			*big = NULL;

	/* A link that does not parse at all. */
	fx_init(&f, "POST", NOTIFS, "{\"recipients\":{\"type\":\"broadcast\"},"
	    "\"payload\":{\"title\":\"x\",\"link\":\"http://[bad\"}}", 1);
	f.in.status = 400;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "link-invalid")) != NULL);
	CHECK_STR(d->evidence, "payload.link = \"http://[bad\"");
	fx_free(&f);

	/* An entity ref with an empty name. */
	fx_init(&f, "POST", NOTIFS, "{\"recipients\":{\"type\":\"entity\","
	    "\"entityRef\":[\"user:default/a\",\"user:\"]},\"payload\":"
	    "{\"title\":\"x\"}}", 1);
	f.in.status = 400;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "entity-ref-invalid")) != NULL);
	CHECK(strstr(d->message, "TypeError: Entity reference \"user:\" was "
	    "not on the form") != NULL);
	CHECK(find(&f.res, "entity-ref-kind") == NULL);
	fx_free(&f);

	/* accessRestrictions without notifications. */
	fx_init(&f, "POST", NOTIFS, CLEAN_BODY, 1);
	f.in.auth = AUTH_RESTRICTED;
	f.in.status = 403;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "auth-restricted")) != NULL);
	CHECK(strstr(d->fix, "- plugin: notifications") != NULL);
	fx_free(&f);

	/* More than express.json() takes. */
	big = malloc(102402);
	CHECK(big != NULL);
	memset(big, ' ', 102401);
	big[0] = '{';
	big[102399] = '}';
	big[102401] = '\0';
	fx_init(&f, "POST", NOTIFS, big, 0);
	f.in.status = 400;
	diag_run(NULL, &f.in, &f.res);
	CHECK((d = find(&f.res, "body-too-large")) != NULL);
	CHECK_STR(d->evidence, "102401-byte body");
end:
	free(big);
	fx_free(&f);
}

/* The README's codes, from the tables of "### The diagnoses" after
 * "**The request**" (the ones before are lint's own), into set. */
static int
readme_codes(char set[][40], size_t max, size_t *n)
{
	const char	*dir = getenv("NOTIMOCK_SRCDIR");
	char		 path[1024], line[4096], *p, *q;
	FILE		*f;
	int		 in = 0;

	*n = 0;
	snprintf(path, sizeof path, "%s/README.md", dir != NULL ? dir : ".");
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "**The request**", 15) == 0)
			in = 1;
		else if (strncmp(line, "### ", 4) == 0)
			in = 0;
		if (!in || strncmp(line, "| `", 3) != 0)
			continue;
		/* The first cell: one or more `code`s. */
		*strchr(line + 1, '|') = '\0';
		for (p = line; (p = strchr(p, '`')) != NULL; p = q + 1) {
			if ((q = strchr(p + 1, '`')) == NULL ||
			    (size_t)(q - p) >= 40 || *n == max)
				break;
			memcpy(set[*n], p + 1, (size_t)(q - p - 1));
			set[(*n)++][q - p - 1] = '\0';
		}
	}
	fclose(f);
	return (0);
}

/* Every code of the table is documented, and every documented code is in
 * the table. */
static void
test_codes_readme(void)
{
	static char	 doc[128][40];
	size_t		 ndoc, i, k;
	int		 found;

	CHECK(readme_codes(doc, 128, &ndoc) == 0);
	CHECK(ndoc >= 30);
	for (i = 0; i < diag_ntexts; i++) {
		if (diag_texts[i].code == NULL)
			continue;
		for (k = 0, found = 0; k < ndoc; k++)
			found |= strcmp(doc[k], diag_texts[i].code) == 0;
		if (!found)
			UNIT_FAIL("code %s is not in README.md",
			    diag_texts[i].code);
	}
	for (k = 0; k < ndoc; k++) {
		for (i = 0, found = 0; i < diag_ntexts; i++)
			found |= diag_texts[i].code != NULL &&
			    strcmp(doc[k], diag_texts[i].code) == 0;
		if (!found)
			UNIT_FAIL("README.md's code %s is not in diag_texts",
			    doc[k]);
	}
end:
	;
}

/* The table's rows: a unique key each (stored rows name it), the code's
 * name first in it, a fix for a diagnosis and none for a part. */
static void
test_codes_table(void)
{
	const struct diag_text	*t;
	size_t			 i, k;

	CHECK(diag_ntexts > 30);
	for (i = 0; i < diag_ntexts; i++) {
		t = &diag_texts[i];
		if (t->key == NULL || t->message == NULL)
			UNIT_FAIL("row %zu is empty", i);
		for (k = 0; k < i; k++)
			if (strcmp(diag_texts[k].key, t->key) == 0)
				UNIT_FAIL("key %s twice", t->key);
		CHECK(diag_text_find(t->key) == t);
		if (t->code != NULL) {
			CHECK(t->fix != NULL);
			CHECK(strncmp(t->key, t->code, strlen(t->code)) == 0);
			CHECK(t->key[strlen(t->code)] == '\0' ||
			    t->key[strlen(t->code)] == '.');
		} else {
			CHECK(t->fix == NULL);
			CHECK(strchr(t->key, ':') != NULL);
		}
	}
	CHECK(diag_text_find("no-such-text") == NULL);
end:
	;
}

/*
 * The stored form: no prose, and told back word for word; rows stored
 * whole (before the table) come back as they are.
 */
static void
test_compact(void)
{
	struct diag	*dg = diag_new();
	struct fixture	 f;
	char		*full = NULL, *compact = NULL, *told = NULL;
	const char	*old = "[{\"code\":\"go-map\",\"level\":\"warning\","
			    "\"message\":\"m\",\"evidence\":\"e\",\"fix\":\"f\"}]";

	/* A retry of a refused token with <no value> in the body: parts,
	 * arguments, attempt and previous. */
	fx_init(&f, "POST", NOTIFS, "{\"recipients\":{\"type\":\"entity\","
	    "\"entityRef\":\"<no value>\"},\"payload\":{\"title\":\"x\"}}", 1);
	f.in.authorization = "Bearer czNjcjN0LXRva2VuLTAxMjM0NTY3ODkK";
	f.in.auth = AUTH_ILLEGAL;
	f.in.status = 503;
	diag_run(dg, &f.in, &f.res);
	diag_clear(&f.res);
	f.in.now_ms += 1000;
	f.in.seq = 2;
	diag_run(dg, &f.in, &f.res);
	CHECK(find(&f.res, "retry") != NULL);
	CHECK(find(&f.res, "auth-unknown-token") != NULL);
	full = diag_json(&f.res, NULL);
	compact = diag_json_compact(&f.res, NULL);
	CHECK(full != NULL && compact != NULL);
	CHECK(strlen(compact) * 2 < strlen(full));
	CHECK(strstr(compact, "\"t\":\"auth-unknown-token\"") != NULL);
	CHECK(strstr(compact, "{\"p\":\"auth-unknown-token:base64-newline\"}")
	    != NULL);
	CHECK(strstr(compact, "\"level\":\"error\"") != NULL);
	CHECK(strstr(compact, "\"attempt\":2,\"previous\":[1]") != NULL);
	told = diag_expand(compact, strlen(compact), NULL);
	CHECK_STR(told, full);
	free(told);
	/* Written whole, or not a diagnoses array: as it is. */
	told = diag_expand(old, strlen(old), NULL);
	CHECK_STR(told, old);
	free(told);
	told = diag_expand("[]", 2, NULL);
	CHECK_STR(told, "[]");
	free(told);
	told = diag_expand("{\"t\":1", 7, NULL);
	CHECK_STR(told, "{\"t\":1");
	free(told);
	/* A key this version does not know: said without its prose. */
	told = diag_expand("[{\"code\":\"x\",\"level\":\"info\",\"t\":\"x.y\","
	    "\"a\":[],\"evidence\":\"e\"}]", 61, NULL);
	CHECK_STR(told, "[{\"code\":\"x\",\"level\":\"info\",\"message\":null,"
	    "\"evidence\":\"e\",\"fix\":null}]");
end:
	free(told);
	free(full);
	free(compact);
	fx_free(&f);
	diag_free(dg);
}

static const struct unit_test tests[] = {
	{ "clean POST: no diagnosis", test_clean_post },
	{ "missing-content-type", test_missing_content_type },
	{ "wrong-content-type", test_wrong_content_type },
	{ "get-with-body: catalog template", test_get_with_body },
	{ "wrong-method", test_wrong_method },
	{ "invalid-json: raw newline", test_invalid_json_newline },
	{ "invalid-json: stray quote", test_invalid_json_quote },
	{ "invalid-json: quote of a missing value",
	  test_invalid_json_quote_missing },
	{ "invalid-json: Go escape", test_invalid_json_go_escape },
	{ "no-value: fields and causes", test_no_value_fields },
	{ "no-value: in broken JSON", test_no_value_broken_json },
	{ "auth-missing: no header", test_auth_missing },
	{ "auth-basic: basicAuth replaced the header", test_auth_basic },
	{ "auth-unresolved-secret: $key missing from the secret", test_auth_unresolved },
	{ "auth-unknown-token: one configured token", test_auth_unknown },
	{ "auth-unknown-token: two configured, and none", test_auth_unknown_count },
	{ "auth-unknown-token: base64 of the configured one", test_auth_unknown_base64 },
	{ "auth-template: {{ }} in the header", test_auth_template },
	{ "auth-malformed: text after the token", test_auth_malformed },
	{ "auth-user-token: a user token sends", test_auth_user },
	{ "auth-*: no pieces of a token", test_auth_no_token_pieces },
	{ "keyed fingerprints", test_keyed_fingerprint },
	{ "go-byte-list", test_go_byte_list },
	{ "no-recipients", test_no_recipients },
	{ "severity, link, recipients type, refs", test_field_values },
	{ "wrong-path, url-query, <no value> in the path",
	  test_path_and_query },
	{ "retry and duplicate", test_retry },
	{ "link-invalid, entity-ref-invalid, auth-restricted, body-too-large",
	  test_other_codes },
	{ "offline (lint)", test_offline },
	{ "diag_print_text", test_print_text },
	{ "terminal escape (log_escape_term)", test_escape_term },
	{ "quoted client text: no C1 or bidi controls", test_escape_quoted },
	{ "diag_texts: one row per text, unique keys", test_codes_table },
	{ "diag_texts: the codes README.md lists", test_codes_readme },
	{ "stored form: codes and arguments, told back", test_compact },
	{ NULL, NULL }
};

UNIT_MAIN(tests)
