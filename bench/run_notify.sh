#!/usr/bin/env bash
# Bucket notifications (docs/BENCHMARKS.md, "Bucket notifications"), in one run:
#   1. event latency, PUT response -> message readable on the topic, p50/p99, for the built-in target (this
#      server's stream engine) and an external Kafka target (a second `sluice` process over loopback,
#      librdkafka): LAT_COUNT PUTs of 1 KiB at LAT_RATE per second (bench/notify_latency.py);
#   2. PUT throughput (sluice-s3bench, 4 KiB objects, CONCURRENCY workers) into a bucket without rules and into
#      one whose rule sends every ObjectCreated event to the built-in target, alternating REPEATS times; the
#      ratio of the best runs is the cost of notifications;
#   3. GET throughput the same way, a bucket without rules against one whose rule sends every ObjectAccessed
#      event to the built-in target; QUEUE_READ_EVENTS=true sets notify.queue.read.events (the GET does not
#      wait for its event's fsync).
# Servers and folders are removed on exit.
#
# usage: bench/run_notify.sh      (from the repository root, after a release build)
# knobs: BUILD=build/release DATA_ROOT=/work LAT_COUNT=1000 LAT_RATE=50 SIZE=4KiB CONCURRENCY=8 DURATION=10 REPEATS=2
#        QUEUE_READ_EVENTS=false
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
SLUICE=$BUILD/apps/sluice/sluice
S3BENCH=$BUILD/bench/sluice-s3bench
DATA_ROOT=${DATA_ROOT:-/work}
LAT_COUNT=${LAT_COUNT:-1000}
LAT_RATE=${LAT_RATE:-50}
CONCURRENCY=${CONCURRENCY:-8}
DURATION=${DURATION:-10}
SIZE=${SIZE:-4KiB}
REPEATS=${REPEATS:-2}
PYTHON=${PYTHON:-/usr/bin/python3}  # Debian's: boto3 + confluent-kafka
QUEUE_READ_EVENTS=${QUEUE_READ_EVENTS:-false}  # the server's notify.queue.read.events (step 3)
export SLUICE_ROOT_USER=bench SLUICE_ROOT_PASSWORD=benchpass123
export SLUICE_BENCH_ACCESS_KEY=bench SLUICE_BENCH_SECRET_KEY=benchpass123

for f in "$SLUICE" "$S3BENCH"; do
  [[ -x $f ]] || { echo "missing $f: build first (cmake --preset release && cmake --build --preset release)" >&2; exit 2; }
done

WORK=$(mktemp -d "$DATA_ROOT/sluice-notify-bench.XXXXXX")
PIDS=()
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_server() {  # name -> sets S3_<name>, KAFKA_<name>
  local name=$1 s3 kafka
  s3=$(free_port)
  kafka=$(free_port)
  "$SLUICE" server "$WORK/$name" --override s3.listeners=127.0.0.1:"$s3" \
    --override notify.queue.read.events="$QUEUE_READ_EVENTS" \
    --override listeners=PLAINTEXT://127.0.0.1:"$kafka" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  wait_http "http://127.0.0.1:$s3/minio/health/live" 60
  printf -v "S3_$name" '%s' "$s3"
  printf -v "KAFKA_$name" '%s' "$kafka"
}

start_server main
start_server ext
EP="http://127.0.0.1:$S3_main"
"$SLUICE" admin --endpoint "$EP" config set notify_kafka:ext "brokers=127.0.0.1:$KAFKA_ext" topic=ext-events >/dev/null
"$SLUICE" admin --endpoint "$EP" config set notify_sluice:lat topic=lat-events >/dev/null

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
log "machine: $(nproc) CPUs ($cpu), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"
log "event latency: $LAT_COUNT PUTs at $LAT_RATE/s"
"$PYTHON" bench/notify_latency.py latency "$EP" "127.0.0.1:$KAFKA_main" lat-events lat-builtin \
  arn:minio:sqs::lat:sluice "$LAT_COUNT" "$LAT_RATE" builtin
"$PYTHON" bench/notify_latency.py latency "$EP" "127.0.0.1:$KAFKA_ext" ext-events lat-external \
  arn:minio:sqs::ext:kafka "$LAT_COUNT" "$LAT_RATE" external-kafka

# alternate MODE BUCKET FIGURE WHAT [sluice-s3bench options...]: MODE (put/get) into the bucket without rules
# and into BUCKET, alternating REPEATS times; prints each run's line and the ratio of the best runs.
alternate() {
  local mode=$1 notified=$2 figure=$3 what=$4
  shift 4
  for ((i = 0; i < REPEATS; i++)); do
    for b in plain "$notified"; do
      "$S3BENCH" "$mode" --endpoint "$EP" --bucket "$b" --size "$SIZE" --concurrency "$CONCURRENCY" \
        --duration "$DURATION" --label "$b" --json "$@"
    done
  done | "$PYTHON" -c '
import json, sys
notified, figure, what = sys.argv[1:4]
best = {}
for line in sys.stdin:
    r = json.loads(line)
    best[r["label"]] = max(best.get(r["label"], 0), r["ops_per_s"])
    print(line.strip())
ratio = best[notified] / best["plain"]
print(json.dumps({"bench": "notify", "figure": figure, "plain_ops_per_s": round(best["plain"], 1),
                  "notified_ops_per_s": round(best[notified], 1), "ratio": round(ratio, 3)}))
print("%s: %.0f ops/s without rules, %.0f with a rule: %.2fx" % (what, best["plain"], best[notified], ratio),
      file=sys.stderr)' "$notified" "$figure" "$what"
}

log "PUT throughput: $SIZE, c=$CONCURRENCY, ${DURATION}s, best of $REPEATS"
"$PYTHON" bench/notify_latency.py setup "$EP" plain -
"$PYTHON" bench/notify_latency.py setup "$EP" notified arn:minio:sqs::1:sluice
alternate put notified put_throughput PUT

log "GET throughput: $SIZE, c=$CONCURRENCY, ${DURATION}s, best of $REPEATS, a rule on s3:ObjectAccessed:* beside none (notify.queue.read.events=$QUEUE_READ_EVENTS)"
"$PYTHON" bench/notify_latency.py setup "$EP" accessed arn:minio:sqs::1:sluice "s3:ObjectAccessed:*"
"$S3BENCH" prepare --endpoint "$EP" --bucket plain --size "$SIZE" --no-create-bucket >/dev/null
"$S3BENCH" prepare --endpoint "$EP" --bucket accessed --size "$SIZE" --no-create-bucket >/dev/null
alternate get accessed get_throughput GET --no-prepare
