#!/usr/bin/env bash
# Build PocketBase (the Go comparison point of bench/engine_bench.py) from the Go module proxy into
# a cache outside the repo (hack/lib/go.sh's go_build_cached), and print the binary's path. A
# no-op when the binary is cached.
#
#   bench/pocketbase.sh [VERSION]        # default: v0.36.8
set -euo pipefail
PIM_LOG_SCOPE=pocketbase
# shellcheck source=hack/lib/init.sh
. "$(cd "$(dirname "$0")" && pwd)/../hack/lib/init.sh"
# shellcheck source=hack/lib/go.sh
. "$PIM_HACK/lib/go.sh"
version=${1:-${POCKETBASE_VERSION:-v0.36.8}}
# examples/base is upstream's own main package: the stock server with its default plugins.
go_build_cached pocketbase "github.com/pocketbase/pocketbase@$version" ./examples/base=pocketbase
echo "$(go_cache_dir pocketbase "$version")/pocketbase"
