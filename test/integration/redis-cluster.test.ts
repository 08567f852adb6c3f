// redis-cluster.test.ts: RedisStore on a Redis Cluster: one script call per master per tick, slots that move under traffic, exactness.

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Cluster, Redis } from "ioredis";
import { createCluster } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Decision, fixedWindow, RateLimiter, tokenBucket } from "../../src/index.js";
import { hashSlot, ioredisAdapter, RedisStore } from "../../src/stores/redis/index.js";
import { NODE } from "../../src/stores/redis/scripts.generated.js";
import { type RedisCluster, startCluster } from "../helpers/redis-server.js";
import { fields, Reference } from "./redis-util.js";

const run = promisify(execFile);

let cluster: RedisCluster;
let admins: Redis[];
const closers: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  cluster = await startCluster(3);
  admins = cluster.nodes.map((n) => new Redis(n.port, n.host));
}, 60_000);

afterAll(async () => {
  for (const c of closers) await c();
  for (const a of admins ?? []) a.disconnect();
  await cluster?.stop();
});

/** scriptCalls returns each master's EVALSHA+EVAL count so far (INFO commandstats). */
async function scriptCalls(): Promise<number[]> {
  return Promise.all(
    admins.map(async (a) => {
      let n = 0;
      for (const m of (await a.info("commandstats")).matchAll(/cmdstat_(evalsha|eval|fcall):calls=(\d+)/g))
        n += Number(m[2]);
      return n;
    }),
  );
}

/** redirects returns the MOVED, ASK and script (non-local key) error counts of every master together (INFO errorstats). */
async function redirects(): Promise<{ moved: number; ask: number; err: number }> {
  const t = { moved: 0, ask: 0, err: 0 };
  for (const a of admins) {
    const s = await a.info("errorstats");
    t.moved += Number(/errorstat_MOVED:count=(\d+)/.exec(s)?.[1] ?? 0);
    t.ask += Number(/errorstat_ASK:count=(\d+)/.exec(s)?.[1] ?? 0);
    t.err += Number(/errorstat_ERR:count=(\d+)/.exec(s)?.[1] ?? 0);
  }
  return t;
}

/** nodeId returns a node's Cluster id. */
async function nodeId(i: number): Promise<string> {
  return String(await (admins[i] as Redis).cluster("MYID"));
}

/** ownerOf returns the index of the master serving `slot`, asked of the Cluster itself. */
async function ownerOf(slot: number): Promise<number> {
  const slots = (await (admins[0] as Redis).cluster("SLOTS")) as unknown as [number, number, [string, number]][];
  const port = slots.find(([from, to]) => slot >= from && slot <= to)?.[2][1];
  return cluster.nodes.findIndex((n) => n.port === port);
}

/** moveSlot moves one slot and its keys from master `from` to master `to`, as redis-cli --cluster reshard does. */
async function moveSlot(slot: number, from: number, to: number): Promise<void> {
  const src = admins[from] as Redis;
  const dst = admins[to] as Redis;
  const [fromId, toId] = await Promise.all([nodeId(from), nodeId(to)]);
  await dst.cluster("SETSLOT", slot, "IMPORTING", fromId);
  await src.cluster("SETSLOT", slot, "MIGRATING", toId);
  for (;;) {
    const keys = (await src.cluster("GETKEYSINSLOT", slot, 100)) as string[];
    if (keys.length === 0) break;
    const d = cluster.nodes[to] as { host: string; port: number };
    await src.migrate(d.host, d.port, "", 0, 5000, "KEYS", ...keys);
  }
  for (const a of admins) await a.cluster("SETSLOT", slot, "NODE", toId);
}

describe("node batches: the calls of one tick go to each master in one script call", () => {
  it("300 keys in one tick: a handful of script calls, not one per slot; the same decisions as per-slot batches", async () => {
    const io = new Cluster(cluster.nodes);
    const ioSlots = new Cluster(cluster.nodes);
    const nr = createCluster({ rootNodes: cluster.nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })) });
    await nr.connect();
    closers.push(
      () => io.disconnect(),
      () => ioSlots.disconnect(),
      () => nr.close(),
    );
    await Promise.all([io.ping(), ioSlots.ping()]);
    const policy = tokenBucket({ capacity: 3, refillRate: 1e-4 });
    // The same adapter without nodeOf: calls group per slot, as before node batches.
    const { nodeOf: _hidden, ...perSlot } = ioredisAdapter(ioSlots);
    const rows: [string, RedisStore, number][] = [
      ["ioredis Cluster", new RedisStore({ client: io, prefix: "nb1:" }), 12],
      ["node-redis cluster", new RedisStore({ client: nr, prefix: "nb2:" }), 12],
      ["ioredis Cluster, per-slot (no nodeOf)", new RedisStore({ adapter: perSlot, prefix: "nb3:" }), 250],
    ];
    const keys = Array.from({ length: 300 }, (_, i) => `user:${i}`);
    const slots = new Set(keys.map((k) => hashSlot(k)));
    expect(slots.size, "the keys lie in many slots").toBeGreaterThan(250);
    const answers: boolean[][] = [];
    for (const [name, store, most] of rows) {
      const limiter = new RateLimiter({ policy, store });
      const before = await scriptCalls();
      // Four rounds of one tick each: 3 admitted per key, then a denial.
      const got: boolean[] = [];
      for (let round = 0; round < 4; round++) {
        const ds: Decision[] = await Promise.all(keys.map((k) => limiter.consume(k)));
        got.push(...ds.map((d) => d.allowed));
        expect(
          ds.map((d) => d.remaining),
          `${name}: round ${round} remaining`,
        ).toEqual(keys.map(() => Math.max(0, 2 - round)));
        expect(
          ds.every((d) => !d.degraded),
          `${name}: round ${round} not degraded`,
        ).toBe(true);
      }
      const after = await scriptCalls();
      const calls = after.map((a, i) => a - (before[i] as number));
      const total = calls.reduce((a, b) => a + b, 0);
      // One tick of 300 calls: per master at most maxBatch (100) per call, a large batch split
      // into at most 4 while fewer than 4 are in flight; per slot it is one call per slot.
      if (name.includes("per-slot")) expect(total, `${name}: script calls ${calls}`).toBeGreaterThanOrEqual(most * 4);
      else expect(total, `${name}: script calls per round, per master ${calls}`).toBeLessThanOrEqual(most * 4);
      answers.push(got);
    }
    expect(answers[1], "node-redis decides as ioredis").toEqual(answers[0]);
    expect(answers[2], "per-slot batches decide as node batches").toEqual(answers[0]);
  });

  // Regression: node.lua's local for redis.call was named get, shadowing state.lua's get, so a node
  // batch of a consume of several policies failed ("command arguments must be strings").
  it("a consume of two policies, 60 keys in one tick: node batches decide as the pure core", async () => {
    const io = new Cluster(cluster.nodes);
    closers.push(() => io.disconnect());
    await io.ping();
    const policies = [
      tokenBucket({ name: "burst", capacity: 3, refillRate: 1e-4 }),
      fixedWindow({ name: "window", limit: 5, windowMs: 60_000 }),
    ];
    const store = new RedisStore({ client: io, prefix: "nb-multi:", denyCache: false });
    const keys = Array.from({ length: 60 }, (_, i) => `user:${i}`);
    const ref = new Reference(policies);
    let t = 1_700_000_000_000;
    const before = await scriptCalls();
    for (let round = 0; round < 4; round++) {
      t += 10;
      const ds = await Promise.all(keys.map((k) => store.consume(k, policies, 1, t)));
      keys.forEach((k, i) => {
        expect(fields(ds[i] as Decision), `round ${round} consume(${k}) at ${t}`).toEqual(fields(ref.consume(k, t, 1)));
      });
    }
    const calls = (await scriptCalls()).map((a, i) => a - (before[i] as number));
    expect(
      calls.reduce((a, b) => a + b, 0),
      `script calls per master ${calls}: node batches, not one per slot`,
    ).toBeLessThan(4 * 20);
  });

  it("a slot moved behind the client's back: the node batch is refused before it writes, sent again per slot, exact", async () => {
    const io = new Cluster(cluster.nodes);
    closers.push(() => io.disconnect());
    await io.ping();
    const store = new RedisStore({ client: io, prefix: "mv:" });
    const policy = tokenBucket({ capacity: 3, refillRate: 1e-4 });
    const limiter = new RateLimiter({ policy, store });
    // Keys on master 0 in several slots; the first key's slot moves to master 1.
    const keys: string[] = [];
    for (let i = 0; keys.length < 40; i++) if ((await ownerOf(hashSlot(`m${i}`))) === 0) keys.push(`m${i}`);
    const first = await Promise.all(keys.map((k) => limiter.consume(k)));
    expect(first.map((d) => d.remaining)).toEqual(keys.map(() => 2));
    const moved = hashSlot(keys[5] as string);
    const before = await redirects();
    await moveSlot(moved, 0, 1);
    // ioredis still sends slot `moved` to master 0: the node batch reads keys[5] there, which
    // master 0 no longer serves; it fails before any write and goes again one slot per call.
    const second = await Promise.all(keys.map((k) => limiter.consume(k)));
    const after = await redirects();
    expect(
      second.map((d) => [d.allowed, d.remaining, d.degraded ?? false]),
      "each key: its second token, nothing lost or taken twice",
    ).toEqual(keys.map(() => [true, 1, false]));
    expect(after.err - before.err, "master 0 refused the node batch (non local key)").toBeGreaterThanOrEqual(1);
    expect(after.moved - before.moved, "the per-slot retry was redirected (MOVED)").toBeGreaterThanOrEqual(1);
    const third = await Promise.all(keys.map((k) => limiter.consume(k)));
    expect(third.map((d) => d.remaining)).toEqual(keys.map(() => 0));
    expect(await (admins[1] as Redis).exists(store.keyOf(keys[5] as string, policy))).toBe(1);
  });
});

describe("a server that refuses node.lua (before Redis 7: no script flags)", () => {
  it("the refused node batch goes again per slot, and node batches stop for good; decisions exact", async () => {
    const io = new Cluster(cluster.nodes);
    closers.push(() => io.disconnect());
    await io.ping();
    const real = ioredisAdapter(io);
    let refused = 0;
    // Redis 6's reply to a script that starts with a shebang.
    const refuse = (): Promise<never> => {
      refused++;
      return Promise.reject(
        new Error("ERR Error compiling script (new function): user_script:1: unexpected symbol near '#'"),
      );
    };
    const adapter = {
      ...real,
      evalsha: (sha1: string, keys: readonly string[], args: readonly string[]) =>
        sha1 === NODE.sha1 ? refuse() : real.evalsha(sha1, keys, args),
      eval: (source: string, keys: readonly string[], args: readonly string[]) =>
        source === NODE.source ? refuse() : real.eval(source, keys, args),
    };
    const limiter = new RateLimiter({
      policy: tokenBucket({ capacity: 2, refillRate: 1e-4 }),
      store: new RedisStore({ adapter, prefix: "old:" }),
    });
    const keys = Array.from({ length: 60 }, (_, i) => `o${i}`);
    const first = await Promise.all(keys.map((k) => limiter.consume(k)));
    expect(first.map((d) => [d.remaining, d.degraded ?? false])).toEqual(keys.map(() => [1, false]));
    const refusedFirst = refused;
    expect(refusedFirst, "the first tick tried node.lua").toBeGreaterThanOrEqual(1);
    const second = await Promise.all(keys.map((k) => limiter.consume(k)));
    expect(second.map((d) => [d.remaining, d.degraded ?? false])).toEqual(keys.map(() => [0, false]));
    expect(refused, "no node.lua after the refusal").toBe(refusedFirst);
  });
});

describe("resharding under traffic", () => {
  it("slots move between masters (redis-cli --cluster reshard) while batches are in flight: admitted totals equal the limit", async () => {
    const KEYS = 1500;
    const CAPACITY = 40;
    const io = new Cluster(cluster.nodes);
    const nr = createCluster({ rootNodes: cluster.nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })) });
    await nr.connect();
    closers.push(
      () => io.disconnect(),
      () => nr.close(),
    );
    await io.ping();
    const policy = tokenBucket({ capacity: CAPACITY, refillRate: 1e-4 });
    // Two stores (two clients, as two processes would be); fail-closed: a failure never admits.
    // No deny cache: every call goes to Redis.
    const options = { prefix: "rs:", onFailure: "fail-closed", timeoutMs: 10_000, denyCache: false } as const;
    const limiters = [
      new RateLimiter({ policy, store: new RedisStore({ client: io, ...options }) }),
      new RateLimiter({ policy, store: new RedisStore({ client: nr, ...options }) }),
    ];
    const admitted = new Map<string, number>();
    let degraded = 0;
    let calls = 0;
    const consume = async (limiter: RateLimiter, key: string): Promise<void> => {
      const d = await limiter.consume(key);
      calls++;
      if (d.degraded) degraded++;
      if (d.allowed) admitted.set(key, (admitted.get(key) ?? 0) + 1);
    };
    let moving = true;
    let cursor = 0;
    const traffic = limiters.flatMap((limiter) =>
      Array.from({ length: 100 }, async () => {
        while (moving) await consume(limiter, `k${cursor++ % KEYS}`);
      }),
    );
    const before = await redirects();
    // Move 3000 slots from master 0 to 1, then 3000 from 1 to 2, under traffic.
    const ids = await Promise.all([0, 1, 2].map(nodeId));
    const node = (i: number): string => `${cluster.nodes[i]?.host}:${cluster.nodes[i]?.port}`;
    const callsAtStart = calls;
    for (const [from, to] of [
      [0, 1],
      [1, 2],
    ] as const) {
      await run("redis-cli", [
        "--cluster",
        "reshard",
        node(from),
        "--cluster-from",
        ids[from] as string,
        "--cluster-to",
        ids[to] as string,
        "--cluster-slots",
        "3000",
        "--cluster-yes",
      ]);
    }
    moving = false;
    await Promise.all(traffic);
    const during = calls - callsAtStart;
    const after = await redirects();
    // Then every key is driven to its limit and one past it, split over both stores.
    await Promise.all(
      Array.from({ length: KEYS }, async (_, i) => {
        const key = `k${i}`;
        for (let j = admitted.get(key) ?? 0; j <= CAPACITY; j++) await consume(limiters[j % 2] as RateLimiter, key);
      }),
    );
    const wrong = [...Array(KEYS).keys()]
      .map((i) => [`k${i}`, admitted.get(`k${i}`) ?? 0] as const)
      .filter(([, n]) => n !== CAPACITY);
    expect(wrong, `keys whose admitted total is not ${CAPACITY}`).toEqual([]);
    expect(degraded, "degraded decisions").toBe(0);
    expect(during, "calls decided while slots moved").toBeGreaterThan(1000);
    expect(
      after.moved + after.ask + after.err - before.moved - before.ask - before.err,
      `redirections and refused node batches while slots moved ${JSON.stringify({ before, after })}`,
    ).toBeGreaterThan(0);
  }, 240_000);
});
