// hono.ts: floodgate/hono: rate limiting middleware for Hono, on Web standards only (Node, Bun, Deno, Workers).

import type { Context, MiddlewareHandler, Next } from "hono";
import { HttpRateLimit, type HttpRateLimitOptions } from "../http/core.js";
import { defaultPeer, refusal, WebRequestView } from "../http/fetch.js";
import { HEADERS } from "../http/response.js";

/** HonoRateLimitOptions configures the Hono middleware; see HttpRateLimitOptions. */
export interface HonoRateLimitOptions extends HttpRateLimitOptions<Context> {
  /**
   * peer returns the client's socket address. Default: found in `c.env` on
   * @hono/node-server, Bun and Deno, and from `CF-Connecting-IP` on Cloudflare
   * Workers; elsewhere pass it, e.g. `(c) => getConnInfo(c).remote.address`.
   */
  peer?: (c: Context) => string | undefined;
}

/** HonoRequest is the core's view of a Hono context: its Request, and the matched handler's route pattern. */
class HonoRequest extends WebRequestView<Context> {
  override get route(): string | undefined {
    // The last matched route after this middleware is the handler's pattern; none means a 404.
    const req = this.raw.req as unknown as { matchedRoutes?: { path: string }[]; routeIndex?: number };
    const routes = req.matchedRoutes;
    if (routes === undefined || routes.length === 0) return undefined;
    const last = routes.length - 1;
    return last > (req.routeIndex ?? 0) ? routes[last]?.path : undefined;
  }
}

/**
 * rateLimit returns Hono middleware that limits each client: every response
 * carries the RateLimit headers, refused requests get a 429 problem+json
 * response and the handler does not run. It uses Web standards only, so it
 * runs on Node (@hono/node-server), Bun, Deno and Cloudflare Workers with the
 * memory store. The route of a rule is the pattern of the matched handler.
 *
 * Stacked limiters (app-wide and on a path) each count the request and merge
 * their RateLimit fields, each policy once; the same middleware used twice on
 * one request counts it once (FG_DOUBLE_COUNT is warned). A configuration
 * error, such as ERR_INVALID_CLOCK from a broken injected `now`, is thrown to
 * Hono's error handler (`app.onError`; a 500 by default).
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
    const view = new HonoRequest(c, c.req.raw, address);
    const out = await core.check(view);
    if (out.limited) return refusal(out);
    await next();
    if (out.headers.length === 0) return undefined;
    try {
      core.setHeaders(out, view, c.res.headers, HEADERS);
    } catch {
      // A response with immutable headers (from fetch()) is copied first: Hono's c.res setter copies.
      c.res = new Response(c.res.body, c.res);
      core.setHeaders(out, view, c.res.headers, HEADERS);
    }
    return undefined;
  };
}
