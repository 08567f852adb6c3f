// apply.ts: a pure, allocating front to the policy math, for tests, simulations and replays.

import { FloodgateRangeError } from "./errors.js";
import { newOutcome, type Outcome, type Policy } from "./policy.js";
import { checkCost, checkNow } from "./validate.js";

/** Applied is the result of applyPolicy: the outcome, and the state to keep. */
export interface Applied extends Outcome {
  /**
   * state is the state after the call: the new one if admitted, the rebased one
   * if the state's time was ahead of nowMs (see Outcome.rebased), else the one
   * given (or null for none).
   */
  readonly state: readonly number[] | null;
}

/**
 * applyPolicy decides `cost` against `state` (null for a key never seen) at
 * `nowMs` and returns the outcome with the state to keep, as a store keeps it.
 * It is pure: the input state is not modified and nothing outside is read. A
 * denied call, and a call of cost 0, return the state they were given, unless
 * they rebased it (a time earlier than the state's own).
 */
export function applyPolicy(policy: Policy, state: readonly number[] | null, nowMs: number, cost: number): Applied {
  checkNow("applyPolicy(nowMs)", nowMs);
  checkCost("applyPolicy", cost);
  if (cost > policy.limit) {
    throw new FloodgateRangeError(
      "ERR_COST_EXCEEDS_LIMIT",
      `floodgate: applyPolicy(cost=${cost}) exceeds the limit ${policy.limit} of policy "${policy.name}"; raise the limit or lower the cost.`,
    );
  }
  const out = newOutcome();
  const next: number[] = [];
  const fresh = state === null;
  const ok = policy.evaluate(state ?? [], 0, fresh, nowMs, cost, next, out);
  const keep = (ok && cost > 0) || out.rebased ? next : state;
  return { ...out, state: keep === null ? null : Object.freeze(keep.slice()) };
}

/** refundPolicy gives back `cost` to `state` at `nowMs` and returns the new state (null stays null). */
export function refundPolicy(
  policy: Policy,
  state: readonly number[] | null,
  nowMs: number,
  cost: number,
): readonly number[] | null {
  checkNow("refundPolicy(nowMs)", nowMs);
  checkCost("refundPolicy", cost);
  if (state === null) return null;
  const next: number[] = [];
  return policy.refund(state, 0, false, nowMs, cost, next) ? Object.freeze(next) : state;
}
