// fixed-window.test.ts: table tests of the fixed window counter beyond the shared vectors.

import { describe, expect, it } from "vitest";
import { fixedWindow } from "../../src/index.js";
import { no, ok, table } from "./table.js";

describe("fixedWindow", () => {
  table("windows align to the clock, not to a key's first call", fixedWindow({ limit: 1, windowMs: 1000 }), [
    { step: 1, at: 100, key: "a", cost: 1, want: ok(0, 900), why: "a starts in [0, 1000)" },
    { step: 2, at: 900, key: "b", cost: 1, want: ok(0, 100), why: "b too, although it came 800 ms later" },
    { step: 3, at: 999, key: "a", cost: 1, want: no(0, 1, 1), why: "a's window ends at 1000" },
    { step: 4, at: 1000, key: "a", cost: 1, want: ok(0, 1000), why: "the same boundary for every key" },
    { step: 5, at: 1000, key: "b", cost: 1, want: ok(0, 1000), why: "b gets its next window at 1000, not 1900" },
  ]);

  table("a window of 10 years at epoch time", fixedWindow({ limit: 3, windowMs: 315360000000 }), [
    {
      step: 1,
      at: 1700000000000,
      cost: 1,
      want: ok(2, 192160000000),
      why: "window [5 * 315360000000, 6 * ...) = [1576800000000, 1892160000000)",
    },
    { step: 2, at: 1892159999999, cost: 2, want: ok(0, 1), why: "the last ms of the window" },
    { step: 3, at: 1892160000000, cost: 3, want: ok(0, 315360000000), why: "the next 10 years" },
  ]);

  table("a peek on a spent window that is over shows the new window", fixedWindow({ limit: 2, windowMs: 100 }), [
    { step: 1, at: 50, cost: 2, want: ok(0, 50), why: "spent" },
    { step: 2, at: 150, op: "peek", want: ok(2, 0), why: "[100, 200) is unused: nothing to reset" },
    { step: 3, at: 150, op: "refund", cost: 2, why: "the spent window is over; nothing to give back" },
    { step: 4, at: 150, cost: 2, want: ok(0, 50), why: "2 in [100, 200), not 4" },
    { step: 5, at: 150, cost: 1, want: no(0, 50, 50), why: "the refund did not add to this window" },
  ]);

  table("two windows after the stored one, the window is the aligned one", fixedWindow({ limit: 1, windowMs: 100 }), [
    { step: 1, at: 0, cost: 1, want: ok(0, 100), why: "[0, 100)" },
    { step: 2, at: 200, cost: 1, want: ok(0, 100), why: "[200, 300), not [100, 200) which is over" },
  ]);

  table("a refund is never below 0, and one before the window rebases it", fixedWindow({ limit: 5, windowMs: 100 }), [
    { step: 1, at: 1000, cost: 2, want: ok(3, 100), why: "[1000, 1100)" },
    { step: 2, at: 1050, op: "refund", cost: 5, why: "gives back 2, not 5" },
    { step: 3, at: 1050, cost: 5, want: ok(0, 50), why: "5 fit, not 8" },
    { step: 4, at: 900, op: "refund", cost: 1, why: "the clock went back: the window starts at 900 with 4" },
    { step: 5, at: 950, cost: 1, want: ok(0, 50), why: "the window [900, 1000) ends in 50" },
  ]);

  // Regression guard found by mutation testing: the inline fast path of resetAfterMs must fall back to untilMs
  // where ceil(end - now) is 1 ms long (end = 8188.13 + 4 rounds to 8192.130000000001).
  table("after a rebase to a fractional time, resetAfterMs is exact", fixedWindow({ limit: 2, windowMs: 4 }), [
    { step: 1, at: 10000, cost: 1, want: ok(1, 4), why: "[10000, 10004)" },
    {
      step: 2,
      at: 8188.13,
      cost: 1,
      want: ok(0, 4),
      why: "rebased to [8188.13, 8192.13): 8188.13 + 4 reaches its end",
    },
  ]);

  it("describes itself", () => {
    const p = fixedWindow({ limit: 10, windowMs: 60000 });
    expect([p.kind, p.name, p.limit, p.windowMs, p.stateSize]).toEqual(["fixedWindow", "fixed-window", 10, 60000, 2]);
    expect(p.idle([0, 0], 0, 1)).toBe(true);
    expect(p.idle([0, 3], 0, 59999)).toBe(false);
    expect(p.idle([0, 3], 0, 60000)).toBe(true);
  });
});
