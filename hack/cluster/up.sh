#!/usr/bin/env bash
# Start a local Kubernetes control plane in DIR: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok (fake nodes), on free loopback ports, with RBAC, ServiceAccount and
# PodSecurity admission and TLS verified end to end (a private CA signs every serving cert).
#
# usage: up.sh [DIR]     (default DIR: $PIM_CLUSTER_DIR or <repo>/.cluster)
#
# Idempotent: a healthy cluster already in DIR is left alone; a crashed one is cleaned first.
# Writes DIR/cluster.env (ports, URLs, PKI paths) and DIR/{kubeconfig,node.kubeconfig,proxy.kubeconfig}.
# Environment:
#   PIM_CLUSTER_ADVERTISE_IP  also serve on this address (bind 0.0.0.0) so pods can reach the API.
#   PIM_CLUSTER_NODE=1        run ./node-up.sh DIR afterwards (a real kubelet node); without an
#                             advertise IP, node-prep.sh provides one first.
#   PIM_CLUSTER_OWNER_PID     tear the cluster down (down.sh) when this process exits.
#   PIM_CLUSTER_TIMEOUT       seconds to wait for readiness (default 90).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/cluster/versions.sh
. "$here/versions.sh"
# shellcheck source=hack/cluster/lib.sh
. "$here/lib.sh"

DIR=$(resolve_dir "${1:-}")
mkdir -p "$DIR"
# A real node needs the apiserver on an address its pods can reach: node-prep.sh provides it.
if [ "${PIM_CLUSTER_NODE:-0}" = 1 ] && [ -z "${PIM_CLUSTER_ADVERTISE_IP:-}" ]; then
  eval "$("$here/node-prep.sh")"
fi
ADVERTISE_IP=${PIM_CLUSTER_ADVERTISE_IP:-}
TIMEOUT=${PIM_CLUSTER_TIMEOUT:-90}
SERVICE_CIDR=10.0.0.0/16 # room for thousands of Services (the scale benchmark)
SERVICE_IP=10.0.0.1
# shellcheck disable=SC2034 # for node-up.sh (the kubelet's clusterDNS), through cluster.env
CLUSTER_DNS_IP=10.0.0.10
NODE_NAME=pim-node
PKI=$DIR/pki

declare -A BIN=(
  [etcd]=$ETCD_BIN/etcd
  [kube-apiserver]=$K8S_BIN/kube-apiserver
  [kube-controller-manager]=$K8S_BIN/kube-controller-manager
  [kube-scheduler]=$K8S_BIN/kube-scheduler
  [kwok]=$KWOK_BIN/kwok
)

# ---- health probes (each one curl, quiet; used with wait_for) ----
etcd_ok() { curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }
api_get() {
  curl -sf --max-time 3 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $(admin_token)" \
    "https://127.0.0.1:$APISERVER_PORT$1"
}
admin_token() { awk -F, '$2 == "admin" { print $1 }' "$PKI/tokens.csv"; }
apiserver_ok() { [ "$(api_get /readyz)" = ok ]; }
kcm_ok() { curl -sf --max-time 2 --cacert "$PKI/ca.crt" "https://127.0.0.1:$KCM_PORT/healthz" | grep -qx ok; }
scheduler_ok() {
  curl -sf --max-time 2 --cacert "$PKI/ca.crt" "https://127.0.0.1:$SCHEDULER_PORT/healthz" | grep -qx ok
}
kwok_ok() { curl -sf --max-time 2 "http://127.0.0.1:$KWOK_PORT/healthz" | grep -qx ok; }
default_sa_ok() { api_get /api/v1/namespaces/default/serviceaccounts/default; }

# running: DIR holds a healthy cluster of the wanted shape (says so). A subshell, so that the old
# cluster.env never leaks into this run's settings.
running() (
  [ -f "$DIR/cluster.env" ] || exit 1
  # shellcheck disable=SC1091
  . "$DIR/cluster.env"
  for c in "${PIM_COMPONENTS[@]}"; do owned_pid "$DIR" "$c" >/dev/null || exit 1; done
  apiserver_ok || exit 1
  if [ "$ADVERTISE_IP" != "${PIM_CLUSTER_ADVERTISE_IP:-}" ]; then
    say "the cluster in $DIR advertises '$ADVERTISE_IP', not '${PIM_CLUSTER_ADVERTISE_IP:-}'; restarting it"
    exit 1
  fi
  say "already running in $DIR ($APISERVER_URL); KUBECONFIG=$KUBECONFIG"
)

node_hook() {
  if [ "${PIM_CLUSTER_NODE:-0}" = 1 ] && [ -x "$here/node-up.sh" ]; then "$here/node-up.sh" "$DIR"; fi
}

# ---- PKI: one private CA signs the serving certs; kubeconfigs verify against it ----
gen_pki() {
  mkdir -p "$PKI/serving"
  local sans="IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default"
  sans+=",DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  [ -z "$ADVERTISE_IP" ] || sans+=",IP:$ADVERTISE_IP"
  cat >"$PKI/openssl.cnf" <<EOF
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[apiserver]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $sans
[components]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
EOF
  ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
  ec_key "$PKI/ca.key"
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=pim-cluster-ca" -days 3650 \
    -config "$PKI/openssl.cnf" -extensions ca -out "$PKI/ca.crt"
  sign() { # sign NAME SUBJECT EXTENSIONS
    ec_key "$PKI/$1.key"
    openssl req -new -key "$PKI/$1.key" -subj "$2" -config "$PKI/openssl.cnf" -out "$PKI/$1.csr"
    openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
      -set_serial "0x$(openssl rand -hex 12)" -days 365 -extfile "$PKI/openssl.cnf" \
      -extensions "$3" -out "$PKI/$1.crt" 2>/dev/null
    rm -f "$PKI/$1.csr"
  }
  sign apiserver "/CN=kube-apiserver" apiserver
  sign components "/CN=pim-cluster-components" components
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" client
  # The aggregation layer (metrics-server for HPA, say) trusts requests proxied with this identity.
  sign front-proxy-client "/CN=front-proxy-client" client
  # Service-account tokens are signed with RSA, which every JWT consumer accepts.
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
  openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"
  # token,user,uid,"groups": kubeconfig identities for people and components.
  tok() { openssl rand -hex 24; }
  {
    echo "$(tok),admin,admin,\"system:masters\""
    echo "$(tok),system:kube-controller-manager,kube-controller-manager"
    echo "$(tok),system:kube-scheduler,kube-scheduler"
    echo "$(tok),system:node:$NODE_NAME,node-$NODE_NAME,\"system:nodes\""
    echo "$(tok),system:kube-proxy,kube-proxy"
  } >"$PKI/tokens.csv"
  chmod 600 "$PKI"/*.key "$PKI/tokens.csv"
}

# write_kubeconfig FILE USER: a kubeconfig for USER's token from tokens.csv.
write_kubeconfig() {
  local token
  token=$(awk -F, -v u="$2" '$2 == u { print $1 }' "$PKI/tokens.csv")
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: pim
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    token: $token
contexts:
- name: pim
  context: {cluster: pim, user: "$2"}
current-context: pim
EOF
  chmod 600 "$1"
}

write_env() {
  {
    for v in PIM_CLUSTER_DIR KUBECONFIG APISERVER_URL APISERVER_PORT ETCD_PORT ETCD_PEER_PORT KCM_PORT \
      SCHEDULER_PORT KWOK_PORT ADVERTISE_IP SERVICE_CIDR SERVICE_IP CLUSTER_DNS_IP NODE_NAME \
      NODE_KUBECONFIG PROXY_KUBECONFIG CA_CERT CA_KEY SA_KEY SA_PUB APISERVER_CERT APISERVER_KEY \
      KUBELET_CLIENT_CERT KUBELET_CLIENT_KEY K8S_VERSION K8S_BIN ETCD_BIN KWOK_BIN; do
      printf '%s=%q\n' "$v" "${!v}"
    done
  } >"$DIR/cluster.env.tmp"
  mv "$DIR/cluster.env.tmp" "$DIR/cluster.env"
}

start=$(now)
if running; then
  node_hook
  exit 0
fi

# A non-empty directory is only ever reused if it holds a cluster of ours (crashed or stopped).
if [ -n "$(ls -A "$DIR")" ]; then
  if [ ! -e "$DIR/$PIM_MARKER" ]; then
    warn "$DIR is not empty and holds no cluster state ($PIM_MARKER missing); refusing to use it"
    exit 1
  fi
  say "cleaning the previous (stopped, crashed or differently configured) cluster in $DIR"
  "$here/down.sh" "$DIR"
  start=$(now)
fi

missing=()
for c in "${PIM_COMPONENTS[@]}"; do [ -x "${BIN[$c]}" ] || missing+=("${BIN[$c]}"); done
if [ ${#missing[@]} -gt 0 ]; then
  warn "missing binaries (build them with hack/cluster/build.sh): ${missing[*]}"
  exit 1
fi

mkdir -p "$DIR/logs" "$DIR/pids" "$DIR/etcd" "$DIR/flexvolume"
chmod 700 "$DIR/etcd"
touch "$DIR/$PIM_MARKER"
started=0
on_exit() {
  local rc=$?
  if [ $rc != 0 ] && [ $started = 1 ]; then
    warn "bring-up failed after $(elapsed "$start")s; stopping what was started (logs kept in $DIR/logs)"
    PIM_KEEP_LOGS=1 "$here/down.sh" "$DIR" >&2 || true
  fi
  exit $rc
}
trap on_exit EXIT

read -r ETCD_PORT ETCD_PEER_PORT APISERVER_PORT KCM_PORT SCHEDULER_PORT KWOK_PORT < <(free_ports 6)
PIM_CLUSTER_DIR=$DIR
KUBECONFIG=$DIR/kubeconfig
APISERVER_URL=https://127.0.0.1:$APISERVER_PORT
NODE_KUBECONFIG=$DIR/node.kubeconfig
PROXY_KUBECONFIG=$DIR/proxy.kubeconfig
CA_CERT=$PKI/ca.crt CA_KEY=$PKI/ca.key SA_KEY=$PKI/sa.key SA_PUB=$PKI/sa.pub
APISERVER_CERT=$PKI/apiserver.crt APISERVER_KEY=$PKI/apiserver.key
KUBELET_CLIENT_CERT=$PKI/apiserver-kubelet-client.crt KUBELET_CLIENT_KEY=$PKI/apiserver-kubelet-client.key

gen_pki
write_kubeconfig "$KUBECONFIG" admin
write_kubeconfig "$NODE_KUBECONFIG" "system:node:$NODE_NAME"
write_kubeconfig "$PROXY_KUBECONFIG" system:kube-proxy
write_kubeconfig "$DIR/controller-manager.kubeconfig" system:kube-controller-manager
write_kubeconfig "$DIR/scheduler.kubeconfig" system:kube-scheduler
write_env
deadline=$(awk -v s="$start" -v t="$TIMEOUT" 'BEGIN { printf "%.3f", s + t }')

started=1
start_component "$DIR" etcd "${BIN[etcd]}" --name=pim --data-dir="$DIR/etcd" --unsafe-no-fsync \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="pim=http://127.0.0.1:$ETCD_PEER_PORT" --log-level=warn
wait_for "$DIR" etcd "$deadline" "etcd /health" etcd_ok

# Without an address pods can reach, the `kubernetes` Service gets no endpoints: Endpoints may not
# name a loopback address.
if [ -n "$ADVERTISE_IP" ]; then
  bind=0.0.0.0 advertise=$ADVERTISE_IP reconciler=lease
else
  bind=127.0.0.1 advertise=127.0.0.1 reconciler=none
fi
start_component "$DIR" kube-apiserver "${BIN[kube-apiserver]}" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address="$bind" --advertise-address="$advertise" --secure-port="$APISERVER_PORT" \
  --endpoint-reconciler-type="$reconciler" \
  --cert-dir="$PKI/serving" --tls-cert-file="$APISERVER_CERT" --tls-private-key-file="$APISERVER_KEY" \
  --client-ca-file="$CA_CERT" --token-auth-file="$PKI/tokens.csv" \
  --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,NodeRestriction,PodSecurity,DefaultTolerationSeconds,ResourceQuota \
  --allow-privileged=true \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$SA_PUB" --service-account-signing-key-file="$SA_KEY" \
  --kubelet-client-certificate="$KUBELET_CLIENT_CERT" --kubelet-client-key="$KUBELET_CLIENT_KEY" \
  --kubelet-preferred-address-types=InternalIP,Hostname \
  --requestheader-client-ca-file="$CA_CERT" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --profiling=false
wait_for "$DIR" kube-apiserver "$deadline" "kube-apiserver /readyz" apiserver_ok

start_component "$DIR" kube-controller-manager "${BIN[kube-controller-manager]}" \
  --kubeconfig="$DIR/controller-manager.kubeconfig" --leader-elect=false --controllers='*' \
  --authentication-kubeconfig="$DIR/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$DIR/controller-manager.kubeconfig" \
  --flex-volume-plugin-dir="$DIR/flexvolume" \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$SA_KEY" --root-ca-file="$CA_CERT" \
  --cluster-signing-cert-file="$CA_CERT" --cluster-signing-key-file="$CA_KEY" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --tls-cert-file="$PKI/components.crt" --tls-private-key-file="$PKI/components.key" \
  --profiling=false
start_component "$DIR" kube-scheduler "${BIN[kube-scheduler]}" \
  --kubeconfig="$DIR/scheduler.kubeconfig" --leader-elect=false \
  --authentication-kubeconfig="$DIR/scheduler.kubeconfig" \
  --authorization-kubeconfig="$DIR/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" \
  --tls-cert-file="$PKI/components.crt" --tls-private-key-file="$PKI/components.key" \
  --profiling=false
# An explicit (empty) configuration keeps ~/.kwok/kwok.yaml out; fake pod IPs come from a range
# nothing on this machine routes, and fake nodes report loopback so no traffic can leave the host.
printf 'apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\n' >"$DIR/kwok.yaml"
start_component "$DIR" kwok "${BIN[kwok]}" --config="$DIR/kwok.yaml" --kubeconfig="$KUBECONFIG" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-lease-duration-seconds=40 --cidr=10.245.0.1/16 --node-ip=127.0.0.1 \
  --server-address="127.0.0.1:$KWOK_PORT"

wait_for "$DIR" kube-controller-manager "$deadline" "kube-controller-manager /healthz" kcm_ok
wait_for "$DIR" kube-scheduler "$deadline" "kube-scheduler /healthz" scheduler_ok
wait_for "$DIR" kwok "$deadline" "kwok /healthz" kwok_ok
wait_for "$DIR" kube-controller-manager "$deadline" "the default ServiceAccount" default_sa_ok

if [ -n "${PIM_CLUSTER_OWNER_PID:-}" ]; then
  # Watchdog: a test run killed before its teardown must not leave a cluster behind.
  # shellcheck disable=SC2016 # expanded by the watchdog's shell
  setsid bash -c 'while kill -0 "$0" 2>/dev/null && [ -e "$1/pids/watchdog.pid" ]; do sleep 2; done
    [ -e "$1/pids/watchdog.pid" ] && exec "$2" "$1"' \
    "$PIM_CLUSTER_OWNER_PID" "$DIR/" "$here/down.sh" </dev/null >>"$DIR/logs/watchdog.log" 2>&1 &
  echo $! >"$DIR/pids/watchdog.pid"
fi

say "ready in $(elapsed "$start")s: $APISERVER_URL (k8s v$K8S_VERSION); KUBECONFIG=$KUBECONFIG"
node_hook
