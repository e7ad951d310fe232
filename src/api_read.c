/*
 * api_read.c: the notifications plugin's user routes, once api.c's
 * pipeline has let a request through: the read side (GET /notifications,
 * GET /notifications/:id, POST /notifications/update, GET /status,
 * GET /topics; spec sections 8, 9, 10) and the user settings behind
 * GET/POST /settings and the per-user opt-out that sends honour (spec
 * section 10.2).  Every answer still leaves through api_finish().
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "signals.h"
#include "util.h"
#include "xmalloc.h"

/* --- user settings (spec section 10.2) ----------------------------------- */

/*
 * The settings logic of notifications-backend's router, on JSON trees
 * shaped like NotificationSettings: the stored rows as
 * mapToNotificationSettings() groups them, the defaults from
 * notifications.defaultSettings, the effective settings GET /settings
 * answers, and isNotificationsEnabled() for sends.  Booleans are
 * tri-state: -1 stands for JavaScript's undefined.
 */
#define API_WEB_CHANNEL	"Web"

/* A config subtree as JSON: "true"/"false" become booleans. */
static struct json *
api_config_json(const struct config_node *n)
{
	struct json	*v;
	const char	*s;
	size_t		 i;

	if (n == NULL)
		return (NULL);
	switch (config_type(n)) {
	case CONFIG_MAP:
		v = json_new_object();
		for (i = 0; i < config_len(n); i++)
			json_add(v, config_key_at(n, i),
			    api_config_json(config_at(n, i)));
		return (v);
	case CONFIG_SEQ:
		v = json_new_array();
		for (i = 0; i < config_len(n); i++)
			json_append(v, api_config_json(config_at(n, i)));
		return (v);
	default:
		s = config_scalar(n);
		if (s != NULL && (strcmp(s, "true") == 0 ||
		    strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0))
			return (json_new_bool(1));
		if (s != NULL && (strcmp(s, "false") == 0 ||
		    strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0))
			return (json_new_bool(0));
		return (json_new_string(s));
	}
}

/* notifications.defaultSettings.channels, or NULL. */
static struct json *
api_default_channels(struct server *srv)
{
	struct json	*v;

	v = api_config_json(config_get(srv->config,
	    "notifications.defaultSettings.channels"));
	if (v != NULL && json_type(v) != JSON_ARRAY) {
		json_free(v);
		v = NULL;
	}
	return (v);
}

/* The element of arr whose "id" is id (ignoring case if ci), or NULL. */
static struct json *
api_by_id(const struct json *arr, const char *id, int ci)
{
	struct json	*e;
	const char	*eid;

	if (id == NULL)
		return (NULL);
	for (e = json_first(arr); e != NULL; e = json_next(e)) {
		if ((eid = json_string(json_get(e, "id"))) == NULL)
			continue;
		if (ci ? util_strcaseeq(eid, id) : strcmp(eid, id) == 0)
			return (e);
	}
	return (NULL);
}

/* A member as a tri-state boolean. */
static int
api_tri(const struct json *o, const char *key)
{
	const struct json	*v = json_get(o, key);

	if (json_type(v) == JSON_TRUE)
		return (1);
	if (json_type(v) == JSON_FALSE)
		return (0);
	return (-1);
}

/* The stored rows, as mapToNotificationSettings() groups them. */
static struct json *
api_settings_stored(struct server *srv, const char *user)
{
	struct db_setting	*v;
	struct json		*doc, *chans, *ch, *orig, *o, *topics, *t;
	size_t			 n, i;

	if (db_settings_get(srv->db, user, &v, &n) == -1)
		return (NULL);
	doc = json_new_object();
	chans = json_new_array();
	for (i = 0; i < n; i++) {
		if ((ch = api_by_id(chans, v[i].channel, 0)) == NULL) {
			ch = json_new_object();
			json_add_str(ch, "id", v[i].channel);
			json_add(ch, "origins", json_new_array());
			json_append(chans, ch);
		}
		orig = json_get(ch, "origins");
		if ((o = api_by_id(orig, v[i].origin, 0)) == NULL) {
			o = json_new_object();
			json_add_str(o, "id", v[i].origin);
			json_add_bool(o, "enabled", 1);
			json_add(o, "topics", json_new_array());
			json_append(orig, o);
		}
		if (v[i].topic == NULL) {
			json_add_bool(o, "enabled", v[i].enabled);
			continue;
		}
		topics = json_get(o, "topics");
		if (api_by_id(topics, v[i].topic, 0) == NULL) {
			t = json_new_object();
			json_add_str(t, "id", v[i].topic);
			json_add_bool(t, "enabled", v[i].enabled);
			json_append(topics, t);
		}
	}
	json_add(doc, "channels", chans);
	db_settings_free(v, n);
	return (doc);
}

/* getTopicSettings() */
static struct json *
api_topic_settings(const char *topic, const struct json *eo,
    const struct json *dorig, int chdef)
{
	struct json	*o, *et, *dt;
	int		 en;

	et = api_by_id(json_get(eo, "topics"), topic, 1);
	dt = api_by_id(json_get(dorig, "topics"), topic, 1);
	if (et != NULL)
		en = api_tri(et, "enabled");
	else if ((en = api_tri(dt, "enabled")) == -1)
		en = chdef;
	o = json_new_object();
	json_add_str(o, "id", topic);
	if (en != -1)
		json_add_bool(o, "enabled", en);
	return (o);
}

/* getChannelSettings() with getOriginSettings() inside. */
static struct json *
api_channel_settings(const char *chid, const struct json *stored,
    const struct json *defaults, char **origins, size_t norigins,
    char **torigins, char **topics, size_t ntopics)
{
	struct json	*o, *arr, *os, *tarr, *ec, *dc, *eo, *dorig;
	int		 chen, chdef, explicit, oen;
	size_t		 i, j;

	ec = api_by_id(json_get(stored, "channels"), chid, 1);
	dc = api_by_id(defaults, chid, 1);
	if ((chen = api_tri(ec, "enabled")) == -1)
		chen = api_tri(dc, "enabled");
	chdef = chen == -1 ? 1 : chen;
	explicit = api_tri(ec, "enabled") != -1 || api_tri(dc, "enabled") != -1;

	o = json_new_object();
	json_add_str(o, "id", chid);
	if (chen != -1)
		json_add_bool(o, "enabled", chen);
	arr = json_new_array();
	for (i = 0; i < norigins; i++) {
		eo = api_by_id(json_get(ec, "origins"), origins[i], 1);
		dorig = api_by_id(json_get(dc, "origins"), origins[i], 1);
		if (eo != NULL)
			oen = api_tri(eo, "enabled");
		else if ((oen = api_tri(dorig, "enabled")) == -1)
			oen = chdef;
		os = json_new_object();
		json_add_str(os, "id", origins[i]);
		if (oen != -1)
			json_add_bool(os, "enabled", oen);
		tarr = json_new_array();
		for (j = 0; j < ntopics; j++)
			if (strcmp(torigins[j], origins[i]) == 0)
				json_append(tarr, api_topic_settings(topics[j],
				    eo, dorig, explicit ? chdef : oen));
		json_add(os, "topics", tarr);
		json_append(arr, os);
	}
	json_add(o, "origins", arr);
	return (o);
}

/* getNotificationSettings(): what GET /settings answers.  NULL on a
 * database error. */
static struct json *
api_settings_effective(struct server *srv, const char *user)
{
	struct json	*stored = NULL, *defaults, *doc = NULL, *chans, *dc;
	struct json	*dorig, *dt;
	char		**origins = NULL, **torigins = NULL, **topics = NULL;
	char		**channels = NULL;
	const char	*id, *oid, *tid;
	size_t		 norigins = 0, ntopics = 0, nchannels = 0, i;

	defaults = api_default_channels(srv);
	if (db_user_origins(srv->db, user, &origins, &norigins) == -1 ||
	    db_user_topics(srv->db, user, &torigins, &topics, &ntopics) == -1 ||
	    (stored = api_settings_stored(srv, user)) == NULL)
		goto out;
	strv_addu(&channels, &nchannels, API_WEB_CHANNEL);
	for (dc = json_first(defaults); dc != NULL; dc = json_next(dc)) {
		if ((id = json_string(json_get(dc, "id"))) == NULL)
			continue;
		strv_addu(&channels, &nchannels, id);
		for (dorig = json_first(json_get(dc, "origins")); dorig != NULL;
		    dorig = json_next(dorig)) {
			if ((oid = json_string(json_get(dorig, "id"))) == NULL)
				continue;
			strv_addu(&origins, &norigins, oid);
			for (dt = json_first(json_get(dorig, "topics"));
			    dt != NULL; dt = json_next(dt)) {
				if ((tid = json_string(json_get(dt, "id"))) ==
				    NULL)
					continue;
				for (i = 0; i < ntopics; i++)
					if (strcmp(torigins[i], oid) == 0 &&
					    strcmp(topics[i], tid) == 0)
						break;
				if (i < ntopics)
					continue;
				torigins = xreallocarray(torigins, ntopics + 1,
				    sizeof *torigins);
				topics = xreallocarray(topics, ntopics + 1,
				    sizeof *topics);
				torigins[ntopics] = xstrdup(oid);
				topics[ntopics++] = xstrdup(tid);
			}
		}
	}
	doc = json_new_object();
	chans = json_new_array();
	for (i = 0; i < nchannels; i++)
		json_append(chans, api_channel_settings(channels[i], stored,
		    defaults, origins, norigins, torigins, topics, ntopics));
	json_add(doc, "channels", chans);
out:
	json_free(stored);
	json_free(defaults);
	strv_free(origins, norigins);
	strv_free(torigins, ntopics);
	strv_free(topics, ntopics);
	strv_free(channels, nchannels);
	return (doc);
}

/*
 * isNotificationsEnabled() for the Web channel: may this user get a
 * notification of this origin and topic (NULL: none)?  1 yes, 0 no (the
 * user opted out), -1 on a database error.
 */
int
api_user_enabled(struct server *srv, const char *user, const char *origin,
    const char *topic)
{
	struct json	*stored, *defaults, *dc, *uc, *origins, *d, *o, *t;
	int		 chen, rc;

	if ((stored = api_settings_stored(srv, user)) == NULL)
		return (-1);
	defaults = api_default_channels(srv);
	dc = api_by_id(defaults, API_WEB_CHANNEL, 1);
	chen = api_tri(dc, "enabled");
	origins = json_new_array();
	if ((uc = api_by_id(json_get(stored, "channels"), API_WEB_CHANNEL,
	    1)) != NULL) {
		if (api_tri(uc, "enabled") != -1)
			chen = api_tri(uc, "enabled");
		for (o = json_first(json_get(uc, "origins")); o != NULL;
		    o = json_next(o))
			json_append(origins, json_dup(o));
	}
	if (json_get(dc, "origins") != NULL && chen != 0)
		for (d = json_first(json_get(dc, "origins")); d != NULL;
		    d = json_next(d))
			if (api_by_id(origins, json_string(json_get(d, "id")),
			    1) == NULL)
				json_append(origins, json_dup(d));

	/* isNotificationsEnabledFor(), which compares exactly. */
	if ((o = api_by_id(origins, origin, 0)) == NULL)
		rc = chen == -1 ? 1 : chen;
	else if (topic != NULL &&
	    (t = api_by_id(json_get(o, "topics"), topic, 0)) != NULL)
		rc = api_tri(t, "enabled") == 1;
	else
		rc = api_tri(o, "enabled") == 1;
	json_free(origins);
	json_free(defaults);
	json_free(stored);
	return (rc);
}

/* --- the read side (spec sections 8, 9, 10) ------------------------------ */

/* A failure the database caused: Backstage on PostgreSQL hides it behind
 * a log id (applyInternalErrorFilter); the details go to our log. */
static void
api_internal_error(struct api_ctx *c, const char *why)
{
	unsigned char	rnd[10];
	char		logid[21], msg[64], esc[512];
	size_t		i;

	util_random(rnd, sizeof rnd);
	for (i = 0; i < sizeof rnd; i++)
		snprintf(logid + 2 * i, 3, "%02x", rnd[i]);
	log_warnx("Filtered internal error with logId=%s from response: %s",
	    logid, log_escape(esc, sizeof esc, why, strlen(why)));
	snprintf(msg, sizeof msg, "An internal error occurred logId=%s", logid);
	api_fail(c, 500, "Error", msg, NULL);
}

/* The single value of a query parameter (validated: not repeated), or
 * NULL when absent. */
static const char *
api_query_get(const struct api_query *q, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(q[i].name, name) == 0)
			return (q[i].value);
	return (NULL);
}

/*
 * What knex makes of a validated limit or offset: parseInt(String(x)).
 * Sets *v (-1: none, as for Infinity).  Returns -1 for a value too big for
 * the database, which PostgreSQL refuses (an internal error).
 */
static int
api_knex_int(const char *s, int64_t *v)
{
	double	d;

	*v = -1;
	if (s == NULL)
		return (0);
	if (api_js_number(s, &d) == -1 || d != d)
		return (0);
	if (d > 1e308)
		return (0);		/* Infinity: parseInt gives NaN */
	if (d >= 1e21) {
		/* String(d) is "d.ddde+NN": parseInt keeps the first digit. */
		while (d >= 10)
			d /= 10;
	} else if (d >= 9223372036854775807.0)
		return (-1);
	*v = (int64_t)d;
	return (0);
}

/* appendCommonOptions(): search, read, saved, createdAfter and
 * minimumSeverity.  Returns -1 after answering a bad createdAfter. */
static int
api_common_options(struct api_ctx *c, const struct api_query *q, size_t n,
    struct db_nquery *nq)
{
	static const char *sev[] = { "critical", "high", "normal", "low" };
	const char	*v;
	size_t		 i;

	nq->search = api_query_get(q, n, "search");
	if ((v = api_query_get(q, n, "read")) != NULL)
		nq->read = strcmp(v, "true") == 0 ? 1 : -1;
	if ((v = api_query_get(q, n, "saved")) != NULL)
		nq->saved = strcmp(v, "true") == 0 ? 1 : -1;
	if ((v = api_query_get(q, n, "createdAfter")) != NULL) {
		if (util_parse_date(v, &nq->created_after) == -1) {
			api_input_error(c, "Unexpected date format");
			return (-1);
		}
		nq->has_created_after = 1;
	}
	if ((v = api_query_get(q, n, "minimumSeverity")) != NULL)
		for (i = 0; i < 4; i++)
			if (util_strcaseeq(v, sev[i]))
				nq->min_severity = (int)i + 1;
	return (0);
}

/* Answer 200 with a JSON document; takes doc. */
static void
api_send_doc(struct api_ctx *c, struct json *doc)
{
	char	*body;
	size_t	 len;

	body = json_print(doc, &len);
	json_free(doc);
	api_finish(c, 200, body, len);
}

static struct json *
api_notification_array(const struct db_notification *v, size_t n)
{
	struct json	*arr = json_new_array();
	size_t		 i;

	for (i = 0; i < n; i++)
		json_append(arr, api_stored_element(&v[i]));
	return (arr);
}

/* GET /notifications and GET /: the list and its totalCount. */
/* GET /notifications and GET /. */
void
api_read_list(struct req *r, void *arg)
{
	struct api_ctx		*c = arg;
	const struct api_query	*q = c->q;
	size_t			 n = c->nq;
	struct server		*srv = c->r->srv;
	struct db_nquery	 nq;
	struct db_notification	*v = NULL;
	struct json		*doc;
	char			**fields = NULL, *comma;
	int			*dirs = NULL;
	size_t			 nv = 0, nf = 0, i;
	int64_t			 total;
	const char		*why = NULL;

	memset(&nq, 0, sizeof nq);
	nq.user = c->who.subject;
	if (api_knex_int(api_query_get(q, n, "offset"), &nq.offset) == -1 ||
	    api_knex_int(api_query_get(q, n, "limit"), &nq.limit) == -1) {
		why = "limit or offset out of range for the database";
		goto internal;
	}
	/* parseEntityOrderFieldParams(): "field[,asc|desc]" each. */
	for (i = 0; i < n; i++) {
		if (strcmp(q[i].name, "orderField") != 0)
			continue;
		fields = xreallocarray(fields, nf + 1, sizeof *fields);
		dirs = xreallocarray(dirs, nf + 1, sizeof *dirs);
		fields[nf] = xstrdup(q[i].value);
		dirs[nf] = 0;
		if ((comma = strchr(fields[nf], ',')) != NULL) {
			*comma++ = '\0';
			/* split(",") keeps only the first two parts. */
			if (strchr(comma, ',') != NULL)
				*strchr(comma, ',') = '\0';
			if (strcmp(comma, "asc") == 0)
				dirs[nf] = 1;
			else if (strcmp(comma, "desc") == 0)
				dirs[nf] = 2;
			else {
				nf++;
				api_input_error(c, "Invalid order field order, "
				    "must be asc or desc");
				goto out;
			}
		}
		nf++;
	}
	if (nf > 0) {
		nq.order_field = (const char *const *)fields;
		nq.order_dir = dirs;
		nq.norder = nf;
	}
	nq.topic = api_query_get(q, n, "topic");
	if (api_common_options(c, q, n, &nq) == -1)
		goto out;
	if (db_notification_list(srv->db, &nq, &v, &nv) == -1) {
		why = db_errmsg(srv->db);
		goto internal;
	}
	nq.limit = nq.offset = -1;
	nq.unordered = 1;
	if ((total = db_notification_count(srv->db, &nq)) == -1) {
		why = db_errmsg(srv->db);
		goto internal;
	}
	doc = json_new_object();
	json_add_num(doc, "totalCount", (double)total);
	json_add(doc, "notifications", api_notification_array(v, nv));
	api_send_doc(c, doc);
	goto out;
internal:
	api_internal_error(c, why);
out:
	db_notifications_free(v, nv);
	strv_free(fields, nf);
	free(dirs);
}

/* GET /notifications/:id and GET /:id (the id decoded). */
void
api_read_get(struct req *r, void *arg)
{
	struct api_ctx		*c = arg;
	struct server		*srv = r->srv;
	struct db_nquery	 nq;
	struct db_notification	*v = NULL;
	size_t			 nv = 0;
	char			*id;

	id = xstrndup(c->match.param, c->match.paramlen);
	memset(&nq, 0, sizeof nq);
	nq.user = c->who.subject;
	nq.id = id;
	nq.limit = 1;
	nq.offset = -1;
	if (db_notification_list(srv->db, &nq, &v, &nv) == -1)
		api_internal_error(c, db_errmsg(srv->db));
	else if (nv != 1)
		api_fail(c, 404, "NotFoundError", "Not found", NULL);
	else {
		struct json *o = api_stored_element(&v[0]);

		api_send_doc(c, o);
	}
	db_notifications_free(v, nv);
	free(id);
}

/* POST /notifications/update and POST /update. */
void
api_read_update(struct req *r, void *arg)
{
	struct api_ctx		*c = arg;
	struct server		*srv = r->srv;
	const struct json	*ids = json_get(c->body, "ids");
	struct db_nquery	 nq;
	struct db_notification	*v = NULL;
	struct json		*o;
	size_t			 nv = 0;
	int			 read, saved;
	char			*idj, *s;
	int64_t			 now = util_now_ms();

	read = api_tri(c->body, "read");
	saved = api_tri(c->body, "saved");
	idj = json_print(ids, NULL);
	/* 1 set, -1 clear, 0 leave: the db's convention. */
	if (db_notification_mark(srv->db, c->who.subject, idj,
	    read == 1 ? 1 : read == 0 ? -1 : 0,
	    saved == 1 ? 1 : saved == 0 ? -1 : 0, now) == -1) {
		api_internal_error(c, db_errmsg(srv->db));
		goto out;
	}
	if (read != -1) {
		/* The ids as the client sent them, known or not. */
		o = json_new_object();
		json_add_str(o, "action", read ? "notification_read" :
		    "notification_unread");
		json_add(o, "notification_ids", json_dup(ids));
		s = json_print(o, NULL);
		signals_queue(srv, c->who.subject, s);
		free(s);
		json_free(o);
	}
	memset(&nq, 0, sizeof nq);
	nq.user = c->who.subject;
	nq.ids_json = idj;
	nq.limit = nq.offset = -1;
	if (db_notification_list(srv->db, &nq, &v, &nv) == -1) {
		api_internal_error(c, db_errmsg(srv->db));
		goto out;
	}
	api_send_doc(c, api_notification_array(v, nv));
out:
	db_notifications_free(v, nv);
	free(idj);
}

/* GET /status. */
void
api_read_status(struct req *r, void *arg)
{
	struct api_ctx	*c = arg;
	struct server	*srv = r->srv;
	struct json	*o;
	int64_t		 unread, read;

	if (db_notification_status(srv->db, c->who.subject, &unread, &read) ==
	    -1) {
		api_internal_error(c, db_errmsg(srv->db));
		return;
	}
	o = json_new_object();
	json_add_num(o, "unread", (double)unread);
	json_add_num(o, "read", (double)read);
	api_send_doc(c, o);
}

/* GET /topics. */
void
api_read_topics(struct req *r, void *arg)
{
	struct api_ctx		*c = arg;
	struct server		*srv = r->srv;
	struct db_nquery	 nq;
	struct json		*o, *arr;
	char			**topics = NULL;
	size_t			 nt = 0, i;

	memset(&nq, 0, sizeof nq);
	nq.user = c->who.subject;
	nq.limit = nq.offset = -1;
	if (api_common_options(c, c->q, c->nq, &nq) == -1)
		return;
	if (db_notification_topics(srv->db, &nq, &topics, &nt) == -1) {
		api_internal_error(c, db_errmsg(srv->db));
		return;
	}
	arr = json_new_array();
	for (i = 0; i < nt; i++)
		json_append(arr, json_new_string(topics[i]));
	o = json_new_object();
	json_add(o, "topics", arr);
	api_send_doc(c, o);
	strv_free(topics, nt);
}

/* GET /settings. */
void
api_settings_get(struct req *r, void *arg)
{
	struct api_ctx	*c = arg;
	struct json	*doc;

	if ((doc = api_settings_effective(r->srv, c->who.subject)) == NULL)
		api_internal_error(c, db_errmsg(r->srv->db));
	else
		api_send_doc(c, doc);
}

/*
 * POST /settings: saveNotificationSettings() deletes the user's rows and
 * inserts one per origin and per topic (a topic is on only if its origin
 * is too), keyed by user|channel|origin|topic.  Like Backstage, a body
 * without any origin wipes the settings and then fails on knex's empty
 * insert, and a repeated key fails the insert (an internal error on
 * PostgreSQL) after the wipe.
 */
void
api_settings_post(struct req *r, void *arg)
{
	struct api_ctx		*c = arg;
	struct server		*srv = r->srv;
	const struct json	*ch, *o, *t;
	struct db_setting	*rows = NULL;
	size_t			 n = 0, i, j;
	const char		*cid, *oid;
	int			 oen, dup = 0;

	for (ch = json_first(json_get(c->body, "channels")); ch != NULL;
	    ch = json_next(ch))
		if (strcmp(json_string(json_get(ch, "id")),
		    API_WEB_CHANNEL) != 0) {
			api_input_error(c, "Invalid channel");
			return;
		}
	for (ch = json_first(json_get(c->body, "channels")); ch != NULL;
	    ch = json_next(ch)) {
		cid = json_string(json_get(ch, "id"));
		for (o = json_first(json_get(ch, "origins")); o != NULL;
		    o = json_next(o)) {
			oid = json_string(json_get(o, "id"));
			oen = api_tri(o, "enabled") == 1;
			rows = xreallocarray(rows, n + 1, sizeof *rows);
			rows[n].channel = xstrdup(cid);
			rows[n].origin = xstrdup(oid);
			rows[n].topic = NULL;
			rows[n++].enabled = oen;
			for (t = json_first(json_get(o, "topics")); t != NULL;
			    t = json_next(t)) {
				rows = xreallocarray(rows, n + 1,
				    sizeof *rows);
				rows[n].channel = xstrdup(cid);
				rows[n].origin = xstrdup(oid);
				rows[n].topic = xstrdup(json_string(
				    json_get(t, "id")));
				rows[n++].enabled = oen &&
				    api_tri(t, "enabled") == 1;
			}
		}
	}
	for (i = 0; i < n && !dup; i++)
		for (j = i + 1; j < n && !dup; j++)
			dup = strcmp(rows[i].channel, rows[j].channel) == 0 &&
			    strcmp(rows[i].origin, rows[j].origin) == 0 &&
			    strcmp(rows[i].topic ? rows[i].topic : "",
			    rows[j].topic ? rows[j].topic : "") == 0;
	if (db_settings_replace(srv->db, c->who.subject, rows,
	    n == 0 || dup ? 0 : n) == -1)
		api_internal_error(c, db_errmsg(srv->db));
	else if (n == 0)
		api_fail(c, 500, "Error", " - The query is empty", NULL);
	else if (dup)
		api_internal_error(c, "UNIQUE constraint failed: "
		    "user_settings.settings_key_hash");
	else
		api_settings_get(r, c);
	db_settings_free(rows, n);
}
