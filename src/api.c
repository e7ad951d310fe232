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
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "api.h"
#include "auth.h"
#include "catalog.h"
#include "config.h"
#include "db.h"
#include "diag.h"
#include "entity.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "schema.h"
#include "url.h"
#include "util.h"
#include "xmalloc.h"

#define API_MOUNT		"/api/notifications"
#define API_BODY_LIMIT		102400	/* express.json()'s 100kb, inclusive */
#define JSON_CTYPE		"application/json; charset=utf-8"

enum api_route {
	R_NONE = 0,
	R_CREATE,		/* POST /notifications, POST / */
	R_LIST,			/* GET /notifications, GET / */
	R_GET,			/* GET /notifications/:id, GET /:id */
	R_UPDATE,		/* POST /notifications/update, POST /update */
	R_STATUS,
	R_TOPICS,
	R_SETTINGS_GET,
	R_SETTINGS_POST,
	R_OPENAPI		/* GET /openapi.json: any valid credential */
};

/* The routes' validation rules, as const data. */
static const struct api_route_rule {
	int		 has_body;	/* the OpenAPI operation has a JSON body */
	int		 user_only;	/* else service only */
	const char	*query[10];	/* allowed query parameters */
} api_rules[] = {
	[R_NONE] = { 0, 0, { NULL } },
	[R_CREATE] = { 1, 0, { NULL } },
	[R_LIST] = { 0, 1, { "offset", "limit", "orderField", "topic",
	    "search", "read", "saved", "createdAfter", "minimumSeverity",
	    NULL } },
	[R_GET] = { 0, 1, { NULL } },
	[R_UPDATE] = { 1, 1, { NULL } },
	[R_STATUS] = { 0, 1, { NULL } },
	[R_TOPICS] = { 0, 1, { "search", "read", "saved", "createdAfter",
	    "minimumSeverity", NULL } },
	[R_SETTINGS_GET] = { 0, 1, { NULL } },
	[R_SETTINGS_POST] = { 1, 1, { NULL } },
	[R_OPENAPI] = { 0, 0, { NULL } },
};

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

/* One request's state through the pipeline. */
struct api_ctx {
	struct req		*r;
	char			*url;		/* as the plugin router sees it */
	struct principal	 who;
	int			 authenticated;
	struct json		*body;		/* parsed JSON, or NULL */
	/* What the delivery record says about the send. */
	struct json		*entities;	/* refs addressed */
	struct json		*users;		/* users reached */
	struct json		*ids;		/* notification ids stored */
	/* For diagnosis (diag.c): the barrier's verdict and the parser's. */
	int			 auth_checked;
	enum auth_result	 auth;
	const char		*jerr;		/* json_parse message, or NULL */
	long			 jpos;		/* its byte offset, -1: none */
};

struct api_query {
	char	*name;		/* decoded; qs-style "a[x]" reduced to "a" */
	char	*value;
	int	 bracket;	/* 0: plain; 1: "a[]"/"a[0]"; 2: "a[x]" */
};

static int	api_user_enabled(struct server *, const char *, const char *,
		    const char *);
static void	api_signal_new(struct server *, const char *, const char *);

/* --- the way out ----------------------------------------------------- */

/*
 * Diagnose the request (diag.c) once its answer is decided: the answer
 * stays Backstage's, the diagnoses go to the delivery row and, as codes,
 * to the access log line.  Returns the JSON array (or NULL) and sets
 * *codes (or NULL); the caller frees both.
 */
static char *
api_diagnose(struct api_ctx *c, int status, const char *body, size_t len,
    char **codes)
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
	in.uri = r->uri;
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
	in.seq = db_cursor(r->srv->db) + 1;	/* this delivery's */
	diag_run(r->srv->diag, &in, &res);
	dj = diag_json(&res, NULL);
	*codes = diag_codes(&res);
	diag_clear(&res);
	return (dj);
}

/*
 * Store the delivery and hand the answer over.  Takes body (may be NULL).
 * If the store refuses, the answer becomes a 503 in Backstage's shape.
 */
static void	api_finish_as(struct api_ctx *, int, const char *, char *,
		    size_t);

static void
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
	struct json		*loose = NULL;
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

	headers = http_headers_json(r);
	ej = json_print(c->entities, NULL);
	uj = json_print(c->users, NULL);
	ij = json_print(c->ids, NULL);

	memset(&d, 0, sizeof d);
	d.received = r->received;
	d.remote = r->remote;
	d.method = r->method;
	d.path = r->uri;
	d.headers = headers;
	d.body = http_body(r, &blen);
	d.body_len = blen;
	d.status = status;
	d.response = body;
	d.response_len = len;
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
	d.diagnoses = dj = api_diagnose(c, status, body, len, &dcodes);

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
	json_free(loose);
}

/* Answer with Backstage's error body; cause may be NULL. */
static void
api_fail(struct api_ctx *c, int status, const char *name, const char *msg,
    const struct json *cause)
{
	char	*body;
	size_t	 len;

	body = http_error_body(c->r, status, name, msg, cause, c->url, &len);
	api_finish(c, status, body, len);
}

static void
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
	struct api_query	*v = NULL;
	size_t			 n = 0;
	const char		*amp, *eq, *end;
	char			*name, *value;

	*np = 0;
	if (q == NULL)
		return (NULL);
	while (*q != '\0') {
		amp = strchr(q, '&');
		end = amp != NULL ? amp : q + strlen(q);
		if (end != q) {
			eq = memchr(q, '=', (size_t)(end - q));
			name = xstrndup(q, (size_t)((eq ? eq : end) - q));
			value = eq ? xstrndup(eq + 1, (size_t)(end - eq - 1)) :
			    xstrdup("");
			v = xreallocarray(v, n + 1, sizeof *v);
			for (char *p = name; *p; p++)
				if (*p == '+')
					*p = ' ';
			v[n].name = evhttp_decode_uri(name);
			v[n].value = evhttp_decode_uri(value);
			if (v[n].name == NULL)
				v[n].name = xstrdup(name);
			if (v[n].value == NULL)
				v[n].value = xstrdup(value);
			for (char *p = v[n].value; *p; p++)
				if (*p == '+')
					*p = ' ';
			v[n].bracket = api_query_bracket(v[n].name);
			free(name);
			free(value);
			n++;
		}
		if (amp == NULL)
			break;
		q = amp + 1;
	}
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

/* Map the path below the mount to a route (Express: case-insensitive, one
 * trailing slash tolerated). */
static enum api_route
api_match(int cmd, const char *sub)
{
	char		 p[512], *seg2;
	size_t		 len;
	int		 get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	int		 post = cmd == EVHTTP_REQ_POST;

	len = strlen(sub);
	if (len >= sizeof p)
		return (R_NONE);
	memcpy(p, sub, len + 1);
	if (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	if (strcmp(p, "/") == 0 || util_strcaseeq(p, "/notifications"))
		return (post ? R_CREATE : get ? R_LIST : R_NONE);
	if (util_strcaseeq(p, "/update") ||
	    util_strcaseeq(p, "/notifications/update"))
		return (post ? R_UPDATE : get && util_strcaseeq(p,
		    "/notifications/update") ? R_GET : R_NONE);
	if (util_strcaseeq(p, "/status"))
		return (get ? R_STATUS : R_NONE);
	if (util_strcaseeq(p, "/topics"))
		return (get ? R_TOPICS : R_NONE);
	if (util_strcaseeq(p, "/settings"))
		return (get ? R_SETTINGS_GET : post ? R_SETTINGS_POST : R_NONE);
	if (util_strcaseeq(p, "/openapi.json"))
		return (get ? R_OPENAPI : R_NONE);
	if (!get || p[0] != '/' || p[1] == '\0')
		return (R_NONE);
	seg2 = strchr(p + 1, '/');
	if (seg2 == NULL)
		return (R_GET);		/* legacy GET /:id */
	if (util_strncaseeq(p, "/notifications/", 15) &&
	    strchr(p + 15, '/') == NULL && p[15] != '\0')
		return (R_GET);
	return (R_NONE);
}

static int	api_js_number(const char *, double *);

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
api_check_query(enum api_route route, const struct api_query *q, size_t n,
    char *msg, size_t len)
{
	const struct api_route_rule	*rule = &api_rules[route];
	size_t				 i, j, k, count;
	const char			*name, *v = NULL;
	int				 object, array;
	double				 d;

	for (i = 0; i < n; i++) {
		for (k = 0; rule->query[k] != NULL; k++)
			if (strcmp(rule->query[k], q[i].name) == 0)
				break;
		if (rule->query[k] == NULL) {
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
	for (k = 0; rule->query[k] != NULL; k++) {
		name = rule->query[k];
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
static struct json *
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
	n.delivery_seq = db_cursor(srv->db) + 1;	/* this delivery's seq */

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

/* A string or an array of strings, as a list; duplicates dropped. */
static struct json *
api_ref_list(const struct json *v)
{
	struct json	*list = json_new_array(), *e, *f;

	if (json_type(v) == JSON_STRING) {
		json_append(list, json_dup(v));
		return (list);
	}
	for (e = json_first(v); e != NULL; e = json_next(e)) {
		for (f = json_first(list); f != NULL; f = json_next(f))
			if (strcmp(json_string(f), json_string(e)) == 0)
				break;
		if (f == NULL)
			json_append(list, json_dup(e));
	}
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

static int
api_in_list(const struct json *list, const char *s)
{
	const struct json	*e;

	for (e = json_first(list); e != NULL; e = json_next(e))
		if (strcmp(json_string(e), s) == 0)
			return (1);
	return (0);
}

static void
api_create(struct api_ctx *c)
{
	struct server		*srv = c->r->srv;
	const struct json	*payload, *recip;
	struct json		*refs = NULL, *excl = NULL, *out, *cause, *e;
	struct entity_ref	 er;
	const char		*title, *link, *type, *ref, *topic;
	char			 iso[UTIL_ISO_LEN], errname[32], msg[1024];
	char			*stripped, *body;
	char			**refv = NULL, **exclv = NULL, **users = NULL;
	size_t			 len, nrefv = 0, nexclv = 0, nusers = 0, i;

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
	for (i = 0; i < nusers; i++) {
		ref = users[i];
		if (!entity_is_user(ref) || api_in_list(c->users, ref))
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
	catalog_strv_free(users, nusers);
}

/* --- signals: Backstage's "notifications" channel (spec section 12) --- */

/*
 * Signals wait in api_sig_pending until the transaction that stored what
 * they announce commits (http.c calls api_signal_commit()), then get an id
 * and go into a ring of the last API_SIGNAL_KEEP, from which the event
 * stream (mock.c) reads them with api_signal_replay().
 */
#define API_SIGNAL_KEEP	1024

struct api_sig {
	char	*user;
	char	*message;
};

static struct api_sig	*api_sig_pending;
static size_t		 api_sig_npending;
static struct api_signal api_sig_ring[API_SIGNAL_KEEP];
static uint64_t		 api_sig_last;

void
api_signal(struct server *srv, const char *user, const char *json)
{
	(void)srv;
	api_sig_pending = xreallocarray(api_sig_pending, api_sig_npending + 1,
	    sizeof *api_sig_pending);
	api_sig_pending[api_sig_npending].user = user ? xstrdup(user) : NULL;
	api_sig_pending[api_sig_npending].message = xstrdup(json);
	api_sig_npending++;
}

void
api_signal_commit(struct server *srv, int committed)
{
	struct api_signal	*s;
	struct api_sig		*p;
	char			 who[256], what[512];
	size_t			 i;

	(void)srv;
	for (i = 0; i < api_sig_npending; i++) {
		p = &api_sig_pending[i];
		if (!committed) {
			free(p->user);
			free(p->message);
			continue;
		}
		s = &api_sig_ring[++api_sig_last % API_SIGNAL_KEEP];
		free((char *)s->user);
		free((char *)s->message);
		s->id = api_sig_last;
		s->at = util_now_ms();
		s->user = p->user;
		s->message = p->message;
		if (log_enabled(LOG_LVL_DEBUG))
			log_debug("%s: signal %llu on 'notifications' to %s: %s",
			    __func__, (unsigned long long)s->id, s->user ?
			    log_escape(who, sizeof who, s->user,
			    strlen(s->user)) : "everyone", log_escape(what,
			    sizeof what, s->message, strlen(s->message)));
	}
	free(api_sig_pending);
	api_sig_pending = NULL;
	api_sig_npending = 0;
}

uint64_t
api_signal_replay(uint64_t since,
    void (*fn)(const struct api_signal *, void *), void *arg)
{
	uint64_t	id;

	id = since + 1;
	if (api_sig_last >= API_SIGNAL_KEEP && id <= api_sig_last -
	    API_SIGNAL_KEEP)
		id = api_sig_last - API_SIGNAL_KEEP + 1;
	for (; id <= api_sig_last; id++)
		fn(&api_sig_ring[id % API_SIGNAL_KEEP], arg);
	return (api_sig_last);
}

uint64_t
api_signal_last(void)
{
	return (api_sig_last);
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
	api_signal(srv, user, s);
	free(s);
	json_free(o);
}

/* --- user settings (spec section 10.2) ----------------------------------- */

/*
 * The settings logic of notifications-backend's router, on JSON trees
 * shaped like NotificationSettings: the stored rows as
 * mapToNotificationSettings() groups them, the defaults from
 * notifications.defaultSettings, the effective settings GET /settings
 * answers, and isNotificationsEnabled() for sends.  Booleans are
 * tri-state: -1 stands for JavaScript's undefined.
 */
#define API_WEB_CHANNEL	"Web"

/* A config subtree as JSON: "true"/"false" become booleans. */
static struct json *
api_config_json(const struct config_node *n)
{
	struct json	*v;
	const char	*s;
	size_t		 i;

	if (n == NULL)
		return (NULL);
	switch (config_type(n)) {
	case CONFIG_MAP:
		v = json_new_object();
		for (i = 0; i < config_len(n); i++)
			json_add(v, config_key_at(n, i),
			    api_config_json(config_at(n, i)));
		return (v);
	case CONFIG_SEQ:
		v = json_new_array();
		for (i = 0; i < config_len(n); i++)
			json_append(v, api_config_json(config_at(n, i)));
		return (v);
	default:
		s = config_scalar(n);
		if (s != NULL && (strcmp(s, "true") == 0 ||
		    strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0))
			return (json_new_bool(1));
		if (s != NULL && (strcmp(s, "false") == 0 ||
		    strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0))
			return (json_new_bool(0));
		return (json_new_string(s));
	}
}

/* notifications.defaultSettings.channels, or NULL. */
static struct json *
api_default_channels(struct server *srv)
{
	struct json	*v;

	v = api_config_json(config_get(srv->config,
	    "notifications.defaultSettings.channels"));
	if (v != NULL && json_type(v) != JSON_ARRAY) {
		json_free(v);
		v = NULL;
	}
	return (v);
}

/* The element of arr whose "id" is id (ignoring case if ci), or NULL. */
static struct json *
api_by_id(const struct json *arr, const char *id, int ci)
{
	struct json	*e;
	const char	*eid;

	if (id == NULL)
		return (NULL);
	for (e = json_first(arr); e != NULL; e = json_next(e)) {
		if ((eid = json_string(json_get(e, "id"))) == NULL)
			continue;
		if (ci ? util_strcaseeq(eid, id) : strcmp(eid, id) == 0)
			return (e);
	}
	return (NULL);
}

/* A member as a tri-state boolean. */
static int
api_tri(const struct json *o, const char *key)
{
	const struct json	*v = json_get(o, key);

	if (json_type(v) == JSON_TRUE)
		return (1);
	if (json_type(v) == JSON_FALSE)
		return (0);
	return (-1);
}

/* The stored rows, as mapToNotificationSettings() groups them. */
static struct json *
api_settings_stored(struct server *srv, const char *user)
{
	struct db_setting	*v;
	struct json		*doc, *chans, *ch, *orig, *o, *topics, *t;
	size_t			 n, i;

	if (db_settings_get(srv->db, user, &v, &n) == -1)
		return (NULL);
	doc = json_new_object();
	chans = json_new_array();
	for (i = 0; i < n; i++) {
		if ((ch = api_by_id(chans, v[i].channel, 0)) == NULL) {
			ch = json_new_object();
			json_add_str(ch, "id", v[i].channel);
			json_add(ch, "origins", json_new_array());
			json_append(chans, ch);
		}
		orig = json_get(ch, "origins");
		if ((o = api_by_id(orig, v[i].origin, 0)) == NULL) {
			o = json_new_object();
			json_add_str(o, "id", v[i].origin);
			json_add_bool(o, "enabled", 1);
			json_add(o, "topics", json_new_array());
			json_append(orig, o);
		}
		if (v[i].topic == NULL) {
			json_add_bool(o, "enabled", v[i].enabled);
			continue;
		}
		topics = json_get(o, "topics");
		if (api_by_id(topics, v[i].topic, 0) == NULL) {
			t = json_new_object();
			json_add_str(t, "id", v[i].topic);
			json_add_bool(t, "enabled", v[i].enabled);
			json_append(topics, t);
		}
	}
	json_add(doc, "channels", chans);
	db_settings_free(v, n);
	return (doc);
}

/* getTopicSettings() */
static struct json *
api_topic_settings(const char *topic, const struct json *eo,
    const struct json *dorig, int chdef)
{
	struct json	*o, *et, *dt;
	int		 en;

	et = api_by_id(json_get(eo, "topics"), topic, 1);
	dt = api_by_id(json_get(dorig, "topics"), topic, 1);
	if (et != NULL)
		en = api_tri(et, "enabled");
	else if ((en = api_tri(dt, "enabled")) == -1)
		en = chdef;
	o = json_new_object();
	json_add_str(o, "id", topic);
	if (en != -1)
		json_add_bool(o, "enabled", en);
	return (o);
}

/* getChannelSettings() with getOriginSettings() inside. */
static struct json *
api_channel_settings(const char *chid, const struct json *stored,
    const struct json *defaults, char **origins, size_t norigins,
    char **torigins, char **topics, size_t ntopics)
{
	struct json	*o, *arr, *os, *tarr, *ec, *dc, *eo, *dorig;
	int		 chen, chdef, explicit, oen;
	size_t		 i, j;

	ec = api_by_id(json_get(stored, "channels"), chid, 1);
	dc = api_by_id(defaults, chid, 1);
	if ((chen = api_tri(ec, "enabled")) == -1)
		chen = api_tri(dc, "enabled");
	chdef = chen == -1 ? 1 : chen;
	explicit = api_tri(ec, "enabled") != -1 || api_tri(dc, "enabled") != -1;

	o = json_new_object();
	json_add_str(o, "id", chid);
	if (chen != -1)
		json_add_bool(o, "enabled", chen);
	arr = json_new_array();
	for (i = 0; i < norigins; i++) {
		eo = api_by_id(json_get(ec, "origins"), origins[i], 1);
		dorig = api_by_id(json_get(dc, "origins"), origins[i], 1);
		if (eo != NULL)
			oen = api_tri(eo, "enabled");
		else if ((oen = api_tri(dorig, "enabled")) == -1)
			oen = chdef;
		os = json_new_object();
		json_add_str(os, "id", origins[i]);
		if (oen != -1)
			json_add_bool(os, "enabled", oen);
		tarr = json_new_array();
		for (j = 0; j < ntopics; j++)
			if (strcmp(torigins[j], origins[i]) == 0)
				json_append(tarr, api_topic_settings(topics[j],
				    eo, dorig, explicit ? chdef : oen));
		json_add(os, "topics", tarr);
		json_append(arr, os);
	}
	json_add(o, "origins", arr);
	return (o);
}

static void
api_strv_addu(char ***v, size_t *n, const char *s)
{
	size_t	i;

	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return;
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[(*n)++] = xstrdup(s);
}

/* getNotificationSettings(): what GET /settings answers.  NULL on a
 * database error. */
static struct json *
api_settings_effective(struct server *srv, const char *user)
{
	struct json	*stored = NULL, *defaults, *doc = NULL, *chans, *dc;
	struct json	*dorig, *dt;
	char		**origins = NULL, **torigins = NULL, **topics = NULL;
	char		**channels = NULL;
	const char	*id, *oid, *tid;
	size_t		 norigins = 0, ntopics = 0, nchannels = 0, i;

	defaults = api_default_channels(srv);
	if (db_user_origins(srv->db, user, &origins, &norigins) == -1 ||
	    db_user_topics(srv->db, user, &torigins, &topics, &ntopics) == -1 ||
	    (stored = api_settings_stored(srv, user)) == NULL)
		goto out;
	api_strv_addu(&channels, &nchannels, API_WEB_CHANNEL);
	for (dc = json_first(defaults); dc != NULL; dc = json_next(dc)) {
		if ((id = json_string(json_get(dc, "id"))) == NULL)
			continue;
		api_strv_addu(&channels, &nchannels, id);
		for (dorig = json_first(json_get(dc, "origins")); dorig != NULL;
		    dorig = json_next(dorig)) {
			if ((oid = json_string(json_get(dorig, "id"))) == NULL)
				continue;
			api_strv_addu(&origins, &norigins, oid);
			for (dt = json_first(json_get(dorig, "topics"));
			    dt != NULL; dt = json_next(dt)) {
				if ((tid = json_string(json_get(dt, "id"))) ==
				    NULL)
					continue;
				for (i = 0; i < ntopics; i++)
					if (strcmp(torigins[i], oid) == 0 &&
					    strcmp(topics[i], tid) == 0)
						break;
				if (i < ntopics)
					continue;
				torigins = xreallocarray(torigins, ntopics + 1,
				    sizeof *torigins);
				topics = xreallocarray(topics, ntopics + 1,
				    sizeof *topics);
				torigins[ntopics] = xstrdup(oid);
				topics[ntopics++] = xstrdup(tid);
			}
		}
	}
	doc = json_new_object();
	chans = json_new_array();
	for (i = 0; i < nchannels; i++)
		json_append(chans, api_channel_settings(channels[i], stored,
		    defaults, origins, norigins, torigins, topics, ntopics));
	json_add(doc, "channels", chans);
out:
	json_free(stored);
	json_free(defaults);
	db_strv_free(origins, norigins);
	db_strv_free(torigins, ntopics);
	db_strv_free(topics, ntopics);
	db_strv_free(channels, nchannels);
	return (doc);
}

/*
 * isNotificationsEnabled() for the Web channel: may this user get a
 * notification of this origin and topic (NULL: none)?  1 yes, 0 no (the
 * user opted out), -1 on a database error.
 */
static int
api_user_enabled(struct server *srv, const char *user, const char *origin,
    const char *topic)
{
	struct json	*stored, *defaults, *dc, *uc, *origins, *d, *o, *t;
	int		 chen, rc;

	if ((stored = api_settings_stored(srv, user)) == NULL)
		return (-1);
	defaults = api_default_channels(srv);
	dc = api_by_id(defaults, API_WEB_CHANNEL, 1);
	chen = api_tri(dc, "enabled");
	origins = json_new_array();
	if ((uc = api_by_id(json_get(stored, "channels"), API_WEB_CHANNEL,
	    1)) != NULL) {
		if (api_tri(uc, "enabled") != -1)
			chen = api_tri(uc, "enabled");
		for (o = json_first(json_get(uc, "origins")); o != NULL;
		    o = json_next(o))
			json_append(origins, json_dup(o));
	}
	if (json_get(dc, "origins") != NULL && chen != 0)
		for (d = json_first(json_get(dc, "origins")); d != NULL;
		    d = json_next(d))
			if (api_by_id(origins, json_string(json_get(d, "id")),
			    1) == NULL)
				json_append(origins, json_dup(d));

	/* isNotificationsEnabledFor(), which compares exactly. */
	if ((o = api_by_id(origins, origin, 0)) == NULL)
		rc = chen == -1 ? 1 : chen;
	else if (topic != NULL &&
	    (t = api_by_id(json_get(o, "topics"), topic, 0)) != NULL)
		rc = api_tri(t, "enabled") == 1;
	else
		rc = api_tri(o, "enabled") == 1;
	json_free(origins);
	json_free(defaults);
	json_free(stored);
	return (rc);
}

/* --- the read side (spec sections 8, 9, 10) ------------------------------ */

/* A failure the database caused: Backstage on PostgreSQL hides it behind
 * a log id (applyInternalErrorFilter); the details go to our log. */
static void
api_internal_error(struct api_ctx *c, const char *why)
{
	unsigned char	rnd[10];
	char		logid[21], msg[64], esc[512];
	size_t		i;

	util_random(rnd, sizeof rnd);
	for (i = 0; i < sizeof rnd; i++)
		snprintf(logid + 2 * i, 3, "%02x", rnd[i]);
	log_warnx("Filtered internal error with logId=%s from response: %s",
	    logid, log_escape(esc, sizeof esc, why, strlen(why)));
	snprintf(msg, sizeof msg, "An internal error occurred logId=%s", logid);
	api_fail(c, 500, "Error", msg, NULL);
}

/* The single value of a query parameter (validated: not repeated), or
 * NULL when absent. */
static const char *
api_query_get(const struct api_query *q, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(q[i].name, name) == 0)
			return (q[i].value);
	return (NULL);
}

/*
 * JavaScript's Number(s) for a query value (StrDecimalLiteral with
 * surrounding white space, Infinity, 0x/0o/0b integers).  Returns 0 and
 * the value, or -1 for NaN.
 */
static int
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
 * What knex makes of a validated limit or offset: parseInt(String(x)).
 * Sets *v (-1: none, as for Infinity).  Returns -1 for a value too big for
 * the database, which PostgreSQL refuses (an internal error).
 */
static int
api_knex_int(const char *s, int64_t *v)
{
	double	d;

	*v = -1;
	if (s == NULL)
		return (0);
	if (api_js_number(s, &d) == -1 || d != d)
		return (0);
	if (d > 1e308)
		return (0);		/* Infinity: parseInt gives NaN */
	if (d >= 1e21) {
		/* String(d) is "d.ddde+NN": parseInt keeps the first digit. */
		while (d >= 10)
			d /= 10;
	} else if (d >= 9223372036854775807.0)
		return (-1);
	*v = (int64_t)d;
	return (0);
}

/* Days from 1970-01-01 to y-m-1, proleptic Gregorian. */
static int64_t
api_days(int64_t y, int m)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468);
}

static int
api_digits(const char **sp, int min, int max, int *v)
{
	const char	*s = *sp;
	int		 n = 0;

	*v = 0;
	while (isdigit((unsigned char)*s) && n < max) {
		*v = *v * 10 + (*s++ - '0');
		n++;
	}
	if (n < min)
		return (-1);
	*sp = s;
	return (0);
}

/* A time "HH:MM[:SS[.fff]]" and a zone ("Z", "GMT", "UTC", "+HH:MM",
 * "+HHMM", "GMT+HHMM"), as both of V8's parsers take them.  Adds the time
 * to *ms.  Returns -1 on junk. */
static int
api_date_time(const char **sp, int64_t *ms, int iso)
{
	const char	*s = *sp;
	int		 h, mi, sec = 0, frac = 0, fd = 0, zh, zm = 0, sign;

	if (api_digits(&s, iso ? 2 : 1, 2, &h) == -1 || *s++ != ':' ||
	    api_digits(&s, 2, 2, &mi) == -1)
		return (-1);
	if (*s == ':') {
		s++;
		if (api_digits(&s, 2, 2, &sec) == -1)
			return (-1);
		if (*s == '.') {
			s++;
			while (isdigit((unsigned char)*s)) {
				if (fd < 3) {
					frac = frac * 10 + (*s - '0');
					fd++;
				}
				s++;
			}
			if (fd == 0)
				return (-1);
			while (fd++ < 3)
				frac *= 10;
		}
	}
	if (h > 24 || mi > 59 || sec > 59 || (h == 24 && (mi || sec || frac)))
		return (-1);
	*ms += ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + frac;
	while (!iso && *s == ' ')
		s++;
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (!iso && (strncmp(s, "GMT", 3) == 0 ||
	    strncmp(s, "UTC", 3) == 0))
		s += 3;
	if (*s == '+' || *s == '-') {
		sign = *s++ == '+' ? 1 : -1;
		if (api_digits(&s, 2, 2, &zh) == -1)
			return (-1);
		if (*s == ':')
			s++;
		if (api_digits(&s, 2, 2, &zm) == -1)
			return (-1);
		*ms -= (int64_t)sign * (zh * 60 + zm) * 60000;
	}
	*sp = s;
	return (0);
}

/*
 * Date.parse() as far as clients use it: the ISO forms (YYYY, YYYY-MM,
 * YYYY-MM-DD, with a time and zone, ±YYYYYY years), and V8's legacy forms
 * "Nov 29 2026", "29 Nov 2026", "Sun, 29 Nov 2026 13:48:04 GMT" (what
 * toUTCString() gives; toString()'s "(zone name)" is ignored),
 * "2026/11/29" and "11/29/2026".  Times without a zone are taken as UTC
 * (notimock runs in UTC).  Returns -1 where Date.parse gives NaN.
 */
static int
api_date_parse(const char *s, int64_t *ms)
{
	static const char *months[] = { "jan", "feb", "mar", "apr", "may",
	    "jun", "jul", "aug", "sep", "oct", "nov", "dec" };
	const char	*p = s;
	int		 y = 0, mo = 1, d = 1, a, b, c, sign = 1, i;
	int		 mon = 0;

	/* ISO: [+-YY]YYYY[-MM[-DD]][THH:MM...] */
	if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (api_digits(&p, 6, 6, &y) == -1)
			goto legacy;
		y *= sign;
	} else if (api_digits(&p, 4, 4, &y) == -1 || isdigit((unsigned char)*p))
		goto legacy;
	if (*p == '-') {
		p++;
		if (api_digits(&p, 2, 2, &mo) == -1)
			goto legacy;
		if (*p == '-') {
			p++;
			if (api_digits(&p, 2, 2, &d) == -1)
				goto legacy;
		}
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31)
		return (-1);
	*ms = (api_days(y, mo) + d - 1) * 86400000LL;
	if (*p == 'T' || *p == 't' || (*p == ' ' && isdigit((unsigned char)
	    p[1]))) {
		p++;
		if (api_date_time(&p, ms, 1) == -1)
			return (-1);
	}
	return (*p == '\0' ? 0 : -1);

legacy:
	p = s;
	while (*p == ' ')
		p++;
	/* An optional weekday ("Sun," "Sunday"). */
	if (isalpha((unsigned char)*p)) {
		const char *w = p;

		while (isalpha((unsigned char)*p))
			p++;
		for (i = 0; i < 12; i++)
			if (p - w >= 3 && strncasecmp(w, months[i], 3) == 0)
				break;
		if (i < 12) {
			mon = i + 1;		/* "Nov 29 2026" */
		} else {
			if (*p == ',')
				p++;
			while (*p == ' ')
				p++;
			if (isalpha((unsigned char)*p)) {
				w = p;
				while (isalpha((unsigned char)*p))
					p++;
				for (i = 0; i < 12; i++)
					if (p - w >= 3 &&
					    strncasecmp(w, months[i], 3) == 0)
						break;
				if (i == 12)
					return (-1);
				mon = i + 1;
			}
		}
		while (*p == ' ' || *p == ',')
			p++;
	}
	if (api_digits(&p, 1, 4, &a) == -1)
		return (-1);
	if (mon != 0) {
		/* "Nov 29 2026" / "Nov 29, 2026" */
		while (*p == ' ' || *p == ',')
			p++;
		if (api_digits(&p, 4, 4, &y) == -1)
			return (-1);
		mo = mon;
		d = a;
	} else if (*p == '/' || *p == '-') {
		char sep = *p++;

		if (api_digits(&p, 1, 2, &b) == -1 || *p++ != sep ||
		    api_digits(&p, 1, 4, &c) == -1)
			return (-1);
		if (a > 31) {			/* 2026/11/29 */
			y = a;
			mo = b;
			d = c;
		} else {			/* 11/29/2026 */
			mo = a;
			d = b;
			y = c;
		}
	} else {
		/* "29 Nov 2026" */
		const char *w;

		while (*p == ' ')
			p++;
		w = p;
		while (isalpha((unsigned char)*p))
			p++;
		for (i = 0; i < 12; i++)
			if (p - w >= 3 && strncasecmp(w, months[i], 3) == 0)
				break;
		if (i == 12)
			return (-1);
		while (*p == ' ' || *p == ',')
			p++;
		if (api_digits(&p, 4, 4, &y) == -1)
			return (-1);
		mo = i + 1;
		d = a;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31)
		return (-1);
	*ms = (api_days(y, mo) + d - 1) * 86400000LL;
	while (*p == ' ' || *p == 'T')
		p++;
	if (isdigit((unsigned char)*p) && api_date_time(&p, ms, 0) == -1)
		return (-1);
	while (*p == ' ')
		p++;
	if (*p == '(' && p[strlen(p) - 1] == ')')
		p += strlen(p);
	return (*p == '\0' ? 0 : -1);
}

/* appendCommonOptions(): search, read, saved, createdAfter and
 * minimumSeverity.  Returns -1 after answering a bad createdAfter. */
static int
api_common_options(struct api_ctx *c, const struct api_query *q, size_t n,
    struct db_nquery *nq)
{
	static const char *sev[] = { "critical", "high", "normal", "low" };
	const char	*v;
	size_t		 i;

	nq->search = api_query_get(q, n, "search");
	if ((v = api_query_get(q, n, "read")) != NULL)
		nq->read = strcmp(v, "true") == 0 ? 1 : -1;
	if ((v = api_query_get(q, n, "saved")) != NULL)
		nq->saved = strcmp(v, "true") == 0 ? 1 : -1;
	if ((v = api_query_get(q, n, "createdAfter")) != NULL) {
		if (api_date_parse(v, &nq->created_after) == -1) {
			api_input_error(c, "Unexpected date format");
			return (-1);
		}
		nq->has_created_after = 1;
	}
	if ((v = api_query_get(q, n, "minimumSeverity")) != NULL)
		for (i = 0; i < 4; i++)
			if (util_strcaseeq(v, sev[i]))
				nq->min_severity = (int)i + 1;
	return (0);
}

/* Answer 200 with a JSON document; takes doc. */
static void
api_send_doc(struct api_ctx *c, struct json *doc)
{
	char	*body;
	size_t	 len;

	body = json_print(doc, &len);
	json_free(doc);
	api_finish(c, 200, body, len);
}

static struct json *
api_notification_array(const struct db_notification *v, size_t n)
{
	struct json	*arr = json_new_array();
	size_t		 i;

	for (i = 0; i < n; i++)
		json_append(arr, api_stored_element(&v[i]));
	return (arr);
}

/* GET /notifications and GET /: the list and its totalCount. */
static void
api_read_list(struct api_ctx *c, const struct api_query *q, size_t n)
{
	struct server		*srv = c->r->srv;
	struct db_nquery	 nq;
	struct db_notification	*v = NULL;
	struct json		*doc;
	char			**fields = NULL, *comma;
	int			*dirs = NULL;
	size_t			 nv = 0, nf = 0, i;
	int64_t			 total;
	const char		*why = NULL;

	memset(&nq, 0, sizeof nq);
	nq.user = c->who.subject;
	if (api_knex_int(api_query_get(q, n, "offset"), &nq.offset) == -1 ||
	    api_knex_int(api_query_get(q, n, "limit"), &nq.limit) == -1) {
		why = "limit or offset out of range for the database";
		goto internal;
	}
	/* parseEntityOrderFieldParams(): "field[,asc|desc]" each. */
	for (i = 0; i < n; i++) {
		if (strcmp(q[i].name, "orderField") != 0)
			continue;
		fields = xreallocarray(fields, nf + 1, sizeof *fields);
		dirs = xreallocarray(dirs, nf + 1, sizeof *dirs);
		fields[nf] = xstrdup(q[i].value);
		dirs[nf] = 0;
		if ((comma = strchr(fields[nf], ',')) != NULL) {
			*comma++ = '\0';
			/* split(",") keeps only the first two parts. */
			if (strchr(comma, ',') != NULL)
				*strchr(comma, ',') = '\0';
			if (strcmp(comma, "asc") == 0)
				dirs[nf] = 1;
			else if (strcmp(comma, "desc") == 0)
				dirs[nf] = 2;
			else {
				nf++;
				api_input_error(c, "Invalid order field order, "
				    "must be asc or desc");
				goto out;
			}
		}
		nf++;
	}
	if (nf > 0) {
		nq.order_field = (const char *const *)fields;
		nq.order_dir = dirs;
		nq.norder = nf;
	}
	nq.topic = api_query_get(q, n, "topic");
	if (api_common_options(c, q, n, &nq) == -1)
		goto out;
	if (db_notification_list(srv->db, &nq, &v, &nv) == -1) {
		why = db_errmsg(srv->db);
		goto internal;
	}
	nq.limit = nq.offset = -1;
	nq.unordered = 1;
	if ((total = db_notification_count(srv->db, &nq)) == -1) {
		why = db_errmsg(srv->db);
		goto internal;
	}
	doc = json_new_object();
	json_add_num(doc, "totalCount", (double)total);
	json_add(doc, "notifications", api_notification_array(v, nv));
	api_send_doc(c, doc);
	goto out;
internal:
	api_internal_error(c, why);
out:
	db_notifications_free(v, nv);
	db_strv_free(fields, nf);
	free(dirs);
}

/* The :id of GET /notifications/:id or GET /:id (decoded). */
static char *
api_path_id(const char *sub)
{
	const char	*end = sub + strlen(sub), *start;

	if (end - sub > 1 && end[-1] == '/')
		end--;
	for (start = end; start > sub && start[-1] != '/'; start--)
		;
	return (xstrndup(start, (size_t)(end - start)));
}

static void
api_read_get(struct api_ctx *c, const char *sub)
{
	struct server		*srv = c->r->srv;
	struct db_nquery	 nq;
	struct db_notification	*v = NULL;
	size_t			 nv = 0;
	char			*id;

	id = api_path_id(sub);
	memset(&nq, 0, sizeof nq);
	nq.user = c->who.subject;
	nq.id = id;
	nq.limit = 1;
	nq.offset = -1;
	if (db_notification_list(srv->db, &nq, &v, &nv) == -1)
		api_internal_error(c, db_errmsg(srv->db));
	else if (nv != 1)
		api_fail(c, 404, "NotFoundError", "Not found", NULL);
	else {
		struct json *o = api_stored_element(&v[0]);

		api_send_doc(c, o);
	}
	db_notifications_free(v, nv);
	free(id);
}

/* POST /notifications/update and POST /update. */
static void
api_read_update(struct api_ctx *c)
{
	struct server		*srv = c->r->srv;
	const struct json	*ids = json_get(c->body, "ids");
	struct db_nquery	 nq;
	struct db_notification	*v = NULL;
	struct json		*o;
	size_t			 nv = 0;
	int			 read, saved;
	char			*idj, *s;
	int64_t			 now = util_now_ms();

	read = api_tri(c->body, "read");
	saved = api_tri(c->body, "saved");
	idj = json_print(ids, NULL);
	/* 1 set, -1 clear, 0 leave: the db's convention. */
	if (db_notification_mark(srv->db, c->who.subject, idj,
	    read == 1 ? 1 : read == 0 ? -1 : 0,
	    saved == 1 ? 1 : saved == 0 ? -1 : 0, now) == -1) {
		api_internal_error(c, db_errmsg(srv->db));
		goto out;
	}
	if (read != -1) {
		/* The ids as the client sent them, known or not. */
		o = json_new_object();
		json_add_str(o, "action", read ? "notification_read" :
		    "notification_unread");
		json_add(o, "notification_ids", json_dup(ids));
		s = json_print(o, NULL);
		api_signal(srv, c->who.subject, s);
		free(s);
		json_free(o);
	}
	memset(&nq, 0, sizeof nq);
	nq.user = c->who.subject;
	nq.ids_json = idj;
	nq.limit = nq.offset = -1;
	if (db_notification_list(srv->db, &nq, &v, &nv) == -1) {
		api_internal_error(c, db_errmsg(srv->db));
		goto out;
	}
	api_send_doc(c, api_notification_array(v, nv));
out:
	db_notifications_free(v, nv);
	free(idj);
}

static void
api_read_status(struct api_ctx *c)
{
	struct server	*srv = c->r->srv;
	struct json	*o;
	int64_t		 unread, read;

	if (db_notification_status(srv->db, c->who.subject, &unread, &read) ==
	    -1) {
		api_internal_error(c, db_errmsg(srv->db));
		return;
	}
	o = json_new_object();
	json_add_num(o, "unread", (double)unread);
	json_add_num(o, "read", (double)read);
	api_send_doc(c, o);
}

static void
api_read_topics(struct api_ctx *c, const struct api_query *q, size_t n)
{
	struct server		*srv = c->r->srv;
	struct db_nquery	 nq;
	struct json		*o, *arr;
	char			**topics = NULL;
	size_t			 nt = 0, i;

	memset(&nq, 0, sizeof nq);
	nq.user = c->who.subject;
	nq.limit = nq.offset = -1;
	if (api_common_options(c, q, n, &nq) == -1)
		return;
	if (db_notification_topics(srv->db, &nq, &topics, &nt) == -1) {
		api_internal_error(c, db_errmsg(srv->db));
		return;
	}
	arr = json_new_array();
	for (i = 0; i < nt; i++)
		json_append(arr, json_new_string(topics[i]));
	o = json_new_object();
	json_add(o, "topics", arr);
	api_send_doc(c, o);
	db_strv_free(topics, nt);
}

static void
api_read_settings(struct api_ctx *c)
{
	struct json	*doc;

	if ((doc = api_settings_effective(c->r->srv, c->who.subject)) == NULL)
		api_internal_error(c, db_errmsg(c->r->srv->db));
	else
		api_send_doc(c, doc);
}

/*
 * POST /settings: saveNotificationSettings() deletes the user's rows and
 * inserts one per origin and per topic (a topic is on only if its origin
 * is too), keyed by user|channel|origin|topic.  Like Backstage, a body
 * without any origin wipes the settings and then fails on knex's empty
 * insert, and a repeated key fails the insert (an internal error on
 * PostgreSQL) after the wipe.
 */
static void
api_write_settings(struct api_ctx *c)
{
	struct server		*srv = c->r->srv;
	const struct json	*ch, *o, *t;
	struct db_setting	*rows = NULL;
	size_t			 n = 0, i, j;
	const char		*cid, *oid;
	int			 oen, dup = 0;

	for (ch = json_first(json_get(c->body, "channels")); ch != NULL;
	    ch = json_next(ch))
		if (strcmp(json_string(json_get(ch, "id")),
		    API_WEB_CHANNEL) != 0) {
			api_input_error(c, "Invalid channel");
			return;
		}
	for (ch = json_first(json_get(c->body, "channels")); ch != NULL;
	    ch = json_next(ch)) {
		cid = json_string(json_get(ch, "id"));
		for (o = json_first(json_get(ch, "origins")); o != NULL;
		    o = json_next(o)) {
			oid = json_string(json_get(o, "id"));
			oen = api_tri(o, "enabled") == 1;
			rows = xreallocarray(rows, n + 1, sizeof *rows);
			rows[n].channel = xstrdup(cid);
			rows[n].origin = xstrdup(oid);
			rows[n].topic = NULL;
			rows[n++].enabled = oen;
			for (t = json_first(json_get(o, "topics")); t != NULL;
			    t = json_next(t)) {
				rows = xreallocarray(rows, n + 1,
				    sizeof *rows);
				rows[n].channel = xstrdup(cid);
				rows[n].origin = xstrdup(oid);
				rows[n].topic = xstrdup(json_string(
				    json_get(t, "id")));
				rows[n++].enabled = oen &&
				    api_tri(t, "enabled") == 1;
			}
		}
	}
	for (i = 0; i < n && !dup; i++)
		for (j = i + 1; j < n && !dup; j++)
			dup = strcmp(rows[i].channel, rows[j].channel) == 0 &&
			    strcmp(rows[i].origin, rows[j].origin) == 0 &&
			    strcmp(rows[i].topic ? rows[i].topic : "",
			    rows[j].topic ? rows[j].topic : "") == 0;
	if (db_settings_replace(srv->db, c->who.subject, rows,
	    n == 0 || dup ? 0 : n) == -1)
		api_internal_error(c, db_errmsg(srv->db));
	else if (n == 0)
		api_fail(c, 500, "Error", " - The query is empty", NULL);
	else if (dup)
		api_internal_error(c, "UNIQUE constraint failed: "
		    "user_settings.settings_key_hash");
	else
		api_read_settings(c);
	db_settings_free(rows, n);
}

/* The user-only routes, once the pipeline has validated the request. */
static void
api_read(struct api_ctx *c, enum api_route route, const char *sub,
    const struct api_query *q, size_t n)
{
	switch (route) {
	case R_LIST:
		api_read_list(c, q, n);
		break;
	case R_GET:
		api_read_get(c, sub);
		break;
	case R_UPDATE:
		api_read_update(c);
		break;
	case R_STATUS:
		api_read_status(c);
		break;
	case R_TOPICS:
		api_read_topics(c, q, n);
		break;
	case R_SETTINGS_GET:
		api_read_settings(c);
		break;
	case R_SETTINGS_POST:
		api_write_settings(c);
		break;
	default:
		api_fail(c, 404, "NotFoundError", "Not found", NULL);
		break;
	}
}

/* --- the pipeline ------------------------------------------------------ */

void
api_notifications(struct req *r)
{
	struct api_ctx		 c;
	struct api_query	*q = NULL;
	size_t			 nq = 0, len, mlen = strlen(API_MOUNT);
	const char		*auth, *ctype, *sub, *rest;
	const unsigned char	*body;
	char			 msg[1024], media[128], charset[64];
	enum api_route		 route;
	int			 rc, has_body, is_json;
	long			 pos;

	r->backstage = 1;
	memset(&c, 0, sizeof c);
	c.r = r;
	c.jpos = -1;
	c.entities = json_new_array();
	c.users = json_new_array();
	c.ids = json_new_array();

	/* request.url as the plugin router sees it: below the mount. */
	rest = util_strncaseeq(r->uri, API_MOUNT, mlen) ? r->uri + mlen : r->uri;
	if (*rest == '/')
		c.url = xstrdup(rest);
	else
		xasprintf(&c.url, "/%s", rest);
	sub = r->path + mlen;
	if (*sub == '\0')
		sub = "/";

	/* 1. The credential barrier, on every path and method.  GET /health
	 * is declared unauthenticated, so without a token it passes here and
	 * fails in the /:id handler instead. */
	auth = http_header(r, "Authorization");
	route = api_match(r->cmd, sub);
	if (!(auth == NULL && route == R_GET && util_strcaseeq(sub, "/health"))) {
		c.auth_checked = 1;
		c.auth = auth_check(r->srv->auth, auth, &c.who, msg,
		    sizeof msg);
		switch (c.auth) {
		case AUTH_MISSING:
			api_fail(&c, 401, "AuthenticationError",
			    "Missing credentials", NULL);
			goto out;
		case AUTH_ILLEGAL:
			api_fail(&c, 401, "AuthenticationError",
			    "Illegal token", NULL);
			goto out;
		case AUTH_RESTRICTED:
			c.authenticated = 1;
			api_fail(&c, 403, "NotAllowedError", msg, NULL);
			goto out;
		case AUTH_INVALID:	/* a user JWT that did not verify */
			api_fail(&c, 401, "AuthenticationError", msg, NULL);
			goto out;
		case AUTH_OK:
			c.authenticated = 1;
			break;
		}
	}

	/* 2. The JSON body parser, for any method and path. */
	ctype = http_header(r, "Content-Type");
	api_media_type(ctype ? ctype : "", media, sizeof media);
	is_json = strcmp(media, "application/json") == 0;
	has_body = http_header(r, "Transfer-Encoding") != NULL ||
	    http_header(r, "Content-Length") != NULL;
	body = http_body(r, &len);
	if (is_json && has_body) {
		if (api_charset(ctype, charset, sizeof charset) &&
		    strncmp(charset, "utf-", 4) != 0) {
			for (char *p = charset; *p; p++)
				*p = (char)toupper((unsigned char)*p);
			snprintf(msg, sizeof msg, "unsupported charset \"%s\"",
			    charset);
			api_input_error(&c, msg);
			goto out;
		}
		if (len > API_BODY_LIMIT) {
			api_input_error(&c, "request entity too large");
			goto out;
		}
		if (len == 0)
			c.body = json_new_object();
		else if ((c.body = json_parse((const char *)body, len, 1, msg,
		    sizeof msg, &pos)) == NULL) {
			c.jerr = msg;
			c.jpos = pos;
			api_input_error(&c, msg);
			goto out;
		}
	}

	/* 3. Routing: nothing matched is an empty 404, except that Express
	 * answers OPTIONS on a known path with the methods it allows. */
	if (route == R_NONE && r->cmd == EVHTTP_REQ_OPTIONS) {
		int get = api_match(EVHTTP_REQ_GET, sub) != R_NONE;
		int post = api_match(EVHTTP_REQ_POST, sub) != R_NONE;
		const char *allow = get && post ? "GET,HEAD,POST" :
		    get ? "GET,HEAD" : post ? "POST" : NULL;

		if (allow != NULL) {
			http_add_header(r, "Allow", allow);
			api_finish_text(&c, 200, "text/html; charset=utf-8",
			    allow);
			goto out;
		}
	}
	if (route == R_NONE) {
		api_finish(&c, 404, NULL, 0);
		goto out;
	}

	/* 4. The OpenAPI validator: media type, query, body. */
	if (api_rules[route].has_body && !is_json) {
		if (ctype == NULL)
			snprintf(msg, sizeof msg, "unsupported media type "
			    "undefined");
		else {
			snprintf(msg, sizeof msg, "unsupported media type %s",
			    ctype);
			for (char *p = msg; *p; p++)
				*p = (char)tolower((unsigned char)*p);
		}
		api_input_error(&c, msg);
		goto out;
	}
	q = api_parse_query(r->query, &nq);
	if (api_check_query(route, q, nq, msg, sizeof msg) == -1) {
		api_input_error(&c, msg);
		goto out;
	}
	if (api_rules[route].has_body) {
		if (c.body == NULL)
			c.body = json_new_object();
		switch (route) {
		case R_CREATE:
			rc = schema_send_options(c.body, msg, sizeof msg);
			break;
		case R_UPDATE:
			rc = schema_update(c.body, msg, sizeof msg);
			break;
		default:
			rc = schema_settings(c.body, msg, sizeof msg);
			break;
		}
		if (rc == -1) {
			api_input_error(&c, msg);
			goto out;
		}
	}

	/* 5. The handlers. */
	if (!c.authenticated) {
		api_fail(&c, 401, "AuthenticationError", "Missing credentials",
		    NULL);
		goto out;
	}
	if (route == R_CREATE) {
		api_create(&c);
		goto out;
	}
	if (route == R_OPENAPI) {
		api_finish(&c, 200, xstrdup(api_openapi), sizeof api_openapi - 1);
		goto out;
	}
	if (c.who.type != PRINCIPAL_USER) {
		api_fail(&c, 403, "NotAllowedError",
		    "This endpoint does not allow 'service' credentials", NULL);
		goto out;
	}
	api_read(&c, route, sub, q, nq);

out:
	api_free_query(q, nq);
	json_free(c.body);
	json_free(c.entities);
	json_free(c.users);
	json_free(c.ids);
	free(c.url);
}
