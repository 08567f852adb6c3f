// store.ts: the contract between RateLimiter and a state store.

import type { Decision, Policy } from "../core/policy.js";

/**
 * StoreEvent is what a store reports about its own health, through `observe`:
 *
 * - `degraded`: the backend stopped answering (timeout or connection error); the failure policy decides now.
 * - `recovered`: it answers again after `downMs` degraded.
 * - `error`: one call failed, or a refund or reset was answered locally and never reached the backend.
 * - `probe`: while degraded, one call is sent to the backend to see whether it is back.
 * - `overflow`: a MemoryStore's `maxKeys` is reached for `policy` and new keys share the overflow
 *   state (reported at most once a second per policy); `overflowed` counts such calls so far.
 */
export type StoreEvent =
  | {
      readonly type: "degraded";
      readonly reason: "timeout" | "unavailable";
      readonly failure: "fail-open" | "fail-closed" | "insurance";
      readonly error: unknown;
    }
  | { readonly type: "recovered"; readonly downMs: number }
  | {
      readonly type: "error";
      readonly op: "consume" | "peek" | "refund" | "reset" | "penalty";
      readonly key: string;
      readonly error: unknown;
    }
  | { readonly type: "probe" }
  | { readonly type: "overflow"; readonly policy: string; readonly trackedKeys: number; readonly overflowed: number };

/** KeysTracked is one policy's count of keys a store holds state for. */
export interface KeysTracked {
  readonly policy: string;
  readonly keys: number;
  /** overflowed counts the calls of untracked keys answered by the shared overflow state (MemoryStore at maxKeys). */
  readonly overflowed: number;
}

/** AllCall is one item of an all-or-nothing call across keys (Store.consumeAll, RateLimiter.consumeAll). */
export interface AllCall {
  readonly key: string;
  readonly policies: readonly Policy[];
  readonly cost: number;
  /** shadow: the item is decided (its cost taken when it admits and the call does), but its denial refuses nothing. */
  readonly shadow: boolean;
}

/** AllDecision is the answer to an all-or-nothing call across keys. */
export interface AllDecision {
  /**
   * allowed is true when every item not in shadow mode admitted its cost; then each
   * admitting item's cost was taken. When false, nothing was taken from any item.
   */
  readonly allowed: boolean;
  /**
   * items holds each item's own verdict, in order: its denial, or, when its own limits
   * admit it, its standing after the call (its cost taken when `allowed`, else as a peek).
   */
  readonly items: readonly Decision[];
}

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
  /**
   * consumeAll (optional) decides several keys all-or-nothing in one atomic step (see
   * AllDecision; an item of cost 0 is a check, refused when a policy has nothing left;
   * `dryRun` takes nothing). It returns undefined when it cannot make these keys one atomic step
   * (a Redis Cluster whose slots differ): RateLimiter then takes and refunds instead.
   * Without it, RateLimiter does the same (in one synchronous section for a MemoryStore).
   */
  consumeAll?(
    calls: readonly AllCall[],
    nowMs: number | undefined,
    dryRun: boolean,
  ): Promise<AllDecision> | AllDecision | undefined;
  /**
   * penalty (optional) takes `cost` from every policy outside a request, each down to
   * empty at most (never into debt). Without it, RateLimiter peeks and consumes what is
   * left, in two steps.
   */
  penalty?(key: string, policies: readonly Policy[], cost: number, nowMs: number | undefined): Promise<void> | void;
  /** blockedFor (optional, with block) returns the whole ms left of `key`'s block in `scope`, 0 when none. */
  blockedFor?(scope: string, key: string, nowMs: number | undefined): Promise<number> | number;
  /** block (optional) refuses `key` in `scope` for `durationMs` from now; a longer block already set is kept. */
  block?(scope: string, key: string, durationMs: number, nowMs: number | undefined): Promise<void> | void;
  /** unblock (optional) lifts `key`'s block in `scope` and forgets its refusals. */
  unblock?(scope: string, key: string): Promise<void> | void;
  /**
   * refused (optional) counts one refusal of `key` in `scope`; at the rule's count within
   * its period it blocks the key for `blockMs`, forgets the count and returns `blockMs`;
   * otherwise it returns 0.
   */
  refused?(scope: string, key: string, rule: BlockRule, nowMs: number | undefined): Promise<number> | number;
  /**
   * observe (optional) adds a listener for the store's health events and returns
   * a function that removes it. RateLimiter forwards them as its `store` event.
   */
  observe?(listener: (event: StoreEvent) => void): () => void;
  /** degraded (optional) is true while the backend is considered unreachable. */
  readonly degraded?: boolean;
  /** keysTracked (optional) reports how many keys the store holds per policy (an in-process store). */
  keysTracked?(): KeysTracked[];
}

/** BlockRule blocks a key automatically: `refusals` refusals within `withinMs` block it for `blockMs`. */
export interface BlockRule {
  /** refusals is how many refusals within `withinMs` trigger the block (a whole number >= 1). */
  readonly refusals: number;
  /** withinMs is the period, counted from the first refusal, in which they must happen. */
  readonly withinMs: number;
  /** blockMs is how long the key is then refused; longer than the policy's window is fine. */
  readonly blockMs: number;
}
