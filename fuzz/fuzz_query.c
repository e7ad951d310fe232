/* fuzz_query: the query parser (lenient and strict) and Date.parse. */
#include "fuzz.h"
#include "http.h"
#include "util.h"

FUZZ_QUIET()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct http_param	*v;
	char			*s = fuzz_str(data, len);
	size_t			 n, i;
	int64_t			 ms;
	int			 strict;

	for (strict = 0; strict < 2; strict++) {
		if (http_query_parse(s, strict, &v, &n) == -1)
			continue;
		for (i = 0; i < n; i++)
			(void)util_parse_date(v[i].value, &ms);
		http_params_free(v, n);
	}
	(void)util_parse_date(s, &ms);
	free(s);
	return (0);
}
