# kube-proxy: iptables mode on the node; Service VIPs and NodePorts work from the host too. Its
# configuration (DIR/node/kube-proxy.yaml) is rendered by node-up.sh.
# shellcheck shell=bash
# Settings (cluster.env, node.env): K8S_BIN NODE_DIR PROXY_HEALTHZ_PORT.

kube-proxy::binary() { echo "$K8S_BIN/kube-proxy"; }

kube-proxy::start() {
  proc::start "$1" kube-proxy "$(kube-proxy::binary)" --config="$NODE_DIR/kube-proxy.yaml" --v=1
}

kube-proxy::health() { curl -sf --max-time 2 "http://127.0.0.1:$PROXY_HEALTHZ_PORT/healthz"; }
