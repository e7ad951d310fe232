/*
 * tls-new: Argo CD's way of sending, as a load: every request on a new TCP
 * connection with a full TLS handshake (the controller builds a fresh
 * transport per notification, so it never resumes a session), then
 * "Connection: close".  CONNS threads loop for SECONDS; each prints
 * nothing; the total line is
 *   requests N errors N non2xx N rps R p50_ms A p99_ms B hs_p50_ms C
 * where hs is the time from connect() to the end of the handshake.
 * By hand only (tests/bench/tls-new runs it); mbedTLS, as the server.
 *
 *   tls-new HOST PORT SECONDS CONNS GET|POST PATH [BODY [TOKEN]]
 *   tls-new --primitives N
 *
 * The second form times what bounds a server's full handshake in this
 * mbedTLS, one thread, N times each: the ECDHE share and secret (X25519,
 * which Go offers first, and P-256) and the ECDSA P-256 signature of the
 * key exchange (the certificate notimock makes is P-256).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/sha256.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#define MAXLAT	(1 << 20)

static const mbedtls_ecp_group_id curves[] = {
	MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
	MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_SECP521R1, MBEDTLS_ECP_DP_NONE
};

static const char	*host, *port, *method, *path, *body, *token;
static double		 until;
static char		 request[8192];

struct worker {
	pthread_t	 t;
	unsigned long	 n, errors, non2xx;
	double		*lat, *hs;
	size_t		 nlat, cap;
};

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* One connection, one request, a full handshake (nothing resumed). */
static int
one(mbedtls_ssl_config *conf, double *hs, int *status)
{
	mbedtls_net_context	fd;
	mbedtls_ssl_context	ssl;
	unsigned char		buf[16384];
	size_t			off = 0, len = strlen(request);
	double			t0 = now();
	int			r, rv = -1;

	mbedtls_net_init(&fd);
	mbedtls_ssl_init(&ssl);
	if (mbedtls_net_connect(&fd, host, port, MBEDTLS_NET_PROTO_TCP) != 0 ||
	    mbedtls_ssl_setup(&ssl, conf) != 0 ||
	    mbedtls_ssl_set_hostname(&ssl, "localhost") != 0)
		goto out;
	mbedtls_ssl_set_bio(&ssl, &fd, mbedtls_net_send, mbedtls_net_recv,
	    NULL);
	while ((r = mbedtls_ssl_handshake(&ssl)) != 0)
		if (r != MBEDTLS_ERR_SSL_WANT_READ &&
		    r != MBEDTLS_ERR_SSL_WANT_WRITE)
			goto out;
	*hs = now() - t0;
	while (off < len) {
		if ((r = mbedtls_ssl_write(&ssl, (const unsigned char *)
		    request + off, len - off)) <= 0)
			goto out;
		off += (size_t)r;
	}
	/* Read to the server's close (Connection: close). */
	off = 0;
	for (;;) {
		r = mbedtls_ssl_read(&ssl, buf + off, sizeof buf - 1 - off);
		if (r > 0) {
			off += (size_t)r;
			if (off == sizeof buf - 1)
				off = 64;	/* keep the status line */
			continue;
		}
		if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
		    r == MBEDTLS_ERR_NET_CONN_RESET)
			break;
		if (r != MBEDTLS_ERR_SSL_WANT_READ)
			goto out;
	}
	buf[off] = '\0';
	if (off < 12 || sscanf((char *)buf, "HTTP/1.%*c %d", status) != 1)
		goto out;
	rv = 0;
out:
	mbedtls_ssl_close_notify(&ssl);
	mbedtls_net_free(&fd);
	mbedtls_ssl_free(&ssl);
	return (rv);
}

static void *
work(void *arg)
{
	struct worker		*w = arg;
	mbedtls_entropy_context	 ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config	 conf;
	double			 t0, hs = 0;
	int			 status;

	mbedtls_entropy_init(&ent);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_ssl_config_init(&conf);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL,
	    0) != 0 || mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0) {
		fprintf(stderr, "tls-new: mbedTLS set-up failed\n");
		exit(2);
	}
	/* Like a client that trusts the server's CA, minus the chain check
	 * (its cost is the client's, not the server's). */
	mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
	/* Go's order, as Argo CD's controller offers them. */
	mbedtls_ssl_conf_curves(&conf, curves);
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
	while ((t0 = now()) < until) {
		if (one(&conf, &hs, &status) == -1) {
			w->errors++;
			continue;
		}
		w->n++;
		if (status < 200 || status > 299)
			w->non2xx++;
		if (w->nlat < w->cap) {
			w->hs[w->nlat] = hs;
			w->lat[w->nlat++] = now() - t0;
		}
	}
	mbedtls_ssl_config_free(&conf);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&ent);
	return (NULL);
}

static int
cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

/* Microseconds per ECDHE (share + secret) on grp, and per ECDSA sign. */
static int
primitives(int n)
{
	static const mbedtls_ecp_group_id grps[] = {
		MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1
	};
	static const char	*names[] = { "x25519", "p256" };
	mbedtls_entropy_context	 ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ecdh_context	 a, b;
	mbedtls_ecdsa_context	 key;
	unsigned char		 pub[200], sec[100], hash[32] = { 1 };
	unsigned char		 sig[MBEDTLS_ECDSA_MAX_LEN];
	size_t			 len, slen;
	double			 t0;
	int			 i, g;

	mbedtls_entropy_init(&ent);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0))
		return (2);
	printf("primitives");
	for (g = 0; g < 2; g++) {
		t0 = now();
		for (i = 0; i < n; i++) {
			mbedtls_ecdh_init(&a);
			mbedtls_ecdh_init(&b);
			if (mbedtls_ecdh_setup(&a, grps[g]) ||
			    mbedtls_ecdh_setup(&b, grps[g]) ||
			    mbedtls_ecdh_make_params(&a, &len, pub, sizeof pub,
			    mbedtls_ctr_drbg_random, &drbg) ||
			    mbedtls_ecdh_read_params(&b, &(const unsigned char *)
			    { pub }, pub + len) ||
			    mbedtls_ecdh_make_public(&b, &len, pub, sizeof pub,
			    mbedtls_ctr_drbg_random, &drbg) ||
			    mbedtls_ecdh_read_public(&a, pub, len) ||
			    mbedtls_ecdh_calc_secret(&a, &len, sec, sizeof sec,
			    mbedtls_ctr_drbg_random, &drbg))
				return (2);
			mbedtls_ecdh_free(&a);
			mbedtls_ecdh_free(&b);
		}
		/* Both sides were done: half is one side's share + secret. */
		printf(" ecdhe_%s_us %.0f", names[g], (now() - t0) / n / 2 * 1e6);
	}
	mbedtls_ecdsa_init(&key);
	if (mbedtls_ecdsa_genkey(&key, MBEDTLS_ECP_DP_SECP256R1,
	    mbedtls_ctr_drbg_random, &drbg))
		return (2);
	t0 = now();
	for (i = 0; i < n; i++)
		if (mbedtls_ecdsa_write_signature(&key, MBEDTLS_MD_SHA256, hash,
		    sizeof hash, sig, &slen, mbedtls_ctr_drbg_random, &drbg))
			return (2);
	printf(" ecdsa_p256_sign_us %.0f\n", (now() - t0) / n * 1e6);
	return (0);
}

int
main(int argc, char **argv)
{
	struct worker	*w;
	double		*lat, *hs, secs, t0;
	unsigned long	 n = 0, errors = 0, non2xx = 0;
	size_t		 nlat = 0, i;
	int		 conns, k;

	if (argc == 3 && strcmp(argv[1], "--primitives") == 0)
		return (primitives(atoi(argv[2])));
	if (argc < 7) {
		fprintf(stderr, "usage: tls-new HOST PORT SECONDS CONNS "
		    "GET|POST PATH [BODY [TOKEN]]\n");
		return (2);
	}
	host = argv[1];
	port = argv[2];
	secs = atof(argv[3]);
	conns = atoi(argv[4]);
	method = argv[5];
	path = argv[6];
	body = argc > 7 ? argv[7] : "";
	token = argc > 8 ? argv[8] : NULL;
	snprintf(request, sizeof request, "%s %s HTTP/1.1\r\nHost: localhost"
	    "\r\nUser-Agent: tls-new\r\nConnection: close\r\n%s%s%s"
	    "%sContent-Length: %zu\r\n\r\n%s", method, path,
	    token ? "Authorization: Bearer " : "", token ? token : "",
	    token ? "\r\n" : "", *body ? "Content-Type: application/json\r\n" :
	    "", strlen(body), body);
	w = calloc((size_t)conns, sizeof *w);
	lat = malloc(sizeof *lat * MAXLAT);
	hs = malloc(sizeof *hs * MAXLAT);
	if (w == NULL || lat == NULL || hs == NULL)
		return (2);
	t0 = now();
	until = t0 + secs;
	for (k = 0; k < conns; k++) {
		w[k].cap = MAXLAT / (size_t)conns;
		w[k].lat = malloc(sizeof *w[k].lat * w[k].cap);
		w[k].hs = malloc(sizeof *w[k].hs * w[k].cap);
		if (w[k].lat == NULL || w[k].hs == NULL)
			return (2);
		pthread_create(&w[k].t, NULL, work, &w[k]);
	}
	for (k = 0; k < conns; k++) {
		pthread_join(w[k].t, NULL);
		n += w[k].n;
		errors += w[k].errors;
		non2xx += w[k].non2xx;
		for (i = 0; i < w[k].nlat && nlat < MAXLAT; i++) {
			hs[nlat] = w[k].hs[i];
			lat[nlat++] = w[k].lat[i];
		}
	}
	secs = now() - t0;
	qsort(lat, nlat, sizeof *lat, cmp);
	qsort(hs, nlat, sizeof *hs, cmp);
	printf("requests %lu errors %lu non2xx %lu rps %.1f p50_ms %.2f "
	    "p99_ms %.2f hs_p50_ms %.2f\n", n, errors, non2xx, n / secs,
	    nlat ? lat[nlat / 2] * 1e3 : 0, nlat ? lat[nlat * 99 / 100] * 1e3 :
	    0, nlat ? hs[nlat / 2] * 1e3 : 0);
	return (0);
}
