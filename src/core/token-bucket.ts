// token-bucket.ts: the token bucket, smooth or stepwise refill.

import { type AlgorithmDescriptor, definePolicy } from "./algorithm.js";
import { FloodgateRangeError, FloodgateTypeError } from "./errors.js";
import {
  bucketNextUnitMs,
  ceilClearMs,
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
import { isFullAvailable, migratedAvailable, type Strategy, wholeAvailable } from "./strategy.js";
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
 * `refillAmount` at each interval boundary, counted from the first call that
 * finds the bucket not full: a full bucket is the same as a new one, so its
 * steps start again at its next call. The time since the last boundary is kept,
 * so frequent calls do not delay the next step. Over any interval of length d, at most
 * `capacity + refillAmount * ceil(d / refillIntervalMs)` cost is admitted.
 *
 * `retryAfterMs` and `resetAfterMs` are exact: the smallest whole number of
 * milliseconds after which the same cost is admitted, or the bucket is full again
 * (within EPSILON of capacity).
 *
 * A time earlier than the bucket's own (its last update, or its last refill step;
 * the clock went back) rebases it: the bucket keeps the tokens it had and its time
 * moves back to that time, from which it refills again (the next step comes one
 * whole interval later). It mints nothing, and a client waits what a client
 * holding the same tokens waits, not for the clock to catch up with the old time.
 * A denial or a peek that rebases stores the rebased state.
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

/** smoothTokensAt returns the tokens of a smooth bucket's state (tokens counted at atMs) at tMs >= atMs, before the cap. */
function smoothTokensAt(tokens: number, atMs: number, tMs: number, rate: number): number {
  return tMs > atMs ? tokens + ((tMs - atMs) * rate) / 1000 : tokens;
}

/**
 * smoothWaitMs returns the smallest whole r >= 0 at which a smooth bucket's state (tokens counted at
 * atMs) holds `want` tokens within EPSILON, given `has`, its tokens at nowMs: the estimate, used as
 * is when clear of a whole ms by the guard, else settled by the test itself (see WAIT_GUARD).
 */
function smoothWaitMs(
  tokens: number,
  atMs: number,
  nowMs: number,
  has: number,
  want: number,
  rate: number,
  msPerToken: number,
  fullMs: number,
): number {
  if (has + EPSILON >= want) return 0;
  const x = (want - EPSILON - has) * msPerToken;
  const side = settleSide(x, waitGuard(nowMs, fullMs));
  return side === 0 ? Math.ceil(x) : smoothSettleMs(tokens, atMs, nowMs, want, rate, x, side);
}

/** smoothHolds is the test smooth waits settle by: the state holds `want` tokens (within EPSILON) at nowMs + r. */
const smoothHolds: WaitTest = (r, tokens, atMs, nowMs, want, rate) =>
  smoothTokensAt(tokens, atMs, nowMs + r, rate) + EPSILON >= want;

/** smoothSettleMs settles the estimate x by the test itself, on the side settleSide gave (see settleMs). */
function smoothSettleMs(
  tokens: number,
  atMs: number,
  nowMs: number,
  want: number,
  rate: number,
  x: number,
  side: number,
): number {
  return settleMs(x, side, smoothHolds, tokens, atMs, nowMs, want, rate, 0);
}

/**
 * smoothEvaluate returns a smooth bucket's evaluate: a hot body for the common cases, a kept bucket
 * (not fresh, its time not ahead of nowMs; full or not) and a cost above 0 whose waits are clear of
 * a whole ms (ceilClearMs), and `evaluateAll`, the full code, for every other case.
 * The hot body makes the same operations as evaluateAll in the same order, so it gives the same
 * numbers (test/unit/core-hot-path.test.ts checks it against evaluateAll). Perf: it is kept small
 * (about 300 bytes of bytecode, under V8's 460-byte limit per inlined function) so that V8 inlines
 * it into the memory store's hot path; the parameters (not closure constants) spare it a hole check
 * per use, and `1e-9` is EPSILON written out for the same reason. Exported for that test; not part
 * of the package's API.
 */
export function smoothEvaluate(
  capacity: number,
  rate: number,
  msPerToken: number,
  fullMs: number,
  evaluateAll: Policy["evaluate"],
): Policy["evaluate"] {
  return function evaluate(
    s: ArrayLike<number>,
    o: number,
    fresh: boolean,
    nowMs: number,
    cost: number,
    next: number[] | Float64Array,
    out: Outcome,
  ): boolean {
    if (!fresh && cost > 0) {
      const kept = s[o] as number;
      const atMs = s[o + 1] as number;
      if (atMs <= nowMs) {
        // smoothTokensAt without its test: at nowMs === atMs the refill term is 0, and kept + 0 differs from
        // kept only for -0, whose sign nothing below lets out.
        let has = kept + ((nowMs - atMs) * rate) / 1000;
        // Full within EPSILON answers as fresh (as evaluateAll): capacity tokens at nowMs. The same branch as a
        // draining bucket's, so real traffic (mostly full buckets) and a draining one share this body. Denied when
        // full (a cost above capacity): the reset is 0 there, and the test below hands it to evaluateAll.
        if (has + 1e-9 >= capacity) has = capacity;
        const allowed = has + 1e-9 >= cost;
        // Denied: `left` is what the bucket holds, and the reset is that state's (as evaluateAll's).
        const left = allowed ? has - cost : has;
        // waitGuard(nowMs, fullMs), written out (Perf: the call costs V8's inlining budget more than its body).
        const guard = ((nowMs < 0 ? -nowMs : nowMs) + fullMs) * 7.105427357601002e-15;
        const resetAfterMs = ceilClearMs((capacity - 1e-9 - left) * msPerToken, guard);
        const retryAfterMs = allowed ? 0 : ceilClearMs((cost - 1e-9 - has) * msPerToken, guard);
        if (resetAfterMs > 0 && (allowed || retryAfterMs > 0)) {
          next[0] = allowed ? left : kept;
          next[1] = allowed ? nowMs : atMs;
          out.rebased = false;
          out.allowed = allowed;
          out.remaining = floorTokens(left);
          out.retryAfterMs = retryAfterMs;
          out.resetAfterMs = resetAfterMs;
          return allowed;
        }
      }
    }
    return evaluateAll(s, o, fresh, nowMs, cost, next, out);
  };
}

/**
 * smoothEvaluateAll returns a smooth bucket's evaluate for every case (smoothEvaluate's hot body
 * decides the common ones and hands it the rest). Exported for test/unit/core-hot-path.test.ts,
 * which checks the hot body against it; not part of the package's API.
 */
export function smoothEvaluateAll(
  capacity: number,
  rate: number,
  msPerToken: number,
  fullMs: number,
): Policy["evaluate"] {
  return function evaluateAll(
    s: ArrayLike<number>,
    o: number,
    fresh: boolean,
    nowMs: number,
    cost: number,
    next: number[] | Float64Array,
    out: Outcome,
  ): boolean {
    // The state kept if denied: as stored, or rebased to nowMs when its time is ahead (the clock went back).
    let keptTokens = capacity;
    let keptAtMs = nowMs;
    let rebased = false;
    if (!fresh) {
      keptTokens = s[o] as number;
      keptAtMs = s[o + 1] as number;
      if (keptAtMs > nowMs) {
        keptAtMs = nowMs;
        rebased = true;
      }
    }
    out.rebased = rebased;
    let has = smoothTokensAt(keptTokens, keptAtMs, nowMs, rate);
    // A state full within EPSILON at now is the same as no state (idle() lets the memory store drop it), so it
    // answers as a fresh one (regression, issue 8: with a 30-day refill, the missing sliver shifted resetAfterMs
    // between a kept and a dropped key).
    if (!fresh && has + EPSILON >= capacity) {
      keptTokens = capacity;
      keptAtMs = nowMs;
      has = capacity;
    }
    const tokens = has > capacity ? capacity : has;
    if (tokens + EPSILON < cost) {
      next[0] = keptTokens;
      next[1] = keptAtMs;
      out.allowed = false;
      out.remaining = floorTokens(has);
      out.retryAfterMs = smoothWaitMs(keptTokens, keptAtMs, nowMs, has, cost, rate, msPerToken, fullMs);
      out.resetAfterMs = smoothWaitMs(keptTokens, keptAtMs, nowMs, has, capacity, rate, msPerToken, fullMs);
      return false;
    }
    const left = tokens - cost;
    next[0] = left;
    next[1] = nowMs;
    out.allowed = true;
    out.remaining = floorTokens(left);
    out.retryAfterMs = 0;
    if (cost > 0) {
      // left <= capacity - 1: not full. smoothWaitMs's estimate and guard, inline (the hot path).
      const x = (capacity - EPSILON - left) * msPerToken;
      const side = settleSide(x, waitGuard(nowMs, fullMs));
      out.resetAfterMs = side === 0 ? Math.ceil(x) : smoothSettleMs(left, nowMs, nowMs, capacity, rate, x, side);
    } else {
      // A cost of 0 keeps the state as it was (or rebased): its reset is that state's.
      out.resetAfterMs = smoothWaitMs(keptTokens, keptAtMs, nowMs, has, capacity, rate, msPerToken, fullMs);
    }
    return true;
  };
}

// Smooth bucket state: [tokens, updatedAtMs]. Tokens may be fractional.
function smoothBucket(name: string, capacity: number, rate: number): Policy {
  const msPerToken = 1000 / rate;
  const fullMs = capacity * msPerToken;
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
      evaluate: smoothEvaluate(
        capacity,
        rate,
        msPerToken,
        fullMs,
        smoothEvaluateAll(capacity, rate, msPerToken, fullMs),
      ),
      refund(
        s: ArrayLike<number>,
        o: number,
        fresh: boolean,
        nowMs: number,
        cost: number,
        next: number[] | Float64Array,
      ): boolean {
        if (fresh) return false;
        // Refilled to nowMs, or rebased to it (keeping the tokens) when the state's time is ahead.
        const tokens = smoothTokensAt(s[o] as number, s[o + 1] as number, nowMs, rate) + cost;
        next[0] = tokens > capacity ? capacity : tokens;
        next[1] = nowMs;
        return true;
      },
      idle(s: ArrayLike<number>, o: number, nowMs: number): boolean {
        return smoothTokensAt(s[o] as number, s[o + 1] as number, nowMs, rate) + EPSILON >= capacity;
      },
    },
  );
}

/** steppedTokensAt returns the tokens of a stepped bucket's state (tokens, last refill at lastMs) at tMs >= lastMs, before the cap. */
function steppedTokensAt(tokens: number, lastMs: number, tMs: number, amount: number, intervalMs: number): number {
  return tMs > lastMs ? tokens + Math.floor((tMs - lastMs) / intervalMs) * amount : tokens;
}

/** steppedHolds is the test stepped waits settle by: the state holds `want` tokens at nowMs + r. */
const steppedHolds: WaitTest = (r, tokens, lastMs, nowMs, amount, intervalMs, want) =>
  steppedTokensAt(tokens, lastMs, nowMs + r, amount, intervalMs) >= want;

/**
 * steppedWaitMs returns the smallest whole r >= 0 at which a stepped bucket's state holds `want`
 * tokens, given `has`, its tokens at nowMs: the time of the step that brings them, used as is when
 * clear of a whole ms by the guard, else settled by the test itself (see WAIT_GUARD).
 */
function steppedWaitMs(
  tokens: number,
  lastMs: number,
  nowMs: number,
  has: number,
  want: number,
  amount: number,
  intervalMs: number,
  fullMs: number,
): number {
  if (has >= want) return 0;
  const x = lastMs + Math.ceil((want - tokens) / amount) * intervalMs - nowMs;
  const side = settleSide(x, waitGuard(nowMs, fullMs));
  return side === 0 ? Math.ceil(x) : settleMs(x, side, steppedHolds, tokens, lastMs, nowMs, amount, intervalMs, want);
}

// Stepped bucket state: [tokens, lastRefillMs]; lastRefillMs moves by whole intervals.
function steppedBucket(name: string, capacity: number, amount: number, intervalMs: number): Policy {
  const fullMs = Math.ceil(capacity / amount) * intervalMs;
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
        // The state kept if denied: as stored, or rebased to nowMs when its time is ahead (the clock went back).
        // A state full at nowMs is the same as no state (issue 8): its phase restarts at nowMs, as a fresh
        // bucket's, so a store dropping an idle key (the memory sweep, a Redis TTL) is not observable.
        let keptTokens = capacity;
        let keptLastMs = nowMs;
        let rebased = false;
        if (!fresh && steppedTokensAt(s[o] as number, s[o + 1] as number, nowMs, amount, intervalMs) < capacity) {
          keptTokens = s[o] as number;
          keptLastMs = s[o + 1] as number;
          if (keptLastMs > nowMs) {
            keptLastMs = nowMs;
            rebased = true;
          }
        }
        let tokens = keptTokens;
        let last = keptLastMs;
        if (nowMs > last) {
          const steps = Math.floor((nowMs - last) / intervalMs);
          if (steps > 0) {
            tokens = tokens + steps * amount;
            if (tokens > capacity) tokens = capacity;
            last = last + steps * intervalMs;
          }
        }
        out.rebased = rebased;
        if (tokens >= cost) {
          const left = tokens - cost;
          next[0] = left;
          next[1] = last;
          out.allowed = true;
          out.remaining = left;
          out.retryAfterMs = 0;
          // A cost of 0 keeps the state as it was (or rebased): its reset is that state's.
          out.resetAfterMs =
            cost > 0
              ? steppedWaitMs(
                  left,
                  last,
                  nowMs,
                  steppedTokensAt(left, last, nowMs, amount, intervalMs),
                  capacity,
                  amount,
                  intervalMs,
                  fullMs,
                )
              : steppedWaitMs(keptTokens, keptLastMs, nowMs, tokens, capacity, amount, intervalMs, fullMs);
          return true;
        }
        next[0] = keptTokens;
        next[1] = keptLastMs;
        out.allowed = false;
        out.remaining = tokens;
        out.retryAfterMs = steppedWaitMs(keptTokens, keptLastMs, nowMs, tokens, cost, amount, intervalMs, fullMs);
        out.resetAfterMs = steppedWaitMs(keptTokens, keptLastMs, nowMs, tokens, capacity, amount, intervalMs, fullMs);
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
        } else {
          // Rebased when the state's time is ahead (the clock went back).
          last = nowMs;
        }
        tokens = tokens + cost;
        next[0] = tokens > capacity ? capacity : tokens;
        next[1] = last;
        return true;
      },
      idle(s: ArrayLike<number>, o: number, nowMs: number): boolean {
        return steppedTokensAt(s[o] as number, s[o + 1] as number, nowMs, amount, intervalMs) >= capacity;
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

/**
 * migrateSmooth carries a smooth bucket's state [tokens, updatedAtMs] to `to`: available is
 * the tokens at nowMs (refilled at the old rate, capped at the old capacity; a time ahead of
 * nowMs keeps its tokens), and the new state holds the migrated tokens at nowMs.
 */
function migrateSmooth(
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
  const has = smoothTokensAt(s[o] as number, s[o + 1] as number, nowMs, from[1] as number);
  const available = has > oldCapacity ? oldCapacity : has;
  if (isFullAvailable(available, oldCapacity)) return 0;
  next[0] = migratedAvailable(strategy, available, oldCapacity, to.params[0] as number);
  next[1] = nowMs;
  return 2;
}

/**
 * migrateStepped carries a stepped bucket's state [tokens, lastRefillMs] to `to`: available
 * is the whole tokens at nowMs after the old steps; the new state keeps the last step's
 * time when less than one new interval has passed since it (the phase is kept), else starts
 * the new interval at nowMs, so no new step lands at once (nothing is minted by a shorter
 * interval).
 */
function migrateStepped(
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
  const oldAmount = from[1] as number;
  const oldIntervalMs = from[2] as number;
  let tokens = s[o] as number;
  let last = s[o + 1] as number;
  if (last > nowMs) {
    last = nowMs;
  } else {
    const steps = Math.floor((nowMs - last) / oldIntervalMs);
    tokens = tokens + steps * oldAmount;
    last = last + steps * oldIntervalMs;
  }
  const available = tokens > oldCapacity ? oldCapacity : tokens;
  if (isFullAvailable(available, oldCapacity)) return 0;
  next[0] = wholeAvailable(migratedAvailable(strategy, available, oldCapacity, to.params[0] as number));
  next[1] = nowMs - last < (to.params[2] as number) ? last : nowMs;
  return 2;
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
  migrate: migrateSmooth,
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
  migrate: migrateStepped,
});
