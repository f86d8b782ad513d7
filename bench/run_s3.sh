#!/usr/bin/env bash
# The S3 benchmark in one run (docs/BENCHMARKS.md): Sluice against the
# machine's limits and a peer, all measured back to back so ratios compare
# like with like:
#   GET  sluice vs nginx serving the same bytes as static files (sendfile on)
#   PUT  sluice vs raw write()+fdatasync()+rename() of the same sizes
#   both sluice vs moto's S3 server (python3 -m moto.server)
# Each size gets fresh servers and data folders, deleted afterwards; every
# process started here is stopped on exit.
#
# usage: bench/run_s3.sh            (from the repository root, after a release build)
# knobs (environment):
#   BUILD=build/release   SIZES="4KiB 1MiB 64MiB"   CONCURRENCY="1 8 32"   DURATION=5 (seconds per run)
#   REPEATS=2 (sluice and its baseline alternate this many times; the table keeps each one's best)
#   MIXED_CONCURRENCY=8   MOTO=1 (0 skips moto)   MOTO_DURATION=4   MOTO_CONCURRENCY="1 8"
#   DATA_ROOT=/tmp (data folders go under it)   RESULTS=<file> (raw JSON lines; default under /tmp)
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
SLUICE=$BUILD/apps/sluice/sluice
BENCH=$BUILD/bench/sluice-s3bench
SIZES=${SIZES:-"4KiB 1MiB 64MiB"}
CONCURRENCY=${CONCURRENCY:-"1 8 32"}
DURATION=${DURATION:-5}
REPEATS=${REPEATS:-2}
MIXED_CONCURRENCY=${MIXED_CONCURRENCY:-8}
MOTO=${MOTO:-1}
MOTO_DURATION=${MOTO_DURATION:-4}
MOTO_CONCURRENCY=${MOTO_CONCURRENCY:-"1 8"}
DATA_ROOT=${DATA_ROOT:-/tmp}
RESULTS=${RESULTS:-/tmp/s3bench-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
ACCESS_KEY=bench
SECRET_KEY=benchpass123
PYTHON=${PYTHON:-python3}

for f in "$SLUICE" "$BENCH"; do
  [[ -x $f ]] || { echo "missing $f: build first (cmake --preset release && cmake --build --preset release)" >&2; exit 2; }
done
command -v nginx >/dev/null || { echo "nginx not found" >&2; exit 2; }

WORK=$(mktemp -d "$DATA_ROOT/sluice-s3bench.XXXXXX")
chmod 755 "$WORK"  # nginx workers drop root privileges and must read the files
PIDS=()
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_sluice() {  # data-dir -> sets SLUICE_PID SLUICE_PORT
  SLUICE_PORT=$(free_port)
  SLUICE_ROOT_USER=$ACCESS_KEY SLUICE_ROOT_PASSWORD=$SECRET_KEY \
    "$SLUICE" server "$1" --override kafka.enabled=false --override s3.listeners=127.0.0.1:$SLUICE_PORT >"$WORK/sluice.log" 2>&1 &
  SLUICE_PID=$!
  PIDS+=("$SLUICE_PID")
  # A 4xx body proves it listens; health is what the brief names.
  wait_http "http://127.0.0.1:$SLUICE_PORT/minio/health/live" 30
}

start_nginx() {  # root -> sets NGINX_PID NGINX_PORT
  NGINX_PORT=$(free_port)
  local p=$WORK/nginx
  mkdir -p "$p/tmp" "$p/logs"
  cat >"$p/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $p/nginx.pid;
error_log $p/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  default_type application/octet-stream;
  client_body_temp_path $p/tmp/body;
  proxy_temp_path $p/tmp/proxy;
  fastcgi_temp_path $p/tmp/fastcgi;
  uwsgi_temp_path $p/tmp/uwsgi;
  scgi_temp_path $p/tmp/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $1;
  }
}
EOF
  nginx -c "$p/nginx.conf" -p "$p" &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  wait_http "http://127.0.0.1:$NGINX_PORT/" 10
}

start_moto() {  # -> sets MOTO_PID MOTO_PORT
  MOTO_PORT=$(free_port)
  "$PYTHON" -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
  MOTO_PID=$!
  PIDS+=("$MOTO_PID")
  wait_http "http://127.0.0.1:$MOTO_PORT/" 60
}

# bench LABEL MODE SIZE CONCURRENCY DURATION ARGS...: one run, its JSON line appended to $RESULTS.
bench() {
  local label=$1 mode=$2 size=$3 conc=$4 dur=$5
  shift 5
  local line
  line=$("$BENCH" "$mode" --label "$label" --size "$size" --concurrency "$conc" --duration "$dur" --json "$@") || true
  if [[ -z $line ]]; then
    echo "run failed: $label $mode $size c=$conc" >&2
    return 0
  fi
  echo "$line" >>"$RESULTS"
  "$PYTHON" -c 'import json,sys; r=json.loads(sys.argv[1]); print("  %-6s %-5s %-6s c=%-3d %9.1f MiB/s %9.1f ops/s  p50 %8.3f ms  p99 %8.3f ms  errors %d" % (r["label"], r["mode"], r["size_label"], r["concurrency"], r["mib_per_s"], r["ops_per_s"], r["p50_ms"], r["p99_ms"], r["errors"]))' "$line" >&2
}

objects_for() {  # size -> objects prepared for GET
  case $1 in
    4KiB) echo 1000 ;;
    1MiB) echo 200 ;;
    *) echo 8 ;;
  esac
}

moto_objects_for() {
  case $1 in
    4KiB) echo 200 ;;
    1MiB) echo 50 ;;
    *) echo 2 ;;
  esac
}

: >"$RESULTS"
log "work dir $WORK ($(df -hT "$WORK" | awk 'NR==2 {print $2", "$5" free"}')), results $RESULTS"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
log "machine: $(nproc) CPUs ($cpu), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"

for size in $SIZES; do
  objects=$(objects_for "$size")
  sdir=$WORK/sluice-data
  www=$WORK/www
  raw=$WORK/raw
  mkdir -p "$sdir" "$www" "$raw"
  start_sluice "$sdir"
  start_nginx "$www"
  S3=(--endpoint "http://127.0.0.1:$SLUICE_PORT" --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY")

  log "$size: preparing $objects objects in sluice and as nginx files"
  "$BENCH" prepare --size "$size" --objects "$objects" --concurrency 4 "${S3[@]}"
  "$BENCH" prepare-files --size "$size" --objects "$objects" --dir "$www"
  # Flush the prepared files now: under ext4 data=ordered the first fsync of a timed PUT run would otherwise
  # wait for their writeback too.
  sync
  # Both must hand out the very same bytes: every object read back and compared once.
  "$BENCH" verify --size "$size" --objects "$objects" --concurrency 2 --label sluice "${S3[@]}"
  "$BENCH" verify --size "$size" --objects "$objects" --concurrency 2 --label nginx --no-sign \
    --endpoint "http://127.0.0.1:$NGINX_PORT"

  for c in $CONCURRENCY; do
    for ((rep = 0; rep < REPEATS; rep++)); do
      bench sluice get "$size" "$c" "$DURATION" --objects "$objects" --no-prepare "${S3[@]}"
      bench nginx get "$size" "$c" "$DURATION" --objects "$objects" --no-sign --endpoint "http://127.0.0.1:$NGINX_PORT"
    done
  done
  for c in $CONCURRENCY; do
    for ((rep = 0; rep < REPEATS; rep++)); do
      sync
      bench raw raw-write "$size" "$c" "$DURATION" --dir "$raw"
      rm -rf "${raw:?}"/*
      sync
      bench sluice put "$size" "$c" "$DURATION" "${S3[@]}"
    done
  done
  bench sluice mixed "$size" "$MIXED_CONCURRENCY" "$DURATION" --objects "$objects" --no-prepare "${S3[@]}"
  stop "$SLUICE_PID"
  stop "$NGINX_PID"
  rm -rf "$sdir" "$www" "$raw"

  if [[ $MOTO == 1 ]]; then
    start_moto
    M3=(--endpoint "http://127.0.0.1:$MOTO_PORT" --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" --timeout 300)
    mobjects=$(moto_objects_for "$size")
    log "$size: preparing $mobjects objects in moto"
    "$BENCH" prepare --size "$size" --objects "$mobjects" --concurrency 2 "${M3[@]}"
    "$BENCH" verify --size "$size" --objects "$mobjects" --concurrency 2 --label moto "${M3[@]}"
    sync
    for c in $MOTO_CONCURRENCY; do
      bench moto get "$size" "$c" "$MOTO_DURATION" --objects "$mobjects" --no-prepare "${M3[@]}"
      bench moto put "$size" "$c" "$MOTO_DURATION" --put-keys 1 "${M3[@]}"
    done
    bench moto mixed "$size" "$MIXED_CONCURRENCY" "$MOTO_DURATION" --objects "$mobjects" --no-prepare --put-keys 1 "${M3[@]}"
    stop "$MOTO_PID"
  fi
done

log "done; load $(cut -d' ' -f1-3 /proc/loadavg); raw results in $RESULTS"
"$PYTHON" "$(dirname "$0")/s3_table.py" "$RESULTS"
