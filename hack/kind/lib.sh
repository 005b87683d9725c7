# Shared settings and helpers of the hack/kind scripts; sourced, never run.
#
# Versions, image names and cache paths live here so that the builds, the wrapper around kind
# and the cluster scripts agree on them. Every build is cached under $PIM_CACHE_DIR by version
# and is a no-op when its output is there.
# shellcheck shell=bash disable=SC2034  # the variables are used by the scripts sourcing this

kind_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$kind_here/../.." && pwd)
# shellcheck source=hack/images/common.sh
. "$repo_root/hack/images/common.sh"

KIND_VERSION=${KIND_VERSION:-0.33.0}
# crictl of the Kubernetes minor (kind's base image ships one; the node runs `crictl inspecti`).
CRICTL_VERSION=${CRICTL_VERSION:-1.34.0}
# The CNI (pod networking across nodes + NetworkPolicy): see hack/kind/README.md for the choice.
KUBE_ROUTER_VERSION=${KUBE_ROUTER_VERSION:-2.1.0}
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

# go_build_cached NAME MODULE@VERSION [BINARY=]PACKAGE...: build PACKAGEs (binaries named after
# the last path element, or BINARY) of MODULE@VERSION in a throw-away wrapper module into
# $PIM_CACHE_DIR/NAME/.
# A no-op when every binary is there. The wrapper keeps the module's own requirements (go get),
# so it works for modules whose main package is the module root (etcd, coredns) too.
# k8s.io/kubernetes needs more: its staging modules are required at v0.0.0 and replaced in-tree,
# so each is mapped to its published v0.MINOR.PATCH, and the version is stamped into the binaries.
bin_name() { local p=${1%%=*}; echo "${p##*/}"; }
go_build_cached() {
  local name=$1 modver=$2 out=$PIM_CACHE_DIR/$1
  shift 2
  local pkg missing=0
  for pkg in "$@"; do [ -x "$out/$(bin_name "$pkg")" ] || missing=1; done
  if [ $missing = 0 ]; then log "$name: cached in $out"; return; fi
  local work start=$SECONDS
  mkdir -p "$PIM_CACHE_DIR"
  work=$(mktemp -d "$PIM_CACHE_DIR/gobuild.XXXX")
  log "$name: building $modver ($(for pkg in "$@"; do bin_name "$pkg"; done | xargs))"
  (
    cd "$work"
    export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
    local ld="-s -w"
    go mod init "local/${name//[^a-zA-Z0-9]/-}" >/dev/null 2>&1
    if [ "${modver%@*}" = k8s.io/kubernetes ]; then
      local v=${modver#*@v} gomod m
      gomod=$(go mod download -json "$modver" | jq -r .GoMod)
      go mod edit -go="$(awk '$1 == "go" {print $2}' "$gomod")" -require="$modver"
      for m in $(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$gomod"); do
        go mod edit -replace="$m=$m@v0.${v#1.}"
      done
      local major=${v%%.*} rest=${v#*.}
      for m in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ld+=" -X $m.gitVersion=v$v -X $m.gitMajor=$major -X $m.gitMinor=${rest%%.*}"
        ld+=" -X $m.gitTreeState=clean -X $m.buildDate=1970-01-01T00:00:00Z"
      done
    fi
    go get "$modver" >go-get.log 2>&1 || { cat go-get.log >&2; exit 1; }
    mkdir -p "$out.tmp"
    for pkg in "$@"; do
      nice go build -trimpath -ldflags "$ld" -o "$out.tmp/$(bin_name "$pkg")" "${pkg#*=}"
    done
  ) || { rm -rf "$work" "$out.tmp"; die "$name: build of $modver failed"; }
  rm -rf "$work" "$out"
  mv "$out.tmp" "$out"
  log "$name: built in $((SECONDS - start)) s"
}

# binary_image IMAGE BASE BINARY [ENTRYPOINT]: BASE plus BINARY in /usr/local/bin (and, when
# given, as the entrypoint: a JSON array).
binary_image() {
  local image=$1 base=$2 binary=$3 entrypoint=${4:-} key ctx dockerfile
  dockerfile="FROM $base
COPY $(basename "$binary") /usr/local/bin/
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin
${entrypoint:+ENTRYPOINT $entrypoint}"
  key=$( (echo "$dockerfile"; [ "$base" = scratch ] || docker image inspect -f '{{.Id}}' "$base"
    sha256sum "$binary" | cut -c1-64) | sha256sum | cut -c1-16)
  echo "$image"
  if [ "$(image_input_hash "$image")" = "$key" ]; then return; fi
  ctx=$(mktemp -d)
  cp "$binary" "$ctx/"
  echo "$dockerfile" >"$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q --label "$INPUT_LABEL=$key" -t "$image" "$ctx" >/dev/null 2>"$ctx/err" \
    || { cat "$ctx/err" >&2; rm -rf "$ctx"; die "docker build of $image failed"; }
  rm -rf "$ctx"
  log "built $image ($key)"
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
    *) die "KIND_NODE=$KIND_NODE: expected auto, local or stock" ;;
  esac
}
