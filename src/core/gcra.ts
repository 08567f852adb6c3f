// gcra.ts: the generic cell rate algorithm, a token bucket kept in one number.

import { type AlgorithmDescriptor, definePolicy } from "./algorithm.js";
import { FloodgateRangeError } from "./errors.js";
import {
  bucketNextUnitMs,
  ceilMs,
  EPSILON,
  floorTokens,
  type Outcome,
  type Policy,
  scaleLimit,
  settleMs,
  settleSide,
  type WaitTest,
  waitGuard,
} from "./policy.js";
import { isFullAvailable, migratedAvailable, type Strategy } from "./strategy.js";
import { tokenBucket } from "./token-bucket.js";
import { checkOptions, integerOption, MAX_DURATION_MS, MAX_LIMIT, nameOption } from "./validate.js";

/** TIME_SLACK is the share of the clock's magnitude (in units) within which GCRA counts a unit as on time (2^-51, two ulps). */
export const TIME_SLACK = 2 ** -51;

/** GcraOptions configures a GCRA policy: `limit` per `periodMs`, bursts up to `burst`. */
export interface GcraOptions {
  /** limit is how many units are admitted per period on average. */
  limit: number;
  /** periodMs is the period, in whole milliseconds, over which `limit` applies. */
  periodMs: number;
  /** burst is the most units admitted at once. Default: `limit`. A cost above it is never allowed. */
  burst?: number;
  /** name identifies the policy in decisions and headers. Default "gcra". */
  name?: string;
}

/**
 * gcra builds a policy using the generic cell rate algorithm (GCRA).
 *
 * The model: units are meant to arrive one every `emissionIntervalMs`
 * (`periodMs / limit`). The state is a single time, the theoretical arrival time
 * `tat`: when the next unit would be due if every admitted unit had arrived on
 * schedule. It is kept counted in emission intervals (`tat / emissionIntervalMs`),
 * so admitting whole units adds whole numbers, exactly: a client held at the
 * limit for millions of calls accumulates no rounding error. Admitting `cost`
 * units moves `tat` forward by `cost` emission intervals (from now, if `tat` is
 * already in the past). A call is allowed when
 * the new `tat` is at most `burstToleranceMs` (`burst * emissionIntervalMs`)
 * ahead of now: the client may run that far ahead of schedule, which is a burst
 * of `burst` units.
 *
 * Its decisions equal a smooth token bucket's with `capacity = burst` and
 * `refillRate = limit / periodMs` per ms, in half the state. Converting the
 * clock to emission intervals rounds it, so a unit late by less than
 * `TIME_SLACK` of the clock's magnitude (about 0.75 µs near 1.7e12 ms) is on time.
 * `retryAfterMs` and `resetAfterMs` are exact: the smallest whole number of
 * milliseconds after which the same cost is admitted, or `tat` is no longer
 * ahead of the clock (full).
 *
 * A time earlier than `tat` never frees capacity: `tat` does not move back for
 * it. But no admitted call leaves `tat` more than `burstToleranceMs` ahead of its
 * time, so a `tat` further ahead than that of a time (beyond EPSILON of a unit and
 * the rounding slack, which count as on time) means the clock went back:
 * such a `tat` is rebased to `burstToleranceMs` ahead of that time (nothing left,
 * the next unit one emission interval away) and stored so, even by a denial or a
 * peek. It mints nothing, and a client waits at most what a client with nothing
 * left waits, not for the clock to catch up with the old `tat`.
 */
export function gcra(options: GcraOptions): Policy {
  const fn = "gcra";
  const o = checkOptions(fn, options, ["limit", "periodMs", "burst", "name"]);
  const limit = integerOption(fn, "limit", o.limit, 1, MAX_LIMIT, "pass the number of units per period, such as 10");
  const periodMs = integerOption(
    fn,
    "periodMs",
    o.periodMs,
    1,
    MAX_DURATION_MS,
    "pass the period in whole milliseconds, such as 1000",
  );
  const burst =
    o.burst === undefined
      ? limit
      : integerOption(
          fn,
          "burst",
          o.burst,
          1,
          MAX_LIMIT,
          "pass the largest burst, such as 10, or leave it out to use limit",
        );
  const name = nameOption(fn, o.name, "gcra");
  const emissionIntervalMs = periodMs / limit;
  const burstToleranceMs = burst * emissionIntervalMs;
  // Below a microsecond per unit, the rounding slack at epoch times (2^-51 of the clock in units)
  // would reach a whole unit and let remaining exceed burst.
  if (emissionIntervalMs < 0.001) {
    throw new FloodgateRangeError(
      "ERR_INVALID_OPTION",
      `floodgate: gcra({ limit: ${limit}, periodMs: ${periodMs} }) is ${limit / periodMs} units per ms, above the 1000 per ms (one per microsecond) supported; use a longer periodMs with a proportional limit, or tokenBucket.`,
    );
  }
  if (burstToleranceMs > MAX_DURATION_MS) {
    throw new FloodgateRangeError(
      "ERR_INVALID_OPTION",
      `floodgate: gcra({ burst: ${burst} }) takes more than the 10 years supported to recover; lower burst or raise limit.`,
    );
  }
  // slackOf is the rounding slack for a test at nowUnits involving aheadUnits: about 2^-53 of
  // each number, doubled, so a unit late by that much is on time.
  const slackOf = (nowUnits: number, aheadUnits: number): number =>
    ((nowUnits < 0 ? -nowUnits : nowUnits) + aheadUnits) * TIME_SLACK;
  // admitsAt is evaluate's admission test of `cost` against tat (units) at tMs.
  const admitsAt = (tat: number, tMs: number, cost: number): boolean => {
    const nowUnits = tMs / emissionIntervalMs;
    const newAheadUnits = (tat > nowUnits ? tat - nowUnits : 0) + cost;
    return newAheadUnits <= burst + EPSILON + slackOf(nowUnits, newAheadUnits);
  };
  // fullAt is idle's test: tat (units) is not ahead of tMs.
  const fullAt = (tat: number, tMs: number): boolean => {
    const nowUnits = tMs / emissionIntervalMs;
    return tat - nowUnits <= slackOf(nowUnits, burst);
  };
  // The longest wait of any call: tat at most burst ahead, plus a cost of at most burst.
  const spanMs = 2 * burstToleranceMs;
  // retryMs returns the smallest whole r >= 1 at which admitsAt(tat, nowMs + r, cost): the estimate
  // `guessMs` as is when clear of a whole ms by the guard, else settled by the test (see WAIT_GUARD).
  const admitsAfter: WaitTest = (r, tat, nowMs, cost) => admitsAt(tat, nowMs + r, cost);
  const fullAfter: WaitTest = (r, tat, nowMs) => fullAt(tat, nowMs + r);
  const retryMs = (tat: number, nowMs: number, cost: number, guessMs: number): number => {
    const side = settleSide(guessMs, waitGuard(nowMs, spanMs));
    return side === 0 ? Math.ceil(guessMs) : settleMs(guessMs, side, admitsAfter, tat, nowMs, cost, 0, 0, 0);
  };
  // resetMs returns the smallest whole r >= 0 at which fullAt(tat, nowMs + r), likewise; `fullNow` is
  // fullAt(tat, nowMs), which evaluate has the numbers for.
  const resetMs = (tat: number, nowMs: number, guessMs: number, fullNow: boolean): number => {
    if (fullNow) return 0;
    const side = settleSide(guessMs, waitGuard(nowMs, spanMs));
    return side === 0 ? Math.ceil(guessMs) : settleMs(guessMs, side, fullAfter, tat, nowMs, 0, 0, 0, 0);
  };
  return definePolicy(
    GCRA,
    name,
    { limit, periodMs, burst },
    {
      id: `${name}:gcra:l${limit}p${periodMs}b${burst}`,
      limit: burst,
      windowMs: ceilMs(burstToleranceMs),
      stateSize: 1,
      params: Object.freeze([emissionIntervalMs, burstToleranceMs, burst]),
      evaluate(
        s: ArrayLike<number>,
        o: number,
        fresh: boolean,
        nowMs: number,
        cost: number,
        next: number[] | Float64Array,
        out: Outcome,
      ): boolean {
        // The state keeps tat in emission intervals (units); params stay in ms for the Lua twin.
        const nowUnits = nowMs / emissionIntervalMs;
        let tat = fresh ? nowUnits : (s[o] as number);
        // aheadUnits is how far tat runs ahead of now, taken first so it keeps a double's full precision.
        let aheadUnits = tat > nowUnits ? tat - nowUnits : 0;
        // No admitted call leaves tat more than burst ahead: further means the clock went back. Rebase:
        // cap it at burst ahead of now (nothing left, the next unit one interval away).
        const rebased = aheadUnits > burst + EPSILON + 2 * slackOf(nowUnits, aheadUnits);
        if (rebased) {
          tat = nowUnits + burst;
          aheadUnits = tat - nowUnits;
        }
        out.rebased = rebased;
        const newAheadUnits = aheadUnits + cost;
        // Rounding errs by about 2^-53 of the numbers involved (the clock, the units ahead):
        // a unit late by that much is on time.
        const slack = slackOf(nowUnits, newAheadUnits);
        // A cost of 0 is always allowed, even with tat a hair beyond the tolerance (a clock gone back by
        // less than the rebase threshold).
        if (newAheadUnits <= burst + EPSILON + slack || cost === 0) {
          // tat + cost is exact on tat's grid, so a client at the limit accumulates no rounding.
          const tatNext = nowUnits + newAheadUnits;
          next[0] = tatNext;
          out.allowed = true;
          const left = floorTokens(burst + slack - newAheadUnits);
          out.remaining = left > burst ? burst : left;
          out.retryAfterMs = 0;
          // A cost of 0 keeps tat as it was (or rebased): its reset is that tat's; with a cost, tat is
          // a whole unit or more ahead, so not full now.
          out.resetAfterMs = resetMs(
            cost > 0 ? tatNext : tat,
            nowMs,
            (newAheadUnits - slack) * emissionIntervalMs,
            cost > 0 ? false : tat - nowUnits <= slackOf(nowUnits, burst),
          );
          return true;
        }
        next[0] = tat;
        out.allowed = false;
        const left = floorTokens(burst + slack - aheadUnits);
        out.remaining = left > burst ? burst : left;
        out.retryAfterMs = retryMs(tat, nowMs, cost, (newAheadUnits - burst - EPSILON - slack) * emissionIntervalMs);
        out.resetAfterMs = resetMs(
          tat,
          nowMs,
          (aheadUnits - slack) * emissionIntervalMs,
          tat - nowUnits <= slackOf(nowUnits, burst),
        );
        return false;
      },
      refund(
        s: ArrayLike<number>,
        o: number,
        fresh: boolean,
        nowMs: number,
        cost: number,
        next: number[] | Float64Array,
      ): boolean {
        if (fresh) return false;
        const nowUnits = nowMs / emissionIntervalMs;
        let tat = s[o] as number;
        if (tat < nowUnits) tat = nowUnits;
        else if (tat - nowUnits > burst + EPSILON + 2 * slackOf(nowUnits, tat - nowUnits)) tat = nowUnits + burst;
        tat = tat - cost;
        next[0] = tat < nowUnits ? nowUnits : tat;
        return true;
      },
      idle(s: ArrayLike<number>, o: number, nowMs: number): boolean {
        // The same test as resetAfterMs, so a key is idle exactly once resetAfterMs has passed.
        return fullAt(s[o] as number, nowMs);
      },
    },
  );
}

/**
 * migrateGcra carries a GCRA state [tat, in old emission intervals] to `to`: available is
 * the old burst minus how far tat runs ahead of nowMs (at most the burst: further is a clock
 * gone back, rebased as evaluate does); the new tat runs (new burst - migrated available)
 * new emission intervals ahead of nowMs.
 */
function migrateGcra(
  from: ArrayLike<number>,
  s: ArrayLike<number>,
  o: number,
  _length: number,
  nowMs: number,
  to: Policy,
  strategy: Strategy,
  next: number[],
): number {
  const oldBurst = from[2] as number;
  const nowUnits = nowMs / (from[0] as number);
  const tat = s[o] as number;
  let aheadUnits = tat > nowUnits ? tat - nowUnits : 0;
  if (aheadUnits > oldBurst) aheadUnits = oldBurst;
  const available = oldBurst - aheadUnits;
  if (isFullAvailable(available, oldBurst)) return 0;
  const newBurst = to.params[2] as number;
  next[0] = nowMs / (to.params[0] as number) + (newBurst - migratedAvailable(strategy, available, oldBurst, newBurst));
  return 1;
}

/** GCRA describes the generic cell rate algorithm: Lua twin 'gc'. */
export const GCRA: AlgorithmDescriptor = Object.freeze({
  code: "gc",
  kind: "gcra" as const,
  factory: "gcra",
  lua: "gcra.lua",
  params: Object.freeze(["emissionIntervalMs", "burstToleranceMs", "burst"]),
  create: (options: Readonly<Record<string, unknown>>): Policy => gcra(options as unknown as GcraOptions),
  // Scaled as the token bucket it equals: a GCRA limit must stay a whole number per period.
  scale: (p: Policy, scale: number): Policy =>
    tokenBucket({
      name: p.name,
      capacity: scaleLimit(p.limit, scale),
      refillRate: (((p.options.limit as number) * 1000) / (p.options.periodMs as number)) * scale,
    }),
  nextUnitMs: (p: Policy, d: { remaining: number; resetAfterMs: number }): number =>
    bucketNextUnitMs(
      d.resetAfterMs,
      p.limit - d.remaining,
      (p.options.periodMs as number) / (p.options.limit as number),
    ),
  migrate: migrateGcra,
});
