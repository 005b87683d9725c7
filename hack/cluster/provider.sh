# The embedded cluster as a provider of `make up` / `make down` (hack/up.sh, hack/down.sh, with
# CLUSTER=embedded); sourced, never run.
# shellcheck shell=bash
#
# A provider defines, for hack/up.sh and hack/down.sh:
#   provider::build          build everything slow (binaries, images, tools) BEFORE anything
#                            waits on a deadline; cached, so a no-op on a warm machine
#   provider::up             start the cluster; set KUBECONFIG (exported)
#   provider::addons         install the add-ons scaled instances need (hack/addons), built by
#                            provider::build unless PIM_ADDONS=0
#   provider::helm_args      print extra `helm upgrade --install` arguments, one per line
#   provider::reach NS NAME  print how to reach Service NAME in namespace NS from this machine
#   provider::down           stop everything provider::build and provider::up started, saying what
#
# Settings: PIM_CLUSTER_DIR (default <repo>/.cluster).

# shellcheck source=hack/cluster/node/settings.sh
. "$PIM_HACK/cluster/node/settings.sh"
EMBEDDED_DIR=$(realpath -m -- "${PIM_CLUSTER_DIR:-$PIM_REPO/.cluster}")

provider::build() {
  # A Docker engine for the image builds; when this starts one, `make down` stops it again.
  "$PIM_HACK/images/dockerd.sh" start --owner "$EMBEDDED_DIR"
  "$PIM_HACK/cluster/build.sh" etcd
  "$PIM_HACK/cluster/build.sh" kwok
  "$PIM_HACK/cluster/build.sh" k8s
  "$PIM_HACK/cluster/build.sh" kube-router
  "$PIM_HACK/images/build.sh" all
  "$PIM_HACK/images/pause.sh"
  "$PIM_HACK/images/local-path.sh"
  "$PIM_HACK/helm.sh" version --short >/dev/null
  if [ "${PIM_ADDONS:-1}" = 1 ]; then "$PIM_HACK/addons/images.sh" all >/dev/null; fi
}

provider::up() {
  # The images are current (provider::build): the node only imports them.
  PIM_CLUSTER_NODE=1 PIM_NODE_BUILD=0 "$PIM_HACK/cluster/up.sh" "$EMBEDDED_DIR"
  export KUBECONFIG=$EMBEDDED_DIR/kubeconfig
}

provider::addons() {
  "$PIM_HACK/addons/up.sh" "$EMBEDDED_DIR"
}

provider::helm_args() {
  printf '%s\n' --set probeInterval=10 --set "probeNetworks=$POD_CIDR"
}

provider::reach() {
  local ns=$1 name=$2 vip node_port
  vip=$(kubectl get -n "$ns" svc "$name" -o jsonpath='{.spec.clusterIP}:{.spec.ports[0].port}')
  node_port=$(kubectl get -n "$ns" svc "$name" -o jsonpath='{.spec.ports[0].nodePort}')
  cat <<MSG
  curl -s http://$vip/api/v1/users
  curl -s -X POST http://$vip/api/v1/teams -H 'content-type: application/json' -d '{"name":"platform"}'
  curl -s http://$NODE_IP:$node_port/docs   # the NodePort on the node address
  open the API docs: http://$vip/docs
MSG
}

provider::down() {
  "$PIM_HACK/cluster/down.sh" "$EMBEDDED_DIR"
  "$PIM_HACK/images/dockerd.sh" stop --owner "$EMBEDDED_DIR"
}
