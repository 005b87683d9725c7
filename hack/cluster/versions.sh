# Versions and cache locations of the local cluster's binaries; sourced by the hack/cluster scripts.
# shellcheck shell=bash
K8S_VERSION=${K8S_VERSION:-1.34.4}
ETCD_VERSION=${ETCD_VERSION:-3.5.35}
KWOK_VERSION=${KWOK_VERSION:-0.7.0}
# Debian's prometheus is built without kubernetes_sd_configs: the e2e suite builds upstream's.
PROMETHEUS_MODULE_VERSION=${PROMETHEUS_MODULE_VERSION:-0.316.0}
# NetworkPolicy on the embedded node (firewall only) and kind's CNI: see components/kube-router.sh.
KUBE_ROUTER_VERSION=${KUBE_ROUTER_VERSION:-2.1.0}
PIM_CACHE_DIR=${PIM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pim-operator}
K8S_BIN=$PIM_CACHE_DIR/k8s-v$K8S_VERSION
ETCD_BIN=$PIM_CACHE_DIR/etcd-v$ETCD_VERSION
KWOK_BIN=$PIM_CACHE_DIR/kwok-v$KWOK_VERSION
PROMETHEUS_BIN=$PIM_CACHE_DIR/prometheus-v$PROMETHEUS_MODULE_VERSION
KUBE_ROUTER_BIN=$PIM_CACHE_DIR/kube-router-v$KUBE_ROUTER_VERSION
export K8S_VERSION ETCD_VERSION KWOK_VERSION PROMETHEUS_MODULE_VERSION KUBE_ROUTER_VERSION PIM_CACHE_DIR K8S_BIN \
  ETCD_BIN KWOK_BIN PROMETHEUS_BIN KUBE_ROUTER_BIN
