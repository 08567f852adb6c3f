// prometheus.test.ts: floodgate/prometheus scraped from a real prom-client Registry, parsed as text and as OpenMetrics.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type OpenMetricsContentType, openMetricsContentType, Registry } from "prom-client";
import { describe, expect, it, vi } from "vitest";
import { MemoryStore, RateLimiter, tokenBucket } from "../../src/index.js";
import { prometheusMetrics } from "../../src/metrics/prometheus.js";
import { FakeTime } from "../unit/fake-time.js";
import { parseOpenMetrics, parseText, value } from "./exposition.js";

/** A bucket of 4 that refills one token per 1000 s. */
const four = (name = "api") => tokenBucket({ name, capacity: 4, refillRate: 0.001 });

describe("floodgate/prometheus", () => {
  it("counts decisions by policy and outcome, near-limit calls, cost, keys and store timings", async () => {
    const registry = new Registry();
    const store = new MemoryStore();
    const limiter = new RateLimiter({ policy: four(), store, now: () => 0 });
    prometheusMetrics(limiter, { registry });
    // step: a spends 1, 1, 2 (near: 0 left), then is denied twice (cost 1, then 3); b shadow-denied once after 4.
    limiter.consumeSync("a");
    limiter.consumeSync("a");
    limiter.consumeSync("a", 2);
    limiter.consumeSync("a");
    limiter.consumeSync("a", 3);
    limiter.consumeSync("b", 4);
    limiter.consumeSync("b", { shadow: true });
    for (let i = 0; i < 9; i++) limiter.consumeSync(`c${i}`);
    // 240 checks that spend nothing (c0 keeps 3 of 4, not near): 256 decisions in all, one timed (1 in 256).
    for (let i = 0; i < 240; i++) limiter.consumeSync("c0", 0);
    const f = parseText(await registry.metrics());
    const want: [string, Record<string, string>, number][] = [
      ["floodgate_decisions_total", { policy: "api", outcome: "allowed" }, 13 + 240],
      ["floodgate_decisions_total", { policy: "api", outcome: "denied" }, 2],
      ["floodgate_decisions_total", { policy: "api", outcome: "shadow" }, 1],
      ["floodgate_near_limit_total", { policy: "api" }, 2], // a left with 0, b left with 0
      ["floodgate_cost_admitted_total", { policy: "api" }, 1 + 1 + 2 + 4 + 9],
      ["floodgate_cost_refused_total", { policy: "api" }, 1 + 3],
      ["floodgate_keys_tracked", { policy: "api" }, 11],
      ["floodgate_memory_overflow_calls_total", { policy: "api" }, 0],
      ["floodgate_store_duration_seconds_count", {}, 1],
      ["floodgate_store_degraded", {}, 0],
      ["floodgate_store_degraded_seconds_total", {}, 0],
      ["floodgate_queue_depth", {}, 0],
      ["floodgate_store_events_total", { event: "overflow" }, 0],
    ];
    for (const [name, labels, n] of want) expect(value(f, name, labels), `${name}${JSON.stringify(labels)}`).toBe(n);
    const types = Object.fromEntries(f.map((x) => [x.name, x.type]));
    expect(types).toMatchObject({
      floodgate_decisions_total: "COUNTER",
      floodgate_store_duration_seconds: "HISTOGRAM",
      floodgate_wait_duration_seconds: "HISTOGRAM",
      floodgate_keys_tracked: "GAUGE",
      floodgate_store_degraded: "GAUGE",
    });
    const buckets = Object.keys(
      f.find((x) => x.name === "floodgate_store_duration_seconds")?.metrics[0]?.buckets ?? {},
    );
    expect(buckets).toContain("0.00001");
    expect(buckets).toContain("1");
  });

  it("OpenMetrics output parses strictly and carries the same counts", async () => {
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(openMetricsContentType);
    const limiter = new RateLimiter({ policy: four(), now: () => 0 });
    prometheusMetrics(limiter, { registry });
    for (let i = 0; i < 6; i++) limiter.consumeSync("a");
    const { families, samples } = parseOpenMetrics(await registry.metrics());
    expect(families.get("floodgate_decisions")).toBe("counter");
    expect(families.get("floodgate_store_duration_seconds")).toBe("histogram");
    const get = (name: string, labels: Record<string, string>) =>
      samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
    expect(get("floodgate_decisions_total", { policy: "api", outcome: "allowed" })).toBe(4);
    expect(get("floodgate_decisions_total", { policy: "api", outcome: "denied" })).toBe(2);
    expect(get("floodgate_cost_admitted_total", { policy: "api" })).toBe(4);
    expect(() => parseOpenMetrics("# TYPE x counter\nx 1\n# EOF\n"), "the reader refuses a bad counter sample").toThrow(
      /does not belong/,
    );
  });

  it("uses the registry given, several limiters in one set of metrics, and detach removes them", async () => {
    const registry = new Registry();
    const a = new RateLimiter({ policy: four("a"), now: () => 0 });
    const b = new RateLimiter({ policy: four("b"), now: () => 0 });
    const metrics = prometheusMetrics(a, { registry, prefix: "app_rl_" });
    const offB = metrics.attach(b);
    a.consumeSync("k");
    b.consumeSync("k");
    offB();
    b.consumeSync("k");
    const f = parseText(await registry.metrics());
    expect(value(f, "app_rl_decisions_total", { policy: "a", outcome: "allowed" })).toBe(1);
    expect(value(f, "app_rl_decisions_total", { policy: "b", outcome: "allowed" }), "b detached after one").toBe(1);
    metrics.detach();
    expect((await registry.metrics()).trim()).toBe("");
    expect(() => prometheusMetrics(a, { registry, prefix: "bad prefix" })).toThrow(/prefix.*metric name prefix/);
    expect(() => prometheusMetrics({} as never, { registry })).toThrow(/takes a RateLimiter/);
    expect(() => prometheusMetrics(a, { registry, storeBuckets: [1, 0.5] })).toThrow(/storeBuckets.*increasing/);
    expect(() => prometheusMetrics(a, { registry, labels: {} } as never)).toThrow(/labels/);
  });

  it("counts through the limiter's counting channel: every call, beside a listener, a binding attached later counting from then", async () => {
    const r1 = new Registry();
    const r2 = new Registry();
    const limiter = new RateLimiter({ policy: four(), now: () => 0 });
    prometheusMetrics(limiter, { registry: r1 });
    const seen: string[] = [];
    let second: { detach(): void } | undefined;
    let off = () => {};
    // step: the call, then what changes (bucket of 4, near limit at 0.8 or less left).
    const steps: [string, () => unknown][] = [
      ["consumeSync a: allowed, 3 left", () => limiter.consumeSync("a")],
      ["consume a 2: allowed, 1 left (not near)", () => limiter.consume("a", 2)],
      [
        "second binding attached: it counts from here",
        () => (second = prometheusMetrics(limiter, { registry: r2, prefix: "second_" })),
      ],
      [
        "a decision listener beside the bindings",
        () => (off = limiter.on("decision", (e) => void seen.push(e.outcome))),
      ],
      ["consume a 2: denied", () => limiter.consume("a", 2)],
      ["consumeSync a 2 in shadow mode: shadow", () => limiter.consumeSync("a", { cost: 2, shadow: true })],
      ["acquire b: allowed (op acquire)", () => limiter.acquire("b")],
      ["listener removed", () => off()],
      ["consumeSync a: allowed, 0 left (near)", () => limiter.consumeSync("a")],
    ];
    for (const [, step] of steps) await step();
    expect(seen, "the listener saw its three decisions").toEqual(["denied", "shadow", "allowed"]);
    const want = (prefix: string, all: boolean): [string, Record<string, string>, number][] => [
      [`${prefix}decisions_total`, { policy: "api", outcome: "allowed" }, all ? 4 : 2],
      [`${prefix}decisions_total`, { policy: "api", outcome: "denied" }, 1],
      [`${prefix}decisions_total`, { policy: "api", outcome: "shadow" }, 1],
      [`${prefix}near_limit_total`, { policy: "api" }, 1],
      [`${prefix}cost_admitted_total`, { policy: "api" }, all ? 1 + 2 + 1 + 1 : 1 + 1],
      [`${prefix}cost_refused_total`, { policy: "api" }, 2],
    ];
    const f1 = parseText(await r1.metrics());
    const f2 = parseText(await r2.metrics());
    for (const [name, labels, n] of want("floodgate_", true)) expect(value(f1, name, labels), name).toBe(n);
    for (const [name, labels, n] of want("second_", false)) expect(value(f2, name, labels), name).toBe(n);
    second?.detach();
    limiter.consumeSync("b");
    expect(
      value(parseText(await r1.metrics()), "floodgate_decisions_total", { policy: "api", outcome: "allowed" }),
    ).toBe(5);
    expect((await r2.metrics()).trim(), "the detached binding's metrics are gone").toBe("");
  });

  // Regression: past 256 policy names the Tally recursed until the stack overflowed (caught as a throwing listener), so no "(other)" series.
  it('policy names past 256 are counted under policy="(other)"', async () => {
    const registry = new Registry();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const limiter = new RateLimiter({ policy: four(), now: () => 0 });
    prometheusMetrics(limiter, { registry });
    for (let i = 0; i < 300; i++) limiter.consumeSync("k", { policy: four(`p${i}`) });
    const f = parseText(await registry.metrics());
    expect(value(f, "floodgate_decisions_total", { policy: "(other)", outcome: "allowed" })).toBe(300 - 256);
    expect(value(f, "floodgate_decisions_total", { policy: "p255", outcome: "allowed" })).toBe(1);
    expect(value(f, "floodgate_decisions_total", { policy: "p256", outcome: "allowed" })).toBeUndefined();
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });

  // Regression: the first Tally watched a store through every attached limiter, counting its events twice.
  it("a store shared by two attached limiters is counted once, even after one detaches", async () => {
    let t = 0;
    const store = new MemoryStore({ maxKeys: 2 });
    const a = new RateLimiter({ policy: four("a"), store, now: () => t });
    const b = new RateLimiter({ policy: four("b"), store, now: () => t });
    const registry = new Registry();
    const metrics = prometheusMetrics([a, b], { registry });
    for (let i = 0; i < 3; i++) a.consumeSync(`k${i}`); // the third key overflows: one event
    let f = parseText(await registry.metrics());
    expect(value(f, "floodgate_store_events_total", { event: "overflow" }), "one event, not one per limiter").toBe(1);
    expect(value(f, "floodgate_keys_tracked", { policy: "a" }), "keys counted once").toBe(2);
    metrics.attach(a)(); // detach a: the store is watched through b from now on
    t = 2000;
    b.consumeSync("x1");
    b.consumeSync("x2");
    b.consumeSync("x3"); // b's table overflows: reported through b
    f = parseText(await registry.metrics());
    expect(value(f, "floodgate_store_events_total", { event: "overflow" })).toBe(2);
    expect(value(f, "floodgate_keys_tracked", { policy: "b" })).toBe(2);
  });

  it("waits: a histogram by outcome and the queue depth", async () => {
    const time = new FakeTime();
    const registry = new Registry();
    const limiter = new RateLimiter({
      policy: tokenBucket({ name: "api", capacity: 1, refillRate: 1 }),
      now: time.now,
      timers: time.timers,
      maxQueue: 2,
    });
    prometheusMetrics(limiter, { registry });
    const first = limiter.acquire("k");
    const second = limiter.acquire("k");
    const full = limiter.acquire("k").catch((e) => e.code);
    await time.advance(10);
    const f = parseText(await registry.metrics());
    expect(value(f, "floodgate_queue_depth"), "the second waits").toBe(1);
    await time.advance(1000);
    await Promise.all([first, second]);
    expect(await full).toBe("ERR_QUEUE_FULL");
    const { samples } = parseOpenMetrics(await registry.metrics(), "text");
    const get = (name: string, outcome?: string) =>
      samples.find((s) => s.name === name && s.labels.outcome === outcome && s.labels.le === undefined)?.value;
    expect(get("floodgate_wait_duration_seconds_count", "admitted")).toBe(2);
    expect(get("floodgate_wait_duration_seconds_sum", "admitted"), "0 s, then 1 s").toBe(1);
    expect(get("floodgate_wait_duration_seconds_count", "queue_full")).toBe(1);
    expect(get("floodgate_queue_depth")).toBe(0);
  });

  it("a flood of 1,000,000 distinct keys adds no series, and no key reaches a label", async () => {
    const registry = new Registry();
    const limiter = new RateLimiter({
      policy: tokenBucket({ name: "api", capacity: 1, refillRate: 0.000001 }),
      store: new MemoryStore({ maxKeys: 10_000 }),
      now: () => 0,
      heavyHitters: 8,
    });
    prometheusMetrics(limiter, { registry });
    limiter.consumeSync("warm");
    limiter.consumeSync("warm");
    const seriesOf = (text: string) => text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).length;
    const before = seriesOf(await registry.metrics());
    for (let i = 0; i < 1_000_000; i++) limiter.consumeSync(`flood:${i}`);
    const text = await registry.metrics();
    expect(seriesOf(text), "series after the flood").toBe(before);
    expect(text).not.toMatch(/flood:|warm/);
    const f = parseText(text);
    expect(value(f, "floodgate_decisions_total", { policy: "api", outcome: "allowed" })).toBe(1 + 10_000 - 1 + 1);
    expect(value(f, "floodgate_keys_tracked", { policy: "api" })).toBe(10_000);
    expect(value(f, "floodgate_memory_overflow_calls_total", { policy: "api" })).toBe(1_000_000 - 9_999);
    expect(value(f, "floodgate_store_events_total", { event: "overflow" }), "reported once a second at most").toBe(1);
    const [top] = limiter.heavyHitters("api");
    expect(top?.keys.length, "the summary stays at k").toBe(8);
  });

  it("the Grafana dashboard and the PromQL of docs/observability.md name only metrics that exist", async () => {
    const registry = new Registry();
    prometheusMetrics(new RateLimiter({ policy: four() }), { registry });
    const families = new Set(parseText(await registry.metrics()).map((f) => f.name));
    const docs = join(import.meta.dirname, "../../docs");
    const dashboard = readFileSync(join(docs, "grafana-dashboard.json"), "utf8");
    const guide = readFileSync(join(docs, "observability.md"), "utf8");
    const promql = [...guide.matchAll(/```promql\n([\s\S]*?)```/g)].map((m) => m[1]).join("\n");
    const exprs = (JSON.parse(dashboard) as { panels: { targets: { expr: string }[] }[] }).panels.flatMap((p) =>
      p.targets.map((t) => t.expr),
    );
    expect(exprs.length).toBeGreaterThan(10);
    for (const text of [...exprs, promql]) {
      for (const [name] of text.matchAll(/floodgate_[a-z_]+/g)) {
        const family = name.replace(/_(bucket|count|sum)$/, "");
        expect(families.has(family), `${name} in ${text.slice(0, 80)}`).toBe(true);
      }
    }
  });
});
