// redis-util.ts: helpers shared by the Redis integration tests: a pure-core reference engine and decision comparison.

import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { combineDecision, singleDecision } from "../../src/core/decision.js";
import { applyPolicy, type Decision, type Outcome, type Policy, refundPolicy } from "../../src/index.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";

/** Reference replays calls on the pure core (applyPolicy / refundPolicy), all-or-nothing across policies. */
export class Reference {
  readonly #states = new Map<string, (readonly number[] | null)[]>();
  constructor(public policies: readonly Policy[]) {}

  #get(key: string): (readonly number[] | null)[] {
    let s = this.#states.get(key);
    if (s === undefined) {
      s = this.policies.map(() => null);
      this.#states.set(key, s);
    }
    return s;
  }

  consume(key: string, nowMs: number, cost: number): Decision {
    const st = this.#get(key);
    const first = this.policies.map((p, i) => applyPolicy(p, st[i] ?? null, nowMs, cost));
    const allowed = first.every((a) => a.allowed);
    const outs: Outcome[] = first.map((a, i) => {
      // Denied: nothing is taken; a policy that would have admitted reports its standing (cost 0).
      const kept = allowed || !a.allowed ? a : applyPolicy(this.policies[i] as Policy, st[i] ?? null, nowMs, 0);
      // The state kept: the new one if admitted, else as it was or rebased (a clock gone back).
      st[i] = kept.state;
      return kept;
    });
    return this.policies.length === 1
      ? singleDecision(this.policies[0] as Policy, outs[0] as Outcome)
      : combineDecision(this.policies, outs, allowed);
  }

  refund(key: string, nowMs: number, cost: number): void {
    const st = this.#get(key);
    this.policies.forEach((p, i) => {
      st[i] = refundPolicy(p, st[i] ?? null, nowMs, cost);
    });
  }

  reset(key: string): void {
    this.#states.delete(key);
  }
}

/** fields renders a Decision's comparable fields, top level and per policy. */
export function fields(d: Decision): object {
  return {
    allowed: d.allowed,
    limit: d.limit,
    remaining: d.remaining,
    retryAfterMs: d.retryAfterMs,
    resetAfterMs: d.resetAfterMs,
    policy: d.policy,
    policies: d.policies.map((p) => ({
      name: p.policy.name,
      allowed: p.allowed,
      remaining: p.remaining,
      retryAfterMs: p.retryAfterMs,
      resetAfterMs: p.resetAfterMs,
    })),
    ...(d.degraded ? { degraded: d.degraded } : {}),
  };
}

/** mulberry32 is a small seeded PRNG, so a failing random sequence can be replayed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * keysWithoutTtl scans one Redis node and returns the keys that have no TTL (there must be none).
 * PTTL is -1 for a key without a TTL; -2 means the key expired between SCAN and PTTL, which is fine.
 */
export async function keysWithoutTtl(r: Redis): Promise<string[]> {
  const bad: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await r.scan(cursor, "COUNT", 1000);
    cursor = next;
    for (const k of keys) if ((await r.pttl(k)) === -1) bad.push(k);
  } while (cursor !== "0");
  return bad;
}

/** RedisFixture is one throwaway redis-server for a test file: a connection for the stores and one for checks. */
export interface RedisFixture {
  readonly server: RedisServer;
  /** client is the connection the file's stores use. */
  readonly client: Redis;
  /** admin is a second connection, for INFO, KEYS and the like, so checks do not queue behind the stores' calls. */
  readonly admin: Redis;
}

/**
 * useRedis starts a redis-server before the file's tests (beforeAll) and stops it after them (afterAll); the
 * returned object's fields are set from beforeAll on.
 */
export function useRedis(): RedisFixture {
  const fx = {} as { server: RedisServer; client: Redis; admin: Redis };
  beforeAll(async () => {
    fx.server = await startRedis();
    fx.client = new Redis(fx.server.port, fx.server.host);
    fx.admin = new Redis(fx.server.port, fx.server.host);
  });
  afterAll(async () => {
    fx.client?.disconnect();
    fx.admin?.disconnect();
    await fx.server?.stop();
  });
  return fx;
}

/** scriptCalls returns how many script calls (EVALSHA, EVAL, FCALL) the server of `admin` has run so far. */
export async function scriptCalls(admin: Redis): Promise<number> {
  const s = await admin.info("commandstats");
  let calls = 0;
  for (const m of s.matchAll(/cmdstat_(evalsha|eval|fcall):calls=(\d+)/g)) calls += Number(m[2]);
  return calls;
}
