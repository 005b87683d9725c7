#!/usr/bin/env bash
# Build the add-on images from the cached binaries and the debootstrapped base (hack/lib/image.sh:
# rebuilt only when their inputs changed); print their names, one a line.
#
#   images.sh [all|cnpg|postgres|metrics-server|coredns]...
#
#   $CNPG_IMAGE            CloudNativePG's manager, FROM scratch, laid out as upstream's image
#   $POSTGRES_IMAGE        Debian's PostgreSQL on the base image: initdb, postgres, pg_ctl,
#                          pg_controldata, pg_basebackup, pg_rewind on PATH, C.UTF-8, user postgres
#                          with uid/gid 26 (what CloudNativePG runs it as); the tag starts with the major
#   $METRICS_SERVER_IMAGE  metrics-server, FROM scratch
#   $COREDNS_IMAGE         CoreDNS, FROM scratch
set -euo pipefail
PIM_LOG_SCOPE=addons
# shellcheck source=hack/images/common.sh
. "$(cd "$(dirname "$0")" && pwd)/../images/common.sh"
# shellcheck source=hack/lib/go.sh
. "$PIM_HACK/lib/go.sh"
# shellcheck source=hack/addons/versions.sh
. "$PIM_HACK/addons/versions.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/pim-addons.XXXXXX")
trap 'rm -rf "$work"' EXIT

# scratch_image IMAGE NAME VERSION BINARY USER: the cached BINARY alone, as the entrypoint.
scratch_image() {
  local image=$1 ctx=$work/$2
  mkdir -p "$ctx"
  cp "$(go_cache_dir "$2" "$3")/$4" "$ctx/"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY $4 /$4
USER $5
ENTRYPOINT ["/$4"]
DOCKERFILE
  image_build "$image" "$ctx"
  echo "$image"
}

# As upstream's image: the manager per architecture in /operator (CloudNativePG finds the
# architectures it can run PostgreSQL pods on there, and copies that binary into them as the
# instance manager), /manager the one it runs itself.
cnpg_image() {
  local ctx=$work/cnpg bin
  bin=$(go_cache_dir cnpg "$CNPG_VERSION")/manager
  mkdir -p "$ctx/operator"
  cp "$bin" "$ctx/manager"
  cp "$bin" "$ctx/operator/manager_$(go env GOARCH)"
  cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY operator/ /operator/
COPY manager /manager
WORKDIR /
USER 10001:10001
ENTRYPOINT ["/manager"]
DOCKERFILE
  image_build "$CNPG_IMAGE" "$ctx"
  echo "$CNPG_IMAGE"
}

postgres_image() {
  local ctx=$work/postgres
  "$images_here/base.sh" >&2
  mkdir -p "$ctx"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BASE_IMAGE
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
CMD ["postgres", "--version"]
DOCKERFILE
  # The base's id is part of the key: a new base rebuilds the image (and picks up Debian's updates).
  image_build --key "$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")" "$POSTGRES_IMAGE" "$ctx"
  echo "$POSTGRES_IMAGE"
}

"$images_here/dockerd.sh" start >&2
for what in "${@:-all}"; do
  case $what in
    cnpg | postgres | metrics-server | coredns | all) ;;
    *) log::die "usage: $0 [all|cnpg|postgres|metrics-server|coredns]..." ;;
  esac
  [ "$what" = postgres ] || "$PIM_HACK/addons/build.sh" "$what"
  case $what in
    cnpg | all) cnpg_image ;;&
    postgres | all) postgres_image ;;&
    metrics-server | all) scratch_image "$METRICS_SERVER_IMAGE" metrics-server "$METRICS_SERVER_VERSION" metrics-server 65534:65534 ;;&
    coredns | all) scratch_image "$COREDNS_IMAGE" coredns "$COREDNS_VERSION" coredns 65534:65534 ;;
  esac
done
