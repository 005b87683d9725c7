#!/usr/bin/env bash
# Build the local cluster's binaries from the Go module proxy into a cache outside the repo
# (hack/lib/go.sh's go_build_cached; versions and cache paths in versions.sh).
#
# usage: build.sh [all|etcd|kwok|k8s|kube-router|prometheus]
#
# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy come from
# k8s.io/kubernetes (its staging modules mapped to their published versions); etcd, kwok and
# kube-router (the node's NetworkPolicy agent, and kind's CNI) likewise; Prometheus for the e2e
# suite. A no-op, taking seconds, when everything is cached; a cold build takes tens of minutes
# on 2 cores, with progress every few seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PIM_LOG_SCOPE=build
# shellcheck source=hack/lib/init.sh
. "$here/../lib/init.sh"
# shellcheck source=hack/lib/go.sh
. "$PIM_HACK/lib/go.sh"
# shellcheck source=hack/cluster/versions.sh
. "$here/versions.sh"

build_etcd() { go_build_cached etcd "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" .=etcd; }

build_kwok() { go_build_cached kwok "sigs.k8s.io/kwok@v$KWOK_VERSION" ./cmd/kwok; }

build_k8s() {
  go_build_cached --k8s-staging --ldflags "$(k8s_version_ldflags "$K8S_VERSION")" \
    k8s "k8s.io/kubernetes@v$K8S_VERSION" \
    ./cmd/kube-apiserver ./cmd/kube-controller-manager ./cmd/kube-scheduler ./cmd/kubelet ./cmd/kube-proxy
}

build_kube_router() {
  go_build_cached kube-router "github.com/cloudnativelabs/kube-router/v2@v$KUBE_ROUTER_VERSION" ./cmd/kube-router
}

# Upstream's Prometheus, for its kubernetes_sd_configs (Debian's build leaves that discovery out).
# Module v0.X.Y is Prometheus 3.X.Y; the web UI is not needed (the tests use the HTTP API). Only
# the kubernetes discovery is compiled in: some other discoveries' modules are not on the proxy.
build_prometheus() {
  go_build_cached --tags remove_all_sd,enable_kubernetes_sd \
    prometheus "github.com/prometheus/prometheus@v$PROMETHEUS_MODULE_VERSION" ./cmd/prometheus
}

mkdir -p "$PIM_CACHE_DIR"
case ${1:-all} in
  etcd | kwok | k8s | prometheus) "build_$1" ;;
  kube-router) build_kube_router ;;
  all)
    log::phase "cluster binaries (etcd, kwok, Kubernetes $K8S_VERSION, kube-router, Prometheus) in $PIM_CACHE_DIR"
    build_etcd
    build_kwok
    build_k8s
    build_kube_router
    build_prometheus
    log::phase_end
    ;;
  *) log::die "usage: $0 [all|etcd|kwok|k8s|kube-router|prometheus]" ;;
esac
