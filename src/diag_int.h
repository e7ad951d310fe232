/*
 * diag_int.h: what the diagnosis files (diag*.c) share and nobody else
 * sees: the per-run context, the retry detector's state, the helpers that
 * build diagnoses and quote client bytes, and the checks diag_run calls
 * in order.
 */
#ifndef NOTIMOCK_DIAG_INT_H
#define NOTIMOCK_DIAG_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "crypto.h"
#include "diag.h"
#include "json.h"

#define DIAG_MOUNT		"/api/notifications"
#define DIAG_BODY_LIMIT		102400	/* express.json()'s limit */
#define DIAG_NOVALUE		"<no value>"
#define DIAG_NOVALUE_LEN	10
#define DIAG_NOVALUE_MAX	4	/* <no value> fields reported */
#define DIAG_RING		64	/* requests remembered for retries */
/*
 * Argo CD waits 1 s, 2 s and 4 s between attempts (retryWaitMax 5 s by
 * default); a gap this long still links two identical requests.
 */
#define DIAG_RETRY_WINDOW_MS	10000
#define DIAG_ARGOCD_ATTEMPTS	4

/* One request remembered by the retry detector. */
struct diag_seen {
	uint64_t	 hash;		/* origin, method, URI and body */
	size_t		 len;		/* body length, against collisions */
	int64_t		 when;		/* epoch ms */
	int64_t		 seq;
	int		 status;
	int		 attempt;
	int64_t		 chain[DIAG_CHAIN];	/* earlier attempts */
	size_t		 nchain;
};

struct diag {
	struct diag_seen	 ring[DIAG_RING];
	size_t			 next;
	size_t			 used;
};

/* Per-run scratch: the body as seen by every check. */
struct diag_ctx {
	const struct diag_input	*in;
	struct diag_result	*res;
	const struct json	*json;		/* in->json or our own parse */
	struct json		*own;		/* parsed here, freed here */
	const char		*jerr;		/* parse message */
	long			 jpos;
	char			 jbuf[JSON_ERRLEN];
	int			 kind;		/* BODY_* */
	int			 create;	/* the path is the send route */
	int			 post;
	int			 go;		/* User-Agent is Go's client */
	char			*epath;		/* the path, escaped (lazily) */
};

enum { BODY_EMPTY = 0, BODY_JSON, BODY_TEXT };

/* diag.c: building diagnoses */
char		*diag_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Add a diagnosis; takes message, evidence and fix (all allocated). */
struct diagnosis *diag_add(struct diag_result *, const char *code,
		    enum diag_level, char *message, char *evidence, char *fix);
int		 diag_has(const struct diag_result *, const char *code);
int		 diag_body_errors(const struct diag_result *, size_t from);

/* diag_bytes.c: client bytes quoted and located */
const unsigned char *diag_memmem(const unsigned char *, size_t,
		    const char *, size_t);
int		 diag_ws(int);
char		*diag_escape(const unsigned char *, size_t);
char		*diag_snippet(const unsigned char *, size_t, size_t pos,
		    size_t before, size_t after);
const char	*diag_epath(struct diag_ctx *);
void		 diag_linecol(const unsigned char *, size_t, size_t pos,
		    size_t *line, size_t *col);
char		*diag_char_name(int);
void		 diag_raw_key(const unsigned char *, size_t pos, char *key,
		    size_t keylen);
void		 diag_leaf(const char *path, char *leaf, size_t len);
int		 diag_icontains(const char *hay, const char *needle);
uint64_t	 diag_hash(uint64_t, const void *, size_t);
int		 diag_fp_known(const struct diag_input *, const void *, size_t,
		    char fp[CRYPTO_FP_LEN]);

/* The checks, in the order diag_run calls them. */
/* diag_transport.c */
int		 diag_is_create(const char *path);
void		 diag_method(struct diag_ctx *);
void		 diag_path(struct diag_ctx *);
void		 diag_content_type(struct diag_ctx *);
/* diag_auth.c */
void		 diag_auth(struct diag_ctx *);
const char	*diag_presented_fp(const char *h, char fp[CRYPTO_FP_LEN]);
/* diag_body.c */
void		 diag_invalid_json(struct diag_ctx *);
void		 diag_no_value(struct diag_ctx *);
void		 diag_byte_list(struct diag_ctx *, const unsigned char *, size_t,
		    const char *where_default);
void		 diag_go_map(struct diag_ctx *);
void		 diag_fields(struct diag_ctx *);
void		 diag_schema(struct diag_ctx *, size_t body_from);
/* diag_outcome.c */
void		 diag_no_recipients(struct diag_ctx *);
void		 diag_retry(struct diag *, struct diag_ctx *);

#endif
