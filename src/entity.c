/*
 * entity.c: entity references ("kind:namespace/name").
 *
 * The split follows @backstage/catalog-model's parseEntityRef: the kind is
 * what comes before the first ':', the namespace what lies between that ':'
 * and the first '/', the name the rest.  A '/' ahead of the first ':' means
 * there is no kind at all, so "a/b:c" is namespace "a", name "b:c".  A part
 * that is present but empty is a TypeError; a missing kind is an Error.
 * The two messages quote the ref differently, as upstream does: the
 * TypeError pastes it between plain double quotes, the Error runs it
 * through JSON.stringify.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "entity.h"
#include "xmalloc.h"

#define ENTITY_DEFAULT_NS	"default"

static void	 entity_fail(char *, size_t, char *, size_t, const char *,
		    const char *, const char *, const char *);
static char	*entity_json_quote(const char *);
static void	 entity_lower(char *, const char *, size_t);

/* Fill the caller's buffers with an error name and "<pre><ref><post>". */
static void
entity_fail(char *errname, size_t errnamelen, char *msg, size_t msglen,
    const char *name, const char *pre, const char *ref, const char *post)
{
	if (errname != NULL && errnamelen > 0)
		snprintf(errname, errnamelen, "%s", name);
	if (msg != NULL && msglen > 0)
		snprintf(msg, msglen, "%s%s%s", pre, ref, post);
}

/*
 * The ref as JSON.stringify prints a string: in double quotes, with '"',
 * '\\' and the C0 controls escaped and everything else (DEL, non-ASCII)
 * left alone.  A lone UTF-16 surrogate, which reaches us as its three-byte
 * WTF-8 form (ED A0..BF xx), is written as \udxxx like V8 does.
 */
static char *
entity_json_quote(const char *s)
{
	const unsigned char	*p;
	char			*out, *o;
	unsigned int		 cp;

	/* At most 6 output bytes per input byte, plus quotes and NUL. */
	out = o = xmalloc(strlen(s) * 6 + 3);
	*o++ = '"';
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			*o++ = '\\';
			*o++ = '"';
			continue;
		case '\\':
			*o++ = '\\';
			*o++ = '\\';
			continue;
		case '\b':
			*o++ = '\\';
			*o++ = 'b';
			continue;
		case '\f':
			*o++ = '\\';
			*o++ = 'f';
			continue;
		case '\n':
			*o++ = '\\';
			*o++ = 'n';
			continue;
		case '\r':
			*o++ = '\\';
			*o++ = 'r';
			continue;
		case '\t':
			*o++ = '\\';
			*o++ = 't';
			continue;
		}
		if (*p < 0x20) {
			o += sprintf(o, "\\u%04x", *p);
			continue;
		}
		if (p[0] == 0xed && p[1] >= 0xa0 && p[1] <= 0xbf &&
		    (p[2] & 0xc0) == 0x80) {
			cp = 0xd000 | (p[1] & 0x3f) << 6 | (p[2] & 0x3f);
			o += sprintf(o, "\\u%04x", cp);
			p += 2;
			continue;
		}
		*o++ = *p;
	}
	*o++ = '"';
	*o = '\0';
	return (out);
}

/* Parse ref the way parseEntityRef(ref) does (no default kind). */
int
entity_parse(const char *ref, struct entity_ref *out, char *errname,
    size_t errnamelen, char *msg, size_t msglen)
{
	const char	*colon, *slash, *name;
	char		*quoted;

	memset(out, 0, sizeof *out);
	if (ref == NULL || *ref == '\0') {
		entity_fail(errname, errnamelen, msg, msglen, "Error",
		    "Entity reference must not be empty", "", "");
		return (-1);
	}

	colon = strchr(ref, ':');
	slash = strchr(ref, '/');
	if (slash != NULL && colon != NULL && slash < colon)
		colon = NULL;
	name = ref;
	if (colon != NULL)
		name = colon + 1;
	if (slash != NULL)
		name = slash + 1;

	if (colon == ref ||
	    (slash != NULL && slash == (colon != NULL ? colon + 1 : ref)) ||
	    *name == '\0') {
		entity_fail(errname, errnamelen, msg, msglen, "TypeError",
		    "Entity reference \"", ref,
		    "\" was not on the form [<kind>:][<namespace>/]<name>");
		return (-1);
	}
	if (colon == NULL) {
		quoted = entity_json_quote(ref);
		entity_fail(errname, errnamelen, msg, msglen, "Error",
		    "Entity reference ", quoted, " had missing or empty kind "
		    "(e.g. did not start with \"component:\" or similar)");
		free(quoted);
		return (-1);
	}

	out->kind = xstrndup(ref, colon - ref);
	if (slash != NULL)
		out->namespace = xstrndup(colon + 1, slash - (colon + 1));
	else
		out->namespace = xstrdup(ENTITY_DEFAULT_NS);
	out->name = xstrdup(name);
	return (0);
}

/* Free what entity_parse filled in; safe on a cleared or failed ref. */
void
entity_ref_clear(struct entity_ref *ref)
{
	free(ref->kind);
	free(ref->namespace);
	free(ref->name);
	memset(ref, 0, sizeof *ref);
}

/*
 * Is the kind "user"?  The resolver asks parseEntityRef(ref).kind, lower-
 * cased; no code point outside ASCII lower-cases into "user", so an ASCII
 * comparison gives the same answer.  A ref whose '/' comes before its ':'
 * has no kind, hence is not a user.
 */
int
entity_is_user(const char *ref)
{
	const char	*colon, *slash;

	if (ref == NULL || (colon = strchr(ref, ':')) == NULL)
		return (0);
	slash = strchr(ref, '/');
	if (slash != NULL && slash < colon)
		return (0);
	return (colon - ref == 4 && strncasecmp(ref, "user", 4) == 0);
}

/*
 * Lower-case n bytes of s into dst, as toLocaleLowerCase('en-US') does for
 * the scripts entity names are mostly written in: ASCII, Latin-1 and basic
 * Cyrillic.  Other code points are copied as they are (Greek is left out on
 * purpose: its final sigma depends on context).
 */
static void
entity_lower(char *dst, const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s, *end = p + n;
	unsigned char		*o = (unsigned char *)dst;
	unsigned int		 cp;

	while (p < end) {
		if (*p < 0x80) {
			*o++ = (*p >= 'A' && *p <= 'Z') ? *p + 32 : *p;
			p++;
			continue;
		}
		if ((p[0] & 0xe0) != 0xc0 || p + 1 >= end ||
		    (p[1] & 0xc0) != 0x80) {
			*o++ = *p++;
			continue;
		}
		/* Two-byte sequences: U+0080..U+07FF. */
		cp = (p[0] & 0x1f) << 6 | (p[1] & 0x3f);
		if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7) ||
		    (cp >= 0x410 && cp <= 0x42f))	/* Latin-1, Cyrillic */
			cp += 0x20;
		else if (cp >= 0x400 && cp <= 0x40f)	/* Cyrillic Ie..Dzhe */
			cp += 0x50;
		*o++ = 0xc0 | cp >> 6;
		*o++ = 0x80 | (cp & 0x3f);
		p += 2;
	}
	*o = '\0';
}

/* "kind:namespace/name", lower-cased, as stringifyEntityRef() gives it. */
char *
entity_canonical(const struct entity_ref *ref)
{
	size_t	 kl, nl, ml;
	char	*out;

	kl = strlen(ref->kind);
	nl = strlen(ref->namespace);
	ml = strlen(ref->name);
	/* Lower-casing never changes the length of the ranges handled. */
	out = xmalloc(kl + nl + ml + 3);
	entity_lower(out, ref->kind, kl);
	out[kl] = ':';
	entity_lower(out + kl + 1, ref->namespace, nl);
	out[kl + 1 + nl] = '/';
	entity_lower(out + kl + nl + 2, ref->name, ml);
	return (out);
}
