// store.ts: RedisStore, the Store that keeps state in Redis and decides in one atomic Lua script call.

import { defaultTimers } from "../../core/clock.js";
import { checkVerdict, combineDecision, singleDecision } from "../../core/decision.js";
import { FloodgateError } from "../../core/errors.js";
import type { Decision, Outcome, Policy } from "../../core/policy.js";
import type { AllCall, AllDecision, BlockRule, Store, StoreEvent } from "../store.js";
import type { RedisAdapter } from "./adapter.js";
import { Batcher, type Call } from "./batcher.js";
import { DenyCache } from "./deny-cache.js";
import { Emitter, type Listener, type RedisStoreEvents } from "./events.js";
import { EvictionCheck } from "./eviction.js";
import { Failover } from "./failover.js";
import { encodeKey, hashSlot, keyClose, keyOpen, redisKey } from "./keys.js";
import { parseOptions, type RedisStoreOptions } from "./options.js";
import { decode, type Op } from "./protocol.js";
import { BLOCK } from "./scripts.generated.js";

export type { FailurePolicy, InsuranceOptions, RedisStoreOptions } from "./options.js";

/**
 * RedisStore keeps rate limit state in Redis (standalone or Cluster) and
 * decides each call with one Lua script call, the twin of the TypeScript math:
 * exact across any number of processes and hosts sharing one Redis primary.
 *
 * - Time: with no time passed in, the script reads Redis's `TIME`, so app
 *   servers with skewed clocks agree. A time passed in (an injected clock) is used as is.
 * - Keys: `${prefix}{${userKey}}:${policy.id}`. The user key is escaped into a
 *   hash tag, so all keys of one decision share a Cluster slot and no key can
 *   collide with another; keys longer than 256 characters are stored by their
 *   SHA-256. Every key has a TTL: the time until its state holds no information.
 * - Several policies are decided all-or-nothing in one call; so are several keys
 *   (consumeAll), on standalone Redis and within one Cluster slot.
 * - Calls in the same tick are batched into script calls (on a Cluster, one per
 *   master: node.lua carries the calls of several slots); a lone consume of one
 *   policy runs its algorithm's own, smaller script.
 * - Every call is bounded by `timeoutMs`. When Redis is slow or unreachable the
 *   failure policy decides, the decision carries `degraded`, a `degraded` event
 *   is emitted, and one call per `probeIntervalMs` tries Redis until it answers
 *   (`recovered`). No call ever rejects because of Redis. A refund or reset
 *   answered locally meanwhile is reported as an `error` event.
 * - A deny cache answers repeated calls of a key just denied, locally.
 * - At start it reads the server's `maxmemory-policy` and warns once (`warning`
 *   event, FG_REDIS_EVICTION, or console.warn) when it may evict limiter keys.
 *
 * It is made of parts: options.ts (validation), protocol.ts (the scripts'
 * ARGV and reply layout), batcher.ts (grouping, flights, timeouts, NOSCRIPT),
 * failover.ts (degraded state, probes, failure policies), deny-cache.ts and
 * eviction.ts; this class wires them together.
 *
 * @example
 * import { Redis } from "ioredis";
 * import { RateLimiter, tokenBucket } from "floodgate";
 * import { RedisStore } from "floodgate/redis";
 * const store = new RedisStore({ client: new Redis(), onFailure: "fail-open" });
 * store.on("degraded", (e) => console.warn("rate limiter degraded", e.reason));
 * const limiter = new RateLimiter({ policy: tokenBucket({ capacity: 10, refillRate: 2 }), store });
 */
export class RedisStore implements Store {
  readonly ownsClock = true;
  readonly adapter: RedisAdapter;
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly #events = new Emitter();
  readonly #failover: Failover;
  readonly #denyCache: DenyCache | undefined;
  readonly #batcher: Batcher;
  readonly #eviction: EvictionCheck;
  readonly #graceMs: string;

  constructor(options: RedisStoreOptions) {
    const s = parseOptions(options);
    this.adapter = s.adapter;
    this.prefix = s.prefix;
    this.timeoutMs = s.timeoutMs;
    this.#failover = new Failover(s, this.#events);
    this.#denyCache = s.denyCacheMax > 0 ? new DenyCache(s.denyCacheMax, s.now) : undefined;
    this.#batcher = new Batcher(s, { answered: this.#answered, failed: this.#failed });
    this.#eviction = new EvictionCheck(s.adapter, s.timeoutMs, (w) => this.#warn(w.code, w.message));
    this.#eviction.start();
    this.#graceMs = s.graceMs;
    this.#open = keyOpen(s.prefix);
  }

  /**
   * #blockCall runs block.lua for `key` in `scope` (its two keys share the key's hash slot),
   * within the store's timeout, loading the script on a NOSCRIPT. It rejects on failure:
   * the callers decide what a failure means (see blockedFor and refused).
   */
  async #blockCall(scope: string, key: string, nowMs: number | undefined, args: readonly string[]): Promise<number> {
    const tag = encodeKey(key);
    const keys = [redisKey(this.prefix, tag, `!block:${scope}`), redisKey(this.prefix, tag, `!refusals:${scope}`)];
    const argv = [nowMs === undefined ? "" : String(nowMs), nowMs === undefined ? "0" : this.#graceMs, ...args];
    const run = async (): Promise<unknown> => {
      try {
        return await this.adapter.evalsha(BLOCK.sha1, keys, argv);
      } catch (err) {
        if (!String((err as Error)?.message ?? err).startsWith("NOSCRIPT")) throw err;
        return this.adapter.eval(BLOCK.source, keys, argv);
      }
    };
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = defaultTimers.setTimeout(
        () =>
          reject(
            new FloodgateError("ERR_STORE", `floodgate: RedisStore block call timed out after ${this.timeoutMs} ms.`),
          ),
        this.timeoutMs,
      );
    });
    try {
      const reply = Number(await Promise.race([run(), timeout]));
      if (!(reply >= 0)) throw new FloodgateError("ERR_STORE", "floodgate: RedisStore block call: unexpected reply.");
      return reply;
    } finally {
      defaultTimers.clearTimeout(timer as ReturnType<typeof setTimeout>);
    }
  }

  /**
   * blockedFor returns the whole ms left of `key`'s block in `scope` (0: none). It rejects when Redis fails;
   * while the store is degraded it answers 0 at once (the rate limit's failure policy decides, without a
   * timeout per call).
   */
  blockedFor(scope: string, key: string, nowMs: number | undefined): Promise<number> {
    if (this.#failover.down) return Promise.resolve(0);
    return this.#blockCall(scope, key, nowMs, ["g"]);
  }

  /** block refuses `key` in `scope` for `durationMs`; the Redis key's TTL covers the block. */
  async block(scope: string, key: string, durationMs: number, nowMs: number | undefined): Promise<void> {
    await this.#blockCall(scope, key, nowMs, ["b", String(durationMs)]);
  }

  /** unblock lifts `key`'s block in `scope` and forgets its refusals. */
  async unblock(scope: string, key: string): Promise<void> {
    await this.#blockCall(scope, key, undefined, ["u"]);
  }

  /** refused counts one refusal and returns the ms of the block it set (0: none); a Redis failure counts nothing (0). */
  async refused(scope: string, key: string, rule: BlockRule, nowMs: number | undefined): Promise<number> {
    if (this.#failover.down) return 0;
    try {
      return await this.#blockCall(scope, key, nowMs, [
        "n",
        String(rule.refusals),
        String(rule.withinMs),
        String(rule.blockMs),
      ]);
    } catch {
      return 0;
    }
  }

  /** on adds a listener for an event and returns a function that removes it. */
  on<E extends keyof RedisStoreEvents>(event: E, fn: Listener<E>): () => void {
    return this.#events.on(event, fn);
  }

  /** off removes a listener added with on. */
  off<E extends keyof RedisStoreEvents>(event: E, fn: Listener<E>): void {
    this.#events.off(event, fn);
  }

  /**
   * observe adds one listener for the health events (degraded, recovered, error,
   * probe) as StoreEvents, and returns a function that removes it. RateLimiter
   * uses it for its `store` event.
   */
  observe(listener: (event: StoreEvent) => void): () => void {
    const offs = [
      this.#events.on("degraded", (e) => listener({ type: "degraded", ...e })),
      this.#events.on("recovered", (e) => listener({ type: "recovered", ...e })),
      this.#events.on("error", (e) => listener({ type: "error", ...e })),
      this.#events.on("probe", () => listener({ type: "probe" })),
    ];
    return () => {
      for (const off of offs) off();
    };
  }

  /** degraded is true while Redis is considered unreachable (between `degraded` and `recovered`). */
  get degraded(): boolean {
    return this.#failover.down;
  }

  /** keyOf returns the Redis key holding `policy`'s state for `key` (for tools and tests). */
  keyOf(key: string, policy: Policy): string {
    return redisKey(this.prefix, encodeKey(key), policy.id);
  }

  consume(
    key: string,
    policies: readonly Policy[],
    cost: number,
    nowMs: number | undefined,
  ): Promise<Decision> | Decision {
    if (cost > 0 && this.#denyCache !== undefined) {
      const hit = this.#denyCache.get(key, policies, cost, nowMs);
      if (hit !== undefined) return hit;
    }
    return this.#submit("c", key, policies, cost, nowMs) as Promise<Decision> | Decision;
  }

  peek(key: string, policies: readonly Policy[], nowMs: number | undefined): Promise<Decision> | Decision {
    return this.#submit("c", key, policies, 0, nowMs) as Promise<Decision> | Decision;
  }

  async refund(key: string, policies: readonly Policy[], cost: number, nowMs: number | undefined): Promise<void> {
    this.#denyCache?.forget(key, policies);
    await this.#submit("r", key, policies, cost, nowMs);
  }

  /** penalty takes `cost` from every policy of `key`, each down to empty at most, in one script call (decide.lua 'p'). */
  async penalty(key: string, policies: readonly Policy[], cost: number, nowMs: number | undefined): Promise<void> {
    this.#denyCache?.forget(key, policies);
    await this.#submit("p", key, policies, cost, nowMs);
  }

  async reset(key: string, policies: readonly Policy[]): Promise<void> {
    this.#denyCache?.forget(key, policies);
    await this.#submit("d", key, policies, 0, undefined);
  }

  /**
   * consumeAll decides `calls` all-or-nothing in one script call (decide.lua's op "a",
   * "v" for a dry run): atomic on standalone Redis, and on a Cluster when every key
   * lies in one slot (each user key is its own hash tag, so: items of one key, or keys
   * that happen to share a slot); it returns undefined when the keys span slots
   * (RateLimiter then takes and refunds).
   * While Redis is degraded, or when the script call fails, each item is answered by
   * the failure policy.
   */
  consumeAll(
    calls: readonly AllCall[],
    nowMs: number | undefined,
    dryRun: boolean,
  ): Promise<AllDecision> | AllDecision | undefined {
    const policies: Policy[] = [];
    const keys: string[] = [];
    const members: { cost: number; shadow: boolean; item: number }[] = [];
    const cluster = this.adapter.cluster;
    let firstTag = "";
    let slot = -1;
    for (let i = 0; i < calls.length; i++) {
      const c = calls[i] as AllCall;
      const tag = encodeKey(c.key);
      if (i === 0) firstTag = tag;
      if (cluster) {
        const s = hashSlot(tag);
        if (slot >= 0 && s !== slot) return undefined;
        slot = s;
      }
      for (const p of c.policies) {
        policies.push(p);
        keys.push(redisKey(this.prefix, tag, p.id));
        members.push({ cost: c.cost, shadow: c.shadow, item: i });
      }
    }
    if (calls.length === 0) return { allowed: true, items: [] };
    if (this.#failover.answersLocally()) return this.#allByFailurePolicy(calls, nowMs, true, dryRun);
    return new Promise<AllDecision>((resolve) => {
      this.#batcher.add(
        {
          op: "a",
          key: (calls[0] as AllCall).key,
          policies,
          cost: 0,
          nowMs,
          keys,
          members,
          dryRun,
          resolve: (d) =>
            resolve(d === undefined ? this.#allByFailurePolicy(calls, nowMs, false, dryRun) : splitAll(calls, d)),
        },
        firstTag,
      );
    });
  }

  /** #allByFailurePolicy answers an all-or-nothing call by the failure policy, item by item (nothing kept on a refusal). */
  #allByFailurePolicy(
    calls: readonly AllCall[],
    nowMs: number | undefined,
    local: boolean,
    dryRun: boolean,
  ): AllDecision {
    const f = this.#failover;
    const items = calls.map((c) =>
      checkVerdict(
        c.cost,
        c.policies,
        local
          ? (f.local("c", c.key, c.policies, c.cost, nowMs) as Decision)
          : (f.answer("c", c.key, c.policies, c.cost, nowMs) as Decision),
      ),
    );
    const allowed = !dryRun && items.every((d, i) => d.allowed || (calls[i] as AllCall).shadow);
    if (!allowed) {
      // An insurance store took the admitted costs: give them back, so a refusal takes nothing there either.
      for (let i = 0; i < calls.length; i++) {
        const c = calls[i] as AllCall;
        if ((items[i] as Decision).allowed && c.cost > 0) f.answer("r", c.key, c.policies, c.cost, nowMs);
      }
    }
    return { allowed, items };
  }

  /** #submit queues a call for the next script call, or answers it by the failure policy while Redis is down (between probes). */
  #submit(
    op: Op,
    key: string,
    policies: readonly Policy[],
    cost: number,
    nowMs: number | undefined,
  ): Promise<Decision | undefined> | Decision | undefined {
    if (this.#failover.answersLocally()) return this.#failover.local(op, key, policies, cost, nowMs);
    const tag = encodeKey(key);
    // Perf: a call of one policy gives its key as a string (no array), more get an array of the exact
    // length, and the promise is made with a shared executor (capture) instead of a closure per call.
    // The key names are `${open}${tag}${close}`: two concatenations, with "fg:{" and "}:policyId" made once.
    const open = this.#open;
    const close = policies === this.#lastPolicies ? this.#lastCloses : this.#closesOf(policies);
    const n = close.length;
    let keys: string | string[];
    if (n === 1) keys = open + tag + (close[0] as string);
    else {
      keys = new Array<string>(n);
      for (let i = 0; i < n; i++) keys[i] = open + tag + (close[i] as string);
    }
    const promise = new Promise<Decision | undefined>(capture);
    this.#batcher.add({ op, key, policies, cost, nowMs, keys, resolve: captured }, tag);
    return promise;
  }

  /** #open starts every key name: the prefix and the hash tag's "{". */
  readonly #open: string;
  /** #closes holds, per policy array, each policy's key name end: `}:${policy.id}` (see keyOf). */
  readonly #closes = new WeakMap<readonly Policy[], readonly string[]>();
  /** #lastPolicies and #lastCloses are the last #closes lookup (RateLimiter passes one frozen array per call shape). */
  #lastPolicies: readonly Policy[] | undefined;
  #lastCloses: readonly string[] = [];

  /** #closesOf returns the key name ends of `policies` (see #closes), and remembers them as the last lookup. */
  #closesOf(policies: readonly Policy[]): readonly string[] {
    let c = this.#closes.get(policies);
    if (c === undefined) {
      c = policies.map((p) => keyClose(p.id));
      this.#closes.set(policies, c);
    }
    this.#lastPolicies = policies;
    this.#lastCloses = c;
    return c;
  }

  /** #answered decodes a script reply into each call's answer, remembers denials, and records that Redis answered. */
  readonly #answered = (calls: readonly Call[], reply: unknown, sentAtMs: number): void => {
    let answers: (Decision | undefined)[];
    try {
      answers = decode(calls, reply);
    } catch (err) {
      // A reply that cannot be read fails its calls (failure policy), never the host.
      this.#failover.fail(calls, "reply", err);
      return;
    }
    this.#failover.succeeded();
    this.#eviction.redisAnswered();
    const cache = this.#denyCache;
    for (let i = 0; i < calls.length; i++) {
      const c = calls[i] as Call;
      const d = answers[i];
      if (d !== undefined && !d.allowed && c.cost > 0 && d.retryAfterMs > 0 && cache !== undefined) {
        cache.remember(c.key, c.policies, c.cost, d, sentAtMs);
      }
      c.resolve(d);
    }
  };

  readonly #failed = (calls: readonly Call[], reason: "timeout" | "unavailable" | "reply", error: unknown): void => {
    this.#failover.fail(calls, reason, error);
  };

  /** #warn emits a `warning` event, or writes to console.warn when nobody listens; it never throws. */
  #warn(code: string, message: string): void {
    if (this.#events.has("warning")) {
      this.#events.emit("warning", { code, message });
      return;
    }
    try {
      console.warn(`${message} [${code}]`);
    } catch {
      // A warning must never break anything.
    }
  }
}

/** captured is the resolve function of the promise capture was last the executor of (see #submit). */
let captured: (d: Decision | undefined) => void = () => {};

/**
 * capture is the executor of every call's promise: the Promise constructor calls it at once,
 * and #submit reads `captured` right after. One function for all calls, where an arrow per
 * call costs a closure and its context (about 160 bytes) each time.
 */
function capture(resolve: (d: Decision | undefined) => void): void {
  captured = resolve;
}

/** splitAll turns the Decision of an all-or-nothing script call (one entry per member) into each item's Decision. */
function splitAll(calls: readonly AllCall[], d: Decision): AllDecision {
  const items: Decision[] = [];
  let m = 0;
  for (const c of calls) {
    const outs = d.policies.slice(m, m + c.policies.length) as Outcome[];
    m += c.policies.length;
    items.push(
      c.policies.length === 1
        ? singleDecision(c.policies[0] as Policy, outs[0] as Outcome)
        : combineDecision(
            c.policies,
            outs,
            outs.every((o) => o.allowed),
          ),
    );
  }
  return { allowed: d.allowed, items };
}
