// core-migrate.test.ts: live migration of sliding-log and fixed-window states (src/core/sliding-log.ts migrateLog,
// src/core/fixed-window.ts migrateFixed) as tables worked out from their doc comments, and the token buckets' refund
// cap. Found missing by mutation testing (`npm run mutate`, docs/architecture.md): the live properties check bounds,
// which these edges keep either way (a shorter window's earliest time, an entry expiring exactly now, entries after
// a clock stepped back, what is dropped from the oldest entries, a window ending exactly now, a refunded count of 0).

import { describe, expect, it } from "vitest";
import { applyPolicy, refundPolicy } from "../../src/core/apply.js";
import { fixedWindow } from "../../src/core/fixed-window.js";
import { live, migrateState, replaceLive } from "../../src/core/live.js";
import type { Policy } from "../../src/core/policy.js";
import { slidingLog } from "../../src/core/sliding-log.js";
import type { Strategy } from "../../src/core/strategy.js";
import { tokenBucket } from "../../src/core/token-bucket.js";

/** migrated replaces `v1` by `to` with `strategy` and migrates `state` at `nowMs`. */
const migrated = (v1: Policy, to: Policy, strategy: Strategy, state: readonly number[] | null, nowMs: number) =>
  migrateState(replaceLive(v1, to, { strategy }), state, nowMs);

describe("a sliding log migrated: limit 10 per 1000 ms, 3 at 100, 2 at 400, 1 at 700", () => {
  const v1 = () => live(slidingLog({ name: "api", limit: 10, windowMs: 1000 }));
  const logOf = (v: Policy) => {
    let s = applyPolicy(v, null, 100, 3).state;
    s = applyPolicy(v, s, 400, 2).state;
    return applyPolicy(v, s, 700, 1).state;
  };
  // Each row: new limit, new window, strategy, the time, the migrated state (null: start fresh), why.
  const rows: [number, number, Strategy, number, number[] | null, string][] = [
    [
      10,
      500,
      "as-is",
      900,
      [2, 10, 500, 0, 401, 3, 401, 2, 700, 1],
      "a shorter window: entries it would already have expired move to its earliest time, 900 - 500 + 1",
    ],
    [10, 2000, "as-is", 900, [2, 10, 2000, 0, 100, 3, 400, 2, 700, 1], "a longer window: the entries as they are"],
    [
      5,
      1000,
      "as-is",
      900,
      [2, 5, 1000, 0, 700, 1],
      "4 of 5 available: 1 used, the oldest 5 dropped (3 at 100, then 2 at 400, whole)",
    ],
    [
      8,
      1000,
      "proportional",
      900,
      [2, 8, 1000, 0, 100, 2, 400, 2, 700, 1],
      "4/10 of 8 = 3.2, 3 whole: 5 used, 1 dropped from the oldest entry",
    ],
    [
      20,
      1000,
      "as-is",
      900,
      [2, 20, 1000, 0, 100, 3, 400, 2, 700, 1, 900, 10],
      "4 of 20 available: 16 used, 10 more at now",
    ],
    [10, 1000, "as-is", 1100, [2, 10, 1000, 0, 400, 2, 700, 1], "the entry at 100 expires exactly at 1100: 3 used"],
    [
      10,
      1000,
      "as-is",
      50,
      [2, 10, 1000, 0, 50, 3, 50, 2, 50, 1],
      "the clock stepped back to 50: every entry after it moves to 50",
    ],
    [10, 1000, "as-is", 1700, null, "every entry expired: nothing to carry"],
  ];
  for (const [i, [limit, windowMs, strategy, nowMs, want, why]] of rows.entries()) {
    it(`step ${i + 1}: to ${limit} per ${windowMs} ms, ${strategy}, at ${nowMs}: ${why}`, () => {
      const p = v1();
      const to = slidingLog({ name: "api", limit, windowMs });
      expect(migrated(p, to, strategy, logOf(p), nowMs)).toEqual(want);
    });
  }
});

describe("a fixed window migrated: limit 10 per 1000 ms, 4 counted in [1000, 2000)", () => {
  const v1 = () => live(fixedWindow({ name: "api", limit: 10, windowMs: 1000 }));
  const rows: [number, number, number, boolean, number[] | null, string][] = [
    [10, 1000, 1999, false, [2, 10, 1000, 0, 1000, 4], "the window's last ms: the count carries"],
    [10, 1000, 2000, false, null, "the window ends exactly now: nothing to carry"],
    [
      10,
      1000,
      900,
      false,
      [2, 10, 1000, 0, 900, 4],
      "the clock stepped back to 900: the window starts there (not aligned)",
    ],
    [10, 500, 1200, false, [2, 10, 500, 0, 1000, 4], "another length: the aligned window of 500 holding 1200"],
    [10, 1000, 1500, true, null, "all 4 refunded: a count of 0 holds nothing"],
  ];
  for (const [i, [limit, windowMs, nowMs, refunded, want, why]] of rows.entries()) {
    it(`step ${i + 1}: to ${limit} per ${windowMs} ms at ${nowMs}: ${why}`, () => {
      const p = v1();
      let s = applyPolicy(p, null, 1200, 4).state;
      if (refunded) s = refundPolicy(p, s, 1300, 4);
      const to = fixedWindow({ name: "api", limit, windowMs });
      expect(migrated(p, to, "as-is", s, nowMs)).toEqual(want);
    });
  }
});

describe("a stepped token bucket migrated to a shorter interval: 10, 1 per 1000 ms, 4 taken at 0", () => {
  // Each row: the time, the migrated state, why. The new interval is 500 ms; as-is keeps the 6 tokens.
  const rows: [number, number[], string][] = [
    [499, [2, 10, 1, 500, 6, 0], "less than a new interval since the last refill (0): its phase is kept"],
    [
      500,
      [2, 10, 1, 500, 6, 500],
      "a whole new interval since the last refill: the phase starts again now, no refill owed",
    ],
  ];
  for (const [i, [nowMs, want, why]] of rows.entries()) {
    it(`step ${i + 1}: at ${nowMs}: ${why}`, () => {
      const v1 = live(tokenBucket({ name: "api", capacity: 10, refillAmount: 1, refillIntervalMs: 1000 }));
      const state = applyPolicy(v1, null, 0, 4).state;
      const to = tokenBucket({ name: "api", capacity: 10, refillAmount: 1, refillIntervalMs: 500 });
      expect(migrated(v1, to, "as-is", state, nowMs)).toEqual(want);
    });
  }
});

describe("a refund never stores more than the capacity", () => {
  it("smooth and stepped token buckets: 2 spent, 1 back by refill, 3 refunded: full", () => {
    const smooth = tokenBucket({ capacity: 5, refillRate: 1 });
    expect(refundPolicy(smooth, applyPolicy(smooth, null, 0, 2).state, 1000, 3)).toEqual([5, 1000]);
    const stepped = tokenBucket({ capacity: 5, refillAmount: 1, refillIntervalMs: 1000 });
    expect(refundPolicy(stepped, applyPolicy(stepped, null, 0, 2).state, 1000, 3)).toEqual([5, 1000]);
  });

  it("a stepped state refunded to full holds nothing, even read before its last refill (a clock stepped back)", () => {
    const stepped = tokenBucket({ capacity: 5, refillAmount: 1, refillIntervalMs: 1000 });
    const full = refundPolicy(stepped, applyPolicy(stepped, null, 0, 2).state, 1000, 3) as readonly number[];
    expect([stepped.idle(full, 0, 900), stepped.idle(full, 0, 1000)], "idle at 900 and 1000").toEqual([true, true]);
    const peek = applyPolicy(stepped, full, 900, 0);
    expect([peek.allowed, peek.remaining, peek.rebased, peek.state], "a peek at 900: as a fresh key").toEqual([
      true,
      5,
      false,
      full,
    ]);
  });
});
