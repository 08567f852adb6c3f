// express.ts: an Express app protected by floodgate: a global limit, a strict login route, tiers by API key.
//
// Run: node --import tsx examples/express.ts
// It starts the app on a free loopback port, sends a few requests to itself to show
// the headers and a 429, and exits. Set PORT=3000 to keep it running instead.

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { rateLimit } from "../src/adapters/express.js";
import { tokenBucket } from "../src/core/token-bucket.js";

const free = tokenBucket({ name: "free", capacity: 5, refillRate: 1 }); // burst 5, then 1 per second
const paid = tokenBucket({ name: "paid", capacity: 50, refillRate: 10 });
const login = tokenBucket({ name: "login", capacity: 3, refillRate: 1 / 60 }); // 3, then 1 a minute

const app = express();
app.use(
  rateLimit({
    policy: free,
    // Tiers: a request with an API key is keyed by the key (hashed, never stored raw) and gets the paid policy.
    key: (req) => {
      const apiKey = req.header("x-api-key");
      return apiKey ? ["api-key", { secret: apiKey }] : undefined; // undefined: key by client IP
    },
    select: (req) => (req.header("x-api-key") ? { policy: paid } : undefined),
    skip: (req) => req.url === "/health",
  }),
);
app.post("/login", rateLimit({ policy: login }), (_req, res) => {
  res.send("welcome\n");
});
app.get("/", (_req, res) => {
  res.send("hello\n");
});
app.get("/health", (_req, res) => {
  res.send("ok\n");
});

const server = createServer(app).listen(Number(process.env.PORT ?? 0), "127.0.0.1", async () => {
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  console.log(`listening on ${base}`);
  if (process.env.PORT) return;
  for (let i = 1; i <= 6; i++) {
    const res = await fetch(`${base}/`);
    console.log(`GET / #${i}: ${res.status}  RateLimit: ${res.headers.get("ratelimit")}`);
    if (res.status === 429) console.log(`  Retry-After: ${res.headers.get("retry-after")}  body: ${await res.text()}`);
  }
  const paidRes = await fetch(`${base}/`, { headers: { "x-api-key": "sk_test_123" } });
  console.log(`GET / with an API key: ${paidRes.status}  RateLimit: ${paidRes.headers.get("ratelimit")}`);
  // POST /login passes both limiters (app-wide with the API key's tier, and the login one): both are listed.
  const loginRes = await fetch(`${base}/login`, { method: "POST", headers: { "x-api-key": "sk_test_123" } });
  console.log(`POST /login: ${loginRes.status}  RateLimit: ${loginRes.headers.get("ratelimit")}`);
  server.close();
});
