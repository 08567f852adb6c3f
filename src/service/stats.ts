// stats.ts: the service's counters in Envoy's rate limit vocabulary (total hits, over limit, near limit, within
// limit, shadow mode, per rule), rendered as Prometheus text at /metrics. Labels are the domain and the rule's
// configured path, never a request's key or value.

import type { DecideInput, ServiceVerdict } from "./decide.js";

/** NEAR_LIMIT_RATIO is the share of a limit past which admitted hits also count as near the limit (Envoy's 0.8). */
export const NEAR_LIMIT_RATIO = 0.8;

/** RuleCounts are one rule's counters, in hits. */
interface RuleCounts {
  totalHits: number;
  overLimit: number;
  nearLimit: number;
  withinLimit: number;
  shadowMode: number;
}

const COUNTERS = [
  ["total_hits", "totalHits", "hits asked of the rule"],
  ["over_limit", "overLimit", "hits refused by the rule (its own verdict)"],
  ["near_limit", "nearLimit", `hits admitted past ${NEAR_LIMIT_RATIO * 100}% of the limit`],
  ["within_limit", "withinLimit", "hits admitted by the rule"],
  ["shadow_mode", "shadowMode", "hits a shadow-mode rule would have refused"],
] as const;

/**
 * ServiceStats counts verdicts. `record` is ServeOptions.onVerdict; `render`
 * answers /metrics. The observability work's Prometheus binding can replace the
 * rendering and keep these counters' names and labels.
 */
export class ServiceStats {
  readonly #rules = new Map<string, { domain: string; rule: string; c: RuleCounts }>();
  readonly #requests = new Map<string, number>();

  /** record counts one decided request. */
  readonly record = (input: DecideInput, v: ServiceVerdict): void => {
    this.#requests.set(v.overall, (this.#requests.get(v.overall) ?? 0) + 1);
    for (const s of v.statuses) {
      const rule = s.rule;
      if (rule === undefined || s.decision === undefined) continue;
      const id = `${input.domain}\u0000${rule.path}`;
      let e = this.#rules.get(id);
      if (e === undefined) {
        e = {
          domain: input.domain,
          rule: rule.path,
          c: { totalHits: 0, overLimit: 0, nearLimit: 0, withinLimit: 0, shadowMode: 0 },
        };
        this.#rules.set(id, e);
      }
      const hits = s.hits;
      e.c.totalHits += hits;
      const over = s.code === "OVER_LIMIT" || s.shadowOverLimit;
      if (s.shadowOverLimit) e.c.shadowMode += hits;
      if (over) e.c.overLimit += hits;
      else {
        e.c.withinLimit += hits;
        const limit = s.decision.limit;
        if (limit > 0 && (limit - s.decision.remaining) / limit > NEAR_LIMIT_RATIO) e.c.nearLimit += hits;
      }
    }
  };

  /** render returns the counters as Prometheus text (exposition format 0.0.4). */
  render(): string {
    const out: string[] = [];
    const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
    for (const [name, field, help] of COUNTERS) {
      out.push(`# HELP floodgate_ratelimit_${name}_total ${help}.`, `# TYPE floodgate_ratelimit_${name}_total counter`);
      for (const e of this.#rules.values()) {
        out.push(`floodgate_ratelimit_${name}_total{domain="${esc(e.domain)}",rule="${esc(e.rule)}"} ${e.c[field]}`);
      }
    }
    out.push(
      "# HELP floodgate_service_requests_total requests decided, by overall code.",
      "# TYPE floodgate_service_requests_total counter",
    );
    for (const [code, n] of this.#requests) out.push(`floodgate_service_requests_total{code="${code}"} ${n}`);
    return `${out.join("\n")}\n`;
  }
}
