// hono.ts: floodgate/hono: rate limiting middleware for Hono, on Web standards only (Node, Bun, Deno, Workers).

import type { Context, MiddlewareHandler, Next } from "hono";
import { type HttpOutcome, HttpRateLimit, type HttpRateLimitOptions, type HttpRequest } from "../http/core.js";
import { defaultPeer, pathOf } from "../http/fetch.js";
import { pathOnly } from "../http/routes.js";

/** HonoRateLimitOptions configures the Hono middleware; see HttpRateLimitOptions. */
export interface HonoRateLimitOptions extends HttpRateLimitOptions<Context> {
  /**
   * peer returns the client's socket address. Default: found in `c.env` on
   * @hono/node-server, Bun and Deno, and from `CF-Connecting-IP` on Cloudflare
   * Workers; elsewhere pass it, e.g. `(c) => getConnInfo(c).remote.address`.
   */
  peer?: (c: Context) => string | undefined;
}

/** HonoRequest adapts a Hono context to the core's HttpRequest. */
class HonoRequest implements HttpRequest<Context> {
  readonly raw: Context;
  readonly peer: string | undefined;
  constructor(c: Context, peer: string | undefined) {
    this.raw = c;
    this.peer = peer;
  }
  get method(): string {
    return this.raw.req.method;
  }
  get url(): string {
    return pathOf(this.raw.req.url);
  }
  get path(): string {
    return pathOnly(this.url);
  }
  get route(): string | undefined {
    // The last matched route after this middleware is the handler's pattern; none means a 404.
    const req = this.raw.req as unknown as { matchedRoutes?: { path: string }[]; routeIndex?: number };
    const routes = req.matchedRoutes;
    if (routes === undefined || routes.length === 0) return undefined;
    const last = routes.length - 1;
    return last > (req.routeIndex ?? 0) ? routes[last]?.path : undefined;
  }
  header(name: string): string | undefined {
    return this.raw.req.header(name) ?? undefined;
  }
}

function setHeaders(c: Context, out: HttpOutcome): void {
  if (out.headers.length === 0) return;
  try {
    for (const [k, v] of out.headers) c.res.headers.set(k, v);
  } catch {
    // A response with immutable headers (from fetch()) is copied first.
    c.res = new Response(c.res.body, c.res);
    for (const [k, v] of out.headers) c.res.headers.set(k, v);
  }
}

/**
 * rateLimit returns Hono middleware that limits each client: every response
 * carries the RateLimit headers, refused requests get a 429 problem+json
 * response and the handler does not run. It uses Web standards only, so it
 * runs on Node (@hono/node-server), Bun, Deno and Cloudflare Workers with the
 * memory store. The route of a rule is the pattern of the matched handler.
 *
 * @example
 * import { Hono } from "hono";
 * import { tokenBucket } from "floodgate";
 * import { rateLimit } from "floodgate/hono";
 *
 * const app = new Hono();
 * app.use(rateLimit({ policy: tokenBucket({ capacity: 100, refillRate: 10 }) }));
 * app.get("/", (c) => c.text("hello"));
 * export default app; // Bun, Deno, Workers; on Node: serve(app) from @hono/node-server
 */
export function rateLimit(options: HonoRateLimitOptions): MiddlewareHandler {
  const { peer, ...rest } = options;
  const core = new HttpRateLimit<Context>(rest, "rateLimit");
  return async function floodgateHono(c: Context, next: Next): Promise<Response | undefined> {
    const address = peer ? peer(c) : defaultPeer(c.req.raw, c.env);
    if (address === undefined && rest.key === undefined) {
      core.warn(
        "FG_NO_PEER",
        "rateLimit() cannot see the client address on this runtime, so all clients share one bucket; pass { peer: (c) => address } or a key function.",
      );
    }
    const out = await core.check(new HonoRequest(c, address));
    if (out.limited) {
      return new Response(out.body, { status: out.status, headers: out.headers });
    }
    await next();
    setHeaders(c, out);
    return undefined;
  };
}
