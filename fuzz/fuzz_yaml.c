/* fuzz_yaml: YAML documents as app-config, Argo CD objects and catalog
 * files are read (config.c, the only libyaml user). */
#include "config.h"
#include "fuzz.h"

FUZZ_QUIET()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct config	**docs = NULL;
	char		 *cause = NULL, *s = fuzz_str(data, len);
	size_t		  n = 0, i;

	if (config_parse_string("fuzz", s, len, 0, &docs, &n, &cause) == 0) {
		for (i = 0; i < n; i++) {
			(void)config_get(docs[i], "app.baseUrl");
			config_free(docs[i]);
		}
		free(docs);
	}
	free(cause);
	free(s);
	return (0);
}
