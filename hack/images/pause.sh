#!/usr/bin/env bash
# Build the pod sandbox ("pause") image from the pause.c that ships in the k8s.io/kubernetes
# module, since registry.k8s.io is out of reach: a static binary in a FROM scratch image
# (hack/lib/image.sh, image_build; rebuilt only when pause.c or its flags change).
#
# Prints nothing but logs; the image name is $PAUSE_IMAGE (common.sh).
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

command -v go >/dev/null || log::die "go not found"
command -v gcc >/dev/null || log::die "gcc not found (apt-get install gcc libc6-dev)"
moddir=$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | jq -r .Dir)
src=$moddir/build/pause/linux/pause.c
[ -f "$src" ] || log::die "pause.c not found at $src"
tag=$(awk '$1 == "TAG" && $2 == "?=" {print $3}' "$moddir/build/pause/Makefile")
cflags="-Os -Wall -Werror -static -DVERSION=v$tag-pim"

ctx=$(mktemp -d "${TMPDIR:-/tmp}/pim-pause.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
DOCKERFILE
"$images_here/dockerd.sh" start
# shellcheck disable=SC2086  # cflags is a list of flags
gcc $cflags -o "$ctx/pause" "$src"
# The key is the source and its flags (a static binary's bytes are not promised to be reproducible).
image_build --context-key "$( (cat "$src"; echo "$cflags") | hash16)" "$PAUSE_IMAGE" "$ctx"
