// helpers.ts: the service tests' tools: start the real `floodgate serve` process (from the sources), a gRPC
// client built from the .proto files with proto-loader, and a JSON HTTP client.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as loader from "@grpc/proto-loader";

export const root = resolve(import.meta.dirname, "../..");

/** ServiceProcess is a running `floodgate serve` child process. */
export interface ServiceProcess {
  readonly proc: ChildProcess;
  readonly grpcPort: number;
  readonly httpPort: number;
  /** logs holds every JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  /** stop sends SIGTERM and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** waitForLog resolves with the first log line (past or future) that `match` accepts. */
  waitForLog(match: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

/** tempDir makes a directory under .tmp for one test file. */
export function tempDir(name: string): { dir: string; write(file: string, text: string): string; remove(): void } {
  mkdirSync(join(root, ".tmp"), { recursive: true });
  const dir = mkdtempSync(join(root, ".tmp", `${name}-`));
  return {
    dir,
    write(file, text) {
      const p = join(dir, file);
      writeFileSync(p, text);
      return p;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** startServe runs `floodgate serve` with `args` on free loopback ports and waits until it listens. */
export function startServe(args: string[], env: Record<string, string> = {}): Promise<ServiceProcess> {
  const proc = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(root, "src/cli/bin.ts"),
      "serve",
      "--host",
      "127.0.0.1",
      "--grpc-port",
      "0",
      "--http-port",
      "0",
      ...args,
    ],
    { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  live.add(proc);
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<{
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }>();
  let buf = "";
  let stderr = "";
  proc.stderr?.setEncoding("utf8");
  proc.stderr?.on("data", (chunk: string) => {
    stderr += chunk;
    buf += chunk;
    let i = buf.indexOf("\n");
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      i = buf.indexOf("\n");
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      logs.push(obj);
      for (const w of waiters) {
        if (w.match(obj)) {
          waiters.delete(w);
          w.resolve(obj);
        }
      }
    }
  });
  const exited = new Promise<number | null>((done) => {
    proc.once("exit", (code) => {
      live.delete(proc);
      done(code);
    });
  });
  const waitForLog = (match: (l: Record<string, unknown>) => boolean, timeoutMs = 20_000) => {
    const hit = logs.find(match);
    if (hit) return Promise.resolve(hit);
    return new Promise<Record<string, unknown>>((res, rej) => {
      const w = { match, resolve: res };
      waiters.add(w);
      const t = setTimeout(() => {
        waiters.delete(w);
        rej(new Error(`no such log line within ${timeoutMs} ms; stderr:\n${stderr}`));
      }, timeoutMs);
      t.unref();
    });
  };
  return Promise.race([
    waitForLog((l) => l.msg === "floodgate serve listening", 60_000),
    exited.then((code) => {
      throw new Error(`floodgate serve exited with ${code}:\n${stderr}`);
    }),
  ]).then((l) => ({
    proc,
    grpcPort: l.grpcPort as number,
    httpPort: l.httpPort as number,
    logs,
    waitForLog,
    stop(signal: NodeJS.Signals = "SIGTERM") {
      if (proc.exitCode !== null) return exited;
      proc.kill(signal);
      return exited;
    },
  }));
}

/** LOADER is how the tests' clients read the .proto files (the server uses the same options). */
const LOADER = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true } as const;

/** rlsClient builds a RateLimitService client from src/service/proto/rls.proto. */
export function rlsClient(port: number, credentials = grpc.credentials.createInsecure()) {
  const def = loader.loadSync(["rls.proto", "health.proto"], {
    ...LOADER,
    includeDirs: [join(root, "src/service/proto")],
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    envoy: { service: { ratelimit: { v3: { RateLimitService: grpc.ServiceClientConstructor } } } };
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  const rls = new pkg.envoy.service.ratelimit.v3.RateLimitService(`127.0.0.1:${port}`, credentials);
  const health = new pkg.grpc.health.v1.Health(`127.0.0.1:${port}`, credentials);
  const unary =
    (client: grpc.Client, method: string) =>
    (req: unknown, metadata = new grpc.Metadata()): Promise<Record<string, unknown>> =>
      new Promise((res, rej) => {
        (client as unknown as Record<string, Function>)[method]!.call(
          client,
          req,
          metadata,
          (err: grpc.ServiceError | null, reply: Record<string, unknown>) => (err ? rej(err) : res(reply)),
        );
      });
  /** raw sends a ShouldRateLimit message as bytes and resolves with the reply's bytes (wire-level tests). */
  const raw = (bytes: Buffer): Promise<Buffer> =>
    new Promise((res, rej) => {
      rls.makeUnaryRequest(
        "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit",
        (b: Buffer) => b,
        (b: Buffer) => b,
        bytes,
        (err, reply) => (err ? rej(err) : res(reply as Buffer)),
      );
    });
  return {
    rls,
    health,
    raw,
    shouldRateLimit: unary(rls, "ShouldRateLimit"),
    check: unary(health, "Check"),
    close() {
      rls.close();
      health.close();
    },
  };
}

/** Descriptor builds a RateLimitDescriptor from key/value pairs. */
export function descriptor(pairs: Record<string, string> | [string, string][], hitsAddend?: number) {
  const list = Array.isArray(pairs) ? pairs : Object.entries(pairs);
  return {
    entries: list.map(([key, value]) => ({ key, value })),
    ...(hitsAddend === undefined ? {} : { hits_addend: { value: hitsAddend } }),
  };
}

/** postJson posts JSON to the service's HTTP API. */
export async function postJson(
  port: number,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}
