# Free TCP ports for components that must be told their port before they bind it.
# shellcheck shell=bash
#
#   free_ports N     N distinct ports, free right now and reserved for a while, on one line
#
# A port is only free until someone binds it, and the components bind theirs seconds after the
# pick (etcd, then the apiserver, ...). Two things can take it in between:
# - the kernel, for anyone: ports inside its ephemeral range (/proc/sys/net/ipv4/ip_local_port_range)
#   go to every outgoing connection and every server that binds port 0 (Go servers, test
#   harnesses, containerd's stream server, another cluster's picker that binds port 0). So ports
#   come from outside that range, where the kernel never picks on its own: between PIM_PORT_MIN
#   (default 20000) and the range's start, or above its end.
# - another picker of ours (a second cluster, a test harness: tests/support/net.py follows the
#   same rules). Picks are random, and each is recorded for PIM_PORT_HOLD seconds (default 300)
#   in a registry shared by every picker on the machine ($PIM_PORT_REGISTRY, default
#   /tmp/pim-ports.reserved; lines "PORT EXPIRY", updated under flock), which later picks skip.
# Ports any socket uses right now (any state, TCP or UDP, per `ss`) are skipped too.
free_ports() {
  local n=$1 registry=${PIM_PORT_REGISTRY:-/tmp/pim-ports.reserved}
  (
    exec 9>>"$registry.lock"
    flock 9
    local lo hi min=${PIM_PORT_MIN:-20000} below above span p tries=0 out=() taken now tmp=$registry.$BASHPID
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
    below=$((lo > min ? lo - min : 0))
    above=$((65535 - hi))
    span=$((below + above))
    ((span >= 1000)) || log::die "free_ports: fewer than 1000 ports outside the ephemeral range $lo-$hi"
    now=$(date +%s)
    # Reservations still running, and every port a socket uses.
    touch "$registry"
    awk -v now="$now" '$2 > now' "$registry" >"$tmp"
    taken=" $(awk '{ print $1 }' "$tmp" | tr '\n' ' ')"
    taken+="$(ss -Htanu 2>/dev/null | awk '{ n = split($5, a, ":"); print a[n] }' | sort -u | tr '\n' ' ') "
    while ((${#out[@]} < n)); do
      ((++tries < 10000)) || log::die "free_ports: no $n free ports found"
      p=$(((RANDOM << 15 | RANDOM) % span))
      if ((p < below)); then p=$((min + p)); else p=$((hi + 1 + p - below)); fi
      [[ $taken != *" $p "* ]] || continue
      taken+="$p "
      out+=("$p")
    done
    for p in "${out[@]}"; do echo "$p $((now + ${PIM_PORT_HOLD:-300}))"; done >>"$tmp"
    mv "$tmp" "$registry"
    echo "${out[*]}"
  )
}
