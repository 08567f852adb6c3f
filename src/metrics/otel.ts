// otel.ts: floodgate/otel, RateLimiter events as OpenTelemetry instruments through a Meter, and a span event on each refusal.

import { type Attributes, type BatchObservableResult, type Meter, metrics, trace } from "@opentelemetry/api";
import { describe, FloodgateTypeError } from "../core/errors.js";
import { checkOptions } from "../core/validate.js";
import { isRateLimiter, type RateLimiter } from "../limiter.js";
import { STORE_BUCKETS, WAIT_BUCKETS } from "./buckets.js";
import { STORE_EVENTS, Tally } from "./tally.js";

/** OtelOptions configures otelMetrics. */
export interface OtelOptions {
  /** meter creates the instruments. Default: `metrics.getMeter("floodgate")` of the global MeterProvider. */
  meter?: Meter;
  /** spanEvents adds the event "floodgate.rate_limited" to the active span of each refusal. Default true. */
  spanEvents?: boolean;
}

/** OtelMetrics is what otelMetrics returns: attach more limiters, or stop. */
export interface OtelMetrics {
  /** attach counts another limiter's events in the same instruments and returns a function that stops it. */
  attach(limiter: RateLimiter): () => void;
  /** detach stops counting every limiter and stops reporting the observable instruments. */
  detach(): void;
}

/** RATE_LIMITED is the name of the span event a refusal adds. */
export const RATE_LIMITED_EVENT = "floodgate.rate_limited";

/**
 * otelMetrics creates floodgate's instruments on an OpenTelemetry Meter and
 * counts the events of `limiters` into them (more with `attach`). The same
 * metrics as floodgate/prometheus, named by OpenTelemetry's conventions:
 *
 * - `floodgate.decisions` {floodgate.policy, floodgate.outcome} (allowed, denied, shadow)
 * - `floodgate.near_limit`, `floodgate.cost.admitted`, `floodgate.cost.refused` {floodgate.policy}
 * - `floodgate.store.duration` (histogram, s), `floodgate.store.degraded`,
 *   `floodgate.store.degraded_time` (s), `floodgate.store.events` {floodgate.event}
 * - `floodgate.keys.tracked`, `floodgate.memory.overflow_calls` {floodgate.policy}
 * - `floodgate.wait.duration` (histogram, s) {floodgate.outcome}, `floodgate.queue.depth`
 *
 * Counters and gauges are observable: counted in plain numbers and reported
 * when the reader collects. A refused decision (denied, or shadow) made while a
 * span is active (an HTTP request's span) adds the event "floodgate.rate_limited"
 * to it, with `floodgate.policy`, `floodgate.retry_after_ms` and `floodgate.shadow`.
 * No attribute is ever a key, an IP or request text.
 *
 * @example
 * import { RateLimiter, tokenBucket } from "floodgate";
 * import { otelMetrics } from "floodgate/otel";
 * const limiter = new RateLimiter({ policy: tokenBucket({ name: "api", capacity: 10, refillRate: 2 }) });
 * otelMetrics(limiter); // the global MeterProvider's meter "floodgate"
 */
export function otelMetrics(limiters: RateLimiter | readonly RateLimiter[], options: OtelOptions = {}): OtelMetrics {
  const o = checkOptions("otelMetrics", options, ["meter", "spanEvents"]);
  const list = Array.isArray(limiters) ? (limiters as readonly RateLimiter[]) : [limiters as RateLimiter];
  for (const l of list) {
    if (!isRateLimiter(l)) {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: otelMetrics(limiters) takes a RateLimiter or an array of them, got ${describe(l)}.`,
      );
    }
  }
  const meter = (o.meter as Meter | undefined) ?? metrics.getMeter("floodgate");
  if (typeof meter?.createHistogram !== "function" || typeof meter.addBatchObservableCallback !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: otelMetrics({ meter }) must be an OpenTelemetry Meter, got ${describe(o.meter)}; pass metrics.getMeter("floodgate").`,
    );
  }
  if (o.spanEvents !== undefined && typeof o.spanEvents !== "boolean") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: otelMetrics({ spanEvents }) must be true or false, got ${describe(o.spanEvents)}.`,
    );
  }
  const spanEvents = o.spanEvents !== false;

  const storeDuration = meter.createHistogram("floodgate.store.duration", {
    description: "Time the store took to decide: every call of a Redis store, one in 256 decisions of a memory store.",
    unit: "s",
    advice: { explicitBucketBoundaries: [...STORE_BUCKETS] },
  });
  const waitDuration = meter.createHistogram("floodgate.wait.duration", {
    description: "Time acquire calls waited, by how the wait ended.",
    unit: "s",
    advice: { explicitBucketBoundaries: [...WAIT_BUCKETS] },
  });
  const tally = new Tally({
    storeDuration: (s) => storeDuration.record(s),
    waitEnded: (outcome, s) => waitDuration.record(s, { "floodgate.outcome": outcome }),
    ...(spanEvents ? { refused: markSpan } : {}),
  });

  const decisions = meter.createObservableCounter("floodgate.decisions", {
    description: "Decisions given to callers, by deciding policy and outcome (allowed, denied, shadow).",
    unit: "{decision}",
  });
  const nearLimit = meter.createObservableCounter("floodgate.near_limit", {
    description: "Allowed decisions that left the policy at or below its near-limit share.",
    unit: "{decision}",
  });
  const costAdmitted = meter.createObservableCounter("floodgate.cost.admitted", {
    description: "Cost spent by allowed decisions.",
    unit: "{token}",
  });
  const costRefused = meter.createObservableCounter("floodgate.cost.refused", {
    description: "Cost asked by denied decisions (nothing was spent).",
    unit: "{token}",
  });
  const degraded = meter.createObservableGauge("floodgate.store.degraded", {
    description: "Stores that are degraded now (the failure policy decides).",
    unit: "{store}",
  });
  const degradedTime = meter.createObservableCounter("floodgate.store.degraded_time", {
    description: "Time stores spent degraded.",
    unit: "s",
  });
  const storeEvents = meter.createObservableCounter("floodgate.store.events", {
    description: "Store health events: degraded, recovered, error, probe, overflow.",
    unit: "{event}",
  });
  const keysTracked = meter.createObservableGauge("floodgate.keys.tracked", {
    description: "Keys the memory store holds state for, per policy.",
    unit: "{key}",
  });
  const overflow = meter.createObservableCounter("floodgate.memory.overflow_calls", {
    description: "Calls of untracked keys answered by the memory store's shared overflow state (maxKeys reached).",
    unit: "{call}",
  });
  const queueDepth = meter.createObservableUpDownCounter("floodgate.queue.depth", {
    description: "acquire calls waiting now.",
    unit: "{call}",
  });
  const observables = [
    decisions,
    nearLimit,
    costAdmitted,
    costRefused,
    degraded,
    degradedTime,
    storeEvents,
    keysTracked,
    overflow,
    queueDepth,
  ];
  const callback = (r: BatchObservableResult): void => {
    for (const [policy, t] of tally.policies()) {
      const p = { "floodgate.policy": policy };
      r.observe(decisions, t.allowed, { ...p, "floodgate.outcome": "allowed" });
      r.observe(decisions, t.denied, { ...p, "floodgate.outcome": "denied" });
      r.observe(decisions, t.shadow, { ...p, "floodgate.outcome": "shadow" });
      r.observe(nearLimit, t.nearLimit, p);
      r.observe(costAdmitted, t.costAdmitted, p);
      r.observe(costRefused, t.costRefused, p);
    }
    r.observe(degraded, tally.degradedNow());
    r.observe(degradedTime, tally.degradedSeconds());
    for (const event of STORE_EVENTS) r.observe(storeEvents, tally.storeEvents[event], { "floodgate.event": event });
    for (const [policy, k] of tally.keysTracked()) {
      r.observe(keysTracked, k.keys, { "floodgate.policy": policy });
      r.observe(overflow, k.overflowed, { "floodgate.policy": policy });
    }
    r.observe(queueDepth, tally.waiting());
  };
  meter.addBatchObservableCallback(callback, observables);
  for (const l of list) tally.attach(l);
  return {
    attach(limiter: RateLimiter): () => void {
      if (!isRateLimiter(limiter)) {
        throw new FloodgateTypeError(
          "ERR_INVALID_OPTION",
          `floodgate: OtelMetrics.attach(limiter) needs a RateLimiter, got ${describe(limiter)}.`,
        );
      }
      return tally.attach(limiter);
    },
    detach(): void {
      for (const l of tally.limiters()) tally.detach(l);
      meter.removeBatchObservableCallback(callback, observables);
    },
  };
}

/** markSpan adds the rate_limited event to the active span of a refused decision (denied, or shadow). */
function markSpan(policy: string, retryAfterMs: number, shadow: boolean): void {
  const span = trace.getActiveSpan();
  if (span === undefined) return;
  const attributes: Attributes = {
    "floodgate.policy": policy,
    "floodgate.retry_after_ms": retryAfterMs,
    "floodgate.shadow": shadow,
  };
  span.addEvent(RATE_LIMITED_EVENT, attributes);
}
