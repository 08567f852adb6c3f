// fastify.ts: floodgate/fastify: a Fastify plugin: an onRequest hook, per-route config, 404s limited too.

import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest, RouteOptions } from "fastify";
import { describe, FloodgateTypeError } from "../core/errors.js";
import {
  checkRouteRule,
  type HttpOutcome,
  HttpRateLimit,
  type HttpRateLimitOptions,
  type Selection,
} from "../http/core.js";
import type { HeaderAccess } from "../http/response.js";
import { IncomingView } from "./incoming.js";

/** FastifyRateLimitOptions configures the plugin; see HttpRateLimitOptions. */
export type FastifyRateLimitOptions = HttpRateLimitOptions<FastifyRequest>;

/**
 * FastifyRouteRateLimit is a route's `config.rateLimit`: `false` leaves the
 * route unlimited; an object gives it its own policy and cost, in a bucket of
 * its own (named after the route pattern unless `bucket` is given). It is
 * checked when the route is registered (a cost of 2.5 fails `app.get(...)`).
 */
export type FastifyRouteRateLimit = Selection | false;

declare module "fastify" {
  interface FastifyContextConfig {
    rateLimit?: FastifyRouteRateLimit;
  }
}

/** ROUTE_KEYS are the keys a route's config.rateLimit may have. */
const ROUTE_KEYS = ["policy", "cost", "bucket"] as const;

/** FastifyHttpRequest is the core's view of a Fastify request: its route pattern and request.ip. */
class FastifyHttpRequest extends IncomingView<FastifyRequest> {
  #options: FastifyRequest["routeOptions"] | undefined;
  /** routeOptions reads request.routeOptions once: Fastify builds a new object on every read. */
  get routeOptions(): FastifyRequest["routeOptions"] {
    this.#options ??= this.raw.routeOptions;
    return this.#options;
  }
  override get route(): string | undefined {
    return this.routeOptions?.url;
  }
  override get frameworkIp(): string | undefined {
    return this.raw.ip;
  }
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof x === "object" && x !== null && typeof (x as PromiseLike<unknown>).then === "function";
}

/** routeName names a route in errors: "GET /items/:id". */
function routeName(method: string | readonly string[] | undefined, url: string | undefined): string {
  return `${Array.isArray(method) ? method.join(",") : (method ?? "")} ${url ?? ""}`.trim();
}

/**
 * checkRouteConfig validates a route's config.rateLimit (see checkRouteRule); each
 * config object is checked once (`checked`), at registration or, for a route
 * registered before the plugin, at its first request.
 */
function checkRouteConfig(checked: WeakSet<object>, cfg: unknown, route: string): void {
  if (cfg === undefined || cfg === false) return;
  if (typeof cfg === "object" && cfg !== null && checked.has(cfg)) return;
  checkRouteRule(`route ${JSON.stringify(route)} config.rateLimit`, cfg, ROUTE_KEYS);
  checked.add(cfg as object);
}

/** routeSelect puts a route's config.rateLimit in front of the user's select function. */
function routeSelect(
  user: FastifyRateLimitOptions["select"],
  checked: WeakSet<object>,
): NonNullable<FastifyRateLimitOptions["select"]> {
  return function floodgateFastifySelect(req) {
    const options = (req as FastifyHttpRequest).routeOptions;
    const cfg = options?.config?.rateLimit;
    if (cfg === false) return false;
    if (cfg !== undefined) checkRouteConfig(checked, cfg, routeName(options.method, options.url));
    const base: Selection | undefined = cfg === undefined ? undefined : { bucket: options.url ?? "", ...cfg };
    if (user === undefined) return base;
    const s = user(req);
    const combine = (x: Selection | undefined | false): Selection | undefined | false =>
      x === false ? false : base === undefined ? x : x === undefined ? base : { ...base, ...x };
    return isThenable(s) ? Promise.resolve(s).then(combine) : combine(s);
  };
}

/** inspectTrust warns once when request.ip suggests an unsafe or missing Fastify trustProxy. */
function inspectTrust(core: HttpRateLimit<FastifyRequest>, request: FastifyRequest, count: () => void): void {
  const xff = request.headers["x-forwarded-for"];
  if (typeof xff !== "string" || xff === "") return;
  count();
  const hops = xff.split(",").map((s) => s.trim());
  if (request.ip === request.raw.socket?.remoteAddress) {
    core.warn(
      "FG_TRUST_PROXY_OFF",
      'clientIp: "framework" is set but Fastify ignores X-Forwarded-For (trustProxy off), so request.ip is the socket peer; behind a proxy every client shares the proxy\'s limit.',
    );
  } else if (hops.length >= 2 && request.ip === hops[0]) {
    core.warn(
      "FG_TRUST_PROXY_ALL",
      "Fastify resolved request.ip to the leftmost X-Forwarded-For address, which any client can forge to get a fresh limit; if trustProxy is true, set it to your proxies (an address list or a hop count).",
    );
  }
}

/** REPLY is the HeaderAccess of a Fastify reply. */
const REPLY: HeaderAccess<FastifyReply> = {
  get(reply, name) {
    const v = reply.getHeader(name);
    return v === undefined ? undefined : Array.isArray(v) ? v.join(", ") : String(v);
  },
  set(reply, name, value) {
    // Fastify lower-cases every name it stores (and sends them so); passing the two
    // fields of every response in lower case saves that copy per field.
    reply.header(name === "RateLimit" ? "ratelimit" : name === "RateLimit-Policy" ? "ratelimit-policy" : name, value);
  },
};

/** send applies an outcome to the reply; it returns true when the request may proceed. */
function send(
  core: HttpRateLimit<FastifyRequest>,
  out: HttpOutcome,
  view: FastifyHttpRequest,
  reply: FastifyReply,
): boolean {
  core.setHeaders(out, view, reply, REPLY);
  if (!out.limited) return true;
  reply.code(out.status).send(out.body);
  return false;
}

/**
 * rateLimit is a Fastify plugin that limits each client with an `onRequest`
 * hook. Registered on the root instance it covers every route and the 404
 * handler (so probing unknown paths is limited too); registered inside an
 * encapsulated context (`app.register(async (api) => { api.register(rateLimit, ...) })`)
 * it covers that context only, as fastify-plugin would arrange. A route opts
 * out or gets its own limit with `config: { rateLimit: false | { policy, cost } }`,
 * keyed by its route pattern; a bad one (a cost of 2.5, an unknown key) fails
 * the route's registration with a coded error. By default the client is the socket peer; pass
 * `trustProxy`, or `clientIp: "framework"` to use `request.ip` under Fastify's
 * `trustProxy` (a warning is printed once if that trusts everyone).
 *
 * Registered at the root and again in a route's encapsulated context, the two
 * limiters both count the request and merge their RateLimit fields, each
 * policy once. A configuration error, such as ERR_INVALID_CLOCK from a broken
 * injected `now`, goes to Fastify's error handler (a 500 by default).
 *
 * @example
 * import Fastify from "fastify";
 * import { tokenBucket } from "floodgate";
 * import { rateLimit } from "floodgate/fastify";
 *
 * const app = Fastify();
 * await app.register(rateLimit, { policy: tokenBucket({ capacity: 100, refillRate: 10 }) });
 * app.get("/", async () => "hello");
 * app.post("/login", { config: { rateLimit: { policy: tokenBucket({ name: "login", capacity: 5, refillRate: 0.1 }) } } }, async () => "welcome");
 * await app.listen({ port: 3000 });
 */
export const rateLimit: FastifyPluginCallback<FastifyRateLimitOptions> = function floodgateFastify(
  fastify: FastifyInstance,
  options: FastifyRateLimitOptions,
  done: (err?: Error) => void,
): void {
  let core: HttpRateLimit<FastifyRequest>;
  const checked = new WeakSet<object>();
  try {
    if (options?.select !== undefined && typeof options.select !== "function") {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: rateLimit({ select }) must be a function, got ${describe(options.select)}.`,
      );
    }
    core = new HttpRateLimit<FastifyRequest>({ ...options, select: routeSelect(options.select, checked) }, "rateLimit");
  } catch (err) {
    done(err as Error);
    return;
  }
  // Fastify does not expose its trustProxy setting, so the first requests that
  // carry X-Forwarded-For are inspected instead (a bounded number of them).
  let inspect = options.clientIp === "framework" ? 1000 : 0;
  // A route's config.rateLimit is checked as the route is registered: a bad one fails app.get(...).
  fastify.addHook("onRoute", function floodgateOnRoute(route: RouteOptions): void {
    checkRouteConfig(checked, route.config?.rateLimit, routeName(route.method, route.url));
  });
  fastify.addHook(
    "onRequest",
    function floodgateOnRequest(request: FastifyRequest, reply: FastifyReply, next: (err?: Error) => void): void {
      if (inspect > 0) inspectTrust(core, request, () => inspect--);
      const view = new FastifyHttpRequest(request, request.raw);
      let out: HttpOutcome | Promise<HttpOutcome>;
      try {
        out = core.check(view);
      } catch (err) {
        next(err as Error);
        return;
      }
      if (out instanceof Promise) {
        out.then((o) => {
          let proceed: boolean;
          try {
            proceed = send(core, o, view, reply);
          } catch (err) {
            next(err as Error);
            return;
          }
          if (proceed) next();
        }, next);
        return;
      }
      if (send(core, out, view, reply)) next();
    },
  );
  done();
};

// fastify-plugin semantics without the dependency: the hook applies to the
// context the plugin is registered in, not to a new child context.
Object.assign(rateLimit, {
  [Symbol.for("skip-override")]: true,
  [Symbol.for("fastify.display-name")]: "floodgate",
  [Symbol.for("plugin-meta")]: { name: "floodgate", fastify: ">=4" },
});

export default rateLimit;
