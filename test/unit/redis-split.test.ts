// redis-split.test.ts: how RedisStore splits a large same-tick batch, and when a client that writes after the turn gets each part.

import { describe, expect, it } from "vitest";
import { type Decision, type Policy, tokenBucket } from "../../src/index.js";
import { type RedisAdapter, RedisStore } from "../../src/stores/redis/index.js";

/** HeldRedis records every script call (its keys) and answers only when told, with "allowed" replies. */
class HeldRedis implements RedisAdapter {
  readonly cluster = false;
  readonly sent: { keys: readonly string[]; answer(): void }[] = [];
  constructor(readonly writesAfterTurn: boolean) {}
  evalsha(_sha1: string, keys: readonly string[]): Promise<unknown> {
    return new Promise((resolve) => {
      this.sent.push({ keys, answer: () => resolve(keys.flatMap(() => [1, 5, 0, 0])) });
    });
  }
  eval(): Promise<unknown> {
    return Promise.reject(new Error("not used"));
  }
}

const policy: Policy[] = [tokenBucket({ capacity: 100, refillRate: 1 })];
/** turn waits for the next turn of the event loop. */
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const microtasks = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};
const userKey = (redisKey: string): string => /\{(.*)\}/.exec(redisKey)?.[1] ?? "?";

describe("splitting a large batch (64 calls in one tick, nothing in flight: 4 script calls of 16)", () => {
  it("step 1: a client that writes at once (ioredis) gets the 4 parts in the same turn", async () => {
    const redis = new HeldRedis(false);
    const store = new RedisStore({ adapter: redis, denyCache: false });
    const ds = Array.from({ length: 64 }, (_, i) => store.consume(`k${i}`, policy, 1, undefined) as Promise<Decision>);
    await microtasks();
    expect(
      redis.sent.map((s) => s.keys.length),
      "after the tick",
    ).toEqual([16, 16, 16, 16]);
    for (const s of redis.sent) s.answer();
    expect((await Promise.all(ds)).every((d) => d.allowed)).toBe(true);
  });

  it("step 2: a client that writes after the turn (node-redis) gets each part in a turn of its own, in call order", async () => {
    const redis = new HeldRedis(true);
    const store = new RedisStore({ adapter: redis, denyCache: false });
    const ds = Array.from({ length: 64 }, (_, i) => store.consume(`k${i}`, policy, 1, undefined) as Promise<Decision>);
    await microtasks();
    // Before: all four parts were sent in one turn, so node-redis wrote them in one socket write.
    expect(
      redis.sent.map((s) => s.keys.length),
      "after the tick",
    ).toEqual([16]);
    const seen: number[][] = [];
    for (let t = 0; t < 3; t++) {
      await turn();
      seen.push(redis.sent.map((s) => s.keys.length));
    }
    expect(seen, "after each of the next 3 turns").toEqual([
      [16, 16],
      [16, 16, 16],
      [16, 16, 16, 16],
    ]);
    expect(redis.sent.flatMap((s) => s.keys.map(userKey))).toEqual(Array.from({ length: 64 }, (_, i) => `k${i}`));
    for (const s of redis.sent) s.answer();
    expect((await Promise.all(ds)).every((d) => d.allowed)).toBe(true);
  });

  it("step 3: a later call of a key whose part is still waiting is sent after that part (calls on one key keep their order)", async () => {
    const redis = new HeldRedis(true);
    const store = new RedisStore({ adapter: redis, denyCache: false });
    const ds = Array.from({ length: 64 }, (_, i) => store.consume(`k${i}`, policy, 1, undefined) as Promise<Decision>);
    await microtasks();
    expect(redis.sent.length, "the first part went").toBe(1);
    // k63 is in the last part, not sent yet; its second call must not overtake it.
    ds.push(store.consume("k63", policy, 1, undefined) as Promise<Decision>);
    for (let t = 0; t < 5; t++) await turn();
    const order = redis.sent.flatMap((s) => s.keys.map(userKey));
    expect(order.length).toBe(65);
    expect(order.indexOf("k63"), "the first k63 goes first").toBe(63);
    expect(order.lastIndexOf("k63"), "the second k63 after it").toBe(64);
    for (const s of redis.sent) s.answer();
    await Promise.all(ds);
  });
});
