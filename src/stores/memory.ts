// memory.ts: the in-memory store: exact, synchronous, bounded.

import { checkVerdict, combineDecision, plainDecision, singleDecision } from "../core/decision.js";
import { describe, FloodgateRangeError, FloodgateTypeError } from "../core/errors.js";
import { type Decision, newOutcome, type Outcome, type Policy, untilMs } from "../core/policy.js";
import { checkOptions } from "../core/validate.js";
import type { AllCall, AllDecision, BlockRule, KeysTracked, Store, StoreEvent } from "./store.js";

/** MemoryStoreOptions configures a MemoryStore. */
export interface MemoryStoreOptions {
  /**
   * maxKeys is the most keys tracked per policy: a whole number from 1 to
   * 16,000,000 (a JavaScript Map holds at most 2^24 entries). Default 1,000,000.
   * When it is reached and no idle key can be dropped, keys not yet tracked share
   * one overflow state (see MemoryStore): tracked clients keep their state.
   */
  maxKeys?: number;
  /** onOverflow is called (at most once a second) while new keys are sent to the overflow state. */
  onOverflow?: (info: { policy: string; trackedKeys: number }) => void;
}

/**
 * MEMORY_STORE is the brand of a MemoryStore: a registered symbol, the same in
 * every copy of floodgate in one process (the ESM and CJS builds are separate
 * copies), so a store from one is recognised by the other (see isMemoryStore).
 */
const MEMORY_STORE: unique symbol = Symbol.for("floodgate.MemoryStore") as never;

/** isMemoryStore reports whether `x` is a MemoryStore, from this or another copy of floodgate. */
export function isMemoryStore(x: unknown): x is MemoryStore {
  return typeof x === "object" && x !== null && (x as { [MEMORY_STORE]?: unknown })[MEMORY_STORE] === true;
}

/** MAX_KEYS is the largest maxKeys: V8 Maps throw past 2^24 (16,777,216) entries, mid-decision. */
const MAX_KEYS = 16_000_000;
/** OVERFLOW is the slot reserved for keys that arrive while a table is full. */
const OVERFLOW = 0;
/**
 * SWEEP_FROM_EIGHTHS: idle keys are kept until a table holds 7/8 of maxKeys (its soft
 * watermark); from there on, each new key checks SWEEP_PER_INSERT tracked keys and drops
 * the idle ones. Below the watermark a new key costs no sweep, and a client that comes
 * back after its bucket filled up finds its key still tracked (it answers as a fresh
 * one: full is fresh), instead of paying a Map delete and a re-insert. The eighth
 * between the watermark and maxKeys is sweeping room, so idle keys are being dropped
 * before the hard cap sends new keys to the overflow state.
 */
const SWEEP_FROM_EIGHTHS = 7;
/** SWEEP_PER_INSERT is how many tracked keys are checked for idleness per new key, at or above the watermark. */
const SWEEP_PER_INSERT = 2;
/**
 * SWEEP_WHEN_FULL is how many more tracked keys are checked when the table is
 * full, at most once per millisecond of the store's clock: under a flood of fresh
 * keys against a full table, each flood key then costs 2 checks, not 66.
 */
const SWEEP_WHEN_FULL = 64;

/**
 * Table holds one policy's state: a Map from key to slot, and every slot's
 * numbers in one Float64Array (or, for variable-size state, one array per slot).
 * Keeping numbers in a typed array costs 8 bytes per number and no object per key.
 */
class Table {
  readonly policy: Policy;
  readonly stride: number;
  readonly index = new Map<string, number>();
  slab: Float64Array;
  logs: number[][] | undefined;
  readonly free: number[] = [];
  nextSlot = 1;
  overflowUsed = false;
  /** overflowed counts the calls of untracked keys sent to the overflow slot. */
  overflowed = 0;
  cursor: Iterator<[string, number]>;
  lastOverflowReport = Number.NEGATIVE_INFINITY;
  lastFullSweepMs = Number.NEGATIVE_INFINITY;
  constructor(policy: Policy, initialSlots: number) {
    this.policy = policy;
    this.stride = policy.stateSize > 0 ? policy.stateSize : 0;
    this.slab = new Float64Array(initialSlots * this.stride);
    if (policy.stateSize < 0) this.logs = [[]];
    this.cursor = this.index.entries();
  }
  /** grow doubles the slab, up to room for `maxSlots` slots. */
  grow(maxSlots: number): void {
    const slots = Math.min(maxSlots, Math.max(16, (this.slab.length / (this.stride || 1)) * 2));
    if (this.stride > 0) {
      const next = new Float64Array(slots * this.stride);
      next.set(this.slab);
      this.slab = next;
    }
  }
}

/**
 * MemoryStore keeps rate limit state in this process. Each decision runs in one
 * synchronous section, so it is exact under any number of concurrent callers on
 * one event loop. It needs no setup and sets no timers.
 *
 * Memory is bounded. Idle keys (a full bucket, a window that is over) hold no
 * information and are dropped lazily, when the table needs the room: once a
 * table holds 7/8 of `maxKeys` keys (its soft watermark), each new key checks a
 * couple of tracked keys, in insertion order, and drops the idle ones; below it
 * they are kept (a kept idle key answers exactly as a fresh one). No key is ever evicted while
 * it still holds information, so a flood of fresh keys cannot reset the limit of
 * a real client (as an LRU would). When `maxKeys` keys are tracked and none is
 * idle, new keys share one overflow state per policy: together they get the
 * policy's limit once, until tracked keys become idle and make room. The
 * `onOverflow` callback reports it.
 *
 * Keys are opaque strings in a Map: `__proto__`, `constructor`, the empty string
 * and long strings are ordinary, independent keys.
 */
export class MemoryStore implements Store {
  /** `instanceof MemoryStore` also recognises a MemoryStore of another copy of floodgate (ESM beside CJS). */
  static [Symbol.hasInstance](x: unknown): boolean {
    return isMemoryStore(x);
  }
  get [MEMORY_STORE](): true {
    return true;
  }
  readonly ownsClock = false;
  readonly maxKeys: number;
  /** #sweepFrom is the soft watermark: the table size from which new keys sweep idle ones (see SWEEP_FROM_EIGHTHS). */
  readonly #sweepFrom: number;
  readonly #onOverflow: MemoryStoreOptions["onOverflow"];
  /** #observers are the `observe` listeners (RateLimiter's `store` event); undefined while there are none. */
  #observers: ((event: StoreEvent) => void)[] | undefined;
  readonly #tables = new Map<string, Table>();
  #lastPolicy: Policy | undefined;
  #lastTable: Table | undefined;
  /**
   * #hotPolicies and #hot are the last frozen one-policy array decided (RateLimiter
   * passes the same frozen array on every call) and its table, when the policy has
   * a fixed-size state: the fast path of consumeSync. A frozen array cannot change,
   * so its identity is enough to know the policy.
   */
  #hotPolicies: readonly Policy[] | undefined;
  #hotPolicy: Policy | undefined;
  #hot: Table | undefined;
  /** #blocks maps scope + key to the time its block ends; #refusals to its refusal count (see refused). */
  readonly #blocks = new Map<string, number>();
  readonly #refusals = new Map<string, { count: number; startMs: number; endMs: number }>();
  readonly #out: Outcome = newOutcome();
  #next: number[] = [];
  #outs: Outcome[] = [];
  #nexts: number[][] = [];

  constructor(options: MemoryStoreOptions = {}) {
    const o = checkOptions("MemoryStore", options, ["maxKeys", "onOverflow"]);
    const maxKeys = o.maxKeys ?? 1_000_000;
    if (typeof maxKeys !== "number" || !Number.isInteger(maxKeys) || maxKeys < 1 || maxKeys > MAX_KEYS) {
      const Err = typeof maxKeys === "number" ? FloodgateRangeError : FloodgateTypeError;
      throw new Err(
        "ERR_INVALID_OPTION",
        `floodgate: MemoryStore({ maxKeys }) must be a whole number from 1 to ${MAX_KEYS}, got ${describe(maxKeys)}; pass the most keys to track per policy, such as 1000000.`,
      );
    }
    if (o.onOverflow !== undefined && typeof o.onOverflow !== "function") {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: MemoryStore({ onOverflow }) must be a function, got ${describe(o.onOverflow)}.`,
      );
    }
    this.maxKeys = maxKeys;
    this.#sweepFrom = Math.floor((maxKeys * SWEEP_FROM_EIGHTHS) / 8);
    this.#onOverflow = o.onOverflow as MemoryStoreOptions["onOverflow"];
  }

  /** size returns the number of keys tracked for a policy (or for all policies). */
  size(policy?: Policy): number {
    if (policy) return this.#tables.get(policy.id)?.index.size ?? 0;
    let n = 0;
    for (const t of this.#tables.values()) n += t.index.size;
    return n;
  }

  /** keysTracked reports, per policy, how many keys are tracked and how many calls went to the overflow state. */
  keysTracked(): KeysTracked[] {
    const out: KeysTracked[] = [];
    for (const t of this.#tables.values()) {
      out.push({ policy: t.policy.name, keys: t.index.size, overflowed: t.overflowed });
    }
    return out;
  }

  /**
   * observe adds a listener for `overflow` events (maxKeys reached, at most once a
   * second per policy, like onOverflow) and returns a function that removes it.
   * A listener that throws is ignored.
   */
  observe(listener: (event: StoreEvent) => void): () => void {
    const list = [...(this.#observers ?? []), listener];
    this.#observers = list;
    return () => {
      const rest = (this.#observers ?? []).filter((x) => x !== listener);
      this.#observers = rest.length > 0 ? rest : undefined;
    };
  }

  /** clear forgets every key of every policy. */
  clear(): void {
    this.#tables.clear();
    this.#lastPolicy = undefined;
    this.#lastTable = undefined;
    this.#hotPolicies = undefined;
    this.#hotPolicy = undefined;
    this.#hot = undefined;
  }

  #table(policy: Policy): Table {
    if (policy === this.#lastPolicy) return this.#lastTable as Table;
    let t = this.#tables.get(policy.id);
    if (t === undefined) {
      t = new Table(policy, Math.min(this.maxKeys + 1, 1024));
      this.#tables.set(policy.id, t);
    }
    this.#lastPolicy = policy;
    this.#lastTable = t;
    return t;
  }

  /** #allocate finds a slot for a new key: a free one, a new one, an idle one, or the overflow slot. */
  #allocate(t: Table, key: string, nowMs: number): number {
    if (t.index.size >= this.#sweepFrom) this.#sweep(t, nowMs, SWEEP_PER_INSERT);
    if (t.index.size >= this.maxKeys && !(nowMs >= t.lastFullSweepMs && nowMs - t.lastFullSweepMs < 1)) {
      t.lastFullSweepMs = nowMs;
      this.#sweep(t, nowMs, SWEEP_WHEN_FULL);
    }
    if (t.index.size >= this.maxKeys) {
      t.overflowed++;
      if ((this.#onOverflow || this.#observers) && nowMs - t.lastOverflowReport >= 1000) {
        t.lastOverflowReport = nowMs;
        this.#reportOverflow(t);
      }
      return OVERFLOW;
    }
    let slot = t.free.pop();
    if (slot === undefined) {
      slot = t.nextSlot++;
      if (t.stride > 0 && (slot + 1) * t.stride > t.slab.length) t.grow(this.maxKeys + 1);
    }
    t.index.set(key, slot);
    return slot;
  }

  /** #reportOverflow tells onOverflow and the observers that `t` is full; a throwing one is ignored. */
  #reportOverflow(t: Table): void {
    const policy = t.policy.name;
    const trackedKeys = t.index.size;
    try {
      this.#onOverflow?.({ policy, trackedKeys });
    } catch {
      // A throwing callback must not break a decision.
    }
    const observers = this.#observers;
    if (observers === undefined) return;
    const event: StoreEvent = { type: "overflow", policy, trackedKeys, overflowed: t.overflowed };
    for (const fn of observers) {
      try {
        fn(event);
      } catch {
        // A throwing listener must not break a decision.
      }
    }
  }

  /** #sweep checks up to `n` tracked keys, oldest first, and drops the idle ones. */
  #sweep(t: Table, nowMs: number, n: number): void {
    const policy = t.policy;
    for (let i = 0; i < n; i++) {
      let r = t.cursor.next();
      if (r.done) {
        if (t.index.size === 0) return;
        t.cursor = t.index.entries();
        r = t.cursor.next();
        if (r.done) return;
      }
      const [key, slot] = r.value;
      const isIdle = t.logs
        ? policy.idle(t.logs[slot] as number[], 0, nowMs)
        : policy.idle(t.slab, slot * t.stride, nowMs);
      if (isIdle) {
        t.index.delete(key);
        t.free.push(slot);
        if (t.logs) t.logs[slot] = [];
      }
    }
  }

  /**
   * consumeSync is consume without a promise: the decision is made and returned
   * synchronously. Its first branch is the hot path (the same single fixed-size
   * policy as last time, a tracked key) and is kept small on purpose: V8 inlines
   * callees only within a bytecode budget, and this path must fit in the
   * caller's budget along with the policy's math. Everything else (a new key, a
   * sliding log, several policies, another policy) goes through #consumeSlow,
   * which reaches the same state through the same math.
   */
  consumeSync(key: string, policies: readonly Policy[], cost: number, nowMs: number): Decision {
    if (policies === this.#hotPolicies) {
      const t = this.#hot as Table;
      const slot = t.index.get(key);
      if (slot !== undefined) {
        // The policy given (not t.policy: another object with the same id shares the table).
        const policy = this.#hotPolicy as Policy;
        const out = this.#out;
        const next = this.#next;
        const slab = t.slab;
        const o = slot * t.stride;
        // Kept: an admitted cost, or a state rebased after the clock went back (see Outcome.rebased).
        // Perf: writeState's loop, written out (its call and body cost V8's inlining budget twice).
        if ((policy.evaluate(slab, o, false, nowMs, cost, next, out) && cost > 0) || out.rebased)
          for (let i = 0; i < t.stride; i++) slab[o + i] = next[i] as number;
        return plainDecision(policy, out);
      }
    }
    return this.#consumeSlow(key, policies, cost, nowMs);
  }

  /** #consumeSlow decides a new key, a variable-size state or several policies. */
  #consumeSlow(key: string, policies: readonly Policy[], cost: number, nowMs: number): Decision {
    if (policies.length === 1) {
      const policy = policies[0] as Policy;
      const t = this.#table(policy);
      if (t.stride > 0 && Object.isFrozen(policies)) {
        this.#hotPolicies = policies;
        this.#hotPolicy = policy;
        this.#hot = t;
      }
      const out = this.#out;
      this.#decide(t, policy, key, cost, nowMs, out, this.#next, true);
      return singleDecision(policy, out);
    }
    return this.#decideAll(key, policies, cost, nowMs);
  }

  consume(key: string, policies: readonly Policy[], cost: number, nowMs: number | undefined): Decision {
    return this.consumeSync(key, policies, cost, nowMs as number);
  }

  peek(key: string, policies: readonly Policy[], nowMs: number | undefined): Decision {
    return this.consumeSync(key, policies, 0, nowMs as number);
  }

  /**
   * #decide evaluates one policy for one key into `out`; when `write` is set and
   * the cost is admitted, or the state was rebased (a clock gone back), it stores
   * the new state. A cost of 0 never creates a key; a positive cost gives a new
   * key a slot holding the fresh state first. It decides with `policy`, not
   * `t.policy`: the versions of a live policy share one table (one id).
   */
  #decide(
    t: Table,
    policy: Policy,
    key: string,
    cost: number,
    nowMs: number,
    out: Outcome,
    next: number[],
    write: boolean,
  ): boolean {
    let slot = t.index.get(key);
    if (slot === undefined) {
      if (cost === 0) return policy.evaluate(t.slab, 0, true, nowMs, 0, next, out);
      slot = this.#allocate(t, key, nowMs);
      if (slot !== OVERFLOW || !t.overflowUsed) {
        if (slot === OVERFLOW) t.overflowUsed = true;
        policy.evaluate(t.slab, 0, true, nowMs, 0, next, out);
        this.#store(t, slot, next);
      }
    }
    const ok = t.logs
      ? policy.evaluate(t.logs[slot] as number[], 0, false, nowMs, cost, next, out)
      : policy.evaluate(t.slab, slot * t.stride, false, nowMs, cost, next, out);
    if (write && ((ok && cost > 0) || out.rebased)) this.#store(t, slot, next);
    return ok;
  }

  /** #store writes a state into a slot. */
  #store(t: Table, slot: number, next: number[]): void {
    if (t.logs) {
      t.logs[slot] = next.slice();
      return;
    }
    writeState(t.slab, slot * t.stride, next, t.stride);
  }

  #decideAll(key: string, policies: readonly Policy[], cost: number, nowMs: number): Decision {
    const n = policies.length;
    while (this.#outs.length < n) {
      this.#outs.push(newOutcome());
      this.#nexts.push([]);
    }
    // First pass: evaluate every policy, writing nothing.
    let allowed = true;
    for (let i = 0; i < n; i++) {
      const p = policies[i] as Policy;
      const t = this.#table(p);
      if (!this.#decide(t, p, key, cost, nowMs, this.#outs[i] as Outcome, this.#nexts[i] as number[], false))
        allowed = false;
    }
    // Second pass: admitted, take the cost from every policy (the same math on
    // the same state, so the same outcome); denied, report the policies that would
    // have admitted the cost as they stand, since nothing was taken from them.
    // Either way a state rebased after the clock went back is stored.
    const outs: Outcome[] = [];
    for (let i = 0; i < n; i++) {
      const first = this.#outs[i] as Outcome;
      const out = newOutcome();
      if (allowed || first.allowed) {
        const p = policies[i] as Policy;
        this.#decide(this.#table(p), p, key, allowed ? cost : 0, nowMs, out, this.#nexts[i] as number[], true);
      } else if (first.rebased) {
        const p = policies[i] as Policy;
        this.#decide(this.#table(p), p, key, cost, nowMs, out, this.#nexts[i] as number[], true);
      } else {
        Object.assign(out, first);
      }
      outs.push(out);
    }
    return combineDecision(policies, outs, allowed);
  }

  /**
   * consumeAll decides `calls` all-or-nothing across keys in one synchronous section
   * (see Store.consumeAll): each item is consumed in order (an item sees the takes of
   * the items before it), and when an item not in shadow mode refuses (or on a dry
   * run) every state the call touched is put back as it was, so a refusal leaves no
   * trace (not even a stepped bucket's phase, which a refund would keep).
   */
  consumeAll(calls: readonly AllCall[], nowMs: number | undefined, dryRun: boolean): AllDecision {
    const t0 = nowMs as number;
    // The states this call may touch, as they are (a key named twice is saved once: the first copy wins).
    const saved: { t: Table; policy: Policy; key: string; state: number[] | undefined }[] = [];
    const overflow = new Map<Table, { state: number[]; used: boolean }>();
    for (const c of calls) {
      for (const p of c.policies) {
        const t = this.#table(p);
        // The shared overflow state can change only when the table may fill up during this call.
        if (t.index.size + calls.length >= this.maxKeys && !overflow.has(t)) {
          overflow.set(t, { state: this.#read(t, OVERFLOW), used: t.overflowUsed });
        }
        if (saved.some((x) => x.t === t && x.key === c.key)) continue;
        const slot = t.index.get(c.key);
        saved.push({ t, policy: p, key: c.key, state: slot === undefined ? undefined : this.#read(t, slot) });
      }
    }
    const items: Decision[] = [];
    let allowed = !dryRun;
    for (const c of calls) {
      const d = checkVerdict(c.cost, c.policies, this.consumeSync(c.key, c.policies, c.cost, t0));
      items.push(d);
      if (!d.allowed && !c.shadow) allowed = false;
    }
    if (allowed) return { allowed, items };
    // Refused: every state as it was before the call.
    for (const s of saved) {
      const slot = s.t.index.get(s.key);
      if (slot === undefined) continue;
      if (s.state === undefined) this.reset(s.key, [s.policy]);
      else this.#store(s.t, slot, s.state);
    }
    for (const [t, o] of overflow) {
      this.#store(t, OVERFLOW, o.state);
      t.overflowUsed = o.used;
    }
    // An item its own limits admitted is reported as it stands: nothing was taken.
    for (let i = 0; i < calls.length; i++) {
      const c = calls[i] as AllCall;
      if ((items[i] as Decision).allowed && c.cost > 0) items[i] = this.consumeSync(c.key, c.policies, 0, t0);
    }
    return { allowed, items };
  }

  /** #read copies the state of a slot. */
  #read(t: Table, slot: number): number[] {
    if (t.logs) return (t.logs[slot] ?? []).slice();
    const out: number[] = [];
    const o = slot * t.stride;
    for (let i = 0; i < t.stride; i++) out.push(t.slab[o + i] as number);
    return out;
  }

  refund(key: string, policies: readonly Policy[], cost: number, nowMs: number | undefined): void {
    for (const policy of policies) {
      const t = this.#table(policy);
      const slot = t.index.get(key);
      if (slot === undefined) continue;
      const next = this.#next;
      const state = t.logs ? (t.logs[slot] as number[]) : t.slab;
      if (policy.refund(state, t.logs ? 0 : slot * t.stride, false, nowMs as number, cost, next)) {
        this.#store(t, slot, next);
      }
    }
  }

  /**
   * penalty takes `cost` from every policy of `key` outside a request: each policy
   * gives what it has, down to empty (its whole remaining units), never into debt.
   */
  penalty(key: string, policies: readonly Policy[], cost: number, nowMs: number | undefined): void {
    const now = nowMs as number;
    for (const policy of policies) {
      const t = this.#table(policy);
      const out = this.#out;
      // A peek first (it migrates or rebases a state, and stores it), then what is left is taken.
      this.#decide(t, policy, key, 0, now, out, this.#next, true);
      const take = out.remaining < cost ? out.remaining : cost;
      if (take > 0) this.#decide(t, policy, key, take, now, out, this.#next, true);
    }
  }

  blockedFor(scope: string, key: string, nowMs: number | undefined): number {
    if (this.#blocks.size === 0) return 0;
    const k = blockKey(scope, key);
    const end = this.#blocks.get(k);
    if (end === undefined) return 0;
    const left = untilMs(end, nowMs as number);
    if (left === 0) this.#blocks.delete(k);
    return left;
  }

  block(scope: string, key: string, durationMs: number, nowMs: number | undefined): void {
    const now = nowMs as number;
    const k = blockKey(scope, key);
    const end = now + durationMs;
    const had = this.#blocks.get(k);
    if (had !== undefined && had >= end) return;
    if (had === undefined) sweepUntil(this.#blocks, (v) => v, now, this.maxKeys);
    else this.#blocks.delete(k); // re-inserted last: the sweep visits the oldest ends first
    this.#blocks.set(k, end);
  }

  unblock(scope: string, key: string): void {
    const k = blockKey(scope, key);
    this.#blocks.delete(k);
    this.#refusals.delete(k);
  }

  refused(scope: string, key: string, rule: BlockRule, nowMs: number | undefined): number {
    const now = nowMs as number;
    const k = blockKey(scope, key);
    let r = this.#refusals.get(k);
    if (r === undefined || now >= r.endMs || now < r.startMs) {
      if (r === undefined) sweepUntil(this.#refusals, (v) => v.endMs, now, this.maxKeys);
      else this.#refusals.delete(k);
      r = { count: 0, startMs: now, endMs: now + rule.withinMs };
      this.#refusals.set(k, r);
    }
    r.count++;
    if (r.count < rule.refusals) return 0;
    this.#refusals.delete(k);
    this.block(scope, key, rule.blockMs, now);
    return this.blockedFor(scope, key, now);
  }

  reset(key: string, policies: readonly Policy[]): void {
    for (const policy of policies) {
      const t = this.#tables.get(policy.id);
      const slot = t?.index.get(key);
      if (t === undefined || slot === undefined) continue;
      t.index.delete(key);
      t.free.push(slot);
      if (t.logs) t.logs[slot] = [];
    }
  }
}

/** blockKey is the map key of `key`'s block in `scope` (a newline never appears in a scope). */
function blockKey(scope: string, key: string): string {
  return `${scope}\n${key}`;
}

/**
 * sweepUntil drops up to two entries of `map` (oldest first) whose end is at or before
 * nowMs, and, when the map holds `max` entries, the oldest one: a bound on memory that
 * under a flood of blocked keys lifts the oldest block first.
 */
function sweepUntil<V>(map: Map<string, V>, endOf: (v: V) => number, nowMs: number, max: number): void {
  let i = 0;
  for (const [k, v] of map) {
    if (i++ >= 2) break;
    if (endOf(v) <= nowMs) map.delete(k);
  }
  if (map.size >= max) {
    const first = map.keys().next();
    if (!first.done) map.delete(first.value);
  }
}

/** writeState copies `stride` numbers of a new state into the slab at offset `o`. */
function writeState(slab: Float64Array, o: number, next: number[], stride: number): void {
  for (let i = 0; i < stride; i++) slab[o + i] = next[i] as number;
}
