#!/usr/bin/env bash
# Recommender figures for docs/BENCHMARKS.md, on the UCI Online Retail data
# shipped in data/onlineretail: starts heed on a fresh data directory, loads
# items, customers and consents (heed demo --skip-events), times
# `heed import` of the whole transactions file and `heed train`, then loads
# GET /v1/users/{id}/recommendations from the same machine with wrk (64
# connections, closed loop) and at fixed rates (heedload attack, open loop),
# with GET /healthz as the baseline of the same run, and last
# POST /v1/events in batches of 500 (heedload events, 8 connections), with
# every event's shopper drawn from all customers, then with 50 shoppers a
# batch. After each load it prints heed's own CPU time (from /proc), in cores
# and per request or event.
# Usage: scripts/bench-recs.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-15}
PORT=${PORT:-18090}
command -v wrk >/dev/null || { echo "wrk is not installed: run 'make deps-load'" >&2; exit 1; }
go build -o bin/heed ./cmd/heed
go build -o bin/heedload ./cmd/heedload

DATA=$(mktemp -d /tmp/heed-bench.XXXXXX)
ADMIN=bench-admin-key-0123456789abcdef
STORE=bench-store-key-0123456789abcdef
HEED_API_KEYS="admin=$ADMIN,storefront=$STORE" ./bin/heed serve --addr "127.0.0.1:$PORT" --data "$DATA" --log-level warn --train-every 0 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
export HEED_URL="http://127.0.0.1:$PORT" HEED_KEY=$ADMIN

echo "== heed demo --skip-events (items, customers, consents)"
./bin/heed demo --skip-events 2>/dev/null
echo "== heed import of the whole transactions file"
/usr/bin/time -f "import wall %e s, client max RSS %M KB" ./bin/heed import data/onlineretail/transactions.csv.gz 2>&1 | grep -v '^importing'
echo "== heed train"
./bin/heed train 2>/dev/null

# The customers heed holds (the cleaning of data/onlineretail keeps them).
IDS="$DATA/ids.txt"
zcat data/onlineretail/transactions.csv.gz |
  awk -F, 'NR > 1 && $6 != "" && $1 !~ /^C/ && $3 > 0 && $5 > 0 && $2 ~ /^[0-9][0-9][0-9][0-9][0-9]/ { print "c" $6 }' |
  sort -u >"$IDS"
echo "== $(wc -l <"$IDS") customers"

rss() { awk '/VmRSS/ {printf "%.0f MB\n", $2/1024}' "/proc/$PID/status"; }
# heed's own CPU time in clock ticks (user + system), to say what a request
# costs heed, apart from the load generator on the same cores.
TCK=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
cost() { # cost TICKS0 SECONDS REQUESTS_PER_SECOND
  awk -v t="$(( $(ticks) - $1 ))" -v tck="$TCK" -v s="$2" -v r="$3" \
    'BEGIN { printf "heed CPU: %.2f cores, %.2f ms a request\n", t / tck / s, 1000 * t / tck / (s * r) }'
}
export KEY=$STORE IDS
echo "== baseline: GET /healthz, 64 connections, ${SECS}s"
wrk -t2 -c64 -d"${SECS}s" --latency -s scripts/wrk/healthz.lua "http://127.0.0.1:$PORT/healthz"
echo "== GET /v1/users/{id}/recommendations?strategy=for_you, 64 connections, ${SECS}s"
t0=$(ticks)
wrk -t2 -c64 -d"${SECS}s" --latency -s scripts/wrk/recs.lua "http://127.0.0.1:$PORT" | tee "$DATA/wrk.txt"
cost "$t0" "$SECS" "$(awk '/^Requests\/sec/ {print $2}' "$DATA/wrk.txt")"
attack() { ./bin/heedload attack -addr "http://127.0.0.1:$PORT" -key "$STORE" -duration "${SECS}s" "$@"; }
echo "== open loop: GET /healthz at 3000/s, 64 connections (baseline)"
attack -target healthz -rate 3000 -conns 64
for rate in 1500 2000 3000; do
  echo "== open loop: GET .../recommendations?strategy=for_you at $rate/s, 64 connections"
  t0=$(ticks)
  attack -target recs -rate "$rate" -conns 64 2>&1 | tee "$DATA/attack.txt"
  cost "$t0" "$SECS" "$(awk '/achieved/ {sub("/s,", "", $2); print $2}' "$DATA/attack.txt")"
done
echo "== POST /v1/events, batches of 500, 8 connections, ${SECS}s"
t0=$(ticks)
./bin/heedload events -addr "http://127.0.0.1:$PORT" -key "$STORE" -batch 500 -conns 8 -duration "${SECS}s" 2>&1 | tee "$DATA/events.txt"
cost "$t0" "$SECS" "$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "events/s") print $i}' "$DATA/events.txt")" | sed 's/a request/an event/'
echo "== POST /v1/events, batches of 500 events of 50 shoppers each, 8 connections, ${SECS}s"
t0=$(ticks)
./bin/heedload events -addr "http://127.0.0.1:$PORT" -key "$STORE" -batch 500 -conns 8 -duration "${SECS}s" -users 50 2>&1 | tee "$DATA/events.txt"
cost "$t0" "$SECS" "$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "events/s") print $i}' "$DATA/events.txt")" | sed 's/a request/an event/'
echo "== heed RSS at the end: $(rss)"
