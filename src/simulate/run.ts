// run.ts: runs policies over traffic in virtual time through RateLimiter.consumeSync, and measures what they do.

import { describe, FloodgateTypeError } from "../core/errors.js";
import type { Decision, Policy } from "../core/policy.js";
import { checkPolicies } from "../core/registry.js";
import { checkOptions } from "../core/validate.js";
import { RateLimiter } from "../limiter.js";
import { MemoryStore } from "../stores/memory.js";
import { boundOf } from "./bounds.js";
import { DistinctCounter, Histogram, SpaceSaving, Timeline } from "./stats.js";
import type { Traffic, TrafficIssues } from "./traffic.js";

/** Tier routes the keys it matches to its own policy (per-key tiers, through consume's `{ policy }` option). */
export interface Tier {
  /** match selects keys: a prefix (a trailing `*` is allowed: "paid:*"), a RegExp, or a function. */
  readonly match: string | RegExp | ((key: string) => boolean);
  /** policy is the tier's policy, or an array applied all-or-nothing. */
  readonly policy: Policy | readonly Policy[];
}

/** SimPolicy is one policy to simulate: a policy (or an all-or-nothing array), optional tiers and a label. */
export interface SimPolicy {
  /** label names it in reports and charts. Default: its policies, such as "tokenBucket(capacity=10, refillRate=2)". */
  readonly label?: string;
  /** policy applies to every key no tier matches. */
  readonly policy: Policy | readonly Policy[];
  /** tiers are tried in order; the first that matches a key decides its policy. */
  readonly tiers?: readonly Tier[];
}

/** SimulateOptions configures `simulate`. */
export interface SimulateOptions {
  /** traffic is what to run: `generate(...)`, `replay(...)` or `fromRequests(...)`. */
  traffic: Traffic;
  /** policies are run side by side over the same traffic, each with its own state. */
  policies: readonly (Policy | readonly Policy[] | SimPolicy)[];
  /** windowMs is the window of "the most admitted to one client in any window". Default 60000. */
  windowMs?: number;
  /** bucketMs is the width of a chart's time bucket. Default: about 1/300 of the traffic's duration, rounded to a tidy value. */
  bucketMs?: number;
  /** watch is the client whose remaining quota is charted. Default: the traffic's heaviest client, else the first seen. */
  watch?: string;
  /** top is how many of the most limited clients are reported. Default 10. */
  top?: number;
  /**
   * maxClients is how many clients are tracked one by one (about 300 bytes each); past it,
   * clients are counted apart (HyperLogLog past 10,000 more) and the most limited come from a
   * Space-Saving summary. Default 250000.
   */
  maxClients?: number;
  /** maxKeys is each simulated MemoryStore's maxKeys (see MemoryStoreOptions). Default: the store's default. */
  maxKeys?: number;
  /** onProgress is called now and then with the share of the traffic read so far, from 0 to 1. */
  onProgress?: (fraction: number) => void;
}

/** RetryStats summarises `retryAfterMs` over a policy's refused requests (0 everywhere when none was refused). */
export interface RetryStats {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** buckets are [lowest ms, highest ms, count]: exact below 2048 ms, 0.1% wide above. */
  readonly buckets: readonly (readonly [number, number, number])[];
}

/** LimitedClient is one of the clients a policy refused most. */
export interface LimitedClient {
  readonly key: string;
  /** refused is how many of its requests were refused (an over-estimate by at most `error`). */
  readonly refused: number;
  /** error bounds the overcount of `refused`: 0 when exact. */
  readonly error: number;
  /** offered is how many requests it sent, when it is tracked. */
  readonly offered?: number;
}

/** PolicyReport is what one policy did to the traffic. */
export interface PolicyReport {
  readonly label: string;
  /** requests counts requests: offered, admitted and refused (offered = admitted + refused). */
  readonly requests: { readonly offered: number; readonly admitted: number; readonly refused: number };
  /** cost is the same in cost units. */
  readonly cost: { readonly offered: number; readonly admitted: number; readonly refused: number };
  /** neverAdmissible counts refused requests whose cost is above the policy's limit (never admitted, whatever the wait). */
  readonly neverAdmissible: number;
  /** clients: how many were seen, how many were refused at least once, the share, and whether the counts are exact. */
  readonly clients: {
    readonly seen: number;
    readonly refused: number;
    readonly share: number;
    readonly exact: boolean;
  };
  /**
   * window: the most cost admitted to one client in any window `(t - windowMs, t]`
   * (`admitted`, by `key`), beside the policy's `bound` for such a window.
   */
  readonly window: {
    readonly windowMs: number;
    readonly admitted: number;
    readonly key: string;
    readonly bound: number;
  };
  readonly retryAfter: RetryStats;
  /** limited are the clients refused most, most first. */
  readonly limited: readonly LimitedClient[];
  /** admittedSeries is the cost admitted per time bucket (see SimulationReport.timeline). */
  readonly admittedSeries: readonly number[];
  /** level is the watched client's `remaining` over time, as [timeMs, remaining] points. */
  readonly level: readonly (readonly [number, number])[];
}

/** SimulationReport is the result of `simulate`. */
export interface SimulationReport {
  readonly traffic: {
    readonly description: string;
    readonly requests: number;
    readonly cost: number;
    readonly clients: number;
    readonly startMs: number;
    readonly endMs: number;
    readonly issues?: TrafficIssues;
  };
  /** timeline: bucket width and start times of the series, and the cost offered per bucket. */
  readonly timeline: {
    readonly bucketMs: number;
    readonly startMs: readonly number[];
    readonly offered: readonly number[];
  };
  readonly windowMs: number;
  readonly watch: string;
  readonly policies: readonly PolicyReport[];
  /** elapsedMs is how long the run took (wall clock), and decisionsPerSecond the decisions made per second of it. */
  readonly elapsedMs: number;
  readonly decisionsPerSecond: number;
}

/** Route is a resolved set of policies with what the run needs of it. */
interface Route {
  readonly policies: readonly Policy[];
  readonly minLimit: number;
  readonly options: { cost: number; policy: readonly Policy[] } | undefined;
}

/** Lane is one simulated policy's limiter and measurements. */
class Lane {
  readonly label: string;
  readonly limiter: RateLimiter;
  readonly base: Route;
  readonly tiers: { test: (key: string) => boolean; route: Route }[];
  readonly bound: number;
  offered = 0;
  admitted = 0;
  refused = 0;
  offeredCost = 0;
  admittedCost = 0;
  refusedCost = 0;
  neverAdmissible = 0;
  readonly retry = new Histogram();
  readonly top: SpaceSaving;
  /** refusedTracked counts tracked clients refused at least once; refusedUntracked the others (estimated). */
  refusedTracked = 0;
  readonly refusedUntracked = new DistinctCounter(UNTRACKED_EXACT);
  refusedBy: Float64Array = new Float64Array(1024);
  /**
   * The admitted requests of the last windowMs, all clients together, oldest
   * first, in a ring (time, client, cost), and each client's admitted cost in
   * that window (windowSum): the window maximum in O(1) per request with no
   * object per client. The ring holds what was admitted in one window, as
   * per-client queues would.
   */
  ringTimeMs = new Float64Array(1024);
  ringClient = new Int32Array(1024);
  ringCost = new Float64Array(1024);
  ringHead = 0;
  ringSize = 0;
  windowSum: Float64Array = new Float64Array(1024);
  maxWindow = 0;
  maxWindowKey = "";
  readonly level: [number, number][] = [];
  levelStride = 1;
  levelSkip = 0;

  constructor(
    sp: SimPolicy,
    now: () => number,
    opts: { windowMs: number; top: number; maxClients: number; maxKeys?: number },
  ) {
    const base = route(checkPolicies("simulate({ policies })", sp.policy), false);
    this.tiers = (sp.tiers ?? []).map((t, i) => ({
      test: matcher(t.match, i),
      route: route(checkPolicies(`simulate({ tiers[${i}].policy })`, t.policy), true),
    }));
    this.base = base;
    this.label = sp.label ?? labelOf(base.policies, this.tiers.length);
    const store = new MemoryStore(opts.maxKeys === undefined ? {} : { maxKeys: opts.maxKeys });
    this.limiter = new RateLimiter({ policy: base.policies, store, now });
    let bound = boundOf(base.policies, opts.windowMs);
    for (const t of this.tiers) bound = Math.max(bound, boundOf(t.route.policies, opts.windowMs));
    this.bound = bound;
    this.top = new SpaceSaving(Math.max(64, opts.top * 10));
  }

  /** routeOf returns the route of `key`: its tier's, else the base policy. */
  routeOf(key: string): Route {
    for (const t of this.tiers) if (t.test(key)) return t.route;
    return this.base;
  }

  /** decide runs one request and returns the Decision, or undefined for a cost above the limit. */
  decide(key: string, cost: number, r: Route): Decision | undefined {
    if (cost > r.minLimit) return undefined;
    if (r.options === undefined) return this.limiter.consumeSync(key, cost);
    r.options.cost = cost;
    return this.limiter.consumeSync(key, r.options);
  }

  /** admit adds an admitted request of client `ci` to the window at `t` and returns the client's cost in (t - windowMs, t]. */
  admit(t: number, ci: number, cost: number, windowMs: number): number {
    const from = t - windowMs;
    let cap = this.ringTimeMs.length;
    while (this.ringSize > 0 && (this.ringTimeMs[this.ringHead] as number) <= from) {
      const old = this.ringClient[this.ringHead] as number;
      this.windowSum[old] = (this.windowSum[old] as number) - (this.ringCost[this.ringHead] as number);
      this.ringHead = this.ringHead + 1 === cap ? 0 : this.ringHead + 1;
      this.ringSize--;
    }
    if (this.ringSize === cap) {
      // Full: double, keeping the order from the head.
      const grow = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
        const b = make(cap * 2);
        b.set(a.subarray(this.ringHead));
        b.set(a.subarray(0, this.ringHead), cap - this.ringHead);
        return b;
      };
      this.ringTimeMs = grow(this.ringTimeMs, (n) => new Float64Array(n));
      this.ringClient = grow(this.ringClient, (n) => new Int32Array(n));
      this.ringCost = grow(this.ringCost, (n) => new Float64Array(n));
      this.ringHead = 0;
      cap *= 2;
    }
    let tail = this.ringHead + this.ringSize;
    if (tail >= cap) tail -= cap;
    this.ringTimeMs[tail] = t;
    this.ringClient[tail] = ci;
    this.ringCost[tail] = cost;
    this.ringSize++;
    const sum = (this.windowSum[ci] as number) + cost;
    this.windowSum[ci] = sum;
    return sum;
  }

  /** remaining peeks at `key`'s remaining quota. */
  remaining(key: string): number {
    const r = this.routeOf(key);
    return this.limiter.consumeSync(key, r.options === undefined ? { cost: 0 } : { cost: 0, policy: r.policies })
      .remaining;
  }

  /** record keeps a point of the watched client's level, thinning the points to at most MAX_LEVEL_POINTS. */
  record(timeMs: number, remaining: number): void {
    if (++this.levelSkip < this.levelStride) return;
    this.levelSkip = 0;
    this.level.push([timeMs, remaining]);
    if (this.level.length >= MAX_LEVEL_POINTS) {
      let j = 0;
      for (let i = 0; i < this.level.length; i += 2) this.level[j++] = this.level[i] as [number, number];
      this.level.length = j;
      this.levelStride *= 2;
    }
  }
}

/** UNTRACKED_EXACT is how many clients past maxClients are counted exactly before HyperLogLog takes over. */
const UNTRACKED_EXACT = 10_000;
/** MAX_LEVEL_POINTS bounds the points of the watched client's level chart. */
const MAX_LEVEL_POINTS = 4000;
/** MAX_BUCKETS bounds a chart's time buckets; past it, buckets are merged two by two. */
const MAX_BUCKETS = 1200;
/** TIDY_MS are bucket widths that read well on an axis. */
const TIDY_MS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000,
  900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000,
];

/** tidyBucketMs returns the smallest tidy width that cuts `durationMs` into at most `n` buckets. */
export function tidyBucketMs(durationMs: number, n = 300): number {
  for (const w of TIDY_MS) if (durationMs / w <= n) return w;
  return Math.ceil(durationMs / n / 86_400_000) * 86_400_000;
}

function route(policies: readonly Policy[], tier: boolean): Route {
  let minLimit = Number.POSITIVE_INFINITY;
  for (const p of policies) if (p.limit < minLimit) minLimit = p.limit;
  return { policies, minLimit, options: tier ? { cost: 1, policy: policies } : undefined };
}

function matcher(match: Tier["match"], i: number): (key: string) => boolean {
  if (typeof match === "function") return match;
  if (match instanceof RegExp) return (key) => match.test(key);
  if (typeof match === "string") {
    const prefix = match.endsWith("*") ? match.slice(0, -1) : match;
    return (key) => key.startsWith(prefix);
  }
  throw new FloodgateTypeError(
    "ERR_INVALID_OPTION",
    `floodgate: simulate({ tiers[${i}].match }) must be a key prefix, a RegExp or a function, got ${describe(match)}.`,
  );
}

/** describePolicy renders a policy as its factory call: `tokenBucket(capacity=10, refillRate=2)`. */
export function describePolicy(p: Policy): string {
  const args = Object.entries(p.options).map(([k, v]) => `${k}=${Number.isInteger(v) ? v : Number(v.toPrecision(6))}`);
  return `${p.algorithm.factory}(${args.join(", ")})`;
}

function labelOf(policies: readonly Policy[], tiers: number): string {
  return policies.map(describePolicy).join(" + ") + (tiers > 0 ? ` (+${tiers} tier${tiers > 1 ? "s" : ""})` : "");
}

function isSimPolicy(x: unknown): x is SimPolicy {
  return typeof x === "object" && x !== null && !Array.isArray(x) && "policy" in x && !("evaluate" in x);
}

/** toSimPolicy turns a policy, an array or a SimPolicy into a SimPolicy. */
export function toSimPolicy(x: Policy | readonly Policy[] | SimPolicy): SimPolicy {
  if (isSimPolicy(x)) {
    checkOptions("simulate policy", x, ["label", "policy", "tiers"]);
    return x;
  }
  return { policy: x as Policy | readonly Policy[] };
}

function positive(name: string, value: unknown, fallback: number, whole: boolean): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0 || (whole && !Number.isInteger(v))) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: simulate({ ${name} }) must be a ${whole ? "whole " : ""}number above 0, got ${describe(v)}.`,
    );
  }
  return v;
}

/**
 * simulate runs every policy over the same traffic in virtual time and reports
 * what each did. Each policy gets its own RateLimiter over its own MemoryStore
 * with an injected clock set to each request's time, and decides through
 * `consumeSync`: the same code path, and so the same decisions, as a server
 * running that policy in memory. Per-key tiers go through consume's `{ policy }`
 * option; an array of policies is all-or-nothing.
 *
 * Memory stays bounded on any traffic: the chart series merge buckets past
 * 1200, the watched client keeps at most 4000 points, the most limited clients
 * come from a Space-Saving summary, and clients past `maxClients` are counted
 * with HyperLogLog (`clients.exact` is then false).
 *
 * @example
 * const report = await simulate({
 *   traffic: generate({ shape: "bursts", rate: 1, durationMs: 600_000, burstSize: 200, burstEveryMs: 60_000 }),
 *   policies: [tokenBucket({ capacity: 100, refillRate: 100 / 60 }), fixedWindow({ limit: 100, windowMs: 60_000 })],
 * });
 */
export async function simulate(options: SimulateOptions): Promise<SimulationReport> {
  const o = checkOptions("simulate", options, [
    "traffic",
    "policies",
    "windowMs",
    "bucketMs",
    "watch",
    "top",
    "maxClients",
    "maxKeys",
    "onProgress",
  ]) as Partial<SimulateOptions>;
  const traffic = o.traffic;
  if (typeof traffic !== "object" || traffic === null || typeof traffic.batches !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: simulate({ traffic }) needs traffic from generate(), replay() or fromRequests(), got ${describe(traffic)}.`,
    );
  }
  if (!Array.isArray(o.policies) || o.policies.length === 0) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: simulate({ policies }) needs a non-empty array of policies, got ${describe(o.policies)}; pass [tokenBucket({ capacity: 10, refillRate: 2 })].`,
    );
  }
  const windowMs = positive("windowMs", o.windowMs, 60_000, false);
  const top = positive("top", o.top, 10, true);
  const maxClients = positive("maxClients", o.maxClients, 250_000, true);
  const bucketMs = positive(
    "bucketMs",
    o.bucketMs,
    traffic.durationMs ? tidyBucketMs(traffic.durationMs) : 1000,
    false,
  );
  if (o.watch !== undefined && typeof o.watch !== "string") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: simulate({ watch }) must be a client key, got ${describe(o.watch)}.`,
    );
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: simulate({ onProgress }) must be a function, got ${describe(o.onProgress)}.`,
    );
  }
  const clock = { nowMs: 0 };
  const now = (): number => clock.nowMs;
  const lanes = (o.policies as (Policy | readonly Policy[] | SimPolicy)[]).map(
    (p) => new Lane(toSimPolicy(p), now, { windowMs, top, maxClients, maxKeys: o.maxKeys }),
  );
  const labels = new Map<string, number>();
  for (const lane of lanes) labels.set(lane.label, (labels.get(lane.label) ?? 0) + 1);
  const nLanes = lanes.length;
  const timeline = new Timeline(bucketMs, MAX_BUCKETS, nLanes + 1);
  const offeredSeries = timeline.series[nLanes] as Float64Array;

  // Clients tracked one by one (up to maxClients): index, offered requests.
  const clientIndex = new Map<string, number>();
  let offeredBy: Float64Array = new Float64Array(1024);
  // Clients past maxClients: counted apart, exactly for the first few, then estimated.
  const untracked = new DistinctCounter(UNTRACKED_EXACT);
  let watch = o.watch ?? traffic.watchKey;
  let lastBucket = -1;
  let lastT = Number.NEGATIVE_INFINITY;
  let firstT = Number.NaN;
  let requests = 0;
  let cost = 0;
  const started = performance.now();

  for await (const batch of traffic.batches(o.onProgress)) {
    const n = batch.length;
    for (let i = 0; i < n; i++) {
      let t = batch.timeMs[i] as number;
      if (t < lastT) t = lastT;
      lastT = t;
      if (Number.isNaN(firstT)) firstT = t;
      const key = batch.key[i] as string;
      const c = batch.cost[i] as number;
      watch ??= key;
      requests++;
      cost += c;
      const b = timeline.bucket(t);
      if (b !== lastBucket) {
        // A new bucket: sample the watched client's level at its start.
        const startMs = timeline.startMs(b);
        if (lastBucket >= 0 && startMs > clock.nowMs) {
          clock.nowMs = startMs;
          for (const lane of lanes) lane.record(startMs, lane.remaining(watch));
        }
        lastBucket = b;
      }
      clock.nowMs = t;
      offeredSeries[b] = (offeredSeries[b] as number) + c;
      let ci = clientIndex.get(key);
      if (ci === undefined && clientIndex.size < maxClients) {
        ci = clientIndex.size;
        clientIndex.set(key, ci);
        if (ci >= offeredBy.length) {
          offeredBy = grow(offeredBy);
          for (const lane of lanes) {
            lane.refusedBy = grow(lane.refusedBy);
            lane.windowSum = grow(lane.windowSum);
          }
        }
      }
      if (ci !== undefined) offeredBy[ci] = (offeredBy[ci] as number) + 1;
      else untracked.add(key);
      const watched = key === watch;
      for (let l = 0; l < nLanes; l++) {
        const lane = lanes[l] as Lane;
        const r = lane.tiers.length === 0 ? lane.base : lane.routeOf(key);
        const d = lane.decide(key, c, r);
        lane.offered++;
        lane.offeredCost += c;
        if (d?.allowed) {
          lane.admitted++;
          lane.admittedCost += c;
          const series = timeline.series[l] as Float64Array;
          series[b] = (series[b] as number) + c;
          if (ci !== undefined && c > 0) {
            const sum = lane.admit(t, ci, c, windowMs);
            if (sum > lane.maxWindow) {
              lane.maxWindow = sum;
              lane.maxWindowKey = key;
            }
          }
        } else {
          lane.refused++;
          lane.refusedCost += c;
          if (d === undefined) lane.neverAdmissible++;
          else lane.retry.add(d.retryAfterMs);
          lane.top.add(key);
          if (ci !== undefined) {
            if (lane.refusedBy[ci] === 0) lane.refusedTracked++;
            lane.refusedBy[ci] = (lane.refusedBy[ci] as number) + 1;
          } else {
            lane.refusedUntracked.add(key);
          }
        }
        if (watched) lane.record(t, d === undefined ? lane.remaining(key) : d.remaining);
      }
    }
  }
  const elapsedMs = performance.now() - started;

  const tracked = clientIndex.size;
  const allTracked = untracked.count() === 0;
  const seen = tracked + untracked.count();
  const keys = allTracked ? [...clientIndex.keys()] : [];
  const startMs = Number.isNaN(firstT) ? 0 : firstT;
  const policies: PolicyReport[] = lanes.map((lane, l) => {
    const refusedClients = lane.refusedTracked + lane.refusedUntracked.count();
    let limited: LimitedClient[];
    if (allTracked) {
      // Every client is tracked: the most limited, exactly.
      limited = keys
        .map((key, i) => ({ key, refused: lane.refusedBy[i] as number, error: 0, offered: offeredBy[i] as number }))
        .filter((x) => x.refused > 0)
        .sort((a, b) => b.refused - a.refused || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
        .slice(0, top);
    } else {
      limited = lane.top.top(top).map((e) => {
        const ci = clientIndex.get(e.key);
        return ci === undefined
          ? { key: e.key, refused: e.count, error: e.error }
          : { key: e.key, refused: lane.refusedBy[ci] as number, error: 0, offered: offeredBy[ci] as number };
      });
    }
    const h = lane.retry;
    return {
      label: (labels.get(lane.label) ?? 0) > 1 ? `${lane.label} #${l + 1}` : lane.label,
      requests: { offered: lane.offered, admitted: lane.admitted, refused: lane.refused },
      cost: { offered: lane.offeredCost, admitted: lane.admittedCost, refused: lane.refusedCost },
      neverAdmissible: lane.neverAdmissible,
      clients: {
        seen,
        refused: refusedClients,
        share: seen > 0 ? refusedClients / seen : 0,
        exact: untracked.exact && lane.refusedUntracked.exact,
      },
      window: { windowMs, admitted: lane.maxWindow, key: lane.maxWindowKey, bound: lane.bound },
      retryAfter: {
        count: h.count,
        meanMs: h.count > 0 ? h.sum / h.count : 0,
        p50Ms: h.quantile(0.5),
        p90Ms: h.quantile(0.9),
        p99Ms: h.quantile(0.99),
        p999Ms: h.quantile(0.999),
        maxMs: h.count > 0 ? h.max : 0,
        buckets: h.buckets(),
      },
      limited,
      admittedSeries: Array.from((timeline.series[l] as Float64Array).subarray(0, timeline.length)),
      level: lane.level,
    };
  });
  return {
    traffic: {
      description: traffic.description,
      requests,
      cost,
      clients: seen,
      startMs,
      endMs: Number.isFinite(lastT) ? lastT : startMs,
      ...(traffic.issues ? { issues: traffic.issues() } : {}),
    },
    timeline: {
      bucketMs: timeline.bucketMs,
      startMs: Array.from({ length: timeline.length }, (_, i) => timeline.startMs(i)),
      offered: Array.from(offeredSeries.subarray(0, timeline.length)),
    },
    windowMs,
    watch: watch ?? "",
    policies,
    elapsedMs,
    decisionsPerSecond: elapsedMs > 0 ? (requests * nLanes * 1000) / elapsedMs : 0,
  };
}

function grow(a: Float64Array): Float64Array {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}
