#!/usr/bin/env bash
# Run kind (`hack/kind/kind.sh ARGS...` behaves like `kind ARGS...`): the unpatched kind
# v$KIND_VERSION, built from the Go module proxy once and cached. On a host whose capability
# bounding set lacks CAP_SYS_RESOURCE, where `docker run --privileged` fails, the docker shim
# (shim/docker) goes first on kind's PATH; elsewhere kind runs untouched.
set -euo pipefail
# shellcheck source=hack/kind/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

[ -x "$KIND_BIN/kind" ] || go_build_cached kind "sigs.k8s.io/kind@v$KIND_VERSION" .
if ! has_cap 24; then
  export PATH=$kind_here/shim:$PATH
fi
exec "$KIND_BIN/kind" "$@"
