// headers.ts: the IETF RateLimit and RateLimit-Policy fields (draft-ietf-httpapi-ratelimit-headers-11), legacy X-RateLimit-*, Retry-After.

import type { Verdict } from "../core/algorithm.js";
import type { Decision, Policy } from "../core/policy.js";

/** HeaderList is a list of [name, value] pairs, in the order they are set. */
export type HeaderList = [string, string][];

/** secondsUp rounds a duration in milliseconds up to whole seconds, never below 0. */
export function secondsUp(ms: number): number {
  return ms > 0 ? Math.ceil(ms / 1000) : 0;
}

export type { Verdict } from "../core/algorithm.js";

/**
 * nextUnitMs is the time until the policy's available quota next grows, in
 * milliseconds, derived from its verdict alone (so it is the same with every
 * store): the `t` of the RateLimit field. Each algorithm defines it in its
 * descriptor (`policy.algorithm.nextUnitMs`).
 */
export function nextUnitMs(p: Policy, d: Verdict): number {
  return p.algorithm.nextUnitMs(p, d);
}

const policyFieldCache = new WeakMap<readonly Policy[], string>();

/**
 * policyField renders RateLimit-Policy: one List item per policy, the name as an
 * sf-string, `q` its limit and `w` the seconds in which the limit is fully
 * restored (rounded up). Values are cached per policy list (a limiter's list is
 * replaced, not changed, when a policy is replaced live, so a cached value never
 * goes stale).
 */
export function policyField(policies: readonly Policy[]): string {
  let v = policyFieldCache.get(policies);
  if (v === undefined) {
    v = policies.map((p) => `"${p.name}";q=${p.limit};w=${Math.max(1, secondsUp(p.windowMs))}`).join(", ");
    policyFieldCache.set(policies, v);
  }
  return v;
}

const policyPairCache = new WeakMap<readonly Policy[], [string, string]>();
/** lastPolicies and lastPair (perf) memoise the latest list in front of the WeakMap: most servers have one list. */
let lastPolicies: readonly Policy[] | undefined;
let lastPair: [string, string] = ["RateLimit-Policy", ""];

/** policyHeader returns the cached ["RateLimit-Policy", value] pair of a policy list; never mutate it. */
export function policyHeader(policies: readonly Policy[]): [string, string] {
  if (policies === lastPolicies) return lastPair;
  let pair = policyPairCache.get(policies);
  if (pair === undefined) {
    pair = ["RateLimit-Policy", policyField(policies)];
    policyPairCache.set(policies, pair);
  }
  lastPolicies = policies;
  lastPair = pair;
  return pair;
}

/**
 * lastNamed, lastPrefix, lastRemaining, lastT and lastValue (perf) memoise the
 * RateLimit value of the latest single policy: the same policy, `r` and `t` give
 * the same string, without a new concatenation (a busy client, or one with a
 * large quota, sees the same value request after request).
 */
let lastNamed: Policy | undefined;
let lastPrefix = "";
let lastRemaining = Number.NaN;
let lastT = Number.NaN;
let lastValue = "";

/** limitField renders RateLimit: one item per policy, `r` the available quota and `t` nextUnitMs in seconds, rounded up. */
export function limitField(d: Decision, policies: readonly Policy[]): string {
  if (policies.length === 1) {
    const p = policies[0] as Policy;
    const r = d.remaining;
    const t = secondsUp(nextUnitMs(p, d));
    if (p === lastNamed) {
      if (r === lastRemaining && t === lastT) return lastValue;
    } else {
      lastPrefix = `"${p.name}";r=`;
      lastNamed = p;
    }
    lastRemaining = r;
    lastT = t;
    lastValue = `${lastPrefix}${r};t=${t}`;
    return lastValue;
  }
  let v = "";
  for (const pd of d.policies) {
    if (v !== "") v += ", ";
    v += `"${pd.policy.name}";r=${pd.remaining};t=${secondsUp(nextUnitMs(pd.policy, pd))}`;
  }
  return v;
}

/**
 * retryAfterSeconds is the Retry-After of a refused request: the longest wait of
 * the policies that refused it, in whole seconds rounded up, never earlier than
 * their `t`, and at least 1 so a client never retries at once.
 */
export function retryAfterSeconds(d: Decision): number {
  let ms = d.retryAfterMs;
  for (const pd of d.policies) {
    if (pd.allowed) continue;
    if (pd.retryAfterMs > ms) ms = pd.retryAfterMs;
    const t = secondsUp(nextUnitMs(pd.policy, pd)) * 1000;
    if (t > ms) ms = t;
  }
  return Math.max(1, secondsUp(ms));
}

/** HeaderOptions chooses the fields to send. */
export interface HeaderOptions {
  /** standardHeaders sends RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers). Default true. */
  standardHeaders: boolean;
  /** legacyHeaders sends X-RateLimit-Limit, -Remaining and -Reset (seconds) for the tightest policy. Default false. */
  legacyHeaders: boolean;
}

/** rateLimitHeaders appends the fields for a decision to `out`. */
export function rateLimitHeaders(d: Decision, policies: readonly Policy[], o: HeaderOptions, out: HeaderList): void {
  if (o.standardHeaders) {
    out.push(policyHeader(policies), ["RateLimit", limitField(d, policies)]);
  }
  if (o.legacyHeaders) {
    out.push(
      ["X-RateLimit-Limit", String(d.limit)],
      ["X-RateLimit-Remaining", String(d.remaining)],
      ["X-RateLimit-Reset", String(secondsUp(d.resetAfterMs))],
    );
  }
}

/**
 * headerList returns the fields for a decision as a new list: rateLimitHeaders
 * into a list of the right length (perf: the common case, the two standard
 * fields, is one array literal instead of an empty array grown by push).
 */
export function headerList(d: Decision, policies: readonly Policy[], o: HeaderOptions): HeaderList {
  if (o.standardHeaders && !o.legacyHeaders) return [policyHeader(policies), ["RateLimit", limitField(d, policies)]];
  const out: HeaderList = [];
  rateLimitHeaders(d, policies, o, out);
  return out;
}
