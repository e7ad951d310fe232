/*
 * schema.c: request-body validation with express-openapi-validator's
 * messages.
 *
 * The schemas are those of notifications-backend 0.6.11's OpenAPI spec,
 * written down as const tables.  The walker reproduces what ajv 8 does with
 * allErrors off:
 *
 * - a typed schema checks its type first ("must be object");
 * - an object then checks "required" in order, reporting the first
 *   missing property, then each listed property in schema order;
 * - an array checks its items in order;
 * - a string with an enum checks the type, then the allowed values (both
 *   fail and both are reported for a non-string inside a oneOf);
 * - the first failure ends the walk, except inside oneOf: there every
 *   branch runs (each stopping at its own first failure) and, unless
 *   exactly one branch passed, their errors stay and the oneOf line
 *   follows.  When one branch passes, the other branches' errors go.
 *
 * Each error reads "request/body<path> <message>"; the validator joins them
 * with ", ".  No coercion: "true" is not a boolean, and an array is not an
 * object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "schema.h"
#include "xmalloc.h"

#define SCHEMA_PREFIX	"request/body"

enum schema_kind {
	SK_STRING,
	SK_BOOLEAN,
	SK_OBJECT,
	SK_ARRAY,
	SK_ONEOF
};

struct schema;

struct schema_prop {
	const char		*name;
	const struct schema	*schema;
};

struct schema {
	enum schema_kind		 kind;
	const char *const		*allowed;	/* SK_STRING, or NULL */
	const char *const		*required;	/* SK_OBJECT */
	const struct schema_prop	*props;		/* SK_OBJECT */
	const struct schema		*items;		/* SK_ARRAY */
	const struct schema *const	*oneof;		/* SK_ONEOF */
};

/* A growing string: the JSON pointer being checked, or the message. */
struct schema_buf {
	char	*s;
	size_t	 len;
	size_t	 size;
};

struct schema_walk {
	struct schema_buf	path;
	struct schema_buf	msg;
	int			composite;	/* inside a oneOf */
};

/* --- The schemas (components/schemas of the 0.6.11 spec) ----------------- */

static const struct schema schema_string = { .kind = SK_STRING };
static const struct schema schema_boolean = { .kind = SK_BOOLEAN };
static const struct schema schema_any_object = { .kind = SK_OBJECT };

/* NotificationSeverity */
static const char *const severity_values[] = {
	"critical", "high", "normal", "low", NULL
};
static const struct schema schema_severity = {
	.kind = SK_STRING, .allowed = severity_values
};

/* NotificationPayload: the property order is the order of the checks. */
static const char *const payload_required[] = { "title", NULL };
static const struct schema_prop payload_props[] = {
	{ "title",		&schema_string },
	{ "description",	&schema_string },
	{ "link",		&schema_string },
	{ "severity",		&schema_severity },
	{ "topic",		&schema_string },
	{ "scope",		&schema_string },
	{ "icon",		&schema_string },
	{ "metadata",		&schema_any_object },
	{ NULL, NULL }
};
static const struct schema schema_payload = {
	.kind = SK_OBJECT, .required = payload_required, .props = payload_props
};

/* EntityRef: a string or an array of strings. */
static const struct schema schema_string_array = {
	.kind = SK_ARRAY, .items = &schema_string
};
static const struct schema *const entityref_oneof[] = {
	&schema_string, &schema_string_array, NULL
};
static const struct schema schema_entityref = {
	.kind = SK_ONEOF, .oneof = entityref_oneof
};

/* NotificationRecipients: {"type":"entity",...} or {"type":"broadcast"}. */
static const char *const entity_values[] = { "entity", NULL };
static const char *const broadcast_values[] = { "broadcast", NULL };
static const struct schema schema_type_entity = {
	.kind = SK_STRING, .allowed = entity_values
};
static const struct schema schema_type_broadcast = {
	.kind = SK_STRING, .allowed = broadcast_values
};
static const char *const entity_required[] = { "type", "entityRef", NULL };
static const struct schema_prop entity_props[] = {
	{ "type",		&schema_type_entity },
	{ "entityRef",		&schema_entityref },
	{ "excludeEntityRef",	&schema_entityref },
	{ NULL, NULL }
};
static const struct schema schema_recipients_entity = {
	.kind = SK_OBJECT, .required = entity_required, .props = entity_props
};
static const char *const broadcast_required[] = { "type", NULL };
static const struct schema_prop broadcast_props[] = {
	{ "type",		&schema_type_broadcast },
	{ NULL, NULL }
};
static const struct schema schema_recipients_broadcast = {
	.kind = SK_OBJECT, .required = broadcast_required,
	.props = broadcast_props
};
static const struct schema *const recipients_oneof[] = {
	&schema_recipients_entity, &schema_recipients_broadcast, NULL
};
static const struct schema schema_recipients = {
	.kind = SK_ONEOF, .oneof = recipients_oneof
};

/* NotificationSendOptions */
static const char *const send_required[] = { "recipients", "payload", NULL };
static const struct schema_prop send_props[] = {
	{ "recipients",		&schema_recipients },
	{ "payload",		&schema_payload },
	{ NULL, NULL }
};
static const struct schema schema_send = {
	.kind = SK_OBJECT, .required = send_required, .props = send_props
};

/* UpdateNotificationsRequest */
static const char *const update_required[] = { "ids", NULL };
static const struct schema_prop update_props[] = {
	{ "ids",		&schema_string_array },
	{ "read",		&schema_boolean },
	{ "saved",		&schema_boolean },
	{ NULL, NULL }
};
static const struct schema schema_update_body = {
	.kind = SK_OBJECT, .required = update_required, .props = update_props
};

/* NotificationSettings > ChannelSetting > OriginSetting > TopicSetting */
static const char *const topic_required[] = { "id", "enabled", NULL };
static const struct schema_prop topic_props[] = {
	{ "id",			&schema_string },
	{ "enabled",		&schema_boolean },
	{ NULL, NULL }
};
static const struct schema schema_topic = {
	.kind = SK_OBJECT, .required = topic_required, .props = topic_props
};
static const struct schema schema_topics = {
	.kind = SK_ARRAY, .items = &schema_topic
};
static const char *const origin_required[] = { "id", "enabled", NULL };
static const struct schema_prop origin_props[] = {
	{ "id",			&schema_string },
	{ "enabled",		&schema_boolean },
	{ "topics",		&schema_topics },
	{ NULL, NULL }
};
static const struct schema schema_origin = {
	.kind = SK_OBJECT, .required = origin_required, .props = origin_props
};
static const struct schema schema_origins = {
	.kind = SK_ARRAY, .items = &schema_origin
};
static const char *const channel_required[] = { "id", "origins", NULL };
static const struct schema_prop channel_props[] = {
	{ "id",			&schema_string },
	{ "enabled",		&schema_boolean },
	{ "origins",		&schema_origins },
	{ NULL, NULL }
};
static const struct schema schema_channel = {
	.kind = SK_OBJECT, .required = channel_required, .props = channel_props
};
static const struct schema schema_channels = {
	.kind = SK_ARRAY, .items = &schema_channel
};
static const char *const settings_required[] = { "channels", NULL };
static const struct schema_prop settings_props[] = {
	{ "channels",		&schema_channels },
	{ NULL, NULL }
};
static const struct schema schema_settings_body = {
	.kind = SK_OBJECT, .required = settings_required,
	.props = settings_props
};

/* --- The walker ----------------------------------------------------------- */

static void	schema_buf_add(struct schema_buf *, const char *, size_t);
static void	schema_error(struct schema_walk *, const char *, const char *);
static int	schema_check(struct schema_walk *, const struct schema *,
		    const struct json *);
static int	schema_run(const struct schema *, const struct json *, char *,
		    size_t);

static void
schema_buf_add(struct schema_buf *b, const char *s, size_t n)
{
	size_t	need = b->len + n + 1;

	if (need > b->size) {
		b->size = need > 2 * b->size ? need : 2 * b->size;
		b->s = xreallocarray(b->s, 1, b->size);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* Append "request/body<path> <what><arg>" to the message. */
static void
schema_error(struct schema_walk *w, const char *what, const char *arg)
{
	if (w->msg.len > 0)
		schema_buf_add(&w->msg, ", ", 2);
	schema_buf_add(&w->msg, SCHEMA_PREFIX, strlen(SCHEMA_PREFIX));
	schema_buf_add(&w->msg, w->path.s, w->path.len);
	schema_buf_add(&w->msg, " ", 1);
	schema_buf_add(&w->msg, what, strlen(what));
	if (arg != NULL)
		schema_buf_add(&w->msg, arg, strlen(arg));
}

/* "must be equal to one of the allowed values: a, b" */
static void
schema_enum_error(struct schema_walk *w, const char *const *allowed)
{
	struct schema_buf	list = { NULL, 0, 0 };
	size_t			i;

	for (i = 0; allowed[i] != NULL; i++) {
		if (i > 0)
			schema_buf_add(&list, ", ", 2);
		schema_buf_add(&list, allowed[i], strlen(allowed[i]));
	}
	schema_error(w, "must be equal to one of the allowed values: ",
	    list.s);
	free(list.s);
}

/*
 * Check v against s at the current path.  Returns 0 if it passes, -1 after
 * appending its (first) error.  Recursion depth follows the schema, not
 * the document, so it is bounded by the tables above.
 */
static int
schema_check(struct schema_walk *w, const struct schema *s,
    const struct json *v)
{
	const struct schema_prop	*p;
	const struct json		*child;
	enum json_type			 t = json_type(v);
	size_t				 i, pathlen, msglen;
	char				 idx[32];
	int				 passed, n;

	switch (s->kind) {
	case SK_STRING:
		if (t != JSON_STRING) {
			schema_error(w, "must be string", NULL);
			/*
			 * ajv tests the type of {type, enum} ahead of the
			 * keywords and, inside a oneOf, goes on to test the
			 * enum as well, which a non-string always fails.
			 */
			if (w->composite && s->allowed != NULL)
				schema_enum_error(w, s->allowed);
			return (-1);
		}
		if (s->allowed == NULL)
			return (0);
		for (i = 0; s->allowed[i] != NULL; i++) {
			if (strcmp(s->allowed[i], json_string(v)) == 0)
				return (0);
		}
		schema_enum_error(w, s->allowed);
		return (-1);
	case SK_BOOLEAN:
		if (t != JSON_TRUE && t != JSON_FALSE) {
			schema_error(w, "must be boolean", NULL);
			return (-1);
		}
		return (0);
	case SK_OBJECT:
		if (t != JSON_OBJECT) {
			schema_error(w, "must be object", NULL);
			return (-1);
		}
		for (i = 0; s->required != NULL && s->required[i] != NULL;
		    i++) {
			if (json_get(v, s->required[i]) == NULL) {
				schema_error(w, "must have required property '",
				    s->required[i]);
				schema_buf_add(&w->msg, "'", 1);
				return (-1);
			}
		}
		pathlen = w->path.len;
		for (p = s->props; p != NULL && p->name != NULL; p++) {
			if ((child = json_get(v, p->name)) == NULL)
				continue;
			schema_buf_add(&w->path, "/", 1);
			schema_buf_add(&w->path, p->name, strlen(p->name));
			n = schema_check(w, p->schema, child);
			w->path.len = pathlen;
			w->path.s[pathlen] = '\0';
			if (n == -1)
				return (-1);
		}
		return (0);
	case SK_ARRAY:
		if (t != JSON_ARRAY) {
			schema_error(w, "must be array", NULL);
			return (-1);
		}
		pathlen = w->path.len;
		i = 0;
		for (child = json_first(v); child != NULL;
		    child = json_next(child), i++) {
			n = snprintf(idx, sizeof idx, "/%zu", i);
			schema_buf_add(&w->path, idx, n);
			n = schema_check(w, s->items, child);
			w->path.len = pathlen;
			w->path.s[pathlen] = '\0';
			if (n == -1)
				return (-1);
		}
		return (0);
	case SK_ONEOF:
		msglen = w->msg.len;
		passed = 0;
		w->composite++;
		for (i = 0; s->oneof[i] != NULL; i++) {
			if (schema_check(w, s->oneof[i], v) == 0)
				passed++;
		}
		w->composite--;
		if (passed == 1) {
			/* The failed branches' errors are not reported. */
			w->msg.len = msglen;
			if (w->msg.s != NULL)
				w->msg.s[msglen] = '\0';
			return (0);
		}
		schema_error(w, "must match exactly one schema in oneOf",
		    NULL);
		return (-1);
	}
	return (-1);
}

/* Validate body against s; on failure copy the message into msg. */
static int
schema_run(const struct schema *s, const struct json *body, char *msg,
    size_t msglen)
{
	struct schema_walk	 w;
	struct json		*empty = NULL;
	int			 rv;

	memset(&w, 0, sizeof w);
	schema_buf_add(&w.path, "", 0);
	/* No body at all is what body-parser turns into {}. */
	if (body == NULL)
		body = empty = json_new_object();
	rv = schema_check(&w, s, body);
	if (rv == -1 && msg != NULL && msglen > 0)
		snprintf(msg, msglen, "%s", w.msg.s);
	json_free(empty);
	free(w.path.s);
	free(w.msg.s);
	return (rv);
}

/* POST /notifications (NotificationSendOptions). */
int
schema_send_options(const struct json *body, char *msg, size_t msglen)
{
	return (schema_run(&schema_send, body, msg, msglen));
}

/* POST /notifications/update and POST /update. */
int
schema_update(const struct json *body, char *msg, size_t msglen)
{
	return (schema_run(&schema_update_body, body, msg, msglen));
}

/* POST /settings (NotificationSettings). */
int
schema_settings(const struct json *body, char *msg, size_t msglen)
{
	return (schema_run(&schema_settings_body, body, msg, msglen));
}
