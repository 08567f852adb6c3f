// core-helpers.test.ts: the small shared pieces of src/core, each with its edges: the wait helpers of policy.ts,
// error values and classes, the clock checks, decisions, applyPolicy/refundPolicy, the policy check and brand,
// and the option validators. Found missing by mutation testing (`npm run mutate`, docs/architecture.md).

import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { definePolicy, isBranded, POLICY_BRAND } from "../../src/core/algorithm.js";
import { applyPolicy, refundPolicy } from "../../src/core/apply.js";
import {
  badClock,
  checkClockOption,
  defaultTimers,
  MAX_TIMER_MS,
  monotonicNow,
  readClock,
} from "../../src/core/clock.js";
import { combineDecision, singleDecision } from "../../src/core/decision.js";
import { FloodgateError, FloodgateRangeError, FloodgateTypeError, describe as show } from "../../src/core/errors.js";
import { fixedWindow } from "../../src/core/fixed-window.js";
import { gcra } from "../../src/core/gcra.js";
import {
  alignedStartMs,
  bucketNextUnitMs,
  ceilMs,
  EPSILON,
  FIX_STEPS,
  floorTokens,
  newOutcome,
  type Outcome,
  type Policy,
  scaleLimit,
  settleSide,
  untilMs,
  WAIT_GUARD,
} from "../../src/core/policy.js";
import { checkPolicies, checkPolicy } from "../../src/core/registry.js";
import { slidingLog } from "../../src/core/sliding-log.js";
import { TOKEN_BUCKET, tokenBucket } from "../../src/core/token-bucket.js";
import {
  checkCost,
  checkKey,
  checkNow,
  checkOptions,
  integerOption,
  MAX_DURATION_MS,
  MAX_LIMIT,
  MAX_RATE,
  nameOption,
  numberOption,
  suggest,
} from "../../src/core/validate.js";
import { budget } from "./budget.js";

/** caught runs f and returns what it threw, failing when it returned. */
function caught(call: string, f: () => unknown): Error & { code?: string; cause?: unknown } {
  try {
    const r = f();
    throw new Error(`${call} returned ${JSON.stringify(r)}, want an error`);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith(`${call} returned`)) throw e;
    return e as Error & { code?: string };
  }
}

describe("policy.ts: the constants every engine shares", () => {
  it("EPSILON is 1e-9 of a token, WAIT_GUARD 2^-47, FIX_STEPS 8 (the Lua twins use the same numbers)", () => {
    expect([EPSILON, WAIT_GUARD, FIX_STEPS]).toEqual([1e-9, 2 ** -47, 8]);
    expect(newOutcome()).toEqual({ allowed: false, remaining: 0, retryAfterMs: 0, resetAfterMs: 0, rebased: false });
  });
});

describe("settleSide: how an estimated wait is settled", () => {
  // Each row: x, guard, the side, and why.
  const rows: [number, number, number, string][] = [
    [0, 1e-6, 2, "not positive: found from 1 ms on"],
    [-3, 1e-6, 2, "negative: found from 1 ms on"],
    [Number.NaN, 1e-6, 2, "NaN is not positive"],
    [5, 1e-6, 1, "on a whole ms: ceil(5) if the test passes there"],
    [4.9999999, 1e-6, 1, "1e-7 below 5, within the guard"],
    [4.75, 0.25, 1, "exactly the guard below 5 still counts as on it"],
    [4.5, 1e-6, 0, "clear of both whole ms: ceil"],
    [4.7, 0.25, 0, "0.3 below 5, beyond a guard of 0.25"],
    [4.0000001, 1e-6, -1, "1e-7 above 4: maybe 4"],
    [4.25, 0.25, -1, "exactly the guard above 4 counts as near 4"],
    [4.3, 0.25, 0, "0.3 above 4, beyond the guard"],
    [0.0000001, 1e-6, 0, "just above 0: 1 ms, never 0"],
  ];
  for (const [i, [x, guard, want, why]] of rows.entries()) {
    it(`step ${i + 1}: settleSide(${x}, ${guard}) = ${want}: ${why}`, () => {
      expect(settleSide(x, guard), why).toBe(want);
    });
  }
});

describe("the rounding helpers", () => {
  it("floorTokens floors, forgiving EPSILON below a whole number, never below 0", () => {
    const rows: [number, number, string][] = [
      [2.5, 2, "a fraction is dropped"],
      [3 - 1e-10, 3, "a hair below 3 is 3"],
      [3 - 2e-9, 2, "more than EPSILON below 3 is 2"],
      [3, 3, "whole"],
      [-0.5, 0, "never negative"],
      [-5, 0, "never negative"],
      [0, 0, "zero"],
    ];
    for (const [x, want, why] of rows) expect(floorTokens(x), `floorTokens(${x}): ${why}`).toBe(want);
  });

  it("ceilMs rounds up, never below 0", () => {
    const rows: [number, number][] = [
      [1.2, 2],
      [5, 5],
      [0, 0],
      [-3, 0],
      [-0.5, 0],
      [0.001, 1],
    ];
    for (const [x, want] of rows) expect(ceilMs(x), `ceilMs(${x})`).toBe(want);
  });

  it("scaleLimit floors the scaled limit, at least 1", () => {
    const rows: [number, number, number][] = [
      [10, 0.25, 2],
      [10, 0.01, 1],
      [3, 0.5, 1],
      [4, 0.5, 2],
      [100, 0.999, 99],
    ];
    for (const [limit, scale, want] of rows)
      expect(scaleLimit(limit, scale), `scaleLimit(${limit}, ${scale})`).toBe(want);
  });

  it("bucketNextUnitMs: one unit when full; else the last unit's time less the others, within [0, one unit]", () => {
    const rows: [number, number, number, number, string][] = [
      [0, 0, 500, 500, "full: one unit"],
      [0, -1, 333.3, 334, "over full (never, but safe): one unit, rounded up"],
      [1500, 3, 500, 500, "the last of 3 at 1500, the next at 500"],
      [1200, 3, 500, 200, "the next at 200"],
      [900, 3, 500, 0, "already due"],
      [800, 1, 500, 500, "never more than one unit"],
      [1, 1, 500, 1, "1 ms"],
    ];
    for (const [reset, missing, unit, want, why] of rows) {
      expect(bucketNextUnitMs(reset, missing, unit), `bucketNextUnitMs(${reset}, ${missing}, ${unit}): ${why}`).toBe(
        want,
      );
    }
  });
});

describe("untilMs: the exact wait until a time", () => {
  const rows: [number, number, number, string][] = [
    [1000, 0, 1000, "a whole difference"],
    [1000.5, 0, 1001, "a fraction rounds up"],
    [1000, 1000, 0, "already there"],
    [1000, 1500, 0, "in the past: 0, never negative"],
    [1_700_000_000_000.5, 1_700_000_000_000, 1, "half a ms at epoch time"],
    [4097.6, 4095.6, 2, "the difference rounds to 2.0000000000000004, yet 4095.6 + 2 reaches 4097.6"],
    [8192.130000000001, 8188.13, 4, "rounds to 4.000000000000001, yet 8188.13 + 4 reaches it"],
    [1026.1100000000001, 1023.11, 3, "the same above 1024"],
    [
      9723.254,
      8089.254,
      1634,
      "1634.000000000001 rounds up to 1635, yet 8089.254 + 1634 reaches it: settled from 1635",
    ],
  ];
  for (const [i, [end, now, want, why]] of rows.entries()) {
    it(`step ${i + 1}: untilMs(${end}, ${now}) = ${want}: ${why}`, () => {
      const r = untilMs(end, now);
      expect(r, why).toBe(want);
      expect(now + r >= end, `${now} + ${r} reaches ${end}`).toBe(true);
      if (r > 0) expect(now + (r - 1) < end, `${now} + ${r - 1} does not`).toBe(true);
    });
  }

  it("property: untilMs is the smallest whole r >= 0 with now + r >= end", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e13, max: 1e13, noNaN: true }),
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        (now, delta) => {
          const end = now + delta;
          const r = untilMs(end, now);
          const where = `untilMs(${end}, ${now}) = ${r}`;
          expect(Number.isInteger(r) && r >= 0, where).toBe(true);
          expect(now + r >= end, where).toBe(true);
          if (r > 0) expect(now + (r - 1) < end, where).toBe(true);
        },
      ),
      { numRuns: budget(500, 100) },
    );
  });
});

describe("alignedStartMs: the start of the aligned window holding a time", () => {
  const rows: [number, number, number, string][] = [
    [1234, 1000, 1000, "inside [1000, 2000)"],
    [1000, 1000, 1000, "a boundary starts its own window"],
    [999, 1000, 0, "the ms before it"],
    [-1, 1000, -1000, "before 0"],
    [0.5, 1, 0, "a fraction of a ms"],
  ];
  for (const [now, w, want, why] of rows) {
    it(`alignedStartMs(${now}, ${w}) = ${want}: ${why}`, () => expect(alignedStartMs(now, w)).toBe(want));
  }

  // Where the division rounds up to the next whole number (far past 2^53), the multiple is above the time: one
  // window earlier holds it.
  it("never returns a start above the time, even where the division rounds up", () => {
    for (const [now, w] of [
      [2153937054972119800, 60000],
      [8661133667108579000, 60000],
      [133420518473529590000, 86400000],
    ] as const) {
      expect(Math.floor(now / w) * w > now, `the case: floor(${now} / ${w}) * ${w} is above ${now}`).toBe(true);
      const start = alignedStartMs(now, w);
      expect(start <= now && now < start + w, `alignedStartMs(${now}, ${w}) = ${start}`).toBe(true);
    }
  });
});

describe("errors.ts", () => {
  it("describe renders values for messages", () => {
    const long = "x".repeat(65);
    const rows: [unknown, string][] = [
      ["abc", '"abc"'],
      ["x".repeat(64), JSON.stringify("x".repeat(64))],
      [long, JSON.stringify(`${"x".repeat(64)}…`)],
      [5n, "5n"],
      [-0, "-0"],
      [0, "0"],
      [Number.NaN, "NaN"],
      [-1.5, "-1.5"],
      [null, "null"],
      [undefined, "undefined"],
      [true, "true"],
      [false, "false"],
      [() => 1, "a function"],
      [[1], "an array"],
      [{ a: 1 }, "an object"],
      [Symbol("s"), "symbol"],
    ];
    for (const [value, want] of rows) expect(show(value), String(want)).toBe(want);
  });

  it("each class has its name, code, cause and parent class, and a brand that is not enumerable", () => {
    const cause = new Error("under");
    for (const [Cls, Parent, name] of [
      [FloodgateRangeError, RangeError, "FloodgateRangeError"],
      [FloodgateTypeError, TypeError, "FloodgateTypeError"],
      [FloodgateError, Error, "FloodgateError"],
    ] as const) {
      const e = new Cls("ERR_STORE", "floodgate: m", { cause });
      expect([e.name, e.code, e.message, e.cause], name).toEqual([name, "ERR_STORE", "floodgate: m", cause]);
      expect(e instanceof Parent, `${name} is a ${Parent.name}`).toBe(true);
      const brand = Object.getOwnPropertyDescriptor(e, Symbol.for("floodgate.error"));
      expect([brand?.value, brand?.enumerable], name).toEqual([name, false]);
    }
  });

  it("instanceof checks the brand, so an error of another copy of floodgate is recognised and others are not", () => {
    const other = (cls: string) => Object.assign(new Error("x"), { [Symbol.for("floodgate.error")]: cls });
    expect(other("FloodgateRangeError") instanceof FloodgateRangeError).toBe(true);
    expect(other("FloodgateTypeError") instanceof FloodgateTypeError).toBe(true);
    expect(other("FloodgateError") instanceof FloodgateError).toBe(true);
    expect(other("FloodgateTypeError") instanceof FloodgateRangeError, "another class's brand").toBe(false);
    expect(other("FloodgateRangeError") instanceof FloodgateError, "another class's brand").toBe(false);
    expect(new RangeError("x") instanceof FloodgateRangeError, "a plain RangeError").toBe(false);
    for (const Cls of [FloodgateRangeError, FloodgateTypeError, FloodgateError]) {
      expect((null as unknown as object) instanceof Cls, "null").toBe(false);
      expect((5 as unknown as object) instanceof Cls, "a number").toBe(false);
      expect((undefined as unknown as object) instanceof Cls, "undefined").toBe(false);
    }
  });
});

describe("clock.ts", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("monotonicNow reads epoch-like ms that never go backwards; MAX_TIMER_MS is 2^31 - 1", () => {
    const a = monotonicNow();
    const b = monotonicNow();
    expect(b >= a, `${b} after ${a}`).toBe(true);
    expect(Math.abs(a - Date.now()) < 60_000, `${a} near Date.now()`).toBe(true);
    expect(MAX_TIMER_MS).toBe(2147483647);
  });

  it("defaultTimers are the runtime's setTimeout and clearTimeout", () => {
    vi.useFakeTimers();
    const fired: string[] = [];
    defaultTimers.setTimeout(() => fired.push("a"), 10);
    const h = defaultTimers.setTimeout(() => fired.push("b"), 10);
    defaultTimers.clearTimeout(h);
    vi.advanceTimersByTime(9);
    expect(fired, "not before 10 ms").toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired, "a at 10 ms; b was cleared").toEqual(["a"]);
  });

  it("checkClockOption takes undefined or a function, and names the option and the fix otherwise", () => {
    const f = () => 1;
    expect(checkClockOption("RateLimiter", undefined)).toBeUndefined();
    expect(checkClockOption("RateLimiter", f)).toBe(f);
    const e = caught("checkClockOption", () => checkClockOption("RateLimiter", 5));
    expect([e.name, e.code, e.message]).toEqual([
      "FloodgateTypeError",
      "ERR_INVALID_OPTION",
      "floodgate: RateLimiter({ now }) must be a function returning milliseconds, got 5; pass () => Date.now() or leave it out for the monotonic default.",
    ]);
  });

  it("readClock returns the clock's time, and fails with ERR_INVALID_CLOCK for a clock that throws or returns no finite number", () => {
    expect(readClock("RateLimiter", () => 42.5)).toBe(42.5);
    expect(readClock("RateLimiter", () => -7)).toBe(-7);
    const boom = new Error("boom");
    const threw = caught("readClock", () =>
      readClock("HttpRateLimit", () => {
        throw boom;
      }),
    );
    expect([threw.name, threw.code, threw.cause]).toEqual(["FloodgateTypeError", "ERR_INVALID_CLOCK", boom]);
    expect(threw.message).toBe(
      "floodgate: HttpRateLimit({ now }) threw when called; an injected clock must return the time in milliseconds, such as performance.timeOrigin + performance.now().",
    );
    const tail =
      "; an injected clock must return a finite number of milliseconds, such as performance.timeOrigin + performance.now().";
    for (const [value, says] of [
      [Number.NaN, "returned NaN"],
      [Number.POSITIVE_INFINITY, "returned Infinity"],
      [Number.NEGATIVE_INFINITY, "returned -Infinity"],
      ["5", 'returned "5" (string)'],
      [undefined, "returned undefined (undefined)"],
      [5n, "returned 5n (bigint)"],
    ] as const) {
      const e = caught(`readClock(${String(value)})`, () => readClock("RateLimiter", () => value as never));
      expect([e.code, e.message], String(value)).toEqual([
        "ERR_INVALID_CLOCK",
        `floodgate: RateLimiter({ now }) ${says}${tail}`,
      ]);
      const direct = caught("badClock", () => badClock("RateLimiter", value));
      expect(direct.message, `badClock(${String(value)})`).toBe(e.message);
    }
  });
});

describe("decision.ts", () => {
  const a = tokenBucket({ name: "a", capacity: 10, refillRate: 1 });
  const b = fixedWindow({ name: "b", limit: 5, windowMs: 1000 });
  const c = gcra({ name: "c", limit: 3, periodMs: 300 });
  const out = (allowed: boolean, remaining: number, retryAfterMs: number, resetAfterMs: number): Outcome => ({
    allowed,
    remaining,
    retryAfterMs,
    resetAfterMs,
  });

  it("singleDecision copies the outcome, lists the policy, and adds degraded only when given", () => {
    const o = out(true, 7, 0, 3000);
    const d = singleDecision(a, o);
    expect(d).toEqual({
      allowed: true,
      limit: 10,
      remaining: 7,
      retryAfterMs: 0,
      resetAfterMs: 3000,
      policy: "a",
      policies: [{ policy: a, allowed: true, limit: 10, remaining: 7, retryAfterMs: 0, resetAfterMs: 3000 }],
    });
    expect("degraded" in d, "no degraded key").toBe(false);
    o.remaining = 0;
    expect(d.remaining, "a copy: the scratch outcome may be reused").toBe(7);
    const g = singleDecision(a, out(false, 0, 50, 900), "fail-closed");
    expect([g.allowed, g.retryAfterMs, g.resetAfterMs, g.degraded, g.policies.length]).toEqual([
      false,
      50,
      900,
      "fail-closed",
      1,
    ]);
  });

  // Each row: the verdict, the outcomes of a, b, c, the tightest policy's name and the top-level fields, and why.
  const rows: [boolean, Outcome[], string, [number, number, number, number], string][] = [
    [true, [out(true, 7, 0, 3000), out(true, 2, 0, 400), out(true, 1, 0, 200)], "c", [3, 1, 0, 200], "least remaining"],
    [true, [out(true, 2, 0, 3000), out(true, 2, 0, 400), out(true, 3, 0, 0)], "a", [10, 2, 0, 3000], "ties: the first"],
    [true, [out(true, 5, 0, 1), out(true, 4, 0, 2), out(true, 4, 0, 3)], "b", [5, 4, 0, 2], "b ties c, listed first"],
    [
      false,
      [out(true, 1, 0, 9000), out(false, 0, 400, 400), out(false, 0, 300, 600)],
      "b",
      [5, 0, 400, 400],
      "the longest wait among the denials; a admits but is not the tightest",
    ],
    [
      false,
      [out(false, 0, 100, 900), out(true, 0, 0, 400), out(false, 0, 100, 600)],
      "a",
      [10, 0, 100, 900],
      "equal waits: the first denial",
    ],
    [
      false,
      [out(true, 5, 0, 0), out(true, 4, 0, 0), out(false, 1, 250, 300)],
      "c",
      [3, 1, 250, 300],
      "the only denial, listed last",
    ],
    [
      false,
      [out(true, 5, 0, 0), out(true, 4, 0, 0), out(true, 3, 0, 0)],
      "a",
      [10, 5, 0, 0],
      "denied with no policy denying (never, but safe): the first, and no wait",
    ],
  ];
  for (const [i, [allowed, outs, name, [limit, remaining, retryAfterMs, resetAfterMs], why]] of rows.entries()) {
    it(`step ${i + 1}: combineDecision(allowed=${allowed}): ${why}`, () => {
      const d = combineDecision([a, b, c], outs, allowed);
      expect([d.allowed, d.policy, d.limit, d.remaining, d.retryAfterMs, d.resetAfterMs], why).toEqual([
        allowed,
        name,
        limit,
        remaining,
        retryAfterMs,
        resetAfterMs,
      ]);
      expect(
        d.policies.map((p) => [p.policy.name, p.allowed, p.limit, p.remaining, p.retryAfterMs, p.resetAfterMs]),
        "each policy as it stands",
      ).toEqual(
        outs.map((o, j) => [[a, b, c][j]!.name, o.allowed, [10, 5, 3][j], o.remaining, o.retryAfterMs, o.resetAfterMs]),
      );
      expect("degraded" in d, "no degraded key").toBe(false);
    });
  }

  it("combineDecision adds degraded when given", () => {
    const d = combineDecision([a, b], [out(true, 1, 0, 1), out(true, 1, 0, 1)], true, "insurance");
    expect(d.degraded).toBe("insurance");
  });
});

describe("applyPolicy and refundPolicy", () => {
  const p = fixedWindow({ name: "fw", limit: 3, windowMs: 1000 });

  it("refuse a bad time, a bad cost and a cost above the limit before deciding", () => {
    const rows: [() => unknown, string, string][] = [
      [() => applyPolicy(p, null, Number.NaN, 1), "ERR_INVALID_OPTION", "applyPolicy(nowMs) needs a finite time"],
      [() => applyPolicy(p, null, 0, 1.5), "ERR_INVALID_COST", "applyPolicy(cost=1.5)"],
      [
        () => applyPolicy(p, null, 0, 4),
        "ERR_COST_EXCEEDS_LIMIT",
        'floodgate: applyPolicy(cost=4) exceeds the limit 3 of policy "fw"; raise the limit or lower the cost.',
      ],
      [() => refundPolicy(p, null, Number.POSITIVE_INFINITY, 1), "ERR_INVALID_OPTION", "refundPolicy(nowMs)"],
      [() => refundPolicy(p, null, 0, -1), "ERR_INVALID_COST", "refundPolicy(cost=-1)"],
    ];
    for (const [f, code, says] of rows) {
      const e = caught(says, f);
      expect([e.code, e.message.includes(says)], `${says}: ${e.message}`).toEqual([code, true]);
    }
    expect(applyPolicy(p, null, 0, 3).allowed, "the limit itself fits").toBe(true);
  });

  it("keep the new state when admitted with a cost, the given one otherwise, frozen and never the input", () => {
    const first = applyPolicy(p, null, 100, 2);
    expect([first.allowed, first.state]).toEqual([true, [0, 2]]);
    expect(Object.isFrozen(first.state), "frozen").toBe(true);
    const peek = applyPolicy(p, first.state, 200, 0);
    expect([peek.allowed, peek.remaining, peek.state], "a peek keeps the state").toEqual([true, 1, [0, 2]]);
    const fresh = applyPolicy(p, null, 200, 0);
    expect(fresh.state, "a peek on no state keeps none").toBeNull();
    const denied = applyPolicy(p, first.state, 300, 2);
    expect([denied.allowed, denied.state], "a denial keeps the state").toEqual([false, [0, 2]]);
    const input = [0, 2];
    const again = applyPolicy(p, input, 300, 1);
    expect([again.state, input], "the input is untouched").toEqual([
      [0, 3],
      [0, 2],
    ]);
    // A denial keeps the state given: a frozen copy, so the caller's own array stays writable.
    const full = [0, 3];
    const refused = applyPolicy(p, full, 300, 1);
    expect([refused.allowed, refused.state, refused.state === full, Object.isFrozen(full)]).toEqual([
      false,
      [0, 3],
      false,
      false,
    ]);
  });

  it("refundPolicy gives back, keeps null as null, and returns the state itself when there is nothing to write", () => {
    expect(refundPolicy(p, null, 0, 1)).toBeNull();
    const state = Object.freeze([0, 3]);
    const refunded = refundPolicy(p, state, 500, 2);
    expect([refunded, Object.isFrozen(refunded)]).toEqual([[0, 1], true]);
    expect(refundPolicy(p, state, 5000, 1), "the window is over: nothing to give back").toBe(state);
  });
});

describe("the policy brand and the check where policies enter", () => {
  const base = tokenBucket({ name: "api", capacity: 10, refillRate: 1 });

  it("definePolicy freezes the policy and its options and brands it with a non-enumerable registered symbol", () => {
    const { id, limit, windowMs, stateSize, params, evaluate, refund, idle } = base;
    const fields = { id, limit, windowMs, stateSize, params, evaluate, refund, idle };
    const p = definePolicy(TOKEN_BUCKET, "x", { capacity: 1, refillRate: 1 }, fields);
    expect([p.kind, p.algorithm, p.name, p.options]).toEqual([
      "tokenBucket",
      TOKEN_BUCKET,
      "x",
      { capacity: 1, refillRate: 1 },
    ]);
    expect([Object.isFrozen(p), Object.isFrozen(p.options)]).toEqual([true, true]);
    expect(POLICY_BRAND).toBe(Symbol.for("floodgate.policy"));
    expect(Object.getOwnPropertyDescriptor(p, POLICY_BRAND)).toMatchObject({ value: true, enumerable: false });
    expect([isBranded(p), isBranded({ ...p }), isBranded(null), isBranded(undefined), isBranded("api")]).toEqual([
      true,
      false,
      false,
      false,
      false,
    ]);
    expect(isBranded({ [POLICY_BRAND]: 1 }), "the brand must be true itself").toBe(false);
  });

  it("checkPolicy uses a branded policy as is and rebuilds anything else once, by its factory", () => {
    expect(checkPolicy("here", base)).toBe(base);
    const spread = { ...base, name: "web" } as Policy;
    const rebuilt = checkPolicy("here", spread);
    expect([rebuilt.name, rebuilt.id, isBranded(rebuilt)]).toEqual(["web", "web:tb:c10r1", true]);
    expect(checkPolicy("here", spread), "the same object: the same rebuilt policy").toBe(rebuilt);
    const onlyOptions = { algorithm: base.algorithm, options: base.options, name: "bare" };
    expect(checkPolicy("here", onlyOptions).id, "fields left out are not compared").toBe("bare:tb:c10r1");
  });

  it("checkPolicy refuses what no factory built or would build, naming where, the field and the factories", () => {
    const factories = "tokenBucket(), gcra(), leakyBucket(), fixedWindow(), slidingWindow(), slidingLog()";
    const rows: [unknown, string][] = [
      [null, `floodgate: here needs a policy built by ${factories}, got null.`],
      [5, `floodgate: here needs a policy built by ${factories}, got 5.`],
      [{ name: "x" }, `floodgate: here needs a policy built by ${factories}, got an object.`],
      [{ ...base, algorithm: { code: "zz" } }, `floodgate: here needs a policy built by ${factories}, got an object.`],
      [{ ...base, algorithm: { code: 5 } }, `floodgate: here needs a policy built by ${factories}, got an object.`],
      [{ ...base, options: null }, `floodgate: here needs a policy built by ${factories}, got an object.`],
      [{ ...base, options: "x" }, `floodgate: here needs a policy built by ${factories}, got an object.`],
      [
        { ...base, name: "Bad" },
        "floodgate: here got a policy that its factory would refuse: tokenBucket({ name }) must be 1 to 64 characters",
      ],
      [
        { ...base, kind: "gcra" },
        'floodgate: here got a policy whose kind "gcra" does not match its options ("tokenBucket")',
      ],
      [{ ...base, limit: 20 }, "floodgate: here got a policy whose limit 20 does not match its options (10)"],
      [{ ...base, windowMs: 1 }, "floodgate: here got a policy whose windowMs 1 does not match its options (10000)"],
      [{ ...base, stateSize: 3 }, "floodgate: here got a policy whose stateSize 3 does not match its options (2)"],
    ];
    for (const [value, says] of rows) {
      const e = caught(says, () => checkPolicy("here", value));
      expect([e.name, e.code], e.message).toEqual(["FloodgateTypeError", "ERR_INVALID_POLICY"]);
      expect(e.message.startsWith(says), `${e.message}\nwant it to start with\n${says}`).toBe(true);
    }
    const refused = caught("bad name", () => checkPolicy("here", { ...base, name: "Bad" }));
    expect(
      refused.message.endsWith("Build policies with tokenBucket({ ... }) rather than editing one."),
      refused.message,
    ).toBe(true);
    expect(refused.message.includes("floodgate: tokenBucket"), "the factory's own prefix is dropped").toBe(false);
  });

  it("checkPolicies takes one policy or a non-empty array of distinct names, frozen and cached per input", () => {
    const other = slidingLog({ name: "log", limit: 3, windowMs: 100 });
    expect(checkPolicies("here", base)).toEqual([base]);
    const list = [base, other];
    const checked = checkPolicies("here", list);
    expect([checked, Object.isFrozen(checked)]).toEqual([[base, other], true]);
    expect(checkPolicies("here", list), "cached").toBe(checked);
    const empty = caught("empty", () => checkPolicies("here", []));
    expect([empty.code, empty.message]).toEqual([
      "ERR_INVALID_POLICY",
      "floodgate: here needs at least one policy, got an empty array; pass a policy such as tokenBucket({ capacity: 10, refillRate: 2 }).",
    ]);
    const twice = caught("twice", () =>
      checkPolicies("here", [base, tokenBucket({ name: "api", capacity: 1, refillRate: 1 })]),
    );
    expect([twice.code, twice.message]).toEqual([
      "ERR_INVALID_POLICY",
      'floodgate: here has two policies named "api"; give each its own { name }, such as "per-second" and "per-day".',
    ]);
    expect(caught("null", () => checkPolicies("here", null)).code).toBe("ERR_INVALID_POLICY");
  });
});

describe("validate.ts", () => {
  it("the bounds: 1e12 units, ten years, 1e9 per second", () => {
    expect([MAX_LIMIT, MAX_DURATION_MS, MAX_RATE]).toEqual([1e12, 315_360_000_000, 1e9]);
  });

  it("suggest finds the closest known key within a third of its length (at least 2 edits), case-insensitively", () => {
    const known = ["capacity", "refillRate", "refillAmount", "name"];
    const rows: [string, readonly string[], string | undefined, string][] = [
      ["capacty", known, "capacity", "one letter left out"],
      ["Capacity", known, "capacity", "case is ignored"],
      ["refilRate", known, "refillRate", "closer to refillRate than refillAmount"],
      ["nmae", known, "name", "two edits in a short key"],
      ["xyz", known, undefined, "nothing close"],
      ["ab", ["xy"], "xy", "2 edits: the least allowed is 2"],
      ["abc", ["xyz"], undefined, "3 edits in 3 letters: too far"],
      ["abcdefghijkl", ["abcdefghwxyz"], "abcdefghwxyz", "4 edits in 12 letters: within a third"],
      ["abcdefghijkl", ["abcdefgvwxyz"], undefined, "5 edits in 12 letters: too far"],
      ["abc", ["abd", "abx"], "abd", "a tie goes to the first"],
      ["kitten", ["sitting", "kittens"], "kittens", "1 edit beats 3"],
      ["", ["a"], "a", "an empty key is one insertion from a"],
    ];
    for (const [key, list, want, why] of rows) expect(suggest(key, list), `suggest(${key}): ${why}`).toBe(want);
  });

  it("property: suggest returns a known key itself, and any key one edit away from a long enough known key", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z]{3,12}$/), fc.nat(), fc.constantFrom("a", "q", "z"), (word, at, ch) => {
        expect(suggest(word, ["zzzzzzzzzzzzzzzzzzzz", word])).toBe(word);
        const i = at % word.length;
        const edited = word.slice(0, i) + ch + word.slice(i + 1);
        expect(suggest(edited, [word]), `${edited} vs ${word}`).toBe(word);
      }),
    );
  });

  it("checkOptions wants a plain object with known keys only", () => {
    const ok = { a: 1 };
    expect(checkOptions("f", ok, ["a", "b"])).toBe(ok);
    for (const bad of [null, undefined, 5, "x", [1]]) {
      const e = caught(`checkOptions(${show(bad)})`, () => checkOptions("f", bad, ["a"]));
      expect([e.code, e.message]).toEqual([
        "ERR_INVALID_OPTION",
        `floodgate: f(options) needs an options object, got ${show(bad)}.`,
      ]);
    }
    const unknown = caught("unknown", () => checkOptions("f", { capacty: 1 }, ["capacity", "name"]));
    expect([unknown.code, unknown.message]).toEqual([
      "ERR_UNKNOWN_OPTION",
      'floodgate: f() got an unknown option "capacty"; did you mean "capacity"? Known options: capacity, name.',
    ]);
    const far = caught("far", () => checkOptions("f", { zzz: 1 }, ["capacity"]));
    expect(far.message).toBe('floodgate: f() got an unknown option "zzz". Known options: capacity.');
  });

  it("integerOption and numberOption take their bounds, inclusive where said, with the class by the value's type", () => {
    expect([integerOption("f", "n", 1, 1, 5, "fix"), integerOption("f", "n", 5, 1, 5, "fix")]).toEqual([1, 5]);
    for (const bad of [0, 6, 1.5, Number.NaN]) {
      const e = caught(`integerOption(${bad})`, () => integerOption("f", "n", bad, 1, 5, "pass 3"));
      expect([e.name, e.code, e.message]).toEqual([
        "FloodgateRangeError",
        "ERR_INVALID_OPTION",
        `floodgate: f({ n }) must be a whole number from 1 to 5, got ${show(bad)}; pass 3.`,
      ]);
    }
    const typed = caught("integerOption('3')", () => integerOption("f", "n", "3", 1, 5, "pass 3"));
    expect([typed.name, typed.message]).toEqual([
      "FloodgateTypeError",
      'floodgate: f({ n }) must be a whole number from 1 to 5, got "3" (string); pass 3.',
    ]);
    expect([numberOption("f", "r", 0.5, 0, 1, "fix"), numberOption("f", "r", 1, 0, 1, "fix")]).toEqual([0.5, 1]);
    expect(numberOption("f", "r", 0, 0, 1, "fix", true), "0 when the minimum is inclusive").toBe(0);
    for (const bad of [0, 1.0000001, Number.POSITIVE_INFINITY, Number.NaN, -1]) {
      const e = caught(`numberOption(${bad})`, () => numberOption("f", "r", bad, 0, 1, "pass 0.5"));
      expect([e.name, e.message]).toEqual([
        "FloodgateRangeError",
        `floodgate: f({ r }) must be a finite number greater than 0 and at most 1, got ${show(bad)}; pass 0.5.`,
      ]);
    }
    const inclusive = caught("numberOption(-1, inclusive)", () => numberOption("f", "r", -1, 0, 1, "pass 0", true));
    expect(inclusive.message).toBe("floodgate: f({ r }) must be a finite number from 0 to 1, got -1; pass 0.");
    const typed2 = caught("numberOption(null)", () => numberOption("f", "r", null, 0, 1, "pass 0.5"));
    expect([typed2.name, typed2.message]).toEqual([
      "FloodgateTypeError",
      "floodgate: f({ r }) must be a finite number greater than 0 and at most 1, got null (object); pass 0.5.",
    ]);
  });

  it("nameOption takes an RFC 9651 key of 1 to 64 characters, or the fallback", () => {
    expect(nameOption("f", undefined, "dflt")).toBe("dflt");
    for (const good of ["a", "*", "a".repeat(64), "a-b_c.d*9", "z0"])
      expect(nameOption("f", good, "x"), good).toBe(good);
    for (const bad of ["", "A", "1a", "-a", "a b", 'we"ird', "a!", "!a", "a".repeat(65), "ab\n", 5, null]) {
      const e = caught(`nameOption(${show(bad)})`, () => nameOption("f", bad, "x"));
      expect(
        [e.name, e.code, e.message.startsWith(`floodgate: f({ name }) must be 1 to 64 characters`)],
        show(bad),
      ).toEqual(["FloodgateTypeError", "ERR_INVALID_OPTION", true]);
      expect(e.message.includes(`got ${show(bad)};`), e.message).toBe(true);
    }
  });

  it("checkCost, checkKey and checkNow name the call, the value and the fix", () => {
    expect([checkCost("c", 0), checkCost("c", 1e12), checkKey("k", ""), checkNow("n", -5)]).toEqual([0, 1e12, "", -5]);
    for (const [bad, cls] of [
      [-1, "FloodgateRangeError"],
      [1.5, "FloodgateRangeError"],
      [1e12 + 1, "FloodgateRangeError"],
      [Number.NaN, "FloodgateRangeError"],
      ["1", "FloodgateTypeError"],
    ] as const) {
      const e = caught(`checkCost(${show(bad)})`, () => checkCost("consume", bad));
      expect([e.name, e.code, e.message]).toEqual([
        cls,
        "ERR_INVALID_COST",
        `floodgate: consume(cost=${show(bad)}) needs a whole number of tokens from 0 to 1000000000000; pass an integer such as 1.`,
      ]);
    }
    const key = caught("checkKey(5)", () => checkKey("consume", 5));
    expect([key.name, key.code, key.message]).toEqual([
      "FloodgateTypeError",
      "ERR_INVALID_KEY",
      "floodgate: consume(key) needs a string key, got 5; convert ids with String(id).",
    ]);
    for (const bad of [Number.NaN, Number.NEGATIVE_INFINITY, "5"]) {
      const e = caught(`checkNow(${show(bad)})`, () => checkNow("consumeAt(nowMs)", bad));
      expect([e.name, e.code, e.message]).toEqual([
        "FloodgateTypeError",
        "ERR_INVALID_OPTION",
        `floodgate: consumeAt(nowMs) needs a finite time in milliseconds, got ${show(bad)}; an injected now() must return a number such as performance.now().`,
      ]);
    }
  });
});
