// http-costs.test.ts: bad costs from route rules, Fastify route config and select, over real HTTP on every adapter.

import type { AddressInfo } from "node:net";
import Fastify from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { rateLimit as fastifyRateLimit } from "../../src/adapters/fastify.js";
import { tokenBucket } from "../../src/core/token-bucket.js";
import type { LimitedInfo } from "../../src/http/core.js";
import { parseLimits } from "./conformance.js";
import { ADAPTERS, hit, type Running, start } from "./servers.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const policy = tokenBucket({ name: "api", capacity: 5, refillRate: 0.001 });

/** BAD_COSTS are costs no request can spend, each as the error message quotes it. */
const BAD_COSTS: [unknown, string][] = [
  [2.5, "2.5"],
  [-1, "-1"],
  ["2", '"2"'],
  [Number.NaN, "NaN"],
];

describe.each(ADAPTERS)("%s adapter: bad costs", (adapter) => {
  // Regression (issue 8, defect 2): a rule cost of 2.5, -1, "2" or NaN was accepted, then every matching request answered 500.
  it.each(BAD_COSTS)(
    "routes rule cost %s is refused at construction, naming the route and the fix",
    async (cost, quoted) => {
      const options = { policy, routes: { "GET /expensive": { cost } } } as never;
      const err = await start(adapter, options).then(
        (r) => {
          running = r;
          return undefined;
        },
        (e: unknown) => e as { code?: string; message?: string },
      );
      expect(err, `${adapter}: routes cost ${String(cost)} must be refused`).toBeDefined();
      expect(err?.code).toBe("ERR_INVALID_OPTION");
      expect(err?.message).toMatch(/routes\["GET \/expensive"\].*\.cost must be a whole number/);
      expect(err?.message).toContain(`got ${quoted}`);
      expect(err?.message).toMatch(/use 1, 2, 3/);
    },
  );

  // Regression (issue 8, defect 2): a select() returning a bad cost answered 500 (the fetch wrapper rejected).
  it.each(BAD_COSTS)(
    "select returning cost %s: onError names select, the value and the fix; allowed by default, 429 with onStoreError deny",
    async (cost, quoted) => {
      const errors: { code?: string; message?: string }[] = [];
      const onError = (e: unknown) => void errors.push(e as { code?: string; message?: string });
      running = await start(adapter, { policy, select: () => ({ cost }) as never, onError });
      const allowed = await hit(running.base, "/");
      expect(allowed.status, `${adapter}: select cost ${String(cost)}, onStoreError default: ${allowed.body}`).toBe(
        200,
      );
      expect(allowed.headers.get("ratelimit"), "no decision was made, so no fields").toBeNull();
      expect(errors.map((e) => e.code)).toEqual(["ERR_INVALID_COST"]);
      expect(errors[0]?.message).toContain(`select() returned { cost: ${quoted} }`);
      expect(errors[0]?.message).toMatch(/whole number.*Math\.ceil/);
      await running.close();

      const limited: LimitedInfo[] = [];
      running = await start(adapter, {
        policy,
        select: () => ({ cost }) as never,
        onStoreError: "deny",
        onLimited: (i: LimitedInfo) => void limited.push(i),
        onError: () => {},
      });
      const denied = await hit(running.base, "/");
      expect(denied.status, `${adapter}: select cost ${String(cost)}, onStoreError deny: ${denied.body}`).toBe(429);
      expect(denied.headers.get("retry-after")).toBe("1");
      expect(denied.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      const body = JSON.parse(denied.body) as Record<string, unknown>;
      expect(body.type).toBe("https://iana.org/assignments/http-problem-types#temporary-reduced-capacity");
      expect(body["violated-policies"]).toEqual(["api"]);
      expect(limited.map((i) => i.reason)).toEqual(["store"]);
    },
  );

  it("a good cost from select still decides, and a whole cost beyond any limit is the usual 'cost' 429", async () => {
    let cost = 2;
    running = await start(adapter, { policy, select: () => ({ cost }) });
    const r = await hit(running.base, "/");
    expect(r.status).toBe(200);
    expect(parseLimits(r.headers, `${adapter} cost 2`).limits.get("api")?.r).toBe(3);
    cost = 1e15;
    const huge = await hit(running.base, "/");
    expect(huge.status).toBe(429);
    expect(JSON.parse(huge.body).detail).toMatch(/costs 1000000000000000 units, more than the 5/);
  });
});

describe("Fastify route config.rateLimit", () => {
  // Regression (issue 8, defect 2): Fastify's per-route config.rateLimit.cost of 2.5 was accepted, then every request answered 500.
  it.each([...BAD_COSTS, ["bad key", 'unknown option "cots"'] as [unknown, string]])(
    "cost %s fails the route's registration with a coded error naming the route",
    async (cost, quoted) => {
      const app = Fastify();
      await app.register(fastifyRateLimit, { policy });
      const config = cost === "bad key" ? { rateLimit: { cots: 1 } } : { rateLimit: { cost } };
      let err: { code?: string; message?: string } | undefined;
      try {
        app.get("/x", { config: config as never }, async () => "x");
        await app.ready();
      } catch (e) {
        err = e as { code?: string; message?: string };
      }
      await app.close();
      expect(err, `config.rateLimit ${JSON.stringify(config)} must be refused`).toBeDefined();
      expect(err?.code).toMatch(/^ERR_(INVALID|UNKNOWN)_OPTION$/);
      expect(err?.message).toMatch(/route "GET \/x" config\.rateLimit/);
      expect(err?.message).toContain(cost === "bad key" ? quoted : `got ${quoted}`);
    },
  );

  it("a route registered before the plugin is checked at its first request, through Fastify's error handler", async () => {
    const app = Fastify();
    const errors: string[] = [];
    app.setErrorHandler((err, _req, reply) => {
      errors.push((err as { code?: string }).code ?? "");
      void reply.code(500).send();
    });
    app.get("/early", { config: { rateLimit: { cost: 2.5 } } }, async () => "early");
    await app.register(fastifyRateLimit, { policy });
    app.get("/late", { config: { rateLimit: { cost: 2 } } }, async () => "late");
    await app.listen({ port: 0, host: "127.0.0.1" });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      expect((await hit(base, "/early")).status).toBe(500);
      expect(errors).toEqual(["ERR_INVALID_OPTION"]);
      const late = await hit(base, "/late");
      expect(late.status).toBe(200);
      expect(parseLimits(late.headers, "late").limits.get("api")?.r).toBe(3);
    } finally {
      await app.close();
    }
  });
});
