/* fuzz_url: the link checks (link, then base after the first newline). */
#include "fuzz.h"
#include "url.h"

FUZZ_QUIET()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char	*s = fuzz_str(data, len), *base;

	if ((base = strchr(s, '\n')) != NULL)
		*base++ = '\0';
	(void)url_check_absolute(s);
	(void)url_check_link(s, base != NULL ? base :
	    "http://localhost:3000/");
	if (base != NULL)
		(void)url_check_absolute(base);
	free(s);
	return (0);
}
