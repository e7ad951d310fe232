/*
 * schema.h: the OpenAPI request-body rules of the notifications router, with
 * express-openapi-validator's exact messages.  Only the first failing rule
 * is reported.  oneOf failures list each branch's failures as ajv reports
 * them (its first, plus an enum's allowed values where a type check already
 * failed), then the oneOf line, all joined by ", ".
 */
#ifndef NOTIMOCK_SCHEMA_H
#define NOTIMOCK_SCHEMA_H

#include <stddef.h>

struct json;

/* POST /notifications body (NotificationSendOptions).  Returns 0 if valid,
 * else -1 with the message, e.g.
 * "request/body/payload must have required property 'title'". */
int	schema_send_options(const struct json *body, char *msg, size_t msglen);
/* POST /notifications/update body: {"ids":[string],"read"?:bool,"saved"?:bool}. */
int	schema_update(const struct json *body, char *msg, size_t msglen);
/* POST /settings body (NotificationSettings). */
int	schema_settings(const struct json *body, char *msg, size_t msglen);

#endif
