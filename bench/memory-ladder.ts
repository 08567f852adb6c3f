// memory-ladder.ts: where the time of one in-memory decision goes, one layer at a time, from a bare Map to RateLimiter.
//
// Run: node --import tsx bench/memory-ladder.ts [1|100000] [rounds]
//
// Each rung is its own loop (its own source function, so one rung's JIT feedback never makes
// another's call sites polymorphic) and adds one layer to the rung before it:
//   map        Map get of a { tokens, atMs } object and one field write, no clock (the floor)
//   clock      + one read of floodgate's clock (monotonicNow: timeOrigin + performance.now())
//   bare math  + the bare reference's refill arithmetic on the object (bench/memory.ts's bareTake without its result)
//   bare       + its result object: the bench's "bare Map, sync (reference)"
//   evaluate   the clock + Map of key -> slot, the token bucket's evaluate on a Float64Array slab, the write back
//              (replaces bare math: floodgate's arithmetic, EPSILON guards and reset math, boolean answer)
//   table      + the store's lookup: the hot-policies check and the table of the policy (a copy of
//              MemoryStore.consumeSync's first branch, boolean answer)
//   decision   + the Decision (singleDecision: the Decision, its PolicyDecision and the policies array)
//   store      MemoryStore.consumeSync itself (the real code of "decision": checks the copy)
//   limiter    + RateLimiter's checks: RateLimiter.consumeSync (key type, cost, observed, blocks, clock check)
//   promise    + the promise: await RateLimiter.consume
//   the promise taken apart: an async function returning consumeSync's Decision, and
//              Promise.resolve(consumeSync(...)), each awaited
//   bare+await the bench's "bare Map + await (reference)"
// All rungs run in one process, interleaved (the starting rung rotates each round); each round is
// ~25 ms of one rung; the figure is the median over rounds of ns of CPU time (process.cpuUsage) per
// decision. Keys: round robin over 1 or 100,000 keys created before timing; every decision is
// allowed (checked). Not part of `npm run bench`: a measurement tool for docs/memory.md.

import { loadavg } from "node:os";
import { monotonicNow } from "../src/core/clock.js";
import { singleDecision } from "../src/core/decision.js";
import {
  EPSILON,
  floorTokens,
  newOutcome,
  type Outcome,
  type Policy,
  settleMs,
  settleSide,
  type WaitTest,
  waitGuard,
} from "../src/core/policy.js";
import { MemoryStore, RateLimiter, tokenBucket } from "../src/index.js";

const KEYS = Number(process.argv[2] ?? 1);
const ROUNDS = Number(process.argv[3] ?? 15);
const ROUND_MS = 25;
const LIMIT = KEYS === 1 ? { capacity: 1_000_000_000, perSecond: 1_000_000 } : { capacity: 1_000_000, perSecond: 1 };
const keys = Array.from({ length: KEYS }, (_, i) => `user:${String(i).padStart(6, "0")}`);
const perMs = LIMIT.perSecond / 1000;
const cap = LIMIT.capacity;

interface Bucket {
  tokens: number;
  atMs: number;
}
const perf = performance;

// --- map: the floor.
const mapM = new Map<string, Bucket>();
function runMap(n: number, j0: number): number {
  let ok = 0;
  let j = j0;
  for (let i = 0; i < n; i++) {
    const b = mapM.get(keys[j] as string) as Bucket;
    const t = b.tokens - 1;
    b.tokens = t < 0 ? cap : t;
    if (t >= 0) ok++;
    if (++j === KEYS) j = 0;
  }
  return ok;
}

// --- clock: + floodgate's clock.
const mapC = new Map<string, Bucket>();
function runClock(n: number, j0: number): number {
  let ok = 0;
  let j = j0;
  for (let i = 0; i < n; i++) {
    const now = monotonicNow();
    const b = mapC.get(keys[j] as string) as Bucket;
    const t = b.tokens - 1;
    b.tokens = t < 0 ? cap : t;
    b.atMs = now;
    if (t >= 0) ok++;
    if (++j === KEYS) j = 0;
  }
  return ok;
}

// --- bare math: the reference's arithmetic, boolean answer.
const mapB = new Map<string, Bucket>();
function bareMath(key: string): boolean {
  const now = monotonicNow();
  const b = mapB.get(key) as Bucket;
  if (now > b.atMs) {
    const t = b.tokens + (now - b.atMs) * perMs;
    b.tokens = t > cap ? cap : t;
    b.atMs = now;
  }
  const tokens = b.tokens;
  if (tokens >= 1) {
    b.tokens = tokens - 1;
    return true;
  }
  return false;
}
function runBareMath(n: number, j0: number): number {
  let ok = 0;
  let j = j0;
  for (let i = 0; i < n; i++) {
    if (bareMath(keys[j] as string)) ok++;
    if (++j === KEYS) j = 0;
  }
  return ok;
}

// --- bare: the bench's sync reference (bench/memory.ts bareTakeSync, same body).
const mapR = new Map<string, Bucket>();
function bareTake(key: string) {
  const now = perf.now();
  const b = mapR.get(key) as Bucket;
  if (now > b.atMs) {
    const t = b.tokens + (now - b.atMs) * perMs;
    b.tokens = t > cap ? cap : t;
    b.atMs = now;
  }
  const tokens = b.tokens;
  if (tokens >= 1) {
    b.tokens = tokens - 1;
    return {
      allowed: true,
      limit: cap,
      remaining: Math.floor(tokens - 1),
      retryAfterMs: 0,
      resetAfterMs: Math.ceil((cap - tokens + 1) / perMs),
      policy: "bare",
    };
  }
  return {
    allowed: false,
    limit: cap,
    remaining: Math.floor(tokens),
    retryAfterMs: Math.ceil((1 - tokens) / perMs),
    resetAfterMs: Math.ceil((cap - tokens) / perMs),
    policy: "bare",
  };
}
function runBare(n: number, j0: number): number {
  let ok = 0;
  let j = j0;
  for (let i = 0; i < n; i++) {
    if (bareTake(keys[j] as string).allowed) ok++;
    if (++j === KEYS) j = 0;
  }
  return ok;
}

// --- bare math on a slab: the same arithmetic with floodgate's storage (Map of key -> slot, Float64Array).
const slotsS = new Map<string, number>();
const slabS = new Float64Array(KEYS * 2);
function bareSlab(key: string): boolean {
  const now = monotonicNow();
  const o = (slotsS.get(key) as number) * 2;
  let tokens = slabS[o] as number;
  const atMs = slabS[o + 1] as number;
  if (now > atMs) {
    const t = tokens + (now - atMs) * perMs;
    tokens = t > cap ? cap : t;
    slabS[o + 1] = now;
  }
  if (tokens >= 1) {
    slabS[o] = tokens - 1;
    return true;
  }
  slabS[o] = tokens;
  return false;
}
function runBareSlab(n: number, j0: number): number {
  let ok = 0;
  let j = j0;
  for (let i = 0; i < n; i++) {
    if (bareSlab(keys[j] as string)) ok++;
    if (++j === KEYS) j = 0;
  }
  return ok;
}

// --- evaluate: Map of key -> slot, a Float64Array slab, the token bucket's evaluate, the write back.
const policyE = tokenBucket({ capacity: cap, refillRate: LIMIT.perSecond });
const slotsE = new Map<string, number>();
const slabE = new Float64Array(KEYS * 2);
const outE = newOutcome();
const nextE = [0, 0];
function evalOne(key: string): boolean {
  const now = monotonicNow();
  const o = (slotsE.get(key) as number) * 2;
  if (policyE.evaluate(slabE, o, false, now, 1, nextE, outE)) {
    slabE[o] = nextE[0] as number;
    slabE[o + 1] = nextE[1] as number;
    return true;
  }
  return false;
}
function runEvaluate(n: number, j0: number): number {
  let ok = 0;
  let j = j0;
  for (let i = 0; i < n; i++) {
    if (evalOne(keys[j] as string)) ok++;
    if (++j === KEYS) j = 0;
  }
  return ok;
}

// --- evaluate taken apart: copies of the smooth bucket's evaluate (src/core/token-bucket.ts) with parts left out.
// Each is its own closure over the same constants; the rare paths (denial, cost 0, a wait near a
// whole ms) throw instead (never reached here: every call is admitted with cost 1).
function rare(): never {
  throw new Error("ladder: rare path");
}
type Evaluate = (
  s: Float64Array,
  o: number,
  fresh: boolean,
  nowMs: number,
  cost: number,
  next: number[],
  out: Outcome,
) => boolean;
function copies(capacity: number, rate: number) {
  const msPerToken = 1000 / rate;
  const fullMs = capacity * msPerToken;
  const tokensAt = (tokens: number, atMs: number, tMs: number): number =>
    tMs > atMs ? tokens + ((tMs - atMs) * rate) / 1000 : tokens;
  const holds: WaitTest = (r, tokens, atMs, nowMs, want) => tokensAt(tokens, atMs, nowMs + r) + EPSILON >= want;
  // The full copy: the same statements as evaluate.
  const full: Evaluate = (s, o, fresh, nowMs, cost, next, out) => {
    let keptTokens = capacity;
    let keptAtMs = nowMs;
    let rebased = false;
    if (!fresh) {
      keptTokens = s[o] as number;
      keptAtMs = s[o + 1] as number;
      if (keptAtMs > nowMs) {
        keptAtMs = nowMs;
        rebased = true;
      }
    }
    out.rebased = rebased;
    let has = tokensAt(keptTokens, keptAtMs, nowMs);
    if (!fresh && has + EPSILON >= capacity) {
      keptTokens = capacity;
      keptAtMs = nowMs;
      has = capacity;
    }
    const tokens = has > capacity ? capacity : has;
    if (tokens + EPSILON < cost) return rare();
    const left = tokens - cost;
    next[0] = left;
    next[1] = nowMs;
    out.allowed = true;
    out.remaining = floorTokens(left);
    out.retryAfterMs = 0;
    if (cost > 0) {
      const x = (capacity - EPSILON - left) * msPerToken;
      const side = settleSide(x, waitGuard(nowMs, fullMs));
      out.resetAfterMs = side === 0 ? Math.ceil(x) : settleMs(x, side, holds, left, nowMs, nowMs, capacity, rate, 0);
    } else rare();
    return true;
  };
  // Without the exact reset (the estimate rounded up, no guard, no settle check).
  const noGuard: Evaluate = (s, o, fresh, nowMs, cost, next, out) => {
    let keptTokens = capacity;
    let keptAtMs = nowMs;
    let rebased = false;
    if (!fresh) {
      keptTokens = s[o] as number;
      keptAtMs = s[o + 1] as number;
      if (keptAtMs > nowMs) {
        keptAtMs = nowMs;
        rebased = true;
      }
    }
    out.rebased = rebased;
    let has = tokensAt(keptTokens, keptAtMs, nowMs);
    if (!fresh && has + EPSILON >= capacity) {
      keptTokens = capacity;
      keptAtMs = nowMs;
      has = capacity;
    }
    const tokens = has > capacity ? capacity : has;
    if (tokens + EPSILON < cost) return rare();
    const left = tokens - cost;
    next[0] = left;
    next[1] = nowMs;
    out.allowed = true;
    out.remaining = floorTokens(left);
    out.retryAfterMs = 0;
    out.resetAfterMs = Math.ceil((capacity - left) * msPerToken);
    return true;
  };
  // The bare reference's arithmetic in evaluate's shape (slab, next, out): no rebase, no full-is-fresh, no reset.
  const minimal: Evaluate = (s, o, _fresh, nowMs, cost, next, out) => {
    const has = tokensAt(s[o] as number, s[o + 1] as number, nowMs);
    const tokens = has > capacity ? capacity : has;
    if (tokens < cost) return rare();
    next[0] = tokens - cost;
    next[1] = nowMs;
    out.allowed = true;
    out.remaining = Math.floor(tokens - cost);
    out.retryAfterMs = 0;
    out.resetAfterMs = 0;
    return true;
  };
  return { full, noGuard, minimal };
}
function evalRunner(pick: "real" | "full" | "noGuard" | "minimal") {
  const p = tokenBucket({ capacity: cap, refillRate: LIMIT.perSecond });
  const policy = { evaluate: pick === "real" ? p.evaluate : copies(cap, LIMIT.perSecond)[pick] };
  const slots = new Map<string, number>();
  const slab = new Float64Array(KEYS * 2);
  const out = newOutcome();
  const next = [0, 0];
  const t = monotonicNow();
  keys.forEach((k, i) => {
    slots.set(k, i);
    slab[2 * i] = cap;
    slab[2 * i + 1] = t;
  });
  // Each runner is new source (new Function), so its call sites have their own feedback; the shape
  // is evalOne's: the clock, the slot, the policy's evaluate as a method, the write back.
  return new Function(
    "policy",
    "slots",
    "slab",
    "out",
    "next",
    "keys",
    "now",
    "KEYS",
    `function one(key) {
      const nowMs = now();
      const o = slots.get(key) * 2;
      if (policy.evaluate(slab, o, false, nowMs, 1, next, out)) {
        slab[o] = next[0];
        slab[o + 1] = next[1];
        return true;
      }
      return false;
    }
    return function run(n, j0) {
      let ok = 0;
      let j = j0;
      for (let i = 0; i < n; i++) {
        if (one(keys[j])) ok++;
        if (++j === KEYS) j = 0;
      }
      return ok;
    };`,
  )(policy, slots, slab, out, next, keys, monotonicNow, KEYS) as (n: number, j0: number) => number;
}

// --- result kept: the bare reference and the store with their result stored, so it cannot be optimized away.
let sink: unknown;
const mapK = new Map<string, Bucket>();
function bareTakeK(key: string) {
  const now = perf.now();
  const b = mapK.get(key) as Bucket;
  if (now > b.atMs) {
    const t = b.tokens + (now - b.atMs) * perMs;
    b.tokens = t > cap ? cap : t;
    b.atMs = now;
  }
  const tokens = b.tokens;
  if (tokens >= 1) {
    b.tokens = tokens - 1;
    return {
      allowed: true,
      limit: cap,
      remaining: Math.floor(tokens - 1),
      retryAfterMs: 0,
      resetAfterMs: Math.ceil((cap - tokens + 1) / perMs),
      policy: "bare",
    };
  }
  return rare();
}
function runBareKept(n: number, j0: number): number {
  let ok = 0;
  let j = j0;
  for (let i = 0; i < n; i++) {
    const r = bareTakeK(keys[j] as string);
    sink = r;
    if (r.allowed) ok++;
    if (++j === KEYS) j = 0;
  }
  return ok;
}
const polK = Object.freeze([tokenBucket({ capacity: cap, refillRate: LIMIT.perSecond })]);
const storeK = new MemoryStore();
function runStoreKept(n: number, j0: number): number {
  let ok = 0;
  let j = j0;
  for (let i = 0; i < n; i++) {
    const d = storeK.consumeSync(keys[j] as string, polK, 1, monotonicNow());
    sink = d;
    if (d.allowed) ok++;
    if (++j === KEYS) j = 0;
  }
  return ok;
}

// --- table and decision: a copy of MemoryStore.consumeSync's first branch (its hot path).
interface Table {
  index: Map<string, number>;
  slab: Float64Array;
  stride: number;
}
function writeState(slab: Float64Array, o: number, next: number[], stride: number): void {
  for (let i = 0; i < stride; i++) slab[o + i] = next[i] as number;
}
class StoreCopy {
  #hotPolicies: readonly Policy[] | undefined;
  #hotPolicy: Policy | undefined;
  #hot: Table | undefined;
  readonly #out = newOutcome();
  readonly #next = [0, 0];
  constructor(policies: readonly Policy[], t: Table) {
    this.#hotPolicies = policies;
    this.#hotPolicy = policies[0];
    this.#hot = t;
  }
  allowed(key: string, policies: readonly Policy[], cost: number, nowMs: number): boolean {
    if (policies === this.#hotPolicies) {
      const t = this.#hot as Table;
      const slot = t.index.get(key);
      if (slot !== undefined) {
        const policy = this.#hotPolicy as Policy;
        const out = this.#out;
        const next = this.#next;
        const slab = t.slab;
        const o = slot * t.stride;
        if ((policy.evaluate(slab, o, false, nowMs, cost, next, out) && cost > 0) || out.rebased)
          writeState(slab, o, next, t.stride);
        return out.allowed;
      }
    }
    throw new Error("ladder: cold path");
  }
  decide(key: string, policies: readonly Policy[], cost: number, nowMs: number) {
    if (policies === this.#hotPolicies) {
      const t = this.#hot as Table;
      const slot = t.index.get(key);
      if (slot !== undefined) {
        const policy = this.#hotPolicy as Policy;
        const out = this.#out;
        const next = this.#next;
        const slab = t.slab;
        const o = slot * t.stride;
        if ((policy.evaluate(slab, o, false, nowMs, cost, next, out) && cost > 0) || out.rebased)
          writeState(slab, o, next, t.stride);
        return singleDecision(policy, out);
      }
    }
    throw new Error("ladder: cold path");
  }
}
function copyTable(): [readonly Policy[], Table] {
  const p = tokenBucket({ capacity: cap, refillRate: LIMIT.perSecond });
  const t: Table = { index: new Map(), slab: new Float64Array(KEYS * 2), stride: 2 };
  for (let i = 0; i < KEYS; i++) {
    t.index.set(keys[i] as string, i);
    t.slab[2 * i] = cap;
    t.slab[2 * i + 1] = monotonicNow();
  }
  return [Object.freeze([p]), t];
}
const [polT, tabT] = copyTable();
const storeT = new StoreCopy(polT, tabT);
function runTable(n: number, j0: number): number {
  let ok = 0;
  let j = j0;
  for (let i = 0; i < n; i++) {
    if (storeT.allowed(keys[j] as string, polT, 1, monotonicNow())) ok++;
    if (++j === KEYS) j = 0;
  }
  return ok;
}
const [polD, tabD] = copyTable();
const storeD = new StoreCopy(polD, tabD);
function runDecision(n: number, j0: number): number {
  let ok = 0;
  let j = j0;
  for (let i = 0; i < n; i++) {
    if (storeD.decide(keys[j] as string, polD, 1, monotonicNow()).allowed) ok++;
    if (++j === KEYS) j = 0;
  }
  return ok;
}

// --- store: MemoryStore.consumeSync.
const polS = Object.freeze([tokenBucket({ capacity: cap, refillRate: LIMIT.perSecond })]);
const realStore = new MemoryStore();
function runStore(n: number, j0: number): number {
  let ok = 0;
  let j = j0;
  for (let i = 0; i < n; i++) {
    if (realStore.consumeSync(keys[j] as string, polS, 1, monotonicNow()).allowed) ok++;
    if (++j === KEYS) j = 0;
  }
  return ok;
}

// --- limiter and promise: RateLimiter.
const limS = new RateLimiter({ policy: tokenBucket({ capacity: cap, refillRate: LIMIT.perSecond }) });
function runLimiter(n: number, j0: number): number {
  let ok = 0;
  let j = j0;
  for (let i = 0; i < n; i++) {
    if (limS.consumeSync(keys[j] as string).allowed) ok++;
    if (++j === KEYS) j = 0;
  }
  return ok;
}
const limA = new RateLimiter({ policy: tokenBucket({ capacity: cap, refillRate: LIMIT.perSecond }) });
async function runPromise(n: number, j0: number): Promise<number> {
  let ok = 0;
  let j = j0;
  for (let i = 0; i < n; i++) {
    if ((await limA.consume(keys[j] as string)).allowed) ok++;
    if (++j === KEYS) j = 0;
  }
  return ok;
}

// --- the promise layer taken apart: an async function around consumeSync, and Promise.resolve of it.
const limW = new RateLimiter({ policy: tokenBucket({ capacity: cap, refillRate: LIMIT.perSecond }) });
const wrapW = async (key: string) => limW.consumeSync(key);
async function runAsyncWrap(n: number, j0: number): Promise<number> {
  let ok = 0;
  let j = j0;
  for (let i = 0; i < n; i++) {
    if ((await wrapW(keys[j] as string)).allowed) ok++;
    if (++j === KEYS) j = 0;
  }
  return ok;
}
const limR = new RateLimiter({ policy: tokenBucket({ capacity: cap, refillRate: LIMIT.perSecond }) });
async function runResolve(n: number, j0: number): Promise<number> {
  let ok = 0;
  let j = j0;
  for (let i = 0; i < n; i++) {
    if ((await Promise.resolve(limR.consumeSync(keys[j] as string))).allowed) ok++;
    if (++j === KEYS) j = 0;
  }
  return ok;
}

// --- bare + await with a Decision-shaped result: the Decision, a PolicyDecision and the policies array.
const mapQ = new Map<string, Bucket>();
const policyQ = tokenBucket({ capacity: cap, refillRate: LIMIT.perSecond });
function bareTakeQ(key: string) {
  const now = perf.now();
  const b = mapQ.get(key) as Bucket;
  if (now > b.atMs) {
    const t = b.tokens + (now - b.atMs) * perMs;
    b.tokens = t > cap ? cap : t;
    b.atMs = now;
  }
  const tokens = b.tokens;
  if (tokens >= 1) {
    b.tokens = tokens - 1;
    const one = {
      policy: policyQ,
      allowed: true,
      limit: cap,
      remaining: Math.floor(tokens - 1),
      retryAfterMs: 0,
      resetAfterMs: Math.ceil((cap - tokens + 1) / perMs),
    };
    return {
      allowed: one.allowed,
      limit: one.limit,
      remaining: one.remaining,
      retryAfterMs: one.retryAfterMs,
      resetAfterMs: one.resetAfterMs,
      policy: "bare",
      policies: [one],
    };
  }
  return rare();
}
const takeQ = async (key: string) => bareTakeQ(key);
async function runBareAwaitDecision(n: number, j0: number): Promise<number> {
  let ok = 0;
  let j = j0;
  for (let i = 0; i < n; i++) {
    if ((await takeQ(keys[j] as string)).allowed) ok++;
    if (++j === KEYS) j = 0;
  }
  return ok;
}

// --- bare + await: the bench's async reference.
const mapA = new Map<string, Bucket>();
function bareTakeA(key: string) {
  const now = perf.now();
  const b = mapA.get(key) as Bucket;
  if (now > b.atMs) {
    const t = b.tokens + (now - b.atMs) * perMs;
    b.tokens = t > cap ? cap : t;
    b.atMs = now;
  }
  const tokens = b.tokens;
  if (tokens >= 1) {
    b.tokens = tokens - 1;
    return {
      allowed: true,
      limit: cap,
      remaining: Math.floor(tokens - 1),
      retryAfterMs: 0,
      resetAfterMs: Math.ceil((cap - tokens + 1) / perMs),
      policy: "bare",
    };
  }
  return {
    allowed: false,
    limit: cap,
    remaining: Math.floor(tokens),
    retryAfterMs: Math.ceil((1 - tokens) / perMs),
    resetAfterMs: Math.ceil((cap - tokens) / perMs),
    policy: "bare",
  };
}
const takeA = async (key: string) => bareTakeA(key);
async function runBareAwait(n: number, j0: number): Promise<number> {
  let ok = 0;
  let j = j0;
  for (let i = 0; i < n; i++) {
    if ((await takeA(keys[j] as string)).allowed) ok++;
    if (++j === KEYS) j = 0;
  }
  return ok;
}

// Prepare every state: all keys present and far from empty.
const t0 = monotonicNow();
for (const k of keys) {
  mapM.set(k, { tokens: cap, atMs: t0 });
  mapC.set(k, { tokens: cap, atMs: t0 });
  mapB.set(k, { tokens: cap, atMs: t0 });
  mapR.set(k, { tokens: cap, atMs: perf.now() });
  mapA.set(k, { tokens: cap, atMs: perf.now() });
  mapK.set(k, { tokens: cap, atMs: perf.now() });
  mapQ.set(k, { tokens: cap, atMs: perf.now() });
  storeK.consumeSync(k, polK, 1, monotonicNow());
}
keys.forEach((k, i) => {
  slotsS.set(k, i);
  slabS[2 * i] = cap;
  slabS[2 * i + 1] = t0;
  slotsE.set(k, i);
  slabE[2 * i] = cap;
  slabE[2 * i + 1] = t0;
});
for (const k of keys) {
  realStore.consumeSync(k, polS, 1, monotonicNow());
  limS.consumeSync(k);
  await limA.consume(k);
  limW.consumeSync(k);
  limR.consumeSync(k);
}

interface Rung {
  name: string;
  run: (n: number, j0: number) => number | Promise<number>;
  n: number;
  ns: number[];
}
const rungs: Rung[] = [
  ["map", runMap],
  ["clock", runClock],
  ["bare math", runBareMath],
  ["bare (sync reference)", runBare],
  ["bare math on a slab", runBareSlab],
  ["evaluate", runEvaluate],
  ["  evaluate in the copies' runner", evalRunner("real")],
  ["  evaluate copy, the same statements", evalRunner("full")],
  ["  copy without the exact reset", evalRunner("noGuard")],
  ["  copy with the bare arithmetic only", evalRunner("minimal")],
  ["table", runTable],
  ["decision", runDecision],
  ["store (MemoryStore.consumeSync)", runStore],
  ["limiter (RateLimiter.consumeSync)", runLimiter],
  ["promise (await RateLimiter.consume)", runPromise],
  ["async fn around consumeSync, awaited", runAsyncWrap],
  ["Promise.resolve(consumeSync), awaited", runResolve],
  ["bare + await (async reference)", runBareAwait],
  ["bare + await, Decision-shaped result", runBareAwaitDecision],
  ["bare, result kept in a variable", runBareKept],
  ["store, Decision kept in a variable", runStoreKept],
].map(([name, run]) => ({ name, run, n: 10_000, ns: [] }) as Rung);

function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

async function timed(r: Rung): Promise<number> {
  // With many keys, one untimed pass first, so the rung's own keys and state are in the caches as in a run of it alone.
  if (KEYS > 1) await r.run(KEYS, 0);
  const a = cpuNs();
  const ok = await r.run(r.n, 0);
  const ns = cpuNs() - a;
  if (ok !== r.n) throw new Error(`${r.name}: ${ok} of ${r.n} allowed`);
  return ns;
}

// Warm-up and calibration: each rung's n sized to about ROUND_MS of CPU.
for (let w = 0; w < 4; w++) {
  for (const r of rungs) {
    const ns = await timed(r);
    r.n = Math.max(1000, Math.round((r.n * ROUND_MS * 1e6) / Math.max(ns, 1)));
  }
}
const load0 = loadavg()[0] as number;
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < rungs.length; k++) {
    const r = rungs[(k + round) % rungs.length] as Rung;
    r.ns.push((await timed(r)) / r.n);
  }
}
const load1 = loadavg()[0] as number;
if (sink === undefined) throw new Error("ladder: the kept results were never stored");
const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1] as number;
};
const q = (a: number[], f: number): number => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(f * (s.length - 1))] as number;
};
console.log(`keys ${KEYS}, ${ROUNDS} rounds, load ${load0.toFixed(2)} -> ${load1.toFixed(2)}, node ${process.version}`);
let prev = 0;
for (const r of rungs) {
  const m = median(r.ns);
  console.log(
    `${r.name.padEnd(38)} ${m.toFixed(1).padStart(7)} ns  (q1-q3 ${q(r.ns, 0.25).toFixed(1)}-${q(r.ns, 0.75).toFixed(1)})  step ${(m - prev).toFixed(1)}`,
  );
  prev = m;
}
