// redis-flush.test.ts: when RedisStore sends its batches: at once for a lone call, after the turn's I/O callbacks while a script call is in flight.

import { describe, expect, it } from "vitest";
import { type Decision, type Policy, tokenBucket } from "../../src/index.js";
import { type RedisAdapter, RedisStore } from "../../src/stores/redis/index.js";
import { decode, type WireCall } from "../../src/stores/redis/protocol.js";

/** Sent is one script call the fake server received: how many decisions it carries, and how to answer it. */
interface Sent {
  decisions: number;
  answer(): void;
}

/**
 * HeldRedis records every script call and answers it only when told (answer()),
 * with "allowed" replies in the layout decode() reads. Nothing else is faked:
 * the store's own batching decides what is sent when.
 */
class HeldRedis implements RedisAdapter {
  readonly cluster = false;
  readonly sent: Sent[] = [];
  evalsha(_sha1: string, keys: readonly string[]): Promise<unknown> {
    return new Promise((resolve) => {
      // One policy per call in this test: one key per decision, each admitted with 5 remaining
      // (remaining, resetAfterMs).
      this.sent.push({
        decisions: keys.length,
        answer: () => resolve(Array.from({ length: keys.length }, () => [5, 0]).flat()),
      });
    });
  }
  eval(): Promise<unknown> {
    return Promise.reject(new Error("not used"));
  }
}

const policy: Policy[] = [tokenBucket({ capacity: 100, refillRate: 1 })];
/** turn waits for the next turn of the event loop (a macrotask), as the next request's socket callback would be. */
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("RedisStore flush timing", () => {
  it("step 1: a lone call with nothing in flight is sent within its own tick (microtasks), not a turn later", async () => {
    const redis = new HeldRedis();
    const store = new RedisStore({ adapter: redis, denyCache: false });
    const d = store.consume("a", policy, 1, undefined) as Promise<Decision>;
    // Only microtasks run here: no macrotask has had a chance.
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(
      redis.sent.map((s) => s.decisions),
      "sent before any macrotask",
    ).toEqual([1]);
    redis.sent[0]?.answer();
    expect((await d).allowed).toBe(true);
  });

  it("step 2: calls made in 8 separate macrotasks while a script call is in flight share one script call", async () => {
    const redis = new HeldRedis();
    const store = new RedisStore({ adapter: redis, denyCache: false });
    const first = store.consume("first", policy, 1, undefined) as Promise<Decision>;
    await Promise.resolve();
    expect(redis.sent.length, "the first call went at once").toBe(1);
    // Eight "requests", each in its own macrotask (as each arrives in its own socket callback).
    const later: Promise<Decision>[] = [];
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        turn().then(() => {
          later.push(store.consume(`k${i}`, policy, 1, undefined) as Promise<Decision>);
        }),
      ),
    );
    await turn();
    await turn();
    // Before the change each macrotask flushed its own call: 1 + 8 script calls of one decision.
    expect(
      redis.sent.map((s) => s.decisions),
      "the 8 calls travel together, after that turn's callbacks",
    ).toEqual([1, 8]);
    for (const s of redis.sent) s.answer();
    const all = await Promise.all([first, ...later]);
    expect(all.every((d) => d.allowed && d.remaining === 5)).toBe(true);
  });

  it("step 3: once nothing is in flight again, the next lone call goes at once again", async () => {
    const redis = new HeldRedis();
    const store = new RedisStore({ adapter: redis, denyCache: false });
    const a = store.consume("a", policy, 1, undefined) as Promise<Decision>;
    await Promise.resolve();
    redis.sent[0]?.answer();
    await a;
    const b = store.consume("b", policy, 1, undefined) as Promise<Decision>;
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(redis.sent.map((s) => s.decisions)).toEqual([1, 1]);
    redis.sent[1]?.answer();
    await b;
  });

  it("a client that writes late (node-redis): with a call in flight, a tick's calls leave in that tick, unsplit", async () => {
    const redis = new HeldRedis();
    const late: RedisAdapter = {
      cluster: false,
      writesLate: true,
      evalsha: (sha1, keys) => redis.evalsha(sha1, keys),
      eval: () => Promise.reject(new Error("not used")),
    };
    const store = new RedisStore({ adapter: late, denyCache: false });
    const first = store.consume("first", policy, 1, undefined) as Promise<Decision>;
    await Promise.resolve();
    // 64 calls in one tick while a script call is in flight: without writesLate they wait for the
    // turn's I/O and are split in 3 parts; the client would then write them a whole turn later.
    const many = Array.from(
      { length: 64 },
      (_, i) => store.consume(`m${i}`, policy, 1, undefined) as Promise<Decision>,
    );
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(
      redis.sent.map((s) => s.decisions),
      "sent before any macrotask, as one script call",
    ).toEqual([1, 64]);
    for (const s of redis.sent) s.answer();
    expect((await Promise.all([first, ...many])).every((d) => d.allowed)).toBe(true);
  });

  it("the fake's replies decode as the store expects (guards the fake itself)", () => {
    const calls: WireCall[] = [{ op: "c", policies: policy, cost: 1, keys: ["fg:{a}:x"] }];
    expect(decode(calls, [5, 0])[0]?.remaining).toBe(5);
  });
});
