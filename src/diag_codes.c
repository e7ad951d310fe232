/*
 * diag_codes.c: the prose of every diagnosis, as data.  One row per text a
 * check can say: its stable key (stored with each delivery), the code that
 * README.md lists ("Troubleshooting Argo CD with notimock", a test holds
 * the two together), the level, and the message and fix templates ("%s"
 * takes the next argument, "%%" is a '%'; see struct diag_text in diag.h).
 * Rows without a code are parts: a sentence spliced into another text only
 * sometimes.  Keys never change meaning: stored rows name them.
 *
 * The checks that say them live in diag_transport.c, diag_auth.c,
 * diag_body.c and diag_outcome.c; diag.c renders them.
 */
#include <stddef.h>
#include <string.h>

#include "diag.h"
#include "diag_int.h"

#define E	DIAG_ERROR
#define W	DIAG_WARNING
#define I	DIAG_INFO

/* Fixes that several texts share. */
#define FIX_OWN_TRIGGER "Subscribe the Application to a trigger of your " \
	"own, not the catalog's: " \
	"notifications.argoproj.io/subscribe.on-sync-succeeded-" \
	"backstage.backstage: \"\" instead of " \
	"...subscribe.on-sync-succeeded.backstage.  Give your " \
	"templates and triggers a -backstage suffix " \
	"(template.app-sync-succeeded-backstage, " \
	"trigger.on-sync-succeeded-backstage) so that the catalog " \
	"cannot overwrite them, and make the key under webhook: " \
	"equal the service name (webhook: backstage: for " \
	"service.webhook.backstage), with method: POST, path: " \
	"/notifications and a JSON body:."
#define FIX_STATIC_TOKEN "Configure a static token under " \
	"backend.auth.externalAccess (notimock: --token) and send " \
	"that one from argocd-notifications-secret."
#define FIX_TO_JSON "Do not put template values between quotes: pipe them " \
	"through toJson (or toRawJson, which leaves < > & unescaped) and drop " \
	"the quotes, e.g. \"description\": " \
	"{{ .app.status.operationState.message | toJson }}."
#define FIX_EMPTY_BODY "Add a JSON body: to the template's " \
	"webhook.backstage section."
#define NOT_JSON "The body is not valid JSON.  "
#define SEVERITIES "\"request/body/payload/severity must be equal to one " \
	"of the allowed values: critical, high, normal, low\""

const struct diag_text diag_texts[] = {
	/* --- the transport (diag_transport.c) --- */
	[DT_GET_WITH_BODY] = { "get-with-body", "get-with-body", E,
	    "A GET with a plain-text body: Argo CD sends this when the "
	    "template it rendered has no webhook.<service> section, and then "
	    "falls back to GET on the bare service url with the template's "
	    "message as the body.%s",
	    FIX_OWN_TRIGGER },
	[DT_P_CATALOG] = { "get-with-body:catalog", NULL, E,
	    "  The text is the catalog template %s (trigger %s).", NULL },
	[DT_GET_WITH_BODY_METHOD] = { "get-with-body.method", "get-with-body",
	    E,
	    "A %s with a plain-text body: the template's webhook section names "
	    "method %s and its body renders text, not JSON.",
	    FIX_OWN_TRIGGER },
	[DT_WRONG_METHOD] = { "wrong-method", "wrong-method", E,
	    "The body is JSON but the method is %s: the template's "
	    "webhook.backstage section %s.  Backstage creates notifications on "
	    "POST only.",
	    "Set method: POST under webhook.backstage in the template "
	    "(template.<name>-backstage in argocd-notifications-cm)." },
	[DT_P_NO_METHOD] = { "wrong-method:no-method", NULL, E,
	    "has no method: (Argo CD then defaults to GET)", NULL },
	[DT_P_OTHER_METHOD] = { "wrong-method:other-method", NULL, E,
	    "names another method", NULL },
	[DT_WRONG_METHOD_GET] = { "wrong-method.get", "wrong-method", E,
	    "A GET with no body to the send route: the template's "
	    "webhook.backstage section has no method:, which Argo CD defaults "
	    "to GET, and no body:.  Backstage answers a service token here "
	    "with 403 \"This endpoint does not allow 'service' credentials\".",
	    "Set method: POST and a JSON body: under webhook.backstage in the "
	    "template." },
	[DT_WRONG_PATH] = { "wrong-path", "wrong-path", E,
	    "No Backstage route matches POST %s: Backstage answers an empty "
	    "404.  Argo CD joins the service url and the template path as "
	    "TrimRight(url, \"/\") + \"/\" + TrimLeft(path, \"/\").",
	    "Make url and path together give "
	    "/api/notifications/notifications: url: "
	    "https://backstage.example.com/api/notifications in "
	    "service.webhook.backstage and path: /notifications in the "
	    "template's webhook.backstage section." },
	[DT_URL_QUERY] = { "url-query", "url-query", E,
	    "The URL has a query string.  Backstage refuses any query "
	    "parameter on this route (400 \"Unknown query parameter\"), and "
	    "Argo CD appends the template's path after the query, not to the "
	    "path: url .../hook?token=x plus path /apps/y gives "
	    "/hook?token=x/apps/y.",
	    "Drop the query from url in service.webhook.backstage; send "
	    "credentials in an Authorization header instead." },
	[DT_MISSING_CONTENT_TYPE] = { "missing-content-type",
	    "missing-content-type", E,
	    "No Content-Type header: Argo CD's webhook sends none unless the "
	    "service lists one, and Backstage answers 400 \"unsupported media "
	    "type undefined\".",
	    "Add the header to service.webhook.backstage in "
	    "argocd-notifications-cm:\n"
	    "  headers:\n"
	    "  - name: Content-Type\n"
	    "    value: application/json" },
	[DT_WRONG_CONTENT_TYPE] = { "wrong-content-type", "wrong-content-type",
	    E,
	    "The Content-Type is not application/json: Backstage answers 400 "
	    "\"unsupported media type %s\".",
	    "Set the header's value to application/json in "
	    "service.webhook.backstage:\n"
	    "  headers:\n"
	    "  - name: Content-Type\n"
	    "    value: application/json" },

	/* --- credentials (diag_auth.c) --- */
	[DT_AUTH_USER_TOKEN] = { "auth-user-token", "auth-user-token", E,
	    "A Backstage user token was used to send: only service credentials "
	    "may create notifications.  Backstage answers 403 \"This endpoint "
	    "does not allow 'user' credentials\" once the body is valid.",
	    "Configure a static token in Backstage "
	    "(backend.auth.externalAccess: - type: static, options: {token: "
	    "..., subject: argocd-notifications}; notimock: --token) and send "
	    "that one: put it in argocd-notifications-secret and reference it "
	    "as Authorization: Bearer $backstage-token." },
	[DT_AUTH_USER_INVALID] = { "auth-user-token.invalid", "auth-user-token",
	    E,
	    "A Backstage user token that fails verification: user tokens "
	    "expire after an hour, or this one was issued by another backend.  "
	    "Backstage answers 401, and even a valid user token may not create "
	    "notifications (403).",
	    FIX_STATIC_TOKEN },
	[DT_AUTH_USER_JWT] = { "auth-user-token.jwt", "auth-user-token", E,
	    "A Backstage user token (a JWT of type vnd.backstage.user) that "
	    "this backend does not accept: user tokens expire after an hour, "
	    "and only service credentials may create notifications anyway.",
	    FIX_STATIC_TOKEN },
	[DT_AUTH_RESTRICTED] = { "auth-restricted", "auth-restricted", E,
	    "The token is valid but its accessRestrictions do not list the "
	    "notifications plugin, so Backstage answers 403.",
	    "Add - plugin: notifications to accessRestrictions of that "
	    "backend.auth.externalAccess entry, or use a token without "
	    "restrictions." },
	[DT_AUTH_MISSING] = { "auth-missing", "auth-missing", E,
	    "No Authorization header: Backstage answers 401 \"Missing "
	    "credentials\" to every request without one.",
	    "Add the header to service.webhook.backstage:\n"
	    "  headers:\n"
	    "  - name: Authorization\n"
	    "    value: Bearer $backstage-token\n"
	    "and the key backstage-token, holding a token from "
	    "backend.auth.externalAccess (notimock: --token), to the Secret "
	    "argocd-notifications-secret." },
	[DT_AUTH_BASIC] = { "auth-basic", "auth-basic", E,
	    "Basic credentials: the service has basicAuth configured, which "
	    "Argo CD applies after the headers, so it replaces any "
	    "Authorization header.  Backstage only reads Bearer tokens and "
	    "answers 401 \"Missing credentials\".",
	    "Remove basicAuth from service.webhook.backstage and add a header "
	    "instead:\n"
	    "  headers:\n"
	    "  - name: Authorization\n"
	    "    value: Bearer $backstage-token" },
	[DT_AUTH_TEMPLATE] = { "auth-template", "auth-template", E,
	    "Template syntax in the Authorization header: service "
	    "configuration is not a template (argoproj/argo-cd#17626), so it "
	    "is sent as written.",
	    "Use $key substitution instead: value: Bearer $backstage-token, "
	    "with backstage-token a key of argocd-notifications-secret." },
	[DT_AUTH_UNRESOLVED] = { "auth-unresolved-secret",
	    "auth-unresolved-secret", E,
	    "The header carries the literal reference %s: Argo CD replaces "
	    "$key with that key of argocd-notifications-secret, and leaves the "
	    "text as it is when the key does not exist.  Backstage answers 401 "
	    "\"%s\".  The controller logs \"config referenced '...%s', but key "
	    "does not exist in secret\".",
	    "Add the key %s to the Secret argocd-notifications-secret in Argo "
	    "CD's namespace, e.g. kubectl -n argocd patch secret "
	    "argocd-notifications-secret --type merge -p "
	    "'{\"stringData\":{\"%s\":\"<a token from "
	    "backend.auth.externalAccess>\"}}'.  Key names may contain only "
	    "letters, digits, _ and -." },
	[DT_AUTH_UNKNOWN] = { "auth-unknown-token", "auth-unknown-token", E,
	    "The bearer token matches no configured token, so Backstage "
	    "answers 401 \"Illegal token\".%s",
	    "Put the same string in backend.auth.externalAccess[].options.token "
	    "(notimock: --token) and in argocd-notifications-secret: tokens "
	    "are compared verbatim.  notimock logs the fingerprint of each "
	    "configured token at start-up (\"accepting service token "
	    "hmac:...\"), in the same keyed form as here; get the secret's "
	    "from the running server: kubectl get secret "
	    "argocd-notifications-secret -o "
	    "jsonpath='{.data.backstage-token}' | base64 -d | notimock "
	    "fingerprint --url URL" },
	[DT_AUTH_UNKNOWN_NONE] = { "auth-unknown-token.none",
	    "auth-unknown-token", E,
	    "The bearer token matches nothing: no service token is configured, "
	    "so Backstage answers 401 \"Illegal token\".%s",
	    "notimock has no service token: start it with --token TOKEN (or "
	    "ARGOCD_NOTIFICATION_TOKEN, or backend.auth.externalAccess in "
	    "--config) and put the same string in "
	    "argocd-notifications-secret." },
	[DT_P_NEAR_B64] = { "auth-unknown-token:base64", NULL, E,
	    "  It is the base64 encoding of the configured token %s: Backstage "
	    "compares tokens verbatim and never decodes them.", NULL },
	[DT_P_NEAR_B64_NL] = { "auth-unknown-token:base64-newline", NULL, E,
	    "  It is the base64 encoding of the configured token %s plus a "
	    "newline: Backstage compares tokens verbatim and never decodes "
	    "them.", NULL },
	[DT_P_NEAR_ENCODED] = { "auth-unknown-token:encoded", NULL, E,
	    "  The configured token %s is the base64 encoding of the token "
	    "sent: the token was generated with 'echo ... | base64' and only "
	    "one side was encoded.", NULL },
	[DT_P_NEAR_ENCODED_NL] = { "auth-unknown-token:encoded-newline", NULL,
	    E,
	    "  The configured token %s is the base64 encoding of the token "
	    "sent plus a newline ('echo ... | base64' without -n).", NULL },
	[DT_P_NEAR_QUOTES] = { "auth-unknown-token:quotes", NULL, E,
	    "  Without its quotes it is the configured token %s: the quotes "
	    "are part of the value in argocd-notifications-secret.", NULL },
	[DT_AUTH_MALFORMED] = { "auth-malformed", "auth-malformed", E,
	    "The Authorization header is not 'Bearer <token>', so Backstage "
	    "treats the request as having no credentials and answers 401 "
	    "\"Missing credentials\".",
	    "Write the header exactly as value: Bearer $backstage-token (the "
	    "word Bearer, one space, the token) and keep a non-empty token "
	    "under that key in argocd-notifications-secret." },

	/* --- the body (diag.c, diag_body.c) --- */
	[DT_EMPTY_BODY] = { "empty-body", "empty-body", E,
	    "A POST with an empty body: the template's webhook section has no "
	    "body:, or it rendered empty.  Backstage treats it as {} and "
	    "answers 400 \"request/body must have required property "
	    "'recipients'\" (or the Content-Type error first).",
	    FIX_EMPTY_BODY },
	[DT_EMPTY_BODY_LINT] = { "empty-body.lint", "empty-body", E,
	    "The body is empty: Backstage treats it as {} and answers 400 "
	    "\"request/body must have required property 'recipients'\".",
	    FIX_EMPTY_BODY },
	[DT_BODY_TOO_LARGE] = { "body-too-large", "body-too-large", E,
	    "The body is %s bytes: Backstage's JSON parser takes at most "
	    "102400 (100 KiB) and answers 400 \"request entity too large\".",
	    "Send less: the whole Application (toJson .app) or all its "
	    "resources do not belong in a notification; pick the fields you "
	    "need." },
	/* invalid-json: one row per cause; the parts say where and what
	 * Backstage answers. */
	[DT_JSON_TEXT] = { "invalid-json.text", "invalid-json", E,
	    NOT_JSON "The body is text, not JSON: the template's webhook "
	    "body: renders prose (for example a copy of message:).  %s",
	    "Write a JSON body under webhook.backstage.body: "
	    "{\"recipients\":{\"type\":\"entity\",\"entityRef\":...},"
	    "\"payload\":{\"title\":...}}." },
	[DT_JSON_CONTROL] = { "invalid-json.control", "invalid-json", E,
	    NOT_JSON "%s inside a string%s: a template value was inserted "
	    "between quotes without escaping, typically "
	    "\"{{.app.status.operationState.message}}\", whose failure messages "
	    "can span lines.  %s",
	    FIX_TO_JSON },
	[DT_JSON_GO_ESCAPE] = { "invalid-json.go-escape", "invalid-json", E,
	    NOT_JSON "A Go escape that JSON does not have (\\a, \\v or \\xNN)"
	    "%s: sprig's quote (Go's %%q) writes control bytes that way.  %s",
	    "Use toJson instead of quote: \"description\": "
	    "{{ .app.status.operationState.message | toJson }}." },
	[DT_JSON_QUOTE] = { "invalid-json.quote", "invalid-json", E,
	    NOT_JSON "A double quote inside a string value ended the string "
	    "early%s: a template value that contains \" was inserted between "
	    "quotes unescaped (failure messages quote object names: error when "
	    "patching \"/dev/shm/...\").  %s",
	    FIX_TO_JSON },
	[DT_JSON_NO_VALUE] = { "invalid-json.no-value", "invalid-json", E,
	    NOT_JSON "An unquoted <no value>%s: a template field that does not "
	    "exist, written without quotes or toJson.  %s",
	    "Pipe the value through toJson, which renders a missing field as "
	    "null, or give it a default: {{ .x | default \"\" | toJson }}." },
	[DT_JSON_GO_MAP] = { "invalid-json.go-map", "invalid-json", E,
	    NOT_JSON "Go's map syntax where JSON belongs%s: a template printed "
	    "a whole object, e.g. {{.app.status.health}} gives "
	    "map[status:Healthy].  %s",
	    "Refer to the leaf (.app.status.health.status) or pipe the object "
	    "through toJson." },
	[DT_JSON_MISSING] = { "invalid-json.missing-value", "invalid-json", E,
	    NOT_JSON "A value is missing%s: sprig's quote renders nothing at "
	    "all for a missing field, so {\"title\":{{ quote .x }}} becomes "
	    "{\"title\":}.  %s",
	    "Use toJson, which renders a missing field as null, or add a "
	    "default before quoting: {{ .x | default \"\" | quote }}." },
	[DT_JSON_END] = { "invalid-json.end", "invalid-json", E,
	    NOT_JSON "The body ends before the JSON does: the template is cut "
	    "short (an {{ if }} branch that drops the end, or a body: block "
	    "cut by YAML indentation).  %s",
	    "Check the template's body: for a closing } or ] on every path, "
	    "and indent the whole block scalar." },
	[DT_JSON_TRAILING] = { "invalid-json.trailing", "invalid-json", E,
	    NOT_JSON "Text after a complete JSON value: two objects in one "
	    "body, or a stray character after the last }.  %s",
	    "Make the body: one JSON object." },
	[DT_JSON_OTHER] = { "invalid-json", "invalid-json", E,
	    NOT_JSON "The template rendered something that is not JSON "
	    "here%s.  %s",
	    FIX_TO_JSON },
	[DT_P_IN_KEY] = { "invalid-json:in-key", NULL, E,
	    " (in the value of \"%s\")", NULL },
	[DT_P_WOULD_ANSWER] = { "invalid-json:would-answer", NULL, E,
	    "Backstage would answer 400 \"%s\".", NULL },
	[DT_P_ANSWERS] = { "invalid-json:answers", NULL, E,
	    "Backstage answers 400 \"%s\".", NULL },
	[DT_P_WILL_ANSWER] = { "invalid-json:will-answer", NULL, E,
	    "Once the problems above are fixed, Backstage will answer 400 "
	    "\"%s\".", NULL },
	/* no-value: one row per cause (the cause sets the level). */
	[DT_NV_ENTITY_REF] = { "no-value.entity-ref", "no-value", E,
	    "<no value> in %s.  The Application has no "
	    "backstage.io/entity-ref annotation, so {{index "
	    ".app.metadata.annotations \"backstage.io/entity-ref\"}} rendered "
	    "<no value>.  Backstage answers 400 \"Entity reference \\\"<no "
	    "value>\\\" had missing or empty kind\" when the whole ref is "
	    "missing, and silently reaches nobody when part of it is.",
	    "Add the annotation to the Application:\n"
	    "  metadata:\n"
	    "    annotations:\n"
	    "      backstage.io/entity-ref: component:default/<name>\n"
	    "or fall back in the template: {{ index .app.metadata.annotations "
	    "\"backstage.io/entity-ref\" | default \"group:default/platform\" "
	    "| toJson }}." },
	[DT_NV_LINK] = { "no-value.link", "no-value", W,
	    "<no value> in %s.  context.argocdUrl is not set, so "
	    "{{.context.argocdUrl}} rendered <no value>.  Backstage accepts the "
	    "link and resolves it under app.baseUrl, so it leads nowhere.",
	    "Set argocdUrl in argocd-notifications-cm:\n"
	    "  context: |\n"
	    "    argocdUrl: https://argocd.example.com\n"
	    "(with the argo-cd Helm chart: notifications.argocdUrl, or "
	    "global.domain)." },
	[DT_NV_REVISION] = { "no-value.revision", "no-value", W,
	    "<no value> in %s.  A multi-source Application has "
	    ".app.status.sync.revisions (a list) and no .revision, so "
	    "{{.app.status.sync.revision}} (or "
	    "operationState.syncResult.revision) rendered <no value>.",
	    "Use the list for multi-source apps: {{ .app.status.sync.revisions "
	    "| toJson }}, or {{ index .app.status.sync.revisions 0 }}; or wrap "
	    "it: {{ .app.status.sync.revision | default \"\" }}." },
	[DT_NV_PATH] = { "no-value.path", "no-value", E,
	    "<no value> in %s.  The template's path: refers to a field that "
	    "does not exist; Go then percent-encodes <no value> into the URL "
	    "and Backstage answers an empty 404.",
	    "Fix the field in the template's webhook.backstage.path (it should "
	    "be /notifications), or give it a default." },
	[DT_NV_OTHER] = { "no-value", "no-value", W,
	    "<no value> in %s.  The template refers to a field that the "
	    "Application does not have (a typo, a missing annotation or label, "
	    "or .app.status.operationState before the first sync), and Go "
	    "templates render a missing field as <no value>.",
	    "Check the field's path against the Application (kubectl get "
	    "application <name> -o yaml), or give it a default: "
	    "{{ .x | default \"n/a\" }}." },
	[DT_GO_BYTE_LIST] = { "go-byte-list", "go-byte-list", E,
	    "A Go byte list where text belongs: .secrets values are byte "
	    "slices, so {{ .secrets.x }} renders the secret as a list of "
	    "numbers.  This one decodes to %s bytes%s.",
	    "Convert the secret to text in the template: "
	    "{{ .secrets.x | toString }} or {{ printf \"%%s\" .secrets.x }} "
	    "(toJson would give base64)." },
	[DT_P_IS_TOKEN] = { "go-byte-list:token", NULL, E,
	    ", which is the configured token %s", NULL },
	[DT_P_FINGERPRINT] = { "go-byte-list:fingerprint", NULL, E,
	    " (fingerprint %s)", NULL },
	[DT_GO_MAP] = { "go-map", "go-map", W,
	    "Go's map syntax in the body: the template printed a whole object, "
	    "e.g. {{.app.status.health}} renders map[status:Healthy], not "
	    "JSON.",
	    "Refer to the leaf ({{.app.status.health.status}}) or pipe the "
	    "object through toJson." },

	/* --- field values (diag_body.c) --- */
	[DT_LEGACY_BODY] = { "legacy-body", "legacy-body", E,
	    "The body has the pre-upstream notifications format (title, "
	    "message, targetUsers...) of the old Janus/RHDH plugin, a "
	    "different API.  Backstage answers 400 \"request/body must have "
	    "required property 'recipients'\".",
	    "Send {\"recipients\":{\"type\":\"entity\",\"entityRef\":"
	    "\"component:default/<name>\"},\"payload\":{\"title\":\"...\","
	    "\"description\":\"...\"}}." },
	[DT_RECIPIENTS_TYPE] = { "recipients-type", "recipients-type", E,
	    "recipients.type is \"%s\": Backstage knows only \"entity\" and "
	    "\"broadcast\"%s, and answers 400 with its oneOf message.",
	    "Use \"type\":\"entity\" with an entityRef (user:default/alice, "
	    "group:default/team-a or component:default/my-app), or "
	    "\"type\":\"broadcast\"." },
	[DT_P_LOWER_CASE] = { "recipients-type:lower-case", NULL, E,
	    " (in lower case)", NULL },
	[DT_ENTITY_REF_KIND] = { "entity-ref-kind", "entity-ref-kind", E,
	    "The entity ref \"%s\" has no kind: Backstage answers 400 \"Failed "
	    "to send user notifications; caused by %s: %s\".",
	    "Use a full ref, kind:namespace/name, e.g. "
	    "component:default/my-app or user:default/guest; check the "
	    "backstage.io/entity-ref annotation." },
	[DT_ENTITY_REF_INVALID] = { "entity-ref-invalid", "entity-ref-invalid",
	    E,
	    "The entity ref \"%s\" does not parse: Backstage answers 400 "
	    "\"Failed to send user notifications; caused by %s: %s\".",
	    "Use kind:namespace/name, e.g. component:default/my-app." },
	[DT_SEVERITY_CASE] = { "severity-case", "severity-case", E,
	    "payload.severity is \"%s\": severities are lower case, and "
	    "Backstage answers 400 " SEVERITIES ".",
	    "Write \"severity\":\"%s\" (or pipe the value through lower)." },
	[DT_SEVERITY_UNKNOWN] = { "severity-unknown", "severity-unknown", E,
	    "payload.severity is \"%s\", which Backstage does not know: it "
	    "answers 400 " SEVERITIES ".",
	    "Use one of critical, high, normal, low (probably \"%s\"), or "
	    "leave severity out for normal." },
	[DT_LINK_NOT_HTTP] = { "link-not-http", "link-not-http", E,
	    "payload.link is not an http(s) link: Backstage answers 400 "
	    "\"Invalid link provided; caused by Error: Only HTTP/HTTPS links "
	    "are allowed\".",
	    "Use an absolute http(s) URL, e.g. "
	    "{{.context.argocdUrl}}/applications/{{.app.metadata.name}} with "
	    "argocdUrl starting https://, or a path such as "
	    "/catalog/default/component/<name>." },
	[DT_LINK_INVALID] = { "link-invalid", "link-invalid", E,
	    "payload.link does not parse as a URL: Backstage answers 400 "
	    "\"Invalid link provided; caused by TypeError: Invalid URL\".",
	    "Fix the link so that it is an absolute http(s) URL or a path." },
	[DT_SCHEMA] = { "schema", "schema", E,
	    "%s 400 \"%s\".",
	    "Shape the body as {\"recipients\":{\"type\":\"entity\","
	    "\"entityRef\":\"...\"} or {\"type\":\"broadcast\"},"
	    "\"payload\":{\"title\":\"...\"}}; see the Backstage contract "
	    "(NotificationSendOptions)." },
	[DT_P_SCHEMA_WOULD] = { "schema:would-answer", NULL, E,
	    "Backstage would answer", NULL },
	[DT_P_SCHEMA_REFUSES] = { "schema:refuses", NULL, E,
	    "Backstage's validator refuses the body: it answered", NULL },
	[DT_P_SCHEMA_WILL] = { "schema:will-answer", NULL, E,
	    "Once the problems above are fixed, Backstage will answer", NULL },

	/* --- the outcome and history (diag_outcome.c) --- */
	[DT_NO_RECIPIENTS] = { "no-recipients", "no-recipients", W,
	    "The send reached no user: Backstage answers 200 [] and stores "
	    "nothing.  Nobody will see this in real Backstage unless the "
	    "catalog has the entity and it has an owner (a user, or a group "
	    "with members), or the ref names a user.",
	    "Check the backstage.io/entity-ref annotation against the catalog: "
	    "the entity must exist and have spec.owner set to a user or to a "
	    "group with members; or send to user:default/<name>.  Give "
	    "notimock the catalog with --catalog FILE to resolve refs as "
	    "Backstage does; check excludeEntityRef too." },
	[DT_RETRY] = { "retry", "retry", I,
	    "Attempt %s of this notification: the previous attempt (delivery "
	    "#%s, %s earlier) %s %s, and Argo CD retries 429, 5xx (except 501) "
	    "and connection errors up to 3 times, after 1 s, 2 s and 4 s.%s",
	    "Nothing to fix if the failures were injected on purpose.  "
	    "Otherwise make the receiver answer 2xx: when every attempt of a "
	    "oncePer trigger fails, Argo CD never sends that notification "
	    "again (argoproj/argo-cd#20879)." },
	[DT_P_ANSWERED] = { "retry:answered", NULL, I, "was answered", NULL },
	[DT_P_NO_ANSWER] = { "retry:no-answer", NULL, I,
	    "got no answer, status", NULL },
	[DT_P_OVER_MAX] = { "retry:over-max", NULL, I,
	    "  That is more than Argo CD's 4 attempts: retryMax was raised, or "
	    "several senders repeat the same request.", NULL },
	[DT_DUPLICATE] = { "duplicate", "duplicate", I,
	    "The same request again, %s after delivery #%s, which was answered "
	    "%s: Argo CD does not retry a %s, so this is a second send (a "
	    "trigger without oncePer, two triggers or subscriptions sending the "
	    "same template, or a controller restart).",
	    "Give the trigger an oncePer (e.g. oncePer: "
	    "app.status.operationState.syncResult.revision), or set "
	    "payload.scope so that Backstage updates the earlier notification "
	    "instead of adding one." },
};

const size_t diag_ntexts = sizeof diag_texts / sizeof diag_texts[0];

const struct diag_text *
diag_text_find(const char *key)
{
	size_t	i;

	for (i = 0; i < diag_ntexts; i++)
		if (diag_texts[i].key != NULL &&
		    strcmp(diag_texts[i].key, key) == 0)
			return (&diag_texts[i]);
	return (NULL);
}
