// decide.ts: the service's one decision path: a domain and its descriptors in, one verdict per descriptor out,
// decided through RateLimiter; gRPC and HTTP both call it.

import { describe, FloodgateTypeError } from "../core/errors.js";
import type { Decision, Policy } from "../core/policy.js";
import { type HeaderList, limitField, nextUnitMs, policyField, secondsUp } from "../http/headers.js";
import type { RateLimiter } from "../limiter.js";
import type { LivePolicies } from "../policy-file/index.js";
import { MemoryStore } from "../stores/memory.js";
import {
  type Domain,
  type Entry,
  matchRule,
  overrideRule,
  type Rule,
  type ServiceConfig,
  UNIT_BY_CODE,
  UNITS,
  type Unit,
} from "./config.js";

/** Code is a verdict as Envoy names it. */
export type Code = "OK" | "OVER_LIMIT";

/** RequestDescriptor is one descriptor of a request: its entries and, optionally, its own hits. */
export interface RequestDescriptor {
  readonly entries: readonly Entry[];
  /** hitsAddend, when set, is what this descriptor counts for; 0 checks without counting. */
  readonly hitsAddend?: number | undefined;
  /**
   * limit, when set, is Envoy's RateLimitOverride: this limit instead of the configured one (checked, see
   * checkOverride). As in envoyproxy/ratelimit it applies whether or not a configured rule matches, is never
   * shadow or unlimited, and is ignored in an unknown domain.
   */
  readonly limit?: RateLimitOverride | undefined;
}

/** RateLimitOverride is a request's own limit: requests per unit; the unit as Envoy's number (1-7) or name. */
export interface RateLimitOverride {
  readonly requestsPerUnit: number;
  readonly unit: number | string;
}

/** MAX_OVERRIDE_RULES bounds the override rules a Decider keeps built (the cache is emptied when full). */
const MAX_OVERRIDE_RULES = 1024;

/**
 * checkOverride checks descriptor `i`'s RateLimitOverride and returns its numbers: requests_per_unit a whole
 * number from 0 to 2^32 - 1 (0 admits nothing: every hit is refused, as in envoyproxy/ratelimit), and a unit
 * Envoy defines (SECOND = 1 ... YEAR = 6, WEEK = 7, or its name).
 */
export function checkOverride(o: unknown, i: number): { requestsPerUnit: number; unit: Unit } {
  if (typeof o !== "object" || o === null) {
    throw bad(`descriptor ${i}'s limit must be { requests_per_unit, unit }, got ${describe(o)}.`);
  }
  const { requestsPerUnit: n, unit: u } = o as RateLimitOverride;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 4_294_967_295) {
    throw bad(
      `descriptor ${i}'s limit.requests_per_unit must be a whole number from 0 to 4294967295, got ${describe(n)}.`,
    );
  }
  const unit =
    typeof u === "number" ? UNIT_BY_CODE.get(u) : typeof u === "string" ? (u.toLowerCase() as Unit) : undefined;
  if (unit === undefined || !Object.hasOwn(UNITS, unit)) {
    throw bad(
      `descriptor ${i}'s limit.unit must be one of ${Object.keys(UNITS)
        .map((k) => `${k.toUpperCase()} (${UNITS[k as Unit].code})`)
        .join(", ")}, got ${describe(u)}.`,
    );
  }
  return { requestsPerUnit: n, unit };
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
  rule: Rule | undefined;
  readonly matched: Rule | undefined;
  key: string;
  readonly hits: number;
  decision: Decision | undefined;
}

/** PolicyInput is a request of the policy-file form: a named policy of the policy file, a key and a cost. */
export interface PolicyInput {
  readonly policy: string;
  readonly key: string;
  /** cost (default 1) is what a decide spends and a refund gives back. */
  readonly cost?: number | undefined;
}

/** PolicyVerdict is the answer to a PolicyInput: the limiter's Decision and the headers to add. */
export interface PolicyVerdict {
  readonly decision: Decision;
  readonly headers: HeaderList;
}

/**
 * Decider answers requests with the current configuration through one
 * RateLimiter (its policies come per call from the matched rules, or from the
 * policy file's named policies).
 *
 * All-or-nothing (each domain's `all_or_nothing`, default true): a request
 * refused by one of its limits takes nothing from the others. Its descriptors
 * are decided by one `RateLimiter.consumeAll` (a check, hits 0, is an item of
 * cost 0: refused when nothing is left): one synchronous section with the
 * memory store, one script call with Redis (standalone, or a Cluster when their
 * keys share a slot; across slots it takes and refunds, see consumeAll). Hits
 * above a limit can never pass: such a descriptor is peeked and the others are
 * decided as a dry run, so each still gets its own verdict and nothing is taken.
 */
export class Decider {
  readonly limiter: RateLimiter;
  #config: ServiceConfig;
  readonly #bounds: RequestBounds;
  /** policies are the policy file's live policies (undefined: no policy file); replaced in place on reload. */
  policies: LivePolicies | undefined;
  /** #arrays keeps one frozen one-policy array per live policy, so every call passes the same array. */
  readonly #arrays = new WeakMap<Policy, readonly Policy[]>();
  /** #overrides keeps the rules of requests' overrides by algorithm, limit and unit (same rule, same policy array). */
  readonly #overrides = new Map<string, Rule>();
  /** #inProcess: the limiter's store is a MemoryStore, so one limit can be decided without a promise (decideNow). */
  readonly #inProcess: boolean;

  constructor(
    limiter: RateLimiter,
    config: ServiceConfig,
    bounds: RequestBounds = DEFAULT_BOUNDS,
    policies?: LivePolicies | undefined,
  ) {
    this.limiter = limiter;
    this.#inProcess = limiter.store instanceof MemoryStore;
    this.#config = config;
    this.#bounds = bounds;
    this.policies = policies;
  }

  /** config is the configuration in force; setting it (a reload) keeps every client's state for unchanged rules. */
  get config(): ServiceConfig {
    return this.#config;
  }
  set config(next: ServiceConfig) {
    this.#config = next;
  }

  /** #match resolves each descriptor's rule (applying `replaces`) and key, after checking the request. */
  #match(input: DecideInput): { applied: Applied[]; domain: Domain | undefined } {
    const hits = checkInput(input, this.#bounds);
    const domain = this.#config.domains.get(input.domain);
    const applied: Applied[] = [];
    // Built only when a matched rule replaces others (perf: most requests replace nothing).
    let replaced: Set<string> | undefined;
    for (let i = 0; i < input.descriptors.length; i++) {
      const d = input.descriptors[i] as RequestDescriptor;
      let rule = domain === undefined ? undefined : matchRule(domain, d.entries);
      // An override is checked even in an unknown domain (bad input is refused alike), applied only in a known one.
      const o = d.limit === undefined || d.limit === null ? undefined : checkOverride(d.limit, i);
      if (o !== undefined && domain !== undefined) {
        rule = this.#override(rule?.algorithm ?? domain.algorithm, o.requestsPerUnit, o.unit);
      }
      const active = rule === undefined || rule.unlimited ? undefined : rule;
      applied.push({
        rule: active,
        matched: rule,
        key: active === undefined ? "" : storeKey(input.domain, d.entries),
        hits: hits[i] as number,
        decision: undefined,
      });
      if (rule !== undefined && rule.replaces.length > 0) {
        replaced ??= new Set();
        for (const n of rule.replaces) if (n !== rule.name) replaced.add(n);
      }
    }
    // A rule another matched rule replaces is not applied (nor keyed).
    if (replaced !== undefined) {
      for (const a of applied) {
        const name = a.rule?.name;
        if (name !== undefined && replaced.has(name)) {
          a.rule = undefined;
          a.key = "";
        }
      }
    }
    return { applied, domain };
  }

  /** #override returns the (cached) rule of an override: the matched rule's algorithm, else the domain's. */
  #override(algorithm: Rule["algorithm"], requestsPerUnit: number, unit: Unit): Rule {
    const id = `${algorithm} ${requestsPerUnit} ${unit}`;
    let rule = this.#overrides.get(id);
    if (rule === undefined) {
      if (this.#overrides.size >= MAX_OVERRIDE_RULES) this.#overrides.clear();
      rule = overrideRule(algorithm, requestsPerUnit, unit);
      this.#overrides.set(id, rule);
    }
    return rule;
  }

  /** decide answers ShouldRateLimit: counts the hits (unless refused, all-or-nothing) and returns the verdict. */
  async decide(input: DecideInput): Promise<ServiceVerdict> {
    const { applied, domain } = this.#match(input);
    return this.#decideMatched(applied, domain);
  }

  /**
   * decideNow is decide without a promise when it can be (perf, the HTTP API's hot path): a request with one
   * limit to count, in process (a MemoryStore), is decided by the limiter's consumeSync; any other request
   * returns decide's promise. Bad input throws, as decide rejects.
   */
  decideNow(input: DecideInput): ServiceVerdict | Promise<ServiceVerdict> {
    const { applied, domain } = this.#match(input);
    if (this.#inProcess) {
      let one: Applied | undefined;
      let n = 0;
      for (const a of applied) {
        if (a.rule === undefined) continue;
        n++;
        one = a;
      }
      const p = one?.rule?.policies;
      if (n === 1 && p !== undefined && one !== undefined && one.hits > 0 && one.hits <= (p[0] as Policy).limit) {
        const rule = one.rule as Rule;
        one.decision = this.limiter.consumeSync(one.key, { cost: one.hits, policy: p, shadow: rule.shadow });
        return verdict(applied, domain !== undefined);
      }
    }
    return this.#decideMatched(applied, domain);
  }

  /** #decideMatched is decide once the descriptors are matched. */
  async #decideMatched(applied: Applied[], domain: Domain | undefined): Promise<ServiceVerdict> {
    const aon = domain?.allOrNothing ?? true;
    const members: Applied[] = [];
    const never: Applied[] = [];
    let zero = false;
    for (const a of applied) {
      const p = a.rule?.policies;
      if (p === undefined) {
        // An override of 0 refuses the request (nothing to count or peek: verdict answers it).
        if (a.rule !== undefined && refusesAll(a.rule)) zero = true;
        continue;
      }
      // Hits above a limit are never admitted: reported as the limit stands, refusing the request.
      if (a.hits > (p[0] as Policy).limit) never.push(a);
      else members.push(a);
    }
    if (never.length > 0) await this.#peekAll(never);
    const policiesOf = (a: Applied) => (a.rule as Rule).policies as readonly Policy[];
    const shadowOf = (a: Applied) => (a.rule as Rule).shadow;
    const refusedAlready = zero || never.some((a) => !shadowOf(a));
    if (aon && (members.length > 1 || (members.length === 1 && refusedAlready))) {
      // One atomic step (a check, hits 0, refuses when nothing is left); a dry run when refused already.
      const r = await this.limiter.consumeAll(
        members.map((a) => ({ key: a.key, cost: a.hits, policy: policiesOf(a), shadow: shadowOf(a) })),
        { dryRun: refusedAlready },
      );
      for (let i = 0; i < members.length; i++) (members[i] as Applied).decision = r.items[i];
    } else if (members.length === 1) {
      // One limit (the common case): decided without Promise.all's promises (perf).
      const a = members[0] as Applied;
      a.decision =
        a.hits === 0
          ? await this.limiter.peek(a.key, { policy: policiesOf(a) })
          : await this.limiter.consume(a.key, { cost: a.hits, policy: policiesOf(a), shadow: shadowOf(a) });
    } else {
      await Promise.all(
        members.map(async (a) => {
          a.decision =
            a.hits === 0
              ? await this.limiter.peek(a.key, { policy: policiesOf(a) })
              : await this.limiter.consume(a.key, { cost: a.hits, policy: policiesOf(a), shadow: shadowOf(a) });
        }),
      );
    }
    return verdict(applied, domain !== undefined);
  }

  /** #peekAll sets each descriptor's decision to its standing (nothing taken). */
  async #peekAll(list: readonly Applied[]): Promise<void> {
    await Promise.all(
      list.map(async (a) => {
        a.decision = await this.limiter.peek(a.key, { policy: (a.rule as Rule).policies as readonly Policy[] });
      }),
    );
  }

  /** #policy returns the one-policy array of a policy file's policy named `name` (ERR_INVALID_POLICY when unknown). */
  #policy(name: unknown): readonly Policy[] {
    const set = this.policies;
    if (set === undefined) {
      throw bad(
        "policy + key needs a policy file, and this service runs none; pass one with --config policies.yaml (or send domain and descriptors).",
      );
    }
    if (typeof name !== "string" || name === "") {
      throw bad(`"policy" must name a policy of the policy file (${set.names.join(", ")}), got ${describe(name)}.`);
    }
    const p = set.get(name);
    let arr = this.#arrays.get(p);
    if (arr === undefined) {
      arr = Object.freeze([p]);
      this.#arrays.set(p, arr);
    }
    return arr;
  }

  /** #policyKey checks the key of a policy-form request. */
  #policyKey(key: unknown): string {
    if (typeof key !== "string" || key.length > this.#bounds.maxTextLength) {
      throw bad(`"key" must be a string of at most ${this.#bounds.maxTextLength} characters, got ${describe(key)}.`);
    }
    return key;
  }

  /**
   * decidePolicy decides (or, with "peek", reports) a policy-file request:
   * `cost` (default 1) of the named policy for `key`, through the limiter.
   */
  async decidePolicy(input: PolicyInput, op: "decide" | "peek" = "decide"): Promise<PolicyVerdict> {
    const policy = this.#policy(input.policy);
    const key = this.#policyKey(input.key);
    const d =
      op === "peek"
        ? await this.limiter.peek(key, { policy })
        : await this.limiter.consume(key, { cost: input.cost ?? 1, policy });
    const headers: HeaderList = [
      ["RateLimit-Policy", policyField(policy)],
      ["RateLimit", limitField(d, policy)],
    ];
    if (!d.allowed) headers.push(["Retry-After", String(Math.max(1, secondsUp(d.retryAfterMs)))]);
    return { decision: d, headers };
  }

  /** changePolicy refunds `cost` (default 1) to, or resets, a policy-file request's key (admin calls). */
  async changePolicy(input: PolicyInput, op: "refund" | "reset"): Promise<void> {
    const policy = this.#policy(input.policy);
    const key = this.#policyKey(input.key);
    if (op === "refund") await this.limiter.refund(key, { cost: input.cost ?? 1, policy });
    else await this.limiter.reset(key, { policy });
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

/** refusesAll tells a request's override of 0 requests: no policy, every hit (and every check) refused. */
function refusesAll(rule: Rule): boolean {
  return rule.policies === undefined && !rule.unlimited;
}

/**
 * zeroDecision is the decision of an override of 0 (nothing taken, nothing left): refused, and the wait one
 * whole unit, the window envoyproxy/ratelimit would count the hits in.
 */
function zeroDecision(rule: Rule): Decision {
  const ms = UNITS[rule.unit].ms;
  const name = `override-0-per-${rule.unit}`;
  return { allowed: false, limit: 0, remaining: 0, retryAfterMs: ms, resetAfterMs: ms, policy: name, policies: [] };
}

function verdict(applied: readonly Applied[], knownDomain: boolean): ServiceVerdict {
  const statuses: DescriptorVerdict[] = [];
  // The RateLimit-Policy and RateLimit fields, item by item (perf: strings, not arrays to join).
  let policyText = "";
  let limitText = "";
  let over = false;
  let degraded = false;
  let retryMs = 0;
  for (const a of applied) {
    const d = a.decision;
    if (a.rule !== undefined && refusesAll(a.rule)) {
      const z = zeroDecision(a.rule);
      const secs = Math.max(1, secondsUp(z.resetAfterMs));
      over = true;
      if (z.retryAfterMs > retryMs) retryMs = z.retryAfterMs;
      policyText += `${policyText === "" ? "" : ", "}"${z.policy}";q=0;w=${secs}`;
      limitText += `${limitText === "" ? "" : ", "}"${z.policy}";r=0;t=${secs}`;
      statuses.push({
        code: "OVER_LIMIT",
        rule: a.rule,
        matched: a.matched,
        decision: z,
        shadowOverLimit: false,
        hits: a.hits,
        durationUntilResetMs: z.resetAfterMs,
      });
      continue;
    }
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
      policyText = policyText === "" ? policyField(policies) : `${policyText}, ${policyField(policies)}`;
      limitText = limitText === "" ? limitField(d, policies) : `${limitText}, ${limitField(d, policies)}`;
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
  if (policyText !== "") {
    headers.push(["RateLimit-Policy", policyText], ["RateLimit", limitText]);
  }
  if (over) headers.push(["Retry-After", String(Math.max(1, secondsUp(retryMs)))]);
  return { overall: over ? "OVER_LIMIT" : "OK", statuses, headers, degraded, knownDomain };
}
