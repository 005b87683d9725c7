# Versions, cache locations and image names of the cluster add-ons that scaled instances need:
# CloudNativePG (its operator and a PostgreSQL operand image) and metrics-server (for HPAs).
# Sourced by the hack/addons scripts; nothing here runs anything.
# shellcheck shell=bash disable=SC2034 # used by the scripts sourcing this
PIM_CACHE_DIR=${PIM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pim-operator}
# github.com/cloudnative-pg/cloudnative-pg: the proxy serves exact versions (it refuses the list).
CNPG_VERSION=${CNPG_VERSION:-1.29.0}
CNPG_BIN=$PIM_CACHE_DIR/cnpg-v$CNPG_VERSION
CNPG_IMAGE=${CNPG_IMAGE:-localbase/cloudnative-pg:$CNPG_VERSION}
METRICS_SERVER_VERSION=${METRICS_SERVER_VERSION:-0.8.0}
METRICS_SERVER_BIN=$PIM_CACHE_DIR/metrics-server-v$METRICS_SERVER_VERSION
METRICS_SERVER_IMAGE=${METRICS_SERVER_IMAGE:-localbase/metrics-server:v$METRICS_SERVER_VERSION}
# Debian's PostgreSQL on the debootstrapped base; CloudNativePG reads the major version from the
# tag, so the tag starts with it (the full version is added when the image is built).
POSTGRES_SUITE=${POSTGRES_SUITE:-bookworm}
POSTGRES_MAJOR=${POSTGRES_MAJOR:-15}
POSTGRES_REPO=${POSTGRES_REPO:-localbase/postgresql}
# CoreDNS, for clusters without DNS (the embedded one): CloudNativePG's servers find each other,
# and engines their database, by Service name.
COREDNS_VERSION=${COREDNS_VERSION:-1.12.1}
COREDNS_BIN=$PIM_CACHE_DIR/coredns-v$COREDNS_VERSION
COREDNS_IMAGE=${COREDNS_IMAGE:-localbase/coredns:v$COREDNS_VERSION}
POSTGRES_IMAGE=${POSTGRES_IMAGE:-$POSTGRES_REPO:$POSTGRES_MAJOR-$POSTGRES_SUITE}
