#!/usr/bin/env bash
# Builds Sluice (CI preset: optimised, -Werror) and runs every test: gtest units
# through CTest, then the integration suite against the real binary with real
# clients (boto3 old and new, aws cli, s3cmd, rclone).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/deps.sh test
# JavaScript clients of the integration tests (kafkajs ...), pinned by package-lock.json.
(cd tests/integration/js && npm ci --no-audit --no-fund --silent)
preset="${SLUICE_PRESET:-ci}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -- -j"$(nproc)"
built=$(date +%s)
echo "== build took $((built - start))s"

ctest --test-dir "build/$preset" --output-on-failure -j"$(nproc)"
units=$(date +%s)
echo "== unit tests took $((units - built))s"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
SLUICE_BIN="$PWD/build/$preset/apps/sluice/sluice" tests/integration/run.sh 2>&1 | tee "$log"
echo "== integration tests took $(($(date +%s) - units))s; total $(($(date +%s) - start))s"
# Last line: the integration suite's "N passed, N failed, N skipped" summary.
grep -E '^integration: [0-9]+ passed' "$log" | tail -n 1
