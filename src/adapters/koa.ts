// koa.ts: floodgate/koa: rate limiting middleware for Koa.

import type { Context, Middleware, Next } from "koa";
import { HttpRateLimit, type HttpRateLimitOptions } from "../http/core.js";
import { IncomingView, RESPONSE } from "./incoming.js";

/** KoaRateLimitOptions configures the Koa middleware; see HttpRateLimitOptions. */
export type KoaRateLimitOptions = HttpRateLimitOptions<Context>;

/** KoaRequest is the core's view of a Koa context: the URL before mounting, @koa/router's route, ctx.ip. */
class KoaRequest extends IncomingView<Context> {
  override get url(): string {
    return this.raw.originalUrl ?? this.raw.url;
  }
  override get route(): string | undefined {
    // @koa/router sets _matchedRoute when the middleware runs inside a route.
    const r = (this.raw as { _matchedRoute?: unknown })._matchedRoute;
    return typeof r === "string" ? r : undefined;
  }
  override get frameworkIp(): string | undefined {
    return this.raw.ip;
  }
  /** scope is ctx.state (a plain object per request): see HttpRequest.scope. */
  override get scope(): object | undefined {
    return (this.raw.state as object | undefined) ?? undefined;
  }
}

/**
 * rateLimit returns Koa middleware that limits each client: every response
 * carries the RateLimit headers, refused requests get a 429 problem+json
 * response and downstream middleware does not run. By default the client is
 * the socket peer; behind proxies pass `trustProxy`, or `clientIp: "framework"`
 * to use `ctx.ip` under Koa's `app.proxy` (a warning is printed once when
 * `app.proxy` is on without `maxIpsCount`, which trusts the forgeable leftmost
 * X-Forwarded-For address).
 *
 * Stacked limiters (app-wide and on a router) each count the request and
 * merge their RateLimit fields, each policy once; the same middleware used
 * twice on one request counts it once (FG_DOUBLE_COUNT is warned). A
 * configuration error, such as ERR_INVALID_CLOCK from a broken injected `now`,
 * is thrown to Koa's error handling (ctx.onerror: a 500, and app "error").
 *
 * @example
 * import Koa from "koa";
 * import { tokenBucket } from "floodgate";
 * import { rateLimit } from "floodgate/koa";
 *
 * const app = new Koa();
 * app.use(rateLimit({ policy: tokenBucket({ capacity: 100, refillRate: 10 }) }));
 * app.use((ctx) => {
 *   ctx.body = "hello";
 * });
 * app.listen(3000);
 */
export function rateLimit(options: KoaRateLimitOptions): Middleware {
  const core = new HttpRateLimit<Context>(options, "rateLimit");
  let checked = false;
  return async function floodgateKoa(ctx: Context, next: Next): Promise<void> {
    if (!checked) {
      checked = true;
      const app = ctx.app as { proxy?: boolean; maxIpsCount?: number };
      if (options.clientIp === "framework" && app.proxy === true && !(Number(app.maxIpsCount) > 0)) {
        core.warn(
          "FG_TRUST_PROXY_ALL",
          "Koa app.proxy is on with maxIpsCount 0, so ctx.ip is the leftmost X-Forwarded-For address, which any client can forge; set app.maxIpsCount to the number of proxies, or use floodgate's trustProxy instead.",
        );
      }
    }
    const view = new KoaRequest(ctx, ctx.req);
    const out = await core.check(view);
    core.setHeaders(out, view, ctx.res, RESPONSE);
    if (out.limited) {
      ctx.status = out.status;
      ctx.body = out.body;
      ctx.type = "application/problem+json";
      return;
    }
    await next();
  };
}
