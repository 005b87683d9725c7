# Shared settings of the hack/images scripts; sourced, never run.
#
# Image names and the cache directory live here so that build, load and the cluster node agree
# on them without passing flags around.
images_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$images_here/../.." && pwd)
# shellcheck source=hack/cluster/versions.sh
. "$repo_root/hack/cluster/versions.sh"

DEBIAN_SUITE=${DEBIAN_SUITE:-bookworm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_PACKAGES=${BASE_PACKAGES:-python3,python3-venv,ca-certificates}
BASE_IMAGE=${BASE_IMAGE:-localbase/debian-py:$DEBIAN_SUITE}
PAUSE_IMAGE=${PAUSE_IMAGE:-localbase/pause:k8s-$K8S_VERSION}
ENGINE_IMAGE=${ENGINE_IMAGE:-pim.dev/pim-engine:dev}
OPERATOR_IMAGE=${OPERATOR_IMAGE:-pim.dev/pim-operator:dev}
CONSOLE_IMAGE=${CONSOLE_IMAGE:-pim.dev/pim-console:dev}
IMAGES_CACHE=$PIM_CACHE_DIR/images
# Label carrying the hash of everything an image was built from; unchanged hash, no rebuild.
INPUT_LABEL=pim.dev/input-hash

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Hash of an image's recorded inputs, empty when the image is absent.
image_input_hash() {
  docker image inspect -f "{{ index .Config.Labels \"$INPUT_LABEL\" }}" "$1" 2>/dev/null || true
}

# ref IMAGE: the fully qualified name containerd stores IMAGE under (docker.io/ for bare names).
ref() {
  local first=${1%%/*}
  if [[ $1 != */* ]]; then echo "docker.io/library/$1"
  elif [[ $first == *.* || $first == *:* || $first == localhost ]]; then echo "$1"
  else echo "docker.io/$1"; fi
}

# The StorageClass's dynamic provisioner, built from the Go module proxy.
LOCAL_PATH_VERSION=${LOCAL_PATH_VERSION:-0.0.30}
LOCAL_PATH_IMAGE=${LOCAL_PATH_IMAGE:-localbase/local-path-provisioner:v$LOCAL_PATH_VERSION}
