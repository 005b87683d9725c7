#!/usr/bin/env bash
# Build the Debian base image (localbase/debian-py:<suite>) that the engine and operator images
# start FROM, without any container registry: debootstrap a minimal root filesystem, cache it as
# a tarball outside the repo, and `docker import` it.
#
# The tarball is keyed by suite, mirror and package list, so a warm run only re-imports it (or
# does nothing when the image already carries the same key).
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

key=$(printf '%s\n' "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$BASE_PACKAGES" | sha256sum | cut -c1-16)
tarball=$IMAGES_CACHE/debian-$DEBIAN_SUITE-$key.tar

if [ "$(image_input_hash "$BASE_IMAGE")" = "$key" ]; then
  log "$BASE_IMAGE is current ($key)"
  exit 0
fi

"$images_here/dockerd.sh" start

if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"
  mkdir -p "$IMAGES_CACHE"
  rootfs=$(mktemp -d "$IMAGES_CACHE/rootfs.XXXX")
  trap 'rm -rf "$rootfs" "$tarball.tmp"' EXIT
  log "debootstrap $DEBIAN_SUITE ($BASE_PACKAGES) from $DEBIAN_MIRROR"
  start=$SECONDS
  debootstrap --variant=minbase --include="$BASE_PACKAGES" "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" \
    >"$IMAGES_CACHE/debootstrap.log" 2>&1 || die "debootstrap failed; see $IMAGES_CACHE/debootstrap.log"
  # Package caches and lists only make the image bigger; the image never runs apt.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*
  tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  log "debootstrap done in $((SECONDS - start)) s: $(du -h "$tarball" | cut -f1)"
fi

docker import --change "LABEL $INPUT_LABEL=$key" --change 'CMD ["python3"]' \
  "$tarball" "$BASE_IMAGE" >/dev/null
log "imported $BASE_IMAGE ($key)"
