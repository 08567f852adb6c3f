// redis-gc.test.ts: a batch's objects die young: nothing long-lived in RedisStore keeps them alive through a scavenge.

import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { type Decision, type Policy, tokenBucket } from "../../src/index.js";
import { type RedisAdapter, RedisStore } from "../../src/stores/redis/index.js";

// The gc() of --expose-gc, without starting the test process with the flag: a new context gets it.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as (o?: { type: "minor" | "major"; execution?: "sync" }) => void;

/** Instant answers every script call with "allowed" replies, one microtask later (one key per decision). */
const instant: RedisAdapter = {
  cluster: false,
  evalsha: (_sha1, keys) => Promise.resolve(Array.from({ length: keys.length }, () => [5, 0]).flat()),
  eval: () => Promise.reject(new Error("not used")),
};

const policy: Policy[] = [tokenBucket({ capacity: 100, refillRate: 1 })];

/** batch makes `n` calls in one tick (one script call) and waits for them. */
async function batch(store: RedisStore, n: number, round: number): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, (_, i) => store.consume(`k${round}-${i}`, policy, 1, undefined) as Promise<Decision>),
  );
}

/** oldBytes is the old generation's use (weak references would not do: a scavenge treats them as strong). */
const oldBytes = (): number => getHeapSpaceStatistics().find((s) => s.space_name === "old_space")?.space_used_size ?? 0;

describe("RedisStore's batches and the young generation", () => {
  it("answered batches die young: scavenges promote (almost) none of them, even once the store's own objects are old", async () => {
    const store = new RedisStore({ adapter: instant, denyCache: false });
    // Warm up, then full GCs: the store, its batcher and whatever they hold now are in the old generation.
    for (let r = 0; r < 50; r++) await batch(store, 8, r);
    gc({ type: "major", execution: "sync" });
    gc({ type: "major", execution: "sync" });
    const before = oldBytes();
    // 2,000 batches of 8 (16,000 decisions), a scavenge after every 20: an object alive at two
    // scavenges is promoted; an answered batch is garbage long before its second.
    for (let r = 0; r < 2000; r++) {
      await batch(store, 8, 1000 + r);
      if (r % 20 === 19) gc({ type: "minor", execution: "sync" });
    }
    const grownKb = (oldBytes() - before) / 1024;
    // Before the fix the batcher cleared one long-lived Map per flush (and protocol.ts one per batch):
    // V8's Map.clear links the old hash table to its successor, so the promoted table kept every later
    // table, with their groups, calls, promises and decisions, alive until a full GC: measured 9-10 MB
    // promoted here. Now only what scavenges must keep (the store's current objects): under 1 MB.
    expect(grownKb, "old generation growth, KB").toBeLessThan(1024);
  });
});
