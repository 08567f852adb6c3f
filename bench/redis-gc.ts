// redis-gc.ts: do garbage collection pauses make floodgate's p99 at concurrency 64 (standalone Redis)?
//
// Run: node --expose-gc --import tsx bench/redis-gc.ts   (prints markdown; not a section of bench/run.ts)
//      BENCH_ROUNDS=5 BENCH_RUN_MS=1500 BENCH_CONCURRENCY=64 to change rounds, row length, concurrency;
//      BENCH_ONLY=<regular expression> runs only the contenders whose name matches; BENCH_FORCED_GC=0 skips
//      the full GC (global.gc()) that bench/redis.ts and this bench run before each row; BENCH_BASE=<git rev>
//      adds the floodgate of that revision (bench/base.ts) as one more contender, interleaved (an A/B).
//
// The workload of bench/redis.ts (ioredis, one connection per library, 10,000
// long-lived keys round robin, every call admitted), with each call's start and
// end recorded and every GC pause of the row observed (perf_hooks "gc" entries:
// start and duration, on the same clock as performance.now()). A call "met a GC"
// when a pause began before it ended and ended after it began. If GC pauses make
// the tail, the slowest 1% of calls met a GC far more often than calls in general,
// and the p99 of the calls that met none is close to the p50's neighbourhood.

import { loadavg } from "node:os";
import { type PerformanceEntry, PerformanceObserver } from "node:perf_hooks";
import v8 from "node:v8";
import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { RateLimiter } from "../src/index.js";
import { RedisStore } from "../src/stores/redis/index.js";
import { startRedis } from "../test/helpers/redis-server.js";
import { loadBase } from "./base.js";
import { LONG_LIVED_BUCKET, longLivedBucket, median } from "./workload.js";

const RUN_MS = Number(process.env.BENCH_RUN_MS ?? 1500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const WARM_MS = 300;
/** FORCED_GC: a full GC before each row, as bench/redis.ts does (BENCH_FORCED_GC=0: none). */
const FORCED_GC = process.env.BENCH_FORCED_GC !== "0";
const KEYS = 10_000;

type Consume = (key: string) => Promise<unknown>;

/** START and END hold one row's call start and end times (ms, performance.now()), preallocated. */
const START = new Float64Array(1 << 21);
const END = new Float64Array(1 << 21);

/** Pause is one GC pause: when it began (performance.now() ms) and how long it took. */
interface Pause {
  startMs: number;
  durationMs: number;
  /** major is true for a mark-sweep-compact (perf_hooks kind 2), false for a scavenge or other kinds. */
  major: boolean;
}

const pauses: Pause[] = [];
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries() as PerformanceEntry[])
    pauses.push({
      startMs: e.startTime,
      durationMs: e.duration,
      major: (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === 2,
    });
});
observer.observe({ entryTypes: ["gc"] });

async function drive(consume: Consume, ms: number, record: boolean): Promise<number> {
  let n = 0;
  let k = 0;
  const end = performance.now() + ms;
  const loop = async (): Promise<void> => {
    while (performance.now() < end && n < START.length) {
      const key = `user:${k++ % KEYS}`;
      const t0 = performance.now();
      await consume(key);
      if (record) {
        START[n] = t0;
        END[n] = performance.now();
      }
      n++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  return n;
}

/** GcStats is the part of v8.GCProfiler's report read here. */
interface GcStats {
  statistics: {
    beforeGC: { heapStatistics: { usedHeapSize: number } };
    afterGC: { heapStatistics: { usedHeapSize: number } };
  }[];
}

/** Row is one contender's figures in one round. */
interface Row {
  name: string;
  perSec: number;
  p50Us: number;
  p99Us: number;
  /** p99CleanUs is the p99 of the calls that met no GC pause. */
  p99CleanUs: number;
  gcCount: number;
  /** gcShare is the share of the row's wall time spent in GC pauses. */
  gcShare: number;
  gcMaxMs: number;
  /** majorCount counts the mark-sweep-compact pauses among gcCount. */
  majorCount: number;
  /** bytesPerDecision is the V8 heap allocated in the row per decision (the loop's own awaits included). */
  bytesPerDecision: number;
  /** tailMajor is the share of the slowest 1% of calls that met a mark-sweep-compact pause. */
  tailMajor: number;
  /** metGc is the share of all calls that met a GC pause; tailMetGc the same among calls at or above the p99. */
  metGc: number;
  tailMetGc: number;
}

function pct(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

async function measure(name: string, consume: Consume): Promise<Row> {
  await drive(consume, WARM_MS, false);
  if (FORCED_GC) (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 10));
  pauses.length = 0;
  // Heap bytes allocated in the row: heap used at its end - at its start + what each GC freed (v8.GCProfiler).
  const profiler = new v8.GCProfiler();
  const used0 = v8.getHeapStatistics().used_heap_size;
  profiler.start();
  const t0 = performance.now();
  const n = await drive(consume, RUN_MS, true);
  const elapsedMs = performance.now() - t0;
  const used1 = v8.getHeapStatistics().used_heap_size;
  let freed = 0;
  for (const g of (profiler.stop() as unknown as GcStats).statistics) {
    freed += g.beforeGC.heapStatistics.usedHeapSize - g.afterGC.heapStatistics.usedHeapSize;
  }
  await new Promise((r) => setTimeout(r, 10)); // let the observer deliver the row's entries
  const ps = pauses.filter((p) => p.startMs >= t0 && p.startMs <= t0 + elapsedMs).sort((a, b) => a.startMs - b.startMs);
  const lat = new Float64Array(n);
  const met = new Uint8Array(n); // 1: met a scavenge (or other minor pause), 2: met a mark-sweep-compact
  for (let i = 0; i < n; i++) {
    const s = START[i] as number;
    const e = END[i] as number;
    lat[i] = (e - s) * 1000;
    // The last pause that began before the call ended; earlier ones ended earlier (pauses do not overlap).
    let lo = 0;
    let hi = ps.length - 1;
    let j = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((ps[mid] as Pause).startMs < e) {
        j = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (j >= 0) {
      const p = ps[j] as Pause;
      if (p.startMs + p.durationMs > s) met[i] = p.major ? 2 : 1;
    }
  }
  const sorted = lat.slice().sort();
  const p99 = pct(sorted, 0.99);
  const clean: number[] = [];
  let metAll = 0;
  let tail = 0;
  let tailMet = 0;
  let tailMajor = 0;
  for (let i = 0; i < n; i++) {
    const m = met[i] === 0 ? 0 : 1;
    metAll += m;
    if (m === 0) clean.push(lat[i] as number);
    if ((lat[i] as number) >= p99) {
      tail++;
      tailMet += m;
      if (met[i] === 2) tailMajor++;
    }
  }
  const cleanSorted = Float64Array.from(clean).sort();
  return {
    name,
    perSec: n / (elapsedMs / 1000),
    p50Us: pct(sorted, 0.5),
    p99Us: p99,
    p99CleanUs: pct(cleanSorted, 0.99),
    gcCount: ps.length,
    gcShare: ps.reduce((a, p) => a + p.durationMs, 0) / elapsedMs,
    gcMaxMs: ps.reduce((a, p) => Math.max(a, p.durationMs), 0),
    bytesPerDecision: (used1 - used0 + freed) / n,
    majorCount: ps.filter((p) => p.major).length,
    tailMajor: tail > 0 ? tailMajor / tail : 0,
    metGc: metAll / n,
    tailMetGc: tail > 0 ? tailMet / tail : 0,
  };
}

async function main(): Promise<void> {
  const server = await startRedis();
  const clientA = new Redis(server.port, server.host);
  const clientB = new Redis(server.port, server.host);
  // The base revision's store gets its own connection, as every library here does.
  const clientC = new Redis(server.port, server.host);
  const base = process.env.BENCH_BASE === undefined ? undefined : await loadBase(process.env.BENCH_BASE);
  try {
    const rlf = new RateLimiterRedis({ storeClient: clientB, points: 1e9, duration: 60, keyPrefix: "rlf" });
    const bucket = new RateLimiter({
      policy: longLivedBucket(),
      store: new RedisStore({ client: clientA, timeoutMs: 2000 }),
    });
    const unbatched = new RateLimiter({
      policy: longLivedBucket(),
      store: new RedisStore({ client: clientA, timeoutMs: 2000, batch: false, prefix: "nb:" }),
    });
    const all: [string, Consume][] = [
      ["rate-limiter-flexible", (k) => rlf.consume(k)],
      ["floodgate tokenBucket", (k) => bucket.consume(k)],
      ["floodgate tokenBucket, batch: false", (k) => unbatched.consume(k)],
    ];
    if (base !== undefined) {
      const { main, redis } = base;
      const baseBucket = new main.RateLimiter({
        policy: main.tokenBucket(LONG_LIVED_BUCKET),
        store: new redis.RedisStore({ client: clientC, timeoutMs: 2000, prefix: "base:" }),
      });
      all.push([`floodgate tokenBucket ${base.label}`, (k) => baseBucket.consume(k)]);
    }
    const only = process.env.BENCH_ONLY === undefined ? undefined : new RegExp(process.env.BENCH_ONLY);
    const contenders = all.filter(([name]) => only === undefined || only.test(name));
    const load0 = loadavg()[0] ?? 0;
    const rows = new Map<string, Row[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (let j = 0; j < contenders.length; j++) {
        const [name, consume] = contenders[(j + round) % contenders.length] as [string, Consume];
        const r = await measure(name, consume);
        rows.set(name, [...(rows.get(name) ?? []), r]);
        console.error(
          `round ${round} ${name}: ${Math.round(r.perSec)}/s p50 ${r.p50Us.toFixed(0)} p99 ${r.p99Us.toFixed(0)} p99 without GC ${r.p99CleanUs.toFixed(0)} µs; ${r.gcCount} GCs (${r.majorCount} major), ${(r.gcShare * 100).toFixed(1)}% of the time, max ${r.gcMaxMs.toFixed(2)} ms; calls that met a GC ${(r.metGc * 100).toFixed(1)}%, of the slowest 1% ${(r.tailMetGc * 100).toFixed(1)}% (a major one ${(r.tailMajor * 100).toFixed(1)}%); ${r.bytesPerDecision.toFixed(0)} bytes per decision`,
        );
      }
    }
    const load1 = loadavg()[0] ?? 0;
    const lines = [
      `GC pauses and the tail, standalone Redis, concurrency ${CONCURRENCY}, ${FORCED_GC ? "a full GC (global.gc()) before each row" : "no forced GC"}, ${ROUNDS} rounds of ${RUN_MS} ms interleaved, medians over rounds; load average ${load0.toFixed(1)} before, ${load1.toFixed(1)} after:`,
      "",
      "| library | decisions/s | p50 µs | p99 µs | p99 of calls that met no GC µs | GC pauses per s (major) | time in GC | longest pause ms | calls that met a GC | of the slowest 1% (a major GC) | heap bytes per decision |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...contenders.map(([name]) => {
        const rs = rows.get(name) as Row[];
        const m = (f: (r: Row) => number): number => median(rs.map(f));
        return `| ${name} | ${Math.round(m((r) => r.perSec)).toLocaleString("en-US")} | ${m((r) => r.p50Us).toFixed(0)} | ${m((r) => r.p99Us).toFixed(0)} | ${m((r) => r.p99CleanUs).toFixed(0)} | ${m((r) => r.gcCount / (RUN_MS / 1000)).toFixed(0)} (${m((r) => r.majorCount / (RUN_MS / 1000)).toFixed(1)}) | ${(m((r) => r.gcShare) * 100).toFixed(1)}% | ${m((r) => r.gcMaxMs).toFixed(2)} | ${(m((r) => r.metGc) * 100).toFixed(1)}% | ${(m((r) => r.tailMetGc) * 100).toFixed(1)}% (${(m((r) => r.tailMajor) * 100).toFixed(1)}%) | ${Math.round(m((r) => r.bytesPerDecision)).toLocaleString("en-US")} |`;
      }),
      "",
    ];
    const baseRows = base === undefined ? undefined : rows.get(`floodgate tokenBucket ${base.label}`);
    const headRows = rows.get("floodgate tokenBucket");
    if (base !== undefined && baseRows !== undefined && headRows !== undefined) {
      // Per round, this source over the base (rows of one round run back to back, so load hits both alike).
      const ratios = (f: (r: Row) => number): number[] => headRows.map((r, i) => f(r) / f(baseRows[i] as Row));
      const show = (xs: number[]): string =>
        `median ${median(xs).toFixed(2)}x (rounds ${xs.map((x) => x.toFixed(2)).join(", ")})`;
      lines.push(
        `A/B, this source / ${base.label}, per round: decisions/s ${show(ratios((r) => r.perSec))}; p99 ${show(ratios((r) => r.p99Us))}; heap bytes per decision ${show(ratios((r) => r.bytesPerDecision))}.`,
        "",
      );
    }
    console.log(lines.join("\n"));
  } finally {
    observer.disconnect();
    clientA.disconnect();
    clientB.disconnect();
    clientC.disconnect();
    await server.stop();
    base?.cleanup();
  }
}

await main();
