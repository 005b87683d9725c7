#!/usr/bin/env bash
# The add-ons in the embedded local cluster (hack/cluster/up.sh with a real node): build the
# images, import them into the node's containerd, install. Other clusters load the images their
# own way (kind: `kind load docker-image $(hack/addons/images.sh)`) and run install.sh.
#
#   up.sh [DIR]     DIR: the cluster's state directory (default $PIM_CLUSTER_DIR or <repo>/.cluster)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
DIR=$(realpath -m -- "${1:-${PIM_CLUSTER_DIR:-$repo/.cluster}}")
[ -f "$DIR/cluster.env" ] || { echo "[addons/up] no cluster in $DIR (run hack/cluster/up.sh)" >&2; exit 1; }
# shellcheck disable=SC1091
. "$DIR/cluster.env"
sock=$DIR/node/containerd.sock
[ -S "$sock" ] || { echo "[addons/up] the cluster in $DIR has no real node ($sock)" >&2; exit 1; }
images=$("$here/images.sh" all)
mapfile -t images <<<"$images"
"$repo/hack/images/load.sh" "$sock" "${images[@]}"
KUBECONFIG=$KUBECONFIG DNS_IP=$CLUSTER_DNS_IP "$here/install.sh" all
