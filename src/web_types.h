/*
 * web_types.h: the content types of the inbox's files, by extension.  One
 * list for both users: tools/embed (files compiled into the binary at build
 * time) and web.c (--web-dir, files read at run time).  Header-only, since
 * tools/embed links nothing of notimock.
 */
#ifndef NOTIMOCK_WEB_TYPES_H
#define NOTIMOCK_WEB_TYPES_H

#include <string.h>

static const struct {
	const char	*ext;
	const char	*ctype;
} web_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".json", "application/json; charset=utf-8" },
	{ ".txt", "text/plain; charset=utf-8" },
};

/* The content type for a file name, or NULL for an unknown extension. */
static inline const char *
web_ctype(const char *name)
{
	const char	*dot = strrchr(name, '.');
	size_t		 i;

	if (dot == NULL)
		return (NULL);
	for (i = 0; i < sizeof web_types / sizeof web_types[0]; i++)
		if (strcmp(dot, web_types[i].ext) == 0)
			return (web_types[i].ctype);
	return (NULL);
}

#endif
