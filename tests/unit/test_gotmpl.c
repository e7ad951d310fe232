/*
 * test_gotmpl.c: the Go text/template + sprig subset that `notimock lint`
 * renders Argo CD templates with.  Expected outputs are Go's, as
 * ../shared/spec/argocd-webhook.md section 7 records them ([wire]), and as
 * the e2e sender (tests/e2e/diag_helpers.py) reproduces them.
 */
#include "unit.h"

#include "gotmpl.h"
#include "json.h"

/* The data every case renders against: a failed Application (spec 8). */
static const char DATA[] =
    "{\"app\":{\"metadata\":{\"name\":\"guestbook\",\"namespace\":\"argocd\","
    "\"generation\":7,\"annotations\":{\"backstage.io/entity-ref\":"
    "\"user:default/guest\"}},"
    "\"spec\":{\"project\":\"default\"},"
    "\"status\":{\"health\":{\"status\":\"Degraded\"},"
    "\"sync\":{\"status\":\"OutOfSync\",\"revisions\":[\"a1\",\"b2\"]},"
    "\"conditions\":[{\"type\":\"SyncError\",\"message\":\"x <y> & z\"},"
    "{\"type\":\"ComparisonError\",\"message\":\"q\"}],"
    "\"operationState\":{\"phase\":\"Failed\",\"message\":"
    "\"error when patching \\\"/dev/shm/1\\\": invalid\\nline 2\","
    "\"finishedAt\":\"2024-05-01T12:00:07Z\",\"retryCount\":0}},"
    "\"nullState\":null},"
    "\"context\":{\"argocdUrl\":\"https://argocd.example.com\","
    "\"notificationType\":\"backstage\"},"
    "\"secrets\":{\"token\":\"s3cr3t\"},"
    "\"serviceType\":\"backstage\",\"recipient\":\"\"}";

struct render_case {
	const char	*tmpl;
	const char	*want;		/* NULL: an error of kind status */
	enum gotmpl_status status;
	const char	*msg;		/* the error's message */
};

static const struct render_case cases[] = {
	/* Field chains, and what a missing link gives. */
	{ "{{.app.metadata.name}}", "guestbook", GOTMPL_OK, NULL },
	{ "{{ .app.metadata.generation }}", "7", GOTMPL_OK, NULL },
	{ "{{.app.status.nope}}", "<no value>", GOTMPL_OK, NULL },
	{ "{{.a.b.c.d}}", "<no value>", GOTMPL_OK, NULL },
	{ "{{.nosuchvar}}", "<no value>", GOTMPL_OK, NULL },
	{ "{{.app.status.health}}", "map[status:Degraded]", GOTMPL_OK, NULL },
	{ "{{.app.status.sync.revisions}}", "[a1 b2]", GOTMPL_OK, NULL },
	{ "{{.app.nullState.phase}}", NULL, GOTMPL_EXEC,
	    "nil pointer evaluating interface {}.phase" },
	/* index. */
	{ "{{index .app.metadata.annotations \"backstage.io/entity-ref\"}}",
	    "user:default/guest", GOTMPL_OK, NULL },
	{ "{{index .app.metadata.annotations \"backstage.io/x\"}}",
	    "<no value>", GOTMPL_OK, NULL },
	{ "{{index .app.metadata.labels \"x\"}}", NULL, GOTMPL_EXEC,
	    "error calling index: index of untyped nil" },
	{ "{{index .app.status.sync.revisions 1}}", "b2", GOTMPL_OK, NULL },
	/* toJson and friends. */
	{ "{{ .app.status.operationState.message | toJson }}",
	    "\"error when patching \\\"/dev/shm/1\\\": invalid\\nline 2\"",
	    GOTMPL_OK, NULL },
	{ "{{ toJson (index .app.status.conditions 0).message }}",
	    "\"x \\u003cy\\u003e \\u0026 z\"", GOTMPL_OK, NULL },
	{ "{{ toRawJson (index .app.status.conditions 0).message }}",
	    "\"x <y> & z\"", GOTMPL_OK, NULL },
	{ "{{ toJson .missing }}", "null", GOTMPL_OK, NULL },
	{ "{{ .app.status.health | toJson }}", "{\"status\":\"Degraded\"}",
	    GOTMPL_OK, NULL },
	{ "{{ .app.metadata | toJson }}",
	    "{\"annotations\":{\"backstage.io/entity-ref\":"
	    "\"user:default/guest\"},\"generation\":7,\"name\":\"guestbook\","
	    "\"namespace\":\"argocd\"}", GOTMPL_OK, NULL },
	/* quote: Go's %q, and nothing for a missing value. */
	{ "{\"x\":{{quote .missing}}}", "{\"x\":}", GOTMPL_OK, NULL },
	{ "{{ .app.status.operationState.message | quote }}",
	    "\"error when patching \\\"/dev/shm/1\\\": invalid\\nline 2\"",
	    GOTMPL_OK, NULL },
	{ "{{ quote \"a\\x01b\\a\" }}", "\"a\\x01b\\a\"", GOTMPL_OK, NULL },
	/* default, toString, printf, upper/lower. */
	{ "{{ .missing | default \"n/a\" }}", "n/a", GOTMPL_OK, NULL },
	{ "{{ .app.metadata.name | default \"n/a\" }}", "guestbook",
	    GOTMPL_OK, NULL },
	{ "{{ .app.status.operationState.retryCount | default 3 }}", "3",
	    GOTMPL_OK, NULL },
	{ "{{ .secrets.token }}", "[115 51 99 114 51 116]", GOTMPL_OK, NULL },
	{ "{{ .secrets.token | toString }}", "s3cr3t", GOTMPL_OK, NULL },
	{ "{{ printf \"%s\" .secrets.token }}", "s3cr3t", GOTMPL_OK, NULL },
	{ "{{ toJson .secrets.token }}", "\"czNjcjN0\"", GOTMPL_OK, NULL },
	{ "{{ printf \"%s/%d\" .app.metadata.name .app.metadata.generation }}",
	    "guestbook/7", GOTMPL_OK, NULL },
	{ "{{ printf \"%s\" .missing }}", "%!s(<nil>)", GOTMPL_OK, NULL },
	{ "{{ .missing | toString }}", "<nil>", GOTMPL_OK, NULL },
	{ "{{ .app.status.health.status | upper }}", "DEGRADED", GOTMPL_OK,
	    NULL },
	{ "{{ lower .app.status.health.status }}", "degraded", GOTMPL_OK,
	    NULL },
	{ "{{ .missing | upper }}", NULL, GOTMPL_EXEC,
	    "error calling upper: invalid value; expected string" },
	/* if / else if / else, eq with a missing value. */
	{ "{{if eq .serviceType \"slack\"}}:x:{{end}} App", " App", GOTMPL_OK,
	    NULL },
	{ "{{if eq .missing \"x\"}}y{{else}}n{{end}}", "n", GOTMPL_OK, NULL },
	{ "{{if .app.status.operationState}}op{{end}}", "op", GOTMPL_OK,
	    NULL },
	{ "{{if eq .app.status.operationState.phase \"Running\"}}r"
	    "{{else if eq .app.status.operationState.phase \"Failed\"}}f"
	    "{{else}}o{{end}}", "f", GOTMPL_OK, NULL },
	{ "{{ if and .app .missing }}a{{ else }}b{{ end }}", "b", GOTMPL_OK,
	    NULL },
	{ "{{ if not .missing }}yes{{ end }}", "yes", GOTMPL_OK, NULL },
	/* range, with, variables and trimming. */
	{ "{{range $i, $c := .app.status.conditions}}{{$i}}:{{$c.type}};"
	    "{{end}}", "0:SyncError;1:ComparisonError;", GOTMPL_OK, NULL },
	{ "{{range .app.status.conditions}}{{.type}} {{end}}",
	    "SyncError ComparisonError ", GOTMPL_OK, NULL },
	{ "{{range .missing}}x{{else}}none{{end}}", "none", GOTMPL_OK, NULL },
	{ "{{range $k, $v := .app.status.health}}{{$k}}={{$v}}{{end}}",
	    "status=Degraded", GOTMPL_OK, NULL },
	{ "{{with .app.metadata}}{{.name}}{{end}}", "guestbook", GOTMPL_OK,
	    NULL },
	{ "{{ $n := .app.metadata.name }}{{ $n }}-{{ $.serviceType }}",
	    "guestbook-backstage", GOTMPL_OK, NULL },
	{ "a  {{- .app.metadata.name -}}  \n b", "aguestbookb", GOTMPL_OK,
	    NULL },
	{ "x{{/* a comment */}}y", "xy", GOTMPL_OK, NULL },
	{ "{{ len .app.status.conditions }}", "2", GOTMPL_OK, NULL },
	{ "{{ replace \"\\n\" \" \" .app.status.operationState.message }}",
	    "error when patching \"/dev/shm/1\": invalid line 2", GOTMPL_OK,
	    NULL },
	/* What Go refuses, and what we do not render. */
	{ "{{env \"HOME\"}}", NULL, GOTMPL_PARSE,
	    "function \"env\" not defined" },
	{ "{{ if .x }}", NULL, GOTMPL_PARSE, "unexpected EOF" },
	{ "{{ .x }", NULL, GOTMPL_PARSE, "unclosed action" },
	{ "{{ call .repo.RepoURLToHTTPS .app.spec.source.repoURL }}", NULL,
	    GOTMPL_UNSUPPORTED,
	    "function \"call\" is not rendered by notimock lint" },
	{ NULL, NULL, GOTMPL_OK, NULL }
};

static void
test_render(void)
{
	struct json		*data;
	struct gotmpl		*t = NULL;
	struct gotmpl_error	 err;
	struct gotmpl_opts	 opts = { "secrets", NULL, NULL };
	char			 e[JSON_ERRLEN], *out = NULL;
	size_t			 len, i;
	enum gotmpl_status	 st;

	data = json_parse(DATA, sizeof DATA - 1, 0, e, sizeof e, NULL);
	CHECK(data != NULL);
	for (i = 0; cases[i].tmpl != NULL; i++) {
		fprintf(stderr, "# %s\n", cases[i].tmpl);
		st = gotmpl_parse(cases[i].tmpl, strlen(cases[i].tmpl), &t,
		    &err);
		if (st == GOTMPL_OK) {
			st = gotmpl_render(t, data, &opts, &out, &len, &err,
			    NULL);
			gotmpl_free(t);
			t = NULL;
		}
		CHECK_INT(st, cases[i].status);
		if (cases[i].want != NULL) {
			CHECK_STR(out, cases[i].want);
			CHECK_INT(len, strlen(cases[i].want));
		} else
			CHECK_STR(err.msg, cases[i].msg);
		free(out);
		out = NULL;
	}
end:
	free(out);
	gotmpl_free(t);
	json_free(data);
}

/* Poisoning names the action that printed a free-text field raw. */
static void
test_poison(void)
{
	static const char	 tmpl[] =
	    "{\"a\":{{ .app.status.operationState.message | toJson }},\n"
	    " \"b\":\"{{ .app.metadata.name }}\",\n"
	    " \"c\":\"{{ .app.status.operationState.message }}\"}";
	struct json		*data;
	struct gotmpl		*t = NULL;
	struct gotmpl_error	 err;
	struct gotmpl_opts	 opts = { "secrets", "message", "say \"hi\"" };
	char			 e[JSON_ERRLEN], *out = NULL;
	size_t			 len, line;

	data = json_parse(DATA, sizeof DATA - 1, 0, e, sizeof e, NULL);
	CHECK(gotmpl_parse(tmpl, sizeof tmpl - 1, &t, &err) == GOTMPL_OK);
	CHECK(gotmpl_render(t, data, &opts, &out, &len, &err, &line) ==
	    GOTMPL_OK);
	CHECK_STR(out, "{\"a\":\"say \\\"hi\\\"\",\n \"b\":\"guestbook\",\n"
	    " \"c\":\"say \"hi\"\"}");
	CHECK_INT(line, 3);
	CHECK(gotmpl_uses(t, ".app.metadata.name"));
	CHECK(!gotmpl_uses(t, ".context.argocdUrl"));
end:
	free(out);
	gotmpl_free(t);
	json_free(data);
}

/* Errors carry the template line. */
static void
test_error_line(void)
{
	static const char	 tmpl[] = "{\n\"x\": 1,\n\"y\": {{ index "
	    ".app.metadata.labels \"team\" }}\n}";
	struct json		*data;
	struct gotmpl		*t = NULL;
	struct gotmpl_error	 err;
	char			 e[JSON_ERRLEN], *out = NULL;
	size_t			 len;

	data = json_parse(DATA, sizeof DATA - 1, 0, e, sizeof e, NULL);
	CHECK(gotmpl_parse(tmpl, sizeof tmpl - 1, &t, &err) == GOTMPL_OK);
	CHECK(gotmpl_render(t, data, NULL, &out, &len, &err, NULL) ==
	    GOTMPL_EXEC);
	CHECK_INT(err.line, 3);
	CHECK(gotmpl_parse("a\n{{ end }}", 11, &t, &err) == GOTMPL_PARSE);
	CHECK_INT(err.line, 2);
end:
	free(out);
	gotmpl_free(t);
	json_free(data);
}

static const struct unit_test tests[] = {
	{ "renders Go's output for the guide's and catalog's constructs",
	    test_render },
	{ "poisoning finds the raw action", test_poison },
	{ "errors carry the template line", test_error_line },
	{ NULL, NULL }
};

UNIT_MAIN(tests)
