/* fuzz_schema: Backstage's request schemas on whatever JSON parses. */
#include "fuzz.h"
#include "json.h"
#include "schema.h"

FUZZ_QUIET()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct json	*v;
	char		 err[JSON_ERRLEN], msg[1024];

	if ((v = json_parse((const char *)data, len, 0, err, sizeof err,
	    NULL)) == NULL)
		return (0);
	(void)schema_send_options(v, msg, sizeof msg);
	(void)schema_update(v, msg, sizeof msg);
	(void)schema_settings(v, msg, sizeof msg);
	json_free(v);
	return (0);
}
