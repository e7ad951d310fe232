/*
 * route.h: route tables and the one matcher they share.
 *
 * A module (api.c, signin.c, mock.c, http.c's top level) describes its
 * routes as a const table, first match wins:
 *
 *	static const struct route api_routes[] = {
 *		{ HTTP_GET | HTTP_HEAD, "/status", api_status, NULL, 0 },
 *		{ HTTP_POST, "/notifications", api_create, NULL, API_BODY },
 *		{ HTTP_GET | HTTP_HEAD, "/notifications/:id", api_get, NULL, 0 },
 *	};
 *
 * and asks route_find() for the request's method and path.  What the
 * module answers when nothing matches follows from the match: m.route NULL
 * and m.allow 0 is a 404 (no route has this path); m.route NULL and
 * m.allow set is a 405 (or, as Express does, a 404 with OPTIONS answered
 * by the Allow list), with route_allow() spelling the methods out.
 *
 * Patterns: literal segments compare without case (as Express's and our
 * routers do); ":name" is one non-empty segment, captured in the match
 * (the first one only); a route flagged ROUTE_PREFIX also matches any path
 * below its pattern.  ROUTE_SLASH lets one trailing '/' through
 * ("/status/" is "/status"), per route.
 *
 * The methods are bits of our own (http.h's HTTP_GET...), so that handlers
 * need no <event2/http.h>.
 */
#ifndef NOTIMOCK_ROUTE_H
#define NOTIMOCK_ROUTE_H

#include <stddef.h>

struct req;

/* Matcher flags (the low byte); a module's own flags start at ROUTE_USER. */
#define ROUTE_PREFIX	0x01	/* the pattern, or anything below it */
#define ROUTE_SLASH	0x02	/* one trailing '/' is tolerated */
#define ROUTE_USER	0x100	/* first bit free for the module */

/* Any method: for a table that leaves methods to its handlers. */
#define ROUTE_ANY	0xffffu

struct route {
	unsigned int	   methods;	/* HTTP_* bits this route answers */
	const char	  *pattern;	/* "/notifications/:id" */
	/* The handler: arg is the module's own state for the request (api.c:
	 * its struct api_ctx; NULL at the top level). */
	void		 (*fn)(struct req *, void *arg);
	/* Query parameter names the route takes (NULL-terminated), or NULL:
	 * the module decides (api.c refuses any other name). */
	const char *const *query;
	unsigned int	   flags;	/* ROUTE_* and the module's own */
};

struct route_match {
	const struct route *route;	/* NULL: none for this method */
	unsigned int	    allow;	/* methods of every route whose pattern
					   matches the path (0: unknown path) */
	const char	   *param;	/* the first ":name" segment (not
					   NUL-terminated), or NULL */
	size_t		    paramlen;
};

/*
 * The first route of table[0..n) whose pattern matches path and whose
 * methods include method (an HTTP_* bit); also fills *m (may be NULL).
 * Returns m->route.
 */
const struct route *route_find(const struct route *table, size_t n,
		    unsigned int method, const char *path,
		    struct route_match *m);

/*
 * The method names of bits, in a fixed order (GET, HEAD, POST, PUT,
 * DELETE, OPTIONS, PATCH, TRACE, CONNECT) joined by sep: "GET,HEAD,POST"
 * for Express's OPTIONS reply, "GET, DELETE" for an Allow header.  Returns
 * buf ("" for no bits).
 */
char		*route_allow(unsigned int bits, const char *sep, char *buf,
		    size_t len);
/* The name of one method bit ("GET"), or "UNKNOWN". */
const char	*route_method_name(unsigned int bit);

#endif
