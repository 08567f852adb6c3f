// koa.ts: a Koa app behind a trusted proxy, protected by floodgate.
//
// Run: node --import tsx examples/koa.ts
// It starts the app on a free loopback port, sends requests to itself as if through
// a proxy on 127.0.0.1, and exits. Set PORT=3000 to keep it running instead.

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import Koa from "koa";
import { rateLimit } from "../src/adapters/koa.js";
import { gcra } from "../src/core/gcra.js";

const app = new Koa();
app.use(
  rateLimit({
    policy: gcra({ name: "api", limit: 2, periodMs: 1000 }), // 2 per second, smoothly
    trustProxy: ["loopback"], // the proxy runs on this host; X-Forwarded-For is read right to left
  }),
);
app.use((ctx) => {
  ctx.body = "hello\n";
});

const server = createServer(app.callback()).listen(Number(process.env.PORT ?? 0), "127.0.0.1", async () => {
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  console.log(`listening on ${base}`);
  if (process.env.PORT) return;
  // The leftmost address is forged and rotates; the proxy appended the real client, 203.0.113.7.
  for (let i = 1; i <= 3; i++) {
    const res = await fetch(base, { headers: { "x-forwarded-for": `10.0.0.${i}, 203.0.113.7` } });
    console.log(`client 203.0.113.7 (forged ${i}): ${res.status}  RateLimit: ${res.headers.get("ratelimit")}`);
  }
  const other = await fetch(base, { headers: { "x-forwarded-for": "198.51.100.2" } });
  console.log(`client 198.51.100.2: ${other.status}  RateLimit: ${other.headers.get("ratelimit")}`);
  server.close();
});
