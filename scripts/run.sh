#!/usr/bin/env bash
# Builds Sluice and starts it with its embedded defaults: data in ./data, S3 API on :9000.
# Extra arguments go to `sluice server` (e.g. a drive folder, --override key=value).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
bin=$(scripts/build.sh release | tail -n 1)
exec "$bin" server "$@"
