/*
 * diag.c: what a delivery's raw bytes say about the sender's configuration.
 *
 * The checks run in the order a user should fix things: the transport
 * (method, path, Content-Type, credentials), then the body (JSON syntax,
 * template leftovers such as <no value> or Go byte lists, field values),
 * then the outcome (nobody reached) and the history (retries).  Each check
 * is a cheap test on the hot path; text is only built for a diagnosis that
 * fires, so a clean accepted POST allocates nothing here.
 *
 * Evidence never quotes a token: credentials appear by shape and keyed
 * fingerprint (crypto_fingerprint, the one form everywhere), and text from an Authorization
 * header is shown only when the whole token is a $key reference or one
 * {{ ... }} template.  Diagnoses are stored as text; the command line
 * escapes them for the terminal when it prints them (diag_print_text).
 *
 * This file is the engine (diag_run calls the checks in order) and the
 * output; the checks live by concern in diag_transport.c, diag_auth.c,
 * diag_body.c and diag_outcome.c, the byte helpers they share in
 * diag_bytes.c (diag_int.h), and the terminal printing in diag_print.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "diag_int.h"
#include "json.h"
#include "log.h"
#include "xmalloc.h"

/* --- building diagnoses ------------------------------------------------ */

char *
diag_fmt(const char *fmt, ...)
{
	va_list	 ap, aq;
	char	*s, buf[1024];
	int	 n;

	va_start(ap, fmt);
	va_copy(aq, ap);
	n = vsnprintf(buf, sizeof buf, fmt, aq);
	va_end(aq);
	if (n < 0) {
		n = 0;
		buf[0] = '\0';
	}
	/* Most texts fit the first pass (this runs per request): keep it
	 * rather than format a second time. */
	if ((size_t)n < sizeof buf) {
		va_end(ap);
		s = xmalloc((size_t)n + 1);
		memcpy(s, buf, (size_t)n + 1);
		return (s);
	}
	s = xmalloc((size_t)n + 1);
	if (vsnprintf(s, (size_t)n + 1, fmt, ap) < 0)
		s[0] = '\0';
	va_end(ap);
	return (s);
}

/* Add a diagnosis; takes message, evidence and fix (all allocated). */
struct diagnosis *
diag_add(struct diag_result *res, const char *code, enum diag_level level,
    char *message, char *evidence, char *fix)
{
	struct diagnosis	*d;

	if (res->n == DIAG_MAX) {
		free(message);
		free(evidence);
		free(fix);
		return (NULL);
	}
	d = &res->v[res->n++];
	d->code = code;
	d->level = level;
	d->message = message;
	d->evidence = evidence;
	d->fix = fix;
	return (d);
}

int
diag_has(const struct diag_result *res, const char *code)
{
	size_t	i;

	for (i = 0; i < res->n; i++)
		if (strcmp(res->v[i].code, code) == 0)
			return (1);
	return (0);
}

/* Any error-level diagnosis about the body so far? */
int
diag_body_errors(const struct diag_result *res, size_t from)
{
	size_t	i;

	for (i = from; i < res->n; i++)
		if (res->v[i].level == DIAG_ERROR)
			return (1);
	return (0);
}

/* --- entry points ------------------------------------------------------ */

struct diag *
diag_new(void)
{
	return (xcalloc(1, sizeof (struct diag)));
}

void
diag_free(struct diag *d)
{
	free(d);
}

void
diag_unanswered(struct diag *d, int64_t seq)
{
	size_t	k;

	if (d == NULL)
		return;
	for (k = 0; k < d->used; k++)
		if (d->ring[k].seq == seq)
			d->ring[k].status = 0;
}

size_t
diag_run(struct diag *d, const struct diag_input *in, struct diag_result *res)
{
	struct diag_ctx		 x;
	const unsigned char	*p, *end;
	size_t			 body_from;
	char			*where;

	memset(res, 0, sizeof *res);
	memset(&x, 0, sizeof x);
	x.in = in;
	x.res = res;
	x.json = in->json;
	x.jerr = in->json_error;
	x.jpos = in->json_error != NULL ? in->json_errpos : -1;
	x.post = in->offline || (in->method != NULL &&
	    strcmp(in->method, "POST") == 0);
	x.create = in->offline || diag_is_create(in->path);
	x.go = in->user_agent != NULL &&
	    strncmp(in->user_agent, "Go-http-client/", 15) == 0;
	x.kind = BODY_EMPTY;
	end = in->body + in->body_len;
	for (p = in->body; p < end && diag_ws(*p); p++)
		;
	if (p < end)
		x.kind = *p == '{' || *p == '[' ? BODY_JSON : BODY_TEXT;

	/* A body nobody parsed (no JSON Content-Type): parse it here, so
	 * that every problem is told at once. */
	if (x.json == NULL && x.jerr == NULL && x.kind != BODY_EMPTY &&
	    (x.kind == BODY_JSON || x.post)) {
		x.own = json_parse((const char *)in->body, in->body_len, 1,
		    x.jbuf, sizeof x.jbuf, &x.jpos);
		x.json = x.own;
		if (x.own == NULL)
			x.jerr = x.jbuf;
	}

	if (!in->offline) {
		diag_method(&x);
		diag_path(&x);
		diag_content_type(&x);
		diag_auth(&x);
	}
	body_from = res->n;
	if (x.kind == BODY_EMPTY && x.post && x.create && !in->offline &&
	    !diag_has(res, "auth-missing") &&
	    !diag_has(res, "auth-unknown-token"))
		diag_add(res, "empty-body", DIAG_ERROR,
		    xstrdup("A POST with an empty body: the template's webhook "
		    "section has no body:, or it rendered empty.  Backstage "
		    "treats it as {} and answers 400 \"request/body must have "
		    "required property 'recipients'\" (or the Content-Type "
		    "error first)."),
		    xstrdup("0-byte body"),
		    xstrdup("Add a JSON body: to the template's "
		    "webhook.backstage "
		    "section."));
	else if (x.kind == BODY_EMPTY && in->offline)
		diag_add(res, "empty-body", DIAG_ERROR,
		    xstrdup("The body is empty: Backstage treats it as {} and "
		    "answers 400 \"request/body must have required property "
		    "'recipients'\"."),
		    xstrdup("0-byte body"),
		    xstrdup("Add a JSON body: to the template's "
		    "webhook.backstage "
		    "section."));
	if (in->body_len > DIAG_BODY_LIMIT && x.create)
		diag_add(res, "body-too-large", DIAG_ERROR,
		    diag_fmt("The body is %zu bytes: Backstage's JSON parser "
		    "takes "
		    "at most 102400 (100 KiB) and answers 400 \"request entity "
		    "too large\".", in->body_len),
		    diag_fmt("%zu-byte body", in->body_len),
		    xstrdup("Send less: the whole Application (toJson .app) or "
		    "all its resources do not belong in a notification; pick "
		    "the fields you need."));
	if (x.kind != BODY_EMPTY) {
		diag_invalid_json(&x);
		diag_no_value(&x);
		diag_byte_list(&x, in->body, in->body_len, NULL);
		if (!diag_has(res, "invalid-json") ||
		    diag_memmem(in->body, in->body_len, "map[", 4) != NULL)
			diag_go_map(&x);
		diag_fields(&x);
		diag_schema(&x, body_from);
	}
	if (!in->offline && in->uri != NULL && !diag_has(res, "go-byte-list")) {
		where = diag_fmt("the URL %s", diag_epath(&x));
		diag_byte_list(&x, (const unsigned char *)in->uri,
		    strlen(in->uri), where);
		free(where);
	}
	diag_no_recipients(&x);
	diag_retry(d, &x);

	json_free(x.own);
	free(x.epath);
	return (res->n);
}

void
diag_clear(struct diag_result *res)
{
	size_t	i;

	for (i = 0; i < res->n; i++) {
		free(res->v[i].message);
		free(res->v[i].evidence);
		free(res->v[i].fix);
	}
	res->n = 0;
}

size_t
diag_errors(const struct diag_result *res)
{
	size_t	i, n = 0;

	for (i = 0; i < res->n; i++)
		n += res->v[i].level == DIAG_ERROR;
	return (n);
}

const char *
diag_level_name(enum diag_level l)
{
	switch (l) {
	case DIAG_ERROR:
		return ("error");
	case DIAG_WARNING:
		return ("warning");
	default:
		return ("info");
	}
}

/* One member of a diagnosis object: ,"key": and the string (or null). */
static void
diag_json_member(struct json_buf *b, const char *key, const char *v)
{
	json_buf_raw(b, ",\"", 2);
	json_buf_raw(b, key, strlen(key));
	json_buf_raw(b, "\":", 2);
	if (v == NULL)
		json_buf_raw(b, "null", 4);
	else
		json_buf_str(b, v, strlen(v));
}

/*
 * Written straight into a buffer rather than through a cJSON tree (this
 * runs for most requests): the same bytes json_print() gave for the array
 * of objects, members in the same order.
 */
char *
diag_json(const struct diag_result *res, size_t *lenp)
{
	struct json_buf	 buf = JSON_BUF_INIT, *b = &buf;
	const char	*code;
	size_t		 i, k;

	if (res->n == 0)
		return (NULL);
	json_buf_raw(b, "[", 1);
	for (i = 0; i < res->n; i++) {
		code = res->v[i].code;
		json_buf_raw(b, i > 0 ? ",{\"code\":" : "{\"code\":",
		    i > 0 ? 9 : 8);
		json_buf_str(b, code, strlen(code));
		diag_json_member(b, "level", diag_level_name(res->v[i].level));
		diag_json_member(b, "message", res->v[i].message);
		diag_json_member(b, "evidence", res->v[i].evidence);
		diag_json_member(b, "fix", res->v[i].fix);
		if (strcmp(code, "retry") == 0 ||
		    strcmp(code, "duplicate") == 0) {
			json_buf_raw(b, ",\"attempt\":", 11);
			json_buf_num(b, res->attempt);
			json_buf_raw(b, ",\"previous\":[", 13);
			for (k = 0; k < res->nprevious; k++) {
				if (k > 0)
					json_buf_raw(b, ",", 1);
				json_buf_num(b,
				    (double)res->previous[k]);
			}
			json_buf_raw(b, "]", 1);
		}
		json_buf_raw(b, "}", 1);
	}
	json_buf_raw(b, "]", 1);
	return (json_buf_take(b, lenp));
}

char *
diag_codes(const struct diag_result *res)
{
	size_t	 i, len = 0;
	char	*s;

	if (res->n == 0)
		return (NULL);
	for (i = 0; i < res->n; i++)
		len += strlen(res->v[i].code) + 1;
	s = xmalloc(len);
	s[0] = '\0';
	for (i = 0; i < res->n; i++) {
		if (i > 0)
			strcat(s, ",");
		strcat(s, res->v[i].code);
	}
	return (s);
}
