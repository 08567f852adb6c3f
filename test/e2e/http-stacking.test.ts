// http-stacking.test.ts: one request, counted once per limiter: the same middleware mounted twice counts once; stacked limiters merge their fields.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import Koa from "koa";
import { parseList } from "structured-headers";
import { afterEach, describe, expect, it } from "vitest";
import { rateLimit as expressRateLimit } from "../../src/adapters/express.js";
import { rateLimit as fastifyRateLimit } from "../../src/adapters/fastify.js";
import { rateLimit as honoRateLimit } from "../../src/adapters/hono.js";
import { rateLimit as koaRateLimit } from "../../src/adapters/koa.js";
import { rateLimit as nodeRateLimit, withRateLimit as nodeWithRateLimit } from "../../src/adapters/node.js";
import { tokenBucket } from "../../src/core/token-bucket.js";
import type { HttpRateLimitOptions, Warning } from "../../src/http/core.js";
import { withRateLimit as fetchWithRateLimit } from "../../src/http/fetch.js";
import { HEADERS, mergeHeaders } from "../../src/http/response.js";
import { checkRefusal } from "./conformance.js";
import { hit, type Running } from "./servers.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

function listen(server: Server): Promise<Running> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        base: `http://127.0.0.1:${port}`,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

function serveFetch(fetch: Parameters<typeof serve>[0]["fetch"]): Promise<Running> {
  return new Promise((resolve) => {
    const server = serve({ fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
      resolve({
        base: `http://127.0.0.1:${info.port}`,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    }) as Server;
  });
}

/** items parses a RateLimit or RateLimit-Policy field with structured-headers: [name, params] per item, in order. */
function items(headers: Headers, field: string): [string, Record<string, unknown>][] {
  const text = headers.get(field);
  if (text === null) return [];
  return parseList(text).map(([item, params]) => [String(item), Object.fromEntries(params)]);
}

/** byName sorts parsed items by name: stacked limiters may write in either order (Hono and fetch write last-in first). */
function byName(list: [string, Record<string, unknown>][]): [string, Record<string, unknown>][] {
  return [...list].sort((a, b) => a[0].localeCompare(b[0]));
}

// biome-ignore lint/suspicious/noExplicitAny: each adapter takes its own request type.
type Options = HttpRateLimitOptions<any>;
/** StackedApp serves GET / under the app-wide limiter and POST /login under it and a per-route limiter. */
type StackedApp = (outer: Options, inner: Options) => Promise<Running>;

const STACKED: Record<string, StackedApp> = {
  express: async (outer, inner) => {
    const app = express();
    app.use(expressRateLimit(outer));
    app.post("/login", expressRateLimit(inner), (_req, res) => void res.send("welcome"));
    app.get("/", (_req, res) => void res.send("home"));
    return listen(createServer(app));
  },
  koa: async (outer, inner) => {
    const app = new Koa();
    const login = koaRateLimit(inner);
    app.use(koaRateLimit(outer));
    app.use((ctx, next) => (ctx.path === "/login" ? login(ctx, next) : next()));
    app.use((ctx) => {
      ctx.body = ctx.path === "/login" ? "welcome" : "home";
    });
    return listen(createServer(app.callback()));
  },
  fastify: async (outer, inner) => {
    // The root plugin covers every route; a second one in the route's encapsulated context adds its own limit.
    const app = Fastify();
    await app.register(fastifyRateLimit, outer);
    await app.register(async (child) => {
      await child.register(fastifyRateLimit, inner);
      child.post("/login", async () => "welcome");
    });
    app.get("/", async () => "home");
    await app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = app.server.address() as AddressInfo;
    return { base: `http://127.0.0.1:${port}`, close: () => app.close() };
  },
  hono: async (outer, inner) => {
    const app = new Hono();
    app.use(honoRateLimit(outer));
    app.use("/login", honoRateLimit(inner));
    app.post("/login", (c) => c.text("welcome"));
    app.get("/", (c) => c.text("home"));
    return serveFetch(app.fetch);
  },
  node: async (outer, inner) => {
    const login = nodeWithRateLimit((_req, res) => void res.end("welcome"), inner);
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      if (req.url === "/login") login(req, res);
      else res.end("home");
    };
    return listen(createServer(nodeWithRateLimit(handler, outer)));
  },
  fetch: async (outer, inner) => {
    const login = fetchWithRateLimit(() => new Response("welcome"), inner);
    const handler = fetchWithRateLimit(
      (request: Request) => (new URL(request.url).pathname === "/login" ? login(request) : new Response("home")),
      outer,
    );
    return serveFetch(handler);
  },
};

describe.each(Object.keys(STACKED))("%s: stacked limiters (app-wide and per route)", (adapter) => {
  // Regression (issue 8, defect 9): the second limiter's setHeader overwrote the first's fields, so a response
  // named only the per-route policy although the app-wide one had counted the request too.
  it("each limiter counts the request once; RateLimit and RateLimit-Policy list both policies, each once", async () => {
    const warnings: string[] = [];
    const common = { key: () => "ann", onWarning: (w: Warning) => void warnings.push(w.code) };
    const api = tokenBucket({ name: "api", capacity: 5, refillRate: 0.01 });
    const login = tokenBucket({ name: "login", capacity: 2, refillRate: 0.01 });
    running = await (STACKED[adapter] as StackedApp)({ ...common, policy: api }, { ...common, policy: login });

    const home = await hit(running.base, "/");
    expect(home.status).toBe(200);
    expect(items(home.headers, "ratelimit")).toEqual([["api", { r: 4, t: 100 }]]);

    const expected = [
      // [step, status, api r, login r]
      [1, 200, 3, 1],
      [2, 200, 2, 0],
      [3, 429, 1, 0], // refused by login; the app-wide limiter counted it before
    ];
    for (const [step, status, apiR, loginR] of expected) {
      const r = await hit(running.base, "/login", { method: "POST" });
      const where = `${adapter} step ${step}: POST /login = ${r.status} ${r.body}`;
      expect(r.status, where).toBe(status);
      expect(byName(items(r.headers, "ratelimit-policy")), `${where}: RateLimit-Policy`).toEqual([
        ["api", { q: 5, w: 500 }],
        ["login", { q: 2, w: 200 }],
      ]);
      expect(byName(items(r.headers, "ratelimit")), `${where}: RateLimit`).toEqual([
        ["api", { r: apiR, t: 100 }],
        ["login", { r: loginR, t: 100 }],
      ]);
      if (status === 429) {
        const body = checkRefusal(r, where);
        expect(body["violated-policies"]).toEqual(["login"]);
        expect(r.headers.get("retry-after"), `${where}: Retry-After of login`).toBe("100");
      }
    }
    expect(warnings, `${adapter}: nothing doubtful in this setup`).toEqual([]);
  });
});

/** TWICE mounts one limiter instance twice on the same request's way, where the framework allows it. */
const TWICE: Record<string, (limit: Options) => Promise<Running>> = {
  express: async (options) => {
    const app = express();
    const router = express.Router();
    const limit = expressRateLimit(options);
    app.use(limit);
    router.use(limit);
    router.get("/", (_req, res) => void res.send("home"));
    app.use(router);
    return listen(createServer(app));
  },
  koa: async (options) => {
    const app = new Koa();
    const limit = koaRateLimit(options);
    app.use(limit);
    app.use(limit);
    app.use((ctx) => {
      ctx.body = "home";
    });
    return listen(createServer(app.callback()));
  },
  hono: async (options) => {
    const app = new Hono();
    const limit = honoRateLimit(options);
    app.use(limit);
    app.use("/*", limit);
    app.get("/", (c) => c.text("home"));
    return serveFetch(app.fetch);
  },
  node: async (options) => {
    const limit = nodeRateLimit(options);
    return listen(
      createServer(async (req, res) => {
        if (!(await limit(req, res))) return;
        if (!(await limit(req, res))) return; // a second check of the same request
        res.end("home");
      }),
    );
  },
};

describe.each(Object.keys(TWICE))("%s: one limiter mounted twice", (adapter) => {
  // Regression (issue 8, defect 9): app.use(limit) and router.use(limit) counted each request twice.
  it("counts each request once and warns FG_DOUBLE_COUNT once", async () => {
    const warnings: Warning[] = [];
    running = await (TWICE[adapter] as (o: Options) => Promise<Running>)({
      policy: tokenBucket({ name: "api", capacity: 4, refillRate: 0.01 }),
      onWarning: (w) => void warnings.push(w),
    });
    const seen = [];
    for (let i = 0; i < 5; i++) {
      const r = await hit(running.base, "/");
      seen.push([r.status, items(r.headers, "ratelimit").map(([n, p]) => `${n} r=${p.r}`)]);
    }
    expect(seen, `${adapter}: statuses and RateLimit per request`).toEqual([
      [200, ["api r=3"]],
      [200, ["api r=2"]],
      [200, ["api r=1"]],
      [200, ["api r=0"]],
      [429, ["api r=0"]],
    ]);
    expect(warnings.map((w) => w.code)).toEqual(["FG_DOUBLE_COUNT"]);
    expect(warnings[0]?.message).toMatch(/checked one request twice.*Mount it once/);
  });
});

describe("Fastify: the root plugin and a route's own", () => {
  it("the same policy name for different policies in two limiters keeps both items and warns FG_POLICY_NAME_COLLISION", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Warning) => void warnings.push(w.code);
    running = await (STACKED.fastify as StackedApp)(
      { key: () => "ann", onWarning, policy: tokenBucket({ name: "api", capacity: 5, refillRate: 0.01 }) },
      { key: () => "ann", onWarning, policy: tokenBucket({ name: "api", capacity: 2, refillRate: 0.01 }) },
    );
    const r = await hit(running.base, "/login", { method: "POST" });
    expect(items(r.headers, "ratelimit-policy")).toEqual([
      ["api", { q: 5, w: 500 }],
      ["api", { q: 2, w: 200 }],
    ]);
    expect(items(r.headers, "ratelimit")).toEqual([
      ["api", { r: 4, t: 100 }],
      ["api", { r: 1, t: 100 }],
    ]);
    expect(warnings).toEqual(["FG_POLICY_NAME_COLLISION"]);
  });

  it("the same policy in two limiters is listed once, with the tighter remaining", async () => {
    const api = tokenBucket({ name: "api", capacity: 5, refillRate: 0.01 });
    running = await (STACKED.fastify as StackedApp)(
      { key: () => "ann", policy: api },
      { key: () => "ann", policy: api },
    );
    await hit(running.base, "/");
    const r = await hit(running.base, "/login", { method: "POST" });
    expect(items(r.headers, "ratelimit-policy")).toEqual([["api", { q: 5, w: 500 }]]);
    // The root limiter has seen two requests (r=3), the route's one (r=4): the tighter is shown.
    expect(items(r.headers, "ratelimit")).toEqual([["api", { r: 3, t: 100 }]]);
  });
});

describe("mergeHeaders", () => {
  const P_API = '"api";q=5;w=500';
  const P_LOGIN = '"login";q=2;w=200';
  it.each([
    // [why, fields already on the response, fields of this limiter, fields after, collisions]
    [
      "nothing set yet: as is",
      {},
      [
        ["RateLimit-Policy", P_API],
        ["RateLimit", '"api";r=4;t=1'],
      ],
      { "ratelimit-policy": P_API, ratelimit: '"api";r=4;t=1' },
      undefined,
    ],
    [
      "another policy: appended",
      { "ratelimit-policy": P_API, ratelimit: '"api";r=4;t=1' },
      [
        ["RateLimit-Policy", P_LOGIN],
        ["RateLimit", '"login";r=1;t=100'],
      ],
      { "ratelimit-policy": `${P_API}, ${P_LOGIN}`, ratelimit: '"api";r=4;t=1, "login";r=1;t=100' },
      undefined,
    ],
    [
      "the same policy: once, the smaller r stays",
      { "ratelimit-policy": P_API, ratelimit: '"api";r=2;t=1' },
      [
        ["RateLimit-Policy", P_API],
        ["RateLimit", '"api";r=3;t=1'],
      ],
      { "ratelimit-policy": P_API, ratelimit: '"api";r=2;t=1' },
      undefined,
    ],
    [
      "the same policy: once, a smaller r replaces",
      { "ratelimit-policy": P_API, ratelimit: '"api";r=2;t=1' },
      [
        ["RateLimit-Policy", P_API],
        ["RateLimit", '"api";r=0;t=7'],
      ],
      { "ratelimit-policy": P_API, ratelimit: '"api";r=0;t=7' },
      undefined,
    ],
    [
      "the same name, another policy: both kept, collision reported",
      { "ratelimit-policy": P_API, ratelimit: '"api";r=4;t=1' },
      [
        ["RateLimit-Policy", '"api";q=2;w=200'],
        ["RateLimit", '"api";r=1;t=100'],
      ],
      { "ratelimit-policy": `${P_API}, "api";q=2;w=200`, ratelimit: '"api";r=4;t=1, "api";r=1;t=100' },
      ["api"],
    ],
    [
      "a foreign item with a quoted comma is kept whole",
      { "ratelimit-policy": '"a,b";q=1;w=1', ratelimit: '"a,b";r=0;t=1' },
      [
        ["RateLimit-Policy", P_API],
        ["RateLimit", '"api";r=4;t=1'],
      ],
      { "ratelimit-policy": `"a,b";q=1;w=1, ${P_API}`, ratelimit: '"a,b";r=0;t=1, "api";r=4;t=1' },
      undefined,
    ],
    [
      "Retry-After: the larger stays",
      { "retry-after": "30" },
      [
        ["Retry-After", "5"],
        ["Cache-Control", "no-store"],
      ],
      { "retry-after": "30", "cache-control": "no-store" },
      undefined,
    ],
    [
      "Retry-After: a larger one replaces",
      { "retry-after": "5" },
      [["Retry-After", "30"]],
      { "retry-after": "30" },
      undefined,
    ],
    [
      "legacy trio: the one with less remaining stays",
      { "x-ratelimit-limit": "5", "x-ratelimit-remaining": "1", "x-ratelimit-reset": "9" },
      [
        ["X-RateLimit-Limit", "100"],
        ["X-RateLimit-Remaining", "50"],
        ["X-RateLimit-Reset", "1"],
      ],
      { "x-ratelimit-limit": "5", "x-ratelimit-remaining": "1", "x-ratelimit-reset": "9" },
      undefined,
    ],
    [
      "legacy trio: a tighter one replaces",
      { "x-ratelimit-limit": "100", "x-ratelimit-remaining": "50", "x-ratelimit-reset": "1" },
      [
        ["X-RateLimit-Limit", "5"],
        ["X-RateLimit-Remaining", "0"],
        ["X-RateLimit-Reset", "9"],
      ],
      { "x-ratelimit-limit": "5", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "9" },
      undefined,
    ],
  ] as [string, Record<string, string>, [string, string][], Record<string, string>, string[] | undefined][])(
    "%s",
    (_why, before, incoming, after, collisions) => {
      const h = new Headers(before);
      const got = mergeHeaders(incoming, h, HEADERS);
      const fields: Record<string, string> = {};
      h.forEach((value, name) => {
        fields[name] = value;
      });
      expect(fields).toEqual(after);
      expect(got).toEqual(collisions);
    },
  );
});
