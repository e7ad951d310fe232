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

/* The rows of diag_texts (diag_codes.c); DT_P_* are parts. */
enum diag_text_id {
	DT_GET_WITH_BODY,
	DT_P_CATALOG,
	DT_GET_WITH_BODY_METHOD,
	DT_WRONG_METHOD,
	DT_P_NO_METHOD,
	DT_P_OTHER_METHOD,
	DT_WRONG_METHOD_GET,
	DT_WRONG_PATH,
	DT_URL_QUERY,
	DT_MISSING_CONTENT_TYPE,
	DT_WRONG_CONTENT_TYPE,
	DT_AUTH_USER_TOKEN,
	DT_AUTH_USER_INVALID,
	DT_AUTH_USER_JWT,
	DT_AUTH_RESTRICTED,
	DT_AUTH_MISSING,
	DT_AUTH_BASIC,
	DT_AUTH_TEMPLATE,
	DT_AUTH_UNRESOLVED,
	DT_AUTH_UNKNOWN,
	DT_AUTH_UNKNOWN_NONE,
	DT_P_NEAR_B64,
	DT_P_NEAR_B64_NL,
	DT_P_NEAR_ENCODED,
	DT_P_NEAR_ENCODED_NL,
	DT_P_NEAR_QUOTES,
	DT_AUTH_MALFORMED,
	DT_EMPTY_BODY,
	DT_EMPTY_BODY_LINT,
	DT_BODY_TOO_LARGE,
	DT_JSON_TEXT,
	DT_JSON_CONTROL,
	DT_JSON_GO_ESCAPE,
	DT_JSON_QUOTE,
	DT_JSON_NO_VALUE,
	DT_JSON_GO_MAP,
	DT_JSON_MISSING,
	DT_JSON_END,
	DT_JSON_TRAILING,
	DT_JSON_OTHER,
	DT_P_IN_KEY,
	DT_P_WOULD_ANSWER,
	DT_P_ANSWERS,
	DT_P_WILL_ANSWER,
	DT_NV_ENTITY_REF,
	DT_NV_LINK,
	DT_NV_REVISION,
	DT_NV_PATH,
	DT_NV_OTHER,
	DT_GO_BYTE_LIST,
	DT_P_IS_TOKEN,
	DT_P_FINGERPRINT,
	DT_GO_MAP,
	DT_LEGACY_BODY,
	DT_RECIPIENTS_TYPE,
	DT_P_LOWER_CASE,
	DT_ENTITY_REF_KIND,
	DT_ENTITY_REF_INVALID,
	DT_SEVERITY_CASE,
	DT_SEVERITY_UNKNOWN,
	DT_LINK_NOT_HTTP,
	DT_LINK_INVALID,
	DT_SCHEMA,
	DT_P_SCHEMA_WOULD,
	DT_P_SCHEMA_REFUSES,
	DT_P_SCHEMA_WILL,
	DT_NO_RECIPIENTS,
	DT_RETRY,
	DT_P_ANSWERED,
	DT_P_NO_ANSWER,
	DT_P_OVER_MAX,
	DT_DUPLICATE,
	DT_COUNT
};

/*
 * Say text id with evidence (taken, allocated) and the arguments its
 * message and fix take, in order; an argument DIAG_PART(id) splices that
 * part in.  Arguments are copied.  Returns NULL when res is full.
 */
struct diagnosis *diag_say(struct diag_result *, enum diag_text_id,
		    char *evidence, size_t argc, const char *const *argv);
#define DIAG_SAY(res, id, ev, ...)					\
	diag_say((res), (id), (ev),					\
	    sizeof ((const char *const[]){ __VA_ARGS__ }) /		\
	    sizeof (const char *), (const char *const[]){ __VA_ARGS__ })
#define DIAG_SAY0(res, id, ev)	diag_say((res), (id), (ev), 0, NULL)
#define DIAG_PART(id)		(diag_texts[(id)].key)

/* diag.c: building diagnoses */
char		*diag_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
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
