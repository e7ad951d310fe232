/*
 * web.h: the HTML inbox (web/): its files, compiled in by tools/embed, and
 * the route that serves them at "/" with a strict Content-Security-Policy.
 */
#ifndef NOTIMOCK_WEB_H
#define NOTIMOCK_WEB_H

#include <stddef.h>

struct req;

/* One file of web/, as tools/embed wrote it into web_assets.c. */
struct web_asset {
	const char		*name;		/* "app.js", "js/api.js": the URL
						   path less "/" */
	const char		*ctype;		/* Content-Type */
	const unsigned char	*data;
	size_t			 len;
	const char		*etag;		/* strong, with its quotes */
};

/* The built-in copy, ended by an entry whose name is NULL. */
extern const struct web_asset web_assets[];

/*
 * The route handler for "/" (index.html), the asset names and "/js/"
 * (the page's modules; a name there that is not one answers Backstage's
 * empty 404, as an unknown path does).  GET and HEAD only.  With --web-dir it reads the file from that directory on every
 * request (for development: edit, reload), else it serves the built-in copy
 * with its ETag, answering a matching If-None-Match with 304.
 */
void	web_route(struct req *, void *);

#endif
