#!/usr/bin/env bash
# S3 throughput on erasure-coded drives beside one drive, in one run
# (docs/BENCHMARKS.md, "Erasure coding"):
#   1drive  sluice server DIR                      (single-drive layout, no erasure coding)
#   ec      sluice server DIR/d{1...8}, EC:4       (one set of 8 drive folders: 4 data + 4 parity shards)
# Both servers run side by side on loopback with fresh data folders; the same
# load generator (sluice-s3bench) measures GET and PUT of each size at each
# concurrency, the two systems alternating REPEATS times so that load on a
# shared machine hits both alike. The table keeps each system's best try and
# gives the ratio ec / 1drive. Every prepared object is read back from both
# and compared byte for byte before the timed runs. Every process started
# here is stopped and every folder removed on exit.
#
# usage: bench/run_erasure_s3.sh        (from the repository root, after a release build)
# knobs (environment):
#   BUILD=build/release   SIZES="64MiB"   CONCURRENCY="1 8"   DURATION=5 (seconds per run)   REPEATS=2
#   DRIVES=8   PARITY=4   DATA_ROOT=/tmp   RESULTS=<file> (raw JSON lines; default under /tmp)
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
SLUICE=$BUILD/apps/sluice/sluice
BENCH=$BUILD/bench/sluice-s3bench
SIZES=${SIZES:-"64MiB"}
CONCURRENCY=${CONCURRENCY:-"1 8"}
DURATION=${DURATION:-5}
REPEATS=${REPEATS:-2}
DRIVES=${DRIVES:-8}
PARITY=${PARITY:-4}
DATA_ROOT=${DATA_ROOT:-/tmp}
RESULTS=${RESULTS:-/tmp/erasure-s3bench-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
ACCESS_KEY=bench
SECRET_KEY=benchpass123
PYTHON=${PYTHON:-python3}

for f in "$SLUICE" "$BENCH"; do
  [[ -x $f ]] || { echo "missing $f: build first (cmake --preset release && cmake --build --preset release)" >&2; exit 2; }
done

WORK=$(mktemp -d "$DATA_ROOT/sluice-ec-bench.XXXXXX")
PIDS=()
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_sluice() {  # name server-args... -> sets PORT_<name>
  local name=$1 port
  shift
  port=$(free_port)
  SLUICE_ROOT_USER=$ACCESS_KEY SLUICE_ROOT_PASSWORD=$SECRET_KEY \
    "$SLUICE" server "$@" --override kafka.enabled=false --override s3.listeners=127.0.0.1:"$port" \
    >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  wait_http "http://127.0.0.1:$port/minio/health/live" 30
  printf -v "PORT_$name" '%s' "$port"
}

bench() {  # label mode size concurrency args...: one run, its JSON line appended to $RESULTS
  local label=$1 mode=$2 size=$3 conc=$4 line
  shift 4
  line=$("$BENCH" "$mode" --label "$label" --size "$size" --concurrency "$conc" --duration "$DURATION" --json "$@") || true
  if [[ -z $line ]]; then
    echo "run failed: $label $mode $size c=$conc" >&2
    return 0
  fi
  echo "$line" >>"$RESULTS"
  "$PYTHON" -c 'import json,sys; r=json.loads(sys.argv[1]); print("  %-6s %-4s %-6s c=%-2d %9.1f MiB/s %7.2f ops/s  p50 %9.3f ms  p99 %9.3f ms  errors %d" % (r["label"], r["mode"], r["size_label"], r["concurrency"], r["mib_per_s"], r["ops_per_s"], r["p50_ms"], r["p99_ms"], r["errors"]))' "$line" >&2
}

objects_for() {
  case $1 in
    *KiB) echo 256 ;;
    1MiB) echo 64 ;;
    *) echo 8 ;;
  esac
}

: >"$RESULTS"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
log "machine: $(nproc) CPUs ($cpu), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"
log "work dir $WORK ($(df -hT "$WORK" | awk 'NR==2 {print $2", "$5" free"}')), results $RESULTS"

mkdir -p "$WORK/one" "$WORK/ec"
start_sluice 1drive "$WORK/one"
start_sluice ec "$WORK/ec/d{1...$DRIVES}" --override storage.parity="EC:$PARITY"
declare -A EP=([1drive]="http://127.0.0.1:$PORT_1drive" [ec]="http://127.0.0.1:$PORT_ec")
log "1drive on $PORT_1drive, ec ($DRIVES drive folders, EC:$PARITY) on $PORT_ec"

for size in $SIZES; do
  objects=$(objects_for "$size")
  for sys in 1drive ec; do
    S3=(--endpoint "${EP[$sys]}" --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY")
    log "$size: preparing $objects objects in $sys"
    "$BENCH" prepare --size "$size" --objects "$objects" --concurrency 4 "${S3[@]}"
    "$BENCH" verify --size "$size" --objects "$objects" --concurrency 2 --label "$sys" "${S3[@]}"
  done
  sync
  for c in $CONCURRENCY; do
    for ((rep = 0; rep < REPEATS; rep++)); do
      for sys in 1drive ec; do
        bench "$sys" get "$size" "$c" --objects "$objects" --no-prepare \
          --endpoint "${EP[$sys]}" --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY"
      done
    done
  done
  for c in $CONCURRENCY; do
    for ((rep = 0; rep < REPEATS; rep++)); do
      for sys in 1drive ec; do
        sync
        bench "$sys" put "$size" "$c" --endpoint "${EP[$sys]}" --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY"
      done
    done
  done
done

log "done; load $(cut -d' ' -f1-3 /proc/loadavg); raw results in $RESULTS"
"$PYTHON" "$(dirname "$0")/erasure_s3_table.py" "$RESULTS"
