// service-decide.test.ts: the service's decision path on an injected clock: hits_addend, shadow mode, unlimited,
// replaces, unknown domains, bounds, and all-or-nothing across descriptors (a table, a property, concurrency).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fixedWindow, RateLimiter } from "../../src/index.js";
import { parseConfig } from "../../src/service/config.js";
import { type DecideInput, Decider, type ServiceVerdict } from "../../src/service/decide.js";
import { MISSING_PROM_CLIENT, serviceMetrics } from "../../src/service/metrics.js";
import { ServiceStats } from "../../src/service/stats.js";

const CONFIG = `
domain: shop
descriptors:
  - key: a
    rate_limit: { unit: second, requests_per_unit: 5 }
  - key: b
    rate_limit: { unit: second, requests_per_unit: 2 }
  - key: c
    rate_limit: { unit: second, requests_per_unit: 3 }
  - key: shadow
    shadow_mode: true
    rate_limit: { unit: second, requests_per_unit: 1 }
  - key: free
    rate_limit: { unit: second, requests_per_unit: 1, name: free }
  - key: gold
    rate_limit:
      unit: second
      requests_per_unit: 100
      replaces:
        - name: free
  - key: open
    rate_limit: { unlimited: true }
  - key: tb
    rate_limit: { unit: second, requests_per_unit: 2, algorithm: token_bucket, burst: 4 }
`;

/** setup builds a decider over a memory store on a clock the test moves (starting on a window boundary). */
function setup(text = CONFIG) {
  const clock = { now: 1_000_000 };
  const limiter = new RateLimiter({
    policy: fixedWindow({ limit: 1, windowMs: 1000 }),
    now: () => clock.now,
  });
  return { clock, decider: new Decider(limiter, parseConfig([{ file: "t.yaml", text }])) };
}

const d = (key: string, value = "v", hitsAddend?: number) => ({ entries: [{ key, value }], hitsAddend });
const req = (descriptors: ReturnType<typeof d>[], hitsAddend?: number): DecideInput => ({
  domain: "shop",
  descriptors,
  hitsAddend,
});
const brief = (v: ServiceVerdict) => ({
  overall: v.overall,
  statuses: v.statuses.map((s) => [s.code, s.rule === undefined ? null : (s.decision?.remaining ?? null)]),
});

describe("one descriptor", () => {
  it("counts hits_addend: request-level 0 counts 1, N counts N; a descriptor's 0 checks without counting", async () => {
    const { decider, clock } = setup();
    const steps: { step: number; at: number; input: DecideInput; want: ReturnType<typeof brief>; why: string }[] = [
      {
        step: 1,
        at: 0,
        input: req([d("a")]),
        want: { overall: "OK", statuses: [["OK", 4]] },
        why: "0 (unset) counts 1",
      },
      { step: 2, at: 0, input: req([d("a")], 3), want: { overall: "OK", statuses: [["OK", 1]] }, why: "3 counts 3" },
      {
        step: 3,
        at: 0,
        input: req([d("a", "v", 0)]),
        want: { overall: "OK", statuses: [["OK", 1]] },
        why: "a check counts nothing",
      },
      {
        step: 4,
        at: 0,
        input: req([d("a")], 2),
        want: { overall: "OVER_LIMIT", statuses: [["OVER_LIMIT", 1]] },
        why: "2 > 1 left: refused, nothing taken",
      },
      { step: 5, at: 0, input: req([d("a")]), want: { overall: "OK", statuses: [["OK", 0]] }, why: "the last one" },
      {
        step: 6,
        at: 0,
        input: req([d("a", "v", 0)]),
        want: { overall: "OVER_LIMIT", statuses: [["OVER_LIMIT", 0]] },
        why: "a check with nothing left is over",
      },
      {
        step: 7,
        at: 0,
        input: req([d("a", "w")]),
        want: { overall: "OK", statuses: [["OK", 4]] },
        why: "another value, its own limit",
      },
      {
        step: 8,
        at: 1000,
        input: req([d("a")]),
        want: { overall: "OK", statuses: [["OK", 4]] },
        why: "the next window",
      },
      {
        step: 9,
        at: 1000,
        input: req([d("a")], 6),
        want: { overall: "OVER_LIMIT", statuses: [["OVER_LIMIT", 4]] },
        why: "hits above the limit never pass",
      },
    ];
    for (const s of steps) {
      clock.now = 1_000_000 + s.at;
      const got = brief(await decider.decide(s.input));
      expect(got, `step ${s.step} (${s.why}): decide(${JSON.stringify(s.input)})`).toEqual(s.want);
    }
  });

  it("answers durations and headers: Retry-After on a refusal, RateLimit for the limits applied", async () => {
    const { decider, clock } = setup();
    clock.now = 1_000_250;
    await decider.decide(req([d("b")], 2));
    const v = await decider.decide(req([d("b")]));
    expect(v.overall).toBe("OVER_LIMIT");
    expect(v.statuses[0]?.durationUntilResetMs).toBe(750);
    const h = Object.fromEntries(v.headers);
    expect(h["Retry-After"]).toBe("1");
    expect(h.RateLimit).toMatch(/^"r[0-9a-f]{8}";r=0;t=1$/);
    expect(h["RateLimit-Policy"]).toMatch(/^"r[0-9a-f]{8}";q=2;w=1$/);
  });

  it("runs floodgate's algorithms: a token bucket with burst 4 refilling 2/s", async () => {
    const { decider, clock } = setup();
    const got: string[] = [];
    for (let i = 0; i < 5; i++) got.push((await decider.decide(req([d("tb")]))).overall);
    expect(got).toEqual(["OK", "OK", "OK", "OK", "OVER_LIMIT"]);
    clock.now += 500; // one token back
    expect((await decider.decide(req([d("tb")]))).overall).toBe("OK");
    expect((await decider.decide(req([d("tb")]))).overall).toBe("OVER_LIMIT");
  });
});

describe("shadow mode, unlimited, replaces, unknown domains", () => {
  it("a shadow rule over its limit answers OK and says so; it adds no header", async () => {
    const { decider } = setup();
    await decider.decide(req([d("shadow")]));
    const v = await decider.decide(req([d("shadow")]));
    expect(v.overall).toBe("OK");
    expect(v.statuses[0]).toMatchObject({ code: "OK", shadowOverLimit: true });
    expect(v.headers).toEqual([]);
  });

  it("an unlimited rule matches (the value-less default does not apply) and limits nothing", async () => {
    const { decider } = setup();
    for (let i = 0; i < 5; i++) {
      const v = await decider.decide(req([d("open")]));
      expect(v.statuses[0]).toMatchObject({ code: "OK", rule: undefined, matched: { unlimited: true } });
    }
  });

  it("replaces: when gold and free both match, free is not applied", async () => {
    const { decider } = setup();
    for (let i = 0; i < 3; i++) {
      const v = await decider.decide(req([d("free"), d("gold")]));
      expect(v.overall, `call ${i + 1}`).toBe("OK");
      expect(v.statuses[0]).toMatchObject({ rule: undefined, matched: { name: "free" } });
    }
    // Alone, free applies: its limit of 1 was never touched by the three calls above.
    expect(brief(await decider.decide(req([d("free")])))).toEqual({ overall: "OK", statuses: [["OK", 0]] });
    expect((await decider.decide(req([d("free")]))).overall).toBe("OVER_LIMIT");
  });

  it("an unknown domain and an unmatched descriptor answer OK with no limit", async () => {
    const { decider } = setup();
    const v = await decider.decide({ domain: "nope", descriptors: [d("a")] });
    expect(v).toMatchObject({ overall: "OK", knownDomain: false, headers: [] });
    expect((await decider.decide(req([d("zzz")]))).statuses[0]).toMatchObject({ code: "OK", rule: undefined });
  });
});

describe("bad input is refused before anything is counted", () => {
  const rows: { step: number; input: unknown; want: RegExp }[] = [
    { step: 1, input: { domain: "", descriptors: [d("a")] }, want: /needs a domain/ },
    { step: 2, input: { domain: "shop", descriptors: [] }, want: /at least one descriptor/ },
    {
      step: 3,
      input: { domain: "shop", descriptors: Array.from({ length: 65 }, () => d("a")) },
      want: /65 descriptors, more than 64/,
    },
    { step: 4, input: { domain: "shop", descriptors: [{ entries: [] }] }, want: /descriptor 0 has no entries/ },
    {
      step: 5,
      input: { domain: "shop", descriptors: [{ entries: [{ key: "a", value: 1 }] }] },
      want: /string key and value/,
    },
    { step: 6, input: { domain: "shop", descriptors: [d("a", "x".repeat(1025))] }, want: /longer than 1024/ },
    {
      step: 7,
      input: { domain: "shop", descriptors: [d("a")], hitsAddend: -1 },
      want: /hits_addend must be a whole number/,
    },
    { step: 8, input: { domain: "shop", descriptors: [d("a", "v", 1.5)] }, want: /descriptors\[0\]\.hits_addend/ },
  ];
  it.each(rows)("step $step", async ({ step, input, want }) => {
    const { decider } = setup();
    await expect(decider.decide(input as DecideInput), `step ${step}`).rejects.toThrow(want);
    // Nothing was counted for "a".
    expect(brief(await decider.peek(req([d("a")])))).toEqual({ overall: "OK", statuses: [["OK", 5]] });
  });
});

describe("all-or-nothing across descriptors", () => {
  it("a refused request takes nothing from its other limits (and, with all_or_nothing: false, it does)", async () => {
    for (const aon of [true, false]) {
      const { decider } = setup(aon ? CONFIG : CONFIG.replace("domain: shop", "domain: shop\nall_or_nothing: false"));
      const both = req([d("a"), d("b")]);
      expect(brief(await decider.decide(both))).toEqual({
        overall: "OK",
        statuses: [
          ["OK", 4],
          ["OK", 1],
        ],
      });
      expect(brief(await decider.decide(both))).toEqual({
        overall: "OK",
        statuses: [
          ["OK", 3],
          ["OK", 0],
        ],
      });
      const third = brief(await decider.decide(both));
      expect(third.overall).toBe("OVER_LIMIT");
      const a = (await decider.peek(req([d("a")]))).statuses[0]?.decision?.remaining;
      expect(a, `all_or_nothing ${aon}: a's remaining after the refused request`).toBe(aon ? 3 : 2);
    }
  });

  it("property: every verdict and every remaining equals a model in which a refused request takes nothing", () => {
    const keys = ["a", "b", "c"] as const;
    const limits = { a: 5, b: 2, c: 3 };
    const call = fc.record({
      pick: fc.subarray([...keys], { minLength: 1 }),
      hits: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 3, maxLength: 3 }),
      advanceMs: fc.constantFrom(0, 0, 0, 400, 1000),
    });
    return fc.assert(
      fc.asyncProperty(fc.array(call, { maxLength: 30 }), async (calls) => {
        const { decider, clock } = setup();
        let used = { a: 0, b: 0, c: 0 };
        let window = Math.floor(clock.now / 1000);
        for (const [i, c] of calls.entries()) {
          clock.now += c.advanceMs;
          if (Math.floor(clock.now / 1000) !== window) {
            window = Math.floor(clock.now / 1000);
            used = { a: 0, b: 0, c: 0 };
          }
          const hits = c.pick.map((_k, j) => c.hits[j] as number);
          const v = await decider.decide(req(c.pick.map((k, j) => d(k, "v", hits[j]))));
          // The model: a check (0) passes when something is left; hits pass when they fit; all or nothing.
          const fits = c.pick.map((k, j) => {
            const h = hits[j] as number;
            return h === 0 ? used[k] < limits[k] : used[k] + h <= limits[k];
          });
          const ok = fits.every(Boolean);
          if (ok) {
            c.pick.forEach((k, j) => {
              used[k] += hits[j] as number;
            });
          }
          expect(v.overall, `call ${i}: ${JSON.stringify(c)}`).toBe(ok ? "OK" : "OVER_LIMIT");
          c.pick.forEach((k, j) => {
            expect(v.statuses[j]?.code, `call ${i} ${k}`).toBe(fits[j] ? "OK" : "OVER_LIMIT");
            expect(v.statuses[j]?.decision?.remaining, `call ${i} ${k} remaining`).toBe(
              Math.max(0, limits[k] - used[k]),
            );
          });
        }
      }),
      { numRuns: 200 },
    );
  });

  it("under 500 concurrent requests the tightest limit admits exactly its limit and the others lose nothing more", async () => {
    const text = CONFIG.replace("requests_per_unit: 5 }", "requests_per_unit: 400 }").replace(
      "requests_per_unit: 2 }",
      "requests_per_unit: 123 }",
    );
    const { decider } = setup(text);
    const verdicts = await Promise.all(Array.from({ length: 500 }, () => decider.decide(req([d("a"), d("b")]))));
    const admitted = verdicts.filter((v) => v.overall === "OK").length;
    expect(admitted).toBe(123);
    expect((await decider.peek(req([d("a")]))).statuses[0]?.decision?.remaining).toBe(400 - 123);
  });
});

describe("counters in Envoy's vocabulary (ServiceStats)", () => {
  it("counts hits per rule: total, within, near (past 80%), over, shadow; never a request value as a label", async () => {
    const { decider } = setup();
    const stats = new ServiceStats();
    const run = async (input: DecideInput) => stats.record(input, await decider.decide(input));
    // a (limit 5): 3 hits within (remaining 2: 60% used), then 2 within past 80% (remaining 0), then 1 over.
    await run(req([d("a", "secret-user")], 3));
    await run(req([d("a", "secret-user")], 2));
    await run(req([d("a", "secret-user")]));
    // shadow (limit 1): 1 within, then 1 over in shadow mode (answered OK).
    await run(req([d("shadow")]));
    await run(req([d("shadow")]));
    const metrics = await serviceMetrics(decider.limiter, stats);
    if ("unavailable" in metrics) throw new Error(metrics.unavailable);
    const text = await metrics.render();
    metrics.close();
    const value = (name: string, rule: string) =>
      Number(
        new RegExp(`^floodgate_ratelimit_${name}_total\\{domain="shop",rule="${rule}"\\} (\\d+)$`, "m").exec(text)?.[1],
      );
    expect([
      value("total_hits", "shop/a"),
      value("within_limit", "shop/a"),
      value("near_limit", "shop/a"),
      value("over_limit", "shop/a"),
    ]).toEqual([6, 5, 2, 1]);
    expect([
      value("total_hits", "shop/shadow"),
      value("within_limit", "shop/shadow"),
      value("over_limit", "shop/shadow"),
      value("shadow_mode", "shop/shadow"),
    ]).toEqual([2, 1, 1, 1]);
    expect(text).toMatch(/^floodgate_service_requests_total\{code="OK"\} 4$/m);
    expect(text).toMatch(/^floodgate_service_requests_total\{code="OVER_LIMIT"\} 1$/m);
    expect(text).not.toContain("secret-user");
  });

  it("without prom-client (an optional peer) /metrics is unavailable, with the fix", async () => {
    const { decider } = setup();
    const metrics = await serviceMetrics(decider.limiter, new ServiceStats(), () =>
      Promise.reject(new Error("Cannot find package 'prom-client'")),
    );
    expect(metrics).toEqual({ unavailable: MISSING_PROM_CLIENT });
    expect(MISSING_PROM_CLIENT).toMatch(/npm install prom-client/);
  });
});

describe("decideNow (the HTTP API's hot path)", () => {
  it("answers as decide does, without a promise for one in-process limit to count, with decide's promise otherwise", async () => {
    const a = setup();
    const b = setup();
    const rows: [DecideInput, boolean][] = [
      [req([d("a")]), true],
      [req([d("a")], 3), true],
      [req([d("a")], 2), true], // refused: 1 left
      [req([d("a", "v", 0)]), false], // a check
      [req([d("a")], 6), false], // above the limit: peeked
      [req([d("shadow")]), true],
      [req([d("shadow")]), true], // a shadow rule's refusal answers OK
      [req([d("gold"), d("free")]), true], // free is replaced: one limit
      [req([d("open")]), false], // unlimited: nothing to count
      [req([d("a"), d("b")]), false], // two limits: all or nothing
      [{ domain: "elsewhere", descriptors: [d("a")] }, false],
      [{ domain: "shop", descriptors: [{ ...d("tb"), limit: { requestsPerUnit: 0, unit: "second" } }] }, false], // 0
    ];
    const full = (v: ServiceVerdict) => ({
      overall: v.overall,
      headers: v.headers,
      statuses: v.statuses.map((s) => [s.code, s.rule?.path, s.decision?.remaining, s.durationUntilResetMs]),
    });
    for (const [i, [input, sync]] of rows.entries()) {
      a.clock.now += 10;
      b.clock.now += 10;
      const now = b.decider.decideNow(input);
      expect(now instanceof Promise, `row ${i}: ${JSON.stringify(input)}`).toBe(!sync);
      expect(full(await now), `row ${i}`).toEqual(full(await a.decider.decide(input)));
    }
    // Bad input throws at once, as decide rejects.
    expect(() => b.decider.decideNow({ domain: "", descriptors: [d("a")] })).toThrow(/needs a domain/);
  });
});
