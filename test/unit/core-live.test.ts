// core-live.test.ts: live policies (src/core/live.ts) at the edges the live properties do not reach: option and policy
// validation with their messages, refunds of current, migrated and reset states, states written by a later version (a
// rolling deploy: another process already replaced the policy), idle checks of an earlier version's state, states at
// an offset in a Float64Array slab (as the memory store keeps them), and the brand a spread must not carry.
// Found missing by mutation testing (`npm run mutate`, docs/architecture.md): live.ts's refund had no coverage at all.

import { describe, expect, it } from "vitest";
import { applyPolicy, refundPolicy } from "../../src/core/apply.js";
import { fixedWindow } from "../../src/core/fixed-window.js";
import { LIVE_HEADER, live, MAX_VERSION, migrateState, replaceLive } from "../../src/core/live.js";
import { newOutcome, type Policy } from "../../src/core/policy.js";
import { checkPolicy } from "../../src/core/registry.js";
import { slidingLog } from "../../src/core/sliding-log.js";
import { slidingWindow } from "../../src/core/sliding-window.js";
import { tokenBucket } from "../../src/core/token-bucket.js";

const tb = (capacity: number, name = "api") => tokenBucket({ name, capacity, refillRate: 1 });
const sl = (limit: number, name = "api") => slidingLog({ name, limit, windowMs: 10_000 });

/** thrown returns [code, message] of what `f` throws. */
function thrown(f: () => unknown): [string, string] {
  try {
    f();
  } catch (err) {
    return [(err as { code: string }).code, (err as Error).message];
  }
  throw new Error("did not throw");
}

describe("live() and replaceLive(): validation", () => {
  it("live() wraps once: a live policy is returned as is; the default version is 1", () => {
    const v1 = live(tb(10));
    expect(live(v1)).toBe(v1);
    const v2 = replaceLive(v1, tb(20));
    expect(live(v2)).toBe(v2);
    expect([v1.live?.version, v1.live?.strategy, v2.live?.version, v2.live?.strategy]).toEqual([
      1,
      "reset",
      2,
      "as-is",
    ]);
    expect([v1.id, v1.stateSize, v1.limit, v1.name]).toEqual(["api:live:tb", LIVE_HEADER + 2, 10, "api"]);
    expect([live(sl(3)).id, live(sl(3)).stateSize]).toEqual(["api:live:sl", -1]);
  });

  // Each row: what is called, the code, a part of the message, why.
  const rows: [string, () => unknown, string, RegExp][] = [
    ["live(not a policy)", () => live({} as Policy), "ERR_INVALID_POLICY", /live\(policy\) needs a policy/],
    [
      "live version 0",
      () => live(tb(1), { version: 0 }),
      "ERR_INVALID_OPTION",
      /live\(\{ version \}\) must be a whole number above 0, got 0/,
    ],
    ["live version 1.5", () => live(tb(1), { version: 1.5 }), "ERR_INVALID_OPTION", /whole number above 0, got 1\.5/],
    ["live version '2'", () => live(tb(1), { version: "2" as never }), "ERR_INVALID_OPTION", /above 0, got/],
    ["live version past MAX_VERSION", () => live(tb(1), { version: MAX_VERSION + 2 }), "ERR_INVALID_OPTION", /above 0/],
    [
      "replaceLive of a plain policy names it",
      () => replaceLive(tb(1, "plain"), tb(2)),
      "ERR_INVALID_POLICY",
      /^floodgate: replaceLive\(current\) needs a live policy, got .* \(policy "plain"\); wrap it first: live\(tokenBucket/,
    ],
    [
      "replaceLive of undefined",
      () => replaceLive(undefined as never, tb(2)),
      "ERR_INVALID_POLICY",
      /needs a live policy, got undefined; wrap it first/,
    ],
    [
      "replaceLive of null",
      () => replaceLive(null as never, tb(2)),
      "ERR_INVALID_POLICY",
      /needs a live policy, got null; wrap/,
    ],
    [
      "replaceLive of a function: no policy name, though a function has a name",
      () => replaceLive(function api() {} as never, tb(2)),
      "ERR_INVALID_POLICY",
      /needs a live policy, got [^(]*; wrap it first/,
    ],
    [
      "replaceLive of an object without a name",
      () => replaceLive({ live: undefined } as never, tb(2)),
      "ERR_INVALID_POLICY",
      /needs a live policy, got [^(]*; wrap it first/,
    ],
    [
      "replaceLive with a version not above the current",
      () => replaceLive(live(tb(1), { version: 5 }), tb(2), { version: 5 }),
      "ERR_INVALID_OPTION",
      /replaceLive\(\{ version \}\) must be a whole number above 5, got 5; leave it out/,
    ],
    [
      "replaceLive with an unknown strategy",
      () => replaceLive(live(tb(1)), tb(2), { strategy: "keep" as never }),
      "ERR_INVALID_OPTION",
      /replaceLive\(\{ strategy \}\) must be one of "reset", "as-is", "proportional", "additive", got "keep"/,
    ],
    [
      "replaceLive with a strategy that is not a string",
      () => replaceLive(live(tb(1)), tb(2), { strategy: 1 as never }),
      "ERR_INVALID_OPTION",
      /must be one of "reset"/,
    ],
    [
      "replaceLive with a non-policy",
      () => replaceLive(live(tb(1)), { options: {} } as never),
      "ERR_INVALID_POLICY",
      /replaceLive\(policy\) needs a policy/,
    ],
    [
      "replaceLive changing the algorithm without reset",
      () => replaceLive(live(tb(1)), sl(2), { strategy: "proportional" }),
      "ERR_INVALID_POLICY",
      /replaceLive\(\) of policy "api" changes its algorithm \(tokenBucket tb to slidingLog sl\) with strategy "proportional"; .*\{ strategy: "reset" \}/,
    ],
    [
      "migrateState to a plain policy",
      () => migrateState(tb(1), [1, 1, 1, 0, 0, 0], 0),
      "ERR_INVALID_POLICY",
      /migrateState\(to\) needs a live policy/,
    ],
  ];
  for (const [i, [what, f, code, message]] of rows.entries()) {
    it(`step ${i + 1}: ${what}: ${code}`, () => {
      const [gotCode, gotMessage] = thrown(f);
      expect(gotCode).toBe(code);
      expect(gotMessage).toMatch(message);
    });
  }

  it("accepts the largest version, and a change of algorithm with reset", () => {
    expect(live(tb(1), { version: MAX_VERSION }).live?.version).toBe(MAX_VERSION);
    const v = replaceLive(live(tb(1)), sl(2), { strategy: "reset" });
    expect([v.id, v.live?.version, v.live?.base.algorithm.code]).toEqual(["api:live:sl", 2, "sl"]);
  });

  it("replaceLive uses the new policy under the current name, and unwraps a live one", () => {
    const v1 = live(tb(10));
    const same = tb(20);
    expect(replaceLive(v1, same).live?.base, "same name: used as is").toBe(same);
    const other = replaceLive(v1, tb(20, "other"));
    expect([other.name, other.live?.base.name, other.live?.base.limit]).toEqual(["api", "api", 20]);
    const wrapped = replaceLive(v1, live(tb(30)));
    expect([wrapped.stateSize, wrapped.live?.base.live, wrapped.limit]).toEqual([LIVE_HEADER + 2, undefined, 30]);
  });

  it("a spread of a live policy carries no brand: it is validated again", () => {
    const v1 = live(tb(10));
    expect(checkPolicy("test", v1)).toBe(v1);
    expect(thrown(() => checkPolicy("test", { ...v1, name: 'we"ird' }))[0]).toBe("ERR_INVALID_POLICY");
  });
});

describe("migrateState", () => {
  it("leaves null and states of this version or a later one alone, and starts reset states fresh", () => {
    const v1 = live(tb(10));
    const v2 = replaceLive(v1, tb(20));
    const v3 = replaceLive(v2, tb(30), { strategy: "reset" });
    const s1 = applyPolicy(v1, null, 0, 4).state;
    const s2 = applyPolicy(v2, s1, 0, 1).state;
    expect(migrateState(v2, null, 0)).toBe(null);
    expect(migrateState(v2, s2, 0), "written by v2").toBe(s2);
    const s3 = applyPolicy(v3, s2, 0, 1).state;
    expect(s3?.[0]).toBe(3);
    expect(migrateState(v2, s3, 0), "written by v3, read by v2").toBe(s3);
    expect(migrateState(v3, s1, 0), "reset").toBe(null);
    expect(migrateState(v2, s1, 0), "as-is: 6 of 10 kept").toEqual([2, 20, 1, 0, 6, 0]);
  });
});

describe("a state written by a later version keeps its header (another process replaced the policy first)", () => {
  it("token bucket and sliding log: consumed and refunded by v2, the v3 header stays", () => {
    for (const mk of [tb, sl]) {
      const v1 = live(mk(10));
      const v2 = replaceLive(v1, mk(8));
      const v3 = replaceLive(v2, mk(6));
      const s3 = applyPolicy(v3, null, 0, 2).state as readonly number[];
      expect(s3[0], "written by v3").toBe(3);
      const byV2 = applyPolicy(v2, s3, 0, 1);
      expect([byV2.allowed, byV2.state?.slice(0, LIVE_HEADER)], `${mk(1).id}: consumed by v2`).toEqual([
        true,
        s3.slice(0, LIVE_HEADER),
      ]);
      const back = refundPolicy(v2, byV2.state, 0, 1) as readonly number[];
      expect(back.slice(0, LIVE_HEADER), `${mk(1).id}: refunded by v2`).toEqual(s3.slice(0, LIVE_HEADER));
      expect(applyPolicy(v3, back, 0, 0).remaining, `${mk(1).id}: 2 spent, 1 more, 1 back: 4 of 6`).toBe(4);
    }
  });
});

describe("refunds of live states", () => {
  for (const [label, mk] of [
    ["tokenBucket", tb],
    ["slidingLog", sl],
  ] as const) {
    it(`${label}: a current state, a migrated one, a reset one and one with nothing spent`, () => {
      const v1 = live(mk(10));
      const v2 = replaceLive(v1, mk(20), { strategy: "additive" });
      const v3 = replaceLive(v2, mk(20), { strategy: "reset" });
      const s1 = applyPolicy(v1, null, 0, 6).state as readonly number[];
      // Current: refunded by the version that wrote it, same header, 2 of the 6 back.
      const r1 = refundPolicy(v1, s1, 0, 2) as readonly number[];
      expect([r1.slice(0, LIVE_HEADER), applyPolicy(v1, r1, 0, 0).remaining]).toEqual([s1.slice(0, LIVE_HEADER), 6]);
      // Migrated: v2 (additive, 10 -> 20) has 4 + 10 = 14 of 20; refunding 3 writes v2's header and 17.
      const r2 = refundPolicy(v2, s1, 0, 3) as readonly number[];
      expect([r2[0], applyPolicy(v2, r2, 0, 0).remaining]).toEqual([2, 17]);
      // Reset: a fresh key, nothing to give back: the state itself.
      expect(refundPolicy(v3, s1, 0, 3)).toBe(s1);
      // Nothing spent: the state itself.
      const full = applyPolicy(v2, null, 0, 0).state;
      expect(full).toBe(null);
      const s2 = applyPolicy(v2, null, 0, 1).state as readonly number[];
      const r3 = refundPolicy(v2, s2, 0, 1);
      expect(applyPolicy(v2, r3, 0, 0).remaining).toBe(20);
      // Fresh: nothing written.
      const next: number[] = [];
      expect([v2.refund([9, 9, 9, 9, 9, 9], 0, true, 0, 1, next), next]).toEqual([false, []]);
    });
  }
});

describe("a fixed-size live state at an offset of a Float64Array slab (as the memory store keeps it)", () => {
  it("evaluate and refund read at the offset and write the state into a typed next", () => {
    const v1 = live(tb(10));
    const v2 = replaceLive(v1, tb(20), { strategy: "as-is" });
    const s1 = applyPolicy(v1, null, 1000, 4).state as readonly number[];
    const o = 5;
    const slab = new Float64Array(o + s1.length + 3).fill(-7);
    slab.set(s1, o);
    // Current state (v1), at the offset.
    const next = new Float64Array(s1.length + 2).fill(-1);
    const out = newOutcome();
    expect(v1.evaluate(slab, o, false, 1000, 1, next, out)).toBe(true);
    expect([...next]).toEqual([...applyPolicy(v1, s1, 1000, 1).state!, -1, -1]);
    // Migrated to v2 (as-is: 6 available), at the offset.
    const next2 = new Float64Array(s1.length + 2).fill(-1);
    const out2 = newOutcome();
    expect(v2.evaluate(slab, o, false, 1000, 1, next2, out2)).toBe(true);
    expect([...next2]).toEqual([...applyPolicy(v2, s1, 1000, 1).state!, -1, -1]);
    expect([out2.remaining, out2.rebased]).toEqual([5, true]);
    // Refunds at the offset: the current state and the migrated one.
    const back = new Float64Array(s1.length).fill(-1);
    expect(v1.refund(slab, o, false, 1000, 2, back)).toBe(true);
    expect([...back]).toEqual([...(refundPolicy(v1, s1, 1000, 2) as readonly number[])]);
    const back2 = new Float64Array(s1.length).fill(-1);
    expect(v2.refund(slab, o, false, 1000, 2, back2)).toBe(true);
    expect([...back2]).toEqual([...(refundPolicy(v2, s1, 1000, 2) as readonly number[])]);
    // idle at the offset: v1's state is full again at 5000 (4 back at 1/s), not before.
    expect([v2.idle(slab, o, 4999), v2.idle(slab, o, 5000)]).toEqual([false, true]);
  });

  it("a sliding log at an offset: the log is what follows the header", () => {
    const v1 = live(sl(10));
    const v2 = replaceLive(v1, sl(4), { strategy: "as-is" });
    const s1 = applyPolicy(v1, null, 1000, 3).state as readonly number[];
    const s = [-5, -5, ...s1];
    const next: number[] = [];
    const out = newOutcome();
    expect(v2.evaluate(s, 2, false, 1000, 1, next, out)).toBe(true);
    expect(next).toEqual(applyPolicy(v2, s1, 1000, 1).state);
  });
});

describe("idle reads an earlier version's state with that version's policy (known in this process)", () => {
  it("v1's state of 10 is not idle for v2 (capacity 2) until v1's bucket is full", () => {
    const v1 = live(tb(10));
    const v2 = replaceLive(v1, tb(2));
    const s1 = applyPolicy(v1, null, 0, 5).state as readonly number[];
    // At 3000 v1's bucket holds 8 of 10: not idle, though 8 would fill v2's 2.
    expect([v2.idle(s1, 0, 3000), v2.idle(s1, 0, 4999), v2.idle(s1, 0, 5000)]).toEqual([false, false, true]);
    // A state of a version this process never saw is read by this version's policy.
    const foreign = [7, ...s1.slice(1)];
    expect([v2.idle(foreign, 0, 0), v2.idle(foreign, 0, 1000)]).toEqual([true, true]);
  });

  it("a live policy reads its own version's states with its own base, even where another branch reused the number", () => {
    const v1 = live(tb(10));
    const big = replaceLive(v1, tb(10), { version: 2 });
    replaceLive(v1, tb(2), { version: 2 });
    const s = applyPolicy(big, null, 0, 5).state as readonly number[];
    expect([big.idle(s, 0, 3000), big.idle(s, 0, 5000)]).toEqual([false, true]);
  });

  it("sliding log: an earlier version's log read with its window", () => {
    const v1 = live(slidingLog({ name: "api", limit: 5, windowMs: 10_000 }));
    const v2 = replaceLive(v1, slidingLog({ name: "api", limit: 5, windowMs: 1000 }));
    const s1 = applyPolicy(v1, null, 0, 2).state as readonly number[];
    expect([v2.idle(s1, 0, 5000), v2.idle(s1, 0, 10_000)]).toEqual([false, true]);
  });
});

describe("fixed window through live", () => {
  it("a fresh key writes its own header, unused params as 0: [version, limit, windowMs, 0]", () => {
    const v = live(fixedWindow({ name: "api", limit: 3, windowMs: 1000 }), { version: 4 });
    const s = applyPolicy(v, null, 0, 1).state as readonly number[];
    expect(s.slice(0, LIVE_HEADER)).toEqual([4, ...v.params.slice(0, 2), 0]);
  });

  it("a refund the base policy refuses (its window is over) leaves the state as it was, current or migrated", () => {
    const v1 = live(fixedWindow({ name: "api", limit: 3, windowMs: 1000 }));
    const v2 = replaceLive(v1, fixedWindow({ name: "api", limit: 6, windowMs: 1000 }));
    const s = applyPolicy(v1, null, 0, 2).state;
    expect(refundPolicy(v1, s, 500, 1), "in the window: given back").not.toBe(s);
    expect(refundPolicy(v1, s, 1500, 1), "the window is over").toBe(s);
    expect(refundPolicy(v2, s, 1500, 1), "migrated, the window is over").toBe(s);
    const next = [-1];
    expect([v2.refund(s as readonly number[], 0, false, 1500, 1, next), next]).toEqual([false, [-1]]);
  });
});

describe("a sliding window migrated in the window after the stored one", () => {
  it("rolls first: the stored current count is the previous one, half slid out", () => {
    const v1 = live(slidingWindow({ name: "api", limit: 10, windowMs: 1000 }));
    const v2 = replaceLive(v1, slidingWindow({ name: "api", limit: 20, windowMs: 1000 }));
    const state = applyPolicy(v1, applyPolicy(v1, null, 500, 4).state, 1200, 3).state;
    expect(state, "4 in [0, 1000), 3 in [1000, 2000)").toEqual([1, 10, 1000, 0, 1000, 4, 3]);
    // At 2500: the window [2000, 3000), previous 3 (half slid out: estimate 1.5), current 0; as-is keeps 8.5 of
    // 20 available, so 11.5 used, all of it in the previous count: 3 * 11.5 / 1.5 = 23.
    expect(migrateState(v2, state, 2500)).toEqual([2, 20, 1000, 0, 2000, 23, 0]);
    expect(applyPolicy(v2, state, 2500, 0).remaining, "20 - 23 * 0.5").toBe(8);
    expect(migrateState(v2, state, 3000), "both counts rolled out: nothing to carry").toBe(null);
  });
});
