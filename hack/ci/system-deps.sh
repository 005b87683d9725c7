#!/usr/bin/env bash
# Install the Debian packages the build, the local cluster and the tests need (idempotent).
set -euo pipefail
PKGS=(
  jq curl openssl iproute2 iptables conntrack gcc libc6-dev  # cluster scripts, pause image
  docker.io containerd runc containernetworking-plugins debootstrap  # the real node and images
  prometheus  # e2e scraping and promtool
  chromium chromium-driver fonts-dejavu-core  # the console's browser tests (Debian's browser, its driver)
  postgresql  # the engine tests' real PostgreSQL server (initdb/pg_ctl in a temp dir)
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "system packages missing (${missing[*]}); run as root or install them" >&2
  exit 1
fi
echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Debian's prometheus package starts a service in a real system; here nothing runs services.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
command -v go >/dev/null || { echo "Go is required to build the cluster binaries" >&2; exit 1; }
