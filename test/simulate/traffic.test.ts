// traffic.test.ts: the seeded generator reproduces runs exactly, and its rates match the math of each shape.
//
// Tolerances come from the counting distribution, not from one seed: a Poisson count of mean m
// has standard deviation sqrt(m), a client's share of n requests is binomial; every check allows
// Z = 5 standard deviations and runs over several seeds.

import { describe, expect, it } from "vitest";
import { fromRequests, generate, random, type TrafficOptions } from "../../src/simulate/index.js";
import { binomialOk, poissonOk, readAll, Z } from "./helpers.js";

const SEEDS = [1, 2, 3, 42, 2024];

describe("random (sfc32)", () => {
  it("the same seed gives the same sequence; other seeds give other sequences", () => {
    const a = random(7);
    const b = random(7);
    const c = random(8);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(Array.from({ length: 1000 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 1000 }, () => c.next())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it("is uniform: the mean and the share below each tenth are within Z sigma", () => {
    for (const seed of SEEDS) {
      const r = random(seed);
      const n = 100_000;
      let sum = 0;
      const deciles = new Array(10).fill(0);
      for (let i = 0; i < n; i++) {
        const x = r.next();
        sum += x;
        deciles[Math.floor(x * 10)]++;
      }
      // The mean of n uniforms has standard deviation sqrt(1/12/n).
      expect(Math.abs(sum / n - 0.5), `seed ${seed}`).toBeLessThan(Z * Math.sqrt(1 / 12 / n));
      for (const d of deciles) expect(binomialOk(d, n, 0.1), `seed ${seed} deciles ${deciles}`).toBe(true);
    }
  });
});

describe("generate", () => {
  it("reproduces a run exactly: read twice, built twice", async () => {
    const o: TrafficOptions = {
      shape: "poisson",
      rate: 200,
      durationMs: 30_000,
      clients: 50,
      skew: 1,
      abusers: 2,
      seed: 9,
    };
    const t = generate(o);
    const first = await readAll(t);
    expect(await readAll(t)).toEqual(first);
    expect(await readAll(generate(o))).toEqual(first);
    expect(await readAll(generate({ ...o, seed: 10 }))).not.toEqual(first);
    expect(first.length).toBeGreaterThan(1000);
  });

  it("steady: exactly one request every 1000/rate ms, clients in turn", async () => {
    const reqs = await readAll(generate({ shape: "steady", rate: 4, durationMs: 10_000, clients: 3, startMs: 500 }));
    expect(reqs.length).toBe(40);
    reqs.forEach((r, i) => {
      expect(r.timeMs).toBe(500 + i * 250);
      expect(r.key).toBe(`client-${i % 3}`);
      expect(r.cost).toBe(1);
    });
  });

  it("poisson: the count is Poisson(rate * duration) and the gaps are exponential (coefficient of variation 1)", async () => {
    const rate = 50;
    const durationMs = 200_000;
    for (const seed of SEEDS) {
      const reqs = await readAll(generate({ shape: "poisson", rate, durationMs, seed }));
      const mean = (rate * durationMs) / 1000;
      expect(poissonOk(reqs.length, mean), `seed ${seed}: ${reqs.length} requests, mean ${mean}`).toBe(true);
      const gaps = reqs.slice(1).map((r, i) => r.timeMs - (reqs[i] as { timeMs: number }).timeMs);
      const m = gaps.reduce((a, b) => a + b, 0) / gaps.length;
      const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - m) ** 2, 0) / gaps.length);
      // The CV of n exponential gaps has standard error about 1/sqrt(n).
      expect(Math.abs(sd / m - 1), `seed ${seed}: cv ${sd / m}`).toBeLessThan(Z / Math.sqrt(gaps.length));
      expect(gaps.every((g) => g >= 0)).toBe(true);
    }
  });

  it("onoff: nothing while off, and Poisson(rate * on time) in all", async () => {
    for (const seed of SEEDS) {
      const reqs = await readAll(
        generate({ shape: "onoff", rate: 100, durationMs: 100_000, onMs: 7000, offMs: 3000, seed }),
      );
      expect(
        reqs.filter((r) => r.timeMs % 10_000 >= 7000).map((r) => r.timeMs),
        `seed ${seed}`,
      ).toEqual([]);
      expect(poissonOk(reqs.length, 100 * 70), `seed ${seed}: ${reqs.length}`).toBe(true);
    }
  });

  it("daily: counts per quarter follow the integral of rate * (1 - a cos(2 pi t / P))", async () => {
    const rate = 20;
    const a = 0.8;
    const P = 400_000;
    // Integral over a quarter [q P/4, (q+1) P/4) of 1 - a cos(2 pi t / P), times rate: rate (P/4 - a P/(2 pi) (sin(...) - sin(...))).
    const expected = [0, 1, 2, 3].map(
      (q) =>
        (rate / 1000) *
        (P / 4 - ((a * P) / (2 * Math.PI)) * (Math.sin((Math.PI / 2) * (q + 1)) - Math.sin((Math.PI / 2) * q))),
    );
    for (const seed of SEEDS) {
      const reqs = await readAll(generate({ shape: "daily", rate, durationMs: P, periodMs: P, amplitude: a, seed }));
      const counts = [0, 0, 0, 0];
      for (const r of reqs)
        counts[Math.floor(r.timeMs / (P / 4))] = (counts[Math.floor(r.timeMs / (P / 4))] as number) + 1;
      counts.forEach((c, q) => {
        expect(poissonOk(c, expected[q] as number), `seed ${seed} quarter ${q}: ${c} want about ${expected[q]}`).toBe(
          true,
        );
      });
    }
  });

  it("bursts: each burst is burstSize requests evenly over burstLengthMs, on top of Poisson background", async () => {
    for (const seed of SEEDS) {
      const o = {
        shape: "bursts",
        rate: 2,
        durationMs: 300_000,
        burstSize: 50,
        burstEveryMs: 60_000,
        burstLengthMs: 5000,
        burstAtMs: 58_000,
        seed,
      } as const;
      const reqs = await readAll(generate(o));
      const inBurst = (t: number) => t >= 58_000 && (t - 58_000) % 60_000 < 5000;
      // Bursts starting at 58 s, 118 s, 178 s, 238 s (298 s is cut by the end: 2000 ms of it, 20 requests).
      const burstish = reqs.filter((r) => inBurst(r.timeMs)).length;
      const background = reqs.length - 4 * 50 - 20;
      expect(poissonOk(background, 2 * 300), `seed ${seed}: background ${background}`).toBe(true);
      expect(burstish).toBeGreaterThanOrEqual(4 * 50 + 20);
      const times = reqs.map((r) => r.timeMs);
      expect(times).toContain(58_000);
      expect(times).toContain(58_100);
      expect([...times].sort((x, y) => x - y)).toEqual(times);
    }
  });

  it("many clients: each client's share is its weight (Zipf skew, abusers) within binomial error", async () => {
    const o = {
      shape: "poisson",
      rate: 1000,
      durationMs: 60_000,
      clients: 20,
      skew: 1.2,
      abusers: 2,
      abuseFactor: 10,
    } as const;
    const weights = Array.from({ length: 20 }, (_, i) => (i < 2 ? 10 : 1) / (i + 1) ** 1.2);
    const total = weights.reduce((x, y) => x + y, 0);
    for (const seed of SEEDS) {
      const reqs = await readAll(generate({ ...o, seed }));
      const counts = new Map<string, number>();
      for (const r of reqs) counts.set(r.key, (counts.get(r.key) ?? 0) + 1);
      weights.forEach((w, i) => {
        const key = `client-${String(i).padStart(2, "0")}`;
        const c = counts.get(key) ?? 0;
        expect(
          binomialOk(c, reqs.length, w / total),
          `seed ${seed} ${key}: ${c} of ${reqs.length}, p ${w / total}`,
        ).toBe(true);
      });
    }
  });

  it("refuses bad options with the option named and the fix", () => {
    expect(() => generate({ rate: -1, durationMs: 1000 })).toThrow(
      /generate\(\{ rate \}\) must be a number from .* got -1/,
    );
    expect(() => generate({ rate: 1, durationMs: 1000, shape: "poison" as never })).toThrow(
      /shape.*steady, poisson, bursts, onoff, daily.*"poison"/,
    );
    expect(() => generate({ rate: 1, durationMs: 1000, clients: 2, abusers: 3 })).toThrow(
      /abusers: 3.*more than the 2 clients/,
    );
    expect(() => generate({ rate: 1, durationMs: 1000, rat: 2 } as never)).toThrow(
      /unknown option "rat"; did you mean "rate"\?/,
    );
  });
});

describe("fromRequests", () => {
  it("sorts by time and keeps the order of requests at the same time", async () => {
    const reqs = await readAll(
      fromRequests([
        { key: "b", timeMs: 20 },
        { key: "a", timeMs: 10, cost: 3 },
        { key: "c", timeMs: 20 },
      ]),
    );
    expect(reqs).toEqual([
      { key: "a", timeMs: 10, cost: 3 },
      { key: "b", timeMs: 20, cost: 1 },
      { key: "c", timeMs: 20, cost: 1 },
    ]);
  });
});
