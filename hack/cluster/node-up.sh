#!/usr/bin/env bash
# Add a real node to the local control plane in DIR: a private containerd with bridge CNI, a
# kubelet registering as pim-node (label pim.dev/node=local), kube-proxy in iptables mode and
# kube-router enforcing NetworkPolicy, with locally built images imported and a default
# StorageClass. Called by up.sh when PIM_CLUSTER_NODE=1.
#
# usage: node-up.sh [DIR]    (run node-prep.sh before up.sh, so the apiserver advertises NODE_IP)
#
# Idempotent: a running, Ready node is left alone (images are still brought up to date); a
# half-started one is torn down (node-down.sh) first. State lives in DIR/node, logs in DIR/logs.
# The images are built first: the readiness deadline starts only once nothing is left to build.
# Environment: PIM_NODE_BUILD=0 skips building the engine/operator images (import what exists);
# PIM_NODE_TIMEOUT (default 120) bounds the wait for readiness.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PIM_LOG_SCOPE=node
# shellcheck source=hack/cluster/lib.sh
. "$here/lib.sh"
# shellcheck source=hack/images/common.sh
. "$here/../images/common.sh"
# shellcheck source=hack/cluster/node/settings.sh
. "$here/node/settings.sh"

DIR=$(cluster::dir "${1:-}")
NODE_DIR=$DIR/node
TIMEOUT=${PIM_NODE_TIMEOUT:-120}
[ "$(id -u)" = 0 ] || log::die "node-up.sh: must run as root"
[ -f "$DIR/cluster.env" ] || log::die "no cluster in $DIR (run up.sh first)"
cluster::load_env "$DIR"
[ "$ADVERTISE_IP" = "$NODE_IP" ] || log::die "the apiserver advertises '${ADVERTISE_IP:-127.0.0.1}', pods" \
  "need $NODE_IP: run \`eval \"\$(hack/cluster/node-prep.sh)\"\` before up.sh (or set PIM_CLUSTER_ADVERTISE_IP=$NODE_IP)"
kubectl=(kubectl --kubeconfig "$KUBECONFIG")

start=$(log::now)
stage=$start
step() {
  log::info "$1 ($(log::since "$stage")s)"
  stage=$(log::now)
}

# The images every pod of the node needs; built (or found current) before anything waits.
build_images() {
  if [ "${PIM_NODE_BUILD:-1}" = 1 ]; then "$images_here/build.sh" all; else "$images_here/base.sh"; fi
  "$images_here/pause.sh"
  "$images_here/local-path.sh"
}
load_images() {
  local wanted=("$PAUSE_IMAGE" "$BASE_IMAGE" "$LOCAL_PATH_IMAGE") image
  for image in "$ENGINE_IMAGE" "$OPERATOR_IMAGE" "$CONSOLE_IMAGE"; do
    if docker image inspect "$image" >/dev/null 2>&1; then wanted+=("$image"); fi
  done
  "$images_here/load.sh" "$NODE_DIR/containerd.sock" "${wanted[@]}"
}

all_running() {
  local c
  for c in "${NODE_COMPONENTS[@]}"; do proc::pid "$DIR" "$c" >/dev/null || return 1; done
}
if all_running && kubelet::health; then
  build_images
  load_images
  log::info "node $NODE_NAME already Ready in $DIR; images checked in $(log::since "$start")s"
  exit 0
fi
owner=$(cat "$NODE_OWNER_FILE" 2>/dev/null || true)
if [ -n "$owner" ] && [ "$owner" != "$DIR" ]; then
  if proc::pid "$owner" kubelet >/dev/null || proc::pid "$owner" containerd >/dev/null; then
    log::die "the node of the cluster in $owner runs on this host, and there is one per machine;" \
      "stop it first (hack/cluster/down.sh $owner)"
  fi
  log::info "removing the stale node of $owner"
  "$here/node-down.sh" "$owner"
fi
if [ -d "$NODE_DIR" ] || [ "$owner" = "$DIR" ]; then
  log::info "cleaning a stopped or half-started node first"
  "$here/node-down.sh" "$DIR"
fi
for tool in containerd containerd-shim-runc-v2 runc iptables ipset conntrack nsenter docker; do
  command -v "$tool" >/dev/null || log::die "$tool not found (see hack/images/README.md for the host packages)"
done
for c in kubelet kube-proxy kube-router; do
  [ -x "$("$c::binary")" ] || log::die "$("$c::binary") missing; run hack/cluster/build.sh"
done
[ -f "${ROUTER_KUBECONFIG:-}" ] || log::die "the control plane in $DIR predates kube-router (no" \
  "router.kubeconfig): restart it (hack/cluster/down.sh $DIR, then up.sh)"
CNI_BIN_DIR=$(dirname "$(dpkg -L containernetworking-plugins 2>/dev/null | grep -m1 '/bridge$')")
[ -x "$CNI_BIN_DIR/bridge" ] || log::die "CNI plugins not found (apt-get install containernetworking-plugins)"

build_images
step "images built or current"
deadline=$(proc::deadline "$TIMEOUT")

# render TEMPLATE OUT: substitute @NAME@ with the value of the shell variable NAME.
render() {
  local text name
  text=$(<"$here/node/$1")
  for name in NODE_DIR SANDBOX_IMAGE CNI_BIN_DIR BRIDGE POD_CIDR POD_GATEWAY NODE_IP KUBELET_PORT \
    KUBELET_HEALTHZ_PORT CGROUP_ROOT CA_CERT PROXY_KUBECONFIG NODE_NAME PROXY_HEALTHZ_PORT \
    PROXY_METRICS_PORT PV_DIR HELPER_IMAGE LOCAL_PATH_IMAGE CLUSTER_DNS_IP; do
    text=${text//@$name@/${!name-}}
  done
  [[ $text != *@[A-Z_]*@* ]] || log::die "unrendered placeholder in $1"
  printf '%s\n' "$text" >"$2"
}

mkdir -p "$NODE_DIR"/{cni/net.d,cni/ipam,kubelet,pod-logs,volume-plugins,runc,pv} "$DIR/logs" "$DIR/pids"
# shellcheck disable=SC2034 # used by render, by name
{
  read -r KUBELET_PORT KUBELET_HEALTHZ_PORT PROXY_HEALTHZ_PORT PROXY_METRICS_PORT ROUTER_HEALTH_PORT \
    < <(free_ports 5)
  [ -n "$ROUTER_HEALTH_PORT" ] || log::die "no free ports (hack/lib/ports.sh said why above)"
  BRIDGE=$NODE_BRIDGE CGROUP_ROOT=$NODE_CGROUP
  SANDBOX_IMAGE=$(ref "$PAUSE_IMAGE") HELPER_IMAGE=$BASE_IMAGE PV_DIR=$NODE_DIR/pv
  NODE_CONTAINERD_SOCK=$NODE_DIR/containerd.sock
}
# Everything the node's components need, for restart.sh too.
cluster::write_env "$NODE_DIR/node.env" NODE_NAME NODE_IP NODE_BRIDGE NODE_LABEL NODE_DIR POD_CIDR POD_GATEWAY \
  KUBELET_PORT KUBELET_HEALTHZ_PORT PROXY_HEALTHZ_PORT PROXY_METRICS_PORT ROUTER_HEALTH_PORT PV_DIR HELPER_IMAGE \
  LOCAL_PATH_IMAGE NODE_CONTAINERD_SOCK

# ---- network: the pods' bridge, forwarding, and a way through docker's FORWARD DROP ----
mkdir -p "$(dirname "$NODE_OWNER_FILE")"
echo "$DIR" >"$NODE_OWNER_FILE"
"$here/node-prep.sh" >/dev/null
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
ip link add "$NODE_BRIDGE" type bridge
ip addr add "$POD_GATEWAY/${POD_CIDR#*/}" dev "$NODE_BRIDGE"
ip link set "$NODE_BRIDGE" up
# The host reaches Service VIPs from the pod network's gateway address (kube-proxy DNATs them).
ip route add "$SERVICE_CIDR" dev "$NODE_BRIDGE" src "$POD_GATEWAY"
for dir in -s -d; do
  iptables -I FORWARD 1 "$dir" "$POD_CIDR" -m comment --comment "$IPT_COMMENT" -j ACCEPT
done
step "network ready ($NODE_BRIDGE $POD_CIDR, node IP $NODE_IP)"

# ---- containerd and images ----
render containerd.toml "$NODE_DIR/containerd.toml"
render cni.conflist "$NODE_DIR/cni/net.d/10-pim-pods.conflist"
printf 'nameserver 127.0.0.1\noptions ndots:1\n' >"$NODE_DIR/resolv.conf"
component::start "$DIR" containerd
component::wait "$DIR" containerd "$deadline"
load_images
step "images imported"

# ---- kubelet and kube-proxy ----
for hierarchy in /sys/fs/cgroup/*/; do
  [ -f "$hierarchy/cgroup.procs" ] && mkdir -p "$hierarchy$NODE_CGROUP"
done
render kubelet.yaml "$NODE_DIR/kubelet.yaml"
render kube-proxy.yaml "$NODE_DIR/kube-proxy.yaml"
component::start "$DIR" kubelet
component::start "$DIR" kube-proxy
component::wait "$DIR" kubelet "$deadline"
component::wait "$DIR" kube-proxy "$deadline"
step "kubelet registered $NODE_NAME, Ready; kube-proxy healthy"

# ---- NetworkPolicy: kube-router's firewall, once the Node it looks up exists ----
"${kubectl[@]}" apply -f "$here/node/kube-router-rbac.yaml" >/dev/null
component::start "$DIR" kube-router
component::wait "$DIR" kube-router "$deadline"
step "kube-router enforcing NetworkPolicy"

# ---- storage: local-path-provisioner behind the default StorageClass ----
render storage.yaml "$NODE_DIR/storage.yaml"
"${kubectl[@]}" apply -f "$NODE_DIR/storage.yaml" >/dev/null
"${kubectl[@]}" -n local-path-storage rollout status deployment/local-path-provisioner \
  --timeout="$TIMEOUT"s >/dev/null
step "storage provisioner running"
log::info "node $NODE_NAME Ready in $(log::since "$start")s (containerd $NODE_CONTAINERD_SOCK)"
