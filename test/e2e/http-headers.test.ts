// http-headers.test.ts: the t of RateLimit is the time until more quota, for every algorithm; field syntax; Retry-After.

import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import fc from "fast-check";
import { parseList } from "structured-headers";
import { describe, expect, it } from "vitest";
import { applyPolicy } from "../../src/core/apply.js";
import { fixedWindow } from "../../src/core/fixed-window.js";
import { gcra } from "../../src/core/gcra.js";
import { leakyBucket } from "../../src/core/leaky-bucket.js";
import type { Policy } from "../../src/core/policy.js";
import { slidingLog } from "../../src/core/sliding-log.js";
import { slidingWindow } from "../../src/core/sliding-window.js";
import { tokenBucket } from "../../src/core/token-bucket.js";
import { limitField, nextUnitMs, policyField, retryAfterSeconds } from "../../src/http/headers.js";
import { RateLimiter } from "../../src/limiter.js";

const EXACT: Policy[] = [
  tokenBucket({ name: "tb", capacity: 5, refillRate: 2 }),
  tokenBucket({ name: "tb-slow", capacity: 7, refillRate: 10 / 13 }),
  tokenBucket({ name: "tb-step", capacity: 6, refillAmount: 2, refillIntervalMs: 700 }),
  gcra({ name: "gcra", limit: 4, periodMs: 1000, burst: 6 }),
  leakyBucket({ name: "leaky", capacity: 5, leakRate: 3 }),
  fixedWindow({ name: "fixed", limit: 5, windowMs: 1000 }),
];
const BOUNDED: Policy[] = [
  slidingWindow({ name: "sliding", limit: 5, windowMs: 1000 }),
  slidingLog({ name: "log", limit: 5, windowMs: 1000 }),
];

describe("nextUnitMs (the t of RateLimit)", () => {
  for (const policy of [...EXACT, ...BOUNDED]) {
    const exact = EXACT.includes(policy);
    it(`${policy.name}: after random traffic, quota grows ${exact ? "exactly at" : "no later than"} t, not at reset`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 900 }), cost: fc.integer({ min: 0, max: 3 }) }), {
            minLength: 1,
            maxLength: 30,
          }),
          (steps) => {
            let state: readonly number[] | null = null;
            let now = 10_000;
            for (const [i, s] of steps.entries()) {
              now += s.gapMs;
              const out = applyPolicy(policy, state, now, Math.min(s.cost, policy.limit));
              state = out.state;
              if (out.remaining >= policy.limit) continue;
              const t = nextUnitMs(policy, out);
              const where = `step ${i + 1}: ${policy.name} at ${now}, r=${out.remaining}, reset=${out.resetAfterMs}, t=${t} ms`;
              const later = applyPolicy(policy, state, now + t, 0).remaining;
              expect(later, `${where}: remaining at now+t`).toBeGreaterThan(out.remaining);
              if (exact && t >= 2) {
                const before = applyPolicy(policy, state, now + t - 2, 0).remaining;
                expect(before, `${where}: remaining at now+t-2 (quota grew before t)`).toBe(out.remaining);
              }
            }
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it("a smooth bucket reports the next token, not the full refill", () => {
    const p = tokenBucket({ name: "tb", capacity: 10, refillRate: 1 });
    const out = applyPolicy(p, null, 0, 10);
    expect(out.resetAfterMs).toBe(10_000);
    expect(nextUnitMs(p, out)).toBe(1000);
  });
});

describe("field syntax", () => {
  it("RateLimit-Policy and RateLimit parse as RFC 9651 Lists with one sf-string item per policy", async () => {
    const policies = [
      tokenBucket({ name: "burst", capacity: 10, refillRate: 3 }),
      fixedWindow({ name: "day.v1", limit: 1000, windowMs: 86_400_000 }),
      gcra({ name: "g*", limit: 3, periodMs: 1500 }),
    ];
    const limiter = new RateLimiter({ policy: policies, now: () => 5_000 });
    const d = await limiter.consume("k", 2);
    const pf = policyField(policies);
    const lf = limitField(d, policies);
    expect(pf).toBe('"burst";q=10;w=4, "day.v1";q=1000;w=86400, "g*";q=3;w=2');
    const parsedP = parseList(pf);
    const parsedL = parseList(lf);
    expect(parsedP.map(([v]) => v)).toEqual(["burst", "day.v1", "g*"]);
    expect(parsedL.map(([v, p]) => [v, p.get("r"), p.get("t")])).toEqual([
      ["burst", 8, 1],
      ["day.v1", 998, 86_395],
      ["g*", 1, 1],
    ]);
  });

  it("RateLimit of one policy is right whatever came before it (the value is memoised per policy, r and t)", () => {
    const a = tokenBucket({ name: "a", capacity: 5, refillRate: 1 });
    const a2 = tokenBucket({ name: "a2", capacity: 5, refillRate: 1 });
    const slow = tokenBucket({ name: "a", capacity: 5, refillRate: 0.25 });
    let now = 0;
    const limiters = new Map([a, a2, slow].map((p) => [p, new RateLimiter({ policy: p, now: () => now })]));
    // Each row: the policy, the time, the cost, and the field wanted (computed by hand).
    const rows: [Policy, number, number, string][] = [
      [a, 0, 1, '"a";r=4;t=1'],
      [a, 0, 0, '"a";r=4;t=1'], // same policy, r and t: the same value
      [a, 0, 1, '"a";r=3;t=1'], // r changed
      [a2, 0, 1, '"a2";r=4;t=1'], // same r and t, another policy
      [a, 0, 0, '"a";r=3;t=1'], // back to the first
      [slow, 0, 1, '"a";r=4;t=4'], // same name, another policy: t differs
      [slow, 0, 0, '"a";r=4;t=4'],
      [slow, 3500, 0, '"a";r=4;t=1'], // same r, t changed (the next token is 0.5 s away)
      [a, 3500, 0, '"a";r=5;t=1'],
    ];
    for (const [i, [p, at, cost, want]] of rows.entries()) {
      now = at;
      const d = (limiters.get(p) as RateLimiter).consumeSync("k", cost);
      expect(limitField(d, [p]), `step ${i + 1}: ${p.name} at ${at} cost ${cost}`).toBe(want);
    }
  });

  it("Retry-After is whole seconds, rounded up, at least 1, never before any refusing policy's t", async () => {
    const p = tokenBucket({ name: "tb", capacity: 2, refillRate: 0.3 });
    let now = 0;
    const limiter = new RateLimiter({ policy: p, now: () => now });
    await limiter.consume("k", 2);
    for (const advance of [0, 100, 1000, 3332, 3333]) {
      now = advance;
      const d = await limiter.consume("k", 2);
      if (d.allowed) break;
      const retry = retryAfterSeconds(d);
      const t = Math.ceil(nextUnitMs(p, d) / 1000);
      expect(retry, `at ${advance}: Retry-After vs retryAfterMs ${d.retryAfterMs}`).toBe(
        Math.max(1, Math.ceil(d.retryAfterMs / 1000)),
      );
      expect(retry >= t, `at ${advance}: Retry-After ${retry} < t ${t}`).toBe(true);
    }
  });
});

describe("field names on a node ServerResponse", () => {
  it("the node-based adapters set RateLimit and RateLimit-Policy in lower case, readable under any case", async () => {
    const { rateLimit } = await import("../../src/adapters/express.js");
    const socket = new Socket();
    Object.defineProperty(socket, "remoteAddress", { value: "203.0.113.7" });
    const req = new IncomingMessage(socket) as IncomingMessage & { originalUrl: string };
    req.method = "GET";
    req.url = "/";
    req.originalUrl = "/";
    const res = new ServerResponse(req) as unknown as ServerResponse & { locals: object };
    res.locals = Object.create(null) as object;
    let nexts = 0;
    rateLimit({ policy: tokenBucket({ name: "api", capacity: 5, refillRate: 1 }) })(req as never, res as never, () => {
      nexts++;
    });
    expect(nexts, "the request proceeds").toBe(1);
    // Written on the wire as given: lower case (saves node a lower-cased copy of each name per response).
    // getRawHeaderNames (node >= 15.13) is missing from the @types/node in use.
    const raw = (res as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames();
    expect(raw).toEqual(["ratelimit-policy", "ratelimit"]);
    expect([res.getHeader("RateLimit-Policy"), res.getHeader("RateLimit")]).toEqual(['"api";q=5;w=5', '"api";r=4;t=1']);
  });
});
