// bounds.ts: the most a policy can admit to one key in any window of a given length, per algorithm.

import type { Policy } from "../core/policy.js";

/**
 * BOUNDS holds, per algorithm code, the most cost one key can be admitted in
 * any window `(t - d, t]` of length `d` ms, as each algorithm's doc comment
 * states it (see README "Algorithms"). Each reads the policy's named options.
 */
const BOUNDS: Record<string, (o: Readonly<Record<string, number>>, d: number) => number> = {
  // tokenBucket (smooth): a full bucket, then the refill of d.
  tb: (o, d) => (o.capacity as number) + ((o.refillRate as number) * d) / 1000,
  // tokenBucket (stepped): a full bucket, then one step per interval boundary inside the window.
  ts: (o, d) => (o.capacity as number) + (o.refillAmount as number) * Math.ceil(d / (o.refillIntervalMs as number)),
  // gcra: a burst, then limit per period.
  gc: (o, d) => (o.burst as number) + ((o.limit as number) * d) / (o.periodMs as number),
  // leakyBucket: an empty bucket filled, then what leaks out during d.
  lb: (o, d) => (o.capacity as number) + ((o.leakRate as number) * d) / 1000,
  // fixedWindow: limit in every aligned window the interval touches.
  fw: (o, d) => (o.limit as number) * (Math.ceil(d / (o.windowMs as number)) + 1),
  // slidingWindow: the current count never passes limit, so like fixedWindow (2 * limit per two windows).
  sw: (o, d) => (o.limit as number) * (Math.ceil(d / (o.windowMs as number)) + 1),
  // slidingLog: limit in every window of windowMs, and d is covered by ceil(d / windowMs) of them.
  sl: (o, d) => (o.limit as number) * Math.ceil(d / (o.windowMs as number)),
};

/**
 * boundOf returns the most cost `policies` (all-or-nothing, so the
 * tightest of them) can admit to one key in any window of `windowMs`, or
 * Infinity for an algorithm without a known bound.
 */
export function boundOf(policies: readonly Policy[], windowMs: number): number {
  let bound = Number.POSITIVE_INFINITY;
  for (const p of policies) {
    const f = BOUNDS[p.algorithm.code];
    const b = f === undefined ? Number.POSITIVE_INFINITY : f(p.options, windowMs);
    if (b < bound) bound = b;
  }
  return bound;
}
