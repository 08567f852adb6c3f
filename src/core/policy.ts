// policy.ts: the Policy contract every algorithm implements, and the Decision types.

import type { AlgorithmDescriptor } from "./algorithm.js";
import type { LiveInfo } from "./live.js";

/** Algorithm names the classic rate limiting algorithms floodgate implements. */
export type Algorithm = "tokenBucket" | "gcra" | "leakyBucket" | "fixedWindow" | "slidingWindow" | "slidingLog";

/**
 * Outcome is the result of evaluating one policy at one instant. The numbers are
 * integers: `remaining` is never negative, and both waits are exact whole
 * milliseconds (see retryAfterMs and resetAfterMs).
 */
export interface Outcome {
  /** allowed is true when the cost fits. A cost of 0 is always allowed (a peek). */
  allowed: boolean;
  /** remaining is the whole cost that could still be admitted right now, after this call. */
  remaining: number;
  /**
   * retryAfterMs is 0 when allowed, else the smallest whole number of ms r such
   * that, with the kept state untouched in between, the same cost is admitted at
   * `nowMs + r` (and, r being the smallest, not at `nowMs + (r - 1)`).
   */
  retryAfterMs: number;
  /**
   * resetAfterMs is the smallest whole number of ms r such that the kept state
   * (the new state if admitted, else the state as it was) is full at `nowMs + r`:
   * `policy.idle(state, nowMs + r)` is true, and false at `nowMs + (r - 1)`.
   * Full means the state holds no information: a bucket back to capacity (within
   * EPSILON), GCRA's `tat` not ahead of now, a window with nothing counted, a log
   * with every entry expired. 0 when the state is full already.
   */
  resetAfterMs: number;
  /**
   * rebased is true when the state's time was ahead of `nowMs` (the clock went
   * back) and `next` holds it moved back to `nowMs`, keeping what was available
   * (each algorithm's factory says how). A store keeps `next` then whatever the
   * verdict, even for a denial or a cost of 0, so that the waits just given hold
   * and later calls count from now rather than from the old future.
   */
  rebased?: boolean;
}

/** newOutcome returns a zeroed scratch Outcome. */
export function newOutcome(): Outcome {
  return { allowed: false, remaining: 0, retryAfterMs: 0, resetAfterMs: 0, rebased: false };
}

/**
 * Policy is a validated, immutable rate limit: an algorithm and its parameters.
 * Build one with a factory (`tokenBucket`, `gcra`, `leakyBucket`, `fixedWindow`,
 * `slidingWindow`, `slidingLog`). Its methods are pure: they read no clock, set
 * no timer and do no I/O; time is always an argument.
 *
 * State is an array of doubles of length `stateSize` for fixed-size algorithms.
 * `slidingLog` has a variable-size state (`stateSize` is -1): a flat list of
 * `[timestampMs, cost]` pairs, oldest first.
 */
export interface Policy {
  /** kind names the algorithm. */
  readonly kind: Algorithm;
  /**
   * algorithm is the descriptor of the policy's algorithm (see algorithm.ts): its
   * Lua twin, its parameter names, how it scales for insurance, what headers need.
   */
  readonly algorithm: AlgorithmDescriptor;
  /**
   * options are the named parameters the policy was built from, defaults filled
   * in and without the name (`{ capacity: 10, refillRate: 2 }`): passing them with
   * the name to `algorithm.create` builds the same policy again.
   */
  readonly options: Readonly<Record<string, number>>;
  /** name identifies the policy in decisions and headers; a valid RFC 9651 key. */
  readonly name: string;
  /** id is a stable identity built from the name, the kind and the parameters; stores key state by it. */
  readonly id: string;
  /** limit is the largest cost admitted at once (the bucket capacity or window limit): the `q` of RateLimit-Policy. */
  readonly limit: number;
  /** windowMs is the time in which `limit` is fully restored: the `w` of RateLimit-Policy. */
  readonly windowMs: number;
  /** stateSize is the number of doubles of state per key, or -1 for a variable-size state. */
  readonly stateSize: number;
  /** params are the normalised parameters, in the order the Lua twin receives them. */
  readonly params: readonly number[];
  /**
   * live is set on a live policy (see `live()` in live.ts): a policy that can be replaced by
   * name while it runs, each key's state carrying the version that wrote it.
   */
  readonly live?: LiveInfo;
  /**
   * evaluate decides `cost` at `nowMs` against the state in `s` starting at `o`
   * (`fresh` when the key has no state). It writes the outcome into `out` and
   * the state to keep into `next` (from index 0): the new state when admitted,
   * else the state as it was (or rebased, see `Outcome.rebased`). It never writes
   * into `s`. A store writes `next` when the call is admitted with a cost above 0
   * or when `out.rebased` is set; otherwise the stored state stays as it was.
   * The cost must already be validated (a whole number, at most `limit`).
   */
  evaluate(
    s: ArrayLike<number>,
    o: number,
    fresh: boolean,
    nowMs: number,
    cost: number,
    next: number[] | Float64Array,
    out: Outcome,
  ): boolean;
  /**
   * refund gives back `cost` (never above the limit) and writes the new state
   * into `next`. It returns false when there is nothing to write (fresh state).
   */
  refund(
    s: ArrayLike<number>,
    o: number,
    fresh: boolean,
    nowMs: number,
    cost: number,
    next: number[] | Float64Array,
  ): boolean;
  /**
   * idle reports whether the state at `nowMs` is full: it holds no information,
   * so it can be dropped (see `Outcome.resetAfterMs`). A time earlier than the
   * state's own is read as the factory's rebase rule reads it.
   */
  idle(s: ArrayLike<number>, o: number, nowMs: number): boolean;
}

/** PolicyDecision is one policy's verdict within a Decision. */
export interface PolicyDecision {
  readonly policy: Policy;
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  readonly retryAfterMs: number;
  readonly resetAfterMs: number;
}

/** Degraded says how a decision was made when the store could not answer. */
export type Degraded = "fail-open" | "fail-closed" | "insurance";

/**
 * Decision is the answer to a consume or peek. A denial is an ordinary Decision
 * with `allowed: false`, never an exception. With several policies the top-level
 * fields come from the tightest one: the policy that denied (the longest wait) or,
 * when all allow, the one with the least remaining.
 */
export interface Decision {
  /** allowed is true when every policy admitted the cost (and it was taken from all). */
  readonly allowed: boolean;
  /** limit is the tightest policy's limit. */
  readonly limit: number;
  /** remaining is the tightest policy's remaining cost, a whole number >= 0. */
  readonly remaining: number;
  /** retryAfterMs is 0 when allowed, else the wait in ms until this cost could be admitted. */
  readonly retryAfterMs: number;
  /** resetAfterMs is the wait in ms until the tightest policy's state is back to full. */
  readonly resetAfterMs: number;
  /** policy is the tightest policy's name. */
  readonly policy: string;
  /** policies holds every policy's own verdict, in the order given. */
  readonly policies: readonly PolicyDecision[];
  /** degraded is set when the store failed and a failure policy decided instead. */
  readonly degraded?: Degraded;
  /**
   * blockedMs is set when the key is blocked (`RateLimiter.block`, or an automatic block
   * after repeated refusals): the whole ms left of its block, which is also `retryAfterMs`.
   */
  readonly blockedMs?: number;
}

/** EPSILON absorbs double rounding in token arithmetic: 1e-9 of a token. Both engines use it. */
export const EPSILON = 1e-9;

/**
 * WAIT_GUARD and FIX_STEPS make every wait exact: the smallest whole number of ms
 * after which the algorithm's own test (the one evaluate and idle make) passes.
 *
 * A wait is first estimated by formula, x ms. Its rounding errs by a few ulps of
 * the clock's magnitude and of the algorithm's longest wait (its window or time to
 * fill); WAIT_GUARD, 2^-47 of those, is at least 4 times more. When x is further
 * than the guard from a whole number, ceil(x) is the answer, and the common path
 * costs a multiplication. Otherwise (an exact rate lands x on a whole ms, less
 * EPSILON's share) the test itself is made once, at the time that tells on which
 * side of that whole ms the wait lies (settleSide); should it disagree with the
 * estimate by more, the wait is moved by the test, at most FIX_STEPS ms (a bound
 * that only absurd clocks, near 1e300 where adding 1 ms changes nothing, reach).
 * Where the test is a mere comparison (the windows and the log), it is always made.
 * The Lua twins make the same operations, so both engines give the same waits.
 */
export const WAIT_GUARD = 2 ** -47;

/** FIX_STEPS bounds how many whole ms a wait is moved when settled by its test (see WAIT_GUARD). */
export const FIX_STEPS = 8;

/**
 * settleSide says how an estimated wait of x ms is settled (see WAIT_GUARD), its test
 * being known to fail at 0 ms: 0, ceil(x) is the wait (x is clear of a whole ms by
 * `guard`, or just above 0); 1, x is just below (or on) a whole ms: the wait is
 * ceil(x) if the test passes there, else later; -1, x is just above a whole ms: the
 * wait is ceil(x) unless the test passes 1 ms earlier; 2, x is not positive: the wait
 * is found from 1 ms on.
 */
export function settleSide(x: number, guard: number): number {
  if (!(x > 0)) return 2;
  const r = Math.ceil(x);
  const d = r - x;
  if (d <= guard) return 1;
  return d < 1 - guard || r === 1 ? 0 : -1;
}

/**
 * waitGuard is the guard of settleSide for a wait estimated at `nowMs` by an algorithm whose
 * longest wait is `longestMs`: WAIT_GUARD of the magnitudes the estimate's rounding scales with.
 */
export function waitGuard(nowMs: number, longestMs: number): number {
  // Perf: the literal is WAIT_GUARD (2^-47; test/unit/core-hot-path.test.ts checks it): a module
  // constant costs a load and a hole check, and this function must stay under V8's 27-byte
  // "small function" size, which is inlined whatever the caller's budget left.
  return ((nowMs < 0 ? -nowMs : nowMs) + longestMs) * 7.105427357601002e-15;
}

/**
 * ceilClearMs returns ceil(x), the wait settleSide(x, guard) answers with 0, when x is clear of a
 * whole ms by `guard` on both sides, or is in (0, 1 - guard) (just above 0 is still 1 ms); otherwise
 * 0, and callers settle the wait the full way (settleSide, settleMs), which gives the same answer.
 * A result of 0 or less (x not positive, or too close to a whole ms) means "settle": it never
 * claims a wait settleSide would not. Perf: the hot paths' one wait test (see waitGuard).
 */
export function ceilClearMs(x: number, guard: number): number {
  const r = Math.ceil(x);
  const d = r - x;
  return d > guard && (d < 1 - guard || r === 1) ? r : 0;
}

/**
 * WaitTest is an algorithm's own test (the one evaluate or idle makes) of a kept state at
 * `nowMs + r`: whether the wait is over after r whole ms. It fails at r = 0, and once it
 * passes it passes at every later r. The state and the call come as the numbers `a` to `f`
 * (what each means is the algorithm's), so that no closure is made per call.
 */
export type WaitTest = (r: number, a: number, b: number, c: number, d: number, e: number, f: number) => boolean;

/**
 * settleMs returns the smallest whole r >= 1 at which `passes` holds, for an estimate of x ms
 * that settleSide placed on `side` (see WAIT_GUARD): 1, ceil(x) if it passes there, else later;
 * -1, ceil(x) unless it passes 1 ms earlier; 2 (or 0, which callers answer with ceil(x)
 * instead), found from 1 ms on. Where the test disagrees with the estimate by more, the wait is
 * moved by the test, at most FIX_STEPS ms each way. Every algorithm's exact waits end here.
 */
export function settleMs(
  x: number,
  side: number,
  passes: WaitTest,
  a: number,
  b: number,
  c: number,
  d: number,
  e: number,
  f: number,
): number {
  let r = Math.ceil(x);
  if (side === 1) {
    if (passes(r, a, b, c, d, e, f)) return r;
    r++;
  } else if (side === -1) {
    if (!passes(r - 1, a, b, c, d, e, f)) return r;
    r--;
  } else {
    r = 1;
  }
  for (let i = 0; i < FIX_STEPS && r > 1 && passes(r - 1, a, b, c, d, e, f); i++) r--;
  for (let i = 0; i < FIX_STEPS && !passes(r, a, b, c, d, e, f); i++) r++;
  return r;
}

/** floorTokens floors a token count, forgiving rounding just below a whole number. */
export function floorTokens(x: number): number {
  // Perf: the literal is EPSILON (see waitGuard). Whole tokens start at 1: y >= 1 is floor(y) > 0.
  const y = x + 1e-9;
  if (!(y >= 1)) return 0;
  return Math.floor(y);
}

/** ceilMs rounds a duration up to whole milliseconds, never below 0. */
export function ceilMs(x: number): number {
  const c = Math.ceil(x);
  return c > 0 ? c : 0;
}

/**
 * untilMs returns the smallest whole r >= 0 with `nowMs + r >= endMs`: the exact
 * wait until a time. The rounded difference is checked against the comparison
 * itself (cheap, so always), and moved when rounding put it a ms off.
 */
export function untilMs(endMs: number, nowMs: number): number {
  const r = Math.ceil(endMs - nowMs);
  return r > 0 && nowMs + r >= endMs && nowMs + (r - 1) < endMs ? r : untilMsSettled(endMs, nowMs, r);
}

/** untilMsSettled is untilMs for a difference that rounded a ms off (or 0): settled by the comparison. */
function untilMsSettled(endMs: number, nowMs: number, r: number): number {
  if (r <= 0) r = 0;
  for (let i = 0; i < FIX_STEPS && r > 0 && nowMs + (r - 1) >= endMs; i++) r--;
  for (let i = 0; i < FIX_STEPS && nowMs + r < endMs; i++) r++;
  return r;
}

/**
 * alignedStartMs returns the start of the aligned window of `windowMs` holding
 * `nowMs`: the multiple of windowMs at or below it (never above it, even where
 * the division rounds up).
 */
export function alignedStartMs(nowMs: number, windowMs: number): number {
  const start = Math.floor(nowMs / windowMs) * windowMs;
  return start > nowMs ? start - windowMs : start;
}

/** scaleLimit multiplies a limit by `scale` for an insurance twin: floored, but at least 1. */
export function scaleLimit(limit: number, scale: number): number {
  const x = Math.floor(limit * scale);
  return x > 1 ? x : 1;
}

/**
 * bucketNextUnitMs is the `t` of a bucket that refills one unit every `unitMs`:
 * with `missing` units short of full, the last one lands at resetAfterMs, so the
 * next one lands (missing - 1) units earlier. A full bucket reports one unit's
 * time: spent now, that is when the first unit returns.
 */
export function bucketNextUnitMs(resetAfterMs: number, missing: number, unitMs: number): number {
  const one = Math.ceil(unitMs);
  if (missing <= 0) return one;
  const t = Math.ceil(resetAfterMs - (missing - 1) * unitMs);
  return t < 0 ? 0 : t > one ? one : t;
}
