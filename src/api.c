/*
 * api.c: the notifications plugin's request pipeline, step by step as
 * ../shared/spec/backstage-notifications.md section 1 lists it:
 *
 *   barrier (401/403) -> body parser (400) -> route match (empty 404) ->
 *   validator: media type, query, body (400) -> handler: credential type
 *   (403), own checks (400) -> store -> 200
 *
 * api_notifications() at the bottom reads as those steps, one function
 * each.  The route table names the handlers: POST in api_create.c, the
 * read side in api_read.c, user settings in api_settings.c.  Every request
 * ends in api_finish() (api_common.c), which stores the delivery (accepted
 * or rejected) and hands the answer to http.c, which sends it once the
 * delivery is committed.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_int.h"
#include "auth.h"
#include "db.h"
#include "diag.h"
#include "fault.h"
#include "http.h"
#include "json.h"
#include "route.h"
#include "schema.h"
#include "util.h"
#include "xmalloc.h"

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

/* The charset parameter of a Content-Type value, lower-cased into buf:
 * 1 if there is one, else 0. */
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

/* The client left while a fault rule held its reply (http.c): say so in
 * the delivery and to the retry detector. */
static void
api_held_gone(struct req *r)
{
	struct server	*srv = r->srv;
	char		*note;

	if (r->seq == 0 || r->fault == NULL)
		return;
	diag_unanswered(srv->diag, r->seq);
	note = fault_note_gone(r->fault, (util_mono_us() - r->start_us) / 1000);
	if (db_delivery_set_fault(srv->db, r->seq, note) == 0)
		server_kick(srv);
	free(note);
}

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
	r->held_gone = api_held_gone;
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
	c->url = api_plugin_url(r->target);
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

/* Move the request's state to the heap, for a handler that answers later
 * (api_read.c's reads on the worker): the pipeline's copy is left empty. */
struct api_ctx *
api_ctx_take(struct api_ctx *c)
{
	struct api_ctx	*t = xmalloc(sizeof *t);

	*t = *c;
	memset(c, 0, sizeof *c);
	return (t);
}

/* Free what api_ctx_take returned (its request is answered or gone). */
void
api_ctx_free(struct api_ctx *c)
{
	api_ctx_clear(c);
	free(c);
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
