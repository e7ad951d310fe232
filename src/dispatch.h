/*
 * dispatch.h: the top-level route table (dispatch.c).
 */
#ifndef NOTIMOCK_DISPATCH_H
#define NOTIMOCK_DISPATCH_H

struct req;
struct server;

/* Hand a parsed request to the module its path belongs to (http_start's
 * app).  reserve: the connection is over --max-connections, so only the
 * health routes answer; everything else gets a 503. */
void	dispatch(struct req *, int reserve);

/* Start what serves the routes, in order: the commit event (server.c),
 * the signal channel, the listeners (handing requests to dispatch), the
 * assertion API and retention.  notimock serve and fuzz/fuzz_http.c both
 * call it, so the fuzzed server starts as the real one does.  -1 and
 * *cause on failure. */
int	dispatch_start(struct server *, char **cause);

#endif
