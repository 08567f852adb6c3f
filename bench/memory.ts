// memory.ts: in-process decisions/s and bytes per key: floodgate against its peers and a bare Map, in one interleaved run.
//
// Run: node --expose-gc --import tsx bench/memory.ts        (writes bench/results/memory.md)
//      ... bench/memory.ts --only 1:allowed,100000:denied --contestants floodgate,bare
//      (some scenarios only, given as keys:path, or "memory" for bytes per key; some contestants
//      only, by part of their name; prints the table without writing the results file)
//
// Every throughput scenario (1 key or 100,000 keys, allowed or denied path) runs
// in its own child process, so call sites warmed by one scenario do not bias the
// next; inside a scenario every contestant runs in the same process, interleaved
// (A, B, C, ... then again, with the starting contestant rotated each round), and
// the median round is reported. Memory is measured in a fresh child per store.
// Children are this same file, started with `--child <job>` and the same node flags.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { MemoryStore as ErlMemoryStore, type Options as ErlOptions } from "express-rate-limit";
import { RateLimiter as LimiterRateLimiter } from "limiter";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { MemoryStore, RateLimiter, tokenBucket } from "../src/index.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const SELF = fileURLToPath(import.meta.url);

/** ROUNDS is how many interleaved rounds each scenario runs; the median is reported. */
const ROUNDS = 21;
/** ROUND_MS is the target duration of one contestant's round. */
const ROUND_MS = 40;
/** WARMUP_MS is how long each contestant runs before the rounds (JIT warm-up and calibration). */
const WARMUP_MS = 300;
/** MANY_KEYS is the key count of the many-keys scenarios. */
const MANY_KEYS = 100_000;
/** MEMORY_KEYS is how many keys the memory measurement inserts. */
const MEMORY_KEYS = 1_000_000;

// The limits every contestant is configured with. Allowed path: a bucket that
// never runs dry during the run, whose key is never full again (idle) between two
// visits, and whose waits stay below 2^31 ms (V8 small integers, as in real
// configurations): with one key, 1e9 tokens refilling at 1e6/s (drained far
// faster than it refills); with many keys, 1e6 tokens refilling at 1/s (a key is
// visited every few ms). Denied path: one token per hour, spent while preparing,
// so every timed call is denied. Churn (floodgate and the bare Map only): a bucket
// full again 1 µs after a call, so every key is idle by its next visit. With the
// default maxKeys the 100,000 keys stay below the store's soft watermark (7/8 of
// maxKeys), so floodgate keeps them and each visit finds a tracked, full bucket
// (which answers as a fresh one); "churn at bound" runs floodgate with maxKeys =
// the key count, so the table sits at its watermark and each visit of a dropped key
// sweeps and re-creates it, the price of bounded memory (the bare Map keeps every
// key forever).
const ALLOWED_ONE_KEY = { capacity: 1_000_000_000, perSecond: 1_000_000 };
const ALLOWED_MANY_KEYS = { capacity: 1_000_000, perSecond: 1 };
const DENIED = { capacity: 1, perSecond: 1 / 3600 };
const CHURN = { capacity: 1_000_000_000, perSecond: 1_000_000_000 };

/** Path names a scenario's limit. */
type Path = "allowed" | "denied" | "churn" | "churn at bound";

/** limits returns the limit of a path for `keyCount` keys. */
function limits(path: Path, keyCount: number): { capacity: number; perSecond: number } {
  if (path === "denied") return DENIED;
  if (path === "churn" || path === "churn at bound") return CHURN;
  return keyCount === 1 ? ALLOWED_ONE_KEY : ALLOWED_MANY_KEYS;
}

/** keyName returns the i-th key: `user:000000` to `user:999999`, 11 characters like `user:123456`. */
function keyName(i: number): string {
  return `user:${String(i).padStart(6, "0")}`;
}

// ---------------------------------------------------------------------------
// Contestants. Each has its own loop (its own source function), so the JIT's
// feedback for one contestant never makes another's call sites polymorphic.
// `run(n)` makes n decisions, round robin over the keys, and returns how many
// were allowed (checked against the scenario, so a wrong setup cannot pass).

interface Runner {
  prepare(): Promise<void> | void;
  run(n: number): Promise<number> | number;
  close?(): void;
}

interface Contestant {
  name: string;
  /** kind is the reference this contestant is compared with: the async or the sync bare Map. */
  kind: "async" | "sync";
  make(keys: string[], path: Path): Runner;
}

/** floodgateStore is the default MemoryStore, or for "churn at bound" one whose maxKeys is the key count. */
function floodgateStore(path: Path, keys: string[]): MemoryStore {
  return path === "churn at bound" ? new MemoryStore({ maxKeys: keys.length }) : new MemoryStore();
}

function floodgatePolicy(path: Path, keyCount: number) {
  const l = limits(path, keyCount);
  return tokenBucket({ capacity: l.capacity, refillRate: l.perSecond });
}

const floodgateAsync: Contestant = {
  name: "floodgate consume (async)",
  kind: "async",
  make(keys, path) {
    const limiter = new RateLimiter({ policy: floodgatePolicy(path, keys.length), store: floodgateStore(path, keys) });
    let j = 0;
    return {
      async prepare() {
        for (const k of keys) await limiter.consume(k);
      },
      async run(n) {
        let allowed = 0;
        for (let i = 0; i < n; i++) {
          const d = await limiter.consume(keys[j] as string);
          if (d.allowed) allowed++;
          if (++j === keys.length) j = 0;
        }
        return allowed;
      },
    };
  },
};

const floodgateSync: Contestant = {
  name: "floodgate consumeSync",
  kind: "sync",
  make(keys, path) {
    const limiter = new RateLimiter({ policy: floodgatePolicy(path, keys.length), store: floodgateStore(path, keys) });
    let j = 0;
    return {
      prepare() {
        for (const k of keys) limiter.consumeSync(k);
      },
      run(n) {
        let allowed = 0;
        for (let i = 0; i < n; i++) {
          const d = limiter.consumeSync(keys[j] as string);
          if (d.allowed) allowed++;
          if (++j === keys.length) j = 0;
        }
        return allowed;
      },
    };
  },
};

const flexible: Contestant = {
  name: "rate-limiter-flexible RateLimiterMemory",
  kind: "async",
  make(keys, path) {
    const denied = path === "denied";
    // A fixed window of `points` per hour; a denial rejects with a RateLimiterRes.
    const rl = new RateLimiterMemory({ points: denied ? 1 : limits(path, keys.length).capacity, duration: 3600 });
    let j = 0;
    return {
      async prepare() {
        for (const k of keys) await rl.consume(k).catch(() => {});
      },
      async run(n) {
        let allowed = 0;
        for (let i = 0; i < n; i++) {
          try {
            await rl.consume(keys[j] as string);
            allowed++;
          } catch (e) {
            if (!(e instanceof RateLimiterRes)) throw e;
          }
          if (++j === keys.length) j = 0;
        }
        return allowed;
      },
    };
  },
};

const limiterPkg: Contestant = {
  name: "limiter RateLimiter per key (tryRemoveTokens)",
  kind: "sync",
  make(keys, path) {
    const denied = path === "denied";
    // One limiter.RateLimiter (a TokenBucket inside) per key, in a Map; its
    // non-waiting call, tryRemoveTokens, is synchronous.
    const perKey = new Map<string, LimiterRateLimiter>();
    const perHour = denied ? 1 : limits(path, keys.length).capacity;
    let j = 0;
    const get = (k: string): LimiterRateLimiter => {
      let l = perKey.get(k);
      if (l === undefined) {
        l = new LimiterRateLimiter({ tokensPerInterval: perHour, interval: "hour", fireImmediately: true });
        perKey.set(k, l);
      }
      return l;
    };
    return {
      prepare() {
        for (const k of keys) get(k).tryRemoveTokens(1);
      },
      run(n) {
        let allowed = 0;
        for (let i = 0; i < n; i++) {
          if (get(keys[j] as string).tryRemoveTokens(1)) allowed++;
          if (++j === keys.length) j = 0;
        }
        return allowed;
      },
    };
  },
};

const expressRateLimit: Contestant = {
  name: "express-rate-limit MemoryStore (increment)",
  kind: "async",
  make(keys, path) {
    const denied = path === "denied";
    // The store only counts hits in a fixed window; the middleware compares the
    // count with its limit, which the loop does here.
    const store = new ErlMemoryStore();
    store.init({ windowMs: 3_600_000 } as ErlOptions);
    const limit = denied ? 1 : limits(path, keys.length).capacity;
    let j = 0;
    return {
      async prepare() {
        for (const k of keys) await store.increment(k);
      },
      async run(n) {
        let allowed = 0;
        for (let i = 0; i < n; i++) {
          const info = await store.increment(keys[j] as string);
          if (info.totalHits <= limit) allowed++;
          if (++j === keys.length) j = 0;
        }
        return allowed;
      },
      close() {
        store.shutdown();
      },
    };
  },
};

/** BareBucket is the bare reference's state: two numbers per key. */
interface BareBucket {
  tokens: number;
  atMs: number;
}

/** BareResult is what the bare reference returns: the fields of a Decision of one policy. */
interface BareResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  retryAfterMs: number;
  resetAfterMs: number;
  policy: string;
}

/** perf is the global `performance`, read once: in Node the global is a getter that checks its receiver. */
const perf = performance;

// The bare reference: a Map of { tokens, atMs } per key, the same smooth token
// bucket arithmetic, the same clock (performance.now()), and a fresh result with
// the same fields as a Decision. No validation, no options, no composite
// policies, no bound on memory: the floor a general library is measured against.
function bareTake(map: Map<string, BareBucket>, key: string, capacity: number, perMs: number): BareResult {
  const now = perf.now();
  let b = map.get(key);
  if (b === undefined) {
    b = { tokens: capacity, atMs: now };
    map.set(key, b);
  } else if (now > b.atMs) {
    const t = b.tokens + (now - b.atMs) * perMs;
    b.tokens = t > capacity ? capacity : t;
    b.atMs = now;
  }
  const tokens = b.tokens;
  if (tokens >= 1) {
    b.tokens = tokens - 1;
    return {
      allowed: true,
      limit: capacity,
      remaining: Math.floor(tokens - 1),
      retryAfterMs: 0,
      resetAfterMs: Math.ceil((capacity - tokens + 1) / perMs),
      policy: "bare",
    };
  }
  return {
    allowed: false,
    limit: capacity,
    remaining: Math.floor(tokens),
    retryAfterMs: Math.ceil((1 - tokens) / perMs),
    resetAfterMs: Math.ceil((capacity - tokens) / perMs),
    policy: "bare",
  };
}

const bareAsync: Contestant = {
  name: "bare Map + await (reference)",
  kind: "async",
  make(keys, path) {
    const l = limits(path, keys.length);
    const perMs = l.perSecond / 1000;
    const map = new Map<string, BareBucket>();
    // An async function awaited per call: the cost of a promise per decision.
    const take = async (key: string): Promise<BareResult> => bareTake(map, key, l.capacity, perMs);
    let j = 0;
    return {
      async prepare() {
        for (const k of keys) await take(k);
      },
      async run(n) {
        let allowed = 0;
        for (let i = 0; i < n; i++) {
          const r = await take(keys[j] as string);
          if (r.allowed) allowed++;
          if (++j === keys.length) j = 0;
        }
        return allowed;
      },
    };
  },
};

// A copy of bareTake, so the sync reference has its own JIT feedback.
function bareTakeSync(map: Map<string, BareBucket>, key: string, capacity: number, perMs: number): BareResult {
  const now = perf.now();
  let b = map.get(key);
  if (b === undefined) {
    b = { tokens: capacity, atMs: now };
    map.set(key, b);
  } else if (now > b.atMs) {
    const t = b.tokens + (now - b.atMs) * perMs;
    b.tokens = t > capacity ? capacity : t;
    b.atMs = now;
  }
  const tokens = b.tokens;
  if (tokens >= 1) {
    b.tokens = tokens - 1;
    return {
      allowed: true,
      limit: capacity,
      remaining: Math.floor(tokens - 1),
      retryAfterMs: 0,
      resetAfterMs: Math.ceil((capacity - tokens + 1) / perMs),
      policy: "bare",
    };
  }
  return {
    allowed: false,
    limit: capacity,
    remaining: Math.floor(tokens),
    retryAfterMs: Math.ceil((1 - tokens) / perMs),
    resetAfterMs: Math.ceil((capacity - tokens) / perMs),
    policy: "bare",
  };
}

const bareSync: Contestant = {
  name: "bare Map, sync (reference)",
  kind: "sync",
  make(keys, path) {
    const l = limits(path, keys.length);
    const perMs = l.perSecond / 1000;
    const map = new Map<string, BareBucket>();
    let j = 0;
    return {
      prepare() {
        for (const k of keys) bareTakeSync(map, k, l.capacity, perMs);
      },
      run(n) {
        let allowed = 0;
        for (let i = 0; i < n; i++) {
          if (bareTakeSync(map, keys[j] as string, l.capacity, perMs).allowed) allowed++;
          if (++j === keys.length) j = 0;
        }
        return allowed;
      },
    };
  },
};

/** CHURN_CONTESTANTS run the churn scenario: the peers keep a key for their fixed window, so churn does not apply. */
const CHURN_CONTESTANTS: Contestant[] = [floodgateAsync, floodgateSync, bareAsync, bareSync];

const CONTESTANTS: Contestant[] = [
  floodgateAsync,
  floodgateSync,
  bareAsync,
  bareSync,
  flexible,
  limiterPkg,
  expressRateLimit,
];

// ---------------------------------------------------------------------------
// Throughput child: one scenario, every contestant, interleaved rounds.

interface ThroughputResult {
  scenario: string;
  /** rates maps a contestant name to its decisions per second, one per round. */
  rates: Record<string, number[]>;
  /** invalid lists contestants whose allowed count did not match the scenario. */
  invalid: string[];
}

/**
 * timed runs n decisions and returns the CPU time they took, in ms. CPU time
 * (user + system of this process, from process.cpuUsage) rather than wall time:
 * on a shared machine a wall-clock round also counts the time the process sat
 * descheduled, which says nothing about the contestant. On an idle machine the
 * two agree, except that CPU time also counts V8's GC helper threads.
 */
async function timed(r: Runner, n: number): Promise<{ ms: number; allowed: number }> {
  const c0 = process.cpuUsage();
  const out = r.run(n);
  const allowed = typeof out === "number" ? out : await out;
  const c = process.cpuUsage(c0);
  return { ms: (c.user + c.system) / 1000, allowed };
}

async function throughput(keyCount: number, path: Path, only: string[] | undefined): Promise<ThroughputResult> {
  const denied = path === "denied";
  const keys = Array.from({ length: keyCount }, (_, i) => keyName(i));
  const list = CONTESTANTS.filter(
    (c) =>
      (only === undefined || only.some((x) => c.name.includes(x))) &&
      (!path.startsWith("churn") || CHURN_CONTESTANTS.includes(c)),
  );
  const runners = list.map((c) => c.make(keys, path));
  for (const r of runners) await r.prepare();
  const invalid = new Set<string>();
  const check = (name: string, n: number, allowed: number): void => {
    if (allowed !== (denied ? 0 : n)) invalid.add(`${name}: ${allowed} of ${n} allowed`);
  };
  // Warm up and calibrate: run each contestant in growing batches for WARMUP_MS.
  const batch: number[] = [];
  for (let c = 0; c < runners.length; c++) {
    const r = runners[c] as Runner;
    let n = 1000;
    let spentMs = 0;
    let rate = 0;
    while (spentMs < WARMUP_MS) {
      const { ms, allowed } = await timed(r, n);
      check((list[c] as Contestant).name, n, allowed);
      spentMs += ms;
      rate = n / Math.max(ms, 0.001); // decisions per ms
      n = Math.min(n * 2, Math.max(1000, Math.round(rate * ROUND_MS)));
    }
    batch.push(Math.max(1000, Math.round(rate * ROUND_MS)));
  }
  const rates: Record<string, number[]> = {};
  for (const c of list) rates[c.name] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < runners.length; k++) {
      const c = (round + k) % runners.length;
      const n = batch[c] as number;
      const { ms, allowed } = await timed(runners[c] as Runner, n);
      const name = (list[c] as Contestant).name;
      check(name, n, allowed);
      rates[name]?.push((n / ms) * 1000);
    }
  }
  for (const r of runners) r.close?.();
  const scenario = `${keyCount === 1 ? "1 key" : `${keyCount.toLocaleString("en-US")} keys`}, ${path}`;
  return { scenario, rates, invalid: [...invalid] };
}

// ---------------------------------------------------------------------------
// Memory child: one store, MEMORY_KEYS fresh keys, bytes per tracked key.

interface MemoryResult {
  store: string;
  keys: number;
  tracked: number;
  bytes: number;
  note: string;
}

function heapBytes(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("bench/memory.ts needs node --expose-gc");
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function memory(store: string): Promise<MemoryResult> {
  const n = MEMORY_KEYS;
  // Keys are built on the fly and not kept here: the store retains them, so
  // their bytes are part of the store's cost.
  if (store === "floodgate") {
    // A slow refill (one token per 100 s) so no key becomes idle, and droppable,
    // while the keys are inserted: every key is still tracked when measured.
    const policy = tokenBucket({ capacity: 10, refillRate: 0.01 });
    const before = heapBytes();
    const limiter = new RateLimiter({ policy });
    for (let i = 0; i < n; i++) limiter.consumeSync(keyName(i));
    const after = heapBytes();
    const tracked = (limiter.store as MemoryStore).size();
    return {
      store: "floodgate MemoryStore",
      keys: n,
      tracked,
      bytes: after - before,
      note: "token bucket, 2 doubles in a slab",
    };
  }
  if (store === "flexible") {
    const before = heapBytes();
    const rl = new RateLimiterMemory({ points: 10, duration: 3600 });
    for (let i = 0; i < n; i++) await rl.consume(keyName(i));
    const after = heapBytes();
    const tracked = (rl as unknown as { _memoryStorage: { _storage: Map<string, unknown> } })._memoryStorage._storage
      .size;
    return {
      store: "rate-limiter-flexible RateLimiterMemory",
      keys: n,
      tracked,
      bytes: after - before,
      note: "a record and a timer per key",
    };
  }
  if (store === "limiter") {
    const before = heapBytes();
    const perKey = new Map<string, LimiterRateLimiter>();
    for (let i = 0; i < n; i++) {
      const l = new LimiterRateLimiter({ tokensPerInterval: 10, interval: "hour", fireImmediately: true });
      l.tryRemoveTokens(1);
      perKey.set(keyName(i), l);
    }
    const after = heapBytes();
    return {
      store: "limiter RateLimiter per key, in a Map",
      keys: n,
      tracked: perKey.size,
      bytes: after - before,
      note: "no eviction at all",
    };
  }
  if (store === "express-rate-limit") {
    const before = heapBytes();
    const s = new ErlMemoryStore();
    s.init({ windowMs: 3_600_000 } as ErlOptions);
    for (let i = 0; i < n; i++) await s.increment(keyName(i));
    const after = heapBytes();
    const tracked = (s as unknown as { current: Map<string, unknown>; previous: Map<string, unknown> }).current.size;
    s.shutdown();
    return {
      store: "express-rate-limit MemoryStore",
      keys: n,
      tracked,
      bytes: after - before,
      note: "fixed window count + Date",
    };
  }
  if (store === "bare-object") {
    const before = heapBytes();
    const map = new Map<string, BareBucket>();
    for (let i = 0; i < n; i++) bareTakeSync(map, keyName(i), 10, 0.00001);
    const after = heapBytes();
    return {
      store: "bare Map of { tokens, atMs }",
      keys: n,
      tracked: map.size,
      bytes: after - before,
      note: "reference, unbounded",
    };
  }
  if (store === "bare-array") {
    const before = heapBytes();
    const map = new Map<string, number[]>();
    for (let i = 0; i < n; i++) {
      const now = performance.now();
      map.set(keyName(i), [9.5, now]);
    }
    const after = heapBytes();
    return {
      store: "bare Map of [tokens, atMs]",
      keys: n,
      tracked: map.size,
      bytes: after - before,
      note: "reference, unbounded",
    };
  }
  throw new Error(`unknown store ${store}`);
}

const MEMORY_STORES = ["floodgate", "bare-object", "bare-array", "flexible", "express-rate-limit", "limiter"];

// ---------------------------------------------------------------------------
// Orchestration and report.

const SCENARIOS: Array<{ job: string; keys: number; denied: boolean }> = [
  { job: "throughput:1:allowed", keys: 1, denied: false },
  { job: "throughput:1:denied", keys: 1, denied: true },
  { job: `throughput:${MANY_KEYS}:allowed`, keys: MANY_KEYS, denied: false },
  { job: `throughput:${MANY_KEYS}:denied`, keys: MANY_KEYS, denied: true },
  { job: `throughput:${MANY_KEYS}:churn`, keys: MANY_KEYS, denied: false },
  { job: `throughput:${MANY_KEYS}:churn at bound`, keys: MANY_KEYS, denied: false },
];

/** listArg returns the comma-separated list given after `flag` on the command line, or undefined. */
function listArg(flag: string): string[] | undefined {
  const at = process.argv.indexOf(flag);
  const v = at > 0 ? process.argv[at + 1] : undefined;
  if (at > 0 && (v === undefined || v.startsWith("--"))) throw new Error(`bench/memory.ts: ${flag} needs a list`);
  return v === undefined ? undefined : v.split(",").filter((x) => x !== "");
}

function runChild(job: string): unknown {
  const contestants = listArg("--contestants");
  const pass = contestants === undefined ? [] : ["--contestants", contestants.join(",")];
  const r = spawnSync(process.execPath, [...process.execArgv, SELF, "--child", job, ...pass], {
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
    timeout: 120_000,
  });
  if (r.status !== 0) {
    throw new Error(`child ${job} failed (status ${r.status}, signal ${r.signal}):\n${r.stderr}`);
  }
  const line = r.stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function fmtRate(x: number): string {
  if (!Number.isFinite(x)) return "n/a";
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)} M/s` : `${(x / 1e3).toFixed(0)} k/s`;
}

function fmtRatio(x: number): string {
  if (!Number.isFinite(x)) return "n/a";
  return `${x.toFixed(2)}x`;
}

function machine(): string {
  let model = cpus()[0]?.model ?? "unknown";
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const m = /^model name\s*:\s*(.+)$/m.exec(info);
    if (m?.[1]) model = m[1].trim();
  } catch {
    // Not Linux: keep os.cpus()'s model.
  }
  let nproc = String(cpus().length);
  try {
    nproc = execFileSync("nproc", { encoding: "utf8" }).trim();
  } catch {
    // No nproc: keep os.cpus().length.
  }
  const memGiB = (totalmem() / 2 ** 30).toFixed(1);
  return `${nproc} CPUs (nproc), ${model}, ${memGiB} GiB RAM, Node ${process.version}, ${process.platform}/${process.arch}`;
}

async function main(): Promise<void> {
  if ((globalThis as { gc?: () => void }).gc === undefined) {
    throw new Error("bench/memory.ts needs --expose-gc: node --expose-gc --import tsx bench/memory.ts");
  }
  const started = Date.now();
  const date = new Date().toISOString();
  const loadBefore = loadavg()[0] ?? 0;
  // --only picks scenarios by "keys:path" (1:allowed, 100000:churn at bound) and "memory".
  const only = listArg("--only");
  const unknown = (only ?? []).filter((x) => x !== "memory" && !SCENARIOS.some((s) => s.job === `throughput:${x}`));
  if (unknown.length > 0) {
    throw new Error(
      `bench/memory.ts --only: unknown scenario ${unknown.join(", ")}; pick from memory, ${SCENARIOS.map((s) => s.job.slice("throughput:".length)).join(", ")}`,
    );
  }
  const scenarios = SCENARIOS.filter((s) => only === undefined || only.includes(s.job.slice("throughput:".length)));
  const results: ThroughputResult[] = [];
  for (const s of scenarios) {
    process.stderr.write(`memory bench: ${s.job}\n`);
    results.push(runChild(s.job) as ThroughputResult);
  }
  const mem: MemoryResult[] = [];
  for (const s of only === undefined || only.includes("memory") ? MEMORY_STORES : []) {
    process.stderr.write(`memory bench: memory:${s}\n`);
    mem.push(runChild(`memory:${s}`) as MemoryResult);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(0);

  const out: string[] = [];
  out.push("## In-memory limiters: decisions per second and bytes per key", "");
  out.push("Command: `node --expose-gc --import tsx bench/memory.ts`  ");
  out.push(`Date: ${date}  `);
  out.push(`Machine: ${machine()}  `);
  out.push(
    `Run time: ${seconds} s; load average (1 min) before / after: ${loadBefore.toFixed(2)} / ${(loadavg()[0] ?? 0).toFixed(2)}`,
    "",
  );
  out.push(
    `Each scenario runs in a fresh child process in which every contestant runs ${ROUNDS} interleaved rounds of about ${ROUND_MS} ms (the first contestant rotates each round), after ${WARMUP_MS} ms of warm-up; the table shows the median round, in decisions per second of CPU time (user + system of the process; on a busy machine wall time would also count the time the process waited for a CPU). One caller awaits each decision before the next, round robin over the keys, which were all created before timing. Allowed path: a bucket that never runs dry and is never full again between two visits of a key; denied path: a bucket emptied before timing, so every timed call is denied; churn: a bucket full again 1 µs after each call, so every key is idle (full) by its next visit; with the default maxKeys the 100,000 keys stay below the store's soft watermark (7/8 of maxKeys), so floodgate keeps them and each visit decides on a kept full bucket, which answers as a fresh one; churn at bound: the same with \`maxKeys\` = 100,000 (watermark 87,500), so the table sits at its watermark and a visit of a dropped key sweeps 2 tracked keys, drops the idle ones and re-creates the key (the cost of bounded memory; the bare Map keeps every key, the peers keep keys for their window, so they do not run either churn). Every round checks that the allowed count is what the scenario says.`,
    "",
  );
  const names = CONTESTANTS.map((c) => c.name);
  out.push(`| contestant | ${results.map((r) => r.scenario).join(" | ")} |`);
  out.push(`|---|${results.map(() => "---:").join("|")}|`);
  const med = (r: ThroughputResult, name: string): number => median(r.rates[name] ?? [Number.NaN]);
  // A ratio is the median of the per-round ratios: both contestants of a round ran
  // moments apart, so load from other processes mostly cancels out.
  const ratio = (r: ThroughputResult, a: string, b: string): number => {
    const xs = r.rates[a] ?? [];
    const ys = r.rates[b] ?? [];
    return median(xs.map((x, i) => x / (ys[i] ?? Number.NaN)));
  };
  for (const name of names) {
    out.push(`| ${name} | ${results.map((r) => fmtRate(med(r, name))).join(" | ")} |`);
  }
  out.push("");
  out.push("Ratios (median of per-round ratios; higher is better for floodgate):", "");
  out.push(`| ratio | ${results.map((r) => r.scenario).join(" | ")} |`);
  out.push(`|---|${results.map(() => "---:").join("|")}|`);
  const row = (label: string, f: (r: ThroughputResult) => number): void => {
    out.push(`| ${label} | ${results.map((r) => fmtRatio(f(r))).join(" | ")} |`);
  };
  row("floodgate async / bare Map + await (target >= 0.85)", (r) => ratio(r, floodgateAsync.name, bareAsync.name));
  row("floodgate sync / bare Map sync (target >= 0.80)", (r) => ratio(r, floodgateSync.name, bareSync.name));
  row("floodgate async / rate-limiter-flexible", (r) => ratio(r, floodgateAsync.name, flexible.name));
  row("floodgate sync / rate-limiter-flexible", (r) => ratio(r, floodgateSync.name, flexible.name));
  out.push("");
  out.push("Denied path cost (denied decisions/s over allowed decisions/s, 1.00 = as cheap):", "");
  out.push("| contestant | 1 key | 100,000 keys |");
  out.push("|---|---:|---:|");
  const pair = (keys: number): [ThroughputResult | undefined, ThroughputResult | undefined] => [
    results[scenarios.findIndex((s) => s.keys === keys && !s.denied && !s.job.includes("churn"))],
    results[scenarios.findIndex((s) => s.keys === keys && s.denied)],
  ];
  for (const name of names) {
    const cells = [1, MANY_KEYS].map((k) => {
      const [a, d] = pair(k);
      return a && d ? fmtRatio(med(d, name) / med(a, name)) : "n/a";
    });
    out.push(`| ${name} | ${cells.join(" | ")} |`);
  }
  const invalid = results.flatMap((r) => r.invalid.map((x) => `${r.scenario}: ${x}`));
  if (invalid.length > 0) {
    out.push("", "**Invalid rounds (allowed count not as expected):**", "");
    for (const x of invalid) out.push(`- ${x}`);
  }
  if (mem.length > 0) {
    out.push("");
    out.push(
      `Memory: ${MEMORY_KEYS.toLocaleString("en-US")} fresh keys \`user:000000\` to \`user:999999\` (11 characters), one decision each, in a fresh process; bytes = growth of \`heapUsed + arrayBuffers\` after \`gc()\`, divided by the keys still tracked. Key strings are included: the store keeps them.`,
      "",
    );
    out.push("| store | tracked keys | MB | bytes per key | note |");
    out.push("|---|---:|---:|---:|---|");
    for (const m of mem) {
      out.push(
        `| ${m.store} | ${m.tracked.toLocaleString("en-US")} | ${(m.bytes / 1e6).toFixed(1)} | ${(m.bytes / m.tracked).toFixed(1)} | ${m.note} |`,
      );
    }
  }
  out.push("");
  const md = out.join("\n");
  process.stdout.write(`${md}\n`);
  if (only !== undefined || listArg("--contestants") !== undefined) return; // a partial run: printed, not written
  mkdirSync(join(HERE, "results"), { recursive: true });
  writeFileSync(join(HERE, "results", "memory.md"), md);
}

async function child(job: string): Promise<void> {
  const [kind, a, b] = job.split(":");
  let result: unknown;
  if (kind === "throughput") result = await throughput(Number(a), b as Path, listArg("--contestants"));
  else if (kind === "memory") result = await memory(a as string);
  else throw new Error(`unknown job ${job}`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

const childAt = process.argv.indexOf("--child");
if (childAt > 0) {
  await child(process.argv[childAt + 1] as string);
} else if (process.argv[1] === SELF) {
  await main();
}
