#!/usr/bin/env bash
# Debootstrap a Debian root filesystem and import it as an image, cached as a tarball keyed by
# suite, mirror and package list (a warm run re-imports it, or does nothing when the image
# already carries the same key).
#
#   rootfs.sh IMAGE PACKAGE,PACKAGE,...
set -euo pipefail
# shellcheck source=hack/kind/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

[ $# = 2 ] || { echo "usage: $0 IMAGE PACKAGES" >&2; exit 2; }
image=$1 packages=$2
key=$(printf '%s\n' "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$packages" | sha256sum | cut -c1-16)
tarball=$IMAGES_CACHE/rootfs-$DEBIAN_SUITE-$key.tar
if [ "$(image_input_hash "$image")" = "$key" ]; then
  log::info "$image is current ($key)"
  exit 0
fi
"$images_here/dockerd.sh" start
if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || log::die "debootstrap not found (apt-get install debootstrap)"
  mkdir -p "$IMAGES_CACHE"
  rootfs=$(mktemp -d "$IMAGES_CACHE/rootfs.XXXX")
  trap 'rm -rf "$rootfs" "$tarball.tmp"' EXIT
  log::info "debootstrap $DEBIAN_SUITE for $image ($packages)"
  start=$SECONDS
  debootstrap --variant=minbase --include="$packages" "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" \
    >"$rootfs.log" 2>&1 || { tail -20 "$rootfs.log" >&2; log::die "debootstrap failed; see $rootfs.log"; }
  rm -f "$rootfs.log"
  # Package caches, lists, docs and logs only make the image bigger; images never run apt.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
  tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  log::info "debootstrap done in $((SECONDS - start)) s: $(du -h "$tarball" | cut -f1)"
fi
docker import --change "LABEL $INPUT_LABEL=$key" "$tarball" "$image" >/dev/null
log::info "imported $image ($key)"
