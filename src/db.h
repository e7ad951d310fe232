/*
 * db.h: the store.  db.c is the only file that includes sqlite3.h.
 *
 * Writes happen inside one transaction per event-loop iteration: the first
 * write opens it (db_begin), the server's commit event closes it
 * (db_commit), and replies to the requests that wrote wait for that commit.
 * Reads inside the same iteration see the uncommitted writes.
 *
 * Strings passed in are borrowed for the duration of the call.  Structures
 * filled by db_* (struct db_notification) own their strings: release them
 * with db_notification_clear().
 */
#ifndef NOTIMOCK_DB_H
#define NOTIMOCK_DB_H

#include <stddef.h>
#include <stdint.h>

struct db;

struct db_delivery {
	int64_t		 seq;		/* set by db_delivery_add */
	int64_t		 received;	/* epoch ms */
	const char	*remote;	/* "127.0.0.1:53211" */
	const char	*method;
	const char	*path;		/* as requested, with the query */
	const char	*headers;	/* JSON array of [name, value], redacted */
	const void	*body;
	size_t		 body_len;
	int		 status;
	const char	*response;	/* the body answered */
	size_t		 response_len;
	const char	*origin;	/* subject, or NULL if unauthenticated */
	const char	*token_fp;	/* fingerprint of the presented token */
	const char	*payload;	/* JSON, when the body parsed */
	const char	*recipients;	/* JSON, when the body parsed */
	const char	*title, *topic, *severity;	/* for filters */
	const char	*entities;	/* JSON array of entity refs addressed */
	const char	*users;		/* JSON array of users it reached */
	const char	*ids;		/* JSON array of notification ids */
	const char	*diagnoses;	/* JSON array, or NULL */
	int64_t		 duration_us;
	/* Entity refs addressed, for the delivery_entities index. */
	const char	**entity_v;
	size_t		 entity_n;
};

struct db_notification {
	char		*id;
	char		*user;		/* NULL for a broadcast */
	int64_t		 created;	/* epoch ms; 0 = unset for the others */
	int64_t		 saved, read, updated;
	char		*origin;
	char		*title, *description, *link, *topic, *severity;
	char		*scope, *icon;
	char		*metadata;	/* JSON object text, or NULL */
	int64_t		 delivery_seq;
};

/* Open (creating and migrating as needed).  sync_full: fsync every commit.
 * Returns NULL and *cause on failure. */
struct db	*db_open(const char *path, int sync_full, char **cause);
void		 db_close(struct db *);
const char	*db_version(void);

/* Open the iteration's transaction if none is open.  Returns -1 on failure. */
int		 db_begin(struct db *);
int		 db_in_txn(const struct db *);
/* Commit the open transaction (no-op if none).  Returns -1 if it, or any
 * write since db_begin, failed: then nothing since db_begin is stored, and
 * *cause (static text) says why. */
int		 db_commit(struct db *, const char **cause);
/* The last error text of this connection (static; for 503 bodies). */
const char	*db_errmsg(const struct db *);

/* Store one delivery; sets d->seq.  Returns -1 on failure. */
int		 db_delivery_add(struct db *, struct db_delivery *d);
/* The sequence number the next delivery will get, minus one. */
int64_t		 db_cursor(const struct db *);

int		 db_notification_insert(struct db *, const struct db_notification *);
/* Find the notification with this scope and origin, for user (NULL: a
 * broadcast).  Returns 1 and fills *out, 0 if none, -1 on error. */
int		 db_notification_find_scope(struct db *, const char *user,
		    const char *scope, const char *origin,
		    struct db_notification *out);
/* Backstage's scope re-send: replace title, severity and metadata (NULL
 * clears it), replace description/link/topic only when non-NULL, set
 * updated; reset_read also clears read. */
int		 db_notification_rescope(struct db *, const char *id,
		    const struct db_notification *n, int reset_read);
int		 db_notification_get(struct db *, const char *id,
		    struct db_notification *out);
void		 db_notification_clear(struct db_notification *);

#endif
