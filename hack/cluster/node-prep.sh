#!/usr/bin/env bash
# Give this host the address pods reach the API server on, BEFORE up.sh starts the control plane
# (the apiserver must advertise it, so that the `kubernetes` Service maps to it).
#
# usage: eval "$(hack/cluster/node-prep.sh)"   prints PIM_CLUSTER_ADVERTISE_IP=...; idempotent.
#
# The kernel here has no dummy interfaces, so the address lives on a port-less bridge: it is a
# local address all the same, and pods reach it through their default route via the node.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/lib/init.sh
. "$here/../lib/init.sh"
# shellcheck source=hack/cluster/node/settings.sh
. "$here/node/settings.sh"

[ "$(id -u)" = 0 ] || log::die "node-prep.sh: must run as root"
ip link show "$NODE_HOST_IF" >/dev/null 2>&1 || ip link add "$NODE_HOST_IF" type bridge
ip -4 addr show dev "$NODE_HOST_IF" | grep -F " $NODE_IP/32 " >/dev/null \
  || ip addr add "$NODE_IP/32" dev "$NODE_HOST_IF"
ip link set "$NODE_HOST_IF" up
echo "export PIM_CLUSTER_ADVERTISE_IP=$NODE_IP"
