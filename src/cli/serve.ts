// serve.ts: `floodgate serve`: the rate limit service (Envoy RLS v3 over gRPC, JSON over HTTP); every flag is
// also an environment variable (FLOODGATE_ and the flag's name in capitals, dashes as underscores).

import { FloodgateTypeError } from "../core/errors.js";
import { jsonLog, type ServeOptions, startService } from "../service/serve.js";
import { type FlagSpec, type Flags, helpText, parseFlags } from "./args.js";
import type { Io } from "./main.js";

const FLAGS: Record<string, FlagSpec> = {
  config: {
    type: "string",
    multiple: true,
    value: "PATH",
    help: "the limits: an envoyproxy/ratelimit YAML file, or a directory of them (repeat for more)",
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
  "tls-cert": { type: "string", value: "FILE", help: "TLS certificate (PEM) for both APIs" },
  "tls-key": { type: "string", value: "FILE", help: "TLS private key (PEM)" },
  "max-body-bytes": { type: "string", value: "N", help: "largest HTTP body or gRPC message (default 65536)" },
  "max-descriptors": { type: "string", value: "N", help: "most descriptors per request (default 64)" },
  "grace-ms": { type: "string", value: "MS", help: "how long SIGTERM waits for calls in flight (default 10000)" },
  "no-watch": { type: "boolean", help: "do not reload when a configuration file changes (SIGHUP still does)" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

const USAGE = "usage: floodgate serve --config limits.yaml [--grpc-port 8081] [--http-port 8080] [--redis redis://...]";
const ABOUT = `Runs the rate limit service: Envoy's RateLimitService (envoy.service.ratelimit.v3) and
grpc.health.v1 over gRPC, and a JSON API over HTTP (POST /v1/decide, /v1/peek; admin
/v1/refund, /v1/reset, /v1/admin/reload; GET /openapi.json, /healthz, /readyz).
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
  const service = await startService({ ...options, log: jsonLog });
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      jsonLog("info", "draining", { signal, graceMs });
      service.close(graceMs).then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
    process.on("SIGHUP", () => void service.reload());
  });
}
