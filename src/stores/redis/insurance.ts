// insurance.ts: builds the local policies an insurance MemoryStore applies while Redis is unreachable.

import { fixedWindow } from "../../core/fixed-window.js";
import { leakyBucket } from "../../core/leaky-bucket.js";
import type { Policy } from "../../core/policy.js";
import { slidingLog } from "../../core/sliding-log.js";
import { slidingWindow } from "../../core/sliding-window.js";
import { tokenBucket } from "../../core/token-bucket.js";

/**
 * scalePolicy returns a policy like `policy` whose limit and rate are multiplied
 * by `scale` (0 < scale <= 1), for an insurance limiter in each of N processes
 * (scale 1/N keeps the fleet near the shared limit). A scale of 1 returns the
 * policy itself. Limits are floored but kept at least 1. A GCRA policy is scaled
 * as the token bucket it is equivalent to.
 */
export function scalePolicy(policy: Policy, scale: number): Policy {
  if (scale === 1) return policy;
  const p = policy.params;
  const name = policy.name;
  const whole = (x: number): number => Math.max(1, Math.floor(x * scale));
  switch (policy.kind) {
    case "tokenBucket":
      return p.length === 2
        ? tokenBucket({ name, capacity: whole(p[0] as number), refillRate: (p[1] as number) * scale })
        : tokenBucket({
            name,
            capacity: whole(p[0] as number),
            refillAmount: p[1] as number,
            refillIntervalMs: Math.max(1, Math.round((p[2] as number) / scale)),
          });
    case "gcra":
      // params: emissionIntervalMs, burstToleranceMs, burst.
      return tokenBucket({ name, capacity: whole(p[2] as number), refillRate: (1000 / (p[0] as number)) * scale });
    case "leakyBucket":
      return leakyBucket({ name, capacity: whole(p[0] as number), leakRate: (p[1] as number) * scale });
    case "fixedWindow":
      return fixedWindow({ name, limit: whole(p[0] as number), windowMs: p[1] as number });
    case "slidingWindow":
      return slidingWindow({ name, limit: whole(p[0] as number), windowMs: p[1] as number });
    case "slidingLog":
      return slidingLog({ name, limit: whole(p[0] as number), windowMs: p[1] as number });
  }
}
