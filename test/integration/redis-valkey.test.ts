// redis-valkey.test.ts: the Valkey clients (iovalkey, valkey-glide), standalone and Cluster, give the pure core's decisions.
//
// They speak the same protocol as Redis, so they run against the same throwaway redis-server processes as the other
// clients (test/helpers/redis-server.ts). Each client is passed as `client` (toAdapter recognises it) and checked
// against the pure core, through a SCRIPT FLUSH, and through INFO (the eviction warning).

import { GlideClient, GlideClusterClient, Logger } from "@valkey/valkey-glide";
import { Redis as AdminRedis } from "ioredis";
import { Cluster, Redis, Valkey } from "iovalkey";
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
import { glideAdapter, iovalkeyAdapter, RedisStore, toAdapter } from "../../src/stores/redis/index.js";
import { SCRIPTS } from "../../src/stores/redis/protocol.js";
import { LIBRARY } from "../../src/stores/redis/scripts.generated.js";
import { type RedisCluster, type RedisServer, startCluster, startRedis } from "../helpers/redis-server.js";
import { fields, Reference } from "./redis-util.js";

let server: RedisServer;
let cluster: RedisCluster;
const closers: (() => Promise<unknown> | unknown)[] = [];

// valkey-glide's Rust core logs every server error (a NOSCRIPT included) as a warning on stdout.
Logger.setLoggerConfig("off");

beforeAll(async () => {
  [server, cluster] = await Promise.all([startRedis(), startCluster()]);
}, 60_000);

afterAll(async () => {
  for (const c of closers) await c();
  await Promise.all([server?.stop(), cluster?.stop()]);
});

/** clients builds one client of each kind, standalone and Cluster. */
async function clients(): Promise<[string, unknown][]> {
  const valkey = new Valkey(server.port, server.host);
  const valkeyCluster = new Cluster(cluster.nodes);
  const glide = await GlideClient.createClient({
    addresses: [{ host: server.host, port: server.port }],
    requestTimeout: 5000,
  });
  const glideCluster = await GlideClusterClient.createClient({
    addresses: cluster.nodes.map((n) => ({ host: n.host, port: n.port })),
    requestTimeout: 5000,
  });
  closers.push(
    () => valkey.disconnect(),
    () => valkeyCluster.disconnect(),
    () => glide.close(),
    () => glideCluster.close(),
  );
  return [
    ["iovalkey", valkey],
    ["iovalkey Cluster", valkeyCluster],
    ["valkey-glide", glide],
    ["valkey-glide cluster", glideCluster],
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

describe("Valkey clients give the pure core's decisions", () => {
  it("toAdapter recognises each client: iovalkey as ioredis, valkey-glide standalone and cluster", async () => {
    const all = await clients();
    expect(all.map(([name, c]) => [name, toAdapter(c).cluster])).toEqual([
      ["iovalkey", false],
      ["iovalkey Cluster", true],
      ["valkey-glide", false],
      ["valkey-glide cluster", true],
    ]);
    expect(iovalkeyAdapter(new Redis({ lazyConnect: true })).cluster).toBe(false);
    expect(() => toAdapter({ customCommand: () => undefined })).toThrow(
      /valkey-glide GlideClient or GlideClusterClient/,
    );
  });

  it("six policies all-or-nothing, awkward keys, concurrent calls in one tick", async () => {
    for (const [name, client] of await clients()) {
      let t = 1_700_000_000_000;
      const store = new RedisStore({
        client,
        prefix: `vk:${name.replace(/\W/g, "")}:`,
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
      // The server's clock (no injected now): the script reads TIME. 0.01/s: the three calls get no refill between
      // them however slow the round trips on a loaded machine (at 1/s, a second across them admitted the third).
      const live = new RateLimiter({ policy: tokenBucket({ capacity: 2, refillRate: 0.01 }), store });
      const seen = [await live.consume("clock"), await live.consume("clock"), await live.consume("clock")];
      expect(
        seen.map((d) => [d.allowed, d.remaining, d.degraded]),
        `${name}: the server's clock`,
      ).toEqual([
        [true, 1, undefined],
        [true, 0, undefined],
        [false, 0, undefined],
      ]);
    }
  });

  // Regression (issue 12, valkey-glide): glide words a missing script "NoScriptError: No matching script", which
  // the store did not read as NOSCRIPT, so every call after a SCRIPT FLUSH failed (degraded) instead of reloading.
  it("standalone: SCRIPT FLUSH, then calls still succeed (glide's NoScriptError read as NOSCRIPT)", async () => {
    const admin = new AdminRedis(server.port, server.host);
    try {
      for (const [name, client] of (await clients()).filter(([n]) => !n.includes("luster"))) {
        // functions: false, so calls go by EVALSHA and SCRIPT FLUSH makes the server answer NOSCRIPT.
        const store = new RedisStore({
          client,
          prefix: `sf:${name.replace(/\W/g, "")}:`,
          timeoutMs: 5000,
          functions: false,
        });
        const errors: unknown[] = [];
        store.on("error", (e) => errors.push(e.error));
        // 0.01/s: no token comes back between the calls before and after the flush however slow the reload is on a
        // loaded machine (at 1/s, a second between them made remaining 2).
        const policy = tokenBucket({ capacity: 3, refillRate: 0.01 });
        await store.consume("k", [policy], 1, undefined);
        await admin.script("FLUSH");
        const d = await store.consume("k", [policy], 1, undefined);
        expect({ remaining: d.remaining, degraded: d.degraded, errors }, `${name} after SCRIPT FLUSH`).toEqual({
          remaining: 1,
          degraded: undefined,
          errors: [],
        });
      }
    } finally {
      admin.disconnect();
    }
  });

  it("glideAdapter: an error other than NOSCRIPT passes unchanged; NoScriptError becomes NOSCRIPT", async () => {
    const failing = (message: string) => ({ customCommand: () => Promise.reject(new Error(message)) });
    const rows: [string, RegExp][] = [
      ["An error was signalled by the server: - NoScriptError: No matching script.", /^NOSCRIPT An error was/],
      ["NOSCRIPT No matching script", /^NOSCRIPT No matching script$/],
      ["Connection refused", /^Connection refused$/],
    ];
    for (const [message, want] of rows) {
      await expect(glideAdapter(failing(message)).evalsha("0".repeat(40), ["k"], []), message).rejects.toThrow(want);
    }
  });

  it("Cluster: SCRIPT and FUNCTION FLUSH on every master, then calls still succeed; scripts and library loaded on every master", async () => {
    const admin = cluster.nodes.map((n) => new AdminRedis(n.port, n.host));
    try {
      for (const [name, client] of (await clients()).filter(([n]) => n.includes("luster"))) {
        const store = new RedisStore({ client, prefix: `fl:${name.replace(/\W/g, "")}:`, timeoutMs: 5000 });
        const errors: unknown[] = [];
        store.on("error", (e) => errors.push(e.error));
        // 0.01/s: no token comes back between the calls before and after the flush however slow the reload is on a
        // loaded machine (at 1/s, a second between them made remaining 2).
        const policy = tokenBucket({ capacity: 3, refillRate: 0.01 });
        await Promise.all(keys.map((k) => store.consume(k, [policy], 1, undefined)));
        // Both caches: the store calls its functions once loaded ("Function not found" then reloads both).
        await Promise.all(admin.map((a) => Promise.all([a.script("FLUSH"), a.call("FUNCTION", "FLUSH")])));
        const ds = await Promise.all(keys.map((k) => store.consume(k, [policy], 1, undefined)));
        expect(
          { remaining: ds.map((d) => d.remaining), degraded: ds.filter((d) => d.degraded).length, errors },
          `${name} after SCRIPT and FUNCTION FLUSH`,
        ).toEqual({ remaining: keys.map(() => 1), degraded: 0, errors: [] });
        // The store loads every script in the background (its retries run by source), so the loads may still be on
        // their way when the calls are answered: wait up to 3 s for them (this failed about 1 run in 3 without).
        const want = JSON.stringify(admin.map(() => [...SCRIPTS.map(() => 1), 1]));
        let loaded: unknown[] = [];
        for (let i = 0; i < 300; i++) {
          loaded = await Promise.all(
            admin.map(async (a) => [
              ...((await a.script("EXISTS", ...SCRIPTS.map((x) => x.sha1))) as number[]),
              ((await a.call("FUNCTION", "LIST", "LIBRARYNAME", LIBRARY.name)) as unknown[]).length,
            ]),
          );
          if (JSON.stringify(loaded) === want) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        expect(loaded, `${name}: SCRIPT EXISTS of every script, then the library, on each master`).toEqual(
          admin.map(() => [...SCRIPTS.map(() => 1), 1]),
        );
      }
    } finally {
      for (const a of admin) a.disconnect();
    }
  });

  it("Cluster: a master with maxmemory-policy allkeys-lru is found and named (info asks every master)", async () => {
    const admin = cluster.nodes.map((n) => new AdminRedis(n.port, n.host));
    const evicting = cluster.nodes[2] as { host: string; port: number };
    try {
      await admin[2]?.config("SET", "maxmemory-policy", "allkeys-lru");
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
        for (const other of [cluster.nodes[0], cluster.nodes[1]]) {
          expect(warnings[0], `${name}: names only the evicting master`).not.toContain(`:${other?.port}`);
        }
      }
    } finally {
      await admin[2]?.config("SET", "maxmemory-policy", "noeviction");
      for (const a of admin) a.disconnect();
    }
  });
});
