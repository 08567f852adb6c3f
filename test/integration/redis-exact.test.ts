// redis-exact.test.ts: several OS processes share one limit through Redis (standalone and Cluster); the total admitted is exact.

import { fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisCluster, type RedisServer, startCluster, startRedis } from "../helpers/redis-server.js";
import { keysWithoutTtl } from "./redis-util.js";

const WORKER = join(dirname(fileURLToPath(import.meta.url)), "../helpers/redis-worker.ts");

interface Report {
  admitted: number;
  denied: number;
  degraded: number;
  perKey: Record<string, number>;
}

/** runWorkers forks `n` worker processes with the job and returns their reports. */
function runWorkers(n: number, job: Record<string, unknown>): Promise<Report[]> {
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Report>((resolve, reject) => {
          const child = fork(WORKER, [JSON.stringify(job)], { execArgv: ["--import", "tsx"], stdio: "inherit" });
          let report: Report | undefined;
          child.on("message", (m) => {
            report = m as Report;
          });
          child.on("error", reject);
          child.on("exit", (code) =>
            report ? resolve(report) : reject(new Error(`worker exited with ${code} and no report`)),
          );
        }),
    ),
  );
}

/** sum adds up the reports. */
function sum(reports: Report[]): Report {
  const total: Report = { admitted: 0, denied: 0, degraded: 0, perKey: {} };
  for (const r of reports) {
    total.admitted += r.admitted;
    total.denied += r.denied;
    total.degraded += r.degraded;
    for (const [k, v] of Object.entries(r.perKey)) total.perKey[k] = (total.perKey[k] ?? 0) + v;
  }
  return total;
}

describe("exact across processes: standalone Redis", () => {
  let server: RedisServer;
  let admin: Redis;
  beforeAll(async () => {
    server = await startRedis();
    admin = new Redis(server.port, server.host);
  });
  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  it("4 processes x 400 concurrent consumes on one key (ioredis and node-redis): admitted == capacity 500", async () => {
    const base = { nodes: [{ host: server.host, port: server.port }], cluster: false, keys: 1, calls: 400 };
    const reports = await Promise.all([
      runWorkers(2, { ...base, client: "ioredis", capacity: 500, concurrency: 400, prefix: "one:" }),
      runWorkers(2, { ...base, client: "node-redis", capacity: 500, concurrency: 400, prefix: "one:" }),
    ]);
    const t = sum(reports.flat());
    expect(
      { admitted: t.admitted, denied: t.denied, degraded: t.degraded },
      "4 x 400 consume(k0), capacity 500",
    ).toEqual({
      admitted: 500,
      denied: 1100,
      degraded: 0,
    });
    expect(await keysWithoutTtl(admin), "keys without TTL").toEqual([]);
  });

  it("4 processes x 1200 consumes over 300 keys: each key admits exactly its capacity 3", async () => {
    const reports = await runWorkers(4, {
      nodes: [{ host: server.host, port: server.port }],
      cluster: false,
      client: "ioredis",
      capacity: 3,
      keys: 300,
      calls: 1200,
      concurrency: 300,
      prefix: "many:",
    });
    const t = sum(reports);
    expect({ admitted: t.admitted, degraded: t.degraded }, "4 x 1200 consumes over 300 keys").toEqual({
      admitted: 900,
      degraded: 0,
    });
    const over = Object.entries(t.perKey).filter(([, v]) => v !== 3);
    expect(over, "keys admitted != 3 times").toEqual([]);
    expect(await keysWithoutTtl(admin), "keys without TTL").toEqual([]);
  });
});

describe("exact across processes: 3-master Redis Cluster", () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  // Three worker processes (each loads tsx) and 3,600 calls: past 30 s once at load ~14.
  it("3 processes (ioredis Cluster, node-redis cluster) on one key and on 300 keys: exact", async () => {
    const base = { nodes: cluster.nodes, cluster: true };
    const [one, many] = await Promise.all([
      Promise.all([
        runWorkers(2, {
          ...base,
          client: "ioredis",
          capacity: 300,
          keys: 1,
          calls: 300,
          concurrency: 300,
          prefix: "c1:",
        }),
        runWorkers(1, {
          ...base,
          client: "node-redis",
          capacity: 300,
          keys: 1,
          calls: 300,
          concurrency: 300,
          prefix: "c1:",
        }),
      ]),
      Promise.all([
        runWorkers(2, {
          ...base,
          client: "ioredis",
          capacity: 2,
          keys: 300,
          calls: 900,
          concurrency: 300,
          prefix: "cm:",
        }),
        runWorkers(1, {
          ...base,
          client: "node-redis",
          capacity: 2,
          keys: 300,
          calls: 900,
          concurrency: 300,
          prefix: "cm:",
        }),
      ]),
    ]);
    const t1 = sum(one.flat());
    expect({ admitted: t1.admitted, degraded: t1.degraded }, "3 x 300 consume(k0), capacity 300").toEqual({
      admitted: 300,
      degraded: 0,
    });
    const tm = sum(many.flat());
    expect({ admitted: tm.admitted, degraded: tm.degraded }, "3 x 900 over 300 keys, capacity 2").toEqual({
      admitted: 600,
      degraded: 0,
    });
    // The keys are spread over the three masters, and none lacks a TTL.
    const perNode: number[] = [];
    for (const n of cluster.nodes) {
      const r = new Redis(n.port, n.host);
      perNode.push(await r.dbsize());
      expect(await keysWithoutTtl(r), `keys without TTL on ${n.port}`).toEqual([]);
      r.disconnect();
    }
    expect(
      perNode.every((x) => x > 0),
      `keys per master ${perNode}`,
    ).toBe(true);
    const c = new Cluster(cluster.nodes);
    expect(await c.exists("c1:{k0}:token-bucket:tb:c300r0.0001"), "k0's key in the cluster").toBe(1);
    c.disconnect();
  }, 90_000);
});
