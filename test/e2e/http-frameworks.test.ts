// http-frameworks.test.ts: framework conventions: Fastify plugin encapsulation, route config and 404s; Express and Koa per route; Hono's Web-only imports.

import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import express from "express";
import Fastify from "fastify";
import Koa from "koa";
import { describe, expect, it } from "vitest";
import { rateLimit as expressRateLimit } from "../../src/adapters/express.js";
import { rateLimit as fastifyRateLimit } from "../../src/adapters/fastify.js";
import { rateLimit as honoRateLimit } from "../../src/adapters/hono.js";
import { rateLimit as koaRateLimit } from "../../src/adapters/koa.js";
import { rateLimit as nodeRateLimit, withRateLimit as nodeWithRateLimit } from "../../src/adapters/node.js";
import { tokenBucket } from "../../src/core/token-bucket.js";
import { withRateLimit as fetchWithRateLimit } from "../../src/http/fetch.js";
import { parseLimits } from "./conformance.js";
import { hit } from "./servers.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const tb = (name: string, capacity: number) => tokenBucket({ name, capacity, refillRate: 0.001 });

async function listen(server: Server): Promise<{ base: string; close: () => Promise<void> }> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("Fastify plugin", () => {
  it("covers 404s, honours config.rateLimit per route (false, or its own policy keyed by route pattern)", async () => {
    const app = Fastify();
    await app.register(fastifyRateLimit, { policy: tb("api", 3) });
    app.get("/", async () => "home");
    app.get("/free", { config: { rateLimit: false } }, async () => "free");
    app.get("/items/:id", { config: { rateLimit: { policy: tb("items", 2) } } }, async () => "item");
    await app.listen({ port: 0, host: "127.0.0.1" });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      for (let i = 0; i < 3; i++) expect((await hit(base, "/free")).headers.get("ratelimit"), "/free").toBeNull();
      const items = [];
      for (const id of ["a", "b", "c"]) items.push((await hit(base, `/items/${id}`)).status);
      expect(items, "/items/:id shares one bucket of 2 across ids").toEqual([200, 200, 429]);
      const missing = await hit(base, "/nope");
      expect(missing.status).toBe(404);
      expect(parseLimits(missing.headers, "404").limits.get("api")?.r, "404s spend the default bucket").toBe(2);
      await hit(base, "/nope2");
      await hit(base, "/");
      expect((await hit(base, "/nope3")).status, "404 probing is limited too").toBe(429);
    } finally {
      await app.close();
    }
  });

  it("registered inside an encapsulated context, limits that context only", async () => {
    const app = Fastify();
    app.get("/public", async () => "public");
    await app.register(
      async (api) => {
        await api.register(fastifyRateLimit, { policy: tb("api", 1) });
        api.get("/thing", async () => "thing");
      },
      { prefix: "/api" },
    );
    await app.listen({ port: 0, host: "127.0.0.1" });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      expect((await hit(base, "/api/thing")).status).toBe(200);
      expect((await hit(base, "/api/thing")).status).toBe(429);
      const pub = await hit(base, "/public");
      expect(pub.status).toBe(200);
      expect(pub.headers.get("ratelimit"), "sibling route outside the context is not limited").toBeNull();
    } finally {
      await app.close();
    }
  });

  it("rejects bad options at register time with a clear error", async () => {
    const app = Fastify();
    await expect(app.register(fastifyRateLimit, { policy: tb("api", 1), trustProxy: true as never })).rejects.toThrow(
      /would trust every address/,
    );
  });
});

describe("Express", () => {
  it("mounted on one route, limits that route by its own policy; the router-level limiter still applies", async () => {
    const app = express();
    const router = express.Router();
    router.use(expressRateLimit({ policy: tb("api", 5) }));
    router.post("/login", expressRateLimit({ policy: tb("login", 1) }), (_req, res) => void res.send("welcome"));
    router.get("/", (_req, res) => void res.send("home"));
    app.use("/v1", router);
    app.get("/outside", (_req, res) => void res.send("outside"));
    const s = await listen(createServer(app));
    try {
      const first = await hit(s.base, "/v1/login", { method: "POST" });
      expect(first.status).toBe(200);
      // Both limiters count it and their fields are merged (test/e2e/http-stacking.test.ts).
      expect(parseLimits(first.headers, "login").limits.get("login")?.r).toBe(0);
      expect((await hit(s.base, "/v1/login", { method: "POST" })).status).toBe(429);
      expect((await hit(s.base, "/v1/")).status).toBe(200);
      expect((await hit(s.base, "/outside")).headers.get("ratelimit"), "outside the router").toBeNull();
    } finally {
      await s.close();
    }
  });

  it("routes rules match Express's route pattern when mounted on the route", async () => {
    const app = express();
    const seen: (string | undefined)[] = [];
    app.get(
      "/users/:id",
      expressRateLimit({
        policy: tb("api", 10),
        routes: { "/users/:id": { policy: tb("user", 2) } },
        select: (req) => {
          seen.push(req.route);
          return undefined;
        },
      }),
      (_req, res) => void res.send("user"),
    );
    const s = await listen(createServer(app));
    try {
      const statuses = [];
      for (const id of ["1", "2", "3"]) statuses.push((await hit(s.base, `/users/${id}`)).status);
      expect(statuses).toEqual([200, 200, 429]);
      expect(seen).toEqual(["/users/:id", "/users/:id", "/users/:id"]);
    } finally {
      await s.close();
    }
  });
});

describe("Koa", () => {
  it("a refused request never reaches downstream middleware", async () => {
    const app = new Koa();
    let reached = 0;
    app.use(koaRateLimit({ policy: tb("api", 2) }));
    app.use((ctx) => {
      reached++;
      ctx.body = "ok";
    });
    const s = await listen(createServer(app.callback()));
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await hit(s.base, "/")).status);
      expect(statuses).toEqual([200, 200, 429, 429]);
      expect(reached).toBe(2);
    } finally {
      await s.close();
    }
  });
});

describe("node:http", () => {
  it("rateLimit(req, res) resolves false and sends the 429 itself; withRateLimit never calls the handler for it", async () => {
    const limit = nodeRateLimit({ policy: tb("api", 1) });
    const answers: boolean[] = [];
    const s = await listen(
      createServer(async (req, res) => {
        const ok = await limit(req, res);
        answers.push(ok);
        if (ok) res.end("ok");
      }),
    );
    try {
      expect((await hit(s.base, "/")).status).toBe(200);
      expect((await hit(s.base, "/")).status).toBe(429);
      expect(answers).toEqual([true, false]);
    } finally {
      await s.close();
    }
    let calls = 0;
    const wrapped = await listen(
      createServer(
        nodeWithRateLimit(
          (_req, res) => {
            calls++;
            res.end("ok");
          },
          { policy: tb("api", 1) },
        ),
      ),
    );
    try {
      await hit(wrapped.base, "/");
      await hit(wrapped.base, "/");
      expect(calls).toBe(1);
    } finally {
      await wrapped.close();
    }
  });

  it("a throwing key function answers 500 without crashing or leaking an unhandled rejection; onError is told", async () => {
    const errors: unknown[] = [];
    const s = await listen(
      createServer(
        nodeWithRateLimit((_req, res) => void res.end("ok"), {
          policy: tb("api", 1),
          key: async () => {
            throw new Error("boom");
          },
          onError: (e) => void errors.push(e),
        }),
      ),
    );
    try {
      expect((await hit(s.base, "/")).status).toBe(500);
      expect(errors.map((e) => (e as Error).message)).toEqual(["boom"]);
    } finally {
      await s.close();
    }
  });
});

describe("Web standards: Hono and the fetch wrapper", () => {
  it("hono.ts and everything it imports from src use no node: module, Buffer or process", () => {
    const seen = new Set<string>();
    const bare = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gms)) {
        const spec = m[1] as string;
        if (spec.startsWith(".")) visit(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
        else bare.add(spec);
      }
      const code = text.replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "");
      expect(/\bBuffer\b|\bprocess\.|\brequire\(/.test(code), `${file} uses a Node global`).toBe(false);
    };
    visit(resolve(HERE, "../../src/adapters/hono.ts"));
    visit(resolve(HERE, "../../src/http/index.ts"));
    expect([...bare].sort(), `bare imports reachable from hono.ts: ${[...bare].join(", ")}`).toEqual(["hono"]);
    expect(seen.size).toBeGreaterThan(5);
  });

  it("Hono runs on app.fetch alone (no server, as on Workers), with the peer from a Workers-style request", async () => {
    const { Hono } = await import("hono");
    const app = new Hono();
    app.use(honoRateLimit({ policy: tb("api", 1) }));
    app.get("/", (c) => c.text("ok"));
    const req = () => {
      const r = new Request("http://worker.test/", { headers: { "cf-connecting-ip": "203.0.113.9" } });
      Object.defineProperty(r, "cf", { value: { colo: "AMS" } });
      return r;
    };
    const a = await app.fetch(req());
    const b = await app.fetch(req());
    expect([a.status, b.status]).toEqual([200, 429]);
    expect(a.headers.get("ratelimit")).toBe('"api";r=0;t=1000');
  });

  it("the fetch wrapper adds headers to an immutable response and answers 429 without calling the handler", async () => {
    let calls = 0;
    const handler = fetchWithRateLimit(
      () => {
        calls++;
        return Response.redirect("http://example.test/", 302); // immutable headers
      },
      { policy: tb("api", 1), peer: () => "192.0.2.1" },
    );
    const a = await handler(new Request("http://x.test/"));
    const b = await handler(new Request("http://x.test/"));
    expect([a.status, b.status, calls]).toEqual([302, 429, 1]);
    expect(a.headers.get("ratelimit")).toBe('"api";r=0;t=1000');
    expect(b.headers.get("content-type")).toBe("application/problem+json");
  });
});
