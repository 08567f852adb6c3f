// decision.ts: builds Decision values from per-policy outcomes.

import type { Decision, Degraded, Outcome, Policy, PolicyDecision } from "./policy.js";

/**
 * SingleDecision is the Decision of a single policy. It is one object; its
 * `policies` list is built only when read, which keeps the hot path lean.
 */
class SingleDecision implements Decision {
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  readonly retryAfterMs: number;
  readonly resetAfterMs: number;
  readonly policy: string;
  readonly degraded?: Degraded;
  readonly #policy: Policy;
  constructor(policy: Policy, out: Outcome, degraded?: Degraded) {
    this.allowed = out.allowed;
    this.limit = policy.limit;
    this.remaining = out.remaining;
    this.retryAfterMs = out.retryAfterMs;
    this.resetAfterMs = out.resetAfterMs;
    this.policy = policy.name;
    if (degraded !== undefined) this.degraded = degraded;
    this.#policy = policy;
  }
  get policies(): readonly PolicyDecision[] {
    return [
      {
        policy: this.#policy,
        allowed: this.allowed,
        limit: this.limit,
        remaining: this.remaining,
        retryAfterMs: this.retryAfterMs,
        resetAfterMs: this.resetAfterMs,
      },
    ];
  }
  toJSON(): object {
    return {
      allowed: this.allowed,
      limit: this.limit,
      remaining: this.remaining,
      retryAfterMs: this.retryAfterMs,
      resetAfterMs: this.resetAfterMs,
      policy: this.policy,
      ...(this.degraded ? { degraded: this.degraded } : {}),
    };
  }
}

/** singleDecision builds the Decision of one policy from its outcome. */
export function singleDecision(policy: Policy, out: Outcome, degraded?: Degraded): Decision {
  return new SingleDecision(policy, out, degraded);
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
