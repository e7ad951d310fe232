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
 * output, told from the table of texts in diag_codes.c; the checks live by concern in diag_transport.c, diag_auth.c,
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

/*
 * Tell template t into b, taking arguments from argv[*i] on: "%s" is the
 * next argument (a part's key in parts is the part's own message, which
 * takes the arguments after it), "%%" a '%'.
 */
static void
diag_render(struct json_buf *b, const char *t, const char *const *argv,
    size_t argc, uint32_t parts, size_t *i, int depth)
{
	const struct diag_text	*part;
	const char		*q, *a;
	size_t			 k;

	while ((q = strchr(t, '%')) != NULL) {
		json_buf_raw(b, t, (size_t)(q - t));
		t = q + 2;
		if (q[1] == '%') {
			json_buf_raw(b, "%", 1);
			continue;
		}
		if (q[1] != 's') {	/* not in the table: said as is */
			json_buf_raw(b, q, 1);
			t = q + 1;
			continue;
		}
		if (*i >= argc)
			continue;
		k = (*i)++;
		a = argv[k];
		if (k < 32 && (parts & (1U << k)) && depth < 4 &&
		    (part = diag_text_find(a)) != NULL && part->code == NULL)
			diag_render(b, part->message, argv, argc, parts, i,
			    depth + 1);
		else
			json_buf_raw(b, a, strlen(a));
	}
	json_buf_raw(b, t, strlen(t));
}

/* Tell row's message and fix into d from its arguments; 0 when they took
 * exactly argc. */
static int
diag_tell(struct diagnosis *d, const struct diag_text *row,
    const char *const *argv, size_t argc, uint32_t parts)
{
	struct json_buf	 b = JSON_BUF_INIT;
	size_t		 i = 0;

	diag_render(&b, row->message, argv, argc, parts, &i, 0);
	d->message = json_buf_take(&b, NULL);
	d->fix = NULL;
	if (row->fix != NULL) {
		diag_render(&b, row->fix, argv, argc, parts, &i, 0);
		d->fix = json_buf_take(&b, NULL);
	}
	return (i == argc ? 0 : -1);
}

struct diagnosis *
diag_say(struct diag_result *res, enum diag_text_id id, char *evidence,
    size_t argc, const char *const *argv)
{
	const struct diag_text	*row = &diag_texts[id];
	struct diagnosis	*d;
	size_t			 i, k, len;
	uint32_t		 parts = 0;
	char			*o;

	if (res->n == DIAG_MAX) {
		free(evidence);
		return (NULL);
	}
	if (argc > DIAG_ARGS)
		argc = DIAG_ARGS;
	/* A part is passed as its row's own key (DIAG_PART): the pointer
	 * tells it from text that happens to read the same. */
	for (i = 0; i < argc; i++)
		for (k = 0; k < diag_ntexts; k++)
			if (diag_texts[k].code == NULL &&
			    argv[i] == diag_texts[k].key)
				parts |= 1U << i;
	d = &res->v[res->n++];
	memset(d, 0, sizeof *d);
	d->code = row->code;
	d->level = row->level;
	d->evidence = evidence;
	d->text = row;
	if (diag_tell(d, row, argv, argc, parts) == -1)
		log_warnx("%s: text %s given %zu arguments", __func__,
		    row->key, argc);
	for (i = 0, len = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	d->args = o = xmalloc(len + 1);
	for (i = 0; i < argc; i++) {
		k = strlen(argv[i]) + 1;
		memcpy(o, argv[i], k);
		o += k;
	}
	d->argslen = len;
	d->nargs = argc;
	d->parts = parts;
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
	char			*where, num[32];

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
		DIAG_SAY0(res, DT_EMPTY_BODY, xstrdup("0-byte body"));
	else if (x.kind == BODY_EMPTY && in->offline)
		DIAG_SAY0(res, DT_EMPTY_BODY_LINT, xstrdup("0-byte body"));
	if (in->body_len > DIAG_BODY_LIMIT && x.create) {
		snprintf(num, sizeof num, "%zu", in->body_len);
		DIAG_SAY(res, DT_BODY_TOO_LARGE, diag_fmt("%zu-byte body",
		    in->body_len), num);
	}
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
		free(res->v[i].args);
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

/* The attempt and previous members of a retry or duplicate. */
static void
diag_json_attempts(struct json_buf *b, const struct diag_result *res)
{
	size_t	k;

	json_buf_raw(b, ",\"attempt\":", 11);
	json_buf_num(b, res->attempt);
	json_buf_raw(b, ",\"previous\":[", 13);
	for (k = 0; k < res->nprevious; k++) {
		if (k > 0)
			json_buf_raw(b, ",", 1);
		json_buf_num(b, (double)res->previous[k]);
	}
	json_buf_raw(b, "]", 1);
}

/* The arguments of d's text: a JSON array, a part as {"p": key}. */
static void
diag_json_args(struct json_buf *b, const struct diagnosis *d)
{
	const char	*a;
	size_t		 k;

	json_buf_raw(b, ",\"a\":[", 6);
	for (k = 0, a = d->args; k < d->nargs; k++, a += strlen(a) + 1) {
		if (k > 0)
			json_buf_raw(b, ",", 1);
		if (d->parts & (1U << k))
			json_buf_raw(b, "{\"p\":", 5);
		json_buf_str(b, a, strlen(a));
		if (d->parts & (1U << k))
			json_buf_raw(b, "}", 1);
	}
	json_buf_raw(b, "]", 1);
}

/*
 * Written straight into a buffer rather than through a cJSON tree (this
 * runs for most requests): the same bytes json_print() gave for the array
 * of objects, members in the same order.  compact: the text's key and
 * arguments instead of message and fix (diag_json_compact).
 */
static char *
diag_json_write(const struct diag_result *res, size_t *lenp, int compact)
{
	const struct diagnosis	*d;
	struct json_buf		 buf = JSON_BUF_INIT, *b = &buf;
	size_t			 i;

	if (res->n == 0)
		return (NULL);
	json_buf_raw(b, "[", 1);
	for (i = 0; i < res->n; i++) {
		d = &res->v[i];
		json_buf_raw(b, i > 0 ? ",{\"code\":" : "{\"code\":",
		    i > 0 ? 9 : 8);
		json_buf_str(b, d->code, strlen(d->code));
		diag_json_member(b, "level", diag_level_name(d->level));
		if (compact && d->text != NULL) {
			diag_json_member(b, "t", d->text->key);
			diag_json_args(b, d);
			diag_json_member(b, "evidence", d->evidence);
		} else {
			diag_json_member(b, "message", d->message);
			diag_json_member(b, "evidence", d->evidence);
			diag_json_member(b, "fix", d->fix);
		}
		if (strcmp(d->code, "retry") == 0 ||
		    strcmp(d->code, "duplicate") == 0)
			diag_json_attempts(b, res);
		json_buf_raw(b, "}", 1);
	}
	json_buf_raw(b, "]", 1);
	return (json_buf_take(b, lenp));
}

char *
diag_json(const struct diag_result *res, size_t *lenp)
{
	return (diag_json_write(res, lenp, 0));
}

char *
diag_json_compact(const struct diag_result *res, size_t *lenp)
{
	return (diag_json_write(res, lenp, 1));
}

/* A stored string member, copied, or NULL. */
static char *
diag_member_dup(const struct json *e, const char *key)
{
	const char	*s = json_string(json_get(e, key));

	return (s != NULL ? xstrdup(s) : NULL);
}

/* One stored diagnosis back into d: told again from the table when it is
 * compact, as stored otherwise.  Borrows e for the code. */
static void
diag_unstore(struct diag_result *res, const struct json *e)
{
	struct diagnosis	*d = &res->v[res->n++];
	const struct diag_text	*row;
	const struct json	*a, *p;
	const char		*argv[DIAG_ARGS], *s;
	uint32_t		 parts = 0;
	size_t			 argc = 0;

	memset(d, 0, sizeof *d);
	s = json_string(json_get(e, "t"));
	row = s != NULL ? diag_text_find(s) : NULL;
	if (row != NULL && row->code != NULL) {
		for (a = json_first(json_get(e, "a")); a != NULL &&
		    argc < DIAG_ARGS; a = json_next(a)) {
			if ((p = json_get(a, "p")) != NULL)
				parts |= 1U << argc;
			else
				p = a;
			argv[argc++] = json_string(p) != NULL ?
			    json_string(p) : "";
		}
		(void)diag_tell(d, row, argv, argc, parts);
		d->code = row->code;
		d->level = row->level;
	} else {
		/* Written whole (before the table, or a key this version
		 * does not know: said without its prose). */
		d->code = (s = json_string(json_get(e, "code"))) != NULL ?
		    s : "?";
		s = json_string(json_get(e, "level"));
		d->level = s == NULL ? DIAG_INFO : strcmp(s, "error") == 0 ?
		    DIAG_ERROR : strcmp(s, "warning") == 0 ? DIAG_WARNING :
		    DIAG_INFO;
		d->message = diag_member_dup(e, "message");
		d->fix = diag_member_dup(e, "fix");
	}
	d->evidence = diag_member_dup(e, "evidence");
	if ((p = json_get(e, "attempt")) != NULL) {
		res->attempt = (int)json_number(p);
		res->nprevious = 0;
		for (p = json_first(json_get(e, "previous")); p != NULL &&
		    res->nprevious < DIAG_CHAIN; p = json_next(p))
			res->previous[res->nprevious++] =
			    (int64_t)json_number(p);
	}
}

char *
diag_expand(const char *stored, size_t len, size_t *lenp)
{
	struct diag_result	 res;
	struct json		*arr, *e;
	char			 err[JSON_ERRLEN], *s;

	/* Rows written whole need no parse (every row before the table). */
	if (diag_memmem((const unsigned char *)stored, len, "\"t\":", 4) ==
	    NULL || (arr = json_parse(stored, len, 0, err, sizeof err,
	    NULL)) == NULL)
		goto copy;
	if (json_type(arr) != JSON_ARRAY) {
		json_free(arr);
		goto copy;
	}
	memset(&res, 0, sizeof res);
	for (e = json_first(arr); e != NULL && res.n < DIAG_MAX;
	    e = json_next(e))
		if (json_type(e) == JSON_OBJECT)
			diag_unstore(&res, e);
	s = diag_json(&res, lenp);
	diag_clear(&res);
	json_free(arr);
	if (s != NULL)
		return (s);
copy:
	s = xmalloc(len + 1);
	memcpy(s, stored, len);
	s[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return (s);
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
