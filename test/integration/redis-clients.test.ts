// redis-clients.test.ts: the same decisions through every client adapter: ioredis and node-redis, standalone and Cluster.

import { Cluster, Redis } from "ioredis";
import { createClient, createCluster } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Decision,
  fixedWindow,
  gcra,
  leakyBucket,
  type Policy,
  RateLimiter,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from "../../src/index.js";
import { RedisStore } from "../../src/stores/redis/index.js";
import { SCRIPTS } from "../../src/stores/redis/protocol.js";
import { type RedisCluster, type RedisServer, startCluster, startRedis } from "../helpers/redis-server.js";
import { fields, Reference } from "./redis-util.js";

let server: RedisServer;
let cluster: RedisCluster;
const closers: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  [server, cluster] = await Promise.all([startRedis(), startCluster()]);
}, 60_000);

afterAll(async () => {
  for (const c of closers) await c();
  await Promise.all([server?.stop(), cluster?.stop()]);
});

/** clients builds one client of each kind. */
async function clients(): Promise<[string, unknown][]> {
  const io = new Redis(server.port, server.host);
  const ioCluster = new Cluster(cluster.nodes);
  const nr = createClient({ url: server.url });
  await nr.connect();
  const nrCluster = createCluster({ rootNodes: cluster.nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })) });
  await nrCluster.connect();
  closers.push(
    () => io.disconnect(),
    () => ioCluster.disconnect(),
    () => nr.close(),
    () => nrCluster.close(),
  );
  return [
    ["ioredis", io],
    ["ioredis Cluster", ioCluster],
    ["node-redis", nr],
    ["node-redis cluster", nrCluster],
  ];
}

const composite: Policy[] = [
  tokenBucket({ name: "burst", capacity: 4, refillRate: 10 / 13 }),
  gcra({ name: "g", limit: 5, periodMs: 1000 }),
  leakyBucket({ name: "lb", capacity: 6, leakRate: 3 }),
  fixedWindow({ name: "fw", limit: 7, windowMs: 1000 }),
  slidingWindow({ name: "sw", limit: 8, windowMs: 1000 }),
  slidingLog({ name: "sl", limit: 6, windowMs: 1000 }),
];

// Keys that could break hash tags or collide if escaped wrongly.
const keys = ["user:42", "{", "}", "}{", "", "%7B", "__proto__", "a\nb", "x".repeat(5000)];

describe("every adapter gives the pure core's decisions", () => {
  it("six policies all-or-nothing, awkward keys, concurrent calls in one tick", async () => {
    for (const [name, client] of await clients()) {
      let t = 1_700_000_000_000;
      const store = new RedisStore({
        client,
        prefix: `cl:${name.replace(/\W/g, "")}:`,
        denyCache: false,
        timeoutMs: 5000,
      });
      const limiter = new RateLimiter({ policy: composite, store, now: () => t });
      const ref = new Reference(composite);
      for (let round = 0; round < 12; round++) {
        t += round % 3 === 0 ? 250 : 0;
        // All keys in one tick: one batch (standalone) or one script call per slot (Cluster).
        const got = await Promise.all(keys.map((k) => limiter.consume(k, round % 4 === 3 ? 2 : 1)));
        keys.forEach((k, i) => {
          const want = ref.consume(k, t, round % 4 === 3 ? 2 : 1);
          expect(
            fields(got[i] as Decision),
            `${name} round ${round} consume(${JSON.stringify(k.slice(0, 12))}) at ${t}`,
          ).toEqual(fields(want));
        });
      }
      const d = await limiter.consume("user:42");
      expect(d.degraded, `${name}: no call degraded`).toBeUndefined();
    }
  });

  it("Cluster: a master with maxmemory-policy allkeys-lru is found and named (every master is asked)", async () => {
    const admin = cluster.nodes.map((n) => new Redis(n.port, n.host));
    const evicting = cluster.nodes[1] as { host: string; port: number };
    try {
      await admin[1]?.config("SET", "maxmemory-policy", "allkeys-lru");
      for (const [name, client] of (await clients()).filter(([n]) => n.includes("luster"))) {
        const store = new RedisStore({ client, prefix: `ev:${name.replace(/\W/g, "")}:`, timeoutMs: 5000 });
        const warnings: string[] = [];
        store.on("warning", (w) => warnings.push(`${w.code} ${w.message}`));
        await store.consume("k", [tokenBucket({ capacity: 3, refillRate: 1 })], 1, undefined);
        for (let i = 0; i < 200 && warnings.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
        expect(warnings.length, `${name}: warnings`).toBe(1);
        expect(warnings[0], `${name}: the warning`).toMatch(
          new RegExp(`^FG_REDIS_EVICTION .*allkeys-lru on ${evicting.host.replace(/\./g, "\\.")}:${evicting.port}: `),
        );
        for (const other of [cluster.nodes[0], cluster.nodes[2]]) {
          expect(warnings[0], `${name}: names only the evicting master`).not.toContain(`:${other?.port}`);
        }
      }
    } finally {
      await admin[1]?.config("SET", "maxmemory-policy", "noeviction");
      for (const a of admin) a.disconnect();
    }
  });

  it("Cluster: SCRIPT FLUSH on every master, then calls still succeed (NOSCRIPT, EVAL once)", async () => {
    const admin = cluster.nodes.map((n) => new Redis(n.port, n.host));
    try {
      for (const [name, client] of (await clients()).filter(([n]) => n.includes("luster"))) {
        // functions: false keeps the calls on EVALSHA, so SCRIPT FLUSH brings NOSCRIPT (FUNCTION FLUSH and
        // "Function not found": redis-functions.test.ts).
        const store = new RedisStore({
          client,
          prefix: `fl:${name.replace(/\W/g, "")}:`,
          timeoutMs: 5000,
          functions: false,
        });
        const errors: unknown[] = [];
        store.on("error", (e) => errors.push(e.error));
        // 0.01/s: no token comes back between the calls before and after the flush however slow the reload is on a
        // loaded machine (at 1/s, a second between them made remaining 2).
        const policy = tokenBucket({ capacity: 3, refillRate: 0.01 });
        await Promise.all(keys.map((k) => store.consume(k, [policy], 1, undefined)));
        await Promise.all(admin.map((a) => a.script("FLUSH")));
        const ds = await Promise.all(keys.map((k) => store.consume(k, [policy], 1, undefined)));
        expect(
          { remaining: ds.map((d) => d.remaining), degraded: ds.filter((d) => d.degraded).length, errors },
          `${name} after SCRIPT FLUSH`,
        ).toEqual({ remaining: keys.map(() => 1), degraded: 0, errors: [] });
        // The first NOSCRIPT loaded every script on every master (the adapter's scriptLoad).
        const loaded = await Promise.all(admin.map((a) => a.script("EXISTS", ...SCRIPTS.map((x) => x.sha1))));
        expect(loaded, `${name}: SCRIPT EXISTS of every script on each master`).toEqual(
          admin.map(() => SCRIPTS.map(() => 1)),
        );
      }
    } finally {
      for (const a of admin) a.disconnect();
    }
  });
});
