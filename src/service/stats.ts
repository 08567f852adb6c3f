// stats.ts: the service's counters in Envoy's rate limit vocabulary (total hits, over limit, near limit, within
// limit, shadow mode, per rule), kept in plain numbers and copied into prom-client at /metrics (metrics.ts). Labels
// are the domain and the rule's configured path, never a request's key or value.

import type { DecideInput, ServiceVerdict } from "./decide.js";

/** NEAR_LIMIT_RATIO is the share of a limit past which admitted hits also count as near the limit (Envoy's 0.8). */
export const NEAR_LIMIT_RATIO = 0.8;

/** RuleCounts are one rule's counters, in hits. */
export interface RuleCounts {
  totalHits: number;
  overLimit: number;
  nearLimit: number;
  withinLimit: number;
  shadowMode: number;
}

/** RuleStats is one rule's counters and where the rule sits (its domain and configured path). */
export interface RuleStats {
  readonly domain: string;
  readonly rule: string;
  readonly counts: Readonly<RuleCounts>;
}

/** COUNTERS names each counter in Envoy's vocabulary: metric name part, field, help text. */
export const COUNTERS = [
  ["total_hits", "totalHits", "Hits asked of the rule."],
  ["over_limit", "overLimit", "Hits refused by the rule (its own verdict)."],
  ["near_limit", "nearLimit", `Hits admitted past ${NEAR_LIMIT_RATIO * 100}% of the limit.`],
  ["within_limit", "withinLimit", "Hits admitted by the rule."],
  ["shadow_mode", "shadowMode", "Hits a shadow-mode rule would have refused (answered OK)."],
] as const;

/** MAX_RULES bounds the rules counted apart; further rules are counted under the rule label OTHER_RULE. */
export const MAX_RULES = 1024;
/** OTHER_RULE is the rule label past MAX_RULES. */
export const OTHER_RULE = "(other)";

/**
 * ServiceStats counts verdicts in plain numbers: `record` is the service's
 * onVerdict; `rules` and `requests` are read when /metrics is scraped
 * (src/service/metrics.ts copies them into prom-client). Nothing is kept per
 * request value: the labels are the domain and the rule's configured path.
 */
export class ServiceStats {
  readonly #rules = new Map<string, { domain: string; rule: string; counts: RuleCounts }>();
  readonly #requests = new Map<string, number>();
  /** #byRule (perf) finds a rule's counters without building its id; a reloaded rule finds the same counters by id. */
  readonly #byRule = new WeakMap<object, RuleCounts>();

  /** record counts one decided request. */
  readonly record = (input: DecideInput, v: ServiceVerdict): void => {
    this.#requests.set(v.overall, (this.#requests.get(v.overall) ?? 0) + 1);
    for (const s of v.statuses) {
      const rule = s.rule;
      if (rule === undefined || s.decision === undefined) continue;
      let c = this.#byRule.get(rule);
      if (c === undefined) {
        c = this.#counts(input.domain, rule.path);
        this.#byRule.set(rule, c);
      }
      const hits = s.hits;
      c.totalHits += hits;
      const over = s.code === "OVER_LIMIT" || s.shadowOverLimit;
      if (s.shadowOverLimit) c.shadowMode += hits;
      if (over) c.overLimit += hits;
      else {
        c.withinLimit += hits;
        const limit = s.decision.limit;
        if (limit > 0 && (limit - s.decision.remaining) / limit > NEAR_LIMIT_RATIO) c.nearLimit += hits;
      }
    }
  };

  #counts(domain: string, path: string): RuleCounts {
    const id = `${domain}\u0000${path}`;
    let e = this.#rules.get(id);
    if (e === undefined) {
      if (this.#rules.size >= MAX_RULES) return this.#counts(OTHER_RULE, OTHER_RULE);
      e = { domain, rule: path, counts: { totalHits: 0, overLimit: 0, nearLimit: 0, withinLimit: 0, shadowMode: 0 } };
      this.#rules.set(id, e);
    }
    return e.counts;
  }

  /** rules lists every rule counted so far with its counters. */
  rules(): IterableIterator<RuleStats> {
    return this.#rules.values();
  }

  /** requests maps an overall code (OK, OVER_LIMIT) to the requests decided with it. */
  requests(): ReadonlyMap<string, number> {
    return this.#requests;
  }
}
