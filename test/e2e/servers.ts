// servers.ts: starts the same small app on every adapter, on 127.0.0.1 and an ephemeral port, for the e2e tests.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import Koa from "koa";
import { rateLimit as expressRateLimit } from "../../src/adapters/express.js";
import { rateLimit as fastifyRateLimit } from "../../src/adapters/fastify.js";
import { rateLimit as honoRateLimit } from "../../src/adapters/hono.js";
import { rateLimit as koaRateLimit } from "../../src/adapters/koa.js";
import { withRateLimit as nodeWithRateLimit } from "../../src/adapters/node.js";
import type { HttpRateLimitOptions, HttpRequest } from "../../src/http/core.js";
import { withRateLimit as fetchWithRateLimit } from "../../src/http/fetch.js";

/** Adapter names every adapter under test. */
export type Adapter = "express" | "fastify" | "hono" | "koa" | "node" | "fetch";
export const ADAPTERS: readonly Adapter[] = ["express", "fastify", "hono", "koa", "node", "fetch"];

/** Running is a started app. */
export interface Running {
  base: string;
  close(): Promise<void>;
}

// The app: GET /, GET /health, POST /login, GET /users/:id, GET /expensive. Unknown paths are 404.
const PATHS: [string, string][] = [
  ["GET", "/"],
  ["GET", "/health"],
  ["POST", "/login"],
  ["GET", "/users/:id"],
  ["GET", "/expensive"],
];

function listen(server: Server): Promise<Running> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        base: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
  });
}

/** matchPath is the tiny router of the node and fetch apps. */
function matchPath(method: string, url: string): boolean {
  const path = (url.split("?")[0] ?? "/").replace(/\/+$/, "") || "/";
  return PATHS.some(([m, p]) => {
    if (m !== method && !(m === "GET" && method === "HEAD")) return false;
    if (p.includes(":")) return path.startsWith(p.slice(0, p.indexOf(":"))) && path.split("/").length === 3;
    return p === path;
  });
}

// biome-ignore lint/suspicious/noExplicitAny: each adapter takes its own request type.
type AnyOptions = HttpRateLimitOptions<any> & Record<string, unknown>;

/**
 * Hooks observe the app: `error` receives what reaches the framework's error path
 * (Express error middleware, Fastify's error handler, Hono's onError, Koa's "error"
 * event, node withRateLimit's onError, a rejected fetch handler), answered 500.
 */
export interface Hooks {
  error?: (err: unknown) => void;
}

/** start serves the app on an adapter with the limiter mounted app-wide. */
export async function start(adapter: Adapter, options: AnyOptions, hooks: Hooks = {}): Promise<Running> {
  const onAppError = hooks.error;
  switch (adapter) {
    case "express": {
      const app = express();
      app.use(expressRateLimit(options));
      for (const [m, p] of PATHS) app[m.toLowerCase() as "get" | "post"](p, (_req, res) => void res.send(`ok ${p}`));
      if (onAppError) {
        app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
          onAppError(err);
          res.status(500).end();
        });
      }
      return listen(createServer(app));
    }
    case "fastify": {
      const app = Fastify({ routerOptions: { ignoreTrailingSlash: true } });
      if (onAppError) {
        app.setErrorHandler((err, _req, reply) => {
          onAppError(err);
          void reply.code(500).send();
        });
      }
      await app.register(fastifyRateLimit, options);
      for (const [m, p] of PATHS) app.route({ method: m as "GET", url: p, handler: async () => `ok ${p}` });
      await app.listen({ port: 0, host: "127.0.0.1" });
      const { port } = app.server.address() as AddressInfo;
      return { base: `http://127.0.0.1:${port}`, close: () => app.close() };
    }
    case "hono": {
      const app = new Hono({ strict: false });
      if (onAppError) {
        app.onError((err, c) => {
          onAppError(err);
          return c.text("error", 500);
        });
      }
      app.use(honoRateLimit(options));
      for (const [m, p] of PATHS) app.on(m, p, (c) => c.text(`ok ${p}`));
      return new Promise((resolve) => {
        const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
          resolve({
            base: `http://127.0.0.1:${info.port}`,
            close: () => new Promise<void>((r) => server.close(() => r())),
          });
        }) as Server;
        server.closeAllConnections?.bind(server);
      });
    }
    case "koa": {
      const app = new Koa();
      if (onAppError) app.on("error", onAppError);
      app.use(koaRateLimit(options));
      app.use((ctx) => {
        if (matchPath(ctx.method, ctx.url)) ctx.body = `ok ${ctx.path}`;
      });
      return listen(createServer(app.callback()));
    }
    case "node": {
      const handler = (req: IncomingMessage, res: ServerResponse): void => {
        if (!matchPath(req.method ?? "GET", req.url ?? "/")) {
          res.statusCode = 404;
          res.end("not found");
          return;
        }
        res.end(`ok ${req.url}`);
      };
      const onError = (err: unknown, req: HttpRequest<IncomingMessage>): void => {
        if (typeof options.onError === "function") options.onError(err, req);
        onAppError?.(err);
      };
      return listen(createServer(nodeWithRateLimit(handler, onAppError ? { ...options, onError } : options)));
    }
    case "fetch": {
      const handler = fetchWithRateLimit((request: Request, ..._rest: unknown[]) => {
        const url = new URL(request.url);
        if (!matchPath(request.method, url.pathname + url.search)) return new Response("not found", { status: 404 });
        return new Response(`ok ${url.pathname}`);
      }, options);
      const fetchHandler = async (request: Request, ...rest: unknown[]): Promise<Response> => {
        try {
          return await handler(request, ...rest);
        } catch (err) {
          // The runtime's error path (Bun, Deno, Workers answer 500), observed.
          if (!onAppError) throw err;
          onAppError(err);
          return new Response("error", { status: 500 });
        }
      };
      return new Promise((resolve) => {
        const server = serve({ fetch: fetchHandler, port: 0, hostname: "127.0.0.1" }, (info) => {
          resolve({
            base: `http://127.0.0.1:${info.port}`,
            close: () => new Promise<void>((r) => server.close(() => r())),
          });
        }) as Server;
      });
    }
  }
}

/** Reply is what a test sees of a response. */
export interface Reply {
  status: number;
  headers: Headers;
  body: string;
}

/** hit sends one request and reads the whole response. */
export async function hit(
  base: string,
  path = "/",
  init: { method?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const res = await fetch(base + path, { method: init.method ?? "GET", headers: init.headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}
