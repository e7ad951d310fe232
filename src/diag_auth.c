/*
 * diag_auth.c: the checks on the credential a delivery presented, run
 * after the barrier (auth.c) decided the answer: why Backstage would
 * refuse it, and what in Argo CD's configuration made it so.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "diag.h"
#include "diag_int.h"
#include "auth.h"
#include "xmalloc.h"

/* --- credentials ------------------------------------------------------- */

/*
 * A presented credential is never quoted.  Evidence shows its text only
 * when it cannot be a secret: a whole $key reference that Argo CD left as
 * written, or a whole {{ ... }} template.  Anything else is described by
 * its shape and its keyed fingerprint (crypto_fingerprint), which
 * matches the start-up log and every other print of the same database
 * but, unlike a bare SHA-256 prefix, cannot be checked against guesses
 * offline.
 */

/* Schemes named in evidence by our own spelling (never the sender's text). */
static const char *diag_schemes[] = {
	"Digest", "Negotiate", "NTLM", "Token", "ApiKey", "Api-Key", "Key",
	"JWT", "OAuth", "DPoP", "HOBA", "Mutual", "AWS4-HMAC-SHA256",
	"SCRAM-SHA-1", "SCRAM-SHA-256", "vapid", "GNAP", "PrivateToken",
	"Concealed"
};
#define DIAG_NSCHEMES	(sizeof diag_schemes / sizeof diag_schemes[0])

/* The token part of an Authorization value: what follows "Bearer" and its
 * spaces, or else the whole value; trailing blanks dropped. */
static const char *
diag_auth_token(const char *h, size_t *lenp)
{
	const char	*tok = h;
	size_t		 len;

	if (strncasecmp(h, "bearer", 6) == 0 && h[6] == ' ')
		for (tok = h + 6; *tok == ' '; tok++)
			;
	len = strlen(tok);
	while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
		len--;
	*lenp = len;
	return (tok);
}

/* Is the token exactly a $key reference, ^\$[A-Za-z0-9_.-]+$?  Returns the
 * length of the key Argo CD looks up (its [\w-]+ after the '$'), or 0. */
static size_t
diag_ref_key(const char *tok, size_t len)
{
	size_t	i, key;

	if (len < 2 || tok[0] != '$')
		return (0);
	for (i = 1; i < len && (isalnum((unsigned char)tok[i]) ||
	    tok[i] == '_' || tok[i] == '-'); i++)
		;
	key = i - 1;
	for (; i < len; i++)
		if (!isalnum((unsigned char)tok[i]) && tok[i] != '_' &&
		    tok[i] != '-' && tok[i] != '.')
			return (0);
	return (key);
}

/* Is the token one whole {{ ... }} action, and nothing around it? */
static int
diag_is_template(const char *tok, size_t len)
{
	const unsigned char	*u = (const unsigned char *)tok, *close;

	if (len < 4 || memcmp(tok, "{{", 2) != 0 ||
	    memcmp(tok + len - 2, "}}", 2) != 0)
		return (0);
	close = diag_memmem(u + 2, len - 2, "}}", 2);
	return (close == u + len - 2 &&
	    diag_memmem(u + 2, len - 2, "{{", 2) == NULL);
}

/*
 * What a presented value looks like without any of its text: its length,
 * the characters that tell how it was made, and (if withfp) its keyed
 * fingerprint.  E.g. "<31 characters, 2 words, with {{; hmac:...>".
 */
static void
diag_token_shape(const char *tok, size_t len, int withfp, char *buf,
    size_t buflen)
{
	const unsigned char	*u = (const unsigned char *)tok;
	const char		*what[5];
	char			 fp[CRYPTO_FP_LEN];
	size_t			 i, n = 0, chars = 0, words = 0, o;
	int			 blank = 1, odd = 0;

	for (i = 0; i < len; i++) {
		if ((u[i] & 0xc0) != 0x80)
			chars++;
		if (u[i] == ' ' || u[i] == '\t')
			blank = 1;
		else if (blank) {
			blank = 0;
			words++;
		}
		if ((u[i] < 0x20 && u[i] != '\t') || u[i] >= 0x7f)
			odd = 1;
	}
	if (diag_memmem(u, len, "{{", 2) != NULL)
		what[n++] = "{{";
	if (diag_memmem(u, len, "}}", 2) != NULL)
		what[n++] = "}}";
	if (memchr(tok, '$', len) != NULL)
		what[n++] = "$";
	if (memchr(tok, '"', len) != NULL || memchr(tok, '\'', len) != NULL)
		what[n++] = "quotes";
	if (odd)
		what[n++] = "control or non-ASCII characters";
	o = (size_t)snprintf(buf, buflen, "<%zu character%s", chars,
	    chars == 1 ? "" : "s");
	if (words > 1 && o < buflen)
		o += (size_t)snprintf(buf + o, buflen - o, ", %zu words",
		    words);
	for (i = 0; i < n && o < buflen; i++)
		o += (size_t)snprintf(buf + o, buflen - o, "%s%s",
		    i == 0 ? (words > 1 ? ", with " : " with ") :
		    i + 1 == n ? " and " : ", ", what[i]);
	if (withfp && o < buflen)
		o += (size_t)snprintf(buf + o, buflen - o, "; %s",
		    crypto_fingerprint(tok, len, fp));
	if (o < buflen)
		snprintf(buf + o, buflen - o, ">");
}

/* The keyed fingerprint of the bearer token in header h ("?" if none). */
const char *
diag_presented_fp(const char *h, char fp[CRYPTO_FP_LEN])
{
	const char	*tok;
	size_t		 len;

	if (h == NULL) {
		snprintf(fp, CRYPTO_FP_LEN, "?");
		return (fp);
	}
	tok = diag_auth_token(h, &len);
	return (crypto_fingerprint(tok, len, fp));
}

/* How many service tokens are configured (entries of in->token_fps). */
static size_t
diag_ntokens(const struct diag_input *in)
{
	const char	*p;
	size_t		 n;

	if (in->token_fps == NULL || *in->token_fps == '\0')
		return (0);
	for (n = 1, p = in->token_fps; (p = strchr(p, ',')) != NULL; p++)
		n++;
	return (n);
}

/* Blank-separated words in s. */
static size_t
diag_words(const char *s)
{
	size_t	n = 0;

	for (;;) {
		s += strspn(s, " \t");
		if (*s == '\0')
			return (n);
		n++;
		s += strcspn(s, " \t");
	}
}

/* Does the token look like a Backstage user JWT? */
static int
diag_user_jwt(const char *tok, size_t len)
{
	const char	*dot;
	unsigned char	 hdr[1024];
	ssize_t		 n;

	if ((dot = memchr(tok, '.', len)) == NULL ||
	    memchr(dot + 1, '.', len - (size_t)(dot + 1 - tok)) == NULL)
		return (0);
	/* A header that decodes to more than 511 bytes is not one. */
	if ((n = codec_b64_decode(CODEC_B64ANY, tok, (size_t)(dot - tok), hdr,
	    sizeof hdr - 1)) <= 0 || n > 511)
		return (0);
	hdr[n] = '\0';
	return (strstr((char *)hdr, "vnd.backstage.user") != NULL);
}

/* Why a well-formed bearer token matched nothing, if it is close to a
 * configured one: the part that says so (fp gets that token's
 * fingerprint), or -1. */
static int
diag_token_near(const struct diag_input *in, const char *tok, size_t len,
    char fp[CRYPTO_FP_LEN])
{
	unsigned char	 dec[768];
	char		 enc[1100];
	ssize_t		 n;
	size_t		 m;

	if (len > 512)
		return (-1);
	if ((n = codec_b64_decode(CODEC_B64ANY, tok, len, dec,
	    sizeof dec)) > 0) {
		m = (size_t)n;
		if (diag_fp_known(in, dec, m, fp) || (m > 0 &&
		    dec[m - 1] == '\n' && diag_fp_known(in, dec, m - 1, fp)))
			return (dec[m - 1] == '\n' ? DT_P_NEAR_B64_NL :
			    DT_P_NEAR_B64);
	}
	codec_b64_encode(CODEC_B64, tok, len, enc);
	if (diag_fp_known(in, enc, strlen(enc), fp))
		return (DT_P_NEAR_ENCODED);
	memcpy(dec, tok, len);
	dec[len] = '\n';
	codec_b64_encode(CODEC_B64, dec, len + 1, enc);
	if (diag_fp_known(in, enc, strlen(enc), fp))
		return (DT_P_NEAR_ENCODED_NL);
	if (len > 2 && (tok[0] == '"' || tok[0] == '\'') &&
	    tok[len - 1] == tok[0] && diag_fp_known(in, tok + 1, len - 2, fp))
		return (DT_P_NEAR_QUOTES);
	return (-1);
}

/* A well-formed bearer header whose token matched nothing: a user JWT,
 * or a token near a configured one, or just another string. */
static void
diag_auth_unknown(struct diag_ctx *x, const char *tok, size_t tlen)
{
	const struct diag_input	*in = x->in;
	char			 fp[CRYPTO_FP_LEN], shape[160], *ev;
	size_t			 n;
	int			 near;

	if (diag_user_jwt(tok, tlen)) {
		DIAG_SAY0(x->res, DT_AUTH_USER_JWT, diag_fmt("token %s is a "
		    "user JWT", crypto_fingerprint(tok, tlen, fp)));
		return;
	}
	/*
	 * The configured tokens' fingerprints stay in the start-up log
	 * (the operator's); the token sent is shown keyed, so that
	 * attempts of this run can be told apart.
	 */
	n = diag_ntokens(in);
	near = diag_token_near(in, tok, tlen, fp);
	diag_token_shape(tok, tlen, n > 0, shape, sizeof shape);
	ev = n == 1 ? diag_fmt("sent %s, which does not match the one "
	    "configured token", shape) :
	    n > 1 ? diag_fmt("sent %s, which matches none of the %zu "
	    "configured tokens", shape, n) :
	    diag_fmt("sent %s; no service token is configured", shape);
	if (near == -1)
		DIAG_SAY(x->res, n > 0 ? DT_AUTH_UNKNOWN :
		    DT_AUTH_UNKNOWN_NONE, ev, "");
	else
		DIAG_SAY(x->res, n > 0 ? DT_AUTH_UNKNOWN :
		    DT_AUTH_UNKNOWN_NONE, ev, DIAG_PART(near), fp);
}

/* A header that is not ^Bearer[ ]+(\S+)$ (AUTH_MISSING): what it is
 * instead, by shape, never by its text. */
static void
diag_auth_malformed(struct diag_ctx *x, const char *h)
{
	const char	*p, *tok;
	char		 why[512], shape[160];
	size_t		 len, words, i;

	why[0] = '\0';
	if (strncasecmp(h, "bearer", 6) == 0) {
		p = h + 6;
		if (*p == '\0' || strspn(p, " ") == strlen(p)) {
			snprintf(why, sizeof why, "'Bearer' with no token "
			    "after "
			    "it: the secret key exists but is empty");
		} else if (*p != ' ') {
			snprintf(why, sizeof why, "'Bearer' not followed by a "
			    "space");
		} else {
			for (tok = p; *tok == ' '; tok++)
				;
			len = strcspn(tok, " \t");
			diag_token_shape(tok, len, 1, shape, sizeof shape);
			words = diag_words(tok + len);
			snprintf(why, sizeof why, "Bearer %s followed by %zu "
			    "more word%s: the token must be the last and only "
			    "thing after 'Bearer '", shape, words,
			    words == 1 ? "" : "s");
		}
	} else if (strchr(h, ' ') == NULL) {
		diag_token_shape(h, strlen(h), 1, shape, sizeof shape);
		snprintf(why, sizeof why, "a bare token %s without the "
		    "Bearer scheme", shape);
	} else {
		/* Another scheme is named only in our own spelling; an
		 * unknown first word may be the token itself. */
		len = strcspn(h, " ");
		for (i = 0; i < DIAG_NSCHEMES; i++)
			if (strlen(diag_schemes[i]) == len &&
			    strncasecmp(h, diag_schemes[i], len) == 0)
				break;
		if (i < DIAG_NSCHEMES)
			snprintf(why, sizeof why, "the scheme '%s' instead of "
			    "Bearer", diag_schemes[i]);
		else {
			diag_token_shape(h, len, 1, shape, sizeof shape);
			words = diag_words(h + len);
			snprintf(why, sizeof why, "%s followed by %zu more "
			    "word%s where 'Bearer <token>' belongs", shape,
			    words, words == 1 ? "" : "s");
		}
	}
	DIAG_SAY0(x->res, DT_AUTH_MALFORMED, diag_fmt("Authorization: %s",
	    why));
}

void
diag_auth(struct diag_ctx *x)
{
	const struct diag_input	*in = x->in;
	const char		*h = in->authorization, *tok;
	char			 fp[CRYPTO_FP_LEN], shape[160], *t, *ref;
	size_t			 tlen, klen;

	if (!in->auth_checked)
		return;
	if (in->auth == AUTH_OK) {
		if (in->who != NULL && in->who->type == PRINCIPAL_USER &&
		    x->post && x->create)
			DIAG_SAY0(x->res, DT_AUTH_USER_TOKEN,
			    diag_fmt("token %s is the user token of %s",
			    diag_presented_fp(h, fp), in->who->subject ?
			    in->who->subject : "a user"));
		return;
	}
	if (in->auth == AUTH_INVALID) {
		/* A user JWT that failed verification; the answer says so,
		 * and only a sender needs to hear that it is the wrong kind
		 * of token anyway. */
		if (!x->post || !x->create)
			return;
		DIAG_SAY0(x->res, DT_AUTH_USER_INVALID,
		    diag_fmt("token %s is a user JWT",
		    diag_presented_fp(h, fp)));
		return;
	}
	if (in->auth == AUTH_RESTRICTED) {
		DIAG_SAY0(x->res, DT_AUTH_RESTRICTED, diag_fmt("token %s",
		    diag_presented_fp(h, fp)));
		return;
	}
	if (h == NULL) {
		DIAG_SAY0(x->res, DT_AUTH_MISSING,
		    xstrdup("no Authorization header"));
		return;
	}
	if (strncasecmp(h, "basic", 5) == 0 && (h[5] == ' ' || h[5] == '\0')) {
		DIAG_SAY0(x->res, DT_AUTH_BASIC,
		    xstrdup("Authorization: Basic <credentials hidden>"));
		return;
	}
	tok = diag_auth_token(h, &tlen);
	if (strstr(h, "{{") != NULL) {
		/* Only a whole template is shown: text around or after an
		 * unclosed {{ may be a real token. */
		if (diag_is_template(tok, tlen)) {
			t = diag_escape((const unsigned char *)tok,
			    tlen < 80 ? tlen : 80);
			ref = diag_fmt("Authorization contains %s%s", t,
			    tlen > 80 ? "..." : "");
			free(t);
		} else {
			diag_token_shape(tok, tlen, 1, shape, sizeof shape);
			ref = diag_fmt("Authorization: %s%s, not one whole "
			    "{{ ... }}", tok != h ? "Bearer " : "", shape);
		}
		DIAG_SAY0(x->res, DT_AUTH_TEMPLATE, ref);
		return;
	}
	if ((klen = diag_ref_key(tok, tlen)) != 0) {
		/* The whole token is a reference Argo CD left as written:
		 * it names a secret key, it is not one. */
		if (klen > 80)
			klen = 80;
		ref = diag_fmt("$%.*s", (int)klen, tok + 1);
		t = diag_fmt("%.*s%s", (int)(tlen < 80 ? tlen : 80), tok,
		    tlen > 80 ? "..." : "");
		DIAG_SAY(x->res, DT_AUTH_UNRESOLVED, diag_fmt("Authorization: "
		    "%s%s", tok != h ? "Bearer " : "", t), t,
		    in->auth == AUTH_ILLEGAL ? "Illegal token" :
		    "Missing credentials", ref, ref + 1, ref + 1);
		free(t);
		free(ref);
		return;
	}
	if (in->auth == AUTH_ILLEGAL)
		diag_auth_unknown(x, tok, tlen);
	else
		diag_auth_malformed(x, h);
}
