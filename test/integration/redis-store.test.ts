// redis-store.test.ts: RedisStore behaviour on a real Redis: batching, deny cache, keys, TTLs, events, options, bad input.

import { createClient } from "redis";
import { beforeEach, describe, expect, it } from "vitest";
import {
  type Decision,
  fixedWindow,
  gcra,
  leakyBucket,
  MemoryStore,
  type Policy,
  RateLimiter,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from "../../src/index.js";
import { DECIDE, encodeKey, hashSlot, RedisStore, type RedisStoreOptions } from "../../src/stores/redis/index.js";
import { fields, keysWithoutTtl, scriptCalls as scriptCallsOf, useRedis } from "./redis-util.js";

const fx = useRedis();
let n = 0;

/** scriptCalls returns how many script calls the server ran so far. */
const scriptCalls = (): Promise<number> => scriptCallsOf(fx.admin);

/** newStore returns a store with its own key prefix. */
function newStore(options: Omit<RedisStoreOptions, "client"> = {}): RedisStore {
  return new RedisStore({
    client: fx.client,
    prefix: `t${n++}:`,
    timeoutMs: 5000,
    onFailure: "fail-closed",
    ...options,
  });
}

describe("batching", () => {
  beforeEach(async () => {
    // Load the script first, so the counts below see no NOSCRIPT retry.
    await newStore().consume("warm", [tokenBucket({ capacity: 1, refillRate: 1 })], 1, undefined);
  });

  it("a lone call costs one script call; 30 same-tick calls cost one; 200 cost 5 (100 split in 4, then 100)", async () => {
    const policy = [tokenBucket({ capacity: 1000, refillRate: 1 })];
    const store = newStore();
    let before = await scriptCalls();
    const d = await store.consume("lone", policy, 1, undefined);
    expect({ allowed: d.allowed, calls: (await scriptCalls()) - before }, "lone consume").toEqual({
      allowed: true,
      calls: 1,
    });
    // 200 calls make two batches of 100 (batch.maxSize). Nothing is in flight, so the first is
    // split in 4 calls of 25 to keep Node and Redis busy at once; with 4 in flight the second goes whole.
    // The lone call ran the kind's own script; the batch script's first use would add a NOSCRIPT round.
    await fx.admin.script("LOAD", DECIDE.source);
    before = await scriptCalls();
    const ds = await Promise.all(
      Array.from({ length: 200 }, (_, i) => store.consume(`k${i % 7}`, policy, 1, undefined)),
    );
    expect(
      { allowed: ds.filter((x) => x.allowed).length, calls: (await scriptCalls()) - before },
      "200 consumes",
    ).toEqual({ allowed: 200, calls: 5 });
    // Fewer than 32 decisions (twice the smallest split-off call) travel in one script call.
    before = await scriptCalls();
    const few = await Promise.all(
      Array.from({ length: 30 }, (_, i) => store.consume(`f${i % 7}`, policy, 1, undefined)),
    );
    expect(
      { allowed: few.filter((x) => x.allowed).length, calls: (await scriptCalls()) - before },
      "30 consumes",
    ).toEqual({ allowed: 30, calls: 1 });
  });

  it("a batch keeps each key exact: 50 same-tick calls on a capacity-10 key admit 10, in call order", async () => {
    const store = newStore();
    const policy = [gcra({ limit: 10, periodMs: 60_000 })];
    const ds = await Promise.all(Array.from({ length: 50 }, () => store.consume("hot", policy, 1, undefined)));
    expect(
      ds.map((d) => d.allowed),
      "allowed flags in call order",
    ).toEqual(Array.from({ length: 50 }, (_, i) => i < 10));
    expect(ds.slice(0, 10).map((d) => d.remaining)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  });

  it("mixes policies, ops and injected times in one tick, each answered as if alone", async () => {
    const a = [tokenBucket({ name: "a", capacity: 3, refillRate: 1 })];
    const b = [
      fixedWindow({ name: "b", limit: 2, windowMs: 1000 }),
      slidingLog({ name: "c", limit: 5, windowMs: 1000 }),
    ];
    const batched = newStore();
    const alone = newStore({ batch: false });
    const run = (s: RedisStore): Promise<unknown[]> =>
      Promise.all([
        s.consume("x", a, 2, 1000),
        s.consume("x", b, 1, 1000),
        s.consume("x", a, 2, 1000),
        s.peek("x", b, 1000),
        s.consume("y", b, 2, 1500),
        s.consume("x", b, 2, 1000),
        s.refund("x", a, 1, 1000),
        s.consume("x", a, 2, 1000),
        s.reset("y", b),
        s.consume("y", b, 2, 1500),
      ]);
    const got = (await run(batched)).map((d) => (d ? fields(d as Decision) : d));
    const want: unknown[] = [];
    for (const d of await run(alone)) want.push(d ? fields(d as Decision) : d);
    expect(got, "batched vs one script call per decision").toEqual(want);
  });
});

describe("batch runs", () => {
  // decide.lua reads a run of same-policy, same-cost consumes with one MGET and keeps
  // the states it wrote in the run; repeated keys, peeks, refunds, resets and
  // two-policy sets in between must still be answered exactly as one call at a time.
  const kinds: [string, Policy][] = [
    ["tokenBucket", tokenBucket({ name: "p", capacity: 6, refillRate: 2 })],
    ["stepped tokenBucket", tokenBucket({ name: "p", capacity: 6, refillAmount: 2, refillIntervalMs: 700 })],
    ["gcra", gcra({ name: "p", limit: 6, periodMs: 1000 })],
    ["leakyBucket", leakyBucket({ name: "p", capacity: 6, leakRate: 3 })],
    ["fixedWindow", fixedWindow({ name: "p", limit: 6, windowMs: 1000 })],
    ["slidingWindow", slidingWindow({ name: "p", limit: 6, windowMs: 1000 })],
    ["slidingLog", slidingLog({ name: "p", limit: 6, windowMs: 1000 })],
  ];
  for (const [label, p] of kinds) {
    it(`${label}: 3 ticks of 250 random calls on 5 keys, batched == one script call per call`, async () => {
      // One array per policy set, as RateLimiter passes them: a batch groups calls by array.
      const one = [p];
      const pair = [p, fixedWindow({ name: "q", limit: 9, windowMs: 2000 })];
      let seed = 11;
      const rand = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      type Op = [string, string, number];
      const ticks: Op[][] = [];
      for (let t = 0; t < 3; t++) {
        const ops: Op[] = [];
        for (let i = 0; i < 250; i++) {
          const key = `k${rand(5)}`;
          const r = rand(100);
          const op = r < 70 ? "c1" : r < 78 ? "c2" : r < 84 ? "peek" : r < 90 ? "refund" : r < 97 ? "pair" : "reset";
          ops.push([op, key, 1000 + t * 450]);
        }
        ticks.push(ops);
      }
      const run = async (s: RedisStore): Promise<unknown[]> => {
        const out: unknown[] = [];
        for (const ops of ticks) {
          const ds = await Promise.all(
            ops.map(([op, key, at]) =>
              op === "c1"
                ? s.consume(key, one, 1, at)
                : op === "c2"
                  ? s.consume(key, one, 2, at)
                  : op === "peek"
                    ? s.peek(key, one, at)
                    : op === "refund"
                      ? s.refund(key, one, 1, at)
                      : op === "pair"
                        ? s.consume(key, pair, 1, at)
                        : s.reset(key, one),
            ),
          );
          out.push(...ds.map((d) => (d ? fields(d as Decision) : d)));
        }
        return out;
      };
      // The script cache starts empty: the first calls get NOSCRIPT and are retried, and
      // the calls sent after them wait for the retries (a retry is never overtaken).
      await fx.admin.script("FLUSH");
      const got = await run(newStore({ denyCache: false }));
      const want = await run(newStore({ denyCache: false, batch: false }));
      for (let i = 0; i < got.length; i++) {
        const [op, key, at] = (ticks[Math.floor(i / 250)] as Op[])[i % 250] as Op;
        expect(got[i], `call ${i}: ${op}(${key}) at ${at}: batched vs alone`).toEqual(want[i]);
      }
    });
  }
});

describe("deny cache", () => {
  const policy = [tokenBucket({ capacity: 2, refillRate: 1 })];

  it("answers a key just denied locally until retryAfterMs has passed, then asks Redis again", async () => {
    const store = newStore();
    await store.consume("flood", policy, 2, 10_000);
    const first = await store.consume("flood", policy, 1, 10_000);
    expect({ allowed: first.allowed, retryAfterMs: first.retryAfterMs }, "consume at 10000").toEqual({
      allowed: false,
      retryAfterMs: 1000,
    });
    const before = await scriptCalls();
    const local: Decision[] = [];
    for (let t = 10_000; t < 11_000; t += 100) local.push(await store.consume("flood", policy, 1, t));
    expect(
      local.map((d) => [d.allowed, d.retryAfterMs]),
      "10 denials served locally",
    ).toEqual(Array.from({ length: 10 }, (_, i) => [false, 1000 - i * 100]));
    expect((await scriptCalls()) - before, "script calls for the local denials").toBe(0);
    const after = await store.consume("flood", policy, 1, 11_000);
    expect({ allowed: after.allowed, calls: (await scriptCalls()) - before }, "consume at 11000").toEqual({
      allowed: true,
      calls: 1,
    });
  });

  it("does not answer a smaller cost, a peek, or a key refunded or reset since", async () => {
    const store = newStore();
    await store.consume("k", policy, 2, 0);
    expect((await store.consume("k", policy, 2, 0)).allowed, "cost 2 at 0").toBe(false);
    await store.refund("k", policy, 1, 0);
    expect((await store.consume("k", policy, 1, 0)).allowed, "cost 1 after refund: Redis admits").toBe(true);
    expect((await store.consume("k", policy, 2, 500)).allowed, "cost 2 at 500").toBe(false);
    await store.reset("k", policy);
    expect((await store.consume("k", policy, 2, 500)).allowed, "cost 2 after reset").toBe(true);
    const before = await scriptCalls();
    await store.consume("k", policy, 1, 500);
    const p = await store.peek("k", policy, 500);
    expect({ peek: p.allowed, calls: (await scriptCalls()) - before }, "denied cost 1 then peek").toEqual({
      peek: true,
      calls: 2,
    });
  });

  it("is off with denyCache: false", async () => {
    const store = newStore({ denyCache: false });
    await store.consume("k", policy, 2, 0);
    const before = await scriptCalls();
    for (let i = 0; i < 5; i++) await store.consume("k", policy, 1, 0);
    expect((await scriptCalls()) - before, "5 denied consumes").toBe(5);
  });
});

describe("keys", () => {
  it("escapes hash tag characters injectively and keeps one decision's keys in one slot", () => {
    const cases: [string, string][] = [
      ["user:42", "user:42"],
      ["{", "%7B"],
      ["}", "%7D"],
      ["%7B", "%257B"],
      ["", "%0"],
      ["a{b}c", "a%7Bb%7Dc"],
      ["line\nbreak", "line\nbreak"],
    ];
    for (const [key, tag] of cases) expect(encodeKey(key), `encodeKey(${JSON.stringify(key)})`).toBe(tag);
    expect(encodeKey("x".repeat(1_000_000)), "a megabyte key").toMatch(/^%H[\w-]{43}$/);
    expect(encodeKey("x".repeat(1_000_000))).not.toBe(encodeKey(`${"x".repeat(999_999)}y`));
    const store = newStore();
    const [p1, p2] = [
      tokenBucket({ name: "a", capacity: 1, refillRate: 1 }),
      fixedWindow({ name: "b", limit: 1, windowMs: 1 }),
    ];
    for (const key of ["}{", "{}", "", "a}b{c"]) {
      const [k1, k2] = [store.keyOf(key, p1), store.keyOf(key, p2)];
      const tag = (k: string): string => (k.match(/\{([^}]*)\}/)?.[1] as string) ?? k;
      expect(tag(k1).length > 0 && tag(k1) === tag(k2), `hash tags of ${JSON.stringify(key)}: ${k1} ${k2}`).toBe(true);
    }
    // CRC16/XMODEM as Redis Cluster computes it (CLUSTER KEYSLOT "123456789" = 12739).
    expect(hashSlot("123456789")).toBe(12739);
  });

  it("bad input: the same decisions and the same errors as the memory store", async () => {
    const policy: Policy[] = [tokenBucket({ capacity: 3, refillRate: 1 }), slidingLog({ limit: 4, windowMs: 1000 })];
    let t = 5000;
    // The deny cache repeats a denial with the remaining count it saw, so exact parity turns it off.
    const redis = new RateLimiter({ policy, store: newStore({ denyCache: false }), now: () => t });
    const memory = new RateLimiter({ policy, store: new MemoryStore(), now: () => t });
    const keys = [
      "__proto__",
      "constructor",
      "{",
      "}",
      "{}",
      "",
      "%7B",
      "a\nb",
      "a\r\nb",
      "x".repeat(100_000),
      "ключ 🔑",
    ];
    const costs: unknown[] = [1, 2, -1, 1.5, Number.NaN, 4, "1", 0, 3];
    for (let round = 0; round < 2; round++) {
      for (const key of keys) {
        for (const cost of costs) {
          t += 7;
          const call = `consume(${JSON.stringify(key.slice(0, 20))}, cost=${String(cost)}) at ${t}`;
          const [r, m] = await Promise.all(
            [redis, memory].map((l) =>
              l.consume(key, cost as number).then(
                (d) => fields(d),
                (e: { code?: string; name?: string }) => ({ error: e.code, name: e.name }),
              ),
            ),
          );
          expect(r, `${call}: redis vs memory`).toEqual(m);
        }
      }
    }
    for (const bad of [undefined, null, 42, {}]) {
      const err = await redis.consume(bad as unknown as string).catch((e: { code?: string }) => e.code);
      expect(err, `consume(${String(bad)})`).toBe("ERR_INVALID_KEY");
    }
    // Every key was stored with a TTL; the long key by its hash.
    const bigKeys = (await fx.admin.keys(`${(redis.store as RedisStore).prefix}*`)).filter((k) => k.length > 300);
    expect(bigKeys, "keys longer than 300 bytes").toEqual([]);
    expect(await keysWithoutTtl(fx.admin), "keys without TTL").toEqual([]);
  });
});

describe("TTL", () => {
  it("with the server clock, each key expires when its state is uninformative (resetAfterMs)", async () => {
    const store = newStore();
    const cases: [Policy, number][] = [
      [tokenBucket({ capacity: 10, refillRate: 2 }), 3],
      [gcra({ limit: 10, periodMs: 10_000 }), 4],
      [slidingLog({ limit: 10, windowMs: 60_000 }), 2],
    ];
    for (const [p, cost] of cases) {
      const d = await store.consume("ttl", [p], cost, undefined);
      const pttl = await fx.admin.pttl(store.keyOf("ttl", p));
      expect(
        pttl > 0 && pttl <= d.resetAfterMs && pttl >= d.resetAfterMs - 200,
        `${p.id}: PTTL ${pttl} vs resetAfterMs ${d.resetAfterMs}`,
      ).toBe(true);
    }
    // A peek creates nothing.
    await store.peek("nothing", [cases[0]?.[0] as Policy], undefined);
    expect(await fx.admin.exists(store.keyOf("nothing", cases[0]?.[0] as Policy)), "key after a peek").toBe(0);
  });
});

describe("events and options", () => {
  it("on returns an unsubscribe; a throwing listener breaks nothing", async () => {
    // 1000 ms, not 50: the failures here are error replies; a loaded machine's slow reply (the first call loads the
    // script) must not time out, which would degrade the store and add events of its own.
    const store = new RedisStore({ client: fx.client, timeoutMs: 1000, prefix: `ev${n++}:`, onFailure: "fail-open" });
    const seen: string[] = [];
    const off = store.on("error", () => seen.push("error"));
    store.on("error", () => {
      throw new Error("listener bug");
    });
    const policy = [tokenBucket({ capacity: 1, refillRate: 1 })];
    // A key of the wrong type makes the script fail with a Redis error reply.
    await fx.admin.hset(store.keyOf("wrongtype", policy[0] as Policy), "a", "1");
    await fx.admin.pexpire(store.keyOf("wrongtype", policy[0] as Policy), 60_000);
    const d = await store.consume("wrongtype", policy, 1, undefined);
    expect({ allowed: d.allowed, degraded: d.degraded, seen, down: store.degraded }, "consume on a hash key").toEqual({
      allowed: true,
      degraded: "fail-open",
      seen: ["error"],
      down: false,
    });
    off();
    await store.consume("wrongtype", policy, 1, undefined);
    expect(seen, "after off()").toEqual(["error"]);
    // In a batch too (decide.lua reads a run's keys with MGET, which reads a hash as missing):
    // the hash is neither read as a fresh state nor overwritten.
    const batch = await Promise.all([
      store.consume("wrongtype", policy, 1, undefined),
      store.consume("wrongtype", policy, 1, undefined),
      store.consume("fine", policy, 1, undefined),
    ]);
    expect(
      {
        batch: batch.map((x) => x.degraded),
        type: await fx.admin.type(store.keyOf("wrongtype", policy[0] as Policy)),
      },
      "a batch with a hash key",
    ).toEqual({ batch: ["fail-open", "fail-open", "fail-open"], type: "hash" });
    // The same through node-redis, whose error replies are classed differently.
    const nr = createClient({ url: fx.server.url });
    await nr.connect();
    try {
      const nrStore = new RedisStore({ client: nr, timeoutMs: 1000, prefix: store.prefix, onFailure: "fail-closed" });
      const events: string[] = [];
      nrStore.on("error", () => events.push("error"));
      nrStore.on("degraded", () => events.push("degraded"));
      const e = await nrStore.consume("wrongtype", policy, 1, undefined);
      expect({ allowed: e.allowed, degraded: e.degraded, events, down: nrStore.degraded }, "node-redis").toEqual({
        allowed: false,
        degraded: "fail-closed",
        events: ["error"],
        down: false,
      });
    } finally {
      await nr.close();
    }
  });

  it("rejects bad options with a stable code", () => {
    const { client } = fx;
    const bad: [Record<string, unknown>, string][] = [
      [{ client, prefix: "a{" }, "ERR_INVALID_OPTION"],
      [{ client, timeoutMs: 0 }, "ERR_INVALID_OPTION"],
      [{ client, timeoutMs: Number.NaN }, "ERR_INVALID_OPTION"],
      // Regression (found in issue 8's split): a timeoutMs past setTimeout's limit fired after 1 ms, failing every call.
      [{ client, timeoutMs: 2 ** 31 }, "ERR_INVALID_OPTION"],
      [{ client, onFailure: "ignore" }, "ERR_INVALID_OPTION"],
      [{ client, onFailure: { insurance: true, scale: 2 } }, "ERR_INVALID_OPTION"],
      [{ client, denyCache: { maxKeys: 0 } }, "ERR_INVALID_OPTION"],
      [{ client, batch: { maxSize: 0 } }, "ERR_INVALID_OPTION"],
      [{ client, functions: "yes" }, "ERR_INVALID_OPTION"],
      [{ client, timeout: 5 }, "ERR_UNKNOWN_OPTION"],
      [{ client: {} }, "ERR_INVALID_OPTION"],
      [{}, "ERR_INVALID_OPTION"],
    ];
    for (const [o, code] of bad) {
      let got: string | undefined;
      try {
        new RedisStore(o as unknown as RedisStoreOptions);
      } catch (e) {
        got = (e as { code?: string }).code;
      }
      expect(got, `new RedisStore(${Object.keys(o).join(", ")})`).toBe(code);
    }
  });

  it("a hand-made policy it cannot run is refused where it enters, before Redis", async () => {
    const fake = { ...tokenBucket({ capacity: 1, refillRate: 1 }), kind: "custom" } as unknown as Policy;
    const err = await Promise.resolve()
      .then(() => new RateLimiter({ policy: fake, store: newStore() }).consume("k"))
      .catch((e: { code?: string }) => e.code);
    expect(err).toBe("ERR_INVALID_POLICY");
  });
});
