// eviction.ts: the start-up check that Redis will not evict limiter keys (maxmemory-policy allkeys-*), warned about once.

import type { RedisAdapter, ServerInfo } from "./adapter.js";
import { classify } from "./failover.js";

/** EVICTION_CODE is the stable code of the warning about an evicting maxmemory-policy. */
export const EVICTION_CODE = "FG_REDIS_EVICTION";

/** INFO_SCRIPT reads INFO memory inside Redis: for adapters without info(), or clients that cannot send INFO. */
export const INFO_SCRIPT = "return redis.call('INFO', 'memory')";

/** MAX_ATTEMPTS bounds the check: once at start, then again after Redis answers if it could not be reached. */
const MAX_ATTEMPTS = 3;

/** Warning is a doubtful setup found by the check. */
export interface EvictionWarning {
  readonly code: string;
  readonly message: string;
}

/**
 * maxmemoryPolicy reads `maxmemory_policy` from an INFO memory text, or
 * returns undefined when the field is absent (a server or proxy that does not report it).
 */
export function maxmemoryPolicy(text: string): string | undefined {
  return /^maxmemory_policy:([^\r\n]+)/m.exec(text)?.[1]?.trim();
}

/**
 * evictionWarning returns the warning for servers whose maxmemory-policy is an
 * `allkeys-*` policy (they may evict any key, limiter keys included), or
 * undefined when none is. Other policies are not warned about: `noeviction`
 * keeps every key, and a `volatile-*` policy is a deliberate choice (it evicts
 * only keys with a TTL; floodgate's keys all have one, see docs/redis.md).
 */
export function evictionWarning(servers: readonly ServerInfo[]): EvictionWarning | undefined {
  const evicting: string[] = [];
  const policies = new Set<string>();
  for (const s of servers) {
    const policy = maxmemoryPolicy(s.text);
    if (policy?.startsWith("allkeys-")) {
      policies.add(policy);
      evicting.push(s.node ?? "the server");
    }
  }
  if (evicting.length === 0) return undefined;
  const where =
    servers.length > 1 ? ` on ${evicting.join(", ")}` : evicting[0] === "the server" ? "" : ` on ${evicting[0]}`;
  return {
    code: EVICTION_CODE,
    message: `floodgate: Redis maxmemory-policy is ${[...policies].join(", ")}${where}: under memory pressure Redis evicts any key, rate limit state included, and an evicted key starts full again (a denied client is admitted). Set maxmemory-policy to noeviction on the Redis that holds rate limits (or volatile-ttl, which evicts the keys nearest expiry, holding the least information, first).`,
  };
}

/**
 * EvictionCheck reads the server's maxmemory-policy once when the store
 * starts, in the background, and reports an evicting policy once through
 * `report`. It never delays or fails a decision: it waits for nothing the
 * store does, swallows every error, and gives up silently when neither INFO
 * (through the adapter's info(), on every Cluster master it knows) nor a
 * one-line script reading INFO works, as on managed Redis that disables them.
 * When Redis could not be reached at all, it tries again after the store's
 * next script reply (redisAnswered), at most MAX_ATTEMPTS times.
 */
export class EvictionCheck {
  readonly #adapter: RedisAdapter;
  readonly #waitMs: number;
  readonly #report: (w: EvictionWarning) => void;
  #attempts = 0;
  /** #armed is true when the last attempt could not reach Redis and another is due after the next reply. */
  #armed = false;

  constructor(adapter: RedisAdapter, timeoutMs: number, report: (w: EvictionWarning) => void) {
    this.#adapter = adapter;
    this.#waitMs = Math.max(timeoutMs, 2000);
    this.#report = report;
  }

  /** start runs the first attempt in the background. */
  start(): void {
    void this.#attempt();
  }

  /** redisAnswered is called on every script reply: it runs a pending retry. */
  redisAnswered(): void {
    if (this.#armed) {
      this.#armed = false;
      void this.#attempt();
    }
  }

  async #attempt(): Promise<void> {
    this.#attempts++;
    let servers: readonly ServerInfo[] | undefined;
    let unreachable = false;
    const read = async (f: () => Promise<readonly ServerInfo[]>): Promise<void> => {
      try {
        servers = await this.#bounded(f);
        unreachable = false;
      } catch (err) {
        unreachable = classify(err) !== "reply";
      }
    };
    const info = this.#adapter.info;
    if (typeof info === "function") await read(() => info.call(this.#adapter, "memory"));
    // INFO refused (renamed, ACL, a proxy) or no info(): the same through a script, from one server.
    if (servers === undefined)
      await read(async () => [{ text: String(await this.#adapter.eval(INFO_SCRIPT, [], [])) }]);
    if (servers !== undefined) {
      const warning = evictionWarning(servers);
      try {
        if (warning !== undefined) this.#report(warning);
      } catch {
        // A warning must never break anything.
      }
      return;
    }
    if (unreachable && this.#attempts < MAX_ATTEMPTS) this.#armed = true;
  }

  /** #bounded runs f, rejecting after #waitMs (a timer that keeps no process alive). */
  #bounded<T>(f: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("floodgate: INFO timed out")), this.#waitMs);
      (timer as { unref?: () => void }).unref?.();
      let p: Promise<T>;
      try {
        p = f();
      } catch (err) {
        clearTimeout(timer);
        reject(err);
        return;
      }
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }
}
