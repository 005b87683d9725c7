#!/usr/bin/env bash
# Restart components of the local cluster in DIR in place, with the flags and settings up.sh gave
# them (DIR/cluster.env, DIR/node/node.env): for fault tests (an apiserver or etcd restart, a
# kubelet + containerd restart) and for trying a changed flag by hand.
#
# usage: restart.sh [--signal TERM|KILL|...] [--down SECONDS] [--between COMMAND] DIR COMPONENT...
#
#   COMPONENT   etcd kube-apiserver kube-controller-manager kube-scheduler kwok, and on a cluster
#               with a node containerd kubelet kube-proxy kube-router
#   --signal    how to stop them (default TERM, with a 20 s grace before KILL; KILL = a crash)
#   --down      seconds to stay stopped before starting again (default 0)
#   --between   a shell command to run while they are all stopped (a fault test kills a pod's
#               process there, as a reboot would)
#
# Whatever order they are given in, the components are stopped in the reverse of the start order
# (clients first: the kubelet before containerd, the apiserver before etcd) and started in the
# start order, each waited for until healthy (PIM_CLUSTER_TIMEOUT, default 90 s). Containers keep
# running across a containerd restart (their shims are separate processes). Logs continue in
# DIR/logs/NAME.log. What was stopped is always started again: a --between command that fails, or a
# process that survives its signal, is reported (and the exit status says so) only after the restart,
# so a failed fault test never leaves the cluster down for the tests after it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/cluster/lib.sh
. "$here/lib.sh"

usage() { log::die "usage: restart.sh [--signal SIGNAL] [--down SECONDS] [--between COMMAND] DIR COMPONENT..."; }
signal=TERM down=0 between=
while [[ ${1:-} == --* ]]; do
  case $1 in
    --signal) signal=${2#SIG}; shift 2 ;;
    --down) down=$2; shift 2 ;;
    --between) between=$2; shift 2 ;;
    *) usage ;;
  esac
done
(($# >= 2)) || usage
DIR=$(cluster::dir "$1")
shift
[ -f "$DIR/cluster.env" ] || log::die "no cluster in $DIR"
cluster::load_env "$DIR"
all=("${CONTROL_PLANE[@]}" "${NODE_COMPONENTS[@]}")
for c; do
  [[ " ${all[*]} " == *" $c "* ]] || log::die "unknown component $c (one of ${all[*]})"
  [[ " ${CONTROL_PLANE[*]} " == *" $c "* ]] || [ -f "$DIR/node/node.env" ] ||
    log::die "$c: the cluster in $DIR has no node"
done
ordered=()
for c in "${all[@]}"; do [[ " $* " != *" $c "* ]] || ordered+=("$c"); done

start=$(log::now)
failures=()
for ((i = ${#ordered[@]} - 1; i >= 0; i--)); do
  c=${ordered[$i]}
  mapfile -t procs < <(component::pids "$DIR" "$c")
  if [ ${#procs[@]} = 0 ]; then
    log::info "$c was not running"
    continue
  fi
  if proc::signal "$signal" 20 "${procs[@]%% *}"; then
    log::info "$c stopped (SIG$signal, pid ${procs[*]%% *})"
  else
    failures+=("$c survived SIG$signal (pid ${procs[*]%% *})")
  fi
done
if [ -n "$between" ]; then
  log::info "running: $between"
  rc=0
  bash -c "$between" || rc=$?
  [ $rc = 0 ] || failures+=("the --between command exited $rc: $between")
fi
if [ "$down" != 0 ]; then
  log::info "staying down for ${down}s"
  sleep "$down"
fi
deadline=$(proc::deadline "${PIM_CLUSTER_TIMEOUT:-90}")
for c in "${ordered[@]}"; do
  component::start "$DIR" "$c"
  component::wait "$DIR" "$c" "$deadline" || log::die "$c did not come back (see its log above)"
done
log::info "restarted ${ordered[*]} in $(log::since "$start")s"
((${#failures[@]} == 0)) || log::die "restarted, but: $(printf "%s; " "${failures[@]}")"
