// serve.ts: startService wires the configuration, the store, the decider, the gRPC and HTTP servers, hot
// reload and graceful shutdown together; `floodgate serve` (src/cli/serve.ts) is its command line.

import { type FSWatcher, readdirSync, readFileSync, statSync, watch } from "node:fs";
import { dirname, extname, join, resolve } from "node:path";
import { FloodgateError, FloodgateTypeError } from "../core/errors.js";
import { fixedWindow } from "../core/fixed-window.js";
import { RateLimiter } from "../limiter.js";
import { type ApplyResult, LivePolicies, type PolicyFile, parsePolicyFile } from "../policy-file/index.js";
import { MemoryStore } from "../stores/memory.js";
import type { Store } from "../stores/store.js";
import { type ConfigSource, type Entry, parseConfig, type ServiceConfig } from "./config.js";
import { DEFAULT_BOUNDS, type DecideInput, Decider, type ServiceVerdict } from "./decide.js";
import { type GrpcServer, startGrpc } from "./grpc.js";
import { type HttpServer, startHttp } from "./http.js";
import { MISSING_PROM_CLIENT, serviceMetrics } from "./metrics.js";
import { ServiceStats } from "./stats.js";

/** Log writes one structured log line. */
export type Log = (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;

/** ServeOptions configures startService; every field has a flag and an environment variable (src/cli/serve.ts). */
export interface ServeOptions {
  /** config lists configuration files or directories (every .yaml/.yml file in them, one domain each). */
  readonly config: readonly string[];
  /** host is the address both APIs listen on. Default "0.0.0.0". */
  readonly host?: string;
  /** grpcPort (default 8081; -1 turns gRPC off, 0 picks a free port). */
  readonly grpcPort?: number;
  /** httpPort (default 8080; -1 turns HTTP off, 0 picks a free port). */
  readonly httpPort?: number;
  /** redis is a redis:// URL; without it (and redisCluster) state is kept in memory. */
  readonly redis?: string | undefined;
  /** redisCluster is a comma-separated list of host:port seeds of a Redis Cluster. */
  readonly redisCluster?: string | undefined;
  /** onFailure is the Redis store's failure policy. Default "fail-open" (Envoy's expectation). */
  readonly onFailure?: "fail-open" | "fail-closed";
  /** redisTimeoutMs bounds every Redis call; past it the failure policy decides. Default 500 (the store's). */
  readonly redisTimeoutMs?: number | undefined;
  /** tokens are bearer tokens required for deciding (none: open). */
  readonly tokens?: readonly string[];
  /** adminTokens enable refund, reset, reload and the top offenders for callers that send one (none: those calls are off). */
  readonly adminTokens?: readonly string[];
  /**
   * adminPort opens a separate admin address serving only the admin routes (refund, reset,
   * reload, top offenders) and the probes; there the address is the credential: no token is
   * asked unless adminTokens are set. Default -1 (off); 0 picks a free port.
   */
  readonly adminPort?: number;
  /** adminHost is the admin address's interface. Default "127.0.0.1" (loopback only). */
  readonly adminHost?: string;
  /** topOffenders is how many most-refused keys each rule remembers for the admin view (0: none). Default 20. */
  readonly topOffenders?: number;
  /** tlsCert and tlsKey (PEM file paths) turn on TLS for both APIs. */
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  /** maxBodyBytes bounds an HTTP body and a gRPC message. Default 65536. */
  readonly maxBodyBytes?: number;
  /** maxDescriptors bounds a request's descriptors. Default 64. */
  readonly maxDescriptors?: number;
  /** watch reloads when a configuration file changes. Default true. */
  readonly watch?: boolean;
  /** store replaces the store (tests, embedding). */
  readonly store?: Store;
  readonly log?: Log;
  /** onVerdict is told of every decided request (metrics bind here). */
  readonly onVerdict?: (input: DecideInput, v: ServiceVerdict) => void;
}

/** Service is a running `floodgate serve`. */
export interface Service {
  readonly decider: Decider;
  /** stats counts every decided request in Envoy's vocabulary (served at GET /metrics with the limiter's metrics). */
  readonly stats: ServiceStats;
  /** grpcPort and httpPort are the bound ports (undefined when off). */
  readonly grpcPort: number | undefined;
  readonly httpPort: number | undefined;
  /** adminPort is the bound port of the separate admin address (undefined when off). */
  readonly adminPort: number | undefined;
  /** reload reads the configuration again; a bad one keeps the running one and says why. */
  reload(): Promise<{ ok: boolean; message: string }>;
  /** close drains: health turns NOT_SERVING, new calls are refused, calls in flight finish (up to graceMs). */
  close(graceMs?: number): Promise<void>;
}

/** CONFIG_EXTENSIONS are the files a configuration directory contributes. */
const CONFIG_EXTENSIONS = [".yaml", ".yml", ".json"];

/**
 * readSources reads configuration files; a directory contributes its .yaml, .yml
 * and .json files (sorted).
 */
export function readSources(paths: readonly string[]): ConfigSource[] {
  if (paths.length === 0) {
    throw new FloodgateTypeError(
      "ERR_INVALID_CONFIG",
      "floodgate serve: no configuration; pass --config limits.yaml (or a directory of .yaml files).",
    );
  }
  const out: ConfigSource[] = [];
  for (const p of paths) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      throw new FloodgateTypeError(
        "ERR_INVALID_CONFIG",
        `floodgate: ${p}: no such file or directory; pass the path of your limits.yaml.`,
      );
    }
    const files = st.isDirectory()
      ? readdirSync(p)
          .filter((f) => CONFIG_EXTENSIONS.includes(extname(f)))
          .sort()
          .map((f) => join(p, f))
      : [p];
    for (const f of files) out.push({ file: f, text: readFileSync(f, "utf8") });
  }
  if (out.length === 0) {
    throw new FloodgateTypeError(
      "ERR_INVALID_CONFIG",
      `floodgate: ${paths.join(", ")} holds no .yaml file; put one domain per .yaml file there.`,
    );
  }
  return out;
}

/**
 * isPolicyFile tells a policy file (floodgate/policy-file: named policies) from an
 * envoyproxy/ratelimit domain file: a .json file is a policy file, and so is a YAML
 * file with a top-level `policies:` and no top-level `domain:`.
 */
export function isPolicyFile(src: ConfigSource): boolean {
  if (extname(src.file).toLowerCase() === ".json") return true;
  return /^policies\s*:/m.test(src.text) && !/^domain\s*:/m.test(src.text);
}

/** Loaded is a checked configuration: the Envoy-style domains and, when one was given, the policy file. */
export interface Loaded {
  readonly config: ServiceConfig;
  readonly policyFile: PolicyFile | undefined;
  /** sources are the files read and their text, in order (what a later read is compared with). */
  readonly sources: readonly ConfigSource[];
}

/**
 * loadAll reads and checks everything at `paths`: domain files (parseConfig) and at
 * most one policy file (parsePolicyFile). Anything wrong throws with the file, line and fix.
 */
export async function loadAll(paths: readonly string[]): Promise<Loaded> {
  const sources = readSources(paths);
  const policySources = sources.filter(isPolicyFile);
  if (policySources.length > 1) {
    throw new FloodgateTypeError(
      "ERR_INVALID_CONFIG",
      `floodgate: ${policySources.map((s) => s.file).join(" and ")} are both policy files; the service reads one, merge them.`,
    );
  }
  const config = parseConfig(sources.filter((s) => !isPolicyFile(s)));
  const p = policySources[0];
  const policyFile = p === undefined ? undefined : await parsePolicyFile(p.text, { source: p.file });
  return { config, policyFile, sources };
}

/** sameSources reports whether the files at `paths` still hold what `before` read (a file gone or unreadable differs). */
function sameSources(paths: readonly string[], before: readonly ConfigSource[]): boolean {
  let now: ConfigSource[];
  try {
    now = readSources(paths);
  } catch {
    return false;
  }
  return now.length === before.length && now.every((x, i) => x.file === before[i]?.file && x.text === before[i]?.text);
}

/** loadConfig reads and checks the Envoy-style configuration at `paths` (a policy file among them is not read). */
export function loadConfig(paths: readonly string[]): ServiceConfig {
  return parseConfig(readSources(paths).filter((s) => !isPolicyFile(s)));
}

/** jsonLog is the default Log: one JSON object per line on stderr. */
export const jsonLog: Log = (level, msg, fields) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
};

/** openRedis builds the Redis store from a URL or Cluster seeds (ioredis, an optional peer). */
async function openRedis(o: ServeOptions, log: Log): Promise<{ store: Store; close: () => Promise<void> }> {
  let IoRedis: typeof import("ioredis");
  let redisMod: typeof import("../stores/redis/store.js");
  try {
    IoRedis = (await import("ioredis")) as unknown as typeof import("ioredis");
    redisMod = await import("../stores/redis/store.js");
  } catch (err) {
    throw new FloodgateError(
      "ERR_MISSING_PEER",
      "floodgate serve: --redis needs the optional peer dependency ioredis; install it with `npm install ioredis`.",
      { cause: err },
    );
  }
  const Redis = IoRedis.Redis;
  let client: InstanceType<typeof IoRedis.Redis> | InstanceType<typeof IoRedis.Cluster>;
  if (o.redisCluster) {
    const seeds = o.redisCluster.split(",").map((s) => {
      const [host, port] = s.trim().split(":");
      return { host: host as string, port: Number(port) };
    });
    client = new IoRedis.Cluster(seeds);
  } else {
    client = new Redis(o.redis as string, { maxRetriesPerRequest: 1, enableOfflineQueue: true });
  }
  client.on("error", (e: Error) => log("warn", "redis error", { error: e.message }));
  const store = new redisMod.RedisStore({
    client,
    onFailure: o.onFailure ?? "fail-open",
    ...(o.redisTimeoutMs === undefined ? {} : { timeoutMs: o.redisTimeoutMs }),
  });
  store.on("degraded", (e) => log("warn", "redis degraded; the failure policy decides", { reason: e.reason }));
  store.on("recovered", () => log("info", "redis recovered"));
  store.on("warning", (w) => log("warn", w.message, { code: w.code }));
  return {
    store,
    close: async () => {
      client.disconnect();
    },
  };
}

/** startService starts `floodgate serve` in this process. */
export async function startService(o: ServeOptions): Promise<Service> {
  const log = o.log ?? jsonLog;
  const first = await loadAll(o.config);
  let config = first.config;
  for (const w of config.warnings) log("warn", w);
  const policies = first.policyFile === undefined ? undefined : new LivePolicies(first.policyFile);
  let closeStore = async () => {};
  let store: Store;
  if (o.store !== undefined) store = o.store;
  else if (o.redis || o.redisCluster) {
    const r = await openRedis(o, log);
    store = r.store;
    closeStore = r.close;
  } else store = new MemoryStore();
  // The limiter's own policy is never used: every call passes the matched rule's policy.
  const limiter = new RateLimiter({
    policy: fixedWindow({ name: "serve", limit: 1, windowMs: 1000 }),
    store,
    heavyHitters: o.topOffenders ?? 20,
  });
  const decider = new Decider(
    limiter,
    config,
    { ...DEFAULT_BOUNDS, maxDescriptors: o.maxDescriptors ?? DEFAULT_BOUNDS.maxDescriptors },
    policies,
  );
  const tls =
    o.tlsCert || o.tlsKey
      ? (() => {
          if (!o.tlsCert || !o.tlsKey) {
            throw new FloodgateTypeError(
              "ERR_INVALID_OPTION",
              "floodgate serve: TLS needs both --tls-cert and --tls-key (PEM files).",
            );
          }
          return { cert: readFileSync(o.tlsCert), key: readFileSync(o.tlsKey) };
        })()
      : undefined;
  let draining = false;
  const reload = async (): Promise<{ ok: boolean; message: string }> => {
    try {
      const loaded = await loadAll(o.config);
      const next = loaded.config;
      let applied: ApplyResult | undefined;
      if (loaded.policyFile !== undefined) {
        if (decider.policies === undefined) decider.policies = new LivePolicies(loaded.policyFile);
        // All or nothing: a replacement that cannot be made throws and changes nothing.
        else applied = decider.policies.apply(loaded.policyFile);
      } else if (decider.policies !== undefined) {
        throw new FloodgateTypeError(
          "ERR_INVALID_CONFIG",
          `floodgate: the policy file ${decider.policies.file.source} is gone; the service keeps its policies until it is back (restart to drop them).`,
        );
      }
      config = next;
      decider.config = next;
      for (const w of next.warnings) log("warn", w);
      const message = `reloaded ${loaded.config.files.length + (loaded.policyFile ? 1 : 0)} file(s), ${next.domains.size} domain(s)${
        applied === undefined
          ? ""
          : `, policies: ${applied.replaced.length} replaced (${applied.strategy}), ${applied.added.length} added, ${applied.removed.length} removed`
      }`;
      log("info", message, {
        domains: [...next.domains.keys()],
        ...(applied === undefined
          ? {}
          : { replaced: applied.replaced, added: applied.added, removed: applied.removed, strategy: applied.strategy }),
      });
      return { ok: true, message };
    } catch (err) {
      const message = `reload refused, the running configuration stays: ${(err as Error).message}`;
      log("error", message);
      return { ok: false, message };
    }
  };
  const stats = new ServiceStats();
  const onVerdict = (input: DecideInput, v: ServiceVerdict): void => {
    stats.record(input, v);
    o.onVerdict?.(input, v);
  };
  const metrics = await serviceMetrics(limiter, stats);
  if ("unavailable" in metrics) log("warn", MISSING_PROM_CLIENT, { code: "ERR_MISSING_PEER" });
  const maxBodyBytes = o.maxBodyBytes ?? 65_536;
  const host = o.host ?? "0.0.0.0";
  let grpc: GrpcServer | undefined;
  let http: HttpServer | undefined;
  let adminHttp: HttpServer | undefined;
  const admin = { reload, top: (policy: string | undefined) => topOffenders(decider, policy) };
  try {
    if ((o.grpcPort ?? 8081) >= 0) {
      grpc = await startGrpc({
        decider,
        host,
        port: o.grpcPort ?? 8081,
        tls,
        tokens: o.tokens ?? [],
        maxMessageBytes: maxBodyBytes,
        log,
        onVerdict,
      });
    }
    if ((o.httpPort ?? 8080) >= 0) {
      http = await startHttp({
        decider,
        host,
        port: o.httpPort ?? 8080,
        tls,
        tokens: o.tokens ?? [],
        adminTokens: o.adminTokens ?? [],
        maxBodyBytes,
        log,
        ready: () => !draining,
        onVerdict,
        metrics,
        admin,
      });
    }
    if ((o.adminPort ?? -1) >= 0) {
      adminHttp = await startHttp({
        decider,
        host: o.adminHost ?? "127.0.0.1",
        port: o.adminPort ?? 0,
        tls,
        tokens: [],
        adminTokens: o.adminTokens ?? [],
        maxBodyBytes,
        log,
        ready: () => !draining,
        admin,
        adminListener: true,
      });
    }
  } catch (err) {
    await grpc?.close(0);
    await http?.close(0);
    await closeStore();
    throw err;
  }
  const watchers: FSWatcher[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (o.watch ?? true) {
    const files = new Set([...config.files, ...(policies ? [policies.file.source] : [])].map((f) => resolve(f)));
    const dirs = new Set([...o.config].map((p) => (statSync(p).isDirectory() ? resolve(p) : dirname(resolve(p)))));
    for (const d of dirs) {
      try {
        const w = watch(d, (_event, name) => {
          const full = name ? join(d, name.toString()) : "";
          if (name && !files.has(full) && !/\.(ya?ml|json)$/.test(full)) return;
          clearTimeout(timer);
          timer = setTimeout(() => void reload(), 100);
        });
        w.unref();
        watchers.push(w);
      } catch (err) {
        log("warn", "cannot watch the configuration; reload with SIGHUP", { dir: d, error: String(err) });
      }
    }
    // A change saved after the first read and before the watch started raised no event: read once more now the
    // watch runs, and reload if anything differs from what the service started with.
    if (!sameSources(o.config, first.sources)) timer = setTimeout(() => void reload(), 0);
  }
  log("info", "floodgate serve listening", {
    grpcPort: grpc?.port,
    httpPort: http?.port,
    ...(adminHttp === undefined ? {} : { adminPort: adminHttp.port, adminHost: o.adminHost ?? "127.0.0.1" }),
    store: o.redis || o.redisCluster ? "redis" : "memory",
    domains: [...config.domains.keys()],
    ...(policies === undefined ? {} : { policies: policies.names }),
    pid: process.pid,
  });
  let closing: Promise<void> | undefined;
  return {
    decider,
    stats,
    grpcPort: grpc?.port,
    httpPort: http?.port,
    adminPort: adminHttp?.port,
    reload,
    close(graceMs = 10_000) {
      closing ??= (async () => {
        draining = true;
        for (const w of watchers) w.close();
        clearTimeout(timer);
        grpc?.setServing(false);
        await Promise.all([grpc?.close(graceMs), http?.close(graceMs), adminHttp?.close(graceMs)]);
        if (!("unavailable" in metrics)) metrics.close();
        await closeStore();
        log("info", "floodgate serve stopped");
      })();
      return closing;
    },
  };
}

/**
 * topOffenders is the admin view of the keys refused most, per rule (or policy-file policy),
 * from the limiter's heavy hitters (Space-Saving: fixed memory, counts at most `error`
 * above the truth). This process's refusals only: each process of a shared service keeps its own.
 */
export function topOffenders(decider: Decider, policy: string | undefined): { policies: unknown[] } {
  const rules = new Map<string, { domain: string; rule: string }>();
  for (const d of decider.config.domains.values()) {
    for (const r of d.rules) {
      const p = r.policies?.[0];
      if (p !== undefined) rules.set(p.name, { domain: d.name, rule: r.path });
    }
  }
  return {
    policies: decider.limiter.heavyHitters(policy).map((h) => ({
      policy: h.policy,
      ...(rules.get(h.policy) ?? {}),
      refused: h.refused,
      keys: h.keys.map((e) => ({ ...describeKey(e.key), count: e.count, error: e.error })),
    })),
  };
}

/** describeKey reads a limiter key back: a descriptor's domain and entries (see storeKey), else the policy-file key. */
function describeKey(key: string): { key: string; descriptor?: { domain: string; entries: Entry[] } } {
  if (key.startsWith("[")) {
    try {
      const parts = JSON.parse(key) as unknown;
      if (Array.isArray(parts) && parts.length % 2 === 1 && parts.every((x) => typeof x === "string")) {
        const p = parts as string[];
        const entries: Entry[] = [];
        for (let i = 1; i < p.length; i += 2) entries.push({ key: p[i] as string, value: p[i + 1] as string });
        return { key, descriptor: { domain: p[0] as string, entries } };
      }
    } catch {
      // Not a descriptor's key: shown as it is.
    }
  }
  return { key };
}
