#!/usr/bin/env bash
# `make kind-load`: build the engine and operator images (hack/images/build.sh, cached) and load
# them into the kind cluster's nodes (kind skips an image a node already has).
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
"$images_here/build.sh"
"$kind_here/kind.sh" load docker-image --name "$KIND_CLUSTER" "$ENGINE_IMAGE" "$OPERATOR_IMAGE"
