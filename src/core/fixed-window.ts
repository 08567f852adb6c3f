// fixed-window.ts: a counter per aligned window.

import { type AlgorithmDescriptor, definePolicy } from "./algorithm.js";
import { alignedStartMs, type Outcome, type Policy, scaleLimit, untilMs } from "./policy.js";
import { isFullAvailable, migratedAvailable, type Strategy, wholeAvailable } from "./strategy.js";
import { checkOptions, integerOption, MAX_DURATION_MS, MAX_LIMIT, nameOption } from "./validate.js";

/** WindowOptions configures the window algorithms: at most `limit` per `windowMs`. */
export interface WindowOptions {
  /** limit is the most cost admitted within one window. A cost above it is never allowed. */
  limit: number;
  /** windowMs is the window length in whole milliseconds. */
  windowMs: number;
  /** name identifies the policy in decisions and headers. */
  name?: string;
}

/**
 * fixedWindow builds a fixed window counter: time is cut into windows of
 * `windowMs` aligned to multiples of `windowMs` on the clock (so every process
 * and the Redis server agree on the boundaries), and each window admits at most
 * `limit` cost. It is the cheapest algorithm and the easiest to explain, at a
 * price: a client can spend `limit` at the end of one window and `limit` again at
 * the start of the next, so over an interval of length d it admits at most
 * `limit * (ceil(d / windowMs) + 1)`. `retryAfterMs` and `resetAfterMs` are
 * exact: the smallest whole number of milliseconds after which the window is over.
 *
 * A time earlier than the stored window's start (the clock went back) rebases
 * it: the window starts at that time, keeping its count, and lasts a whole
 * `windowMs` from there; the windows after it keep that phase until a call
 * comes a whole window after the last one ended, when they align to the clock
 * again. Restarting the window at the aligned boundary before that time instead
 * would end it sooner, so a clock going back and forth across a boundary would
 * open a fresh window each time; this way it mints nothing, and a client waits
 * at most `windowMs`, not for the clock to catch up with the old window. A
 * denial or a peek that rebases stores the rebased state.
 */
export function fixedWindow(options: WindowOptions): Policy {
  const fn = "fixedWindow";
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
  const name = nameOption(fn, o.name, "fixed-window");
  // State: [windowStartMs, count]. The window is [windowStartMs, windowStartMs + windowMs).
  return definePolicy(
    FIXED_WINDOW,
    name,
    { limit, windowMs },
    {
      id: `${name}:fw:l${limit}w${windowMs}`,
      limit,
      windowMs,
      stateSize: 2,
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
        let windowStart: number;
        let count = 0;
        let rebased = false;
        if (fresh) {
          windowStart = alignedStartMs(nowMs, windowMs);
        } else {
          windowStart = s[o] as number;
          const endMs = windowStart + windowMs;
          if (nowMs < windowStart) {
            // The clock went back: this window starts now, keeping its count.
            windowStart = nowMs;
            count = s[o + 1] as number;
            rebased = true;
          } else if (nowMs < endMs) {
            count = s[o + 1] as number;
          } else if (nowMs < endMs + windowMs) {
            // The next window, in this state's phase (aligned unless a rebase moved it).
            windowStart = endMs;
          } else {
            windowStart = alignedStartMs(nowMs, windowMs);
          }
        }
        next[0] = windowStart;
        out.rebased = rebased;
        if (count + cost <= limit) {
          const used = count + cost;
          next[1] = used;
          out.allowed = true;
          out.remaining = limit - used;
          out.retryAfterMs = 0;
          if (used > 0) {
            // untilMs, its common case inline.
            const endMs = windowStart + windowMs;
            const r = Math.ceil(endMs - nowMs);
            out.resetAfterMs = r > 0 && nowMs + r >= endMs && nowMs + (r - 1) < endMs ? r : untilMs(endMs, nowMs);
          } else {
            out.resetAfterMs = 0;
          }
          return true;
        }
        next[1] = count;
        out.allowed = false;
        out.remaining = limit - count;
        const endsInMs = untilMs(windowStart + windowMs, nowMs);
        out.retryAfterMs = endsInMs;
        out.resetAfterMs = endsInMs;
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
        let windowStart = s[o] as number;
        if (nowMs < windowStart) windowStart = nowMs;
        else if (nowMs >= windowStart + windowMs) return false;
        const count = (s[o + 1] as number) - cost;
        next[0] = windowStart;
        next[1] = count < 0 ? 0 : count;
        return true;
      },
      idle(s: ArrayLike<number>, o: number, nowMs: number): boolean {
        return (s[o + 1] as number) <= 0 || nowMs >= (s[o] as number) + windowMs;
      },
    },
  );
}

/**
 * migrateFixed carries a fixed window's state [windowStartMs, count] to `to`: available is the
 * old limit minus the count of the window holding nowMs (0 once it is over; a start ahead of
 * nowMs is rebased to nowMs, keeping the count). The new state counts new limit minus the
 * migrated available (whole units) in the window holding nowMs: the same window when the
 * length is unchanged, else the new length's aligned window.
 */
function migrateFixed(
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
  let count = s[o + 1] as number;
  if (nowMs < start) start = nowMs;
  else if (nowMs >= start + oldWindowMs) count = 0;
  const available = oldLimit - count;
  if (isFullAvailable(available, oldLimit)) return 0;
  const newLimit = to.params[0] as number;
  const newWindowMs = to.params[1] as number;
  next[0] = newWindowMs === oldWindowMs ? start : alignedStartMs(nowMs, newWindowMs);
  next[1] = newLimit - wholeAvailable(migratedAvailable(strategy, available, oldLimit, newLimit));
  return 2;
}

/** FIXED_WINDOW describes the fixed window counter: Lua twin 'fw'. */
export const FIXED_WINDOW: AlgorithmDescriptor = Object.freeze({
  code: "fw",
  kind: "fixedWindow" as const,
  factory: "fixedWindow",
  lua: "fixed_window.lua",
  params: Object.freeze(["limit", "windowMs"]),
  create: (options: Readonly<Record<string, unknown>>): Policy => fixedWindow(options as unknown as WindowOptions),
  scale: (p: Policy, scale: number): Policy =>
    fixedWindow({ name: p.name, limit: scaleLimit(p.limit, scale), windowMs: p.windowMs }),
  // The time until the window ends (the whole window when nothing is used in it: unknown, and at most that).
  nextUnitMs: (p: Policy, d: { remaining: number; resetAfterMs: number }): number =>
    p.limit - d.remaining <= 0 || d.resetAfterMs <= 0 ? p.windowMs : d.resetAfterMs,
  migrate: migrateFixed,
});
