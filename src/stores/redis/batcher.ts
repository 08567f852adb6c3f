// batcher.ts: groups same-tick calls into script calls (per Cluster node), splits large batches, and runs flights in order.

import type { Decision } from "../../core/policy.js";
import { LIBRARY_EXISTS, type RedisAdapter } from "./adapter.js";
import { classify, type FailureReason } from "./failover.js";
import { hashSlot } from "./keys.js";
import { encode, encodeNode, loadCalls, SCRIPTS, type ScriptCall, type WireCall } from "./protocol.js";
import { LIBRARY, type LuaScript, NODE } from "./scripts.generated.js";

/** Call is one decision waiting for its script call; it is answered exactly once, through resolve. */
export interface Call extends WireCall {
  /** key is the user key (for events and the failure policy). */
  readonly key: string;
  /** nowMs is the time passed in, or undefined for Redis's clock. */
  readonly nowMs: number | undefined;
  resolve(d: Decision | undefined): void;
}

/** FlightHandlers receive what happened to each script call: its reply, or why it failed. */
export interface FlightHandlers {
  /** answered receives a script call's reply (not yet decoded) for its calls; sentAtMs is the call's time or the local clock. */
  answered(calls: readonly Call[], reply: unknown, sentAtMs: number): void;
  /** failed receives calls whose script call timed out, could not reach Redis or got an error reply. */
  failed(calls: readonly Call[], reason: FailureReason, error: unknown): void;
}

/** BatcherSettings are the settings Batcher reads (see Settings in options.ts). */
export interface BatcherSettings {
  readonly adapter: RedisAdapter;
  readonly batch: boolean;
  readonly maxBatch: number;
  readonly functions: boolean;
  readonly timeoutMs: number;
  readonly graceMs: string;
  readonly now: () => number;
}

/** Group is the calls that share one script call (one group key, one time argument), in call order. */
interface Group {
  nowMs: number | undefined;
  calls: Call[];
  /** slots holds each call's Cluster slot (empty on standalone Redis), in call order. */
  slots: number[];
  /** mixed is true when the calls lie in more than one slot (a node batch: node.lua). */
  mixed: boolean;
  /** heldAtMs is when the group was first held back (performance.now()), 0 if never: its timeout counts from then. */
  heldAtMs: number;
  /** gk is the group key (a Cluster master's name for a node batch; see #groupOf). */
  gk?: number | string;
  /** part is true for a later part of a split batch that waits for a turn of its own (writesLate adapters). */
  part?: boolean;
}

/** Flight is one script call in flight: settled exactly once, by its reply, its error or its timeout. */
interface Flight {
  readonly script: LuaScript;
  readonly calls: Call[];
  /** slots holds each call's Cluster slot for a node batch (to send it again per slot), else empty. */
  readonly slots: readonly number[];
  /** nowMs is the time argument the flight was sent with (undefined: Redis's clock). */
  readonly nowMs: number | undefined;
  /** startedAtMs is when the flight was sent (performance.now()): a retry per slot gets what is left of the timeout. */
  readonly startedAtMs: number;
  readonly keys: readonly string[];
  readonly args: readonly string[];
  readonly sentAtMs: number;
  done: boolean;
  retried: boolean;
  /** node is the Cluster master a node batch went to (counted in #nodeFlights), else undefined. */
  node?: string;
  /** byFunction is true when the flight went by FCALL (its errors may then mean "no functions here"). */
  byFunction: boolean;
  timer: unknown;
}

/**
 * FunctionState is where the function library stands: "off" (not wanted, or the
 * server refused it: EVALSHA for good), "idle" (not loaded: a load may be tried),
 * "loading", or "on" (loaded on every primary the client knew: FCALL).
 */
type FunctionState = "off" | "idle" | "loading" | "on";

/** HAS_IMMEDIATE is true where the runtime has setImmediate, so afterIo really runs after the turn's I/O. */
const HAS_IMMEDIATE = typeof setImmediate === "function";

/** SPLIT_FLIGHTS is how many script calls a large same-tick batch is split into (see #flush). */
const SPLIT_FLIGHTS = 4;
/** SPLIT_MIN_SIZE is the fewest decisions a split-off script call carries. */
const SPLIT_MIN_SIZE = 16;

/**
 * Batcher turns calls into script calls ("flights") and hands each reply or
 * failure to its handlers.
 *
 * - **Grouping.** Calls made in the same tick join one group per group key
 *   (#groupOf: the Cluster master that serves the call's slot, or the slot while
 *   the client cannot say; one group on standalone Redis) while their time
 *   argument matches, up to maxBatch; a group is one script call (node.lua when
 *   its calls lie in several slots). Groups are sent in the order they were
 *   opened, so calls on one key keep their order (one connection per node;
 *   Redis runs script calls in order).
 * - **Slots that move.** A node batch that reaches a node that no longer serves
 *   one of its keys (a stale slot map, a slot migrating) fails before it writes
 *   anything (node.lua reads every key first); its calls are then sent again one
 *   slot per script call, which the client redirects (MOVED, ASK), under the
 *   same hold as a NOSCRIPT. A server that refuses node.lua itself (before Redis
 *   7: no script flags) turns node batches off for good, the same way.
 * - **Splitting.** While fewer than SPLIT_FLIGHTS flights are in flight, a
 *   large group is split to fill them (see #flush).
 * - **Timeouts.** Every flight is settled by its reply, its error or a timer of
 *   timeoutMs, whichever comes first; later news of it is ignored.
 * - **NOSCRIPT.** A flight whose script the server lost (restart, failover,
 *   SCRIPT FLUSH) is sent again once by source (EVAL). Two rules keep a
 *   retried call from being overtaken by a later call of this process: from
 *   the first NOSCRIPT on, new flights are held back until every flight in
 *   flight has settled (answered, failed, or retried and answered); and that
 *   first NOSCRIPT loads every script before any retry, so the scripts are
 *   never half loaded by this process (a flight of a loaded script could
 *   otherwise run before an earlier flight of a missing one). The wait of a
 *   held call counts against its timeout (from when its batch was first held),
 *   so it is still answered within timeoutMs of being made.
 * - **Functions.** On Redis 7+ the store loads its scripts as one function
 *   library (LIBRARY, `FUNCTION LOAD` on every primary) when it starts,
 *   and once that load has succeeded calls them by FCALL; until then, and for
 *   good when the server refuses the library (no FUNCTION command, an ACL), by
 *   EVALSHA. A flight whose function the server lacks ("Function not found":
 *   a restart, a failover to a node that never got it, FUNCTION FLUSH) is
 *   handled exactly as a NOSCRIPT (hold, load everything, the flight again by
 *   EVAL); one refused as a command (unknown command, NOPERM) the same way,
 *   with functions turned off.
 */
export class Batcher {
  readonly #s: BatcherSettings;
  readonly #handlers: FlightHandlers;
  readonly #adapter: RedisAdapter;
  #queue: Group[] = [];
  /**
   * #open holds each group key's batch still open to new calls. A new Map per flush rather
   * than one Map cleared: V8's Map.clear leaves the old hash table pointing at its successor,
   * so a promoted (dead) table kept the next flush's groups, calls, promises and decisions alive
   * through scavenges, promoting them in turn: at concurrency 64 a full GC every half second.
   */
  #open = new Map<number | string, Group>();
  /** #nodeBatch is true while calls of several slots on one Cluster master may share a script call (node.lua). */
  #nodeBatch: boolean;
  #scheduled = false;
  /** #inFlight counts flights sent and not yet settled. */
  #inFlight = 0;
  /**
   * #nodeFlights counts, per Cluster master, node batches in flight (see #flush: one per master for
   * a client that writes late). Entries stay at 0 rather than being deleted: a Map that shrinks
   * gets a new table linked from the old one (see #open).
   */
  readonly #nodeFlights = new Map<string, { n: number }>();
  /** #severalNodes is true once a flush held groups for more than one Cluster master. */
  #severalNodes = false;
  /** #holding is true from a NOSCRIPT until every flight in flight then has settled; no flight is sent meanwhile. */
  #holding = false;
  /** #manyNodes is true when the last flush held groups for more than one Cluster node (see #schedule). */
  #manyNodes = false;
  /** #fn is where the function library stands (see FunctionState). */
  #fn: FunctionState;
  /** #fnFailures counts the function library loads that failed in a row. */
  #fnFailures = 0;

  constructor(settings: BatcherSettings, handlers: FlightHandlers) {
    this.#s = settings;
    this.#handlers = handlers;
    this.#adapter = settings.adapter;
    this.#nodeBatch = settings.adapter.cluster && typeof settings.adapter.nodeOf === "function";
    const a = settings.adapter;
    this.#fn =
      settings.functions && typeof a.fcall === "function" && typeof a.functionLoad === "function" ? "idle" : "off";
    this.#loadFunctions();
  }

  /** functions says whether script calls go by FCALL ("on"), not yet ("idle", "loading"), or never ("off"). */
  get functions(): FunctionState {
    return this.#fn;
  }

  /**
   * #loadFunctions loads the function library on every primary, when a load may
   * be tried: on success calls go by FCALL; a refusal (FN_REFUSED) turns
   * functions off for good; another failure (Redis unreachable) leaves them to be
   * tried again on the next reply or script load, FN_LOAD_TRIES times in a row at
   * most (a library the server cannot compile must not cost a load per reply).
   */
  #loadFunctions(): void {
    if (this.#fn !== "idle") return;
    this.#fn = "loading";
    const done = (): void => {
      this.#fnFailures = 0;
      if (this.#fn === "loading") this.#fn = "on";
    };
    const failed = (err: unknown): void => {
      if (this.#fn !== "loading") return;
      const message = err instanceof Error ? err.message : String(err);
      // valkey-glide sends one command to every primary: a primary that held the library answers "already exists".
      if (LIBRARY_EXISTS.test(message)) {
        done();
        return;
      }
      this.#fnFailures++;
      this.#fn = FN_REFUSED.test(message) || this.#fnFailures >= FN_LOAD_TRIES ? "off" : "idle";
    };
    try {
      (this.#adapter.functionLoad as (source: string) => Promise<unknown>)(LIBRARY.source).then(done, failed);
    } catch (err) {
      failed(err);
    }
  }

  /** nodeBatching is true while calls on several slots of one Cluster master share script calls (node.lua). */
  get nodeBatching(): boolean {
    return this.#nodeBatch;
  }

  /** inFlight is how many script calls are in flight. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** holding is true while new script calls are held back after a NOSCRIPT (see the class comment). */
  get holding(): boolean {
    return this.#holding;
  }

  /**
   * #groupOf returns the group key of a call on Cluster slot `slot`: the one
   * place that says which calls may share a script call. On a Cluster it is the
   * master the client sends the slot to (node.lua carries several slots of one
   * master), or the slot itself while the client cannot say or node batches are
   * off; on standalone Redis every call may share (0).
   */
  #groupOf(slot: number): number | string {
    if (!this.#adapter.cluster) return 0;
    if (this.#nodeBatch) return this.#adapter.nodeOf?.(slot) ?? slot;
    return slot;
  }

  /** add queues a call for the next script call of its group (or sends it at once with batching off). */
  add(call: Call, tag: string): void {
    if (!this.#s.batch) {
      if (!this.#holding) {
        this.#send(call.nowMs, [call], NO_SLOTS, this.#s.timeoutMs);
        return;
      }
      this.#queue.push({ nowMs: call.nowMs, calls: [call], slots: [], mixed: false, heldAtMs: 0 });
      this.#schedule();
      return;
    }
    // A call joins its group's open batch when the time argument matches (a reset
    // needs none), else it opens the next one. Batches are sent in the order opened.
    const cluster = this.#adapter.cluster;
    const slot = cluster ? hashSlot(tag) : 0;
    const gk = this.#groupOf(slot);
    let g = this.#open.get(gk);
    if (g === undefined || (g.nowMs !== call.nowMs && call.op !== "d") || g.calls.length >= this.#s.maxBatch) {
      g = { nowMs: call.nowMs, calls: [], slots: [], mixed: false, heldAtMs: 0, gk };
      this.#open.set(gk, g);
      this.#queue.push(g);
    }
    g.calls.push(call);
    if (cluster) {
      if (g.slots.length > 0 && g.slots[0] !== slot) g.mixed = true;
      g.slots.push(slot);
    }
    this.#schedule();
  }

  /**
   * #schedule arranges a flush. With nothing in flight the batch leaves at the end
   * of this tick (a microtask): a lone call waits for nothing. With a script call
   * already in flight, the batch leaves after the event loop's I/O callbacks of
   * this turn (setImmediate), so calls made by the many requests that arrive in one
   * turn (each in its own socket callback, each its own tick) share one script
   * call: one write for Node, one command for Redis (see docs/http.md).
   *
   * With node batches on a Cluster, the batch always leaves after the turn's I/O
   * callbacks: each master's reply arrives as its own I/O callback, and the callers
   * it wakes spread their next calls over every master; waiting for the other
   * replies of the same turn gathers their callers' calls too, so a master gets
   * about concurrency/masters decisions per script call instead of concurrency/masters².
   *
   * A client that writes late (adapter.writesLate: node-redis writes at
   * setImmediate) would write a batch flushed after the I/O callbacks only a whole
   * turn later, so with it a batch leaves at the end of its tick (the client still
   * joins the turn's commands in one write per connection): always on standalone
   * Redis and on a 1-master Cluster, where the callers one reply wakes all call the
   * same node. On a Cluster of several masters (the last flush held groups for
   * more than one node) node batches still wait for the turn's I/O, for the
   * reason above: measured on a 3-master Cluster, flushing at the end of each tick
   * gave about 6 decisions per call against 9-13.
   */
  #schedule(): void {
    if (!this.#scheduled) {
      this.#scheduled = true;
      if (this.#adapter.writesLate === true && !this.#manyNodes) queueMicrotask(this.#flush);
      else if (this.#nodeBatch) afterIo(this.#flush);
      else if (this.#inFlight === 0 || !HAS_IMMEDIATE) queueMicrotask(this.#flush);
      else afterIo(this.#flush);
    }
  }

  /**
   * #flush sends every queued group, in order. While fewer than SPLIT_FLIGHTS
   * script calls are in flight, a large group is split to fill them, each part at
   * least SPLIT_MIN_SIZE decisions: Redis runs the first part while this process
   * still answers the last one's callers, so Node and Redis work at the same time
   * instead of taking turns. With enough calls in flight Redis is busy anyway, and
   * one larger call costs it less per decision. A client that writes late
   * (adapter.writesLate) writes what it is given in one turn in one socket write,
   * which Redis reads and answers as one: so its first part leaves now and each
   * later part in a turn of its own (#defer), ahead of anything queued after it.
   * While holding (after a NOSCRIPT),
   * groups stay queued (and open to new calls) and are stamped with the time
   * they were first held.
   */
  readonly #flush = (): void => {
    this.#scheduled = false;
    const queue = this.#queue;
    if (queue.length === 0) return;
    if (this.#holding) {
      const t = performance.now();
      for (const g of queue) if (g.heldAtMs === 0) g.heldAtMs = t;
      return;
    }
    this.#queue = [];
    this.#manyNodes = this.#open.size > 1;
    if (this.#manyNodes) this.#severalNodes = true;
    const open = this.#open;
    this.#open = new Map();
    const timeoutMs = this.#s.timeoutMs;
    // A client that writes late, on a Cluster of several masters: one node batch in flight per
    // master; a master's next batch waits (open to new calls) until its reply is in.
    const perNode = this.#adapter.writesLate === true && this.#nodeBatch && this.#severalNodes;
    let waiting: Group[] | undefined;
    // later: split parts that wait for a turn of their own (a client that writes late), and what followed them.
    let later: Group[] | undefined;
    for (let q = 0; q < queue.length; q++) {
      const g = queue[q] as Group;
      if (
        perNode &&
        typeof g.gk === "string" &&
        ((this.#nodeFlights.get(g.gk)?.n ?? 0) > 0 || waiting?.some((w) => w.gk === g.gk))
      ) {
        if (waiting === undefined) waiting = [g];
        else waiting.push(g);
        continue;
      }
      let budgetMs = timeoutMs;
      if (g.heldAtMs !== 0) {
        budgetMs = timeoutMs - (performance.now() - g.heldAtMs);
        if (budgetMs <= 0) {
          this.#handlers.failed(g.calls, "timeout", timeoutError(timeoutMs));
          continue;
        }
      }
      const n = g.calls.length;
      const slots = g.mixed ? g.slots : NO_SLOTS;
      const parts =
        g.part === true || perNode ? 1 : Math.min(SPLIT_FLIGHTS - this.#inFlight, Math.floor(n / SPLIT_MIN_SIZE));
      if (parts < 2) {
        this.#send(g.nowMs, g.calls, slots, budgetMs, perNode && typeof g.gk === "string" ? g.gk : undefined);
        if (g.part === true && queue[q + 1]?.part === true) {
          later = queue.slice(q + 1);
          break;
        }
        continue;
      }
      const size = Math.ceil(n / parts);
      if (this.#adapter.writesLate === true) {
        // The client writes what it is given in one turn in one write: the first part
        // leaves now, each later part in a turn of its own, ahead of what was queued after.
        this.#send(g.nowMs, g.calls.slice(0, size), g.mixed ? slots.slice(0, size) : NO_SLOTS, budgetMs);
        later = [];
        for (let i = size; i < n; i += size) {
          later.push({
            nowMs: g.nowMs,
            calls: g.calls.slice(i, i + size),
            slots: g.mixed ? g.slots.slice(i, i + size) : [],
            mixed: g.mixed,
            heldAtMs: g.heldAtMs,
            gk: g.gk,
            part: true,
          });
        }
        for (let r = q + 1; r < queue.length; r++) later.push(queue[r] as Group);
        break;
      }
      for (let i = 0; i < n; i += size) {
        this.#send(g.nowMs, g.calls.slice(i, i + size), g.mixed ? slots.slice(i, i + size) : NO_SLOTS, budgetMs);
      }
    }
    // Both go back to the head of the queue, ahead of groups opened since: the waiting ones first (they came first).
    if (later !== undefined) this.#defer(later);
    if (waiting !== undefined) this.#wait(waiting, open);
  };

  /**
   * #wait puts groups whose master has a node batch in flight back at the head of the
   * queue and keeps each master's last one open to new calls; the master's reply
   * flushes them (#settle).
   */
  #wait(groups: Group[], was: Map<number | string, Group>): void {
    for (const g of groups) {
      const gk = g.gk as string;
      // The group stays open if it was its master's open group and no newer one has opened since.
      if (was.get(gk) === g && !this.#open.has(gk)) this.#open.set(gk, g);
    }
    this.#requeue(groups);
  }

  /** #defer puts groups back at the head of the queue and flushes again after this turn's I/O. */
  #defer(groups: Group[]): void {
    this.#requeue(groups);
    if (!this.#scheduled) {
      this.#scheduled = true;
      afterIo(this.#flush);
    }
  }

  /**
   * #requeue puts groups back at the head of the queue, ahead of any group opened
   * since this flush began (calls on one key keep their order); it appends the
   * queue to `groups`, which becomes the queue. The wait counts against the
   * calls' timeout, as a hold.
   */
  #requeue(groups: Group[]): void {
    const t = performance.now();
    for (const g of groups) if (g.heldAtMs === 0) g.heldAtMs = t;
    for (const g of this.#queue) groups.push(g);
    this.#queue = groups;
  }

  /**
   * #send runs one script call for `calls`, bounded by `timeoutMs`; each call is
   * answered exactly once. `slots` holds the calls' slots when they lie in more
   * than one slot of a Cluster master (node.lua), else it is empty.
   */
  #send(nowMs: number | undefined, calls: Call[], slots: readonly number[], timeoutMs: number, node?: string): void {
    let sc: ScriptCall;
    try {
      sc = mixedSlots(slots) ? encodeNode(nowMs, this.#s.graceMs, calls) : encode(nowMs, this.#s.graceMs, calls);
    } catch (err) {
      this.#handlers.failed(calls, "reply", err);
      return;
    }
    const f: Flight = {
      script: sc.script,
      calls,
      slots: sc.script === NODE ? slots : NO_SLOTS,
      nowMs,
      startedAtMs: performance.now(),
      keys: sc.keys,
      args: sc.args,
      sentAtMs: nowMs ?? this.#s.now(),
      done: false,
      retried: false,
      byFunction: false,
      timer: 0,
      node,
    };
    this.#inFlight++;
    if (node !== undefined) {
      const c = this.#nodeFlights.get(node);
      if (c === undefined) this.#nodeFlights.set(node, { n: 1 });
      else c.n++;
    }
    f.timer = setTimeout(() => {
      if (f.done) return;
      this.#settle(f);
      this.#handlers.failed(calls, "timeout", timeoutError(this.#s.timeoutMs));
      this.#releaseIfSettled();
    }, timeoutMs);
    (f.timer as { unref?: () => void }).unref?.();
    this.#run(f, false);
  }

  /** #run sends a flight's script call (by function or SHA1, or by source after NOSCRIPT); it never throws or rejects. */
  #run(f: Flight, bySource: boolean): void {
    try {
      const fn = f.script.fn;
      f.byFunction = !bySource && this.#fn === "on" && fn !== undefined;
      const reply = bySource
        ? this.#adapter.eval(f.script.source, f.keys, f.args)
        : f.byFunction
          ? (this.#adapter.fcall as NonNullable<RedisAdapter["fcall"]>)(fn as string, f.keys, f.args)
          : this.#adapter.evalsha(f.script.sha1, f.keys, f.args);
      reply.then(
        (r) => this.#onReply(f, r),
        (e) => this.#onError(f, e),
      );
    } catch (err) {
      this.#onError(f, err);
    }
  }

  #onReply(f: Flight, reply: unknown): void {
    if (f.done) return;
    this.#settle(f);
    this.#handlers.answered(f.calls, reply, f.sentAtMs);
    if (this.#fn === "idle") this.#loadFunctions();
    this.#releaseIfSettled();
  }

  #onError(f: Flight, err: unknown): void {
    if (f.done) return;
    const message = err instanceof Error ? err.message : String(err);
    const fnRefused = f.byFunction && FN_REFUSED.test(message);
    if (!f.retried && (message.startsWith("NOSCRIPT") || (f.byFunction && FN_MISSING.test(message)) || fnRefused)) {
      // The server lost its script cache. Flights sent before this reply came may
      // have run or may get NOSCRIPT too: nothing new is sent until every one of
      // them has settled (the hold). The first NOSCRIPT of a hold loads every
      // script, so no later flight of another script can run while this one's
      // script is missing; then EVAL runs the call once more. A function the server
      // lacks is the same case; a server that refuses FCALL ends functions for good.
      f.retried = true;
      if (fnRefused) this.#fn = "off";
      if (!this.#holding) {
        this.#holding = true;
        this.#loadAll(f.keys[0] as string);
      }
      this.#run(f, true);
      return;
    }
    if (f.script === NODE && (NOT_HERE.test(message) || UNSUPPORTED.test(message))) {
      this.#perSlot(f, UNSUPPORTED.test(message) && !NOT_HERE.test(message));
      return;
    }
    this.#settle(f);
    this.#handlers.failed(f.calls, classify(err), err);
    this.#releaseIfSettled();
  }

  /**
   * #perSlot sends a node batch's calls again, one script call per slot (in the
   * order of their first call), after the node refused it before writing
   * anything: a key it does not serve (the slot moved or is migrating), or
   * node.lua itself (`unsupported`: node batches end for good). New flights are
   * held back until these have settled, as after a NOSCRIPT, so a later call of
   * this process does not overtake them; they get what is left of the timeout.
   */
  #perSlot(f: Flight, unsupported: boolean): void {
    this.#settle(f);
    if (unsupported) {
      this.#nodeBatch = false;
      this.#open = new Map();
    }
    this.#holding = true;
    const budgetMs = this.#s.timeoutMs - (performance.now() - f.startedAtMs);
    if (budgetMs <= 0) {
      this.#handlers.failed(f.calls, "timeout", timeoutError(this.#s.timeoutMs));
      this.#releaseIfSettled();
      return;
    }
    const bySlot = new Map<number, Call[]>();
    for (let i = 0; i < f.calls.length; i++) {
      const slot = f.slots[i] as number;
      const list = bySlot.get(slot);
      if (list === undefined) bySlot.set(slot, [f.calls[i] as Call]);
      else list.push(f.calls[i] as Call);
    }
    for (const calls of bySlot.values()) this.#send(f.nowMs, calls, NO_SLOTS, budgetMs);
    this.#releaseIfSettled();
  }

  /**
   * #loadAll loads every script, before any retry is sent: the function library
   * (unless functions are off; until it is loaded again, calls go by EVALSHA),
   * and each script through the adapter's scriptLoad (every primary), or else by
   * EVAL calls that change nothing (loadCalls), routed to `routeKey`'s node.
   * Their replies and errors are ignored: each retry runs by source anyway.
   */
  #loadAll(routeKey: string): void {
    const a = this.#adapter;
    const ignore = (): void => {};
    if (this.#fn === "on") this.#fn = "idle";
    this.#loadFunctions();
    try {
      if (typeof a.scriptLoad === "function") {
        for (const s of SCRIPTS) a.scriptLoad(s.source).then(ignore, ignore);
      } else {
        for (const c of loadCalls(routeKey)) a.eval(c.script.source, c.keys, c.args).then(ignore, ignore);
      }
    } catch {
      // An adapter that throws instead of rejecting: the retries still run by source.
    }
  }

  /** #settle marks a flight answered: no later reply, error or timeout of it counts. */
  #settle(f: Flight): void {
    f.done = true;
    this.#inFlight--;
    clearTimeout(f.timer as ReturnType<typeof setTimeout>);
    if (f.node !== undefined) {
      const c = this.#nodeFlights.get(f.node);
      if (c !== undefined) c.n--;
      // Groups waiting for this master (see #flush) go at the next flush.
      if (this.#queue.length > 0) this.#schedule();
    }
  }

  /** #releaseIfSettled ends a hold once nothing is in flight, and sends what was held, in order. */
  #releaseIfSettled(): void {
    if (this.#holding && this.#inFlight === 0) {
      this.#holding = false;
      this.#flush();
    }
  }
}

/** afterIo runs `fn` after the I/O callbacks of this turn of the event loop (setImmediate, or a 0 ms timer where there is none). */
const afterIo: (fn: () => void) => void =
  typeof setImmediate === "function" ? (fn) => void setImmediate(fn) : (fn) => void setTimeout(fn, 0);

/** NO_SLOTS stands for the slots of a flight on one slot (or standalone Redis). */
const NO_SLOTS: readonly number[] = Object.freeze([]);

/** mixedSlots is true when `slots` holds more than one slot. */
function mixedSlots(slots: readonly number[]): boolean {
  const first = slots[0];
  for (let i = 1; i < slots.length; i++) if (slots[i] !== first) return true;
  return false;
}

/**
 * NOT_HERE matches the error of a script that touched a key its node does not
 * serve (Redis 7: "Script attempted to access a non local key in a cluster node
 * script"; older wording: "... keys that do not hash to the same slot"), and a
 * redirection the client gave up following.
 */
const NOT_HERE = /non local key|do not hash to the same slot|^(?:ERR )?(?:MOVED|ASK|CROSSSLOT)\b/;
/** FN_LOAD_TRIES is how many failed library loads in a row turn functions off for good. */
const FN_LOAD_TRIES = 3;
/** FN_MISSING matches a server's answer to FCALL of a function it does not have. */
const FN_MISSING = /Function not found/i;
/**
 * FN_REFUSED matches a server's refusal of FCALL or FUNCTION LOAD as a command:
 * before Redis 7 (unknown command), an ACL (NOPERM), a managed service that
 * renames or blocks it.
 */
const FN_REFUSED = /unknown command|NOPERM|no permissions|unsupported command/i;
/** UNSUPPORTED matches a server's refusal of node.lua itself: a script shebang or flag it does not know (before Redis 7). */
const UNSUPPORTED = /compiling script|shebang|Unknown lua|unexpected symbol near '#'|unknown flag/i;

function timeoutError(timeoutMs: number): Error {
  return new Error(`floodgate: Redis did not answer within ${timeoutMs} ms`);
}
