// store.ts: RedisStore, the Store that keeps state in Redis and decides in one atomic Lua script call.

import { combineDecision, singleDecision } from "../../core/decision.js";
import { describe, FloodgateRangeError, FloodgateTypeError } from "../../core/errors.js";
import { ceilMs, type Decision, type Degraded, newOutcome, type Outcome, type Policy } from "../../core/policy.js";
import { checkOptions } from "../../core/validate.js";
import { MemoryStore } from "../memory.js";
import type { Store } from "../store.js";
import { type RedisAdapter, toAdapter } from "./adapter.js";
import { Emitter, type Listener, type RedisStoreEvents } from "./events.js";
import { scalePolicy } from "./insurance.js";
import { encodeKey, hashSlot, redisKey } from "./keys.js";
import { DECIDE, LONE as LONE_SCRIPTS, type LuaScript } from "./scripts.generated.js";

/** InsuranceOptions configures the in-memory limiter that decides while Redis is unreachable. */
export interface InsuranceOptions {
  /** insurance is the local store to use, or true for a new MemoryStore. */
  insurance: MemoryStore | true;
  /**
   * scale multiplies every policy's limit and rate while insured, 0 < scale <= 1.
   * With N processes, 1/N keeps the fleet near the shared limit. Default 1.
   */
  scale?: number;
}

/** FailurePolicy says what a decision is when Redis cannot answer in time. */
export type FailurePolicy = "fail-open" | "fail-closed" | InsuranceOptions;

/** RedisStoreOptions configures a RedisStore. */
export interface RedisStoreOptions {
  /** client is an ioredis `Redis` or `Cluster`, or a node-redis client or cluster (v4+). */
  client?: unknown;
  /** adapter replaces `client` for any other Redis client (see RedisAdapter). */
  adapter?: RedisAdapter;
  /** prefix starts every key floodgate writes. Default "fg:". It may not contain "{" or "}". */
  prefix?: string;
  /** timeoutMs bounds every store call; a later reply is ignored. Default 500. */
  timeoutMs?: number;
  /**
   * onFailure decides when Redis times out or is unreachable: "fail-open" (allow),
   * "fail-closed" (deny) or `{ insurance }` (a local MemoryStore decides). Every
   * such decision carries `degraded`. Default "fail-open".
   */
  onFailure?: FailurePolicy;
  /** failClosedRetryAfterMs is the retryAfterMs of a fail-closed denial. Default 1000. */
  failClosedRetryAfterMs?: number;
  /**
   * probeIntervalMs: once Redis failed, calls are answered by the failure policy
   * at once, and one call every probeIntervalMs tries Redis; when it answers,
   * the store recovers. Default 1000.
   */
  probeIntervalMs?: number;
  /**
   * denyCache: a key denied for X ms is denied locally for X ms (for the same or a
   * larger cost) without asking Redis. true (default), false, or `{ maxKeys }`
   * (default 10,000 cached denials).
   */
  denyCache?: boolean | { maxKeys?: number };
  /**
   * batch: decisions arriving in the same tick travel together (per Cluster
   * slot), up to `maxSize` (default 100) per script call; while fewer than 4
   * script calls are in flight, a batch of 32 or more is split to fill them, so
   * Node and Redis work at once. true (default) or false.
   */
  batch?: boolean | { maxSize?: number };
  /**
   * clockGraceMs is added to every key's TTL when the time is passed in (an
   * injected clock): Redis expires keys by its own clock, so an injected clock
   * slower than Redis's must not see state vanish early. Default 1000. With the
   * server clock (the default) TTLs are exact.
   */
  clockGraceMs?: number;
  /** now is the local monotonic clock in ms for the deny cache, probes and insurance. Default performance.now(). */
  now?: () => number;
}

/** Call is one decision waiting for its script call. */
interface Call {
  op: "c" | "r" | "d";
  key: string;
  policies: readonly Policy[];
  cost: number;
  nowMs: number | undefined;
  keys: string[];
  resolve(d: Decision | undefined): void;
}

/** Group is the calls that share one script call (one slot, one time argument), in call order. */
interface Group {
  nowMs: number | undefined;
  calls: Call[];
}

/** Flight is one script call in flight: answered exactly once, by its reply, its error or its timeout. */
interface Flight {
  /** script is DECIDE, or the kind's lone script (LONE) for a lone consume of one policy. */
  script: LuaScript;
  calls: Call[];
  keys: string[];
  args: string[];
  sentAtMs: number;
  done: boolean;
  retried: boolean;
  timer: unknown;
}

/** CachedDenial is a denial the deny cache repeats without asking Redis. */
interface CachedDenial {
  untilMs: number;
  sentAtMs: number;
  cost: number;
  outs: Outcome[];
}

/** SpecArgs are a policy's ARGV entries: kind code and three params. */
type SpecArgs = readonly [string, string, string, string];

/** LoneSpec is a policy's lone-call script and its three params as ARGV strings. */
interface LoneSpec {
  script: LuaScript;
  p1: string;
  p2: string;
  p3: string;
}

/** SPLIT_FLIGHTS is how many script calls a large same-tick batch is split into (see #flush). */
const SPLIT_FLIGHTS = 4;
/** SPLIT_MIN_SIZE is the fewest decisions a split-off script call carries. */
const SPLIT_MIN_SIZE = 16;
const OP_NAME = { c: "consume", r: "refund", d: "reset" } as const;
const UNAVAILABLE = /^(CLUSTERDOWN|LOADING|READONLY|MASTERDOWN|TRYAGAIN|BUSY|NOREPLICAS)\b/;
const REPLY_ERRORS = new Set(["ReplyError", "ErrorReply", "SimpleError", "BlobError"]);
const REPLY_CODE = /^[A-Z][A-Z_]+ /;
const defaultNow = (): number => performance.now();
const specs = new WeakMap<Policy, SpecArgs>();
const loneSpecs = new WeakMap<Policy, LoneSpec>();

/** loneSpecOf returns a policy's lone-call script and params (the policy is one specOf accepts). */
function loneSpecOf(policy: Policy): LoneSpec {
  let l = loneSpecs.get(policy);
  if (l === undefined) {
    const s = specOf(policy);
    l = { script: LONE_SCRIPTS[s[0]] as LuaScript, p1: s[1], p2: s[2], p3: s[3] };
    loneSpecs.set(policy, l);
  }
  return l;
}

/** specOf returns the ARGV entries of a policy: its algorithm's code and its params ('0' for unused ones). */
function specOf(policy: Policy): SpecArgs {
  let s = specs.get(policy);
  if (s !== undefined) return s;
  const p = policy.params;
  s = [policy.algorithm.code, String(p[0] ?? 0), String(p[1] ?? 0), String(p[2] ?? 0)] as const;
  specs.set(policy, s);
  return s;
}

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
 * - Several policies are decided all-or-nothing in one call.
 * - Calls in the same tick are batched into script calls (per Cluster slot); a
 *   lone consume of one policy runs its algorithm's own, smaller script.
 * - Every call is bounded by `timeoutMs`. When Redis is slow or unreachable the
 *   failure policy decides, the decision carries `degraded`, a `degraded` event
 *   is emitted, and one call per `probeIntervalMs` tries Redis until it answers
 *   (`recovered`). No call ever rejects because of Redis.
 * - A deny cache answers repeated calls of a key just denied, locally.
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
  readonly #failure: "fail-open" | "fail-closed" | "insurance";
  readonly #insurance: MemoryStore | undefined;
  readonly #scale: number;
  readonly #scaled = new WeakMap<Policy, Policy>();
  readonly #failClosedRetryAfterMs: number;
  readonly #probeIntervalMs: number;
  readonly #denyCache: Map<string, CachedDenial> | undefined;
  readonly #denyCacheMax: number;
  readonly #batch: boolean;
  readonly #maxBatch: number;
  readonly #graceMs: string;
  readonly #now: () => number;
  readonly #events = new Emitter();
  readonly #cacheKeys = new WeakMap<readonly Policy[], string>();
  #queue: Group[] = [];
  readonly #open = new Map<number, Group>();
  #scheduled = false;
  /** #inFlight counts script calls sent and not yet answered (by reply, error or timeout). */
  #inFlight = 0;
  #down = false;
  #downSinceMs = 0;
  #nextProbeMs = 0;

  constructor(options: RedisStoreOptions) {
    const fn = "RedisStore";
    const o = checkOptions(fn, options, [
      "client",
      "adapter",
      "prefix",
      "timeoutMs",
      "onFailure",
      "failClosedRetryAfterMs",
      "probeIntervalMs",
      "denyCache",
      "batch",
      "clockGraceMs",
      "now",
    ]);
    if (o.adapter !== undefined) {
      const a = o.adapter as RedisAdapter;
      if (typeof a !== "object" || a === null || typeof a.evalsha !== "function" || typeof a.eval !== "function") {
        throw new FloodgateTypeError(
          "ERR_INVALID_OPTION",
          `floodgate: RedisStore({ adapter }) must implement RedisAdapter (cluster, evalsha, eval), got ${describe(a)}.`,
        );
      }
      this.adapter = a;
    } else {
      this.adapter = toAdapter(o.client);
    }
    const prefix = o.prefix ?? "fg:";
    if (typeof prefix !== "string" || /[{}]/.test(prefix)) {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: RedisStore({ prefix }) must be a string without "{" or "}", got ${describe(prefix)}; pass such as "rl:".`,
      );
    }
    this.prefix = prefix;
    this.timeoutMs = positiveMs(fn, "timeoutMs", o.timeoutMs, 500, "such as 500");
    this.#failClosedRetryAfterMs = positiveMs(
      fn,
      "failClosedRetryAfterMs",
      o.failClosedRetryAfterMs,
      1000,
      "such as 1000",
    );
    this.#probeIntervalMs = positiveMs(fn, "probeIntervalMs", o.probeIntervalMs, 1000, "such as 1000");
    const grace = o.clockGraceMs ?? 1000;
    if (typeof grace !== "number" || !Number.isInteger(grace) || grace < 0) {
      throw new FloodgateRangeError(
        "ERR_INVALID_OPTION",
        `floodgate: RedisStore({ clockGraceMs }) must be a whole number of ms >= 0, got ${describe(grace)}; such as 1000.`,
      );
    }
    this.#graceMs = String(grace);
    const failure = o.onFailure ?? "fail-open";
    if (failure === "fail-open" || failure === "fail-closed") {
      this.#failure = failure;
      this.#scale = 1;
    } else if (typeof failure === "object" && failure !== null && "insurance" in failure) {
      const f = failure as InsuranceOptions;
      checkOptions("RedisStore({ onFailure })", f, ["insurance", "scale"]);
      // Duck-typed, not instanceof: "floodgate" and "floodgate/redis" may be separate bundles (CJS),
      // each with its own MemoryStore class.
      const ins = f.insurance as Partial<MemoryStore> | true;
      if (
        ins !== true &&
        (typeof ins !== "object" ||
          ins === null ||
          typeof ins.consumeSync !== "function" ||
          typeof ins.refund !== "function" ||
          typeof ins.reset !== "function")
      ) {
        throw new FloodgateTypeError(
          "ERR_INVALID_OPTION",
          `floodgate: RedisStore({ onFailure: { insurance } }) must be a MemoryStore or true, got ${describe(f.insurance)}.`,
        );
      }
      const scale = f.scale ?? 1;
      if (typeof scale !== "number" || !(scale > 0 && scale <= 1)) {
        throw new FloodgateRangeError(
          "ERR_INVALID_OPTION",
          `floodgate: RedisStore({ onFailure: { scale } }) must be a number in (0, 1], got ${describe(scale)}; pass 1 / number of processes, such as 0.25.`,
        );
      }
      this.#failure = "insurance";
      this.#insurance = f.insurance === true ? new MemoryStore() : f.insurance;
      this.#scale = scale;
    } else {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: RedisStore({ onFailure }) must be "fail-open", "fail-closed" or { insurance: true }, got ${describe(failure)}.`,
      );
    }
    const dc = o.denyCache ?? true;
    if (dc === false) {
      this.#denyCacheMax = 0;
    } else if (dc === true) {
      this.#denyCacheMax = 10_000;
    } else if (typeof dc === "object" && dc !== null) {
      checkOptions("RedisStore({ denyCache })", dc, ["maxKeys"]);
      const max = (dc as { maxKeys?: unknown }).maxKeys ?? 10_000;
      if (typeof max !== "number" || !Number.isInteger(max) || max < 1) {
        throw new FloodgateRangeError(
          "ERR_INVALID_OPTION",
          `floodgate: RedisStore({ denyCache: { maxKeys } }) must be a whole number >= 1, got ${describe(max)}; such as 10000.`,
        );
      }
      this.#denyCacheMax = max;
    } else {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: RedisStore({ denyCache }) must be true, false or { maxKeys }, got ${describe(dc)}.`,
      );
    }
    this.#denyCache = this.#denyCacheMax > 0 ? new Map() : undefined;
    const b = o.batch ?? true;
    if (b === true || b === false) {
      this.#batch = b;
      this.#maxBatch = 100;
    } else if (typeof b === "object" && b !== null) {
      checkOptions("RedisStore({ batch })", b, ["maxSize"]);
      const max = (b as { maxSize?: unknown }).maxSize ?? 100;
      if (typeof max !== "number" || !Number.isInteger(max) || max < 1 || max > 10_000) {
        throw new FloodgateRangeError(
          "ERR_INVALID_OPTION",
          `floodgate: RedisStore({ batch: { maxSize } }) must be a whole number from 1 to 10000, got ${describe(max)}; such as 100.`,
        );
      }
      this.#batch = true;
      this.#maxBatch = max;
    } else {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: RedisStore({ batch }) must be true, false or { maxSize }, got ${describe(b)}.`,
      );
    }
    if (o.now !== undefined && typeof o.now !== "function") {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: RedisStore({ now }) must be a function returning milliseconds, got ${describe(o.now)}.`,
      );
    }
    this.#now = (o.now as (() => number) | undefined) ?? defaultNow;
  }

  /** on adds a listener for an event and returns a function that removes it. */
  on<E extends keyof RedisStoreEvents>(event: E, fn: Listener<E>): () => void {
    return this.#events.on(event, fn);
  }

  /** off removes a listener added with on. */
  off<E extends keyof RedisStoreEvents>(event: E, fn: Listener<E>): void {
    this.#events.off(event, fn);
  }

  /** degraded is true while Redis is considered unreachable (between `degraded` and `recovered`). */
  get degraded(): boolean {
    return this.#down;
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
      const hit = this.#cachedDenial(key, policies, cost, nowMs);
      if (hit !== undefined) return hit;
    }
    return this.#submit("c", key, policies, cost, nowMs) as Promise<Decision> | Decision;
  }

  peek(key: string, policies: readonly Policy[], nowMs: number | undefined): Promise<Decision> | Decision {
    return this.#submit("c", key, policies, 0, nowMs) as Promise<Decision> | Decision;
  }

  async refund(key: string, policies: readonly Policy[], cost: number, nowMs: number | undefined): Promise<void> {
    this.#denyCache?.delete(this.#cacheKey(key, policies));
    await this.#submit("r", key, policies, cost, nowMs);
  }

  async reset(key: string, policies: readonly Policy[]): Promise<void> {
    this.#denyCache?.delete(this.#cacheKey(key, policies));
    await this.#submit("d", key, policies, 0, undefined);
  }

  /** #submit queues a call for the next script call, or answers it by the failure policy while Redis is down. */
  #submit(
    op: Call["op"],
    key: string,
    policies: readonly Policy[],
    cost: number,
    nowMs: number | undefined,
  ): Promise<Decision | undefined> | Decision | undefined {
    if (this.#down) {
      const t = this.#now();
      if (t < this.#nextProbeMs) return this.#fallback(op, key, policies, cost, nowMs);
      this.#nextProbeMs = t + this.#probeIntervalMs;
    }
    const tag = encodeKey(key);
    const keys: string[] = [];
    for (const p of policies) {
      specOf(p);
      keys.push(redisKey(this.prefix, tag, p.id));
    }
    return new Promise<Decision | undefined>((resolve) => {
      const call: Call = { op, key, policies, cost, nowMs, keys, resolve };
      if (!this.#batch) {
        this.#send(nowMs, [call]);
        return;
      }
      // Calls on one slot keep their order: a call joins its slot's open group when
      // the time argument matches (a reset needs none), else it opens the next group.
      // Groups are sent in the order they were opened, over one connection per node.
      const slot = this.adapter.cluster ? hashSlot(tag) : 0;
      let g = this.#open.get(slot);
      if (g === undefined || (g.nowMs !== nowMs && op !== "d") || g.calls.length >= this.#maxBatch) {
        g = { nowMs, calls: [] };
        this.#open.set(slot, g);
        this.#queue.push(g);
      }
      g.calls.push(call);
      if (!this.#scheduled) {
        this.#scheduled = true;
        queueMicrotask(this.#flush);
      }
    });
  }

  /**
   * #flush sends every queued group, in order. While fewer than SPLIT_FLIGHTS
   * script calls are in flight, a large group is split to fill them, each part at
   * least SPLIT_MIN_SIZE decisions: Redis runs the first part while this process
   * still answers the last one's callers, so Node and Redis work at the same time
   * instead of taking turns. With enough calls in flight Redis is busy anyway, and
   * one larger call costs it less per decision. Calls on one key stay in order
   * (one connection per node; Redis runs script calls in order).
   */
  readonly #flush = (): void => {
    this.#scheduled = false;
    const queue = this.#queue;
    if (queue.length === 0) return;
    this.#queue = [];
    this.#open.clear();
    for (const g of queue) {
      const n = g.calls.length;
      const parts = Math.min(SPLIT_FLIGHTS - this.#inFlight, Math.floor(n / SPLIT_MIN_SIZE));
      if (parts < 2) {
        this.#send(g.nowMs, g.calls);
        continue;
      }
      const size = Math.ceil(n / parts);
      for (let i = 0; i < n; i += size) this.#send(g.nowMs, g.calls.slice(i, i + size));
    }
  };

  /** #send runs one script call for `calls`, bounded by the timeout; each call is answered exactly once. */
  #send(nowMs: number | undefined, calls: Call[]): void {
    const head = [nowMs === undefined ? "" : String(nowMs), nowMs === undefined ? "0" : this.#graceMs];
    let keys: string[];
    let args: string[];
    let script = DECIDE;
    const lone = calls.length === 1 ? (calls[0] as Call) : undefined;
    if (lone !== undefined && lone.op === "c" && lone.policies.length === 1) {
      // A lone consume of one policy: the kind's dedicated script (lone.lua).
      keys = lone.keys;
      const l = loneSpecOf(lone.policies[0] as Policy);
      script = l.script;
      args = [head[0] as string, head[1] as string, l.p1, l.p2, l.p3, String(lone.cost)];
    } else if (lone !== undefined) {
      // A lone call: its policies' ARGV section is built once and cached.
      keys = lone.keys;
      args = [...head, ...loneArgs(lone.op, lone.policies), String(lone.cost)];
    } else {
      [keys, args] = batchArgs(head, calls);
    }
    const f: Flight = {
      script,
      calls,
      keys,
      args,
      sentAtMs: nowMs ?? this.#now(),
      done: false,
      retried: false,
      timer: 0,
    };
    this.#inFlight++;
    f.timer = setTimeout(() => {
      if (f.done) return;
      f.done = true;
      this.#inFlight--;
      this.#fail(calls, "timeout", new Error(`floodgate: Redis did not answer within ${this.timeoutMs} ms`));
    }, this.timeoutMs);
    (f.timer as { unref?: () => void }).unref?.();
    this.#run(f, false);
  }

  /** #run sends a flight's script call (by SHA1, or by source after NOSCRIPT); it never throws or rejects. */
  #run(f: Flight, bySource: boolean): void {
    try {
      const reply = bySource
        ? this.adapter.eval(f.script.source, f.keys, f.args)
        : this.adapter.evalsha(f.script.sha1, f.keys, f.args);
      reply.then(
        (r) => this.#onReply(f, r),
        (e) => this.#onError(f, e),
      );
    } catch (err) {
      this.#onError(f, err);
    }
  }

  #onReply(f: Flight, reply: unknown): void {
    if (f.done) return;
    f.done = true;
    this.#inFlight--;
    clearTimeout(f.timer as ReturnType<typeof setTimeout>);
    try {
      this.#answer(f.calls, reply, f.sentAtMs);
    } catch (err) {
      // A reply that cannot be read must not become an unhandled rejection; calls
      // already answered stay answered (a promise settles once).
      this.#fail(f.calls, "reply", err);
    }
  }

  #onError(f: Flight, err: unknown): void {
    if (f.done) return;
    const message = err instanceof Error ? err.message : String(err);
    if (!f.retried && message.startsWith("NOSCRIPT")) {
      // The server lost its script cache (restart, failover, SCRIPT FLUSH): EVAL loads it and runs once more.
      f.retried = true;
      this.#run(f, true);
      return;
    }
    f.done = true;
    this.#inFlight--;
    clearTimeout(f.timer as ReturnType<typeof setTimeout>);
    // A Redis error reply (WRONGTYPE, ERR ...) fails this call only; anything else means Redis is unreachable.
    const isReply =
      err instanceof Error &&
      (REPLY_ERRORS.has(err.name) || REPLY_ERRORS.has(err.constructor.name) || REPLY_CODE.test(message)) &&
      !UNAVAILABLE.test(message);
    this.#fail(f.calls, isReply ? "reply" : "unavailable", err);
  }

  /**
   * #answer turns a script reply into each call's Decision: per consume of one
   * policy its four numbers (lone.lua and decide.lua alike); per consume of
   * several, the decision's allowed and four numbers per policy; per refund or reset, 1.
   */
  #answer(calls: Call[], reply: unknown, sentAtMs: number): void {
    let expected = 0;
    for (const c of calls) {
      const n = c.policies.length;
      expected += c.op !== "c" ? 1 : n === 1 ? 4 : 1 + 4 * n;
    }
    if (!Array.isArray(reply) || reply.length !== expected) {
      this.#fail(calls, "reply", new Error(`floodgate: unexpected script reply ${describe(reply)}`));
      return;
    }
    if (this.#down) {
      this.#down = false;
      this.#events.emit("recovered", { downMs: Math.max(0, this.#now() - this.#downSinceMs) });
    }
    let i = 0;
    for (const c of calls) {
      if (c.op !== "c") {
        i++;
        c.resolve(undefined);
        continue;
      }
      const n = c.policies.length;
      const allowed = reply[i] === 1;
      if (n > 1) i++;
      const outs: Outcome[] = [];
      for (let j = 0; j < n; j++) {
        outs.push({
          allowed: reply[i] === 1,
          remaining: Number(reply[i + 1]),
          retryAfterMs: Number(reply[i + 2]),
          resetAfterMs: Number(reply[i + 3]),
        });
        i += 4;
      }
      const d =
        n === 1
          ? singleDecision(c.policies[0] as Policy, outs[0] as Outcome)
          : combineDecision(c.policies, outs, allowed);
      if (!allowed && c.cost > 0 && d.retryAfterMs > 0 && this.#denyCache !== undefined) {
        this.#remember(c, d, outs, sentAtMs);
      }
      c.resolve(d);
    }
  }

  /** #fail answers every call by the failure policy and emits events. */
  #fail(calls: Call[], reason: "timeout" | "unavailable" | "reply", error: unknown): void {
    if (reason !== "reply" && !this.#down) {
      this.#down = true;
      this.#downSinceMs = this.#now();
      this.#nextProbeMs = this.#downSinceMs + this.#probeIntervalMs;
      this.#events.emit("degraded", { reason, error, failure: this.#failure });
    } else if (reason !== "reply") {
      this.#nextProbeMs = this.#now() + this.#probeIntervalMs;
    }
    for (const c of calls) {
      this.#events.emit("error", { error, op: c.op === "c" ? (c.cost === 0 ? "peek" : "consume") : OP_NAME[c.op] });
      c.resolve(this.#fallback(c.op, c.key, c.policies, c.cost, c.nowMs));
    }
  }

  /** #fallback is the failure policy's answer to one call. */
  #fallback(
    op: Call["op"],
    key: string,
    policies: readonly Policy[],
    cost: number,
    nowMs: number | undefined,
  ): Decision | undefined {
    const ins = this.#insurance;
    if (ins !== undefined) {
      const local = policies.map((p) => this.#scaledPolicy(p));
      const t = nowMs ?? this.#now();
      if (op === "r") {
        ins.refund(key, local, cost, t);
        return undefined;
      }
      if (op === "d") {
        ins.reset(key, local);
        return undefined;
      }
      const d = ins.consume(key, local, cost, t);
      if (policies.length === 1) return singleDecision(policies[0] as Policy, d, "insurance");
      return combineDecision(policies, d.policies, d.allowed, "insurance");
    }
    if (op !== "c") return undefined;
    const open = this.#failure === "fail-open";
    const outs: Outcome[] = policies.map((p) => {
      const out = newOutcome();
      out.allowed = open || cost === 0;
      out.remaining = open ? p.limit - cost : 0;
      out.retryAfterMs = out.allowed ? 0 : this.#failClosedRetryAfterMs;
      out.resetAfterMs = open ? 0 : this.#failClosedRetryAfterMs;
      return out;
    });
    const degraded: Degraded = this.#failure === "fail-open" ? "fail-open" : "fail-closed";
    if (policies.length === 1) return singleDecision(policies[0] as Policy, outs[0] as Outcome, degraded);
    return combineDecision(policies, outs, open || cost === 0, degraded);
  }

  #scaledPolicy(p: Policy): Policy {
    let s = this.#scaled.get(p);
    if (s === undefined) {
      s = scalePolicy(p, this.#scale);
      this.#scaled.set(p, s);
    }
    return s;
  }

  #cacheKey(key: string, policies: readonly Policy[]): string {
    if (policies.length === 1) return `${(policies[0] as Policy).id}\n${key}`;
    let ids = this.#cacheKeys.get(policies);
    if (ids === undefined) {
      ids = policies.map((p) => p.id).join("\n");
      this.#cacheKeys.set(policies, ids);
    }
    return `${ids}\n${key}`;
  }

  /** #remember caches a denial until its retryAfterMs, counted from when the call was sent. */
  #remember(c: Call, d: Decision, outs: Outcome[], sentAtMs: number): void {
    const cache = this.#denyCache as Map<string, CachedDenial>;
    const ck = this.#cacheKey(c.key, c.policies);
    cache.delete(ck);
    if (cache.size >= this.#denyCacheMax) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    cache.set(ck, { untilMs: sentAtMs + d.retryAfterMs, sentAtMs, cost: c.cost, outs });
  }

  /** #cachedDenial returns a local denial for a key recently denied, or undefined to ask Redis. */
  #cachedDenial(
    key: string,
    policies: readonly Policy[],
    cost: number,
    nowMs: number | undefined,
  ): Decision | undefined {
    const cache = this.#denyCache as Map<string, CachedDenial>;
    if (cache.size === 0) return undefined;
    const ck = this.#cacheKey(key, policies);
    const e = cache.get(ck);
    if (e === undefined) return undefined;
    const t = nowMs ?? this.#now();
    if (t >= e.untilMs || t < e.sentAtMs) {
      cache.delete(ck);
      return undefined;
    }
    if (cost < e.cost) return undefined;
    const elapsedMs = t - e.sentAtMs;
    const outs = e.outs.map((o) => ({
      allowed: o.allowed,
      remaining: o.remaining,
      retryAfterMs: o.allowed ? 0 : ceilMs(o.retryAfterMs - elapsedMs),
      resetAfterMs: ceilMs(o.resetAfterMs - elapsedMs),
    }));
    if (policies.length === 1) return singleDecision(policies[0] as Policy, outs[0] as Outcome);
    return combineDecision(policies, outs, false);
  }
}

/** LONE caches, per op and policy array, the ARGV section of a lone call up to its cost. */
const LONE = { c: new WeakMap<readonly Policy[], string[]>(), r: new WeakMap(), d: new WeakMap() } as const;

/** loneArgs returns the ARGV of one call after the time and grace: its policies, one set, one run of one decision (cost to add). */
function loneArgs(op: Call["op"], policies: readonly Policy[]): string[] {
  const cache = LONE[op] as WeakMap<readonly Policy[], string[]>;
  let a = cache.get(policies);
  if (a === undefined) {
    a = [String(policies.length)];
    for (const p of policies) a.push(...specOf(p));
    a.push("1", op, String(policies.length));
    for (let i = 1; i <= policies.length; i++) a.push(String(i));
    a.push("1", "1", "1");
    cache.set(policies, a);
  }
  return a;
}

/**
 * batchArgs returns the KEYS and ARGV of several calls: each policy and each
 * (op, policies) set goes once into ARGV, and consecutive decisions of the same
 * set and cost go as one run (count, set, cost).
 */
function batchArgs(head: string[], calls: Call[]): [string[], string[]] {
  const keys: string[] = [];
  const specArgs: string[] = [];
  const specIndex = new Map<Policy, number>();
  const setArgs: string[] = [];
  const setIndex: Map<readonly Policy[], number>[] = [new Map(), new Map(), new Map()];
  const runArgs: string[] = [];
  let nSets = 0;
  let runs = 0;
  let runSet = 0;
  let runCost = -1;
  let runCount = 0;
  for (const c of calls) {
    const sets = setIndex[c.op === "c" ? 0 : c.op === "r" ? 1 : 2] as Map<readonly Policy[], number>;
    let set = sets.get(c.policies);
    if (set === undefined) {
      setArgs.push(c.op, String(c.policies.length));
      for (const p of c.policies) {
        let spec = specIndex.get(p);
        if (spec === undefined) {
          specArgs.push(...specOf(p));
          spec = specIndex.size + 1;
          specIndex.set(p, spec);
        }
        setArgs.push(String(spec));
      }
      set = ++nSets;
      sets.set(c.policies, set);
    }
    if (set === runSet && c.cost === runCost) {
      runCount++;
    } else {
      if (runCount > 0) runArgs.push(String(runCount), String(runSet), String(runCost));
      runs++;
      runSet = set;
      runCost = c.cost;
      runCount = 1;
    }
    const ks = c.keys;
    for (let i = 0; i < ks.length; i++) keys.push(ks[i] as string);
  }
  if (runCount > 0) runArgs.push(String(runCount), String(runSet), String(runCost));
  const args = [...head, String(specIndex.size), ...specArgs, String(nSets), ...setArgs, String(runs), ...runArgs];
  return [keys, args];
}

function positiveMs(fn: string, name: string, value: unknown, fallback: number, example: string): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new FloodgateRangeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${fn}({ ${name} }) must be a positive number of milliseconds, got ${describe(v)}; pass ${example}.`,
    );
  }
  return v;
}
