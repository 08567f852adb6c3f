// consume-promise.test.ts: RateLimiter.consume always answers with a promise: rejected for bad input or a throwing store, never a synchronous throw.

import { describe, expect, it } from "vitest";
import { type Decision, MemoryStore, type Policy, RateLimiter, type Store, tokenBucket } from "../../src/index.js";

const policy = tokenBucket({ capacity: 10, refillRate: 1 });

/** callOf calls consume and reports whether it threw synchronously, and what its promise settled to. */
async function callOf(fn: () => Promise<Decision>): Promise<{ threw: boolean; outcome: string }> {
  let p: Promise<Decision>;
  try {
    p = fn();
  } catch {
    return { threw: true, outcome: "thrown" };
  }
  try {
    const d = await p;
    return { threw: false, outcome: `allowed=${d.allowed} remaining=${d.remaining}` };
  } catch (e) {
    return { threw: false, outcome: (e as { code?: string }).code ?? String(e) };
  }
}

/** ForwardingStore wraps a MemoryStore and answers consume in a way chosen per test. */
function store(consume: Store["consume"]): Store {
  const m = new MemoryStore();
  return {
    ownsClock: false,
    consume,
    peek: (k, p, n) => m.peek(k, p, n),
    refund: (k, p, c, n) => m.refund(k, p, c, n),
    reset: (k, p) => m.reset(k, p),
  };
}

describe("consume answers with a promise", () => {
  const memory = new MemoryStore();
  const table: [string, () => Promise<Decision>, string][] = [
    ["1: a key that is not a string", () => new RateLimiter({ policy }).consume(42 as never), "ERR_INVALID_KEY"],
    [
      "2: an injected clock returning NaN",
      () => new RateLimiter({ policy, now: () => Number.NaN }).consume("k"),
      "ERR_INVALID_CLOCK",
    ],
    [
      "3: a store whose consume throws synchronously",
      () =>
        new RateLimiter({
          policy,
          store: store(() => {
            throw Object.assign(new Error("down"), { code: "E_DOWN" });
          }),
        }).consume("k"),
      "E_DOWN",
    ],
    [
      "4: a store answering with a thenable that is not a native promise",
      () =>
        new RateLimiter({
          policy,
          store: store(
            (k, p: readonly Policy[], c, n) =>
              ({
                // biome-ignore lint/suspicious/noThenProperty: a custom store may answer with any thenable.
                then: (ok: (d: Decision) => void) => ok(memory.consumeSync(k, p, c, n as number)),
              }) as unknown as Promise<Decision>,
          ),
          now: () => 0,
        }).consume("k"),
      "allowed=true remaining=9",
    ],
    [
      "5: a plain memory decision",
      () => new RateLimiter({ policy, now: () => 0 }).consume("k", 3),
      "allowed=true remaining=7",
    ],
  ];
  for (const [name, fn, want] of table) {
    it(name, async () => {
      expect(await callOf(fn), name).toEqual({ threw: false, outcome: want });
    });
  }
});
