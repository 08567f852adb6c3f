// queue.test.ts: the keyed wait queue on a virtual clock: order, wake-ups, deadlines, long waits, undo, one timer per key.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryStore, RateLimiter, tokenBucket } from "../../src/index.js";
import { type Admission, WAIT_FOR_WAKE, WaitQueue, type WaitQueueOptions } from "../../src/queue.js";
import { FakeClock, settle } from "../client/helpers.js";

const T0 = 1_000_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Job is a test waiter: its name, and the gap it leaves before the key's next admission. */
interface Job {
  name: string;
  gapMs: number;
}

/**
 * gated builds a queue whose keys open at `openAtMs`: the head is admitted when
 * the key is open, and each admission closes the key for the job's `gapMs`.
 * `asked` counts the admissions asked for.
 */
function gated(clock: FakeClock, extra: Partial<WaitQueueOptions<Job, string, string>> = {}) {
  const openAtMs = new Map<string, number>();
  const state = { asked: 0 };
  const queue = new WaitQueue<Job, string, string>({
    now: clock.now,
    timers: clock,
    maxQueue: 100,
    call: "test()",
    maxQueueOption: "test({ maxQueue })",
    admit: (key, job): Admission<string> => {
      state.asked++;
      const atMs = openAtMs.get(key) ?? 0;
      if (clock.now() < atMs) return { go: false, waitMs: atMs - clock.now() };
      openAtMs.set(key, clock.now() + job.gapMs);
      return { go: true, value: job.name };
    },
    grant: (_key, _job, name) => name,
    ...extra,
  });
  return { queue, state, openAtMs };
}

/** settledLog records when each promise settles, on the virtual clock: `name@ms` or `name!CODE@ms`. */
function logger(clock: FakeClock) {
  const log: string[] = [];
  const track = (name: string, p: Promise<unknown>): Promise<void> =>
    p.then(
      () => {
        log.push(`${name}@${clock.now() - T0}`);
      },
      (e: unknown) => {
        log.push(`${name}!${(e as { code?: string }).code ?? String(e)}@${clock.now() - T0}`);
      },
    );
  return { log, track };
}

describe("WaitQueue order and timers", () => {
  it("serves each key first come, first served, each when admitted; keys do not wait for each other", async () => {
    const clock = new FakeClock(T0);
    const { queue } = gated(clock);
    const { log, track } = logger(clock);
    const all = [
      // a: each admission closes the key for the job's gap, so a1 goes at 0, a2 at 500, a3 at 2500.
      track("a1", queue.wait("a", { name: "a1", gapMs: 500 })),
      track("a2", queue.wait("a", { name: "a2", gapMs: 2000 })),
      track("a3", queue.wait("a", { name: "a3", gapMs: 0 })),
      track("b1", queue.wait("b", { name: "b1", gapMs: 100 })),
      track("b2", queue.wait("b", { name: "b2", gapMs: 0 })),
    ];
    const rows: { toMs: number; want: string[]; timers: number; why: string }[] = [
      { toMs: 0, want: ["a1@0", "b1@0"], timers: 2, why: "step 1: both heads go at once; each key waits on one timer" },
      { toMs: 100, want: ["a1@0", "b1@0", "b2@100"], timers: 1, why: "step 2: b is idle again: no timer for it" },
      { toMs: 499, want: ["a1@0", "b1@0", "b2@100"], timers: 1, why: "step 3: a2 not before 500" },
      { toMs: 500, want: ["a1@0", "b1@0", "b2@100", "a2@500"], timers: 1, why: "step 4: a2 at 500" },
      {
        toMs: 2500,
        want: ["a1@0", "b1@0", "b2@100", "a2@500", "a3@2500"],
        timers: 0,
        why: "step 5: a3 at 2500, nothing left",
      },
    ];
    for (const row of rows) {
      await clock.advance(T0 + row.toMs - clock.now());
      expect(log, row.why).toEqual(row.want);
      expect(clock.pending, `${row.why}: live timers`).toBe(row.timers);
    }
    await Promise.all(all);
    expect(queue.waiting()).toBe(0);
  });

  it("a head that waits to be woken is asked again on wake(), and a wake while it is being asked is not lost", async () => {
    const clock = new FakeClock(T0);
    let slots = 0;
    let admitting: (() => void) | undefined;
    let slow = false;
    const queue = new WaitQueue<string, undefined, string>({
      now: clock.now,
      timers: clock,
      maxQueue: 10,
      call: "test()",
      maxQueueOption: "test({ maxQueue })",
      admit: async () => {
        const free = slots > 0;
        if (slow) {
          // The slot check is done; the answer comes back later, after a wake-up.
          await new Promise<void>((r) => {
            admitting = r;
          });
        }
        if (!free) return WAIT_FOR_WAKE;
        slots--;
        return { go: true, value: undefined };
      },
      grant: (_key, name) => name,
    });
    const { log, track } = logger(clock);
    const a = track("a", queue.wait("k", "a"));
    await settle();
    expect(log, "step 1: no slot: a waits").toEqual([]);
    expect(clock.pending, "step 1: no deadline, no timer").toBe(0);
    slots = 1;
    queue.wake("k");
    await a;
    expect(log, "step 2: woken, a goes").toEqual(["a@0"]);
    slow = true;
    const b = track("b", queue.wait("k", "b"));
    await settle();
    // b's slot check saw none; a slot is freed and wake() called before that answer is back.
    slots = 1;
    queue.wake("k");
    slow = false;
    admitting?.();
    await b;
    expect(log, "step 3: the wake during the check is kept: b goes").toEqual(["a@0", "b@0"]);
  });
});

describe("WaitQueue long lines", () => {
  // The line drops its head in O(1) and compacts itself past 1024 dead slots; order must survive that.
  it("3000 waiters on one key, every 7th aborted while waiting, are served in order, each once", async () => {
    const clock = new FakeClock(T0);
    const { queue, openAtMs } = gated(clock, { maxQueue: 10_000 });
    openAtMs.set("k", T0 + 1);
    const served: string[] = [];
    const aborted: string[] = [];
    const acs: AbortController[] = [];
    const all: Promise<void>[] = [];
    for (let i = 0; i < 3000; i++) {
      const ac = new AbortController();
      acs.push(ac);
      all.push(
        queue.wait("k", { name: `w${i}`, gapMs: 0 }, { signal: ac.signal }).then(
          (name) => {
            served.push(name);
          },
          (e: { code?: string }) => {
            aborted.push(`w${i} ${e.code}`);
          },
        ),
      );
    }
    await settle();
    for (let i = 6; i < 3000; i += 7) acs[i]?.abort();
    expect(queue.waiting("k")).toBe(3000 - 428);
    await clock.advance(1);
    await Promise.all(all);
    const want = Array.from({ length: 3000 }, (_, i) => `w${i}`).filter((_, i) => i % 7 !== 6);
    expect(served).toEqual(want);
    expect(aborted).toEqual(Array.from({ length: 428 }, (_, j) => `w${7 * j + 6} ERR_ABORTED`));
    expect(queue.waiting()).toBe(0);
    expect(clock.pending).toBe(0);
  });
});

describe("WaitQueue deadlines", () => {
  it("while the head waits to be woken, each waiter is turned away at its deadline, with one timer at the earliest", async () => {
    const clock = new FakeClock(T0);
    let open = false;
    const queue = new WaitQueue<string, undefined, string>({
      now: clock.now,
      timers: clock,
      maxQueue: 10,
      call: "test()",
      maxQueueOption: "test({ maxQueue })",
      admit: () => (open ? { go: true, value: undefined } : WAIT_FOR_WAKE),
      grant: (_key, name) => name,
    });
    const { log, track } = logger(clock);
    const all = [
      track("head", queue.wait("k", "head", { maxWaitMs: 300 })),
      track("short", queue.wait("k", "short", { maxWaitMs: 100 })),
      track("mid", queue.wait("k", "mid", { maxWaitMs: 200 })),
      track("patient", queue.wait("k", "patient")),
    ];
    const rows = [
      { toMs: 99, want: [], why: "step 1: nobody's bound has passed" },
      { toMs: 100, want: ["short!ERR_WAIT_TOO_LONG@100"], why: "step 2: short, behind the head, at its deadline" },
      { toMs: 200, want: ["short!ERR_WAIT_TOO_LONG@100", "mid!ERR_WAIT_TOO_LONG@200"], why: "step 3: mid" },
      {
        toMs: 300,
        want: ["short!ERR_WAIT_TOO_LONG@100", "mid!ERR_WAIT_TOO_LONG@200", "head!ERR_WAIT_TOO_LONG@300"],
        why: "step 4: the head itself",
      },
    ];
    for (const row of rows) {
      await clock.advance(T0 + row.toMs - clock.now());
      expect(log, row.why).toEqual(row.want);
    }
    expect(clock.pending, "step 5: only a waiter without a bound is left: no timer").toBe(0);
    expect(queue.waiting("k")).toBe(1);
    open = true;
    queue.wake("k");
    await Promise.all(all);
    expect(log.at(-1), "step 6: woken, patient goes").toBe("patient@300");
  });

  it("a waiter joining while the head waits for a time is turned away at once when that time passes its bound", async () => {
    const clock = new FakeClock(T0);
    const { queue, openAtMs } = gated(clock);
    openAtMs.set("k", T0 + 1000);
    const { log, track } = logger(clock);
    const head = track("head", queue.wait("k", { name: "head", gapMs: 0 }));
    await settle();
    await track("late", queue.wait("k", { name: "late", gapMs: 0 }, { maxWaitMs: 999 }));
    expect(log).toEqual(["late!ERR_WAIT_TOO_LONG@0"]);
    await clock.advance(1000);
    await head;
    expect(log).toEqual(["late!ERR_WAIT_TOO_LONG@0", "head@1000"]);
  });
});

describe("WaitQueue long waits", () => {
  // Node fires a setTimeout longer than 2^31-1 ms after 1 ms: the queue must chain timers instead.
  const DAY_MS = 86_400_000;
  const rows = [
    { waitMs: MAX_TIMER_MS, chunks: [MAX_TIMER_MS], why: "exactly the limit: one timer" },
    { waitMs: MAX_TIMER_MS + 1, chunks: [MAX_TIMER_MS, 1], why: "1 ms past the limit: two" },
    {
      waitMs: 60 * DAY_MS,
      chunks: [MAX_TIMER_MS, MAX_TIMER_MS, 60 * DAY_MS - 2 * MAX_TIMER_MS],
      why: "60 days: three",
    },
  ];
  for (const row of rows) {
    it(`a wait for a time sets one timer per 2^31-1 ms and asks again only at the end (${row.why})`, async () => {
      const clock = new FakeClock(T0, true);
      const { queue, openAtMs, state } = gated(clock);
      openAtMs.set("k", T0 + row.waitMs);
      const { log, track } = logger(clock);
      const p = track("w", queue.wait("k", { name: "w", gapMs: 0 }));
      await clock.advance(row.waitMs - 1);
      expect(log, `${row.why}: not admitted 1 ms early`).toEqual([]);
      expect(state.asked, `${row.why}: asked once so far`).toBe(1);
      await clock.advance(1);
      await p;
      expect(log).toEqual([`w@${row.waitMs}`]);
      expect(state.asked, `${row.why}: asked again once, at the end`).toBe(2);
      expect(clock.asked, `${row.why}: delays asked`).toEqual(row.chunks);
      expect(clock.pending).toBe(0);
    });
  }

  it("a deadline beyond the limit, while the head waits to be woken, is chained too", async () => {
    const clock = new FakeClock(T0, true);
    const queue = new WaitQueue<string, undefined, string>({
      now: clock.now,
      timers: clock,
      maxQueue: 10,
      call: "test()",
      maxQueueOption: "test({ maxQueue })",
      admit: () => WAIT_FOR_WAKE,
      grant: (_key, name) => name,
    });
    const { log, track } = logger(clock);
    const p = track("w", queue.wait("k", "w", { maxWaitMs: 30 * DAY_MS }));
    await clock.advance(30 * DAY_MS - 1);
    expect(log).toEqual([]);
    await clock.advance(1);
    await p;
    expect(log).toEqual([`w!ERR_WAIT_TOO_LONG@${30 * DAY_MS}`]);
    expect(clock.asked).toEqual([MAX_TIMER_MS, 30 * DAY_MS - MAX_TIMER_MS]);
    expect(clock.pending).toBe(0);
  });
});

describe("WaitQueue aborts and failures", () => {
  it("an abort while admit runs calls undo, never grant; a throwing undo neither escapes nor stops the line", async () => {
    const clock = new FakeClock(T0);
    const undone: string[] = [];
    const granted: string[] = [];
    let release: (() => void) | undefined;
    const queue = new WaitQueue<string, string, string>({
      now: clock.now,
      timers: clock,
      maxQueue: 10,
      call: "test()",
      maxQueueOption: "test({ maxQueue })",
      admit: (_key, name) =>
        name === "slow"
          ? new Promise<Admission<string>>((r) => {
              release = () => r({ go: true, value: name });
            })
          : { go: true, value: name },
      grant: (_key, _name, value) => {
        granted.push(value);
        return value;
      },
      undo: (_key, name) => {
        undone.push(name);
        throw new Error("undo failed");
      },
    });
    const { log, track } = logger(clock);
    const ac = new AbortController();
    const all = [track("slow", queue.wait("k", "slow", { signal: ac.signal })), track("next", queue.wait("k", "next"))];
    await settle();
    ac.abort();
    await settle();
    expect(log, "the abort rejects at once, before admit answers").toEqual(["slow!ERR_ABORTED@0"]);
    release?.();
    await Promise.all(all);
    expect({ log, undone, granted }).toEqual({
      log: ["slow!ERR_ABORTED@0", "next@0"],
      undone: ["slow"],
      granted: ["next"],
    });
  });

  it("what admit throws rejects that waiter only; maxQueue counts the head", async () => {
    const clock = new FakeClock(T0);
    let fail = true;
    const queue = new WaitQueue<string, undefined, string>({
      now: clock.now,
      timers: clock,
      maxQueue: 2,
      call: "test()",
      maxQueueOption: "test({ maxQueue })",
      admit: async () => {
        if (fail) {
          fail = false;
          throw new Error("store down");
        }
        return { go: true, value: undefined };
      },
      grant: (_key, name) => name,
    });
    const { log, track } = logger(clock);
    const all = [
      track("a", queue.wait("k", "a")),
      track("b", queue.wait("k", "b")),
      track("c", queue.wait("k", "c")),
      track("other", queue.wait("other", "other")),
    ];
    await Promise.all(all);
    expect(log[0], "the third waiter for k is refused at once").toBe("c!ERR_QUEUE_FULL@0");
    expect([...log].sort()).toEqual(["a!Error: store down@0", "b@0", "c!ERR_QUEUE_FULL@0", "other@0"]);
  });
});

describe("WaitQueue and a broken clock", () => {
  it("a clock that starts throwing rejects the line's waiters with its error, with no unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => {
      unhandled.push(e);
    };
    process.on("unhandledRejection", onUnhandled);
    try {
      // The clock breaks after the head was first asked; it is next read when the head's wait ends (1000) or, for
      // a head waiting for a wake, when the earliest deadline comes (a's, 5000).
      const rows: { why: string; admit: () => Admission<undefined>; atMs: number }[] = [
        { why: "head told to wait a time", admit: () => ({ go: false, waitMs: 1000 }), atMs: 1000 },
        { why: "head told to wait for a wake", admit: () => WAIT_FOR_WAKE, atMs: 5000 },
      ];
      for (const row of rows) {
        const clock = new FakeClock(T0);
        let broken = false;
        const now = (): number => {
          if (broken) throw new Error("clock broke");
          return clock.now();
        };
        const queue = new WaitQueue<string, undefined, string>({
          now,
          timers: clock,
          maxQueue: 10,
          call: "test()",
          maxQueueOption: "test({ maxQueue })",
          admit: row.admit,
          grant: (_key, name) => name,
        });
        const { log, track } = logger(clock);
        const all = [track("a", queue.wait("k", "a", { maxWaitMs: 5000 })), track("b", queue.wait("k", "b"))];
        await settle();
        broken = true;
        await clock.advance(5000);
        await Promise.all(all);
        expect(log, row.why).toEqual([`a!Error: clock broke@${row.atMs}`, `b!Error: clock broke@${row.atMs}`]);
        expect(queue.waiting(), row.why).toBe(0);
        expect(clock.pending, `${row.why}: no timer left`).toBe(0);
      }
      await settle();
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});

describe("WaitQueue properties", () => {
  // Waiters arrive at random times on two keys, some with a bound, some aborted later; a real
  // RateLimiter's non-waiting consume admits the head. Whatever happens:
  //  - every waiter settles exactly once, and none is left waiting at the end;
  //  - per key, waiters are admitted in arrival order (nobody overtakes);
  //  - nobody is admitted after its deadline or its abort; a bound is never overrun by a rejection;
  //  - at no step are there more live timers than keys with waiters, and none at the end.
  const waiterArb = fc.record({
    atMs: fc.integer({ min: 0, max: 3000 }),
    key: fc.constantFrom("a", "b"),
    cost: fc.integer({ min: 0, max: 3 }),
    maxWaitMs: fc.option(fc.integer({ min: 0, max: 4000 }), { nil: undefined }),
    abortAfterMs: fc.option(fc.integer({ min: 0, max: 4000 }), { nil: undefined }),
  });
  it("order, deadlines, aborts and timers hold for random arrivals", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(waiterArb, { minLength: 1, maxLength: 12 }), async (specs) => {
        const clock = new FakeClock(T0);
        const limiter = new RateLimiter({
          policy: tokenBucket({ capacity: 3, refillRate: 2 }),
          store: new MemoryStore(),
          now: clock.now,
        });
        const queue = new WaitQueue<number, undefined, number>({
          now: clock.now,
          timers: clock,
          maxQueue: 100,
          call: "test()",
          maxQueueOption: "test({ maxQueue })",
          admit: async (key, i) => {
            const d = await limiter.consume(key, (specs[i] as { cost: number }).cost);
            return d.allowed ? { go: true, value: undefined } : { go: false, waitMs: d.retryAfterMs };
          },
          grant: (_key, i) => i,
        });
        const outcome: { kind: "ok" | "err"; code?: string; atMs: number; times: number }[] = specs.map(() => ({
          kind: "ok",
          atMs: -1,
          times: 0,
        }));
        const admittedOrder = new Map<string, number[]>();
        const aborters: { atMs: number; ac: AbortController }[] = [];
        const order = specs.map((_, i) => i).sort((x, y) => (specs[x]?.atMs ?? 0) - (specs[y]?.atMs ?? 0) || x - y);
        const promises: Promise<void>[] = [];
        let maxTimersOverKeys = 0;
        const checkTimers = () => {
          const keysWaiting = (["a", "b"] as const).filter((k) => queue.waiting(k) > 0).length;
          maxTimersOverKeys = Math.max(maxTimersOverKeys, clock.pending - keysWaiting);
        };
        const runTo = async (atMs: number) => {
          for (;;) {
            const next = aborters.filter((a) => a.atMs <= atMs).sort((x, y) => x.atMs - y.atMs)[0];
            if (next === undefined) break;
            await clock.advance(T0 + next.atMs - clock.now());
            aborters.splice(aborters.indexOf(next), 1);
            next.ac.abort();
            await settle();
            checkTimers();
          }
          await clock.advance(T0 + atMs - clock.now());
          checkTimers();
        };
        for (const i of order) {
          const s = specs[i] as (typeof specs)[number];
          await runTo(s.atMs);
          const ac = new AbortController();
          if (s.abortAfterMs !== undefined) aborters.push({ atMs: s.atMs + s.abortAfterMs, ac });
          const o = outcome[i] as (typeof outcome)[number];
          promises.push(
            queue.wait(s.key, i, { signal: ac.signal, maxWaitMs: s.maxWaitMs }).then(
              () => {
                o.times++;
                o.atMs = clock.now() - T0;
                const list = admittedOrder.get(s.key) ?? [];
                list.push(i);
                admittedOrder.set(s.key, list);
              },
              (e: { code?: string }) => {
                o.times++;
                o.kind = "err";
                o.code = e.code;
                o.atMs = clock.now() - T0;
              },
            ),
          );
          await settle();
          checkTimers();
        }
        await runTo(20_000);
        await Promise.all(promises);
        for (const [i, o] of outcome.entries()) {
          const s = specs[i] as (typeof specs)[number];
          const what = `waiter ${i} ${JSON.stringify(s)} -> ${JSON.stringify(o)}`;
          expect(o.times, `${what}: settles exactly once`).toBe(1);
          const deadlineMs = s.maxWaitMs === undefined ? Number.POSITIVE_INFINITY : s.atMs + s.maxWaitMs;
          const abortMs = s.abortAfterMs === undefined ? Number.POSITIVE_INFINITY : s.atMs + s.abortAfterMs;
          if (o.kind === "ok") {
            expect(o.atMs, `${what}: admitted by its deadline`).toBeLessThanOrEqual(deadlineMs);
            expect(o.atMs, `${what}: admitted before its abort`).toBeLessThanOrEqual(abortMs);
          } else if (o.code === "ERR_ABORTED") {
            expect(o.atMs, `${what}: rejected when aborted`).toBe(abortMs);
          } else {
            expect(o.code, what).toBe("ERR_WAIT_TOO_LONG");
            expect(o.atMs, `${what}: turned away by its deadline`).toBeLessThanOrEqual(deadlineMs);
          }
        }
        for (const [key, admitted] of admittedOrder) {
          const arrival = [...admitted].sort((x, y) => order.indexOf(x) - order.indexOf(y));
          expect(admitted, `key ${key}: admitted in arrival order`).toEqual(arrival);
        }
        expect(maxTimersOverKeys, "never more live timers than keys with waiters").toBeLessThanOrEqual(0);
        expect(clock.pending, "no timer left").toBe(0);
        expect(queue.waiting(), "nobody left waiting").toBe(0);
      }),
      { numRuns: 60, seed: 8 },
    );
  });
});
