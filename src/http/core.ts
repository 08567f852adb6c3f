// core.ts: the framework-neutral HTTP rate limiter: request in, pass (with headers) or refuse (429) out.

import { describe, FloodgateError, FloodgateRangeError, FloodgateTypeError } from "../core/errors.js";
import type { Decision, Policy } from "../core/policy.js";
import { checkOptions, MAX_LIMIT } from "../core/validate.js";
import { type CallOptions, checkPolicies, isRateLimiter, RateLimiter } from "../limiter.js";
import { isMemoryStore } from "../stores/memory.js";
import type { Store } from "../stores/store.js";
import { type HeaderList, headerList, policyHeader, retryAfterSeconds, secondsUp } from "./headers.js";
import {
  compileCidrs,
  compileTrust,
  matchAny,
  type ProxyHeader,
  resolveClient,
  type Trust,
  type TrustProxy,
} from "./identity.js";
import { type Cidr, type Ip, ipKey, parseIp } from "./ip.js";
import { joinKey, type KeyPart } from "./key.js";
import { costDetail, problemBody, quotaDetail, STORE_DETAIL } from "./problem.js";
import { type HeaderAccess, mergeHeaders, writeHeaders } from "./response.js";
import { compileRoute, normalizePath, type RoutePattern, routeMatches } from "./routes.js";

export { QUOTA_EXCEEDED, TEMPORARY_REDUCED_CAPACITY } from "./problem.js";

/**
 * HttpRequest is what an adapter tells the core about a request. Header names
 * passed to `header` are lower case; it returns undefined for a missing header.
 */
export interface HttpRequest<Raw = unknown> {
  /** method is the upper-case request method. */
  readonly method: string;
  /** url is the request target as received (path and query). */
  readonly url: string;
  /** path is the url without its query and fragment, as received (for skip rules such as `req.path === "/health"`). */
  readonly path: string;
  /** route is the framework's route pattern ("/users/:id"), when the framework has matched one. */
  readonly route: string | undefined;
  /** peer is the socket's remote address, when the runtime exposes it. */
  readonly peer: string | undefined;
  /** frameworkIp is the client IP the framework derived under its own trust settings (Express req.ip). */
  readonly frameworkIp?: string | undefined;
  /** header returns a request header's value (several values joined with ", "). */
  header(name: string): string | undefined;
  /**
   * raw is the framework's own request or context object, for key, select and
   * skip functions. It must be one object per request: the core marks it, and a
   * second check of the same object by the same limiter is not counted.
   */
  readonly raw: Raw;
  /**
   * scope is the per-request object the core remembers its passes on (which
   * limiters checked the request), when it should not be `raw`: default `raw`.
   * Express gives `res.locals`: reading or adding a property on Express's `req`
   * (whose prototype Express swaps per request) costs microseconds, on the
   * null-prototype `res.locals` nanoseconds. Koa gives `ctx.state`.
   */
  readonly scope?: object | undefined;
}

/** KeyResult is what a key function returns: a key, key parts, or undefined to key by client IP. */
export type KeyResult = string | readonly KeyPart[] | undefined;

/** Selection is what a route rule or a select function picks for a request. */
export interface Selection {
  /** policy replaces the default policy (a tier, a stricter route limit). */
  policy?: Policy | readonly Policy[];
  /**
   * cost is what the request spends, a whole number >= 0; default 1. A route
   * rule's cost is checked at construction; a bad cost returned by `select`
   * (2.5, -1, "2", NaN) is reported to onError and answered like a store
   * failure (onStoreError), never a 500.
   */
  cost?: number;
  /**
   * bucket separates this request's usage from the client's other requests
   * (each route rule is its own bucket). Use a small fixed set of names (a
   * route pattern, a tier), never raw request text.
   */
  bucket?: string;
}

/** RouteRule limits the requests that match a route pattern; `false` leaves them unlimited. */
export type RouteRule = Omit<Selection, "bucket"> | false;

/** LimitedInfo describes a refused request (or, in shadow mode, one that would have been). */
export interface LimitedInfo<Raw = unknown> {
  readonly request: HttpRequest<Raw>;
  /**
   * reason: "quota" (a policy is exhausted), "cost" (the cost exceeds a policy's
   * limit), "store" (the store failed, or select returned a bad cost: no decision
   * could be made).
   */
  readonly reason: "quota" | "cost" | "store";
  /** decision is the limiter's verdict ("quota" only). */
  readonly decision: Decision | undefined;
  /** key is the store key (hashed parts only, never a raw secret). */
  readonly key: string;
  /** violatedPolicies names the policies that refused. */
  readonly violatedPolicies: readonly string[];
  /** retryAfterSeconds is the Retry-After sent. */
  readonly retryAfterSeconds: number;
  /** shadow is true when the request was let through because of shadow mode. */
  readonly shadow: boolean;
  /** problem is the default RFC 9457 body. */
  readonly problem: Readonly<Record<string, unknown>>;
}

/** Warning is a doubtful setup reported once through onWarning. */
export interface Warning {
  readonly code: string;
  readonly message: string;
}

/** HttpRateLimitOptions configures the HTTP core and every adapter. */
export interface HttpRateLimitOptions<Raw = unknown> {
  /** limiter is a RateLimiter to use; or give `policy` (and optionally `store`, `now`). */
  limiter?: RateLimiter;
  /** policy is the default policy, one or several (all-or-nothing). */
  policy?: Policy | readonly Policy[];
  /** store keeps the state (default: a new MemoryStore). Ignored with `limiter`. */
  store?: Store;
  /** now is the clock in milliseconds (tests). Ignored with `limiter`. */
  now?: () => number;
  /**
   * key names the client: a string, key parts (`["user", id]`, `[{ secret: apiKey }]`)
   * or undefined to fall back to the client IP. It may return a promise.
   */
  key?: (req: HttpRequest<Raw>) => KeyResult | Promise<KeyResult>;
  /** trustProxy says which forwarding information to believe. Default false (socket peer only). */
  trustProxy?: TrustProxy;
  /** proxyHeader is the header your proxies append to. Default "x-forwarded-for". */
  proxyHeader?: ProxyHeader;
  /** clientIp "framework" uses the IP the framework resolved (Express `trust proxy`); default "peer". */
  clientIp?: "peer" | "framework";
  /** ipv6Prefix is the prefix length IPv6 clients are keyed by. Default 64. */
  ipv6Prefix?: number;
  /** ipv4Prefix is the prefix length IPv4 clients are keyed by. Default 32. */
  ipv4Prefix?: number;
  /** routes maps route patterns ("POST /login", "/search/*") to their own limits, each its own bucket. */
  routes?: Readonly<Record<string, RouteRule>>;
  /** select picks the policy, cost and bucket per request (tiers); false leaves the request unlimited. */
  select?: (req: HttpRequest<Raw>) => Selection | undefined | false | Promise<Selection | undefined | false>;
  /** cost is the default cost of a request. Default 1. */
  cost?: number;
  /** skip returns true for requests that are never limited (health checks). It may return a promise. */
  skip?: (req: HttpRequest<Raw>) => boolean | Promise<boolean>;
  /** allowList lists client networks (CIDRs, presets) that are never limited. */
  allowList?: readonly string[];
  /** shadow computes decisions and headers but never refuses; refusals are reported to onLimited. */
  shadow?: boolean;
  /** standardHeaders sends RateLimit-Policy and RateLimit. Default true. */
  standardHeaders?: boolean;
  /** legacyHeaders sends X-RateLimit-Limit/-Remaining/-Reset. Default false. */
  legacyHeaders?: boolean;
  /** problem builds the 429 body from the default one (info.problem); it is sent as application/problem+json. */
  problem?: (info: LimitedInfo<Raw>) => Record<string, unknown>;
  /** onLimited is told about every refusal (and, in shadow mode, every would-be refusal). */
  onLimited?: (info: LimitedInfo<Raw>) => void;
  /**
   * onStoreError decides when no decision can be made (the store throws, or select
   * returned a bad cost): "allow" (default) lets the request through, "deny"
   * refuses it (429, temporary-reduced-capacity).
   */
  onStoreError?: "allow" | "deny";
  /**
   * onError is told about store failures, bad costs from select and errors thrown
   * by the onLimited hook (node withRateLimit: also about the errors it answers 500 for).
   */
  onError?: (error: unknown, req: HttpRequest<Raw>) => void;
  /** onWarning receives doubtful setups, once each. Default: console.warn. */
  onWarning?: (warning: Warning) => void;
}

/** HttpOutcome is the core's answer: headers to add, and for a refusal the status and body. */
export interface HttpOutcome {
  /** limited is true when the request must be refused with `status` and `body`. */
  readonly limited: boolean;
  /** status is 429 for a refusal, else 200 (the adapter leaves the status to the app). */
  readonly status: number;
  /** headers are the fields to set, for passes and refusals alike. */
  readonly headers: HeaderList;
  /** body is the problem+json text of a refusal. */
  readonly body: string | undefined;
  /** decision is the limiter's verdict, when one was made. */
  readonly decision: Decision | undefined;
}

const PASS: HttpOutcome = Object.freeze({
  limited: false,
  status: 200,
  headers: Object.freeze([]) as unknown as HeaderList,
  body: undefined,
  decision: undefined,
});

const KNOWN = [
  "limiter",
  "policy",
  "store",
  "now",
  "key",
  "trustProxy",
  "proxyHeader",
  "clientIp",
  "ipv6Prefix",
  "ipv4Prefix",
  "routes",
  "select",
  "cost",
  "skip",
  "allowList",
  "shadow",
  "standardHeaders",
  "legacyHeaders",
  "problem",
  "onLimited",
  "onStoreError",
  "onError",
  "onWarning",
];

/**
 * FORWARDED_SAMPLE: one request in this many (the first included) is looked at for
 * ignored forwarding headers, until one is seen. Perf: in node the first read of a
 * request header builds IncomingMessage.headers, about 0.6% of a hello-world
 * Fastify server's CPU when one request in 16 was looked at (measured with
 * --cpu-prof, bench/results/http.md); behind a proxy every request carries the
 * header, so the first request finds it as surely.
 */
const FORWARDED_SAMPLE = 256;

/** PEER_CACHE_SIZE bounds the cache of socket address -> key; it is cleared when full. */
const PEER_CACHE_SIZE = 4096;

/**
 * PASSES marks a framework request with the limiters that have checked it: the
 * first one itself, then an array of them. A registered symbol, so the ESM and
 * CJS copies of floodgate in one process see each other's marks. (A WeakMap keyed
 * by the request, which writes nothing on it, was measured: about 350 ns more per
 * request through the Express adapter, most of it garbage collection of the
 * weak entries; the symbol property is within noise of no mark at all.)
 */
const PASSES: unique symbol = Symbol.for("floodgate.http.passes") as never;

type Marked = { [PASSES]?: HttpRateLimit<never> | HttpRateLimit<never>[] };

/** scopeOf returns the object a request's passes are remembered on (`scope`, else `raw`), or undefined. */
function scopeOf(req: HttpRequest<unknown>): Marked | undefined {
  const s = req.scope ?? req.raw;
  return typeof s === "object" && s !== null ? (s as Marked) : undefined;
}

interface Rule {
  readonly pattern: RoutePattern;
  readonly rule: RouteRule;
}

function isThenable<T>(x: unknown): x is PromiseLike<T> {
  return typeof x === "object" && x !== null && typeof (x as PromiseLike<T>).then === "function";
}

/**
 * isConfigError reports whether `err` is a floodgate error that says the setup is
 * wrong (ERR_INVALID_*, ERR_UNKNOWN_OPTION: a broken injected clock, a bad policy),
 * as opposed to a store that could not answer. Such an error is a bug to surface,
 * never an outage to let traffic through for.
 */
export function isConfigError(err: unknown): boolean {
  if (!(err instanceof FloodgateTypeError || err instanceof FloodgateRangeError || err instanceof FloodgateError)) {
    return false;
  }
  const code: string = err.code;
  return code.startsWith("ERR_INVALID_") || code === "ERR_UNKNOWN_OPTION";
}

/**
 * checkRouteRule validates a route's rule where it is declared (`routes` of the
 * options; Fastify's `config.rateLimit` when the route is registered): false, or
 * an object of the `keys` given with a policy that validates, a whole-number cost
 * >= 0 and a string bucket. `where` names the rule in the error.
 */
export function checkRouteRule(where: string, rule: unknown, keys: readonly string[]): void {
  if (rule === false) return;
  if (rule === null || typeof rule !== "object" || Array.isArray(rule)) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${where} must be { ${keys.join(", ")} } or false, got ${describe(rule)}.`,
    );
  }
  const r = checkOptions(where, rule, keys) as Selection;
  if (r.policy !== undefined) checkPolicies(`${where}.policy`, r.policy);
  if (r.cost !== undefined && !isCost(r.cost)) {
    const Err = typeof r.cost === "number" ? FloodgateRangeError : FloodgateTypeError;
    throw new Err(
      "ERR_INVALID_OPTION",
      `floodgate: ${where}.cost must be a whole number from 0 to ${MAX_LIMIT}, got ${describe(r.cost)}${typeof r.cost === "number" ? "" : ` (${typeof r.cost})`}; a request spends whole units: use 1, 2, 3, or scale the policy up (capacity 1000, cost 25) for finer steps.`,
    );
  }
  if (r.bucket !== undefined && typeof r.bucket !== "string") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${where}.bucket must be a string naming the bucket, got ${describe(r.bucket)}; leave it out to use the route pattern.`,
    );
  }
}

/** isCost reports whether `x` is a valid cost: a whole number from 0 to MAX_LIMIT. */
function isCost(x: unknown): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= MAX_LIMIT;
}

/**
 * HttpRateLimit is the shared core every adapter calls: it names the client,
 * picks the policy and cost, asks its RateLimiter (the one decision path:
 * consumeSync for a memory store, consume otherwise), and answers with the
 * headers to add and, for a refusal, a 429 with an RFC 9457 body. A store
 * failure never throws: onStoreError decides, and onError is told. A
 * configuration error (a coded ERR_INVALID_*, such as ERR_INVALID_CLOCK from a
 * broken injected `now`) is thrown, so the framework's error path shows it.
 *
 * @example
 * import { HttpRateLimit } from "floodgate/http";
 * import { tokenBucket } from "floodgate";
 * const core = new HttpRateLimit({ policy: tokenBucket({ capacity: 10, refillRate: 1 }) });
 * const out = await core.check({ method: "GET", url: "/", path: "/", route: undefined, peer: "127.0.0.1", header: () => undefined, raw: null });
 * // out.limited, out.headers, out.body
 */
export class HttpRateLimit<Raw = unknown> {
  readonly limiter: RateLimiter;
  /** #sync is true when the limiter's store is a MemoryStore: decisions use consumeSync, no promise. */
  readonly #sync: boolean;
  readonly #o: HttpRateLimitOptions<Raw>;
  readonly #trust: Trust;
  readonly #allow: Cidr[] | undefined;
  readonly #rules: Rule[];
  readonly #cost: number;
  /** #costArg (perf) is what the default cost is passed to the limiter as: undefined for 1, its unit-cost fast path. */
  readonly #costArg: number | undefined;
  readonly #v4: number;
  readonly #v6: number;
  readonly #headerOptions: { standardHeaders: boolean; legacyHeaders: boolean };
  readonly #warned = new Set<string>();
  readonly #peerKeys = new Map<string, string>();
  /** #lastPeer and #lastPeerKey (perf) are the latest socket peer and its key, in front of #peerKeys. */
  #lastPeer: string | undefined;
  #lastPeerKey = "";
  /** #watchForwarded is true while the client is the socket peer and no forwarding header has been seen yet. */
  #watchForwarded: boolean;
  /** #forwardedTick counts requests modulo FORWARDED_SAMPLE while #watchForwarded: see #sampleForwarded. */
  #forwardedTick = 0;

  constructor(options: HttpRateLimitOptions<Raw>, where = "rateLimit") {
    const o = checkOptions(where, options, KNOWN) as HttpRateLimitOptions<Raw>;
    if (o.limiter !== undefined) {
      if (!isRateLimiter(o.limiter)) {
        throw new FloodgateTypeError(
          "ERR_INVALID_OPTION",
          `floodgate: ${where}({ limiter }) must be a RateLimiter, got ${describe(o.limiter)}; pass new RateLimiter({ policy }).`,
        );
      }
      if (o.policy !== undefined || o.store !== undefined || o.now !== undefined) {
        throw new FloodgateTypeError(
          "ERR_INVALID_OPTION",
          `floodgate: ${where}() takes either { limiter } or { policy, store, now }, not both; configure the RateLimiter you pass.`,
        );
      }
      this.limiter = o.limiter;
    } else {
      if (o.policy === undefined) {
        throw new FloodgateTypeError(
          "ERR_INVALID_OPTION",
          `floodgate: ${where}() needs a { policy } (such as tokenBucket({ capacity: 100, refillRate: 10 })) or a { limiter }.`,
        );
      }
      this.limiter = new RateLimiter({
        policy: o.policy,
        ...(o.store !== undefined ? { store: o.store } : {}),
        ...(o.now !== undefined ? { now: o.now } : {}),
      });
    }
    this.#sync = isMemoryStore(this.limiter.store);
    for (const fn of ["key", "select", "skip", "problem", "onLimited", "onError", "onWarning"] as const) {
      if (o[fn] !== undefined && typeof o[fn] !== "function") {
        throw new FloodgateTypeError(
          "ERR_INVALID_OPTION",
          `floodgate: ${where}({ ${fn} }) must be a function, got ${describe(o[fn])}.`,
        );
      }
    }
    if (o.onStoreError !== undefined && o.onStoreError !== "allow" && o.onStoreError !== "deny") {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: ${where}({ onStoreError }) must be "allow" or "deny", got ${describe(o.onStoreError)}.`,
      );
    }
    if (o.clientIp !== undefined && o.clientIp !== "peer" && o.clientIp !== "framework") {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: ${where}({ clientIp }) must be "peer" or "framework", got ${describe(o.clientIp)}.`,
      );
    }
    if (o.clientIp === "framework" && o.trustProxy !== undefined && o.trustProxy !== false) {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: ${where}() got both { clientIp: "framework" } and { trustProxy }; configure trust in one place: the framework's setting, or trustProxy with clientIp "peer".`,
      );
    }
    this.#trust = compileTrust(where, o.trustProxy, o.proxyHeader);
    this.#watchForwarded = o.clientIp !== "framework" && this.#trust.hops === 0 && this.#trust.isProxy === undefined;
    this.#v4 = prefixOption(where, "ipv4Prefix", o.ipv4Prefix, 32);
    this.#v6 = prefixOption(where, "ipv6Prefix", o.ipv6Prefix, 64);
    if (o.allowList !== undefined && !Array.isArray(o.allowList)) {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: ${where}({ allowList }) must be an array of CIDRs, got ${describe(o.allowList)}; such as ["10.0.0.0/8"].`,
      );
    }
    this.#allow = o.allowList === undefined ? undefined : compileCidrs(`${where}({ allowList })`, o.allowList);
    this.#rules = [];
    if (o.routes !== undefined) {
      if (o.routes === null || typeof o.routes !== "object") {
        throw new FloodgateTypeError(
          "ERR_INVALID_OPTION",
          `floodgate: ${where}({ routes }) must be an object of route pattern -> rule, got ${describe(o.routes)}.`,
        );
      }
      for (const [k, rule] of Object.entries(o.routes)) {
        const pattern = compileRoute(k);
        if (pattern === undefined) {
          throw new FloodgateTypeError(
            "ERR_INVALID_OPTION",
            `floodgate: ${where}({ routes }) has the pattern ${describe(k)}; write "/path", "METHOD /path", with :params and a final "*", such as "POST /login" or "/files/*".`,
          );
        }
        checkRouteRule(`${where}({ routes[${JSON.stringify(k)}] })`, rule, ["policy", "cost"]);
        this.#rules.push({ pattern, rule });
      }
    }
    const cost = o.cost ?? 1;
    if (typeof cost !== "number" || !Number.isInteger(cost) || cost < 0) {
      throw new FloodgateRangeError(
        "ERR_INVALID_OPTION",
        `floodgate: ${where}({ cost }) must be a whole number >= 0, got ${describe(cost)}; use select() for a cost per request.`,
      );
    }
    this.#cost = cost;
    this.#costArg = cost === 1 ? undefined : cost;
    this.#headerOptions = {
      standardHeaders: o.standardHeaders !== false,
      legacyHeaders: o.legacyHeaders === true,
    };
    this.#o = o;
  }

  /**
   * warn reports a doubtful setup once per code, through onWarning or
   * console.warn. It never throws (a throwing onWarning is ignored).
   */
  warn(code: string, message: string): void {
    if (this.#warned.has(code)) return;
    this.#warned.add(code);
    try {
      if (this.#o.onWarning) this.#o.onWarning({ code, message });
      else console.warn(`floodgate: ${message} [${code}]`);
    } catch {
      // A warning must never break a request.
    }
  }

  /**
   * report tells onError about an error met while handling `req` and returns
   * true, or returns false when no onError is set. It never throws (a throwing
   * onError is ignored).
   */
  report(error: unknown, req: HttpRequest<Raw>): boolean {
    const onError = this.#o.onError;
    if (onError === undefined) return false;
    try {
      onError(error, req);
    } catch {
      // A throwing hook must not turn a handled failure into a crash.
    }
    return true;
  }

  /**
   * clientIp returns the client's address for a request: the framework's when
   * clientIp is "framework", else the socket peer or, with trustProxy, the
   * first untrusted forwarding hop. Undefined when no address is known.
   */
  clientIp(req: HttpRequest<Raw>): Ip | undefined {
    if (this.#o.clientIp === "framework") {
      const ip = req.frameworkIp;
      return ip === undefined ? undefined : parseIp(ip);
    }
    const t = this.#trust;
    if (t.hops === 0 && t.isProxy === undefined) return req.peer === undefined ? undefined : parseIp(req.peer);
    return resolveClient(req.peer, t, req.header(t.header));
  }

  /**
   * #sampleForwarded runs #noticeForwarded for the first request and one in every
   * FORWARDED_SAMPLE after it, until it has warned. Perf: reading request headers
   * has a cost (node builds IncomingMessage.headers on first access), and behind a
   * proxy nearly every request carries the header, so a sample finds it as surely.
   */
  #sampleForwarded(req: HttpRequest<Raw>): void {
    const tick = this.#forwardedTick;
    this.#forwardedTick = tick === FORWARDED_SAMPLE - 1 ? 0 : tick + 1;
    if (tick === 0) this.#noticeForwarded(req);
  }

  /**
   * #noticeForwarded warns once (FG_FORWARDED_IGNORED) when a request keyed by its
   * socket peer carries X-Forwarded-For or Forwarded: behind a proxy that nobody
   * told floodgate about, every client would share the proxy's bucket.
   */
  #noticeForwarded(req: HttpRequest<Raw>): void {
    const xff = req.header("x-forwarded-for");
    const header = xff !== undefined && xff !== "" ? "X-Forwarded-For" : req.header("forwarded") ? "Forwarded" : "";
    if (header === "") return;
    this.#watchForwarded = false;
    this.warn(
      "FG_FORWARDED_IGNORED",
      `a request carried ${header}, which floodgate ignores because no proxy is trusted: clients are keyed by the socket peer. Behind a proxy or load balancer every client then shares the proxy's limit; pass trustProxy (your proxies' CIDRs such as ["10.0.0.0/8"], or a hop count). Without a proxy, nothing is wrong: any client can send that header.`,
    );
  }

  /**
   * #ipKey returns the key of the client IP: its canonical address, IPv6 by /64 by
   * default. Perf: when the client is the socket peer, the peer is read once (an
   * adapter's `peer` is a getter over node's socket) and its key is cached.
   */
  #ipKey(req: HttpRequest<Raw>): string {
    const t = this.#trust;
    if (this.#watchForwarded) this.#sampleForwarded(req);
    if (this.#o.clientIp === "framework" || t.hops !== 0 || t.isProxy !== undefined) {
      const ip = this.clientIp(req);
      return joinKey(["ip", ip === undefined ? "unknown" : ipKey(ip, this.#v4, this.#v6)]);
    }
    const peer = req.peer;
    if (peer === undefined) return joinKey(["ip", "unknown"]);
    if (peer === this.#lastPeer) return this.#lastPeerKey;
    let hit = this.#peerKeys.get(peer);
    if (hit === undefined) hit = this.#newPeerKey(peer);
    this.#lastPeer = peer;
    this.#lastPeerKey = hit;
    return hit;
  }

  /** #newPeerKey makes the key of a socket peer not in the cache, and caches it. */
  #newPeerKey(peer: string): string {
    const ip = parseIp(peer);
    const key = joinKey(["ip", ip === undefined ? "unknown" : ipKey(ip, this.#v4, this.#v6)]);
    if (this.#peerKeys.size >= PEER_CACHE_SIZE) this.#peerKeys.clear();
    this.#peerKeys.set(peer, key);
    return key;
  }

  /**
   * check decides a request. It returns synchronously when every callback
   * does and the store is a MemoryStore, else a promise. It never rejects
   * because of the store. It throws (or rejects) when a callback throws, and
   * for a configuration error (isConfigError: a broken injected clock,
   * ERR_INVALID_CLOCK), so the adapter hands it to the framework's error path.
   *
   * The same request (`req.raw`) checked a second time by this limiter (mounted
   * on the app and again on a router) passes without being counted again, and
   * FG_DOUBLE_COUNT is warned once.
   */
  check(req: HttpRequest<Raw>): HttpOutcome | Promise<HttpOutcome> {
    const raw = scopeOf(req);
    if (raw !== undefined) {
      const seen = raw[PASSES];
      if (seen === undefined) raw[PASSES] = this as HttpRateLimit<never>;
      else if (!this.#anotherPass(raw, seen)) return PASS;
    }
    const allow = this.#allow;
    if (allow !== undefined) {
      if (this.#watchForwarded) this.#sampleForwarded(req);
      const ip = this.clientIp(req);
      if (ip !== undefined && matchAny(ip, allow)) return PASS;
    }
    const skip = this.#o.skip;
    if (skip !== undefined) {
      const s = skip(req);
      if (isThenable<boolean>(s)) return Promise.resolve(s).then((x) => (x === true ? PASS : this.#select(req)));
      if (s === true) return PASS;
    }
    return this.#select(req);
  }

  /**
   * #anotherPass records this limiter on a request that another pass has marked and
   * returns true, or returns false (and warns once) when this limiter has already
   * checked the request.
   */
  #anotherPass(raw: Marked, seen: HttpRateLimit<never> | HttpRateLimit<never>[]): boolean {
    const me = this as HttpRateLimit<never>;
    if (seen === me || (Array.isArray(seen) && seen.includes(me))) {
      this.warn(
        "FG_DOUBLE_COUNT",
        "the same rate limiter checked one request twice (mounted on the app and again on a router or route?); the second pass was let through without counting. Mount it once, and use a second rateLimit() for a stricter route.",
      );
      return false;
    }
    raw[PASSES] = Array.isArray(seen) ? [...seen, me] : [seen, me];
    return true;
  }

  /**
   * setHeaders writes an outcome's fields on a response through `access`: as
   * they are, or, when another floodgate limiter has checked the same request
   * (`req`, stacked app-wide and per route), merged with the fields it wrote
   * (see mergeHeaders: each policy once, the larger Retry-After). A policy name
   * used by both limiters for different policies is warned once
   * (FG_POLICY_NAME_COLLISION).
   */
  setHeaders<T>(out: HttpOutcome, req: HttpRequest<Raw>, target: T, access: HeaderAccess<T>): void {
    const headers = out.headers;
    if (headers.length === 0) return;
    if (!Array.isArray(scopeOf(req)?.[PASSES])) {
      writeHeaders(headers, target, access);
      return;
    }
    const collisions = mergeHeaders(headers, target, access);
    if (collisions !== undefined) {
      this.warn(
        "FG_POLICY_NAME_COLLISION",
        `two stacked rate limiters use the policy name ${collisions.map((n) => `"${n}"`).join(", ")} for different policies, so clients see two items of that name in RateLimit and RateLimit-Policy; give each policy its own { name }.`,
      );
    }
  }

  #select(req: HttpRequest<Raw>): HttpOutcome | Promise<HttpOutcome> {
    let base: Selection | undefined;
    if (this.#rules.length > 0) {
      const target = normalizePath(req.route ?? req.url);
      const method = req.method;
      for (const r of this.#rules) {
        if (!routeMatches(r.pattern, method, target)) continue;
        if (r.rule === false) return PASS;
        base = { ...r.rule, bucket: r.pattern.key };
        break;
      }
    }
    const select = this.#o.select;
    if (select !== undefined) {
      const s = select(req);
      if (isThenable<Selection | undefined | false>(s)) {
        return Promise.resolve(s).then((x) => (x === false ? PASS : this.#identify(req, merge(base, x))));
      }
      if (s === false) return PASS;
      return this.#identify(req, merge(base, s));
    }
    return this.#identify(req, base);
  }

  #identify(req: HttpRequest<Raw>, sel: Selection | undefined): HttpOutcome | Promise<HttpOutcome> {
    const keyFn = this.#o.key;
    if (keyFn !== undefined) {
      const k = keyFn(req);
      if (isThenable<KeyResult>(k))
        return Promise.resolve(k).then((x) => this.#consume(req, sel, this.#storeKey(req, sel, x)));
      return this.#consume(req, sel, this.#storeKey(req, sel, k));
    }
    return this.#consume(req, sel, this.#storeKey(req, sel, undefined));
  }

  #storeKey(req: HttpRequest<Raw>, sel: Selection | undefined, k: KeyResult): string {
    let identity: string;
    if (k === undefined) identity = this.#ipKey(req);
    else if (typeof k === "string") identity = joinKey(["key", k]);
    else if (Array.isArray(k)) identity = joinKey(["parts", ...k]);
    else {
      throw new FloodgateTypeError(
        "ERR_INVALID_KEY",
        `floodgate: the key function returned ${describe(k)}; return a string, an array of parts (strings, numbers, { secret }) or undefined for the client IP.`,
      );
    }
    const bucket = sel?.bucket;
    return bucket === undefined ? identity : joinKey(["bucket", bucket, identity]);
  }

  /** #consume asks the limiter: consumeSync for a memory store, consume otherwise. */
  #consume(req: HttpRequest<Raw>, sel: Selection | undefined, key: string): HttpOutcome | Promise<HttpOutcome> {
    let policies = this.limiter.policies;
    let cost = this.#cost;
    let arg: number | CallOptions | undefined = this.#costArg;
    if (sel !== undefined) {
      if (sel.cost !== undefined) {
        if (!isCost(sel.cost)) return this.#badCost(req, sel, key);
        cost = sel.cost;
        arg = cost;
      }
      if (sel.policy !== undefined) {
        policies = checkPolicies("select({ policy })", sel.policy);
        arg = { cost, policy: policies };
      }
    }
    // Shadow mode: the limiter's listeners count a denial as a would-be refusal ("shadow").
    if (this.#o.shadow === true) arg = { cost, policy: policies, shadow: true };
    if (this.#sync) {
      let d: Decision;
      try {
        d = this.limiter.consumeSync(key, arg);
      } catch (err) {
        return this.#failed(req, policies, cost, key, err);
      }
      return this.#answer(req, policies, key, d);
    }
    let pending: Promise<Decision>;
    try {
      pending = this.limiter.consume(key, arg);
    } catch (err) {
      return this.#failed(req, policies, cost, key, err);
    }
    return pending.then(
      (d) => this.#answer(req, policies, key, d),
      (err) => this.#failed(req, policies, cost, key, err),
    );
  }

  #answer(req: HttpRequest<Raw>, policies: readonly Policy[], key: string, d: Decision): HttpOutcome {
    const headers = headerList(d, policies, this.#headerOptions);
    if (d.allowed) return { limited: false, status: 200, headers, body: undefined, decision: d };
    const violated: string[] = [];
    for (const pd of d.policies) if (!pd.allowed) violated.push(pd.policy.name);
    if (violated.length === 0) violated.push(d.policy);
    const retry = retryAfterSeconds(d);
    const problem = problemBody("quota", quotaDetail(violated, retry), violated);
    return this.#refuse(req, "quota", d, key, violated, retry, problem, headers);
  }

  /**
   * #failed answers a call the limiter refused to make: a cost larger than a
   * policy's limit (429, it can never be admitted), a configuration error
   * (thrown), or a store failure (onStoreError).
   */
  #failed(req: HttpRequest<Raw>, policies: readonly Policy[], cost: number, key: string, err: unknown): HttpOutcome {
    if ((err as { code?: unknown } | null)?.code === "ERR_COST_EXCEEDS_LIMIT") {
      return this.#tooCostly(req, policies, cost, key);
    }
    if (isConfigError(err)) throw err;
    // The store failed: never a 500, never an unhandled rejection.
    this.report(err, req);
    return this.#undecided(req, policies, key);
  }

  /** #tooCostly refuses a request whose cost is larger than a policy's limit: it can never be admitted. */
  #tooCostly(req: HttpRequest<Raw>, policies: readonly Policy[], cost: number, key: string): HttpOutcome {
    const violated = policies.filter((p) => cost > p.limit).map((p) => p.name);
    let windowMs = 0;
    for (const p of policies) if (p.windowMs > windowMs) windowMs = p.windowMs;
    const retry = Math.max(1, secondsUp(windowMs));
    const headers: HeaderList = [];
    if (this.#headerOptions.standardHeaders) headers.push(policyHeader(policies));
    const tight = policies.find((p) => cost > p.limit) as Policy;
    const problem = problemBody("cost", costDetail(cost, tight.limit, tight.name), violated);
    return this.#refuse(req, "cost", undefined, key, violated, retry, problem, headers);
  }

  /** #badCost reports a bad cost returned by select to onError and answers like a store failure. */
  #badCost(req: HttpRequest<Raw>, sel: Selection, key: string): HttpOutcome {
    const cost: unknown = sel.cost;
    const policies = sel.policy === undefined ? this.limiter.policies : checkPolicies("select({ policy })", sel.policy);
    if (typeof cost === "number" && Number.isInteger(cost) && cost > MAX_LIMIT) {
      // A whole number beyond any limit: the usual answer for a cost no policy can hold.
      return this.#tooCostly(req, policies, cost, key);
    }
    const Err = typeof cost === "number" ? FloodgateRangeError : FloodgateTypeError;
    this.report(
      new Err(
        "ERR_INVALID_COST",
        `floodgate: select() returned { cost: ${describe(cost)} }${typeof cost === "number" ? "" : ` (${typeof cost})`}; a cost is a whole number of units >= 0 (default 1): return such as { cost: 3 }, rounding a computed cost up with Math.ceil(). The request was answered as a store failure (onStoreError).`,
      ),
      req,
    );
    return this.#undecided(req, policies, key);
  }

  /** #undecided answers a request no decision could be made for: onStoreError "allow" (default) or "deny". */
  #undecided(req: HttpRequest<Raw>, policies: readonly Policy[], key: string): HttpOutcome {
    if (this.#o.onStoreError !== "deny") return PASS;
    const names = policies.map((p) => p.name);
    return this.#refuse(req, "store", undefined, key, names, 1, problemBody("store", STORE_DETAIL, names), []);
  }

  #refuse(
    req: HttpRequest<Raw>,
    reason: LimitedInfo["reason"],
    decision: Decision | undefined,
    key: string,
    violated: string[],
    retry: number,
    problem: Record<string, unknown>,
    headers: HeaderList,
  ): HttpOutcome {
    const shadow = this.#o.shadow === true;
    const o = this.#o;
    let body = problem;
    if (o.onLimited !== undefined || (o.problem !== undefined && !shadow)) {
      const info: LimitedInfo<Raw> = {
        request: req,
        reason,
        decision,
        key,
        violatedPolicies: violated,
        retryAfterSeconds: retry,
        shadow,
        problem,
      };
      try {
        o.onLimited?.(info);
      } catch (err) {
        this.report(err, req);
      }
      if (o.problem !== undefined && !shadow) body = o.problem(info);
    }
    if (shadow) return { limited: false, status: 200, headers, body: undefined, decision };
    headers.push(
      ["Retry-After", String(retry)],
      ["Cache-Control", "no-store"],
      ["Content-Type", "application/problem+json"],
    );
    return { limited: true, status: 429, headers, body: JSON.stringify(body), decision };
  }
}

function merge(base: Selection | undefined, s: Selection | undefined): Selection | undefined {
  if (s === undefined || s === null) return base;
  if (typeof s !== "object") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: select() returned ${describe(s)}; return { policy, cost, bucket }, undefined for the default, or false to skip.`,
    );
  }
  return base === undefined ? s : { ...base, ...s };
}

function prefixOption(where: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const max = name === "ipv4Prefix" ? 32 : 128;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > max) {
    throw new FloodgateRangeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${where}({ ${name} }) must be a whole number from 1 to ${max}, got ${describe(value)}; the default is ${fallback}.`,
    );
  }
  return value;
}
