/*
 * lint_argocd.h: `notimock lint` on the Argo CD objects themselves
 * (argocd-notifications-cm, argocd-notifications-secret, the OpenShift
 * GitOps NotificationsConfiguration, argocd-tls-certs-cm, Applications), as
 * `kubectl get -o yaml` prints them.  Every cause of the guide's
 * troubleshooting section is visible there before Argo CD sends anything;
 * the findings have the server's {code, level, message, evidence, fix}
 * form (diag.h), plus the file and line they point at.
 */
#ifndef NOTIMOCK_LINT_ARGOCD_H
#define NOTIMOCK_LINT_ARGOCD_H

#include <stddef.h>

#include "diag.h"

struct lint_argocd;

struct lint_argocd_opts {
	const char	*base_url;	/* app.baseUrl with a '/', for links */
	/* The notimock that Argo CD will send to (--url / NOTIMOCK_URL),
	 * or NULL: tokens and certificates are then checked against it. */
	const char	*url;
	const char	*cacert;	/* to reach url over https */
	const char	*admin_token;	/* its /mock/ token, if it has one */
	/* --render: print each body as Argo CD would send it, one JSON
	 * object a line ({"template","service","application","body"}). */
	int		 render;
};

struct lint_finding {
	const char	*file;		/* as given on the command line */
	size_t		 line;		/* 1-based; 0: the file as a whole */
	const char	*code;		/* static */
	enum diag_level	 level;
	char		*message;
	char		*evidence;
	char		*fix;
};

struct lint_argocd	*lint_argocd_new(const struct lint_argocd_opts *);
void			 lint_argocd_free(struct lint_argocd *);
/*
 * Read one input (file names the file in findings; copied).  Returns 1
 * when it holds Kubernetes objects (kept for lint_argocd_run; objects of
 * other kinds are ignored), 0 when it is not Kubernetes YAML at all (a
 * request body: the caller diagnoses it as one), or -1 with *cause when
 * it looks like YAML but does not parse.
 */
int			 lint_argocd_add(struct lint_argocd *, const char *file,
			    const char *buf, size_t len, char **cause);
/*
 * Cross-check everything added.  Returns the number of findings, sorted
 * by file (in the order added) and line; *out is borrowed from the
 * lint_argocd and lives until lint_argocd_free.
 */
size_t			 lint_argocd_run(struct lint_argocd *,
			    const struct lint_finding **out);

#endif
