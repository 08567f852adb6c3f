// redis.ts: RedisStore against rate-limiter-flexible RateLimiterRedis on one local redis-server, in one run.
//
// Run: node --expose-gc --import tsx bench/redis.ts   (prints markdown, writes bench/results/redis.md)
//      BENCH_ROUNDS=5 BENCH_RUN_MS=2000 BENCH_CONCURRENCY=1,64 ... to change rounds, row length and concurrencies.
//
// Fairness: both libraries use the same ioredis settings (defaults, one connection
// each, no auto-pipelining) on one redis-server; contenders run interleaved in
// every round (the order rotates each round) and each figure is the median over
// rounds, so background load hits both alike. Latencies go into a preallocated
// array, so the bench loop adds the same small cost to every contender.

import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { fixedWindow, RateLimiter } from "../src/index.js";
import { RedisStore } from "../src/stores/redis/index.js";
import { startRedis } from "../test/helpers/redis-server.js";
import { longLivedBucket, median } from "./workload.js";

const RUN_MS = Number(process.env.BENCH_RUN_MS ?? 1500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARM_MS = 300;
const KEYS = 10_000;
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? "1,64,512").split(",").map(Number);

interface Result {
  name: string;
  concurrency: number;
  decisions: number;
  perSec: number;
  p50Us: number;
  p99Us: number;
  redisCpuUsPerDecision: number;
  nodeCpuUsPerDecision: number;
  scriptCalls: number;
}

type Consume = (key: string) => Promise<unknown>;

/** redisCpuUs reads Redis's user+sys CPU time in µs, and its script call count. */
async function redisStats(admin: Redis): Promise<{ cpuUs: number; calls: number }> {
  const cpu = await admin.info("cpu");
  const user = Number(/used_cpu_user:([\d.]+)/.exec(cpu)?.[1] ?? 0);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(cpu)?.[1] ?? 0);
  const stats = await admin.info("commandstats");
  let calls = 0;
  for (const m of stats.matchAll(/cmdstat_(evalsha|eval|fcall):calls=(\d+)/g)) calls += Number(m[2]);
  return { cpuUs: (user + sys) * 1e6, calls };
}

/** LAT holds one row's latencies in µs (preallocated: no array growth or GC in the measured loop). */
let LAT = new Float64Array(1 << 20);

/** drive runs `concurrency` loops of consume for `ms`; with `record`, each call's latency goes into LAT. */
async function drive(consume: Consume, concurrency: number, ms: number, record: boolean): Promise<number> {
  let n = 0;
  let k = 0;
  const end = performance.now() + ms;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const key = `user:${k++ % KEYS}`;
      const t0 = performance.now();
      await consume(key);
      if (record) {
        if (n === LAT.length) {
          const grown = new Float64Array(LAT.length * 2);
          grown.set(LAT);
          LAT = grown;
        }
        LAT[n] = (performance.now() - t0) * 1000;
      }
      n++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return n;
}

function pct(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

/** medianResult combines one contender's rounds: each figure is its median over the rounds. */
function medianResult(rs: Result[]): Result {
  const first = rs[0] as Result;
  const m = (f: (r: Result) => number): number => median(rs.map(f));
  return {
    name: first.name,
    concurrency: first.concurrency,
    decisions: m((r) => r.decisions),
    perSec: m((r) => r.perSec),
    p50Us: m((r) => r.p50Us),
    p99Us: m((r) => r.p99Us),
    redisCpuUsPerDecision: m((r) => r.redisCpuUsPerDecision),
    nodeCpuUsPerDecision: m((r) => r.nodeCpuUsPerDecision),
    scriptCalls: m((r) => r.scriptCalls),
  };
}

async function measure(name: string, consume: Consume, concurrency: number, admin: Redis): Promise<Result> {
  await drive(consume, concurrency, WARM_MS, false);
  (globalThis as { gc?: () => void }).gc?.();
  const before = await redisStats(admin);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const decisions = await drive(consume, concurrency, RUN_MS, true);
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const after = await redisStats(admin);
  const sorted = LAT.slice(0, decisions).sort();
  return {
    name,
    concurrency,
    decisions,
    perSec: decisions / (elapsedMs / 1000),
    p50Us: pct(sorted, 0.5),
    p99Us: pct(sorted, 0.99),
    redisCpuUsPerDecision: (after.cpuUs - before.cpuUs) / decisions,
    nodeCpuUsPerDecision: (cpu.user + cpu.system) / decisions,
    scriptCalls: after.calls - before.calls,
  };
}

async function main(): Promise<void> {
  const server = await startRedis();
  const admin = new Redis(server.port, server.host);
  const clientA = new Redis(server.port, server.host);
  const clientB = new Redis(server.port, server.host);
  try {
    const version = (await admin.info("server")).match(/redis_version:(\S+)/)?.[1] ?? "?";
    // Limits high enough that every call is admitted: both sides do the full read-modify-write.
    const rlf = new RateLimiterRedis({ storeClient: clientB, points: 1e9, duration: 60, keyPrefix: "rlf" });
    const store = new RedisStore({ client: clientA, timeoutMs: 2000 });
    // Long-lived keys for both: rate-limiter-flexible's live their 60 s window (see bench/workload.ts).
    const bucket = new RateLimiter({ policy: longLivedBucket(), store });
    const window = new RateLimiter({ policy: fixedWindow({ limit: 1e9, windowMs: 60_000 }), store });
    const unbatched = new RateLimiter({
      policy: longLivedBucket(),
      store: new RedisStore({ client: clientA, timeoutMs: 2000, batch: false, prefix: "nb:" }),
    });
    // The same store with functions off: EVALSHA, as before Redis functions were used.
    const bySha = new RateLimiter({
      policy: longLivedBucket(),
      store: new RedisStore({ client: clientA, timeoutMs: 2000, functions: false, prefix: "sha:" }),
    });
    const contenders: [string, Consume][] = [
      ["rate-limiter-flexible RateLimiterRedis (fixed window)", (k) => rlf.consume(k)],
      ["floodgate RedisStore tokenBucket", (k) => bucket.consume(k)],
      ["floodgate RedisStore tokenBucket, functions: false (EVALSHA)", (k) => bySha.consume(k)],
      ["floodgate RedisStore fixedWindow", (k) => window.consume(k)],
      ["floodgate RedisStore tokenBucket, batch: false", (k) => unbatched.consume(k)],
    ];
    const results: Result[] = [];
    const loadBefore = loadavg()[0] ?? 0;
    for (const c of CONCURRENCY) {
      const rounds = new Map<string, Result[]>();
      for (let round = 0; round < ROUNDS; round++) {
        for (let j = 0; j < contenders.length; j++) {
          const [name, consume] = contenders[(j + round) % contenders.length] as [string, Consume];
          const r = await measure(name, consume, c, admin);
          rounds.set(name, [...(rounds.get(name) ?? []), r]);
          console.error(
            `round ${round} ${name} c=${c}: ${Math.round(r.perSec)}/s p50 ${r.p50Us.toFixed(0)}µs p99 ${r.p99Us.toFixed(0)}µs redis ${r.redisCpuUsPerDecision.toFixed(2)}µs node ${r.nodeCpuUsPerDecision.toFixed(2)}µs`,
          );
        }
      }
      for (const [name] of contenders) results.push(medianResult(rounds.get(name) as Result[]));
    }
    // A flood: 100 keys of 10 per minute hammered at concurrency 64; after the first
    // 1000 calls every call is a denial. The deny cache answers those locally;
    // rate-limiter-flexible's equivalent is inMemoryBlockOnConsumed.
    const floodKeys = (k: string): string => `flood:${Number(k.slice(5)) % 100}`;
    const rlfFlood = new RateLimiterRedis({ storeClient: clientB, points: 10, duration: 60, keyPrefix: "rlff" });
    const rlfFloodBlock = new RateLimiterRedis({
      storeClient: clientB,
      points: 10,
      duration: 60,
      keyPrefix: "rlffb",
      inMemoryBlockOnConsumed: 10,
    });
    const fgFlood = new RateLimiter({ policy: fixedWindow({ limit: 10, windowMs: 60_000 }), store });
    const fgFloodNoCache = new RateLimiter({
      policy: fixedWindow({ limit: 10, windowMs: 60_000 }),
      store: new RedisStore({ client: clientA, timeoutMs: 2000, denyCache: false, prefix: "nc:" }),
    });
    const floods: [string, Consume][] = [
      ["flood: rate-limiter-flexible", (k) => rlfFlood.consume(floodKeys(k)).catch(() => undefined)],
      [
        "flood: rate-limiter-flexible, inMemoryBlockOnConsumed",
        (k) => rlfFloodBlock.consume(floodKeys(k)).catch(() => undefined),
      ],
      ["flood: floodgate fixedWindow, deny cache", (k) => fgFlood.consume(floodKeys(k))],
      ["flood: floodgate fixedWindow, denyCache: false", (k) => fgFloodNoCache.consume(floodKeys(k))],
    ];
    const floodRounds = new Map<string, Result[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, consume] of floods) {
        const r = await measure(name, consume, 64, admin);
        floodRounds.set(name, [...(floodRounds.get(name) ?? []), r]);
        console.error(`round ${round} ${name} c=64: ${Math.round(r.perSec)}/s p50 ${r.p50Us.toFixed(0)}µs`);
      }
    }
    for (const [name] of floods) results.push(medianResult(floodRounds.get(name) as Result[]));
    const nodeVersion = process.version;
    const loadAfter = loadavg()[0] ?? 0;
    const lines = [
      "# Redis store benchmark",
      "",
      "Command: `node --expose-gc --import tsx bench/redis.ts`",
      "",
      `Machine: ${availableParallelism()} cores (nproc ${execFileSync("nproc").toString().trim()}), Node ${nodeVersion}, redis-server ${version} on 127.0.0.1 (no persistence), ioredis for both libraries, ${KEYS} keys round-robin, every call admitted (except the flood rows), ${RUN_MS} ms per row after ${WARM_MS} ms warm-up, ${ROUNDS} rounds with the contenders interleaved (order rotating), each figure the median over rounds. Load average (1 min) ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after: other work on the machine makes decisions/s and latency noisy; CPU per decision is steadier. Redis CPU is used_cpu_user+sys from INFO per decision (includes network I/O); script calls from INFO commandstats.`,
      "",
      "| library | concurrency | decisions/s | p50 µs | p99 µs | Redis CPU µs/decision | Node CPU µs/decision | decisions per script call |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
      ...results.map(
        (r) =>
          `| ${r.name} | ${r.concurrency} | ${Math.round(r.perSec).toLocaleString("en-US")} | ${r.p50Us.toFixed(0)} | ${r.p99Us.toFixed(0)} | ${r.redisCpuUsPerDecision.toFixed(2)} | ${r.nodeCpuUsPerDecision.toFixed(2)} | ${r.scriptCalls > 0 ? (r.decisions / r.scriptCalls).toFixed(1) : "n/a"} |`,
      ),
      "",
      "Ratio floodgate tokenBucket / rate-limiter-flexible (decisions/s):",
      "",
      ...CONCURRENCY.map((c) => {
        const a = results.find(
          (r) =>
            r.concurrency === c && r.name.startsWith("floodgate RedisStore tokenBucket") && !r.name.includes("batch"),
        );
        const b = results.find((r) => r.concurrency === c && r.name.startsWith("rate-limiter-flexible"));
        return `- concurrency ${c}: ${a && b ? (a.perSec / b.perSec).toFixed(2) : "?"}x`;
      }),
      "",
    ];
    const md = lines.join("\n");
    console.log(md);
    const out = join(dirname(fileURLToPath(import.meta.url)), "results", "redis.md");
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, md);
  } finally {
    admin.disconnect();
    clientA.disconnect();
    clientB.disconnect();
    await server.stop();
  }
}

await main();
