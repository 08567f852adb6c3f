// store.ts: the contract between RateLimiter and a state store.

import type { Decision, Policy } from "../core/policy.js";

/**
 * Store keeps rate limit state per key and applies a policy's math to it
 * atomically. `MemoryStore` runs the TypeScript math in one synchronous section;
 * `RedisStore` (in `floodgate/redis`) runs the Lua twin in one script call.
 *
 * `nowMs` is undefined when the store should read its own clock (a Redis store
 * reads the server's `TIME`); a store without a clock of its own receives it.
 * Policies arrive validated, as a non-empty array of distinct policies, and the
 * cost arrives validated: a whole number no larger than any policy's limit.
 */
export interface Store {
  /** ownsClock is true when the store reads its own clock when `nowMs` is undefined. */
  readonly ownsClock: boolean;
  /** consume takes `cost` from every policy or, if any denies, from none. */
  consume(
    key: string,
    policies: readonly Policy[],
    cost: number,
    nowMs: number | undefined,
  ): Promise<Decision> | Decision;
  /** peek reports the state as consume(key, 0) would, creating nothing. */
  peek(key: string, policies: readonly Policy[], nowMs: number | undefined): Promise<Decision> | Decision;
  /** refund gives `cost` back to every policy, never above its limit. */
  refund(key: string, policies: readonly Policy[], cost: number, nowMs: number | undefined): Promise<void> | void;
  /** reset forgets the key's state for these policies. */
  reset(key: string, policies: readonly Policy[]): Promise<void> | void;
}
