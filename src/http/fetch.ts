// fetch.ts: rate limit a Web-standard fetch handler, (Request) => Response, on any runtime.

import { describe, FloodgateTypeError } from "../core/errors.js";
import { type HttpOutcome, HttpRateLimit, type HttpRateLimitOptions, type HttpRequest } from "./core.js";
import { HEADERS, writeHeaders } from "./response.js";
import { pathOnly } from "./routes.js";

/** FetchRateLimitOptions configures withRateLimit. */
export interface FetchRateLimitOptions<Args extends unknown[] = unknown[]> extends HttpRateLimitOptions<Request> {
  /**
   * peer returns the socket address of the request. Runtimes expose it
   * differently, so it is passed in: Bun `(req, server) => server.requestIP(req)?.address`,
   * Deno `(req, info) => info.remoteAddr.hostname`. Default: those two shapes are
   * recognised, and on Cloudflare Workers (a request with `cf`) the
   * `CF-Connecting-IP` header, which Cloudflare sets, is used.
   */
  peer?: (request: Request, ...args: Args) => string | undefined;
}

/**
 * defaultPeer finds the client address in what a runtime passes beside the
 * request: Bun's server (`requestIP`), Deno's serve info (`remoteAddr`),
 * @hono/node-server's bindings (`incoming.socket`), or on Cloudflare Workers
 * (a request with `cf`) the `CF-Connecting-IP` header that Cloudflare sets.
 */
export function defaultPeer(request: Request, extra: unknown): string | undefined {
  const x = extra as
    | {
        requestIP?: (r: Request) => { address?: string } | null;
        remoteAddr?: { hostname?: string };
        incoming?: { socket?: { remoteAddress?: string } };
      }
    | undefined;
  if (x !== null && typeof x === "object") {
    if (typeof x.requestIP === "function") return x.requestIP(request)?.address ?? undefined;
    if (typeof x.remoteAddr?.hostname === "string") return x.remoteAddr.hostname;
    const socketAddress = x.incoming?.socket?.remoteAddress;
    if (typeof socketAddress === "string") return socketAddress;
  }
  if ((request as { cf?: unknown }).cf !== undefined) return request.headers.get("cf-connecting-ip") ?? undefined;
  return undefined;
}

/** pathOf returns the path and query of an absolute URL ("http://h/a?b" -> "/a?b"). */
export function pathOf(url: string): string {
  const scheme = url.indexOf("://");
  if (scheme < 0) return url;
  const slash = url.indexOf("/", scheme + 3);
  return slash < 0 ? "/" : url.slice(slash);
}

/**
 * WebRequestView is the core's view of a Web-standard `Request` (`request`),
 * for a framework whose own request or context is `raw` (the Request itself for
 * withRateLimit, Hono's context). The peer address comes from the runtime and
 * is passed in; a framework that knows the route pattern overrides `route`.
 */
export class WebRequestView<Raw> implements HttpRequest<Raw> {
  readonly raw: Raw;
  readonly request: Request;
  readonly method: string;
  readonly peer: string | undefined;
  #url: string | undefined;
  constructor(raw: Raw, request: Request, peer: string | undefined) {
    this.raw = raw;
    this.request = request;
    this.method = request.method;
    this.peer = peer;
  }
  get url(): string {
    this.#url ??= pathOf(this.request.url);
    return this.#url;
  }
  get path(): string {
    return pathOnly(this.url);
  }
  get route(): string | undefined {
    return undefined;
  }
  get scope(): object | undefined {
    return undefined;
  }
  /** header returns a request header (lower-case name), repeated ones joined with ", ". */
  header(name: string): string | undefined {
    return this.request.headers.get(name) ?? undefined;
  }
}

/**
 * withHeaders copies an outcome's header fields onto a response and returns it,
 * or a copy when its headers are immutable (a Response from fetch()). Given the
 * limiter (`core`) and the request view it checked (`req`), the fields are merged
 * with those of a stacked limiter (see HttpRateLimit.setHeaders).
 */
export function withHeaders<Raw>(
  response: Response,
  out: HttpOutcome,
  core?: HttpRateLimit<Raw>,
  req?: HttpRequest<Raw>,
): Response {
  if (out.headers.length === 0) return response;
  const apply = (r: Response): void => {
    if (core === undefined || req === undefined) writeHeaders(out.headers, r.headers, HEADERS);
    else core.setHeaders(out, req, r.headers, HEADERS);
  };
  try {
    apply(response);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    apply(copy);
    return copy;
  }
}

/** refusal builds the 429 Response of an outcome. */
export function refusal(out: HttpOutcome): Response {
  return new Response(out.body, { status: out.status, headers: out.headers });
}

/**
 * withRateLimit wraps a fetch handler `(request, ...rest) => Response` so that
 * each request is checked first: refused requests get a 429 problem+json
 * response without calling the handler; the others get the RateLimit headers on
 * the handler's response. It uses Web standards only, so it runs on Node, Bun,
 * Deno and Cloudflare Workers (with the memory store). Set `peer` where the
 * runtime is not recognised, else every client shares the "unknown" bucket
 * (a warning says so once).
 *
 * Nested wrappers each count the request and merge their RateLimit fields,
 * each policy once. The returned promise rejects when a callback throws or
 * for a configuration error (such as ERR_INVALID_CLOCK from a broken injected
 * `now`): the runtime's error path answers it (a 500 on Bun, Deno, Workers).
 *
 * @example
 * import { withRateLimit } from "floodgate/http";
 * import { tokenBucket } from "floodgate";
 *
 * const handler = withRateLimit((request: Request) => new Response("hello"), {
 *   policy: tokenBucket({ capacity: 10, refillRate: 1 }),
 * });
 * export default { fetch: handler }; // Bun, Deno (deno serve), Cloudflare Workers
 */
export function withRateLimit<Args extends unknown[]>(
  handler: (request: Request, ...args: Args) => Response | Promise<Response>,
  options: FetchRateLimitOptions<Args>,
): (request: Request, ...args: Args) => Promise<Response> {
  if (typeof handler !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: withRateLimit(handler) needs a function (request) => Response, got ${describe(handler)}.`,
    );
  }
  const { peer, ...rest } = options ?? ({} as FetchRateLimitOptions<Args>);
  if (peer !== undefined && typeof peer !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: withRateLimit({ peer }) must be a function (request, ...args) => string | undefined, got ${describe(peer)}.`,
    );
  }
  const core = new HttpRateLimit<Request>(rest, "withRateLimit");
  return async function floodgateFetch(request: Request, ...args: Args): Promise<Response> {
    const address = peer ? peer(request, ...args) : defaultPeer(request, args[0]);
    if (address === undefined && rest.key === undefined) {
      core.warn(
        "FG_NO_PEER",
        "withRateLimit() cannot see the client address on this runtime, so all clients share one bucket; pass { peer: (request, ...args) => address } or a key function.",
      );
    }
    const view = new WebRequestView(request, request, address);
    const out = await core.check(view);
    if (out.limited) return refusal(out);
    return withHeaders(await handler(request, ...args), out, core, view);
  };
}
