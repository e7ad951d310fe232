/*
 * tls.h: HTTPS for evhttp and for our HTTP client, with mbedTLS.  Three
 * files include mbedTLS: tls.c (connections: the filter, the listener's
 * and the client's) and tls_ca.c (the certificates the server presents)
 * are the only users of libmbedtls and libmbedx509, with the primitives
 * of libmbedcrypto those need (random generator, keys), and share only
 * tls_int.h; crypto.c uses libmbedcrypto alone, for the application's
 * hashes, fingerprints and ES256 (crypto.h).  HTTP code only ever
 * sees plaintext evbuffers: TLS is a bufferevent filter handed to evhttp
 * through evhttp_set_bevcb() (server) or used with
 * evhttp_connection_base_bufferevent_new() (client).  Design and
 * pitfalls: ../shared/spec/tls-on-libevent.md.
 */
#ifndef NOTIMOCK_TLS_H
#define NOTIMOCK_TLS_H

#include <stddef.h>

struct event_base;
struct bufferevent;
struct evhttp_request;
struct evhttp_connection;
struct tls_server;
struct tls_client;

struct tls_server_options {
	const char	 *cert_file;	/* PEM, or NULL to use the generated one */
	const char	 *key_file;	/* PEM (RSA or EC), with cert_file */
	const char	 *state_dir;	/* where generated CA and leaf live (beside the db) */
	const char	 *ca_cert_file;	/* PEM CA to issue the leaf from, or NULL */
	const char	 *ca_key_file;	/* its private key (never written anywhere) */
	const char	**sans;		/* extra SANs (DNS names or IPs), NULL-terminated */
	int		  handshake_timeout;	/* seconds */
};

/* What tls_server_new() would refuse in the given files (-n): 0, or -1
 * with *cause.  Writes nothing. */
int			 tls_server_check(const struct tls_server_options *,
			    char **cause);
/* Load or generate certificates and set up the mbedTLS server config.
 * Returns NULL and a message in *cause (caller frees) on failure. */
struct tls_server	*tls_server_new(struct event_base *,
			    const struct tls_server_options *, char **cause);
void			 tls_server_free(struct tls_server *);
/* The evhttp_set_bevcb() callback; arg is the struct tls_server.  NULL
 * only when memory runs out (logged): evhttp would then serve cleartext,
 * so the caller must close the connection instead (http.c does). */
struct bufferevent	*tls_server_bevcb(struct event_base *, void *arg);
/* Send close_notify if evcon is a TLS connection whose handshake finished:
 * call it from the connection's close callback (http.c owns it), since
 * evhttp closes without one. */
void			 tls_close_notify(struct evhttp_connection *);
/* The CA certificate (PEM) that clients should trust: the generated CA, or
 * with --tls-cert the last certificate of that chain file.  Borrowed. */
const char		*tls_server_ca_pem(const struct tls_server *);
/* Fresh CA material (EC P-256, like the generated CA), for `notimock ca
 * create`: certificate and key as PEM (caller frees both).  Returns 0, or
 * -1 with *cause. */
int			 tls_ca_create(char **crt_pem, char **key_pem,
			    char **cause);
/* The certificates in pem (NUL-terminated), re-encoded from their DER and
 * nothing else; with want_ca the first must be a CA.  Returns the PEM
 * (caller frees), or NULL with *cause. */
char			*tls_pem_certs(const char *pem, int want_ca,
			    char **cause);

/* Client side, for the CLI (wait/list/reset over https URLs).  Client
 * connections log nothing: tls_client_error() says why the last one
 * failed (*why: mbedTLS's or the system's words) for the command to
 * explain. */
enum tls_client_failure {
	TLS_CLIENT_OK,
	TLS_CLIENT_FAILED,	/* connect or handshake, see *why */
	TLS_CLIENT_UNTRUSTED,	/* the certificate did not verify */
	TLS_CLIENT_NOT_TLS	/* the peer does not speak TLS */
};
enum tls_client_failure	 tls_client_error(const struct tls_client *,
			    const char **why);
struct tls_client	*tls_client_new(const char *cafile, char **cause);
void			 tls_client_free(struct tls_client *);
/* A filter bufferevent that speaks TLS to host (SNI + verification against
 * cafile or the system store); use with evhttp_connection_base_bufferevent_new.
 * NULL (logged) when memory runs out. */
struct bufferevent	*tls_client_bev(struct tls_client *, struct event_base *,
			    const char *host);

/* Process-wide counters of server-side TLS connections. */
struct tls_stats {
	unsigned long long	 opened;	/* accepted (bevcb calls) */
	unsigned long long	 closed;	/* freed; equals opened when idle */
	unsigned long long	 handshakes;	/* completed */
	unsigned long long	 failed;	/* handshakes failed or abandoned */
	unsigned long long	 plain_http;	/* plain HTTP answered with 400 */
};
void			 tls_stats(struct tls_stats *);

/* "mbed TLS 2.28.3", for the start-up log. */
const char		*tls_version(void);

#endif
