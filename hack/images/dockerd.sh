#!/usr/bin/env bash
# Start or stop a dockerd of our own when none answers, so image builds work on a fresh machine.
#
#   dockerd.sh start [--owner WHO]   no-op (silent) if `docker info` already answers (ours or
#                                    anyone's); otherwise start one and record WHO started it
#   dockerd.sh stop [--owner WHO]    stop the dockerd these scripts started (by its pidfile); with
#                                    --owner, only if WHO started it (`make down` stops the one
#                                    `make up` started, never one someone else relies on)
#
# The default ulimit is pinned to the host's hard limit: the VM lacks CAP_SYS_RESOURCE, and
# dockerd's default (1048576) makes every container start fail with "setting rlimit".
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

state=$PIM_CACHE_DIR/dockerd
pidfile=$state/dockerd.pid
ownerfile=$state/owner

running_pid() {
  local pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  # Alive, and still a dockerd (a recycled pid is someone else's).
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] && echo "$pid"
}

start() {
  docker info >/dev/null 2>&1 && return
  command -v dockerd >/dev/null || log::die "dockerd not found (apt-get install docker.io)"
  mkdir -p "$state"
  local nofile
  nofile=$(ulimit -Hn)
  log::info "no Docker engine answers: starting dockerd (log $state/dockerd.log)"
  setsid dockerd --pidfile "$pidfile" --default-ulimit "nofile=$nofile:$nofile" \
    >"$state/dockerd.log" 2>&1 </dev/null &
  echo "$owner" >"$ownerfile"
  local deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || log::die "dockerd did not answer within 60 s; see $state/dockerd.log"
    sleep 0.5
  done
  log::info "dockerd up (pid $(cat "$pidfile"))"
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    [ -z "$owner" ] || log::info "no Docker engine of ours runs (the one answering, if any, was not started by $owner)"
    return 0
  fi
  if [ -n "$owner" ] && [ "$(cat "$ownerfile" 2>/dev/null)" != "$owner" ]; then
    log::info "leaving dockerd (pid $pid) running: ${owner} did not start it"
    return
  fi
  kill "$pid"
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { kill -9 "$pid" 2>/dev/null || true; break; }
    sleep 0.5
  done
  rm -f "$pidfile" "$ownerfile"
  log::info "stopped dockerd (pid $pid, started ${owner:+by $owner }through hack/images/dockerd.sh)"
}

action=${1:-start}
owner=""
[ "${2:-}" != --owner ] || owner=${3:-}
case $action in
  start) start ;;
  stop) stop ;;
  *) log::die "usage: $0 start|stop [--owner WHO]" ;;
esac
