// fetch.ts: rateLimitedFetch, a fetch that paces itself per origin and listens to the server's rate limit headers.

import { checkClockOption, defaultTimers, monotonicNow, readClock, type Timers } from "../core/clock.js";
import { describe, FloodgateRangeError, FloodgateTypeError } from "../core/errors.js";
import type { Policy } from "../core/policy.js";
import { checkCost, checkOptions } from "../core/validate.js";
import { RateLimiter } from "../limiter.js";
import type { Store } from "../stores/store.js";
import { DEFAULT_MAX_DELAY_MS, type RateLimitHints, readRateLimitHints } from "./headers.js";
import { ServerPacer } from "./pacer.js";
import { checkWholeNumber, Scheduler } from "./scheduler.js";
import { checkMaxWait } from "./throttle.js";

/** FetchLike is the shape of `fetch`. */
export type FetchLike = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

/** RetryInfo describes a retry about to wait, for `onRetry`. */
export interface RetryInfo {
  readonly url: string;
  readonly key: string;
  readonly status: number;
  /** attempt is the retry about to be made: 1 for the first retry. */
  readonly attempt: number;
  /** waitMs is the pause the server's answer set for the key (jitter included); other requests to the key wait too. */
  readonly waitMs: number;
  readonly hints: RateLimitHints;
}

/**
 * ClientOptions are the options shared by rateLimitedFetch and the undici
 * interceptor. Every option is optional: with none, only the server's headers
 * pace the client.
 */
export interface ClientOptions {
  /** policy is the local rate per key (a policy matching the server's avoids 429s entirely). Default: none. */
  policy?: Policy | readonly Policy[];
  /** store keeps the local budget. Default: a new MemoryStore; a RedisStore shares it across processes. */
  store?: Store;
  /** retries is the most retries after a 429/503 for one call. Default 3; 0 disables retrying. */
  retries?: number;
  /** retryStatuses lists the statuses that pause the key and are retried. Default [429, 503]. */
  retryStatuses?: readonly number[];
  /**
   * retryMethods lists the methods retried. Default: the idempotent methods GET,
   * HEAD, OPTIONS, TRACE, PUT and DELETE. A request is retried only when its body
   * can be sent again (none, a string, bytes, a Blob, FormData or URLSearchParams;
   * never a stream). Add "POST" for APIs where a 429 means "not processed".
   */
  retryMethods?: readonly string[];
  /** maxDelayMs caps every wait a server can ask for. Default 3,600,000 (one hour). */
  maxDelayMs?: number;
  /** backoffMs is the first wait after a 429/503 with no usable header; it doubles per retry. Default 1000. */
  backoffMs?: number;
  /** jitter is the largest fraction added at random to a server-given wait. Default 0.1. */
  jitter?: number;
  /** spreadBelow: under this fraction of the server's limit, spread the remaining quota over the reset window. Default 0.1. */
  spreadBelow?: number;
  /** adapt turns the pacing from RateLimit / X-RateLimit-* headers on successful responses on or off. Default true. */
  adapt?: boolean;
  /**
   * maxWaitMs bounds the time one call may wait, retries included. When a retry
   * would wait longer, the 429/503 response is returned as it is. Default: no bound.
   */
  maxWaitMs?: number;
  /** maxQueue is the most calls waiting per key; one more rejects with ERR_QUEUE_FULL. Default 1000. */
  maxQueue?: number;
  /** concurrency is the most requests per key awaiting their response headers. Default: no cap. */
  concurrency?: number;
  /** now is the monotonic clock in ms (tests, simulations). */
  now?: () => number;
  /** wallNow is the wall clock in epoch ms, for HTTP-dates when a response has no Date header. Default Date.now. */
  wallNow?: () => number;
  /** timers replaces setTimeout/clearTimeout (tests, simulations). */
  timers?: Timers;
  /** random returns a number in [0, 1) for the jitter. Default Math.random. */
  random?: () => number;
  /** onRetry is called before each retry waits (logging, metrics). Exceptions from it are ignored. */
  onRetry?: (info: RetryInfo) => void;
}

/** RateLimitedFetchOptions configures rateLimitedFetch. */
export interface RateLimitedFetchOptions extends ClientOptions {
  /** fetch is the fetch to wrap. Default globalThis.fetch. */
  fetch?: FetchLike;
  /** key names a request's budget. Default: the URL's origin (`https://api.example.com`). */
  key?: (url: URL, init: RequestInit | undefined) => string;
  /** cost is what one request spends: a number or a function of the request. Default 1. */
  cost?: number | ((url: URL, init: RequestInit | undefined) => number);
}

/** RateLimitedFetch is a fetch with a view of its queues. */
export type RateLimitedFetch = FetchLike & {
  /** waiting reports the requests waiting for `key` (an origin by default), or for every key. */
  waiting(key?: string): number;
  /** holdMs reports how long `key` must still wait because of what its server said. */
  holdMs(key: string): number;
};

/** SHARED_OPTION_KEYS are the options rateLimitedFetch and throttleInterceptor both take. */
export const SHARED_OPTION_KEYS = [
  "policy",
  "store",
  "retries",
  "retryStatuses",
  "retryMethods",
  "maxDelayMs",
  "backoffMs",
  "jitter",
  "spreadBelow",
  "adapt",
  "maxWaitMs",
  "maxQueue",
  "concurrency",
  "now",
  "wallNow",
  "timers",
  "random",
  "onRetry",
] as const;

const IDEMPOTENT = ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"];

/** Client is the validated machinery shared by rateLimitedFetch and the undici interceptor. */
export interface Client {
  readonly scheduler: Scheduler;
  readonly pacer: ServerPacer;
  readonly now: () => number;
  readonly wallNow: () => number;
  readonly retries: number;
  readonly retryStatuses: ReadonlySet<number>;
  readonly retryMethods: ReadonlySet<string>;
  readonly maxDelayMs: number;
  readonly adapt: boolean;
  readonly maxWaitMs: number | undefined;
  readonly maxLimit: number;
  readonly onRetry: ((info: RetryInfo) => void) | undefined;
}

/** buildClient validates the shared options and builds the scheduler and pacer. */
export function buildClient(fn: string, o: ClientOptions): Client {
  const injected = checkClockOption(fn, o.now);
  const now = injected === undefined ? monotonicNow : () => readClock(fn, injected);
  const timers = o.timers ?? defaultTimers;
  for (const name of ["wallNow", "random", "onRetry"] as const) {
    if (o[name] !== undefined && typeof o[name] !== "function") {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: ${fn}({ ${name} }) must be a function, got ${describe(o[name])}.`,
      );
    }
  }
  const limiter =
    o.policy === undefined
      ? undefined
      : new RateLimiter({
          policy: o.policy,
          ...(o.store !== undefined ? { store: o.store } : {}),
          ...(o.now !== undefined ? { now: o.now } : {}),
          ...(o.timers !== undefined ? { timers: o.timers } : {}),
        });
  if (limiter === undefined && o.store !== undefined) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${fn}({ store }) needs a { policy } to keep in it; add a policy or drop the store.`,
    );
  }
  const maxDelayMs = fraction(
    fn,
    "maxDelayMs",
    o.maxDelayMs ?? DEFAULT_MAX_DELAY_MS,
    0,
    Number.MAX_SAFE_INTEGER,
    "such as 3600000 (one hour)",
  );
  const pacer = new ServerPacer({
    now,
    maxDelayMs,
    backoffMs: fraction(fn, "backoffMs", o.backoffMs ?? 1000, 0, maxDelayMs, "such as 1000"),
    jitter: fraction(fn, "jitter", o.jitter ?? 0.1, 0, 10, "such as 0.1 for up to 10% more"),
    random: o.random ?? Math.random,
    spreadBelow: fraction(fn, "spreadBelow", o.spreadBelow ?? 0.1, 0, 1, "such as 0.1"),
  });
  const adapt = o.adapt ?? true;
  const scheduler = new Scheduler({
    limiter,
    concurrency: checkWholeNumber(
      fn,
      "concurrency",
      o.concurrency ?? Number.POSITIVE_INFINITY,
      1,
      true,
      "pass how many requests per key may be in flight, such as 6",
    ),
    maxQueue: checkWholeNumber(
      fn,
      "maxQueue",
      o.maxQueue ?? 1000,
      1,
      true,
      "pass how many requests may wait per key, such as 1000",
    ),
    now,
    timers,
    call: `${fn}()`,
    holdMs: (key) => pacer.holdMs(key),
    onStart: (key) => pacer.started(key),
    abortError: (reason) => reason,
  });
  const statuses = o.retryStatuses ?? [429, 503];
  if (!Array.isArray(statuses) || !statuses.every((s) => Number.isInteger(s) && s >= 400 && s <= 599)) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${fn}({ retryStatuses }) must be an array of 4xx/5xx statuses, got ${describe(statuses)}; the default is [429, 503].`,
    );
  }
  const methods = o.retryMethods ?? IDEMPOTENT;
  if (!Array.isArray(methods) || !methods.every((m) => typeof m === "string")) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${fn}({ retryMethods }) must be an array of method names, got ${describe(methods)}.`,
    );
  }
  return {
    scheduler,
    pacer,
    now,
    wallNow: o.wallNow ?? Date.now,
    retries: checkWholeNumber(fn, "retries", o.retries ?? 3, 0, false, "pass how many retries after a 429, such as 3"),
    retryStatuses: new Set(statuses),
    retryMethods: new Set(methods.map((m) => m.toUpperCase())),
    maxDelayMs,
    adapt,
    maxWaitMs: o.maxWaitMs === undefined ? undefined : checkMaxWait(fn, o.maxWaitMs),
    maxLimit: limiter ? Math.min(...limiter.policies.map((p) => p.limit)) : Number.POSITIVE_INFINITY,
    onRetry: o.onRetry,
  };
}

function fraction(fn: string, name: string, value: unknown, min: number, max: number, example: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw new FloodgateRangeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${fn}({ ${name} }) must be a finite number from ${min} to ${max}, got ${describe(value)}; pass a value ${example}.`,
    );
  }
  return value;
}

/** checkClientCost validates one request's cost against the local policy's limit. */
export function checkClientCost(fn: string, cost: unknown, maxLimit: number): number {
  const c = checkCost(fn, cost);
  if (c > maxLimit) {
    throw new FloodgateRangeError(
      "ERR_COST_EXCEEDS_LIMIT",
      `floodgate: ${fn}(cost=${c}) exceeds the policy's limit ${maxLimit} and could never be sent; raise the limit or lower the cost.`,
    );
  }
  return c;
}

/** observe reads a response's hints and feeds the pacer; it returns the hints and the pause set. */
export function observe(
  c: Client,
  key: string,
  startSeq: number,
  status: number,
  get: (name: string) => string | null,
  attempt: number,
): { hints: RateLimitHints; pauseMs: number } {
  const hints = readRateLimitHints(get, { maxDelayMs: c.maxDelayMs, wallNowMs: c.wallNow() });
  const throttled = c.retryStatuses.has(status);
  // Only the configured statuses pause the key; any response teaches the quota (when adapting).
  const pauseMs = c.pacer.observe(key, startSeq, throttled, c.adapt || throttled ? hints : {}, attempt);
  return { hints, pauseMs };
}

/** replayableBody reports whether a body can be sent a second time. */
export function replayableBody(body: unknown): boolean {
  if (body === null || body === undefined) return true;
  if (typeof body === "string") return true;
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return true;
  if (typeof Blob !== "undefined" && body instanceof Blob) return true;
  if (typeof URLSearchParams !== "undefined" && body instanceof URLSearchParams) return true;
  if (typeof FormData !== "undefined" && body instanceof FormData) return true;
  return false;
}

/**
 * rateLimitedFetch returns a `fetch` that throttles requests per origin (or per
 * `key`) and listens to the server:
 *
 * - With a `policy`, requests to a key start no faster than it admits, first
 *   come first served (a policy that matches the server's never draws a 429).
 * - A 429 or 503 pauses the key for Retry-After (seconds or HTTP-date), else
 *   until an exhausted quota resets, else for an exponential backoff, with
 *   jitter; the request is retried up to `retries` times if its method is in
 *   `retryMethods` and its body can be replayed. Other requests to the key wait
 *   out the pause too. A Request object with a body is never retried (pass the
 *   body in `init` to make it replayable).
 * - Any response carrying `RateLimit` (IETF draft), `RateLimit-*` or
 *   `X-RateLimit-*` quota fields sets a budget: the client starts no more than
 *   the remaining quota before the reset, waits for the reset when it is 0, and
 *   spreads the rest evenly when it is low (see `spreadBelow`).
 *
 * Server values are untrusted: malformed, negative, fractional or past values
 * are ignored and every wait is capped at `maxDelayMs`. The caller's signal
 * (`init.signal` or the Request's) aborts a wait at once; the call rejects with
 * the signal's reason, as fetch does. A call rejects with ERR_QUEUE_FULL when
 * `maxQueue` requests already wait for its key, and with ERR_WAIT_TOO_LONG when
 * its first start would pass `maxWaitMs`.
 *
 * @example
 * import { rateLimitedFetch } from "floodgate/client";
 * import { tokenBucket } from "floodgate";
 * const fetch = rateLimitedFetch({ policy: tokenBucket({ capacity: 10, refillRate: 5 }) });
 * const res = await fetch("https://api.example.com/items"); // at most 5/s per origin, bursts of 10
 */
export function rateLimitedFetch(options: RateLimitedFetchOptions = {}): RateLimitedFetch {
  const fn = "rateLimitedFetch";
  const o = checkOptions(fn, options, [...SHARED_OPTION_KEYS, "fetch", "key", "cost"]) as RateLimitedFetchOptions;
  const c = buildClient(fn, o);
  const base: FetchLike | undefined = o.fetch ?? (globalThis.fetch as FetchLike | undefined);
  if (typeof base !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${fn}({ fetch }) must be a fetch function, got ${describe(base)}; pass undici's fetch on runtimes without a global fetch.`,
    );
  }
  for (const name of ["key"] as const) {
    if (o[name] !== undefined && typeof o[name] !== "function") {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: ${fn}({ ${name} }) must be a function of (url, init), got ${describe(o[name])}.`,
      );
    }
  }
  const costOpt = o.cost ?? 1;
  if (typeof costOpt === "number") checkClientCost(fn, costOpt, c.maxLimit);
  else if (typeof costOpt !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${fn}({ cost }) must be a whole number or a function of (url, init), got ${describe(costOpt)}.`,
    );
  }
  const keyOf = o.key ?? ((url: URL) => url.origin);

  const limitedFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const isRequest = typeof Request !== "undefined" && input instanceof Request;
    const url = new URL(isRequest ? (input as Request).url : String(input));
    const key = keyOf(url, init);
    if (typeof key !== "string") {
      throw new FloodgateTypeError(
        "ERR_INVALID_KEY",
        `floodgate: ${fn}({ key }) returned ${describe(key)}; return a string such as url.origin.`,
      );
    }
    const cost = typeof costOpt === "number" ? costOpt : checkClientCost(fn, costOpt(url, init), c.maxLimit);
    const method = (init?.method ?? (isRequest ? (input as Request).method : "GET")).toUpperCase();
    const signal = init?.signal ?? (isRequest ? (input as Request).signal : undefined) ?? undefined;
    const body = init?.body !== undefined ? init.body : isRequest ? (input as Request).body : null;
    const canRetry = c.retries > 0 && c.retryMethods.has(method) && replayableBody(body);
    const deadlineMs = c.maxWaitMs === undefined ? undefined : c.now() + c.maxWaitMs;
    for (let attempt = 0; ; attempt++) {
      const leftMs = deadlineMs === undefined ? undefined : Math.max(0, deadlineMs - c.now());
      const permit = await c.scheduler.schedule(key, cost, signal, leftMs);
      let res: Response;
      try {
        res = await base(input, init);
      } catch (err) {
        c.pacer.observe(key, permit.startSeq, false, {}, attempt);
        throw err;
      } finally {
        permit.release();
      }
      const { hints, pauseMs } = observe(c, key, permit.startSeq, res.status, (n) => res.headers.get(n), attempt);
      if (!c.retryStatuses.has(res.status) || !canRetry || attempt >= c.retries) return res;
      const waitMs = Math.max(pauseMs, c.pacer.holdMs(key));
      if (deadlineMs !== undefined && c.now() + waitMs > deadlineMs) return res;
      try {
        c.onRetry?.({ url: url.href, key, status: res.status, attempt: attempt + 1, waitMs, hints });
      } catch {
        // A logging hook must not break the request.
      }
      await res.body?.cancel().catch(() => {});
    }
  };
  Object.defineProperty(limitedFetch, "name", { value: "rateLimitedFetch" });
  return Object.assign(limitedFetch, {
    waiting: (key?: string) => c.scheduler.waiting(key),
    holdMs: (key: string) => c.pacer.holdMs(key),
  });
}
