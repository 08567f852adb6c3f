// fastify.ts: a Fastify app protected by the floodgate plugin, with a per-route limit and an unlimited route.
//
// Run: node --import tsx examples/fastify.ts
// It starts the app on a free loopback port, sends a few requests to itself, and
// exits. Set PORT=3000 to keep it running instead.

import Fastify from "fastify";
import { rateLimit } from "../src/adapters/fastify.js";
import { tokenBucket } from "../src/core/token-bucket.js";

const app = Fastify();
await app.register(rateLimit, {
  policy: tokenBucket({ name: "api", capacity: 5, refillRate: 1 }),
  legacyHeaders: true, // X-RateLimit-* as well, for older clients
});
app.get("/", async () => "hello\n");
app.get("/health", { config: { rateLimit: false } }, async () => "ok\n");
app.get(
  "/search",
  { config: { rateLimit: { policy: tokenBucket({ name: "search", capacity: 10, refillRate: 2 }), cost: 5 } } },
  async () => "results\n",
);

const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: "127.0.0.1" });
console.log(`listening on ${address}`);
if (!process.env.PORT) {
  for (const path of ["/", "/", "/search", "/search", "/search", "/health", "/nope"]) {
    const res = await fetch(address + path);
    console.log(`GET ${path}: ${res.status}  RateLimit: ${res.headers.get("ratelimit") ?? "(none)"}`);
  }
  await app.close();
}
