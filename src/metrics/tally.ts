// tally.ts: plain counts kept from RateLimiter events, read by the Prometheus and OpenTelemetry bindings when they are scraped.

import type { RateLimiter } from "../limiter.js";
import {
  COUNTER,
  type Counter,
  type DecisionCounts,
  MAX_COUNTED_POLICIES,
  newCounts,
  OTHER_POLICY,
  type StoreEvent,
  type WaitEvent,
} from "../listeners.js";

/** MAX_POLICIES bounds the policy label: decisions of further policy names are counted under OTHER_POLICY. */
export const MAX_POLICIES = MAX_COUNTED_POLICIES;
export { OTHER_POLICY };

/** PolicyTally is one policy's counts. */
export type PolicyTally = DecisionCounts;

/** STORE_EVENTS lists the store events counted, in label order. */
export const STORE_EVENTS = ["degraded", "recovered", "error", "probe", "overflow"] as const;

/** WAIT_OUTCOMES maps a wait's last phase to its label (snake case, as metric labels are). */
export const WAIT_OUTCOMES = {
  admitted: "admitted",
  aborted: "aborted",
  timedOut: "timed_out",
  queueFull: "queue_full",
  failed: "failed",
} as const;

/** TallyHooks are told what is not counted but measured: durations, in seconds. */
export interface TallyHooks {
  /** storeDuration is a timed store decision (see DecisionEvent.durationMs). */
  storeDuration?(seconds: number): void;
  /** waitEnded is a wait's end: its outcome label and its length. */
  waitEnded?(outcome: string, seconds: number): void;
  /** refused sees every refused decision (denied, or shadow): the OpenTelemetry span event. */
  refused?(policy: string, retryAfterMs: number, shadow: boolean): void;
}

/** Attached is one limiter a Tally counts. */
interface Attached {
  readonly limiter: RateLimiter;
  /** counter is the limiter's counting channel; its counts are cumulative, `baseline` holds them at attach. */
  readonly counter: Counter;
  readonly baseline: Map<string, DecisionCounts>;
  readonly off: () => void;
}

/**
 * Watch is one store the Tally listens to, through one of the attached limiters
 * that share it (`via`): a store shared by two limiters reports each event to
 * both, and is counted once.
 */
interface Watch {
  via: RateLimiter;
  off: () => void;
  /** downSinceMs is when the store became degraded (by the events), NaN while it is not. */
  downSinceMs: number;
}

/**
 * Tally counts what RateLimiters report, in plain numbers: per policy name,
 * decisions by outcome, near-limit calls and cost; store events; time spent
 * degraded. Decisions are counted by each limiter itself through its counting
 * channel (RateLimiter[COUNTER]): a few additions per decision, no event object,
 * no call into the Tally; the Tally reads those numbers only when the binding is
 * scraped or collected. Nothing is kept per key.
 */
export class Tally {
  /** #detached holds the counts of limiters detached since (what they counted while attached). */
  readonly #detached = new Map<string, PolicyTally>();
  readonly storeEvents: Record<(typeof STORE_EVENTS)[number], number> = {
    degraded: 0,
    recovered: 0,
    error: 0,
    probe: 0,
    overflow: 0,
  };
  /** degradedMs is the time stores spent degraded, ended spells only (see degradedSeconds). */
  degradedMs = 0;
  readonly #attached: Attached[] = [];
  readonly #stores = new Map<unknown, Watch>();
  readonly #hooks: TallyHooks;
  readonly #now: () => number;

  constructor(hooks: TallyHooks = {}, now: () => number = () => performance.now()) {
    this.#hooks = hooks;
    this.#now = now;
  }

  /**
   * policies returns the counts per policy name of every limiter attached now or
   * before (only what was counted while attached), summed by name: a new Map of
   * new objects, at most MAX_POLICIES names (further ones under OTHER_POLICY).
   */
  policies(): Map<string, PolicyTally> {
    const out = new Map<string, PolicyTally>();
    for (const [name, c] of this.#detached) addCounts(out, name, c, undefined);
    for (const a of this.#attached) {
      for (const [name, c] of a.counter.counts()) addCounts(out, name, c, a.baseline.get(name));
    }
    return out;
  }

  /** attach starts counting a limiter's events and returns a function that stops it. */
  attach(limiter: RateLimiter): () => void {
    if (this.#attached.some((a) => a.limiter === limiter)) return () => this.detach(limiter);
    const hooks = this.#hooks;
    const counter = limiter[COUNTER]({
      ...(hooks.storeDuration ? { storeDuration: hooks.storeDuration } : {}),
      ...(hooks.refused ? { refused: hooks.refused } : {}),
    });
    const baseline = new Map<string, DecisionCounts>();
    for (const [name, c] of counter.counts()) baseline.set(name, { ...c });
    const offWait = limiter.on("wait", this.#wait);
    this.#attached.push({
      limiter,
      counter,
      baseline,
      off: () => {
        counter.release();
        offWait();
      },
    });
    if (!this.#stores.has(limiter.store)) {
      const w: Watch = {
        via: limiter,
        off: () => {},
        downSinceMs: limiter.store.degraded === true ? this.#now() : Number.NaN,
      };
      w.off = limiter.on("store", (e) => this.#store(w, e));
      this.#stores.set(limiter.store, w);
    }
    return () => this.detach(limiter);
  }

  /** detach stops counting a limiter's events (the counts so far stay). */
  detach(limiter: RateLimiter): void {
    const i = this.#attached.findIndex((a) => a.limiter === limiter);
    if (i < 0) return;
    const [a] = this.#attached.splice(i, 1);
    if (a !== undefined) {
      for (const [name, c] of a.counter.counts()) addCounts(this.#detached, name, c, a.baseline.get(name));
      a.off();
    }
    const w = this.#stores.get(limiter.store);
    if (w === undefined || w.via !== limiter) return;
    // The store was watched through this limiter: through another that shares it, or no longer.
    w.off();
    const next = this.#attached.find((x) => x.limiter.store === limiter.store)?.limiter;
    if (next === undefined) {
      this.#stores.delete(limiter.store);
      return;
    }
    w.via = next;
    w.off = next.on("store", (e) => this.#store(w, e));
  }

  /** limiters returns the attached limiters. */
  limiters(): RateLimiter[] {
    return this.#attached.map((a) => a.limiter);
  }

  #store(w: Watch, e: StoreEvent): void {
    this.storeEvents[e.type]++;
    if (e.type === "degraded" && Number.isNaN(w.downSinceMs)) w.downSinceMs = this.#now();
    if (e.type === "recovered") {
      this.degradedMs += e.downMs;
      w.downSinceMs = Number.NaN;
    }
  }

  readonly #wait = (e: WaitEvent): void => {
    if (e.phase === "queued") return;
    this.#hooks.waitEnded?.(WAIT_OUTCOMES[e.phase], e.waitedMs / 1000);
  };

  /** degradedNow counts the stores of the attached limiters that are degraded now (a shared store once). */
  degradedNow(): number {
    let n = 0;
    for (const w of this.#stores.values()) {
      const d = w.via.store.degraded;
      if (d === true || (d === undefined && !Number.isNaN(w.downSinceMs))) n++;
    }
    return n;
  }

  /** degradedSeconds is the time stores spent degraded: ended spells, and the spells still going on. */
  degradedSeconds(): number {
    let ms = this.degradedMs;
    const now = this.#now();
    for (const w of this.#stores.values()) if (!Number.isNaN(w.downSinceMs)) ms += Math.max(0, now - w.downSinceMs);
    return ms / 1000;
  }

  /** keysTracked sums, per policy name, the keys tracked and overflow calls of the attached limiters' stores. */
  keysTracked(): Map<string, { keys: number; overflowed: number }> {
    const out = new Map<string, { keys: number; overflowed: number }>();
    // A store shared by two attached limiters is counted once.
    for (const w of this.#stores.values()) {
      for (const k of w.via.keysTracked() ?? []) {
        const name = out.has(k.policy) || out.size < MAX_POLICIES ? k.policy : OTHER_POLICY;
        const t = out.get(name) ?? { keys: 0, overflowed: 0 };
        t.keys += k.keys;
        t.overflowed += k.overflowed;
        out.set(name, t);
      }
    }
    return out;
  }

  /** waiting counts the acquire calls waiting in the attached limiters. */
  waiting(): number {
    let n = 0;
    for (const a of this.#attached) n += a.limiter.waiting();
    return n;
  }
}

/** addCounts adds `c` minus `base` to the counts of `name` in `out` (OTHER_POLICY once out holds MAX_POLICIES names). */
function addCounts(
  out: Map<string, PolicyTally>,
  name: string,
  c: Readonly<DecisionCounts>,
  base: Readonly<DecisionCounts> | undefined,
): void {
  const key = out.has(name) || out.size < MAX_POLICIES ? name : OTHER_POLICY;
  let t = out.get(key);
  if (t === undefined) {
    t = newCounts();
    out.set(key, t);
  }
  t.allowed += c.allowed - (base?.allowed ?? 0);
  t.denied += c.denied - (base?.denied ?? 0);
  t.shadow += c.shadow - (base?.shadow ?? 0);
  t.nearLimit += c.nearLimit - (base?.nearLimit ?? 0);
  t.costAdmitted += c.costAdmitted - (base?.costAdmitted ?? 0);
  t.costRefused += c.costRefused - (base?.costRefused ?? 0);
}
