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

# ours NAME...: pids of NAMEs recorded in DIR, plus unrecorded ones whose command line names DIR (a
# crashed up.sh may have lost a pid file). Never this script itself: the watchdog execs down.sh.
ours() {
  local name
  {
    for name in "$@"; do owned_pid "$DIR" "$name" || true; done
    stray_pids "$DIR" "$@"
  } | sort -u | grep -vx "$$" || true
}

# Clients before servers: the API server drains its clients' requests before it exits.
stopped=0
rc=0
for group in "watchdog kwok kube-scheduler kube-controller-manager" kube-apiserver etcd; do
  # shellcheck disable=SC2086 # the group is a word list
  mapfile -t pids < <(ours $group)
  stopped=$((stopped + ${#pids[@]}))
  stop_pids 20 "${pids[@]}" || rc=1
done

mapfile -t left < <(ours "${PIM_COMPONENTS[@]}")
if [ ${#left[@]} -gt 0 ]; then
  warn "FAILED: processes of $DIR survived: $(ps -o pid=,args= -p "$(IFS=,; echo "${left[*]}")" | cut -c1-200)"
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
