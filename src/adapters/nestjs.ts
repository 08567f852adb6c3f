// nestjs.ts: floodgate/nestjs: a module, a guard and decorators for NestJS (Express and Fastify, GraphQL, WebSockets).
//
// Written without decorator syntax (Nest's decorators are applied as functions), so the build needs no
// experimentalDecorators; apps use them as decorators as usual.

import {
  type CanActivate,
  type DynamicModule,
  type ExecutionContext,
  HttpException,
  Inject,
  Injectable,
  type InjectionToken,
  Module,
  type ModuleMetadata,
  type OptionalFactoryDependency,
  type Provider,
  SetMetadata,
} from "@nestjs/common";
import { Reflector } from "@nestjs/core";
import { describe, FloodgateRangeError, FloodgateTypeError } from "../core/errors.js";
import type { Policy } from "../core/policy.js";
import {
  type HttpOutcome,
  HttpRateLimit,
  type HttpRateLimitOptions,
  type HttpRequest,
  type Selection,
} from "../http/core.js";
import { pathOnly } from "../http/routes.js";

export {
  FloodgateThrottlerStorage,
  type FloodgateThrottlerStorageOptions,
  type ThrottlerLimit,
  type ThrottlerStorageRecord,
} from "./nestjs-throttler.js";

/** NestContextKind is the kind of call a guard sees: an HTTP request, a GraphQL resolver or a WebSocket message. */
export type NestContextKind = "http" | "graphql" | "ws";

/**
 * NestRaw is `req.raw` in key, select, skip and hook functions: the kind of
 * call, Nest's ExecutionContext, and the platform's request (an Express or
 * Fastify request; the GraphQL context's request; the WebSocket client).
 */
export interface NestRaw {
  readonly kind: NestContextKind;
  readonly context: ExecutionContext;
  // biome-ignore lint/suspicious/noExplicitAny: the platform's own request type (Express, Fastify, ws, socket.io).
  readonly request: any;
}

/** FloodgateModuleOptions configures FloodgateModule: the options of every floodgate adapter (HttpRateLimitOptions). */
export type FloodgateModuleOptions = HttpRateLimitOptions<NestRaw>;

/** RateLimitOptions is what @RateLimit() sets on a controller, resolver or gateway class, or on one handler. */
export interface RateLimitOptions {
  /**
   * policy adds limits to the module's, checked together in one all-or-nothing
   * call. A policy with the name of an inherited one (from the module, or from
   * the class for a handler) replaces it.
   */
  policy?: Policy | readonly Policy[];
  /** cost is what one call spends, a whole number; default the module's cost (1). */
  cost?: number;
  /** inherit false drops the inherited policies: only this policy applies (with its own state). Default true. */
  inherit?: boolean;
}

/** FLOODGATE_OPTIONS is the injection token of the module's options. */
export const FLOODGATE_OPTIONS: InjectionToken = Symbol.for("floodgate.nestjs.options");
/** FLOODGATE_HTTP is the injection token of the module's HttpRateLimit (its `limiter` is the RateLimiter). */
export const FLOODGATE_HTTP: InjectionToken = Symbol.for("floodgate.nestjs.http");
/** RATE_LIMIT_KEY is the metadata key @RateLimit() sets. */
export const RATE_LIMIT_KEY = "floodgate:rate-limit";
/** SKIP_RATE_LIMIT_KEY is the metadata key @SkipRateLimit() sets. */
export const SKIP_RATE_LIMIT_KEY = "floodgate:skip-rate-limit";

const RATE_LIMIT_OPTIONS = ["policy", "cost", "inherit"];

/**
 * RateLimit sets a controller's (resolver's, gateway's) or a handler's limits:
 * `policy` adds to the module's policies (a handler's to its class's), all
 * checked in one all-or-nothing call; `cost` is what a call spends. Options are
 * checked when the decorator is applied: a bad policy or cost fails at startup.
 *
 * @example
 * import { Controller, Post } from "@nestjs/common";
 * import { tokenBucket } from "floodgate";
 * import { RateLimit } from "floodgate/nestjs";
 *
 * @Controller("auth")
 * export class AuthController {
 *   @Post("login")
 *   @RateLimit({ policy: tokenBucket({ name: "login", capacity: 5, refillRate: 1 / 60 }) })
 *   login() {}
 * }
 */
export function RateLimit(options: RateLimitOptions): ClassDecorator & MethodDecorator {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: @RateLimit(options) takes { policy, cost, inherit }, got ${describe(options)}.`,
    );
  }
  for (const k of Object.keys(options)) {
    if (!RATE_LIMIT_OPTIONS.includes(k)) {
      throw new FloodgateTypeError(
        "ERR_UNKNOWN_OPTION",
        `floodgate: @RateLimit() got an unknown option "${k}"; it takes policy, cost and inherit.`,
      );
    }
  }
  const { policy, cost, inherit } = options;
  if (cost !== undefined && (typeof cost !== "number" || !Number.isInteger(cost) || cost < 0)) {
    throw new FloodgateRangeError(
      "ERR_INVALID_OPTION",
      `floodgate: @RateLimit({ cost }) must be a whole number >= 0, got ${describe(cost)}.`,
    );
  }
  if (inherit !== undefined && typeof inherit !== "boolean") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: @RateLimit({ inherit }) must be true or false, got ${describe(inherit)}.`,
    );
  }
  // The policies are validated (and frozen) by building a limiter of them once.
  const policies = policy === undefined ? undefined : new HttpRateLimit({ policy }, "@RateLimit").limiter.policies;
  if (policies !== undefined && cost !== undefined) {
    for (const p of policies) {
      if (cost > p.limit) {
        throw new FloodgateRangeError(
          "ERR_COST_EXCEEDS_LIMIT",
          `floodgate: @RateLimit({ cost: ${cost} }) exceeds the limit ${p.limit} of policy "${p.name}"; raise the limit or lower the cost.`,
        );
      }
    }
  }
  const value: RateLimitOptions = Object.freeze({
    ...(policies !== undefined ? { policy: policies } : {}),
    ...(cost !== undefined ? { cost } : {}),
    ...(inherit !== undefined ? { inherit } : {}),
  });
  return SetMetadata(RATE_LIMIT_KEY, value);
}

/**
 * SkipRateLimit leaves a controller or a handler unlimited; `SkipRateLimit(false)`
 * on a handler limits it again inside a skipped controller.
 */
export function SkipRateLimit(skip = true): ClassDecorator & MethodDecorator {
  return SetMetadata(SKIP_RATE_LIMIT_KEY, skip === true);
}

/**
 * RateLimitException is thrown for a refused HTTP or GraphQL call: status 429,
 * its response the RFC 9457 problem object. On HTTP the guard has already sent
 * the 429 (application/problem+json, with the RateLimit and Retry-After
 * headers), so Nest's exception filter only ends the response; an exception
 * filter of your own sees the exception and should check `headersSent` (Express)
 * or `sent` (Fastify) as Nest's does. A GraphQL resolver's error carries it.
 */
export class RateLimitException extends HttpException {
  /** retryAfterSeconds is the Retry-After sent. */
  readonly retryAfterSeconds: number;
  /**
   * extensions become the GraphQL error's extensions (graphql-js copies an
   * original error's): `code` "RATE_LIMITED", `retryAfterSeconds` and the
   * `violatedPolicies`.
   */
  readonly extensions: { code: "RATE_LIMITED"; retryAfterSeconds: number; violatedPolicies: readonly string[] };
  constructor(problem: Record<string, unknown>, retryAfterSeconds: number) {
    super(problem, 429);
    this.retryAfterSeconds = retryAfterSeconds;
    const violated = problem["violated-policies"];
    this.extensions = {
      code: "RATE_LIMITED",
      retryAfterSeconds,
      violatedPolicies: Array.isArray(violated) ? violated.map(String) : [],
    };
    // The problem's detail ("Too many requests for policy "api": retry in 1 second.") is what a GraphQL error shows.
    if (typeof problem.detail === "string") this.message = problem.detail;
  }
}

/** Resolved is a handler's limits, resolved once from its metadata and the module's. */
interface Resolved {
  readonly skip: boolean;
  readonly selection: Selection | undefined;
}

/** NestRequest adapts a Nest call (HTTP request, GraphQL context's request, WebSocket client) to HttpRequest. */
class NestRequest implements HttpRequest<NestRaw> {
  readonly raw: NestRaw;
  readonly selection: Selection | undefined;
  readonly #req: Record<string, unknown> | undefined;
  readonly #pattern: string | undefined;
  constructor(raw: NestRaw, selection: Selection | undefined, pattern: string | undefined) {
    this.raw = raw;
    this.selection = selection;
    this.#req = raw.kind === "ws" ? undefined : (raw.request as Record<string, unknown> | undefined);
    this.#pattern = pattern;
  }
  get method(): string {
    return this.raw.kind === "ws" ? "WS" : String(this.#req?.method ?? "GET");
  }
  get url(): string {
    if (this.raw.kind === "ws") return `/${this.#pattern ?? ""}`;
    const r = this.#req;
    return String(r?.originalUrl ?? r?.url ?? "/");
  }
  get path(): string {
    return pathOnly(this.url);
  }
  get route(): string | undefined {
    if (this.raw.kind === "ws") return this.url;
    const r = this.#req as
      | { route?: { path?: unknown }; baseUrl?: unknown; routeOptions?: { url?: unknown }; raw?: unknown }
      | undefined;
    // Fastify: routeOptions.url; Express: the matched route's path under its router's baseUrl.
    if (typeof r?.routeOptions?.url === "string") return r.routeOptions.url;
    const path = r?.route?.path;
    return typeof path === "string" ? (typeof r?.baseUrl === "string" ? r.baseUrl : "") + path : undefined;
  }
  get peer(): string | undefined {
    if (this.raw.kind === "ws") {
      // ws: the client's socket; socket.io: the engine connection or the handshake.
      const c = this.raw.request as {
        _socket?: { remoteAddress?: string };
        conn?: { remoteAddress?: string };
        handshake?: { address?: string };
      };
      return c?._socket?.remoteAddress ?? c?.conn?.remoteAddress ?? c?.handshake?.address;
    }
    const r = this.#req as { socket?: { remoteAddress?: string }; raw?: { socket?: { remoteAddress?: string } } };
    return r?.raw?.socket?.remoteAddress ?? r?.socket?.remoteAddress;
  }
  get frameworkIp(): string | undefined {
    const ip = this.#req?.ip;
    return typeof ip === "string" ? ip : undefined;
  }
  header(name: string): string | undefined {
    const headers = (
      this.raw.kind === "ws"
        ? (this.raw.request as { handshake?: { headers?: unknown } })?.handshake?.headers
        : this.#req?.headers
    ) as Record<string, string | string[] | undefined> | undefined;
    const v = headers?.[name];
    return Array.isArray(v) ? v.join(", ") : v;
  }
}

/** nestSelect puts a handler's resolved @RateLimit() in front of the user's select function. */
function nestSelect(user: FloodgateModuleOptions["select"]): NonNullable<FloodgateModuleOptions["select"]> {
  return function floodgateNestSelect(req) {
    const base = (req as NestRequest).selection;
    if (user === undefined) return base;
    const s = user(req);
    const combine = (x: Selection | undefined | false): Selection | undefined | false =>
      x === false ? false : base === undefined ? x : x === undefined ? base : { ...base, ...x };
    return typeof (s as PromiseLike<unknown> | undefined)?.then === "function"
      ? Promise.resolve(s).then(combine)
      : combine(s as Selection | undefined | false);
  };
}

/** createHttpRateLimit builds the module's HttpRateLimit from its options. */
export function createHttpRateLimit(options: FloodgateModuleOptions): HttpRateLimit<NestRaw> {
  if (options === null || typeof options !== "object") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: FloodgateModule.forRoot(options) takes an object such as { policy: tokenBucket({ capacity: 100, refillRate: 10 }) }, got ${describe(options)}.`,
    );
  }
  if (options.select !== undefined && typeof options.select !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: FloodgateModule.forRoot({ select }) must be a function, got ${describe(options.select)}.`,
    );
  }
  return new HttpRateLimit<NestRaw>({ ...options, select: nestSelect(options.select) }, "FloodgateModule.forRoot");
}

/** mergePolicies lays `add` over `base` by name: a policy of the same name replaces the inherited one. */
function mergePolicies(base: readonly Policy[], add: readonly Policy[]): readonly Policy[] {
  const names = new Set(add.map((p) => p.name));
  return Object.freeze([...base.filter((p) => !names.has(p.name)), ...add]);
}

/** WsExceptionClass is @nestjs/websockets' WsException, loaded the first time a WebSocket call is refused. */
type WsExceptionClass = new (error: string | object) => Error;
let wsException: Promise<WsExceptionClass> | undefined;

/** HEADERS_NOT_FOR_GRAPHQL are refusal headers a GraphQL response must not take (it answers 200 with errors). */
const HEADERS_NOT_FOR_GRAPHQL = new Set(["content-type", "cache-control"]);

/**
 * FloodgateGuard limits every call it guards: HTTP requests on the Express and
 * Fastify platforms, GraphQL resolvers and WebSocket messages. Each handler's
 * limits are the module's policies with its class's and its own @RateLimit()
 * policies laid over them by name, all decided in one all-or-nothing call
 * (a call refused by one limit takes nothing from the others). A refused call
 * throws RateLimitException (429, problem+json) or, on a WebSocket, a
 * WsException whose error is the problem object. Other contexts (microservices)
 * pass unlimited. Register it app-wide with `{ provide: APP_GUARD, useClass: FloodgateGuard }`
 * or per controller with `@UseGuards(FloodgateGuard)`.
 */
export class FloodgateGuard implements CanActivate {
  readonly #http: HttpRateLimit<NestRaw>;
  readonly #reflector: Reflector;
  readonly #resolved = new WeakMap<object, WeakMap<object, Resolved>>();

  constructor(http: HttpRateLimit<NestRaw>, reflector: Reflector) {
    this.#http = http;
    this.#reflector = reflector;
  }

  /** #resolve reads a handler's metadata once and merges its policies with its class's and the module's. */
  #resolve(cls: object, handler: object): Resolved {
    let byHandler = this.#resolved.get(cls);
    if (byHandler === undefined) {
      byHandler = new WeakMap();
      this.#resolved.set(cls, byHandler);
    }
    const hit = byHandler.get(handler);
    if (hit !== undefined) return hit;
    const r = this.#reflector;
    const targets = [handler, cls] as unknown as Parameters<Reflector["getAllAndOverride"]>[1];
    const skip = r.getAllAndOverride<boolean | undefined>(SKIP_RATE_LIMIT_KEY, targets) === true;
    const onClass = r.get<RateLimitOptions | undefined>(RATE_LIMIT_KEY, cls as never);
    const onHandler = r.get<RateLimitOptions | undefined>(RATE_LIMIT_KEY, handler as never);
    let policies: readonly Policy[] | undefined;
    let cost: number | undefined;
    for (const level of [onClass, onHandler]) {
      if (level === undefined) continue;
      if (level.policy !== undefined) {
        const add = level.policy as readonly Policy[];
        const base = level.inherit === false ? [] : (policies ?? this.#http.limiter.policies);
        policies = mergePolicies(base, add);
      }
      if (level.cost !== undefined) cost = level.cost;
    }
    const selection: Selection | undefined =
      policies === undefined && cost === undefined
        ? undefined
        : { ...(policies !== undefined ? { policy: policies } : {}), ...(cost !== undefined ? { cost } : {}) };
    const resolved = { skip, selection };
    byHandler.set(handler, resolved);
    return resolved;
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const resolved = this.#resolve(context.getClass(), context.getHandler());
    if (resolved.skip) return true;
    const type = context.getType<string>();
    let request: unknown;
    let response: unknown;
    let pattern: string | undefined;
    if (type === "http") {
      const http = context.switchToHttp();
      request = http.getRequest();
      response = http.getResponse();
    } else if (type === "graphql") {
      // As GqlExecutionContext.create(context).getContext() reads it: args are [root, args, context, info].
      const gql = context.getArgByIndex(2) as {
        req?: unknown;
        res?: unknown;
        request?: unknown;
        reply?: { request?: unknown };
      };
      request = gql?.req ?? gql?.request ?? gql?.reply?.request;
      response = gql?.res ?? gql?.reply;
    } else if (type === "ws") {
      const ws = context.switchToWs();
      request = ws.getClient();
      pattern = (ws as { getPattern?: () => string }).getPattern?.();
    } else {
      return true;
    }
    const kind = type as NestContextKind;
    const out = this.#http.check(new NestRequest({ kind, context, request }, resolved.selection, pattern));
    if (out instanceof Promise) return out.then((o) => apply(o, kind, response));
    return apply(out, kind, response);
  }
}

/** ResponseLike is the part of a Node/Express response or a Fastify reply the guard writes to. */
interface ResponseLike {
  setHeader?(k: string, v: string): void;
  header?(k: string, v: string): unknown;
  end?(body?: string): void;
  code?(status: number): unknown;
  send?(body?: string): unknown;
  statusCode?: number;
  headersSent?: boolean;
  sent?: boolean;
}

/** setHeaders copies an outcome's headers to a Node/Express response or a Fastify reply. */
function setHeaders(res: ResponseLike, out: HttpOutcome, kind: NestContextKind): void {
  for (const [k, v] of out.headers) {
    if (kind === "graphql" && HEADERS_NOT_FOR_GRAPHQL.has(k.toLowerCase())) continue;
    // Node and Express responses have setHeader; a Fastify reply has header.
    if (typeof res.setHeader === "function") res.setHeader(k, v);
    else if (typeof res.header === "function") res.header(k, v);
  }
}

/**
 * refuseHttp sends the 429 itself: Nest's Express adapter rewrites any error
 * body's Content-Type to application/json, so the problem+json response is
 * written here, and the exception thrown after it finds the response sent
 * (Nest's exception filter then only ends it).
 */
function refuseHttp(res: ResponseLike, out: HttpOutcome): void {
  if (res.headersSent === true || res.sent === true) return;
  if (typeof res.code === "function" && typeof res.send === "function") {
    res.code(out.status);
    res.send(out.body);
  } else if (typeof res.end === "function") {
    res.statusCode = out.status;
    res.end(out.body);
  }
}

/** apply sets an outcome's headers on the response and lets the call through, or refuses it. */
function apply(out: HttpOutcome, kind: NestContextKind, response: unknown): boolean | Promise<boolean> {
  const res = response !== null && typeof response === "object" ? (response as ResponseLike) : undefined;
  if (kind !== "ws" && res !== undefined && out.headers.length > 0) setHeaders(res, out, kind);
  if (!out.limited) return true;
  const problem = JSON.parse(out.body ?? "{}") as Record<string, unknown>;
  let retry = 1;
  for (const [k, v] of out.headers) if (k === "Retry-After") retry = Number(v);
  if (kind === "http" && res !== undefined) refuseHttp(res, out);
  if (kind !== "ws") throw new RateLimitException(problem, retry);
  wsException ??= import("@nestjs/websockets").then((m) => m.WsException as unknown as WsExceptionClass);
  return wsException.then((WsException) => {
    throw new WsException(problem);
  });
}

Injectable()(FloodgateGuard);
Inject(FLOODGATE_HTTP)(FloodgateGuard, undefined, 0);
Inject(Reflector)(FloodgateGuard, undefined, 1);

/** FloodgateModuleAsyncOptions builds the options from other providers (a ConfigService). */
export interface FloodgateModuleAsyncOptions extends Pick<ModuleMetadata, "imports"> {
  useFactory: (...args: never[]) => FloodgateModuleOptions | Promise<FloodgateModuleOptions>;
  inject?: (InjectionToken | OptionalFactoryDependency)[];
}

/**
 * FloodgateModule provides the rate limiter (FLOODGATE_HTTP, its `limiter`
 * the RateLimiter) and FloodgateGuard to the whole app (a global module).
 * Its options are those of every floodgate adapter: `policy` (one or several,
 * all-or-nothing), `store` (a RedisStore to share limits across processes),
 * `key`, `trustProxy`, `routes`, `select`, `skip`, `shadow`, headers and hooks.
 *
 * @example
 * import { Module } from "@nestjs/common";
 * import { APP_GUARD } from "@nestjs/core";
 * import { fixedWindow, tokenBucket } from "floodgate";
 * import { FloodgateGuard, FloodgateModule } from "floodgate/nestjs";
 *
 * @Module({
 *   imports: [
 *     FloodgateModule.forRoot({
 *       policy: [
 *         tokenBucket({ name: "per-second", capacity: 20, refillRate: 10 }),
 *         fixedWindow({ name: "per-day", limit: 10_000, windowMs: 86_400_000 }),
 *       ],
 *     }),
 *   ],
 *   providers: [{ provide: APP_GUARD, useClass: FloodgateGuard }],
 * })
 * export class AppModule {}
 */
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest module is a class; forRoot/forRootAsync are Nest's convention.
export class FloodgateModule {
  /** forRoot configures the module with options known at startup. */
  static forRoot(options: FloodgateModuleOptions): DynamicModule {
    const http = createHttpRateLimit(options);
    return module([
      { provide: FLOODGATE_OPTIONS, useValue: options },
      { provide: FLOODGATE_HTTP, useValue: http },
    ]);
  }

  /** forRootAsync configures the module from a factory (inject a ConfigService, await a Redis connection). */
  static forRootAsync(options: FloodgateModuleAsyncOptions): DynamicModule {
    if (options === null || typeof options !== "object" || typeof options.useFactory !== "function") {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: FloodgateModule.forRootAsync() needs { useFactory: (...deps) => options, inject?, imports? }, got ${describe(options)}.`,
      );
    }
    return module(
      [
        { provide: FLOODGATE_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
        {
          provide: FLOODGATE_HTTP,
          useFactory: (o: FloodgateModuleOptions) => createHttpRateLimit(o),
          inject: [FLOODGATE_OPTIONS],
        },
      ],
      options.imports,
    );
  }
}

Module({})(FloodgateModule);

function module(providers: Provider[], imports: ModuleMetadata["imports"] = []): DynamicModule {
  return {
    module: FloodgateModule,
    global: true,
    imports,
    providers: [...providers, FloodgateGuard],
    exports: [FLOODGATE_OPTIONS, FLOODGATE_HTTP, FloodgateGuard],
  };
}
