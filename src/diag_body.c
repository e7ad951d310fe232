/*
 * diag_body.c: the checks on a delivery's body: JSON syntax, template
 * leftovers (<no value>, Go byte lists and maps), then the field values
 * Backstage refuses (recipients, entity refs, severity, link) and its
 * schema's own verdict.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "diag_int.h"
#include "entity.h"
#include "json.h"
#include "schema.h"
#include "url.h"
#include "xmalloc.h"

/* --- the body ---------------------------------------------------------- */

/*
 * The cause of a JSON syntax error, read from the bytes around it: its
 * text's row, and in *arg the argument the cause takes first (a character
 * named, allocated; NULL when it takes none).
 */
static enum diag_text_id
diag_json_cause(struct diag_ctx *x, size_t pos, int eos, char **arg)
{
	const unsigned char	*b = x->in->body;
	size_t			 len = x->in->body_len, i;
	const char		*m = x->jerr;
	int			 c = !eos && pos < len ? b[pos] : -1;
	int			 prev = -1;

	for (i = pos; i > 0 && i <= len; i--)
		if (!diag_ws(b[i - 1])) {
			prev = b[i - 1];
			break;
		}
	*arg = NULL;
	if (x->kind == BODY_TEXT)
		return (DT_JSON_TEXT);
	if (strncmp(m, "Bad control character", 21) == 0) {
		*arg = diag_char_name(c);
		(*arg)[0] = (char)toupper((unsigned char)(*arg)[0]);
		return (DT_JSON_CONTROL);
	}
	if (strncmp(m, "Bad escaped character", 21) == 0)
		return (DT_JSON_GO_ESCAPE);
	if ((strncmp(m, "Expected ',' or '}'", 19) == 0 ||
	    strncmp(m, "Expected ',' or ']'", 19) == 0) && prev == '"')
		return (DT_JSON_QUOTE);
	if (c == '<' && pos + DIAG_NOVALUE_LEN <= len &&
	    memcmp(b + pos, DIAG_NOVALUE, DIAG_NOVALUE_LEN) == 0)
		return (DT_JSON_NO_VALUE);
	if (c == 'm' && pos + 4 <= len && memcmp(b + pos, "map[", 4) == 0)
		return (DT_JSON_GO_MAP);
	if ((c == '}' || c == ',' || c == ']') && prev == ':')
		return (DT_JSON_MISSING);
	if (eos || strncmp(m, "Unexpected end", 14) == 0)
		return (DT_JSON_END);
	if (strncmp(m, "Unexpected non-whitespace", 25) == 0)
		return (DT_JSON_TRAILING);
	return (DT_JSON_OTHER);
}

void
diag_invalid_json(struct diag_ctx *x)
{
	const struct diag_input	*in = x->in;
	size_t			 pos, line, col;
	/* The parser may place an error at the very end (pos == len), past
	 * the last byte: that is the end of the body too (fuzz_diag). */
	int			 eos = x->jpos < 0 ||
				    (size_t)x->jpos >= in->body_len;
	char			*snip, *cn, *answer, *first, key[80];
	const char		*argv[5];
	size_t			 argc = 0;
	enum diag_text_id	 id, said;

	if (x->jerr == NULL)
		return;
	/* A GET of catalog text is explained by get-with-body. */
	if (x->kind == BODY_TEXT && diag_has(x->res, "get-with-body"))
		return;
	pos = eos ? in->body_len : (size_t)x->jpos;
	diag_linecol(in->body, in->body_len, pos, &line, &col);
	if (eos) {
		snip = diag_snippet(in->body, in->body_len, pos, 40, 0);
		cn = diag_fmt("at the end of the body (line %zu, column %zu): "
		    "%s",
		    line, col, snip);
	} else {
		snip = diag_snippet(in->body, in->body_len, pos, 40, 20);
		answer = diag_char_name(in->body[pos]);
		cn = diag_fmt("line %zu, column %zu, at %s: %s", line, col,
		    answer, snip);
		free(answer);
	}
	if (in->offline)
		said = DT_P_WOULD_ANSWER;
	else if (in->response != NULL && diag_memmem((const unsigned char *)
	    in->response, in->response_len, "InputError", 10) != NULL &&
	    in->json_error != NULL)
		said = DT_P_ANSWERS;
	else
		said = DT_P_WILL_ANSWER;
	/* The cause's arguments (a character, the key the error is in),
	 * then what Backstage answers. */
	id = diag_json_cause(x, pos, eos, &first);
	if (first != NULL)
		argv[argc++] = first;
	if (id != DT_JSON_TEXT && id != DT_JSON_END && id != DT_JSON_TRAILING) {
		diag_raw_key(in->body, pos, key, sizeof key);
		if (key[0] != '\0') {
			argv[argc++] = DIAG_PART(DT_P_IN_KEY);
			argv[argc++] = key;
		} else
			argv[argc++] = "";
	}
	argv[argc++] = DIAG_PART(said);
	argv[argc++] = x->jerr;
	diag_say(x->res, id, cn, argc, argv);
	free(first);
	free(snip);
}

/* A <no value> found in the parsed body: its path and string. */
struct diag_nv {
	char		 path[128];
	const char	*value;
	size_t		 count;		/* occurrences in the value */
};

static void
diag_nv_walk(const struct json *v, char *path, size_t plen, size_t used,
    struct diag_nv *out, size_t *n, int depth)
{
	const struct json	*c;
	const char		*s, *k;
	size_t			 i, add;

	if (*n == DIAG_NOVALUE_MAX || depth > 64)
		return;
	switch (json_type(v)) {
	case JSON_STRING:
		s = json_string(v);
		if ((k = strstr(s, DIAG_NOVALUE)) == NULL)
			return;
		snprintf(out[*n].path, sizeof out[*n].path, "%s",
		    used ? path : "(top level)");
		out[*n].value = s;
		for (out[*n].count = 0; k != NULL; out[*n].count++)
			k = strstr(k + DIAG_NOVALUE_LEN, DIAG_NOVALUE);
		(*n)++;
		return;
	case JSON_OBJECT:
	case JSON_ARRAY:
		/* Each member or element with its key (.k) or index ([i])
		 * written after path; path is restored after each. */
		for (c = json_first(v), i = 0; c != NULL; c = json_next(c),
		    i++) {
			if (json_type(v) == JSON_OBJECT)
				add = (size_t)snprintf(path + used, plen - used,
				    "%s%s", used ? "." : "", json_key(c));
			else
				add = (size_t)snprintf(path + used, plen - used,
				    "[%zu]", i);
			if (used + add >= plen)
				add = plen - used - 1;
			diag_nv_walk(c, path, plen, used + add, out, n,
			    depth + 1);
			path[used] = '\0';
		}
		return;
	default:
		return;
	}
}

/* The cause of a <no value> in a field: its text's row. */
static enum diag_text_id
diag_nv_cause(const char *field, const char *value)
{
	char	leaf[64];

	diag_leaf(field, leaf, sizeof leaf);
	if (strcasecmp(leaf, "entityRef") == 0 ||
	    strcasecmp(leaf, "excludeEntityRef") == 0)
		return (DT_NV_ENTITY_REF);
	if (strcasecmp(leaf, "link") == 0 && value != NULL &&
	    strncmp(value, DIAG_NOVALUE, DIAG_NOVALUE_LEN) == 0)
		return (DT_NV_LINK);
	if (diag_icontains(leaf, "revision") ||
	    diag_icontains(leaf, "commit") ||
	    (value != NULL && (diag_icontains(value, "revision") ||
	    diag_icontains(value, "commit"))))
		return (DT_NV_REVISION);
	if (strcmp(field, "path") == 0)
		return (DT_NV_PATH);
	return (DT_NV_OTHER);
}

/* One no-value diagnosis: field, and where in the body. */
static void
diag_nv_add(struct diag_ctx *x, const char *field, size_t pos,
    const char *value)
{
	const struct diag_input	*in = x->in;
	size_t			 line, col;
	char			*snip, *v;
	enum diag_text_id	 id = diag_nv_cause(field, value);

	diag_linecol(in->body, in->body_len, pos, &line, &col);
	snip = diag_snippet(in->body, in->body_len, pos, 30, 30);
	if (value != NULL) {
		v = diag_escape((const unsigned char *)value,
		    strlen(value) < 120 ? strlen(value) : 120);
		DIAG_SAY(x->res, id, diag_fmt("%s = \"%s\" (line %zu, "
		    "column %zu): %s", field, v, line, col, snip), field);
		free(v);
	} else
		DIAG_SAY(x->res, id, diag_fmt("%s (line %zu, column %zu): %s",
		    field, line, col, snip), field);
	free(snip);
}

void
diag_no_value(struct diag_ctx *x)
{
	const struct diag_input	*in = x->in;
	const unsigned char	*b = in->body, *p;
	size_t			 len = in->body_len;
	size_t			 pos[DIAG_NOVALUE_MAX * 4];
	size_t			 npos = 0, nnv = 0, i, at;
	struct diag_nv		 nv[DIAG_NOVALUE_MAX];
	char			 path[128], key[80], last[80], *val;
	const char		*field, *value;
	size_t			 plen;

	/* In the URL first: Go percent-encodes it there. */
	if (in->path != NULL && strstr(in->path, DIAG_NOVALUE) != NULL) {
		/* The path as sent, without the query (it may hold a secret). */
		plen = strcspn(in->uri, "?");
		val = diag_escape((const unsigned char *)in->uri,
		    plen < 200 ? plen : 200);
		DIAG_SAY(x->res, diag_nv_cause("path", NULL),
		    diag_fmt("path %s", val), "the request path");
		free(val);
	}
	for (p = b; npos < sizeof pos / sizeof pos[0] && p < b + len;
	    p += DIAG_NOVALUE_LEN) {
		p = diag_memmem(p, (size_t)(b + len - p), DIAG_NOVALUE,
		    DIAG_NOVALUE_LEN);
		if (p == NULL)
			break;
		pos[npos++] = (size_t)(p - b);
	}
	if (npos == 0)
		return;

	/* The parsed tree names each field; its strings hold the raw
	 * occurrences in document order. */
	if (x->json != NULL) {
		path[0] = '\0';
		diag_nv_walk(x->json, path, sizeof path, 0, nv, &nnv, 0);
	}
	if (nnv > 0) {
		for (i = 0, at = 0; i < nnv; at += nv[i].count, i++) {
			diag_nv_add(x, nv[i].path, at < npos ? pos[at] : len,
			    nv[i].value);
		}
		return;
	}
	/* Broken JSON: the field from the raw bytes, once per field. */
	last[0] = '\0';
	for (i = 0; i < npos && i < DIAG_NOVALUE_MAX; i++) {
		diag_raw_key(b, pos[i], key, sizeof key);
		field = key[0] != '\0' ? key : "the body";
		if (strcmp(field, last) == 0)
			continue;
		snprintf(last, sizeof last, "%s", field);
		/* A string value that starts with it, or NULL. */
		value = pos[i] > 0 && b[pos[i] - 1] == '"' ?
		    (const char *)b + pos[i] : NULL;
		val = NULL;
		if (value != NULL) {
			p = memchr(b + pos[i], '"', len - pos[i]);
			val = xstrndup(value, p != NULL ? (size_t)(p -
			    (b + pos[i])) : len - pos[i]);
		}
		diag_nv_add(x, field, pos[i], val);
		free(val);
	}
}

/*
 * A Go byte list, "[115 51 99 ...]": at least four numbers up to 255, one
 * space apart.  Returns its start, or NULL; fills its length, the number
 * count and the decoded bytes.
 */
static const unsigned char *
diag_find_bytelist(const unsigned char *b, size_t len, size_t *span,
    size_t *count, unsigned char *dec, size_t declen)
{
	const unsigned char	*p, *q, *end = b + len;
	size_t			 n, digits;
	unsigned int		 v;

	for (p = b; p < end && (p = memchr(p, '[', (size_t)(end - p))) !=
	    NULL; p++) {
		q = p + 1;
		n = 0;
		for (;;) {
			v = 0;
			for (digits = 0; q < end && isdigit(*q) && digits < 4;
			    digits++, q++)
				v = v * 10 + (unsigned int)(*q - '0');
			if (digits == 0 || digits > 3 || v > 255)
				break;
			if (n < declen)
				dec[n] = (unsigned char)v;
			n++;
			if (q < end && *q == ']') {
				if (n >= 4) {
					*span = (size_t)(q + 1 - p);
					*count = n;
					return (p);
				}
				break;
			}
			if (q >= end || *q != ' ')
				break;
			q++;
		}
	}
	return (NULL);
}

void
diag_byte_list(struct diag_ctx *x, const unsigned char *b, size_t len,
    const char *where_default)
{
	const struct diag_input	*in = x->in;
	const unsigned char	*p;
	unsigned char		 dec[256];
	size_t			 span, count, line, col;
	char			 key[80], fp[CRYPTO_FP_LEN], head[64];
	char			*where, num[32];
	int			 known;

	if ((p = diag_find_bytelist(b, len, &span, &count, dec, sizeof dec)) ==
	    NULL)
		return;
	/* Show none of the numbers: the list IS the secret. */
	snprintf(head, sizeof head, "[%zu numbers, each 0-255]", count);
	known = diag_fp_known(in, dec, count < sizeof dec ? count : sizeof dec,
	    fp);
	snprintf(num, sizeof num, "%zu", count);
	if (where_default == NULL) {
		diag_raw_key(b, (size_t)(p - b), key, sizeof key);
		diag_linecol(b, len, (size_t)(p - b), &line, &col);
		where = diag_fmt("%s (line %zu, column %zu)", key[0] != '\0' ?
		    key : "the body", line, col);
	} else
		where = xstrdup(where_default);
	DIAG_SAY(x->res, DT_GO_BYTE_LIST, diag_fmt("%s: %s", where, head),
	    num, known ? DIAG_PART(DT_P_IS_TOKEN) : DIAG_PART(DT_P_FINGERPRINT),
	    fp);
	free(where);
}

void
diag_go_map(struct diag_ctx *x)
{
	const struct diag_input	*in = x->in;
	const unsigned char	*p, *q, *close, *end;
	size_t			 line, col;
	char			 key[80], *snip;

	end = in->body + in->body_len;
	for (p = in->body;; p = q + 4) {
		if ((q = diag_memmem(p, (size_t)(end - p), "map[", 4)) == NULL)
			return;
		/* map[key:value ...]: a ':' before the ']' */
		close = memchr(q, ']', (size_t)(end - q) < 200 ?
		    (size_t)(end - q) : 200);
		if (close != NULL && memchr(q, ':', (size_t)(close - q)) !=
		    NULL)
			break;
	}
	diag_raw_key(in->body, (size_t)(q - in->body), key, sizeof key);
	diag_linecol(in->body, in->body_len, (size_t)(q - in->body), &line,
	    &col);
	snip = diag_snippet(in->body, in->body_len, (size_t)(q - in->body), 10,
	    40);
	DIAG_SAY0(x->res, DT_GO_MAP, diag_fmt("%s (line %zu, column %zu): %s",
	    key[0] ? key : "the body", line, col, snip));
	free(snip);
}

/* --- field values ------------------------------------------------------ */

static const char *
diag_severity_guess(const char *s)
{
	static const struct {
		const char	*from, *to;
	} map[] = {
		{ "urgent", "critical" }, { "fatal", "critical" },
		{ "error", "critical" }, { "warning", "high" },
		{ "warn", "high" }, { "major", "high" },
		{ "medium", "normal" }, { "moderate", "normal" },
		{ "info", "low" }, { "minor", "low" }, { "debug", "low" },
	};
	size_t	i;

	for (i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcasecmp(s, map[i].from) == 0)
			return (map[i].to);
	return ("normal");
}

/* An entity ref Backstage's parseEntityRef refuses. */
static void
diag_entity_ref(struct diag_ctx *x, const char *ref)
{
	struct entity_ref	 er;
	char			 errname[32], msg[512], *t;

	/* <no value> is explained by its own diagnosis. */
	if (ref == NULL || strstr(ref, DIAG_NOVALUE) != NULL)
		return;
	if (entity_parse(ref, &er, errname, sizeof errname, msg,
	    sizeof msg) == 0) {
		entity_ref_clear(&er);
		return;
	}
	t = diag_escape((const unsigned char *)ref,
	    strlen(ref) < 80 ? strlen(ref) : 80);
	DIAG_SAY(x->res, strstr(msg, "missing or empty kind") != NULL ?
	    DT_ENTITY_REF_KIND : DT_ENTITY_REF_INVALID,
	    diag_fmt("recipients.entityRef = \"%s\"", t), t, errname, msg);
	free(t);
}

void
diag_fields(struct diag_ctx *x)
{
	const struct diag_input	*in = x->in;
	const struct json	*payload, *recip, *e, *refs;
	const char		*sev, *type, *link, *base;
	char			 low[16], *t;
	size_t			 i;
	enum url_check		 uc;

	if (json_type(x->json) != JSON_OBJECT)
		return;
	payload = json_get(x->json, "payload");
	recip = json_get(x->json, "recipients");

	if (recip == NULL && (json_get(x->json, "title") != NULL ||
	    json_get(x->json, "message") != NULL ||
	    json_get(x->json, "targetUsers") != NULL ||
	    json_get(x->json, "targetGroups") != NULL ||
	    json_get(x->json, "actions") != NULL)) {
		DIAG_SAY0(x->res, DT_LEGACY_BODY, xstrdup("top-level "
		    "title/message/targetUsers/targetGroups/actions and no "
		    "recipients"));
		return;
	}

	/* Backstage checks these itself: an accepted send passed them. */
	if (!in->offline && in->status == 200)
		return;

	type = json_string(json_get(recip, "type"));
	if (json_type(recip) == JSON_OBJECT && type != NULL &&
	    strcmp(type, "entity") != 0 && strcmp(type, "broadcast") != 0) {
		t = diag_escape((const unsigned char *)type,
		    strlen(type) < 40 ? strlen(type) : 40);
		DIAG_SAY(x->res, DT_RECIPIENTS_TYPE,
		    diag_fmt("recipients.type = \"%s\"", t), t,
		    strcasecmp(type, "entity") == 0 ||
		    strcasecmp(type, "broadcast") == 0 ?
		    DIAG_PART(DT_P_LOWER_CASE) : "");
		free(t);
	}
	refs = json_get(recip, "entityRef");
	if (type != NULL && strcmp(type, "entity") == 0) {
		if (json_type(refs) == JSON_STRING)
			diag_entity_ref(x, json_string(refs));
		for (e = json_type(refs) == JSON_ARRAY ? json_first(refs) :
		    NULL; e != NULL; e = json_next(e))
			diag_entity_ref(x, json_string(e));
	}

	sev = json_string(json_get(payload, "severity"));
	if (sev != NULL && strcmp(sev, "critical") != 0 &&
	    strcmp(sev, "high") != 0 && strcmp(sev, "normal") != 0 &&
	    strcmp(sev, "low") != 0) {
		for (i = 0; sev[i] != '\0' && i + 1 < sizeof low; i++)
			low[i] = (char)tolower((unsigned char)sev[i]);
		low[i] = '\0';
		t = diag_escape((const unsigned char *)sev,
		    strlen(sev) < 40 ? strlen(sev) : 40);
		if (sev[i] == '\0' && (strcmp(low, "critical") == 0 ||
		    strcmp(low, "high") == 0 || strcmp(low, "normal") == 0 ||
		    strcmp(low, "low") == 0))
			DIAG_SAY(x->res, DT_SEVERITY_CASE,
			    diag_fmt("payload.severity = \"%s\"", t), t, low);
		else
			DIAG_SAY(x->res, DT_SEVERITY_UNKNOWN,
			    diag_fmt("payload.severity = \"%s\"", t), t,
			    diag_severity_guess(sev));
		free(t);
	}

	link = json_string(json_get(payload, "link"));
	if (link != NULL && *link != '\0' &&
	    strstr(link, DIAG_NOVALUE) == NULL) {
		base = in->base_url != NULL ? in->base_url :
		    "http://localhost:3000/";
		if ((uc = url_check_link(link, base)) != URL_OK) {
			t = diag_escape((const unsigned char *)link,
			    strlen(link) < 120 ? strlen(link) : 120);
			if (uc == URL_NOT_HTTP)
				DIAG_SAY0(x->res, DT_LINK_NOT_HTTP,
				    diag_fmt("payload.link = \"%s\"", t));
			else
				DIAG_SAY0(x->res, DT_LINK_INVALID,
				    diag_fmt("payload.link = \"%s\"", t));
			free(t);
		}
	}
}

/* Backstage's own verdict on the body, when nothing more specific said
 * why it fails (lint), or when an earlier step hid it (missing headers). */
void
diag_schema(struct diag_ctx *x, size_t body_from)
{
	const struct diag_input	*in = x->in;
	const struct json	*payload;
	const char		*title;
	char			 msg[1024];
	enum diag_text_id	 said;

	if (x->json == NULL || (!x->create && !in->offline) ||
	    (!in->offline && in->status == 200) ||
	    diag_body_errors(x->res, body_from))
		return;
	if (schema_send_options(x->json, msg, sizeof msg) == 0) {
		payload = json_get(x->json, "payload");
		title = json_string(json_get(payload, "title"));
		if (title == NULL || *title != '\0')
			return;
		snprintf(msg, sizeof msg, "Invalid notification request "
		    "received: missing title");
	}
	/* Stored even when the answer says the same: the delivery then
	 * carries what `notimock lint` finds for the same bytes (one
	 * engine, one answer), and a wait's near misses show it. */
	if (in->offline)
		said = DT_P_SCHEMA_WOULD;
	else if (in->response != NULL && diag_memmem((const unsigned char *)
	    in->response, in->response_len, msg, strlen(msg)) != NULL)
		said = DT_P_SCHEMA_REFUSES;
	else
		said = DT_P_SCHEMA_WILL;
	DIAG_SAY(x->res, DT_SCHEMA, xstrdup(msg), DIAG_PART(said), msg);
}
