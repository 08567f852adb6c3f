// leaky-bucket.ts: the leaky bucket as a meter.

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
import {
  checkOptions,
  integerOption,
  MAX_DURATION_MS,
  MAX_LIMIT,
  MAX_RATE,
  nameOption,
  numberOption,
} from "./validate.js";

/** LeakyBucketOptions configures a leaky bucket meter. */
export interface LeakyBucketOptions {
  /** capacity is the bucket size: the most cost that can be in the bucket at once. */
  capacity: number;
  /** leakRate is how much drains out per second, continuously. */
  leakRate: number;
  /** name identifies the policy in decisions and headers. Default "leaky-bucket". */
  name?: string;
}

/** leakyLevelAt returns the level of a leaky bucket's state (level counted at atMs) at tMs >= atMs, before the floor at 0. */
function leakyLevelAt(level: number, atMs: number, tMs: number, rate: number): number {
  return tMs > atMs ? level - ((tMs - atMs) * rate) / 1000 : level;
}

/** leakyFits is the test leakyWaitMs settles by: the state's level at nowMs + r, plus add, is within limit. */
const leakyFits: WaitTest = (r, level, atMs, nowMs, add, limit, rate) =>
  leakyLevelAt(level, atMs, nowMs + r, rate) + add <= limit;

/**
 * leakyWaitMs returns the smallest whole r >= 0 at which a leaky bucket's state (level counted at
 * atMs) passes `level + add <= limit` (evaluate's test with add = cost, limit = capacity + EPSILON;
 * idle's with 0 and EPSILON; a negative level passes them exactly when 0 does), given `has`, its
 * level at nowMs: the estimate, used as is when clear of a whole ms by the guard, else settled by
 * the test itself (see WAIT_GUARD).
 */
function leakyWaitMs(
  level: number,
  atMs: number,
  nowMs: number,
  has: number,
  add: number,
  limit: number,
  rate: number,
  msPerUnit: number,
  fullMs: number,
): number {
  if (has + add <= limit) return 0;
  const x = (has + add - limit) * msPerUnit;
  const side = settleSide(x, waitGuard(nowMs, fullMs));
  return side === 0 ? Math.ceil(x) : settleMs(x, side, leakyFits, level, atMs, nowMs, add, limit, rate);
}

/**
 * leakyBucket builds a leaky bucket used as a meter. Each admitted call pours
 * `cost` into a bucket of size `capacity` that drains at a constant `leakRate`
 * per second; a call that would overflow the bucket is denied and pours nothing.
 *
 * As a meter it admits exactly what a token bucket of the same capacity and
 * refill rate admits (the level is capacity minus tokens); it is offered under
 * its own name because many specifications are written in its terms. It never
 * admits a burst larger than `capacity`, and over any interval of length d at
 * most `capacity + leakRate * d`. It does not queue or delay calls: to space
 * calls out, use `acquire`, which waits its turn. `retryAfterMs` and
 * `resetAfterMs` are exact: the smallest whole number of milliseconds after which
 * the same cost fits, or the bucket is empty (within EPSILON).
 *
 * A time earlier than the bucket's last update (the clock went back) rebases it:
 * the bucket keeps its level and its time moves back to that time, from which it
 * drains again. It mints nothing, and a client waits what a client at the same
 * level waits, not for the clock to catch up with the old time. A denial or a
 * peek that rebases stores the rebased state.
 */
export function leakyBucket(options: LeakyBucketOptions): Policy {
  const fn = "leakyBucket";
  const o = checkOptions(fn, options, ["capacity", "leakRate", "name"]);
  const capacity = integerOption(fn, "capacity", o.capacity, 1, MAX_LIMIT, "pass the bucket size, such as 10");
  const rate = numberOption(fn, "leakRate", o.leakRate, 0, MAX_RATE, "pass the drain per second, such as 2");
  const name = nameOption(fn, o.name, "leaky-bucket");
  if ((capacity * 1000) / rate > MAX_DURATION_MS) {
    throw new FloodgateRangeError(
      "ERR_INVALID_OPTION",
      `floodgate: leakyBucket({ capacity: ${capacity}, leakRate: ${rate} }) takes more than the 10 years supported to drain; raise leakRate.`,
    );
  }
  const msPerUnit = 1000 / rate;
  const fullMs = capacity * msPerUnit;
  // State: [level, updatedAtMs].
  return definePolicy(
    LEAKY_BUCKET,
    name,
    { capacity, leakRate: rate },
    {
      id: `${name}:lb:c${capacity}r${rate}`,
      limit: capacity,
      windowMs: ceilMs((capacity * 1000) / rate),
      stateSize: 2,
      params: Object.freeze([capacity, rate]),
      evaluate(
        s: ArrayLike<number>,
        o: number,
        fresh: boolean,
        nowMs: number,
        cost: number,
        next: number[] | Float64Array,
        out: Outcome,
      ): boolean {
        // The state kept if denied: as stored, or rebased to nowMs when its time is ahead (the clock went back).
        let keptLevel = 0;
        let keptAtMs = nowMs;
        let rebased = false;
        if (!fresh) {
          keptLevel = s[o] as number;
          keptAtMs = s[o + 1] as number;
          if (keptAtMs > nowMs) {
            keptAtMs = nowMs;
            rebased = true;
          }
        }
        let has = leakyLevelAt(keptLevel, keptAtMs, nowMs, rate);
        // A state empty within EPSILON at now is the same as no state (idle() lets the memory store drop it), so it
        // answers as a fresh one (regression, issue 8: with a 30-day leak, the residual level shifted resetAfterMs
        // by 2 ms between a kept and a dropped key).
        if (!fresh && has <= EPSILON) {
          keptLevel = 0;
          keptAtMs = nowMs;
          has = 0;
        }
        const level = has < 0 ? 0 : has;
        const filled = level + cost;
        out.rebased = rebased;
        if (filled <= capacity + EPSILON) {
          next[0] = filled;
          next[1] = nowMs;
          out.allowed = true;
          out.remaining = floorTokens(capacity - filled);
          out.retryAfterMs = 0;
          // A cost of 0 keeps the state as it was (or rebased): its reset is that state's.
          const took = cost > 0;
          out.resetAfterMs = leakyWaitMs(
            took ? filled : keptLevel,
            took ? nowMs : keptAtMs,
            nowMs,
            took ? filled : has,
            0,
            EPSILON,
            rate,
            msPerUnit,
            fullMs,
          );
          return true;
        }
        next[0] = keptLevel;
        next[1] = keptAtMs;
        out.allowed = false;
        out.remaining = floorTokens(capacity - level);
        out.retryAfterMs = leakyWaitMs(
          keptLevel,
          keptAtMs,
          nowMs,
          has,
          cost,
          capacity + EPSILON,
          rate,
          msPerUnit,
          fullMs,
        );
        out.resetAfterMs = leakyWaitMs(keptLevel, keptAtMs, nowMs, has, 0, EPSILON, rate, msPerUnit, fullMs);
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
        // Drained to nowMs, or rebased to it (keeping the level) when the state's time is ahead.
        const level = leakyLevelAt(s[o] as number, s[o + 1] as number, nowMs, rate) - cost;
        next[0] = level < 0 ? 0 : level;
        next[1] = nowMs;
        return true;
      },
      idle(s: ArrayLike<number>, o: number, nowMs: number): boolean {
        return leakyLevelAt(s[o] as number, s[o + 1] as number, nowMs, rate) <= EPSILON;
      },
    },
  );
}

/**
 * migrateLeaky carries a leaky bucket's state [level, updatedAtMs] to `to`: available is the
 * old capacity minus the level at nowMs (drained at the old rate, never below 0; a time ahead
 * of nowMs keeps its level); the new state holds new capacity minus the migrated available, at nowMs.
 */
function migrateLeaky(
  from: ArrayLike<number>,
  s: ArrayLike<number>,
  o: number,
  _length: number,
  nowMs: number,
  to: Policy,
  strategy: Strategy,
  next: number[],
): number {
  const oldCapacity = from[0] as number;
  const level = leakyLevelAt(s[o] as number, s[o + 1] as number, nowMs, from[1] as number);
  const available = oldCapacity - (level < 0 ? 0 : level);
  if (isFullAvailable(available, oldCapacity)) return 0;
  const newCapacity = to.params[0] as number;
  next[0] = newCapacity - migratedAvailable(strategy, available, oldCapacity, newCapacity);
  next[1] = nowMs;
  return 2;
}

/** LEAKY_BUCKET describes the leaky bucket meter: Lua twin 'lb'. */
export const LEAKY_BUCKET: AlgorithmDescriptor = Object.freeze({
  code: "lb",
  kind: "leakyBucket" as const,
  factory: "leakyBucket",
  lua: "leaky_bucket.lua",
  params: Object.freeze(["capacity", "leakRate"]),
  create: (options: Readonly<Record<string, unknown>>): Policy => leakyBucket(options as unknown as LeakyBucketOptions),
  scale: (p: Policy, scale: number): Policy =>
    leakyBucket({
      name: p.name,
      capacity: scaleLimit(p.limit, scale),
      leakRate: (p.options.leakRate as number) * scale,
    }),
  nextUnitMs: (p: Policy, d: { remaining: number; resetAfterMs: number }): number =>
    bucketNextUnitMs(d.resetAfterMs, p.limit - d.remaining, 1000 / (p.options.leakRate as number)),
  migrate: migrateLeaky,
});
