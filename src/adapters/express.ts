// express.ts: floodgate/express: rate limiting middleware for Express 4 and 5, per app, router or route.

import type { NextFunction, Request, RequestHandler, Response } from "express";
import { type HttpOutcome, HttpRateLimit, type HttpRateLimitOptions } from "../http/core.js";
import { IncomingView, sendOutcome } from "./incoming.js";

/** ExpressRateLimitOptions configures the Express middleware; see HttpRateLimitOptions. */
export type ExpressRateLimitOptions = HttpRateLimitOptions<Request>;

/** ExpressRequest is the core's view of an Express request: the URL before mounting, the route pattern, req.ip. */
class ExpressRequest extends IncomingView<Request> {
  readonly #res: Response;
  #scope: object | undefined;
  constructor(req: Request, res: Response) {
    super(req, req);
    this.#res = res;
  }
  override get url(): string {
    return this.raw.originalUrl ?? this.raw.url;
  }
  override get route(): string | undefined {
    // Set only when the middleware runs on a route (app.get(path, limit, handler)).
    const path = (this.raw.route as { path?: unknown } | undefined)?.path;
    return typeof path === "string" ? (this.raw.baseUrl ?? "") + path : undefined;
  }
  override get frameworkIp(): string | undefined {
    return this.raw.ip;
  }
  /** scope is res.locals (one per request, shared by every middleware): see HttpRequest.scope. */
  override get scope(): object | undefined {
    this.#scope ??= this.#res.locals as object | undefined;
    return this.#scope;
  }
}

/**
 * rateLimit returns Express middleware that limits each client. Mount it on
 * the app, a router or one route; every response carries the RateLimit
 * headers, refused requests get a 429 problem+json response. By default the
 * client is the socket peer; behind proxies pass `trustProxy`, or
 * `clientIp: "framework"` to use `req.ip` under Express's own `trust proxy`
 * setting (a warning is printed once if that setting trusts everyone). The
 * route of a rule is `req.route.path` when mounted on a route, else the URL
 * path matched against the `routes` patterns.
 *
 * Stacked limiters (app-wide and on a route, as below) each count the request
 * and merge their RateLimit fields, each policy once. The same middleware
 * mounted twice on one request's path counts it once (FG_DOUBLE_COUNT is
 * warned). A configuration error, such as ERR_INVALID_CLOCK from a broken
 * injected `now`, goes to `next(err)`, Express's error handler.
 *
 * @example
 * import express from "express";
 * import { tokenBucket } from "floodgate";
 * import { rateLimit } from "floodgate/express";
 *
 * const app = express();
 * app.use(rateLimit({ policy: tokenBucket({ capacity: 100, refillRate: 10 }) }));
 * app.post("/login", rateLimit({ policy: tokenBucket({ name: "login", capacity: 5, refillRate: 0.1 }) }), (req, res) => {
 *   res.send("welcome");
 * });
 * app.get("/", (req, res) => res.send("hello"));
 * app.listen(3000);
 */
export function rateLimit(options: ExpressRateLimitOptions): RequestHandler {
  const core = new HttpRateLimit<Request>(options, "rateLimit");
  let checked = false;
  return function floodgateExpress(req: Request, res: Response, next: NextFunction): void {
    if (!checked) {
      checked = true;
      checkTrust(core, req, options.clientIp === "framework", options.trustProxy !== undefined);
    }
    const view = new ExpressRequest(req, res);
    let out: HttpOutcome | Promise<HttpOutcome>;
    try {
      out = core.check(view);
    } catch (err) {
      next(err);
      return;
    }
    if (out instanceof Promise) {
      out.then((o) => {
        let proceed: boolean;
        try {
          proceed = sendOutcome(core, o, view, res);
        } catch (err) {
          next(err);
          return;
        }
        if (proceed) next();
      }, next);
      return;
    }
    if (sendOutcome(core, out, view, res)) next();
  };
}

/** checkTrust warns once about an Express `trust proxy` setting that does not match how the client is read. */
function checkTrust(core: HttpRateLimit<Request>, req: Request, framework: boolean, ownTrust: boolean): void {
  const setting = req.app?.get?.("trust proxy");
  if (framework) {
    if (setting === true) {
      core.warn(
        "FG_TRUST_PROXY_ALL",
        'Express "trust proxy" is true, so req.ip is the leftmost X-Forwarded-For address, which any client can forge to get a fresh limit; set it to your proxies (app.set("trust proxy", "loopback") or a hop count such as 1).',
      );
    } else if (setting === false || setting === undefined) {
      core.warn(
        "FG_TRUST_PROXY_OFF",
        'clientIp: "framework" is set but Express "trust proxy" is off, so req.ip is the socket peer; behind a proxy every client shares the proxy\'s limit. Set app.set("trust proxy", ...) to your proxies.',
      );
    }
  } else if (!ownTrust && setting !== undefined && setting !== false) {
    core.warn(
      "FG_TRUST_PROXY_IGNORED",
      'Express "trust proxy" is set but floodgate keys by the socket peer; pass clientIp: "framework" to use req.ip, or trustProxy to floodgate.',
    );
  }
}
