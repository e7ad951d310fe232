/*
 * api.h: Backstage's notifications plugin, mounted at /api/notifications:
 * the credential barrier, body parser, OpenAPI validation and handlers, in
 * Backstage's order.  Every request that reaches it is stored as a delivery.
 */
#ifndef NOTIMOCK_API_H
#define NOTIMOCK_API_H

#include <stdint.h>

struct req;
struct server;

void	api_notifications(struct req *);

/*
 * Signals on Backstage's channel "notifications" (spec section 12), what
 * the backend publishes through plugin-signals-node:
 *   {"action":"new_notification","notification_id":"<id>"} per stored
 *   notification, to its user or, for a broadcast, to everyone;
 *   {"action":"notification_read"|"notification_unread",
 *    "notification_ids":[...]} to the user after POST /update.
 * They are queued while the request's writes are in the open transaction
 * and published when it commits (dropped if it fails); published signals
 * get ids 1, 2, ... and the last API_SIGNAL_KEEP of them are kept.
 */
struct api_signal {
	uint64_t	 id;
	int64_t		 at;		/* epoch ms, when published */
	const char	*user;		/* recipient user ref; NULL: everyone */
	const char	*message;	/* the JSON text above */
};

/* Queue a signal (user NULL: a broadcast); json is copied. */
void		api_signal(struct server *, const char *user, const char *json);
/* Publish (committed) or drop the queued signals; http.c calls this after
 * every commit, before srv->on_commit. */
void		api_signal_commit(struct server *, int committed);
/* Call fn for each kept signal with an id above since, oldest first;
 * returns the last id published (0: none yet).  The signal is borrowed
 * for the duration of the call. */
uint64_t	api_signal_replay(uint64_t since,
		    void (*fn)(const struct api_signal *, void *), void *arg);
/* The id of the last signal published (0: none yet). */
uint64_t	api_signal_last(void);

#endif
