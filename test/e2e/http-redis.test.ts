// http-redis.test.ts: every adapter backed by a real RedisStore over real HTTP: exact bursts, refill, routes, and Redis going away.

import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { tokenBucket } from "../../src/core/token-bucket.js";
import { RedisStore } from "../../src/stores/redis/index.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import { checkRefusal, parseLimits } from "./conformance.js";
import { ADAPTERS, hit, type Running, start } from "./servers.js";

let server: RedisServer;
let client: Redis;
let running: Running | undefined;
let prefixes = 0;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.port, server.host, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  await new Promise((resolve) => client.once("ready", resolve));
});
afterEach(async () => {
  await running?.close();
  running = undefined;
});
afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

/**
 * store returns a RedisStore on the shared client with a fresh prefix, so tests never share keys. A 1000 ms timeout,
 * not 300: a call slower than it with Redis up (a loaded machine, the first call's script load) is answered by the
 * failure policy (a 429 expected becomes a fail-open 200, a 200 a fail-closed 429); with Redis down, calls fail on
 * the closed connection at once, so the Redis-away test does not wait for it.
 */
function store(extra: Record<string, unknown> = {}): RedisStore {
  return new RedisStore({ client, prefix: `e2e${++prefixes}:`, timeoutMs: 1000, ...extra });
}

describe.each(ADAPTERS)("%s adapter on Redis", (adapter) => {
  it("a burst of 4 turns into 429 at request 5; refill by the injected clock; headers conform", async () => {
    let now = 5_000_000;
    running = await start(adapter, {
      policy: tokenBucket({ name: "api", capacity: 4, refillRate: 2 }),
      store: store(),
      now: () => now,
    });
    for (let i = 1; i <= 4; i++) {
      const r = await hit(running.base, "/");
      expect(r.status, `${adapter} redis request ${i}: ${r.body}`).toBe(200);
      expect(parseLimits(r.headers, `redis ${i}`).limits.get("api")).toEqual({ r: 4 - i, t: 1 });
    }
    const denied = await hit(running.base, "/");
    checkRefusal(denied, `${adapter} redis request 5`);
    now += 500; // one token at 2/s
    expect((await hit(running.base, "/")).status, `${adapter}: +500 ms`).toBe(200);
    expect((await hit(running.base, "/")).status, `${adapter}: token spent`).toBe(429);
  });

  it("route rules keep their own Redis buckets", async () => {
    running = await start(adapter, {
      policy: tokenBucket({ name: "api", capacity: 10, refillRate: 0.01 }),
      store: store(),
      routes: { "POST /login": { policy: tokenBucket({ name: "login", capacity: 1, refillRate: 0.01 }) } },
    });
    expect((await hit(running.base, "/login", { method: "POST" })).status).toBe(200);
    expect((await hit(running.base, "/login", { method: "POST" })).status).toBe(429);
    const home = await hit(running.base, "/");
    expect(home.status).toBe(200);
    expect(parseLimits(home.headers, "home").limits.get("api")?.r).toBe(9);
  });
});

describe("Redis goes away", () => {
  it("fail-open answers 200 and fail-closed 429 per the store's policy; never a 500", async () => {
    const open = await start("express", {
      policy: tokenBucket({ name: "api", capacity: 2, refillRate: 0.01 }),
      store: store({ onFailure: "fail-open", probeIntervalMs: 60_000 }),
    });
    const closed = await start("fastify", {
      policy: tokenBucket({ name: "api", capacity: 2, refillRate: 0.01 }),
      store: store({ onFailure: "fail-closed", probeIntervalMs: 60_000 }),
    });
    try {
      expect((await hit(open.base, "/")).status).toBe(200);
      expect((await hit(closed.base, "/")).status).toBe(200);
      await server.kill9();
      const openStatuses = [];
      const closedStatuses = [];
      for (let i = 0; i < 4; i++) {
        openStatuses.push((await hit(open.base, "/")).status);
        closedStatuses.push((await hit(closed.base, "/")).status);
      }
      expect(openStatuses, "fail-open with Redis down").toEqual([200, 200, 200, 200]);
      expect(closedStatuses, "fail-closed with Redis down").toEqual([429, 429, 429, 429]);
      const r = await hit(closed.base, "/");
      checkRefusal(r, "fail-closed 429");
    } finally {
      await open.close();
      await closed.close();
    }
  });
});
