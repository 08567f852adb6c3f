// demo.ts: a server protected by floodgate and a burst client that watches 200s turn into 429s.
//
// Run: npm run demo
//
// The server allows each client IP a burst of 10 requests, refilled at 2 per
// second (a token bucket on the embedded in-memory store). The client sends 14
// requests at once, waits for the Retry-After the server gave, and sends a few
// more. It prints each status with the remaining tokens, then stops.

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { withRateLimit } from "../src/adapters/node.js";
import { tokenBucket } from "../src/index.js";

// Keyed by the client IP (the socket peer; forwarding headers are not trusted by default).
const server = createServer(
  withRateLimit(
    (_req, res) => {
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end("hello\n");
    },
    { policy: tokenBucket({ capacity: 10, refillRate: 2, name: "demo" }) },
  ),
);

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
