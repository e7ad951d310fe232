/*
 * api_create.c: the plugin's create handler, POST /notifications (and
 * POST /), once api.c's pipeline has validated the request: the service
 * check, the link check, the recipients resolved (catalog.c) and filtered
 * by the users' settings (api_settings.c), one row stored per user (or one
 * broadcast), the signals queued (signals.c), the creation-form answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "auth.h"
#include "catalog.h"
#include "db.h"
#include "entity.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "signals.h"
#include "url.h"
#include "util.h"
#include "xmalloc.h"

/* Append a string literal to b. */
#define API_LIT(b, lit)	json_buf_raw((b), (lit), sizeof (lit) - 1)

/*
 * Append a member's string value to b: ,"key":"value" (value NULL: null).
 */
static void
api_buf_member(struct json_buf *b, const char *key, const char *value)
{
	API_LIT(b, ",\"");
	json_buf_raw(b, key, strlen(key));
	API_LIT(b, "\":");
	if (value == NULL)
		API_LIT(b, "null");
	else
		json_buf_str(b, value, strlen(value));
}

/*
 * Append the creation-form element to the answer b: payload as sent
 * (severity appended when the caller left it out), origin, created, then
 * id/user or user/id.  Written as text, the bytes json_print gave for the
 * same element built as a tree (a copy of the payload and ~15 nodes per
 * POST before, issue 11): the payload is an object with a title here
 * (api_create checked), and cJSON appended severity as its last member.
 */
static void
api_created_element(struct json_buf *b, const struct json *payload,
    const char *origin, const char *created, const char *id, const char *user)
{
	char	*pj;
	size_t	 n;

	if (b->len > 1)
		API_LIT(b, ",");	/* after "[" and an element */
	API_LIT(b, "{\"payload\":");
	pj = json_print(payload, &n);
	if (json_get(payload, "severity") == NULL && n >= 2 &&
	    pj[n - 1] == '}') {
		json_buf_raw(b, pj, n - 1);
		if (n > 2)
			json_buf_raw(b, ",", 1);
		API_LIT(b, "\"severity\":\"normal\"}");
	} else
		json_buf_raw(b, pj, n);
	free(pj);
	api_buf_member(b, "origin", origin);
	api_buf_member(b, "created", created);
	if (user != NULL) {
		api_buf_member(b, "id", id);
		api_buf_member(b, "user", user);
	} else {
		api_buf_member(b, "user", NULL);
		api_buf_member(b, "id", id);
	}
	json_buf_raw(b, "}", 1);
}

/* Fill a notification row from the payload (borrowing its strings);
 * returns the metadata's JSON text, which the caller frees, or NULL. */
static char *
api_row(struct db_notification_new *n, const struct json *payload)
{
	const struct json	*meta;
	char			*mj = NULL;

	memset(n, 0, sizeof *n);
	n->title = json_string(json_get(payload, "title"));
	n->description = json_string(json_get(payload, "description"));
	n->link = json_string(json_get(payload, "link"));
	n->topic = json_string(json_get(payload, "topic"));
	n->severity = json_string(json_get(payload, "severity"));
	if (n->severity == NULL)
		n->severity = "normal";
	n->scope = json_string(json_get(payload, "scope"));
	n->icon = json_string(json_get(payload, "icon"));
	if ((meta = json_get(payload, "metadata")) != NULL)
		n->metadata = mj = json_print(meta, NULL);
	return (mj);
}

/*
 * A new notification's id: a version 4 UUID whose first 48 bits are the
 * time in ms (as in RFC 9562's version 7) and the other 74 random.  The
 * table's id index then grows at its right end, as a sequence does:
 * with wholly random ids every insert dirtied its own leaf of that index,
 * ten of the 24 pages each commit wrote to the WAL (issue 11).  Clients
 * see what Backstage gives them, a v4 UUID that no one can guess; only
 * the order of ids made in different milliseconds is no longer random.
 */
static char *
api_new_id(char id[UTIL_UUID_LEN], int64_t now_ms)
{
	static const char	hex[] = "0123456789abcdef";
	uint64_t		t = (uint64_t)now_ms;
	int			i, at;

	util_uuid4(id);
	for (i = 11; i >= 0; i--) {
		at = i < 8 ? i : i + 1;		/* "tttttttt-tttt-4..." */
		id[at] = hex[t & 15];
		t >>= 4;
	}
	return (id);
}

/* Copy a stored id (a UUID we made) into a UUID buffer. */
static void
api_copy_id(char dst[UTIL_UUID_LEN], const char *src)
{
	snprintf(dst, UTIL_UUID_LEN, "%s", src);
}

/* {"action":"new_notification","notification_id":id} to user (NULL:
 * everyone), written as json_print wrote the same object. */
static void
api_signal_new(struct server *srv, const char *user, const char *id)
{
	struct json_buf	 b = JSON_BUF_INIT;
	char		*s;

	API_LIT(&b, "{\"action\":\"new_notification\"");
	api_buf_member(&b, "notification_id", id);
	json_buf_raw(&b, "}", 1);
	s = json_buf_take(&b, NULL);
	signals_queue(srv, user, s);
	free(s);
}

/*
 * Store one notification for user (NULL: broadcast), honouring scope.
 * Appends the response element to out.  Returns -1 if the store failed.
 */
static int
api_store_one(struct api_ctx *c, const struct json *payload, const char *user,
    const char *created_iso, struct json_buf *out)
{
	struct server		*srv = c->r->srv;
	struct db_notification_new n;
	struct db_notification	 old;
	char			 id[UTIL_UUID_LEN], fresh[UTIL_UUID_LEN];
	char			 iso[UTIL_ISO_LEN], *meta, *sj;
	const char		*origin = c->who.subject;
	struct json		*stored;
	size_t			 sn;
	int			 found = 0, rc = -1;

	meta = api_row(&n, payload);
	n.origin = origin;
	n.user = user;
	n.created = c->r->received;
	n.delivery_seq = db_seq_next(srv->db);	/* this delivery's seq */

	memset(&old, 0, sizeof old);
	if (n.scope != NULL && *n.scope != '\0') {
		found = db_notification_find_scope(srv->db, user, n.scope,
		    origin, &old);
		if (found == -1)
			goto out;
	}
	if (found) {
		n.updated = util_now_ms();
		if (db_notification_rescope(srv->db, old.id, &n,
		    user != NULL) == -1)
			goto out;
		json_append(c->ids, json_new_string(old.id));
		api_signal_new(srv, user, old.id);	/* the real id */
		if (user != NULL) {
			/* A user's re-send answers the row as stored now. */
			api_copy_id(id, old.id);
			db_notification_clear(&old);
			if (db_notification_get(srv->db, id, &old) != 1)
				goto out;
			stored = api_stored_element(&old);
			sj = json_print(stored, &sn);
			json_buf_raw(out, out->len > 1 ? "," : "",
			    out->len > 1 ? 1 : 0);
			json_buf_raw(out, sj, sn);
			free(sj);
			json_free(stored);
		} else {
			/* Backstage answers a broadcast re-send with a fresh
			 * id and time that are stored nowhere (upstream bug,
			 * reproduced on purpose). */
			api_created_element(out, payload, origin,
			    util_iso_ms(util_now_ms(), iso), util_uuid4(fresh),
			    NULL);
		}
		rc = 0;
		goto out;
	}
	n.id = api_new_id(id, n.created);
	if (db_notification_insert(srv->db, &n) == -1)
		goto out;
	json_append(c->ids, json_new_string(id));
	api_signal_new(srv, user, id);
	api_created_element(out, payload, origin, created_iso, id, user);
	rc = 0;
out:
	db_notification_clear(&old);
	free(meta);
	return (rc);
}

/* A string or an array of strings, as a list; duplicates dropped (in
 * linear time: a body may hold thousands of refs). */
static struct json *
api_ref_list(const struct json *v)
{
	struct json	*list = json_new_array(), *e;
	struct strset	*seen;

	if (json_type(v) == JSON_STRING) {
		json_append(list, json_dup(v));
		return (list);
	}
	seen = strset_new();
	for (e = json_first(v); e != NULL; e = json_next(e))
		if (json_string(e) != NULL && strset_add(seen, json_string(e)))
			json_append(list, json_dup(e));
	strset_free(seen);
	return (list);
}

/* The strings of a JSON list, borrowed (free only the array). */
static const char **
api_strv(const struct json *list, size_t *np)
{
	const char		**v;
	const struct json	*e;
	size_t			 n = 0;

	v = xcalloc(json_size(list) + 1, sizeof *v);
	for (e = json_first(list); e != NULL; e = json_next(e))
		if (json_string(e) != NULL)
			v[n++] = json_string(e);
	*np = n;
	return (v);
}

/*
 * url_check_link(link, base), remembered for the last link: a sender
 * sends the same application's link again and again, and parsing it and
 * the base took ~2 % of a POST (issue 11).  Only the loop thread calls
 * this; links longer than the memo are checked each time.
 */
static enum url_check
api_link_verdict(const char *link, const char *base)
{
	static char		last_link[512], last_base[512];
	static enum url_check	last;
	size_t			ln, bn;

	if (base == NULL)
		return (url_check_link(link, base));
	ln = strlen(link);
	bn = strlen(base);
	if (last_link[0] != '\0' && strcmp(link, last_link) == 0 &&
	    strcmp(base, last_base) == 0)
		return (last);
	last = url_check_link(link, base);
	if (ln < sizeof last_link && bn < sizeof last_base) {
		memcpy(last_link, link, ln + 1);
		memcpy(last_base, base, bn + 1);
	} else
		last_link[0] = '\0';
	return (last);
}

/* The payload's link, as Backstage checks it: -1 once answered (400). */
static int
api_check_link(struct api_ctx *c, const char *link)
{
	const char	*base = c->r->srv->base_url;
	struct json	*cause;

	if (link == NULL || *link == '\0')
		return (0);
	switch (api_link_verdict(link, base)) {
	case URL_OK:
		return (0);
	case URL_NOT_HTTP:
		cause = json_new_object();
		json_add_str(cause, "name", "Error");
		json_add_str(cause, "message",
		    "Only HTTP/HTTPS links are allowed");
		api_fail(c, 400, "InputError", "Invalid link provided; "
		    "caused by Error: Only HTTP/HTTPS links are allowed", cause);
		json_free(cause);
		return (-1);
	case URL_INVALID:
		cause = json_new_object();
		json_add_str(cause, "code", "ERR_INVALID_URL");
		json_add_str(cause, "input", link[0] == '/' ? link + 1 : link);
		json_add_str(cause, "base", base);
		json_add_str(cause, "name", "TypeError");
		json_add_str(cause, "message", "Invalid URL");
		api_fail(c, 400, "InputError", "Invalid link provided; "
		    "caused by TypeError: Invalid URL", cause);
		json_free(cause);
		return (-1);
	}
	return (0);
}

/* Every entity ref addressed must parse (recorded as addressed either
 * way): -1 once the first bad one is answered (400). */
static int
api_check_refs(struct api_ctx *c, const struct json *refs)
{
	const struct json	*e;
	struct entity_ref	 er;
	struct json		*cause;
	char			 errname[32], msg[1024], full[1200];

	for (e = json_first(refs); e != NULL; e = json_next(e)) {
		json_append(c->entities, json_dup(e));
		if (entity_parse(json_string(e), &er, errname, sizeof errname,
		    msg, sizeof msg) == -1) {
			cause = json_new_object();
			json_add_str(cause, "name", errname);
			json_add_str(cause, "message", msg);
			snprintf(full, sizeof full, "Failed to send user "
			    "notifications; caused by %s: %s", errname, msg);
			api_fail(c, 400, "InputError", full, cause);
			json_free(cause);
			return (-1);
		}
		entity_ref_clear(&er);
	}
	return (0);
}

/*
 * Resolve the refs as Backstage's resolver does (catalog.c: users as
 * written, groups and owners through the --catalog entities) and store one
 * row per user reached who has not opted out.  Returns -1 if the store
 * failed.
 */
static int
api_store_users(struct api_ctx *c, const struct json *payload,
    const struct json *refs, const struct json *excl, const char *iso,
    struct json_buf *out)
{
	struct server	*srv = c->r->srv;
	const char	**refv, **exclv, *topic, *ref;
	char		**users;
	size_t		 nrefv, nexclv, nusers, i;
	struct strset	*reached;
	int		 rc = 0;

	refv = api_strv(refs, &nrefv);
	exclv = api_strv(excl, &nexclv);
	users = catalog_resolve(srv->catalog, refv, nrefv, exclv, nexclv,
	    &nusers);
	topic = json_string(json_get(payload, "topic"));
	reached = strset_new();
	for (i = 0; i < nusers && rc == 0; i++) {
		ref = users[i];
		if (!entity_is_user(ref) || !strset_add(reached, ref))
			continue;
		/* A user who turned this origin or topic off for the Web
		 * channel gets nothing, silently. */
		switch (api_user_enabled(srv, ref, c->who.subject, topic)) {
		case -1:
			rc = -1;
			continue;
		case 0:
			log_debug("%s: %s opted out of this origin/topic",
			    __func__, ref);
			continue;
		}
		json_append(c->users, json_new_string(ref));
		rc = api_store_one(c, payload, ref, iso, out);
	}
	free(refv);
	free(exclv);
	strset_free(reached);
	strv_free(users, nusers);
	return (rc);
}

/* POST /notifications: the handler's own checks, then one row per user
 * (or one broadcast), answered in the creation form. */
void
api_create(struct req *r, void *arg)
{
	struct api_ctx		*c = arg;
	const struct json	*payload, *recip;
	struct json		*refs = NULL, *excl = NULL;
	struct json_buf		 out = JSON_BUF_INIT;
	const char		*title, *type;
	char			 iso[UTIL_ISO_LEN], msg[1024], *body;
	size_t			 len;
	int			 rc;

	payload = json_get(c->body, "payload");
	recip = json_get(c->body, "recipients");

	/* Handler check 1: only service principals create. */
	if (c->who.type != PRINCIPAL_SERVICE) {
		api_fail(c, 403, "NotAllowedError",
		    "This endpoint does not allow 'user' credentials", NULL);
		return;
	}
	title = json_string(json_get(payload, "title"));
	if (title == NULL || *title == '\0') {
		api_input_error(c, "Invalid notification request received: "
		    "missing title");
		return;
	}
	if (api_check_link(c, json_string(json_get(payload, "link"))) == -1)
		return;

	util_iso_ms(r->received, iso);
	json_buf_raw(&out, "[", 1);	/* the elements, as text */
	type = json_string(json_get(recip, "type"));
	if (type != NULL && strcmp(type, "broadcast") == 0)
		rc = api_store_one(c, payload, NULL, iso, &out);
	else {
		refs = api_ref_list(json_get(recip, "entityRef"));
		excl = api_ref_list(json_get(recip, "excludeEntityRef"));
		if (api_check_refs(c, refs) == -1)
			goto out;
		rc = api_store_users(c, payload, refs, excl, iso, &out);
	}
	if (rc == 0) {
		json_buf_raw(&out, "]", 1);
		body = json_buf_take(&out, &len);
		api_finish(c, 200, body, len);
	} else {
		snprintf(msg, sizeof msg, "notimock could not store this "
		    "request: %s", db_errmsg(r->srv->db));
		api_fail(c, 503, "ServiceUnavailableError", msg, NULL);
	}
out:
	free(out.p);	/* NULL once taken */
	json_free(refs);
	json_free(excl);
}
