#!/usr/bin/env bash
# Kafka API load test (docs/BENCHMARKS.md, "Kafka API"): starts `sluice server`
# with a fresh data folder on DATA_ROOT's disk, then sluice-kafka-bench
# (librdkafka, acks=all) measures the disk under it (fdatasync latency and
# sequential write bandwidth) and each offered load of RATES: achieved
# throughput, produce latency and end-to-end latency p50/p99/p999, and that
# the consumer saw every acknowledged message. The server and its folder are
# removed on exit.
#
# usage: bench/run_kafka.sh        (from the repository root, after a release build)
# The defaults are OpenMessaging Benchmark's workload 1-topic-16-partitions-1kb (one producer, 16
# partitions, 1 KiB messages, 50,000 msgs/s) and its default one-minute warm-up, which lets the log cache
# fill (256 MiB) and the uploads settle before latency is counted.
# knobs (environment):
#   BUILD=build/release  RATES=50,0  SECONDS_PER_LOAD=20  WARMUP=60  PARTITIONS=16  MESSAGE_SIZE=1024  PRODUCERS=1
#   DATA_ROOT=/work (a folder on the disk to measure)  EXTRA="--override key=value ..." (server settings)
#   BENCH_EXTRA="--client-stats ..." (more sluice-kafka-bench options)
#   SLUICE=path/to/sluice (another build of the server, for A/B runs)
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
SLUICE=${SLUICE:-$BUILD/apps/sluice/sluice}
BENCH=$BUILD/bench/sluice-kafka-bench
RATES=${RATES:-50,0}
SECONDS_PER_LOAD=${SECONDS_PER_LOAD:-20}
PARTITIONS=${PARTITIONS:-16}
MESSAGE_SIZE=${MESSAGE_SIZE:-1024}
WARMUP=${WARMUP:-60}
PRODUCERS=${PRODUCERS:-1}
DATA_ROOT=${DATA_ROOT:-/work}
EXTRA=${EXTRA:-}
BENCH_EXTRA=${BENCH_EXTRA:-}
PYTHON=${PYTHON:-python3}

for f in "$SLUICE" "$BENCH"; do
  [[ -x $f ]] || { echo "missing $f: build first (cmake --preset release && cmake --build --preset release)" >&2; exit 2; }
done

WORK=$(mktemp -d "$DATA_ROOT/sluice-kafka-bench.XXXXXX")
PIDS=()
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

s3_port=$(free_port)
kafka_port=$(free_port)
# shellcheck disable=SC2086
SLUICE_ROOT_USER=bench SLUICE_ROOT_PASSWORD=benchpass123 \
  "$SLUICE" server "$WORK/data" --override s3.listeners=127.0.0.1:"$s3_port" \
  --override listeners=PLAINTEXT://127.0.0.1:"$kafka_port" $EXTRA >"$WORK/server.log" 2>&1 &
PIDS+=("$!")
wait_http "http://127.0.0.1:$s3_port/minio/health/live" 60

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
log "machine: $(nproc) CPUs ($cpu), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"
log "data in $WORK ($(df -hT "$WORK" | awk 'NR==2 {print $2", "$5" free"}'))"
# shellcheck disable=SC2086
"$BENCH" --brokers 127.0.0.1:"$kafka_port" --device-dir "$WORK" --rates "$RATES" --seconds "$SECONDS_PER_LOAD" \
  --warmup "$WARMUP" --partitions "$PARTITIONS" --message-size "$MESSAGE_SIZE" --producers "$PRODUCERS" --acks all \
  $BENCH_EXTRA
