#!/usr/bin/env bash
# Build the pod sandbox ("pause") image from the pause.c that ships in the k8s.io/kubernetes
# module, since registry.k8s.io is out of reach: a static binary in a FROM scratch image.
#
# Prints nothing but logs; the image name is $PAUSE_IMAGE (common.sh). A no-op when the image
# already carries the hash of pause.c and its build flags.
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

command -v go >/dev/null || die "go not found"
command -v gcc >/dev/null || die "gcc not found (apt-get install gcc libc6-dev)"
moddir=$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | jq -r .Dir)
src=$moddir/build/pause/linux/pause.c
[ -f "$src" ] || die "pause.c not found at $src"
tag=$(awk '$1 == "TAG" && $2 == "?=" {print $3}' "$moddir/build/pause/Makefile")
cflags="-Os -Wall -Werror -static -DVERSION=v$tag-pim"
key=$( (cat "$src"; echo "$cflags") | sha256sum | cut -c1-16)

if [ "$(image_input_hash "$PAUSE_IMAGE")" = "$key" ]; then
  log "$PAUSE_IMAGE is current ($key)"
  exit 0
fi
"$images_here/dockerd.sh" start
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
# shellcheck disable=SC2086  # cflags is a list of flags
gcc $cflags -o "$ctx/pause" "$src"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
LABEL $INPUT_LABEL=$key
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q -t "$PAUSE_IMAGE" "$ctx" >/dev/null 2>&1 \
  || die "docker build of $PAUSE_IMAGE failed"
log "built $PAUSE_IMAGE ($key, pause v$tag)"
