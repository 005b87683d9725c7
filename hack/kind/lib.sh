# Shared settings and helpers of the hack/kind scripts; sourced, never run.
#
# Versions, image names and cache paths live here so that the builds, the wrapper around kind
# and the cluster scripts agree on them. Every build is cached under $PIM_CACHE_DIR by version
# and is a no-op when its output is there.
# shellcheck shell=bash disable=SC2034  # the variables are used by the scripts sourcing this

kind_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PIM_LOG_SCOPE=${PIM_LOG_SCOPE:-kind}
repo_root=$(cd "$kind_here/../.." && pwd)
# shellcheck source=hack/images/common.sh
. "$repo_root/hack/images/common.sh"
# shellcheck source=hack/lib/go.sh
. "$PIM_HACK/lib/go.sh"

KIND_VERSION=${KIND_VERSION:-0.33.0}
# crictl of the Kubernetes minor (kind's base image ships one; the node runs `crictl inspecti`).
CRICTL_VERSION=${CRICTL_VERSION:-1.34.0}
# local: build the node image here; stock: kind's own kindest/node; auto: stock when it can be pulled.
KIND_NODE=${KIND_NODE:-auto}
KIND_CLUSTER=${KIND_CLUSTER:-pim}
KIND_BIN=$PIM_CACHE_DIR/kind-v$KIND_VERSION
KIND_WORK=$PIM_CACHE_DIR/kind-work
KIND_NODE_IMAGE_LOCAL=${KIND_NODE_IMAGE_LOCAL:-localbase/kind-node:v$K8S_VERSION}
KIND_BASE_IMAGE=${KIND_BASE_IMAGE:-localbase/kind-base:$DEBIAN_SUITE}
KIND_ROOTFS_IMAGE=${KIND_ROOTFS_IMAGE:-localbase/kind-base-rootfs:$DEBIAN_SUITE}
# A small Debian with the netfilter tools, for kube-proxy, kube-router and local-path's helper pods.
NET_TOOLS_IMAGE=${NET_TOOLS_IMAGE:-localbase/debian-net:$DEBIAN_SUITE}
KUBE_ROUTER_IMAGE=${KUBE_ROUTER_IMAGE:-localbase/kube-router:v$KUBE_ROUTER_VERSION}
# Upstream Prometheus (hack/cluster/build.sh), for the e2e suite's in-cluster Prometheus on kind.
PROMETHEUS_IMAGE=${PROMETHEUS_IMAGE:-localbase/prometheus:v$PROMETHEUS_MODULE_VERSION}
export KIND_VERSION KIND_CLUSTER PIM_CACHE_DIR PROMETHEUS_IMAGE

# The kind module's source (images/base/files, the image names its node-image build wants).
kind_module_dir() {
  GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json "sigs.k8s.io/kind@v$KIND_VERSION" | jq -r .Dir
}

# has_cap NAME: whether the bounding set of the Docker daemon (or, failing that, of this shell)
# holds the capability, e.g. has_cap 24 (CAP_SYS_RESOURCE).
has_cap() {
  local bit=$1 pid mask
  pid=$(pgrep -xo dockerd 2>/dev/null || echo self)
  mask=$(awk '/^CapBnd:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || mask=
  [ -n "$mask" ] || mask=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  (( (16#$mask >> bit) & 1 ))
}

# binary_image IMAGE BASE BINARY [ENTRYPOINT]: BASE plus BINARY in /usr/local/bin (and, when
# given, as the entrypoint: a JSON array), through the shared image recipe (hack/lib/image.sh);
# prints IMAGE.
binary_image() {
  local image=$1 base=$2 binary=$3 entrypoint=${4:-} ctx base_id=""
  ctx=$(mktemp -d "${TMPDIR:-/tmp}/pim-kind-image.XXXXXX")
  cp "$binary" "$ctx/"
  printf '%s\n' "FROM $base" "COPY $(basename "$binary") /usr/local/bin/" \
    "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin" \
    ${entrypoint:+"ENTRYPOINT $entrypoint"} >"$ctx/Dockerfile"
  [ "$base" = scratch ] || base_id=$(docker image inspect -f '{{.Id}}' "$base")
  image_build --key "base $base_id" "$image" "$ctx" || { rm -rf "$ctx"; return 1; }
  rm -rf "$ctx"
  echo "$image"
}

# kind_default_image: the kindest/node image this kind release defaults to (with its digest).
kind_default_image() {
  sed -n 's/^const Image = "\(.*\)"$/\1/p' "$(kind_module_dir)/pkg/apis/config/defaults/image.go"
}

# kind_node_mode: "stock" when kind's own node image is here or can be pulled (a laptop with
# Docker and a registry), "local" otherwise; KIND_NODE=local|stock decides instead of auto.
kind_node_mode() {
  case $KIND_NODE in
    local | stock) echo "$KIND_NODE" ;;
    auto)
      local image
      image=$(kind_default_image)
      if docker image inspect "$image" >/dev/null 2>&1 || docker pull -q "$image" >/dev/null 2>&1; then
        echo stock
      else
        echo local
      fi
      ;;
    *) log::die "KIND_NODE=$KIND_NODE: expected auto, local or stock" ;;
  esac
}
