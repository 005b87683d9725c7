# Sourced first by every hack/ script: where things are, the cache root, and the logging idiom.
# shellcheck shell=bash
#
#   . "$(dirname "$0")/../lib/init.sh"      (adjust the path to the script's depth)
#
# The other libraries are sourced where needed: go.sh (go_build_cached), image.sh (image_build,
# image_from_rootfs), proc.sh (detached processes owned by a state directory), ports.sh (free_ports).
PIM_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PIM_HACK=$PIM_REPO/hack
# Heavy builds are cached outside the repository, so a fresh clone reuses them.
PIM_CACHE_DIR=${PIM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pim-operator}
export PIM_CACHE_DIR
# shellcheck source=hack/lib/log.sh
. "$PIM_HACK/lib/log.sh"
