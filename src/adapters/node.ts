// node.ts: floodgate/node: rate limiting for plain node:http servers.

import type { IncomingMessage, ServerResponse } from "node:http";
import { type HttpOutcome, HttpRateLimit, type HttpRateLimitOptions, type HttpRequest } from "../http/core.js";
import { pathOnly } from "../http/routes.js";

/** NodeRateLimitOptions configures the node:http limiter; see HttpRateLimitOptions. */
export type NodeRateLimitOptions = HttpRateLimitOptions<IncomingMessage>;

/** NodeRequest adapts an IncomingMessage to the core's HttpRequest. */
class NodeRequest implements HttpRequest<IncomingMessage> {
  readonly raw: IncomingMessage;
  readonly route = undefined;
  constructor(req: IncomingMessage) {
    this.raw = req;
  }
  get method(): string {
    return this.raw.method ?? "GET";
  }
  get url(): string {
    return this.raw.url ?? "/";
  }
  get path(): string {
    return pathOnly(this.url);
  }
  get peer(): string | undefined {
    return this.raw.socket?.remoteAddress;
  }
  header(name: string): string | undefined {
    const v = this.raw.headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
  }
}

/** apply writes an outcome to the response and reports whether the request may proceed. */
function apply(out: HttpOutcome, res: ServerResponse): boolean {
  for (const [k, v] of out.headers) res.setHeader(k, v);
  if (!out.limited) return true;
  res.statusCode = out.status;
  res.end(out.body);
  return false;
}

/**
 * rateLimit returns a function that checks a node:http request: it sets the
 * RateLimit headers on the response and resolves true when the request may
 * proceed, or sends the 429 problem+json response itself and resolves false.
 * node:http has no route patterns, so `routes` rules are matched against the
 * URL path with the query and a trailing slash removed; a path that matches no
 * rule falls under the default limit and never gets a bucket of its own.
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
    return apply(await core.check(new NodeRequest(req)), res);
  };
}

/**
 * withRateLimit wraps a node:http request handler, like a decorator: refused
 * requests get the 429 and never reach the handler. An error thrown by a
 * callback (key, select, skip) answers 500 without crashing the process; a
 * store failure follows onStoreError.
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
  const fail = (res: ServerResponse): void => {
    if (!res.headersSent) res.statusCode = 500;
    res.end();
  };
  return function floodgateNodeHandler(req: IncomingMessage, res: ServerResponse): void {
    let out: HttpOutcome | Promise<HttpOutcome>;
    try {
      out = core.check(new NodeRequest(req));
    } catch {
      fail(res);
      return;
    }
    if (out instanceof Promise) {
      out.then(
        (o) => {
          if (!apply(o, res)) return;
          try {
            handler(req, res);
          } catch {
            fail(res); // as node:http would have done for a synchronous throw, minus the crash
          }
        },
        () => fail(res),
      );
      return;
    }
    if (apply(out, res)) handler(req, res);
  };
}
