// leaky-bucket.ts: the leaky bucket as a meter.

import { type AlgorithmDescriptor, definePolicy } from "./algorithm.js";
import { FloodgateRangeError } from "./errors.js";
import { bucketNextUnitMs, ceilMs, EPSILON, floorTokens, type Outcome, type Policy, scaleLimit } from "./policy.js";
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
 * calls out, use `acquire`, which waits its turn.
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
        let level = 0;
        let at = nowMs;
        if (!fresh) {
          level = s[o] as number;
          at = s[o + 1] as number;
          if (nowMs > at) {
            level = level - ((nowMs - at) * rate) / 1000;
            if (level < 0) level = 0;
            at = nowMs;
          }
        }
        const filled = level + cost;
        next[1] = at;
        // After a clock went backwards, draining resumes only once nowMs passes `at`.
        const lagMs = at > nowMs ? at - nowMs : 0;
        if (filled <= capacity + EPSILON) {
          next[0] = filled;
          out.allowed = true;
          out.remaining = floorTokens(capacity - filled);
          out.retryAfterMs = 0;
          out.resetAfterMs = filled > 0 ? ceilMs(lagMs + (filled * 1000) / rate) : 0;
          return true;
        }
        next[0] = level;
        out.allowed = false;
        out.remaining = floorTokens(capacity - level);
        out.retryAfterMs = ceilMs(lagMs + ((filled - capacity) * 1000) / rate);
        out.resetAfterMs = ceilMs(lagMs + (level * 1000) / rate);
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
        let level = s[o] as number;
        let at = s[o + 1] as number;
        if (nowMs > at) {
          level = level - ((nowMs - at) * rate) / 1000;
          at = nowMs;
        }
        level = level - cost;
        next[0] = level < 0 ? 0 : level;
        next[1] = at;
        return true;
      },
      idle(s: ArrayLike<number>, o: number, nowMs: number): boolean {
        const at = s[o + 1] as number;
        const level = (s[o] as number) - (nowMs > at ? ((nowMs - at) * rate) / 1000 : 0);
        return level <= EPSILON;
      },
    },
  );
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
});
