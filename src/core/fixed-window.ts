// fixed-window.ts: a counter per aligned window.

import { type AlgorithmDescriptor, definePolicy } from "./algorithm.js";
import { ceilMs, type Outcome, type Policy, scaleLimit } from "./policy.js";
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
 * `limit * (ceil(d / windowMs) + 1)`.
 *
 * A time earlier than the current window keeps counting in the current window.
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
  // State: [windowStartMs, count].
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
        const start = Math.floor(nowMs / windowMs) * windowMs;
        let windowStart = start;
        let count = 0;
        if (!fresh) {
          windowStart = s[o] as number;
          count = s[o + 1] as number;
          if (start > windowStart) {
            windowStart = start;
            count = 0;
          }
        }
        next[0] = windowStart;
        const endsInMs = ceilMs(windowStart + windowMs - nowMs);
        if (count + cost <= limit) {
          const used = count + cost;
          next[1] = used;
          out.allowed = true;
          out.remaining = limit - used;
          out.retryAfterMs = 0;
          out.resetAfterMs = used > 0 ? endsInMs : 0;
          return true;
        }
        next[1] = count;
        out.allowed = false;
        out.remaining = limit - count;
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
        const windowStart = s[o] as number;
        if (Math.floor(nowMs / windowMs) * windowMs > windowStart) return false;
        const count = (s[o + 1] as number) - cost;
        next[0] = windowStart;
        next[1] = count < 0 ? 0 : count;
        return true;
      },
      idle(s: ArrayLike<number>, o: number, nowMs: number): boolean {
        return (s[o + 1] as number) <= 0 || Math.floor(nowMs / windowMs) * windowMs > (s[o] as number);
      },
    },
  );
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
});
