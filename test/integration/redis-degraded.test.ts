// redis-degraded.test.ts: RedisStore answers while Redis is unreachable: insurance with a scaled limit, refunds and resets between probes.

import { describe, expect, it } from "vitest";
import {
  type Decision,
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
import { type RedisAdapter, RedisStore, type RedisStoreEvents } from "../../src/stores/redis/index.js";
import { mulberry32 } from "./redis-util.js";

/** DOWN is an adapter whose every call fails as a closed connection would (no Redis needed). */
const DOWN: RedisAdapter = {
  cluster: false,
  evalsha: () => Promise.reject(new Error("Connection is closed.")),
  eval: () => Promise.reject(new Error("Connection is closed.")),
};

/** subjects are one policy per algorithm (limit 8) and a policy array, insured at scale 1/4 (limits 2). */
const subjects: [string, Policy[]][] = [
  ["tokenBucket", [tokenBucket({ capacity: 8, refillRate: 2 })]],
  ["stepped tokenBucket", [tokenBucket({ capacity: 8, refillAmount: 2, refillIntervalMs: 500 })]],
  ["gcra", [gcra({ limit: 8, periodMs: 1000 })]],
  ["leakyBucket", [leakyBucket({ capacity: 8, leakRate: 2 })]],
  ["fixedWindow", [fixedWindow({ limit: 8, windowMs: 1000 })]],
  ["slidingWindow", [slidingWindow({ limit: 8, windowMs: 1000 })]],
  ["slidingLog", [slidingLog({ limit: 8, windowMs: 1000 })]],
  [
    "[tokenBucket, fixedWindow]",
    [
      tokenBucket({ name: "burst", capacity: 8, refillRate: 2 }),
      fixedWindow({ name: "minute", limit: 40, windowMs: 60_000 }),
    ],
  ],
];

const SCALE = 0.25;

/** view renders a decision's fields for messages and comparisons. */
function view(d: Decision): object {
  return {
    allowed: d.allowed,
    remaining: d.remaining,
    retryAfterMs: d.retryAfterMs,
    resetAfterMs: d.resetAfterMs,
    policy: d.policy,
    degraded: d.degraded,
    policies: d.policies.map((p) => [p.policy.name, p.allowed, p.remaining, p.retryAfterMs, p.resetAfterMs]),
  };
}

describe("insurance with a scaled limit", () => {
  for (const [label, policies] of subjects) {
    // Regression (issue 8, defect 3): a cost that fits the policy but not its scaled limit got retryAfterMs Infinity (slidingWindow), 0 (slidingLog) or a wait after which it is still denied.
    it(`${label}: a cost above the scaled limit is denied with the policy's windowMs, taking nothing; no denial is ever Infinity, NaN or 0`, async () => {
      const insurance = new MemoryStore();
      let t = 1_000_000;
      const store = new RedisStore({ adapter: DOWN, onFailure: { insurance, scale: SCALE }, probeIntervalMs: 60_000 });
      const limiter = new RateLimiter({ policy: policies, store, now: () => t });
      const scaledLimits = policies.map((p) => Math.max(1, Math.floor(p.limit * SCALE)));
      const minScaled = Math.min(...scaledLimits);
      const rand = mulberry32(label.length * 7919);
      let beyond = 0;
      for (let step = 0; step < 400; step++) {
        t += rand() < 0.3 ? Math.floor(rand() * 1500) : Math.floor(rand() * 40);
        const cost = 1 + Math.floor(rand() * (policies[0] as Policy).limit);
        const call = `step ${step}: consume(cost=${cost}) at ${t}`;
        const before = view(await limiter.peek("k"));
        const size = insurance.size();
        const d = await limiter.consume("k", cost);
        expect(d.degraded, `${call}: degraded`).toBe("insurance");
        if (!d.allowed) {
          expect(
            Number.isFinite(d.retryAfterMs) && d.retryAfterMs > 0 && Number.isFinite(d.resetAfterMs),
            `${call}: denial ${JSON.stringify(view(d))} must carry a finite wait > 0`,
          ).toBe(true);
        }
        if (cost <= minScaled) continue;
        beyond++;
        // The documented answer: denied; each policy whose scaled limit is below the cost waits
        // its own windowMs and reports its scaled remaining; the insurance state is untouched.
        expect(d.allowed, `${call}: allowed`).toBe(false);
        policies.forEach((p, i) => {
          const pd = d.policies[i];
          if (cost > (scaledLimits[i] as number)) {
            expect(
              { allowed: pd?.allowed, retryAfterMs: pd?.retryAfterMs, resetAfterMs: pd?.resetAfterMs },
              `${call}: ${p.name} (scaled limit ${scaledLimits[i]})`,
            ).toEqual({ allowed: false, retryAfterMs: p.windowMs, resetAfterMs: p.windowMs });
          }
        });
        const deciding = d.policies.find((pd) => pd.policy.name === d.policy);
        expect(d.retryAfterMs, `${call}: top-level wait is the deciding policy's`).toBe(deciding?.retryAfterMs);
        expect(
          { state: view(await limiter.peek("k")), size: insurance.size() },
          `${call}: the insurance state after the denial`,
        ).toEqual({ state: before, size });
        expect((d.policies[0] as { remaining: number }).remaining, `${call}: remaining is the scaled policy's`).toBe(
          (before as { policies: [string, boolean, number][] }).policies[0]?.[2],
        );
      }
      expect(beyond > 100, `calls above the scaled limit: ${beyond}`).toBe(true);
    });
  }

  it("a policy array: the wait is the longest of the denying policies, the other policy's own denial included", async () => {
    const [burst, minute] = (subjects[7] as [string, Policy[]])[1] as [Policy, Policy];
    let t = 0;
    const store = new RedisStore({
      adapter: DOWN,
      onFailure: { insurance: true, scale: SCALE },
      probeIntervalMs: 60_000,
    });
    const limiter = new RateLimiter({ policy: [burst, minute], store, now: () => t });
    // step 1: cost 3 > burst's scaled limit 2: burst waits its windowMs (4000); minute (10 left) would admit.
    expect(view(await limiter.consume("k", 3)), "step 1: cost 3 at 0").toEqual({
      allowed: false,
      remaining: 2,
      retryAfterMs: 4000,
      resetAfterMs: 4000,
      policy: "burst",
      degraded: "insurance",
      policies: [
        ["burst", false, 2, 4000, 4000],
        ["minute", true, 10, 0, 0],
      ],
    });
    // steps 2-11: ten calls of 1, 2 s apart, use up minute's scaled limit of 10 (burst refills meanwhile).
    for (let i = 0; i < 10; i++) {
      t = 2000 * i;
      expect((await limiter.consume("k")).allowed, `step ${2 + i}: cost 1 at ${t}`).toBe(true);
    }
    // step 12: cost 3 again: burst still waits 4000, minute now denies too, until its window ends (60000 - 20000).
    t = 20_000;
    const d = await limiter.consume("k", 3);
    expect({ retryAfterMs: d.retryAfterMs, policy: d.policy, per: view(d) }, "step 12: cost 3 at 20000").toMatchObject({
      retryAfterMs: 40_000,
      policy: "minute",
      per: {
        policies: [
          ["burst", false, 2, 4000, 4000],
          ["minute", false, 0, 40_000, 40_000],
        ],
      },
    });
  });
});

describe("refund and reset while degraded", () => {
  /** degradedStore returns a store that has just gone degraded, with its error events logged. */
  async function degradedStore(onFailure: "fail-open" | { insurance: MemoryStore; scale?: number }) {
    let t = 0;
    const store = new RedisStore({ adapter: DOWN, onFailure, probeIntervalMs: 60_000, now: () => t });
    const errors: RedisStoreEvents["error"][] = [];
    store.on("error", (e) => errors.push(e));
    const limiter = new RateLimiter({ policy: tokenBucket({ capacity: 8, refillRate: 1 }), store, now: () => t });
    await limiter.consume("k", 2); // the failure that makes the store degraded (an error event of its own)
    expect(store.degraded, "degraded after the first failure").toBe(true);
    errors.length = 0;
    t = 10; // before the next probe: calls are answered locally
    return { store, limiter, errors };
  }

  /** summary renders error events as [op, key, code, whether the message says it was not applied]. */
  const summary = (errors: RedisStoreEvents["error"][]) =>
    errors.map((e) => {
      const err = e.error as { code?: string; message: string };
      return [e.op, e.key, err.code, /was not applied to Redis/.test(err.message)];
    });

  // Regression (issue 8, defect 11): a refund or reset answered between probes was dropped without a word.
  it("fail-open: each refund and reset between probes is reported as an error event (ERR_STORE, not applied)", async () => {
    const { limiter, errors } = await degradedStore("fail-open");
    await limiter.refund("k", 1);
    await limiter.reset("user:2");
    expect(summary(errors), "error events").toEqual([
      ["refund", "k", "ERR_STORE", true],
      ["reset", "user:2", "ERR_STORE", true],
    ]);
    expect(
      String((errors[0]?.error as Error | undefined)?.message),
      "the message says what happened and what to do",
    ).toMatch(/nothing was changed.*"recovered"/);
    await limiter.consume("k");
    expect(errors.length, "a consume answered locally carries `degraded` and emits nothing").toBe(2);
  });

  // Regression (issue 8, defect 11): with insurance, the refund and reset reach the insurance store and are reported.
  it("insurance: refunds and resets between probes are applied to the insurance store, and reported", async () => {
    const insurance = new MemoryStore();
    const { limiter, errors } = await degradedStore({ insurance });
    // The failing first call was decided by insurance: 8 - 2 = 6 left there.
    expect((await limiter.peek("k")).remaining, "step 1: insured remaining").toBe(6);
    await limiter.refund("k", 1);
    expect((await limiter.peek("k")).remaining, "step 2: after refund(1)").toBe(7);
    await limiter.reset("k");
    expect((await limiter.peek("k")).remaining, "step 3: after reset").toBe(8);
    expect(summary(errors), "error events").toEqual([
      ["refund", "k", "ERR_STORE", true],
      ["reset", "k", "ERR_STORE", true],
    ]);
    expect(String((errors[0]?.error as Error | undefined)?.message)).toMatch(/applied to the insurance store only/);
  });
});
