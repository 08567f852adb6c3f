// validation.test.ts: every class of bad input gets a clear, typed, coded error, and never touches state.

import { describe, expect, it } from "vitest";
import {
  applyPolicy,
  type Decision,
  FloodgateError,
  FloodgateRangeError,
  FloodgateTypeError,
  fixedWindow,
  gcra,
  leakyBucket,
  MemoryStore,
  type Policy,
  RateLimiter,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from "../../src/index.js";

type ErrClass = typeof FloodgateRangeError | typeof FloodgateTypeError;

/** thrown runs f and returns what it threw (or rejected with), failing when it did not. */
async function thrown(call: string, f: () => unknown): Promise<Error & { code?: string }> {
  let result: unknown;
  try {
    result = await f();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error(`${call} returned ${JSON.stringify(result)}, want an error`);
}

/** expectError checks the class, the code, and that the message names the option, the value and a fix. */
async function expectError(
  call: string,
  f: () => unknown,
  cls: ErrClass,
  code: string,
  mentions: string[],
  needsFix = true,
): Promise<void> {
  const e = await thrown(call, f);
  const got = `${call} threw ${e.name} ${e.code}: ${e.message}`;
  expect(e, got).toBeInstanceOf(cls);
  expect(e, got).toBeInstanceOf(cls === FloodgateRangeError ? RangeError : TypeError);
  expect(e.code, got).toBe(code);
  expect(e.message.startsWith("floodgate: "), got).toBe(true);
  for (const m of mentions) expect(e.message, got).toContain(m);
  // The fix: a clause after ";" (or a suggestion) that tells what to pass instead.
  if (needsFix) {
    expect(/; \S|did you mean|Known options|: \{ /.test(e.message), `${got}: no fix in the message`).toBe(true);
  }
}

/** Bad option values, the error class each must get, and how the value reads in a message. */
const badNumbers: [unknown, ErrClass, string][] = [
  [Number.NaN, FloodgateRangeError, "NaN"],
  [Number.POSITIVE_INFINITY, FloodgateRangeError, "Infinity"],
  [Number.NEGATIVE_INFINITY, FloodgateRangeError, "-Infinity"],
  [-1, FloodgateRangeError, "-1"],
  [0, FloodgateRangeError, "0"],
  [1e13, FloodgateRangeError, "10000000000000"],
  ["10", FloodgateTypeError, '"10" (string)'],
  [null, FloodgateTypeError, "null"],
  [undefined, FloodgateTypeError, "undefined"],
  [10n, FloodgateTypeError, "10n"],
];

/** Each factory, a valid option set, and which options must be whole numbers. */
const factories: [string, (o: never) => Policy, Record<string, unknown>, string[]][] = [
  ["tokenBucket", tokenBucket, { capacity: 10, refillRate: 2 }, ["capacity"]],
  [
    "tokenBucket",
    tokenBucket,
    { capacity: 10, refillAmount: 2, refillIntervalMs: 1000 },
    ["capacity", "refillAmount", "refillIntervalMs"],
  ],
  ["gcra", gcra, { limit: 10, periodMs: 1000, burst: 5 }, ["limit", "periodMs", "burst"]],
  ["leakyBucket", leakyBucket, { capacity: 10, leakRate: 2 }, ["capacity"]],
  ["fixedWindow", fixedWindow, { limit: 10, windowMs: 1000 }, ["limit", "windowMs"]],
  ["slidingWindow", slidingWindow, { limit: 10, windowMs: 1000 }, ["limit", "windowMs"]],
  ["slidingLog", slidingLog, { limit: 10, windowMs: 1000 }, ["limit", "windowMs"]],
];

describe("policy options", () => {
  for (const [fn, factory, good, integers] of factories) {
    const label = `${fn}(${JSON.stringify(good)})`;
    it(`${label}: each option rejects non-finite, negative, zero, absurd and wrongly typed values`, async () => {
      expect(() => factory(good as never), label).not.toThrow();
      for (const option of Object.keys(good)) {
        for (const [value, cls, shown] of badNumbers) {
          // burst is optional; a missing refill option is the "needs a refill" error, tested below.
          if (value === undefined && ["burst", "refillRate", "refillAmount", "refillIntervalMs"].includes(option))
            continue;
          const options = { ...good, [option]: value };
          await expectError(
            `${fn}({ ${option}: ${shown} })`,
            () => factory(options as never),
            cls,
            "ERR_INVALID_OPTION",
            [option, shown],
          );
        }
        if (integers.includes(option)) {
          await expectError(
            `${fn}({ ${option}: 1.5 })`,
            () => factory({ ...good, [option]: 1.5 } as never),
            FloodgateRangeError,
            "ERR_INVALID_OPTION",
            [option, "1.5", "whole number"],
          );
        }
      }
    });

    it(`${label}: unknown keys are quoted with a suggestion`, async () => {
      const [first] = Object.keys(good) as [string];
      const typo = `${first.slice(0, -1)}`; // drop the last letter: a common slip
      const { [first]: _dropped, ...rest } = good;
      await expectError(
        `${fn}({ ${typo} })`,
        () => factory({ ...rest, [typo]: good[first] } as never),
        FloodgateTypeError,
        "ERR_UNKNOWN_OPTION",
        [JSON.stringify(typo), `did you mean ${JSON.stringify(first)}`],
      );
      await expectError(
        `${fn}({ zzzzzzzz })`,
        () => factory({ ...good, zzzzzzzz: 1 } as never),
        FloodgateTypeError,
        "ERR_UNKNOWN_OPTION",
        ['"zzzzzzzz". Known options'],
      );
    });

    it(`${label}: options must be an object and the name a header-safe key`, async () => {
      for (const bad of [undefined, null, 5, "x", []]) {
        const e = await thrown(`${fn}(${String(bad)})`, () => factory(bad as never));
        expect([e.name, e.code], `${fn}(${String(bad)}): ${e.message}`).toEqual([
          "FloodgateTypeError",
          "ERR_INVALID_OPTION",
        ]);
      }
      for (const name of ["API", "", "has space", "a".repeat(65), 5]) {
        await expectError(
          `${fn}({ name: ${JSON.stringify(name)} })`,
          () => factory({ ...good, name } as never),
          FloodgateTypeError,
          "ERR_INVALID_OPTION",
          ["name"],
        );
      }
    });
  }

  it("rates and windows that take more than 10 years are RangeErrors naming the fix", async () => {
    await expectError(
      "tokenBucket({ capacity: 1e12, refillRate: 1e-6 })",
      () => tokenBucket({ capacity: 1e12, refillRate: 1e-6 }),
      FloodgateRangeError,
      "ERR_INVALID_OPTION",
      ["10 years", "raise refillRate"],
    );
    await expectError(
      "tokenBucket({ capacity: 1e6, refillAmount: 1, refillIntervalMs: 1e6 })",
      () => tokenBucket({ capacity: 1e6, refillAmount: 1, refillIntervalMs: 1e6 }),
      FloodgateRangeError,
      "ERR_INVALID_OPTION",
      ["10 years"],
    );
    await expectError(
      "gcra({ limit: 1, periodMs: 1e11, burst: 1000 })",
      () => gcra({ limit: 1, periodMs: 1e11, burst: 1000 }),
      FloodgateRangeError,
      "ERR_INVALID_OPTION",
      ["burst", "10 years"],
    );
    await expectError(
      "leakyBucket({ capacity: 1e12, leakRate: 1e-6 })",
      () => leakyBucket({ capacity: 1e12, leakRate: 1e-6 }),
      FloodgateRangeError,
      "ERR_INVALID_OPTION",
      ["10 years", "leakRate"],
    );
    await expectError(
      "slidingLog({ limit: 200000 })",
      () => slidingLog({ limit: 200_000, windowMs: 1000 }),
      FloodgateRangeError,
      "ERR_INVALID_OPTION",
      ["200000", "slidingWindow"],
    );
  });

  it("a token bucket takes exactly one refill form", async () => {
    await expectError(
      "tokenBucket({ capacity: 1 })",
      () => tokenBucket({ capacity: 1 } as never),
      FloodgateTypeError,
      "ERR_INVALID_OPTION",
      ["refillRate", "refillAmount"],
    );
    const e = await thrown("both forms", () =>
      tokenBucket({ capacity: 1, refillRate: 1, refillAmount: 1, refillIntervalMs: 1 } as never),
    );
    expect([e.name, e.code, /not both/.test(e.message)], e.message).toEqual([
      "FloodgateTypeError",
      "ERR_INVALID_OPTION",
      true,
    ]);
  });
});

describe("RateLimiter and MemoryStore options", () => {
  const policy = tokenBucket({ capacity: 3, refillRate: 1 });
  it("rejects unknown keys, missing or bad policies, bad stores, clocks and queue bounds", async () => {
    await expectError(
      "RateLimiter({ polcy })",
      () => new RateLimiter({ polcy: policy } as never),
      FloodgateTypeError,
      "ERR_UNKNOWN_OPTION",
      ['"polcy"', 'did you mean "policy"'],
    );
    for (const bad of [undefined, null, {}, 5, [policy, { evaluate: 1 }]]) {
      const e = await thrown(
        `RateLimiter({ policy: ${String(bad)} })`,
        () => new RateLimiter({ policy: bad as never }),
      );
      expect([e.name, e.code], e.message).toEqual(["FloodgateTypeError", "ERR_INVALID_POLICY"]);
    }
    const e = await thrown("empty", () => new RateLimiter({ policy: [] }));
    expect([e.name, e.code], e.message).toEqual(["FloodgateTypeError", "ERR_INVALID_POLICY"]);
    await expectError(
      "RateLimiter({ policy: [a, a] })",
      () => new RateLimiter({ policy: [policy, tokenBucket({ capacity: 1, refillRate: 1 })] }),
      FloodgateTypeError,
      "ERR_INVALID_POLICY",
      ['"token-bucket"', "name"],
    );
    await expectError(
      "RateLimiter({ store: {} })",
      () => new RateLimiter({ policy, store: {} as never }),
      FloodgateTypeError,
      "ERR_INVALID_OPTION",
      ["store", "an object"],
    );
    await expectError(
      "RateLimiter({ now: 5 })",
      () => new RateLimiter({ policy, now: 5 as never }),
      FloodgateTypeError,
      "ERR_INVALID_OPTION",
      ["now", "5"],
    );
    // maxQueue: 0 used to reject every acquire, even one that could go at once; 0 is now refused up front.
    for (const bad of [0, -1, 1.5, Number.NaN, "10"]) {
      await expectError(
        `RateLimiter({ maxQueue: ${String(bad)} })`,
        () => new RateLimiter({ policy, maxQueue: bad as never }),
        FloodgateRangeError,
        "ERR_INVALID_OPTION",
        ["maxQueue"],
      );
    }
    for (const bad of [0, -1, 1.5, Number.NaN, 1e12]) {
      const e = await thrown(`MemoryStore({ maxKeys: ${bad} })`, () => new MemoryStore({ maxKeys: bad }));
      expect([e.name, e.code, e.message.includes("maxKeys")], e.message).toEqual([
        "FloodgateRangeError",
        "ERR_INVALID_OPTION",
        true,
      ]);
    }
    const u = await thrown("MemoryStore({ maxkeys })", () => new MemoryStore({ maxkeys: 5 } as never));
    expect([u.code, u.message.includes('"maxkeys"'), u.message.includes('did you mean "maxKeys"')], u.message).toEqual([
      "ERR_UNKNOWN_OPTION",
      true,
      true,
    ]);
  });
});

/** Every algorithm with limit 10, to check that bad calls change nothing. */
const policies: Policy[] = [
  tokenBucket({ capacity: 10, refillRate: 1 }),
  tokenBucket({ capacity: 10, refillAmount: 1, refillIntervalMs: 1000 }),
  gcra({ limit: 10, periodMs: 10_000 }),
  leakyBucket({ capacity: 10, leakRate: 1 }),
  fixedWindow({ limit: 10, windowMs: 10_000 }),
  slidingWindow({ limit: 10, windowMs: 10_000 }),
  slidingLog({ limit: 10, windowMs: 10_000 }),
];

/** Bad costs: the error class and code each must get, and how it reads in the message. */
const badCosts: [unknown, ErrClass, string, string][] = [
  [Number.NaN, FloodgateRangeError, "ERR_INVALID_COST", "NaN"],
  [Number.POSITIVE_INFINITY, FloodgateRangeError, "ERR_INVALID_COST", "Infinity"],
  [-1, FloodgateRangeError, "ERR_INVALID_COST", "-1"],
  [-0.5, FloodgateRangeError, "ERR_INVALID_COST", "-0.5"],
  [1.5, FloodgateRangeError, "ERR_INVALID_COST", "1.5"],
  [1e13, FloodgateRangeError, "ERR_INVALID_COST", "10000000000000"],
  [11, FloodgateRangeError, "ERR_COST_EXCEEDS_LIMIT", "11"],
  ["1", FloodgateTypeError, "ERR_INVALID_COST", '"1"'],
  [null, FloodgateTypeError, "ERR_INVALID_COST", "null"],
];

function standing(d: Decision): unknown {
  return { allowed: d.allowed, remaining: d.remaining, retryAfterMs: d.retryAfterMs, resetAfterMs: d.resetAfterMs };
}

describe("bad calls", () => {
  for (const policy of policies) {
    it(`${policy.id}: bad costs get typed, coded errors and never change the state`, async () => {
      let nowMs = 5000;
      const limiter = new RateLimiter({ policy, now: () => nowMs });
      await limiter.consumeAt("k", 5000, 4);
      const before = standing(await limiter.peekAt("k", 5000));
      // positional: the cost is the second argument, where a string or null is neither a cost nor options.
      const calls: [string, boolean, (cost: unknown) => unknown][] = [
        ["consume", true, (c) => limiter.consume("k", c as number)],
        ["consume", false, (c) => limiter.consume("k", { cost: c as number })],
        ["consumeAt", true, (c) => limiter.consumeAt("k", 5000, c as number)],
        ["consumeSync", true, (c) => limiter.consumeSync("k", c as number)],
        ["consumeSync", false, (c) => limiter.consumeSync("k", { cost: c as number })],
        ["refund", true, (c) => limiter.refund("k", c as number)],
        ["refundAt", false, (c) => limiter.refundAt("k", 5000, { cost: c as number })],
        ["acquire", false, (c) => limiter.acquire("k", { cost: c as number })],
      ];
      for (const [name, positional, call] of calls) {
        for (const [cost, cls, code, shown] of badCosts) {
          nowMs = 5000;
          if (positional && typeof cost !== "number") {
            await expectError(`${name}(${shown})`, () => call(cost), FloodgateTypeError, "ERR_INVALID_COST", [
              name,
              shown,
            ]);
          } else {
            await expectError(`${name}(cost=${shown})`, () => call(cost), cls, code, [name, shown]);
          }
          expect(standing(await limiter.peekAt("k", 5000)), `${policy.id}: state after ${name}(${shown})`).toEqual(
            before,
          );
        }
      }
      // Bad keys and bad times are refused the same way, before any state is read.
      for (const key of [42, undefined, null, {}, Symbol("k")]) {
        await expectError(
          `consume(key=${String(key)})`,
          () => limiter.consume(key as never),
          FloodgateTypeError,
          "ERR_INVALID_KEY",
          ["key", "String(id)"],
        );
      }
      for (const at of [Number.NaN, Number.POSITIVE_INFINITY, "5000"]) {
        const e = await thrown(`consumeAt(at=${String(at)})`, () => limiter.consumeAt("k", at as never, 1));
        expect([e.name, e.code], e.message).toEqual(["FloodgateTypeError", "ERR_INVALID_OPTION"]);
      }
      nowMs = Number.NaN;
      const e = await thrown("consume with now() = NaN", () => limiter.consume("k"));
      expect([e.name, e.code, e.message.includes("RateLimiter({ now })")], e.message).toEqual([
        "FloodgateTypeError",
        "ERR_INVALID_CLOCK",
        true,
      ]);
      expect(standing(await limiter.peekAt("k", 5000)), `${policy.id}: state after all bad calls`).toEqual(before);
      // A valid call still works as before: 6 of 10 left.
      const d = await limiter.consumeAt("k", 5000, 6);
      expect([d.allowed, d.remaining], `${policy.id}: consumeAt(cost=6) after bad calls`).toEqual([true, 0]);
    });
  }

  it("a cost valid for one policy but above another's limit is refused before either is touched", async () => {
    const limiter = new RateLimiter({
      policy: [
        tokenBucket({ capacity: 3, refillRate: 1, name: "small" }),
        fixedWindow({ limit: 100, windowMs: 1000, name: "big" }),
      ],
      now: () => 0,
    });
    await expectError("consume(cost=4)", () => limiter.consume("k", 4), FloodgateRangeError, "ERR_COST_EXCEEDS_LIMIT", [
      '"small"',
      "3",
    ]);
    expect((await limiter.peek("k")).policies.map((p) => p.remaining)).toEqual([3, 100]);
  });

  it("peek on an unknown key creates nothing", async () => {
    const store = new MemoryStore();
    const policy = tokenBucket({ capacity: 3, refillRate: 1 });
    const limiter = new RateLimiter({ policy, store, now: () => 0 });
    await limiter.peek("nobody");
    await limiter.refund("nobody", 2);
    expect(store.size(policy)).toBe(0);
  });

  it("keys are opaque: __proto__, constructor, the empty string and a megabyte of text are separate keys", async () => {
    const limiter = new RateLimiter({ policy: fixedWindow({ limit: 2, windowMs: 1000 }), now: () => 0 });
    const keys = ["__proto__", "constructor", "", "toString", "{}", "x".repeat(1 << 20), "hasOwnProperty"];
    for (const k of keys) expect((await limiter.consume(k, 2)).allowed, `consume(${k.slice(0, 20)}, 2)`).toBe(true);
    for (const k of keys) expect((await limiter.consume(k)).allowed, `consume(${k.slice(0, 20)}) again`).toBe(false);
    expect(({} as Record<string, unknown>).polluted, "no prototype pollution").toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it("errors are Floodgate classes with stable codes, and a denial is never an error", async () => {
    const limiter = new RateLimiter({ policy: tokenBucket({ capacity: 1, refillRate: 1 }), now: () => 0 });
    await limiter.consume("k");
    const d = await limiter.consume("k");
    expect([d.allowed, d.retryAfterMs]).toEqual([false, 1000]);
    const e = await thrown("consume(cost=2)", () => limiter.consume("k", 2));
    expect(e).toBeInstanceOf(FloodgateRangeError);
    expect(e).not.toBeInstanceOf(FloodgateError);
  });
});

describe("per-call options", () => {
  // Regression: per-call options were not checked for unknown keys, so consume("k", { cots: 5 }) silently spent 1.
  it("consume(key, { cots: 5 }) rejects the misspelt key with ERR_UNKNOWN_OPTION and spends nothing", async () => {
    const limiter = new RateLimiter({ policy: tokenBucket({ capacity: 10, refillRate: 1 }), now: () => 0 });
    await expectError(
      "consume({ cots: 5 })",
      () => limiter.consume("k", { cots: 5 } as never),
      FloodgateTypeError,
      "ERR_UNKNOWN_OPTION",
      ['"cots"', 'did you mean "cost"'],
    );
    expect((await limiter.peek("k")).remaining).toBe(10);
  });

  it("peek, reset and acquire reject unknown option keys too", async () => {
    const limiter = new RateLimiter({ policy: tokenBucket({ capacity: 10, refillRate: 1 }), now: () => 0 });
    await expectError(
      "peek({ cost })",
      () => limiter.peek("k", { cost: 1 } as never),
      FloodgateTypeError,
      "ERR_UNKNOWN_OPTION",
      ['"cost"'],
    );
    await expectError(
      "reset({ polcy })",
      () => limiter.reset("k", { polcy: 1 } as never),
      FloodgateTypeError,
      "ERR_UNKNOWN_OPTION",
      ['"polcy"', 'did you mean "policy"'],
    );
    await expectError(
      "acquire({ maxWait })",
      () => limiter.acquire("k", { maxWait: 5 } as never),
      FloodgateTypeError,
      "ERR_UNKNOWN_OPTION",
      ['"maxWait"', 'did you mean "maxWaitMs"'],
    );
  });
});

describe("gcra rate bound", () => {
  // Regression: above one unit per microsecond the epoch-time rounding slack reached a whole
  // unit, so remaining could exceed burst; such rates are now refused up front.
  it("refuses more than 1000 units per ms, and at the bound remaining never exceeds burst at epoch times", async () => {
    await expectError(
      "gcra({ limit: 2000, periodMs: 1 })",
      () => gcra({ limit: 2000, periodMs: 1 }),
      FloodgateRangeError,
      "ERR_INVALID_OPTION",
      ["limit: 2000", "periodMs: 1", "microsecond"],
    );
    const policy = gcra({ limit: 1000, periodMs: 1, burst: 5 });
    for (const at of [0, 1.7e12, 4e12]) {
      const r = applyPolicy(policy, null, at, 0);
      expect(r.remaining, `peek at=${at}`).toBeLessThanOrEqual(5);
    }
  });
});

// Regression (issue 8, defect 7): a spread of a factory result with a name that breaks the RateLimit
// headers was accepted by RateLimiter and the HTTP core.
describe("hand-built policies are validated where they enter", () => {
  const base = tokenBucket({ capacity: 10, refillRate: 1 });
  it("a spread with an invalid name is refused by RateLimiter and the HTTP core, naming the fix", async () => {
    const { HttpRateLimit } = await import("../../src/http/index.js");
    const bad = { ...base, name: 'we"ird' } as Policy;
    for (const [where, make] of [
      ["RateLimiter", () => new RateLimiter({ policy: bad })],
      ["RateLimiter (array)", () => new RateLimiter({ policy: [bad] })],
      ["HttpRateLimit", () => new HttpRateLimit({ policy: bad })],
      ["consume({ policy })", () => new RateLimiter({ policy: base }).consumeSync("k", { policy: bad })],
    ] as const) {
      const e = await thrown(where, make);
      expect([e.name, e.code], `${where}: ${e.message}`).toEqual(["FloodgateTypeError", "ERR_INVALID_POLICY"]);
      expect(e.message, where).toContain("tokenBucket(");
    }
  });
  it("a spread with a valid new name is rebuilt by its factory and keyed by that name", () => {
    const renamed = { ...base, name: "api" } as Policy;
    const limiter = new RateLimiter({ policy: renamed, now: () => 0 });
    const p = limiter.policies[0] as Policy;
    expect([p.name, p.id, p.limit, p.algorithm.code]).toEqual(["api", "api:tb:c10r1", 10, "tb"]);
    expect(limiter.consumeSync("k").policy).toBe("api");
  });
  it("a spread whose fields disagree with its options is refused", async () => {
    const edited = { ...base, limit: 20 } as Policy;
    const e = await thrown("limit edited", () => new RateLimiter({ policy: edited }));
    expect([e.code, e.message.includes("limit")]).toEqual(["ERR_INVALID_POLICY", true]);
  });
  it("an object that is no policy at all is refused with the list of factories", async () => {
    const e = await thrown("fake", () => new RateLimiter({ policy: { name: "x", evaluate() {} } as never }));
    expect([e.code, e.message.includes("slidingLog()")]).toEqual(["ERR_INVALID_POLICY", true]);
  });
});
