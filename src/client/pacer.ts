// pacer.ts: per-key state learnt from responses: pauses after 429/503 and the server's remaining quota.

import type { RateLimitHints } from "./headers.js";

/** PacerOptions configures a ServerPacer. All durations are milliseconds. */
export interface PacerOptions {
  now: () => number;
  /** maxDelayMs caps every pause. */
  maxDelayMs: number;
  /** backoffMs is the first pause after a 429/503 that names no wait; it doubles per attempt. */
  backoffMs: number;
  /** jitter is the largest fraction of a pause added at random (0.1 adds up to 10%); never subtracted. */
  jitter: number;
  random: () => number;
  /**
   * spreadBelow is the fraction of the server's limit under which the remaining
   * quota is spread evenly over the reset window instead of spent at once.
   * 0 never spreads; 1 always spreads (also when the limit is unknown).
   */
  spreadBelow: number;
}

/** Budget is the server's latest word on a key's quota. */
interface Budget {
  /** remaining is the quota left before resetAtMs, minus the starts made since. */
  remaining: number;
  resetAtMs: number;
  /** fromSeq is the start number of the request whose response set this budget. */
  fromSeq: number;
  spread: boolean;
  /** nextAtMs is the earliest next start when spreading. */
  nextAtMs: number;
}

interface KeyState {
  starts: number;
  lastStartMs: number;
  inFlight: number;
  pausedUntilMs: number;
  budget: Budget | undefined;
}

/**
 * ServerPacer keeps what servers said, per key, and turns it into hold-offs.
 *
 * - A 429 or 503 pauses the key for Retry-After, else until the quota resets
 *   when it is exhausted, else for an exponential backoff; jitter is added.
 *   Retry-After takes precedence over the quota fields of the same response: a
 *   quota the server says is exhausted (remaining 0) then lasts until
 *   Retry-After, whatever its reset says (draft-11, section 7).
 * - A response with a remaining quota and a reset time sets a budget: no more
 *   than `remaining` starts before the reset, and none at all once it is 0.
 *   Requests started after the one that carried the news were not counted by
 *   the server yet, so they are taken off (a conservative estimate).
 * - When the remaining quota is low (at most `spreadBelow` of the limit), the
 *   starts are spread evenly over the time to the reset instead of bursting.
 *
 * A key with no pause, no budget and nothing in flight holds no state.
 */
export class ServerPacer {
  readonly #o: PacerOptions;
  readonly #keys = new Map<string, KeyState>();
  #sweeper: Iterator<[string, KeyState]> | undefined;

  constructor(options: PacerOptions) {
    this.#o = options;
  }

  /** holdMs returns how long `key` must wait before its next start; 0 to go now. */
  holdMs(key: string): number {
    const s = this.#keys.get(key);
    if (s === undefined) return 0;
    const now = this.#o.now();
    let wait = s.pausedUntilMs > now ? s.pausedUntilMs - now : 0;
    const b = s.budget;
    if (b !== undefined) {
      if (now >= b.resetAtMs) s.budget = undefined;
      else if (b.remaining <= 0) wait = Math.max(wait, b.resetAtMs - now);
      else if (b.spread && b.nextAtMs > now) wait = Math.max(wait, b.nextAtMs - now);
    }
    this.#forget(key, s);
    return Math.ceil(wait);
  }

  /** started records a start for `key` and returns its start number. */
  started(key: string): number {
    this.#sweep();
    let s = this.#keys.get(key);
    if (s === undefined) {
      s = { starts: 0, lastStartMs: 0, inFlight: 0, pausedUntilMs: 0, budget: undefined };
      this.#keys.set(key, s);
    }
    const now = this.#o.now();
    s.starts++;
    s.inFlight++;
    s.lastStartMs = now;
    const b = s.budget;
    if (b !== undefined && now < b.resetAtMs) {
      b.remaining--;
      if (b.spread && b.remaining > 0) b.nextAtMs = now + (b.resetAtMs - now) / (b.remaining + 1);
    }
    return s.starts;
  }

  /**
   * observe learns from the response to the request started as `startSeq`
   * (the `attempt`-th retry, from 0) and returns the pause it set, 0 for none.
   * `throttled` is true for a 429/503 (a refusal that pauses the key). Call it
   * once per started request, also when the request failed (not throttled, no
   * hints), so the key's in-flight count stays right.
   */
  observe(key: string, startSeq: number, throttled: boolean, hints: RateLimitHints, attempt: number): number {
    const s = this.#keys.get(key);
    if (s === undefined) return 0;
    s.inFlight = Math.max(0, s.inFlight - 1);
    const now = this.#o.now();
    let pauseMs = 0;
    if (throttled) {
      // Retry-After decides the pause when present (it takes precedence over the quota fields, see below).
      if (hints.retryAfterMs !== undefined) pauseMs = hints.retryAfterMs;
      else if (hints.remaining === 0 && hints.resetAfterMs !== undefined) pauseMs = hints.resetAfterMs;
      else pauseMs = this.#o.backoffMs * 2 ** Math.min(attempt, 30);
      pauseMs = this.#jittered(Math.min(pauseMs, this.#o.maxDelayMs));
      s.pausedUntilMs = Math.max(s.pausedUntilMs, now + pauseMs);
    }
    // draft-ietf-httpapi-ratelimit-headers-11, section 7: "If a response contains both the RateLimit and
    // Retry-After fields, the Retry-After field MUST take precedence and the effective window MAY be ignored."
    // So a quota the server says is exhausted lasts until Retry-After, not until its window ends (earlier or later).
    const windowMs =
      hints.remaining === 0 && hints.retryAfterMs !== undefined ? hints.retryAfterMs : hints.resetAfterMs;
    if (hints.remaining !== undefined && windowMs !== undefined) {
      const startedSince = Math.max(0, s.starts - startSeq);
      const remaining = hints.remaining - startedSince;
      const resetAfterMs = remaining <= 0 ? this.#jittered(windowMs) : windowMs;
      const o = this.#o;
      const spread =
        o.spreadBelow >= 1 ||
        (hints.limit !== undefined && hints.limit > 0 && hints.remaining <= o.spreadBelow * hints.limit);
      const old = s.budget;
      const stale = old === undefined || now >= old.resetAtMs;
      if (stale || startSeq >= old.fromSeq || remaining < old.remaining) {
        const resetAtMs = now + resetAfterMs;
        // Spread from the last start: the remaining starts share the time left evenly.
        let nextAtMs = !stale && old ? old.nextAtMs : 0;
        if (spread && remaining > 0 && s.starts > 0) {
          nextAtMs = Math.max(nextAtMs, s.lastStartMs + (resetAtMs - s.lastStartMs) / (remaining + 1));
        }
        s.budget = { remaining, resetAtMs, fromSeq: startSeq, spread, nextAtMs };
      }
    }
    this.#forget(key, s);
    return pauseMs;
  }

  #jittered(ms: number): number {
    const extra = ms * this.#o.jitter * Math.min(1, Math.max(0, this.#o.random()));
    return Math.min(Math.ceil(ms + extra), this.#o.maxDelayMs);
  }

  /** #sweep checks two other keys per start and drops the idle ones, so keys never asked again do not pile up. */
  #sweep(): void {
    for (let i = 0; i < 2; i++) {
      this.#sweeper ??= this.#keys.entries();
      const next = this.#sweeper.next();
      if (next.done) {
        this.#sweeper = undefined;
        return;
      }
      const [key, s] = next.value;
      if (s.budget !== undefined && this.#o.now() >= s.budget.resetAtMs) s.budget = undefined;
      this.#forget(key, s);
    }
  }

  #forget(key: string, s: KeyState): void {
    if (s.inFlight > 0 || s.budget !== undefined) return;
    if (s.pausedUntilMs > this.#o.now()) return;
    this.#keys.delete(key);
  }

  /** size reports how many keys hold state (for tests: bounded memory). */
  get size(): number {
    return this.#keys.size;
  }
}
