// load.ts: reads the shared decision vectors and builds their policies.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { combineDecision } from "../../src/core/decision.js";
import {
  type Applied,
  applyPolicy,
  type Decision,
  fixedWindow,
  gcra,
  leakyBucket,
  live,
  type Policy,
  refundPolicy,
  replaceLive,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from "../../src/index.js";

export interface PolicySpec {
  factory: "tokenBucket" | "gcra" | "leakyBucket" | "fixedWindow" | "slidingWindow" | "slidingLog";
  options: Record<string, unknown>;
}

export interface Want {
  allowed?: boolean;
  remaining?: number;
  retryAfterMs?: number;
  resetAfterMs?: number;
  policy?: string;
  error?: string;
  /** policies, for several policies, lists each policy's own verdict in the order given (optional). */
  policies?: Omit<Want, "policies" | "error">[];
}

export interface Step {
  step: number;
  at: number;
  op?: "consume" | "peek" | "refund" | "reset" | "replace";
  /** policy is the new policy of a "replace" step (replacing the case's first policy, or `target`). */
  policy?: PolicySpec;
  /** strategy is the strategy of a "replace" step. */
  strategy?: "reset" | "as-is" | "proportional" | "additive";
  /** target names the policy a "replace" step replaces (default: the first). */
  target?: string;
  key?: string;
  cost?: number;
  want?: Want;
  why: string;
}

export interface VectorCase {
  name: string;
  policy?: PolicySpec;
  policies?: PolicySpec[];
  /** live wraps the case's policies with live(), so "replace" steps can replace them. */
  live?: boolean;
  steps: Step[];
}

export interface VectorFile {
  file: string;
  algorithm: string;
  cases: VectorCase[];
}

const factories = { tokenBucket, gcra, leakyBucket, fixedWindow, slidingWindow, slidingLog } as const;

/**
 * optionValue reads one option value. JSON cannot hold a rate such as 10/13
 * exactly, so an option may be written `{ "div": [10, 13] }`: the double nearest
 * 10 / 13, as `10 / 13` computes it in JavaScript and Lua.
 */
export function optionValue(v: unknown): unknown {
  if (typeof v === "object" && v !== null && !Array.isArray(v) && "div" in v) {
    const d = (v as { div: unknown }).div;
    if (!Array.isArray(d) || d.length !== 2 || typeof d[0] !== "number" || typeof d[1] !== "number") {
      throw new Error(`vector option ${JSON.stringify(v)} must be { "div": [numerator, denominator] }`);
    }
    return d[0] / d[1];
  }
  return v;
}

/** buildPolicies returns the case's policies, built with the public factories. */
export function buildPolicies(c: VectorCase): Policy[] {
  const specs = c.policies ?? (c.policy ? [c.policy] : []);
  if (specs.length === 0) throw new Error(`vector case "${c.name}" has no policy`);
  return specs.map((s) => (c.live ? live(buildPolicy(s)) : buildPolicy(s)));
}

/** buildPolicy builds one policy spec with its public factory. */
export function buildPolicy(s: PolicySpec): Policy {
  const options: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s.options)) options[k] = optionValue(v);
  return (factories[s.factory] as (o: unknown) => Policy)(options);
}

/** replaceIndex returns the index of the policy a "replace" step replaces. */
export function replaceIndex(policies: readonly Policy[], s: Step): number {
  if (s.target === undefined) return 0;
  const i = policies.findIndex((p) => p.name === s.target);
  if (i < 0) throw new Error(`step ${s.step}: no policy named ${s.target}`);
  return i;
}

/** loadVectors reads every test/vectors/*.json file. */
export function loadVectors(): VectorFile[] {
  const dir = dirname(fileURLToPath(import.meta.url));
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({ file: f, ...(JSON.parse(readFileSync(join(dir, f), "utf8")) as Omit<VectorFile, "file">) }));
}

/** describeStep renders a step for failure messages: `step 3: consume(at=200, cost=2)`. */
export function describeStep(s: Step): string {
  return `step ${s.step}: ${s.op ?? "consume"}(key=${JSON.stringify(s.key ?? "k")}, at=${s.at}, cost=${s.cost ?? 1})`;
}

/** fromDecision renders a Decision in the shape of a Want, for comparison. */
export function fromDecision(d: Decision): Want {
  return {
    allowed: d.allowed,
    remaining: d.remaining,
    retryAfterMs: d.retryAfterMs,
    resetAfterMs: d.resetAfterMs,
    policy: d.policy,
    policies: d.policies.map((p) => ({
      allowed: p.allowed,
      remaining: p.remaining,
      retryAfterMs: p.retryAfterMs,
      resetAfterMs: p.resetAfterMs,
      policy: p.policy.name,
    })),
  };
}

/** errorCode renders a thrown error as a Want: its stable code. */
export function errorCode(e: unknown): Want {
  return { error: (e as { code?: string }).code ?? String(e) };
}

/**
 * PureEngine runs a case on the pure core: applyPolicy per policy, all-or-nothing
 * across policies (a denial keeps every state; the policies that would have
 * admitted the cost are reported as they stand, as with a peek).
 */
export class PureEngine {
  readonly #states = new Map<string, (readonly number[] | null)[]>();
  constructor(readonly policies: Policy[]) {}
  #get(key: string): (readonly number[] | null)[] {
    let s = this.#states.get(key);
    if (s === undefined) {
      s = this.policies.map(() => null);
      this.#states.set(key, s);
    }
    return s;
  }
  step(s: Step): Want | undefined {
    const key = s.key ?? "k";
    const op = s.op ?? "consume";
    const states = this.#get(key);
    try {
      if (op === "replace") {
        const i = replaceIndex(this.policies, s);
        this.policies[i] = replaceLive(this.policies[i] as Policy, buildPolicy(s.policy as PolicySpec), {
          strategy: s.strategy,
        });
        return undefined;
      }
      if (op === "reset") {
        this.#states.delete(key);
        return undefined;
      }
      if (op === "refund") {
        const cost = s.cost ?? 1;
        this.#checkLimit(cost);
        this.#states.set(
          key,
          this.policies.map((p, i) => refundPolicy(p, states[i] ?? null, s.at, cost)),
        );
        return undefined;
      }
      const cost = op === "peek" ? 0 : (s.cost ?? 1);
      this.#checkLimit(cost);
      const applied = this.policies.map((p, i) => applyPolicy(p, states[i] ?? null, s.at, cost));
      const allowed = applied.every((a) => a.allowed);
      const outs: Applied[] = applied.map((a, i) =>
        allowed || !a.allowed ? a : applyPolicy(this.policies[i] as Policy, states[i] ?? null, s.at, 0),
      );
      // The states to keep: admitted, the new ones; denied, each as it was, or rebased (a clock gone back).
      this.#states.set(
        key,
        outs.map((a) => a.state),
      );
      return fromDecision(combineDecision(this.policies, outs, allowed));
    } catch (e) {
      return errorCode(e);
    }
  }
  #checkLimit(cost: number): void {
    // RateLimiter checks every policy before touching any; do the same here.
    for (const p of this.policies) if (cost > p.limit) applyPolicy(p, null, 0, cost);
  }
}

/** pick keeps the fields the step's want names, so a row may check only some of them. */
export function pick(want: Want | undefined, got: Want | undefined): Want | undefined {
  if (want === undefined || got === undefined) return got;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(want) as (keyof Want)[]) {
    if (k === "policies" && want.policies && got.policies) {
      out.policies = want.policies.map((w, i) => pick(w, got.policies?.[i]));
    } else {
      out[k] = got[k];
    }
  }
  return out as Want;
}

/** replayTable runs steps on the pure core and returns each step with what it produced, keeping only wanted fields. */
export function replayTable(policies: Policy[], steps: Step[]): { step: Step; got: Want | undefined }[] {
  const engine = new PureEngine(policies);
  return steps.map((step) => ({ step, got: pick(step.want, engine.step(step)) }));
}
