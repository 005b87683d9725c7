#!/usr/bin/env bash
# `make kind-load`: build the engine and operator images (hack/images/build.sh, cached) and load
# them into the kind cluster's nodes (kind skips an image a node already has).
#
#   load.sh [--e2e]   --e2e: Prometheus's image too (upstream's, hack/cluster/build.sh), which the
#                     e2e suite runs in the cluster on kind
set -euo pipefail
# shellcheck source=hack/kind/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
"$images_here/build.sh"
images=("$ENGINE_IMAGE" "$OPERATOR_IMAGE" "$CONSOLE_IMAGE")
if [ "${1:-}" = --e2e ]; then
  "$repo_root/hack/cluster/build.sh" prometheus
  images+=("$(binary_image "$PROMETHEUS_IMAGE" scratch "$PROMETHEUS_BIN/prometheus" '["/usr/local/bin/prometheus"]')")
fi
"$kind_here/kind.sh" load docker-image --name "$KIND_CLUSTER" "${images[@]}"
