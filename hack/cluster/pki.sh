# The cluster's PKI: one private CA signs every serving and client certificate, so TLS is verified
# end to end; people and components authenticate with tokens (tokens.csv). Sourced by lib.sh.
# shellcheck shell=bash
#
#   pki::generate PKI SERVICE_IP ADVERTISE_IP NODE_NAME
#       ca.{crt,key}; apiserver (serving; SANs: loopback, the `kubernetes` Service's IP and names,
#       and ADVERTISE_IP when set); components (serving, loopback: controller-manager, scheduler);
#       apiserver-kubelet-client (system:masters); front-proxy-client; sa.{key,pub} (RSA, which
#       every JWT consumer accepts); tokens.csv (admin, controller-manager, scheduler, the node,
#       kube-proxy, kube-router)
#   pki::token PKI USER     USER's token from tokens.csv

pki::generate() {
  local pki=$1 service_ip=$2 advertise_ip=$3 node_name=$4 sans
  mkdir -p "$pki/serving"
  sans="IP:127.0.0.1,IP:$service_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default"
  sans+=",DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  [ -z "$advertise_ip" ] || sans+=",IP:$advertise_ip"
  cat >"$pki/openssl.cnf" <<CNF
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
CNF
  pki::_ec_key "$pki/ca.key"
  openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=pim-cluster-ca" -days 3650 \
    -config "$pki/openssl.cnf" -extensions ca -out "$pki/ca.crt"
  pki::_sign "$pki" apiserver "/CN=kube-apiserver" apiserver
  pki::_sign "$pki" components "/CN=pim-cluster-components" components
  pki::_sign "$pki" apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" client
  # The aggregation layer (metrics-server for HPA, say) trusts requests proxied with this identity.
  pki::_sign "$pki" front-proxy-client "/CN=front-proxy-client" client
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key" 2>/dev/null
  openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
  # token,user,uid,"groups"
  {
    echo "$(pki::_token),admin,admin,\"system:masters\""
    echo "$(pki::_token),system:kube-controller-manager,kube-controller-manager"
    echo "$(pki::_token),system:kube-scheduler,kube-scheduler"
    echo "$(pki::_token),system:node:$node_name,node-$node_name,\"system:nodes\""
    echo "$(pki::_token),system:kube-proxy,kube-proxy"
    echo "$(pki::_token),system:kube-router,kube-router"
  } >"$pki/tokens.csv"
  chmod 600 "$pki"/*.key "$pki/tokens.csv"
}

pki::token() { awk -F, -v u="$2" '$2 == u { print $1 }' "$1/tokens.csv"; }

pki::_token() { openssl rand -hex 24; }
pki::_ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# pki::_sign PKI NAME SUBJECT EXTENSIONS: a key and a certificate signed by the CA.
pki::_sign() {
  local pki=$1 name=$2
  pki::_ec_key "$pki/$name.key"
  openssl req -new -key "$pki/$name.key" -subj "$3" -config "$pki/openssl.cnf" -out "$pki/$name.csr"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
    -set_serial "0x$(openssl rand -hex 12)" -days 365 -extfile "$pki/openssl.cnf" \
    -extensions "$4" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr"
}
