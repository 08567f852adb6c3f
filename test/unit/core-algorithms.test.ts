// core-algorithms.test.ts: contract edges every algorithm shares (core/policy.ts): a fresh key ignores whatever
// the state array holds, a refund of a fresh key writes nothing, and a call at the state's own time is no rebase.
// Found missing by mutation testing (`npm run mutate`, docs/architecture.md).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Applied, applyPolicy, refundPolicy } from "../../src/core/apply.js";
import { fixedWindow } from "../../src/core/fixed-window.js";
import { gcra } from "../../src/core/gcra.js";
import { leakyBucket } from "../../src/core/leaky-bucket.js";
import { live, migrateState, replaceLive } from "../../src/core/live.js";
import { newOutcome, type Policy } from "../../src/core/policy.js";
import { slidingLog } from "../../src/core/sliding-log.js";
import { slidingWindow } from "../../src/core/sliding-window.js";
import { tokenBucket } from "../../src/core/token-bucket.js";

/** One policy of each algorithm; windows of 600 ms so that 6000 is a boundary of each. */
const policies = (): Policy[] => [
  tokenBucket({ capacity: 5, refillRate: 2 }),
  tokenBucket({ capacity: 5, refillAmount: 2, refillIntervalMs: 600 }),
  gcra({ limit: 5, periodMs: 600 }),
  leakyBucket({ capacity: 5, leakRate: 2 }),
  fixedWindow({ limit: 5, windowMs: 600 }),
  slidingWindow({ limit: 5, windowMs: 600 }),
  slidingLog({ limit: 5, windowMs: 600 }),
];
const NAMES = policies().map((p) => p.algorithm.code);

describe("a fresh key ignores the state array", () => {
  for (const [i, code] of NAMES.entries()) {
    it(`${code}: evaluate(junk, fresh) decides as evaluate([], fresh), and refund(junk, fresh) writes nothing`, () => {
      const p = policies()[i] as Policy;
      fc.assert(
        fc.property(
          fc.array(fc.oneof(fc.integer({ min: -5, max: 10_000 }), fc.double({ min: -1e4, max: 1e4, noNaN: true })), {
            minLength: 6,
            maxLength: 6,
          }),
          fc.integer({ min: 0, max: 20_000 }),
          fc.integer({ min: 0, max: 5 }),
          (junk, now, cost) => {
            const want = newOutcome();
            const wantNext: number[] = [];
            const wantOk = p.evaluate([], 0, true, now, cost, wantNext, want);
            const got = newOutcome();
            const gotNext: number[] = [];
            const gotOk = p.evaluate(junk, 0, true, now, cost, gotNext, got);
            const where = `${p.id}: evaluate(${JSON.stringify(junk)}, fresh, at=${now}, cost=${cost})`;
            expect([gotOk, got, gotNext], where).toEqual([wantOk, want, wantNext]);
            const refunded: number[] = [];
            expect(p.refund(junk, 0, true, now, 1, refunded), `${p.id}: refund of a fresh key`).toBe(false);
            expect(refunded, `${p.id}: refund of a fresh key wrote`).toEqual([]);
          },
        ),
      );
    });
  }
});

describe("evaluate returns out.allowed", () => {
  for (const [i, code] of NAMES.entries()) {
    it(`${code}: over random calls, the return value is the verdict written to out`, () => {
      const p = policies()[i] as Policy;
      fc.assert(
        fc.property(
          fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 700 }), cost: fc.integer({ min: 0, max: 5 }) }), {
            maxLength: 20,
          }),
          (calls) => {
            let state: number[] = [];
            let fresh = true;
            let now = 6000;
            for (const c of calls) {
              now += c.gapMs;
              const out = newOutcome();
              const next: number[] = [];
              const ok = p.evaluate(state, 0, fresh, now, c.cost, next, out);
              expect(
                ok,
                `${p.id}: evaluate(at=${now}, cost=${c.cost}) returned ${ok}, out ${JSON.stringify(out)}`,
              ).toBe(out.allowed);
              if ((ok && c.cost > 0) || out.rebased) {
                state = next;
                fresh = false;
              }
            }
          },
        ),
      );
    });
  }
});

describe("a call at the state's own time is no rebase", () => {
  for (const [i, code] of NAMES.entries()) {
    it(`${code}: consume at 6000 (a boundary), then peek and consume at 6000: rebased stays false`, () => {
      const p = policies()[i] as Policy;
      const state: number[] = [];
      const out = newOutcome();
      expect(p.evaluate(state, 0, true, 6000, 1, state, out), `${p.id}: first call`).toBe(true);
      expect(out.rebased, `${p.id}: a fresh key`).toBe(false);
      for (const cost of [0, 1]) {
        const next: number[] = [];
        p.evaluate(state, 0, false, 6000, cost, next, out);
        expect(out.rebased, `${p.id}: cost ${cost} at the state's own time ${JSON.stringify(state)}`).toBe(false);
      }
    });
  }
});

describe("refundPolicy returns the state itself when there is nothing to give back", () => {
  it("fixedWindow: a refund at the window's end (or later) leaves the spent window as it was", () => {
    const p = fixedWindow({ limit: 5, windowMs: 100 });
    const state = Object.freeze([1000, 2]);
    expect(refundPolicy(p, state, 1100, 1), "at the end").toBe(state);
    expect(refundPolicy(p, state, 1250, 1), "later").toBe(state);
    expect(refundPolicy(p, state, 1099, 1), "the last ms of the window").toEqual([1000, 1]);
  });
});

describe("a live replacement starts a full state fresh and carries a partial one", () => {
  // Each row: the policy before and after (limit doubled, as-is), and the state written by 3 units at 0 migrated at 50
  // (part of it spent still) and at 5000 (full again: nothing to carry, null).
  const rows: [string, () => Policy, () => Policy, number[]][] = [
    [
      "gc",
      () => gcra({ limit: 10, periodMs: 1000 }),
      () => gcra({ limit: 20, periodMs: 1000 }),
      [2, 50, 1000, 20, 13.5],
    ],
    [
      "lb",
      () => leakyBucket({ capacity: 10, leakRate: 10 }),
      () => leakyBucket({ capacity: 20, leakRate: 10 }),
      [2, 20, 10, 0, 12.5, 50],
    ],
    [
      "tb",
      () => tokenBucket({ capacity: 10, refillRate: 10 }),
      () => tokenBucket({ capacity: 20, refillRate: 10 }),
      [2, 20, 10, 0, 7.5, 50],
    ],
    [
      "ts",
      () => tokenBucket({ capacity: 10, refillAmount: 1, refillIntervalMs: 100 }),
      () => tokenBucket({ capacity: 20, refillAmount: 1, refillIntervalMs: 100 }),
      [2, 20, 1, 100, 7, 0],
    ],
    [
      "sw",
      () => slidingWindow({ limit: 10, windowMs: 1000 }),
      () => slidingWindow({ limit: 20, windowMs: 1000 }),
      [2, 20, 1000, 0, 0, 0, 13],
    ],
  ];
  for (const [code, before, after, at50] of rows) {
    it(`${code}: migrateState at 50 = ${JSON.stringify(at50)}, at 5000 null`, () => {
      const v1 = live(before());
      const v2 = replaceLive(v1, after());
      const state = applyPolicy(v1, null, 0, 3).state;
      expect(migrateState(v2, state, 50), "at 50: 3 units spent, part of them back").toEqual(at50);
      expect(migrateState(v2, state, 5000), "at 5000: full again, nothing to carry").toBe(null);
    });
  }
});

describe("gcra at its edges", () => {
  const T = 1_700_000_000_000; // at epoch times the rounding slack (7.5e-6 of a unit here) is above EPSILON
  const policy = () => gcra({ limit: 10, periodMs: 1000 });
  const fields = (r: Applied) => [r.allowed, r.remaining, r.retryAfterMs, r.resetAfterMs, r.rebased];
  it("a denial at epoch time counts remaining from the units ahead, the slack forgiven: 6, not 5", () => {
    const p = policy();
    const a = applyPolicy(p, null, T, 4);
    expect(fields(applyPolicy(p, a.state, T, 8))).toEqual([false, 6, 200, 400, false]);
  });
  it("a call at the state's own epoch time, with the burst spent exactly, is no rebase", () => {
    const p = policy();
    const a = applyPolicy(p, null, T, 10);
    expect(fields(applyPolicy(p, a.state, T, 0))).toEqual([true, 0, 0, 1000, false]);
    expect(fields(applyPolicy(p, a.state, T, 1))).toEqual([false, 0, 100, 1000, false]);
  });
  it("a peek is allowed with tat a hair beyond the tolerance (short of the rebase threshold); a unit is not", () => {
    const p = policy();
    const tat = T / 100 + 10 + 1.2e-5;
    expect(fields(applyPolicy(p, [tat], T, 0))).toEqual([true, 0, 0, 1001, false]);
    expect(fields(applyPolicy(p, [tat], T, 1))).toEqual([false, 0, 101, 1001, false]);
  });
  it("a peek of a stored state that is full again resets in 0 ms", () => {
    const p = policy();
    const a = applyPolicy(p, null, 0, 1);
    expect(fields(applyPolicy(p, a.state, 5000, 0))).toEqual([true, 10, 0, 0, false]);
  });
  it("a refund after the clock went back caps tat at the burst ahead of now first", () => {
    const p = policy();
    const a = applyPolicy(p, null, 10_000, 10);
    const back = refundPolicy(p, a.state, 5000, 1);
    expect(back).toEqual([59]);
    expect(fields(applyPolicy(p, back, 5000, 0))).toEqual([true, 1, 0, 900, false]);
  });
  it("a refund of more than was spent leaves tat at now, which a clock stepping back then finds ahead", () => {
    const p = policy();
    const a = applyPolicy(p, null, 1000, 2);
    const refunded = refundPolicy(p, a.state, 1000, 5);
    expect(refunded).toEqual([10]);
    expect(fields(applyPolicy(p, refunded, 900, 0))).toEqual([true, 9, 0, 100, false]);
  });
});

describe("sliding window and leaky bucket at their edges", () => {
  const fields = (r: Applied) => [r.allowed, r.remaining, r.retryAfterMs, r.resetAfterMs, r.rebased];
  it("slidingWindow: a refund of more than the current count leaves 0, never a negative count", () => {
    const p = slidingWindow({ limit: 10, windowMs: 1000 });
    const refunded = refundPolicy(p, applyPolicy(p, null, 0, 3).state, 0, 5);
    expect(refunded).toEqual([0, 0, 0]);
    expect(fields(applyPolicy(p, refunded, 0, 0))).toEqual([true, 10, 0, 0, false]);
  });
  it("slidingWindow: a live replacement scales both counts, rebases a time before the window, and recounts another length", () => {
    const v1 = live(slidingWindow({ limit: 10, windowMs: 1000 }));
    const v2 = replaceLive(v1, slidingWindow({ limit: 20, windowMs: 1000 }));
    const v3 = replaceLive(v1, slidingWindow({ limit: 20, windowMs: 500 }), { version: 3 });
    const state = applyPolicy(v1, applyPolicy(v1, null, 500, 4).state, 1200, 3).state;
    expect(state, "4 in [0, 1000), 3 in [1000, 2000)").toEqual([1, 10, 1000, 0, 1000, 4, 3]);
    expect(migrateState(v2, state, 1500), "estimate 5 of 10; as-is 15 of 20 left: 5 used, shaped 4:3").toEqual([
      2, 20, 1000, 0, 1000, 12, 9,
    ]);
    expect(migrateState(v2, state, 900), "before the window: rebased to 900, the previous count weighs fully").toEqual([
      2,
      20,
      1000,
      0,
      900,
      68 / 7,
      51 / 7,
    ]);
    expect(migrateState(v3, state, 1500), "another length: the used part counted in the current window").toEqual([
      3, 20, 500, 0, 1500, 0, 15,
    ]);
  });
  it("leakyBucket: a refund after the clock went back keeps the level it had, less the refund", () => {
    const p = leakyBucket({ capacity: 10, leakRate: 10 });
    const back = refundPolicy(p, applyPolicy(p, null, 10_000, 6).state, 9000, 1);
    expect(back).toEqual([5, 9000]);
    expect(fields(applyPolicy(p, back, 9000, 0))).toEqual([true, 5, 0, 500, false]);
  });
});

describe("the stepped token bucket at its edges", () => {
  const fields = (r: Applied) => [r.allowed, r.remaining, r.retryAfterMs, r.resetAfterMs, r.rebased];
  const policy = () => tokenBucket({ capacity: 5, refillAmount: 1, refillIntervalMs: 100 });
  it("a refund after the clock went back keeps the tokens and restarts the interval at that time", () => {
    const p = policy();
    const back = refundPolicy(p, applyPolicy(p, null, 1000, 4).state, 900, 1);
    expect(back).toEqual([2, 900]);
    expect(fields(applyPolicy(p, back, 900, 0))).toEqual([true, 2, 0, 300, false]);
  });
  it("a refund later adds the whole steps passed and keeps the phase", () => {
    const p = policy();
    const later = refundPolicy(p, applyPolicy(p, null, 1000, 4).state, 1250, 1);
    expect(later).toEqual([4, 1200]);
    expect(fields(applyPolicy(p, later, 1250, 0))).toEqual([true, 4, 0, 50, false]);
  });
  it("a live replacement rebases a state whose last step is ahead of the time, and counts the steps passed", () => {
    const v1 = live(policy());
    const v2 = replaceLive(v1, tokenBucket({ capacity: 10, refillAmount: 1, refillIntervalMs: 100 }));
    const state = applyPolicy(v1, null, 1000, 4).state;
    expect(migrateState(v2, state, 900)).toEqual([2, 10, 1, 100, 1, 900]);
    expect(migrateState(v2, state, 1250)).toEqual([2, 10, 1, 100, 3, 1200]);
  });
});
