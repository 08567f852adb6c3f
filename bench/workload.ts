// workload.ts: the policies the Redis benches give floodgate, shared so a test can check what they promise.

import { type Policy, tokenBucket } from "../src/index.js";

/**
 * longLivedBucket is the token bucket the Redis benches (bench/redis.ts, bench/cluster.ts) run:
 * every call admitted, and every key kept between calls, as rate-limiter-flexible keeps its keys
 * for their window. It refills 0.1 token per second, so each token taken keeps the key 10 s (its
 * TTL is the time to refill); its capacity (10 million) is never reached by a bench. A refill of
 * 1e6 per second (used before) gave every key a 1 ms TTL: each decision re-created its key.
 */
export function longLivedBucket(): Policy {
  return tokenBucket(LONG_LIVED_BUCKET);
}

/** LONG_LIVED_BUCKET is longLivedBucket's parameters (bench/cluster.ts gives them to an older floodgate's tokenBucket too). */
export const LONG_LIVED_BUCKET = { capacity: 1e7, refillRate: 0.1 } as const;

/** median is the middle value (the mean of the two middle values for an even count). */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
