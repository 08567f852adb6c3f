// options.ts: RedisStoreOptions, and their validation into the settings the store's parts read (coded errors).

import { describe, FloodgateRangeError, FloodgateTypeError } from "../../core/errors.js";
import { checkOptions } from "../../core/validate.js";
import { isMemoryStore, MemoryStore } from "../memory.js";
import { type RedisAdapter, toAdapter } from "./adapter.js";

/** InsuranceOptions configures the in-memory limiter that decides while Redis is unreachable. */
export interface InsuranceOptions {
  /** insurance is the local store to use, or true for a new MemoryStore. */
  insurance: MemoryStore | true;
  /**
   * scale multiplies every policy's limit and rate while insured, 0 < scale <= 1.
   * With N processes, 1/N keeps the fleet near the shared limit. Default 1.
   *
   * A cost that fits a policy but not its scaled limit (cost 5 with a limit of
   * 8 scaled by 1/4 to 2) can never be admitted while insured: it is denied at
   * once, taking nothing from the insurance state, with `retryAfterMs` and
   * `resetAfterMs` equal to that policy's (unscaled) `windowMs` (by then Redis
   * may be back) and `remaining` as the scaled policy stands.
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
   * "fail-closed" (deny) or `{ insurance, scale }` (a local MemoryStore decides,
   * limits scaled; see InsuranceOptions). Every such decision carries `degraded`.
   * Default "fail-open".
   */
  onFailure?: FailurePolicy;
  /** failClosedRetryAfterMs is the retryAfterMs of a fail-closed denial. Default 1000. */
  failClosedRetryAfterMs?: number;
  /**
   * probeIntervalMs: once Redis failed, calls are answered by the failure policy
   * at once, and one call every probeIntervalMs tries Redis; when it answers,
   * the store recovers. A refund or reset answered locally in between is not
   * applied to Redis; it is reported as an `error` event. Default 1000.
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
   * functions: on Redis 7+ (and Valkey), the store loads its scripts as one
   * function library (`FUNCTION LOAD`, on every master of a Cluster) when
   * it starts and calls them with `FCALL`, which costs Redis less per call than
   * `EVALSHA` (see docs/redis.md). Where the server has no functions or refuses
   * them (Redis before 7, an ACL or a managed service without FUNCTION), the store
   * uses `EVALSHA` as before. true (default) or false (always `EVALSHA`).
   */
  functions?: boolean;
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

/** Settings are RedisStoreOptions validated, defaults filled in. */
export interface Settings {
  readonly adapter: RedisAdapter;
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly failure: "fail-open" | "fail-closed" | "insurance";
  /** insurance is the insurance store (with failure "insurance" only). */
  readonly insurance: MemoryStore | undefined;
  /** scale is the insurance scale, 1 without insurance. */
  readonly scale: number;
  readonly failClosedRetryAfterMs: number;
  readonly probeIntervalMs: number;
  /** denyCacheMax is the deny cache's size, 0 when it is off. */
  readonly denyCacheMax: number;
  readonly batch: boolean;
  readonly maxBatch: number;
  /** functions is true when the store may load and call its function library (see RedisStoreOptions.functions). */
  readonly functions: boolean;
  /** graceMs is clockGraceMs as the ARGV text the scripts read. */
  readonly graceMs: string;
  readonly now: () => number;
}

const KNOWN = [
  "client",
  "adapter",
  "prefix",
  "timeoutMs",
  "onFailure",
  "failClosedRetryAfterMs",
  "probeIntervalMs",
  "denyCache",
  "batch",
  "functions",
  "clockGraceMs",
  "now",
] as const;

const FN = "RedisStore";
const defaultNow = (): number => performance.now();

/** parseOptions validates RedisStoreOptions and returns the settings; it throws a coded error naming the option and the fix. */
export function parseOptions(options: RedisStoreOptions): Settings {
  const o = checkOptions(FN, options, KNOWN);
  const adapter = parseAdapter(o.adapter, o.client);
  const prefix = o.prefix ?? "fg:";
  if (typeof prefix !== "string" || /[{}]/.test(prefix)) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: RedisStore({ prefix }) must be a string without "{" or "}", got ${describe(prefix)}; pass such as "rl:".`,
    );
  }
  const grace = o.clockGraceMs ?? 1000;
  if (typeof grace !== "number" || !Number.isInteger(grace) || grace < 0) {
    throw new FloodgateRangeError(
      "ERR_INVALID_OPTION",
      `floodgate: RedisStore({ clockGraceMs }) must be a whole number of ms >= 0, got ${describe(grace)}; such as 1000.`,
    );
  }
  if (o.now !== undefined && typeof o.now !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: RedisStore({ now }) must be a function returning milliseconds, got ${describe(o.now)}.`,
    );
  }
  const batch = parseBatch(o.batch);
  const functions = o.functions ?? true;
  if (typeof functions !== "boolean") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: RedisStore({ functions }) must be true or false, got ${describe(functions)}; pass false to always use EVALSHA.`,
    );
  }
  return {
    adapter,
    prefix,
    timeoutMs: timeoutOption(o.timeoutMs),
    ...parseFailure(o.onFailure),
    failClosedRetryAfterMs: positiveMs("failClosedRetryAfterMs", o.failClosedRetryAfterMs, 1000, "such as 1000"),
    probeIntervalMs: positiveMs("probeIntervalMs", o.probeIntervalMs, 1000, "such as 1000"),
    denyCacheMax: parseDenyCache(o.denyCache),
    batch: batch.enabled,
    maxBatch: batch.maxSize,
    functions,
    graceMs: String(grace),
    now: (o.now as (() => number) | undefined) ?? defaultNow,
  };
}

function parseAdapter(adapter: unknown, client: unknown): RedisAdapter {
  if (adapter === undefined) return toAdapter(client);
  const a = adapter as Partial<RedisAdapter> | null;
  if (
    typeof a !== "object" ||
    a === null ||
    typeof a.evalsha !== "function" ||
    typeof a.eval !== "function" ||
    (a.info !== undefined && typeof a.info !== "function")
  ) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: RedisStore({ adapter }) must implement RedisAdapter (cluster, evalsha, eval, and optionally info), got ${describe(adapter)}.`,
    );
  }
  return a as RedisAdapter;
}

function parseFailure(value: unknown): Pick<Settings, "failure" | "insurance" | "scale"> {
  const failure = value ?? "fail-open";
  if (failure === "fail-open" || failure === "fail-closed") return { failure, insurance: undefined, scale: 1 };
  if (typeof failure === "object" && failure !== null && "insurance" in failure) {
    const f = failure as InsuranceOptions;
    checkOptions("RedisStore({ onFailure })", f, ["insurance", "scale"]);
    // A brand, not instanceof: "floodgate" and "floodgate/redis" may be separate bundles (ESM beside CJS).
    if (f.insurance !== true && !isMemoryStore(f.insurance)) {
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
    return { failure: "insurance", insurance: f.insurance === true ? new MemoryStore() : f.insurance, scale };
  }
  throw new FloodgateTypeError(
    "ERR_INVALID_OPTION",
    `floodgate: RedisStore({ onFailure }) must be "fail-open", "fail-closed" or { insurance: true }, got ${describe(failure)}.`,
  );
}

function parseDenyCache(value: unknown): number {
  const dc = value ?? true;
  if (dc === false) return 0;
  if (dc === true) return 10_000;
  if (typeof dc === "object" && dc !== null) {
    checkOptions("RedisStore({ denyCache })", dc, ["maxKeys"]);
    const max = (dc as { maxKeys?: unknown }).maxKeys ?? 10_000;
    if (typeof max !== "number" || !Number.isInteger(max) || max < 1) {
      throw new FloodgateRangeError(
        "ERR_INVALID_OPTION",
        `floodgate: RedisStore({ denyCache: { maxKeys } }) must be a whole number >= 1, got ${describe(max)}; such as 10000.`,
      );
    }
    return max;
  }
  throw new FloodgateTypeError(
    "ERR_INVALID_OPTION",
    `floodgate: RedisStore({ denyCache }) must be true, false or { maxKeys }, got ${describe(dc)}.`,
  );
}

function parseBatch(value: unknown): { enabled: boolean; maxSize: number } {
  const b = value ?? true;
  if (b === true || b === false) return { enabled: b, maxSize: 100 };
  if (typeof b === "object" && b !== null) {
    checkOptions("RedisStore({ batch })", b, ["maxSize"]);
    const max = (b as { maxSize?: unknown }).maxSize ?? 100;
    if (typeof max !== "number" || !Number.isInteger(max) || max < 1 || max > 10_000) {
      throw new FloodgateRangeError(
        "ERR_INVALID_OPTION",
        `floodgate: RedisStore({ batch: { maxSize } }) must be a whole number from 1 to 10000, got ${describe(max)}; such as 100.`,
      );
    }
    return { enabled: true, maxSize: max };
  }
  throw new FloodgateTypeError(
    "ERR_INVALID_OPTION",
    `floodgate: RedisStore({ batch }) must be true, false or { maxSize }, got ${describe(b)}.`,
  );
}

/** MAX_TIMER_MS is the longest setTimeout delay; a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** timeoutOption validates timeoutMs: positive, and short enough for one timer (a longer one would fire at once). */
function timeoutOption(value: unknown): number {
  const v = positiveMs("timeoutMs", value, 500, "such as 500");
  if (v > MAX_TIMER_MS) {
    throw new FloodgateRangeError(
      "ERR_INVALID_OPTION",
      `floodgate: RedisStore({ timeoutMs }) must be at most ${MAX_TIMER_MS} ms (about 24.8 days, the longest timer), got ${describe(v)}; pass such as 500.`,
    );
  }
  return v;
}

function positiveMs(name: string, value: unknown, fallback: number, example: string): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new FloodgateRangeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${FN}({ ${name} }) must be a positive number of milliseconds, got ${describe(v)}; pass ${example}.`,
    );
  }
  return v;
}
