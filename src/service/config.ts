// config.ts: the service's limits: envoyproxy/ratelimit's YAML (domains, nested descriptors) plus floodgate's
// extensions, checked with the file, line and fix; and the matching of a request's descriptors to rules.

import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml";
import { describe, FloodgateTypeError } from "../core/errors.js";
import { fixedWindow } from "../core/fixed-window.js";
import { gcra } from "../core/gcra.js";
import { leakyBucket } from "../core/leaky-bucket.js";
import type { Policy } from "../core/policy.js";
import { slidingLog } from "../core/sliding-log.js";
import { slidingWindow } from "../core/sliding-window.js";
import { tokenBucket } from "../core/token-bucket.js";
import { suggest } from "../core/validate.js";

/** UNITS maps a `rate_limit.unit` to its length in ms and its number in Envoy's RateLimit.Unit enum. */
export const UNITS = {
  second: { ms: 1_000, code: 1 },
  minute: { ms: 60_000, code: 2 },
  hour: { ms: 3_600_000, code: 3 },
  day: { ms: 86_400_000, code: 4 },
  week: { ms: 7 * 86_400_000, code: 7 },
  month: { ms: 30 * 86_400_000, code: 5 },
  year: { ms: 365 * 86_400_000, code: 6 },
} as const;

/** Unit is a `rate_limit.unit`. */
export type Unit = keyof typeof UNITS;

/** UNIT_BY_CODE maps Envoy's unit numbers (RateLimitUnit and RateLimitResponse.RateLimit.Unit) to units. */
export const UNIT_BY_CODE: ReadonlyMap<number, Unit> = new Map(
  (Object.keys(UNITS) as Unit[]).map((u) => [UNITS[u].code, u] as const),
);

/** ALGORITHM_NAMES are the values of the `algorithm` extension (snake_case, as the rest of the file). */
export const ALGORITHM_NAMES = [
  "fixed_window",
  "sliding_window",
  "sliding_log",
  "token_bucket",
  "gcra",
  "leaky_bucket",
] as const;

/** AlgorithmName is one of ALGORITHM_NAMES. */
export type AlgorithmName = (typeof ALGORITHM_NAMES)[number];

/**
 * Rule is one limit of the configuration: a node of a domain's descriptor tree
 * with a `rate_limit` (or `unlimited`). `policies` is the one-policy array the
 * limiter decides with, built once so that every call passes the same frozen array.
 */
export interface Rule {
  /** path is where the rule sits, such as `api/remote_address/path=/login` (for messages, metrics and logs). */
  readonly path: string;
  /** name is the rule's `rate_limit.name` (what `replaces` refers to), if any. */
  readonly name: string | undefined;
  readonly unit: Unit;
  readonly requestsPerUnit: number;
  readonly algorithm: AlgorithmName;
  /** unlimited rules match (so a more general rule does not) and never limit. */
  readonly unlimited: boolean;
  /** shadow rules are decided and reported but never make a response OVER_LIMIT. */
  readonly shadow: boolean;
  /** replaces lists the names of rules this one replaces when both match one request. */
  readonly replaces: readonly string[];
  /** policies is undefined for an unlimited rule, and for a request's override of 0 (see refusesAll). */
  readonly policies: readonly Policy[] | undefined;
  /** line is the rule's line in its file (1-based); 0 for a request's override (see overrideRule). */
  readonly line: number;
}

/** Level is one level of a descriptor tree: its entries by key and value, its wildcards, its value-less keys. */
interface Level {
  /** exact maps `key\u0000value` to its node. */
  readonly exact: Map<string, TreeNode>;
  /** wildcards are the values ending in `*`, in file order: the first whose prefix matches wins. */
  readonly wildcards: { readonly key: string; readonly prefix: string; readonly node: TreeNode }[];
  /** byKey maps a key written without a value (one limit per distinct value) to its node. */
  readonly byKey: Map<string, TreeNode>;
}

interface TreeNode {
  readonly rule: Rule | undefined;
  readonly children: Level | undefined;
}

/** Domain is one `domain` of the configuration. */
export interface Domain {
  readonly name: string;
  /** allOrNothing (default true): a request refused by one of its limits takes nothing from the others. */
  readonly allOrNothing: boolean;
  /** algorithm is the domain's `algorithm` (default fixed_window): its rules' and its overrides' unless they say. */
  readonly algorithm: AlgorithmName;
  readonly root: Level;
  readonly rules: readonly Rule[];
}

/** ServiceConfig is a loaded configuration: its domains by name. */
export interface ServiceConfig {
  readonly domains: ReadonlyMap<string, Domain>;
  /** files are the files it was read from. */
  readonly files: readonly string[];
  /** warnings are doubtful but loadable lines (a `replaces` naming no rule), with file and line. */
  readonly warnings: readonly string[];
}

/** Entry is one key/value entry of a request's descriptor. */
export interface Entry {
  readonly key: string;
  readonly value: string;
}

/**
 * matchRule finds the rule for one request descriptor, as envoyproxy/ratelimit does.
 * The entries are read in order, each one a level deeper. At each level an entry
 * matches, first, a node with the same key and value; then the first wildcard
 * (a value ending in `*`) of that key whose prefix the value starts with; then a
 * node with that key and no value (one limit per distinct value). The rule is the
 * one of the node matched by the *last* entry: a descriptor longer or shorter than
 * the configured path matches no rule. No match (or an unknown domain) returns undefined.
 */
export function matchRule(domain: Domain, entries: readonly Entry[]): Rule | undefined {
  let level: Level | undefined = domain.root;
  for (let i = 0; i < entries.length; i++) {
    if (level === undefined) return undefined;
    const e = entries[i] as Entry;
    let node = level.exact.get(`${e.key}\u0000${e.value}`);
    if (node === undefined) {
      for (const w of level.wildcards) {
        if (w.key === e.key && e.value.startsWith(w.prefix)) {
          node = w.node;
          break;
        }
      }
    }
    node ??= level.byKey.get(e.key);
    if (node === undefined) return undefined;
    if (i === entries.length - 1) return node.rule;
    level = node.children;
  }
  return undefined;
}

/** ConfigSource is one configuration file's text and the name its errors cite. */
export interface ConfigSource {
  readonly file: string;
  readonly text: string;
}

const DOMAIN_KEYS = ["domain", "descriptors", "algorithm", "all_or_nothing"] as const;
const DESCRIPTOR_KEYS = ["key", "value", "rate_limit", "descriptors", "shadow_mode", "detailed_metric"] as const;
const RATE_LIMIT_KEYS = ["unit", "requests_per_unit", "unlimited", "name", "replaces", "algorithm", "burst"] as const;
/** MAX_DEPTH bounds the nesting of descriptors (envoyproxy/ratelimit has no bound; a deeper tree is a mistake). */
const MAX_DEPTH = 32;

/** ConfigError is thrown for a configuration that cannot be loaded: ERR_INVALID_CONFIG, with the file and line. */
function configError(where: string, message: string): FloodgateTypeError {
  return new FloodgateTypeError("ERR_INVALID_CONFIG", `floodgate: ${where}: ${message}`);
}

/**
 * parseConfig reads one or more configuration files (one domain each, as
 * envoyproxy/ratelimit's directory of files) and returns the checked
 * configuration. Anything wrong throws ERR_INVALID_CONFIG naming the file, the
 * line and column, what is wrong and the fix: YAML syntax, an unknown key (with
 * "did you mean"), a missing or bad `unit` or `requests_per_unit`, a duplicate
 * key/value at one level, a domain in two files, an alias cycle.
 */
export function parseConfig(sources: readonly ConfigSource[]): ServiceConfig {
  const domains = new Map<string, Domain>();
  const warnings: string[] = [];
  const seenIn = new Map<string, string>();
  for (const src of sources) {
    const d = parseDomain(src, warnings);
    const before = seenIn.get(d.name);
    if (before !== undefined) {
      throw configError(src.file, `domain "${d.name}" is also defined in ${before}; each domain lives in one file.`);
    }
    seenIn.set(d.name, src.file);
    domains.set(d.name, d);
  }
  return { domains, files: sources.map((s) => s.file), warnings };
}

/** Reader walks one file's YAML nodes, resolving aliases (a cycle is an error) and citing positions. */
class Reader {
  readonly #file: string;
  readonly #doc: ReturnType<typeof parseDocument>;
  readonly #lines: LineCounter;
  readonly #resolving = new Set<Node>();
  constructor(file: string, doc: ReturnType<typeof parseDocument>, lines: LineCounter) {
    this.#file = file;
    this.#doc = doc;
    this.#lines = lines;
  }
  /** at renders `file:line:col` for a node (or the file alone). */
  at(node: Node | null | undefined): string {
    const offset = node?.range?.[0];
    if (offset === undefined) return this.#file;
    const { line, col } = this.#lines.linePos(offset);
    return `${this.#file}:${line}:${col}`;
  }
  line(node: Node | null | undefined): number {
    const offset = node?.range?.[0];
    return offset === undefined ? 0 : this.#lines.linePos(offset).line;
  }
  /** resolve follows an alias to its anchored node; an alias inside its own anchor is a cycle. */
  resolve(node: unknown, within: readonly Node[]): Node | null {
    if (node === null || node === undefined) return null;
    if (!isAlias(node)) return node as Node;
    const target = node.resolve(this.#doc) as Node | undefined;
    if (target === undefined) {
      throw configError(this.at(node), `alias *${node.source} names no anchor; define &${node.source} before it.`);
    }
    if (within.includes(target) || this.#resolving.has(target)) {
      throw configError(
        this.at(node),
        `alias *${node.source} refers to a node that contains it (a cycle); a descriptor cannot nest itself, write the nested descriptors out.`,
      );
    }
    return target;
  }
  error(node: Node | null | undefined, message: string): FloodgateTypeError {
    return configError(this.at(node), message);
  }
}

/** parseDomain reads one file: one `domain` with its descriptors. */
function parseDomain(src: ConfigSource, warnings: string[]): Domain {
  const lines = new LineCounter();
  const doc = parseDocument(src.text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const r = new Reader(src.file, doc, lines);
  const first = doc.errors[0];
  if (first !== undefined) {
    const pos = lines.linePos(first.pos[0]);
    const where = `${src.file}:${pos.line}:${pos.col}`;
    const dup = first.code === "DUPLICATE_KEY";
    throw configError(
      where,
      dup
        ? `${first.message.replace(/\s+at line.*$/s, "")}; each key appears once in a mapping, remove or rename one.`
        : `the file is not valid YAML (${first.code}): ${first.message.split("\n")[0]}; fix the syntax at that line.`,
    );
  }
  const top = r.resolve(doc.contents, []);
  if (!isMap(top)) {
    throw r.error(
      top,
      `the file must be a mapping with "domain" and "descriptors", got ${top === null ? "nothing" : kindOf(top)}; start it with "domain: my_domain".`,
    );
  }
  const fields = readMap(r, top, DOMAIN_KEYS, "a domain", []);
  const domainNode = fields.get("domain");
  const name = scalarString(r, domainNode, "domain", top);
  if (name === undefined || name === "") {
    throw r.error(
      domainNode?.value ?? top,
      `"domain" is required and must be a non-empty string; add "domain: my_domain".`,
    );
  }
  const algorithm = readAlgorithm(r, fields.get("algorithm")) ?? "fixed_window";
  const aon = fields.get("all_or_nothing");
  const allOrNothing = aon === undefined ? true : scalarBool(r, aon, "all_or_nothing");
  const rules: Rule[] = [];
  const descriptors = fields.get("descriptors");
  const root = readLevel(r, descriptors?.value ?? null, name, algorithm, rules, 1, [top]);
  // A `replaces` naming no rule of the domain loads (envoyproxy/ratelimit loads it) but is reported.
  const names = new Set(rules.map((x) => x.name).filter((x): x is string => x !== undefined));
  for (const rule of rules) {
    for (const n of rule.replaces) {
      if (!names.has(n)) {
        const hint = suggest(n, [...names]);
        warnings.push(
          `${src.file}:${rule.line}: rule ${rule.path} replaces "${n}", which names no rule of domain "${name}"${hint ? ` (did you mean "${hint}"?)` : ""}; give the replaced rule "name: ${n}" in its rate_limit, or fix the name.`,
        );
      }
    }
  }
  return { name, allOrNothing, algorithm, root, rules };
}

/** OVERRIDE_PATH is the `path` of every override rule (a metric label: never the request's text). */
export const OVERRIDE_PATH = "(override)";

/**
 * overrideRule builds the rule of a request's RateLimitOverride: `requestsPerUnit` per `unit` with `algorithm`,
 * never shadow, never unlimited, no name (so `replaces` cannot name it) and no `replaces` of its own, as
 * envoyproxy/ratelimit builds it. Its policy is named after its numbers (`override-100-per-minute`): a key's
 * state under one override is not shared with another override or with a configured rule.
 */
export function overrideRule(algorithm: AlgorithmName, requestsPerUnit: number, unit: Unit): Rule {
  // A limit of 0 admits nothing (envoyproxy/ratelimit refuses every hit): no policy, the Decider refuses it.
  if (requestsPerUnit === 0) {
    return {
      path: OVERRIDE_PATH,
      name: undefined,
      unit,
      requestsPerUnit: 0,
      algorithm,
      unlimited: false,
      shadow: false,
      replaces: [],
      policies: undefined,
      line: 0,
    };
  }
  const policy = buildPolicy(
    algorithm,
    `override-${requestsPerUnit}-per-${unit}`,
    requestsPerUnit,
    UNITS[unit].ms,
    undefined,
  );
  return {
    path: OVERRIDE_PATH,
    name: undefined,
    unit,
    requestsPerUnit,
    algorithm,
    unlimited: false,
    shadow: false,
    replaces: [],
    policies: Object.freeze([policy]),
    line: 0,
  };
}

interface Pair {
  readonly key: Node;
  readonly value: Node | null;
}

/** readMap checks a mapping's keys against `allowed` and returns its pairs by key. */
function readMap(r: Reader, map: YAMLMap, allowed: readonly string[], what: string, within: readonly Node[]) {
  const out = new Map<string, Pair>();
  for (const item of map.items) {
    const k = item.key as Node;
    const key = isScalar(k) ? String(k.value) : undefined;
    if (key === undefined || !allowed.includes(key)) {
      const hint = key === undefined ? undefined : suggest(key, allowed);
      throw r.error(
        k,
        `unknown key ${describe(key ?? kindOf(k))} in ${what}${hint ? ` (did you mean "${hint}"?)` : ""}; the keys are ${allowed.join(", ")}.`,
      );
    }
    out.set(key, { key: k, value: r.resolve(item.value, within) });
  }
  return out;
}

function kindOf(n: Node | null): string {
  if (n === null) return "nothing";
  if (isMap(n)) return "a mapping";
  if (isSeq(n)) return "a list";
  if (isScalar(n)) return describe(n.value);
  return "a node";
}

function scalarString(r: Reader, pair: Pair | undefined, field: string, parent: Node): string | undefined {
  if (pair === undefined) return undefined;
  const v = pair.value;
  if (!isScalar(v) || v.value === null || typeof v.value === "object" || typeof v.value === "boolean") {
    throw r.error(v ?? pair.key ?? parent, `"${field}" must be a string, got ${kindOf(v)}; quote it if needed.`);
  }
  return String(v.value);
}

function scalarBool(r: Reader, pair: Pair, field: string): boolean {
  const v = pair.value;
  if (!isScalar(v) || typeof v.value !== "boolean") {
    throw r.error(v ?? pair.key, `"${field}" must be true or false, got ${kindOf(v)}.`);
  }
  return v.value;
}

function readAlgorithm(r: Reader, pair: Pair | undefined): AlgorithmName | undefined {
  if (pair === undefined) return undefined;
  const v = pair.value;
  const s = isScalar(v) && typeof v.value === "string" ? v.value.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase() : "";
  if (!(ALGORITHM_NAMES as readonly string[]).includes(s)) {
    const raw = isScalar(v) ? String(v.value) : "";
    const hint = suggest(s || raw, ALGORITHM_NAMES);
    throw r.error(
      v ?? pair.key,
      `"algorithm" must be one of ${ALGORITHM_NAMES.join(", ")}, got ${kindOf(v)}${hint ? ` (did you mean "${hint}"?)` : ""}.`,
    );
  }
  return s as AlgorithmName;
}

/** readLevel reads a `descriptors` list into a Level, collecting rules. */
function readLevel(
  r: Reader,
  list: Node | null,
  path: string,
  algorithm: AlgorithmName,
  rules: Rule[],
  depth: number,
  within: readonly Node[],
): Level {
  const level: Level = { exact: new Map(), wildcards: [], byKey: new Map() };
  if (list === null || (isScalar(list) && list.value === null)) return level;
  if (!isSeq(list)) {
    throw r.error(list, `"descriptors" must be a list of descriptors, got ${kindOf(list)}; write "- key: ..." items.`);
  }
  if (depth > MAX_DEPTH) {
    throw r.error(list, `descriptors nest deeper than ${MAX_DEPTH} levels; flatten the tree.`);
  }
  const seen = new Map<string, Node>();
  for (const raw of list.items) {
    const item = r.resolve(raw, within);
    if (!isMap(item)) {
      throw r.error(item ?? list, `a descriptor must be a mapping with "key", got ${kindOf(item)}.`);
    }
    const inner = [...within, item];
    const f = readMap(r, item, DESCRIPTOR_KEYS, "a descriptor", inner);
    const key = scalarString(r, f.get("key"), "key", item);
    if (key === undefined || key === "") {
      throw r.error(item, `a descriptor needs a non-empty "key"; add "key: remote_address" (or the key Envoy sends).`);
    }
    const valuePair = f.get("value");
    const value = valuePair === undefined ? undefined : scalarString(r, valuePair, "value", item);
    const id = value === undefined ? key : `${key}=${value}`;
    const prior = seen.get(id);
    if (prior !== undefined) {
      throw r.error(
        item,
        `duplicate descriptor ${value === undefined ? `key "${key}" without a value` : `"${key}: ${value}"`} under ${path} (first at line ${r.line(prior)}); merge the two into one.`,
      );
    }
    seen.set(id, item);
    const nodePath = `${path}/${id}`;
    const shadowPair = f.get("shadow_mode");
    const shadow = shadowPair === undefined ? false : scalarBool(r, shadowPair, "shadow_mode");
    if (f.get("detailed_metric") !== undefined) scalarBool(r, f.get("detailed_metric") as Pair, "detailed_metric");
    const rlPair = f.get("rate_limit");
    const rule = rlPair === undefined ? undefined : readRule(r, rlPair, nodePath, algorithm, shadow, inner);
    if (rule !== undefined) rules.push(rule);
    const childPair = f.get("descriptors");
    const children =
      childPair === undefined ? undefined : readLevel(r, childPair.value, nodePath, algorithm, rules, depth + 1, inner);
    const node: TreeNode = { rule, children };
    if (value === undefined) level.byKey.set(key, node);
    else if (value.endsWith("*")) level.wildcards.push({ key, prefix: value.slice(0, -1), node });
    else level.exact.set(`${key}\u0000${value}`, node);
  }
  return level;
}

/** readRule reads a `rate_limit` block into a Rule with its policy. */
function readRule(
  r: Reader,
  pair: Pair,
  path: string,
  domainAlgorithm: AlgorithmName,
  shadow: boolean,
  within: readonly Node[],
): Rule {
  const m = pair.value;
  if (!isMap(m)) {
    throw r.error(m ?? pair.key, `"rate_limit" must be a mapping with unit and requests_per_unit, got ${kindOf(m)}.`);
  }
  const f = readMap(r, m, RATE_LIMIT_KEYS, "rate_limit", within);
  const unlimitedPair = f.get("unlimited");
  const unlimited = unlimitedPair === undefined ? false : scalarBool(r, unlimitedPair, "unlimited");
  const name = scalarString(r, f.get("name"), "name", m);
  const replaces: string[] = [];
  const rp = f.get("replaces");
  if (rp !== undefined) {
    if (!isSeq(rp.value)) throw r.error(rp.value ?? rp.key, `"replaces" must be a list of "- name: ..." items.`);
    for (const raw of rp.value.items) {
      const item = r.resolve(raw, within);
      if (!isMap(item)) throw r.error(item ?? rp.value, `each "replaces" item must be a mapping "- name: ...".`);
      const rf = readMap(r, item, ["name"], "a replaces item", within);
      const n = scalarString(r, rf.get("name"), "name", item);
      if (n === undefined || n === "")
        throw r.error(item, `a "replaces" item needs "name" (the name of the rule it replaces).`);
      replaces.push(n);
    }
  }
  const algorithm = readAlgorithm(r, f.get("algorithm")) ?? domainAlgorithm;
  const unitPair = f.get("unit");
  const rpuPair = f.get("requests_per_unit");
  if (unlimited) {
    if (rpuPair !== undefined) {
      throw r.error(
        rpuPair.key,
        `an unlimited rate_limit has no requests_per_unit; remove one of "unlimited: true" and "requests_per_unit".`,
      );
    }
    return {
      path,
      name,
      unit: "second",
      requestsPerUnit: 0,
      algorithm,
      unlimited,
      shadow,
      replaces,
      policies: undefined,
      line: r.line(pair.key),
    };
  }
  const unitRaw = unitPair === undefined ? undefined : scalarString(r, unitPair, "unit", m)?.toLowerCase();
  if (unitRaw === undefined || !(unitRaw in UNITS)) {
    const hint = unitRaw === undefined ? undefined : suggest(unitRaw, Object.keys(UNITS));
    throw r.error(
      unitPair?.value ?? m,
      unitRaw === undefined
        ? `rate_limit needs "unit" (${Object.keys(UNITS).join(", ")}); add "unit: second".`
        : `"unit" must be one of ${Object.keys(UNITS).join(", ")}, got ${describe(unitRaw)}${hint ? ` (did you mean "${hint}"?)` : ""}.`,
    );
  }
  const unit = unitRaw as Unit;
  const rpu = rpuPair?.value;
  const requestsPerUnit = isScalar(rpu) ? rpu.value : undefined;
  if (typeof requestsPerUnit !== "number" || !Number.isInteger(requestsPerUnit) || requestsPerUnit < 1) {
    throw r.error(
      rpu ?? m,
      rpuPair === undefined
        ? `rate_limit needs "requests_per_unit" (a whole number >= 1); add such as "requests_per_unit: 100", or "unlimited: true".`
        : `"requests_per_unit" must be a whole number >= 1, got ${kindOf(rpu ?? null)}; write such as 100 (for no limit, write "unlimited: true").`,
    );
  }
  const burstPair = f.get("burst");
  let burst: number | undefined;
  if (burstPair !== undefined) {
    const b = isScalar(burstPair.value) ? burstPair.value.value : undefined;
    if (typeof b !== "number" || !Number.isInteger(b) || b < 1) {
      throw r.error(
        burstPair.value ?? burstPair.key,
        `"burst" must be a whole number >= 1, got ${kindOf(burstPair.value)}.`,
      );
    }
    if (algorithm !== "token_bucket" && algorithm !== "gcra" && algorithm !== "leaky_bucket") {
      throw r.error(
        burstPair.key,
        `"burst" applies to token_bucket, gcra and leaky_bucket, not ${algorithm}; remove it or set "algorithm: token_bucket".`,
      );
    }
    burst = b;
  }
  let policy: Policy;
  try {
    policy = buildPolicy(algorithm, policyName(name, path), requestsPerUnit, UNITS[unit].ms, burst);
  } catch (err) {
    throw r.error(m, `${(err as Error).message.replace(/^floodgate: /, "")}`);
  }
  return {
    path,
    name,
    unit,
    requestsPerUnit,
    algorithm,
    unlimited,
    shadow,
    replaces,
    policies: Object.freeze([policy]),
    line: r.line(pair.key),
  };
}

/**
 * policyName returns the floodgate policy name of a rule: its `name` when that is
 * a valid policy name (it appears in RateLimit headers), else `r` and a hash of the
 * rule's path. It depends only on the name and the path, so a reload that keeps a
 * rule's path and numbers keeps its state (the state is keyed by the policy id).
 */
function policyName(name: string | undefined, path: string): string {
  if (name !== undefined && /^[a-z*][a-z0-9_\-.*]{0,63}$/.test(name)) return name;
  let h = 0x811c9dc5;
  const s = path;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `r${h.toString(16).padStart(8, "0")}`;
}

/** buildPolicy builds the floodgate policy of a rule: `limit` per `unitMs` with the algorithm's own meaning. */
export function buildPolicy(
  algorithm: AlgorithmName,
  name: string,
  limit: number,
  unitMs: number,
  burst: number | undefined,
): Policy {
  switch (algorithm) {
    case "fixed_window":
      return fixedWindow({ name, limit, windowMs: unitMs });
    case "sliding_window":
      return slidingWindow({ name, limit, windowMs: unitMs });
    case "sliding_log":
      return slidingLog({ name, limit, windowMs: unitMs });
    case "token_bucket":
      return tokenBucket({ name, capacity: burst ?? limit, refillRate: (limit * 1000) / unitMs });
    case "gcra":
      return gcra({ name, limit, periodMs: unitMs, ...(burst === undefined ? {} : { burst }) });
    case "leaky_bucket":
      return leakyBucket({ name, capacity: burst ?? limit, leakRate: (limit * 1000) / unitMs });
  }
}
