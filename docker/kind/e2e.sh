#!/usr/bin/env bash
# docker/kind/e2e.sh: notimock and Argo CD in a kind cluster, and Argo CD's
# "deployed" notification asserted end to end, over verified HTTPS.  The
# example to copy into a CI job that has Docker, kind, kubectl and internet
# access (Argo CD's manifests, the guestbook example repository).
#
#   docker/kind/e2e.sh            # from the repository root
#
# Environment: KIND_CLUSTER (default notimock; created when missing, deleted
# at the end unless KEEP_CLUSTER=1), ARGOCD_VERSION (a tag or branch of
# argoproj/argo-cd, default stable; v2.9+ trusts argocd-tls-certs-cm for
# webhooks), NOTIMOCK_IMAGE (docker-archive, default notimock-image.tar, built
# with docker/build when missing), TIMEOUT (each wait, default 5m).
# No sleeps: every wait is kubectl's or notimock's own.
set -euo pipefail
cd "$(dirname "$0")/../.."

cluster=${KIND_CLUSTER:-notimock}
argocd=${ARGOCD_VERSION:-stable}
image=${NOTIMOCK_IMAGE:-notimock-image.tar}
timeout=${TIMEOUT:-5m}
work=$(mktemp -d)
pf=""
cleanup() {
	if [ -n "$pf" ]; then kill "$pf" 2>/dev/null || true; fi
	rm -rf "$work"
	if [ -z "${KEEP_CLUSTER:-}" ]; then
		kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT
k() { kubectl --context "kind-$cluster" "$@"; }
say() { echo "e2e: $*" >&2; }

# 1. The image (notimock:VERSION) and notimock's client: the image's own
# static binary, which runs on any Linux host.
[ -f "$image" ] || docker/build -o "$image"
for layer in $(tar -tf "$image"); do
	case $layer in *.json | repositories | oci-layout | */) continue ;; esac
	tar -xOf "$image" "$layer" | tar -x -C "$work" notimock 2>/dev/null &&
	    break
done
notimock=$work/notimock
[ -x "$notimock" ] || { say "no /notimock in $image"; exit 1; }

# 2. A cluster with notimock in it.
if ! kind get clusters 2>/dev/null | grep -qx "$cluster"; then
	kind create cluster --name "$cluster" --wait "$timeout"
fi
kind load image-archive "$image" --name "$cluster"
k apply -k docker/kind
k -n notimock rollout status deployment/notimock --timeout "$timeout"

# 3. Argo CD, told about notimock: the webhook, its token, and the CA it
# trusts for notimock.notimock.svc.  The notifications controller is
# restarted so that it reads them now (a ConfigMap volume updates late).
k create namespace argocd --dry-run=client -o yaml | k apply -f -
k -n argocd apply --server-side --force-conflicts -f \
    "https://raw.githubusercontent.com/argoproj/argo-cd/$argocd/manifests/install.yaml"
k apply -f docker/kind/argocd/argocd-notifications-cm.yaml \
    -f docker/kind/argocd/argocd-notifications-secret.yaml \
    -f docker/kind/argocd/argocd-tls-certs-cm.yaml
k -n argocd rollout restart deployment/argocd-notifications-controller
for w in deployment/argocd-notifications-controller \
    deployment/argocd-repo-server statefulset/argocd-application-controller; do
	k -n argocd rollout status "$w" --timeout "$timeout"
done

# 4. notimock's plain port, here.  kubectl says "Forwarding from
# 127.0.0.1:PORT" once it listens (port 0: no clash); then the forward must
# answer `notimock ready` (race-free: no retry loop, no sleep).
mkfifo "$work/pf"
k -n notimock port-forward svc/notimock :7007 >"$work/pf" &
pf=$!
exec 3<"$work/pf"
port=""
while IFS= read -r -t 60 line <&3; do
	case $line in
	"Forwarding from 127.0.0.1:"*)
		port=${line#Forwarding from 127.0.0.1:}
		port=${port%% *}
		break ;;
	esac
done
[ -n "$port" ] || { say "kubectl port-forward did not start"; exit 1; }
cat <&3 >/dev/null &	# keep draining "Handling connection" lines
export NOTIMOCK_URL=http://127.0.0.1:$port
"$notimock" ready --timeout 30s

# 5. The Application (the guide's annotations; automated sync): its first
# sync deploys it, and Argo CD tells "Backstage".
since=$("$notimock" cursor)
k apply -f docker/kind/argocd/application.yaml
"$notimock" wait --since "$since" --entity component:default/guestbook \
    --topic argocd.deployed --status accepted --timeout "$timeout"

# 6. A sync triggered by hand (what a CI job does after a change) notifies
# again.
since=$("$notimock" cursor)
k -n argocd patch application guestbook --type merge -p \
    '{"operation":{"initiatedBy":{"username":"e2e"},"sync":{"revision":"HEAD"}}}'
"$notimock" wait --since "$since" --entity component:default/guestbook \
    --topic argocd.sync.succeeded --status accepted --timeout "$timeout"
say "ok: Argo CD notified notimock over verified HTTPS"
