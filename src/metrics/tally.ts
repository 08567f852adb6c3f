// tally.ts: plain counts kept from RateLimiter events, read by the Prometheus and OpenTelemetry bindings when they are scraped.

import type { RateLimiter } from "../limiter.js";
import type { DecisionEvent, StoreEvent, WaitEvent } from "../listeners.js";

/** MAX_POLICIES bounds the policy label: decisions of further policy names are counted under OTHER_POLICY. */
export const MAX_POLICIES = 256;
/** OTHER_POLICY is the policy label of names past MAX_POLICIES (per-call policies built per request, a bug). */
export const OTHER_POLICY = "(other)";

/** PolicyTally is one policy's counts. */
export interface PolicyTally {
  allowed: number;
  denied: number;
  shadow: number;
  nearLimit: number;
  costAdmitted: number;
  costRefused: number;
}

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
  /** decision sees every decision event after it is counted (the OpenTelemetry span event). */
  decision?(e: DecisionEvent): void;
}

/** Attached is one limiter a Tally listens to. */
interface Attached {
  readonly limiter: RateLimiter;
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
 * Tally listens to RateLimiters and keeps counts in plain numbers: per policy
 * name, decisions by outcome, near-limit calls and cost; store events; time spent
 * degraded. Counting a decision is a few additions and one Map lookup (skipped
 * when the policy is the last one seen); the bindings read the counts only when
 * scraped or collected, so an attached binding costs little per decision.
 * Nothing is kept per key.
 */
export class Tally {
  readonly policies = new Map<string, PolicyTally>();
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
  #lastName = "";
  #last: PolicyTally | undefined;

  constructor(hooks: TallyHooks = {}, now: () => number = () => performance.now()) {
    this.#hooks = hooks;
    this.#now = now;
  }

  /** policy returns the tally of a policy name, created on first use (OTHER_POLICY past MAX_POLICIES). */
  policy(name: string): PolicyTally {
    if (name === this.#lastName && this.#last !== undefined) return this.#last;
    let t = this.policies.get(name);
    if (t === undefined) {
      if (this.policies.size >= MAX_POLICIES) return this.policy(OTHER_POLICY);
      t = { allowed: 0, denied: 0, shadow: 0, nearLimit: 0, costAdmitted: 0, costRefused: 0 };
      this.policies.set(name, t);
    }
    this.#lastName = name;
    this.#last = t;
    return t;
  }

  /** attach starts counting a limiter's events and returns a function that stops it. */
  attach(limiter: RateLimiter): () => void {
    if (this.#attached.some((a) => a.limiter === limiter)) return () => this.detach(limiter);
    const offs = [limiter.on("decision", this.#decision), limiter.on("wait", this.#wait)];
    this.#attached.push({
      limiter,
      off: () => {
        for (const off of offs) off();
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
    a?.off();
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

  readonly #decision = (e: DecisionEvent): void => {
    const t = this.policy(e.policy);
    if (e.outcome === "allowed") {
      t.allowed++;
      t.costAdmitted += e.cost;
      if (e.nearLimit) t.nearLimit++;
    } else if (e.outcome === "denied") {
      t.denied++;
      t.costRefused += e.cost;
    } else {
      t.shadow++;
    }
    const hooks = this.#hooks;
    if (e.durationMs !== undefined && hooks.storeDuration !== undefined) hooks.storeDuration(e.durationMs / 1000);
    if (hooks.decision !== undefined) hooks.decision(e);
  };

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
