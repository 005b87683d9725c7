#!/usr/bin/env bash
# Start a local Kubernetes control plane in DIR: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok (fake nodes), on free loopback ports, with RBAC, ServiceAccount and
# PodSecurity admission and TLS verified end to end (a private CA signs every serving cert).
#
# usage: up.sh [DIR]     (default DIR: $PIM_CLUSTER_DIR or <repo>/.cluster)
#
# Idempotent: a healthy cluster already in DIR is left alone; a crashed one is cleaned first.
# Writes DIR/cluster.env (ports, URLs, PKI paths) and DIR/{kubeconfig,node.kubeconfig,proxy.kubeconfig}.
# The components live in components/<name>.sh; restart.sh restarts any of them.
# Environment:
#   PIM_CLUSTER_ADVERTISE_IP  also serve on this address (bind 0.0.0.0) so pods can reach the API.
#   PIM_CLUSTER_NODE=1        run ./node-up.sh DIR afterwards (a real kubelet node); without an
#                             advertise IP, node-prep.sh provides one first.
#   PIM_CLUSTER_OWNER_PID     tear the cluster down (down.sh) when this process exits.
#   PIM_CLUSTER_TIMEOUT       seconds the components get to become healthy (default 90).
# shellcheck disable=SC2034 # the settings below are read by name (cluster.env, components/*.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/cluster/lib.sh
. "$here/lib.sh"

DIR=$(cluster::dir "${1:-}")
mkdir -p "$DIR"
# A real node needs the apiserver on an address its pods can reach: node-prep.sh provides it.
if [ "${PIM_CLUSTER_NODE:-0}" = 1 ] && [ -z "${PIM_CLUSTER_ADVERTISE_IP:-}" ]; then
  eval "$("$here/node-prep.sh")"
fi
ADVERTISE_IP=${PIM_CLUSTER_ADVERTISE_IP:-}
TIMEOUT=${PIM_CLUSTER_TIMEOUT:-90}
SERVICE_CIDR=10.0.0.0/16 # room for thousands of Services (the scale benchmark)
SERVICE_IP=10.0.0.1
CLUSTER_DNS_IP=10.0.0.10 # the kubelet's clusterDNS
NODE_NAME=pim-node
PKI=$DIR/pki
ENV_VARS=(PIM_CLUSTER_DIR KUBECONFIG APISERVER_URL APISERVER_PORT ETCD_PORT ETCD_PEER_PORT KCM_PORT
  SCHEDULER_PORT KWOK_PORT ADVERTISE_IP SERVICE_CIDR SERVICE_IP CLUSTER_DNS_IP NODE_NAME NODE_KUBECONFIG
  PROXY_KUBECONFIG ROUTER_KUBECONFIG PKI CA_CERT CA_KEY SA_KEY SA_PUB APISERVER_CERT APISERVER_KEY
  KUBELET_CLIENT_CERT KUBELET_CLIENT_KEY K8S_VERSION K8S_BIN ETCD_BIN KWOK_BIN)

# running: DIR holds a healthy cluster of the wanted shape (says so). A subshell, so that the old
# cluster.env never leaks into this run's settings.
running() (
  [ -f "$DIR/cluster.env" ] || exit 1
  want=$ADVERTISE_IP
  cluster::load_env "$DIR"
  for c in "${CONTROL_PLANE[@]}"; do proc::pid "$DIR" "$c" >/dev/null || exit 1; done
  kube-apiserver::health || exit 1
  if [ "$ADVERTISE_IP" != "$want" ]; then
    log::info "the cluster in $DIR advertises '$ADVERTISE_IP', not '$want'; restarting it"
    exit 1
  fi
  log::info "already running in $DIR ($APISERVER_URL); KUBECONFIG=$KUBECONFIG"
)

node_hook() {
  if [ "${PIM_CLUSTER_NODE:-0}" = 1 ]; then "$here/node-up.sh" "$DIR"; fi
}

start=$(log::now)
if running; then
  node_hook
  exit 0
fi
# A non-empty directory is only ever reused if it holds a cluster of ours (crashed or stopped).
if [ -n "$(ls -A "$DIR")" ]; then
  [ -e "$DIR/$PIM_MARKER" ] ||
    log::die "$DIR is not empty and holds no cluster state ($PIM_MARKER missing); refusing to use it"
  log::info "cleaning the previous (stopped, crashed or differently configured) cluster in $DIR"
  "$here/down.sh" "$DIR"
fi
missing=()
for c in "${CONTROL_PLANE[@]}"; do
  [ -x "$("$c::binary")" ] || missing+=("$("$c::binary")")
done
[ ${#missing[@]} = 0 ] || log::die "missing binaries (build them with hack/cluster/build.sh): ${missing[*]}"

mkdir -p "$DIR/logs" "$DIR/pids"
touch "$DIR/$PIM_MARKER"
started=0
on_exit() {
  local rc=$?
  if [ $rc != 0 ] && [ $started = 1 ]; then
    log::warn "bring-up failed after $(log::since "$start")s; stopping what was started (logs kept in $DIR/logs)"
    PIM_KEEP_LOGS=1 "$here/down.sh" "$DIR" >&2 || true
  fi
  exit $rc
}
trap on_exit EXIT

# Settings, certificates and kubeconfigs; everything a component needs is in cluster.env.
read -r ETCD_PORT ETCD_PEER_PORT APISERVER_PORT KCM_PORT SCHEDULER_PORT KWOK_PORT < <(free_ports 6)
[ -n "$KWOK_PORT" ] || log::die "no free ports (hack/lib/ports.sh said why above)"
PIM_CLUSTER_DIR=$DIR
KUBECONFIG=$DIR/kubeconfig
APISERVER_URL=https://127.0.0.1:$APISERVER_PORT
NODE_KUBECONFIG=$DIR/node.kubeconfig
PROXY_KUBECONFIG=$DIR/proxy.kubeconfig
ROUTER_KUBECONFIG=$DIR/router.kubeconfig
CA_CERT=$PKI/ca.crt CA_KEY=$PKI/ca.key SA_KEY=$PKI/sa.key SA_PUB=$PKI/sa.pub
APISERVER_CERT=$PKI/apiserver.crt APISERVER_KEY=$PKI/apiserver.key
KUBELET_CLIENT_CERT=$PKI/apiserver-kubelet-client.crt KUBELET_CLIENT_KEY=$PKI/apiserver-kubelet-client.key
pki::generate "$PKI" "$SERVICE_IP" "$ADVERTISE_IP" "$NODE_NAME"
kubeconfig::write "$KUBECONFIG" admin "$PKI" "$APISERVER_PORT"
kubeconfig::write "$NODE_KUBECONFIG" "system:node:$NODE_NAME" "$PKI" "$APISERVER_PORT"
kubeconfig::write "$PROXY_KUBECONFIG" system:kube-proxy "$PKI" "$APISERVER_PORT"
kubeconfig::write "$ROUTER_KUBECONFIG" system:kube-router "$PKI" "$APISERVER_PORT"
kubeconfig::write "$DIR/controller-manager.kubeconfig" system:kube-controller-manager "$PKI" "$APISERVER_PORT"
kubeconfig::write "$DIR/scheduler.kubeconfig" system:kube-scheduler "$PKI" "$APISERVER_PORT"
cluster::write_env "$DIR/cluster.env" "${ENV_VARS[@]}"

# The components, in order; the deadline starts here (nothing below builds anything).
deadline=$(proc::deadline "$TIMEOUT")
started=1
for c in etcd kube-apiserver; do
  component::start "$DIR" $c
  component::wait "$DIR" $c "$deadline"
done
for c in kube-controller-manager kube-scheduler kwok; do component::start "$DIR" $c; done
for c in kube-controller-manager kube-scheduler kwok; do component::wait "$DIR" $c "$deadline"; done
proc::wait "$DIR" kube-controller-manager "$deadline" "the default ServiceAccount" \
  kube-apiserver::get /api/v1/namespaces/default/serviceaccounts/default

if [ -n "${PIM_CLUSTER_OWNER_PID:-}" ]; then
  # Watchdog: a test run killed before its teardown must not leave a cluster behind.
  # shellcheck disable=SC2016 # expanded by the watchdog's shell
  setsid bash -c 'while kill -0 "$0" 2>/dev/null && [ -e "$1/pids/watchdog.pid" ]; do sleep 2; done
    [ -e "$1/pids/watchdog.pid" ] && exec "$2" "$1"' \
    "$PIM_CLUSTER_OWNER_PID" "$DIR/" "$here/down.sh" </dev/null >>"$DIR/logs/watchdog.log" 2>&1 &
  echo $! >"$DIR/pids/watchdog.pid"
fi

log::info "ready in $(log::since "$start")s: $APISERVER_URL (k8s v$K8S_VERSION); KUBECONFIG=$KUBECONFIG"
node_hook
