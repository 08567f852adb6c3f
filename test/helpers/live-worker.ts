// live-worker.ts: a forked test process that sends concurrent consumes to a shared Redis and replaces its live policy
// midway (issue 10), then reports what it admitted per key.
//
// Input (JSON in argv[2]): { nodes: {host, port}[], cluster: boolean, prefix: string, keys: number, calls: number,
//   concurrency: number, from: number, to: number, strategy: string, replaceAfter: number }
// Output (process.send): { admitted: number, perKey: Record<string, number>, degraded: number }

import { Cluster, Redis } from "ioredis";
import { live, RateLimiter, type Strategy, tokenBucket } from "../../src/index.js";
import { RedisStore } from "../../src/stores/redis/index.js";

interface Job {
  nodes: { host: string; port: number }[];
  cluster: boolean;
  prefix: string;
  keys: number;
  calls: number;
  concurrency: number;
  from: number;
  to: number;
  strategy: Strategy;
  replaceAfter: number;
}

const job = JSON.parse(process.argv[2] ?? "{}") as Job;
const first = job.nodes[0] as { host: string; port: number };
const client = job.cluster ? new Cluster(job.nodes) : new Redis(first.port, first.host);
// fail-closed: a failure never admits, so every admitted call was admitted by Redis.
const store = new RedisStore({ client, prefix: job.prefix, onFailure: "fail-closed", timeoutMs: 5000 });
// One token per 10,000 s: no whole token refills during the test, so the totals are exact bounds.
const bucket = (capacity: number) => tokenBucket({ name: "api", capacity, refillRate: 1e-4 });
const limiter = new RateLimiter({ policy: live(bucket(job.from)), store });
let admitted = 0;
let degraded = 0;
const perKey: Record<string, number> = {};
let next = 0;
await Promise.all(
  Array.from({ length: job.concurrency }, async () => {
    while (next < job.calls) {
      const i = next++;
      // The replacement lands while the other workers' calls are in flight.
      if (i === job.replaceAfter) limiter.replacePolicy("api", bucket(job.to), { strategy: job.strategy });
      const key = `k${i % job.keys}`;
      const d = await limiter.consume(key);
      if (d.degraded) degraded++;
      if (d.allowed) {
        admitted++;
        perKey[key] = (perKey[key] ?? 0) + 1;
      }
    }
  }),
);
client.disconnect();
process.send?.({ admitted, perKey, degraded });
process.disconnect?.();
