// redis-server.ts: starts throwaway redis-server processes (standalone and a 3-master Cluster) on loopback for tests.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const HOST = "127.0.0.1";

/** RedisServer is one running redis-server. */
export interface RedisServer {
  host: string;
  port: number;
  url: string;
  /** stop shuts the server down (SIGTERM) and removes its directory. */
  stop(): Promise<void>;
  /** kill9 kills the server with SIGKILL, as a crash would. */
  kill9(): Promise<void>;
  /** restart starts the server again on the same port (after kill9 or stop), with empty data. */
  restart(): Promise<void>;
}

/** StartRedisOptions configures startRedis. */
export interface StartRedisOptions {
  /** port to listen on; default a free one. */
  port?: number;
  /** args are extra redis-server arguments, such as ["--maxmemory", "10mb"]. */
  args?: string[];
}

/** RedisCluster is a running Redis Cluster (3 masters unless asked otherwise, replicas if asked). */
export interface RedisCluster {
  /** nodes are the masters the Cluster started with, in slot order (the first serves slot 0). */
  nodes: { host: string; port: number }[];
  /** replicas are the replicas it started with: `master` is the index in `nodes` of the master each replicates. */
  replicas: { host: string; port: number; master: number }[];
  /** kill9 kills the node on `port` with SIGKILL, as a crash would (its cluster config file stays). */
  kill9(port: number): Promise<void>;
  /** restart starts the node on `port` again after kill9, with its cluster config file (it rejoins the Cluster), empty data. */
  restart(port: number): Promise<void>;
  stop(): Promise<void>;
}

/** StartClusterOptions configures startCluster. */
export interface StartClusterOptions {
  /** replicas per master (default 0). */
  replicas?: number;
  /** nodeTimeoutMs is cluster-node-timeout: how long a master may be unreachable before its replica takes over (default 5000). */
  nodeTimeoutMs?: number;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

let versionArgs: Promise<string[]> | undefined;

/** debugArgs returns ["--enable-debug-command", "local"] on Redis 7+, where the option exists. */
function debugArgs(): Promise<string[]> {
  versionArgs ??= run("redis-server", ["--version"]).then(({ stdout }) => {
    const major = Number(/v=(\d+)/.exec(stdout)?.[1] ?? 0);
    return major >= 7 ? ["--enable-debug-command", "local"] : [];
  });
  return versionArgs;
}

/** isFree reports whether a loopback port can be bound. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, HOST, () => s.close(() => resolve(true)));
  });
}

/** freePort returns a free loopback port (and, for Cluster nodes, with port + 10000 free too). */
export async function freePort(withBus = false): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    if (port + 10000 > 65535 && withBus) continue;
    if ((await isFree(port)) && (!withBus || (await isFree(port + 10000)))) return port;
  }
  throw new Error("no free loopback port found");
}

/** ping sends PING over a raw socket and resolves true on +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: HOST, port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once("error", () => done(false));
    sock.once("connect", () => sock.write("PING\r\n"));
    sock.once("data", (b) => done(b.toString().startsWith("+PONG")));
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function exited(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => p.once("exit", () => resolve()));
}

/** spawnRedis starts redis-server with `args` and waits until it answers PING. */
async function spawnRedis(port: number, dir: string, args: string[]): Promise<ChildProcess> {
  const p = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      HOST,
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--logfile",
      join(dir, "redis.log"),
      ...(await debugArgs()),
      ...args,
    ],
    { stdio: "ignore" },
  );
  live.add(p);
  p.once("exit", () => live.delete(p));
  let failed: Error | undefined;
  p.once("error", (e) => {
    failed = e;
  });
  await waitFor(`redis-server on port ${port}`, async () => {
    if (failed) throw new Error(`redis-server could not start (is it on PATH?): ${failed.message}`);
    if (p.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${p.exitCode}`);
    return ping(port);
  });
  return p;
}

/**
 * startRedis starts a standalone redis-server on a free loopback port, without
 * persistence, in a temporary directory. Call stop() in afterAll.
 */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  let port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "floodgate-redis-"));
  const args = opts.args ?? [];
  let proc: ChildProcess | undefined;
  // A free port can be taken by another test's process between the probe and redis-server's bind (seen once in
  // CI: "redis-server on port N exited with 1"): try up to three ports when none was asked for.
  for (let attempt = 1; ; attempt++) {
    try {
      proc = await spawnRedis(port, dir, args);
      break;
    } catch (err) {
      if (opts.port !== undefined || attempt >= 3) throw err;
      port = await freePort();
    }
  }
  return {
    host: HOST,
    port,
    url: `redis://${HOST}:${port}`,
    async stop() {
      const p = proc;
      proc = undefined;
      if (p) {
        p.kill("SIGTERM");
        await exited(p);
      }
      rmSync(dir, { recursive: true, force: true });
    },
    async kill9() {
      const p = proc;
      proc = undefined;
      if (p) {
        p.kill("SIGKILL");
        await exited(p);
      }
    },
    async restart() {
      if (proc) {
        const p = proc;
        p.kill("SIGTERM");
        await exited(p);
      }
      mkdirSync(dir, { recursive: true });
      proc = await spawnRedis(port, dir, args);
    },
  };
}

/**
 * startCluster starts `masters` redis-server nodes (default 3) in cluster mode,
 * joins them as masters with `redis-cli --cluster create` (fewer than 3 masters,
 * or with replicas: `cluster addslotsrange` and `cluster meet` by hand, since
 * redis-cli wants three masters and places replicas as it likes), adds
 * `options.replicas` replicas per master (`cluster replicate`), and waits for
 * cluster_state:ok on every node and for every replica's link to its master.
 */
export async function startCluster(masters = 3, options: StartClusterOptions = {}): Promise<RedisCluster> {
  const perMaster = options.replicas ?? 0;
  const total = masters * (1 + perMaster);
  const ports: number[] = [];
  while (ports.length < total) {
    const p = await freePort(true);
    if (!ports.includes(p)) ports.push(p);
  }
  const dir = mkdtempSync(join(tmpdir(), "floodgate-cluster-"));
  const argsOf = (port: number): string[] => [
    "--cluster-enabled",
    "yes",
    "--cluster-config-file",
    `nodes-${port}.conf`,
    "--cluster-node-timeout",
    String(options.nodeTimeoutMs ?? 5000),
    // A lone master never learns its own address from a peer: announce it, or
    // CLUSTER SLOTS names it with an empty host.
    "--cluster-announce-ip",
    HOST,
    "--dbfilename",
    `dump-${port}.rdb`,
  ];
  const procs = new Map<number, ChildProcess>();
  await Promise.all(
    ports.map(async (port) => {
      procs.set(port, await spawnRedis(port, dir, argsOf(port)));
    }),
  );
  const cli = (port: number, ...args: string[]): Promise<{ stdout: string }> =>
    run("redis-cli", ["-h", HOST, "-p", String(port), ...args]);
  const masterPorts = ports.slice(0, masters);
  const replicas = ports.slice(masters).map((port, i) => ({ host: HOST, port, master: i % masters }));
  if (masters >= 3 && perMaster === 0) {
    await run("redis-cli", [
      "--cluster",
      "create",
      ...masterPorts.map((p) => `${HOST}:${p}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]);
  } else {
    // Split the slots by hand, then meet every node with the first.
    const per = Math.ceil(16384 / masters);
    for (let i = 0; i < masters; i++) {
      const from = i * per;
      const to = Math.min(16383, from + per - 1);
      await cli(masterPorts[i] as number, "cluster", "addslotsrange", String(from), String(to));
    }
    for (const p of ports.slice(1)) await cli(p, "cluster", "meet", HOST, String(ports[0]));
    if (replicas.length > 0) {
      const ids = await Promise.all(masterPorts.map(async (p) => (await cli(p, "cluster", "myid")).stdout.trim()));
      for (const r of replicas) {
        // A replica can follow a master only once it knows the master's node.
        await waitFor(`node ${r.port} to learn of ${masterPorts[r.master]}`, async () => {
          const { stdout } = await cli(r.port, "cluster", "nodes");
          return stdout.includes(ids[r.master] as string);
        });
        const { stdout } = await cli(r.port, "cluster", "replicate", ids[r.master] as string);
        if (!stdout.includes("OK")) throw new Error(`cluster replicate on ${r.port}: ${stdout}`);
      }
    }
  }
  await waitFor(
    "cluster_state:ok",
    async () => {
      for (const p of ports) {
        const { stdout } = await cli(p, "cluster", "info");
        if (!stdout.includes("cluster_state:ok")) return false;
      }
      for (const r of replicas) {
        const { stdout } = await cli(r.port, "info", "replication");
        if (!stdout.includes("master_link_status:up")) return false;
      }
      return true;
    },
    20_000,
  );
  return {
    nodes: masterPorts.map((port) => ({ host: HOST, port })),
    replicas,
    async kill9(port) {
      const p = procs.get(port);
      if (p === undefined) return;
      procs.delete(port);
      p.kill("SIGKILL");
      await exited(p);
    },
    async restart(port) {
      const old = procs.get(port);
      if (old !== undefined) {
        old.kill("SIGTERM");
        await exited(old);
      }
      procs.set(port, await spawnRedis(port, dir, argsOf(port)));
    },
    async stop() {
      const all = [...procs.values()];
      procs.clear();
      for (const p of all) p.kill("SIGTERM");
      await Promise.all(all.map(exited));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
