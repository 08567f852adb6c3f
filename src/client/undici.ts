// undici.ts: the same throttling as rateLimitedFetch, as an undici dispatcher interceptor (no runtime import of undici).

import { describe, FloodgateTypeError } from "../core/errors.js";
import { checkOptions } from "../core/validate.js";
import {
  buildClient,
  type ClientOptions,
  checkClientCost,
  observe,
  replayableBody,
  SHARED_OPTION_KEYS,
} from "./fetch.js";
import { recordGetter } from "./headers.js";
import type { Permit } from "./scheduler.js";

/** DispatchOptions is the part of undici's `Dispatcher.DispatchOptions` the interceptor reads. */
export interface DispatchOptions {
  origin?: string | URL;
  path: string;
  method: string;
  body?: unknown;
  signal?: unknown;
  [key: string]: unknown;
}

/** DispatchController is undici's per-request controller (undici 7 handler API). */
export interface DispatchController {
  abort(reason: Error): void;
  pause(): void;
  resume(): void;
  readonly aborted: boolean;
  readonly paused: boolean;
  readonly reason: Error | null;
}

type Headers = Record<string, string | string[] | undefined>;

/** DispatchHandler is undici 7's handler API, the one interceptors receive from `compose`. */
export interface DispatchHandler {
  onRequestStart?(controller: DispatchController, context: unknown): void;
  onRequestUpgrade?(controller: DispatchController, statusCode: number, headers: Headers, socket: unknown): void;
  onResponseStart?(controller: DispatchController, statusCode: number, headers: Headers, statusMessage?: string): void;
  onResponseData?(controller: DispatchController, chunk: Uint8Array): void;
  onResponseEnd?(controller: DispatchController, trailers: Headers): void;
  onResponseError?(controller: DispatchController, error: Error): void;
}

/** Dispatch is undici's `dispatch(opts, handler)`. */
export type Dispatch = (opts: DispatchOptions, handler: DispatchHandler) => boolean;

/**
 * Interceptor is the shape `Dispatcher.compose()` takes. It is generic so that
 * it fits undici's own types without floodgate depending on them.
 */
export type Interceptor = <D extends (opts: never, handler: never) => boolean>(dispatch: D) => D;

/** ThrottleInterceptorOptions configures throttleInterceptor. */
export interface ThrottleInterceptorOptions extends ClientOptions {
  /** key names a request's budget. Default: its origin. */
  key?: (opts: DispatchOptions) => string;
  /** cost is what one request spends: a number or a function of the dispatch options. Default 1. */
  cost?: number | ((opts: DispatchOptions) => number);
}

/** ControllerProxy is the one controller the caller's handler sees across retries. */
class ControllerProxy implements DispatchController {
  target: DispatchController | undefined;
  #aborted = false;
  #reason: Error | null = null;
  #paused = false;
  constructor(readonly onAbort: (reason: Error) => void) {}
  abort(reason: Error): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.onAbort(reason);
    this.target?.abort(reason);
  }
  pause(): void {
    this.#paused = true;
    this.target?.pause();
  }
  resume(): void {
    this.#paused = false;
    this.target?.resume();
  }
  get aborted(): boolean {
    return this.#aborted;
  }
  get paused(): boolean {
    return this.#paused;
  }
  get reason(): Error | null {
    return this.#reason;
  }
}

const KNOWN = [...SHARED_OPTION_KEYS, "key", "cost"];

function isSignal(x: unknown): x is AbortSignal {
  return (
    typeof x === "object" && x !== null && "aborted" in x && typeof (x as AbortSignal).addEventListener === "function"
  );
}

/**
 * throttleInterceptor returns an undici interceptor that paces requests per
 * origin (or `key`) and listens to 429/503, Retry-After and RateLimit headers,
 * exactly as rateLimitedFetch does. A throttled response that will be retried
 * is drained and never reaches the handler; the handler sees one controller
 * for the whole exchange. floodgate does not import undici: the interceptor
 * follows undici 7's `(dispatch) => (opts, handler) => boolean` shape.
 *
 * @example
 * import { Agent } from "undici";
 * import { tokenBucket } from "floodgate";
 * import { throttleInterceptor } from "floodgate/client";
 * const agent = new Agent().compose(throttleInterceptor({ policy: tokenBucket({ capacity: 10, refillRate: 5 }) }));
 * const res = await agent.request({ origin: "https://api.example.com", path: "/items", method: "GET" });
 */
export function throttleInterceptor(options: ThrottleInterceptorOptions = {}): Interceptor {
  const fn = "throttleInterceptor";
  const o = checkOptions(fn, options, KNOWN) as ThrottleInterceptorOptions;
  const c = buildClient(fn, o);
  if (o.key !== undefined && typeof o.key !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${fn}({ key }) must be a function of the dispatch options, got ${describe(o.key)}.`,
    );
  }
  const costOpt = o.cost ?? 1;
  if (typeof costOpt === "number") checkClientCost(fn, costOpt, c.maxLimit);
  else if (typeof costOpt !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${fn}({ cost }) must be a whole number or a function of the dispatch options, got ${describe(costOpt)}.`,
    );
  }
  const keyOf = o.key ?? ((opts: DispatchOptions) => new URL(String(opts.origin ?? "")).origin);

  return (<D extends (opts: never, handler: never) => boolean>(next: D): D => {
    const dispatch = next as unknown as Dispatch;
    return function floodgateThrottle(opts: DispatchOptions, handler: DispatchHandler): boolean {
      let key: string;
      let cost: number;
      try {
        key = keyOf(opts);
        if (typeof key !== "string") {
          throw new FloodgateTypeError(
            "ERR_INVALID_KEY",
            `floodgate: ${fn}({ key }) returned ${describe(key)}; return a string.`,
          );
        }
        cost = typeof costOpt === "number" ? costOpt : checkClientCost(fn, costOpt(opts), c.maxLimit);
      } catch (err) {
        handler.onResponseError?.(new ControllerProxy(() => {}), err as Error);
        return true;
      }
      const method = String(opts.method ?? "GET").toUpperCase();
      const canRetry = c.retries > 0 && c.retryMethods.has(method) && replayableBody(opts.body);
      const ac = new AbortController();
      const proxy = new ControllerProxy((reason) => ac.abort(reason));
      const userSignal = isSignal(opts.signal) ? opts.signal : undefined;
      const onUserAbort = (): void => ac.abort(userSignal?.reason);
      if (userSignal?.aborted) ac.abort(userSignal.reason);
      else userSignal?.addEventListener("abort", onUserAbort, { once: true });
      const deadlineMs = c.maxWaitMs === undefined ? undefined : c.now() + c.maxWaitMs;
      let started = false;
      let finished = false;
      const finish = (): void => {
        finished = true;
        userSignal?.removeEventListener("abort", onUserAbort);
      };
      const fail = (err: unknown): void => {
        if (finished) return;
        finish();
        if (!started) {
          started = true;
          handler.onRequestStart?.(proxy, {});
        }
        handler.onResponseError?.(proxy, err instanceof Error ? err : new Error(String(err)));
      };

      const attempt = (n: number): void => {
        const leftMs = deadlineMs === undefined ? undefined : Math.max(0, deadlineMs - c.now());
        c.scheduler.schedule(key, cost, ac.signal, leftMs).then((permit) => run(n, permit), fail);
      };

      const run = (n: number, permit: Permit): void => {
        let settled = false;
        const settle = (status: number, headers: Headers | undefined): { pauseMs: number; hints: object } => {
          if (settled) return { pauseMs: 0, hints: {} };
          settled = true;
          permit.release();
          if (headers === undefined) {
            c.pacer.observe(key, permit.startSeq, false, {}, n);
            return { pauseMs: 0, hints: {} };
          }
          return observe(c, key, permit.startSeq, status, recordGetter(headers), n);
        };
        if (ac.signal.aborted) {
          settle(0, undefined);
          fail(ac.signal.reason);
          return;
        }
        let swallow = false;
        const attemptHandler: DispatchHandler = {
          onRequestStart(controller, context) {
            proxy.target = controller;
            if (proxy.aborted) {
              controller.abort(proxy.reason as Error);
              return;
            }
            if (proxy.paused) controller.pause();
            if (!started) {
              started = true;
              handler.onRequestStart?.(proxy, context);
            }
          },
          onRequestUpgrade(_controller, statusCode, headers, socket) {
            settle(statusCode, headers);
            finish();
            handler.onRequestUpgrade?.(proxy, statusCode, headers, socket);
          },
          onResponseStart(_controller, statusCode, headers, statusMessage) {
            const { pauseMs, hints } = settle(statusCode, headers);
            if (c.retryStatuses.has(statusCode) && canRetry && n < c.retries && !proxy.aborted) {
              const waitMs = Math.max(pauseMs, c.pacer.holdMs(key));
              if (deadlineMs === undefined || c.now() + waitMs <= deadlineMs) {
                swallow = true;
                try {
                  c.onRetry?.({
                    url: `${String(opts.origin ?? "")}${opts.path}`,
                    key,
                    status: statusCode,
                    attempt: n + 1,
                    waitMs,
                    hints,
                  });
                } catch {
                  // A logging hook must not break the request.
                }
                return;
              }
            }
            handler.onResponseStart?.(proxy, statusCode, headers, statusMessage);
          },
          onResponseData(_controller, chunk) {
            if (!swallow) handler.onResponseData?.(proxy, chunk);
          },
          onResponseEnd(_controller, trailers) {
            if (swallow) {
              proxy.target = undefined;
              attempt(n + 1);
              return;
            }
            finish();
            handler.onResponseEnd?.(proxy, trailers);
          },
          onResponseError(_controller, error) {
            settle(0, undefined);
            fail(error);
          },
        };
        try {
          dispatch(opts, attemptHandler);
        } catch (err) {
          settle(0, undefined);
          fail(err);
        }
      };

      attempt(0);
      return true;
    } as unknown as D;
  }) as Interceptor;
}
