// metrics.ts: the service's /metrics: a prom-client Registry owned by the service, holding floodgate/prometheus's
// metrics of its RateLimiter (the listener API) and the counters in Envoy's vocabulary per rule (ServiceStats).

import type { RateLimiter } from "../limiter.js";
import { COUNTERS, type ServiceStats } from "./stats.js";

/** ServiceMetrics answers GET /metrics. */
export interface ServiceMetrics {
  /** contentType is the exposition's Content-Type (text format 0.0.4). */
  readonly contentType: string;
  /** render returns the exposition of every metric. */
  render(): Promise<string>;
  /** close stops counting the limiter's events. */
  close(): void;
}

/** MetricsUnavailable says why /metrics is off: prom-client, an optional peer, could not be loaded. */
export interface MetricsUnavailable {
  readonly unavailable: string;
}

/** MISSING_PROM_CLIENT is the message /metrics answers (501) and the startup warning when prom-client is absent. */
export const MISSING_PROM_CLIENT =
  "/metrics needs the optional peer dependency prom-client; install it beside floodgate (npm install prom-client) and restart.";

/**
 * serviceMetrics builds the service's Registry: floodgate/prometheus bound to
 * `limiter` (decisions per policy, store health, ...) and, per rule, Envoy's
 * counters from `stats` (`floodgate_ratelimit_{total_hits,over_limit,near_limit,
 * within_limit,shadow_mode}_total{domain,rule}`) and
 * `floodgate_service_requests_total{code}`. Counts are copied in when scraped.
 * prom-client is loaded here, on demand: when it cannot be loaded the answer is
 * a MetricsUnavailable and the rest of the service runs without it.
 * `importPromClient` replaces the import (tests).
 */
export async function serviceMetrics(
  limiter: RateLimiter,
  stats: ServiceStats,
  importPromClient: () => Promise<typeof import("prom-client")> = () => import("prom-client"),
): Promise<ServiceMetrics | MetricsUnavailable> {
  let prom: typeof import("prom-client");
  let binding: typeof import("../metrics/prometheus.js");
  try {
    prom = await importPromClient();
    binding = await import("../metrics/prometheus.js");
  } catch {
    return { unavailable: MISSING_PROM_CLIENT };
  }
  const registry = new prom.Registry();
  const registers = [registry];
  const library = binding.prometheusMetrics(limiter, { registry });
  for (const [name, field, help] of COUNTERS) {
    new prom.Counter({
      name: `floodgate_ratelimit_${name}_total`,
      help,
      labelNames: ["domain", "rule"],
      registers,
      collect() {
        this.reset();
        for (const r of stats.rules()) this.inc({ domain: r.domain, rule: r.rule }, r.counts[field]);
      },
    });
  }
  new prom.Counter({
    name: "floodgate_service_requests_total",
    help: "Requests decided (ShouldRateLimit and POST /v1/decide), by overall code.",
    labelNames: ["code"],
    registers,
    collect() {
      this.reset();
      for (const [code, n] of stats.requests()) this.inc({ code }, n);
    },
  });
  return {
    contentType: registry.contentType,
    render: () => registry.metrics(),
    close: () => library.detach(),
  };
}
