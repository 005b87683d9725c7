#!/usr/bin/env bash
# Build the Debian base image (localbase/debian-py:<suite>) that the engine and operator images
# start FROM, without any container registry: debootstrap a minimal root filesystem, cache it as
# a tarball outside the repo, and import it (hack/lib/image.sh, image_from_rootfs).
#
# The tarball is keyed by suite, mirror and package list, so a warm run only re-imports it (or
# does nothing when the image already carries the same key).
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

key=$(printf '%s\n' "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$BASE_PACKAGES" | hash16)
tarball=$IMAGES_CACHE/debian-$DEBIAN_SUITE-$key.tar

# A current image needs neither Docker started nor the tarball (image_from_rootfs checks again).
if image_current "$BASE_IMAGE" "$key"; then
  log::info "$BASE_IMAGE is current ($key)"
  log::record "$BASE_IMAGE" cached
  exit 0
fi
"$images_here/dockerd.sh" start

# debootstrap_tarball: the root filesystem, made once per key (about a minute, 275 MB).
debootstrap_tarball() {
  local rootfs
  rootfs=$(mktemp -d "$IMAGES_CACHE/rootfs.XXXXXX")
  # shellcheck disable=SC2064 # expand now
  trap "rm -rf '$rootfs' '$tarball.$$'" EXIT
  debootstrap --variant=minbase --include="$BASE_PACKAGES" "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR"
  # Package caches and lists only make the image bigger; the image never runs apt.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*
  tar --numeric-owner -C "$rootfs" -cf "$tarball.$$" .
  mv "$tarball.$$" "$tarball"
}
if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || log::die "debootstrap not found (apt-get install debootstrap)"
  mkdir -p "$IMAGES_CACHE"
  log::info "debootstrap $DEBIAN_SUITE ($BASE_PACKAGES) from $DEBIAN_MIRROR (about a minute)"
  t0=$(log::now)
  log::run "debootstrap $DEBIAN_SUITE" "$IMAGES_CACHE/debootstrap-$key.log" debootstrap_tarball
  log::info "debootstrap done in $(log::since "$t0")s: $(du -h "$tarball" | cut -f1)"
  log::record "debootstrap $DEBIAN_SUITE" built "$(log::human "$(log::since "$t0")")"
fi
image_from_rootfs --change 'CMD ["python3"]' "$BASE_IMAGE" "$key" "$tarball"
