// metrics.ts: what listening costs: decisions/s of a memory store with no listener, a no-op listener, and the Prometheus and OpenTelemetry bindings.
//
// Run: node --expose-gc --import tsx bench/metrics.ts        (writes bench/results/metrics.md)
//      FLOODGATE_BASELINE=/path/to/other/checkout/src/index.ts node --import tsx bench/metrics.ts
//        adds that checkout's RateLimiter (no listener API, or another version of it) as a contestant.
//
// Each scenario (100,000 keys, the allowed or the denied path) runs in its own child
// process; inside it every contestant runs in the same process, interleaved (A, B,
// C, ... then again, the starting contestant rotated each round), each with its own
// loop and its own RateLimiter, in CPU time (see timed). Each % is the median of the
// per-round ratios to "no listener" of the same call (both ran moments apart, so
// load from other processes mostly cancels out).
//
// Each wiring imports its own copy of src/ (copied to a temporary directory), so no
// two wirings share JIT feedback: RateLimiter.consumeSync is one function for every
// limiter of one copy, and what the Prometheus-attached limiter's calls leave in its
// feedback (its counting branch taken) would shape how V8 compiles the calls of the
// limiter without listeners too, and the other way round. An application runs one
// wiring, so each gets its own code. "no listener (second copy)" is the same wiring
// as "no listener" in another copy: its % is the noise floor of the run.

import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { metrics as otelMetrics } from "@opentelemetry/api";
import { InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { Registry } from "prom-client";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..");
const SELF = fileURLToPath(import.meta.url);

type Floodgate = typeof import("../src/index.js");
type Prometheus = typeof import("../src/metrics/prometheus.js");
type Otel = typeof import("../src/metrics/otel.js");

/** COPIES is the directory of this process's copies of src/ (one per wiring), removed at exit. */
const COPIES = join(tmpdir(), `floodgate-bench-metrics-${process.pid}`);

/** copyOf copies src/ (with package.json, tsconfig.json and a node_modules link) for one wiring and returns its root. */
function copyOf(name: string): string {
  const dir = join(COPIES, name);
  mkdirSync(dir, { recursive: true });
  cpSync(join(ROOT, "src"), join(dir, "src"), { recursive: true });
  cpSync(join(ROOT, "package.json"), join(dir, "package.json"));
  cpSync(join(ROOT, "tsconfig.json"), join(dir, "tsconfig.json"));
  symlinkSync(realpathSync(join(ROOT, "node_modules")), join(dir, "node_modules"));
  return dir;
}

/** load imports a copy's floodgate, prometheus and otel modules. */
async function load(dir: string): Promise<{ fg: Floodgate; prom: Prometheus; otel: Otel }> {
  const url = (p: string) => pathToFileURL(join(dir, "src", p)).href;
  return {
    fg: (await import(url("index.ts"))) as Floodgate,
    prom: (await import(url("metrics/prometheus.ts"))) as Prometheus,
    otel: (await import(url("metrics/otel.ts"))) as Otel,
  };
}

const ROUNDS = 21;
const ROUND_MS = 40;
const WARMUP_MS = 300;
const KEYS = 100_000;
/** Allowed path: 1e6 tokens refilling at 1/s, never dry; denied path: one token per hour, spent while preparing. */
const ALLOWED = { capacity: 1_000_000, refillRate: 1 };
const DENIED = { capacity: 1, refillRate: 1 / 3600 };

type Path = "allowed" | "denied";

interface Runner {
  prepare(): Promise<void> | void;
  run(n: number): Promise<number> | number;
}

/** LimiterLike is the part of a RateLimiter (this checkout's or a baseline's) the loops call. */
interface LimiterLike {
  consume(key: string): Promise<{ allowed: boolean }>;
  consumeSync(key: string): { allowed: boolean };
}

interface Contestant {
  name: string;
  /** sync contestants are compared with "no listener, consumeSync", the others with "no listener, consume". */
  sync: boolean;
  make(keys: string[], path: Path): Runner;
}

/** keyName returns the i-th key, 11 characters like `user:123456`. */
function keyName(i: number): string {
  return `user:${String(i).padStart(6, "0")}`;
}

// Each wiring has its own two loops (one per call), so no call site sees two limiter shapes.
function asyncLoop(limiter: LimiterLike, keys: string[]): Runner {
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
}

function syncLoop(limiter: LimiterLike, keys: string[]): Runner {
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
}

/** Wiring builds a limiter for a path from a copy of floodgate and attaches (or not) something to it. */
type Wiring = (m: { fg: Floodgate; prom: Prometheus; otel: Otel }, path: Path) => LimiterLike;

const policyFor = (fg: Floodgate, path: Path) =>
  fg.tokenBucket({ name: "api", ...(path === "denied" ? DENIED : ALLOWED) });

const WIRINGS: [string, Wiring][] = [
  ["no listener", ({ fg }, path) => new fg.RateLimiter({ policy: policyFor(fg, path) })],
  ["no listener (second copy)", ({ fg }, path) => new fg.RateLimiter({ policy: policyFor(fg, path) })],
  [
    "no-op decision listener",
    ({ fg }, path) => {
      const l = new fg.RateLimiter({ policy: policyFor(fg, path) });
      l.on("decision", () => {});
      return l;
    },
  ],
  [
    "Prometheus (prom-client)",
    ({ fg, prom }, path) => {
      const l = new fg.RateLimiter({ policy: policyFor(fg, path) });
      prom.prometheusMetrics(l, { registry: new Registry() });
      return l;
    },
  ],
  [
    "OpenTelemetry (sdk-metrics)",
    ({ fg, otel }, path) => {
      const l = new fg.RateLimiter({ policy: policyFor(fg, path) });
      const reader = new PeriodicExportingMetricReader({
        exporter: new InMemoryMetricExporter(0),
        exportIntervalMillis: 60_000,
      });
      const provider = new MeterProvider({ readers: [reader] });
      otel.otelMetrics(l, { meter: provider.getMeter("bench") });
      return l;
    },
  ],
];

async function contestants(): Promise<Contestant[]> {
  const wirings: [string, (path: Path) => LimiterLike][] = [];
  for (const [i, [name, wire]] of WIRINGS.entries()) {
    // One copy of the code per wiring, shared by its two loops (consume and consumeSync), as in an application.
    const m = await load(copyOf(`w${i}`));
    wirings.push([name, (path) => wire(m, path)]);
  }
  const baseline = process.env.FLOODGATE_BASELINE;
  if (baseline) {
    const mod = (await import(pathToFileURL(baseline).href)) as Floodgate;
    wirings.unshift([
      "baseline checkout, no listener",
      (path) =>
        new mod.RateLimiter({ policy: mod.tokenBucket({ name: "api", ...(path === "denied" ? DENIED : ALLOWED) }) }),
    ]);
  }
  const out: Contestant[] = [];
  for (const [name, wire] of wirings) {
    out.push({ name: `${name}, consume`, sync: false, make: (keys, path) => asyncLoop(wire(path), keys) });
    out.push({ name: `${name}, consumeSync`, sync: true, make: (keys, path) => syncLoop(wire(path), keys) });
  }
  return out;
}

/** timed runs n decisions and returns the CPU time they took (user + system, process.cpuUsage), in ms. */
async function timed(r: Runner, n: number): Promise<{ ms: number; allowed: number }> {
  const c0 = process.cpuUsage();
  const out = r.run(n);
  const allowed = typeof out === "number" ? out : await out;
  const c = process.cpuUsage(c0);
  return { ms: (c.user + c.system) / 1000, allowed };
}

async function scenario(path: Path): Promise<Record<string, number[]>> {
  const keys = Array.from({ length: KEYS }, (_, i) => keyName(i));
  const list = await contestants();
  const runners = list.map((c) => c.make(keys, path));
  for (const r of runners) await r.prepare();
  const want = (n: number): number => (path === "denied" ? 0 : n);
  const batch: number[] = [];
  for (let c = 0; c < runners.length; c++) {
    let n = 1000;
    let spentMs = 0;
    let rate = 0;
    while (spentMs < WARMUP_MS) {
      const { ms, allowed } = await timed(runners[c] as Runner, n);
      if (allowed !== want(n)) throw new Error(`${list[c]?.name}: ${allowed} of ${n} allowed on the ${path} path`);
      spentMs += ms;
      rate = n / Math.max(ms, 0.001);
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
      if (allowed !== want(n)) throw new Error(`${list[c]?.name}: ${allowed} of ${n} allowed on the ${path} path`);
      rates[(list[c] as Contestant).name]?.push((n / ms) * 1000);
    }
  }
  return rates;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  const childAt = process.argv.indexOf("--child");
  if (childAt >= 0) {
    const path = process.argv[childAt + 1] as Path;
    try {
      process.stdout.write(JSON.stringify(await scenario(path)));
    } finally {
      rmSync(COPIES, { recursive: true, force: true });
    }
    return;
  }
  const lines: string[] = [
    "# Metrics: what listening costs",
    "",
    `Made by \`bench/metrics.ts\` on ${new Date().toISOString().slice(0, 16)}Z, ${cpus().length} CPUs, Node ${process.version}, load average at start ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}.`,
    `Memory store, token bucket, ${KEYS.toLocaleString("en-US")} keys round robin; ${ROUNDS} interleaved rounds (CPU time); decisions/s is the median round, each % the median of the per-round ratios to "no listener" of the same call. Each wiring runs its own copy of the code (no shared JIT feedback); "no listener (second copy)" shows the run's noise.`,
    "",
  ];
  for (const path of ["allowed", "denied"] as const) {
    const r = spawnSync(process.execPath, [...process.execArgv, SELF, "--child", path], {
      encoding: "utf8",
      maxBuffer: 64 << 20,
      env: process.env,
    });
    if (r.status !== 0) throw new Error(`scenario ${path} failed:\n${r.stderr}`);
    const rates = JSON.parse(r.stdout) as Record<string, number[]>;
    lines.push(
      `## ${KEYS.toLocaleString("en-US")} keys, ${path}`,
      "",
      "| contestant | decisions/s | vs no listener |",
      "|---|---:|---:|",
    );
    for (const [name, xs] of Object.entries(rates)) {
      const ref = rates[name.endsWith("consumeSync") ? "no listener, consumeSync" : "no listener, consume"] as number[];
      const m = median(xs);
      const pct = ((median(xs.map((x, i) => x / (ref[i] as number))) - 1) * 100).toFixed(1);
      lines.push(`| ${name} | ${Math.round(m).toLocaleString("en-US")} | ${pct.startsWith("-") ? pct : `+${pct}`}% |`);
    }
    lines.push("");
    console.log(lines.slice(-3 - Object.keys(rates).length).join("\n"));
  }
  mkdirSync(join(HERE, "results"), { recursive: true });
  writeFileSync(join(HERE, "results", "metrics.md"), `${lines.join("\n")}\n`);
}

await main();

// Keep the global OpenTelemetry API untouched: the bench passes its own meter.
void otelMetrics;
