#!/usr/bin/env bash
# `make up`: a local cluster, the operator installed by Helm, and a sample model and instance;
# then how to reach it and watch it. Idempotent: re-running upgrades in place.
#
# usage: [CLUSTER=embedded] hack/up.sh
#
# Phases, each announced with the time since the start:
#   1. build     everything slow (Go binaries, debootstrap, wheels, images, helm), cached outside
#                the repository; long steps report progress every few seconds. Nothing before
#                this phase's end waits on a deadline, so a cold machine succeeds the first time.
#   2. cluster   the cluster starts; readiness deadlines begin here
#   3. add-ons   CoreDNS (where the cluster has none), metrics-server, CloudNativePG with a
#                PostgreSQL image: what scaled instances need (PIM_ADDONS=0 leaves them out)
#   4. operator  helm upgrade --install into pim-system
#   5. sample    examples/user-management.yaml, waited for until Ready
# Each CLUSTER is a provider file defining provider::build, ::up, ::addons, ::helm_args, ::reach, ::down
# (see hack/cluster/provider.sh, the embedded cluster's); hack/down.sh undoes it.
set -euo pipefail
PIM_LOG_SCOPE=up
# shellcheck source=hack/lib/init.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/init.sh"
cd "$PIM_REPO"
NS=${PIM_NAMESPACE:-pim-demo}
CLUSTER=${CLUSTER:-embedded}
case $CLUSTER in
  embedded) provider=$PIM_HACK/cluster/provider.sh ;;
  *) log::die "CLUSTER=$CLUSTER: unknown (known: embedded)" ;;
esac
# shellcheck source=hack/cluster/provider.sh
. "$provider"

# pods NS: LOG_PROGRESS view of a namespace's pods while helm or kubectl waits ("name Status").
pods() { kubectl get pods -n "$1" --no-headers 2>/dev/null | awk '{ printf "%s%s %s", sep, $1, $3; sep = ", " }'; }
operator_pods() { pods pim-system; }
sample_pods() { pods "$NS"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pim-up.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(log::now)
log::phase "build ($CLUSTER cluster): binaries, images and tools, cached in $PIM_CACHE_DIR"
provider::build
log::phase_end

log::phase "cluster ($CLUSTER)"
provider::up
log::phase_end

if [ "${PIM_ADDONS:-1}" = 1 ]; then
  log::phase "add-ons: CoreDNS, metrics-server, CloudNativePG with a PostgreSQL image (PIM_ADDONS=0 skips)"
  provider::addons
  log::phase_end
fi

log::phase "operator (helm upgrade --install into pim-system)"
mapfile -t helm_args < <(provider::helm_args)
LOG_PROGRESS=operator_pods log::run "helm install" "$work/helm.log" \
  "$PIM_HACK/helm.sh" upgrade --install pim-operator deploy/helm/pim-operator \
  --namespace pim-system --create-namespace --wait --timeout 5m "${helm_args[@]}"
log::phase_end

log::phase "sample model and instance (examples/user-management.yaml) in namespace $NS"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -n "$NS" -f examples/user-management.yaml >&2
LOG_PROGRESS=sample_pods log::run "the sample instance to be Ready" "$work/wait.log" \
  kubectl wait -n "$NS" --for=condition=Ready pi/users --timeout=5m
log::phase_end

url=$(kubectl get -n "$NS" pi users -o jsonpath='{.status.url}')
log::info "up in $(log::human "$(log::since "$start")")"
cat <<MSG

pim-operator is up, and the sample instance is Ready.

  export KUBECONFIG=$KUBECONFIG
  kubectl get pim -n $NS                     # the model and the instance
  kubectl get pi users -n $NS -o yaml        # status: conditions, health, metrics
  kubectl get events -n $NS --watch          # what the operator does

The instance (in-cluster URL $url) from this machine:
$(provider::reach "$NS" users)

Stop everything with: make down
MSG
