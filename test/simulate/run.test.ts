// run.test.ts: the report's numbers equal what a plain RateLimiter with an injected clock decides on the same trace.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  fixedWindow,
  gcra,
  leakyBucket,
  type Policy,
  RateLimiter,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from "../../src/index.js";
import {
  boundOf,
  fromRequests,
  generate,
  Histogram,
  type SimPolicy,
  SpaceSaving,
  simulate,
} from "../../src/simulate/index.js";
import { Timeline } from "../../src/simulate/stats.js";
import { type Req, readAll } from "./helpers.js";

/** Expected is what the independent loop measures for one simulated policy. */
interface Expected {
  admitted: number;
  refused: number;
  clientsRefused: number;
  maxWindow: number;
  retries: number[];
  refusedBy: Map<string, number>;
}

/**
 * expectedOf decides every request with its own RateLimiter through the async
 * consumeAt (not the simulator's consumeSync path), and measures the window
 * maximum the slow way: for each admitted request, the admitted cost of its
 * client in (t - windowMs, t].
 */
async function expectedOf(reqs: readonly Req[], sp: SimPolicy, windowMs: number): Promise<Expected> {
  const limiter = new RateLimiter({ policy: sp.policy });
  const admittedAt = new Map<string, Req[]>();
  const e: Expected = { admitted: 0, refused: 0, clientsRefused: 0, maxWindow: 0, retries: [], refusedBy: new Map() };
  let last = Number.NEGATIVE_INFINITY;
  for (const r of reqs) {
    const t = Math.max(last, r.timeMs);
    last = t;
    const tier = sp.tiers?.find((x) => typeof x.match === "string" && r.key.startsWith(x.match.replace(/\*$/, "")));
    const policies = ([] as Policy[]).concat(tier ? tier.policy : sp.policy);
    const fits = policies.every((p) => r.cost <= p.limit);
    const d = fits ? await limiter.consumeAt(r.key, t, { cost: r.cost, policy: policies }) : undefined;
    if (d?.allowed) {
      e.admitted++;
      const list = admittedAt.get(r.key) ?? [];
      list.push({ ...r, timeMs: t });
      admittedAt.set(r.key, list);
      const inWindow = list.filter((x) => x.timeMs > t - windowMs).reduce((s, x) => s + x.cost, 0);
      e.maxWindow = Math.max(e.maxWindow, inWindow);
    } else {
      e.refused++;
      if (d) e.retries.push(d.retryAfterMs);
      e.refusedBy.set(r.key, (e.refusedBy.get(r.key) ?? 0) + 1);
    }
  }
  e.clientsRefused = e.refusedBy.size;
  return e;
}

/** nearestRank is the quantile definition the report uses. */
function nearestRank(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number;
}

describe("simulate", () => {
  it("matches an independent RateLimiter loop for every algorithm, an all-or-nothing pair and per-key tiers", async () => {
    const traffic = generate({
      shape: "bursts",
      rate: 40,
      durationMs: 120_000,
      clients: 30,
      skew: 1,
      abusers: 2,
      burstSize: 400,
      burstEveryMs: 30_000,
      burstLengthMs: 2000,
      burstAtMs: 9000,
      seed: 5,
    });
    // Costs of 1 to 3, drawn from the request's index, so tokens and windows see varied costs.
    const reqs = (await readAll(traffic)).map((r, i) => ({ ...r, cost: 1 + (i % 3) }));
    const trace = fromRequests(reqs);
    const policies: SimPolicy[] = [
      { policy: tokenBucket({ capacity: 20, refillRate: 2 }) },
      { policy: tokenBucket({ capacity: 20, refillAmount: 5, refillIntervalMs: 2000 }) },
      { policy: gcra({ limit: 3, periodMs: 1000, burst: 15 }) },
      { policy: leakyBucket({ capacity: 12, leakRate: 1.5 }) },
      { policy: fixedWindow({ limit: 60, windowMs: 10_000 }) },
      { policy: slidingWindow({ limit: 60, windowMs: 10_000 }) },
      { policy: slidingLog({ limit: 60, windowMs: 10_000 }) },
      {
        policy: [
          tokenBucket({ capacity: 10, refillRate: 5, name: "burst" }),
          fixedWindow({ limit: 100, windowMs: 60_000, name: "minute" }),
        ],
      },
      {
        label: "tiers",
        policy: fixedWindow({ limit: 20, windowMs: 10_000 }),
        tiers: [{ match: "client-0*", policy: fixedWindow({ limit: 200, windowMs: 10_000, name: "paid" }) }],
      },
    ];
    const windowMs = 5000;
    const report = await simulate({ traffic: trace, policies, windowMs, top: 5 });
    expect(report.traffic.requests).toBe(reqs.length);
    for (let i = 0; i < policies.length; i++) {
      const p = report.policies[i]!;
      const e = await expectedOf(reqs, policies[i]!, windowMs);
      const why = `policy ${i} ${p.label}`;
      expect(p.requests, why).toEqual({ offered: reqs.length, admitted: e.admitted, refused: e.refused });
      expect(p.clients.refused, why).toBe(e.clientsRefused);
      expect(p.clients.seen, why).toBe(new Set(reqs.map((r) => r.key)).size);
      expect(p.window.admitted, why).toBe(e.maxWindow);
      expect(p.window.admitted, why).toBeLessThanOrEqual(p.window.bound);
      const sorted = [...e.retries].sort((a, b) => a - b);
      expect(p.retryAfter.count, why).toBe(sorted.length);
      for (const [q, got] of [
        [0.5, p.retryAfter.p50Ms],
        [0.9, p.retryAfter.p90Ms],
        [0.99, p.retryAfter.p99Ms],
      ] as const) {
        const want = nearestRank(sorted, q);
        // Exact below 2048 ms; above, the top of a bucket 1/1024 wide.
        expect(got, `${why} p${q * 100}`).toBeGreaterThanOrEqual(want);
        expect(got, `${why} p${q * 100}`).toBeLessThanOrEqual(want < 2048 ? want : want * (1 + 1 / 1024));
      }
      expect(p.retryAfter.maxMs, why).toBe(sorted.at(-1) ?? 0);
      const top = [...e.refusedBy.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5);
      expect(
        p.limited.map((l) => [l.key, l.refused]),
        why,
      ).toEqual(top);
      const admittedCost = p.admittedSeries.reduce((s, x) => s + x, 0);
      expect(admittedCost, why).toBe(p.cost.admitted);
    }
    expect(report.timeline.offered.reduce((s, x) => s + x, 0)).toBe(reqs.reduce((s, r) => s + r.cost, 0));
  });

  it("shows the fixed window's double burst at a boundary: 2 * limit within one window, as its bound allows", async () => {
    // Step 1: 10 requests at 900..990 ms fill the window [0, 1000). Step 2: 10 more at 1000..1090 ms
    // open the next window. In (90, 1090] that is 20 admitted; the token bucket of the same limit admits 10 + refill.
    const reqs = [
      ...Array.from({ length: 10 }, (_, i) => ({ key: "k", timeMs: 900 + 10 * i })),
      ...Array.from({ length: 10 }, (_, i) => ({ key: "k", timeMs: 1000 + 10 * i })),
    ];
    const report = await simulate({
      traffic: fromRequests(reqs),
      policies: [fixedWindow({ limit: 10, windowMs: 1000 }), tokenBucket({ capacity: 10, refillRate: 10 })],
      windowMs: 1000,
    });
    const [fw, tb] = report.policies;
    expect(fw?.window).toEqual({ windowMs: 1000, admitted: 20, key: "k", bound: 20 });
    // The bucket admits its 10 and then refills one token per 100 ms, counted from 900 ms: one more at
    // 1000 ms, the next not before 1100 ms.
    expect(tb?.requests.admitted).toBe(11);
    expect(tb?.window.admitted).toBe(11);
    expect(tb?.window.bound).toBe(20);
  });

  it("measures windows as (t - windowMs, t]: a request exactly windowMs earlier is outside", async () => {
    const rows: [number[], number, string][] = [
      [[0, 1000], 1, "0 is not in (0, 1000]"],
      [[0, 999], 2, "0 is in (-1, 999]"],
      [[0, 500, 1000, 1499], 3, "500, 1000 and 1499 are in (499, 1499]"],
    ];
    for (const [times, want, why] of rows) {
      const report = await simulate({
        traffic: fromRequests(times.map((timeMs) => ({ key: "k", timeMs }))),
        policies: [tokenBucket({ capacity: 10, refillRate: 1 })],
        windowMs: 1000,
      });
      expect(report.policies[0]?.window.admitted, `${times.join(", ")}: ${why}`).toBe(want);
    }
  });

  it("counts a cost above the limit as refused (never admissible), not as an error", async () => {
    const report = await simulate({
      traffic: fromRequests([
        { key: "a", timeMs: 0, cost: 50 },
        { key: "a", timeMs: 1, cost: 1 },
      ]),
      policies: [tokenBucket({ capacity: 10, refillRate: 1 })],
    });
    const p = report.policies[0]!;
    expect(p.requests).toEqual({ offered: 2, admitted: 1, refused: 1 });
    expect(p.neverAdmissible).toBe(1);
    expect(p.retryAfter.count).toBe(0);
  });

  it("tracks the watched client's remaining quota; counts clients past maxClients apart, then estimates them", async () => {
    const small = generate({ shape: "poisson", rate: 500, durationMs: 20_000, clients: 3000, seed: 4 });
    const report = await simulate({
      traffic: small,
      policies: [fixedWindow({ limit: 2, windowMs: 5000 })],
      maxClients: 500,
      watch: "client-0007",
    });
    const p = report.policies[0]!;
    expect(report.watch).toBe("client-0007");
    expect(p.level.length).toBeGreaterThan(3);
    expect(p.level.every(([, r]) => r >= 0 && r <= 2)).toBe(true);
    // 500 tracked, the rest (under 10,000) counted exactly apart.
    expect(report.traffic.clients).toBe(new Set((await readAll(small)).map((r) => r.key)).size);
    expect(p.clients.exact).toBe(true);
    // Past 10,000 more, HyperLogLog (2^14 registers, about 0.8% standard error): 5% is far outside it.
    const large = generate({ shape: "poisson", rate: 3000, durationMs: 20_000, clients: 40_000, seed: 4 });
    const big = await simulate({
      traffic: large,
      policies: [fixedWindow({ limit: 2, windowMs: 5000 })],
      maxClients: 500,
    });
    const distinct = new Set((await readAll(large)).map((r) => r.key)).size;
    expect(distinct).toBeGreaterThan(20_000);
    expect(big.policies[0]!.clients.exact).toBe(false);
    expect(Math.abs(big.traffic.clients - distinct) / distinct).toBeLessThan(0.05);
  });

  it("refuses bad options with the option named", async () => {
    const traffic = fromRequests([]);
    await expect(simulate({ traffic, policies: [] })).rejects.toThrow(
      /simulate\(\{ policies \}\) needs a non-empty array/,
    );
    await expect(
      simulate({ traffic, policies: [tokenBucket({ capacity: 1, refillRate: 1 })], windowMs: 0 }),
    ).rejects.toThrow(/windowMs.*got 0/);
    await expect(
      simulate({ traffic: {} as never, policies: [tokenBucket({ capacity: 1, refillRate: 1 })] }),
    ).rejects.toThrow(/simulate\(\{ traffic \}\) needs traffic/);
  });
});

describe("bounds", () => {
  // Property: on random bursty traffic, no algorithm admits one client more than its bound in any window.
  it("the most admitted in any window never exceeds the algorithm's bound", async () => {
    const arbPolicy = fc.oneof(
      fc
        .record({
          capacity: fc.integer({ min: 1, max: 30 }),
          refillRate: fc.double({ min: 0.1, max: 20, noNaN: true }),
        })
        .map((o) => tokenBucket(o)),
      fc
        .record({
          capacity: fc.integer({ min: 1, max: 30 }),
          refillAmount: fc.integer({ min: 1, max: 5 }),
          refillIntervalMs: fc.integer({ min: 10, max: 3000 }),
        })
        .map((o) => tokenBucket(o)),
      fc
        .record({
          limit: fc.integer({ min: 1, max: 20 }),
          periodMs: fc.integer({ min: 100, max: 5000 }),
          burst: fc.integer({ min: 1, max: 30 }),
        })
        .map((o) => gcra(o)),
      fc
        .record({ capacity: fc.integer({ min: 1, max: 30 }), leakRate: fc.double({ min: 0.1, max: 20, noNaN: true }) })
        .map((o) => leakyBucket(o)),
      fc
        .record({ limit: fc.integer({ min: 1, max: 30 }), windowMs: fc.integer({ min: 50, max: 5000 }) })
        .map((o) => fixedWindow(o)),
      fc
        .record({ limit: fc.integer({ min: 1, max: 30 }), windowMs: fc.integer({ min: 50, max: 5000 }) })
        .map((o) => slidingWindow(o)),
      fc
        .record({ limit: fc.integer({ min: 1, max: 30 }), windowMs: fc.integer({ min: 50, max: 5000 }) })
        .map((o) => slidingLog(o)),
    );
    await fc.assert(
      fc.asyncProperty(
        arbPolicy,
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.integer({ min: 10, max: 8000 }),
        async (policy, seed, windowMs) => {
          const traffic = generate({
            shape: "bursts",
            rate: 20,
            durationMs: 20_000,
            burstSize: 60,
            burstEveryMs: 4000,
            burstLengthMs: 300,
            burstAtMs: seed % 4000,
            seed,
          });
          const report = await simulate({ traffic, policies: [policy], windowMs });
          const w = report.policies[0]!.window;
          expect(w.admitted, `${report.policies[0]!.label} over ${windowMs} ms`).toBeLessThanOrEqual(w.bound + 1e-9);
          expect(w.bound).toBe(boundOf([policy], windowMs));
        },
      ),
      { numRuns: 60, seed: 11 },
    );
  });
});

describe("summaries", () => {
  it("Timeline: past maxBuckets, buckets merge two by two and keep every count", () => {
    const t = new Timeline(10, 8, 1);
    const s = t.series[0] as Float64Array;
    let total = 0;
    // Steps: 1000 ms of one count per ms from 1005 ms: 100 buckets of 10 ms would not fit in 8.
    for (let ms = 1005; ms < 2005; ms++) {
      const b = t.bucket(ms);
      s[b] = (s[b] as number) + 1;
      total++;
    }
    expect(t.bucketMs).toBe(160);
    expect(t.length).toBeLessThanOrEqual(8);
    expect(Array.from(s.subarray(0, t.length)).reduce((a, b) => a + b, 0)).toBe(total);
    // Each bucket starts at a multiple of its width and holds the ms that fall in it.
    for (let i = 0; i < t.length; i++) {
      const from = Math.max(1005, t.startMs(i));
      const to = Math.min(2005, t.startMs(i) + t.bucketMs);
      expect(s[i], `bucket ${i} from ${t.startMs(i)}`).toBe(Math.max(0, to - from));
    }
  });

  it("Histogram: exact below 2048, never below and at most 1/1024 above the true quantile", () => {
    const h = new Histogram();
    const values: number[] = [];
    let x = 1;
    for (let i = 0; i < 20_000; i++) {
      x = (x * 48271) % 2147483647;
      const v = (x % 1000) ** 2 + (x % 7); // 0 to about 1e6, dense near 0
      values.push(v);
      h.add(v);
    }
    values.sort((a, b) => a - b);
    for (const q of [0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 1]) {
      const want = nearestRank(values, q);
      const got = h.quantile(q);
      expect(got, `q ${q}`).toBeGreaterThanOrEqual(want);
      expect(got, `q ${q}`).toBeLessThanOrEqual(want < 2048 ? want : want * (1 + 1 / 1024));
    }
    expect(h.buckets().reduce((s, b) => s + b[2], 0)).toBe(20_000);
  });

  it("SpaceSaving: exact while keys fit; past that, every key above total/capacity is kept, counts within their error", () => {
    const exact = new SpaceSaving(10);
    for (const [k, n] of [
      ["a", 5],
      ["b", 3],
      ["c", 9],
    ] as const)
      for (let i = 0; i < n; i++) exact.add(k);
    expect(exact.top(2)).toEqual([
      { key: "c", count: 9, error: 0 },
      { key: "a", count: 5, error: 0 },
    ]);
    // 3 heavy keys (10% each) among 5000 light ones, 20 counters: total / capacity is 5%, below 10%.
    const s = new SpaceSaving(20);
    const truth = new Map<string, number>();
    let x = 7;
    for (let i = 0; i < 30_000; i++) {
      x = (x * 48271) % 2147483647;
      const key = x % 10 < 3 ? `heavy${x % 3}` : `light${x % 5000}`;
      truth.set(key, (truth.get(key) ?? 0) + 1);
      s.add(key);
    }
    const top = s.top(20);
    for (const h of ["heavy0", "heavy1", "heavy2"]) {
      const e = top.find((t) => t.key === h);
      expect(e, h).toBeDefined();
      expect(e!.count).toBeGreaterThanOrEqual(truth.get(h)!);
      expect(e!.count - e!.error).toBeLessThanOrEqual(truth.get(h)!);
    }
  });
});
