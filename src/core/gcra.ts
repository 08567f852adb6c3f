// gcra.ts: the generic cell rate algorithm, a token bucket kept in one number.

import { type AlgorithmDescriptor, definePolicy } from "./algorithm.js";
import { FloodgateRangeError } from "./errors.js";
import { bucketNextUnitMs, ceilMs, EPSILON, floorTokens, type Outcome, type Policy, scaleLimit } from "./policy.js";
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
 * `refillRate = limit / periodMs` per ms, in half the state. A time earlier than
 * one seen before never frees capacity: `tat` only moves forward. Converting
 * the clock to emission intervals rounds it, so a unit late by less than
 * `TIME_SLACK` of the clock's magnitude (about 0.75 µs near 1.7e12 ms) is on time.
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
        // aheadUnits is how far tat runs ahead of now, taken first so it keeps a double's full precision.
        const tat = fresh ? nowUnits : (s[o] as number);
        const aheadUnits = tat > nowUnits ? tat - nowUnits : 0;
        const newAheadUnits = aheadUnits + cost;
        // Rounding errs by about 2^-53 of the numbers involved (the clock, the units ahead):
        // a unit late by that much is on time, and waits are not rounded up for it.
        const slack = ((nowUnits < 0 ? -nowUnits : nowUnits) + newAheadUnits) * TIME_SLACK;
        if (newAheadUnits <= burst + EPSILON + slack) {
          // tat + cost is exact on tat's grid, so a client at the limit accumulates no rounding.
          next[0] = nowUnits + newAheadUnits;
          out.allowed = true;
          const left = floorTokens(burst + slack - newAheadUnits);
          out.remaining = left > burst ? burst : left;
          out.retryAfterMs = 0;
          out.resetAfterMs = ceilMs((newAheadUnits - slack) * emissionIntervalMs);
          return true;
        }
        next[0] = nowUnits + aheadUnits;
        out.allowed = false;
        const left = floorTokens(burst + slack - aheadUnits);
        out.remaining = left > burst ? burst : left;
        out.retryAfterMs = ceilMs((newAheadUnits - burst - slack) * emissionIntervalMs);
        out.resetAfterMs = ceilMs((aheadUnits - slack) * emissionIntervalMs);
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
        tat = tat - cost;
        next[0] = tat < nowUnits ? nowUnits : tat;
        return true;
      },
      idle(s: ArrayLike<number>, o: number, nowMs: number): boolean {
        // The same slack as evaluate, so a key is idle once resetAfterMs has passed.
        const nowUnits = nowMs / emissionIntervalMs;
        return (s[o] as number) - nowUnits <= ((nowUnits < 0 ? -nowUnits : nowUnits) + burst) * TIME_SLACK;
      },
    },
  );
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
});
