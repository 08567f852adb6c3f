// live.ts: live policies: replaced by name while running, each key migrated lazily on its next decision.

import { POLICY_BRAND } from "./algorithm.js";
import { describe, FloodgateRangeError, FloodgateTypeError } from "./errors.js";
import type { Outcome, Policy } from "./policy.js";
import { checkPolicy } from "./registry.js";
import { STRATEGIES, type Strategy } from "./strategy.js";

/**
 * LIVE_HEADER is how many doubles a live policy's state starts with: the version that wrote
 * it, then that version's three params (p1 p2 p3, 0 for unused). The algorithm's own state
 * follows. The header makes a state self-describing, so a key can be migrated from whatever
 * version wrote it (the Redis twin has no history to consult).
 */
export const LIVE_HEADER = 4;

/** MAX_VERSION is the largest live policy version: a whole number, exact in doubles. */
export const MAX_VERSION = Number.MAX_SAFE_INTEGER;

/** LiveInfo is what a live policy adds to its base policy. */
export interface LiveInfo {
  /** version numbers this policy among the versions of its name; later versions are larger. */
  readonly version: number;
  /** strategy is how keys written by an earlier version migrate to this one. */
  readonly strategy: Strategy;
  /** base is the plain policy this version applies. */
  readonly base: Policy;
  /** history holds the versions of this name known in this process (for idle checks of old states). */
  readonly history: LiveHistory;
}

/** LiveHistory holds the base policy of each version of one live name, in this process. */
export class LiveHistory {
  readonly #versions = new Map<number, Policy>();
  /** get returns the base policy of `version`, if this process has seen it. */
  get(version: number): Policy | undefined {
    return this.#versions.get(version);
  }
  /** set records the base policy of `version`. */
  set(version: number, base: Policy): void {
    this.#versions.set(version, base);
  }
}

/** LiveOptions configures `live()` and `replaceLive()`. */
export interface LiveOptions {
  /** version is this policy's version: a whole number above the one it replaces. Default: the previous + 1 (1 for `live()`). */
  version?: number;
  /** strategy is how keys written by earlier versions migrate. Default "as-is" (replaceLive only). */
  strategy?: Strategy;
}

/**
 * live wraps `policy` into a live policy (version 1 unless given): the same limits, under an
 * id that stays the same across versions of its name, with each key's state recording the
 * version that wrote it. Replace it with `replaceLive` (or `RateLimiter.replacePolicy`): keys
 * migrate on their next decision, without any scan. A live policy given to `live` is returned as is.
 *
 * @example
 * import { live, replaceLive, tokenBucket } from "floodgate";
 * const v1 = live(tokenBucket({ name: "api", capacity: 10, refillRate: 2 }));
 * const v2 = replaceLive(v1, tokenBucket({ name: "api", capacity: 20, refillRate: 4 }), { strategy: "proportional" });
 */
export function live(policy: Policy, options: { version?: number } = {}): Policy {
  const p = checkPolicy("live(policy)", policy);
  if (p.live) return p;
  const version = checkVersion("live", options.version ?? 1, 0);
  return makeLive(p, version, "reset", new LiveHistory());
}

/**
 * replaceLive returns the next version of the live policy `current`, applying `policy` (a
 * plain policy; its name is replaced by `current`'s) with `strategy` (default "as-is"). Keys
 * keep their state and migrate lazily, each on its next decision. A change of algorithm (a
 * token bucket replaced by a window) cannot carry state: it needs strategy "reset", and keys
 * start fresh. Pure: nothing is stored; the caller uses the returned policy from now on.
 */
export function replaceLive(current: Policy, policy: Policy, options: LiveOptions = {}): Policy {
  if (!current?.live) {
    throw new FloodgateTypeError(
      "ERR_INVALID_POLICY",
      `floodgate: replaceLive(current) needs a live policy, got ${describe(current)}${
        current && typeof current === "object" && typeof current.name === "string" ? ` (policy "${current.name}")` : ""
      }; wrap it first: live(tokenBucket({ ... })).`,
    );
  }
  const strategy = checkStrategy("replaceLive", options.strategy ?? "as-is");
  const version = checkVersion("replaceLive", options.version ?? current.live.version + 1, current.live.version);
  let base = checkPolicy("replaceLive(policy)", policy);
  if (base.live) base = base.live.base;
  if (base.name !== current.name) base = base.algorithm.create({ ...base.options, name: current.name });
  const before = current.live.base;
  if (base.algorithm !== before.algorithm && strategy !== "reset") {
    throw new FloodgateTypeError(
      "ERR_INVALID_POLICY",
      `floodgate: replaceLive() of policy "${current.name}" changes its algorithm (${before.algorithm.factory} ${before.algorithm.code} to ${base.algorithm.factory} ${base.algorithm.code}) with strategy "${strategy}"; state cannot carry over between algorithms: pass { strategy: "reset" }, or keep the algorithm.`,
    );
  }
  return makeLive(base, version, strategy, current.live.history);
}

/** checkStrategy returns `value` when it is a Strategy, else throws a coded error naming `fn`. */
export function checkStrategy(fn: string, value: unknown): Strategy {
  if (typeof value === "string" && (STRATEGIES as readonly string[]).includes(value)) return value as Strategy;
  throw new FloodgateTypeError(
    "ERR_INVALID_OPTION",
    `floodgate: ${fn}({ strategy }) must be one of ${STRATEGIES.map((s) => `"${s}"`).join(", ")}, got ${describe(value)}.`,
  );
}

function checkVersion(fn: string, value: unknown, after: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= after || value > MAX_VERSION) {
    throw new FloodgateRangeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${fn}({ version }) must be a whole number above ${after}, got ${describe(value)}; leave it out to count up from the current version.`,
    );
  }
  return value;
}

/**
 * migrateState is the pure migration of one key's live state (header included) to the live
 * policy `to`, at `nowMs`: the state `to` decides from. It returns null for "start fresh"
 * (strategy reset, a change of algorithm, or an old state with its whole limit available),
 * the state as given when it needs no migration (written by `to`'s version or a later one),
 * else the migrated state with `to`'s header. Exported for the vectors and the docs.
 */
export function migrateState(to: Policy, state: readonly number[] | null, nowMs: number): readonly number[] | null {
  if (!to.live) throw new FloodgateTypeError("ERR_INVALID_POLICY", "floodgate: migrateState(to) needs a live policy.");
  if (state === null || (state[0] as number) >= to.live.version) return state;
  const next: number[] = [];
  const n = migrateInto(to.live, state, 0, state.length, nowMs, next, LIVE_HEADER);
  return n === 0 ? null : Object.freeze(next.slice(0, LIVE_HEADER + n));
}

/**
 * migrateInto migrates the live state at `s[o]` (`length` doubles, header included, written
 * by an earlier version) to `info`'s base policy, writing the algorithm state into `next`
 * from `at` and `info`'s header before it. It returns the algorithm state's length, 0 for
 * "start fresh".
 */
function migrateInto(
  info: LiveInfo,
  s: ArrayLike<number>,
  o: number,
  length: number,
  nowMs: number,
  next: number[],
  at: number,
): number {
  const base = info.base;
  const fromParams = [s[o + 1] as number, s[o + 2] as number, s[o + 3] as number];
  // The header does not record the algorithm: a version of another algorithm has another id,
  // so its states never reach this one.
  if (info.strategy === "reset") return 0;
  const scratch: number[] = [];
  const n = base.algorithm.migrate(
    fromParams,
    s,
    o + LIVE_HEADER,
    length - LIVE_HEADER,
    nowMs,
    base,
    info.strategy,
    scratch,
  );
  if (n === 0) return 0;
  writeHeader(next, info);
  for (let i = 0; i < n; i++) next[at + i] = scratch[i] as number;
  return n;
}

function writeHeader(next: number[] | Float64Array, info: LiveInfo): void {
  const p = info.base.params;
  next[0] = info.version;
  next[1] = (p[0] as number | undefined) ?? 0;
  next[2] = (p[1] as number | undefined) ?? 0;
  next[3] = (p[2] as number | undefined) ?? 0;
}

/** makeLive builds the live policy of `base` at `version`. */
function makeLive(base: Policy, version: number, strategy: Strategy, history: LiveHistory): Policy {
  history.set(version, base);
  const info: LiveInfo = Object.freeze({ version, strategy, base, history });
  const fixed = base.stateSize > 0;
  const size = fixed ? base.stateSize : 0;
  // Scratch arrays: every method runs to its end synchronously, so one set per policy is enough.
  const inner: number[] = [];
  const migrated: number[] = [];
  const log: number[] = [];
  /** put copies the header (own, or the stored one) and the algorithm state `inner` (n doubles) into next. */
  const put = (next: number[] | Float64Array, s: ArrayLike<number> | null, o: number, n: number): void => {
    if (s === null) writeHeader(next, info);
    else for (let i = 0; i < LIVE_HEADER; i++) next[i] = s[o + i] as number;
    for (let i = 0; i < n; i++) next[LIVE_HEADER + i] = inner[i] as number;
    if (Array.isArray(next)) next.length = LIVE_HEADER + n;
  };
  /** stateOf returns the algorithm state of a stored live state, and its offset (a log is copied out). */
  const logOf = (s: ArrayLike<number>, o: number): number[] => {
    log.length = 0;
    for (let i = o + LIVE_HEADER; i < s.length; i++) log.push(s[i] as number);
    return log;
  };
  const lengthOf = (s: ArrayLike<number>, o: number): number => (fixed ? LIVE_HEADER + size : s.length - o);
  /** prepare returns 1 when the stored state is current (or later), 0 to start fresh, 2 when migrated into `migrated`. */
  const prepare = (s: ArrayLike<number>, o: number, nowMs: number): number => {
    if ((s[o] as number) >= version) return 1;
    const n = migrateInto(info, s, o, lengthOf(s, o), nowMs, migrated, LIVE_HEADER);
    if (n === 0) return 0;
    migrated.length = LIVE_HEADER + n;
    return 2;
  };
  const innerLength = (): number => (fixed ? size : inner.length);
  const policy: Policy = {
    kind: base.kind,
    algorithm: base.algorithm,
    name: base.name,
    options: base.options,
    id: `${base.name}:live:${base.algorithm.code}`,
    limit: base.limit,
    windowMs: base.windowMs,
    stateSize: fixed ? LIVE_HEADER + size : -1,
    params: base.params,
    live: info,
    evaluate(
      s: ArrayLike<number>,
      o: number,
      fresh: boolean,
      nowMs: number,
      cost: number,
      next: number[] | Float64Array,
      out: Outcome,
    ): boolean {
      if (fresh) {
        const ok = base.evaluate(s, o, true, nowMs, cost, inner, out);
        put(next, null, 0, innerLength());
        return ok;
      }
      const how = prepare(s, o, nowMs);
      let ok: boolean;
      if (how === 1) {
        ok = fixed
          ? base.evaluate(s, o + LIVE_HEADER, false, nowMs, cost, inner, out)
          : base.evaluate(logOf(s, o), 0, false, nowMs, cost, inner, out);
        put(next, s, o, innerLength());
        return ok;
      }
      ok =
        how === 0
          ? base.evaluate(s, o, true, nowMs, cost, inner, out)
          : fixed
            ? base.evaluate(migrated, LIVE_HEADER, false, nowMs, cost, inner, out)
            : base.evaluate(logOf(migrated, 0), 0, false, nowMs, cost, inner, out);
      put(next, null, 0, innerLength());
      // A migrated state is kept whatever the verdict (as a rebased one), so it migrates once.
      out.rebased = true;
      return ok;
    },
    refund(
      s: ArrayLike<number>,
      o: number,
      fresh: boolean,
      nowMs: number,
      cost: number,
      next: number[] | Float64Array,
    ): boolean {
      if (fresh) return false;
      const how = prepare(s, o, nowMs);
      if (how === 0) return false;
      const src = how === 1 ? s : migrated;
      const so = how === 1 ? o : 0;
      const ok = fixed
        ? base.refund(src, so + LIVE_HEADER, false, nowMs, cost, inner)
        : base.refund(logOf(src, so), 0, false, nowMs, cost, inner);
      if (!ok) return false;
      put(next, how === 1 ? s : null, o, innerLength());
      return true;
    },
    idle(s: ArrayLike<number>, o: number, nowMs: number): boolean {
      const v = s[o] as number;
      // An earlier version's state is read by the policy that wrote it (this process knows it),
      // else by this one.
      const p = v === version ? base : (history.get(v) ?? base);
      return fixed ? p.idle(s, o + LIVE_HEADER, nowMs) : p.idle(logOf(s, o), 0, nowMs);
    },
  };
  Object.defineProperty(policy, POLICY_BRAND, { value: true, enumerable: false });
  return Object.freeze(policy);
}
