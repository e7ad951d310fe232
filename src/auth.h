/*
 * auth.h: Backstage's credential barrier for notimock: static tokens
 * (backend.auth.externalAccess, --token, ARGOCD_NOTIFICATION_TOKEN) are
 * service principals; --user-token entries are user principals.  Tokens are
 * compared in constant time through their SHA-256 and never logged: the
 * rest of the program sees fingerprints only.
 */
#ifndef NOTIMOCK_AUTH_H
#define NOTIMOCK_AUTH_H

#include <stddef.h>

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
	AUTH_RESTRICTED		/* 403, message in msg */
};

/* Build the token table.  Returns NULL and *cause with Backstage's start-up
 * message for a bad entry. */
struct auth		*auth_new(const struct settings *, const struct config *,
			    char **cause);
void			 auth_free(struct auth *);
/* Number of service (static) tokens configured. */
size_t			 auth_service_count(const struct auth *);
/* Log one line per configured credential (subject and fingerprint). */
void			 auth_log(const struct auth *);
/* Check an Authorization header value (NULL if absent) for plugin
 * "notifications".  Fills *p on AUTH_OK; on AUTH_RESTRICTED writes the 403
 * message.  The presented token's fingerprint is in p->fp whenever a
 * bearer token was presented. */
enum auth_result	 auth_check(const struct auth *, const char *header,
			    struct principal *p, char *msg, size_t msglen);
/* The header as it may be stored: scheme plus token fingerprint, e.g.
 * "Bearer sha256:0123456789ab"; other schemes keep only their name. */
void			 auth_redact(const char *header, char *buf, size_t len);
/* Fingerprints of the configured service tokens, ", "-joined (diagnoses). */
void			 auth_service_fingerprints(const struct auth *, char *buf,
			    size_t len);

#endif
