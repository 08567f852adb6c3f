// core-hot-path.test.ts: the smooth token bucket's hot evaluate (smoothEvaluate) answers exactly as the full code
// (smoothEvaluateAll, the evaluate it replaced, unchanged) on every state, cost and time, and hands every case it
// does not decide to the full code; its helpers (ceilClearMs, floorTokens, waitGuard) agree with the definitions
// they shortcut. Issue 13: the hot body exists only so that V8 inlines it, so nothing here may differ by a bit.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ceilClearMs,
  EPSILON,
  floorTokens,
  type Outcome,
  type Policy,
  settleSide,
  WAIT_GUARD,
  waitGuard,
} from "../../src/core/policy.js";
import { smoothEvaluate, smoothEvaluateAll, tokenBucket } from "../../src/core/token-bucket.js";
import { RateLimiter } from "../../src/index.js";

/** Bucket is a smooth bucket's two evaluates built from the same numbers, and how often the hot one handed over. */
interface Bucket {
  hot: Policy["evaluate"];
  all: Policy["evaluate"];
  handed: { n: number };
}

function bucket(capacity: number, rate: number): Bucket {
  const msPerToken = 1000 / rate;
  const fullMs = capacity * msPerToken;
  const all = smoothEvaluateAll(capacity, rate, msPerToken, fullMs);
  const handed = { n: 0 };
  const counted: Policy["evaluate"] = (s, o, fresh, nowMs, cost, next, out) => {
    handed.n++;
    return all(s, o, fresh, nowMs, cost, next, out);
  };
  return { hot: smoothEvaluate(capacity, rate, msPerToken, fullMs, counted), all, handed };
}

/** Result is everything an evaluate hands back: its verdict, the outcome and the next state. */
interface Result {
  ok: boolean;
  out: Outcome;
  next: number[];
}

function run(f: Policy["evaluate"], state: number[], fresh: boolean, nowMs: number, cost: number): Result {
  // Scratch values that neither code path leaves as they are, so a field left unwritten shows.
  const out: Outcome = { allowed: true, remaining: -7, retryAfterMs: -7, resetAfterMs: -7, rebased: true };
  const next = [-7, -7];
  // The state sits at an offset, as in the memory store's slab.
  const s = Float64Array.from([-9, -9, ...state]);
  const ok = f(s, 2, fresh, nowMs, cost, next, out);
  expect([s[2], s[3]], "evaluate never writes the state it reads").toEqual(state);
  return { ok, out: { ...out }, next };
}

/** same reports whether two results agree bit for bit (Object.is: -0 is not 0, NaN is NaN). */
function same(a: Result, b: Result): boolean {
  const keys: (keyof Outcome)[] = ["allowed", "remaining", "retryAfterMs", "resetAfterMs", "rebased"];
  return (
    a.ok === b.ok &&
    keys.every((k) => Object.is(a.out[k], b.out[k])) &&
    Object.is(a.next[0], b.next[0]) &&
    Object.is(a.next[1], b.next[1])
  );
}

describe("smooth token bucket: the hot evaluate answers as the full one", () => {
  it("on random buckets, states, costs and times (fast-check)", () => {
    let decided = 0;
    let total = 0;
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 13, max: 1_000_000_000 })),
        fc.oneof(
          fc.record({ n: fc.integer({ min: 1, max: 30 }), m: fc.integer({ min: 1, max: 13 }) }).map((r) => r.n / r.m),
          fc.constantFrom(1 / 3600, 1000, 1_000_000),
        ),
        // (fc.double leans to tiny values; integers over a range give the middle of it its share.)
        fc.oneof(
          fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000),
          fc.double({ min: 0, max: 1, noNaN: true }),
        ),
        fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: 0, max: 5000 }).map((n) => n + 0.37) },
          fc.integer({ min: 0, max: 5000 }),
          fc.double({ min: -5000, max: 5000, noNaN: true }),
        ),
        fc.oneof(
          fc.constantFrom(0, 1e9, 1.764e12, -1e6),
          fc.integer({ min: -1e6, max: 1e6 }).map((n) => 1.764e12 + n * 1.37),
          fc.double({ min: -1e13, max: 1e13, noNaN: true, noDefaultInfinity: true }),
        ),
        fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: 1, max: 14 }) },
          fc.constant(0),
          fc.double({ min: 0, max: 14, noNaN: true }),
        ),
        fc.integer({ min: 0, max: 9 }),
        (capacity, rate, share, sinceMs, nowMs, cost, pick) => {
          const b = bucket(capacity, rate);
          const fresh = pick === 0;
          // Tokens from empty to full, and now and then within a few EPSILON of full.
          const tokens = pick === 1 ? capacity - EPSILON * share * 3 : share * capacity;
          const state = [tokens, nowMs - sinceMs];
          const before = b.handed.n;
          const hot = run(b.hot, state, fresh, nowMs, cost);
          const all = run(b.all, state, fresh, nowMs, cost);
          total++;
          if (b.handed.n === before) decided++;
          if (!same(hot, all)) {
            throw new Error(
              `evaluate(state=[${state}], fresh=${fresh}, now=${nowMs}, cost=${cost}) of capacity ${capacity}, rate ${rate}: hot ${JSON.stringify(hot)} want ${JSON.stringify(all)}`,
            );
          }
        },
      ),
      { numRuns: 20_000 },
    );
    // Most generated calls are common ones, which the hot body decides itself (else this test proves little).
    expect(decided / total).toBeGreaterThan(0.3);
  });

  // Each row: a step number, the bucket, the call, whether the hot body decides it, and why.
  const rows: [number, number, number, number[] | null, number, number, boolean, string][] = [
    // step, capacity, rate/s, state, now, cost, hot decides, why
    [1, 10, 1, [5, 1000], 2000, 1, true, "a kept bucket, a cost of 1: the common allowed call"],
    [2, 10, 1, [5, 2000], 2000, 1, true, "now equals the state's time: no refill term"],
    [3, 10, 1, [0.5, 1000], 1000, 1, true, "denied: both waits clear of a whole ms"],
    [4, 10, 1, [1 - EPSILON / 2, 1000], 1000, 1, true, "half an EPSILON short of the cost: allowed, as the full code"],
    [5, 10, 1, null, 1000, 1, false, "a fresh key: the full code"],
    [6, 10, 1, [5, 1000], 1000, 0, false, "a cost of 0 keeps the state: the full code"],
    [
      7,
      10,
      1,
      [5, 3000],
      2000,
      1,
      false,
      "the state's time is ahead of now (the clock went back): rebased by the full code",
    ],
    [8, 10, 1, [10 - EPSILON / 2, 1000], 1000, 1, true, "full within EPSILON answers as fresh, at capacity (issue 13)"],
    [9, 10, 1, [10, 0], 1e9, 1, false, "refilled past capacity: full, a reset of 1000 - EPSILON's share ms, settled"],
    [10, 3, 1000, [2, 1e12], 1e12, 1, false, "reset 2 - EPSILON ms at an epoch-sized now: within the guard, settled"],
    [11, 3, 1000, [2, 0], 0, 1, true, "the same wait at time 0: the guard is tiny, ceil(x) is the wait"],
    [12, 10, 1, [0.5, -5000], -4000, 1, true, "a negative clock (injected): the guard takes its magnitude"],
    [13, 3, 0.5, [1, 0], 0, 5, true, "a cost above capacity: denied, both waits estimated"],
    [14, 1_000_000_000, 1_000_000, [999_000_000.25, 1.764e12], 1.764e12 + 0.5, 1, true, "the bench's 1-key bucket"],
    [15, 1, 1 / 3600, [0, 1.764e12], 1.764e12 + 7.5, 1, true, "the bench's denied bucket"],
    // Issue 13, fourth pass: a full or nearly full bucket is decided by the hot body too (it was handed over, so V8's
    // feedback saw the full code hot and the hot body's helpers cold wherever buckets were mostly full).
    [16, 1_000_000_000, 1_000_000, [1_000_000_000, 1.764e12], 1.764e12 + 3, 1, true, "full: reset 1 ms (x < 1)"],
    [17, 1_000_000_000, 1_000_000, [999_999_998, 1.764e12], 1.764e12, 1, true, "3 tokens short of full: reset 1 ms"],
    [18, 10, 1000, [10, 5], 7.25, 1, true, "full, a 1 ms refill per token at a small clock: reset 1 ms"],
    [19, 3, 0.5, [3, 0], 1.764e12, 5, false, "full, a cost above capacity: denied, reset 0, the full code"],
    [20, 10, 1000, [9.999, 1.764e12], 1.764e12, 1, false, "reset just above 1 ms: within the guard, settled"],
    // The hot body's guard is waitGuard written out: a reset 1.0000000827e-9 below 2 ms sits just outside the guard
    // at |now| = 140,000 (guard 9.95e-10) and just inside at 155,000 (1.1013e-9), so a guard 10% off fails a row.
    [21, 3, 1000, [2, 140_000], 140_000, 1, true, "reset just outside the guard: ceil(x)"],
    [22, 3, 1000, [2, 155_000], 155_000, 1, false, "reset just inside the guard: settled"],
    [23, 3, 1000, [2, -140_000], -140_000, 1, true, "the same at a negative clock: the guard takes |now|"],
    [24, 3, 1000, [2, -155_000], -155_000, 1, false, "the same inside the guard at a negative clock"],
  ];
  for (const [step, capacity, rate, state, nowMs, cost, decides, why] of rows) {
    it(`step ${step}: ${why}`, () => {
      const b = bucket(capacity, rate);
      const fresh = state === null;
      const s = state ?? [0, 0];
      const hot = run(b.hot, s, fresh, nowMs, cost);
      const all = run(b.all, s, fresh, nowMs, cost);
      const call = `step ${step}: evaluate(state=${JSON.stringify(state)}, now=${nowMs}, cost=${cost})`;
      expect(same(hot, all), `${call} = ${JSON.stringify(hot)} want ${JSON.stringify(all)}`).toBe(true);
      expect(b.handed.n === 0, `${call}: decided by the hot body`).toBe(decides);
    });
  }

  it("is the evaluate of tokenBucket's smooth policies", () => {
    const p = tokenBucket({ capacity: 10, refillRate: 1 });
    const b = bucket(10, 1);
    for (const [state, now, cost] of [
      [[5, 1000], 2000, 1],
      [[0.5, 1000], 1000, 1],
      [[5, 3000], 2000, 0],
    ] as [number[], number, number][]) {
      expect(run(p.evaluate, state, false, now, cost)).toEqual(run(b.all, state, false, now, cost));
    }
  });
});

describe("the hot path's helpers agree with the definitions they shortcut", () => {
  const anyDouble = fc.oneof(
    fc.double({ noNaN: false }),
    fc.double({ min: -3, max: 3, noNaN: true }),
    fc
      .tuple(fc.integer({ min: -3, max: 3 }), fc.constantFrom(0, 1e-12, -1e-12, EPSILON, -EPSILON))
      .map(([n, e]) => n + e),
    fc.constantFrom(0, -0, 1, 1 - EPSILON, -EPSILON, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
  );

  it("the literals are EPSILON and WAIT_GUARD", () => {
    expect(EPSILON).toBe(1e-9);
    expect(waitGuard(0, 1)).toBe(WAIT_GUARD);
    expect(waitGuard(-3, 5)).toBe(8 * WAIT_GUARD);
  });

  it("floorTokens is the floor of x + EPSILON, never below 0 (as before issue 13)", () => {
    fc.assert(
      fc.property(anyDouble, (x) => {
        const f = Math.floor(x + EPSILON);
        expect(Object.is(floorTokens(x), f > 0 ? f : 0), `floorTokens(${x})`).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it("waitGuard is (|now| + longest) * WAIT_GUARD", () => {
    fc.assert(
      fc.property(anyDouble, fc.double({ min: 0, max: 1e12, noNaN: true }), (now, longest) => {
        expect(Object.is(waitGuard(now, longest), ((now < 0 ? -now : now) + longest) * WAIT_GUARD)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it("ceilClearMs claims a wait only where settleSide answers ceil(x)", () => {
    let claimed = 0;
    fc.assert(
      fc.property(
        anyDouble,
        fc.oneof(fc.constantFrom(0, 1e-15, 0.0125, 0.3), fc.double({ min: 0, max: 0.49 })),
        (x, guard) => {
          const r = ceilClearMs(x, guard);
          if (r > 0) {
            claimed++;
            expect(settleSide(x, guard), `settleSide(${x}, ${guard})`).toBe(0);
            expect(r).toBe(Math.ceil(x));
          }
        },
      ),
      { numRuns: 5000 },
    );
    expect(claimed).toBeGreaterThan(100);
    // Where it declines: x not positive, x within the guard of a whole ms on either side.
    expect(ceilClearMs(-0.5, 0.01)).toBeLessThanOrEqual(0);
    expect(ceilClearMs(1.995, 0.01)).toBe(0);
    expect(ceilClearMs(2.005, 0.01)).toBe(0);
    expect(ceilClearMs(2.5, 0.01)).toBe(3);
    // Just above 0 is 1 ms, as settleSide says (issue 13, fourth pass: it declined, so full buckets went the slow way).
    expect(ceilClearMs(0.001, 0.01)).toBe(1);
    expect(ceilClearMs(0.995, 0.01)).toBe(0);
  });
});

describe("RateLimiter with an injected clock: the hot path and the full one give the same decisions", () => {
  it("over a run of calls on a few keys", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ gapMs: fc.double({ min: 0, max: 3000, noNaN: true }), key: fc.integer({ min: 0, max: 2 }) }),
          {
            minLength: 1,
            maxLength: 60,
          },
        ),
        fc.constantFrom(0, 1.764e12),
        (calls, startMs) => {
          let t = startMs;
          const now = () => t;
          const policy = tokenBucket({ capacity: 5, refillRate: 10 / 13 });
          const a = new RateLimiter({ policy, now });
          // The reference: the full evaluate, run by hand on a state kept as the memory store keeps it.
          const b = bucket(5, 10 / 13);
          const states = new Map<number, number[]>();
          for (const [i, c] of calls.entries()) {
            t += c.gapMs;
            const d = a.consumeSync(`k${c.key}`);
            const s = states.get(c.key);
            const r = run(b.all, s ?? [0, 0], s === undefined, t, 1);
            if (r.ok || r.out.rebased) states.set(c.key, [...r.next]);
            const want = {
              allowed: r.out.allowed,
              remaining: r.out.remaining,
              retryAfterMs: r.out.retryAfterMs,
              resetAfterMs: r.out.resetAfterMs,
            };
            const got = {
              allowed: d.allowed,
              remaining: d.remaining,
              retryAfterMs: d.retryAfterMs,
              resetAfterMs: d.resetAfterMs,
            };
            expect(got, `step ${i + 1}: consumeSync("k${c.key}") at ${t}`).toEqual(want);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
