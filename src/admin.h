/*
 * admin.h: the admin token (--admin-token) that guards /mock/, /metrics and
 * /mock/faults.  Its own small file below mock.c, fault.c and metrics.c, so
 * that none of them reaches up into another for the check (issue 14: no
 * circle between files).
 */
#ifndef NOTIMOCK_ADMIN_H
#define NOTIMOCK_ADMIN_H

#include <stddef.h>

struct http_param;
struct req;

/* Check the admin token, if one is set: the bearer header, else an
 * access_token among v[0..n).  Sends the 401 and returns 0 if the
 * request may not pass; 1 if it may. */
int	admin_authorized(struct req *, const struct http_param *v, size_t n);
/* The same with the request's own query string as v. */
int	admin_authorize(struct req *);

#endif
