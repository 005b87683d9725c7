#!/usr/bin/env bash
# `make kind-load`: build the engine and operator images (hack/images/build.sh, cached) and
# Prometheus's (upstream's, hack/cluster/build.sh: the e2e suite runs it in the cluster on kind),
# and load them into the kind cluster's nodes (kind skips an image a node already has).
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
"$images_here/build.sh"
"$repo_root/hack/cluster/build.sh" prometheus
binary_image "$PROMETHEUS_IMAGE" scratch "$PROMETHEUS_BIN/prometheus" '["/usr/local/bin/prometheus"]' >/dev/null
"$kind_here/kind.sh" load docker-image --name "$KIND_CLUSTER" "$ENGINE_IMAGE" "$OPERATOR_IMAGE" "$PROMETHEUS_IMAGE"
