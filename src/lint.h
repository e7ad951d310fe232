/*
 * lint.h: `notimock lint`: diagnose request bodies offline, for the CI of
 * Argo CD configuration repositories (render the templates, lint the
 * result).
 */
#ifndef NOTIMOCK_LINT_H
#define NOTIMOCK_LINT_H

/* The command: argv[0] is "lint".  Returns the exit status: 0 when no body
 * has an error-level diagnosis, 1 otherwise, 2 on a usage or read error. */
int	lint_main(int argc, char **argv);

struct json;

/* Print o as one --json output line and free it; the one writer for the
 * lint family (lint_argocd.c's render lines too). */
void	lint_json_line(struct json *o);

#endif
