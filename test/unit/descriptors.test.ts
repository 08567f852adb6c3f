// descriptors.test.ts: each algorithm's descriptor (core/algorithm.ts): its names, create, scale and nextUnitMs,
// read straight from src/core, without the Redis store or the HTTP layer that use them.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AlgorithmDescriptor, Verdict } from "../../src/core/algorithm.js";
import { applyPolicy } from "../../src/core/apply.js";
import { fixedWindow } from "../../src/core/fixed-window.js";
import { gcra } from "../../src/core/gcra.js";
import { leakyBucket } from "../../src/core/leaky-bucket.js";
import type { Policy } from "../../src/core/policy.js";
import { ALGORITHMS, algorithmByCode } from "../../src/core/registry.js";
import { slidingLog } from "../../src/core/sliding-log.js";
import { slidingWindow } from "../../src/core/sliding-window.js";
import { STEPPED_TOKEN_BUCKET, TOKEN_BUCKET, tokenBucket } from "../../src/core/token-bucket.js";
import { budget } from "./budget.js";

/** examples builds one policy of each descriptor, with distinct numbers so a swapped option shows. Tests that check
 * what a factory computes call it inside the test, so that mutation testing's per-test coverage sees the factory. */
const examples = (): Policy[] => [
  tokenBucket({ name: "tb", capacity: 10, refillRate: 2 }),
  tokenBucket({ name: "ts", capacity: 10, refillAmount: 3, refillIntervalMs: 1000 }),
  gcra({ name: "gc", limit: 10, periodMs: 1000, burst: 5 }),
  leakyBucket({ name: "lb", capacity: 8, leakRate: 4 }),
  fixedWindow({ name: "fw", limit: 6, windowMs: 600 }),
  slidingWindow({ name: "sw", limit: 6, windowMs: 600 }),
  slidingLog({ name: "sl", limit: 6, windowMs: 600 }),
];
const EXAMPLES = examples();

/** v is a verdict literal. */
const v = (allowed: boolean, remaining: number, retryAfterMs: number, resetAfterMs: number): Verdict => ({
  allowed,
  remaining,
  retryAfterMs,
  resetAfterMs,
});

describe("the registry and the descriptors' names", () => {
  it("lists each descriptor once, under the names its Lua twin and messages use", () => {
    const rows = ALGORITHMS.map((a) => [a.code, a.kind, a.factory, a.lua, a.params.join(",")]);
    expect(rows).toEqual([
      ["tb", "tokenBucket", "tokenBucket", "token_bucket.lua", "capacity,refillRate"],
      ["ts", "tokenBucket", "tokenBucket", "token_bucket.lua", "capacity,refillAmount,refillIntervalMs"],
      ["gc", "gcra", "gcra", "gcra.lua", "emissionIntervalMs,burstToleranceMs,burst"],
      ["lb", "leakyBucket", "leakyBucket", "leaky_bucket.lua", "capacity,leakRate"],
      ["fw", "fixedWindow", "fixedWindow", "fixed_window.lua", "limit,windowMs"],
      ["sw", "slidingWindow", "slidingWindow", "sliding_window.lua", "limit,windowMs"],
      ["sl", "slidingLog", "slidingLog", "sliding_log.lua", "limit,windowMs"],
    ]);
    for (const a of ALGORITHMS) expect(algorithmByCode(a.code), a.code).toBe(a);
    expect(algorithmByCode("xx"), "an unknown code").toBeUndefined();
    expect(Object.isFrozen(ALGORITHMS), "the list is frozen").toBe(true);
  });

  it("each example policy carries its descriptor, and the descriptor's params name its params", () => {
    for (const [i, p] of examples().entries()) {
      expect(p.algorithm, p.name).toBe(ALGORITHMS[i]);
      expect(p.algorithm.code, p.name).toBe(p.name);
      expect(p.params.length, `${p.name}: params ${JSON.stringify(p.params)}`).toBe(p.algorithm.params.length);
    }
  });
});

describe("create builds the same policy again from its options and name", () => {
  for (const [i, { algorithm }] of EXAMPLES.entries()) {
    it(`${algorithm.code}: create({ ...options, name }) has the same id, limit and window`, () => {
      const p = examples()[i] as Policy;
      const again = p.algorithm.create({ ...p.options, name: p.name });
      expect([again.id, again.limit, again.windowMs, again.algorithm]).toEqual([
        p.id,
        p.limit,
        p.windowMs,
        p.algorithm,
      ]);
    });
  }

  // The smooth and the stepped bucket share the factory; each descriptor refuses the other form's options.
  it("a token bucket descriptor refuses the options of the other form, naming the form and its options", () => {
    const cases: [AlgorithmDescriptor, Record<string, unknown>, string][] = [
      [
        TOKEN_BUCKET,
        { capacity: 5, refillAmount: 1, refillIntervalMs: 100 },
        "a smooth tokenBucket needs { capacity, refillRate }",
      ],
      [
        STEPPED_TOKEN_BUCKET,
        { capacity: 5, refillRate: 1 },
        "a stepped tokenBucket needs { capacity, refillAmount, refillIntervalMs }",
      ],
    ];
    for (const [d, options, says] of cases) {
      let err: (Error & { code?: string }) | undefined;
      try {
        d.create(options);
      } catch (e) {
        err = e as Error & { code?: string };
      }
      expect(err?.code, `${d.code}.create(${JSON.stringify(options)}) threw ${err?.message}`).toBe(
        "ERR_INVALID_POLICY",
      );
      expect(err?.message, d.code).toBe(`floodgate: ${says}; got the options of the other form.`);
    }
  });
});

describe("scale: the policy an insurance limiter applies in each of N processes", () => {
  // Each row: the policy, the scale, the expected options of the scaled policy, and why.
  const rows: [Policy, number, string, Record<string, number>, string][] = [
    [EXAMPLES[0]!, 0.25, "tb", { capacity: 2, refillRate: 0.5 }, "floor(10 / 4) = 2; the rate scales exactly"],
    [EXAMPLES[0]!, 0.05, "tb", { capacity: 1, refillRate: 0.1 }, "floor(0.5) = 0 is raised to 1"],
    [
      EXAMPLES[1]!,
      0.5,
      "ts",
      { capacity: 5, refillAmount: 3, refillIntervalMs: 2000 },
      "the same steps, twice as far apart",
    ],
    [
      EXAMPLES[1]!,
      0.3,
      "ts",
      { capacity: 3, refillAmount: 3, refillIntervalMs: 3333 },
      "1000 / 0.3 = 3333.3 rounds to 3333",
    ],
    [
      EXAMPLES[1]!,
      0.6,
      "ts",
      { capacity: 6, refillAmount: 3, refillIntervalMs: 1667 },
      "1000 / 0.6 = 1666.7 rounds up to 1667",
    ],
    [
      EXAMPLES[2]!,
      0.5,
      "tb",
      { capacity: 2, refillRate: 5 },
      "GCRA scales as the token bucket it equals: capacity floor(burst 5 / 2), rate 10 per s / 2",
    ],
    [EXAMPLES[3]!, 0.5, "lb", { capacity: 4, leakRate: 2 }, "capacity and leak rate halved"],
    [EXAMPLES[4]!, 0.5, "fw", { limit: 3, windowMs: 600 }, "the limit halves, the window stays"],
    [EXAMPLES[5]!, 0.34, "sw", { limit: 2, windowMs: 600 }, "floor(6 * 0.34) = floor(2.04) = 2"],
    [EXAMPLES[6]!, 0.1, "sl", { limit: 1, windowMs: 600 }, "floor(0.6) = 0 is raised to 1"],
  ];
  for (const [i, [p, scale, code, options, why]] of rows.entries()) {
    it(`step ${i + 1}: ${p.algorithm.code}.scale(${p.id}, ${scale}): ${why}`, () => {
      const s = p.algorithm.scale(p, scale);
      expect([s.algorithm.code, s.name, { ...s.options }], why).toEqual([code, p.name, options]);
    });
  }

  it("property: a scaled policy keeps its name and its kind of window, with a limit of max(1, floor(limit * scale))", () => {
    fc.assert(
      fc.property(fc.constantFrom(...EXAMPLES), fc.double({ min: 0.01, max: 0.99, noNaN: true }), (p, scale) => {
        const s = p.algorithm.scale(p, scale);
        const want = Math.max(1, Math.floor(p.limit * scale));
        const where = `${p.id} scaled by ${scale} = ${s.id}`;
        expect(s.limit, where).toBe(want);
        expect(s.name, where).toBe(p.name);
        if (p.algorithm.code.endsWith("w") || p.algorithm.code === "sl") expect(s.windowMs, where).toBe(p.windowMs);
      }),
    );
  });
});

describe("nextUnitMs: when available quota next grows (the t of RateLimit)", () => {
  // Each row: the policy, a verdict, the expected t, and why. Units: tb 500 ms per token; ts 3 tokens per
  // 1000 ms; gc 100 ms per unit (periodMs / limit, not / burst); lb 250 ms per unit; windows of 600 ms.
  const [tb, ts, gc, lb, fw, sw, sl] = EXAMPLES as [Policy, Policy, Policy, Policy, Policy, Policy, Policy];
  const rows: [Policy, Verdict, number, string][] = [
    [tb, v(true, 10, 0, 0), 500, "full: spent now, the first token returns after one unit"],
    [tb, v(true, 7, 0, 1500), 500, "3 missing, full at 1500: the next lands 2 units earlier, at 500"],
    [tb, v(true, 7, 0, 1200), 200, "3 missing, full at 1200: the next at 1200 - 1000"],
    [tb, v(true, 7, 0, 900), 0, "the next token is already due: never below 0"],
    [tb, v(false, 9, 300, 2000), 500, "1 missing but full only at 2000 (a fraction spent): at most one unit"],
    [tb, v(true, 9, 0, 1), 1, "1 missing, full in 1 ms"],
    [ts, v(true, 10, 0, 0), 1000, "full: one interval"],
    [ts, v(true, 4, 0, 1700), 700, "6 missing = 2 steps; the last at 1700, the next 1 interval earlier"],
    [ts, v(true, 5, 0, 1700), 700, "5 missing also needs 2 steps of 3"],
    [ts, v(true, 7, 0, 2500), 1000, "3 missing = 1 step, at most one interval away"],
    [ts, v(true, 4, 0, 500), 0, "never below 0"],
    [ts, v(true, 9, 0, 300), 300, "1 missing, the step in 300 ms"],
    [gc, v(true, 5, 0, 0), 100, "full: one emission interval"],
    [gc, v(true, 2, 0, 250), 50, "3 missing, full at 250: the next 2 intervals earlier"],
    [lb, v(true, 8, 0, 0), 250, "empty: one unit's drain"],
    [lb, v(true, 5, 0, 600), 100, "3 in the bucket, empty at 600: a unit drains 500 ms earlier"],
    [fw, v(true, 6, 0, 0), 600, "nothing used: a whole window"],
    [fw, v(true, 5, 0, 0), 600, "used but no reset known: a whole window"],
    [fw, v(true, 6, 0, 250), 600, "nothing used: a whole window, whatever the reset says"],
    [fw, v(true, 5, 0, 250), 250, "the window ends in 250"],
    [fw, v(false, 0, 1, 1), 1, "the window ends in 1"],
    [sw, v(true, 6, 0, 0), 600, "nothing used: a whole window"],
    [sw, v(true, 3, 0, 0), 600, "used but no reset known: a whole window"],
    [sw, v(true, 6, 0, 250), 600, "nothing used: a whole window, whatever the reset says"],
    [sw, v(true, 3, 0, 900), 900, "allowed: the time to full"],
    [sw, v(false, 0, 300, 1000), 300, "denied: its own retry comes first"],
    [sw, v(false, 0, 1500, 1000), 1000, "denied: never later than full"],
    [sw, v(false, 1, 0, 700), 700, "a denial without a retry time: full"],
    [sl, v(true, 6, 0, 0), 600, "nothing used: a whole window"],
    [sl, v(true, 2, 0, 0), 600, "used but no reset known: a whole window"],
    [sl, v(true, 6, 0, 250), 600, "nothing used: a whole window, whatever the reset says"],
    [sl, v(true, 2, 0, 400), 400, "allowed: the time to full"],
    [sl, v(false, 0, 200, 550), 200, "denied: its own retry comes first"],
    [sl, v(false, 0, 580, 550), 550, "denied: never later than full"],
    [sl, v(false, 1, 0, 300), 300, "a denial without a retry time: full"],
  ];
  for (const [i, [p, d, want, why]] of rows.entries()) {
    it(`step ${i + 1}: ${p.algorithm.code}.nextUnitMs(${JSON.stringify(d)}) = ${want}: ${why}`, () => {
      expect(p.algorithm.nextUnitMs(p, d), why).toBe(want);
    });
  }

  it("a fractional unit rounds up: tokenBucket at 3 per second, full, reports 334 ms", () => {
    const p = tokenBucket({ capacity: 4, refillRate: 3 });
    expect(p.algorithm.nextUnitMs(p, v(true, 4, 0, 0))).toBe(334);
  });

  // The buckets, GCRA and the fixed window: quota grows exactly at now + t (not 2 ms before); the
  // sliding window and log at the latest then.
  for (const p of EXAMPLES) {
    const exact = !["sw", "sl"].includes(p.algorithm.code);
    it(`${p.algorithm.code}: property: after random traffic, quota grows ${exact ? "at" : "by"} now + nextUnitMs`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 900 }), cost: fc.integer({ min: 0, max: 3 }) }), {
            minLength: 1,
            maxLength: 25,
          }),
          (steps) => {
            let state: readonly number[] | null = null;
            let now = 10_000;
            for (const [i, s] of steps.entries()) {
              now += s.gapMs;
              const out = applyPolicy(p, state, now, s.cost);
              state = out.state;
              if (out.remaining >= p.limit) continue;
              const t = p.algorithm.nextUnitMs(p, out);
              const where = `step ${i + 1}: ${p.id} at ${now} = ${JSON.stringify(out)}, t=${t}`;
              expect(applyPolicy(p, state, now + t, 0).remaining, `${where}: remaining at now + t`).toBeGreaterThan(
                out.remaining,
              );
              if (exact && t >= 2) {
                const before = applyPolicy(p, state, now + t - 2, 0).remaining;
                expect(before, `${where}: remaining at now + t - 2 (grew before t)`).toBe(out.remaining);
              }
            }
          },
        ),
        { numRuns: budget(150, 30) },
      );
    });
  }
});
