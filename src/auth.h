/*
 * auth.h: Backstage's credential barrier for notimock: static tokens
 * (backend.auth.externalAccess, --token, ARGOCD_NOTIFICATION_TOKEN) are
 * service principals; --user-token entries and the user JWTs notimock
 * signs itself (Backstage's guest provider, auth.providers.guest) are user
 * principals.  Static tokens are compared in constant time through their
 * SHA-256 and never logged: the rest of the program sees fingerprints only.
 */
#ifndef NOTIMOCK_AUTH_H
#define NOTIMOCK_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

struct auth;
struct config;
struct settings;

enum principal_type { PRINCIPAL_NONE = 0, PRINCIPAL_SERVICE, PRINCIPAL_USER };

struct principal {
	enum principal_type	 type;
	const char		*subject;	/* origin (service) or user ref; borrowed */
	char			 fp[CRYPTO_FP_LEN];	/* of the presented token */
};

enum auth_result {
	AUTH_OK = 0,
	AUTH_MISSING,		/* 401 Missing credentials */
	AUTH_ILLEGAL,		/* 401 Illegal token */
	AUTH_RESTRICTED,	/* 403, message in msg */
	AUTH_INVALID		/* 401 for a user JWT, message in msg */
};

/* Build the token table and read the guest provider's settings.  Returns
 * NULL and *cause with Backstage's start-up message for a bad entry. */
struct auth		*auth_new(const struct settings *, const struct config *,
			    char **cause);
void			 auth_free(struct auth *);
/*
 * `notimock lint --url`: is one of the service tokens t such that
 * HMAC-SHA256(key, SHA-256(t)) is mac?  The client picks key at random, so
 * the token itself never travels.  Returns 1 and its subject (borrowed),
 * or 0.
 */
int			 auth_service_match_mac(const struct auth *,
			    const unsigned char *key, size_t keylen,
			    const unsigned char mac[CRYPTO_SHA256_LEN],
			    const char **subject);
/* Number of service (static) tokens configured. */
size_t			 auth_service_count(const struct auth *);
/* Log one line per configured credential (subject and fingerprint). */
/* Fingerprint the tokens again once the key is set (crypto.h). */
void			 auth_refingerprint(struct auth *);
void			 auth_log(const struct auth *);
/* Check an Authorization header value (NULL if absent) for plugin
 * "notifications".  Fills *p on AUTH_OK; on AUTH_RESTRICTED and
 * AUTH_INVALID writes the message (e.g. "Failed user token verification"
 * for a JWT that is expired or not ours).  The presented token's
 * fingerprint is in p->fp whenever a bearer token was presented.  p's
 * subject lives as long as the auth table. */
enum auth_result	 auth_check(struct auth *, const char *header,
			    struct principal *p, char *msg, size_t msglen);
/* The header as it may be stored: scheme plus token fingerprint, e.g.
 * "Bearer sha256:0123456789ab"; other schemes keep only their name. */
void			 auth_redact(const char *header, char *buf, size_t len);
/* The same, with the bearer token's fingerprint already known (auth_check
 * computed it for this very header): the token is not hashed again. */
void			 auth_redact_fp(const char *header, const char *fp,
			    char *buf, size_t len);
/* Fingerprints of the configured service tokens, ", "-joined (diagnoses). */
void			 auth_service_fingerprints(const struct auth *, char *buf,
			    size_t len);

/*
 * Backstage's guest provider.  Enabled when the config has
 * auth.providers.guest, and also when it has no auth.providers at all
 * (notimock's default; Backstage's default user then is
 * user:development/guest).  Returns 0 if it is off; else 1, the user ref
 * configured (as written) and the configured ownershipEntityRefs (*nent 0
 * when there are none: then the user alone).  All borrowed.
 */
int			 auth_guest(const struct auth *, const char **user_ref,
			    char *const **ent, size_t *nent);
/*
 * Sign a Backstage user token (an ES256 JWT with header typ
 * vnd.backstage.user) as the auth backend issues it: claims iss, sub,
 * [ent,] aud "backstage", iat, exp and uip (the signature of the matching
 * limited user token); ent only if auth.omitIdentityTokenOwnershipClaim is
 * false.  It lives auth.backstageTokenExpiration (default 3600 s).  The
 * key is read from, or made beside, the database on first use.  Returns
 * the token (caller frees) and its exp in *exp, or NULL and *cause.
 */
char			*auth_user_token(struct auth *, const char *sub,
			    char *const *ent, size_t nent, const char *issuer,
			    int64_t now_ms, int64_t *exp, char **cause);
/* The JWKS document of the signing key, as Backstage's
 * /api/auth/.well-known/jwks.json serves it; caller frees. */
char			*auth_jwks(struct auth *, char **cause);

#endif
