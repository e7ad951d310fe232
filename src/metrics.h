/*
 * metrics.h: GET /metrics in the Prometheus text format (README.md,
 * "Metrics and logs").
 *
 * Counters are fed through two small hooks, one where a reply leaves
 * (http.c, through server.h's reply observer) and one where a delivery is stored (api.c); gauges are read
 * from their owners when scraped.  Every label has a bounded set of values:
 * routes are the route table's paths, statuses are HTTP codes, origins are
 * the subjects of configured service tokens or "unknown", diagnosis codes
 * are diag.c's fixed codes.  No entity ref, id or user ever becomes one.
 */
#ifndef NOTIMOCK_METRICS_H
#define NOTIMOCK_METRICS_H

#include <stdint.h>

struct req;
struct server;

/* Note the start time (process_start_time_seconds) and observe every
 * reply (server_observe_replies: http.c does not know metrics). */
void	metrics_init(struct server *);
/* A delivery was stored: its status, the subject of the service token
 * that sent it (NULL or a user: "unknown"), its diagnosis codes as the
 * log has them ("retry,no-recipients"; NULL: none). */
void	metrics_delivery(int status, const char *service_origin,
	    const char *codes);
/* The /metrics route handler (behind the admin token when one is set). */
void	metrics_route(struct req *, void *);

#endif
