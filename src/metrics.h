/*
 * metrics.h: GET /metrics in the Prometheus text format (README.md,
 * "Metrics and logs").
 *
 * Counters are fed through two small hooks, one where a reply leaves
 * (http.c) and one where a delivery is stored (api.c); gauges are read
 * from their owners when scraped.  Every label has a bounded set of values:
 * routes are the route table's paths, statuses are HTTP codes, origins are
 * the subjects of configured service tokens or "unknown", diagnosis codes
 * are diag.c's fixed codes.  No entity ref, id or user ever becomes one.
 */
#ifndef NOTIMOCK_METRICS_H
#define NOTIMOCK_METRICS_H

#include <stdint.h>

struct req;

/* Note the start time (process_start_time_seconds). */
void	metrics_init(void);
/* A reply left (or the client left first): route is the route table's
 * path (static), status what was answered (0 or 499 when nothing was). */
void	metrics_request(const char *route, int status, int64_t duration_us);
/* A delivery was stored: its status, the subject of the service token
 * that sent it (NULL or a user: "unknown"), its diagnosis codes as the
 * log has them ("retry,no-recipients"; NULL: none). */
void	metrics_delivery(int status, const char *service_origin,
	    const char *codes);
/* The /metrics route handler (behind the admin token when one is set). */
void	metrics_route(struct req *, void *);

#endif
