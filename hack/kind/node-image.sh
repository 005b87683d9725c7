#!/usr/bin/env bash
# Build the kind node image $KIND_NODE_IMAGE_LOCAL with kind's own `kind build node-image --type
# file`, from a kubernetes-server tarball assembled here: kubernetes/version,
# kubernetes/server/bin/{kubeadm,kubelet,kubectl} and the four image archives kind loads.
#
# kind loads every image in those archives, and fetches (from a registry) only the images it
# wants that none of them holds: so the images of images.sh (etcd, CoreDNS, pause, storage, the
# CNI) go into kube-proxy.tar beside kube-proxy, and nothing is fetched. A no-op when the image
# was built from the same inputs (recorded in $KIND_WORK/node-image-<image>.key).
set -euo pipefail
# shellcheck source=hack/kind/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

"$kind_here/base.sh"
mapfile -t images < <("$kind_here/images.sh")
go_build_cached --k8s-staging --ldflags "$(k8s_version_ldflags "$K8S_VERSION")" \
  kubeadm "k8s.io/kubernetes@v$K8S_VERSION" ./cmd/kubeadm ./cmd/kubectl
tools=$(go_cache_dir kubeadm "$K8S_VERSION")

key=$( (
  echo "kind v$KIND_VERSION"
  docker image inspect -f '{{.Id}}' "$KIND_BASE_IMAGE" "${images[@]}"
  sha256sum "$tools/kubeadm" "$tools/kubectl" "$K8S_BIN/kubelet" | cut -c1-64
) | sha256sum | cut -c1-16)
mkdir -p "$KIND_WORK"
stamp=$KIND_WORK/node-image-${KIND_NODE_IMAGE_LOCAL//[\/:]/_}.key
id=$(docker image inspect -f '{{.Id}}' "$KIND_NODE_IMAGE_LOCAL" 2>/dev/null || true)
if [ -n "$id" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$key $id" ]; then
  log::info "$KIND_NODE_IMAGE_LOCAL is current ($key)"
  exit 0
fi

start=$SECONDS
work=$(mktemp -d "$KIND_WORK/node.XXXX")
trap 'rm -rf "$work"' EXIT
bin=$work/kubernetes/server/bin
mkdir -p "$bin"
echo "v$K8S_VERSION" >"$work/kubernetes/version"
cp "$tools/kubeadm" "$tools/kubectl" "$K8S_BIN/kubelet" "$bin/"
others=()
for image in "${images[@]}"; do
  case $image in
    registry.k8s.io/kube-apiserver:* | registry.k8s.io/kube-controller-manager:* | registry.k8s.io/kube-scheduler:*)
      name=${image#registry.k8s.io/}
      docker save -o "$bin/${name%%:*}.tar" "$image" ;;
    *) others+=("$image") ;;
  esac
done
# kind reads an archive's tags from whichever of `repositories` (every image) and `manifest.json`
# (kind takes its first image only) comes first: put `repositories` first, with the names fully
# qualified as kind compares them (docker writes docker.io/kindest/x as kindest/x).
mkdir "$work/save"
docker save "${others[@]}" | tar -x -C "$work/save"
jq 'with_entries(.key |= if test("/") | not then "docker.io/library/" + .
  elif split("/")[0] | test("[.:]|^localhost$") then . else "docker.io/" + . end)' \
  "$work/save/repositories" >"$work/repositories" && mv "$work/repositories" "$work/save/repositories"
(cd "$work/save" && find . -mindepth 1 -maxdepth 1 ! -name repositories ! -name manifest.json -printf '%P\n' \
  | tar -cf "$bin/kube-proxy.tar" repositories manifest.json -T -)
rm -rf "$work/save"
tarball=$work/kubernetes-server-linux-amd64.tar.gz
tar -C "$work" -c kubernetes | gzip -1 >"$tarball"
rm -rf "$work/kubernetes"
log::info "building $KIND_NODE_IMAGE_LOCAL from $KIND_BASE_IMAGE and a $(du -h "$tarball" | cut -f1) server tarball"
"$kind_here/kind.sh" build node-image --type file --base-image "$KIND_BASE_IMAGE" \
  --image "$KIND_NODE_IMAGE_LOCAL" "$tarball" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; log::die "kind build node-image failed"; }
echo "$key $(docker image inspect -f '{{.Id}}' "$KIND_NODE_IMAGE_LOCAL")" >"$stamp"
log::info "built $KIND_NODE_IMAGE_LOCAL ($key) in $((SECONDS - start)) s"
