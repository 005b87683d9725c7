#!/usr/bin/env bash
# The end of `make up` on kind: the sample model and instance (examples/user-management.yaml, a
# NodePort Service on 30080, which kind-config.yaml publishes on 127.0.0.1), Ready and answering
# on 127.0.0.1; then how to reach it and watch it.
set -euo pipefail
# shellcheck source=hack/kind/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
KIND_KUBECONFIG=${KIND_KUBECONFIG:-$repo_root/.kind-kubeconfig}
NS=${PIM_NAMESPACE:-pim-demo}
kubectl=(kubectl --kubeconfig "$KIND_KUBECONFIG")

"${kubectl[@]}" create namespace "$NS" --dry-run=client -o yaml | "${kubectl[@]}" apply -f - >/dev/null
"${kubectl[@]}" apply -n "$NS" -f "$repo_root/examples/user-management.yaml" >/dev/null
log::info "waiting for the sample instance pi/users in namespace $NS to be Ready"
"${kubectl[@]}" wait -n "$NS" --for=condition=Ready pi/users --timeout=5m >/dev/null \
  || log::die "pi/users is not Ready: $("${kubectl[@]}" get pi users -n "$NS" -o jsonpath='{.status.conditions}')"
port=$("${kubectl[@]}" get -n "$NS" svc users -o jsonpath='{.spec.ports[0].nodePort}')
base=http://127.0.0.1:$port
deadline=$((SECONDS + 60))
until curl -fsS -o /dev/null "$base/ready"; do
  [ $SECONDS -lt $deadline ] || log::die "$base/ready does not answer (is port $port published in kind-config.yaml?)"
  sleep 1
done
cat <<MSG

pim-operator is up on kind, and the sample instance answers on $base.

  export KUBECONFIG=$KIND_KUBECONFIG
  kubectl get pim -n $NS                     # the model and the instance
  kubectl get pi users -n $NS -o yaml        # status: conditions, health, metrics
  kubectl get events -n $NS --watch          # what the operator does

The instance, through the NodePort kind publishes on this machine:
  curl -s $base/api/v1/users
  curl -s -X POST $base/api/v1/teams -H 'content-type: application/json' -d '{"name":"platform"}'
  open the API docs: $base/docs
Any instance, NodePort or not:
  kubectl port-forward -n $NS svc/users 8000:8000   # then http://127.0.0.1:8000/docs

Stop everything with: make down
MSG
