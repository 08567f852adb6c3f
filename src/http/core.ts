// core.ts: the framework-neutral HTTP rate limiter: request in, pass (with headers) or refuse (429) out.

import { describe, FloodgateRangeError, FloodgateTypeError } from "../core/errors.js";
import type { Decision, Policy } from "../core/policy.js";
import { checkOptions } from "../core/validate.js";
import { checkPolicies, RateLimiter } from "../limiter.js";
import { MemoryStore } from "../stores/memory.js";
import type { Store } from "../stores/store.js";
import { type HeaderList, policyField, rateLimitHeaders, retryAfterSeconds, secondsUp } from "./headers.js";
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
import { compileRoute, normalizePath, type RoutePattern, routeMatches } from "./routes.js";

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
  /** raw is the framework's own request or context object, for key, select and skip functions. */
  readonly raw: Raw;
}

/** KeyResult is what a key function returns: a key, key parts, or undefined to key by client IP. */
export type KeyResult = string | readonly KeyPart[] | undefined;

/** Selection is what a route rule or a select function picks for a request. */
export interface Selection {
  /** policy replaces the default policy (a tier, a stricter route limit). */
  policy?: Policy | readonly Policy[];
  /** cost is what the request spends, a whole number; default 1. */
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
  /** reason: "quota" (a policy is exhausted), "cost" (the cost exceeds a policy's limit), "store" (the store failed). */
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
  /** onStoreError decides when the store throws: "allow" (default) lets the request through, "deny" refuses it (429). */
  onStoreError?: "allow" | "deny";
  /** onError is told about store failures and errors thrown by callbacks. */
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

/** QUOTA_EXCEEDED is the problem type of draft-ietf-httpapi-ratelimit-headers for an exhausted quota. */
export const QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded";
/** TEMPORARY_REDUCED_CAPACITY is the draft's problem type used when the store failed and onStoreError is "deny". */
export const TEMPORARY_REDUCED_CAPACITY = "https://iana.org/assignments/http-problem-types#temporary-reduced-capacity";

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

// The global `performance` and its `timeOrigin` are getters; reading them once leaves one native call per read.
const perf = performance;
const timeOriginMs = perf.timeOrigin;
/** defaultNow is the limiter's default clock: monotonic, in milliseconds. */
const defaultNow = (): number => timeOriginMs + perf.now();

/** PEER_CACHE_SIZE bounds the cache of socket address -> key; it is cleared when full. */
const PEER_CACHE_SIZE = 4096;

interface Rule {
  readonly pattern: RoutePattern;
  readonly rule: RouteRule;
}

function isThenable<T>(x: unknown): x is PromiseLike<T> {
  return typeof x === "object" && x !== null && typeof (x as PromiseLike<T>).then === "function";
}

/**
 * HttpRateLimit is the shared core every adapter calls: it names the client,
 * picks the policy and cost, asks the limiter, and answers with the headers to
 * add and, for a refusal, a 429 with an RFC 9457 body. It never throws for a
 * store failure: onStoreError decides, and onError is told.
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
  readonly #sync: boolean;
  /** #fast is the memory store and clock of a limiter built here, used for the default policy and cost. */
  #fast: { store: MemoryStore; now: () => number } | undefined;
  readonly #o: HttpRateLimitOptions<Raw>;
  readonly #trust: Trust;
  readonly #allow: Cidr[] | undefined;
  readonly #rules: Rule[];
  readonly #cost: number;
  readonly #v4: number;
  readonly #v6: number;
  readonly #headerOptions: { standardHeaders: boolean; legacyHeaders: boolean };
  readonly #warned = new Set<string>();
  readonly #peerKeys = new Map<string, string>();

  constructor(options: HttpRateLimitOptions<Raw>, where = "rateLimit") {
    const o = checkOptions(where, options, KNOWN) as HttpRateLimitOptions<Raw>;
    if (o.limiter !== undefined) {
      if (!(o.limiter instanceof RateLimiter)) {
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
    this.#sync = this.limiter.store instanceof MemoryStore;
    this.#fast = undefined;
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
        if (rule !== false) {
          if (rule === null || typeof rule !== "object") {
            throw new FloodgateTypeError(
              "ERR_INVALID_OPTION",
              `floodgate: ${where}({ routes }) rule for ${describe(k)} must be { policy, cost } or false, got ${describe(rule)}.`,
            );
          }
          checkOptions(`${where}({ routes[${JSON.stringify(k)}] })`, rule, ["policy", "cost"]);
          if (rule.policy !== undefined)
            checkPolicies(`${where}({ routes[${JSON.stringify(k)}].policy })`, rule.policy);
        }
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
    // The default policy and cost are validated once here, so the hot path can
    // call the memory store directly, with the same clock the limiter would read.
    if (o.limiter === undefined && this.limiter.store instanceof MemoryStore) {
      const fits = this.limiter.policies.every((p) => cost <= p.limit);
      const clock = o.now ?? defaultNow;
      if (fits) this.#fast = { store: this.limiter.store, now: clock };
    }
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

  /** ipKeyOf returns the key of the client IP: its canonical address, IPv6 by /64 by default. */
  #ipKey(req: HttpRequest<Raw>): string {
    const t = this.#trust;
    const simple = this.#o.clientIp !== "framework" && t.hops === 0 && t.isProxy === undefined;
    if (simple && req.peer !== undefined) {
      const hit = this.#peerKeys.get(req.peer);
      if (hit !== undefined) return hit;
    }
    const ip = this.clientIp(req);
    const key = joinKey(["ip", ip === undefined ? "unknown" : ipKey(ip, this.#v4, this.#v6)]);
    if (simple && req.peer !== undefined) {
      if (this.#peerKeys.size >= PEER_CACHE_SIZE) this.#peerKeys.clear();
      this.#peerKeys.set(req.peer, key);
    }
    return key;
  }

  /**
   * check decides a request. It returns synchronously when every callback
   * does and the store is a MemoryStore, else a promise. It never rejects
   * because of the store; it rejects only when a callback throws.
   */
  check(req: HttpRequest<Raw>): HttpOutcome | Promise<HttpOutcome> {
    const allow = this.#allow;
    if (allow !== undefined) {
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

  #consume(req: HttpRequest<Raw>, sel: Selection | undefined, key: string): HttpOutcome | Promise<HttpOutcome> {
    const fast = this.#fast;
    if (fast !== undefined && (sel === undefined || (sel.policy === undefined && sel.cost === undefined))) {
      const nowMs = fast.now();
      if (Number.isFinite(nowMs)) {
        const policies = this.limiter.policies;
        return this.#answer(req, policies, key, fast.store.consumeSync(key, policies, this.#cost, nowMs));
      }
    }
    const policies =
      sel?.policy === undefined ? this.limiter.policies : checkPolicies("select({ policy })", sel.policy);
    const cost = sel?.cost ?? this.#cost;
    const options = sel?.policy === undefined ? cost : { cost, policy: sel.policy };
    if (this.#sync) {
      let d: Decision;
      try {
        d = this.limiter.consumeSync(key, options);
      } catch (err) {
        return this.#failed(req, policies, cost, key, err);
      }
      return this.#answer(req, policies, key, d);
    }
    let pending: Promise<Decision>;
    try {
      pending = this.limiter.consume(key, options);
    } catch (err) {
      return this.#failed(req, policies, cost, key, err);
    }
    return pending.then(
      (d) => this.#answer(req, policies, key, d),
      (err) => this.#failed(req, policies, cost, key, err),
    );
  }

  #answer(req: HttpRequest<Raw>, policies: readonly Policy[], key: string, d: Decision): HttpOutcome {
    const headers: HeaderList = [];
    rateLimitHeaders(d, policies, this.#headerOptions, headers);
    if (d.allowed) return { limited: false, status: 200, headers, body: undefined, decision: d };
    const violated: string[] = [];
    for (const pd of d.policies) if (!pd.allowed) violated.push(pd.policy.name);
    if (violated.length === 0) violated.push(d.policy);
    const retry = retryAfterSeconds(d);
    const problem = {
      type: QUOTA_EXCEEDED,
      title: "Request cannot be satisfied as assigned quota has been exceeded",
      status: 429,
      detail: `Too many requests for policy ${violated.map((n) => `"${n}"`).join(", ")}: retry in ${retry} second${retry === 1 ? "" : "s"}.`,
      "violated-policies": violated,
    };
    return this.#refuse(req, "quota", d, key, violated, retry, problem, headers);
  }

  #failed(req: HttpRequest<Raw>, policies: readonly Policy[], cost: number, key: string, err: unknown): HttpOutcome {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === "ERR_COST_EXCEEDS_LIMIT") {
      const violated = policies.filter((p) => cost > p.limit).map((p) => p.name);
      let windowMs = 0;
      for (const p of policies) if (p.windowMs > windowMs) windowMs = p.windowMs;
      const retry = Math.max(1, secondsUp(windowMs));
      const headers: HeaderList = [];
      if (this.#headerOptions.standardHeaders) headers.push(["RateLimit-Policy", policyField(policies)]);
      const tight = policies.find((p) => cost > p.limit) as Policy;
      const problem = {
        type: QUOTA_EXCEEDED,
        title: "Request cannot be satisfied as assigned quota has been exceeded",
        status: 429,
        detail: `This request costs ${cost} units, more than the ${tight.limit} that policy "${tight.name}" allows at once, so it can never be admitted.`,
        "violated-policies": violated,
      };
      return this.#refuse(req, "cost", undefined, key, violated, retry, problem, headers);
    }
    if (code === "ERR_INVALID_COST" || code === "ERR_INVALID_KEY" || code === "ERR_INVALID_POLICY") throw err;
    // The store failed: never a 500, never an unhandled rejection.
    try {
      this.#o.onError?.(err, req);
    } catch {
      // A throwing hook must not turn a store failure into a crash.
    }
    if (this.#o.onStoreError !== "deny") return PASS;
    const problem = {
      type: TEMPORARY_REDUCED_CAPACITY,
      title: "Request cannot be satisfied due to temporary server capacity constraints",
      status: 429,
      detail: "The rate limit store is unavailable; retry in 1 second.",
      "violated-policies": policies.map((p) => p.name),
    };
    return this.#refuse(
      req,
      "store",
      undefined,
      key,
      policies.map((p) => p.name),
      1,
      problem,
      [],
    );
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
        try {
          o.onError?.(err, req);
        } catch {
          // Hooks that throw must not turn a refusal into a crash.
        }
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
