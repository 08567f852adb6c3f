// cluster-client.ts: one floodgate store on a Redis Cluster it starts, driven alone, for a CPU profile of the client.
//
// Run: node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/cluster-client.ts
//      BENCH_CLIENT=ioredis (default node-redis), BENCH_MASTERS=3 (default 1), BENCH_CONCURRENCY=64 (default 256),
//      BENCH_RUN_MS=4000: prints the client's CPU µs per decision over the measured window (after 6 s of warm-up,
//      which also makes the keys); the profile's last BENCH_RUN_MS, less the shutdown, is the steady state.
//      BENCH_RLF=1: rate-limiter-flexible on the same client instead. The lines "window start" and "window end"
//      bound the window on stdout, so `node --trace-gc-nvp ...` output can be summed over it (allocated=, bytes
//      allocated since the previous GC: a figure that other work on the machine does not change).

import { Cluster } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { createCluster } from "redis";
import { RateLimiter } from "../src/index.js";
import { nodeRedisAdapter, RedisStore } from "../src/stores/redis/index.js";
import { startCluster } from "../test/helpers/redis-server.js";
import { longLivedBucket } from "./workload.js";

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 256);
const MASTERS = Number(process.env.BENCH_MASTERS ?? 1);
const RUN_MS = Number(process.env.BENCH_RUN_MS ?? 4000);
const IOREDIS = process.env.BENCH_CLIENT === "ioredis";
const KEYS = 100_000;

const cluster = await startCluster(MASTERS);
const io = IOREDIS ? new Cluster(cluster.nodes) : undefined;
const nr = IOREDIS
  ? undefined
  : createCluster({ rootNodes: cluster.nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })) });
await nr?.connect();
const store = io
  ? new RedisStore({ client: io, timeoutMs: 5000 })
  : new RedisStore({ adapter: nodeRedisAdapter(nr as NonNullable<typeof nr>), timeoutMs: 5000 });
const limiter = new RateLimiter({ policy: longLivedBucket(), store });
const rlf =
  process.env.BENCH_RLF === "1"
    ? new RateLimiterRedis({
        storeClient: io ?? nr,
        useRedisPackage: !IOREDIS,
        points: 1e9,
        duration: 600,
        keyPrefix: "rlf",
      })
    : undefined;
const consume = (key: string): Promise<unknown> => (rlf ? rlf.consume(key) : limiter.consume(key));
let cursor = 0;
async function drive(ms: number): Promise<number> {
  const end = performance.now() + ms;
  let n = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      await consume(`user:${cursor++ % KEYS}`);
      n++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  return n;
}
try {
  await drive(6000);
  console.log("window start");
  const cpu0 = process.cpuUsage();
  const n = await drive(RUN_MS);
  const cpu = process.cpuUsage(cpu0);
  console.log("window end");
  console.log(
    `${rlf ? "rate-limiter-flexible" : "floodgate"}, ${IOREDIS ? "ioredis" : "node-redis"}, ${MASTERS} masters, concurrency ${CONCURRENCY}: ${n} decisions, Node CPU ${((cpu.user + cpu.system) / n).toFixed(2)} µs per decision`,
  );
} finally {
  io?.disconnect();
  await nr?.close();
  await cluster.stop();
}
