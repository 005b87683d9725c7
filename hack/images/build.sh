#!/usr/bin/env bash
# Build the engine, operator and console images from local wheels, on the local Debian base.
#
#   build.sh [engine|operator|console|all]
#
# Wheels are made on the host (images have neither network nor the host's CA bundle) for the
# base image's own Python and glibc, so a host with another Python still builds a working image.
# Third-party wheels are cached per pyproject.toml; an image is rebuilt only when the hash of its
# Dockerfile, wheels and base image changed (hack/lib/image.sh, image_build).
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

work=$(mktemp -d "${TMPDIR:-/tmp}/pim-images.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The images get the versions the tests ran against: the host environment pins them.
"$python" -m pip freeze --exclude-editable >"$work/constraints.txt"

# Third-party wheels: resolved once per (pyproject.toml, pins, target), cached outside the repo.
deps_key=$( (cat "$repo_root/pyproject.toml" "$work/constraints.txt"; echo "$py_tag $platform") | hash16)
deps_dir=$IMAGES_CACHE/wheels-$deps_key

export SOURCE_DATE_EPOCH=315532800 PIP_DISABLE_PIP_VERSION_CHECK=1
log::run "the project's wheel" "$work/pip.log" "$python" -m pip wheel --no-deps -w "$work/own" "$repo_root"
own_wheel=$(ls "$work"/own/*.whl)

# download_wheels: the third-party wheels, into a fresh directory renamed into place when complete.
download_wheels() {
  local tmp
  tmp=$(mktemp -d "$IMAGES_CACHE/.wheels.XXXXXX")
  "$python" -m pip download --only-binary=:all: --implementation cp \
    --python-version "$py_version" --abi "$py_tag" "${platforms[@]}" \
    --constraint "$work/constraints.txt" -d "$tmp" "${own_wheel}[operator,console]"
  rm -f "$tmp"/pim_operator-*.whl
  touch "$tmp/.complete"
  rm -rf "$deps_dir"
  mv "$tmp" "$deps_dir"
}
if [ -f "$deps_dir/.complete" ]; then
  touch "$deps_dir/.complete"
  log::info "third-party wheels for $py_tag/$platform: cached in $deps_dir"
  log::record "wheels $py_tag" cached
else
  t0=$(log::now)
  mkdir -p "$IMAGES_CACHE"
  log::run "downloading third-party wheels for $py_tag/$platform" "$work/pip.log" download_wheels
  log::record "wheels $py_tag" built "$(log::human "$(log::since "$t0")")"
  # Wheel sets nobody used for a week (other branches' pins may still use theirs meanwhile).
  find "$IMAGES_CACHE" -maxdepth 2 -path "$IMAGES_CACHE/wheels-*/.complete" -mtime +7 -printf '%h\0' |
    xargs -0 -r rm -rf
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

# build IMAGE DOCKERFILE [OPTION]...: the image from the wheels on the base (skipped when current).
build() {
  image_build --file "$2" "${@:3}" --build-arg "BASE_IMAGE=$BASE_IMAGE" --key "$base_id" \
    --context-key "$wheels" "$1" "$work/ctx"
}
engine() { build "$ENGINE_IMAGE" "$repo_root/instance_image/Dockerfile"; }
# The operator and the console share one recipe: the wheel with their extra, their entrypoint.
operator() { build "$OPERATOR_IMAGE" "$repo_root/operator/Dockerfile" --target operator --build-arg EXTRA=operator; }
console() { build "$CONSOLE_IMAGE" "$repo_root/operator/Dockerfile" --target console --build-arg EXTRA=console; }

case ${1:-all} in
  engine | operator | console) "$1" ;;
  all)
    engine
    operator
    console
    ;;
  *) log::die "usage: $0 [engine|operator|console|all]" ;;
esac
