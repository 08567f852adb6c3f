// spec.ts: the text forms of policies, traffic and goals used by `floodgate simulate` ("tokenBucket(capacity=10, refillRate=2)").

import { describe, FloodgateRangeError, FloodgateTypeError } from "../core/errors.js";
import type { Policy } from "../core/policy.js";
import { ALGORITHMS } from "../core/registry.js";
import type { AdviseGoals } from "./advise.js";
import type { SimPolicy, Tier } from "./run.js";
import type { TrafficOptions } from "./traffic.js";

/** Call is a parsed `name(key=value, ...)`. */
export interface Call {
  readonly name: string;
  readonly args: Readonly<Record<string, string>>;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** specError builds the coded error of a bad spec: what was parsed, where, and the fix. */
function specError(what: string, text: string, problem: string, fix: string): FloodgateTypeError {
  return new FloodgateTypeError(
    "ERR_INVALID_OPTION",
    `floodgate: ${what} ${JSON.stringify(text)}: ${problem}; ${fix}.`,
  );
}

/** parseArgList parses `key=value, key=value` (values may not contain commas or parentheses). */
export function parseArgList(what: string, text: string): Record<string, string> {
  const args: Record<string, string> = {};
  if (text.trim() === "") return args;
  for (const part of text.split(",")) {
    const eq = part.indexOf("=");
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (eq < 0 || !/^[A-Za-z][A-Za-z0-9]*$/.test(key) || value === "") {
      throw specError(
        what,
        text,
        `${JSON.stringify(part.trim())} is not key=value`,
        "write options as key=value, separated by commas, such as capacity=10, refillRate=2",
      );
    }
    if (key in args) throw specError(what, text, `${key} is given twice`, "give each option once");
    args[key] = value;
  }
  return args;
}

/** parseCall parses `name(key=value, ...)`. */
export function parseCall(what: string, text: string): Call {
  const m = /^\s*([A-Za-z][A-Za-z0-9]*)\s*\(([^()]*)\)\s*$/.exec(text);
  if (m === null) {
    throw specError(
      what,
      text,
      "expected name(key=value, ...)",
      "write it as a call, such as tokenBucket(capacity=10, refillRate=2)",
    );
  }
  return { name: m[1] as string, args: parseArgList(what, m[2] as string) };
}

/**
 * parseValue reads one option value: a number (`1_000`, `2.5`, `1e6`, a fraction `10/13`),
 * a duration with a unit for options ending in "Ms" (`500ms`, `30s`, `1m`, `2h`, `1d`), or a
 * percentage (`0.1%`) where `percent` is allowed.
 */
export function parseValue(what: string, key: string, text: string, percent = false): number {
  const s = text.replace(/_/g, "").trim();
  let m = /^([0-9.eE+-]+)\s*\/\s*([0-9.eE+-]+)$/.exec(s);
  if (m) {
    const v = Number(m[1]) / Number(m[2]);
    if (Number.isFinite(v)) return v;
  }
  if (percent) {
    m = /^([0-9.eE+-]+)\s*%$/.exec(s);
    if (m && Number.isFinite(Number(m[1]))) return Number(m[1]) / 100;
  }
  if (key.endsWith("Ms")) {
    m = /^([0-9.eE+-]+)\s*(ms|s|m|min|h|d)$/.exec(s);
    if (m && Number.isFinite(Number(m[1]))) return Number(m[1]) * (UNITS[m[2] as string] as number);
  }
  const v = Number(s);
  if (s === "" || !Number.isFinite(v)) {
    throw specError(
      what,
      `${key}=${text}`,
      `${describe(text)} is not a number`,
      key.endsWith("Ms")
        ? "pass milliseconds or a duration such as 500ms, 30s, 1m, 2h, 1d"
        : percent
          ? "pass a number, such as 0.001, or a percentage, such as 0.1%"
          : "pass a number, such as 10, 2.5 or 10/13",
    );
  }
  return v;
}

/** FACTORIES lists the policy factory names the registry knows, for messages. */
const FACTORIES = [...new Set(ALGORITHMS.map((a) => a.factory))];

/**
 * parsePolicyCall builds a policy from `factory(option=value, ...)`, through
 * the algorithm's descriptor in the registry (so every algorithm is known
 * without being listed here). `name` takes a word, the other options numbers.
 */
export function parsePolicyCall(what: string, text: string): Policy {
  const call = parseCall(what, text);
  const descriptors = ALGORITHMS.filter((a) => a.factory === call.name);
  if (descriptors.length === 0) {
    throw specError(what, text, `unknown policy ${JSON.stringify(call.name)}`, `use one of ${FACTORIES.join(", ")}`);
  }
  const options: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(call.args)) options[k] = k === "name" ? v : parseValue(what, k, v);
  let first: unknown;
  for (const d of descriptors) {
    try {
      return d.create(options);
    } catch (err) {
      // A descriptor of another form of the same factory (the stepped token bucket) refuses with ERR_INVALID_POLICY.
      first ??= err;
      if ((err as { code?: string }).code !== "ERR_INVALID_POLICY") break;
    }
  }
  throw rewrap(what, text, first);
}

/**
 * rewrap returns `err` (a coded floodgate error) with a message that starts
 * with where its value came from (`simulate --traffic "..."`), keeping its
 * class and code; anything else is returned as is.
 */
export function rewrap(what: string, text: string, err: unknown): unknown {
  const e = err as Error & { code?: string };
  if (typeof e?.code !== "string" || !(e instanceof Error)) return err;
  const Err = e instanceof RangeError ? FloodgateRangeError : FloodgateTypeError;
  return new Err(
    e.code as "ERR_INVALID_OPTION",
    `floodgate: ${what} ${JSON.stringify(text.trim())}: ${e.message.replace(/^floodgate: /, "")}`,
    {
      cause: err,
    },
  );
}

/** parseCombo parses policies joined by "+" (all-or-nothing). */
function parseCombo(what: string, text: string): Policy | Policy[] {
  const parts = text.split("+").map((p) => parsePolicyCall(what, p));
  return parts.length === 1 ? (parts[0] as Policy) : parts;
}

/**
 * parsePolicySpec reads a simulated policy:
 * `fixedWindow(limit=100, windowMs=1m)` — one policy;
 * `tokenBucket(capacity=10, refillRate=10) + fixedWindow(limit=1000, windowMs=1d)` — all-or-nothing;
 * `... ; paid:* => tokenBucket(capacity=100, refillRate=20)` — keys starting "paid:" get their own tier.
 */
export function parsePolicySpec(what: string, text: string): SimPolicy {
  const [head, ...tierTexts] = text.split(";");
  const policy = parseCombo(what, head as string);
  const tiers: Tier[] = tierTexts.map((t) => {
    const arrow = t.indexOf("=>");
    const match = t.slice(0, arrow).trim();
    if (arrow < 0 || match === "") {
      throw specError(
        what,
        t.trim(),
        "a tier needs a key prefix, =>, and its policy",
        "write it as paid:* => tokenBucket(capacity=100, refillRate=20)",
      );
    }
    return { match, policy: parseCombo(what, t.slice(arrow + 2)) };
  });
  return tiers.length > 0 ? { policy, tiers } : { policy };
}

const WORD_OPTIONS = new Set(["shape", "keyPrefix"]);

/** parseTrafficSpec reads generated traffic: `poisson(rate=50, durationMs=1h, clients=100, seed=7)`; the call's name is the shape. */
export function parseTrafficSpec(what: string, text: string): TrafficOptions {
  const call = parseCall(what, text);
  const options: Record<string, unknown> = { shape: call.name };
  for (const [k, v] of Object.entries(call.args)) options[k] = WORD_OPTIONS.has(k) ? v : parseValue(what, k, v);
  return options as unknown as TrafficOptions;
}

/** parseGoals reads advice goals: `maxRefusedShare=0.1%, percentile=99, maxPerWindow=100, windowMs=1m`. */
export function parseGoals(what: string, text: string): AdviseGoals {
  const args = parseArgList(what, text);
  const goals: Record<string, number> = {};
  for (const [k, v] of Object.entries(args)) goals[k] = parseValue(what, k, v, k === "maxRefusedShare");
  return goals as AdviseGoals;
}
