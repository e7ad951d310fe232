/*
 * client.h: the assertion API from the command line (README.md, "Asserting deliveries"):
 * `notimock wait`, `list`, `reset` and `cursor` talk to a running notimock
 * over HTTP(S) with libevent's HTTP client.
 *
 * Each takes argv from its command word on and returns the exit status:
 * 0 success, 1 (wait only) timed out, 2 usage, connection or server errors.
 */
#ifndef NOTIMOCK_CLIENT_H
#define NOTIMOCK_CLIENT_H

int	client_wait(int argc, char **argv);
int	client_list(int argc, char **argv);
int	client_reset(int argc, char **argv);
int	client_cursor(int argc, char **argv);
/* `notimock ready`: 0 ready, 1 answered but not ready, 2 usage/connection. */
int	client_ready(int argc, char **argv);
/* `notimock fingerprint`: the server's keyed fingerprint of the token on
 * stdin (POST /mock/fingerprint). */
int	client_fingerprint(int argc, char **argv);
/* `notimock ca`: print the running server's CA (GET /mock/ca.pem). */
int	client_ca(int argc, char **argv);
/* The CA PEM of the server at url (GET /mock/ca.pem), for other commands;
 * caller frees.  NULL after printing why, as "notimock <name>: ...". */
char	*client_get_ca(const char *name, const char *url, const char *cacert,
	    const char *token);
/* `notimock fault add | list | clear`: /mock/faults (fault.c). */
int	client_fault(int argc, char **argv);

/* POST json to route at url (its path prefix kept), for other commands.
 * Returns the status with the body in *reply (caller frees), or -1 after
 * printing why there is none, as "notimock <name>: ...". */
int	client_post_json(const char *name, const char *url, const char *cacert,
	    const char *token, const char *route, const char *json,
	    char **reply);
/* Does the https server at url present a certificate that verifies against
 * cafile for the name host (not the URL's host: the name Argo CD uses)?
 * 1 yes, 0 no (mbedTLS's reason in why), -1 could not ask (printed, or
 * url is not https). */
int	client_tls_verifies(const char *name, const char *url,
	    const char *cafile, const char *host, char *why, size_t whylen);

#endif
