/*
 * cluster.c: `notimock ca create`, the CA material for a Secret.
 *
 * The key is made by tls.c (which owns mbedTLS) and never leaves this
 * process except into the files or the manifest the user asked for.  YAML
 * is written here as text (libyaml is config.c's, and only reads): values
 * that could need quoting are checked against Kubernetes' name rules
 * first, and PEM goes out as block scalars.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "tls.h"
#include "xmalloc.h"

#define CLUSTER_CA_NAME		"notimock-ca"
#define CLUSTER_NAMESPACE	"notimock"

static const char cluster_ca_usage[] =
    "usage: notimock ca create --out DIR\n"
    "       notimock ca create --secret [--name NAME] [--namespace NS]\n"
    "Make a new CA (EC P-256, ten years) for --tls-ca-cert/--tls-ca-key:\n"
    "DIR/tls.crt and DIR/tls.key (mode 0600, never overwritten), or a\n"
    "kubernetes.io/tls Secret manifest on stdout (default name " CLUSTER_CA_NAME
    ",\n"
    "namespace " CLUSTER_NAMESPACE ").\n";

/* A DNS-1123 subdomain (Kubernetes object and namespace names), which
 * also makes it safe as a plain YAML scalar. */
static int
cluster_valid_name(const char *s)
{
	size_t	i, len = strlen(s);

	if (len == 0 || len > 253)
		return (0);
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '.'))
			return (0);
	return (s[0] != '-' && s[0] != '.' && s[len - 1] != '-' &&
	    s[len - 1] != '.');
}

/* Text as a literal block scalar, each line indented by `indent`. */
static void
cluster_block(FILE *f, int indent, const char *text)
{
	const char	*p, *nl;

	fprintf(f, "|\n");
	for (p = text; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL) {
			fprintf(f, "%*s%s\n", indent, "", p);
			break;
		}
		if (nl > p)
			fprintf(f, "%*s%.*s\n", indent, "", (int)(nl - p), p);
		else
			fputc('\n', f);
	}
}

/* Create dir/name with data; never replaces a file. */
static int
cluster_write_new(const char *dir, const char *name, const char *data,
    mode_t mode)
{
	char	*path;
	size_t	 len = strlen(data), off = 0;
	ssize_t	 n;
	int	 fd, saved;

	xasprintf(&path, "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode)) == -1) {
		fprintf(stderr, "notimock ca create: %s: %s%s\n", path,
		    strerror(errno), errno == EEXIST ? " (remove it, or "
		    "choose another --out)" : "");
		free(path);
		return (-1);
	}
	while (off < len) {
		if ((n = write(fd, data + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, mode) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	free(path);
	return (0);
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(path);
	fprintf(stderr, "notimock ca create: %s: %s\n", path,
	    strerror(saved));
	free(path);
	return (-1);
}

int
cluster_ca_create(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "secret", no_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'N' },
		{ "namespace", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*out = NULL, *name = CLUSTER_CA_NAME;
	const char	*ns = CLUSTER_NAMESPACE;
	char		*crt = NULL, *key = NULL, *cause = NULL, *path;
	int		 ch, secret = 0, named = 0, rv = 1;

	optind = 1;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 's':
			secret = 1;
			break;
		case 'N':
			name = optarg;
			named = 1;
			break;
		case 'S':
			ns = optarg;
			named = 1;
			break;
		case 'h':
			fputs(cluster_ca_usage, stdout);
			return (0);
		default:
			fputs(cluster_ca_usage, stderr);
			return (1);
		}
	}
	if (optind < argc || (out == NULL) == !secret || (named && !secret)) {
		if (optind < argc)
			fprintf(stderr, "notimock ca create: unexpected "
			    "argument '%s'\n", argv[optind]);
		else
			fprintf(stderr, "notimock ca create: give either "
			    "--out DIR or --secret%s\n", named ? " (--name and "
			    "--namespace go with --secret)" : "");
		fputs(cluster_ca_usage, stderr);
		return (1);
	}
	if (secret && (!cluster_valid_name(name) || !cluster_valid_name(ns))) {
		fprintf(stderr, "notimock ca create: '%s' is not a Kubernetes "
		    "name (lower-case letters, digits, '-' and '.')\n",
		    cluster_valid_name(name) ? ns : name);
		return (1);
	}
	if (tls_ca_create(&crt, &key, &cause) == -1) {
		fprintf(stderr, "notimock ca create: %s\n", cause);
		free(cause);
		return (1);
	}
	if (secret) {
		printf("# A CA for notimock (notimock ca create --secret): "
		    "notimock issues its\n"
		    "# serving certificate from it (--tls-ca-cert, "
		    "--tls-ca-key).  It holds the CA's\n"
		    "# private key: keep it where only the cluster can "
		    "read it.\n"
		    "apiVersion: v1\n"
		    "kind: Secret\n"
		    "metadata:\n"
		    "  name: %s\n"
		    "  namespace: %s\n"
		    "  labels:\n"
		    "    app.kubernetes.io/name: notimock\n"
		    "type: kubernetes.io/tls\n"
		    "stringData:\n"
		    "  tls.crt: ", name, ns);
		cluster_block(stdout, 4, crt);
		printf("  tls.key: ");
		cluster_block(stdout, 4, key);
		if (fflush(stdout) == EOF) {
			fprintf(stderr, "notimock ca create: stdout: %s\n",
			    strerror(errno));
			goto out;
		}
		rv = 0;
		goto out;
	}
	if (mkdir(out, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "notimock ca create: %s: %s\n", out,
		    strerror(errno));
		goto out;
	}
	if (cluster_write_new(out, "tls.key", key, 0600) == -1)
		goto out;
	if (cluster_write_new(out, "tls.crt", crt, 0644) == -1) {
		/* Half a pair is worse than none. */
		xasprintf(&path, "%s/tls.key", out);
		unlink(path);
		free(path);
		goto out;
	}
	fprintf(stderr, "notimock ca create: wrote %s/tls.crt and %s/tls.key\n",
	    out, out);
	rv = 0;
out:
	free(crt);
	if (key != NULL) {
		memset(key, 0, strlen(key));
		free(key);
	}
	return (rv);
}
