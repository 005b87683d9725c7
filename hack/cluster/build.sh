#!/usr/bin/env bash
# Build the local cluster's binaries from the Go module proxy into a cache outside the repo.
#
# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy come from
# k8s.io/kubernetes through a wrapper module (upstream relies on replace lines that dependents
# ignore); etcd and kwok likewise. A no-op, taking seconds, when the binaries are already cached.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/cluster/versions.sh
. "$here/versions.sh"

need() { [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }

build_k8s() {
  local out=$K8S_BIN
  local all=1
  for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
    [ -x "$out/$b" ] || all=0
  done
  if [ $all = 1 ]; then echo "k8s v$K8S_VERSION: cached in $out"; return; fi
  local work; work=$(mktemp -d "$PIM_CACHE_DIR/kbuild.XXXX")
  trap 'rm -rf "$work"' RETURN
  echo "k8s v$K8S_VERSION: building into $out (cold builds take tens of minutes)"
  (
    cd "$work"
    export GOTOOLCHAIN=local GOFLAGS=-mod=mod
    local mod
    mod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | jq -r .GoMod)
    go mod init local/kbuild >/dev/null 2>&1
    go mod edit -go=1.24.0 -require="k8s.io/kubernetes@v$K8S_VERSION"
    # Upstream pins its staging modules at v0.0.0 and replaces them in-tree; map each to the
    # published v0.MINOR.PATCH tag. Generated from the .mod file, since the list changes by minor.
    for m in $(awk '$1 ~ /^k8s\.io\// && $2=="v0.0.0" {print $1}' "$mod"); do
      go mod edit -replace="$m=$m@v0.${K8S_VERSION#1.}"
    done
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
    go mod tidy >/dev/null
    local major=${K8S_VERSION%%.*} rest=${K8S_VERSION#*.}
    local minor=${rest%%.*}
    local ld="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld+=" -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
      ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
    done
    mkdir -p "$out.tmp"
    for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
      echo "  go build $b"
      CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$out.tmp/$b" "k8s.io/kubernetes/cmd/$b"
    done
  )
  rm -rf "$out"; mv "$out.tmp" "$out"
}

build_etcd() {
  if need "$ETCD_BIN/etcd"; then echo "etcd v$ETCD_VERSION: cached in $ETCD_BIN"; return; fi
  local work; work=$(mktemp -d "$PIM_CACHE_DIR/ebuild.XXXX")
  trap 'rm -rf "$work"' RETURN
  echo "etcd v$ETCD_VERSION: building into $ETCD_BIN"
  (
    cd "$work"
    export GOTOOLCHAIN=local GOFLAGS=-mod=mod
    go mod init local/ebuild >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >/dev/null 2>&1
    cat > tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
    go mod tidy >/dev/null 2>&1 || true
    mkdir -p "$ETCD_BIN.tmp"
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$ETCD_BIN.tmp/etcd" go.etcd.io/etcd/server/v3
  )
  rm -rf "$ETCD_BIN"; mv "$ETCD_BIN.tmp" "$ETCD_BIN"
}

build_kwok() {
  if [ -x "$KWOK_BIN/kwok" ]; then echo "kwok v$KWOK_VERSION: cached in $KWOK_BIN"; return; fi
  echo "kwok v$KWOK_VERSION: building into $KWOK_BIN"
  mkdir -p "$KWOK_BIN.tmp"
  GOTOOLCHAIN=local GOBIN="$KWOK_BIN.tmp" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
  rm -rf "$KWOK_BIN"; mv "$KWOK_BIN.tmp" "$KWOK_BIN"
}

build_prometheus() {
  # Upstream's Prometheus, for its kubernetes_sd_configs (Debian's build leaves that discovery out).
  # Module v0.X.Y is Prometheus 3.X.Y; the web UI is not needed (the tests use the HTTP API). Only
  # the kubernetes discovery is compiled in: some other discoveries' modules are not on the proxy.
  if need "$PROMETHEUS_BIN/prometheus"; then echo "prometheus v$PROMETHEUS_MODULE_VERSION: cached"; return; fi
  local work; work=$(mktemp -d "$PIM_CACHE_DIR/pbuild.XXXX")
  trap 'rm -rf "$work"' RETURN
  echo "prometheus v$PROMETHEUS_MODULE_VERSION: building into $PROMETHEUS_BIN"
  (
    cd "$work"
    export GOTOOLCHAIN=local GOFLAGS=-mod=mod
    go mod init local/pbuild >/dev/null 2>&1
    local tags=remove_all_sd,enable_kubernetes_sd
    go get -tags "$tags" "github.com/prometheus/prometheus/cmd/prometheus@v$PROMETHEUS_MODULE_VERSION" >/dev/null
    mkdir -p "$PROMETHEUS_BIN.tmp"
    CGO_ENABLED=0 go build -tags "$tags" -trimpath -ldflags "-s -w" -o "$PROMETHEUS_BIN.tmp/prometheus" \
      github.com/prometheus/prometheus/cmd/prometheus
  )
  rm -rf "$PROMETHEUS_BIN"; mv "$PROMETHEUS_BIN.tmp" "$PROMETHEUS_BIN"
}

mkdir -p "$PIM_CACHE_DIR"
what=${1:-all}
case $what in
  etcd) build_etcd ;;
  kwok) build_kwok ;;
  k8s) build_k8s ;;
  prometheus) build_prometheus ;;
  all) build_etcd; build_kwok; build_k8s; build_prometheus ;;
  *) echo "usage: $0 [all|etcd|kwok|k8s|prometheus]" >&2; exit 2 ;;
esac
