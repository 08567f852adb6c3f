// index.ts: floodgate/policy-file: named policies with route and tier assignments in a JSON or YAML file, validated
// with coded errors at line and field, applied live (and watched) with a replacement strategy.

import { unwatchFile, watchFile } from "node:fs";
import { readFile } from "node:fs/promises";
import { describe, FloodgateError } from "../core/errors.js";
import { checkStrategy, live, MAX_VERSION, replaceLive } from "../core/live.js";
import type { Policy } from "../core/policy.js";
import { ALGORITHMS } from "../core/registry.js";
import { STRATEGIES, type Strategy } from "../core/strategy.js";
import { suggest } from "../core/validate.js";
import type { RateLimiter } from "../limiter.js";
import { joinPath, type Pos, parseJson, parseYaml, SyntaxIssue, type Tree } from "./tree.js";

/**
 * PolicyFile is a validated policy file: named policies (plain, not yet live) and which of
 * them apply to each route and tier. It is what the decision service and `LivePolicies` read.
 *
 * @example
 * // policies.yaml
 * // version: 3
 * // strategy: proportional
 * // policies:
 * //   api: { algorithm: tokenBucket, capacity: 100, refillRate: 10 }
 * //   login: { algorithm: fixedWindow, limit: 5, windowMs: 60000 }
 * // routes:
 * //   "POST /login": login
 * // tiers:
 * //   free: [api]
 * import { loadPolicyFile } from "floodgate/policy-file";
 * const file = await loadPolicyFile("policies.yaml");
 */
export interface PolicyFile {
  /** source names the file in messages (its path, or "<text>"). */
  readonly source: string;
  /** version is the file's `version`: the live version its policies take (processes reading one file agree). */
  readonly version: number | undefined;
  /** strategy is the file's `strategy` for replacing changed policies, if it names one. */
  readonly strategy: Strategy | undefined;
  /** policies are the file's policies by name, in file order, built by their factories. */
  readonly policies: ReadonlyMap<string, Policy>;
  /** routes maps a route pattern ("POST /login", "/api/*") to the names of its policies. */
  readonly routes: Readonly<Record<string, readonly string[]>>;
  /** tiers maps a tier ("free", "pro") to the names of its policies. */
  readonly tiers: Readonly<Record<string, readonly string[]>>;
}

/** PolicyFileIssue is one problem of a file: where (line, column, field path) and what. */
export interface PolicyFileIssue {
  readonly line: number;
  readonly column: number;
  /** path is the field, such as "policies.api.capacity" ("" for the whole file). */
  readonly path: string;
  readonly message: string;
}

/**
 * PolicyFileError is thrown for a file that cannot be used: every issue found, each with
 * its line, column and field, and a message listing them (`policies.yaml:4:15
 * policies.api.capacity: ...`). Code `ERR_POLICY_FILE`.
 */
export class PolicyFileError extends FloodgateError {
  readonly issues: readonly PolicyFileIssue[];
  readonly source: string;
  constructor(source: string, issues: readonly PolicyFileIssue[]) {
    super(
      "ERR_POLICY_FILE",
      `floodgate: policy file ${source} is invalid (${issues.length} ${issues.length === 1 ? "problem" : "problems"}):\n${issues
        .map((i) => `  ${source}:${i.line}:${i.column} ${i.path === "" ? "" : `${i.path}: `}${i.message}`)
        .join("\n")}`,
    );
    this.name = "PolicyFileError";
    this.issues = issues;
    this.source = source;
  }
}

/** ParseOptions tells parsePolicyFile how to read the text. */
export interface ParseOptions {
  /** format is "json" or "yaml" (YAML needs the `yaml` package). Default: "yaml" for a source ending .yaml/.yml, else "json". */
  format?: "json" | "yaml";
  /** source names the file in messages. Default "<text>". */
  source?: string;
}

const TOP = ["version", "strategy", "policies", "routes", "tiers"] as const;
const FACTORIES = [...new Set(ALGORITHMS.map((a) => a.factory))];

/** formatOf picks the format of a source by its extension. */
function formatOf(source: string, format: ParseOptions["format"]): "json" | "yaml" {
  if (format !== undefined) return format;
  return /\.ya?ml$/i.test(source) ? "yaml" : "json";
}

/**
 * parsePolicyFile reads and validates a policy file's text. It rejects with a
 * PolicyFileError listing every problem with its line, column and field: a syntax error
 * (a file saved half-written), an unknown key (with "did you mean"), a policy its factory
 * refuses, a route or tier naming a policy the file lacks.
 */
export async function parsePolicyFile(text: string, options: ParseOptions = {}): Promise<PolicyFile> {
  const source = options.source ?? "<text>";
  let tree: Tree;
  try {
    tree = formatOf(source, options.format) === "yaml" ? await parseYaml(text) : parseJson(text);
  } catch (err) {
    if (err instanceof SyntaxIssue) {
      throw new PolicyFileError(source, [{ ...err.pos, path: "", message: `syntax: ${err.message}` }]);
    }
    throw err;
  }
  return validate(tree, source);
}

/** loadPolicyFile reads a policy file from disk (YAML for .yaml/.yml, else JSON) and validates it (see parsePolicyFile). */
export async function loadPolicyFile(path: string, options: Omit<ParseOptions, "source"> = {}): Promise<PolicyFile> {
  const text = await readFile(path, "utf8");
  return parsePolicyFile(text, { ...options, source: path });
}

/** validate checks a parsed file against the schema, collecting every issue. */
function validate(tree: Tree, source: string): PolicyFile {
  const issues: PolicyFileIssue[] = [];
  const where = (path: string): Pos => {
    for (let p = path; ; p = p.replace(/(\.[^.[\]]*|\[\d+\])$/, "")) {
      const pos = tree.positions.get(p);
      if (pos !== undefined) return pos;
      if (p === "") return { line: 1, column: 1 };
    }
  };
  const issue = (path: string, message: string): void => {
    issues.push({ ...where(path), path, message });
  };
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);

  const top = tree.value;
  if (!isObject(top)) {
    issue("", `the file must hold an object with "policies", got ${describe(top)}`);
    throw new PolicyFileError(source, issues);
  }
  for (const key of Object.keys(top)) {
    if (!(TOP as readonly string[]).includes(key)) {
      const hint = suggest(key, TOP);
      issue(key, `unknown key${hint ? `; did you mean "${hint}"?` : ""} Known keys: ${TOP.join(", ")}`);
    }
  }
  let version: number | undefined;
  if (top.version !== undefined) {
    const v = top.version;
    if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= MAX_VERSION) version = v;
    else issue("version", `must be a whole number >= 1 (raise it with each change), got ${describe(v)}`);
  }
  let strategy: Strategy | undefined;
  if (top.strategy !== undefined) {
    if ((STRATEGIES as readonly unknown[]).includes(top.strategy)) strategy = top.strategy as Strategy;
    else
      issue("strategy", `must be one of ${STRATEGIES.map((s) => `"${s}"`).join(", ")}, got ${describe(top.strategy)}`);
  }
  const policies = new Map<string, Policy>();
  const declared = new Set<string>();
  if (!isObject(top.policies) || Object.keys(top.policies).length === 0) {
    issue(
      top.policies === undefined ? "" : "policies",
      `"policies" must be an object of name -> policy with at least one entry, such as { "api": { "algorithm": "tokenBucket", "capacity": 10, "refillRate": 2 } }; got ${describe(top.policies)}`,
    );
  } else {
    for (const [name, spec] of Object.entries(top.policies)) {
      declared.add(name);
      const p = policyOf(`policies.${name}`, name, spec, issue);
      if (p !== undefined) policies.set(name, p);
    }
  }
  const assignments = (field: "routes" | "tiers"): Record<string, readonly string[]> => {
    const out: Record<string, readonly string[]> = {};
    const v = top[field];
    if (v === undefined) return out;
    if (!isObject(v)) {
      issue(
        field,
        `must be an object of ${field === "routes" ? "route pattern" : "tier"} -> policy name(s), got ${describe(v)}`,
      );
      return out;
    }
    for (const [k, names] of Object.entries(v)) {
      const path = joinPath(field, k);
      const list = typeof names === "string" ? [names] : names;
      if (!Array.isArray(list) || list.length === 0 || !list.every((n) => typeof n === "string")) {
        issue(path, `must be a policy name or a non-empty list of them, got ${describe(names)}`);
        continue;
      }
      list.forEach((n: string, i) => {
        if (!declared.has(n)) {
          const hint = suggest(n, [...declared]);
          issue(
            Array.isArray(names) ? joinPath(path, i) : path,
            `names no policy of this file: "${n}"${hint ? `; did you mean "${hint}"?` : ""}`,
          );
        }
      });
      out[k] = Object.freeze([...list]);
    }
    return out;
  };
  const routes = assignments("routes");
  const tiers = assignments("tiers");
  if (issues.length > 0) {
    issues.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new PolicyFileError(source, issues);
  }
  return Object.freeze({
    source,
    version,
    strategy,
    policies,
    routes: Object.freeze(routes),
    tiers: Object.freeze(tiers),
  });
}

/** policyOf builds one policy entry with its factory, reporting problems at the field they concern. */
function policyOf(
  path: string,
  name: string,
  spec: unknown,
  issue: (path: string, message: string) => void,
): Policy | undefined {
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
    issue(
      path,
      `must be an object such as { "algorithm": "tokenBucket", "capacity": 10, "refillRate": 2 }, got ${describe(spec)}`,
    );
    return undefined;
  }
  const { algorithm, ...options } = spec as Record<string, unknown>;
  if (typeof algorithm !== "string" || !FACTORIES.includes(algorithm)) {
    const hint = typeof algorithm === "string" ? suggest(algorithm, FACTORIES) : undefined;
    issue(
      joinPath(path, "algorithm"),
      `must be one of ${FACTORIES.join(", ")}, got ${describe(algorithm)}${hint ? `; did you mean "${hint}"?` : ""}`,
    );
    return undefined;
  }
  if ("name" in options) {
    issue(joinPath(path, "name"), 'the policy\'s name is its key in "policies"; drop this field');
    return undefined;
  }
  // Each descriptor of the factory (the smooth and the stepped bucket) is tried; the factory's own
  // message is kept, at the first option it names.
  let first: Error | undefined;
  for (const d of ALGORITHMS.filter((a) => a.factory === algorithm)) {
    try {
      return d.create({ ...options, name });
    } catch (err) {
      if (first === undefined || /other form/.test(first.message)) first = err as Error;
    }
  }
  const message = (first?.message ?? "refused").replace(/^floodgate: /, "");
  const field = Object.keys(options)
    .map((k) => ({ k, at: message.search(new RegExp(`\\b${k}\\b`)) }))
    .filter((x) => x.at >= 0)
    .sort((a, b) => a.at - b.at)[0]?.k;
  issue(field === undefined ? path : joinPath(path, field), message);
  return undefined;
}

/** ApplyResult says what applying a file changed. */
export interface ApplyResult {
  /** replaced names the policies whose parameters changed (now live at a new version). */
  readonly replaced: readonly string[];
  /** added names the policies new in the file. */
  readonly added: readonly string[];
  /** removed names the policies the file no longer has (limiters that use them keep them). */
  readonly removed: readonly string[];
  /** strategy is the strategy the replacements used. */
  readonly strategy: Strategy;
}

/**
 * LivePolicies holds a policy file's policies as live policies, replaced when a newer
 * file is applied: keys keep their state and migrate on their next decision. Limiters
 * attached to it (`attach`) have their policies of the same names replaced too.
 */
export class LivePolicies {
  #file: PolicyFile;
  #live = new Map<string, Policy>();
  readonly #limiters = new Set<RateLimiter>();

  constructor(file: PolicyFile) {
    this.#file = file;
    for (const [name, p] of file.policies) this.#live.set(name, live(p, { version: file.version ?? 1 }));
  }

  /** file is the file applied last. */
  get file(): PolicyFile {
    return this.#file;
  }

  /** names lists the policies' names. */
  get names(): readonly string[] {
    return [...this.#live.keys()];
  }

  /** get returns the live policy named `name`, or throws ERR_INVALID_POLICY naming the known ones. */
  get(name: string): Policy {
    const p = this.#live.get(name);
    if (p === undefined) {
      throw new FloodgateError(
        "ERR_INVALID_POLICY",
        `floodgate: policy file ${this.#file.source} has no policy ${describe(name)}; it has ${this.names.map((n) => `"${n}"`).join(", ")}.`,
      );
    }
    return p;
  }

  /** route returns the live policies the file assigns to a route pattern (as written in the file), or undefined. */
  route(pattern: string): readonly Policy[] | undefined {
    return this.#file.routes[pattern]?.map((n) => this.get(n));
  }

  /** tier returns the live policies the file assigns to a tier, or undefined. */
  tier(name: string): readonly Policy[] | undefined {
    return this.#file.tiers[name]?.map((n) => this.get(n));
  }

  /**
   * attach makes `limiter` follow this set: when a file is applied, each of the limiter's
   * policies whose name changed is replaced with the same strategy and version. The
   * limiter's policies must be this set's (build it with `policy: set.get("api")`).
   * It returns a function that detaches it.
   */
  attach(limiter: RateLimiter): () => void {
    this.#limiters.add(limiter);
    return () => this.#limiters.delete(limiter);
  }

  /**
   * apply replaces the policies of `file` that changed (same name, other parameters) with
   * `strategy` (the file's own `strategy` first, else this argument, else "as-is"), adds
   * the new ones and drops the removed ones. It is all or nothing: a replacement that
   * cannot be made (an algorithm changed without "reset") throws a PolicyFileError and
   * nothing changes.
   */
  apply(file: PolicyFile, strategy?: Strategy): ApplyResult {
    const chosen = file.strategy ?? (strategy === undefined ? "as-is" : checkStrategy("apply", strategy));
    const next = new Map<string, Policy>();
    const replaced: string[] = [];
    const added: string[] = [];
    for (const [name, p] of file.policies) {
      const current = this.#live.get(name);
      if (current === undefined) {
        next.set(name, live(p, { version: file.version ?? 1 }));
        added.push(name);
        continue;
      }
      if (current.live?.base.id === p.id) {
        next.set(name, current);
        continue;
      }
      const v = current.live?.version ?? 0;
      try {
        next.set(
          name,
          replaceLive(current, p, {
            strategy: chosen,
            version: file.version !== undefined && file.version > v ? file.version : v + 1,
          }),
        );
      } catch (err) {
        throw new PolicyFileError(file.source, [
          { line: 1, column: 1, path: `policies.${name}`, message: (err as Error).message.replace(/^floodgate: /, "") },
        ]);
      }
      replaced.push(name);
    }
    const removed = this.names.filter((n) => !file.policies.has(n));
    this.#file = file;
    this.#live = next;
    for (const limiter of this.#limiters) {
      for (const p of limiter.policies) {
        const now = next.get(p.name);
        if (now !== undefined && now !== p && now.live && p.live && now.live.version > p.live.version) {
          limiter.replacePolicy(p.name, now.live.base, { strategy: now.live.strategy, version: now.live.version });
        }
      }
    }
    return Object.freeze({ replaced, added, removed, strategy: chosen });
  }
}

/** WatchOptions configures watchPolicyFile. */
export interface WatchOptions extends Omit<ParseOptions, "source"> {
  /** strategy replaces changed policies when the file names none. Default "as-is". */
  strategy?: Strategy;
  /** limiters follow the file (see LivePolicies.attach). */
  limiters?: readonly RateLimiter[];
  /** intervalMs is how often the file's modification time is polled. Default 500. */
  intervalMs?: number;
  /** settleMs is how long the file must stay unchanged before it is read as complete. Default 100. */
  settleMs?: number;
  /** onApply is told what each applied change did. */
  onApply?: (result: ApplyResult) => void;
  /** onInvalid is told why a changed file was not applied (the old policies stay). Default: console.warn. */
  onInvalid?: (error: Error) => void;
}

/** PolicyWatcher is a running watch: the live policies, and close(). */
export interface PolicyWatcher {
  readonly policies: LivePolicies;
  /** close stops watching. */
  close(): void;
}

/**
 * watchPolicyFile loads a policy file (rejecting when it is invalid: a service should not
 * start on a broken file) and applies each later change with the chosen strategy. A
 * change is read once the file has stayed the same for `settleMs` (an editor saving in
 * several writes), and applied only when it is valid as a whole: a half-written or
 * invalid file keeps the old policies, and `onInvalid` says why (with line and field).
 */
export async function watchPolicyFile(path: string, options: WatchOptions = {}): Promise<PolicyWatcher> {
  const intervalMs = options.intervalMs ?? 500;
  const settleMs = options.settleMs ?? 100;
  const onInvalid =
    options.onInvalid ??
    ((e: Error) => {
      try {
        console.warn(`${e.message} The previous policies stay in force.`);
      } catch {
        // A warning must never break anything.
      }
    });
  const parse = { format: options.format };
  let text = await readFile(path, "utf8");
  const set = new LivePolicies(await parsePolicyFile(text, { ...parse, source: path }));
  for (const l of options.limiters ?? []) set.attach(l);
  let closed = false;
  let running = false;
  let again = false;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const check = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        // Read until two reads settleMs apart agree: a file being written is not read half-way.
        let seen = await readFile(path, "utf8").catch(() => undefined);
        for (let i = 0; i < 20 && !closed; i++) {
          await sleep(settleMs);
          const now = await readFile(path, "utf8").catch(() => undefined);
          if (now === seen) break;
          seen = now;
        }
        if (closed || seen === undefined || seen === text) continue;
        text = seen;
        try {
          const file = await parsePolicyFile(seen, { ...parse, source: path });
          const result = set.apply(file, options.strategy);
          options.onApply?.(result);
        } catch (err) {
          onInvalid(err as Error);
        }
      } while (again && !closed);
    } finally {
      running = false;
    }
  };
  const listener = (): void => {
    void check();
  };
  watchFile(path, { interval: intervalMs, persistent: false }, listener);
  // fs.watchFile takes its first stat as the baseline, so a change saved after the first read and before that
  // stat would never be seen: read once more now that the watch is running.
  void check();
  return {
    policies: set,
    close(): void {
      closed = true;
      unwatchFile(path, listener);
    },
  };
}

export type { Strategy };
