// validate.ts: early, precise validation of policy options and call arguments.

import { describe, FloodgateRangeError, FloodgateTypeError } from "./errors.js";

/** MAX_LIMIT is the largest capacity or limit a policy accepts (about 2^40, still exact in doubles). */
export const MAX_LIMIT = 1e12;
/** MAX_DURATION_MS is the longest window or refill time a policy accepts: ten years. */
export const MAX_DURATION_MS = 10 * 365 * 24 * 3600 * 1000;
/** MAX_RATE is the highest refill or leak rate a policy accepts, per second. */
export const MAX_RATE = 1e9;
/** POLICY_NAME matches an RFC 9651 sf-key, so a name can be used as is in RateLimit headers. */
const POLICY_NAME = /^[a-z*][a-z0-9_\-.*]{0,63}$/;

/** checkOptions verifies that `options` is a plain object with only known keys and returns it. */
export function checkOptions(fn: string, options: unknown, known: readonly string[]): Record<string, unknown> {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${fn}(options) needs an options object, got ${describe(options)}.`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const hint = suggest(key, known);
      throw new FloodgateTypeError(
        "ERR_UNKNOWN_OPTION",
        `floodgate: ${fn}() got an unknown option ${JSON.stringify(key)}${
          hint ? `; did you mean ${JSON.stringify(hint)}?` : "."
        } Known options: ${known.join(", ")}.`,
      );
    }
  }
  return options as Record<string, unknown>;
}

/** suggest returns the known key closest to a misspelt one, or undefined when none is close. */
export function suggest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] as number;
}

/** integerOption reads a required whole-number option within [min, max]. */
export function integerOption(fn: string, name: string, value: unknown, min: number, max: number, fix: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    const what = typeof value === "number" ? describe(value) : `${describe(value)} (${typeof value})`;
    const Err = typeof value === "number" ? FloodgateRangeError : FloodgateTypeError;
    throw new Err(
      "ERR_INVALID_OPTION",
      `floodgate: ${fn}({ ${name} }) must be a whole number from ${min} to ${max}, got ${what}; ${fix}.`,
    );
  }
  return value;
}

/** numberOption reads a required finite number option with min < value <= max (or min <= value when inclusive). */
export function numberOption(
  fn: string,
  name: string,
  value: unknown,
  min: number,
  max: number,
  fix: string,
  minInclusive = false,
): number {
  const ok =
    typeof value === "number" && Number.isFinite(value) && (minInclusive ? value >= min : value > min) && value <= max;
  if (!ok) {
    const what = typeof value === "number" ? describe(value) : `${describe(value)} (${typeof value})`;
    const Err = typeof value === "number" ? FloodgateRangeError : FloodgateTypeError;
    const range = minInclusive ? `from ${min} to ${max}` : `greater than ${min} and at most ${max}`;
    throw new Err(
      "ERR_INVALID_OPTION",
      `floodgate: ${fn}({ ${name} }) must be a finite number ${range}, got ${what}; ${fix}.`,
    );
  }
  return value as number;
}

/** nameOption reads an optional policy name; it must be a valid RFC 9651 key (lowercase, digits, _-.*). */
export function nameOption(fn: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !POLICY_NAME.test(value)) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${fn}({ name }) must be 1 to 64 characters of a-z, 0-9, "_", "-", "." or "*", starting with a letter, got ${describe(
        value,
      )}; names appear in RateLimit headers, so use a short key such as "api" or "login".`,
    );
  }
  return value;
}

/** checkCost validates a cost for a call: a whole number >= 0, finite. */
export function checkCost(call: string, cost: unknown): number {
  if (typeof cost !== "number" || !Number.isInteger(cost) || cost < 0 || cost > MAX_LIMIT) {
    const Err = typeof cost === "number" ? FloodgateRangeError : FloodgateTypeError;
    throw new Err(
      "ERR_INVALID_COST",
      `floodgate: ${call}(cost=${describe(cost)}) needs a whole number of tokens from 0 to ${MAX_LIMIT}; pass an integer such as 1.`,
    );
  }
  return cost;
}

/** checkKey validates a key: any string, used as an opaque value. */
export function checkKey(call: string, key: unknown): string {
  if (typeof key !== "string") {
    throw new FloodgateTypeError(
      "ERR_INVALID_KEY",
      `floodgate: ${call}(key) needs a string key, got ${describe(key)}; convert ids with String(id).`,
    );
  }
  return key;
}

/** checkNow validates a time in milliseconds passed by a caller or returned by an injected clock. */
export function checkNow(call: string, nowMs: unknown): number {
  if (typeof nowMs !== "number" || !Number.isFinite(nowMs)) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${call} needs a finite time in milliseconds, got ${describe(nowMs)}; an injected now() must return a number such as performance.now().`,
    );
  }
  return nowMs;
}
