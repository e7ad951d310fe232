/*
 * api.c: the notifications plugin's request pipeline, step by step as
 * ../shared/spec/backstage-notifications.md section 1 lists it:
 *
 *   barrier (401/403) -> body parser (400) -> route match (empty 404) ->
 *   validator: media type, query, body (400) -> handler: credential type
 *   (403), own checks (400) -> store -> 200
 *
 * Every request ends in api_finish(), which stores the delivery (accepted
 * or rejected) and hands the answer to http.c, which sends it once the
 * delivery is committed.
 *
 * This file holds the pipeline and the create handler (POST); the user
 * routes (the read side and user settings) are in api_read.c, the signals
 * these requests publish in signals.c, and what api.c and api_read.c share
 * in api_int.h.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_int.h"
#include "auth.h"
#include "catalog.h"
#include "db.h"
#include "diag.h"
#include "entity.h"
#include "fault.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "route.h"
#include "schema.h"
#include "settings.h"
#include "signals.h"
#include "url.h"
#include "util.h"
#include "xmalloc.h"

#define API_MOUNT		"/api/notifications"
#define API_BODY_LIMIT		102400	/* express.json()'s 100kb, inclusive */
#define API_REFUSED_KEEP	4096	/* bytes kept of a body the barrier
					   refused (401, 403) */
#define JSON_CTYPE		"application/json; charset=utf-8"

/*
 * Our own short description of the plugin's routes, served where Backstage
 * serves its OpenAPI document.  Clients only probe that it is there.
 */
static const char api_openapi[] =
    "{\"openapi\":\"3.0.3\",\"info\":{\"title\":\"notifications\","
    "\"version\":\"1\",\"description\":\"Backstage notifications plugin "
    "routes as served by notimock\"},\"servers\":[{\"url\":\"/\"}],"
    "\"paths\":{"
    "\"/notifications\":{\"get\":{\"operationId\":\"GetNotifications\"},"
    "\"post\":{\"operationId\":\"CreateNotification\"}},"
    "\"/notifications/{id}\":{\"get\":{\"operationId\":\"GetNotification\"}},"
    "\"/notifications/update\":{\"post\":{\"operationId\":"
    "\"UpdateNotifications\"}},"
    "\"/status\":{\"get\":{\"operationId\":\"GetStatus\"}},"
    "\"/topics\":{\"get\":{\"operationId\":\"GetTopics\"}},"
    "\"/settings\":{\"get\":{\"operationId\":\"GetUserSettings\"},"
    "\"post\":{\"operationId\":\"UpdateUserSettings\"}}}}";

/* --- the way out ----------------------------------------------------- */

/*
 * Diagnose the request (diag.c) once its answer is decided: the answer
 * stays Backstage's, the diagnoses go to the delivery row and, as codes,
 * to the access log line.  Returns the JSON array (or NULL) and sets
 * *codes (or NULL); the caller frees both.
 */
static char *
api_diagnose(struct api_ctx *c, int status, const char *body, size_t len,
    char **codes, int *attempt, int64_t *retry_of)
{
	struct req		*r = c->r;
	struct diag_input	 in;
	struct diag_result	 res;
	char			 fps[512];
	char			*dj;
	size_t			 blen;

	auth_service_fingerprints(r->srv->auth, fps, sizeof fps);
	memset(&in, 0, sizeof in);
	in.method = r->method;
	in.uri = r->uri;	/* detection only: diag.c quotes no query values */
	in.path = r->path;
	in.content_type = http_header(r, "Content-Type");
	in.authorization = http_header(r, "Authorization");
	in.user_agent = http_header(r, "User-Agent");
	in.auth_checked = c->auth_checked;
	in.auth = c->auth;
	in.who = &c->who;
	in.token_fps = fps;
	in.body = http_body(r, &blen);
	in.body_len = blen;
	in.json = c->body;
	in.json_error = c->jerr;
	in.json_errpos = c->jpos;
	in.status = status;
	in.response = body;
	in.response_len = len;
	in.users = c->users;
	in.entities = c->entities;
	in.remote = r->remote;
	in.base_url = r->srv->base_url;
	in.now_ms = r->received;
	in.seq = db_seq_next(r->srv->db);	/* this delivery's */
	diag_run(r->srv->diag, &in, &res);
	/* A retry (not a repeat of an accepted send) links to its first
	 * attempt: the oldest the detector remembers. */
	*attempt = 1;
	*retry_of = 0;
	for (size_t i = 0; i < res.n; i++)
		if (strcmp(res.v[i].code, "retry") == 0 && res.nprevious > 0) {
			*attempt = res.attempt;
			*retry_of = res.previous[0];
		}
	dj = diag_json(&res, NULL);
	*codes = diag_codes(&res);
	diag_clear(&res);
	return (dj);
}

static void	api_finish_as(struct api_ctx *, int, const char *, char *,
		    size_t);

/* request.url as the plugin router sees it: the URI below the mount,
 * with its query.  Caller frees. */
static char *
api_plugin_url(const char *uri)
{
	size_t		 mlen = strlen(API_MOUNT);
	const char	*rest;
	char		*url;

	rest = util_strncaseeq(uri, API_MOUNT, mlen) ? uri + mlen : uri;
	if (*rest == '/')
		url = xstrdup(rest);
	else
		xasprintf(&url, "/%s", rest);
	return (url);
}

/*
 * Store the delivery and hand the answer over.  Takes body (may be NULL).
 * If the store refuses, the answer becomes a 503 in Backstage's shape.
 */
void
api_finish(struct api_ctx *c, int status, char *body, size_t len)
{
	api_finish_as(c, status, len > 0 || status != 404 ? JSON_CTYPE : NULL,
	    body, len);
}

/* A plain-text answer (Express's OPTIONS reply). */
static void
api_finish_text(struct api_ctx *c, int status, const char *ctype,
    const char *text)
{
	api_finish_as(c, status, ctype, xstrdup(text), strlen(text));
}

static void
api_finish_as(struct api_ctx *c, int status, const char *ctype, char *body,
    size_t len)
{
	struct req		*r = c->r;
	struct server		*srv = r->srv;
	struct db_delivery	 d;
	struct json		*payload = NULL, *recip = NULL;
	const char		*title = NULL, *topic = NULL, *severity = NULL;
	const struct json	*src;
	struct json		*loose = NULL, *stored;
	char			*stored_text = NULL;
	char			*headers, *pj = NULL, *rj = NULL, *ej, *uj, *ij;
	char			*dj, *dcodes = NULL;
	const char		**ev = NULL;
	size_t			 en = 0, blen;
	struct json		*e;
	char			 msg[512];

	/*
	 * A refused request whose body Backstage never parsed (no JSON
	 * Content-Type, as Argo CD sends by default) still says what it was
	 * for: read it here, for the record only, so it is filed under its
	 * entities and title.
	 */
	src = c->body;
	if (src == NULL && status != 200) {
		const unsigned char *raw = http_body(r, &blen);

		if (blen > 0 && blen <= API_BODY_LIMIT)
			src = loose = json_parse((const char *)raw, blen, 0,
			    msg, sizeof msg, NULL);
	}
	if (src != NULL && json_type(src) == JSON_OBJECT) {
		payload = json_get(src, "payload");
		recip = json_get(src, "recipients");
		if (payload != NULL)
			pj = json_print(payload, NULL);
		if (recip != NULL)
			rj = json_print(recip, NULL);
		title = json_string(json_get(payload, "title"));
		topic = json_string(json_get(payload, "topic"));
		severity = json_string(json_get(payload, "severity"));
		if (severity == NULL && title != NULL && status == 200)
			severity = "normal";
	}
	/* Entity refs addressed: those of an accepted send, or whatever the
	 * body named if it was refused. */
	if (status != 200 && json_size(c->entities) == 0 && recip != NULL) {
		e = json_get(recip, "entityRef");
		if (json_type(e) == JSON_STRING)
			json_append(c->entities, json_dup(e));
		else if (json_type(e) == JSON_ARRAY)
			for (e = json_first(e); e != NULL; e = json_next(e))
				if (json_type(e) == JSON_STRING)
					json_append(c->entities, json_dup(e));
	}
	ev = xcalloc(json_size(c->entities) + 1, sizeof *ev);
	for (e = json_first(c->entities); e != NULL; e = json_next(e))
		ev[en++] = json_string(e);

	headers = http_headers_json(r, c->auth_checked ? c->who.fp : NULL);
	ej = json_print(c->entities, NULL);
	uj = json_print(c->users, NULL);
	ij = json_print(c->ids, NULL);

	memset(&d, 0, sizeof d);
	d.received = r->received;
	d.remote = r->remote;
	d.method = r->method;
	d.path = http_uri_redacted(r);
	d.headers = headers;
	d.body = http_body(r, &blen);
	d.body_len = d.body_size = blen;
	/*
	 * Bodies are stored only up to --max-stored-body, and a body the
	 * barrier refused (which Backstage never reads) only up to its first
	 * API_REFUSED_KEEP bytes: otherwise anyone could fill the disk with
	 * unauthenticated 4 MiB POSTs.  The delivery says so (bodySize).
	 */
	if ((status == 401 || status == 403) && blen > API_REFUSED_KEEP)
		d.body_len = API_REFUSED_KEEP;
	if (d.body_len > (size_t)srv->settings->max_stored_body)
		d.body_len = (size_t)srv->settings->max_stored_body;
	if (d.body_len < blen) {
		srv->bodies_truncated++;
		srv->body_bytes_dropped += blen - d.body_len;
	}
	d.status = status;
	d.response = body;
	d.response_len = len;
	/*
	 * Backstage echoes the URL in its error bodies, query included, and
	 * so do we on the wire; the stored copy gets the redacted URL, since
	 * a query may carry a token (http_uri_redacted).
	 */
	if (status >= 400 && len > 0 && strcmp(d.path, r->uri) != 0 &&
	    (stored = json_parse(body, len, 0, msg, sizeof msg, NULL)) != NULL) {
		struct json *rq = json_get(stored, "request");
		char *url = api_plugin_url(d.path);

		if (json_string(json_get(rq, "url")) != NULL) {
			json_add_str(rq, "url", url);
			stored_text = json_print(stored, &d.response_len);
			d.response = stored_text;
		}
		free(url);
		json_free(stored);
	}
	d.origin = c->authenticated ? c->who.subject : NULL;
	d.token_fp = c->who.fp[0] != '\0' ? c->who.fp : NULL;
	d.payload = pj;
	d.recipients = rj;
	d.title = title;
	d.topic = topic;
	d.severity = severity;
	d.entities = ej;
	d.users = uj;
	d.ids = ij;
	d.duration_us = util_mono_us() - r->start_us;
	d.entity_v = ev;
	d.entity_n = en;
	d.diagnoses = dj = api_diagnose(c, status, body, len, &dcodes,
	    &d.attempt, &d.retry_of);
	d.fault = c->fault;

	if (db_delivery_add(srv->db, &d) == -1) {
		free(body);
		snprintf(msg, sizeof msg, "notimock could not store this "
		    "request: %s", db_errmsg(srv->db));
		body = http_error_body(r, 503, "ServiceUnavailableError", msg,
		    NULL, c->url, &len);
		status = 503;
		ctype = JSON_CTYPE;
	}
	if (c->authenticated)
		r->origin = xstrdup(c->who.subject);
	r->seq = d.seq;
	metrics_delivery(status, c->authenticated && c->who.type ==
	    PRINCIPAL_SERVICE ? c->who.subject : NULL, dcodes);
	if (c->fault != NULL)
		r->fault = xstrdup(c->fault);
	r->url = xstrdup(c->url);
	r->note = dcodes;
	r->durable = 1;
	http_send(r, status, ctype, body, len);

	free(body);
	free(headers);
	free(pj);
	free(rj);
	free(ej);
	free(uj);
	free(ij);
	free(dj);
	free(ev);
	free(stored_text);
	json_free(loose);
}

/* Answer with Backstage's error body; cause may be NULL. */
void
api_fail(struct api_ctx *c, int status, const char *name, const char *msg,
    const struct json *cause)
{
	char	*body;
	size_t	 len;

	body = http_error_body(c->r, status, name, msg, cause, c->url, &len);
	api_finish(c, status, body, len);
}

/* Answer with Backstage's 400 InputError and msg. */
void
api_input_error(struct api_ctx *c, const char *msg)
{
	api_fail(c, 400, "InputError", msg, NULL);
}

/* --- request helpers ------------------------------------------------- */

/*
 * Express's query parser (qs) reads "a[]=x" and "a[0]=x" as an array a,
 * and "a[b]=x" as an object a.  Cut such a name down to "a" and say which.
 */
static int
api_query_bracket(char *name)
{
	char	*open = strchr(name, '['), *close, *p;
	int	 array = 1;

	if (open == NULL || open == name ||
	    (close = strchr(open, ']')) == NULL)
		return (0);
	for (p = open + 1; p < close; p++)
		if (!isdigit((unsigned char)*p))
			array = 0;
	*open = '\0';
	return (array ? 1 : 2);
}

/* Split the raw query into decoded name/value pairs ('+' is a space). */
static struct api_query *
api_parse_query(const char *q, size_t *np)
{
	struct api_query	*v;
	struct http_param	*pv;
	size_t			 n, i;

	http_query_parse(q, 0, &pv, &n);
	v = xcalloc(n + 1, sizeof *v);
	for (i = 0; i < n; i++) {
		v[i].name = pv[i].name;		/* moved */
		v[i].value = pv[i].value;
		v[i].bracket = api_query_bracket(v[i].name);
	}
	free(pv);
	*np = n;
	return (v);
}

static void
api_free_query(struct api_query *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
}

/* The media type of a Content-Type value, lower-cased, without params. */
static void
api_media_type(const char *ctype, char *buf, size_t len)
{
	size_t	i = 0;

	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	for (; *ctype != '\0' && *ctype != ';' && i + 1 < len; ctype++)
		buf[i++] = (char)tolower((unsigned char)*ctype);
	while (i > 0 && (buf[i - 1] == ' ' || buf[i - 1] == '\t'))
		i--;
	buf[i] = '\0';
}

/* The charset parameter, or NULL. */
static int
api_charset(const char *ctype, char *buf, size_t len)
{
	const char	*p;
	size_t		 i = 0;

	for (p = strchr(ctype, ';'); p != NULL; p = strchr(p + 1, ';')) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (util_strncaseeq(p, "charset=", 8)) {
			p += 8;
			if (*p == '"')
				p++;
			while (*p != '\0' && *p != ';' && *p != '"' &&
			    *p != ' ' && i + 1 < len)
				buf[i++] = (char)tolower((unsigned char)*p++);
			buf[i] = '\0';
			return (1);
		}
	}
	return (0);
}

/*
 * JavaScript's Number(s) for a query value (StrDecimalLiteral with
 * surrounding white space, Infinity, 0x/0o/0b integers).  Returns 0 and
 * the value, or -1 for NaN.
 */
int
api_js_number(const char *s, double *out)
{
	const char	*p, *end;
	char		*copy, *e;
	int		 base, digits = 0, sign = 1;
	double		 v = 0;

	while (*s != '\0' && isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	if (end == s) {
		*out = 0;
		return (0);
	}
	p = s;
	if (end - p > 2 && p[0] == '0' && strchr("xXoObB", p[1]) != NULL) {
		base = p[1] == 'x' || p[1] == 'X' ? 16 : p[1] == 'o' ||
		    p[1] == 'O' ? 8 : 2;
		for (p += 2; p < end; p++) {
			int d = isdigit((unsigned char)*p) ? *p - '0' :
			    isxdigit((unsigned char)*p) ?
			    tolower((unsigned char)*p) - 'a' + 10 : 99;
			if (d >= base)
				return (-1);
			v = v * base + d;
		}
		*out = v;
		return (0);
	}
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if ((size_t)(end - p) == 8 && strncmp(p, "Infinity", 8) == 0) {
		*out = sign * HUGE_VAL;
		return (0);
	}
	/* digits [. digits] [e [+-] digits], with digits on one side of '.' */
	while (p < end && isdigit((unsigned char)*p)) {
		p++;
		digits++;
	}
	if (p < end && *p == '.') {
		p++;
		while (p < end && isdigit((unsigned char)*p)) {
			p++;
			digits++;
		}
	}
	if (digits == 0)
		return (-1);
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !isdigit((unsigned char)*p))
			return (-1);
		while (p < end && isdigit((unsigned char)*p))
			p++;
	}
	if (p != end)
		return (-1);
	copy = xstrndup(s, (size_t)(end - s));
	*out = strtod(copy, &e);
	free(copy);
	return (0);
}

/*
 * ajv's integer type with coerceTypes: a string that Number() reads
 * (" 1", "1e2", "0x1", "Infinity") is coerced; integral or infinite
 * passes.  Sets *v to the number.
 */
static int
api_is_integer(const char *s, double *v)
{
	if (api_js_number(s, v) == -1)
		return (0);
	if (*v < 9007199254740992.0 && *v > -9007199254740992.0)
		return ((double)(long long)*v == *v);
	return (1);		/* that large, every double is integral */
}

/*
 * The validator's query step.  Returns -1 with msg on the first failure:
 * unknown names (in order of appearance), then empty values, then each
 * parameter's type and value in the schema's order.  A repeated name, or
 * "a[]", is an array, and "a[x]" an object: only orderField takes either.
 */
static int
api_check_query(const char *const *names, const struct api_query *q,
    size_t n, char *msg, size_t len)
{
	static const char *const none[] = { NULL };
	size_t			 i, j, k, count;
	const char		*name, *v = NULL;
	int			 object, array;
	double			 d;

	if (names == NULL)
		names = none;
	for (i = 0; i < n; i++) {
		for (k = 0; names[k] != NULL; k++)
			if (strcmp(names[k], q[i].name) == 0)
				break;
		if (names[k] == NULL) {
			snprintf(msg, len, "Unknown query parameter '%s'",
			    q[i].name);
			return (-1);
		}
	}
	for (i = 0; i < n; i++) {
		for (j = count = 0; j < n; j++)
			count += strcmp(q[i].name, q[j].name) == 0;
		if (count == 1 && q[i].bracket == 0 &&
		    q[i].value[0] == '\0') {
			snprintf(msg, len, "Empty value found for query "
			    "parameter '%s'", q[i].name);
			return (-1);
		}
	}
	/* Values, in the schema's order. */
	for (k = 0; names[k] != NULL; k++) {
		name = names[k];
		count = 0;
		object = array = 0;
		for (i = 0; i < n; i++) {
			if (strcmp(q[i].name, name) != 0)
				continue;
			count++;
			v = q[i].value;
			object |= q[i].bracket == 2;
			array |= q[i].bracket == 1;
		}
		if (count == 0)
			continue;
		array |= count > 1;
		if (strcmp(name, "orderField") == 0) {
			if (object) {
				snprintf(msg, len, "request/query/%s must be "
				    "string, request/query/%s must be array, "
				    "request/query/%s must match exactly one "
				    "schema in oneOf", name, name, name);
				return (-1);
			}
			continue;
		}
		if (strcmp(name, "offset") == 0 ||
		    strcmp(name, "limit") == 0) {
			if (object || array || !api_is_integer(v, &d)) {
				snprintf(msg, len, "request/query/%s must be "
				    "integer", name);
				return (-1);
			}
			if (!(d >= 0)) {
				snprintf(msg, len, "request/query/%s must be "
				    ">= 0", name);
				return (-1);
			}
		} else if (object || array) {
			snprintf(msg, len, "request/query/%s must be string",
			    name);
			return (-1);
		} else if ((strcmp(name, "read") == 0 ||
		    strcmp(name, "saved") == 0) &&
		    strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
			snprintf(msg, len, "request/query/%s must be "
			    "equal to one of the allowed values: true, "
			    "false", name);
			return (-1);
		} else if (strcmp(name, "minimumSeverity") == 0 &&
		    strcmp(v, "critical") != 0 &&
		    strcmp(v, "high") != 0 &&
		    strcmp(v, "normal") != 0 && strcmp(v, "low") != 0) {
			snprintf(msg, len, "request/query/%s must be "
			    "equal to one of the allowed values: "
			    "critical, high, normal, low", name);
			return (-1);
		}
	}
	return (0);
}

/* --- the create handler ------------------------------------------------ */

/* The creation-form element: payload as sent (severity appended when the
 * caller left it out), origin, created, then id/user or user/id. */
static struct json *
api_created_element(const struct json *payload, const char *origin,
    const char *created, const char *id, const char *user)
{
	struct json	*o, *p;

	o = json_new_object();
	p = json_dup(payload);
	if (json_get(p, "severity") == NULL)
		json_add_str(p, "severity", "normal");
	json_add(o, "payload", p);
	json_add_str(o, "origin", origin);
	json_add_str(o, "created", created);
	if (user != NULL) {
		json_add_str(o, "id", id);
		json_add_str(o, "user", user);
	} else {
		json_add(o, "user", json_new_null());
		json_add_str(o, "id", id);
	}
	return (o);
}

static void
api_add_time(struct json *o, const char *key, int64_t ms)
{
	char	iso[UTIL_ISO_LEN];

	if (ms == 0)
		json_add(o, key, json_new_null());
	else
		json_add_str(o, key, util_iso_ms(ms, iso));
}

/* The read-side form of a stored notification (spec section 8). */
struct json *
api_stored_element(const struct db_notification *n)
{
	struct json	*o, *p, *meta;
	char		 err[128];

	o = json_new_object();
	json_add_str(o, "id", n->id);
	json_add_str(o, "user", n->user);
	api_add_time(o, "created", n->created);
	api_add_time(o, "saved", n->saved);
	api_add_time(o, "read", n->read);
	api_add_time(o, "updated", n->updated);
	json_add_str(o, "origin", n->origin);
	p = json_new_object();
	json_add_str(p, "title", n->title);
	json_add_str(p, "description", n->description);
	json_add_str(p, "link", n->link);
	json_add_str(p, "topic", n->topic);
	json_add_str(p, "severity", n->severity);
	json_add_str(p, "scope", n->scope);
	json_add_str(p, "icon", n->icon);
	if (n->metadata != NULL && (meta = json_parse(n->metadata,
	    strlen(n->metadata), 0, err, sizeof err, NULL)) != NULL)
		json_add(p, "metadata", meta);
	json_add(o, "payload", p);
	return (o);
}

/* Fill a notification row from the payload. */
static void
api_row(struct db_notification *n, const struct json *payload)
{
	const struct json	*meta;

	memset(n, 0, sizeof *n);
	n->title = (char *)json_string(json_get(payload, "title"));
	n->description = (char *)json_string(json_get(payload, "description"));
	n->link = (char *)json_string(json_get(payload, "link"));
	n->topic = (char *)json_string(json_get(payload, "topic"));
	n->severity = (char *)json_string(json_get(payload, "severity"));
	if (n->severity == NULL)
		n->severity = "normal";
	n->scope = (char *)json_string(json_get(payload, "scope"));
	n->icon = (char *)json_string(json_get(payload, "icon"));
	if ((meta = json_get(payload, "metadata")) != NULL)
		n->metadata = json_print(meta, NULL);
}

/* Copy a stored id (a UUID we made) into a UUID buffer. */
static void
api_copy_id(char dst[UTIL_UUID_LEN], const char *src)
{
	snprintf(dst, UTIL_UUID_LEN, "%s", src);
}

/* {"action":"new_notification","notification_id":id} to user (NULL:
 * everyone). */
static void
api_signal_new(struct server *srv, const char *user, const char *id)
{
	struct json	*o;
	char		*s;

	o = json_new_object();
	json_add_str(o, "action", "new_notification");
	json_add_str(o, "notification_id", id);
	s = json_print(o, NULL);
	signals_queue(srv, user, s);
	free(s);
	json_free(o);
}

/*
 * Store one notification for user (NULL: broadcast), honouring scope.
 * Appends the response element to out.  Returns -1 if the store failed.
 */
static int
api_store_one(struct api_ctx *c, const struct json *payload, const char *user,
    const char *created_iso, struct json *out)
{
	struct server		*srv = c->r->srv;
	struct db_notification	 n, old;
	char			 id[UTIL_UUID_LEN], fresh[UTIL_UUID_LEN];
	char			 iso[UTIL_ISO_LEN];
	const char		*origin = c->who.subject;
	int			 found = 0, rc = -1;

	api_row(&n, payload);
	n.origin = (char *)origin;
	n.user = (char *)user;
	n.created = c->r->received;
	n.delivery_seq = db_seq_next(srv->db);	/* this delivery's seq */

	memset(&old, 0, sizeof old);
	if (n.scope != NULL && *n.scope != '\0') {
		found = db_notification_find_scope(srv->db, user, n.scope,
		    origin, &old);
		if (found == -1)
			goto out;
	}
	if (found) {
		n.updated = util_now_ms();
		if (db_notification_rescope(srv->db, old.id, &n,
		    user != NULL) == -1)
			goto out;
		json_append(c->ids, json_new_string(old.id));
		api_signal_new(srv, user, old.id);	/* the real id */
		if (user != NULL) {
			/* A user's re-send answers the row as stored now. */
			api_copy_id(id, old.id);
			db_notification_clear(&old);
			if (db_notification_get(srv->db, id, &old) != 1)
				goto out;
			json_append(out, api_stored_element(&old));
		} else {
			/* Backstage answers a broadcast re-send with a fresh
			 * id and time that are stored nowhere (upstream bug,
			 * reproduced on purpose). */
			json_append(out, api_created_element(payload, origin,
			    util_iso_ms(util_now_ms(), iso), util_uuid4(fresh),
			    NULL));
		}
		rc = 0;
		goto out;
	}
	n.id = util_uuid4(id);
	if (db_notification_insert(srv->db, &n) == -1)
		goto out;
	json_append(c->ids, json_new_string(id));
	api_signal_new(srv, user, id);
	json_append(out, api_created_element(payload, origin, created_iso, id,
	    user));
	rc = 0;
out:
	db_notification_clear(&old);
	free(n.metadata);
	return (rc);
}

/* A string or an array of strings, as a list; duplicates dropped (in
 * linear time: a body may hold thousands of refs). */
static struct json *
api_ref_list(const struct json *v)
{
	struct json	*list = json_new_array(), *e;
	struct strset	*seen;

	if (json_type(v) == JSON_STRING) {
		json_append(list, json_dup(v));
		return (list);
	}
	seen = strset_new();
	for (e = json_first(v); e != NULL; e = json_next(e))
		if (json_string(e) != NULL && strset_add(seen, json_string(e)))
			json_append(list, json_dup(e));
	strset_free(seen);
	return (list);
}

/* The strings of a JSON list, borrowed (free only the array). */
static char **
api_strv(const struct json *list, size_t *np)
{
	char			**v;
	const struct json	*e;
	size_t			 n = 0;

	v = xcalloc(json_size(list) + 1, sizeof *v);
	for (e = json_first(list); e != NULL; e = json_next(e))
		if (json_string(e) != NULL)
			v[n++] = (char *)json_string(e);
	*np = n;
	return (v);
}

static void
api_create(struct req *r, void *arg)
{
	struct api_ctx		*c = arg;
	struct server		*srv = r->srv;
	const struct json	*payload, *recip;
	struct json		*refs = NULL, *excl = NULL, *out, *cause, *e;
	struct entity_ref	 er;
	const char		*title, *link, *type, *ref, *topic;
	char			 iso[UTIL_ISO_LEN], errname[32], msg[1024];
	char			*stripped, *body;
	char			**refv = NULL, **exclv = NULL, **users = NULL;
	size_t			 len, nrefv = 0, nexclv = 0, nusers = 0, i;
	struct strset		*reached = NULL;

	payload = json_get(c->body, "payload");
	recip = json_get(c->body, "recipients");

	/* Handler check 1: only service principals create. */
	if (c->who.type != PRINCIPAL_SERVICE) {
		api_fail(c, 403, "NotAllowedError",
		    "This endpoint does not allow 'user' credentials", NULL);
		return;
	}
	title = json_string(json_get(payload, "title"));
	if (title == NULL || *title == '\0') {
		api_input_error(c, "Invalid notification request received: "
		    "missing title");
		return;
	}
	link = json_string(json_get(payload, "link"));
	if (link != NULL && *link != '\0') {
		stripped = (char *)(link[0] == '/' ? link + 1 : link);
		switch (url_check_link(link, srv->base_url)) {
		case URL_OK:
			break;
		case URL_NOT_HTTP:
			cause = json_new_object();
			json_add_str(cause, "name", "Error");
			json_add_str(cause, "message",
			    "Only HTTP/HTTPS links are allowed");
			api_fail(c, 400, "InputError", "Invalid link provided; "
			    "caused by Error: Only HTTP/HTTPS links are "
			    "allowed", cause);
			json_free(cause);
			return;
		case URL_INVALID:
			cause = json_new_object();
			json_add_str(cause, "code", "ERR_INVALID_URL");
			json_add_str(cause, "input", stripped);
			json_add_str(cause, "base", srv->base_url);
			json_add_str(cause, "name", "TypeError");
			json_add_str(cause, "message", "Invalid URL");
			api_fail(c, 400, "InputError", "Invalid link provided; "
			    "caused by TypeError: Invalid URL", cause);
			json_free(cause);
			return;
		}
	}

	util_iso_ms(c->r->received, iso);
	out = json_new_array();
	type = json_string(json_get(recip, "type"));
	if (type != NULL && strcmp(type, "broadcast") == 0) {
		if (api_store_one(c, payload, NULL, iso, out) == -1)
			goto store_failed;
		goto done;
	}

	/* Entity recipients: parse every ref (the first bad one is a 400),
	 * then resolve them as Backstage's resolver does (catalog.c): users
	 * as written, groups and owners through the --catalog entities. */
	refs = api_ref_list(json_get(recip, "entityRef"));
	excl = api_ref_list(json_get(recip, "excludeEntityRef"));
	for (e = json_first(refs); e != NULL; e = json_next(e)) {
		json_append(c->entities, json_dup(e));
		if (entity_parse(json_string(e), &er, errname, sizeof errname,
		    msg, sizeof msg) == -1) {
			char full[1200];

			cause = json_new_object();
			json_add_str(cause, "name", errname);
			json_add_str(cause, "message", msg);
			snprintf(full, sizeof full, "Failed to send user "
			    "notifications; caused by %s: %s", errname, msg);
			api_fail(c, 400, "InputError", full, cause);
			json_free(cause);
			goto out;
		}
		entity_ref_clear(&er);
	}
	refv = api_strv(refs, &nrefv);
	exclv = api_strv(excl, &nexclv);
	users = catalog_resolve(srv->catalog, refv, nrefv, exclv, nexclv,
	    &nusers);
	topic = json_string(json_get(payload, "topic"));
	reached = strset_new();
	for (i = 0; i < nusers; i++) {
		ref = users[i];
		if (!entity_is_user(ref) || !strset_add(reached, ref))
			continue;
		/* A user who turned this origin or topic off for the Web
		 * channel gets nothing, silently. */
		switch (api_user_enabled(srv, ref, c->who.subject, topic)) {
		case -1:
			goto store_failed;
		case 0:
			log_debug("%s: %s opted out of this origin/topic",
			    __func__, ref);
			continue;
		}
		json_append(c->users, json_new_string(ref));
		if (api_store_one(c, payload, ref, iso, out) == -1)
			goto store_failed;
	}

done:
	body = json_print(out, &len);
	api_finish(c, 200, body, len);
	goto out;

store_failed:
	snprintf(msg, sizeof msg, "notimock could not store this request: %s",
	    db_errmsg(srv->db));
	api_fail(c, 503, "ServiceUnavailableError", msg, NULL);
out:
	json_free(out);
	json_free(refs);
	json_free(excl);
	free(refv);
	free(exclv);
	strset_free(reached);
	strv_free(users, nusers);
}

/* GET /openapi.json: any valid credential. */
static void
api_openapi_doc(struct req *r, void *arg)
{
	api_finish(arg, 200, xstrdup(api_openapi), sizeof api_openapi - 1);
}

/* --- the route table ----------------------------------------------------- */

/* The module's route flags: which schema the body must meet (none: the
 * operation has no JSON body), and whether only users may call it. */
#define API_SEND	ROUTE_USER		/* schema_send_options */
#define API_UPDATE	(ROUTE_USER << 1)	/* schema_update */
#define API_SETTINGS	(ROUTE_USER << 2)	/* schema_settings */
#define API_BODY	(API_SEND | API_UPDATE | API_SETTINGS)
#define API_USER_ONLY	(ROUTE_USER << 3)	/* else the handler decides */

#define API_GET		(HTTP_GET | HTTP_HEAD)
#define API_FLAGS	ROUTE_SLASH	/* Express: one trailing '/' is fine */

static const char *const api_list_query[] = { "offset", "limit",
    "orderField", "topic", "search", "read", "saved", "createdAfter",
    "minimumSeverity", NULL };
static const char *const api_topics_query[] = { "search", "read", "saved",
    "createdAfter", "minimumSeverity", NULL };

/*
 * The plugin's routes below its mount, in its router's order (first match
 * wins).  Paths compare without case.  A GET of /update is /:id.
 */
static const struct route api_routes[] = {
	{ HTTP_POST, "/", api_create, NULL, API_FLAGS | API_SEND },
	{ API_GET, "/", api_read_list, api_list_query,
	    API_FLAGS | API_USER_ONLY },
	{ HTTP_POST, "/notifications", api_create, NULL, API_FLAGS | API_SEND },
	{ API_GET, "/notifications", api_read_list, api_list_query,
	    API_FLAGS | API_USER_ONLY },
	{ HTTP_POST, "/update", api_read_update, NULL,
	    API_FLAGS | API_UPDATE | API_USER_ONLY },
	{ HTTP_POST, "/notifications/update", api_read_update, NULL,
	    API_FLAGS | API_UPDATE | API_USER_ONLY },
	{ API_GET, "/status", api_read_status, NULL,
	    API_FLAGS | API_USER_ONLY },
	{ API_GET, "/topics", api_read_topics, api_topics_query,
	    API_FLAGS | API_USER_ONLY },
	{ API_GET, "/settings", api_settings_get, NULL,
	    API_FLAGS | API_USER_ONLY },
	{ HTTP_POST, "/settings", api_settings_post, NULL,
	    API_FLAGS | API_SETTINGS | API_USER_ONLY },
	{ API_GET, "/openapi.json", api_openapi_doc, NULL, API_FLAGS },
	{ API_GET, "/notifications/:id", api_read_get, NULL,
	    API_FLAGS | API_USER_ONLY },
	{ API_GET, "/:id", api_read_get, NULL,		/* legacy */
	    API_FLAGS | API_USER_ONLY },
};

#define nitems(a)	(sizeof (a) / sizeof (a)[0])

/* --- the pipeline ------------------------------------------------------ */

/*
 * Step 0: a fault rule (fault.c) that matches answers instead of Backstage,
 * as a failing proxy or backend in front of the plugin would: a status in
 * Backstage's error shape, no answer, or a reset.  A delay alone lets the
 * pipeline run and holds its answer (http.c).  Returns 1 if the request
 * has been answered.
 */
static int
api_fault(struct api_ctx *c)
{
	struct req		*r = c->r;
	struct fault_in		 in;
	struct fault_hit	 hit;
	char			 msg[128], ra[16];
	size_t			 len;

	memset(&in, 0, sizeof in);
	in.method = r->method;
	in.path = r->path;
	in.origin = c->authenticated ? c->who.subject : NULL;
	in.body = http_body(r, &len);
	in.body_len = len;
	if (!fault_check(r->srv->faults, &in, &hit))
		return (0);
	c->fault = fault_hit_json(&hit);
	r->hold_ms = hit.delay_ms;
	if (hit.drop || hit.reset) {
		r->cut = hit.reset ? HTTP_CUT_RESET : HTTP_CUT_DROP;
		api_finish(c, 0, NULL, 0);	/* stored as status 0 */
		return (1);
	}
	if (hit.status == 0)
		return (0);
	if (hit.retry_after >= 0) {
		snprintf(ra, sizeof ra, "%d", hit.retry_after);
		http_add_header(r, "Retry-After", ra);
	}
	snprintf(msg, sizeof msg, "Injected by notimock fault rule %s",
	    hit.id);
	api_fail(c, hit.status, fault_error_name(hit.status), msg, NULL);
	return (1);
}

/* The request's state before the first step: the route is matched now,
 * since the barrier spares one path (see api_barrier). */
static void
api_ctx_init(struct api_ctx *c, struct req *r)
{
	const char	*sub;

	memset(c, 0, sizeof *c);
	c->r = r;
	c->jpos = -1;
	c->entities = json_new_array();
	c->users = json_new_array();
	c->ids = json_new_array();
	c->url = api_plugin_url(r->uri);
	sub = r->path + strlen(API_MOUNT);
	c->sub = *sub == '\0' ? "/" : sub;
	route_find(api_routes, nitems(api_routes), r->verb, c->sub, &c->match);
}

static void
api_ctx_clear(struct api_ctx *c)
{
	api_free_query(c->q, c->nq);
	json_free(c->body);
	json_free(c->entities);
	json_free(c->users);
	json_free(c->ids);
	free(c->url);
	free(c->fault);
}

/*
 * 1. The credential barrier, on every path and method (and a fault rule
 * between the check and its verdict: a rule may name the origin).  GET
 * /health is declared unauthenticated, so without a token it passes here
 * and fails in the /:id handler instead.  Returns -1 if it answered.
 */
static int
api_barrier(struct api_ctx *c)
{
	struct req		*r = c->r;
	const struct route	*rt = c->match.route;
	const char		*auth;
	char			 msg[1024];

	auth = http_header(r, "Authorization");
	if (!(auth == NULL && rt != NULL && rt->fn == api_read_get &&
	    util_strcaseeq(c->sub, "/health"))) {
		c->auth_checked = 1;
		c->auth = auth_check(r->srv->auth, auth, &c->who, msg,
		    sizeof msg);
		c->authenticated = c->auth == AUTH_OK ||
		    c->auth == AUTH_RESTRICTED;
	}
	if (api_fault(c))
		return (-1);
	if (!c->auth_checked)
		return (0);
	switch (c->auth) {
	case AUTH_MISSING:
		api_fail(c, 401, "AuthenticationError", "Missing credentials",
		    NULL);
		return (-1);
	case AUTH_ILLEGAL:
		api_fail(c, 401, "AuthenticationError", "Illegal token", NULL);
		return (-1);
	case AUTH_RESTRICTED:
		api_fail(c, 403, "NotAllowedError", msg, NULL);
		return (-1);
	case AUTH_INVALID:	/* a user JWT that did not verify */
		api_fail(c, 401, "AuthenticationError", msg, NULL);
		return (-1);
	case AUTH_OK:
		break;
	}
	return (0);
}

/* 2. The JSON body parser, for any method and path.  Returns -1 if it
 * answered. */
static int
api_body(struct api_ctx *c)
{
	struct req		*r = c->r;
	const unsigned char	*body;
	char			 msg[1024], media[128], charset[64];
	size_t			 len;
	long			 pos;

	c->ctype = http_header(r, "Content-Type");
	api_media_type(c->ctype ? c->ctype : "", media, sizeof media);
	c->is_json = strcmp(media, "application/json") == 0;
	if (!c->is_json || (http_header(r, "Transfer-Encoding") == NULL &&
	    http_header(r, "Content-Length") == NULL))
		return (0);
	body = http_body(r, &len);
	if (api_charset(c->ctype, charset, sizeof charset) &&
	    strncmp(charset, "utf-", 4) != 0) {
		for (char *p = charset; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		snprintf(msg, sizeof msg, "unsupported charset \"%s\"",
		    charset);
		api_input_error(c, msg);
		return (-1);
	}
	if (len > API_BODY_LIMIT) {
		api_input_error(c, "request entity too large");
		return (-1);
	}
	if (len == 0)
		c->body = json_new_object();
	else if ((c->body = json_parse((const char *)body, len, 1, msg,
	    sizeof msg, &pos)) == NULL) {
		c->jerr = msg;
		c->jpos = pos;
		api_input_error(c, msg);
		c->jerr = NULL;		/* msg goes out of scope */
		return (-1);
	}
	return (0);
}

/* 3. Routing: nothing matched is an empty 404, except that Express
 * answers OPTIONS on a known path with the methods it allows.  Returns -1
 * if it answered. */
static int
api_route(struct api_ctx *c)
{
	char	allow[64];

	if (c->match.route != NULL)
		return (0);
	if (c->r->verb == HTTP_OPTIONS && c->match.allow != 0) {
		route_allow(c->match.allow, ",", allow, sizeof allow);
		http_add_header(c->r, "Allow", allow);
		api_finish_text(c, 200, "text/html; charset=utf-8", allow);
		return (-1);
	}
	api_finish(c, 404, NULL, 0);
	return (-1);
}

/* 4. The OpenAPI validator: media type, query, body.  Returns -1 if it
 * answered. */
static int
api_validate(struct api_ctx *c)
{
	const struct route	*rt = c->match.route;
	char			 msg[1024];
	int			 rc;

	if ((rt->flags & API_BODY) && !c->is_json) {
		if (c->ctype == NULL)
			snprintf(msg, sizeof msg, "unsupported media type "
			    "undefined");
		else {
			snprintf(msg, sizeof msg, "unsupported media type %s",
			    c->ctype);
			for (char *p = msg; *p; p++)
				*p = (char)tolower((unsigned char)*p);
		}
		api_input_error(c, msg);
		return (-1);
	}
	c->q = api_parse_query(c->r->query, &c->nq);
	if (api_check_query(rt->query, c->q, c->nq, msg, sizeof msg) == -1) {
		api_input_error(c, msg);
		return (-1);
	}
	if (!(rt->flags & API_BODY))
		return (0);
	if (c->body == NULL)
		c->body = json_new_object();
	if (rt->flags & API_SEND)
		rc = schema_send_options(c->body, msg, sizeof msg);
	else if (rt->flags & API_UPDATE)
		rc = schema_update(c->body, msg, sizeof msg);
	else
		rc = schema_settings(c->body, msg, sizeof msg);
	if (rc == -1) {
		api_input_error(c, msg);
		return (-1);
	}
	return (0);
}

/* 5. The handler: a credential of the right type (the create handler
 * checks its own), then the route's function. */
static void
api_handle(struct api_ctx *c)
{
	const struct route	*rt = c->match.route;

	if (!c->authenticated) {
		api_fail(c, 401, "AuthenticationError", "Missing credentials",
		    NULL);
		return;
	}
	if ((rt->flags & API_USER_ONLY) && c->who.type != PRINCIPAL_USER) {
		api_fail(c, 403, "NotAllowedError",
		    "This endpoint does not allow 'service' credentials", NULL);
		return;
	}
	rt->fn(c->r, c);
}

/* Every request below /api/notifications, through Backstage's steps. */
void
api_notifications(struct req *r, void *arg)
{
	struct api_ctx	c;

	r->backstage = 1;
	api_ctx_init(&c, r);
	if (api_barrier(&c) == 0 && api_body(&c) == 0 && api_route(&c) == 0 &&
	    api_validate(&c) == 0)
		api_handle(&c);
	api_ctx_clear(&c);
}
