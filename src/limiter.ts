// limiter.ts: RateLimiter, the public entry point: consume, peek, refund, reset, acquire.

import { badClock, checkClockOption, defaultTimers, monotonicNow, readClock, type Timers } from "./core/clock.js";
import { checkVerdict, combineDecision } from "./core/decision.js";
import { describe, FloodgateRangeError, FloodgateTypeError } from "./core/errors.js";
import { type LiveOptions, replaceLive } from "./core/live.js";
import { type Decision, newOutcome, type Outcome, type Policy } from "./core/policy.js";
import { checkPolicies } from "./core/registry.js";
import { SpaceSaving, type TopEntry } from "./core/space-saving.js";
import { checkCost, checkKey, checkNow, checkOptions, MAX_DURATION_MS, MAX_LIMIT } from "./core/validate.js";
import {
  COUNTER,
  type Counter,
  type CounterSinks,
  type DecisionCounts,
  type DecisionEvent,
  EVENTS,
  Listeners,
  MAX_COUNTED_POLICIES,
  newCounts,
  OTHER_POLICY,
  type RateLimiterEvents,
  type RateLimiterListener,
  STORE_SINK_SAMPLE,
  STORE_TIMING_SAMPLE,
  type WaitEvent,
} from "./listeners.js";
import { WaitQueue, type WaitQueueOptions } from "./queue.js";
import { isMemoryStore, MemoryStore } from "./stores/memory.js";
import type { AllCall, AllDecision, BlockRule, KeysTracked, Store } from "./stores/store.js";

export type { AllCall, AllDecision, Timers };

/** RateLimiterOptions configures a RateLimiter. */
export interface RateLimiterOptions {
  /** policy is one policy, or an array of policies applied all-or-nothing. */
  policy: Policy | readonly Policy[];
  /** store keeps the state. Default: a new MemoryStore. */
  store?: Store;
  /**
   * now returns the time in milliseconds. Default: a monotonic clock
   * (`performance.timeOrigin + performance.now()`). Inject one for tests and
   * simulations. A store with a clock of its own (Redis) uses that clock unless
   * `now` is given.
   */
  now?: () => number;
  /** timers replaces setTimeout/clearTimeout for `acquire` (tests, simulations). */
  timers?: Timers;
  /** maxQueue bounds how many `acquire` calls may wait per key. Default 1000. */
  maxQueue?: number;
  /**
   * blocks makes every decision check the key's block first (see `block`). A limiter that
   * calls `block` checks from then on by itself; with a store shared by several processes
   * (Redis), set it on every limiter that must honour blocks made elsewhere. Default false.
   */
  blocks?: boolean;
  /**
   * autoBlock blocks a key automatically after repeated refusals: `{ refusals: 5, withinMs:
   * 60_000, blockMs: 900_000 }` blocks for 15 minutes a key refused 5 times within a minute
   * (counted from the first refusal). Implies `blocks`.
   */
  autoBlock?: BlockRule;
  /**
   * nearLimit is the share of a policy's limit at or below which an allowed call's
   * `remaining` counts as near the limit (the `nearLimit` event and the decision
   * event's flag): a number from 0 to 1. Default 0.2.
   */
  nearLimit?: number;
  /**
   * heavyHitters keeps, per policy, a Space-Saving summary of the `k` keys it
   * refused most (denied or shadow), in fixed memory: read it with
   * `limiter.heavyHitters()`. A whole number from 1 to 10000; default: none kept.
   * Keys are kept as the caller gave them: the HTTP layer's hashed parts stay hashed.
   */
  heavyHitters?: number;
}

/**
 * HeavyHitters is one policy's summary of its most refused keys. Every key refused
 * more than `refused / k` times is listed; each `count` is at least the key's true
 * number of refusals and at most `error` above it (0: exact).
 */
export interface HeavyHitters {
  readonly policy: string;
  readonly k: number;
  /** refused counts every refusal of the policy since the limiter was built (or the summary reset). */
  readonly refused: number;
  /** keys are the most refused keys, most first. */
  readonly keys: readonly TopEntry[];
}

/** MAX_HEAVY_POLICIES bounds how many policies get a heavy-hitters summary; further names are not summarised. */
const MAX_HEAVY_POLICIES = 256;
/** MAX_HEAVY_K bounds heavyHitters' k. */
const MAX_HEAVY_K = 10_000;

/** CallOptions are the per-call options of consume, peek, refund and reset. */
export interface CallOptions {
  /** cost is what this call spends: a whole number from 0 to the policy's limit. Default 1. */
  cost?: number;
  /** policy replaces the limiter's policy for this call (tiers, dynamic limits). */
  policy?: Policy | readonly Policy[];
  /**
   * shadow (consume only) says the caller lets a denial through (shadow mode, a
   * policy being rolled out): the Decision is unchanged, and listeners see a
   * denial as the outcome "shadow", a would-be refusal, counted apart.
   */
  shadow?: boolean;
}

/** AcquireOptions configures a waiting `acquire`. */
export interface AcquireOptions extends CallOptions {
  /** signal aborts the wait: the call leaves the queue, takes nothing and rejects with ERR_ABORTED. */
  signal?: AbortSignal;
  /** maxWaitMs rejects with ERR_WAIT_TOO_LONG rather than wait longer than this. Default: no bound. */
  maxWaitMs?: number;
}

/** AllItem is one item of consumeAll: a key and its per-call options. */
export interface AllItem extends CallOptions {
  readonly key: string;
}

const ALL_ITEM_OPTIONS = ["key", "cost", "policy", "shadow"] as const;
const CALL_OPTIONS = ["cost", "policy"] as const;
const CONSUME_OPTIONS = ["cost", "policy", "shadow"] as const;
const CALL_OPTIONS_NO_COST = ["policy"] as const;
const ACQUIRE_OPTIONS = ["cost", "policy", "signal", "maxWaitMs"] as const;

/** AcquireJob is what one pending acquire asks for. */
interface AcquireJob {
  readonly policies: readonly Policy[];
  readonly cost: number;
}

/**
 * WAITER keys a RateLimiter's internal face for a wait queue built elsewhere (the
 * client's scheduler), so its waits are reported like acquire's: a denial it waits
 * out is a wait, not a decision, and the admission is a decision of op "acquire".
 * A registered symbol, the same in the ESM and CJS copies.
 */
export const WAITER: unique symbol = Symbol.for("floodgate.RateLimiter.waiter") as never;

/** Waiter is what RateLimiter[WAITER]() returns. */
export interface Waiter {
  /** consume decides like consume(key, cost) but reports nothing (the caller waits out a denial). */
  consume(key: string, cost: number): Promise<Decision>;
  /** granted reports an admission as a decision of op "acquire". */
  granted(key: string, cost: number, d: Decision): void;
  /** observe reports the steps of the waits (the `wait` event). */
  observe: NonNullable<WaitQueueOptions<unknown, unknown, unknown>["observe"]>;
}

/** RATE_LIMITER is the brand of a RateLimiter: a registered symbol, the same in every copy of floodgate. */
const RATE_LIMITER: unique symbol = Symbol.for("floodgate.RateLimiter") as never;

/** isRateLimiter reports whether `x` is a RateLimiter, from this or another copy of floodgate (ESM beside CJS). */
export function isRateLimiter(x: unknown): x is RateLimiter {
  return typeof x === "object" && x !== null && (x as { [RATE_LIMITER]?: unknown })[RATE_LIMITER] === true;
}

/**
 * RateLimiter applies a policy (or several, all-or-nothing) per key.
 *
 * `consume` never throws because a limit is reached: a denial is a Decision
 * with `allowed: false`. It rejects only for bad input (a cost that is not a
 * whole number, or larger than a policy's limit; a key that is not a string),
 * before any state is touched.
 *
 * @example
 * import { RateLimiter, tokenBucket } from "floodgate";
 * const limiter = new RateLimiter({ policy: tokenBucket({ capacity: 10, refillRate: 2 }) });
 * const d = await limiter.consume("user:42");
 * if (!d.allowed) console.log(`retry in ${d.retryAfterMs} ms`);
 */
export class RateLimiter {
  /** `instanceof RateLimiter` also recognises a RateLimiter of another copy of floodgate (ESM beside CJS). */
  static [Symbol.hasInstance](x: unknown): boolean {
    return isRateLimiter(x);
  }
  get [RATE_LIMITER](): true {
    return true;
  }
  /** policies are the limiter's default policies (a frozen array; `replacePolicy` swaps it for a new one). */
  get policies(): readonly Policy[] {
    return this.#policies;
  }
  #policies: readonly Policy[];
  readonly store: Store;
  readonly #now: () => number;
  readonly #injectedClock: boolean;
  readonly #timers: Timers;
  readonly #maxQueue: number;
  /** #waiters is the wait queue of `acquire`, built on its first call. */
  #waiters: WaitQueue<AcquireJob, Decision, Decision> | undefined;
  readonly #memory: MemoryStore | undefined;
  /** #fastCostMax (perf) is the largest cost valid for every default policy; see #fastCost. */
  #fastCostMax: number;
  /** #unitCost (perf) is 1 when every default policy admits a cost of 1 (the default), else -1; see #fastCost. */
  #unitCost: number;
  readonly #listeners: Listeners;
  /**
   * #observed (perf) is true while a decision or nearLimit listener, a counting
   * binding (COUNTER) or heavyHitters is set: the one check the hot paths make;
   * while false, decisions cost what they cost without the listener API.
   */
  #observed = false;
  /** #counting is true while a counting binding is attached (see COUNTER); #counts holds its numbers per policy name. */
  #counting = false;
  /** #countOnly (perf) is true while counting bindings are all that observe decisions (no listener, no heavyHitters). */
  #countOnly = false;
  #counts: Map<string, DecisionCounts> | undefined;
  /** #countName and #countLast cache the last policy name counted and its counts (one Map lookup saved per decision). */
  #countName = "";
  #countLast: DecisionCounts | undefined;
  /** #sinks are the attached counting bindings' sinks; #durationSinks and #refusedSinks their members, undefined when none. */
  #sinks: readonly CounterSinks[] = [];
  #durationSinks: ((seconds: number) => void)[] | undefined;
  #refusedSinks: ((policy: string, retryAfterMs: number, shadow: boolean) => void)[] | undefined;
  /** #tick counts observed in-process decisions, to time a few (see #timeMask). */
  #tick = 0;
  /**
   * #timeMask (perf) picks the in-process decisions timed: those whose #tick has no bit
   * of the mask set. STORE_TIMING_SAMPLE - 1 while a decision listener is set (it sees
   * `durationMs` one decision in 16); STORE_SINK_SAMPLE - 1 while only counting
   * bindings want durations (one in 256: reading the clock twice and filling a
   * histogram cost about what a decision does); -1 when nobody wants them.
   */
  #timeMask = -1;
  readonly #nearShare: number;
  /** #heavyK is heavyHitters' k, 0 when off; #heavy holds a summary per policy name. */
  readonly #heavyK: number;
  readonly #heavy = new Map<string, SpaceSaving>();
  /** #storeOff removes the limiter's listener from its store (set while a `store` listener is). */
  #storeOff: (() => void) | undefined;

  constructor(options: RateLimiterOptions) {
    const o = checkOptions("RateLimiter", options, [
      "policy",
      "store",
      "now",
      "timers",
      "maxQueue",
      "blocks",
      "autoBlock",
      "nearLimit",
      "heavyHitters",
    ]);
    this.#policies = checkPolicies("RateLimiter({ policy })", o.policy);
    if (o.store !== undefined && !isStore(o.store)) {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: RateLimiter({ store }) must be a Store (consume, peek, refund, reset), got ${describe(o.store)}; pass new MemoryStore() or a RedisStore.`,
      );
    }
    const injected = checkClockOption("RateLimiter", o.now);
    const maxQueue = o.maxQueue ?? 1000;
    if (typeof maxQueue !== "number" || !Number.isInteger(maxQueue) || maxQueue < 1) {
      throw new FloodgateRangeError(
        "ERR_INVALID_OPTION",
        `floodgate: RateLimiter({ maxQueue }) must be a whole number >= 1, got ${describe(maxQueue)}; pass how many acquire calls may wait per key, such as 1000 (a call that can go at once also passes through the queue).`,
      );
    }
    const nearShare = o.nearLimit ?? 0.2;
    if (typeof nearShare !== "number" || !(nearShare >= 0 && nearShare <= 1)) {
      throw new FloodgateRangeError(
        "ERR_INVALID_OPTION",
        `floodgate: RateLimiter({ nearLimit }) must be a share of the limit from 0 to 1, got ${describe(nearShare)}; such as 0.2 (remaining at or below 20% of the limit).`,
      );
    }
    this.#nearShare = nearShare;
    const k = o.heavyHitters ?? 0;
    if (typeof k !== "number" || !Number.isInteger(k) || k < 0 || k > MAX_HEAVY_K) {
      throw new FloodgateRangeError(
        "ERR_INVALID_OPTION",
        `floodgate: RateLimiter({ heavyHitters }) must be a whole number from 0 (none kept) to ${MAX_HEAVY_K}, got ${describe(k)}; pass how many refused keys to keep per policy, such as 20.`,
      );
    }
    this.#heavyK = k;
    this.#observed = k > 0;
    this.#listeners = new Listeners((event, err) => {
      console.warn(
        `floodgate: a RateLimiter "${event}" listener threw or rejected (${err instanceof Error ? err.message : String(err)}); it is ignored and the caller never sees it. Reported once per limiter. [FG_LISTENER_THREW]`,
      );
    });
    this.store = (o.store as Store | undefined) ?? new MemoryStore();
    this.#memory = isMemoryStore(this.store) ? this.store : undefined;
    // An injected clock that throws fails the call with ERR_INVALID_CLOCK (readClock); one
    // that returns a non-number is caught where the time is read (#clock, consumeSync).
    this.#now = injected === undefined ? monotonicNow : () => readClock("RateLimiter", injected);
    this.#injectedClock = injected !== undefined;
    this.#timers = (o.timers as Timers | undefined) ?? defaultTimers;
    this.#maxQueue = maxQueue;
    this.#fastCostMax = MAX_LIMIT;
    this.#unitCost = 1;
    this.#setPolicies(this.#policies);
    this.#blockScope = this.#policies.map((p) => p.name).join(",");
    if (o.blocks !== undefined && typeof o.blocks !== "boolean") {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: RateLimiter({ blocks }) must be true or false, got ${describe(o.blocks)}.`,
      );
    }
    this.#autoBlock = o.autoBlock === undefined ? undefined : checkBlockRule(o.autoBlock);
    this.#blocking = o.blocks === true || this.#autoBlock !== undefined;
    if (this.#blocking) this.#blockStore("RateLimiter({ blocks })");
    this.#updatePlain();
  }

  /**
   * #blockScope names this limiter's blocks in the store: its default policies' names, so
   * limiters with other policies sharing a store and a key do not block each other.
   */
  readonly #blockScope: string;
  /** #autoBlock is the automatic block rule, if any. */
  readonly #autoBlock: BlockRule | undefined;
  /** #blocking is true when decisions check blocks first (blocks, autoBlock, or a block() call). */
  #blocking: boolean;
  /**
   * #plain (perf) is the MemoryStore while a call without options needs nothing but the store's
   * decision: no listener or counting binding (#observed), no blocks (#blocking), and default
   * policies that all admit a cost of 1 (#unitCost); undefined otherwise. consume and consumeSync
   * check this one field and then call the store; everything else takes the full path. Each change
   * of those (on, off, COUNTER, block, replacePolicy) calls #updatePlain.
   */
  #plain: MemoryStore | undefined;
  /**
   * #plainAsync (perf) is #plain for consume: the same, and the default clock. An injected clock can
   * throw (readClock), and consume must reject then, not throw; monotonicNow cannot, nor can a
   * MemoryStore deciding a string key with floodgate's policies, so consume's plain path needs no
   * try block (about 30 bytes of bytecode less in the caller's inlining budget).
   */
  #plainAsync: MemoryStore | undefined;

  /** #updatePlain recomputes #plain and #plainAsync (see there) after a change of listeners, bindings, blocks or policies. */
  #updatePlain(): void {
    this.#plain = !this.#observed && !this.#blocking && this.#unitCost === 1 ? this.#memory : undefined;
    this.#plainAsync = this.#injectedClock ? undefined : this.#plain;
  }

  /** #blockStore returns the store's block members, or throws naming `call` when it has none. */
  #blockStore(call: string): Required<Pick<Store, "blockedFor" | "block" | "unblock" | "refused">> {
    const s = this.store;
    if (!s.blockedFor || !s.block || !s.unblock || !s.refused) {
      throw new FloodgateTypeError(
        "ERR_STORE",
        `floodgate: ${call} needs a store that keeps blocks (MemoryStore, RedisStore); this store has no block(), blockedFor(), unblock() and refused().`,
      );
    }
    return s as Required<Pick<Store, "blockedFor" | "block" | "unblock" | "refused">>;
  }

  /** #blocked returns the Decision for a key blocked for `ms` more: every policy refuses with that wait. */
  #blocked(policies: readonly Policy[], ms: number): Decision {
    const outs: Outcome[] = policies.map(() => {
      const o = newOutcome();
      o.retryAfterMs = ms;
      o.resetAfterMs = ms;
      return o;
    });
    return { ...combineDecision(policies, outs, false), blockedMs: ms };
  }

  /** #afterDenial counts a refusal for the automatic block and returns the decision to give: blocked if it blocked. */
  #afterDenial(
    key: string,
    policies: readonly Policy[],
    d: Decision,
    nowMs: number | undefined,
  ): Decision | Promise<Decision> {
    const rule = this.#autoBlock;
    if (rule === undefined || d.allowed || d.degraded !== undefined || d.blockedMs !== undefined) return d;
    const ms = this.#blockStore("autoBlock").refused(this.#blockScope, key, rule, nowMs);
    if (typeof ms === "number") return ms > 0 ? this.#blocked(policies, ms) : d;
    return ms.then(
      (m) => (m > 0 ? this.#blocked(policies, m) : d),
      () => d,
    );
  }

  /** #guarded decides with the block checks: blocked keys are refused without a decision; refusals may block. */
  async #guarded(key: string, policies: readonly Policy[], cost: number, nowMs: number | undefined): Promise<Decision> {
    const s = this.#blockStore("consume");
    let ms = 0;
    try {
      ms = await s.blockedFor(this.#blockScope, key, nowMs);
    } catch {
      // A store that cannot say whether a key is blocked lets the rate limit decide.
    }
    if (ms > 0) return this.#blocked(policies, ms);
    const d = await this.store.consume(key, policies, cost, nowMs);
    return this.#afterDenial(key, policies, d, nowMs);
  }

  /** #guardedObserved is #guarded, with the decision reported to listeners when any listen. */
  #guardedObserved(
    key: string,
    policies: readonly Policy[],
    cost: number,
    shadow: boolean,
    nowMs: number | undefined,
  ): Promise<Decision> {
    const r = this.#guarded(key, policies, cost, nowMs);
    if (!this.#observed) return r;
    return r.then((d) => {
      this.#decided(key, "consume", cost, shadow, d, undefined, undefined);
      return d;
    });
  }

  /** #guardedSync is #guarded on the memory store, without a promise. */
  #guardedSync(memory: MemoryStore, key: string, policies: readonly Policy[], cost: number, nowMs: number): Decision {
    const ms = memory.blockedFor(this.#blockScope, key, nowMs);
    if (ms > 0) return this.#blocked(policies, ms);
    const d = memory.consumeSync(key, policies, cost, nowMs);
    return this.#afterDenial(key, policies, d, nowMs) as Decision;
  }

  /**
   * block refuses `key` for `durationMs` (whole ms; longer than any policy's window is
   * fine): every decision until then is a denial whose `retryAfterMs` (and `blockedMs`) is
   * the time left. A longer block already set is kept. From the first call on, this limiter
   * checks blocks on every decision (see the `blocks` option for other processes).
   */
  async block(key: string, durationMs: number): Promise<void> {
    checkKey("block", key);
    if (
      typeof durationMs !== "number" ||
      !Number.isInteger(durationMs) ||
      durationMs < 1 ||
      durationMs > MAX_DURATION_MS
    ) {
      throw new FloodgateRangeError(
        "ERR_INVALID_OPTION",
        `floodgate: block(key, durationMs) needs whole milliseconds from 1 to ${MAX_DURATION_MS} (10 years), got ${describe(durationMs)}; such as 900000 for 15 minutes.`,
      );
    }
    const s = this.#blockStore("block()");
    this.#blocking = true;
    this.#updatePlain();
    await s.block(this.#blockScope, key, durationMs, this.#clock());
  }

  /** unblock lifts `key`'s block and forgets its counted refusals. */
  async unblock(key: string): Promise<void> {
    checkKey("unblock", key);
    await this.#blockStore("unblock()").unblock(this.#blockScope, key);
  }

  /** blockedFor returns the whole ms left of `key`'s block, 0 when it is not blocked. */
  async blockedFor(key: string): Promise<number> {
    checkKey("blockedFor", key);
    return this.#blockStore("blockedFor()").blockedFor(this.#blockScope, key, this.#clock());
  }

  /**
   * penalty takes `cost` units (default 1) from `key` outside a request, from every
   * policy, each down to empty at most (it never goes into debt; to keep a client out
   * longer, use `block`). A whole number from 0 to the policies' limit.
   */
  async penalty(key: string, costOrOptions?: number | CallOptions): Promise<void> {
    const [policies, cost] = this.#resolve("penalty", key, costOrOptions, 1);
    const nowMs = this.#clock();
    if (this.store.penalty) {
      await this.store.penalty(key, policies, cost, nowMs);
      return;
    }
    for (const p of policies) {
      const d = await this.store.peek(key, [p], nowMs);
      const take = Math.min(cost, d.remaining);
      if (take > 0) await this.store.consume(key, [p], take, nowMs);
    }
  }

  /** reward gives `cost` units (default 1) back to `key` outside a request, never above any policy's limit (refund). */
  async reward(key: string, costOrOptions?: number | CallOptions): Promise<void> {
    const [policies, cost] = this.#resolve("reward", key, costOrOptions, 1);
    await this.store.refund(key, policies, cost, this.#clock());
  }

  /** #setPolicies installs the default policies and the fast path's cost bounds. */
  #setPolicies(policies: readonly Policy[]): void {
    let fastCostMax = MAX_LIMIT;
    for (const p of policies) if (p.limit < fastCostMax) fastCostMax = p.limit;
    this.#policies = policies;
    this.#fastCostMax = fastCostMax;
    this.#unitCost = fastCostMax >= 1 ? 1 : -1;
    this.#updatePlain();
  }

  /**
   * replacePolicy replaces the default policy named `name`, which must be live (built with
   * `live(...)`), by `policy`, and returns the new live policy. Every key keeps its state
   * and migrates on its next decision following `strategy` (default "as-is"; see
   * docs/live-limits.md); no key is scanned. Calls already made are unaffected; calls made
   * from now on use the new version. A change of algorithm needs `{ strategy: "reset" }`.
   */
  replacePolicy(name: string, policy: Policy, options: LiveOptions = {}): Policy {
    checkOptions("replacePolicy", options, ["strategy", "version"]);
    const i = this.#policies.findIndex((p) => p.name === name);
    if (i < 0) {
      throw new FloodgateTypeError(
        "ERR_INVALID_POLICY",
        `floodgate: replacePolicy(${describe(name)}) names no policy of this limiter; its policies are ${this.#policies
          .map((p) => `"${p.name}"`)
          .join(", ")}.`,
      );
    }
    const current = this.#policies[i] as Policy;
    if (!current.live) {
      throw new FloodgateTypeError(
        "ERR_INVALID_POLICY",
        `floodgate: replacePolicy("${name}") needs a live policy; build the limiter with live(${current.algorithm.factory}({ ... })) so its keys record the version that wrote them.`,
      );
    }
    const next = replaceLive(current, policy, options);
    const list = this.#policies.slice();
    list[i] = next;
    this.#setPolicies(Object.freeze(list));
    return next;
  }

  /**
   * #fastCost (perf) returns `arg` when it is a cost that needs no option parsing:
   * a whole number from 0 to every default policy's limit. Otherwise it returns -1
   * and the caller runs #resolve, which throws the same errors as always for bad
   * input. A call without a cost uses #unitCost instead, so this function is not
   * even inlined into callers that never pass one (V8's inlining budget is tight).
   */
  #fastCost(arg: unknown): number {
    return typeof arg === "number" && Number.isInteger(arg) && arg >= 0 && arg <= this.#fastCostMax ? arg : -1;
  }

  /** #clock returns the time to pass to the store: undefined when the store reads its own clock. */
  #clock(): number | undefined {
    if (this.store.ownsClock && !this.#injectedClock) return undefined;
    // Perf: a finite number skips badClock, whose error building is too big to inline.
    const nowMs = this.#now();
    return Number.isFinite(nowMs) ? nowMs : badClock("RateLimiter", nowMs);
  }

  /** #resolve validates the per-call options and returns the policies and cost. */
  #resolve(
    call: string,
    key: unknown,
    arg: number | CallOptions | undefined,
    defaultCost: number,
    known: readonly string[] = defaultCost === 0 ? CALL_OPTIONS_NO_COST : CALL_OPTIONS,
  ): [readonly Policy[], number, boolean] {
    checkKey(call, key);
    let cost = defaultCost;
    let policies = this.policies;
    let shadow = false;
    if (typeof arg === "number") {
      cost = arg;
    } else if (arg !== undefined) {
      if (arg === null || typeof arg !== "object") {
        throw new FloodgateTypeError(
          "ERR_INVALID_COST",
          `floodgate: ${call}(key, cost) needs a number or an options object, got ${describe(arg)}; pass a whole number such as 1, or { cost: 1 }.`,
        );
      }
      checkOptions(call, arg, known);
      if (arg.cost !== undefined) cost = arg.cost;
      if (arg.shadow !== undefined) {
        if (typeof arg.shadow !== "boolean") {
          throw new FloodgateTypeError(
            "ERR_INVALID_OPTION",
            `floodgate: ${call}({ shadow }) must be true or false, got ${describe(arg.shadow)}.`,
          );
        }
        shadow = arg.shadow;
      }
      if (arg.policy !== undefined) policies = checkPolicies(`${call}({ policy })`, arg.policy);
    }
    checkCost(call, cost);
    for (const p of policies) {
      if (cost > p.limit) {
        throw new FloodgateRangeError(
          "ERR_COST_EXCEEDS_LIMIT",
          `floodgate: ${call}(cost=${cost}) exceeds the limit ${p.limit} of policy "${p.name}" and could never be allowed; raise the policy's limit or lower the cost.`,
        );
      }
    }
    return [policies, cost, shadow];
  }

  /**
   * consume spends `cost` (default 1) for `key` if every policy admits it, and
   * returns the Decision. Pass a number for the cost, or `{ cost, policy }`.
   */
  consume(key: string, costOrOptions?: number | CallOptions): Promise<Decision> {
    // Perf: the plainest call (see #plain) is kept this small so V8 inlines it, the store's decision
    // and the policy's evaluate into the caller within its bytecode budget; the rest takes #consumeFull.
    // #now() is monotonicNow here (see #plainAsync): finite, and it cannot throw.
    const memory = this.#plainAsync;
    if (memory !== undefined && costOrOptions === undefined && typeof key === "string")
      return Promise.resolve(memory.consumeSync(key, this.#policies, 1, this.#now()));
    return this.#consumeFull(key, costOrOptions);
  }

  /** #consumeFull is consume for every call but the plainest (see #plain). */
  #consumeFull(key: string, costOrOptions: number | CallOptions | undefined): Promise<Decision> {
    // Perf: the common call skips #resolve (see #fastCost); the rest takes #consumeResolved.
    // Not an async function: a store's own promise (Redis) is handed back as it is
    // (Promise.resolve returns a native promise unchanged) instead of being adopted
    // by one more promise, two microtask turns per call; errors still reject.
    // Perf: listeners and blocks add one check each here; their paths live in #consumeResolved (see #observed).
    try {
      const fast = costOrOptions === undefined ? this.#unitCost : this.#fastCost(costOrOptions);
      if (fast < 0 || typeof key !== "string" || this.#blocking)
        return Promise.resolve(this.#consumeResolved(key, costOrOptions));
      if (this.#observed) return Promise.resolve(this.#consumeObserved(key, this.policies, fast, false, undefined));
      return Promise.resolve(this.store.consume(key, this.policies, fast, this.#clock()));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** #consumeResolved is consume for calls that need #resolve (options, an unusual cost, bad input), listeners or blocks. */
  #consumeResolved(key: string, costOrOptions: number | CallOptions | undefined): Promise<Decision> | Decision {
    const [policies, cost, shadow] = this.#resolve("consume", key, costOrOptions, 1, CONSUME_OPTIONS);
    if (this.#blocking) return this.#guardedObserved(key, policies, cost, shadow, this.#clock());
    if (this.#observed) return this.#consumeObserved(key, policies, cost, shadow, undefined);
    return this.store.consume(key, policies, cost, this.#clock());
  }

  /**
   * #consumeObserved is a consume with listeners or counting bindings. In process
   * (a memory store), an untimed decision seen only by counting bindings is the
   * plain call plus #count; the others take #memoryReported. Other stores are timed
   * on every call. `nowMs` is an explicit time (consumeAt), else the clock is read.
   */
  #consumeObserved(
    key: string,
    policies: readonly Policy[],
    cost: number,
    shadow: boolean,
    nowMs: number | undefined,
  ): Promise<Decision> | Decision {
    const memory = this.#memory;
    if (memory === undefined) return this.#consumeStoreObserved(key, policies, cost, shadow, nowMs);
    // Perf: kept small so V8 inlines it into consume; the rest lives in #memoryReported.
    const t = nowMs ?? this.#clock();
    const tick = this.#nextTick();
    if ((tick & this.#timeMask) === 0 || !this.#countOnly)
      return this.#memoryReported(memory, key, policies, cost, shadow, t as number, tick);
    const d = memory.consumeSync(key, policies, cost, t as number);
    this.#count(cost, shadow, d);
    return d;
  }

  /** #consumeStoreObserved is #consumeObserved with a store other than a MemoryStore: every call timed. */
  #consumeStoreObserved(
    key: string,
    policies: readonly Policy[],
    cost: number,
    shadow: boolean,
    nowMs: number | undefined,
  ): Promise<Decision> | Decision {
    const t = nowMs ?? this.#clock();
    const startMs = monotonicNow();
    const r = this.store.consume(key, policies, cost, t);
    if (isThenable(r)) {
      return r.then((d) => {
        const ms = monotonicNow() - startMs;
        this.#decided(key, "consume", cost, shadow, d, ms, ms);
        return d;
      });
    }
    const ms = monotonicNow() - startMs;
    this.#decided(key, "consume", cost, shadow, r, ms, ms);
    return r;
  }

  /** #nextTick counts an observed in-process decision and returns the count (see #timeMask). */
  #nextTick(): number {
    const tick = (this.#tick + 1) | 0;
    this.#tick = tick;
    return tick;
  }

  /** #consumeSyncReported is consumeSync's common call (a memory store, the default policies) for #memoryReported. */
  #consumeSyncReported(memory: MemoryStore, key: string, cost: number, tick: number): Decision {
    const nowMs = this.#now();
    const t = Number.isFinite(nowMs) ? nowMs : badClock("RateLimiter", nowMs);
    return this.#memoryReported(memory, key, this.policies, cost, false, t, tick);
  }

  /**
   * #memoryReported decides on the memory store a call that listeners see or that
   * is timed (`tick` has no bit of #timeMask set), and reports it.
   */
  #memoryReported(
    memory: MemoryStore,
    key: string,
    policies: readonly Policy[],
    cost: number,
    shadow: boolean,
    nowMs: number,
    tick: number,
  ): Decision {
    if ((tick & this.#timeMask) !== 0) {
      const d = memory.consumeSync(key, policies, cost, nowMs);
      this.#decided(key, "consume", cost, shadow, d, undefined, undefined);
      return d;
    }
    const t0 = monotonicNow();
    const d = memory.consumeSync(key, policies, cost, nowMs);
    const ms = monotonicNow() - t0;
    this.#decided(key, "consume", cost, shadow, d, ms, (tick & (STORE_SINK_SAMPLE - 1)) === 0 ? ms : undefined);
    return d;
  }

  /**
   * #decided reports a decision given to a caller to the counting bindings and the
   * listeners: `durationMs` is the store's time for the listeners, `sinkMs` for the
   * bindings' duration sinks (each undefined when not timed for them).
   */
  #decided(
    key: string,
    op: DecisionEvent["op"],
    cost: number,
    shadow: boolean,
    d: Decision,
    durationMs: number | undefined,
    sinkMs: number | undefined,
    outcome?: DecisionEvent["outcome"],
  ): void {
    if (this.#counting) {
      // consumeAll: an item its own policies admit is refused when another item is (outcome "denied").
      this.#count(cost, shadow, outcome === "denied" && d.allowed ? { ...d, allowed: false } : d);
      if (sinkMs !== undefined && this.#durationSinks !== undefined) this.#tellDuration(sinkMs);
    }
    if (!d.allowed && this.#heavyK > 0) this.#refused(key, d);
    const l = this.#listeners;
    const list = l.decision;
    const near = l.nearLimit;
    if (list === undefined && near === undefined) return;
    const nearLimit = d.allowed && outcome === undefined && d.remaining <= d.limit * this.#nearShare;
    if (list !== undefined) {
      const e: DecisionEvent = {
        key,
        op,
        outcome: outcome ?? (d.allowed ? "allowed" : shadow ? "shadow" : "denied"),
        policy: d.policy,
        cost,
        remaining: d.remaining,
        limit: d.limit,
        nearLimit,
        degraded: d.degraded,
        durationMs,
        decision: d,
      };
      for (let i = 0; i < list.length; i++) {
        try {
          const r = (list[i] as RateLimiterListener<"decision">)(e);
          if (r !== undefined) l.settle("decision", r);
        } catch (err) {
          l.failed("decision", err);
        }
      }
    }
    if (nearLimit && near !== undefined) {
      l.emit("nearLimit", near, { key, policy: d.policy, remaining: d.remaining, limit: d.limit });
    }
  }

  /**
   * #count adds a decision to the counts of its deciding policy (the counting
   * bindings' fast channel, see COUNTER): a few additions, no object built, kept
   * small so V8 inlines it and the Decision need not even be allocated when the
   * caller only reads it. A refusal is told to the refusal sinks, if any.
   */
  #count(cost: number, shadow: boolean, d: Decision): void {
    const name = d.policy;
    let c = this.#countLast;
    if (c === undefined || name !== this.#countName) c = this.#countsOf(name);
    if (d.allowed) {
      c.allowed++;
      c.costAdmitted += cost;
      if (d.remaining <= d.limit * this.#nearShare) c.nearLimit++;
      return;
    }
    if (shadow) c.shadow++;
    else {
      c.denied++;
      c.costRefused += cost;
    }
    if (this.#refusedSinks !== undefined) this.#tellRefused(name, d.retryAfterMs, shadow);
  }

  /** #tellRefused calls the refusal sinks of the counting bindings (a throwing one is ignored, warned once). */
  #tellRefused(policy: string, retryAfterMs: number, shadow: boolean): void {
    const sinks = this.#refusedSinks ?? [];
    for (let i = 0; i < sinks.length; i++) {
      try {
        (sinks[i] as (policy: string, retryAfterMs: number, shadow: boolean) => void)(policy, retryAfterMs, shadow);
      } catch (err) {
        this.#listeners.failed("decision", err);
      }
    }
  }

  /** #tellDuration calls the duration sinks of the counting bindings with a timed store call, in ms. */
  #tellDuration(ms: number): void {
    const sinks = this.#durationSinks ?? [];
    for (let i = 0; i < sinks.length; i++) {
      try {
        (sinks[i] as (seconds: number) => void)(ms / 1000);
      } catch (err) {
        this.#listeners.failed("decision", err);
      }
    }
  }

  /** #countsOf returns the counts of a policy name, created on first use (OTHER_POLICY past MAX_COUNTED_POLICIES). */
  #countsOf(name: string): DecisionCounts {
    const counts = this.#counts as Map<string, DecisionCounts>;
    let c = counts.get(name);
    if (c === undefined) {
      if (counts.size >= MAX_COUNTED_POLICIES && name !== OTHER_POLICY) return this.#countsOf(OTHER_POLICY);
      c = newCounts();
      counts.set(name, c);
    }
    this.#countName = name;
    this.#countLast = c;
    return c;
  }

  /**
   * [COUNTER] attaches a counting binding (floodgate/prometheus, floodgate/otel): from
   * now on the limiter counts every decision into plain numbers per policy name,
   * which the binding reads with `counts()` when scraped, and calls `sinks` for
   * refusals and timed store calls. `release()` detaches it; the counts stay.
   */
  [COUNTER](sinks: CounterSinks = {}): Counter {
    this.#counts ??= new Map();
    const entry: CounterSinks = { ...sinks };
    this.#sinks = [...this.#sinks, entry];
    this.#listenersChanged();
    let released = false;
    return {
      counts: () => this.#counts as Map<string, DecisionCounts>,
      release: () => {
        if (released) return;
        released = true;
        this.#sinks = this.#sinks.filter((x) => x !== entry);
        this.#listenersChanged();
      },
    };
  }

  /** #refused counts a refused key in the summary of each policy that refused it. */
  #refused(key: string, d: Decision): void {
    for (const pd of d.policies) {
      if (pd.allowed) continue;
      const name = pd.policy.name;
      let s = this.#heavy.get(name);
      if (s === undefined) {
        if (this.#heavy.size >= MAX_HEAVY_POLICIES) continue;
        s = new SpaceSaving(this.#heavyK);
        this.#heavy.set(name, s);
      }
      s.add(key);
    }
  }

  /**
   * heavyHitters returns, per policy (or for the one named), the keys refused
   * most, from the `heavyHitters` option's fixed-memory summaries: plain data,
   * ready for `JSON.stringify` in an admin endpoint you choose to expose. Empty
   * when the option is off. Refusals count denials and shadow-mode would-be
   * refusals alike.
   */
  heavyHitters(policy?: string): HeavyHitters[] {
    const out: HeavyHitters[] = [];
    for (const [name, s] of this.#heavy) {
      if (policy !== undefined && name !== policy) continue;
      out.push({ policy: name, k: s.capacity, refused: s.total, keys: s.top(s.capacity) });
    }
    return out;
  }

  /**
   * on adds a listener for an event and returns a function that removes it.
   *
   * - `decision`: every answer given to a caller (consume and its variants, the
   *   HTTP layer, the client, an admitted acquire), with its outcome (allowed,
   *   denied, or shadow: a would-be refusal), policy, cost, remaining, degraded
   *   and, when timed, the store's duration.
   * - `nearLimit`: an allowed call left remaining at or below the `nearLimit` share.
   * - `wait`: acquire's waits (queued, admitted, aborted, timedOut, queueFull, failed).
   * - `store`: the store's health (degraded, recovered, error, probe) and a
   *   MemoryStore's overflow at maxKeys.
   *
   * Listeners run synchronously, in the order added. One that throws or rejects
   * is ignored (warned once, FG_LISTENER_THREW): it never reaches the caller. With
   * no decision or nearLimit listener, a decision costs one boolean check more.
   */
  on<E extends keyof RateLimiterEvents>(event: E, listener: RateLimiterListener<E>): () => void {
    if (!EVENTS.includes(event)) {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: RateLimiter.on(${describe(event)}) is not an event; use one of ${EVENTS.map((e) => `"${e}"`).join(", ")}.`,
      );
    }
    if (typeof listener !== "function") {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: RateLimiter.on("${event}", listener) needs a function, got ${describe(listener)}.`,
      );
    }
    this.#listeners.add(event, listener);
    this.#listenersChanged();
    return () => this.off(event, listener);
  }

  /** off removes a listener added with on (nothing happens for one never added). */
  off<E extends keyof RateLimiterEvents>(event: E, listener: RateLimiterListener<E>): void {
    if (!EVENTS.includes(event)) return;
    this.#listeners.remove(event, listener);
    this.#listenersChanged();
  }

  /** #listenersChanged updates the hot paths' flag and the subscription to the store's events. */
  #listenersChanged(): void {
    const l = this.#listeners;
    const sinks = this.#sinks;
    this.#counting = sinks.length > 0;
    const durations = sinks.flatMap((x) => (x.storeDuration ? [x.storeDuration.bind(x)] : []));
    const refused = sinks.flatMap((x) => (x.refused ? [x.refused.bind(x)] : []));
    this.#durationSinks = durations.length > 0 ? durations : undefined;
    this.#refusedSinks = refused.length > 0 ? refused : undefined;
    this.#observed = l.decision !== undefined || l.nearLimit !== undefined || this.#heavyK > 0 || this.#counting;
    this.#updatePlain();
    this.#countOnly = this.#counting && l.decision === undefined && l.nearLimit === undefined && this.#heavyK === 0;
    this.#timeMask =
      l.decision !== undefined
        ? STORE_TIMING_SAMPLE - 1
        : this.#durationSinks !== undefined
          ? STORE_SINK_SAMPLE - 1
          : -1;
    if (l.store !== undefined && this.#storeOff === undefined && typeof this.store.observe === "function") {
      this.#storeOff = this.store.observe((e) => {
        const list = this.#listeners.store;
        if (list !== undefined) this.#listeners.emit("store", list, e);
      });
    } else if (l.store === undefined && this.#storeOff !== undefined) {
      this.#storeOff();
      this.#storeOff = undefined;
    }
  }

  /**
   * keysTracked reports how many keys the store holds state for, per policy (and
   * how many calls went to a MemoryStore's shared overflow state); undefined for a
   * store that cannot tell (Redis).
   */
  keysTracked(): KeysTracked[] | undefined {
    return typeof this.store.keysTracked === "function" ? this.store.keysTracked() : undefined;
  }

  /** waiting reports how many acquire calls wait for `key` (or for every key). */
  waiting(key?: string): number {
    return this.#waiters?.waiting(key) ?? 0;
  }

  /**
   * consumeAt is consume at an explicit time in milliseconds, for simulations and
   * replays. With a store that owns its clock, the time is passed to it as well.
   */
  async consumeAt(key: string, nowMs: number, costOrOptions?: number | CallOptions): Promise<Decision> {
    const [policies, cost, shadow] = this.#resolve("consumeAt", key, costOrOptions, 1, CONSUME_OPTIONS);
    const t = checkNow("consumeAt", nowMs);
    if (this.#blocking) return this.#guardedObserved(key, policies, cost, shadow, t);
    if (this.#observed) return this.#consumeObserved(key, policies, cost, shadow, t);
    return this.store.consume(key, policies, cost, t);
  }

  /**
   * consumeSync is consume without a promise, for callers that cannot afford one
   * per decision. It works with a MemoryStore only and throws a TypeError otherwise.
   */
  consumeSync(key: string, costOrOptions?: number | CallOptions): Decision {
    // Perf: the plainest call (see #plain) is kept this small so V8 inlines it, the store's decision
    // and the policy's evaluate into the caller within its bytecode budget; the rest takes #consumeSyncFull.
    const memory = this.#plain;
    // #now() is finite: monotonicNow is, and an injected clock passes readClock, which throws badClock's error.
    if (memory !== undefined && costOrOptions === undefined && typeof key === "string")
      return memory.consumeSync(key, this.#policies, 1, this.#now());
    return this.#consumeSyncFull(key, costOrOptions);
  }

  /** #consumeSyncFull is consumeSync for every call but the plainest (see #plain). */
  #consumeSyncFull(key: string, costOrOptions: number | CallOptions | undefined): Decision {
    // Perf: the common call skips #resolve (see #fastCost) and checkNow; the rest takes #consumeSyncResolved.
    const memory = this.#memory;
    const fast = costOrOptions === undefined ? this.#unitCost : this.#fastCost(costOrOptions);
    // Perf: listeners and blocks add one check each here; their paths live beside this one (see #observed).
    // The observed path is a method of its own (#consumeSyncCounted) so this one stays small: V8 inlines
    // within a cumulative bytecode budget, which this function, the store's and the policy's evaluate share.
    if (fast >= 0 && typeof key === "string" && memory !== undefined && !this.#blocking) {
      if (this.#observed) return this.#consumeSyncCounted(memory, key, fast);
      const nowMs = this.#now();
      return memory.consumeSync(
        key,
        this.policies,
        fast,
        Number.isFinite(nowMs) ? nowMs : badClock("RateLimiter", nowMs),
      );
    }
    return this.#consumeSyncResolved(key, costOrOptions);
  }

  /**
   * #consumeSyncCounted is consumeSync's common call while observed. With only counting bindings,
   * an untimed decision stays on this path and #count (inlined) reads its fields; listeners and
   * timed decisions take #consumeSyncReported.
   */
  #consumeSyncCounted(memory: MemoryStore, key: string, fast: number): Decision {
    const tick = this.#nextTick();
    if ((tick & this.#timeMask) === 0 || !this.#countOnly) return this.#consumeSyncReported(memory, key, fast, tick);
    const nowMs = this.#now();
    const d = memory.consumeSync(
      key,
      this.policies,
      fast,
      Number.isFinite(nowMs) ? nowMs : badClock("RateLimiter", nowMs),
    );
    this.#count(fast, false, d);
    return d;
  }

  /** #consumeSyncResolved is consumeSync for calls that need #resolve (options, an unusual cost, bad input) or listeners. */
  #consumeSyncResolved(key: string, costOrOptions: number | CallOptions | undefined): Decision {
    const memory = this.#memory;
    if (memory === undefined) {
      throw new FloodgateTypeError(
        "ERR_STORE",
        "floodgate: consumeSync() needs a MemoryStore; with another store, use await consume().",
      );
    }
    const [policies, cost, shadow] = this.#resolve("consumeSync", key, costOrOptions, 1, CONSUME_OPTIONS);
    if (this.#blocking) {
      const nowMs = this.#now();
      const d = this.#guardedSync(
        memory,
        key,
        policies,
        cost,
        Number.isFinite(nowMs) ? nowMs : badClock("RateLimiter", nowMs),
      );
      if (this.#observed) this.#decided(key, "consume", cost, shadow, d, undefined, undefined);
      return d;
    }
    if (this.#observed) return this.#consumeObserved(key, policies, cost, shadow, undefined) as Decision;
    const nowMs = this.#now();
    return memory.consumeSync(key, policies, cost, Number.isFinite(nowMs) ? nowMs : badClock("RateLimiter", nowMs));
  }

  /**
   * consumeAll spends each item's cost for its own key, all-or-nothing: when an item
   * (not in `shadow` mode) is denied, nothing is taken from any item. The answer gives
   * `allowed` and each item's own verdict (see AllDecision). A request that matches
   * several limits keyed apart (a per-user and a per-route limit) decides with it.
   *
   * It is one atomic step with a MemoryStore (one synchronous section) and with a
   * RedisStore (one script call) on standalone Redis, or on a Cluster when every key
   * lies in one slot (each user key is its own hash tag, so in practice: items of one
   * key). Otherwise (keys in several Cluster slots, a store without `consumeAll`) it
   * takes, then refunds what it took when an item is denied: no limit ever admits more
   * than its limit, but a concurrent call may, for that round trip, see less than it would.
   * With blocks, every key's block is read first: a blocked item (not shadow) refuses the
   * request and nothing is taken (the others are decided as a dry run); with a MemoryStore
   * the reads and the step are one synchronous section, with Redis the reads come one
   * round trip before the script, as for consume.
   * An item of cost 0 is a check: it takes nothing, and refuses (the others too) when its
   * limit has nothing left (`remaining` 0). With `{ dryRun: true }` every item is decided
   * and reported but nothing is taken (`allowed` is false): a caller that refuses the
   * request for another reason still learns each item's own verdict. Listeners see one
   * decision per item; an item admitted by its own limits but refused with the others is
   * reported as denied.
   *
   * @example
   * const all = await limiter.consumeAll([
   *   { key: "user:42", policy: perUser },
   *   { key: "route:/export", policy: perRoute, cost: 5 },
   * ]);
   * if (!all.allowed) reply429(all.items.find((d) => !d.allowed));
   */
  consumeAll(items: readonly AllItem[], options: { dryRun?: boolean } = {}): Promise<AllDecision> {
    try {
      checkOptions("consumeAll(items, options)", options, ["dryRun"]);
      const dryRun = options.dryRun ?? false;
      if (typeof dryRun !== "boolean") {
        throw new FloodgateTypeError(
          "ERR_INVALID_OPTION",
          `floodgate: consumeAll(items, { dryRun }) must be true or false, got ${describe(dryRun)}.`,
        );
      }
      if (!Array.isArray(items) || items.length === 0) {
        throw new FloodgateTypeError(
          "ERR_INVALID_OPTION",
          `floodgate: consumeAll(items) needs a non-empty array of { key, cost?, policy?, shadow? }, got ${describe(items)}.`,
        );
      }
      const calls: AllCall[] = items.map((item, i) => {
        if (item === null || typeof item !== "object") {
          throw new FloodgateTypeError(
            "ERR_INVALID_OPTION",
            `floodgate: consumeAll(items[${i}]) must be an object { key, cost?, policy?, shadow? }, got ${describe(item)}.`,
          );
        }
        checkOptions(`consumeAll(items[${i}])`, item, ALL_ITEM_OPTIONS);
        const { key, ...options } = item;
        const [policies, cost, shadow] = this.#resolve(`consumeAll(items[${i}])`, key, options, 1, CONSUME_OPTIONS);
        return { key, policies, cost, shadow };
      });
      const nowMs = this.#clock();
      const atomic = this.#blocking
        ? this.#allGuarded(calls, nowMs, dryRun)
        : this.store.consumeAll?.(calls, nowMs, dryRun);
      if (atomic !== undefined) {
        // With blocks, a store may still find no atomic step for these keys once the blocks are read.
        return Promise.resolve(atomic).then((r) =>
          r !== undefined
            ? this.#allReported(calls, r)
            : this.#allTakeRefund(calls, nowMs, dryRun).then((x) => this.#allReported(calls, x)),
        );
      }
      return this.#allTakeRefund(calls, nowMs, dryRun).then((r) => this.#allReported(calls, r));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * #allGuarded is consumeAll on a limiter with blocks, kept atomic: every key's block is read first; a blocked
   * item (not shadow) refuses the request, whose items are then decided as a dry run (each its own verdict,
   * nothing taken) and the blocked ones answered as blocked; else the store's one atomic step decides. Then each
   * item refused by its own limits counts for autoBlock, as consume counts it. With a MemoryStore the block reads
   * and the step are one synchronous section; with Redis the reads are one round trip before the script, as
   * consume's are: a block set in between applies from the next call. undefined when the store has no atomic
   * step for these keys (see Store.consumeAll): the caller then takes and refunds.
   */
  #allGuarded(
    calls: readonly AllCall[],
    nowMs: number | undefined,
    dryRun: boolean,
  ): AllDecision | Promise<AllDecision | undefined> | undefined {
    if (this.store.consumeAll === undefined) return undefined;
    const s = this.#blockStore("consumeAll");
    const reads = calls.map((c) => {
      try {
        return s.blockedFor(this.#blockScope, c.key, nowMs);
      } catch {
        return 0; // A store that cannot say whether a key is blocked lets the rate limit decide (as #guarded).
      }
    });
    if (reads.every((x) => typeof x === "number")) return this.#allUnblocked(calls, reads as number[], nowMs, dryRun);
    return Promise.all(reads.map((x) => Promise.resolve(x).catch(() => 0))).then((ms) =>
      this.#allUnblocked(calls, ms, nowMs, dryRun),
    );
  }

  /** #allUnblocked is #allGuarded once the blocks are read (`blockedMs[i]` for item i, 0: none). */
  #allUnblocked(
    calls: readonly AllCall[],
    blockedMs: readonly number[],
    nowMs: number | undefined,
    dryRun: boolean,
  ): AllDecision | Promise<AllDecision | undefined> | undefined {
    let refusedByBlock = false;
    for (let i = 0; i < calls.length; i++)
      if ((blockedMs[i] as number) > 0 && !(calls[i] as AllCall).shadow) refusedByBlock = true;
    const r = (this.store.consumeAll as NonNullable<Store["consumeAll"]>).call(
      this.store,
      calls,
      nowMs,
      dryRun || refusedByBlock,
    );
    if (r === undefined) return undefined;
    const finish = (all: AllDecision): AllDecision | Promise<AllDecision> => {
      const items = all.items.map((d, i) => {
        const c = calls[i] as AllCall;
        const ms = blockedMs[i] as number;
        return ms > 0 ? this.#blocked(c.policies, ms) : this.#afterDenial(c.key, c.policies, d, nowMs);
      });
      const allowed = all.allowed && !refusedByBlock;
      if (items.every((d) => !(d instanceof Promise))) return { allowed, items: items as Decision[] };
      return Promise.all(items).then((ds) => ({ allowed, items: ds }));
    };
    return typeof (r as PromiseLike<AllDecision>).then === "function"
      ? Promise.resolve(r).then(finish)
      : finish(r as AllDecision);
  }

  /** #allTakeRefund is consumeAll where no atomic step exists: take, then refund on a denial (not atomic). */
  async #allTakeRefund(calls: readonly AllCall[], nowMs: number | undefined, dryRun: boolean): Promise<AllDecision> {
    const items = await Promise.all(
      calls.map(async (c) =>
        checkVerdict(
          c.cost,
          c.policies,
          this.#blocking
            ? await this.#guarded(c.key, c.policies, c.cost, nowMs)
            : await this.store.consume(c.key, c.policies, c.cost, nowMs),
        ),
      ),
    );
    const allowed = !dryRun && items.every((d, i) => d.allowed || (calls[i] as AllCall).shadow);
    if (!allowed) {
      await Promise.all(
        calls.map(async (c, i) => {
          const d = items[i] as Decision;
          // A decision of the failure policy took nothing from the store.
          if (!d.allowed || c.cost === 0 || d.degraded === "fail-open" || d.degraded === "fail-closed") return;
          await this.store.refund(c.key, c.policies, c.cost, nowMs);
          items[i] = await this.store.peek(c.key, c.policies, nowMs);
        }),
      );
    }
    return { allowed, items };
  }

  /** #allReported tells the listeners of each item of a consumeAll and returns its answer. */
  #allReported(calls: readonly AllCall[], r: AllDecision): AllDecision {
    if (!this.#observed) return r;
    for (let i = 0; i < calls.length; i++) {
      const c = calls[i] as AllCall;
      const d = r.items[i] as Decision;
      this.#decided(
        c.key,
        "consume",
        c.cost,
        c.shadow,
        d,
        undefined,
        undefined,
        d.allowed && !r.allowed ? "denied" : undefined,
      );
    }
    return r;
  }

  /** peek reports the key's standing without spending anything or creating state. */
  async peek(key: string, options?: Omit<CallOptions, "cost">): Promise<Decision> {
    const [policies] = this.#resolve("peek", key, options, 0);
    return this.store.peek(key, policies, this.#clock());
  }

  /** peekAt is peek at an explicit time in milliseconds. */
  async peekAt(key: string, nowMs: number, options?: Omit<CallOptions, "cost">): Promise<Decision> {
    const [policies] = this.#resolve("peekAt", key, options, 0);
    return this.store.peek(key, policies, checkNow("peekAt", nowMs));
  }

  /** refund gives `cost` back to `key`, never above any policy's limit (for work that did not happen). */
  async refund(key: string, costOrOptions?: number | CallOptions): Promise<void> {
    const [policies, cost] = this.#resolve("refund", key, costOrOptions, 1);
    await this.store.refund(key, policies, cost, this.#clock());
  }

  /** refundAt is refund at an explicit time in milliseconds. */
  async refundAt(key: string, nowMs: number, costOrOptions?: number | CallOptions): Promise<void> {
    const [policies, cost] = this.#resolve("refundAt", key, costOrOptions, 1);
    await this.store.refund(key, policies, cost, checkNow("refundAt", nowMs));
  }

  /** reset forgets `key`'s state: its next call sees a fresh, full policy. */
  async reset(key: string, options?: Omit<CallOptions, "cost">): Promise<void> {
    const [policies] = this.#resolve("reset", key, options, 0);
    await this.store.reset(key, policies);
  }

  /**
   * acquire waits until `cost` can be spent for `key`, spends it and resolves
   * with the Decision. Waiters for one key are served first come, first served:
   * a heavy call is not starved by lighter ones behind it. It rejects with
   * ERR_ABORTED when `signal` aborts (taking nothing), ERR_WAIT_TOO_LONG when the
   * wait would pass `maxWaitMs`, and ERR_QUEUE_FULL when `maxQueue` calls already
   * wait for this key. A waiter behind others is turned away as soon as the
   * head's wait already passes its `maxWaitMs`. It keeps at most one timer per
   * waiting key and none once the queue is empty; a wait longer than
   * setTimeout's limit (2^31-1 ms, about 24.8 days) is chained, one timer per
   * 2^31-1 ms, and the store is asked again only when it ends.
   */
  acquire(key: string, options: AcquireOptions = {}): Promise<Decision> {
    try {
      checkOptions("acquire", options, ACQUIRE_OPTIONS);
      const [policies, cost] = this.#resolve(
        "acquire",
        key,
        { cost: options.cost, policy: options.policy } as CallOptions,
        1,
      );
      const { signal, maxWaitMs } = options;
      if (maxWaitMs !== undefined && (typeof maxWaitMs !== "number" || Number.isNaN(maxWaitMs) || maxWaitMs < 0)) {
        throw new FloodgateRangeError(
          "ERR_INVALID_OPTION",
          `floodgate: acquire({ maxWaitMs }) must be a number of milliseconds >= 0, got ${describe(maxWaitMs)}.`,
        );
      }
      this.#waiters ??= this.#waitQueue();
      return this.#waiters.wait(key, { policies, cost }, { signal, maxWaitMs });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * #waitQueue builds acquire's queue: its head is admitted by a plain consume;
   * a denial waits its `retryAfterMs`, and a call aborted while the store
   * answered gets its cost refunded.
   */
  /** [WAITER] returns the limiter's face for a wait queue built elsewhere (see WAITER). */
  [WAITER](): Waiter {
    return {
      consume: async (key, cost) => {
        // Perf: the common cost skips #resolve, as consume does (see #fastCost).
        const fast = this.#fastCost(cost);
        if (fast >= 0 && typeof key === "string") return this.store.consume(key, this.policies, fast, this.#clock());
        const [policies, c] = this.#resolve("consume", key, cost, 1);
        return this.store.consume(key, policies, c, this.#clock());
      },
      granted: (key, cost, d) => {
        if (this.#observed) this.#decided(key, "acquire", cost, false, d, undefined, undefined);
      },
      observe: this.#observeWait,
    };
  }

  /** #observeWait reports a step of a wait to the `wait` listeners (WaitQueueOptions.observe). */
  readonly #observeWait = (key: string, phase: WaitEvent["phase"], queuedAtMs: number): void => {
    const list = this.#listeners.wait;
    if (list === undefined) return;
    let waitedMs = 0;
    if (phase !== "queued" && Number.isFinite(queuedAtMs)) {
      try {
        waitedMs = Math.max(0, this.#now() - queuedAtMs);
      } catch {
        // A broken clock already rejects the waiters; the event says 0.
      }
    }
    this.#listeners.emit("wait", list, { key, phase, waitedMs });
  };

  #waitQueue(): WaitQueue<AcquireJob, Decision, Decision> {
    return new WaitQueue<AcquireJob, Decision, Decision>({
      now: this.#now,
      timers: this.#timers,
      maxQueue: this.#maxQueue,
      call: "acquire()",
      maxQueueOption: "RateLimiter({ maxQueue })",
      admit: async (key, job) => {
        const d = this.#blocking
          ? await this.#guarded(key, job.policies, job.cost, this.#clock())
          : await this.store.consume(key, job.policies, job.cost, this.#clock());
        return d.allowed ? { go: true, value: d } : { go: false, waitMs: d.retryAfterMs };
      },
      grant: (key, job, d) => {
        if (this.#observed) this.#decided(key, "acquire", job.cost, false, d, undefined, undefined);
        return d;
      },
      observe: this.#observeWait,
      undo: (key, job, d) => {
        if (d.allowed && job.cost > 0) return this.store.refund(key, job.policies, job.cost, this.#clock());
      },
    });
  }
}

function isThenable<T>(x: unknown): x is PromiseLike<T> {
  return typeof x === "object" && x !== null && typeof (x as PromiseLike<T>).then === "function";
}

function isStore(x: unknown): x is Store {
  const s = x as Store;
  return (
    typeof x === "object" &&
    x !== null &&
    typeof s.consume === "function" &&
    typeof s.peek === "function" &&
    typeof s.refund === "function" &&
    typeof s.reset === "function"
  );
}

export { checkPolicies };

/** checkBlockRule validates RateLimiter({ autoBlock }). */
function checkBlockRule(value: unknown): BlockRule {
  const o = checkOptions("RateLimiter({ autoBlock })", value, ["refusals", "withinMs", "blockMs"]);
  const whole = (name: string, v: unknown, max: number, example: string): number => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > max) {
      throw new FloodgateRangeError(
        "ERR_INVALID_OPTION",
        `floodgate: RateLimiter({ autoBlock: { ${name} } }) must be a whole number from 1 to ${max}, got ${describe(v)}; such as ${example}.`,
      );
    }
    return v;
  };
  return Object.freeze({
    refusals: whole("refusals", o.refusals, MAX_LIMIT, "5"),
    withinMs: whole("withinMs", o.withinMs, MAX_DURATION_MS, "60000"),
    blockMs: whole("blockMs", o.blockMs, MAX_DURATION_MS, "900000 (15 minutes)"),
  });
}
