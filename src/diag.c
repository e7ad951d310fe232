/*
 * diag.c: what a delivery's raw bytes say about the sender's configuration.
 *
 * The checks run in the order a user should fix things: the transport
 * (method, path, Content-Type, credentials), then the body (JSON syntax,
 * template leftovers such as <no value> or Go byte lists, field values),
 * then the outcome (nobody reached) and the history (retries).  Each check
 * is a cheap test on the hot path; text is only built for a diagnosis that
 * fires, so a clean accepted POST allocates nothing here.
 *
 * Evidence never quotes a token: credentials appear by shape and keyed
 * fingerprint (crypto_fingerprint, the one form everywhere), and text from an Authorization
 * header is shown only when the whole token is a $key reference or one
 * {{ ... }} template.  Diagnoses are stored as text; the command line
 * escapes them for the terminal when it prints them (diag_print_text).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "codec.h"
#include "crypto.h"
#include "diag.h"
#include "entity.h"
#include "json.h"
#include "log.h"
#include "schema.h"
#include "url.h"
#include "xmalloc.h"

#define DIAG_MOUNT		"/api/notifications"
#define DIAG_BODY_LIMIT		102400	/* express.json()'s limit */
#define DIAG_NOVALUE		"<no value>"
#define DIAG_NOVALUE_LEN	10
#define DIAG_NOVALUE_MAX	4	/* <no value> fields reported */
#define DIAG_RING		64	/* requests remembered for retries */
/*
 * Argo CD waits 1 s, 2 s and 4 s between attempts (retryWaitMax 5 s by
 * default); a gap this long still links two identical requests.
 */
#define DIAG_RETRY_WINDOW_MS	10000
#define DIAG_ARGOCD_ATTEMPTS	4

/* One request remembered by the retry detector. */
struct diag_seen {
	uint64_t	 hash;		/* origin, method, URI and body */
	size_t		 len;		/* body length, against collisions */
	int64_t		 when;		/* epoch ms */
	int64_t		 seq;
	int		 status;
	int		 attempt;
	int64_t		 chain[DIAG_CHAIN];	/* earlier attempts */
	size_t		 nchain;
};

struct diag {
	struct diag_seen	 ring[DIAG_RING];
	size_t			 next;
	size_t			 used;
};

/* Per-run scratch: the body as seen by every check. */
struct diag_ctx {
	const struct diag_input	*in;
	struct diag_result	*res;
	const struct json	*json;		/* in->json or our own parse */
	struct json		*own;		/* parsed here, freed here */
	const char		*jerr;		/* parse message */
	long			 jpos;
	char			 jbuf[JSON_ERRLEN];
	int			 kind;		/* BODY_* */
	int			 create;	/* the path is the send route */
	int			 post;
	int			 go;		/* User-Agent is Go's client */
	char			*epath;		/* the path, escaped (lazily) */
};

enum { BODY_EMPTY = 0, BODY_JSON, BODY_TEXT };

/* --- building diagnoses ------------------------------------------------ */

static char *
diag_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
diag_fmt(const char *fmt, ...)
{
	va_list	 ap, aq;
	char	*s, buf[1024];
	int	 n;

	va_start(ap, fmt);
	va_copy(aq, ap);
	n = vsnprintf(buf, sizeof buf, fmt, aq);
	va_end(aq);
	if (n < 0) {
		n = 0;
		buf[0] = '\0';
	}
	/* Most texts fit the first pass (this runs per request): keep it
	 * rather than format a second time. */
	if ((size_t)n < sizeof buf) {
		va_end(ap);
		s = xmalloc((size_t)n + 1);
		memcpy(s, buf, (size_t)n + 1);
		return (s);
	}
	s = xmalloc((size_t)n + 1);
	if (vsnprintf(s, (size_t)n + 1, fmt, ap) < 0)
		s[0] = '\0';
	va_end(ap);
	return (s);
}

/* Add a diagnosis; takes message, evidence and fix (all allocated). */
static struct diagnosis *
diag_add(struct diag_result *res, const char *code, enum diag_level level,
    char *message, char *evidence, char *fix)
{
	struct diagnosis	*d;

	if (res->n == DIAG_MAX) {
		free(message);
		free(evidence);
		free(fix);
		return (NULL);
	}
	d = &res->v[res->n++];
	d->code = code;
	d->level = level;
	d->message = message;
	d->evidence = evidence;
	d->fix = fix;
	return (d);
}

static int
diag_has(const struct diag_result *res, const char *code)
{
	size_t	i;

	for (i = 0; i < res->n; i++)
		if (strcmp(res->v[i].code, code) == 0)
			return (1);
	return (0);
}

/* Any error-level diagnosis about the body so far? */
static int
diag_body_errors(const struct diag_result *res, size_t from)
{
	size_t	i;

	for (i = from; i < res->n; i++)
		if (res->v[i].level == DIAG_ERROR)
			return (1);
	return (0);
}

/* --- byte helpers ------------------------------------------------------ */

static const unsigned char *
diag_memmem(const unsigned char *p, size_t len, const char *s, size_t slen)
{
	const unsigned char	*q, *end;

	if (slen == 0 || len < slen)
		return (NULL);
	end = p + len - slen;
	for (q = p; q <= end; q++) {
		q = memchr(q, s[0], (size_t)(end - q) + 1);
		if (q == NULL)
			return (NULL);
		if (memcmp(q, s, slen) == 0)
			return (q);
	}
	return (NULL);
}

static int
diag_ws(int c)
{
	return (c == ' ' || c == '\t' || c == '\n' || c == '\r');
}

/*
 * Client bytes made safe for a diagnosis: printable ASCII and valid UTF-8
 * as they are, \n \r \t spelled out, C1 controls and bidi formatting
 * characters as \u{NNNN} (they reorder or hide text on a terminal and in
 * a browser; log_term_unsafe), anything else as \xNN.
 */
static char *
diag_escape(const unsigned char *p, size_t len)
{
	char		*out, *o;
	size_t		 i, u;
	uint32_t	 cp;

	out = o = xmalloc(len * 4 + 1);
	for (i = 0; i < len; i++) {
		if (p[i] == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else if (p[i] == '\r') {
			*o++ = '\\';
			*o++ = 'r';
		} else if (p[i] == '\t') {
			*o++ = '\\';
			*o++ = 't';
		} else if (p[i] >= 0x20 && p[i] < 0x7f)
			*o++ = (char)p[i];
		else if (p[i] >= 0x80 && (u = codec_utf8_decode(p + i, len - i,
		    &cp)) != 0) {
			/* At most 8 characters for 2 or 3 bytes. */
			if (log_term_unsafe(cp))
				o += sprintf(o, "\\u{%04x}", cp);
			else {
				memcpy(o, p + i, u);
				o += u;
			}
			i += u - 1;
		} else
			o += sprintf(o, "\\x%02x", p[i]);
	}
	*o = '\0';
	return (out);
}

/* Escaped text around pos: up to before bytes ahead, after bytes after,
 * with "..." where it was cut. */
static char *
diag_snippet(const unsigned char *p, size_t len, size_t pos, size_t before,
    size_t after)
{
	size_t	 a, b;
	char	*mid, *s;

	if (pos > len)
		pos = len;
	a = pos > before ? pos - before : 0;
	b = len - pos > after ? pos + after : len;
	/* Do not cut a UTF-8 sequence in two. */
	while (a > 0 && a < len && (p[a] & 0xc0) == 0x80)
		a--;
	while (b < len && (p[b] & 0xc0) == 0x80)
		b++;
	mid = diag_escape(p + a, b - a);
	s = diag_fmt("%s%s%s", a > 0 ? "..." : "", mid, b < len ? "..." : "");
	free(mid);
	return (s);
}

/* The request path made safe for evidence (computed once). */
static const char *
diag_epath(struct diag_ctx *x)
{
	const char	*p = x->in->path != NULL ? x->in->path : "";

	if (x->epath == NULL)
		x->epath = diag_escape((const unsigned char *)p,
		    strlen(p) < 200 ? strlen(p) : 200);
	return (x->epath);
}

/* 1-based line and column (in characters) of byte pos. */
static void
diag_linecol(const unsigned char *p, size_t len, size_t pos, size_t *line,
    size_t *col)
{
	size_t	i;

	*line = 1;
	*col = 1;
	if (pos > len)
		pos = len;
	for (i = 0; i < pos; i++) {
		if (p[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if ((p[i] & 0xc0) != 0x80)
			(*col)++;
	}
}

/* A character named for a message: "a newline", "'/'", "byte \x01". */
static char *
diag_char_name(int c)
{
	switch (c) {
	case '\n':
		return (xstrdup("a raw newline"));
	case '\r':
		return (xstrdup("a raw carriage return"));
	case '\t':
		return (xstrdup("a raw tab"));
	}
	if (c >= 0x20 && c < 0x7f)
		return (diag_fmt("'%c'", c));
	return (diag_fmt("the byte \\x%02x", c));
}

/*
 * The JSON key whose value holds byte pos: a forward scan of the body up
 * to pos that tracks strings and containers, so it also works on JSON that
 * breaks at pos (a stray quote, a bare <no value>).  For an array element
 * it is the array's key.  Writes "" when there is none.
 */
static void
diag_raw_key(const unsigned char *p, size_t pos, char *key, size_t keylen)
{
	struct {
		int	 array;
		size_t	 kstart, klen;	/* the member being read */
	}		 st[32];
	size_t		 i, depth = 0, sstart = 0, slen = 0, k;
	int		 instr = 0;

	key[0] = '\0';
	for (i = 0; i < pos; i++) {
		if (instr) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"') {
				instr = 0;
				slen = i - sstart;
			}
			continue;
		}
		switch (p[i]) {
		case '"':
			instr = 1;
			sstart = i + 1;
			break;
		case '{':
		case '[':
			if (depth < sizeof st / sizeof st[0]) {
				st[depth].array = p[i] == '[';
				st[depth].klen = 0;
			}
			depth++;
			break;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			break;
		case ':':
			if (depth > 0 && depth <= sizeof st / sizeof st[0]) {
				st[depth - 1].kstart = sstart;
				st[depth - 1].klen = slen;
			}
			break;
		}
	}
	if (depth > sizeof st / sizeof st[0])
		return;
	/* The innermost object around pos names it. */
	for (k = depth; k > 0; k--)
		if (!st[k - 1].array)
			break;
	if (k == 0 || st[k - 1].klen == 0 || st[k - 1].klen >= keylen ||
	    st[k - 1].klen > 64)
		return;
	memcpy(key, p + st[k - 1].kstart, st[k - 1].klen);
	key[st[k - 1].klen] = '\0';
}

/* The last segment of a dotted path, without an [n] suffix. */
static void
diag_leaf(const char *path, char *leaf, size_t len)
{
	const char	*dot = strrchr(path, '.');
	size_t		 n;

	path = dot != NULL ? dot + 1 : path;
	n = strcspn(path, "[");
	if (n >= len)
		n = len - 1;
	memcpy(leaf, path, n);
	leaf[n] = '\0';
}

static int
diag_icontains(const char *hay, const char *needle)
{
	size_t	n = strlen(needle);

	for (; *hay != '\0'; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return (1);
	return (0);
}

/* FNV-1a, 64 bits: cheap, and good enough to tell requests apart. */
static uint64_t
diag_hash(uint64_t h, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	size_t			 i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return (h);
}

/* --- base64, for tokens that are close to a configured one ------------- */

static int
diag_b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '+' || c == '-')
		return (62);
	if (c == '/' || c == '_')
		return (63);
	return (-1);
}

/* Decode standard or URL-safe base64 (padding optional); -1 on junk. */
static ssize_t
diag_b64decode(const char *s, size_t len, unsigned char *out, size_t outlen)
{
	size_t		 i, o = 0;
	unsigned int	 acc = 0;
	int		 bits = 0, v;

	while (len > 0 && s[len - 1] == '=')
		len--;
	for (i = 0; i < len; i++) {
		if ((v = diag_b64val((unsigned char)s[i])) == -1)
			return (-1);
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == outlen)
				return (-1);
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return ((ssize_t)o);
}

static size_t
diag_b64encode(const unsigned char *p, size_t len, char *out)
{
	static const char	 a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t			 i, o = 0;
	unsigned int		 v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned int)p[i] << 16 | (unsigned int)p[i + 1] << 8 |
		    p[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (i < len) {
		v = (unsigned int)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned int)p[i + 1] << 8;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = i + 1 < len ? a[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (o);
}

/*
 * Are these bytes one of the configured tokens?  Compared by fingerprint
 * (the keyed one, as the configured tokens' in in->token_fps), left in fp
 * for the diagnosis.
 */
static int
diag_fp_known(const struct diag_input *in, const void *p, size_t len,
    char fp[CRYPTO_FP_LEN])
{
	crypto_fingerprint(p, len, fp);
	return (in->token_fps != NULL && strstr(in->token_fps, fp) != NULL);
}

/* --- the transport: method, path, Content-Type ------------------------- */

/* The send route below the mount: /notifications or the root alias, any
 * case, one trailing slash. */
static int
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

static void
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

static void
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

static void
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

/* --- credentials ------------------------------------------------------- */

/*
 * A presented credential is never quoted.  Evidence shows its text only
 * when it cannot be a secret: a whole $key reference that Argo CD left as
 * written, or a whole {{ ... }} template.  Anything else is described by
 * its shape and its keyed fingerprint (crypto_fingerprint), which
 * matches the start-up log and every other print of the same database
 * but, unlike a bare SHA-256 prefix, cannot be checked against guesses
 * offline.
 */

/* Schemes named in evidence by our own spelling (never the sender's text). */
static const char *diag_schemes[] = {
	"Digest", "Negotiate", "NTLM", "Token", "ApiKey", "Api-Key", "Key",
	"JWT", "OAuth", "DPoP", "HOBA", "Mutual", "AWS4-HMAC-SHA256",
	"SCRAM-SHA-1", "SCRAM-SHA-256", "vapid", "GNAP", "PrivateToken",
	"Concealed"
};
#define DIAG_NSCHEMES	(sizeof diag_schemes / sizeof diag_schemes[0])

/* The token part of an Authorization value: what follows "Bearer" and its
 * spaces, or else the whole value; trailing blanks dropped. */
static const char *
diag_auth_token(const char *h, size_t *lenp)
{
	const char	*tok = h;
	size_t		 len;

	if (strncasecmp(h, "bearer", 6) == 0 && h[6] == ' ')
		for (tok = h + 6; *tok == ' '; tok++)
			;
	len = strlen(tok);
	while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
		len--;
	*lenp = len;
	return (tok);
}

/* Is the token exactly a $key reference, ^\$[A-Za-z0-9_.-]+$?  Returns the
 * length of the key Argo CD looks up (its [\w-]+ after the '$'), or 0. */
static size_t
diag_ref_key(const char *tok, size_t len)
{
	size_t	i, key;

	if (len < 2 || tok[0] != '$')
		return (0);
	for (i = 1; i < len && (isalnum((unsigned char)tok[i]) ||
	    tok[i] == '_' || tok[i] == '-'); i++)
		;
	key = i - 1;
	for (; i < len; i++)
		if (!isalnum((unsigned char)tok[i]) && tok[i] != '_' &&
		    tok[i] != '-' && tok[i] != '.')
			return (0);
	return (key);
}

/* Is the token one whole {{ ... }} action, and nothing around it? */
static int
diag_is_template(const char *tok, size_t len)
{
	const unsigned char	*u = (const unsigned char *)tok, *close;

	if (len < 4 || memcmp(tok, "{{", 2) != 0 ||
	    memcmp(tok + len - 2, "}}", 2) != 0)
		return (0);
	close = diag_memmem(u + 2, len - 2, "}}", 2);
	return (close == u + len - 2 &&
	    diag_memmem(u + 2, len - 2, "{{", 2) == NULL);
}

/*
 * What a presented value looks like without any of its text: its length,
 * the characters that tell how it was made, and (if withfp) its keyed
 * fingerprint.  E.g. "<31 characters, 2 words, with {{; hmac:...>".
 */
static void
diag_token_shape(const char *tok, size_t len, int withfp, char *buf,
    size_t buflen)
{
	const unsigned char	*u = (const unsigned char *)tok;
	const char		*what[5];
	char			 fp[CRYPTO_FP_LEN];
	size_t			 i, n = 0, chars = 0, words = 0, o;
	int			 blank = 1, odd = 0;

	for (i = 0; i < len; i++) {
		if ((u[i] & 0xc0) != 0x80)
			chars++;
		if (u[i] == ' ' || u[i] == '\t')
			blank = 1;
		else if (blank) {
			blank = 0;
			words++;
		}
		if ((u[i] < 0x20 && u[i] != '\t') || u[i] >= 0x7f)
			odd = 1;
	}
	if (diag_memmem(u, len, "{{", 2) != NULL)
		what[n++] = "{{";
	if (diag_memmem(u, len, "}}", 2) != NULL)
		what[n++] = "}}";
	if (memchr(tok, '$', len) != NULL)
		what[n++] = "$";
	if (memchr(tok, '"', len) != NULL || memchr(tok, '\'', len) != NULL)
		what[n++] = "quotes";
	if (odd)
		what[n++] = "control or non-ASCII characters";
	o = (size_t)snprintf(buf, buflen, "<%zu character%s", chars,
	    chars == 1 ? "" : "s");
	if (words > 1 && o < buflen)
		o += (size_t)snprintf(buf + o, buflen - o, ", %zu words",
		    words);
	for (i = 0; i < n && o < buflen; i++)
		o += (size_t)snprintf(buf + o, buflen - o, "%s%s",
		    i == 0 ? (words > 1 ? ", with " : " with ") :
		    i + 1 == n ? " and " : ", ", what[i]);
	if (withfp && o < buflen)
		o += (size_t)snprintf(buf + o, buflen - o, "; %s",
		    crypto_fingerprint(tok, len, fp));
	if (o < buflen)
		snprintf(buf + o, buflen - o, ">");
}

/* The keyed fingerprint of the bearer token in header h ("?" if none). */
static const char *
diag_presented_fp(const char *h, char fp[CRYPTO_FP_LEN])
{
	const char	*tok;
	size_t		 len;

	if (h == NULL) {
		snprintf(fp, CRYPTO_FP_LEN, "?");
		return (fp);
	}
	tok = diag_auth_token(h, &len);
	return (crypto_fingerprint(tok, len, fp));
}

/* How many service tokens are configured (entries of in->token_fps). */
static size_t
diag_ntokens(const struct diag_input *in)
{
	const char	*p;
	size_t		 n;

	if (in->token_fps == NULL || *in->token_fps == '\0')
		return (0);
	for (n = 1, p = in->token_fps; (p = strchr(p, ',')) != NULL; p++)
		n++;
	return (n);
}

/* Blank-separated words in s. */
static size_t
diag_words(const char *s)
{
	size_t	n = 0;

	for (;;) {
		s += strspn(s, " \t");
		if (*s == '\0')
			return (n);
		n++;
		s += strcspn(s, " \t");
	}
}

/* Does the token look like a Backstage user JWT? */
static int
diag_user_jwt(const char *tok, size_t len)
{
	const char	*dot;
	unsigned char	 hdr[512];
	ssize_t		 n;

	if ((dot = memchr(tok, '.', len)) == NULL ||
	    memchr(dot + 1, '.', len - (size_t)(dot + 1 - tok)) == NULL)
		return (0);
	if ((n = diag_b64decode(tok, (size_t)(dot - tok), hdr,
	    sizeof hdr - 1)) <= 0)
		return (0);
	hdr[n] = '\0';
	return (strstr((char *)hdr, "vnd.backstage.user") != NULL);
}

/* Why a well-formed bearer token matched nothing, if it is close to a
 * configured one; "" otherwise. */
static void
diag_token_near(const struct diag_input *in, const char *tok, size_t len,
    char *why, size_t whylen)
{
	unsigned char	 dec[768];
	char		 enc[1100], fp[CRYPTO_FP_LEN];
	ssize_t		 n;
	size_t		 m;

	why[0] = '\0';
	if (len > 512)
		return;
	if ((n = diag_b64decode(tok, len, dec, sizeof dec)) > 0) {
		m = (size_t)n;
		if (diag_fp_known(in, dec, m, fp) || (m > 0 &&
		    dec[m - 1] == '\n' && diag_fp_known(in, dec, m - 1, fp))) {
			snprintf(why, whylen, "  It is the base64 encoding of "
			    "the configured token %s%s: Backstage compares "
			    "tokens verbatim and never decodes them.", fp,
			    dec[m - 1] == '\n' ? " plus a newline" : "");
			return;
		}
	}
	diag_b64encode((const unsigned char *)tok, len, enc);
	if (diag_fp_known(in, enc, strlen(enc), fp)) {
		snprintf(why, whylen, "  The configured token %s is the base64 "
		    "encoding of the token sent: the token was generated with "
		    "'echo ... | base64' and only one side was encoded.", fp);
		return;
	}
	memcpy(dec, tok, len);
	dec[len] = '\n';
	diag_b64encode(dec, len + 1, enc);
	if (diag_fp_known(in, enc, strlen(enc), fp)) {
		snprintf(why, whylen, "  The configured token %s is the base64 "
		    "encoding of the token sent plus a newline ('echo ... | "
		    "base64' without -n).", fp);
		return;
	}
	if (len > 2 && (tok[0] == '"' || tok[0] == '\'') &&
	    tok[len - 1] == tok[0] && diag_fp_known(in, tok + 1, len - 2, fp)) {
		snprintf(why, whylen, "  Without its quotes it is the "
		    "configured token %s: the quotes are part of the value in "
		    "argocd-notifications-secret.", fp);
		return;
	}
}

static void
diag_auth(struct diag_ctx *x)
{
	const struct diag_input	*in = x->in;
	const char		*h = in->authorization, *p, *tok;
	char			 fp[CRYPTO_FP_LEN], why[512], shape[160], *t;
	char			*ref;
	size_t			 len, tlen, klen, words, i, n;

	if (!in->auth_checked)
		return;
	if (in->auth == AUTH_OK) {
		if (in->who != NULL && in->who->type == PRINCIPAL_USER &&
		    x->post && x->create)
			diag_add(x->res, "auth-user-token", DIAG_ERROR,
			    xstrdup("A Backstage user token was used to send: "
			    "only service credentials may create "
			    "notifications.  Backstage answers 403 \"This "
			    "endpoint does not allow 'user' credentials\" "
			    "once the body is valid."),
			    diag_fmt("token %s is the user token of %s",
			    diag_presented_fp(h, fp), in->who->subject ?
			    in->who->subject : "a user"),
			    xstrdup("Configure a static token in Backstage "
			    "(backend.auth.externalAccess: - type: static, "
			    "options: {token: ..., subject: "
			    "argocd-notifications}; notimock: --token) and "
			    "send "
			    "that one: put it in argocd-notifications-secret "
			    "and reference it as Authorization: Bearer "
			    "$backstage-token."));
		return;
	}
	if (in->auth == AUTH_INVALID) {
		/* A user JWT that failed verification; the answer says so,
		 * and only a sender needs to hear that it is the wrong kind
		 * of token anyway. */
		if (!x->post || !x->create)
			return;
		diag_add(x->res, "auth-user-token", DIAG_ERROR,
		    xstrdup("A Backstage user token that fails verification: "
		    "user tokens expire after an hour, or this one was issued "
		    "by another backend.  Backstage answers 401, and even a "
		    "valid user token may not create notifications (403)."),
		    diag_fmt("token %s is a user JWT",
		    diag_presented_fp(h, fp)),
		    xstrdup("Configure a static token under "
		    "backend.auth.externalAccess (notimock: --token) and send "
		    "that one from argocd-notifications-secret."));
		return;
	}
	if (in->auth == AUTH_RESTRICTED) {
		diag_add(x->res, "auth-restricted", DIAG_ERROR,
		    xstrdup("The token is valid but its accessRestrictions "
		    "do not list the notifications plugin, so Backstage "
		    "answers 403."),
		    diag_fmt("token %s", diag_presented_fp(h, fp)),
		    xstrdup("Add - plugin: notifications to accessRestrictions "
		    "of that backend.auth.externalAccess entry, or use a token "
		    "without restrictions."));
		return;
	}
	if (h == NULL) {
		diag_add(x->res, "auth-missing", DIAG_ERROR,
		    xstrdup("No Authorization header: Backstage answers 401 "
		    "\"Missing credentials\" to every request without one."),
		    xstrdup("no Authorization header"),
		    xstrdup("Add the header to service.webhook.backstage:\n"
		    "  headers:\n"
		    "  - name: Authorization\n"
		    "    value: Bearer $backstage-token\n"
		    "and the key backstage-token, holding a token from "
		    "backend.auth.externalAccess (notimock: --token), to the "
		    "Secret argocd-notifications-secret."));
		return;
	}
	if (strncasecmp(h, "basic", 5) == 0 && (h[5] == ' ' || h[5] == '\0')) {
		diag_add(x->res, "auth-basic", DIAG_ERROR,
		    xstrdup("Basic credentials: the service has basicAuth "
		    "configured, which Argo CD applies after the headers, so "
		    "it replaces any Authorization header.  Backstage only "
		    "reads Bearer tokens and answers 401 \"Missing "
		    "credentials\"."),
		    xstrdup("Authorization: Basic <credentials hidden>"),
		    xstrdup("Remove basicAuth from service.webhook.backstage "
		    "and add a header instead:\n"
		    "  headers:\n"
		    "  - name: Authorization\n"
		    "    value: Bearer $backstage-token"));
		return;
	}
	tok = diag_auth_token(h, &tlen);
	if (strstr(h, "{{") != NULL) {
		/* Only a whole template is shown: text around or after an
		 * unclosed {{ may be a real token. */
		if (diag_is_template(tok, tlen)) {
			t = diag_escape((const unsigned char *)tok,
			    tlen < 80 ? tlen : 80);
			ref = diag_fmt("Authorization contains %s%s", t,
			    tlen > 80 ? "..." : "");
			free(t);
		} else {
			diag_token_shape(tok, tlen, 1, shape, sizeof shape);
			ref = diag_fmt("Authorization: %s%s, not one whole "
			    "{{ ... }}", tok != h ? "Bearer " : "", shape);
		}
		diag_add(x->res, "auth-template", DIAG_ERROR,
		    xstrdup("Template syntax in the Authorization header: "
		    "service configuration is not a template "
		    "(argoproj/argo-cd#17626), so it is sent as written."),
		    ref,
		    xstrdup("Use $key substitution instead: value: Bearer "
		    "$backstage-token, with backstage-token a key of "
		    "argocd-notifications-secret."));
		return;
	}
	if ((klen = diag_ref_key(tok, tlen)) != 0) {
		/* The whole token is a reference Argo CD left as written:
		 * it names a secret key, it is not one. */
		if (klen > 80)
			klen = 80;
		ref = diag_fmt("$%.*s", (int)klen, tok + 1);
		t = diag_fmt("%.*s%s", (int)(tlen < 80 ? tlen : 80), tok,
		    tlen > 80 ? "..." : "");
		diag_add(x->res, "auth-unresolved-secret", DIAG_ERROR,
		    diag_fmt("The header carries the literal reference %s: "
		    "Argo CD replaces $key with that key of "
		    "argocd-notifications-secret, and leaves the text as it "
		    "is when the key does not exist.  Backstage answers 401 "
		    "\"%s\".  The controller logs \"config referenced '...%s', "
		    "but key does not exist in secret\".", t,
		    in->auth == AUTH_ILLEGAL ? "Illegal token" :
		    "Missing credentials", ref),
		    diag_fmt("Authorization: %s%s", tok != h ? "Bearer " : "",
		    t),
		    diag_fmt("Add the key %s to the Secret "
		    "argocd-notifications-secret in Argo CD's namespace, e.g. "
		    "kubectl -n argocd patch secret "
		    "argocd-notifications-secret "
		    "--type merge -p '{\"stringData\":{\"%s\":\"<a token from "
		    "backend.auth.externalAccess>\"}}'.  Key names may contain "
		    "only letters, digits, _ and -.", ref + 1, ref + 1));
		free(t);
		free(ref);
		return;
	}
	if (in->auth == AUTH_ILLEGAL) {
		/* A well-formed bearer header: its token matched nothing. */
		if (diag_user_jwt(tok, tlen)) {
			diag_add(x->res, "auth-user-token", DIAG_ERROR,
			    xstrdup("A Backstage user token (a JWT of type "
			    "vnd.backstage.user) that this backend does not "
			    "accept: user tokens expire after an hour, and "
			    "only "
			    "service credentials may create notifications "
			    "anyway."),
			    diag_fmt("token %s is a user JWT",
			    crypto_fingerprint(tok, tlen, fp)),
			    xstrdup("Configure a static token under "
			    "backend.auth.externalAccess (notimock: --token) "
			    "and send that one from "
			    "argocd-notifications-secret."
			    ));
			return;
		}
		/*
		 * The configured tokens' fingerprints stay in the start-up
		 * log (the operator's); the token sent is shown keyed, so
		 * that attempts of this run can be told apart.
		 */
		n = diag_ntokens(in);
		diag_token_near(in, tok, tlen, why, sizeof why);
		diag_token_shape(tok, tlen, n > 0, shape, sizeof shape);
		diag_add(x->res, "auth-unknown-token", DIAG_ERROR,
		    diag_fmt("The bearer token matches %s, so Backstage "
		    "answers 401 \"Illegal token\".%s", n > 0 ? "no configured "
		    "token" : "nothing: no service token is configured", why),
		    n == 1 ? diag_fmt("sent %s, which does not match the one "
		    "configured token", shape) :
		    n > 1 ? diag_fmt("sent %s, which matches none of the %zu "
		    "configured tokens", shape, n) :
		    diag_fmt("sent %s; no service token is configured", shape),
		    xstrdup(n > 0 ?
		    "Put the same string in backend.auth.externalAccess[]."
		    "options.token (notimock: --token) and in "
		    "argocd-notifications-secret: tokens are compared "
		    "verbatim.  notimock logs the fingerprint of each "
		    "configured token at start-up (\"accepting service token "
		    "hmac:...\"), in the same keyed form as here; get the "
		    "secret's from the running server: kubectl get secret "
		    "argocd-notifications-secret -o "
		    "jsonpath='{.data.backstage-token}' | base64 -d | "
		    "notimock fingerprint --url URL" :
		    "notimock has no service token: start it with --token "
		    "TOKEN (or ARGOCD_NOTIFICATION_TOKEN, or "
		    "backend.auth.externalAccess in --config) and put the same "
		    "string in argocd-notifications-secret."));
		return;
	}

	/* AUTH_MISSING with a header that is not ^Bearer[ ]+(\S+)$. */
	why[0] = '\0';
	if (strncasecmp(h, "bearer", 6) == 0) {
		p = h + 6;
		if (*p == '\0' || strspn(p, " ") == strlen(p)) {
			snprintf(why, sizeof why, "'Bearer' with no token "
			    "after "
			    "it: the secret key exists but is empty");
		} else if (*p != ' ') {
			snprintf(why, sizeof why, "'Bearer' not followed by a "
			    "space");
		} else {
			for (tok = p; *tok == ' '; tok++)
				;
			len = strcspn(tok, " \t");
			diag_token_shape(tok, len, 1, shape, sizeof shape);
			words = diag_words(tok + len);
			snprintf(why, sizeof why, "Bearer %s followed by %zu "
			    "more word%s: the token must be the last and only "
			    "thing after 'Bearer '", shape, words,
			    words == 1 ? "" : "s");
		}
	} else if (strchr(h, ' ') == NULL) {
		diag_token_shape(h, strlen(h), 1, shape, sizeof shape);
		snprintf(why, sizeof why, "a bare token %s without the "
		    "Bearer scheme", shape);
	} else {
		/* Another scheme is named only in our own spelling; an
		 * unknown first word may be the token itself. */
		len = strcspn(h, " ");
		for (i = 0; i < DIAG_NSCHEMES; i++)
			if (strlen(diag_schemes[i]) == len &&
			    strncasecmp(h, diag_schemes[i], len) == 0)
				break;
		if (i < DIAG_NSCHEMES)
			snprintf(why, sizeof why, "the scheme '%s' instead of "
			    "Bearer", diag_schemes[i]);
		else {
			diag_token_shape(h, len, 1, shape, sizeof shape);
			words = diag_words(h + len);
			snprintf(why, sizeof why, "%s followed by %zu more "
			    "word%s where 'Bearer <token>' belongs", shape,
			    words, words == 1 ? "" : "s");
		}
	}
	diag_add(x->res, "auth-malformed", DIAG_ERROR,
	    xstrdup("The Authorization header is not 'Bearer <token>', so "
	    "Backstage treats the request as having no credentials and "
	    "answers 401 \"Missing credentials\"."),
	    diag_fmt("Authorization: %s", why),
	    xstrdup("Write the header exactly as value: Bearer "
	    "$backstage-token (the word Bearer, one space, the token) and "
	    "keep a non-empty token under that key in "
	    "argocd-notifications-secret."));
}

/* --- the body ---------------------------------------------------------- */

/* Cause and fix of a JSON syntax error, read from the bytes around it. */
static void
diag_json_cause(struct diag_ctx *x, size_t pos, int eos, char **cause,
    const char **fix)
{
	const unsigned char	*b = x->in->body;
	size_t			 len = x->in->body_len, i;
	const char		*m = x->jerr;
	char			 key[80], *cn, inkey[120];
	int			 c = !eos && pos < len ? b[pos] : -1;
	int			 prev = -1;

	for (i = pos; i > 0 && i <= len; i--)
		if (!diag_ws(b[i - 1])) {
			prev = b[i - 1];
			break;
		}
	diag_raw_key(b, pos, key, sizeof key);
	if (key[0] != '\0')
		snprintf(inkey, sizeof inkey, " (in the value of \"%s\")", key);
	else
		inkey[0] = '\0';

	*fix = "Do not put template values between quotes: pipe them through "
	    "toJson (or toRawJson, which leaves < > & unescaped) and drop "
	    "the quotes, e.g. \"description\": "
	    "{{ .app.status.operationState.message | toJson }}.";
	if (x->kind == BODY_TEXT) {
		*cause = xstrdup("The body is text, not JSON: the template's "
		    "webhook body: renders prose (for example a copy of "
		    "message:).");
		*fix = "Write a JSON body under webhook.backstage.body: "
		    "{\"recipients\":{\"type\":\"entity\",\"entityRef\":...},"
		    "\"payload\":{\"title\":...}}.";
	} else if (strncmp(m, "Bad control character", 21) == 0) {
		cn = diag_char_name(c);
		cn[0] = (char)toupper((unsigned char)cn[0]);
		*cause = diag_fmt("%s inside a string%s: a template value was "
		    "inserted between quotes without escaping, typically "
		    "\"{{.app.status.operationState.message}}\", whose failure "
		    "messages can span lines.", cn, inkey);
		free(cn);
	} else if (strncmp(m, "Bad escaped character", 21) == 0) {
		*cause = diag_fmt("A Go escape that JSON does not have "
		    "(\\a, \\v or \\xNN)%s: sprig's quote (Go's %%q) writes "
		    "control bytes that way.", inkey);
		*fix = "Use toJson instead of quote: \"description\": "
		    "{{ .app.status.operationState.message | toJson }}.";
	} else if ((strncmp(m, "Expected ',' or '}'", 19) == 0 ||
	    strncmp(m, "Expected ',' or ']'", 19) == 0) && prev == '"') {
		*cause = diag_fmt("A double quote inside a string value ended "
		    "the string early%s: a template value that contains \" was "
		    "inserted between quotes unescaped (failure messages quote "
		    "object names: error when patching \"/dev/shm/...\").",
		    inkey);
	} else if (c == '<' && pos + DIAG_NOVALUE_LEN <= len &&
	    memcmp(b + pos, DIAG_NOVALUE, DIAG_NOVALUE_LEN) == 0) {
		*cause = diag_fmt("An unquoted <no value>%s: a template field "
		    "that does not exist, written without quotes or toJson.",
		    inkey);
		*fix = "Pipe the value through toJson, which renders a missing "
		    "field as null, or give it a default: "
		    "{{ .x | default \"\" | toJson }}.";
	} else if (c == 'm' && pos + 4 <= len && memcmp(b + pos, "map[", 4) ==
	    0) {
		*cause = diag_fmt("Go's map syntax where JSON belongs%s: a "
		    "template printed a whole object, e.g. "
		    "{{.app.status.health}} gives map[status:Healthy].", inkey);
		*fix = "Refer to the leaf (.app.status.health.status) or pipe "
		    "the object through toJson.";
	} else if ((c == '}' || c == ',' || c == ']') && prev == ':') {
		*cause = diag_fmt("A value is missing%s: sprig's quote renders "
		    "nothing at all for a missing field, so "
		    "{\"title\":{{ quote .x }}} becomes {\"title\":}.", inkey);
		*fix = "Use toJson, which renders a missing field as null, or "
		    "add a default before quoting: {{ .x | default \"\" | "
		    "quote }}.";
	} else if (eos || strncmp(m, "Unexpected end", 14) == 0) {
		*cause = xstrdup("The body ends before the JSON does: the "
		    "template is cut short (an {{ if }} branch that drops the "
		    "end, or a body: block cut by YAML indentation).");
		*fix = "Check the template's body: for a closing } or ] on "
		    "every path, and indent the whole block scalar.";
	} else if (strncmp(m, "Unexpected non-whitespace", 25) == 0) {
		*cause = xstrdup("Text after a complete JSON value: two "
		    "objects in one body, or a stray character after the last "
		    "}.");
		*fix = "Make the body: one JSON object.";
	} else {
		*cause = diag_fmt("The template rendered something that is not "
		    "JSON here%s.", inkey);
	}
}

static void
diag_invalid_json(struct diag_ctx *x)
{
	const struct diag_input	*in = x->in;
	size_t			 pos, line, col;
	/* The parser may place an error at the very end (pos == len), past
	 * the last byte: that is the end of the body too (fuzz_diag). */
	int			 eos = x->jpos < 0 ||
				    (size_t)x->jpos >= in->body_len;
	char			*cause, *snip, *cn, *answer;
	const char		*fix;

	if (x->jerr == NULL)
		return;
	/* A GET of catalog text is explained by get-with-body. */
	if (x->kind == BODY_TEXT && diag_has(x->res, "get-with-body"))
		return;
	pos = eos ? in->body_len : (size_t)x->jpos;
	diag_linecol(in->body, in->body_len, pos, &line, &col);
	diag_json_cause(x, pos, eos, &cause, &fix);
	if (eos) {
		snip = diag_snippet(in->body, in->body_len, pos, 40, 0);
		cn = diag_fmt("at the end of the body (line %zu, column %zu): "
		    "%s",
		    line, col, snip);
	} else {
		snip = diag_snippet(in->body, in->body_len, pos, 40, 20);
		answer = diag_char_name(in->body[pos]);
		cn = diag_fmt("line %zu, column %zu, at %s: %s", line, col,
		    answer, snip);
		free(answer);
	}
	if (in->offline)
		answer = diag_fmt("Backstage would answer 400 \"%s\".",
		    x->jerr);
	else if (in->response != NULL && diag_memmem((const unsigned char *)
	    in->response, in->response_len, "InputError", 10) != NULL &&
	    in->json_error != NULL)
		answer = diag_fmt("Backstage answers 400 \"%s\".", x->jerr);
	else
		answer = diag_fmt("Once the problems above are fixed, "
		    "Backstage "
		    "will answer 400 \"%s\".", x->jerr);
	diag_add(x->res, "invalid-json", DIAG_ERROR,
	    diag_fmt("The body is not valid JSON.  %s  %s", cause, answer),
	    cn, xstrdup(fix));
	free(cause);
	free(snip);
	free(answer);
}

/* A <no value> found in the parsed body: its path and string. */
struct diag_nv {
	char		 path[128];
	const char	*value;
	size_t		 count;		/* occurrences in the value */
};

static void
diag_nv_walk(const struct json *v, char *path, size_t plen, size_t used,
    struct diag_nv *out, size_t *n, int depth)
{
	const struct json	*c;
	const char		*s, *k;
	size_t			 i, add;

	if (*n == DIAG_NOVALUE_MAX || depth > 64)
		return;
	switch (json_type(v)) {
	case JSON_STRING:
		s = json_string(v);
		if ((k = strstr(s, DIAG_NOVALUE)) == NULL)
			return;
		snprintf(out[*n].path, sizeof out[*n].path, "%s",
		    used ? path : "(top level)");
		out[*n].value = s;
		for (out[*n].count = 0; k != NULL; out[*n].count++)
			k = strstr(k + DIAG_NOVALUE_LEN, DIAG_NOVALUE);
		(*n)++;
		return;
	case JSON_OBJECT:
		for (c = json_first(v); c != NULL; c = json_next(c)) {
			k = json_key(c);
			add = (size_t)snprintf(path + used, plen - used, "%s%s",
			    used ? "." : "", k);
			if (used + add >= plen)
				add = plen - used - 1;
			diag_nv_walk(c, path, plen, used + add, out, n,
			    depth + 1);
			path[used] = '\0';
		}
		return;
	case JSON_ARRAY:
		for (c = json_first(v), i = 0; c != NULL; c = json_next(c),
		    i++) {
			add = (size_t)snprintf(path + used, plen - used,
			    "[%zu]", i);
			if (used + add >= plen)
				add = plen - used - 1;
			diag_nv_walk(c, path, plen, used + add, out, n,
			    depth + 1);
			path[used] = '\0';
		}
		return;
	default:
		return;
	}
}

/* Cause, fix and level of a <no value> in a field. */
static void
diag_nv_cause(const char *field, const char *value, const char **cause,
    const char **fix, enum diag_level *level)
{
	char	leaf[64];

	diag_leaf(field, leaf, sizeof leaf);
	*level = DIAG_WARNING;
	if (strcasecmp(leaf, "entityRef") == 0 ||
	    strcasecmp(leaf, "excludeEntityRef") == 0) {
		*level = DIAG_ERROR;
		*cause = "The Application has no backstage.io/entity-ref "
		    "annotation, so {{index .app.metadata.annotations "
		    "\"backstage.io/entity-ref\"}} rendered <no value>.  "
		    "Backstage answers 400 \"Entity reference \\\"<no "
		    "value>\\\" "
		    "had missing or empty kind\" when the whole ref is "
		    "missing, "
		    "and silently reaches nobody when part of it is.";
		*fix = "Add the annotation to the Application:\n"
		    "  metadata:\n"
		    "    annotations:\n"
		    "      backstage.io/entity-ref: component:default/<name>\n"
		    "or fall back in the template: {{ index "
		    ".app.metadata.annotations \"backstage.io/entity-ref\" | "
		    "default \"group:default/platform\" | toJson }}.";
	} else if (strcasecmp(leaf, "link") == 0 && value != NULL &&
	    strncmp(value, DIAG_NOVALUE, DIAG_NOVALUE_LEN) == 0) {
		*cause = "context.argocdUrl is not set, so "
		    "{{.context.argocdUrl}} rendered <no value>.  Backstage "
		    "accepts the link and resolves it under app.baseUrl, so it "
		    "leads nowhere.";
		*fix = "Set argocdUrl in argocd-notifications-cm:\n"
		    "  context: |\n"
		    "    argocdUrl: https://argocd.example.com\n"
		    "(with the argo-cd Helm chart: notifications.argocdUrl, "
		    "or global.domain).";
	} else if (diag_icontains(leaf, "revision") ||
	    diag_icontains(leaf, "commit") ||
	    (value != NULL && (diag_icontains(value, "revision") ||
	    diag_icontains(value, "commit")))) {
		*cause = "A multi-source Application has "
		    ".app.status.sync.revisions (a list) and no .revision, so "
		    "{{.app.status.sync.revision}} (or "
		    "operationState.syncResult.revision) rendered <no value>.";
		*fix = "Use the list for multi-source apps: {{ "
		    ".app.status.sync.revisions | toJson }}, or {{ index "
		    ".app.status.sync.revisions 0 }}; or wrap it: {{ "
		    ".app.status.sync.revision | default \"\" }}.";
	} else if (strcmp(field, "path") == 0) {
		*level = DIAG_ERROR;
		*cause = "The template's path: refers to a field that does not "
		    "exist; Go then percent-encodes <no value> into the URL "
		    "and "
		    "Backstage answers an empty 404.";
		*fix = "Fix the field in the template's webhook.backstage.path "
		    "(it should be /notifications), or give it a default.";
	} else {
		*cause = "The template refers to a field that the Application "
		    "does not have (a typo, a missing annotation or label, or "
		    ".app.status.operationState before the first sync), and Go "
		    "templates render a missing field as <no value>.";
		*fix = "Check the field's path against the Application "
		    "(kubectl get application <name> -o yaml), or give it a "
		    "default: {{ .x | default \"n/a\" }}.";
	}
}

/* One no-value diagnosis: field, and where in the body. */
static void
diag_nv_add(struct diag_ctx *x, const char *field, size_t pos,
    const char *value, const char *cause, const char *fix,
    enum diag_level level)
{
	const struct diag_input	*in = x->in;
	size_t			 line, col;
	char			*snip, *v;

	diag_linecol(in->body, in->body_len, pos, &line, &col);
	snip = diag_snippet(in->body, in->body_len, pos, 30, 30);
	if (value != NULL) {
		v = diag_escape((const unsigned char *)value,
		    strlen(value) < 120 ? strlen(value) : 120);
		diag_add(x->res, "no-value", level, diag_fmt("<no value> in "
		    "%s.  %s", field, cause), diag_fmt("%s = \"%s\" (line %zu, "
		    "column %zu): %s", field, v, line, col, snip),
		    xstrdup(fix));
		free(v);
	} else
		diag_add(x->res, "no-value", level, diag_fmt("<no value> in "
		    "%s.  %s", field, cause), diag_fmt("%s (line %zu, column "
		    "%zu): %s", field, line, col, snip), xstrdup(fix));
	free(snip);
}

static void
diag_no_value(struct diag_ctx *x)
{
	const struct diag_input	*in = x->in;
	const unsigned char	*b = in->body, *p;
	size_t			 len = in->body_len;
	size_t			 pos[DIAG_NOVALUE_MAX * 4];
	size_t			 npos = 0, nnv = 0, i, at;
	struct diag_nv		 nv[DIAG_NOVALUE_MAX];
	char			 path[128], key[80], last[80], *val;
	const char		*cause, *fix, *field, *value;
	size_t			 plen;
	enum diag_level		 level;

	/* In the URL first: Go percent-encodes it there. */
	if (in->path != NULL && strstr(in->path, DIAG_NOVALUE) != NULL) {
		diag_nv_cause("path", NULL, &cause, &fix, &level);
		/* The path as sent, without the query (it may hold a secret). */
		plen = strcspn(in->uri, "?");
		val = diag_escape((const unsigned char *)in->uri,
		    plen < 200 ? plen : 200);
		diag_add(x->res, "no-value", level, diag_fmt("<no value> in "
		    "the request path.  %s", cause), diag_fmt("path %s", val),
		    xstrdup(fix));
		free(val);
	}
	for (p = b; npos < sizeof pos / sizeof pos[0] && p < b + len;
	    p += DIAG_NOVALUE_LEN) {
		p = diag_memmem(p, (size_t)(b + len - p), DIAG_NOVALUE,
		    DIAG_NOVALUE_LEN);
		if (p == NULL)
			break;
		pos[npos++] = (size_t)(p - b);
	}
	if (npos == 0)
		return;

	/* The parsed tree names each field; its strings hold the raw
	 * occurrences in document order. */
	if (x->json != NULL) {
		path[0] = '\0';
		diag_nv_walk(x->json, path, sizeof path, 0, nv, &nnv, 0);
	}
	if (nnv > 0) {
		for (i = 0, at = 0; i < nnv; at += nv[i].count, i++) {
			diag_nv_cause(nv[i].path, nv[i].value, &cause, &fix,
			    &level);
			diag_nv_add(x, nv[i].path, at < npos ? pos[at] : len,
			    nv[i].value, cause, fix, level);
		}
		return;
	}
	/* Broken JSON: the field from the raw bytes, once per field. */
	last[0] = '\0';
	for (i = 0; i < npos && i < DIAG_NOVALUE_MAX; i++) {
		diag_raw_key(b, pos[i], key, sizeof key);
		field = key[0] != '\0' ? key : "the body";
		if (strcmp(field, last) == 0)
			continue;
		snprintf(last, sizeof last, "%s", field);
		/* A string value that starts with it, or NULL. */
		value = pos[i] > 0 && b[pos[i] - 1] == '"' ?
		    (const char *)b + pos[i] : NULL;
		val = NULL;
		if (value != NULL) {
			p = memchr(b + pos[i], '"', len - pos[i]);
			val = xstrndup(value, p != NULL ? (size_t)(p -
			    (b + pos[i])) : len - pos[i]);
		}
		diag_nv_cause(field, val, &cause, &fix, &level);
		diag_nv_add(x, field, pos[i], val, cause, fix, level);
		free(val);
	}
}

/*
 * A Go byte list, "[115 51 99 ...]": at least four numbers up to 255, one
 * space apart.  Returns its start, or NULL; fills its length, the number
 * count and the decoded bytes.
 */
static const unsigned char *
diag_find_bytelist(const unsigned char *b, size_t len, size_t *span,
    size_t *count, unsigned char *dec, size_t declen)
{
	const unsigned char	*p, *q, *end = b + len;
	size_t			 n, digits;
	unsigned int		 v;

	for (p = b; p < end && (p = memchr(p, '[', (size_t)(end - p))) !=
	    NULL; p++) {
		q = p + 1;
		n = 0;
		for (;;) {
			v = 0;
			for (digits = 0; q < end && isdigit(*q) && digits < 4;
			    digits++, q++)
				v = v * 10 + (unsigned int)(*q - '0');
			if (digits == 0 || digits > 3 || v > 255)
				break;
			if (n < declen)
				dec[n] = (unsigned char)v;
			n++;
			if (q < end && *q == ']') {
				if (n >= 4) {
					*span = (size_t)(q + 1 - p);
					*count = n;
					return (p);
				}
				break;
			}
			if (q >= end || *q != ' ')
				break;
			q++;
		}
	}
	return (NULL);
}

static void
diag_byte_list(struct diag_ctx *x, const unsigned char *b, size_t len,
    const char *where_default)
{
	const struct diag_input	*in = x->in;
	const unsigned char	*p;
	unsigned char		 dec[256];
	size_t			 span, count, line, col;
	char			 key[80], fp[CRYPTO_FP_LEN], head[64];
	char			*where;
	char			 match[128];
	int			 known;

	if ((p = diag_find_bytelist(b, len, &span, &count, dec, sizeof dec)) ==
	    NULL)
		return;
	/* Show none of the numbers: the list IS the secret. */
	snprintf(head, sizeof head, "[%zu numbers, each 0-255]", count);
	known = diag_fp_known(in, dec, count < sizeof dec ? count : sizeof dec,
	    fp);
	if (known)
		snprintf(match, sizeof match, ", which is the configured token "
		    "%s", fp);
	else
		snprintf(match, sizeof match, " (fingerprint %s)", fp);
	if (where_default == NULL) {
		diag_raw_key(b, (size_t)(p - b), key, sizeof key);
		diag_linecol(b, len, (size_t)(p - b), &line, &col);
		where = diag_fmt("%s (line %zu, column %zu)", key[0] != '\0' ?
		    key : "the body", line, col);
	} else
		where = xstrdup(where_default);
	diag_add(x->res, "go-byte-list", DIAG_ERROR,
	    diag_fmt("A Go byte list where text belongs: .secrets values are "
	    "byte slices, so {{ .secrets.x }} renders the secret as a list of "
	    "numbers.  This one decodes to %zu bytes%s.", count, match),
	    diag_fmt("%s: %s", where, head),
	    xstrdup("Convert the secret to text in the template: "
	    "{{ .secrets.x | toString }} or {{ printf \"%s\" .secrets.x }} "
	    "(toJson would give base64)."));
	free(where);
}

static void
diag_go_map(struct diag_ctx *x)
{
	const struct diag_input	*in = x->in;
	const unsigned char	*p, *q, *close, *end;
	size_t			 line, col;
	char			 key[80], *snip;

	end = in->body + in->body_len;
	for (p = in->body;; p = q + 4) {
		if ((q = diag_memmem(p, (size_t)(end - p), "map[", 4)) == NULL)
			return;
		/* map[key:value ...]: a ':' before the ']' */
		close = memchr(q, ']', (size_t)(end - q) < 200 ?
		    (size_t)(end - q) : 200);
		if (close != NULL && memchr(q, ':', (size_t)(close - q)) !=
		    NULL)
			break;
	}
	diag_raw_key(in->body, (size_t)(q - in->body), key, sizeof key);
	diag_linecol(in->body, in->body_len, (size_t)(q - in->body), &line,
	    &col);
	snip = diag_snippet(in->body, in->body_len, (size_t)(q - in->body), 10,
	    40);
	diag_add(x->res, "go-map", DIAG_WARNING,
	    xstrdup("Go's map syntax in the body: the template printed a whole "
	    "object, e.g. {{.app.status.health}} renders "
	    "map[status:Healthy], not JSON."),
	    diag_fmt("%s (line %zu, column %zu): %s", key[0] ? key : "the body",
	    line, col, snip),
	    xstrdup("Refer to the leaf ({{.app.status.health.status}}) or pipe "
	    "the object through toJson."));
	free(snip);
}

/* --- field values ------------------------------------------------------ */

static const char *
diag_severity_guess(const char *s)
{
	static const struct {
		const char	*from, *to;
	} map[] = {
		{ "urgent", "critical" }, { "fatal", "critical" },
		{ "error", "critical" }, { "warning", "high" },
		{ "warn", "high" }, { "major", "high" },
		{ "medium", "normal" }, { "moderate", "normal" },
		{ "info", "low" }, { "minor", "low" }, { "debug", "low" },
	};
	size_t	i;

	for (i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcasecmp(s, map[i].from) == 0)
			return (map[i].to);
	return ("normal");
}

/* An entity ref Backstage's parseEntityRef refuses. */
static void
diag_entity_ref(struct diag_ctx *x, const char *ref)
{
	struct entity_ref	 er;
	char			 errname[32], msg[512], *t;

	/* <no value> is explained by its own diagnosis. */
	if (ref == NULL || strstr(ref, DIAG_NOVALUE) != NULL)
		return;
	if (entity_parse(ref, &er, errname, sizeof errname, msg,
	    sizeof msg) == 0) {
		entity_ref_clear(&er);
		return;
	}
	t = diag_escape((const unsigned char *)ref,
	    strlen(ref) < 80 ? strlen(ref) : 80);
	if (strstr(msg, "missing or empty kind") != NULL)
		diag_add(x->res, "entity-ref-kind", DIAG_ERROR,
		    diag_fmt("The entity ref \"%s\" has no kind: Backstage "
		    "answers 400 \"Failed to send user notifications; caused "
		    "by %s: %s\".", t, errname, msg),
		    diag_fmt("recipients.entityRef = \"%s\"", t),
		    xstrdup("Use a full ref, kind:namespace/name, e.g. "
		    "component:default/my-app or user:default/guest; check the "
		    "backstage.io/entity-ref annotation."));
	else
		diag_add(x->res, "entity-ref-invalid", DIAG_ERROR,
		    diag_fmt("The entity ref \"%s\" does not parse: Backstage "
		    "answers 400 \"Failed to send user notifications; caused "
		    "by %s: %s\".", t, errname, msg),
		    diag_fmt("recipients.entityRef = \"%s\"", t),
		    xstrdup("Use kind:namespace/name, e.g. "
		    "component:default/my-app."));
	free(t);
}

static void
diag_fields(struct diag_ctx *x)
{
	const struct diag_input	*in = x->in;
	const struct json	*payload, *recip, *e, *refs;
	const char		*sev, *type, *link, *base;
	char			 low[16], *t;
	size_t			 i;
	enum url_check		 uc;

	if (json_type(x->json) != JSON_OBJECT)
		return;
	payload = json_get(x->json, "payload");
	recip = json_get(x->json, "recipients");

	if (recip == NULL && (json_get(x->json, "title") != NULL ||
	    json_get(x->json, "message") != NULL ||
	    json_get(x->json, "targetUsers") != NULL ||
	    json_get(x->json, "targetGroups") != NULL ||
	    json_get(x->json, "actions") != NULL)) {
		diag_add(x->res, "legacy-body", DIAG_ERROR,
		    xstrdup("The body has the pre-upstream notifications "
		    "format "
		    "(title, message, targetUsers...) of the old Janus/RHDH "
		    "plugin, a different API.  Backstage answers 400 "
		    "\"request/body must have required property "
		    "'recipients'\"."),
		    xstrdup("top-level title/message/targetUsers/targetGroups/"
		    "actions and no recipients"),
		    xstrdup("Send {\"recipients\":{\"type\":\"entity\","
		    "\"entityRef\":\"component:default/<name>\"},\"payload\":"
		    "{\"title\":\"...\",\"description\":\"...\"}}."));
		return;
	}

	/* Backstage checks these itself: an accepted send passed them. */
	if (!in->offline && in->status == 200)
		return;

	type = json_string(json_get(recip, "type"));
	if (json_type(recip) == JSON_OBJECT && type != NULL &&
	    strcmp(type, "entity") != 0 && strcmp(type, "broadcast") != 0) {
		t = diag_escape((const unsigned char *)type,
		    strlen(type) < 40 ? strlen(type) : 40);
		diag_add(x->res, "recipients-type", DIAG_ERROR,
		    diag_fmt("recipients.type is \"%s\": Backstage knows only "
		    "\"entity\" and \"broadcast\"%s, and answers 400 with its "
		    "oneOf message.", t, strcasecmp(type, "entity") == 0 ||
		    strcasecmp(type, "broadcast") == 0 ? " (in lower case)" :
		    ""), diag_fmt("recipients.type = \"%s\"", t),
		    xstrdup("Use \"type\":\"entity\" with an entityRef "
		    "(user:default/alice, group:default/team-a or "
		    "component:default/my-app), or \"type\":\"broadcast\"."));
		free(t);
	}
	refs = json_get(recip, "entityRef");
	if (type != NULL && strcmp(type, "entity") == 0) {
		if (json_type(refs) == JSON_STRING)
			diag_entity_ref(x, json_string(refs));
		for (e = json_type(refs) == JSON_ARRAY ? json_first(refs) :
		    NULL; e != NULL; e = json_next(e))
			diag_entity_ref(x, json_string(e));
	}

	sev = json_string(json_get(payload, "severity"));
	if (sev != NULL && strcmp(sev, "critical") != 0 &&
	    strcmp(sev, "high") != 0 && strcmp(sev, "normal") != 0 &&
	    strcmp(sev, "low") != 0) {
		for (i = 0; sev[i] != '\0' && i + 1 < sizeof low; i++)
			low[i] = (char)tolower((unsigned char)sev[i]);
		low[i] = '\0';
		t = diag_escape((const unsigned char *)sev,
		    strlen(sev) < 40 ? strlen(sev) : 40);
		if (sev[i] == '\0' && (strcmp(low, "critical") == 0 ||
		    strcmp(low, "high") == 0 || strcmp(low, "normal") == 0 ||
		    strcmp(low, "low") == 0))
			diag_add(x->res, "severity-case", DIAG_ERROR,
			    diag_fmt("payload.severity is \"%s\": severities "
			    "are lower case, and Backstage answers 400 "
			    "\"request/body/payload/severity must be equal to "
			    "one of the allowed values: critical, high, "
			    "normal, low\".", t),
			    diag_fmt("payload.severity = \"%s\"", t),
			    diag_fmt("Write \"severity\":\"%s\" (or pipe the "
			    "value through lower).", low));
		else
			diag_add(x->res, "severity-unknown", DIAG_ERROR,
			    diag_fmt("payload.severity is \"%s\", which "
			    "Backstage does not know: it answers 400 "
			    "\"request/body/payload/severity must be equal to "
			    "one of the allowed values: critical, high, "
			    "normal, low\".", t),
			    diag_fmt("payload.severity = \"%s\"", t),
			    diag_fmt("Use one of critical, high, normal, low "
			    "(probably \"%s\"), or leave severity out for "
			    "normal.", diag_severity_guess(sev)));
		free(t);
	}

	link = json_string(json_get(payload, "link"));
	if (link != NULL && *link != '\0' &&
	    strstr(link, DIAG_NOVALUE) == NULL) {
		base = in->base_url != NULL ? in->base_url :
		    "http://localhost:3000/";
		if ((uc = url_check_link(link, base)) != URL_OK) {
			t = diag_escape((const unsigned char *)link,
			    strlen(link) < 120 ? strlen(link) : 120);
			if (uc == URL_NOT_HTTP)
				diag_add(x->res, "link-not-http", DIAG_ERROR,
				    diag_fmt("payload.link is not an http(s) "
				    "link: Backstage answers 400 \"Invalid "
				    "link provided; caused by Error: Only "
				    "HTTP/HTTPS links are allowed\"."),
				    diag_fmt("payload.link = \"%s\"", t),
				    xstrdup("Use an absolute http(s) URL, e.g. "
				    "{{.context.argocdUrl}}/applications/"
				    "{{.app.metadata.name}} with argocdUrl "
				    "starting https://, or a path such as "
				    "/catalog/default/component/<name>."));
			else
				diag_add(x->res, "link-invalid", DIAG_ERROR,
				    diag_fmt("payload.link does not parse as a "
				    "URL: Backstage answers 400 \"Invalid link "
				    "provided; caused by TypeError: Invalid "
				    "URL\"."),
				    diag_fmt("payload.link = \"%s\"", t),
				    xstrdup("Fix the link so that it is an "
				    "absolute http(s) URL or a path."));
			free(t);
		}
	}
}

/* Backstage's own verdict on the body, when nothing more specific said
 * why it fails (lint), or when an earlier step hid it (missing headers). */
static void
diag_schema(struct diag_ctx *x, size_t body_from)
{
	const struct diag_input	*in = x->in;
	const struct json	*payload;
	const char		*title, *said;
	char			 msg[1024];

	if (x->json == NULL || (!x->create && !in->offline) ||
	    (!in->offline && in->status == 200) ||
	    diag_body_errors(x->res, body_from))
		return;
	if (schema_send_options(x->json, msg, sizeof msg) == 0) {
		payload = json_get(x->json, "payload");
		title = json_string(json_get(payload, "title"));
		if (title == NULL || *title != '\0')
			return;
		snprintf(msg, sizeof msg, "Invalid notification request "
		    "received: missing title");
	}
	/* Stored even when the answer says the same: the delivery then
	 * carries what `notimock lint` finds for the same bytes (one
	 * engine, one answer), and a wait's near misses show it. */
	if (in->offline)
		said = "Backstage would answer";
	else if (in->response != NULL && diag_memmem((const unsigned char *)
	    in->response, in->response_len, msg, strlen(msg)) != NULL)
		said = "Backstage's validator refuses the body: it answered";
	else
		said = "Once the problems above are fixed, Backstage will "
		    "answer";
	diag_add(x->res, "schema", DIAG_ERROR,
	    diag_fmt("%s 400 \"%s\".", said, msg),
	    xstrdup(msg),
	    xstrdup("Shape the body as {\"recipients\":{\"type\":\"entity\","
	    "\"entityRef\":\"...\"} or {\"type\":\"broadcast\"},"
	    "\"payload\":{\"title\":\"...\"}}; see the Backstage contract "
	    "(NotificationSendOptions)."));
}

/* --- the outcome ------------------------------------------------------- */

static void
diag_no_recipients(struct diag_ctx *x)
{
	const struct diag_input	*in = x->in;
	const struct json	*recip;
	const char		*type;
	char			*refs, *t;

	if (in->offline || in->status != 200 || json_size(in->users) != 0 ||
	    json_type(x->json) != JSON_OBJECT)
		return;
	recip = json_get(x->json, "recipients");
	type = json_string(json_get(recip, "type"));
	if (type == NULL || strcmp(type, "entity") != 0)
		return;
	refs = json_print(in->entities != NULL ? in->entities :
	    json_get(recip, "entityRef"), NULL);
	t = diag_escape((const unsigned char *)refs,
	    strlen(refs) < 300 ? strlen(refs) : 300);
	diag_add(x->res, "no-recipients", DIAG_WARNING,
	    xstrdup("The send reached no user: Backstage answers 200 [] "
	    "and stores nothing.  Nobody will see this in real Backstage "
	    "unless the catalog has the entity and it has an owner (a user, "
	    "or a group with members), or the ref names a user."),
	    diag_fmt("entityRef %s reached no user; the answer is []", t),
	    xstrdup("Check the backstage.io/entity-ref annotation against the "
	    "catalog: the entity must exist and have spec.owner set to a user "
	    "or to a group with members; or send to user:default/<name>.  "
	    "Give notimock the catalog with --catalog FILE to resolve refs "
	    "as Backstage does; check excludeEntityRef too."));
	free(t);
	free(refs);
}

/* --- retries ----------------------------------------------------------- */

static int
diag_retriable(int status)
{
	/* 0: no answer at all (a fault's drop or reset): Argo CD's client
	 * retries connection errors too. */
	return (status == 0 || status == 429 ||
	    (status >= 500 && status != 501));
}

static void
diag_retry(struct diag *d, struct diag_ctx *x)
{
	const struct diag_input	*in = x->in;
	struct diag_result	*res = x->res;
	struct diag_seen	*prev = NULL, *s, last;
	const char		*fp = "", *colon;
	char			 host[64], chain[200], gap[32];
	char			 kfp[CRYPTO_FP_LEN];
	uint64_t		 h = 0xcbf29ce484222325ULL;
	size_t			 i, k, hostlen, o;
	int64_t			 ms;

	if (d == NULL || in->offline || (strcmp(in->method, "GET") == 0 &&
	    in->body_len == 0) || strcmp(in->method, "HEAD") == 0)
		return;
	/* The origin: the client's address (Argo CD opens a new connection,
	 * so a new port, for every attempt) and its credential. */
	hostlen = 0;
	if (in->remote != NULL) {
		colon = strrchr(in->remote, ':');
		hostlen = colon != NULL ? (size_t)(colon - in->remote) :
		    strlen(in->remote);
	}
	if (hostlen >= sizeof host)
		hostlen = sizeof host - 1;
	memcpy(host, in->remote != NULL ? in->remote : "", hostlen);
	host[hostlen] = '\0';
	if (in->who != NULL)
		fp = in->who->fp;
	h = diag_hash(h, host, hostlen + 1);
	h = diag_hash(h, fp, strlen(fp) + 1);
	/* Retries repeat the headers too: a changed Content-Type is the
	 * user fixing the config, not Argo CD trying again. */
	if (in->content_type != NULL)
		h = diag_hash(h, in->content_type,
		    strlen(in->content_type) + 1);
	if (in->user_agent != NULL)
		h = diag_hash(h, in->user_agent, strlen(in->user_agent) + 1);
	h = diag_hash(h, in->method, strlen(in->method) + 1);
	h = diag_hash(h, in->uri, strlen(in->uri) + 1);
	h = diag_hash(h, in->body, in->body_len);

	for (k = 0; k < d->used; k++) {
		s = &d->ring[(d->next + DIAG_RING - 1 - k) % DIAG_RING];
		if (s->hash == h && s->len == in->body_len) {
			if (in->now_ms - s->when <= DIAG_RETRY_WINDOW_MS)
				prev = s;
			break;
		}
	}

	/* Remember this request.  prev is copied first: on a full ring the
	 * slot reused may be prev's own. */
	if (prev != NULL)
		last = *prev;
	s = &d->ring[d->next];
	d->next = (d->next + 1) % DIAG_RING;
	if (d->used < DIAG_RING)
		d->used++;
	memset(s, 0, sizeof *s);
	s->hash = h;
	s->len = in->body_len;
	s->when = in->now_ms;
	s->seq = in->seq;
	s->status = in->status;
	s->attempt = 1;
	if (prev == NULL)
		return;
	prev = &last;
	s->attempt = prev->attempt + 1;
	for (i = prev->nchain > DIAG_CHAIN - 1 ? prev->nchain -
	    (DIAG_CHAIN - 1) : 0; i < prev->nchain; i++)
		s->chain[s->nchain++] = prev->chain[i];
	s->chain[s->nchain++] = prev->seq;

	res->attempt = s->attempt;
	res->nprevious = s->nchain;
	memcpy(res->previous, s->chain, s->nchain * sizeof *s->chain);
	o = 0;
	chain[0] = '\0';
	for (i = 0; i < s->nchain && o < sizeof chain; i++)
		o += (size_t)snprintf(chain + o, sizeof chain - o, "%s#%lld",
		    i ? ", " : "", (long long)s->chain[i]);
	ms = in->now_ms - prev->when;
	/* The evidence names the credential by its keyed fingerprint: an
	 * accepted token is a configured one. */
	if (*fp != '\0')
		fp = diag_presented_fp(in->authorization, kfp);
	snprintf(gap, sizeof gap, "%lld.%01lld s", (long long)(ms / 1000),
	    (long long)(ms % 1000 / 100));

	if (diag_retriable(prev->status))
		diag_add(res, "retry", DIAG_INFO,
		    diag_fmt("Attempt %d of this notification: the previous "
		    "attempt (delivery #%lld, %s earlier) %s %d, "
		    "and Argo CD retries 429, 5xx (except 501) and connection "
		    "errors up to 3 times, after 1 s, 2 s and 4 s.%s",
		    s->attempt, (long long)prev->seq, gap, prev->status ?
		    "was answered" : "got no answer, status", prev->status,
		    s->attempt > DIAG_ARGOCD_ATTEMPTS ? "  That is more than "
		    "Argo CD's 4 attempts: retryMax was raised, or several "
		    "senders repeat the same request." : ""),
		    diag_fmt("same origin (%s, token %s), method, URL and "
		    "%zu-byte body as delivery %s, %s after the last",
		    host, *fp ? fp : "none", in->body_len, chain, gap),
		    xstrdup("Nothing to fix if the failures were injected on "
		    "purpose.  Otherwise make the receiver answer 2xx: when "
		    "every attempt of a oncePer trigger fails, Argo CD never "
		    "sends that notification again (argoproj/argo-cd#20879)."));
	else if (prev->status >= 200 && prev->status < 300)
		/* A repeat of a refused request changes nothing; a repeat of
		 * an accepted one is a second notification. */
		diag_add(res, "duplicate", DIAG_INFO,
		    diag_fmt("The same request again, %s after delivery #%lld, "
		    "which was answered %d: Argo CD does not retry a %d, so "
		    "this is a second send (a trigger without oncePer, two "
		    "triggers or subscriptions sending the same template, or "
		    "a controller restart).", gap, (long long)prev->seq,
		    prev->status, prev->status),
		    diag_fmt("same origin (%s, token %s), method, URL and "
		    "%zu-byte body as delivery %s", host, *fp ? fp : "none",
		    in->body_len, chain),
		    xstrdup("Give the trigger an oncePer (e.g. oncePer: "
		    "app.status.operationState.syncResult.revision), or set "
		    "payload.scope so that Backstage updates the earlier "
		    "notification instead of adding one."));
}

/* --- entry points ------------------------------------------------------ */

struct diag *
diag_new(void)
{
	return (xcalloc(1, sizeof (struct diag)));
}

void
diag_free(struct diag *d)
{
	free(d);
}

void
diag_unanswered(struct diag *d, int64_t seq)
{
	size_t	k;

	if (d == NULL)
		return;
	for (k = 0; k < d->used; k++)
		if (d->ring[k].seq == seq)
			d->ring[k].status = 0;
}

size_t
diag_run(struct diag *d, const struct diag_input *in, struct diag_result *res)
{
	struct diag_ctx		 x;
	const unsigned char	*p, *end;
	size_t			 body_from;
	char			*where;

	memset(res, 0, sizeof *res);
	memset(&x, 0, sizeof x);
	x.in = in;
	x.res = res;
	x.json = in->json;
	x.jerr = in->json_error;
	x.jpos = in->json_error != NULL ? in->json_errpos : -1;
	x.post = in->offline || (in->method != NULL &&
	    strcmp(in->method, "POST") == 0);
	x.create = in->offline || diag_is_create(in->path);
	x.go = in->user_agent != NULL &&
	    strncmp(in->user_agent, "Go-http-client/", 15) == 0;
	x.kind = BODY_EMPTY;
	end = in->body + in->body_len;
	for (p = in->body; p < end && diag_ws(*p); p++)
		;
	if (p < end)
		x.kind = *p == '{' || *p == '[' ? BODY_JSON : BODY_TEXT;

	/* A body nobody parsed (no JSON Content-Type): parse it here, so
	 * that every problem is told at once. */
	if (x.json == NULL && x.jerr == NULL && x.kind != BODY_EMPTY &&
	    (x.kind == BODY_JSON || x.post)) {
		x.own = json_parse((const char *)in->body, in->body_len, 1,
		    x.jbuf, sizeof x.jbuf, &x.jpos);
		x.json = x.own;
		if (x.own == NULL)
			x.jerr = x.jbuf;
	}

	if (!in->offline) {
		diag_method(&x);
		diag_path(&x);
		diag_content_type(&x);
		diag_auth(&x);
	}
	body_from = res->n;
	if (x.kind == BODY_EMPTY && x.post && x.create && !in->offline &&
	    !diag_has(res, "auth-missing") &&
	    !diag_has(res, "auth-unknown-token"))
		diag_add(res, "empty-body", DIAG_ERROR,
		    xstrdup("A POST with an empty body: the template's webhook "
		    "section has no body:, or it rendered empty.  Backstage "
		    "treats it as {} and answers 400 \"request/body must have "
		    "required property 'recipients'\" (or the Content-Type "
		    "error first)."),
		    xstrdup("0-byte body"),
		    xstrdup("Add a JSON body: to the template's "
		    "webhook.backstage "
		    "section."));
	else if (x.kind == BODY_EMPTY && in->offline)
		diag_add(res, "empty-body", DIAG_ERROR,
		    xstrdup("The body is empty: Backstage treats it as {} and "
		    "answers 400 \"request/body must have required property "
		    "'recipients'\"."),
		    xstrdup("0-byte body"),
		    xstrdup("Add a JSON body: to the template's "
		    "webhook.backstage "
		    "section."));
	if (in->body_len > DIAG_BODY_LIMIT && x.create)
		diag_add(res, "body-too-large", DIAG_ERROR,
		    diag_fmt("The body is %zu bytes: Backstage's JSON parser "
		    "takes "
		    "at most 102400 (100 KiB) and answers 400 \"request entity "
		    "too large\".", in->body_len),
		    diag_fmt("%zu-byte body", in->body_len),
		    xstrdup("Send less: the whole Application (toJson .app) or "
		    "all its resources do not belong in a notification; pick "
		    "the fields you need."));
	if (x.kind != BODY_EMPTY) {
		diag_invalid_json(&x);
		diag_no_value(&x);
		diag_byte_list(&x, in->body, in->body_len, NULL);
		if (!diag_has(res, "invalid-json") ||
		    diag_memmem(in->body, in->body_len, "map[", 4) != NULL)
			diag_go_map(&x);
		diag_fields(&x);
		diag_schema(&x, body_from);
	}
	if (!in->offline && in->uri != NULL && !diag_has(res, "go-byte-list")) {
		where = diag_fmt("the URL %s", diag_epath(&x));
		diag_byte_list(&x, (const unsigned char *)in->uri,
		    strlen(in->uri), where);
		free(where);
	}
	diag_no_recipients(&x);
	diag_retry(d, &x);

	json_free(x.own);
	free(x.epath);
	return (res->n);
}

void
diag_clear(struct diag_result *res)
{
	size_t	i;

	for (i = 0; i < res->n; i++) {
		free(res->v[i].message);
		free(res->v[i].evidence);
		free(res->v[i].fix);
	}
	res->n = 0;
}

size_t
diag_errors(const struct diag_result *res)
{
	size_t	i, n = 0;

	for (i = 0; i < res->n; i++)
		n += res->v[i].level == DIAG_ERROR;
	return (n);
}

const char *
diag_level_name(enum diag_level l)
{
	switch (l) {
	case DIAG_ERROR:
		return ("error");
	case DIAG_WARNING:
		return ("warning");
	default:
		return ("info");
	}
}

/* One member of a diagnosis object: ,"key": and the string (or null). */
static void
diag_json_member(struct json_buf *b, const char *key, const char *v)
{
	json_buf_raw(b, ",\"", 2);
	json_buf_raw(b, key, strlen(key));
	json_buf_raw(b, "\":", 2);
	if (v == NULL)
		json_buf_raw(b, "null", 4);
	else
		json_buf_str(b, v, strlen(v));
}

/*
 * Written straight into a buffer rather than through a cJSON tree (this
 * runs for most requests): the same bytes json_print() gave for the array
 * of objects, members in the same order.
 */
char *
diag_json(const struct diag_result *res, size_t *lenp)
{
	struct json_buf	 buf = JSON_BUF_INIT, *b = &buf;
	const char	*code;
	size_t		 i, k;

	if (res->n == 0)
		return (NULL);
	json_buf_raw(b, "[", 1);
	for (i = 0; i < res->n; i++) {
		code = res->v[i].code;
		json_buf_raw(b, i > 0 ? ",{\"code\":" : "{\"code\":",
		    i > 0 ? 9 : 8);
		json_buf_str(b, code, strlen(code));
		diag_json_member(b, "level", diag_level_name(res->v[i].level));
		diag_json_member(b, "message", res->v[i].message);
		diag_json_member(b, "evidence", res->v[i].evidence);
		diag_json_member(b, "fix", res->v[i].fix);
		if (strcmp(code, "retry") == 0 ||
		    strcmp(code, "duplicate") == 0) {
			json_buf_raw(b, ",\"attempt\":", 11);
			json_buf_num(b, res->attempt);
			json_buf_raw(b, ",\"previous\":[", 13);
			for (k = 0; k < res->nprevious; k++) {
				if (k > 0)
					json_buf_raw(b, ",", 1);
				json_buf_num(b,
				    (double)res->previous[k]);
			}
			json_buf_raw(b, "]", 1);
		}
		json_buf_raw(b, "}", 1);
	}
	json_buf_raw(b, "]", 1);
	return (json_buf_take(b, lenp));
}

char *
diag_codes(const struct diag_result *res)
{
	size_t	 i, len = 0;
	char	*s;

	if (res->n == 0)
		return (NULL);
	for (i = 0; i < res->n; i++)
		len += strlen(res->v[i].code) + 1;
	s = xmalloc(len);
	s[0] = '\0';
	for (i = 0; i < res->n; i++) {
		if (i > 0)
			strcat(s, ",");
		strcat(s, res->v[i].code);
	}
	return (s);
}

/*
 * Print stored text for a terminal: each line through log_escape_term
 * (diagnoses quote payloads, and Backstage's own messages, such as an
 * invalid entity ref's, carry them raw), with indent before every line
 * after the first.
 */
static void
diag_print_lines(FILE *f, const char *s, const char *indent)
{
	const char	*nl;
	char		*buf;
	size_t		 size = LOG_TERM_SIZE(strlen(s));

	buf = xmalloc(size);
	while ((nl = strchr(s, '\n')) != NULL) {
		fprintf(f, "%s\n%s", log_escape_term(buf, size, s,
		    (size_t)(nl - s)), indent);
		s = nl + 1;
	}
	fprintf(f, "%s\n", log_escape_term(buf, size, s, strlen(s)));
	free(buf);
}

int
diag_print_text(FILE *f, const char *text, size_t len, const char *indent)
{
	struct json	*arr, *e;
	char		 err[JSON_ERRLEN], *more, word[128];
	const char	*s;
	int		 n = 0;

	if ((arr = json_parse(text, len, 0, err, sizeof err, NULL)) == NULL)
		return (-1);
	if (json_type(arr) != JSON_ARRAY) {
		json_free(arr);
		return (-1);
	}
	xasprintf(&more, "%s        ", indent);
	for (e = json_first(arr); e != NULL; e = json_next(e)) {
		s = json_string(json_get(e, "level"));
		s = s != NULL ? s : "?";
		fprintf(f, "%s%-7s ", indent, log_escape_term(word,
		    sizeof word, s, strlen(s)));
		s = json_string(json_get(e, "code"));
		s = s != NULL ? s : "?";
		fprintf(f, "%s: ", log_escape_term(word, sizeof word, s,
		    strlen(s)));
		s = json_string(json_get(e, "message"));
		diag_print_lines(f, s ? s : "", more);
		if ((s = json_string(json_get(e, "evidence"))) != NULL) {
			fprintf(f, "%s  evidence: ", more);
			diag_print_lines(f, s, more);
		}
		if ((s = json_string(json_get(e, "fix"))) != NULL) {
			fprintf(f, "%s  fix: ", more);
			diag_print_lines(f, s, more);
		}
		n++;
	}
	free(more);
	json_free(arr);
	return (n);
}
