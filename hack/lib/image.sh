# The one recipe for local images: built from a Dockerfile or imported from a root filesystem,
# labelled with a hash of their inputs, and skipped when the image already carries that hash.
# shellcheck shell=bash
#
#   image_build [OPTION]... IMAGE CONTEXT
#       docker build CONTEXT into IMAGE (legacy builder: no registry is reachable, and BuildKit
#       would try one for its frontend). The key hashes the Dockerfile, the build args, every
#       --key, and the context's files (or --context-key in their place).
#       --file DOCKERFILE     default CONTEXT/Dockerfile
#       --build-arg NAME=VAL  passed on, and part of the key (repeatable)
#       --target STAGE        the stage to build (one Dockerfile, several images), part of the key
#       --key TEXT            more key material, e.g. a base image's id (repeatable)
#       --context-key TEXT    stands for the context in the key, for contexts whose bytes are not
#                             reproducible (wheels with timestamps: hash what matters instead)
#   image_from_rootfs [--change INSTRUCTION]... IMAGE KEY TARBALL
#       docker import TARBALL (a root filesystem) into IMAGE with the key as its label; the caller
#       computes KEY from what the tarball was made of, checks image_current first and makes the
#       tarball only when needed (debootstrap is slow: see hack/images/base.sh)
#   image_current IMAGE KEY     IMAGE exists and carries KEY
#   image_input_hash IMAGE      the key IMAGE carries (empty when absent)
#   hash16 [FILE]...            the first 16 hex digits of the sha256 of the files (or stdin)
#
# Both recipes log what they build and how long it took (a heartbeat shows the build's current
# step), report "built" or "cached" through log::record, and remove only what they superseded:
# the previous image of the same tag and the intermediate stages of their own build, never
# anything another build on the same (shared) Docker engine may still be using.

# The label carrying the hash of everything an image was built from.
INPUT_LABEL=pim.dev/input-hash

# shellcheck disable=SC2120 # stdin, mostly
hash16() { cat "$@" | sha256sum | cut -c1-16; }

image_input_hash() {
  docker image inspect -f "{{ index .Config.Labels \"$INPUT_LABEL\" }}" "$1" 2>/dev/null || true
}

image_current() { [ "$(image_input_hash "$1")" = "$2" ]; }

# image::_current IMAGE KEY: image_current, said and reported as a reused cache.
image::_current() {
  image_current "$1" "$2" || return 1
  log::info "$1 is current ($2)"
  log::record "$1" cached
}

image_build() {
  local file="" args=() keys=() context_key="" image context key previous work t0
  while [[ ${1:-} == --* ]]; do
    case $1 in
      --file) file=$2; shift 2 ;;
      --build-arg) args+=(--build-arg "$2"); keys+=("arg $2"); shift 2 ;;
      --target) args+=(--target "$2"); keys+=("target $2"); shift 2 ;;
      --key) keys+=("key $2"); shift 2 ;;
      --context-key) context_key=$2; shift 2 ;;
      *) log::die "image_build: unknown option $1" ;;
    esac
  done
  (($# == 2)) || log::die "usage: image_build [OPTION]... IMAGE CONTEXT"
  image=$1 context=$2
  file=${file:-$context/Dockerfile}
  [ -f "$file" ] || log::die "image_build: $file not found"
  [ -n "$context_key" ] || context_key=$(cd "$context" && find . -type f -print0 | LC_ALL=C sort -z |
    xargs -0 sha256sum | hash16)
  key=$( (cat "$file"; printf '%s\n' "${keys[@]}" "context $context_key") | hash16)
  ! image::_current "$image" "$key" || return 0
  t0=$(log::now)
  previous=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null) || true
  work=$(mktemp -d "${TMPDIR:-/tmp}/pim-image.XXXXXX")
  log::info "building $image ($key) from $file"
  # Once more if an intermediate layer vanished mid-build: someone pruned dangling images on the
  # same engine (older scripts did), which is no fault of this build.
  local attempt
  for attempt in 1 2; do
    if log::run "docker build $image" "$work/build.log" env DOCKER_BUILDKIT=0 docker build --rm --force-rm \
      --file "$file" "${args[@]}" --label "$INPUT_LABEL=$key" --tag "$image" "$context"; then
      break
    fi
    if [ $attempt = 1 ] && grep -q "No such image" "$work/build.log"; then
      log::warn "an intermediate image of $image was removed during the build (a prune on this engine?); again"
      continue
    fi
    rm -rf "$work"
    return 1
  done
  image::_remove_superseded "$image" "$previous" "$work/build.log"
  rm -rf "$work"
  log::info "built $image ($key) in $(log::human "$(log::since "$t0")")"
  log::record "$image" built "$(log::human "$(log::since "$t0")")"
}

image_from_rootfs() {
  local changes=() image key tarball previous t0
  while [[ ${1:-} == --* ]]; do
    case $1 in
      --change) changes+=(--change "$2"); shift 2 ;;
      *) log::die "image_from_rootfs: unknown option $1" ;;
    esac
  done
  (($# == 3)) || log::die "usage: image_from_rootfs [--change INSTRUCTION]... IMAGE KEY TARBALL"
  image=$1 key=$2 tarball=$3
  ! image::_current "$image" "$key" || return 0
  t0=$(log::now)
  previous=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null) || true
  docker import "${changes[@]}" --change "LABEL $INPUT_LABEL=$key" "$tarball" "$image" >/dev/null
  image::_remove_superseded "$image" "$previous" /dev/null
  log::info "imported $image ($key) in $(log::human "$(log::since "$t0")")"
  log::record "$image" built "$(log::human "$(log::since "$t0")")"
}

# image::_remove_superseded IMAGE PREVIOUS_ID BUILD_LOG: the image IMAGE pointed at before (when
# nothing else names it now) and the last layer of each earlier stage of a multi-stage build (the
# "---> ID" just before a "FROM" step), which the legacy builder leaves dangling. `docker image rm`
# refuses whatever still has a tag, a child or a container, so nobody else's image can go.
image::_remove_superseded() {
  local image=$1 previous=$2 log=$3 now ids=()
  now=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null) || true
  if [ -n "$previous" ] && [ "$previous" != "$now" ] &&
    [ "$(docker image inspect -f '{{len .RepoTags}}' "$previous" 2>/dev/null)" = 0 ]; then
    ids+=("$previous")
  fi
  mapfile -t -O "${#ids[@]}" ids < <(awk '/^ ---> [0-9a-f]+$/ { last = $2; next }
    /^Step [0-9]+\/[0-9]+ : FROM / && last != "" { print last } { last = "" }' "$log")
  [ ${#ids[@]} = 0 ] || docker image rm "${ids[@]}" >/dev/null 2>&1 || true
}
