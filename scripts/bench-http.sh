#!/usr/bin/env bash
# HTTP load figures for docs/BENCHMARKS.md: starts heed on a fresh data
# directory, seeds users and consent records through the API (heedload
# seed), then loads it from the same machine, each time with GET /healthz
# (the HTTP stack alone) as the baseline of the same run:
#   - closed loop (wrk: as fast as it answers): the most requests/s;
#   - open loop at a fixed rate (heedload attack, vegeta): latency at the
#     rate the issue names, without coordinated omission;
# for GET .../consents/check (store reads + Rego decision, 64 connections)
# and POST .../consents (one record per request, synced to disk, 32
# connections), and prints heed's RSS.
# Usage: scripts/bench-http.sh [users] [records-per-user] [seconds] [check-rate] [write-rate]
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${1:-10000}
RECORDS=${2:-10}
SECS=${3:-15}
CHECK_RATE=${4:-8000}
WRITE_RATE=${5:-5000}
PORT=${PORT:-18080}
command -v wrk >/dev/null || { echo "wrk is not installed: run 'make deps-load'" >&2; exit 1; }

go build -o bin/heed ./cmd/heed
go build -o bin/heedload ./cmd/heedload

DATA=$(mktemp -d /tmp/heed-bench.XXXXXX)
ADMIN=bench-admin-key-0123456789abcdef
STORE=bench-store-key-0123456789abcdef
HEED_API_KEYS="admin=$ADMIN,storefront=$STORE" ./bin/heed serve --addr "127.0.0.1:$PORT" --data "$DATA" --log-level warn &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

echo "== seeding $USERS users x $RECORDS records"
./bin/heedload seed -addr "http://127.0.0.1:$PORT" -key "$STORE" -users "$USERS" -records "$RECORDS" -clients 32 |
  grep -v '/s)$' || true

rss() { awk '/VmRSS/ {printf "%.0f MB\n", $2/1024}' "/proc/$PID/status"; }
echo "== heed RSS after seeding: $(rss)"

export USERS KEY=$STORE
echo "== baseline: GET /healthz, 64 connections, ${SECS}s"
wrk -t2 -c64 -d"${SECS}s" --latency -s scripts/wrk/healthz.lua "http://127.0.0.1:$PORT/healthz"
echo "== GET /v1/users/{id}/consents/check, 64 connections, ${SECS}s"
wrk -t2 -c64 -d"${SECS}s" --latency -s scripts/wrk/check.lua "http://127.0.0.1:$PORT"
echo "== POST /v1/users/{id}/consents (1 record each), 32 connections, ${SECS}s"
wrk -t2 -c32 -d"${SECS}s" --latency -s scripts/wrk/write.lua "http://127.0.0.1:$PORT"
attack() { ./bin/heedload attack -addr "http://127.0.0.1:$PORT" -key "$STORE" -users "$USERS" -duration "${SECS}s" "$@"; }
echo "== open loop: GET /healthz at $CHECK_RATE/s, 64 connections (baseline)"
attack -target healthz -rate "$CHECK_RATE" -conns 64
for rate in $((CHECK_RATE / 4)) $((CHECK_RATE / 2)) "$CHECK_RATE"; do
  echo "== open loop: GET .../consents/check at $rate/s, 64 connections"
  attack -target check -rate "$rate" -conns 64
done
echo "== open loop: POST .../consents at $WRITE_RATE/s, 32 connections"
attack -target write -rate "$WRITE_RATE" -conns 32
echo "== heed RSS at the end: $(rss)"
