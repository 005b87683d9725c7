# Processes owned by a state directory: started detached, found again by pid file, stopped by pid.
# shellcheck shell=bash
#
# Every process is started detached (setsid), with its pid in DIR/pids/NAME.pid, its command line
# in DIR/logs/NAME.cmd and its output in DIR/logs/NAME.log, and is only ever signalled by that pid
# after checking that its command line still names DIR/: a recycled pid belonging to someone else
# is never touched.
#
#   proc::start DIR NAME BINARY ARGS...    run detached, record pid, command and log
#   proc::pid DIR NAME                     the recorded pid, if that process is alive and ours
#   proc::strays DIR NAME...               live processes named NAME that mention DIR/, recorded or not
#   proc::wait DIR NAME DEADLINE WHAT CMD...
#                                          poll CMD until it succeeds; fail, showing NAME's log, if
#                                          NAME exits or DEADLINE (log::now microseconds) passes
#   proc::stop GRACE PID...                TERM, up to GRACE seconds, then KILL; fails if one survives
#   proc::signal SIGNAL GRACE PID...       the same, starting with SIGNAL (KILL: no grace)
#   proc::alive PID                        exists and is not a zombie
#   proc::log_tail DIR NAME [LINES]        the end of NAME's log, for failure messages
#   proc::deadline SECONDS                 log::now plus SECONDS, for proc::wait

proc::start() {
  local dir=$1 name=$2
  shift 2
  [ -x "$1" ] || { log::warn "$name: $1 is missing or not executable"; return 1; }
  mkdir -p "$dir/logs" "$dir/pids"
  printf '%q ' "$@" >"$dir/logs/$name.cmd"
  setsid "$@" </dev/null >>"$dir/logs/$name.log" 2>&1 &
  local pid=$! i
  echo "$pid" >"$dir/pids/$name.pid"
  # Until the child has exec'd, /proc/PID/cmdline is this shell's: proc::pid would take the
  # process for someone else's, and a health wait would report it gone with an empty log.
  for ((i = 0; i < 200; i++)); do
    proc::_ours "$dir" "$pid" && return 0
    proc::alive "$pid" || return 0 # exited already: the health wait reports it, with its log
    sleep 0.05
  done
  log::warn "$name (pid $pid) did not start $1 within 10s"
  return 1
}

proc::pid() {
  local dir=$1 name=$2 pid
  [ -s "$dir/pids/$name.pid" ] || return 1
  pid=$(<"$dir/pids/$name.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  proc::_ours "$dir" "$pid" || return 1
  echo "$pid"
}

# proc::_ours DIR PID: PID is alive and its command line mentions DIR/.
proc::_ours() {
  proc::alive "$2" || return 1
  tr '\0' '\n' 2>/dev/null <"/proc/$2/cmdline" | grep -qF -- "$1/"
}

proc::strays() {
  local dir=$1 p pid comm name
  shift
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    read -r comm 2>/dev/null <"$p/comm" || continue
    for name in "$@"; do
      # comm is truncated to 15 characters (kube-controller-manager -> kube-controller).
      if [ "$comm" = "${name:0:15}" ] && proc::_ours "$dir" "$pid"; then
        echo "$pid"
        break
      fi
    done
  done
}

proc::deadline() { echo $(($(log::now) + $1 * 1000000)); }

proc::wait() {
  local dir=$1 name=$2 deadline=$3 what=$4
  shift 4
  until "$@" >/dev/null 2>&1; do
    if ! proc::pid "$dir" "$name" >/dev/null; then
      log::warn "$name $(proc::_how_it_ended "$dir" "$name") while waiting for $what"
      proc::log_tail "$dir" "$name"
      return 1
    fi
    if (($(log::now) > deadline)); then
      log::warn "timed out waiting for $what"
      proc::log_tail "$dir" "$name"
      return 1
    fi
    sleep 0.2
  done
}

# proc::_how_it_ended DIR NAME: "exited with status N" or "was killed by signal N" when NAME was
# started by this shell (its exit status is ours to collect), else "exited".
proc::_how_it_ended() {
  local pid rc=0
  pid=$(cat "$1/pids/$2.pid" 2>/dev/null) || { echo exited; return; }
  proc::alive "$pid" && { echo "(pid $pid) is no longer $1's"; return; }
  wait "$pid" 2>/dev/null || rc=$?
  if ((rc == 127)); then echo exited
  elif ((rc > 128)); then echo "was killed by signal $((rc - 128))"
  else echo "exited with status $rc"; fi
}

proc::log_tail() {
  local dir=$1 name=$2 lines=${3:-40}
  log::warn "---- last $lines lines of $dir/logs/$name.log ----"
  tail -n "$lines" "$dir/logs/$name.log" >&2 2>/dev/null || log::warn "(no log)"
  log::warn "---- end of $name.log ----"
}

proc::stop() { proc::signal TERM "$@"; }

proc::signal() {
  local sig=$1 grace=$2 left
  shift 2
  [ $# -gt 0 ] || return 0
  kill "-$sig" "$@" 2>/dev/null || true
  if [ "$sig" != KILL ] && proc::_wait_gone "$((grace * 10))" "$@"; then return 0; fi
  [ "$sig" = KILL ] || log::warn "still running after ${grace}s, killing: $*"
  kill -KILL "$@" 2>/dev/null || true
  proc::_wait_gone 50 "$@" && return 0
  mapfile -t left < <(for p; do proc::alive "$p" && echo "$p"; done)
  log::warn "survived KILL: ${left[*]}"
  return 1
}

# proc::_wait_gone TENTHS PID...: wait up to TENTHS tenths of a second for every PID to be gone.
proc::_wait_gone() {
  local tenths=$1 i p alive
  shift
  for ((i = 0; i < tenths; i++)); do
    alive=0
    for p; do proc::alive "$p" && alive=1 && break; done
    [ $alive = 1 ] || return 0
    sleep 0.1
  done
  return 1
}

proc::alive() {
  local state
  state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}
