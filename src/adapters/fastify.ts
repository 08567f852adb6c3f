// fastify.ts: floodgate/fastify: a Fastify plugin: an onRequest hook, per-route config, 404s limited too.

import type { IncomingMessage } from "node:http";
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest, RouteOptions } from "fastify";
import { describe, FloodgateTypeError } from "../core/errors.js";
import {
  checkRouteRule,
  type HttpOutcome,
  HttpRateLimit,
  type HttpRateLimitOptions,
  type HttpRequest,
  type Selection,
} from "../http/core.js";
import type { HeaderAccess } from "../http/response.js";
import { pathOnly } from "../http/routes.js";

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

/** RouteConfig is what the adapter reads of a route's config: Fastify's copy of `config` with the route's url and method. */
interface RouteConfig {
  readonly url?: string;
  readonly method?: string | readonly string[];
  readonly rateLimit?: FastifyRouteRateLimit;
}

/**
 * ContextKey finds a route's config without `request.routeOptions`, which builds
 * a new object of twelve fields on every read (about 1% of a hello-world
 * server's CPU in a profile, beside floodgate's own 0.3%). Fastify keeps the
 * matched route's context under a private symbol ("fastify.context") whose
 * `config` is the very object routeOptions returns as `config`. The symbol is
 * looked up on the first request and kept only if that identity holds there;
 * otherwise (another Fastify) every request reads routeOptions, the public way.
 */
class ContextKey {
  /** #key is the symbol, null when routeOptions must be read, undefined before the first request. */
  #key: symbol | null | undefined;
  config(request: FastifyRequest): RouteConfig | undefined {
    let key = this.#key;
    if (key === undefined) key = this.#find(request);
    if (key === null) return request.routeOptions?.config as RouteConfig | undefined;
    return (request as unknown as Record<symbol, { config?: RouteConfig } | undefined>)[key]?.config;
  }
  /** #find looks for the symbol; a request without a config to compare with (none seen so far) decides nothing. */
  #find(request: FastifyRequest): symbol | null {
    const expected = request.routeOptions?.config;
    if (expected === undefined || expected === null) return null;
    let found: symbol | null = null;
    for (const s of Object.getOwnPropertySymbols(request)) {
      if (s.description !== "fastify.context") continue;
      const context = (request as unknown as Record<symbol, { config?: unknown } | undefined>)[s];
      if (context?.config === expected) found = s;
      break;
    }
    this.#key = found;
    return found;
  }
}

/**
 * FastifyHttpRequest is the core's view of a Fastify request (what key, select
 * and skip functions read): the node request's method, URL, peer and headers,
 * the matched route's config (read once, as the view is made: the route
 * selection needs it for every request) and pattern, and request.ip. Its own
 * class, not a subclass of the node adapters' IncomingView (perf: one flat
 * object whose fields are set in the constructor, and no getter chain through a
 * generic base: 3,484 -> 3,212 instructions per request, bench/http-fastify-hook.sh).
 */
class FastifyHttpRequest implements HttpRequest<FastifyRequest> {
  readonly raw: FastifyRequest;
  readonly msg: IncomingMessage;
  /** config is the matched route's config (url, method, rateLimit); undefined when Fastify has none. */
  readonly config: RouteConfig | undefined;
  constructor(request: FastifyRequest, contexts: ContextKey) {
    this.raw = request;
    this.msg = request.raw;
    this.config = contexts.config(request);
  }
  get method(): string {
    return this.msg.method ?? "GET";
  }
  get url(): string {
    return this.msg.url ?? "/";
  }
  get path(): string {
    return pathOnly(this.url);
  }
  get route(): string | undefined {
    return this.config?.url;
  }
  get peer(): string | undefined {
    return this.msg.socket?.remoteAddress;
  }
  get frameworkIp(): string | undefined {
    return this.raw.ip;
  }
  get scope(): object | undefined {
    return undefined;
  }
  /** header returns a request header (lower-case name), repeated ones joined with ", ". */
  header(name: string): string | undefined {
    const v = this.msg.headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
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

/**
 * routeSelect puts a route's config.rateLimit in front of the user's select
 * function. Each route's selection (its config.rateLimit in a bucket named after
 * the route) is built once per config object.
 */
function routeSelect(
  user: FastifyRateLimitOptions["select"],
  checked: WeakSet<object>,
): NonNullable<FastifyRateLimitOptions["select"]> {
  const bases = new WeakMap<RouteConfig, Selection>();
  return function floodgateFastifySelect(req) {
    const config = (req as FastifyHttpRequest).config;
    const cfg = config?.rateLimit;
    if (cfg === false) return false;
    let base: Selection | undefined;
    if (cfg !== undefined) {
      const c = config as RouteConfig;
      base = bases.get(c);
      if (base === undefined) {
        checkRouteConfig(checked, cfg, routeName(c.method, c.url));
        base = { bucket: c.url ?? "", ...cfg };
        bases.set(c, base);
      }
    }
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

/** replyGet reads a field of a Fastify reply (several values joined with ", "). */
function replyGet(reply: FastifyReply, name: string): string | undefined {
  const v = reply.getHeader(name);
  return v === undefined ? undefined : Array.isArray(v) ? v.join(", ") : String(v);
}

/** Fields is Fastify's header object of a reply, as far as ReplyFields writes it. */
interface Fields {
  ratelimit?: string;
  "ratelimit-policy"?: string;
}

/**
 * ReplyFields is the HeaderAccess of a Fastify reply. The RateLimit and
 * RateLimit-Policy fields of every response are written straight into the
 * object Fastify keeps a reply's headers in (under its private symbol
 * "fastify.reply.headers", keyed by lower-case name, sent at writeHead), as
 * `reply.header` would store them: that saves `reply.header`'s lower-casing and
 * its set-cookie checks per field (perf: 4,202 -> 3,484 instructions per request,
 * bench/http-fastify-hook.sh). The symbol is looked up on the first reply that
 * gets one of the two fields, which is written through `reply.header`; it is kept
 * only if `reply.header` stored exactly that value in that object and
 * `reply.getHeader` reads it back. Otherwise (another Fastify, a stand-in reply)
 * every field goes through `reply.header`, the public way. Every other field
 * (a 429's Retry-After, the legacy trio) always goes through `reply.header`.
 */
class ReplyFields implements HeaderAccess<FastifyReply> {
  /** #key is the symbol, null when reply.header must be used, undefined before the first reply. */
  #key: symbol | null | undefined;
  get(reply: FastifyReply, name: string): string | undefined {
    return replyGet(reply, name);
  }
  set(reply: FastifyReply, name: string, value: string): void {
    const lower = name === "RateLimit" ? "ratelimit" : name === "RateLimit-Policy" ? "ratelimit-policy" : undefined;
    if (lower === undefined) {
      reply.header(name, value);
      return;
    }
    const key = this.#key;
    if (key !== undefined && key !== null) {
      const headers = (reply as unknown as Record<symbol, unknown>)[key] as Fields;
      // Perf: one store site per name (a named store, not a keyed one switching between two names).
      if (lower === "ratelimit") headers.ratelimit = value;
      else headers["ratelimit-policy"] = value;
      return;
    }
    // Fastify lower-cases every name it stores (and sends them so); passing the two
    // fields in lower case saves that copy per field.
    reply.header(lower, value);
    if (key === undefined) this.#key = ReplyFields.#find(reply, lower, value);
  }
  /** #find returns the symbol of the reply's header object, if reply.header has just stored `value` under `lower` in it. */
  static #find(reply: FastifyReply, lower: string, value: string): symbol | null {
    if (typeof reply !== "object" || reply === null) return null;
    for (const s of Object.getOwnPropertySymbols(reply)) {
      if (s.description !== "fastify.reply.headers") continue;
      const headers: unknown = (reply as unknown as Record<symbol, unknown>)[s];
      if (typeof headers !== "object" || headers === null || Array.isArray(headers)) return null;
      if (!Object.hasOwn(headers, lower) || (headers as Record<string, unknown>)[lower] !== value) return null;
      if (typeof reply.getHeader !== "function" || reply.getHeader(lower) !== value) return null;
      return s;
    }
    return null;
  }
}

/** send applies an outcome to the reply; it returns true when the request may proceed. */
function send(
  core: HttpRateLimit<FastifyRequest>,
  out: HttpOutcome,
  view: FastifyHttpRequest,
  reply: FastifyReply,
  fields: ReplyFields,
): boolean {
  core.setHeaders(out, view, reply, fields);
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
  const contexts = new ContextKey();
  const fields = new ReplyFields();
  // A route's config.rateLimit is checked as the route is registered: a bad one fails app.get(...).
  fastify.addHook("onRoute", function floodgateOnRoute(route: RouteOptions): void {
    checkRouteConfig(checked, route.config?.rateLimit, routeName(route.method, route.url));
  });
  fastify.addHook(
    "onRequest",
    function floodgateOnRequest(request: FastifyRequest, reply: FastifyReply, next: (err?: Error) => void): void {
      if (inspect > 0) inspectTrust(core, request, () => inspect--);
      const view = new FastifyHttpRequest(request, contexts);
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
            proceed = send(core, o, view, reply, fields);
          } catch (err) {
            next(err as Error);
            return;
          }
          if (proceed) next();
        }, next);
        return;
      }
      if (send(core, out, view, reply, fields)) next();
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
