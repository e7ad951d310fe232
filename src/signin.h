/*
 * signin.h: the part of Backstage's auth plugin (/api/auth) that a
 * Backstage frontend needs to sign in as the guest, and that tests use to
 * get a user token: GET|POST /api/auth/guest/refresh, the provider
 * routes' errors, and /api/auth/.well-known/{jwks.json,openid-configuration}.
 */
#ifndef NOTIMOCK_SIGNIN_H
#define NOTIMOCK_SIGNIN_H

struct req;

/* The route handler for /api/auth and everything below it. */
void	signin_route(struct req *, void *);

#endif
