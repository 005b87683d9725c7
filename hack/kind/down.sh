#!/usr/bin/env bash
# `make kind-down`: delete the kind cluster (its node containers, network stays for kind to
# reuse) and its kubeconfig. Idempotent.
set -euo pipefail
# shellcheck source=hack/kind/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
KIND_KUBECONFIG=${KIND_KUBECONFIG:-$repo_root/.kind-kubeconfig}
if docker info >/dev/null 2>&1 && "$kind_here/kind.sh" get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
  "$kind_here/kind.sh" delete cluster --name "$KIND_CLUSTER" --kubeconfig "$KIND_KUBECONFIG"
  log::info "deleted kind cluster $KIND_CLUSTER"
else
  log::info "no kind cluster $KIND_CLUSTER; nothing to delete"
fi
rm -f "$KIND_KUBECONFIG"
