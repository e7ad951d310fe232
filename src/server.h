/*
 * server.h: the server core: struct server, which every handler reaches
 * through its request (r->srv), and the per-iteration transaction.
 *
 * Writes of one loop iteration share one database transaction (db.c opens
 * it lazily).  The commit event runs after the iteration's I/O callbacks:
 * it commits, tells the commit hooks whether the transaction committed or
 * rolled back, and releases the replies that waited for it (a 200 means
 * committed).  Signals, the assertion API's waits and streams, and
 * anything else that must only report what is stored plug in as hooks.
 */
#ifndef NOTIMOCK_SERVER_H
#define NOTIMOCK_SERVER_H

#include <stdint.h>
#include <sys/queue.h>

struct auth;
struct catalog;
struct config;
struct db;
struct diag;
struct event;
struct event_base;
struct evhttp;
struct faults;
struct mock;
struct retain;
struct server_hook;
struct settings;
struct tls_server;

/*
 * A reply that waits for the commit (server_defer).  release is called
 * once, after the commit event: cause NULL if the transaction committed,
 * else why it rolled back.  Embedded in its owner (http.c's struct req).
 */
struct server_reply {
	void			(*release)(struct server_reply *,
				    const char *cause);
	TAILQ_ENTRY(server_reply) entry;
};

/*
 * A request parked before it writes (server_park): resume runs it, once,
 * when the WAL has been copied back (or parking gave up).  Embedded in its
 * owner (dispatch.c's); bytes: what it holds in memory (its body).
 */
struct server_parked {
	void			(*resume)(struct server_parked *);
	size_t			 bytes;
	TAILQ_ENTRY(server_parked) entry;
};

/* A reply observer (server_observe_replies, below). */
typedef void	 server_reply_fn(const char *route, int status,
		    int64_t duration_us, void *arg);

/* Everything the server holds; one per process. */
struct server {
	struct event_base	*base;
	struct settings		*settings;
	struct config		*config;
	struct auth		*auth;
	struct db		*db;
	struct tls_server	*tls;
	char			*base_url;	/* app.baseUrl with a trailing '/' */
	struct evhttp		*http;		/* plain listener (http.c) */
	struct evhttp		*https;		/* TLS listener (http.c) */
	struct mock		*mock;		/* the assertion API (mock.c) */
	struct retain		*retain;	/* retention (retain.c) */
	struct diag		*diag;		/* retry detector (diag.c) */
	struct catalog		*catalog;	/* --catalog entities (catalog.c) */
	struct faults		*faults;	/* fault rules (fault.c) */
	uint64_t		 nrequests;	/* counted by http.c */
	uint64_t		 ncommits;	/* transactions committed */
	uint64_t		 ndeferred;	/* replies that waited for one */
	/* Request bodies stored truncated (api.c), and the bytes not kept. */
	uint64_t		 bodies_truncated;
	uint64_t		 body_bytes_dropped;
	/* The store: epoch ms since every commit has failed (0: it writes),
	 * and the last failure's cause. */
	int64_t			 store_failing_since;
	char			 store_error[256];
	/* SHA-256 of --admin-token, made once by server_start (admin.c
	 * compares digests in constant time); admin_set 0: no token. */
	unsigned char		 admin_digest[32];
	int			 admin_set;

	/* The server core's own (server.c). */
	struct event		*commit_ev;
	struct event		*commit_tv;	/* its deadline under load */
	int			 commit_due;	/* commit_ev is active */
	TAILQ_HEAD(, server_reply) deferred;	/* replies waiting for it */
	struct server_hook	*hooks;
	size_t			 nhooks;
	server_reply_fn		*reply_fn;	/* server_observe_replies */
	void			*reply_arg;
	/* Writes parked while the checkpointer copies the WAL (server_park):
	 * the eventfd's event, a tick for the time bound, the requests. */
	struct event		*park_ev;
	struct event		*park_tv;
	TAILQ_HEAD(, server_parked) parked;
	/* The read worker's descriptor (db_worker_fd): its jobs are done. */
	struct event		*reads_ev;
	size_t			 nparked;
	size_t			 park_bytes;
	uint64_t		 parked_total;	/* requests ever parked */
};

/* The event loop's base (epoll's changes coalesced per iteration), or
 * NULL. */
struct event_base *server_base_new(void);
/* Set up the commit event and the admin token's digest (before any
 * request): 0, or -1 if the event cannot be made. */
int		 server_start(struct server *);
/* Commit what is left, release the replies still waiting, log the
 * counts, free the commit event: before the listeners close. */
void		 server_stop(struct server *);

/* Release the reply after this iteration's commit. */
void		 server_defer(struct server *, struct server_reply *);
/* Make the commit event run this iteration: for writes made outside a
 * deferred request (retention, a reset, a late fault note). */
void		 server_kick(struct server *);

/*
 * Park a request that is about to write, unanswered, while the WAL is at
 * its bound and the checkpointer copies it (db.c, "The checkpointer"):
 * 1 = parked (p->resume runs it later, in arrival order), 0 = run it now.
 * Past SERVER_PARK_MAX requests or SERVER_PARK_BYTES, parking gives up
 * (the loop copies the WAL itself, as before parking) and all run now.
 * server_parking: whether a request would park now (a park under way, or
 * one begins): callers ask it before making their record.
 * server_unpark: the parked request's client left; it never resumes.
 */
int		 server_parking(struct server *);
int		 server_park(struct server *, struct server_parked *p);
void		 server_unpark(struct server *, struct server_parked *p);

/*
 * Commit hooks, told after every commit event whether the transaction
 * committed (committed 0: it rolled back) and the committed cursor
 * (db_cursor).  SERVER_BEFORE_REPLIES hooks run before the waiting
 * replies are released (signals: a client that got its 200 finds the
 * signal published), SERVER_AFTER_REPLIES hooks after them (watchers that
 * answer requests of their own: mock.c's waits and streams).  Within a
 * phase, hooks run in the order added.
 */
#define SERVER_BEFORE_REPLIES	0
#define SERVER_AFTER_REPLIES	1
typedef void	 server_commit_fn(struct server *, int committed,
		    int64_t cursor, void *arg);
void		 server_hook_add(struct server *, int phase, server_commit_fn *,
		    void *arg);
/* Remove the hook added with this fn and arg (none: nothing happens). */
void		 server_hook_del(struct server *, server_commit_fn *, void *arg);

/*
 * Reply observer: told of every request's end (route pattern, status, 499
 * for a client that left; duration in microseconds), so that the adapter
 * (http.c) reports replies without knowing who counts them (metrics.c
 * registers one).  One observer; adding another replaces it.
 */
void		 server_observe_replies(struct server *, server_reply_fn *,
		    void *arg);
/* Called by http.c where a reply leaves. */
void		 server_reply_done(struct server *, const char *route,
		    int status, int64_t duration_us);

#endif
