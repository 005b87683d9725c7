#!/usr/bin/env bash
# Build the add-on binaries from the Go module proxy into the cache: CloudNativePG's manager,
# metrics-server and CoreDNS. A no-op when they are cached.
#
#   build.sh [all|cnpg|metrics-server|coredns]
#
# Each is built in a throw-away wrapper module that requires the upstream module at an exact
# version (`go install pkg@version` needs the version list, which the proxy refuses for
# CloudNativePG), with CGO_ENABLED=0: static binaries for FROM scratch images.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/addons/versions.sh
. "$here/versions.sh"
log() { printf '[addons/build] %s\n' "$*" >&2; }

# go_build OUT_DIR BINARY MODULE@VERSION PACKAGE [LDFLAGS]
go_build() {
  local out=$1 bin=$2 modver=$3 pkg=$4 ldflags=${5:-}
  if [ -x "$out/$bin" ]; then log "$bin: cached in $out"; return; fi
  command -v go >/dev/null || { log "go not found"; exit 1; }
  mkdir -p "$PIM_CACHE_DIR"
  local work t0=$SECONDS
  work=$(mktemp -d "$PIM_CACHE_DIR/.work-$bin.XXXXXX")
  log "$bin: building $pkg from $modver into $out (minutes when cold)"
  (
    trap 'rm -rf "$work"' EXIT
    cd "$work"
    export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
    gomod=$(go mod download -json "$modver" | jq -r .GoMod)
    go mod init local/pim-addon >/dev/null 2>&1
    go mod edit -go="$(awk '$1 == "go" { print $2; exit }' "$gomod")" -require="$modver"
    go get "$pkg@${modver##*@}" >"$work/get.log" 2>&1 || { cat "$work/get.log" >&2; exit 1; }
    nice go build -trimpath -ldflags "-s -w $ldflags" -o "$work/out/$bin" "$pkg"
    rm -rf "$out"
    mv "$work/out" "$out"
  )
  log "$bin: built in $((SECONDS - t0)) s"
}

build_cnpg() {
  go_build "$CNPG_BIN" manager "github.com/cloudnative-pg/cloudnative-pg@v$CNPG_VERSION" \
    github.com/cloudnative-pg/cloudnative-pg/cmd/manager \
    "-X github.com/cloudnative-pg/cloudnative-pg/pkg/versions.buildVersion=$CNPG_VERSION"
}

build_metrics_server() {
  go_build "$METRICS_SERVER_BIN" metrics-server "sigs.k8s.io/metrics-server@v$METRICS_SERVER_VERSION" \
    sigs.k8s.io/metrics-server/cmd/metrics-server \
    "-X sigs.k8s.io/metrics-server/pkg/version.gitVersion=v$METRICS_SERVER_VERSION"
}

build_coredns() {
  go_build "$COREDNS_BIN" coredns "github.com/coredns/coredns@v$COREDNS_VERSION" github.com/coredns/coredns
}

case ${1:-all} in
  cnpg) build_cnpg ;;
  metrics-server) build_metrics_server ;;
  coredns) build_coredns ;;
  all) build_cnpg; build_metrics_server; build_coredns ;;
  *) echo "usage: $0 [all|cnpg|metrics-server|coredns]" >&2; exit 2 ;;
esac
