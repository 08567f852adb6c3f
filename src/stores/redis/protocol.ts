// protocol.ts: the TypeScript side of decide.lua's, node.lua's and lone.lua's KEYS/ARGV and reply layout (no I/O).

import { combineDecision, singleDecision } from "../../core/decision.js";
import { describe } from "../../core/errors.js";
import type { Decision, Outcome, Policy } from "../../core/policy.js";
import { STRATEGY_CODES } from "../../core/strategy.js";
import { DECIDE, LONE, type LuaScript, NODE } from "./scripts.generated.js";

/**
 * Op is a call's operation as decide.lua's sets name it: "c" consume (cost 0 is a peek), "r" refund, "d" reset,
 * "p" penalty, "a" all-or-nothing across keys (RedisStore.consumeAll).
 */
export type Op = "c" | "r" | "d" | "p" | "a";

/** WireCall is what one call puts on the wire: its op, its policies (in order), its cost and one key per policy. */
export interface WireCall {
  readonly op: Op;
  readonly policies: readonly Policy[];
  readonly cost: number;
  /**
   * keys holds one Redis key per policy, in the policies' order (all in one hash slot). A call of
   * one policy may give its key as a string instead (perf: no array per call; see keysOf).
   */
  readonly keys: string | readonly string[];
  /**
   * members ("a" only) holds, per policy, its item's cost, shadow flag and index (an item is one key
   * and its policies, all-or-nothing among themselves; its members are consecutive); `cost` is then 0.
   */
  readonly members?: readonly { readonly cost: number; readonly shadow: boolean; readonly item: number }[];
  /** dryRun ("a" only): decide and report every member, take nothing (decide.lua's set op "v"). */
  readonly dryRun?: boolean;
}

/** ScriptCall is one script call: which script, its KEYS and its ARGV. */
export interface ScriptCall {
  readonly script: LuaScript;
  readonly keys: readonly string[];
  readonly args: readonly string[];
}

/** SpecArgs are a policy's ARGV entries in decide.lua: its algorithm's code and three params ('0' for unused). */
type SpecArgs = readonly [code: string, p1: string, p2: string, p3: string];

/**
 * LoneSpec is a policy's lone-call script (lone.lua for its algorithm), its three params as one
 * text (`p1 p2 p3 `), and base: the power of 2 above the policy's limit by which lone.lua packs
 * an admitted outcome into one integer (`resetAfterMs * base + remaining`).
 */
interface LoneSpec {
  readonly script: LuaScript;
  readonly params: string;
  readonly base: number;
  /** tail is the spec's text after the cost: ` base`. */
  readonly tail: string;
}

/** PARAM_SLOTS is how many params decide.lua and lone.lua read per policy (p1 p2 p3). */
const PARAM_SLOTS = 3;

const specs = new WeakMap<Policy, SpecArgs>();
const loneSpecs = new WeakMap<Policy, LoneSpec>();

/**
 * specOf returns a policy's ARGV entries: `policy.algorithm.code`, then
 * `policy.params` as text, in the order the descriptor gives them (the Lua twin
 * reads them as p1, p2, p3). Numbers travel as JavaScript's shortest round-trip
 * decimal text, which Lua's tonumber reads back exactly. It throws for a policy
 * with more params than the scripts read (an algorithm added without widening
 * the layout), which registry validation keeps from happening at run time.
 */
export function specOf(policy: Policy): SpecArgs {
  let s = specs.get(policy);
  if (s !== undefined) return s;
  const p = policy.params;
  if (p.length > PARAM_SLOTS) {
    throw new Error(
      `floodgate: policy "${policy.name}" (${policy.algorithm.code}) has ${p.length} params; the Redis scripts read ${PARAM_SLOTS}.`,
    );
  }
  // A live policy's kind names its algorithm, version and strategy ('tb@3@p'; see live.lua).
  const code = policy.live
    ? `${policy.algorithm.code}@${policy.live.version}@${STRATEGY_CODES[policy.live.strategy]}`
    : policy.algorithm.code;
  s = [code, String(p[0] ?? 0), String(p[1] ?? 0), String(p[2] ?? 0)] as const;
  specs.set(policy, s);
  return s;
}

/** loneSpecOf returns a policy's lone-call script (LONE[algorithm.code]) and its params. */
function loneSpecOf(policy: Policy): LoneSpec {
  let l = loneSpecs.get(policy);
  if (l === undefined) {
    const s = specOf(policy);
    const script = LONE[s[0]];
    if (script === undefined) throw new Error(`floodgate: no lone script for algorithm "${s[0]}".`);
    const base = 2 ** Math.min(52, Math.max(1, Math.ceil(Math.log2(policy.limit + 1))));
    l = { script, params: `${s[1]} ${s[2]} ${s[3]} `, base, tail: ` ${base}` };
    loneSpecs.set(policy, l);
  }
  return l;
}

/**
 * encode returns the script call for `calls` (one or more, all on one slot, in
 * order), with `nowMs` (undefined: the script reads Redis's TIME) and `graceMs`
 * (whole ms added to TTLs; "0" with the server clock):
 *
 * - a lone consume (or peek) of one policy runs its algorithm's own script,
 *   lone.lua: `KEYS = [key]`, `ARGV = ["p1 p2 p3 cost base"]` with the server clock,
 *   `["p1 p2 p3 cost base", nowMs, graceMs]` with an injected one (each ARGV item
 *   costs Redis about 1,000 instructions; base, see LoneSpec);
 * - anything else runs decide.lua: `ARGV = [nowMs, graceMs, specs..., sets..., runs...]`
 *   (see batchArgs, and the header of decide.lua).
 */
export function encode(nowMs: number | undefined, graceMs: string, calls: readonly WireCall[]): ScriptCall {
  const time = nowMs === undefined ? "" : String(nowMs);
  const grace = nowMs === undefined ? "0" : graceMs;
  if (calls.length === 1 && (calls[0] as WireCall).op !== "a") {
    const c = calls[0] as WireCall;
    if (isLone(c)) {
      const l = loneSpecOf(c.policies[0] as Policy);
      const spec = l.params + String(c.cost) + l.tail;
      return { script: l.script, keys: keysOf(c), args: nowMs === undefined ? [spec] : [spec, time, grace] };
    }
    // A lone call of another shape: its policies' ARGV section is built once and cached.
    return { script: DECIDE, keys: keysOf(c), args: [time, grace, ...loneArgs(c.op, c.policies), String(c.cost)] };
  }
  return batchArgs(time, grace, calls);
}

/** isLone tells whether a call alone in its script call runs its policy's lone script: a consume of one policy that is not live (a live policy has no lone script: decide.lua holds the migration, live.lua). */
function isLone(c: WireCall): boolean {
  return c.op === "c" && c.policies.length === 1 && !(c.policies[0] as Policy).live;
}

/** keysOf returns a call's keys as an array (see WireCall.keys). */
export function keysOf(c: WireCall): readonly string[] {
  return typeof c.keys === "string" ? [c.keys] : c.keys;
}

/** LONE_ARGS caches, per op and policy array, decide.lua's ARGV section of a lone call up to its cost. */
const LONE_ARGS = {
  c: new WeakMap<readonly Policy[], string[]>(),
  r: new WeakMap(),
  d: new WeakMap(),
  p: new WeakMap(),
  a: new WeakMap(),
} as const;

/** loneArgs returns the ARGV of one call after the time and grace: its policies, one set, one run of one decision (cost to add). */
function loneArgs(op: Op, policies: readonly Policy[]): string[] {
  const cache = LONE_ARGS[op] as WeakMap<readonly Policy[], string[]>;
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
 * encodeNode returns node.lua's script call for `calls` (in order) whose keys lie
 * in several slots of one Cluster node: KEYS is the first call's first key (it
 * routes the call), and ARGV is decide.lua's with the keys' count and the keys
 * inserted after the time and grace: `[nowMs, graceMs, nKeys, keys..., specs...,
 * sets..., runs...]`. The reply is decide.lua's.
 */
export function encodeNode(nowMs: number | undefined, graceMs: string, calls: readonly WireCall[]): ScriptCall {
  const time = nowMs === undefined ? "" : String(nowMs);
  return batchArgs(time, nowMs === undefined ? "0" : graceMs, calls, true);
}

/**
 * batchArgs returns decide.lua's script call for several calls (node.lua's with `node`): each policy
 * and each (op, policies) set goes once into ARGV, and consecutive decisions
 * of the same set and cost go as one run (count, set, cost). Sets are told
 * apart by the identity of their policy array (RateLimiter passes the same
 * frozen array on every call); two equal arrays are two sets, which is only
 * less compact. For decide.lua, a consume of one policy whose key the run
 * already holds starts a new run: decide.lua reads a run's keys with one MGET
 * before it writes any, so its keys must be distinct (node.lua reads every key
 * up front and keeps them current itself).
 */
function batchArgs(time: string, grace: string, calls: readonly WireCall[], node = false): ScriptCall {
  // Perf: the ARGV sections are built in module scratch (B: no array per batch, one Map of the
  // run keys), and KEYS and ARGV at their exact length; see docs/redis.md, "Allocations per
  // decision" and "Tail latency".
  let nKeys = 0;
  for (let k = 0; k < calls.length; k++) {
    const ks = (calls[k] as WireCall).keys;
    nKeys += typeof ks === "string" ? 1 : ks.length;
  }
  const keys = new Array<string>(nKeys);
  const b = B;
  b.reset(node);
  try {
    let nk = 0;
    for (let k = 0; k < calls.length; k++) {
      const c = calls[k] as WireCall;
      b.add(c);
      const ks = c.keys;
      if (typeof ks === "string") keys[nk++] = ks;
      else for (let i = 0; i < ks.length; i++) keys[nk++] = ks[i] as string;
    }
    b.endRun();
    const head = node ? 3 + nKeys : 2;
    const args = new Array<string>(head + 3 + b.specs.n + b.sets.n + b.runs.n);
    args[0] = time;
    args[1] = grace;
    let a = 2;
    if (node) {
      args[a++] = String(nKeys);
      for (let i = 0; i < nKeys; i++) args[a++] = keys[i] as string;
    }
    args[a++] = String(b.specCount);
    a = b.specs.copyTo(args, a);
    args[a++] = String(b.setCount);
    a = b.sets.copyTo(args, a);
    args[a++] = String(b.runCount);
    b.runs.copyTo(args, a);
    if (node) return { script: NODE, keys: nKeys > 0 ? [keys[0] as string] : [], args };
    return { script: DECIDE, keys, args };
  } finally {
    b.clear();
  }
}

/** Strings is a list of strings kept between uses: `n` counts the ones in use. */
class Strings {
  readonly list: string[] = [];
  n = 0;

  push(s: string): void {
    this.list[this.n++] = s;
  }

  /** copyTo copies the strings in use to `out` from index `at`, and returns the index after them. */
  copyTo(out: string[], at: number): number {
    const l = this.list;
    for (let i = 0; i < this.n; i++) out[at++] = l[i] as string;
    return at;
  }
}

/** LINEAR_MAX is how many policies or sets batchArgs looks up by a scan before it keeps a Map of them. */
const LINEAR_MAX = 8;

/**
 * BatchScratch builds decide.lua's specs, sets and runs sections for batchArgs, in memory kept
 * between batches: policies and sets are found by a short scan (a Map past LINEAR_MAX of
 * them), and the keys of runs in a Map of the batch's own. batchArgs runs to its end (or throws)
 * before anything else runs, so one scratch serves every store; clear() drops its references.
 */
class BatchScratch {
  readonly specs = new Strings();
  readonly sets = new Strings();
  readonly runs = new Strings();
  specCount = 0;
  setCount = 0;
  runCount = 0;
  /** specPolicies holds the batch's policies in spec order (spec i + 1 is specPolicies[i]). */
  readonly specPolicies: Policy[] = [];
  specMap: Map<Policy, number> | undefined;
  /** setPolicies and setOps hold each set's policy array and op (undefined and "a" for an all-or-nothing set). */
  readonly setPolicies: (readonly Policy[] | undefined)[] = [];
  readonly setOps: Op[] = [];
  setMap: Map<string, Map<readonly Policy[], number>> | undefined;
  runSet = 0;
  runCost = -1;
  runLength = 0;
  /**
   * runOf maps the key of each one-policy consume to the run that holds it (decide.lua only;
   * undefined for node.lua). A string hash in JavaScript (FNV-1a) was tried instead and cost
   * more CPU than the Map's allocation saved. A new Map per batch, not one long-lived Map
   * cleared after each: V8's Map.clear leaves the old hash table pointing at its successor, so
   * an old table already promoted kept the next batch's table (and its keys) alive through
   * every scavenge, and the chain grew until a full GC (see docs/redis.md, "Tail latency").
   */
  runOf: Map<string, number> | undefined;

  reset(node: boolean): void {
    this.specs.n = 0;
    this.sets.n = 0;
    this.runs.n = 0;
    this.specCount = 0;
    this.setCount = 0;
    this.runCount = 0;
    this.runSet = 0;
    this.runCost = -1;
    this.runLength = 0;
    this.runOf = node ? undefined : new Map();
  }

  /** add puts one call into the sections: its set (and policies) if new, then into the current run or a new one. */
  add(c: WireCall): void {
    // An all-or-nothing call ("a") carries its members' costs in its set: a set of its own, every time.
    let set = c.op === "a" ? 0 : this.#findSet(c.op, c.policies);
    if (set === 0) {
      const sets = this.sets;
      sets.push(c.op === "a" && c.dryRun ? "v" : c.op);
      sets.push(String(c.policies.length));
      for (let i = 0; i < c.policies.length; i++) sets.push(String(this.#spec(c.policies[i] as Policy)));
      set = ++this.setCount;
      if (c.op === "a") {
        const m = c.members ?? [];
        for (let i = 0; i < m.length; i++) sets.push(String((m[i] as NonNullable<WireCall["members"]>[number]).cost));
        for (let i = 0; i < m.length; i++) {
          const x = m[i] as NonNullable<WireCall["members"]>[number];
          sets.push(String(x.item * 2 + (x.shadow ? 1 : 0)));
        }
        this.#keepSet(undefined, "a");
      } else this.#keepSet(c.policies, c.op);
    }
    const ks = c.keys;
    const single = typeof ks === "string" || ks.length === 1;
    const runOf = this.runOf !== undefined && c.op === "c" && single ? this.runOf : undefined;
    const one = runOf === undefined ? "" : typeof ks === "string" ? ks : (ks[0] as string);
    if (set === this.runSet && c.cost === this.runCost && (runOf === undefined || runOf.get(one) !== this.runCount)) {
      this.runLength++;
    } else {
      this.endRun();
      this.runCount++;
      this.runSet = set;
      this.runCost = c.cost;
      this.runLength = 1;
    }
    runOf?.set(one, this.runCount);
  }

  /** endRun writes the current run (count, set, cost), if any. */
  endRun(): void {
    if (this.runLength > 0) {
      this.runs.push(String(this.runLength));
      this.runs.push(String(this.runSet));
      this.runs.push(String(this.runCost));
      this.runLength = 0;
    }
  }

  /** #findSet returns the number of the set of `op` and `policies` (by identity), or 0 if there is none yet. */
  #findSet(op: Op, policies: readonly Policy[]): number {
    if (this.setMap !== undefined) return this.setMap.get(op)?.get(policies) ?? 0;
    const ps = this.setPolicies;
    for (let i = 0; i < this.setCount; i++) if (ps[i] === policies && this.setOps[i] === op) return i + 1;
    return 0;
  }

  /** #keepSet records the set just numbered setCount (policies undefined: an all-or-nothing set, never found again). */
  #keepSet(policies: readonly Policy[] | undefined, op: Op): void {
    const n = this.setCount;
    this.setPolicies[n - 1] = policies;
    this.setOps[n - 1] = op;
    if (this.setMap !== undefined) this.#mapSet(op, policies, n);
    else if (n > LINEAR_MAX) {
      this.setMap = new Map();
      for (let i = 0; i < n; i++) this.#mapSet(this.setOps[i] as Op, this.setPolicies[i], i + 1);
    }
  }

  /** #mapSet puts set number `n` of `op` and `policies` into setMap. */
  #mapSet(op: Op, policies: readonly Policy[] | undefined, n: number): void {
    if (policies === undefined) return;
    const byOp = this.setMap as Map<string, Map<readonly Policy[], number>>;
    const m = byOp.get(op) ?? new Map<readonly Policy[], number>();
    m.set(policies, n);
    byOp.set(op, m);
  }

  /** #spec returns the spec number of `p`, adding its ARGV entries (specOf) the first time. */
  #spec(p: Policy): number {
    const ps = this.specPolicies;
    if (this.specMap !== undefined) {
      const found = this.specMap.get(p);
      if (found !== undefined) return found;
    } else {
      for (let i = 0; i < this.specCount; i++) if (ps[i] === p) return i + 1;
    }
    const s = specOf(p);
    for (let i = 0; i < s.length; i++) this.specs.push(s[i] as string);
    ps[this.specCount++] = p;
    const n = this.specCount;
    if (this.specMap !== undefined) this.specMap.set(p, n);
    else if (n > LINEAR_MAX) {
      this.specMap = new Map();
      for (let i = 0; i < n; i++) this.specMap.set(ps[i] as Policy, i + 1);
    }
    return n;
  }

  /** clear drops every reference to the batch's policies and strings (they may be collected). */
  clear(): void {
    this.specPolicies.fill(undefined as unknown as Policy, 0, this.specCount);
    this.setPolicies.fill(undefined, 0, this.setCount);
    this.specs.list.fill("", 0, this.specs.n);
    this.sets.list.fill("", 0, this.sets.n);
    this.runs.list.fill("", 0, this.runs.n);
    this.specMap = undefined;
    this.setMap = undefined;
    this.runOf = undefined;
  }
}

/** B is batchArgs' one scratch. */
const B = new BatchScratch();

/** SCRIPTS lists every script the store runs: decide.lua, node.lua and each algorithm's lone script. */
export const SCRIPTS: readonly LuaScript[] = Object.freeze([DECIDE, NODE, ...Object.values(LONE)]);

/**
 * loadCalls returns, for every script, a script call that loads it and changes
 * nothing, routed to `routeKey`'s slot (a key of the form
 * `${prefix}{${tag}}:${policyId}`): decide.lua and node.lua with no keys, policies, sets or runs
 * (their KEYS are not read), and each lone script as a peek (cost 0) of a key
 * that is never written (`${routeKey}:load`, same hash tag), which reads
 * nothing and writes nothing. RedisStore sends them by EVAL, which caches the
 * script, when the adapter has no scriptLoad().
 */
export function loadCalls(routeKey: string): ScriptCall[] {
  return SCRIPTS.map((script) =>
    script === DECIDE
      ? { script, keys: [routeKey], args: ["", "0", "0", "0", "0"] }
      : script === NODE
        ? { script, keys: [routeKey], args: ["", "0", "0", "0", "0", "0"] }
        : { script, keys: [`${routeKey}:load`], args: ["1 1 1 0 2"] },
  );
}

/**
 * decode turns the reply to `calls` into each call's answer, in order: a
 * Decision per consume or peek, undefined per refund, reset or penalty. The reply
 * is walked, as its items' count depends on the verdicts: per policy outcome,
 * `remaining, resetAfterMs` when admitted (retryAfterMs is 0), or `-1 - remaining,
 * retryAfterMs, resetAfterMs` when refused (the sign tells them apart); a consume of
 * one policy is that outcome alone, a consume of n > 1 policies and an
 * all-or-nothing call of n members the decision's allowed (1/0) then n outcomes,
 * a refund, reset or penalty 1. An all-or-nothing call's Decision lists each member in
 * `policies` (its own verdict), in order. It throws an Error naming the reply when
 * it is not an array of that layout (too short, too long, an item that is not a
 * number or a negative wait); numbers are read with Number(), so integer replies
 * of any client (numbers, numeric strings) decode alike. A lone consume of one policy
 * (lone.lua) that is admitted may come as one integer instead (see packedOutcome).
 */
export function decode(calls: readonly WireCall[], reply: unknown): (Decision | undefined)[] {
  if (!Array.isArray(reply)) {
    const c = calls[0];
    if (calls.length === 1 && c !== undefined && isLone(c)) {
      const policy = c.policies[0] as Policy;
      return [singleDecision(policy, packedOutcome(reply, loneSpecOf(policy).base))];
    }
    throw new Error(`floodgate: unexpected script reply ${describe(reply)}.`);
  }
  // Perf: an answer array of the exact length (pushing into [] grows it 16, 40, 76... slots).
  const out = new Array<Decision | undefined>(calls.length);
  const at: Cursor = { i: 0 };
  for (let k = 0; k < calls.length; k++) {
    const c = calls[k] as WireCall;
    if (c.op !== "c" && c.op !== "a") {
      if (at.i >= reply.length) throw short(reply, at.i);
      at.i++;
      out[k] = undefined;
      continue;
    }
    const n = c.policies.length;
    if (n === 1 && c.op === "c") {
      out[k] = singleDecision(c.policies[0] as Policy, outcomeAt(reply, at));
      continue;
    }
    if (at.i >= reply.length) throw short(reply, at.i);
    const allowed = reply[at.i] === 1 || reply[at.i] === "1";
    at.i++;
    const outs: Outcome[] = [];
    for (let j = 0; j < n; j++) outs.push(outcomeAt(reply, at));
    out[k] = combineDecision(c.policies, outs, allowed);
  }
  if (at.i !== reply.length) {
    throw new Error(
      `floodgate: unexpected script reply ${describe(reply)}; ${reply.length - at.i} integers after the last answer.`,
    );
  }
  return out;
}

/**
 * packedOutcome reads a lone call's admitted outcome packed in one integer, `resetAfterMs *
 * base + remaining` (below 2^53, so exact; see lone.lua). It throws for a reply that is not a
 * whole number >= 0 below 2^53 (number, numeric string or bigint, as clients give integers).
 */
function packedOutcome(reply: unknown, base: number): Outcome {
  const n = typeof reply === "number" || typeof reply === "string" || typeof reply === "bigint" ? Number(reply) : NaN;
  if (!(Number.isSafeInteger(n) && n >= 0)) throw new Error(`floodgate: unexpected script reply ${describe(reply)}.`);
  const remaining = n % base;
  return { allowed: true, remaining, retryAfterMs: 0, resetAfterMs: (n - remaining) / base };
}

/** Cursor is decode's position in a reply. */
interface Cursor {
  i: number;
}

/** short is the error for a reply that ends at index i, before its last answer. */
function short(reply: unknown[], i: number): Error {
  return new Error(`floodgate: unexpected script reply ${describe(reply)}; it ends at ${i}, before its last answer.`);
}

/**
 * outcomeAt reads one policy's outcome at the cursor and moves past it: `remaining,
 * resetAfterMs` when admitted, `-1 - remaining, retryAfterMs, resetAfterMs` when
 * refused. It throws for a reply that ends early or holds a wait that is not >= 0.
 */
function outcomeAt(reply: unknown[], at: Cursor): Outcome {
  const i = at.i;
  const first = Number(reply[i]);
  const allowed = first >= 0;
  const end = allowed ? i + 2 : i + 3;
  if (end > reply.length) throw short(reply, i);
  const remaining = allowed ? first : -1 - first;
  const retryAfterMs = allowed ? 0 : Number(reply[i + 1]);
  const resetAfterMs = Number(reply[end - 1]);
  at.i = end;
  // NaN fails every comparison: a reply item that is not a number is refused here.
  if (!(remaining >= 0 && retryAfterMs >= 0 && resetAfterMs >= 0)) {
    throw new Error(`floodgate: unexpected script reply ${describe(reply.slice(i, end).join(","))} at ${i}.`);
  }
  return { allowed, remaining, retryAfterMs, resetAfterMs };
}
