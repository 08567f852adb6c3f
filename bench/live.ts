// live.ts: what a live policy and block checks cost per decision on the memory store (issue 10).
//
// Run: node --import tsx bench/live.ts   (prints ns per consumeSync for plain, live and live + blocks)

import type { Policy } from "../src/index.js";
import { fixedWindow, live, MemoryStore, RateLimiter, slidingLog, tokenBucket } from "../src/index.js";

const N = 2_000_000;
const KEYS = 1000;

function run(label: string, policy: Policy, blocks = false): void {
  let t = 0;
  const limiter = new RateLimiter({ policy, store: new MemoryStore(), now: () => t, blocks });
  const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}`);
  for (let i = 0; i < 200_000; i++) limiter.consumeSync(keys[i % KEYS] as string); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    t += 0.01;
    limiter.consumeSync(keys[i % KEYS] as string);
  }
  const ns = Number(process.hrtime.bigint() - start) / N;
  console.log(`${label.padEnd(36)} ${ns.toFixed(1)} ns/decision`);
}

const tb = () => tokenBucket({ name: "api", capacity: 100, refillRate: 50 });
const fw = () => fixedWindow({ name: "api", limit: 100, windowMs: 1000 });
for (let round = 0; round < 2; round++) {
  run("token bucket, plain", tb());
  run("token bucket, live", live(tb()));
  run("token bucket, live, blocks on", live(tb()), true);
  run("fixed window, plain", fw());
  run("fixed window, live", live(fw()));
  run("sliding log (limit 20), plain", slidingLog({ name: "l", limit: 20, windowMs: 1000 }));
  run("sliding log (limit 20), live", live(slidingLog({ name: "l", limit: 20, windowMs: 1000 })));
}
