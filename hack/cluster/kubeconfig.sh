# Kubeconfigs of the cluster's users and components: the apiserver on loopback, verified against
# the cluster CA, with the user's token from tokens.csv. Sourced by lib.sh.
# shellcheck shell=bash
#
#   kubeconfig::write FILE USER PKI APISERVER_PORT

kubeconfig::write() {
  local file=$1 user=$2 pki=$3 port=$4 token
  token=$(pki::token "$pki" "$user")
  [ -n "$token" ] || log::die "kubeconfig::write: no token for $user in $pki/tokens.csv"
  cat >"$file" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: pim
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority: $pki/ca.crt
users:
- name: $user
  user:
    token: $token
contexts:
- name: pim
  context: {cluster: pim, user: "$user"}
current-context: pim
YAML
  chmod 600 "$file"
}
