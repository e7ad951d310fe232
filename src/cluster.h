/*
 * cluster.h: what running notimock in a cluster needs from the command
 * line (README.md, "In a kind cluster"): `notimock ca create` makes the CA
 * material a Kubernetes Secret holds; `notimock argocd-config` prints what
 * Argo CD needs to send notimock notifications over verified HTTPS.
 *
 * Each takes argv from its command word on and returns the exit status:
 * 0 success, 1 usage or failure.
 */
#ifndef NOTIMOCK_CLUSTER_H
#define NOTIMOCK_CLUSTER_H

int	cluster_ca_create(int argc, char **argv);
/* `notimock argocd-config`: Argo CD's side of the deployment (the files of
 * docker/kind/argocd/ with --out-dir). */
int	cluster_argocd_config(int argc, char **argv);

#endif
