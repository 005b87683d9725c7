#!/usr/bin/env bash
# Stop the local cluster in DIR (started by up.sh) and remove its state; say what was stopped.
#
# usage: down.sh [DIR]   (default DIR: $PIM_CLUSTER_DIR or <repo>/.cluster)
#
# The node first (node-down.sh), then every recorded process by pid (TERM, a deadline, then KILL),
# clients before servers; then it looks for any component process still naming DIR and fails if
# one survives. Idempotent: exits 0 when nothing runs. PIM_KEEP_LOGS=1 keeps DIR/logs (and the
# marker, so up.sh may reuse DIR).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/cluster/lib.sh
. "$here/lib.sh"

DIR=$(cluster::dir "${1:-}")
start=$(log::now)
if [ ! -e "$DIR/$PIM_MARKER" ]; then
  log::info "no cluster in $DIR; nothing to stop"
  exit 0
fi
"$here/node-down.sh" "$DIR" || log::warn "node-down.sh failed; continuing"

# Clients before servers: the API server drains its clients' requests before it exits.
stopped=()
rc=0
for group in "watchdog kwok kube-scheduler kube-controller-manager" kube-apiserver etcd; do
  # shellcheck disable=SC2086 # the group is a word list
  mapfile -t procs < <(component::pids "$DIR" $group)
  [ ${#procs[@]} -gt 0 ] || continue
  proc::stop 20 "${procs[@]%% *}" || rc=1
  for p in "${procs[@]}"; do stopped+=("${p#* } (pid ${p%% *})"); done
done

mapfile -t left < <(component::pids "$DIR" "${CONTROL_PLANE[@]}")
[ ${#left[@]} = 0 ] || log::die "processes of $DIR survived: ${left[*]}"
[ $rc = 0 ] || log::die "a process of $DIR could not be stopped"

rm -rf "${DIR:?}/etcd" "$DIR/pki" "$DIR/pids" "$DIR/cluster.env" "$DIR/kubeconfig" "$DIR"/*.kubeconfig \
  "$DIR/kwok.yaml" "$DIR/flexvolume"
if [ "${PIM_KEEP_LOGS:-0}" = 1 ]; then
  log::info "logs kept in $DIR/logs"
else
  rm -rf "$DIR/logs" "${DIR:?}/$PIM_MARKER"
  rmdir "$DIR" 2>/dev/null || true
fi
if [ ${#stopped[@]} = 0 ]; then
  log::info "nothing of $DIR was running; state removed in $(log::since "$start")s"
else
  list=$(printf '%s, ' "${stopped[@]}")
  log::info "stopped ${list%, } in $(log::since "$start")s; nothing of $DIR is left running"
fi
