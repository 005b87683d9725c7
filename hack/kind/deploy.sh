#!/usr/bin/env bash
# `make kind-deploy`: helm install (or upgrade) the operator into pim-system of the kind cluster,
# with the images kind-load put on the nodes; extra arguments go to helm (--set ...).
set -euo pipefail
# shellcheck source=hack/kind/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
KIND_KUBECONFIG=${KIND_KUBECONFIG:-$repo_root/.kind-kubeconfig}
[ -s "$KIND_KUBECONFIG" ] || log::die "no kind kubeconfig at $KIND_KUBECONFIG: run make kind-up first"
"$repo_root/hack/helm.sh" upgrade --install pim-operator "$repo_root/deploy/helm/pim-operator" \
  --kubeconfig "$KIND_KUBECONFIG" --namespace pim-system --create-namespace --wait --timeout 5m \
  --set "image.repository=${OPERATOR_IMAGE%:*}" --set "image.tag=${OPERATOR_IMAGE##*:}" \
  --set "engine.image.repository=${ENGINE_IMAGE%:*}" --set "engine.image.tag=${ENGINE_IMAGE##*:}" "$@"
