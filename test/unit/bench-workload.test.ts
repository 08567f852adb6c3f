// bench-workload.test.ts: the Redis benches' floodgate policy keeps every key between calls, as their text says.

import { describe, expect, it } from "vitest";
import { longLivedBucket } from "../../bench/workload.js";
import { applyPolicy } from "../../src/index.js";

describe("bench/workload.ts longLivedBucket", () => {
  // Regression: the benches ran tokenBucket({ capacity: 1e9, refillRate: 1e6 }), whose keys got a 1 ms TTL
  // after each call, so floodgate re-created a key per decision while rate-limiter-flexible's keys stayed.
  it("a key hit once a second (the benches hit each key about that often) is still there at every next hit, and always admitted", () => {
    const policy = longLivedBucket();
    let state: readonly number[] | null = null;
    for (let step = 1; step <= 600; step++) {
      const nowMs = step * 1000;
      const outcome = applyPolicy(policy, state, nowMs, 1);
      expect(outcome.allowed, `step ${step}: consume(at=${nowMs}) allowed`).toBe(true);
      // The key's TTL is resetAfterMs: the time until the bucket holds no information.
      expect(outcome.resetAfterMs, `step ${step}: TTL after consume(at=${nowMs})`).toBeGreaterThanOrEqual(10_000);
      state = outcome.state;
    }
  });
});
