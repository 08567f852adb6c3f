// advise.ts: searches for the smallest policy of a chosen algorithm that meets goals on given traffic.

import { describe, FloodgateRangeError, FloodgateTypeError } from "../core/errors.js";
import type { Policy } from "../core/policy.js";
import { checkPolicy } from "../core/registry.js";
import { checkOptions, MAX_LIMIT } from "../core/validate.js";
import { RateLimiter } from "../limiter.js";
import { MemoryStore } from "../stores/memory.js";
import { boundOf } from "./bounds.js";
import { describePolicy } from "./run.js";
import type { Traffic } from "./traffic.js";
import { duration, percent } from "./units.js";

/** AdviseGoals are what the advised policy must achieve. */
export interface AdviseGoals {
  /**
   * maxRefusedShare is the largest share of the requests of ordinary clients
   * (see `percentile`) the policy may refuse: 0.001 for 0.1%. Default 0.001.
   */
  maxRefusedShare?: number;
  /**
   * percentile says who is ordinary: clients whose request count is at or below
   * this percentile of all clients' counts (nearest rank). Default 99: the
   * heaviest 1% of clients may be refused as much as needed.
   */
  percentile?: number;
  /**
   * maxPerWindow holds every client, whatever its traffic, to at most this much
   * cost in any window of `windowMs`: the policy's bound for that window (see
   * the README's table of bounds) must not exceed it. Default: no cap.
   */
  maxPerWindow?: number;
  /** windowMs is the window of maxPerWindow. Default 60000 (a minute). */
  windowMs?: number;
}

/** AdviseOptions configures `advise`. */
export interface AdviseOptions {
  /** traffic to fit the policy to. It is read once to count clients, then once per round of the search. */
  traffic: Traffic;
  /**
   * template is a policy of the chosen algorithm whose shape is kept: candidates
   * scale its quantities (capacity, rates, limits, burst) together and keep its
   * durations (windowMs, periodMs, refillIntervalMs). Its own size does not matter.
   */
  template: Policy;
  goals?: AdviseGoals;
  /** maxClients bounds the clients counted one by one; more is an error. Default 5000000. */
  maxClients?: number;
  /** onProgress is called with the share of the search done, from 0 to 1 (an estimate). */
  onProgress?: (fraction: number) => void;
}

/** Candidate is one policy the search tried. */
export interface Candidate {
  /** size is the candidate's limit (capacity, burst or window limit). */
  readonly size: number;
  readonly policy: Policy;
  /** refusedShare is the share of the ordinary clients' requests it refused. */
  readonly refusedShare: number;
  /** bound is the most it admits to one client in any window of the goals' windowMs. */
  readonly bound: number;
  /** meets is true when it meets every goal. */
  readonly meets: boolean;
}

/** Advice is the answer of `advise`. */
export interface Advice {
  /** policy is the smallest policy found meeting the goals, or undefined when none does. */
  readonly policy: Policy | undefined;
  /** why says in one sentence how the answer was reached, or why there is none. */
  readonly why: string;
  /** goals with their defaults filled in. */
  readonly goals: Required<Omit<AdviseGoals, "maxPerWindow">> & { readonly maxPerWindow: number };
  /** clients counts the clients seen, and `ordinary` those at or below the percentile (`threshold` requests or fewer each). */
  readonly clients: { readonly seen: number; readonly ordinary: number; readonly threshold: number };
  /** tried lists every candidate evaluated, by size. */
  readonly tried: readonly Candidate[];
  /** passes is how many times the traffic was read. */
  readonly passes: number;
}

/** CANDIDATES_PER_PASS is how many sizes one read of the traffic evaluates, side by side. */
const CANDIDATES_PER_PASS = 7;

/**
 * family returns the function that builds the candidate of size `s` from the
 * template: every option whose name does not end in "Ms" is multiplied by
 * `s / template.limit` (a whole-number option is rounded, and kept at least 1),
 * and the durations are kept. Which options must be whole numbers is learned
 * from the algorithm's own factory (a half added to it is refused), so this
 * works for every algorithm in the registry without naming any.
 */
export function family(template: Policy): (size: number) => Policy {
  const t = checkPolicy("advise({ template })", template);
  const create = t.algorithm.create;
  const whole = new Set<string>();
  for (const [k, v] of Object.entries(t.options)) {
    if (k.endsWith("Ms")) continue;
    try {
      create({ ...t.options, [k]: v + 0.5, name: t.name });
    } catch {
      whole.add(k);
    }
  }
  return (size: number): Policy => {
    const scale = size / t.limit;
    const options: Record<string, unknown> = { name: t.name };
    for (const [k, v] of Object.entries(t.options)) {
      options[k] = k.endsWith("Ms") ? v : whole.has(k) ? Math.max(1, Math.round(v * scale)) : v * scale;
    }
    return create(options);
  };
}

/** nearestRank returns the value at percentile `p` (0 < p <= 100) of sorted `values`. */
function nearestRank(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

function goal(name: string, value: unknown, fallback: number, ok: (v: number) => boolean, what: string): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) {
    throw new FloodgateRangeError(
      "ERR_INVALID_OPTION",
      `floodgate: advise({ goals: { ${name} } }) must be ${what}, got ${describe(v)}.`,
    );
  }
  return v;
}

/**
 * advise searches for the smallest policy of the template's algorithm and
 * shape (see `family`) that meets the goals on the traffic: it refuses at most
 * `maxRefusedShare` of the requests of ordinary clients, and its bound for any
 * window of `windowMs` is at most `maxPerWindow`.
 *
 * How the search works, and why it ends. A candidate's size is its limit, a
 * whole number from 1. The bound grows with the size, so the cap gives the
 * largest size allowed, `high` (found by bisection on the bound, no traffic
 * needed); without a cap, sizes are doubled until one meets the refusal goal
 * (or reaches the largest limit floodgate accepts). If `high` refuses too much,
 * no size meets both goals and the answer says so. Otherwise the search keeps an
 * interval (`low`, `high`] where `high` meets the goal and `low` does not (0 at
 * first) and, in each read of the traffic, runs 7 sizes spread over the
 * interval side by side, then narrows it to the gap between the largest size
 * that failed and the smallest that met. Each read shrinks the interval by a
 * factor of about 8 and it holds whole numbers, so the search ends after about
 * log8(high) reads, with `high` the answer and `high - 1` seen to fail.
 *
 * It finds the smallest size when refusals only fall as the size grows. That
 * holds exactly for fixedWindow with cost 1 (each window refuses its requests
 * beyond the limit); for the buckets and sliding windows it is what we observe
 * but not proven (a larger bucket may admit a request that leaves it emptier
 * later). Where it does not hold, the answer still meets the goals, and the
 * answer's `why` says when the size just below it met them too.
 *
 * Memory: one number per client (to find the ordinary ones), up to `maxClients`.
 */
export async function advise(options: AdviseOptions): Promise<Advice> {
  const o = checkOptions("advise", options, ["traffic", "template", "goals", "maxClients", "onProgress"]);
  const traffic = o.traffic as Traffic;
  if (typeof traffic !== "object" || traffic === null || typeof traffic.batches !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: advise({ traffic }) needs traffic from generate(), replay() or fromRequests(), got ${describe(traffic)}.`,
    );
  }
  const build = family(o.template as Policy);
  const g = checkOptions("advise goals", o.goals ?? {}, ["maxRefusedShare", "percentile", "maxPerWindow", "windowMs"]);
  const goals = {
    maxRefusedShare: goal(
      "maxRefusedShare",
      g.maxRefusedShare,
      0.001,
      (v) => v >= 0 && v < 1,
      "a share from 0 to below 1, such as 0.001 for 0.1%",
    ),
    percentile: goal(
      "percentile",
      g.percentile,
      99,
      (v) => v > 0 && v <= 100,
      "a percentile above 0 and at most 100, such as 99",
    ),
    maxPerWindow:
      g.maxPerWindow === undefined
        ? Number.POSITIVE_INFINITY
        : goal("maxPerWindow", g.maxPerWindow, 1, (v) => v >= 1, "a cost of at least 1, such as 100"),
    windowMs: goal("windowMs", g.windowMs, 60_000, (v) => v > 0, "a window in milliseconds above 0, such as 60000"),
  };
  const maxClients = (o.maxClients as number | undefined) ?? 5_000_000;
  const onProgress = o.onProgress as ((f: number) => void) | undefined;

  // Pass 1: requests per client, and who is ordinary.
  const counts = new Map<string, number>();
  for await (const b of traffic.batches()) {
    for (let i = 0; i < b.length; i++) {
      const k = b.key[i] as string;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    if (counts.size > maxClients) {
      throw new FloodgateRangeError(
        "ERR_INVALID_OPTION",
        `floodgate: advise() counts requests per client and the traffic has more than maxClients=${maxClients}; raise advise({ maxClients }) if memory allows.`,
      );
    }
  }
  const sorted = Float64Array.from(counts.values()).sort();
  const threshold = nearestRank(sorted, goals.percentile);
  const ordinary = new Set<string>();
  for (const [k, c] of counts) if (c <= threshold) ordinary.add(k);
  let passes = 1;

  const tried = new Map<number, Candidate>();
  const boundAt = (size: number): number => boundOf([build(size)], goals.windowMs);

  /** evaluate runs the given sizes side by side over one read of the traffic. */
  const evaluate = async (sizes: number[]): Promise<void> => {
    const fresh = sizes.filter((s) => !tried.has(s));
    if (fresh.length === 0) return;
    passes++;
    const clock = { nowMs: 0 };
    const runs = fresh.map((size) => {
      const policy = build(size);
      return {
        size,
        policy,
        limiter: new RateLimiter({ policy, store: new MemoryStore(), now: () => clock.nowMs }),
        refused: 0,
      };
    });
    let offered = 0;
    let last = Number.NEGATIVE_INFINITY;
    for await (const b of traffic.batches()) {
      for (let i = 0; i < b.length; i++) {
        const key = b.key[i] as string;
        const cost = b.cost[i] as number;
        const t = b.timeMs[i] as number;
        last = t > last ? t : last;
        clock.nowMs = last;
        const isOrdinary = ordinary.has(key);
        if (isOrdinary) offered++;
        for (const r of runs) {
          const allowed = cost <= r.policy.limit && r.limiter.consumeSync(key, cost).allowed;
          if (!allowed && isOrdinary) r.refused++;
        }
      }
    }
    for (const r of runs) {
      const refusedShare = offered > 0 ? r.refused / offered : 0;
      const bound = boundOf([r.policy], goals.windowMs);
      tried.set(r.size, {
        size: r.size,
        policy: r.policy,
        refusedShare,
        bound,
        meets: refusedShare <= goals.maxRefusedShare && bound <= goals.maxPerWindow,
      });
    }
  };
  const meets = (s: number): boolean => (tried.get(s) as Candidate).refusedShare <= goals.maxRefusedShare;
  const result = (policy: Policy | undefined, why: string): Advice => ({
    policy,
    why,
    goals,
    clients: { seen: counts.size, ordinary: ordinary.size, threshold },
    tried: [...tried.values()].sort((a, b) => a.size - b.size),
    passes,
  });
  const sizeLimit = (s: number): boolean => {
    try {
      build(s);
      return true;
    } catch {
      return false;
    }
  };

  // The largest size the cap allows (the bound grows with the size), or the largest floodgate accepts.
  let high: number;
  if (Number.isFinite(goals.maxPerWindow)) {
    if (boundAt(1) > goals.maxPerWindow) {
      return result(
        undefined,
        `no ${describePolicy(build(1))} or larger holds a client to ${goals.maxPerWindow} per ${duration(goals.windowMs)}: the smallest already admits up to ${boundAt(1)}; raise maxPerWindow, or use a template with longer durations.`,
      );
    }
    let lo = 1;
    let hi = 2;
    while (hi < MAX_LIMIT && sizeLimit(hi) && boundAt(hi) <= goals.maxPerWindow) {
      lo = hi;
      hi *= 2;
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (sizeLimit(mid) && boundAt(mid) <= goals.maxPerWindow) lo = mid;
      else hi = mid;
    }
    high = lo;
    await evaluate([high]);
    onProgress?.(0.2);
    if (!meets(high)) {
      const c = tried.get(high) as Candidate;
      return result(
        undefined,
        `no policy of this shape meets both goals: the largest within ${goals.maxPerWindow} per ${duration(goals.windowMs)}, ${describePolicy(c.policy)}, still refuses ${percent(c.refusedShare)} of ordinary clients' requests (goal ${percent(goals.maxRefusedShare)}).`,
      );
    }
  } else {
    // No cap: double until a size meets the refusal goal, several doublings per read.
    let s = 1;
    for (;;) {
      const sizes: number[] = [];
      for (let i = 0; i < CANDIDATES_PER_PASS && sizeLimit(s); i++, s *= 2) sizes.push(s);
      if (sizes.length === 0) {
        return result(
          undefined,
          "no policy of this shape up to the largest limit floodgate accepts meets the refusal goal.",
        );
      }
      await evaluate(sizes);
      const hit = sizes.find(meets);
      if (hit !== undefined) {
        high = hit;
        break;
      }
    }
  }

  // Bisection, 7 sizes per read: (low, high] with high meeting the goal and low failing (or 0).
  let low = 0;
  for (const c of tried.values()) if (c.size < high && !meets(c.size) && c.size > low) low = c.size;
  const span0 = Math.max(1, high - low);
  while (high - low > 1) {
    const sizes: number[] = [];
    const step = (high - low) / (CANDIDATES_PER_PASS + 1);
    for (let i = 1; i <= CANDIDATES_PER_PASS; i++) {
      const s = Math.round(low + i * step);
      if (s > low && s < high && !sizes.includes(s)) sizes.push(s);
    }
    await evaluate(sizes);
    for (const s of sizes) {
      if (meets(s)) {
        if (s < high) high = s;
      } else if (s > low) {
        low = s;
      }
    }
    // Sizes above a met one may have failed (refusals not monotone): keep the interval proper.
    if (low >= high) low = high - 1;
    onProgress?.(0.2 + 0.8 * (1 - Math.log(high - low + 1) / Math.log(span0 + 1)));
  }
  if (high > 1 && !tried.has(high - 1)) await evaluate([high - 1]);
  const best = tried.get(high) as Candidate;
  const below = tried.get(high - 1);
  const note =
    below === undefined
      ? "it is the smallest size"
      : meets(high - 1)
        ? `size ${high - 1} meets it too (refusals did not fall steadily with size on this traffic)`
        : `size ${high - 1} refuses ${percent(below.refusedShare)}`;
  onProgress?.(1);
  return result(
    best.policy,
    `${describePolicy(best.policy)} is the smallest of this shape found to refuse at most ${percent(goals.maxRefusedShare)} of ordinary clients' requests (it refuses ${percent(best.refusedShare)})${Number.isFinite(goals.maxPerWindow) ? ` and it admits at most ${best.bound} per ${duration(goals.windowMs)} to any client` : ""}; ${note}.`,
  );
}
