// connect-node.ts: server CPU time per ShouldRateLimit call, Connect's connect-node (v1, gRPC protocol over
// node:http2) against grpc-js, each as a bare echo and as floodgate serve's decision path (memory store).
//
// CPU time, not wall clock: the machine this was written on is shared and loaded, so throughput means little,
// but the CPU a server process spends per call does not depend much on what else runs. A grpc-js client in this
// process keeps CONCURRENCY calls in flight on one channel; each server is its own process, and its user + system
// CPU (from /proc/<pid>/stat) is read before and after CALLS calls. Variants rotate through ROUNDS rounds; the
// median per variant is reported. Needs the connect packages (see bench/servers/connect.ts), found through
// CONNECT_FROM, such as CONNECT_FROM=/tmp/connect-bench node --import tsx bench/connect-node.ts (Linux only).

import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as loader from "@grpc/proto-loader";
import { LOADER_OPTIONS } from "../src/service/grpc.js";
import { PROTO_JSON } from "../src/service/proto.generated.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..");
const CALLS = Number(process.env.CALLS ?? 20_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const TICK_US = 1_000_000 / 100; // USER_HZ is 100 on Linux

const dir = mkdtempSync(join(tmpdir(), "fg-connect-"));
const config = join(dir, "limits.yaml");
writeFileSync(
  config,
  "domain: shared\ndescriptors:\n  - key: user\n    rate_limit: { unit: hour, requests_per_unit: 1000000000 }\n",
);

interface Server {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly port: number;
}

/** start runs a server and resolves once it prints its port (stdout JSON, or serve's JSON log on stderr). */
function start(name: string, args: string[]): Promise<Server> {
  const proc = spawn(process.execPath, ["--import", "tsx", ...args], {
    cwd: ROOT,
    env: process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const read = (chunk: Buffer) => {
      out += chunk.toString("utf8");
      const m = /"(?:port|grpcPort)":(\d+)/.exec(out);
      if (m) resolve({ name, proc, port: Number(m[1]) });
    };
    proc.stdout?.on("data", read);
    proc.stderr?.on("data", read);
    proc.once("exit", (code) => reject(new Error(`${name} exited with ${code}: ${out}`)));
  });
}

/** cpuUs reads a process's user + system CPU time in microseconds. */
function cpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * TICK_US;
}

const def = loader.fromJSON(PROTO_JSON as never, LOADER_OPTIONS);
const pkg = grpc.loadPackageDefinition(def) as unknown as {
  envoy: { service: { ratelimit: { v3: { RateLimitService: grpc.ServiceClientConstructor } } } };
};

/** drive sends `n` calls keeping `c` in flight; it rejects on the first error. */
async function drive(port: number, n: number, c: number): Promise<void> {
  const client = new pkg.envoy.service.ratelimit.v3.RateLimitService(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  );
  let sent = 0;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      (client as unknown as Record<string, Function>).ShouldRateLimit!.call(
        client,
        { domain: "shared", descriptors: [{ entries: [{ key: "user", value: `u${i % 1000}` }] }] },
        (err: Error | null, reply: { overall_code: string }) =>
          err ? reject(err) : reply.overall_code === "OK" ? resolve() : reject(new Error(`got ${reply.overall_code}`)),
      );
    });
  const worker = async () => {
    while (sent < n) await one(sent++);
  };
  await Promise.all(Array.from({ length: c }, worker));
  client.close();
}

const servers = await Promise.all([
  start("grpc-js echo", ["bench/servers/echo.ts", "grpc"]),
  start("connect-node echo", ["bench/servers/connect.ts", "echo"]),
  start("grpc-js serve", [
    "src/cli/bin.ts",
    "serve",
    "--config",
    config,
    "--host",
    "127.0.0.1",
    "--grpc-port",
    "0",
    "--http-port",
    "off",
    "--no-watch",
  ]),
  start("connect-node serve", ["bench/servers/connect.ts", "serve", config]),
]);
const results = new Map<string, number[]>(servers.map((s) => [s.name, []]));
const load: number[] = [];
try {
  for (const s of servers) await drive(s.port, 2_000, CONCURRENCY); // warm up
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of servers) {
      const pid = s.proc.pid as number;
      const before = cpuUs(pid);
      await drive(s.port, CALLS, CONCURRENCY);
      (results.get(s.name) as number[]).push((cpuUs(pid) - before) / CALLS);
      load.push(loadavg()[0] as number);
    }
  }
} finally {
  for (const s of servers) s.proc.kill("SIGKILL");
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const med = new Map([...results].map(([k, v]) => [k, median(v)]));
const lines = [
  "# connect-node against grpc-js: server CPU per ShouldRateLimit call",
  "",
  `Generated by \`bench/connect-node.ts\` on ${new Date().toISOString()}: ${CALLS} calls per slice at concurrency`,
  `${CONCURRENCY} from one grpc-js client channel, ${ROUNDS} rounds, median; server user+system CPU from /proc (10 ms`,
  `ticks). Load average during the run: ${Math.min(...load).toFixed(1)}-${Math.max(...load).toFixed(1)}. @connectrpc/connect-node 1.7.0`,
  "(2.x needs Node >= 22) with @bufbuild/protobuf 1.10; grpc-js as in package-lock.json; Node",
  `${process.version}.`,
  "",
  "| server | CPU µs per call (median) | rounds |",
  "|---|---:|---|",
  ...[...results].map(([k, v]) => `| ${k} | ${median(v).toFixed(1)} | ${v.map((x) => x.toFixed(1)).join(", ")} |`),
  "",
  `connect-node / grpc-js: echo ${((med.get("connect-node echo") as number) / (med.get("grpc-js echo") as number)).toFixed(2)}x, serve ${((med.get("connect-node serve") as number) / (med.get("grpc-js serve") as number)).toFixed(2)}x the CPU per call (below 1: connect-node is cheaper).`,
  "",
];
mkdirSync(join(HERE, "results"), { recursive: true });
writeFileSync(join(HERE, "results", "connect-node.md"), lines.join("\n"));
process.stdout.write(lines.join("\n"));
