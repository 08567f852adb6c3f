// throttle.ts: throttle(fn) runs a function only as fast as a policy admits, first come first served.

import { checkClockOption, defaultTimers, monotonicNow, readClock, type Timers } from "../core/clock.js";
import { describe, FloodgateError, FloodgateRangeError, FloodgateTypeError } from "../core/errors.js";
import type { Policy } from "../core/policy.js";
import { checkCost, checkOptions } from "../core/validate.js";
import { RateLimiter } from "../limiter.js";
import type { Store } from "../stores/store.js";
import { checkWholeNumber, Scheduler } from "./scheduler.js";

/** ThrottleOptions configures throttle(). `A` are the throttled function's arguments. */
export interface ThrottleOptions<A extends unknown[] = unknown[]> {
  /** policy is the rate to stay under: one policy, or several applied all-or-nothing. */
  policy: Policy | readonly Policy[];
  /**
   * key names the budget: a string, or a function of the call's arguments (one
   * budget per host, per user). Default "throttle". With a shared store (Redis),
   * every process using the same key shares one budget.
   */
  key?: string | ((...args: A) => string);
  /** cost is what one call spends: a whole number, or a function of the arguments (LLM tokens). Default 1. */
  cost?: number | ((...args: A) => number);
  /**
   * signal aborts waiting calls: an AbortSignal for every call, or a function
   * returning the call's own signal from its arguments (such as `init.signal`).
   * An aborted call leaves the queue, spends nothing and rejects with ERR_ABORTED.
   */
  signal?: AbortSignal | ((...args: A) => AbortSignal | null | undefined);
  /** maxWaitMs rejects a call with ERR_WAIT_TOO_LONG rather than let it wait longer. Default: no bound. */
  maxWaitMs?: number;
  /** maxQueue is the most calls waiting per key; one more rejects at once with ERR_QUEUE_FULL. Default 1000. */
  maxQueue?: number;
  /** store keeps the budget. Default: a new MemoryStore. Pass a RedisStore to share it across processes. */
  store?: Store;
  /**
   * concurrency is the most calls of one key running at once (a call runs until
   * its promise settles). Default: no cap. The cap is per key, so a slow host
   * does not hold back the others.
   */
  concurrency?: number;
  /** now returns the time in ms (tests, simulations). Default: a monotonic clock. */
  now?: () => number;
  /** timers replaces setTimeout/clearTimeout (tests, simulations). */
  timers?: Timers;
}

/** Throttled is the throttled function, with a view of its queue. */
export type Throttled<A extends unknown[], R> = ((...args: A) => Promise<Awaited<R>>) & {
  /** waiting reports the calls waiting for `key`, or for every key. */
  waiting(key?: string): number;
  /** running reports the calls running for `key`, or for every key. */
  running(key?: string): number;
  /** limiter is the RateLimiter that holds the budget (to peek, reset or share it). */
  readonly limiter: RateLimiter;
};

const KNOWN = ["policy", "key", "cost", "signal", "maxWaitMs", "maxQueue", "store", "concurrency", "now", "timers"];

/**
 * throttle wraps `fn` so that each call starts only when the policy admits its
 * cost, and returns a function with the same arguments that resolves to `fn`'s
 * result. Calls for one key start in the order they were made: a heavy call
 * waits at the head until its cost fits and is never overtaken by lighter ones.
 *
 * A call rejects without running `fn` when its key's queue already holds
 * `maxQueue` calls (ERR_QUEUE_FULL), when it would wait longer than `maxWaitMs`
 * (ERR_WAIT_TOO_LONG), or when its signal aborts (ERR_ABORTED); it then spends
 * nothing. A cost of 0 is admitted at once in its turn; a cost above the
 * policy's limit rejects with ERR_COST_EXCEEDS_LIMIT. Errors thrown by `fn`
 * reach the caller unchanged; the budget is spent either way. No timer is left
 * when no call waits.
 *
 * @example
 * import { tokenBucket } from "floodgate";
 * import { throttle } from "floodgate/client";
 * const getUser = throttle((id: string) => fetch(`https://api.example.com/users/${id}`), {
 *   policy: tokenBucket({ capacity: 5, refillRate: 5 }), // 5 per second, bursts of 5
 * });
 * await getUser("42");
 */
export function throttle<A extends unknown[], R>(fn: (...args: A) => R, options: ThrottleOptions<A>): Throttled<A, R> {
  if (typeof fn !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: throttle(fn, options) needs a function to throttle, got ${describe(fn)}.`,
    );
  }
  const o = checkOptions("throttle", options, KNOWN) as unknown as ThrottleOptions<A>;
  const injected = checkClockOption("throttle", o.now);
  const now = injected === undefined ? monotonicNow : () => readClock("throttle", injected);
  const timers = o.timers ?? defaultTimers;
  const limiter = new RateLimiter({
    policy: o.policy,
    ...(o.store !== undefined ? { store: o.store } : {}),
    ...(o.now !== undefined ? { now: o.now } : {}),
    ...(o.timers !== undefined ? { timers: o.timers } : {}),
  });
  const maxLimit = Math.min(...limiter.policies.map((p) => p.limit));
  const keyOpt = o.key ?? "throttle";
  if (typeof keyOpt !== "string" && typeof keyOpt !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: throttle({ key }) must be a string or a function of the call's arguments, got ${describe(keyOpt)}.`,
    );
  }
  const costOpt = o.cost ?? 1;
  if (typeof costOpt === "number") checkCostFits(costOpt, maxLimit);
  else if (typeof costOpt !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: throttle({ cost }) must be a whole number or a function of the call's arguments, got ${describe(costOpt)}.`,
    );
  }
  const signalOpt = o.signal;
  if (signalOpt !== undefined && typeof signalOpt !== "function" && !isAbortSignal(signalOpt)) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: throttle({ signal }) must be an AbortSignal or a function returning one, got ${describe(signalOpt)}.`,
    );
  }
  const maxWaitMs = o.maxWaitMs === undefined ? undefined : checkMaxWait("throttle", o.maxWaitMs);
  const maxQueue = checkWholeNumber(
    "throttle",
    "maxQueue",
    o.maxQueue ?? 1000,
    1,
    true,
    "pass how many calls may wait per key, such as 1000",
  );
  const concurrency = checkWholeNumber(
    "throttle",
    "concurrency",
    o.concurrency ?? Number.POSITIVE_INFINITY,
    1,
    true,
    "pass how many calls may run at once per key, such as 4",
  );
  const scheduler = new Scheduler({
    limiter,
    concurrency,
    maxQueue,
    now,
    timers,
    call: "throttle()",
    abortError: (reason) =>
      new FloodgateError("ERR_ABORTED", "floodgate: throttled call was aborted before it ran; nothing was spent.", {
        cause: reason,
      }),
  });

  const throttled = async (...args: A): Promise<Awaited<R>> => {
    const key = typeof keyOpt === "string" ? keyOpt : keyOpt(...args);
    if (typeof key !== "string") {
      throw new FloodgateTypeError(
        "ERR_INVALID_KEY",
        `floodgate: throttle({ key }) function returned ${describe(key)}; return a string such as the host name.`,
      );
    }
    const cost = typeof costOpt === "number" ? costOpt : checkCostFits(costOpt(...args), maxLimit);
    const signal = typeof signalOpt === "function" ? (signalOpt(...args) ?? undefined) : signalOpt;
    const permit = await scheduler.schedule(key, cost, signal, maxWaitMs);
    try {
      return await fn(...args);
    } finally {
      permit.release();
    }
  };
  Object.defineProperty(throttled, "name", { value: `throttled ${fn.name || "function"}` });
  return Object.assign(throttled, {
    waiting: (key?: string) => scheduler.waiting(key),
    running: (key?: string) => scheduler.inFlight(key),
    limiter,
  }) as Throttled<A, R>;
}

/** checkCostFits validates a call's cost: a whole number no larger than the tightest policy's limit. */
function checkCostFits(cost: unknown, maxLimit: number): number {
  const c = checkCost("throttle", cost);
  if (c > maxLimit) {
    throw new FloodgateRangeError(
      "ERR_COST_EXCEEDS_LIMIT",
      `floodgate: throttle(cost=${c}) exceeds the policy's limit ${maxLimit} and could never run; raise the limit or split the call.`,
    );
  }
  return c;
}

/** checkMaxWait validates a maxWaitMs option: a finite number of ms >= 0. */
export function checkMaxWait(fn: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${fn}({ maxWaitMs }) must be a finite number of milliseconds >= 0, got ${describe(value)}; leave it out to wait as long as needed.`,
    );
  }
  return value;
}

function isAbortSignal(x: unknown): x is AbortSignal {
  return (
    typeof x === "object" && x !== null && typeof (x as AbortSignal).addEventListener === "function" && "aborted" in x
  );
}
