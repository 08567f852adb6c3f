// redis-flush.test.ts: when RedisStore sends its batches: at once for a lone call, after the turn's I/O callbacks while a script call is in flight.

import { describe, expect, it } from "vitest";
import { type Decision, type Policy, tokenBucket } from "../../src/index.js";
import { type RedisAdapter, RedisStore } from "../../src/stores/redis/index.js";
import { hashSlot } from "../../src/stores/redis/keys.js";
import { decode, type WireCall } from "../../src/stores/redis/protocol.js";

/** Sent is one script call the fake server received: how many decisions it carries, and how to answer it. */
interface Sent {
  decisions: number;
  /** keys are the Redis keys of the call, in order. */
  keys: readonly string[];
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
        keys,
        answer: () => resolve(Array.from({ length: keys.length }, () => [5, 0]).flat()),
      });
    });
  }
  eval(): Promise<unknown> {
    return Promise.reject(new Error("not used"));
  }
  /** keysSent is the user key of every decision sent, in the order sent. */
  keysSent(): string[] {
    return this.sent.flatMap((s) => s.keys.map((k) => /\{(.*)\}/.exec(k)?.[1] ?? k));
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

  /** lateStore is a RedisStore over HeldRedis through an adapter that writes late (as node-redis's does). */
  const lateStore = (redis: HeldRedis): RedisStore => {
    const late: RedisAdapter = {
      cluster: false,
      writesLate: true,
      evalsha: (sha1, keys) => redis.evalsha(sha1, keys),
      eval: () => Promise.reject(new Error("not used")),
    };
    return new RedisStore({ adapter: late, denyCache: false });
  };

  it("a client that writes late (node-redis): a large tick leaves in its tick, then one part per turn", async () => {
    const redis = new HeldRedis();
    const store = lateStore(redis);
    const first = store.consume("first", policy, 1, undefined) as Promise<Decision>;
    await Promise.resolve();
    // 64 calls in one tick while a script call is in flight: 3 parts (4 flights at most). The
    // client writes everything it is given in one turn in one socket write, so giving it the
    // three parts at once would reach Redis as one read, answered in one write: Node and Redis
    // would take turns. Before: one unsplit script call of 64.
    const many = Array.from(
      { length: 64 },
      (_, i) => store.consume(`m${i}`, policy, 1, undefined) as Promise<Decision>,
    );
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(
      redis.sent.map((s) => s.decisions),
      "the first part before any macrotask",
    ).toEqual([1, 22]);
    const seen: number[][] = [];
    for (let t = 0; t < 3; t++) {
      await turn();
      seen.push(redis.sent.map((s) => s.decisions));
    }
    expect(seen, "each later part in a turn of its own").toEqual([
      [1, 22, 22],
      [1, 22, 22, 20],
      [1, 22, 22, 20],
    ]);
    for (const s of redis.sent) s.answer();
    expect((await Promise.all([first, ...many])).every((d) => d.allowed)).toBe(true);
  });

  it("a client that writes late: calls made while a part waits go after it, in call order", async () => {
    const redis = new HeldRedis();
    const store = lateStore(redis);
    const ds = Array.from({ length: 64 }, (_, i) => store.consume(`k${i}`, policy, 1, undefined) as Promise<Decision>);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(
      redis.sent.map((s) => s.decisions),
      "nothing in flight: 4 parts of 16, the first at once",
    ).toEqual([16]);
    // k63 is in the last part, not sent yet: its second call must not overtake it, nor may a new key.
    ds.push(store.consume("k63", policy, 1, undefined) as Promise<Decision>);
    ds.push(store.consume("new", policy, 1, undefined) as Promise<Decision>);
    for (let t = 0; t < 5; t++) await turn();
    expect(redis.sent.map((s) => s.decisions)).toEqual([16, 16, 16, 16, 2]);
    expect(redis.keysSent()).toEqual([...Array.from({ length: 64 }, (_, i) => `k${i}`), "k63", "new"]);
    for (const s of redis.sent) s.answer();
    expect((await Promise.all(ds)).every((d) => d.allowed)).toBe(true);
  });

  it("the fake's replies decode as the store expects (guards the fake itself)", () => {
    const calls: WireCall[] = [{ op: "c", policies: policy, cost: 1, keys: ["fg:{a}:x"] }];
    expect(decode(calls, [5, 0])[0]?.remaining).toBe(5);
  });
});

describe("a client that writes late, on a Cluster of several masters: one node batch in flight per master", () => {
  /** ClusterRedis is HeldRedis for a Cluster of masters A (even slots) and B (odd slots); it counts node.lua's decisions. */
  class ClusterRedis implements RedisAdapter {
    readonly cluster = true;
    readonly writesLate = true;
    readonly sent: { node: string; decisions: number; answer(): void }[] = [];
    nodeOf(slot: number): string {
      return slot % 2 === 0 ? "A" : "B";
    }
    evalsha(_sha1: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
      return new Promise((resolve) => {
        // node.lua carries its keys' count in ARGV[3] (one declared key routes the call); decide.lua declares them all.
        const decisions = args.length > 2 && keys.length === 1 && Number(args[2]) > 1 ? Number(args[2]) : keys.length;
        const slot = hashSlot(/\{(.*)\}/.exec(keys[0] as string)?.[1] ?? "");
        this.sent.push({
          node: this.nodeOf(slot),
          decisions,
          answer: () => resolve(Array.from({ length: decisions }, () => [5, 0]).flat()),
        });
      });
    }
    eval(): Promise<unknown> {
      return Promise.reject(new Error("not used"));
    }
  }
  /** keysOn returns `n` user keys whose slot master `node` serves. */
  const keysOn = (node: "A" | "B", n: number, from = 0): string[] => {
    const out: string[] = [];
    for (let i = from; out.length < n; i++) {
      const k = `u${i}`;
      if ((hashSlot(k) % 2 === 0 ? "A" : "B") === node) out.push(k);
    }
    return out;
  };
  const shape = (r: ClusterRedis): string[] => r.sent.map((s) => `${s.node}${s.decisions}`);

  it("steps 1-5: a master's next batch waits, open to new calls, until its batch in flight is answered", async () => {
    const redis = new ClusterRedis();
    const store = new RedisStore({ adapter: redis, denyCache: false });
    const call = (k: string): Promise<Decision> => store.consume(k, policy, 1, undefined) as Promise<Decision>;
    const a = keysOn("A", 9);
    const b = keysOn("B", 6);
    const ds: Promise<Decision>[] = [];
    // Step 1: nothing in flight: one batch per master.
    for (const k of [...a.slice(0, 4), ...b.slice(0, 4)]) ds.push(call(k));
    for (let i = 0; i < 5; i++) await Promise.resolve();
    await turn();
    expect(shape(redis), "step 1").toEqual(["A4", "B4"]);
    // Step 2: more calls for both while both are in flight: they wait (before: sent after the turn).
    for (const k of [...a.slice(4, 7), ...b.slice(4, 6)]) ds.push(call(k));
    await turn();
    await turn();
    expect(shape(redis), "step 2").toEqual(["A4", "B4"]);
    // Step 3: A answers: A's waiting batch goes, with a call made meanwhile (it joined the open batch).
    ds.push(call(a[7] as string));
    redis.sent[0]?.answer();
    await turn();
    await turn();
    expect(shape(redis), "step 3").toEqual(["A4", "B4", "A4"]);
    // Step 4: B answers: its batch goes; a new call on A waits for A's batch in flight.
    ds.push(call(a[8] as string));
    redis.sent[1]?.answer();
    await turn();
    await turn();
    expect(shape(redis), "step 4").toEqual(["A4", "B4", "A4", "B2"]);
    redis.sent[2]?.answer();
    await turn();
    await turn();
    expect(shape(redis), "step 5").toEqual(["A4", "B4", "A4", "B2", "A1"]);
    for (const s of redis.sent.slice(3)) s.answer();
    expect((await Promise.all(ds)).every((d) => d.allowed && d.remaining === 5)).toBe(true);
  });
});
