// node.ts: floodgate/node: rate limiting for plain node:http servers.

import type { IncomingMessage, ServerResponse } from "node:http";
import { type HttpOutcome, HttpRateLimit, type HttpRateLimitOptions } from "../http/core.js";
import { IncomingView, sendOutcome } from "./incoming.js";

/** NodeRateLimitOptions configures the node:http limiter; see HttpRateLimitOptions. */
export type NodeRateLimitOptions = HttpRateLimitOptions<IncomingMessage>;

/**
 * rateLimit returns a function that checks a node:http request: it sets the
 * RateLimit headers on the response and resolves true when the request may
 * proceed, or sends the 429 problem+json response itself and resolves false.
 * node:http has no route patterns, so `routes` rules are matched against the
 * URL path with the query and a trailing slash removed; a path that matches no
 * rule falls under the default limit and never gets a bucket of its own.
 * The promise rejects when a callback throws or for a configuration error
 * (such as ERR_INVALID_CLOCK from a broken injected `now`): handle it as your
 * server handles its own errors.
 *
 * @example
 * import { createServer } from "node:http";
 * import { tokenBucket } from "floodgate";
 * import { rateLimit } from "floodgate/node";
 *
 * const limit = rateLimit({ policy: tokenBucket({ capacity: 100, refillRate: 10 }) });
 * createServer(async (req, res) => {
 *   if (!(await limit(req, res))) return; // 429 already sent
 *   res.end("hello");
 * }).listen(3000);
 */
export function rateLimit(
  options: NodeRateLimitOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const core = new HttpRateLimit<IncomingMessage>(options, "rateLimit");
  return async function floodgateNode(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const view = new IncomingView(req, req);
    return sendOutcome(core, await core.check(view), view, res);
  };
}

/**
 * withRateLimit wraps a node:http request handler, like a decorator: refused
 * requests get the 429 and never reach the handler. An error thrown by a
 * callback (key, select, skip) or a configuration error (such as
 * ERR_INVALID_CLOCK from a broken injected `now`) answers 500 without crashing
 * the process, and the error is passed to `onError` (without one, printed with
 * console.error); a store failure follows onStoreError.
 *
 * @example
 * import { createServer } from "node:http";
 * import { tokenBucket } from "floodgate";
 * import { withRateLimit } from "floodgate/node";
 *
 * const handler = withRateLimit((req, res) => res.end("hello"), {
 *   policy: tokenBucket({ capacity: 100, refillRate: 10 }),
 * });
 * createServer(handler).listen(3000);
 */
export function withRateLimit(
  handler: (req: IncomingMessage, res: ServerResponse) => unknown,
  options: NodeRateLimitOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const core = new HttpRateLimit<IncomingMessage>(options, "withRateLimit");
  /** fail answers 500 for an error of the limiter (not of the handler) and reports it. */
  const fail = (err: unknown, view: IncomingView<IncomingMessage>, res: ServerResponse): void => {
    if (!core.report(err, view)) console.error(err);
    if (!res.headersSent) res.statusCode = 500;
    res.end();
  };
  return function floodgateNodeHandler(req: IncomingMessage, res: ServerResponse): void {
    const view = new IncomingView(req, req);
    let out: HttpOutcome | Promise<HttpOutcome>;
    try {
      out = core.check(view);
    } catch (err) {
      fail(err, view, res);
      return;
    }
    if (out instanceof Promise) {
      out.then(
        (o) => {
          if (!sendOutcome(core, o, view, res)) return;
          try {
            handler(req, res);
          } catch {
            // As node:http would have done for a synchronous throw, minus the crash.
            if (!res.headersSent) res.statusCode = 500;
            res.end();
          }
        },
        (err) => fail(err, view, res),
      );
      return;
    }
    if (sendOutcome(core, out, view, res)) handler(req, res);
  };
}
