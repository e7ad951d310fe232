/*
 * lint_remote.h: the checks of `notimock lint --url URL` that ask the
 * notimock Argo CD will send to: would it accept this token, and does this
 * argocd-tls-certs-cm entry verify its certificate?  Tokens travel only to
 * that notimock, as Argo CD's would, and are compared there by keyed
 * fingerprint; no token is ever printed.
 */
#ifndef NOTIMOCK_LINT_REMOTE_H
#define NOTIMOCK_LINT_REMOTE_H

#include <stddef.h>

struct lint_argocd_opts;

/* Returns 1 with a finding (message, evidence, fix: caller frees) when the
 * notimock at opts->url would refuse token (len bytes) with 401, 0 when it
 * accepts it or cannot be asked (a warning on stderr then). */
int	lint_remote_token(const struct lint_argocd_opts *, const char *token,
	    size_t len, const char *service, char **message, char **evidence,
	    char **fix);
/* Returns 1 with a finding when pem (argocd-tls-certs-cm's entry for host)
 * does not verify the certificate the notimock at opts->url presents for
 * host, 0 when it does or cannot be checked. */
int	lint_remote_tls(const struct lint_argocd_opts *, const char *pem,
	    const char *host, const char *service, char **message,
	    char **evidence, char **fix);

#endif
