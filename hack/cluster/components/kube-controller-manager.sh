# kube-controller-manager: every controller (ReplicaSets, garbage collection of ownerReferences,
# ServiceAccount tokens, HPA, ...), signing with the cluster CA; serves /healthz on loopback.
# shellcheck shell=bash
# Settings (cluster.env): K8S_BIN KCM_PORT SERVICE_CIDR PKI. Kubeconfig: DIR/controller-manager.kubeconfig.

kube-controller-manager::binary() { echo "$K8S_BIN/kube-controller-manager"; }

kube-controller-manager::start() {
  local dir=$1 kubeconfig=$1/controller-manager.kubeconfig
  mkdir -p "$dir/flexvolume"
  proc::start "$dir" kube-controller-manager "$(kube-controller-manager::binary)" \
    --kubeconfig="$kubeconfig" --leader-elect=false --controllers='*' \
    --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
    --flex-volume-plugin-dir="$dir/flexvolume" \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --horizontal-pod-autoscaler-downscale-stabilization=1m \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
    --tls-cert-file="$PKI/components.crt" --tls-private-key-file="$PKI/components.key" \
    --profiling=false
}

kube-controller-manager::health() {
  curl -sf --max-time 2 --cacert "$PKI/ca.crt" "https://127.0.0.1:$KCM_PORT/healthz" | grep -qx ok
}
