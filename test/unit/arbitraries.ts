// arbitraries.ts: fast-check generators of policies, times and calls shared by the property tests of both engines.

import fc from "fast-check";
import {
  type Applied,
  fixedWindow,
  gcra,
  leakyBucket,
  type Policy,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from "../../src/index.js";

// Rates are fractions n/m per second, so 10/13-like rates come up often.
export const rateArb = fc.record({ n: fc.integer({ min: 1, max: 30 }), m: fc.integer({ min: 1, max: 13 }) });
export const limitArb = fc.integer({ min: 1, max: 12 });
export const windowArb = fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 51, max: 5000 }));

/** Call is one generated call: a gap since the previous one (ms) and a cost as a share of the limit. */
export interface Call {
  gapMs: number;
  costShare: number;
  /**
   * land, when set, replaces the gap: the call comes `nudgeMs` after the previous call's retryAfterMs or
   * resetAfterMs (see gapOf), so that it lands on (or a hair off) the time that wait promised.
   */
  land?: Landing;
}

/** Landing times a call by the previous decision's wait: exactly at it, or `nudgeMs` off it. */
export interface Landing {
  on: "retry" | "reset";
  nudgeMs: number;
}

/**
 * gapOf is the gap before call `c`: its own gap, or, when it lands and there is a previous decision, the
 * previous call's retryAfterMs (if it was denied) or resetAfterMs plus the nudge.
 */
export function gapOf(c: Call, prev: { allowed: boolean; retryAfterMs: number; resetAfterMs: number } | null): number {
  if (c.land === undefined || prev === null) return c.gapMs;
  const waitMs = c.land.on === "retry" && !prev.allowed ? prev.retryAfterMs : prev.resetAfterMs;
  return waitMs + c.land.nudgeMs;
}

// Landing calls: at exactly the wait just given (which lands on a whole ms), 1 ms before it, or a hair off it in
// either direction, so that the next waits are estimated near a whole ms with float noise up and down (the branches
// of the exact-wait helpers that settle an estimate by the algorithm's own test, see WAIT_GUARD in policy.ts).
export const landingArb: fc.Arbitrary<Landing> = fc.record({
  on: fc.constantFrom<"retry" | "reset">("retry", "reset"),
  nudgeMs: fc.oneof(
    { arbitrary: fc.constant(0), weight: 4 },
    { arbitrary: fc.constantFrom(-1, 1, 1e-9, -1e-9, 1e-6, -1e-6, 1e-4, -1e-4, 0.5, -0.5), weight: 3 },
    { arbitrary: fc.double({ min: -1, max: 1, noNaN: true }), weight: 1 },
  ),
});

/** costOf turns a call's share into a whole cost from 0 to limit. */
export function costOf(c: Call, limit: number): number {
  return Math.min(limit, Math.floor(c.costShare * (limit + 1)));
}

// Wider policies for the exactness properties: fractional rates (10/13, 1/3 and the like), very slow and
// fast ones, windows and intervals from 1 ms to 30 days.
export const wideRateArb = fc.oneof(
  rateArb.map(({ n, m }) => n / m),
  fc.constantFrom(1 / 3, 10 / 13, 1 / 2_592_000, 1 / 86_400, 333.3, 1e6),
);
export const wideWindowArb = fc.oneof(windowArb, fc.constantFrom(60_000, 86_400_000, 2_592_000_000));
const SLOW = 3; // emission intervals and windows above an hour keep the burst small (the 10-year cap)

/** BackBound is the most a call may wait after the clock stepped back from the state's time (see backBound). */
export interface BackBound {
  retryMs: number;
  resetMs: number;
}

/** WideSubject is a policy for the exactness and clock-step properties. */
export interface WideSubject {
  label: string;
  policy: Policy;
  /**
   * backBound is, from the same call's decision at the state's own time (`atState`), the longest waits
   * the factory's doc comment promises after the clock stepped back from it by any amount: what a
   * client at the same standing waits without the step.
   */
  backBound(atState: Applied, cost: number): BackBound;
}

/** gcraSubject is the wide GCRA subject for these numbers (the burst capped at SLOW for periods above an hour). */
export function gcraSubject(limit: number, periodMs: number, burst: number): WideSubject {
  const b = periodMs > 3_600_000 ? Math.min(burst, SLOW) : burst;
  const emissionMs = periodMs / limit;
  return {
    label: `gcra({ limit: ${limit}, periodMs: ${periodMs}, burst: ${b} })`,
    policy: gcra({ limit, periodMs, burst: b }),
    // At worst nothing left: cost units away, full after the whole tolerance. Plus what GCRA takes
    // for an on-time tat rather than a clock gone back: EPSILON of a unit and the rounding slack
    // (at most 0.01 ms at these times); and +1, a step back by a fraction of a ms rounding up.
    backBound: (_d: Applied, cost: number) => {
      const slackMs = 1e-9 * emissionMs + 0.01;
      return {
        retryMs: Math.ceil(cost * emissionMs + slackMs) + 1,
        resetMs: Math.ceil(b * emissionMs + slackMs) + 1,
      };
    },
  };
}

const same = (d: Applied): BackBound => ({ retryMs: d.retryAfterMs, resetMs: d.resetAfterMs });
export const wideSubjects: Record<string, fc.Arbitrary<WideSubject>> = {
  "token bucket (smooth)": fc.tuple(limitArb, wideRateArb).map(([capacity, rate]) => ({
    label: `tokenBucket({ capacity: ${capacity}, refillRate: ${rate} })`,
    policy: tokenBucket({ capacity, refillRate: rate }),
    // The same tokens, refilling from the step: the same waits as at the state's time.
    backBound: same,
  })),
  "token bucket (stepped)": fc
    .tuple(limitArb, fc.integer({ min: 1, max: 5 }), wideWindowArb)
    .map(([capacity, amount, intervalMs]) => ({
      label: `tokenBucket({ capacity: ${capacity}, refillAmount: ${amount}, refillIntervalMs: ${intervalMs} })`,
      policy: tokenBucket({ capacity, refillAmount: amount, refillIntervalMs: intervalMs }),
      // The same tokens; the next step at most a whole interval away (+1: a step back by a fraction of
      // a ms puts the steps off the whole ms, rounded up).
      backBound: (d: Applied, cost: number) => ({
        retryMs: d.allowed ? 0 : Math.ceil((cost - d.remaining) / amount) * intervalMs + 1,
        resetMs: Math.ceil((capacity - d.remaining) / amount) * intervalMs + 1,
      }),
    })),
  gcra: fc
    .tuple(limitArb, wideWindowArb, limitArb)
    .map(([limit, periodMs, burst]) => gcraSubject(limit, periodMs, burst)),
  "leaky bucket": fc.tuple(limitArb, wideRateArb).map(([capacity, rate]) => ({
    label: `leakyBucket({ capacity: ${capacity}, leakRate: ${rate} })`,
    policy: leakyBucket({ capacity, leakRate: rate }),
    backBound: same,
  })),
  "fixed window": fc.tuple(limitArb, wideWindowArb).map(([limit, windowMs]) => ({
    label: `fixedWindow({ limit: ${limit}, windowMs: ${windowMs} })`,
    policy: fixedWindow({ limit, windowMs }),
    // The count is kept in a window restarting at the step: at most one window (+1: at a fractional time,
    // the window's end and now + r round apart).
    backBound: () => ({ retryMs: windowMs + 1, resetMs: windowMs + 1 }),
  })),
  "sliding window": fc.tuple(limitArb, wideWindowArb).map(([limit, windowMs]) => ({
    label: `slidingWindow({ limit: ${limit}, windowMs: ${windowMs} })`,
    policy: slidingWindow({ limit, windowMs }),
    // Both counts kept in a window restarting at the step: both slide out within two windows (+1 as above).
    backBound: () => ({ retryMs: 2 * windowMs + 1, resetMs: 2 * windowMs + 1 }),
  })),
  "sliding log": fc.tuple(limitArb, wideWindowArb).map(([limit, windowMs]) => ({
    label: `slidingLog({ limit: ${limit}, windowMs: ${windowMs} })`,
    policy: slidingLog({ limit, windowMs }),
    // Later entries move to the step: every entry expires within one window (+1 as above).
    backBound: () => ({ retryMs: windowMs + 1, resetMs: windowMs + 1 }),
  })),
};

// Times: small and epoch-sized, whole and fractional.
export const wideStartArb = fc.oneof(
  fc.constantFrom(0, 0.25, 1_000_000, 1_700_000_000_000, 1_700_000_000_000.3),
  fc.integer({ min: 0, max: 2_000_000_000_000 }),
  fc.double({ min: 0, max: 2e12, noNaN: true }),
);
// Gaps: none, small, large, fractional, long (for 30-day policies); and now and then the clock steps back. With
// `land`, about a third of the calls land on (or a hair off) the previous call's wait instead (see gapOf).
export const wideCallsArb = (back: boolean, maxLength = 60, land = false) =>
  fc.array(
    fc.record({
      gapMs: fc.oneof(
        { arbitrary: fc.constant(0), weight: 2 },
        { arbitrary: fc.integer({ min: 0, max: 40 }), weight: 2 },
        { arbitrary: fc.integer({ min: 0, max: 4000 }), weight: 2 },
        { arbitrary: fc.double({ min: 0, max: 4000, noNaN: true }), weight: 2 },
        { arbitrary: fc.integer({ min: 0, max: 3_000_000_000 }), weight: 1 },
        { arbitrary: fc.integer({ min: -4_000_000_000, max: -1 }), weight: back ? 1 : 0 },
        { arbitrary: fc.double({ min: -5000, max: -1e-3, noNaN: true }), weight: back ? 1 : 0 },
      ),
      costShare: fc.double({ min: 0, max: 1, noNaN: true }),
      land: land
        ? fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: landingArb, weight: 1 })
        : fc.constant(undefined),
    }),
    { minLength: 1, maxLength },
  );

/** sameState reports whether two states hold the same numbers. */
export function sameState(a: readonly number[] | null, b: readonly number[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}
