// scheduler.ts: per-key FIFO lanes that hand out start permits under a rate, a hold-off and a concurrency cap.

import { describe, FloodgateError, FloodgateRangeError } from "../core/errors.js";
import type { RateLimiter, Timers } from "../limiter.js";

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

/** Entry is one waiting call. */
interface Entry {
  readonly cost: number;
  readonly ac: AbortController;
  readonly deadlineMs: number;
  resolve(permit: Permit): void;
  reject(err: unknown): void;
  settled: boolean;
  cleanup(): void;
  /** why records the cause of an internal abort: the caller's signal or the deadline. */
  why: "signal" | "deadline" | undefined;
  reason: unknown;
}

/** Lane is one key's FIFO, with its slot count and the wake-up for a freed slot. */
interface Lane {
  readonly entries: Entry[];
  inFlight: number;
  running: boolean;
  wakeSlot: (() => void) | undefined;
}

/**
 * Scheduler hands out start permits per key, first come first served. The head
 * of a key's lane waits, in order, for a concurrency slot, for the hold-off to
 * pass and for the rate budget; calls behind it wait their turn, so a heavy call
 * is never overtaken by lighter ones. Timers exist only while someone waits: one
 * sleep for the head, and one deadline per call that has a `maxWaitMs`.
 */
export class Scheduler {
  readonly #o: SchedulerOptions;
  readonly #lanes = new Map<string, Lane>();

  constructor(options: SchedulerOptions) {
    this.#o = options;
  }

  /** waiting reports how many calls wait for `key` (or for every key). */
  waiting(key?: string): number {
    if (key !== undefined) return this.#lanes.get(key)?.entries.length ?? 0;
    let n = 0;
    for (const lane of this.#lanes.values()) n += lane.entries.length;
    return n;
  }

  /** inFlight reports how many permits for `key` are held (or for every key). */
  inFlight(key?: string): number {
    if (key !== undefined) return this.#lanes.get(key)?.inFlight ?? 0;
    let n = 0;
    for (const lane of this.#lanes.values()) n += lane.inFlight;
    return n;
  }

  /**
   * schedule waits for a permit to start one call of `cost` for `key`. It
   * rejects with ERR_QUEUE_FULL when `maxQueue` calls already wait, with
   * ERR_WAIT_TOO_LONG when `maxWaitMs` passes, and with `abortError(reason)`
   * when `signal` aborts; a rejected call takes nothing.
   */
  schedule(key: string, cost: number, signal: AbortSignal | undefined, maxWaitMs: number | undefined): Promise<Permit> {
    return new Promise<Permit>((resolve, reject) => {
      if (signal?.aborted) {
        reject(this.#o.abortError(signal.reason));
        return;
      }
      let lane = this.#lanes.get(key);
      if (lane === undefined) {
        lane = { entries: [], inFlight: 0, running: false, wakeSlot: undefined };
        this.#lanes.set(key, lane);
      }
      if (lane.entries.length >= this.#o.maxQueue) {
        this.#forget(key, lane);
        reject(
          new FloodgateError(
            "ERR_QUEUE_FULL",
            `floodgate: throttle queue for this key is full (${this.#o.maxQueue} waiting); raise { maxQueue } or shed load.`,
          ),
        );
        return;
      }
      const ac = new AbortController();
      const entry: Entry = {
        cost,
        ac,
        deadlineMs: maxWaitMs === undefined ? Number.POSITIVE_INFINITY : this.#o.now() + maxWaitMs,
        resolve,
        reject,
        settled: false,
        cleanup: () => {},
        why: undefined,
        reason: undefined,
      };
      const l = lane;
      const abort = (why: "signal" | "deadline", reason: unknown): void => {
        if (entry.settled || ac.signal.aborted) return;
        entry.why = why;
        entry.reason = reason;
        ac.abort(reason);
        // A call behind the head leaves at once; the head's own wait rejects and the lane moves on.
        if (l.entries[0] !== entry || !l.running) this.#fail(key, l, entry, this.#errorFor(entry));
      };
      const onAbort = (): void => abort("signal", signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      let deadlineTimer: unknown;
      if (maxWaitMs !== undefined) {
        deadlineTimer = this.#o.timers.setTimeout(() => {
          deadlineTimer = undefined;
          abort("deadline", undefined);
        }, maxWaitMs);
      }
      entry.cleanup = () => {
        signal?.removeEventListener("abort", onAbort);
        if (deadlineTimer !== undefined) this.#o.timers.clearTimeout(deadlineTimer);
        deadlineTimer = undefined;
      };
      l.entries.push(entry);
      if (!l.running) void this.#run(key, l);
    });
  }

  #errorFor(e: Entry): unknown {
    if (e.why === "signal") return this.#o.abortError(e.reason);
    return new FloodgateError(
      "ERR_WAIT_TOO_LONG",
      "floodgate: throttled call waited longer than maxWaitMs; raise maxWaitMs, lower the load or retry later.",
    );
  }

  #fail(key: string, lane: Lane, e: Entry, err: unknown): void {
    if (e.settled) return;
    e.settled = true;
    e.cleanup();
    const i = lane.entries.indexOf(e);
    if (i >= 0) lane.entries.splice(i, 1);
    e.reject(err);
    if (i === 0 && !lane.running && lane.entries.length > 0) void this.#run(key, lane);
    this.#forget(key, lane);
  }

  #forget(key: string, lane: Lane): void {
    if (lane.entries.length === 0 && lane.inFlight === 0 && !lane.running) this.#lanes.delete(key);
  }

  /** #run serves the lane's head until the lane is empty. Only one run per lane at a time. */
  async #run(key: string, lane: Lane): Promise<void> {
    if (lane.running) return;
    lane.running = true;
    try {
      while (lane.entries.length > 0) {
        const e = lane.entries[0] as Entry;
        try {
          await this.#admit(key, lane, e);
          if (e.ac.signal.aborted) {
            // Aborted in the instant the permit was granted: give the budget back.
            if (this.#o.limiter !== undefined && e.cost > 0) await this.#o.limiter.refund(key, e.cost);
            throw e.reason;
          }
        } catch (err) {
          if (!e.settled) {
            e.settled = true;
            e.cleanup();
            lane.entries.shift();
            const timedOut = (err as { code?: unknown } | null)?.code === "ERR_WAIT_TOO_LONG";
            if (timedOut && e.why === undefined) e.why = "deadline";
            e.reject(e.why !== undefined ? this.#errorFor(e) : err);
          }
          continue;
        }
        e.settled = true;
        e.cleanup();
        lane.entries.shift();
        lane.inFlight++;
        let released = false;
        const release: Release = () => {
          if (released) return;
          released = true;
          lane.inFlight--;
          const wake = lane.wakeSlot;
          lane.wakeSlot = undefined;
          wake?.();
          this.#forget(key, lane);
        };
        const startSeq = this.#o.onStart?.(key) ?? 0;
        e.resolve({ release, startSeq });
      }
    } finally {
      lane.running = false;
      this.#forget(key, lane);
    }
  }

  /** #admit waits until the head may start: slot, hold-off, rate budget. It throws when the head is aborted. */
  async #admit(key: string, lane: Lane, e: Entry): Promise<void> {
    const signal = e.ac.signal;
    while (lane.inFlight >= this.#o.concurrency) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          lane.wakeSlot = undefined;
          reject(signal.reason);
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener("abort", onAbort, { once: true });
        lane.wakeSlot = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
      });
    }
    const limiter = this.#o.limiter;
    for (;;) {
      const holdMs = this.#o.holdMs?.(key) ?? 0;
      if (holdMs > 0) {
        if (this.#o.now() + holdMs > e.deadlineMs) {
          e.why = "deadline";
          throw e.why;
        }
        await sleep(this.#o.timers, holdMs, signal);
        continue;
      }
      if (limiter === undefined) return;
      const leftMs = e.deadlineMs - this.#o.now();
      await limiter.acquire(key, {
        cost: e.cost,
        signal,
        ...(Number.isFinite(leftMs) ? { maxWaitMs: Math.max(0, leftMs) } : {}),
      });
      if ((this.#o.holdMs?.(key) ?? 0) > 0) {
        // A pause arrived while we waited for the rate: give the budget back and wait for the pause.
        if (e.cost > 0) await limiter.refund(key, e.cost);
        continue;
      }
      return;
    }
  }
}

/** sleep waits `ms` on the given timers; it rejects with the signal's reason when aborted, clearing its timer. */
export function sleep(timers: Timers, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      timers.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = timers.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
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
