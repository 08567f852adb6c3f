// sliding-window.test.ts: table tests of the weighted two-window counter beyond the shared vectors.

import { describe, expect, it } from "vitest";
import { slidingWindow } from "../../src/index.js";
import { no, ok, table } from "./table.js";

describe("slidingWindow", () => {
  table(
    "the estimate weighs the previous window by its unexpired share",
    slidingWindow({ limit: 10, windowMs: 1000 }),
    [
      { step: 1, at: 0, cost: 6, want: ok(4, 2000), why: "window [0, 1000): 6" },
      {
        step: 2,
        at: 1000,
        op: "peek",
        want: ok(4, 1000),
        why: "previous 6 at full weight; it weighs nothing from 2000",
      },
      { step: 3, at: 1300, cost: 5, want: ok(0, 1700), why: "6 * 0.7 + 5 = 9.2 <= 10; 0.8 is no whole unit" },
      {
        step: 4,
        at: 1300,
        cost: 1,
        want: no(0, 34, 1700),
        why: "10.2 > 10; 6 * (1000 - e)/1000 <= 4 needs e >= 333.3: 33.3 ms",
      },
      { step: 5, at: 1334, cost: 1, want: ok(0, 1666), why: "6 * 0.666 + 5 + 1 = 9.996" },
      {
        step: 6,
        at: 2500,
        cost: 10,
        want: no(7, 500, 500),
        why: "window 2000: previous 6 * 0.5 = 3; all 10 need the previous gone, at 3000",
      },
      {
        step: 7,
        at: 3000,
        cost: 10,
        want: ok(0, 2000),
        why: "window 3000: the previous window [2000, 3000) was unused",
      },
    ],
  );

  it("describes itself", () => {
    const p = slidingWindow({ limit: 10, windowMs: 1000, name: "sw" });
    expect([p.kind, p.name, p.limit, p.windowMs, p.stateSize]).toEqual(["slidingWindow", "sw", 10, 1000, 3]);
    expect(p.idle([0, 0, 5], 0, 1999)).toBe(false);
    expect(p.idle([0, 0, 5], 0, 2000)).toBe(true);
  });
});
