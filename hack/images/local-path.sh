#!/usr/bin/env bash
# Build rancher's local-path-provisioner (the dynamic provisioner kind ships) from the Go module
# proxy into a FROM scratch image, so PersistentVolumeClaims bind on the local node as on kind.
#
# The binary is cached outside the repo by version (hack/lib/go.sh; a cold build takes minutes);
# the image is rebuilt only when the binary changed (hack/lib/image.sh).
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/common.sh"
# shellcheck source=hack/lib/go.sh
. "$PIM_HACK/lib/go.sh"

go_build_cached local-path-provisioner "github.com/rancher/local-path-provisioner@v$LOCAL_PATH_VERSION" .
"$images_here/dockerd.sh" start
ctx=$(mktemp -d "${TMPDIR:-/tmp}/pim-local-path.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
cp "$(go_cache_dir local-path-provisioner "$LOCAL_PATH_VERSION")/local-path-provisioner" "$ctx/"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY local-path-provisioner /usr/bin/local-path-provisioner
USER 65532:65532
ENTRYPOINT ["/usr/bin/local-path-provisioner"]
DOCKERFILE
image_build "$LOCAL_PATH_IMAGE" "$ctx"
