# What the hack/cluster scripts share; sourced, never run.
# shellcheck shell=bash disable=SC2034 # the variables below are used by the scripts sourcing this
#
# Layout (after kwokctl's binary runtime): one file per component under components/, each with
#   NAME::binary          the executable
#   NAME::start DIR       start it detached (proc::start), with the settings of DIR/cluster.env
#                         (and DIR/node/node.env for the node's components)
#   NAME::health          succeeds once it serves
# plus pki.sh (the CA, certificates and tokens) and kubeconfig.sh. up.sh and node-up.sh call them
# in order; restart.sh restarts any of them in place; down.sh and node-down.sh stop them.
#
#   cluster::dir [DIR]                 the state directory, absolute ($PIM_CLUSTER_DIR or <repo>/.cluster)
#   cluster::load_env DIR              source DIR/cluster.env and, if present, DIR/node/node.env
#   cluster::write_env FILE VAR...     write VAR=value lines (shell-quoted), atomically
#   component::start DIR NAME          NAME::start, logged
#   component::wait DIR NAME DEADLINE  until NAME::health succeeds (fails if NAME exits or the
#                                      deadline passes, showing NAME's log)
#   component::pids DIR NAME...        "pid name" of every live process of NAMEs that is DIR's
here_cluster=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/lib/init.sh
. "$here_cluster/../lib/init.sh"
# shellcheck source=hack/lib/proc.sh
. "$PIM_HACK/lib/proc.sh"
# shellcheck source=hack/lib/ports.sh
. "$PIM_HACK/lib/ports.sh"
# shellcheck source=hack/cluster/versions.sh
. "$here_cluster/versions.sh"
# shellcheck source=hack/cluster/pki.sh
. "$here_cluster/pki.sh"
# shellcheck source=hack/cluster/kubeconfig.sh
. "$here_cluster/kubeconfig.sh"
for component_file in "$here_cluster"/components/*.sh; do
  # shellcheck disable=SC1090
  . "$component_file"
done
unset component_file

# Components in start order; down.sh stops them in reverse.
CONTROL_PLANE=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
NODE_COMPONENTS=(containerd kubelet kube-proxy kube-router)
# Marks a directory as a cluster state directory, so nothing else is ever wiped by mistake.
PIM_MARKER=.pim-cluster
PIM_LOG_SCOPE=${PIM_LOG_SCOPE:-cluster}

cluster::dir() { realpath -m -- "${1:-${PIM_CLUSTER_DIR:-$PIM_REPO/.cluster}}"; }

cluster::load_env() {
  # shellcheck disable=SC1091
  . "$1/cluster.env"
  # shellcheck disable=SC1091
  if [ -f "$1/node/node.env" ]; then . "$1/node/node.env"; fi
}

cluster::write_env() {
  local file=$1 v
  shift
  for v; do printf '%s=%q\n' "$v" "${!v}"; done >"$file.tmp"
  mv "$file.tmp" "$file"
}

component::start() {
  "$2::start" "$1" || log::die "$2 did not start"
  log::info "$2 started (pid $(cat "$1/pids/$2.pid"))"
}

component::wait() {
  local t0
  t0=$(log::now)
  proc::wait "$1" "$2" "$3" "$2 to be healthy" "$2::health" || return 1
  log::info "$2 healthy after $(log::since "$t0")s"
}

component::pids() {
  local dir=$1 name pid comm
  {
    for name in "${@:2}"; do
      if pid=$(proc::pid "$dir" "$name"); then echo "$pid $name"; fi
    done
    for pid in $(proc::strays "$dir" "${@:2}"); do
      read -r comm <"/proc/$pid/comm" 2>/dev/null || comm='?'
      echo "$pid $comm"
    done
  } | sort -un -k1,1 | awk -v self="$$" '$1 != self'
}
