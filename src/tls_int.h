/*
 * tls_int.h: what tls.c (connections, the listener, the client) and
 * tls_ca.c (the certificates the server presents) share, and nothing else
 * includes.  Both files use mbedTLS; see tls.h for who owns what.
 */
#ifndef NOTIMOCK_TLS_INT_H
#define NOTIMOCK_TLS_INT_H

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/x509_crt.h>

#include "tls.h"

/* GeneralName tags (RFC 5280), context-specific and primitive. */
#define TLS_SAN_DNS	2
#define TLS_SAN_IP	7

/*
 * What a server or a client shares with its connections: random generator,
 * ssl config, certificates.  Every connection holds a reference, so the
 * owner may be freed before evhttp's last bufferevent is finalized.
 */
struct tls_cfg {
	mbedtls_entropy_context	 cf_entropy;
	mbedtls_ctr_drbg_context cf_drbg;
	mbedtls_ssl_config	 cf_conf;
	mbedtls_ssl_cache_context cf_cache;
	mbedtls_x509_crt	 cf_chain;	/* ours, or the trusted CAs */
	mbedtls_pk_context	 cf_key;
	int			 cf_client;
	unsigned int		 cf_refs;
	/* Client side: why the last connection failed, for the CLI to
	 * explain (a command prints no server-style log lines). */
	enum tls_client_failure	 cf_fail;
	char			 cf_why[512];
};

/* A name for the subjectAltName extension. */
struct tls_san {
	int			 san_tag;	/* TLS_SAN_DNS or TLS_SAN_IP */
	size_t			 san_len;
	unsigned char		 san_data[256];
};

/* tls.c: *cause = "<what>: <mbedTLS's text for r>". */
void	 tls_cause(char **cause, int r, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* tls.c: a seeded random generator and empty configuration, one
 * reference (NULL and *cause on failure); drop it with tls_cfg_unref. */
struct tls_cfg	*tls_cfg_new(int client, char **cause);
void	 tls_cfg_unref(struct tls_cfg *);

/* tls_ca.c: a DNS name or an IP literal ("::1" or "[::1]") as a SAN. */
int	 tls_san_parse(const char *s, struct tls_san *san, char **cause);
/* tls_ca.c: the serving certificate and key into cf as o asks (given,
 * issued from a given CA, or generated in o->state_dir unless check_only),
 * and the PEM clients should trust in *ca_pem (caller frees).  0, or -1
 * with *cause. */
int	 tls_ca_serving(struct tls_cfg *cf, const struct tls_server_options *o,
	    int check_only, char **ca_pem, char **cause);
/* tls_ca.c: log the certificate served: names, expiry, fingerprint. */
void	 tls_log_cert(const mbedtls_x509_crt *crt);

#endif
