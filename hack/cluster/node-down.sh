#!/usr/bin/env bash
# Remove the local node of the cluster in DIR (started by node-up.sh) and everything it left on
# the host: processes, containers and their cgroups, network namespaces, mounts, the bridges, the
# iptables rules (ours, portmap's, kube-proxy's and kube-router's), kube-router's ipsets and
# DIR/node. Called by down.sh before the
# control plane stops; idempotent, and made for crashed runs: pid files are trusted only while
# the process they name still mentions DIR.
#
# usage: node-down.sh [DIR]
#
# Host-wide pieces (bridges, rules, the pod cgroup parent) are removed only by the directory that
# owns them ($NODE_OWNER_FILE): other clusters' down.sh never pulls them from under a running node.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PIM_LOG_SCOPE=node
# shellcheck source=hack/cluster/lib.sh
. "$here/lib.sh"
# shellcheck source=hack/cluster/node/settings.sh
. "$here/node/settings.sh"

DIR=$(cluster::dir "${1:-}")
NODE_DIR=$DIR/node
[ "$(id -u)" = 0 ] || log::die "node-down.sh: must run as root"
owner=$(cat "$NODE_OWNER_FILE" 2>/dev/null || true)
# A cluster that never had a node: nothing here is ours.
[ -d "$NODE_DIR" ] || [ "$owner" = "$DIR" ] || exit 0
start=$(log::now)
rc=0
stopped=()

# stop NAME...: stop the recorded and any unrecorded processes of NAMEs that mention DIR.
stop() {
  local procs p
  mapfile -t procs < <(component::pids "$DIR" "$@")
  [ ${#procs[@]} -gt 0 ] || return 0
  proc::stop 15 "${procs[@]%% *}" || rc=1
  for p in "${procs[@]}"; do stopped+=("${p#* } (pid ${p%% *})"); done
}

# Containers: kill every one in our runc root, then the shims and containerd itself.
stop_containers() {
  local root=$NODE_DIR/runc/k8s.io id
  if [ -d "$root" ]; then
    local n=0
    for id in $(runc --root "$root" list -q 2>/dev/null); do
      runc --root "$root" kill --all "$id" KILL 2>/dev/null
      runc --root "$root" delete --force "$id" 2>/dev/null
      n=$((n + 1))
    done
    [ $n = 0 ] || stopped+=("$n containers")
  fi
  stop containerd-shim-runc-v2 containerd
}

# Pod cgroups: whatever still runs in them is a container process of ours.
remove_cgroups() {
  local hierarchy root procs
  for hierarchy in /sys/fs/cgroup/*/; do
    root=$hierarchy$NODE_CGROUP
    [ -d "$root" ] || continue
    for _ in 1 2 3 4 5; do
      procs=$(find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null)
      [ -n "$procs" ] || break
      # shellcheck disable=SC2086  # a list of pids
      kill -KILL $procs 2>/dev/null
      sleep 0.2
    done
    find "$root" -depth -type d -exec rmdir {} \; 2>/dev/null
    [ ! -d "$root" ] || { log::warn "could not remove cgroup $root"; rc=1; }
  done
}

# mounts_under PREFIX: mount points at or below PREFIX, deepest first.
mounts_under() {
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

# Network namespaces of pods (containerd keeps them under its state directory): deleting a pod's
# eth0 removes its veth peer from our bridge; then unmount everything under DIR/node.
unmount_all() {
  local ns m
  while read -r ns; do
    nsenter --net="$ns" ip link delete eth0 2>/dev/null
  done < <(awk -v d="$NODE_DIR/" '$9 == "nsfs" && index($5, d) == 1 { print $5 }' /proc/self/mountinfo)
  for _ in 1 2; do
    while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done < <(mounts_under "$NODE_DIR")
  done
  if [ -n "$(mounts_under "$NODE_DIR")" ]; then
    log::warn "mounts remain under $NODE_DIR; leaving it in place"
    rc=1
  fi
}

# delete_rules IPTABLES TABLE RULES: delete each rule (a line of `iptables -S`; eval, as
# iptables quotes comments with spaces).
delete_rules() {
  local rule
  while read -r rule; do
    [ -z "$rule" ] || eval "$1 -t $2 ${rule/-A/-D}" 2>/dev/null || rc=1
  done <<<"$3"
}

# Bridges (routes go with them), our FORWARD rules, portmap's per-pod rules, the KUBE-* chains of
# kube-proxy, the kubelet and kube-router (KUBE-ROUTER-*, KUBE-POD-FW-*, KUBE-NWPLCY-*), then
# kube-router's ipsets, which nothing references any more.
remove_network() {
  local link rules chain ipt table chains
  for link in "$NODE_BRIDGE" "$NODE_HOST_IF"; do
    if ip link show "$link" >/dev/null 2>&1; then ip link delete "$link" || rc=1; fi
  done
  rules=$(iptables -S FORWARD 2>/dev/null)
  delete_rules iptables filter "$(grep -F -- "--comment $IPT_COMMENT " <<<"$rules")"
  # portmap's rules carry our network's name in their comments and jump to per-pod chains.
  rules=$(iptables -t nat -S 2>/dev/null | grep -F 'name: \"pim-pods\"')
  delete_rules iptables nat "$rules"
  for chain in $(grep -o -- '-j CNI-DN-[0-9a-f]*' <<<"$rules" | cut -c4- | sort -u); do
    iptables -t nat -F "$chain" 2>/dev/null && iptables -t nat -X "$chain" 2>/dev/null
  done
  if [ -x "$K8S_BIN/kube-proxy" ]; then "$K8S_BIN/kube-proxy" --cleanup >/dev/null 2>&1; fi
  # What --cleanup leaves: the kubelet's canary and firewall chains, in both address families.
  for ipt in iptables ip6tables; do
    for table in filter nat mangle; do
      rules=$($ipt -t $table -S 2>/dev/null) || continue
      delete_rules $ipt $table "$(grep -E '^-A [A-Z]+ .*-j KUBE-' <<<"$rules" | grep -v '^-A KUBE-')"
      chains=$(awk '$1 == "-N" && $2 ~ /^KUBE-/ { print $2 }' <<<"$rules")
      for chain in $chains; do $ipt -t $table -F "$chain" || rc=1; done
      for chain in $chains; do $ipt -t $table -X "$chain" || rc=1; done
    done
  done
  local set
  for set in $(ipset list -n 2>/dev/null | grep -E '^(inet6:)?(KUBE-|kube-router)'); do
    ipset destroy "$set" || rc=1
  done
}

# Files: container log links pointing into DIR, then the node's state (never across mounts).
remove_files() {
  find /var/log/containers -maxdepth 1 -type l -lname "$NODE_DIR/*" -delete 2>/dev/null
  if [ -d "$NODE_DIR" ] && [ $rc = 0 ]; then rm -rf --one-file-system "$NODE_DIR" || rc=1; fi
  rm -f "$DIR"/pids/{containerd,kubelet,kube-proxy,kube-router}.pid
}

stop kubelet kube-proxy kube-router # the kubelet first, so it restarts nothing
stop_containers
if [ "$owner" = "$DIR" ]; then remove_cgroups; fi
unmount_all
if [ "$owner" = "$DIR" ]; then
  remove_network
  [ $rc != 0 ] || rm -f "$NODE_OWNER_FILE"
fi
remove_files

what=$(printf '%s, ' "${stopped[@]}")
what=${what:+stopped ${what%, }; }
if [ $rc = 0 ]; then
  log::info "${what}removed in $(log::since "$start")s; nothing of the node is left on this host"
else
  log::warn "${what}removal incomplete after $(log::since "$start")s (see messages above)"
fi
exit $rc
