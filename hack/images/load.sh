#!/usr/bin/env bash
# Copy images from dockerd into a containerd's k8s.io namespace, where the kubelet finds them.
#
#   load.sh SOCKET IMAGE...
#
# Each imported image is labelled with its docker image id; an image whose id is already there
# is skipped, so a warm node start copies nothing. Layers are not unpacked here: the CRI plugin
# unpacks an image when a container first uses it, which halves a cold node start.
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

[ $# -ge 2 ] || log::die "usage: $0 SOCKET IMAGE..."
sock=$1; shift
[ -S "$sock" ] || log::die "$sock is not a containerd socket"
ctr=(ctr --address "$sock" --namespace k8s.io)

todo=()
for image in "$@"; do
  id=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null) || log::die "image $image not found in docker"
  have=$("${ctr[@]}" images ls "name==$(ref "$image")" 2>/dev/null | grep -o 'pim.dev/docker-id=[^ ,]*' || true)
  [ "$have" = "pim.dev/docker-id=$id" ] || todo+=("$image")
done
[ ${#todo[@]} -gt 0 ] || { log::info "all images current in $sock"; exit 0; }

start=$(log::now)
save_and_import() { docker save "${todo[@]}" | "${ctr[@]}" images import --no-unpack -; }
work=$(mktemp -d "${TMPDIR:-/tmp}/pim-load.XXXXXX")
trap 'rm -rf "$work"' EXIT
log::run "importing ${todo[*]} into the node's containerd" "$work/import.log" save_and_import
for image in "${todo[@]}"; do
  "${ctr[@]}" images label "$(ref "$image")" \
    "pim.dev/docker-id=$(docker image inspect -f '{{.Id}}' "$image")" >/dev/null
done
log::info "imported ${todo[*]} in $(log::since "$start")s"
