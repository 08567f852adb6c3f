// acquire.test.ts: RateLimiter.acquire with an injected clock and fake timers: order, aborts, bounds, no leaks.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type Decision,
  FloodgateError,
  fixedWindow,
  gcra,
  MemoryStore,
  type Policy,
  RateLimiter,
  type Store,
  tokenBucket,
} from "../../src/index.js";
import { FakeTime, settle } from "./fake-time.js";

/** track records when each promise settles, on the fake clock. */
function track(time: FakeTime, log: string[], name: string, p: Promise<Decision>): Promise<void> {
  return p.then(
    () => {
      log.push(`${name}@${time.nowMs}`);
    },
    (e: unknown) => {
      log.push(`${name}!${(e as { code?: string }).code}@${time.nowMs}`);
    },
  );
}

function setup(policy: Policy, extra: { maxQueue?: number; store?: Store } = {}, nodeClamp = false) {
  const time = new FakeTime(nodeClamp);
  const limiter = new RateLimiter({ policy, now: time.now, timers: time.timers, ...extra });
  return { time, limiter };
}

let unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => {
  unhandled.push(e);
};
beforeEach(() => {
  unhandled = [];
  process.on("unhandledRejection", onUnhandled);
});
afterEach(() => {
  process.off("unhandledRejection", onUnhandled);
});

describe("acquire", () => {
  it("serves waiters first come, first served, each when its token arrives", async () => {
    const { time, limiter } = setup(tokenBucket({ capacity: 1, refillRate: 1 }));
    await limiter.consume("k");
    const log: string[] = [];
    const all = ["a", "b", "c"].map((n) => track(time, log, n, limiter.acquire("k")));
    await time.advance(999);
    expect(log, "before the first token").toEqual([]);
    await time.advance(1);
    expect(log).toEqual(["a@1000"]);
    await time.advance(2000);
    await Promise.all(all);
    expect(log).toEqual(["a@1000", "b@2000", "c@3000"]);
    expect(time.live, "timers left behind").toBe(0);
  });

  it("resolves at once, without a timer, when the cost fits", async () => {
    const { time, limiter } = setup(tokenBucket({ capacity: 3, refillRate: 1 }));
    const d = await limiter.acquire("k", { cost: 3 });
    expect([d.allowed, d.remaining]).toEqual([true, 0]);
    expect(time.live).toBe(0);
  });

  it("does not starve a heavy call behind lighter ones", async () => {
    const { time, limiter } = setup(tokenBucket({ capacity: 5, refillRate: 1 }));
    await limiter.consume("k", 5);
    const log: string[] = [];
    const all = [
      track(time, log, "heavy", limiter.acquire("k", { cost: 5 })),
      track(time, log, "l1", limiter.acquire("k")),
      track(time, log, "l2", limiter.acquire("k")),
    ];
    await time.advance(10_000);
    await Promise.all(all);
    // The light calls could each have gone at 1000 and 2000, but the heavy one came first.
    expect(log).toEqual(["heavy@5000", "l1@6000", "l2@7000"]);
    expect(time.live).toBe(0);
  });

  it("an aborted waiter leaves the queue, takes nothing and lets the next one go", async () => {
    const { time, limiter } = setup(tokenBucket({ capacity: 2, refillRate: 1 }));
    await limiter.consume("k", 2);
    const log: string[] = [];
    const ac = new AbortController();
    const all = [
      track(time, log, "a", limiter.acquire("k", { cost: 2, signal: ac.signal })),
      track(time, log, "b", limiter.acquire("k", { cost: 1 })),
    ];
    await time.advance(500);
    ac.abort();
    await time.advance(500);
    await Promise.all(all);
    expect(log).toEqual(["a!ERR_ABORTED@500", "b@1000"]);
    // a took nothing: 2 s after b's token the bucket is full again.
    await time.advance(2000);
    expect((await limiter.peek("k")).remaining).toBe(2);
    expect(time.live).toBe(0);
  });

  it("an already aborted signal rejects at once and queues nothing", async () => {
    const { time, limiter } = setup(tokenBucket({ capacity: 1, refillRate: 1 }));
    await limiter.consume("k");
    const ac = new AbortController();
    ac.abort(new Error("gone"));
    const err = await limiter.acquire("k", { signal: ac.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FloodgateError);
    expect((err as FloodgateError).code).toBe("ERR_ABORTED");
    expect((err as FloodgateError).cause).toEqual(new Error("gone"));
    expect(time.live).toBe(0);
    // The queue is empty: the next acquire is served when its token comes.
    const log: string[] = [];
    const p = track(time, log, "next", limiter.acquire("k"));
    await time.advance(1000);
    await p;
    expect(log).toEqual(["next@1000"]);
  });

  it("aborting every waiter clears the timer", async () => {
    const { time, limiter } = setup(tokenBucket({ capacity: 1, refillRate: 1 }));
    await limiter.consume("k");
    const acs = [new AbortController(), new AbortController(), new AbortController()];
    const log: string[] = [];
    const all = acs.map((ac, i) => track(time, log, `w${i}`, limiter.acquire("k", { signal: ac.signal })));
    await time.advance(10);
    expect(time.live).toBe(1);
    // Abort the tail first, then the head.
    acs[2]?.abort();
    acs[1]?.abort();
    acs[0]?.abort();
    await Promise.all(all);
    expect(log).toEqual(["w2!ERR_ABORTED@10", "w1!ERR_ABORTED@10", "w0!ERR_ABORTED@10"]);
    expect(time.live, "timers left behind").toBe(0);
    expect((await limiter.peekAt("k", 1000)).remaining, "nothing taken").toBe(1);
  });

  it("an abort while the store answers gives back what was taken", async () => {
    const memory = new MemoryStore();
    let release: (() => void) | undefined;
    const slow: Store = {
      ownsClock: false,
      consume: (key, policies, cost, nowMs) =>
        new Promise<Decision>((resolve) => {
          release = () => resolve(memory.consume(key, policies, cost, nowMs));
        }),
      peek: (key, policies, nowMs) => memory.peek(key, policies, nowMs),
      refund: (key, policies, cost, nowMs) => memory.refund(key, policies, cost, nowMs),
      reset: (key, policies) => memory.reset(key, policies),
    };
    const { time, limiter } = setup(tokenBucket({ capacity: 2, refillRate: 1 }), { store: slow });
    const ac = new AbortController();
    const log: string[] = [];
    const p = track(time, log, "a", limiter.acquire("k", { cost: 2, signal: ac.signal }));
    await settle();
    ac.abort();
    release?.();
    await p;
    await settle();
    expect(log).toEqual(["a!ERR_ABORTED@0"]);
    expect((await limiter.peek("k")).remaining, "the 2 tokens taken for the aborted call came back").toBe(2);
    expect(unhandled).toEqual([]);
  });

  it("rejects with ERR_WAIT_TOO_LONG at once when the wait would pass maxWaitMs", async () => {
    const { time, limiter } = setup(tokenBucket({ capacity: 1, refillRate: 1 }));
    await limiter.consume("k");
    const log: string[] = [];
    await track(time, log, "short", limiter.acquire("k", { maxWaitMs: 999 }));
    expect(log).toEqual(["short!ERR_WAIT_TOO_LONG@0"]);
    const p = track(time, log, "enough", limiter.acquire("k", { maxWaitMs: 1000 }));
    await time.advance(1000);
    await p;
    expect(log).toEqual(["short!ERR_WAIT_TOO_LONG@0", "enough@1000"]);
    expect(time.live).toBe(0);
  });

  // Regression: a waiter behind the head was never checked against maxWaitMs until it led the queue.
  it("maxWaitMs counts the time spent behind other waiters, and rejects before the bound passes", async () => {
    const { time, limiter } = setup(tokenBucket({ capacity: 1, refillRate: 1 }));
    await limiter.consume("k");
    const log: string[] = [];
    const all = [
      track(time, log, "head", limiter.acquire("k")),
      // Behind a head that waits until 1000, this one cannot be served within 900 ms.
      track(time, log, "short", limiter.acquire("k", { maxWaitMs: 900 })),
      // This one could be, as far as is known at 0; at 1000 it needs another 1000 ms, past its 1500.
      track(time, log, "longer", limiter.acquire("k", { maxWaitMs: 1500 })),
      track(time, log, "patient", limiter.acquire("k", { maxWaitMs: 2000 })),
    ];
    await time.advance(0);
    expect(log, "rejected without waiting").toEqual(["short!ERR_WAIT_TOO_LONG@0"]);
    await time.advance(3000);
    await Promise.all(all);
    expect(log).toEqual(["short!ERR_WAIT_TOO_LONG@0", "head@1000", "longer!ERR_WAIT_TOO_LONG@1000", "patient@2000"]);
    expect(time.live).toBe(0);
  });

  // Regression: a waiter joining behind a waiting head was queued even when the head alone outlasted its bound.
  it("a waiter that joins while the head waits is turned away when the head's wait already passes its bound", async () => {
    const { time, limiter } = setup(tokenBucket({ capacity: 1, refillRate: 1 }));
    await limiter.consume("k");
    const log: string[] = [];
    const head = track(time, log, "head", limiter.acquire("k"));
    await time.advance(100);
    const late = track(time, log, "late", limiter.acquire("k", { maxWaitMs: 500 }));
    await time.advance(0);
    expect(log).toEqual(["late!ERR_WAIT_TOO_LONG@100"]);
    await time.advance(900);
    await Promise.all([head, late]);
    expect(log).toEqual(["late!ERR_WAIT_TOO_LONG@100", "head@1000"]);
  });

  it("rejects with ERR_QUEUE_FULL past maxQueue waiters per key, other keys unaffected", async () => {
    const { time, limiter } = setup(tokenBucket({ capacity: 1, refillRate: 1 }), { maxQueue: 2 });
    await limiter.consume("k");
    const log: string[] = [];
    const all = [
      track(time, log, "a", limiter.acquire("k")),
      track(time, log, "b", limiter.acquire("k")),
      track(time, log, "c", limiter.acquire("k")),
      track(time, log, "other", limiter.acquire("other")),
    ];
    await time.advance(0);
    expect(log).toEqual(["c!ERR_QUEUE_FULL@0", "other@0"]);
    await time.advance(2000);
    await Promise.all(all);
    expect(log).toEqual(["c!ERR_QUEUE_FULL@0", "other@0", "a@1000", "b@2000"]);
    expect(time.live).toBe(0);
  });

  it("takes a per-call policy override", async () => {
    const { time, limiter } = setup(tokenBucket({ capacity: 1, refillRate: 1 }));
    const wide = gcra({ limit: 5, periodMs: 1000, name: "wide" });
    const decisions = await Promise.all(Array.from({ length: 5 }, () => limiter.acquire("k", { policy: wide })));
    expect(decisions.map((d) => [d.allowed, d.policy])).toEqual(Array(5).fill([true, "wide"]));
    const log: string[] = [];
    const p = track(time, log, "sixth", limiter.acquire("k", { policy: wide }));
    await time.advance(199);
    expect(log).toEqual([]);
    await time.advance(1);
    await p;
    expect(log).toEqual(["sixth@200"]);
    // The default policy's state for "k" was never touched.
    expect((await limiter.peek("k")).remaining).toBe(1);
  });

  it("rejects bad input as a rejected promise, never a synchronous throw", async () => {
    const { time, limiter } = setup(tokenBucket({ capacity: 2, refillRate: 1 }));
    const codes = await Promise.all(
      [
        () => limiter.acquire("k", { cost: 3 }),
        () => limiter.acquire("k", { cost: -1 }),
        () => limiter.acquire("k", { cost: 1.5 }),
        () => limiter.acquire(42 as unknown as string),
        () => limiter.acquire("k", { maxWaitMs: -1 }),
        () => limiter.acquire("k", { maxWaitMs: Number.NaN }),
      ].map((f) =>
        f().then(
          () => "resolved",
          (e: { code?: string }) => e.code,
        ),
      ),
    );
    expect(codes).toEqual([
      "ERR_COST_EXCEEDS_LIMIT",
      "ERR_INVALID_COST",
      "ERR_INVALID_COST",
      "ERR_INVALID_KEY",
      "ERR_INVALID_OPTION",
      "ERR_INVALID_OPTION",
    ]);
    expect(time.live).toBe(0);
    expect((await limiter.peek("k")).remaining).toBe(2);
  });

  it("a failing store rejects the waiter it failed for and serves the next", async () => {
    const memory = new MemoryStore();
    let failNext = true;
    const flaky: Store = {
      ownsClock: false,
      consume: async (key, policies, cost, nowMs) => {
        if (failNext) {
          failNext = false;
          throw new Error("store down");
        }
        return memory.consume(key, policies, cost, nowMs);
      },
      peek: (key, policies, nowMs) => memory.peek(key, policies, nowMs),
      refund: (key, policies, cost, nowMs) => memory.refund(key, policies, cost, nowMs),
      reset: (key, policies) => memory.reset(key, policies),
    };
    const { time, limiter } = setup(tokenBucket({ capacity: 1, refillRate: 1 }), { store: flaky });
    const log: string[] = [];
    const all = [track(time, log, "a", limiter.acquire("k")), track(time, log, "b", limiter.acquire("k"))];
    await time.advance(0);
    await Promise.all(all);
    expect(log).toEqual(["a!undefined@0", "b@0"]);
    expect(unhandled).toEqual([]);
  });

  // Regression: a refund failing in #drain rejected its promise unhandled and left the queue stuck for good.
  it("a store whose refund fails after an abort causes no unhandled rejection and keeps serving", async () => {
    const memory = new MemoryStore();
    let release: (() => void) | undefined;
    let slowOnce = true;
    const store: Store = {
      ownsClock: false,
      consume: (key, policies, cost, nowMs) => {
        if (!slowOnce) return memory.consume(key, policies, cost, nowMs);
        slowOnce = false;
        return new Promise<Decision>((resolve) => {
          release = () => resolve(memory.consume(key, policies, cost, nowMs));
        });
      },
      peek: (key, policies, nowMs) => memory.peek(key, policies, nowMs),
      refund: async () => {
        throw new Error("store down");
      },
      reset: (key, policies) => memory.reset(key, policies),
    };
    const { time, limiter } = setup(tokenBucket({ capacity: 2, refillRate: 1 }), { store });
    const ac = new AbortController();
    const log: string[] = [];
    const a = track(time, log, "a", limiter.acquire("k", { signal: ac.signal }));
    const b = track(time, log, "b", limiter.acquire("k"));
    await settle();
    ac.abort();
    release?.();
    await time.advance(0);
    await Promise.all([a, b]);
    expect(log).toEqual(["a!ERR_ABORTED@0", "b@0"]);
    expect(unhandled, "unhandled rejections").toEqual([]);
  });

  it("refund after acquire never fills above capacity", async () => {
    const { limiter } = setup(tokenBucket({ capacity: 3, refillRate: 1 }));
    await limiter.acquire("k", { cost: 2 });
    await limiter.refund("k", 3);
    expect((await limiter.peek("k")).remaining).toBe(3);
    const d = await limiter.consume("k", 3);
    expect([d.allowed, d.remaining]).toEqual([true, 0]);
    expect((await limiter.consume("k")).allowed).toBe(false);
  });

  // Regression (issue 8, defect 4): a wait past setTimeout's 2^31-1 ms limit was set as one timer, which Node
  // fires after 1 ms, so acquire asked the store about 870 times a second for the whole wait.
  describe("waits longer than setTimeout's limit (2^31-1 ms) chain timers", () => {
    const MAX = 2 ** 31 - 1;
    const DAY_MS = 86_400_000;
    const rows = [
      {
        why: "fixedWindow of 1 per 30 days: the next window opens at 30 d",
        policy: fixedWindow({ limit: 1, windowMs: 30 * DAY_MS }),
        waitMs: 30 * DAY_MS,
      },
      {
        why: "tokenBucket of 1 refilling one token per 100 days",
        policy: tokenBucket({ capacity: 1, refillRate: 1 / (100 * 86_400) }),
        // 100 days less EPSILON's share of them (1e-9 of a token: 8.64 ms), which admission forgives: 8,639,999,992 ms.
        waitMs: 100 * DAY_MS - 8,
      },
    ];
    for (const row of rows) {
      it(row.why, async () => {
        const counted = countingStore();
        const { time, limiter } = setup(row.policy, { store: counted.store }, true);
        await limiter.consume("k");
        const log: string[] = [];
        const p = track(time, log, "long", limiter.acquire("k"));
        // Step 1: a second of virtual time: one timer asked for (a chunk of at most 2^31-1 ms), one store call.
        await time.advance(1000);
        expect(counted.consumes, "store calls in the first second (initial consume + acquire's first try)").toBe(2);
        expect(time.asked, "delays asked so far").toEqual([Math.min(row.waitMs, MAX)]);
        // Step 2: run to 1 ms before the wait ends: still waiting, one timer per 2^31-1 ms, no extra store call.
        await time.advance(row.waitMs - 1 - 1000);
        expect(log, "not admitted before the wait ends").toEqual([]);
        expect(counted.consumes, "no store call until the wait ends").toBe(2);
        const chunks: number[] = [];
        for (let left = row.waitMs; left > 0; left -= MAX) chunks.push(Math.min(left, MAX));
        expect(time.asked, "one timer per 2^31-1 ms, the last one for the rest").toEqual(chunks);
        expect(time.live, "one timer at a time").toBe(1);
        // Step 3: the wait ends: admitted, with one more store call, and no timer left.
        await time.advance(1);
        await p;
        expect(log).toEqual([`long@${row.waitMs}`]);
        expect(counted.consumes).toBe(3);
        expect(time.live).toBe(0);
      });
    }

    it("maxWaitMs larger than setTimeout's limit still bounds the wait, at once", async () => {
      const { time, limiter } = setup(fixedWindow({ limit: 1, windowMs: 30 * DAY_MS }), {}, true);
      await limiter.consume("k");
      const log: string[] = [];
      await track(time, log, "bounded", limiter.acquire("k", { maxWaitMs: 29 * DAY_MS }));
      expect(log).toEqual(["bounded!ERR_WAIT_TOO_LONG@0"]);
      expect(time.live).toBe(0);
    });
  });
});

/** countingStore is a MemoryStore that counts consume calls. */
function countingStore(): { store: Store; readonly consumes: number } {
  const memory = new MemoryStore();
  const counted = {
    consumes: 0,
    store: {
      ownsClock: false,
      consume: (key, policies, cost, nowMs) => {
        counted.consumes++;
        return memory.consume(key, policies, cost, nowMs);
      },
      peek: (key, policies, nowMs) => memory.peek(key, policies, nowMs),
      refund: (key, policies, cost, nowMs) => memory.refund(key, policies, cost, nowMs),
      reset: (key, policies) => memory.reset(key, policies),
    } as Store,
  };
  return counted;
}
