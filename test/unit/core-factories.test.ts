// core-factories.test.ts: each factory's shape (id, params, windowMs, options, default name) and its limits at
// the exact boundary (the last value accepted, the first refused, with the whole message). Found missing by
// mutation testing (`npm run mutate`, docs/architecture.md).

import { describe, expect, it } from "vitest";
import { fixedWindow } from "../../src/core/fixed-window.js";
import { gcra } from "../../src/core/gcra.js";
import { leakyBucket } from "../../src/core/leaky-bucket.js";
import type { Policy } from "../../src/core/policy.js";
import { slidingLog } from "../../src/core/sliding-log.js";
import { slidingWindow } from "../../src/core/sliding-window.js";
import { tokenBucket } from "../../src/core/token-bucket.js";

/** refusal runs f and returns [error name, code, message], failing when it returned. */
function refusal(call: string, f: () => unknown): [string, string | undefined, string] {
  let policy: unknown;
  try {
    policy = f();
  } catch (e) {
    const err = e as Error & { code?: string };
    return [err.name, err.code, err.message];
  }
  throw new Error(`${call} returned ${JSON.stringify(policy)}, want an error`);
}

describe("each factory's shape", () => {
  // Each row: the policy, then its id, limit, windowMs, stateSize, params and options.
  // Policies are built inside each test (a thunk per row), so that mutation testing's per-test coverage sees the
  // factory code run by the test that checks it.
  const rows: [string, () => Policy, string, number, number, number, number[], Record<string, number>][] = [
    [
      "smooth bucket, default name",
      () => tokenBucket({ capacity: 10, refillRate: 3 }),
      "token-bucket:tb:c10r3",
      10,
      3334,
      2,
      [10, 3],
      { capacity: 10, refillRate: 3 },
    ],
    [
      "stepped bucket: 4 steps of 3 fill 10",
      () => tokenBucket({ name: "s", capacity: 10, refillAmount: 3, refillIntervalMs: 100 }),
      "s:tb:c10a3i100",
      10,
      400,
      2,
      [10, 3, 100],
      { capacity: 10, refillAmount: 3, refillIntervalMs: 100 },
    ],
    [
      "gcra, burst defaults to limit",
      () => gcra({ limit: 4, periodMs: 1000 }),
      "gcra:gcra:l4p1000b4",
      4,
      1000,
      1,
      [250, 1000, 4],
      { limit: 4, periodMs: 1000, burst: 4 },
    ],
    [
      "gcra with a burst: windowMs is the burst tolerance, rounded up",
      () => gcra({ name: "g", limit: 3, periodMs: 1000, burst: 2 }),
      "g:gcra:l3p1000b2",
      2,
      667,
      1,
      [1000 / 3, 2000 / 3, 2],
      { limit: 3, periodMs: 1000, burst: 2 },
    ],
    [
      "leaky bucket, default name",
      () => leakyBucket({ capacity: 5, leakRate: 3 }),
      "leaky-bucket:lb:c5r3",
      5,
      1667,
      2,
      [5, 3],
      { capacity: 5, leakRate: 3 },
    ],
    [
      "fixed window, default name",
      () => fixedWindow({ limit: 7, windowMs: 900 }),
      "fixed-window:fw:l7w900",
      7,
      900,
      2,
      [7, 900],
      { limit: 7, windowMs: 900 },
    ],
    [
      "sliding window, default name",
      () => slidingWindow({ limit: 7, windowMs: 900 }),
      "sliding-window:sw:l7w900",
      7,
      900,
      3,
      [7, 900],
      { limit: 7, windowMs: 900 },
    ],
    [
      "sliding log, default name",
      () => slidingLog({ limit: 7, windowMs: 900 }),
      "sliding-log:sl:l7w900",
      7,
      900,
      -1,
      [7, 900],
      { limit: 7, windowMs: 900 },
    ],
  ];
  for (const [what, make, id, limit, windowMs, stateSize, params, options] of rows) {
    it(`${what}: ${id}`, () => {
      const p = make();
      expect([p.id, p.limit, p.windowMs, p.stateSize, [...p.params], { ...p.options }]).toEqual([
        id,
        limit,
        windowMs,
        stateSize,
        params,
        options,
      ]);
      expect(Object.isFrozen(p.params), "params are frozen").toBe(true);
    });
  }
});

describe("each factory's limits, at the boundary", () => {
  const TEN_YEARS = 315_360_000_000;

  it("the last value inside each limit is accepted", () => {
    const accepted: [string, () => Policy, number][] = [
      [
        "a smooth bucket that refills in exactly 10 years",
        () => tokenBucket({ capacity: 315_360_000, refillRate: 1 }),
        TEN_YEARS,
      ],
      [
        "a stepped bucket that refills in exactly 10 years (4 steps)",
        () => tokenBucket({ capacity: 10, refillAmount: 3, refillIntervalMs: TEN_YEARS / 4 }),
        TEN_YEARS,
      ],
      ["a gcra of one unit per microsecond", () => gcra({ limit: 1000, periodMs: 1 }), 1],
      ["a gcra that recovers in exactly 10 years", () => gcra({ limit: 1, periodMs: TEN_YEARS }), TEN_YEARS],
      [
        "a leaky bucket that drains in exactly 10 years",
        () => leakyBucket({ capacity: 315_360_000, leakRate: 1 }),
        TEN_YEARS,
      ],
      ["a sliding log of 100,000 entries", () => slidingLog({ limit: 100_000, windowMs: 1 }), 1],
    ];
    for (const [what, make, windowMs] of accepted) expect(make().windowMs, what).toBe(windowMs);
  });

  it("the first value beyond each limit is refused with a RangeError that names the fix", () => {
    const refused: [string, () => unknown, string][] = [
      [
        "tokenBucket 1 token more than 10 years of refill",
        () => tokenBucket({ capacity: 315_360_001, refillRate: 1 }),
        "floodgate: tokenBucket({ capacity: 315360001, refillRate: 1 }) takes 3650 days to refill, more than the 10 years supported; raise refillRate.",
      ],
      [
        "tokenBucket 12 years",
        () => tokenBucket({ capacity: 378_432_000, refillRate: 1 }),
        "floodgate: tokenBucket({ capacity: 378432000, refillRate: 1 }) takes 4380 days to refill, more than the 10 years supported; raise refillRate.",
      ],
      [
        "a stepped bucket 4 ms more than 10 years (4 steps: ceil(10 / 3), not floor)",
        () => tokenBucket({ capacity: 10, refillAmount: 3, refillIntervalMs: TEN_YEARS / 4 + 1 }),
        "floodgate: tokenBucket({ capacity: 10, refillAmount: 3, refillIntervalMs: 78840000001 }) takes more than the 10 years supported to refill; raise refillAmount or shorten refillIntervalMs.",
      ],
      [
        "a gcra above one unit per microsecond",
        () => gcra({ limit: 1001, periodMs: 1 }),
        "floodgate: gcra({ limit: 1001, periodMs: 1 }) is 1001 units per ms, above the 1000 per ms (one per microsecond) supported; use a longer periodMs with a proportional limit, or tokenBucket.",
      ],
      [
        "a gcra above one unit per microsecond over a period of 2 ms: the rate is limit / periodMs",
        () => gcra({ limit: 3000, periodMs: 2 }),
        "floodgate: gcra({ limit: 3000, periodMs: 2 }) is 1500 units per ms, above the 1000 per ms (one per microsecond) supported; use a longer periodMs with a proportional limit, or tokenBucket.",
      ],
      [
        "a gcra whose burst takes longer than 10 years to recover",
        () => gcra({ limit: 1, periodMs: TEN_YEARS, burst: 2 }),
        "floodgate: gcra({ burst: 2 }) takes more than the 10 years supported to recover; lower burst or raise limit.",
      ],
      [
        "a leaky bucket 1 unit more than 10 years of drain",
        () => leakyBucket({ capacity: 315_360_001, leakRate: 1 }),
        "floodgate: leakyBucket({ capacity: 315360001, leakRate: 1 }) takes more than the 10 years supported to drain; raise leakRate.",
      ],
      [
        "a sliding log of 100,001 entries",
        () => slidingLog({ limit: 100_001, windowMs: 1 }),
        "floodgate: slidingLog({ limit: 100001 }) would keep up to 100001 entries per key, more than the 100000 supported; use slidingWindow for large limits.",
      ],
    ];
    for (const [what, make, message] of refused) {
      expect(refusal(what, make), what).toEqual(["FloodgateRangeError", "ERR_INVALID_OPTION", message]);
    }
  });

  it("a token bucket takes one refill form, and says which is missing or doubled", () => {
    const rows: [string, Record<string, unknown>, string, string][] = [
      [
        "no refill",
        { capacity: 1 },
        "FloodgateTypeError",
        "floodgate: tokenBucket() needs a refill: { refillRate: 2 } (tokens per second) or { refillAmount: 1, refillIntervalMs: 500 }.",
      ],
      [
        "both forms",
        { capacity: 1, refillRate: 1, refillAmount: 1 },
        "FloodgateTypeError",
        "floodgate: tokenBucket() takes either { refillRate } or { refillAmount, refillIntervalMs }, not both; drop one form.",
      ],
      [
        "a rate and an interval: both forms too",
        { capacity: 1, refillRate: 1, refillIntervalMs: 10 },
        "FloodgateTypeError",
        "floodgate: tokenBucket() takes either { refillRate } or { refillAmount, refillIntervalMs }, not both; drop one form.",
      ],
      [
        "an amount without its interval",
        { capacity: 1, refillAmount: 1 },
        "FloodgateTypeError",
        "floodgate: tokenBucket({ refillIntervalMs }) must be a whole number from 1 to 315360000000, got undefined (undefined); pass the interval in whole milliseconds, such as 1000.",
      ],
    ];
    for (const [what, options, cls, message] of rows) {
      expect(
        refusal(what, () => tokenBucket(options as never)),
        what,
      ).toEqual([cls, "ERR_INVALID_OPTION", message]);
    }
  });

  it("every option's message names the option, its range and a fix of its own", () => {
    const max = "1000000000000";
    const rows: [() => unknown, string][] = [
      [
        () => tokenBucket({ capacity: 0, refillRate: 1 }),
        `tokenBucket({ capacity }) must be a whole number from 1 to ${max}, got 0; pass the largest burst, such as 10.`,
      ],
      [
        () => tokenBucket({ capacity: 1, refillRate: 0 }),
        "tokenBucket({ refillRate }) must be a finite number greater than 0 and at most 1000000000, got 0; pass tokens per second, such as 2 or 10/13.",
      ],
      [
        () => tokenBucket({ capacity: 1, refillAmount: 0, refillIntervalMs: 1 }),
        `tokenBucket({ refillAmount }) must be a whole number from 1 to ${max}, got 0; pass the whole number of tokens added per interval, such as 1.`,
      ],
      [
        () => gcra({ limit: 0, periodMs: 1 }),
        `gcra({ limit }) must be a whole number from 1 to ${max}, got 0; pass the number of units per period, such as 10.`,
      ],
      [
        () => gcra({ limit: 1, periodMs: 0 }),
        "gcra({ periodMs }) must be a whole number from 1 to 315360000000, got 0; pass the period in whole milliseconds, such as 1000.",
      ],
      [
        () => gcra({ limit: 1, periodMs: 1, burst: 0 }),
        `gcra({ burst }) must be a whole number from 1 to ${max}, got 0; pass the largest burst, such as 10, or leave it out to use limit.`,
      ],
      [
        () => leakyBucket({ capacity: 0, leakRate: 1 }),
        `leakyBucket({ capacity }) must be a whole number from 1 to ${max}, got 0; pass the bucket size, such as 10.`,
      ],
      [
        () => leakyBucket({ capacity: 1, leakRate: -1 }),
        "leakyBucket({ leakRate }) must be a finite number greater than 0 and at most 1000000000, got -1; pass the drain per second, such as 2.",
      ],
    ];
    for (const make of [fixedWindow, slidingWindow, slidingLog]) {
      const fn = make.name;
      rows.push(
        [
          () => make({ limit: 0, windowMs: 1 }),
          `${fn}({ limit }) must be a whole number from 1 to ${max}, got 0; pass the most requests per window, such as 100.`,
        ],
        [
          () => make({ limit: 1, windowMs: 0 }),
          `${fn}({ windowMs }) must be a whole number from 1 to 315360000000, got 0; pass the window in whole milliseconds, such as 60000.`,
        ],
      );
    }
    for (const [make, message] of rows) {
      expect(refusal(message, make), message).toEqual([
        "FloodgateRangeError",
        "ERR_INVALID_OPTION",
        `floodgate: ${message}`,
      ]);
    }
  });

  it("each factory refuses an unknown option and lists its own", () => {
    const rows: [() => unknown, string][] = [
      [
        () => tokenBucket({ capacity: 1, refillRate: 1, x: 1 } as never),
        "capacity, refillRate, refillAmount, refillIntervalMs, name",
      ],
      [() => gcra({ limit: 1, periodMs: 1, x: 1 } as never), "limit, periodMs, burst, name"],
      [() => leakyBucket({ capacity: 1, leakRate: 1, x: 1 } as never), "capacity, leakRate, name"],
      [() => fixedWindow({ limit: 1, windowMs: 1, x: 1 } as never), "limit, windowMs, name"],
      [() => slidingWindow({ limit: 1, windowMs: 1, x: 1 } as never), "limit, windowMs, name"],
      [() => slidingLog({ limit: 1, windowMs: 1, x: 1 } as never), "limit, windowMs, name"],
    ];
    for (const [make, known] of rows) {
      const [, code, message] = refusal(known, make);
      expect([code, message.endsWith(`got an unknown option "x". Known options: ${known}.`)], message).toEqual([
        "ERR_UNKNOWN_OPTION",
        true,
      ]);
    }
  });
});
