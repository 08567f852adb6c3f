// pacer.test.ts: ServerPacer, the per-key memory of what servers said, step by step on an injected clock.

import { describe, expect, it } from "vitest";
import { ServerPacer } from "../../src/client/pacer.js";

function pacer(t: { now: number }, o: Partial<ConstructorParameters<typeof ServerPacer>[0]> = {}) {
  return new ServerPacer({
    now: () => t.now,
    maxDelayMs: 3_600_000,
    backoffMs: 1000,
    jitter: 0,
    random: () => 0,
    spreadBelow: 0.1,
    ...o,
  });
}

describe("ServerPacer", () => {
  it("takes the requests started after the informative one off the server's remaining quota", () => {
    const t = { now: 0 };
    const p = pacer(t);
    const seqs = [1, 2, 3, 4, 5].map(() => p.started("k"));
    // The first request's response says 5 left for 10 s; 4 more were sent since, so 1 is left.
    p.observe("k", seqs[0] as number, false, { remaining: 5, resetAfterMs: 10_000 }, 0);
    expect(p.holdMs("k"), "one start left").toBe(0);
    p.started("k");
    expect(p.holdMs("k"), "then hold until the reset").toBe(10_000);
    t.now = 10_000;
    expect(p.holdMs("k"), "after the reset the budget is gone").toBe(0);
  });

  // Regression (issue 8, defect 12): Retry-After must take precedence over the quota fields of the same response.
  it("Retry-After decides how long an exhausted quota of the same response holds, shorter or longer", () => {
    const rows = [
      {
        why: "Retry-After shorter than the window",
        hints: { retryAfterMs: 7_000, remaining: 0, resetAfterMs: 60_000 },
      },
      { why: "Retry-After longer than the window", hints: { retryAfterMs: 20_000, remaining: 0, resetAfterMs: 5_000 } },
      { why: "Retry-After and remaining 0, no window", hints: { retryAfterMs: 9_000, remaining: 0 } },
    ];
    for (const row of rows) {
      for (const throttled of [true, false]) {
        const t = { now: 0 };
        const p = pacer(t);
        p.observe("k", p.started("k"), throttled, row.hints, 0);
        const want = row.hints.retryAfterMs;
        expect(p.holdMs("k"), `${row.why} (throttled ${throttled}): hold`).toBe(want);
        t.now = want;
        expect(p.holdMs("k"), `${row.why} (throttled ${throttled}): free at Retry-After`).toBe(0);
      }
    }
  });

  it("a quota with room left keeps its window beside Retry-After: the starts it allows are counted to its end", () => {
    const t = { now: 0 };
    const p = pacer(t);
    p.observe("k", p.started("k"), true, { retryAfterMs: 20_000, remaining: 1, resetAfterMs: 40_000 }, 0);
    expect(p.holdMs("k"), "the pause").toBe(20_000);
    t.now = 20_000;
    expect(p.holdMs("k"), "after the pause: one start left").toBe(0);
    p.started("k");
    expect(p.holdMs("k"), "then hold to the window's end").toBe(20_000);
  });

  it("a stale response never raises a newer, lower budget", () => {
    const t = { now: 0 };
    const p = pacer(t);
    const a = p.started("k");
    const b = p.started("k");
    p.observe("k", b, false, { remaining: 0, resetAfterMs: 5_000 }, 0); // newer: exhausted
    p.observe("k", a, false, { remaining: 40, resetAfterMs: 5_000 }, 0); // older, larger: ignored
    expect(p.holdMs("k")).toBe(5_000);
  });

  it("a newer response raises the budget after a reset", () => {
    const t = { now: 0 };
    const p = pacer(t);
    const a = p.started("k");
    p.observe("k", a, false, { remaining: 0, resetAfterMs: 1_000 }, 0);
    t.now = 1_000;
    const b = p.started("k");
    p.observe("k", b, false, { remaining: 50, resetAfterMs: 1_000 }, 0);
    expect(p.holdMs("k")).toBe(0);
  });

  const pauses: { why: string; hints: object; attempt: number; want: number }[] = [
    {
      why: "Retry-After wins",
      hints: { retryAfterMs: 7_000, remaining: 0, resetAfterMs: 3_000 },
      attempt: 0,
      want: 7_000,
    },
    {
      why: "exhausted quota without Retry-After: until the reset",
      hints: { remaining: 0, resetAfterMs: 3_000 },
      attempt: 0,
      want: 3_000,
    },
    { why: "no usable header: backoff 1 s", hints: {}, attempt: 0, want: 1_000 },
    { why: "no usable header, third retry: backoff 8 s", hints: {}, attempt: 3, want: 8_000 },
    { why: "backoff never passes the ceiling", hints: {}, attempt: 40, want: 3_600_000 },
  ];
  for (const row of pauses) {
    it(`a 429 pauses the key: ${row.why}`, () => {
      const t = { now: 0 };
      const p = pacer(t);
      const s = p.started("k");
      const got = p.observe("k", s, true, row.hints, row.attempt);
      expect(
        { pause: got, hold: p.holdMs("k") },
        `observe(429, ${JSON.stringify(row.hints)}, attempt ${row.attempt})`,
      ).toEqual({
        pause: row.want,
        hold: row.want,
      });
    });
  }

  it("jitter only adds, at most `jitter` of the wait, and never passes the ceiling", () => {
    for (const r of [0, 0.3, 0.999]) {
      const t = { now: 0 };
      const p = pacer(t, { jitter: 0.2, random: () => r, maxDelayMs: 10_500 });
      const s = p.started("k");
      const got = p.observe("k", s, true, { retryAfterMs: 10_000 }, 0);
      const want = Math.min(10_500, Math.ceil(10_000 * (1 + 0.2 * r)));
      expect(got, `random=${r}`).toBe(want);
    }
  });

  it("spreads a low quota evenly from the last start, and not a high one", () => {
    const t = { now: 0 };
    const p = pacer(t);
    const s = p.started("k");
    p.observe("k", s, false, { remaining: 4, resetAfterMs: 10_000, limit: 100 }, 0);
    const got: number[] = [];
    for (let i = 0; i < 4; i++) {
      t.now += p.holdMs("k");
      got.push(t.now);
      p.started("k");
    }
    expect(got, "4 left in 10 s: every 2 s").toEqual([2_000, 4_000, 6_000, 8_000]);
    expect(p.holdMs("k"), "then wait for the reset").toBe(2_000);

    const q = pacer({ now: 0 });
    const s2 = q.started("k");
    q.observe("k", s2, false, { remaining: 50, resetAfterMs: 10_000, limit: 100 }, 0);
    expect(q.holdMs("k"), "50 of 100 left: no spreading").toBe(0);
  });

  it("forgets a key once nothing is in flight and no pause or budget applies (bounded memory)", () => {
    const t = { now: 0 };
    const p = pacer(t);
    for (let i = 0; i < 1000; i++) {
      const k = `host${i}`;
      const s = p.started(k);
      p.observe(k, s, i % 2 === 0, i % 2 === 0 ? { retryAfterMs: 100 } : {}, 0);
    }
    expect(p.size, "500 paused keys are kept").toBe(500);
    t.now = 100;
    // Keys never asked about again are swept lazily, two per new start.
    for (let i = 0; i < 300; i++) p.observe("other", p.started("other"), false, {}, 0);
    expect(p.size, "all forgotten once the pauses ended").toBe(0);
  });
});
