#!/usr/bin/env bash
# `make kind-up`: the kind cluster of kind-config.yaml (a control plane and a worker whose
# NodePorts 30080-30089 are published on 127.0.0.1), Ready, with DNS and a default StorageClass.
#
# Where kind's own kindest/node can be pulled, that is what runs, untouched. Where it cannot
# (these machines: no registry), the node image is built here first (node-image.sh), and since
# kindnetd cannot be built here, the cluster starts without kind's default CNI
# (networking.disableDefaultCNI) and gets kube-router (cni/kube-router.yaml) instead.
# Reuses a running cluster of the same name. Writes the kubeconfig to $KIND_KUBECONFIG.
set -euo pipefail
# shellcheck source=hack/kind/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
KIND_KUBECONFIG=${KIND_KUBECONFIG:-$repo_root/.kind-kubeconfig}
kind=("$kind_here/kind.sh")
kubectl=(kubectl --kubeconfig "$KIND_KUBECONFIG")
start=$SECONDS

"$images_here/dockerd.sh" start
mode=$(kind_node_mode)
config=$repo_root/kind-config.yaml
create=(create cluster --name "$KIND_CLUSTER" --kubeconfig "$KIND_KUBECONFIG")
if [ "$mode" = local ]; then
  log::info "no registry for kind's node image: building it here (cached after the first run)"
  "$kind_here/node-image.sh"
  grep -q '^networking:' "$config" && log::die "$config has a networking section: merge disableDefaultCNI into it by hand"
  mkdir -p "$KIND_WORK"
  { cat "$config"; printf 'networking:\n  disableDefaultCNI: true   # kube-router, from hack/kind/up.sh\n'; } \
    >"$KIND_WORK/kind-config.yaml"
  config=$KIND_WORK/kind-config.yaml
  create+=(--image "$KIND_NODE_IMAGE_LOCAL")
fi

if "${kind[@]}" get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
  log::info "kind cluster $KIND_CLUSTER exists; reusing it"
  "${kind[@]}" export kubeconfig --name "$KIND_CLUSTER" --kubeconfig "$KIND_KUBECONFIG" >/dev/null 2>&1
else
  log::info "creating kind cluster $KIND_CLUSTER ($mode node image, $config)"
  t=$SECONDS
  "${kind[@]}" "${create[@]}" --config "$config" \
    || log::die "kind create cluster failed (the nodes' logs: hack/kind/kind.sh export logs --name $KIND_CLUSTER)"
  log::info "cluster created in $((SECONDS - t)) s"
fi

if [ "$mode" = local ]; then
  sed "s|KUBE_ROUTER_IMAGE|$KUBE_ROUTER_IMAGE|g" "$kind_here/cni/kube-router.yaml" | "${kubectl[@]}" apply -f - >/dev/null
  "${kubectl[@]}" -n kube-system rollout status daemonset/kube-router --timeout=180s >/dev/null \
    || log::die "kube-router did not become ready: kubectl -n kube-system logs ds/kube-router"
fi
"${kubectl[@]}" wait --for=condition=Ready node --all --timeout=180s >/dev/null \
  || log::die "the nodes did not become Ready: $("${kubectl[@]}" get nodes -o wide 2>&1)"
"${kubectl[@]}" -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null \
  || log::die "CoreDNS did not become ready"
"${kubectl[@]}" -n local-path-storage rollout status deployment/local-path-provisioner --timeout=180s >/dev/null \
  || log::die "local-path-provisioner did not become ready"
log::info "kind cluster $KIND_CLUSTER is ready in $((SECONDS - start)) s: export KUBECONFIG=$KIND_KUBECONFIG"
