// redis-alloc.ts: heap bytes allocated per decision on the Redis store's path, in total and by allocation site.
//
// Run: node --expose-gc --import tsx bench/redis-alloc.ts         (prints markdown)
//      BENCH_DECISIONS=100000 decisions per row, BENCH_ROUNDS=3 rows per contender (median),
//      BENCH_CONCURRENCY=64; BENCH_BASE=<git rev> adds the floodgate of that revision (its src/,
//      extracted with git archive) beside the current one; BENCH_ONLY=<regular expression> keeps
//      the contenders whose name matches; BENCH_SITES=1 adds an allocation sampling profile by
//      site (function, file:line) of each floodgate contender.
//
// Bytes are counted, not timed, so load on the machine does not change them: v8.GCProfiler
// reports the heap used before and after every GC in the window, so bytes allocated = heap
// used at the end - at the start + what every GC in between freed (exact for the V8 heap;
// Buffers' backing stores are outside it). Contenders:
//
// - "fake client": RedisStore with an adapter that answers each script call with a canned
//   reply (every decision admitted) in the next turn (setImmediate): floodgate's own bytes,
//   with one reply array per script call standing for what a client hands back;
// - "ioredis": the same store on ioredis and a real redis-server (started here), with
//   rate-limiter-flexible beside it on its own ioredis connection.
//
// The loop is bench/redis.ts's at concurrency 64 (keys "user:0".."user:9999" round robin),
// with the key strings made beforehand, so the loop itself allocates only its awaits.

import { Session } from "node:inspector";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { type Policy, RateLimiter, tokenBucket } from "../src/index.js";
import type { RedisAdapter } from "../src/stores/redis/index.js";
import { RedisStore } from "../src/stores/redis/index.js";
import { startRedis } from "../test/helpers/redis-server.js";
import { loadBase } from "./base.js";
import { LONG_LIVED_BUCKET, median } from "./workload.js";

const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const BASE = process.env.BENCH_BASE;
const ONLY = process.env.BENCH_ONLY === undefined ? undefined : new RegExp(process.env.BENCH_ONLY);
const SITES = process.env.BENCH_SITES === "1";
const KEYS = 10_000;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const KEY_NAMES = Array.from({ length: KEYS }, (_, i) => `user:${i}`);

type Consume = (key: string) => Promise<unknown>;

/** Floodgate is what a contender needs of one copy of floodgate's source (the current one, or BENCH_BASE's). */
interface Floodgate {
  label: string;
  RateLimiter: typeof RateLimiter;
  RedisStore: typeof RedisStore;
  tokenBucket: (o: typeof LONG_LIVED_BUCKET) => Policy;
}

/**
 * fakeAdapter answers every script call in the next turn with each of its decisions admitted
 * (`remaining, resetAfterMs` per key: every call of this bench is a consume of one policy).
 */
function fakeAdapter(): RedisAdapter {
  const answer = (keys: readonly string[], args: readonly string[]): Promise<unknown> =>
    new Promise((resolve) => {
      // node.lua (not used here) would carry its keys in ARGV; decide.lua and the lone scripts in KEYS.
      const n = keys.length;
      setImmediate(() => {
        const reply: number[] = [];
        for (let i = 0; i < n; i++) reply.push(9_999_000, 10_000);
        resolve(reply);
      });
      void args;
    });
  return {
    cluster: false,
    evalsha: (_sha, keys, args) => answer(keys, args),
    eval: (_source, keys, args) => answer(keys, args),
    info: async () => [{ text: "maxmemory_policy:noeviction\r\n" }],
  };
}

/** drive runs CONCURRENCY loops of consume until `n` decisions are made. */
async function drive(consume: Consume, n: number): Promise<void> {
  let made = 0;
  let k = 0;
  const loop = async (): Promise<void> => {
    while (made < n) {
      made++;
      await consume(KEY_NAMES[k] as string);
      k = k + 1 === KEYS ? 0 : k + 1;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
}

/** allocated returns the V8 heap bytes allocated while `fn` ran (see the header). */
async function allocated(fn: () => Promise<void>): Promise<number> {
  (globalThis as { gc?: () => void }).gc?.();
  const profiler = new v8.GCProfiler();
  const u0 = v8.getHeapStatistics().used_heap_size;
  profiler.start();
  await fn();
  const u1 = v8.getHeapStatistics().used_heap_size;
  const stats = profiler.stop() as unknown as {
    statistics: {
      beforeGC: { heapStatistics: { usedHeapSize: number } };
      afterGC: { heapStatistics: { usedHeapSize: number } };
    }[];
  };
  let freed = 0;
  for (const s of stats.statistics) {
    freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
  }
  return u1 - u0 + freed;
}

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) =>
    session.post(method, params ?? {}, (err, r) => (err ? reject(err) : resolve(r as T))),
  );
}

/** site names a profile frame: its function and where it is (a path relative to the repository, or a package). */
function site(f: ProfileNode["callFrame"]): string {
  let where = f.url.replace(/^file:\/\//, "");
  const nm = where.lastIndexOf("node_modules/");
  if (nm >= 0) where = where.slice(nm + "node_modules/".length);
  else if (where.startsWith(ROOT)) where = where.slice(ROOT.length + 1);
  else if (/fg-base-/.test(where)) where = `base:${where.replace(/^.*fg-base-[^/]+\//, "")}`;
  return `${f.functionName || "(anonymous)"} ${where}:${f.lineNumber + 1}`;
}

/** sites runs `fn` under the sampling heap profiler (garbage included) and returns bytes by site, per decision. */
async function sites(fn: () => Promise<void>, decisions: number): Promise<[string, number][]> {
  const session = new Session();
  session.connect();
  try {
    await post(session, "HeapProfiler.enable");
    await post(session, "HeapProfiler.startSampling", {
      samplingInterval: 256,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    await fn();
    const { profile } = await post<{ profile: { head: ProfileNode } }>(session, "HeapProfiler.stopSampling");
    const by = new Map<string, number>();
    const walk = (n: ProfileNode): void => {
      if (n.selfSize > 0) {
        const s = site(n.callFrame);
        by.set(s, (by.get(s) ?? 0) + n.selfSize);
      }
      for (const c of n.children) walk(c);
    };
    walk(profile.head);
    return [...by.entries()].map(([s, b]): [string, number] => [s, b / decisions]).sort((a, b) => b[1] - a[1]);
  } finally {
    session.disconnect();
  }
}

async function main(): Promise<void> {
  const server = await startRedis();
  const clientA = new Redis(server.port, server.host);
  const clientB = new Redis(server.port, server.host);
  const base = BASE === undefined ? undefined : await loadBase(BASE);
  try {
    const copies: Floodgate[] = [{ label: "", RateLimiter, RedisStore, tokenBucket }];
    if (base !== undefined) {
      const { main, redis } = base;
      copies.push({
        label: ` ${base.label}`,
        RateLimiter: main.RateLimiter,
        RedisStore: redis.RedisStore,
        tokenBucket: main.tokenBucket,
      });
    }
    const contenders: [string, Consume][] = [];
    for (const fg of copies) {
      const fake = new fg.RateLimiter({
        policy: fg.tokenBucket(LONG_LIVED_BUCKET),
        store: new fg.RedisStore({ adapter: fakeAdapter(), timeoutMs: 2000 }),
      });
      const real = new fg.RateLimiter({
        policy: fg.tokenBucket(LONG_LIVED_BUCKET),
        store: new fg.RedisStore({ client: clientA, timeoutMs: 2000, prefix: `fg${fg.label.length}:` }),
      });
      contenders.push([`floodgate, fake client${fg.label}`, (k) => fake.consume(k)]);
      contenders.push([`floodgate, ioredis${fg.label}`, (k) => real.consume(k)]);
    }
    const rlf = new RateLimiterRedis({ storeClient: clientB, points: 1e9, duration: 60, keyPrefix: "rlf" });
    contenders.push(["rate-limiter-flexible, ioredis", (k) => rlf.consume(k)]);
    const chosen = contenders.filter(([name]) => ONLY === undefined || ONLY.test(name));
    const load0 = loadavg()[0] ?? 0;
    const bytes = new Map<string, number[]>();
    const cpuUs = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (let j = 0; j < chosen.length; j++) {
        const [name, consume] = chosen[(j + round) % chosen.length] as [string, Consume];
        await drive(consume, 5_000); // warm: functions loaded, code optimized
        const cpu0 = process.cpuUsage();
        const b = (await allocated(() => drive(consume, DECISIONS))) / DECISIONS;
        const cpu = process.cpuUsage(cpu0);
        const us = (cpu.user + cpu.system) / DECISIONS;
        bytes.set(name, [...(bytes.get(name) ?? []), b]);
        cpuUs.set(name, [...(cpuUs.get(name) ?? []), us]);
        console.error(`round ${round} ${name}: ${b.toFixed(0)} bytes, ${us.toFixed(2)} µs of Node CPU per decision`);
      }
    }
    const load1 = loadavg()[0] ?? 0;
    const out = [
      `Heap bytes allocated per decision (v8.GCProfiler), concurrency ${CONCURRENCY}, ${DECISIONS.toLocaleString("en-US")} decisions per row, median of ${ROUNDS} rows; load average ${load0.toFixed(1)} before, ${load1.toFixed(1)} after (bytes do not depend on it):`,
      "",
      "| contender | bytes per decision | rows | Node CPU µs per decision (depends on load) | rows |",
      "|---|---:|---|---:|---|",
      ...chosen.map(([name]) => {
        const bs = bytes.get(name) as number[];
        const cs = cpuUs.get(name) as number[];
        return `| ${name} | ${Math.round(median(bs)).toLocaleString("en-US")} | ${bs.map((b) => b.toFixed(0)).join(", ")} | ${median(cs).toFixed(2)} | ${cs.map((c) => c.toFixed(2)).join(", ")} |`;
      }),
      "",
    ];
    if (SITES) {
      for (const [name, consume] of chosen) {
        if (!name.startsWith("floodgate")) continue;
        await drive(consume, 5_000);
        const by = await sites(() => drive(consume, DECISIONS), DECISIONS);
        const total = by.reduce((a, [, b]) => a + b, 0);
        out.push(
          `Allocation sites of "${name}" (sampling heap profiler, every 256 bytes on average, garbage included; bytes per decision, total ${total.toFixed(0)}):`,
          "",
          "| site (function, file:line) | bytes per decision |",
          "|---|---:|",
          ...by.slice(0, 30).map(([s, b]) => `| ${s} | ${b.toFixed(0)} |`),
          "",
        );
      }
    }
    console.log(out.join("\n"));
  } finally {
    clientA.disconnect();
    clientB.disconnect();
    await server.stop();
    base?.cleanup();
  }
}

await main();
