// nestjs.test.ts: floodgate/nestjs in a real Nest application over HTTP, on the Express and the Fastify platforms.

import "reflect-metadata";
import { Controller, Get, type INestApplication, Module, Param, Post } from "@nestjs/common";
import { APP_GUARD, NestFactory } from "@nestjs/core";
import { ExpressAdapter } from "@nestjs/platform-express";
import { FastifyAdapter } from "@nestjs/platform-fastify";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FloodgateGuard,
  FloodgateModule,
  type FloodgateModuleOptions,
  RateLimit,
  SkipRateLimit,
} from "../../src/adapters/nestjs.js";
import { fixedWindow, type Policy, tokenBucket } from "../../src/index.js";
import { RedisStore } from "../../src/stores/redis/index.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import { checkRefusal, parseLimits } from "./conformance.js";

const perSecond = tokenBucket({ name: "per-second", capacity: 3, refillRate: 1 });
const perMinute = fixedWindow({ name: "per-minute", limit: 5, windowMs: 60_000 });

@Controller()
class AppController {
  @Get()
  root() {
    return "ok";
  }

  @Get("health")
  @SkipRateLimit()
  health() {
    return "up";
  }

  @Post("login")
  @RateLimit({ policy: tokenBucket({ name: "login", capacity: 1, refillRate: 1 / 60 }) })
  login() {
    return "welcome";
  }

  @Get("expensive")
  @RateLimit({ cost: 3 })
  expensive() {
    return "done";
  }

  @Get("users/:id")
  user(@Param("id") id: string) {
    return `user ${id}`;
  }
}

@Controller("admin")
@SkipRateLimit()
class AdminController {
  @Get()
  list() {
    return "admin";
  }

  @Get("audit")
  @SkipRateLimit(false)
  audit() {
    return "audit";
  }
}

@Controller("search")
@RateLimit({ policy: tokenBucket({ name: "search", capacity: 2, refillRate: 1 }) })
class SearchController {
  @Get()
  search() {
    return "results";
  }

  // Same name as the class's "search": replaces it for this route (a bucket of 1, its own state).
  @Get("strict")
  @RateLimit({ policy: tokenBucket({ name: "search", capacity: 1, refillRate: 1 }) })
  strict() {
    return "strict results";
  }

  @Get("alone")
  @RateLimit({ policy: tokenBucket({ name: "alone", capacity: 1, refillRate: 1 }), inherit: false })
  alone() {
    return "alone";
  }
}

let now = 0;

/** options limits by the x-client header, on the test's clock; `routes` gives /users/:id a cost of 2. */
const options = (extra: Partial<FloodgateModuleOptions> = {}): FloodgateModuleOptions => ({
  policy: [perSecond, perMinute],
  now: () => now,
  key: (req) => req.header("x-client"),
  routes: { "GET /users/:id": { cost: 2 } },
  ...extra,
});

function appModule(o: FloodgateModuleOptions): new () => unknown {
  @Module({
    imports: [FloodgateModule.forRoot(o)],
    controllers: [AppController, AdminController, SearchController],
    providers: [{ provide: APP_GUARD, useClass: FloodgateGuard }],
  })
  class AppModule {}
  return AppModule;
}

type Platform = "express" | "fastify";

async function startApp(platform: Platform, o: FloodgateModuleOptions): Promise<INestApplication> {
  const app =
    platform === "express"
      ? await NestFactory.create(appModule(o), new ExpressAdapter(), { logger: false })
      : await NestFactory.create(appModule(o), new FastifyAdapter(), { logger: false });
  await app.listen(0, "127.0.0.1");
  return app;
}

interface Reply {
  status: number;
  headers: Headers;
  body: string;
}

async function call(base: string, client: string, path: string, method = "GET"): Promise<Reply> {
  const res = await fetch(base + path, { method, headers: { "x-client": client } });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** Row is one step: at a time, a call, the status and each policy's RateLimit `r` wanted, and why. */
interface Row {
  step: number;
  atMs: number;
  path: string;
  method?: string;
  status: number;
  r: Record<string, number>;
  violated?: string[];
  why: string;
}

async function play(base: string, platform: string, client: string, rows: Row[]): Promise<void> {
  const start = now;
  for (const row of rows) {
    now = start + row.atMs;
    const reply = await call(base, client, row.path, row.method);
    const at = `${platform} step ${row.step} ${row.method ?? "GET"} ${row.path} at ${row.atMs} ms (${row.why})`;
    expect(reply.status, `${at}: status, body ${reply.body}`).toBe(row.status);
    const { limits } = parseLimits(reply.headers, at);
    expect(Object.fromEntries([...limits].map(([k, v]) => [k, v.r])), `${at}: RateLimit r per policy`).toEqual(row.r);
    if (row.status === 429) {
      const body = checkRefusal(reply, at);
      expect(body["violated-policies"], `${at}: violated-policies`).toEqual(row.violated);
    }
  }
}

for (const platform of ["express", "fastify"] as const) {
  describe(`NestJS on ${platform}`, () => {
    let app: INestApplication;
    let base = "";
    let epoch = 0;

    beforeAll(async () => {
      app = await startApp(platform, options());
      base = (await app.getUrl()).replace("[::1]", "127.0.0.1");
    }, 30_000);

    afterAll(async () => {
      await app?.close();
    });

    /** fresh starts a test at the start of a fresh minute, far from the others. */
    const fresh = (): void => {
      epoch += 100;
      now = epoch * 60_000;
    };

    it("two module policies in one all-or-nothing call: a refusal by one takes nothing from the other", async () => {
      fresh();
      await play(base, platform, "all-or-nothing", [
        { step: 1, atMs: 0, path: "/", status: 200, r: { "per-second": 2, "per-minute": 4 }, why: "fresh" },
        { step: 2, atMs: 0, path: "/", status: 200, r: { "per-second": 1, "per-minute": 3 }, why: "burst" },
        { step: 3, atMs: 0, path: "/", status: 200, r: { "per-second": 0, "per-minute": 2 }, why: "burst" },
        {
          step: 4,
          atMs: 0,
          path: "/",
          status: 429,
          r: { "per-second": 0, "per-minute": 2 },
          violated: ["per-second"],
          why: "per-second empty; per-minute keeps its 2",
        },
        { step: 5, atMs: 1000, path: "/", status: 200, r: { "per-second": 0, "per-minute": 1 }, why: "one refilled" },
        { step: 6, atMs: 2000, path: "/", status: 200, r: { "per-second": 0, "per-minute": 0 }, why: "one refilled" },
        {
          step: 7,
          atMs: 3000,
          path: "/",
          status: 429,
          r: { "per-second": 1, "per-minute": 0 },
          violated: ["per-minute"],
          why: "per-minute spent; per-second keeps its refilled token",
        },
      ]);
    });

    it("@SkipRateLimit on a route, on a controller, and SkipRateLimit(false) inside a skipped controller", async () => {
      fresh();
      for (let i = 0; i < 4; i++) await call(base, "skip", "/");
      for (const path of ["/health", "/admin"]) {
        const reply = await call(base, "skip", path);
        expect(reply.status, `${platform} ${path}: never limited`).toBe(200);
        expect(reply.headers.get("ratelimit"), `${platform} ${path}: no RateLimit header`).toBeNull();
      }
      const audit = await call(base, "skip", "/admin/audit");
      expect(audit.status, `${platform} /admin/audit: limited again`).toBe(429);
    });

    it("@RateLimit on a route adds its policy to the module's; a cost per route; routes from the module options", async () => {
      fresh();
      await play(base, platform, "route", [
        {
          step: 1,
          atMs: 0,
          path: "/login",
          method: "POST",
          status: 201,
          r: { "per-second": 2, "per-minute": 4, login: 0 },
          why: "login's bucket of 1, with the module's",
        },
        {
          step: 2,
          atMs: 0,
          path: "/login",
          method: "POST",
          status: 429,
          r: { "per-second": 2, "per-minute": 4, login: 0 },
          violated: ["login"],
          why: "login empty; the module's untouched",
        },
        {
          step: 3,
          atMs: 1000,
          path: "/expensive",
          status: 200,
          r: { "per-second": 0, "per-minute": 1 },
          why: "cost 3 from @RateLimit({ cost })",
        },
        {
          step: 4,
          atMs: 3000,
          path: "/users/7",
          status: 200,
          r: { "per-second": 1, "per-minute": 3 },
          why: "the routes option's rule: cost 2, in the rule's own bucket (as in every adapter)",
        },
      ]);
    });

    it("@RateLimit on a controller; a route's policy of the same name replaces it; inherit: false", async () => {
      fresh();
      await play(base, platform, "search", [
        { step: 1, atMs: 0, path: "/search", status: 200, r: { "per-second": 2, "per-minute": 4, search: 1 }, why: "" },
        {
          step: 2,
          atMs: 0,
          path: "/search/strict",
          status: 200,
          r: { "per-second": 1, "per-minute": 3, search: 0 },
          why: "strict's own 'search' of 1",
        },
        {
          step: 3,
          atMs: 0,
          path: "/search/strict",
          status: 429,
          r: { "per-second": 1, "per-minute": 3, search: 0 },
          violated: ["search"],
          why: "strict's 'search' empty",
        },
        {
          step: 4,
          atMs: 0,
          path: "/search",
          status: 200,
          r: { "per-second": 0, "per-minute": 2, search: 0 },
          why: "the controller's 'search' still had 1",
        },
        { step: 5, atMs: 0, path: "/search/alone", status: 200, r: { alone: 0 }, why: "only its own policy" },
      ]);
    });
  });
}

describe("NestJS with a RedisStore", () => {
  let redis: RedisServer;
  let client: Redis;
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.port, redis.host);
    for (const platform of ["express", "fastify"] as const) {
      apps.push(await startApp(platform, options({ store: new RedisStore({ client, timeoutMs: 5000 }) })));
    }
  }, 60_000);

  afterAll(async () => {
    for (const a of apps) await a.close();
    client?.disconnect();
    await redis?.stop();
  });

  it("two apps (Express and Fastify) share one limit of several policies, all-or-nothing in one script call", async () => {
    now = 500 * 60_000;
    const bases = await Promise.all(apps.map(async (a) => (await a.getUrl()).replace("[::1]", "127.0.0.1")));
    const statuses: number[] = [];
    let last: Reply | undefined;
    for (let i = 0; i < 4; i++) {
      last = await call(bases[i % 2] as string, "shared", "/");
      statuses.push(last.status);
    }
    expect(statuses, "express, fastify, express, fastify").toEqual([200, 200, 200, 429]);
    const { limits } = parseLimits((last as Reply).headers, "the refusal");
    expect(limits.get("per-minute")?.r, "per-minute kept its 2").toBe(2);
  });
});

describe("@RateLimit checks its options when applied", () => {
  const rows: [string, () => unknown, RegExp][] = [
    ["an unknown option", () => RateLimit({ polcy: perSecond } as never), /unknown option "polcy"/],
    ["a fractional cost", () => RateLimit({ cost: 1.5 }), /whole number >= 0, got 1\.5/],
    ["a cost above a policy's limit", () => RateLimit({ policy: perSecond, cost: 4 }), /exceeds the limit 3/],
    ["not a policy", () => RateLimit({ policy: {} as Policy }), /ERR_INVALID_POLICY|policy/],
    ["two policies of one name", () => RateLimit({ policy: [perSecond, perSecond] }), /two policies named/],
  ];
  for (const [why, make, want] of rows) {
    it(why, () => {
      expect(make).toThrow(want);
    });
  }
});
