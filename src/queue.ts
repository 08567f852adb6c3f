// queue.ts: one keyed FIFO wait queue (RateLimiter.acquire and the client both wait in it): abort, deadlines, a bound, one timer per key.

import { MAX_TIMER_MS, type Timers } from "./core/clock.js";
import { FloodgateError } from "./core/errors.js";

/**
 * Admission is what admitting a queue's head answered: `go` with the value the
 * head was admitted with (a Decision, or nothing), or wait `waitMs` before
 * asking again. A `waitMs` of Infinity waits until `wake(key)` is called (a
 * freed concurrency slot); deadlines are still enforced meanwhile.
 */
export type Admission<V> = { readonly go: true; readonly value: V } | { readonly go: false; readonly waitMs: number };

/** WAIT_FOR_WAKE is the admission of a head that waits for `wake(key)` rather than for a time. */
export const WAIT_FOR_WAKE: Admission<never> = Object.freeze({ go: false, waitMs: Number.POSITIVE_INFINITY });

/** WaitQueueOptions configures a WaitQueue. `J` is what a waiter asks for, `V` what admitting it returns, `R` what it resolves with. */
export interface WaitQueueOptions<J, V, R> {
  /** now returns the time in milliseconds (monotonic by default; injected in tests and simulations). */
  now: () => number;
  /** timers sets the queue's one timer per waiting key. */
  timers: Timers;
  /** maxQueue is the most waiters per key, the head included; one more rejects with ERR_QUEUE_FULL. */
  maxQueue: number;
  /** call names the waiting call in error messages, such as "acquire()". */
  call: string;
  /** maxQueueOption names the option that raises maxQueue, for the ERR_QUEUE_FULL message. */
  maxQueueOption: string;
  /**
   * admit tries to start the head `job` of `key`'s queue. It runs for one head
   * per key at a time and may be async (a store call). What it throws rejects
   * that waiter only; the queue moves on to the next.
   */
  admit(key: string, job: J): Admission<V> | Promise<Admission<V>>;
  /** grant turns an admission into the waiter's result, synchronously, once the waiter is known to still wait. */
  grant(key: string, job: J, value: V): R;
  /** undo gives back what an admission took for a waiter that left (aborted) while `admit` ran. Errors are ignored. */
  undo?(key: string, job: J, value: V): unknown;
  /** abortError builds the rejection of an aborted wait. Default: ERR_ABORTED with the signal's reason as its cause. */
  abortError?(reason: unknown): unknown;
  /**
   * observe is told each step of a wait, synchronously: "queued", then
   * "admitted", "aborted", "timedOut" or "failed"; or "queueFull" (never queued).
   * `queuedAtMs` is when the waiter was queued (the time of the call when it
   * never was). What it throws is ignored.
   */
  observe?(key: string, phase: WaitPhase, queuedAtMs: number): void;
}

/** WaitPhase names a step of a wait (see WaitQueueOptions.observe). */
export type WaitPhase = "queued" | "admitted" | "aborted" | "timedOut" | "queueFull" | "failed";

/** WaitOptions are one wait's own bounds. */
export interface WaitOptions {
  /** signal aborts the wait: the waiter leaves the queue at once and takes nothing. */
  signal?: AbortSignal | undefined;
  /** maxWaitMs bounds the wait, time spent behind other waiters included. Default: no bound. */
  maxWaitMs?: number | undefined;
}

/** Waiter is one pending wait. */
interface Waiter<J, R> {
  readonly job: J;
  /** queuedAtMs is when the waiter joined its line. */
  readonly queuedAtMs: number;
  /** deadlineMs is when the waiter gives up (Infinity without maxWaitMs). */
  readonly deadlineMs: number;
  readonly resolve: (r: R) => void;
  readonly reject: (e: unknown) => void;
  done: boolean;
  cleanup: () => void;
}

/**
 * Fifo is an array queue whose head leaves in O(1): items live at
 * `items[head..]`, and the dead prefix is cut off once it is half the array
 * (Array.prototype.shift copies the whole array once it is large, which made
 * draining a long queue quadratic).
 */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** at returns the item `i` places behind the head (0 is the head). */
  at(i: number): T | undefined {
    return this.#items[this.#head + i];
  }

  push(x: T): void {
    this.#items.push(x);
  }

  /** remove takes `x` out and returns the place it had (0 for the head), or -1. */
  remove(x: T): number {
    const items = this.#items;
    if (items[this.#head] === x) {
      items[this.#head++] = undefined;
      if (this.#head === items.length) {
        items.length = 0;
        this.#head = 0;
      } else if (this.#head >= 1024 && this.#head * 2 >= items.length) {
        items.splice(0, this.#head);
        this.#head = 0;
      }
      return 0;
    }
    const i = items.indexOf(x, this.#head);
    if (i < 0) return -1;
    items.splice(i, 1);
    return i - this.#head;
  }

  /** removeWhere takes out, in order, the items from place `from` on that `test` picks, and returns them. */
  removeWhere(from: number, test: (x: T) => boolean): T[] {
    const items = this.#items;
    const out: T[] = [];
    let kept = this.#head + from;
    for (let i = kept; i < items.length; i++) {
      const x = items[i] as T;
      if (test(x)) out.push(x);
      else items[kept++] = x;
    }
    items.length = kept;
    if (kept === this.#head) {
      items.length = 0;
      this.#head = 0;
    }
    return out;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i] as T;
  }
}

/** Line is one key's FIFO, with its single timer. */
interface Line<J, R> {
  readonly waiters: Fifo<Waiter<J, R>>;
  /** retryAtMs is when the head is asked again: a time, Infinity (until woken), or NaN while it is being asked. */
  retryAtMs: number;
  timer: unknown;
  /** timerLeftMs is what remains of a wait longer than one timer can hold (chained timers). */
  timerLeftMs: number;
  running: boolean;
  /** woken records a wake() that came while the head was being asked, so a freed slot is not missed. */
  woken: boolean;
}

/**
 * WaitQueue keeps one FIFO of waiters per key and admits only the head: a
 * heavy call at the head is never overtaken by lighter ones behind it. The
 * head is asked (`admit`) when it arrives and again when the wait it was told
 * has passed, or when `wake(key)` is called for a head that waits to be woken.
 *
 * - **Abort**: a waiter whose signal aborts leaves at once and takes nothing
 *   (what `admit` took for it meanwhile is given back through `undo`).
 * - **Deadlines**: a waiter with `maxWaitMs` is rejected with ERR_WAIT_TOO_LONG
 *   as soon as its bound is known to pass: at once when the head's own wait
 *   already passes it (waiters behind cannot go before the head), else at its
 *   deadline at the latest.
 * - **Bound**: `maxQueue` waiters per key, the head included (ERR_QUEUE_FULL).
 * - **Timers**: at most one per key while someone waits, none when idle. A
 *   wait longer than setTimeout's limit (2^31-1 ms, which Node turns into 1 ms)
 *   is chained: one timer per 2^31-1 ms, and the head is asked again only at
 *   the end.
 */
export class WaitQueue<J, V, R> {
  readonly #o: WaitQueueOptions<J, V, R>;
  readonly #lines = new Map<string, Line<J, R>>();

  constructor(options: WaitQueueOptions<J, V, R>) {
    this.#o = options;
  }

  /** waiting reports how many calls wait for `key` (or for every key). */
  waiting(key?: string): number {
    if (key !== undefined) return this.#lines.get(key)?.waiters.size ?? 0;
    let n = 0;
    for (const line of this.#lines.values()) n += line.waiters.size;
    return n;
  }

  /**
   * wait queues `job` for `key` and resolves with what `grant` returned once it
   * is admitted. It rejects with ERR_QUEUE_FULL, ERR_WAIT_TOO_LONG, the abort
   * error, or what `admit` threw for it; a rejected waiter took nothing.
   */
  wait(key: string, job: J, options: WaitOptions = {}): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const { signal, maxWaitMs } = options;
      if (signal?.aborted) {
        this.#observe(key, "aborted", Number.NaN);
        reject(this.#abortError(signal.reason));
        return;
      }
      let line = this.#lines.get(key);
      if (line !== undefined && line.waiters.size >= this.#o.maxQueue) {
        this.#observe(key, "queueFull", Number.NaN);
        reject(
          new FloodgateError(
            "ERR_QUEUE_FULL",
            `floodgate: ${this.#o.call} queue for this key is full (${this.#o.maxQueue} waiting); raise ${this.#o.maxQueueOption} or shed load.`,
          ),
        );
        return;
      }
      const nowMs = this.#o.now();
      const deadlineMs = maxWaitMs === undefined ? Number.POSITIVE_INFINITY : nowMs + maxWaitMs;
      // Behind a head that is asked again at retryAtMs, this waiter cannot go earlier.
      if (line !== undefined && Number.isFinite(line.retryAtMs) && line.retryAtMs > deadlineMs) {
        this.#observe(key, "timedOut", nowMs);
        reject(this.#waitTooLong(line.retryAtMs - nowMs));
        return;
      }
      if (line === undefined) {
        line = {
          waiters: new Fifo(),
          retryAtMs: Number.NaN,
          timer: undefined,
          timerLeftMs: 0,
          running: false,
          woken: false,
        };
        this.#lines.set(key, line);
      }
      const l = line;
      const w: Waiter<J, R> = { job, queuedAtMs: nowMs, deadlineMs, resolve, reject, done: false, cleanup: noop };
      if (signal !== undefined) {
        const onAbort = (): void => {
          if (w.done) return;
          this.#leave(key, l, w);
          this.#observe(key, "aborted", w.queuedAtMs);
          reject(this.#abortError(signal.reason));
        };
        signal.addEventListener("abort", onAbort, { once: true });
        w.cleanup = () => signal.removeEventListener("abort", onAbort);
      }
      l.waiters.push(w);
      this.#observe(key, "queued", nowMs);
      if (l.waiters.size === 1) void this.#drain(key, l);
      else if (l.retryAtMs === Number.POSITIVE_INFINITY && deadlineMs < Number.POSITIVE_INFINITY) {
        // The head waits to be woken: the timer watches the earliest deadline, which may now be this one.
        this.#arm(key, l, nowMs);
      }
    });
  }

  /**
   * wake asks `key`'s head again now if it waits to be woken (a concurrency
   * slot was freed). It does nothing for a head that waits for a time.
   */
  wake(key: string): void {
    const line = this.#lines.get(key);
    if (line === undefined) return;
    if (line.running) {
      line.woken = true;
      return;
    }
    if (line.retryAtMs === Number.POSITIVE_INFINITY) {
      this.#disarm(line);
      void this.#drain(key, line);
    }
  }

  /** #observe tells the observe option a step of a wait; it never throws. */
  #observe(key: string, phase: WaitPhase, queuedAtMs: number): void {
    const fn = this.#o.observe;
    if (fn === undefined) return;
    try {
      fn(key, phase, queuedAtMs);
    } catch {
      // An observer must never break a wait.
    }
  }

  #abortError(reason: unknown): unknown {
    if (this.#o.abortError !== undefined) return this.#o.abortError(reason);
    return new FloodgateError("ERR_ABORTED", `floodgate: ${this.#o.call} was aborted; nothing was taken.`, {
      cause: reason,
    });
  }

  #waitTooLong(waitMs: number): FloodgateError {
    return new FloodgateError(
      "ERR_WAIT_TOO_LONG",
      `floodgate: ${this.#o.call} would wait at least ${Math.ceil(waitMs)} ms, longer than maxWaitMs allows; raise maxWaitMs, lower the load or retry later.`,
    );
  }

  #timedOut(): FloodgateError {
    return new FloodgateError(
      "ERR_WAIT_TOO_LONG",
      `floodgate: ${this.#o.call} reached its maxWaitMs before its turn came; raise maxWaitMs, lower the load or retry later.`,
    );
  }

  /** #expire rejects with `error()`, in queue order, the waiters from place `from` whose deadline `gone` says has passed. */
  #expire(
    key: string,
    line: Line<J, R>,
    from: number,
    gone: (deadlineMs: number) => boolean,
    error: () => unknown,
  ): void {
    for (const w of line.waiters.removeWhere(from, (x) => gone(x.deadlineMs))) {
      w.done = true;
      w.cleanup();
      this.#observe(key, "timedOut", w.queuedAtMs);
      w.reject(error());
    }
  }

  /** #remove takes a waiter out of its line for good and returns the place it had (0 for the head). */
  #remove(line: Line<J, R>, w: Waiter<J, R>): number {
    w.done = true;
    w.cleanup();
    return line.waiters.remove(w);
  }

  /** #leave removes a waiter that gave up (abort); when it led the line, the next one is asked at once. */
  #leave(key: string, line: Line<J, R>, w: Waiter<J, R>): void {
    const i = this.#remove(line, w);
    if (line.running) return; // the running drain sees `done` and moves on
    if (line.waiters.size === 0) {
      this.#disarm(line);
      this.#lines.delete(key);
    } else if (i === 0) {
      this.#disarm(line);
      void this.#drain(key, line);
    }
  }

  /** #drain asks the head until it must wait, then sets the one timer; it deletes the line once empty. */
  async #drain(key: string, line: Line<J, R>): Promise<void> {
    if (line.running) return;
    line.running = true;
    line.retryAtMs = Number.NaN;
    this.#disarm(line);
    try {
      while (line.waiters.size > 0) {
        const w = line.waiters.at(0) as Waiter<J, R>;
        line.woken = false;
        let a: Admission<V>;
        try {
          a = await this.#o.admit(key, w.job);
        } catch (err) {
          if (!w.done) {
            this.#remove(line, w);
            this.#observe(key, "failed", w.queuedAtMs);
            w.reject(err);
          }
          continue;
        }
        if (w.done) {
          // Aborted while it was being admitted: give back what was taken for it.
          if (a.go && this.#o.undo !== undefined) {
            try {
              await this.#o.undo(key, w.job, a.value);
            } catch {
              // A failed undo leaves the cost spent; it must not stop the line or escape unhandled.
            }
          }
          continue;
        }
        if (a.go) {
          this.#remove(line, w);
          let r: R;
          try {
            r = this.#o.grant(key, w.job, a.value);
          } catch (err) {
            this.#observe(key, "failed", w.queuedAtMs);
            w.reject(err);
            continue;
          }
          this.#observe(key, "admitted", w.queuedAtMs);
          w.resolve(r);
          continue;
        }
        const nowMs = this.#read(key, line);
        if (nowMs === undefined) continue;
        if (a.waitMs === Number.POSITIVE_INFINITY) {
          if (line.woken) continue; // a slot was freed while the head was asked: ask again
          line.retryAtMs = Number.POSITIVE_INFINITY;
          this.#arm(key, line, nowMs);
          return;
        }
        const waitMs = Math.max(1, Math.ceil(a.waitMs));
        const retryAtMs = nowMs + waitMs;
        if (retryAtMs > w.deadlineMs) {
          this.#remove(line, w);
          this.#observe(key, "timedOut", w.queuedAtMs);
          w.reject(this.#waitTooLong(waitMs));
          continue;
        }
        // Waiters behind the head go no earlier than retryAtMs: turn away those whose bound it passes.
        this.#expire(
          key,
          line,
          1,
          (d) => d < retryAtMs,
          () => this.#waitTooLong(waitMs),
        );
        line.retryAtMs = retryAtMs;
        this.#arm(key, line, nowMs);
        return;
      }
      this.#lines.delete(key);
    } finally {
      line.running = false;
    }
  }

  /**
   * #arm sets the line's one timer: for the head's next try, or, while the head
   * waits to be woken, for the earliest deadline in the line (none if no waiter
   * has one).
   */
  #arm(key: string, line: Line<J, R>, nowMs: number): void {
    this.#disarm(line);
    let atMs = line.retryAtMs;
    if (atMs === Number.POSITIVE_INFINITY) {
      for (const w of line.waiters) if (w.deadlineMs < atMs) atMs = w.deadlineMs;
      if (atMs === Number.POSITIVE_INFINITY) return;
    }
    line.timerLeftMs = Math.max(1, Math.ceil(atMs - nowMs));
    this.#setChunk(key, line);
  }

  /** #setChunk sets one timer for what is left of the wait, at most MAX_TIMER_MS; the last one fires #onTimer. */
  #setChunk(key: string, line: Line<J, R>): void {
    const ms = Math.min(line.timerLeftMs, MAX_TIMER_MS);
    line.timerLeftMs -= ms;
    line.timer = this.#o.timers.setTimeout(() => {
      line.timer = undefined;
      if (line.timerLeftMs > 0) this.#setChunk(key, line);
      else this.#onTimer(key, line);
    }, ms);
  }

  /**
   * #read reads the clock. A clock that throws (an injected clock that is broken,
   * ERR_INVALID_CLOCK) rejects every waiter of the line with its error, rather
   * than escape from a timer as an unhandled rejection; it returns undefined then.
   */
  #read(key: string, line: Line<J, R>): number | undefined {
    try {
      return this.#o.now();
    } catch (err) {
      this.#disarm(line);
      for (const w of line.waiters.removeWhere(0, () => true)) {
        w.done = true;
        w.cleanup();
        this.#observe(key, "failed", w.queuedAtMs);
        w.reject(err);
      }
      return undefined;
    }
  }

  #disarm(line: Line<J, R>): void {
    if (line.timer !== undefined) {
      this.#o.timers.clearTimeout(line.timer);
      line.timer = undefined;
    }
    line.timerLeftMs = 0;
  }

  /** #onTimer asks the head again, or, while it waits to be woken, turns away the waiters whose deadline came. */
  #onTimer(key: string, line: Line<J, R>): void {
    if (line.running) return;
    if (line.retryAtMs !== Number.POSITIVE_INFINITY) {
      void this.#drain(key, line);
      return;
    }
    const nowMs = this.#read(key, line);
    if (nowMs === undefined) {
      this.#lines.delete(key);
      return;
    }
    const head = line.waiters.at(0);
    this.#expire(
      key,
      line,
      0,
      (d) => d <= nowMs,
      () => this.#timedOut(),
    );
    if (line.waiters.size === 0) this.#lines.delete(key);
    else if (line.waiters.at(0) !== head) void this.#drain(key, line);
    else this.#arm(key, line, nowMs);
  }
}

function noop(): void {}
