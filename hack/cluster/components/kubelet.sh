# kubelet: registers the node NODE_NAME (labelled NODE_LABEL) at NODE_IP, runs pods on the node's
# containerd. Its configuration (DIR/node/kubelet.yaml) is rendered by node-up.sh; healthy means
# /healthz answers and the node is Ready.
# shellcheck shell=bash
# Settings (cluster.env, node.env): K8S_BIN NODE_DIR NODE_KUBECONFIG NODE_NAME NODE_IP NODE_LABEL
# KUBELET_HEALTHZ_PORT KUBECONFIG.

kubelet::binary() { echo "$K8S_BIN/kubelet"; }

kubelet::start() {
  proc::start "$1" kubelet "$(kubelet::binary)" --config="$NODE_DIR/kubelet.yaml" \
    --kubeconfig="$NODE_KUBECONFIG" --root-dir="$NODE_DIR/kubelet" --cert-dir="$NODE_DIR/kubelet/pki" \
    --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --node-labels="$NODE_LABEL" --v=1
}

kubelet::health() {
  curl -sf --max-time 2 "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz" | grep -qx ok &&
    [ "$(kubectl --kubeconfig "$KUBECONFIG" get node "$NODE_NAME" \
      -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
