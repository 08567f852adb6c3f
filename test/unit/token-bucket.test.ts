// token-bucket.test.ts: table tests of the smooth and stepped token bucket beyond the shared vectors.

import { describe, expect, it } from "vitest";
import { tokenBucket } from "../../src/index.js";
import { no, ok, table } from "./table.js";

describe("tokenBucket, smooth", () => {
  table("fractions of a token accumulate between calls", tokenBucket({ capacity: 2, refillRate: 4 }), [
    { step: 1, at: 0, cost: 2, want: ok(0, 500), why: "4 per second: a token per 250 ms" },
    { step: 2, at: 100, cost: 1, want: no(0, 150, 400), why: "0.4 token" },
    { step: 3, at: 200, cost: 1, want: no(0, 50, 300), why: "0.8 token; the denial at 100 reset nothing" },
    { step: 4, at: 250, cost: 1, want: ok(0, 500), why: "exactly 1 token" },
    { step: 5, at: 500, op: "peek", want: ok(1, 250), why: "1 token after 250 ms more" },
    { step: 6, at: 625, cost: 1, want: ok(0, 375), why: "1.5 tokens; 0.5 stays in the bucket" },
    { step: 7, at: 750, op: "peek", want: ok(1, 250), why: "the kept half plus 125 ms = 1 token" },
  ]);

  // Regression (issue 8, defect 5): a clock stepped back made the bucket wait for its old time (lockout); it rebases.
  table(
    "after a clock jumps back, the bucket rebases to that time keeping its tokens",
    tokenBucket({ capacity: 2, refillRate: 1 }),
    [
      { step: 1, at: 10000, cost: 1, want: ok(1, 1000), why: "1 of 2 left" },
      {
        step: 2,
        at: 9000,
        cost: 1,
        want: ok(0, 2000),
        why: "back 1 s: rebased to 9000 with its 1 token, spent; full 2000 ms later (it said 3000: 1 s of lag first)",
      },
      { step: 3, at: 9000, cost: 1, want: no(0, 1000, 2000), why: "a token 1000 ms after the rebase (it said 2000)" },
      { step: 4, at: 10000, cost: 1, want: ok(0, 2000), why: "the token promised by step 3" },
      { step: 5, at: 12000, cost: 2, want: ok(0, 2000), why: "full again" },
    ],
  );

  table("the largest capacity and rate stay exact", tokenBucket({ capacity: 1e12, refillRate: 1e9 }), [
    { step: 1, at: 0, cost: 1e12, want: ok(0, 1e6), why: "1e12 tokens refill in 1000 s at 1e9 per second" },
    { step: 2, at: 1, op: "peek", want: ok(1e6, 999999), why: "1e6 tokens per ms" },
    {
      step: 3,
      at: 1,
      cost: 1e6 + 1,
      want: no(1e6, 1, 999999),
      why: "one token short: a millionth of a ms, rounded up",
    },
  ]);
});

describe("tokenBucket, stepped", () => {
  table(
    "refills that land on a full bucket are not banked; a full bucket's phase restarts at its next call",
    tokenBucket({ capacity: 2, refillAmount: 1, refillIntervalMs: 1000 }),
    [
      { step: 1, at: 0, cost: 1, want: ok(1, 1000), why: "intervals count from 0" },
      { step: 2, at: 5500, op: "peek", want: ok(2, 0), why: "5 refills, capped at 2" },
      // Issue 8: this row was ok(0, 1500) (the boundary kept at 5000 from the old phase), so a full bucket
      // answered otherwise than a new one, which the memory sweep makes of it.
      {
        step: 3,
        at: 5500,
        cost: 2,
        want: ok(0, 2000),
        why: "full: the same as a new bucket, its intervals count from 5500: refills at 6500 and 7500",
      },
      { step: 4, at: 6000, cost: 1, want: no(0, 500, 1500), why: "no refill before 6500" },
      { step: 5, at: 6500, cost: 1, want: ok(0, 2000), why: "the refill at 6500; the next at 7500" },
    ],
  );

  table(
    "a cost above refillAmount waits for several boundaries",
    tokenBucket({ capacity: 5, refillAmount: 2, refillIntervalMs: 100 }),
    [
      { step: 1, at: 0, cost: 5, want: ok(0, 300), why: "5 tokens need 3 refills of 2" },
      { step: 2, at: 0, cost: 5, want: no(0, 300, 300), why: "three boundaries away" },
      { step: 3, at: 250, cost: 5, want: no(4, 50, 50), why: "two refills (4 tokens), the third at 300" },
      { step: 4, at: 300, cost: 5, want: ok(0, 300), why: "6 refilled, capped at 5" },
    ],
  );
});

describe("tokenBucket policy", () => {
  it("describes itself: kind, name, limit, windowMs, state size, frozen", () => {
    const smooth = tokenBucket({ capacity: 10, refillRate: 2 });
    expect([smooth.kind, smooth.name, smooth.limit, smooth.windowMs, smooth.stateSize]).toEqual([
      "tokenBucket",
      "token-bucket",
      10,
      5000,
      2,
    ]);
    expect(Object.isFrozen(smooth)).toBe(true);
    expect(tokenBucket({ capacity: 10, refillRate: 10 / 13 }).windowMs).toBe(13000);
    const stepped = tokenBucket({ capacity: 5, refillAmount: 2, refillIntervalMs: 100, name: "api" });
    expect([stepped.name, stepped.limit, stepped.windowMs]).toEqual(["api", 5, 300]);
    const ids = new Set(
      [
        smooth,
        tokenBucket({ capacity: 10, refillRate: 3 }),
        tokenBucket({ capacity: 11, refillRate: 2 }),
        tokenBucket({ capacity: 10, refillRate: 2, name: "other" }),
        stepped,
        tokenBucket({ capacity: 5, refillAmount: 2, refillIntervalMs: 101, name: "api" }),
      ].map((p) => p.id),
    );
    expect(ids.size, "every distinct policy has its own id").toBe(6);
    expect(tokenBucket({ capacity: 10, refillRate: 2 }).id).toBe(smooth.id);
  });

  it("idle is true exactly when the bucket is full again", () => {
    const p = tokenBucket({ capacity: 2, refillRate: 1 });
    expect(p.idle([1, 1000], 0, 1999)).toBe(false);
    expect(p.idle([1, 1000], 0, 2000)).toBe(true);
    expect(p.idle([2, 1000], 0, 0), "a full bucket seen from the past holds nothing").toBe(true);
    const s = tokenBucket({ capacity: 2, refillAmount: 1, refillIntervalMs: 1000 });
    expect(s.idle([1, 1000], 0, 1999)).toBe(false);
    expect(s.idle([1, 1000], 0, 2000)).toBe(true);
  });
});
