// redis-consume-all.test.ts: RateLimiter.consumeAll on a real Redis (decide.lua's op "a"/"v", one script call)
// against the same calls on a MemoryStore (one synchronous section): the same verdicts for every algorithm, with
// checks, shadow items, dry runs and one key named by several items; one script call per call; every key a TTL.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AllItem,
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
import { RedisStore } from "../../src/stores/redis/index.js";
import { budget } from "../unit/budget.js";
import { fields, keysWithoutTtl, scriptCalls as scriptCallsOf, useRedis } from "./redis-util.js";

const fx = useRedis();
let n = 0;

// The stepped token bucket is in since issue 8: a full state is the same as no state (its step phase restarts at
// the next call), so the memory sweep dropping an idle key and Redis keeping it until its TTL answer alike. Six
// keys, so that new keys make the memory store sweep (and drop) idle ones; with three the property missed it.
const POLICIES: readonly (readonly Policy[])[] = [
  [tokenBucket({ name: "tb", capacity: 5, refillRate: 10 / 13 })],
  [gcra({ name: "gc", limit: 3, periodMs: 1000 })],
  [leakyBucket({ name: "lb", capacity: 4, leakRate: 2 })],
  [fixedWindow({ name: "fw", limit: 4, windowMs: 1000 })],
  [slidingWindow({ name: "sw", limit: 5, windowMs: 1000 })],
  [slidingLog({ name: "sl", limit: 3, windowMs: 900 })],
  [fixedWindow({ name: "fa", limit: 6, windowMs: 2000 }), gcra({ name: "gb", limit: 2, periodMs: 500 })],
  [tokenBucket({ name: "ts", capacity: 4, refillAmount: 1, refillIntervalMs: 300 })],
].map((p) => Object.freeze(p));

/** pair builds a RateLimiter on Redis and one on memory, on one injected clock. */
function pair() {
  const clock = { now: 1_700_000_000_000 };
  const now = () => clock.now;
  const policy = POLICIES[0] as readonly Policy[];
  const redis = new RateLimiter({
    policy,
    now,
    store: new RedisStore({ client: fx.client, prefix: `ca${n++}:`, timeoutMs: 10_000, onFailure: "fail-closed" }),
  });
  const memory = new RateLimiter({ policy, now, store: new MemoryStore() });
  return { clock, redis, memory };
}

const scriptCalls = (): Promise<number> => scriptCallsOf(fx.admin);

describe("consumeAll on Redis", () => {
  it("step table: all admit, one refuses (nothing taken), shadow, a check, a dry run, one key twice", async () => {
    const { redis } = pair();
    const fw = POLICIES[3] as readonly Policy[]; // 4 per window
    const gc = POLICIES[1] as readonly Policy[]; // 3 per second
    const rows: [string, AllItem[], { dryRun?: boolean } | undefined, boolean, number[]][] = [
      [
        "1: both admit",
        [
          { key: "a", policy: fw, cost: 3 },
          { key: "b", policy: gc, cost: 2 },
        ],
        undefined,
        true,
        [1, 1],
      ],
      [
        "2: b refuses 2 (1 left): a keeps 1",
        [
          { key: "a", policy: fw },
          { key: "b", policy: gc, cost: 2 },
        ],
        undefined,
        false,
        [1, 1],
      ],
      [
        "3: shadow b refuses, a is taken",
        [
          { key: "a", policy: fw },
          { key: "b", policy: gc, cost: 2, shadow: true },
        ],
        undefined,
        true,
        [0, 1],
      ],
      [
        "4: a check on a (0 left) refuses b's take",
        [
          { key: "b", policy: gc },
          { key: "a", policy: fw, cost: 0 },
        ],
        undefined,
        false,
        [1, 0],
      ],
      ["5: a dry run takes nothing", [{ key: "b", policy: gc }], { dryRun: true }, false, [1]],
      [
        "6: b twice (1 + 1 > 1 left): the second sees the first; the first is reported as it stands",
        [
          { key: "b", policy: gc },
          { key: "b", policy: gc },
        ],
        undefined,
        false,
        [1, 0],
      ],
      ["7: b alone still has its 1", [{ key: "b", policy: gc }], undefined, true, [0]],
    ];
    // decide.lua is loaded by the first call (NOSCRIPT, then EVAL): counted from the second on.
    await redis.consumeAll([
      { key: "warm", policy: fw },
      { key: "up", policy: gc },
    ]);
    for (const [why, items, options, allowed, remaining] of rows) {
      const before = await scriptCalls();
      const r = await redis.consumeAll(items, options);
      expect(await scriptCalls(), `${why}: one script call`).toBe(before + 1);
      expect(
        { allowed: r.allowed, remaining: r.items.map((d) => d.remaining) },
        `${why}: consumeAll(${JSON.stringify(items.map((i) => [i.key, i.cost ?? 1, i.shadow ?? false]))})`,
      ).toEqual({ allowed, remaining });
    }
    expect(await keysWithoutTtl(fx.admin)).toEqual([]);
  });

  it("property: every call answers as the memory store's one synchronous section does", async () => {
    const item = fc.record({
      key: fc.constantFrom("u1", "u2", "u3", "u4", "u5", "u6"),
      set: fc.integer({ min: 0, max: POLICIES.length - 1 }),
      cost: fc.integer({ min: 0, max: 3 }),
      shadow: fc.boolean(),
    });
    const step = fc.record({
      items: fc.array(item, { minLength: 1, maxLength: 4 }),
      dryRun: fc.boolean(),
      advanceMs: fc.constantFrom(0, 0, 90, 400, 1300),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        const { clock, redis, memory } = pair();
        for (const [i, s] of steps.entries()) {
          clock.now += s.advanceMs;
          const items: AllItem[] = s.items.map((x) => {
            const policy = POLICIES[x.set] as readonly Policy[];
            return { key: x.key, policy, cost: Math.min(x.cost, ...policy.map((p) => p.limit)), shadow: x.shadow };
          });
          const options = s.dryRun ? { dryRun: true } : {};
          const [got, want] = await Promise.all([redis.consumeAll(items, options), memory.consumeAll(items, options)]);
          expect(
            { allowed: got.allowed, items: got.items.map(fields) },
            `step ${i}: consumeAll(${JSON.stringify(s)})`,
          ).toEqual({ allowed: want.allowed, items: want.items.map(fields) });
        }
      }),
      { numRuns: budget(150, 15) },
    );
  });
});

describe("consumeAll on Redis, on limiters with blocks", () => {
  it("stays one atomic step: refused calls never hold units that concurrent calls need; a blocked key takes nothing", async () => {
    const clock = { now: 1_700_000_000_000 };
    const prefix = `cb${n++}:`;
    const user = fixedWindow({ name: "u", limit: 3, windowMs: 60_000 });
    const route = fixedWindow({ name: "r", limit: 1, windowMs: 60_000 });
    const limiter = () =>
      new RateLimiter({
        policy: user,
        now: () => clock.now,
        blocks: true,
        store: new RedisStore({ client: fx.client, prefix, timeoutMs: 10_000, onFailure: "fail-closed" }),
      });
    const a = limiter();
    const b = limiter(); // another process on the same Redis
    await a.consumeAll([{ key: "/full", policy: route }]);
    const calls: Promise<{ allowed: boolean }>[] = [];
    for (let i = 0; i < 12; i++) {
      calls.push(
        a.consumeAll([
          { key: "ann", cost: 3 },
          { key: "/full", policy: route },
        ]),
      );
      if (i % 4 === 0) calls.push(b.consumeAll([{ key: "ann" }]));
    }
    const results = await Promise.all(calls);
    // The 12 refused calls took nothing: the 3 single ones fit in ann's 3 and are all admitted.
    expect(results.filter((r) => r.allowed).length).toBe(3);
    expect((await a.peek("ann")).remaining).toBe(0);
    await a.block("bob", 5000);
    const blocked = await b.consumeAll([{ key: "bob" }, { key: "/other", policy: route }]);
    expect([blocked.allowed, blocked.items[0]?.blockedMs]).toEqual([false, 5000]);
    expect((await b.peek("/other", { policy: route })).remaining).toBe(1);
  });
});
