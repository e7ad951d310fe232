/*
 * mock_json.c: a delivery as the assertion API shows it (doc/mock-api.md),
 * summary or full, and the near misses a timed-out wait explains itself
 * with.  Stored text is bytes as they arrived: what is not UTF-8 is shown
 * with U+FFFD, and a body also as base64, so nothing a client sent is lost
 * in the JSON.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "db.h"
#include "diag.h"
#include "json.h"
#include "mock_int.h"
#include "util.h"
#include "xmalloc.h"

/* Stored JSON text as a value, into a buffer: as it is when it is in
 * printed form (all that notimock stores is: json_print or json_buf), else
 * parsed and printed (a row of another shape); [] (or null) if absent or
 * unparsable. */
static void
mock_put_stored(struct json_buf *b, const char *text, int empty_array)
{
	struct json	*v = NULL;
	char		 err[JSON_ERRLEN], *s;
	size_t		 len;

	if (text != NULL && json_printed(text, len = strlen(text))) {
		json_buf_raw(b, text, len);
		return;
	}
	if (text != NULL)
		v = json_parse(text, len, 0, err, sizeof err, NULL);
	if (v == NULL) {
		if (empty_array)
			MOCK_LIT(b, "[]");
		else
			MOCK_LIT(b, "null");
		return;
	}
	s = json_print(v, &len);
	json_buf_raw(b, s, len);
	free(s);
	json_free(v);
}

/* Add stored JSON text as a value; fallback if absent or unparsable. */
void
mock_add_stored(struct json *o, const char *key, const char *text,
    int empty_array)
{
	struct json_buf	 b = JSON_BUF_INIT;
	struct json	*v;
	char		 err[JSON_ERRLEN];

	mock_put_stored(&b, text, empty_array);
	v = json_parse(b.p, b.len, 0, err, sizeof err, NULL);
	free(b.p);
	json_add(o, key, v != NULL ? v : json_new_null());
}

/* The codes of the warning and error diagnoses in a stored array: what
 * a clean=true filter found wrong. */
static struct json *
mock_diag_codes(const char *diagnoses)
{
	struct json	*all, *arr = json_new_array(), *e;
	const char	*level, *code;
	char		 err[JSON_ERRLEN];

	if (diagnoses == NULL || (all = json_parse(diagnoses,
	    strlen(diagnoses), 0, err, sizeof err, NULL)) == NULL)
		return (arr);
	for (e = json_first(all); e != NULL; e = json_next(e)) {
		level = json_string(json_get(e, "level"));
		code = json_string(json_get(e, "code"));
		if (code != NULL && level != NULL &&
		    (strcmp(level, "warning") == 0 ||
		    strcmp(level, "error") == 0))
			json_append(arr, json_new_string(code));
	}
	json_free(all);
	return (arr);
}

/*
 * The writer of a delivery's JSON: each member appended to one buffer as
 * json_print() would write it from a tree (issue 11: building the tree of a
 * list of 50 full deliveries, and printing it, was half of the list's CPU).
 * The members, in doc/mock-api.md's order, are a table: a key, the kind of
 * value, and where the record holds it.
 */
enum mock_kind {
	MOCK_SEQ,	/* int64_t as a number */
	MOCK_ISO,	/* int64_t ms as an ISO time */
	MOCK_RAW,	/* bytes up to a NUL: not UTF-8 becomes U+FFFD */
	MOCK_STR,	/* a json.h string (it came out of a parse) */
	MOCK_INT,	/* int as a number */
	MOCK_ACCEPTED,	/* the status is 2xx */
	MOCK_ARRAY,	/* stored JSON; [] if absent */
	MOCK_VALUE,	/* stored JSON; null if absent */
	MOCK_DIAG,	/* stored diagnoses, told whole (diag_expand) */
	MOCK_ATTEMPT,	/* int, 1 at least */
	MOCK_RETRY,	/* int64_t, null if 0 */
	MOCK_BODY	/* body, bodyBytes, and what it needs besides */
};

struct mock_member {
	const char	*key;		/* with its quotes and colon */
	enum mock_kind	 kind;
	size_t		 off;		/* in struct db_record */
};

#define MOCK_M(k, kind, field)	\
	{ "\"" k "\":", (kind), offsetof(struct db_record, field) }

static const struct mock_member mock_summary[] = {
	MOCK_M("seq", MOCK_SEQ, seq),
	MOCK_M("received", MOCK_ISO, received),
	MOCK_M("receivedMs", MOCK_SEQ, received),
	MOCK_M("remote", MOCK_RAW, remote),
	MOCK_M("method", MOCK_RAW, method),
	MOCK_M("path", MOCK_RAW, path),
	MOCK_M("status", MOCK_INT, status),
	MOCK_M("accepted", MOCK_ACCEPTED, status),
	MOCK_M("origin", MOCK_STR, origin),
	MOCK_M("tokenFingerprint", MOCK_STR, token_fp),
	MOCK_M("title", MOCK_STR, title),
	MOCK_M("topic", MOCK_STR, topic),
	MOCK_M("severity", MOCK_STR, severity),
	MOCK_M("entities", MOCK_ARRAY, entities),
	MOCK_M("users", MOCK_ARRAY, users),
	MOCK_M("notificationIds", MOCK_ARRAY, ids),
	/* Stored as codes and arguments (diag_json_compact). */
	MOCK_M("diagnoses", MOCK_DIAG, diagnoses),
	MOCK_M("durationUs", MOCK_SEQ, duration_us),
	/* Which attempt of which first delivery (diag.c's retry detector),
	 * and the fault rule that answered, if one did (fault.c). */
	MOCK_M("attempt", MOCK_ATTEMPT, attempt),
	MOCK_M("retryOf", MOCK_RETRY, retry_of),
	MOCK_M("fault", MOCK_VALUE, fault),
	{ NULL, MOCK_SEQ, 0 }
};

/* What a full delivery adds. */
static const struct mock_member mock_full[] = {
	MOCK_M("headers", MOCK_ARRAY, headers),
	MOCK_M("body", MOCK_BODY, body),
	MOCK_M("payload", MOCK_VALUE, payload),
	MOCK_M("recipients", MOCK_VALUE, recipients),
	MOCK_M("response", MOCK_RAW, response),
	{ NULL, MOCK_SEQ, 0 }
};

/* A json.h string (it came out of a parse), or null. */
static void
mock_put_str(struct json_buf *b, const char *s)
{
	if (s == NULL)
		MOCK_LIT(b, "null");
	else
		json_buf_str(b, s, strlen(s));
}

/* The body (as text; base64 too if it is not UTF-8) and its sizes. */
static void
mock_put_body(struct json_buf *b, const struct db_record *d)
{
	char	*s;
	int	 valid;

	valid = json_buf_bytes(b, d->body != NULL ? (const char *)d->body :
	    "", d->body_len);
	MOCK_KEY(b, "bodyBytes");
	json_buf_num(b, (double)d->body_len);
	if (d->body_size > 0) {
		/* Stored truncated (README, "Limits"): what arrived. */
		MOCK_KEY(b, "bodyTruncated");
		MOCK_LIT(b, "true");
		MOCK_KEY(b, "bodySize");
		json_buf_num(b, (double)d->body_size);
	}
	if (!valid) {
		s = codec_b64_encode_dup(CODEC_B64, d->body, d->body_len);
		MOCK_KEY(b, "bodyBase64");
		mock_put_str(b, s);
		free(s);
	}
}

/*
 * Diagnoses told once: telling a stored array (diag_expand: a JSON parse,
 * then the code table's prose) was a quarter of a page of summaries' CPU,
 * and deliveries repeat the same few (one misconfiguration, every send:
 * 197 distinct arrays in the newest 1,000 rows of the 1 M bench store).
 * The JSON a stored text gives depends on nothing else (the table is
 * const), so the server keeps it (struct mock's told, loop thread only):
 * the inbox's pages, the streams' events and the lists all read the same
 * rows.  At most MOCK_TOLD_MAX texts; when full it starts again empty.
 */
#define MOCK_TOLD_SLOTS	1024		/* a power of 2 */
#define MOCK_TOLD_MAX	512

struct mock_told {
	char		*stored[MOCK_TOLD_SLOTS];
	char		*json[MOCK_TOLD_SLOTS];
	size_t		 len[MOCK_TOLD_SLOTS];
	size_t		 n;
};

struct mock_told *
mock_told_new(void)
{
	return (xcalloc(1, sizeof (struct mock_told)));
}

static void
mock_told_clear(struct mock_told *t)
{
	size_t	i;

	for (i = 0; i < MOCK_TOLD_SLOTS; i++) {
		free(t->stored[i]);
		free(t->json[i]);
	}
	memset(t, 0, sizeof *t);
}

void
mock_told_free(struct mock_told *t)
{
	if (t == NULL)
		return;
	mock_told_clear(t);
	free(t);
}

/* Stored diagnoses, told whole, through t if not NULL. */
static void
mock_put_diag(struct json_buf *b, const char *text, struct mock_told *t)
{
	struct json_buf	 o = JSON_BUF_INIT;
	uint32_t	 h = 2166136261U;
	size_t		 i = 0, len;
	char		*s;

	if (text == NULL) {
		MOCK_LIT(b, "[]");
		return;
	}
	len = strlen(text);
	if (t != NULL) {
		for (i = 0; i < len; i++)
			h = (h ^ (unsigned char)text[i]) * 16777619U;
		for (i = h & (MOCK_TOLD_SLOTS - 1); t->stored[i] != NULL;
		    i = (i + 1) & (MOCK_TOLD_SLOTS - 1))
			if (strcmp(t->stored[i], text) == 0) {
				json_buf_raw(b, t->json[i], t->len[i]);
				return;
			}
	}
	s = diag_expand(text, len, NULL);
	mock_put_stored(&o, s, 1);
	free(s);
	json_buf_raw(b, o.p, o.len);
	if (t == NULL) {
		free(o.p);
		return;
	}
	if (t->n == MOCK_TOLD_MAX) {
		mock_told_clear(t);
		i = h & (MOCK_TOLD_SLOTS - 1);
	}
	t->stored[i] = xstrdup(text);
	t->len[i] = o.len;
	t->json[i] = json_buf_take(&o, NULL);
	t->n++;
}

/* One member's value. */
static void
mock_put_member(struct json_buf *b, const struct db_record *d,
    const struct mock_member *m, struct mock_told *told)
{
	const void	*p = (const char *)d + m->off;
	const char	*text = NULL;
	int64_t		 n64 = 0;
	int		 n = 0;
	char		 iso[UTIL_ISO_LEN];

	/* The field's type goes with its kind. */
	switch (m->kind) {
	case MOCK_SEQ:
	case MOCK_ISO:
	case MOCK_RETRY:
		n64 = *(const int64_t *)p;
		break;
	case MOCK_INT:
	case MOCK_ACCEPTED:
	case MOCK_ATTEMPT:
		n = *(const int *)p;
		break;
	case MOCK_BODY:
		break;
	default:
		text = *(char *const *)p;
		break;
	}
	switch (m->kind) {
	case MOCK_SEQ:
		json_buf_num(b, (double)n64);
		break;
	case MOCK_ISO:
		mock_put_str(b, util_iso_ms(n64, iso));
		break;
	case MOCK_RAW:
		if (text == NULL)
			MOCK_LIT(b, "null");
		else
			(void)json_buf_bytes(b, text, strlen(text));
		break;
	case MOCK_STR:
		mock_put_str(b, text);
		break;
	case MOCK_INT:
		json_buf_num(b, n);
		break;
	case MOCK_ACCEPTED:
		if (n >= 200 && n <= 299)
			MOCK_LIT(b, "true");
		else
			MOCK_LIT(b, "false");
		break;
	case MOCK_ARRAY:
	case MOCK_VALUE:
		mock_put_stored(b, text, m->kind == MOCK_ARRAY);
		break;
	case MOCK_DIAG:
		mock_put_diag(b, text, told);
		break;
	case MOCK_ATTEMPT:
		json_buf_num(b, n > 0 ? n : 1);
		break;
	case MOCK_RETRY:
		if (n64 > 0)
			json_buf_num(b, (double)n64);
		else
			MOCK_LIT(b, "null");
		break;
	case MOCK_BODY:
		mock_put_body(b, d);
		break;
	}
}

/* A delivery as doc/mock-api.md shows it, the summary or full, appended
 * to b: the same bytes json_print() gave for the tree this once built. */
void
mock_delivery_put(struct json_buf *b, const struct db_record *d, int full,
    struct mock_told *told)
{
	const struct mock_member	*m;
	int				 i;

	for (i = 0; i < 1 + (full != 0); i++)
		for (m = i == 0 ? mock_summary : mock_full; m->key != NULL;
		    m++) {
			json_buf_raw(b, m == mock_summary ? "{" : ",", 1);
			json_buf_raw(b, m->key, strlen(m->key));
			mock_put_member(b, d, m, told);
		}
	MOCK_LIT(b, "}");
}

void
mock_records_put(struct json_buf *b, const struct db_record *v, size_t n,
    int full, struct mock_told *told)
{
	size_t	i;

	MOCK_LIT(b, "[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			MOCK_LIT(b, ",");
		mock_delivery_put(b, &v[i], full, told);
	}
	MOCK_LIT(b, "]");
}

/* The writer's text as a tree, for the answers still built as one (a
 * timed-out wait's near misses). */
static struct json *
mock_tree(struct json_buf *b)
{
	struct json	*v;
	char		 err[JSON_ERRLEN];

	v = json_parse(b->p, b->len, 0, err, sizeof err, NULL);
	free(b->p);
	return (v != NULL ? v : json_new_null());
}

struct json *
mock_delivery_json(const struct db_record *d, int full)
{
	struct json_buf	 b = JSON_BUF_INIT;

	mock_delivery_put(&b, d, full, NULL);
	return (mock_tree(&b));
}

struct json *
mock_records_json(const struct db_record *v, size_t n, int full)
{
	struct json_buf	 b = JSON_BUF_INIT;

	mock_records_put(&b, v, n, full, NULL);
	return (mock_tree(&b));
}

static const char *
mock_status_text(int status, char *buf, size_t len)
{
	if (status == DB_STATUS_ACCEPTED)
		return ("accepted");
	if (status == DB_STATUS_REJECTED)
		return ("rejected");
	snprintf(buf, len, "%d", status);
	return (buf);
}

/* {"filter", "want", "got"} for each filter d failed. */
struct json *
mock_failed_json(const struct db_filter *f, unsigned int failed,
    const struct db_record *d)
{
	struct json	*arr = json_new_array(), *x, *want;
	char		 buf[16];
	size_t		 i;

	if (failed & DB_F_ENTITY) {
		x = json_new_object();
		json_add_str(x, "filter", "entity");
		want = json_new_array();
		for (i = 0; i < f->entity_n; i++)
			json_append(want, json_new_string(f->entity_v[i]));
		json_add(x, "want", want);
		mock_add_stored(x, "got", d->entities, 1);
		json_append(arr, x);
	}
#define MOCK_FAILED(bit, name, w, g) do {				\
	if (failed & (bit)) {						\
		x = json_new_object();					\
		json_add_str(x, "filter", (name));			\
		json_add_str(x, "want", (w));				\
		json_add_str(x, "got", (g));				\
		json_append(arr, x);					\
	}								\
} while (0)
	MOCK_FAILED(DB_F_TOPIC, "topic", f->topic, d->topic);
	MOCK_FAILED(DB_F_SEVERITY, "severity", f->severity, d->severity);
	MOCK_FAILED(DB_F_ORIGIN, "origin", f->origin, d->origin);
	MOCK_FAILED(DB_F_Q, "q", f->q, d->title);
	MOCK_FAILED(DB_F_RETRY, "retry", f->retry > 0 ? "yes" : "no",
	    d->attempt > 1 ? "yes" : "no");
#undef MOCK_FAILED
	if (failed & DB_F_REACHED) {
		x = json_new_object();
		json_add_str(x, "filter", "reached");
		json_add(x, "want", json_new_bool(f->reached > 0));
		mock_add_stored(x, "got", d->users, 1);
		json_append(arr, x);
	}
	if (failed & DB_F_CLEAN) {
		x = json_new_object();
		json_add_str(x, "filter", "clean");
		json_add(x, "want", json_new_bool(f->clean > 0));
		json_add(x, "got", mock_diag_codes(d->diagnoses));
		json_append(arr, x);
	}
	if (failed & DB_F_STATUS) {
		x = json_new_object();
		json_add_str(x, "filter", "status");
		if (f->status > 0)
			json_add_num(x, "want", f->status);
		else
			json_add_str(x, "want", mock_status_text(f->status, buf,
			    sizeof buf));
		json_add_num(x, "got", d->status);
		json_append(arr, x);
	}
	return (arr);
}

/* A refused near miss: the message Backstage's answer gave, as "error",
 * so that a timed-out wait says why it was refused, not only its code. */
void
mock_add_answer_error(struct json *x, const struct db_record *d)
{
	struct json	*o;
	const char	*msg;
	char		 err[JSON_ERRLEN];

	if ((d->status >= 200 && d->status <= 299) || d->response == NULL ||
	    (o = json_parse(d->response, strlen(d->response), 0, err,
	    sizeof err, NULL)) == NULL)
		return;
	if ((msg = json_string(json_get(json_get(o, "error"), "message"))) !=
	    NULL)
		json_add_str(x, "error", msg);
	json_free(o);
}
