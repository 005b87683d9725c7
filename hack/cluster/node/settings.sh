# Fixed network settings of the local node; sourced by node-prep.sh, node-up.sh and node-down.sh.
# shellcheck shell=bash
#
# Only one node cluster runs per machine: the names below are host-wide. The advertise address
# sits outside the pod (10.244.0.0/24), service (10.0.0.0/24) and kwok (10.245.0.0/16) ranges.
NODE_HOST_IF=pimhost0            # holds the address pods reach the API server (and kubelet) on
NODE_IP=10.246.255.1
NODE_BRIDGE=pimbr0               # the pods' CNI bridge
POD_CIDR=10.244.0.0/24
POD_GATEWAY=10.244.0.1
NODE_CGROUP=pim-node             # cgroup parent of every pod, in each cgroup v1 hierarchy
NODE_LABEL=pim.dev/node=local
IPT_COMMENT=pim-node             # marks the iptables rules node-up.sh adds
# Names the cluster directory whose node owns the host-wide pieces above; only that directory's
# node-down.sh removes them (other clusters' down.sh must not pull the bridge from under it).
NODE_OWNER_FILE=/run/pim-node/owner
