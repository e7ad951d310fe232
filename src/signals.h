/*
 * signals.h: Backstage's "notifications" signal channel (spec section 12),
 * what the backend publishes through plugin-signals-node:
 *   {"action":"new_notification","notification_id":"<id>"} per stored
 *   notification, to its user or, for a broadcast, to everyone;
 *   {"action":"notification_read"|"notification_unread",
 *    "notification_ids":[...]} to the user after POST /update.
 * They are queued while the request's writes are in the open transaction
 * and published when it commits (dropped if it fails); published signals
 * get ids 1, 2, ... and the last SIGNALS_KEEP (signals.c) of them are kept.
 */
#ifndef NOTIMOCK_SIGNALS_H
#define NOTIMOCK_SIGNALS_H

#include <stdint.h>

struct server;

/* How many published signals are kept for replay. */
#define SIGNALS_KEEP_MAX	1024

struct signals_entry {
	uint64_t	 id;
	int64_t		 at;		/* epoch ms, when published */
	const char	*user;		/* recipient user ref; NULL: everyone */
	const char	*message;	/* the JSON text above */
};

/* Queue a signal (user NULL: a broadcast); json is copied. */
void		signals_queue(struct server *, const char *user,
		    const char *json);
/* Publish the queued signals after every commit (dropped on a rollback),
 * before the replies that waited for it go out: a commit hook. */
void		signals_start(struct server *);
/* Call fn for each kept signal with an id above since, oldest first;
 * returns the last id published (0: none yet).  The signal is borrowed:
 * it stays until a later commit publishes over its slot. */
uint64_t	signals_replay(uint64_t since,
		    void (*fn)(const struct signals_entry *, void *),
		    void *arg);
/* The id of the last signal published (0: none yet). */
uint64_t	signals_last(void);

#endif
