#!/usr/bin/env bash
# Install the add-ons into the cluster of $KUBECONFIG, whatever it is (the embedded local cluster,
# kind): the images must already be on its nodes (images.sh builds them; each cluster has its own
# loader). Idempotent: re-running applies the same manifests and waits again.
#
#   install.sh [all|coredns|metrics-server|cnpg]...
#
#   coredns         only where the cluster has no kube-dns Service; DNS_IP (the kubelets'
#                   clusterDNS) is required then
#   metrics-server  upstream's manifests from the module (kube-system), with the local image and
#                   --kubelet-insecure-tls (kubelets here serve self-signed certificates)
#   cnpg            CloudNativePG's release manifest from the module (releases/cnpg-$CNPG_VERSION.yaml)
#                   with the local operator image, and $POSTGRES_IMAGE as its default PostgreSQL image
set -euo pipefail
PIM_LOG_SCOPE=addons
# shellcheck source=hack/lib/init.sh
. "$(cd "$(dirname "$0")" && pwd)/../lib/init.sh"
# shellcheck source=hack/addons/versions.sh
. "$PIM_HACK/addons/versions.sh"
here=$PIM_HACK/addons
kubectl=(kubectl)
[ -z "${KUBECONFIG:-}" ] || kubectl+=(--kubeconfig "$KUBECONFIG")
TIMEOUT=${PIM_ADDONS_TIMEOUT:-300s}

module_dir() { GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json "$1" | jq -r .Dir; }

install_coredns() {
  local owner
  if owner=$("${kubectl[@]}" get service kube-dns -n kube-system \
    -o jsonpath='{.metadata.labels.app\.kubernetes\.io/managed-by}' 2>/dev/null) && [ "$owner" != pim-addons ]; then
    log::info "coredns: the cluster has DNS already (kube-system/kube-dns)"
    return
  fi
  [ -n "${DNS_IP:-}" ] || log::die "coredns: DNS_IP (the kubelets' clusterDNS address) is required"
  sed -e "s|@DNS_IP@|$DNS_IP|g" -e "s|@COREDNS_IMAGE@|$COREDNS_IMAGE|g" "$here/manifests/coredns.yaml" \
    | "${kubectl[@]}" apply --server-side --field-manager=pim-addons -f - >/dev/null
  "${kubectl[@]}" rollout status deployment/coredns -n kube-system --timeout "$TIMEOUT" >/dev/null
  log::info "coredns: ready at $DNS_IP"
}

install_metrics_server() {
  local src work
  src=$(module_dir "sigs.k8s.io/metrics-server@v$METRICS_SERVER_VERSION")/manifests/base
  work=$(mktemp -d)
  cp "$src"/*.yaml "$work/"
  chmod u+w "$work"/*.yaml
  cat >"$work/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
labels:
  - pairs: {k8s-app: metrics-server}
    includeSelectors: true
resources: [apiservice.yaml, deployment.yaml, rbac.yaml, service.yaml]
images:
  - name: gcr.io/k8s-staging-metrics-server/metrics-server
    newName: ${METRICS_SERVER_IMAGE%:*}
    newTag: ${METRICS_SERVER_IMAGE##*:}
patches:
  - target: {kind: Deployment, name: metrics-server}
    patch: |
      - {op: add, path: /spec/template/spec/containers/0/args/-, value: --kubelet-insecure-tls}
YAML
  "${kubectl[@]}" kustomize "$work" | "${kubectl[@]}" apply --server-side --field-manager=pim-addons -f - >/dev/null
  rm -rf "$work"
  "${kubectl[@]}" rollout status deployment/metrics-server -n kube-system --timeout "$TIMEOUT" >/dev/null
  "${kubectl[@]}" wait --for=condition=Available apiservice/v1beta1.metrics.k8s.io --timeout "$TIMEOUT" >/dev/null
  log::info "metrics-server: ready (v1beta1.metrics.k8s.io available)"
}

install_cnpg() {
  local manifest upstream
  manifest=$(module_dir "github.com/cloudnative-pg/cloudnative-pg@v$CNPG_VERSION")/releases/cnpg-$CNPG_VERSION.yaml
  [ -f "$manifest" ] || log::die "cnpg: $manifest not found"
  upstream="ghcr.io/cloudnative-pg/cloudnative-pg:$CNPG_VERSION"
  grep -q "image: $upstream" "$manifest" || log::die "cnpg: $manifest does not name $upstream"
  sed -e "s|$upstream|$CNPG_IMAGE|g" -e 's|imagePullPolicy: Always|imagePullPolicy: IfNotPresent|' "$manifest" \
    | "${kubectl[@]}" apply --server-side --force-conflicts --field-manager=pim-addons -f - >/dev/null
  # CloudNativePG reads its defaults from this ConfigMap at start: the PostgreSQL image built here.
  "${kubectl[@]}" create configmap cnpg-controller-manager-config -n cnpg-system \
    --from-literal=POSTGRES_IMAGE_NAME="$POSTGRES_IMAGE" --dry-run=client -o yaml \
    | "${kubectl[@]}" apply --server-side --field-manager=pim-addons -f - >/dev/null
  if [ "$("${kubectl[@]}" get deployment cnpg-controller-manager -n cnpg-system \
    -o jsonpath='{.spec.template.metadata.annotations.pim\.dev/postgres-image}')" != "$POSTGRES_IMAGE" ]; then
    "${kubectl[@]}" patch deployment cnpg-controller-manager -n cnpg-system --type merge \
      -p "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"pim.dev/postgres-image\":\"$POSTGRES_IMAGE\"}}}}}" >/dev/null
  fi
  "${kubectl[@]}" rollout status deployment/cnpg-controller-manager -n cnpg-system --timeout "$TIMEOUT" >/dev/null
  log::info "cnpg: CloudNativePG $CNPG_VERSION ready (PostgreSQL image $POSTGRES_IMAGE)"
}

for what in "${@:-all}"; do
  case $what in
    coredns) install_coredns ;;
    metrics-server) install_metrics_server ;;
    cnpg) install_cnpg ;;
    all) install_coredns; install_metrics_server; install_cnpg ;;
    *) log::die "usage: $0 [all|coredns|metrics-server|cnpg]..." ;;
  esac
done
