// strategy.ts: what a key keeps when its policy is replaced live (reset, as-is, proportional, additive).

import { EPSILON } from "./policy.js";

/**
 * Strategy says what a key keeps when its policy is replaced while it holds state:
 *
 * - `reset`: nothing; the key starts fresh under the new policy (a full bucket, an empty window).
 * - `as-is`: the units available now, capped at the new limit. Never more than the key had.
 * - `proportional`: the available units scaled by new limit / old limit, so the key keeps
 *   the share of its limit it had used.
 * - `additive`: when the limit grows, the available units plus the growth (capped at the new
 *   limit); when it does not grow, as `as-is`.
 *
 * "Available" is each algorithm's own measure (see each descriptor's `migrate` and
 * docs/live-limits.md): a bucket's tokens, GCRA's burst minus how far `tat` runs ahead,
 * a window's limit minus what it counted. A key whose old state has its whole old limit
 * available holds no information (a store may already have dropped it) and starts fresh
 * under every strategy.
 */
export type Strategy = "reset" | "as-is" | "proportional" | "additive";

/** STRATEGIES lists the strategies, in the order the docs give them. */
export const STRATEGIES: readonly Strategy[] = Object.freeze(["reset", "as-is", "proportional", "additive"]);

/** STRATEGY_CODES are the one-letter codes the Lua twin receives for each strategy. */
export const STRATEGY_CODES: Readonly<Record<Strategy, string>> = Object.freeze({
  reset: "r",
  "as-is": "s",
  proportional: "p",
  additive: "a",
});

/**
 * migratedAvailable returns the units a key has under the new limit `newLimit` when it had
 * `available` of `oldLimit` (clamped to [0, oldLimit] first), following `strategy`. The
 * result is never above `newLimit` and never below 0. `reset` gives `newLimit`.
 */
export function migratedAvailable(strategy: Strategy, available: number, oldLimit: number, newLimit: number): number {
  let a = available < 0 ? 0 : available > oldLimit ? oldLimit : available;
  if (strategy === "reset") a = newLimit;
  else if (strategy === "proportional") a = (a * newLimit) / oldLimit;
  else if (strategy === "additive" && newLimit > oldLimit) a = a + (newLimit - oldLimit);
  return a > newLimit ? newLimit : a;
}

/** wholeAvailable floors a migrated availability for an algorithm that counts whole units (forgiving rounding). */
export function wholeAvailable(a: number): number {
  const f = Math.floor(a + EPSILON);
  return f > 0 ? f : 0;
}

/** isFullAvailable reports whether `available` is the whole of `limit` (within EPSILON): the state holds nothing. */
export function isFullAvailable(available: number, limit: number): boolean {
  return available + EPSILON >= limit;
}
