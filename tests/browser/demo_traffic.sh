#!/usr/bin/env bash
# The demo's traffic for the browser test: runs the checkout service (examples/cloud_run_demo)
# as on Cloud Run, exporting to $OTEL_EXPORTER_OTLP_ENDPOINT, sends it a burst of requests from
# the simulated front end (unsampled traceparent and X-Cloud-Trace-Context; every fifth fails),
# then stops it with SIGTERM so that it flushes. Fails when the service lost records.
#   DEMO_SERVICE_BIN=build/dev/examples/cloud_run_demo/cloud_run_demo \
#   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 tests/browser/demo_traffic.sh [REQUESTS]
set -euo pipefail
: "${DEMO_SERVICE_BIN:?set DEMO_SERVICE_BIN to the cloud_run_demo binary}"
: "${OTEL_EXPORTER_OTLP_ENDPOINT:?set OTEL_EXPORTER_OTLP_ENDPOINT to the backend}"
requests=${1:-10}
work=$(mktemp -d "${TMPDIR:-/tmp}/logfire-demo-traffic.XXXXXX")
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

K_SERVICE=checkout K_REVISION=checkout-00042-dem K_CONFIGURATION=checkout \
  OTEL_PROPAGATORS=tracecontext,baggage,xcloudtrace LOGFIRE_CONSOLE=false LOGFIRE_SPOOL_DIR="$work/spool" \
  "$DEMO_SERVICE_BIN" service --port 0 >"$work/service.log" 2>&1 &
pid=$!
port=""
for _ in $(seq 200); do
  port=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$work/service.log" | grep -o '[0-9]*$' || true)
  [[ -n "$port" ]] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z "$port" ]]; then
  echo "demo_traffic: the service did not start:" >&2
  cat "$work/service.log" >&2
  exit 1
fi
"$DEMO_SERVICE_BIN" front-end --target "http://127.0.0.1:$port" --requests "$requests"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
grep 'logfire stats:' "$work/service.log" || true
if [[ $status -ne 0 ]] || ! grep -q 'dropped 0' "$work/service.log"; then
  echo "demo_traffic: the service lost records or failed (exit $status):" >&2
  cat "$work/service.log" >&2
  exit 1
fi
