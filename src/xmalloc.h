/*
 * xmalloc.h: allocation that dies on OOM.  Client-controlled sizes (body,
 * headers, JSON depth) are capped by the caller *before* they get here.
 */
#ifndef NOTIMOCK_XMALLOC_H
#define NOTIMOCK_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
