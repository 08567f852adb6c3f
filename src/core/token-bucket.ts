// token-bucket.ts: the token bucket, smooth or stepwise refill.

import { type AlgorithmDescriptor, definePolicy } from "./algorithm.js";
import { FloodgateRangeError, FloodgateTypeError } from "./errors.js";
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

/** SmoothTokenBucketOptions configures a bucket that refills continuously. */
export interface SmoothTokenBucketOptions {
  /** capacity is the largest burst: the bucket holds at most this many tokens. A cost above it is never allowed. */
  capacity: number;
  /** refillRate is tokens added per second, continuously; fractional rates such as 10/13 are fine. */
  refillRate: number;
  /** name identifies the policy in decisions and headers. Default "token-bucket". */
  name?: string;
}

/** SteppedTokenBucketOptions configures a bucket that refills in steps (the API gateway style). */
export interface SteppedTokenBucketOptions {
  /** capacity is the largest burst: the bucket holds at most this many tokens. */
  capacity: number;
  /** refillAmount is the whole number of tokens added at each interval boundary. */
  refillAmount: number;
  /** refillIntervalMs is the time between refills; a partial interval is kept, not lost. */
  refillIntervalMs: number;
  /** name identifies the policy in decisions and headers. Default "token-bucket". */
  name?: string;
}

export type TokenBucketOptions = SmoothTokenBucketOptions | SteppedTokenBucketOptions;

const KNOWN = ["capacity", "refillRate", "refillAmount", "refillIntervalMs", "name"] as const;

/**
 * tokenBucket builds a token bucket policy. A bucket holds up to `capacity`
 * tokens and starts full; each call spends `cost` tokens, and a call that finds
 * fewer tokens than its cost is denied and spends nothing.
 *
 * With `refillRate`, tokens flow back continuously at that many per second: over
 * any interval of length d, at most `capacity + refillRate * d` cost is admitted.
 * Fractional tokens are kept in the state (never rounded away), so a rate such as
 * 10/13 per second does not drift however many calls are made.
 *
 * With `refillAmount` and `refillIntervalMs`, tokens come back in steps:
 * `refillAmount` at each interval boundary, counted from the bucket's creation.
 * The time since the last boundary is kept, so frequent calls do not delay the
 * next step. Over any interval of length d, at most
 * `capacity + refillAmount * ceil(d / refillIntervalMs)` cost is admitted.
 *
 * A time earlier than the last one seen (a clock going backwards) refills
 * nothing; it never mints tokens.
 */
export function tokenBucket(options: TokenBucketOptions): Policy {
  const fn = "tokenBucket";
  const o = checkOptions(fn, options, KNOWN);
  const capacity = integerOption(fn, "capacity", o.capacity, 1, MAX_LIMIT, "pass the largest burst, such as 10");
  const name = nameOption(fn, o.name, "token-bucket");
  const smooth = o.refillRate !== undefined;
  const stepped = o.refillAmount !== undefined || o.refillIntervalMs !== undefined;
  if (smooth === stepped) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      smooth
        ? `floodgate: tokenBucket() takes either { refillRate } or { refillAmount, refillIntervalMs }, not both; drop one form.`
        : `floodgate: tokenBucket() needs a refill: { refillRate: 2 } (tokens per second) or { refillAmount: 1, refillIntervalMs: 500 }.`,
    );
  }
  if (smooth) {
    const rate = numberOption(
      fn,
      "refillRate",
      o.refillRate,
      0,
      MAX_RATE,
      "pass tokens per second, such as 2 or 10/13",
    );
    const fullMs = (capacity * 1000) / rate;
    if (fullMs > MAX_DURATION_MS) {
      throw new FloodgateRangeError(
        "ERR_INVALID_OPTION",
        `floodgate: tokenBucket({ capacity: ${capacity}, refillRate: ${rate} }) takes ${Math.round(
          fullMs / 86_400_000,
        )} days to refill, more than the 10 years supported; raise refillRate.`,
      );
    }
    return smoothBucket(name, capacity, rate);
  }
  const amount = integerOption(
    fn,
    "refillAmount",
    o.refillAmount,
    1,
    MAX_LIMIT,
    "pass the whole number of tokens added per interval, such as 1",
  );
  const intervalMs = integerOption(
    fn,
    "refillIntervalMs",
    o.refillIntervalMs,
    1,
    MAX_DURATION_MS,
    "pass the interval in whole milliseconds, such as 1000",
  );
  const steps = Math.ceil(capacity / amount);
  if (steps * intervalMs > MAX_DURATION_MS) {
    throw new FloodgateRangeError(
      "ERR_INVALID_OPTION",
      `floodgate: tokenBucket({ capacity: ${capacity}, refillAmount: ${amount}, refillIntervalMs: ${intervalMs} }) takes more than the 10 years supported to refill; raise refillAmount or shorten refillIntervalMs.`,
    );
  }
  return steppedBucket(name, capacity, amount, intervalMs);
}

// Smooth bucket state: [tokens, updatedAtMs]. Tokens may be fractional.
function smoothBucket(name: string, capacity: number, rate: number): Policy {
  // refill returns the tokens at nowMs; `at` is the time they are counted from.
  return definePolicy(
    TOKEN_BUCKET,
    name,
    { capacity, refillRate: rate },
    {
      id: `${name}:tb:c${capacity}r${rate}`,
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
        let tokens = capacity;
        let at = nowMs;
        if (!fresh) {
          tokens = s[o] as number;
          at = s[o + 1] as number;
          if (nowMs > at) {
            tokens = tokens + ((nowMs - at) * rate) / 1000;
            if (tokens > capacity) tokens = capacity;
            at = nowMs;
          }
        }
        // After a clock went backwards, refill resumes only once nowMs passes `at`.
        const lagMs = at > nowMs ? at - nowMs : 0;
        if (tokens + EPSILON >= cost) {
          const left = tokens - cost;
          next[0] = left;
          next[1] = at;
          out.allowed = true;
          out.remaining = floorTokens(left);
          out.retryAfterMs = 0;
          out.resetAfterMs = left < capacity ? ceilMs(lagMs + ((capacity - left) * 1000) / rate) : 0;
          return true;
        }
        next[0] = tokens;
        next[1] = at;
        out.allowed = false;
        out.remaining = floorTokens(tokens);
        out.retryAfterMs = ceilMs(lagMs + ((cost - tokens) * 1000) / rate);
        out.resetAfterMs = ceilMs(lagMs + ((capacity - tokens) * 1000) / rate);
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
        let tokens = s[o] as number;
        let at = s[o + 1] as number;
        if (nowMs > at) {
          tokens = tokens + ((nowMs - at) * rate) / 1000;
          at = nowMs;
        }
        tokens = tokens + cost;
        next[0] = tokens > capacity ? capacity : tokens;
        next[1] = at;
        return true;
      },
      idle(s: ArrayLike<number>, o: number, nowMs: number): boolean {
        const at = s[o + 1] as number;
        const tokens = (s[o] as number) + (nowMs > at ? ((nowMs - at) * rate) / 1000 : 0);
        return tokens + EPSILON >= capacity;
      },
    },
  );
}

// Stepped bucket state: [tokens, lastRefillMs]; lastRefillMs moves by whole intervals.
function steppedBucket(name: string, capacity: number, amount: number, intervalMs: number): Policy {
  return definePolicy(
    STEPPED_TOKEN_BUCKET,
    name,
    { capacity, refillAmount: amount, refillIntervalMs: intervalMs },
    {
      id: `${name}:tb:c${capacity}a${amount}i${intervalMs}`,
      limit: capacity,
      windowMs: Math.ceil(capacity / amount) * intervalMs,
      stateSize: 2,
      params: Object.freeze([capacity, amount, intervalMs]),
      evaluate(
        s: ArrayLike<number>,
        o: number,
        fresh: boolean,
        nowMs: number,
        cost: number,
        next: number[] | Float64Array,
        out: Outcome,
      ): boolean {
        let tokens = capacity;
        let last = nowMs;
        if (!fresh) {
          tokens = s[o] as number;
          last = s[o + 1] as number;
          if (nowMs > last) {
            const steps = Math.floor((nowMs - last) / intervalMs);
            if (steps > 0) {
              tokens = tokens + steps * amount;
              if (tokens > capacity) tokens = capacity;
              last = last + steps * intervalMs;
            }
          }
        }
        next[1] = last;
        if (tokens >= cost) {
          const left = tokens - cost;
          next[0] = left;
          out.allowed = true;
          out.remaining = left;
          out.retryAfterMs = 0;
          out.resetAfterMs =
            left >= capacity ? 0 : ceilMs(last + Math.ceil((capacity - left) / amount) * intervalMs - nowMs);
          return true;
        }
        next[0] = tokens;
        out.allowed = false;
        out.remaining = tokens;
        out.retryAfterMs = ceilMs(last + Math.ceil((cost - tokens) / amount) * intervalMs - nowMs);
        out.resetAfterMs = ceilMs(last + Math.ceil((capacity - tokens) / amount) * intervalMs - nowMs);
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
        let tokens = s[o] as number;
        let last = s[o + 1] as number;
        if (nowMs > last) {
          const steps = Math.floor((nowMs - last) / intervalMs);
          tokens = tokens + steps * amount;
          last = last + steps * intervalMs;
        }
        tokens = tokens + cost;
        next[0] = tokens > capacity ? capacity : tokens;
        next[1] = last;
        return true;
      },
      idle(s: ArrayLike<number>, o: number, nowMs: number): boolean {
        const last = s[o + 1] as number;
        const steps = nowMs > last ? Math.floor((nowMs - last) / intervalMs) : 0;
        return (s[o] as number) + steps * amount >= capacity;
      },
    },
  );
}

/** createForm builds a token bucket from `options` and checks that it has the form `want`. */
function createForm(want: AlgorithmDescriptor, options: Readonly<Record<string, unknown>>): Policy {
  const p = tokenBucket(options as unknown as TokenBucketOptions);
  if (p.algorithm !== want) {
    throw new FloodgateTypeError(
      "ERR_INVALID_POLICY",
      `floodgate: ${want.code === "tb" ? "a smooth" : "a stepped"} tokenBucket needs { ${want.params.join(", ")} }; got the options of the other form.`,
    );
  }
  return p;
}

/** TOKEN_BUCKET describes the smooth token bucket (`refillRate`): Lua twin 'tb'. */
export const TOKEN_BUCKET: AlgorithmDescriptor = Object.freeze({
  code: "tb",
  kind: "tokenBucket" as const,
  factory: "tokenBucket",
  lua: "token_bucket.lua",
  params: Object.freeze(["capacity", "refillRate"]),
  create: (options: Readonly<Record<string, unknown>>): Policy => createForm(TOKEN_BUCKET, options),
  scale: (p: Policy, scale: number): Policy =>
    tokenBucket({
      name: p.name,
      capacity: scaleLimit(p.limit, scale),
      refillRate: (p.options.refillRate as number) * scale,
    }),
  nextUnitMs: (p: Policy, d: { remaining: number; resetAfterMs: number }): number =>
    bucketNextUnitMs(d.resetAfterMs, p.limit - d.remaining, 1000 / (p.options.refillRate as number)),
});

/** STEPPED_TOKEN_BUCKET describes the stepped token bucket (`refillAmount` per `refillIntervalMs`): Lua twin 'ts'. */
export const STEPPED_TOKEN_BUCKET: AlgorithmDescriptor = Object.freeze({
  code: "ts",
  kind: "tokenBucket" as const,
  factory: "tokenBucket",
  lua: "token_bucket.lua",
  params: Object.freeze(["capacity", "refillAmount", "refillIntervalMs"]),
  create: (options: Readonly<Record<string, unknown>>): Policy => createForm(STEPPED_TOKEN_BUCKET, options),
  // The same steps, each scale times further apart, from a scaled capacity.
  scale: (p: Policy, scale: number): Policy =>
    tokenBucket({
      name: p.name,
      capacity: scaleLimit(p.limit, scale),
      refillAmount: p.options.refillAmount as number,
      refillIntervalMs: Math.max(1, Math.round((p.options.refillIntervalMs as number) / scale)),
    }),
  // The time until the next refill step.
  nextUnitMs: (p: Policy, d: { remaining: number; resetAfterMs: number }): number => {
    const amount = p.options.refillAmount as number;
    const intervalMs = p.options.refillIntervalMs as number;
    const missing = p.limit - d.remaining;
    if (missing <= 0) return intervalMs;
    const t = d.resetAfterMs - (Math.ceil(missing / amount) - 1) * intervalMs;
    return t < 0 ? 0 : t > intervalMs ? intervalMs : t;
  },
});
