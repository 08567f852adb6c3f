// http.ts: hello-world HTTP throughput with and without floodgate, beside express-rate-limit and @fastify/rate-limit.
//
// Run: node --import tsx bench/http.ts          (writes bench/results/http.md)
//
// Each server variant runs in its own child process (bench/servers/http-server.ts);
// autocannon in this process drives it over loopback. Each variant is warmed up
// once; then, round after round, for each framework:
//
// - flat out: the three variants (bare, floodgate, incumbent) run back to back
//   for a short slice each, in a rotating order, pipelined as in Fastify's own
//   benchmarks: wall-clock requests per second;
// - fixed load: the three get the same modest request rate at the same time, so
//   they see the same background load, and each server's own CPU time per
//   request is read (process.cpuUsage() over IPC, around the slice). Its inverse
//   is the server's capacity on one core.
//
// Ratios are taken within a round and the median over rounds is reported. On a
// machine shared with other work, wall-clock req/s swings with the neighbours'
// load; CPU per request is the steadier measure of what floodgate adds.
// Nothing is denied: every limiter's limit is far above what a run can send.
// Bounded: about WARMUP_S x 6 + ROUNDS x (6 + 2) x SLICE_S seconds, under 2 minutes.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
/** SLICE_S is the measured seconds of one slice of one variant. */
const SLICE_S = Number(process.env.BENCH_SLICE_S ?? 2);
/** WARMUP_S is the unmeasured load each variant gets once, before the rounds (JIT, connections). */
const WARMUP_S = 2;
/** ROUNDS is how many interleaved rounds run; medians over rounds are reported. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
/** CONNECTIONS and PIPELINING are autocannon's settings (Fastify's benchmarks use 100 and 10). */
const CONNECTIONS = 100;
const PIPELINING = 10;
/** RATE_CONNECTIONS and RATES: the fixed offered load (req/s) at which server CPU per request is measured. */
const RATE_CONNECTIONS = 10;
const RATES = { express: 1500, fastify: 3000 } as const;
/** SEQUENTIAL (BENCH_FIXED=sequential) gives the fixed load to one server at a time instead of to all at once. */
const SEQUENTIAL = process.env.BENCH_FIXED === "sequential";

const VARIANTS = [
  "express",
  "express-floodgate",
  "express-rate-limit",
  "express-headers",
  "fastify",
  "fastify-floodgate",
  "fastify-rate-limit",
  "fastify-headers",
] as const;
type Variant = (typeof VARIANTS)[number];
/** GROUPS run flat out, back to back; FIXED_GROUPS get the fixed load together (with the headers-only calibration). */
const GROUPS: Variant[][] = [
  ["express", "express-floodgate", "express-rate-limit"],
  ["fastify", "fastify-floodgate", "fastify-rate-limit"],
];
const FIXED_GROUPS: Variant[][] = [
  ["express", "express-floodgate", "express-rate-limit", "express-headers"],
  ["fastify", "fastify-floodgate", "fastify-rate-limit", "fastify-headers"],
];

interface Server {
  port: number;
  child: ChildProcess;
}

/** startServer starts a variant in a child process (with an IPC channel) and waits for its port. */
function startServer(variant: Variant): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(HERE, "servers", "http-server.ts"), variant], {
      stdio: ["ignore", "pipe", "inherit", "ipc"],
    });
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${variant} did not start within 30 s`));
    }, 30_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${variant} exited with ${code}`));
    });
  });
}

/** cpuMicros asks a server for its CPU time so far (user + system), in microseconds. */
function cpuMicros(s: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no cpu answer within 5 s")), 5000);
    s.child.once("message", (m) => {
      clearTimeout(timer);
      const u = m as { user: number; system: number };
      resolve(u.user + u.system);
    });
    s.child.send("cpu");
  });
}

/** AutocannonResult is the part of autocannon's result this bench reads. */
interface AutocannonResult {
  "2xx": number;
  non2xx: number;
  errors: number;
  latency: { p99: number };
}
type Autocannon = (options: {
  url: string;
  connections: number;
  pipelining: number;
  duration: number;
  overallRate?: number;
}) => Promise<AutocannonResult>;
// autocannon ships no types; a computed specifier keeps tsc from looking for them.
const AUTOCANNON = "autocannon";
const autocannon = ((await import(AUTOCANNON)) as { default: Autocannon }).default;

/** Slice is one measured slice of one variant. */
interface Slice {
  rps: number;
  cpuPerRequestUs: number;
  p99: number;
  non2xx: number;
}

/**
 * load runs autocannon against a server for `seconds` and measures it: flat out
 * (pipelined), or at a fixed offered `rate` in requests per second.
 */
async function load(s: Server, seconds: number, rate?: number): Promise<Slice> {
  const cpuBefore = await cpuMicros(s);
  const r = await autocannon({
    url: `http://127.0.0.1:${s.port}/`,
    ...(rate === undefined
      ? { connections: CONNECTIONS, pipelining: PIPELINING }
      : { connections: RATE_CONNECTIONS, pipelining: 1, overallRate: rate }),
    duration: seconds,
  });
  const cpuAfter = await cpuMicros(s);
  const served = r["2xx"] + r.non2xx;
  return {
    rps: r["2xx"] / seconds,
    cpuPerRequestUs: served > 0 ? (cpuAfter - cpuBefore) / served : Number.NaN,
    p99: r.latency.p99,
    non2xx: r.non2xx + r.errors,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function loadAverage(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(", ");
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadStart = loadAverage();
  const servers = new Map<Variant, Server>();
  try {
    for (const v of VARIANTS) servers.set(v, await startServer(v));
    const server = (v: Variant): Server => servers.get(v) as Server;
    const slices = new Map<Variant, Slice[]>(VARIANTS.map((v) => [v, []]));
    const rated = new Map<Variant, Slice[]>(VARIANTS.map((v) => [v, []]));
    for (const v of VARIANTS) await load(server(v), WARMUP_S);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [g, group] of GROUPS.entries()) {
        const rate = RATES[group[0] as "express" | "fastify"];
        for (let i = 0; i < group.length; i++) {
          const v = group[(i + round) % group.length] as Variant;
          const s = await load(server(v), SLICE_S);
          (slices.get(v) as Slice[]).push(s);
          process.stderr.write(`round ${round + 1}/${ROUNDS} ${v}: flat out ${Math.round(s.rps)} req/s\n`);
        }
        // The fixed load goes to the group's servers at once, so all of them see the
        // same background load at the same time; or, with BENCH_FIXED=sequential, to
        // one server at a time in a rotating order, so that on a quiet machine they do
        // not compete with each other for the 2 cores (see bench/results/http-where.md).
        const fixedGroup = FIXED_GROUPS[g] as Variant[];
        let fixed: Slice[];
        if (SEQUENTIAL) {
          const got = new Map<Variant, Slice>();
          for (let i = 0; i < fixedGroup.length; i++) {
            const v = fixedGroup[(i + round) % fixedGroup.length] as Variant;
            got.set(v, await load(server(v), SLICE_S, rate));
          }
          fixed = fixedGroup.map((v) => got.get(v) as Slice);
        } else {
          fixed = await Promise.all(fixedGroup.map((v) => load(server(v), SLICE_S, rate)));
        }
        fixedGroup.forEach((v, i) => {
          const f = fixed[i] as Slice;
          (rated.get(v) as Slice[]).push(f);
          process.stderr.write(
            `round ${round + 1}/${ROUNDS} ${v}: at ${rate} req/s ${f.cpuPerRequestUs.toFixed(1)} µs CPU/request\n`,
          );
        });
      }
    }
    const of = (v: Variant): Slice[] => slices.get(v) as Slice[];
    const ofRated = (v: Variant): Slice[] => rated.get(v) as Slice[];
    const medianOf = (v: Variant, f: (s: Slice) => number): number => median(of(v).map(f));
    /** ratio is the median over rounds of f(a)/f(b), both measured in the same round. */
    const ratio = (a: Variant, b: Variant, f: (s: Slice) => number): number =>
      median(of(a).map((s, i) => f(s) / f(of(b)[i] as Slice)));
    const capacity = (s: Slice): number => 1 / s.cpuPerRequestUs;
    /** cpuRatio is the median over rounds of a's CPU per request at the fixed rate over b's, same round. */
    const cpuRatio = (a: Variant, b: Variant): number =>
      median(ofRated(a).map((s, i) => s.cpuPerRequestUs / (ofRated(b)[i] as Slice).cpuPerRequestUs));
    const rps = (s: Slice): number => s.rps;
    const bareOf = (v: Variant): Variant => (v.startsWith("express") ? "express" : "fastify");
    const fw = (v: Variant): "express" | "fastify" => (v.startsWith("express") ? "express" : "fastify");
    const rows = VARIANTS.map((v) => {
      const cpu = median(ofRated(v).map((s) => s.cpuPerRequestUs));
      const flat = of(v).length > 0;
      return [
        v,
        flat ? Math.round(medianOf(v, rps)) : "-",
        flat ? ratio(v, bareOf(v), rps).toFixed(3) : "-",
        cpu.toFixed(1),
        (1 / cpuRatio(v, bareOf(v))).toFixed(3),
        flat ? medianOf(v, (s) => s.p99) : "-",
        [...of(v), ...ofRated(v)].reduce((n, s) => n + s.non2xx, 0),
      ].join(" | ");
    });
    const incumbent = (f: "express" | "fastify"): Variant =>
      f === "express" ? "express-rate-limit" : "fastify-rate-limit";
    const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
    const line = (f: "express" | "fastify"): string => {
      const fg: Variant = `${f}-floodgate`;
      const wallCost = 1 - ratio(fg, f, rps);
      const cpuCost = 1 - 1 / cpuRatio(fg, f);
      const vsWall = ratio(fg, incumbent(f), rps);
      const vsCpu = 1 / cpuRatio(fg, incumbent(f));
      const headersCost = 1 - 1 / cpuRatio(`${f}-headers`, f);
      return (
        `- ${f === "express" ? "Express" : "Fastify"}: sending the two header fields alone (constants) costs ${pct(headersCost)} of capacity. floodgate costs ${pct(wallCost)} of flat-out throughput and ${pct(cpuCost)} of capacity ` +
        `(target: at most 5%: ${Math.max(wallCost, cpuCost) <= 0.05 ? "met" : "missed"}); against ${incumbent(f)}: ` +
        `${vsWall.toFixed(3)}x throughput, ${vsCpu.toFixed(3)}x capacity (target: at least 1: ${Math.min(vsWall, vsCpu) >= 1 ? "met" : "missed"}).`
      );
    };
    void capacity;
    void fw;
    const md = [
      "# HTTP benchmark: hello world with and without a rate limiter",
      "",
      "Command: `node --import tsx bench/http.ts`",
      "",
      `Machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}. ` +
        `Load average at start ${loadStart}, at end ${loadAverage()} (other work shared the machine). ` +
        "autocannon in the bench process, each server in its own child process, over 127.0.0.1.",
      "",
      `Method: each variant warmed up ${WARMUP_S} s, then ${ROUNDS} rounds. In each round each framework's three variants run **flat out** ` +
        `(${CONNECTIONS} connections, pipelining ${PIPELINING}) for ${SLICE_S} s each, back to back in a rotating order, for throughput; then the three and the \`-headers\` calibration get a **fixed offered load** ` +
        `${SEQUENTIAL ? "one server at a time, in a rotating order" : "at the same time"}, for ${SLICE_S} s (${RATE_CONNECTIONS} connections and ${RATES.express} req/s each for Express, ${RATES.fastify} req/s each for Fastify), for the server's CPU time per request ` +
        "(process.cpuUsage() of the server process around the slice, user + system). Ratios are taken within a round (same background load) and the median over rounds is shown. " +
        "*Capacity* vs bare is the inverse ratio of CPU per request: the share of the bare framework's requests one core still serves. " +
        "The `-headers` variants set the same two RateLimit fields as constants and do nothing else (fixed load only): the part of the cost that is sending the fields, not deciding them. " +
        "Flat out, the client (autocannon on the same 2 cores) is often the bottleneck and pays for every extra response byte, so throughput also measures header size; " +
        "CPU per request at a fixed load measures what the server itself spends. " +
        "Memory store, nothing denied (limits far above the load). floodgate: token bucket, RateLimit + RateLimit-Policy headers. " +
        "express-rate-limit: draft-8 headers, default memory store. @fastify/rate-limit: defaults (X-RateLimit-* headers).",
      "",
      "| variant | flat-out req/s (median) | vs bare | server CPU µs/request at fixed load | capacity vs bare | p99 ms (flat out) | non-2xx |",
      "|---|---:|---:|---:|---:|---:|---:|",
      ...rows.map((r) => `| ${r} |`),
      "",
      line("express"),
      line("fastify"),
      "",
      "Per round, flat-out req/s and (CPU µs/request at the fixed load):",
      "",
      ...VARIANTS.map(
        (v) =>
          `- ${v}: ${ofRated(v)
            .map((f, i) => `${of(v)[i] ? Math.round((of(v)[i] as Slice).rps) : "-"} (${f.cpuPerRequestUs.toFixed(1)})`)
            .join(", ")}`,
      ),
      "",
      `Run took ${Math.round((Date.now() - started) / 1000)} s.`,
      "",
    ].join("\n");
    process.stdout.write(md);
    mkdirSync(join(HERE, "results"), { recursive: true });
    writeFileSync(join(HERE, "results", "http.md"), md);
  } finally {
    for (const s of servers.values()) s.child.kill("SIGTERM");
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
