// limiter.ts: RateLimiter, the public entry point: consume, peek, refund, reset, acquire.

import { badClock, checkClockOption, defaultTimers, monotonicNow, readClock, type Timers } from "./core/clock.js";
import { describe, FloodgateRangeError, FloodgateTypeError } from "./core/errors.js";
import type { Decision, Policy } from "./core/policy.js";
import { checkPolicies } from "./core/registry.js";
import { checkCost, checkKey, checkNow, checkOptions, MAX_LIMIT } from "./core/validate.js";
import { WaitQueue } from "./queue.js";
import { isMemoryStore, MemoryStore } from "./stores/memory.js";
import type { Store } from "./stores/store.js";

export type { Timers };

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
}

/** CallOptions are the per-call options of consume, peek, refund and reset. */
export interface CallOptions {
  /** cost is what this call spends: a whole number from 0 to the policy's limit. Default 1. */
  cost?: number;
  /** policy replaces the limiter's policy for this call (tiers, dynamic limits). */
  policy?: Policy | readonly Policy[];
}

/** AcquireOptions configures a waiting `acquire`. */
export interface AcquireOptions extends CallOptions {
  /** signal aborts the wait: the call leaves the queue, takes nothing and rejects with ERR_ABORTED. */
  signal?: AbortSignal;
  /** maxWaitMs rejects with ERR_WAIT_TOO_LONG rather than wait longer than this. Default: no bound. */
  maxWaitMs?: number;
}

const CALL_OPTIONS = ["cost", "policy"] as const;
const CALL_OPTIONS_NO_COST = ["policy"] as const;
const ACQUIRE_OPTIONS = ["cost", "policy", "signal", "maxWaitMs"] as const;

/** AcquireJob is what one pending acquire asks for. */
interface AcquireJob {
  readonly policies: readonly Policy[];
  readonly cost: number;
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
  readonly policies: readonly Policy[];
  readonly store: Store;
  readonly #now: () => number;
  readonly #injectedClock: boolean;
  readonly #timers: Timers;
  readonly #maxQueue: number;
  /** #waiters is the wait queue of `acquire`, built on its first call. */
  #waiters: WaitQueue<AcquireJob, Decision, Decision> | undefined;
  readonly #memory: MemoryStore | undefined;
  /** #fastCostMax (perf) is the largest cost valid for every default policy; see #fastCost. */
  readonly #fastCostMax: number;
  /** #unitCost (perf) is 1 when every default policy admits a cost of 1 (the default), else -1; see #fastCost. */
  readonly #unitCost: number;

  constructor(options: RateLimiterOptions) {
    const o = checkOptions("RateLimiter", options, ["policy", "store", "now", "timers", "maxQueue"]);
    this.policies = checkPolicies("RateLimiter({ policy })", o.policy);
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
    this.store = (o.store as Store | undefined) ?? new MemoryStore();
    this.#memory = isMemoryStore(this.store) ? this.store : undefined;
    // An injected clock that throws fails the call with ERR_INVALID_CLOCK (readClock); one
    // that returns a non-number is caught where the time is read (#clock, consumeSync).
    this.#now = injected === undefined ? monotonicNow : () => readClock("RateLimiter", injected);
    this.#injectedClock = injected !== undefined;
    this.#timers = (o.timers as Timers | undefined) ?? defaultTimers;
    this.#maxQueue = maxQueue;
    let fastCostMax = MAX_LIMIT;
    for (const p of this.policies) if (p.limit < fastCostMax) fastCostMax = p.limit;
    this.#fastCostMax = fastCostMax;
    this.#unitCost = fastCostMax >= 1 ? 1 : -1;
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
  ): [readonly Policy[], number] {
    checkKey(call, key);
    let cost = defaultCost;
    let policies = this.policies;
    if (typeof arg === "number") {
      cost = arg;
    } else if (arg !== undefined) {
      if (arg === null || typeof arg !== "object") {
        throw new FloodgateTypeError(
          "ERR_INVALID_COST",
          `floodgate: ${call}(key, cost) needs a number or an options object, got ${describe(arg)}; pass a whole number such as 1, or { cost: 1 }.`,
        );
      }
      checkOptions(call, arg, defaultCost === 0 ? CALL_OPTIONS_NO_COST : CALL_OPTIONS);
      if (arg.cost !== undefined) cost = arg.cost;
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
    return [policies, cost];
  }

  /**
   * consume spends `cost` (default 1) for `key` if every policy admits it, and
   * returns the Decision. Pass a number for the cost, or `{ cost, policy }`.
   */
  consume(key: string, costOrOptions?: number | CallOptions): Promise<Decision> {
    // Perf: the common call skips #resolve (see #fastCost); the rest takes #consumeResolved.
    // Not an async function: a store's own promise (Redis) is handed back as it is
    // (Promise.resolve returns a native promise unchanged) instead of being adopted
    // by one more promise, two microtask turns per call; errors still reject.
    try {
      const fast = costOrOptions === undefined ? this.#unitCost : this.#fastCost(costOrOptions);
      if (fast < 0 || typeof key !== "string") return Promise.resolve(this.#consumeResolved(key, costOrOptions));
      return Promise.resolve(this.store.consume(key, this.policies, fast, this.#clock()));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** #consumeResolved is consume for calls that need #resolve (options, an unusual cost, bad input). */
  #consumeResolved(key: string, costOrOptions: number | CallOptions | undefined): Promise<Decision> | Decision {
    const [policies, cost] = this.#resolve("consume", key, costOrOptions, 1);
    return this.store.consume(key, policies, cost, this.#clock());
  }

  /**
   * consumeAt is consume at an explicit time in milliseconds, for simulations and
   * replays. With a store that owns its clock, the time is passed to it as well.
   */
  async consumeAt(key: string, nowMs: number, costOrOptions?: number | CallOptions): Promise<Decision> {
    const [policies, cost] = this.#resolve("consumeAt", key, costOrOptions, 1);
    return this.store.consume(key, policies, cost, checkNow("consumeAt", nowMs));
  }

  /**
   * consumeSync is consume without a promise, for callers that cannot afford one
   * per decision. It works with a MemoryStore only and throws a TypeError otherwise.
   */
  consumeSync(key: string, costOrOptions?: number | CallOptions): Decision {
    // Perf: the common call skips #resolve (see #fastCost) and checkNow; the rest takes #consumeSyncResolved.
    const memory = this.#memory;
    const fast = costOrOptions === undefined ? this.#unitCost : this.#fastCost(costOrOptions);
    if (fast >= 0 && typeof key === "string" && memory !== undefined) {
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

  /** #consumeSyncResolved is consumeSync for calls that need #resolve (options, an unusual cost, bad input). */
  #consumeSyncResolved(key: string, costOrOptions: number | CallOptions | undefined): Decision {
    const memory = this.#memory;
    if (memory === undefined) {
      throw new FloodgateTypeError(
        "ERR_STORE",
        "floodgate: consumeSync() needs a MemoryStore; with another store, use await consume().",
      );
    }
    const [policies, cost] = this.#resolve("consumeSync", key, costOrOptions, 1);
    const nowMs = this.#now();
    return memory.consumeSync(key, policies, cost, Number.isFinite(nowMs) ? nowMs : badClock("RateLimiter", nowMs));
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
  #waitQueue(): WaitQueue<AcquireJob, Decision, Decision> {
    return new WaitQueue<AcquireJob, Decision, Decision>({
      now: this.#now,
      timers: this.#timers,
      maxQueue: this.#maxQueue,
      call: "acquire()",
      maxQueueOption: "RateLimiter({ maxQueue })",
      admit: async (key, job) => {
        const d = await this.store.consume(key, job.policies, job.cost, this.#clock());
        return d.allowed ? { go: true, value: d } : { go: false, waitMs: d.retryAfterMs };
      },
      grant: (_key, _job, d) => d,
      undo: (key, job, d) => {
        if (d.allowed && job.cost > 0) return this.store.refund(key, job.policies, job.cost, this.#clock());
      },
    });
  }
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
