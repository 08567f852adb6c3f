// registry.ts: the one list of algorithms, and the check every policy passes where it enters floodgate.

import { type AlgorithmDescriptor, isBranded } from "./algorithm.js";
import { describe, FloodgateTypeError } from "./errors.js";
import { FIXED_WINDOW } from "./fixed-window.js";
import { GCRA } from "./gcra.js";
import { LEAKY_BUCKET } from "./leaky-bucket.js";
import type { Policy } from "./policy.js";
import { SLIDING_LOG } from "./sliding-log.js";
import { SLIDING_WINDOW } from "./sliding-window.js";
import { STEPPED_TOKEN_BUCKET, TOKEN_BUCKET } from "./token-bucket.js";

/** ALGORITHMS lists every algorithm's descriptor: the only list of algorithms in floodgate. */
export const ALGORITHMS: readonly AlgorithmDescriptor[] = Object.freeze([
  TOKEN_BUCKET,
  STEPPED_TOKEN_BUCKET,
  GCRA,
  LEAKY_BUCKET,
  FIXED_WINDOW,
  SLIDING_WINDOW,
  SLIDING_LOG,
]);

const byCode = new Map(ALGORITHMS.map((a) => [a.code, a]));

/** algorithmByCode returns the descriptor registered under `code`, or undefined. */
export function algorithmByCode(code: string): AlgorithmDescriptor | undefined {
  return byCode.get(code);
}

/** FACTORIES names the public policy factories, for messages. */
const FACTORIES = [...new Set(ALGORITHMS.map((a) => `${a.factory}()`))].join(", ");

const rebuilt = new WeakMap<object, Policy>();

/**
 * checkPolicy returns the policy to use for `value`, or throws a coded error
 * naming `where`. A policy built by a factory (of this or another copy of
 * floodgate, such as the CJS build beside the ESM one) is used as is. Any other
 * object (a spread of a factory result with another name, a hand-written
 * object) is built again by its algorithm's factory from its `options` and
 * `name`, so every option and the name are validated as the factory validates
 * them (a name that would break the RateLimit headers is refused); its other
 * fields must agree with the rebuilt policy.
 */
export function checkPolicy(where: string, value: unknown): Policy {
  if (isBranded(value)) return value;
  if (typeof value === "object" && value !== null) {
    const hit = rebuilt.get(value);
    if (hit !== undefined) return hit;
  }
  const x = value as Partial<Policy> | null;
  const algorithm = typeof x === "object" && x !== null ? x.algorithm : undefined;
  const code = (algorithm as Partial<AlgorithmDescriptor> | undefined)?.code;
  const descriptor = typeof code === "string" ? algorithmByCode(code) : undefined;
  if (descriptor === undefined || typeof x?.options !== "object" || x.options === null) {
    throw new FloodgateTypeError(
      "ERR_INVALID_POLICY",
      `floodgate: ${where} needs a policy built by ${FACTORIES}, got ${describe(value)}.`,
    );
  }
  let policy: Policy;
  try {
    policy = descriptor.create({ ...x.options, name: x.name });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new FloodgateTypeError(
      "ERR_INVALID_POLICY",
      `floodgate: ${where} got a policy that its factory would refuse: ${message.replace(/^floodgate: /, "")} Build policies with ${descriptor.factory}({ ... }) rather than editing one.`,
    );
  }
  for (const field of ["kind", "limit", "windowMs", "stateSize"] as const) {
    if (x[field] !== undefined && x[field] !== policy[field]) {
      throw new FloodgateTypeError(
        "ERR_INVALID_POLICY",
        `floodgate: ${where} got a policy whose ${field} ${describe(x[field])} does not match its options (${describe(policy[field])}); build it with ${descriptor.factory}({ ... }) rather than editing one.`,
      );
    }
  }
  rebuilt.set(value as object, policy);
  return policy;
}

const checked = new WeakMap<object, readonly Policy[]>();

/**
 * checkPolicies validates a policy or a non-empty array of distinctly named
 * policies (see checkPolicy) and returns them as a frozen array. The result is
 * cached per input object, so passing the same array again costs one lookup.
 */
export function checkPolicies(where: string, value: unknown): readonly Policy[] {
  if (typeof value === "object" && value !== null) {
    const hit = checked.get(value);
    if (hit) return hit;
  }
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  if (list.length === 0) {
    throw new FloodgateTypeError(
      "ERR_INVALID_POLICY",
      `floodgate: ${where} needs at least one policy, got an empty array; pass a policy such as tokenBucket({ capacity: 10, refillRate: 2 }).`,
    );
  }
  const names = new Set<string>();
  const result: Policy[] = [];
  for (const p of list) {
    const policy = checkPolicy(where, p);
    if (names.has(policy.name)) {
      throw new FloodgateTypeError(
        "ERR_INVALID_POLICY",
        `floodgate: ${where} has two policies named "${policy.name}"; give each its own { name }, such as "per-second" and "per-day".`,
      );
    }
    names.add(policy.name);
    result.push(policy);
  }
  const frozen = Object.freeze(result) as readonly Policy[];
  if (typeof value === "object" && value !== null) checked.set(value, frozen);
  return frozen;
}
