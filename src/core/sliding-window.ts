// sliding-window.ts: the weighted two-window counter.

import { type AlgorithmDescriptor, definePolicy } from "./algorithm.js";
import type { WindowOptions } from "./fixed-window.js";
import { ceilMs, EPSILON, floorTokens, type Outcome, type Policy, scaleLimit } from "./policy.js";
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
 *
 * A time earlier than the current window keeps counting in the current window.
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

  // roll moves the state to nowMs; it writes [windowStart, previous, current] into r.
  const roll = (s: ArrayLike<number>, o: number, fresh: boolean, nowMs: number, r: number[] | Float64Array): void => {
    const start = Math.floor(nowMs / windowMs) * windowMs;
    if (fresh) {
      r[0] = start;
      r[1] = 0;
      r[2] = 0;
      return;
    }
    const windowStart = s[o] as number;
    if (start > windowStart) {
      r[0] = start;
      r[1] = start === windowStart + windowMs ? (s[o + 2] as number) : 0;
      r[2] = 0;
    } else {
      r[0] = windowStart;
      r[1] = s[o + 1] as number;
      r[2] = s[o + 2] as number;
    }
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
        roll(s, o, fresh, nowMs, next);
        const windowStart = next[0] as number;
        const previous = next[1] as number;
        const current = next[2] as number;
        let elapsed = nowMs - windowStart;
        if (elapsed < 0) elapsed = 0;
        const estimate = (previous * (windowMs - elapsed)) / windowMs + current;
        if (estimate + cost <= limit + EPSILON) {
          const used = current + cost;
          next[2] = used;
          out.allowed = true;
          out.remaining = floorTokens(limit - (estimate + cost));
          out.retryAfterMs = 0;
          out.resetAfterMs =
            used > 0
              ? ceilMs(windowStart + 2 * windowMs - nowMs)
              : previous > 0
                ? ceilMs(windowStart + windowMs - nowMs)
                : 0;
          return true;
        }
        out.allowed = false;
        out.remaining = floorTokens(limit - estimate);
        let waitMs: number;
        if (current + cost <= limit) {
          // Wait within this window until enough of the previous window has slid out.
          waitMs = windowStart + windowMs - ((limit - current - cost) * windowMs) / previous - nowMs;
        } else {
          // Wait into the next window, where this window becomes the previous one.
          let intoNext = windowMs - ((limit - cost) * windowMs) / current;
          if (intoNext < 0) intoNext = 0;
          waitMs = windowStart + windowMs + intoNext - nowMs;
        }
        out.retryAfterMs = ceilMs(waitMs);
        out.resetAfterMs =
          current > 0
            ? ceilMs(windowStart + 2 * windowMs - nowMs)
            : previous > 0
              ? ceilMs(windowStart + windowMs - nowMs)
              : 0;
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
});
