// deny-cache.ts: repeats a key's recent denial locally until its retryAfterMs has passed, so floods cost no Redis call.

import { combineDecision, singleDecision } from "../../core/decision.js";
import { ceilMs, type Decision, type Outcome, type Policy } from "../../core/policy.js";

/** CachedDenial is a denial the deny cache repeats without asking Redis. */
interface CachedDenial {
  /** untilMs is when the denial expires: sentAtMs + retryAfterMs, on the store's local clock (or the injected time). */
  untilMs: number;
  /** sentAtMs is when the denied call was sent; a time before it (a clock going back) drops the entry. */
  sentAtMs: number;
  /** cost is the denied cost: the same or a larger cost is denied locally, a smaller one asks Redis. */
  cost: number;
  /** outs are the denial's per-policy outcomes, as Redis gave them. */
  outs: Outcome[];
}

/**
 * DenyCache remembers, per key and policy set, the last denial Redis gave,
 * and answers the same or a larger cost with it, locally, until its
 * retryAfterMs (counted from when the call was sent, so never past the moment
 * Redis would admit) has passed. A smaller cost or a peek goes to Redis. It
 * holds at most `maxKeys` denials and drops the oldest first. Times are the
 * call's injected time, or `now()` (the store's local clock) without one.
 */
export class DenyCache {
  readonly #entries = new Map<string, CachedDenial>();
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #setIds = new WeakMap<readonly Policy[], string>();

  constructor(maxKeys: number, now: () => number) {
    this.#maxKeys = maxKeys;
    this.#now = now;
  }

  /** get returns a local denial for a key recently denied, or undefined to ask Redis. */
  get(key: string, policies: readonly Policy[], cost: number, nowMs: number | undefined): Decision | undefined {
    const entries = this.#entries;
    if (entries.size === 0) return undefined;
    const ck = this.#cacheKey(key, policies);
    const e = entries.get(ck);
    if (e === undefined) return undefined;
    const t = nowMs ?? this.#now();
    if (t >= e.untilMs || t < e.sentAtMs) {
      entries.delete(ck);
      return undefined;
    }
    if (cost < e.cost) return undefined;
    const elapsedMs = t - e.sentAtMs;
    const outs = e.outs.map((o) => ({
      allowed: o.allowed,
      remaining: o.remaining,
      retryAfterMs: o.allowed ? 0 : ceilMs(o.retryAfterMs - elapsedMs),
      resetAfterMs: ceilMs(o.resetAfterMs - elapsedMs),
    }));
    if (policies.length === 1) return singleDecision(policies[0] as Policy, outs[0] as Outcome);
    return combineDecision(policies, outs, false);
  }

  /** remember caches a denial `d` of `cost` until its retryAfterMs, counted from `sentAtMs`. */
  remember(key: string, policies: readonly Policy[], cost: number, d: Decision, sentAtMs: number): void {
    const entries = this.#entries;
    const ck = this.#cacheKey(key, policies);
    entries.delete(ck);
    if (entries.size >= this.#maxKeys) {
      const oldest = entries.keys().next();
      if (!oldest.done) entries.delete(oldest.value);
    }
    const outs: Outcome[] = d.policies.map((p) => ({
      allowed: p.allowed,
      remaining: p.remaining,
      retryAfterMs: p.retryAfterMs,
      resetAfterMs: p.resetAfterMs,
    }));
    entries.set(ck, { untilMs: sentAtMs + d.retryAfterMs, sentAtMs, cost, outs });
  }

  /** forget drops the key's cached denial (a refund or reset in this process changes what Redis would say). */
  forget(key: string, policies: readonly Policy[]): void {
    if (this.#entries.size > 0) this.#entries.delete(this.#cacheKey(key, policies));
  }

  #cacheKey(key: string, policies: readonly Policy[]): string {
    if (policies.length === 1) return `${cacheId(policies[0] as Policy)}\n${key}`;
    let ids = this.#setIds.get(policies);
    if (ids === undefined) {
      ids = policies.map(cacheId).join("\n");
      this.#setIds.set(policies, ids);
    }
    return `${ids}\n${key}`;
  }
}

/** cacheId names a policy in the cache: its id, and a live policy's version (a replacement must not inherit denials). */
function cacheId(p: Policy): string {
  return p.live ? `${p.id}@${p.live.version}` : p.id;
}
