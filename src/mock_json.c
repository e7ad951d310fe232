/*
 * mock_json.c: a delivery as the assertion API shows it (doc/mock-api.md),
 * summary or full, and the near misses a timed-out wait explains itself
 * with.  Stored text is bytes as they arrived: what is not UTF-8 is shown
 * with U+FFFD, and a body also as base64, so nothing a client sent is lost
 * in the JSON.
 */
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

/*
 * Make raw bytes (a request body, a path) into a string the JSON module
 * takes: valid UTF-8 stays, anything else becomes U+FFFD, and NUL becomes
 * C0 80 (json.h's form of U+0000).  *valid says whether nothing changed.
 */
char *
mock_utf8(const void *buf, size_t len, int *valid)
{
	const unsigned char	*p = buf;
	char			*out, *o;
	size_t			 i = 0, n, run;
	uint32_t		 cp;

	*valid = 1;
	out = o = xmalloc(len * 3 + 1);
	while (i < len) {
		/* A run of ASCII but NUL at once: most bodies are all of it
		 * (a byte at a time was a tenth of a list's CPU). */
		for (run = i; run < len && p[run] != 0 && p[run] < 0x80; run++)
			;
		if (run > i) {
			memcpy(o, p + i, run - i);
			o += run - i;
			i = run;
			continue;
		}
		if (p[i] == 0) {
			*o++ = (char)0xc0;
			*o++ = (char)0x80;
			i++;
		} else if ((n = codec_utf8_decode(p + i, len - i, &cp)) > 0) {
			memcpy(o, p + i, n);
			o += n;
			i += n;
		} else {
			/* One U+FFFD per byte (not WHATWG's per sequence). */
			*valid = 0;
			o += codec_utf8_encode(CODEC_REPLACEMENT, o);
			i++;
		}
	}
	*o = '\0';
	return (out);
}

/* Add raw bytes as a string (see mock_utf8); NULL adds null. */
static void
mock_add_raw(struct json *o, const char *key, const char *s)
{
	char	*u;
	int	 valid;

	if (s == NULL) {
		json_add(o, key, json_new_null());
		return;
	}
	u = mock_utf8(s, strlen(s), &valid);
	json_add_str(o, key, u);
	free(u);
}

/* Add stored JSON text as a value; fallback if absent or unparsable. */
void
mock_add_stored(struct json *o, const char *key, const char *text,
    int empty_array)
{
	struct json	*v = NULL;
	char		 err[JSON_ERRLEN];

	/* Most stored arrays are empty: no parse for those (issue 11: a
	 * summary page of 1,000 parsed 4,000 of them). */
	if (text != NULL && strcmp(text, "[]") == 0)
		v = json_new_array();
	else if (text != NULL)
		v = json_parse(text, strlen(text), 0, err, sizeof err, NULL);
	if (v == NULL)
		v = empty_array ? json_new_array() : json_new_null();
	json_add(o, key, v);
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

/* A delivery as doc/mock-api.md shows it: the summary, or full. */
struct json *
mock_delivery_json(const struct db_record *d, int full)
{
	struct json	*o;
	char		 iso[UTIL_ISO_LEN], *s;
	int		 valid;

	o = json_new_object();
	json_add_num(o, "seq", (double)d->seq);
	json_add_str(o, "received", util_iso_ms(d->received, iso));
	json_add_num(o, "receivedMs", (double)d->received);
	mock_add_raw(o, "remote", d->remote);
	mock_add_raw(o, "method", d->method);
	mock_add_raw(o, "path", d->path);
	json_add_num(o, "status", d->status);
	json_add_bool(o, "accepted", d->status >= 200 && d->status <= 299);
	/* These hold json.h strings already (they came out of a parse). */
	json_add_str(o, "origin", d->origin);
	json_add_str(o, "tokenFingerprint", d->token_fp);
	json_add_str(o, "title", d->title);
	json_add_str(o, "topic", d->topic);
	json_add_str(o, "severity", d->severity);
	mock_add_stored(o, "entities", d->entities, 1);
	mock_add_stored(o, "users", d->users, 1);
	mock_add_stored(o, "notificationIds", d->ids, 1);
	/* Stored as codes and arguments (diag_json_compact): told whole. */
	s = d->diagnoses != NULL ? diag_expand(d->diagnoses,
	    strlen(d->diagnoses), NULL) : NULL;
	mock_add_stored(o, "diagnoses", s, 1);
	free(s);
	json_add_num(o, "durationUs", (double)d->duration_us);
	/* Which attempt of which first delivery (diag.c's retry detector),
	 * and the fault rule that answered, if one did (fault.c). */
	json_add_num(o, "attempt", d->attempt > 0 ? d->attempt : 1);
	if (d->retry_of > 0)
		json_add_num(o, "retryOf", (double)d->retry_of);
	else
		json_add(o, "retryOf", json_new_null());
	mock_add_stored(o, "fault", d->fault, 0);
	if (!full)
		return (o);

	mock_add_stored(o, "headers", d->headers, 1);
	s = mock_utf8(d->body, d->body_len, &valid);
	json_add_str(o, "body", s);
	free(s);
	json_add_num(o, "bodyBytes", (double)d->body_len);
	if (d->body_size > 0) {
		/* Stored truncated (README, "Limits"): what arrived. */
		json_add_bool(o, "bodyTruncated", 1);
		json_add_num(o, "bodySize", (double)d->body_size);
	}
	if (!valid) {
		s = codec_b64_encode_dup(CODEC_B64, d->body, d->body_len);
		json_add_str(o, "bodyBase64", s);
		free(s);
	}
	mock_add_stored(o, "payload", d->payload, 0);
	mock_add_stored(o, "recipients", d->recipients, 0);
	mock_add_raw(o, "response", d->response);
	return (o);
}

struct json *
mock_records_json(const struct db_record *v, size_t n, int full)
{
	struct json	*arr = json_new_array();
	size_t		 i;

	for (i = 0; i < n; i++)
		json_append(arr, mock_delivery_json(&v[i], full));
	return (arr);
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
