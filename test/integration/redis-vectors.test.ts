// redis-vectors.test.ts: the shared decision vectors and random sequences agree between the Lua twin and the TypeScript core.

import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Decision,
  fixedWindow,
  gcra,
  leakyBucket,
  type Policy,
  RateLimiter,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from "../../src/index.js";
import { RedisStore } from "../../src/stores/redis/index.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import { costOf, wideCallsArb, wideStartArb, wideSubjects } from "../unit/arbitraries.js";
import {
  buildPolicies,
  buildPolicy,
  describeStep,
  loadVectors,
  type PolicySpec,
  replaceIndex,
  type Want,
} from "../vectors/load.js";
import { fields, mulberry32, Reference } from "./redis-util.js";

let server: RedisServer;
let client: Redis;
let casePrefix = 0;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.port, server.host);
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

/** pick returns the fields `want` names, read from the decision. */
function pick(d: Decision, want: Want): Want {
  const got: Record<string, unknown> = {};
  for (const k of Object.keys(want) as (keyof Want)[]) {
    if (k === "policies") {
      got.policies = d.policies.map((p, i) => {
        const w = want.policies?.[i] ?? {};
        const r: Record<string, unknown> = {};
        for (const f of Object.keys(w))
          r[f] = f === "policy" ? p.policy.name : (p as unknown as Record<string, unknown>)[f];
        return r;
      });
    } else {
      got[k] = (d as unknown as Record<string, unknown>)[k];
    }
  }
  return got as Want;
}

const files = loadVectors();

describe("shared vectors replayed against RedisStore", () => {
  it("finds vector files", () => {
    expect(files.length, "test/vectors/*.json").toBeGreaterThan(0);
  });
  for (const file of files) {
    for (const c of file.cases) {
      it(`${file.file}: ${c.name}`, async () => {
        const policies = buildPolicies(c);
        const prefix = `vec${casePrefix++}:`;
        // The deny cache repeats a denial locally (with the first denial's remaining), so the
        // exact replay turns it off; redis-store.test.ts tests it on its own.
        const s = new RedisStore({ client, prefix, denyCache: false, onFailure: "fail-closed", timeoutMs: 5000 });
        let t = 0;
        const limiter = new RateLimiter({ policy: policies, store: s, now: () => t });
        const ref = new Reference(policies);
        for (const step of c.steps) {
          t = step.at;
          const key = step.key ?? "k";
          const op = step.op ?? "consume";
          const call = describeStep(step);
          if (op === "replace") {
            // A live replacement: the limiter's next calls carry the new version; the reference follows.
            const target = limiter.policies[replaceIndex(limiter.policies, step)] as Policy;
            const replaced = await Promise.resolve()
              .then(() =>
                limiter.replacePolicy(target.name, buildPolicy(step.policy as PolicySpec), { strategy: step.strategy }),
              )
              .then(
                () => undefined,
                (e: { code?: string }) => e,
              );
            expect(replaced?.code, `${call}: replace`).toBe(step.want?.error);
            ref.policies = limiter.policies;
            continue;
          }
          if (step.want?.error !== undefined) {
            const err = await limiter.consumeAt(key, step.at, step.cost ?? 1).then(
              () => undefined,
              (e: { code?: string }) => e,
            );
            expect(err?.code, `${call}: want error ${step.want.error}`).toBe(step.want.error);
            continue;
          }
          if (op === "refund") {
            await limiter.refundAt(key, step.at, step.cost ?? 1);
            ref.refund(key, step.at, step.cost ?? 1);
            continue;
          }
          if (op === "reset") {
            await limiter.reset(key);
            ref.reset(key);
            continue;
          }
          const cost = op === "peek" ? 0 : (step.cost ?? 1);
          const d = op === "peek" ? await limiter.peekAt(key, step.at) : await limiter.consumeAt(key, step.at, cost);
          const want = ref.consume(key, step.at, cost);
          expect(fields(d), `${call} Redis vs pure core (applyPolicy)`).toEqual(fields(want));
          if (step.want) expect(pick(d, step.want), `${call} Redis vs vector (${step.why})`).toEqual(step.want);
        }
      });
    }
  }
});

/** configs covers every algorithm and its edge cases: fractional rates, 1 ms windows, epoch times. */
const configs: [string, () => Policy[]][] = [
  ["smooth bucket 10/13 per s", () => [tokenBucket({ capacity: 7, refillRate: 10 / 13 })]],
  ["smooth bucket fast", () => [tokenBucket({ capacity: 100, refillRate: 333.3 })]],
  ["stepped bucket", () => [tokenBucket({ capacity: 9, refillAmount: 2, refillIntervalMs: 700 })]],
  ["gcra", () => [gcra({ limit: 7, periodMs: 1300, burst: 4 })]],
  ["gcra default burst", () => [gcra({ limit: 3, periodMs: 1000 })]],
  ["leaky bucket", () => [leakyBucket({ capacity: 5, leakRate: 2.5 })]],
  ["fixed window", () => [fixedWindow({ limit: 6, windowMs: 1000 })]],
  ["fixed window 1 ms", () => [fixedWindow({ limit: 2, windowMs: 1 })]],
  ["sliding window", () => [slidingWindow({ limit: 8, windowMs: 900 })]],
  ["sliding log", () => [slidingLog({ limit: 6, windowMs: 800 })]],
  [
    "composite: bucket + fixed window + sliding log",
    () => [
      tokenBucket({ name: "burst", capacity: 5, refillRate: 3 }),
      fixedWindow({ name: "per-second", limit: 8, windowMs: 1000 }),
      slidingLog({ name: "log", limit: 10, windowMs: 2000 }),
    ],
  ],
  [
    "composite: gcra + sliding window + leaky + stepped",
    () => [
      gcra({ name: "g", limit: 10, periodMs: 1000, burst: 3 }),
      slidingWindow({ name: "sw", limit: 7, windowMs: 1500 }),
      leakyBucket({ name: "lb", capacity: 4, leakRate: 1.7 }),
      tokenBucket({ name: "st", capacity: 6, refillAmount: 1, refillIntervalMs: 333 }),
    ],
  ],
];

describe("random sequences: RedisStore equals the pure core, field by field", () => {
  for (const [name, make] of configs) {
    it(name, async () => {
      const policies = make();
      const maxCost = Math.min(...policies.map((p) => p.limit));
      for (const seed of [1, 2, 3]) {
        const rnd = mulberry32(seed * 7919 + name.length);
        const prefix = `rnd${casePrefix++}:`;
        const s = new RedisStore({ client, prefix, denyCache: false, onFailure: "fail-closed", timeoutMs: 5000 });
        const ref = new Reference(policies);
        // Epoch-sized times catch precision loss; a few steps go back in time.
        let t = 1_700_000_000_000 + Math.floor(rnd() * 1e6) + (seed === 3 ? 0.25 : 0);
        for (let step = 1; step <= 150; step++) {
          const r = rnd();
          t += r < 0.05 ? -Math.floor(rnd() * 500) : r < 0.4 ? 0 : Math.floor(rnd() * 400) + (rnd() < 0.2 ? 0.5 : 0);
          const key = rnd() < 0.8 ? "a" : "b{x}";
          const opR = rnd();
          const cost = Math.floor(rnd() * (maxCost + 1));
          const call = `seed ${seed} step ${step}: at=${t} key=${key}`;
          if (opR < 0.08) {
            await s.refund(key, policies, cost, t);
            ref.refund(key, t, cost);
          } else if (opR < 0.1) {
            await s.reset(key, policies);
            ref.reset(key);
          } else {
            const c = opR < 0.2 ? 0 : cost;
            const d = await s.consume(key, policies, c, t);
            expect(fields(d), `${call} consume(cost=${c})`).toEqual(fields(ref.consume(key, t, c)));
          }
        }
      }
    });
  }
});

describe("a long sliding log (state of hundreds of entries)", () => {
  it("300 calls, refunds and expiry agree with the pure core", async () => {
    const policies = [slidingLog({ limit: 1000, windowMs: 2000 })];
    const s = new RedisStore({ client, prefix: `long${casePrefix++}:`, denyCache: false, timeoutMs: 5000 });
    const ref = new Reference(policies);
    const rnd = mulberry32(99);
    let t = 1_700_000_000_000;
    for (let step = 1; step <= 300; step++) {
      t += Math.floor(rnd() * 15);
      if (step % 50 === 0) {
        await s.refund("log", policies, 7, t);
        ref.refund("log", t, 7);
        continue;
      }
      const cost = 1 + Math.floor(rnd() * 5);
      const d = await s.consume("log", policies, cost, t);
      expect(fields(d), `step ${step}: consume(cost=${cost}) at ${t}`).toEqual(fields(ref.consume("log", t, cost)));
    }
    expect(await client.strlen(s.keyOf("log", policies[0] as Policy)), "log bytes (16 per entry)").toBeGreaterThan(
      16 * 150,
    );
  });
});

describe("batched: calls in one tick equal the pure core applied in call order", () => {
  for (const [name, make] of configs) {
    it(name, async () => {
      const policies = make();
      const maxCost = Math.min(...policies.map((p) => p.limit));
      const rnd = mulberry32(4242 + name.length);
      const s = new RedisStore({ client, prefix: `tick${casePrefix++}:`, denyCache: false, timeoutMs: 5000 });
      const ref = new Reference(policies);
      let t = 1_700_000_000_000 + Math.floor(rnd() * 1e6);
      for (let tick = 1; tick <= 25; tick++) {
        t += Math.floor(rnd() * 300);
        const calls = Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => ({
          key: ["a", "b", "{c}"][Math.floor(rnd() * 3)] as string,
          cost: rnd() < 0.15 ? 0 : Math.floor(rnd() * (maxCost + 1)),
        }));
        const got = await Promise.all(calls.map((c) => s.consume(c.key, policies, c.cost, t)));
        calls.forEach((c, i) => {
          const want = ref.consume(c.key, t, c.cost);
          expect(
            fields(got[i] as Decision),
            `tick ${tick} call ${i}: consume(${c.key}, cost=${c.cost}) at ${t}`,
          ).toEqual(fields(want));
        });
      }
    });
  }
});

describe("exact waits through the Lua twins, with steps back (issue 8, defects 1 and 5)", () => {
  // The property of test/unit/properties.test.ts replayed against Redis: after every call, the same call
  // is admitted at now + retryAfterMs and not 1 ms earlier, and the state is full at now + resetAfterMs and
  // not 1 ms earlier, with the state as Redis keeps it (rebased after a step back). Each call also equals
  // the pure core's, field by field.
  for (const [name, arb] of Object.entries(wideSubjects)) {
    it(`${name}: the first whole ms that works, in Redis`, async () => {
      await fc.assert(
        fc.asyncProperty(arb, wideStartArb, wideCallsArb(true, 24), async (s, start, calls) => {
          const policies = [s.policy];
          // A long clock grace: Redis expires keys by its own clock, and these times jump by days.
          const store = new RedisStore({
            client,
            prefix: `exact${casePrefix++}:`,
            denyCache: false,
            onFailure: "fail-closed",
            timeoutMs: 5000,
            clockGraceMs: 3_600_000,
          });
          const ref = new Reference(policies);
          const stateKey = store.keyOf("k", s.policy);
          const probeKey = store.keyOf("probe", s.policy);
          // probe decides `cost` at `at` on a copy of the state, leaving the state untouched.
          const probe = async (at: number, cost: number): Promise<Decision> => {
            const raw = await client.getBuffer(stateKey);
            if (raw === null) await client.del(probeKey);
            else await client.set(probeKey, raw, "PX", 3_600_000);
            return store.consume("probe", policies, cost, at);
          };
          let t = start;
          for (const c of calls) {
            t += c.gapMs;
            const cost = costOf(c, s.policy.limit);
            const d = await store.consume("k", policies, cost, t);
            const call = `${s.label} consume(at=${t}, cost=${cost}) = ${JSON.stringify(fields(d))}`;
            expect(fields(d), `${call}: Redis vs pure core`).toEqual(fields(ref.consume("k", t, cost)));
            if (!d.allowed) {
              expect((await probe(t + d.retryAfterMs, cost)).allowed, `${call}: at now + retryAfterMs`).toBe(true);
              expect((await probe(t + (d.retryAfterMs - 1), cost)).allowed, `${call}: 1 ms earlier`).toBe(false);
            }
            // Full at now + resetAfterMs (a peek there has nothing to wait for), not 1 ms earlier.
            const full = await store.peek("k", policies, t + d.resetAfterMs);
            expect(full.resetAfterMs, `${call}: full at now + resetAfterMs`).toBe(0);
            if (d.resetAfterMs >= 1) {
              const early = await store.peek("k", policies, t + (d.resetAfterMs - 1));
              expect(early.resetAfterMs, `${call}: full 1 ms earlier`).toBe(1);
            }
          }
        }),
        { numRuns: 80 },
      );
    });
  }
});
