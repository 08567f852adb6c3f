// events.ts: a tiny typed listener registry for RedisStore (no node:events, works on any runtime).

/** RedisStoreEvents names each event RedisStore emits and its payload. */
export interface RedisStoreEvents {
  /** degraded: Redis stopped answering (timeout or connection error); the failure policy decides now. */
  degraded: { reason: "timeout" | "unavailable"; error: unknown; failure: "fail-open" | "fail-closed" | "insurance" };
  /** recovered: Redis answers again after being degraded for `downMs`. */
  recovered: { downMs: number };
  /**
   * error: a store call failed (a timeout, a connection error, a Redis error
   * reply such as WRONGTYPE), or a refund or reset was not applied to Redis:
   * while degraded, calls between probes are answered locally, and a refund or
   * reset there is reported with a FloodgateError of code ERR_STORE saying so
   * (applied to the insurance store, if any). `key` is the call's key.
   */
  error: { error: unknown; op: "consume" | "peek" | "refund" | "reset" | "penalty"; key: string };
  /** probe: while degraded, one call is sent to Redis (one per probeIntervalMs) to see whether it is back. */
  probe: Record<string, never>;
  /**
   * warning: a doubtful setup, reported once per store with a stable code. Without a
   * listener it goes to console.warn. FG_REDIS_EVICTION: the server's
   * maxmemory-policy is allkeys-*, so it may evict limiter keys (see docs/redis.md).
   */
  warning: { code: string; message: string };
}

/** Listener is a function called with an event's payload. */
export type Listener<E extends keyof RedisStoreEvents> = (info: RedisStoreEvents[E]) => void;

/**
 * Emitter keeps listeners per event. emit calls each listener synchronously; a
 * listener that throws is ignored (it must never break a decision).
 */
export class Emitter {
  readonly #listeners = new Map<keyof RedisStoreEvents, Set<(info: never) => void>>();

  on<E extends keyof RedisStoreEvents>(event: E, fn: Listener<E>): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(fn as (info: never) => void);
    return () => this.off(event, fn);
  }

  off<E extends keyof RedisStoreEvents>(event: E, fn: Listener<E>): void {
    this.#listeners.get(event)?.delete(fn as (info: never) => void);
  }

  has(event: keyof RedisStoreEvents): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0;
  }

  emit<E extends keyof RedisStoreEvents>(event: E, info: RedisStoreEvents[E]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const fn of set) {
      try {
        (fn as Listener<E>)(info);
      } catch {
        // A throwing listener must not break a decision.
      }
    }
  }
}
