// sliding-window.ts: the weighted two-window counter.

import { type AlgorithmDescriptor, definePolicy } from "./algorithm.js";
import type { WindowOptions } from "./fixed-window.js";
import {
  alignedStartMs,
  EPSILON,
  floorTokens,
  type Outcome,
  type Policy,
  scaleLimit,
  settleMs,
  untilMs,
  WAIT_GUARD,
  type WaitTest,
} from "./policy.js";
import { isFullAvailable, migratedAvailable, type Strategy } from "./strategy.js";
import { checkOptions, integerOption, MAX_DURATION_MS, MAX_LIMIT, nameOption } from "./validate.js";

/**
 * slidingWindow builds a sliding window counter. It keeps two fixed windows,
 * the current and the previous one, and estimates the cost used in the last
 * `windowMs` as `previous * (unexpired share of the previous window) + current`,
 * assuming the previous window's calls were spread evenly. It smooths the
 * boundary burst of `fixedWindow` in three numbers per key.
 *
 * It is an estimate: when the previous window's calls were bunched at its end,
 * a true sliding window of length `windowMs` may see up to about twice `limit`
 * at worst; for evenly spread traffic it matches the exact `slidingLog`. Over any
 * aligned pair of consecutive windows it admits at most `2 * limit`.
 * `retryAfterMs` and `resetAfterMs` are exact: the smallest whole number of
 * milliseconds after which the same cost fits the estimate, or both windows have
 * rolled out.
 *
 * A time earlier than the stored window's start (the clock went back) rebases
 * it: the current window starts at that time, keeping both counts, so the
 * previous window weighs fully again (the estimate is the most it was at any
 * time of the stored window) and slides out over a whole `windowMs` from there;
 * the windows after it keep that phase until a call comes a whole window after
 * the last one ended, when they align to the clock again. It mints nothing, and
 * a client waits at most two windows, not for the clock to catch up with the
 * old window. A denial or a peek that rebases stores the rebased state.
 */
export function slidingWindow(options: WindowOptions): Policy {
  const fn = "slidingWindow";
  const o = checkOptions(fn, options, ["limit", "windowMs", "name"]);
  const limit = integerOption(fn, "limit", o.limit, 1, MAX_LIMIT, "pass the most requests per window, such as 100");
  const windowMs = integerOption(
    fn,
    "windowMs",
    o.windowMs,
    1,
    MAX_DURATION_MS,
    "pass the window in whole milliseconds, such as 60000",
  );
  const name = nameOption(fn, o.name, "sliding-window");

  // roll moves the state to nowMs; it writes [windowStart, previous, current] into r and returns
  // true when it rebased the state (nowMs before the stored window's start: the clock went back).
  const roll = (
    s: ArrayLike<number>,
    o: number,
    fresh: boolean,
    nowMs: number,
    r: number[] | Float64Array,
  ): boolean => {
    if (fresh) {
      r[0] = alignedStartMs(nowMs, windowMs);
      r[1] = 0;
      r[2] = 0;
      return false;
    }
    const windowStart = s[o] as number;
    const endMs = windowStart + windowMs;
    if (nowMs < windowStart) {
      // The current window starts now, keeping both counts: the previous one weighs fully again.
      r[0] = nowMs;
      r[1] = s[o + 1] as number;
      r[2] = s[o + 2] as number;
      return true;
    }
    if (nowMs < endMs) {
      r[0] = windowStart;
      r[1] = s[o + 1] as number;
      r[2] = s[o + 2] as number;
    } else if (nowMs < endMs + windowMs) {
      // The next window, in this state's phase (aligned unless a rebase moved it).
      r[0] = endMs;
      r[1] = s[o + 2] as number;
      r[2] = 0;
    } else {
      r[0] = alignedStartMs(nowMs, windowMs);
      r[1] = 0;
      r[2] = 0;
    }
    return false;
  };

  // estimateAt is evaluate's estimate of the state [windowStart, previous, current] at tMs >= windowStart
  // (rolled as roll does): the same operations in the same order, so the same doubles.
  const estimateAt = (windowStart: number, previous: number, current: number, tMs: number): number => {
    const endMs = windowStart + windowMs;
    if (tMs < endMs) return (previous * (windowMs - (tMs - windowStart))) / windowMs + current;
    if (tMs < endMs + windowMs) return (current * (windowMs - (tMs - endMs))) / windowMs + 0;
    return 0;
  };
  // fitsAt is evaluate's admission test of `cost` for that state at tMs >= windowStart.
  const fitsAt = (windowStart: number, previous: number, current: number, tMs: number, cost: number): boolean =>
    estimateAt(windowStart, previous, current, tMs) + cost <= limit + EPSILON;
  // resetMs returns the smallest whole r >= 0 at which the state is full (idle's test, which roll
  // makes): both counts rolled out, at the end of the window after the one holding the current
  // count, or at the end of this window when only the previous count is left; then untilMs.
  const resetMs = (windowStart: number, previous: number, current: number, nowMs: number): number =>
    previous <= 0 && current <= 0
      ? 0
      : untilMs(current > 0 ? windowStart + windowMs + windowMs : windowStart + windowMs, nowMs);
  const fitsAfter: WaitTest = (r, windowStart, previous, current, nowMs, cost) =>
    fitsAt(windowStart, previous, current, nowMs + r, cost);
  // retryMs returns the smallest whole r >= 1 at which `cost` fits the estimate of the state: the
  // estimate `waitMs` as is when clear of a whole ms by the guard, else settled by the admission test
  // itself, at the one time that tells on which side of that ms the answer lies (see WAIT_GUARD).
  // The estimate moves by `sliding` / windowMs per ms (the count sliding out), so its rounding, a
  // few ulps of the limit, is stretched by windowMs / sliding in time: the guard counts it.
  const retryMs = (
    windowStart: number,
    previous: number,
    current: number,
    nowMs: number,
    cost: number,
    waitMs: number,
    sliding: number,
  ): number => {
    const r = Math.ceil(waitMs);
    let side = 2;
    if (waitMs > 0) {
      const d = r - waitMs;
      const g = (((nowMs < 0 ? -nowMs : nowMs) + 2 * windowMs) * sliding + limit * windowMs) * WAIT_GUARD;
      // Just below (or on) r: the answer is r or r + 1; just above r - 1: r - 1 or r; else r.
      if (d * sliding <= g) side = 1;
      else if ((1 - d) * sliding <= g && r > 1) side = -1;
      else return r;
    }
    return settleMs(waitMs, side, fitsAfter, windowStart, previous, current, nowMs, cost, 0);
  };

  return definePolicy(
    SLIDING_WINDOW,
    name,
    { limit, windowMs },
    {
      id: `${name}:sw:l${limit}w${windowMs}`,
      limit,
      windowMs,
      stateSize: 3,
      params: Object.freeze([limit, windowMs]),
      evaluate(
        s: ArrayLike<number>,
        o: number,
        fresh: boolean,
        nowMs: number,
        cost: number,
        next: number[] | Float64Array,
        out: Outcome,
      ): boolean {
        const rebased = roll(s, o, fresh, nowMs, next);
        out.rebased = rebased;
        const windowStart = next[0] as number;
        const previous = next[1] as number;
        const current = next[2] as number;
        const estimate = (previous * (windowMs - (nowMs - windowStart))) / windowMs + current;
        // A cost of 0 is always allowed, even when a rebase put the estimate above the limit.
        if (estimate + cost <= limit + EPSILON || cost === 0) {
          const used = current + cost;
          next[2] = used;
          out.allowed = true;
          out.remaining = floorTokens(limit - (estimate + cost));
          out.retryAfterMs = 0;
          out.resetAfterMs = resetMs(windowStart, previous, used, nowMs);
          return true;
        }
        out.allowed = false;
        out.remaining = floorTokens(limit - estimate);
        // The state kept: as stored (which rolls to `next` at every later time), or rebased (`next`).
        const keptStart = rebased || fresh ? windowStart : (s[o] as number);
        const keptPrevious = rebased || fresh ? previous : (s[o + 1] as number);
        const keptCurrent = rebased || fresh ? current : (s[o + 2] as number);
        next[0] = keptStart;
        next[1] = keptPrevious;
        next[2] = keptCurrent;
        let waitMs: number;
        const within = current + cost <= limit;
        if (within) {
          // Wait within this window until enough of the previous window has slid out.
          waitMs = windowStart + windowMs - ((limit + EPSILON - current - cost) * windowMs) / previous - nowMs;
        } else {
          // Wait into the next window, where this window becomes the previous one.
          let intoNext = windowMs - ((limit + EPSILON - cost) * windowMs) / current;
          if (intoNext < 0) intoNext = 0;
          waitMs = windowStart + windowMs + intoNext - nowMs;
        }
        out.retryAfterMs = retryMs(
          keptStart,
          keptPrevious,
          keptCurrent,
          nowMs,
          cost,
          waitMs,
          within ? previous : current,
        );
        out.resetAfterMs = resetMs(keptStart, keptPrevious, keptCurrent, nowMs);
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
        roll(s, o, fresh, nowMs, next);
        const current = (next[2] as number) - cost;
        next[2] = current < 0 ? 0 : current;
        return true;
      },
      idle(s: ArrayLike<number>, o: number, nowMs: number): boolean {
        const r = [0, 0, 0];
        roll(s, o, false, nowMs, r);
        return (r[1] as number) <= 0 && (r[2] as number) <= 0;
      },
    },
  );
}

/**
 * migrateSliding carries a sliding window's state [windowStartMs, previous, current] to `to`:
 * available is the old limit minus the estimate at nowMs (rolled as evaluate rolls it; a start
 * ahead of nowMs is rebased, keeping both counts). With the window length unchanged, both
 * counts are scaled so that the estimate at nowMs is new limit minus the migrated available
 * (the used part keeps its shape as it slides out); with another length, that much is counted
 * in the current window of the new length's aligned windows, where it weighs fully until the
 * window ends (never less than the old estimate would have).
 */
function migrateSliding(
  from: ArrayLike<number>,
  s: ArrayLike<number>,
  o: number,
  _length: number,
  nowMs: number,
  to: Policy,
  strategy: Strategy,
  next: number[],
): number {
  const oldLimit = from[0] as number;
  const oldWindowMs = from[1] as number;
  let start = s[o] as number;
  let previous = s[o + 1] as number;
  let current = s[o + 2] as number;
  const endMs = start + oldWindowMs;
  if (nowMs < start) {
    start = nowMs;
  } else if (nowMs >= endMs + oldWindowMs) {
    start = alignedStartMs(nowMs, oldWindowMs);
    previous = 0;
    current = 0;
  } else if (nowMs >= endMs) {
    start = endMs;
    previous = current;
    current = 0;
  }
  const estimate = (previous * (oldWindowMs - (nowMs - start))) / oldWindowMs + current;
  const available = oldLimit - estimate;
  if (isFullAvailable(available, oldLimit)) return 0;
  const newLimit = to.params[0] as number;
  const newWindowMs = to.params[1] as number;
  const used = newLimit - migratedAvailable(strategy, available, oldLimit, newLimit);
  if (newWindowMs === oldWindowMs) {
    next[0] = start;
    next[1] = (previous * used) / estimate;
    next[2] = (current * used) / estimate;
  } else {
    next[0] = alignedStartMs(nowMs, newWindowMs);
    next[1] = 0;
    next[2] = used;
  }
  return 3;
}

/** SLIDING_WINDOW describes the weighted two-window counter: Lua twin 'sw'. */
export const SLIDING_WINDOW: AlgorithmDescriptor = Object.freeze({
  code: "sw",
  kind: "slidingWindow" as const,
  factory: "slidingWindow",
  lua: "sliding_window.lua",
  params: Object.freeze(["limit", "windowMs"]),
  create: (options: Readonly<Record<string, unknown>>): Policy => slidingWindow(options as unknown as WindowOptions),
  scale: (p: Policy, scale: number): Policy =>
    slidingWindow({ name: p.name, limit: scaleLimit(p.limit, scale), windowMs: p.windowMs }),
  nextUnitMs: (
    p: Policy,
    d: { allowed: boolean; remaining: number; retryAfterMs: number; resetAfterMs: number },
  ): number => {
    // The verdict does not tell when the oldest use leaves the window, so this is the
    // time until the quota is fully restored (it has grown by then at the latest); a
    // denied request reports at most its own retry time.
    if (p.limit - d.remaining <= 0 || d.resetAfterMs <= 0) return p.windowMs;
    return !d.allowed && d.retryAfterMs > 0 ? Math.min(d.retryAfterMs, d.resetAfterMs) : d.resetAfterMs;
  },
  migrate: migrateSliding,
});
