# kube-scheduler: default profile, no leader election; serves /healthz on loopback.
# shellcheck shell=bash
# Settings (cluster.env): K8S_BIN SCHEDULER_PORT PKI. Kubeconfig: DIR/scheduler.kubeconfig.

kube-scheduler::binary() { echo "$K8S_BIN/kube-scheduler"; }

kube-scheduler::start() {
  local dir=$1 kubeconfig=$1/scheduler.kubeconfig
  proc::start "$dir" kube-scheduler "$(kube-scheduler::binary)" \
    --kubeconfig="$kubeconfig" --leader-elect=false \
    --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" \
    --tls-cert-file="$PKI/components.crt" --tls-private-key-file="$PKI/components.key" \
    --profiling=false
}

kube-scheduler::health() {
  curl -sf --max-time 2 --cacert "$PKI/ca.crt" "https://127.0.0.1:$SCHEDULER_PORT/healthz" | grep -qx ok
}
