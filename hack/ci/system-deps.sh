#!/usr/bin/env bash
# Install the Debian packages the build, the local cluster and the tests need (idempotent).
set -euo pipefail
PIM_LOG_SCOPE=system-deps
# shellcheck source=hack/lib/init.sh
. "$(cd "$(dirname "$0")" && pwd)/../lib/init.sh"
PKGS=(
  jq curl openssl iproute2 iptables ipset conntrack gcc libc6-dev  # cluster scripts (ipset: kube-router), pause image
  docker.io containerd runc containernetworking-plugins debootstrap  # the real node and images
  prometheus  # e2e scraping and promtool
  chromium chromium-driver fonts-dejavu-core  # the console's browser tests (Debian's browser, its driver)
  postgresql  # the engine tests' real PostgreSQL server (initdb/pg_ctl in a temp dir)
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v go >/dev/null || log::die "Go is required to build the cluster binaries (https://go.dev/doc/install)"
if [ ${#missing[@]} -eq 0 ]; then
  log::info "all ${#PKGS[@]} Debian packages present"
  log::record "Debian packages" cached
  exit 0
fi
[ "$(id -u)" = 0 ] || log::die "Debian packages missing (${missing[*]}); run as root or install them"
t0=$(log::now)
log::info "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
work=$(mktemp -d "${TMPDIR:-/tmp}/pim-apt.XXXXXX")
trap 'rm -rf "$work"' EXIT
log::run "apt-get update" "$work/update.log" apt-get update -qq
# Debian's prometheus package starts a service in a real system; here nothing runs services.
log::run "apt-get install ${missing[*]}" "$work/install.log" \
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
log::record "Debian packages" built "$(log::human "$(log::since "$t0")"): ${missing[*]}"
