// incoming.ts: what the node:http-based adapters (express, fastify, koa, node) share: the request view over an IncomingMessage, and writing an outcome on a ServerResponse.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { HttpOutcome, HttpRateLimit, HttpRequest } from "../http/core.js";
import type { HeaderAccess } from "../http/response.js";
import { pathOnly } from "../http/routes.js";

/**
 * IncomingView is the core's view of a request that arrived as a node
 * IncomingMessage (`msg`), for a framework whose own request or context is
 * `raw`. It reads the method, the URL, the socket peer and the headers from
 * `msg`; an adapter overrides `url` (Express and Koa report the URL before
 * mounting), `route` and `frameworkIp` where its framework knows them.
 */
export class IncomingView<Raw> implements HttpRequest<Raw> {
  readonly raw: Raw;
  readonly msg: IncomingMessage;
  constructor(raw: Raw, msg: IncomingMessage) {
    this.raw = raw;
    this.msg = msg;
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
    return undefined;
  }
  get peer(): string | undefined {
    return this.msg.socket?.remoteAddress;
  }
  get frameworkIp(): string | undefined {
    return undefined;
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

/** RESPONSE is the HeaderAccess of a node ServerResponse (also Express's `res`). */
export const RESPONSE: HeaderAccess<ServerResponse> = {
  get(res, name) {
    const v = res.getHeader(name);
    return v === undefined ? undefined : Array.isArray(v) ? v.join(", ") : String(v);
  },
  set(res, name, value) {
    // Perf: node's setHeader lower-cases every name to key its header table; the two fields of
    // every response passed in lower case cost no new string per field (field names are
    // case-insensitive, and node writes them as given).
    res.setHeader(name === "RateLimit" ? "ratelimit" : name === "RateLimit-Policy" ? "ratelimit-policy" : name, value);
  },
};

/**
 * sendOutcome writes an outcome on a ServerResponse: its header fields (merged
 * with a stacked limiter's, see HttpRateLimit.setHeaders), and for a refusal
 * the 429 status and problem+json body, ending the response. It returns true
 * when the request may proceed.
 */
export function sendOutcome<Raw>(
  core: HttpRateLimit<Raw>,
  out: HttpOutcome,
  req: HttpRequest<Raw>,
  res: ServerResponse,
): boolean {
  core.setHeaders(out, req, res, RESPONSE);
  if (!out.limited) return true;
  res.statusCode = out.status;
  res.end(out.body);
  return false;
}
