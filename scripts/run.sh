#!/usr/bin/env bash
# Builds Sluice and starts it with its embedded defaults: data in ./data, S3 API on :9000, Kafka API on :9092.
#
# Without arguments it also brings up the seed's image pipeline: buckets `images` and `processed`, a rule sending
# every object created in `images` to the built-in stream engine (topic `bucket-events`), and an image-resize
# worker that writes 320x320 and 1024x1024 WebP versions to `processed`. Ctrl-C stops the worker and the server.
#
# With arguments, they go to `sluice server` (e.g. a drive folder, --override key=value) and only the server runs.
# SLUICE_PIPELINE=0 runs only the server on the defaults too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
bin=$(scripts/build.sh release | tail -n 1)

if [[ $# -gt 0 || ${SLUICE_PIPELINE:-1} == 0 ]]; then
  exec "$bin" server "$@"
fi

endpoint=http://127.0.0.1:9000
# Own process groups for server and worker: Ctrl-C reaches this script only, which then stops the worker (it
# finishes what it has in flight) and the server, once each.
set -m
"$bin" server &
server=$!
worker=
stop() {
  trap - EXIT INT TERM
  [[ -n $worker ]] && kill "$worker" 2>/dev/null && wait "$worker" 2>/dev/null
  kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  exit 0
}
trap stop EXIT INT TERM

# Root credentials: the environment's, else the ones the server generated in ./data on its first start.
user=${SLUICE_ROOT_USER:-${MINIO_ROOT_USER:-}}
pass=${SLUICE_ROOT_PASSWORD:-${MINIO_ROOT_PASSWORD:-}}
creds=./data/.sluice.sys/iam/root-credentials.json
for _ in $(seq 1 300); do
  kill -0 "$server" 2>/dev/null || { echo "run.sh: the server exited (is :9000 or :9092 taken?)" >&2; exit 1; }
  if [[ -z $user && -s $creds ]]; then
    user=$(sed -n 's/.*"access_key":"\([^"]*\)".*/\1/p' "$creds")
    pass=$(sed -n 's/.*"secret_key":"\([^"]*\)".*/\1/p' "$creds")
  fi
  if [[ -n $user ]] && "$bin" admin --endpoint "$endpoint" --access-key "$user" --secret-key "$pass" info \
    >/dev/null 2>&1; then
    break
  fi
  sleep 0.2
done
admin=("$bin" admin --endpoint "$endpoint" --access-key "$user" --secret-key "$pass")
"${admin[@]}" bucket add images processed
if ! "${admin[@]}" event list images | grep -q 'arn:minio:sqs::1:sluice'; then
  "${admin[@]}" event add images arn:minio:sqs::1:sluice --event 's3:ObjectCreated:*'
fi

AWS_ACCESS_KEY_ID=$user AWS_SECRET_ACCESS_KEY=$pass "$bin" worker image-resize --brokers 127.0.0.1:9092 \
  --topic bucket-events --group image-resize --s3-endpoint "$endpoint" --dest-bucket processed \
  --size 320x320 --size 1024x1024 --format webp &
worker=$!

cat <<EOF

The image pipeline is running: images/ --(s3:ObjectCreated:*)--> topic bucket-events --> worker --> processed/
Try it from another terminal (aws cli; any JPEG, PNG or WebP will do):

  export AWS_ACCESS_KEY_ID='$user' AWS_SECRET_ACCESS_KEY='$pass' AWS_DEFAULT_REGION=us-east-1
  aws --endpoint-url $endpoint s3 cp photo.jpg s3://images/
  aws --endpoint-url $endpoint s3 ls s3://processed/ --recursive    # photo-320x320.webp, photo-1024x1024.webp
  kcat -b 127.0.0.1:9092 -t bucket-events -C -e                     # the bucket events themselves

Ctrl-C stops the worker and the server.
EOF
wait "$server"
