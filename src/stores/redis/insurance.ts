// insurance.ts: builds the local policies an insurance MemoryStore applies while Redis is unreachable.

import type { Policy } from "../../core/policy.js";

/**
 * scalePolicy returns a policy like `policy` whose limit and rate are multiplied
 * by `scale` (0 < scale <= 1), for an insurance limiter in each of N processes
 * (scale 1/N keeps the fleet near the shared limit). A scale of 1 returns the
 * policy itself. Limits are floored but kept at least 1. Each algorithm says how
 * it scales in its descriptor (`policy.algorithm.scale`).
 */
export function scalePolicy(policy: Policy, scale: number): Policy {
  if (scale === 1) return policy;
  return policy.algorithm.scale(policy, scale);
}
