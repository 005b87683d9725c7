#!/usr/bin/env bash
# `make up`: the local cluster with a real node, the operator installed by Helm, and a sample
# model and instance; then how to reach it and watch it. Idempotent: re-running upgrades in place.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
DIR=${PIM_CLUSTER_DIR:-$repo/.cluster}
NS=${PIM_NAMESPACE:-pim-demo}
say() { printf '\n==> %s\n' "$*"; }

say "cluster (control plane + real node) in $DIR"
PIM_CLUSTER_NODE=1 hack/cluster/up.sh "$DIR"
# shellcheck disable=SC1091
. "$DIR/cluster.env"
# shellcheck source=hack/cluster/node/settings.sh
. hack/cluster/node/settings.sh
export KUBECONFIG
kubectl=(kubectl --kubeconfig "$KUBECONFIG")

say "operator (helm install into pim-system)"
hack/helm.sh upgrade --install pim-operator deploy/helm/pim-operator \
  --namespace pim-system --create-namespace --wait --timeout 5m \
  --set probeInterval=10 --set "probeNetworks=$POD_CIDR"

say "sample model and instance (examples/user-management.yaml) in namespace $NS"
"${kubectl[@]}" create namespace "$NS" --dry-run=client -o yaml | "${kubectl[@]}" apply -f - >/dev/null
"${kubectl[@]}" apply -n "$NS" -f examples/user-management.yaml
"${kubectl[@]}" wait -n "$NS" --for=condition=Ready pi/users --timeout=5m

url=$("${kubectl[@]}" get -n "$NS" pi users -o jsonpath='{.status.url}')
vip=$("${kubectl[@]}" get -n "$NS" svc users -o jsonpath='{.spec.clusterIP}:{.spec.ports[0].port}')
node_port=$("${kubectl[@]}" get -n "$NS" svc users -o jsonpath='{.spec.ports[0].nodePort}')
cat <<MSG

pim-operator is up, and the sample instance is Ready.

  export KUBECONFIG=$KUBECONFIG
  kubectl get pim -n $NS                     # the model and the instance
  kubectl get pi users -n $NS -o yaml        # status: conditions, health, metrics
  kubectl get events -n $NS --watch          # what the operator does

The instance (in-cluster URL $url) from this machine:
  curl -s http://$vip/api/v1/users
  curl -s -X POST http://$vip/api/v1/teams -H 'content-type: application/json' -d '{"name":"platform"}'
  curl -s http://$NODE_IP:$node_port/docs   # the NodePort on the node address
  open the API docs: http://$vip/docs

Stop everything with: make down
MSG
