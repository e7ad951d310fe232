/* fuzz_json: json_parse (lenient and strict), printing what parsed. */
#include "fuzz.h"
#include "json.h"

FUZZ_QUIET()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct json	*v;
	char		 err[JSON_ERRLEN], *s;
	long		 pos;
	int		 strict;

	for (strict = 0; strict < 2; strict++) {
		v = json_parse((const char *)data, len, strict, err,
		    sizeof err, &pos);
		if (v == NULL)
			continue;
		s = json_print(v, NULL);
		free(s);
		json_free(v);
	}
	return (0);
}
