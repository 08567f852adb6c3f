// decision.ts: builds Decision values from per-policy outcomes.

import type { Decision, Degraded, Outcome, Policy, PolicyDecision } from "./policy.js";

/**
 * singleDecision builds the Decision of one policy from its outcome. The outcome
 * is copied, so a scratch Outcome may be reused after the call.
 *
 * The Decision is a plain object literal (its prototype is Object.prototype),
 * built in one place with its fields always in the same order, so every
 * Decision of one policy shares one hidden class. This is on the hot path of
 * every `consume`: an `await` must look up `then` on the resolved value, and
 * V8 does that lookup fastest on plain objects (measured in bench/memory.ts:
 * a class instance with a lazy `policies` getter made `await consume()` about
 * 20% slower). `policies` is built eagerly for the same reason. The function
 * is kept small (a degraded decision copies the plain one) so V8 inlines it whole.
 */
export function singleDecision(policy: Policy, out: Outcome, degraded?: Degraded): Decision {
  if (degraded !== undefined) return { ...plainDecision(policy, out), degraded };
  return plainDecision(policy, out);
}

/**
 * plainDecision is the Decision of one policy without a failure policy: the hot path, which
 * calls it directly (singleDecision with no `degraded` is this call; skipping singleDecision
 * spares 36 bytes of V8's inlining budget, see docs/memory.md).
 */
export function plainDecision(policy: Policy, out: Outcome): Decision {
  const one: PolicyDecision = {
    policy,
    allowed: out.allowed,
    limit: policy.limit,
    remaining: out.remaining,
    retryAfterMs: out.retryAfterMs,
    resetAfterMs: out.resetAfterMs,
  };
  return {
    allowed: one.allowed,
    limit: one.limit,
    remaining: one.remaining,
    retryAfterMs: one.retryAfterMs,
    resetAfterMs: one.resetAfterMs,
    policy: policy.name,
    policies: [one],
  };
}

/**
 * combineDecision builds the Decision of several policies. `allowed` is the
 * all-or-nothing verdict; when it is false, every policy that would have admitted
 * the cost is reported as it stands (nothing was taken from it). The top-level
 * fields come from the tightest policy: among the policies that deny, the longest
 * wait; when all allow, the least remaining (ties: the first listed).
 */
export function combineDecision(
  policies: readonly Policy[],
  outs: readonly Outcome[],
  allowed: boolean,
  degraded?: Degraded,
): Decision {
  const list: PolicyDecision[] = [];
  let tight = 0;
  for (let i = 0; i < policies.length; i++) {
    const p = policies[i] as Policy;
    const o = outs[i] as Outcome;
    list.push({
      policy: p,
      allowed: o.allowed,
      limit: p.limit,
      remaining: o.remaining,
      retryAfterMs: o.retryAfterMs,
      resetAfterMs: o.resetAfterMs,
    });
    const t = list[tight] as PolicyDecision;
    const c = list[i] as PolicyDecision;
    if (allowed ? c.remaining < t.remaining : !c.allowed && (t.allowed || c.retryAfterMs > t.retryAfterMs)) {
      tight = i;
    }
  }
  const t = list[tight] as PolicyDecision;
  const d: Decision = {
    allowed,
    limit: t.limit,
    remaining: t.remaining,
    retryAfterMs: allowed ? 0 : t.retryAfterMs,
    resetAfterMs: t.resetAfterMs,
    policy: t.policy.name,
    policies: list,
    ...(degraded ? { degraded } : {}),
  };
  return d;
}

/**
 * checkVerdict is the own verdict of an item of an all-or-nothing call across keys
 * (RateLimiter.consumeAll): an item of cost 0 is a check, refused when one of its
 * policies has nothing left (`remaining` 0); any other item's decision is its own.
 */
export function checkVerdict(cost: number, policies: readonly Policy[], d: Decision): Decision {
  if (cost !== 0 || !d.allowed || d.policies.every((p) => p.remaining > 0)) return d;
  const outs = d.policies.map((p) => ({ ...p, allowed: p.remaining > 0 }));
  if (outs.length === 1) return { ...d, allowed: false, policies: outs };
  return d.degraded === undefined
    ? combineDecision(policies, outs, false)
    : combineDecision(policies, outs, false, d.degraded);
}
