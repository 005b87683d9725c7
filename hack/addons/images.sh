#!/usr/bin/env bash
# Build the add-on images from the cached binaries and the debootstrapped base; print their names.
#
#   images.sh [all|cnpg|postgres|metrics-server|coredns]...
#
#   $CNPG_IMAGE            CloudNativePG's manager, FROM scratch (it also copies itself into every
#                          PostgreSQL pod as the instance manager)
#   $POSTGRES_IMAGE        Debian's PostgreSQL on the base image: initdb, postgres, pg_ctl,
#                          pg_controldata, pg_basebackup, pg_rewind on PATH, C.UTF-8, user postgres
#                          with uid/gid 26 (what CloudNativePG runs it as); the tag starts with the major
#   $METRICS_SERVER_IMAGE  metrics-server, FROM scratch
#   $COREDNS_IMAGE         CoreDNS, FROM scratch
#
# An image is rebuilt only when the hash of its inputs (Dockerfile, binary, base image) changed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/addons/versions.sh
. "$here/versions.sh"
# shellcheck source=hack/images/common.sh
. "$here/../images/common.sh"

# build IMAGE DOCKERFILE_TEXT [FILE[=PATH]...]: docker build a context of the FILEs (each at PATH in
# the context, default its name), keyed by their content.
build() {
  local image=$1 dockerfile=$2 key ctx f
  shift 2
  key=$( (echo "$dockerfile"; for f; do echo "${f#*=}"; sha256sum "${f%%=*}" | cut -c1-64; done) | sha256sum | cut -c1-16)
  echo "$image"
  if [ "$(image_input_hash "$image")" = "$key" ]; then log "$image is current ($key)"; return; fi
  ctx=$(mktemp -d)
  for f; do
    if [[ $f == *=* ]]; then mkdir -p "$ctx/$(dirname "${f#*=}")"; cp "${f%%=*}" "$ctx/${f#*=}"; else cp "$f" "$ctx/"; fi
  done
  echo "$dockerfile" >"$ctx/Dockerfile"
  local t0=$SECONDS
  DOCKER_BUILDKIT=0 docker build --quiet --label "$INPUT_LABEL=$key" --tag "$image" "$ctx" >"$ctx/build.log" 2>&1 \
    || { cat "$ctx/build.log" >&2; rm -rf "$ctx"; die "docker build of $image failed"; }
  rm -rf "$ctx"
  docker image prune --force --filter "label=$INPUT_LABEL" >/dev/null
  log "built $image ($key) in $((SECONDS - t0)) s"
}

scratch_image() { # IMAGE BINARY USER
  local bin
  bin=$(basename "$2")
  build "$1" "FROM scratch
COPY $bin /$bin
USER $3
ENTRYPOINT [\"/$bin\"]" "$2"
}

cnpg_image() {
  # As upstream's image: the manager per architecture in /operator (CloudNativePG finds the
  # architectures it can run PostgreSQL pods on there, and copies that binary into them as the
  # instance manager), /manager pointing at this one.
  local arch
  arch=$(go env GOARCH)
  build "$CNPG_IMAGE" "FROM scratch
COPY operator/ /operator/
COPY manager /manager
WORKDIR /
USER 10001:10001
ENTRYPOINT [\"/manager\"]" "$CNPG_BIN/manager=operator/manager_$arch" "$CNPG_BIN/manager=manager"
}

postgres_image() {
  "$images_here/base.sh" >&2
  # The base's id is part of the key: a new base rebuilds the image (and picks up Debian's updates).
  local base_id
  base_id=$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")
  build "$POSTGRES_IMAGE" "FROM $BASE_IMAGE
# $base_id
# CloudNativePG runs PostgreSQL as uid/gid 26; initdb needs that uid to have a name (gid 26 is
# Debian's unused "tape"). No default cluster: CloudNativePG's instance manager runs initdb itself.
RUN groupmod --new-name postgres tape \\
 && useradd --system --uid 26 --gid 26 --home-dir /var/lib/postgresql --shell /bin/bash postgres \\
 && mkdir -p /etc/postgresql-common/createcluster.d \\
 && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/pim.conf \\
 && apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-$POSTGRES_MAJOR >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/log/apt /var/log/dpkg.log
ENV PATH=/usr/lib/postgresql/$POSTGRES_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    LANG=C.UTF-8 LC_ALL=C.UTF-8
USER 26:26
CMD [\"postgres\", \"--version\"]"
}

"$images_here/dockerd.sh" start >&2
for what in "${@:-all}"; do
  case $what in
    cnpg) "$here/build.sh" cnpg; cnpg_image ;;
    postgres) postgres_image ;;
    metrics-server) "$here/build.sh" metrics-server; scratch_image "$METRICS_SERVER_IMAGE" "$METRICS_SERVER_BIN/metrics-server" 65534:65534 ;;
    coredns) "$here/build.sh" coredns; scratch_image "$COREDNS_IMAGE" "$COREDNS_BIN/coredns" 65534:65534 ;;
    all)
      "$here/build.sh" all
      cnpg_image
      postgres_image
      scratch_image "$METRICS_SERVER_IMAGE" "$METRICS_SERVER_BIN/metrics-server" 65534:65534
      scratch_image "$COREDNS_IMAGE" "$COREDNS_BIN/coredns" 65534:65534
      ;;
    *) echo "usage: $0 [all|cnpg|postgres|metrics-server|coredns]..." >&2; exit 2 ;;
  esac
done
