// nestjs-throttler.ts: @nestjs/throttler's ThrottlerStorage on floodgate's stores (memory or Redis), for floodgate/nestjs.
//
// It sits on the limiter, not on src/http (.dependency-cruiser.cjs names it): it makes decisions for another
// library's guard, and imports no npm package (the storage contract is restated below as plain types).

import { describe, FloodgateTypeError } from "../core/errors.js";
import { gcra } from "../core/gcra.js";
import type { Decision, Policy } from "../core/policy.js";
import { slidingLog } from "../core/sliding-log.js";
import { RateLimiter } from "../limiter.js";
import type { Store } from "../stores/store.js";

/** ThrottlerStorageRecord is what @nestjs/throttler (v5, v6) expects from ThrottlerStorage.increment. */
export interface ThrottlerStorageRecord {
  /** totalHits counts the hits in the window; above the limit when refused. */
  totalHits: number;
  /** timeToExpire is the time in whole seconds until the window holds no hit (X-RateLimit-Reset). */
  timeToExpire: number;
  /** isBlocked is true when the hit is refused. */
  isBlocked: boolean;
  /** timeToBlockExpire is the time in whole seconds until a hit is admitted again (Retry-After); 0 when admitted. */
  timeToBlockExpire: number;
}

/** ThrottlerLimit describes one named throttler's limit, as the ThrottlerGuard passes it. */
export interface ThrottlerLimit {
  /** name is the throttler's name ("default" unless named). */
  readonly name: string;
  /** limit is the most hits per ttl. */
  readonly limit: number;
  /** ttlMs is the window in milliseconds. */
  readonly ttlMs: number;
}

/** FloodgateThrottlerStorageOptions configures FloodgateThrottlerStorage. */
export interface FloodgateThrottlerStorageOptions {
  /** store keeps the counts: a RedisStore shares them across processes. Default: a new MemoryStore. */
  store?: Store;
  /**
   * policy builds the policy for a throttler's limit. Default: `slidingLog({ limit, windowMs: ttlMs })`,
   * the model of @nestjs/throttler's own storage (hits in the last ttl); a cheaper shape such as
   * `slidingWindow` or `gcra` suits large limits on Redis.
   */
  policy?: (throttler: ThrottlerLimit) => Policy;
  /** now is the clock in milliseconds (tests). Default: the memory store's monotonic clock, or the Redis server's. */
  now?: () => number;
}

/** MAX_POLICIES bounds the cache of policies built per (name, limit, ttl); it is cleared when full. */
const MAX_POLICIES = 1024;

/** secondsUp rounds a duration in milliseconds up to whole seconds, as @nestjs/throttler reports them. */
const secondsUp = (ms: number): number => Math.ceil(ms / 1000);

/** policyName turns a throttler's name into a valid policy name (lower case RFC 9651 key). */
function policyName(name: string): string {
  const clean = name.toLowerCase().replace(/[^a-z0-9_\-.*]/g, "_");
  return /^[a-z*]/.test(clean) ? clean : `t${clean}`;
}

/**
 * FloodgateThrottlerStorage implements @nestjs/throttler's ThrottlerStorage on
 * a floodgate store, so an app keeps its ThrottlerModule, ThrottlerGuard and
 * @Throttle decorators and moves its counts to Redis (standalone or Cluster,
 * each hit one atomic script call on the server's clock).
 *
 * Each throttler's limit is a policy (a sliding log of `limit` hits per `ttl`
 * by default, as @nestjs/throttler counts). A hit over the limit blocks the key
 * for `blockDuration` (which ThrottlerGuard sets to `ttl` unless given): a GCRA
 * of one per blockDuration marks the block, and the counts start afresh after
 * it, as in @nestjs/throttler's own storage. With `blockDuration` 0 a refused
 * hit waits until the oldest hit leaves the window. A limit below 1 refuses
 * every hit. A refused hit reports `totalHits` limit + 1 (the built-in storage
 * reports the hits still in the window during a block; ThrottlerGuard reads it
 * only on admitted hits). Throttler names become policy names in lower case.
 *
 * @example
 * import { ThrottlerGuard, ThrottlerModule } from "@nestjs/throttler";
 * import { APP_GUARD } from "@nestjs/core";
 * import { Redis } from "ioredis";
 * import { RedisStore } from "floodgate/redis";
 * import { FloodgateThrottlerStorage } from "floodgate/nestjs";
 *
 * @Module({
 *   imports: [
 *     ThrottlerModule.forRoot({
 *       throttlers: [{ name: "short", ttl: 1000, limit: 3 }, { name: "long", ttl: 60_000, limit: 100 }],
 *       storage: new FloodgateThrottlerStorage({ store: new RedisStore({ client: new Redis() }) }),
 *     }),
 *   ],
 *   providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
 * })
 * export class AppModule {}
 */
export class FloodgateThrottlerStorage {
  /** limiter makes the decisions; its store holds the counts. */
  readonly limiter: RateLimiter;
  readonly #policy: (throttler: ThrottlerLimit) => Policy;
  readonly #policies = new Map<string, Policy>();

  constructor(options: FloodgateThrottlerStorageOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: new FloodgateThrottlerStorage(options) takes an object { store, policy, now }, got ${describe(options)}.`,
      );
    }
    for (const k of Object.keys(options)) {
      if (k !== "store" && k !== "policy" && k !== "now") {
        throw new FloodgateTypeError(
          "ERR_UNKNOWN_OPTION",
          `floodgate: new FloodgateThrottlerStorage() got an unknown option "${k}"; it takes store, policy and now.`,
        );
      }
    }
    if (options.policy !== undefined && typeof options.policy !== "function") {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: FloodgateThrottlerStorage({ policy }) must be a function ({ name, limit, ttlMs }) => Policy, got ${describe(options.policy)}.`,
      );
    }
    this.#policy =
      options.policy ?? ((t) => slidingLog({ name: policyName(t.name), limit: t.limit, windowMs: t.ttlMs }));
    this.limiter = new RateLimiter({
      policy: slidingLog({ name: "throttler", limit: 1, windowMs: 1000 }),
      ...(options.store !== undefined ? { store: options.store } : {}),
      ...(options.now !== undefined ? { now: options.now } : {}),
    });
  }

  /** #cached returns the policy built for `id`, building it once. */
  #cached(id: string, build: () => Policy): Policy {
    let p = this.#policies.get(id);
    if (p === undefined) {
      if (this.#policies.size >= MAX_POLICIES) this.#policies.clear();
      p = build();
      this.#policies.set(id, p);
    }
    return p;
  }

  /**
   * increment records one hit of `key` for the throttler `throttlerName`
   * (`limit` hits per `ttl` ms, a block of `blockDuration` ms after a refusal)
   * and says whether it is refused. Times in the record are whole seconds,
   * rounded up. Store failures follow the store's failure policy (a RedisStore
   * answers fail-open, fail-closed or from its insurance limiter).
   */
  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    if (!(limit >= 1))
      return { totalHits: 1, timeToExpire: secondsUp(ttl), isBlocked: true, timeToBlockExpire: secondsUp(ttl) };
    const name = String(throttlerName);
    const hits = this.#cached(`h\0${name}\0${limit}\0${ttl}`, () => this.#policy({ name, limit, ttlMs: ttl }));
    const block =
      blockDuration > 0
        ? this.#cached(`b\0${name}\0${blockDuration}`, () =>
            gcra({ name: `${policyName(name)}-block`, limit: 1, periodMs: blockDuration, burst: 1 }),
          )
        : undefined;
    if (block !== undefined) {
      // A block is a spent GCRA of one per blockDuration: nothing remains until it ends.
      const b = await this.limiter.peek(key, { policy: block });
      if (b.remaining < 1) return blocked(limit, ttl, b.resetAfterMs);
    }
    const d: Decision = await this.limiter.consume(key, { policy: hits });
    if (d.allowed) {
      return {
        totalHits: Math.max(1, d.limit - d.remaining),
        timeToExpire: secondsUp(d.resetAfterMs),
        isBlocked: false,
        timeToBlockExpire: 0,
      };
    }
    if (block === undefined) return blocked(limit, d.resetAfterMs, d.retryAfterMs);
    // Over the limit: the block starts now. @nestjs/throttler forgets the hits when the block ends; hits older
    // than the block are gone by then unless the block is shorter than the window, so only then are they reset
    // (now: the block refuses every hit until it ends anyway).
    await this.limiter.consume(key, { policy: block });
    if (blockDuration < ttl) await this.limiter.reset(key, { policy: hits });
    return blocked(limit, d.resetAfterMs, blockDuration);
  }
}

/** blocked is the record of a refused hit. */
function blocked(limit: number, expireMs: number, blockMs: number): ThrottlerStorageRecord {
  return {
    totalHits: limit + 1,
    timeToExpire: secondsUp(expireMs),
    isBlocked: true,
    timeToBlockExpire: Math.max(1, secondsUp(blockMs)),
  };
}
