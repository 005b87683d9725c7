#!/usr/bin/env bash
# The kind base image ($KIND_BASE_IMAGE): a debootstrapped Debian with systemd and Debian's
# containerd, runc and CNI plugins, plus kind's own images/base/files and crictl, as
# base/Dockerfile describes. Rebuilt only when one of its inputs changed (label $INPUT_LABEL).
set -euo pipefail
# shellcheck source=hack/kind/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

# What upstream's base installs, less what a local cluster here never uses (NFS, iSCSI,
# fuse-overlayfs), plus Debian's container runtime in place of the upstream builds.
packages=systemd,dbus,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2
packages+=,pigz,e2fsprogs,bash,ca-certificates,curl,jq,procps,containerd,runc,containernetworking-plugins

go_build_cached crictl "sigs.k8s.io/cri-tools@v$CRICTL_VERSION" ./cmd/crictl
crictl=$(go_cache_dir crictl "$CRICTL_VERSION")/crictl
files=$(kind_module_dir)/images/base/files
[ -d "$files" ] || log::die "kind's images/base/files not found in the sigs.k8s.io/kind@v$KIND_VERSION module"

rootfs_image=$KIND_ROOTFS_IMAGE
"$kind_here/rootfs.sh" "$rootfs_image" "$packages"

key=$( (
  docker image inspect -f '{{.Id}}' "$rootfs_image"
  sha256sum "$crictl" "$kind_here/base/Dockerfile" "$kind_here/base/ctr" | cut -c1-64
  cd "$files" && find . -type f | sort | xargs sha256sum
) | sha256sum | cut -c1-16)
if [ "$(image_input_hash "$KIND_BASE_IMAGE")" = "$key" ]; then
  log::info "$KIND_BASE_IMAGE is current ($key)"
  exit 0
fi
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp -r "$files" "$ctx/files"
chmod -R u+w "$ctx/files"
cp "$crictl" "$kind_here/base/Dockerfile" "$kind_here/base/ctr" "$ctx/"
start=$SECONDS
DOCKER_BUILDKIT=0 docker build -q --build-arg "ROOTFS_IMAGE=$rootfs_image" --label "$INPUT_LABEL=$key" \
  -t "$KIND_BASE_IMAGE" "$ctx" >"$ctx/build.log" 2>&1 || { cat "$ctx/build.log" >&2; log::die "docker build of $KIND_BASE_IMAGE failed"; }
log::info "built $KIND_BASE_IMAGE ($key) in $((SECONDS - start)) s"
