// redis-functions.test.ts: Redis 7+ functions: the library loaded at start (every master), FCALL, "Function not found" and the EVALSHA fallback, on real servers.

import { Cluster, Redis } from "ioredis";
import { createClient, createCluster } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Decision,
  fixedWindow,
  gcra,
  MemoryStore,
  type Policy,
  RateLimiter,
  tokenBucket,
} from "../../src/index.js";
import { RedisStore } from "../../src/stores/redis/index.js";
import { LIBRARY } from "../../src/stores/redis/scripts.generated.js";
import { type RedisCluster, type RedisServer, startCluster, startRedis } from "../helpers/redis-server.js";

let server: RedisServer;
let noFunction: RedisServer;
let cluster: RedisCluster;
let admin: Redis;
let clusterAdmins: Redis[];
const closers: (() => unknown)[] = [];

beforeAll(async () => {
  [server, noFunction, cluster] = await Promise.all([
    startRedis(),
    // As a managed service that blocks FUNCTION: the command does not exist.
    startRedis({ args: ["--rename-command", "FUNCTION", ""] }),
    startCluster(3),
  ]);
  admin = new Redis(server.port, server.host);
  clusterAdmins = cluster.nodes.map((n) => new Redis(n.port, n.host));
}, 60_000);

afterAll(async () => {
  for (const c of closers) await c();
  admin?.disconnect();
  for (const a of clusterAdmins ?? []) a.disconnect();
  await Promise.all([server?.stop(), noFunction?.stop(), cluster?.stop()]);
});

/** counts returns a server's FCALL and EVALSHA+EVAL call counts so far (INFO commandstats). */
async function counts(r: Redis): Promise<{ fcall: number; evalsha: number }> {
  const s = await r.info("commandstats");
  const n = (cmd: string): number => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(s)?.[1] ?? 0);
  return { fcall: n("fcall"), evalsha: n("evalsha") + n("eval") };
}

/** hasLibrary is true when the server holds this floodgate's function library. */
async function hasLibrary(r: Redis): Promise<boolean> {
  const list = (await r.call("FUNCTION", "LIST", "LIBRARYNAME", LIBRARY.name)) as unknown[];
  return list.length > 0;
}

const policy: Policy[] = [tokenBucket({ capacity: 10, refillRate: 1e-4 })];

/** reference decides `calls` on a memory store, for comparison (fields that do not depend on the clock). */
async function expected(keys: readonly string[]): Promise<unknown[]> {
  const m = new MemoryStore();
  const out: unknown[] = [];
  for (const k of keys) out.push(view(await m.consume(k, policy, 1, 0)));
  return out;
}
const view = (d: Decision | undefined): unknown => [d?.allowed, d?.remaining, d?.degraded];

/** keysOf returns n keys in one tick's order: a few repeated, so one batch holds a key twice. */
const keysOf = (tag: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${tag}${i % 7}`);

describe("standalone Redis 7: the store calls its functions", () => {
  for (const kind of ["ioredis", "node-redis"] as const) {
    it(`${kind}: the library is loaded at start; lone and batched calls go by FCALL with the same decisions`, async () => {
      await admin.call("FUNCTION", "FLUSH");
      let client: unknown;
      if (kind === "ioredis") {
        const io = new Redis(server.port, server.host);
        closers.push(() => io.disconnect());
        client = io;
      } else {
        const nr = createClient({ url: server.url });
        await nr.connect();
        closers.push(() => nr.destroy());
        client = nr;
      }
      const store = new RedisStore({ client, prefix: `fn-${kind}:`, timeoutMs: 5000 });
      // The first call may go by EVALSHA (the load is in flight); the library is there after it.
      const first = await store.consume("warm", policy, 1, undefined);
      expect(first.allowed).toBe(true);
      expect(await hasLibrary(admin), "FUNCTION LIST shows the library").toBe(true);
      const before = await counts(admin);
      const lone = [];
      for (const k of ["a", "b", "a"]) lone.push(view(await store.consume(k, policy, 1, undefined)));
      const keys = keysOf("t", 40);
      const batch = (await Promise.all(keys.map((k) => store.consume(k, policy, 1, undefined)))).map(view);
      const after = await counts(admin);
      expect({ lone, batch }).toEqual({ lone: await expected(["a", "b", "a"]), batch: await expected(keys) });
      expect(after.evalsha - before.evalsha, "no EVALSHA once loaded").toBe(0);
      expect(after.fcall - before.fcall, "3 lone calls and at least one batch by FCALL").toBeGreaterThanOrEqual(4);
    });
  }

  it("each key's TTL is its resetAfterMs (PSETEX with the TTL as text), lone and batched, by FCALL and by EVALSHA", async () => {
    const kinds: Policy[][] = [policy, [gcra({ limit: 1, periodMs: 60_000, burst: 100 })]];
    for (const [where, srv] of [
      ["FCALL", server],
      ["EVALSHA (no FUNCTION)", noFunction],
    ] as const) {
      const io = new Redis(srv.port, srv.host);
      closers.push(() => io.disconnect());
      const store = new RedisStore({ client: io, prefix: `ttl-${srv.port}:`, timeoutMs: 5000, denyCache: false });
      await store.consume("warm", policy, 1, undefined);
      await new Promise((r) => setImmediate(r));
      for (const p of kinds) {
        const t0 = Date.now();
        // A lone call, then a batch of 8 keys (one key twice) in one tick.
        const lone = await store.consume("lone", p, 2, undefined);
        const keys = ["b0", "b1", "b2", "b3", "b0", "b4", "b5", "b6"];
        const batch = await Promise.all(keys.map((k) => store.consume(k, p, 1, undefined)));
        const decided: [string, Decision][] = [
          ["lone", lone],
          ...keys.map((k, i) => [k, batch[i]] as [string, Decision]),
        ];
        const last = new Map(decided);
        const ttls = await Promise.all([...last.keys()].map((k) => io.pttl(store.keyOf(k, p[0] as Policy))));
        const elapsed = Date.now() - t0;
        [...last].forEach(([k, d], i) => {
          const ttl = ttls[i] as number;
          expect(
            d.allowed && ttl <= d.resetAfterMs && ttl >= d.resetAfterMs - elapsed - 2,
            `${where} ${p[0]?.algorithm.code} ${k}: PTTL ${ttl}, resetAfterMs ${d.resetAfterMs}, ${elapsed} ms elapsed`,
          ).toBe(true);
        });
      }
    }
  });

  it("a lone call admitted comes packed in one integer when it fits, else as the table: both read right, by FCALL and by EVALSHA", async () => {
    // A limit of 10^12 packs with base 2^40, leaving resetAfterMs below 2^13 = 8,192 ms: a window's
    // reset of up to 60 s comes as the table. A limit of 10 packs with base 16: always one integer.
    for (const [where, srv] of [
      ["FCALL", server],
      ["EVALSHA (no FUNCTION)", noFunction],
    ] as const) {
      const io = new Redis(srv.port, srv.host);
      closers.push(() => io.disconnect());
      const store = new RedisStore({ client: io, prefix: `pack-${srv.port}:`, timeoutMs: 5000 });
      await store.consume("warm", policy, 1, undefined);
      await new Promise((r) => setImmediate(r));
      for (const limit of [1e12, 10]) {
        const p = [fixedWindow({ limit, windowMs: 60_000 })];
        for (let i = 1; i <= 3; i++) {
          const t0 = Date.now();
          const d = await store.consume("k", p, 2, undefined);
          const ttl = await io.pttl(store.keyOf("k", p[0] as Policy));
          const elapsed = Date.now() - t0;
          const call = `${where}: limit ${limit}, call ${i}: ${JSON.stringify(d)}, PTTL ${ttl}`;
          expect([d.allowed, d.remaining, d.retryAfterMs], call).toEqual([true, limit - 2 * i, 0]);
          expect(ttl <= d.resetAfterMs && ttl >= d.resetAfterMs - elapsed - 2, call).toBe(true);
        }
      }
    }
  });

  it("a store made where the library is already loaded: FUNCTION LOAD without REPLACE ('already exists', nothing compiled again), then FCALL", async () => {
    const first = new Redis(server.port, server.host);
    const second = new Redis(server.port, server.host);
    closers.push(
      () => first.disconnect(),
      () => second.disconnect(),
    );
    await new RedisStore({ client: first, prefix: "ex1:", timeoutMs: 5000 }).consume("w", policy, 1, undefined);
    expect(await hasLibrary(admin)).toBe(true);
    const loads = async (): Promise<[number, number]> => {
      const s = await admin.info("commandstats");
      const m = /cmdstat_function\|load:calls=(\d+),.*?failed_calls=(\d+)/.exec(s);
      return [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0)];
    };
    const [calls0, failed0] = await loads();
    const c0 = await counts(admin);
    const store = new RedisStore({ client: second, prefix: "ex2:", timeoutMs: 5000 });
    await store.consume("w", policy, 1, undefined);
    // The load's answer may settle a few microtasks after the first call's: give it a turn.
    await new Promise((r) => setImmediate(r));
    const d = await store.consume("k", policy, 1, undefined);
    const [calls1, failed1] = await loads();
    const c1 = await counts(admin);
    expect(
      { allowed: d.allowed, loads: calls1 - calls0, refused: failed1 - failed0, fcall: c1.fcall - c0.fcall >= 1 },
      "one load, answered 'already exists'; the second call by FCALL",
    ).toEqual({ allowed: true, loads: 1, refused: 1, fcall: true });
  });

  it("FUNCTION FLUSH between and during calls: every call answered, admitted totals equal the limit, library back", async () => {
    const io = new Redis(server.port, server.host);
    closers.push(() => io.disconnect());
    const store = new RedisStore({ client: io, prefix: "fn-flush:", timeoutMs: 5000, denyCache: false });
    const limiter = new RateLimiter({ policy: tokenBucket({ capacity: 25, refillRate: 1e-4 }), store });
    await limiter.consume("warm");
    let admitted = 0;
    let degraded = 0;
    for (let round = 0; round < 6; round++) {
      const pending = Array.from({ length: 10 }, () => limiter.consume("K"));
      // The flush reaches Redis between this round's calls and the next's (another connection).
      await admin.call("FUNCTION", "FLUSH");
      for (const d of await Promise.all(pending)) {
        if (d.allowed) admitted++;
        if (d.degraded) degraded++;
      }
    }
    expect({ admitted, degraded }, "60 calls on K, limit 25").toEqual({ admitted: 25, degraded: 0 });
    await limiter.consume("again");
    expect(await hasLibrary(admin), "loaded again after the flushes").toBe(true);
  });

  it("the library's tonumber memo (memo.lua, 1024 strings, emptied when full): 1,100 distinct costs, lone and batched, decide as the memory store", async () => {
    const io = new Redis(server.port, server.host);
    closers.push(() => io.disconnect());
    const store = new RedisStore({ client: io, prefix: "fn-memo:", timeoutMs: 5000 });
    const big: Policy[] = [tokenBucket({ capacity: 1e9, refillRate: 1e3 })];
    const memory = new MemoryStore();
    const t = 1_700_000_000_000; // one time for both stores
    await store.consume("warm", big, 1, t);
    const before = await counts(admin);
    const got: unknown[] = [];
    const want: unknown[] = [];
    // Costs 1..1100, each a new ARGV string: the memo fills and is emptied once on the way.
    for (let i = 1; i <= 1100; i += 2) {
      got.push(view(await store.consume("m", big, i, t)));
      // Two in one tick: a batch (decide), cost i + 1 on another key and i again on m.
      const [x, y] = await Promise.all([store.consume("n", big, i + 1, t), store.consume("m", big, i, t)]);
      got.push(view(x), view(y));
      want.push(view(await memory.consume("m", big, i, t)));
      want.push(view(await memory.consume("n", big, i + 1, t)), view(await memory.consume("m", big, i, t)));
    }
    const after = await counts(admin);
    expect(got).toEqual(want);
    expect(after.evalsha - before.evalsha, "all by FCALL").toBe(0);
  });
});

describe("servers without functions: EVALSHA, as before", () => {
  it("functions: false: the store never loads the library and calls by EVALSHA", async () => {
    await admin.call("FUNCTION", "FLUSH");
    const io = new Redis(server.port, server.host);
    closers.push(() => io.disconnect());
    const store = new RedisStore({ client: io, prefix: "off:", timeoutMs: 5000, functions: false });
    const before = await counts(admin);
    const keys = keysOf("o", 20);
    const got = (await Promise.all(keys.map((k) => store.consume(k, policy, 1, undefined)))).map(view);
    await store.consume("lone", policy, 1, undefined);
    const after = await counts(admin);
    expect(got).toEqual(await expected(keys));
    expect({ fcall: after.fcall - before.fcall, library: await hasLibrary(admin) }).toEqual({
      fcall: 0,
      library: false,
    });
  });

  it("FUNCTION is not a command (renamed away, as some managed services do): calls go by EVALSHA", async () => {
    const probe = new Redis(noFunction.port, noFunction.host);
    const io = new Redis(noFunction.port, noFunction.host);
    closers.push(
      () => probe.disconnect(),
      () => io.disconnect(),
    );
    const store = new RedisStore({ client: io, prefix: "nofn:", timeoutMs: 5000 });
    await store.consume("warm", policy, 1, undefined);
    const before = await counts(probe);
    const keys = keysOf("n", 30);
    const got = (await Promise.all(keys.map((k) => store.consume(k, policy, 1, undefined)))).map(view);
    const lone = view(await store.consume("lone", policy, 1, undefined));
    const after = await counts(probe);
    expect({ got, lone }).toEqual({ got: await expected(keys), lone: [true, 9, undefined] });
    expect(after.fcall - before.fcall, "no FCALL").toBe(0);
    expect(after.evalsha - before.evalsha).toBeGreaterThanOrEqual(2);
  });

  it("an ACL user without FUNCTION or FCALL: the load is refused (NOPERM), calls go by EVALSHA", async () => {
    await admin.call("ACL", "SETUSER", "nofn", "on", ">pw", "~*", "&*", "+@all", "-function", "-fcall", "-fcall_ro");
    const io = new Redis({ port: server.port, host: server.host, username: "nofn", password: "pw" });
    closers.push(() => io.disconnect());
    const store = new RedisStore({ client: io, prefix: "acl:", timeoutMs: 5000 });
    await store.consume("warm", policy, 1, undefined);
    const before = await counts(admin);
    const keys = keysOf("u", 30);
    const got = (await Promise.all(keys.map((k) => store.consume(k, policy, 1, undefined)))).map(view);
    const after = await counts(admin);
    expect(got).toEqual(await expected(keys));
    expect(after.fcall - before.fcall, "no FCALL").toBe(0);
    expect(after.evalsha - before.evalsha).toBeGreaterThanOrEqual(1);
  });

  it("FCALL refused after the library loaded (the ACL changed): the call goes again by EVAL, then EVALSHA; exact", async () => {
    await admin.call("ACL", "SETUSER", "later", "on", ">pw", "~*", "&*", "+@all");
    const io = new Redis({ port: server.port, host: server.host, username: "later", password: "pw" });
    closers.push(() => io.disconnect());
    const store = new RedisStore({ client: io, prefix: "acl2:", timeoutMs: 5000, denyCache: false });
    await store.consume("warm", policy, 1, undefined);
    const a = await counts(admin);
    expect(view(await store.consume("K", policy, 1, undefined))).toEqual([true, 9, undefined]);
    const b = await counts(admin);
    expect(b.fcall - a.fcall, "by FCALL while allowed").toBe(1);
    await admin.call("ACL", "SETUSER", "later", "-fcall");
    const got = [];
    for (let i = 0; i < 3; i++) got.push(view(await store.consume("K", policy, 1, undefined)));
    expect(got, "K's next three tokens, none lost or taken twice").toEqual([
      [true, 8, undefined],
      [true, 7, undefined],
      [true, 6, undefined],
    ]);
    const c = await counts(admin);
    expect(c.evalsha - b.evalsha, "the refused call by EVAL, then two by EVALSHA").toBe(3);
  });
});

describe("Redis Cluster: the library on every master", () => {
  for (const kind of ["ioredis", "node-redis"] as const) {
    it(`${kind}: loaded on every master at start, and again on every master after FUNCTION FLUSH on all; exact`, async () => {
      await Promise.all(clusterAdmins.map((a) => a.call("FUNCTION", "FLUSH")));
      let client: unknown;
      if (kind === "ioredis") {
        const io = new Cluster(cluster.nodes);
        closers.push(() => io.disconnect());
        await io.ping();
        client = io;
      } else {
        const nr = createCluster({ rootNodes: cluster.nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })) });
        await nr.connect();
        closers.push(() => nr.destroy());
        client = nr;
      }
      const store = new RedisStore({ client, prefix: `fc-${kind}:`, timeoutMs: 5000, denyCache: false });
      await store.consume("warm", policy, 1, undefined);
      // The load goes to every master (a Cluster client may answer the first call before all replied).
      for (let i = 0; i < 100 && !(await Promise.all(clusterAdmins.map(hasLibrary))).every(Boolean); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(await Promise.all(clusterAdmins.map(hasLibrary)), "each master holds the library").toEqual([
        true,
        true,
        true,
      ]);
      const keys = Array.from({ length: 90 }, (_, i) => `c${i % 45}`);
      const before = await Promise.all(clusterAdmins.map(counts));
      const first = (await Promise.all(keys.map((k) => store.consume(k, policy, 1, undefined)))).map(view);
      const mid = await Promise.all(clusterAdmins.map(counts));
      expect(first).toEqual(await expected(keys));
      expect(
        mid.map((m, i) => [
          m.fcall > (before[i] as { fcall: number }).fcall,
          m.evalsha - (before[i] as { evalsha: number }).evalsha,
        ]),
        "each master: FCALL, no EVALSHA",
      ).toEqual([
        [true, 0],
        [true, 0],
        [true, 0],
      ]);
      await Promise.all(clusterAdmins.map((a) => a.call("FUNCTION", "FLUSH")));
      const second = (await Promise.all(keys.map((k) => store.consume(k, policy, 1, undefined)))).map(view);
      const keys2 = [...keys, ...keys];
      expect(second, "after FUNCTION FLUSH: each key's next tokens").toEqual((await expected(keys2)).slice(90));
      await store.consume("again", policy, 1, undefined);
      for (let i = 0; i < 100 && !(await Promise.all(clusterAdmins.map(hasLibrary))).every(Boolean); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(await Promise.all(clusterAdmins.map(hasLibrary)), "loaded again on each master").toEqual([
        true,
        true,
        true,
      ]);
    });
  }
});
