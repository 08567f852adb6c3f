// core-strategy.test.ts: migratedAvailable, wholeAvailable and isFullAvailable (src/core/strategy.ts) called directly,
// one row per documented rule: available is clamped to [0, oldLimit] first, then the strategy, then capped at the new
// limit. Found missing by mutation testing (`npm run mutate`, docs/architecture.md): the live properties reach these
// only through states whose available is already within [0, oldLimit].

import { describe, expect, it } from "vitest";
import { EPSILON } from "../../src/core/policy.js";
import { isFullAvailable, migratedAvailable, type Strategy, wholeAvailable } from "../../src/core/strategy.js";

describe("migratedAvailable(strategy, available, oldLimit, newLimit)", () => {
  // Each row: strategy, available, old limit, new limit, the answer, why.
  const rows: [Strategy, number, number, number, number, string][] = [
    ["as-is", 4, 10, 20, 4, "as-is keeps the units available"],
    ["as-is", 15, 10, 20, 10, "available above the old limit is clamped to it first (then 10 fits under 20)"],
    ["as-is", -1, 10, 20, 0, "available below 0 is clamped to 0 first"],
    ["as-is", 8, 10, 5, 5, "capped at a smaller new limit"],
    ["reset", 3, 10, 20, 20, "reset gives the whole new limit"],
    ["reset", 3, 10, 4, 4, "reset gives the whole new limit, also when it shrinks"],
    ["proportional", 4, 10, 20, 8, "the share 4/10 of 20"],
    ["proportional", 4, 10, 5, 2, "the share 4/10 of 5"],
    ["proportional", -2, 10, 20, 0, "negative available is 0 of any limit"],
    ["proportional", 3, 4, 6, 4.5, "a share need not be whole (the algorithm rounds)"],
    ["additive", 4, 10, 20, 14, "the limit grew by 10: available plus 10"],
    ["additive", 15, 10, 20, 20, "clamped to 10 first, plus the growth of 10"],
    ["additive", -5, 10, 12, 2, "clamped to 0 first, plus the growth of 2"],
    ["additive", 4, 10, 10, 4, "no growth: as as-is"],
    ["additive", 8, 10, 5, 5, "shrinks: as as-is, capped at 5"],
  ];
  for (const [i, [strategy, available, oldLimit, newLimit, want, why]] of rows.entries()) {
    it(`step ${i + 1}: ${strategy} ${available} of ${oldLimit} -> ${want} of ${newLimit}: ${why}`, () => {
      expect(migratedAvailable(strategy, available, oldLimit, newLimit)).toBe(want);
    });
  }
});

describe("wholeAvailable floors forgivingly and never goes below 0", () => {
  const rows: [number, number, string][] = [
    [3.7, 3, "floored"],
    [3 - EPSILON / 2, 3, "within EPSILON below a whole unit: that unit"],
    [2.99, 2, "further below: floored"],
    [0.5, 0, "less than one unit: 0"],
    [-0.5, 0, "negative: 0, not -1"],
    [-3, 0, "negative whole: 0, not -3"],
  ];
  for (const [a, want, why] of rows) {
    it(`wholeAvailable(${a}) = ${want}: ${why}`, () => {
      expect(wholeAvailable(a)).toBe(want);
    });
  }
});

describe("isFullAvailable: the whole limit within EPSILON, inclusive", () => {
  const rows: [number, number, boolean, string][] = [
    [10, 10, true, "exactly the limit"],
    [11, 10, true, "above the limit"],
    [0, EPSILON, true, "EPSILON short of the limit (0 + EPSILON = EPSILON exactly): full"],
    [0, 2 * EPSILON, false, "twice EPSILON short: not full"],
    [9.5, 10, false, "half a unit short"],
  ];
  for (const [a, limit, want, why] of rows) {
    it(`isFullAvailable(${a}, ${limit}) = ${want}: ${why}`, () => {
      expect(isFullAvailable(a, limit)).toBe(want);
    });
  }
});
