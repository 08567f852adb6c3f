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
  /** keys holds one Redis key per policy, in the policies' order (all in one hash slot). */
  readonly keys: readonly string[];
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
      return { script: l.script, keys: c.keys, args: nowMs === undefined ? [spec] : [spec, time, grace] };
    }
    // A lone call of another shape: its policies' ARGV section is built once and cached.
    return { script: DECIDE, keys: c.keys, args: [time, grace, ...loneArgs(c.op, c.policies), String(c.cost)] };
  }
  return batchArgs(time, grace, calls);
}

/** isLone tells whether a call alone in its script call runs its policy's lone script: a consume of one policy that is not live (a live policy has no lone script: decide.lua holds the migration, live.lua). */
function isLone(c: WireCall): boolean {
  return c.op === "c" && c.policies.length === 1 && !(c.policies[0] as Policy).live;
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
  const keys: string[] = [];
  const specArgs: string[] = [];
  const specIndex = new Map<Policy, number>();
  const setArgs: string[] = [];
  const setIndex: Map<readonly Policy[], number>[] = [new Map(), new Map(), new Map(), new Map()];
  const runArgs: string[] = [];
  let nSets = 0;
  let runs = 0;
  let runSet = 0;
  let runCost = -1;
  let runCount = 0;
  // runOf maps the key of each one-policy consume to the run that holds it (decide.lua only).
  const runOf = node ? undefined : new Map<string, number>();
  for (const c of calls) {
    const sets = setIndex[c.op === "c" ? 0 : c.op === "r" ? 1 : c.op === "d" ? 2 : 3] as Map<readonly Policy[], number>;
    // An all-or-nothing call ("a") carries its members' costs in its set: a set of its own, every time.
    let set = c.op === "a" ? undefined : sets.get(c.policies);
    if (set === undefined) {
      setArgs.push(c.op === "a" && c.dryRun ? "v" : c.op, String(c.policies.length));
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
      if (c.op === "a") {
        const m = c.members ?? [];
        for (const x of m) setArgs.push(String(x.cost));
        for (const x of m) setArgs.push(String(x.item * 2 + (x.shadow ? 1 : 0)));
      } else sets.set(c.policies, set);
    }
    const one = runOf !== undefined && c.op === "c" && c.keys.length === 1 ? (c.keys[0] as string) : undefined;
    if (set === runSet && c.cost === runCost && (one === undefined || runOf?.get(one) !== runs)) {
      runCount++;
    } else {
      if (runCount > 0) runArgs.push(String(runCount), String(runSet), String(runCost));
      runs++;
      runSet = set;
      runCost = c.cost;
      runCount = 1;
    }
    if (one !== undefined) runOf?.set(one, runs);
    const ks = c.keys;
    for (let i = 0; i < ks.length; i++) keys.push(ks[i] as string);
  }
  if (runCount > 0) runArgs.push(String(runCount), String(runSet), String(runCost));
  const tail = [String(specIndex.size), ...specArgs, String(nSets), ...setArgs, String(runs), ...runArgs];
  if (node) return { script: NODE, keys: keys.slice(0, 1), args: [time, grace, String(keys.length), ...keys, ...tail] };
  return { script: DECIDE, keys, args: [time, grace, ...tail] };
}

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
  const out: (Decision | undefined)[] = [];
  const at: Cursor = { i: 0 };
  for (const c of calls) {
    if (c.op !== "c" && c.op !== "a") {
      if (at.i >= reply.length) throw short(reply, at.i);
      at.i++;
      out.push(undefined);
      continue;
    }
    const n = c.policies.length;
    if (n === 1 && c.op === "c") {
      out.push(singleDecision(c.policies[0] as Policy, outcomeAt(reply, at)));
      continue;
    }
    if (at.i >= reply.length) throw short(reply, at.i);
    const allowed = reply[at.i] === 1 || reply[at.i] === "1";
    at.i++;
    const outs: Outcome[] = [];
    for (let j = 0; j < n; j++) outs.push(outcomeAt(reply, at));
    out.push(combineDecision(c.policies, outs, allowed));
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
