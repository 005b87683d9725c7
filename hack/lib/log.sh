# The one logging idiom of every hack/ script; sourced (through hack/lib/init.sh), never run.
# shellcheck shell=bash
#
# Every line goes to stderr (stdout stays free for values a caller captures) and looks like
#
#   [20:31:02 +  84.2s] cluster: kube-apiserver healthy
#
# wall clock, seconds since the outermost script started (PIM_LOG_T0 is exported, so a script
# called by another keeps counting from the first one's start), the scope (PIM_LOG_SCOPE, default
# the script's name), and the message.
#
#   log::info MSG...            a line
#   log::warn MSG...            a line marked "warning:"
#   log::die MSG...             a line marked "error:", then exit 1
#   log::phase NAME             "==> NAME": a new phase starts; log::phase_end says how long it took
#   log::run WHAT LOG CMD...    say WHAT, run CMD with its output in LOG; while it runs, a heartbeat every
#                               PIM_PROGRESS_SECONDS (default 15) says what is being built, for how
#                               long, and LOG_PROGRESS's view of the log (default: its last line);
#                               on failure the end of LOG is shown. Returns CMD's status.
#   log::since START            seconds since START (a log::now value), one decimal
#   log::record NAME built|cached [DETAIL]
#                               note, for CI's summary, whether a cache was used (appends to
#                               $PIM_BUILD_REPORT when set; see .ci/run)

# Microseconds since the epoch, without forking (bash 5's EPOCHREALTIME).
log::now() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }

export PIM_LOG_T0=${PIM_LOG_T0:-$(log::now)}

# log::since START: seconds since START (microseconds, as log::now prints), one decimal.
log::since() {
  local d=$(($(log::now) - $1))
  printf '%d.%d' $((d / 1000000)) $((d % 1000000 / 100000))
}

log::_line() {
  local scope=${PIM_LOG_SCOPE:-$(basename "${0%.sh}")}
  printf '[%(%H:%M:%S)T +%6ss] %s: %s\n' -1 "$(log::since "$PIM_LOG_T0")" "$scope" "$*" >&2
}

log::info() { log::_line "$@"; }
log::warn() { log::_line "warning: $*"; }
log::die() {
  log::_line "error: $*"
  exit 1
}

# log::phase NAME: announce a phase; log::phase_end closes the newest one with its duration.
PIM_LOG_PHASES=()
log::phase() {
  PIM_LOG_PHASES+=("$(log::now) $*")
  log::_line "==> $*"
}
log::phase_end() {
  local top=${PIM_LOG_PHASES[-1]}
  unset 'PIM_LOG_PHASES[-1]'
  log::_line "<== ${top#* } done in $(log::since "${top%% *}")s${1:+ ($*)}"
}

# log::human SECONDS: "42s", "3m07s".
log::human() {
  local s=${1%.*}
  if ((s < 60)); then echo "${s}s"; else printf '%dm%02ds\n' $((s / 60)) $((s % 60)); fi
}

# LOG_PROGRESS LOG: a short view of a running command's log for the heartbeat (its last line).
log::last_line() {
  local line
  line=$(tail -n 1 "$1" 2>/dev/null) || true
  line=${line//$'\r'/}
  echo "${line:0:100}"
}

log::run() {
  local what=$1 log=$2 t0 pid hb rc=0 saved
  shift 2
  t0=$(log::now)
  log::_line "$what ..."
  # In the background, so that `set -e` keeps working inside a shell function given as CMD (it is
  # ignored in a `cmd || ...` context); the traps pass an interrupt on, since background commands
  # of a non-interactive shell ignore SIGINT.
  "$@" >"$log" 2>&1 &
  pid=$!
  log::_heartbeat "$what" "$log" "$t0" "$pid" &
  hb=$!
  saved=$(trap -p INT TERM)
  trap 'kill -TERM "$pid" "$hb" 2>/dev/null' INT TERM
  wait "$pid" || rc=$?
  kill "$hb" 2>/dev/null || true
  wait "$hb" 2>/dev/null || true
  trap - INT TERM
  eval "$saved"
  if [ $rc != 0 ]; then
    log::_line "error: $what failed (exit $rc) after $(log::since "$t0")s; the end of $log:"
    tail -n 30 "$log" | sed 's/^/    /' >&2
  fi
  return $rc
}

# log::_heartbeat WHAT LOG START PID: every PIM_PROGRESS_SECONDS while PID lives, say so.
log::_heartbeat() {
  local what=$1 log=$2 t0=$3 pid=$4 every=${PIM_PROGRESS_SECONDS:-15} n=0 view
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    ((++n % every == 0)) || continue
    kill -0 "$pid" 2>/dev/null || break
    view=$("${LOG_PROGRESS:-log::last_line}" "$log")
    log::_line "... $what: $(log::human "$(log::since "$t0")")${view:+: $view}"
  done
}

log::record() {
  [ -n "${PIM_BUILD_REPORT:-}" ] || return 0
  printf '%s\t%s\t%s\n' "$1" "$2" "${3:-}" >>"$PIM_BUILD_REPORT"
}
