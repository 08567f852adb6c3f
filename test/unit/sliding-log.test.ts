// sliding-log.test.ts: table tests of the exact sliding log beyond the shared vectors, and its memory bound.

import { describe, expect, it } from "vitest";
import { newOutcome } from "../../src/core/policy.js";
import { applyPolicy, refundPolicy, slidingLog } from "../../src/index.js";
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

  // The tables below were found missing by mutation testing (`npm run mutate`).
  table("a wait may need several entries to expire, oldest first", slidingLog({ limit: 3, windowMs: 1000 }), [
    { step: 1, at: 0, cost: 1, want: ok(2, 1000), why: "(0, 1)" },
    { step: 2, at: 100, cost: 1, want: ok(1, 1000), why: "(100, 1)" },
    { step: 3, at: 200, cost: 1, want: ok(0, 1000), why: "(200, 1)" },
    { step: 4, at: 300, cost: 2, want: no(0, 800, 900), why: "2 fit once (0, 1) and (100, 1) expire, at 1100" },
  ]);

  table("a step back moves every later entry to now, not only the newest", slidingLog({ limit: 2, windowMs: 1000 }), [
    { step: 1, at: 5000, cost: 1, want: ok(1, 1000), why: "(5000, 1)" },
    { step: 2, at: 5100, cost: 1, want: ok(0, 1000), why: "(5100, 1)" },
    { step: 3, at: 3000, cost: 1, want: no(0, 1000, 1000), why: "both move to 3000 and expire at 4000" },
  ]);

  table("a refund after a step back rebases the log first", slidingLog({ limit: 3, windowMs: 1000 }), [
    { step: 1, at: 5000, cost: 1, want: ok(2, 1000), why: "(5000, 1)" },
    { step: 2, at: 5100, cost: 1, want: ok(1, 1000), why: "(5100, 1)" },
    { step: 3, at: 3000, op: "refund", cost: 1, why: "both move to 3000; the newest goes: (3000, 1)" },
    { step: 4, at: 3500, cost: 3, want: no(2, 500, 500), why: "(3000, 1) expires at 4000" },
  ]);

  it("a refund of all or more than the log holds empties it, leaving no entry of cost 0", () => {
    const p = slidingLog({ limit: 5, windowMs: 1000 });
    const one = applyPolicy(p, null, 0, 1).state;
    expect(refundPolicy(p, one, 100, 1), "exactly the entry's cost").toEqual([]);
    const two = applyPolicy(p, one, 50, 2).state;
    expect(refundPolicy(p, two, 100, 2), "exactly the newest entry's cost").toEqual([0, 1]);
    expect(refundPolicy(p, two, 100, 9), "more than logged").toEqual([]);
  });

  it("evaluate and refund write a Float64Array next as the contract allows, and trim a longer scratch array", () => {
    const p = slidingLog({ limit: 2, windowMs: 1000 });
    const state = [0, 1, 100, 1];
    const typed = new Float64Array(8);
    const out = newOutcome();
    expect(p.evaluate(state, 0, false, 200, 1, typed, out), "denied").toBe(false);
    expect([...typed.subarray(0, 4)], "the kept log").toEqual([0, 1, 100, 1]);
    expect(p.evaluate([0, 1], 0, false, 200, 1, typed, out), "admitted").toBe(true);
    expect([...typed.subarray(0, 4)], "the new log").toEqual([0, 1, 200, 1]);
    expect(p.refund(state, 0, false, 200, 1, typed), "refund").toBe(true);
    expect([...typed.subarray(0, 2)]).toEqual([0, 1]);
    const scratch = [9, 9, 9, 9, 9, 9, 9, 9];
    p.evaluate(state, 0, false, 200, 1, scratch, out);
    expect(scratch, "a denial keeps the log, trimmed to it").toEqual([0, 1, 100, 1]);
  });

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
