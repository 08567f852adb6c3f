// properties.test.ts: property tests (fast-check, injected clock) of every algorithm's documented promises.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Applied,
  applyPolicy,
  fixedWindow,
  gcra,
  leakyBucket,
  type Policy,
  RateLimiter,
  refundPolicy,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from "../../src/index.js";
import {
  type Call,
  costOf,
  gapOf,
  gcraSubject,
  limitArb,
  rateArb,
  sameState,
  wideCallsArb,
  wideStartArb,
  wideSubjects,
  windowArb,
} from "./arbitraries.js";
import { budget } from "./budget.js";

/** Subject is a policy with the admission bound its doc comment promises over a closed interval of d ms. */
interface Subject {
  label: string;
  policy: Policy;
  /** bound is the most cost admitted within any closed interval of length dMs. */
  bound(dMs: number): number;
}

const smoothArb = fc.tuple(limitArb, rateArb).map(([capacity, { n, m }]): Subject => {
  const rate = n / m;
  return {
    label: `tokenBucket({ capacity: ${capacity}, refillRate: ${n}/${m} })`,
    policy: tokenBucket({ capacity, refillRate: rate }),
    bound: (d) => capacity + (n * d) / (m * 1000),
  };
});
const steppedArb = fc.tuple(limitArb, fc.integer({ min: 1, max: 5 }), windowArb).map(
  ([capacity, amount, intervalMs]): Subject => ({
    label: `tokenBucket({ capacity: ${capacity}, refillAmount: ${amount}, refillIntervalMs: ${intervalMs} })`,
    policy: tokenBucket({ capacity, refillAmount: amount, refillIntervalMs: intervalMs }),
    bound: (d) => capacity + amount * Math.ceil(d / intervalMs),
  }),
);
const gcraArb = fc
  .tuple(limitArb, windowArb, fc.option(limitArb, { nil: undefined }))
  .map(([limit, periodMs, burst]): Subject => {
    const b = burst ?? limit;
    return {
      label: `gcra({ limit: ${limit}, periodMs: ${periodMs}, burst: ${b} })`,
      policy: gcra({ limit, periodMs, burst: b }),
      bound: (d) => b + (limit * d) / periodMs,
    };
  });
const leakyArb = fc.tuple(limitArb, rateArb).map(
  ([capacity, { n, m }]): Subject => ({
    label: `leakyBucket({ capacity: ${capacity}, leakRate: ${n}/${m} })`,
    policy: leakyBucket({ capacity, leakRate: n / m }),
    bound: (d) => capacity + (n * d) / (m * 1000),
  }),
);
const fixedArb = fc.tuple(limitArb, windowArb).map(
  ([limit, windowMs]): Subject => ({
    label: `fixedWindow({ limit: ${limit}, windowMs: ${windowMs} })`,
    policy: fixedWindow({ limit, windowMs }),
    bound: (d) => limit * (Math.ceil(d / windowMs) + 1),
  }),
);
// The sliding window counter admits at most limit per aligned window, so the fixed window's bound holds.
const slidingArb = fc.tuple(limitArb, windowArb).map(
  ([limit, windowMs]): Subject => ({
    label: `slidingWindow({ limit: ${limit}, windowMs: ${windowMs} })`,
    policy: slidingWindow({ limit, windowMs }),
    bound: (d) => limit * (Math.ceil(d / windowMs) + 1),
  }),
);
// The log is exact: at most limit within any window [t, t + windowMs).
const logArb = fc.tuple(limitArb, windowArb).map(
  ([limit, windowMs]): Subject => ({
    label: `slidingLog({ limit: ${limit}, windowMs: ${windowMs} })`,
    policy: slidingLog({ limit, windowMs }),
    bound: (d) => limit * (Math.floor(d / windowMs) + 1),
  }),
);

const subjects: Record<string, fc.Arbitrary<Subject>> = {
  "token bucket (smooth)": smoothArb,
  "token bucket (stepped)": steppedArb,
  gcra: gcraArb,
  "leaky bucket": leakyArb,
  "fixed window": fixedArb,
  "sliding window": slidingArb,
  "sliding log": logArb,
};

const callsArb = fc.array(
  fc.record({
    gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 4000 })),
    costShare: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
  { minLength: 1, maxLength: 80 },
);
const startArb = fc.constantFrom(0, 1_000_000, 1_700_000_000_000);

/** run replays calls on the pure core with a monotone clock, returning each step. */
function run(policy: Policy, startMs: number, calls: Call[]) {
  let state: readonly number[] | null = null;
  let t = startMs;
  const steps: { t: number; cost: number; before: readonly number[] | null; r: Applied }[] = [];
  for (const c of calls) {
    t += c.gapMs;
    const cost = costOf(c, policy.limit);
    const before = state;
    const r = applyPolicy(policy, state, t, cost);
    steps.push({ t, cost, before, r });
    state = r.state;
  }
  return steps;
}

function show(x: unknown): string {
  return JSON.stringify(x);
}

/** lcg returns a seeded pseudo-random generator in [0, 1), so a million-step run is the same every time. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

describe("properties of every algorithm", () => {
  for (const [name, arb] of Object.entries(subjects)) {
    describe(name, () => {
      it("admits at most its documented bound over any interval", () => {
        fc.assert(
          fc.property(arb, startArb, callsArb, (s, start, calls) => {
            const admitted = run(s.policy, start, calls).filter((x) => x.r.allowed && x.cost > 0);
            for (let i = 0; i < admitted.length; i++) {
              let sum = 0;
              for (let j = i; j < admitted.length; j++) {
                const a = admitted[i] as (typeof admitted)[number];
                const b = admitted[j] as (typeof admitted)[number];
                sum += b.cost;
                const d = b.t - a.t;
                if (sum > s.bound(d) + 1e-6) {
                  throw new Error(`${s.label}: admitted ${sum} in [${a.t}, ${b.t}] (d=${d}) > bound ${s.bound(d)}`);
                }
              }
            }
          }),
        );
      });

      it("reports whole numbers, 0 <= remaining <= limit, retryAfterMs 0 exactly when allowed", () => {
        fc.assert(
          fc.property(arb, startArb, callsArb, (s, start, calls) => {
            for (const x of run(s.policy, start, calls)) {
              const { allowed, remaining, retryAfterMs, resetAfterMs } = x.r;
              const call = `${s.label} consume(at=${x.t}, cost=${x.cost}) = ${show(x.r)}`;
              expect(Number.isInteger(remaining) && remaining >= 0 && remaining <= s.policy.limit, call).toBe(true);
              expect(Number.isInteger(retryAfterMs) && retryAfterMs >= 0, call).toBe(true);
              expect(Number.isInteger(resetAfterMs) && resetAfterMs >= 0, call).toBe(true);
              expect(retryAfterMs === 0, call).toBe(allowed);
              if (x.cost === 0) expect(allowed, call).toBe(true);
              if (allowed) expect(remaining + x.cost <= s.policy.limit, call).toBe(true);
              else expect(remaining < x.cost, call).toBe(true);
            }
          }),
        );
      });

      it("a refund never fills above the limit, never takes anything, and creates nothing", () => {
        fc.assert(
          fc.property(arb, startArb, callsArb, fc.double({ min: 0, max: 1, noNaN: true }), (s, start, calls, share) => {
            const steps = run(s.policy, start, calls);
            const last = steps[steps.length - 1] as (typeof steps)[number];
            const cost = costOf({ gapMs: 0, costShare: share }, s.policy.limit);
            const before = applyPolicy(s.policy, last.r.state, last.t, 0);
            const refunded = refundPolicy(s.policy, last.r.state, last.t, cost);
            const after = applyPolicy(s.policy, refunded, last.t, 0);
            const call = `${s.label}: refund(at=${last.t}, cost=${cost}) on ${show(last.r.state)}: ${show(before)} -> ${show(after)}`;
            expect(after.remaining <= s.policy.limit, call).toBe(true);
            expect(after.remaining >= before.remaining, call).toBe(true);
            // The whole limit is admitted after a full refund, and not one unit more. (The sliding
            // window counter can give back only its current window: the previous one's share stays.)
            const full = refundPolicy(s.policy, last.r.state, last.t, s.policy.limit);
            if (full !== null && s.policy.kind !== "slidingWindow") {
              const take = applyPolicy(s.policy, full, last.t, s.policy.limit);
              const more = applyPolicy(s.policy, take.state, last.t, 1);
              expect(take.allowed, `${call}; full refund then consume(limit) = ${show(take)}`).toBe(true);
              expect(more.allowed, `${call}; then consume(1) = ${show(more)}`).toBe(false);
            }
            expect(refundPolicy(s.policy, null, last.t, cost), "refund on a key never seen").toBeNull();
          }),
        );
      });

      it("a denial leaves the state unchanged", () => {
        fc.assert(
          fc.property(arb, startArb, callsArb, (s, start, calls) => {
            for (const x of run(s.policy, start, calls)) {
              if (!x.r.allowed) {
                expect(x.r.state, `${s.label} denied consume(at=${x.t}, cost=${x.cost})`).toEqual(x.before);
              }
            }
          }),
        );
      });

      it("time going backwards never mints: a peek at an earlier time never shows more than at the latest", () => {
        fc.assert(
          fc.property(arb, startArb, callsArb, fc.integer({ min: 1, max: 100_000 }), (s, start, calls, backMs) => {
            const steps = run(s.policy, start, calls);
            const last = steps[steps.length - 1] as (typeof steps)[number];
            const latest = applyPolicy(s.policy, last.r.state, last.t, 0);
            const earlier = applyPolicy(s.policy, last.r.state, last.t - backMs, 0);
            expect(
              earlier.remaining <= latest.remaining,
              `${s.label}: peek(at=${last.t - backMs}) = ${show(earlier)} vs peek(at=${last.t}) = ${show(latest)}`,
            ).toBe(true);
            // A consume at the earlier time admits no more than the state allows now.
            if (earlier.remaining > 0) {
              const r = applyPolicy(
                s.policy,
                last.r.state,
                last.t - backMs,
                latest.remaining + 1 > s.policy.limit ? s.policy.limit : latest.remaining + 1,
              );
              if (latest.remaining < s.policy.limit)
                expect(r.allowed, `${s.label}: backwards consume ${show(r)}`).toBe(false);
            }
          }),
        );
      });

      it("with a clock jumping back and forth, every interval of real time admits at most its bound", () => {
        // A step back is the clock being set back (it takes no time); a step forward is time passing.
        // So real time is the sum of the forward steps, and the bound holds over every interval of it,
        // however the clock jumped (a rebased state refills only over real time, nothing at the step).
        const jumpsArb = fc.array(
          fc.record({
            deltaMs: fc.oneof(fc.integer({ min: -5000, max: 3000 }), fc.constant(1), fc.constant(-1)),
            costShare: fc.double({ min: 0, max: 1, noNaN: true }),
          }),
          { minLength: 1, maxLength: 80 },
        );
        fc.assert(
          fc.property(arb, startArb, jumpsArb, (s, start, jumps) => {
            let state: readonly number[] | null = null;
            let t: number = start;
            let realMs = 0;
            const admitted: { realMs: number; cost: number }[] = [];
            for (const j of jumps) {
              t += j.deltaMs;
              if (j.deltaMs > 0) realMs += j.deltaMs;
              const cost = costOf({ gapMs: 0, costShare: j.costShare }, s.policy.limit);
              const r = applyPolicy(s.policy, state, t, cost);
              state = r.state;
              if (r.allowed && cost > 0) admitted.push({ realMs, cost });
            }
            for (let i = 0; i < admitted.length; i++) {
              let sum = 0;
              for (let k = i; k < admitted.length; k++) {
                const a = admitted[i] as (typeof admitted)[number];
                const b = admitted[k] as (typeof admitted)[number];
                sum += b.cost;
                const d = b.realMs - a.realMs;
                if (sum > s.bound(d) + 1e-6)
                  throw new Error(`${s.label}: admitted ${sum} in ${d} ms of real time > bound ${s.bound(d)}`);
              }
            }
          }),
        );
      });
    });
  }
});

describe("exact waits (issue 8, defect 1)", () => {
  for (const [name, arb] of Object.entries(wideSubjects)) {
    // Regression (issue 8, defect 1): waits were rounded up from float noise (1001 ms for a true 1000) or
    // ignored EPSILON and double rounding at slow rates and fractional times, so they could be 1 ms (or
    // more) too long or too short.
    it(`${name}: after every call, retryAfterMs and resetAfterMs are the first whole ms that work`, () => {
      fc.assert(
        fc.property(arb, wideStartArb, wideCallsArb(true, 60, true), (s, start, calls) => {
          let state: readonly number[] | null = null;
          let t = start;
          let prev: Applied | null = null;
          for (const c of calls) {
            // A third of the calls land on (or a hair off) the wait just given: the next estimate lands near a
            // whole ms, with float noise up or down, and is settled by the algorithm's own test.
            t += gapOf(c, prev);
            const cost = costOf(c, s.policy.limit);
            const r = applyPolicy(s.policy, state, t, cost);
            const kept = r.state; // what a store keeps: untouched from here on
            const call = `${s.label} on ${show(state)}: consume(at=${t}, cost=${cost}) = ${show(r)}`;
            if (!r.allowed) {
              const at = t + r.retryAfterMs;
              const again = applyPolicy(s.policy, kept, at, cost);
              expect(again.allowed, `${call}; at now + retryAfterMs = ${at}: ${show(again)}`).toBe(true);
              const early = applyPolicy(s.policy, kept, t + (r.retryAfterMs - 1), cost);
              expect(early.allowed, `${call}; 1 ms earlier: ${show(early)}`).toBe(false);
            }
            if (kept === null) {
              expect(r.resetAfterMs, `${call}: no state, nothing to reset`).toBe(0);
            } else {
              expect(s.policy.idle(kept, 0, t + r.resetAfterMs), `${call}: full at now + resetAfterMs`).toBe(true);
              if (r.resetAfterMs >= 1) {
                expect(s.policy.idle(kept, 0, t + (r.resetAfterMs - 1)), `${call}: full 1 ms earlier`).toBe(false);
              }
            }
            state = kept;
            prev = r;
          }
        }),
        { numRuns: budget(200, 40) },
      );
    });
  }
});

describe("a clock stepped back (issue 8, defect 5)", () => {
  for (const [name, arb] of Object.entries(wideSubjects)) {
    // Regression (issue 8, defect 5): a clock stepped back made every algorithm wait for its old time
    // (an hour back: about 3,600,100 ms for an hour); it rebases instead, minting nothing.
    it(`${name}: after a step back of any size nothing is minted and waits are those of the same standing`, () => {
      fc.assert(
        fc.property(
          arb,
          wideStartArb,
          wideCallsArb(false),
          fc.oneof(
            fc.integer({ min: 1, max: 10_000 }),
            fc.constantFrom(3_600_000, 86_400_000),
            fc.double({ min: 1e-3, max: 1e10, noNaN: true }),
          ),
          fc.double({ min: 0, max: 1, noNaN: true }),
          (s, start, calls, backMs, share) => {
            let state: readonly number[] | null = null;
            let t = start;
            let stateAt = start; // the time of the call that last wrote the state
            for (const c of calls) {
              t += c.gapMs;
              const r = applyPolicy(s.policy, state, t, costOf(c, s.policy.limit));
              if (!sameState(r.state, state)) stateAt = t;
              state = r.state;
            }
            fc.pre(state !== null);
            const cost = costOf({ gapMs: 0, costShare: share }, s.policy.limit);
            const back = stateAt - backMs;
            const atState = applyPolicy(s.policy, state, stateAt, cost);
            const latest = applyPolicy(s.policy, state, t, 0);
            const stepped = applyPolicy(s.policy, state, back, cost);
            const call = `${s.label} on ${show(state)} (written at ${stateAt}, last call at ${t}): consume(at=${back}, cost=${cost}) = ${show(stepped)}; at ${stateAt}: ${show(atState)}`;
            // Nothing minted: no more available than at the state's own time, or at the latest time seen. A
            // cost of 0 reads what is available; a call with a cost reports what is left after it when
            // admitted, what is available when refused, so the two compare only like with like.
            const availableBack = applyPolicy(s.policy, state, back, 0).remaining;
            expect(availableBack <= applyPolicy(s.policy, state, stateAt, 0).remaining, call).toBe(true);
            expect(availableBack <= latest.remaining, call).toBe(true);
            if (stepped.allowed) {
              expect(atState.allowed, call).toBe(true);
              expect(stepped.remaining <= atState.remaining, call).toBe(true);
            } else {
              expect(stepped.remaining <= availableBack, call).toBe(true);
            }
            // No lockout: the waits of the same standing, not the time back to the old clock.
            const bound = s.backBound(atState, cost);
            expect(stepped.retryAfterMs <= bound.retryMs, `${call}: retry bound ${bound.retryMs}`).toBe(true);
            expect(stepped.resetAfterMs <= bound.resetMs, `${call}: reset bound ${bound.resetMs}`).toBe(true);
            // And the wait holds: the state kept (rebased) admits the call after it, with the clock going on.
            if (!stepped.allowed) {
              const again = applyPolicy(s.policy, stepped.state, back + stepped.retryAfterMs, cost);
              expect(again.allowed, `${call}; then at ${back + stepped.retryAfterMs}: ${show(again)}`).toBe(true);
            }
          },
        ),
        {
          numRuns: budget(200, 40),
          // Regression (CI of stop 22, seed 1495377662): refused 1 us before the state's time with 5.99
          // available, admitted at it with 6. The property compared the refusal's "available" with the
          // admission's "left after", and failed on a correct decision.
          examples:
            name === "gcra"
              ? [[gcraSubject(1, 60_000, 7), 0, [{ gapMs: 0, costShare: 0.2, land: undefined }], 1e-3, 0.8]]
              : [],
        },
      );
    });
  }
});

describe("properties across algorithms and engines", () => {
  it("tokenBucket, gcra and leakyBucket with equivalent parameters make the same decisions", () => {
    fc.assert(
      fc.property(
        limitArb,
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 20_000 }),
        startArb,
        callsArb,
        (burst, limit, periodMs, start, calls) => {
          const rate = (limit * 1000) / periodMs;
          const tb = run(tokenBucket({ capacity: burst, refillRate: rate }), start, calls);
          const g = run(gcra({ limit, periodMs, burst }), start, calls);
          const lb = run(leakyBucket({ capacity: burst, leakRate: rate }), start, calls);
          tb.forEach((x, i) => {
            const y = g[i] as (typeof g)[number];
            const z = lb[i] as (typeof lb)[number];
            const call = `step ${i + 1}: consume(at=${x.t}, cost=${x.cost}) tb=${show(x.r)} gcra=${show(y.r)} leaky=${show(z.r)}`;
            expect([y.r.allowed, y.r.remaining], call).toEqual([x.r.allowed, x.r.remaining]);
            expect([z.r.allowed, z.r.remaining], call).toEqual([x.r.allowed, x.r.remaining]);
            // Waits agree to the ms, give or take the rounding of a duration computed two ways.
            expect(Math.abs(y.r.retryAfterMs - x.r.retryAfterMs) <= 1, call).toBe(true);
            expect(Math.abs(z.r.retryAfterMs - x.r.retryAfterMs) <= 1, call).toBe(true);
          });
        },
      ),
    );
  });

  it("slidingLog admits exactly what a brute-force window count admits", () => {
    fc.assert(
      fc.property(logArb, startArb, callsArb, (s, start, calls) => {
        const log: { t: number; cost: number }[] = [];
        const windowMs = s.policy.windowMs;
        for (const x of run(s.policy, start, calls)) {
          const used = log.filter((e) => e.t > x.t - windowMs).reduce((a, e) => a + e.cost, 0);
          const want = used + x.cost <= s.policy.limit;
          expect(x.r.allowed, `${s.label} consume(at=${x.t}, cost=${x.cost}) = ${show(x.r)}, used ${used}`).toBe(want);
          expect(x.r.remaining, `${s.label} consume(at=${x.t}, cost=${x.cost})`).toBe(
            s.policy.limit - used - (want ? x.cost : 0),
          );
          if (want && x.cost > 0) log.push({ t: x.t, cost: x.cost });
        }
      }),
    );
  });

  it("RateLimiter + MemoryStore decides exactly as the pure core, step by step", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(...Object.values(subjects)), startArb, callsArb, async (s, start, calls) => {
        const limiter = new RateLimiter({ policy: s.policy, now: () => 0 });
        const pure = run(s.policy, start, calls);
        for (const x of pure) {
          const d = await limiter.consumeAt("k", x.t, x.cost);
          const got = [d.allowed, d.remaining, d.retryAfterMs, d.resetAfterMs];
          const want = [x.r.allowed, x.r.remaining, x.r.retryAfterMs, x.r.resetAfterMs];
          expect(got, `${s.label} consumeAt(at=${x.t}, cost=${x.cost}) = ${show(got)} want ${show(want)}`).toEqual(
            want,
          );
        }
      }),
      { numRuns: budget(60, 20) },
    );
  });

  it("an array of policies is all-or-nothing: a denial takes nothing from any policy", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(...Object.values(subjects)),
        fc.oneof(...Object.values(subjects)),
        startArb,
        callsArb,
        async (a, b, start, calls) => {
          const pa = withName(a.policy, "first");
          const pb = withName(b.policy, "second");
          const limiter = new RateLimiter({ policy: [pa, pb], now: () => 0 });
          const limit = Math.min(pa.limit, pb.limit);
          let sa: readonly number[] | null = null;
          let sb: readonly number[] | null = null;
          let t = start;
          for (const c of calls) {
            t += c.gapMs;
            const cost = costOf(c, limit);
            const ra = applyPolicy(pa, sa, t, cost);
            const rb = applyPolicy(pb, sb, t, cost);
            const both = ra.allowed && rb.allowed;
            const d = await limiter.consumeAt("k", t, cost);
            const call = `consumeAt(at=${t}, cost=${cost}) = ${show(d)}; alone: ${show(ra)} ${show(rb)}`;
            expect(d.allowed, call).toBe(both);
            if (both) {
              sa = ra.state;
              sb = rb.state;
            }
            // Each policy's standing afterwards is what the pure states say: nothing was taken on a denial.
            const peek = await limiter.peekAt("k", t);
            expect(
              peek.policies.map((p) => p.remaining),
              call,
            ).toEqual([applyPolicy(pa, sa, t, 0).remaining, applyPolicy(pb, sb, t, 0).remaining]);
          }
        },
      ),
      { numRuns: budget(60, 20) },
    );
  });

  it("concurrent consume calls on one key never over-admit", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(...Object.values(subjects)),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 200 }),
        async (s, shares) => {
          const limiter = new RateLimiter({ policy: s.policy, now: () => 1_700_000_000_000 });
          const costs = shares.map((x) => costOf({ gapMs: 0, costShare: x }, s.policy.limit));
          const decisions = await Promise.all(costs.map((c) => limiter.consume("k", c)));
          const admitted = decisions.reduce((sum, d, i) => sum + (d.allowed ? (costs[i] as number) : 0), 0);
          expect(admitted <= s.policy.limit, `${s.label}: ${costs.length} concurrent calls admitted ${admitted}`).toBe(
            true,
          );
          // Exact, not just safe: one at a time on the pure core admits the same total.
          const pure = run(
            s.policy,
            1_700_000_000_000,
            shares.map((x) => ({ gapMs: 0, costShare: x })),
          ).reduce((sum, x) => sum + (x.r.allowed ? x.cost : 0), 0);
          expect(admitted, s.label).toBe(pure);
        },
      ),
      { numRuns: budget(60, 20) },
    );
  });

  it("1000 concurrent consume(1) on a bucket of 100 admit exactly 100", async () => {
    const limiter = new RateLimiter({ policy: tokenBucket({ capacity: 100, refillRate: 1 }), now: () => 5 });
    const decisions = await Promise.all(Array.from({ length: 1000 }, () => limiter.consume("k")));
    expect(decisions.filter((d) => d.allowed).length).toBe(100);
  });
});

describe("no drift", () => {
  // A greedy client asks every ms; the bucket starts full at t0, so by t0 + T it has had
  // capacity + rate * T / 1000 tokens in all and spent every whole one: floor of that, exactly.
  // Fractions are kept in the state, so the only slack is EPSILON (1e-9 token) at an exact
  // boundary, where the count may be one higher; T below is chosen off the boundaries, and one on it.
  // Under `npm run mutate` (budget.ts) the same shape, 100 times shorter: 30,650 ms off a boundary, 26,000 on one.
  for (const [startMs, stepsMs] of [
    [0, budget(3_000_650, 30_650)],
    [1_700_000_000_000, budget(3_000_650, 30_650)],
    [0, budget(2_600_000, 26_000)],
  ] as const) {
    it(`tokenBucket at 10/13 per second, every ms for ${stepsMs} ms from ${startMs}`, () => {
      const capacity = 10;
      const policy = tokenBucket({ capacity, refillRate: 10 / 13 });
      const state: number[] = [];
      const next: number[] = [];
      const out = { allowed: false, remaining: 0, retryAfterMs: 0, resetAfterMs: 0 };
      let admitted = 0;
      for (let i = 0; i <= stepsMs; i++) {
        if (policy.evaluate(state, 0, i === 0, startMs + i, 1, next, out)) {
          admitted++;
          state[0] = next[0] as number;
          state[1] = next[1] as number;
        }
      }
      // Exact count with integers: capacity + floor(10 * T / 13000).
      const want = capacity + Math.floor((10 * stepsMs) / 13000);
      expect(admitted, `admitted over ${stepsMs} ms`).toBe(want);
    });
  }

  /** CALLS is how many random calls the exact-model runs below make (budget.ts). */
  const CALLS = budget(1_000_000, 20_000);

  // Regression: GCRA kept tat in ms and rounded it on every admitted call; a client at the limit
  // never lets tat fall behind now, so the error grew until exact-boundary decisions flipped (~1e5 calls).
  for (const [limit, periodMs, burst] of [
    [7, 1000, 7],
    [41, 1000, 41],
    [997, 1000, 100],
    [13, 7, 20],
    [10, 13000, 10],
  ] as const) {
    for (const startMs of [0, 1_700_000_000_000]) {
      it(`gcra({ limit: ${limit}, periodMs: ${periodMs}, burst: ${burst} }) at the limit for ${CALLS} calls from ${startMs} decides exactly`, () => {
        const policy = gcra({ limit, periodMs, burst });
        // Exact model in units of 1/limit ms: the emission interval is periodMs units.
        const tolerance = burst * periodMs;
        let tat: number | undefined;
        const random = lcg(limit * 31 + periodMs);
        const state: number[] = [];
        const next: number[] = [];
        const out = { allowed: false, remaining: 0, retryAfterMs: 0, resetAfterMs: 0 };
        let t = startMs;
        let fresh = true;
        let mismatches = 0;
        let first = "";
        for (let i = 0; i < CALLS; i++) {
          t += Math.floor(random() * 3);
          const cost = 1 + Math.floor(random() * 3);
          const now = t * limit;
          const ahead = tat !== undefined && tat > now ? tat - now : 0;
          const want = ahead + cost * periodMs <= tolerance;
          const got = policy.evaluate(state, 0, fresh, t, cost, next, out);
          if (got !== want) {
            mismatches++;
            first ||= `call ${i}: consume(at=${t}, cost=${cost}) = ${got}, exact ${want}`;
          }
          if (want) tat = now + ahead + cost * periodMs;
          if (got) {
            state[0] = next[0] as number;
            fresh = false;
          }
        }
        expect(mismatches, first).toBe(0);
      });
    }
  }

  for (const [capacity, n, m] of [
    [10, 10, 13],
    [3, 7, 3],
    [50, 1000, 7],
  ] as const) {
    for (const startMs of [0, 1_700_000_000_000]) {
      it(`tokenBucket({ capacity: ${capacity}, refillRate: ${n}/${m} }) at the limit for ${CALLS} calls from ${startMs} decides exactly`, () => {
        const policy = tokenBucket({ capacity, refillRate: n / m });
        // Exact model in units of 1/(1000 m) token: each ms adds n units.
        const D = 1000 * m;
        let units = capacity * D;
        let atMs = startMs;
        const random = lcg(capacity * 31 + n);
        const state: number[] = [];
        const next: number[] = [];
        const out = { allowed: false, remaining: 0, retryAfterMs: 0, resetAfterMs: 0 };
        let t = startMs;
        let fresh = true;
        let mismatches = 0;
        let first = "";
        for (let i = 0; i < CALLS; i++) {
          t += Math.floor(random() * 4);
          const cost = 1 + Math.floor(random() * Math.min(capacity, 3));
          const u = t > atMs ? Math.min(capacity * D, units + (t - atMs) * n) : units;
          const want = u >= cost * D;
          const got = policy.evaluate(state, 0, fresh, t, cost, next, out);
          const wantRemaining = Math.floor((want ? u - cost * D : u) / D);
          if (got !== want || out.remaining !== wantRemaining) {
            mismatches++;
            first ||= `call ${i}: consume(at=${t}, cost=${cost}) = ${got}/${out.remaining}, exact ${want}/${wantRemaining}`;
          }
          if (want) {
            units = u - cost * D;
            atMs = t;
          }
          if (got) {
            state[0] = next[0] as number;
            state[1] = next[1] as number;
            fresh = false;
          }
        }
        expect(mismatches, first).toBe(0);
      });
    }
  }

  const gcraSpanMs = budget(3_000_650, 30_650);
  it(`gcra at 10 per 13000 ms at epoch time, every ms for ${gcraSpanMs} ms`, () => {
    const policy = gcra({ limit: 10, periodMs: 13000 });
    const state: number[] = [];
    const next: number[] = [];
    const out = { allowed: false, remaining: 0, retryAfterMs: 0, resetAfterMs: 0 };
    let admitted = 0;
    const start = 1_700_000_000_000;
    for (let i = 0; i <= gcraSpanMs; i++) {
      if (policy.evaluate(state, 0, i === 0, start + i, 1, next, out)) {
        admitted++;
        state[0] = next[0] as number;
      }
    }
    expect(admitted).toBe(10 + Math.floor((10 * gcraSpanMs) / 13000));
  });
});

/** withName rebuilds a policy under another name, so two policies of one kind can be combined. */
function withName(p: Policy, name: string): Policy {
  return Object.freeze({ ...p, name, id: `${name}|${p.id}` });
}

describe("agreement with exact integer models", () => {
  // The smooth bucket at n/m tokens per second, in units of 1/(1000 m) token: a token is
  // D = 1000 m units and each ms adds n units, so every quantity is a whole number.
  it("tokenBucket and leakyBucket at n/m per second: same verdicts and waits as exact arithmetic", () => {
    fc.assert(
      fc.property(limitArb, rateArb, startArb, callsArb, (capacity, { n, m }, start, calls) => {
        const D = 1000 * m;
        const policies = [tokenBucket({ capacity, refillRate: n / m }), leakyBucket({ capacity, leakRate: n / m })];
        const label = `capacity ${capacity}, rate ${n}/${m}`;
        for (const policy of policies) {
          let units = capacity * D;
          let atMs = Number.NaN;
          let t = start;
          let state: readonly number[] | null = null;
          for (const c of calls) {
            t += c.gapMs;
            const cost = costOf(c, capacity);
            let u = units;
            let at = atMs;
            if (Number.isNaN(at)) at = t;
            if (t > at) {
              u = Math.min(capacity * D, u + (t - at) * n);
              at = t;
            }
            const allowed = u >= cost * D;
            const left = allowed ? u - cost * D : u;
            const wantRemaining = Math.floor(left / D);
            const wantRetry = allowed ? 0 : Math.ceil((cost * D - u) / n);
            const wantReset = Math.ceil((capacity * D - left) / n);
            const r = applyPolicy(policy, state, t, cost);
            const call = `${policy.kind}(${label}) consume(at=${t}, cost=${cost}) = ${show(r)} want allowed ${allowed}, remaining ${wantRemaining}, retry ${wantRetry}, reset ${wantReset}`;
            expect([r.allowed, r.remaining], call).toEqual([allowed, wantRemaining]);
            // Regression (issue 8, defect 1): the waits were up to 1 ms longer than exact (1001 for 1000).
            expect([r.retryAfterMs, r.resetAfterMs], call).toEqual([wantRetry, wantReset]);
            state = r.state;
            if (allowed && cost > 0) {
              units = left;
              atMs = at;
            }
          }
        }
      }),
    );
  });

  // GCRA in units of 1/limit ms: the emission interval is periodMs units, tat * limit is whole.
  it("gcra: same verdicts and waits as exact arithmetic, at small and epoch times", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 20_000 }),
        limitArb,
        startArb,
        callsArb,
        (limit, periodMs, burst, start, calls) => {
          const policy = gcra({ limit, periodMs, burst });
          const tolerance = burst * periodMs; // in units of 1/limit ms
          let tat: number | undefined; // tat * limit
          let t = start;
          let state: readonly number[] | null = null;
          for (const c of calls) {
            t += c.gapMs;
            const cost = costOf(c, burst);
            const now = t * limit;
            const ahead = tat !== undefined && tat > now ? tat - now : 0;
            const newAhead = ahead + cost * periodMs;
            const allowed = newAhead <= tolerance;
            const wantRemaining = Math.floor((tolerance - (allowed ? newAhead : ahead)) / periodMs);
            const wantRetry = allowed ? 0 : Math.ceil((newAhead - tolerance) / limit);
            const wantReset = Math.ceil((allowed ? newAhead : ahead) / limit);
            const r = applyPolicy(policy, state, t, cost);
            const call = `gcra({ limit: ${limit}, periodMs: ${periodMs}, burst: ${burst} }) consume(at=${t}, cost=${cost}) = ${show(r)} want ${allowed}, ${wantRemaining}, ${wantRetry}, ${wantReset}`;
            expect([r.allowed, r.remaining, r.retryAfterMs, r.resetAfterMs], call).toEqual([
              allowed,
              wantRemaining,
              wantRetry,
              wantReset,
            ]);
            state = r.state;
            if (allowed && cost > 0) tat = now + newAhead;
          }
        },
      ),
    );
  });
});

describe("the sliding window counter against an exact model", () => {
  // In units of 1/windowMs, the estimate previous * (windowMs - elapsed) / windowMs + current is whole.
  it("same verdicts and remaining; retryAfterMs is the first whole ms the exact model admits", () => {
    fc.assert(
      fc.property(limitArb, fc.integer({ min: 1, max: 200 }), startArb, callsArb, (limit, windowMs, start, calls) => {
        const policy = slidingWindow({ limit, windowMs });
        const W = windowMs;
        let st: [number, number, number] | undefined;
        const roll = (t: number): [number, number, number] => {
          const s0 = Math.floor(t / W) * W;
          if (st === undefined) return [s0, 0, 0];
          const [ws, prev, cur] = st;
          if (s0 > ws) return [s0, s0 === ws + W ? cur : 0, 0];
          return [ws, prev, cur];
        };
        const admits = (t: number, cost: number): [boolean, number, [number, number, number]] => {
          const r = roll(t);
          const [ws, prev, cur] = r;
          const e = Math.max(0, t - ws);
          const used = prev * (W - e) + cur * W; // estimate * W
          const ok = used + cost * W <= limit * W;
          return [ok, Math.floor((limit * W - used - (ok ? cost * W : 0)) / W), r];
        };
        let state: readonly number[] | null = null;
        let t = start;
        for (const c of calls) {
          t += c.gapMs;
          const cost = costOf(c, limit);
          const [ok, remaining, r] = admits(t, cost);
          let retry = 0;
          if (!ok) {
            retry = 1;
            while (!admits(t + retry, cost)[0]) retry++;
          }
          const got = applyPolicy(policy, state, t, cost);
          const call = `slidingWindow({ limit: ${limit}, windowMs: ${W} }) on ${show(state)} consume(at=${t}, cost=${cost}) = ${show(got)} want ${ok}, ${remaining}, retry ${retry}`;
          expect([got.allowed, got.remaining], call).toEqual([ok, remaining]);
          expect(got.retryAfterMs, call).toBe(retry);
          if (ok && cost > 0) st = [r[0], r[1], r[2] + cost];
          state = got.state;
        }
      }),
    );
  });
});
