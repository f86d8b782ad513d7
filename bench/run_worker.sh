#!/usr/bin/env bash
# The image-resize pipeline against vipsthumbnail (docs/BENCHMARKS.md, "Functions"):
# starts `sluice server` on a fresh data folder, makes DISTINCT photo-like
# 12-megapixel JPEGs with vips (blurred colour noise, ~4 MB each), uploads
# COUNT objects, then bench/worker_bench.py measures in one run:
#   vipsthumbnail   the same resizes of COUNT local files, one process per CPU (the image work alone)
#   worker          images/s of 1 and 2 `sluice worker image-resize` processes (one group, PARTITIONS
#                   partitions) from the first event produced to the last result written
#   vipsthumbnail   again (the machine may drift during the run)
#   latency         upload -> every output readable, one image at a time with the worker idle
# The server, workers and folder are removed on exit.
#
# usage: bench/run_worker.sh        (from the repository root, after a release build)
# knobs (environment):
#   BUILD=build/release  COUNT=48  DISTINCT=4  WORKERS=1,2  CONCURRENCY= (worker default: CPUs, >= 2)
#   PARTITIONS=4  SIZES=320x320,1024x1024  FORMAT=webp  QUALITY=80  LATENCY_SAMPLES=10
#   DATA_ROOT=/tmp  RESULTS=<file> (the JSON lines; default under /tmp)  PYTHON=/usr/bin/python3
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
SLUICE=$BUILD/apps/sluice/sluice
COUNT=${COUNT:-48}
DISTINCT=${DISTINCT:-4}
WORKERS=${WORKERS:-1,2}
CONCURRENCY=${CONCURRENCY:-0}
PARTITIONS=${PARTITIONS:-4}
SIZES=${SIZES:-320x320,1024x1024}
FORMAT=${FORMAT:-webp}
QUALITY=${QUALITY:-80}
LATENCY_SAMPLES=${LATENCY_SAMPLES:-10}
DATA_ROOT=${DATA_ROOT:-/tmp}
RESULTS=${RESULTS:-/tmp/worker-bench-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
PYTHON=${PYTHON:-/usr/bin/python3}
ACCESS_KEY=bench
SECRET_KEY=benchpass123

[[ -x $SLUICE ]] || { echo "missing $SLUICE: build first (cmake --preset release && cmake --build --preset release)" >&2; exit 2; }
for t in vips vipsthumbnail curl; do
  command -v $t >/dev/null || { echo "$t not found (apt-get install libvips-tools curl)" >&2; exit 2; }
done
"$PYTHON" -c 'import boto3, confluent_kafka' || { echo "$PYTHON needs boto3 and confluent_kafka" >&2; exit 2; }

WORK=$(mktemp -d "$DATA_ROOT/sluice-worker-bench.XXXXXX")
PIDS=()
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

log "making $DISTINCT 12-megapixel JPEGs"
mkdir -p "$WORK/images"
for ((i = 1; i <= DISTINCT; i++)); do
  for c in 1 2 3; do vips gaussnoise "$WORK/n$c.v" 4000 3000 --sigma 50 --mean 128 --seed $((i * 10 + c)); done
  vips bandjoin "$WORK/n1.v $WORK/n2.v $WORK/n3.v" "$WORK/n.v"
  vips gaussblur "$WORK/n.v" "$WORK/b.v" 1.5
  vips cast "$WORK/b.v" "$WORK/images/photo$i.jpg[Q=90]" uchar
done
rm -f "$WORK"/*.v
log "images: $(du -sh "$WORK/images" | cut -f1) for $DISTINCT files ($(vipsheader "$WORK/images/photo1.jpg"))"

s3_port=$(free_port)
kafka_port=$(free_port)
SLUICE_ROOT_USER=$ACCESS_KEY SLUICE_ROOT_PASSWORD=$SECRET_KEY \
  "$SLUICE" server "$WORK/data" --override s3.listeners=127.0.0.1:"$s3_port" \
  --override listeners=PLAINTEXT://127.0.0.1:"$kafka_port" >"$WORK/server.log" 2>&1 &
PIDS+=("$!")
wait_http "http://127.0.0.1:$s3_port/minio/health/live" 60

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
log "machine: $(nproc) CPUs ($cpu), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"
log "libvips $(vips --version), sluice $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+changes')"
log "$COUNT images, boxes $SIZES, $FORMAT Q$QUALITY, worker counts $WORKERS, $PARTITIONS partitions; results in $RESULTS"
"$PYTHON" bench/worker_bench.py --sluice "$SLUICE" --s3 "http://127.0.0.1:$s3_port" --kafka "127.0.0.1:$kafka_port" \
  --access-key $ACCESS_KEY --secret-key $SECRET_KEY --images "$WORK/images" --count "$COUNT" --workers "$WORKERS" \
  --concurrency "$CONCURRENCY" --partitions "$PARTITIONS" --sizes "$SIZES" --format "$FORMAT" --quality "$QUALITY" \
  --latency-samples "$LATENCY_SAMPLES" --work "$WORK" | tee "$RESULTS"
log "load after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
