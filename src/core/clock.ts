// clock.ts: the one default clock and timers, and the check every injected clock passes.
//
// The math in src/core never reads a clock: time is always an argument. This module
// only defines the default clock the limiter, the stores, the HTTP layer and the client
// read, so there is one of it, and one way an injected clock is checked.

import { describe, FloodgateTypeError } from "./errors.js";

/** Clock returns the time in milliseconds. */
export type Clock = () => number;

/** Timers lets tests and simulations replace setTimeout and clearTimeout. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

// Perf: the global `performance` and its `timeOrigin` are getters that check their
// receiver in Node; reading both once leaves one native call per clock read.
const perf = performance;
const timeOriginMs = perf.timeOrigin;

/**
 * monotonicNow is the default clock: `performance.timeOrigin + performance.now()`,
 * milliseconds near the epoch that never go backwards (unlike Date.now()).
 */
export const monotonicNow: Clock = (): number => timeOriginMs + perf.now();

/** MAX_TIMER_MS is the longest delay setTimeout honours (2^31 - 1 ms); Node clamps longer ones to 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** defaultTimers are the runtime's setTimeout and clearTimeout. */
export const defaultTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** checkClockOption validates an optional injected clock option at construction: undefined or a function. */
export function checkClockOption(where: string, value: unknown): Clock | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${where}({ now }) must be a function returning milliseconds, got ${describe(value)}; pass () => Date.now() or leave it out for the monotonic default.`,
    );
  }
  return value as Clock;
}

/**
 * readClock calls an injected clock and returns its time, or throws
 * ERR_INVALID_CLOCK naming the option when the clock throws or returns anything
 * but a finite number. A broken clock is a bug in the caller's setup: it fails
 * the call loudly instead of being mistaken for a store failure.
 */
export function readClock(where: string, now: Clock): number {
  let t: unknown;
  try {
    t = now();
  } catch (err) {
    throw new FloodgateTypeError(
      "ERR_INVALID_CLOCK",
      `floodgate: ${where}({ now }) threw when called; an injected clock must return the time in milliseconds, such as performance.timeOrigin + performance.now().`,
      { cause: err },
    );
  }
  if (typeof t !== "number" || !Number.isFinite(t)) return badClock(where, t);
  return t;
}

/** badClock throws the error of a clock that returned `t` (kept apart so readClock stays small enough to inline). */
export function badClock(where: string, t: unknown): never {
  throw new FloodgateTypeError(
    "ERR_INVALID_CLOCK",
    `floodgate: ${where}({ now }) returned ${describe(t)}${typeof t === "number" ? "" : ` (${typeof t})`}; an injected clock must return a finite number of milliseconds, such as performance.timeOrigin + performance.now().`,
  );
}
