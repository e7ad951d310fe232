/*
 * retain.h: retention.  The store keeps at most --retain-count deliveries
 * and none older than --retain-age; a timer on the event loop prunes the
 * oldest in slices (db_prune), so no prune holds the loop for long.
 */
#ifndef NOTIMOCK_RETAIN_H
#define NOTIMOCK_RETAIN_H

struct server;
struct json;

/* Start pruning srv->db as srv->settings say; sets srv->retain. */
void	retain_start(struct server *);
void	retain_stop(struct server *);
/* The retention state for /mock/cursor. */
void	retain_json(const struct server *, struct json *o);

#endif
