/*
 * api_int.h: internal to the api*.c files, never included elsewhere: one
 * request's state through the notifications plugin's pipeline (api.c),
 * and what its handlers share.  The files depend one way only: api.c's
 * route table names the handlers (api_create.c, api_read.c,
 * api_settings.c); they and the pipeline answer through api_common.c,
 * which calls none of them.
 */
#ifndef NOTIMOCK_API_INT_H
#define NOTIMOCK_API_INT_H

#include <stddef.h>

#include "auth.h"
#include "route.h"

struct db_notification;
struct json;
struct req;
struct server;

/* One request's state through the pipeline. */
struct api_ctx {
	struct req		*r;
	char			*url;		/* as the plugin router sees it */
	const char		*sub;		/* the path below the mount */
	struct route_match	 match;		/* sub's route (api.c's table) */
	const char		*ctype;		/* Content-Type, or NULL */
	int			 is_json;	/* its media type is JSON */
	struct api_query	*q;		/* the parsed query (validator) */
	size_t			 nq;
	struct principal	 who;
	int			 authenticated;
	struct json		*body;		/* parsed JSON, or NULL */
	/* What the delivery record says about the send. */
	struct json		*entities;	/* refs addressed */
	struct json		*users;		/* users reached */
	struct json		*ids;		/* notification ids stored */
	/* For diagnosis (diag.c): the barrier's verdict and the parser's. */
	int			 auth_checked;
	enum auth_result	 auth;
	const char		*jerr;		/* json_parse message, or NULL */
	long			 jpos;		/* its byte offset, -1: none */
	char			*fault;		/* JSON of the rule that fired */
};

/* One parameter of the raw query, decoded as Express's qs does. */
struct api_query {
	char	*name;		/* decoded; qs-style "a[x]" reduced to "a" */
	char	*value;
	int	 bracket;	/* 0: plain; 1: "a[]"/"a[0]"; 2: "a[x]" */
};

/* --- api.c: the pipeline ------------------------------------------------ */

/* For a handler that answers after it returns: the request's state, moved
 * to the heap (the pipeline frees nothing); free it with api_ctx_free
 * once answered.  c->sub and c->match point into the request: not to be
 * read once its client has gone. */
struct api_ctx	*api_ctx_take(struct api_ctx *);
void		 api_ctx_free(struct api_ctx *);

/* --- api_common.c: the way out and what every handler shares ----------- */

#define API_MOUNT	"/api/notifications"
#define API_BODY_LIMIT	102400		/* express.json()'s 100kb, inclusive */
#define API_JSON	"application/json; charset=utf-8"

/* request.url as the plugin router sees it: the URI below the mount, with
 * its query.  Caller frees. */
char		*api_plugin_url(const char *uri);
/* Store the delivery and answer status with a JSON body (NULL, 0: none;
 * an empty 404 goes without a Content-Type).  Takes body. */
void		 api_finish(struct api_ctx *, int status, char *body,
		    size_t len);
/* The same with a text body of this Content-Type (copied). */
void		 api_finish_text(struct api_ctx *, int status,
		    const char *ctype, const char *text);
/* Answer with Backstage's error body (http_error_body()); cause (may be
 * NULL) is borrowed. */
void		 api_fail(struct api_ctx *, int status, const char *name,
		    const char *msg, const struct json *cause);
/* Answer with Backstage's 400 InputError and msg. */
void		 api_input_error(struct api_ctx *, const char *msg);
/* Answer Backstage's 500 for a database failure (why goes to our log
 * only, behind a log id). */
void		 api_internal_error(struct api_ctx *, const char *why);
/* Answer 200 with a JSON document; takes doc. */
void		 api_send_doc(struct api_ctx *, struct json *doc);
/* JavaScript's Number(s): 0 and *out, or -1 where it gives NaN. */
int		 api_js_number(const char *s, double *out);
/* A member of o as a tri-state boolean: 1 true, 0 false, -1 anything
 * else (JavaScript's undefined, for the settings logic). */
int		 api_tri(const struct json *o, const char *key);
/* The read-side form of a stored notification (spec section 8); the
 * caller frees it. */
struct json	*api_stored_element(const struct db_notification *);

/*
 * The handlers of api.c's route table.  arg is the request's struct
 * api_ctx, through the pipeline's checks; each ends the request.
 */

/* --- api_create.c: POST /notifications ---------------------------------- */
void		 api_create(struct req *, void *);

/* --- api_read.c: the read side ------------------------------------------ */
void		 api_read_list(struct req *, void *);
void		 api_read_get(struct req *, void *);
void		 api_read_update(struct req *, void *);
void		 api_read_status(struct req *, void *);
void		 api_read_topics(struct req *, void *);

/* --- api_settings.c: user settings ---------------------------------------- */
void		 api_settings_get(struct req *, void *);
void		 api_settings_post(struct req *, void *);
/* May user get a notification of this origin and topic (NULL: none) on
 * the Web channel?  1 yes, 0 opted out, -1 on a database error. */
int		 api_user_enabled(struct server *, const char *user,
		    const char *origin, const char *topic);

#endif
