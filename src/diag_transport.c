/*
 * diag_transport.c: the checks on how a delivery arrived, before its
 * credentials and body: the method, the path and query, the Content-Type.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "diag_int.h"
#include "auth.h"
#include "xmalloc.h"

/* --- the transport: method, path, Content-Type ------------------------- */

/* The send route below the mount: /notifications or the root alias, any
 * case, one trailing slash. */
int
diag_is_create(const char *path)
{
	size_t	mlen = strlen(DIAG_MOUNT), len;

	if (path == NULL || strncasecmp(path, DIAG_MOUNT, mlen) != 0)
		return (0);
	path += mlen;
	len = strlen(path);
	if (len > 0 && path[len - 1] == '/')
		len--;
	return (len == 0 || (len == 14 && strncasecmp(path, "/notifications",
	    14) == 0));
}

/* Which catalog template a text body came from, by its wording. */
static const struct diag_catalog {
	const char	*phrase;
	const char	*name;		/* the template */
	const char	*trigger;
} diag_catalog[] = {
	{ "has been successfully synced", "app-sync-succeeded",
	  "on-sync-succeeded" },
	{ "has failed at", "app-sync-failed", "on-sync-failed" },
	{ "has started at", "app-sync-running", "on-sync-running" },
	{ "sync is 'Unknown'", "app-sync-status-unknown",
	  "on-sync-status-unknown" },
	{ "has degraded", "app-health-degraded", "on-health-degraded" },
	{ "is now running new version", "app-deployed", "on-deployed" },
	{ "has been created", "app-created", "on-created" },
	{ "has been deleted", "app-deleted", "on-deleted" },
};

void
diag_method(struct diag_ctx *x)
{
	const struct diag_input	*in = x->in;
	const struct diag_catalog *c = NULL;
	char			*text, *ev;
	size_t			 i, n;
	int			 user;

	if (x->post || !x->create || strcmp(in->method, "HEAD") == 0 ||
	    strcmp(in->method, "OPTIONS") == 0)
		return;
	user = in->auth_checked && in->auth == AUTH_OK && in->who != NULL &&
	    in->who->type == PRINCIPAL_USER;

	if (x->kind == BODY_TEXT) {
		n = in->body_len < 2048 ? in->body_len : 2048;
		for (i = 0; i < sizeof diag_catalog / sizeof diag_catalog[0];
		    i++)
			if (diag_memmem(in->body, n, diag_catalog[i].phrase,
			    strlen(diag_catalog[i].phrase)) != NULL) {
				c = &diag_catalog[i];
				break;
			}
		text = diag_snippet(in->body, in->body_len, 0, 0, 100);
		ev = diag_fmt("%s %s with a %zu-byte text body: \"%s\"",
		    in->method, diag_epath(x), in->body_len, text);
		if (strcmp(in->method, "GET") != 0)
			DIAG_SAY(x->res, DT_GET_WITH_BODY_METHOD, ev,
			    in->method, in->method);
		else if (c != NULL)
			DIAG_SAY(x->res, DT_GET_WITH_BODY, ev,
			    DIAG_PART(DT_P_CATALOG), c->name, c->trigger);
		else
			DIAG_SAY(x->res, DT_GET_WITH_BODY, ev, "");
		free(text);
		return;
	}
	if (x->kind == BODY_JSON) {
		DIAG_SAY(x->res, DT_WRONG_METHOD, diag_fmt("%s %s with a "
		    "%zu-byte JSON body", in->method, diag_epath(x),
		    in->body_len), in->method, strcmp(in->method, "GET") == 0 ?
		    DIAG_PART(DT_P_NO_METHOD) : DIAG_PART(DT_P_OTHER_METHOD));
		return;
	}
	/* A GET with no body to the send route: a template whose webhook
	 * section has neither method nor body.  A user token listing its
	 * notifications does the same legitimately. */
	if (strcmp(in->method, "GET") == 0 && !user && (x->go ||
	    (in->who != NULL && in->who->type == PRINCIPAL_SERVICE)))
		DIAG_SAY0(x->res, DT_WRONG_METHOD_GET, diag_fmt("GET %s, no "
		    "body%s", diag_epath(x), x->go ?
		    ", User-Agent: Go-http-client" : ""));
}

void
diag_path(struct diag_ctx *x)
{
	const struct diag_input	*in = x->in;
	const char		*q, *slash, *amp;
	char			*names = NULL, *t, *tail, *ev;
	size_t			 n, seg;

	/* A POST that matched no route: url and path joined wrongly. */
	if (x->post && !x->create && in->status == 404 &&
	    in->response_len == 0)
		DIAG_SAY(x->res, DT_WRONG_PATH, diag_fmt("POST %s",
		    diag_epath(x)), diag_epath(x));

	/* A query on the send route: a url with ?x=y swallows the path. */
	if (!x->post || !x->create || (q = strchr(in->uri, '?')) == NULL)
		return;
	for (q++;; q = amp + 1) {
		seg = strcspn(q, "&");
		n = strcspn(q, "=&");
		t = diag_escape((const unsigned char *)q, n < 40 ? n : 40);
		/* The value may be a secret: show only a path tail in it. */
		if ((slash = memchr(q, '/', seg)) != NULL) {
			n = (size_t)(q + seg - slash);
			tail = diag_escape((const unsigned char *)slash,
			    n < 80 ? n : 80);
		} else
			tail = NULL;
		ev = diag_fmt("%s%s'%s'%s%s%s", names ? names : "",
		    names ? ", " : "", t, tail ? " (its value ends in the "
		    "path " : "", tail ? tail : "", tail ? ")" : "");
		free(t);
		free(tail);
		free(names);
		names = ev;
		if ((amp = strchr(q, '&')) == NULL)
			break;
	}
	DIAG_SAY0(x->res, DT_URL_QUERY, diag_fmt("query parameter %s",
	    names ? names : "''"));
	free(names);
}

void
diag_content_type(struct diag_ctx *x)
{
	const struct diag_input	*in = x->in;
	char			 media[128], ua[300], low[400], *ct, *t;
	size_t			 i = 0;
	const char		*p;

	if (!x->post || !x->create)
		return;
	if (in->content_type == NULL) {
		if (in->user_agent != NULL) {
			t = diag_escape((const unsigned char *)in->user_agent,
			    strlen(in->user_agent) < 60 ?
			    strlen(in->user_agent) : 60);
			snprintf(ua, sizeof ua, "; User-Agent: %s%s", t,
			    x->go ? ", Argo CD's Go client" : "");
			free(t);
		} else
			ua[0] = '\0';
		DIAG_SAY0(x->res, DT_MISSING_CONTENT_TYPE,
		    diag_fmt("no Content-Type header%s", ua));
		return;
	}
	for (p = in->content_type; *p == ' ' || *p == '\t'; p++)
		;
	for (; *p != '\0' && *p != ';' && i + 1 < sizeof media; p++)
		media[i++] = (char)tolower((unsigned char)*p);
	while (i > 0 && (media[i - 1] == ' ' || media[i - 1] == '\t'))
		i--;
	media[i] = '\0';
	if (strcmp(media, "application/json") == 0)
		return;
	ct = diag_escape((const unsigned char *)in->content_type,
	    strlen(in->content_type) < 80 ? strlen(in->content_type) : 80);
	/* Backstage quotes the whole value, lower-cased. */
	for (t = ct; *t != '\0'; t++)
		low[t - ct] = (char)tolower((unsigned char)*t);
	low[t - ct] = '\0';
	DIAG_SAY(x->res, DT_WRONG_CONTENT_TYPE, diag_fmt("Content-Type: %s",
	    ct), low);
	free(ct);
}
