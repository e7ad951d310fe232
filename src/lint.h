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

#endif
