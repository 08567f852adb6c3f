// throttle.test.ts: throttle(fn) on a virtual clock: pace, FIFO, queue bound, abort, maxWaitMs, concurrency.

import { describe, expect, it } from "vitest";
import { throttle } from "../../src/client/index.js";
import { fixedWindow, gcra, MemoryStore, type Store, tokenBucket } from "../../src/index.js";
import { FakeClock, settle } from "./helpers.js";

/** startLog wraps a function so each call records its virtual start time and a label. */
function recorder(clock: FakeClock) {
  const starts: { label: string; at: number; cost: number }[] = [];
  const fn = async (label: string, cost = 1): Promise<string> => {
    starts.push({ label, at: clock.now() - 1_000_000, cost });
    return label;
  };
  return { starts, fn };
}

async function errorOf(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error("expected a rejection, got a result");
}

describe("throttle pace", () => {
  const rows = [
    {
      why: "burst of 2 then one per second",
      policy: tokenBucket({ capacity: 2, refillRate: 1 }),
      calls: 5,
      want: [0, 0, 1000, 2000, 3000],
    },
    {
      why: "gcra 4 per second, burst 1: every 250 ms",
      policy: gcra({ limit: 4, periodMs: 1000, burst: 1 }),
      calls: 4,
      want: [0, 250, 500, 750],
    },
    {
      // fixed windows align to multiples of windowMs: the clock starts at 1,000,000, a window boundary.
      why: "fixed window of 3 per 1000 ms: the 4th call waits for the next window",
      policy: fixedWindow({ limit: 3, windowMs: 1000 }),
      calls: 5,
      want: [0, 0, 0, 1000, 1000],
    },
  ];
  for (const row of rows) {
    it(row.why, async () => {
      const clock = new FakeClock();
      const { starts, fn } = recorder(clock);
      const t = throttle(fn, { policy: row.policy, now: clock.now, timers: clock });
      const all = Promise.all(Array.from({ length: row.calls }, (_, i) => t(`c${i}`)));
      await clock.advance(10_000);
      await all;
      const got = starts.map((s) => s.at);
      expect(got, `${row.why}: start times ${JSON.stringify(got)} want ${JSON.stringify(row.want)}`).toEqual(row.want);
      expect(clock.pending, "no timer left once idle").toBe(0);
    });
  }

  it("never admits more than capacity + rate * window, for random costs (token bucket 10, 5/s)", async () => {
    const clock = new FakeClock();
    const { starts, fn } = recorder(clock);
    const t = throttle(fn, {
      policy: tokenBucket({ capacity: 10, refillRate: 5 }),
      cost: (_label: string, cost = 1) => cost,
      now: clock.now,
      timers: clock,
    });
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const calls: Promise<string>[] = [];
    for (let i = 0; i < 60; i++) {
      calls.push(t(`c${i}`, 1 + Math.floor(rand() * 10)));
      await clock.advance(Math.floor(rand() * 300));
    }
    await clock.advance(200_000);
    await Promise.all(calls);
    expect(
      starts.map((s) => s.label),
      "FIFO: calls start in call order",
    ).toEqual(calls.map((_, i) => `c${i}`));
    for (let i = 0; i < starts.length; i++) {
      let sum = 0;
      for (let j = i; j < starts.length; j++) {
        sum += (starts[j] as { cost: number }).cost;
        const windowMs = (starts[j] as { at: number }).at - (starts[i] as { at: number }).at;
        const bound = 10 + (5 * windowMs) / 1000 + 1e-9;
        if (sum > bound) {
          throw new Error(`calls ${i}..${j} spent ${sum} in ${windowMs} ms, more than the bound ${bound}`);
        }
      }
    }
  });
});

describe("throttle fairness", () => {
  it("a heavy call at the head is not overtaken by lighter calls behind it", async () => {
    const clock = new FakeClock();
    const { starts, fn } = recorder(clock);
    const t = throttle(fn, {
      policy: tokenBucket({ capacity: 10, refillRate: 10 }),
      cost: (_l: string, c = 1) => c,
      now: clock.now,
      timers: clock,
    });
    const p = [t("drain", 10), t("heavy", 10), t("light1", 1), t("light2", 1), t("light3", 1)];
    await clock.advance(5_000);
    await Promise.all(p);
    const got = starts.map((s) => `${s.label}@${s.at}`);
    expect(got, `order: ${got.join(", ")}`).toEqual([
      "drain@0",
      "heavy@1000",
      "light1@1100",
      "light2@1200",
      "light3@1300",
    ]);
  });

  it("keys are independent: an exhausted key does not delay another", async () => {
    const clock = new FakeClock();
    const { starts, fn } = recorder(clock);
    const t = throttle(fn, {
      policy: tokenBucket({ capacity: 1, refillRate: 1 }),
      key: (label: string) => label.split("/")[0] as string,
      now: clock.now,
      timers: clock,
    });
    const p = [t("a/1"), t("a/2"), t("a/3"), t("b/1"), t("b/2")];
    await clock.advance(5_000);
    await Promise.all(p);
    const got = Object.fromEntries(starts.map((s) => [s.label, s.at]));
    expect(got, JSON.stringify(got)).toEqual({ "a/1": 0, "a/2": 1000, "a/3": 2000, "b/1": 0, "b/2": 1000 });
  });
});

describe("throttle limits and cancellation", () => {
  it("a full queue rejects at once with ERR_QUEUE_FULL and runs nothing", async () => {
    const clock = new FakeClock();
    const { starts, fn } = recorder(clock);
    const t = throttle(fn, {
      policy: tokenBucket({ capacity: 1, refillRate: 1 }),
      maxQueue: 2,
      now: clock.now,
      timers: clock,
    });
    const first = t("first");
    await settle();
    const waiting = [t("w1"), t("w2")];
    await settle();
    expect(t.waiting(), "two calls wait").toBe(2);
    const err = await errorOf(t("overflow"));
    expect(err.code, err.message).toBe("ERR_QUEUE_FULL");
    expect(err.message).toContain("maxQueue");
    await clock.advance(3_000);
    await Promise.all([first, ...waiting]);
    expect(starts.map((s) => s.label)).toEqual(["first", "w1", "w2"]);
  });

  it("an aborted call leaves the queue, spends nothing and rejects with ERR_ABORTED", async () => {
    const clock = new FakeClock();
    const { starts, fn } = recorder(clock);
    const ac = new AbortController();
    const t = throttle(fn, {
      policy: tokenBucket({ capacity: 1, refillRate: 1 }),
      signal: (label: string) => (label === "b" ? ac.signal : undefined),
      now: clock.now,
      timers: clock,
    });
    const a = t("a");
    const b = t("b");
    await clock.advance(500);
    ac.abort(new Error("user gave up"));
    const err = await errorOf(b);
    expect(err.code, err.message).toBe("ERR_ABORTED");
    const c = t("c");
    await clock.advance(3_000);
    await Promise.all([a, c]);
    const got = starts.map((s) => `${s.label}@${s.at}`);
    expect(got, "c starts at 1000: b took nothing").toEqual(["a@0", "c@1000"]);
    expect(clock.pending, "no timer left").toBe(0);
  });

  it("an already-aborted signal rejects without queueing", async () => {
    const clock = new FakeClock();
    const { starts, fn } = recorder(clock);
    const t = throttle(fn, {
      policy: tokenBucket({ capacity: 1, refillRate: 1 }),
      signal: AbortSignal.abort(),
      now: clock.now,
      timers: clock,
    });
    const err = await errorOf(t("x"));
    expect(err.code).toBe("ERR_ABORTED");
    expect(starts).toEqual([]);
    expect(t.waiting()).toBe(0);
  });

  it("aborting the head lets the next call through in its place", async () => {
    const clock = new FakeClock();
    const { starts, fn } = recorder(clock);
    const ac = new AbortController();
    const t = throttle(fn, {
      policy: tokenBucket({ capacity: 10, refillRate: 10 }),
      cost: (_l: string, c = 1) => c,
      signal: (label: string, _c?: number) => (label === "heavy" ? ac.signal : undefined),
      now: clock.now,
      timers: clock,
    });
    const settled = Promise.allSettled([t("drain", 10), t("heavy", 10), t("light", 1)]);
    await clock.advance(300);
    ac.abort();
    await clock.advance(2_000);
    const results = await settled;
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const got = starts.map((s) => `${s.label}@${s.at}`);
    expect(got, got.join(", ")).toEqual(["drain@0", "light@300"]);
  });

  it("maxWaitMs bounds the wait of a call queued behind others (ERR_WAIT_TOO_LONG by the deadline)", async () => {
    const clock = new FakeClock();
    const { starts, fn } = recorder(clock);
    const t = throttle(fn, {
      policy: tokenBucket({ capacity: 1, refillRate: 1 }),
      maxWaitMs: 1500,
      now: clock.now,
      timers: clock,
    });
    const a = t("a"); // runs at 0
    const b = t("b"); // runs at 1000
    const c = t("c"); // would run at 2000 > 1500
    let rejectedAt: number | undefined;
    c.catch(() => {
      rejectedAt = clock.now() - 1_000_000;
    });
    await clock.advance(5_000);
    await Promise.all([a, b]);
    const err = await errorOf(c);
    expect(err.code, err.message).toBe("ERR_WAIT_TOO_LONG");
    expect(rejectedAt, `c rejected at ${rejectedAt} ms, want by 1500 ms`).toBeLessThanOrEqual(1500);
    expect(starts.map((s) => s.label)).toEqual(["a", "b"]);
    expect(clock.pending).toBe(0);
  });

  it("concurrency caps the calls running at once, per key", async () => {
    const clock = new FakeClock();
    const gates: (() => void)[] = [];
    let running = 0;
    let peak = 0;
    const order: string[] = [];
    const work = (label: string) =>
      new Promise<string>((resolve) => {
        running++;
        peak = Math.max(peak, running);
        order.push(label);
        gates.push(() => {
          running--;
          resolve(label);
        });
      });
    const t = throttle(work, {
      policy: tokenBucket({ capacity: 100, refillRate: 100 }),
      concurrency: 2,
      now: clock.now,
      timers: clock,
    });
    const p = ["a", "b", "c", "d", "e"].map((l) => t(l));
    await settle();
    expect(order, "two start").toEqual(["a", "b"]);
    expect(t.running()).toBe(2);
    while (gates.length > 0) {
      (gates.shift() as () => void)();
      await settle();
    }
    await Promise.all(p);
    expect(peak, "never more than 2 at once").toBe(2);
    expect(order, "FIFO").toEqual(["a", "b", "c", "d", "e"]);
    expect(t.running()).toBe(0);
  });

  it("errors thrown by fn reach the caller; the slot is freed", async () => {
    const clock = new FakeClock();
    const t = throttle(
      async (x: number) => {
        if (x < 0) throw new Error("negative");
        return x * 2;
      },
      { policy: tokenBucket({ capacity: 5, refillRate: 5 }), concurrency: 1, now: clock.now, timers: clock },
    );
    await expect(t(-1)).rejects.toThrow("negative");
    await expect(t(21)).resolves.toBe(42);
  });
});

// Regression (issue 8, defect 4): throttle on a policy whose wait passes setTimeout's 2^31-1 ms limit set one timer
// that Node fires after 1 ms, so it asked the store about 870 times a second for the whole wait.
describe("throttle: waits longer than setTimeout's limit (2^31-1 ms)", () => {
  const MAX = 2 ** 31 - 1;
  const DAY_MS = 86_400_000;
  it("a 30-day window sets one timer per 2^31-1 ms and asks the store once more, at the end", async () => {
    // The clock starts on a 30-day window boundary, so the next window opens exactly 30 days later.
    const start = 30 * DAY_MS * 1000;
    const clock = new FakeClock(start, true);
    const { starts, fn } = recorder(clock);
    let consumes = 0;
    const memory = new MemoryStore();
    const store: Store = {
      ownsClock: false,
      consume: (key, policies, cost, nowMs) => {
        consumes++;
        return memory.consume(key, policies, cost, nowMs);
      },
      peek: (key, policies, nowMs) => memory.peek(key, policies, nowMs),
      refund: (key, policies, cost, nowMs) => memory.refund(key, policies, cost, nowMs),
      reset: (key, policies) => memory.reset(key, policies),
    };
    const t = throttle(fn, {
      policy: fixedWindow({ limit: 1, windowMs: 30 * DAY_MS }),
      store,
      now: clock.now,
      timers: clock,
    });
    const all = Promise.all([t("first"), t("second")]);
    // Step 1: one second in: the first call ran, the second waits on one timer; two store calls.
    await clock.advance(1000);
    expect(starts.map((s) => s.label)).toEqual(["first"]);
    expect(consumes, "store calls in the first second").toBe(2);
    // Step 2: 1 ms before the window opens: still waiting, timers chained, no store call meanwhile.
    await clock.advance(30 * DAY_MS - 1 - 1000);
    expect(starts.map((s) => s.label)).toEqual(["first"]);
    expect(consumes, "no store call until the wait ends").toBe(2);
    expect(clock.asked, "one timer per 2^31-1 ms, the last one for the rest").toEqual([MAX, 30 * DAY_MS - MAX]);
    // Step 3: the window opens: the second call runs, and nothing is left behind.
    await clock.advance(1);
    await all;
    expect(starts.map((s) => `${s.label}@${s.at - start + 1_000_000}`)).toEqual(["first@0", `second@${30 * DAY_MS}`]);
    expect(consumes).toBe(3);
    expect(clock.pending).toBe(0);
  });
});

describe("throttle validation", () => {
  const policy = tokenBucket({ capacity: 5, refillRate: 1 });
  const rows: { why: string; make: () => unknown; code: string; text: string }[] = [
    {
      why: "unknown option",
      make: () => throttle(() => 1, { policy, maxWait: 5 } as never),
      code: "ERR_UNKNOWN_OPTION",
      text: "maxWaitMs",
    },
    {
      why: "not a function",
      make: () => throttle(42 as never, { policy }),
      code: "ERR_INVALID_OPTION",
      text: "function",
    },
    {
      why: "negative maxQueue",
      make: () => throttle(() => 1, { policy, maxQueue: -1 }),
      code: "ERR_INVALID_OPTION",
      text: "maxQueue",
    },
    {
      // maxQueue counts the call about to start too, so 0 would refuse every call.
      why: "maxQueue 0",
      make: () => throttle(() => 1, { policy, maxQueue: 0 }),
      code: "ERR_INVALID_OPTION",
      text: ">= 1",
    },
    {
      why: "zero concurrency",
      make: () => throttle(() => 1, { policy, concurrency: 0 }),
      code: "ERR_INVALID_OPTION",
      text: "concurrency",
    },
    {
      why: "NaN maxWaitMs",
      make: () => throttle(() => 1, { policy, maxWaitMs: Number.NaN }),
      code: "ERR_INVALID_OPTION",
      text: "maxWaitMs",
    },
    {
      why: "fixed cost above the limit",
      make: () => throttle(() => 1, { policy, cost: 6 }),
      code: "ERR_COST_EXCEEDS_LIMIT",
      text: "6",
    },
    {
      why: "fractional cost",
      make: () => throttle(() => 1, { policy, cost: 1.5 }),
      code: "ERR_INVALID_COST",
      text: "1.5",
    },
  ];
  for (const row of rows) {
    it(`rejects ${row.why} at construction`, () => {
      let err: { code?: string; message: string } | undefined;
      try {
        row.make();
      } catch (e) {
        err = e as { code?: string; message: string };
      }
      expect(err?.code, `${row.why}: got ${err?.message}`).toBe(row.code);
      expect(err?.message).toContain(row.text);
    });
  }

  it("a cost function returning more than the limit rejects that call only", async () => {
    const t = throttle((n: number) => n, { policy, cost: (n: number) => n });
    const err = await errorOf(t(6));
    expect(err.code, err.message).toBe("ERR_COST_EXCEEDS_LIMIT");
    await expect(t(5)).resolves.toBe(5);
  });
});
