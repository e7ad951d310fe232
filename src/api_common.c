/*
 * api_common.c: what every handler of the notifications plugin (api.c's
 * pipeline, api_create.c, api_read.c, api_settings.c) shares: the one way
 * out of a plugin request, api_finish(), which diagnoses and stores the
 * delivery (accepted or rejected) and hands the answer to http.c; the
 * error answers in Backstage's shape; JavaScript's Number(); the read-side
 * JSON form of a stored notification.  It calls none of those files.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "auth.h"
#include "db.h"
#include "diag.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "settings.h"
#include "util.h"
#include "xmalloc.h"

#define API_REFUSED_KEEP	4096	/* bytes kept of a body the barrier
					   refused (401, 403) */

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
	in.uri = r->target;	/* detection only: diag.c quotes no query values */
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
	/* Stored without the prose: mock.c tells it from diag_codes.c. */
	dj = diag_json_compact(&res, NULL);
	*codes = diag_codes(&res);
	diag_clear(&res);
	return (dj);
}

static void	api_finish_as(struct api_ctx *, int, const char *, char *,
		    size_t);

/* request.url as the plugin router sees it: the URI below the mount,
 * with its query.  Caller frees. */
char *
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
	api_finish_as(c, status, len > 0 || status != 404 ? API_JSON : NULL,
	    body, len);
}

/* A plain-text answer (Express's OPTIONS reply). */
void
api_finish_text(struct api_ctx *c, int status, const char *ctype,
    const char *text)
{
	api_finish_as(c, status, ctype, xstrdup(text), strlen(text));
}

/* What the delivery record says the body asked for (api_record_body). */
struct api_record {
	struct json	*loose;		/* a refused body, parsed for this */
	char		*pj, *rj;	/* payload and recipients, printed */
	const char	*title, *topic, *severity;
};

/*
 * Read the body for the record: payload, recipients, title, topic and
 * severity, and the entity refs a refused send addressed.  A refused
 * request whose body Backstage never parsed (no JSON Content-Type, as
 * Argo CD sends by default) still says what it was for: read it here, for
 * the record only, so it is filed under its entities and title.
 */
static void
api_record_body(struct api_ctx *c, int status, struct api_record *rec)
{
	const struct json	*src = c->body, *payload = NULL, *recip = NULL;
	const struct json	*e;
	const unsigned char	*raw;
	char			 msg[512];
	size_t			 blen;

	memset(rec, 0, sizeof *rec);
	if (src == NULL && status != 200) {
		raw = http_body(c->r, &blen);
		if (blen > 0 && blen <= API_BODY_LIMIT)
			src = rec->loose = json_parse((const char *)raw, blen,
			    0, msg, sizeof msg, NULL);
	}
	if (src != NULL && json_type(src) == JSON_OBJECT) {
		payload = json_get(src, "payload");
		recip = json_get(src, "recipients");
		if (payload != NULL)
			rec->pj = json_print(payload, NULL);
		if (recip != NULL)
			rec->rj = json_print(recip, NULL);
		rec->title = json_string(json_get(payload, "title"));
		rec->topic = json_string(json_get(payload, "topic"));
		rec->severity = json_string(json_get(payload, "severity"));
		if (rec->severity == NULL && rec->title != NULL && status == 200)
			rec->severity = "normal";
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
}

static void
api_record_clear(struct api_record *rec)
{
	json_free(rec->loose);
	free(rec->pj);
	free(rec->rj);
}

/*
 * Bodies are stored only up to --max-stored-body, and a body the barrier
 * refused (which Backstage never reads) only up to its first
 * API_REFUSED_KEEP bytes: otherwise anyone could fill the disk with
 * unauthenticated 4 MiB POSTs.  The delivery says so (bodySize).
 */
static size_t
api_stored_body_len(struct server *srv, int status, size_t blen)
{
	size_t	len = blen;

	if ((status == 401 || status == 403) && len > API_REFUSED_KEEP)
		len = API_REFUSED_KEEP;
	if (len > (size_t)srv->settings->max_stored_body)
		len = (size_t)srv->settings->max_stored_body;
	if (len < blen) {
		srv->bodies_truncated++;
		srv->body_bytes_dropped += blen - len;
	}
	return (len);
}

/*
 * Backstage echoes the URL in its error bodies, query included, and so do
 * we on the wire; the stored copy gets the redacted URL, since a query may
 * carry a token (http_target_redacted).  Returns the stored copy (caller
 * frees) and its length, or NULL to store the answer as sent.
 */
static char *
api_stored_response(const struct req *r, int status, const char *body,
    size_t len, const char *redacted, size_t *lenp)
{
	struct json	*stored, *rq;
	char		*url, *text = NULL, msg[512];

	if (status < 400 || len == 0 || strcmp(redacted, r->target) == 0 ||
	    (stored = json_parse(body, len, 0, msg, sizeof msg, NULL)) == NULL)
		return (NULL);
	rq = json_get(stored, "request");
	url = api_plugin_url(redacted);
	if (json_string(json_get(rq, "url")) != NULL) {
		json_add_str(rq, "url", url);
		text = json_print(stored, lenp);
	}
	free(url);
	json_free(stored);
	return (text);
}

/* Store the delivery, then answer (a 503 if the store refused it). */
static void
api_finish_as(struct api_ctx *c, int status, const char *ctype, char *body,
    size_t len)
{
	struct req		*r = c->r;
	struct server		*srv = r->srv;
	struct db_delivery	 d;
	struct api_record	 rec;
	const struct json	*e;
	const char		**ev;
	char			*headers, *ej, *uj, *ij, *dj, *stored_text;
	char			*dcodes = NULL, msg[512];
	size_t			 en = 0, blen;

	api_record_body(c, status, &rec);
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
	d.path = http_target_redacted(r);
	d.headers = headers;
	d.body = http_body(r, &blen);
	d.body_size = blen;
	d.body_len = api_stored_body_len(srv, status, blen);
	d.status = status;
	d.response = body;
	d.response_len = len;
	stored_text = api_stored_response(r, status, body, len, d.path,
	    &d.response_len);
	if (stored_text != NULL)
		d.response = stored_text;
	d.origin = c->authenticated ? c->who.subject : NULL;
	d.token_fp = c->who.fp[0] != '\0' ? c->who.fp : NULL;
	d.payload = rec.pj;
	d.recipients = rec.rj;
	d.title = rec.title;
	d.topic = rec.topic;
	d.severity = rec.severity;
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
		ctype = API_JSON;
	}
	if (c->authenticated)
		r->origin = xstrdup(c->who.subject);
	r->seq = d.seq;
	metrics_delivery(status, c->authenticated && c->who.type ==
	    PRINCIPAL_SERVICE ? c->who.subject : NULL, dcodes);
	if (c->fault != NULL)
		r->fault = xstrdup(c->fault);
	r->error_url = xstrdup(c->url);
	r->note = dcodes;
	r->durable = 1;
	http_send(r, status, ctype, body, len);

	free(body);
	free(headers);
	free(ej);
	free(uj);
	free(ij);
	free(dj);
	free(ev);
	free(stored_text);
	api_record_clear(&rec);
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

/* A failure the database caused: Backstage on PostgreSQL hides it behind
 * a log id (applyInternalErrorFilter); the details go to our log. */
void
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

/* Answer 200 with a JSON document; takes doc. */
void
api_send_doc(struct api_ctx *c, struct json *doc)
{
	char	*body;
	size_t	 len;

	body = json_print(doc, &len);
	json_free(doc);
	api_finish(c, 200, body, len);
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

/* A member as a tri-state boolean. */
int
api_tri(const struct json *o, const char *key)
{
	const struct json	*v = json_get(o, key);

	if (json_type(v) == JSON_TRUE)
		return (1);
	if (json_type(v) == JSON_FALSE)
		return (0);
	return (-1);
}
