/*
 * web.c: serve the HTML inbox (web/index.html, app.js and the ES modules
 * it imports from web/js/, style.css, ...).
 *
 * The page only ever talks to /mock/ (the assertion API), so everything here
 * is static files.  Two sources: the copy tools/embed compiled in (the
 * normal case: nothing to find at run time), or --web-dir, read from disk
 * on every request so that a developer edits and reloads.
 *
 * Every answer carries a Content-Security-Policy that allows nothing but
 * this origin's own script, style and API: the inbox shows text written by
 * whoever can POST a notification, and must never run any of it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "http.h"
#include "log.h"
#include "settings.h"
#include "util.h"
#include "web.h"
#include "web_types.h"
#include "xmalloc.h"

#define WEB_DISK_MAX	(16 * 1024 * 1024)	/* bytes, --web-dir files */

/*
 * default-src 'none' and then only what the page uses: its script and
 * style files, fetch/EventSource to /mock/, and data: images (the SVG
 * favicon is a file, but a browser extension's data: image is harmless).
 * No 'unsafe-inline' anywhere, no framing, no <base>, no forms posting away.
 */
static const char web_csp[] = "default-src 'none'; script-src 'self'; "
    "style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "font-src 'self'; manifest-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

static void
web_headers(struct req *r)
{
	http_add_header(r, "Content-Security-Policy", web_csp);
	http_add_header(r, "X-Content-Type-Options", "nosniff");
	http_add_header(r, "Referrer-Policy", "no-referrer");
	http_add_header(r, "X-Frame-Options", "DENY");
	http_add_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	http_add_header(r, "Cross-Origin-Resource-Policy", "same-origin");
}

/*
 * Does an If-None-Match header match etag?  It is a list of entity tags,
 * or "*"; comparison is the weak one (RFC 9110 13.1.2), so W/"x" matches
 * "x".
 */
static int
web_etag_match(const char *header, const char *etag)
{
	const char	*p = header, *start;
	size_t		 elen = strlen(etag);

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return (0);
		if (*p == '*')
			return (1);
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		start = p;
		if (*p == '"') {
			p++;
			while (*p != '\0' && *p != '"')
				p++;
			if (*p == '"')
				p++;
		} else
			while (*p != '\0' && *p != ',')
				p++;
		if ((size_t)(p - start) == elen && strncmp(start, etag,
		    elen) == 0)
			return (1);
		while (*p != '\0' && *p != ',')
			p++;
	}
}

/* The built-in file called name (without case, as routes compare), or
 * NULL. */
static const struct web_asset *
web_find(const char *name)
{
	const struct web_asset	*a;

	for (a = web_assets; a->name != NULL; a++)
		if (util_strcaseeq(a->name, name))
			return (a);
	return (NULL);
}

/* The built-in copy. */
static void
web_builtin(struct req *r, const char *name)
{
	const struct web_asset	*a;
	const char		*inm;

	if ((a = web_find(name)) == NULL) {
		http_empty(r, 404);
		return;
	}
	/* Revalidate every time (no-cache): a new binary must show its own
	 * page at once, and a 304 on loopback costs next to nothing. */
	http_add_header(r, "Cache-Control", "no-cache");
	http_add_header(r, "ETag", a->etag);
	inm = http_header(r, "If-None-Match");
	if (inm != NULL && web_etag_match(inm, a->etag)) {
		http_send(r, 304, NULL, NULL, 0);
		return;
	}
	http_send(r, 200, a->ctype, a->data, a->len);
}

/*
 * --web-dir: read dir/name now.  Only a plain file name is looked up, in
 * dir or in its js/ (the route table already limits which names get here;
 * this refuses anything that could leave those if that ever changes).
 */
static void
web_disk(struct req *r, const char *dir, const char *name)
{
	struct stat	 st;
	const char	*ctype, *file = name;
	char		*path = NULL, *buf = NULL, msg[256];
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd = -1;

	if (strncmp(file, "js/", 3) == 0)
		file += 3;
	if (*file == '\0' || *file == '.' || strchr(file, '/') != NULL ||
	    strchr(file, '\\') != NULL || (ctype = web_ctype(file)) == NULL) {
		http_empty(r, 404);
		return;
	}
	xasprintf(&path, "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_size > WEB_DISK_MAX) {
		errno = EINVAL;
		goto fail;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO;	/* the file shrank: errno is stale */
		if (n <= 0)
			goto fail;
		got += (size_t)n;
	}
	close(fd);
	/* Development: always fetch afresh. */
	http_add_header(r, "Cache-Control", "no-store");
	http_send(r, 200, ctype, buf, got);
	free(buf);
	free(path);
	return;

fail:
	log_warn("web: --web-dir: %s", path);
	if (fd != -1)
		close(fd);
	snprintf(msg, sizeof msg, "--web-dir has no readable %s", name);
	http_error(r, 404, "NotFoundError", msg);
	free(buf);
	free(path);
}

void
web_route(struct req *r, void *arg)
{
	const char	*name;

	/* "/" (or "//", which the route table lets through) is the page;
	 * "/js/x.js" is web/js/x.js. */
	name = r->path + strspn(r->path, "/");
	if (*name == '\0')
		name = "index.html";
	/*
	 * Below /js (a prefix route) only the modules there are the inbox's:
	 * any other path answers as no route at all does (Backstage's empty
	 * 404, whatever the method), as it did before the prefix existed.
	 */
	if (r->srv->settings->web_dir == NULL &&
	    util_strncaseeq(name, "js", 2) && (name[2] == '\0' ||
	    name[2] == '/') && web_find(name) == NULL) {
		r->backstage = 1;
		http_empty(r, 404);
		return;
	}
	web_headers(r);
	if (r->verb != HTTP_GET && r->verb != HTTP_HEAD) {
		http_add_header(r, "Allow", "GET, HEAD");
		http_error(r, 405, "MethodNotAllowedError", "the inbox only "
		    "answers GET and HEAD");
		return;
	}
	if (r->srv->settings->web_dir != NULL)
		web_disk(r, r->srv->settings->web_dir, name);
	else
		web_builtin(r, name);
}
