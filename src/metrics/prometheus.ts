// prometheus.ts: floodgate/prometheus, RateLimiter events as prom-client metrics in the user's Registry; no key, IP or request text is ever a label.

import {
  Counter,
  Gauge,
  register as globalRegistry,
  Histogram,
  type OpenMetricsContentType,
  type PrometheusContentType,
  type Registry,
} from "prom-client";
import { describe, FloodgateTypeError } from "../core/errors.js";
import { checkOptions } from "../core/validate.js";
import { isRateLimiter, type RateLimiter } from "../limiter.js";
import { STORE_BUCKETS, WAIT_BUCKETS } from "./buckets.js";
import { STORE_EVENTS, Tally } from "./tally.js";

export { STORE_BUCKETS, WAIT_BUCKETS };

/** PrometheusOptions configures prometheusMetrics. */
export interface PrometheusOptions {
  /** registry receives the metrics: a Registry of the text format or of OpenMetrics. Default: prom-client's global registry. */
  registry?: Registry<PrometheusContentType> | Registry<OpenMetricsContentType>;
  /** prefix starts every metric name. Default "floodgate_". */
  prefix?: string;
  /** storeBuckets replaces STORE_BUCKETS (seconds). */
  storeBuckets?: readonly number[];
  /** waitBuckets replaces WAIT_BUCKETS (seconds). */
  waitBuckets?: readonly number[];
}

/** PrometheusMetrics is what prometheusMetrics returns: attach more limiters, or stop. */
export interface PrometheusMetrics {
  /** attach counts another limiter's events in the same metrics and returns a function that stops it. */
  attach(limiter: RateLimiter): () => void;
  /** detach stops counting every limiter and removes the metrics from the registry. */
  detach(): void;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * prometheusMetrics registers floodgate's metrics in a prom-client Registry and
 * counts the events of `limiters` into them (more with `attach`):
 *
 * - `floodgate_decisions_total{policy,outcome}`: outcome allowed, denied, or shadow (would-be refusals)
 * - `floodgate_near_limit_total{policy}`, `floodgate_cost_admitted_total{policy}`, `floodgate_cost_refused_total{policy}`
 * - `floodgate_store_duration_seconds` (histogram; every Redis call, 1 in 256 memory decisions)
 * - `floodgate_store_degraded`, `floodgate_store_degraded_seconds_total`, `floodgate_store_events_total{event}`
 * - `floodgate_keys_tracked{policy}`, `floodgate_memory_overflow_calls_total{policy}` (memory store)
 * - `floodgate_wait_duration_seconds{outcome}` (histogram), `floodgate_queue_depth` (acquire)
 *
 * Labels are policy names and fixed words only: never a key, an IP or request
 * text, so the series count is bounded (docs/observability.md gives the formula).
 * Decisions are counted by the limiter itself in plain numbers (its counting
 * channel, no event object) and copied into prom-client when scraped, so an
 * attached binding costs a few additions per decision. Text and OpenMetrics output both
 * work (`registry.setContentType(openMetricsContentType)`).
 *
 * @example
 * import { Registry } from "prom-client";
 * import { RateLimiter, tokenBucket } from "floodgate";
 * import { prometheusMetrics } from "floodgate/prometheus";
 * const registry = new Registry();
 * const limiter = new RateLimiter({ policy: tokenBucket({ name: "api", capacity: 10, refillRate: 2 }) });
 * prometheusMetrics(limiter, { registry });
 * // app.get("/metrics", async (_req, res) => res.type(registry.contentType).send(await registry.metrics()));
 */
export function prometheusMetrics(
  limiters: RateLimiter | readonly RateLimiter[],
  options: PrometheusOptions = {},
): PrometheusMetrics {
  const o = checkOptions("prometheusMetrics", options, ["registry", "prefix", "storeBuckets", "waitBuckets"]);
  const list = Array.isArray(limiters) ? (limiters as readonly RateLimiter[]) : [limiters as RateLimiter];
  for (const l of list) {
    if (!isRateLimiter(l)) {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: prometheusMetrics(limiters) takes a RateLimiter or an array of them, got ${describe(l)}.`,
      );
    }
  }
  const prefix = o.prefix ?? "floodgate_";
  if (typeof prefix !== "string" || !(prefix === "" || NAME.test(prefix))) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: prometheusMetrics({ prefix }) must be a metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*), got ${describe(prefix)}; such as "floodgate_".`,
    );
  }
  const registry = (o.registry as PrometheusOptions["registry"]) ?? globalRegistry;
  if (typeof registry?.registerMetric !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: prometheusMetrics({ registry }) must be a prom-client Registry, got ${describe(o.registry)}.`,
    );
  }
  const storeBuckets = buckets("storeBuckets", o.storeBuckets, STORE_BUCKETS);
  const waitBuckets = buckets("waitBuckets", o.waitBuckets, WAIT_BUCKETS);
  const registers = [registry];

  const storeDuration = new Histogram({
    name: `${prefix}store_duration_seconds`,
    help: "Time the store took to decide, in seconds: every call of a Redis store, one in 256 decisions of a memory store.",
    buckets: [...storeBuckets],
    registers,
  });
  const waitDuration = new Histogram({
    name: `${prefix}wait_duration_seconds`,
    help: "Time acquire calls waited, by how the wait ended (admitted, aborted, timed_out, queue_full, failed).",
    labelNames: ["outcome"],
    buckets: [...waitBuckets],
    registers,
  });
  const tally = new Tally({
    storeDuration: (s) => storeDuration.observe(s),
    waitEnded: (outcome, s) => waitDuration.observe({ outcome }, s),
  });

  const decisions = new Counter({
    name: `${prefix}decisions_total`,
    help: "Decisions given to callers, by deciding policy and outcome (allowed, denied, shadow: a would-be refusal in shadow mode).",
    labelNames: ["policy", "outcome"],
    registers,
    collect() {
      this.reset();
      for (const [policy, t] of tally.policies()) {
        this.inc({ policy, outcome: "allowed" }, t.allowed);
        this.inc({ policy, outcome: "denied" }, t.denied);
        this.inc({ policy, outcome: "shadow" }, t.shadow);
      }
    },
  });
  const nearLimit = new Counter({
    name: `${prefix}near_limit_total`,
    help: "Allowed decisions that left the policy at or below its near-limit share (default 20%).",
    labelNames: ["policy"],
    registers,
    collect() {
      this.reset();
      for (const [policy, t] of tally.policies()) this.inc({ policy }, t.nearLimit);
    },
  });
  const costAdmitted = new Counter({
    name: `${prefix}cost_admitted_total`,
    help: "Cost spent by allowed decisions.",
    labelNames: ["policy"],
    registers,
    collect() {
      this.reset();
      for (const [policy, t] of tally.policies()) this.inc({ policy }, t.costAdmitted);
    },
  });
  const costRefused = new Counter({
    name: `${prefix}cost_refused_total`,
    help: "Cost asked by denied decisions (nothing was spent).",
    labelNames: ["policy"],
    registers,
    collect() {
      this.reset();
      for (const [policy, t] of tally.policies()) this.inc({ policy }, t.costRefused);
    },
  });
  const degraded = new Gauge({
    name: `${prefix}store_degraded`,
    help: "Stores that are degraded now (Redis unreachable; the failure policy decides).",
    registers,
    collect() {
      this.set(tally.degradedNow());
    },
  });
  const degradedSeconds = new Counter({
    name: `${prefix}store_degraded_seconds_total`,
    help: "Time stores spent degraded, in seconds.",
    registers,
    collect() {
      this.reset();
      this.inc(tally.degradedSeconds());
    },
  });
  const storeEvents = new Counter({
    name: `${prefix}store_events_total`,
    help: "Store health events: degraded, recovered, error, probe, overflow (memory store at maxKeys, at most once a second).",
    labelNames: ["event"],
    registers,
    collect() {
      this.reset();
      for (const event of STORE_EVENTS) this.inc({ event }, tally.storeEvents[event]);
    },
  });
  const keysTracked = new Gauge({
    name: `${prefix}keys_tracked`,
    help: "Keys the memory store holds state for, per policy.",
    labelNames: ["policy"],
    registers,
    collect() {
      this.reset();
      for (const [policy, k] of tally.keysTracked()) this.set({ policy }, k.keys);
    },
  });
  const overflow = new Counter({
    name: `${prefix}memory_overflow_calls_total`,
    help: "Calls of untracked keys answered by the memory store's shared overflow state (maxKeys reached).",
    labelNames: ["policy"],
    registers,
    collect() {
      this.reset();
      for (const [policy, k] of tally.keysTracked()) this.inc({ policy }, k.overflowed);
    },
  });
  const queueDepth = new Gauge({
    name: `${prefix}queue_depth`,
    help: "acquire calls waiting now.",
    registers,
    collect() {
      this.set(tally.waiting());
    },
  });
  const metrics = [
    storeDuration,
    waitDuration,
    decisions,
    nearLimit,
    costAdmitted,
    costRefused,
    degraded,
    degradedSeconds,
    storeEvents,
    keysTracked,
    overflow,
    queueDepth,
  ];
  for (const l of list) tally.attach(l);
  return {
    attach(limiter: RateLimiter): () => void {
      if (!isRateLimiter(limiter)) {
        throw new FloodgateTypeError(
          "ERR_INVALID_OPTION",
          `floodgate: PrometheusMetrics.attach(limiter) needs a RateLimiter, got ${describe(limiter)}.`,
        );
      }
      return tally.attach(limiter);
    },
    detach(): void {
      for (const l of tally.limiters()) tally.detach(l);
      for (const m of metrics) registry.removeSingleMetric((m as unknown as { name: string }).name);
    },
  };
}

/** buckets validates a bucket list: finite, positive, increasing. */
function buckets(name: string, value: unknown, fallback: readonly number[]): readonly number[] {
  if (value === undefined) return fallback;
  const ok =
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((x, i) => typeof x === "number" && Number.isFinite(x) && x > 0 && (i === 0 || x > value[i - 1]));
  if (!ok) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: prometheusMetrics({ ${name} }) must be increasing positive numbers of seconds, got ${describe(value)}; such as [0.001, 0.01, 0.1, 1].`,
    );
  }
  return value as readonly number[];
}
