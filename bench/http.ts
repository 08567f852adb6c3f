// http.ts: hello-world HTTP throughput with and without floodgate, beside express-rate-limit and @fastify/rate-limit.
//
// Run: node --import tsx bench/http.ts          (writes bench/results/http.md)
//
// Each server variant runs in its own child process (bench/servers/http-server.ts);
// autocannon in this process drives it over loopback, pipelined as in Fastify's
// own benchmarks, so the server (not the client) is the bottleneck. Each variant
// is warmed up once; then, round after round, each framework's three variants
// (bare, floodgate, incumbent) run back to back for a short slice, in a rotating
// order. Ratios are taken within a round (so slow drift in background load
// cancels out) and the median over rounds is reported, with the median req/s.
// Nothing is denied: every limiter's limit is far above what a run can send.
// Bounded: about WARMUP_S x 6 + ROUNDS x 6 x SLICE_S seconds, under 2 minutes.

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
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
/** CONNECTIONS and PIPELINING are autocannon's settings (Fastify's benchmarks use 100 and 10). */
const CONNECTIONS = 100;
const PIPELINING = 10;

const VARIANTS = [
  "express",
  "express-floodgate",
  "express-rate-limit",
  "fastify",
  "fastify-floodgate",
  "fastify-rate-limit",
] as const;
type Variant = (typeof VARIANTS)[number];

interface Server {
  port: number;
  child: ChildProcess;
}

/** startServer starts a variant in a child process and waits for its port. */
function startServer(variant: Variant): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(HERE, "servers", "http-server.ts"), variant], {
      stdio: ["ignore", "pipe", "inherit"],
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
}) => Promise<AutocannonResult>;
// autocannon ships no types; a computed specifier keeps tsc from looking for them.
const AUTOCANNON = "autocannon";
const autocannon = ((await import(AUTOCANNON)) as { default: Autocannon }).default;

/** load runs autocannon against a port for `seconds` and returns requests per second (2xx only). */
async function load(port: number, seconds: number): Promise<{ rps: number; non2xx: number; p99: number }> {
  const r = await autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections: CONNECTIONS,
    pipelining: PIPELINING,
    duration: seconds,
  });
  return { rps: r["2xx"] / seconds, non2xx: r.non2xx + r.errors, p99: r.latency.p99 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadStart = loadavg()
    .map((x) => x.toFixed(2))
    .join(", ");
  const servers = new Map<Variant, Server>();
  try {
    for (const v of VARIANTS) servers.set(v, await startServer(v));
    const results = new Map<Variant, { rps: number[]; p99: number[]; non2xx: number }>();
    for (const v of VARIANTS) results.set(v, { rps: [], p99: [], non2xx: 0 });
    for (const v of VARIANTS) await load((servers.get(v) as Server).port, WARMUP_S);
    const groups: Variant[][] = [
      ["express", "express-floodgate", "express-rate-limit"],
      ["fastify", "fastify-floodgate", "fastify-rate-limit"],
    ];
    for (let round = 0; round < ROUNDS; round++) {
      for (const group of groups) {
        for (let i = 0; i < group.length; i++) {
          const v = group[(i + round) % group.length] as Variant;
          const r = await load((servers.get(v) as Server).port, SLICE_S);
          const acc = results.get(v) as { rps: number[]; p99: number[]; non2xx: number };
          acc.rps.push(r.rps);
          acc.p99.push(r.p99);
          acc.non2xx += r.non2xx;
          process.stderr.write(`round ${round + 1}/${ROUNDS} ${v}: ${Math.round(r.rps)} req/s\n`);
        }
      }
    }
    const rpsOf = (v: Variant): number[] => (results.get(v) as { rps: number[] }).rps;
    const rps = (v: Variant): number => median(rpsOf(v));
    /** ratio is the median over rounds of a/b measured in the same round. */
    const ratio = (a: Variant, b: Variant): number => median(rpsOf(a).map((x, i) => x / (rpsOf(b)[i] as number)));
    const rows = VARIANTS.map((v) => {
      const bare: Variant = v.startsWith("express") ? "express" : "fastify";
      const acc = results.get(v) as { rps: number[]; p99: number[]; non2xx: number };
      return `| ${v} | ${Math.round(rps(v))} | ${ratio(v, bare).toFixed(3)} | ${median(acc.p99)} | ${acc.rps
        .map((x) => Math.round(x))
        .join(", ")} | ${acc.non2xx} |`;
    });
    const cost = (fw: "express" | "fastify"): string => `${((1 - ratio(`${fw}-floodgate`, fw)) * 100).toFixed(1)}%`;
    const vsIncumbent = (fw: "express" | "fastify"): string =>
      ratio(`${fw}-floodgate`, fw === "express" ? "express-rate-limit" : "fastify-rate-limit").toFixed(3);
    const md = [
      "# HTTP benchmark: hello world with and without a rate limiter",
      "",
      "Command: `node --import tsx bench/http.ts`",
      "",
      `Machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}; load average at start ${loadStart}. ` +
        `autocannon (${CONNECTIONS} connections, pipelining ${PIPELINING}) in the bench process, each server in its own child process, over 127.0.0.1. ` +
        "Client and servers share the machine's cores.",
      "",
      `Method: each variant warmed up ${WARMUP_S} s, then ${ROUNDS} rounds; in each round each framework's three variants run ${SLICE_S} s each, back to back, in a rotating order. ` +
        "Ratios are per round (same background load), median over rounds; req/s is the median round. " +
        "Memory store, nothing denied (limits far above the load). floodgate: token bucket, RateLimit + RateLimit-Policy headers. " +
        "express-rate-limit: draft-8 headers, default memory store. @fastify/rate-limit: defaults (X-RateLimit-* headers).",
      "",
      "| variant | req/s (median) | ratio to bare framework (median of rounds) | p99 latency ms | req/s per round | non-2xx |",
      "|---|---:|---:|---:|---|---:|",
      ...rows,
      "",
      `floodgate costs ${cost("express")} of Express hello-world throughput and ${cost("fastify")} of Fastify's (target: at most 5%).`,
      `floodgate vs incumbent (median of per-round ratios): ${vsIncumbent("express")}x express-rate-limit, ${vsIncumbent("fastify")}x @fastify/rate-limit (target: at least 1).`,
      "",
      `Run took ${Math.round((Date.now() - started) / 1000)} s; load average at end ${loadavg()
        .map((x) => x.toFixed(2))
        .join(", ")}.`,
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
