// advise.test.ts: the advisor finds the smallest policy meeting the goals, on traffic whose answer is known by hand.

import { describe, expect, it } from "vitest";
import { fixedWindow, gcra, tokenBucket } from "../../src/index.js";
import { advise, family, fromRequests, type RequestRecord } from "../../src/simulate/index.js";

/** steady returns `perSecond` requests a second from `key` for `seconds`, evenly spaced, offset by `offsetMs`. */
function steady(key: string, perSecond: number, seconds: number, offsetMs = 0): RequestRecord[] {
  const out: RequestRecord[] = [];
  for (let s = 0; s < seconds; s++) {
    for (let j = 0; j < perSecond; j++) out.push({ key, timeMs: s * 1000 + (j * 1000) / perSecond + offsetMs });
  }
  return out;
}

describe("family", () => {
  it("scales the quantities, keeps the durations, and rounds the options the factory wants whole", () => {
    expect(family(tokenBucket({ capacity: 4, refillRate: 1 }))(10).options).toEqual({ capacity: 10, refillRate: 2.5 });
    expect(family(gcra({ limit: 2, periodMs: 1000, burst: 4 }))(10).options).toEqual({
      limit: 5,
      periodMs: 1000,
      burst: 10,
    });
    expect(family(fixedWindow({ limit: 3, windowMs: 60_000 }))(7).options).toEqual({ limit: 7, windowMs: 60_000 });
    expect(family(tokenBucket({ capacity: 10, refillAmount: 2, refillIntervalMs: 500 }))(5).options).toEqual({
      capacity: 5,
      refillAmount: 1,
      refillIntervalMs: 500,
    });
  });
});

describe("advise", () => {
  // 10 clients, each exactly 5 requests a second: a fixed window of 1 s needs a limit of 5, and 4 refuses 1 in 5.
  const fiveEach = fromRequests(Array.from({ length: 10 }, (_, c) => steady(`c${c}`, 5, 60, c)).flat());

  it("fixedWindow, no refusals allowed: limit 5, by hand", async () => {
    const a = await advise({
      traffic: fiveEach,
      template: fixedWindow({ limit: 1, windowMs: 1000 }),
      goals: { maxRefusedShare: 0, percentile: 100 },
    });
    expect(a.policy?.options).toEqual({ limit: 5, windowMs: 1000 });
    expect(a.tried.find((c) => c.size === 4)?.refusedShare).toBeCloseTo(0.2, 12);
    expect(a.tried.find((c) => c.size === 5)?.refusedShare).toBe(0);
    expect(a.why).toMatch(/fixedWindow\(limit=5, windowMs=1000\) is the smallest.*size 4 refuses 20\.0%/);
  });

  it("with a cap: 400 per minute allows limit 6 (bound 6 * 61 = 366), so still 5; 250 per minute allows only 4: no policy", async () => {
    const template = fixedWindow({ limit: 1, windowMs: 1000 });
    const ok = await advise({
      traffic: fiveEach,
      template,
      goals: { maxRefusedShare: 0, percentile: 100, maxPerWindow: 400, windowMs: 60_000 },
    });
    expect(ok.policy?.options).toEqual({ limit: 5, windowMs: 1000 });
    expect(ok.tried.find((c) => c.size === 5)?.bound).toBe(305);
    const no = await advise({
      traffic: fiveEach,
      template,
      goals: { maxRefusedShare: 0, percentile: 100, maxPerWindow: 250, windowMs: 60_000 },
    });
    expect(no.policy).toBeUndefined();
    expect(no.why).toMatch(
      /no policy of this shape meets both goals.*fixedWindow\(limit=4, windowMs=1000\).*refuses 20\.0%/,
    );
  });

  it("tokenBucket, bursts of 10 every 10 s: capacity 10 refilling 1/s (10 tokens in 10 s), by hand", async () => {
    const reqs: RequestRecord[] = [];
    for (let b = 0; b < 30; b++) for (let i = 0; i < 10; i++) reqs.push({ key: "k", timeMs: b * 10_000 });
    const a = await advise({
      traffic: fromRequests(reqs),
      template: tokenBucket({ capacity: 1, refillRate: 0.1 }),
      goals: { maxRefusedShare: 0, percentile: 100 },
    });
    expect(a.policy?.options).toEqual({ capacity: 10, refillRate: 1 });
    expect(a.tried.find((c) => c.size === 9)?.refusedShare).toBeGreaterThan(0);
  });

  it("percentile: the heaviest 1% of clients is not protected", async () => {
    // 99 clients send 1 a second; one abuser sends 20 a second. Nearest rank 99 of 100 counts is 60 requests.
    const reqs = [
      ...Array.from({ length: 99 }, (_, c) => steady(`user${c}`, 1, 60, c)).flat(),
      ...steady("abuser", 20, 60),
    ];
    const template = fixedWindow({ limit: 1, windowMs: 1000 });
    const p99 = await advise({ traffic: fromRequests(reqs), template, goals: { maxRefusedShare: 0, percentile: 99 } });
    expect(p99.clients).toEqual({ seen: 100, ordinary: 99, threshold: 60 });
    expect(p99.policy?.options.limit).toBe(1);
    const all = await advise({ traffic: fromRequests(reqs), template, goals: { maxRefusedShare: 0, percentile: 100 } });
    expect(all.policy?.options.limit).toBe(20);
  });

  it("ends: the number of reads grows with log8 of the answer", async () => {
    // One client, 3000 requests in one second: the answer is 3000 with no refusals allowed.
    const a = await advise({
      traffic: fromRequests(steady("k", 3000, 1)),
      template: fixedWindow({ limit: 1, windowMs: 1000 }),
      goals: { maxRefusedShare: 0, percentile: 100 },
    });
    expect(a.policy?.options.limit).toBe(3000);
    // 1 count + 2 doubling reads (1..64, 128..4096) + about log8(4096 - 2048) = 4 bisection reads + the check below.
    expect(a.passes).toBeLessThanOrEqual(9);
  });

  it("refuses bad goals with the goal named", async () => {
    const template = fixedWindow({ limit: 1, windowMs: 1000 });
    await expect(advise({ traffic: fiveEach, template, goals: { maxRefusedShare: 2 } })).rejects.toThrow(
      /maxRefusedShare.*got 2/,
    );
    await expect(advise({ traffic: fiveEach, template, goals: { percentile: 0 } })).rejects.toThrow(
      /percentile.*got 0/,
    );
    await expect(advise({ traffic: fiveEach, template, goals: { maxRefusedShar: 0.1 } as never })).rejects.toThrow(
      /unknown option "maxRefusedShar"; did you mean "maxRefusedShare"/,
    );
  });
});
