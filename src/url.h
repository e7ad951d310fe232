/*
 * url.h: the part of the WHATWG URL parser that Backstage's link check needs
 * (`new URL(link, base)` followed by a protocol test).
 */
#ifndef NOTIMOCK_URL_H
#define NOTIMOCK_URL_H

enum url_check {
	URL_OK = 0,		/* parses, and the protocol is http: or https: */
	URL_NOT_HTTP,		/* parses, other protocol: "Only HTTP/HTTPS links are allowed" */
	URL_INVALID		/* TypeError "Invalid URL" (code ERR_INVALID_URL) */
};

/* Backstage's payload.link check: strip ONE leading '/', then resolve
 * against base (app.baseUrl with a trailing '/' ensured by the caller). */
enum url_check	url_check_link(const char *link, const char *base);
/* Parse an absolute URL as `new URL(s)` would; returns URL_INVALID if it
 * does not parse.  Used to validate --base-url and app.baseUrl. */
enum url_check	url_check_absolute(const char *s);

#endif
