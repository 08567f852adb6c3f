// redis-noscript.test.ts: after NOSCRIPT or "Function not found" (SCRIPT/FUNCTION FLUSH, restart, failover) a retried call is not overtaken by a later call of this process.

import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type Decision, fixedWindow, MemoryStore, type Policy, tokenBucket } from "../../src/index.js";
import { ioredisAdapter, type RedisAdapter, RedisStore } from "../../src/stores/redis/index.js";
import { SCRIPTS } from "../../src/stores/redis/protocol.js";
import { DECIDE, LIBRARY, type LuaScript, NODE } from "../../src/stores/redis/scripts.generated.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";

const bySha = new Map(SCRIPTS.map((s) => [s.sha1, s]));
const bySource = new Map(SCRIPTS.map((s) => [s.source, s]));
const byFunction = new Map(SCRIPTS.map((s) => [s.fn, s]));

/** Command is one script call (or SCRIPT LOAD) waiting in FakeRedis's connection. */
interface Command {
  script: LuaScript;
  kind: "evalsha" | "eval" | "load" | "fcall" | "fload";
  keys: readonly string[];
  args: readonly string[];
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/**
 * FakeRedis is one connection to a scripted Redis: commands wait in order until
 * step() runs the oldest, as Redis would: EVALSHA of a script not in the cache
 * replies NOSCRIPT; EVAL and SCRIPT LOAD cache the script, EVAL runs it. Running
 * a call logs each decision's keys and replies "allowed" in decide.lua's reply
 * layout. Without `withScriptLoad` it has no scriptLoad(), as a custom adapter.
 * With `functions` it has fcall() and functionLoad() too (Redis 7+): FCALL of a
 * function not loaded replies "ERR Function not found"; `functions: "refused"`
 * refuses both as an ACL would (NOPERM).
 */
class FakeRedis implements RedisAdapter {
  readonly cluster = false;
  readonly cache = new Set<string>(SCRIPTS.map((s) => s.sha1));
  readonly pending: Command[] = [];
  /** ran logs every decision run, in order: "<script>:<keys>". */
  readonly ran: string[] = [];
  readonly scriptLoad?: (source: string) => Promise<unknown>;
  readonly fcall?: (fn: string, keys: readonly string[], args: readonly string[]) => Promise<unknown>;
  readonly functionLoad?: (source: string) => Promise<unknown>;
  /** libraryLoads counts the FUNCTION LOAD commands run. */
  libraryLoads = 0;
  /** loaded is true while the function library is loaded (FUNCTION LOAD; FUNCTION FLUSH empties it). */
  loaded = false;
  /**
   * functions: false (no fcall, no functionLoad), true, "refused" (both refused, as by an ACL; may be set later),
   * or "broken" (the load fails with a compile error, as a server whose Lua differs might answer).
   */
  functions: boolean | "refused" | "broken";

  constructor(withScriptLoad = true, functions: boolean | "refused" | "broken" = false) {
    this.functions = functions;
    if (withScriptLoad) {
      this.scriptLoad = (source) => this.#push("load", bySource.get(source), [], []);
    }
    if (functions !== false) {
      this.fcall = (fn, keys, args) => this.#push("fcall", byFunction.get(fn), keys, args);
      this.functionLoad = (source) => this.#push("fload", source === LIBRARY.source ? DECIDE : undefined, [], []);
    }
  }

  /** flushFunctions empties the function library, as FUNCTION FLUSH does. */
  flushFunctions(): void {
    this.loaded = false;
  }

  evalsha(sha1: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.#push("evalsha", bySha.get(sha1), keys, args);
  }

  eval(source: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.#push("eval", bySource.get(source), keys, args);
  }

  #push(kind: Command["kind"], script: LuaScript | undefined, keys: readonly string[], args: readonly string[]) {
    return new Promise<unknown>((resolve, reject) => {
      if (script === undefined) return reject(new Error("ERR not a floodgate script"));
      this.pending.push({ script, kind, keys, args, resolve, reject });
    });
  }

  /** flush empties the script cache, as SCRIPT FLUSH does. */
  flush(): void {
    this.cache.clear();
  }

  /** step runs the oldest command waiting; it returns false when none waits. */
  step(): boolean {
    const c = this.pending.shift();
    if (c === undefined) return false;
    if (c.kind === "evalsha" && !this.cache.has(c.script.sha1)) {
      c.reject(new Error("NOSCRIPT No matching script. Please use EVAL."));
      return true;
    }
    if ((c.kind === "fcall" || c.kind === "fload") && this.functions === "refused") {
      c.reject(
        new Error(
          `NOPERM User default has no permissions to run the '${c.kind === "fcall" ? "fcall" : "function'|'load"}' command`,
        ),
      );
      return true;
    }
    if (c.kind === "fload") this.libraryLoads++;
    if (c.kind === "fload" && this.functions === "broken") {
      c.reject(new Error("ERR Error registering functions: user_function:1: compile error"));
      return true;
    }
    if (c.kind === "fload") {
      this.loaded = true;
      c.resolve(LIBRARY.name);
      return true;
    }
    if (c.kind === "fcall" && !this.loaded) {
      c.reject(new Error("ERR Function not found"));
      return true;
    }
    this.cache.add(c.script.sha1);
    c.resolve(c.kind === "load" ? c.script.sha1 : this.#run(c));
    return true;
  }

  #run(c: Command): unknown[] {
    if (c.script !== DECIDE) {
      this.ran.push(`${c.script.name}:${c.keys.join(",")}`);
      return [0, 0];
    }
    // decide.lua's ARGV: nowMs, graceMs, specs (code p1 p2 p3 each), sets (op n idx...), runs (count set cost).
    const a = c.args;
    let i = 2;
    i += 1 + 4 * Number(a[i]);
    const sets: { op: string; n: number }[] = [];
    for (let s = Number(a[i++]); s > 0; s--) {
      const op = a[i] as string;
      const n = Number(a[i + 1]);
      sets.push({ op, n });
      i += 2 + n;
    }
    const reply: number[] = [];
    let k = 0;
    for (let r = Number(a[i++]); r > 0; r--) {
      const count = Number(a[i]);
      const set = sets[Number(a[i + 1]) - 1] as { op: string; n: number };
      i += 3;
      for (let j = 0; j < count; j++) {
        this.ran.push(`decide:${c.keys.slice(k, k + set.n).join(",")}`);
        k += set.n;
        if (set.op !== "c") reply.push(1);
        else if (set.n === 1) reply.push(0, 0);
        else reply.push(1, ...Array.from({ length: set.n }, () => [0, 0]).flat());
      }
    }
    return reply;
  }
}

/** settle lets pending promise callbacks and microtasks run (the store reacts to replies in them). */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

const policy: Policy[] = [tokenBucket({ capacity: 100, refillRate: 1 })];

describe("NOSCRIPT ordering, scripted replies", () => {
  // Regression (issue 8, defect 11): after a SCRIPT FLUSH, a later lone call B on key K ran before the retry of an earlier batch A holding K.
  it("flight Z (lone) gets NOSCRIPT and is retried; batch A (key K) gets NOSCRIPT; lone B (key K), sent later, runs after A's retry", async () => {
    const redis = new FakeRedis();
    const store = new RedisStore({ adapter: redis, timeoutMs: 60_000 });
    const key = (k: string): string => store.keyOf(k, policy[0] as Policy);
    redis.flush();
    // step 1: Z, a lone consume of "z": the token bucket's lone script.
    const z = store.consume("z", policy, 1, undefined);
    await settle();
    // step 2: A, two consumes in one tick (K and y): one decide.lua batch.
    const a = [store.consume("K", policy, 1, undefined), store.consume("y", policy, 1, undefined)];
    await settle();
    expect(
      redis.pending.map((c) => c.script.name),
      "step 2: on the wire",
    ).toEqual(["lone_tb", "decide"]);
    // step 3: Redis runs Z: NOSCRIPT; the store sends Z again by EVAL, which will load lone_tb.
    redis.step();
    await settle();
    // step 4: B, a lone consume of K, after Z's retry was sent and before A's NOSCRIPT is seen.
    const b = store.consume("K", policy, 1, undefined);
    await settle();
    // step 5: Redis runs everything, in order, until nothing waits.
    while (redis.step()) await settle();
    await Promise.all([z, ...a, b]);
    expect(redis.ran, "decisions in the order Redis ran them").toEqual([
      `lone_tb:${key("z")}`,
      `decide:${key("K")}`,
      `decide:${key("y")}`,
      `lone_tb:${key("K")}`,
    ]);
    expect(redis.pending, "nothing left waiting").toEqual([]);
    // After the hold, calls go straight out again.
    const c = store.consume("w", policy, 1, undefined);
    await settle();
    expect(redis.pending.length, "a later call is sent at once").toBe(1);
    redis.step();
    expect((await c).allowed).toBe(true);
  });

  it("with batch: false too: calls made while a NOSCRIPT retry is pending wait for it, in order", async () => {
    const redis = new FakeRedis();
    const store = new RedisStore({ adapter: redis, timeoutMs: 60_000, batch: false });
    const key = (k: string): string => store.keyOf(k, policy[0] as Policy);
    redis.flush();
    const first = [store.consume("K", policy, 1, undefined), store.consume("x", policy, 1, undefined)];
    redis.step(); // K: NOSCRIPT, retried by EVAL
    await settle();
    const later = [store.consume("K", policy, 2, undefined), store.refund("K", policy, 1, undefined)];
    await settle();
    while (redis.step()) await settle();
    await Promise.all([...first, ...later]);
    // K and x both got NOSCRIPT and were retried in order; the later consume and refund of K went after both.
    expect(redis.ran, "decisions in the order Redis ran them").toEqual([
      `lone_tb:${key("K")}`,
      `lone_tb:${key("x")}`,
      `lone_tb:${key("K")}`,
      `decide:${key("K")}`,
    ]);
  });

  it("a call held back keeps its timeout, counted from when it was held (not from when the hold ends)", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    try {
      const redis = new FakeRedis();
      const store = new RedisStore({
        adapter: redis,
        timeoutMs: 500,
        onFailure: "fail-closed",
        probeIntervalMs: 60_000,
        denyCache: false,
      });
      redis.flush();
      const z = store.consume("z", policy, 1, undefined);
      await settle();
      redis.step(); // NOSCRIPT; the EVAL retry is never answered
      await settle();
      vi.advanceTimersByTime(100);
      let answered: Decision | undefined;
      void Promise.resolve(store.consume("b", policy, 1, undefined)).then((d) => {
        answered = d;
      });
      await settle();
      // At 500 Z times out; the hold ends and "b", held since 100, has 100 ms left, not 500.
      vi.advanceTimersByTime(400);
      await settle();
      expect((await z).degraded, "Z at its timeout").toBe("fail-closed");
      vi.advanceTimersByTime(99);
      await settle();
      expect(answered, "b at 599 ms").toBeUndefined();
      vi.advanceTimersByTime(1);
      await settle();
      expect(answered?.degraded, "b at 600 ms: its own timeout, 500 ms after it was made").toBe("fail-closed");
    } finally {
      vi.useRealTimers();
    }
  });

  it("a retried call answered by its timeout still ends the hold; insurance decides meanwhile", async () => {
    const redis = new FakeRedis();
    const insurance = new MemoryStore();
    // timeoutMs 250, not 30: the probe below must be answered within it, and on a loaded machine (the whole Redis
    // suite at once, load 7) 30 ms between its send and the steps that answer it was exceeded once.
    const store = new RedisStore({ adapter: redis, timeoutMs: 250, onFailure: { insurance }, probeIntervalMs: 1 });
    redis.flush();
    const z = store.consume("z", policy, 1, undefined);
    await settle();
    redis.step(); // NOSCRIPT; the EVAL is never answered: the flight times out
    expect((await z).degraded).toBe("insurance");
    await new Promise((r) => setTimeout(r, 5));
    redis.pending.length = 0;
    const d = store.consume("k", policy, 1, undefined);
    await settle();
    expect(redis.pending.length, "the next call (a probe) is sent: the hold is over").toBe(1);
    while (redis.step()) await settle(); // NOSCRIPT again (the cache is still empty), then EVAL
    expect((await d).degraded, "Redis answered the probe").toBeUndefined();
  });
});

describe('"Function not found" is handled as NOSCRIPT (Redis 7+ functions)', () => {
  it("the store loads its library at start, then calls by FCALL", async () => {
    const redis = new FakeRedis(true, true);
    const store = new RedisStore({ adapter: redis, timeoutMs: 60_000 });
    expect(
      redis.pending.map((c) => c.kind),
      "at start",
    ).toEqual(["fload"]);
    const early = store.consume("e", policy, 1, undefined);
    await settle();
    expect(
      redis.pending.map((c) => c.kind),
      "a call made before the load is answered: EVALSHA",
    ).toEqual(["fload", "evalsha"]);
    while (redis.step()) await settle();
    expect((await early).allowed).toBe(true);
    const later = [store.consume("a", policy, 1, undefined), store.consume("b", policy, 1, undefined)];
    const lone = (async () => {
      await settle();
      return store.consume("c", policy, 1, undefined);
    })();
    await settle();
    await settle();
    expect(
      redis.pending.map((c) => `${c.kind} ${c.script.name}`),
      "after the load: FCALL",
    ).toEqual(["fcall decide", "fcall lone_tb"]);
    while (redis.step()) await settle();
    expect((await Promise.all([...later, lone])).map((d) => d.allowed)).toEqual([true, true, true]);
  });

  // The NOSCRIPT ordering case above, with FUNCTION FLUSH instead of SCRIPT FLUSH.
  it("flight Z (lone) gets Function not found: every script and the library are loaded, Z goes again by EVAL; A's retry runs before a later B on K", async () => {
    const redis = new FakeRedis(true, true);
    const store = new RedisStore({ adapter: redis, timeoutMs: 60_000 });
    const key = (k: string): string => store.keyOf(k, policy[0] as Policy);
    redis.step(); // the start-up FUNCTION LOAD
    await settle();
    redis.flushFunctions();
    const z = store.consume("z", policy, 1, undefined);
    await settle();
    const a = [store.consume("K", policy, 1, undefined), store.consume("y", policy, 1, undefined)];
    await settle();
    expect(
      redis.pending.map((c) => `${c.kind} ${c.script.name}`),
      "step 2: on the wire",
    ).toEqual(["fcall lone_tb", "fcall decide"]);
    redis.step(); // Z: Function not found
    await settle();
    expect(
      redis.pending.map((c) => `${c.kind} ${c.script.name}`),
      "step 3: A waits; the library and every script are loaded, then Z's retry",
    ).toEqual(["fcall decide", "fload decide", ...SCRIPTS.map((x) => `load ${x.name}`), "eval lone_tb"]);
    const b = store.consume("K", policy, 1, undefined);
    await settle();
    while (redis.step()) await settle();
    await Promise.all([z, ...a, b]);
    expect(redis.ran, "decisions in the order Redis ran them").toEqual([
      `lone_tb:${key("z")}`,
      `decide:${key("K")}`,
      `decide:${key("y")}`,
      `lone_tb:${key("K")}`,
    ]);
    const c = store.consume("w", policy, 1, undefined);
    await settle();
    expect(
      redis.pending.map((x) => x.kind),
      "after the hold, by FCALL again",
    ).toEqual(["fcall"]);
    redis.step();
    expect((await c).allowed).toBe(true);
  });

  it("a server that refuses the library (NOPERM) gets EVALSHA from then on, and no call is lost", async () => {
    const redis = new FakeRedis(true, "refused");
    const store = new RedisStore({ adapter: redis, timeoutMs: 60_000 });
    redis.step(); // FUNCTION LOAD: NOPERM
    await settle();
    const d = [store.consume("a", policy, 1, undefined), store.consume("b", policy, 1, undefined)];
    await settle();
    expect(redis.pending.map((c) => c.kind)).toEqual(["evalsha"]);
    while (redis.step()) await settle();
    expect((await Promise.all(d)).map((x) => x.allowed)).toEqual([true, true]);
  });

  it("a library the server fails to load is tried again after replies, 3 times in a row at most", async () => {
    const redis = new FakeRedis(true, "broken");
    const store = new RedisStore({ adapter: redis, timeoutMs: 60_000 });
    const kinds: string[] = [];
    for (let i = 0; i < 6; i++) {
      const d = store.consume(`k${i}`, policy, 1, undefined);
      await settle();
      kinds.push(redis.pending.map((c) => c.kind).join("+"));
      while (redis.step()) await settle();
      expect((await d).allowed).toBe(true);
    }
    // The load at start, then one after each reply while a try is left: 3 in all, then EVALSHA only.
    expect({ loads: redis.libraryLoads, first: kinds[0], last: kinds.slice(3) }).toEqual({
      loads: 3,
      first: "fload+evalsha",
      last: ["evalsha", "evalsha", "evalsha"],
    });
  });

  it("FCALL refused after the library loaded (an ACL changed): the flight goes again by EVAL, later ones by EVALSHA", async () => {
    const redis = new FakeRedis(true, true);
    const store = new RedisStore({ adapter: redis, timeoutMs: 60_000 });
    const key = (k: string): string => store.keyOf(k, policy[0] as Policy);
    redis.step();
    await settle();
    const a = store.consume("a", policy, 1, undefined);
    await settle();
    expect(redis.pending.map((c) => c.kind)).toEqual(["fcall"]);
    redis.functions = "refused";
    redis.step(); // NOPERM
    await settle();
    const b = store.consume("b", policy, 1, undefined);
    await settle();
    expect(
      redis.pending.map((c) => c.kind),
      "the retry; b held until it is answered",
    ).toEqual([...SCRIPTS.map(() => "load"), "eval"]);
    while (redis.step()) await settle();
    await Promise.all([a, b]);
    expect(redis.ran).toEqual([`lone_tb:${key("a")}`, `lone_tb:${key("b")}`]);
    const c = store.consume("c", policy, 1, undefined);
    await settle();
    expect(
      redis.pending.map((x) => x.kind),
      "functions off for good",
    ).toEqual(["evalsha"]);
    redis.step();
    expect((await c).allowed).toBe(true);
  });
});

describe("NOSCRIPT loads every script before retrying", () => {
  // Regression (issue 8, defect 11): a retry loaded only its own script, leaving the cache half loaded;
  // later, a batch (decide.lua, cached) ran before an earlier lone call (its script missing) was retried.
  it("after one NOSCRIPT, no later pair of in-flight calls can run out of order through a half-loaded cache", async () => {
    const redis = new FakeRedis();
    const store = new RedisStore({ adapter: redis, timeoutMs: 60_000 });
    const key = (k: string): string => store.keyOf(k, policy[0] as Policy);
    redis.flush();
    // Phase 1: a batch gets NOSCRIPT; the store loads every script, then retries it.
    const first = [store.consume("a", policy, 1, undefined), store.consume("b", policy, 1, undefined)];
    await settle();
    redis.step();
    await settle();
    expect(
      redis.pending.map((c) => `${c.kind} ${c.script.name}`),
      "phase 1, after the NOSCRIPT: every script loaded, then the retry",
    ).toEqual([...SCRIPTS.map((x) => `load ${x.name}`), "eval decide"]);
    while (redis.step()) await settle();
    await Promise.all(first);
    // Phase 2: Z (lone script, key K), then A (decide.lua, K and x), both on the wire at once.
    const z = store.consume("K", policy, 1, undefined);
    await settle();
    const a = [store.consume("K", policy, 1, undefined), store.consume("x", policy, 1, undefined)];
    await settle();
    while (redis.step()) await settle();
    await Promise.all([z, ...a]);
    expect(redis.ran.slice(2), "phase 2: decisions in the order Redis ran them").toEqual([
      `lone_tb:${key("K")}`,
      `decide:${key("K")}`,
      `decide:${key("x")}`,
    ]);
  });

  it("an adapter without scriptLoad: every script is loaded by EVAL calls that change nothing, before the retry", async () => {
    const redis = new FakeRedis(false);
    const store = new RedisStore({ adapter: redis, timeoutMs: 60_000 });
    redis.flush();
    const z = store.consume("z", policy, 1, undefined);
    await settle();
    redis.step();
    await settle();
    expect(
      redis.pending.map((c) => `${c.kind} ${c.script.name} ${c.keys.join(",")}`),
      "after the NOSCRIPT",
    ).toEqual([
      ...SCRIPTS.map(
        (x) => `eval ${x.name} ${store.keyOf("z", policy[0] as Policy)}${x === DECIDE || x === NODE ? "" : ":load"}`,
      ),
      `eval lone_tb ${store.keyOf("z", policy[0] as Policy)}`,
    ]);
    while (redis.step()) await settle();
    expect((await z).allowed).toBe(true);
    expect(redis.cache.size, "every script cached").toBe(SCRIPTS.length);
  });
});

describe("NOSCRIPT ordering, real Redis with SCRIPT FLUSH", () => {
  let server: RedisServer;
  let client: Redis;
  let admin: Redis;
  beforeAll(async () => {
    server = await startRedis();
    client = new Redis(server.port, server.host);
    admin = new Redis(server.port, server.host);
  });
  afterAll(async () => {
    client?.disconnect();
    admin?.disconnect();
    await server?.stop();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /**
   * gate wraps a real adapter: every command goes to Redis at once (so Redis runs
   * them in the order sent), but its reply reaches the store only when released.
   */
  function gate(inner: RedisAdapter) {
    const held: (() => void)[] = [];
    let sent = 0;
    let open = false;
    const pass = (p: Promise<unknown>): Promise<unknown> => {
      sent++;
      return new Promise((resolve, reject) => {
        const deliver = (f: () => void): void => {
          if (open) f();
          else held.push(f);
        };
        p.then(
          (v) => deliver(() => resolve(v)),
          (e) => deliver(() => reject(e)),
        );
      });
    };
    const adapter: RedisAdapter = {
      cluster: false,
      // The store's start-up INFO check is answered here, and SCRIPT LOAD goes straight
      // through (same connection, so still in order): only script calls pass the gate.
      info: () => Promise.resolve([]),
      scriptLoad: (source) => (inner.scriptLoad as (s: string) => Promise<unknown>)(source),
      evalsha: (sha1, keys, args) => pass(inner.evalsha(sha1, keys, args)),
      eval: (source, keys, args) => pass(inner.eval(source, keys, args)),
    };
    return {
      adapter,
      get sent() {
        return sent;
      },
      /** arrived waits until `n` replies have come back from Redis and are held. */
      async arrived(n: number): Promise<void> {
        for (let i = 0; i < 400 && held.length < n; i++) await new Promise((r) => setTimeout(r, 5));
        expect(held.length, "replies held").toBe(n);
      },
      /** release hands the oldest held reply to the store. */
      async release(): Promise<void> {
        (held.shift() as () => void)();
        await settle();
      },
      /** open hands over every held reply and every later one at once. */
      async open(): Promise<void> {
        open = true;
        while (held.length > 0) (held.shift() as () => void)();
        await settle();
      },
    };
  }

  // Regression (issue 8, defect 11): the same reordering against a real Redis after SCRIPT FLUSH: B overtook A's retry and took A's unit.
  it("limit 2 on K: A's two calls (sent first) are admitted and B is denied, as sent", async () => {
    const window: Policy[] = [fixedWindow({ limit: 2, windowMs: 60_000 })];
    const g = gate(ioredisAdapter(client));
    const store = new RedisStore({ adapter: g.adapter, prefix: "nsr:", timeoutMs: 10_000, denyCache: false });
    await admin.script("FLUSH");
    // Z (lone fixed-window script) and A (decide.lua, K twice) both reach Redis and get NOSCRIPT.
    const z = store.consume("z", window, 1, undefined);
    await settle();
    const a = [store.consume("K", window, 1, undefined), store.consume("K", window, 1, undefined)];
    await g.arrived(2);
    // Z's NOSCRIPT reaches the store: it sends Z by EVAL, which loads the lone fixed-window script.
    await g.release();
    await g.arrived(2);
    // B, a lone consume of K: the lone script is loaded now, so if B were sent it would run before A's retry.
    const b = store.consume("K", window, 1, undefined);
    await settle();
    const sentBeforeA = g.sent;
    await g.open();
    const [dz, da1, da2, db] = await Promise.all([z, ...a, b]);
    expect(
      [dz, da1, da2, db].map((d) => [d?.allowed, d?.remaining, d?.degraded]),
      "z, A's two calls on K, B on K",
    ).toEqual([
      [true, 1, undefined],
      [true, 1, undefined],
      [true, 0, undefined],
      [false, 0, undefined],
    ]);
    expect(sentBeforeA, "B held back until A was answered (only Z, A and Z's retry sent)").toBe(3);
  });

  it("loading by EVAL (an adapter without scriptLoad) caches every script and writes no key", async () => {
    const io = ioredisAdapter(client);
    const adapter: RedisAdapter = { cluster: false, evalsha: io.evalsha, eval: io.eval };
    const store = new RedisStore({ adapter, prefix: "nsl:", timeoutMs: 10_000 });
    await admin.script("FLUSH");
    const d = await store.consume("k", policy, 1, undefined);
    expect(d.allowed, "the call itself").toBe(true);
    expect(await admin.script("EXISTS", ...SCRIPTS.map((x) => x.sha1)), "SCRIPT EXISTS of every script").toEqual(
      SCRIPTS.map(() => 1),
    );
    expect(await admin.keys("nsl:*"), "keys written").toEqual([store.keyOf("k", policy[0] as Policy)]);
  });
});
