// algorithm.ts: the descriptor each algorithm file exports, and the brand that marks a policy built by a factory.

import type { Algorithm, Policy, PolicyDecision } from "./policy.js";
import type { Strategy } from "./strategy.js";

/** Verdict is what a descriptor reads of one policy's decision to tell headers when quota grows. */
export type Verdict = Pick<PolicyDecision, "allowed" | "remaining" | "retryAfterMs" | "resetAfterMs">;

/**
 * AlgorithmDescriptor is everything the rest of floodgate knows about one
 * algorithm, declared in the algorithm's own file. The Redis store, the
 * insurance limiter, the HTTP headers and scripts/gen-lua.ts read descriptors
 * (through `policy.algorithm` or the registry); nothing outside src/core decodes
 * `Policy.params` by position or lists the algorithms.
 *
 * Adding an algorithm means: its TypeScript file (math and descriptor), its
 * entry in registry.ts, its Lua twin (`lua`) and its vectors.
 */
export interface AlgorithmDescriptor {
  /** code is the algorithm's short name: its Lua twin registers under it and Redis ARGV carry it ("tb"). */
  readonly code: string;
  /** kind is the public algorithm name; two descriptors may share one (the smooth and stepped token bucket). */
  readonly kind: Algorithm;
  /** factory is the name of the public factory that builds it, for messages ("tokenBucket"). */
  readonly factory: string;
  /** lua is the file of its Lua twin in src/stores/redis/lua. */
  readonly lua: string;
  /** params names the numbers of `Policy.params` in order: what the Lua twin receives as p1, p2, p3. */
  readonly params: readonly string[];
  /**
   * create builds a policy from named options (the factory's options, `name`
   * included), validating them with coded errors. It throws for options of
   * another form of the algorithm (a stepped bucket's options given to the smooth one).
   */
  create(options: Readonly<Record<string, unknown>>): Policy;
  /**
   * scale returns the policy whose limit (and rate) are multiplied by `scale`
   * (0 < scale < 1), floored but at least 1: the limit an insurance limiter in
   * each of N processes applies while the shared store is down (scale 1/N).
   */
  scale(policy: Policy, scale: number): Policy;
  /**
   * nextUnitMs is the time until the policy's available quota next grows, in
   * whole milliseconds, derived from a verdict alone (so it is the same with
   * every store): the `t` of the RateLimit header field.
   */
  nextUnitMs(policy: Policy, verdict: Verdict): number;
  /**
   * migrate carries a key's state over a live replacement (see live.ts): `s` from `o`
   * (`length` doubles) is a state written by a policy of this algorithm whose params were
   * `fromParams`; it writes into `next` (from 0) the state of policy `to` (of this
   * algorithm too) whose available units at `nowMs` follow `strategy` (never `reset`,
   * which the caller handles by starting fresh). It returns the length written, or 0
   * when the old state has its whole old limit available (it holds nothing: start fresh).
   * The Lua twin's `migrate` makes the same operations.
   */
  migrate(
    fromParams: ArrayLike<number>,
    s: ArrayLike<number>,
    o: number,
    length: number,
    nowMs: number,
    to: Policy,
    strategy: Strategy,
    next: number[],
  ): number;
}

/**
 * POLICY_BRAND marks a policy built by a floodgate factory. It is a registered
 * symbol (`Symbol.for`), so a policy built by the ESM copy of floodgate is
 * recognised by the CJS copy in the same process, and it is not enumerable, so
 * an object spread (`{ ...tokenBucket(...), name: "x" }`) does not carry it and
 * is validated again where it enters (see checkPolicy).
 */
export const POLICY_BRAND: unique symbol = Symbol.for("floodgate.policy") as never;

/** PolicyFields are the fields and methods an algorithm file provides for a policy. */
export type PolicyFields = Omit<Policy, "kind" | "algorithm" | "options" | "name">;

/**
 * definePolicy freezes a policy of `algorithm` built from `options` and brands it.
 * Algorithm files build every policy through it.
 */
export function definePolicy(
  algorithm: AlgorithmDescriptor,
  name: string,
  options: Record<string, number>,
  fields: PolicyFields,
): Policy {
  const policy = {
    kind: algorithm.kind,
    algorithm,
    name,
    options: Object.freeze(options),
    ...fields,
  };
  Object.defineProperty(policy, POLICY_BRAND, { value: true, enumerable: false });
  return Object.freeze(policy);
}

/** isBranded reports whether `x` is a policy built by a floodgate factory (from any copy of the package). */
export function isBranded(x: unknown): x is Policy {
  return typeof x === "object" && x !== null && (x as Record<symbol, unknown>)[POLICY_BRAND] === true;
}
