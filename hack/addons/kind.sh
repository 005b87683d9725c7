#!/usr/bin/env bash
# The add-ons in the kind cluster (hack/kind/up.sh): build the images, `kind load` them into the
# nodes, install (kind has its own CoreDNS, so only metrics-server and CloudNativePG).
#
# Environment: KIND_CLUSTER (default pim), KIND_KUBECONFIG (default <repo>/.kind-kubeconfig).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
images=$("$here/images.sh" cnpg postgres metrics-server)
mapfile -t images <<<"$images"
"$repo/hack/kind/kind.sh" load docker-image --name "${KIND_CLUSTER:-pim}" "${images[@]}"
KUBECONFIG=${KIND_KUBECONFIG:-$repo/.kind-kubeconfig} "$here/install.sh" metrics-server cnpg
