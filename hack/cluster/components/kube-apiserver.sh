# kube-apiserver: TLS from the cluster CA, token authentication, Node+RBAC authorization, the
# ServiceAccount, NodeRestriction and PodSecurity admission plugins; the aggregation layer's
# front proxy configured. With ADVERTISE_IP it also serves on every address and advertises that
# one, so pods reach it through the `kubernetes` Service (Endpoints may not name a loopback address).
# shellcheck shell=bash
# Settings (cluster.env): K8S_BIN APISERVER_PORT ETCD_PORT ADVERTISE_IP SERVICE_CIDR PKI.

kube-apiserver::binary() { echo "$K8S_BIN/kube-apiserver"; }

kube-apiserver::start() {
  local dir=$1 bind=127.0.0.1 advertise=127.0.0.1 reconciler=none
  if [ -n "$ADVERTISE_IP" ]; then bind=0.0.0.0 advertise=$ADVERTISE_IP reconciler=lease; fi
  proc::start "$dir" kube-apiserver "$(kube-apiserver::binary)" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address="$bind" --advertise-address="$advertise" --secure-port="$APISERVER_PORT" \
    --endpoint-reconciler-type="$reconciler" \
    --cert-dir="$PKI/serving" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" \
    --authorization-mode=Node,RBAC \
    --enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,NodeRestriction,PodSecurity,DefaultTolerationSeconds,ResourceQuota \
    --allow-privileged=true \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP,Hostname \
    --requestheader-client-ca-file="$PKI/ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
    --profiling=false
}

# kube-apiserver::get PATH: GET PATH as the admin (quiet; fails on an HTTP error).
kube-apiserver::get() {
  curl -sf --max-time 3 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $(pki::token "$PKI" admin)" \
    "https://127.0.0.1:$APISERVER_PORT$1"
}

kube-apiserver::health() { [ "$(kube-apiserver::get /readyz)" = ok ]; }
