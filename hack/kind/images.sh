#!/usr/bin/env bash
# Build every image a locally built kind node carries, at the exact names kind's node-image build
# and `kubeadm config images list` ask for, from the Go module proxy and Debian (nothing pulled):
#
#   registry.k8s.io/kube-{apiserver,controller-manager,scheduler}   FROM scratch + the static binary
#   registry.k8s.io/kube-proxy                                      Debian's iptables/nft/conntrack + binary
#   registry.k8s.io/etcd, registry.k8s.io/coredns/coredns           versions from kubeadm's constants
#   containerd's sandbox image (registry.k8s.io/pause)              hack/images/pause.sh's image
#   docker.io/kindest/local-path-provisioner                        hack/images/local-path.sh's image
#   docker.io/kindest/local-path-helper                             the small Debian (sh, mkdir, rm)
#   docker.io/kindest/kindnetd                                      a placeholder that refuses to run
#   $KUBE_ROUTER_IMAGE                                              the CNI (see README.md)
#
# The Kubernetes binaries are the ones hack/cluster/build.sh made for the embedded cluster (same
# version, same cache); kubeadm and kubectl are built beside them with the same wrapper module.
# Prints the image names, one per line, for node-image.sh. Each image is rebuilt only when the
# hash of its inputs changed (label $INPUT_LABEL).
set -euo pipefail
# shellcheck source=hack/kind/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

"$images_here/dockerd.sh" start >&2
"$repo_root/hack/cluster/build.sh" k8s >&2
"$images_here/pause.sh"
"$images_here/local-path.sh"
"$kind_here/rootfs.sh" "$NET_TOOLS_IMAGE" iptables,nftables,ipset,iproute2,conntrack,kmod,ca-certificates

kmod=$(GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | jq -r .Dir)
constants=$kmod/cmd/kubeadm/app/constants/constants.go
const() { sed -n "s/^\t$1 *= *\"\(.*\)\"\$/\1/p" "$constants"; }
etcd_tag=$(const DefaultEtcdVersion)     # 3.6.5-0
coredns_tag=$(const CoreDNSVersion)      # v1.12.1
[ -n "$etcd_tag" ] && [ -n "$coredns_tag" ] || log::die "etcd/CoreDNS versions not found in $constants"
kind_src=$(kind_module_dir)
kind_image() { sed -n "s/^const $1 = \"\(.*\)\"\$/\1/p" "$kind_src"/pkg/build/nodeimage/const_*.go; }
sandbox=$(sed -n 's/^ *sandbox_image = "\(.*\)"/\1/p' "$kind_src/images/base/files/etc/containerd/config.toml")
[ -n "$sandbox" ] || log::die "sandbox_image not found in kind's containerd config"

go_build_cached etcd "go.etcd.io/etcd/server/v3@v${etcd_tag%-*}" .=etcd
go_build_cached coredns "github.com/coredns/coredns@$coredns_tag" .
"$repo_root/hack/cluster/build.sh" kube-router >&2

# retag SOURCE IMAGE: IMAGE names the same image as SOURCE.
retag() {
  docker tag "$1" "$2"
  echo "$2"
}

for c in kube-apiserver kube-controller-manager kube-scheduler; do
  binary_image "registry.k8s.io/$c:v$K8S_VERSION" scratch "$K8S_BIN/$c"
done
binary_image "registry.k8s.io/kube-proxy:v$K8S_VERSION" "$NET_TOOLS_IMAGE" "$K8S_BIN/kube-proxy"
binary_image "registry.k8s.io/etcd:$etcd_tag" scratch "$PIM_CACHE_DIR/etcd-v${etcd_tag%-*}/etcd" '["etcd"]'
binary_image "registry.k8s.io/coredns/coredns:$coredns_tag" scratch "$PIM_CACHE_DIR/coredns-$coredns_tag/coredns" \
  '["/usr/local/bin/coredns"]'
binary_image "$KUBE_ROUTER_IMAGE" "$NET_TOOLS_IMAGE" "$KUBE_ROUTER_BIN/kube-router" \
  '["/usr/local/bin/kube-router"]'
retag "$PAUSE_IMAGE" "$sandbox"
retag "$LOCAL_PATH_IMAGE" "$(kind_image storageProvisionerImage)"
retag "$NET_TOOLS_IMAGE" "$(kind_image storageHelperImage)"

# kind's node-image build wants its default CNI's image (kindnetd) in every node image, and fails
# when it cannot fetch it; sigs.k8s.io/kindnet is refused by the module proxy, so it cannot be
# built here. Clusters from this image set networking.disableDefaultCNI and run kube-router; the
# image below only stands at kindnetd's name so the build completes, and refuses to run.
kindnetd=$(kind_image kindnetdImage)
message="$kindnetd is not available in this locally built node image (its module cannot be fetched); create the cluster with networking.disableDefaultCNI and install a CNI: make kind-up does"
dockerfile="FROM $NET_TOOLS_IMAGE
LABEL pim.dev/placeholder=kindnetd
ENTRYPOINT [\"/bin/sh\", \"-c\", \"echo '$message' >&2; exit 1\"]"
key=$( (echo "$dockerfile"; docker image inspect -f '{{.Id}}' "$NET_TOOLS_IMAGE") | sha256sum | cut -c1-16)
if [ "$(image_input_hash "$kindnetd")" != "$key" ]; then
  echo "$dockerfile" | DOCKER_BUILDKIT=0 docker build -q --label "$INPUT_LABEL=$key" -t "$kindnetd" - >/dev/null 2>&1 \
    || log::die "docker build of the $kindnetd placeholder failed"
  log::info "built the $kindnetd placeholder ($key)"
fi
echo "$kindnetd"
