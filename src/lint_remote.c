/*
 * lint_remote.c: `notimock lint --url` asks the notimock Argo CD will send
 * to (lint_remote.h).
 *
 * The token check never sends the token: it sends a fresh random key and
 * HMAC-SHA256(key, SHA-256(token)); the server, which keeps only its
 * tokens' SHA-256, computes the same for each and answers whether one
 * matches (POST /mock/token-check).  The TLS check makes a real handshake
 * with argocd-tls-certs-cm's entry as the only trust, verifying the name
 * Argo CD uses, as Argo CD does (spec section 5); over plain http it
 * compares the entry with the server's CA (/mock/ca.pem).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "client.h"
#include "codec.h"
#include "crypto.h"
#include "json.h"
#include "lint_argocd.h"
#include "lint_remote.h"
#include "util.h"
#include "xmalloc.h"

int
lint_remote_token(const struct lint_argocd_opts *o, const char *token,
    size_t len, const char *service, char **message, char **evidence,
    char **fix)
{
	unsigned char	 key[32], d[CRYPTO_SHA256_LEN], mac[CRYPTO_SHA256_LEN];
	char		 hk[65], hm[65], *body, *reply = NULL, err[JSON_ERRLEN];
	struct json	*r;
	int		 status, accepted, found = 0;
	double		 n;

	util_random(key, sizeof key);
	crypto_sha256(token, len, d);
	crypto_hmac_sha256(key, sizeof key, d, sizeof d, mac);
	codec_hex_encode(key, sizeof key, hk);
	codec_hex_encode(mac, sizeof mac, hm);
	xasprintf(&body, "{\"key\":\"%s\",\"mac\":\"%s\"}", hk, hm);
	status = client_post_json("lint", o->url, o->cacert, o->admin_token,
	    "/mock/token-check", body, &reply);
	free(body);
	if (status == -1)
		return (0);
	if (status != 200 || (r = json_parse(reply, strlen(reply), 0, err,
	    sizeof err, NULL)) == NULL) {
		fprintf(stderr, "notimock lint: %s did not answer the token "
		    "check (HTTP %d): tokens not checked\n", o->url, status);
		free(reply);
		return (0);
	}
	accepted = json_type(json_get(r, "accepted")) == JSON_TRUE;
	n = json_number(json_get(r, "tokens"));
	if (!accepted) {
		xasprintf(message, "The token that service.%s sends (from "
		    "argocd-notifications-secret) is not one the notimock at "
		    "%s accepts: every notification gets 401 \"Illegal "
		    "token\".", service, o->url);
		xasprintf(evidence, "token of %zu characters, compared by "
		    "keyed fingerprint; notimock has %.0f token%s", len, n,
		    n == 1 ? "" : "s");
		*fix = xstrdup("Put the same string in the secret and in "
		    "notimock (--token, or backend.auth.externalAccess of its "
		    "--config).  Tokens are compared verbatim: a value stored "
		    "with `echo ... | base64` has a newline, one stored under "
		    "data: must be base64 once, not twice.");
		found = 1;
	}
	json_free(r);
	free(reply);
	return (found);
}

/* The base64 of each certificate in a PEM text, whitespace removed,
 * concatenated with '|' between them. */
static char *
lr_pem_bodies(const char *pem)
{
	const char	*p, *e;
	char		*out;
	size_t		 n = 0;

	out = xmalloc(strlen(pem) + 2);
	for (p = pem; (p = strstr(p, "-----BEGIN CERTIFICATE-----")) != NULL;
	    p = e) {
		p += 27;
		if ((e = strstr(p, "-----END CERTIFICATE-----")) == NULL)
			break;
		for (; p < e; p++)
			if (*p != '\n' && *p != '\r' && *p != ' ' && *p != '\t')
				out[n++] = *p;
		out[n++] = '|';
	}
	out[n] = '\0';
	return (out);
}

int
lint_remote_tls(const struct lint_argocd_opts *o, const char *pem,
    const char *host, const char *service, char **message, char **evidence,
    char **fix)
{
	char	 path[] = "/tmp/notimock-lint-ca.XXXXXX", why[256];
	char	*ca, *mine, *theirs, *one;
	size_t	 len = strlen(pem);
	int	 fd, rc = 0, v;

	if (strncasecmp(o->url, "https://", 8) == 0) {
		if ((fd = mkstemp(path)) == -1) {
			fprintf(stderr, "notimock lint: %s: %s\n", path,
			    strerror(errno));
			return (0);
		}
		if (write(fd, pem, len) != (ssize_t)len) {
			close(fd);
			unlink(path);
			return (0);
		}
		close(fd);
		v = client_tls_verifies("lint", o->url, path, host, why,
		    sizeof why);
		unlink(path);
		if (v != 0)
			return (0);
		xasprintf(message, "The argocd-tls-certs-cm entry for %s does "
		    "not verify the certificate of the notimock at %s: Argo "
		    "CD trusts only that entry for this host, and every send "
		    "of service.%s fails (\"x509: certificate signed by "
		    "unknown authority\"), without a retry.", host, o->url,
		    service);
		xasprintf(evidence, "TLS handshake as %s with the entry as "
		    "the only CA: %s", host, why[0] != '\0' ? why :
		    "verification failed");
		xasprintf(fix, "Store notimock's CA under the host name:\n  "
		    "notimock ca --url %s > ca.pem\n  kubectl -n argocd create "
		    "configmap argocd-tls-certs-cm --from-file=%s=ca.pem "
		    "--dry-run=client -o yaml | kubectl apply -f -\nand make "
		    "sure notimock's certificate names %s (--tls-san), from a "
		    "CA that outlives the pod.", o->url, host, host);
		return (1);
	}
	/* Plain http (a port-forward): compare the entry with its CA. */
	if ((ca = client_get_ca("lint", o->url, o->cacert,
	    o->admin_token)) == NULL)
		return (0);
	mine = lr_pem_bodies(pem);
	theirs = lr_pem_bodies(ca);
	one = strchr(theirs, '|');
	if (one != NULL)
		*one = '\0';
	if (*theirs != '\0' && strstr(mine, theirs) == NULL) {
		xasprintf(message, "The argocd-tls-certs-cm entry for %s is not "
		    "the CA of the notimock at %s: Argo CD trusts only that "
		    "entry for this host, and every send of service.%s fails "
		    "verification, without a retry.", host, o->url, service);
		xasprintf(evidence, "the entry holds no copy of %s/mock/ca.pem",
		    o->url);
		xasprintf(fix, "Store notimock's CA under the host name:\n  "
		    "notimock ca --url %s > ca.pem\n  kubectl -n argocd create "
		    "configmap argocd-tls-certs-cm --from-file=%s=ca.pem "
		    "--dry-run=client -o yaml | kubectl apply -f -", o->url,
		    host);
		rc = 1;
	}
	free(mine);
	free(theirs);
	free(ca);
	return (rc);
}
