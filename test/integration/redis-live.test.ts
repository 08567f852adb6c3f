// redis-live.test.ts: live replacement, blocks and penalties on Redis (issue 10): two processes replace a policy
// mid-traffic and stay within the bound (standalone and Cluster); every block key has a TTL; penalty and reward.

import { fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedWindow, live, RateLimiter, tokenBucket } from "../../src/index.js";
import { RedisStore } from "../../src/stores/redis/index.js";
import { type RedisCluster, type RedisServer, startCluster, startRedis } from "../helpers/redis-server.js";
import { keysWithoutTtl } from "./redis-util.js";

const WORKER = join(dirname(fileURLToPath(import.meta.url)), "../helpers/live-worker.ts");

interface Report {
  admitted: number;
  degraded: number;
  perKey: Record<string, number>;
}

function runWorker(job: Record<string, unknown>): Promise<Report> {
  return new Promise<Report>((resolve, reject) => {
    const child = fork(WORKER, [JSON.stringify(job)], { execArgv: ["--import", "tsx"], stdio: "inherit" });
    let report: Report | undefined;
    child.on("message", (m) => {
      report = m as Report;
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      report ? resolve(report) : reject(new Error(`worker exited with ${code} and no report`)),
    );
  });
}

/** perKeyTotals adds the workers' admitted counts per key. */
function perKeyTotals(reports: Report[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of reports) for (const [k, n] of Object.entries(r.perKey)) m.set(k, (m.get(k) ?? 0) + n);
  return m;
}

type Nodes = { host: string; port: number }[];

/** twoProcesses runs two workers that replace the policy at different points of their traffic. */
async function twoProcesses(
  nodes: Nodes,
  cluster: boolean,
  prefix: string,
  from: number,
  to: number,
  strategy: string,
) {
  const base = { nodes, cluster, prefix, keys: 20, calls: 1200, concurrency: 16, from, to, strategy };
  const reports = await Promise.all([
    runWorker({ ...base, replaceAfter: 200 }),
    runWorker({ ...base, replaceAfter: 500 }),
  ]);
  for (const r of reports) expect(r.degraded, "no call failed").toBe(0);
  return perKeyTotals(reports);
}

function scenarios(nodes: () => Nodes, cluster: boolean) {
  it("raised from 10 to 30 (additive) mid-traffic by two processes: no key passes 30, and the raise took effect", async () => {
    const totals = await twoProcesses(nodes(), cluster, `raise${cluster ? "c" : "s"}:`, 10, 30, "additive");
    expect(totals.size).toBe(20);
    for (const [k, n] of totals) expect(n, `key ${k}`).toBeLessThanOrEqual(30);
    expect(Math.max(...totals.values()), "some key got more than the old 10").toBeGreaterThan(10);
  });

  it("lowered from 20 to 5 (as-is) mid-traffic: no key passes 20, and afterwards none has more than 5", async () => {
    const prefix = `lower${cluster ? "c" : "s"}:`;
    const totals = await twoProcesses(nodes(), cluster, prefix, 20, 5, "as-is");
    for (const [k, n] of totals) expect(n, `key ${k}`).toBeLessThanOrEqual(20);
    const first = nodes()[0] as { host: string; port: number };
    const client = cluster ? new Cluster(nodes()) : new Redis(first.port, first.host);
    try {
      const store = new RedisStore({ client, prefix, onFailure: "fail-closed", timeoutMs: 5000 });
      const bucket = (capacity: number) => tokenBucket({ name: "api", capacity, refillRate: 1e-4 });
      const limiter = new RateLimiter({ policy: live(bucket(20)), store });
      limiter.replacePolicy("api", bucket(5), { strategy: "as-is" });
      for (let i = 0; i < 20; i++) {
        const d = await limiter.peek(`k${i}`);
        expect(d.remaining, `k${i} after the replacement`).toBeLessThanOrEqual(5);
      }
    } finally {
      client.disconnect();
    }
  });
}

describe("Redis standalone", () => {
  let server: RedisServer;
  let client: Redis;
  beforeAll(async () => {
    server = await startRedis();
    client = new Redis(server.port, server.host);
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
  });

  scenarios(() => [{ host: server.host, port: server.port }], false);

  it("blocks: the exact wait, a TTL that covers the block, automatic blocks; every key has a TTL (SCAN audit)", async () => {
    let t = 1_020_000;
    const store = new RedisStore({ client, prefix: "blk:", onFailure: "fail-closed", timeoutMs: 5000 });
    const limiter = new RateLimiter({
      policy: live(fixedWindow({ name: "login", limit: 2, windowMs: 60_000 })),
      store,
      now: () => t,
      autoBlock: { refusals: 2, withinMs: 60_000, blockMs: 900_000 },
    });
    await limiter.block("mallory", 3_600_000);
    expect(await limiter.consume("mallory")).toMatchObject({
      allowed: false,
      retryAfterMs: 3_600_000,
      blockedMs: 3_600_000,
    });
    const blockKey = (await client.keys("blk:*mallory*!block*"))[0] as string;
    const ttl = await client.pttl(blockKey);
    expect(ttl, "the block key lives as long as the block (plus the clock grace)").toBeGreaterThan(3_600_000);
    expect(ttl).toBeLessThanOrEqual(3_601_000);

    expect((await limiter.consume("ann")).allowed).toBe(true);
    expect((await limiter.consume("ann")).allowed).toBe(true);
    expect(await limiter.consume("ann")).toMatchObject({ allowed: false, retryAfterMs: 60_000 });
    expect(await limiter.consume("ann")).toMatchObject({ allowed: false, retryAfterMs: 900_000, blockedMs: 900_000 });
    t += 100_000;
    expect(await limiter.consume("ann"), "still blocked in the next window").toMatchObject({ retryAfterMs: 800_000 });

    // A second limiter on the same store honours blocks set by the first (blocks: true).
    const other = new RateLimiter({ policy: limiter.policies, store, now: () => t, blocks: true });
    expect(await other.consume("ann")).toMatchObject({ allowed: false, blockedMs: 800_000 });
    await other.unblock("ann");
    expect((await limiter.consume("ann")).allowed, "unblocked").toBe(true);

    // Refusal counts and migrated states expire too.
    await limiter.consume("bob");
    await limiter.consume("bob");
    await limiter.consume("bob");
    limiter.replacePolicy("login", fixedWindow({ limit: 5, windowMs: 60_000 }), { strategy: "additive" });
    await limiter.consume("bob");
    await limiter.penalty("carol", 2);
    expect(await keysWithoutTtl(client), "keys without a TTL").toEqual([]);
  });

  it("penalty and reward decide as on the memory store", async () => {
    let t = 0;
    const policy = live(tokenBucket({ capacity: 10, refillRate: 1 }));
    const redis = new RateLimiter({
      policy,
      store: new RedisStore({ client, prefix: "pen:", timeoutMs: 5000 }),
      now: () => t,
    });
    const memory = new RateLimiter({ policy, now: () => t });
    const script: [number, (l: RateLimiter) => Promise<unknown>][] = [
      [0, (l) => l.penalty("k", 4)],
      [0, (l) => l.peek("k")],
      [500, (l) => l.penalty("k", 10)],
      [500, (l) => l.peek("k")],
      [1_500, (l) => l.reward("k", 3)],
      [1_500, (l) => l.peek("k")],
      [1_500, (l) => l.consume("k", 4)],
    ];
    for (const [i, [at, call]] of script.entries()) {
      t = at;
      const [a, b] = [await call(redis), await call(memory)];
      const pick = (d: unknown) =>
        d && typeof d === "object" ? { ...(d as object), policies: undefined, policy: undefined } : d;
      expect(pick(a), `step ${i + 1} at ${at}`).toEqual(pick(b));
    }
  });
});

describe("Redis Cluster", () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  scenarios(() => cluster.nodes, true);
});
