#!/usr/bin/env bash
# Copy the CRDs (deploy/crds, their one source of truth) into the Helm chart's crds/ directory,
# which Helm installs before the templates. tests/unit/test_chart_static.py checks they match.
set -euo pipefail
PIM_LOG_SCOPE=sync-crds
# shellcheck source=hack/lib/init.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/init.sh"
repo=$PIM_REPO
src=$repo/deploy/crds
dst=$repo/deploy/helm/pim-operator/crds
mkdir -p "$dst"
# Drop copies whose source is gone, then copy every source byte for byte.
for f in "$dst"/*.yaml; do
  [ -e "$f" ] || continue
  [ -e "$src/$(basename "$f")" ] || rm -f "$f"
done
cp "$src"/*.yaml "$dst"/
log::info "synced $(find "$dst" -name '*.yaml' | wc -l) CRD files into ${dst#"$repo"/}"
