#!/usr/bin/env bash
# Bring up every service the tests need, idempotently, on loopback ports.
# Each scripts/up-*.sh starts one kind of service and exits 0 once it answers.
# Outside CI a failing service is reported and the tests that need it skip loudly;
# with CI=true it is a failure.
set -u
cd "$(dirname "$0")/.."
status=0
for up in scripts/up-*.sh; do
  [ -e "$up" ] || continue
  echo "== $up"
  if ! bash "$up"; then
    echo "!! $up failed" >&2
    status=1
  fi
done
if [ "$status" -ne 0 ] && [ "${CI:-}" = "true" ]; then
  echo "!! a service did not come up; CI requires every service" >&2
  exit 1
fi
exit 0
