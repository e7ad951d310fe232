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

/* Cause and fix of a JSON syntax error, read from the bytes around it. */
static void
diag_json_cause(struct diag_ctx *x, size_t pos, int eos, char **cause,
    const char **fix)
{
	const unsigned char	*b = x->in->body;
	size_t			 len = x->in->body_len, i;
	const char		*m = x->jerr;
	char			 key[80], *cn, inkey[120];
	int			 c = !eos && pos < len ? b[pos] : -1;
	int			 prev = -1;

	for (i = pos; i > 0 && i <= len; i--)
		if (!diag_ws(b[i - 1])) {
			prev = b[i - 1];
			break;
		}
	diag_raw_key(b, pos, key, sizeof key);
	if (key[0] != '\0')
		snprintf(inkey, sizeof inkey, " (in the value of \"%s\")", key);
	else
		inkey[0] = '\0';

	*fix = "Do not put template values between quotes: pipe them through "
	    "toJson (or toRawJson, which leaves < > & unescaped) and drop "
	    "the quotes, e.g. \"description\": "
	    "{{ .app.status.operationState.message | toJson }}.";
	if (x->kind == BODY_TEXT) {
		*cause = xstrdup("The body is text, not JSON: the template's "
		    "webhook body: renders prose (for example a copy of "
		    "message:).");
		*fix = "Write a JSON body under webhook.backstage.body: "
		    "{\"recipients\":{\"type\":\"entity\",\"entityRef\":...},"
		    "\"payload\":{\"title\":...}}.";
	} else if (strncmp(m, "Bad control character", 21) == 0) {
		cn = diag_char_name(c);
		cn[0] = (char)toupper((unsigned char)cn[0]);
		*cause = diag_fmt("%s inside a string%s: a template value was "
		    "inserted between quotes without escaping, typically "
		    "\"{{.app.status.operationState.message}}\", whose failure "
		    "messages can span lines.", cn, inkey);
		free(cn);
	} else if (strncmp(m, "Bad escaped character", 21) == 0) {
		*cause = diag_fmt("A Go escape that JSON does not have "
		    "(\\a, \\v or \\xNN)%s: sprig's quote (Go's %%q) writes "
		    "control bytes that way.", inkey);
		*fix = "Use toJson instead of quote: \"description\": "
		    "{{ .app.status.operationState.message | toJson }}.";
	} else if ((strncmp(m, "Expected ',' or '}'", 19) == 0 ||
	    strncmp(m, "Expected ',' or ']'", 19) == 0) && prev == '"') {
		*cause = diag_fmt("A double quote inside a string value ended "
		    "the string early%s: a template value that contains \" was "
		    "inserted between quotes unescaped (failure messages quote "
		    "object names: error when patching \"/dev/shm/...\").",
		    inkey);
	} else if (c == '<' && pos + DIAG_NOVALUE_LEN <= len &&
	    memcmp(b + pos, DIAG_NOVALUE, DIAG_NOVALUE_LEN) == 0) {
		*cause = diag_fmt("An unquoted <no value>%s: a template field "
		    "that does not exist, written without quotes or toJson.",
		    inkey);
		*fix = "Pipe the value through toJson, which renders a missing "
		    "field as null, or give it a default: "
		    "{{ .x | default \"\" | toJson }}.";
	} else if (c == 'm' && pos + 4 <= len && memcmp(b + pos, "map[", 4) ==
	    0) {
		*cause = diag_fmt("Go's map syntax where JSON belongs%s: a "
		    "template printed a whole object, e.g. "
		    "{{.app.status.health}} gives map[status:Healthy].", inkey);
		*fix = "Refer to the leaf (.app.status.health.status) or pipe "
		    "the object through toJson.";
	} else if ((c == '}' || c == ',' || c == ']') && prev == ':') {
		*cause = diag_fmt("A value is missing%s: sprig's quote renders "
		    "nothing at all for a missing field, so "
		    "{\"title\":{{ quote .x }}} becomes {\"title\":}.", inkey);
		*fix = "Use toJson, which renders a missing field as null, or "
		    "add a default before quoting: {{ .x | default \"\" | "
		    "quote }}.";
	} else if (eos || strncmp(m, "Unexpected end", 14) == 0) {
		*cause = xstrdup("The body ends before the JSON does: the "
		    "template is cut short (an {{ if }} branch that drops the "
		    "end, or a body: block cut by YAML indentation).");
		*fix = "Check the template's body: for a closing } or ] on "
		    "every path, and indent the whole block scalar.";
	} else if (strncmp(m, "Unexpected non-whitespace", 25) == 0) {
		*cause = xstrdup("Text after a complete JSON value: two "
		    "objects in one body, or a stray character after the last "
		    "}.");
		*fix = "Make the body: one JSON object.";
	} else {
		*cause = diag_fmt("The template rendered something that is not "
		    "JSON here%s.", inkey);
	}
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
	char			*cause, *snip, *cn, *answer;
	const char		*fix;

	if (x->jerr == NULL)
		return;
	/* A GET of catalog text is explained by get-with-body. */
	if (x->kind == BODY_TEXT && diag_has(x->res, "get-with-body"))
		return;
	pos = eos ? in->body_len : (size_t)x->jpos;
	diag_linecol(in->body, in->body_len, pos, &line, &col);
	diag_json_cause(x, pos, eos, &cause, &fix);
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
		answer = diag_fmt("Backstage would answer 400 \"%s\".",
		    x->jerr);
	else if (in->response != NULL && diag_memmem((const unsigned char *)
	    in->response, in->response_len, "InputError", 10) != NULL &&
	    in->json_error != NULL)
		answer = diag_fmt("Backstage answers 400 \"%s\".", x->jerr);
	else
		answer = diag_fmt("Once the problems above are fixed, "
		    "Backstage "
		    "will answer 400 \"%s\".", x->jerr);
	diag_add(x->res, "invalid-json", DIAG_ERROR,
	    diag_fmt("The body is not valid JSON.  %s  %s", cause, answer),
	    cn, xstrdup(fix));
	free(cause);
	free(snip);
	free(answer);
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
		for (c = json_first(v); c != NULL; c = json_next(c)) {
			k = json_key(c);
			add = (size_t)snprintf(path + used, plen - used, "%s%s",
			    used ? "." : "", k);
			if (used + add >= plen)
				add = plen - used - 1;
			diag_nv_walk(c, path, plen, used + add, out, n,
			    depth + 1);
			path[used] = '\0';
		}
		return;
	case JSON_ARRAY:
		for (c = json_first(v), i = 0; c != NULL; c = json_next(c),
		    i++) {
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

/* Cause, fix and level of a <no value> in a field. */
static void
diag_nv_cause(const char *field, const char *value, const char **cause,
    const char **fix, enum diag_level *level)
{
	char	leaf[64];

	diag_leaf(field, leaf, sizeof leaf);
	*level = DIAG_WARNING;
	if (strcasecmp(leaf, "entityRef") == 0 ||
	    strcasecmp(leaf, "excludeEntityRef") == 0) {
		*level = DIAG_ERROR;
		*cause = "The Application has no backstage.io/entity-ref "
		    "annotation, so {{index .app.metadata.annotations "
		    "\"backstage.io/entity-ref\"}} rendered <no value>.  "
		    "Backstage answers 400 \"Entity reference \\\"<no "
		    "value>\\\" "
		    "had missing or empty kind\" when the whole ref is "
		    "missing, "
		    "and silently reaches nobody when part of it is.";
		*fix = "Add the annotation to the Application:\n"
		    "  metadata:\n"
		    "    annotations:\n"
		    "      backstage.io/entity-ref: component:default/<name>\n"
		    "or fall back in the template: {{ index "
		    ".app.metadata.annotations \"backstage.io/entity-ref\" | "
		    "default \"group:default/platform\" | toJson }}.";
	} else if (strcasecmp(leaf, "link") == 0 && value != NULL &&
	    strncmp(value, DIAG_NOVALUE, DIAG_NOVALUE_LEN) == 0) {
		*cause = "context.argocdUrl is not set, so "
		    "{{.context.argocdUrl}} rendered <no value>.  Backstage "
		    "accepts the link and resolves it under app.baseUrl, so it "
		    "leads nowhere.";
		*fix = "Set argocdUrl in argocd-notifications-cm:\n"
		    "  context: |\n"
		    "    argocdUrl: https://argocd.example.com\n"
		    "(with the argo-cd Helm chart: notifications.argocdUrl, "
		    "or global.domain).";
	} else if (diag_icontains(leaf, "revision") ||
	    diag_icontains(leaf, "commit") ||
	    (value != NULL && (diag_icontains(value, "revision") ||
	    diag_icontains(value, "commit")))) {
		*cause = "A multi-source Application has "
		    ".app.status.sync.revisions (a list) and no .revision, so "
		    "{{.app.status.sync.revision}} (or "
		    "operationState.syncResult.revision) rendered <no value>.";
		*fix = "Use the list for multi-source apps: {{ "
		    ".app.status.sync.revisions | toJson }}, or {{ index "
		    ".app.status.sync.revisions 0 }}; or wrap it: {{ "
		    ".app.status.sync.revision | default \"\" }}.";
	} else if (strcmp(field, "path") == 0) {
		*level = DIAG_ERROR;
		*cause = "The template's path: refers to a field that does not "
		    "exist; Go then percent-encodes <no value> into the URL "
		    "and "
		    "Backstage answers an empty 404.";
		*fix = "Fix the field in the template's webhook.backstage.path "
		    "(it should be /notifications), or give it a default.";
	} else {
		*cause = "The template refers to a field that the Application "
		    "does not have (a typo, a missing annotation or label, or "
		    ".app.status.operationState before the first sync), and Go "
		    "templates render a missing field as <no value>.";
		*fix = "Check the field's path against the Application "
		    "(kubectl get application <name> -o yaml), or give it a "
		    "default: {{ .x | default \"n/a\" }}.";
	}
}

/* One no-value diagnosis: field, and where in the body. */
static void
diag_nv_add(struct diag_ctx *x, const char *field, size_t pos,
    const char *value, const char *cause, const char *fix,
    enum diag_level level)
{
	const struct diag_input	*in = x->in;
	size_t			 line, col;
	char			*snip, *v;

	diag_linecol(in->body, in->body_len, pos, &line, &col);
	snip = diag_snippet(in->body, in->body_len, pos, 30, 30);
	if (value != NULL) {
		v = diag_escape((const unsigned char *)value,
		    strlen(value) < 120 ? strlen(value) : 120);
		diag_add(x->res, "no-value", level, diag_fmt("<no value> in "
		    "%s.  %s", field, cause), diag_fmt("%s = \"%s\" (line %zu, "
		    "column %zu): %s", field, v, line, col, snip),
		    xstrdup(fix));
		free(v);
	} else
		diag_add(x->res, "no-value", level, diag_fmt("<no value> in "
		    "%s.  %s", field, cause), diag_fmt("%s (line %zu, column "
		    "%zu): %s", field, line, col, snip), xstrdup(fix));
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
	const char		*cause, *fix, *field, *value;
	size_t			 plen;
	enum diag_level		 level;

	/* In the URL first: Go percent-encodes it there. */
	if (in->path != NULL && strstr(in->path, DIAG_NOVALUE) != NULL) {
		diag_nv_cause("path", NULL, &cause, &fix, &level);
		/* The path as sent, without the query (it may hold a secret). */
		plen = strcspn(in->uri, "?");
		val = diag_escape((const unsigned char *)in->uri,
		    plen < 200 ? plen : 200);
		diag_add(x->res, "no-value", level, diag_fmt("<no value> in "
		    "the request path.  %s", cause), diag_fmt("path %s", val),
		    xstrdup(fix));
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
			diag_nv_cause(nv[i].path, nv[i].value, &cause, &fix,
			    &level);
			diag_nv_add(x, nv[i].path, at < npos ? pos[at] : len,
			    nv[i].value, cause, fix, level);
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
		diag_nv_cause(field, val, &cause, &fix, &level);
		diag_nv_add(x, field, pos[i], val, cause, fix, level);
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
	char			*where;
	char			 match[128];
	int			 known;

	if ((p = diag_find_bytelist(b, len, &span, &count, dec, sizeof dec)) ==
	    NULL)
		return;
	/* Show none of the numbers: the list IS the secret. */
	snprintf(head, sizeof head, "[%zu numbers, each 0-255]", count);
	known = diag_fp_known(in, dec, count < sizeof dec ? count : sizeof dec,
	    fp);
	if (known)
		snprintf(match, sizeof match, ", which is the configured token "
		    "%s", fp);
	else
		snprintf(match, sizeof match, " (fingerprint %s)", fp);
	if (where_default == NULL) {
		diag_raw_key(b, (size_t)(p - b), key, sizeof key);
		diag_linecol(b, len, (size_t)(p - b), &line, &col);
		where = diag_fmt("%s (line %zu, column %zu)", key[0] != '\0' ?
		    key : "the body", line, col);
	} else
		where = xstrdup(where_default);
	diag_add(x->res, "go-byte-list", DIAG_ERROR,
	    diag_fmt("A Go byte list where text belongs: .secrets values are "
	    "byte slices, so {{ .secrets.x }} renders the secret as a list of "
	    "numbers.  This one decodes to %zu bytes%s.", count, match),
	    diag_fmt("%s: %s", where, head),
	    xstrdup("Convert the secret to text in the template: "
	    "{{ .secrets.x | toString }} or {{ printf \"%s\" .secrets.x }} "
	    "(toJson would give base64)."));
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
	diag_add(x->res, "go-map", DIAG_WARNING,
	    xstrdup("Go's map syntax in the body: the template printed a whole "
	    "object, e.g. {{.app.status.health}} renders "
	    "map[status:Healthy], not JSON."),
	    diag_fmt("%s (line %zu, column %zu): %s", key[0] ? key : "the body",
	    line, col, snip),
	    xstrdup("Refer to the leaf ({{.app.status.health.status}}) or pipe "
	    "the object through toJson."));
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
	if (strstr(msg, "missing or empty kind") != NULL)
		diag_add(x->res, "entity-ref-kind", DIAG_ERROR,
		    diag_fmt("The entity ref \"%s\" has no kind: Backstage "
		    "answers 400 \"Failed to send user notifications; caused "
		    "by %s: %s\".", t, errname, msg),
		    diag_fmt("recipients.entityRef = \"%s\"", t),
		    xstrdup("Use a full ref, kind:namespace/name, e.g. "
		    "component:default/my-app or user:default/guest; check the "
		    "backstage.io/entity-ref annotation."));
	else
		diag_add(x->res, "entity-ref-invalid", DIAG_ERROR,
		    diag_fmt("The entity ref \"%s\" does not parse: Backstage "
		    "answers 400 \"Failed to send user notifications; caused "
		    "by %s: %s\".", t, errname, msg),
		    diag_fmt("recipients.entityRef = \"%s\"", t),
		    xstrdup("Use kind:namespace/name, e.g. "
		    "component:default/my-app."));
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
		diag_add(x->res, "legacy-body", DIAG_ERROR,
		    xstrdup("The body has the pre-upstream notifications "
		    "format "
		    "(title, message, targetUsers...) of the old Janus/RHDH "
		    "plugin, a different API.  Backstage answers 400 "
		    "\"request/body must have required property "
		    "'recipients'\"."),
		    xstrdup("top-level title/message/targetUsers/targetGroups/"
		    "actions and no recipients"),
		    xstrdup("Send {\"recipients\":{\"type\":\"entity\","
		    "\"entityRef\":\"component:default/<name>\"},\"payload\":"
		    "{\"title\":\"...\",\"description\":\"...\"}}."));
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
		diag_add(x->res, "recipients-type", DIAG_ERROR,
		    diag_fmt("recipients.type is \"%s\": Backstage knows only "
		    "\"entity\" and \"broadcast\"%s, and answers 400 with its "
		    "oneOf message.", t, strcasecmp(type, "entity") == 0 ||
		    strcasecmp(type, "broadcast") == 0 ? " (in lower case)" :
		    ""), diag_fmt("recipients.type = \"%s\"", t),
		    xstrdup("Use \"type\":\"entity\" with an entityRef "
		    "(user:default/alice, group:default/team-a or "
		    "component:default/my-app), or \"type\":\"broadcast\"."));
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
			diag_add(x->res, "severity-case", DIAG_ERROR,
			    diag_fmt("payload.severity is \"%s\": severities "
			    "are lower case, and Backstage answers 400 "
			    "\"request/body/payload/severity must be equal to "
			    "one of the allowed values: critical, high, "
			    "normal, low\".", t),
			    diag_fmt("payload.severity = \"%s\"", t),
			    diag_fmt("Write \"severity\":\"%s\" (or pipe the "
			    "value through lower).", low));
		else
			diag_add(x->res, "severity-unknown", DIAG_ERROR,
			    diag_fmt("payload.severity is \"%s\", which "
			    "Backstage does not know: it answers 400 "
			    "\"request/body/payload/severity must be equal to "
			    "one of the allowed values: critical, high, "
			    "normal, low\".", t),
			    diag_fmt("payload.severity = \"%s\"", t),
			    diag_fmt("Use one of critical, high, normal, low "
			    "(probably \"%s\"), or leave severity out for "
			    "normal.", diag_severity_guess(sev)));
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
				diag_add(x->res, "link-not-http", DIAG_ERROR,
				    diag_fmt("payload.link is not an http(s) "
				    "link: Backstage answers 400 \"Invalid "
				    "link provided; caused by Error: Only "
				    "HTTP/HTTPS links are allowed\"."),
				    diag_fmt("payload.link = \"%s\"", t),
				    xstrdup("Use an absolute http(s) URL, e.g. "
				    "{{.context.argocdUrl}}/applications/"
				    "{{.app.metadata.name}} with argocdUrl "
				    "starting https://, or a path such as "
				    "/catalog/default/component/<name>."));
			else
				diag_add(x->res, "link-invalid", DIAG_ERROR,
				    diag_fmt("payload.link does not parse as a "
				    "URL: Backstage answers 400 \"Invalid link "
				    "provided; caused by TypeError: Invalid "
				    "URL\"."),
				    diag_fmt("payload.link = \"%s\"", t),
				    xstrdup("Fix the link so that it is an "
				    "absolute http(s) URL or a path."));
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
	const char		*title, *said;
	char			 msg[1024];

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
		said = "Backstage would answer";
	else if (in->response != NULL && diag_memmem((const unsigned char *)
	    in->response, in->response_len, msg, strlen(msg)) != NULL)
		said = "Backstage's validator refuses the body: it answered";
	else
		said = "Once the problems above are fixed, Backstage will "
		    "answer";
	diag_add(x->res, "schema", DIAG_ERROR,
	    diag_fmt("%s 400 \"%s\".", said, msg),
	    xstrdup(msg),
	    xstrdup("Shape the body as {\"recipients\":{\"type\":\"entity\","
	    "\"entityRef\":\"...\"} or {\"type\":\"broadcast\"},"
	    "\"payload\":{\"title\":\"...\"}}; see the Backstage contract "
	    "(NotificationSendOptions)."));
}
