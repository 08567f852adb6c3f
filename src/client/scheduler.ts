// scheduler.ts: start permits per key: the shared wait queue, plus what the client adds (a concurrency cap, server hold-offs).

import type { Timers } from "../core/clock.js";
import { describe, FloodgateRangeError } from "../core/errors.js";
import type { Decision } from "../core/policy.js";
import { type RateLimiter, WAITER, type Waiter } from "../limiter.js";
import { type Admission, WAIT_FOR_WAKE, WaitQueue } from "../queue.js";

/** Release gives back a concurrency slot. Calling it more than once does nothing. */
export type Release = () => void;

/** Permit is a granted start: `release` frees its slot, `startSeq` is what `onStart` returned for it. */
export interface Permit {
  readonly release: Release;
  readonly startSeq: number;
}

/** SchedulerOptions configures a Scheduler. */
export interface SchedulerOptions {
  /** limiter spends the rate budget; undefined for no local rate. */
  limiter: RateLimiter | undefined;
  /** concurrency is the most permits held at once per key. Default: no cap. */
  concurrency: number;
  /** maxQueue is the most calls waiting per key. */
  maxQueue: number;
  now: () => number;
  timers: Timers;
  /** call names the throttled call in error messages, such as "throttle()". */
  call: string;
  /**
   * holdMs returns how long a key must hold off before its next start (a
   * server pause, a spread-out quota); 0 to go. It is asked before and after
   * the rate budget is spent, so a pause set meanwhile is honoured.
   */
  holdMs?: (key: string) => number;
  /**
   * onStart is told of every permit handed out, synchronously, before the next
   * call's hold-off is asked; what it returns is the permit's `startSeq`.
   */
  onStart?: (key: string) => number;
  /** abortError builds the rejection for an aborted wait. */
  abortError: (reason: unknown) => unknown;
}

const GO: Admission<Decision | undefined> = Object.freeze({ go: true, value: undefined });

/**
 * Scheduler hands out start permits per key, first come first served. Calls
 * wait in the one keyed wait queue (src/queue.ts); admitting the head of a key
 * takes, in order, a concurrency slot, the end of any hold-off, and the rate
 * budget (through the limiter's non-waiting `consume`, so a call waits in one
 * queue only). Calls behind the head wait their turn, so a heavy call is never
 * overtaken by lighter ones. The queue keeps at most one timer per waiting key.
 */
export class Scheduler {
  readonly #o: SchedulerOptions;
  readonly #queue: WaitQueue<number, Decision | undefined, Permit>;
  /** #waiter is the limiter's face for this queue: its waits and admissions reach the limiter's listeners. */
  readonly #waiter: Waiter | undefined;
  /** #inFlight counts the permits held per key; a key holding none has no entry. */
  readonly #inFlight = new Map<string, number>();

  constructor(options: SchedulerOptions) {
    this.#o = options;
    const limiter = options.limiter;
    // A limiter of an older copy of floodgate has no WAITER face: decide through consume, report nothing.
    const waiter: Waiter | undefined =
      limiter === undefined
        ? undefined
        : typeof limiter[WAITER] === "function"
          ? limiter[WAITER]()
          : { consume: (k, c) => limiter.consume(k, c), granted: () => {}, observe: () => {} };
    this.#waiter = waiter;
    this.#queue = new WaitQueue<number, Decision | undefined, Permit>({
      now: options.now,
      timers: options.timers,
      maxQueue: options.maxQueue,
      call: options.call,
      maxQueueOption: `${options.call.replace(/\(\)$/, "")}({ maxQueue })`,
      admit: (key, cost) => this.#admit(key, cost),
      grant: (key, cost, d) => {
        if (d !== undefined) waiter?.granted(key, cost, d);
        return this.#grant(key);
      },
      undo: (key, cost) => (limiter !== undefined && cost > 0 ? limiter.refund(key, cost) : undefined),
      abortError: options.abortError,
      ...(waiter !== undefined ? { observe: waiter.observe } : {}),
    });
  }

  /** waiting reports how many calls wait for `key` (or for every key). */
  waiting(key?: string): number {
    return this.#queue.waiting(key);
  }

  /** inFlight reports how many permits for `key` are held (or for every key). */
  inFlight(key?: string): number {
    if (key !== undefined) return this.#inFlight.get(key) ?? 0;
    let n = 0;
    for (const held of this.#inFlight.values()) n += held;
    return n;
  }

  /**
   * schedule waits for a permit to start one call of `cost` for `key`. It
   * rejects with ERR_QUEUE_FULL when `maxQueue` calls already wait, with
   * ERR_WAIT_TOO_LONG as soon as the wait is known to pass `maxWaitMs`, and
   * with `abortError(reason)` when `signal` aborts; a rejected call takes nothing.
   */
  schedule(key: string, cost: number, signal: AbortSignal | undefined, maxWaitMs: number | undefined): Promise<Permit> {
    return this.#queue.wait(key, cost, { signal, maxWaitMs });
  }

  /** #admit decides whether the head may start now: a free slot, no hold-off, and the rate budget spent. */
  async #admit(key: string, cost: number): Promise<Admission<Decision | undefined>> {
    const o = this.#o;
    if ((this.#inFlight.get(key) ?? 0) >= o.concurrency) return WAIT_FOR_WAKE;
    const holdMs = o.holdMs?.(key) ?? 0;
    if (holdMs > 0) return { go: false, waitMs: holdMs };
    const limiter = o.limiter;
    const waiter = this.#waiter;
    if (limiter === undefined || waiter === undefined) return GO;
    const d = await waiter.consume(key, cost);
    if (!d.allowed) return { go: false, waitMs: d.retryAfterMs };
    const heldMs = o.holdMs?.(key) ?? 0;
    if (heldMs > 0) {
      // A pause arrived while the budget was spent: give it back and wait for the pause.
      if (cost > 0) await limiter.refund(key, cost).catch(() => {});
      return { go: false, waitMs: heldMs };
    }
    return { go: true, value: d };
  }

  /** #grant takes the slot of an admitted head and builds its permit. */
  #grant(key: string): Permit {
    this.#inFlight.set(key, (this.#inFlight.get(key) ?? 0) + 1);
    let released = false;
    const release: Release = () => {
      if (released) return;
      released = true;
      const held = (this.#inFlight.get(key) ?? 1) - 1;
      if (held > 0) this.#inFlight.set(key, held);
      else this.#inFlight.delete(key);
      this.#queue.wake(key);
    };
    const startSeq = this.#o.onStart?.(key) ?? 0;
    return { release, startSeq };
  }
}

/** checkWholeNumber validates an option that must be a whole number >= min (Infinity allowed when `infinite`). */
export function checkWholeNumber(
  fn: string,
  name: string,
  value: unknown,
  min: number,
  infinite: boolean,
  fix: string,
): number {
  const ok =
    typeof value === "number" &&
    ((infinite && value === Number.POSITIVE_INFINITY) || (Number.isInteger(value) && value >= min));
  if (!ok) {
    throw new FloodgateRangeError(
      "ERR_INVALID_OPTION",
      `floodgate: ${fn}({ ${name} }) must be a whole number >= ${min}, got ${describe(value)}; ${fix}.`,
    );
  }
  return value as number;
}
