# kwok: fake nodes for scale tests. It manages only Nodes annotated kwok.x-k8s.io/node=fake (the
# tests create them tainted), moves their bound pods to Running with pod IPs from a range nothing
# on this machine routes, and has them report loopback, so no traffic can leave the host.
# shellcheck shell=bash
# Settings (cluster.env): KWOK_BIN KWOK_PORT KUBECONFIG.

kwok::binary() { echo "$KWOK_BIN/kwok"; }

kwok::start() {
  local dir=$1
  # An explicit (empty) configuration keeps ~/.kwok/kwok.yaml out.
  printf 'apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\n' >"$dir/kwok.yaml"
  proc::start "$dir" kwok "$(kwok::binary)" --config="$dir/kwok.yaml" --kubeconfig="$KUBECONFIG" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds=40 --cidr=10.245.0.1/16 --node-ip=127.0.0.1 \
    --server-address="127.0.0.1:$KWOK_PORT"
}

kwok::health() { curl -sf --max-time 2 "http://127.0.0.1:$KWOK_PORT/healthz" | grep -qx ok; }
