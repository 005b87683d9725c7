# kube-router: the node's NetworkPolicy enforcement (firewall only: iptables + ipset; the bridge
# CNI keeps pod networking, kube-proxy the Services). Chosen over sigs.k8s.io/kube-network-policies
# (kind's own) because that one queues packets with nftables' `queue`, which this kernel lacks
# (CONFIG_NFT_QUEUE: `nft ... queue num 100` fails), and kind here already runs this very build.
# Its --cleanup-config is not used: v2.1.0 panics in the service proxy's cleanup and would flush
# every IPVS service of the host first; node-down.sh removes its chains and ipsets instead.
# shellcheck shell=bash
# Settings (cluster.env, node.env): KUBE_ROUTER_BIN ROUTER_KUBECONFIG NODE_NAME SERVICE_CIDR
# ROUTER_HEALTH_PORT.

kube-router::binary() { echo "$KUBE_ROUTER_BIN/kube-router"; }

kube-router::start() {
  proc::start "$1" kube-router "$(kube-router::binary)" --kubeconfig="$ROUTER_KUBECONFIG" \
    --hostname-override="$NODE_NAME" --run-firewall=true --run-router=false --run-service-proxy=false \
    --enable-cni=false --service-cluster-ip-range="$SERVICE_CIDR" --health-port="$ROUTER_HEALTH_PORT" \
    --metrics-port=0 --v=1
}

# Healthy: it answers, and its first sync has hooked its chain into FORWARD (policies enforced).
kube-router::health() {
  curl -sf --max-time 2 "http://127.0.0.1:$ROUTER_HEALTH_PORT/healthz" >/dev/null &&
    iptables -S FORWARD | grep -q -- '-j KUBE-ROUTER-FORWARD'
}
