/*
 * api_settings.c: the plugin's user settings: GET and POST /settings, and
 * the per-user opt-out that sends honour (api_user_enabled; spec section
 * 10.2).  Every answer leaves through api_finish() (api_common.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "json.h"
#include "util.h"
#include "xmalloc.h"

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
