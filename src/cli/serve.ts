// serve.ts: `floodgate serve`: the rate limit service (Envoy RLS v3 over gRPC, JSON over HTTP); every flag is
// also an environment variable (FLOODGATE_ and the flag's name in capitals, dashes as underscores).

import cluster from "node:cluster";
import { FloodgateTypeError } from "../core/errors.js";
import { jsonLog, loadAll, type ServeOptions, startService } from "../service/serve.js";
import { type FlagSpec, type Flags, helpText, parseFlags } from "./args.js";
import type { Io } from "./main.js";

const FLAGS: Record<string, FlagSpec> = {
  config: {
    type: "string",
    multiple: true,
    value: "PATH",
    help: "the limits: an envoyproxy/ratelimit YAML file, a floodgate policy file (.json, or\nYAML with policies:), or a directory of them (repeat for more)",
  },
  "grpc-port": { type: "string", value: "PORT", help: "Envoy RLS v3 gRPC port (default 8081; off: no gRPC)" },
  "http-port": { type: "string", value: "PORT", help: "HTTP JSON API port (default 8080; off: no HTTP)" },
  host: { type: "string", value: "ADDR", help: "address to listen on (default 0.0.0.0)" },
  redis: { type: "string", value: "URL", help: "share the limits in Redis: redis://host:6379 (default: memory)" },
  "redis-cluster": { type: "string", value: "SEEDS", help: "share the limits in a Redis Cluster: host:port,host:port" },
  "on-failure": { type: "string", value: "POLICY", help: "when Redis fails: fail-open (default) or fail-closed" },
  "redis-timeout-ms": {
    type: "string",
    value: "MS",
    help: "bound on every Redis call; past it --on-failure decides (default 500)",
  },
  token: { type: "string", multiple: true, value: "TOKEN", help: "require Authorization: Bearer TOKEN to decide" },
  "admin-token": {
    type: "string",
    multiple: true,
    value: "TOKEN",
    help: "enable refund, reset and reload for callers with this bearer token (off without)",
  },
  "admin-port": {
    type: "string",
    value: "PORT",
    help: "a separate admin address (refund, reset, reload, top offenders) where the address\nis the credential: no token asked unless --admin-token is set (default off)",
  },
  "admin-host": {
    type: "string",
    value: "ADDR",
    help: "the admin address's interface (default 127.0.0.1: loopback only)",
  },
  "top-offenders": {
    type: "string",
    value: "K",
    help: "most-refused keys each rule remembers for GET /v1/admin/top (default 20; 0: none)",
  },
  "tls-cert": { type: "string", value: "FILE", help: "TLS certificate (PEM) for both APIs" },
  "tls-key": { type: "string", value: "FILE", help: "TLS private key (PEM)" },
  "max-body-bytes": { type: "string", value: "N", help: "largest HTTP body or gRPC message (default 65536)" },
  "max-descriptors": { type: "string", value: "N", help: "most descriptors per request (default 64)" },
  "grace-ms": { type: "string", value: "MS", help: "how long SIGTERM waits for calls in flight (default 10000)" },
  workers: {
    type: "string",
    value: "N",
    help: "run N worker processes (node:cluster) sharing the ports; needs --redis or\n--redis-cluster, so they share the limits (default 1: this process)",
  },
  "no-watch": { type: "boolean", help: "do not reload when a configuration file changes (SIGHUP still does)" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

const USAGE = "usage: floodgate serve --config limits.yaml [--grpc-port 8081] [--http-port 8080] [--redis redis://...]";
const ABOUT = `Runs the rate limit service: Envoy's RateLimitService (envoy.service.ratelimit.v3) and
grpc.health.v1 over gRPC, and a JSON API over HTTP (POST /v1/decide, /v1/peek; admin
/v1/refund, /v1/reset, /v1/admin/reload, GET /v1/admin/top; GET /openapi.json, /healthz,
/readyz, /metrics).
Every flag is also an environment variable: FLOODGATE_GRPC_PORT, FLOODGATE_REDIS,
FLOODGATE_CONFIG (comma-separated), ... A flag wins over its variable.
SIGHUP reloads the configuration (a bad one keeps the running one); SIGTERM drains.`;

/** envName is the environment variable of a flag. */
export function envName(flag: string): string {
  return `FLOODGATE_${flag.toUpperCase().replace(/-/g, "_")}`;
}

/** withEnv fills flags not given from their environment variables. */
export function withEnv(flags: Flags, env: NodeJS.ProcessEnv): Flags {
  const out: Flags = { ...flags };
  for (const [name, spec] of Object.entries(FLAGS)) {
    if (name === "help" || out[name] !== undefined) continue;
    const v = env[envName(name)];
    if (v === undefined || v === "") continue;
    if (spec.type === "boolean") out[name] = /^(1|true|yes|on)$/i.test(v);
    else out[name] = spec.multiple ? v.split(",").map((s) => s.trim()) : v;
  }
  return out;
}

function intFlag(flags: Flags, name: string, min: number, max: number): number | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  if (min < 0 && v === "off") return -1;
  const n = Number(v);
  if (typeof v !== "string" || !/^-?\d+$/.test(v.trim()) || n < min || n > max) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate serve: --${name} (or ${envName(name)}) must be a whole number from ${Math.max(0, min)} to ${max}${min < 0 ? ' or "off"' : ""}, got ${JSON.stringify(v)}.`,
    );
  }
  return n;
}

/** serveOptions turns flags (after withEnv) into ServeOptions. */
export function serveOptions(flags: Flags): ServeOptions {
  const config = (flags.config as string[] | undefined) ?? [];
  if (config.length === 0) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate serve: --config (or ${envName("config")}) is required; pass --config limits.yaml.`,
    );
  }
  const onFailure = flags["on-failure"];
  if (onFailure !== undefined && onFailure !== "fail-open" && onFailure !== "fail-closed") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate serve: --on-failure must be fail-open or fail-closed, got ${JSON.stringify(onFailure)}.`,
    );
  }
  return {
    config,
    host: flags.host as string | undefined,
    grpcPort: intFlag(flags, "grpc-port", -1, 65535),
    httpPort: intFlag(flags, "http-port", -1, 65535),
    redis: flags.redis as string | undefined,
    redisCluster: flags["redis-cluster"] as string | undefined,
    onFailure: onFailure as ServeOptions["onFailure"],
    redisTimeoutMs: intFlag(flags, "redis-timeout-ms", 1, 600_000),
    tokens: (flags.token as string[] | undefined) ?? [],
    adminTokens: (flags["admin-token"] as string[] | undefined) ?? [],
    adminPort: intFlag(flags, "admin-port", -1, 65535),
    adminHost: flags["admin-host"] as string | undefined,
    topOffenders: intFlag(flags, "top-offenders", 0, 10_000),
    tlsCert: flags["tls-cert"] as string | undefined,
    tlsKey: flags["tls-key"] as string | undefined,
    maxBodyBytes: intFlag(flags, "max-body-bytes", 256, 64 * 1024 * 1024),
    maxDescriptors: intFlag(flags, "max-descriptors", 1, 10_000),
    watch: flags["no-watch"] !== true,
  } as ServeOptions;
}

/** run starts the service and resolves with 0 once SIGTERM or SIGINT has drained it. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const flags = withEnv(parseFlags("serve", argv, FLAGS), process.env);
  if (flags.help) {
    io.stdout.write(helpText(USAGE, ABOUT, FLAGS));
    return 0;
  }
  const options = serveOptions(flags);
  const graceMs = intFlag(flags, "grace-ms", 0, 600_000) ?? 10_000;
  const workers = intFlag(flags, "workers", 1, 256) ?? 1;
  if (workers > 1 && !options.redis && !options.redisCluster) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate serve: --workers ${workers} needs --redis or --redis-cluster: with the memory store each worker would keep its own limits (${workers} times the limit); add --redis redis://host:6379, or run one worker.`,
    );
  }
  if (workers > 1 && cluster.isPrimary) return runPrimary(workers, options, graceMs);
  const service = await startService({ ...options, log: jsonLog });
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      jsonLog("info", "draining", { signal, graceMs, pid: process.pid });
      service.close(graceMs).then(
        () => done(0),
        () => done(1),
      );
    };
    // A cluster worker's IPC channel keeps it alive: let go of it once drained.
    const done = (code: number) => {
      if (cluster.isWorker) cluster.worker?.disconnect();
      resolve(code);
    };
    // A second signal while draining changes nothing (the drain is already bounded by --grace-ms).
    let draining = false;
    const once = (signal: string) => () => {
      if (draining) return;
      draining = true;
      stop(signal);
    };
    process.on("SIGTERM", once("SIGTERM"));
    process.on("SIGINT", once("SIGINT"));
    process.on("SIGHUP", () => void service.reload());
  });
}

/**
 * runPrimary forks `n` workers that share the listening ports (node:cluster hands
 * connections out round-robin) and the Redis state; it checks the configuration first
 * (a bad one fails here, once), forwards SIGHUP, replaces a worker that dies, and on
 * SIGTERM or SIGINT drains every worker before it exits.
 */
async function runPrimary(n: number, options: ServeOptions, graceMs: number): Promise<number> {
  await loadAll(options.config);
  let stopping = false;
  const fork = () => cluster.fork({ FLOODGATE_WORKERS: "1" });
  for (let i = 0; i < n; i++) fork();
  jsonLog("info", "floodgate serve workers started", { workers: n, pid: process.pid });
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) return;
    jsonLog("error", "worker exited; starting another", { pid: worker.process.pid, code, signal });
    fork();
  });
  const each = (signal: NodeJS.Signals) => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
  };
  process.on("SIGHUP", () => each("SIGHUP"));
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      stopping = true;
      jsonLog("info", "draining workers", { signal, graceMs });
      const alive = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
      let left = alive.length;
      if (left === 0) resolve(0);
      for (const w of alive) {
        w.once("exit", () => {
          if (--left === 0) {
            jsonLog("info", "floodgate serve stopped", { pid: process.pid });
            resolve(0);
          }
        });
      }
      each("SIGTERM");
    };
    let draining = false;
    const once = (signal: NodeJS.Signals) => () => {
      if (draining) return;
      draining = true;
      stop(signal);
    };
    process.on("SIGTERM", once("SIGTERM"));
    process.on("SIGINT", once("SIGINT"));
  });
}
