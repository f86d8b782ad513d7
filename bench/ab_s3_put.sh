#!/usr/bin/env bash
# A/B of two (or more) sluice binaries on S3 PUT: each try starts a fresh
# server with a fresh data folder and runs `sluice-s3bench put` against it; the
# binaries alternate, PAIRS rounds, so the machine's drift hits them alike.
#
#   bench/ab_s3_put.sh /tmp/sluice-before build/release/apps/sluice/sluice
#   SIZE=64MiB CONCURRENCY=8 DURATION=6 PAIRS=4 bench/ab_s3_put.sh A B
#
# Knobs: BUILD=build/release (for sluice-s3bench)  SIZE=1MiB  CONCURRENCY=1  DURATION=6  PAIRS=4
#        DATA_ROOT=/tmp (data folders: on the disk under test, not tmpfs)
# Prints one line per try: binary, ops/s, p50 and p99 in ms.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
SIZE=${SIZE:-1MiB}
CONCURRENCY=${CONCURRENCY:-1}
DURATION=${DURATION:-6}
PAIRS=${PAIRS:-4}
DATA_ROOT=${DATA_ROOT:-/tmp}
PYTHON=${PYTHON:-python3}
S3BENCH=$BUILD/bench/sluice-s3bench
[[ $# -ge 1 ]] || { echo "usage: $0 SLUICE_BINARY [SLUICE_BINARY ...]" >&2; exit 2; }
[[ -x $S3BENCH ]] || { echo "no $S3BENCH: build the tree first" >&2; exit 1; }
WORK=$(mktemp -d -p "$DATA_ROOT" sluice-ab.XXXXXX)
PIDS=()
source bench/lib.sh
export SLUICE_BENCH_ACCESS_KEY=bench SLUICE_BENCH_SECRET_KEY=benchpass123
for ((round = 1; round <= PAIRS; round++)); do
  for bin in "$@"; do
    port=$(free_port)
    rm -rf "$WORK/data"
    SLUICE_ROOT_USER=bench SLUICE_ROOT_PASSWORD=benchpass123 "$bin" server "$WORK/data" \
      --override "s3.listeners=127.0.0.1:$port" --override kafka.enabled=false >"$WORK/server.log" 2>&1 &
    PIDS+=($!)
    pid=$!
    wait_http "http://127.0.0.1:$port/" 20
    line=$("$S3BENCH" put --endpoint "http://127.0.0.1:$port" --size "$SIZE" --concurrency "$CONCURRENCY" \
      --duration "$DURATION" | awk '$1 == "put" { print $3, $5, $6 }')
    echo "$bin $SIZE c=$CONCURRENCY round $round: ops/s p50 p99 = $line"
    stop "$pid"
  done
done
