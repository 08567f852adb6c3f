// memory-store-bounds.test.ts: MemoryStore memory bounds: maxKeys under a key flood, lazy idle sweeping, overflow, odd keys.

import { describe, expect, it } from "vitest";
import {
  type Decision,
  FloodgateRangeError,
  FloodgateTypeError,
  MemoryStore,
  RateLimiter,
  tokenBucket,
} from "../../src/index.js";

/** Clock is an injected clock the test moves by hand. */
class Clock {
  nowMs = 0;
  readonly now = (): number => this.nowMs;
}

/** show prints the fields of a decision that a failure message needs. */
function show(d: Decision): string {
  return JSON.stringify({
    allowed: d.allowed,
    remaining: d.remaining,
    retryAfterMs: d.retryAfterMs,
    resetAfterMs: d.resetAfterMs,
  });
}

/** setup builds a limiter on a fresh MemoryStore: a bucket of 5 tokens that refills `refillRate` tokens per second (default 1). */
function setup(options: ConstructorParameters<typeof MemoryStore>[0] = {}, refillRate = 1) {
  const clock = new Clock();
  const store = new MemoryStore(options);
  const policy = tokenBucket({ capacity: 5, refillRate, name: "api" });
  const limiter = new RateLimiter({ policy, store, now: clock.now });
  return { clock, store, policy, limiter };
}

describe("MemoryStore maxKeys", () => {
  it("never tracks more than maxKeys keys under a flood of fresh keys", () => {
    const { clock, store, policy, limiter } = setup({ maxKeys: 100 });
    let most = 0;
    for (let i = 0; i < 10_000; i++) {
      clock.nowMs = Math.floor(i / 100); // time moves, but no bucket refills fully
      limiter.consumeSync(`flood:${i}`);
      const n = store.size(policy);
      if (n > most) most = n;
      expect(n <= 100, `step ${i}: consumeSync("flood:${i}") left size()=${n}, want <= maxKeys 100`).toBe(true);
    }
    expect(most, "the table filled up to maxKeys").toBe(100);
  });

  it("a flood of fresh keys cannot reset a tracked client's empty bucket", async () => {
    const { clock, limiter } = setup({ maxKeys: 50 });
    for (let i = 0; i < 5; i++) await limiter.consume("alice");
    const before = await limiter.consume("alice");
    expect(before.allowed, `consume("alice") after 5 calls = ${show(before)} want denied`).toBe(false);
    // An LRU would evict alice here and hand her a full bucket on her next call.
    for (let i = 0; i < 5_000; i++) await limiter.consume(`attacker:${i}`);
    const after = await limiter.consume("alice");
    expect(
      [after.allowed, after.remaining, after.retryAfterMs],
      `consume("alice") at t=${clock.nowMs} after a flood of 5000 fresh keys = ${show(after)} want denied, 0 remaining, retry in 1000 ms`,
    ).toEqual([false, 0, 1000]);
    // Her bucket still refills as its math says: one token after one second.
    clock.nowMs = 1000;
    const later = await limiter.consume("alice");
    expect(
      [later.allowed, later.remaining],
      `consume("alice") at t=1000 = ${show(later)} want allowed, 0 left`,
    ).toEqual([true, 0]);
  });

  it("keys that arrive while the table is full share one overflow state, and onOverflow reports it", () => {
    const reports: Array<{ policy: string; trackedKeys: number }> = [];
    // A slow refill (one token per 10 s), so no tracked key becomes idle during the test.
    const { clock, store, policy, limiter } = setup({ maxKeys: 10, onOverflow: (info) => reports.push(info) }, 0.1);
    for (let i = 0; i < 10; i++) limiter.consumeSync(`tracked:${i}`);
    expect(store.size(policy)).toBe(10);
    expect(reports, "no overflow while keys fit").toEqual([]);
    // 20 fresh keys, 2 calls each: together they get the policy's limit (5) once.
    let allowed = 0;
    for (let i = 0; i < 20; i++) {
      for (let j = 0; j < 2; j++) if (limiter.consumeSync(`late:${i}`).allowed) allowed++;
    }
    expect(allowed, "40 calls from 20 overflow keys at one instant: allowed calls, want the capacity 5").toBe(5);
    expect(store.size(policy), "overflow keys are not tracked").toBe(10);
    expect(reports, "onOverflow at most once a second").toEqual([{ policy: "api", trackedKeys: 10 }]);
    // Tracked keys keep their own buckets: tracked:0 spent 1 of 5.
    const own = limiter.consumeSync("tracked:0");
    expect([own.allowed, own.remaining], `consumeSync("tracked:0") = ${show(own)} want allowed, 3 left`).toEqual([
      true,
      3,
    ]);
    clock.nowMs = 999;
    limiter.consumeSync("late:x");
    expect(reports.length, "no second report within the same second").toBe(1);
    clock.nowMs = 1000;
    limiter.consumeSync("late:y");
    expect(reports.length, "a second report one second later").toBe(2);
  });

  it("a throwing onOverflow does not break the decision", () => {
    const { limiter } = setup({
      maxKeys: 1,
      onOverflow: () => {
        throw new Error("callback failed");
      },
    });
    limiter.consumeSync("a");
    const d = limiter.consumeSync("b");
    expect([d.allowed, d.remaining], `consumeSync("b") in overflow = ${show(d)} want allowed, 4 left`).toEqual([
      true,
      4,
    ]);
  });

  it("validates maxKeys and onOverflow at construction", () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 16_000_001]) {
      expect(() => new MemoryStore({ maxKeys: bad }), `MemoryStore({ maxKeys: ${bad} })`).toThrow(FloodgateRangeError);
    }
    expect(() => new MemoryStore({ maxKeys: "10" as unknown as number })).toThrow(FloodgateTypeError);
    expect(() => new MemoryStore({ onOverflow: 5 as unknown as () => void })).toThrow(FloodgateTypeError);
    expect(() => new MemoryStore({ maxKeys: 16_000_000 })).not.toThrow();
    try {
      new MemoryStore({ maxKeys: 20_000_000 });
    } catch (e) {
      expect((e as FloodgateRangeError).code).toBe("ERR_INVALID_OPTION");
      expect((e as Error).message).toContain("maxKeys");
      expect((e as Error).message).toContain("20000000");
    }
  });
});

describe("MemoryStore idle keys", () => {
  it("drops idle keys lazily: only when new keys arrive and the table nears maxKeys, never by timer", () => {
    // maxKeys 1000: the soft watermark is 875 keys (7/8 of maxKeys).
    const { clock, store, policy, limiter } = setup({ maxKeys: 1000 });
    for (let i = 0; i < 500; i++) limiter.consumeSync(`old:${i}`);
    expect(store.size(policy)).toBe(500);
    // One token spent refills in 1 s; at t=10 s every old key holds no information.
    clock.nowMs = 10_000;
    limiter.consumeSync("old:0"); // a tracked key: no sweep
    expect(store.size(policy), "no new key arrived, so nothing was swept yet").toBe(500);
    for (let i = 0; i < 375; i++) limiter.consumeSync(`new:${i}`);
    expect(store.size(policy), "below the watermark (875) idle keys are kept: 500 old + 375 new").toBe(875);
    // A kept idle key answers exactly as a fresh one (full is fresh).
    const kept = limiter.consumeSync("old:499");
    expect([kept.allowed, kept.remaining, kept.resetAfterMs], `kept idle key "old:499" = ${show(kept)}`).toEqual([
      true,
      4,
      1000,
    ]);
    // From the watermark on, a new key checks 2 keys in insertion order (old:0, used at t=10 s, is not idle;
    // old:1 and the next are) and drops the idle ones: the table stays at the watermark, not above it.
    for (let i = 375; i < 600; i++) {
      limiter.consumeSync(`new:${i}`);
      const n = store.size(policy);
      expect(n <= 875, `after new:${i}: size() = ${n}, want at most the watermark 875`).toBe(true);
    }
    expect(store.size(policy) >= 874, `size() = ${store.size(policy)} want the watermark`).toBe(true);
    const again = limiter.consumeSync("old:1");
    expect([again.allowed, again.remaining], `dropped key "old:1" = ${show(again)} want a full bucket`).toEqual([
      true,
      4,
    ]);
  });

  it("a full table makes room from idle keys instead of sending new keys to overflow", () => {
    const { clock, store, policy, limiter } = setup({ maxKeys: 100 });
    for (let i = 0; i < 100; i++) limiter.consumeSync(`k:${i}`);
    clock.nowMs = 10_000;
    // Two fresh keys must get their own buckets, not one shared overflow state.
    for (const key of ["a", "b"]) {
      for (let i = 0; i < 5; i++) {
        const d = limiter.consumeSync(key);
        expect(d.allowed, `call ${i + 1}: consumeSync("${key}") = ${show(d)} want allowed`).toBe(true);
      }
      const d = limiter.consumeSync(key);
      expect(d.allowed, `call 6: consumeSync("${key}") = ${show(d)} want denied`).toBe(false);
    }
    expect(store.size(policy) <= 100, `size() = ${store.size(policy)} want <= 100`).toBe(true);
  });
});

describe("MemoryStore keys", () => {
  it("treats __proto__, constructor, hasOwnProperty, '', {} and 1 MB strings as ordinary, independent keys", async () => {
    const mb = "x".repeat(1 << 20);
    const keys = ["__proto__", "constructor", "hasOwnProperty", "toString", "", "{}", mb, `${mb.slice(1)}y`];
    const { store, policy, limiter } = setup();
    for (const key of keys) {
      const d = await limiter.consume(key, 2);
      expect([d.allowed, d.remaining], `consume(${JSON.stringify(key.slice(0, 20))}, 2) = ${show(d)}`).toEqual([
        true,
        3,
      ]);
    }
    expect(store.size(policy), "one state per key").toBe(keys.length);
    // Spending on one key leaves every other key as it was.
    const spent = await limiter.consume("__proto__", 3);
    expect([spent.allowed, spent.remaining]).toEqual([true, 0]);
    for (const key of keys.slice(1)) {
      const d = await limiter.peek(key);
      expect(d.remaining, `peek(${JSON.stringify(key.slice(0, 20))}) = ${show(d)} want 3 left`).toBe(3);
    }
    expect(Object.hasOwn(Object.prototype, "allowed"), "Object.prototype untouched").toBe(false);
    expect(({} as Record<string, unknown>).remaining).toBeUndefined();
  });

  it("size() counts per policy and in all; clear() forgets every key", () => {
    const clock = new Clock();
    const store = new MemoryStore();
    const perSecond = tokenBucket({ capacity: 2, refillRate: 1, name: "per-second" });
    const perDay = tokenBucket({ capacity: 100, refillRate: 100 / 86_400, name: "per-day" });
    const both = new RateLimiter({ policy: [perSecond, perDay], store, now: clock.now });
    const one = new RateLimiter({ policy: perSecond, store, now: clock.now });
    both.consumeSync("a");
    both.consumeSync("b");
    one.consumeSync("c");
    expect([store.size(perSecond), store.size(perDay), store.size()]).toEqual([3, 2, 5]);
    one.consumeSync("c");
    const d = one.consumeSync("c");
    expect(d.allowed, `third consumeSync("c") = ${show(d)} want denied`).toBe(false);
    store.clear();
    expect([store.size(perSecond), store.size(perDay), store.size()]).toEqual([0, 0, 0]);
    const fresh = one.consumeSync("c");
    expect([fresh.allowed, fresh.remaining], `consumeSync("c") after clear() = ${show(fresh)}`).toEqual([true, 1]);
  });

  it("equal policies share a key's state, and each decision names the policy object it was given", () => {
    const clock = new Clock();
    const store = new MemoryStore();
    const a = tokenBucket({ capacity: 5, refillRate: 1, name: "api" });
    const b = tokenBucket({ capacity: 5, refillRate: 1, name: "api" });
    const la = new RateLimiter({ policy: a, store, now: clock.now });
    const lb = new RateLimiter({ policy: b, store, now: clock.now });
    const calls: Array<[string, RateLimiter, unknown]> = [
      ["la", la, a],
      ["la", la, a],
      ["lb", lb, b],
      ["lb", lb, b],
      ["la", la, a],
    ];
    calls.forEach(([name, limiter, policy], i) => {
      const d = limiter.consumeSync("k");
      expect(
        d.remaining,
        `step ${i + 1}: ${name}.consumeSync("k") = ${show(d)} want ${4 - i} left (one shared bucket)`,
      ).toBe(4 - i);
      expect(d.policies[0]?.policy === policy, `step ${i + 1}: ${name}'s decision names its own policy object`).toBe(
        true,
      );
    });
    expect(store.size()).toBe(1);
  });

  it("peek creates no key", async () => {
    const { store, policy, limiter } = setup();
    await limiter.peek("ghost");
    expect(store.size(policy)).toBe(0);
  });
});
