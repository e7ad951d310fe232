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
	char			*text, *msg;
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
		if (strcmp(in->method, "GET") == 0)
			msg = diag_fmt("A GET with a plain-text body: Argo CD "
			    "sends this when the template it rendered has no "
			    "webhook.<service> section, and then falls back to "
			    "GET on the bare service url with the template's "
			    "message as the body.%s%s%s%s%s",
			    c ? "  The text is the catalog template " : "",
			    c ? c->name : "", c ? " (trigger " : "",
			    c ? c->trigger : "", c ? ")." : "");
		else
			msg = diag_fmt("A %s with a plain-text body: the "
			    "template's webhook section names method %s and "
			    "its body renders text, not JSON.", in->method,
			    in->method);
		diag_add(x->res, "get-with-body", DIAG_ERROR, msg,
		    diag_fmt("%s %s with a %zu-byte text body: \"%s\"",
		    in->method, diag_epath(x), in->body_len, text),
		    xstrdup("Subscribe the Application to a trigger of your "
		    "own, not the catalog's: "
		    "notifications.argoproj.io/subscribe.on-sync-succeeded-"
		    "backstage.backstage: \"\" instead of "
		    "...subscribe.on-sync-succeeded.backstage.  Give your "
		    "templates and triggers a -backstage suffix "
		    "(template.app-sync-succeeded-backstage, "
		    "trigger.on-sync-succeeded-backstage) so that the catalog "
		    "cannot overwrite them, and make the key under webhook: "
		    "equal the service name (webhook: backstage: for "
		    "service.webhook.backstage), with method: POST, path: "
		    "/notifications and a JSON body:."));
		free(text);
		return;
	}
	if (x->kind == BODY_JSON) {
		diag_add(x->res, "wrong-method", DIAG_ERROR,
		    diag_fmt("The body is JSON but the method is %s: the "
		    "template's webhook.backstage section %s.  Backstage "
		    "creates notifications on POST only.", in->method,
		    strcmp(in->method, "GET") == 0 ? "has no method: (Argo CD "
		    "then defaults to GET)" : "names another method"),
		    diag_fmt("%s %s with a %zu-byte JSON body", in->method,
		    diag_epath(x), in->body_len),
		    xstrdup("Set method: POST under webhook.backstage in the "
		    "template (template.<name>-backstage in "
		    "argocd-notifications-cm)."));
		return;
	}
	/* A GET with no body to the send route: a template whose webhook
	 * section has neither method nor body.  A user token listing its
	 * notifications does the same legitimately. */
	if (strcmp(in->method, "GET") == 0 && !user && (x->go ||
	    (in->who != NULL && in->who->type == PRINCIPAL_SERVICE)))
		diag_add(x->res, "wrong-method", DIAG_ERROR,
		    xstrdup("A GET with no body to the send route: the "
		    "template's webhook.backstage section has no method:, "
		    "which Argo CD defaults to GET, and no body:.  Backstage "
		    "answers a service token here with 403 \"This endpoint "
		    "does not allow 'service' credentials\"."),
		    diag_fmt("GET %s, no body%s", diag_epath(x), x->go ?
		    ", User-Agent: Go-http-client" : ""),
		    xstrdup("Set method: POST and a JSON body: under "
		    "webhook.backstage in the template."));
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
		diag_add(x->res, "wrong-path", DIAG_ERROR,
		    diag_fmt("No Backstage route matches POST %s: Backstage "
		    "answers an empty 404.  Argo CD joins the service url "
		    "and the template path as TrimRight(url, \"/\") + \"/\" + "
		    "TrimLeft(path, \"/\").", diag_epath(x)),
		    diag_fmt("POST %s", diag_epath(x)),
		    xstrdup("Make url and path together give "
		    "/api/notifications/notifications: url: "
		    "https://backstage.example.com/api/notifications in "
		    "service.webhook.backstage and path: /notifications in the "
		    "template's webhook.backstage section."));

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
	diag_add(x->res, "url-query", DIAG_ERROR,
	    xstrdup("The URL has a query string.  Backstage refuses any query "
	    "parameter on this route (400 \"Unknown query parameter\"), and "
	    "Argo CD appends the template's path after the query, not to the "
	    "path: url .../hook?token=x plus path /apps/y gives "
	    "/hook?token=x/apps/y."),
	    diag_fmt("query parameter %s", names ? names : "''"),
	    xstrdup("Drop the query from url in service.webhook.backstage; "
	    "send credentials in an Authorization header instead."));
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
		diag_add(x->res, "missing-content-type", DIAG_ERROR,
		    xstrdup("No Content-Type header: Argo CD's webhook sends "
		    "none unless the service lists one, and Backstage "
		    "answers 400 \"unsupported media type undefined\"."),
		    diag_fmt("no Content-Type header%s", ua),
		    xstrdup("Add the header to service.webhook.backstage in "
		    "argocd-notifications-cm:\n"
		    "  headers:\n"
		    "  - name: Content-Type\n"
		    "    value: application/json"));
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
	diag_add(x->res, "wrong-content-type", DIAG_ERROR,
	    diag_fmt("The Content-Type is not application/json: Backstage "
	    "answers 400 \"unsupported media type %s\".", low),
	    diag_fmt("Content-Type: %s", ct),
	    xstrdup("Set the header's value to application/json in "
	    "service.webhook.backstage:\n"
	    "  headers:\n"
	    "  - name: Content-Type\n"
	    "    value: application/json"));
	free(ct);
}
