// limiter-plain.test.ts: RateLimiter's plain path (#plain, #plainAsync: consume and consumeSync call the memory store
// directly while nothing else needs the call; issue 13) is left the moment anything needs the full path: a listener,
// a counting binding, heavy hitters, blocks (option, autoBlock or a block() call), a replaced policy, another store,
// an injected clock (consume only), a cost or options. Each row turns one of them on, checks that its effect is seen
// by both consume and consumeSync (so the plain path was left), then (where it can be) turns it off and checks that
// decisions go on exactly as a twin limiter's that never had it.

import { describe, expect, it } from "vitest";
import { type Decision, live, MemoryStore, RateLimiter, tokenBucket } from "../../src/index.js";
import { COUNTER } from "../../src/listeners.js";

/** A bucket of 4 that refills one token per 1000 s: nothing comes back during a test. */
const four = () => live(tokenBucket({ name: "api", capacity: 4, refillRate: 0.001 }));

/** fields keeps what a caller reads of a decision. */
const fields = (d: Decision) => [d.allowed, d.remaining, d.retryAfterMs, d.resetAfterMs, d.policy];

/** Way is one way to leave the plain path: `on` turns it on and returns what undoes it (if anything can). */
interface Way {
  name: string;
  /** changes is true when the way changes decisions (blocks, a new policy): no twin to compare with while on. */
  changes?: boolean;
  options?: Record<string, unknown>;
  on(l: RateLimiter): (() => void) | undefined;
  /** seen reports whether the way's effect shows after `calls` calls on key "k" (both consume and consumeSync made). */
  seen(l: RateLimiter, calls: number, last: Decision): boolean;
}

const ways = (): Way[] => {
  let decisions = 0;
  let near = 0;
  let counted: (() => number) | undefined;
  return [
    {
      name: 'on("decision")',
      on: (l) => l.on("decision", () => void decisions++),
      seen: (_l, calls) => decisions === calls,
    },
    {
      name: 'on("nearLimit")',
      on: (l) => l.on("nearLimit", () => void near++),
      // A bucket of 4: near the limit (20%) at 0 left, which the fourth call on "k" leaves (the fifth and sixth are denied).
      seen: () => near === 1,
    },
    {
      name: "a counting binding (COUNTER)",
      on: (l) => {
        const c = l[COUNTER]();
        counted = () => {
          const n = c.counts().get("api");
          return n === undefined ? 0 : n.allowed + n.denied;
        };
        return c.release;
      },
      seen: (_l, calls) => counted?.() === calls,
    },
    {
      name: "heavyHitters",
      options: { heavyHitters: 3 },
      on: () => undefined,
      seen: (l, calls) => calls > 4 && l.heavyHitters("api")[0]?.keys[0]?.key === "k",
    },
    {
      name: "a block() call",
      changes: true,
      on: () => undefined,
      seen: (_l, _calls, last) => last.blockedMs !== undefined,
    },
    {
      name: "autoBlock",
      changes: true,
      options: { autoBlock: { refusals: 1, withinMs: 60_000, blockMs: 60_000 } },
      on: () => undefined,
      // The fifth call is refused, which blocks "k"; the sixth is the block's.
      seen: (_l, _calls, last) => last.blockedMs !== undefined,
    },
    {
      name: "replacePolicy",
      changes: true,
      on: (l) => {
        l.replacePolicy("api", tokenBucket({ name: "api", capacity: 10, refillRate: 0.001 }));
        return undefined;
      },
      // The new capacity (10) shows in limit and remaining.
      seen: (_l, _calls, last) => last.limit === 10,
    },
  ];
};

describe("RateLimiter's plain path is left when anything needs the full one", () => {
  // With an injected clock consume never takes the plain path (#plainAsync), so each way runs with the real clock
  // too; there the waits move with the time between calls, so only allowed, remaining and policy are compared.
  for (const clock of ["injected", "real"] as const) {
    for (const way of ways()) {
      it(`${way.name} (${clock} clock): consume and consumeSync both see it, and answer as a twin once it is gone`, async () => {
        let t = 1_000;
        const now = clock === "injected" ? { now: () => t } : {};
        const l = new RateLimiter({ policy: four(), ...now, ...way.options });
        const twin = new RateLimiter({ policy: four(), ...now });
        const cmp = (d: Decision) => (clock === "injected" ? fields(d) : [d.allowed, d.remaining, d.policy]);
        // Before: plain, as the twin.
        expect(cmp(l.consumeSync("x"))).toEqual(cmp(twin.consumeSync("x")));
        expect(cmp(await l.consume("x"))).toEqual(cmp(await twin.consume("x")));
        const off = way.on(l);
        if (way.name === "a block() call") await l.block("k", 60_000);
        let calls = 0;
        let lastSync: Decision | undefined;
        let lastAsync: Decision | undefined;
        for (let i = 0; i < 3; i++) {
          t += 1;
          lastSync = l.consumeSync("k");
          calls++;
          if (!way.changes)
            expect(cmp(lastSync), `step ${calls}: consumeSync("k")`).toEqual(cmp(twin.consumeSync("k")));
          lastAsync = await l.consume("k");
          calls++;
          if (!way.changes) expect(cmp(lastAsync), `step ${calls}: consume("k")`).toEqual(cmp(await twin.consume("k")));
        }
        expect(
          way.seen(l, calls, lastSync as Decision),
          `${way.name}: seen after ${calls} calls, consumeSync last`,
        ).toBe(true);
        expect(way.seen(l, calls, lastAsync as Decision), `${way.name}: seen after ${calls} calls, consume last`).toBe(
          true,
        );
        if (off === undefined) return;
        off();
        // After: the same answers as the twin.
        for (let i = 0; i < 3; i++) {
          t += 1;
          expect(cmp(l.consumeSync("y")), `step ${i + 1}: consumeSync("y")`).toEqual(cmp(twin.consumeSync("y")));
          expect(cmp(await l.consume("k")), `step ${i + 1}: consume("k")`).toEqual(cmp(await twin.consume("k")));
        }
      });
    }
  }

  it("a cost or options take the full path, with its checks", async () => {
    const l = new RateLimiter({ policy: four(), now: () => 0 });
    expect(fields(l.consumeSync("k", 2))).toEqual([true, 2, 0, 2_000_000, "api"]);
    expect(() => l.consumeSync("k", 5)).toThrow(/exceeds|capacity/);
    await expect(l.consume("k", { cost: 1.5 })).rejects.toThrow();
    expect(() => l.consumeSync(42 as unknown as string)).toThrow(/key/);
    await expect(l.consume(42 as unknown as string)).rejects.toThrow(/key/);
  });

  it("an injected clock that throws or returns junk: consume rejects, consumeSync throws (ERR_INVALID_CLOCK)", async () => {
    let mode = 0;
    const now = () => {
      if (mode === 1) throw new Error("broken clock");
      return mode === 2 ? Number.NaN : 5;
    };
    const l = new RateLimiter({ policy: four(), now });
    for (const m of [1, 2]) {
      mode = m;
      const p = l.consume("k");
      expect(p).toBeInstanceOf(Promise);
      await expect(p).rejects.toMatchObject({ code: "ERR_INVALID_CLOCK" });
      expect(() => l.consumeSync("k")).toThrow(expect.objectContaining({ code: "ERR_INVALID_CLOCK" }));
    }
    mode = 0;
    expect(fields(await l.consume("k"))).toEqual([true, 3, 0, 1_000_000, "api"]);
  });

  it("another store than a MemoryStore: consume asks it, consumeSync refuses", async () => {
    const inner = new MemoryStore();
    const asked: string[] = [];
    const store = {
      ownsClock: false,
      consume: (...a: Parameters<MemoryStore["consume"]>) => {
        asked.push(a[0]);
        return inner.consume(...a);
      },
      peek: inner.peek.bind(inner),
      refund: inner.refund.bind(inner),
      reset: inner.reset.bind(inner),
    };
    const l = new RateLimiter({ policy: four(), store, now: () => 0 });
    expect((await l.consume("k")).remaining).toBe(3);
    expect(asked).toEqual(["k"]);
    expect(() => l.consumeSync("k")).toThrow(/MemoryStore/);
  });
});
