# Shared settings of the hack/images scripts; sourced, never run.
# shellcheck shell=bash disable=SC2034 # the variables below are used by the scripts sourcing this
#
# Image names and the cache directory live here so that build, load and the cluster node agree
# on them without passing flags around. Builds go through hack/lib/image.sh (and go.sh).
images_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PIM_LOG_SCOPE=${PIM_LOG_SCOPE:-images}
# shellcheck source=hack/lib/init.sh
. "$images_here/../lib/init.sh"
# shellcheck source=hack/lib/image.sh
. "$PIM_HACK/lib/image.sh"
repo_root=$PIM_REPO
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
