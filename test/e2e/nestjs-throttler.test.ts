// nestjs-throttler.test.ts: FloodgateThrottlerStorage answers as @nestjs/throttler's own storage does, and moves a real
// ThrottlerModule app (its ThrottlerGuard and @Throttle untouched) onto a RedisStore.

import "reflect-metadata";
import { Controller, Get, type INestApplication, Module } from "@nestjs/common";
import { APP_GUARD, NestFactory } from "@nestjs/core";
import { Throttle, ThrottlerGuard, ThrottlerModule, ThrottlerStorageService } from "@nestjs/throttler";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { FloodgateThrottlerStorage } from "../../src/adapters/nestjs.js";
import { gcra } from "../../src/index.js";
import { RedisStore } from "../../src/stores/redis/index.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";

const T0 = 1_800_000_000_000;

afterEach(() => {
  vi.useRealTimers();
});

/** Step is one hit: its time from the start and why. */
interface Step {
  atMs: number;
  why: string;
}

/**
 * compare plays the same hits on @nestjs/throttler's ThrottlerStorageService (on a
 * faked Date.now) and on FloodgateThrottlerStorage (on the same clock) and wants the same
 * records: isBlocked, and totalHits when admitted, timeToBlockExpire (Retry-After) when blocked.
 */
async function compare(limit: number, ttl: number, blockDuration: number, steps: Step[]): Promise<void> {
  vi.useFakeTimers({ toFake: ["Date"] });
  const theirs = new ThrottlerStorageService();
  let t = T0;
  const ours = new FloodgateThrottlerStorage({ now: () => t });
  try {
    for (const [i, step] of steps.entries()) {
      t = T0 + step.atMs;
      vi.setSystemTime(t);
      const want = await theirs.increment("k", ttl, limit, blockDuration, "default");
      const got = await ours.increment("k", ttl, limit, blockDuration, "default");
      const pick = (r: typeof want) => ({
        isBlocked: r.isBlocked,
        // ThrottlerGuard reads totalHits on admitted hits (X-RateLimit-Remaining); a block reports limit + 1 here.
        totalHits: r.isBlocked ? limit + 1 : r.totalHits,
        // Read only when blocked (ThrottlerGuard does; the built-in storage leaves a negative number otherwise).
        timeToBlockExpire: r.isBlocked ? r.timeToBlockExpire : 0,
      });
      expect(
        pick(got),
        `step ${i + 1} at ${step.atMs} ms (${step.why}), limit ${limit}/${ttl} ms, block ${blockDuration} ms`,
      ).toEqual(pick(want));
    }
  } finally {
    theirs.onApplicationShutdown();
  }
}

describe("FloodgateThrottlerStorage answers as ThrottlerStorageService", () => {
  it("blockDuration = ttl (ThrottlerGuard's default): over the limit blocks for ttl, then counting starts afresh", async () => {
    await compare(2, 1000, 1000, [
      { atMs: 0, why: "first hit" },
      { atMs: 100, why: "second hit: at the limit" },
      { atMs: 200, why: "over: blocked for 1000 ms from here" },
      { atMs: 700, why: "still blocked" },
      { atMs: 1150, why: "still blocked (the hits left the window, the block has not)" },
      { atMs: 1250, why: "block over: counts start afresh" },
      { atMs: 1300, why: "second hit after the block" },
      { atMs: 1400, why: "over again" },
    ]);
  });

  it("blockDuration longer than ttl: a penalty", async () => {
    await compare(1, 1000, 5000, [
      { atMs: 0, why: "first hit" },
      { atMs: 10, why: "over: blocked for 5 s" },
      { atMs: 2000, why: "window long over, still blocked" },
      { atMs: 5011, why: "block over" },
    ]);
  });

  it("blockDuration shorter than ttl: after the block the old hits are forgotten", async () => {
    await compare(2, 2000, 500, [
      { atMs: 0, why: "first" },
      { atMs: 100, why: "second" },
      { atMs: 200, why: "over: blocked for 500 ms" },
      { atMs: 600, why: "blocked" },
      { atMs: 800, why: "block over; the hits at 0 and 100 are forgotten though still in the window" },
      { atMs: 900, why: "second after the block" },
      { atMs: 950, why: "over again" },
    ]);
  });

  it("blockDuration 0: a refused hit waits until the oldest hit leaves the window", async () => {
    await compare(2, 1000, 0, [
      { atMs: 0, why: "first" },
      { atMs: 400, why: "second" },
      { atMs: 500, why: "refused: the first leaves at 1000" },
      { atMs: 999, why: "refused" },
      { atMs: 1000, why: "the first left" },
      { atMs: 1100, why: "refused: the second leaves at 1400" },
    ]);
  });

  it("options: a policy per throttler (gcra), unknown options refused, odd throttler names", async () => {
    let t = T0;
    const storage = new FloodgateThrottlerStorage({
      now: () => t,
      policy: ({ name, limit, ttlMs }) => gcra({ name: name.toLowerCase(), limit, periodMs: ttlMs, burst: limit }),
    });
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push((await storage.increment("k", 1000, 2, 0, "Short")).isBlocked);
    expect(seen, "gcra of 2 per second, burst 2").toEqual([false, false, true]);
    t += 500;
    expect((await storage.increment("k", 1000, 2, 0, "Short")).isBlocked, "one emission interval later").toBe(false);
    expect((await new FloodgateThrottlerStorage().increment("k", 1000, 1, 0, "9 Läufe")).isBlocked).toBe(false);
    expect((await new FloodgateThrottlerStorage().increment("k", 1000, 0, 0, "zero")).isBlocked, "limit 0").toBe(true);
    expect(() => new FloodgateThrottlerStorage({ stor: 1 } as never)).toThrow(/unknown option "stor"/);
  });
});

@Controller()
class AppController {
  @Get()
  root() {
    return "ok";
  }

  @Get("strict")
  @Throttle({ default: { limit: 1, ttl: 60_000 } })
  strict() {
    return "strict";
  }
}

describe("a real ThrottlerModule app on FloodgateThrottlerStorage with a RedisStore", () => {
  let redis: RedisServer;
  let client: Redis;
  const apps: INestApplication[] = [];
  let t = T0;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.port, redis.host);
    // Two apps (two "processes") with one Redis: the counts are shared.
    for (let i = 0; i < 2; i++) {
      @Module({
        imports: [
          ThrottlerModule.forRoot({
            throttlers: [{ name: "default", ttl: 1000, limit: 3 }],
            storage: new FloodgateThrottlerStorage({
              store: new RedisStore({ client, timeoutMs: 5000 }),
              now: () => t,
            }),
          }),
        ],
        controllers: [AppController],
        providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
      })
      class AppModule {}
      const app = await NestFactory.create(AppModule, { logger: false });
      await app.listen(0, "127.0.0.1");
      apps.push(app);
    }
  }, 60_000);

  afterAll(async () => {
    for (const a of apps) await a.close();
    client?.disconnect();
    await redis?.stop();
  });

  it("ThrottlerGuard and @Throttle unchanged: limits shared by both apps, 429 with Retry-After, then the block ends", async () => {
    const bases = await Promise.all(apps.map(async (a) => (await a.getUrl()).replace("[::1]", "127.0.0.1")));
    const hit = async (i: number, path = "/") => fetch((bases[i % 2] as string) + path);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await hit(i)).status);
    const refused = await hit(3);
    statuses.push(refused.status);
    expect(statuses, "app 0, 1, 0, 1").toEqual([200, 200, 200, 429]);
    expect(refused.headers.get("retry-after"), "Retry-After: the block of ttl").toBe("1");
    expect(Object.keys(await refused.json()), "ThrottlerException's body").toEqual(["statusCode", "message"]);
    t += 1000;
    const after = await hit(0);
    expect(after.status, "the block is over").toBe(200);
    expect(after.headers.get("x-ratelimit-remaining"), "counting afresh").toBe("2");
    // @Throttle on a route: its own limit of 1 per minute.
    expect([(await hit(0, "/strict")).status, (await hit(1, "/strict")).status], "@Throttle").toEqual([200, 429]);
    expect(await client.keys("*"), "state is in Redis").not.toEqual([]);
  });
});
