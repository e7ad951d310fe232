/*
 * fault.c: fault rules (fault.h), their one vocabulary, and /mock/faults.
 *
 * A rule is a list of conditions (all must hold) and an action.  The same
 * keys serve the --fault spec ("status=503,503;times=2"), the JSON body of
 * POST /mock/faults ({"status":"503,503","times":2}) and the CLI's flags
 * (`notimock fault add --status 503,503 --times 2`): every value goes
 * through fault_set() as text, so the three can never disagree.
 *
 * Rules live in memory, in the order they were added, until deleted; one
 * that has fired --times times or outlived --for stays listed (active:
 * false) so that a test can still read how often it fired.
 */
#include <sys/queue.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "entity.h"
#include "fault.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "admin.h"
#include "util.h"
#include "xmalloc.h"

#define FAULT_MAX_RULES		256
#define FAULT_MAX_STATUSES	32
#define FAULT_MAX_DELAY_MS	(10LL * 60 * 1000)	/* 10 minutes */
#define FAULT_MAX_BODY		102400	/* express.json()'s limit */
#define JSON_CTYPE		"application/json; charset=utf-8"

struct fault_rule {
	char		 id[FAULT_ID_LEN];
	/* Conditions; NULL matches anything. */
	char		*method;
	char		*path;		/* prefix of the decoded path */
	char		*entity;	/* as given */
	char		*entity_key;	/* canonical, for comparison */
	char		*topic;
	char		*origin;
	char		*title;		/* substring of payload.title */
	/* Action. */
	int		 status[FAULT_MAX_STATUSES];
	size_t		 nstatus;
	int		 retry_after;	/* -1: none */
	int64_t		 delay_ms;
	int		 drop, reset;
	/* Lifetime. */
	int64_t		 times;		/* 0: no limit */
	int64_t		 for_ms;	/* 0: no limit */
	int64_t		 created;	/* epoch ms */
	int64_t		 fired;
	TAILQ_ENTRY(fault_rule) entry;
};

struct faults {
	TAILQ_HEAD(, fault_rule) rules;
	size_t		 n;
	uint64_t	 next_id;
	uint64_t	 fired;		/* all rules, since start */
};

/* The keys: CLI flag and spec name, and the JSON member name. */
enum fault_key {
	K_STATUS, K_TIMES, K_DELAY, K_DROP, K_RESET, K_RETRY_AFTER, K_ENTITY,
	K_TOPIC, K_ORIGIN, K_PATH, K_METHOD, K_TITLE, K_FOR
};

static const struct fault_keydef {
	const char	*spec;
	const char	*json;
} fault_keys[] = {
	[K_STATUS] = { "status", "status" },
	[K_TIMES] = { "times", "times" },
	[K_DELAY] = { "delay", "delay" },
	[K_DROP] = { "drop", "drop" },
	[K_RESET] = { "reset", "reset" },
	[K_RETRY_AFTER] = { "retry-after", "retryAfter" },
	[K_ENTITY] = { "entity", "entity" },
	[K_TOPIC] = { "topic", "topic" },
	[K_ORIGIN] = { "origin", "origin" },
	[K_PATH] = { "path", "path" },
	[K_METHOD] = { "method", "method" },
	[K_TITLE] = { "title", "title" },
	[K_FOR] = { "for", "for" },
};
#define FAULT_NKEYS (sizeof fault_keys / sizeof fault_keys[0])

/*
 * Backstage's error names by status (@backstage/errors, as its error
 * handler maps them: spec section 11.2); 429 and the gateway codes have no
 * class there, so they get the names a reader expects.
 */
static const struct {
	int		 status;
	const char	*name;
} fault_names[] = {
	{ 400, "InputError" },
	{ 401, "AuthenticationError" },
	{ 403, "NotAllowedError" },
	{ 404, "NotFoundError" },
	{ 408, "RequestTimeoutError" },
	{ 409, "ConflictError" },
	{ 413, "PayloadTooLargeError" },
	{ 429, "TooManyRequestsError" },
	{ 500, "Error" },
	{ 501, "NotImplementedError" },
	{ 502, "BadGatewayError" },
	{ 503, "ServiceUnavailableError" },
	{ 504, "GatewayTimeoutError" },
};

const char *
fault_error_name(int status)
{
	size_t	i;

	for (i = 0; i < sizeof fault_names / sizeof fault_names[0]; i++)
		if (fault_names[i].status == status)
			return (fault_names[i].name);
	return ("Error");
}

struct faults *
fault_new(void)
{
	struct faults	*f = xcalloc(1, sizeof *f);

	TAILQ_INIT(&f->rules);
	return (f);
}

static void
fault_rule_free(struct fault_rule *r)
{
	if (r == NULL)
		return;
	free(r->method);
	free(r->path);
	free(r->entity);
	free(r->entity_key);
	free(r->topic);
	free(r->origin);
	free(r->title);
	free(r);
}

void
fault_free(struct faults *f)
{
	struct fault_rule	*r;

	if (f == NULL)
		return;
	while ((r = TAILQ_FIRST(&f->rules)) != NULL) {
		TAILQ_REMOVE(&f->rules, r, entry);
		fault_rule_free(r);
	}
	free(f);
}

uint64_t
fault_fired_total(const struct faults *f)
{
	return (f != NULL ? f->fired : 0);
}

static int	fault_active(const struct fault_rule *, int64_t);

size_t
fault_active_count(const struct faults *f)
{
	const struct fault_rule	*r;
	int64_t			 now = util_now_ms();
	size_t			 n = 0;

	if (f == NULL)
		return (0);
	TAILQ_FOREACH(r, &f->rules, entry)
		if (fault_active(r, now))
			n++;
	return (n);
}

/* --- the vocabulary ---------------------------------------------------- */

/* A canonical entity key; NULL (and err) if ref does not parse. */
static char *
fault_entity_key(const char *ref, char *err, size_t errlen)
{
	struct entity_ref	 er;
	char			 name[32], *key;

	if (entity_parse(ref, &er, name, sizeof name, err, errlen) == -1)
		return (NULL);
	key = entity_canonical(&er);
	entity_ref_clear(&er);
	return (key);
}

static int
fault_bool(const char *v, int *out)
{
	if (*v == '\0' || strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
	    strcmp(v, "yes") == 0)
		*out = 1;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 ||
	    strcmp(v, "no") == 0)
		*out = 0;
	else
		return (-1);
	return (0);
}

/* Set one key of r from text.  Returns -1 with a message in err. */
static int
fault_set(struct fault_rule *r, enum fault_key k, const char *v, char *err,
    size_t errlen)
{
	const char	*errstr, *name = fault_keys[k].spec;
	char		*copy, *p, *tok, msg[256];
	long long	 n;
	int64_t		 ms;

	switch (k) {
	case K_STATUS:
		r->nstatus = 0;
		copy = xstrdup(v);
		for (p = copy; (tok = strsep(&p, ",")) != NULL;) {
			while (*tok == ' ')
				tok++;
			n = util_strtonum(tok, 400, 599, &errstr);
			if (errstr != NULL || r->nstatus == FAULT_MAX_STATUSES) {
				snprintf(err, errlen, "status takes HTTP codes "
				    "from 400 to 599, comma-separated (at most "
				    "%d), not '%s'", FAULT_MAX_STATUSES, v);
				free(copy);
				return (-1);
			}
			r->status[r->nstatus++] = (int)n;
		}
		free(copy);
		return (0);
	case K_TIMES:
		n = util_strtonum(v, 1, INT64_MAX, &errstr);
		if (errstr != NULL) {
			snprintf(err, errlen, "times takes a count of 1 or "
			    "more, not '%s'", v);
			return (-1);
		}
		r->times = n;
		return (0);
	case K_DELAY:
	case K_FOR:
		if (util_parse_duration(v, &ms) == -1 || (k == K_DELAY &&
		    ms > FAULT_MAX_DELAY_MS) || (k == K_FOR && ms == 0)) {
			snprintf(err, errlen, "%s takes a duration such as "
			    "500ms, 3s or 2m%s, not '%s'", name, k == K_DELAY ?
			    " (at most 10m)" : "", v);
			return (-1);
		}
		if (k == K_DELAY)
			r->delay_ms = ms;
		else
			r->for_ms = ms;
		return (0);
	case K_DROP:
	case K_RESET:
		if (fault_bool(v, k == K_DROP ? &r->drop : &r->reset) == -1) {
			snprintf(err, errlen, "%s takes true or false, not "
			    "'%s'", name, v);
			return (-1);
		}
		return (0);
	case K_RETRY_AFTER:
		n = util_strtonum(v, 0, 86400, &errstr);
		if (errstr != NULL) {
			snprintf(err, errlen, "retry-after takes seconds "
			    "(0 to 86400), not '%s'", v);
			return (-1);
		}
		r->retry_after = (int)n;
		return (0);
	case K_ENTITY:
		free(r->entity_key);
		if ((r->entity_key = fault_entity_key(v, msg, sizeof msg)) ==
		    NULL) {
			snprintf(err, errlen, "entity: %s", msg);
			return (-1);
		}
		free(r->entity);
		r->entity = xstrdup(v);
		return (0);
	case K_METHOD:
		for (p = (char *)v; *p != '\0'; p++)
			if (!isalpha((unsigned char)*p))
				break;
		if (*v == '\0' || *p != '\0' || strlen(v) > 16) {
			snprintf(err, errlen, "method takes a method name such "
			    "as POST, not '%s'", v);
			return (-1);
		}
		free(r->method);
		r->method = xstrdup(v);
		for (p = r->method; *p != '\0'; p++)
			*p = (char)toupper((unsigned char)*p);
		return (0);
	case K_PATH:
		if (*v != '/') {
			snprintf(err, errlen, "path takes a path prefix that "
			    "starts with '/', such as /api/notifications, not "
			    "'%s'", v);
			return (-1);
		}
		free(r->path);
		r->path = xstrdup(v);
		return (0);
	case K_TOPIC:
	case K_ORIGIN:
	case K_TITLE:
		if (*v == '\0') {
			snprintf(err, errlen, "%s must not be empty", name);
			return (-1);
		}
		p = xstrdup(v);
		if (k == K_TOPIC) {
			free(r->topic);
			r->topic = p;
		} else if (k == K_ORIGIN) {
			free(r->origin);
			r->origin = p;
		} else {
			free(r->title);
			r->title = p;
		}
		return (0);
	}
	return (-1);
}

static struct fault_rule *
fault_rule_new(void)
{
	struct fault_rule	*r = xcalloc(1, sizeof *r);

	r->retry_after = -1;
	return (r);
}

/* Check a rule as a whole once its keys are set. */
static int
fault_rule_done(struct fault_rule *r, char *err, size_t errlen)
{
	int	actions = (r->nstatus > 0) + r->drop + r->reset;

	if (actions > 1) {
		snprintf(err, errlen, "a rule answers one way: status, drop or "
		    "reset (a delay goes with any of them)");
		return (-1);
	}
	if (actions == 0 && r->delay_ms == 0) {
		snprintf(err, errlen, "a rule needs an action: status, delay, "
		    "drop or reset");
		return (-1);
	}
	if (r->retry_after >= 0 && r->nstatus == 0) {
		snprintf(err, errlen, "retry-after goes with a status (429 or "
		    "503, usually)");
		return (-1);
	}
	/* "503,503" fires twice, then lets requests through. */
	if (r->times == 0 && r->nstatus > 1)
		r->times = (int64_t)r->nstatus;
	r->created = util_now_ms();
	return (0);
}

static void
fault_insert(struct faults *f, struct fault_rule *r)
{
	snprintf(r->id, sizeof r->id, "f%llu",
	    (unsigned long long)++f->next_id);
	TAILQ_INSERT_TAIL(&f->rules, r, entry);
	f->n++;
}

static int
fault_key_find(const char *name, int json)
{
	size_t	i;

	for (i = 0; i < FAULT_NKEYS; i++)
		if (strcmp(name, json ? fault_keys[i].json :
		    fault_keys[i].spec) == 0)
			return ((int)i);
	return (-1);
}

int
fault_add_spec(struct faults *f, const char *spec, char **cause)
{
	struct fault_rule	*r;
	char			*copy, *p, *item, *eq, err[512];
	int			 k;

	if (f->n >= FAULT_MAX_RULES) {
		xasprintf(cause, "fault: at most %d rules", FAULT_MAX_RULES);
		return (-1);
	}
	r = fault_rule_new();
	copy = xstrdup(spec);
	for (p = copy; (item = strsep(&p, ";")) != NULL;) {
		while (*item == ' ')
			item++;
		if (*item == '\0')
			continue;
		if ((eq = strchr(item, '=')) != NULL)
			*eq++ = '\0';
		if ((k = fault_key_find(item, 0)) == -1) {
			xasprintf(cause, "fault '%s': unknown key '%s' (status, "
			    "times, delay, drop, reset, retry-after, entity, "
			    "topic, origin, path, method, title, for)", spec,
			    item);
			goto fail;
		}
		/* "drop" alone is "drop=true"; everything else needs =. */
		if (eq == NULL && k != K_DROP && k != K_RESET) {
			xasprintf(cause, "fault '%s': %s needs a value "
			    "(%s=...)", spec, item, item);
			goto fail;
		}
		if (fault_set(r, (enum fault_key)k, eq ? eq : "", err,
		    sizeof err) == -1) {
			xasprintf(cause, "fault '%s': %s", spec, err);
			goto fail;
		}
	}
	if (fault_rule_done(r, err, sizeof err) == -1) {
		xasprintf(cause, "fault '%s': %s", spec, err);
		goto fail;
	}
	free(copy);
	fault_insert(f, r);
	log_info("fault %s added: %s", r->id, spec);
	return (0);
fail:
	free(copy);
	fault_rule_free(r);
	return (-1);
}

/* --- matching ---------------------------------------------------------- */

static int
fault_active(const struct fault_rule *r, int64_t now)
{
	if (r->times > 0 && r->fired >= r->times)
		return (0);
	if (r->for_ms > 0 && now - r->created >= r->for_ms)
		return (0);
	return (1);
}

/* Does any recipients.entityRef name the rule's entity? */
static int
fault_entity_match(const struct fault_rule *r, const struct json *body)
{
	const struct json	*e, *one;
	char			 err[256], *key;
	int			 hit = 0;

	e = json_get(json_get(body, "recipients"), "entityRef");
	if (json_type(e) == JSON_STRING)
		one = e;
	else if (json_type(e) == JSON_ARRAY)
		one = json_first(e);
	else
		return (0);
	for (; one != NULL && !hit; one = json_type(e) == JSON_ARRAY ?
	    json_next(one) : NULL) {
		if (json_string(one) == NULL)
			continue;
		if ((key = fault_entity_key(json_string(one), err,
		    sizeof err)) == NULL)
			continue;
		hit = strcmp(key, r->entity_key) == 0;
		free(key);
	}
	return (hit);
}

static int
fault_match(const struct fault_rule *r, const struct fault_in *in,
    const struct json *body)
{
	const char	*s;
	size_t		 len;

	if (r->method != NULL && !util_strcaseeq(r->method, in->method))
		return (0);
	if (r->path != NULL) {
		len = strlen(r->path);
		if (!util_strncaseeq(in->path, r->path, len))
			return (0);
	}
	if (r->origin != NULL && (in->origin == NULL ||
	    strcmp(r->origin, in->origin) != 0))
		return (0);
	if (r->topic != NULL && ((s = json_string(json_get(json_get(body,
	    "payload"), "topic"))) == NULL || strcmp(s, r->topic) != 0))
		return (0);
	if (r->title != NULL && ((s = json_string(json_get(json_get(body,
	    "payload"), "title"))) == NULL || strstr(s, r->title) == NULL))
		return (0);
	if (r->entity_key != NULL && !fault_entity_match(r, body))
		return (0);
	return (1);
}

int
fault_check(struct faults *f, const struct fault_in *in, struct fault_hit *hit)
{
	struct fault_rule	*r;
	struct json		*body = NULL;
	char			 err[JSON_ERRLEN];
	int64_t			 now;
	int			 parsed = 0, rv = 0;

	if (f == NULL || TAILQ_EMPTY(&f->rules))
		return (0);
	now = util_now_ms();
	TAILQ_FOREACH(r, &f->rules, entry) {
		if (!fault_active(r, now))
			continue;
		/* The body is read only for a rule that looks into it, and
		 * loosely: a fault answers before Backstage's parser runs. */
		if (!parsed && (r->topic || r->title || r->entity_key)) {
			parsed = 1;
			if (in->body_len > 0 && in->body_len <= FAULT_MAX_BODY)
				body = json_parse((const char *)in->body,
				    in->body_len, 0, err, sizeof err, NULL);
		}
		if (!fault_match(r, in, body))
			continue;
		memset(hit, 0, sizeof *hit);
		snprintf(hit->id, sizeof hit->id, "%s", r->id);
		if (r->nstatus > 0)
			hit->status = r->status[(size_t)r->fired < r->nstatus ?
			    (size_t)r->fired : r->nstatus - 1];
		hit->retry_after = r->retry_after;
		hit->delay_ms = r->delay_ms;
		hit->drop = r->drop;
		hit->reset = r->reset;
		r->fired++;
		f->fired++;
		rv = 1;
		break;
	}
	json_free(body);
	return (rv);
}

char *
fault_hit_json(const struct fault_hit *h)
{
	struct json	*o = json_new_object();
	char		*s;

	json_add_str(o, "id", h->id);
	json_add_str(o, "action", h->drop ? "drop" : h->reset ? "reset" :
	    h->status ? "status" : "delay");
	if (h->status)
		json_add_num(o, "status", h->status);
	if (h->retry_after >= 0)
		json_add_num(o, "retryAfter", h->retry_after);
	if (h->delay_ms > 0)
		json_add_num(o, "delayMs", (double)h->delay_ms);
	s = json_print(o, NULL);
	json_free(o);
	return (s);
}

char *
fault_note_gone(const char *fault, int64_t after_ms)
{
	struct json	*o;
	char		 err[JSON_ERRLEN], *s;

	if ((o = json_parse(fault, strlen(fault), 0, err, sizeof err,
	    NULL)) == NULL)
		return (xstrdup(fault));
	json_add_bool(o, "answered", 0);
	json_add_num(o, "clientLeftAfterMs", (double)after_ms);
	s = json_print(o, NULL);
	json_free(o);
	return (s);
}

/* --- /mock/faults ------------------------------------------------------ */

static struct json *
fault_rule_json(const struct fault_rule *r, int64_t now)
{
	struct json	*o = json_new_object(), *a;
	char		 iso[UTIL_ISO_LEN];
	size_t		 i;

	json_add_str(o, "id", r->id);
	json_add_bool(o, "active", fault_active(r, now));
	json_add_num(o, "fired", (double)r->fired);
	json_add_str(o, "created", util_iso_ms(r->created, iso));
	if (r->nstatus > 0) {
		a = json_new_array();
		for (i = 0; i < r->nstatus; i++)
			json_append(a, json_new_number(r->status[i]));
		json_add(o, "status", a);
	}
	if (r->retry_after >= 0)
		json_add_num(o, "retryAfter", r->retry_after);
	if (r->delay_ms > 0)
		json_add_num(o, "delayMs", (double)r->delay_ms);
	if (r->drop)
		json_add_bool(o, "drop", 1);
	if (r->reset)
		json_add_bool(o, "reset", 1);
	if (r->times > 0)
		json_add_num(o, "times", (double)r->times);
	if (r->for_ms > 0) {
		json_add_num(o, "forMs", (double)r->for_ms);
		json_add_str(o, "expires", util_iso_ms(r->created + r->for_ms,
		    iso));
	}
	if (r->method != NULL)
		json_add_str(o, "method", r->method);
	if (r->path != NULL)
		json_add_str(o, "path", r->path);
	if (r->entity != NULL)
		json_add_str(o, "entity", r->entity);
	if (r->topic != NULL)
		json_add_str(o, "topic", r->topic);
	if (r->origin != NULL)
		json_add_str(o, "origin", r->origin);
	if (r->title != NULL)
		json_add_str(o, "title", r->title);
	return (o);
}

static void
fault_list(struct req *r, struct faults *f)
{
	struct fault_rule	*fr;
	struct json		*o = json_new_object(), *a = json_new_array();
	int64_t			 now = util_now_ms();

	TAILQ_FOREACH(fr, &f->rules, entry)
		json_append(a, fault_rule_json(fr, now));
	json_add(o, "faults", a);
	json_add_num(o, "fired", (double)f->fired);
	http_send_json(r, 200, o);
	json_free(o);
}

/* A JSON member's value as the text fault_set() takes. */
static char *
fault_json_text(const struct json *v)
{
	const struct json	*e;
	char			*s, *t, *n;

	switch (json_type(v)) {
	case JSON_STRING:
		return (xstrdup(json_string(v)));
	case JSON_TRUE:
		return (xstrdup("true"));
	case JSON_FALSE:
		return (xstrdup("false"));
	case JSON_NUMBER:
		return (json_print(v, NULL));
	case JSON_ARRAY:	/* "status": [503, 503] */
		s = xstrdup("");
		for (e = json_first(v); e != NULL; e = json_next(e)) {
			if (json_type(e) != JSON_NUMBER) {
				free(s);
				return (NULL);
			}
			n = json_print(e, NULL);
			xasprintf(&t, "%s%s%s", s, *s ? "," : "", n);
			free(n);
			free(s);
			s = t;
		}
		return (s);
	default:
		return (NULL);
	}
}

static void
fault_add_json(struct req *r, struct faults *f)
{
	const unsigned char	*body;
	struct fault_rule	*fr = NULL;
	struct json		*o = NULL;
	const struct json	*m;
	char			 err[JSON_ERRLEN + 64], msg[1024], *v;
	size_t			 len;
	int			 k;

	body = http_body(r, &len);
	if (len > FAULT_MAX_BODY) {
		http_error(r, 400, "InputError", "the rule is over 100 kB");
		return;
	}
	if ((o = json_parse((const char *)body, len, 0, err, sizeof err,
	    NULL)) == NULL || json_type(o) != JSON_OBJECT) {
		snprintf(msg, sizeof msg, "the body must be a JSON object, such "
		    "as {\"status\":\"503,503\"}%s%s", o == NULL ? ": " : "",
		    o == NULL ? err : "");
		http_error(r, 400, "InputError", msg);
		goto out;
	}
	if (f->n >= FAULT_MAX_RULES) {
		snprintf(msg, sizeof msg, "at most %d rules: delete some first",
		    FAULT_MAX_RULES);
		http_error(r, 409, "ConflictError", msg);
		goto out;
	}
	fr = fault_rule_new();
	for (m = json_first(o); m != NULL; m = json_next(m)) {
		if ((k = fault_key_find(json_key(m), 1)) == -1) {
			snprintf(msg, sizeof msg, "unknown member '%.64s' (status, "
			    "times, delay, drop, reset, retryAfter, entity, "
			    "topic, origin, path, method, title, for)",
			    json_key(m));
			http_error(r, 400, "InputError", msg);
			goto out;
		}
		if ((v = fault_json_text(m)) == NULL) {
			snprintf(msg, sizeof msg, "'%s' takes a string, number "
			    "or boolean", json_key(m));
			http_error(r, 400, "InputError", msg);
			goto out;
		}
		if (fault_set(fr, (enum fault_key)k, v, err, sizeof err) == -1) {
			free(v);
			http_error(r, 400, "InputError", err);
			goto out;
		}
		free(v);
	}
	if (fault_rule_done(fr, err, sizeof err) == -1) {
		http_error(r, 400, "InputError", err);
		goto out;
	}
	fault_insert(f, fr);
	log_info("fault %s added over /mock/faults", fr->id);
	json_free(o);
	o = fault_rule_json(fr, util_now_ms());
	fr = NULL;
	http_send_json(r, 201, o);
out:
	fault_rule_free(fr);
	json_free(o);
}

static void
fault_delete(struct req *r, struct faults *f, const char *id)
{
	struct fault_rule	*fr, *next;
	struct json		*o = json_new_object();
	char			 msg[256];
	size_t			 n = 0;

	for (fr = TAILQ_FIRST(&f->rules); fr != NULL; fr = next) {
		next = TAILQ_NEXT(fr, entry);
		if (id != NULL && strcmp(fr->id, id) != 0)
			continue;
		TAILQ_REMOVE(&f->rules, fr, entry);
		fault_rule_free(fr);
		f->n--;
		n++;
	}
	if (id != NULL && n == 0) {
		snprintf(msg, sizeof msg, "no fault rule '%.64s' (see GET "
		    "/mock/faults)", id);
		http_error(r, 404, "NotFoundError", msg);
		json_free(o);
		return;
	}
	json_add_num(o, "deleted", (double)n);
	http_send_json(r, 200, o);
	json_free(o);
}

void
fault_route(struct req *r, void *arg)
{
	struct faults	*f = r->srv->faults;
	const char	*sub = r->path + strlen("/mock/faults");
	char		 id[FAULT_ID_LEN + 1];
	size_t		 len;

	if (!admin_authorize(r))
		return;
	if (f == NULL) {
		http_error(r, 503, "ServiceUnavailableError",
		    "fault injection is not running");
		return;
	}
	len = strlen(sub);
	if (len > 0 && sub[len - 1] == '/')
		len--;
	if (len == 0) {
		switch (r->verb) {
		case HTTP_GET:
			fault_list(r, f);
			return;
		case HTTP_POST:
			fault_add_json(r, f);
			return;
		case HTTP_DELETE:
			fault_delete(r, f, NULL);
			return;
		default:
			http_add_header(r, "Allow", "GET, POST, DELETE");
			http_error(r, 405, "MethodNotAllowedError",
			    "allowed here: GET, POST, DELETE");
			return;
		}
	}
	/* /mock/faults/{id} */
	if (len - 1 > FAULT_ID_LEN || memchr(sub + 1, '/', len - 1) != NULL) {
		http_error(r, 404, "NotFoundError", "no such fault rule (see "
		    "GET /mock/faults)");
		return;
	}
	if (r->verb != HTTP_DELETE) {
		http_add_header(r, "Allow", "DELETE");
		http_error(r, 405, "MethodNotAllowedError",
		    "allowed here: DELETE");
		return;
	}
	memcpy(id, sub + 1, len - 1);
	id[len - 1] = '\0';
	fault_delete(r, f, id);
}
