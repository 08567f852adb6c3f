// failover.ts: what a failed Redis call means (degraded, recovered, probes) and the failure policy's answers, insurance included.

import { combineDecision, singleDecision } from "../../core/decision.js";
import { describe, FloodgateError } from "../../core/errors.js";
import { type Decision, type Degraded, newOutcome, type Outcome, type Policy } from "../../core/policy.js";
import type { MemoryStore } from "../memory.js";
import type { Call } from "./batcher.js";
import type { Emitter } from "./events.js";
import { scalePolicy } from "./insurance.js";
import type { Op } from "./protocol.js";

/** FailureReason says why a call failed: Redis did not answer in time, could not be reached, or replied with an error. */
export type FailureReason = "timeout" | "unavailable" | "reply";

const PROBE: Record<string, never> = Object.freeze({});
const OP_NAME = { c: "consume", r: "refund", d: "reset", p: "penalty", a: "consume" } as const;
const UNAVAILABLE = /^(CLUSTERDOWN|LOADING|READONLY|MASTERDOWN|TRYAGAIN|BUSY|NOREPLICAS)\b/;
const REPLY_ERRORS = new Set(["ReplyError", "ErrorReply", "SimpleError", "BlobError"]);
const REPLY_CODE = /^[A-Z][A-Z_]+ /;

/**
 * classify says whether an error from a script call is a Redis error reply
 * (WRONGTYPE, ERR ...: "reply", it fails that call only) or anything else (a
 * closed connection, CLUSTERDOWN, LOADING ...: "unavailable", an outage).
 */
export function classify(err: unknown): "reply" | "unavailable" {
  if (!(err instanceof Error)) return "unavailable";
  const isReply =
    (REPLY_ERRORS.has(err.name) || REPLY_ERRORS.has(err.constructor.name) || REPLY_CODE.test(err.message)) &&
    !UNAVAILABLE.test(err.message);
  return isReply ? "reply" : "unavailable";
}

/** FailoverSettings are the settings Failover reads (see Settings in options.ts). */
export interface FailoverSettings {
  readonly failure: "fail-open" | "fail-closed" | "insurance";
  readonly insurance: MemoryStore | undefined;
  readonly scale: number;
  readonly failClosedRetryAfterMs: number;
  readonly probeIntervalMs: number;
  readonly now: () => number;
}

/** Insured is a policy array's insurance twin: the scaled policies and the smallest scaled limit. */
interface Insured {
  readonly local: readonly Policy[];
  readonly minLimit: number;
}

/**
 * Failover tracks whether Redis is reachable and answers calls by the failure
 * policy when it is not.
 *
 * - A timeout or a connection error makes the store **degraded** (one
 *   `degraded` event); from then on calls are answered locally at once, and one
 *   call every probeIntervalMs goes to Redis (a probe). The first script reply
 *   after that emits `recovered`. A Redis error reply fails only its call.
 * - Every failed call emits `error`. A refund or reset answered locally between
 *   probes emits `error` too (a FloodgateError of code ERR_STORE): it was not
 *   applied to Redis, only to the insurance store when there is one.
 * - Insurance: a MemoryStore decides with each policy scaled by `scale`. A cost
 *   above a policy's scaled limit (but within its own limit) could never be
 *   admitted there; it is denied at once, taking nothing, with retryAfterMs =
 *   resetAfterMs = the unscaled policy's windowMs (see #beyondScaled).
 */
export class Failover {
  readonly #s: FailoverSettings;
  readonly #events: Emitter;
  readonly #insured = new WeakMap<readonly Policy[], Insured>();
  #down = false;
  #downSinceMs = 0;
  #nextProbeMs = 0;

  constructor(settings: FailoverSettings, events: Emitter) {
    this.#s = settings;
    this.#events = events;
  }

  /** down is true while Redis is considered unreachable (between `degraded` and `recovered`). */
  get down(): boolean {
    return this.#down;
  }

  /**
   * answersLocally reports whether a new call must be answered by the failure
   * policy without asking Redis: true while degraded, except for one call per
   * probeIntervalMs (the probe), for which it returns false.
   */
  answersLocally(): boolean {
    if (!this.#down) return false;
    const t = this.#s.now();
    if (t < this.#nextProbeMs) return true;
    this.#nextProbeMs = t + this.#s.probeIntervalMs;
    this.#events.emit("probe", PROBE);
    return false;
  }

  /** succeeded records a script reply: a degraded store recovers. */
  succeeded(): void {
    if (this.#down) {
      this.#down = false;
      this.#events.emit("recovered", { downMs: Math.max(0, this.#s.now() - this.#downSinceMs) });
    }
  }

  /** fail answers every call by the failure policy, after recording the failure and emitting events. */
  fail(calls: readonly Call[], reason: FailureReason, error: unknown): void {
    if (reason !== "reply") {
      const now = this.#s.now();
      if (!this.#down) {
        this.#down = true;
        this.#downSinceMs = now;
        this.#events.emit("degraded", { reason, error, failure: this.#s.failure });
      }
      this.#nextProbeMs = now + this.#s.probeIntervalMs;
    }
    for (const c of calls) {
      this.#events.emit("error", { error, op: c.op === "c" && c.cost === 0 ? "peek" : OP_NAME[c.op], key: c.key });
      // An all-or-nothing call is answered per member by its caller (RedisStore.consumeAll).
      c.resolve(c.op === "a" ? undefined : this.answer(c.op, c.key, c.policies, c.cost, c.nowMs));
    }
  }

  /**
   * local answers a call that was not sent to Redis (degraded, between probes).
   * A refund or reset is applied to the insurance store, if any, and reported
   * through an `error` event, since Redis never sees it.
   */
  local(
    op: Op,
    key: string,
    policies: readonly Policy[],
    cost: number,
    nowMs: number | undefined,
  ): Decision | undefined {
    if (op !== "c" && this.#events.has("error")) {
      const name = OP_NAME[op];
      const where = this.#s.insurance ? "it was applied to the insurance store only" : "nothing was changed";
      const error = new FloodgateError(
        "ERR_STORE",
        `floodgate: RedisStore.${name}(${describe(key)}) was not applied to Redis: the store is degraded and answers calls between probes locally; ${where}. Repeat it after the "recovered" event if Redis must see it.`,
      );
      this.#events.emit("error", { error, op: name, key });
    }
    return this.answer(op, key, policies, cost, nowMs);
  }

  /** answer is the failure policy's answer to one call: a Decision for a consume or peek, undefined otherwise. */
  answer(
    op: Op,
    key: string,
    policies: readonly Policy[],
    cost: number,
    nowMs: number | undefined,
  ): Decision | undefined {
    if (this.#s.insurance !== undefined) return this.#insure(op, key, policies, cost, nowMs);
    if (op !== "c") return undefined;
    const open = this.#s.failure === "fail-open";
    const retryMs = this.#s.failClosedRetryAfterMs;
    const outs: Outcome[] = policies.map((p) => {
      const out = newOutcome();
      out.allowed = open || cost === 0;
      out.remaining = open ? p.limit - cost : 0;
      out.retryAfterMs = out.allowed ? 0 : retryMs;
      out.resetAfterMs = open ? 0 : retryMs;
      return out;
    });
    const degraded: Degraded = open ? "fail-open" : "fail-closed";
    if (policies.length === 1) return singleDecision(policies[0] as Policy, outs[0] as Outcome, degraded);
    return combineDecision(policies, outs, open || cost === 0, degraded);
  }

  /** #insure is the insurance store's answer, with the policies scaled. */
  #insure(
    op: Op,
    key: string,
    policies: readonly Policy[],
    cost: number,
    nowMs: number | undefined,
  ): Decision | undefined {
    const ins = this.#s.insurance as MemoryStore;
    const insured = this.#insuredOf(policies);
    const t = nowMs ?? this.#s.now();
    if (op === "r") {
      ins.refund(key, insured.local, cost, t);
      return undefined;
    }
    if (op === "d") {
      ins.reset(key, insured.local);
      return undefined;
    }
    if (op === "p") {
      ins.penalty(key, insured.local, cost, t);
      return undefined;
    }
    if (cost > insured.minLimit) return this.#beyondScaled(ins, key, policies, insured.local, cost, t);
    const d = ins.consume(key, insured.local, cost, t);
    if (policies.length === 1) return singleDecision(policies[0] as Policy, d, "insurance");
    return combineDecision(policies, d.policies, d.allowed, "insurance");
  }

  /**
   * #beyondScaled answers a cost that fits every policy but exceeds at least one
   * scaled limit: the insurance store could never admit it, whatever the wait,
   * so it is denied without touching the insurance state. Each policy whose
   * scaled limit is below the cost reports retryAfterMs = resetAfterMs = its own
   * (unscaled) windowMs, a finite wait after which Redis may be back, and its
   * scaled remaining. Every other policy reports its standing as a peek, or, if
   * it would deny the cost too, its own denial (a denial takes nothing).
   */
  #beyondScaled(
    ins: MemoryStore,
    key: string,
    policies: readonly Policy[],
    local: readonly Policy[],
    cost: number,
    t: number,
  ): Decision {
    const standing = ins.peek(key, local, t).policies;
    const outs: Outcome[] = [];
    for (let i = 0; i < policies.length; i++) {
      const p = policies[i] as Policy;
      const l = local[i] as Policy;
      const s = standing[i] as Outcome;
      if (l.limit < cost) {
        outs.push({ allowed: false, remaining: s.remaining, retryAfterMs: p.windowMs, resetAfterMs: p.windowMs });
      } else if (s.remaining >= cost) {
        outs.push({ allowed: true, remaining: s.remaining, retryAfterMs: 0, resetAfterMs: s.resetAfterMs });
      } else {
        // `remaining` is the largest cost admitted now, so this consume denies and takes nothing.
        outs.push(ins.consume(key, [l], cost, t).policies[0] as Outcome);
      }
    }
    if (policies.length === 1) return singleDecision(policies[0] as Policy, outs[0] as Outcome, "insurance");
    return combineDecision(policies, outs, false, "insurance");
  }

  /** #insuredOf returns a policy array's scaled twin (cached per array). */
  #insuredOf(policies: readonly Policy[]): Insured {
    let x = this.#insured.get(policies);
    if (x === undefined) {
      // Frozen: the memory store keeps a frozen one-policy array on its fast path.
      const local = Object.freeze(policies.map((p) => scalePolicy(p, this.#s.scale)));
      x = { local, minLimit: Math.min(...local.map((p) => p.limit)) };
      this.#insured.set(policies, x);
    }
    return x;
  }
}
