/*
 * route.c: the matcher every route table goes through (route.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "route.h"

/* The methods in the order route_allow() names them. */
static const struct {
	unsigned int	 bit;
	const char	*name;
} route_methods[] = {
	{ HTTP_GET, "GET" },
	{ HTTP_HEAD, "HEAD" },
	{ HTTP_POST, "POST" },
	{ HTTP_PUT, "PUT" },
	{ HTTP_DELETE, "DELETE" },
	{ HTTP_OPTIONS, "OPTIONS" },
	{ HTTP_PATCH, "PATCH" },
	{ HTTP_TRACE, "TRACE" },
	{ HTTP_CONNECT, "CONNECT" },
};

#define nitems(a)	(sizeof (a) / sizeof (a)[0])

/* Does path match rt's pattern?  Sets the first ":name" segment. */
static int
route_match_one(const struct route *rt, const char *path, const char **param,
    size_t *paramlen)
{
	const char	*p = rt->pattern, *s = path;
	size_t		 n;

	*param = NULL;
	*paramlen = 0;
	if ((rt->flags & ROUTE_PREFIX) && strcmp(p, "/") == 0)
		return (1);	/* everything, even "*" or "" */
	while (*p != '\0') {
		if (*p == ':' && p > rt->pattern && p[-1] == '/') {
			if ((n = strcspn(s, "/")) == 0)
				return (0);	/* a segment is never empty */
			if (*param == NULL) {
				*param = s;
				*paramlen = n;
			}
			s += n;
			p += strcspn(p, "/");
			continue;
		}
		if (tolower((unsigned char)*p) != tolower((unsigned char)*s))
			return (0);
		p++;
		s++;
	}
	if (*s == '\0')
		return (1);
	if ((rt->flags & ROUTE_SLASH) && strcmp(s, "/") == 0)
		return (1);
	/* Below a prefix: "/a" takes "/a/b". */
	return ((rt->flags & ROUTE_PREFIX) && *s == '/');
}

const struct route *
route_find(const struct route *table, size_t n, unsigned int method,
    const char *path, struct route_match *m)
{
	struct route_match	 local;
	const char		*param;
	size_t			 i, plen;

	if (m == NULL)
		m = &local;
	memset(m, 0, sizeof *m);
	for (i = 0; i < n; i++) {
		if (!route_match_one(&table[i], path, &param, &plen))
			continue;
		m->allow |= table[i].methods;
		if (m->route == NULL && (table[i].methods & method)) {
			m->route = &table[i];
			m->param = param;
			m->paramlen = plen;
		}
	}
	return (m->route);
}

char *
route_allow(unsigned int bits, const char *sep, char *buf, size_t len)
{
	size_t	i, off = 0;
	int	w;

	if (len == 0)
		return (buf);
	buf[0] = '\0';
	for (i = 0; i < nitems(route_methods); i++) {
		if (!(bits & route_methods[i].bit))
			continue;
		w = snprintf(buf + off, len - off, "%s%s", off > 0 ? sep : "",
		    route_methods[i].name);
		if (w < 0 || (size_t)w >= len - off) {
			buf[off] = '\0';	/* whole names only */
			break;
		}
		off += (size_t)w;
	}
	return (buf);
}

/* The name of one method bit ("GET"), or "UNKNOWN". */
const char *
route_method_name(unsigned int bit)
{
	size_t	i;

	for (i = 0; i < nitems(route_methods); i++)
		if (route_methods[i].bit == bit)
			return (route_methods[i].name);
	return ("UNKNOWN");
}
