#!/usr/bin/env bash
# The add-ons in the kind cluster (hack/kind/up.sh): build the images, `kind load` them into the
# nodes, install (kind has its own CoreDNS, so only metrics-server and CloudNativePG).
#
# Environment: KIND_CLUSTER (default pim), KIND_KUBECONFIG (default <repo>/.kind-kubeconfig).
set -euo pipefail
PIM_LOG_SCOPE=addons
# shellcheck source=hack/lib/init.sh
. "$(cd "$(dirname "$0")" && pwd)/../lib/init.sh"
images=$("$PIM_HACK/addons/images.sh" cnpg postgres metrics-server)
mapfile -t images <<<"$images"
"$PIM_HACK/kind/kind.sh" load docker-image --name "${KIND_CLUSTER:-pim}" "${images[@]}"
KUBECONFIG=${KIND_KUBECONFIG:-$PIM_REPO/.kind-kubeconfig} "$PIM_HACK/addons/install.sh" metrics-server cnpg
