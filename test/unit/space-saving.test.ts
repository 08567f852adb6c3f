// space-saving.test.ts: the Space-Saving summary's guarantees as properties, and the limiter's heavy hitters built on it.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SpaceSaving } from "../../src/core/space-saving.js";
import { fixedWindow, MemoryStore, RateLimiter, tokenBucket } from "../../src/index.js";

/** A stream of keys from a skewed alphabet: a few hot keys among many rare ones. */
const streamArb = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 4 }).map((i) => `hot${i}`) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 300 }).map((i) => `k${i}`) },
  ),
  { maxLength: 2000 },
);

/** truth counts a stream exactly. */
function truth(stream: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of stream) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

describe("SpaceSaving", () => {
  it("holds at most k keys, and its counts sum to the total", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), streamArb, (k, stream) => {
        const s = new SpaceSaving(k);
        for (const key of stream) {
          s.add(key);
          if (s.size > k) return false;
        }
        const top = s.top(k);
        return s.total === stream.length && top.reduce((a, e) => a + e.count, 0) === stream.length;
      }),
    );
  });

  it("each count is within [true, true + error], and error is at most total / k", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), streamArb, (k, stream) => {
        const s = new SpaceSaving(k);
        for (const key of stream) s.add(key);
        const real = truth(stream);
        for (const e of s.top(k)) {
          const t = real.get(e.key) ?? 0;
          if (!(t <= e.count && e.count <= t + e.error)) return false;
          if (e.error > stream.length / k) return false;
        }
        return true;
      }),
    );
  });

  it("finds every key counted more than total / k times (the true heavy hitters)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), streamArb, (k, stream) => {
        const s = new SpaceSaving(k);
        for (const key of stream) s.add(key);
        const kept = new Set(s.top(k).map((e) => e.key));
        for (const [key, n] of truth(stream)) if (n > stream.length / k && !kept.has(key)) return false;
        return true;
      }),
    );
  });

  it("is exact while at most k distinct keys are counted", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 9 }).map(String), { maxLength: 500 }), (stream) => {
        const s = new SpaceSaving(10);
        for (const key of stream) s.add(key);
        const real = truth(stream);
        return s.top(10).every((e) => e.error === 0 && e.count === real.get(e.key));
      }),
    );
  });
});

describe("RateLimiter heavyHitters", () => {
  it("lists the keys refused most per policy, exactly while they fit", () => {
    const limiter = new RateLimiter({
      policy: [
        tokenBucket({ name: "burst", capacity: 2, refillRate: 0.001 }),
        fixedWindow({ name: "daily", limit: 3, windowMs: 86_400_000 }),
      ],
      now: () => 0,
      heavyHitters: 3,
    });
    // a: 2 allowed, then 5 refused by burst; b: 1 allowed, then 1 refused by... nothing (2 calls fit burst).
    for (let i = 0; i < 7; i++) limiter.consumeSync("a");
    for (let i = 0; i < 2; i++) limiter.consumeSync("b");
    limiter.consumeSync("c", { shadow: true });
    limiter.consumeSync("c", { shadow: true });
    limiter.consumeSync("c", { shadow: true });
    expect(limiter.heavyHitters()).toEqual([
      {
        policy: "burst",
        k: 3,
        refused: 6,
        keys: [
          { key: "a", count: 5, error: 0 },
          { key: "c", count: 1, error: 0 },
        ],
      },
    ]);
    expect(limiter.heavyHitters("daily")).toEqual([]);
    expect(JSON.parse(JSON.stringify(limiter.heavyHitters("burst")))[0].keys[0].key).toBe("a");
  });

  it("is off by default and validates k", () => {
    const limiter = new RateLimiter({ policy: tokenBucket({ capacity: 1, refillRate: 0.001 }), now: () => 0 });
    limiter.consumeSync("a");
    limiter.consumeSync("a");
    expect(limiter.heavyHitters()).toEqual([]);
    expect(() => new RateLimiter({ policy: tokenBucket({ capacity: 1, refillRate: 1 }), heavyHitters: 2.5 })).toThrow(
      /heavyHitters.*whole number from 0 \(none kept\) to 10000, got 2\.5/,
    );
  });

  it("a flood of 1,000,000 distinct refused keys stays at k entries and keeps the real heavy hitters", () => {
    // maxKeys 1000: past it, new keys share the overflow state, which is spent at once, so every
    // flood key is refused. Three hot keys are refused 200,000 times each, more than total / k
    // (1,600,000 / 16 = 100,000): Space-Saving guarantees they are kept. (At 50,000 each they are
    // below total / k, and the flood's rotating counters do push them out.)
    const limiter = new RateLimiter({
      policy: tokenBucket({ name: "api", capacity: 1, refillRate: 0.000001 }),
      store: new MemoryStore({ maxKeys: 1000 }),
      now: () => 0,
      heavyHitters: 16,
    });
    const hot = ["hot:1", "hot:2", "hot:3"];
    for (const h of hot) limiter.consumeSync(h);
    let refused = 0;
    for (let i = 0; i < 1_000_000; i++) {
      if (!limiter.consumeSync(`flood:${i}`).allowed) refused++;
      if (i % 5 === 0) for (const h of hot) if (!limiter.consumeSync(h).allowed) refused++;
    }
    const [summary] = limiter.heavyHitters("api");
    expect(summary?.keys.length).toBe(16);
    expect(summary?.refused).toBe(refused);
    expect(
      summary?.keys
        .slice(0, 3)
        .map((e) => e.key)
        .sort(),
    ).toEqual(hot);
    for (const e of summary?.keys.slice(0, 3) ?? []) {
      expect(e.count - e.error, `${e.key}: a lower bound of its true 200,000 refusals`).toBeLessThanOrEqual(200_000);
      expect(e.count).toBeGreaterThanOrEqual(200_000);
    }
  });
});
