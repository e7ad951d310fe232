/*
 * api_read.c: the notifications plugin's read side, once api.c's pipeline
 * has let a request through: GET /notifications, GET /notifications/:id,
 * POST /notifications/update, GET /status, GET /topics (spec sections 8,
 * 9, 10).  Every answer leaves through api_finish() (api_common.c).
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

/* --- the read side (spec sections 8, 9, 10) ------------------------------ */

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

static struct json *
api_notification_array(const struct db_notification *v, size_t n)
{
	struct json	*arr = json_new_array();
	size_t		 i;

	for (i = 0; i < n; i++)
		json_append(arr, api_stored_element(&v[i]));
	return (arr);
}

/*
 * The lists (GET /notifications, GET /topics) are read by the read worker
 * (db_worker.c), off the loop: whatever the filters, a list may have to
 * look at every row the user sees (a search, another order, createdAfter,
 * a topic or a read state whose matches are rare: 0.4-0.7 s at 1 M
 * notifications), and the hop costs little beside the cheapest of them
 * (README "Performance").  The request's state moves to the heap
 * (api_ctx_take) and waits, watched for its client leaving; the worker
 * reads and prints the body; api_read_done answers on the loop through
 * api_finish, which stores the delivery as before.  GET /status (counts
 * kept per key), GET /notifications/:id (one id) and the update (a write)
 * stay on the loop.
 */
struct api_read_job {
	struct db_job		 job;		/* first: the worker's handle */
	struct api_ctx		*c;		/* taken; freed by done */
	struct db		*db;		/* the loop's (db_job_cancel) */
	int			 gone;		/* the client left */
	int			 topics;	/* GET /topics, else the list */
	struct db_nquery	 nq;		/* its strings are c's */
	char			**fields;	/* orderField names */
	int			*dirs;
	size_t			 nf;
	char			*body;		/* the answer, printed by run */
	size_t			 len;
};

/* On the worker (or the loop, without one): read and print the answer. */
static void
api_read_run(struct db *db, struct db_job *job)
{
	struct api_read_job	*j = (struct api_read_job *)(void *)job;
	struct db_notification	*v = NULL;
	struct json		*doc, *arr;
	char			**topics = NULL;
	size_t			 nv = 0, i;
	int64_t			 total;
	int			 rc;

	if (j->topics)
		rc = db_notification_topics(db, &j->nq, &topics, &nv);
	else
		rc = db_notification_page(db, &j->nq, &v, &nv, &total);
	if (rc == -1) {
		job->failed = 1;
		snprintf(job->err, sizeof job->err, "%s", db_errmsg(db));
		return;
	}
	doc = json_new_object();
	if (j->topics) {
		arr = json_new_array();
		for (i = 0; i < nv; i++)
			json_append(arr, json_new_string(topics[i]));
		json_add(doc, "topics", arr);
		strv_free(topics, nv);
	} else {
		json_add_num(doc, "totalCount", (double)total);
		json_add(doc, "notifications", api_notification_array(v, nv));
		db_notifications_free(v, nv);
	}
	j->body = json_print(doc, &j->len);
	json_free(doc);
}

/* On the loop: answer (unless the client left), then free the job. */
static void
api_read_done(struct db_job *job)
{
	struct api_read_job	*j = (struct api_read_job *)(void *)job;
	struct api_ctx		*c = j->c;

	if (!j->gone) {
		http_on_close_cancel(c->r);
		if (job->stopped)
			api_internal_error(c, "the server stopped before this "
			    "read ran");
		else if (job->failed)
			api_internal_error(c, job->err);
		else {
			api_finish(c, 200, j->body, j->len);
			j->body = NULL;		/* api_finish took it */
		}
	}
	free(j->body);
	strv_free(j->fields, j->nf);
	free(j->dirs);
	api_ctx_free(c);
	free(j);
}

/* The client reset the connection while its read waited or ran (a FIN
 * alone may be a half-close: http_on_abort): r is freed after this. */
static void
api_read_gone(struct req *r, void *arg)
{
	struct api_read_job	*j = arg;

	j->gone = 1;
	j->c->r = NULL;
	db_job_cancel(j->db, &j->job);
}

/* Hand the read to the worker; the pipeline's c is left empty. */
static void
api_read_submit(struct api_ctx *c, struct api_read_job *j)
{
	struct req	*r = c->r;

	j->c = api_ctx_take(c);
	j->db = r->srv->db;
	j->job.run = api_read_run;
	j->job.done = api_read_done;
	if (j->nf > 0) {
		j->nq.order_field = (const char *const *)j->fields;
		j->nq.order_dir = j->dirs;
		j->nq.norder = j->nf;
	}
	http_on_abort(r, api_read_gone, j);
	db_job_submit(j->db, &j->job);
}

/* parseEntityOrderFieldParams(): "field[,asc|desc]" each, into j.
 * Returns -1 after answering a bad direction. */
static int
api_order_fields(struct api_ctx *c, struct api_read_job *j)
{
	const struct api_query	*q = c->q;
	char			*comma;
	size_t			 i;

	for (i = 0; i < c->nq; i++) {
		if (strcmp(q[i].name, "orderField") != 0)
			continue;
		j->fields = xreallocarray(j->fields, j->nf + 1,
		    sizeof *j->fields);
		j->dirs = xreallocarray(j->dirs, j->nf + 1, sizeof *j->dirs);
		j->fields[j->nf] = xstrdup(q[i].value);
		j->dirs[j->nf] = 0;
		if ((comma = strchr(j->fields[j->nf], ',')) != NULL) {
			*comma++ = '\0';
			/* split(",") keeps only the first two parts. */
			if (strchr(comma, ',') != NULL)
				*strchr(comma, ',') = '\0';
			if (strcmp(comma, "asc") == 0)
				j->dirs[j->nf] = 1;
			else if (strcmp(comma, "desc") == 0)
				j->dirs[j->nf] = 2;
			else {
				j->nf++;
				api_input_error(c, "Invalid order field order, "
				    "must be asc or desc");
				return (-1);
			}
		}
		j->nf++;
	}
	return (0);
}

static void
api_read_job_free(struct api_read_job *j)
{
	strv_free(j->fields, j->nf);
	free(j->dirs);
	free(j);
}

/* GET /notifications and GET /: the list and its totalCount. */
void
api_read_list(struct req *r, void *arg)
{
	struct api_ctx		*c = arg;
	const struct api_query	*q = c->q;
	size_t			 n = c->nq;
	struct api_read_job	*j;

	j = xcalloc(1, sizeof *j);
	j->nq.user = c->who.subject;
	if (api_knex_int(api_query_get(q, n, "offset"), &j->nq.offset) == -1 ||
	    api_knex_int(api_query_get(q, n, "limit"), &j->nq.limit) == -1) {
		api_internal_error(c, "limit or offset out of range for the "
		    "database");
		api_read_job_free(j);
		return;
	}
	j->nq.topic = api_query_get(q, n, "topic");
	if (api_order_fields(c, j) == -1 ||
	    api_common_options(c, q, n, &j->nq) == -1) {
		api_read_job_free(j);
		return;
	}
	api_read_submit(c, j);
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
	struct api_read_job	*j;

	j = xcalloc(1, sizeof *j);
	j->topics = 1;
	j->nq.user = c->who.subject;
	j->nq.limit = j->nq.offset = -1;
	if (api_common_options(c, c->q, c->nq, &j->nq) == -1) {
		api_read_job_free(j);
		return;
	}
	api_read_submit(c, j);
}
