#!/usr/bin/env bash
# The add-ons in the embedded local cluster (hack/cluster/up.sh with a real node): build the
# images, import them into the node's containerd, install. Other clusters load the images their
# own way (kind: hack/addons/kind.sh) and run install.sh.
#
#   up.sh [DIR]     DIR: the cluster's state directory (default $PIM_CLUSTER_DIR or <repo>/.cluster)
set -euo pipefail
PIM_LOG_SCOPE=addons
# shellcheck source=hack/lib/init.sh
. "$(cd "$(dirname "$0")" && pwd)/../lib/init.sh"
DIR=$(realpath -m -- "${1:-${PIM_CLUSTER_DIR:-$PIM_REPO/.cluster}}")
[ -f "$DIR/cluster.env" ] || log::die "no cluster in $DIR (run hack/cluster/up.sh)"
# shellcheck disable=SC1091
. "$DIR/cluster.env"
sock=$DIR/node/containerd.sock
[ -S "$sock" ] || log::die "the cluster in $DIR has no real node ($sock)"
images=$("$PIM_HACK/addons/images.sh" all)
mapfile -t images <<<"$images"
"$PIM_HACK/images/load.sh" "$sock" "${images[@]}"
KUBECONFIG=$KUBECONFIG DNS_IP=$CLUSTER_DNS_IP "$PIM_HACK/addons/install.sh" all
