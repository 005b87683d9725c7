#!/usr/bin/env bash
# Build PocketBase (the Go comparison point of bench/engine_bench.py) from the Go module proxy into
# a cache outside the repo, and print the binary's path. A no-op when the binary is cached.
#
#   bench/pocketbase.sh [VERSION]        # default: v0.36.8
set -euo pipefail
version=${1:-${POCKETBASE_VERSION:-v0.36.8}}
cache=${PIM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pim-operator}
out=$cache/pocketbase-$version/pocketbase
if [ -x "$out" ]; then echo "$out"; exit 0; fi
mkdir -p "$cache"
work=$(mktemp -d "$cache/pbbuild.XXXX")
trap 'rm -rf "$work"' EXIT
(
  cd "$work"
  export GOTOOLCHAIN=local GOFLAGS=-mod=mod
  go mod init local/pbbuild >/dev/null 2>&1
  go get "github.com/pocketbase/pocketbase@$version" >&2
  # examples/base is upstream's own main package: the stock server with its default plugins.
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/pocketbase" github.com/pocketbase/pocketbase/examples/base >&2
)
mkdir -p "$(dirname "$out")"
mv "$work/pocketbase" "$out"
echo "$out"
