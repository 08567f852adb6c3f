// core-decision.test.ts: checkVerdict (src/core/decision.ts), the own verdict of a cost-0 item of consumeAll, called
// directly: a check is refused when one of its policies has nothing left, with that policy's fields on top, and keeps
// the decision's `degraded`. Found missing by mutation testing (`npm run mutate`, docs/architecture.md): the
// several-policy and degraded paths had no coverage in the tests the mutation run includes.

import { describe, expect, it } from "vitest";
import { applyPolicy } from "../../src/core/apply.js";
import { checkVerdict, combineDecision } from "../../src/core/decision.js";
import { fixedWindow } from "../../src/core/fixed-window.js";
import type { Decision, Degraded } from "../../src/core/policy.js";

/** peeks decides a check (cost 0) at 500 against A (2 per 1000 ms, `spentA` spent) and B (5 per 1000 ms, fresh). */
function peeks(spentA: number, allowed = true, degraded?: Degraded) {
  const a = fixedWindow({ name: "a", limit: 2, windowMs: 1000 });
  const b = fixedWindow({ name: "b", limit: 5, windowMs: 1000 });
  const state = spentA > 0 ? applyPolicy(a, null, 100, spentA).state : null;
  const outs = [applyPolicy(a, state, 500, 0), applyPolicy(b, null, 500, 0)];
  return { a, b, policies: [a, b], d: combineDecision([a, b], outs, allowed, degraded) };
}

describe("checkVerdict", () => {
  it("returns the decision itself for a cost, a denial, or a check with something left everywhere", () => {
    const { policies, d } = peeks(2);
    expect(checkVerdict(1, policies, d), "a cost: its own decision").toBe(d);
    const denied = peeks(2, false);
    expect(checkVerdict(0, denied.policies, denied.d), "already denied").toBe(denied.d);
    const roomy = peeks(1);
    expect(checkVerdict(0, roomy.policies, roomy.d), "1 left in a, 5 in b").toBe(roomy.d);
  });

  it("refuses a check when one of several policies has nothing left, with that policy on top", () => {
    const { a, b, policies, d } = peeks(2);
    const got = checkVerdict(0, policies, d);
    const want: Decision = {
      allowed: false,
      limit: 2,
      remaining: 0,
      retryAfterMs: 0,
      resetAfterMs: 500,
      policy: "a",
      policies: [
        { policy: a, allowed: false, limit: 2, remaining: 0, retryAfterMs: 0, resetAfterMs: 500 },
        { policy: b, allowed: true, limit: 5, remaining: 5, retryAfterMs: 0, resetAfterMs: 0 },
      ],
    };
    expect(got).toEqual(want);
    expect("degraded" in got, "no degraded key when the decision had none").toBe(false);
  });

  it("keeps degraded, with several policies and with one", () => {
    const { policies, d } = peeks(2, true, "insurance");
    const got = checkVerdict(0, policies, d);
    expect([got.allowed, got.policy, got.degraded, got.policies.map((p) => p.allowed)]).toEqual([
      false,
      "a",
      "insurance",
      [false, true],
    ]);
    const a = fixedWindow({ name: "a", limit: 2, windowMs: 1000 });
    const one = combineDecision([a], [applyPolicy(a, applyPolicy(a, null, 100, 2).state, 500, 0)], true, "fail-open");
    const single = checkVerdict(0, [a], one);
    expect([
      single.allowed,
      single.degraded,
      single.policies.map((p) => [p.policy.name, p.allowed, p.remaining]),
    ]).toEqual([false, "fail-open", [["a", false, 0]]]);
  });
});
