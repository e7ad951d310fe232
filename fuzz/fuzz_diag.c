/* fuzz_diag: the diagnosis engine on an arbitrary body, as `notimock lint`
 * runs it (offline) and as a refused POST gets it (online, parsed); the
 * stored form of its diagnoses must tell back the same bytes. */
#include "diag.h"
#include "fuzz.h"
#include "json.h"

FUZZ_QUIET()

/* What a delivery row keeps (codes, arguments, evidence) must tell back
 * the very bytes users saw (diag_expand), whatever the body held. */
static void
fuzz_diag_stored(const struct diag_result *res, const char *full)
{
	char	*compact, *told;

	if (full == NULL)
		return;
	compact = diag_json_compact(res, NULL);
	told = diag_expand(compact, strlen(compact), NULL);
	if (strcmp(told, full) != 0)
		abort();
	free(compact);
	free(told);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct diag_input	 in;
	struct diag_result	 res;
	struct json		*v;
	char			 err[JSON_ERRLEN], *s;
	long			 pos = -1;

	memset(&in, 0, sizeof in);
	in.offline = 1;
	in.method = "POST";
	in.body = data;
	in.body_len = len;
	in.json_errpos = -1;
	in.base_url = "http://localhost:3000/";
	diag_run(NULL, &in, &res);
	s = diag_json(&res, NULL);
	fuzz_diag_stored(&res, s);
	free(s);
	diag_clear(&res);

	v = json_parse((const char *)data, len, 0, err, sizeof err, &pos);
	memset(&in, 0, sizeof in);
	in.method = "POST";
	in.uri = in.path = "/api/notifications/notifications";
	in.content_type = "application/json";
	in.user_agent = "argocd-notifications-controller/v1.0";
	in.body = data;
	in.body_len = len;
	in.json = v;
	in.json_error = v == NULL ? err : NULL;
	in.json_errpos = v == NULL ? pos : -1;
	in.status = v == NULL ? 400 : 200;
	in.response = "{}";
	in.response_len = 2;
	in.remote = "127.0.0.1:1";
	in.base_url = "http://localhost:3000/";
	diag_run(NULL, &in, &res);
	s = diag_codes(&res);
	free(s);
	s = diag_json(&res, NULL);
	fuzz_diag_stored(&res, s);
	free(s);
	diag_clear(&res);
	json_free(v);
	return (0);
}
