/*
 * test_schema.c: request-body validation with the validator's messages.
 *
 * The expected messages were produced by express-openapi-validator 5.6.2
 * (ajv 8.20.0) configured as @backstage/backend-openapi-utils 0.7.4 does,
 * on the OpenAPI spec inside notifications-backend 0.6.11, and they agree
 * with every [seen] row of spec sections 4.4, 10.1 and 10.2.  Bodies go
 * through the real json_parse() in body-parser mode, as the server does.
 * For legibility the bodies are written with ' for ", swapped back before
 * parsing (no body below contains a real ').
 */
#include "unit.h"

#include "json.h"
#include "schema.h"

enum body { SEND, UPDATE, SETTINGS };

struct schema_case {
	enum body	 route;
	const char	*body;
	const char	*want;		/* NULL: valid */
};

static const struct schema_case cases[] = {
	/* Spec 4.4 table */
	{ SEND, "{}", "request/body must have required property 'recipients'" },
	{ SEND, "", "request/body must have required property 'recipients'" },
	{ SEND, "{'recipients':{'type':'broadcast'}}",
	    "request/body must have required property 'payload'" },
	{ SEND, "[]", "request/body must be object" },
	{ SEND, "[{'recipients':{'type':'broadcast'},'payload':{'title':'t'}}]",
	    "request/body must be object" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':'x'}",
	    "request/body/payload must be object" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{}}",
	    "request/body/payload must have required property 'title'" },
	{ SEND, "{'recipients':{'type':'broadcast'},"
	    "'payload':{'description':'d'}}",
	    "request/body/payload must have required property 'title'" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':5}}",
	    "request/body/payload/title must be string" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':null}}",
	    "request/body/payload/title must be string" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'description':1}}",
	    "request/body/payload/description must be string" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'severity':'urgent'}}",
	    "request/body/payload/severity must be equal to one of the "
	    "allowed values: critical, high, normal, low" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'severity':'HIGH'}}",
	    "request/body/payload/severity must be equal to one of the "
	    "allowed values: critical, high, normal, low" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'severity':'LOW'}}",
	    "request/body/payload/severity must be equal to one of the "
	    "allowed values: critical, high, normal, low" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'severity':null}}",
	    "request/body/payload/severity must be string" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'metadata':'x'}}",
	    "request/body/payload/metadata must be object" },
	{ SEND, "{'recipients':{'type':'foo'},'payload':{'title':'t'}}",
	    "request/body/recipients must have required property "
	    "'entityRef', request/body/recipients/type must be equal to one "
	    "of the allowed values: broadcast, request/body/recipients must "
	    "match exactly one schema in oneOf" },
	{ SEND, "{'recipients':{'type':'group'},'payload':{'title':'t'}}",
	    "request/body/recipients must have required property "
	    "'entityRef', request/body/recipients/type must be equal to one "
	    "of the allowed values: broadcast, request/body/recipients must "
	    "match exactly one schema in oneOf" },
	{ SEND, "{'recipients':{'type':'entity'},'payload':{'title':'t'}}",
	    "request/body/recipients must have required property "
	    "'entityRef', request/body/recipients/type must be equal to one "
	    "of the allowed values: broadcast, request/body/recipients must "
	    "match exactly one schema in oneOf" },
	{ SEND, "{'recipients':{},'payload':{'title':'t'}}",
	    "request/body/recipients must have required property 'type', "
	    "request/body/recipients must have required property 'type', "
	    "request/body/recipients must match exactly one schema in oneOf" },
	{ SEND, "{'recipients':'broadcast','payload':{'title':'t'}}",
	    "request/body/recipients must be object, "
	    "request/body/recipients must be object, "
	    "request/body/recipients must match exactly one schema in oneOf" },
	{ SEND, "{'recipients':{'type':'entity','entityRef':5},"
	    "'payload':{'title':'t'}}",
	    "request/body/recipients/entityRef must be string, "
	    "request/body/recipients/entityRef must be array, "
	    "request/body/recipients/entityRef must match exactly one "
	    "schema in oneOf, request/body/recipients/type must be equal to "
	    "one of the allowed values: broadcast, request/body/recipients "
	    "must match exactly one schema in oneOf" },
	{ SEND, "{'recipients':{'type':'entity',"
	    "'entityRef':'user:default/guest','excludeEntityRef':5},"
	    "'payload':{'title':'t'}}",
	    "request/body/recipients/excludeEntityRef must be string, "
	    "request/body/recipients/excludeEntityRef must be array, "
	    "request/body/recipients/excludeEntityRef must match exactly "
	    "one schema in oneOf, request/body/recipients/type must be "
	    "equal to one of the allowed values: broadcast, "
	    "request/body/recipients must match exactly one schema in oneOf" },

	/* Spec 4.4: only the first failing rule */
	{ SEND, "{'recipients':{'type':'nope'},'payload':{'title':1,"
	    "'severity':'x'}}",
	    "request/body/recipients must have required property "
	    "'entityRef', request/body/recipients/type must be equal to one "
	    "of the allowed values: broadcast, request/body/recipients must "
	    "match exactly one schema in oneOf" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':1,"
	    "'severity':'x'}}", "request/body/payload/title must be string" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'severity':'x','description':5}}",
	    "request/body/payload/description must be string" },
	{ SEND, "{'recipients':{'type':'nope'}}",
	    "request/body must have required property 'payload'" },
	{ SEND, "{'payload':{}}",
	    "request/body must have required property 'recipients'" },
	{ SEND, "{'payload':5,'recipients':5}",
	    "request/body/recipients must be object, "
	    "request/body/recipients must be object, "
	    "request/body/recipients must match exactly one schema in oneOf" },

	/* Payload fields in schema order */
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'link':5}}", "request/body/payload/link must be string" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'topic':5}}", "request/body/payload/topic must be string" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'scope':false}}", "request/body/payload/scope must be string" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'icon':[]}}", "request/body/payload/icon must be string" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'metadata':[]}}", "request/body/payload/metadata must be object" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'metadata':null}}",
	    "request/body/payload/metadata must be object" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'metadata':5}}", "request/body/payload/metadata must be object" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'severity':5}}", "request/body/payload/severity must be string" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'severity':' high'}}",
	    "request/body/payload/severity must be equal to one of the "
	    "allowed values: critical, high, normal, low" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'icon':1,"
	    "'scope':1,'topic':1,'severity':1,'link':1,'description':1,"
	    "'title':1}}", "request/body/payload/title must be string" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'icon':1,"
	    "'scope':1,'topic':1,'severity':1,'link':1,'description':1,"
	    "'title':'t'}}",
	    "request/body/payload/description must be string" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'metadata':1,"
	    "'icon':1,'title':'t'}}",
	    "request/body/payload/icon must be string" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':null}",
	    "request/body/payload must be object" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':[]}",
	    "request/body/payload must be object" },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':[{'title':'t'}]}",
	    "request/body/payload must be object" },

	/* Recipients oneOf */
	{ SEND, "{'recipients':null,'payload':{'title':'t'}}",
	    "request/body/recipients must be object, "
	    "request/body/recipients must be object, "
	    "request/body/recipients must match exactly one schema in oneOf" },
	{ SEND, "{'recipients':[],'payload':{'title':'t'}}",
	    "request/body/recipients must be object, "
	    "request/body/recipients must be object, "
	    "request/body/recipients must match exactly one schema in oneOf" },
	{ SEND, "{'recipients':5,'payload':{'title':'t'}}",
	    "request/body/recipients must be object, "
	    "request/body/recipients must be object, "
	    "request/body/recipients must match exactly one schema in oneOf" },
	{ SEND, "{'recipients':{'type':5},'payload':{'title':'t'}}",
	    "request/body/recipients must have required property "
	    "'entityRef', request/body/recipients/type must be string, "
	    "request/body/recipients/type must be equal to one of the "
	    "allowed values: broadcast, request/body/recipients must match "
	    "exactly one schema in oneOf" },
	{ SEND, "{'recipients':{'type':null,'entityRef':'x'},"
	    "'payload':{'title':'t'}}",
	    "request/body/recipients/type must be string, "
	    "request/body/recipients/type must be equal to one of the "
	    "allowed values: entity, request/body/recipients/type must be "
	    "string, request/body/recipients/type must be equal to one of "
	    "the allowed values: broadcast, request/body/recipients must "
	    "match exactly one schema in oneOf" },
	{ SEND, "{'recipients':{'type':'Broadcast'},'payload':{'title':'t'}}",
	    "request/body/recipients must have required property "
	    "'entityRef', request/body/recipients/type must be equal to one "
	    "of the allowed values: broadcast, request/body/recipients must "
	    "match exactly one schema in oneOf" },
	{ SEND, "{'recipients':{'type':'entity','entityRef':[1]},"
	    "'payload':{'title':'t'}}",
	    "request/body/recipients/entityRef must be string, "
	    "request/body/recipients/entityRef/0 must be string, "
	    "request/body/recipients/entityRef must match exactly one "
	    "schema in oneOf, request/body/recipients/type must be equal to "
	    "one of the allowed values: broadcast, request/body/recipients "
	    "must match exactly one schema in oneOf" },
	{ SEND, "{'recipients':{'type':'entity','entityRef':['a',{}]},"
	    "'payload':{'title':'t'}}",
	    "request/body/recipients/entityRef must be string, "
	    "request/body/recipients/entityRef/1 must be string, "
	    "request/body/recipients/entityRef must match exactly one "
	    "schema in oneOf, request/body/recipients/type must be equal to "
	    "one of the allowed values: broadcast, request/body/recipients "
	    "must match exactly one schema in oneOf" },
	{ SEND, "{'recipients':{'type':'entity','entityRef':null},"
	    "'payload':{'title':'t'}}",
	    "request/body/recipients/entityRef must be string, "
	    "request/body/recipients/entityRef must be array, "
	    "request/body/recipients/entityRef must match exactly one "
	    "schema in oneOf, request/body/recipients/type must be equal to "
	    "one of the allowed values: broadcast, request/body/recipients "
	    "must match exactly one schema in oneOf" },
	{ SEND, "{'recipients':{'type':'entity','entityRef':{}},"
	    "'payload':{'title':'t'}}",
	    "request/body/recipients/entityRef must be string, "
	    "request/body/recipients/entityRef must be array, "
	    "request/body/recipients/entityRef must match exactly one "
	    "schema in oneOf, request/body/recipients/type must be equal to "
	    "one of the allowed values: broadcast, request/body/recipients "
	    "must match exactly one schema in oneOf" },
	{ SEND, "{'recipients':{'type':'entity','entityRef':'a',"
	    "'excludeEntityRef':[null]},'payload':{'title':'t'}}",
	    "request/body/recipients/excludeEntityRef must be string, "
	    "request/body/recipients/excludeEntityRef/0 must be string, "
	    "request/body/recipients/excludeEntityRef must match exactly "
	    "one schema in oneOf, request/body/recipients/type must be "
	    "equal to one of the allowed values: broadcast, "
	    "request/body/recipients must match exactly one schema in oneOf" },
	{ SEND, "{'recipients':{'type':'entity','entityRef':5,"
	    "'excludeEntityRef':5},'payload':{'title':'t'}}",
	    "request/body/recipients/entityRef must be string, "
	    "request/body/recipients/entityRef must be array, "
	    "request/body/recipients/entityRef must match exactly one "
	    "schema in oneOf, request/body/recipients/type must be equal to "
	    "one of the allowed values: broadcast, request/body/recipients "
	    "must match exactly one schema in oneOf" },
	{ SEND, "{'recipients':{'entityRef':'a'},'payload':{'title':'t'}}",
	    "request/body/recipients must have required property 'type', "
	    "request/body/recipients must have required property 'type', "
	    "request/body/recipients must match exactly one schema in oneOf" },
	{ SEND, "{'recipients':{'type':'broadcast','entityRef':5},"
	    "'payload':{'title':'t'}}", NULL },

	/* Valid bodies */
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t'}}",
	    NULL },
	{ SEND, "{'recipients':{'type':'entity',"
	    "'entityRef':'user:default/guest'},'payload':{'title':'t'}}",
	    NULL },
	{ SEND, "{'recipients':{'type':'entity','entityRef':['a','b'],"
	    "'excludeEntityRef':'c'},'payload':{'title':'t'}}", NULL },
	{ SEND, "{'recipients':{'type':'entity','entityRef':[],"
	    "'excludeEntityRef':[]},'payload':{'title':'t'}}", NULL },
	{ SEND, "{'recipients':{'type':'broadcast','entityRef':'x','extra':1},"
	    "'payload':{'title':'t'},'extra':[1]}", NULL },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'',"
	    "'description':'d','link':'l','severity':'critical','topic':'t',"
	    "'scope':'s','icon':'i','metadata':{'a':[1,{}]},'x':null}}", NULL },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'severity':'high'}}", NULL },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'severity':'normal'}}", NULL },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'severity':'low'}}", NULL },
	{ SEND, "{'recipients':{'type':'broadcast'},'payload':{'title':'t',"
	    "'metadata':{}}}", NULL },
	{ SEND, " \n\t{'recipients':{'type':'broadcast'},"
	    "'payload':{'title':'t'}}\n ", NULL },

	/* Spec 10.1 */
	{ UPDATE, "{}", "request/body must have required property 'ids'" },
	{ UPDATE, "{'ids':'x'}", "request/body/ids must be array" },
	{ UPDATE, "{'ids':[],'read':'true'}",
	    "request/body/read must be boolean" },

	/* Update: more */
	{ UPDATE, "", "request/body must have required property 'ids'" },
	{ UPDATE, "[]", "request/body must be object" },
	{ UPDATE, "{'ids':null}", "request/body/ids must be array" },
	{ UPDATE, "{'ids':{}}", "request/body/ids must be array" },
	{ UPDATE, "{'ids':[1]}", "request/body/ids/0 must be string" },
	{ UPDATE, "{'ids':['a',2]}", "request/body/ids/1 must be string" },
	{ UPDATE, "{'ids':[],'saved':1}",
	    "request/body/saved must be boolean" },
	{ UPDATE, "{'ids':[],'read':null}",
	    "request/body/read must be boolean" },
	{ UPDATE, "{'ids':'x','read':'y'}", "request/body/ids must be array" },
	{ UPDATE, "{'read':'y'}",
	    "request/body must have required property 'ids'" },
	{ UPDATE, "{'ids':[],'read':true,'saved':'no'}",
	    "request/body/saved must be boolean" },
	{ UPDATE, "{'ids':[[]]}", "request/body/ids/0 must be string" },
	{ UPDATE, "{'ids':[],'read':0}", "request/body/read must be boolean" },

	/* Update: valid */
	{ UPDATE, "{'ids':[]}", NULL },
	{ UPDATE, "{'ids':['a'],'read':true,'saved':false}", NULL },
	{ UPDATE, "{'ids':['a','b'],'read':false,'x':1}", NULL },

	/* Spec 10.2 */
	{ SETTINGS, "{}",
	    "request/body must have required property 'channels'" },
	{ SETTINGS, "{'channels':[{'id':'Web',"
	    "'origins':[{'id':'argocd-notifications','enabled':true,"
	    "'topics':[{'id':'argocd','enabled':true},{'id':'deploys',"
	    "'enabled':true}]}]}]}", NULL },

	/* Settings: more */
	{ SETTINGS, "", "request/body must have required property 'channels'" },
	{ SETTINGS, "[]", "request/body must be object" },
	{ SETTINGS, "{'channels':{}}", "request/body/channels must be array" },
	{ SETTINGS, "{'channels':null}",
	    "request/body/channels must be array" },
	{ SETTINGS, "{'channels':[1]}",
	    "request/body/channels/0 must be object" },
	{ SETTINGS, "{'channels':[{}]}",
	    "request/body/channels/0 must have required property 'id'" },
	{ SETTINGS, "{'channels':[{'id':'Web'}]}",
	    "request/body/channels/0 must have required property 'origins'" },
	{ SETTINGS, "{'channels':[{'origins':[]}]}",
	    "request/body/channels/0 must have required property 'id'" },
	{ SETTINGS, "{'channels':[{'id':5,'origins':[]}]}",
	    "request/body/channels/0/id must be string" },
	{ SETTINGS, "{'channels':[{'id':'Web','enabled':'x','origins':[]}]}",
	    "request/body/channels/0/enabled must be boolean" },
	{ SETTINGS, "{'channels':[{'id':'Web','origins':'x'}]}",
	    "request/body/channels/0/origins must be array" },
	{ SETTINGS, "{'channels':[{'id':'Web','origins':[{}]}]}",
	    "request/body/channels/0/origins/0 must have required property "
	    "'id'" },
	{ SETTINGS, "{'channels':[{'id':'Web','origins':[{'id':'o'}]}]}",
	    "request/body/channels/0/origins/0 must have required property "
	    "'enabled'" },
	{ SETTINGS, "{'channels':[{'id':'Web','origins':[{'id':'o',"
	    "'enabled':'true'}]}]}",
	    "request/body/channels/0/origins/0/enabled must be boolean" },
	{ SETTINGS, "{'channels':[{'id':'Web','origins':[{'id':1,"
	    "'enabled':1}]}]}",
	    "request/body/channels/0/origins/0/id must be string" },
	{ SETTINGS, "{'channels':[{'id':'Web','origins':[{'id':'o',"
	    "'enabled':true,'topics':{}}]}]}",
	    "request/body/channels/0/origins/0/topics must be array" },
	{ SETTINGS, "{'channels':[{'id':'Web','origins':[{'id':'o',"
	    "'enabled':true,'topics':[{'id':'t'}]}]}]}",
	    "request/body/channels/0/origins/0/topics/0 must have required "
	    "property 'enabled'" },
	{ SETTINGS, "{'channels':[{'id':'Web','origins':[{'id':'o',"
	    "'enabled':true,'topics':[{'enabled':true}]}]}]}",
	    "request/body/channels/0/origins/0/topics/0 must have required "
	    "property 'id'" },
	{ SETTINGS, "{'channels':[{'id':'Web','origins':[{'id':'o',"
	    "'enabled':true,'topics':[{'id':5,'enabled':true}]}]}]}",
	    "request/body/channels/0/origins/0/topics/0/id must be string" },
	{ SETTINGS, "{'channels':[{'id':'Web','origins':[{'id':'o',"
	    "'enabled':true,'topics':[{'id':'t','enabled':true},{'id':'u',"
	    "'enabled':null}]}]}]}",
	    "request/body/channels/0/origins/0/topics/1/enabled must be "
	    "boolean" },
	{ SETTINGS, "{'channels':[{'id':'Web','origins':[]},{'id':'Email',"
	    "'origins':[{'id':'o','enabled':true},{'id':'p','enabled':false,"
	    "'topics':[1]}]}]}",
	    "request/body/channels/1/origins/1/topics/0 must be object" },
	{ SETTINGS, "{'channels':[{'id':'Web','enabled':1,'origins':5}]}",
	    "request/body/channels/0/enabled must be boolean" },

	/* Settings: valid */
	{ SETTINGS, "{'channels':[]}", NULL },
	{ SETTINGS, "{'channels':[{'id':'Web','enabled':false,'origins':[]}]}",
	    NULL },
	{ SETTINGS, "{'channels':[{'id':'Web','origins':[{'id':'o',"
	    "'enabled':false,'topics':[]}]}],'x':1}", NULL },
	{ SETTINGS, "{'channels':[{'id':'Any','origins':[{'id':'o',"
	    "'enabled':true,'x':1}],'y':2}]}", NULL },
	{ SEND, NULL, NULL }
};

static int
validate(enum body route, const struct json *j, char *msg, size_t len)
{
	switch (route) {
	case SEND:
		return (schema_send_options(j, msg, len));
	case UPDATE:
		return (schema_update(j, msg, len));
	case SETTINGS:
		return (schema_settings(j, msg, len));
	}
	return (-2);
}

/* Parse s (with ' for ") as the server parses a request body. */
static struct json *
parse(const char *s)
{
	struct json	*j;
	char		*buf, *p, err[JSON_ERRLEN];

	buf = strdup(s);
	if (buf == NULL)
		return (NULL);
	for (p = buf; *p != '\0'; p++) {
		if (*p == '\'')
			*p = '"';
	}
	j = json_parse(buf, strlen(buf), 1, err, sizeof err, NULL);
	if (j == NULL)
		fprintf(stderr, "# json_parse(%s): %s\n", buf, err);
	free(buf);
	return (j);
}

static void
test_table(void)
{
	const struct schema_case	*c;
	struct json			*j;
	char				 msg[2048];
	int				 rc, bad = 0;

	for (c = cases; c->body != NULL; c++) {
		if ((j = parse(c->body)) == NULL) {
			bad++;
			continue;
		}
		strcpy(msg, "(untouched)");
		rc = validate(c->route, j, msg, sizeof msg);
		json_free(j);
		if (c->want == NULL && rc != 0) {
			fprintf(stderr, "# %s: rejected: %s\n", c->body, msg);
			bad++;
		} else if (c->want != NULL && (rc != -1 ||
		    strcmp(msg, c->want) != 0)) {
			fprintf(stderr, "# %s:\n#   got      %d %s\n"
			    "#   expected %s\n", c->body, rc, msg, c->want);
			bad++;
		}
	}
	CHECK_INT(bad, 0);
end:	;
}

/* No body at all is validated as the {} body-parser makes of it. */
static void
test_null_body(void)
{
	char	msg[256];

	CHECK_INT(schema_send_options(NULL, msg, sizeof msg), -1);
	CHECK_STR(msg, "request/body must have required property "
	    "'recipients'");
	CHECK_INT(schema_update(NULL, msg, sizeof msg), -1);
	CHECK_STR(msg, "request/body must have required property 'ids'");
	CHECK_INT(schema_settings(NULL, msg, sizeof msg), -1);
	CHECK_STR(msg, "request/body must have required property 'channels'");
end:	;
}

/* A short buffer gets a cut message; a valid body leaves msg alone. */
static void
test_buffers(void)
{
	struct json	*j = NULL;
	char		 msg[24];

	j = parse("{'recipients':{},'payload':{'title':'t'}}");
	CHECK(j != NULL);
	memset(msg, 'x', sizeof msg);
	CHECK_INT(schema_send_options(j, msg, sizeof msg), -1);
	CHECK_STR(msg, "request/body/recipients");
	CHECK_INT(schema_send_options(j, NULL, 0), -1);
	json_free(j);

	j = parse("{'ids':['a']}");
	CHECK(j != NULL);
	strcpy(msg, "untouched");
	CHECK_INT(schema_update(j, msg, sizeof msg), 0);
	CHECK_STR(msg, "untouched");
end:
	json_free(j);
}

/* Indexes in paths count from 0 and go past one digit. */
static void
test_array_index(void)
{
	struct json	*j = NULL;
	char		 msg[256];

	j = parse("{'ids':['0','1','2','3','4','5','6','7','8','9','10',11]}");
	CHECK(j != NULL);
	CHECK_INT(schema_update(j, msg, sizeof msg), -1);
	CHECK_STR(msg, "request/body/ids/11 must be string");
end:
	json_free(j);
}

/*
 * A duplicated key counts with its last value (JSON.parse semantics, which
 * json.h promises), and "__proto__" is an ordinary key.
 */
static void
test_duplicate_keys(void)
{
	struct json	*j = NULL;
	char		 msg[256];

	j = parse("{'recipients':{'type':'broadcast'},"
	    "'payload':{'title':5,'title':'t'}}");
	CHECK(j != NULL);
	CHECK_INT(schema_send_options(j, msg, sizeof msg), 0);
	json_free(j);
	j = parse("{'recipients':{'type':'broadcast'},"
	    "'payload':{'title':'t','title':5}}");
	CHECK(j != NULL);
	CHECK_INT(schema_send_options(j, msg, sizeof msg), -1);
	CHECK_STR(msg, "request/body/payload/title must be string");
	json_free(j);
	j = parse("{'__proto__':{'ids':[]}}");
	CHECK(j != NULL);
	CHECK_INT(schema_update(j, msg, sizeof msg), -1);
	CHECK_STR(msg, "request/body must have required property 'ids'");
end:
	json_free(j);
}

/* Deep but valid metadata is not walked (any object passes). */
static void
test_deep_metadata(void)
{
	struct json	*j = NULL;
	char		*s = NULL, msg[256];
	size_t		 depth = 500, i, n = 0;

	s = malloc(128 + depth * 6);
	CHECK(s != NULL);
	n += sprintf(s, "{'recipients':{'type':'broadcast'},"
	    "'payload':{'title':'t','metadata':");
	for (i = 0; i < depth; i++)
		n += sprintf(s + n, "{'a':");
	n += sprintf(s + n, "1");
	for (i = 0; i < depth; i++)
		s[n++] = '}';
	strcpy(s + n, "}}");
	j = parse(s);
	CHECK(j != NULL);
	CHECK_INT(schema_send_options(j, msg, sizeof msg), 0);
end:
	json_free(j);
	free(s);
}

static const struct unit_test tests[] = {
	{ "table (validator answers)", test_table },
	{ "no body", test_null_body },
	{ "message buffers", test_buffers },
	{ "array indexes in paths", test_array_index },
	{ "duplicate keys", test_duplicate_keys },
	{ "deep metadata", test_deep_metadata },
	{ NULL, NULL }
};

UNIT_MAIN(tests)
