#!/bin/bash
# http-fastify-hook.sh: instructions per call of floodgate's Fastify onRequest hook alone, under callgrind.
#
# Run: bash bench/http-fastify-hook.sh [calls] [warm-up] [runs]
#      BENCH_FRAMEWORK=express bash bench/http-fastify-hook.sh ...   (floodgate's Express middleware instead)
# Runs bench/http-fastify-hook.ts twice under callgrind, with the hook and without it (the same loop of
# fresh node and Fastify request/reply objects), counts user-space instructions over `calls` calls after
# the warm-up (instrumentation off during the warm-up), and prints both per call and their difference:
# the hook's own cost, deterministic to within a few instructions, whatever else loads the machine.
# node runs with --max-semi-space-size=1 (young collections every few hundred calls, averaged over the
# window) and --single-threaded (no concurrent compiler or GC threads: steadier counts).
# Counts vary by up to ~10% between runs of the same code (V8's tiering decisions differ now and then;
# most runs agree within 1-2%), so `runs` (default 3) repeats the pair and the median difference is the
# figure. NODE_EXTRA adds node flags (such as --predictable). Takes about 40 s per pair.
set -euo pipefail
# shellcheck source=bench/callgrind-lib.sh
source "$(dirname "$0")/callgrind-lib.sh"
calls=${1:-20000}
warm=${2:-200000}
runs=${3:-3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
measure() {
  local variant=$1 out=$dir/$1.out
  rm -f "$dir/$variant.in"
  mkfifo "$dir/$variant.in"
  valgrind --tool=callgrind --dump-instr=no --dump-line=no --instr-atstart=no --callgrind-out-file="$out" \
    node --max-semi-space-size=1 --single-threaded ${NODE_EXTRA:-} --import tsx "$(dirname "$0")/http-fastify-hook.ts" \
    "$variant" "$calls" "$warm" <"$dir/$variant.in" >"$dir/$variant.log" 2>"$dir/$variant.err" &
  local vpid=$!
  exec 3>"$dir/$variant.in"
  for _ in $(seq 1 1200); do grep -q warm "$dir/$variant.log" 2>/dev/null && break; sleep 0.5; done
  grep -q warm "$dir/$variant.log" || { cat "$dir/$variant.err" >&2; kill "$vpid"; exit 1; }
  callgrind_control -i on "$vpid" >/dev/null 2>&1
  echo go >&3
  for _ in $(seq 1 1200); do grep -q done "$dir/$variant.log" 2>/dev/null && break; sleep 0.2; done
  callgrind_control -i off "$vpid" >/dev/null 2>&1
  echo go >&3
  exec 3>&-
  wait "$vpid" || { cat "$dir/$variant.err" >&2; exit 1; }
  per_request "$out" "$calls" "$variant" | tee "$dir/$variant.sum"
}
with=hook
without=none
what="fastify hook"
if [ "${BENCH_FRAMEWORK:-fastify}" = express ]; then
  with=express
  without=express-none
  what="express middleware"
fi
diffs=()
for r in $(seq 1 "$runs"); do
  measure "$with"
  measure "$without"
  hook=$(grep -o 'the rest [0-9]*' "$dir/$with.sum" | grep -o '[0-9]*')
  none=$(grep -o 'the rest [0-9]*' "$dir/$without.sum" | grep -o '[0-9]*')
  diffs+=($((hook - none)))
  echo "run $r: $what $((hook - none)) instructions/call (the rest, compiler left out; with $hook - without $none)"
done
median=$(printf '%s\n' "${diffs[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo "$what: $median instructions/call, median of $runs runs (${diffs[*]})"
