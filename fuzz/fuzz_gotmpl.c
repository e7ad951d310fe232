/* fuzz_gotmpl: Go templates as `notimock lint` parses and renders them
 * (gotmpl.c), against a small Application with secrets, and poisoned. */
#include "fuzz.h"
#include "gotmpl.h"
#include "json.h"

FUZZ_QUIET()

static const char	data_json[] =
    "{\"app\":{\"metadata\":{\"name\":\"guestbook\",\"annotations\":"
    "{\"backstage.io/entity-ref\":\"user:default/guest\"}},"
    "\"status\":{\"conditions\":[{\"type\":\"SyncError\",\"message\":\"x\"},"
    "{\"message\":null}],\"operationState\":{\"phase\":\"Failed\","
    "\"message\":\"a \\\"b\\\"\\n<c>\",\"retryCount\":3,\"f\":1.5}}},"
    "\"context\":{\"argocdUrl\":\"https://argocd.example.com\"},"
    "\"secrets\":{\"token\":\"s3cr3t\"},\"serviceType\":\"backstage\"}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct gotmpl_opts	 poison = { "secrets", "message", "a \"b\"\n" };
	struct gotmpl_error	 err;
	struct gotmpl		*t = NULL;
	struct json		*dot;
	char			 e[JSON_ERRLEN], *out = NULL, *s;
	size_t			 n, line;

	s = fuzz_str(data, len);
	dot = json_parse(data_json, sizeof data_json - 1, 0, e, sizeof e,
	    NULL);
	if (gotmpl_parse(s, strlen(s), &t, &err) == GOTMPL_OK) {
		if (gotmpl_render(t, dot, NULL, &out, &n, &err, NULL) ==
		    GOTMPL_OK && strlen(out) > n)
			abort();
		free(out);
		out = NULL;
		(void)gotmpl_render(t, dot, &poison, &out, &n, &err, &line);
		free(out);
		(void)gotmpl_uses(t, ".context.argocdUrl");
		gotmpl_free(t);
	}
	json_free(dot);
	free(s);
	return (0);
}
