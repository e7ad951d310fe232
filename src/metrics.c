/*
 * metrics.c: the counters behind GET /metrics, and its text (metrics.h).
 *
 * One process serves one loop, so the counters are plain file-static
 * tables with no locking.  Their label sets are bounded by construction
 * (metrics.h); the tables are bounded too, and a value past a table's end
 * is counted under "other" rather than dropped, so that sums stay true.
 *
 * Format: https://prometheus.io/docs/instrumenting/exposition_formats/
 * (text format 0.0.4); `promtool check metrics` passes on it (tested).
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "admin.h"
#include "db.h"
#include "fault.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "mock.h"
#include "server.h"
#include "settings.h"
#include "tls.h"
#include "util.h"
#include "xmalloc.h"

#define METRICS_CTYPE	"text/plain; version=0.0.4; charset=utf-8"
#define METRICS_ROUTES		32
#define METRICS_DELIVERIES	256
#define METRICS_CODES		128
#define METRICS_LABEL_MAX	128	/* bytes of an origin label */

/* Upper bounds of the request duration buckets, in seconds. */
static const double metrics_bounds[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
#define METRICS_NBOUNDS	(sizeof metrics_bounds / sizeof metrics_bounds[0])

static struct metrics_route {
	const char	*route;		/* static: the route table's path */
	uint64_t	 buckets[METRICS_NBOUNDS];	/* not cumulative */
	uint64_t	 count;
	double		 sum;		/* seconds */
} metrics_routes[METRICS_ROUTES];
static size_t	metrics_nroutes;

static struct metrics_delivery {
	int		 status;
	char		*origin;
	uint64_t	 count;
} metrics_deliveries[METRICS_DELIVERIES];
static size_t	metrics_ndeliveries;

static struct metrics_code {
	char		*code;
	uint64_t	 count;
} metrics_codes[METRICS_CODES];
static size_t	metrics_ncodes;

static int64_t	metrics_start_ms;

static server_reply_fn	metrics_request;

void
metrics_init(struct server *srv)
{
	metrics_start_ms = util_now_ms();
	server_observe_replies(srv, metrics_request, NULL);
}

/* The reply observer (server.h): a reply left (or the client left first):
 * route is the route table's path (static), status what was answered (0
 * or 499 when nothing was). */
static void
metrics_request(const char *route, int status, int64_t duration_us,
    void *arg)
{
	struct metrics_route	*m = NULL;
	double			 s = (double)duration_us / 1e6;
	size_t			 i;

	(void)status;
	(void)arg;
	if (route == NULL)
		route = "other";
	for (i = 0; i < metrics_nroutes; i++)
		if (metrics_routes[i].route == route ||
		    strcmp(metrics_routes[i].route, route) == 0)
			m = &metrics_routes[i];
	if (m == NULL) {
		if (metrics_nroutes == METRICS_ROUTES)
			return;		/* cannot happen: the table is const */
		m = &metrics_routes[metrics_nroutes++];
		m->route = route;
	}
	for (i = 0; i < METRICS_NBOUNDS; i++)
		if (s <= metrics_bounds[i]) {
			m->buckets[i]++;
			break;
		}
	m->count++;
	m->sum += s;
}

void
metrics_delivery(int status, const char *origin, const char *codes)
{
	struct metrics_delivery	*d = NULL;
	const char		*p, *end;
	size_t			 i, len;

	if (origin == NULL || strlen(origin) > METRICS_LABEL_MAX)
		origin = "unknown";
	for (i = 0; i < metrics_ndeliveries && d == NULL; i++)
		if (metrics_deliveries[i].status == status &&
		    strcmp(metrics_deliveries[i].origin, origin) == 0)
			d = &metrics_deliveries[i];
	if (d == NULL && metrics_ndeliveries < METRICS_DELIVERIES) {
		d = &metrics_deliveries[metrics_ndeliveries++];
		d->status = status;
		d->origin = xstrdup(origin);
	}
	if (d == NULL) {
		/* Full: the last slot takes everything else. */
		d = &metrics_deliveries[METRICS_DELIVERIES - 1];
		free(d->origin);
		d->origin = xstrdup("other");
	}
	d->count++;

	for (p = codes; p != NULL && *p != '\0'; p = *end ? end + 1 : end) {
		end = p + strcspn(p, ",");
		len = (size_t)(end - p);
		for (i = 0; i < metrics_ncodes; i++)
			if (strlen(metrics_codes[i].code) == len &&
			    strncmp(metrics_codes[i].code, p, len) == 0)
				break;
		if (i == metrics_ncodes) {
			if (metrics_ncodes == METRICS_CODES)
				continue;	/* diag.c has far fewer */
			metrics_codes[metrics_ncodes++].code = xstrndup(p, len);
		}
		metrics_codes[i].count++;
	}
}

/* --- the text ---------------------------------------------------------- */

/* A label value: backslash, double quote and newline escaped. */
static void
metrics_label(struct evbuffer *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(b, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, s, 1);
	}
}

static void
metrics_head(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

static void
metrics_one(struct evbuffer *b, const char *name, const char *type,
    const char *help, double v)
{
	metrics_head(b, name, type, help);
	evbuffer_add_printf(b, "%s %.17g\n", name, v);
}

/* The database file and its WAL, in bytes (0 for ':memory:'). */
static double
metrics_db_bytes(const char *path)
{
	struct stat	 st;
	char		*wal;
	double		 n = 0;

	if (path == NULL || strcmp(path, ":memory:") == 0)
		return (0);
	if (stat(path, &st) == 0)
		n += (double)st.st_size;
	xasprintf(&wal, "%s-wal", path);
	if (stat(wal, &st) == 0)
		n += (double)st.st_size;
	free(wal);
	return (n);
}

static void
metrics_write(struct evbuffer *b, struct server *srv)
{
	struct http_conn_stats	 cs;
	struct tls_stats	 ts;
	struct db_wal_stats	 ws;
	size_t			 i, j, waits = 0, streams = 0;
	uint64_t		 cum;

	metrics_head(b, "notimock_deliveries_total", "counter", "Requests to "
	    "the notifications plugin stored as deliveries, by the status "
	    "answered (0: none, a fault's drop or reset) and the service "
	    "token's subject (unknown: no service token).");
	for (i = 0; i < metrics_ndeliveries; i++) {
		evbuffer_add_printf(b, "notimock_deliveries_total{status=\"%d\","
		    "origin=\"", metrics_deliveries[i].status);
		metrics_label(b, metrics_deliveries[i].origin);
		evbuffer_add_printf(b, "\"} %llu\n", (unsigned long long)
		    metrics_deliveries[i].count);
	}

	metrics_head(b, "notimock_diagnoses_total", "counter", "Diagnoses "
	    "attached to stored deliveries, by code (README.md, "
	    "\"Troubleshooting Argo CD\").");
	for (i = 0; i < metrics_ncodes; i++) {
		evbuffer_add(b, "notimock_diagnoses_total{code=\"", 31);
		metrics_label(b, metrics_codes[i].code);
		evbuffer_add_printf(b, "\"} %llu\n",
		    (unsigned long long)metrics_codes[i].count);
	}

	metrics_head(b, "notimock_request_duration_seconds", "histogram",
	    "Time from a request's arrival to its reply, by route (the route "
	    "table's path); a held fault delay counts.");
	for (i = 0; i < metrics_nroutes; i++) {
		struct metrics_route *m = &metrics_routes[i];

		cum = 0;
		for (j = 0; j < METRICS_NBOUNDS; j++) {
			cum += m->buckets[j];
			evbuffer_add(b, "notimock_request_duration_seconds_bucket"
			    "{route=\"", 48);
			metrics_label(b, m->route);
			evbuffer_add_printf(b, "\",le=\"%g\"} %llu\n",
			    metrics_bounds[j], (unsigned long long)cum);
		}
		evbuffer_add(b, "notimock_request_duration_seconds_bucket"
		    "{route=\"", 48);
		metrics_label(b, m->route);
		evbuffer_add_printf(b, "\",le=\"+Inf\"} %llu\n",
		    (unsigned long long)m->count);
		evbuffer_add(b, "notimock_request_duration_seconds_sum{route=\"",
		    45);
		metrics_label(b, m->route);
		evbuffer_add_printf(b, "\"} %.9g\n", m->sum);
		evbuffer_add(b, "notimock_request_duration_seconds_count"
		    "{route=\"", 47);
		metrics_label(b, m->route);
		evbuffer_add_printf(b, "\"} %llu\n",
		    (unsigned long long)m->count);
	}

	http_conn_stats(&cs);
	metrics_one(b, "notimock_connections_open", "gauge", "HTTP and HTTPS "
	    "connections open now.", cs.open);
	metrics_one(b, "notimock_connections_accepted_total", "counter",
	    "Connections accepted and served.", (double)cs.accepted);
	metrics_head(b, "notimock_connections_refused_total", "counter",
	    "Connections closed as they were accepted, by reason.");
	evbuffer_add_printf(b, "notimock_connections_refused_total{reason="
	    "\"max_connections\"} %llu\n", cs.refused);
	evbuffer_add_printf(b, "notimock_connections_refused_total{reason="
	    "\"per_client\"} %llu\n", cs.refused_client);
	metrics_one(b, "notimock_connections_cut_total", "counter",
	    "Connections closed because a request did not arrive within "
	    "--head-timeout.", (double)cs.cut);

	tls_stats(&ts);
	metrics_head(b, "notimock_tls_handshakes_total", "counter",
	    "TLS handshakes on the HTTPS listener, by outcome.");
	evbuffer_add_printf(b, "notimock_tls_handshakes_total{outcome=\"ok\"} "
	    "%llu\n", ts.handshakes);
	evbuffer_add_printf(b, "notimock_tls_handshakes_total{outcome="
	    "\"failed\"} %llu\n", ts.failed);
	metrics_one(b, "notimock_tls_plain_http_total", "counter", "Plain HTTP "
	    "requests sent to the HTTPS listener (answered 400).",
	    (double)ts.plain_http);

	mock_counts(srv, &waits, &streams);
	metrics_one(b, "notimock_waiters", "gauge", "Pending /mock/wait "
	    "requests (notimock wait).", (double)waits);
	metrics_one(b, "notimock_event_streams", "gauge", "Open /mock/events "
	    "streams (the inbox, notimock's clients).", (double)streams);

	metrics_one(b, "notimock_faults_fired_total", "counter", "Requests "
	    "answered by a fault rule (README.md, \"Testing failures\").",
	    (double)fault_fired_total(srv->faults));
	metrics_one(b, "notimock_fault_rules", "gauge", "Fault rules that can "
	    "still fire.", (double)fault_active_count(srv->faults));

	metrics_one(b, "notimock_delivery_cursor", "gauge", "Sequence number "
	    "of the last stored delivery.", (double)db_cursor(srv->db));
	metrics_one(b, "notimock_database_size_bytes", "gauge", "Size of the "
	    "database file and its write-ahead log.",
	    metrics_db_bytes(srv->settings->db));

	db_wal_stats(srv->db, &ws);
	metrics_one(b, "notimock_wal_parks_total", "counter", "Times the WAL "
	    "reached its bound and writes waited for the checkpointer to "
	    "copy it (README.md, \"Storage\").", (double)ws.parks);
	metrics_one(b, "notimock_wal_park_fallbacks_total", "counter", "Of "
	    "those, the waits given up (a reader holding an old snapshot, "
	    "the parked requests' bound).", (double)ws.park_fallbacks);
	metrics_one(b, "notimock_wal_park_longest_seconds", "gauge", "The "
	    "longest wait so far.", (double)ws.park_us_max / 1e6);
	metrics_one(b, "notimock_wal_parked_requests", "gauge", "Requests "
	    "waiting now for the WAL to be copied.", (double)srv->nparked);
	metrics_one(b, "notimock_wal_parked_requests_total", "counter",
	    "Requests that waited for the WAL to be copied.",
	    (double)srv->parked_total);
	metrics_one(b, "notimock_wal_loop_copies_total", "counter", "Times "
	    "the event loop copied the WAL back itself (a stall).",
	    (double)ws.loop_copies);
	metrics_one(b, "notimock_wal_loop_copy_longest_seconds", "gauge",
	    "The longest of those copies.", (double)ws.loop_copy_us_max / 1e6);

	metrics_head(b, "notimock_build_info", "gauge", "Always 1; the "
	    "version is a label.");
	evbuffer_add_printf(b, "notimock_build_info{version=\"%s\"} 1\n",
	    PACKAGE_VERSION);
	metrics_one(b, "process_start_time_seconds", "gauge", "Start time of "
	    "the process since the Unix epoch, in seconds.",
	    (double)metrics_start_ms / 1000.0);
}

void
metrics_route(struct req *r, void *arg)
{
	struct evbuffer	*b;
	size_t		 len;
	char		*text;

	if (!admin_authorize(r))
		return;
	if (r->verb != HTTP_GET && r->verb != HTTP_HEAD) {
		http_add_header(r, "Allow", "GET, HEAD");
		http_error(r, 405, "MethodNotAllowedError",
		    "allowed here: GET, HEAD");
		return;
	}
	if ((b = evbuffer_new()) == NULL)
		fatalx("evbuffer_new failed");
	metrics_write(b, r->srv);
	text = util_evbuffer_str(b, &len);
	evbuffer_free(b);
	http_send(r, 200, METRICS_CTYPE, text, len);
	free(text);
}
