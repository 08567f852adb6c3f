// redis-tail.ts: where the Redis store's tail latency comes from at one concurrency (issue 13: p99 at c=64).
//
// Run: node --expose-gc --import tsx bench/redis-tail.ts   (prints markdown; not a section of npm run bench)
//      BENCH_CONCURRENCY=64 BENCH_ROUNDS=5 BENCH_RUN_MS=2000 to change the row.
//
// The workload is bench/redis.ts's (10,000 keys round robin, every call admitted,
// long-lived keys, one ioredis connection per library, contenders interleaved).
// Beside each call's latency it records, in the same process and the same time
// base (performance.now()), every garbage collection (PerformanceObserver 'gc':
// start, duration, kind) and the event loop's delay (monitorEventLoopDelay), and
// reports how many of the calls slower than a threshold were in flight while
// the process was stopped for a GC: a tail made by pauses of the process itself,
// which batching turns into a whole batch's wait, against one from Redis or the
// queueing of calls.

import { loadavg } from "node:os";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { RateLimiter } from "../src/index.js";
import { RedisStore } from "../src/stores/redis/index.js";
import { startRedis } from "../test/helpers/redis-server.js";
import { longLivedBucket, median } from "./workload.js";

const RUN_MS = Number(process.env.BENCH_RUN_MS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const WARM_MS = 300;
const KEYS = 10_000;

type Consume = (key: string) => Promise<unknown>;

/** Pause is one GC as the observer saw it: [start, end) in performance.now() ms, and its kind. */
interface Pause {
  start: number;
  end: number;
  kind: number;
}

interface Sample {
  name: string;
  perSec: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** slow: calls over the threshold; inGc: of them, those in flight during a GC pause. */
  slow: number;
  inGc: number;
  /** gcMsPerSec: ms of GC pause per second of the row; majors: mark-compact GCs in the row. */
  gcMsPerSec: number;
  scavenges: number;
  majors: number;
  /** loopP99: the event loop's delay, p99, µs. */
  loopP99: number;
}

let pauses: Pause[] = [];
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
    pauses.push({ start: e.startTime, end: e.startTime + e.duration, kind });
  }
});
obs.observe({ entryTypes: ["gc"] });

const START = new Float64Array(1 << 21);
const END = new Float64Array(1 << 21);

async function drive(consume: Consume, ms: number, record: boolean): Promise<number> {
  let n = 0;
  let k = 0;
  const end = performance.now() + ms;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const key = `user:${k++ % KEYS}`;
      const t0 = performance.now();
      await consume(key);
      if (record && n < START.length) {
        START[n] = t0;
        END[n] = performance.now();
      }
      n++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  return n;
}

const pct = (s: Float64Array, p: number): number => s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0;

async function measure(name: string, consume: Consume, thresholdUs: number): Promise<Sample> {
  await drive(consume, WARM_MS, false);
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 20));
  pauses = [];
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = performance.now();
  const n = Math.min(await drive(consume, RUN_MS, true), START.length);
  const elapsed = performance.now() - t0;
  h.disable();
  // The observer's entries arrive asynchronously: give it a turn.
  await new Promise((r) => setTimeout(r, 10));
  const lat = new Float64Array(n);
  for (let i = 0; i < n; i++) lat[i] = ((END[i] as number) - (START[i] as number)) * 1000;
  const sorted = lat.slice().sort();
  const ps = pauses.filter((p) => p.start >= t0 && p.start < t0 + elapsed);
  let slow = 0;
  let inGc = 0;
  for (let i = 0; i < n; i++) {
    if ((lat[i] as number) <= thresholdUs) continue;
    slow++;
    const s = START[i] as number;
    const e = END[i] as number;
    if (ps.some((p) => p.start < e && p.end > s)) inGc++;
  }
  return {
    name,
    perSec: n / (elapsed / 1000),
    p50: pct(sorted, 0.5),
    p90: pct(sorted, 0.9),
    p99: pct(sorted, 0.99),
    p999: pct(sorted, 0.999),
    max: sorted[sorted.length - 1] ?? 0,
    slow,
    inGc,
    gcMsPerSec: ps.reduce((a, p) => a + (p.end - p.start), 0) / (elapsed / 1000),
    scavenges: ps.filter((p) => p.kind === 1).length,
    majors: ps.filter((p) => p.kind === 4).length,
    loopP99: h.percentile(99) / 1000,
  };
}

async function main(): Promise<void> {
  const server = await startRedis();
  const a = new Redis(server.port, server.host);
  const b = new Redis(server.port, server.host);
  const thresholdUs = Number(process.env.BENCH_SLOW_US ?? 2000);
  const load0 = loadavg()[0] ?? 0;
  try {
    const rlf = new RateLimiterRedis({ storeClient: b, points: 1e9, duration: 60, keyPrefix: "rlf" });
    const fg = new RateLimiter({ policy: longLivedBucket(), store: new RedisStore({ client: a, timeoutMs: 2000 }) });
    const contenders: [string, Consume][] = [
      ["rate-limiter-flexible", (k) => rlf.consume(k)],
      ["floodgate tokenBucket", (k) => fg.consume(k)],
    ];
    const rows = new Map<string, Sample[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (let j = 0; j < contenders.length; j++) {
        const [name, consume] = contenders[(j + round) % contenders.length] as [string, Consume];
        const s = await measure(name, consume, thresholdUs);
        rows.set(name, [...(rows.get(name) ?? []), s]);
        console.error(
          `round ${round} ${name}: ${Math.round(s.perSec)}/s p50 ${s.p50.toFixed(0)} p99 ${s.p99.toFixed(0)} p99.9 ${s.p999.toFixed(0)} max ${s.max.toFixed(0)} µs; over ${thresholdUs} µs: ${s.slow}, in a GC: ${s.inGc}; GC ${s.gcMsPerSec.toFixed(1)} ms/s (${s.scavenges} scavenges, ${s.majors} majors); loop delay p99 ${s.loopP99.toFixed(0)} µs`,
        );
      }
    }
    const load1 = loadavg()[0] ?? 0;
    const m = (xs: Sample[], f: (s: Sample) => number): number => median(xs.map(f));
    const out = [
      `# Redis tail latency at concurrency ${CONCURRENCY}`,
      "",
      `Command: \`node --expose-gc --import tsx bench/redis-tail.ts\`; ${ROUNDS} interleaved rounds of ${RUN_MS} ms, medians over rounds; load average (1 min) ${load0.toFixed(1)} before, ${load1.toFixed(1)} after. Slow: a call over ${thresholdUs} µs; in a GC: a slow call that was in flight while the process paused for a garbage collection.`,
      "",
      "| library | decisions/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | slow calls | of them in a GC | GC pause ms/s | scavenges | mark-compacts | event loop delay p99 µs |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ];
    for (const [name] of contenders) {
      const xs = rows.get(name) as Sample[];
      out.push(
        `| ${name} | ${Math.round(m(xs, (s) => s.perSec)).toLocaleString("en-US")} | ${m(xs, (s) => s.p50).toFixed(0)} | ${m(xs, (s) => s.p90).toFixed(0)} | ${m(xs, (s) => s.p99).toFixed(0)} | ${m(xs, (s) => s.p999).toFixed(0)} | ${m(xs, (s) => s.max).toFixed(0)} | ${m(xs, (s) => s.slow)} | ${m(xs, (s) => s.inGc)} | ${m(xs, (s) => s.gcMsPerSec).toFixed(1)} | ${m(xs, (s) => s.scavenges)} | ${m(xs, (s) => s.majors)} | ${m(xs, (s) => s.loopP99).toFixed(0)} |`,
      );
    }
    console.log(out.join("\n"));
  } finally {
    a.disconnect();
    b.disconnect();
    await server.stop();
    obs.disconnect();
  }
}

await main();
