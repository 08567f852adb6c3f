// sliding-log.ts: the exact sliding window, one log entry per admitted call.

import { type AlgorithmDescriptor, definePolicy } from "./algorithm.js";
import { FloodgateRangeError } from "./errors.js";
import type { WindowOptions } from "./fixed-window.js";
import { type Outcome, type Policy, scaleLimit, untilMs } from "./policy.js";
import { isFullAvailable, migratedAvailable, type Strategy, wholeAvailable } from "./strategy.js";
import { checkOptions, integerOption, MAX_DURATION_MS, MAX_LIMIT, nameOption } from "./validate.js";

/** MAX_LOG_LIMIT bounds a sliding log's limit: its memory grows with the limit. */
export const MAX_LOG_LIMIT = 100_000;

/**
 * slidingLog builds the exact sliding window: it logs each admitted call's time
 * and cost and admits a call when the cost logged in the last `windowMs`, plus
 * this cost, is at most `limit`. Over every interval of length `windowMs`, aligned
 * or not, it admits at most `limit`. The price is memory: up to `limit` entries
 * per key (at most 100,000), where the counters keep two or three numbers.
 *
 * The state is a flat list `[timeMs, cost, timeMs, cost, ...]`, oldest first.
 * An entry logged at t counts until t + windowMs (exclusive). `retryAfterMs` and
 * `resetAfterMs` are exact: the smallest whole number of milliseconds after which
 * enough entries, or all of them, have expired.
 *
 * A time earlier than entries of the log (the clock went back) rebases them:
 * those entries move to that time, keeping their order and costs, so the log
 * stays sorted and each counts for a whole `windowMs` from there. It mints
 * nothing, and a client waits at most `windowMs`, not for the clock to catch up
 * with the old entries. A denial or a peek that rebases stores the rebased log.
 */
export function slidingLog(options: WindowOptions): Policy {
  const fn = "slidingLog";
  const o = checkOptions(fn, options, ["limit", "windowMs", "name"]);
  const limit = integerOption(fn, "limit", o.limit, 1, MAX_LIMIT, "pass the most requests per window, such as 100");
  if (limit > MAX_LOG_LIMIT) {
    throw new FloodgateRangeError(
      "ERR_INVALID_OPTION",
      `floodgate: slidingLog({ limit: ${limit} }) would keep up to ${limit} entries per key, more than the ${MAX_LOG_LIMIT} supported; use slidingWindow for large limits.`,
    );
  }
  const windowMs = integerOption(
    fn,
    "windowMs",
    o.windowMs,
    1,
    MAX_DURATION_MS,
    "pass the window in whole milliseconds, such as 60000",
  );
  const name = nameOption(fn, o.name, "sliding-log");

  // firstLive returns the index of the first entry still inside the window ending at nowMs.
  const firstLive = (s: ArrayLike<number>, nowMs: number): number => {
    let i = 0;
    while (i < s.length && (s[i] as number) + windowMs <= nowMs) i += 2;
    return i;
  };

  return definePolicy(
    SLIDING_LOG,
    name,
    { limit, windowMs },
    {
      id: `${name}:sl:l${limit}w${windowMs}`,
      limit,
      windowMs,
      stateSize: -1,
      params: Object.freeze([limit, windowMs]),
      evaluate(
        s: ArrayLike<number>,
        _o: number,
        fresh: boolean,
        nowMs: number,
        cost: number,
        next: number[] | Float64Array,
        out: Outcome,
      ): boolean {
        const log = fresh ? [] : s;
        const first = firstLive(log, nowMs);
        let used = 0;
        for (let i = first + 1; i < log.length; i += 2) used += log[i] as number;
        const n = log.length - first;
        for (let i = 0; i < n; i++) next[i] = log[first + i] as number;
        // Entries logged after nowMs (the clock went back) move to nowMs, keeping order and costs.
        let rebased = false;
        for (let i = n - 2; i >= 0 && (next[i] as number) > nowMs; i -= 2) {
          next[i] = nowMs;
          rebased = true;
        }
        out.rebased = rebased;
        if (used + cost <= limit) {
          let len = n;
          if (cost > 0) {
            next[len++] = nowMs;
            next[len++] = cost;
          }
          if (Array.isArray(next)) next.length = len;
          const total = used + cost;
          out.allowed = true;
          out.remaining = limit - total;
          out.retryAfterMs = 0;
          out.resetAfterMs = total > 0 ? untilMs((next[len - 2] as number) + windowMs, nowMs) : 0;
          return true;
        }
        if (Array.isArray(next)) next.length = n;
        out.allowed = false;
        out.remaining = limit - used;
        // Wait until enough of the oldest entries have expired (the kept log: `next`, as stored or rebased).
        let freed = 0;
        let i = 0;
        for (; i < n - 2; i += 2) {
          freed += next[i + 1] as number;
          if (used - freed + cost <= limit) break;
        }
        out.retryAfterMs = untilMs((next[i] as number) + windowMs, nowMs);
        out.resetAfterMs = untilMs((next[n - 2] as number) + windowMs, nowMs);
        return false;
      },
      refund(
        s: ArrayLike<number>,
        _o: number,
        fresh: boolean,
        nowMs: number,
        cost: number,
        next: number[] | Float64Array,
      ): boolean {
        if (fresh) return false;
        const first = firstLive(s, nowMs);
        let len = 0;
        for (let i = first; i < s.length; i++) next[len++] = s[i] as number;
        // Entries logged after nowMs (the clock went back) move to nowMs, as in evaluate.
        for (let i = len - 2; i >= 0 && (next[i] as number) > nowMs; i -= 2) next[i] = nowMs;
        // Take the refund back from the newest entries.
        let left = cost;
        while (left > 0 && len > 0) {
          const c = next[len - 1] as number;
          if (c > left) {
            next[len - 1] = c - left;
            left = 0;
          } else {
            left -= c;
            len -= 2;
          }
        }
        if (Array.isArray(next)) next.length = len;
        return true;
      },
      idle(s: ArrayLike<number>, _o: number, nowMs: number): boolean {
        return s.length === 0 || nowMs >= (s[s.length - 2] as number) + windowMs;
      },
    },
  );
}

/**
 * migrateLog carries a sliding log (pairs [timeMs, cost] from `o`, `length` doubles) to `to`:
 * available is the old limit minus the cost of the entries still inside the old window at
 * nowMs (entries after nowMs move to nowMs, as evaluate rebases them). The live entries are
 * kept; with a shorter new window, an entry that would already have expired under it is moved
 * to the earliest time it still counts (nowMs - new window + 1), so the shorter window frees
 * nothing at once. Then the log is brought to new limit minus the migrated available (whole
 * units): taken from the oldest entries when it is less, or one entry at nowMs for the
 * difference when it is more.
 */
function migrateLog(
  from: ArrayLike<number>,
  s: ArrayLike<number>,
  o: number,
  length: number,
  nowMs: number,
  to: Policy,
  strategy: Strategy,
  next: number[],
): number {
  const oldLimit = from[0] as number;
  const oldWindowMs = from[1] as number;
  const newLimit = to.params[0] as number;
  const newWindowMs = to.params[1] as number;
  const earliest = nowMs - newWindowMs + 1;
  let len = 0;
  let used = 0;
  for (let i = o; i + 1 < o + length; i += 2) {
    let t = s[i] as number;
    if (t + oldWindowMs <= nowMs) continue;
    if (t > nowMs) t = nowMs;
    if (newWindowMs < oldWindowMs && t < earliest) t = earliest;
    next[len++] = t;
    next[len++] = s[i + 1] as number;
    used += s[i + 1] as number;
  }
  const available = oldLimit - used;
  if (isFullAvailable(available, oldLimit)) return 0;
  const want = newLimit - wholeAvailable(migratedAvailable(strategy, available, oldLimit, newLimit));
  if (want > used) {
    next[len++] = nowMs;
    next[len++] = want - used;
  } else {
    // Take the difference from the oldest entries, which would expire first.
    let drop = used - want;
    let first = 0;
    while (drop > 0 && first < len) {
      const c = next[first + 1] as number;
      if (c > drop) {
        next[first + 1] = c - drop;
        drop = 0;
      } else {
        drop -= c;
        first += 2;
      }
    }
    if (first > 0) {
      for (let i = first; i < len; i++) next[i - first] = next[i] as number;
      len -= first;
    }
  }
  next.length = len;
  return len;
}

/** SLIDING_LOG describes the exact sliding window: Lua twin 'sl'. */
export const SLIDING_LOG: AlgorithmDescriptor = Object.freeze({
  code: "sl",
  kind: "slidingLog" as const,
  factory: "slidingLog",
  lua: "sliding_log.lua",
  params: Object.freeze(["limit", "windowMs"]),
  create: (options: Readonly<Record<string, unknown>>): Policy => slidingLog(options as unknown as WindowOptions),
  scale: (p: Policy, scale: number): Policy =>
    slidingLog({ name: p.name, limit: scaleLimit(p.limit, scale), windowMs: p.windowMs }),
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
  migrate: migrateLog,
});
