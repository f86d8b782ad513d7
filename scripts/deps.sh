#!/usr/bin/env bash
# Installs the Debian packages Sluice needs. Idempotent and quiet when all are present.
# Usage: scripts/deps.sh build|test|all
set -euo pipefail

build_pkgs=(cmake ninja-build g++ pkg-config ccache libboost1.81-all-dev libssl-dev libpugixml-dev libspdlog-dev
            libfmt-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev libisal-dev libxxhash-dev libsqlite3-dev
            librdkafka-dev libvips-dev python3)
test_pkgs=(python3 python3-pytest python3-boto3 python3-requests awscli s3cmd rclone openssl curl kcat python3-kafka
           python3-confluent-kafka libvips-tools python3-pil)

want=()
case "${1:-all}" in
  build) want=("${build_pkgs[@]}") ;;
  test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  all) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 build|test|all" >&2; exit 2 ;;
esac

# npm (kafkajs and the console tests): Debian's npm unless a Node.js with npm is already there.
if [ "${1:-all}" != build ] && ! command -v npm >/dev/null; then want+=(npm); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
