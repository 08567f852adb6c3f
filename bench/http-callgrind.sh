#!/bin/bash
# http-callgrind.sh: user-space instructions per request of one HTTP bench server variant, under valgrind's callgrind.
#
# Run: bash bench/http-callgrind.sh <server file> <variant> [requests] [rate]
#   e.g. bash bench/http-callgrind.sh bench/servers/http-server.ts fastify-floodgate 6000 600
# For A/B work while other work loads the machine: instruction counts do not grow with contention the
# way CPU time does. The server runs under callgrind with instrumentation off; it gets 2 x requests
# unmeasured (JIT warm-up), then `requests` at `rate` req/s over 10 connections with instrumentation on.
# node runs with --max-semi-space-size=1 so that young-generation collections happen every few hundred
# requests and average out over the window (with the default, one collection more or less in a window
# moves the figure by several percent), and with --single-threaded (no concurrent compiler or GC threads:
# the same work in the same order from run to run, steadier counts). Printed: instructions per request in total, in V8's optimizing
# compiler (still catching up after warm-up; left out of the comparable figure), and the rest.
# Kernel work is not counted: check with `strace -c -f -p PID` that variants make the same syscalls
# per request (hello world: one read, one writev). Takes 2-4 minutes per variant.
set -euo pipefail
# shellcheck source=bench/callgrind-lib.sh
source "$(dirname "$0")/callgrind-lib.sh"
file=$1
variant=$2
n=${3:-6000}
rate=${4:-600}
dir=$(mktemp -d)
out=$dir/callgrind.out
valgrind --tool=callgrind --dump-instr=no --dump-line=no --instr-atstart=no --callgrind-out-file="$out" \
  node --max-semi-space-size=1 --single-threaded --import tsx "$file" "$variant" >"$dir/log" 2>"$dir/err" &
vpid=$!
# The server must not outlive a failed run (set -e leaves at the first failing command).
trap 'kill -TERM "$vpid" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 600); do grep -q listening "$dir/log" 2>/dev/null && break; sleep 0.5; done
port=$(grep -o 'listening [0-9]*' "$dir/log" | cut -d' ' -f2)
load() {
  node -e '
    const autocannon = require("autocannon");
    const [port, amount, rate] = process.argv.slice(1).map(Number);
    autocannon({ url: `http://127.0.0.1:${port}/`, connections: 10, pipelining: 1, amount, overallRate: rate },
      (err, r) => { if (err || r.errors > 0 || r.non2xx > 0) { console.error(err ?? r); process.exit(1); } });
  ' "$port" "$1" "$rate"
}
load $((n * 2))
callgrind_control -i on "$vpid" >/dev/null
load "$n"
callgrind_control -i off "$vpid" >/dev/null
kill -TERM "$vpid"
wait "$vpid" 2>/dev/null || true
trap - EXIT
per_request "$out" "$n" "$variant"
rm -rf "$dir"
