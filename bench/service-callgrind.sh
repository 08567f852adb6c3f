#!/bin/bash
# service-callgrind.sh: user-space instructions per POST /v1/decide of `floodgate serve` (memory backend), or of a
# bare echo of bench/servers/echo.ts, under valgrind's callgrind: the A/B measure for the HTTP API while other work
# loads the machine (instruction counts do not grow with contention the way CPU time does). Same method as
# bench/http-callgrind.sh: instrumentation off for 2 x requests of JIT warm-up, then on for `requests` at `rate`
# req/s over 10 connections; node runs with --max-semi-space-size=1 so young-generation collections average out.
# Kernel work is not counted (serve and the echoes make one read and one writev per request).
#
# Run: bash bench/service-callgrind.sh <dist/cli.js | echo-http | echo-http-same> [requests] [rate]
set -euo pipefail
# shellcheck source=bench/callgrind-lib.sh
source "$(dirname "$0")/callgrind-lib.sh"
target=$1
n=${2:-4000}
rate=${3:-400}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
out=$dir/callgrind.out
printf 'domain: bench\ndescriptors:\n  - key: user\n    rate_limit: { unit: hour, requests_per_unit: 1000000000000 }\n' >"$dir/limits.yaml"
case $target in
  echo-http) cmd=(node --max-semi-space-size=1 --import tsx "$root/bench/servers/echo.ts" http) ;;
  echo-http-same) cmd=(node --max-semi-space-size=1 --import tsx "$root/bench/servers/echo.ts" http-same) ;;
  *) cmd=(node --max-semi-space-size=1 "$target" serve --config "$dir/limits.yaml" --host 127.0.0.1 --grpc-port off --http-port 0 --no-watch) ;;
esac
(cd "$root" && valgrind --tool=callgrind --dump-instr=no --dump-line=no --instr-atstart=no --callgrind-out-file="$out" \
  "${cmd[@]}" >"$dir/log" 2>"$dir/err") &
vpid=$!
trap 'pkill -TERM -P "$vpid" 2>/dev/null || true; rm -rf "$dir"' EXIT
port=
for _ in $(seq 1 600); do
  port=$(grep -ho '"\(port\|httpPort\)":[0-9]*' "$dir/log" "$dir/err" 2>/dev/null | head -1 | cut -d: -f2 || true)
  [ -n "$port" ] && break
  sleep 0.5
done
vg=$(pgrep -P "$vpid" | head -1)
load() {
  (cd "$root" && node -e '
    const autocannon = require("autocannon");
    const [port, amount, rate] = process.argv.slice(1).map(Number);
    const body = JSON.stringify({ domain: "bench", descriptors: [{ entries: [{ key: "user", value: "u1" }] }] });
    autocannon({ url: `http://127.0.0.1:${port}/v1/decide`, method: "POST", headers: { "content-type": "application/json" },
      body, connections: 10, pipelining: 1, amount, overallRate: rate, timeout: 120 },
      (err, r) => { if (err || r.errors > 0 || r.non2xx > 0) { console.error(err ?? r); process.exit(1); } });
  ' "$port" "$1" "$rate")
}
load $((n * 2))
callgrind_control -i on "$vg" >/dev/null
load "$n"
callgrind_control -i off "$vg" >/dev/null
kill -TERM "$vg"
wait "$vpid" 2>/dev/null || true
trap - EXIT
per_request "$out" "$n" "$target"
rm -rf "$dir"
