#!/usr/bin/env bash
# Start or stop a dockerd of our own when none answers, so image builds work on a fresh machine.
#
#   dockerd.sh start   no-op if `docker info` already answers (ours or anyone's)
#   dockerd.sh stop    stops only the dockerd this script started (by its pidfile)
#
# The default ulimit is pinned to the host's hard limit: the VM lacks CAP_SYS_RESOURCE, and
# dockerd's default (1048576) makes every container start fail with "setting rlimit".
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

state=$PIM_CACHE_DIR/dockerd
pidfile=$state/dockerd.pid

running_pid() {
  local pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

start() {
  if docker info >/dev/null 2>&1; then
    log "dockerd already answers"
    return
  fi
  command -v dockerd >/dev/null || die "dockerd not found (apt-get install docker.io)"
  mkdir -p "$state"
  local nofile
  nofile=$(ulimit -Hn)
  log "starting dockerd (log $state/dockerd.log)"
  setsid dockerd --pidfile "$pidfile" --default-ulimit "nofile=$nofile:$nofile" \
    >"$state/dockerd.log" 2>&1 </dev/null &
  local deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "dockerd did not answer within 60 s; see $state/dockerd.log"
    sleep 0.5
  done
  log "dockerd up (pid $(cat "$pidfile"))"
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    log "no dockerd of ours is running"
    return
  fi
  kill "$pid"
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { kill -9 "$pid" 2>/dev/null || true; break; }
    sleep 0.5
  done
  rm -f "$pidfile"
  log "dockerd stopped"
}

case ${1:-start} in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac
