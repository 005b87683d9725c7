# Shared shell functions of the local control plane (up.sh, down.sh, and node-up.sh/node-down.sh).
#
# Every process is started detached (setsid), with its pid in $DIR/pids/NAME.pid and its log in
# $DIR/logs/NAME.log, and is only ever signalled by that pid after checking that its command line
# still names $DIR: a recycled pid belonging to someone else is never touched.
# shellcheck shell=bash disable=SC2034 # the variables below are used by the scripts sourcing this

# Control-plane components in start order; down.sh stops them in reverse.
PIM_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
# Marks a directory as a cluster state directory, so nothing else is ever wiped by mistake.
PIM_MARKER=.pim-cluster

say() { printf '[cluster] %s\n' "$*"; }
warn() { printf '[cluster] %s\n' "$*" >&2; }

# resolve_dir [DIR]: the state directory, absolute (default $PIM_CLUSTER_DIR or <repo>/.cluster).
resolve_dir() {
  local repo dir
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  dir=${1:-${PIM_CLUSTER_DIR:-$repo/.cluster}}
  realpath -m -- "$dir"
}

# now: seconds since the epoch, with milliseconds.
now() { date +%s.%3N; }

# elapsed START: seconds since START, one decimal.
elapsed() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

# free_ports N: N distinct TCP ports that are free right now on every interface.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# owned_pid DIR NAME: print the recorded pid of NAME if that process is alive and its command line
# names DIR (so it really is ours); fail otherwise.
owned_pid() {
  local dir=$1 name=$2 pid
  [ -s "$dir/pids/$name.pid" ] || return 1
  pid=$(<"$dir/pids/$name.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  is_ours "$dir" "$pid" || return 1
  echo "$pid"
}

# is_ours DIR PID: PID is alive, not a zombie, and its command line mentions DIR.
is_ours() {
  local dir=$1 pid=$2 state
  [ -r "/proc/$pid/cmdline" ] || return 1
  state=$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || return 1
  [ "$state" != Z ] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/"
}

# stray_pids DIR NAME...: pids of live processes whose executable is one of NAMEs and whose command
# line mentions DIR, whether or not a pid file records them (a crashed up.sh may have lost it).
stray_pids() {
  local dir=$1 pid comm
  shift
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    read -r comm 2>/dev/null <"$p/comm" || continue
    for name in "$@"; do
      # comm is truncated to 15 characters (kube-controller-manager -> kube-controller).
      if [ "$comm" = "${name:0:15}" ] && is_ours "$dir" "$pid"; then
        echo "$pid"
        break
      fi
    done
  done
}

# start_component DIR NAME BINARY ARGS...: run detached, log to DIR/logs/NAME.log, record the pid.
start_component() {
  local dir=$1 name=$2
  shift 2
  [ -x "$1" ] || { warn "$name: binary $1 is missing; run hack/cluster/build.sh"; return 1; }
  printf '%q ' "$@" >"$dir/logs/$name.cmd"
  setsid "$@" </dev/null >>"$dir/logs/$name.log" 2>&1 &
  echo $! >"$dir/pids/$name.pid"
}

# log_tail DIR NAME [LINES]: the end of a component's log, for failure messages.
log_tail() {
  local dir=$1 name=$2 lines=${3:-40}
  warn "---- last $lines lines of $dir/logs/$name.log ----"
  tail -n "$lines" "$dir/logs/$name.log" >&2 2>/dev/null || warn "(no log)"
  warn "---- end of $name.log ----"
}

# wait_for DIR NAME DEADLINE WHAT COMMAND...: poll COMMAND until it succeeds. Fails, showing NAME's
# log, when NAME's process dies or the DEADLINE (epoch seconds) passes.
wait_for() {
  local dir=$1 name=$2 deadline=$3 what=$4
  shift 4
  until "$@" >/dev/null 2>&1; do
    if ! owned_pid "$dir" "$name" >/dev/null; then
      warn "$name exited while waiting for $what"
      log_tail "$dir" "$name"
      return 1
    fi
    if awk -v d="$deadline" -v n="$(now)" 'BEGIN { exit !(n > d) }'; then
      warn "timed out waiting for $what"
      log_tail "$dir" "$name"
      return 1
    fi
    sleep 0.2
  done
}

# stop_pids DEADLINE_SECONDS PID...: TERM, wait up to the deadline, then KILL whatever is left.
# Fails if any pid survives the KILL.
stop_pids() {
  local grace=$1 pid left i
  shift
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    left=()
    for pid in "$@"; do alive "$pid" && left+=("$pid"); done
    [ ${#left[@]} -gt 0 ] || return 0
    sleep 0.1
  done
  warn "still running after ${grace}s, killing: ${left[*]}"
  kill -KILL "${left[@]}" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    left=()
    for pid in "$@"; do alive "$pid" && left+=("$pid"); done
    [ ${#left[@]} -gt 0 ] || return 0
    sleep 0.1
  done
  warn "survived KILL: ${left[*]}"
  return 1
}

# alive PID: the process exists and is not a zombie.
alive() {
  local state
  state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}
