#!/usr/bin/env bash
# Stop the local control plane in DIR (started by up.sh) and remove its state.
#
# usage: down.sh [DIR]   (default DIR: $PIM_CLUSTER_DIR or <repo>/.cluster)
#
# Stops every recorded process by pid (TERM, a deadline, then KILL), clients before servers, then
# looks for any etcd/kube-*/kwok process still naming DIR and fails if one survives. Idempotent:
# exits 0 when nothing runs. PIM_KEEP_LOGS=1 keeps DIR/logs (and the marker, so up.sh may reuse DIR).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/cluster/lib.sh
. "$here/lib.sh"

DIR=$(resolve_dir "${1:-}")
start=$(now)
if [ ! -e "$DIR/$PIM_MARKER" ]; then
  say "no cluster in $DIR; nothing to stop"
  exit 0
fi
if [ -x "$here/node-down.sh" ]; then "$here/node-down.sh" "$DIR" || warn "node-down.sh failed; continuing"; fi

# recorded NAME...: pids of NAMEs recorded in DIR and still ours (never this script itself: the
# watchdog execs down.sh under its own pid).
recorded() {
  local name pid
  for name in "$@"; do
    pid=$(owned_pid "$DIR" "$name") || continue
    [ "$pid" = $$ ] || echo "$pid"
  done
}

stopped=0
stop_group() {
  local grace=$1 pids
  shift
  mapfile -t pids < <(recorded "$@")
  stopped=$((stopped + ${#pids[@]}))
  stop_pids "$grace" "${pids[@]}"
}
rc=0
stop_group 10 watchdog kwok kube-scheduler kube-controller-manager || rc=1
stop_group 20 kube-apiserver || rc=1
stop_group 10 etcd || rc=1

# Anything left that names DIR was lost from the pid files (a crashed up.sh): ours, so stop it too.
mapfile -t strays < <(stray_pids "$DIR" "${PIM_COMPONENTS[@]}")
if [ ${#strays[@]} -gt 0 ]; then
  warn "stopping unrecorded processes of $DIR: ${strays[*]}"
  stopped=$((stopped + ${#strays[@]}))
  stop_pids 10 "${strays[@]}" || rc=1
fi
mapfile -t strays < <(stray_pids "$DIR" "${PIM_COMPONENTS[@]}")
if [ ${#strays[@]} -gt 0 ]; then
  warn "FAILED: processes of $DIR survived: $(ps -o pid=,args= -p "$(IFS=,; echo "${strays[*]}")" | cut -c1-200)"
  exit 1
fi
[ $rc = 0 ] || { warn "FAILED: a process of $DIR could not be stopped"; exit 1; }

rm -rf "${DIR:?}/etcd" "$DIR/pki" "$DIR/pids" "$DIR/cluster.env" "$DIR/kubeconfig" "$DIR"/*.kubeconfig \
  "$DIR/kwok.yaml" "$DIR/flexvolume"
if [ "${PIM_KEEP_LOGS:-0}" = 1 ]; then
  say "logs kept in $DIR/logs"
else
  rm -rf "$DIR/logs" "${DIR:?}/$PIM_MARKER"
  rmdir "$DIR" 2>/dev/null || true
fi
say "stopped $stopped processes in $(elapsed "$start")s; nothing of $DIR is left running"
