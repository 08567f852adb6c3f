// redis-worker.ts: a forked test process that fires many concurrent consumes at a shared Redis and reports the counts.
//
// Input (JSON in argv[2]): { nodes: {host, port}[], cluster: boolean, client: "ioredis" | "node-redis",
//   capacity: number, keys: number, calls: number, concurrency: number, prefix: string }
// Output (process.send): { admitted: number, denied: number, degraded: number, perKey: Record<string, number> }

import { Cluster, Redis } from "ioredis";
import { createClient, createCluster } from "redis";
import { RateLimiter, tokenBucket } from "../../src/index.js";
import { RedisStore } from "../../src/stores/redis/index.js";

interface Job {
  nodes: { host: string; port: number }[];
  cluster: boolean;
  client: "ioredis" | "node-redis";
  capacity: number;
  keys: number;
  calls: number;
  concurrency: number;
  prefix: string;
}

const job = JSON.parse(process.argv[2] ?? "{}") as Job;

async function connect(): Promise<{ client: unknown; close(): Promise<void> }> {
  const first = job.nodes[0] as { host: string; port: number };
  if (job.client === "ioredis") {
    const c = job.cluster ? new Cluster(job.nodes) : new Redis(first.port, first.host);
    return { client: c, close: async () => c.disconnect() };
  }
  if (job.cluster) {
    const c = createCluster({ rootNodes: job.nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })) });
    await c.connect();
    return { client: c, close: async () => void (await c.close()) };
  }
  const c = createClient({ url: `redis://${first.host}:${first.port}` });
  await c.connect();
  return { client: c, close: async () => void (await c.close()) };
}

const { client, close } = await connect();
// fail-closed: a failure never admits, so every admitted call was admitted by Redis.
const store = new RedisStore({ client, prefix: job.prefix, onFailure: "fail-closed", timeoutMs: 5000 });
// A refill of one token per 10,000 s: no whole token refills during the test.
const limiter = new RateLimiter({ policy: tokenBucket({ capacity: job.capacity, refillRate: 1e-4 }), store });
let admitted = 0;
let denied = 0;
let degraded = 0;
const perKey: Record<string, number> = {};
let next = 0;
await Promise.all(
  Array.from({ length: job.concurrency }, async () => {
    while (next < job.calls) {
      const i = next++;
      const key = `k${i % job.keys}`;
      const d = await limiter.consume(key);
      if (d.degraded) degraded++;
      if (d.allowed) {
        admitted++;
        perKey[key] = (perKey[key] ?? 0) + 1;
      } else {
        denied++;
      }
    }
  }),
);
await close();
process.send?.({ admitted, denied, degraded, perKey });
process.disconnect?.();
