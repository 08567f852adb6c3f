// redis-metrics.test.ts: a real Redis killed (-9) and restarted under a RateLimiter with floodgate/prometheus attached: the degraded gauge, the time degraded and the store events, in order.

import { Redis } from "ioredis";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RateLimiter, type StoreEvent, tokenBucket } from "../../src/index.js";
import { prometheusMetrics } from "../../src/metrics/prometheus.js";
import { RedisStore } from "../../src/stores/redis/index.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import { parseText, value } from "./exposition.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("Redis kill -9 and restart, seen through the metrics", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("the degraded gauge goes 0, 1, 0; events come degraded, errors and probes, then recovered", async () => {
    const client = new Redis(server.port, "127.0.0.1", { retryStrategy: () => 20 });
    client.on("error", () => {});
    const store = new RedisStore({
      client,
      prefix: "metrics:",
      // Generous: the suite runs on loaded machines, and a call slower than this before the kill would count as degraded.
      timeoutMs: 1000,
      probeIntervalMs: 50,
      onFailure: "fail-open",
      denyCache: false,
    });
    const limiter = new RateLimiter({ policy: tokenBucket({ name: "api", capacity: 1000, refillRate: 1 }), store });
    const registry = new Registry();
    prometheusMetrics(limiter, { registry });
    const events: StoreEvent["type"][] = [];
    limiter.on("store", (e) => events.push(e.type));
    const scrape = async () => parseText(await registry.metrics());

    for (let i = 0; i < 5; i++) expect((await limiter.consume("k")).degraded).toBeUndefined();
    let f = await scrape();
    expect(value(f, "floodgate_store_degraded")).toBe(0);
    expect(value(f, "floodgate_store_duration_seconds_count"), "every Redis decision is timed").toBe(5);
    expect(value(f, "floodgate_decisions_total", { policy: "api", outcome: "allowed" })).toBe(5);

    await server.kill9();
    let degradedCalls = 0;
    for (let i = 0; i < 100 && degradedCalls < 3; i++) {
      if ((await limiter.consume("k")).degraded === "fail-open") degradedCalls++;
    }
    expect(degradedCalls).toBe(3);
    f = await scrape();
    expect(value(f, "floodgate_store_degraded"), "degraded while Redis is down").toBe(1);
    expect(value(f, "floodgate_store_events_total", { event: "degraded" })).toBe(1);
    await sleep(300);
    const midway = value(await scrape(), "floodgate_store_degraded_seconds_total") ?? 0;
    expect(midway, "time degraded grows while the outage lasts").toBeGreaterThan(0.25);

    await server.restart();
    let back = false;
    for (let i = 0; i < 200 && !back; i++) {
      back = (await limiter.consume("k")).degraded === undefined;
      if (!back) await sleep(20);
    }
    expect(back, "recovered within 4 s").toBe(true);
    f = await scrape();
    expect(value(f, "floodgate_store_degraded")).toBe(0);
    expect(value(f, "floodgate_store_events_total", { event: "recovered" })).toBe(1);
    expect(value(f, "floodgate_store_events_total", { event: "probe" })).toBeGreaterThanOrEqual(1);
    expect(value(f, "floodgate_store_events_total", { event: "error" })).toBeGreaterThanOrEqual(1);
    const total = value(f, "floodgate_store_degraded_seconds_total") ?? 0;
    expect(total).toBeGreaterThanOrEqual(midway);
    // A fail-open decision is allowed, so it is counted as allowed, and carries no store timing of its own.
    expect(value(f, "floodgate_decisions_total", { policy: "api", outcome: "denied" })).toBe(0);

    const order = events.join(" ");
    expect(order, order).toMatch(/^degraded( (error|probe))* probe recovered$/);
    client.disconnect();
  });
});
