// listeners.ts: the events RateLimiter reports (decisions, near-limit, waits, store health) and the registry that calls their listeners.

import type { Decision, Degraded } from "./core/policy.js";
import type { StoreEvent } from "./stores/store.js";

export type { StoreEvent };

/**
 * DecisionEvent reports one answer given to a caller: a consume (consumeSync,
 * consumeAt, the HTTP layer, the client) or an admitted acquire. A peek, a refund
 * or a reset is not a decision, nor is a denial acquire waits out (see WaitEvent).
 */
export interface DecisionEvent {
  /** key is the store key as the caller gave it (the HTTP layer's keys keep secret parts hashed). */
  readonly key: string;
  /** op is the call that decided: "consume" (every non-waiting call) or "acquire". */
  readonly op: "consume" | "acquire";
  /**
   * outcome is "allowed", "denied", or "shadow": denied, but the call ran in
   * shadow mode (`{ shadow: true }`, the HTTP layer's `shadow` option) and the
   * caller lets it through, so it is a would-be refusal.
   */
  readonly outcome: "allowed" | "denied" | "shadow";
  /** policy names the deciding policy: the one that denied (the longest wait) or, when all allow, the tightest. */
  readonly policy: string;
  /** cost is what the call asked to spend (spent when allowed, nothing otherwise). */
  readonly cost: number;
  /** remaining and limit are the deciding policy's, after the call. */
  readonly remaining: number;
  readonly limit: number;
  /** nearLimit is true when an allowed call left `remaining` at or below `nearLimit` × `limit` (default 20%). */
  readonly nearLimit: boolean;
  /** degraded says which failure policy decided when the store could not (fail-open, fail-closed, insurance). */
  readonly degraded: Degraded | undefined;
  /**
   * durationMs is how long the store took to decide, when it was timed: every call
   * of a store that answers with a promise (Redis), one call in STORE_TIMING_SAMPLE
   * of an in-process store (a decision there takes a fraction of a microsecond,
   * about what reading the clock twice costs); undefined when not timed.
   */
  readonly durationMs: number | undefined;
  /** decision is the Decision the caller received. */
  readonly decision: Decision;
}

/** NearLimitEvent reports an allowed call that left its policy at or below the near-limit share. */
export interface NearLimitEvent {
  readonly key: string;
  readonly policy: string;
  readonly remaining: number;
  readonly limit: number;
}

/**
 * WaitEvent reports a step of an `acquire` wait: "queued" (it joined its key's
 * line), then one of "admitted" (after `waitedMs`), "aborted" (its signal),
 * "timedOut" (ERR_WAIT_TOO_LONG: its maxWaitMs would pass, at once or at its
 * deadline), "failed" (the store or the clock threw); or "queueFull" (refused at
 * once, ERR_QUEUE_FULL, never queued).
 */
export interface WaitEvent {
  readonly key: string;
  readonly phase: "queued" | "admitted" | "aborted" | "timedOut" | "queueFull" | "failed";
  /** waitedMs is the time since the call was queued (0 for queued and queueFull). */
  readonly waitedMs: number;
}

/** RateLimiterEvents names each event of RateLimiter.on and its payload. */
export interface RateLimiterEvents {
  decision: DecisionEvent;
  nearLimit: NearLimitEvent;
  wait: WaitEvent;
  /** store: the store's health (degraded, recovered, error, probe) and a MemoryStore's overflow (see StoreEvent). */
  store: StoreEvent;
}

/** RateLimiterListener is a function called with an event's payload. What it returns (a promise too) is ignored. */
export type RateLimiterListener<E extends keyof RateLimiterEvents> = (event: RateLimiterEvents[E]) => unknown;

/** EVENTS lists the event names, for validation. */
export const EVENTS: readonly (keyof RateLimiterEvents)[] = ["decision", "nearLimit", "wait", "store"];

/**
 * STORE_TIMING_SAMPLE: one decision in this many is timed with an in-process
 * store (see DecisionEvent.durationMs). A power of two, so the test is a mask.
 */
export const STORE_TIMING_SAMPLE = 16;

/**
 * STORE_SINK_SAMPLE: one in-process decision in this many is timed for the
 * counting bindings' store-duration histograms (see CounterSinks.storeDuration):
 * a decision takes a fraction of a microsecond, and timing it (two clock reads)
 * and filling a histogram cost about as much, so the histogram is a sample. A
 * power of two, a multiple of STORE_TIMING_SAMPLE.
 */
export const STORE_SINK_SAMPLE = 256;

/** MAX_COUNTED_POLICIES bounds the policy names a limiter counts apart: further names count under OTHER_POLICY. */
export const MAX_COUNTED_POLICIES = 256;
/** OTHER_POLICY names the counts of policy names past MAX_COUNTED_POLICIES (per-call policies built per request, a bug). */
export const OTHER_POLICY = "(other)";

/**
 * DecisionCounts are one policy name's decision counts, kept by a RateLimiter in
 * plain numbers while a counting binding (floodgate/prometheus, floodgate/otel) is
 * attached: the same numbers the `decision` event would give, counted without
 * building an event. Cumulative from the first binding attached to the limiter.
 */
export interface DecisionCounts {
  /** allowed, denied and shadow count decisions by outcome (see DecisionEvent.outcome). */
  allowed: number;
  denied: number;
  shadow: number;
  /** nearLimit counts allowed decisions that left `remaining` at or below the near-limit share. */
  nearLimit: number;
  /** costAdmitted sums the cost of allowed decisions; costRefused that of denied ones (not shadow). */
  costAdmitted: number;
  costRefused: number;
}

/** newCounts returns zeroed DecisionCounts. */
export function newCounts(): DecisionCounts {
  return { allowed: 0, denied: 0, shadow: 0, nearLimit: 0, costAdmitted: 0, costRefused: 0 };
}

/**
 * CounterSinks are what a counting binding is told as it happens, besides the
 * counts it reads when scraped: rare or sampled things only.
 */
export interface CounterSinks {
  /**
   * storeDuration receives a timed store decision, in seconds: every call of a
   * store that answers with a promise (Redis), one in STORE_SINK_SAMPLE of an
   * in-process store.
   */
  storeDuration?(seconds: number): void;
  /** refused receives each refused decision (denied, or shadow): its deciding policy and wait. */
  refused?(policy: string, retryAfterMs: number, shadow: boolean): void;
}

/** Counter is what RateLimiter[COUNTER]() returns to a binding. */
export interface Counter {
  /** counts returns the limiter's counts per policy name, live objects: read them, never write them. */
  counts(): ReadonlyMap<string, Readonly<DecisionCounts>>;
  /** release stops this binding's sinks; the limiter stops counting when no binding is left. */
  release(): void;
}

/**
 * COUNTER keys a RateLimiter's face for floodgate's own metric bindings: a typed
 * fast channel beside the public listener API. A binding that only counts
 * decisions needs no event object per decision: the limiter adds to plain
 * numbers per policy name, which the binding reads when it is scraped. A
 * registered symbol, the same in the ESM and CJS copies.
 */
export const COUNTER: unique symbol = Symbol.for("floodgate.RateLimiter.counter") as never;

/**
 * Listeners keeps the listeners of one RateLimiter, an array per event, replaced
 * (never mutated) on each change, so an emit that is running is not disturbed by
 * a listener that removes itself. `emit` calls each one synchronously inside a
 * try/catch, and catches a returned promise's rejection: a listener never
 * reaches the caller, even an async one (an unhandled rejection would crash Node).
 * The first failure is reported once through `onThrow`.
 */
export class Listeners {
  decision: RateLimiterListener<"decision">[] | undefined;
  nearLimit: RateLimiterListener<"nearLimit">[] | undefined;
  wait: RateLimiterListener<"wait">[] | undefined;
  store: RateLimiterListener<"store">[] | undefined;
  #warned = false;
  readonly #onThrow: (event: string, error: unknown) => void;

  constructor(onThrow: (event: string, error: unknown) => void) {
    this.#onThrow = onThrow;
  }

  add<E extends keyof RateLimiterEvents>(event: E, fn: RateLimiterListener<E>): void {
    const list = (this[event] ?? []) as RateLimiterListener<E>[];
    (this as unknown as Record<E, RateLimiterListener<E>[] | undefined>)[event] = [...list, fn];
  }

  remove<E extends keyof RateLimiterEvents>(event: E, fn: RateLimiterListener<E>): void {
    const list = this[event] as RateLimiterListener<E>[] | undefined;
    if (list === undefined) return;
    const i = list.indexOf(fn);
    if (i < 0) return;
    const rest = [...list.slice(0, i), ...list.slice(i + 1)];
    (this as unknown as Record<E, RateLimiterListener<E>[] | undefined>)[event] = rest.length > 0 ? rest : undefined;
  }

  emit<E extends keyof RateLimiterEvents>(
    event: E,
    list: readonly RateLimiterListener<E>[],
    payload: RateLimiterEvents[E],
  ): void {
    for (let i = 0; i < list.length; i++) {
      try {
        const r = (list[i] as RateLimiterListener<E>)(payload);
        if (r !== undefined) this.settle(event, r);
      } catch (err) {
        this.failed(event, err);
      }
    }
  }

  /** settle catches the rejection of what a listener returned, when it is a promise. */
  settle(event: string, r: unknown): void {
    if (r !== null && typeof (r as { then?: unknown }).then === "function") {
      (r as Promise<unknown>).then(undefined, (err: unknown) => this.failed(event, err));
    }
  }

  /** failed reports a listener that threw or rejected, the first time only. */
  failed(event: string, err: unknown): void {
    if (this.#warned) return;
    this.#warned = true;
    try {
      this.#onThrow(event, err);
    } catch {
      // Reporting a broken listener must not break anything either.
    }
  }
}
