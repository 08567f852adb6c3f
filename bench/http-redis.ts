// http-redis.ts: hello-world HTTP throughput with a Redis-backed rate limiter: floodgate's RedisStore
// beside rate-limiter-flexible, express-rate-limit + rate-limit-redis and @fastify/rate-limit.
//
// Run: node --import tsx bench/http-redis.ts     (writes bench/results/http-redis.md)
//      BENCH_ROUNDS=5 BENCH_SLICE_S=2 ... to change rounds and slice length.
//      BENCH_ONLY=express runs one framework's group and prints its table without writing the results file;
//      BENCH_CPU_PROF=<dir> starts every server with node --cpu-prof into <dir>/<variant> (one profile per
//      thread, written at exit; the largest is the main thread's, the others tsx's loader).
//
// Each server variant runs in its own child process (bench/servers/http-redis-server.ts); each
// limited variant has its own redis-server (started here on a free loopback port, no persistence),
// so the Redis CPU time each one causes can be read from its server's INFO. autocannon in this
// process drives one variant at a time, flat out (50 connections, no pipelining), for a short slice;
// within a round every variant of a framework runs back to back in a rotating order. A slice gives
// the wall-clock req/s and, from process.cpuUsage() of the server (over IPC) and INFO cpu of its
// redis-server around the slice, CPU microseconds per request of each. Ratios are taken within a
// round (same background load) and the median over rounds is shown.
//
// Two key modes: "one key" (every request carries x-client: c1) and "many keys" (10,000 values
// of x-client, round robin, each request built as it is sent). Nothing is denied.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { type RedisServer, startRedis } from "../test/helpers/redis-server.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const SLICE_S = Number(process.env.BENCH_SLICE_S ?? 2);
const WARMUP_S = 1;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;
const MANY = 10_000;

const GROUPS = {
  express: ["express", "express-floodgate", "express-rlf", "express-rate-limit"],
  fastify: ["fastify", "fastify-floodgate", "fastify-rate-limit"],
} as const;
type Framework = keyof typeof GROUPS;
type Variant = (typeof GROUPS)[Framework][number];
const ONLY = process.env.BENCH_ONLY;
const FRAMEWORKS = (Object.keys(GROUPS) as Framework[]).filter(
  (f) => ONLY === undefined || ONLY.split(",").includes(f),
);
const VARIANTS: Variant[] = FRAMEWORKS.flatMap((f) => [...GROUPS[f]]);
const CPU_PROF = process.env.BENCH_CPU_PROF;
const MODES = ["one", "many"] as const;
type Mode = (typeof MODES)[number];
const LABEL: Record<Variant, string> = {
  express: "Express, no limiter",
  "express-floodgate": "Express + floodgate RedisStore",
  "express-rlf": "Express + rate-limiter-flexible RateLimiterRedis",
  "express-rate-limit": "Express + express-rate-limit + rate-limit-redis",
  fastify: "Fastify, no limiter",
  "fastify-floodgate": "Fastify + floodgate RedisStore",
  "fastify-rate-limit": "Fastify + @fastify/rate-limit (redis)",
};

interface Server {
  port: number;
  child: ChildProcess;
  redis: Redis | undefined;
}

function startServer(variant: Variant, redisPort: number | undefined): Promise<Server> {
  return new Promise((resolve, reject) => {
    const prof = CPU_PROF === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${join(CPU_PROF, variant)}`];
    const child = spawn(
      process.execPath,
      [...prof, "--import", "tsx", join(HERE, "servers", "http-redis-server.ts"), variant],
      {
        stdio: ["ignore", "pipe", "inherit", "ipc"],
        env: { ...process.env, FG_REDIS_PORT: String(redisPort ?? 0) },
      },
    );
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
        resolve({
          port: Number(m[1]),
          child,
          redis: redisPort === undefined ? undefined : new Redis(redisPort, "127.0.0.1"),
        });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${variant} exited with ${code}`));
    });
  });
}

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

/** redisCpuMicros reads a redis-server's used_cpu_user + used_cpu_sys (µs); 0 without one. */
async function redisCpuMicros(s: Server): Promise<number> {
  if (s.redis === undefined) return 0;
  const info = await s.redis.info("cpu");
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
  return (user + sys) * 1e6;
}

interface AutocannonResult {
  "2xx": number;
  non2xx: number;
  errors: number;
  latency: { p99: number };
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
const AUTOCANNON = "autocannon";
const autocannon = ((await import(AUTOCANNON)) as { default: Autocannon }).default;

/** Request is one autocannon request template; setupRequest (many keys) gives each request the next key. */
interface Request {
  method: string;
  path: string;
  headers: Record<string, string>;
  setupRequest?: (r: Request) => Request;
}
let nextClient = 0;
// Many keys: one template whose setupRequest takes the next of MANY keys (shared by every
// connection), so autocannon builds one request per request sent, not MANY per connection.
const REQUESTS: Record<Mode, Request[]> = {
  one: [{ method: "GET", path: "/", headers: { "x-client": "c1" } }],
  many: [
    {
      method: "GET",
      path: "/",
      headers: { "x-client": "c0" },
      setupRequest: (r) => {
        nextClient = nextClient === MANY - 1 ? 0 : nextClient + 1;
        return { ...r, headers: { "x-client": `c${nextClient}` } };
      },
    },
  ],
};

interface Slice {
  rps: number;
  serverUs: number;
  redisUs: number;
  p99: number;
  bad: number;
}

async function load(s: Server, mode: Mode, seconds: number): Promise<Slice> {
  const cpu0 = await cpuMicros(s);
  const r0 = await redisCpuMicros(s);
  const r = await autocannon({
    url: `http://127.0.0.1:${s.port}`,
    connections: CONNECTIONS,
    pipelining: 1,
    duration: seconds,
    requests: REQUESTS[mode],
  });
  const cpu1 = await cpuMicros(s);
  const r1 = await redisCpuMicros(s);
  const served = r["2xx"] + r.non2xx;
  return {
    rps: r["2xx"] / seconds,
    serverUs: served > 0 ? (cpu1 - cpu0) / served : Number.NaN,
    redisUs: served > 0 ? (r1 - r0) / served : Number.NaN,
    p99: r.latency.p99,
    bad: r.non2xx + r.errors,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const loadAverage = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(", ");

async function main(): Promise<void> {
  const started = Date.now();
  const loadStart = loadAverage();
  const redisServers: RedisServer[] = [];
  const servers = new Map<Variant, Server>();
  try {
    for (const v of VARIANTS) {
      let port: number | undefined;
      if (v !== "express" && v !== "fastify") {
        const r = await startRedis();
        redisServers.push(r);
        port = r.port;
      }
      servers.set(v, await startServer(v, port));
    }
    const version = (await [...servers.values()].find((s) => s.redis !== undefined)?.redis?.info("server"))?.match(
      /redis_version:(\S+)/,
    )?.[1];
    const server = (v: Variant): Server => servers.get(v) as Server;
    const slices = new Map<string, Slice[]>();
    const id = (v: Variant, m: Mode): string => `${v}/${m}`;
    for (const v of VARIANTS) for (const m of MODES) slices.set(id(v, m), []);
    for (const v of VARIANTS) for (const m of MODES) await load(server(v), m, WARMUP_S);
    for (let round = 0; round < ROUNDS; round++) {
      for (const f of FRAMEWORKS) {
        const group = GROUPS[f] as readonly Variant[];
        for (const m of MODES) {
          for (let i = 0; i < group.length; i++) {
            const v = group[(i + round) % group.length] as Variant;
            const s = await load(server(v), m, SLICE_S);
            (slices.get(id(v, m)) as Slice[]).push(s);
            process.stderr.write(
              `round ${round + 1}/${ROUNDS} ${v} ${m}: ${Math.round(s.rps)} req/s, server ${s.serverUs.toFixed(1)} µs/req, redis ${s.redisUs.toFixed(1)} µs/req\n`,
            );
          }
        }
      }
    }
    const of = (v: Variant, m: Mode): Slice[] => slices.get(id(v, m)) as Slice[];
    const bareOf = (v: Variant): Variant => (v.startsWith("express") ? "express" : "fastify");
    /** ratio is the median over rounds of f(a)/f(b), both from the same round. */
    const ratio = (a: Variant, b: Variant, m: Mode, f: (s: Slice) => number): number =>
      median(of(a, m).map((s, i) => f(s) / f(of(b, m)[i] as Slice)));
    const rps = (s: Slice): number => s.rps;
    const capacity = (s: Slice): number => 1 / s.serverUs;
    const capacityAll = (s: Slice): number => 1 / (s.serverUs + s.redisUs);
    const rows: string[] = [];
    for (const v of VARIANTS) {
      for (const m of MODES) {
        const xs = of(v, m);
        rows.push(
          `| ${LABEL[v]} | ${m === "one" ? "one" : "10,000"} | ${Math.round(median(xs.map(rps)))} | ${ratio(v, bareOf(v), m, rps).toFixed(3)} | ${median(xs.map((s) => s.serverUs)).toFixed(1)} | ${median(xs.map((s) => s.redisUs)).toFixed(1)} | ${ratio(v, bareOf(v), m, capacity).toFixed(3)} | ${ratio(v, bareOf(v), m, capacityAll).toFixed(3)} | ${median(xs.map((s) => s.p99))} | ${xs.reduce((n, s) => n + s.bad, 0)} |`,
        );
      }
    }
    const versus: string[] = [];
    for (const f of FRAMEWORKS) {
      const fg = `${f}-floodgate` as Variant;
      for (const peer of (GROUPS[f] as readonly Variant[]).filter((v) => v !== f && v !== fg)) {
        for (const m of MODES) {
          // Kept over kept is floodgate's req/s over the peer's, both from the same round.
          const w = ratio(fg, peer, m, rps);
          const c = ratio(fg, peer, m, capacity);
          const a = ratio(fg, peer, m, capacityAll);
          versus.push(
            `| ${LABEL[fg]} / ${LABEL[peer]} | ${m === "one" ? "one" : "10,000"} | ${w.toFixed(2)}x | ${c.toFixed(2)}x | ${a.toFixed(2)}x | ${w >= 1.2 ? "met" : "missed"} |`,
          );
        }
      }
    }
    const md = [
      "# HTTP benchmark with a Redis store: hello world behind a Redis-backed rate limiter",
      "",
      "Command: `node --import tsx bench/http-redis.ts`",
      "",
      `Machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, redis-server ${version ?? "?"}. ` +
        `Load average at start ${loadStart}, at end ${loadAverage()} (other work shared the machine). ` +
        "autocannon in the bench process, each HTTP server in its own child process, each limited server with its own redis-server (no persistence, loopback), all on the same 2 cores.",
      "",
      `Method: each variant warmed up ${WARMUP_S} s per key mode, then ${ROUNDS} rounds; in each round, per framework and key mode, every variant runs flat out ` +
        `(${CONNECTIONS} connections, no pipelining) for ${SLICE_S} s, back to back in a rotating order. A slice gives req/s (wall clock), the HTTP server's CPU µs per request (process.cpuUsage(), user + system) and its redis-server's (INFO cpu, used_cpu_user + used_cpu_sys). ` +
        "*Kept* is a variant's figure over the bare framework's in the same round, median over rounds: req/s kept (wall clock), server capacity kept (inverse server CPU per request) and capacity kept counting Redis too (inverse of server + Redis CPU per request; on one machine both share the cores). " +
        "Each limiter keys by the x-client request header: one value (one key) or 10,000 values round robin (many keys; autocannon builds each request as it sends it, the same client cost for every variant), and its limit is far above the load (nothing denied). " +
        "floodgate: tokenBucket, RedisStore defaults (batching, timeout, deny cache), RateLimit + RateLimit-Policy headers. rate-limiter-flexible: RateLimiterRedis in its documented middleware (consume then next(); it sends no headers). " +
        "express-rate-limit: draft-8 headers, rate-limit-redis store over ioredis call(). @fastify/rate-limit: its Redis store (defineCommand Lua), default X-RateLimit-* headers. Every library has its own ioredis connection with default settings.",
      "",
      "| variant | keys | req/s (median) | req/s kept | server CPU µs/req | Redis CPU µs/req | server capacity kept | capacity kept with Redis | p99 ms | non-2xx + errors |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...rows,
      "",
      "floodgate against each peer (median over rounds of the same-round ratio; target: req/s at least 1.2x):",
      "",
      "| ratio | keys | req/s | server capacity | capacity with Redis | req/s target 1.2x |",
      "|---|---|---:|---:|---:|---|",
      ...versus,
      "",
      "Per round, req/s (server µs/req + Redis µs/req):",
      "",
      ...VARIANTS.flatMap((v) =>
        MODES.map(
          (m) =>
            `- ${v}, ${m}: ${of(v, m)
              .map((s) => `${Math.round(s.rps)} (${s.serverUs.toFixed(1)} + ${s.redisUs.toFixed(1)})`)
              .join(", ")}`,
        ),
      ),
      "",
      `Run took ${Math.round((Date.now() - started) / 1000)} s.`,
      "",
    ].join("\n");
    process.stdout.write(md);
    if (ONLY !== undefined) return;
    mkdirSync(join(HERE, "results"), { recursive: true });
    writeFileSync(join(HERE, "results", "http-redis.md"), md);
  } finally {
    for (const s of servers.values()) {
      s.redis?.disconnect();
      s.child.kill("SIGTERM");
    }
    for (const r of redisServers) await r.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
