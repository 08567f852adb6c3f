// listeners.test.ts: RateLimiter.on: decision, nearLimit, wait and store events, shadow mode, throwing listeners.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { throttle } from "../../src/client/throttle.js";
import { HttpRateLimit, type HttpRequest } from "../../src/http/core.js";
import {
  type Decision,
  type DecisionEvent,
  fixedWindow,
  MemoryStore,
  type Policy,
  RateLimiter,
  type Store,
  type StoreEvent,
  tokenBucket,
  type WaitEvent,
} from "../../src/index.js";
import { COUNTER, OTHER_POLICY } from "../../src/listeners.js";
import { FakeTime, settle } from "./fake-time.js";

/** A bucket of 5 that refills one token per 1000 s: nothing comes back during a test. */
const five = (): Policy => tokenBucket({ name: "api", capacity: 5, refillRate: 0.001 });

/** brief keeps the fields of a decision event a table can state exactly. */
const brief = (e: DecisionEvent) => [e.op, e.outcome, e.policy, e.cost, e.remaining, e.limit, e.nearLimit];

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
  vi.restoreAllMocks();
});

describe("decision events", () => {
  it("report each consume with its outcome, policy, cost, remaining and the near-limit flag", async () => {
    let t = 0;
    const limiter = new RateLimiter({ policy: five(), now: () => t });
    const events: DecisionEvent[] = [];
    limiter.on("decision", (e) => events.push(e));
    // step, call, want [op, outcome, policy, cost, remaining, limit, nearLimit], why
    const rows: [number, () => unknown, unknown[], string][] = [
      [1, () => limiter.consumeSync("a"), ["consume", "allowed", "api", 1, 4, 5, false], "4 of 5 left"],
      [2, () => limiter.consume("a", 2), ["consume", "allowed", "api", 2, 2, 5, false], "2 left: 40% > 20%"],
      [3, () => limiter.consumeAt("a", 1, 1), ["consume", "allowed", "api", 1, 1, 5, true], "1 left: 20% is near"],
      [4, () => limiter.consume("a"), ["consume", "allowed", "api", 1, 0, 5, true], "0 left"],
      [5, () => limiter.consume("a"), ["consume", "denied", "api", 1, 0, 5, false], "empty: denied"],
      [6, () => limiter.consume("a", { shadow: true }), ["consume", "shadow", "api", 1, 0, 5, false], "would deny"],
      [7, () => limiter.consume("b", { shadow: true }), ["consume", "allowed", "api", 1, 4, 5, false], "shadow, fits"],
    ];
    for (const [step, call, want, why] of rows) {
      await call();
      const got = events.length === step ? brief(events[step - 1] as DecisionEvent) : `${events.length} events`;
      expect(got, `step ${step}: ${why}`).toEqual(want);
    }
    t = 2;
    await limiter.peek("a");
    await limiter.refund("a");
    await limiter.reset("a");
    expect(events.length, "peek, refund and reset are not decisions").toBe(7);
    expect(events[4]?.decision.allowed, "the Decision itself is unchanged by shadow").toBe(false);
    expect(events[5]?.decision.allowed).toBe(false);
    expect(events.every((e) => e.key === (e === events[6] ? "b" : "a"))).toBe(true);
    expect(events.every((e) => e.degraded === undefined)).toBe(true);
  });

  it("name the policy that denied among several", async () => {
    const limiter = new RateLimiter({
      policy: [
        tokenBucket({ name: "burst", capacity: 10, refillRate: 0.001 }),
        fixedWindow({ name: "daily", limit: 2, windowMs: 86_400_000 }),
      ],
      now: () => 0,
    });
    const seen: unknown[] = [];
    limiter.on("decision", (e) => seen.push([e.outcome, e.policy, e.remaining]));
    for (let i = 0; i < 3; i++) limiter.consumeSync("k");
    expect(seen).toEqual([
      ["allowed", "daily", 1],
      ["allowed", "daily", 0],
      ["denied", "daily", 0],
    ]);
  });

  it("nearLimit fires for allowed calls at or below the configured share", () => {
    const limiter = new RateLimiter({ policy: five(), now: () => 0, nearLimit: 0.5 });
    const near: unknown[] = [];
    limiter.on("nearLimit", (e) => near.push([e.policy, e.remaining, e.limit]));
    for (let i = 0; i < 6; i++) limiter.consumeSync("k");
    // remaining 4, 3 are above 2.5; 2, 1, 0 are at or below; the sixth call is denied.
    expect(near).toEqual([
      ["api", 2, 5],
      ["api", 1, 5],
      ["api", 0, 5],
    ]);
    expect(() => new RateLimiter({ policy: five(), nearLimit: 1.5 })).toThrow(/nearLimit.*from 0 to 1.*got 1\.5/);
    expect(() => new RateLimiter({ policy: five(), nearLimit: Number.NaN })).toThrow(/nearLimit/);
  });

  it("off and the returned function stop the events", () => {
    const limiter = new RateLimiter({ policy: five(), now: () => 0 });
    const a: number[] = [];
    const b: number[] = [];
    const offA = limiter.on("decision", () => a.push(1));
    const fnB = () => b.push(1);
    limiter.on("decision", fnB);
    limiter.consumeSync("k");
    offA();
    limiter.consumeSync("k");
    limiter.off("decision", fnB);
    limiter.consumeSync("k");
    expect([a.length, b.length]).toEqual([1, 2]);
    // A listener that removes itself while an event runs does not stop the others of that event.
    const c: string[] = [];
    const self = limiter.on("decision", () => {
      c.push("self");
      self();
    });
    limiter.on("decision", () => c.push("next"));
    limiter.consumeSync("k");
    limiter.consumeSync("k");
    expect(c).toEqual(["self", "next", "next"]);
  });

  it("a listener that throws or rejects never reaches the caller, and is warned about once", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const limiter = new RateLimiter({ policy: five(), now: () => 0 });
    const after: string[] = [];
    limiter.on("decision", () => {
      throw new Error("boom");
    });
    limiter.on("decision", async () => {
      throw new Error("async boom");
    });
    limiter.on("decision", (e) => after.push(e.outcome));
    expect(limiter.consumeSync("k").allowed).toBe(true);
    expect((await limiter.consume("k")).allowed).toBe(true);
    await settle();
    expect(after, "the listeners after a throwing one still run").toEqual(["allowed", "allowed"]);
    expect(unhandled, "a rejected listener is caught").toEqual([]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/"decision" listener threw.*boom.*FG_LISTENER_THREW/);
  });

  it("on validates the event and the listener", async () => {
    const limiter = new RateLimiter({ policy: five() });
    expect(() => limiter.on("decisions" as never, () => {})).toThrow(/"decisions"\) is not an event.*"decision"/);
    expect(() => limiter.on("decision", 5 as never)).toThrow(/needs a function, got 5/);
    expect(() => limiter.consumeSync("k", { shadow: "yes" as never })).toThrow(/shadow.*true or false/);
    await expect(limiter.peek("k", { shadow: true } as never)).rejects.toThrow(/unknown option "shadow"/);
  });

  it("time the store: every call of a promise store, one in 16 of the memory store", async () => {
    const limiter = new RateLimiter({ policy: five() });
    const timed: boolean[] = [];
    limiter.on("decision", (e) => timed.push(e.durationMs !== undefined && e.durationMs >= 0));
    for (let i = 0; i < 32; i++) limiter.consumeSync(`k${i}`);
    expect(timed.filter(Boolean).length, "2 of 32 in-process decisions timed").toBe(2);
    expect(timed[15] && timed[31]).toBe(true);

    const memory = new MemoryStore();
    const slow: Store = {
      ownsClock: false,
      consume: async (k, p, c, n) => memory.consume(k, p, c, n),
      peek: async (k, p, n) => memory.peek(k, p, n),
      refund: async () => {},
      reset: async () => {},
    };
    const remote = new RateLimiter({ policy: five(), store: slow });
    const durations: (number | undefined)[] = [];
    remote.on("decision", (e) => durations.push(e.durationMs));
    for (let i = 0; i < 3; i++) await remote.consume("k");
    expect(durations.map((d) => typeof d === "number" && d >= 0)).toEqual([true, true, true]);
  });

  it("with no decision listener, consume goes straight to the store as before", () => {
    const limiter = new RateLimiter({ policy: five(), now: () => 0 });
    const off = limiter.on("wait", () => {});
    const d: Decision = limiter.consumeSync("k");
    off();
    expect(d.remaining).toBe(4);
  });
});

describe("the counting channel (RateLimiter[COUNTER]) of floodgate's own bindings", () => {
  it("counts every decision path in plain numbers per policy name, with no listener", async () => {
    const limiter = new RateLimiter({ policy: five(), now: () => 0 });
    const counter = limiter[COUNTER]();
    // step: a call and why it counts as it does (bucket of 5; near limit at 1 left or less).
    limiter.consumeSync("a", 3); // allowed, 2 left
    await limiter.consume("a"); // allowed, 1 left: near
    await limiter.consumeAt("a", 0, 2); // denied
    limiter.consumeSync("a", { cost: 5, shadow: true }); // shadow (would-be refusal)
    await limiter.acquire("b"); // allowed, an acquire
    limiter.consumeSync("c", { policy: fixedWindow({ name: "other", limit: 2, windowMs: 1000 }) }); // another name
    expect(Object.fromEntries(counter.counts())).toEqual({
      api: { allowed: 3, denied: 1, shadow: 1, nearLimit: 1, costAdmitted: 5, costRefused: 2 },
      other: { allowed: 1, denied: 0, shadow: 0, nearLimit: 0, costAdmitted: 1, costRefused: 0 },
    });
    counter.release();
    limiter.consumeSync("a", 0);
    expect(counter.counts().get("api")?.allowed, "released: the limiter stops counting").toBe(3);
  });

  it("hands the histogram one in-process decision in 256 (one in 16 is timed for a decision listener), every promise-store call", async () => {
    const limiter = new RateLimiter({ policy: five(), now: () => 0 });
    const seconds: number[] = [];
    limiter[COUNTER]({ storeDuration: (s) => void seconds.push(s) });
    for (let i = 0; i < 512; i++) limiter.consumeSync("k", 0);
    expect(seconds.length, "2 of 512").toBe(2);
    const timed: number[] = [];
    limiter.on("decision", (e) => void (e.durationMs !== undefined && timed.push(e.durationMs)));
    for (let i = 0; i < 512; i++) await limiter.consume("k", 0);
    expect([seconds.length, timed.length], "with a listener: the sink 2 more of 512, the listener 32").toEqual([4, 32]);
    expect(seconds.every((s) => s >= 0 && s < 1)).toBe(true);

    const memory = new MemoryStore();
    const slow: Store = {
      ownsClock: false,
      consume: async (k, p, c, n) => memory.consume(k, p, c, n),
      peek: async (k, p, n) => memory.peek(k, p, n),
      refund: async () => {},
      reset: async () => {},
    };
    const remote = new RateLimiter({ policy: five(), store: slow });
    const remoteSeconds: number[] = [];
    remote[COUNTER]({ storeDuration: (s) => void remoteSeconds.push(s) });
    for (let i = 0; i < 3; i++) await remote.consume("k");
    expect(remoteSeconds.length, "every call of a promise store").toBe(3);
    expect(remote[COUNTER]().counts().get("api")?.allowed).toBe(3);
  });

  it("tells refusals to the refused sink; a sink that throws never reaches the caller and is warned once", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const limiter = new RateLimiter({ policy: five(), now: () => 0 });
    const refused: [string, number, boolean][] = [];
    limiter[COUNTER]({
      refused: (policy, retryAfterMs, shadow) => void refused.push([policy, retryAfterMs, shadow]),
      storeDuration: () => {
        throw new Error("sink");
      },
    });
    limiter[COUNTER]({
      refused: () => {
        throw new Error("boom");
      },
    });
    limiter.consumeSync("a", 5);
    expect(limiter.consumeSync("a").allowed).toBe(false);
    expect((await limiter.consume("a", { shadow: true })).allowed).toBe(false);
    for (let i = 0; i < 256; i++) limiter.consumeSync("b", 0); // one timed: the throwing duration sink
    expect(refused).toEqual([
      ["api", 1_000_000, false],
      ["api", 1_000_000, true],
    ]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/boom.*FG_LISTENER_THREW/);
  });

  it("counts at most 256 policy names apart; further names count under (other)", () => {
    const limiter = new RateLimiter({ policy: five(), now: () => 0 });
    const counter = limiter[COUNTER]();
    for (let i = 0; i < 300; i++) {
      limiter.consumeSync("k", { policy: tokenBucket({ name: `p${i}`, capacity: 5, refillRate: 1 }) });
    }
    const counts = counter.counts();
    expect(counts.size).toBe(257);
    expect(counts.get(OTHER_POLICY)?.allowed).toBe(300 - 256);
    expect(counts.has("p256")).toBe(false);
  });
});

describe("wait events", () => {
  const setup = (maxQueue = 1000) => {
    const time = new FakeTime();
    const limiter = new RateLimiter({
      policy: tokenBucket({ name: "api", capacity: 1, refillRate: 1 }),
      now: time.now,
      timers: time.timers,
      maxQueue,
    });
    const waits: string[] = [];
    limiter.on("wait", (e: WaitEvent) => waits.push(`${e.key}:${e.phase}:${e.waitedMs}`));
    const decisions: string[] = [];
    limiter.on("decision", (e) => decisions.push(`${e.op}:${e.outcome}`));
    return { time, limiter, waits, decisions };
  };

  it("queued, then admitted after the time waited; the admission is a decision of op acquire", async () => {
    const { time, limiter, waits, decisions } = setup();
    const a = limiter.acquire("k");
    const b = limiter.acquire("k");
    await time.advance(1000);
    await Promise.all([a, b]);
    expect(waits).toEqual(["k:queued:0", "k:queued:0", "k:admitted:0", "k:admitted:1000"]);
    expect(decisions, "acquire's own denials are waits, not decisions").toEqual(["acquire:allowed", "acquire:allowed"]);
    expect(limiter.waiting()).toBe(0);
  });

  it("aborted, timedOut and queueFull", async () => {
    const { time, limiter, waits } = setup(2);
    await limiter.acquire("k");
    const ac = new AbortController();
    const aborted = limiter.acquire("k", { signal: ac.signal }).catch((e) => e.code);
    const late = limiter.acquire("k", { maxWaitMs: 500 }).catch((e) => e.code);
    const full = limiter.acquire("k").catch((e) => e.code);
    expect(limiter.waiting("k")).toBe(2);
    await time.advance(300);
    ac.abort();
    expect(await aborted).toBe("ERR_ABORTED");
    expect(await full).toBe("ERR_QUEUE_FULL");
    expect(await late).toBe("ERR_WAIT_TOO_LONG");
    const preAborted = await limiter.acquire("k", { signal: AbortSignal.abort() }).catch((e) => e.code);
    expect(preAborted).toBe("ERR_ABORTED");
    expect(waits).toEqual([
      "k:queued:0",
      "k:admitted:0",
      "k:queued:0",
      "k:queued:0",
      "k:queueFull:0",
      // the head (aborted) waits 1000 ms, past the second one's 500: turned away at once
      "k:timedOut:0",
      "k:aborted:300",
      "k:aborted:0",
    ]);
  });
});

describe("store events and keys tracked", () => {
  it("a MemoryStore at maxKeys reports overflow through the limiter, and keysTracked counts", () => {
    let t = 0;
    const store = new MemoryStore({ maxKeys: 3 });
    const limiter = new RateLimiter({ policy: five(), store, now: () => t });
    const events: StoreEvent[] = [];
    const off = limiter.on("store", (e) => events.push(e));
    for (let i = 0; i < 10; i++) limiter.consumeSync(`k${i}`);
    t = 1500;
    limiter.consumeSync("late");
    expect(events).toEqual([
      { type: "overflow", policy: "api", trackedKeys: 3, overflowed: 1 },
      { type: "overflow", policy: "api", trackedKeys: 3, overflowed: 8 },
    ]);
    expect(limiter.keysTracked()).toEqual([{ policy: "api", keys: 3, overflowed: 8 }]);
    off();
    t = 3000;
    limiter.consumeSync("later");
    expect(events.length, "unsubscribed from the store").toBe(2);
  });

  it("a store without observe or keysTracked is fine", () => {
    const memory = new MemoryStore();
    const plain: Store = {
      ownsClock: false,
      consume: (k, p, c, n) => memory.consume(k, p, c, n),
      peek: (k, p, n) => memory.peek(k, p, n),
      refund: () => {},
      reset: () => {},
    };
    const limiter = new RateLimiter({ policy: five(), store: plain });
    const off = limiter.on("store", () => {});
    off();
    expect(limiter.keysTracked()).toBeUndefined();
  });
});

describe("the HTTP layer decides through the limiter", () => {
  const req = (peer: string): HttpRequest => ({
    method: "GET",
    url: "/",
    path: "/",
    route: undefined,
    peer,
    header: () => undefined,
    raw: {},
  });

  it("counts shadow-mode refusals as shadow, enforced ones as denied", async () => {
    let t = 0;
    const limiter = new RateLimiter({
      policy: tokenBucket({ name: "api", capacity: 2, refillRate: 0.001 }),
      now: () => t,
    });
    const outcomes: string[] = [];
    limiter.on("decision", (e) => outcomes.push(`${e.outcome}:${e.key}`));
    const shadow = new HttpRateLimit({ limiter, shadow: true });
    const enforced = new HttpRateLimit({ limiter });
    for (let i = 0; i < 3; i++) expect((await shadow.check(req("10.0.0.1"))).limited).toBe(false);
    t = 1;
    for (let i = 0; i < 3; i++) await enforced.check(req("10.0.0.2"));
    expect(outcomes).toEqual([
      "allowed:2:ip8:10.0.0.1",
      "allowed:2:ip8:10.0.0.1",
      "shadow:2:ip8:10.0.0.1",
      "allowed:2:ip8:10.0.0.2",
      "allowed:2:ip8:10.0.0.2",
      "denied:2:ip8:10.0.0.2",
    ]);
  });
});

describe("the client decides through its limiter", () => {
  it("throttle's waits are wait events and its admissions acquire decisions, never denials", async () => {
    const time = new FakeTime();
    const call = throttle(async (n: number) => n, {
      policy: tokenBucket({ name: "out", capacity: 1, refillRate: 1 }),
      now: time.now,
      timers: time.timers,
    });
    const waits: string[] = [];
    const decisions: string[] = [];
    call.limiter.on("wait", (e) => waits.push(`${e.phase}:${e.waitedMs}`));
    call.limiter.on("decision", (e) => decisions.push(`${e.op}:${e.outcome}`));
    const done = Promise.all([call(1), call(2)]);
    await time.advance(1000);
    expect(await done).toEqual([1, 2]);
    expect(waits).toEqual(["queued:0", "queued:0", "admitted:0", "admitted:1000"]);
    expect(decisions).toEqual(["acquire:allowed", "acquire:allowed"]);
  });
});
