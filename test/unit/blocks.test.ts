// blocks.test.ts: block(), automatic blocks after repeated refusals, penalty() and reward() on the memory store (issue 10),
// step by step with an injected clock.

import { describe, expect, it } from "vitest";
import { fixedWindow, MemoryStore, RateLimiter, type RateLimiter as RL, tokenBucket } from "../../src/index.js";

/** Row is one step: at a time, a call, and the fields of its decision that must match. */
type Row = [step: number, atMs: number, call: (l: RL) => Promise<unknown>, want: unknown, why: string];

async function table(limiter: RL, clock: { t: number }, rows: Row[]): Promise<void> {
  for (const [step, at, call, want, why] of rows) {
    clock.t = at;
    const got = await call(limiter);
    const shown =
      typeof got === "object" && got !== null && typeof want === "object" && want !== null
        ? Object.fromEntries(Object.keys(want).map((k) => [k, (got as unknown as Record<string, unknown>)[k]]))
        : got;
    expect(shown, `step ${step} at ${at}: ${why}`).toEqual(want);
  }
}

const consume =
  (cost = 1) =>
  (l: RL) =>
    l.consume("k", cost);

describe("block(key, durationMs)", () => {
  it("refuses every call for the duration, longer than the window, with the exact time left", async () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter({ policy: fixedWindow({ limit: 5, windowMs: 1000 }), now: () => clock.t });
    await table(limiter, clock, [
      [1, 100, consume(), { allowed: true, remaining: 4 }, "not blocked: the window decides"],
      [2, 100, async (l) => l.block("k", 900_000), undefined, "a login that failed: blocked 15 minutes"],
      [
        3,
        100,
        consume(),
        { allowed: false, remaining: 0, retryAfterMs: 900_000, blockedMs: 900_000 },
        "blocked: the wait is the block's",
      ],
      [4, 5_000, consume(), { allowed: false, retryAfterMs: 895_100 }, "new windows do not lift the block"],
      [5, 900_099, consume(), { allowed: false, retryAfterMs: 1 }, "1 ms before the end"],
      [
        6,
        900_100,
        consume(),
        { allowed: true, remaining: 4, blockedMs: undefined },
        "the block is over; the blocked calls took nothing",
      ],
      [7, 900_100, async (l) => l.blockedFor("k"), 0, "nothing left"],
    ]);
  });

  it("keeps the longer of two blocks; unblock lifts it; another key is not blocked", async () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter({ policy: tokenBucket({ capacity: 2, refillRate: 1 }), now: () => clock.t });
    await table(limiter, clock, [
      [1, 0, async (l) => l.block("k", 10_000), undefined, "10 s"],
      [2, 0, async (l) => l.block("k", 5_000), undefined, "a shorter block does not shorten it"],
      [3, 1_000, async (l) => l.blockedFor("k"), 9_000, "9 s left"],
      [4, 1_000, async (l) => l.consume("other"), { allowed: true, remaining: 1 }, "another key"],
      [5, 1_000, async (l) => l.unblock("k"), undefined, "lifted"],
      [6, 1_000, consume(), { allowed: true, remaining: 1 }, "decided by the bucket again"],
    ]);
  });

  it("consumeSync and acquire honour blocks too", async () => {
    let t = 0;
    const timers: { fn: () => void; at: number }[] = [];
    const limiter = new RateLimiter({
      policy: tokenBucket({ capacity: 2, refillRate: 1 }),
      now: () => t,
      timers: {
        setTimeout: (fn: () => void, ms: number) => {
          timers.push({ fn, at: t + ms });
          return timers.length as unknown as ReturnType<typeof setTimeout>;
        },
        clearTimeout: () => {},
      },
    });
    await limiter.block("k", 3_000);
    expect(limiter.consumeSync("k")).toMatchObject({ allowed: false, retryAfterMs: 3_000, blockedMs: 3_000 });
    const p = limiter.acquire("k");
    await new Promise((r) => setTimeout(r, 0));
    expect(
      timers.map((x) => x.at),
      "acquire waits out the block",
    ).toEqual([3_000]);
    t = 3_000;
    timers[0]?.fn();
    await expect(p).resolves.toMatchObject({ allowed: true, remaining: 1 });
  });

  it("rejects a bad duration with a coded error naming the fix", async () => {
    const limiter = new RateLimiter({ policy: tokenBucket({ capacity: 2, refillRate: 1 }) });
    for (const bad of [0, -1, 1.5, Number.NaN, "10", 11 * 365 * 24 * 3600 * 1000]) {
      await expect(limiter.block("k", bad as number), String(bad)).rejects.toMatchObject({
        code: "ERR_INVALID_OPTION",
        message: expect.stringContaining("block(key, durationMs)"),
      });
    }
    await expect(limiter.block(42 as unknown as string, 10)).rejects.toMatchObject({ code: "ERR_INVALID_KEY" });
  });

  it("a store without blocks is refused at construction with blocks: true", () => {
    const plain = new MemoryStore();
    const store = {
      ownsClock: false,
      consume: plain.consume.bind(plain),
      peek: plain.peek.bind(plain),
      refund: plain.refund.bind(plain),
      reset: plain.reset.bind(plain),
    };
    expect(() => new RateLimiter({ policy: tokenBucket({ capacity: 2, refillRate: 1 }), store, blocks: true })).toThrow(
      expect.objectContaining({ code: "ERR_STORE" }),
    );
  });
});

describe("autoBlock: N refusals within a period", () => {
  it("blocks after 3 refusals within 1 s, for 5 s; refusals outside the period start a new count", async () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter({
      policy: fixedWindow({ limit: 1, windowMs: 100 }),
      now: () => clock.t,
      autoBlock: { refusals: 3, withinMs: 1000, blockMs: 5000 },
    });
    await table(limiter, clock, [
      [1, 0, consume(), { allowed: true }, "1 per 100 ms"],
      [2, 10, consume(), { allowed: false, retryAfterMs: 90, blockedMs: undefined }, "refusal 1 (count starts at 10)"],
      [3, 20, consume(), { allowed: false, retryAfterMs: 80 }, "refusal 2"],
      [4, 1_010, consume(), { allowed: true }, "a new window admits"],
      [
        5,
        1_015,
        consume(),
        { allowed: false, retryAfterMs: 85, blockedMs: undefined },
        "refusal at 1015: the first period (10..1010) is over, count 1",
      ],
      [6, 1_020, consume(), { allowed: false, retryAfterMs: 80 }, "count 2"],
      [
        7,
        1_030,
        consume(),
        { allowed: false, retryAfterMs: 5_000, blockedMs: 5_000 },
        "count 3: blocked for 5 s, the true wait",
      ],
      [
        8,
        3_000,
        consume(),
        { allowed: false, retryAfterMs: 3_030, blockedMs: 3_030 },
        "still blocked; blocked calls count nothing",
      ],
      [9, 6_030, consume(), { allowed: true }, "the block is over"],
      [10, 6_031, consume(), { allowed: false, blockedMs: undefined }, "a refusal starts a new count, no block"],
    ]);
  });

  it("validates the rule with coded errors", () => {
    const policy = tokenBucket({ capacity: 2, refillRate: 1 });
    expect(() => new RateLimiter({ policy, autoBlock: { refusals: 0, withinMs: 1, blockMs: 1 } })).toThrow(
      /autoBlock: \{ refusals \}/,
    );
    expect(() => new RateLimiter({ policy, autoBlock: { refusals: 1, withinMs: 1, blockMS: 1 } as never })).toThrow(
      expect.objectContaining({
        code: "ERR_UNKNOWN_OPTION",
        message: expect.stringContaining('did you mean "blockMs"'),
      }),
    );
    expect(() => new RateLimiter({ policy, blocks: "yes" as never })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_OPTION" }),
    );
  });
});

describe("penalty(key, cost) and reward(key, cost)", () => {
  it("take units down to empty (never into debt) and give them back up to the limit", async () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter({ policy: tokenBucket({ capacity: 10, refillRate: 1 }), now: () => clock.t });
    const peek = (l: RL) => l.peek("k");
    await table(limiter, clock, [
      [1, 0, async (l) => l.penalty("k", 4), undefined, "a penalty of 4 on a new key"],
      [2, 0, peek, { remaining: 6, resetAfterMs: 4_000 }, "6 left, 4 s to refill"],
      [3, 0, async (l) => l.penalty("k", 10), undefined, "a penalty larger than what is left"],
      [4, 0, peek, { remaining: 0, resetAfterMs: 10_000 }, "empty, not in debt: 10 s to refill"],
      [5, 1_000, peek, { remaining: 1 }, "one token back after 1 s"],
      [6, 1_000, async (l) => l.reward("k", 3), undefined, "a reward of 3"],
      [7, 1_000, peek, { remaining: 4 }, "1 + 3"],
      [8, 1_000, async (l) => l.reward("k", 10), undefined, "a reward past the capacity"],
      [9, 1_000, peek, { remaining: 10, resetAfterMs: 0 }, "capped at the capacity"],
    ]);
    await expect(limiter.penalty("k", 11)).rejects.toMatchObject({ code: "ERR_COST_EXCEEDS_LIMIT" });
    await expect(limiter.reward("k", -1)).rejects.toMatchObject({ code: "ERR_INVALID_COST" });
  });
});

describe("bounded memory", () => {
  it("blocks and refusal counts never exceed maxKeys entries (the oldest goes first)", async () => {
    let t = 0;
    const store = new MemoryStore({ maxKeys: 10 });
    const limiter = new RateLimiter({
      policy: fixedWindow({ limit: 1, windowMs: 1_000_000 }),
      store,
      now: () => t,
      autoBlock: { refusals: 2, withinMs: 1_000_000, blockMs: 1_000_000 },
    });
    for (let i = 0; i < 100; i++) {
      t = i;
      await limiter.block(`b${i}`, 1_000_000);
      await limiter.consume(`r${i}`);
      await limiter.consume(`r${i}`);
    }
    let blocked = 0;
    for (let i = 0; i < 100; i++) if ((await limiter.blockedFor(`b${i}`)) > 0) blocked++;
    expect(blocked, "at most maxKeys blocks are kept").toBeLessThanOrEqual(10);
    expect(await limiter.blockedFor("b99"), "the newest block is kept").toBeGreaterThan(0);
  });
});
