/*
 * api.h: Backstage's notifications plugin, mounted at /api/notifications:
 * the credential barrier, body parser, OpenAPI validation and handlers, in
 * Backstage's order.  Every request that reaches it is stored as a delivery.
 */
#ifndef NOTIMOCK_API_H
#define NOTIMOCK_API_H

struct req;

void	api_notifications(struct req *, void *);

#endif
