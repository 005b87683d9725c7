# etcd: the cluster's store, on loopback, single member, no fsync (the data is thrown away).
# shellcheck shell=bash
# Settings (cluster.env): ETCD_BIN ETCD_PORT ETCD_PEER_PORT. State: DIR/etcd.

etcd::binary() { echo "$ETCD_BIN/etcd"; }

etcd::start() {
  local dir=$1
  mkdir -p "$dir/etcd"
  chmod 700 "$dir/etcd"
  proc::start "$dir" etcd "$(etcd::binary)" --name=pim --data-dir="$dir/etcd" --unsafe-no-fsync \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="pim=http://127.0.0.1:$ETCD_PEER_PORT" --log-level=warn
}

etcd::health() { curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }
