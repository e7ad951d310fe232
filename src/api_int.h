/*
 * api_int.h: internal to the api_*.c files (api.c, api_read.c), never
 * included elsewhere: one request's state through the notifications
 * plugin's pipeline, its routes and parsed query, and the helpers that
 * the pipeline with its create handler (api.c) and the user routes
 * (api_read.c) share.
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

/* --- api.c: the way out and shared helpers ----------------------------- */

/* Store the delivery and answer status with a JSON body (NULL, 0: none;
 * an empty 404 goes without a Content-Type).  Takes body. */
void		 api_finish(struct api_ctx *, int status, char *body,
		    size_t len);
/* Answer with Backstage's error body (http_error_body()); cause (may be
 * NULL) is borrowed. */
void		 api_fail(struct api_ctx *, int status, const char *name,
		    const char *msg, const struct json *cause);
/* Answer with Backstage's 400 InputError and msg. */
void		 api_input_error(struct api_ctx *, const char *msg);
/* JavaScript's Number(s): 0 and *out, or -1 where it gives NaN. */
int		 api_js_number(const char *s, double *out);
/* The read-side form of a stored notification (spec section 8); the
 * caller frees it. */
struct json	*api_stored_element(const struct db_notification *);

/* --- api_read.c: the user routes ---------------------------------------- */

/* The user routes' handlers (api.c's route table): arg is the request's
 * struct api_ctx, validated; each ends the request. */
void		 api_read_list(struct req *, void *);
void		 api_read_get(struct req *, void *);
void		 api_read_update(struct req *, void *);
void		 api_read_status(struct req *, void *);
void		 api_read_topics(struct req *, void *);
void		 api_settings_get(struct req *, void *);
void		 api_settings_post(struct req *, void *);
/* May user get a notification of this origin and topic (NULL: none) on
 * the Web channel?  1 yes, 0 opted out, -1 on a database error. */
int		 api_user_enabled(struct server *, const char *user,
		    const char *origin, const char *topic);

#endif
