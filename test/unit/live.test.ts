// live.test.ts: properties of live replacement (issue 10): the new bound holds from the replacement on, as-is never
// mints, proportional keeps the used share; replaced during interleaved traffic on a MemoryStore.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyPolicy,
  fixedWindow,
  gcra,
  leakyBucket,
  live,
  MemoryStore,
  type Policy,
  RateLimiter,
  replaceLive,
  type Strategy,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from "../../src/index.js";

/** Pair is an old policy, a new one of the same algorithm, and the new policy's documented bound. */
interface Pair {
  label: string;
  old: Policy;
  next: Policy;
  /** bound says whether admitted calls (time, cost), all at or after the replacement T, stay within the new policy's promise. */
  bound(t0: number, admitted: readonly { t: number; cost: number }[]): string | undefined;
}

const limitArb = fc.integer({ min: 1, max: 15 });
const rateArb = fc
  .record({ n: fc.integer({ min: 1, max: 30 }), m: fc.integer({ min: 1, max: 13 }) })
  .map(({ n, m }) => n / m);
const windowArb = fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 51, max: 5000 }));

/** rateBound checks sum over [T, t] <= limit + perMs * (t - T) for every admitted t (a bucket's promise from T). */
function rateBound(limit: number, perMs: number) {
  return (t0: number, admitted: readonly { t: number; cost: number }[]): string | undefined => {
    let sum = 0;
    for (const a of admitted) {
      sum += a.cost;
      const bound = limit + perMs * (a.t - t0);
      if (sum > bound + 1e-6) return `admitted ${sum} in [${t0}, ${a.t}] > ${bound}`;
    }
    return undefined;
  };
}

/** windowBound checks, for every aligned window of `windowMs`, that what was admitted in it from T is at most `limit`. */
function windowBound(limit: number, windowMs: number) {
  return (_t0: number, admitted: readonly { t: number; cost: number }[]): string | undefined => {
    const per = new Map<number, number>();
    for (const a of admitted) {
      const w = Math.floor(a.t / windowMs);
      const sum = (per.get(w) ?? 0) + a.cost;
      per.set(w, sum);
      if (sum > limit) return `admitted ${sum} in window ${w} of ${windowMs} ms > ${limit}`;
    }
    return undefined;
  };
}

/** logBound checks that no window (t - windowMs, t] holds more than `limit` admitted from T. */
function logBound(limit: number, windowMs: number) {
  return (_t0: number, admitted: readonly { t: number; cost: number }[]): string | undefined => {
    for (let j = 0; j < admitted.length; j++) {
      let sum = 0;
      const end = (admitted[j] as { t: number }).t;
      for (let i = j; i >= 0 && (admitted[i] as { t: number }).t > end - windowMs; i--)
        sum += (admitted[i] as { cost: number }).cost;
      if (sum > limit) return `admitted ${sum} in (${end - windowMs}, ${end}] > ${limit}`;
    }
    return undefined;
  };
}

const pairs: Record<string, fc.Arbitrary<Pair>> = {
  "token bucket (smooth)": fc.tuple(limitArb, rateArb, limitArb, rateArb).map(([c0, r0, c1, r1]) => ({
    label: `tb ${c0}@${r0} -> ${c1}@${r1}`,
    old: tokenBucket({ name: "p", capacity: c0, refillRate: r0 }),
    next: tokenBucket({ name: "p", capacity: c1, refillRate: r1 }),
    bound: rateBound(c1, r1 / 1000),
  })),
  "token bucket (stepped)": fc
    .tuple(
      limitArb,
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 2000 }),
      limitArb,
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 2000 }),
    )
    .map(([c0, a0, i0, c1, a1, i1]) => ({
      label: `ts ${c0}+${a0}/${i0} -> ${c1}+${a1}/${i1}`,
      old: tokenBucket({ name: "p", capacity: c0, refillAmount: a0, refillIntervalMs: i0 }),
      next: tokenBucket({ name: "p", capacity: c1, refillAmount: a1, refillIntervalMs: i1 }),
      bound: (t0, admitted) => {
        let sum = 0;
        for (const a of admitted) {
          sum += a.cost;
          const bound = c1 + a1 * Math.ceil((a.t - t0) / i1);
          if (sum > bound) return `admitted ${sum} in [${t0}, ${a.t}] > ${bound}`;
        }
        return undefined;
      },
    })),
  gcra: fc
    .tuple(limitArb, fc.integer({ min: 1, max: 5000 }), limitArb, fc.integer({ min: 1, max: 5000 }))
    .map(([l0, p0, l1, p1]) => ({
      label: `gcra ${l0}/${p0} -> ${l1}/${p1}`,
      old: gcra({ name: "p", limit: l0, periodMs: p0 }),
      next: gcra({ name: "p", limit: l1, periodMs: p1 }),
      bound: rateBound(l1, l1 / p1),
    })),
  "leaky bucket": fc.tuple(limitArb, rateArb, limitArb, rateArb).map(([c0, r0, c1, r1]) => ({
    label: `lb ${c0}@${r0} -> ${c1}@${r1}`,
    old: leakyBucket({ name: "p", capacity: c0, leakRate: r0 }),
    next: leakyBucket({ name: "p", capacity: c1, leakRate: r1 }),
    bound: rateBound(c1, r1 / 1000),
  })),
  "fixed window": fc.tuple(limitArb, windowArb, limitArb, windowArb).map(([l0, w0, l1, w1]) => ({
    label: `fw ${l0}/${w0} -> ${l1}/${w1}`,
    old: fixedWindow({ name: "p", limit: l0, windowMs: w0 }),
    next: fixedWindow({ name: "p", limit: l1, windowMs: w1 }),
    bound: windowBound(l1, w1),
  })),
  "sliding window": fc.tuple(limitArb, windowArb, limitArb, windowArb).map(([l0, w0, l1, w1]) => ({
    label: `sw ${l0}/${w0} -> ${l1}/${w1}`,
    old: slidingWindow({ name: "p", limit: l0, windowMs: w0 }),
    next: slidingWindow({ name: "p", limit: l1, windowMs: w1 }),
    // Each aligned window's own count never passes the limit (the estimate is at least that count).
    bound: windowBound(l1, w1),
  })),
  "sliding log": fc.tuple(limitArb, windowArb, limitArb, windowArb).map(([l0, w0, l1, w1]) => ({
    label: `sl ${l0}/${w0} -> ${l1}/${w1}`,
    old: slidingLog({ name: "p", limit: l0, windowMs: w0 }),
    next: slidingLog({ name: "p", limit: l1, windowMs: w1 }),
    bound: logBound(l1, w1),
  })),
};

const strategyArb = fc.constantFrom<Strategy>("reset", "as-is", "proportional", "additive");
const callsArb = fc.array(
  fc.record({
    gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 400 })),
    share: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
  { maxLength: 30 },
);
const costOf = (share: number, limit: number): number => Math.min(limit, Math.floor(share * (limit + 1)));

/** replay applies calls to a state from `t`, returning the state, the time and what was admitted. */
function replay(policy: Policy, state: readonly number[] | null, t: number, calls: { gapMs: number; share: number }[]) {
  const admitted: { t: number; cost: number }[] = [];
  let s = state;
  for (const c of calls) {
    t += c.gapMs;
    const cost = costOf(c.share, policy.limit);
    const r = applyPolicy(policy, s, t, cost);
    s = r.state;
    if (r.allowed && cost > 0) admitted.push({ t, cost });
  }
  return { state: s, t, admitted };
}

describe("live replacement: properties of every algorithm and strategy", () => {
  for (const [name, arb] of Object.entries(pairs)) {
    describe(name, () => {
      it("from the replacement on, admits at most the new policy's bound, and never more than the new limit at once", () => {
        fc.assert(
          fc.property(
            arb,
            strategyArb,
            fc.integer({ min: 0, max: 1e6 }),
            callsArb,
            callsArb,
            (p, strategy, start, before, after) => {
              const v1 = live(p.old);
              const pre = replay(v1, null, start, before);
              const v2 = replaceLive(v1, p.next, { strategy });
              const peek = applyPolicy(v2, pre.state, pre.t, 0);
              expect(peek.remaining, `${p.label} ${strategy}: remaining after the replacement`).toBeLessThanOrEqual(
                p.next.limit,
              );
              const post = replay(v2, peek.state, pre.t, after);
              const broken = p.bound(pre.t, post.admitted);
              if (broken) throw new Error(`${p.label} ${strategy}: ${broken}`);
            },
          ),
          { numRuns: 300 },
        );
      });

      it("as-is never mints: a key holding state has no more available after the replacement than before", () => {
        fc.assert(
          fc.property(arb, fc.integer({ min: 0, max: 1e6 }), callsArb, (p, start, before) => {
            const v1 = live(p.old);
            const pre = replay(v1, null, start, before);
            const was = applyPolicy(v1, pre.state, pre.t, 0);
            if (was.remaining >= p.old.limit) return; // full: holds nothing, starts fresh
            const now = applyPolicy(replaceLive(v1, p.next, { strategy: "as-is" }), pre.state, pre.t, 0);
            expect(
              now.remaining,
              `${p.label}: as-is remaining ${now.remaining} > before ${was.remaining}`,
            ).toBeLessThanOrEqual(was.remaining);
          }),
          { numRuns: 300 },
        );
      });

      it("proportional keeps the used share (within the rounding of whole units)", () => {
        fc.assert(
          fc.property(arb, fc.integer({ min: 0, max: 1e6 }), callsArb, (p, start, before) => {
            const v1 = live(p.old);
            const pre = replay(v1, null, start, before);
            const was = applyPolicy(v1, pre.state, pre.t, 0).remaining;
            const now = applyPolicy(
              replaceLive(v1, p.next, { strategy: "proportional" }),
              pre.state,
              pre.t,
              0,
            ).remaining;
            const l0 = p.old.limit;
            const l1 = p.next.limit;
            // Available was in [was, was + 1): scaled, in [was * l1/l0, (was + 1) * l1/l0).
            expect(now, `${p.label}: ${was}/${l0} -> ${now}/${l1}`).toBeGreaterThanOrEqual(
              Math.floor((was * l1) / l0 + 1e-9) - 1e-9,
            );
            expect(now, `${p.label}: ${was}/${l0} -> ${now}/${l1}`).toBeLessThan(((was + 1) * l1) / l0 + 1e-9);
          }),
          { numRuns: 300 },
        );
      });
    });
  }

  it("interleaved traffic on many keys, replaced mid-flight: each key stays within the new bound from the replacement", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(...Object.values(pairs)),
        strategyArb,
        fc.integer({ min: 1, max: 40 }),
        async (p, strategy, n) => {
          let t = 1_000_000;
          const limiter = new RateLimiter({ policy: live(p.old), store: new MemoryStore(), now: () => t });
          const keys = ["a", "b", "c"];
          const admitted = new Map<string, { t: number; cost: number }[]>(keys.map((k) => [k, []]));
          let replacedAt = -1;
          for (let i = 0; i < n; i++) {
            // A burst of concurrent calls per tick; the replacement lands between two of them.
            const calls = keys
              .flatMap((k) => [k, k])
              .map(async (k, j) => {
                if (i === n >> 1 && j === 3 && replacedAt < 0) {
                  limiter.replacePolicy("p", p.next, { strategy });
                  replacedAt = t;
                }
                // Decided by the new version: issued after the replacement (the memory store decides synchronously).
                const after = replacedAt >= 0;
                const d = await limiter.consume(k);
                if (d.allowed && after) admitted.get(k)?.push({ t, cost: 1 });
              });
            await Promise.all(calls);
            t += 37;
          }
          for (const k of keys) {
            const broken = p.bound(replacedAt, admitted.get(k) ?? []);
            if (broken) throw new Error(`${p.label} ${strategy} key ${k}: ${broken}`);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
