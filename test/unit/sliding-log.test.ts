// sliding-log.test.ts: table tests of the exact sliding log beyond the shared vectors, and its memory bound.

import { describe, expect, it } from "vitest";
import { applyPolicy, slidingLog } from "../../src/index.js";
import { no, ok, table } from "./table.js";

describe("slidingLog", () => {
  table("entries carry their cost; a refund takes back from the newest", slidingLog({ limit: 5, windowMs: 1000 }), [
    { step: 1, at: 0, cost: 3, want: ok(2, 1000), why: "entry (0, 3)" },
    { step: 2, at: 100, cost: 2, want: ok(0, 1000), why: "entry (100, 2); the newest counts until 1100" },
    { step: 3, at: 200, op: "refund", cost: 1, why: "(100, 2) becomes (100, 1)" },
    { step: 4, at: 200, op: "peek", want: ok(1, 900), why: "4 used" },
    { step: 5, at: 200, op: "refund", cost: 2, why: "(100, 1) goes, (0, 3) becomes (0, 2)" },
    { step: 6, at: 200, op: "peek", want: ok(3, 800), why: "2 used, until 1000" },
    { step: 7, at: 500, cost: 4, want: no(3, 500, 500), why: "2 + 4 > 5 until (0, 2) expires at 1000" },
    { step: 8, at: 1000, cost: 5, want: ok(0, 1000), why: "empty log" },
  ]);

  it("keeps at most limit entries, dropping expired ones as it writes", () => {
    const p = slidingLog({ limit: 3, windowMs: 100 });
    let state: readonly number[] | null = null;
    let most = 0;
    for (let t = 0; t < 10_000; t += 7) {
      const r = applyPolicy(p, state, t, 1);
      state = r.state;
      most = Math.max(most, state?.length ?? 0);
    }
    expect(most, "numbers in the state (two per entry)").toBeLessThanOrEqual(6);
  });

  it("describes itself", () => {
    const p = slidingLog({ limit: 10, windowMs: 1000 });
    expect([p.kind, p.name, p.limit, p.windowMs, p.stateSize]).toEqual(["slidingLog", "sliding-log", 10, 1000, -1]);
    expect(p.idle([], 0, 0)).toBe(true);
    expect(p.idle([0, 1, 500, 2], 0, 1499)).toBe(false);
    expect(p.idle([0, 1, 500, 2], 0, 1500)).toBe(true);
  });
});
