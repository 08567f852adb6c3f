// http-redis-keys.ts: floodgate's own process CPU and Redis's CPU per HTTP decision with a RedisStore, one key vs 10,000 keys.
//
// Run: node --import tsx bench/http-redis-keys.ts [rounds] [decisions per slice] [concurrency]
//
// Why 10,000 keys serve fewer requests per second than one key in bench/http-redis.ts, without HTTP in
// the way: the HTTP core (HttpRateLimit.check, the path every adapter takes) decides requests keyed by a
// client id, as the HTTP bench's servers do (key = the x-client header), with the same policy (capacity
// 1e9, 1e6 tokens per second), a RedisStore with its defaults over ioredis, and a redis-server of its own
// (started here, no persistence). `concurrency` decisions are in flight at once (default 50, the HTTP
// bench's connections), so batches form as they do there. The two key modes run interleaved, one slice
// each per round: "one" (every decision for c1) and "many" (c0..c9999 round robin). Per slice: this
// process's CPU (process.cpuUsage) and redis-server's (INFO cpu) per decision, keys that expired per
// decision (INFO stats expired_keys), decisions per script call (INFO commandstats), and wall-clock
// decisions per second. Medians over rounds. Nothing is denied. A third mode is the control:
// "many-kept", 10,000 keys under a policy whose keys never come back to full (so never expire) during
// the run: what 10,000 keys cost when no key is dropped and re-created.

import { loadavg } from "node:os";
import { Redis } from "ioredis";
import { tokenBucket } from "../src/core/token-bucket.js";
import { HttpRateLimit, type HttpRequest } from "../src/http/core.js";
import { RedisStore } from "../src/stores/redis/index.js";
import { startRedis } from "../test/helpers/redis-server.js";

const ROUNDS = Number(process.argv[2] ?? 7);
const N = Number(process.argv[3] ?? 20_000);
const CONCURRENCY = Number(process.argv[4] ?? 50);
const MANY = 10_000;
const MODES = ["one", "many", "many-kept"] as const;
type Mode = (typeof MODES)[number];

const server = await startRedis();
const admin = new Redis(server.port, server.host);
const client = new Redis(server.port, server.host);
const store = new RedisStore({ client });
const core = new HttpRateLimit<string>({
  policy: tokenBucket({ name: "bench", capacity: 1_000_000_000, refillRate: 1_000_000 }),
  store,
  key: (req) => req.raw,
});
// The control: the same store and key count, a policy whose used tokens take 1,000 s each to come back, so no
// key is full again (and dropped by its TTL) while the bench runs.
const kept = new HttpRateLimit<string>({
  policy: tokenBucket({ name: "kept", capacity: 100_000, refillRate: 0.001 }),
  store,
  key: (req) => req.raw,
});
const clients = Array.from({ length: MANY }, (_, i) => `c${i}`);

/** view is the request the HTTP core sees: `raw` carries the client id (the key function returns it). */
function view(id: string): HttpRequest<string> {
  return { method: "GET", url: "/", path: "/", route: undefined, peer: "127.0.0.1", header: () => undefined, raw: id };
}

interface RedisCounters {
  cpuUs: number;
  expired: number;
  scriptCalls: number;
}

async function redisCounters(): Promise<RedisCounters> {
  const info = await admin.info("all");
  const num = (re: RegExp): number => Number(re.exec(info)?.[1] ?? 0);
  return {
    cpuUs: (num(/used_cpu_user:([\d.]+)/) + num(/used_cpu_sys:([\d.]+)/)) * 1e6,
    expired: num(/expired_keys:(\d+)/),
    scriptCalls:
      num(/cmdstat_evalsha:calls=(\d+)/) + num(/cmdstat_eval:calls=(\d+)/) + num(/cmdstat_fcall:calls=(\d+)/),
  };
}

interface Slice {
  processUs: number;
  redisUs: number;
  expired: number;
  perCall: number;
  perSecond: number;
}

/** slice makes N decisions, CONCURRENCY at a time, and returns the figures per decision. */
async function slice(mode: Mode, n: number): Promise<Slice> {
  let next = 0;
  let passed = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const id = mode === "one" ? "c1" : (clients[i % MANY] as string);
      const out = await (mode === "many-kept" ? kept : core).check(view(id));
      if (!out.limited && out.decision !== undefined) passed++;
    }
  };
  const r0 = await redisCounters();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const r1 = await redisCounters();
  if (passed !== n) throw new Error(`${mode}: ${n - passed} of ${n} decisions were not passes decided by Redis`);
  return {
    processUs: (c.user + c.system) / n,
    redisUs: (r1.cpuUs - r0.cpuUs) / n,
    expired: (r1.expired - r0.expired) / n,
    perCall: n / Math.max(1, r1.scriptCalls - r0.scriptCalls),
    perSecond: (n * 1000) / ms,
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;

try {
  // Warm-up: both modes, every one of the 10,000 keys at least once.
  for (const mode of MODES) await slice(mode, Math.max(N, MANY));
  const results: Record<Mode, Slice[]> = { one: [], many: [], "many-kept": [] };
  for (let r = 0; r < ROUNDS; r++) {
    const order = [...MODES.slice(r % MODES.length), ...MODES.slice(0, r % MODES.length)];
    for (const mode of order) results[mode].push(await slice(mode, N));
  }
  const load = loadavg()
    .map((x) => x.toFixed(2))
    .join(", ");
  process.stdout.write(
    `RedisStore through the HTTP core, ${N} decisions per slice, ${CONCURRENCY} in flight, median of ${ROUNDS} rounds (load ${load})\n`,
  );
  process.stdout.write(
    "| keys | process CPU µs/decision | Redis CPU µs/decision | expired keys/decision | decisions/script call | decisions/s |\n|---|---:|---:|---:|---:|---:|\n",
  );
  for (const mode of MODES) {
    const xs = results[mode];
    const m = (f: (s: Slice) => number): number => median(xs.map(f));
    process.stdout.write(
      `| ${mode === "one" ? "one" : mode === "many" ? "10,000" : "10,000, none expiring (control)"} | ${m((s) => s.processUs).toFixed(2)} | ${m((s) => s.redisUs).toFixed(2)} | ${m((s) => s.expired).toFixed(2)} | ${m((s) => s.perCall).toFixed(1)} | ${m((s) => s.perSecond).toFixed(0)} |\n`,
    );
  }
  const diff = (a: Mode, f: (s: Slice) => number): string =>
    median(results[a].map((s, i) => f(s) - f(results.one[i] as Slice))).toFixed(2);
  for (const a of ["many", "many-kept"] as const) {
    process.stdout.write(
      `${a === "many" ? "10,000 keys" : "10,000 keys, none expiring,"} minus one key, same round, median: process ${diff(a, (s) => s.processUs)} µs, Redis ${diff(a, (s) => s.redisUs)} µs per decision\n`,
    );
  }
} finally {
  client.disconnect();
  admin.disconnect();
  await server.stop();
}
