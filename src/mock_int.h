/*
 * mock_int.h: what the assertion API's files share, and nothing outside
 * them includes.
 *
 *	mock.c		routes, query parameters, access, the simple reads,
 *			the reset, start and stop
 *	mock_json.c	a delivery as doc/mock-api.md shows it, and why one
 *			missed a filter
 *	mock_watch.c	watchers: long-polls (/mock/wait) and event streams
 *			(/mock/events), told of each commit
 */
#ifndef NOTIMOCK_MOCK_INT_H
#define NOTIMOCK_MOCK_INT_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "db.h"

struct event;
struct json;
struct json_buf;
struct mock_told;
struct req;
struct server;

#define MOCK_SHOW_MAX		100		/* bytes of a bad value quoted */

/* A request's parsed query. */
struct mock_opts {
	struct db_filter f;
	int		 have_since;
	int64_t		 limit, offset, count;
	int64_t		 timeout_ms, heartbeat_ms;
	char		*timeout_text;	/* as given, for messages */
	char		*seqtext;	/* /deliveries/:seq, as given */
	int		 summary;	/* view=summary */
	int		 keep_notifications;
};

/*
 * A watcher: a request that outlives its handler and is told of every
 * commit.  A wait counts the matches after its since and is answered once
 * it has count of them (or its timer fires); a stream sends each match as
 * it commits until the client leaves.  Both start at the cursor they were
 * opened at (last) and move it on with each commit, so that one query
 * serves them all (mock_watch_commit).
 */
enum mock_watch_kind {
	MOCK_WATCH_WAIT,
	MOCK_WATCH_STREAM
};

struct mock_watch {
	struct mock		*m;
	struct req		*r;
	enum mock_watch_kind	 kind;
	struct mock_opts	 o;
	int64_t			 last;		/* last seq looked at */
	int64_t			 matched;	/* wait: matches up to last */
	int64_t			 sent;		/* stream: last seq sent */
	uint64_t		 sig_last;	/* stream: last signal looked at */
	struct event		*ev;		/* wait: its timeout; stream: its
						   heartbeat */
	TAILQ_ENTRY(mock_watch)	 entry;
};

struct mock_reset_job;

struct mock {
	struct server			*srv;
	TAILQ_HEAD(, mock_watch)	 watches;
	size_t				 nwaits, nstreams;
	/* A reset in the open transaction: its stream event, told (and the
	 * waiters recounted) only once it has committed. */
	char				*reset_event;
	/* Resets of large stores, going on in slices (mock.c). */
	TAILQ_HEAD(, mock_reset_job)	 resets;
	/* Streams are flushed on a timer, not at each commit
	 * (mock_watch_flush). */
	struct event			*flush_ev;
	int				 flush_due;
	int64_t				 flush_us;	/* the last (monotonic) */
	uint64_t			 streams_behind;	/* ended: fell behind */
	uint64_t			 events_lost;	/* not sent to them */
	/* Diagnoses told, to tell again (mock_json.c). */
	struct mock_told		*told;
};

/* mock.c */
void		 mock_opts_clear(struct mock_opts *);
/* The end of a watcher or a reset job: its event (may be NULL), its
 * options, and job itself. */
void		 mock_job_free(void *job, struct event *, struct mock_opts *);
/* A bad value, cut short and made printable, for an error message. */
const char	*mock_show(const char *, char *, size_t);
/* How many deliveries match, and up to opts->limit of them from offset,
 * newest first (db_records_free them); -1 with the 503 sent. */
int		 mock_matches(struct req *, const struct mock_opts *,
		    int64_t offset, int64_t *total, struct db_record **,
		    size_t *);
/* Answer a request that waited, now, as the API stops: a 503. */
void		 mock_stopping(struct req *, const char *msg);
/* The 503 for a store that cannot be read. */
void		 mock_db_error(struct req *);
/* The error shape of http_error_body(), as a tree more fields can join. */
struct json	*mock_error_json(struct req *, int status, const char *name,
		    const char *msg);
/* "complete" (and "searchedAfter") of a read on a large store: into a
 * tree, or a JSON writer's buffer (with its leading comma). */
void		 mock_add_scan(struct json *, struct db *);
void		 mock_scan_put(struct json_buf *, struct db *);
/* Send a JSON writer's text as the answer, and free it. */
void		 mock_send_buf(struct req *, int status, struct json_buf *);

/* A JSON writer's literal text, and a member's key with the comma before
 * it (every member but an object's first): MOCK_KEY(b, "seq"). */
#define MOCK_LIT(b, s)	json_buf_raw((b), (s), sizeof(s) - 1)
#define MOCK_KEY(b, k)	MOCK_LIT((b), ",\"" k "\":")

/* mock_json.c */
/* The diagnoses the server has told (stored text -> JSON), kept to tell
 * them again (loop thread only). */
struct mock_told	*mock_told_new(void);
void			 mock_told_free(struct mock_told *);
/* A delivery as doc/mock-api.md shows it (the summary, or full), or an
 * array of them, appended to a JSON writer's buffer: what the list, the
 * wait and the streams send, built without a tree.  told (may be NULL):
 * struct mock's. */
void		 mock_delivery_put(struct json_buf *, const struct db_record *,
		    int full, struct mock_told *told);
void		 mock_records_put(struct json_buf *, const struct db_record *,
		    size_t, int full, struct mock_told *told);
/* Stored JSON text as a value; [] (or null) if absent or unparsable. */
void		 mock_add_stored(struct json *, const char *key,
		    const char *text, int empty_array);
/* The same as trees, for answers built as one (near misses, the 408). */
struct json	*mock_delivery_json(const struct db_record *, int full);
struct json	*mock_records_json(const struct db_record *, size_t, int full);
/* A near miss of a timed-out wait: {"filter","want","got"} for each
 * filter d failed, and Backstage's message if it was refused. */
struct json	*mock_failed_json(const struct db_filter *, unsigned int failed,
		    const struct db_record *);
void		 mock_add_answer_error(struct json *, const struct db_record *);

/* mock_watch.c */
/* GET /mock/wait and GET /mock/events (route handlers): arg is the
 * request's struct mock_opts, whose filter they take. */
void		 mock_wait(struct req *, void *arg);
void		 mock_events(struct req *, void *arg);
/* After each commit event (a server commit hook; arg is the struct mock). */
void		 mock_watch_commit(struct server *, int committed, int64_t seq,
		    void *arg);
/* Send every stream what has committed since it last looked; a reset
 * calls it before it deletes, so that nothing committed is left unsent. */
void		 mock_watch_flush(struct mock *);
/* Answer every wait (503) and end every stream; 1 if any was. */
int		 mock_watch_stop(struct mock *);

#endif
