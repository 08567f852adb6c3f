// index.ts: the floodgate package root: policies, the limiter and the memory store.

export { type Applied, applyPolicy, refundPolicy } from "./core/apply.js";
export { type ErrorCode, FloodgateError, FloodgateRangeError, FloodgateTypeError } from "./core/errors.js";
export { fixedWindow, type WindowOptions } from "./core/fixed-window.js";
export { type GcraOptions, gcra } from "./core/gcra.js";
export { type LeakyBucketOptions, leakyBucket } from "./core/leaky-bucket.js";
export { type LiveInfo, type LiveOptions, live, migrateState, replaceLive } from "./core/live.js";
export type { Algorithm, Decision, Degraded, Outcome, Policy, PolicyDecision } from "./core/policy.js";
export { slidingLog } from "./core/sliding-log.js";
export { slidingWindow } from "./core/sliding-window.js";
export { STRATEGIES, type Strategy } from "./core/strategy.js";
export {
  type SmoothTokenBucketOptions,
  type SteppedTokenBucketOptions,
  type TokenBucketOptions,
  tokenBucket,
} from "./core/token-bucket.js";
export { MAX_DURATION_MS, MAX_LIMIT, MAX_RATE } from "./core/validate.js";
export {
  type AcquireOptions,
  type AllItem,
  type CallOptions,
  checkPolicies,
  type HeavyHitters,
  RateLimiter,
  type RateLimiterOptions,
  type Timers,
} from "./limiter.js";
export type {
  DecisionEvent,
  NearLimitEvent,
  RateLimiterEvents,
  RateLimiterListener,
  StoreEvent,
  WaitEvent,
} from "./listeners.js";
export { MemoryStore, type MemoryStoreOptions } from "./stores/memory.js";
export type { AllCall, AllDecision, KeysTracked, Store } from "./stores/store.js";
