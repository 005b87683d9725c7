#!/usr/bin/env bash
# `make down`: stop everything `make up` started (the cluster and its node, and a Docker engine
# if `make up` had to start one), saying what it stopped. Idempotent.
#
# usage: [CLUSTER=embedded] hack/down.sh
set -euo pipefail
PIM_LOG_SCOPE=down
# shellcheck source=hack/lib/init.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/init.sh"
CLUSTER=${CLUSTER:-embedded}
case $CLUSTER in
  embedded) provider=$PIM_HACK/cluster/provider.sh ;;
  *) log::die "CLUSTER=$CLUSTER: unknown (known: embedded)" ;;
esac
# shellcheck source=hack/cluster/provider.sh
. "$provider"
start=$(log::now)
provider::down
log::info "down in $(log::since "$start")s"
