// service.ts: `floodgate serve` throughput and latency beside the bare transports on the same machine.
//
// Run: node --import tsx bench/service.ts      (writes bench/results/service.md; npm run bench -- service)
//
// gRPC: a grpc-js client in this process sends ShouldRateLimit at concurrency 1, 64 and 256 (one
// channel, N calls kept in flight) to (a) a bare grpc-js unary echo answering a fixed reply
// (bench/servers/echo.ts: the transport's ceiling), (b) floodgate serve with the memory store,
// (c) floodgate serve on a local redis-server, (d) the same with --workers 2. HTTP: autocannon posts /v1/decide at the same
// concurrencies to two bare node:http echoes that parse the body, `http echo` answering a small fixed JSON (the
// transport's floor) and `http echo (same bytes)` answering the service's own answer byte for byte (same header
// fields, same body: the floor for the same wire content), and to floodgate serve (memory).
// Every server is its own process. Slices rotate through the variants, round after round, so
// they see the same background load; the median over rounds is reported, and the ratio to the
// echo is taken within each round. Nothing is refused: the limit is far above what a run sends
// (1,000 distinct keys). The machine's load average is printed: on a shared machine, compare
// ratios, not absolute numbers. Server CPU per call is read from /proc (user + system time of the
// server process and its children, 10 ms ticks, over each slice; Linux only, else "n/a"): it
// grows less with contention than calls/s falls. Bounded: about ROUNDS x (12 + 9) x SLICE_S seconds.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as loader from "@grpc/proto-loader";
import { LOADER_OPTIONS } from "../src/service/grpc.js";
import { PROTO_JSON } from "../src/service/proto.generated.js";
import { startRedis } from "../test/helpers/redis-server.js";

/** Autocannon is the part of autocannon's API this bench uses (it ships no types). */
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  method: string;
  headers: Record<string, string>;
  body: string;
}) => Promise<{
  non2xx: number;
  errors: number;
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
}>;
// A computed specifier keeps tsc from looking for types.
const AUTOCANNON = "autocannon";
const autocannon = ((await import(AUTOCANNON)) as { default: Autocannon }).default;

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..");
const SLICE_S = Number(process.env.BENCH_SLICE_S ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = [1, 64, 256] as const;
const KEYS = 1000;

const CONFIG = `domain: bench
descriptors:
  - key: user
    rate_limit: { unit: hour, requests_per_unit: 1000000000000 }
`;

/** spawnServer starts a child process and resolves with the port it reports (JSON on stdout or stderr). */
function spawnServer(args: string[]): Promise<{ proc: ChildProcess; ports: Record<string, number> }> {
  const proc = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let out = "";
    const onData = (c: Buffer) => {
      out += c.toString("utf8");
      for (const line of out.split("\n")) {
        try {
          const o = JSON.parse(line) as Record<string, unknown>;
          if (typeof o.port === "number") resolve({ proc, ports: { grpc: o.port, http: o.port } });
          if (o.msg === "floodgate serve listening") {
            resolve({ proc, ports: { grpc: o.grpcPort as number, http: o.httpPort as number } });
          }
        } catch {
          // not a JSON line yet
        }
      }
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    proc.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}: ${out}`)));
  });
}

interface Sample {
  callsPerS: number;
  p50Ms: number;
  p99Ms: number;
  /** calls is how many calls the slice made (for CPU per call). */
  calls: number;
  /** cpuUsPerCall is the server's CPU time per call (NaN where /proc is missing). */
  cpuUsPerCall?: number;
}

/** cpuSeconds is the user + system CPU time of process `pid` and its descendants so far (NaN without /proc). */
function cpuSeconds(pid: number): number {
  if (!existsSync(`/proc/${pid}/stat`)) return Number.NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  let s = (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const kids = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
    for (const kid of kids === "" ? [] : kids.split(" ")) s += cpuSeconds(Number(kid));
  }
  return s;
}

/** measured runs a slice and adds the server's CPU time per call. */
async function measured(pid: number | undefined, slice: () => Promise<Sample>): Promise<Sample> {
  const c0 = pid === undefined ? Number.NaN : cpuSeconds(pid);
  const s = await slice();
  const c1 = pid === undefined ? Number.NaN : cpuSeconds(pid);
  return { ...s, cpuUsPerCall: ((c1 - c0) * 1e6) / s.calls };
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** grpcSlice keeps `c` ShouldRateLimit calls in flight, spread over the channels, for SLICE_S seconds. */
async function grpcSlice(channels: grpc.Client[], c: number): Promise<Sample> {
  const lat: number[] = [];
  const endAt = performance.now() + SLICE_S * 1000;
  let i = 0;
  const one = (): Promise<void> =>
    new Promise((done, fail) => {
      const t0 = performance.now();
      const k = i++ % KEYS;
      const client = channels[i % channels.length] as grpc.Client;
      (client as unknown as { ShouldRateLimit: Function }).ShouldRateLimit(
        { domain: "bench", descriptors: [{ entries: [{ key: "user", value: `u${k}` }] }] },
        (err: Error | null, r: { overall_code: string }) => {
          if (err) return fail(err);
          if (r.overall_code !== "OK") return fail(new Error(`refused: ${JSON.stringify(r)}`));
          lat.push(performance.now() - t0);
          done();
        },
      );
    });
  const start = performance.now();
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (performance.now() < endAt) await one();
    }),
  );
  const s = Float64Array.from(lat).sort();
  return {
    callsPerS: lat.length / ((performance.now() - start) / 1000),
    p50Ms: quantile(s, 0.5),
    p99Ms: quantile(s, 0.99),
    calls: lat.length,
  };
}

/** httpSlice posts /v1/decide with autocannon at `c` connections for SLICE_S seconds. */
async function httpSlice(port: number, c: number): Promise<Sample> {
  const r = await autocannon({
    url: `http://127.0.0.1:${port}/v1/decide`,
    connections: c,
    duration: SLICE_S,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ domain: "bench", descriptors: [{ entries: [{ key: "user", value: "u1" }] }] }),
  });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`HTTP bench: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { callsPerS: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, calls: r.requests.total };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

async function main(): Promise<void> {
  mkdirSync(join(ROOT, ".tmp"), { recursive: true });
  const configFile = join(ROOT, ".tmp", "bench-service.yaml");
  writeFileSync(configFile, CONFIG);
  const redis = await startRedis();
  const serve = (extra: string[]) =>
    spawnServer([
      "src/cli/bin.ts",
      "serve",
      "--config",
      configFile,
      "--host",
      "127.0.0.1",
      "--grpc-port",
      "0",
      "--http-port",
      "0",
      "--no-watch",
      ...extra,
    ]);
  const servers = {
    "grpc echo": await spawnServer(["bench/servers/echo.ts", "grpc"]),
    "serve (memory)": await serve([]),
    "serve (redis)": await serve(["--redis", redis.url, "--redis-timeout-ms", "5000"]),
    "serve (redis, 2 workers)": await serve(["--redis", redis.url, "--redis-timeout-ms", "5000", "--workers", "2"]),
    "http echo": await spawnServer(["bench/servers/echo.ts", "http"]),
    "http echo (same bytes)": await spawnServer(["bench/servers/echo.ts", "http-same"]),
  };
  const def = loader.fromJSON(PROTO_JSON as never, LOADER_OPTIONS);
  const Rls = (
    grpc.loadPackageDefinition(def) as unknown as {
      envoy: { service: { ratelimit: { v3: { RateLimitService: grpc.ServiceClientConstructor } } } };
    }
  ).envoy.service.ratelimit.v3.RateLimitService;
  const grpcVariants = ["grpc echo", "serve (memory)", "serve (redis)", "serve (redis, 2 workers)"] as const;
  const httpVariants = ["http echo", "http echo (same bytes)", "serve (memory)"] as const;
  // CHANNELS connections per server (node:cluster deals connections, not calls, to workers).
  const CHANNELS = 4;
  const clients = Object.fromEntries(
    grpcVariants.map((v) => [
      v,
      Array.from(
        { length: CHANNELS },
        (_, i) =>
          new Rls(`127.0.0.1:${servers[v].ports.grpc}`, grpc.credentials.createInsecure(), {
            "grpc.channel_id": i, // distinct options: a channel of its own, not a shared subchannel
          } as grpc.ChannelOptions),
      ),
    ]),
  ) as unknown as Record<(typeof grpcVariants)[number], grpc.Client[]>;
  const load0 = loadavg()[0] as number;
  // Warm-up: JIT, connections, Redis scripts.
  for (const v of grpcVariants) await grpcSlice(clients[v], 64);
  for (const v of httpVariants) await httpSlice(servers[v].ports.http as number, 64);
  const grpcRes = new Map<string, Sample[]>();
  const httpRes = new Map<string, Sample[]>();
  const ratios = new Map<string, number[]>();
  const add = <T>(m: Map<string, T[]>, k: string, v: T) => m.set(k, [...(m.get(k) ?? []), v]);
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of CONCURRENCY) {
      const r = round % grpcVariants.length;
      const order = [...grpcVariants.slice(r), ...grpcVariants.slice(0, r)];
      const got: Record<string, Sample> = {};
      for (const v of order) got[v] = await measured(servers[v].proc.pid, () => grpcSlice(clients[v], c));
      for (const v of grpcVariants) {
        add(grpcRes, `${v}|${c}`, got[v] as Sample);
        add(ratios, `grpc|${v}|${c}`, (got[v] as Sample).callsPerS / (got["grpc echo"] as Sample).callsPerS);
      }
      const hgot: Record<string, Sample> = {};
      const hr = round % httpVariants.length;
      for (const v of [...httpVariants.slice(hr), ...httpVariants.slice(0, hr)]) {
        hgot[v] = await measured(servers[v].proc.pid, () => httpSlice(servers[v].ports.http as number, c));
      }
      for (const v of httpVariants) {
        add(httpRes, `${v}|${c}`, hgot[v] as Sample);
        add(ratios, `http|${v}|${c}`, (hgot[v] as Sample).callsPerS / (hgot["http echo"] as Sample).callsPerS);
        add(
          ratios,
          `http-same|${v}|${c}`,
          (hgot[v] as Sample).callsPerS / (hgot["http echo (same bytes)"] as Sample).callsPerS,
        );
      }
      process.stderr.write(`round ${round + 1}/${ROUNDS} concurrency ${c} done\n`);
    }
  }
  const cpuCell = (xs: Sample[]) => {
    const us = median(xs.map((x) => x.cpuUsPerCall ?? Number.NaN));
    return Number.isFinite(us) ? us.toFixed(0) : "n/a";
  };
  const row = (kind: string, m: Map<string, Sample[]>, v: string, c: number) => {
    const xs = m.get(`${v}|${c}`) ?? [];
    const ratio = median(ratios.get(`${kind}|${v}|${c}`) ?? []);
    const same = kind === "http" ? ` ${median(ratios.get(`http-same|${v}|${c}`) ?? []).toFixed(2)}x |` : "";
    return `| ${v} | ${c} | ${Math.round(median(xs.map((x) => x.callsPerS))).toLocaleString("en-US")} | ${median(xs.map((x) => x.p50Ms)).toFixed(2)} | ${median(xs.map((x) => x.p99Ms)).toFixed(2)} | ${cpuCell(xs)} | ${ratio.toFixed(2)}x |${same}`;
  };
  const head =
    "| server | concurrency | calls/s | p50 ms | p99 ms | server CPU µs/call | vs echo |\n|---|---|---|---|---|---|---|";
  const httpHead =
    "| server | concurrency | calls/s | p50 ms | p99 ms | server CPU µs/call | vs echo | vs echo (same bytes) |\n|---|---|---|---|---|---|---|---|";
  const md = `# floodgate serve

${cpus().length} CPUs, Node ${process.version}; load average at start ${load0.toFixed(1)}, at end ${(loadavg()[0] as number).toFixed(1)}.
Each server is one process (the workers variant: a primary and 2 workers on one Redis); the load
generator is this process, over 4 channels per server. ${ROUNDS} rounds of ${SLICE_S} s slices, medians;
"vs echo" is the median of per-round ratios to the bare transport; for HTTP, "vs echo (same bytes)" is the
same against the echo that answers the service's own bytes. Server CPU per call: median over rounds, from /proc.

## gRPC: ShouldRateLimit (one descriptor, 1,000 keys)

${head}
${CONCURRENCY.flatMap((c) => grpcVariants.map((v) => row("grpc", grpcRes, v, c))).join("\n")}

## HTTP: POST /v1/decide (autocannon, connections = concurrency)

${httpHead}
${CONCURRENCY.flatMap((c) => httpVariants.map((v) => row("http", httpRes, v, c))).join("\n")}
`;
  mkdirSync(join(HERE, "results"), { recursive: true });
  writeFileSync(join(HERE, "results", "service.md"), md);
  process.stdout.write(md);
  for (const cs of Object.values(clients)) for (const c of cs) c.close();
  for (const s of Object.values(servers)) s.proc.kill("SIGTERM");
  await redis.stop();
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
