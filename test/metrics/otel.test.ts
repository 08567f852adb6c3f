// otel.test.ts: floodgate/otel read back with the OpenTelemetry metrics SDK's in-memory reader, and the span event of a refusal.

import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  AggregationTemporality,
  type DataPoint,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpRateLimit, type HttpRequest } from "../../src/http/core.js";
import { RateLimiter, tokenBucket } from "../../src/index.js";
import { otelMetrics, RATE_LIMITED_EVENT } from "../../src/metrics/otel.js";

/** setup builds a MeterProvider whose reader exports into memory on demand (forceFlush). */
function setup() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const read = async (): Promise<MetricData[]> => {
    await reader.forceFlush();
    const batches = exporter.getMetrics();
    const last = batches.at(-1);
    exporter.reset();
    return last?.scopeMetrics.flatMap((s) => s.metrics) ?? [];
  };
  return { meter: provider.getMeter("test"), read, provider };
}

/** point returns the value of an instrument's data point with exactly `attributes`. */
function point(data: MetricData[], name: string, attributes: Record<string, unknown> = {}): unknown {
  const m = data.find((d) => d.descriptor.name === name);
  const p = (m?.dataPoints as DataPoint<unknown>[] | undefined)?.find(
    (d) => JSON.stringify(Object.entries(d.attributes).sort()) === JSON.stringify(Object.entries(attributes).sort()),
  );
  return p?.value;
}

const four = () => tokenBucket({ name: "api", capacity: 4, refillRate: 0.001 });

describe("floodgate/otel", () => {
  it("reports the same counts as instruments, read with the in-memory reader", async () => {
    const { meter, read } = setup();
    const limiter = new RateLimiter({ policy: four(), now: () => 0 });
    otelMetrics(limiter, { meter });
    limiter.consumeSync("a", 3);
    limiter.consumeSync("a");
    limiter.consumeSync("a");
    limiter.consumeSync("a", { shadow: true });
    for (let i = 0; i < 12; i++) limiter.consumeSync(`k${i}`);
    // 240 checks that spend nothing (k0 keeps 3 of 4, not near): 256 decisions in all, one timed (1 in 256).
    for (let i = 0; i < 240; i++) limiter.consumeSync("k0", 0);
    const data = await read();
    const p = { "floodgate.policy": "api" };
    expect(point(data, "floodgate.decisions", { ...p, "floodgate.outcome": "allowed" })).toBe(14 + 240);
    expect(point(data, "floodgate.decisions", { ...p, "floodgate.outcome": "denied" })).toBe(1);
    expect(point(data, "floodgate.decisions", { ...p, "floodgate.outcome": "shadow" })).toBe(1);
    expect(point(data, "floodgate.near_limit", p)).toBe(1);
    expect(point(data, "floodgate.cost.admitted", p)).toBe(3 + 1 + 12);
    expect(point(data, "floodgate.cost.refused", p)).toBe(1);
    expect(point(data, "floodgate.keys.tracked", p)).toBe(13);
    expect(point(data, "floodgate.store.degraded")).toBe(0);
    expect(point(data, "floodgate.store.events", { "floodgate.event": "degraded" })).toBe(0);
    const histogram = point(data, "floodgate.store.duration") as { count: number; buckets: { boundaries: number[] } };
    expect(histogram.count).toBe(1);
    expect(histogram.buckets.boundaries[0]).toBe(0.00001);
    const unit = data.find((d) => d.descriptor.name === "floodgate.store.duration")?.descriptor.unit;
    expect(unit).toBe("s");
  });

  it("detach stops the observable instruments and the counting", async () => {
    const { meter, read } = setup();
    const limiter = new RateLimiter({ policy: four(), now: () => 0 });
    const m = otelMetrics(limiter, { meter });
    limiter.consumeSync("a");
    m.detach();
    limiter.consumeSync("a");
    const data = await read();
    expect(point(data, "floodgate.decisions", { "floodgate.policy": "api", "floodgate.outcome": "allowed" })).toBe(
      undefined,
    );
    expect(() => otelMetrics(limiter, { meter: {} as never })).toThrow(/must be an OpenTelemetry Meter/);
    expect(() => otelMetrics(limiter, { meter, spanEvents: "yes" as never })).toThrow(/spanEvents/);
  });

  describe("span events", () => {
    const contextManager = new AsyncLocalStorageContextManager();
    const spans = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
    beforeAll(() => {
      context.setGlobalContextManager(contextManager.enable());
    });
    afterAll(() => {
      context.disable();
    });

    it("a refused HTTP request marks its active span with the policy and the retry-after", async () => {
      const { meter } = setup();
      const limiter = new RateLimiter({
        policy: tokenBucket({ name: "api", capacity: 1, refillRate: 1 }),
        now: () => 0,
      });
      otelMetrics(limiter, { meter });
      const http = new HttpRateLimit({ limiter });
      const tracer = tracerProvider.getTracer("test");
      const request = (name: string): Promise<number> =>
        tracer.startActiveSpan(name, async (span) => {
          const req: HttpRequest = {
            method: "GET",
            url: "/",
            path: "/",
            route: undefined,
            peer: "10.0.0.1",
            header: () => undefined,
            raw: {},
          };
          const out = await http.check(req);
          span.end();
          return out.status;
        });
      expect(await request("first")).toBe(200);
      expect(await request("second")).toBe(429);
      const [first, second] = spans.getFinishedSpans();
      expect(first?.events).toEqual([]);
      expect(second?.events.map((e) => [e.name, e.attributes])).toEqual([
        [
          RATE_LIMITED_EVENT,
          { "floodgate.policy": "api", "floodgate.retry_after_ms": 1000, "floodgate.shadow": false },
        ],
      ]);
      // No active span: nothing to mark, nothing thrown.
      expect(
        (
          await http.check({
            ...({} as HttpRequest),
            method: "GET",
            url: "/",
            path: "/",
            route: undefined,
            peer: "10.0.0.1",
            header: () => undefined,
            raw: {},
          })
        ).status,
      ).toBe(429);
      expect(trace.getActiveSpan()).toBeUndefined();
    });
  });
});
