/*
 * mock.h: the assertion API under /mock/ (doc/mock-api.md): list, filter,
 * wait for and reset deliveries, and stream them as Server-Sent Events.
 */
#ifndef NOTIMOCK_MOCK_H
#define NOTIMOCK_MOCK_H

#include <stddef.h>

struct mock;
struct req;
struct server;

/* The route handler for /mock and everything below it. */
void	mock_route(struct req *, void *);
/* Pending waits and open event streams (0 when the API is stopped). */
void	mock_counts(struct server *, size_t *waits, size_t *streams);
/* Set up srv->mock and add its commit hook (server.h; it wakes waiters and
 * streams).
 * Call once the event base and the database are open. */
void	mock_start(struct server *);
/* Detach the API from srv (later /mock/ requests get 503), answer every
 * pending wait (503) and end every stream.  Call before server_stop(); it
 * returns the struct, which mock_free() frees after http_stop(). */
struct mock	*mock_stop(struct server *);
void		 mock_free(struct mock *);

#endif
