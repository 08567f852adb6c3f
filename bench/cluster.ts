// cluster.ts: RedisStore against rate-limiter-flexible on Redis Clusters of 1, 2 and 3 masters it starts itself.
//
// Run: node --expose-gc --import tsx bench/cluster.ts   (npm run bench -- cluster; writes bench/results/cluster.md)
//      BENCH_ROUNDS=5 BENCH_RUN_MS=2000 BENCH_MASTERS=1,3 ... to change rounds, row length and Cluster sizes;
//      BENCH_ONLY=node-redis runs only the contenders whose name matches it, a regular expression (so a plain word
//      matches names that contain it; 'Bucket, (ioredis|node-redis) [Cc]luster$' picks floodgate's two main rows);
//      then results/cluster.md is not written.
//      BENCH_BASE=<git rev> (A/B): floodgate's src/ at that revision (git archive into a temp directory, run by tsx
//      from source) runs beside the current code as contenders "... [base <rev>]", interleaved in every round, and
//      a table of per-round ratios (current / base: decisions/s, Node CPU, Redis CPU) is printed; results/cluster.md
//      is not written. BENCH_CONCURRENCY=16 changes the concurrency (decisions per call follow it); a list
//      (16,64,256) runs each contender at each concurrency, interleaved in the same rounds, named "... c=16".
//      BENCH_JSON=file writes every sample (one per row and round) as JSON, for fitting a cost model.
//
// Workload (issue 14): 100,000 keys round robin, concurrency 64, every call
// admitted and every key long-lived (so both libraries do the full
// read-modify-write on a key that exists). Each library gets its own client of
// each kind (ioredis Cluster, node-redis cluster), default settings. Contenders
// run interleaved in every round (the order rotates) and each figure is the
// median over rounds, so background load hits all alike.
//
// Cost: Redis CPU is each master's used_cpu_user+sys (INFO cpu: the whole
// redis-server process, network I/O included) per decision; the busiest master's
// share is what limits a Cluster, so the scaling table compares it with the
// 1-master figure divided by the number of masters. Script calls are EVALSHA+EVAL
// from INFO commandstats, summed over the masters.

import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Cluster, Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { createCluster } from "redis";
import { RateLimiter, type tokenBucket } from "../src/index.js";
import { ioredisAdapter, nodeRedisAdapter, RedisStore } from "../src/stores/redis/index.js";
import { type RedisCluster, startCluster } from "../test/helpers/redis-server.js";
import { type Base, loadBase } from "./base.js";
import { LONG_LIVED_BUCKET, longLivedBucket, median } from "./workload.js";

const RUN_MS = Number(process.env.BENCH_RUN_MS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** IDLE_MS is how long each master's CPU is read with no traffic before a row (its idle rate is subtracted). */
const IDLE_MS = 400;
const MASTERS = (process.env.BENCH_MASTERS ?? "1,2,3").split(",").map(Number);
const ONLY = process.env.BENCH_ONLY;
const ONLY_RE = ONLY === undefined ? undefined : new RegExp(ONLY);
const WARM_MS = 300;
const KEYS = 100_000;
const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? "64").split(",").map(Number);
const CONCURRENCY = CONCURRENCIES[0] as number;
const BASE = process.env.BENCH_BASE;
const JSON_OUT = process.env.BENCH_JSON;

/** Floodgate is what a contender needs of one copy of floodgate's source (the current one, or BENCH_BASE's). */
interface Floodgate {
  label: string;
  RateLimiter: typeof RateLimiter;
  RedisStore: typeof RedisStore;
  ioredisAdapter: typeof ioredisAdapter;
  nodeRedisAdapter: typeof nodeRedisAdapter;
  tokenBucket: typeof tokenBucket;
}

/** floodgateOf is the Floodgate of a base revision (see bench/base.ts). */
function floodgateOf(b: Base): Floodgate {
  return {
    label: b.label,
    RateLimiter: b.main.RateLimiter,
    RedisStore: b.redis.RedisStore,
    ioredisAdapter: b.redis.ioredisAdapter,
    nodeRedisAdapter: b.redis.nodeRedisAdapter,
    tokenBucket: b.main.tokenBucket,
  };
}

type Consume = (key: string) => Promise<unknown>;

/** Sample is one row of one round. */
interface Sample {
  name: string;
  masters: number;
  concurrency: number;
  decisions: number;
  perSec: number;
  /** redisUsPerDecision holds each master's CPU µs per decision, in node order. */
  redisUsPerDecision: number[];
  /** redisSysUsPerDecision is the kernel's part of redisUsPerDecision (used_cpu_sys), all masters together. */
  redisSysUsPerDecision: number;
  nodeUsPerDecision: number;
  /** nodeSysUsPerDecision is the kernel's part of nodeUsPerDecision. */
  nodeSysUsPerDecision: number;
  scriptCalls: number;
  /** scriptUsPerDecision is the time Redis spent running script calls (INFO commandstats usec, all masters) per decision. */
  scriptUsPerDecision: number;
}

/** NodeStats is one master's CPU time (µs) and script call count. */
interface NodeStats {
  cpuUs: number;
  sysUs: number;
  calls: number;
  /** scriptUs is the time spent running EVALSHA, EVAL and FCALL (commandstats usec). */
  scriptUs: number;
}

async function nodeStats(admin: Redis): Promise<NodeStats> {
  const cpu = await admin.info("cpu");
  const user = Number(/used_cpu_user:([\d.]+)/.exec(cpu)?.[1] ?? 0);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(cpu)?.[1] ?? 0);
  const stats = await admin.info("commandstats");
  let calls = 0;
  let scriptUs = 0;
  for (const m of stats.matchAll(/cmdstat_(evalsha|eval|fcall):calls=(\d+),usec=(\d+)/g)) {
    calls += Number(m[2]);
    scriptUs += Number(m[3]);
  }
  return { cpuUs: (user + sys) * 1e6, sysUs: sys * 1e6, calls, scriptUs };
}

/** drive runs `concurrency` loops of consume over the keys, round robin, for `ms` (or `count` calls); returns the calls made. */
async function drive(
  consume: Consume,
  ms: number,
  count = Number.POSITIVE_INFINITY,
  concurrency = CONCURRENCY,
): Promise<number> {
  let n = 0;
  const end = performance.now() + ms;
  const loop = async (): Promise<void> => {
    while (n < count && performance.now() < end) {
      const key = `user:${cursor++ % KEYS}`;
      n++;
      await consume(key);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return n;
}
let cursor = 0;

async function measure(
  name: string,
  masters: number,
  consume: Consume,
  admins: Redis[],
  concurrency: number,
): Promise<Sample> {
  await drive(consume, WARM_MS, Number.POSITIVE_INFINITY, concurrency);
  (globalThis as { gc?: () => void }).gc?.();
  // Each master's CPU with no traffic (cluster bus, cron), per ms: subtracted from the row,
  // so a slow row on a loaded machine does not charge idle work to its few decisions.
  const idle0 = await Promise.all(admins.map(nodeStats));
  const i0 = performance.now();
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const idle1 = await Promise.all(admins.map(nodeStats));
  const idleMs = performance.now() - i0;
  const idlePerMs = idle1.map((a, i) => (a.cpuUs - (idle0[i] as NodeStats).cpuUs) / idleMs);
  const before = await Promise.all(admins.map(nodeStats));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const decisions = await drive(consume, RUN_MS, Number.POSITIVE_INFINITY, concurrency);
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const after = await Promise.all(admins.map(nodeStats));
  const idleSysPerMs = idle1.map((a, i) => (a.sysUs - (idle0[i] as NodeStats).sysUs) / idleMs);
  return {
    name,
    masters,
    concurrency,
    decisions,
    perSec: decisions / (elapsedMs / 1000),
    redisUsPerDecision: after.map(
      (a, i) =>
        Math.max(0, a.cpuUs - (before[i] as NodeStats).cpuUs - (idlePerMs[i] as number) * elapsedMs) / decisions,
    ),
    redisSysUsPerDecision:
      after.reduce(
        (s, a, i) =>
          s + Math.max(0, a.sysUs - (before[i] as NodeStats).sysUs - (idleSysPerMs[i] as number) * elapsedMs),
        0,
      ) / decisions,
    nodeUsPerDecision: (cpu.user + cpu.system) / decisions,
    nodeSysUsPerDecision: cpu.system / decisions,
    scriptCalls: after.reduce((s, a, i) => s + a.calls - (before[i] as NodeStats).calls, 0),
    scriptUsPerDecision: after.reduce((s, a, i) => s + a.scriptUs - (before[i] as NodeStats).scriptUs, 0) / decisions,
  };
}

/** Row is a contender's medians over the rounds on one Cluster size. */
interface Row {
  name: string;
  masters: number;
  perSec: number;
  perSecMin: number;
  perSecMax: number;
  redisUs: number[];
  redisTotalUs: number;
  redisBusiestUs: number;
  nodeUs: number;
  decisionsPerCall: number;
  scriptUs: number;
  /** samples are the row's samples, one per round, in round order. */
  samples: Sample[];
}

function row(samples: Sample[]): Row {
  const first = samples[0] as Sample;
  const m = (f: (s: Sample) => number): number => median(samples.map(f));
  const redisUs = first.redisUsPerDecision.map((_, i) => m((s) => s.redisUsPerDecision[i] as number));
  return {
    name: first.name,
    masters: first.masters,
    perSec: m((s) => s.perSec),
    perSecMin: Math.min(...samples.map((s) => s.perSec)),
    perSecMax: Math.max(...samples.map((s) => s.perSec)),
    redisUs,
    redisTotalUs: m((s) => s.redisUsPerDecision.reduce((a, b) => a + b, 0)),
    redisBusiestUs: m((s) => Math.max(...s.redisUsPerDecision)),
    nodeUs: m((s) => s.nodeUsPerDecision),
    decisionsPerCall: m((s) => (s.scriptCalls > 0 ? s.decisions / s.scriptCalls : 0)),
    scriptUs: m((s) => s.scriptUsPerDecision),
    samples,
  };
}

const RLF_IO = "rate-limiter-flexible, ioredis Cluster";
const RLF_NR = "rate-limiter-flexible, node-redis cluster";
const FG_IO = "floodgate tokenBucket, ioredis Cluster";
const FG_NR = "floodgate tokenBucket, node-redis cluster";
const FG_NR_LATE = "floodgate tokenBucket, node-redis cluster, batches sent after I/O (before)";
const FG_SLOT = "floodgate tokenBucket, ioredis Cluster, per-slot batches (before issue 14)";

/** runCluster measures every contender on one Cluster of `masters` masters (and BENCH_BASE's floodgate, if given). */
async function runCluster(masters: number, base: Floodgate | undefined): Promise<Row[]> {
  const cluster: RedisCluster = await startCluster(masters);
  const admins = cluster.nodes.map((n) => new Redis(n.port, n.host));
  const ioA = new Cluster(cluster.nodes);
  const ioB = new Cluster(cluster.nodes);
  const ioC = new Cluster(cluster.nodes);
  const rootNodes = cluster.nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` }));
  const nrA = createCluster({ rootNodes });
  const nrB = createCluster({ rootNodes });
  const nrC = createCluster({ rootNodes });
  // The base revision's floodgate gets clients of its own.
  const ioD = new Cluster(cluster.nodes);
  const nrD = createCluster({ rootNodes });
  try {
    await Promise.all([nrA.connect(), nrB.connect(), nrC.connect(), ...(base ? [nrD.connect()] : [])]);
    // Keys that stay, as rate-limiter-flexible's live their 600 s window (see bench/workload.ts).
    const policy = longLivedBucket();
    const rlfIo = new RateLimiterRedis({ storeClient: ioB, points: 1e9, duration: 600, keyPrefix: "rlf" });
    const rlfNr = new RateLimiterRedis({
      storeClient: nrB,
      useRedisPackage: true,
      points: 1e9,
      duration: 600,
      keyPrefix: "rlfn",
    });
    const fgIo = new RateLimiter({ policy, store: new RedisStore({ client: ioA, timeoutMs: 5000 }) });
    const fgNr = new RateLimiter({
      policy,
      store: new RedisStore({ adapter: nodeRedisAdapter(nrA), timeoutMs: 5000, prefix: "fgn:" }),
    });
    // The same store with the adapter's slot map hidden: calls group per slot, as before issue 14.
    const { nodeOf: _hidden, ...perSlot } = ioredisAdapter(ioC);
    const fgSlot = new RateLimiter({
      policy,
      store: new RedisStore({ adapter: perSlot, timeoutMs: 5000, prefix: "fgs:" }),
    });
    // node-redis as before: batches sent after the turn's I/O and split (the adapter not marked writesLate).
    const fgNrLate = new RateLimiter({
      policy,
      store: new RedisStore({
        adapter: { ...nodeRedisAdapter(nrC), writesLate: false },
        timeoutMs: 5000,
        prefix: "fgl:",
      }),
    });
    const all: [string, Consume][] = [
      [RLF_IO, (k) => rlfIo.consume(k)],
      [FG_IO, (k) => fgIo.consume(k)],
      [RLF_NR, (k) => rlfNr.consume(k)],
      [FG_NR, (k) => fgNr.consume(k)],
      [FG_NR_LATE, (k) => fgNrLate.consume(k)],
      [FG_SLOT, (k) => fgSlot.consume(k)],
    ];
    if (base) {
      const basePolicy = base.tokenBucket(LONG_LIVED_BUCKET);
      const baseIo = new base.RateLimiter({
        policy: basePolicy,
        store: new base.RedisStore({ client: ioD, timeoutMs: 5000, prefix: "fbi:" }),
      });
      const baseNr = new base.RateLimiter({
        policy: basePolicy,
        store: new base.RedisStore({ adapter: base.nodeRedisAdapter(nrD), timeoutMs: 5000, prefix: "fbn:" }),
      });
      all.push(
        [`${FG_IO} ${base.label}`, (k) => baseIo.consume(k)],
        [`${FG_NR} ${base.label}`, (k) => baseNr.consume(k)],
      );
    }
    const chosen = all.filter(([name]) => ONLY_RE === undefined || ONLY_RE.test(name));
    // Each contender at each concurrency (named "... c=N" when there are several).
    const contenders: [string, Consume, number][] = CONCURRENCIES.flatMap((c) =>
      chosen.map(([name, consume]): [string, Consume, number] => [
        CONCURRENCIES.length > 1 ? `${name} c=${c}` : name,
        consume,
        c,
      ]),
    );
    // Every key exists before the first row (long-lived keys): one pass per contender.
    for (const [name, consume] of chosen) {
      const t0 = performance.now();
      await drive(consume, 60_000, KEYS);
      console.error(`${masters} masters: ${name}: ${KEYS} keys made in ${Math.round(performance.now() - t0)} ms`);
    }
    const samples = new Map<string, Sample[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (let j = 0; j < contenders.length; j++) {
        const [name, consume, c] = contenders[(j + round) % contenders.length] as [string, Consume, number];
        const s = await measure(name, masters, consume, admins, c);
        samples.set(name, [...(samples.get(name) ?? []), s]);
        console.error(
          `${masters} masters, round ${round}, ${name}: ${Math.round(s.perSec)}/s, Redis µs/decision ${s.redisUsPerDecision.map((u) => u.toFixed(2)).join(" + ")}, (sys ${s.redisSysUsPerDecision.toFixed(2)}), scripts ${s.scriptUsPerDecision.toFixed(2)} µs, Node ${s.nodeUsPerDecision.toFixed(2)} µs (sys ${s.nodeSysUsPerDecision.toFixed(2)}), ${(s.decisions / Math.max(1, s.scriptCalls)).toFixed(1)} decisions/call`,
        );
      }
    }
    return contenders.map(([name]) => row(samples.get(name) as Sample[]));
  } finally {
    for (const a of admins) a.disconnect();
    ioA.disconnect();
    ioB.disconnect();
    ioC.disconnect();
    ioD.disconnect();
    await Promise.allSettled([nrA.close(), nrB.close(), nrC.close(), ...(base ? [nrD.close()] : [])]);
    await cluster.stop();
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

/**
 * abTable compares each floodgate contender with its BENCH_BASE twin: per round, the
 * ratio current / base of decisions/s, Node CPU, Redis CPU (all masters, busiest)
 * and decisions per call; each cell is the median of the rounds' ratios (min-max).
 */
function abTable(rows: Row[], label: string): string[] {
  const out = [
    `A/B, current / ${label}: median of the per-round ratios (min-max); rounds interleaved, so each pair ran within seconds of each other. Below 1 is better for the CPU columns.`,
    "",
    "| masters | client | decisions/s | Node CPU µs/decision | Redis CPU µs/decision, all masters | busiest master | decisions per call |",
    "|---:|---|---:|---:|---:|---:|---:|",
  ];
  for (const b of rows.filter((r) => r.name.endsWith(label))) {
    const cur = rows.find((r) => r.masters === b.masters && r.name === b.name.slice(0, -label.length - 1));
    if (!cur) continue;
    const cell = (f: (s: Sample) => number): string => {
      const ratios = cur.samples.map((s, i) => f(s) / f(b.samples[i] as Sample));
      return `${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`;
    };
    const total = (s: Sample): number => s.redisUsPerDecision.reduce((a, x) => a + x, 0);
    const client = cur.name.includes("node-redis") ? "node-redis" : "ioredis";
    out.push(
      `| ${b.masters} | ${client} | ${cell((s) => s.perSec)} | ${cell((s) => s.nodeUsPerDecision)} | ${cell(total)} | ${cell((s) => Math.max(...s.redisUsPerDecision))} | ${cell((s) => s.decisions / Math.max(1, s.scriptCalls))} |`,
    );
  }
  return out;
}

async function main(): Promise<void> {
  const loaded = BASE === undefined ? undefined : await loadBase(BASE);
  const baseFg = loaded === undefined ? undefined : floodgateOf(loaded);
  const loadBefore = loadavg();
  const rows: Row[] = [];
  try {
    for (const m of MASTERS) rows.push(...(await runCluster(m, baseFg)));
  } finally {
    loaded?.cleanup();
  }
  const loadAfter = loadavg();
  if (JSON_OUT !== undefined) {
    const samples = rows.flatMap((r) => r.samples.map((s, round) => ({ ...s, round })));
    writeFileSync(JSON_OUT, `${JSON.stringify({ loadBefore, loadAfter, samples }, null, 1)}\n`);
  }
  const version =
    execFileSync("redis-server", ["--version"])
      .toString()
      .match(/v=(\S+)/)?.[1] ?? "?";
  const find = (name: string, masters: number): Row | undefined =>
    rows.find((r) => r.name === name && r.masters === masters);
  const ratio = (a: Row | undefined, b: Row | undefined): string =>
    a && b ? `${(a.perSec / b.perSec).toFixed(2)}x` : "?";
  const one = find(FG_IO, 1);
  const oneRlf = find(RLF_IO, 1);
  const lines = [
    "# Redis Cluster benchmark",
    "",
    "Command: `npm run bench -- cluster` (`node --expose-gc --import tsx bench/cluster.ts`)",
    "",
    `Machine: ${availableParallelism()} cores (nproc ${execFileSync("nproc").toString().trim()}), Node ${process.version}, redis-server ${version}, Clusters of ${MASTERS.join(", ")} masters on 127.0.0.1 started by the bench (no replicas, no persistence). ${KEYS.toLocaleString("en-US")} keys round robin, concurrency ${CONCURRENCIES.join(", ")}, every call admitted, every key made before the first row (long-lived: TTL 600 s); ${RUN_MS} ms per row after ${WARM_MS} ms warm-up, ${ROUNDS} rounds with the contenders interleaved (order rotating); each figure is the median over rounds (decisions/s also min-max). Load average (1, 5 min) ${loadBefore[0]?.toFixed(1)}, ${loadBefore[1]?.toFixed(1)} before and ${loadAfter[0]?.toFixed(1)}, ${loadAfter[1]?.toFixed(1)} after: the machine is shared, so wall-time figures are noisy; CPU per decision is steadier. Redis CPU: used_cpu_user+sys of each master (INFO cpu) per decision, less the master's idle CPU over the same time (read for ${IDLE_MS} ms with no traffic before each row); script calls: EVALSHA+EVAL (INFO commandstats); running scripts: their commandstats usec (execution only, without reading requests and writing replies), all masters together.`,
    "",
    "| masters | library, client | decisions/s (min-max) | Redis CPU µs/decision, per master | all masters | busiest master | running scripts µs/decision | Node CPU µs/decision | decisions per script call |",
    "|---:|---|---:|---|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.masters} | ${r.name} | ${fmt(r.perSec)} (${fmt(r.perSecMin)}-${fmt(r.perSecMax)}) | ${r.redisUs.map((u) => u.toFixed(2)).join(" / ")} | ${r.redisTotalUs.toFixed(2)} | ${r.redisBusiestUs.toFixed(2)} | ${r.scriptUs.toFixed(2)} | ${r.nodeUs.toFixed(2)} | ${r.decisionsPerCall.toFixed(1)} |`,
    ),
    "",
    "Ratios of decisions/s, floodgate / rate-limiter-flexible, same client (target: at least 1.5x):",
    "",
    "| masters | ioredis Cluster | node-redis cluster | floodgate per-slot batches (before) / rate-limiter-flexible, ioredis |",
    "|---:|---:|---:|---:|",
    ...MASTERS.map(
      (m) =>
        `| ${m} | ${ratio(find(FG_IO, m), find(RLF_IO, m))} | ${ratio(find(FG_NR, m), find(RLF_NR, m))} | ${ratio(find(FG_SLOT, m), find(RLF_IO, m))} |`,
    ),
    "",
    "Projection from the CPU figures (not a measurement of wall time): with a core for the client process and a core per master, one client process can drive 1e6 / Node µs decisions/s and the Cluster can serve 1e6 / busiest master µs; the smaller is the ceiling. On this loaded 2-core machine every process shares two cores, so the measured decisions/s above stay far below it:",
    "",
    "| masters | floodgate, ioredis: client ceiling | Cluster ceiling | rate-limiter-flexible, ioredis: client ceiling | Cluster ceiling | ratio of the smaller ceilings |",
    "|---:|---:|---:|---:|---:|---:|",
    ...MASTERS.map((m) => {
      const f = find(FG_IO, m);
      const r = find(RLF_IO, m);
      if (!f || !r) return `| ${m} | ? | ? | ? | ? | ? |`;
      const cf = Math.min(1e6 / f.nodeUs, 1e6 / f.redisBusiestUs);
      const cr = Math.min(1e6 / r.nodeUs, 1e6 / r.redisBusiestUs);
      return `| ${m} | ${fmt(1e6 / f.nodeUs)} | ${fmt(1e6 / f.redisBusiestUs)} | ${fmt(1e6 / r.nodeUs)} | ${fmt(1e6 / r.redisBusiestUs)} | ${(cf / cr).toFixed(2)}x |`;
    }),
    "",
    "Scaling: the busiest master's Redis CPU per decision against the ideal (the 1-master figure / masters); efficiency = ideal / busiest (target: at least 0.8):",
    "",
    "| masters | floodgate, ioredis: busiest µs/decision | ideal | efficiency | rate-limiter-flexible, ioredis: busiest | ideal | efficiency |",
    "|---:|---:|---:|---:|---:|---:|---:|",
    ...MASTERS.map((m) => {
      const f = find(FG_IO, m);
      const r = find(RLF_IO, m);
      const cell = (x: Row | undefined, base: Row | undefined): string => {
        if (!x || !base) return "? | ? | ?";
        const ideal = base.redisBusiestUs / m;
        return `${x.redisBusiestUs.toFixed(2)} | ${ideal.toFixed(2)} | ${(ideal / x.redisBusiestUs).toFixed(2)}`;
      };
      return `| ${m} | ${cell(f, one)} | ${cell(r, oneRlf)} |`;
    }),
    "",
  ];
  if (loaded) lines.push(...abTable(rows, loaded.label), "");
  const md = lines.join("\n");
  console.log(md);
  if (ONLY !== undefined || loaded !== undefined || CONCURRENCIES.join() !== "64") return;
  const out = join(dirname(fileURLToPath(import.meta.url)), "results", "cluster.md");
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, md);
}

await main();
