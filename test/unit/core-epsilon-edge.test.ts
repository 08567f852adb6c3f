// core-epsilon-edge.test.ts: a smooth token bucket exactly EPSILON short of full, and a leaky bucket exactly EPSILON
// above empty, answer as no state (issue 8: a state full within EPSILON is the same as a fresh key), on the boundary
// itself (the comparisons are inclusive). Found by mutation testing (`npm run mutate`, docs/architecture.md): the
// full-is-fresh tests land within EPSILON, never on it, so `>=` as `>` (and `<=` as `<`) survived.

import { describe, expect, it } from "vitest";
import { applyPolicy } from "../../src/core/apply.js";
import { leakyBucket } from "../../src/core/leaky-bucket.js";
import { EPSILON } from "../../src/core/policy.js";
import { tokenBucket } from "../../src/core/token-bucket.js";

describe("exactly EPSILON from full is full", () => {
  // Each row: the policy, the state, why. At 5000 (the state's own time), a cost of 1 of 2: remaining 1, as from a
  // fresh key, and the state kept is a fresh key's after 1 (1 token left, a level of 1).
  const rows: [string, () => ReturnType<typeof tokenBucket>, number[], number[], string][] = [
    [
      "tokenBucket 2 at 0.001/s",
      () => tokenBucket({ capacity: 2, refillRate: 0.001 }),
      [2 - EPSILON, 5000],
      [1, 5000],
      "2 - EPSILON tokens (2 - EPSILON + EPSILON is exactly 2): full",
    ],
    [
      "leakyBucket 2 at 0.001/s",
      () => leakyBucket({ capacity: 2, leakRate: 0.001 }),
      [EPSILON, 5000],
      [1, 5000],
      "a level of exactly EPSILON: empty",
    ],
  ];
  for (const [name, make, state, kept, why] of rows) {
    it(`${name}: ${why}`, () => {
      const p = make();
      expect(2 - EPSILON + EPSILON, "the boundary is exact in doubles").toBe(2);
      const got = applyPolicy(p, state, 5000, 1);
      const fresh = applyPolicy(p, null, 5000, 1);
      expect([got.allowed, got.remaining, got.resetAfterMs, got.state]).toEqual([true, 1, 1_000_000, kept]);
      expect([got.remaining, got.resetAfterMs, got.state]).toEqual([fresh.remaining, fresh.resetAfterMs, fresh.state]);
      expect(p.idle(state, 0, 5000), "idle: it holds nothing, so a store may drop it").toBe(true);
    });
  }
});
