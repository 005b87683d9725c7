#!/usr/bin/env bash
# Build the engine and operator images from local wheels, on the local Debian base.
#
#   build.sh [engine|operator|console|all]
#
# Wheels are made on the host (images have neither network nor the host's CA bundle) for the
# base image's own Python and glibc, so a host with another Python still builds a working image.
# Third-party wheels are cached per pyproject.toml; an image is rebuilt only when the hash of its
# Dockerfile, wheels and base image changed (recorded in the label $INPUT_LABEL).
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

python=${PYTHON:-$repo_root/.venv/bin/python}
[ -x "$python" ] || python=python3

"$images_here/dockerd.sh" start
"$images_here/base.sh"

# The base image's Python ("3.11") and glibc ("2.36"), for pip's target-platform options.
read -r py_version glibc < <(docker run --rm --network none "$BASE_IMAGE" python3 -c \
  'import platform, sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}", platform.libc_ver()[1])')
py_tag=cp${py_version/./}
# Older pips do not widen a manylinux_2_N target to lower N, so name every compatible tag.
platforms=(--platform manylinux2014_x86_64)
for ((minor = ${glibc#*.}; minor >= 17; minor--)); do platforms+=(--platform "manylinux_2_${minor}_x86_64"); done
platform=manylinux_${glibc/./_}_x86_64

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The images get the versions the tests ran against: the host environment pins them.
"$python" -m pip freeze --exclude-editable >"$work/constraints.txt"

# Third-party wheels: resolved once per (pyproject.toml, pins, target), cached outside the repo.
deps_key=$( (cat "$repo_root/pyproject.toml" "$work/constraints.txt"; echo "$py_tag $platform") \
  | sha256sum | cut -c1-16)
deps_dir=$IMAGES_CACHE/wheels-$deps_key

export SOURCE_DATE_EPOCH=315532800 PIP_DISABLE_PIP_VERSION_CHECK=1
"$python" -m pip wheel --quiet --no-deps -w "$work/own" "$repo_root" >"$work/pip.log" 2>&1 \
  || { cat "$work/pip.log" >&2; die "building the project wheel failed"; }
own_wheel=$(ls "$work"/own/*.whl)

if [ ! -f "$deps_dir/.complete" ]; then
  log "downloading third-party wheels for $py_tag/$platform into $deps_dir"
  rm -rf "$deps_dir"; mkdir -p "$deps_dir"
  "$python" -m pip download --quiet --only-binary=:all: --implementation cp \
    --python-version "$py_version" --abi "$py_tag" "${platforms[@]}" \
    --constraint "$work/constraints.txt" -d "$deps_dir" "$own_wheel[operator,console]" >"$work/pip.log" 2>&1 \
    || { cat "$work/pip.log" >&2; die "downloading wheels failed"; }
  rm -f "$deps_dir"/pim_operator-*.whl
  touch "$deps_dir/.complete"
  find "$IMAGES_CACHE" -maxdepth 1 -name 'wheels-*' ! -path "$deps_dir" -exec rm -rf {} +
fi

# Hash of wheel contents (member names and CRCs): zip timestamps must not force a rebuild.
wheels_hash() {
  "$python" - "$@" <<'PY'
import hashlib, sys, zipfile
digest = hashlib.sha256()
for path in sorted(sys.argv[1:], key=lambda p: p.rsplit("/", 1)[-1]):
    with zipfile.ZipFile(path) as wheel:
        for info in sorted(wheel.infolist(), key=lambda i: i.filename):
            digest.update(f"{info.filename}:{info.CRC:08x}\n".encode())
print(digest.hexdigest()[:16])
PY
}

mkdir -p "$work/ctx/wheels"
cp "$deps_dir"/*.whl "$own_wheel" "$work/ctx/wheels/"
wheels=$(wheels_hash "$work"/ctx/wheels/*.whl)
base_id=$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")

build_image() {
  local image=$1 dockerfile=$2 key
  [ -f "$dockerfile" ] || die "$dockerfile not found"
  key=$( (cat "$dockerfile"; echo "$wheels $base_id") | sha256sum | cut -c1-16)
  if [ "$(image_input_hash "$image")" = "$key" ]; then
    log "$image is current ($key)"
    return
  fi
  local start=$SECONDS
  DOCKER_BUILDKIT=0 docker build --quiet --file "$dockerfile" --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --label "$INPUT_LABEL=$key" --tag "$image" "$work/ctx" >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; die "docker build of $image failed"; }
  log "built $image ($key) in $((SECONDS - start)) s"
  # Superseded builds and their install stages: dangling, and all derived from our base.
  docker image prune --force --filter "label=$INPUT_LABEL" >/dev/null
}

case ${1:-all} in
  engine) build_image "$ENGINE_IMAGE" "$repo_root/instance_image/Dockerfile" ;;
  operator) build_image "$OPERATOR_IMAGE" "$repo_root/operator/Dockerfile" ;;
  console) build_image "$CONSOLE_IMAGE" "$repo_root/console/Dockerfile" ;;
  all)
    build_image "$ENGINE_IMAGE" "$repo_root/instance_image/Dockerfile"
    build_image "$OPERATOR_IMAGE" "$repo_root/operator/Dockerfile"
    build_image "$CONSOLE_IMAGE" "$repo_root/console/Dockerfile"
    ;;
  *) echo "usage: $0 [engine|operator|console|all]" >&2; exit 2 ;;
esac
