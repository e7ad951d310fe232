/*
 * dispatch.c: the top-level route table, which module answers each path,
 * and the few answers that belong to no module (health, the CA, the 404s).
 * http.c hands every parsed request to dispatch() (notimock.c wires it in
 * through http_start), so the evhttp adapter names no module.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dispatch.h"
#include "fault.h"
#include "http.h"
#include "metrics.h"
#include "mock.h"
#include "retain.h"
#include "route.h"
#include "server.h"
#include "signals.h"
#include "signin.h"
#include "tls.h"
#include "web.h"
#include "xmalloc.h"

#define nitems(a)	(sizeof (a) / sizeof (a)[0])

static void
dispatch_health(struct req *r, void *arg)
{
	static const char ok[] = "{\"status\":\"ok\"}";

	if (r->verb != HTTP_GET && r->verb != HTTP_HEAD) {
		http_empty(r, 404);
		return;
	}
	r->backstage = 1;
	http_send(r, 200, "application/json; charset=utf-8", ok,
	    sizeof ok - 1);
}

/* The CA clients should trust (the generated one, or the top of the
 * --tls-cert chain): public, so that a cluster can fetch it. */
static void
dispatch_ca_pem(struct req *r, void *arg)
{
	const char	*pem;

	if (r->verb != HTTP_GET && r->verb != HTTP_HEAD) {
		http_add_header(r, "Allow", "GET, HEAD");
		http_error(r, 405, "MethodNotAllowedError",
		    "Only GET and HEAD are allowed here");
		return;
	}
	if (r->srv->tls == NULL) {
		http_error(r, 404, "NotFoundError",
		    "TLS is off (--tls-listen off): there is no CA to trust");
		return;
	}
	pem = tls_server_ca_pem(r->srv->tls);
	http_send(r, 200, "application/x-pem-file", pem, strlen(pem));
}

/* /api/<other plugin>: no plugin barrier runs there, so an empty 404. */
static void
dispatch_unknown_plugin(struct req *r, void *arg)
{
	r->backstage = 1;
	http_empty(r, 404);
}

static void
dispatch_not_found(struct req *r, void *arg)
{
	r->backstage = 1;
	http_empty(r, 404);
}

/* The top-level route table: first match wins, any method (each module
 * routes its own methods).  Paths compare without case, as Express does.
 * A route's pattern is also the request's label in /metrics. */
static const struct route dispatch_routes[] = {
	{ ROUTE_ANY, "/api/notifications", api_notifications, NULL,
	    ROUTE_PREFIX },
	{ ROUTE_ANY, "/.backstage/health/v1/readiness", dispatch_health, NULL,
	    ROUTE_SLASH },
	{ ROUTE_ANY, "/.backstage/health/v1/liveness", dispatch_health, NULL,
	    ROUTE_SLASH },
	/* public: no admin token */
	{ ROUTE_ANY, "/mock/ca.pem", dispatch_ca_pem, NULL, ROUTE_SLASH },
	{ ROUTE_ANY, "/mock/faults", fault_route, NULL, ROUTE_PREFIX },
	/* admin token when set */
	{ ROUTE_ANY, "/metrics", metrics_route, NULL, ROUTE_SLASH },
	{ ROUTE_ANY, "/mock", mock_route, NULL, ROUTE_PREFIX },
	/* guest sign-in */
	{ ROUTE_ANY, "/api/auth", signin_route, NULL, ROUTE_PREFIX },
	{ ROUTE_ANY, "/api", dispatch_unknown_plugin, NULL, ROUTE_PREFIX },
	/* The HTML inbox (web.c): the page and its files, nothing below
	 * them but its modules. */
	{ ROUTE_ANY, "/", web_route, NULL, ROUTE_SLASH },
	{ ROUTE_ANY, "/app.js", web_route, NULL, ROUTE_SLASH },
	{ ROUTE_ANY, "/style.css", web_route, NULL, ROUTE_SLASH },
	{ ROUTE_ANY, "/favicon.svg", web_route, NULL, ROUTE_SLASH },
	/* app.js's modules, web/js/ */
	{ ROUTE_ANY, "/js", web_route, NULL, ROUTE_PREFIX },
	{ ROUTE_ANY, "/", dispatch_not_found, NULL, ROUTE_PREFIX },
};

/*
 * Parking (server_park): every request to the plugin stores its delivery,
 * so while the WAL is at its bound and the checkpointer copies it, such a
 * request waits, whole and unanswered, before its handler runs; it runs
 * once the log can restart, its answer after that commit as always (a 200
 * still means committed).  Everything else is answered meanwhile.  Its
 * time parked counts in its duration, as a client sees it.
 */
struct dispatch_parked {
	struct server_parked	 p;
	struct req		*r;
	const struct route	*rt;
};

static void
dispatch_resume(struct server_parked *p)
{
	struct dispatch_parked	*dp = (struct dispatch_parked *)(void *)p;
	struct req		*r = dp->r;
	const struct route	*rt = dp->rt;

	http_on_close_cancel(r);
	free(dp);
	rt->fn(r, NULL);
}

/* The client reset the connection while parked (a FIN alone may be a
 * half-close, and the request still runs: http_on_abort): r is freed
 * after this. */
static void
dispatch_park_gone(struct req *r, void *arg)
{
	struct dispatch_parked	*dp = arg;

	server_unpark(r->srv, &dp->p);
	free(dp);
}

static int
dispatch_park(struct req *r, const struct route *rt)
{
	struct dispatch_parked	*dp;
	size_t			 len;

	/* Almost always no park: ask before the record is made. */
	if (!server_parking(r->srv))
		return (0);
	dp = xcalloc(1, sizeof *dp);
	dp->p.resume = dispatch_resume;
	(void)http_body(r, &len);
	dp->p.bytes = len;
	dp->r = r;
	dp->rt = rt;
	if (!server_park(r->srv, &dp->p)) {
		free(dp);
		return (0);
	}
	http_on_abort(r, dispatch_park_gone, dp);
	return (1);
}

/* Hand r to its module.  reserve: the connection is over
 * --max-connections, so only health is answered. */
void
dispatch(struct req *r, int reserve)
{
	const struct route	*rt;

	rt = route_find(dispatch_routes, nitems(dispatch_routes), ROUTE_ANY,
	    r->path, NULL);
	/* The route's path is the request's label in /metrics: a set as
	 * small as the table. */
	r->route = rt != NULL && rt->fn != dispatch_not_found ? rt->pattern :
	    "other";
	/* Over --max-connections: health only, then the connection closes. */
	if (reserve && (rt == NULL || rt->fn != dispatch_health)) {
		r->backstage = 1;
		http_error(r, 503, "ServiceUnavailableError", "notimock is "
		    "serving as many connections as --max-connections allows; "
		    "try again");
		return;
	}
	if (rt != NULL && rt->fn == api_notifications &&
	    dispatch_park(r, rt))
		return;
	if (rt != NULL)
		rt->fn(r, NULL);
	else
		dispatch_not_found(r, NULL);
}

int
dispatch_start(struct server *srv, char **cause)
{
	if (server_start(srv) == -1) {
		*cause = xstrdup("the commit event could not be made");
		return (-1);
	}
	signals_start(srv);
	if (http_start(srv, dispatch, cause) == -1)
		return (-1);
	mock_start(srv);
	retain_start(srv);
	return (0);
}
