// redis-throttle.test.ts: two "workers" throttled through one RedisStore share a single outbound budget.

import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { throttle } from "../../src/client/index.js";
import { type Decision, type Policy, type Store, tokenBucket } from "../../src/index.js";
import { RedisStore } from "../../src/stores/redis/index.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import { drive, FakeClock } from "./helpers.js";

let server: RedisServer;
const clients: Redis[] = [];

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
});

/** counted wraps a store so the virtual clock driver knows when a Redis call is in flight. */
function counted(store: Store, state: { inFlight: number }): Store {
  const track = async <T>(p: Promise<T> | T): Promise<T> => {
    state.inFlight++;
    try {
      return await p;
    } finally {
      state.inFlight--;
    }
  };
  return {
    ownsClock: store.ownsClock,
    consume: (k: string, p: readonly Policy[], c: number, n: number | undefined): Promise<Decision> =>
      track(store.consume(k, p, c, n)),
    peek: (k: string, p: readonly Policy[], n: number | undefined): Promise<Decision> => track(store.peek(k, p, n)),
    refund: (k: string, p: readonly Policy[], c: number, n: number | undefined): Promise<void> =>
      track(store.refund(k, p, c, n)),
    reset: (k: string, p: readonly Policy[]): Promise<void> => track(store.reset(k, p)),
  };
}

describe("throttle with a RedisStore", () => {
  it("two workers with their own Redis connections stay under one shared budget (burst 3, 2/s)", async () => {
    const clock = new FakeClock(1_000_000);
    const state = { inFlight: 0 };
    const starts: { worker: string; at: number }[] = [];
    const policy = tokenBucket({ capacity: 3, refillRate: 2 });
    const prefix = `client-test-${Date.now()}:`;
    const worker = (name: string) => {
      const client = new Redis(server.port, server.host);
      clients.push(client);
      const store = new RedisStore({ client, prefix, denyCache: false, onFailure: "fail-closed", timeoutMs: 5000 });
      return throttle(
        async (i: number) => {
          starts.push({ worker: name, at: clock.now() - 1_000_000 });
          return i;
        },
        { policy, key: "partner-api", store: counted(store, state), now: clock.now, timers: clock },
      );
    };
    const a = worker("a");
    const b = worker("b");
    const calls = Array.from({ length: 8 }, (_, i) => [a(i), b(i)]).flat();
    await drive(clock, () => state.inFlight > 0, Promise.all(calls));
    expect(starts.length).toBe(16);
    expect(new Set(starts.map((s) => s.worker)), "both workers ran").toEqual(new Set(["a", "b"]));
    const times = starts.map((s) => s.at).sort((x, y) => x - y);
    for (let i = 0; i < times.length; i++) {
      for (let j = i; j < times.length; j++) {
        const windowMs = (times[j] as number) - (times[i] as number);
        const bound = 3 + (2 * windowMs) / 1000;
        if (j - i + 1 > bound + 1e-9) {
          throw new Error(
            `starts ${i}..${j} (${j - i + 1}) in ${windowMs} ms exceed the shared bound ${bound}: ${times}`,
          );
        }
      }
    }
    expect(times.at(-1), "16 starts at burst 3 + 2/s end at 6.5 s").toBe(6500);
    expect(clock.pending, "no timer left").toBe(0);
  });
});
