// client-timing.ts: timing accuracy of client-side throttles at 50/s over 10 s: floodgate vs limiter vs p-throttle, in one run.
//
// Run: node --import tsx bench/client-timing.ts        (writes bench/results/client.md)
//
// Every contestant runs at the same time in this one process, for the same 10 s
// of wall time, each kept saturated by a producer that holds BACKLOG calls
// waiting at all times (a finished call is replaced by a new one). The throttled
// function only records `performance.now()` when it starts. From the start times
// we report the achieved rate, the largest number of starts in any 1 s and any
// 100 ms window (over the whole run, and in steady state, after the first second
// when an initial burst is allowed by design), and the 99th percentile and worst
// gap between consecutive starts. After 10 s the producers stop; the calls still
// queued are let through (at most BACKLOG per contestant, under a second) and
// ignored. Nothing touches the network.

import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { RateLimiter as LimiterRateLimiter } from "limiter";
import pThrottle from "p-throttle";
import { throttle } from "../src/client/index.js";
import { gcra, tokenBucket } from "../src/index.js";

const HERE = dirname(fileURLToPath(import.meta.url));
/** RATE is the policy under test: 50 calls per second. */
const RATE = 50;
/** RUN_MS is the measured run. */
const RUN_MS = 10_000;
/** BACKLOG is how many calls each producer keeps waiting. */
const BACKLOG = 20;

/** Contestant is a throttle under test: `wrap(fn)` returns the throttled fn. */
interface Contestant {
  name: string;
  config: string;
  wrap(fn: () => void): () => Promise<unknown>;
}

const contestants: Contestant[] = [
  {
    name: "floodgate throttle",
    config: "tokenBucket({ capacity: 50, refillRate: 50 })",
    wrap: (fn) => throttle(fn, { policy: tokenBucket({ capacity: RATE, refillRate: RATE }), maxQueue: 10_000 }),
  },
  {
    name: "floodgate throttle",
    config: "gcra({ limit: 50, periodMs: 1000, burst: 1 }) (smooth)",
    wrap: (fn) => throttle(fn, { policy: gcra({ limit: RATE, periodMs: 1000, burst: 1 }), maxQueue: 10_000 }),
  },
  {
    name: "floodgate throttle",
    config: "gcra({ limit: 50, periodMs: 1000, burst: 5 })",
    wrap: (fn) => throttle(fn, { policy: gcra({ limit: RATE, periodMs: 1000, burst: 5 }), maxQueue: 10_000 }),
  },
  {
    name: "limiter 4.1",
    config: "new RateLimiter({ tokensPerInterval: 50, interval: 'second' }), removeTokens(1)",
    wrap: (fn) => {
      const l = new LimiterRateLimiter({ tokensPerInterval: RATE, interval: "second" });
      return async () => {
        await l.removeTokens(1);
        fn();
      };
    },
  },
  {
    name: "p-throttle 8.1",
    config: "pThrottle({ limit: 50, interval: 1000 })",
    wrap: (fn) => pThrottle({ limit: RATE, interval: 1000 })(fn) as unknown as () => Promise<unknown>,
  },
  {
    name: "p-throttle 8.1",
    config: "pThrottle({ limit: 50, interval: 1000, strict: true })",
    wrap: (fn) => pThrottle({ limit: RATE, interval: 1000, strict: true })(fn) as unknown as () => Promise<unknown>,
  },
];

/** Result is one contestant's measured figures. */
interface Result {
  name: string;
  config: string;
  starts: number;
  ratePerSec: number;
  max1s: number;
  max100ms: number;
  steadyMax1s: number;
  steadyMax100ms: number;
  p99GapMs: number;
  maxGapMs: number;
}

/** maxInWindow returns the most start times within any window of `windowMs` (half-open [t, t + windowMs)). */
function maxInWindow(times: readonly number[], windowMs: number): number {
  let best = 0;
  let j = 0;
  for (let i = 0; i < times.length; i++) {
    while ((times[i] as number) - (times[j] as number) >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

/** loopDelay watches the event loop during the run: a blocked loop delays every contestant alike. */
const loopDelay = monitorEventLoopDelay({ resolution: 5 });

async function runAll(): Promise<Result[]> {
  loopDelay.enable();
  const t0 = performance.now();
  const endAt = t0 + RUN_MS;
  const runs = contestants.map((c) => {
    const starts: number[] = [];
    const throttled = c.wrap(() => {
      starts.push(performance.now() - t0);
    });
    let stopped = false;
    const pending = new Set<Promise<unknown>>();
    const feed = (): void => {
      if (stopped || performance.now() >= endAt) {
        stopped = true;
        return;
      }
      const p = throttled().finally(() => {
        pending.delete(p);
        feed();
      });
      pending.add(p);
    };
    for (let i = 0; i < BACKLOG; i++) feed();
    return { c, starts, pending };
  });
  await new Promise((r) => setTimeout(r, RUN_MS));
  loopDelay.disable();
  // Producers stop on their own at endAt; let the last queued calls drain (bounded: BACKLOG each).
  for (const r of runs) await Promise.allSettled([...r.pending]);
  return runs.map(({ c, starts }) => {
    const inRun = starts.filter((t) => t < RUN_MS).sort((a, b) => a - b);
    const steady = inRun.filter((t) => t >= 1000);
    const gaps = inRun.slice(1).map((t, i) => t - (inRun[i] as number));
    const sortedGaps = [...gaps].sort((a, b) => a - b);
    return {
      name: c.name,
      config: c.config,
      starts: inRun.length,
      ratePerSec: inRun.length / (RUN_MS / 1000),
      max1s: maxInWindow(inRun, 1000),
      max100ms: maxInWindow(inRun, 100),
      steadyMax1s: maxInWindow(steady, 1000),
      steadyMax100ms: maxInWindow(steady, 100),
      p99GapMs: percentile(sortedGaps, 0.99),
      maxGapMs: sortedGaps.at(-1) ?? Number.NaN,
    };
  });
}

function table(results: readonly Result[]): string {
  const head =
    "| throttle | configuration | starts in 10 s | achieved rate (/s) | max in any 1 s | max in any 100 ms | steady max 1 s | steady max 100 ms | p99 gap (ms) | max gap (ms) |\n" +
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  return (
    head +
    results
      .map(
        (r) =>
          `| ${r.name} | \`${r.config}\` | ${r.starts} | ${r.ratePerSec.toFixed(1)} | ${r.max1s} | ${r.max100ms} | ${r.steadyMax1s} | ${r.steadyMax100ms} | ${r.p99GapMs.toFixed(1)} | ${r.maxGapMs.toFixed(1)} |`,
      )
      .join("\n")
  );
}

const loadBefore = loadavg()[0] ?? 0;
const results = await runAll();
const machine = `${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${process.platform} ${process.arch}`;
const md = `# Client-side throttle timing: 50 calls/s for 10 s

Command: \`node --import tsx bench/client-timing.ts\`

Machine: ${machine}. Run at ${new Date().toISOString()}; 1-minute load average ${loadBefore.toFixed(1)} when it
started (other processes shared the machine; a busy machine delays timers for every contestant alike).

All contestants ran at the same time in one process for the same ${RUN_MS / 1000} s of wall time, each kept
saturated (${BACKLOG} calls always waiting). The throttled function only records its start time.
"Steady" windows ignore the first second, where a token bucket of capacity 50 admits its initial
burst by design. An exact 50/s throttle shows 500 starts (plus its allowed burst), at most 50 in any
steady 1 s window and at most 5 (smooth) in any steady 100 ms window.

${table(results)}

Event loop delay during the run (all contestants share the loop): p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms, max ${(loopDelay.max / 1e6).toFixed(1)} ms.

How to read it:
- **achieved rate**: starts in the 10 s run divided by 10. A token bucket of capacity 50 adds its initial burst of 50.
- **max in any 1 s / 100 ms**: the largest number of starts inside any sliding window of that length, over the
  whole run. A server enforcing "50 per second" (sliding) refuses whatever exceeds 50 in 1 s.
- **steady**: the same after the first second. What each policy itself allows in any window of length d is
  \`capacity + 50 × d\`: 100 per second for the token bucket of 50, 55 for \`gcra\` with burst 5, 51 for burst 1;
  floodgate stays within it (a start is recorded when the function runs, a little after its budget was
  granted, so scheduling jitter can add one).
- **gap**: time between consecutive starts; a smooth 50/s pace is 20 ms.
`;
mkdirSync(join(HERE, "results"), { recursive: true });
writeFileSync(join(HERE, "results", "client.md"), md);
console.log(md);
