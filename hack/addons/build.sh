#!/usr/bin/env bash
# Build the add-on binaries from the Go module proxy into the cache: CloudNativePG's manager,
# metrics-server and CoreDNS (hack/lib/go.sh's go_build_cached: static, cached by version, a
# no-op when current). CloudNativePG's cold build takes minutes on 2 cores.
#
#   build.sh [all|cnpg|metrics-server|coredns]...
set -euo pipefail
PIM_LOG_SCOPE=addons
# shellcheck source=hack/images/common.sh
. "$(cd "$(dirname "$0")" && pwd)/../images/common.sh"
# shellcheck source=hack/lib/go.sh
. "$PIM_HACK/lib/go.sh"
# shellcheck source=hack/addons/versions.sh
. "$PIM_HACK/addons/versions.sh"

for what in "${@:-all}"; do
  case $what in
    cnpg | all)
      go_build_cached --ldflags "-X github.com/cloudnative-pg/cloudnative-pg/pkg/versions.buildVersion=$CNPG_VERSION" \
        cnpg "github.com/cloudnative-pg/cloudnative-pg@v$CNPG_VERSION" ./cmd/manager
      ;;&
    metrics-server | all)
      go_build_cached --ldflags "-X sigs.k8s.io/metrics-server/pkg/version.gitVersion=v$METRICS_SERVER_VERSION" \
        metrics-server "sigs.k8s.io/metrics-server@v$METRICS_SERVER_VERSION" ./cmd/metrics-server
      ;;&
    coredns | all) go_build_cached coredns "github.com/coredns/coredns@v$COREDNS_VERSION" . ;;&
    cnpg | metrics-server | coredns | all) ;;
    *) log::die "usage: $0 [all|cnpg|metrics-server|coredns]..." ;;
  esac
done
