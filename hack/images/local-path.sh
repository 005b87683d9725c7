#!/usr/bin/env bash
# Build rancher's local-path-provisioner (the dynamic provisioner kind ships) from the Go module
# proxy into a FROM scratch image, so PersistentVolumeClaims bind on the local node as on kind.
#
# The binary is cached outside the repo by version (a cold build takes minutes); the image is
# rebuilt only when the binary changed.
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

bin_dir=$PIM_CACHE_DIR/local-path-provisioner-v$LOCAL_PATH_VERSION
if [ ! -x "$bin_dir/local-path-provisioner" ]; then
  command -v go >/dev/null || die "go not found"
  log "building local-path-provisioner v$LOCAL_PATH_VERSION (cold builds take minutes)"
  start=$SECONDS
  rm -rf "$bin_dir.tmp"
  GOTOOLCHAIN=local GOBIN="$bin_dir.tmp" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
    "github.com/rancher/local-path-provisioner@v$LOCAL_PATH_VERSION"
  rm -rf "$bin_dir"; mv "$bin_dir.tmp" "$bin_dir"
  log "built in $((SECONDS - start)) s"
fi
key=$(sha256sum "$bin_dir/local-path-provisioner" | cut -c1-16)
if [ "$(image_input_hash "$LOCAL_PATH_IMAGE")" = "$key" ]; then
  log "$LOCAL_PATH_IMAGE is current ($key)"
  exit 0
fi
"$images_here/dockerd.sh" start
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$bin_dir/local-path-provisioner" "$ctx/"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY local-path-provisioner /usr/bin/local-path-provisioner
USER 65532:65532
ENTRYPOINT ["/usr/bin/local-path-provisioner"]
LABEL $INPUT_LABEL=$key
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q -t "$LOCAL_PATH_IMAGE" "$ctx" >/dev/null 2>&1 \
  || die "docker build of $LOCAL_PATH_IMAGE failed"
log "built $LOCAL_PATH_IMAGE ($key)"
