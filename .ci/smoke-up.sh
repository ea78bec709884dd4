#!/usr/bin/env bash
# Bounded smoke of the first command (README's Quick start): `tidewatch up` prints the dashboard
# URL within 30 s, the page and live rollups are served, and SIGTERM ends it with exit 0 within
# 20 s. Uses a temp data dir and a free port, so it never touches the user's state or port 9470.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "smoke: $*" >&2
  echo "--- stdout" >&2; cat "$tmp/out" >&2 || true
  echo "--- stderr (last 40 lines)" >&2; tail -n 40 "$tmp/err" >&2 || true
  exit 1
}

node bin/tidewatch.js up --port 0 --data-dir "$tmp/data" >"$tmp/out" 2>"$tmp/err" &
pid=$!

url=""
for _ in $(seq 1 60); do
  url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$tmp/out" | head -n 1 || true)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || fail "up exited before printing its URL"
  sleep 0.5
done
[ -n "$url" ] || fail "no dashboard URL within 30 s"
echo "smoke: up printed $url"

code=$(curl -sS -o "$tmp/page" -w '%{http_code}' --max-time 5 "$url") || fail "cannot fetch $url"
[ "$code" = "200" ] || fail "GET $url answered $code"
grep -q 'id="chart"' "$tmp/page" || fail "the page has no chart"

# The demo logs flow through agent, bus and collector into the dashboard's series.
for _ in $(seq 1 30); do
  if curl -sS --max-time 5 "${url}metrics" 2>/dev/null | grep -q '^log_records_total{'; then break; fi
  sleep 0.5
done
curl -sS --max-time 5 "${url}metrics" | grep -q '^log_records_total{' || fail "no log_records_total on /metrics within 15 s"
echo "smoke: rollups are live on ${url}metrics"

kill -TERM "$pid"
for _ in $(seq 1 40); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
kill -0 "$pid" 2>/dev/null && fail "still running 20 s after SIGTERM"
set +e
wait "$pid"
rc=$?
set -e
pid=""
[ "$rc" = "0" ] || fail "exit code $rc after SIGTERM (expected 0)"
echo "smoke: SIGTERM → exit 0"
