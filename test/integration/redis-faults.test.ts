// redis-faults.test.ts: RedisStore under Redis faults: slow replies, refused connections, kill -9 and restart, SCRIPT FLUSH.

import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Decision, fixedWindow, MemoryStore, type Policy, RateLimiter, tokenBucket } from "../../src/index.js";
import { RedisStore, type RedisStoreEvents, type RedisStoreOptions } from "../../src/stores/redis/index.js";
import { freePort, type RedisServer, startRedis } from "../helpers/redis-server.js";
import { keysWithoutTtl } from "./redis-util.js";

const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => {
  unhandled.push(e);
};
process.on("unhandledRejection", onUnhandled);
afterAll(() => {
  process.off("unhandledRejection", onUnhandled);
});
afterEach(() => {
  expect(unhandled, "unhandled rejections").toEqual([]);
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** quiet returns an ioredis client whose connection errors are expected (no log noise). */
function quiet(port: number, options: Record<string, unknown> = {}): Redis {
  const r = new Redis(port, "127.0.0.1", { retryStrategy: () => 20, ...options });
  r.on("error", () => {});
  return r;
}

/** record subscribes to every event of a store and returns the log. */
function record(store: RedisStore): string[] {
  const log: string[] = [];
  store.on("degraded", (e: RedisStoreEvents["degraded"]) => log.push(`degraded:${e.reason}:${e.failure}`));
  store.on("recovered", () => log.push("recovered"));
  return log;
}

/** untilRecovered consumes until a decision is not degraded (bounded). */
async function untilRecovered(limiter: RateLimiter, key: string): Promise<Decision> {
  for (let i = 0; i < 200; i++) {
    const d = await limiter.consume(key);
    if (!d.degraded) return d;
    await sleep(20);
  }
  throw new Error("store did not recover within 4 s");
}

describe("slow Redis (every command held longer than the timeout)", () => {
  let server: RedisServer;
  let client: Redis;
  let admin: Redis;
  beforeAll(async () => {
    server = await startRedis();
    client = quiet(server.port);
    admin = quiet(server.port);
  });
  afterAll(async () => {
    client?.disconnect();
    admin?.disconnect();
    await server?.stop();
  });

  /**
   * slowly runs `body` while Redis holds every client's commands for `ms` (CLIENT PAUSE ALL: the server reads them
   * and answers none, as a server stuck in a long command does), then waits for the pause to end. The pause is
   * in force once its OK is back, so `body` starts with Redis unresponsive however loaded the machine is (DEBUG
   * SLEEP, used before, gave no such point: a call sent 30 ms after it could still be answered first).
   */
  async function slowly(ms: number, body: () => Promise<void>): Promise<void> {
    const until = performance.now() + ms;
    await admin.call("CLIENT", "PAUSE", String(ms), "ALL");
    try {
      await body();
    } finally {
      const left = until - performance.now();
      if (left > 0) await sleep(left);
    }
  }

  const cases: [string, RedisStoreOptions["onFailure"], (d: Decision, i: number) => object][] = [
    ["fail-open: allowed, degraded", "fail-open", () => ({ allowed: true, degraded: "fail-open", retryAfterMs: 0 })],
    [
      "fail-closed: denied, retry after 1000 ms",
      "fail-closed",
      () => ({ allowed: false, degraded: "fail-closed", retryAfterMs: 1000 }),
    ],
    [
      "insurance: a local bucket of capacity 2 decides",
      { insurance: true },
      // The local bucket refills by the local clock: the third call waits just under 1000 ms.
      (d, i) => ({
        allowed: i < 2,
        degraded: "insurance",
        retryAfterMs: i < 2 ? 0 : d.retryAfterMs > 900 && d.retryAfterMs <= 1000 ? d.retryAfterMs : "900..1000",
      }),
    ],
  ];
  for (const [name, onFailure, want] of cases) {
    it(name, async () => {
      const store = new RedisStore({
        client,
        prefix: `slow-${name.slice(0, 9)}:`,
        timeoutMs: 100,
        probeIntervalMs: 1000,
        onFailure,
      });
      const log = record(store);
      const limiter = new RateLimiter({ policy: tokenBucket({ capacity: 2, refillRate: 1 }), store });
      // Redis answers before the pause. The store's first call (its library load and start-up check ahead of it on
      // the connection) can outlast the 100 ms timeout on a loaded machine (load 8: this failed 5 runs of 12), so
      // the first answer Redis gave counts, and the events are recorded from there.
      expect((await untilRecovered(limiter, "k")).degraded, "before the sleep").toBeUndefined();
      log.length = 0;
      await limiter.reset("k");
      await slowly(1500, async () => {
        const t0 = performance.now();
        const first = await limiter.consume("k");
        const firstMs = performance.now() - t0;
        // Answered by the timeout (100 ms), not by Redis (held 1,500 ms).
        expect(firstMs >= 90 && firstMs < 1000, `first call answered after ${firstMs} ms (timeout 100)`).toBe(true);
        const t1 = performance.now();
        const more = [await limiter.consume("k"), await limiter.consume("k")];
        const moreMs = performance.now() - t1;
        // Answered at once, not each after its own timeout (two timeouts take 200 ms or more).
        expect(moreMs < 190, `calls while degraded answered at once (${moreMs} ms)`).toBe(true);
        [first, ...more].forEach((d, i) => {
          expect(
            { allowed: d.allowed, degraded: d.degraded, retryAfterMs: d.retryAfterMs },
            `consume #${i + 1} during the sleep`,
          ).toEqual(want(d, i));
        });
      });
      await sleep(1000);
      const back = await untilRecovered(limiter, "k");
      expect(back.degraded, "after the sleep").toBeUndefined();
      expect(log, "events").toEqual([
        `degraded:timeout:${typeof onFailure === "string" ? onFailure : "insurance"}`,
        "recovered",
      ]);
      expect(await keysWithoutTtl(admin), "keys without TTL").toEqual([]);
    });
  }
});

describe("connection refused at start-up", () => {
  it("offline queue (ioredis default): each call waits at most the timeout, then Redis appears and the store recovers", async () => {
    const port = await freePort();
    const client = quiet(port);
    const store = new RedisStore({ client, timeoutMs: 150, probeIntervalMs: 50, onFailure: "fail-closed" });
    const log = record(store);
    const limiter = new RateLimiter({ policy: tokenBucket({ capacity: 3, refillRate: 1 }), store });
    const t0 = performance.now();
    const d = await limiter.consume("k");
    const ms = performance.now() - t0;
    expect({ allowed: d.allowed, degraded: d.degraded }, "consume with nothing listening").toEqual({
      allowed: false,
      degraded: "fail-closed",
    });
    expect(ms < 600, `answered after ${ms} ms`).toBe(true);
    const server = await startRedis({ port });
    try {
      const back = await untilRecovered(limiter, "k");
      expect({ allowed: back.allowed, degraded: back.degraded }, "once Redis listens").toEqual({
        allowed: true,
        degraded: undefined,
      });
      expect(log, "events").toEqual(["degraded:timeout:fail-closed", "recovered"]);
      const admin = quiet(port);
      expect(await keysWithoutTtl(admin), "keys without TTL").toEqual([]);
      admin.disconnect();
    } finally {
      client.disconnect();
      await server.stop();
    }
  });

  it("no offline queue: refused at once (no wait), degraded as unavailable", async () => {
    const port = await freePort();
    const client = quiet(port, { enableOfflineQueue: false, lazyConnect: true });
    const store = new RedisStore({ client, timeoutMs: 1000, onFailure: "fail-open" });
    const log = record(store);
    const errors: unknown[] = [];
    store.on("error", (e) => errors.push(e.error));
    const t0 = performance.now();
    const d = await store.consume("k", [tokenBucket({ capacity: 3, refillRate: 1 })], 1, undefined);
    const ms = performance.now() - t0;
    expect({ allowed: d.allowed, degraded: d.degraded, errors: errors.length }, "consume").toEqual({
      allowed: true,
      degraded: "fail-open",
      errors: 1,
    });
    // Half the timeout: refused without waiting for it.
    expect(ms < 500, `answered after ${ms} ms`).toBe(true);
    expect(log).toEqual(["degraded:unavailable:fail-open"]);
    client.disconnect();
  });
});

describe("insurance store", () => {
  it("a given MemoryStore, scale 1/2: capacity 4 insures 2, all-or-nothing across policies", async () => {
    const port = await freePort();
    const client = quiet(port, { enableOfflineQueue: false, lazyConnect: true });
    const insurance = new MemoryStore();
    const store = new RedisStore({ client, onFailure: { insurance, scale: 0.5 }, probeIntervalMs: 60_000 });
    const policies: Policy[] = [
      tokenBucket({ name: "burst", capacity: 4, refillRate: 1 }),
      fixedWindow({ name: "minute", limit: 10, windowMs: 60_000 }),
    ];
    const ds: Decision[] = [];
    for (let i = 0; i < 3; i++) ds.push(await store.consume("k", policies, 1, 1000));
    expect(
      ds.map((d) => [d.allowed, d.degraded, d.policy, d.remaining, d.limit]),
      "three consumes while Redis is unreachable",
    ).toEqual([
      [true, "insurance", "burst", 1, 4],
      [true, "insurance", "burst", 0, 4],
      [false, "insurance", "burst", 0, 4],
    ]);
    // The insurance store kept the state, under the scaled policies' identities.
    expect(insurance.size(), "keys in the insurance store").toBe(2);
    client.disconnect();
    const bad = (() => {
      try {
        new RedisStore({ client, onFailure: { insurance: {} as MemoryStore } });
      } catch (e) {
        return (e as { code?: string }).code;
      }
    })();
    expect(bad, "insurance: {}").toBe("ERR_INVALID_OPTION");
  });
});

describe("kill -9 mid-traffic, restart, SCRIPT FLUSH", () => {
  let server: RedisServer;
  let admin: Redis;
  beforeAll(async () => {
    server = await startRedis();
    admin = quiet(server.port);
  });
  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  it("kill -9 then restart: during the outage every call is a fail-closed denial; after it, exact again", async () => {
    const client = quiet(server.port);
    // No deny cache: every call goes to Redis (the keys run out before the kill, and cached denials would hide the outage).
    const store = new RedisStore({
      client,
      prefix: "kill:",
      // A loaded CI machine can stall a call for a few hundred ms; the outage lasts well past the timeout.
      timeoutMs: 600,
      probeIntervalMs: 50,
      onFailure: "fail-closed",
      denyCache: false,
    });
    const log = record(store);
    const capacity = 5;
    const policy: Policy = tokenBucket({ capacity, refillRate: 0.001 });
    const limiter = new RateLimiter({ policy, store });
    let phase: "before" | "outage" | "after" = "before";
    const seen: { phase: string; key: string; d: Decision }[] = [];
    let beforeInFlight = 0;
    let stop = false;
    const traffic = Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        let i = 0;
        while (!stop) {
          const key = `k${(w + i++) % 20}`;
          const p = phase;
          if (p === "before") beforeInFlight++;
          const d = await limiter.consume(key);
          if (p === "before") beforeInFlight--;
          seen.push({ phase: p, key, d });
          await sleep(2);
        }
      }),
    );
    // Each phase ends on what it is for, not after a fixed time (300 ms, 1.5 s and 800 ms sleeps were tuned to a
    // quiet machine: under load 16 callers may not use up 20 keys in 300 ms). Each wait is bounded (20 s).
    const until = async (what: string, done: () => boolean): Promise<void> => {
      for (let end = performance.now() + 20_000; !done(); await sleep(10)) {
        if (performance.now() > end) throw new Error(`kill -9 test: timed out waiting for ${what}`);
      }
    };
    const usedUp = (): boolean => {
      const n = new Map<string, number>();
      for (const s of seen) if (s.phase === "before" && s.d.allowed) n.set(s.key, (n.get(s.key) ?? 0) + 1);
      return n.size === 20 && [...n.values()].every((c) => c >= capacity);
    };
    await until("every key used up", usedUp);
    // Calls issued before this point must not still be in flight at the kill (they would time out and count as
    // degraded "before" calls): waited for, not guessed.
    phase = "outage";
    await until("the calls before the kill to finish", () => beforeInFlight === 0);
    await server.kill9();
    // The outage lasts until the store has seen it (a timeout or the connection error), then past a probe or two.
    await until("the store to degrade", () => log.length > 0);
    await sleep(300);
    await server.restart();
    phase = "after";
    const lastDegraded = (): number => {
      let i = seen.length - 1;
      while (i >= 0 && seen[i]?.d.degraded === undefined) i--;
      return i;
    };
    await until("recovery and 50 real decisions after it", () => log.length >= 2 && seen.length - lastDegraded() > 60);
    stop = true;
    await traffic;
    client.disconnect();

    const degraded = seen.filter((s) => s.d.degraded);
    expect(
      degraded.filter((s) => s.d.allowed || s.d.degraded !== "fail-closed"),
      "degraded decisions that admitted",
    ).toEqual([]);
    expect(degraded.length > 0, "some calls saw the outage").toBe(true);
    expect(seen.filter((s) => s.phase === "before" && s.d.degraded).length, "degraded before the kill").toBe(0);
    expect(seen.length - lastDegraded() > 50, "plenty of real decisions after recovery").toBe(true);
    // The first failure is a timeout or the client's connection error, whichever comes first.
    expect(log.length, `events ${JSON.stringify(log)}`).toBe(2);
    expect(log[0], "events").toMatch(/^degraded:(timeout|unavailable):fail-closed$/);
    expect(log[1], "events").toBe("recovered");
    // No persistence: Redis comes back empty, so each key may admit its capacity once before and once after.
    const admitted = new Map<string, { before: number; after: number }>();
    for (const s of seen) {
      if (!s.d.allowed || s.d.degraded) continue;
      const a = admitted.get(s.key) ?? { before: 0, after: 0 };
      if (s.phase === "before") a.before++;
      else a.after++;
      admitted.set(s.key, a);
    }
    for (const [key, a] of admitted) {
      expect(a.before <= capacity && a.after <= capacity, `${key} admitted ${JSON.stringify(a)}`).toBe(true);
    }
    expect(
      [...admitted.values()].every((a) => a.before === capacity),
      "every key used up before the kill",
    ).toBe(true);
    expect(await keysWithoutTtl(admin), "keys without TTL").toEqual([]);
  });

  it("SCRIPT FLUSH mid-traffic: NOSCRIPT is loaded and retried once; nothing degraded, still exact", async () => {
    const client = quiet(server.port);
    const store = new RedisStore({ client, prefix: "flush:", timeoutMs: 2000, onFailure: "fail-closed" });
    const errors: unknown[] = [];
    store.on("error", (e) => errors.push(e.error));
    const limiter = new RateLimiter({ policy: tokenBucket({ capacity: 100, refillRate: 0.001 }), store });
    let flushes = 0;
    const flusher = (async () => {
      for (let i = 0; i < 8; i++) {
        await sleep(15);
        await admin.script("FLUSH");
        flushes++;
      }
    })();
    const ds: Decision[] = [];
    await Promise.all(
      Array.from({ length: 32 }, async (_, w) => {
        for (let i = 0; i < 40; i++) {
          ds.push(await limiter.consume(`k${(w + i) % 4}`));
          if (i % 4 === 0) await sleep(1);
        }
      }),
    );
    await flusher;
    client.disconnect();
    expect(
      { flushes, degraded: ds.filter((d) => d.degraded).length, admitted: ds.filter((d) => d.allowed).length, errors },
      "1280 consumes over 4 keys of capacity 100 with 8 SCRIPT FLUSHes",
    ).toEqual({ flushes: 8, degraded: 0, admitted: 400, errors: [] });
    expect(await keysWithoutTtl(admin), "keys without TTL").toEqual([]);
  });
});
