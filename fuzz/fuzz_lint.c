/* fuzz_lint: `notimock lint` on arbitrary Kubernetes YAML (lint_argocd.c):
 * objects recognised, YAML inside their values parsed again, templates
 * rendered and diagnosed.  No --url: nothing leaves the process. */
#include "fuzz.h"
#include "lint_argocd.h"

FUZZ_QUIET()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct lint_argocd_opts		 o;
	struct lint_argocd		*la;
	const struct lint_finding	*f;
	char				*cause = NULL, *s;

	memset(&o, 0, sizeof o);
	o.base_url = "http://localhost:3000/";
	s = fuzz_str(data, len);
	la = lint_argocd_new(&o);
	if (lint_argocd_add(la, "fuzz.yaml", s, strlen(s), &cause) == 1)
		(void)lint_argocd_run(la, &f);
	free(cause);
	lint_argocd_free(la);
	free(s);
	return (0);
}
