// http-core.test.ts: the shared core's options over real HTTP: async callbacks, custom problem bodies, hooks, validation, Koa trust warning.

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import Koa from "koa";
import { afterEach, describe, expect, it } from "vitest";
import { rateLimit as koaRateLimit } from "../../src/adapters/koa.js";
import { fixedWindow } from "../../src/core/fixed-window.js";
import { tokenBucket } from "../../src/core/token-bucket.js";
import { HttpRateLimit, type HttpRequest } from "../../src/http/core.js";
import { RateLimiter } from "../../src/limiter.js";
import { checkRefusal, parseLimits } from "./conformance.js";
import { ADAPTERS, hit, type Running, start } from "./servers.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const tb = (name: string, capacity: number) => tokenBucket({ name, capacity, refillRate: 0.001 });

describe.each(ADAPTERS)("%s adapter: core options", (adapter) => {
  it("async key, select and skip functions are awaited", async () => {
    const tick = () => new Promise((r) => setTimeout(r, 1));
    running = await start(adapter, {
      policy: tb("api", 2),
      key: async (req: HttpRequest) => {
        await tick();
        return req.header("x-user") ?? undefined;
      },
      select: async (req: HttpRequest) => {
        await tick();
        return req.header("x-vip") ? { policy: tb("vip", 3) } : undefined;
      },
      skip: async (req: HttpRequest) => {
        await tick();
        return req.header("x-skip") === "1";
      },
    });
    const ann = { "x-user": "ann" };
    expect([
      (await hit(running.base, "/", { headers: ann })).status,
      (await hit(running.base, "/", { headers: ann })).status,
    ]).toEqual([200, 200]);
    expect((await hit(running.base, "/", { headers: ann })).status).toBe(429);
    expect((await hit(running.base, "/", { headers: { ...ann, "x-skip": "1" } })).status).toBe(200);
    expect((await hit(running.base, "/", { headers: { "x-user": "bob" } })).status, "another user").toBe(200);
    const vip = await hit(running.base, "/", { headers: { ...ann, "x-vip": "1" } });
    expect(parseLimits(vip.headers, "vip").limits.get("vip")?.r).toBe(2);
  });

  it("problem() customises the 429 body, which stays problem+json with the defaults available", async () => {
    running = await start(adapter, {
      policy: tb("api", 1),
      problem: (info: { problem: Record<string, unknown>; retryAfterSeconds: number }) => ({
        ...info.problem,
        title: "Slow down",
        instance: "/errors/rate",
        retryInSeconds: info.retryAfterSeconds,
      }),
    });
    await hit(running.base, "/");
    const r = await hit(running.base, "/");
    const body = checkRefusal(r, `${adapter} custom problem`);
    expect(body.title).toBe("Slow down");
    expect(body.instance).toBe("/errors/rate");
    expect(body.retryInSeconds).toBe(Number(r.headers.get("retry-after")));
    expect(body["violated-policies"]).toEqual(["api"]);
  });

  it("a throwing onLimited hook does not break the 429", async () => {
    const errors: unknown[] = [];
    running = await start(adapter, {
      policy: tb("api", 1),
      onLimited: () => {
        throw new Error("hook bug");
      },
      onError: (e: unknown) => void errors.push(e),
    });
    await hit(running.base, "/");
    expect((await hit(running.base, "/")).status).toBe(429);
    expect(errors.map((e) => (e as Error).message)).toEqual(["hook bug"]);
  });

  it("standardHeaders: false and legacyHeaders: true send only X-RateLimit-*", async () => {
    running = await start(adapter, {
      policy: fixedWindow({ name: "w", limit: 3, windowMs: 60_000 }),
      standardHeaders: false,
      legacyHeaders: true,
      now: () => 30_000,
    });
    const r = await hit(running.base, "/");
    expect(r.headers.get("ratelimit")).toBeNull();
    expect([
      r.headers.get("x-ratelimit-limit"),
      r.headers.get("x-ratelimit-remaining"),
      r.headers.get("x-ratelimit-reset"),
    ]).toEqual(["3", "2", "30"]);
  });
});

describe("validation at construction", () => {
  const policy = tb("api", 1);
  it.each([
    [{ policy, trustProxy: true }, /trustProxy: true/],
    [{ policy, onStoreError: "ignore" }, /onStoreError.*"allow" or "deny"/],
    [{ policy, routes: { login: { cost: 1 } } }, /routes.*pattern "login"/],
    [{ policy, routes: { "/a": { cots: 1 } } }, /unknown option "cots".*did you mean "cost"/],
    [{ policy, ipv6Prefix: 0 }, /ipv6Prefix.*from 1 to 128/],
    [{ policy, allowList: ["10.0.0.0/40"] }, /allowList.*not an address, a CIDR or a preset/],
    [{ policy, keyy: () => "x" }, /unknown option "keyy".*did you mean "key"/],
    [{}, /needs a \{ policy \}/],
    [{ limiter: new RateLimiter({ policy }), policy }, /either \{ limiter \} or \{ policy, store, now \}/],
    [{ policy, clientIp: "framework", trustProxy: ["loopback"] }, /configure trust in one place/],
    [{ policy, cost: 1.5 }, /cost.*whole number/],
  ])("%j is refused", (options, message) => {
    expect(() => new HttpRateLimit(options as never)).toThrow(message);
  });
});

describe("Koa framework IP", () => {
  it("app.proxy without maxIpsCount warns once with clientIp 'framework'", async () => {
    const warnings: string[] = [];
    const app = new Koa();
    app.proxy = true;
    app.use(
      koaRateLimit({ policy: tb("api", 5), clientIp: "framework", onWarning: (w) => void warnings.push(w.code) }),
    );
    app.use((ctx) => {
      ctx.body = "ok";
    });
    const server = createServer(app.callback());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const a = await hit(base, "/", { headers: { "x-forwarded-for": "1.1.1.1" } });
      const b = await hit(base, "/", { headers: { "x-forwarded-for": "2.2.2.2" } });
      expect([
        parseLimits(a.headers, "a").limits.get("api")?.r,
        parseLimits(b.headers, "b").limits.get("api")?.r,
      ]).toEqual([4, 4]);
      expect(warnings).toEqual(["FG_TRUST_PROXY_ALL"]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
