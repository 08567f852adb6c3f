// demo.ts: a server protected by floodgate and a burst client that watches 200s turn into 429s.
//
// Run: npm run demo
//
// The server allows each client IP a burst of 10 requests, refilled at 2 per
// second (a token bucket on the embedded in-memory store). The client sends 14
// requests at once, waits for the Retry-After the server gave, and sends a few
// more. It prints each status with the remaining tokens, then stops.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { RateLimiter, tokenBucket } from "../src/index.js";

const limiter = new RateLimiter({
  policy: tokenBucket({ capacity: 10, refillRate: 2, name: "demo" }),
});

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const decision = await limiter.consume(req.socket.remoteAddress ?? "unknown");
  res.setHeader("RateLimit-Policy", `"demo";q=${decision.limit};w=5`);
  res.setHeader("RateLimit", `"demo";r=${decision.remaining};t=${Math.ceil(decision.retryAfterMs / 1000)}`);
  if (!decision.allowed) {
    res.writeHead(429, {
      "Retry-After": String(Math.ceil(decision.retryAfterMs / 1000)),
      "Content-Type": "application/problem+json",
    });
    res.end(JSON.stringify({ title: "Too Many Requests", status: 429 }));
    return;
  }
  res.writeHead(200, { "Content-Type": "text/plain" });
  res.end("hello\n");
}

const server = createServer((req, res) => {
  handle(req, res).catch(() => {
    res.statusCode = 500;
    res.end();
  });
});

await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address() as AddressInfo;
const url = `http://127.0.0.1:${port}/`;
console.log(`floodgate demo: server on ${url}, token bucket capacity 10, refill 2/s per client IP\n`);

async function hit(n: number): Promise<number> {
  const res = await fetch(url);
  await res.text();
  const retry = res.headers.get("retry-after");
  const rateLimit = res.headers.get("ratelimit");
  console.log(
    `request ${String(n).padStart(2)}: ${res.status} ${res.status === 200 ? "OK               " : "Too Many Requests"}  RateLimit: ${rateLimit}${retry ? `  Retry-After: ${retry}` : ""}`,
  );
  return Number(retry ?? 0);
}

console.log("burst of 14 requests at once:");
let retryAfterS = 0;
for (let i = 1; i <= 14; i++) retryAfterS = Math.max(retryAfterS, await hit(i));

const waitS = Math.max(retryAfterS, 1) + 0.5;
console.log(
  `\nwaiting ${waitS} s (the Retry-After the server gave, plus a margin) while the bucket refills at 2/s...\n`,
);
await new Promise((r) => setTimeout(r, waitS * 1000));
for (let i = 15; i <= 18; i++) await hit(i);

server.close();
console.log("\ndone: 10 allowed in the burst, then 429 with Retry-After, then allowed again after the refill.");
