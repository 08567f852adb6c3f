// express-metrics.test.ts: an Express app under a burst over real HTTP, then its /metrics scrape shows the exact allowed and denied counts.

import type { AddressInfo } from "node:net";
import express from "express";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rateLimit } from "../../src/adapters/express.js";
import { RateLimiter, tokenBucket } from "../../src/index.js";
import { prometheusMetrics } from "../../src/metrics/prometheus.js";
import { parseText, value } from "./exposition.js";

describe("Express under a burst, then a scrape", () => {
  const registry = new Registry();
  // 20 requests of burst per client, refilling 1 per 1000 s: nothing comes back during the test.
  const api = new RateLimiter({ policy: tokenBucket({ name: "api", capacity: 20, refillRate: 0.001 }) });
  const login = new RateLimiter({ policy: tokenBucket({ name: "login", capacity: 3, refillRate: 0.001 }) });
  prometheusMetrics([api, login], { registry });
  const app = express();
  app.get("/metrics", async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  app.use("/login", rateLimit({ limiter: login, shadow: true }));
  app.use(rateLimit({ limiter: api }));
  app.get("/", (_req, res) => {
    res.send("ok");
  });
  app.get("/login", (_req, res) => {
    res.send("login");
  });
  let base = "";
  let close: () => Promise<void> = async () => {};
  beforeAll(async () => {
    const server = app.listen(0, "127.0.0.1");
    await new Promise<void>((r) => server.once("listening", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => new Promise((r) => server.close(() => r()));
  });
  afterAll(async () => {
    await close();
  });

  it("50 concurrent requests: 20 allowed, 30 refused, and the scrape says exactly that", async () => {
    const statuses = await Promise.all(Array.from({ length: 50 }, () => fetch(`${base}/`).then((r) => r.status)));
    expect(statuses.filter((s) => s === 200).length).toBe(20);
    expect(statuses.filter((s) => s === 429).length).toBe(30);
    // /login runs in shadow mode: its limit admits 3 and would refuse 2, but lets all 5 on to the api
    // limit, which is spent and refuses them.
    const login = [];
    for (let i = 0; i < 5; i++) login.push((await fetch(`${base}/login`)).status);
    expect(login).toEqual([429, 429, 429, 429, 429]);

    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const f = parseText(await res.text());
    const want: [string, Record<string, string>, number][] = [
      ["floodgate_decisions_total", { policy: "api", outcome: "allowed" }, 20],
      ["floodgate_decisions_total", { policy: "api", outcome: "denied" }, 30 + 5],
      ["floodgate_decisions_total", { policy: "api", outcome: "shadow" }, 0],
      ["floodgate_decisions_total", { policy: "login", outcome: "allowed" }, 3],
      ["floodgate_decisions_total", { policy: "login", outcome: "denied" }, 0],
      ["floodgate_decisions_total", { policy: "login", outcome: "shadow" }, 2],
      ["floodgate_cost_admitted_total", { policy: "api" }, 20],
      ["floodgate_cost_refused_total", { policy: "api" }, 35],
      ["floodgate_near_limit_total", { policy: "api" }, 5], // remaining 4, 3, 2, 1, 0 of 20 (20%)
      ["floodgate_keys_tracked", { policy: "api" }, 1],
    ];
    for (const [name, labels, n] of want) expect(value(f, name, labels), `${name}${JSON.stringify(labels)}`).toBe(n);
  });
});
