/*
 * lint_remote.c: `notimock lint --url` asks the running notimock
 * (lint_remote.h).
 */
#include <stdlib.h>

#include "lint_argocd.h"
#include "lint_remote.h"

int
lint_remote_token(const struct lint_argocd_opts *opts, const char *token,
    size_t len, const char *service, char **message, char **evidence,
    char **fix)
{
	return (0);
}

int
lint_remote_tls(const struct lint_argocd_opts *opts, const char *pem,
    const char *host, const char *service, char **message, char **evidence,
    char **fix)
{
	return (0);
}
