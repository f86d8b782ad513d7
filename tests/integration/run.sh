#!/usr/bin/env bash
# Sluice S3 integration tests, run in three passes:
#   pass 1 "old-boto3": Debian's /usr/bin/python3 (pytest 7, boto3 1.26) -- everything incl. CLI tools
#   pass 2 "new-boto3": the image's python3 (boto3 >= 1.36: default CRC32 checksums, aws-chunked
#                       trailers over TLS) running Debian's pytest; CLI-tool tests (marker `cli`) skipped
#   pass 3 "erasure":   as pass 2, against a server on 4 erasure-coded drive folders (SLUICE_TEST_DRIVES=4)
# Extra arguments go to pytest in both passes (e.g. -k listing, -x, -m "not slow").
# Env: SLUICE_BIN (binary), SLUICE_TEST_TARGET=moto (check the tests against moto),
#      SLUICE_TEST_PASSES="old new" (which passes), SLUICE_OLD_PYTHON / SLUICE_NEW_PYTHON,
#      SLUICE_TEST_JUNIT_DIR (write pass-<name>.xml there).
# Exit status: 0 only if every pass ran tests and none failed (pytest's 5 = "no tests" is a failure).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
export PYTHONDONTWRITEBYTECODE=1
OLD_PY="${SLUICE_OLD_PYTHON:-/usr/bin/python3}"
NEW_PY="${SLUICE_NEW_PYTHON:-$(command -v python3)}"
DIST=/usr/lib/python3/dist-packages
PASSES="${SLUICE_TEST_PASSES:-old new erasure}"

status=0
summary=""
JUNIT_DIR="${SLUICE_TEST_JUNIT_DIR:-$(mktemp -d)}"
mkdir -p "$JUNIT_DIR"
rm -f "$JUNIT_DIR"/pass-old.xml "$JUNIT_DIR"/pass-new.xml "$JUNIT_DIR"/pass-erasure.xml

junit() {
  echo "--junitxml=$JUNIT_DIR/pass-$1.xml"
}

run_pass() {
  local name="$1"; shift
  echo
  echo "================ integration pass: $name ================"
  "$@"
  local rc=$?
  case $rc in
    0) summary+="$name: ok; " ;;
    5) summary+="$name: RAN NO TESTS; "; status=1 ;;
    *) summary+="$name: FAILED (pytest exit $rc); "; status=1 ;;
  esac
}

for p in $PASSES; do
  case "$p" in
    old)
      run_pass "old-boto3" "$OLD_PY" -m pytest -c pytest.ini $(junit old) "$@" ;;
    new|erasure)
      ver="$("$NEW_PY" -c 'import botocore; print(botocore.__version__)' 2>/dev/null)"
      if [ -z "$ver" ]; then
        echo "pass $p: $NEW_PY has no botocore"; summary+="$p: NO INTERPRETER; "; status=1; continue
      fi
      echo "$p pass uses $NEW_PY with botocore $ver"
      drives=1
      [ "$p" = erasure ] && drives=4
      name="new-boto3"
      [ "$p" = erasure ] && name="erasure-4-drives"
      SLUICE_TEST_DRIVES=$drives run_pass "$name" "$NEW_PY" -c "import sys; sys.path.append('$DIST'); import pytest; sys.exit(pytest.main(sys.argv[1:]))" \
        -c pytest.ini -m "not cli" $(junit "$p") "$@" ;;
    *) echo "unknown pass $p"; status=1 ;;
  esac
done

echo
echo "integration summary: $summary"
# One closing line over both passes, in the plain 'N passed, N failed, N skipped' form.
"$OLD_PY" - "$JUNIT_DIR" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
t = f = e = s = 0
for path in glob.glob(sys.argv[1] + "/pass-*.xml"):
    for suite in ET.parse(path).getroot().iter("testsuite"):
        t += int(suite.get("tests", 0)); f += int(suite.get("failures", 0))
        e += int(suite.get("errors", 0)); s += int(suite.get("skipped", 0))
print(f"integration: {t - f - e - s} passed, {f + e} failed, {s} skipped")
PY
[ -z "${SLUICE_TEST_JUNIT_DIR:-}" ] && rm -rf "$JUNIT_DIR"
exit $status
