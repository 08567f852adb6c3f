// fastify-route-config.test.ts: the Fastify adapter finds a route's config.rateLimit through Fastify's route context, and through routeOptions when that context is not what it expects.

import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { describe, expect, it } from "vitest";
import { rateLimit } from "../../src/adapters/fastify.js";
import { tokenBucket } from "../../src/core/token-bucket.js";

type Hook = (request: FastifyRequest, reply: FastifyReply, next: (err?: Error) => void) => void;

/** plugin registers the adapter on a stand-in Fastify instance and returns its onRequest hook. */
function plugin(): Hook {
  const hooks: Record<string, unknown> = {};
  const instance = {
    addHook(name: string, fn: unknown): void {
      hooks[name] = fn;
    },
  };
  let error: unknown;
  rateLimit(
    instance as unknown as FastifyInstance,
    { policy: tokenBucket({ name: "api", capacity: 100, refillRate: 1 }) },
    (e) => {
      error = e;
    },
  );
  expect(error).toBeUndefined();
  return hooks.onRequest as Hook;
}

const CONTEXT = Symbol("fastify.context");
const socket = { remoteAddress: "127.0.0.1" };

/** request builds a stand-in request whose routeOptions.config is `config`, with a route context holding `contextConfig` (or none). */
function request(config: object, contextConfig?: object): { req: FastifyRequest; optionReads: () => number } {
  let reads = 0;
  const req: Record<string | symbol, unknown> = {
    raw: { method: "GET", url: "/items/1", headers: {}, socket },
    get routeOptions() {
      reads++;
      return { url: "/items/:id", method: "GET", config };
    },
  };
  if (contextConfig !== undefined) req[CONTEXT] = { config: contextConfig };
  return { req: req as unknown as FastifyRequest, optionReads: () => reads };
}

/** send runs the hook and returns the status sent (200 when it let the request through) and the headers set. */
function send(hook: Hook, req: FastifyRequest): { status: number; headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  let status = 0;
  const reply = {
    header(name: string, value: string) {
      headers[name.toLowerCase()] = value;
      return reply;
    },
    getHeader: (name: string) => headers[name.toLowerCase()],
    code(s: number) {
      status = s;
      return reply;
    },
    send: () => reply,
  };
  hook(req, reply as unknown as FastifyReply, () => {
    status = 200;
  });
  return { status, headers };
}

describe("Fastify adapter: a route's config.rateLimit", () => {
  const items = {
    url: "/items/:id",
    method: "GET",
    rateLimit: { policy: tokenBucket({ name: "items", capacity: 1, refillRate: 0.001 }) },
  };

  it("is read through the route context once it matches routeOptions.config (routeOptions is read on the first request only)", () => {
    const hook = plugin();
    const first = request(items, items);
    expect(send(hook, first.req).status).toBe(200);
    const second = request(items, items);
    const out = send(hook, second.req);
    expect(out.status, "the route's own policy of 1 must refuse the second request").toBe(429);
    expect(out.headers["ratelimit-policy"]).toBe('"items";q=1;w=1000');
    expect(second.optionReads(), "routeOptions builds an object per read: not read once the context is known").toBe(0);
  });

  it("falls back to routeOptions for every request when the context's config is another object", () => {
    const hook = plugin();
    const other = { url: "/other", method: "GET", rateLimit: false };
    const first = request(items, other);
    expect(send(hook, first.req).status).toBe(200);
    const second = request(items, other);
    const out = send(hook, second.req);
    expect(out.status, "config.rateLimit from routeOptions, not from the mismatched context").toBe(429);
    expect(second.optionReads()).toBeGreaterThan(0);
  });

  it("falls back to routeOptions when Fastify keeps no route context", () => {
    const hook = plugin();
    expect(send(hook, request(items).req).status).toBe(200);
    expect(send(hook, request(items).req).status).toBe(429);
    const off = { url: "/free", method: "GET", rateLimit: false };
    expect(send(hook, request(off).req).headers.ratelimit, "rateLimit: false leaves the route unlimited").toBe(
      undefined,
    );
  });
});
