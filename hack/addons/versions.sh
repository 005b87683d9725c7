# Versions and image names of the cluster add-ons that scaled instances need: CloudNativePG (its
# operator and a PostgreSQL operand image), metrics-server (for HPAs) and CoreDNS (for clusters
# without DNS). Sourced by the hack/addons scripts after hack/images/common.sh (init.sh, the
# logging idiom, image.sh); nothing here runs anything.
# shellcheck shell=bash disable=SC2034 # used by the scripts sourcing this
# github.com/cloudnative-pg/cloudnative-pg: the proxy serves exact versions (it refuses the list).
CNPG_VERSION=${CNPG_VERSION:-1.29.0}
CNPG_IMAGE=${CNPG_IMAGE:-localbase/cloudnative-pg:$CNPG_VERSION}
METRICS_SERVER_VERSION=${METRICS_SERVER_VERSION:-0.8.0}
METRICS_SERVER_IMAGE=${METRICS_SERVER_IMAGE:-localbase/metrics-server:v$METRICS_SERVER_VERSION}
# Debian's PostgreSQL on the debootstrapped base; CloudNativePG reads the major version from the
# tag, so the tag starts with it.
POSTGRES_SUITE=${POSTGRES_SUITE:-bookworm}
POSTGRES_MAJOR=${POSTGRES_MAJOR:-15}
POSTGRES_REPO=${POSTGRES_REPO:-localbase/postgresql}
POSTGRES_IMAGE=${POSTGRES_IMAGE:-$POSTGRES_REPO:$POSTGRES_MAJOR-$POSTGRES_SUITE}
# CoreDNS, for clusters without DNS (the embedded one): CloudNativePG's servers find each other,
# and engines their database, by Service name.
COREDNS_VERSION=${COREDNS_VERSION:-1.12.1}
COREDNS_IMAGE=${COREDNS_IMAGE:-localbase/coredns:v$COREDNS_VERSION}
