// decide.ts: the service's one decision path: a domain and its descriptors in, one verdict per descriptor out,
// decided through RateLimiter; gRPC and HTTP both call it.

import { describe, FloodgateTypeError } from "../core/errors.js";
import type { Decision, Policy } from "../core/policy.js";
import { type HeaderList, limitField, nextUnitMs, policyField, secondsUp } from "../http/headers.js";
import type { RateLimiter } from "../limiter.js";
import { isMemoryStore } from "../stores/memory.js";
import { type Domain, type Entry, matchRule, type Rule, type ServiceConfig } from "./config.js";

/** Code is a verdict as Envoy names it. */
export type Code = "OK" | "OVER_LIMIT";

/** RequestDescriptor is one descriptor of a request: its entries and, optionally, its own hits. */
export interface RequestDescriptor {
  readonly entries: readonly Entry[];
  /** hitsAddend, when set, is what this descriptor counts for; 0 checks without counting. */
  readonly hitsAddend?: number | undefined;
}

/** DecideInput is one request: a domain, its descriptors and what it counts for (0 or unset: 1). */
export interface DecideInput {
  readonly domain: string;
  readonly descriptors: readonly RequestDescriptor[];
  readonly hitsAddend?: number | undefined;
}

/** DescriptorVerdict is one descriptor's answer. */
export interface DescriptorVerdict {
  readonly code: Code;
  /** rule is the rule applied; undefined when none matched, it was replaced, or it is unlimited. */
  readonly rule: Rule | undefined;
  /** matched is the rule matched before `replaces` (an unlimited or replaced rule is here, not in `rule`). */
  readonly matched: Rule | undefined;
  readonly decision: Decision | undefined;
  /** shadowOverLimit is true for a shadow rule that would have refused (it answers OK). */
  readonly shadowOverLimit: boolean;
  /** hits is what the descriptor counted for (0 for a check). */
  readonly hits: number;
  /** durationUntilResetMs: when refused, the wait until the same hits pass; else until the limit is full again. */
  readonly durationUntilResetMs: number;
}

/** ServiceVerdict is a request's answer: the overall code, one verdict per descriptor, the headers to add. */
export interface ServiceVerdict {
  readonly overall: Code;
  readonly statuses: readonly DescriptorVerdict[];
  /** headers are RateLimit-Policy and RateLimit (for the limits applied) and, when refused, Retry-After. */
  readonly headers: HeaderList;
  /** degraded is true when the store failed and its failure policy decided at least one descriptor. */
  readonly degraded: boolean;
  /** knownDomain is false when the domain is not configured (every descriptor is then OK). */
  readonly knownDomain: boolean;
}

/** Bounds on a request; past them the request is refused as bad input (ERR_INVALID_REQUEST in messages). */
export interface RequestBounds {
  /** maxDescriptors per request. Default 64. */
  readonly maxDescriptors: number;
  /** maxEntries per descriptor. Default 32. */
  readonly maxEntries: number;
  /** maxTextLength of a domain, key or value, in characters. Default 1024. */
  readonly maxTextLength: number;
  /** maxHits, the largest hits_addend. Default 1,000,000. */
  readonly maxHits: number;
}

/** DEFAULT_BOUNDS are the default request bounds. */
export const DEFAULT_BOUNDS: RequestBounds = Object.freeze({
  maxDescriptors: 64,
  maxEntries: 32,
  maxTextLength: 1024,
  maxHits: 1_000_000,
});

/**
 * bad builds the error of a request the service refuses to decide: a coded
 * floodgate error, which the transports answer with INVALID_ARGUMENT (gRPC) or 400.
 */
function bad(message: string): FloodgateTypeError {
  return new FloodgateTypeError("ERR_INVALID_OPTION", `floodgate serve: ${message}`);
}

/** checkInput validates a request against the bounds and returns its hits per descriptor. */
export function checkInput(input: DecideInput, bounds: RequestBounds): number[] {
  if (typeof input.domain !== "string" || input.domain === "") {
    throw bad(`the request needs a domain (got ${describe(input.domain)}); send the domain of your configuration.`);
  }
  if (input.domain.length > bounds.maxTextLength) {
    throw bad(`the domain is longer than ${bounds.maxTextLength} characters.`);
  }
  const list = input.descriptors;
  if (!Array.isArray(list) || list.length === 0) {
    throw bad("the request needs at least one descriptor; send descriptors with key/value entries.");
  }
  if (list.length > bounds.maxDescriptors) {
    throw bad(
      `the request has ${list.length} descriptors, more than ${bounds.maxDescriptors}; send fewer, or raise --max-descriptors.`,
    );
  }
  const base = checkHits(input.hitsAddend ?? 0, "hits_addend", bounds) || 1;
  const hits: number[] = [];
  for (let i = 0; i < list.length; i++) {
    const d = list[i] as RequestDescriptor;
    const entries = d?.entries;
    if (!Array.isArray(entries) || entries.length === 0) {
      throw bad(`descriptor ${i} has no entries; each descriptor needs at least one key/value entry.`);
    }
    if (entries.length > bounds.maxEntries) {
      throw bad(`descriptor ${i} has ${entries.length} entries, more than ${bounds.maxEntries}.`);
    }
    for (const e of entries as Entry[]) {
      if (typeof e?.key !== "string" || typeof e.value !== "string" || e.key === "") {
        throw bad(`descriptor ${i} has an entry without a string key and value; send { key, value } pairs.`);
      }
      if (e.key.length > bounds.maxTextLength || e.value.length > bounds.maxTextLength) {
        throw bad(`descriptor ${i} has a key or value longer than ${bounds.maxTextLength} characters.`);
      }
    }
    hits.push(d.hitsAddend === undefined ? base : checkHits(d.hitsAddend, `descriptors[${i}].hits_addend`, bounds));
  }
  return hits;
}

function checkHits(n: unknown, field: string, bounds: RequestBounds): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > bounds.maxHits) {
    throw new FloodgateTypeError(
      "ERR_INVALID_COST",
      `floodgate serve: ${field} must be a whole number from 0 to ${bounds.maxHits}, got ${describe(n)}.`,
    );
  }
  return n;
}

/** storeKey is the limiter key of a descriptor: its domain and every entry, unambiguously. */
export function storeKey(domain: string, entries: readonly Entry[]): string {
  const parts: string[] = [domain];
  for (const e of entries) parts.push(e.key, e.value);
  return JSON.stringify(parts);
}

/** Applied is a descriptor on its way through decide. */
interface Applied {
  readonly rule: Rule | undefined;
  readonly matched: Rule | undefined;
  readonly key: string;
  readonly hits: number;
  decision: Decision | undefined;
  /** took is the cost actually taken from the store (to refund on an all-or-nothing refusal). */
  took: number;
}

/**
 * Decider answers requests with the current configuration through one
 * RateLimiter (its policies come per call from the matched rules).
 *
 * All-or-nothing (each domain's `all_or_nothing`, default true): when any limit
 * of a request refuses, what the others admitted is refunded, so a refused
 * request takes nothing. With a MemoryStore the takes and the refunds run in one
 * synchronous section (consumeSync, then refund, whose memory store work is
 * synchronous), so no other call can see the request half-applied: exact. With
 * another store (Redis) the takes go in one tick (one batched script call per
 * slot) and the refunds right after: no limit ever admits more than its limit,
 * and a concurrent call may, for that round trip, see less than it would.
 */
export class Decider {
  readonly limiter: RateLimiter;
  #config: ServiceConfig;
  readonly #bounds: RequestBounds;
  readonly #sync: boolean;

  constructor(limiter: RateLimiter, config: ServiceConfig, bounds: RequestBounds = DEFAULT_BOUNDS) {
    this.limiter = limiter;
    this.#config = config;
    this.#bounds = bounds;
    this.#sync = isMemoryStore(limiter.store);
  }

  /** config is the configuration in force; setting it (a reload) keeps every client's state for unchanged rules. */
  get config(): ServiceConfig {
    return this.#config;
  }
  set config(next: ServiceConfig) {
    this.#config = next;
  }

  /** match resolves each descriptor's rule (applying `replaces`) and key, after checking the request. */
  #match(input: DecideInput): { applied: Applied[]; domain: Domain | undefined } {
    const hits = checkInput(input, this.#bounds);
    const domain = this.#config.domains.get(input.domain);
    const applied: Applied[] = [];
    const replaced = new Set<string>();
    const matched: (Rule | undefined)[] = [];
    for (const d of input.descriptors) {
      const rule = domain === undefined ? undefined : matchRule(domain, d.entries);
      matched.push(rule);
      if (rule !== undefined) for (const n of rule.replaces) if (n !== rule.name) replaced.add(n);
    }
    for (let i = 0; i < input.descriptors.length; i++) {
      const m = matched[i];
      const active = m === undefined || m.unlimited || (m.name !== undefined && replaced.has(m.name)) ? undefined : m;
      applied.push({
        rule: active,
        matched: m,
        key: active === undefined ? "" : storeKey(input.domain, (input.descriptors[i] as RequestDescriptor).entries),
        hits: hits[i] as number,
        decision: undefined,
        took: 0,
      });
    }
    return { applied, domain };
  }

  /** decide answers ShouldRateLimit: counts the hits (unless refused, all-or-nothing) and returns the verdict. */
  async decide(input: DecideInput): Promise<ServiceVerdict> {
    const { applied, domain } = this.#match(input);
    const aon = domain?.allOrNothing ?? true;
    if (this.#sync) {
      this.#decideSync(applied, aon);
    } else {
      await Promise.all(
        applied.map(async (a) => {
          const p = a.rule?.policies;
          if (p === undefined) return;
          const cost = this.#costFor(a, p);
          a.decision =
            cost === 0
              ? await this.limiter.peek(a.key, { policy: p })
              : await this.limiter.consume(a.key, { cost, policy: p });
          if (a.decision.allowed && cost > 0 && a.decision.degraded === undefined) a.took = cost;
        }),
      );
      if (aon && refused(applied)) {
        await Promise.all(
          applied.map(async (a) => {
            if (a.took > 0 && a.rule?.policies) {
              await this.limiter.refund(a.key, { cost: a.took, policy: a.rule.policies });
              a.took = 0;
              // Report the limit as it stands, with nothing taken.
              a.decision = await this.limiter.peek(a.key, { policy: a.rule.policies });
            }
          }),
        );
      }
    }
    return verdict(applied, domain !== undefined);
  }

  /** #costFor is the cost to send for a descriptor: 0 (a check) when its hits exceed the limit. */
  #costFor(a: Applied, p: readonly Policy[]): number {
    return a.hits > (p[0] as Policy).limit ? 0 : a.hits;
  }

  /** #decideSync takes and (on a refusal) refunds in one synchronous section: MemoryStore only. */
  #decideSync(applied: Applied[], aon: boolean): void {
    for (const a of applied) {
      const p = a.rule?.policies;
      if (p === undefined) continue;
      const cost = this.#costFor(a, p);
      a.decision = this.limiter.consumeSync(a.key, { cost, policy: p });
      if (a.decision.allowed && cost > 0) a.took = cost;
    }
    if (aon && refused(applied)) {
      for (const a of applied) {
        if (a.took > 0 && a.rule?.policies) {
          // RateLimiter.refund runs the memory store's refund before its first await: still synchronous here.
          void this.limiter.refund(a.key, { cost: a.took, policy: a.rule.policies });
          a.took = 0;
          // Report the limit as it stands, with nothing taken.
          a.decision = this.limiter.consumeSync(a.key, { cost: 0, policy: a.rule.policies });
        }
      }
    }
  }

  /** peek reports each descriptor's standing without counting anything. */
  async peek(input: DecideInput): Promise<ServiceVerdict> {
    const { applied, domain } = this.#match({
      ...input,
      descriptors: input.descriptors.map((d) => ({ ...d, hitsAddend: 0 })),
    });
    await Promise.all(
      applied.map(async (a) => {
        if (a.rule?.policies) a.decision = await this.limiter.peek(a.key, { policy: a.rule.policies });
      }),
    );
    return verdict(applied, domain !== undefined);
  }

  /** refund gives each descriptor's hits back to its limit (never above it); returns how many limits it touched. */
  async refund(input: DecideInput): Promise<number> {
    const { applied } = this.#match(input);
    let n = 0;
    for (const a of applied) {
      const p = a.rule?.policies;
      if (p === undefined || a.hits === 0) continue;
      const cost = Math.min(a.hits, (p[0] as Policy).limit);
      await this.limiter.refund(a.key, { cost, policy: p });
      n++;
    }
    return n;
  }

  /** reset forgets each descriptor's state; returns how many limits it touched. */
  async reset(input: DecideInput): Promise<number> {
    const { applied } = this.#match(input);
    let n = 0;
    for (const a of applied) {
      if (a.rule?.policies === undefined) continue;
      await this.limiter.reset(a.key, { policy: a.rule.policies });
      n++;
    }
    return n;
  }
}

/** refused reports whether a non-shadow limit refused. */
function refused(applied: readonly Applied[]): boolean {
  for (const a of applied) {
    if (a.rule !== undefined && !a.rule.shadow && a.decision !== undefined && !isAllowed(a)) return true;
  }
  return false;
}

/**
 * isAllowed is a descriptor's own verdict. Hits above the limit never pass (they
 * are checked, not counted). A check (hits 0) passes when one more hit would:
 * when something remains.
 */
function isAllowed(a: Applied): boolean {
  const d = a.decision as Decision;
  const limit = ((a.rule as Rule).policies as readonly Policy[])[0] as Policy;
  if (a.hits > limit.limit) return false;
  if (a.hits === 0) return d.remaining > 0;
  return d.allowed;
}

function verdict(applied: readonly Applied[], knownDomain: boolean): ServiceVerdict {
  const statuses: DescriptorVerdict[] = [];
  const policyItems: string[] = [];
  const limitItems: string[] = [];
  let over = false;
  let degraded = false;
  let retryMs = 0;
  for (const a of applied) {
    const d = a.decision;
    if (a.rule === undefined || d === undefined) {
      statuses.push({
        code: "OK",
        rule: undefined,
        matched: a.matched,
        decision: undefined,
        shadowOverLimit: false,
        hits: a.hits,
        durationUntilResetMs: 0,
      });
      continue;
    }
    if (d.degraded !== undefined) degraded = true;
    const ok = isAllowed(a);
    const shadowOver = !ok && a.rule.shadow;
    const code: Code = ok || a.rule.shadow ? "OK" : "OVER_LIMIT";
    const policies = a.rule.policies as readonly Policy[];
    const policy = policies[0] as Policy;
    // Refused: the wait until the same hits pass (a check, until one hit would; hits above the
    // limit never pass, so until it is full). Admitted: until the limit is full again.
    const waitMs = ok
      ? d.resetAfterMs
      : a.hits === 0
        ? Math.max(1, nextUnitMs(policy, d))
        : a.hits > policy.limit
          ? Math.max(1, d.resetAfterMs)
          : Math.max(1, d.retryAfterMs);
    if (code === "OVER_LIMIT") {
      over = true;
      if (waitMs > retryMs) retryMs = waitMs;
    }
    if (!a.rule.shadow) {
      policyItems.push(policyField(policies));
      limitItems.push(limitField(d, policies));
    }
    statuses.push({
      code,
      rule: a.rule,
      matched: a.matched,
      decision: d,
      shadowOverLimit: shadowOver,
      hits: a.hits,
      durationUntilResetMs: waitMs,
    });
  }
  const headers: HeaderList = [];
  if (policyItems.length > 0) {
    headers.push(["RateLimit-Policy", policyItems.join(", ")], ["RateLimit", limitItems.join(", ")]);
  }
  if (over) headers.push(["Retry-After", String(Math.max(1, secondsUp(retryMs)))]);
  return { overall: over ? "OVER_LIMIT" : "OK", statuses, headers, degraded, knownDomain };
}
